/*
 * dns_net.c - concurrent DNS exchanges over non-blocking UDP and TCP sockets
 * in a single poll(2) loop.  One unconnected UDP socket per server, so the
 * source of each datagram can be checked here rather than filtered silently
 * by the kernel; one TCP connection per exchange that needs TCP.
 */
#include "dns_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WINDOW_MAX 64
#define RECENT_IDS 128
#define UDP_BATCH 64 /* datagrams read before any is taken */
/* However many questions, a batch ends after this (or the question
 * deadline, when that is longer): the daemon's event loop waits for it. */
#define BATCH_MAX_USEC (30 * 1000000ull)

enum xstate {
	X_QUEUED,
	X_UDP_WAIT,
	X_TCP_CONNECT,
	X_TCP_SEND,
	X_TCP_READ,
	X_DONE,
};

/* One UDP socket per distinct server. */
typedef struct usock {
	int fd;
	const dns_server *server;
	dns_xfer *inflight[WINDOW_MAX];
	size_t n_inflight;
	/* IDs of exchanges finished here: late duplicates of their replies
	 * (after a resend) are expected and dropped without comment. */
	uint16_t recent[RECENT_IDS];
	size_t n_recent;
	uint64_t last_reply; /* of an accepted reply (or the batch's start) */
	bool silent;         /* answered nothing for a whole question deadline */
} usock;

int dns_server_set(dns_server *s, const char *addr, uint16_t port)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)&s->sa;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&s->sa;

	memset(s, 0, sizeof(*s));
	if (port == 0)
		port = 53;
	if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		s->salen = sizeof(*a4);
		snprintf(s->label, sizeof(s->label), "%s:%u", addr, port);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		s->salen = sizeof(*a6);
		char buf[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, &a6->sin6_addr, buf, sizeof(buf));
		snprintf(s->label, sizeof(s->label), "[%s]:%u", buf, port);
		return 0;
	}
	return -EINVAL;
}

static bool sa_equal(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	return false;
}

bool dns_server_equal(const dns_server *a, const dns_server *b)
{
	return sa_equal((const struct sockaddr *)&a->sa, (const struct sockaddr *)&b->sa);
}

const char *dns_server_addr(const dns_server *s, char *buf, size_t len)
{
	if (s->sa.ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)&s->sa)->sin_addr, buf,
			  (socklen_t)len);
	else
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&s->sa)->sin6_addr, buf,
			  (socklen_t)len);
	return buf;
}

static const char *sa_label(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;
		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(s4->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ntohs(s6->sin6_port));
	} else {
		snprintf(buf, len, "an unknown address");
	}
	return buf;
}

void dns_net_opts_default(dns_net_opts *o)
{
	const char *env = getenv("PFTLS_DNS_TIMEOUT_MS");
	long t = env ? strtol(env, NULL, 10) : 0;

	o->timeout_ms = (t >= 100 && t <= 60000) ? (unsigned)t : 2000;
	o->retransmit_ms = o->timeout_ms * 7 / 20;
	o->window = 32;
	o->dnssec = NULL;
}

void dns_xfer_clear(dns_xfer *x)
{
	if (!x)
		return;
	dns_reply_clear(&x->reply);
	free(x->buf);
	x->buf = NULL;
	if (x->state != X_DONE && x->fd >= 0 && x->state >= X_TCP_CONNECT)
		close(x->fd);
	x->replied = false;
}

static void note(dns_xfer *x, const char *fmt, ...) PF_PRINTF(2, 3);

static void note(dns_xfer *x, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(x->note, sizeof(x->note), fmt, ap);
	va_end(ap);
}

static void finish(dns_xfer *x, usock *socks, enum dns_status st)
{
	if (x->state >= X_TCP_CONNECT && x->state <= X_TCP_READ && x->fd >= 0)
		close(x->fd);
	if (x->state == X_UDP_WAIT) {
		usock *u = &socks[x->sock];

		for (size_t i = 0; i < u->n_inflight; i++) {
			if (u->inflight[i] == x) {
				u->inflight[i] = u->inflight[--u->n_inflight];
				break;
			}
		}
		u->recent[u->n_recent++ % RECENT_IDS] = x->req->id;
	}
	x->fd = -1;
	x->state = X_DONE;
	if (!x->replied)
		x->status = st;
	free(x->buf);
	x->buf = NULL;
}

static void accept_reply(dns_xfer *x, usock *socks, uint64_t now)
{
	if (x->sock >= 0)
		socks[x->sock].last_reply = now;
	x->replied = true;
	x->status = dns_reply_status(&x->reply);
	x->rtt_usec = now - x->sent_at;
	finish(x, socks, x->status);
}

static void start_tcp(dns_xfer *x, usock *socks, uint64_t now)
{
	const dns_server *s = x->server;
	int fd;

	if (x->state == X_UDP_WAIT) {
		/* Leave the UDP window, keep the ID reserved as recent. */
		usock *u = &socks[x->sock];
		for (size_t i = 0; i < u->n_inflight; i++) {
			if (u->inflight[i] == x) {
				u->inflight[i] = u->inflight[--u->n_inflight];
				break;
			}
		}
		u->recent[u->n_recent++ % RECENT_IDS] = x->req->id;
	}
	x->used_tcp = true;
	x->sent_at = now;
	fd = socket(s->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(x->note, sizeof(x->note), "cannot make a TCP socket: %s", strerror(errno));
		x->state = X_QUEUED; /* so finish() does not close anything */
		finish(x, socks, DNS_NETERR);
		return;
	}
	x->fd = fd;
	x->state = X_TCP_CONNECT;
	if (connect(fd, (const struct sockaddr *)&s->sa, s->salen) < 0 && errno != EINPROGRESS) {
		snprintf(x->note, sizeof(x->note), "TCP connection to %s failed: %s", s->label,
			 strerror(errno));
		finish(x, socks, DNS_NETERR);
	}
}

static bool id_in_use(const usock *u, uint16_t id)
{
	for (size_t i = 0; i < u->n_inflight; i++)
		if (u->inflight[i]->req->id == id)
			return true;
	for (size_t i = 0; i < u->n_recent && i < RECENT_IDS; i++)
		if (u->recent[i] == id)
			return true;
	return false;
}

/* Send (or resend) x's query; a failure finishes x. */
static void udp_send(dns_xfer *x, usock *socks, uint64_t now, const dns_net_opts *o)
{
	usock *u = &socks[x->sock];
	ssize_t n = sendto(u->fd, x->req->wire, x->req->len, 0,
			   (const struct sockaddr *)&x->server->sa, x->server->salen);

	/* A full buffer is not an error: the resend timer tries again. */
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS) {
		note(x, "cannot send to %s: %s", x->server->label, strerror(errno));
		finish(x, socks, DNS_NETERR);
		return;
	}
	if (!x->sent_at)
		x->sent_at = now;
	x->next_send = now + (uint64_t)o->retransmit_ms * 1000;
}

static void udp_start(dns_xfer *x, usock *socks, int si, uint64_t now, const dns_net_opts *o)
{
	usock *u = &socks[si];

	/* A fresh ID when this one clashes on the socket: replies are told
	 * apart by ID alone. */
	for (int tries = 0; id_in_use(u, x->req->id) && tries < 100; tries++)
		if (dns_request_set_id(x->req, dns_random_id(), NULL) < 0)
			break;
	x->sock = si;
	x->state = X_UDP_WAIT;
	u->inflight[u->n_inflight++] = x;
	udp_send(x, socks, now, o);
}

/* One datagram received on socks[si]: to whom it is, and whether it is
 * believed. */
static void udp_take(usock *socks, int si, const uint8_t *buf, size_t n,
		     const struct sockaddr_storage *ss, uint64_t now)
{
	usock *u = &socks[si];
	char why[160], from[80];
	dns_xfer *x = NULL;
	uint16_t id = n >= 2 ? (uint16_t)(buf[0] << 8 | buf[1]) : 0;

	for (size_t i = 0; i < u->n_inflight; i++)
		if (u->inflight[i]->req->id == id)
			x = u->inflight[i];
	if (!sa_equal((const struct sockaddr *)ss, (const struct sockaddr *)&u->server->sa)) {
		/* Not from the server asked: never looked at further. */
		sa_label(ss, from, sizeof(from));
		for (size_t i = 0; i < u->n_inflight; i++) {
			if (x && u->inflight[i] != x)
				continue;
			u->inflight[i]->ignored++;
			note(u->inflight[i], "a reply from %s, not from %s", from,
			     u->server->label);
		}
		return;
	}
	if (!x) {
		bool recent = false;
		for (size_t i = 0; i < u->n_recent && i < RECENT_IDS; i++)
			recent |= u->recent[i] == id;
		if (recent)
			return;
		for (size_t i = 0; i < u->n_inflight; i++) {
			u->inflight[i]->ignored++;
			note(u->inflight[i], "a reply with the wrong message ID (0x%04x)", id);
		}
		return;
	}
	switch (dns_reply_check(x->req, buf, n, pf_now(), &x->reply, why, sizeof(why))) {
	case DNS_CHECK_ACCEPT:
		accept_reply(x, socks, now);
		break;
	case DNS_CHECK_TRUNCATED:
		start_tcp(x, socks, now);
		break;
	case DNS_CHECK_IGNORE:
		x->ignored++;
		note(x, "%s", why);
		break;
	}
}

/* The replies read together whose requests are signed with a signer's key
 * get their MACs judged in one exchange (dns_tsig_check_ahead) before
 * each is taken as before: a read of hundreds of names waited for the
 * privileged process once a reply. */
static void udp_check_ahead(const usock *u, uint8_t *const *bufs, const size_t *lens,
			    const struct sockaddr_storage *sss, size_t nb)
{
	dns_tsig_ahead items[UDP_BATCH];
	const dns_tsig_key *key = NULL;
	size_t m = 0;

	for (size_t b = 0; b < nb; b++) {
		uint16_t id = lens[b] >= 2 ? (uint16_t)(bufs[b][0] << 8 | bufs[b][1]) : 0;

		if (!sa_equal((const struct sockaddr *)&sss[b],
			      (const struct sockaddr *)&u->server->sa))
			continue;
		for (size_t i = 0; i < u->n_inflight; i++) {
			const dns_request *rq = u->inflight[i]->req;

			if (rq->id != id || !rq->tsig || !rq->tsig->signer ||
			    (key && rq->tsig != key))
				continue;
			key = rq->tsig;
			items[m++] = (dns_tsig_ahead){bufs[b], lens[b], rq->mac, rq->mac_len};
			break;
		}
	}
	if (key && m > 1)
		dns_tsig_check_ahead(key, items, m);
}

static void udp_receive(usock *socks, int si, uint64_t now)
{
	usock *u = &socks[si];
	static uint8_t buf[65536];
	uint8_t *bufs[UDP_BATCH];
	size_t lens[UDP_BATCH];
	struct sockaddr_storage sss[UDP_BATCH];

	for (int budget = 0; budget < 1024;) {
		size_t nb = 0;

		while (nb < UDP_BATCH && budget < 1024) {
			socklen_t sl = sizeof(sss[nb]);
			ssize_t n = recvfrom(u->fd, buf, sizeof(buf), MSG_DONTWAIT,
					     (struct sockaddr *)&sss[nb], &sl);

			if (n < 0)
				break; /* EAGAIN, or an ICMP error we cannot attribute */
			budget++;
			bufs[nb] = pf_malloc((size_t)n + 1);
			memcpy(bufs[nb], buf, (size_t)n);
			lens[nb++] = (size_t)n;
		}
		if (nb == 0)
			return;
		udp_check_ahead(u, bufs, lens, sss, nb);
		for (size_t b = 0; b < nb; b++) {
			udp_take(socks, si, bufs[b], lens[b], &sss[b], now);
			free(bufs[b]);
		}
		if (nb < UDP_BATCH)
			return;
	}
}

/* Advance a TCP exchange after poll said its socket is ready. */
static void tcp_step(dns_xfer *x, usock *socks, uint64_t now)
{
	char why[160];

	if (x->state == X_TCP_CONNECT) {
		int err = 0;
		socklen_t el = sizeof(err);

		getsockopt(x->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err) {
			snprintf(x->note, sizeof(x->note), "TCP connection to %s failed: %s",
				 x->server->label, strerror(err));
			finish(x, socks, DNS_NETERR);
			return;
		}
		free(x->buf);
		x->buf_len = x->req->len + 2;
		x->buf = pf_malloc(x->buf_len);
		x->buf[0] = (uint8_t)(x->req->len >> 8);
		x->buf[1] = (uint8_t)x->req->len;
		memcpy(x->buf + 2, x->req->wire, x->req->len);
		x->io_off = 0;
		x->state = X_TCP_SEND;
	}
	if (x->state == X_TCP_SEND) {
		ssize_t n = send(x->fd, x->buf + x->io_off, x->buf_len - x->io_off, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return;
			snprintf(x->note, sizeof(x->note), "TCP send to %s failed: %s",
				 x->server->label, strerror(errno));
			finish(x, socks, DNS_NETERR);
			return;
		}
		x->io_off += (size_t)n;
		if (x->io_off < x->buf_len)
			return;
		free(x->buf);
		x->buf = pf_malloc(2 + 65535);
		x->buf_len = 0; /* bytes received */
		x->io_off = 2;  /* bytes wanted: the length prefix first */
		x->state = X_TCP_READ;
		return;
	}
	if (x->state != X_TCP_READ)
		return;
	for (;;) {
		ssize_t n = recv(x->fd, x->buf + x->buf_len, x->io_off - x->buf_len, 0);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return;
			snprintf(x->note, sizeof(x->note), "TCP receive from %s failed: %s",
				 x->server->label, strerror(errno));
			finish(x, socks, DNS_NETERR);
			return;
		}
		if (n == 0) {
			if (!x->note[0] || !x->ignored)
				snprintf(x->note, sizeof(x->note),
					 "%s closed the TCP connection without a reply",
					 x->server->label);
			finish(x, socks, x->ignored ? DNS_TIMEOUT : DNS_NETERR);
			return;
		}
		x->buf_len += (size_t)n;
		if (x->buf_len < x->io_off)
			continue;
		if (x->io_off == 2) {
			x->io_off = 2 + (size_t)(x->buf[0] << 8 | x->buf[1]);
			if (x->io_off > 2)
				continue;
		}
		/* A whole message. */
		switch (dns_reply_check(x->req, x->buf + 2, x->buf_len - 2, pf_now(), &x->reply,
					why, sizeof(why))) {
		case DNS_CHECK_ACCEPT:
			accept_reply(x, socks, now);
			return;
		case DNS_CHECK_TRUNCATED:
			snprintf(x->note, sizeof(x->note), "%s sent a truncated reply over TCP",
				 x->server->label);
			finish(x, socks, DNS_TRUNCATED);
			return;
		case DNS_CHECK_IGNORE:
			x->ignored++;
			note(x, "%s (over TCP)", why);
			x->buf_len = 0;
			x->io_off = 2;
			break;
		}
	}
}

static int find_sock(usock *socks, size_t n_socks, const dns_server *s)
{
	for (size_t i = 0; i < n_socks; i++)
		if (dns_server_equal(socks[i].server, s))
			return (int)i;
	return -1;
}

int dns_net_run(dns_xfer *xs, size_t n, const dns_net_opts *o)
{
	usock *socks = pf_calloc(n, sizeof(*socks));
	size_t n_socks = 0, window = o->window ? o->window : 1;
	struct pollfd *pfd = pf_calloc(2 * n + 1, sizeof(*pfd));
	dns_xfer **pfx = pf_calloc(2 * n + 1, sizeof(*pfx));
	uint64_t start = pf_mono_usec(), tmo = (uint64_t)o->timeout_ms * 1000;
	uint64_t deadline = start + (tmo > BATCH_MAX_USEC ? tmo : BATCH_MAX_USEC);
	int r = 0;

	if (window > WINDOW_MAX)
		window = WINDOW_MAX;
	for (size_t i = 0; i < n; i++) {
		dns_xfer *x = &xs[i];

		x->replied = false;
		memset(&x->reply, 0, sizeof(x->reply));
		x->status = DNS_TIMEOUT;
		x->used_tcp = false;
		x->ignored = 0;
		x->note[0] = '\0';
		x->rtt_usec = 0;
		x->state = X_QUEUED;
		x->fd = -1;
		x->sock = -1;
		x->sent_at = x->next_send = 0;
		x->buf = NULL;
		if (x->tcp)
			continue;
		int si = find_sock(socks, n_socks, x->server);
		if (si < 0) {
			int fd = socket(x->server->sa.ss_family,
					SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
			if (fd < 0) {
				snprintf(x->note, sizeof(x->note), "cannot make a UDP socket: %s",
					 strerror(errno));
				x->state = X_DONE;
				x->status = DNS_NETERR;
				r = -errno;
				continue;
			}
			si = (int)n_socks++;
			socks[si].fd = fd;
			socks[si].server = x->server;
			socks[si].last_reply = start;
		}
		x->sock = si;
	}

	for (;;) {
		uint64_t now = pf_mono_usec(), wake = deadline;
		size_t np = 0, pending = 0;

		if (now >= deadline)
			break;
		for (size_t i = 0; i < n; i++) {
			dns_xfer *x = &xs[i];

			/* Each question has the deadline from its first sending; a
			 * server that answered nothing in that time is given up on,
			 * its questions not yet sent with it. */
			if (x->state != X_QUEUED && x->state != X_DONE && now - x->sent_at >= tmo) {
				if (x->sock >= 0 && now - socks[x->sock].last_reply >= tmo)
					socks[x->sock].silent = true;
				finish(x, socks, DNS_TIMEOUT);
				continue;
			}
			if (x->state == X_QUEUED && !x->tcp && x->sock >= 0 &&
			    socks[x->sock].silent) {
				note(x, "not sent: %s answered nothing for %u ms", x->server->label,
				     o->timeout_ms);
				finish(x, socks, DNS_TIMEOUT);
				continue;
			}
			if (x->state == X_QUEUED) {
				if (x->tcp)
					start_tcp(x, socks, now);
				else if (x->sock >= 0 && socks[x->sock].n_inflight < window)
					udp_start(x, socks, x->sock, now, o);
			} else if (x->state == X_UDP_WAIT && x->next_send <= now) {
				udp_send(x, socks, now, o);
			}
			if (x->state == X_DONE)
				continue;
			pending++;
			if (x->state == X_UDP_WAIT && x->next_send < wake)
				wake = x->next_send;
			if (x->state != X_QUEUED && x->sent_at + tmo < wake)
				wake = x->sent_at + tmo;
			if (x->state >= X_TCP_CONNECT && x->state <= X_TCP_READ) {
				pfd[np].fd = x->fd;
				pfd[np].events = x->state == X_TCP_READ ? POLLIN : POLLOUT;
				pfx[np++] = x;
			}
		}
		if (!pending)
			break;
		for (size_t i = 0; i < n_socks; i++) {
			if (!socks[i].n_inflight)
				continue;
			pfd[np].fd = socks[i].fd;
			pfd[np].events = POLLIN;
			pfx[np++] = NULL;
		}
		int ms = (int)(((wake > now ? wake - now : 0) + 999) / 1000);
		int pr = poll(pfd, np, ms);
		if (pr < 0 && errno != EINTR) {
			r = -errno;
			break;
		}
		if (pr <= 0)
			continue;
		now = pf_mono_usec();
		for (size_t i = 0; i < np; i++) {
			if (!pfd[i].revents)
				continue;
			if (pfx[i]) {
				tcp_step(pfx[i], socks, now);
			} else {
				int si = -1;
				for (size_t k = 0; k < n_socks; k++)
					if (socks[k].fd == pfd[i].fd)
						si = (int)k;
				if (si >= 0)
					udp_receive(socks, si, now);
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		dns_xfer *x = &xs[i];

		if (x->state != X_DONE) {
			if (!x->note[0] && x->state == X_QUEUED)
				snprintf(x->note, sizeof(x->note), "not sent before the deadline");
			finish(x, socks, DNS_TIMEOUT);
		}
	}
	for (size_t i = 0; i < n_socks; i++)
		close(socks[i].fd);
	free(socks);
	free(pfd);
	free(pfx);
	return r;
}
