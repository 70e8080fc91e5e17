/*
 * smtp_probe.c - one bounded SMTP STARTTLS exchange with DANE validation.
 *
 * Everything read from the server is bounded (line length, line count, total
 * time) and quoted in messages only truncated: the server is not trusted.
 * One absolute deadline covers the whole exchange, TLS handshake included:
 * the socket stays non-blocking and every read and write, ours or
 * OpenSSL's, first waits in poll() for at most the time that is left, so a
 * server that trickles bytes cannot stretch it (a socket timeout would
 * start again with each byte).
 */
#include "smtp_probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "keystore.h"

#define LINE_MAX_BYTES 1000 /* RFC 5321 4.5.3.1.5: 1000 octets with CRLF */
#define REPLY_MAX_LINES 64

typedef struct conn {
	int fd;
	uint64_t deadline; /* pf_mono_usec() value */
	const char *name;  /* for messages */
	char buf[4096];
	size_t have;
} conn;

static int remaining_ms(const conn *c)
{
	uint64_t now = pf_mono_usec();

	return now >= c->deadline ? 0 : (int)((c->deadline - now + 999) / 1000);
}

/* Wait until c->fd is ready for events (POLLIN or POLLOUT), at most until
 * the deadline.  Returns 0, -ETIMEDOUT or -errno. */
static int wait_ready(const conn *c, short events)
{
	struct pollfd p = {.fd = c->fd, .events = events};
	int ms, r;

	for (;;) {
		/* Checked before poll: a socket with data ready would pass a
		 * poll of 0 ms, and a trickle would never run out. */
		if ((ms = remaining_ms(c)) == 0)
			return -ETIMEDOUT;
		r = poll(&p, 1, ms);
		if (r > 0)
			return 0;
		if (r == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

/* Connect to one address with the deadline.  Returns the fd or -errno. */
static int connect_deadline(const struct sockaddr *sa, socklen_t salen, conn *c)
{
	PF_CLEANUP_CLOSE int fd =
		socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct pollfd p;
	int err = 0, r;
	socklen_t len = sizeof(err);

	if (fd < 0)
		return -errno;
	if (connect(fd, sa, salen) < 0 && errno != EINPROGRESS)
		return -errno;
	p = (struct pollfd){.fd = fd, .events = POLLOUT};
	do
		r = poll(&p, 1, remaining_ms(c));
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return -ETIMEDOUT;
	if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err)
		return err ? -err : -errno;
	return pf_take_fd(&fd); /* still non-blocking: see the top of the file */
}

/* Read one CRLF-terminated line into line (without CRLF).  Returns 0 or -errno. */
static int read_line(conn *c, char *line, size_t size)
{
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->have);
		ssize_t n;

		if (nl) {
			size_t len = (size_t)(nl - c->buf);

			/* The limit counts the line's octets with its CRLF, as
			 * below where it is still incomplete: the verdict must
			 * not depend on how the peer's bytes were split. */
			if (len + 1 > LINE_MAX_BYTES)
				return -EMSGSIZE;
			if (len > 0 && c->buf[len - 1] == '\r')
				len--;
			if (len >= size)
				return -EMSGSIZE;
			memcpy(line, c->buf, len);
			line[len] = '\0';
			c->have -= (size_t)(nl - c->buf) + 1;
			memmove(c->buf, nl + 1, c->have);
			return 0;
		}
		if (c->have >= LINE_MAX_BYTES)
			return -EMSGSIZE;
		if ((n = wait_ready(c, POLLIN)) < 0)
			return (int)n;
		n = read(c->fd, c->buf + c->have, sizeof(c->buf) - c->have);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		c->have += (size_t)n;
	}
}

/*
 * Read a whole (possibly multi-line) reply.  Returns its code, or -errno.
 * When keyword is given, *found tells whether a line of the reply carried it
 * (EHLO extensions).
 */
static int read_reply(conn *c, const char *keyword, bool *found, char *first, size_t first_size,
		      pf_err *e, const char *step)
{
	char line[LINE_MAX_BYTES + 1], q[81];
	int code = -1;

	for (int i = 0; i < REPLY_MAX_LINES; i++) {
		int r = read_line(c, line, sizeof(line));

		if (r < 0)
			return pf_err_set(e, -r, "%s: %s: %s", c->name, step,
					  r == -ETIMEDOUT ? "timed out" : strerror(-r));
		if (strlen(line) < 3 || line[0] < '2' || line[0] > '5' ||
		    (line[3] != ' ' && line[3] != '-' && line[3] != '\0'))
			return pf_err_set(e, EPROTO, "%s: %s: malformed SMTP reply \"%s\"", c->name,
					  step, pf_printable_copy(q, sizeof(q), line));
		if (i == 0) {
			code = atoi(line);
			/* A hostile server's text reaches messages only this way. */
			pf_printable_copy(first, first_size < 201 ? first_size : 201, line);
		} else if (atoi(line) != code) {
			return pf_err_set(e, EPROTO, "%s: %s: reply code changed within a reply",
					  c->name, step);
		}
		/* A bare "250" has no text: past its end lies whatever the
		 * buffer held before (fuzz_smtp_reply: an earlier line's
		 * STARTTLS was taken for this reply's). */
		if (keyword && line[3] != '\0' &&
		    strncasecmp(line + 4, keyword, strlen(keyword)) == 0 &&
		    (line[4 + strlen(keyword)] == '\0' || line[4 + strlen(keyword)] == ' '))
			*found = true;
		if (line[3] != '-')
			return code;
	}
	return pf_err_set(e, EPROTO, "%s: %s: reply longer than %d lines", c->name, step,
			  REPLY_MAX_LINES);
}

static int send_line(conn *c, const char *text, pf_err *e)
{
	size_t len = strlen(text);

	while (len > 0) {
		int r = wait_ready(c, POLLOUT);
		ssize_t n;

		if (r < 0)
			return pf_err_set(e, -r, "%s: cannot send: %s", c->name,
					  r == -ETIMEDOUT ? "timed out" : strerror(-r));
		n = send(c->fd, text, len, MSG_NOSIGNAL);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return pf_err_set(e, n < 0 ? errno : EIO, "%s: cannot send: %s", c->name,
					  strerror(n < 0 ? errno : EIO));
		text += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The SMTP part: greeting, EHLO, STARTTLS.  Returns 0 or -errno. */
static int smtp_starttls(conn *c, pf_err *e)
{
	char first[256];
	bool tls = false;
	int code;

	if ((code = read_reply(c, NULL, NULL, first, sizeof(first), e, "greeting")) < 0)
		return code;
	if (code != 220)
		return pf_err_set(e, EPROTO, "%s: greeting refused: \"%s\"", c->name, first);
	if (send_line(c, "EHLO pftls-roll.invalid\r\n", e) < 0)
		return -EIO;
	if ((code = read_reply(c, "STARTTLS", &tls, first, sizeof(first), e, "EHLO")) < 0)
		return code;
	if (code != 250)
		return pf_err_set(e, EPROTO, "%s: EHLO refused: \"%s\"", c->name, first);
	if (!tls)
		return pf_err_set(e, EPROTO, "%s: STARTTLS is not offered", c->name);
	if (send_line(c, "STARTTLS\r\n", e) < 0)
		return -EIO;
	if ((code = read_reply(c, NULL, NULL, first, sizeof(first), e, "STARTTLS")) < 0)
		return code;
	if (code != 220)
		return pf_err_set(e, EPROTO, "%s: STARTTLS refused: \"%s\"", c->name, first);
	if (c->have)
		return pf_err_set(e, EPROTO, "%s: data after the STARTTLS reply (injection?)",
				  c->name);
	return 0;
}

static const char *sigalgs_for(enum pf_probe_want want)
{
	switch (want) {
	case PF_PROBE_RSA:
		return "rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pss_rsae_sha512:"
		       "rsa_pkcs1_sha256:rsa_pkcs1_sha384:rsa_pkcs1_sha512";
	case PF_PROBE_ECDSA:
		return "ecdsa_secp256r1_sha256:ecdsa_secp384r1_sha384:ecdsa_secp521r1_sha512";
	default:
		return NULL;
	}
}

static const char *ssl_reason(void)
{
	static char buf[160];
	unsigned long code = ERR_peek_last_error();

	if (!code)
		return "connection closed or timed out";
	ERR_error_string_n(code, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

/* The TLS part.  Returns 0 or -errno. */
static int tls_handshake(conn *c, const char *tlsa_host, const pf_tlsa_rdata *records, size_t n,
			 enum pf_probe_want want, pf_probe_result *res, pf_err *e)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = NULL;
	X509 *leaf;
	pf_pubkey pk = {0};
	const char *sigalgs = sigalgs_for(want);
	int r = 0, usable = 0;

	if (!ctx || (n && SSL_CTX_dane_enable(ctx) <= 0) ||
	    (sigalgs && !SSL_CTX_set1_sigalgs_list(ctx, sigalgs)) || !(ssl = SSL_new(ctx))) {
		r = pf_err_set(e, EIO, "%s: cannot set up TLS: %s", c->name, ssl_reason());
		goto out;
	}
	/* Verification must not abort the handshake: the result is read below,
	 * so that a mismatch is reported with the key that was presented. */
	SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	if (tlsa_host)
		SSL_set_tlsext_host_name(ssl, tlsa_host);
	if (n) {
		if (SSL_dane_enable(ssl, tlsa_host) <= 0) {
			r = pf_err_set(e, EIO, "%s: cannot enable DANE: %s", c->name, ssl_reason());
			goto out;
		}
		/* RFC 7672 3.1.1: a DANE-EE match is the whole check for SMTP,
		 * the certificate's names are not looked at (OpenSSL checks
		 * them by default; Postfix sets this flag too).  The names a
		 * CA-issued certificate must carry are checked on the
		 * privileged side (roll_cert_check_live). */
		SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
		for (size_t i = 0; i < n; i++)
			if (SSL_dane_tlsa_add(ssl, records[i].usage, records[i].selector,
					      records[i].mtype, records[i].data,
					      records[i].len) > 0)
				usable++;
	}
	SSL_set_fd(ssl, c->fd);
	for (;;) {
		int ret = SSL_connect(ssl), w;

		if (ret == 1)
			break;
		switch (SSL_get_error(ssl, ret)) {
		case SSL_ERROR_WANT_READ:
			w = wait_ready(c, POLLIN);
			break;
		case SSL_ERROR_WANT_WRITE:
			w = wait_ready(c, POLLOUT);
			break;
		default:
			r = pf_err_set(e, EPROTO, "%s: TLS handshake failed: %s", c->name,
				       ssl_reason());
			goto out;
		}
		if (w < 0) {
			ERR_clear_error();
			r = pf_err_set(e, -w, "%s: TLS handshake: %s", c->name,
				       w == -ETIMEDOUT ? "timed out" : strerror(-w));
			goto out;
		}
	}
	leaf = SSL_get0_peer_certificate(ssl);
	if (!leaf || keystore_pubkey_of_cert(leaf, &pk, e) < 0) {
		r = pf_err_set(e, EPROTO, "%s: no usable server certificate", c->name);
		goto out;
	}
	memcpy(res->spki_sha256, pk.spki_sha256, sizeof(res->spki_sha256));
	res->alg = (int)pk.alg;
	{
		/* Which certificate chain it presents, for the CA-issued check
		 * the privileged side makes (roll_cert_check_live). */
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int mdlen = 0;
		STACK_OF(X509) *sk = SSL_get_peer_cert_chain(ssl);

		if (X509_digest(leaf, EVP_sha256(), md, &mdlen) == 1 && mdlen == 32)
			for (unsigned int i = 0; i < mdlen; i++)
				snprintf(res->leaf_sha256 + 2 * i, 3, "%02x", md[i]);
		res->chain_len = sk ? sk_X509_num(sk) : 1;
		if (res->chain_len > UINT8_MAX)
			res->chain_len = UINT8_MAX;
		/* The chain itself, whole or not at all. */
		for (int i = 0; sk && i < sk_X509_num(sk); i++) {
			int len = i2d_X509(sk_X509_value(sk, i), NULL);
			unsigned char *p = res->chain_der + res->chain_der_len;

			if (len <= 0 || (size_t)len > sizeof(res->chain_der) - res->chain_der_len) {
				res->chain_der_len = 0;
				break;
			}
			res->chain_der_len += (size_t)i2d_X509(sk_X509_value(sk, i), &p);
		}
		ERR_clear_error();
	}
	if (n) {
		long v = SSL_get_verify_result(ssl);

		res->dane_checked = true;
		res->dane_depth = SSL_get0_dane_authority(ssl, NULL, NULL);
		res->dane_ok = usable > 0 && v == X509_V_OK && res->dane_depth >= 0;
		if (!res->dane_ok)
			snprintf(res->verify_error, sizeof(res->verify_error), "%s",
				 usable ? X509_verify_cert_error_string(v)
					: "no usable TLSA record");
	}
	/* One try, not waited for: the result is in, and the deadline may be
	 * near. */
	SSL_shutdown(ssl);
out:
	pf_pubkey_free(&pk);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	return r;
}

/* One address of an endpoint: connect, STARTTLS, handshake; res->address
 * names it. */
static int probe_addr(const struct addrinfo *a, const char *port, const char *tlsa_host,
		      const pf_tlsa_rdata *records, size_t n, enum pf_probe_want want,
		      uint64_t deadline, pf_probe_result *res, pf_err *e)
{
	char host[INET6_ADDRSTRLEN] = "?", name[PF_ENDPOINT_BUF];
	conn c = {.fd = -1, .deadline = deadline, .name = name};
	int r;

	getnameinfo(a->ai_addr, a->ai_addrlen, host, sizeof(host), NULL, 0, NI_NUMERICHOST);
	snprintf(name, sizeof(name), a->ai_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
	*res = (pf_probe_result){.alg = -1, .dane_depth = -1};
	snprintf(res->address, sizeof(res->address), "%s", host);
	r = connect_deadline(a->ai_addr, a->ai_addrlen, &c);
	if (r < 0)
		return pf_err_set(e, -r, "%s: cannot connect: %s", name,
				  r == -ETIMEDOUT ? "timed out" : strerror(-r));
	c.fd = r;
	r = smtp_starttls(&c, e);
	if (r == 0)
		r = tls_handshake(&c, tlsa_host, records, n, want, res, e);
	close(c.fd);
	return r;
}

/* Is this address one already probed (getaddrinfo lists an address once per
 * protocol or from both /etc/hosts lines)? */
static bool addr_seen(const struct addrinfo *ai, const struct addrinfo *a)
{
	for (const struct addrinfo *b = ai; b != a; b = b->ai_next)
		if (b->ai_addrlen == a->ai_addrlen &&
		    memcmp(b->ai_addr, a->ai_addr, a->ai_addrlen) == 0)
			return true;
	return false;
}

/*
 * Every address of the endpoint (each A and AAAA of a name, as a sending
 * MTA may pick any of them) must be reachable and is probed in turn; the
 * result is the first address that fails DANE validation or presents another
 * key than the first address did, or else the first address's.
 */
int smtp_probe(const pf_hostport *ep, const char *tlsa_host, const pf_tlsa_rdata *records, size_t n,
	       enum pf_probe_want want, int timeout_ms, pf_probe_result *ret, pf_err *e)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
	struct addrinfo *ai = NULL;
	char port[8], name[PF_ENDPOINT_BUF];
	uint64_t deadline = pf_mono_usec() + (uint64_t)timeout_ms * 1000u;
	pf_probe_result first = {.alg = -1, .dane_depth = -1}, res;
	bool have = false, odd = false;
	int r, tried = 0;

	snprintf(port, sizeof(port), "%u", ep->port ? ep->port : 25);
	snprintf(name, sizeof(name), strchr(ep->host, ':') ? "[%s]:%s" : "%s:%s", ep->host, port);
	r = getaddrinfo(ep->host, port, &hints, &ai);
	if (r != 0)
		return pf_err_set(e, EHOSTUNREACH, "%s: cannot resolve: %s", name, gai_strerror(r));
	r = -EHOSTUNREACH;
	for (struct addrinfo *a = ai; a && !odd; a = a->ai_next) {
		if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) || addr_seen(ai, a))
			continue;
		tried++;
		if ((r = probe_addr(a, port, tlsa_host, records, n, want, deadline, &res, e)) < 0)
			break;
		if (!have)
			first = res;
		else if ((n && !res.dane_ok) || strcmp(res.spki_sha256, first.spki_sha256) != 0)
			odd = true;
		have = true;
	}
	freeaddrinfo(ai);
	if (!tried)
		return pf_err_set(e, EHOSTUNREACH, "%s: no IPv4 or IPv6 address", name);
	if (r < 0)
		return r;
	*ret = odd ? res : first;
	return 0;
}
