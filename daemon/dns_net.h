/*
 * dns_net.h - the DNS transport: many exchanges with many servers at once,
 * over UDP and TCP, in one poll loop.
 *
 * Every datagram is checked for its source (address and port of the server
 * asked) before dns_reply_check looks at it; a truncated reply moves the
 * exchange to TCP; UDP queries are resent at a fixed interval until their
 * deadline.  At most `window` UDP queries are in flight per server, so a
 * large round does not overflow socket buffers.  Each question has the
 * deadline from its first sending, so a slow but answering server gets
 * through a long batch a window at a time; a server that answers nothing
 * for a whole deadline is given up on, its unsent questions with it, so it
 * costs the deadline once, however many questions it had.  A batch ends
 * after at most 30 s (or the deadline, when longer).  Nothing here blocks.
 */
#ifndef PF_DNS_NET_H
#define PF_DNS_NET_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dns_msg.h"

typedef struct dns_server {
	struct sockaddr_storage sa;
	socklen_t salen;
	char label[64]; /* "127.53.0.1:53", "[2001:db8::1]:53" */
} dns_server;

/* Set s from an IP address literal and a port (0 means 53).  Returns 0 or
 * -EINVAL when addr is not an address. */
int dns_server_set(dns_server *s, const char *addr, uint16_t port);

bool dns_server_equal(const dns_server *a, const dns_server *b);

/* The address without the port ("127.53.0.1"), into buf. */
const char *dns_server_addr(const dns_server *s, char *buf, size_t len);

typedef struct dns_xfer {
	/* in */
	const dns_server *server;
	dns_request *req; /* borrowed; its ID may be changed to avoid clashes */
	bool tcp;         /* start over TCP (large messages) */
	/* out */
	bool replied;           /* reply holds an accepted reply */
	dns_reply reply;        /* the caller clears it */
	enum dns_status status; /* of the reply, or DNS_TIMEOUT / DNS_NETERR */
	bool used_tcp;
	unsigned ignored; /* datagrams not believed */
	char note[200];   /* the last reason one was not believed, or the error */
	uint64_t rtt_usec;
	/* private to dns_net.c */
	int state;
	int fd;
	int sock;
	uint64_t sent_at, next_send;
	size_t io_off;
	uint8_t *buf;
	size_t buf_len;
} dns_xfer;

typedef struct dns_net_opts {
	unsigned timeout_ms;    /* each question's deadline, from its first sending */
	unsigned retransmit_ms; /* UDP resend interval */
	unsigned window;        /* UDP queries in flight per server, at most 64 */
	/* dns_prop_run only: validate each TLSA RRset with these (NULL: do
	 * not; dns_propagation.h).  dns_net_opts_default sets NULL. */
	const struct dns_prop_dnssec *dnssec;
} dns_net_opts;

/*
 * Defaults: a 2 s deadline, resent after 700 ms, window 32.  The
 * environment variable PFTLS_DNS_TIMEOUT_MS (100..60000) sets the deadline,
 * for tests and for slow links; the resend interval follows it.
 */
void dns_net_opts_default(dns_net_opts *o);

/*
 * Run the n exchanges concurrently until each has an accepted reply or the
 * deadline passes.  Returns 0 (each xfer says how it ended) or -errno when
 * no socket could be made at all.
 */
int dns_net_run(dns_xfer *xs, size_t n, const dns_net_opts *o);

/* Release what dns_net_run left in x (the reply; NULL is fine); x may be run
 * again. */
void dns_xfer_clear(dns_xfer *x);

#endif
