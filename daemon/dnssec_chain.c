/*
 * dnssec_chain.c - the chain description a TLSA RRset is validated along,
 * and its front end from DNS replies in wire format.  Owns the checks a
 * reply's records pass before the validator sees them: the message is a
 * response to one question of class IN that the chain needs, and only
 * records of that question's owner, class and type (or RRSIGs covering that
 * type) from the answer section are kept - for a DS question answered
 * without DS, only the NSEC of that very name and its RRSIGs from the
 * authority section.  Everything else in a reply is ignored, so a server
 * cannot slip another zone's keys or another name's records into the chain.
 */
#include <errno.h>
#include <string.h>

#include "dnssec.h"

/* name as an absolute lowercase dname, or NULL. */
static ldns_rdf *dname_of(const char *name)
{
	ldns_rdf *d = NULL;
	size_t n = strlen(name);

	if (n == 0 || n > 254)
		return NULL;
	if (name[n - 1] == '.')
		d = ldns_dname_new_frm_str(name);
	else {
		char *abs = pf_asprintf("%s.", name);

		d = ldns_dname_new_frm_str(abs);
		free(abs);
	}
	if (d)
		ldns_dname2canonical(d);
	return d;
}

int dnssec_chain_new(const char *tlsa_name, const char *const *zones, size_t nzones,
		     dnssec_chain **ret, pf_err *e)
{
	dnssec_chain *c;

	if (nzones == 0 || nzones > DNSSEC_ZONES_MAX)
		return pf_err_usage(e, "a DNSSEC chain has 1 to %d zones, not %zu",
				    DNSSEC_ZONES_MAX, nzones);
	c = pf_calloc(1, sizeof(*c));
	c->keys = dnssec_keys_new();
	if (!(c->tlsa_name = dname_of(tlsa_name))) {
		dnssec_chain_free(c);
		return pf_err_usage(e, "not a domain name: \"%.100s\"", tlsa_name);
	}
	c->tlsa = ldns_rr_list_new();
	c->tlsa_sigs = ldns_rr_list_new();
	for (size_t i = 0; i < nzones; i++) {
		dnssec_zone *z = &c->zones[i];

		c->nzones = i + 1;
		z->dnskey = ldns_rr_list_new();
		z->dnskey_sigs = ldns_rr_list_new();
		z->ds = ldns_rr_list_new();
		z->ds_sigs = ldns_rr_list_new();
		z->nods = ldns_rr_list_new();
		z->nods_sigs = ldns_rr_list_new();
		if (!(z->name = dname_of(zones[i]))) {
			dnssec_chain_free(c);
			return pf_err_usage(e, "not a domain name: \"%.100s\"", zones[i]);
		}
		const ldns_rdf *below = i == 0 ? c->tlsa_name : c->zones[i - 1].name;
		bool nests = i == 0 ? ldns_dname_compare(below, z->name) == 0 ||
					      ldns_dname_is_subdomain(below, z->name)
				    : ldns_dname_is_subdomain(below, z->name);
		if (!nests) {
			dnssec_chain_free(c);
			return pf_err_usage(
				e, "zone %.100s of the DNSSEC chain is not above the one before it",
				zones[i]);
		}
	}
	*ret = c;
	return 0;
}

dnssec_chain *dnssec_chain_free(dnssec_chain *c)
{
	if (!c)
		return NULL;
	dnssec_keys_free(c->keys);
	ldns_rdf_deep_free(c->tlsa_name);
	ldns_rr_list_deep_free(c->tlsa);
	ldns_rr_list_deep_free(c->tlsa_sigs);
	for (size_t i = 0; i < c->nzones; i++) {
		dnssec_zone *z = &c->zones[i];

		ldns_rdf_deep_free(z->name);
		ldns_rr_list_deep_free(z->dnskey);
		ldns_rr_list_deep_free(z->dnskey_sigs);
		ldns_rr_list_deep_free(z->ds);
		ldns_rr_list_deep_free(z->ds_sigs);
		ldns_rr_list_deep_free(z->nods);
		ldns_rr_list_deep_free(z->nods_sigs);
	}
	free(c);
	return NULL;
}

int dnssec_chain_set_tlsa_name(dnssec_chain *c, const char *tlsa_name, pf_err *e)
{
	ldns_rdf *n = dname_of(tlsa_name);

	if (!n)
		return pf_err_usage(e, "not a domain name: \"%.100s\"", tlsa_name);
	if (ldns_dname_compare(n, c->zones[0].name) != 0 &&
	    !ldns_dname_is_subdomain(n, c->zones[0].name)) {
		ldns_rdf_deep_free(n);
		return pf_err_usage(e, "%.100s is not in the zone of the DNSSEC chain", tlsa_name);
	}
	ldns_rdf_deep_free(c->tlsa_name);
	c->tlsa_name = n;
	ldns_rr_list_deep_free(c->tlsa);
	ldns_rr_list_deep_free(c->tlsa_sigs);
	c->tlsa = ldns_rr_list_new();
	c->tlsa_sigs = ldns_rr_list_new();
	c->have_tlsa = false;
	return 0;
}

/* Where a reply's records go. */
struct slot {
	ldns_rr_list *rrs, *sigs;
	ldns_rr_list *nods, *nods_sigs; /* DS questions only */
	bool *have;
	const ldns_rdf *parent; /* DS questions: the zone that answers */
};

/* The slot the question (qname, qtype) fills, or false when the chain does
 * not ask it. */
static bool find_slot(dnssec_chain *c, const ldns_rdf *qname, ldns_rr_type qtype, struct slot *s)
{
	memset(s, 0, sizeof(*s));
	if (qtype == LDNS_RR_TYPE_TLSA && ldns_dname_compare(qname, c->tlsa_name) == 0) {
		*s = (struct slot){c->tlsa, c->tlsa_sigs, NULL, NULL, &c->have_tlsa, NULL};
		return true;
	}
	for (size_t i = 0; i < c->nzones; i++) {
		dnssec_zone *z = &c->zones[i];

		if (ldns_dname_compare(qname, z->name) != 0)
			continue;
		if (qtype == LDNS_RR_TYPE_DNSKEY) {
			*s = (struct slot){z->dnskey, z->dnskey_sigs,  NULL,
					   NULL,      &z->have_dnskey, NULL};
			return true;
		}
		/* The anchor's zone needs no DS: its anchor stands for it. */
		if (qtype == LDNS_RR_TYPE_DS && i + 1 < c->nzones) {
			*s = (struct slot){z->ds,        z->ds_sigs,  z->nods,
					   z->nods_sigs, &z->have_ds, c->zones[i + 1].name};
			return true;
		}
	}
	return false;
}

/* The type an RRSIG covers, or 0 for a malformed one. */
static ldns_rr_type covered(const ldns_rr *rr)
{
	const ldns_rdf *t = ldns_rr_rrsig_typecovered(rr);

	return t && ldns_rdf_size(t) == 2 ? ldns_rdf2native_int16(t) : 0;
}

/* Move rr (cloned) into list, within max.  Returns 0 or -EMSGSIZE. */
static int keep(ldns_rr_list *list, const ldns_rr *rr, size_t max, const char *what, pf_err *e)
{
	ldns_rr *copy;

	if (ldns_rr_list_rr_count(list) >= max)
		return pf_err_set(e, EMSGSIZE, "more than %zu %s in a reply", max, what);
	copy = ldns_rr_clone(rr);
	ldns_dname2canonical(ldns_rr_owner(copy));
	ldns_rr_list_push_rr(list, copy);
	return 0;
}

/* Keep the records of section that answer (qname, type): the type itself
 * into rrs, RRSIGs covering it into sigs.  Returns 0 or -EMSGSIZE. */
static int take(const ldns_rr_list *section, const ldns_rdf *qname, ldns_rr_type type,
		ldns_rr_list *rrs, ldns_rr_list *sigs, pf_err *e)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(section); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(section, i);
		int r = 0;

		if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN ||
		    ldns_dname_compare(ldns_rr_owner(rr), qname) != 0)
			continue;
		if (ldns_rr_get_type(rr) == type)
			r = keep(rrs, rr, DNSSEC_RRSET_MAX, "records of an RRset", e);
		else if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_RRSIG && covered(rr) == type &&
			 ldns_rr_rd_count(rr) == 9)
			r = keep(sigs, rr, DNSSEC_SIGS_MAX, "RRSIGs over an RRset", e);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Keep the NSEC3 records of section whose owner is qname's hash in the
 * parent zone (by their own parameters) and the RRSIGs over each.  Returns
 * 0 or -EMSGSIZE. */
static int take_nsec3(const ldns_rr_list *section, const ldns_rdf *qname, const ldns_rdf *parent,
		      ldns_rr_list *rrs, ldns_rr_list *sigs, pf_err *e)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(section); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(section, i);
		ldns_rdf *owner;
		int r;

		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_NSEC3 ||
		    ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN ||
		    !(owner = dnssec_nsec3_owner(rr, qname, parent)))
			continue;
		if (ldns_dname_compare(owner, ldns_rr_owner(rr)) == 0 &&
		    ldns_rr_list_rr_count(rrs) < DNSSEC_RRSET_MAX &&
		    (r = take(section, owner, LDNS_RR_TYPE_NSEC3, rrs, sigs, e)) < 0) {
			ldns_rdf_deep_free(owner);
			return r;
		}
		ldns_rdf_deep_free(owner);
		if (ldns_rr_list_rr_count(rrs) > 0)
			break; /* one matching NSEC3 (and its RRSIGs) is all it takes */
	}
	return 0;
}

int dnssec_chain_add_reply(dnssec_chain *c, const uint8_t *wire, size_t len, pf_err *e)
{
	ldns_pkt *p = NULL;
	int r;

	if (len > 65535 || ldns_wire2pkt(&p, wire, len) != LDNS_STATUS_OK)
		return pf_err_usage(e, "DNSSEC chain: a reply that is not a DNS message");
	r = dnssec_chain_add_pkt(c, p, e);
	ldns_pkt_free(p);
	return r;
}

int dnssec_chain_add_pkt(dnssec_chain *c, const ldns_pkt *p, pf_err *e)
{
	const ldns_rr_list *q;
	const ldns_rr *qrr;
	struct slot s;
	ldns_pkt_rcode rc;
	int r;

	q = ldns_pkt_question(p);
	rc = ldns_pkt_get_rcode(p);
	if (!ldns_pkt_qr(p) || ldns_pkt_get_opcode(p) != LDNS_PACKET_QUERY ||
	    ldns_rr_list_rr_count(q) != 1 ||
	    ldns_rr_get_class(qrr = ldns_rr_list_rr(q, 0)) != LDNS_RR_CLASS_IN ||
	    !ldns_rr_owner(qrr) || (rc != LDNS_RCODE_NOERROR && rc != LDNS_RCODE_NXDOMAIN)) {
		return pf_err_usage(
			e, "DNSSEC chain: not a NOERROR response to one question of class IN");
	}
	if (ldns_pkt_tc(p)) {
		return pf_err_set(e, EMSGSIZE, "DNSSEC chain: truncated reply");
	}
	ldns_rdf *qname = ldns_rdf_clone(ldns_rr_owner(qrr));
	ldns_rr_type qtype = ldns_rr_get_type(qrr);
	ldns_dname2canonical(qname);
	if (!find_slot(c, qname, qtype, &s)) {
		ldns_rdf_deep_free(qname);
		return pf_err_usage(e,
				    "DNSSEC chain: a reply to a question the chain does not ask");
	}
	if (*s.have) {
		ldns_rdf_deep_free(qname);
		return pf_err_set(e, EEXIST, "DNSSEC chain: that question was answered already");
	}
	/* Filled into fresh lists, moved into the slot only when all fit. */
	ldns_rr_list *rrs = ldns_rr_list_new(), *sigs = ldns_rr_list_new();
	ldns_rr_list *nods = ldns_rr_list_new(), *nods_sigs = ldns_rr_list_new();
	r = take(ldns_pkt_answer(p), qname, qtype, rrs, sigs, e);
	if (r == 0 && s.nods && ldns_rr_list_rr_count(rrs) == 0)
		r = take(ldns_pkt_authority(p), qname, LDNS_RR_TYPE_NSEC, nods, nods_sigs, e);
	if (r == 0 && s.nods && ldns_rr_list_rr_count(rrs) == 0)
		r = take_nsec3(ldns_pkt_authority(p), qname, s.parent, nods, nods_sigs, e);
	if (r == 0) {
		ldns_rr_list_cat(s.rrs, rrs);
		ldns_rr_list_cat(s.sigs, sigs);
		if (s.nods) {
			ldns_rr_list_cat(s.nods, nods);
			ldns_rr_list_cat(s.nods_sigs, nods_sigs);
		}
		*s.have = true;
		ldns_rr_list_free(rrs);
		ldns_rr_list_free(sigs);
		ldns_rr_list_free(nods);
		ldns_rr_list_free(nods_sigs);
	} else {
		ldns_rr_list_deep_free(rrs);
		ldns_rr_list_deep_free(sigs);
		ldns_rr_list_deep_free(nods);
		ldns_rr_list_deep_free(nods_sigs);
	}
	ldns_rdf_deep_free(qname);
	return r;
}
