/*
 * net_codec.h - the generic half of the network-process protocol: a message
 * body is described by a table of fields (where each lies in a C structure,
 * how it is laid out on the wire, and its bound), and one encoder and one
 * decoder walk that table, so what is sent and what is accepted cannot
 * drift apart.  net_msg.c and net_msg_check.c hold the tables, the checks
 * that relate fields to each other or to the request, and the net_enc_* /
 * net_dec_* wrappers.
 *
 * Wire layout: integers big-endian of fixed width; a string a 16-bit length
 * and its bytes (no NUL); a text or an octet string a 32-bit length and its
 * bytes; short octets (NC_BYTES) an 8-bit length; an array a 32-bit count
 * and its elements; a vector its elements only, counted by a field read
 * before it.
 */
#ifndef PF_NET_CODEC_H
#define PF_NET_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net_msg.h"
#include "macro.h"

/* Character classes of strings. */
enum nc_class {
	NC_CL_NAME, /* DNS names, host names, addresses: 0x21-0x7e */
	NC_CL_LINE, /* one line of text: 0x20-0x7e */
	NC_CL_TEXT, /* lines of text: 0x20-0x7e, newline, tab */
};

enum nc_kind {
	NC_UINT,   /* an integer member; wire = mul * value + add, of width octets */
	NC_BOOL,   /* a bool member: one octet, 0 or 1 */
	NC_STR,    /* a char array member: at most its size - 1 bytes of class cls */
	NC_TEXT,   /* char * at off and size_t length at off2: copied, NUL-terminated */
	NC_BLOB,   /* const uint8_t * at off, size_t length at off2: points into the body */
	NC_BYTES,  /* an octet array at off (size octets), size_t length at off2 */
	NC_STRUCT, /* a structure of table sub, inline at off */
	NC_ARRAY,  /* a pointer at off to elements of table sub, size_t count at off2 */
	NC_VECTOR, /* the same, its count the size_t at off2 of the whole message */
	NC_CUSTOM, /* a member with its own pair of functions */
	NC_HOOK,   /* no wire: hook runs here while decoding (see below) */
};

/* When a field is on the wire. */
enum nc_cond {
	NC_ALWAYS,
	NC_IF_SET,  /* the integer member at cond_off (cond_size octets) is not 0 */
	NC_IF_ZERO, /* it is 0 */
};

typedef struct nc_reader nc_reader;
typedef struct nc_desc nc_desc;

/* A member whose layout the table cannot say (an IP address of either
 * family).  min is the fewest octets it takes on the wire. */
typedef struct nc_custom {
	size_t min;
	void (*enc)(net_buf *b, const void *member);
	void (*dec)(nc_reader *r, void *member);
} nc_custom;

/* A check on what was decoded so far: s is the structure the hook's field
 * is in (or the message, for nc_decode's check), ctx the caller's context
 * (the request a reply answers).  It reports a problem with nc_bad. */
typedef void (*nc_hook)(nc_reader *r, void *s, const void *ctx);

typedef struct nc_field {
	const char *name; /* in messages: "check servers" */
	enum nc_kind kind;
	size_t off, off2;  /* see enum nc_kind */
	size_t size;       /* NC_UINT, NC_STR, NC_BYTES: the member's size */
	unsigned width;    /* NC_UINT: octets on the wire */
	int mul, add;      /* NC_UINT: wire = mul * value + add (mul 0 means 1) */
	uint64_t lo, hi;   /* NC_UINT: range on the wire; else length or count */
	enum nc_class cls; /* NC_STR, NC_TEXT */
	enum nc_cond cond;
	size_t cond_off, cond_size;
	const nc_desc *sub; /* NC_STRUCT, NC_ARRAY, NC_VECTOR */
	const nc_custom *custom;
	nc_hook hook; /* NC_HOOK */
} nc_field;

struct nc_desc {
	const char *name;
	size_t size; /* of the C structure */
	const nc_field *f;
	size_t n;
};

#define NC_DESC(type, fields)                                                                      \
	{                                                                                          \
#type, sizeof(type), fields, PF_ELEMENTSOF(fields)                                 \
	}

/* Field builders, designators to write inside a field's braces: "{NC_U32(T,
 * M, name)}", "{NC_S(...), NC_WHEN_SET(T, flag)}".  M is the member of
 * structure T. */
#define NC_MSIZE(T, M) sizeof(((T *)0)->M)
#define NC_U(T, M, W, LO, HI, NAME)                                                                \
	.name = NAME, .kind = NC_UINT, .off = offsetof(T, M), .size = NC_MSIZE(T, M), .width = W,  \
	.lo = LO, .hi = HI
/* wire = MUL * value + ADD, in range LO..HI on the wire. */
#define NC_UX(T, M, W, MUL, ADD, LO, HI, NAME)                                                     \
	.name = NAME, .kind = NC_UINT, .off = offsetof(T, M), .size = NC_MSIZE(T, M), .width = W,  \
	.mul = MUL, .add = ADD, .lo = LO, .hi = HI
#define NC_U8(T, M, NAME) NC_U(T, M, 1, 0, UINT8_MAX, NAME)
#define NC_U16(T, M, NAME) NC_U(T, M, 2, 0, UINT16_MAX, NAME)
#define NC_U32(T, M, NAME) NC_U(T, M, 4, 0, UINT32_MAX, NAME)
#define NC_U64(T, M, NAME) NC_U(T, M, 8, 0, UINT64_MAX, NAME)
#define NC_B(T, M, NAME) .name = NAME, .kind = NC_BOOL, .off = offsetof(T, M)
#define NC_S(T, M, MIN, CLS, NAME)                                                                 \
	.name = NAME, .kind = NC_STR, .off = offsetof(T, M), .size = NC_MSIZE(T, M), .lo = MIN,    \
	.hi = NC_MSIZE(T, M) - 1, .cls = CLS
#define NC_TXT(T, M, LEN, MAX, NAME)                                                               \
	.name = NAME, .kind = NC_TEXT, .off = offsetof(T, M), .off2 = offsetof(T, LEN), .hi = MAX, \
	.cls = NC_CL_TEXT
#define NC_BL(T, M, LEN, MIN, MAX, NAME)                                                           \
	.name = NAME, .kind = NC_BLOB, .off = offsetof(T, M), .off2 = offsetof(T, LEN), .lo = MIN, \
	.hi = MAX
#define NC_BY(T, M, LEN, MIN, NAME)                                                                \
	.name = NAME, .kind = NC_BYTES, .off = offsetof(T, M), .off2 = offsetof(T, LEN),           \
	.size = NC_MSIZE(T, M), .lo = MIN, .hi = NC_MSIZE(T, M)
#define NC_SUB(T, M, SUB, NAME) .name = NAME, .kind = NC_STRUCT, .off = offsetof(T, M), .sub = &SUB
#define NC_ARR(T, M, N, MAX, SUB, NAME)                                                            \
	.name = NAME, .kind = NC_ARRAY, .off = offsetof(T, M), .off2 = offsetof(T, N), .hi = MAX,  \
	.sub = &SUB
/* ROOT is the message structure that holds the count N. */
#define NC_VEC(T, M, ROOT, N, MAX, SUB, NAME)                                                      \
	.name = NAME, .kind = NC_VECTOR, .off = offsetof(T, M), .off2 = offsetof(ROOT, N),         \
	.hi = MAX, .sub = &SUB
#define NC_CUS(T, M, C, NAME) .name = NAME, .kind = NC_CUSTOM, .off = offsetof(T, M), .custom = &C
#define NC_HK(H) .name = #H, .kind = NC_HOOK, .hook = H
/* Conditions, after a builder inside the same braces. */
#define NC_WHEN_SET(T, M) .cond = NC_IF_SET, .cond_off = offsetof(T, M), .cond_size = NC_MSIZE(T, M)
#define NC_WHEN_ZERO(T, M)                                                                         \
	.cond = NC_IF_ZERO, .cond_off = offsetof(T, M), .cond_size = NC_MSIZE(T, M)

/*
 * Append msg, a structure of table d, to b as message type t.  A count
 * above its bound, or a body longer than net_type_max(t), is refused.
 * Strings are cut to their bound and bytes a decoder would refuse are
 * replaced with '?'; a text longer than its bound is cut and says so; an
 * octet string longer than its bound is sent empty.  Returns 0 or -E2BIG
 * with e (which may be NULL) saying what is too large.
 */
int nc_encode(net_buf *b, uint32_t t, const nc_desc *d, const void *msg, pf_err *e);

/*
 * Decode body b of message type t into msg, a structure of table d, which is
 * zeroed first; then run check (may be NULL) with ctx.  Returns 0, or
 * -EPROTO with e saying "malformed TYPE: problem"; then everything the
 * decoder allocated in msg is freed and msg is zeroed again.
 */
int nc_decode(const net_buf *b, uint32_t t, const nc_desc *d, void *msg, nc_hook check,
	      const void *ctx, pf_err *e);

/* Free what nc_decode allocated in msg (arrays, texts) and zero it. */
void nc_free(const nc_desc *d, void *msg);

/* For custom members and hooks. */
void nc_bad(nc_reader *r, const char *fmt, ...) PF_PRINTF(2, 3);
bool nc_ok(const nc_reader *r);
void nc_put(net_buf *b, const void *p, size_t n);
void nc_put_uint(net_buf *b, uint64_t v, unsigned width);
/* The next width octets as an integer; 0 after a problem. */
uint64_t nc_get_uint(nc_reader *r, unsigned width, const char *what);
/* The next n octets, or NULL (the message marked truncated). */
const uint8_t *nc_get(nc_reader *r, size_t n, const char *what);

#endif
