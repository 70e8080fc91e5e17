/*
 * rollover.c - the rollover engine: SPEC.md 4's phases as steps over the
 * persisted state (state.h), the waits of timing.h, the DNS layer
 * (dns_update.h, dns_propagation.h), the key store, the Postfix adapter and
 * the STARTTLS probe.
 *
 * Each step persists what it is about to do before doing it, so that after
 * a kill at any point the same step runs again and finds its work done or
 * half done, and finishes it without a visible repetition:
 *   - generate: the next key's path and SPKI are saved, then the files are
 *     written; a missing file found on resume is made again (new key);
 *   - publish: the TLSA RRsets as they were before are saved first (the
 *     TTL inputs must be the pre-update ones), then the update is sent; a
 *     repeated add finds its records present;
 *   - deploy: the previous main.cf settings are saved before main.cf is
 *     changed, and never taken again while a snapshot exists;
 *   - retire: deletes are repeated harmlessly, then confirmed everywhere.
 */
#include "rollover.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dns_discover.h"
#include "dns_propagation.h"
#include "dns_tsig.h"
#include "dns_update.h"
#include "journal.h"
#include "keystore.h"
#include "lock.h"
#include "net.h"
#include "postfix.h"
#include "reload.h"
#include "smtp_probe.h"
#include "state.h"
#include "status.h"
#include "timing.h"
#include "tlsa.h"
#include "withdraw_guard.h"

#define POLL_MIN_SEC 1
#define POLL_MAX_SEC 30
#define RETRY_MAX_SEC 300
#define VERIFY_ATTEMPTS 5
#define PROBE_TIMEOUT_MS 10000
#define ZONE_CACHE_SEC 600

struct pf_roll {
	const pf_config *cfg;
	char *state_path;
	pf_state st;
	pf_lock lock;
	bool locked;
	pf_postfix pf;
	bool pf_open;
	pf_timing_params tparams;
	FILE *progress; /* command line: progress lines; NULL in the daemon */
	unsigned poll_delay;  /* current propagation poll interval, seconds */
	unsigned retry_delay; /* back-off after a transient DNS failure */
	dns_zone_info *zones;
	size_t n_zones;
	int64_t zones_at;
	char status[300];
	bool audit; /* roll_check: report, do not log rollover events */
	int lock_wait; /* seconds to wait for the lock; 0: fail at once */
	void (*phase_hook)(void *userdata);
	void *phase_hook_data;
};

static int64_t now_up(void)
{
	/* pf_now() truncates; a wait that starts "now" starts at the next
	 * whole second, so rounding can only lengthen it (timing.h). */
	return pf_now() + 1;
}

static void progress(pf_roll *r, const char *fmt, ...) PF_PRINTF(2, 3);
static void progress(pf_roll *r, const char *fmt, ...)
{
	va_list ap;

	if (!r->progress)
		return;
	va_start(ap, fmt);
	vfprintf(r->progress, fmt, ap);
	va_end(ap);
	fputc('\n', r->progress);
	fflush(r->progress);
}

const char *roll_phase(pf_roll *r)
{
	return pf_phase_name(r->st.phase);
}

bool roll_was_cancelled(pf_roll *r)
{
	const pf_state *st = &r->st;

	return st->phase == PF_PHASE_IDLE && !st->rollover[0] && st->n_events > 0 &&
	       strcmp(st->events[st->n_events - 1].kind,
		      pf_event_kind_get(PF_EV_CANCELLED)->name) == 0;
}

/* ---- opening, locking, saving ---------------------------------------- */

static int load_state(pf_roll *r, pf_err *e)
{
	pf_state st;
	int rc;

	rc = pf_state_load(r->state_path, r->cfg->postfix_config_directory, &st, e);
	if (rc == -ENOENT) {
		pf_err_clear(e);
		pf_state_free(&r->st);
		pf_state_init(&r->st);
		return 0;
	}
	if (rc < 0) {
		pf_event_ctx ctx = {.phase = PF_PHASE_IDLE};

		pf_journal_log(PF_EV_STATE_INVALID, &ctx, "%s", e->msg);
		/* Acting on a state that cannot be trusted could break every
		 * safety rule: a refusal (exit 3), not a passing failure, so
		 * systemd does not restart into it over and over. */
		e->exit_code = rc == -EINVAL ? PF_EXIT_REFUSED : PF_EXIT_FAIL;
		return rc;
	}
	pf_state_free(&r->st);
	r->st = st;
	return 0;
}

int roll_open(const pf_config *cfg, pf_roll **ret, pf_err *e)
{
	pf_roll *r = pf_calloc(1, sizeof(*r));
	int rc;

	r->cfg = cfg;
	r->state_path = pf_state_path(cfg->state_directory);
	pf_state_init(&r->st);
	pf_timing_params_from_config(cfg, &r->tparams);
	r->poll_delay = POLL_MIN_SEC;
	if ((rc = pf_state_dir_create(cfg->state_directory, e)) < 0 ||
	    (rc = load_state(r, e)) < 0) {
		roll_free(r);
		return rc;
	}
	*ret = r;
	return 0;
}

void roll_set_phase_hook(pf_roll *r, void (*fn)(void *userdata), void *userdata)
{
	r->phase_hook = fn;
	r->phase_hook_data = userdata;
}

void roll_set_lock_wait(pf_roll *r, int seconds)
{
	r->lock_wait = seconds;
}

void roll_set_progress(pf_roll *r, FILE *out)
{
	r->progress = out;
}

pf_roll *roll_free(pf_roll *r)
{
	if (!r)
		return NULL;
	if (r->locked)
		pf_lock_release(&r->lock);
	if (r->pf_open)
		postfix_close(&r->pf);
	dns_zones_free(r->zones, r->n_zones);
	pf_state_free(&r->st);
	free(r->state_path);
	free(r);
	return NULL;
}

/* Take the lock and re-read the state: another process may have moved the
 * rollover on since we last looked.  Returns 0 or -errno. */
static int begin(pf_roll *r, pf_err *e)
{
	int rc;

	/* A step of another process (the daemon's propagation round, say)
	 * holds the lock for seconds; wait for it, bounded. */
	for (uint64_t until = pf_mono_usec() + (uint64_t)r->lock_wait * 1000000u;;) {
		rc = pf_lock_acquire(r->cfg->state_directory, &r->lock, e);
		if (rc != -EBUSY || pf_mono_usec() >= until)
			break;
		pf_err_clear(e);
		usleep(200 * 1000);
	}
	if (rc < 0)
		return rc;
	r->locked = true;
	if ((rc = load_state(r, e)) < 0) {
		pf_lock_release(&r->lock);
		r->locked = false;
	}
	return rc;
}

static void end(pf_roll *r)
{
	if (r->locked)
		pf_lock_release(&r->lock);
	r->locked = false;
}

static int save(pf_roll *r, pf_err *e)
{
	return pf_state_save(r->state_path, &r->st, e);
}

static int open_postfix(pf_roll *r, pf_err *e)
{
	int rc;

	if (r->pf_open)
		return 0;
	rc = postfix_open(&r->pf, r->cfg->postfix_command_directory,
			  r->cfg->postfix_config_directory, e);
	r->pf_open = rc == 0;
	return rc;
}

/* The crash sweep's "phase:NAME" fault point (util.h), hit once phase p
 * is durably recorded. */
static void phase_fault_point(enum pf_phase p)
{
	char name[40];

	snprintf(name, sizeof(name), "phase:%s", pf_phase_name(p));
	pf_fault_point(name);
}

/* Enter phase p at time now, log its event and save.  Returns 0/-errno. */
static int enter(pf_roll *r, enum pf_phase p, enum pf_stamp stamp, int64_t now, pf_err *e,
		 const char *fmt, ...) PF_PRINTF(6, 7);
static int enter(pf_roll *r, enum pf_phase p, enum pf_stamp stamp, int64_t now, pf_err *e,
		 const char *fmt, ...)
{
	char msg[PF_STATE_MAX_TEXT];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->st.phase = p;
	if (stamp < PF_T_COUNT)
		r->st.t[stamp] = now;
	/* The stamp may be rounded up (timing.h); the event is when it happened. */
	pf_journal_state_event(&r->st, pf_now(), pf_event_for_phase(p), NULL, "%s", msg);
	progress(r, "%s: %s", pf_phase_name(p), msg);
	if ((rc = save(r, e)) < 0)
		return rc;
	phase_fault_point(p);
	if (r->phase_hook)
		r->phase_hook(r->phase_hook_data);
	return 0;
}

/* Stop in phase failed with reason; the state says where it failed. */
static int fail(pf_roll *r, const char *reason)
{
	pf_err e2 = {0};
	int64_t now = pf_now();

	pf_state_fail(&r->st, now, reason);
	pf_journal_state_event(&r->st, now, PF_EV_ROLLOVER_FAILED, NULL, "%s", reason);
	progress(r, "failed: %s", reason);
	if (save(r, &e2) < 0)
		progress(r, "cannot save the state: %s", e2.msg);
	return 0;
}

/* ---- records ----------------------------------------------------------- */

/* The TLSA host names: tlsa_hostnames, or Postfix's myhostname. */
static int tlsa_hosts(pf_roll *r, pf_strv *ret, pf_err *e)
{
	char *h = NULL;
	int rc;

	if (r->cfg->tlsa_hostnames.n) {
		for (size_t i = 0; i < r->cfg->tlsa_hostnames.n; i++)
			pf_strv_push(ret, r->cfg->tlsa_hostnames.v[i]);
		return 0;
	}
	if ((rc = open_postfix(r, e)) < 0 || (rc = postfix_myhostname(&r->pf, &h, e)) < 0)
		return rc;
	if (!pf_valid_hostname(h)) {
		rc = pf_err_usage(e, "myhostname \"%.100s\" is not a valid host name", h);
		free(h);
		return rc;
	}
	pf_strv_push_owned(ret, h);
	return 0;
}

/* Add to the state the records of one key (every host x port x record
 * type).  Returns 0 or -errno. */
static int add_records(pf_roll *r, enum pf_role role, enum pf_alg alg, const char *keypath,
		       const char *certpath, const pf_strv *hosts, pf_err *e)
{
	const pf_config *cfg = r->cfg;
	pf_tlsa_rdata *rd = NULL;
	int rc;

	rc = tlsa_for_files(keypath, certpath, cfg->tlsa_records, cfg->n_tlsa_records, &rd, e);
	for (size_t h = 0; rc == 0 && h < hosts->n; h++)
		for (size_t p = 0; rc == 0 && p < cfg->n_tlsa_ports; p++)
			for (size_t i = 0; rc == 0 && i < cfg->n_tlsa_records; i++)
				rc = pf_state_add_record(&r->st, role, alg, hosts->v[h],
							 cfg->tlsa_ports[p], &rd[i], e);
	free(rd);
	return rc;
}

/* Remove the records of role (used when a next key is made again). */
static void drop_records(pf_state *st, enum pf_role role, enum pf_alg alg)
{
	size_t w = 0;

	for (size_t i = 0; i < st->n_records; i++)
		if (!(st->records[i].role == role && st->records[i].alg == alg))
			st->records[w++] = st->records[i];
	st->n_records = w;
}

static void owner_of(const pf_state_record *rec, char *buf, size_t len)
{
	char owner[300];

	tlsa_owner(rec->host, rec->port, owner, sizeof(owner));
	dns_name_canon(owner, buf, len);
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
		if (w == 0 || pf_state_record_cmp(&st->records[ret[w - 1]], &st->records[ret[i]]) != 0)
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
static size_t select_records(const pf_state *st, enum pf_role role, size_t *ret)
{
	size_t n = distinct_of_role(st, role, ret);

	if (role == PF_ROLE_OLD && n) {
		size_t *next = pf_calloc(st->n_records + 1, sizeof(*next));
		size_t nn = distinct_of_role(st, PF_ROLE_NEXT, next), w = 0, j = 0;

		/* Both sorted by owner and data: one merge pass. */
		for (size_t i = 0; i < n; i++) {
			int c = 1;

			while (j < nn &&
			       (c = pf_state_record_cmp(&st->records[next[j]], &st->records[ret[i]])) < 0)
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

/* ---- DNS --------------------------------------------------------------- */

/* True for failures worth retrying later rather than stopping for. */
static bool transient(int rc)
{
	return rc == -ETIMEDOUT || rc == -EAGAIN || rc == -ECONNREFUSED || rc == -EHOSTUNREACH ||
	       rc == -ENETUNREACH || rc == -ECONNRESET || rc == -EBUSY;
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
static int zones(pf_roll *r, pf_err *e)
{
	char **owners;
	size_t *oz, *idx, n = 0;
	int rc;

	if (r->zones && pf_now() - r->zones_at < ZONE_CACHE_SEC)
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
	rc = net_discover(r->cfg, owners, n, &r->zones, &r->n_zones, oz, e);
	for (size_t i = 0; i < n; i++)
		free(owners[i]);
	free(owners);
	free(oz);
	free(idx);
	if (rc == 0)
		r->zones_at = pf_now();
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
static int apply_changes(pf_roll *r, const size_t *idx, size_t n, enum dns_change_op op,
			 dns_update_result *res, pf_err *e)
{
	dns_tsig_key *key = NULL;
	dns_change *ch;
	int rc;

	memset(res, 0, sizeof(*res));
	if (n == 0)
		return 0;
	if ((rc = zones(r, e)) < 0 || (rc = load_tsig(r, &key, e)) < 0)
		return rc;
	ch = pf_calloc(n, sizeof(*ch));
	for (size_t z = 0; rc == 0 && z < r->n_zones; z++) {
		dns_update_opts o = {.zone = &r->zones[z], .tsig = key, .ttl = r->cfg->tlsa_ttl};
		dns_update_result zr = {0};
		size_t m = 0;

		for (size_t i = 0; i < n; i++) {
			char owner[300];

			owner_of(&r->st.records[idx[i]], owner, sizeof(owner));
			if (!dns_name_in_zone(owner, r->zones[z].zone))
				continue;
			memset(&ch[m], 0, sizeof(ch[m]));
			snprintf(ch[m].owner, sizeof(ch[m].owner), "%.255s", owner);
			ch[m].rd = r->st.records[idx[i]].rdata;
			ch[m].op = op;
			m++;
		}
		if (m == 0)
			continue;
		rc = net_update_apply(&o, ch, m, &zr, e);
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

static void endpoints(pf_roll *r, pf_hostport_list *ret);

/* What the operator can do when cancel meets a deployed next key. */
static void cancel_hint(const pf_guard_record *hit, void *arg, char *buf, size_t len)
{
	const pf_state_key *k = &((pf_roll *)arg)->st.keys[hit->alg];

	if (pf_state_key_has_old(k))
		snprintf(buf, len,
			 "the new %s key is deployed: let the rollover finish (the daemon or "
			 "\"pftls-roll now\" carries it on), or put the old key back with "
			 "\"pftls-roll deploy-server-cert %s %s\" and \"postfix reload\", then cancel",
			 pf_alg_name(hit->alg), k->old_cert, k->old_key);
	else
		snprintf(buf, len,
			 "the new %s key is deployed: let the rollover finish (the daemon or "
			 "\"pftls-roll now\" carries it on)",
			 pf_alg_name(hit->alg));
}

/* What the operator can do when the retire meets an old key in use again
 * (a rollback by hand, or an smtpd that still presents it). */
static void retire_hint(const pf_guard_record *hit, void *arg, char *buf, size_t len)
{
	const pf_state_key *k = &((pf_roll *)arg)->st.keys[hit->alg];

	snprintf(buf, len,
		 "to finish: \"pftls-roll deploy-server-cert %s %s\", \"postfix reload\", "
		 "\"pftls-roll now\"; to abandon: \"pftls-roll cancel\"",
		 k->next_cert, k->next_key);
}

/*
 * SPEC.md 5 rule 2: every withdrawal of this engine's records, and every
 * removal of its key files, asks here first (withdraw below, cancel).
 * withdraw_guard_check reads main.cf again and asks the endpoints whether
 * a key of the records idx[0..n) is in use.  Returns 0, -EPERM (exit 3)
 * when refused, or -errno.
 */
static int guard(pf_roll *r, const size_t *idx, size_t n, const char *action,
		 void (*hint)(const pf_guard_record *, void *, char *, size_t), pf_err *e)
{
	pf_guard_record *gr;
	pf_hostport_list eps = {0};
	int rc;

	if (n == 0)
		return 0;
	if ((rc = open_postfix(r, e)) < 0)
		return rc;
	gr = pf_calloc(n, sizeof(*gr));
	for (size_t i = 0; i < n; i++) {
		const pf_state_record *rec = &r->st.records[idx[i]];
		const pf_state_key *k = &r->st.keys[rec->alg];
		bool next = rec->role == PF_ROLE_NEXT;

		gr[i].key_file = next ? k->next_key : k->old_key;
		gr[i].key_spki = next ? k->next_spki : k->old_spki;
		gr[i].alg = (int)rec->alg;
		gr[i].rd = rec->rdata;
	}
	endpoints(r, &eps);
	pf_guard_req q = {.pf = &r->pf, .endpoints = &eps, .st = &r->st, .action = action,
			  .hint = hint, .hint_arg = r};
	rc = withdraw_guard_check(&q, gr, n, e);
	free(eps.v);
	free(gr);
	return rc;
}

/* guard, then delete the records idx[0..n).  Returns as guard, or the
 * error of the update. */
static int withdraw(pf_roll *r, const size_t *idx, size_t n, const char *action,
		    void (*hint)(const pf_guard_record *, void *, char *, size_t),
		    dns_update_result *res, pf_err *e)
{
	int rc;

	memset(res, 0, sizeof(*res));
	if ((rc = guard(r, idx, n, action, hint, e)) < 0)
		return rc;
	return apply_changes(r, idx, n, DNS_OP_DELETE, res, e);
}

/* Fill want with the records idx[0..n) that lie in zone z; returns how
 * many.  want must hold n entries. */
static size_t wants_in_zone(const pf_roll *r, const size_t *idx, size_t n, const dns_zone_info *z,
			    bool present, dns_prop_want *want)
{
	size_t m = 0;

	for (size_t i = 0; i < n; i++) {
		char owner[300];

		owner_of(&r->st.records[idx[i]], owner, sizeof(owner));
		if (!dns_name_in_zone(owner, z->zone))
			continue;
		snprintf(want[m].owner, sizeof(want[m].owner), "%.255s", owner);
		want[m].rd = r->st.records[idx[i]].rdata;
		want[m].present = present;
		m++;
	}
	return m;
}

/*
 * One propagation round over every zone: are the records idx[0..n) served
 * (present) or gone (!present) on every check server, signed when the zone
 * is, with a SOA serial at least min_serial (when have_serial)?  Records
 * per server confirmations in the state; *ret_missing lists the servers
 * still lacking.  Returns 0 (see *ret_done) or -errno.
 */
static int propagation_round(pf_roll *r, const size_t *idx, size_t n, bool present,
			     bool *ret_done, pf_strv *ret_missing, pf_err *e)
{
	dns_net_opts no;
	dns_prop_want *want;
	bool done = true, unsigned_warned = false;
	int rc;

	*ret_done = false;
	if ((rc = zones(r, e)) < 0)
		return rc;
	dns_net_opts_default(&no);
	want = pf_calloc(n + 1, sizeof(*want));
	for (size_t z = 0; rc == 0 && z < r->n_zones; z++) {
		dns_prop_round rd = {0};
		size_t m = wants_in_zone(r, idx, n, &r->zones[z], present, want);

		if (m == 0)
			continue;
		if ((rc = net_prop_run(&r->zones[z], want, m, &no, &rd, e)) < 0)
			break;
		if (!rd.zone_signed && present && !unsigned_warned) {
			unsigned_warned = true;
			progress(r, "WARNING: zone %s is not DNSSEC-signed: DANE protects nothing "
				    "until it is",
				 rd.zone);
			/* A rollover goes on (the records are still needed), but an
			 * audit reports an unsigned zone as a problem. */
			if (r->audit) {
				done = false;
				pf_strv_push_owned(ret_missing,
						   pf_asprintf("zone %s is not DNSSEC-signed", rd.zone));
			}
		}
		for (size_t s = 0; s < rd.n_servers; s++) {
			const dns_prop_server *sv = &rd.servers[s];
			bool ok = sv->complete && (!present || !rd.zone_signed || sv->all_signed);

			if (ok && present && r->st.have_serial && r->n_zones == 1)
				ok = sv->have_soa &&
				     (int32_t)(sv->serial - r->st.update_serial) >= 0;
			if (ok && present) {
				pf_err e2 = {0};
				bool known = false;

				for (size_t k = 0; k < r->st.n_servers; k++)
					known |= strcmp(r->st.servers[k].name, sv->target.addr.label) == 0;
				if (!known && !r->audit) {
					pf_state_confirm_server(&r->st, sv->target.addr.label, sv->serial,
								now_up(), &e2);
					pf_journal_state_event(&r->st, pf_now(), PF_EV_SERVER_CONFIRMED,
							       sv->target.addr.label,
							       "%s serves every new record (serial %u)",
							       sv->target.addr.label, sv->serial);
				}
			}
			if (!ok) {
				done = false;
				pf_strv_push_owned(ret_missing,
						   pf_asprintf("%s%s%s", sv->target.addr.label,
							       sv->note[0] ? ": " : "", sv->note));
			}
		}
		dns_prop_round_free(&rd);
	}
	free(want);
	if (rc == 0)
		*ret_done = done;
	return rc;
}

/* Back to idle after a rollover ended; its events stay for "status". */
static void reset_idle(pf_state *st)
{
	pf_state next;

	pf_state_init(&next);
	memcpy(next.events, st->events, sizeof(next.events));
	next.n_events = st->n_events;
	pf_state_free(st);
	*st = next;
}

/* ---- the steps ----------------------------------------------------------- */

/* Write the key and certificate files of a next key that the state names
 * but the disk lacks (first pass, or a kill before the files were
 * written).  A key made again gets new records.  Returns 0 or -errno. */
static int ensure_next_files(pf_roll *r, pf_err *e)
{
	pf_strv hosts = {0};
	int rc = 0;

	for (int a = 0; a < PF_ALG_COUNT && rc == 0; a++) {
		pf_state_key *k = &r->st.keys[a];
		pf_keyspec spec = {(enum pf_alg)a, r->cfg->rsa_bits, r->cfg->ecdsa_curve};
		EVP_PKEY *key = NULL;
		X509 *cert = NULL;
		pf_pubkey pk = {0};
		struct stat st;
		bool have_key, have_cert, have_records = false;

		if (!k->present || !pf_state_key_has_next(k))
			continue;
		/* A writer killed before its rename left a temporary file,
		 * perhaps with a private key: nothing will ever use it. */
		pf_remove_stale_temps(k->next_key);
		pf_remove_stale_temps(k->next_cert);
		have_key = stat(k->next_key, &st) == 0;
		have_cert = stat(k->next_cert, &st) == 0;
		for (size_t i = 0; i < r->st.n_records; i++)
			have_records |= r->st.records[i].role == PF_ROLE_NEXT &&
					r->st.records[i].alg == (enum pf_alg)a;
		if (have_key && have_cert && have_records)
			continue;
		if (!hosts.n && (rc = tlsa_hosts(r, &hosts, e)) < 0)
			break;
		if (!have_key) {
			/* The plan was saved but the key never written (a kill in
			 * between): make a new one, and save its SPKI first. */
			rc = keystore_generate(&spec, &key, e);
			if (rc == 0)
				rc = keystore_pubkey_of_key(key, &pk, e);
			if (rc == 0)
				rc = pf_state_set_key(&r->st, (enum pf_alg)a, PF_ROLE_NEXT,
						      k->next_key, k->next_cert, pk.spki_sha256, e);
			if (rc == 0) {
				drop_records(&r->st, PF_ROLE_NEXT, (enum pf_alg)a);
				have_records = false;
				rc = save(r, e);
			}
			if (rc == 0 && have_cert)
				rc = unlink(k->next_cert) < 0 ? pf_err_set(e, errno, "cannot remove %s",
									   k->next_cert)
							      : 0;
			have_cert = false;
			if (rc == 0)
				rc = keystore_write_key(k->next_key, key, e);
		} else if (!have_cert) {
			rc = keystore_load_key(k->next_key, &key, e);
		}
		if (rc == 0 && !have_cert) {
			rc = keystore_self_signed(key, &hosts, &cert, e);
			if (rc == 0)
				rc = keystore_write_cert(k->next_cert, cert, e);
			if (rc == 0) {
				pf_journal_state_event(&r->st, pf_now(), PF_EV_KEY_GENERATED, NULL,
						       "%s key %s and certificate %s written",
						       pf_alg_name((enum pf_alg)a), k->next_key,
						       k->next_cert);
				progress(r, "generated: %s key %s", pf_alg_name((enum pf_alg)a),
					 k->next_key);
			}
		}
		if (rc == 0 && !have_records)
			rc = add_records(r, PF_ROLE_NEXT, (enum pf_alg)a, k->next_key, k->next_cert,
					 &hosts, e);
		if (rc == 0)
			rc = save(r, e);
		pf_pubkey_free(&pk);
		X509_free(cert);
		EVP_PKEY_free(key);
	}
	pf_strv_clear(&hosts);
	return rc;
}

/*
 * idle -> generated: plan the next keys, save, then write the files.  A
 * rollover killed while planning (phase idle, its id saved) is taken up
 * again, not begun anew: a new rollover would leave the key files already
 * written behind and make a second set.  Algorithms planned before the kill
 * keep their plan; ensure_next_files writes what the kill kept from disk.
 */
static int step_generate(pf_roll *r, pf_err *e)
{
	const pf_config *cfg = r->cfg;
	pf_tls_files dep = {0};
	pf_strv hosts = {0};
	char stamp[32];
	time_t t = time(NULL);
	struct tm tm;
	int rc;

	if ((rc = open_postfix(r, e)) < 0 || (rc = tlsa_hosts(r, &hosts, e)) < 0 ||
	    (rc = postfix_deployed(&r->pf, "smtpd", &dep, e)) < 0)
		goto out;
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	if (!r->st.rollover[0]) {
		/* The id is saved before anything else, so that a kill from here
		 * on resumes this rollover; then it is announced, once. */
		pf_state_begin(&r->st, pf_now());
		if ((rc = save(r, e)) < 0)
			goto out;
		pf_journal_state_event(&r->st, pf_now(), PF_EV_ROLLOVER_STARTED, NULL,
				       "rollover started for %zu key algorithm%s", cfg->n_algs,
				       cfg->n_algs == 1 ? "" : "s");
	} else {
		progress(r, "resuming the key generation of rollover %s", r->st.rollover);
	}
	for (size_t i = 0; rc == 0 && i < cfg->n_algs; i++) {
		enum pf_alg a = cfg->algs[i];
		pf_keyspec spec = {a, cfg->rsa_bits, cfg->ecdsa_curve};
		const char *pre = a == PF_ALG_ECDSA ? "ec" : "";
		char *kp, *cp;
		EVP_PKEY *key = NULL;
		pf_pubkey pk = {0}, opk = {0};

		if (r->st.keys[a].present && pf_state_key_has_next(&r->st.keys[a]))
			continue; /* planned before a kill */
		kp = pf_asprintf("%s/%skey-%s.pem", cfg->postfix_config_directory, pre, stamp);
		cp = pf_asprintf("%s/%scert-%s.pem", cfg->postfix_config_directory, pre, stamp);
		rc = keystore_generate(&spec, &key, e);
		if (rc == 0)
			rc = keystore_pubkey_of_key(key, &pk, e);
		if (rc == 0)
			rc = pf_state_set_key(&r->st, a, PF_ROLE_NEXT, kp, cp, pk.spki_sha256, e);
		if (rc == 0 && dep.key_file[a] && dep.cert_file[a]) {
			rc = keystore_load_pubkey(dep.key_file[a], &opk, e);
			if (rc == 0)
				rc = pf_state_set_key(&r->st, a, PF_ROLE_OLD, dep.key_file[a],
						      dep.cert_file[a], opk.spki_sha256, e);
			if (rc == 0)
				rc = add_records(r, PF_ROLE_OLD, a, dep.key_file[a], dep.cert_file[a],
						 &hosts, e);
		}
		/* The plan is saved before any file exists; the key is written
		 * right after, and ensure_next_files adds the certificate and the
		 * records (and remakes a key a kill kept from being written). */
		if (rc == 0)
			rc = save(r, e);
		if (rc == 0)
			rc = keystore_write_key(kp, key, e);
		pf_pubkey_free(&pk);
		pf_pubkey_free(&opk);
		EVP_PKEY_free(key);
		free(kp);
		free(cp);
	}
	if (rc == 0)
		rc = ensure_next_files(r, e);
	if (rc == 0)
		rc = enter(r, PF_PHASE_GENERATED, PF_T_GENERATED, pf_now(), e,
			   "next keys and self-signed certificates written");
out:
	pf_tls_files_free(&dep);
	pf_strv_clear(&hosts);
	return rc;
}

/* generated -> published: save the RRsets as they are, then add. */
static int step_publish(pf_roll *r, pf_err *e)
{
	size_t *idx = pf_calloc(r->st.n_records + 1, sizeof(size_t)), n;
	dns_update_result res;
	int rc;

	if ((rc = ensure_next_files(r, e)) < 0)
		goto out;
	n = select_records(&r->st, PF_ROLE_NEXT, idx);
	if (r->st.n_rrsets == 0) {
		/* The TTL inputs of the timing model are the RRsets before our
		 * change: read them from every check server (the largest TTL
		 * any of them serves counts) and save them first. */
		dns_net_opts no;

		dns_net_opts_default(&no);
		if ((rc = zones(r, e)) < 0)
			goto out;
		for (size_t z = 0; rc == 0 && z < r->n_zones; z++) {
			dns_prop_want *want = pf_calloc(n + 1, sizeof(*want));
			dns_prop_round rd = {0};
			size_t m = wants_in_zone(r, idx, n, &r->zones[z], true, want);

			if (m)
				rc = net_prop_run(&r->zones[z], want, m, &no, &rd, e);
			for (size_t o = 0; rc == 0 && o < rd.n_owners; o++) {
				bool existed = false;
				uint32_t ttl = 0;
				bool answered = false;

				for (size_t s = 0; s < rd.n_servers; s++) {
					const dns_prop_rrset *rs = &rd.servers[s].rrsets[o];
					uint32_t t = rs->orig_ttl > rs->ttl ? rs->orig_ttl : rs->ttl;

					answered |= rs->answered;
					if (rs->answered && rs->n_rr > 0) {
						existed = true;
						ttl = t > ttl ? t : ttl;
					}
				}
				if (!answered) {
					rc = pf_err_set(e, ETIMEDOUT,
							"no server answered for %s before the update",
							rd.owners[o]);
					break;
				}
				/* The owner back into host and port for the state. */
				unsigned port = 0;
				char host[256] = "";
				if (sscanf(rd.owners[o], "_%u._tcp.%255s", &port, host) == 2) {
					size_t hl = strlen(host);
					if (hl && host[hl - 1] == '.')
						host[hl - 1] = '\0';
					rc = pf_state_add_rrset(&r->st, host, (uint16_t)port, existed,
								ttl, e);
				}
			}
			if (rc == 0 && rd.n_servers) {
				r->st.have_soa = true;
				r->st.soa_ttl = rd.soa_ttl > r->st.soa_ttl ? rd.soa_ttl : r->st.soa_ttl;
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
			rc = save(r, e);
		}
		if (rc < 0)
			goto out;
	}
	rc = apply_changes(r, idx, n, DNS_OP_ADD, &res, e);
	if (rc < 0)
		goto out;
	/* Rounded up (timing.h).  When every record was already there (a kill
	 * after the update was acknowledged but before this was saved), no
	 * NOERROR came back now: the records were seen present just now, a
	 * later and so safe T_pub; never 0, which would void the
	 * propagation_min_delay floor. */
	r->st.t[PF_T_PUB] = res.t_pub ? res.t_pub + 1 : now_up();
	r->st.tlsa_ttl = r->cfg->tlsa_ttl;
	r->st.have_serial = r->n_zones == 1;
	r->st.update_serial = res.serial;
	r->poll_delay = POLL_MIN_SEC;
	rc = enter(r, PF_PHASE_PUBLISHED, PF_T_COUNT, pf_now(), e,
		   "%zu TLSA record%s added (serial %u)", n, n == 1 ? "" : "s", res.serial);
out:
	free(idx);
	return rc;
}

/* published -> propagated: poll every check server until all serve all. */
static int step_propagation(pf_roll *r, int64_t *wakeup, pf_err *e)
{
	size_t *idx = pf_calloc(r->st.n_records + 1, sizeof(size_t)), n;
	pf_strv missing = {0};
	bool done = false;
	int64_t now;
	int rc;

	n = select_records(&r->st, PF_ROLE_NEXT, idx);
	rc = propagation_round(r, idx, n, true, &done, &missing, e);
	free(idx);
	now = pf_now();
	if (rc < 0 && !transient(rc))
		goto out;
	if (rc == 0 && done) {
		r->poll_delay = POLL_MIN_SEC; /* the retire polls start afresh */
		rc = enter(r, PF_PHASE_PROPAGATED, PF_T_CONF, now_up(), e,
			   "every check server serves every new record");
		goto out;
	}
	if (rc < 0)
		pf_strv_push(&missing, e->msg);
	pf_err_clear(e);
	rc = 0;
	if (now >= r->st.t[PF_T_PUB] + r->cfg->propagation_alert) {
		for (size_t i = 0; i < missing.n; i++)
			pf_journal_state_event(&r->st, now, PF_EV_PROPAGATION_ALERT, NULL,
					       "still waiting after %llds: %s",
					       (long long)(now - r->st.t[PF_T_PUB]), missing.v[i]);
		r->st.alert_count++;
		r->st.alert_last = now;
	}
	rc = save(r, e);
	progress(r, "propagation: %zu server%s still missing records%s%s", missing.n,
		 missing.n == 1 ? "" : "s", missing.n ? ", e.g. " : "",
		 missing.n ? missing.v[0] : "");
	*wakeup = now + r->poll_delay;
	r->poll_delay = r->poll_delay * 2 > POLL_MAX_SEC ? POLL_MAX_SEC : r->poll_delay * 2;
out:
	pf_strv_clear(&missing);
	return rc;
}

/* Reload Postfix: through systemd (reload_unit), waiting for the job to
 * finish so that verification never probes a server not yet reloaded, or
 * with reload_command. */
static int reload_postfix(pf_roll *r, pf_err *e)
{
	char *cmd;
	int rc;

	if (r->cfg->reload_unit)
		return reload_unit_wait(r->cfg->reload_unit, PF_RELOAD_UNIT_TIMEOUT_SEC, e);
	cmd = pf_config_reload_command(r->cfg);
	rc = postfix_reload(&r->pf, cmd, e);
	free(cmd);
	return rc;
}

/* The snapshot in the state as a pf_snapshot (borrowed strings). */
static void snapshot_of_state(const pf_state *st, pf_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	s->values = pf_calloc(st->n_maincf + 1, sizeof(char *));
	for (size_t i = 0; i < st->n_maincf; i++) {
		pf_strv_push(&s->names, st->maincf[i].name);
		s->values[i] = st->maincf[i].value ? pf_strdup(st->maincf[i].value) : NULL;
	}
}

/* Put the previous main.cf settings back and reload.  Returns 0/-errno. */
static int rollback(pf_roll *r, const char *why, pf_err *e)
{
	pf_snapshot s;
	int rc;

	snapshot_of_state(&r->st, &s);
	rc = postfix_restore(&r->pf, &s, e);
	pf_snapshot_free(&s);
	if (rc == 0)
		rc = reload_postfix(r, e);
	if (rc == 0) {
		pf_journal_state_event(&r->st, pf_now(), PF_EV_ROLLBACK_DONE, NULL,
				       "previous main.cf settings restored and Postfix reloaded "
				       "after: %s",
				       why);
		progress(r, "rolled back: %s", why);
	}
	return rc;
}

/*
 * What main.cf puts into service now (smtpd and tlsproxy, as Postfix reads
 * them), compared with this rollover's keys, for every algorithm it rolls:
 * *ret_all_next when each has its next key deployed; *ret_changed when
 * main.cf's TLS server settings differ from the saved snapshot (or there
 * is none); foreign[flen] names the first key smtpd is given that is
 * neither the next nor the old one ("" when none).  Returns 0 or -errno.
 */
static int maincf_keys(pf_roll *r, bool *ret_all_next, bool *ret_changed, char *foreign,
		       size_t flen, pf_err *e)
{
	static const char *const prefixes[] = {"smtpd", "tlsproxy"};
	bool all_next = true, any = false;
	pf_snapshot cur = {0};
	int rc;

	foreign[0] = '\0';
	if ((rc = open_postfix(r, e)) < 0)
		return rc;
	for (int p = 0; p < 2; p++) {
		pf_tls_files dep = {0};

		if ((rc = postfix_deployed(&r->pf, prefixes[p], &dep, e)) < 0)
			return rc;
		for (int a = 0; a < PF_ALG_COUNT; a++) {
			const pf_state_key *k = &r->st.keys[a];
			const char *f = dep.key_file[a];
			pf_pubkey pk = {0};
			pf_err e2 = {0};
			bool is_next, is_old;

			if (!k->present || !pf_state_key_has_next(k))
				continue;
			any = true;
			if (!f) {
				all_next = false;
				continue;
			}
			if (keystore_load_pubkey(f, &pk, &e2) == 0) {
				is_next = strcmp(pk.spki_sha256, k->next_spki) == 0;
				is_old = pf_state_key_has_old(k) &&
					 strcmp(pk.spki_sha256, k->old_spki) == 0;
			} else {
				is_next = strcmp(f, k->next_key) == 0;
				is_old = k->old_key && strcmp(f, k->old_key) == 0;
			}
			pf_pubkey_free(&pk);
			all_next &= is_next;
			/* Only smtpd's: the old keys are smtpd's, and an explicit
			 * tlsproxy key of its own is one the deploy replaces too. */
			if (p == 0 && !is_next && !is_old && !foreign[0])
				snprintf(foreign, flen, "the %s %s key %.300s", prefixes[p],
					 pf_alg_name((enum pf_alg)a), f);
		}
		pf_tls_files_free(&dep);
	}
	*ret_all_next = any && all_next;
	if ((rc = postfix_snapshot(&r->pf, postfix_tls_server_params, &cur, e)) < 0)
		return rc;
	bool changed = r->st.n_maincf != cur.names.n;
	for (size_t i = 0; !changed && i < cur.names.n; i++) {
		const pf_state_setting *sv = &r->st.maincf[i];

		changed = strcmp(sv->name, cur.names.v[i]) != 0 || !sv->value != !cur.values[i] ||
			  (sv->value && strcmp(sv->value, cur.values[i]) != 0);
	}
	pf_snapshot_free(&cur);
	*ret_changed = changed;
	return 0;
}

/* Save main.cf's TLS server settings as they are now as the snapshot
 * (there is none yet).  Returns 0 or -errno. */
static int snapshot_now(pf_roll *r, pf_err *e)
{
	pf_snapshot s = {0};
	int rc;

	rc = postfix_snapshot(&r->pf, postfix_tls_server_params, &s, e);
	for (size_t i = 0; rc == 0 && i < s.names.n; i++)
		rc = pf_state_add_setting(&r->st, s.names.v[i], s.values[i], e);
	pf_snapshot_free(&s);
	return rc;
}

/*
 * Before this rollover deploys (phases propagated and deployable), look at
 * what main.cf deploys now.  An operator may have run deploy-server-cert
 * with the next keys: the rollover is then carried on, not fought - main.cf
 * as found becomes the snapshot (so a failed verification has nothing to
 * undo), the reload is taken as now, and it goes on to verify and, after
 * retire_delay, retire the old keys.  A key that is neither the next nor the
 * old one holds the rollover: it never deploys over an operator's key.
 * Returns 0 (the phase may have changed) or -errno.
 */
static int check_hand_deploy(pf_roll *r, pf_err *e)
{
	char foreign[400], why[PF_STATE_MAX_TEXT];
	bool all_next, changed;
	pf_timing t;
	int rc;

	if ((rc = maincf_keys(r, &all_next, &changed, foreign, sizeof(foreign), e)) < 0)
		return rc;
	if (foreign[0]) {
		snprintf(why, sizeof(why),
			 "held: main.cf deploys %.200s, neither the old nor the new one, and the "
			 "rollover does not deploy over it; deploy the new keys by hand or put the "
			 "old ones back, then \"pftls-roll now\"; or \"pftls-roll cancel\"",
			 foreign);
		return fail(r, why);
	}
	/* With a snapshot saved, this rollover's own deploy has begun (a kill
	 * may have come between main.cf and the reload): step_deploy finishes
	 * it, reload included.  Only before that is a deployed next key the
	 * operator's doing. */
	if (!all_next || r->st.n_maincf > 0)
		return 0;
	pf_timing_compute(&r->st, &r->tparams, &t);
	pf_journal_state_event(&r->st, pf_now(), PF_EV_MANUAL_DEPLOY, NULL,
			       "the next keys were deployed by hand%s: carrying on, verifying them "
			       "and withdrawing the old keys' records after retire_delay",
			       pf_timing_may_deploy(&r->st, &t, pf_now(), NULL) < 0
				       ? ", before the safety time"
				       : "");
	if ((rc = snapshot_now(r, e)) < 0)
		return rc;
	if (!r->st.t[PF_T_DEPLOYED])
		r->st.t[PF_T_DEPLOYED] = pf_now();
	return enter(r, PF_PHASE_DEPLOYED, PF_T_RELOAD, now_up(), e,
		     "the next keys are in main.cf, deployed by hand; their reload is taken as now");
}

/* deployable -> deployed: snapshot, change main.cf, check, reload. */
static int step_deploy(pf_roll *r, pf_err *e)
{
	pf_strv settings = {0};
	char why[600];
	bool full_check;
	int rc;

	if ((rc = open_postfix(r, e)) < 0)
		return rc;
	if ((rc = check_hand_deploy(r, e)) < 0 || r->st.phase != PF_PHASE_DEPLOYABLE)
		return rc;
	/* Before main.cf changes: can "postfix check" and the reload run in
	 * this process, or must reload_unit stand in (reload.h)? */
	if ((rc = reload_preflight(r->cfg, r->cfg->path, &full_check, e)) < 0)
		return rc;
	if (r->st.n_maincf == 0) {
		pf_snapshot s = {0};

		rc = postfix_snapshot(&r->pf, postfix_tls_server_params, &s, e);
		for (size_t i = 0; rc == 0 && i < s.names.n; i++)
			rc = pf_state_add_setting(&r->st, s.names.v[i], s.values[i], e);
		pf_snapshot_free(&s);
		if (rc == 0)
			rc = save(r, e);
		if (rc < 0)
			return rc;
	}
	for (int a = 0; rc == 0 && a < PF_ALG_COUNT; a++) {
		const pf_state_key *k = &r->st.keys[a];

		if (k->present && pf_state_key_has_next(k))
			rc = postfix_deploy_settings(&r->pf, (enum pf_alg)a, k->next_key, k->next_cert,
						     &settings, e);
	}
	if (rc == 0)
		rc = postfix_set(&r->pf, &settings, e);
	/* t_deployed is when main.cf changed; "postfix check" after it can
	 * take seconds while main.cf is "hot" (TEST-SERVERS.md). */
	if (rc == 0)
		r->st.t[PF_T_DEPLOYED] = pf_now();
	if (rc == 0)
		rc = full_check ? postfix_check(&r->pf, e)
				: postfix_check_settings(&r->pf, &settings, e);
	if (rc == 0)
		rc = reload_postfix(r, e);
	pf_strv_clear(&settings);
	if (rc < 0) {
		pf_err e2 = {0};

		snprintf(why, sizeof(why), "deploy failed: %.300s", e->msg);
		if (rollback(r, why, &e2) < 0)
			snprintf(why + strlen(why), sizeof(why) - strlen(why),
				 "; ROLLBACK FAILED TOO: %.200s", e2.msg);
		pf_err_clear(e);
		return fail(r, why);
	}
	pf_journal_state_event(&r->st, pf_now(), PF_EV_RELOADED, NULL, "Postfix reloaded");
	return enter(r, PF_PHASE_DEPLOYED, PF_T_RELOAD, now_up(), e,
		     "new keys in main.cf and Postfix reloaded");
}

/* The endpoints to verify, each once: verify_endpoints, or every TLSA host
 * x port. */
static void endpoints(pf_roll *r, pf_hostport_list *ret)
{
	pf_strv hosts = {0};
	pf_err e = {0};

	if (!r->cfg->verify_endpoints.n)
		tlsa_hosts(r, &hosts, &e);
	withdraw_guard_endpoint_list(r->cfg, &hosts, ret);
	pf_strv_clear(&hosts);
}

/*
 * Does every endpoint present the next key of every algorithm, and does it
 * DANE-validate against the next records, which every check server must
 * still serve?  Returns 0 when all hold, -EPROTO with e saying what did
 * not, or another -errno.
 */
static int verify_once(pf_roll *r, pf_err *e)
{
	size_t *idx = pf_calloc(r->st.n_records + 1, sizeof(size_t)), n;
	pf_hostport_list eps = {0};
	pf_strv missing = {0};
	bool done = false;
	int rc;

	n = select_records(&r->st, PF_ROLE_NEXT, idx);
	rc = propagation_round(r, idx, n, true, &done, &missing, e);
	if (rc == 0 && !done)
		rc = pf_err_set(e, EPROTO, "the new records are not served everywhere: %s",
				missing.v[0]);
	endpoints(r, &eps);
	for (size_t i = 0; rc == 0 && i < eps.n; i++) {
		char label[300];

		snprintf(label, sizeof(label), "%s:%u", eps.v[i].host,
			 eps.v[i].port ? eps.v[i].port : 25);
		for (int a = 0; rc == 0 && a < PF_ALG_COUNT; a++) {
			const pf_state_key *k = &r->st.keys[a];
			const char *alg = pf_alg_name((enum pf_alg)a);
			pf_tlsa_rdata *rds = pf_calloc(n + 1, sizeof(*rds));
			pf_probe_result res;
			size_t m = 0;
			bool is_new;

			if (!k->present || !pf_state_key_has_next(k)) {
				free(rds);
				continue;
			}
			/* Every name carries the same records of a key: the probe
			 * gets each distinct one once (500 names would otherwise
			 * be 500 copies, past what one probe request holds). */
			for (size_t j = 0; j < n; j++) {
				const pf_tlsa_rdata *rd = &r->st.records[idx[j]].rdata;
				bool seen = false;

				if (r->st.records[idx[j]].alg != (enum pf_alg)a)
					continue;
				for (size_t q = 0; q < m && !seen; q++)
					seen = tlsa_equal(&rds[q], rd);
				if (!seen)
					rds[m++] = *rd;
			}
			rc = net_probe(&eps.v[i], r->st.records[idx[0]].host, rds, m,
				       (enum pf_probe_want)a, PROBE_TIMEOUT_MS, &res, e);
			free(rds);
			if (rc < 0)
				break;
			is_new = strcmp(res.spki_sha256, k->next_spki) == 0;
			if (!is_new && strcmp(res.spki_sha256, k->old_spki) == 0)
				rc = pf_err_set(e, EPROTO,
						"%s presents the old %s key %.16s..., not the new %.16s...",
						label, alg, res.spki_sha256, k->next_spki);
			else if (!is_new)
				/* Most likely another MX host sharing the name: the
				 * default endpoints are every address of the name. */
				rc = pf_err_set(e, EPROTO,
						"%s presents an %s key %.16s... that is neither the new "
						"%.16s... nor the old one: another server answers there; if "
						"hosts share this name, set verify_endpoints to this host's "
						"own addresses",
						label, alg, res.spki_sha256, k->next_spki);
			else if (!res.dane_ok)
				rc = pf_err_set(e, EPROTO, "%s: the new %s key does not DANE-validate: %s",
						label, alg, res.verify_error);
			else if (r->audit)
				progress(r, "ok: %s presents the deployed %s key, DANE-valid", label, alg);
			else
				pf_journal_state_event(&r->st, pf_now(), PF_EV_ENDPOINT_VERIFIED, label,
						       "%s presents the new %s key, DANE-valid", label, alg);
		}
	}
	free(eps.v);
	free(idx);
	pf_strv_clear(&missing);
	return rc;
}

/* deployed -> verified, or a rollback into failed. */
static int step_verify(pf_roll *r, pf_err *e)
{
	char why[600];
	int rc = 0;

	if ((rc = open_postfix(r, e)) < 0)
		return rc;
	for (int attempt = 0; attempt < VERIFY_ATTEMPTS; attempt++) {
		if (attempt)
			sleep(1); /* smtpd takes a moment to pick up the reload */
		pf_err_clear(e);
		if ((rc = verify_once(r, e)) == 0)
			break;
	}
	/* T_reload was rounded up; the verification, which came after it, must
	 * not look older than the reload. */
	if (rc == 0)
		return enter(r, PF_PHASE_VERIFIED, PF_T_VERIFIED,
			     pf_now() > r->st.t[PF_T_RELOAD] ? pf_now() : r->st.t[PF_T_RELOAD], e,
			     "every endpoint presents the new keys, DANE-valid");
	snprintf(why, sizeof(why), "verification failed: %.300s", e->msg);
	pf_journal_state_event(&r->st, pf_now(), PF_EV_VERIFICATION_FAILED, NULL, "%s", e->msg);
	pf_err_clear(e);
	{
		pf_err e2 = {0};
		char foreign[400];
		bool all_next = false, changed = true;

		/* Roll back only what this rollover changed, and only while
		 * main.cf is as it left it: never over an operator's hand. */
		if (!r->audit && maincf_keys(r, &all_next, &changed, foreign, sizeof(foreign),
					     &e2) < 0)
			snprintf(why + strlen(why), sizeof(why) - strlen(why),
				 "; main.cf left as it is: %.150s", e2.msg);
		else if (all_next && !changed) {
			/* Deployed by hand: the snapshot is main.cf as found. */
			snprintf(why + strlen(why), sizeof(why) - strlen(why),
				 "; the new keys were deployed by hand and main.cf is left as it is: "
				 "reload Postfix or fix it, then \"pftls-roll now\" verifies again");
			return fail(r, why);
		} else if (!all_next) {
			snprintf(why + strlen(why), sizeof(why) - strlen(why),
				 "; main.cf no longer deploys the new keys (changed by hand) and is left "
				 "as it is");
		} else if (rollback(r, why, &e2) < 0) {
			snprintf(why + strlen(why), sizeof(why) - strlen(why),
				 "; ROLLBACK FAILED TOO: %.200s", e2.msg);
		}
	}
	/* Resuming starts again at the deploy: main.cf holds the old keys. */
	r->st.phase = PF_PHASE_DEPLOYABLE;
	return fail(r, why);
}

/* retired -> idle: the rollover is over; the events stay for status.
 * Also what a restart after a kill in phase retired does.  Returns 0 or
 * -errno. */
static int finish(pf_roll *r, pf_err *e)
{
	int rc;

	pf_journal_state_event(&r->st, pf_now(), PF_EV_ROLLOVER_COMPLETED, NULL,
			       "rollover complete");
	reset_idle(&r->st);
	progress(r, "idle: rollover complete");
	if ((rc = save(r, e)) == 0)
		phase_fault_point(PF_PHASE_IDLE);
	return rc;
}

/* verified -> retired -> idle: withdraw the old records, confirm. */
static int step_retire(pf_roll *r, int64_t *wakeup, pf_err *e)
{
	size_t *idx = pf_calloc(r->st.n_records + 1, sizeof(size_t)), n;
	pf_strv missing = {0};
	dns_update_result res;
	bool done = false;
	int rc;

	n = select_records(&r->st, PF_ROLE_OLD, idx);
	/* A refusal (an old key deployed again by hand) comes back as -EPERM:
	 * roll_run stops the rollover in phase failed with the reason, once;
	 * a manual retire leaves the state as it was. */
	rc = withdraw(r, idx, n, "retire", retire_hint, &res, e);
	if (rc == 0)
		rc = propagation_round(r, idx, n, false, &done, &missing, e);
	free(idx);
	if (rc < 0 && !transient(rc))
		goto out;
	if (rc == 0 && done) {
		if ((rc = enter(r, PF_PHASE_RETIRED, PF_T_RETIRED, pf_now(), e,
				"%zu old record%s withdrawn and gone from every check server", n,
				n == 1 ? "" : "s")) < 0)
			goto out;
		rc = finish(r, e);
		goto out;
	}
	progress(r, "retire: %zu server%s still serve old records", missing.n,
		 missing.n == 1 ? "" : "s");
	pf_err_clear(e);
	rc = 0;
	*wakeup = pf_now() + r->poll_delay;
	r->poll_delay = r->poll_delay * 2 > POLL_MAX_SEC ? POLL_MAX_SEC : r->poll_delay * 2;
out:
	pf_strv_clear(&missing);
	return rc;
}

/* ---- entry points --------------------------------------------------------- */

/* Age of the deployed key of the first configured algorithm, seconds; -1
 * when none is deployed. */
static int64_t deployed_key_age(pf_roll *r)
{
	pf_tls_files dep = {0};
	pf_err e = {0};
	int64_t age = -1;
	struct stat st;

	if (open_postfix(r, &e) < 0 || postfix_deployed(&r->pf, "smtpd", &dep, &e) < 0)
		return -1;
	for (size_t i = 0; i < r->cfg->n_algs; i++) {
		const char *k = dep.key_file[r->cfg->algs[i]];

		if (!k || stat(k, &st) < 0) {
			age = INT64_MAX; /* an algorithm without a key: roll now */
			break;
		}
		int64_t a = pf_now() - st.st_mtime;
		age = age < 0 || a > age ? a : age;
	}
	pf_tls_files_free(&dep);
	return age;
}

int roll_start(pf_roll *r, pf_err *e)
{
	int rc;

	if ((rc = begin(r, e)) < 0)
		return rc;
	if (r->st.phase == PF_PHASE_FAILED) {
		enum pf_phase from = r->st.failed_from;

		free(r->st.failed_reason);
		r->st.failed_reason = NULL;
		r->st.phase = from;
		r->st.t[PF_T_FAILED] = 0;
		r->retry_delay = 0;
		rc = enter(r, from, PF_T_COUNT, pf_now(), e, "resuming after a failure");
	} else if (r->st.phase == PF_PHASE_IDLE) {
		rc = step_generate(r, e);
		if (rc < 0 && r->st.phase == PF_PHASE_IDLE && r->st.rollover[0]) {
			/* Nothing was deployed or published: note why and stay idle. */
			pf_err e2 = {0};
			char why[PF_STATE_MAX_TEXT];

			snprintf(why, sizeof(why), "key generation failed: %.300s", e->msg);
			pf_journal_state_event(&r->st, pf_now(), PF_EV_ROLLOVER_FAILED, NULL, "%s",
					       why);
			save(r, &e2);
		}
	}
	end(r);
	return rc;
}

/* From a step holding the lock: release it, roll_start (which takes it
 * itself), and hold it again with the state re-read.  Returns 0/-errno. */
static int start_locked(pf_roll *r, pf_err *e)
{
	int rc;

	end(r);
	if ((rc = roll_start(r, e)) < 0)
		return rc;
	return begin(r, e);
}

int roll_run(pf_roll *r, bool auto_start, int64_t *ret_wakeup, pf_err *e)
{
	int64_t wakeup = 0;
	int rc;

	if ((rc = begin(r, e)) < 0)
		return rc;
	for (int guard = 0; guard < 16 && rc == 0 && wakeup == 0; guard++) {
		enum pf_phase before = r->st.phase;
		pf_timing t;

		pf_timing_compute(&r->st, &r->tparams, &t);
		switch (r->st.phase) {
		case PF_PHASE_IDLE:
			if (r->st.rollover[0] && guard == 0) {
				/* Killed while generating the keys: finish that. */
				if ((rc = start_locked(r, e)) < 0)
					return rc;
				continue;
			}
			if (auto_start && r->cfg->rollover_interval > 0) {
				int64_t age = deployed_key_age(r);

				if (age >= r->cfg->rollover_interval) {
					if ((rc = start_locked(r, e)) < 0)
						return rc;
					continue;
				}
				if (age >= 0)
					wakeup = pf_now() + (r->cfg->rollover_interval - age);
			}
			goto done;
		case PF_PHASE_GENERATED:
			rc = step_publish(r, e);
			break;
		case PF_PHASE_PUBLISHED:
			rc = step_propagation(r, &wakeup, e);
			break;
		case PF_PHASE_PROPAGATED:
			if ((rc = check_hand_deploy(r, e)) < 0 || r->st.phase != before)
				break;
			if (pf_timing_may_deploy(&r->st, &t, pf_now(), e) < 0) {
				pf_err_clear(e);
				wakeup = t.deploy_known ? t.deploy_at : pf_now() + POLL_MAX_SEC;
				break;
			}
			rc = enter(r, PF_PHASE_DEPLOYABLE, PF_T_DEPLOYABLE, pf_now(), e,
				   "the safety time has passed");
			break;
		case PF_PHASE_DEPLOYABLE:
			rc = step_deploy(r, e);
			break;
		case PF_PHASE_DEPLOYED:
			rc = step_verify(r, e);
			break;
		case PF_PHASE_VERIFIED:
			if (r->st.t[PF_T_VERIFIED] < r->st.t[PF_T_RELOAD]) {
				/* A verification older than the reload proves nothing
				 * about what is live now: verify again. */
				rc = step_verify(r, e);
				break;
			}
			if (pf_timing_may_retire(&r->st, &t, pf_now(), e) < 0) {
				pf_err_clear(e);
				wakeup = t.retire_known ? t.retire_at : pf_now() + POLL_MAX_SEC;
				break;
			}
			rc = step_retire(r, &wakeup, e);
			break;
		case PF_PHASE_RETIRED:
			rc = finish(r, e);
			goto done;
		case PF_PHASE_FAILED:
		default:
			goto done;
		}
		if (rc < 0 && transient(rc)) {
			/* DNS or a server is unreachable: try again later, the
			 * phase unchanged.  Logged as a server error. */
			pf_journal_state_event(&r->st, pf_now(), PF_EV_SERVER_ERROR, NULL,
					       "will retry: %s", e->msg);
			progress(r, "retrying later: %s", e->msg);
			r->retry_delay = r->retry_delay ? r->retry_delay * 2 : POLL_MIN_SEC * 2;
			if (r->retry_delay > RETRY_MAX_SEC)
				r->retry_delay = RETRY_MAX_SEC;
			wakeup = pf_now() + r->retry_delay;
			pf_err_clear(e);
			rc = save(r, e);
		} else if (rc < 0 && r->st.phase == before && before != PF_PHASE_IDLE) {
			/* A permanent failure: stop where we are, say why. */
			char why[PF_STATE_MAX_TEXT];

			snprintf(why, sizeof(why), "%.380s", e->msg);
			pf_err_clear(e);
			rc = fail(r, why);
		} else if (rc == 0) {
			r->retry_delay = 0;
		}
	}
done:
	end(r);
	*ret_wakeup = wakeup;
	return rc;
}

int roll_deploy(pf_roll *r, bool force, pf_err *e)
{
	pf_timing t;
	int rc;

	if ((rc = begin(r, e)) < 0)
		return rc;
	pf_timing_compute(&r->st, &r->tparams, &t);
	if (r->st.phase < PF_PHASE_PUBLISHED || r->st.phase > PF_PHASE_DEPLOYABLE) {
		rc = pf_err_refuse(e, "nothing to deploy: the rollover is in phase %s",
				   pf_phase_name(r->st.phase));
	} else if (!force && (rc = pf_timing_may_deploy(&r->st, &t, pf_now(), e)) < 0) {
		/* e says what is awaited, and until when. */
	} else {
		if (force && pf_timing_may_deploy(&r->st, &t, pf_now(), NULL) < 0)
			pf_journal_state_event(&r->st, pf_now(), PF_EV_FORCED_DEPLOY, NULL,
					       "deploy --force-now: deploying before the safety time "
					       "(phase %s)",
					       pf_phase_name(r->st.phase));
		if (r->st.phase != PF_PHASE_DEPLOYABLE) {
			if (!r->st.t[PF_T_CONF])
				r->st.t[PF_T_CONF] = now_up();
			rc = enter(r, PF_PHASE_DEPLOYABLE, PF_T_DEPLOYABLE, pf_now(), e,
				   force ? "deploy forced" : "the safety time has passed");
		}
		if (rc == 0)
			rc = step_deploy(r, e);
		if (rc == 0 && r->st.phase == PF_PHASE_DEPLOYED)
			rc = step_verify(r, e);
		if (rc == 0 && r->st.phase == PF_PHASE_FAILED)
			rc = pf_err_set(e, EIO, "%s", r->st.failed_reason);
	}
	end(r);
	return rc;
}

int roll_cancel(pf_roll *r, pf_err *e)
{
	enum pf_phase p;
	size_t *idx, n;
	dns_update_result res;
	int rc;

	if ((rc = begin(r, e)) < 0)
		return rc;
	p = r->st.phase == PF_PHASE_FAILED ? r->st.failed_from : r->st.phase;
	if (r->st.phase == PF_PHASE_IDLE && !r->st.rollover[0]) {
		end(r);
		return pf_err_refuse(e, "no rollover in progress");
	}
	/* Not the saved phase decides but what is deployed now: before the
	 * deploy an operator may have deployed the next keys by hand (then
	 * cancel is refused), after it rolled back by hand (then the next
	 * keys' records and files may go; the old ones stay).  The guard asks
	 * even when nothing was published, since the key files go too. */
	idx = pf_calloc(r->st.n_records + 1, sizeof(size_t));
	n = select_records(&r->st, PF_ROLE_NEXT, idx);
	rc = guard(r, idx, n, "cancel and withdraw", cancel_hint, e);
	if (rc == 0 && p >= PF_PHASE_GENERATED && (r->st.t[PF_T_PUB] || r->st.n_rrsets))
		rc = apply_changes(r, idx, n, DNS_OP_DELETE, &res, e);
	free(idx);
	if (rc == 0) {
		for (int a = 0; a < PF_ALG_COUNT; a++) {
			const pf_state_key *k = &r->st.keys[a];

			if (!k->present || !pf_state_key_has_next(k))
				continue;
			unlink(k->next_key);
			unlink(k->next_cert);
			pf_remove_stale_temps(k->next_key);
			pf_remove_stale_temps(k->next_cert);
		}
		pf_fsync_parent(r->cfg->postfix_config_directory);
		pf_journal_state_event(&r->st, pf_now(), PF_EV_CANCELLED, NULL,
				       "rollover cancelled: new records withdrawn, new keys removed");
		reset_idle(&r->st);
		rc = save(r, e);
	}
	end(r);
	return rc;
}

const char *roll_status_line(pf_roll *r)
{
	pf_timing t;
	char when[40];
	int64_t now = pf_now();

	pf_timing_compute(&r->st, &r->tparams, &t);
	switch (r->st.phase) {
	case PF_PHASE_PUBLISHED: {
		size_t total = 0;

		for (size_t z = 0; z < r->n_zones; z++)
			total += r->zones[z].n_checks;
		if (total)
			snprintf(r->status, sizeof(r->status),
				 "published: %zu of %zu check servers serve the new records",
				 r->st.n_servers, total);
		else
			snprintf(r->status, sizeof(r->status),
				 "published: %zu check server%s confirmed so far", r->st.n_servers,
				 r->st.n_servers == 1 ? "" : "s");
		break;
	}
	case PF_PHASE_PROPAGATED:
		snprintf(r->status, sizeof(r->status), "propagated: deploy at %s (in %s)",
			 pf_timing_fmt_time(t.deploy_at, when, sizeof(when)),
			 pf_fmt_duration(t.deploy_at - now, (char[32]){0}, 32));
		break;
	case PF_PHASE_VERIFIED:
		snprintf(r->status, sizeof(r->status), "verified: old records withdrawn at %s",
			 pf_timing_fmt_time(t.retire_at, when, sizeof(when)));
		break;
	case PF_PHASE_FAILED:
		snprintf(r->status, sizeof(r->status), "failed in %s: %.200s",
			 pf_phase_name(r->st.failed_from),
			 r->st.failed_reason ? r->st.failed_reason : "");
		break;
	default:
		snprintf(r->status, sizeof(r->status), "%s", pf_phase_name(r->st.phase));
	}
	return r->status;
}

int roll_publish(pf_roll *r, pf_err *e)
{
	int rc;

	if ((rc = begin(r, e)) < 0)
		return rc;
	if (r->st.phase != PF_PHASE_GENERATED)
		rc = pf_err_refuse(e, "no pending keys to publish: the rollover is in phase %s",
				   pf_phase_name(r->st.phase));
	else
		rc = step_publish(r, e);
	end(r);
	return rc;
}

int roll_retire(pf_roll *r, int max_wait, pf_err *e)
{
	int64_t deadline = pf_now() + max_wait;
	int rc;

	for (;;) {
		int64_t wakeup = 0;
		pf_timing t;

		if ((rc = begin(r, e)) < 0)
			return rc;
		pf_timing_compute(&r->st, &r->tparams, &t);
		if (r->st.phase != PF_PHASE_VERIFIED)
			rc = pf_err_refuse(e, "no old records to retire: the rollover is in phase %s",
					   pf_phase_name(r->st.phase));
		else if ((rc = pf_timing_may_retire(&r->st, &t, pf_now(), e)) == 0)
			rc = step_retire(r, &wakeup, e);
		end(r);
		if (rc < 0 || wakeup == 0)
			return rc;
		if (pf_now() >= deadline)
			return pf_err_set(e, ETIMEDOUT,
					  "old records withdrawn, but not yet gone from every check "
					  "server; the rollover confirms it later");
		sleep(1);
	}
}

int roll_key_files(pf_roll *r, bool next, pf_strv *ret, pf_err *e)
{
	int rc;

	if ((rc = load_state(r, e)) < 0)
		return rc;
	for (int a = 0; a < PF_ALG_COUNT; a++) {
		const pf_state_key *k = &r->st.keys[a];

		if (!k->present)
			continue;
		if (next && pf_state_key_has_next(k))
			pf_strv_push(ret, k->next_key);
		else if (!next && pf_state_key_has_old(k))
			pf_strv_push(ret, k->old_key);
	}
	if (ret->n == 0)
		return pf_err_refuse(e, "no %s keys: the rollover is in phase %s; name key files",
				     next ? "pending" : "replaced", pf_phase_name(r->st.phase));
	return 0;
}

int roll_reload(pf_roll *r, pf_err *e)
{
	int rc;

	if ((rc = open_postfix(r, e)) < 0)
		return rc;
	return reload_postfix(r, e);
}

int roll_check(pf_roll *r, FILE *out, pf_err *e)
{
	pf_tls_files dep = {0};
	pf_strv hosts = {0};
	pf_state saved = r->st;
	FILE *saved_progress = r->progress;
	size_t n_keys = 0;
	int rc;

	/* The audit reuses the verification of a rollover on a scratch state
	 * whose "next" keys are the ones deployed now. */
	pf_state_init(&r->st);
	r->audit = true;
	r->progress = out;
	if ((rc = open_postfix(r, e)) < 0 || (rc = tlsa_hosts(r, &hosts, e)) < 0 ||
	    (rc = postfix_deployed(&r->pf, "smtpd", &dep, e)) < 0)
		goto out;
	pf_state_begin(&r->st, pf_now());
	for (int a = 0; rc == 0 && a < PF_ALG_COUNT; a++) {
		pf_pubkey pk = {0};

		if (!dep.key_file[a] || !dep.cert_file[a])
			continue;
		rc = keystore_load_pubkey(dep.key_file[a], &pk, e);
		if (rc == 0)
			rc = pf_state_set_key(&r->st, (enum pf_alg)a, PF_ROLE_NEXT, dep.key_file[a],
					      dep.cert_file[a], pk.spki_sha256, e);
		if (rc == 0)
			rc = add_records(r, PF_ROLE_NEXT, (enum pf_alg)a, dep.key_file[a],
					 dep.cert_file[a], &hosts, e);
		if (rc == 0) {
			fprintf(out, "deployed %s key %s (spki %s)\n", pf_alg_name((enum pf_alg)a),
				dep.key_file[a], pk.spki_sha256);
			n_keys++;
		}
		pf_pubkey_free(&pk);
	}
	if (rc == 0 && n_keys == 0)
		rc = pf_err_set(e, ENOENT, "%s: no server key is deployed in main.cf",
				r->cfg->postfix_config_directory);
	if (rc == 0) {
		dns_zones_free(r->zones, r->n_zones);
		r->zones = NULL;
		r->n_zones = 0;
		rc = verify_once(r, e);
		if (rc == 0)
			fprintf(out, "ok: every deployed key's records are on every check server and "
				     "every endpoint presents a DANE-valid deployed key\n");
		else if (rc == -EPROTO || rc == -ECONNREFUSED || rc == -ETIMEDOUT)
			rc = -EPROTO;
	}
out:
	pf_tls_files_free(&dep);
	pf_strv_clear(&hosts);
	pf_state_free(&r->st);
	r->st = saved;
	r->audit = false;
	r->progress = saved_progress;
	dns_zones_free(r->zones, r->n_zones);
	r->zones = NULL;
	r->n_zones = 0;
	return rc;
}

int roll_refresh(pf_roll *r, pf_err *e)
{
	return load_state(r, e);
}

int roll_status(pf_roll *r, FILE *out, bool json, pf_err *e)
{
	pf_timing t;
	int rc;

	/* Status only reads: a rollover step in progress elsewhere holds the
	 * lock, and the file is never torn, so read it without the lock. */
	if ((rc = load_state(r, e)) < 0)
		return rc;
	pf_timing_compute(&r->st, &r->tparams, &t);
	pf_status_print(&r->st, &t, pf_now(), json, out);
	return 0;
}
