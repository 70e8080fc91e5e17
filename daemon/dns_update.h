/*
 * dns_update.h - the one module that sends DNS UPDATE messages (RFC 2136).
 *
 * It adds and deletes single TLSA records, never RRsets, so records it did
 * not create - another host's, another algorithm's, a usage-2 record - are
 * never touched, and it makes each change conditional on the RRset being
 * exactly what it read just before (a value-dependent prerequisite, or "RRset
 * does not exist"): a record someone else added, removed or changed meanwhile
 * makes the server refuse the update (NXRRSET/YXRRSET), and the module reads
 * again and reports what it found instead of overwriting it.  Writers that
 * collide on one name (MX hosts sharing a TLSA name) read again after a
 * randomised pause, bounded in count and in total time.  An RRset that
 * exists keeps its TTL: adding to it uses that TTL, not tlsa_ttl.
 *
 * Changes are packed into as few messages as fit in 64 KiB with name
 * compression; messages over 512 octets go over TCP; RD is clear.  Only a
 * reply that passed every check of dns_msg.h (TSIG verified when a key is
 * configured) with NOERROR counts; and the next message is sent only once
 * the update server serves the previous one's changes - signed, when the
 * zone is signed - because a signing primary may acknowledge an update and
 * go on serving the old zone (TEST-SERVERS.md).
 */
#ifndef PF_DNS_UPDATE_H
#define PF_DNS_UPDATE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "dns_discover.h"
#include "dns_tsig.h"
#include "tlsa.h"
#include "tlsa_records.h"

enum dns_change_op { DNS_OP_ADD, DNS_OP_DELETE };

enum dns_change_result {
	DNS_CH_PENDING,
	DNS_CH_DONE,    /* added / deleted by this update */
	DNS_CH_ALREADY, /* already present / already absent: nothing sent for it */
	DNS_CH_FAILED,
};

typedef struct dns_change {
	char owner[TLSA_OWNER_SIZE]; /* canonical (tlsa_owner_canon): "_25._tcp.mx.example.test." */
	pf_tlsa_rdata rd;
	enum dns_change_op op;
	/* out */
	enum dns_change_result result;
	bool existed_before; /* the RRset existed when first read */
	uint32_t ttl_before; /* its TTL then (0 when it did not exist) */
	uint32_t ttl;        /* the TTL the record was added with */
	unsigned others;     /* records of the RRset that are not ours, last read */
} dns_change;

typedef struct dns_update_opts {
	const dns_zone_info *zone;
	const dns_tsig_key *tsig; /* NULL: unsigned updates */
	uint32_t ttl;             /* tlsa_ttl, for RRsets that do not exist yet */
	FILE *dry_run;            /* not NULL: print the messages here, send nothing */
	FILE *verbose;            /* not NULL: progress lines here */
} dns_update_opts;

typedef struct dns_update_result {
	size_t messages;  /* update messages acknowledged */
	int64_t t_pub;    /* wall clock of the last verified NOERROR, epoch ms (0: none) */
	uint32_t serial;  /* SOA serial the update server served the changes with */
	bool zone_signed; /* the update server signs the zone */
	uint32_t soa_ttl, soa_minimum; /* from the update server */
} dns_update_result;

/*
 * Apply the n changes (all in o->zone), filling each change's result.
 * Returns 0 when every change is DONE or ALREADY, else -errno with e saying
 * which status stopped it, from which server, and what it means.
 */
int dns_update_apply(const dns_update_opts *o, dns_change *ch, size_t n, dns_update_result *res,
		     pf_err *e);

/* Reads of an RRset that other writers keep changing, at most, per apply. */
#define DNS_UPDATE_MAX_ROUNDS 12

/* The pause, in milliseconds, before reading again after the failures-th
 * failed prerequisite, given a random number rnd: between half and all of
 * a window that doubles from 100 ms up to 2 s.  An apply also reads again
 * only within 30 s of its start: past that it gives up with -EAGAIN. */
unsigned dns_update_backoff_ms(unsigned failures, uint32_t rnd);

/* Largest message this module sends, TSIG included. */
#define DNS_UPDATE_MAX_WIRE 65535

#endif
