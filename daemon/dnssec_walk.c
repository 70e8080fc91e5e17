/*
 * dnssec_walk.c - the trust anchors as the network process receives them,
 * and the zones above a round's zone up to an anchor's (dnssec_walk.h).
 */
#include "dnssec_walk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dnssec.h"

/* The anchors as one line of presentation text each. */
static int anchor_lines(const dnssec_anchors *a, dns_prop_dnssec *d, pf_err *e)
{
	size_t n = ldns_rr_list_rr_count(a->ds);

	if (n > DNS_PROP_ANCHORS_MAX)
		return pf_err_set(e, E2BIG, "more than %d trust anchors", DNS_PROP_ANCHORS_MAX);
	d->anchors = pf_calloc(n + 1, sizeof(*d->anchors));
	for (size_t i = 0; i < n; i++) {
		char *s = ldns_rr2str(ldns_rr_list_rr(a->ds, i)), *p;

		if (!s || strlen(s) >= sizeof(d->anchors[0].rr)) {
			free(s);
			return pf_err_set(e, E2BIG, "trust anchor %zu too long", i + 1);
		}
		for (p = s; *p; p++)
			if (*p == '\t' || *p == '\n')
				*p = ' ';
		snprintf(d->anchors[i].rr, sizeof(d->anchors[i].rr), "%s", s);
		free(s);
	}
	d->n_anchors = n;
	return 0;
}

/* The name one label up ("example.test." -> "test.", "test." -> "."). */
static void parent_name(const char *name, char *buf, size_t len)
{
	const char *dot = strchr(name, '.');

	snprintf(buf, len, "%s", dot && dot[1] ? dot + 1 : ".");
}

int dnssec_walk(dnssec_discover_fn discover, void *ud, const pf_config *cfg, const dns_zone_info *z,
		dns_prop_dnssec *ret, pf_err *e)
{
	dnssec_anchors *a = NULL;
	dns_prop_dnssec d = {0};
	char cur[PF_DNS_NAME_BUF];
	pf_config up;
	int rc;

	memset(ret, 0, sizeof(*ret));
	if ((rc = dnssec_anchors_load(cfg->dnssec_trust_anchor_file, &a, e)) < 0)
		return rc;
	if ((rc = anchor_lines(a, &d, e)) < 0)
		goto out;
	/* The zones above are found as any zone is, but their servers are
	 * their own NS addresses: none of this zone's server settings. */
	up = *cfg;
	up.dns_zone = NULL;
	memset(&up.dns_update_server, 0, sizeof(up.dns_update_server));
	memset(&up.dns_check_servers, 0, sizeof(up.dns_check_servers));
	memset(&up.dns_extra_check_servers, 0, sizeof(up.dns_extra_check_servers));
	d.above = pf_calloc(DNS_PROP_ABOVE_MAX, sizeof(*d.above));
	snprintf(cur, sizeof(cur), "%s", z->zone);
	for (;;) {
		ldns_rdf *n = ldns_dname_new_frm_str(cur);
		size_t have = n ? dnssec_anchors_count_for(a, n) : 0, nz = 0, oz = 0;
		dns_zone_info *zi = NULL;
		char pn[PF_DNS_NAME_BUF], *owner = pn;

		ldns_rdf_deep_free(n);
		if (have > 0 || strcmp(cur, ".") == 0)
			break; /* an anchor's zone, or none at all (bogus: no anchor) */
		if (d.n_above == DNS_PROP_ABOVE_MAX) {
			rc = pf_err_set(e, E2BIG, "more than %d zones above %s", DNS_PROP_ABOVE_MAX,
					z->zone);
			goto out;
		}
		parent_name(cur, pn, sizeof(pn));
		if ((rc = discover(ud, &up, &owner, 1, &zi, &nz, &oz, e)) < 0) {
			char m[sizeof(e->msg)];

			snprintf(m, sizeof(m), "%s", e->msg);
			pf_err_clear(e);
			rc = pf_err_set(e, -rc,
					"DNSSEC chain of %s: cannot find the servers of %s: %s",
					z->zone, pn, m);
			goto out;
		}
		if (nz == 0 || oz >= nz || zi[oz].n_checks == 0) {
			dns_zones_free(zi, nz);
			rc = pf_err_set(e, ENOENT, "DNSSEC chain of %s: no servers for %s", z->zone,
					pn);
			goto out;
		}
		if (!dns_name_in_zone(cur, zi[oz].zone) || strcmp(cur, zi[oz].zone) == 0) {
			rc = pf_err_set(e, EPROTO,
					"DNSSEC chain of %s: %s is in zone %s, not above %s",
					z->zone, pn, zi[oz].zone, cur);
			dns_zones_free(zi, nz);
			goto out;
		}
		d.above[d.n_above++] = zi[oz];
		zi[oz].checks = NULL;
		snprintf(cur, sizeof(cur), "%s", zi[oz].zone);
		dns_zones_free(zi, nz);
	}
	*ret = d;
	memset(&d, 0, sizeof(d));
	rc = 0;
out:
	dnssec_walk_free(&d);
	dnssec_anchors_free(a);
	return rc;
}

void dnssec_walk_free(dns_prop_dnssec *d)
{
	if (!d)
		return;
	free(d->anchors);
	dns_zones_free(d->above, d->n_above);
	memset(d, 0, sizeof(*d));
}
