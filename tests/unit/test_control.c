/*
 * test_control.c - the control socket: request and reply, error codes
 * carried to the client, refusal of other users (SO_PEERCRED), no daemon.
 */
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../daemon/control.h"
#include "t.h"

static int handler(void *ud, const char *verb, const char *arg, FILE *out, pf_err *e)
{
	(void)ud;
	if (strcmp(verb, "status") == 0) {
		fprintf(out, "phase idle%s%s\n", *arg ? " " : "", arg);
		return 0;
	}
	if (strcmp(verb, "slow") == 0) {
		/* A daemon in the middle of a long step answers late. */
		usleep(1500 * 1000);
		fputs("late\n", out);
		return 0;
	}
	if (strcmp(verb, "cancel") == 0)
		return pf_err_refuse(e, "the new keys are deployed; cancel refused");
	return pf_err_usage(e, "unknown request \"%.50s\"", verb);
}

/* Serve n requests in a child process. */
static pid_t serve(const char *path, int n)
{
	pf_err e = {0};
	int lfd = control_listen(path, &e);
	pid_t pid;

	if (lfd < 0) {
		printf("FAIL: listen: %s\n", e.msg);
		exit(1);
	}
	pid = fork();
	if (pid == 0) {
		alarm(10);
		for (int i = 0; i < n;) {
			fd_set fds;
			FD_ZERO(&fds);
			FD_SET(lfd, &fds);
			if (select(lfd + 1, &fds, NULL, NULL, NULL) > 0) {
				control_serve_one(lfd, handler, NULL, &e);
				i++;
			}
		}
		_exit(0);
	}
	close(lfd);
	return pid;
}

int main(void)
{
	char dir[] = "/tmp/pftls-test-control-XXXXXX";
	char path[sizeof(dir) + 16], *body = NULL;
	struct stat st;
	pf_err e = {0};
	int code = -1, r;
	pid_t pid;

	if (!mkdtemp(dir))
		return 1;
	/* On the stack: the forked children _exit without freeing. */
	snprintf(path, sizeof(path), "%s/run/control", dir);
	pid = serve(path, 6);
	T_CHECK(stat(path, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0600,
		"socket created 0600 in a new directory");
	T_CHECK(control_request(path, "status json", 2000, &code, &body, &e) == 0 &&
			code == PF_EXIT_OK && body && strcmp(body, "phase idle json\n") == 0,
		"status request answered");
	free(body);
	body = NULL;
	T_CHECK(control_request(path, "cancel", 2000, &code, &body, &e) == 0 &&
			code == PF_EXIT_REFUSED && strstr(e.msg, "cancel refused"),
		"refusal carried as exit 3: %s", e.msg);
	free(body);
	body = NULL;
	T_CHECK(control_request(path, "bogus", 2000, &code, &body, &e) == 0 &&
			code == PF_EXIT_USAGE,
		"unknown request is a usage error");
	free(body);
	body = NULL;
	/* A late answer: the patient request waits for it and says why, once,
	 * on stderr; the plain one with a shorter timeout gives up. */
	int errpipe[2], saved = dup(STDERR_FILENO);
	char note[256] = "";
	ssize_t nn;

	pf_err_clear(&e);
	T_CHECK(pipe(errpipe) == 0, "pipe");
	fflush(stderr);
	dup2(errpipe[1], STDERR_FILENO);
	r = control_request_patient(path, "slow", 5000, 300, "still waiting", &code, &body, &e);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(errpipe[1]);
	nn = read(errpipe[0], note, sizeof(note) - 1);
	note[nn > 0 ? nn : 0] = '\0';
	close(errpipe[0]);
	T_CHECK(r == 0 && code == PF_EXIT_OK && body && strcmp(body, "late\n") == 0,
		"a late answer (1.5 s) is waited for: %d %s", r, e.msg);
	T_CHECK(strcmp(note, "still waiting\n") == 0, "the busy note printed once: \"%.*s\"", (int)strcspn(note, "\n"), note);
	free(body);
	body = NULL;
	r = control_request(path, "slow", 500, &code, &body, &e);
	T_CHECK(r == -ETIMEDOUT && strstr(e.msg, "timed out"),
		"a shorter wait gives up, saying so: %d %s", r, e.msg);
	/* Another user is refused; the test runs as root. */
	if (geteuid() == 0) {
		struct passwd *pw = getpwnam("nobody");
		pid_t c = fork();
		if (c == 0) {
			chmod(dir, 0755);
			char d2[sizeof(dir) + 8];
			snprintf(d2, sizeof(d2), "%s/run", dir);
			chmod(d2, 0755);
			chmod(path, 0666);
			if (!pw || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
				_exit(2);
			int rr = control_request(path, "status", 2000, &code, &body, &e);
			_exit(rr == 0 && code == PF_EXIT_REFUSED && strstr(e.msg, "root only") ? 0 : 1);
		}
		int st2;
		waitpid(c, &st2, 0);
		T_CHECK(WIFEXITED(st2) && WEXITSTATUS(st2) == 0, "request from nobody refused");
	}
	waitpid(pid, NULL, 0);
	T_CHECK(control_request(path, "status", 500, &code, &body, &e) == -ECONNREFUSED,
		"no daemon: connection refused reported");
	char *cmd = pf_asprintf("rm -rf %s", dir);
	(void)!system(cmd);
	free(cmd);
	T_DONE();
}
