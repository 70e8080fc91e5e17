/*
 * roll_publish.c - the TLSA records of the rollover's keys and the DNS
 * changes made of them: the host names, the records of a key (hosts x
 * ports x record types) in the state, their owners and zones, the RFC 2136
 * adds and deletes zone by zone; and the publish step, generated ->
 * published, which saves the RRsets as they were before its update (the
 * timing model's TTL inputs) and then adds the next keys' records.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dns_tsig.h"
#include "roll_int.h"
#include "tlsa.h"
#include "tlsa_records.h"
#include "macro.h"

/* tlsa_records_hosts_ask's question: Postfix's myhostname, through the
 * operations table (the handle opened first). */
static int ask_myhostname(void *arg, char **ret, pf_err *e)
{
	pf_roll *r = arg;
	int rc;

	if ((rc = roll_open_postfix(r, e)) < 0)
		return rc;
	return r->ops->myhostname(r->ops_data, ret, e);
}

/* The TLSA host names: tlsa_hostnames, or Postfix's myhostname. */
int roll_tlsa_hosts(pf_roll *r, pf_strv *ret, pf_err *e)
{
	return tlsa_records_hosts_ask(r->cfg, ask_myhostname, r, ret, e);
}

/* Add to the state the records of one key (every host x port x record
 * type, each owner and data once: tlsa_records.h).  Returns 0 or -errno. */
int roll_add_records(pf_roll *r, enum pf_role role, enum pf_alg alg, const char *keypath,
		     const char *certpath, const pf_strv *hosts, pf_err *e)
{
	const pf_config *cfg = r->cfg;
	tlsa_record_set set = {0};
	pf_tlsa_rdata *rd = NULL;
	int rc;

	rc = tlsa_for_files(keypath, certpath, cfg->tlsa_records, cfg->n_tlsa_records, &rd, e);
	if (rc == 0)
		rc = tlsa_records_add(&set, hosts, cfg->tlsa_ports, cfg->n_tlsa_ports, rd,
				      cfg->n_tlsa_records, 0, e);
	for (size_t i = 0; rc == 0 && i < set.n; i++)
		rc = pf_state_add_record(&r->st, role, alg, set.v[i].host, set.v[i].port,
					 &set.v[i].rd, e);
	tlsa_records_free(&set);
	free(rd);
	return rc;
}

/* Remove the records of role (used when a next key is made again). */
void roll_drop_records(pf_state *st, enum pf_role role, enum pf_alg alg)
{
	size_t w = 0;

	for (size_t i = 0; i < st->n_records; i++)
		if (!(st->records[i].role == role && st->records[i].alg == alg))
			st->records[w++] = st->records[i];
	st->n_records = w;
}

/* The record's canonical owner (kept by the state) into buf. */
static void owner_of(const pf_state_record *rec, char *buf, size_t len)
{
	snprintf(buf, len, "%s", rec->owner);
}

/* qsort_r order of record indexes: owner and data (pf_state_record_cmp),
 * then index, so the first of equal records comes first. */
static int idx_cmp(const void *pa, const void *pb, void *arg)
{
	const pf_state_record *recs = arg;
	size_t ia = *(const size_t *)pa, ib = *(const size_t *)pb;
	int c = pf_state_record_cmp(&recs[ia], &recs[ib]);

	return c ? c : ia < ib ? -1 : ia > ib;
}

static int size_cmp(const void *pa, const void *pb)
{
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;

	return a < b ? -1 : a > b;
}

/* The indexes of the records of role, sorted by owner and data, each
 * record once; returns how many.  ret must hold st->n_records entries. */
static size_t distinct_of_role(const pf_state *st, enum pf_role role, size_t *ret)
{
	size_t n = 0, w = 0;

	for (size_t i = 0; i < st->n_records; i++)
		if (st->records[i].role == role)
			ret[n++] = i;
	qsort_r(ret, n, sizeof(*ret), idx_cmp, st->records);
	for (size_t i = 0; i < n; i++)
		if (w == 0 ||
		    pf_state_record_cmp(&st->records[ret[w - 1]], &st->records[ret[i]]) != 0)
			ret[w++] = ret[i];
	return w;
}

/*
 * The records of role, each owner and data once, and for OLD without those
 * a NEXT record also provides (same owner and data, as after
 * new-server-cert: they must not be withdrawn); *ret gets indexes into
 * st->records in the state's order.  Sorted, not pairwise: with many names
 * there are thousands of records, and this runs in every step.
 */
size_t roll_select_records(const pf_state *st, enum pf_role role, size_t *ret)
{
	size_t n = distinct_of_role(st, role, ret);

	if (role == PF_ROLE_OLD && n) {
		size_t *next = pf_calloc(st->n_records + 1, sizeof(*next));
		size_t nn = distinct_of_role(st, PF_ROLE_NEXT, next), w = 0, j = 0;

		/* Both sorted by owner and data: one merge pass. */
		for (size_t i = 0; i < n; i++) {
			int c = 1;

			while (j < nn && (c = pf_state_record_cmp(&st->records[next[j]],
								  &st->records[ret[i]])) < 0)
				j++;
			if (j >= nn || c != 0)
				ret[w++] = ret[i];
		}
		n = w;
		free(next);
	}
	qsort(ret, n, sizeof(*ret), size_cmp);
	return n;
}

/* qsort_r order of record indexes by owner name only (port, host). */
static int owner_cmp(const void *pa, const void *pb, void *arg)
{
	const pf_state_record *recs = arg;
	const pf_state_record *a = &recs[*(const size_t *)pa], *b = &recs[*(const size_t *)pb];

	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	return strcasecmp(a->host, b->host);
}

/* Discover the zones of the records of the state (cached for a while).
 * Returns 0 or -errno. */
int roll_zones(pf_roll *r, pf_err *e)
{
	char **owners;
	size_t *oz, *idx, n = 0;
	int rc;

	if (r->zones && roll_now(r) - r->zones_at < ZONE_CACHE_SEC)
		return 0;
	dns_zones_free(r->zones, r->n_zones);
	r->zones = NULL;
	r->n_zones = 0;
	/* Each owner name once: every name has a record per algorithm, record
	 * type and role, and each owner costs an SOA question. */
	idx = pf_calloc(r->st.n_records + 1, sizeof(size_t));
	owners = pf_calloc(r->st.n_records + 1, sizeof(char *));
	oz = pf_calloc(r->st.n_records + 1, sizeof(size_t));
	for (size_t i = 0; i < r->st.n_records; i++)
		idx[i] = i;
	qsort_r(idx, r->st.n_records, sizeof(*idx), owner_cmp, r->st.records);
	for (size_t i = 0; i < r->st.n_records; i++) {
		const pf_state_record *rec = &r->st.records[idx[i]];

		if (i && owner_cmp(&idx[i - 1], &idx[i], r->st.records) == 0)
			continue;
		owners[n] = pf_malloc(300);
		owner_of(rec, owners[n++], 300);
	}
	rc = r->ops->discover(r->ops_data, r->cfg, owners, n, &r->zones, &r->n_zones, oz, e);
	for (size_t i = 0; i < n; i++)
		free(owners[i]);
	free(owners);
	free(oz);
	free(idx);
	if (rc == 0)
		r->zones_at = roll_now(r);
	return rc;
}

static int load_tsig(pf_roll *r, dns_tsig_key **ret, pf_err *e)
{
	*ret = NULL;
	if (!r->cfg->dns_tsig_key_file)
		return 0;
	return dns_tsig_key_load(r->cfg->dns_tsig_key_file, ret, e);
}

/* Send the adds or deletes of the records idx[0..n) zone by zone.
 * Returns 0 or -errno; res gets the last zone's result and the latest
 * T_pub. */
int roll_apply_changes(pf_roll *r, const size_t *idx, size_t n, enum dns_change_op op,
		       dns_update_result *res, pf_err *e)
{
	dns_tsig_key *key = NULL;
	dns_change *ch;
	int rc;

	memset(res, 0, sizeof(*res));
	if (n == 0)
		return 0;
	if ((rc = roll_zones(r, e)) < 0 || (rc = load_tsig(r, &key, e)) < 0)
		return rc;
	ch = pf_calloc(n, sizeof(*ch));
	for (size_t z = 0; rc == 0 && z < r->n_zones; z++) {
		dns_update_opts o = {.zone = &r->zones[z], .tsig = key, .ttl = r->cfg->tlsa_ttl};
		dns_update_result zr = {0};
		size_t m = 0;

		for (size_t i = 0; i < n; i++) {
			char owner[PF_OWNER_BUF];

			owner_of(&r->st.records[idx[i]], owner, sizeof(owner));
			if (!dns_name_in_zone(owner, r->zones[z].zone))
				continue;
			memset(&ch[m], 0, sizeof(ch[m]));
			snprintf(ch[m].owner, sizeof(ch[m].owner), "%.*s", PF_DNS_NAME_MAX, owner);
			ch[m].rd = r->st.records[idx[i]].rdata;
			ch[m].op = op;
			m++;
		}
		if (m == 0)
			continue;
		rc = r->ops->update_apply(r->ops_data, &o, ch, m, &zr, e);
		if (rc == 0) {
			int64_t t_pub = res->t_pub > zr.t_pub ? res->t_pub : zr.t_pub;
			*res = zr;
			res->t_pub = t_pub;
		}
	}
	free(ch);
	dns_tsig_key_free(key);
	return rc;
}

/* Fill want with the records idx[0..n) that lie in zone z; returns how
 * many.  want must hold n entries. */
size_t roll_wants_in_zone(const pf_roll *r, const size_t *idx, size_t n, const dns_zone_info *z,
			  bool present, dns_prop_want *want)
{
	size_t m = 0;

	for (size_t i = 0; i < n; i++) {
		char owner[PF_OWNER_BUF];

		owner_of(&r->st.records[idx[i]], owner, sizeof(owner));
		if (!dns_name_in_zone(owner, z->zone))
			continue;
		snprintf(want[m].owner, sizeof(want[m].owner), "%.*s", PF_DNS_NAME_MAX, owner);
		want[m].rd = r->st.records[idx[i]].rdata;
		want[m].present = present;
		m++;
	}
	return m;
}

/* generated -> published: save the RRsets as they are, then add. */
int roll_step_publish(pf_roll *r, pf_err *e)
{
	size_t *idx = pf_calloc(r->st.n_records + 1, sizeof(size_t)), n;
	dns_update_result res;
	int rc;

	if ((rc = roll_ensure_next_files(r, e)) < 0)
		goto out;
	n = roll_select_records(&r->st, PF_ROLE_NEXT, idx);
	if (r->st.n_rrsets == 0) {
		/* The TTL inputs of the timing model are the RRsets before our
		 * change: read them from every check server (the largest TTL
		 * any of them serves counts) and save them first. */
		dns_net_opts no;

		dns_net_opts_default(&no);
		if ((rc = roll_zones(r, e)) < 0)
			goto out;
		for (size_t z = 0; rc == 0 && z < r->n_zones; z++) {
			dns_prop_want *want = pf_calloc(n + 1, sizeof(*want));
			dns_prop_round rd = {0};
			size_t m = roll_wants_in_zone(r, idx, n, &r->zones[z], true, want);

			if (m)
				rc = r->ops->prop_run(r->ops_data, &r->zones[z], want, m, &no, &rd,
						      e);
			for (size_t o = 0; rc == 0 && o < rd.n_owners; o++) {
				bool existed = false;
				uint32_t ttl = 0;
				bool answered = false;

				for (size_t s = 0; s < rd.n_servers; s++) {
					const dns_prop_rrset *rs = &rd.servers[s].rrsets[o];
					uint32_t t =
						rs->orig_ttl > rs->ttl ? rs->orig_ttl : rs->ttl;

					answered |= rs->answered;
					if (rs->answered && rs->n_rr > 0) {
						existed = true;
						ttl = t > ttl ? t : ttl;
					}
				}
				if (!answered) {
					rc = pf_err_set(
						e, ETIMEDOUT,
						"no server answered for %s before the update",
						rd.owners[o]);
					break;
				}
				rc = pf_state_add_rrset_owner(&r->st, rd.owners[o], existed, ttl,
							      e);
			}
			if (rc == 0 && rd.n_servers) {
				r->st.have_soa = true;
				r->st.soa_ttl =
					rd.soa_ttl > r->st.soa_ttl ? rd.soa_ttl : r->st.soa_ttl;
				r->st.soa_minimum = rd.soa_minimum > r->st.soa_minimum
							    ? rd.soa_minimum
							    : r->st.soa_minimum;
			}
			dns_prop_round_free(&rd);
			free(want);
		}
		if (rc == 0) {
			pf_timing_effective(&r->st, &r->tparams, &r->st.params);
			r->st.have_params = true;
			rc = roll_save(r, e);
		}
		if (rc < 0)
			goto out;
	}
	rc = roll_apply_changes(r, idx, n, DNS_OP_ADD, &res, e);
	if (rc < 0)
		goto out;
	/* In ms, rounded up (timing.h).  When every record was already there (a kill
	 * after the update was acknowledged but before this was saved), no
	 * NOERROR came back now: the records were seen present just now, a
	 * later and so safe T_pub; never 0, which would void the
	 * propagation_min_delay floor. */
	pf_state_set_stamp_ms(&r->st, PF_T_PUB, res.t_pub ? res.t_pub + 1 : roll_now_ms_up(r));
	r->st.tlsa_ttl = r->cfg->tlsa_ttl;
	r->st.have_serial = r->n_zones == 1;
	r->st.update_serial = res.serial;
	r->poll_ms = 0;
	rc = roll_enter(r, PF_PHASE_PUBLISHED, PF_T_COUNT, roll_now_ms(r), e,
			"%zu TLSA record%s added (serial %u)", n, n == 1 ? "" : "s", res.serial);
out:
	free(idx);
	return rc;
}

int roll_publish(pf_roll *r, pf_err *e)
{
	int rc;

	if ((rc = roll_begin(r, e)) < 0)
		return rc;
	if (r->st.phase != PF_PHASE_GENERATED)
		rc = pf_err_refuse(e, "no pending keys to publish: the rollover is in phase %s",
				   pf_phase_name(r->st.phase));
	else
		rc = roll_step_publish(r, e);
	roll_end(r);
	return rc;
}
