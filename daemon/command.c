/*
 * command.c - one operator command run safely (see command.h): fork, a
 * clean child (descriptors, signals, environment, process group), exec
 * without a shell, a deadline, and stderr's last line for the journal.
 * Owns the child until it is reaped.
 */
#include "command.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* The last non-empty line of a byte stream, kept while it is read. */
typedef struct line_tracker {
	char cur[PF_CMD_LINE_MAX + 1];
	size_t cur_len;
	bool cur_blank;
	char last[PF_CMD_LINE_MAX + 1];
} line_tracker;

static void line_end(line_tracker *t)
{
	if (t->cur_len && !t->cur_blank) {
		t->cur[t->cur_len] = '\0';
		memcpy(t->last, t->cur, t->cur_len + 1);
	}
	t->cur_len = 0;
	t->cur_blank = true;
}

/* Octets outside printable ASCII become '?', a tab a space; a line is cut
 * at PF_CMD_LINE_MAX octets (the rest of it is dropped). */
static void line_feed(line_tracker *t, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\n' || c == '\r') {
			line_end(t);
			continue;
		}
		if (c == '\t')
			c = ' ';
		else if (c < 0x20 || c >= 0x7f)
			c = '?';
		if (c != ' ')
			t->cur_blank = false;
		if (t->cur_len < PF_CMD_LINE_MAX)
			t->cur[t->cur_len++] = (char)c;
	}
}

/* The child, between fork and exec: only async-signal-safe calls.  Never
 * returns; an exec failure's errno goes to the parent through errfd. */
static void child(char *const *cands, char *const *argv, char *const *envp, int null_fd,
		  int stderr_fd, int errfd)
{
	struct sigaction sa;
	sigset_t all;
	int err = ENOENT;

	setpgid(0, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	if (dup2(null_fd, 0) < 0 || dup2(null_fd, 1) < 0 || dup2(stderr_fd, 2) < 0 ||
	    dup2(errfd, 3) < 0)
		_exit(127);
	/* Everything else of ours (keys' files, sockets, the lock) closed;
	 * fd 3 is the exec-error pipe, closed by exec itself. */
	if (close_range(4, ~0U, 0) < 0)
		for (int fd = 4; fd < 65536; fd++)
			close(fd);
	if (fcntl(3, F_SETFD, FD_CLOEXEC) < 0)
		_exit(127);
	for (size_t i = 0; cands[i]; i++) {
		execve(cands[i], argv, envp);
		/* The first error other than "not there" is the one to report. */
		if (err == ENOENT && errno != ENOENT && errno != ENOTDIR)
			err = errno;
	}
	(void)!write(3, &err, sizeof(err));
	_exit(127);
}

/* The paths tried for argv0: itself when it holds a slash, else each
 * directory of PF_CMD_PATH. */
static void candidates(const char *argv0, pf_strv *ret)
{
	if (strchr(argv0, '/')) {
		pf_strv_push(ret, argv0);
		return;
	}
	for (const char *p = PF_CMD_PATH; *p;) {
		size_t n = strcspn(p, ":");

		pf_strv_push_owned(ret, pf_asprintf("%.*s/%s", (int)n, p, argv0));
		p += n + (p[n] == ':');
	}
}

/* Read what stderr has now.  Returns false at EOF or on an error. */
static bool drain(int fd, line_tracker *t)
{
	char buf[4096];

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n > 0) {
			line_feed(t, buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && errno == EAGAIN;
	}
}

static uint64_t ms_since(uint64_t start_us)
{
	return (pf_mono_usec() - start_us) / 1000;
}

/* Wait for pid and its stderr as command.h says.  Fills ret. */
static void supervise(pid_t pid, int errfd, uint64_t timeout_ms, pf_cmd_result *ret)
{
	uint64_t start = pf_mono_usec(), exited_at = 0, term_at = 0;
	line_tracker t = {.cur_blank = true};
	bool reaped = false, timed_out = false, killed = false;
	int status = 0;

	for (;;) {
		struct pollfd pfd = {errfd, POLLIN, 0};
		uint64_t now;

		if (!reaped) {
			pid_t w = waitpid(pid, &status, WNOHANG);

			if (w == pid || (w < 0 && errno == ECHILD)) {
				/* ECHILD: reaped by someone else, its status unknown;
				 * taken as a failure (exit 255), never as success. */
				if (w < 0)
					status = 255 << 8;
				reaped = true;
				exited_at = ms_since(start);
				/* What the command left running in its group goes too. */
				kill(-pid, SIGKILL);
			}
		}
		now = ms_since(start);
		if (reaped && (errfd < 0 || now >= exited_at + PF_CMD_LINGER_MS))
			break;
		if (!reaped && !timed_out && now >= timeout_ms) {
			timed_out = true;
			term_at = now;
			kill(-pid, SIGTERM);
		}
		/* A process SIGKILL cannot end (uninterruptible sleep) is left
		 * behind rather than waited for without end. */
		if (!reaped && killed && now >= term_at + 3 * PF_CMD_KILL_GRACE_MS)
			break;
		if (!reaped && timed_out && !killed && now >= term_at + PF_CMD_KILL_GRACE_MS) {
			killed = true;
			kill(-pid, SIGKILL);
		}
		if (poll(&pfd, errfd >= 0 ? 1 : 0, 20) > 0 && !drain(errfd, &t)) {
			close(errfd);
			errfd = -1;
		}
	}
	if (errfd >= 0) {
		drain(errfd, &t);
		close(errfd);
	}
	line_end(&t);
	pf_printable_copy(ret->last_line, sizeof(ret->last_line), pf_trim(t.last));
	ret->elapsed_ms = ms_since(start);
	if (timed_out) {
		ret->outcome = PF_CMD_TIMED_OUT;
		ret->status = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	} else if (WIFSIGNALED(status)) {
		ret->outcome = PF_CMD_SIGNALED;
		ret->status = WTERMSIG(status);
	} else {
		ret->outcome = PF_CMD_EXITED;
		ret->status = WEXITSTATUS(status);
	}
}

/* The message for a finished command that did not succeed. */
static int outcome_error(const char *what, const char *prog, uint64_t timeout_ms,
			 const pf_cmd_result *r, pf_err *e)
{
	char tail[PF_CMD_LINE_MAX + 32];

	snprintf(tail, sizeof(tail), "%s%s", r->last_line[0] ? ": " : " (nothing on stderr)",
		 r->last_line);
	switch (r->outcome) {
	case PF_CMD_EXITED:
		return pf_err_set(e, EIO, "%s (%.100s) exited with status %d%s", what, prog,
				  r->status, tail);
	case PF_CMD_SIGNALED:
		return pf_err_set(e, EIO, "%s (%.100s) was killed by signal %d (%s)%s", what, prog,
				  r->status, strsignal(r->status), tail);
	case PF_CMD_TIMED_OUT:
		return pf_err_set(e, ETIMEDOUT,
				  "%s (%.100s) did not finish within %llu.%03llu s: "
				  "stopped%s",
				  what, prog, (unsigned long long)(timeout_ms / 1000),
				  (unsigned long long)(timeout_ms % 1000), tail);
	case PF_CMD_NOT_STARTED:
		break;
	}
	return pf_err_set(e, r->status, "%s: cannot run %.100s: %s", what, prog,
			  strerror(r->status));
}

int command_run(const char *what, const char *command, const char *const *env, uint64_t timeout_ms,
		pf_cmd_result *ret, pf_err *e)
{
	pf_strv argv = {0}, envp = {0}, cands = {0};
	int errp[2] = {-1, -1}, execp[2] = {-1, -1}, null_fd = -1, exec_errno = 0, r;
	pid_t pid;

	memset(ret, 0, sizeof(*ret));
	ret->outcome = PF_CMD_NOT_STARTED;
	pf_split_list(command ? command : "", &argv);
	if (argv.n == 0) {
		ret->status = EINVAL;
		return pf_err_usage(e, "%s is empty", what);
	}
	pf_strv_push(&envp, "PATH=" PF_CMD_PATH);
	for (size_t i = 0; env && env[i]; i++) {
		if (strncmp(env[i], "PFTLS_", 6) != 0 || !strchr(env[i], '=')) {
			ret->status = EINVAL;
			r = pf_err_set(e, EINVAL,
				       "%s: refusing to pass \"%.40s\" in its environment", what,
				       env[i]);
			goto out;
		}
		pf_strv_push(&envp, env[i]);
	}
	candidates(argv.v[0], &cands);
	if (pipe2(errp, O_CLOEXEC) < 0 || pipe2(execp, O_CLOEXEC) < 0 ||
	    (null_fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
		ret->status = errno;
		r = pf_err_set(e, errno, "%s: cannot prepare to run it: %s", what, strerror(errno));
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		ret->status = errno;
		r = pf_err_set(e, errno, "%s: fork: %s", what, strerror(errno));
		goto out;
	}
	if (pid == 0)
		child(cands.v, argv.v, envp.v, null_fd, errp[1], execp[1]);
	/* Also here, so the group exists before any kill(-pid) of ours. */
	setpgid(pid, pid);
	close(errp[1]);
	close(execp[1]);
	errp[1] = execp[1] = -1;
	fcntl(errp[0], F_SETFL, fcntl(errp[0], F_GETFL) | O_NONBLOCK);
	supervise(pid, errp[0], timeout_ms, ret);
	errp[0] = -1;
	if (read(execp[0], &exec_errno, sizeof(exec_errno)) == sizeof(exec_errno) && exec_errno) {
		ret->outcome = PF_CMD_NOT_STARTED;
		ret->status = exec_errno;
	}
	if (ret->outcome == PF_CMD_EXITED && ret->status == 0)
		r = 0;
	else
		r = outcome_error(what, argv.v[0], timeout_ms, ret, e);
out:
	for (int i = 0; i < 2; i++) {
		if (errp[i] >= 0)
			close(errp[i]);
		if (execp[i] >= 0)
			close(execp[i]);
	}
	if (null_fd >= 0)
		close(null_fd);
	pf_strv_clear(&argv);
	pf_strv_clear(&envp);
	pf_strv_clear(&cands);
	return r;
}
