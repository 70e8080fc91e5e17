/*
 * dns_msg.h - DNS messages as this program sends them, and the checks every
 * reply must pass before anything believes it.
 *
 * A request is an ldns packet with a random ID, rendered once (with name
 * compression) and TSIG-signed when a key is given.  A reply is accepted
 * only when it answers that request: same ID, QR set, same opcode, the same
 * question, and, for a signed request, a TSIG by the same key whose MAC
 * verifies and whose signing time is within the fudge.  The source address
 * is the transport's check (dns_net.c).  Anything else is ignored, with the
 * reason kept for the error message, as a forged or stray datagram would be.
 *
 * Each outcome - an RCODE, a TSIG error, a timeout, a truncated reply - has
 * one status with its own message and one defined action.
 */
#ifndef PF_DNS_MSG_H
#define PF_DNS_MSG_H

#include <stdbool.h>
#include <stdint.h>

#include <ldns/ldns.h>

#include "dns_tsig.h"
#include "util.h"

#define DNS_EDNS_SIZE 1232 /* the DNS flag day 2020 value: no IP fragmentation */

typedef struct dns_request {
	ldns_pkt *pkt;            /* owned; no TSIG RR in it */
	const dns_tsig_key *tsig; /* borrowed; NULL: unsigned */
	uint16_t id;
	uint8_t *wire; /* rendered and signed */
	size_t len;
	uint8_t mac[DNS_TSIG_MAC_MAX]; /* our MAC, which the reply's covers */
	size_t mac_len;
} dns_request;

/* A query packet for name/type: RD only when rd (resolvers), EDNS0 with the
 * DO bit when dnssec.  Returns NULL for a name ldns cannot parse. */
ldns_pkt *dns_query_pkt(const char *name, ldns_rr_type type, bool rd, bool dnssec);

/* p in wire format into *ret (pf_malloc'd, *len octets): ldns_pkt2wire
 * without its 64 KB buffer a message.  Returns 0 or -EINVAL. */
int dns_pkt_wire(const ldns_pkt *p, uint8_t **ret, size_t *len);

/*
 * Make a request of pkt (ownership passes, also on failure): a random ID,
 * rendered and signed with tsig if not NULL.  Returns 0 or -errno.
 */
int dns_request_init(dns_request *rq, ldns_pkt *pkt, const dns_tsig_key *tsig, pf_err *e);

/* dns_request_init for n packets at once (ownership of each passes, also
 * on failure), signed together when tsig's signer can (dns_tsig_sign_many).
 * Each rqs[i] must be freed with dns_request_free, also on failure.
 * Returns 0 or the first failure's -errno. */
int dns_requests_init(dns_request *rqs, ldns_pkt *const *pkts, size_t n, const dns_tsig_key *tsig,
		      pf_err *e);

/* Give the request another ID (re-rendered and re-signed).  Returns 0 or
 * -errno. */
int dns_request_set_id(dns_request *rq, uint16_t id, pf_err *e);

void dns_request_free(dns_request *rq);

/* A random 16-bit message ID from the kernel's CSPRNG. */
uint16_t dns_random_id(void);

/* A reply that passed the checks. */
typedef struct dns_reply {
	ldns_pkt *pkt;       /* owned */
	int rcode;           /* RCODE with the EDNS extension */
	uint16_t tsig_error; /* 0 unless the TSIG carried one */
	bool verified;       /* TSIG verified (false for unsigned requests) */
	bool unsigned_error; /* a TSIG error reply with no MAC (RFC 8945 5.3.2) */
	int64_t skew;        /* BADTIME: server clock minus ours, in seconds */
} dns_reply;

void dns_reply_clear(dns_reply *r);

enum dns_check {
	DNS_CHECK_ACCEPT,    /* ret filled: this is the reply */
	DNS_CHECK_IGNORE,    /* not a valid reply to rq; why says why */
	DNS_CHECK_TRUNCATED, /* a matching reply with TC set: ask again over TCP */
};

/*
 * Check wire (len bytes, received at now) as a reply to rq.  On ACCEPT, *ret
 * holds the parsed reply, which the caller clears.  On IGNORE, why holds a
 * short reason ("wrong message ID 0x1234").
 */
enum dns_check dns_reply_check(const dns_request *rq, const uint8_t *wire, size_t len, int64_t now,
			       dns_reply *ret, char *why, size_t whylen);

/* The outcome of one exchange. */
enum dns_status {
	DNS_NOERROR,
	DNS_FORMERR,
	DNS_SERVFAIL,
	DNS_NXDOMAIN,
	DNS_NOTIMP,
	DNS_REFUSED,
	DNS_YXDOMAIN,
	DNS_YXRRSET,
	DNS_NXRRSET,
	DNS_NOTAUTH,
	DNS_NOTZONE,
	DNS_BADSIG,
	DNS_BADKEY,
	DNS_BADTIME,
	DNS_OTHER_RCODE,
	DNS_TIMEOUT,   /* no acceptable reply before the deadline */
	DNS_TRUNCATED, /* truncated even where TCP should have been used */
	DNS_NETERR,    /* socket or connection error */
	DNS_STATUS_COUNT
};

enum dns_action {
	DNS_ACT_ACCEPT, /* the answer may be used */
	DNS_ACT_RETRY,  /* try again later, a bounded number of times, backing off */
	DNS_ACT_TCP,    /* ask again over TCP */
	DNS_ACT_STOP,   /* give up and report: retrying cannot help */
};

typedef struct dns_status_info {
	const char *name; /* "REFUSED" */
	enum dns_action action;
	const char *meaning; /* what it means, for an error message */
} dns_status_info;

const dns_status_info *dns_status_describe(enum dns_status s);

/* The status of an accepted reply (TSIG errors take precedence over the
 * RCODE they come with). */
enum dns_status dns_reply_status(const dns_reply *r);

/* Name of an RCODE for messages ("SERVFAIL", or "RCODE 23"). */
const char *dns_rcode_name(int rcode, char *buf, size_t len);

/* RFC 1982 serial number arithmetic: true when a >= b. */
bool dns_serial_ge(uint32_t a, uint32_t b);

#endif
