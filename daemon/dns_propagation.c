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
	size_t per, nx;
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
	rqs = pf_calloc(nx ? nx : 1, sizeof(*rqs));
	xs = pf_calloc(nx ? nx : 1, sizeof(*xs));
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
	/* Every question to every server at once: a server that never answers
	 * costs the one deadline, not one timeout per server. */
	if ((r = dns_net_run(xs, nx, o)) < 0 && nx) {
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
	rd.all_complete = rd.n_servers > 0;
	for (size_t s = 0; s < rd.n_servers; s++)
		rd.all_complete &= rd.servers[s].complete;
	*ret = rd;
	memset(&rd, 0, sizeof(rd));
out:
	for (size_t i = 0; i < nx; i++) {
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
