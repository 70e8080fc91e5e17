/*
 * control_client.c - the control socket's client half (pftls-roll's "now",
 * "status", "cancel"...): connect, send one request line, read the answer
 * within a deadline.  Plain sockets and poll(2), no sd-event, so the CLI
 * that links it needs no libsystemd.
 */
#include "control.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "macro.h"

int control_sockaddr(const char *path, struct sockaddr_un *ret, pf_err *e)
{
	if (strlen(path) >= sizeof(ret->sun_path))
		return pf_err_usage(e, "control socket path %.100s is too long", path);
	memset(ret, 0, sizeof(*ret));
	ret->sun_family = AF_UNIX;
	strcpy(ret->sun_path, path);
	return 0;
}

static void set_timeout(int fd, int ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Send everything on a blocking socket (the client's). */
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

/* Wait until fd is readable, at most until the monotonic deadline (usec);
 * after note_usec without a byte, busy_note goes to stderr, once.
 * Returns 0, or -errno: -ETIMEDOUT, -EINTR (a signal: the caller's to
 * judge). */
static int wait_readable(int fd, uint64_t deadline, uint64_t note_at, const char *busy_note)
{
	for (;;) {
		uint64_t now = pf_mono_usec();
		uint64_t until =
			busy_note && note_at > now && note_at < deadline ? note_at : deadline;
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
	PF_CLEANUP_FREE char *buf = NULL;
	char *nl;
	size_t have = 0;
	int r;

	if ((r = control_sockaddr(path, &sun, e)) < 0)
		return r;
	PF_CLEANUP_CLOSE int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return pf_err_set(e, errno, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		r = errno;
		return pf_err_set(e, r, "cannot reach the daemon at %s: %s", path, strerror(r));
	}
	set_timeout(fd, timeout_ms);
	write_all(fd, request, strlen(request));
	write_all(fd, "\n", 1);
	shutdown(fd, SHUT_WR);
	buf = pf_malloc(PF_CONTROL_REPLY_MAX + 1);
	for (;;) {
		ssize_t n;

		r = wait_readable(fd, deadline, t0 + (uint64_t)note_ms * 1000u,
				  have ? NULL : busy_note);
		n = r < 0 ? -1 : read(fd, buf + have, PF_CONTROL_REPLY_MAX - have);
		if (n < 0 && r == 0 && errno == EINTR)
			continue;
		/* A server that refused the request without reading it all
		 * closes with it unread, which ends the stream in a reset after
		 * its answer: the answer is what counts. */
		if (n < 0 && r == 0 && errno == ECONNRESET && memchr(buf, '\n', have))
			break;
		if (n < 0) {
			r = r < 0 ? -r : errno;
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
	fd = pf_close(fd);
	buf[have] = '\0';
	nl = strchr(buf, '\n');
	if (!nl)
		return pf_err_set(e, EPROTO, "malformed answer from the daemon at %s", path);
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
		return pf_err_set(e, EPROTO, "malformed answer from the daemon at %s", path);
	}
	*ret_body = pf_strdup(nl + 1);
	return 0;
}
