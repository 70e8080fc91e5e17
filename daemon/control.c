/*
 * control.c - the control socket's server half: the listening socket and
 * the sd-event sources that serve its clients.  The client half is
 * control_client.c, apart so that pftls-roll does not link sd-event.
 */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "macro.h"

int control_listen(const char *path, pf_err *e)
{
	struct sockaddr_un sun;
	PF_CLEANUP_FREE char *dir = pf_strdup(path);
	char *slash = strrchr(dir, '/');
	struct stat st;
	int r;
	mode_t old;

	if ((r = control_sockaddr(path, &sun, e)) < 0)
		return r;
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			r = errno;
			return pf_err_set(e, r, "cannot create %s: %s", dir, strerror(r));
		}
	}
	PF_CLEANUP_CLOSE int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return pf_err_set(e, errno, "socket: %s", strerror(errno));
	/* A socket left by a killed daemon is stale: the state lock (held by
	 * the caller) guarantees no other daemon owns it.  Anything else at
	 * that name is not ours to remove. */
	if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
		return pf_err_set(e, EEXIST,
				  "control socket %s exists and is not a socket; not replacing it",
				  path);
	unlink(path);
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (r < 0 || listen(fd, 8) < 0) {
		r = errno;
		return pf_err_set(e, r, "cannot listen on %s: %s", path, strerror(r));
	}
	return pf_take_fd(&fd);
}

/* Send what the socket takes now, without SIGPIPE when the peer has gone.
 * Returns the bytes sent (0 when it would block), or -errno. */
static ssize_t send_some(int fd, const char *p, size_t len)
{
	ssize_t n;

	do
		n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	return n;
}

/*
 * The server.  Every connection is its own sd-event IO source and timer,
 * so no client waits for another or holds up the engine's timer: the
 * peer is checked (SO_PEERCRED) before a byte is read, the request is read
 * without blocking into a bounded buffer and must be complete within
 * PF_CONTROL_REQUEST_USEC, the reply is sent without blocking within
 * PF_CONTROL_REPLY_USEC, and at most PF_CONTROL_CLIENTS_MAX connections
 * are open at once.  Only the handler itself runs synchronously.
 */
typedef struct ctl_conn ctl_conn;

struct pf_control {
	sd_event *event;
	sd_event_source *listen;
	pf_control_handler handler;
	pf_control_log log;
	void *userdata;
	ctl_conn *conns;
	unsigned n_conns;
};

struct ctl_conn {
	pf_control *srv;
	ctl_conn *next;
	int fd;
	pid_t pid;
	sd_event_source *io, *timer;
	char req[PF_CONTROL_REQUEST_MAX + 1];
	size_t have;
	char *reply; /* NULL while the request is read */
	size_t reply_len, sent;
};

static void srv_log(pf_control *srv, const char *fmt, ...) PF_PRINTF(2, 3);
static void srv_log(pf_control *srv, const char *fmt, ...)
{
	char msg[300];
	va_list ap;

	if (!srv->log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	srv->log(srv->userdata, msg);
}

static void conn_free(ctl_conn *c)
{
	pf_control *srv = c->srv;

	for (ctl_conn **p = &srv->conns; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	srv->n_conns--;
	sd_event_source_disable_unref(c->io);
	sd_event_source_disable_unref(c->timer);
	close(c->fd);
	free(c->reply);
	free(c);
}

/* Send what is left of the reply; the connection is freed once it is all
 * out or the peer has gone.  Returns 0. */
static int conn_flush(ctl_conn *c)
{
	while (c->sent < c->reply_len) {
		ssize_t n = send_some(c->fd, c->reply + c->sent, c->reply_len - c->sent);

		if (n < 0) {
			conn_free(c);
			return 0;
		}
		if (n == 0) {
			sd_event_source_set_io_events(c->io, EPOLLOUT);
			return 0;
		}
		c->sent += (size_t)n;
	}
	conn_free(c);
	return 0;
}

/* Switch c to sending reply (owned now), with the reply's deadline. */
static int conn_reply(ctl_conn *c, char *reply, size_t len)
{
	c->reply = reply;
	c->reply_len = len;
	sd_event_source_set_time(c->timer, pf_mono_usec() + PF_CONTROL_REPLY_USEC);
	sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
	return conn_flush(c);
}

/* One error line for a request that is not one; nothing is acted on. */
static int conn_reject(ctl_conn *c, int code, const char *why)
{
	char *line = pf_asprintf("ERR %d %s\n", code, why);

	srv_log(c->srv, "control request from pid %ld refused: %s", (long)c->pid, why);
	return conn_reply(c, line, strlen(line));
}

/* The request line is complete: run it and send the answer. */
static int conn_run(ctl_conn *c)
{
	char *arg, *body = NULL, *head, *reply;
	size_t body_len = 0, head_len;
	pf_err he = {0};
	FILE *out;
	int code;

	arg = strchr(c->req, ' ');
	if (arg)
		*arg++ = '\0';
	out = open_memstream(&body, &body_len);
	code = c->srv->handler(c->srv->userdata, c->req, arg ? arg : "", out, &he) < 0
		       ? (he.exit_code ? he.exit_code : PF_EXIT_FAIL)
		       : PF_EXIT_OK;
	fclose(out);
	head = code == PF_EXIT_OK ? pf_strdup("OK\n")
				  : pf_asprintf("ERR %d %s\n", code, he.msg[0] ? he.msg : "failed");
	head_len = strlen(head);
	reply = pf_malloc(head_len + body_len + 1);
	memcpy(reply, head, head_len);
	memcpy(reply + head_len, body, body_len);
	free(head);
	free(body);
	return conn_reply(c, reply, head_len + body_len);
}

/* Read what has arrived; act once the line is complete or cannot be one. */
static int conn_read(ctl_conn *c)
{
	for (;;) {
		char why[80];
		ssize_t n = read(c->fd, c->req + c->have, PF_CONTROL_REQUEST_MAX - c->have);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0) {
			conn_free(c);
			return 0;
		}
		if (n == 0)
			return conn_reject(c, PF_EXIT_USAGE,
					   "incomplete control request (no newline)");
		for (size_t i = c->have; i < c->have + (size_t)n; i++) {
			unsigned char ch = (unsigned char)c->req[i];

			if (ch == '\n') {
				c->req[i] = '\0';
				return conn_run(c);
			}
			/* Requests are short words: a NUL or any other control
			 * byte means this is not one of ours. */
			if (ch < 0x20 || ch >= 0x7f) {
				snprintf(why, sizeof(why),
					 "invalid control request: byte 0x%02x at offset %zu", ch,
					 i);
				return conn_reject(c, PF_EXIT_USAGE, why);
			}
		}
		c->have += (size_t)n;
		if (c->have == PF_CONTROL_REQUEST_MAX) {
			snprintf(why, sizeof(why), "control request longer than %d bytes",
				 PF_CONTROL_REQUEST_MAX - 1);
			return conn_reject(c, PF_EXIT_USAGE, why);
		}
	}
}

static int on_conn_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	ctl_conn *c = userdata;

	(void)s;
	(void)fd;
	if (c->reply)
		return conn_flush(c);
	if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))
		return conn_read(c);
	return 0;
}

static int on_conn_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	ctl_conn *c = userdata;
	static const char late[] =
		"ERR 1 control request not complete within " PF_CONTROL_REQUEST_SECS " s\n";

	(void)s;
	(void)usec;
	if (!c->reply) {
		srv_log(c->srv,
			"control request from pid %ld not complete within " PF_CONTROL_REQUEST_SECS
			" s; dropped",
			(long)c->pid);
		(void)send_some(c->fd, late, sizeof(late) - 1);
	}
	conn_free(c);
	return 0;
}

/* Accept one connection: the peer first, then a slot.  Returns 1 when one
 * was taken, 0 when none waits, -errno. */
static int accept_one(pf_control *srv)
{
	static const char denied[] = "ERR 3 permission denied: root only\n";
	static const char busy[] = "ERR 1 busy: too many control connections; try again\n";
	struct ucred cred = {.pid = 0, .uid = (uid_t)-1};
	socklen_t len = sizeof(cred);
	ctl_conn *c;
	int fd, r;

	fd = accept4(sd_event_source_get_io_fd(srv->listen), NULL, NULL,
		     SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -errno;
	/* Before anything is read: a refused peer's bytes are never looked
	 * at.  The refusal line is queued before close(), so the client reads
	 * it even when its unread request makes the close a reset. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    (cred.uid != 0 && cred.uid != getuid())) {
		(void)send_some(fd, denied, sizeof(denied) - 1);
		close(fd);
		srv_log(srv, "control request from uid %u refused", (unsigned)cred.uid);
		return 1;
	}
	if (srv->n_conns >= PF_CONTROL_CLIENTS_MAX) {
		(void)send_some(fd, busy, sizeof(busy) - 1);
		close(fd);
		srv_log(srv, "control request from pid %ld refused: %u connections open",
			(long)cred.pid, srv->n_conns);
		return 1;
	}
	/* The deadlines count from now, not from the loop's wake-up
	 * (sd_event_now), which is stale by however long this process waited
	 * for the CPU since: under load a client was cut off at once. */
	c = pf_calloc(1, sizeof(*c));
	c->srv = srv;
	c->fd = fd;
	c->pid = cred.pid;
	if ((r = sd_event_add_io(srv->event, &c->io, fd, EPOLLIN, on_conn_io, c)) < 0 ||
	    (r = sd_event_add_time(srv->event, &c->timer, CLOCK_MONOTONIC,
				   pf_mono_usec() + PF_CONTROL_REQUEST_USEC, 0, on_conn_timer, c)) <
		    0) {
		sd_event_source_disable_unref(c->io);
		close(fd);
		free(c);
		return r;
	}
	sd_event_source_set_description(c->io, "control-client");
	sd_event_source_set_description(c->timer, "control-client-deadline");
	c->next = srv->conns;
	srv->conns = c;
	srv->n_conns++;
	/* The request is often there already. */
	conn_read(c);
	return 1;
}

static int on_listen(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	pf_control *srv = userdata;
	int r;

	(void)s;
	(void)fd;
	(void)revents;
	/* Bounded: a flood of connections waits for the next turn of the
	 * loop, after the timers and the other clients. */
	for (int i = 0; i < PF_CONTROL_CLIENTS_MAX; i++) {
		if ((r = accept_one(srv)) == 0)
			break;
		if (r < 0) {
			srv_log(srv, "accept: %s", strerror(-r));
			break;
		}
	}
	return 0;
}

int control_server_new(sd_event *event, int lfd, pf_control_handler handler, pf_control_log log,
		       void *userdata, pf_control **ret, pf_err *e)
{
	pf_control *srv = pf_calloc(1, sizeof(*srv));
	int r;

	srv->event = sd_event_ref(event);
	srv->handler = handler;
	srv->log = log;
	srv->userdata = userdata;
	r = sd_event_add_io(event, &srv->listen, lfd, EPOLLIN, on_listen, srv);
	if (r < 0) {
		sd_event_unref(srv->event);
		free(srv);
		return pf_err_set(e, -r, "cannot watch the control socket: %s", strerror(-r));
	}
	sd_event_source_set_description(srv->listen, "control-socket");
	*ret = srv;
	return 0;
}

pf_control *control_server_free(pf_control *srv)
{
	if (!srv)
		return NULL;
	while (srv->conns)
		conn_free(srv->conns);
	sd_event_source_disable_unref(srv->listen);
	sd_event_unref(srv->event);
	free(srv);
	return NULL;
}
