/*
 * roll_fake.h - the world test_rollover.c runs the rollover engine in,
 * played through roll_set_ops (rollover.h):
 *   - DNS: a log of the adds and deletes the update server took, which
 *     each check server serves after its own lag (or not at all, timed
 *     out), with SOA serials that count them;
 *   - Postfix: main.cf as name = value pairs in memory, postconf -e and
 *     the snapshot/restore on them, a reload that makes the endpoint
 *     present what main.cf names (or leaves it as it was, or fails), and
 *     counters of changes and reloads;
 *   - the withdraw guard's inputs (main.cf's keys and the endpoint's),
 *     decided by the real withdraw_guard_decide;
 *   - the clock, which only the test advances: W->now in seconds, and
 *     to the ms through now_ms/set_now_ms (a test that sets W->now to
 *     another second drops the ms part);
 *   - the state file, saved for real, each save counted, its timestamps
 *     and phases recorded, and a kill (_exit) right after save N.
 * Everything lives in one shared mapping (W), so that a child killed
 * after a save leaves the world as it was for the parent to carry on.
 * One includer: the functions are static.
 */
#ifndef PF_ROLL_FAKE_H
#define PF_ROLL_FAKE_H

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "../../daemon/keystore.h"
#include "../../daemon/rollover.h"
#include "../../daemon/state.h"
#include "../../daemon/tlsa.h"
#include "t.h"
#include "../../daemon/macro.h"

#define T0 1900000000LL /* the fake clock's start (2030) */
#define N_SERVERS 2
#define MAX_LOG 64
#define MAX_MC 48
#define OWNER "_25._tcp.mx.example.test."

/* One add or delete as the update server took it; initial ones are
 * served everywhere from the start. */
typedef struct frec {
	char owner[256];
	pf_tlsa_rdata rd;
	bool add, initial;
	int64_t t;
	int64_t t_ms; /* to the ms (0: t, whole seconds, as a test sets it) */
} frec;

/* The fake world, in a shared mapping (fork). */
typedef struct fworld {
	int64_t now;
	int64_t ms, ms_of; /* the ms part of the clock (0..999), while now is ms_of */
	uint64_t mono;
	/* DNS */
	frec log[MAX_LOG];
	size_t n_log;
	int64_t lag[N_SERVERS];    /* seconds a server lags behind the update server */
	int64_t lag_ms[N_SERVERS]; /* and ms more */
	bool down[N_SERVERS];      /* times out */
	uint32_t ttl;              /* TTL of the TLSA RRsets served */
	uint32_t soa_ttl, soa_min;
	int update_rc; /* an update fails with this (-errno), 0: works */
	unsigned n_updates, n_added, n_deleted;
	/* Postfix */
	char mc_name[MAX_MC][64];
	char mc_value[MAX_MC][PATH_MAX];
	size_t n_mc;
	char live_key[PATH_MAX]; /* what the endpoint presents (ECDSA) */
	bool reload_noop;        /* a reload that leaves smtpd as it was */
	int check_rc;
	unsigned reload_failures; /* the next this many reloads fail */
	unsigned n_reloads, n_sets, n_restores, n_refused;
	int64_t t_set;    /* the clock at the last postconf -e */
	int64_t t_set_ms; /* the same, to the ms */
	/* Calls of the Postfix reads and checks, counted; main.cf's and
	 * master.cf's changes, each a new mark (f_mark). */
	unsigned n_deployed, n_snapshots, n_deploy_settings, n_preflights;
	unsigned n_checks_full, n_checks_readback, n_marks;
	unsigned mc_gen, master_gen;
	/* the state file */
	unsigned n_saves, kill_at;
	bool in_child;
	int64_t stamp[PF_T_COUNT];
	int64_t stamp_ms[PF_T_COUNT]; /* the same, pf_state_stamp_ms */
	unsigned stamp_changed[PF_T_COUNT];
	char phases[2048];                     /* the phases saved, in order, comma-separated */
	char rollover[PF_ROLLOVER_ID_LEN + 1]; /* the id the stamps are of */
	int64_t dep_pub, dep_conf;             /* T_pub and T_conf when deployable was saved */
	int64_t dep_pub_ms, dep_conf_ms;       /* the same, to the ms */
	enum pf_phase last_phase;
	int64_t phase_ms[PF_PHASE_COUNT];  /* the clock when each phase was first saved */
	unsigned saves_in[PF_PHASE_COUNT]; /* saves of a state in each phase */
	unsigned n_guards;                 /* withdraw guard runs */
} fworld;

static fworld *W;
static char top[] = "/tmp/pftls-test-rollover-XXXXXX";
static char old_key[PATH_MAX], old_cert[PATH_MAX];
static pf_tlsa_rdata old_rd;
static int case_no;

/* ---- the fake clock ---------------------------------------------------- */

static int64_t now_ms(void)
{
	return W->now * 1000 + (W->ms_of == W->now ? W->ms : 0);
}

static void set_now_ms(int64_t ms)
{
	W->now = ms / 1000;
	W->ms = ms % 1000;
	W->ms_of = W->now;
}

static int64_t f_now_ms(void *ud)
{
	(void)ud;
	return now_ms();
}

static uint64_t f_mono(void *ud)
{
	(void)ud;
	return (uint64_t)(now_ms() - T0 * 1000) * 1000u + W->mono;
}

static void f_sleep(void *ud, unsigned ms)
{
	(void)ud;
	set_now_ms(now_ms() + ms);
}

/* ---- fake DNS ---------------------------------------------------------- */

/* When the update server took f, epoch ms. */
static int64_t frec_ms(const frec *f)
{
	return f->t_ms ? f->t_ms : f->t * 1000;
}

/* Is (owner, rd) served by a server lag ms behind, now? */
static bool served(const char *owner, const pf_tlsa_rdata *rd, int64_t lag)
{
	bool on = false;

	for (size_t i = 0; i < W->n_log; i++) {
		const frec *f = &W->log[i];

		if ((f->initial || frec_ms(f) + lag <= now_ms()) && strcmp(f->owner, owner) == 0 &&
		    tlsa_equal(&f->rd, rd))
			on = f->add;
	}
	return on;
}

static unsigned served_at(const char *owner, int64_t lag)
{
	unsigned n = 0;

	for (size_t i = 0; i < W->n_log; i++)
		if (strcmp(W->log[i].owner, owner) == 0 && W->log[i].add &&
		    served(owner, &W->log[i].rd, lag)) {
			bool dup = false;

			for (size_t j = 0; j < i; j++)
				dup |= strcmp(W->log[j].owner, owner) == 0 &&
				       tlsa_equal(&W->log[j].rd, &W->log[i].rd);
			n += !dup;
		}
	return n;
}

static uint32_t serial_at(int64_t lag)
{
	uint32_t n = 100;

	for (size_t i = 0; i < W->n_log; i++)
		n += !W->log[i].initial && frec_ms(&W->log[i]) + lag <= now_ms();
	return n;
}

static void target(dns_target *t, int s)
{
	memset(t, 0, sizeof(*t));
	dns_server_set(&t->addr, s == 0 ? "127.0.0.1" : "127.0.0.2", 53);
	snprintf(t->name, sizeof(t->name), "ns%d.example.test.", s + 1);
	t->update_server = s == 0;
}

static int f_discover(void *ud, const pf_config *cfg, char *const *owners, size_t n_owners,
		      dns_zone_info **ret, size_t *n_zones, size_t *owner_zone, pf_err *e)
{
	dns_zone_info *z = pf_calloc(1, sizeof(*z));

	(void)ud, (void)cfg, (void)e, (void)owners;
	snprintf(z->zone, sizeof(z->zone), "example.test.");
	target(&z->update, 0);
	z->checks = pf_calloc(N_SERVERS, sizeof(*z->checks));
	for (int s = 0; s < N_SERVERS; s++)
		target(&z->checks[s], s);
	z->n_checks = N_SERVERS;
	for (size_t i = 0; i < n_owners; i++)
		owner_zone[i] = 0;
	*ret = z;
	*n_zones = 1;
	return 0;
}

static int f_update(void *ud, const dns_update_opts *o, dns_change *ch, size_t n,
		    dns_update_result *res, pf_err *e)
{
	bool any = false;

	(void)ud, (void)o;
	memset(res, 0, sizeof(*res));
	W->n_updates++;
	if (W->update_rc)
		return pf_err_set(e, -W->update_rc, "update REFUSED by 127.0.0.1:53 (test)");
	for (size_t i = 0; i < n; i++) {
		bool add = ch[i].op == DNS_OP_ADD;

		if (served(ch[i].owner, &ch[i].rd, 0) == add) {
			ch[i].result = DNS_CH_ALREADY;
			continue;
		}
		if (W->n_log >= MAX_LOG)
			abort();
		frec *f = &W->log[W->n_log++];
		snprintf(f->owner, sizeof(f->owner), "%s", ch[i].owner);
		f->rd = ch[i].rd;
		f->add = add;
		f->t = W->now;
		f->t_ms = now_ms();
		ch[i].result = DNS_CH_DONE;
		*(add ? &W->n_added : &W->n_deleted) += 1;
		any = true;
	}
	res->messages = any;
	res->t_pub = any ? now_ms() : 0;
	res->serial = serial_at(0);
	res->zone_signed = true;
	return 0;
}

static int f_prop(void *ud, const dns_zone_info *z, const dns_prop_want *want, size_t n,
		  const dns_net_opts *o, dns_prop_round *ret, pf_err *e)
{
	dns_prop_round rd = {0};

	(void)ud, (void)o, (void)e;
	snprintf(rd.zone, sizeof(rd.zone), "%s", z->zone);
	rd.owners = pf_calloc(n + 1, sizeof(char *));
	rd.want_owner = pf_calloc(n + 1, sizeof(size_t));
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;

		while (k < rd.n_owners && strcmp(rd.owners[k], want[i].owner) != 0)
			k++;
		if (k == rd.n_owners)
			rd.owners[rd.n_owners++] = pf_strdup(want[i].owner);
		rd.want_owner[i] = k;
	}
	rd.want = want;
	rd.n_want = n;
	rd.servers = pf_calloc(z->n_checks, sizeof(*rd.servers));
	rd.n_servers = z->n_checks;
	rd.time = W->now;
	rd.zone_signed = true;
	rd.all_complete = true;
	rd.soa_ttl = W->soa_ttl;
	rd.soa_minimum = W->soa_min;
	for (size_t s = 0; s < z->n_checks; s++) {
		dns_prop_server *sv = &rd.servers[s];
		int64_t lag = W->lag[s] * 1000 + W->lag_ms[s];

		sv->target = z->checks[s];
		sv->rrsets = pf_calloc(rd.n_owners + 1, sizeof(*sv->rrsets));
		sv->match = pf_calloc(n + 1, sizeof(bool));
		sv->n_match = n;
		if (W->down[s]) {
			sv->state = DNS_PROP_NO_ANSWER;
			snprintf(sv->note, sizeof(sv->note), "timed out");
			rd.all_complete = false;
			continue;
		}
		sv->have_soa = true;
		sv->serial = serial_at(lag);
		sv->soa_ttl = W->soa_ttl;
		sv->soa_minimum = W->soa_min;
		sv->soa_signed = true;
		for (size_t k = 0; k < rd.n_owners; k++) {
			dns_prop_rrset *rs = &sv->rrsets[k];

			rs->answered = true;
			rs->n_rr = served_at(rd.owners[k], lag);
			rs->ttl = rs->n_rr ? W->ttl : 0;
			rs->orig_ttl = rs->ttl;
			if (rs->ttl > rd.max_tlsa_ttl)
				rd.max_tlsa_ttl = rs->ttl;
			rs->rrsig = rs->n_rr > 0;
		}
		sv->complete = true;
		sv->all_signed = true;
		for (size_t i = 0; i < n; i++) {
			sv->match[i] = served(want[i].owner, &want[i].rd, lag) == want[i].present;
			sv->complete &= sv->match[i];
		}
		if (!sv->complete)
			snprintf(sv->note, sizeof(sv->note), "records missing");
		rd.all_complete &= sv->complete;
	}
	*ret = rd;
	return 0;
}

static void spki_of(const char *path, char *buf)
{
	pf_pubkey pk = {0};
	pf_err e = {0};

	buf[0] = '\0';
	if (keystore_load_pubkey(path, &pk, &e) == 0)
		snprintf(buf, 65, "%s", pk.spki_sha256);
	pf_pubkey_free(&pk);
}

static int f_probe(void *ud, const pf_hostport *ep, const char *tlsa_host,
		   const pf_tlsa_rdata *records, size_t n, enum pf_probe_want want, int timeout_ms,
		   pf_probe_result *ret, pf_err *e)
{
	(void)ud, (void)tlsa_host, (void)want, (void)timeout_ms;
	memset(ret, 0, sizeof(*ret));
	if (!W->live_key[0])
		return pf_err_set(e, ECONNREFUSED, "%s: connection refused (test)", ep->host);
	snprintf(ret->address, sizeof(ret->address), "%.60s", ep->host);
	spki_of(W->live_key, ret->spki_sha256);
	ret->alg = PF_ALG_ECDSA;
	ret->dane_checked = n > 0;
	for (size_t i = 0; i < n; i++) {
		char hex[129] = "";

		for (size_t j = 0; j < records[i].len && j < 32; j++)
			snprintf(hex + 2 * j, 3, "%02x", records[i].data[j]);
		if (records[i].selector == 1 && records[i].mtype == 1 &&
		    strcmp(hex, ret->spki_sha256) == 0)
			ret->dane_ok = true;
	}
	if (!ret->dane_ok)
		snprintf(ret->verify_error, sizeof(ret->verify_error), "no matching TLSA (test)");
	return 0;
}

/* ---- fake Postfix ------------------------------------------------------ */

static const char *mc_get(const char *name)
{
	for (size_t i = 0; i < W->n_mc; i++)
		if (strcmp(W->mc_name[i], name) == 0)
			return W->mc_value[i];
	return NULL;
}

static void mc_set(const char *name, const char *value)
{
	size_t i = 0;

	W->mc_gen++; /* postconf -e and -X write a new main.cf */
	while (i < W->n_mc && strcmp(W->mc_name[i], name) != 0)
		i++;
	if (!value) {
		if (i < W->n_mc) {
			W->n_mc--;
			memmove(W->mc_name[i], W->mc_name[W->n_mc], sizeof(W->mc_name[i]));
			memmove(W->mc_value[i], W->mc_value[W->n_mc], sizeof(W->mc_value[i]));
		}
		return;
	}
	if (i == W->n_mc) {
		if (W->n_mc >= MAX_MC)
			abort();
		snprintf(W->mc_name[W->n_mc++], sizeof(W->mc_name[0]), "%s", name);
	}
	snprintf(W->mc_value[i], sizeof(W->mc_value[i]), "%s", value);
}

static int f_pf_open(void *ud, pf_err *e)
{
	(void)ud, (void)e;
	return 0;
}

static int f_myhostname(void *ud, char **ret, pf_err *e)
{
	(void)ud, (void)e;
	*ret = pf_strdup("mx.example.test");
	return 0;
}

static int f_deployed(void *ud, const char *prefix, pf_tls_files *ret, pf_err *e)
{
	static const char *const kp[] = {"_tls_key_file", "_tls_eckey_file"};
	static const char *const cp[] = {"_tls_cert_file", "_tls_eccert_file"};

	(void)ud, (void)e;
	W->n_deployed++;
	memset(ret, 0, sizeof(*ret));
	for (int a = 0; a < PF_ALG_COUNT; a++) {
		char kn[64], cn[64];
		const char *k, *c;

		snprintf(kn, sizeof(kn), "%s%s", prefix, kp[a]);
		snprintf(cn, sizeof(cn), "%s%s", prefix, cp[a]);
		k = mc_get(kn);
		c = mc_get(cn);
		if (!k && strcmp(prefix, "tlsproxy") == 0) { /* inherited */
			snprintf(kn, sizeof(kn), "smtpd%s", kp[a]);
			snprintf(cn, sizeof(cn), "smtpd%s", cp[a]);
			k = mc_get(kn);
			c = mc_get(cn);
		}
		ret->key_file[a] = k && *k ? pf_strdup(k) : NULL;
		ret->cert_file[a] = c && *c ? pf_strdup(c) : NULL;
	}
	return 0;
}

static int f_snapshot(void *ud, const char *const *names, pf_snapshot *ret, pf_err *e)
{
	size_t n = 0;

	(void)ud, (void)e;
	W->n_snapshots++;
	while (names[n])
		n++;
	memset(ret, 0, sizeof(*ret));
	ret->values = pf_calloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		const char *v = mc_get(names[i]);

		pf_strv_push(&ret->names, names[i]);
		ret->values[i] = v ? pf_strdup(v) : NULL;
	}
	return 0;
}

static int f_restore(void *ud, const pf_snapshot *s, pf_err *e)
{
	(void)ud, (void)e;
	W->n_restores++;
	for (size_t i = 0; i < s->names.n; i++)
		mc_set(s->names.v[i], s->values[i]);
	return 0;
}

static int f_deploy_settings(void *ud, enum pf_alg alg, const char *keyfile, const char *certfile,
			     pf_strv *ret, pf_err *e)
{
	(void)ud, (void)e;
	W->n_deploy_settings++;
	pf_strv_push_owned(ret, pf_asprintf("smtpd_tls_%skey_file = %s",
					    alg == PF_ALG_ECDSA ? "ec" : "", keyfile));
	pf_strv_push_owned(ret, pf_asprintf("smtpd_tls_%scert_file = %s",
					    alg == PF_ALG_ECDSA ? "ec" : "", certfile));
	return 0;
}

static int f_set(void *ud, const pf_strv *settings, pf_err *e)
{
	(void)ud, (void)e;
	W->n_sets++;
	W->t_set = W->now;
	W->t_set_ms = now_ms();
	for (size_t i = 0; i < settings->n; i++) {
		char name[64];
		const char *eq = strstr(settings->v[i], " = ");

		if (!eq || (size_t)(eq - settings->v[i]) >= sizeof(name))
			abort();
		snprintf(name, sizeof(name), "%.*s", (int)(eq - settings->v[i]), settings->v[i]);
		mc_set(name, eq + 3);
	}
	return 0;
}

static int f_check(void *ud, bool full, const pf_strv *settings, pf_err *e)
{
	(void)ud, (void)settings;
	*(full ? &W->n_checks_full : &W->n_checks_readback) += 1;
	if (W->check_rc)
		return pf_err_set(e, -W->check_rc, "postconf: warning: bad setting (test)");
	return 0;
}

static int f_preflight(void *ud, bool *ret_full, pf_err *e)
{
	(void)ud, (void)e;
	W->n_preflights++;
	*ret_full = false;
	return 0;
}

/* main.cf's mark follows its content and each write (mc_gen), master.cf's
 * master_gen; any other file is marked for real. */
static int f_mark(void *ud, const char *path, pf_file_mark *ret, pf_err *e)
{
	size_t l = strlen(path);
	bool main_cf = l >= 8 && strcmp(path + l - 8, "/main.cf") == 0;
	bool master_cf = l >= 10 && strcmp(path + l - 10, "/master.cf") == 0;
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx;

	(void)ud;
	W->n_marks++;
	if (!main_cf && !master_cf)
		return postfix_mark(path, ret, e);
	memset(ret, 0, sizeof(*ret));
	ret->exists = true;
	ret->ino = master_cf ? 2 : 1;
	ret->mtime_ns = master_cf ? W->master_gen : W->mc_gen;
	ctx = EVP_MD_CTX_new();
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		abort();
	for (size_t i = 0; main_cf && i < W->n_mc; i++) {
		EVP_DigestUpdate(ctx, W->mc_name[i], strlen(W->mc_name[i]) + 1);
		EVP_DigestUpdate(ctx, W->mc_value[i], strlen(W->mc_value[i]) + 1);
	}
	EVP_DigestFinal_ex(ctx, ret->sha256, &mdlen);
	EVP_MD_CTX_free(ctx);
	ret->size = main_cf ? (long long)W->n_mc : 0;
	return 0;
}

static int f_reload(void *ud, pf_err *e)
{
	const char *k = mc_get("smtpd_tls_eckey_file");

	(void)ud;
	W->n_reloads++;
	if (W->reload_failures && W->reload_failures--)
		return pf_err_set(e, EIO, "postfix reload failed (test)");
	if (!W->reload_noop)
		snprintf(W->live_key, sizeof(W->live_key), "%s", k ? k : "");
	return 0;
}

static int f_save(void *ud, const char *path, const pf_state *st, pf_err *e)
{
	int rc = pf_state_save(path, st, e);

	(void)ud;
	if (rc < 0)
		return rc;
	W->n_saves++;
	if (st->rollover[0] && strcmp(st->rollover, W->rollover) != 0) {
		/* A new rollover (prepublish: the following staging cycle). */
		snprintf(W->rollover, sizeof(W->rollover), "%s", st->rollover);
		memset(W->stamp, 0, sizeof(W->stamp));
		memset(W->stamp_ms, 0, sizeof(W->stamp_ms));
		memset(W->stamp_changed, 0, sizeof(W->stamp_changed));
	}
	for (int k = 0; k < PF_T_COUNT; k++) {
		if (!st->t[k] || k == PF_T_FAILED)
			continue;
		if (!W->stamp[k]) {
			W->stamp[k] = st->t[k];
			W->stamp_ms[k] = pf_state_stamp_ms(st, (enum pf_stamp)k);
		} else if (W->stamp[k] != st->t[k]) {
			W->stamp_changed[k]++;
		}
	}
	if (st->phase == PF_PHASE_DEPLOYABLE) {
		W->dep_pub = st->t[PF_T_PUB];
		W->dep_conf = st->t[PF_T_CONF];
		W->dep_pub_ms = pf_state_stamp_ms(st, PF_T_PUB);
		W->dep_conf_ms = pf_state_stamp_ms(st, PF_T_CONF);
	}
	W->saves_in[st->phase]++;
	if (st->phase != W->last_phase) {
		size_t l = strlen(W->phases);

		W->phase_ms[st->phase] = now_ms();
		snprintf(W->phases + l, sizeof(W->phases) - l, "%s%s", l ? "," : "",
			 pf_phase_name(st->phase));
		W->last_phase = st->phase;
	}
	if (W->in_child && W->kill_at && W->n_saves == W->kill_at)
		_exit(0); /* killed right after this save */
	return 0;
}

/* The guard's decision over what main.cf and the endpoint put into
 * service now, as withdraw_guard_check makes it. */
static int f_guard(void *ud, const pf_guard_req *q, const pf_guard_record *recs, size_t n,
		   pf_err *e)
{
	static const char *const params[] = {"smtpd_tls_eckey_file", "tlsproxy_tls_eckey_file",
					     "smtpd_tls_key_file"};
	pf_guard_inuse u = {0};
	char spki[65];
	size_t key;
	ssize_t hit;

	(void)ud;
	W->n_guards++;
	for (size_t i = 0; i < PF_ELEMENTSOF(params); i++) {
		const char *f = mc_get(params[i]);

		if (f && *f) {
			spki_of(f, spki);
			withdraw_guard_inuse_add(&u, spki, f, params[i]);
		}
	}
	if (W->live_key[0]) {
		spki_of(W->live_key, spki);
		withdraw_guard_inuse_add(&u, spki, NULL, "endpoint 127.0.0.1:25");
	}
	hit = withdraw_guard_decide(&u, recs, n, &key);
	if (hit >= 0) {
		W->n_refused++;
		pf_err_refuse(e, "%s refused: the key of %s is in use (%s)", q->action,
			      recs[hit].key_file ? recs[hit].key_file : "?", u.v[key].where);
	}
	withdraw_guard_inuse_free(&u);
	return hit >= 0 ? -EPERM : 0;
}

static const pf_roll_ops fake_ops = {
	.now_ms = f_now_ms,
	.mono_usec = f_mono,
	.sleep_ms = f_sleep,
	.discover = f_discover,
	.update_apply = f_update,
	.prop_run = f_prop,
	.probe = f_probe,
	.postfix_open = f_pf_open,
	.myhostname = f_myhostname,
	.deployed = f_deployed,
	.snapshot = f_snapshot,
	.restore = f_restore,
	.deploy_settings = f_deploy_settings,
	.set = f_set,
	.check = f_check,
	.mark = f_mark,
	.reload_preflight = f_preflight,
	.reload = f_reload,
	.save = f_save,
	.guard = f_guard,
};

/* ---- the deploy prepared ahead (roll_deploy.c) --------------------------- */

/* The world as the rollover entered phase deployed (roll_set_phase_hook
 * with on_phase, the roll object as its userdata). */
static fworld at_deployed; /* the world as the rollover entered phase deployed */

static inline void on_phase(void *ud)
{
	if (strcmp(roll_phase(ud), "deployed") == 0)
		at_deployed = *W;
}

static inline void zero_counts(void)
{
	W->n_deployed = W->n_snapshots = W->n_deploy_settings = W->n_preflights = 0;
	W->n_checks_full = W->n_checks_readback = W->n_sets = W->n_reloads = 0;
	memset(&at_deployed, 0, sizeof(at_deployed));
}

/* At the moment, only postconf -e, its read-back and the reload ran. */
static inline bool only_set_check_reload(void)
{
	const fworld *a = &at_deployed;

	return a->n_sets == 1 && a->n_checks_readback == 1 && a->n_reloads == 1 &&
	       a->n_deployed == 0 && a->n_snapshots == 0 && a->n_deploy_settings == 0 &&
	       a->n_preflights == 0 && a->n_checks_full == 0;
}

/* Everything was read at the moment, as without a preparation. */
static inline bool read_at_moment(void)
{
	const fworld *a = &at_deployed;

	return a->n_sets == 1 && a->n_reloads == 1 && a->n_deployed >= 2 && a->n_snapshots >= 2 &&
	       a->n_deploy_settings == 1 && a->n_preflights == 1;
}

/* ---- the world and the configuration of one case ------------------------ */

typedef struct world_opts {
	uint32_t ttl;       /* TTL served (and the old record's) */
	bool no_old_record; /* the TLSA RRset does not exist before */
	uint32_t tlsa_ttl;
	int64_t min_delay, safety, retire_delay, alert;
	int64_t lag2;    /* ns2's lag */
	bool prepublish; /* rollover_scheme = prepublish (else on-demand) */
	int64_t audit_interval;
	int64_t rollover_interval;
} world_opts;

static const world_opts defaults = {300, false, 300, 0, 60, 3600, 3600, 0, false, 0, 0};

typedef struct tcase {
	pf_config cfg;
	char dir[200], pfdir[PATH_MAX];
	world_opts o;
} tcase;

/* The state file of case c as the engine left it (a test that cannot read
 * it stops: nothing after would mean anything). */
static inline void case_load_state(const tcase *c, pf_state *st)
{
	char path[PATH_MAX];
	pf_err e = {0};

	snprintf(path, sizeof(path), "%s/state/" PF_STATE_FILE_NAME, c->dir);
	if (pf_state_load(path, c->pfdir, st, &e) < 0) {
		printf("FAIL: the state file: %s\n", e.msg);
		exit(1);
	}
}

/* A fresh world: scratch directories, main.cf deploying the old key, its
 * record served everywhere, the clock at T0. */
static void world_new(tcase *c, const world_opts *o)
{
	pf_err e = {0};
	char *text;

	memset(W, 0, sizeof(*W));
	W->now = T0;
	W->ttl = o->ttl;
	W->soa_ttl = 3600;
	W->soa_min = 900;
	W->lag[1] = o->lag2;
	W->last_phase = PF_PHASE_IDLE;
	c->o = *o;
	snprintf(c->dir, sizeof(c->dir), "%s/case%d", top, ++case_no);
	snprintf(c->pfdir, sizeof(c->pfdir), "%s/etc", c->dir);
	mkdir(c->dir, 0700);
	mkdir(c->pfdir, 0755);
	text = pf_asprintf("postfix_config_directory = %s\n"
			   "key_algorithms = ecdsa\n"
			   "tlsa_hostnames = mx.example.test\n"
			   "tlsa_ttl = %u\n"
			   "publish_safety = %llds\n"
			   "propagation_min_delay = %llds\n"
			   "propagation_alert = %llds\n"
			   "retire_delay = %llds\n"
			   "verify_endpoints = 127.0.0.1:25\n"
			   "rollover_scheme = %s\n"
			   "audit_interval = %llds\n"
			   "rollover_interval = %llds\n"
			   "state_directory = %s/state\n"
			   "dnssec_trust_anchor_file = %s/anchor\n",
			   c->pfdir, o->tlsa_ttl, (long long)o->safety, (long long)o->min_delay,
			   (long long)o->alert, (long long)o->retire_delay,
			   o->prepublish ? "prepublish" : "on-demand", (long long)o->audit_interval,
			   (long long)o->rollover_interval, c->dir, c->dir);
	/* The fake zone's own anchor: no zone above to discover (the fakes do
	 * not validate; dnssec_walk.h). */
	{
		char *an = pf_asprintf("%s/anchor", c->dir);
		FILE *af = fopen(an, "w");

		if (!af)
			abort();
		fputs("example.test. IN DS 12345 13 2 "
		      "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n",
		      af);
		fclose(af);
		free(an);
	}
	pf_config_init(&c->cfg);
	if (pf_config_parse(&c->cfg, "test.cf", text, &e) < 0) {
		printf("FAIL: configuration: %s\n", e.msg);
		exit(1);
	}
	free(text);
	/* The old key, copied into this instance's directory. */
	char *k = pf_asprintf("%s/eckey-20200101-000000.pem", c->pfdir);
	char *ce = pf_asprintf("%s/eccert-20200101-000000.pem", c->pfdir);
	char *cmd = pf_asprintf("cp -p %s %s && cp -p %s %s", old_key, k, old_cert, ce);
	if (system(cmd) != 0)
		abort();
	mc_set("smtpd_tls_eckey_file", k);
	mc_set("smtpd_tls_eccert_file", ce);
	snprintf(W->live_key, sizeof(W->live_key), "%s", k);
	if (!o->no_old_record) {
		frec *f = &W->log[W->n_log++];

		snprintf(f->owner, sizeof(f->owner), OWNER);
		f->rd = old_rd;
		f->add = f->initial = true;
	}
	free(cmd);
	free(k);
	free(ce);
}

static void world_free(tcase *c)
{
	pf_config_free(&c->cfg);
}

static pf_roll *open_roll(tcase *c)
{
	pf_roll *r = NULL;
	pf_err e = {0};

	if (roll_open(&c->cfg, &r, &e) < 0) {
		printf("FAIL: roll_open: %s\n", e.msg);
		exit(1);
	}
	roll_set_ops(r, &fake_ops, NULL);
	return r;
}

/* roll_run again and again, the clock moved to each wakeup (to the ms),
 * until the rollover is in until_phase (when not NULL), has nothing
 * scheduled (idle, failed), or would wake after stop (epoch seconds, when
 * not 0).  Returns the last wakeup in epoch seconds, rounded up. */
static bool drive_auto; /* roll_run as the daemon runs it (auto_start) */

static int64_t drive(pf_roll *r, const char *until_phase, int64_t stop)
{
	int64_t wakeup = 0;

	for (int i = 0; i < 400; i++) {
		pf_err e = {0};

		wakeup = 0;
		roll_run(r, drive_auto, &wakeup, &e);
		if (until_phase && strcmp(roll_phase(r), until_phase) == 0)
			break;
		if (wakeup == 0)
			break;
		if (stop && wakeup > stop * 1000)
			break;
		if (wakeup > now_ms())
			set_now_ms(wakeup);
	}
	return (wakeup + 999) / 1000;
}

/* What the test expects the deploy time to be: SPEC.md 4, from the
 * persisted T_pub and T_conf and the world's TTLs, not from timing.c. */
static inline int64_t expected_deploy(const tcase *c)
{
	int64_t base = W->stamp[PF_T_CONF];
	uint32_t ttl = c->o.tlsa_ttl;

	if (W->stamp[PF_T_PUB] + c->o.min_delay > base)
		base = W->stamp[PF_T_PUB] + c->o.min_delay;
	if (!c->o.no_old_record && c->o.ttl > ttl)
		ttl = c->o.ttl;
	if (c->o.no_old_record) {
		uint32_t neg = W->soa_ttl < W->soa_min ? W->soa_ttl : W->soa_min;

		ttl = neg > ttl ? neg : ttl;
	}
	return base + 2 * (int64_t)ttl + c->o.safety;
}

/* The same to the ms, from the ms stamps: the deploy's exact moment. */
static inline int64_t expected_deploy_ms(const tcase *c)
{
	int64_t base = W->stamp_ms[PF_T_CONF];
	uint32_t ttl = c->o.tlsa_ttl;

	if (W->stamp_ms[PF_T_PUB] + c->o.min_delay * 1000 > base)
		base = W->stamp_ms[PF_T_PUB] + c->o.min_delay * 1000;
	if (!c->o.no_old_record && c->o.ttl > ttl)
		ttl = c->o.ttl;
	if (c->o.no_old_record) {
		uint32_t neg = W->soa_ttl < W->soa_min ? W->soa_ttl : W->soa_min;

		ttl = neg > ttl ? neg : ttl;
	}
	return base + (2 * (int64_t)ttl + c->o.safety) * 1000;
}

static inline size_t key_files(const tcase *c)
{
	DIR *d = opendir(c->pfdir);
	struct dirent *de;
	size_t n = 0;

	while (d && (de = readdir(d)))
		n += strncmp(de->d_name, "eckey-", 6) == 0;
	if (d)
		closedir(d);
	return n;
}

/* ---- the program around the cases -------------------------------------- */

static char fake_log[PATH_MAX];

/* The shared world, the scratch directory, the engine's journal lines in
 * a file there (not the test's output), and the old key main.cf deploys
 * at the start of every case. */
static void fake_init(void)
{
	pf_keyspec spec = {PF_ALG_ECDSA, 256, "secp256r1"};
	EVP_PKEY *k = NULL;
	X509 *cert = NULL;
	pf_strv hosts = {0};
	pf_tlsa_param p311 = {3, 1, 1};
	pf_tlsa_rdata *rd = NULL;
	pf_err e = {0};

	W = mmap(NULL, sizeof(*W), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (W == MAP_FAILED || !mkdtemp(top))
		abort();
	snprintf(fake_log, sizeof(fake_log), "%s/journal.log", top);
	if (!freopen(fake_log, "w", stderr))
		abort();
	snprintf(old_key, sizeof(old_key), "%s/eckey-old.pem", top);
	snprintf(old_cert, sizeof(old_cert), "%s/eccert-old.pem", top);
	pf_strv_push(&hosts, "mx.example.test");
	if (keystore_generate(&spec, &k, &e) < 0 || keystore_write_key(old_key, k, &e) < 0 ||
	    keystore_self_signed(k, &hosts, &cert, &e) < 0 ||
	    keystore_write_cert(old_cert, cert, &e) < 0 ||
	    tlsa_for_files(old_key, old_cert, &p311, 1, &rd, &e) < 0) {
		printf("FAIL: the old key: %s\n", e.msg);
		exit(1);
	}
	old_rd = rd[0];
	free(rd);
	EVP_PKEY_free(k);
	X509_free(cert);
	pf_strv_clear(&hosts);
}

/* The summary line and exit status; the scratch directory goes unless a
 * check failed. */
static int fake_done(void)
{
	if (t_failed)
		printf("the engine's journal lines are kept in %s\n", fake_log);
	else
		t_scratch_remove(top);
	T_DONE();
}

#endif
