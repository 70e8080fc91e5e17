/*
 * dns_tsig.h - TSIG (RFC 8945): the key file as tsig-keygen writes it
 * (dns_tsig_key.c), and signing and verifying DNS messages on the wire
 * (dns_tsig.c).
 *
 * This module alone holds a TSIG secret.  The secret is decoded straight into
 * one buffer that is wiped when the key is freed; the file's text is wiped
 * after parsing; no message ever contains a byte of it.  ldns's own TSIG code
 * is not used: it takes the secret as a base64 C string, leaves decoded copies
 * in freed memory, and checks neither the key name, the signing time nor the
 * TSIG error of a reply.
 *
 * The network process (netproc.h), which parses what DNS servers send, never
 * holds the secret: its keys have a name and an algorithm only, and a
 * signer that asks the privileged process to sign each request and to check
 * each reply's MAC (net_sign.h).  Everything else - finding the TSIG record,
 * the key name, algorithm, time and error checks - is done here, the same for
 * both kinds of key.
 */
#ifndef PF_DNS_TSIG_H
#define PF_DNS_TSIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "util.h"

#define DNS_TSIG_KEYFILE_MAX (64 * 1024)
#define DNS_TSIG_FUDGE 300
#define DNS_TSIG_MAC_MAX 64
/* Longest secret accepted, in bytes; tsig-keygen's longest is 64. */
#define DNS_TSIG_SECRET_MAX 1024

/* TSIG error codes (the TSIG RR's Error field, RFC 8945 section 3). */
enum {
	DNS_TSIG_BADSIG = 16,
	DNS_TSIG_BADKEY = 17,
	DNS_TSIG_BADTIME = 18,
	DNS_TSIG_BADTRUNC = 22,
};

enum dns_tsig_alg {
	DNS_HMAC_SHA1,
	DNS_HMAC_SHA224,
	DNS_HMAC_SHA256,
	DNS_HMAC_SHA384,
	DNS_HMAC_SHA512,
};

/* The name ("hmac-sha256") of algorithm alg, and its full MAC length in
 * *ret_mac_len (may be NULL).  Returns NULL for a value that is not one. */
const char *dns_tsig_alg_name(enum dns_tsig_alg alg, size_t *ret_mac_len);

/* The algorithm named s[0..len), in any case.  Returns its enum dns_tsig_alg
 * value, or -1 for a name not supported. */
int dns_tsig_alg_from_name(const char *s, size_t len);

/*
 * The HMACs of a key whose secret is elsewhere (the network process's; the
 * privileged process answers, net_sign.h).  Only requests are signed this
 * way, at the signer's own clock; a MAC is only checked, never computed for
 * the asker.
 */
/* One request of many to sign (dns_tsig_sign_many). */
typedef struct dns_sign_job {
	uint8_t *wire; /* the request, no TSIG yet (malloc); replaced when signed */
	size_t len;
	uint8_t mac[DNS_TSIG_MAC_MAX]; /* its MAC, once signed */
	size_t mac_len;
	int rc; /* 0 when signed, or -errno */
} dns_sign_job;

/* One MAC to judge ahead (dns_tsig_check_ahead). */
typedef struct dns_mac_job {
	uint8_t *input; /* what the MAC covers */
	size_t len;
	uint8_t mac[DNS_TSIG_MAC_MAX];
	size_t mac_len;
} dns_mac_job;

typedef struct dns_tsig_signer {
	/* Replace the request in *wire (*len octets, no TSIG yet, allocated with
	 * malloc) with the same request signed, and give its MAC (at most
	 * DNS_TSIG_MAC_MAX octets).  Returns 0 or -errno. */
	int (*sign)(void *ctx, uint8_t **wire, size_t *len, uint8_t *ret_mac, size_t *ret_mac_len);
	/* Returns 1 when mac (the key's full MAC length) is the HMAC of
	 * input[0..len), 0 when it is not, -errno when it cannot say. */
	int (*check)(void *ctx, const uint8_t *input, size_t len, const uint8_t *mac,
		     size_t mac_len);
	/* Optional: sign, as sign would, each job whose rc is 0, all at once
	 * (the requests of one read asked of the privileged process without
	 * waiting for each answer in turn); sets their rc. */
	void (*sign_many)(void *ctx, dns_sign_job *jobs, size_t n);
	/* Optional: judge these MACs now, all at once, and answer the check
	 * calls for exactly these inputs and MACs that follow from what was
	 * judged (the replies of one read that arrived together). */
	void (*check_ahead)(void *ctx, const dns_mac_job *jobs, size_t n);
	void *ctx;
} dns_tsig_signer;

typedef struct dns_tsig_key {
	char name[PF_DNS_NAME_BUF];         /* presentation form, lowercase, ends in "." */
	uint8_t name_wire[PF_DNS_NAME_BUF]; /* canonical wire form of name */
	size_t name_wire_len;
	enum dns_tsig_alg alg;
	const char *alg_name;  /* "hmac-sha256" */
	size_t mac_len;        /* full HMAC output length */
	unsigned char *secret; /* wiped by dns_tsig_key_free; NULL with a signer */
	size_t secret_len;
	const dns_tsig_signer *signer; /* borrowed; set on keys without a secret */
} dns_tsig_key;

/*
 * Read a key file as tsig-keygen writes it: one
 *   key "NAME" { algorithm hmac-sha256; secret "BASE64"; };
 * statement, with BIND's comments ("#", "//", C-style).  A file that group or
 * others may read or write is refused before a byte is read.  Errors name
 * "FILE:LINE".  The caller frees *ret with dns_tsig_key_free.  Returns 0 or
 * -errno (-EINVAL for bad content, -EPERM for the file mode).
 */
int dns_tsig_key_load(const char *path, dns_tsig_key **ret, pf_err *e);

/* The same from text already read; src names it in messages. */
int dns_tsig_key_parse(const char *src, const char *text, size_t len, dns_tsig_key **ret,
		       pf_err *e);

/* A key from its parts: name in presentation form, algorithm, and the
 * secret, which is copied.  Returns 0 or -EINVAL for a bad name, algorithm or
 * length. */
int dns_tsig_key_new(const char *name, enum dns_tsig_alg alg, const unsigned char *secret,
		     size_t len, dns_tsig_key **ret, pf_err *e);

/* A key with a name and an algorithm and no secret, as the network process
 * gets it (net_msg.h); it can sign and verify once its signer is set.
 * Returns 0 or -EINVAL for a bad name or algorithm. */
int dns_tsig_key_public(const char *name, enum dns_tsig_alg alg, dns_tsig_key **ret, pf_err *e);

/* Wipe and free a key; NULL is fine.  Returns NULL. */
dns_tsig_key *dns_tsig_key_free(dns_tsig_key *k);

/*
 * Sign the message in wire (len bytes, no TSIG yet) at time now: appends the
 * TSIG RR and increments ARCOUNT.  *wire is reallocated.  req_mac is the
 * request's MAC when signing a response (NULL for a request).  The MAC is
 * copied to ret_mac (DNS_TSIG_MAC_MAX bytes), for verifying the reply.
 * error/other are the TSIG error field and other data (0/NULL normally).
 * With a signer (no secret here) only a request can be signed, and the
 * signer's clock, not now, gives the time signed.  Returns 0 or -errno.
 */
int dns_tsig_sign(const dns_tsig_key *k, uint8_t **wire, size_t *len, int64_t now,
		  const uint8_t *req_mac, size_t req_mac_len, uint16_t error, const uint8_t *other,
		  size_t other_len, uint8_t *ret_mac, size_t *ret_mac_len);

/* dns_tsig_sign for n requests at now, each job's rc set: with a signer
 * that has sign_many, in one exchange. */
void dns_tsig_sign_many(const dns_tsig_key *k, dns_sign_job *jobs, size_t n, int64_t now);

/*
 * Walk the records of a message without parsing them.  Returns 1 and sets
 * *tsig_at to where the TSIG RR starts when the message has one as its last
 * record, 0 when it has none, -1 when it is malformed: a name or record runs
 * past the end, bytes follow the last record, or a TSIG RR is not the last
 * record (RFC 8945 5.1; ldns 1.8 leaks all but the last of several).
 */
int dns_tsig_find(const uint8_t *wire, size_t len, size_t *tsig_at);

/* What a TSIG-signed reply carried, and whether it checked out. */
enum dns_tsig_verdict {
	DNS_TSIG_OK,             /* MAC verified, time within the fudge */
	DNS_TSIG_ABSENT,         /* no TSIG RR in the message */
	DNS_TSIG_MALFORMED,      /* a TSIG RR that cannot be parsed, or not last */
	DNS_TSIG_WRONG_KEY,      /* signed with another key name */
	DNS_TSIG_WRONG_ALG,      /* another algorithm */
	DNS_TSIG_UNSIGNED_ERROR, /* an error (BADSIG, BADKEY...) with no MAC, as RFC 8945 sends it
				  */
	DNS_TSIG_BAD_MAC,        /* the MAC does not verify (or is truncated) */
	DNS_TSIG_BAD_TIME,       /* MAC fine, signing time outside the fudge */
};

typedef struct dns_tsig_info {
	bool present;
	uint16_t error; /* the TSIG Error field */
	uint64_t time_signed;
	uint16_t fudge;
	uint16_t orig_id;
	bool has_server_time; /* BADTIME replies carry the server's clock */
	uint64_t server_time;
	size_t tsig_offset; /* where the TSIG RR starts in the wire */
} dns_tsig_info;

/*
 * Verify the TSIG of a reply to a request whose MAC was req_mac, against key
 * k at time now.  The time window is the smaller of the reply's fudge and
 * DNS_TSIG_FUDGE.  info is filled as far as the RR could be read.  Returns
 * the verdict; only DNS_TSIG_OK means the reply is authentic.
 */
enum dns_tsig_verdict dns_tsig_verify(const dns_tsig_key *k, const uint8_t *wire, size_t len,
				      const uint8_t *req_mac, size_t req_mac_len, int64_t now,
				      dns_tsig_info *info);

/* For the privileged side of a signer (net_sign.h): true when mac is the
 * key's full-length HMAC of input[0..len).  A shorter MAC never matches, so
 * the answer cannot be used to learn a MAC octet by octet. */
bool dns_tsig_mac_matches(const dns_tsig_key *k, const uint8_t *input, size_t len,
			  const uint8_t *mac, size_t mac_len);

/* One line describing a verdict, for messages. */
/* A reply whose MAC may soon be checked against a request's. */
typedef struct dns_tsig_ahead {
	const uint8_t *wire;
	size_t len;
	const uint8_t *req_mac;
	size_t req_mac_len;
} dns_tsig_ahead;

/*
 * With a signer that has check_ahead: the MACs of these replies (those
 * that are signed with k, well formed and of the key's length) judged by
 * it in one exchange, so that dns_tsig_verify of each then needs none.
 * Nothing is decided here; without check_ahead it does nothing.
 */
void dns_tsig_check_ahead(const dns_tsig_key *k, const dns_tsig_ahead *items, size_t n);

const char *dns_tsig_verdict_str(enum dns_tsig_verdict v);

/* Name of a TSIG error code ("BADSIG"), or NULL for an unknown one. */
const char *dns_tsig_error_name(uint16_t error);

#endif
