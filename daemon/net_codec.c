/*
 * net_codec.c - the bytes of the network-process protocol: message bodies
 * being built (net_buf), the framing of a message into SOCK_SEQPACKET
 * packets, and the one generic encoder and decoder that walk a message's
 * field table (net_codec.h).  It knows no message: their tables, the
 * checks between fields and the names of the types are net_msg.c's
 * (and net_msg_check.c's).
 *
 * The decoder trusts nothing: every integer is range-checked on the wire,
 * every string bounded and of its character class, every count bounded by
 * its maximum and by what the rest of the body could hold (from the
 * smallest encoding of an element, computed from its table), and the body
 * must be consumed exactly.  It stops at the first problem and describes it
 * in one line.
 */
#include "net_codec.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "util.h"

#define CHUNK_TIMEOUT_MS 10000

struct nc_reader {
	const uint8_t *p;
	size_t len, off;
	void *root;      /* the message being decoded */
	const void *ctx; /* the caller's, for hooks */
	char why[200];   /* the first problem; "" while none */
};

/* ---- buffers and writers ---------------------------------------------------- */

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

void nc_put(net_buf *b, const void *p, size_t n)
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

void nc_put_uint(net_buf *b, uint64_t v, unsigned width)
{
	uint8_t x[8];

	for (unsigned i = 0; i < width; i++)
		x[i] = (uint8_t)(v >> (8 * (width - 1 - i)));
	nc_put(b, x, width);
}

static bool char_ok(unsigned char c, enum nc_class cls)
{
	if (c >= 0x21 && c <= 0x7e)
		return true;
	if (c == ' ')
		return cls != NC_CL_NAME;
	return cls == NC_CL_TEXT && (c == '\n' || c == '\t');
}

/* n bytes of s, those of another class as '?'. */
static void put_chars(net_buf *b, const char *s, size_t n, enum nc_class cls)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = char_ok((unsigned char)s[i], cls) ? (uint8_t)s[i] : '?';

		nc_put(b, &c, 1);
	}
}

/* ---- readers ---------------------------------------------------------------- */

void nc_bad(nc_reader *r, const char *fmt, ...)
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

bool nc_ok(const nc_reader *r)
{
	return r->why[0] == '\0';
}

const uint8_t *nc_get(nc_reader *r, size_t n, const char *what)
{
	const uint8_t *p;

	if (!nc_ok(r))
		return NULL;
	if (n > r->len - r->off) {
		nc_bad(r, "truncated in %s (%zu octets left, %zu needed)", what, r->len - r->off,
		       n);
		return NULL;
	}
	/* An empty body may have no buffer at all. */
	p = r->p ? r->p + r->off : (const uint8_t *)"";
	r->off += n;
	return p;
}

uint64_t nc_get_uint(nc_reader *r, unsigned width, const char *what)
{
	const uint8_t *q = nc_get(r, width, what);
	uint64_t v = 0;

	for (unsigned i = 0; q && i < width; i++)
		v = v << 8 | q[i];
	return v;
}

static void reader_init(nc_reader *r, const net_buf *b)
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
	nc_put_uint(&h, NET_MAGIC, 4);
	nc_put_uint(&h, t, 4);
	nc_put_uint(&h, len, 4);
	if ((rc = send_packet(fd, hdr, sizeof(hdr))) < 0)
		return rc;
	for (size_t off = 0; off < len; off += NET_CHUNK)
		if ((rc = send_packet(fd, b->p + off,
				      len - off > NET_CHUNK ? NET_CHUNK : len - off)) < 0)
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
		return pf_err_set(e, EPROTO,
				  "protocol violation: a packet of %zd octets where %s "
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
	nc_reader r;
	uint32_t magic, type, len;
	bool allowed_type = false;
	int rc;

	if ((rc = recv_exact(fd, hdr, sizeof(hdr), timeout_ms, "a header", e)) < 0)
		return rc;
	reader_init(&r, &hb);
	magic = (uint32_t)nc_get_uint(&r, 4, "magic");
	type = (uint32_t)nc_get_uint(&r, 4, "type");
	len = (uint32_t)nc_get_uint(&r, 4, "length");
	if (magic != NET_MAGIC)
		return pf_err_set(e, EPROTO, "protocol violation: bad magic number 0x%08x", magic);
	for (size_t i = 0; i < n; i++)
		allowed_type |= allowed[i] == type;
	if (!allowed_type)
		return pf_err_set(e, EPROTO,
				  "protocol violation: message type %u (%s) not expected", type,
				  net_type_name(type));
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
				rc = pf_err_set(e, EPROTO,
						"protocol violation: %s ends after %zu of "
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

/* ---- members ------------------------------------------------------------------ */

static void *at(void *s, size_t off)
{
	return (char *)s + off;
}

static const void *cat(const void *s, size_t off)
{
	return (const char *)s + off;
}

/* The unsigned integer of size octets at p (1, 2, 4 or 8). */
static uint64_t load(const void *p, size_t size)
{
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	switch (size) {
	case 1:
		memcpy(&u8, p, 1);
		return u8;
	case 2:
		memcpy(&u16, p, 2);
		return u16;
	case 4:
		memcpy(&u32, p, 4);
		return u32;
	default:
		memcpy(&u64, p, 8);
		return u64;
	}
}

/* Store v, cut to size octets, at p. */
static void store(void *p, size_t size, uint64_t v)
{
	uint8_t u8 = (uint8_t)v;
	uint16_t u16 = (uint16_t)v;
	uint32_t u32 = (uint32_t)v;

	switch (size) {
	case 1:
		memcpy(p, &u8, 1);
		break;
	case 2:
		memcpy(p, &u16, 2);
		break;
	case 4:
		memcpy(p, &u32, 4);
		break;
	default:
		memcpy(p, &v, 8);
		break;
	}
}

static size_t load_size(const void *p)
{
	size_t n;

	memcpy(&n, p, sizeof(n));
	return n;
}

static bool present(const nc_field *f, const void *s)
{
	if (f->cond == NC_ALWAYS)
		return true;
	return (load(cat(s, f->cond_off), f->cond_size) != 0) == (f->cond == NC_IF_SET);
}

/* a + b and a * b, saturating: a lying count must not wrap around. */
static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
	return b && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

/* Returns the fewest octets a structure of table d takes, with the vector
 * counts of message root (NULL: vectors count 0), at most UINT64_MAX. */
static uint64_t min_size(const nc_desc *d, const void *root)
{
	uint64_t n = 0;

	for (size_t i = 0; i < d->n; i++) {
		const nc_field *f = &d->f[i];

		if (f->cond != NC_ALWAYS)
			continue;
		switch (f->kind) {
		case NC_UINT:
			n = sat_add(n, f->width);
			break;
		case NC_BOOL:
			n = sat_add(n, 1);
			break;
		case NC_STR:
			n = sat_add(n, 2 + f->lo);
			break;
		case NC_TEXT:
		case NC_BLOB:
			n = sat_add(n, 4 + f->lo);
			break;
		case NC_BYTES:
			n = sat_add(n, 1 + f->lo);
			break;
		case NC_STRUCT:
			n = sat_add(n, min_size(f->sub, root));
			break;
		case NC_ARRAY:
			n = sat_add(n, 4);
			break;
		case NC_VECTOR:
			if (root)
				n = sat_add(n, sat_mul(load_size(cat(root, f->off2)),
						       min_size(f->sub, root)));
			break;
		case NC_CUSTOM:
			n = sat_add(n, f->custom->min);
			break;
		case NC_HOOK:
			break;
		}
	}
	return n;
}

/* ---- the encoder ---------------------------------------------------------------- */

static int enc_struct(net_buf *b, const nc_desc *d, const void *s, const void *root, pf_err *e);

static int enc_elements(net_buf *b, const nc_field *f, const void *v, size_t count,
			const void *root, pf_err *e)
{
	int rc;

	if (count > f->hi)
		return pf_err_set(e, E2BIG, "%s: %zu items, at most %llu supported", f->name, count,
				  (unsigned long long)f->hi);
	for (size_t i = 0; i < count; i++)
		if ((rc = enc_struct(b, f->sub, cat(v, i * f->sub->size), root, e)) < 0)
			return rc;
	return 0;
}

static int enc_field(net_buf *b, const nc_field *f, const void *s, const void *root, pf_err *e)
{
	static const char cut[] = "\n[... output truncated]\n";
	const void *m = cat(s, f->off);
	const void *p;
	size_t n;

	switch (f->kind) {
	case NC_UINT: {
		uint64_t v = load(m, f->size);

		nc_put_uint(
			b, (f->mul ? (uint64_t)(int64_t)f->mul : 1) * v + (uint64_t)(int64_t)f->add,
			f->width);
		return 0;
	}
	case NC_BOOL: {
		bool v;

		memcpy(&v, m, sizeof(v));
		nc_put_uint(b, v ? 1 : 0, 1);
		return 0;
	}
	case NC_STR:
		n = strnlen(m, f->size - 1);
		nc_put_uint(b, n, 2);
		put_chars(b, m, n, f->cls);
		return 0;
	case NC_TEXT:
		memcpy(&p, m, sizeof(p));
		n = p ? load_size(cat(s, f->off2)) : 0;
		if (n > f->hi) {
			nc_put_uint(b, f->hi, 4);
			put_chars(b, p, f->hi - (sizeof(cut) - 1), f->cls);
			nc_put(b, cut, sizeof(cut) - 1);
			return 0;
		}
		nc_put_uint(b, n, 4);
		put_chars(b, p, n, f->cls);
		return 0;
	case NC_BLOB:
		memcpy(&p, m, sizeof(p));
		n = p ? load_size(cat(s, f->off2)) : 0;
		if (n > f->hi)
			n = 0;
		nc_put_uint(b, n, 4);
		nc_put(b, p, n);
		return 0;
	case NC_BYTES:
		n = load_size(cat(s, f->off2));
		if (n > f->hi)
			n = f->hi;
		nc_put_uint(b, n, 1);
		nc_put(b, m, n);
		return 0;
	case NC_STRUCT:
		return enc_struct(b, f->sub, m, root, e);
	case NC_ARRAY:
		memcpy(&p, m, sizeof(p));
		n = load_size(cat(s, f->off2));
		if (n <= f->hi)
			nc_put_uint(b, n, 4);
		return enc_elements(b, f, p, n, root, e);
	case NC_VECTOR:
		memcpy(&p, m, sizeof(p));
		return enc_elements(b, f, p, load_size(cat(root, f->off2)), root, e);
	case NC_CUSTOM:
		f->custom->enc(b, m);
		return 0;
	case NC_HOOK:
		return 0;
	}
	return 0;
}

static int enc_struct(net_buf *b, const nc_desc *d, const void *s, const void *root, pf_err *e)
{
	int rc;

	for (size_t i = 0; i < d->n; i++)
		if (present(&d->f[i], s) && (rc = enc_field(b, &d->f[i], s, root, e)) < 0)
			return rc;
	return 0;
}

int nc_encode(net_buf *b, uint32_t t, const nc_desc *d, const void *msg, pf_err *e)
{
	size_t start = b->len;
	int rc;

	if ((rc = enc_struct(b, d, msg, msg, e)) < 0)
		return rc;
	if (b->len - start > net_type_max(t))
		return pf_err_set(e, E2BIG, "a %s of %zu octets is too large (at most %zu)",
				  net_type_name(t), b->len - start, net_type_max(t));
	return 0;
}

/* ---- the decoder ---------------------------------------------------------------- */

static void dec_struct(nc_reader *r, const nc_desc *d, void *s);

/* A length of width octets, at most hi and at least lo; 0 after a problem. */
static size_t get_len(nc_reader *r, const nc_field *f, unsigned width)
{
	uint64_t n = nc_get_uint(r, width, f->name);

	if (!nc_ok(r))
		return 0;
	if (n > f->hi) {
		nc_bad(r, "%s: %llu octets, at most %llu allowed", f->name, (unsigned long long)n,
		       (unsigned long long)f->hi);
		return 0;
	}
	if (n < f->lo) {
		if (n == 0)
			nc_bad(r, "empty %s", f->name);
		else
			nc_bad(r, "%s: %llu octets, at least %llu needed", f->name,
			       (unsigned long long)n, (unsigned long long)f->lo);
		return 0;
	}
	return (size_t)n;
}

/* Bytes of class cls, or NULL (the message marked bad). */
static const uint8_t *get_chars(nc_reader *r, size_t n, enum nc_class cls, const char *what)
{
	const uint8_t *q = nc_get(r, n, what);

	for (size_t i = 0; q && i < n; i++)
		if (!char_ok(q[i], cls)) {
			nc_bad(r, "%s: octet 0x%02x not allowed", what, q[i]);
			return NULL;
		}
	return q;
}

/* count elements of f into a new array stored at m (and count at
 * count_at, if not NULL, once the array is there): no more than the rest of
 * the body could hold, so a lying count never makes the decoder allocate
 * more than the body justifies. */
static void dec_elements(nc_reader *r, const nc_field *f, void *m, size_t count, void *count_at)
{
	uint64_t min = min_size(f->sub, r->root);
	uint8_t *v;

	if (!nc_ok(r))
		return;
	if (count > f->hi) {
		nc_bad(r, "%s: %zu items, at most %llu allowed", f->name, count,
		       (unsigned long long)f->hi);
		return;
	}
	if (count > (r->len - r->off) / (min ? min : 1)) {
		nc_bad(r, "%s: %zu items cannot fit in the %zu octets left", f->name, count,
		       r->len - r->off);
		return;
	}
	v = pf_calloc(count + 1, f->sub->size);
	memcpy(m, &v, sizeof(v));
	if (count_at)
		memcpy(count_at, &count, sizeof(count));
	for (size_t i = 0; i < count && nc_ok(r); i++)
		dec_struct(r, f->sub, v + i * f->sub->size);
}

static void dec_field(nc_reader *r, const nc_field *f, void *s)
{
	void *m = at(s, f->off);
	const uint8_t *q;
	size_t n;

	switch (f->kind) {
	case NC_UINT: {
		uint64_t w = nc_get_uint(r, f->width, f->name);
		uint64_t mul = f->mul ? (uint64_t)(int64_t)f->mul : 1;

		if (nc_ok(r) && (w < f->lo || w > f->hi))
			nc_bad(r, "%s %llu out of range %llu..%llu", f->name, (unsigned long long)w,
			       (unsigned long long)f->lo, (unsigned long long)f->hi);
		if (nc_ok(r))
			/* mul is 1 or -1, its own inverse. */
			store(m, f->size, mul * (w - (uint64_t)(int64_t)f->add));
		return;
	}
	case NC_BOOL: {
		uint64_t w = nc_get_uint(r, 1, f->name);
		bool v = w == 1;

		if (nc_ok(r) && w > 1)
			nc_bad(r, "%s: boolean %llu", f->name, (unsigned long long)w);
		memcpy(m, &v, sizeof(v));
		return;
	}
	case NC_STR:
		n = get_len(r, f, 2);
		if ((q = get_chars(r, n, f->cls, f->name)) != NULL)
			memcpy(m, q, n);
		return;
	case NC_TEXT:
		n = get_len(r, f, 4);
		if ((q = get_chars(r, n, f->cls, f->name)) != NULL) {
			char *t = pf_malloc(n + 1);

			memcpy(t, q, n);
			t[n] = '\0';
			memcpy(m, &t, sizeof(t));
			memcpy(at(s, f->off2), &n, sizeof(n));
		}
		return;
	case NC_BLOB:
		n = get_len(r, f, 4);
		if ((q = nc_get(r, n, f->name)) != NULL) {
			memcpy(m, &q, sizeof(q));
			memcpy(at(s, f->off2), &n, sizeof(n));
		}
		return;
	case NC_BYTES:
		n = get_len(r, f, 1);
		if ((q = nc_get(r, n, f->name)) != NULL) {
			memcpy(m, q, n);
			memcpy(at(s, f->off2), &n, sizeof(n));
		}
		return;
	case NC_STRUCT:
		dec_struct(r, f->sub, m);
		return;
	case NC_ARRAY:
		n = (size_t)nc_get_uint(r, 4, f->name);
		dec_elements(r, f, m, n, at(s, f->off2));
		return;
	case NC_VECTOR:
		dec_elements(r, f, m, load_size(cat(r->root, f->off2)), NULL);
		return;
	case NC_CUSTOM:
		f->custom->dec(r, m);
		return;
	case NC_HOOK:
		if (nc_ok(r))
			f->hook(r, s, r->ctx);
		return;
	}
}

static void dec_struct(nc_reader *r, const nc_desc *d, void *s)
{
	for (size_t i = 0; i < d->n && nc_ok(r); i++)
		if (present(&d->f[i], s))
			dec_field(r, &d->f[i], s);
}

int nc_decode(const net_buf *b, uint32_t t, const nc_desc *d, void *msg, nc_hook check,
	      const void *ctx, pf_err *e)
{
	nc_reader r;

	memset(msg, 0, d->size);
	reader_init(&r, b);
	r.root = msg;
	r.ctx = ctx;
	dec_struct(&r, d, msg);
	if (nc_ok(&r) && r.off != r.len)
		nc_bad(&r, "%zu octets left over", r.len - r.off);
	if (nc_ok(&r) && check)
		check(&r, msg, ctx);
	if (nc_ok(&r))
		return 0;
	nc_free(d, msg);
	return pf_err_set(e, EPROTO, "malformed %s: %s", net_type_name(t), r.why);
}

/* ---- freeing -------------------------------------------------------------------- */

static void free_struct(const nc_desc *d, void *s, const void *root);

static void free_elements(const nc_field *f, void *m, size_t count, const void *root)
{
	uint8_t *v;

	memcpy(&v, m, sizeof(v));
	if (!v)
		return;
	for (size_t i = 0; i < count; i++)
		free_struct(f->sub, v + i * f->sub->size, root);
	free(v);
}

static void free_struct(const nc_desc *d, void *s, const void *root)
{
	for (size_t i = 0; i < d->n; i++) {
		const nc_field *f = &d->f[i];
		void *m = at(s, f->off);
		char *t;

		switch (f->kind) {
		case NC_TEXT:
			memcpy(&t, m, sizeof(t));
			free(t);
			break;
		case NC_STRUCT:
			free_struct(f->sub, m, root);
			break;
		case NC_ARRAY:
			free_elements(f, m, load_size(cat(s, f->off2)), root);
			break;
		case NC_VECTOR:
			free_elements(f, m, load_size(cat(root, f->off2)), root);
			break;
		default:
			break;
		}
	}
}

void nc_free(const nc_desc *d, void *msg)
{
	free_struct(d, msg, msg);
	memset(msg, 0, d->size);
}
