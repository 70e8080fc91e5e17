/*
 * dns_discover.c - zones, update server and check servers, found through the
 * configured resolvers (see dns_discover.h).
 */
#include "dns_discover.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESOLV_CONF "/etc/resolv.conf"

char *dns_name_canon(const char *name, char *buf, size_t len)
{
	size_t l = strlen(name);

	if (l == 0 || l + 2 > len)
		return NULL;
	for (size_t i = 0; i < l; i++)
		buf[i] = (char)tolower((unsigned char)name[i]);
	if (buf[l - 1] != '.')
		buf[l++] = '.';
	buf[l] = '\0';
	return buf;
}

bool dns_name_in_zone(const char *name, const char *zone)
{
	size_t nl = strlen(name), zl = strlen(zone);

	if (strcmp(zone, ".") == 0)
		return true;
	if (nl < zl || strcmp(name + nl - zl, zone) != 0)
		return false;
	return nl == zl || name[nl - zl - 1] == '.';
}

int dns_resolvers(const pf_config *cfg, dns_server **ret, size_t *n, pf_err *e)
{
	dns_server *v;
	size_t k = 0;

	if (cfg->dns_resolver.n) {
		v = pf_calloc(cfg->dns_resolver.n, sizeof(*v));
		for (size_t i = 0; i < cfg->dns_resolver.n; i++) {
			const pf_hostport *hp = &cfg->dns_resolver.v[i];
			if (dns_server_set(&v[k], hp->host, hp->port) == 0)
				k++;
		}
		*ret = v;
		*n = k;
		return 0;
	}
	char *text = NULL;
	int r = pf_read_file(RESOLV_CONF, 64 * 1024, &text, NULL, e);
	if (r < 0) {
		pf_err_prefix(e, "no dns_resolver is set, and %s cannot be read", RESOLV_CONF);
		return r;
	}
	v = pf_calloc(8, sizeof(*v));
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line && k < 8;
	     line = strtok_r(NULL, "\n", &save)) {
		char *s2 = NULL, *word = strtok_r(line, " \t", &s2);
		char *addr = word ? strtok_r(NULL, " \t", &s2) : NULL;

		if (word && addr && strcmp(word, "nameserver") == 0 &&
		    dns_server_set(&v[k], addr, 53) == 0)
			k++;
	}
	free(text);
	if (k == 0) {
		free(v);
		return pf_err_usage(e, "no dns_resolver is set and %s names no nameserver",
				    RESOLV_CONF);
	}
	*ret = v;
	*n = k;
	return 0;
}

static const char *type_name(ldns_rr_type t)
{
	switch (t) {
	case LDNS_RR_TYPE_SOA:
		return "SOA";
	case LDNS_RR_TYPE_NS:
		return "NS";
	case LDNS_RR_TYPE_A:
		return "A";
	case LDNS_RR_TYPE_AAAA:
		return "AAAA";
	default:
		return "?";
	}
}

/* One question for the resolvers. */
typedef struct rquery {
	char name[PF_DNS_NAME_BUF];
	ldns_rr_type type;
	ldns_pkt *reply; /* NOERROR or NXDOMAIN answer, owned */
	enum dns_status status;
	char note[200];
	const char *by; /* label of the last resolver asked */
} rquery;

/*
 * Ask every query of qs, each resolver in turn for the ones still without a
 * usable answer (NOERROR or NXDOMAIN).  Returns 0 when every query has one,
 * else -EIO with e naming the first that failed.
 */
static int resolve_all(const dns_server *res, size_t n_res, rquery *qs, size_t nq, pf_err *e)
{
	dns_net_opts o;
	dns_xfer *xs = pf_calloc(nq ? nq : 1, sizeof(*xs));
	dns_request *rqs = pf_calloc(nq ? nq : 1, sizeof(*rqs));
	size_t *idx = pf_calloc(nq ? nq : 1, sizeof(*idx));
	int r = 0;

	dns_net_opts_default(&o);
	for (size_t i = 0; i < nq; i++)
		qs[i].status = DNS_TIMEOUT;
	for (size_t ri = 0; ri < n_res; ri++) {
		size_t m = 0;

		for (size_t i = 0; i < nq; i++) {
			if (qs[i].reply)
				continue;
			ldns_pkt *p = dns_query_pkt(qs[i].name, qs[i].type, true, false);
			if (!p) {
				r = pf_err_set(e, EINVAL, "\"%.100s\" is not a valid domain name",
					       qs[i].name);
				goto out;
			}
			if ((r = dns_request_init(&rqs[m], p, NULL, e)) < 0)
				goto out;
			memset(&xs[m], 0, sizeof(xs[m]));
			xs[m].server = &res[ri];
			xs[m].req = &rqs[m];
			idx[m++] = i;
		}
		if (!m)
			break;
		dns_net_run(xs, m, &o);
		for (size_t j = 0; j < m; j++) {
			rquery *q = &qs[idx[j]];

			q->status = xs[j].status;
			q->by = res[ri].label;
			snprintf(q->note, sizeof(q->note), "%s", xs[j].note);
			if (xs[j].replied &&
			    (xs[j].status == DNS_NOERROR || xs[j].status == DNS_NXDOMAIN)) {
				q->reply = xs[j].reply.pkt;
				xs[j].reply.pkt = NULL;
			}
			dns_xfer_clear(&xs[j]);
			dns_request_free(&rqs[j]);
		}
	}
	for (size_t i = 0; i < nq; i++) {
		if (qs[i].reply)
			continue;
		const dns_status_info *si = dns_status_describe(qs[i].status);
		r = pf_err_set(e, EIO, "cannot look up %s %s: resolver %s: %s%s%s%s", qs[i].name,
			       type_name(qs[i].type), qs[i].by ? qs[i].by : "-", si->name,
			       qs[i].note[0] ? " (" : "", qs[i].note, qs[i].note[0] ? ")" : "");
		break;
	}
out:
	free(xs);
	free(rqs);
	free(idx);
	return r;
}

static void rdf_name(const ldns_rdf *rdf, char *buf, size_t len)
{
	char *s = ldns_rdf2str(rdf);

	if (!s || !dns_name_canon(s, buf, len))
		snprintf(buf, len, "?");
	free(s);
}

/* The zone of name according to an SOA reply, or "" when it does not say.
 * Returns -EINVAL (with e) when name is an alias. */
static int zone_from_reply(const char *name, ldns_pkt *p, char *zone, size_t len, pf_err *e)
{
	ldns_rr_list *ans = ldns_pkt_answer(p), *auth = ldns_pkt_authority(p);
	char owner[PF_DNS_NAME_BUF];

	zone[0] = '\0';
	for (size_t i = 0; i < ldns_rr_list_rr_count(ans); i++) {
		ldns_rr *rr = ldns_rr_list_rr(ans, i);

		rdf_name(ldns_rr_owner(rr), owner, sizeof(owner));
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME && strcmp(owner, name) == 0)
			return pf_err_set(e, EINVAL,
					  "%s is an alias (CNAME): TLSA records cannot be added "
					  "there",
					  name);
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA && strcmp(owner, name) == 0) {
			snprintf(zone, len, "%s", owner);
			return 0;
		}
	}
	for (size_t i = 0; i < ldns_rr_list_rr_count(auth); i++) {
		ldns_rr *rr = ldns_rr_list_rr(auth, i);

		rdf_name(ldns_rr_owner(rr), owner, sizeof(owner));
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA && dns_name_in_zone(name, owner)) {
			snprintf(zone, len, "%s", owner);
			return 0;
		}
	}
	return 0;
}

/* Find the zone of name by asking for SOA at name and then at each parent. */
static int walk_zone(const dns_server *res, size_t n_res, const char *name, char *zone, size_t len,
		     pf_err *e)
{
	const char *p = name;

	while (p && *p && strcmp(p, ".") != 0) {
		rquery q = {.type = LDNS_RR_TYPE_SOA};
		int r;

		snprintf(q.name, sizeof(q.name), "%s", p);
		if ((r = resolve_all(res, n_res, &q, 1, e)) < 0)
			return r;
		r = zone_from_reply(q.name, q.reply, zone, len, e);
		ldns_pkt_free(q.reply);
		if (r < 0)
			return r;
		if (zone[0])
			return 0;
		p = strchr(p, '.');
		if (p)
			p++;
	}
	return pf_err_set(e, ENOENT, "no zone found for %s: no SOA record above it", name);
}

static void add_target(dns_zone_info *z, const dns_server *a, const char *name, bool upd)
{
	for (size_t i = 0; i < z->n_checks; i++) {
		if (dns_server_equal(&z->checks[i].addr, a)) {
			z->checks[i].update_server |= upd;
			if (!z->checks[i].name[0] && name)
				snprintf(z->checks[i].name, sizeof(z->checks[i].name), "%s", name);
			return;
		}
	}
	z->checks = pf_realloc(z->checks, (z->n_checks + 1) * sizeof(*z->checks));
	dns_target *t = &z->checks[z->n_checks++];
	memset(t, 0, sizeof(*t));
	t->addr = *a;
	t->update_server = upd;
	if (name)
		snprintf(t->name, sizeof(t->name), "%s", name);
}

/* Order of check servers after the update server: by name, then address. */
static int target_cmp(const void *a, const void *b)
{
	const dns_target *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->addr.label, y->addr.label);
}

/* A host to turn into addresses. */
typedef struct hostreq {
	char name[PF_DNS_NAME_BUF];
	uint16_t port;
	bool update;
} hostreq;

/*
 * Resolve every host of hs (A and AAAA) and add each address to z's check
 * servers; the first address of an update host becomes z->update.  A host
 * with no address at all is an error: a server that cannot be asked can
 * never confirm anything.
 */
static int resolve_hosts(const dns_server *res, size_t n_res, hostreq *hs, size_t nh,
			 dns_zone_info *z, pf_err *e)
{
	rquery *qs = pf_calloc(2 * nh + 1, sizeof(*qs));
	size_t nq = 0;
	int r = 0;

	for (size_t i = 0; i < nh; i++) {
		dns_server a;

		if (dns_server_set(&a, hs[i].name, hs[i].port) == 0)
			continue; /* a literal needs no lookup */
		for (int t = 0; t < 2; t++) {
			snprintf(qs[nq].name, sizeof(qs[nq].name), "%s", hs[i].name);
			qs[nq++].type = t ? LDNS_RR_TYPE_AAAA : LDNS_RR_TYPE_A;
		}
	}
	if (nq && (r = resolve_all(res, n_res, qs, nq, e)) < 0)
		goto out;
	for (size_t i = 0; i < nh && r == 0; i++) {
		dns_server a;
		size_t found = 0;
		char canon[PF_DNS_NAME_BUF];

		if (dns_server_set(&a, hs[i].name, hs[i].port) == 0) {
			add_target(z, &a, NULL, hs[i].update);
			if (hs[i].update && !z->update.addr.salen)
				z->update.addr = a;
			continue;
		}
		dns_name_canon(hs[i].name, canon, sizeof(canon));
		for (size_t j = 0; j < nq; j++) {
			char qn[PF_DNS_NAME_BUF];

			dns_name_canon(qs[j].name, qn, sizeof(qn));
			if (strcmp(qn, canon) != 0 || !qs[j].reply)
				continue;
			ldns_rr_list *ans = ldns_pkt_answer(qs[j].reply);
			for (size_t k = 0; k < ldns_rr_list_rr_count(ans); k++) {
				ldns_rr *rr = ldns_rr_list_rr(ans, k);
				char *s;

				if (ldns_rr_get_type(rr) != qs[j].type || ldns_rr_rd_count(rr) < 1)
					continue;
				s = ldns_rdf2str(ldns_rr_rdf(rr, 0));
				if (s && dns_server_set(&a, s, hs[i].port) == 0) {
					add_target(z, &a, canon, hs[i].update);
					if (hs[i].update && !z->update.addr.salen) {
						z->update.addr = a;
						snprintf(z->update.name, sizeof(z->update.name),
							 "%s", canon);
					}
					found++;
				}
				free(s);
			}
		}
		if (!found)
			r = pf_err_set(e, ENOENT,
				       "%s (%s of zone %s) has no address (A or AAAA): it cannot "
				       "be asked",
				       canon, hs[i].update ? "the update server" : "a check server",
				       z->zone);
	}
out:
	for (size_t j = 0; j < nq; j++)
		ldns_pkt_free(qs[j].reply);
	free(qs);
	return r;
}

/* SOA, update server and check servers of one zone. */
static int discover_servers(const pf_config *cfg, const dns_server *res, size_t n_res,
			    dns_zone_info *z, pf_err *e)
{
	rquery q[2] = {{.type = LDNS_RR_TYPE_SOA}, {.type = LDNS_RR_TYPE_NS}};
	hostreq *hs = NULL;
	size_t nh = 0;
	int r;

	snprintf(q[0].name, sizeof(q[0].name), "%s", z->zone);
	snprintf(q[1].name, sizeof(q[1].name), "%s", z->zone);
	if ((r = resolve_all(res, n_res, q, 2, e)) < 0)
		goto out;
	for (size_t i = 0; i < ldns_rr_list_rr_count(ldns_pkt_answer(q[0].reply)); i++) {
		ldns_rr *rr = ldns_rr_list_rr(ldns_pkt_answer(q[0].reply), i);

		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA || ldns_rr_rd_count(rr) != 7)
			continue;
		rdf_name(ldns_rr_rdf(rr, 0), z->mname, sizeof(z->mname));
		z->serial = ldns_rdf2native_int32(ldns_rr_rdf(rr, 2));
		z->soa_minimum = ldns_rdf2native_int32(ldns_rr_rdf(rr, 6));
		z->soa_ttl = ldns_rr_ttl(rr);
	}
	if (!z->mname[0]) {
		r = pf_err_set(e, ENOENT, "zone %s: resolver %s gave no SOA record", z->zone,
			       q[0].by);
		goto out;
	}
	hs = pf_calloc(2 + cfg->dns_check_servers.n + cfg->dns_extra_check_servers.n +
			       ldns_rr_list_rr_count(ldns_pkt_answer(q[1].reply)),
		       sizeof(*hs));
	/* The update server first: it is always checked, hidden or not. */
	if (cfg->dns_update_server.n) {
		snprintf(hs[nh].name, sizeof(hs[nh].name), "%s", cfg->dns_update_server.v[0].host);
		hs[nh].port = cfg->dns_update_server.v[0].port;
	} else {
		snprintf(hs[nh].name, sizeof(hs[nh].name), "%s", z->mname);
	}
	hs[nh++].update = true;
	if (cfg->dns_check_servers.n) {
		for (size_t i = 0; i < cfg->dns_check_servers.n; i++) {
			snprintf(hs[nh].name, sizeof(hs[nh].name), "%s",
				 cfg->dns_check_servers.v[i].host);
			hs[nh++].port = cfg->dns_check_servers.v[i].port;
		}
	} else {
		ldns_rr_list *ans = ldns_pkt_answer(q[1].reply);
		for (size_t i = 0; i < ldns_rr_list_rr_count(ans); i++) {
			ldns_rr *rr = ldns_rr_list_rr(ans, i);

			if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_NS || ldns_rr_rd_count(rr) != 1)
				continue;
			rdf_name(ldns_rr_rdf(rr, 0), hs[nh].name, sizeof(hs[nh].name));
			hs[nh++].port = 0;
		}
		if (nh == 1) {
			r = pf_err_set(e, ENOENT, "zone %s: resolver %s gave no NS records",
				       z->zone, q[1].by);
			goto out;
		}
		for (size_t i = 0; i < cfg->dns_extra_check_servers.n; i++) {
			snprintf(hs[nh].name, sizeof(hs[nh].name), "%s",
				 cfg->dns_extra_check_servers.v[i].host);
			hs[nh++].port = cfg->dns_extra_check_servers.v[i].port;
		}
	}
	r = resolve_hosts(res, n_res, hs, nh, z, e);
	if (r == 0) {
		/* Keep the update server's entry first in the list. */
		for (size_t i = 0; i < z->n_checks; i++) {
			if (!dns_server_equal(&z->checks[i].addr, &z->update.addr))
				continue;
			dns_target t = z->checks[i];
			memmove(&z->checks[1], &z->checks[0], i * sizeof(t));
			z->checks[0] = t;
			break;
		}
		if (z->n_checks > 2)
			qsort(&z->checks[1], z->n_checks - 1, sizeof(*z->checks), target_cmp);
		z->update.update_server = true;
	}
out:
	free(hs);
	ldns_pkt_free(q[0].reply);
	ldns_pkt_free(q[1].reply);
	return r;
}

int dns_discover(const pf_config *cfg, char *const *owners, size_t n_owners, dns_zone_info **ret,
		 size_t *n_zones, size_t *owner_zone, pf_err *e)
{
	dns_server *res = NULL;
	size_t n_res = 0, nz = 0;
	dns_zone_info *zones = NULL;
	char(*zone_of)[PF_DNS_NAME_BUF] = pf_calloc(n_owners ? n_owners : 1, sizeof(*zone_of));
	rquery *qs = NULL;
	int r;

	if ((r = dns_resolvers(cfg, &res, &n_res, e)) < 0)
		goto out;
	if (cfg->dns_zone) {
		char z[PF_DNS_NAME_BUF];

		if (!dns_name_canon(cfg->dns_zone, z, sizeof(z))) {
			r = pf_err_usage(e, "dns_zone %.100s is not a domain name", cfg->dns_zone);
			goto out;
		}
		for (size_t i = 0; i < n_owners; i++) {
			if (!dns_name_in_zone(owners[i], z)) {
				r = pf_err_usage(e, "%s is not in dns_zone %s", owners[i], z);
				goto out;
			}
			snprintf(zone_of[i], sizeof(zone_of[i]), "%s", z);
		}
	} else {
		/* One SOA question per owner, all at once; the walk up the tree
		 * only for answers that do not name the zone. */
		qs = pf_calloc(n_owners ? n_owners : 1, sizeof(*qs));
		for (size_t i = 0; i < n_owners; i++) {
			snprintf(qs[i].name, sizeof(qs[i].name), "%s", owners[i]);
			qs[i].type = LDNS_RR_TYPE_SOA;
		}
		if ((r = resolve_all(res, n_res, qs, n_owners, e)) < 0) {
			pf_err_prefix(e, "cannot find the zone of the TLSA records");
			goto out;
		}
		for (size_t i = 0; i < n_owners; i++) {
			r = zone_from_reply(owners[i], qs[i].reply, zone_of[i], sizeof(zone_of[i]),
					    e);
			if (r == 0 && !zone_of[i][0])
				r = walk_zone(res, n_res, owners[i], zone_of[i], sizeof(zone_of[i]),
					      e);
			if (r < 0)
				goto out;
		}
	}
	for (size_t i = 0; i < n_owners; i++) {
		size_t z;

		for (z = 0; z < nz; z++)
			if (strcmp(zones[z].zone, zone_of[i]) == 0)
				break;
		if (z == nz) {
			zones = pf_realloc(zones, (nz + 1) * sizeof(*zones));
			memset(&zones[nz], 0, sizeof(zones[nz]));
			snprintf(zones[nz].zone, sizeof(zones[nz].zone), "%s", zone_of[i]);
			nz++;
		}
		owner_zone[i] = z;
	}
	for (size_t z = 0; z < nz; z++)
		if ((r = discover_servers(cfg, res, n_res, &zones[z], e)) < 0)
			goto out;
	*ret = zones;
	*n_zones = nz;
	zones = NULL;
	nz = 0;
out:
	if (qs) {
		for (size_t i = 0; i < n_owners; i++)
			ldns_pkt_free(qs[i].reply);
		free(qs);
	}
	dns_zones_free(zones, nz);
	free(zone_of);
	free(res);
	return r;
}

dns_zone_info *dns_zones_free(dns_zone_info *z, size_t n)
{
	for (size_t i = 0; i < n && z; i++)
		free(z[i].checks);
	free(z);
	return NULL;
}
