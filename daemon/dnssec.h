/*
 * dnssec.h - DNSSEC validation of a TLSA RRset up to a trust anchor.
 *
 * Three parts, one file each:
 *   dnssec_anchor.c  the trust anchors (dnssec_trust_anchor_file: DS or
 *                    DNSKEY records in zone-file syntax, of any zone);
 *   dnssec_chain.c   the chain description, filled from DNS replies in wire
 *                    format, every record checked against the question the
 *                    reply answers before it is kept;
 *   dnssec.c         the verdict: validates, bogus (with a reason and the
 *                    zone where it fails) or insecure, and the earliest
 *                    signature expiry of the chain.
 *
 * A chain names the TLSA owner and the zones from the TLSA's zone up to the
 * zone of a trust anchor (zones[0] the TLSA's zone, zones[nzones-1] the
 * anchor's).  For each zone the caller asks its servers for the DNSKEY
 * RRset, and the parent's servers for the DS RRset (an unsigned delegation
 * answers with no DS and the parent's signed NSEC of the child's name), and
 * hands every reply to dnssec_chain_add_reply.  The proof of no DS is an
 * NSEC of the child's name or an NSEC3 matching its hash (SHA-1, at most
 * DNSSEC_NSEC3_ITERATIONS_MAX iterations, RFC 9276); an opt-out NSEC3
 * covering the name (the closest-encloser proof) is not understood (bogus,
 * "no DS and no proof of its absence"), nor is a wildcard-expanded answer.
 *
 * Times are unix seconds given by the caller (now); RRSIG times are 32-bit
 * and compared with RFC 4034 3.1.5 serial arithmetic around now.
 */
#ifndef PF_DNSSEC_H
#define PF_DNSSEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ldns/ldns.h>

#include "util.h"

#define DNSSEC_ANCHOR_FILE_MAX (256 * 1024) /* bytes of a trust-anchor file */
#define DNSSEC_ANCHOR_LINE_MAX 4096         /* bytes of one of its lines */
#define DNSSEC_ANCHORS_MAX 64               /* records in it */
#define DNSSEC_ZONES_MAX 16                 /* zones of a chain */
#define DNSSEC_RRSET_MAX 32                 /* records of one RRset kept */
#define DNSSEC_SIGS_MAX 16                  /* RRSIGs over one RRset kept */
#define DNSSEC_NSEC3_ITERATIONS_MAX 150     /* more: the NSEC3 is ignored */

/* The trust anchors, all as DS records (a DNSKEY anchor is kept as its
 * SHA-256 DS). */
typedef struct dnssec_anchors {
	ldns_rr_list *ds; /* owned */
} dnssec_anchors;

/*
 * Parse text (len bytes; name is the file's name in messages) as trust
 * anchors.  A bad line is one message "NAME:LINE: problem", -EINVAL, and
 * *ret untouched.  The caller frees *ret with dnssec_anchors_free.
 */
int dnssec_anchors_parse(const char *name, const char *text, size_t len, dnssec_anchors **ret,
			 pf_err *e);
/* Read and parse the file path (a regular file).  Returns 0 or -errno. */
int dnssec_anchors_load(const char *path, dnssec_anchors **ret, pf_err *e);
/* Accepts NULL; returns NULL. */
dnssec_anchors *dnssec_anchors_free(dnssec_anchors *a);
/* How many anchors name the zone (absolute name, any case). */
size_t dnssec_anchors_count_for(const dnssec_anchors *a, const ldns_rdf *zone);

/* What one zone of the chain holds, as replies filled it. */
typedef struct dnssec_zone {
	ldns_rdf *name;            /* owned, lowercase, absolute */
	ldns_rr_list *dnskey;      /* the zone's DNSKEY RRset */
	ldns_rr_list *dnskey_sigs; /* its RRSIGs */
	ldns_rr_list *ds;          /* the DS RRset from the parent (zones[0..n-2]) */
	ldns_rr_list *ds_sigs;
	ldns_rr_list *nods; /* the parent's NSEC (or NSEC3) of the name, when no DS */
	ldns_rr_list *nods_sigs;
	bool have_dnskey, have_ds; /* a reply was taken for that question */
} dnssec_zone;

/* The chain's DNSKEYs as OpenSSL keys, made when a signature first names
 * one (dnssec.c). */
typedef struct dnssec_keys dnssec_keys;

typedef struct dnssec_chain {
	dnssec_keys *keys;   /* owned; NULL: every verification makes its key */
	ldns_rdf *tlsa_name; /* owned, lowercase, absolute */
	ldns_rr_list *tlsa;  /* the TLSA RRset */
	ldns_rr_list *tlsa_sigs;
	bool have_tlsa;
	size_t nzones;
	dnssec_zone zones[DNSSEC_ZONES_MAX];
} dnssec_chain;

/*
 * A chain for the TLSA RRset of tlsa_name through zones[0..nzones-1] (the
 * TLSA's zone first, each the parent of the one before it, the last the
 * anchor's zone).  Returns 0 and *ret (free with dnssec_chain_free), or
 * -EINVAL when the names do not nest.
 */
int dnssec_chain_new(const char *tlsa_name, const char *const *zones, size_t nzones,
		     dnssec_chain **ret, pf_err *e);
/* Accepts NULL; returns NULL. */
dnssec_chain *dnssec_chain_free(dnssec_chain *c);
/* An empty set of keys for a chain; dnssec_keys_free accepts NULL. */
dnssec_keys *dnssec_keys_new(void);
void dnssec_keys_free(dnssec_keys *k);

/*
 * The chain for another TLSA name of the same zones: the TLSA RRset taken
 * is dropped (the zones' replies are kept) and tlsa_name's is asked for.
 * Returns 0, or -EINVAL (the chain unchanged) when tlsa_name is not a name
 * at or below zones[0].
 */
int dnssec_chain_set_tlsa_name(dnssec_chain *c, const char *tlsa_name, pf_err *e);

/*
 * Take one reply (a DNS message as received; the transport has matched it to
 * its request, dns_reply_check): its question says what it fills - TLSA of
 * the chain's name, DNSKEY or DS of one of its zones.  Only records of class
 * IN owned by the question's name, of its type or RRSIGs covering it, in the
 * answer section are kept; for a DS question without DS, the NSEC of that
 * name and its RRSIGs in the authority section.  Returns 0; -EINVAL for a
 * message that cannot be parsed, is not a response, or asks something the
 * chain does not need; -EEXIST when the question was answered already;
 * -EMSGSIZE when truncated or an RRset exceeds the bounds.
 */
int dnssec_chain_add_reply(dnssec_chain *c, const uint8_t *wire, size_t len, pf_err *e);
/* The same for a reply already parsed (borrowed; its records are copied),
 * as dns_reply_check accepted it: what add_reply does after the parse. */
int dnssec_chain_add_pkt(dnssec_chain *c, const ldns_pkt *p, pf_err *e);

enum dnssec_verdict {
	DNSSEC_VALIDATES,
	DNSSEC_BOGUS,
	DNSSEC_INSECURE,
};

enum dnssec_reason {
	DNSSEC_R_NONE,                  /* validates, or insecure */
	DNSSEC_R_EXPIRED,               /* RRSIG expiration before now */
	DNSSEC_R_NOT_YET_VALID,         /* RRSIG inception after now */
	DNSSEC_R_NO_KEY,                /* no DNSKEY of the signer with its tag and algorithm */
	DNSSEC_R_BAD_SIGNATURE,         /* a matching key, but the signature does not verify */
	DNSSEC_R_NO_DS_MATCH,           /* no DNSKEY matches the parent's DS */
	DNSSEC_R_ANCHOR_MISMATCH,       /* no DNSKEY matches the trust anchor */
	DNSSEC_R_MISSING_RRSIG,         /* an RRset without RRSIG */
	DNSSEC_R_UNSUPPORTED_ALGORITHM, /* only RRSIGs of algorithms we cannot verify */
	DNSSEC_R_NO_DS_PROOF,           /* no DS, and no signed proof of its absence */
	DNSSEC_R_INCOMPLETE,            /* a reply is missing or empty */
	DNSSEC_R_NO_ANCHOR,             /* no trust anchor for any zone of the chain */
};

typedef struct dnssec_result {
	enum dnssec_verdict verdict;
	enum dnssec_reason reason; /* DNSSEC_R_NONE unless bogus */
	char zone[256];            /* where bogus or insecure ("" when it validates) */
	int64_t earliest_expiry;   /* unix seconds; 0 when no signature verified */
	char msg[384];             /* one printable line */
} dnssec_result;

/*
 * Validate the chain's TLSA RRset against the anchors at time now, into
 * *ret (always filled).  The earliest expiry is, over each RRset verified,
 * the latest expiration of its verified RRSIGs, the minimum over the RRsets.
 */
void dnssec_validate(const dnssec_chain *c, const dnssec_anchors *a, int64_t now,
		     dnssec_result *ret);

/*
 * dnssec_validate in its two parts, for the many TLSA RRsets of one zone
 * that one server's keys sign: dnssec_validate_keys judges the zones (every
 * DNSKEY and DS RRset from the anchor down, or the proof of an unsigned
 * delegation) and returns true when they are secure, *ret then holding
 * their earliest expiry; false with *ret the verdict, bogus or insecure,
 * that every TLSA RRset along them gets.  After true, dnssec_validate_tlsa
 * judges c's TLSA RRset with the keys, completing *ret (a copy of the keys'
 * result serves each RRset).  dnssec_validate is the one after the other.
 */
bool dnssec_validate_keys(const dnssec_chain *c, const dnssec_anchors *a, int64_t now,
			  dnssec_result *ret);
void dnssec_validate_tlsa(const dnssec_chain *c, int64_t now, dnssec_result *ret);

/*
 * Everything dnssec_validate_tlsa reads, in one form that does not depend on
 * the order records arrived in: the TLSA name, then the DNSKEY RRset of the
 * TLSA's zone, the TLSA RRset and its RRSIGs, each sorted canonically (RFC
 * 4034 6.3) in wire form.  Two chains of the same form whose keys got the
 * same dnssec_validate_keys result get the same verdict from
 * dnssec_validate_tlsa at the same time (the many servers of one zone
 * serving the same signed RRset).  Returns the form (free it) and its length
 * in *len, or NULL when out of memory.
 */
uint8_t *dnssec_chain_tlsa_form(const dnssec_chain *c, size_t *len);

/* The owner an NSEC3 of zone matching name has, by the NSEC3's parameters
 * (the caller frees it); NULL for another hash algorithm or more than
 * DNSSEC_NSEC3_ITERATIONS_MAX iterations. */
ldns_rdf *dnssec_nsec3_owner(const ldns_rr *nsec3, const ldns_rdf *name, const ldns_rdf *zone);

/* "validates", "bogus", "insecure". */
const char *dnssec_verdict_name(enum dnssec_verdict v);
/* A short phrase for the reason ("signature expired", ...). */
const char *dnssec_reason_name(enum dnssec_reason r);

#endif
