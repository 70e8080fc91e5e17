/*
 * net_sign.c - the privileged side of TSIG for the network process: what
 * one update may have signed, the signing itself, and reply MAC checks (see
 * net_sign.h for the rules).
 *
 * The only DNS messages parsed here are the requests the network process
 * built - which an attacker who took it over could choose - never a
 * server's reply: a reply's MAC check gets the TSIG input made by the
 * network process and answers yes or no, so no reply octet is interpreted
 * in the process that holds the keys.
 */
#include "net_sign.h"
#include "dns_msg.h"
#include "macro.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

struct net_sign_owner {
	uint8_t name[PF_DNS_NAME_BUF]; /* canonical (lowercase) wire form */
	size_t len;
};

struct net_sign_record {
	net_sign_owner owner;
	uint8_t op;         /* 0 add, 1 delete */
	uint8_t rd[3 + 64]; /* usage, selector, matching type, data */
	size_t rd_len;
};

static int owner_cmp(const void *a, const void *b)
{
	const net_sign_owner *x = a, *y = b;

	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return memcmp(x->name, y->name, x->len);
}

static int record_cmp(const void *a, const void *b)
{
	const net_sign_record *x = a, *y = b;
	int c = owner_cmp(&x->owner, &y->owner);

	if (c)
		return c;
	if (x->op != y->op)
		return x->op < y->op ? -1 : 1;
	if (x->rd_len != y->rd_len)
		return x->rd_len < y->rd_len ? -1 : 1;
	return memcmp(x->rd, y->rd, x->rd_len);
}

/* o gets the canonical form of name d.  Returns false for what is not a
 * name. */
static bool set_owner(net_sign_owner *o, const ldns_rdf *d)
{
	size_t n = d ? ldns_rdf_size(d) : 0;

	if (!d || ldns_rdf_get_type(d) != LDNS_RDF_TYPE_DNAME || n == 0 || n > sizeof(o->name))
		return false;
	memcpy(o->name, ldns_rdf_data(d), n);
	/* Label lengths are below 64, so only the letters change. */
	for (size_t i = 0; i < n; i++)
		o->name[i] = (uint8_t)tolower(o->name[i]);
	o->len = n;
	return true;
}

/* o gets the canonical form of name (presentation form, absolute or not).
 * Returns false for what is not a name. */
static bool name_owner(const char *name, net_sign_owner *o)
{
	ldns_rdf *d = ldns_dname_new_frm_str(name);
	bool good = set_owner(o, d);

	ldns_rdf_deep_free(d);
	return good;
}

int net_signer_init(net_signer *s, const dns_tsig_key *key, const char *zone, const dns_change *ch,
		    size_t n, pf_err *e)
{
	net_sign_owner z;

	memset(s, 0, sizeof(*s));
	s->key = key;
	if (!name_owner(zone, &z))
		return pf_err_set(e, EINVAL, "\"%.100s\" is not a valid zone name", zone);
	memcpy(s->zone, z.name, z.len);
	s->zone_len = z.len;
	s->owners = pf_calloc(n + 1, sizeof(*s->owners));
	s->records = pf_calloc(n + 1, sizeof(*s->records));
	for (size_t i = 0; i < n; i++) {
		net_sign_record *r = &s->records[i];
		size_t dl =
			ch[i].rd.len > sizeof(ch[i].rd.data) ? sizeof(ch[i].rd.data) : ch[i].rd.len;

		if (!name_owner(ch[i].owner, &r->owner)) {
			net_signer_free(s);
			return pf_err_set(e, EINVAL, "\"%.100s\" is not a valid name", ch[i].owner);
		}
		r->op = ch[i].op == DNS_OP_DELETE;
		r->rd[0] = ch[i].rd.usage;
		r->rd[1] = ch[i].rd.selector;
		r->rd[2] = ch[i].rd.mtype;
		memcpy(r->rd + 3, ch[i].rd.data, dl);
		r->rd_len = 3 + dl;
		s->owners[i] = r->owner;
	}
	s->n_records = n;
	qsort(s->records, n, sizeof(*s->records), record_cmp);
	qsort(s->owners, n, sizeof(*s->owners), owner_cmp);
	for (size_t i = 0; i < n; i++)
		if (s->n_owners == 0 || owner_cmp(&s->owners[s->n_owners - 1], &s->owners[i]) != 0)
			s->owners[s->n_owners++] = s->owners[i];
	return 0;
}

void net_signer_free(net_signer *s)
{
	if (!s)
		return;
	free(s->owners);
	free(s->records);
	memset(s, 0, sizeof(*s));
}

/* ---- what may be signed ------------------------------------------------------- */

static int refuse(pf_err *e, const char *fmt, ...) PF_PRINTF(2, 3);
static int refuse(pf_err *e, const char *fmt, ...)
{
	char what[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return pf_err_set(e, EPERM, "asked to sign %s, which this update does not send; refused",
			  what);
}

/* A record or a question as text for a message, at most len-1 octets. */
static const char *rr_text(const ldns_rr *rr, char *buf, size_t len)
{
	char *t = ldns_rr2str(rr);
	size_t n;

	snprintf(buf, len, "%.150s", t ? t : "a record ldns cannot print");
	free(t);
	n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\t' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '\t')
			buf[i] = ' ';
	return buf;
}

static bool is_zone(const net_signer *s, const ldns_rr *rr)
{
	net_sign_owner o;

	return set_owner(&o, ldns_rr_owner(rr)) && o.len == s->zone_len &&
	       memcmp(o.name, s->zone, o.len) == 0;
}

static bool is_owner(const net_signer *s, const ldns_rr *rr)
{
	net_sign_owner o;

	return set_owner(&o, ldns_rr_owner(rr)) &&
	       bsearch(&o, s->owners, s->n_owners, sizeof(o), owner_cmp) != NULL;
}

/* Is rr (a TLSA record) one of the update's records, to be added (op 0) or
 * deleted (op 1)? */
static bool is_record(const net_signer *s, const ldns_rr *rr, uint8_t op)
{
	net_sign_record k = {.op = op};

	if (!set_owner(&k.owner, ldns_rr_owner(rr)))
		return false;
	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
		const ldns_rdf *f = ldns_rr_rdf(rr, i);
		size_t fl = ldns_rdf_size(f);

		if (fl > sizeof(k.rd) - k.rd_len)
			return false;
		memcpy(k.rd + k.rd_len, ldns_rdf_data(f), fl);
		k.rd_len += fl;
	}
	return bsearch(&k, s->records, s->n_records, sizeof(k), record_cmp) != NULL;
}

/* Returns 0 when query p asks the update server for the zone's SOA or the
 * TLSA RRset of one of the update's names, else -EPERM. */
static int allowed_query(const net_signer *s, const ldns_pkt *p, const ldns_rr *q, pf_err *e)
{
	char t[200];

	if (ldns_pkt_ancount(p) || ldns_pkt_nscount(p))
		return refuse(e, "a query with records in it");
	if (ldns_rr_get_type(q) == LDNS_RR_TYPE_SOA && is_zone(s, q))
		return 0;
	if (ldns_rr_get_type(q) == LDNS_RR_TYPE_TLSA && is_owner(s, q))
		return 0;
	return refuse(e, "a query for %s", rr_text(q, t, sizeof(t)));
}

/* Returns 0 when UPDATE p is one the update may send: the zone's, with
 * prerequisites on the TLSA RRsets of its names, and its own records as the
 * changes; else -EPERM. */
static int allowed_update(const net_signer *s, const ldns_pkt *p, const ldns_rr *zone, pf_err *e)
{
	const ldns_rr_list *pre = ldns_pkt_answer(p), *upd = ldns_pkt_authority(p);
	char t[200];

	if (ldns_rr_get_type(zone) != LDNS_RR_TYPE_SOA || !is_zone(s, zone))
		return refuse(e, "an update of %s", rr_text(zone, t, sizeof(t)));
	for (size_t i = 0; i < ldns_rr_list_rr_count(pre); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(pre, i);
		ldns_rr_class c = ldns_rr_get_class(rr);

		/* RFC 2136 2.4.3 "RRset does not exist", 2.4.2 "RRset exists
		 * (value dependent)": the two that dns_update.c makes. */
		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_TLSA || !is_owner(s, rr) ||
		    ldns_rr_ttl(rr) != 0 ||
		    !((c == LDNS_RR_CLASS_NONE && ldns_rr_rd_count(rr) == 0) ||
		      c == LDNS_RR_CLASS_IN))
			return refuse(e, "an update with the prerequisite %s",
				      rr_text(rr, t, sizeof(t)));
	}
	if (ldns_rr_list_rr_count(upd) == 0)
		return refuse(e, "an update that changes nothing");
	for (size_t i = 0; i < ldns_rr_list_rr_count(upd); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(upd, i);
		ldns_rr_class c = ldns_rr_get_class(rr);
		bool tlsa = ldns_rr_get_type(rr) == LDNS_RR_TYPE_TLSA;

		/* An add of one of its records, or RFC 2136 2.5.4 "delete an RR
		 * from an RRset" of one: never an RRset or a name deleted. */
		if (!(tlsa && c == LDNS_RR_CLASS_IN && is_record(s, rr, 0)) &&
		    !(tlsa && c == LDNS_RR_CLASS_NONE && ldns_rr_ttl(rr) == 0 &&
		      is_record(s, rr, 1)))
			return refuse(e, "an update with the change %s (class %u)",
				      rr_text(rr, t, sizeof(t)), (unsigned)c);
	}
	return 0;
}

/* Returns 0 when p is a request this update sends, else -EPERM. */
static int allowed(const net_signer *s, const ldns_pkt *p, pf_err *e)
{
	const ldns_rr_list *ql = ldns_pkt_question(p);
	const ldns_rr *q;

	if (ldns_pkt_qr(p) || ldns_pkt_tc(p) || ldns_pkt_get_rcode(p) != LDNS_RCODE_NOERROR)
		return refuse(e, "a message that is not a request");
	if (ldns_rr_list_rr_count(ql) != 1)
		return refuse(e, "a message with %zu questions", ldns_rr_list_rr_count(ql));
	q = ldns_rr_list_rr(ql, 0);
	if (ldns_rr_get_class(q) != LDNS_RR_CLASS_IN)
		return refuse(e, "a message of class %u", (unsigned)ldns_rr_get_class(q));
	/* EDNS is the pseudo-record ldns takes out; nothing else may be there. */
	if (ldns_rr_list_rr_count(ldns_pkt_additional(p)) != 0)
		return refuse(e, "a message with additional records");
	switch (ldns_pkt_get_opcode(p)) {
	case LDNS_PACKET_QUERY:
		return allowed_query(s, p, q, e);
	case LDNS_PACKET_UPDATE:
		return allowed_update(s, p, q, e);
	default:
		return refuse(e, "a message with opcode %u", (unsigned)ldns_pkt_get_opcode(p));
	}
}

int net_signer_sign(const net_signer *s, const uint8_t *wire, size_t len, uint8_t **ret,
		    size_t *ret_len, uint8_t *mac, size_t *mac_len, pf_err *e)
{
	ldns_pkt *p = NULL;
	uint8_t *out = NULL;
	size_t at, wl = 0;
	int found, r;

	if (len < 12 || len > NET_DNS_MAX)
		return refuse(e, "a message of %zu octets", len);
	/* The same walk dns_msg.c gives replies: a record past the end or
	 * octets after the last one, and ldns is never asked. */
	found = dns_tsig_find(wire, len, &at);
	if (found != 0)
		return refuse(e, found < 0 ? "a malformed message" : "a message already signed");
	if (ldns_wire2pkt(&p, wire, len) != LDNS_STATUS_OK || !p)
		return refuse(e, "a message that does not parse");
	r = allowed(s, p, e);
	/* What is signed is what was checked, as rendered here. */
	if (r == 0 && dns_pkt_wire(p, &out, &wl) < 0)
		r = pf_err_set(e, EINVAL, "cannot render a DNS message");
	ldns_pkt_free(p);
	if (r < 0)
		return r;
	if ((r = dns_tsig_sign(s->key, &out, &wl, pf_now(), NULL, 0, 0, NULL, 0, mac, mac_len)) <
	    0) {
		free(out);
		return pf_err_set(e, -r, "cannot TSIG-sign a DNS message: %s",
				  r == -EMSGSIZE ? "message too large" : strerror(-r));
	}
	*ret = out;
	*ret_len = wl;
	return 0;
}

bool net_signer_check(const net_signer *s, const uint8_t *input, size_t len, const uint8_t *mac,
		      size_t mac_len)
{
	return dns_tsig_mac_matches(s->key, input, len, mac, mac_len);
}

int net_signer_serve(const net_signer *s, uint32_t t, const net_buf *in, net_buf *out, pf_err *e)
{
	net_status st = {0};
	int rc;

	if (t == NET_SIGN_REQ) {
		const uint8_t *w;
		uint8_t *sw = NULL, mac[DNS_TSIG_MAC_MAX];
		size_t wl, sl = 0, ml = 0;

		if ((rc = net_dec_sign_req(in, &w, &wl, e)) < 0)
			return rc;
		st.rc = net_signer_sign(s, w, wl, &sw, &sl, mac, &ml, &st.err);
		if (st.rc == -EPERM) {
			/* An honest network process never asks: it is not one. */
			*e = st.err;
			e->code = EPROTO;
			return -EPROTO;
		}
		net_enc_sign_rep(out, &st, sw, sl, mac, ml);
		free(sw);
		return 0;
	}
	if (t == NET_MAC_REQ) {
		const uint8_t *input, *mac;
		size_t len, ml;

		if ((rc = net_dec_mac_req(in, &input, &len, &mac, &ml, e)) < 0)
			return rc;
		net_enc_mac_rep(out, net_signer_check(s, input, len, mac, ml));
		return 0;
	}
	return pf_err_set(e, EPROTO, "a %s during an update", net_type_name(t));
}
