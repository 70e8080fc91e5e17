/*
 * dns_update.c - single-record TLSA updates with compare-and-swap
 * prerequisites, packed into few messages, each confirmed on the update
 * server before the next is sent.  See dns_update.h for the rules.
 */
#include "dns_update.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dns_msg.h"
#include "dns_net.h"

/* Another writer's change makes our prerequisite fail: read again after a
 * randomised pause (dns_update_backoff_ms), so that writers colliding on one
 * name do not collide again in lock step; at most MAX_ROUNDS reads, and no
 * new read once RETRY_BUDGET_MS have passed since the apply began. */
#define MAX_ROUNDS DNS_UPDATE_MAX_ROUNDS
#define BACKOFF_FIRST_MS 100
#define BACKOFF_CAP_MS 2000
#define RETRY_BUDGET_MS 30000
#define MAX_ATTEMPTS 3 /* sends of one message on SERVFAIL, timeout, network error */
#define UDP_MAX 512    /* larger updates go over TCP (no EDNS on updates) */
/* Room for the TSIG RR: key name, algorithm name, fixed fields, MAC. */
#define TSIG_ROOM (255 + 13 + 16 + 64 + 16)

/* What the update server serves at one owner name. */
typedef struct owner_state {
	char name[TLSA_OWNER_SIZE];
	ldns_rdf *dname;
	ldns_rr_list *rrs; /* TLSA records served (clones) */
	uint32_t ttl;
	bool rrsig; /* an RRSIG covering the TLSA RRset was served */
	bool first_read_done;
	bool reread; /* a prerequisite on it failed: read again */
} owner_state;

typedef struct upd {
	const dns_update_opts *o;
	dns_net_opts net;
	owner_state *owners;
	size_t n_owners;
	size_t *owner_of; /* per change */
	uint32_t serial, soa_ttl, soa_min;
	bool zone_signed;
	bool tsig_known; /* the update server signed a reply with our key */
} upd;

static void vlog(const upd *u, const char *fmt, ...) PF_PRINTF(2, 3);

static void vlog(const upd *u, const char *fmt, ...)
{
	va_list ap;

	if (!u->o->verbose)
		return;
	va_start(ap, fmt);
	fputs("pftls-roll: ", u->o->verbose);
	vfprintf(u->o->verbose, fmt, ap);
	fputc('\n', u->o->verbose);
	va_end(ap);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

unsigned dns_update_backoff_ms(unsigned failures, uint32_t rnd)
{
	unsigned window = BACKOFF_CAP_MS;

	/* "Equal jitter": half the window for sure, so the winner's change can
	 * be signed and served before we read again, plus a random half. */
	if (failures >= 1 && failures <= 5)
		window = BACKOFF_FIRST_MS << (failures - 1);
	if (window > BACKOFF_CAP_MS)
		window = BACKOFF_CAP_MS;
	return window / 2 + rnd % (window / 2 + 1);
}

/* The rdata of our change as wire bytes: usage, selector, mtype, data. */
static size_t change_rdata(const dns_change *c, uint8_t *out)
{
	out[0] = c->rd.usage;
	out[1] = c->rd.selector;
	out[2] = c->rd.mtype;
	memcpy(out + 3, c->rd.data, c->rd.len);
	return 3 + c->rd.len;
}

/* Does rr (a TLSA record) carry exactly this rdata? */
static bool rr_has_rdata(const ldns_rr *rr, const uint8_t *rd, size_t len)
{
	size_t off = 0;

	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
		const ldns_rdf *f = ldns_rr_rdf(rr, i);
		size_t fl = ldns_rdf_size(f);

		if (off + fl > len || memcmp(ldns_rdf_data(f), rd + off, fl) != 0)
			return false;
		off += fl;
	}
	return off == len;
}

static bool served(const owner_state *os, const dns_change *c)
{
	uint8_t rd[3 + 64];
	size_t len = change_rdata(c, rd);

	for (size_t i = 0; i < ldns_rr_list_rr_count(os->rrs); i++)
		if (rr_has_rdata(ldns_rr_list_rr(os->rrs, i), rd, len))
			return true;
	return false;
}

static ldns_rr *tlsa_rr(const ldns_rdf *owner, ldns_rr_class cls, uint32_t ttl, const dns_change *c)
{
	ldns_rr *rr = ldns_rr_new();

	ldns_rr_set_owner(rr, ldns_rdf_clone(owner));
	ldns_rr_set_type(rr, LDNS_RR_TYPE_TLSA);
	ldns_rr_set_class(rr, cls);
	ldns_rr_set_ttl(rr, ttl);
	if (c) {
		ldns_rr_push_rdf(
			rr, ldns_native2rdf_int8(LDNS_RDF_TYPE_CERTIFICATE_USAGE, c->rd.usage));
		ldns_rr_push_rdf(rr, ldns_native2rdf_int8(LDNS_RDF_TYPE_SELECTOR, c->rd.selector));
		ldns_rr_push_rdf(rr,
				 ldns_native2rdf_int8(LDNS_RDF_TYPE_MATCHING_TYPE, c->rd.mtype));
		ldns_rr_push_rdf(rr,
				 ldns_rdf_new_frm_data(LDNS_RDF_TYPE_HEX, c->rd.len, c->rd.data));
	}
	return rr;
}

/* Describe a failed exchange: "SERVFAIL from 127.53.0.1:53: meaning (note)". */
static int xfer_error(const upd *u, const dns_xfer *x, const char *what, pf_err *e)
{
	const dns_status_info *si = dns_status_describe(x->status);
	const char *meaning = si->meaning;
	char extra[300] = "";

	/* RFC 8945 5.2.2 reserves BADKEY for a key the server does not know; Knot
	 * also sends it for an update its ACL denies to a key it knows.  The
	 * server's signed answers to our queries tell the two apart. */
	if (x->status == DNS_BADKEY && u->tsig_known)
		meaning = "the server knows the TSIG key (it signed its answers to our "
			  "queries with it) but refuses this update for it: its access rules "
			  "(update-policy, or a Knot ACL) do not let this key change these records";

	if (x->status == DNS_BADTIME && x->replied && x->reply.skew)
		snprintf(extra, sizeof(extra), " (its clock is %lld s %s ours)",
			 (long long)(x->reply.skew < 0 ? -x->reply.skew : x->reply.skew),
			 x->reply.skew < 0 ? "behind" : "ahead of");
	else if (x->status == DNS_BADSIG || x->status == DNS_BADKEY)
		snprintf(extra, sizeof(extra), " (key %s, %s)", u->o->tsig ? u->o->tsig->name : "-",
			 u->o->tsig ? u->o->tsig->alg_name : "-");
	else if (x->note[0])
		snprintf(extra, sizeof(extra), " (%s%s)", x->ignored ? "not believed: " : "",
			 x->note);
	return pf_err_set(e, EIO, "%s: %s from %s: %s%s%s", what, si->name, x->server->label,
			  meaning, extra,
			  x->replied && !x->reply.verified && u->o->tsig && x->status != DNS_NOERROR
				  ? " [reply not TSIG-verified]"
				  : "");
}

/* The questions of one read of the update server: the zone's SOA and the
 * TLSA RRsets of some owners, signed together (one exchange with the
 * privileged process, not one a query). */
typedef struct read_qs {
	size_t n;
	dns_request *rqs;
	size_t *which;      /* per question: its owner; n_owners for the SOA */
	uint64_t signed_at; /* pf_mono_usec */
} read_qs;

static void read_qs_free(read_qs *q)
{
	for (size_t j = 0; j < q->n; j++)
		dns_request_free(&q->rqs[j]);
	free(q->rqs);
	free(q->which);
	memset(q, 0, sizeof(*q));
}

/* The questions for the owners marked in mask (NULL: every owner). */
static int read_prepare(const upd *u, const bool *mask, read_qs *q, pf_err *e)
{
	size_t n = 1, k = 0;
	int r;

	memset(q, 0, sizeof(*q));
	for (size_t i = 0; i < u->n_owners; i++)
		n += !mask || mask[i];
	q->rqs = pf_calloc(n, sizeof(*q->rqs));
	q->which = pf_calloc(n, sizeof(*q->which));
	ldns_pkt **pkts = pf_calloc(n, sizeof(*pkts));
	for (size_t i = 0; i <= u->n_owners; i++) {
		const char *name;

		if (i == u->n_owners)
			name = u->o->zone->zone;
		else if (!mask || mask[i])
			name = u->owners[i].name;
		else
			continue;
		pkts[k] = dns_query_pkt(
			name, i == u->n_owners ? LDNS_RR_TYPE_SOA : LDNS_RR_TYPE_TLSA, false, true);
		if (!pkts[k]) {
			for (size_t j = 0; j < k; j++)
				ldns_pkt_free(pkts[j]);
			free(pkts);
			read_qs_free(q);
			return pf_err_set(e, EINVAL, "\"%.100s\" is not a valid name", name);
		}
		q->which[k++] = i;
	}
	r = dns_requests_init(q->rqs, pkts, k, u->o->tsig, e);
	free(pkts);
	q->n = k;
	q->signed_at = pf_mono_usec();
	if (r < 0)
		read_qs_free(q);
	return r;
}

/* Ask the questions of q (freed) and take what the update server serves. */
static int read_run(upd *u, read_qs *q, pf_err *e)
{
	const dns_target *srv = &u->o->zone->update;
	size_t n = q->n, *which = q->which;
	dns_request *rqs = q->rqs;
	int r = 0;
	dns_xfer *xs = pf_calloc(n ? n : 1, sizeof(*xs));

	for (size_t k = 0; k < n; k++) {
		xs[k].server = &srv->addr;
		xs[k].req = &rqs[k];
	}
	dns_net_run(xs, n, &u->net);
	for (size_t j = 0; j < n && r == 0; j++) {
		dns_xfer *x = &xs[j];
		size_t i = which[j];
		char what[400];

		snprintf(what, sizeof(what), "reading %s %s from the update server",
			 i == u->n_owners ? u->o->zone->zone : u->owners[i].name,
			 i == u->n_owners ? "SOA" : "TLSA");
		if (x->replied && x->reply.verified)
			u->tsig_known = true;
		if (!x->replied || (x->status != DNS_NOERROR && x->status != DNS_NXDOMAIN)) {
			r = xfer_error(u, x, what, e);
			break;
		}
		if (!ldns_pkt_aa(x->reply.pkt)) {
			r = pf_err_set(e, EIO,
				       "%s: %s is not authoritative for %s (AA bit clear): it "
				       "cannot be the update server",
				       what, x->server->label, u->o->zone->zone);
			break;
		}
		ldns_rr_list *ans = ldns_pkt_answer(x->reply.pkt);
		if (i == u->n_owners) {
			bool soa = false;

			u->zone_signed = false;
			for (size_t a = 0; a < ldns_rr_list_rr_count(ans); a++) {
				ldns_rr *rr = ldns_rr_list_rr(ans, a);

				if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA &&
				    ldns_rr_rd_count(rr) == 7) {
					u->serial = ldns_rdf2native_int32(ldns_rr_rdf(rr, 2));
					u->soa_min = ldns_rdf2native_int32(ldns_rr_rdf(rr, 6));
					u->soa_ttl = ldns_rr_ttl(rr);
					soa = true;
				}
				if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_RRSIG &&
				    ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(rr)) ==
					    LDNS_RR_TYPE_SOA)
					u->zone_signed = true;
			}
			if (!soa)
				r = pf_err_set(e, EIO, "%s: no SOA record in the reply from %s",
					       what, x->server->label);
			continue;
		}
		owner_state *os = &u->owners[i];
		ldns_rr_list_deep_free(os->rrs);
		os->rrs = ldns_rr_list_new();
		os->rrsig = false;
		os->ttl = 0;
		for (size_t a = 0; a < ldns_rr_list_rr_count(ans); a++) {
			ldns_rr *rr = ldns_rr_list_rr(ans, a);

			if (ldns_dname_compare(ldns_rr_owner(rr), os->dname) != 0)
				continue;
			if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_TLSA) {
				ldns_rr_list_push_rr(os->rrs, ldns_rr_clone(rr));
				os->ttl = ldns_rr_ttl(rr);
			} else if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_RRSIG &&
				   ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(rr)) ==
					   LDNS_RR_TYPE_TLSA) {
				os->rrsig = true;
			}
		}
		os->reread = false;
	}
	for (size_t j = 0; j < n; j++)
		dns_xfer_clear(&xs[j]);
	free(xs);
	read_qs_free(q);
	return r;
}

/*
 * Read the SOA and the TLSA RRsets of the owners marked reread (all when
 * all) from the update server.  Returns 0 or -errno.
 */
static int read_state(upd *u, bool all, pf_err *e)
{
	bool *mask = NULL;
	read_qs q;
	int r;

	if (!all) {
		mask = pf_calloc(u->n_owners + 1, sizeof(*mask));
		for (size_t i = 0; i < u->n_owners; i++)
			mask[i] = u->owners[i].reread;
	}
	r = read_prepare(u, mask, &q, e);
	free(mask);
	return r < 0 ? r : read_run(u, &q, e);
}

/* Record the first-read facts and decide, per pending change, whether
 * anything must be sent.  Returns the number still to send. */
static size_t classify(upd *u, dns_change *ch, size_t n)
{
	size_t todo = 0;

	for (size_t i = 0; i < n; i++) {
		dns_change *c = &ch[i];
		owner_state *os = &u->owners[u->owner_of[i]];
		bool is = served(os, c);
		size_t count = ldns_rr_list_rr_count(os->rrs);

		if (!os->first_read_done) {
			c->existed_before = count > 0;
			c->ttl_before = count ? os->ttl : 0;
		}
		c->others = (unsigned)(count - (is ? 1 : 0));
		if (c->result != DNS_CH_PENDING)
			continue;
		if ((c->op == DNS_OP_ADD) == is) {
			c->result = DNS_CH_ALREADY;
			if (c->op == DNS_OP_ADD)
				c->ttl = os->ttl;
			continue;
		}
		todo++;
	}
	for (size_t k = 0; k < u->n_owners; k++)
		u->owners[k].first_read_done = true;
	return todo;
}

/* Append to p the prerequisite and the updates of one owner's changes. */
static void add_group(upd *u, ldns_pkt *p, size_t owner, dns_change *ch, size_t n)
{
	owner_state *os = &u->owners[owner];
	size_t count = ldns_rr_list_rr_count(os->rrs);

	if (count == 0) {
		/* RFC 2136 2.4.3 "RRset does not exist". */
		ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER,
				 tlsa_rr(os->dname, LDNS_RR_CLASS_NONE, 0, NULL));
	} else {
		/* RFC 2136 2.4.2 "RRset exists (value dependent)": exactly the
		 * records read, TTL 0. */
		for (size_t i = 0; i < count; i++) {
			ldns_rr *rr = ldns_rr_clone(ldns_rr_list_rr(os->rrs, i));
			ldns_rr_set_ttl(rr, 0);
			ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
			ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr);
		}
	}
	for (size_t i = 0; i < n; i++) {
		dns_change *c = &ch[i];

		if (u->owner_of[i] != owner || c->result != DNS_CH_PENDING)
			continue;
		if (c->op == DNS_OP_ADD) {
			/* Join an existing RRset with its TTL: changing it would
			 * change other hosts' records. */
			c->ttl = count ? os->ttl : u->o->ttl;
			ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY,
					 tlsa_rr(os->dname, LDNS_RR_CLASS_IN, c->ttl, c));
		} else {
			/* RFC 2136 2.5.4 "Delete an RR from an RRset". */
			ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY,
					 tlsa_rr(os->dname, LDNS_RR_CLASS_NONE, 0, c));
		}
	}
}

static ldns_pkt *new_update(const upd *u)
{
	ldns_pkt *p = ldns_pkt_new();
	ldns_rr *q = ldns_rr_new();

	ldns_pkt_set_opcode(p, LDNS_PACKET_UPDATE);
	ldns_pkt_set_rd(p, false);
	ldns_rr_set_question(q, true);
	ldns_rr_set_owner(q, ldns_dname_new_frm_str(u->o->zone->zone));
	ldns_rr_set_type(q, LDNS_RR_TYPE_SOA);
	ldns_rr_set_class(q, LDNS_RR_CLASS_IN);
	ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, q);
	return p;
}

static size_t wire_size(const ldns_pkt *p)
{
	uint8_t *w = NULL;
	size_t len = 0;

	if (dns_pkt_wire(p, &w, &len) < 0)
		len = SIZE_MAX;
	free(w);
	return len;
}

/* An upper bound of what one owner's group adds to a message, without
 * compression. */
static size_t group_bound(const upd *u, size_t owner, const dns_change *ch, size_t n)
{
	const owner_state *os = &u->owners[owner];
	size_t nl = ldns_rdf_size(os->dname), b = 0, count = ldns_rr_list_rr_count(os->rrs);

	b += count ? 0 : nl + 10;
	for (size_t i = 0; i < count; i++)
		b += nl + 10 + ldns_rr_uncompressed_size(ldns_rr_list_rr(os->rrs, i));
	for (size_t i = 0; i < n; i++)
		if (u->owner_of[i] == owner && ch[i].result == DNS_CH_PENDING)
			b += nl + 10 + 3 + ch[i].rd.len;
	return b;
}

/* One message with the groups of the owners gs[from, to). */
static ldns_pkt *build_message(upd *u, dns_change *ch, size_t n, const size_t *gs, size_t from,
			       size_t to)
{
	ldns_pkt *p = new_update(u);

	for (size_t g = from; g < to; g++)
		add_group(u, p, gs[g], ch, n);
	return p;
}

/*
 * Pack the pending changes into messages: whole owner groups (their
 * prerequisite and updates must travel together), as many per message as fit
 * once compressed.  Returns the number of messages in *ret (the caller frees
 * them), or -EMSGSIZE when one group alone is too big.
 *
 * A message only grows with each group added, so the most groups that fit
 * are found by halving between a count that fits and one that does not.  The
 * first try is all that are left (what fits the whole change in one
 * message, the usual case, renders it once); the second is the share of
 * them the limit is of that message's size.  Rendering a compressed message
 * of 60 KB costs milliseconds: measuring again as each group was added had
 * cost tens of them.
 */
static int pack(upd *u, dns_change *ch, size_t n, ldns_pkt ***ret, size_t **ret_owners_end,
		pf_err *e)
{
	const size_t limit = DNS_UPDATE_MAX_WIRE - TSIG_ROOM;
	ldns_pkt **msgs = NULL, *head = new_update(u);
	size_t n_msgs = 0, *ends = NULL, ng = 0, base = wire_size(head);
	bool *has = pf_calloc(u->n_owners + 1, sizeof(*has));
	size_t *gs = pf_calloc(u->n_owners + 1, sizeof(*gs));
	size_t *cum = pf_calloc(u->n_owners + 2, sizeof(*cum)); /* bounds of gs[0, g) */
	int r = 0;

	ldns_pkt_free(head);
	for (size_t i = 0; i < n; i++)
		if (ch[i].result == DNS_CH_PENDING)
			has[u->owner_of[i]] = true;
	for (size_t k = 0; k < u->n_owners; k++)
		if (has[k]) {
			cum[ng + 1] = cum[ng] + group_bound(u, k, ch, n);
			gs[ng++] = k;
		}
	for (size_t from = 0; from < ng;) {
		size_t lo = from, hi = ng + 1, next = ng; /* lo fits, hi does not */
		ldns_pkt *best = NULL;

		if (base + cum[ng] - cum[from] <= limit) {
			best = build_message(u, ch, n, gs, from, ng);
			lo = ng;
		}
		while (hi - lo > 1) {
			ldns_pkt *p = build_message(u, ch, n, gs, from, next);
			size_t size = wire_size(p);

			if (size <= limit) {
				ldns_pkt_free(best);
				best = p;
				lo = next;
			} else {
				ldns_pkt_free(p);
				hi = next;
			}
			if (hi - lo <= 1)
				break;
			next = lo + (hi - lo) / 2;
			if (size > limit && hi == ng) {
				size_t guess = from + (size_t)((double)(ng - from) * limit / size);
				if (guess > lo && guess < hi)
					next = guess;
			}
		}
		if (lo == from) {
			/* Alone in its message and still too large. */
			r = pf_err_set(e, EMSGSIZE,
				       "the TLSA RRset of %s is too large for one update message",
				       u->owners[gs[from]].name);
			for (size_t m = 0; m < n_msgs; m++)
				ldns_pkt_free(msgs[m]);
			free(msgs);
			free(ends);
			msgs = NULL;
			ends = NULL;
			break;
		}
		msgs = pf_realloc(msgs, (n_msgs + 1) * sizeof(*msgs));
		ends = pf_realloc(ends, (n_msgs + 1) * sizeof(*ends));
		msgs[n_msgs] = best;
		ends[n_msgs++] = lo < ng ? gs[lo] : u->n_owners;
		from = lo;
	}
	free(has);
	free(gs);
	free(cum);
	if (r < 0)
		return r;
	*ret = msgs;
	*ret_owners_end = ends;
	return (int)n_msgs;
}

static void print_message(FILE *out, const ldns_pkt *p, const dns_update_opts *o, size_t i,
			  size_t n)
{
	static const struct {
		ldns_pkt_section s;
		const char *name;
	} secs[] = {{LDNS_SECTION_QUESTION, "ZONE"},
		    {LDNS_SECTION_ANSWER, "PREREQUISITE"},
		    {LDNS_SECTION_AUTHORITY, "UPDATE"}};

	fprintf(out, ";; UPDATE message %zu of %zu to %s, %zu bytes before TSIG%s%s%s\n", i + 1, n,
		o->zone->update.addr.label, wire_size(p), o->tsig ? ", signed with key " : "",
		o->tsig ? o->tsig->name : "", o->tsig ? "" : ", not signed");
	for (size_t s = 0; s < 3; s++) {
		ldns_rr_list *l = ldns_pkt_get_section_clone(p, secs[s].s);

		fprintf(out, ";; %s SECTION:\n", secs[s].name);
		for (size_t k = 0; k < ldns_rr_list_rr_count(l); k++) {
			char *t = ldns_rr2str(ldns_rr_list_rr(l, k));
			fprintf(out, "%s%s", s == 0 ? ";" : "", t ? t : "?\n");
			free(t);
		}
		ldns_rr_list_deep_free(l);
	}
	fputc('\n', out);
}

/*
 * Send one message, retrying (bounded, backing off) on the statuses whose
 * action is RETRY other than prerequisite failures.  Returns 0 for a verified
 * NOERROR, 1 for a failed prerequisite (read again), or -errno.
 */
static int send_message(upd *u, ldns_pkt *p, size_t i, size_t n_msgs, pf_err *e)
{
	dns_request rq;
	dns_xfer x = {0};
	unsigned backoff = u->net.timeout_ms / 2;
	char what[400];
	int r;

	if ((r = dns_request_init(&rq, ldns_pkt_clone(p), u->o->tsig, e)) < 0)
		return r;
	snprintf(what, sizeof(what), "update %zu of %zu for zone %s", i + 1, n_msgs,
		 u->o->zone->zone);
	for (unsigned attempt = 1;; attempt++) {
		x.server = &u->o->zone->update.addr;
		x.req = &rq;
		x.tcp = rq.len > UDP_MAX;
		vlog(u, "sending %s to %s over %s (%zu bytes, attempt %u)", what, x.server->label,
		     x.tcp ? "TCP" : "UDP", rq.len, attempt);
		dns_net_run(&x, 1, &u->net);
		const dns_status_info *si = dns_status_describe(x.status);
		if (x.replied && x.status == DNS_NOERROR && (x.reply.verified || !u->o->tsig)) {
			r = 0;
			break;
		}
		if (x.replied && (x.status == DNS_NXRRSET || x.status == DNS_YXRRSET) &&
		    (x.reply.verified || !u->o->tsig)) {
			vlog(u, "%s: %s: %s; reading the RRsets again", what, si->name,
			     si->meaning);
			r = 1;
			break;
		}
		bool retry = si->action == DNS_ACT_RETRY && x.status != DNS_NXRRSET &&
			     x.status != DNS_YXRRSET;
		if (!retry || attempt >= MAX_ATTEMPTS) {
			r = xfer_error(u, &x, what, e);
			if (retry)
				pf_err_prefix(e, "after %u attempts", attempt);
			break;
		}
		vlog(u, "%s: %s from %s; trying again in %u ms", what, si->name, x.server->label,
		     backoff);
		dns_xfer_clear(&x);
		sleep_ms(backoff);
		backoff *= 2;
		/* A new ID and a fresh signature for each attempt. */
		if ((r = dns_request_set_id(&rq, dns_random_id(), e)) < 0)
			break;
	}
	dns_xfer_clear(&x);
	dns_request_free(&rq);
	return r;
}

/*
 * The first owner (only `only`, unless that is SIZE_MAX) whose change the
 * last read does not show served (and signed when the zone is), or
 * SIZE_MAX when every one is.
 */
static size_t first_missing(const upd *u, const dns_change *ch, size_t n, const bool *in_msg,
			    size_t only)
{
	for (size_t i = 0; i < n; i++) {
		size_t k = u->owner_of[i];
		const owner_state *os = &u->owners[k];

		if (!in_msg[k] || ch[i].result != DNS_CH_PENDING || (only != SIZE_MAX && k != only))
			continue;
		if (served(os, &ch[i]) != (ch[i].op == DNS_OP_ADD))
			return k;
		if (u->zone_signed && ldns_rr_list_rr_count(os->rrs) && !os->rrsig)
			return k;
	}
	return SIZE_MAX;
}

/*
 * Wait until the update server serves the changes of the owners in_msg
 * marks: added records present, deleted ones absent, and signed when the
 * zone is.
 *
 * Reading every owner is hundreds of signed queries, so between those
 * reads only the SOA and one owner are asked (the owner read last, or the
 * one the last full read found missing), every SOA_POLL_FIRST_MS for the
 * first 4 s, then less often, up to every SOA_POLL_MAX_MS.
 * When the serial first moves (BIND's inline signing serves a change with a
 * new serial once it is signed: half a second for a thousand records) or
 * that owner shows its change (a server that does not move the serial on an
 * update, e.g. PowerDNS without SOA-EDIT-DNSUPDATE), every owner is read
 * at once.  Full reads also come on their own, after 1 s, 1.5 s ... up to
 * every 4 s.  Returns 0 or -ETIMEDOUT.
 */
#define SOA_POLL_FIRST_MS 20
#define SOA_POLL_FAST_US (4000 * 1000) /* every SOA_POLL_FIRST_MS this long */
#define SOA_POLL_MAX_MS 250
#define FULL_READ_FIRST_MS 1000
#define FULL_READ_MAX_MS 4000
/* The next full read's questions are signed while waiting (hundreds of
 * signatures: tens of milliseconds, no longer after the serial moved), and
 * used at most this long after, well inside the TSIG fudge. */
#define PRESIGNED_MAX_US (60 * 1000000ull)

static int wait_visible(upd *u, dns_change *ch, size_t n, const bool *in_msg, pf_err *e)
{
	uint64_t t0 = pf_mono_usec(), limit_us = (uint64_t)u->net.timeout_ms * 15 * 1000;
	uint64_t next_full = t0 + FULL_READ_FIRST_MS * 1000, now = t0;
	unsigned full_step = FULL_READ_FIRST_MS, soa_step = SOA_POLL_FIRST_MS;
	uint32_t seen = u->serial; /* the serial the last full read saw */
	size_t canary = SIZE_MAX, missing = SIZE_MAX;
	bool full = false, on_serial = true, late = false;
	read_qs next = {0};
	int r;

	for (size_t k = 0; k < u->n_owners; k++)
		if (in_msg[k])
			canary = k;
	if (canary == SIZE_MAX)
		return 0;
	for (;;) {
		for (size_t k = 0; k < u->n_owners; k++)
			u->owners[k].reread = full ? in_msg[k] : k == canary;
		if (full && next.n && pf_mono_usec() - next.signed_at < PRESIGNED_MAX_US)
			r = read_run(u, &next, e); /* the owners in_msg, as asked */
		else
			r = read_state(u, false, e);
		if (r < 0)
			break;
		now = pf_mono_usec();
		if (!full && ((on_serial && u->serial != seen) ||
			      first_missing(u, ch, n, in_msg, canary) == SIZE_MAX)) {
			full = true;
			continue;
		}
		if (full) {
			seen = u->serial;
			if ((missing = first_missing(u, ch, n, in_msg, SIZE_MAX)) == SIZE_MAX)
				break;
			/* Watched from now on: the owner still missing.  A serial
			 * that moved without our change served is another
			 * writer's; in a busy zone following it would read every
			 * owner on each of their updates. */
			canary = missing;
			on_serial = false;
			if ((late = now - t0 >= limit_us))
				break;
			next_full = now + (uint64_t)full_step * 1000;
			full_step = full_step * 3 / 2 > FULL_READ_MAX_MS ? FULL_READ_MAX_MS
									 : full_step * 3 / 2;
		}
		uint64_t wake = now + (uint64_t)soa_step * 1000;
		if (wake > next_full)
			wake = next_full;
		if (next.n && now - next.signed_at >= PRESIGNED_MAX_US)
			read_qs_free(&next);
		if (!next.n && (r = read_prepare(u, in_msg, &next, e)) < 0)
			break;
		now = pf_mono_usec();
		if (wake > now)
			sleep_ms((unsigned)((wake - now + 999) / 1000));
		if (now - t0 >= SOA_POLL_FAST_US)
			soa_step = soa_step * 3 / 2 > SOA_POLL_MAX_MS ? SOA_POLL_MAX_MS
								      : soa_step * 3 / 2;
		now = pf_mono_usec();
		full = now >= next_full;
	}
	read_qs_free(&next);
	if (!late)
		return r;
	return pf_err_set(e, ETIMEDOUT,
			  "the update server %s acknowledged the update (verified NOERROR) but "
			  "after %u s still does not serve the change at %s%s; no further update "
			  "is sent until it does",
			  u->o->zone->update.addr.label, (unsigned)((now - t0) / 1000000),
			  u->owners[missing].name, u->zone_signed ? " signed" : "");
}

int dns_update_apply(const dns_update_opts *o, dns_change *ch, size_t n, dns_update_result *res,
		     pf_err *e)
{
	upd u = {.o = o};
	uint64_t t0 = pf_mono_usec();
	int r = 0;

	memset(res, 0, sizeof(*res));
	dns_net_opts_default(&u.net);
	/* One owner_state per distinct owner, in order of first appearance. */
	tlsa_owner_index ix;
	tlsa_owner_index_build(n ? ch[0].owner : "", sizeof(*ch), n, &ix);
	u.owner_of = ix.of;
	ix.of = NULL;
	u.owners = pf_calloc(ix.n + 1, sizeof(*u.owners));
	for (size_t i = 0; i < n; i++)
		ch[i].result = DNS_CH_PENDING;
	for (size_t k = 0; k < ix.n && r == 0; k++) {
		snprintf(u.owners[k].name, sizeof(u.owners[k].name), "%s", ix.owners[k]);
		u.owners[k].dname = ldns_dname_new_frm_str(ix.owners[k]);
		if (!u.owners[k].dname)
			r = pf_err_set(e, EINVAL, "\"%.100s\" is not a valid name", ix.owners[k]);
		else
			u.n_owners++;
	}
	tlsa_owner_index_free(&ix);
	if (r < 0)
		goto out;
	if ((r = read_state(&u, true, e)) < 0)
		goto out;
	for (unsigned round = 1;; round++) {
		ldns_pkt **msgs = NULL;
		size_t *ends = NULL;

		if (classify(&u, ch, n) == 0)
			break;
		if (round > MAX_ROUNDS) {
			r = pf_err_set(
				e, EAGAIN,
				"the TLSA RRsets kept changing while being updated (%u reads "
				"in %.1f s); another writer is active: try again later",
				MAX_ROUNDS, (double)(pf_mono_usec() - t0) / 1e6);
			goto out;
		}
		int nm = pack(&u, ch, n, &msgs, &ends, e);
		if (nm < 0) {
			r = nm;
			goto out;
		}
		if (o->dry_run) {
			for (int m = 0; m < nm; m++)
				print_message(o->dry_run, msgs[m], o, (size_t)m, (size_t)nm);
			for (int m = 0; m < nm; m++)
				ldns_pkt_free(msgs[m]);
			free(msgs);
			free(ends);
			goto out;
		}
		bool *in_msg = pf_calloc(u.n_owners + 1, sizeof(*in_msg));
		size_t start = 0;
		bool prereq_failed = false;
		for (int m = 0; m < nm && r == 0; m++) {
			memset(in_msg, 0, (u.n_owners + 1) * sizeof(*in_msg));
			for (size_t i = 0; i < n; i++) {
				size_t k = u.owner_of[i];
				if (ch[i].result == DNS_CH_PENDING && k >= start && k < ends[m])
					in_msg[k] = true;
			}
			start = ends[m];
			if (prereq_failed) {
				/* Owners after a failed message are read again too. */
				for (size_t k = 0; k < u.n_owners; k++)
					u.owners[k].reread |= in_msg[k];
				continue;
			}
			r = send_message(&u, msgs[m], (size_t)m, (size_t)nm, e);
			if (r == 1) {
				for (size_t k = 0; k < u.n_owners; k++)
					u.owners[k].reread |= in_msg[k];
				prereq_failed = true;
				r = 0;
				continue;
			}
			if (r < 0)
				break;
			res->messages++;
			res->t_pub = pf_now_ms();
			if ((r = wait_visible(&u, ch, n, in_msg, e)) < 0)
				break;
			for (size_t i = 0; i < n; i++)
				if (in_msg[u.owner_of[i]] && ch[i].result == DNS_CH_PENDING)
					ch[i].result = DNS_CH_DONE;
			res->serial = u.serial;
		}
		free(in_msg);
		for (int m = 0; m < nm; m++)
			ldns_pkt_free(msgs[m]);
		free(msgs);
		free(ends);
		if (r < 0)
			goto out;
		if (!prereq_failed)
			continue;
		/* Another writer won: pause (bounded, randomised) before reading
		 * again, so that the writers do not meet again at once. */
		unsigned pause = dns_update_backoff_ms(round, dns_random_id());
		if (pf_mono_usec() - t0 + (uint64_t)pause * 1000 >
		    (uint64_t)RETRY_BUDGET_MS * 1000) {
			r = pf_err_set(
				e, EAGAIN,
				"the TLSA RRsets kept changing while being updated (%u reads "
				"in %.1f s); another writer is active: try again later",
				round, (double)(pf_mono_usec() - t0) / 1e6);
			goto out;
		}
		vlog(&u, "another writer changed the RRsets: reading them again in %u ms", pause);
		sleep_ms(pause);
		if ((r = read_state(&u, false, e)) < 0)
			goto out;
	}
out:
	if (r < 0)
		for (size_t i = 0; i < n; i++)
			if (ch[i].result == DNS_CH_PENDING)
				ch[i].result = DNS_CH_FAILED;
	res->zone_signed = u.zone_signed;
	res->soa_ttl = u.soa_ttl;
	res->soa_minimum = u.soa_min;
	if (!res->serial)
		res->serial = u.serial;
	for (size_t k = 0; k < u.n_owners; k++) {
		ldns_rdf_deep_free(u.owners[k].dname);
		ldns_rr_list_deep_free(u.owners[k].rrs);
	}
	free(u.owners);
	free(u.owner_of);
	return r;
}
