/*
 * dns_propagation.h - has every authoritative server got it?  One round asks
 * every check server directly (RD clear, DO set) and concurrently - one poll
 * loop, one deadline - for the zone's SOA and each TLSA RRset concerned, and
 * reports per server: the serial, which of the wanted records it serves (or
 * no longer serves), whether RRSIGs cover them, and the TTLs the rollover's
 * timing model needs (SPEC.md 4): the TLSA RRset's original TTL, the SOA TTL
 * and MINIMUM.  A round only reads; it never retries past its deadline.
 */
#ifndef PF_DNS_PROPAGATION_H
#define PF_DNS_PROPAGATION_H

#include <stdbool.h>
#include <stdint.h>

#include "dns_discover.h"
#include "dns_net.h"
#include "tlsa.h"
#include "tlsa_records.h"
#include "macro.h"

/* One record and whether it should be served (publish) or not (retire). */
typedef struct dns_prop_want {
	char owner[TLSA_OWNER_SIZE]; /* canonical (tlsa_owner_canon) */
	pf_tlsa_rdata rd;
	bool present;
} dns_prop_want;

/* What one server serves at one owner name. */
typedef struct dns_prop_rrset {
	bool answered;       /* an authoritative NOERROR/NXDOMAIN answer came */
	unsigned n_rr;       /* TLSA records served */
	uint32_t ttl;        /* their TTL as served */
	uint32_t orig_ttl;   /* the RRSIG's original TTL (0: no RRSIG) */
	bool rrsig;          /* an RRSIG covering TLSA, inside its validity period */
	bool rrsig_expired;  /* an RRSIG was served, but outside its validity */
	uint8_t dnssec;      /* enum dns_prop_verdict */
	uint8_t reason;      /* enum dnssec_reason when bogus */
	uint64_t sig_expiry; /* earliest signature expiry of the chain (0: none) */
	char dnssec_msg[256];
} dns_prop_rrset;

/* A TLSA RRset's validation (o->dnssec), as dnssec.h's verdicts. */
enum dns_prop_verdict {
	DNS_PROP_UNVALIDATED, /* no validation asked, or no record served */
	DNS_PROP_VALIDATES,
	DNS_PROP_BOGUS,
	DNS_PROP_INSECURE,
};

#define DNS_PROP_ANCHORS_MAX 64 /* DNSSEC_ANCHORS_MAX */
#define DNS_PROP_ABOVE_MAX 15   /* DNSSEC_ZONES_MAX - 1 */

/* One trust anchor, a DS record in presentation format. */
typedef struct dns_prop_anchor {
	char rr[512];
} dns_prop_anchor;

/* What a validating round needs besides the zone. */
typedef struct dns_prop_dnssec {
	dns_prop_anchor *anchors;
	size_t n_anchors;
	dns_zone_info *above; /* the zones above the round's, nearest first, up
				 to the one an anchor names; each with its servers */
	size_t n_above;
} dns_prop_dnssec;

/* "validates", "bogus", "insecure", "not validated". */
const char *dns_prop_verdict_name(enum dns_prop_verdict v);

enum dns_prop_state {
	DNS_PROP_OK,        /* every question got an authoritative answer */
	DNS_PROP_NO_ANSWER, /* something timed out */
	DNS_PROP_ERROR,     /* an error answer (REFUSED, SERVFAIL, not authoritative) */
};

typedef struct dns_prop_server {
	dns_target target;
	enum dns_prop_state state;
	char note[300]; /* why not OK */
	bool have_soa;
	uint32_t serial, soa_ttl, soa_minimum;
	bool soa_signed;
	dns_prop_rrset *rrsets; /* one per owner of the round */
	bool *match;            /* per want: served (present) / not served (absent) */
	size_t n_match;
	bool all_signed;   /* every non-empty RRset wanted is covered by an RRSIG
			      (validating: none of them is bogus) */
	bool complete;     /* OK, and every want matched */
	uint64_t rtt_usec; /* slowest answer */
} dns_prop_server;

typedef struct dns_prop_round {
	char zone[PF_DNS_NAME_BUF];
	char **owners; /* distinct owner names of the wants */
	size_t n_owners;
	size_t *want_owner; /* per want: index into owners */
	const dns_prop_want *want;
	size_t n_want;
	dns_prop_server *servers;
	size_t n_servers;
	int64_t time;                  /* wall clock when the round ended */
	bool all_complete;             /* every server complete */
	bool zone_signed;              /* some server served an RRSIG over the SOA */
	uint32_t max_tlsa_ttl;         /* the largest TLSA TTL seen (original TTL if signed) */
	uint32_t soa_ttl, soa_minimum; /* largest seen */
} dns_prop_round;

/*
 * Run one round for zone z over its check servers and the n wants (all in
 * z).  *ret is filled; free it with dns_prop_round_free.  Returns 0 (the
 * round says what it found) or -errno for a failure to ask at all.
 */
int dns_prop_run(const dns_zone_info *z, const dns_prop_want *want, size_t n, const dns_net_opts *o,
		 dns_prop_round *ret, pf_err *e);

void dns_prop_round_free(dns_prop_round *r);

/* Set rd's owners, n_owners and want_owner from want[0..n): the distinct
 * owner names in order of first appearance (tlsa_owner_index_build), as
 * dns_prop_run makes them - and so as a decoder of its round must. */
void dns_prop_round_owners(dns_prop_round *rd, const dns_prop_want *want, size_t n);

#endif
