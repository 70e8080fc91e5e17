/*
 * control.c - the control socket, server and client halves.
 */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int make_addr(const char *path, struct sockaddr_un *sun, pf_err *e)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		return pf_err_usage(e, "control socket path %.100s is too long", path);
	strcpy(sun->sun_path, path);
	return 0;
}

static void set_timeout(int fd, int ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int control_listen(const char *path, pf_err *e)
{
	struct sockaddr_un sun;
	char *dir = pf_strdup(path), *slash = strrchr(dir, '/');
	int fd, r;
	mode_t old;

	if ((r = make_addr(path, &sun, e)) < 0) {
		free(dir);
		return r;
	}
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			r = errno;
			pf_err_set(e, r, "cannot create %s: %s", dir, strerror(r));
			free(dir);
			return -r;
		}
	}
	free(dir);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return pf_err_set(e, errno, "socket: %s", strerror(errno));
	/* A socket left by a killed daemon is stale: the state lock (held by
	 * the caller) guarantees no other daemon owns it. */
	unlink(path);
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (r < 0 || listen(fd, 8) < 0) {
		r = errno;
		close(fd);
		return pf_err_set(e, r, "cannot listen on %s: %s", path, strerror(r));
	}
	return fd;
}

/* Read one request line of at most PF_CONTROL_REQUEST_MAX bytes. */
static int read_request(int fd, char *buf, size_t size)
{
	size_t have = 0;

	while (have < size - 1) {
		ssize_t n = read(fd, buf + have, size - 1 - have);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 ? -ECONNRESET : -errno;
		have += (size_t)n;
		buf[have] = '\0';
		char *nl = strchr(buf, '\n');
		if (nl) {
			*nl = '\0';
			return 0;
		}
	}
	return -EMSGSIZE;
}

/* Send everything, without SIGPIPE when the peer has gone. */
static void write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

int control_serve_one(int lfd, pf_control_handler handler, void *userdata, pf_err *e)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char req[PF_CONTROL_REQUEST_MAX + 1], *arg, *body = NULL, *head;
	size_t body_len = 0;
	FILE *out;
	pf_err he = {0};
	int fd, code, r;

	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return errno == EAGAIN ? 0 : pf_err_set(e, errno, "accept: %s", strerror(errno));
	/* Read the request first even from a peer about to be refused: closing
	 * with unread data would reset the connection and lose the answer. */
	set_timeout(fd, 2000);
	r = read_request(fd, req, sizeof(req));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    (cred.uid != 0 && cred.uid != getuid())) {
		static const char denied[] = "ERR 3 permission denied: root only\n";

		write_all(fd, denied, sizeof(denied) - 1);
		close(fd);
		return pf_err_set(e, EPERM, "control request from uid %u refused", (unsigned)cred.uid);
	}
	if (r < 0) {
		close(fd);
		return pf_err_set(e, -r, "bad control request: %s", strerror(-r));
	}
	arg = strchr(req, ' ');
	if (arg)
		*arg++ = '\0';
	out = open_memstream(&body, &body_len);
	code = handler(userdata, req, arg ? arg : "", out, &he) < 0
		       ? (he.exit_code ? he.exit_code : PF_EXIT_FAIL)
		       : PF_EXIT_OK;
	fclose(out);
	head = code == PF_EXIT_OK ? pf_strdup("OK\n")
				  : pf_asprintf("ERR %d %s\n", code, he.msg[0] ? he.msg : "failed");
	write_all(fd, head, strlen(head));
	write_all(fd, body, body_len);
	free(head);
	free(body);
	close(fd);
	return 0;
}

/* Wait until fd is readable, at most until the monotonic deadline (usec);
 * after note_usec without a byte, busy_note goes to stderr, once.
 * Returns 0, or -errno: -ETIMEDOUT, -EINTR (a signal: the caller's to
 * judge). */
static int wait_readable(int fd, uint64_t deadline, uint64_t note_at, const char *busy_note)
{
	for (;;) {
		uint64_t now = pf_mono_usec();
		uint64_t until = busy_note && note_at > now && note_at < deadline ? note_at : deadline;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int n;

		if (now >= deadline)
			return -ETIMEDOUT;
		n = poll(&p, 1, (int)((until - now + 999) / 1000));
		if (n > 0)
			return 0;
		if (n < 0)
			return -errno;
		if (busy_note && pf_mono_usec() >= note_at) {
			fprintf(stderr, "%s\n", busy_note);
			busy_note = NULL;
		}
	}
}

int control_request(const char *path, const char *request, int timeout_ms, int *ret_exit,
		    char **ret_body, pf_err *e)
{
	return control_request_patient(path, request, timeout_ms, 0, NULL, ret_exit, ret_body, e);
}

int control_request_patient(const char *path, const char *request, int timeout_ms, int note_ms,
			    const char *busy_note, int *ret_exit, char **ret_body, pf_err *e)
{
	uint64_t t0 = pf_mono_usec();
	uint64_t deadline = t0 + (uint64_t)timeout_ms * 1000u;
	struct sockaddr_un sun;
	char *buf, *nl;
	size_t have = 0;
	int fd, r;

	if ((r = make_addr(path, &sun, e)) < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return pf_err_set(e, errno, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		r = errno;
		close(fd);
		return pf_err_set(e, r, "cannot reach the daemon at %s: %s", path, strerror(r));
	}
	set_timeout(fd, timeout_ms);
	write_all(fd, request, strlen(request));
	write_all(fd, "\n", 1);
	shutdown(fd, SHUT_WR);
	buf = pf_malloc(PF_CONTROL_REPLY_MAX + 1);
	for (;;) {
		ssize_t n;

		r = wait_readable(fd, deadline, t0 + (uint64_t)note_ms * 1000u, have ? NULL : busy_note);
		n = r < 0 ? -1 : read(fd, buf + have, PF_CONTROL_REPLY_MAX - have);
		if (n < 0 && r == 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = r < 0 ? -r : errno;
			close(fd);
			free(buf);
			/* A signal with a handler (^C) ends the wait; the request
			 * itself was sent and the daemon will still act on it. */
			return pf_err_set(e, r, "no answer from the daemon at %s: %s", path,
					  r == EAGAIN || r == ETIMEDOUT ? "timed out"
					  : r == EINTR ? "interrupted (the request was sent)"
						       : strerror(r));
		}
		if (n == 0 || (have += (size_t)n) == PF_CONTROL_REPLY_MAX)
			break;
	}
	close(fd);
	buf[have] = '\0';
	nl = strchr(buf, '\n');
	if (!nl) {
		free(buf);
		return pf_err_set(e, EPROTO, "malformed answer from the daemon at %s", path);
	}
	*nl = '\0';
	if (strcmp(buf, "OK") == 0) {
		*ret_exit = PF_EXIT_OK;
	} else if (strncmp(buf, "ERR ", 4) == 0) {
		char *msg = NULL;
		long code = strtol(buf + 4, &msg, 10);

		*ret_exit = code > 0 && code < 64 ? (int)code : PF_EXIT_FAIL;
		pf_err_set(e, EIO, "%s", msg && *msg == ' ' ? msg + 1 : "failed");
		e->exit_code = *ret_exit;
	} else {
		free(buf);
		return pf_err_set(e, EPROTO, "malformed answer from the daemon at %s", path);
	}
	*ret_body = pf_strdup(nl + 1);
	free(buf);
	return 0;
}
