/*
 * test_control.c - the control socket: request and reply, error codes
 * carried to the client, refusal of other users (SO_PEERCRED) before a byte
 * is read, no daemon; and that no client holds up another: a client
 * dribbling a byte every 1.5 s, a NUL in a request, a silent client, more
 * clients than the limit.
 */
#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
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

/* Serve in a child process, as the daemon does, until killed. */
static pid_t serve(const char *path)
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
		sd_event *ev = NULL;
		pf_control *srv = NULL;

		alarm(60);
		if (sd_event_new(&ev) < 0 ||
		    control_server_new(ev, lfd, handler, NULL, NULL, &srv, &e) < 0)
			_exit(1);
		sd_event_loop(ev);
		_exit(0);
	}
	close(lfd);
	return pid;
}

/* A raw client: connect, send n bytes of data (each pause_ms apart when
 * pause_ms > 0), read the answer until the server closes (at most 15 s).
 * Returns the milliseconds from connecting to the end; *ans gets what came
 * (NUL-terminated). */
static long raw_client(const char *path, const char *data, size_t n, int pause_ms, char *ans,
		       size_t size)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	uint64_t t0 = pf_mono_usec(), until;
	size_t have = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ans[0] = '\0';
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return -1;
	}
	until = t0 + 15 * 1000000ULL;
	for (size_t i = 0; i < n; i++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};

		if (pause_ms > 0 && i > 0 && poll(&p, 1, pause_ms) > 0)
			break; /* the server answered (or closed) mid-request */
		if (send(fd, data + i, pause_ms > 0 ? 1 : n, MSG_NOSIGNAL) < 0)
			break;
		if (pause_ms <= 0)
			break;
	}
	while (have < size - 1 && pf_mono_usec() < until) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t got;

		if (poll(&p, 1, 1000) <= 0)
			continue;
		got = read(fd, ans + have, size - 1 - have);
		if (got <= 0)
			break;
		have += (size_t)got;
	}
	ans[have] = '\0';
	close(fd);
	return (long)((pf_mono_usec() - t0) / 1000);
}

/* raw_client in a child; its time and answer come back through a pipe
 * read by collect(). */
static pid_t raw_client_bg(const char *path, const char *data, size_t n, int pause_ms, int *rfd)
{
	int p[2];
	pid_t pid;

	if (pipe(p) < 0)
		exit(1);
	pid = fork();
	if (pid == 0) {
		char ans[512];
		long ms;

		close(p[0]);
		alarm(30);
		ms = raw_client(path, data, n, pause_ms, ans, sizeof(ans));
		dprintf(p[1], "%ld %s", ms, ans);
		_exit(0);
	}
	close(p[1]);
	*rfd = p[0];
	return pid;
}

static long collect(pid_t pid, int rfd, char *ans, size_t size)
{
	char buf[600];
	ssize_t n;
	long ms = -1;
	int off = 0;

	waitpid(pid, NULL, 0);
	n = read(rfd, buf, sizeof(buf) - 1);
	close(rfd);
	buf[n > 0 ? n : 0] = '\0';
	if (sscanf(buf, "%ld %n", &ms, &off) < 1)
		ms = -1;
	snprintf(ans, size, "%s", buf + off);
	ans[strcspn(ans, "\n")] = '\0';
	return ms;
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
	signal(SIGPIPE, SIG_IGN);
	/* On the stack: the forked children _exit without freeing. */
	snprintf(path, sizeof(path), "%s/run/control", dir);
	pid = serve(path);
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
	T_CHECK(strcmp(note, "still waiting\n") == 0, "the busy note printed once: \"%.*s\"",
		(int)strcspn(note, "\n"), note);
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
			_exit(rr == 0 && code == PF_EXIT_REFUSED && strstr(e.msg, "root only") ? 0
											       : 1);
		}
		int st2;
		waitpid(c, &st2, 0);
		T_CHECK(WIFEXITED(st2) && WEXITSTATUS(st2) == 0, "request from nobody refused");
	}

	/* A root client dribbling "status\n" a byte every 1.5 s: a second
	 * client's status is answered at once, and the dribbler gets one
	 * error line when its 2 s are up. */
	char ans[512];
	int rfd;
	long ms;
	uint64_t t0;
	pid_t slow = raw_client_bg(path, "status\n", 7, 1500, &rfd);

	usleep(300 * 1000);
	t0 = pf_mono_usec();
	r = control_request(path, "status", 5000, &code, &body, &e);
	ms = (long)((pf_mono_usec() - t0) / 1000);
	T_CHECK(r == 0 && code == PF_EXIT_OK && body && strcmp(body, "phase idle\n") == 0 &&
			ms < 1000,
		"a client dribbling a byte every 1.5 s does not hold up another's status "
		"(answered in %ld ms)",
		ms);
	free(body);
	body = NULL;
	ms = collect(slow, rfd, ans, sizeof(ans));
	T_CHECK(ms >= 1900 && ms < 3500 &&
			strcmp(ans, "ERR 1 control request not complete within 2 s") == 0,
		"the dribbling client is cut off at its 2 s deadline (%ld ms): \"%s\"", ms, ans);
	/* A NUL byte: one error line at once, no 2 s wait. */
	ms = raw_client(path, "sta\0tus\n", 8, 0, ans, sizeof(ans));
	ans[strcspn(ans, "\n")] = '\0';
	T_CHECK(ms >= 0 && ms < 1000 &&
			strcmp(ans, "ERR 2 invalid control request: byte 0x00 at offset 3") == 0,
		"a request with a NUL byte gets its error line at once (%ld ms): \"%s\"", ms, ans);
	T_CHECK(control_request(path, "can\001cel", 2000, &code, &body, &e) == 0 &&
			code == PF_EXIT_USAGE && strstr(e.msg, "byte 0x01 at offset 3"),
		"a control byte is refused as a usage error, not handled: %s", e.msg);
	free(body);
	body = NULL;
	/* Over-long: refused as soon as the buffer is full. */
	char longreq[400];

	memset(longreq, 'a', sizeof(longreq));
	ms = raw_client(path, longreq, sizeof(longreq), 0, ans, sizeof(ans));
	ans[strcspn(ans, "\n")] = '\0';
	T_CHECK(ms >= 0 && ms < 1000 &&
			strcmp(ans, "ERR 2 control request longer than 255 bytes") == 0,
		"an over-long request is refused at once (%ld ms): \"%s\"", ms, ans);
	/* More silent clients than the limit: the next is told so at once,
	 * and is served again once they have gone. */
	int silent[PF_CONTROL_CLIENTS_MAX];

	for (int i = 0; i < PF_CONTROL_CLIENTS_MAX; i++) {
		struct sockaddr_un sun = {.sun_family = AF_UNIX};

		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
		silent[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		(void)!connect(silent[i], (struct sockaddr *)&sun, sizeof(sun));
	}
	usleep(100 * 1000);
	ms = raw_client(path, "status\n", 7, 0, ans, sizeof(ans));
	ans[strcspn(ans, "\n")] = '\0';
	T_CHECK(ms >= 0 && ms < 1000 &&
			strncmp(ans, "ERR 1 busy: too many control connections", 40) == 0,
		"client %d of %d silent ones is told the daemon is busy (%ld ms): \"%s\"",
		PF_CONTROL_CLIENTS_MAX + 1, PF_CONTROL_CLIENTS_MAX, ms, ans);
	for (int i = 0; i < PF_CONTROL_CLIENTS_MAX; i++)
		close(silent[i]);
	usleep(100 * 1000);
	pf_err_clear(&e);
	T_CHECK(control_request(path, "status", 2000, &code, &body, &e) == 0 && code == PF_EXIT_OK,
		"served again once the silent clients have gone: %s", e.msg);
	free(body);
	body = NULL;
	/* Another user that sends nothing is refused at once: its peer
	 * credentials are checked before anything is read. */
	if (geteuid() == 0) {
		struct passwd *pw = getpwnam("nobody");
		int p2[2];

		T_CHECK(pipe(p2) == 0, "pipe");
		pid_t c = fork();
		if (c == 0) {
			close(p2[0]);
			if (!pw || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
				_exit(2);
			long t = raw_client(path, "", 0, 0, ans, sizeof(ans));
			dprintf(p2[1], "%ld %s", t, ans);
			_exit(0);
		}
		close(p2[1]);
		ms = collect(c, p2[0], ans, sizeof(ans));
		T_CHECK(ms >= 0 && ms < 1000 &&
				strcmp(ans, "ERR 3 permission denied: root only") == 0,
			"a silent client of user nobody is refused before it sends a byte (%ld "
			"ms): "
			"\"%s\"",
			ms, ans);
	}
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	T_CHECK(control_request(path, "status", 500, &code, &body, &e) == -ECONNREFUSED,
		"no daemon: connection refused reported");
	/* A stale socket is replaced; a file at that name is not removed. */
	pf_err_clear(&e);
	int lfd = control_listen(path, &e);

	T_CHECK(lfd >= 0, "a stale socket left by a killed server is replaced: %s", e.msg);
	if (lfd >= 0)
		close(lfd);
	unlink(path);
	FILE *f = fopen(path, "w");
	fputs("not a socket\n", f);
	fclose(f);
	pf_err_clear(&e);
	lfd = control_listen(path, &e);
	T_CHECK(lfd == -EEXIST && strstr(e.msg, "exists and is not a socket") &&
			stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 13,
		"a regular file at the socket's name is refused and left alone: %s", e.msg);
	char *cmd = pf_asprintf("rm -rf %s", dir);
	(void)!system(cmd);
	free(cmd);
	T_DONE();
}
