/*
 * dns_propagation.c - one concurrent round of SOA and TLSA questions to every
 * check server, and what each one serves.
 */
#include "dns_propagation.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns_msg.h"
#include "dnssec.h"

/* Is rr (TLSA) the wanted record? */
static bool rr_is(const ldns_rr *rr, const pf_tlsa_rdata *rd)
{
	if (ldns_rr_rd_count(rr) != 4)
		return false;
	const ldns_rdf *d = ldns_rr_rdf(rr, 3);
	return ldns_rdf2native_int8(ldns_rr_rdf(rr, 0)) == rd->usage &&
	       ldns_rdf2native_int8(ldns_rr_rdf(rr, 1)) == rd->selector &&
	       ldns_rdf2native_int8(ldns_rr_rdf(rr, 2)) == rd->mtype &&
	       ldns_rdf_size(d) == rd->len && memcmp(ldns_rdf_data(d), rd->data, rd->len) == 0;
}

/* Is the RRSIG inside its validity period now?  (RFC 4034 3.1.5 serial
 * arithmetic on 32-bit times.) */
static bool rrsig_current(const ldns_rr *sig, int64_t now)
{
	uint32_t exp = ldns_rdf2native_time_t(ldns_rr_rrsig_expiration(sig));
	uint32_t inc = ldns_rdf2native_time_t(ldns_rr_rrsig_inception(sig));
	uint32_t t = (uint32_t)now;

	return dns_serial_ge(t, inc) && dns_serial_ge(exp, t);
}

static void note_once(dns_prop_server *s, enum dns_prop_state st, const char *fmt, ...)
	PF_PRINTF(3, 4);

static void note_once(dns_prop_server *s, enum dns_prop_state st, const char *fmt, ...)
{
	va_list ap;

	if (s->state != DNS_PROP_OK)
		return;
	s->state = st;
	va_start(ap, fmt);
	vsnprintf(s->note, sizeof(s->note), fmt, ap);
	va_end(ap);
}

/* Fold one accepted SOA reply into s. */
static void take_soa(dns_prop_server *s, ldns_pkt *p)
{
	ldns_rr_list *ans = ldns_pkt_answer(p);

	for (size_t i = 0; i < ldns_rr_list_rr_count(ans); i++) {
		ldns_rr *rr = ldns_rr_list_rr(ans, i);

		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA && ldns_rr_rd_count(rr) == 7) {
			s->have_soa = true;
			s->serial = ldns_rdf2native_int32(ldns_rr_rdf(rr, 2));
			s->soa_minimum = ldns_rdf2native_int32(ldns_rr_rdf(rr, 6));
			s->soa_ttl = ldns_rr_ttl(rr);
		} else if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_RRSIG &&
			   ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(rr)) == LDNS_RR_TYPE_SOA) {
			s->soa_signed = true;
		}
	}
}

/* Fold one accepted TLSA reply for owner k into s. */
static void take_tlsa(dns_prop_round *rd, dns_prop_server *s, size_t k, ldns_pkt *p, int64_t now)
{
	ldns_rr_list *ans = ldns_pkt_answer(p);
	ldns_rdf *owner = ldns_dname_new_frm_str(rd->owners[k]);
	dns_prop_rrset *rs = &s->rrsets[k];

	rs->answered = true;
	for (size_t i = 0; i < ldns_rr_list_rr_count(ans); i++) {
		ldns_rr *rr = ldns_rr_list_rr(ans, i);

		if (ldns_dname_compare(ldns_rr_owner(rr), owner) != 0)
			continue;
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_TLSA) {
			rs->n_rr++;
			rs->ttl = ldns_rr_ttl(rr);
			for (size_t w = 0; w < rd->n_want; w++)
				if (rd->want_owner[w] == k && rr_is(rr, &rd->want[w].rd))
					s->match[w] = true; /* "served"; inverted below */
		} else if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_RRSIG &&
			   ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(rr)) == LDNS_RR_TYPE_TLSA) {
			if (rrsig_current(rr, now)) {
				rs->rrsig = true;
				rs->orig_ttl = ldns_rdf2native_int32(ldns_rr_rrsig_origttl(rr));
			} else {
				rs->rrsig_expired = true;
			}
		}
	}
	ldns_rdf_deep_free(owner);
}

const char *dns_prop_verdict_name(enum dns_prop_verdict v)
{
	switch (v) {
	case DNS_PROP_VALIDATES:
		return "validates";
	case DNS_PROP_BOGUS:
		return "bogus";
	case DNS_PROP_INSECURE:
		return "insecure";
	default:
		return "not validated";
	}
}

/* The accepted authoritative NOERROR or NXDOMAIN reply of x (borrowed), or
 * NULL. */
static const ldns_pkt *auth_pkt(const dns_xfer *x)
{
	if (!x->replied || (x->status != DNS_NOERROR && x->status != DNS_NXDOMAIN) ||
	    !ldns_pkt_aa(x->reply.pkt))
		return NULL;
	return x->reply.pkt;
}

static void rrset_verdict(dns_prop_rrset *rs, enum dns_prop_verdict v, enum dnssec_reason why,
			  uint64_t expiry, const char *msg)
{
	rs->dnssec = (uint8_t)v;
	rs->reason = (uint8_t)why;
	rs->sig_expiry = expiry;
	pf_printable_copy(rs->dnssec_msg, sizeof(rs->dnssec_msg), msg);
}

/* The DNSSEC questions of a validating round: one DNSKEY question per
 * check server of the round's zone, and a DNSKEY and a DS question per
 * server of each zone above (the DS being the one of the zone below it).
 * They go out with the round's own SOA and TLSA questions, in the same
 * dns_net_run: a server that never answers costs the one deadline, not one
 * for the round and another for its keys.  rqs and xs point into the
 * round's arrays. */
typedef struct dnssec_asks {
	size_t n;
	dns_request *rqs;
	dns_xfer *xs;
	const char *zs[DNSSEC_ZONES_MAX]; /* the round's zone, then those above */
	size_t nz;
	size_t above_at[DNSSEC_ZONES_MAX]; /* the first question of zs[i + 1] */
	pf_err e;                          /* a question could not be made */
} dnssec_asks;

/* How many questions dnssec_asks_make asks for the round's zone z. */
static size_t dnssec_asks_count(const dns_zone_info *z, const dns_prop_dnssec *d)
{
	size_t total = z->n_checks;

	for (size_t i = 0; i < d->n_above && i + 1 < DNSSEC_ZONES_MAX; i++)
		total += 2 * d->above[i].n_checks;
	return total;
}

static int ask(dnssec_asks *a, const dns_server *srv, const char *name, ldns_rr_type t, pf_err *e)
{
	ldns_pkt *p = dns_query_pkt(name, t, false, true);
	int r;

	if (!p)
		return pf_err_set(e, EINVAL, "bad name %s in a DNSSEC question", name);
	if ((r = dns_request_init(&a->rqs[a->n], p, NULL, e)) < 0)
		return r;
	a->xs[a->n].server = srv;
	a->xs[a->n].req = &a->rqs[a->n];
	a->n++;
	return 0;
}

/* Make the questions into a (its rqs and xs room for dnssec_asks_count);
 * a question that cannot be made leaves a->e set, and every verdict of the
 * round says so. */
static void dnssec_asks_make(dnssec_asks *a, const dns_zone_info *z, const dns_prop_dnssec *d)
{
	a->zs[a->nz++] = z->zone;
	for (size_t i = 0; i < d->n_above && a->nz < DNSSEC_ZONES_MAX; i++)
		a->zs[a->nz++] = d->above[i].zone;
	for (size_t s = 0; s < z->n_checks; s++)
		if (ask(a, &z->checks[s].addr, z->zone, LDNS_RR_TYPE_DNSKEY, &a->e) < 0)
			return;
	for (size_t i = 0; i + 1 < a->nz; i++) {
		const dns_zone_info *up = &d->above[i];

		a->above_at[i] = a->n;
		for (size_t j = 0; j < up->n_checks; j++)
			if (ask(a, &up->checks[j].addr, up->zone, LDNS_RR_TYPE_DNSKEY, &a->e) < 0)
				return;
		for (size_t j = 0; j < up->n_checks; j++)
			if (ask(a, &up->checks[j].addr, a->zs[i], LDNS_RR_TYPE_DS, &a->e) < 0)
				return;
	}
}

typedef struct memo_rrset {
	uint8_t *form; /* dnssec_chain_tlsa_form of the RRset that validated */
	size_t len;
	size_t server; /* whose it was */
	dnssec_result res;
} memo_rrset;

static bool same_result(const dnssec_result *a, const dnssec_result *b)
{
	return a->verdict == b->verdict && a->reason == b->reason &&
	       a->earliest_expiry == b->earliest_expiry && strcmp(a->zone, b->zone) == 0 &&
	       strcmp(a->msg, b->msg) == 0;
}

/* The first usable reply among xs[from, to). */
static const ldns_pkt *first_pkt(const dnssec_asks *a, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		const ldns_pkt *p = auth_pkt(&a->xs[i]);

		if (p)
			return p;
	}
	return NULL;
}

/*
 * Validate every TLSA RRset the round found records in, each server's with
 * that server's DNSKEY RRset: the xs of the round (per questions a server,
 * the SOA first) hold its TLSA replies, a the answers to the DNSSEC
 * questions (asked in the same run).
 */
static void validate_round(dns_prop_round *rd, const dns_xfer *xs, size_t per,
			   const dns_net_opts *o, const dnssec_asks *a)
{
	const dns_prop_dnssec *d = o->dnssec;
	size_t nz = a->nz, len;
	dnssec_anchors *an = NULL;
	const ldns_pkt **above = NULL;
	pf_err ae = {0};
	const pf_err *e = &a->e;
	char *text = NULL;
	int arc;

	/* The anchors, parsed here again: the privileged side's file as text. */
	len = 0;
	text = pf_calloc(d->n_anchors * sizeof(d->anchors[0].rr) + 1, 1);
	for (size_t i = 0; i < d->n_anchors; i++)
		len += (size_t)sprintf(text + len, "%s\n", d->anchors[i].rr);
	arc = dnssec_anchors_parse("trust anchors", text, len, &an, &ae);
	free(text);

	/* Each zone above: its DNSKEY RRset and the DS of the one below. */
	above = pf_calloc(2 * nz + 1, sizeof(*above));
	for (size_t i = 0; !e->code && i + 1 < nz; i++) {
		size_t m = d->above[i].n_checks, b = a->above_at[i];

		above[2 * i] = first_pkt(a, b, b + m);
		above[2 * i + 1] = first_pkt(a, b + m, b + 2 * m);
	}
	/* Per owner, the first TLSA RRset that validated and its verdict:
	 * another server whose keys got the same result serving the same
	 * RRset, RRSIGs and DNSKEY RRset (in any order) gets the same verdict
	 * without verifying again.  The secondaries serve the primary's
	 * signatures, and verifying each RRSIG once a server was most of a
	 * round's CPU. */
	memo_rrset *memo = pf_calloc(rd->n_owners + 1, sizeof(*memo));
	dnssec_result *keys_of = pf_calloc(rd->n_servers + 1, sizeof(*keys_of));
	for (size_t s = 0; s < rd->n_servers; s++) {
		dns_prop_server *ps = &rd->servers[s];
		const ldns_pkt *key = e->code || s >= a->n ? NULL : auth_pkt(&a->xs[s]);
		dnssec_chain *c = NULL;
		dnssec_result keys = {0};
		bool judged = false, secure = false;

		/* One chain a server: its keys are judged once, then each TLSA
		 * RRset it serves along them. */
		for (size_t k = 0; k < rd->n_owners; k++) {
			dns_prop_rrset *rs = &ps->rrsets[k];
			dnssec_result res;
			pf_err ce = {0};
			const ldns_pkt *tp;

			if (!rs->n_rr)
				continue;
			if (arc < 0 || e->code) {
				rrset_verdict(rs, DNS_PROP_BOGUS, DNSSEC_R_INCOMPLETE, 0,
					      arc < 0 ? ae.msg : e->msg);
				continue;
			}
			if (c ? dnssec_chain_set_tlsa_name(c, rd->owners[k], &ce) < 0
			      : dnssec_chain_new(rd->owners[k], a->zs, nz, &c, &ce) < 0) {
				rrset_verdict(rs, DNS_PROP_BOGUS, DNSSEC_R_INCOMPLETE, 0, ce.msg);
				continue;
			}
			if (!judged) {
				judged = true;
				if (key)
					dnssec_chain_add_pkt(c, key, &ce);
				for (size_t i = 0; i + 1 < nz; i++)
					for (size_t q = 0; q < 2; q++)
						if (above[2 * i + q])
							dnssec_chain_add_pkt(c, above[2 * i + q],
									     &ce);
				secure = dnssec_validate_keys(c, an, rd->time, &keys);
				keys_of[s] = keys;
			}
			res = keys;
			if (secure) {
				memo_rrset *m = &memo[k];
				uint8_t *form;
				size_t flen = 0;

				if ((tp = auth_pkt(&xs[s * per + 1 + k])))
					dnssec_chain_add_pkt(c, tp, &ce);
				form = dnssec_chain_tlsa_form(c, &flen);
				if (form && m->form && flen == m->len &&
				    memcmp(form, m->form, flen) == 0 &&
				    same_result(&keys_of[m->server], &keys)) {
					res = m->res;
				} else {
					dnssec_validate_tlsa(c, rd->time, &res);
					if (form && !m->form && res.verdict == DNSSEC_VALIDATES) {
						m->form = form;
						m->len = flen;
						m->server = s;
						m->res = res;
						form = NULL;
					}
				}
				free(form);
			}
			rrset_verdict(rs,
				      res.verdict == DNSSEC_VALIDATES  ? DNS_PROP_VALIDATES
				      : res.verdict == DNSSEC_INSECURE ? DNS_PROP_INSECURE
								       : DNS_PROP_BOGUS,
				      res.reason,
				      res.earliest_expiry > 0 ? (uint64_t)res.earliest_expiry : 0,
				      res.msg);
		}
		dnssec_chain_free(c);
	}
	for (size_t k = 0; k < rd->n_owners; k++)
		free(memo[k].form);
	free(memo);
	free(keys_of);
	free(above);
	dnssec_anchors_free(an);
}

/* With validation, "signed" means no wanted RRset is bogus; the first
 * bogus one is the server's note when it has none. */
static void judge_signed(dns_prop_round *rd, dns_prop_server *ps, const dns_prop_want *want,
			 size_t n)
{
	ps->all_signed = true;
	for (size_t w = 0; w < n; w++) {
		const dns_prop_rrset *rs = &ps->rrsets[rd->want_owner[w]];

		if (!want[w].present || !rs->n_rr || rs->dnssec != DNS_PROP_BOGUS)
			continue;
		if (ps->all_signed && !ps->note[0])
			snprintf(ps->note, sizeof(ps->note), "DNSSEC bogus: %s", rs->dnssec_msg);
		ps->all_signed = false;
	}
}

void dns_prop_round_owners(dns_prop_round *rd, const dns_prop_want *want, size_t n)
{
	tlsa_owner_index ix;

	tlsa_owner_index_build(n ? want[0].owner : "", sizeof(*want), n, &ix);
	rd->owners = ix.owners;
	rd->n_owners = ix.n;
	rd->want_owner = ix.of;
}

int dns_prop_run(const dns_zone_info *z, const dns_prop_want *want, size_t n, const dns_net_opts *o,
		 dns_prop_round *ret, pf_err *e)
{
	dns_prop_round rd = {0};
	dnssec_asks a = {0};
	size_t per, nx, room;
	dns_request *rqs = NULL;
	dns_xfer *xs = NULL;
	int r = 0;

	snprintf(rd.zone, sizeof(rd.zone), "%s", z->zone);
	rd.want = want;
	rd.n_want = n;
	dns_prop_round_owners(&rd, want, n);
	rd.n_servers = z->n_checks;
	rd.servers = pf_calloc(rd.n_servers ? rd.n_servers : 1, sizeof(*rd.servers));
	per = 1 + rd.n_owners;
	nx = per * rd.n_servers;
	room = nx + (o->dnssec ? dnssec_asks_count(z, o->dnssec) : 0);
	rqs = pf_calloc(room ? room : 1, sizeof(*rqs));
	xs = pf_calloc(room ? room : 1, sizeof(*xs));
	for (size_t s = 0; s < rd.n_servers; s++) {
		dns_prop_server *ps = &rd.servers[s];

		ps->target = z->checks[s];
		ps->rrsets = pf_calloc(rd.n_owners ? rd.n_owners : 1, sizeof(*ps->rrsets));
		ps->match = pf_calloc(n ? n : 1, sizeof(*ps->match));
		for (size_t q = 0; q < per; q++) {
			size_t i = s * per + q;
			ldns_pkt *p = q == 0 ? dns_query_pkt(z->zone, LDNS_RR_TYPE_SOA, false, true)
					     : dns_query_pkt(rd.owners[q - 1], LDNS_RR_TYPE_TLSA,
							     false, true);
			if (!p) {
				r = pf_err_set(e, EINVAL, "bad name in propagation round");
				goto out;
			}
			if ((r = dns_request_init(&rqs[i], p, NULL, e)) < 0)
				goto out;
			xs[i].server = &ps->target.addr;
			xs[i].req = &rqs[i];
		}
	}
	if (o->dnssec) {
		a.rqs = rqs + nx;
		a.xs = xs + nx;
		dnssec_asks_make(&a, z, o->dnssec);
	}
	/* Every question to every server at once, the DNSSEC ones with them:
	 * a server that never answers costs the one deadline, not one timeout
	 * per server or per kind of question. */
	if ((r = dns_net_run(xs, nx + a.n, o)) < 0 && nx) {
		r = pf_err_set(e, -r, "cannot send DNS questions: %s", strerror(-r));
		goto out;
	}
	r = 0;
	rd.time = pf_now();
	for (size_t s = 0; s < rd.n_servers; s++) {
		dns_prop_server *ps = &rd.servers[s];
		char rb[16];

		for (size_t q = 0; q < per; q++) {
			dns_xfer *x = &xs[s * per + q];
			const char *qn = q == 0 ? z->zone : rd.owners[q - 1];
			const char *qt = q == 0 ? "SOA" : "TLSA";

			if (x->rtt_usec > ps->rtt_usec)
				ps->rtt_usec = x->rtt_usec;
			if (!x->replied) {
				note_once(ps, DNS_PROP_NO_ANSWER, "no answer within %u ms%s%s",
					  o->timeout_ms, x->note[0] ? "; " : "", x->note);
				continue;
			}
			if (x->status != DNS_NOERROR && x->status != DNS_NXDOMAIN) {
				note_once(ps, DNS_PROP_ERROR, "%s %s: %s", qn, qt,
					  dns_rcode_name(x->reply.rcode, rb, sizeof(rb)));
				continue;
			}
			if (!ldns_pkt_aa(x->reply.pkt)) {
				/* A lame server: its answer says nothing about the zone. */
				note_once(ps, DNS_PROP_ERROR, "not authoritative for %s", z->zone);
				continue;
			}
			if (q == 0)
				take_soa(ps, x->reply.pkt);
			else
				take_tlsa(&rd, ps, q - 1, x->reply.pkt, rd.time);
		}
		if (ps->state == DNS_PROP_OK && !ps->have_soa)
			note_once(ps, DNS_PROP_ERROR, "no SOA record for %s", z->zone);
		ps->all_signed = true;
		for (size_t w = 0; w < n; w++) {
			dns_prop_rrset *rs = &ps->rrsets[rd.want_owner[w]];

			if (!want[w].present)
				ps->match[w] = rs->answered && !ps->match[w];
			else if (!rs->answered)
				ps->match[w] = false;
			ps->n_match += ps->match[w];
			if (want[w].present && rs->n_rr && !rs->rrsig)
				ps->all_signed = false;
		}
		for (size_t k = 0; k < rd.n_owners; k++) {
			dns_prop_rrset *rs = &ps->rrsets[k];
			uint32_t t = rs->rrsig ? rs->orig_ttl : rs->ttl;
			if (rs->n_rr && t > rd.max_tlsa_ttl)
				rd.max_tlsa_ttl = t;
		}
		if (ps->soa_signed)
			rd.zone_signed = true;
		if (ps->soa_ttl > rd.soa_ttl)
			rd.soa_ttl = ps->soa_ttl;
		if (ps->soa_minimum > rd.soa_minimum)
			rd.soa_minimum = ps->soa_minimum;
		ps->complete = ps->state == DNS_PROP_OK && ps->n_match == n;
	}
	if (o->dnssec) {
		validate_round(&rd, xs, per, o, &a);
		for (size_t s = 0; s < rd.n_servers; s++)
			judge_signed(&rd, &rd.servers[s], want, n);
	}
	rd.all_complete = rd.n_servers > 0;
	for (size_t s = 0; s < rd.n_servers; s++)
		rd.all_complete &= rd.servers[s].complete;
	*ret = rd;
	memset(&rd, 0, sizeof(rd));
out:
	for (size_t i = 0; i < nx + a.n; i++) {
		dns_xfer_clear(&xs[i]);
		dns_request_free(&rqs[i]);
	}
	free(xs);
	free(rqs);
	dns_prop_round_free(&rd);
	return r;
}

void dns_prop_round_free(dns_prop_round *r)
{
	if (!r)
		return;
	for (size_t k = 0; k < r->n_owners; k++)
		free(r->owners[k]);
	free(r->owners);
	free(r->want_owner);
	for (size_t s = 0; s < r->n_servers; s++) {
		free(r->servers[s].rrsets);
		free(r->servers[s].match);
	}
	free(r->servers);
	memset(r, 0, sizeof(*r));
}
