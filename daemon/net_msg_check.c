/*
 * net_msg_check.c - the messages of the two checks the privileged process
 * runs through the network process: one propagation round over a zone's
 * check servers (dns_prop_run) and one STARTTLS probe (smtp_probe), their
 * field tables, their checks against the request, and their net_enc_* /
 * net_dec_* wrappers (see net_msg.c for the others and the rules).
 */
#include "net_msg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net_codec.h"
#include "dnssec.h"
#include "net_msg_int.h"
#include "util.h"

/* ---- propagation round ------------------------------------------------------------ */

static int check_opts(const dns_net_opts *o)
{
	return o->timeout_ms >= 1 && o->timeout_ms <= MAX_TIMEOUT_MS && o->retransmit_ms >= 1 &&
	       o->retransmit_ms <= MAX_TIMEOUT_MS && o->window >= 1 && o->window <= 64;
}

static const nc_field want_f[] = {
	{NC_S(dns_prop_want, owner, 1, NC_CL_NAME, "owner name")},
	{NC_SUB(dns_prop_want, rd, net_rdata_d, "TLSA record")},
	{NC_B(dns_prop_want, present, "present flag")},
};
static const nc_desc want_d = NC_DESC(dns_prop_want, want_f);

static const nc_field anchor_f[] = {
	{NC_S(dns_prop_anchor, rr, 1, NC_CL_LINE, "trust anchor")},
};
static const nc_desc anchor_d = NC_DESC(dns_prop_anchor, anchor_f);

#define PROP_DNSSEC NC_WHEN_SET(net_prop_req, have_dnssec)
static const nc_field prop_req_f[] = {
	{NC_SUB(net_prop_req, zone, net_zone_d, "zone")},
	{NC_U(net_prop_req, opts.timeout_ms, 4, 1, MAX_TIMEOUT_MS, "timeout")},
	{NC_U(net_prop_req, opts.retransmit_ms, 4, 1, MAX_TIMEOUT_MS, "retransmit interval")},
	{NC_U(net_prop_req, opts.window, 4, 1, 64, "window")},
	{NC_ARR(net_prop_req, want, n, NET_MAX_ITEMS, want_d, "wanted records")},
	{NC_U(net_prop_req, have_dnssec, 1, 0, 1, "validation flag")},
	{NC_ARR(net_prop_req, dnssec.anchors, dnssec.n_anchors, DNS_PROP_ANCHORS_MAX, anchor_d,
		"trust anchors"),
	 PROP_DNSSEC},
	{NC_ARR(net_prop_req, dnssec.above, dnssec.n_above, DNS_PROP_ABOVE_MAX, net_zone_d,
		"zones above"),
	 PROP_DNSSEC},
};
static const nc_desc prop_req_d = NC_DESC(net_prop_req, prop_req_f);

int net_enc_prop_req(net_buf *b, const dns_zone_info *z, const dns_prop_want *want, size_t n,
		     const dns_net_opts *o, pf_err *e)
{
	net_prop_req m = {*z, (dns_prop_want *)(uintptr_t)want, n, *o, 0, {0}};

	if (o->dnssec) {
		m.have_dnssec = 1;
		m.dnssec = *o->dnssec;
	}
	if (!check_opts(o))
		return pf_err_set(e, EINVAL, "DNS timeouts out of range");
	return nc_encode(b, NET_PROP_REQ, &prop_req_d, &m, e);
}

int net_dec_prop_req(const net_buf *b, net_prop_req *ret, pf_err *e)
{
	int rc = nc_decode(b, NET_PROP_REQ, &prop_req_d, ret, NULL, NULL, e);

	if (rc == 0)
		ret->opts.dnssec = ret->have_dnssec ? &ret->dnssec : NULL;
	return rc;
}

void net_prop_req_free(net_prop_req *r)
{
	if (!r)
		return;
	free(r->zone.checks);
	free(r->want);
	free(r->dnssec.anchors);
	dns_zones_free(r->dnssec.above, r->dnssec.n_above);
	memset(r, 0, sizeof(*r));
}

/* The zone, owner names and server addresses are the request's: the parent
 * sets them itself.  Only what the servers said travels, with the counts
 * it was made for. */
typedef struct prop_rep_msg {
	net_status st;
	size_t n_owners, n_want;
	dns_prop_round rd;
} prop_rep_msg;

typedef struct match_flag {
	bool match;
} match_flag;

static const nc_field rrset_f[] = {
	{NC_B(dns_prop_rrset, answered, "answered")},
	{NC_U32(dns_prop_rrset, n_rr, "record count")},
	{NC_U32(dns_prop_rrset, ttl, "TTL")},
	{NC_U32(dns_prop_rrset, orig_ttl, "original TTL")},
	{NC_B(dns_prop_rrset, rrsig, "RRSIG")},
	{NC_B(dns_prop_rrset, rrsig_expired, "RRSIG expired")},
	{NC_U(dns_prop_rrset, dnssec, 1, DNS_PROP_UNVALIDATED, DNS_PROP_INSECURE, "verdict")},
	{NC_U(dns_prop_rrset, reason, 1, DNSSEC_R_NONE, DNSSEC_R_NO_ANCHOR, "bogus reason")},
	{NC_U64(dns_prop_rrset, sig_expiry, "signature expiry")},
	{NC_S(dns_prop_rrset, dnssec_msg, 0, NC_CL_LINE, "verdict message")},
};
static const nc_desc rrset_d = NC_DESC(dns_prop_rrset, rrset_f);

static const nc_field match_f[] = {
	{NC_B(match_flag, match, "match")},
};
static const nc_desc match_d = NC_DESC(match_flag, match_f);

static const nc_field prop_server_f[] = {
	{NC_U(dns_prop_server, state, 1, DNS_PROP_OK, DNS_PROP_ERROR, "server state")},
	{NC_S(dns_prop_server, note, 0, NC_CL_LINE, "server note")},
	{NC_B(dns_prop_server, have_soa, "have SOA")},
	{NC_U32(dns_prop_server, serial, "serial")},
	{NC_U32(dns_prop_server, soa_ttl, "SOA TTL")},
	{NC_U32(dns_prop_server, soa_minimum, "SOA MINIMUM")},
	{NC_B(dns_prop_server, soa_signed, "SOA signed")},
	{NC_VEC(dns_prop_server, rrsets, prop_rep_msg, n_owners, NET_MAX_ITEMS, rrset_d, "RRsets")},
	{NC_VEC(dns_prop_server, match, prop_rep_msg, n_want, NET_MAX_ITEMS, match_d, "matches")},
	{NC_U32(dns_prop_server, n_match, "match count")},
	{NC_B(dns_prop_server, all_signed, "all signed")},
	{NC_B(dns_prop_server, complete, "complete")},
	{NC_U64(dns_prop_server, rtt_usec, "round-trip time")},
};
static const nc_desc prop_server_d = NC_DESC(dns_prop_server, prop_server_f);

/* The request a propagation reply answers. */
typedef struct prop_ctx {
	const dns_zone_info *z;
	size_t n_want, n_owners;
} prop_ctx;

/* Before the servers are read: the round is the request's. */
static void prop_counts(nc_reader *r, void *s, const void *ctx)
{
	const prop_rep_msg *m = s;
	const prop_ctx *c = ctx;

	if (m->n_owners != c->n_owners || m->n_want != c->n_want ||
	    m->rd.n_servers != c->z->n_checks)
		nc_bad(r,
		       "a round of %zu owners, %zu records, %zu servers for a request of %zu, "
		       "%zu, %zu",
		       m->n_owners, m->n_want, m->rd.n_servers, c->n_owners, c->n_want,
		       c->z->n_checks);
}

#define PROP_OK NC_WHEN_ZERO(prop_rep_msg, st.rc)
static const nc_field prop_rep_f[] = {
	{NC_SUB(prop_rep_msg, st, net_status_d, "status")},
	{NC_U32(prop_rep_msg, n_owners, "owner count"), PROP_OK},
	{NC_U32(prop_rep_msg, n_want, "record count"), PROP_OK},
	{NC_U32(prop_rep_msg, rd.n_servers, "server count"), PROP_OK},
	{NC_HK(prop_counts), PROP_OK},
	{NC_VEC(prop_rep_msg, rd.servers, prop_rep_msg, rd.n_servers, NET_MAX_SERVERS,
		prop_server_d, "servers"),
	 PROP_OK},
	{NC_U64(prop_rep_msg, rd.time, "time"), PROP_OK},
	{NC_B(prop_rep_msg, rd.all_complete, "all complete"), PROP_OK},
	{NC_B(prop_rep_msg, rd.zone_signed, "zone signed"), PROP_OK},
	{NC_U32(prop_rep_msg, rd.max_tlsa_ttl, "largest TTL"), PROP_OK},
	{NC_U32(prop_rep_msg, rd.soa_ttl, "SOA TTL"), PROP_OK},
	{NC_U32(prop_rep_msg, rd.soa_minimum, "SOA MINIMUM"), PROP_OK},
};
static const nc_desc prop_rep_d = NC_DESC(prop_rep_msg, prop_rep_f);

/* Each server's matches are counted right, complete means every record,
 * and all_complete agrees with the servers. */
static void prop_check(nc_reader *r, void *s, const void *ctx)
{
	const prop_rep_msg *m = s;
	bool all = true;

	(void)ctx;
	if (m->st.rc < 0)
		return;
	for (size_t i = 0; i < m->rd.n_servers && nc_ok(r); i++) {
		const dns_prop_server *ps = &m->rd.servers[i];
		size_t matched = 0;

		for (size_t w = 0; w < m->n_want; w++)
			matched += ps->match[w];
		for (size_t k = 0; k < m->n_owners && nc_ok(r); k++) {
			const dns_prop_rrset *rs = &ps->rrsets[k];

			if (rs->dnssec != DNS_PROP_UNVALIDATED && !rs->n_rr)
				nc_bad(r, "server %zu: a verdict on an empty RRset", i);
			else if (rs->dnssec != DNS_PROP_BOGUS && rs->reason != DNSSEC_R_NONE)
				nc_bad(r, "server %zu: a reason without a bogus verdict", i);
		}
		if (ps->n_match != matched)
			nc_bad(r, "server %zu: %zu matches counted as %zu", i, matched,
			       ps->n_match);
		else if (ps->complete && (ps->state != DNS_PROP_OK || ps->n_match != m->n_want))
			nc_bad(r, "server %zu complete without every record", i);
		all &= ps->complete;
	}
	if (nc_ok(r) && m->rd.all_complete != (all && m->rd.n_servers > 0))
		nc_bad(r, "all_complete does not agree with the servers");
}

int net_enc_prop_rep(net_buf *b, const net_status *st, const dns_prop_round *rd, pf_err *e)
{
	prop_rep_msg m = {net_status_norm(st), rd->n_owners, rd->n_want, *rd};

	return nc_encode(b, NET_PROP_REP, &prop_rep_d, &m, e);
}

int net_dec_prop_rep(const net_buf *b, const dns_zone_info *z, const dns_prop_want *want, size_t n,
		     net_status *ret_st, dns_prop_round *ret, pf_err *e)
{
	dns_prop_round own = {0};
	prop_rep_msg m;
	prop_ctx c;
	int rc;

	/* The distinct owners of want, exactly as dns_prop_run makes them. */
	dns_prop_round_owners(&own, want, n);
	c = (prop_ctx){z, n, own.n_owners};
	if ((rc = nc_decode(b, NET_PROP_REP, &prop_rep_d, &m, prop_check, &c, e)) < 0) {
		dns_prop_round_free(&own);
		return rc;
	}
	if (m.st.rc == 0) {
		snprintf(m.rd.zone, sizeof(m.rd.zone), "%s", z->zone);
		m.rd.want = want;
		m.rd.n_want = n;
		m.rd.owners = own.owners;
		m.rd.n_owners = own.n_owners;
		m.rd.want_owner = own.want_owner;
		for (size_t s = 0; s < m.rd.n_servers; s++)
			m.rd.servers[s].target = z->checks[s];
	} else {
		dns_prop_round_free(&own);
	}
	*ret_st = m.st;
	*ret = m.rd;
	return 0;
}

/* ---- STARTTLS probe ------------------------------------------------------------------ */

static const nc_field probe_req_f[] = {
	{NC_S(net_probe_req, ep.host, 1, NC_CL_NAME, "endpoint")},
	{NC_U16(net_probe_req, ep.port, "port")},
	{NC_S(net_probe_req, tlsa_host, 0, NC_CL_NAME, "TLSA host")},
	{NC_ARR(net_probe_req, records, n, NET_MAX_PROBE_RECORDS, net_rdata_d, "records")},
	{NC_UX(net_probe_req, want, 1, 1, 1, 0, PF_ALG_COUNT, "key algorithm")},
	{NC_U(net_probe_req, timeout_ms, 4, 1, MAX_TIMEOUT_MS, "timeout")},
};
static const nc_desc probe_req_d = NC_DESC(net_probe_req, probe_req_f);

int net_enc_probe_req(net_buf *b, const pf_hostport *ep, const char *tlsa_host,
		      const pf_tlsa_rdata *records, size_t n, enum pf_probe_want want,
		      int timeout_ms, pf_err *e)
{
	net_probe_req m = {.ep = *ep,
			   .records = (pf_tlsa_rdata *)(uintptr_t)records,
			   .n = n,
			   .want = want,
			   .timeout_ms = timeout_ms};

	if (timeout_ms < 1 || timeout_ms > MAX_TIMEOUT_MS)
		return pf_err_set(e, EINVAL, "probe timeout %d ms out of range", timeout_ms);
	snprintf(m.tlsa_host, sizeof(m.tlsa_host), "%s", tlsa_host ? tlsa_host : "");
	return nc_encode(b, NET_PROBE_REQ, &probe_req_d, &m, e);
}

int net_dec_probe_req(const net_buf *b, net_probe_req *ret, pf_err *e)
{
	return nc_decode(b, NET_PROBE_REQ, &probe_req_d, ret, NULL, NULL, e);
}

void net_probe_req_free(net_probe_req *r)
{
	if (!r)
		return;
	free(r->records);
	memset(r, 0, sizeof(*r));
}

/* The presented chain travels as an octet string (chain, chain_n) and is
 * copied into res.chain_der once decoded. */
typedef struct probe_rep_msg {
	net_status st;
	pf_probe_result res;
	const uint8_t *chain;
	size_t chain_n;
} probe_rep_msg;

static const nc_field probe_rep_f[] = {
	{NC_SUB(probe_rep_msg, st, net_status_d, "status")},
	{NC_S(probe_rep_msg, res.address, 0, NC_CL_LINE, "address")},
	{NC_S(probe_rep_msg, res.spki_sha256, 0, NC_CL_NAME, "SPKI digest")},
	{NC_UX(probe_rep_msg, res.alg, 1, 1, 1, 0, PF_ALG_COUNT, "key algorithm")},
	{NC_B(probe_rep_msg, res.dane_checked, "DANE checked")},
	{NC_B(probe_rep_msg, res.dane_ok, "DANE valid")},
	{NC_UX(probe_rep_msg, res.dane_depth, 1, 1, 1, 0, UINT8_MAX, "DANE depth")},
	{NC_S(probe_rep_msg, res.verify_error, 0, NC_CL_LINE, "verify error")},
	{NC_S(probe_rep_msg, res.leaf_sha256, 0, NC_CL_NAME, "leaf digest")},
	{NC_UX(probe_rep_msg, res.chain_len, 1, 1, 0, 0, UINT8_MAX, "chain length")},
	{NC_BL(probe_rep_msg, chain, chain_n, 0, PF_PROBE_CHAIN_MAX, "presented chain")},
};
static const nc_desc probe_rep_d = NC_DESC(probe_rep_msg, probe_rep_f);

static void probe_rep_check(nc_reader *r, void *s, const void *ctx)
{
	const pf_probe_result *res = &((const probe_rep_msg *)s)->res;
	size_t hl = strlen(res->spki_sha256);

	(void)ctx;
	size_t ll = strlen(res->leaf_sha256);

	if ((hl != 0 && hl != 64) || strspn(res->spki_sha256, "0123456789abcdef") != hl)
		nc_bad(r, "SPKI digest is not 64 lowercase hex digits");
	else if ((ll != 0 && ll != 64) || strspn(res->leaf_sha256, "0123456789abcdef") != ll)
		nc_bad(r, "leaf digest is not 64 lowercase hex digits");
	else if (res->dane_ok && !res->dane_checked)
		nc_bad(r, "DANE valid without a check");
	else if (((const probe_rep_msg *)s)->chain_n && (res->chain_len == 0 || ll == 0))
		nc_bad(r, "a presented chain without its leaf");
}

void net_enc_probe_rep(net_buf *b, const net_status *st, const pf_probe_result *res)
{
	probe_rep_msg m = {net_status_norm(st), *res, res->chain_der, res->chain_der_len};

	/* No array: nothing to refuse. */
	(void)nc_encode(b, NET_PROBE_REP, &probe_rep_d, &m, NULL);
}

int net_dec_probe_rep(const net_buf *b, net_status *ret_st, pf_probe_result *ret, pf_err *e)
{
	probe_rep_msg m;
	int rc;

	if ((rc = nc_decode(b, NET_PROBE_REP, &probe_rep_d, &m, probe_rep_check, NULL, e)) < 0)
		return rc;
	*ret_st = m.st;
	memcpy(m.res.chain_der, m.chain, m.chain_n);
	m.res.chain_der_len = m.chain_n;
	*ret = m.res;
	return 0;
}
