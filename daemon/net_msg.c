/*
 * net_msg.c - framing of messages on the SOCK_SEQPACKET socketpair between
 * the privileged process and the network process, and the serialisers of
 * every request and reply (see net_msg.h for the rules).
 *
 * Encoding: integers big-endian and of fixed width; a string is a 16-bit
 * length and its bytes (no NUL); a long text a 32-bit length and its bytes.
 * Encoders replace bytes a decoder would refuse (control characters,
 * non-ASCII) with '?', so an honest peer never sends what the other side
 * must reject; decoders refuse anything out of bounds and stop at the first
 * problem, which they describe in one line.
 */
#include "net_msg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "util.h"

#define CHUNK_TIMEOUT_MS 10000
#define MAX_ERRNO 4095
#define MAX_TIMEOUT_MS 600000

/* ---- types ---------------------------------------------------------------- */

static const struct {
	const char *name;
	size_t max;
} types[NET_TYPE_END] = {
	[NET_HELLO] = {"hello", 2048},
	[NET_DISCOVER_REQ] = {"discover request", 4 * 1024 * 1024},
	[NET_DISCOVER_REP] = {"discover reply", 1024 * 1024},
	[NET_UPDATE_REQ] = {"update request", 16 * 1024 * 1024},
	[NET_UPDATE_REP] = {"update reply", 2 * NET_TEXT_MAX + 4 * 1024 * 1024},
	[NET_PROP_REQ] = {"propagation request", 16 * 1024 * 1024},
	[NET_PROP_REP] = {"propagation reply", 16 * 1024 * 1024},
	[NET_PROBE_REQ] = {"probe request", 128 * 1024},
	[NET_PROBE_REP] = {"probe reply", 4096},
	[NET_SIGN_REQ] = {"sign request", 4 + NET_DNS_MAX},
	[NET_SIGN_REP] = {"sign reply", 1024 + 4 + NET_DNS_MAX + 4 + DNS_TSIG_MAC_MAX},
	[NET_MAC_REQ] = {"MAC check request", 4 + NET_MAC_INPUT_MAX + 4 + DNS_TSIG_MAC_MAX},
	[NET_MAC_REP] = {"MAC check reply", 1},
};

size_t net_type_max(uint32_t t)
{
	return t > 0 && t < NET_TYPE_END ? types[t].max : 0;
}

const char *net_type_name(uint32_t t)
{
	return t > 0 && t < NET_TYPE_END ? types[t].name : "unknown type";
}

/* ---- buffers and writers --------------------------------------------------- */

void net_buf_free(net_buf *b)
{
	if (!b)
		return;
	if (b->p) {
		/* No body carries a secret, but signed messages and the
		 * like are nobody's business once freed: wipe every body. */
		explicit_bzero(b->p, b->cap);
		free(b->p);
	}
	memset(b, 0, sizeof(*b));
}

static void put(net_buf *b, const void *p, size_t n)
{
	if (b->cap - b->len < n) {
		size_t cap = b->cap ? b->cap : 256;
		uint8_t *np;

		while (cap - b->len < n)
			cap *= 2;
		/* Not realloc: the old copy is wiped, as every body is. */
		np = pf_malloc(cap);
		if (b->len)
			memcpy(np, b->p, b->len);
		if (b->p) {
			explicit_bzero(b->p, b->cap);
			free(b->p);
		}
		b->p = np;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void put_u8(net_buf *b, uint8_t v)
{
	put(b, &v, 1);
}

static void put_u16(net_buf *b, uint16_t v)
{
	uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	put(b, x, 2);
}

static void put_u32(net_buf *b, uint32_t v)
{
	uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
	put(b, x, 4);
}

static void put_u64(net_buf *b, uint64_t v)
{
	put_u32(b, (uint32_t)(v >> 32));
	put_u32(b, (uint32_t)v);
}

static void put_bool(net_buf *b, bool v)
{
	put_u8(b, v ? 1 : 0);
}

/* Character classes of strings. */
enum strclass {
	S_NAME, /* DNS names, host names, addresses: 0x21-0x7e */
	S_LINE, /* one line of text: 0x20-0x7e */
	S_TEXT, /* lines of text: 0x20-0x7e, newline, tab */
};

static bool char_ok(unsigned char c, enum strclass cls)
{
	if (c >= 0x21 && c <= 0x7e)
		return true;
	if (c == ' ')
		return cls != S_NAME;
	return cls == S_TEXT && (c == '\n' || c == '\t');
}

/* A string of at most max-1 bytes (the size of the array it comes from). */
static void put_str(net_buf *b, const char *s, size_t max, enum strclass cls)
{
	size_t n = strnlen(s, max - 1);

	put_u16(b, (uint16_t)n);
	for (size_t i = 0; i < n; i++)
		put_u8(b, char_ok((unsigned char)s[i], cls) ? (uint8_t)s[i] : '?');
}

static void put_text(net_buf *b, const char *s, size_t n)
{
	if (n > NET_TEXT_MAX) {
		static const char cut[] = "\n[... output truncated]\n";

		put_u32(b, (uint32_t)NET_TEXT_MAX);
		for (size_t i = 0; i < NET_TEXT_MAX - (sizeof(cut) - 1); i++)
			put_u8(b, char_ok((unsigned char)s[i], S_TEXT) ? (uint8_t)s[i] : '?');
		put(b, cut, sizeof(cut) - 1);
		return;
	}
	put_u32(b, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		put_u8(b, char_ok((unsigned char)s[i], S_TEXT) ? (uint8_t)s[i] : '?');
}

/* ---- readers ---------------------------------------------------------------- */

typedef struct reader {
	const uint8_t *p;
	size_t len, off;
	char why[200]; /* the first problem; "" while none */
} reader;

static void bad(reader *r, const char *fmt, ...) PF_PRINTF(2, 3);
static void bad(reader *r, const char *fmt, ...)
{
	va_list ap;

	if (r->why[0])
		return;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	if (!r->why[0])
		snprintf(r->why, sizeof(r->why), "bad message");
}

static bool ok(const reader *r)
{
	return r->why[0] == '\0';
}

/* True when n more bytes are there; marks the message truncated if not. */
static bool need(reader *r, size_t n, const char *what)
{
	if (!ok(r))
		return false;
	if (n > r->len - r->off) {
		bad(r, "truncated in %s (%zu octets left, %zu needed)", what, r->len - r->off, n);
		return false;
	}
	return true;
}

static uint8_t get_u8(reader *r, const char *what)
{
	if (!need(r, 1, what))
		return 0;
	return r->p[r->off++];
}

static uint16_t get_u16(reader *r, const char *what)
{
	if (!need(r, 2, what))
		return 0;
	uint16_t v = (uint16_t)(r->p[r->off] << 8 | r->p[r->off + 1]);
	r->off += 2;
	return v;
}

static uint32_t get_u32(reader *r, const char *what)
{
	if (!need(r, 4, what))
		return 0;
	const uint8_t *q = r->p + r->off;
	r->off += 4;
	return (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3];
}

static uint64_t get_u64(reader *r, const char *what)
{
	uint64_t hi = get_u32(r, what);
	return hi << 32 | get_u32(r, what);
}

static bool get_bool(reader *r, const char *what)
{
	uint8_t v = get_u8(r, what);

	if (v > 1)
		bad(r, "%s: boolean %u", what, v);
	return v == 1;
}

/* An unsigned value that must lie in [lo, hi]. */
static uint32_t get_range(reader *r, uint32_t lo, uint32_t hi, const char *what)
{
	uint32_t v = get_u32(r, what);

	if (ok(r) && (v < lo || v > hi))
		bad(r, "%s %u out of range %u..%u", what, v, lo, hi);
	return ok(r) ? v : lo;
}

/* A string into out[cap]: at most cap-1 bytes of class cls. */
static void get_str(reader *r, char *out, size_t cap, enum strclass cls, const char *what)
{
	uint16_t n = get_u16(r, what);

	out[0] = '\0';
	if (!ok(r))
		return;
	if (n >= cap) {
		bad(r, "%s: %u octets, at most %zu allowed", what, n, cap - 1);
		return;
	}
	if (!need(r, n, what))
		return;
	for (size_t i = 0; i < n; i++)
		if (!char_ok(r->p[r->off + i], cls)) {
			bad(r, "%s: octet 0x%02x not allowed", what, r->p[r->off + i]);
			return;
		}
	memcpy(out, r->p + r->off, n);
	out[n] = '\0';
	r->off += n;
}

/* A long text, newly allocated (NUL-terminated); NULL after a problem. */
static char *get_text(reader *r, const char *what)
{
	uint32_t n = get_u32(r, what);
	char *s;

	if (!ok(r))
		return NULL;
	if (n > NET_TEXT_MAX) {
		bad(r, "%s: %u octets, at most %u allowed", what, n, (unsigned)NET_TEXT_MAX);
		return NULL;
	}
	if (!need(r, n, what))
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!char_ok(r->p[r->off + i], S_TEXT)) {
			bad(r, "%s: octet 0x%02x not allowed", what, r->p[r->off + i]);
			return NULL;
		}
	s = pf_malloc((size_t)n + 1);
	memcpy(s, r->p + r->off, n);
	s[n] = '\0';
	r->off += n;
	return s;
}

/* Octets: a 32-bit length and the octets. */
static void put_blob(net_buf *b, const uint8_t *p, size_t n)
{
	put_u32(b, (uint32_t)n);
	put(b, p, n);
}

/* Octets of at most max, pointing into the message (NULL after a
 * problem). */
static const uint8_t *get_blob(reader *r, size_t max, size_t *ret_len, const char *what)
{
	uint32_t n = get_u32(r, what);
	const uint8_t *p;

	*ret_len = 0;
	if (!ok(r))
		return NULL;
	if (n > max) {
		bad(r, "%s: %u octets, at most %zu allowed", what, n, max);
		return NULL;
	}
	if (!need(r, n, what))
		return NULL;
	p = r->p + r->off;
	r->off += n;
	*ret_len = n;
	return p;
}

/*
 * A count of items each encoded in at least min_size octets: at most max,
 * and no more than what is left of the message could hold - so a lying
 * count can never make the reader allocate more than the message justifies.
 */
static size_t get_count(reader *r, size_t max, size_t min_size, const char *what)
{
	uint32_t n = get_u32(r, what);

	if (!ok(r))
		return 0;
	if (n > max) {
		bad(r, "%s: %u items, at most %zu allowed", what, n, max);
		return 0;
	}
	if ((uint64_t)n * min_size > r->len - r->off) {
		bad(r, "%s: %u items cannot fit in the %zu octets left", what, n, r->len - r->off);
		return 0;
	}
	return n;
}

/* Returns 0 when the whole body was read without a problem, else -EPROTO
 * with e naming the message and the problem. */
static int finish(reader *r, uint32_t type, pf_err *e)
{
	if (ok(r) && r->off != r->len)
		bad(r, "%zu octets left over", r->len - r->off);
	if (ok(r))
		return 0;
	return pf_err_set(e, EPROTO, "malformed %s: %s", net_type_name(type), r->why);
}

static void reader_init(reader *r, const net_buf *b)
{
	memset(r, 0, sizeof(*r));
	r->p = b->p;
	r->len = b->len;
}

/* ---- framing ---------------------------------------------------------------- */

/* Send one packet of n octets.  Returns 0 or -errno. */
static int send_packet(int fd, const void *p, size_t n)
{
	ssize_t w;

	while ((w = send(fd, p, n, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	if (w < 0)
		return -errno;
	return (size_t)w == n ? 0 : -EIO;
}

int net_send(int fd, uint32_t t, const net_buf *b)
{
	uint8_t hdr[NET_HDR_LEN];
	net_buf h = {hdr, 0, sizeof(hdr)};
	size_t len = b ? b->len : 0;
	int rc;

	if (len > net_type_max(t))
		return -E2BIG;
	put_u32(&h, NET_MAGIC);
	put_u32(&h, t);
	put_u32(&h, (uint32_t)len);
	if ((rc = send_packet(fd, hdr, sizeof(hdr))) < 0)
		return rc;
	for (size_t off = 0; off < len; off += NET_CHUNK)
		if ((rc = send_packet(fd, b->p + off, len - off > NET_CHUNK ? NET_CHUNK : len - off)) <
		    0)
			return rc;
	return 0;
}

/* Wait until fd is readable.  Returns 0, -ETIMEDOUT or -errno. */
static int wait_readable(int fd, int timeout_ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	int r;

	while ((r = poll(&pfd, 1, timeout_ms)) < 0 && errno == EINTR)
		;
	if (r < 0)
		return -errno;
	return r == 0 ? -ETIMEDOUT : 0;
}

/* Read one packet of exactly n octets into p.  Returns 0, -ECONNRESET at
 * end of file, -EPROTO (with e) for a packet of another size, or -errno. */
static int recv_exact(int fd, void *p, size_t n, int timeout_ms, const char *what, pf_err *e)
{
	ssize_t r;
	int rc;

	if ((rc = wait_readable(fd, timeout_ms)) < 0)
		return rc;
	/* MSG_TRUNC: the packet's real length, so a longer one is seen. */
	while ((r = recv(fd, p, n, MSG_TRUNC)) < 0 && errno == EINTR)
		;
	if (r < 0)
		return -errno;
	if (r == 0 && n > 0)
		return -ECONNRESET;
	if ((size_t)r != n)
		return pf_err_set(e, EPROTO, "protocol violation: a packet of %zd octets where %s "
					     "of %zu was expected",
				  r, what, n);
	return 0;
}

int net_recv(int fd, const uint32_t *allowed, size_t n, int timeout_ms, uint32_t *ret_type,
	     net_buf *ret_body, pf_err *e)
{
	uint8_t hdr[NET_HDR_LEN];
	net_buf hb = {hdr, sizeof(hdr), sizeof(hdr)};
	net_buf body = {0};
	reader r;
	uint32_t magic, type, len;
	bool allowed_type = false;
	int rc;

	if ((rc = recv_exact(fd, hdr, sizeof(hdr), timeout_ms, "a header", e)) < 0)
		return rc;
	reader_init(&r, &hb);
	magic = get_u32(&r, "magic");
	type = get_u32(&r, "type");
	len = get_u32(&r, "length");
	if (magic != NET_MAGIC)
		return pf_err_set(e, EPROTO, "protocol violation: bad magic number 0x%08x", magic);
	for (size_t i = 0; i < n; i++)
		allowed_type |= allowed[i] == type;
	if (!allowed_type)
		return pf_err_set(e, EPROTO, "protocol violation: message type %u (%s) not expected",
				  type, net_type_name(type));
	if (len > net_type_max(type))
		return pf_err_set(e, EPROTO,
				  "protocol violation: %s of %u octets, at most %zu allowed",
				  net_type_name(type), len, net_type_max(type));
	body.p = pf_malloc(len ? len : 1);
	body.cap = len ? len : 1;
	while (body.len < len) {
		size_t want = len - body.len > NET_CHUNK ? NET_CHUNK : len - body.len;

		rc = recv_exact(fd, body.p + body.len, want, CHUNK_TIMEOUT_MS, "a body packet", e);
		if (rc < 0) {
			if (rc == -ECONNRESET || rc == -ETIMEDOUT)
				rc = pf_err_set(e, EPROTO, "protocol violation: %s ends after %zu of "
							   "%u octets",
						net_type_name(type), body.len, len);
			net_buf_free(&body);
			return rc;
		}
		body.len += want;
	}
	net_buf_free(ret_body);
	*ret_body = body;
	*ret_type = type;
	return 0;
}

/* ---- shared pieces ------------------------------------------------------------- */

static void put_status(net_buf *b, const net_status *st)
{
	int rc = st->rc < -MAX_ERRNO ? -EIO : st->rc > 0 ? 0 : st->rc;
	int code = st->err.code < 0 || st->err.code > MAX_ERRNO ? EIO : st->err.code;

	/* The one form of a failure: its errno as the error code too, as
	 * get_status insists. */
	if (rc < 0 && code == 0)
		code = -rc;
	int ex = st->err.exit_code < 0 || st->err.exit_code > PF_EXIT_REFUSED ? PF_EXIT_FAIL
										: st->err.exit_code;

	put_u32(b, (uint32_t)-rc);
	put_u16(b, (uint16_t)code);
	put_u8(b, (uint8_t)ex);
	put_str(b, st->err.msg, sizeof(st->err.msg), S_LINE);
}

static void get_status(reader *r, net_status *st)
{
	memset(st, 0, sizeof(*st));
	st->rc = -(int)get_range(r, 0, MAX_ERRNO, "return value");
	st->err.code = (int)get_u16(r, "error code");
	st->err.exit_code = get_u8(r, "exit code");
	if (ok(r) && st->err.code > MAX_ERRNO)
		bad(r, "error code %d out of range", st->err.code);
	if (ok(r) && st->err.exit_code > PF_EXIT_REFUSED)
		bad(r, "exit code %d out of range", st->err.exit_code);
	get_str(r, st->err.msg, sizeof(st->err.msg), S_LINE, "error message");
	if (ok(r) && st->rc < 0 && st->err.code == 0)
		bad(r, "return value %d without an error code", st->rc);
}

static void put_rdata(net_buf *b, const pf_tlsa_rdata *rd)
{
	size_t len = rd->len > sizeof(rd->data) ? sizeof(rd->data) : rd->len;

	put_u8(b, rd->usage);
	put_u8(b, rd->selector);
	put_u8(b, rd->mtype);
	put_u8(b, (uint8_t)len);
	put(b, rd->data, len);
}

static void get_rdata(reader *r, pf_tlsa_rdata *rd)
{
	memset(rd, 0, sizeof(*rd));
	rd->usage = get_u8(r, "TLSA usage");
	rd->selector = get_u8(r, "TLSA selector");
	rd->mtype = get_u8(r, "TLSA matching type");
	rd->len = get_u8(r, "TLSA data length");
	if (ok(r) && (rd->len == 0 || rd->len > sizeof(rd->data))) {
		bad(r, "TLSA data of %zu octets", rd->len);
		return;
	}
	if (need(r, rd->len, "TLSA data")) {
		memcpy(rd->data, r->p + r->off, rd->len);
		r->off += rd->len;
	}
}
#define RDATA_MIN 5

/* A server address: family (0 none, 4, 6), address, port.  The label is
 * made again from the address, not taken from the other side. */
static void put_server(net_buf *b, const dns_server *s)
{
	const struct sockaddr_in *a4 = (const void *)&s->sa;
	const struct sockaddr_in6 *a6 = (const void *)&s->sa;

	if (s->sa.ss_family == AF_INET) {
		put_u8(b, 4);
		put(b, &a4->sin_addr, 4);
		put_u16(b, ntohs(a4->sin_port));
	} else if (s->sa.ss_family == AF_INET6) {
		put_u8(b, 6);
		put(b, &a6->sin6_addr, 16);
		put_u16(b, ntohs(a6->sin6_port));
	} else {
		put_u8(b, 0);
	}
}

static void get_server(reader *r, dns_server *s)
{
	uint8_t fam = get_u8(r, "address family"), addr[16];
	char text[INET6_ADDRSTRLEN];
	size_t alen = fam == 4 ? 4 : 16;
	uint16_t port;

	memset(s, 0, sizeof(*s));
	if (!ok(r) || fam == 0)
		return;
	if (fam != 4 && fam != 6) {
		bad(r, "address family %u", fam);
		return;
	}
	if (!need(r, alen, "address"))
		return;
	memcpy(addr, r->p + r->off, alen);
	r->off += alen;
	port = get_u16(r, "port");
	if (ok(r) && port == 0)
		bad(r, "port 0");
	if (!ok(r))
		return;
	inet_ntop(fam == 4 ? AF_INET : AF_INET6, addr, text, sizeof(text));
	if (dns_server_set(s, text, port) < 0)
		bad(r, "address %s", text);
}
#define SERVER_MIN 1

static void put_target(net_buf *b, const dns_target *t)
{
	put_server(b, &t->addr);
	put_str(b, t->name, sizeof(t->name), S_NAME);
	put_bool(b, t->update_server);
}

static void get_target(reader *r, dns_target *t)
{
	memset(t, 0, sizeof(*t));
	get_server(r, &t->addr);
	get_str(r, t->name, sizeof(t->name), S_NAME, "server name");
	t->update_server = get_bool(r, "update server flag");
}
#define TARGET_MIN (SERVER_MIN + 3)

static int put_zone(net_buf *b, const dns_zone_info *z, pf_err *e)
{
	if (z->n_checks > NET_MAX_SERVERS)
		return pf_err_set(e, E2BIG, "zone %s has %zu check servers, at most %d supported",
				  z->zone, z->n_checks, NET_MAX_SERVERS);
	put_str(b, z->zone, sizeof(z->zone), S_NAME);
	put_target(b, &z->update);
	put_u32(b, (uint32_t)z->n_checks);
	for (size_t i = 0; i < z->n_checks; i++)
		put_target(b, &z->checks[i]);
	put_str(b, z->mname, sizeof(z->mname), S_NAME);
	put_u32(b, z->serial);
	put_u32(b, z->soa_ttl);
	put_u32(b, z->soa_minimum);
	return 0;
}

/* Fills z; z->checks is allocated (also after a problem: free it). */
static void get_zone(reader *r, dns_zone_info *z)
{
	memset(z, 0, sizeof(*z));
	get_str(r, z->zone, sizeof(z->zone), S_NAME, "zone name");
	get_target(r, &z->update);
	z->n_checks = get_count(r, NET_MAX_SERVERS, TARGET_MIN, "check servers");
	z->checks = pf_calloc(z->n_checks + 1, sizeof(*z->checks));
	for (size_t i = 0; i < z->n_checks && ok(r); i++)
		get_target(r, &z->checks[i]);
	get_str(r, z->mname, sizeof(z->mname), S_NAME, "SOA MNAME");
	z->serial = get_u32(r, "serial");
	z->soa_ttl = get_u32(r, "SOA TTL");
	z->soa_minimum = get_u32(r, "SOA MINIMUM");
}

/* ---- hello ------------------------------------------------------------------- */

void net_enc_hello(net_buf *b, const net_status *st, const net_sep *sep)
{
	put_status(b, st);
	put_u32(b, sep->uid);
	put_u32(b, sep->gid);
	put_u32(b, sep->flags);
	put_u32(b, sep->landlock_abi);
	put_str(b, sep->why_uid, sizeof(sep->why_uid), S_LINE);
}

int net_dec_hello(const net_buf *b, net_status *ret_st, net_sep *ret_sep, pf_err *e)
{
	net_status st;
	net_sep sep = {0};
	reader r;
	int rc;

	reader_init(&r, b);
	get_status(&r, &st);
	sep.uid = get_u32(&r, "uid");
	sep.gid = get_u32(&r, "gid");
	sep.flags = get_u32(&r, "separation flags");
	if (ok(&r) && (sep.flags & ~NET_SEP_ALL))
		bad(&r, "unknown separation flags 0x%x", (unsigned)sep.flags);
	sep.landlock_abi = get_range(&r, 0, NET_LANDLOCK_ABI_MAX, "Landlock ABI");
	get_str(&r, sep.why_uid, sizeof(sep.why_uid), S_LINE, "uid note");
	if ((rc = finish(&r, NET_HELLO, e)) < 0)
		return rc;
	*ret_st = st;
	*ret_sep = sep;
	return 0;
}

/* ---- discover ----------------------------------------------------------------- */

static int put_hostports(net_buf *b, const pf_hostport_list *l, const char *what, pf_err *e)
{
	if (l->n > NET_MAX_HOSTPORTS)
		return pf_err_set(e, E2BIG, "%s has %zu items, at most %d supported", what, l->n,
				  NET_MAX_HOSTPORTS);
	put_u32(b, (uint32_t)l->n);
	for (size_t i = 0; i < l->n; i++) {
		put_str(b, l->v[i].host, sizeof(l->v[i].host), S_NAME);
		put_u16(b, l->v[i].port);
	}
	return 0;
}

static void get_hostports(reader *r, pf_hostport_list *l, size_t max, const char *what)
{
	free(l->v);
	l->v = NULL;
	l->n = get_count(r, max, 4, what);
	if (!ok(r))
		return;
	l->v = pf_calloc(l->n + 1, sizeof(*l->v));
	for (size_t i = 0; i < l->n && ok(r); i++) {
		get_str(r, l->v[i].host, sizeof(l->v[i].host), S_NAME, what);
		l->v[i].port = get_u16(r, what);
		if (ok(r) && !l->v[i].host[0])
			bad(r, "%s: empty host", what);
	}
}

int net_enc_discover_req(net_buf *b, const pf_config *cfg, char *const *owners, size_t n,
			 pf_err *e)
{
	int rc;

	if (n > NET_MAX_ITEMS)
		return pf_err_set(e, E2BIG, "%zu owner names in one discovery, at most %d", n,
				  NET_MAX_ITEMS);
	put_bool(b, cfg->dns_zone != NULL);
	if (cfg->dns_zone)
		put_str(b, cfg->dns_zone, 256, S_NAME);
	if ((rc = put_hostports(b, &cfg->dns_update_server, "dns_update_server", e)) < 0 ||
	    (rc = put_hostports(b, &cfg->dns_resolver, "dns_resolver", e)) < 0 ||
	    (rc = put_hostports(b, &cfg->dns_check_servers, "dns_check_servers", e)) < 0 ||
	    (rc = put_hostports(b, &cfg->dns_extra_check_servers, "dns_extra_check_servers", e)) <
		    0)
		return rc;
	put_u32(b, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		put_str(b, owners[i], 256, S_NAME);
	return 0;
}

int net_dec_discover_req(const net_buf *b, pf_config *cfg, pf_strv *owners, pf_err *e)
{
	reader r;
	char s[256];
	size_t n;

	reader_init(&r, b);
	if (get_bool(&r, "dns_zone flag")) {
		get_str(&r, s, sizeof(s), S_NAME, "dns_zone");
		if (ok(&r) && !s[0])
			bad(&r, "empty dns_zone");
		free(cfg->dns_zone);
		cfg->dns_zone = ok(&r) ? pf_strdup(s) : NULL;
	}
	get_hostports(&r, &cfg->dns_update_server, 1, "dns_update_server");
	get_hostports(&r, &cfg->dns_resolver, NET_MAX_HOSTPORTS, "dns_resolver");
	get_hostports(&r, &cfg->dns_check_servers, NET_MAX_HOSTPORTS, "dns_check_servers");
	get_hostports(&r, &cfg->dns_extra_check_servers, NET_MAX_HOSTPORTS,
		      "dns_extra_check_servers");
	n = get_count(&r, NET_MAX_ITEMS, 3, "owner names");
	for (size_t i = 0; i < n && ok(&r); i++) {
		get_str(&r, s, sizeof(s), S_NAME, "owner name");
		if (ok(&r) && !s[0])
			bad(&r, "empty owner name");
		if (ok(&r))
			pf_strv_push(owners, s);
	}
	return finish(&r, NET_DISCOVER_REQ, e);
}

int net_enc_discover_rep(net_buf *b, const net_status *st, const dns_zone_info *z,
			 size_t n_zones, const size_t *owner_zone, size_t n_owners, pf_err *e)
{
	int rc;

	put_status(b, st);
	if (st->rc < 0)
		return 0;
	if (n_zones > NET_MAX_ZONES)
		return pf_err_set(e, E2BIG, "%zu zones, at most %d", n_zones, NET_MAX_ZONES);
	put_u32(b, (uint32_t)n_zones);
	for (size_t i = 0; i < n_zones; i++)
		if ((rc = put_zone(b, &z[i], e)) < 0)
			return rc;
	put_u32(b, (uint32_t)n_owners);
	for (size_t i = 0; i < n_owners; i++)
		put_u32(b, (uint32_t)owner_zone[i]);
	return 0;
}

int net_dec_discover_rep(const net_buf *b, size_t n_owners, net_status *ret_st,
			 dns_zone_info **ret, size_t *ret_n, size_t *ret_owner_zone, pf_err *e)
{
	dns_zone_info *z = NULL;
	size_t nz = 0, no, *owner_zone = pf_calloc(n_owners + 1, sizeof(*owner_zone));
	net_status st;
	reader r;
	int rc;

	reader_init(&r, b);
	get_status(&r, &st);
	if (ok(&r) && st.rc == 0) {
		nz = get_count(&r, NET_MAX_ZONES, 1 + TARGET_MIN + 4 + 2 + 12, "zones");
		z = pf_calloc(nz + 1, sizeof(*z));
		for (size_t i = 0; i < nz && ok(&r); i++) {
			get_zone(&r, &z[i]);
			if (ok(&r) && !z[i].zone[0])
				bad(&r, "zone %zu has no name", i);
		}
		no = get_count(&r, NET_MAX_ITEMS, 4, "owner zones");
		if (ok(&r) && no != n_owners)
			bad(&r, "%zu owner zones for %zu owner names", no, n_owners);
		for (size_t i = 0; i < no && ok(&r); i++)
			owner_zone[i] = get_range(&r, 0, nz ? (uint32_t)nz - 1 : 0, "owner zone");
		if (ok(&r) && nz == 0 && n_owners > 0)
			bad(&r, "no zone for %zu owner names", n_owners);
	}
	if ((rc = finish(&r, NET_DISCOVER_REP, e)) < 0) {
		dns_zones_free(z, nz);
		free(owner_zone);
		return rc;
	}
	if (st.rc == 0)
		memcpy(ret_owner_zone, owner_zone, n_owners * sizeof(*owner_zone));
	free(owner_zone);
	*ret_st = st;
	*ret = z;
	*ret_n = nz;
	return 0;
}

/* ---- update -------------------------------------------------------------------- */

int net_enc_update_req(net_buf *b, const dns_update_opts *o, const dns_change *ch, size_t n,
		       pf_err *e)
{
	int rc;

	if (n > NET_MAX_ITEMS)
		return pf_err_set(e, E2BIG, "%zu changes in one update, at most %d", n,
				  NET_MAX_ITEMS);
	if ((rc = put_zone(b, o->zone, e)) < 0)
		return rc;
	/* The key's name and algorithm only: the secret stays here, and the
	 * network process asks for each signature (net_sign.h). */
	put_bool(b, o->tsig != NULL);
	if (o->tsig) {
		put_str(b, o->tsig->name, sizeof(o->tsig->name), S_NAME);
		put_u8(b, (uint8_t)o->tsig->alg);
	}
	put_u32(b, o->ttl);
	put_bool(b, o->dry_run != NULL);
	put_bool(b, o->verbose != NULL);
	put_u32(b, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		put_str(b, ch[i].owner, sizeof(ch[i].owner), S_NAME);
		put_rdata(b, &ch[i].rd);
		put_u8(b, ch[i].op == DNS_OP_DELETE ? 1 : 0);
	}
	return 0;
}

int net_dec_update_req(const net_buf *b, net_update_req *ret, pf_err *e)
{
	reader r;
	int rc;

	memset(ret, 0, sizeof(*ret));
	reader_init(&r, b);
	get_zone(&r, &ret->zone);
	if (get_bool(&r, "TSIG flag")) {
		char name[256];
		uint8_t alg;
		pf_err e2 = {0};

		get_str(&r, name, sizeof(name), S_NAME, "TSIG key name");
		alg = get_u8(&r, "TSIG algorithm");
		if (ok(&r) && alg > DNS_HMAC_SHA512)
			bad(&r, "TSIG algorithm %u", alg);
		if (ok(&r) && dns_tsig_key_public(name, (enum dns_tsig_alg)alg, &ret->tsig, &e2) < 0)
			bad(&r, "%s", e2.msg);
	}
	ret->ttl = get_u32(&r, "TTL");
	ret->dry_run = get_bool(&r, "dry-run flag");
	ret->verbose = get_bool(&r, "verbose flag");
	ret->n = get_count(&r, NET_MAX_ITEMS, 2 + RDATA_MIN + 1, "changes");
	ret->ch = pf_calloc(ret->n + 1, sizeof(*ret->ch));
	for (size_t i = 0; i < ret->n && ok(&r); i++) {
		uint8_t op;

		get_str(&r, ret->ch[i].owner, sizeof(ret->ch[i].owner), S_NAME, "owner name");
		if (ok(&r) && !ret->ch[i].owner[0])
			bad(&r, "empty owner name");
		get_rdata(&r, &ret->ch[i].rd);
		op = get_u8(&r, "operation");
		if (ok(&r) && op > 1)
			bad(&r, "operation %u", op);
		ret->ch[i].op = op ? DNS_OP_DELETE : DNS_OP_ADD;
	}
	if ((rc = finish(&r, NET_UPDATE_REQ, e)) < 0)
		net_update_req_free(ret);
	return rc;
}

void net_update_req_free(net_update_req *r)
{
	free(r->zone.checks);
	dns_tsig_key_free(r->tsig);
	free(r->ch);
	memset(r, 0, sizeof(*r));
}

int net_enc_update_rep(net_buf *b, const net_status *st, const dns_change *ch, size_t n,
		       const dns_update_result *res, const char *dry, size_t dry_len,
		       const char *verbose, size_t verbose_len, pf_err *e)
{
	(void)e;
	put_status(b, st);
	put_u32(b, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		put_u8(b, (uint8_t)ch[i].result);
		put_bool(b, ch[i].existed_before);
		put_u32(b, ch[i].ttl_before);
		put_u32(b, ch[i].ttl);
		put_u32(b, ch[i].others);
	}
	put_u32(b, (uint32_t)res->messages);
	put_u64(b, (uint64_t)res->t_pub);
	put_u32(b, res->serial);
	put_bool(b, res->zone_signed);
	put_u32(b, res->soa_ttl);
	put_u32(b, res->soa_minimum);
	put_text(b, dry ? dry : "", dry ? dry_len : 0);
	put_text(b, verbose ? verbose : "", verbose ? verbose_len : 0);
	return 0;
}

int net_dec_update_rep(const net_buf *b, dns_change *ch, size_t n, net_status *ret_st,
		       dns_update_result *ret_res, char **ret_dry, char **ret_verbose, pf_err *e)
{
	dns_change *out = pf_calloc(n + 1, sizeof(*out));
	char *dry = NULL, *verbose = NULL;
	dns_update_result res_ = {0}, *res = &res_;
	net_status st_, *st = &st_;
	size_t m;
	reader r;
	int rc;

	reader_init(&r, b);
	get_status(&r, st);
	m = get_count(&r, NET_MAX_ITEMS, 14, "change results");
	if (ok(&r) && m != n)
		bad(&r, "%zu change results for %zu changes", m, n);
	for (size_t i = 0; i < m && ok(&r); i++) {
		out[i].result = (enum dns_change_result)get_u8(&r, "change result");
		if (ok(&r) && out[i].result > DNS_CH_FAILED)
			bad(&r, "change result %d", (int)out[i].result);
		out[i].existed_before = get_bool(&r, "existed before");
		out[i].ttl_before = get_u32(&r, "TTL before");
		out[i].ttl = get_u32(&r, "TTL");
		out[i].others = get_u32(&r, "other records");
	}
	res->messages = get_u32(&r, "messages");
	res->t_pub = (int64_t)get_u64(&r, "T_pub");
	res->serial = get_u32(&r, "serial");
	res->zone_signed = get_bool(&r, "zone signed");
	res->soa_ttl = get_u32(&r, "SOA TTL");
	res->soa_minimum = get_u32(&r, "SOA MINIMUM");
	if (ok(&r) && res->t_pub < 0)
		bad(&r, "T_pub %lld", (long long)res->t_pub);
	if (ok(&r) && st->rc == 0) {
		/* A success reply must account for every change. */
		for (size_t i = 0; i < n && ok(&r); i++)
			if (out[i].result != DNS_CH_DONE && out[i].result != DNS_CH_ALREADY &&
			    !(out[i].result == DNS_CH_PENDING && res->messages == 0))
				bad(&r, "success with change %zu not done", i);
	}
	dry = get_text(&r, "dry-run output");
	verbose = get_text(&r, "verbose output");
	if ((rc = finish(&r, NET_UPDATE_REP, e)) < 0) {
		free(out);
		free(dry);
		free(verbose);
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		ch[i].result = out[i].result;
		ch[i].existed_before = out[i].existed_before;
		ch[i].ttl_before = out[i].ttl_before;
		ch[i].ttl = out[i].ttl;
		ch[i].others = out[i].others;
	}
	free(out);
	*ret_st = *st;
	*ret_res = *res;
	*ret_dry = dry;
	*ret_verbose = verbose;
	return 0;
}

/* ---- signing ------------------------------------------------------------------------ */

void net_enc_sign_req(net_buf *b, const uint8_t *wire, size_t len)
{
	put_blob(b, wire, len > NET_DNS_MAX ? 0 : len);
}

int net_dec_sign_req(const net_buf *b, const uint8_t **ret_wire, size_t *ret_len, pf_err *e)
{
	const uint8_t *w;
	size_t len;
	reader r;
	int rc;

	reader_init(&r, b);
	w = get_blob(&r, NET_DNS_MAX, &len, "message to sign");
	if (ok(&r) && len < 12)
		bad(&r, "a message of %zu octets to sign", len);
	if ((rc = finish(&r, NET_SIGN_REQ, e)) < 0)
		return rc;
	*ret_wire = w;
	*ret_len = len;
	return 0;
}

void net_enc_sign_rep(net_buf *b, const net_status *st, const uint8_t *wire, size_t len,
		      const uint8_t *mac, size_t mac_len)
{
	bool good = st->rc == 0 && len <= NET_DNS_MAX && mac_len <= DNS_TSIG_MAC_MAX;

	put_status(b, st);
	put_blob(b, wire, good ? len : 0);
	put_blob(b, mac, good ? mac_len : 0);
}

int net_dec_sign_rep(const net_buf *b, size_t req_len, size_t mac_len_want, net_status *st,
		     uint8_t **ret_wire, size_t *ret_len, uint8_t *mac, size_t *mac_len,
		     pf_err *e)
{
	const uint8_t *w, *m;
	size_t wl, ml;
	reader r;
	int rc;

	reader_init(&r, b);
	get_status(&r, st);
	w = get_blob(&r, NET_DNS_MAX, &wl, "signed message");
	m = get_blob(&r, DNS_TSIG_MAC_MAX, &ml, "MAC");
	if (ok(&r) && st->rc == 0 && (wl <= req_len || ml != mac_len_want))
		bad(&r, "a signed message of %zu octets with a MAC of %zu for a request of %zu",
		    wl, ml, req_len);
	if ((rc = finish(&r, NET_SIGN_REP, e)) < 0 || st->rc < 0)
		return rc;
	*ret_wire = pf_malloc(wl);
	memcpy(*ret_wire, w, wl);
	*ret_len = wl;
	memcpy(mac, m, ml);
	*mac_len = ml;
	return 0;
}

void net_enc_mac_req(net_buf *b, const uint8_t *input, size_t len, const uint8_t *mac,
		     size_t mac_len)
{
	put_blob(b, input, len > NET_MAC_INPUT_MAX ? 0 : len);
	put_blob(b, mac, mac_len > DNS_TSIG_MAC_MAX ? 0 : mac_len);
}

int net_dec_mac_req(const net_buf *b, const uint8_t **ret_input, size_t *ret_len,
		    const uint8_t **ret_mac, size_t *ret_mac_len, pf_err *e)
{
	const uint8_t *in, *mac;
	size_t len, mac_len;
	reader r;
	int rc;

	reader_init(&r, b);
	in = get_blob(&r, NET_MAC_INPUT_MAX, &len, "TSIG input");
	mac = get_blob(&r, DNS_TSIG_MAC_MAX, &mac_len, "MAC");
	if ((rc = finish(&r, NET_MAC_REQ, e)) < 0)
		return rc;
	*ret_input = in;
	*ret_len = len;
	*ret_mac = mac;
	*ret_mac_len = mac_len;
	return 0;
}

void net_enc_mac_rep(net_buf *b, bool match)
{
	put_bool(b, match);
}

int net_dec_mac_rep(const net_buf *b, bool *match, pf_err *e)
{
	reader r;

	reader_init(&r, b);
	*match = get_bool(&r, "MAC verdict");
	return finish(&r, NET_MAC_REP, e);
}

/* ---- propagation round ------------------------------------------------------------ */

static int check_opts(const dns_net_opts *o)
{
	return o->timeout_ms >= 1 && o->timeout_ms <= MAX_TIMEOUT_MS && o->retransmit_ms >= 1 &&
	       o->retransmit_ms <= MAX_TIMEOUT_MS && o->window >= 1 && o->window <= 64;
}

int net_enc_prop_req(net_buf *b, const dns_zone_info *z, const dns_prop_want *want, size_t n,
		     const dns_net_opts *o, pf_err *e)
{
	int rc;

	if (n > NET_MAX_ITEMS)
		return pf_err_set(e, E2BIG, "%zu records in one propagation round, at most %d", n,
				  NET_MAX_ITEMS);
	if (!check_opts(o))
		return pf_err_set(e, EINVAL, "DNS timeouts out of range");
	if ((rc = put_zone(b, z, e)) < 0)
		return rc;
	put_u32(b, o->timeout_ms);
	put_u32(b, o->retransmit_ms);
	put_u32(b, o->window);
	put_u32(b, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		put_str(b, want[i].owner, sizeof(want[i].owner), S_NAME);
		put_rdata(b, &want[i].rd);
		put_bool(b, want[i].present);
	}
	return 0;
}

int net_dec_prop_req(const net_buf *b, net_prop_req *ret, pf_err *e)
{
	reader r;
	int rc;

	memset(ret, 0, sizeof(*ret));
	reader_init(&r, b);
	get_zone(&r, &ret->zone);
	ret->opts.timeout_ms = get_range(&r, 1, MAX_TIMEOUT_MS, "timeout");
	ret->opts.retransmit_ms = get_range(&r, 1, MAX_TIMEOUT_MS, "retransmit interval");
	ret->opts.window = get_range(&r, 1, 64, "window");
	ret->n = get_count(&r, NET_MAX_ITEMS, 2 + RDATA_MIN + 1, "wanted records");
	ret->want = pf_calloc(ret->n + 1, sizeof(*ret->want));
	for (size_t i = 0; i < ret->n && ok(&r); i++) {
		get_str(&r, ret->want[i].owner, sizeof(ret->want[i].owner), S_NAME, "owner name");
		if (ok(&r) && !ret->want[i].owner[0])
			bad(&r, "empty owner name");
		get_rdata(&r, &ret->want[i].rd);
		ret->want[i].present = get_bool(&r, "present flag");
	}
	if ((rc = finish(&r, NET_PROP_REQ, e)) < 0)
		net_prop_req_free(ret);
	return rc;
}

void net_prop_req_free(net_prop_req *r)
{
	free(r->zone.checks);
	free(r->want);
	memset(r, 0, sizeof(*r));
}

/* Encoded sizes of one RRset and of a server without its RRsets, matches
 * and note: the decoder's lower bounds. */
#define RRSET_ENC 15
#define SERVER_ENC_MIN (1 + 2 + 1 + 12 + 1 + 4 + 1 + 1 + 8)

int net_enc_prop_rep(net_buf *b, const net_status *st, const dns_prop_round *rd, pf_err *e)
{
	put_status(b, st);
	if (st->rc < 0)
		return 0;
	if ((uint64_t)rd->n_servers *
		    (SERVER_ENC_MIN + sizeof(rd->servers->note) + rd->n_owners * RRSET_ENC + rd->n_want) >
	    types[NET_PROP_REP].max)
		return pf_err_set(e, E2BIG, "a propagation round of %zu servers x %zu records is "
					    "too large",
				  rd->n_servers, rd->n_want);
	/* The zone, owner names and server addresses are the request's: the
	 * parent sets them itself.  Only what the servers said travels. */
	put_u32(b, (uint32_t)rd->n_owners);
	put_u32(b, (uint32_t)rd->n_want);
	put_u32(b, (uint32_t)rd->n_servers);
	for (size_t s = 0; s < rd->n_servers; s++) {
		const dns_prop_server *ps = &rd->servers[s];

		put_u8(b, (uint8_t)ps->state);
		put_str(b, ps->note, sizeof(ps->note), S_LINE);
		put_bool(b, ps->have_soa);
		put_u32(b, ps->serial);
		put_u32(b, ps->soa_ttl);
		put_u32(b, ps->soa_minimum);
		put_bool(b, ps->soa_signed);
		for (size_t k = 0; k < rd->n_owners; k++) {
			const dns_prop_rrset *rs = &ps->rrsets[k];

			put_bool(b, rs->answered);
			put_u32(b, rs->n_rr);
			put_u32(b, rs->ttl);
			put_u32(b, rs->orig_ttl);
			put_bool(b, rs->rrsig);
			put_bool(b, rs->rrsig_expired);
		}
		for (size_t w = 0; w < rd->n_want; w++)
			put_bool(b, ps->match[w]);
		put_u32(b, (uint32_t)ps->n_match);
		put_bool(b, ps->all_signed);
		put_bool(b, ps->complete);
		put_u64(b, ps->rtt_usec);
	}
	put_u64(b, (uint64_t)rd->time);
	put_bool(b, rd->all_complete);
	put_bool(b, rd->zone_signed);
	put_u32(b, rd->max_tlsa_ttl);
	put_u32(b, rd->soa_ttl);
	put_u32(b, rd->soa_minimum);
	return 0;
}

/* The distinct owners of want[0..n) in order, and each want's owner index,
 * exactly as dns_prop_run makes them. */
static void round_owners(dns_prop_round *rd, const dns_prop_want *want, size_t n)
{
	rd->want_owner = pf_calloc(n + 1, sizeof(*rd->want_owner));
	rd->owners = pf_calloc(n + 1, sizeof(*rd->owners));
	for (size_t w = 0; w < n; w++) {
		size_t k;

		for (k = 0; k < rd->n_owners; k++)
			if (strcmp(rd->owners[k], want[w].owner) == 0)
				break;
		if (k == rd->n_owners)
			rd->owners[rd->n_owners++] = pf_strdup(want[w].owner);
		rd->want_owner[w] = k;
	}
}

int net_dec_prop_rep(const net_buf *b, const dns_zone_info *z, const dns_prop_want *want,
		     size_t n, net_status *ret_st, dns_prop_round *ret, pf_err *e)
{
	dns_prop_round rd = {0};
	net_status st;
	reader r;
	int rc;

	reader_init(&r, b);
	get_status(&r, &st);
	if (ok(&r) && st.rc == 0) {
		size_t no, nw, ns;
		bool all = true;

		snprintf(rd.zone, sizeof(rd.zone), "%s", z->zone);
		rd.want = want;
		rd.n_want = n;
		round_owners(&rd, want, n);
		no = get_u32(&r, "owner count");
		nw = get_u32(&r, "record count");
		ns = get_u32(&r, "server count");
		if (ok(&r) && (no != rd.n_owners || nw != n || ns != z->n_checks))
			bad(&r, "a round of %zu owners, %zu records, %zu servers for a request of "
				"%zu, %zu, %zu",
			    no, nw, ns, rd.n_owners, n, z->n_checks);
		/* Everything the servers array will need must be there. */
		if (ok(&r) && (uint64_t)ns * (SERVER_ENC_MIN + no * RRSET_ENC + nw) > r.len - r.off)
			bad(&r, "%zu servers cannot fit in the %zu octets left", ns, r.len - r.off);
		rd.n_servers = ok(&r) ? ns : 0;
		rd.servers = pf_calloc(rd.n_servers + 1, sizeof(*rd.servers));
		for (size_t s = 0; s < rd.n_servers; s++) {
			dns_prop_server *ps = &rd.servers[s];
			size_t matched = 0;
			uint8_t state;

			ps->target = z->checks[s];
			ps->rrsets = pf_calloc(rd.n_owners + 1, sizeof(*ps->rrsets));
			ps->match = pf_calloc(n + 1, sizeof(*ps->match));
			state = get_u8(&r, "server state");
			if (ok(&r) && state > DNS_PROP_ERROR)
				bad(&r, "server state %u", state);
			ps->state = (enum dns_prop_state)state;
			get_str(&r, ps->note, sizeof(ps->note), S_LINE, "server note");
			ps->have_soa = get_bool(&r, "have SOA");
			ps->serial = get_u32(&r, "serial");
			ps->soa_ttl = get_u32(&r, "SOA TTL");
			ps->soa_minimum = get_u32(&r, "SOA MINIMUM");
			ps->soa_signed = get_bool(&r, "SOA signed");
			for (size_t k = 0; k < rd.n_owners; k++) {
				dns_prop_rrset *rs = &ps->rrsets[k];

				rs->answered = get_bool(&r, "answered");
				rs->n_rr = get_u32(&r, "record count");
				rs->ttl = get_u32(&r, "TTL");
				rs->orig_ttl = get_u32(&r, "original TTL");
				rs->rrsig = get_bool(&r, "RRSIG");
				rs->rrsig_expired = get_bool(&r, "RRSIG expired");
			}
			for (size_t w = 0; w < n; w++) {
				ps->match[w] = get_bool(&r, "match");
				matched += ps->match[w];
			}
			ps->n_match = get_u32(&r, "match count");
			ps->all_signed = get_bool(&r, "all signed");
			ps->complete = get_bool(&r, "complete");
			ps->rtt_usec = get_u64(&r, "round-trip time");
			if (ok(&r) && ps->n_match != matched)
				bad(&r, "server %zu: %zu matches counted as %zu", s, matched,
				    ps->n_match);
			if (ok(&r) && ps->complete &&
			    (ps->state != DNS_PROP_OK || ps->n_match != n))
				bad(&r, "server %zu complete without every record", s);
			all &= ps->complete;
			if (!ok(&r))
				break;
		}
		rd.time = (int64_t)get_u64(&r, "time");
		rd.all_complete = get_bool(&r, "all complete");
		rd.zone_signed = get_bool(&r, "zone signed");
		rd.max_tlsa_ttl = get_u32(&r, "largest TTL");
		rd.soa_ttl = get_u32(&r, "SOA TTL");
		rd.soa_minimum = get_u32(&r, "SOA MINIMUM");
		if (ok(&r) && rd.all_complete != (all && rd.n_servers > 0))
			bad(&r, "all_complete does not agree with the servers");
	}
	if ((rc = finish(&r, NET_PROP_REP, e)) < 0) {
		dns_prop_round_free(&rd);
		return rc;
	}
	*ret_st = st;
	*ret = rd;
	return 0;
}

/* ---- STARTTLS probe ------------------------------------------------------------------ */

int net_enc_probe_req(net_buf *b, const pf_hostport *ep, const char *tlsa_host,
		      const pf_tlsa_rdata *records, size_t n, enum pf_probe_want want,
		      int timeout_ms, pf_err *e)
{
	if (n > NET_MAX_PROBE_RECORDS)
		return pf_err_set(e, E2BIG, "%zu records for one probe, at most %d", n,
				  NET_MAX_PROBE_RECORDS);
	if (timeout_ms < 1 || timeout_ms > MAX_TIMEOUT_MS)
		return pf_err_set(e, EINVAL, "probe timeout %d ms out of range", timeout_ms);
	put_str(b, ep->host, sizeof(ep->host), S_NAME);
	put_u16(b, ep->port);
	put_str(b, tlsa_host ? tlsa_host : "", 256, S_NAME);
	put_u32(b, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		put_rdata(b, &records[i]);
	put_u8(b, (uint8_t)(want + 1));
	put_u32(b, (uint32_t)timeout_ms);
	return 0;
}

int net_dec_probe_req(const net_buf *b, net_probe_req *ret, pf_err *e)
{
	reader r;
	uint8_t want;
	int rc;

	memset(ret, 0, sizeof(*ret));
	reader_init(&r, b);
	get_str(&r, ret->ep.host, sizeof(ret->ep.host), S_NAME, "endpoint");
	if (ok(&r) && !ret->ep.host[0])
		bad(&r, "empty endpoint");
	ret->ep.port = get_u16(&r, "port");
	get_str(&r, ret->tlsa_host, sizeof(ret->tlsa_host), S_NAME, "TLSA host");
	ret->n = get_count(&r, NET_MAX_PROBE_RECORDS, RDATA_MIN, "records");
	ret->records = pf_calloc(ret->n + 1, sizeof(*ret->records));
	for (size_t i = 0; i < ret->n && ok(&r); i++)
		get_rdata(&r, &ret->records[i]);
	want = get_u8(&r, "key algorithm");
	if (ok(&r) && want > PF_ALG_COUNT)
		bad(&r, "key algorithm %u", want);
	ret->want = (enum pf_probe_want)((int)want - 1);
	ret->timeout_ms = (int)get_range(&r, 1, MAX_TIMEOUT_MS, "timeout");
	if ((rc = finish(&r, NET_PROBE_REQ, e)) < 0)
		net_probe_req_free(ret);
	return rc;
}

void net_probe_req_free(net_probe_req *r)
{
	free(r->records);
	memset(r, 0, sizeof(*r));
}

void net_enc_probe_rep(net_buf *b, const net_status *st, const pf_probe_result *res)
{
	put_status(b, st);
	put_str(b, res->address, sizeof(res->address), S_LINE);
	put_str(b, res->spki_sha256, sizeof(res->spki_sha256), S_NAME);
	put_u8(b, (uint8_t)(res->alg + 1));
	put_bool(b, res->dane_checked);
	put_bool(b, res->dane_ok);
	put_u8(b, (uint8_t)(res->dane_depth + 1));
	put_str(b, res->verify_error, sizeof(res->verify_error), S_LINE);
}

int net_dec_probe_rep(const net_buf *b, net_status *ret_st, pf_probe_result *ret, pf_err *e)
{
	pf_probe_result res = {0};
	net_status st;
	uint8_t alg, depth;
	reader r;
	size_t hl;
	int rc;

	reader_init(&r, b);
	get_status(&r, &st);
	get_str(&r, res.address, sizeof(res.address), S_LINE, "address");
	get_str(&r, res.spki_sha256, sizeof(res.spki_sha256), S_NAME, "SPKI digest");
	hl = strlen(res.spki_sha256);
	if (ok(&r) && ((hl != 0 && hl != 64) || strspn(res.spki_sha256, "0123456789abcdef") != hl))
		bad(&r, "SPKI digest is not 64 lowercase hex digits");
	alg = get_u8(&r, "key algorithm");
	if (ok(&r) && alg > PF_ALG_COUNT)
		bad(&r, "key algorithm %u", alg);
	res.alg = (int)alg - 1;
	res.dane_checked = get_bool(&r, "DANE checked");
	res.dane_ok = get_bool(&r, "DANE valid");
	depth = get_u8(&r, "DANE depth");
	res.dane_depth = (int)depth - 1;
	get_str(&r, res.verify_error, sizeof(res.verify_error), S_LINE, "verify error");
	if (ok(&r) && res.dane_ok && !res.dane_checked)
		bad(&r, "DANE valid without a check");
	if ((rc = finish(&r, NET_PROBE_REP, e)) < 0)
		return rc;
	*ret_st = st;
	*ret = res;
	return 0;
}
