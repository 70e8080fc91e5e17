/*
 * net_msg.h - the messages between the privileged process and the network
 * process (netproc.h), and their serialisers: each message is one field
 * table (net_msg.c, net_msg_check.c) walked by the one encoder and decoder
 * of net_codec.c, so what is sent and what is accepted cannot drift.
 *
 * A message is one header packet on a SOCK_SEQPACKET socket - magic, type,
 * body length, 12 octets - followed by the body in packets of NET_CHUNK
 * octets (the last one shorter).  The receiver names the types it accepts at
 * that moment; a type outside that list, a body longer than the type's
 * maximum (net_type_max), a packet of the wrong size, or a body whose
 * decoding does not consume it exactly, is a protocol violation that ends
 * the exchange.  Decoders trust no count or length from the other side: a
 * count is bounded by a per-field maximum and by what is left of the body,
 * every string is bounded, printable and free of NUL, every enum and index
 * is range-checked, and the outputs are checked against the request (same
 * number of changes, owners that are the wanted ones).
 *
 * What crosses: DNS names, TLSA association data, server addresses, results,
 * the TSIG key's name and algorithm, and - while the network process works
 * on an update - the DNS messages it asks the privileged process to sign,
 * with their signatures, and reply MACs it asks to have checked (yes or no).
 * Never a TLS private key or the TSIG secret: no message type can carry
 * either.  Buffers that held a message are wiped when freed.
 */
#ifndef PF_NET_MSG_H
#define PF_NET_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "dns_discover.h"
#include "dns_propagation.h"
#include "dns_tsig.h"
#include "dns_update.h"
#include "smtp_probe.h"
#include "util.h"
#include "macro.h"

#define NET_MAGIC 0x50464e31u /* "PFN1" */
#define NET_HDR_LEN 12
#define NET_CHUNK 32768

/* Per-field bounds enforced by the decoders (and refused by the encoders,
 * with a message, rather than sent). */
#define NET_MAX_ITEMS 65536  /* owners, changes, wants */
#define NET_MAX_SERVERS 1024 /* check servers of one zone */
#define NET_MAX_ZONES 1024
#define NET_MAX_HOSTPORTS 256 /* one configuration list */
#define NET_MAX_PROBE_RECORDS 1024
#define NET_DNS_MAX 65535              /* one DNS message */
#define NET_MAC_INPUT_MAX (2 * 65536)  /* a reply's TSIG input (dns_tsig.h) */
#define NET_TEXT_MAX (4 * 1024 * 1024) /* dry-run or verbose output of an update */

enum net_type {
	NET_HELLO = 1,    /* netproc -> parent, once: how it is separated (or why not) */
	NET_DISCOVER_REQ, /* dns_discover */
	NET_DISCOVER_REP,
	NET_UPDATE_REQ, /* dns_update_apply, with the TSIG key's name */
	NET_UPDATE_REP,
	NET_PROP_REQ, /* dns_prop_run: one propagation round */
	NET_PROP_REP,
	NET_PROBE_REQ, /* smtp_probe */
	NET_PROBE_REP,
	NET_SIGN_REQ, /* netproc -> parent, during an update: sign this request */
	NET_SIGN_REP,
	NET_MAC_REQ, /* netproc -> parent, during an update: is this a reply's MAC? */
	NET_MAC_REP,
	NET_TYPE_END
};

/* Largest body of message type t; 0 for a type that does not exist. */
size_t net_type_max(uint32_t t);

/* Name of a message type for messages ("discover request"). */
const char *net_type_name(uint32_t t);

/* A message body being built or received.  Wiped by net_buf_free. */
typedef struct net_buf {
	uint8_t *p;
	size_t len, cap;
} net_buf;

void net_buf_free(net_buf *b);

/*
 * Send one message of type t with body b (NULL: empty).  Returns 0 or -errno
 * (-EPIPE when the other side is gone).
 */
int net_send(int fd, uint32_t t, const net_buf *b);

/*
 * Receive one message whose type is one of allowed[0..n).  timeout_ms bounds
 * the wait for its first packet (-1: no bound); the rest of a message must
 * follow within a few seconds.  *ret_body is replaced (free it with
 * net_buf_free).  Returns 0; -ECONNRESET at end of file before a message;
 * -ETIMEDOUT; -EPROTO with e saying what was wrong for a malformed message;
 * or another -errno.
 */
int net_recv(int fd, const uint32_t *allowed, size_t n, int timeout_ms, uint32_t *ret_type,
	     net_buf *ret_body, pf_err *e);

/* The outcome every reply carries: the function's return value and its
 * error message. */
typedef struct net_status {
	int rc; /* 0 or -errno */
	pf_err err;
} net_status;

/* ---- hello ---- */
/* How the network process is kept from the keys (netproc.h, sandbox.h). */
#define NET_SEP_UID 0x1u     /* it changed to an unprivileged uid */
#define NET_SEP_SECCOMP 0x2u /* its seccomp filter is installed */
#define NET_SEP_NOCAPS 0x4u  /* it holds no capability */
#define NET_SEP_ALL 0x7u
#define NET_LANDLOCK_ABI_MAX 255

typedef struct net_sep {
	uint32_t uid, gid;     /* its ids once it reported */
	uint32_t flags;        /* NET_SEP_* */
	uint32_t landlock_abi; /* 0: no Landlock */
	char why_uid[256];     /* without NET_SEP_UID: why its uid stayed */
} net_sep;

void net_enc_hello(net_buf *b, const net_status *st, const net_sep *sep);
/* Returns 0 or -EPROTO (unknown flags, an ABI above NET_LANDLOCK_ABI_MAX). */
int net_dec_hello(const net_buf *b, net_status *st, net_sep *sep, pf_err *e);

/* ---- discover ---- */
/* The request carries the configuration dns_discover reads (dns_zone,
 * dns_update_server, dns_resolver, dns_check_servers,
 * dns_extra_check_servers) and the owner names.  Returns 0 or -E2BIG. */
int net_enc_discover_req(net_buf *b, const pf_config *cfg, char *const *owners, size_t n,
			 pf_err *e);
/* cfg is initialised (pf_config_init) and filled; owners gets the names.
 * The caller frees both, also on failure.  Returns 0 or -EPROTO. */
int net_dec_discover_req(const net_buf *b, pf_config *cfg, pf_strv *owners, pf_err *e);
int net_enc_discover_rep(net_buf *b, const net_status *st, const dns_zone_info *z, size_t n_zones,
			 const size_t *owner_zone, size_t n_owners, pf_err *e);
/* For a request of n_owners names.  On success (also when st->rc < 0)
 * *ret and *ret_n hold the zones (free with dns_zones_free; NULL/0 when
 * st->rc < 0) and owner_zone[0..n_owners) the indexes.  Returns 0 or
 * -EPROTO. */
int net_dec_discover_rep(const net_buf *b, size_t n_owners, net_status *st, dns_zone_info **ret,
			 size_t *ret_n, size_t *owner_zone, pf_err *e);

/* ---- update ---- */
typedef struct net_update_req {
	dns_zone_info zone; /* checks owned */
	dns_tsig_key *tsig; /* NULL: unsigned; else no secret, only name and algorithm */
	uint32_t ttl;
	bool dry_run, verbose;
	dns_change *ch;
	size_t n;
} net_update_req;

int net_enc_update_req(net_buf *b, const dns_update_opts *o, const dns_change *ch, size_t n,
		       pf_err *e);
int net_dec_update_req(const net_buf *b, net_update_req *ret, pf_err *e);
/* Empties r in place (NULL: nothing). */
void net_update_req_free(net_update_req *r);
/* The reply carries each change's outputs (result, TTLs, others), the
 * result, and what dns_update_apply printed (dry_run and verbose). */
int net_enc_update_rep(net_buf *b, const net_status *st, const dns_change *ch, size_t n,
		       const dns_update_result *res, const char *dry, size_t dry_len,
		       const char *verbose, size_t verbose_len, pf_err *e);
/* Fills the outputs of ch[0..n) (the changes sent), res, and the two texts
 * (*ret_dry and *ret_verbose NUL-terminated, caller frees).  Returns 0 or
 * -EPROTO. */
int net_dec_update_rep(const net_buf *b, dns_change *ch, size_t n, net_status *st,
		       dns_update_result *res, char **ret_dry, char **ret_verbose, pf_err *e);

/* ---- signing, asked by the network process during an update (net_sign.h) ---- */
/* The request to sign, wire[0..len), len at most NET_DNS_MAX. */
void net_enc_sign_req(net_buf *b, const uint8_t *wire, size_t len);
/* *ret_wire points into b.  Returns 0 or -EPROTO. */
int net_dec_sign_req(const net_buf *b, const uint8_t **ret_wire, size_t *ret_len, pf_err *e);
void net_enc_sign_rep(net_buf *b, const net_status *st, const uint8_t *wire, size_t len,
		      const uint8_t *mac, size_t mac_len);
/* When st->rc is 0, *ret_wire (caller frees) and *ret_len are the signed
 * message, which must be longer than the request of req_len octets, and
 * mac[0..*mac_len) its MAC of mac_len_want octets.  Returns 0 or -EPROTO. */
int net_dec_sign_rep(const net_buf *b, size_t req_len, size_t mac_len_want, net_status *st,
		     uint8_t **ret_wire, size_t *ret_len, uint8_t *mac, size_t *mac_len, pf_err *e);
/* A reply's TSIG input (at most NET_MAC_INPUT_MAX octets) and the MAC it
 * came with (at most DNS_TSIG_MAC_MAX). */
void net_enc_mac_req(net_buf *b, const uint8_t *input, size_t len, const uint8_t *mac,
		     size_t mac_len);
/* *ret_input and *ret_mac point into b.  Returns 0 or -EPROTO. */
int net_dec_mac_req(const net_buf *b, const uint8_t **ret_input, size_t *ret_len,
		    const uint8_t **ret_mac, size_t *ret_mac_len, pf_err *e);
void net_enc_mac_rep(net_buf *b, bool match);
int net_dec_mac_rep(const net_buf *b, bool *match, pf_err *e);

/* ---- propagation round ---- */
typedef struct net_prop_req {
	dns_zone_info zone;
	dns_prop_want *want;
	size_t n;
	dns_net_opts opts; /* decoded: opts.dnssec points at dnssec when have_dnssec */
	uint8_t have_dnssec;
	dns_prop_dnssec dnssec; /* the anchors and the zones above, with their servers */
} net_prop_req;

int net_enc_prop_req(net_buf *b, const dns_zone_info *z, const dns_prop_want *want, size_t n,
		     const dns_net_opts *o, pf_err *e);
int net_dec_prop_req(const net_buf *b, net_prop_req *ret, pf_err *e);
/* Empties r in place (NULL: nothing). */
void net_prop_req_free(net_prop_req *r);
/* The round without its want pointer (the parent has the wants). */
int net_enc_prop_rep(net_buf *b, const net_status *st, const dns_prop_round *rd, pf_err *e);
/* For a request of want[0..n) over zone z: the round must have z's check
 * servers, n wants and owners that are theirs.  ret->want is set to want.
 * Free with dns_prop_round_free.  Returns 0 or -EPROTO. */
int net_dec_prop_rep(const net_buf *b, const dns_zone_info *z, const dns_prop_want *want, size_t n,
		     net_status *st, dns_prop_round *ret, pf_err *e);

/* ---- STARTTLS probe ---- */
typedef struct net_probe_req {
	pf_hostport ep;
	char tlsa_host[PF_DNS_NAME_BUF];
	pf_tlsa_rdata *records;
	size_t n;
	enum pf_probe_want want;
	int timeout_ms;
} net_probe_req;

int net_enc_probe_req(net_buf *b, const pf_hostport *ep, const char *tlsa_host,
		      const pf_tlsa_rdata *records, size_t n, enum pf_probe_want want,
		      int timeout_ms, pf_err *e);
int net_dec_probe_req(const net_buf *b, net_probe_req *ret, pf_err *e);
/* Empties r in place (NULL: nothing). */
void net_probe_req_free(net_probe_req *r);
void net_enc_probe_rep(net_buf *b, const net_status *st, const pf_probe_result *res);
int net_dec_probe_rep(const net_buf *b, net_status *st, pf_probe_result *ret, pf_err *e);

#endif
