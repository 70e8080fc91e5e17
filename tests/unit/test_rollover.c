/*
 * test_rollover.c - the rollover engine (rollover.h) on its own, every
 * dependency played by the test through roll_set_ops: DNS (a log of
 * served records that each check server sees after its own lag, an update
 * server that adds and deletes them, servers that time out), Postfix
 * (main.cf as name = value pairs in memory, a reload that makes the
 * endpoint present what main.cf names, a reload counter), the withdraw
 * guard (withdraw_guard_decide over the keys main.cf and the endpoint put
 * into service), and the clock, which only the test advances.  Keys are
 * real ECDSA keys in a scratch directory under /tmp.
 *
 * The fake world (roll_fake.h) lives in a shared mapping, so that a
 * rollover can run in a child that dies right after its Nth state save - a
 * kill at every save of a whole cycle - and the parent then opens the
 * state file again and carries the rollover on, in the same world.
 *
 * Cases, each a named table row or a scenario:
 *   - the phases in order, and when each wait ends (deploy time for four
 *     TTL situations, exactly: a wait shortened by one second fails here);
 *   - refusals: deploy before the wait or before publish, publish in the
 *     wrong phase, retire before its time, cancel after deploy, a
 *     withdrawal the guard refuses (the old key put back by hand);
 *   - failures: publish refused (and resumed), a transient update failure,
 *     propagation that never completes (alerts, no deploy), a deploy whose
 *     check or reload fails, a verification that fails (main.cf rolled
 *     back), a foreign key in main.cf, a deploy by hand carried on;
 *   - the check audit (a record missing is a finding) and status;
 *   - killed after save N, restarted: no persisted timestamp taken again,
 *     no update, main.cf change or reload repeated, one key made.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include "roll_fake.h"
#include "../../daemon/journal.h"
#include "../../daemon/roll_audit.h"
#include "../../daemon/macro.h"

/* ---- the cases --------------------------------------------------------------- */

/* A whole cycle: every phase, in order, each wait ending when it must. */
static void test_cycle(void)
{
	tcase c;
	pf_roll *r;
	pf_err e = {0};
	int64_t w, dep;

	world_new(&c, &defaults);
	r = open_roll(&c);
	T_CHECK(roll_start(r, &e) == 0 && strcmp(roll_phase(r), "generated") == 0,
		"cycle: start generates the next key (%s)", e.msg);
	T_CHECK(key_files(&c) == 2, "cycle: the next key file is written beside the old one");
	w = drive(r, NULL, 0);
	T_STREQ(roll_phase(r), "idle", "cycle: the rollover completes (%s)", roll_phase(r));
	T_STREQ(W->phases,
		"generated,published,propagated,deployable,deployed,verified,retired,idle",
		"cycle: the phases in order (%s)", W->phases);
	dep = expected_deploy(&c);
	T_CHECK(W->stamp[PF_T_PUB] == T0 + 1, "cycle: T_pub is the update's time, rounded up");
	T_CHECK(W->stamp[PF_T_CONF] == T0 + 1, "cycle: T_conf when both servers served it");
	T_CHECK(W->stamp[PF_T_DEPLOYABLE] == dep - 1 && W->t_set_ms == expected_deploy_ms(&c) &&
			(W->t_set_ms + 999) / 1000 == dep,
		"cycle: deployed at max(T_conf, T_pub + min_delay) + 2 x TTLeff + publish_safety, "
		"to the ms (%lld ms, expected %lld ms)",
		(long long)(W->t_set_ms - T0 * 1000),
		(long long)(expected_deploy_ms(&c) - T0 * 1000));
	T_CHECK(W->stamp_ms[PF_T_RELOAD] == W->t_set_ms + 1 &&
			W->stamp_ms[PF_T_VERIFIED] == W->stamp_ms[PF_T_RELOAD] &&
			W->stamp[PF_T_RELOAD] == dep && W->stamp[PF_T_VERIFIED] == dep,
		"cycle: reload and verification right after");
	T_CHECK(W->stamp[PF_T_RETIRED] == (W->stamp_ms[PF_T_RELOAD] + 3600 * 1000) / 1000,
		"cycle: old records withdrawn at T_reload + retire_delay (%lld)",
		(long long)(W->stamp[PF_T_RETIRED] - W->stamp[PF_T_RELOAD]));
	T_CHECK(W->n_added == 1 && W->n_deleted == 1 && W->n_sets == 1 && W->n_reloads == 1 &&
			W->n_restores == 0,
		"cycle: one add, one delete, one main.cf change, one reload");
	T_CHECK(!served(OWNER, &old_rd, 0) && w == 0, "cycle: the old record is gone, no wakeup");
	T_CHECK(!roll_was_cancelled(r), "cycle: completed, not cancelled");
	{
		uint64_t done = 0, failed = 0;

		roll_counters(r, &done, &failed);
		T_CHECK(done == 1 && failed == 0, "cycle: counters: 1 completed, 0 failed");
		T_CHECK(roll_refresh(r, &e) == 0 && (roll_counters(r, &done, &failed), done == 1),
			"cycle: the completed counter is in the state file");
		T_CHECK(roll_start(r, &e) == 0 && drive(r, NULL, 0) == 0 &&
				strcmp(roll_phase(r), "idle") == 0 &&
				(roll_counters(r, &done, &failed), done == 2 && failed == 0),
			"cycle: a second rollover: 2 completed (%s)", e.msg);
	}
	{
		pf_metrics m;
		char *text;

		T_CHECK(roll_metrics(r, &m, &e) == 0 && m.phase == PF_PHASE_IDLE &&
				m.rollovers_completed == 2 && m.rollovers_failed == 0 &&
				m.last_phase_change > 0 && m.n_servers == 0,
			"metrics: idle, 2 completed, the last change known, no servers (%s)",
			e.msg);
		text = metrics_render(&m);
		T_CHECK(strstr(text, "pftls_phase{phase=\"idle\"} 1\n") &&
				strstr(text, "pftls_rollovers_completed_total 2\n"),
			"metrics: the rendering of the engine's facts");
		free(text);
		metrics_clear(&m);
	}
	roll_free(r);
	world_free(&c);
}

/* The deploy time in several TTL situations, exactly, and nothing a
 * second before it. */
static void test_deploy_time(void)
{
	static const struct {
		const char *name;
		world_opts o;
	} cases[] = {
		{"TTL 300 = tlsa_ttl", {300, false, 300, 0, 60, 3600, 3600, 0, false, 0, 0}},
		{"old RRset TTL 3600 above tlsa_ttl",
		 {3600, false, 300, 0, 60, 3600, 3600, 0, false, 0, 0}},
		{"no RRset before: the negative TTL min(SOA TTL, MINIMUM) counts",
		 {300, true, 300, 0, 60, 3600, 3600, 0, false, 0, 0}},
		{"propagation_min_delay past T_conf",
		 {300, false, 300, 7200, 60, 3600, 3600, 0, false, 0, 0}},
		{"ns2 lags 50 s: T_conf after T_pub",
		 {300, false, 300, 0, 60, 3600, 3600, 50, false, 0, 0}},
		{"publish_safety 1 s", {300, false, 300, 0, 1, 3600, 3600, 0, false, 0, 0}},
	};

	for (size_t i = 0; i < PF_ELEMENTSOF(cases); i++) {
		tcase c;
		pf_roll *r;
		pf_err e = {0};
		int64_t w, dep;

		world_new(&c, &cases[i].o);
		r = open_roll(&c);
		roll_start(r, &e);
		w = drive(r, "propagated", 0);
		w = drive(r, NULL, T0 + 1); /* the wait's end, not taken */
		dep = expected_deploy(&c);
		if (dep - T0 > 3000 && w == dep - 600) {
			/* A moment more than 50 min away: woken 10 min before it
			 * first, to prepare the deploy (roll_deploy.c). */
			W->now = w;
			w = drive(r, NULL, w);
		}
		T_CHECK(strcmp(roll_phase(r), "propagated") == 0 && w == dep,
			"deploy time, %s: the wait ends at %lld (engine: %lld, phase %s)",
			cases[i].name, (long long)(dep - T0), (long long)(w - T0), roll_phase(r));
		W->now = dep - 1;
		drive(r, NULL, dep - 1);
		T_CHECK(strcmp(roll_phase(r), "propagated") == 0 && W->n_sets == 0,
			"deploy time, %s: nothing deployed a second before", cases[i].name);
		pf_err_clear(&e);
		T_CHECK(roll_deploy(r, false, &e) == -EPERM && e.exit_code == PF_EXIT_REFUSED &&
				W->n_sets == 0,
			"deploy time, %s: deploy a second before is refused, exit 3 (%s)",
			cases[i].name, e.msg);
		W->now = dep;
		drive(r, "verified", 0);
		T_CHECK(W->n_sets == 1 && W->t_set == dep && strcmp(roll_phase(r), "verified") == 0,
			"deploy time, %s: deployed at the second (%lld)", cases[i].name,
			(long long)(W->t_set - T0));
		roll_free(r);
		world_free(&c);
	}
}

/* Refusals of the manual steps (exit 3, nothing changed). */
static void test_refusals(void)
{
	tcase c;
	pf_roll *r;
	pf_err e = {0};
	int64_t dep;

	world_new(&c, &defaults);
	r = open_roll(&c);
	T_CHECK(roll_deploy(r, false, &e) == -EPERM && e.exit_code == PF_EXIT_REFUSED,
		"refused: deploy with no rollover (%s)", e.msg);
	pf_err_clear(&e);
	T_CHECK(roll_cancel(r, &e) == -EPERM && e.exit_code == PF_EXIT_REFUSED,
		"refused: cancel with no rollover (%s)", e.msg);
	pf_err_clear(&e);
	roll_start(r, &e);
	T_CHECK(roll_deploy(r, false, &e) == -EPERM && e.exit_code == PF_EXIT_REFUSED &&
			W->n_sets == 0,
		"refused: deploy before the records were published (%s)", e.msg);
	pf_err_clear(&e);
	T_CHECK(roll_retire(r, 0, &e) == -EPERM && e.exit_code == PF_EXIT_REFUSED,
		"refused: retire in phase generated (%s)", e.msg);
	pf_err_clear(&e);
	T_CHECK(roll_publish(r, &e) == 0 && strcmp(roll_phase(r), "published") == 0 &&
			W->n_added == 1,
		"manual publish in phase generated (%s)", e.msg);
	T_CHECK(roll_publish(r, &e) == -EPERM && e.exit_code == PF_EXIT_REFUSED && W->n_added == 1,
		"refused: publish again in phase published (%s)", e.msg);
	pf_err_clear(&e);
	T_CHECK(roll_deploy(r, false, &e) == -EPERM && e.exit_code == PF_EXIT_REFUSED &&
			W->n_sets == 0,
		"refused: deploy before the records were confirmed (%s)", e.msg);
	pf_err_clear(&e);
	drive(r, "propagated", 0);
	dep = expected_deploy(&c);
	W->now = dep - 1;
	T_CHECK(roll_deploy(r, false, &e) == -EPERM && e.exit_code == PF_EXIT_REFUSED &&
			W->n_sets == 0,
		"refused: deploy a second before the deploy time (%s)", e.msg);
	pf_err_clear(&e);
	W->now = dep;
	T_CHECK(roll_deploy(r, false, &e) == 0 && strcmp(roll_phase(r), "verified") == 0 &&
			W->n_sets == 1,
		"manual deploy at the deploy time, verified at once (%s)", e.msg);
	pf_err_clear(&e);
	T_CHECK(roll_cancel(r, &e) == -EPERM && e.exit_code == PF_EXIT_REFUSED &&
			W->n_deleted == 0 && key_files(&c) == 2 && served(OWNER, &old_rd, 0),
		"refused: cancel after deploy, by the guard; records and keys stay (%s)", e.msg);
	pf_err_clear(&e);
	T_CHECK(roll_retire(r, 0, &e) == -EPERM && e.exit_code == PF_EXIT_REFUSED &&
			W->n_deleted == 0,
		"refused: retire before T_reload + retire_delay (%s)", e.msg);
	pf_err_clear(&e);
	W->now = W->stamp[PF_T_RELOAD] + 3600;
	T_CHECK(roll_retire(r, 60, &e) == 0 && strcmp(roll_phase(r), "idle") == 0 &&
			W->n_deleted == 1,
		"manual retire at its time: old records gone, idle (%s)", e.msg);
	roll_free(r);
	world_free(&c);
}

/* deploy --force-now: the one override, before the time. */
static void test_force(void)
{
	tcase c;
	pf_roll *r;
	pf_err e = {0};

	world_new(&c, &defaults);
	r = open_roll(&c);
	roll_start(r, &e);
	drive(r, "propagated", 0);
	W->now += 10;
	T_CHECK(roll_deploy(r, true, &e) == 0 && W->n_sets == 1 && W->t_set == T0 + 10 &&
			strcmp(roll_phase(r), "verified") == 0,
		"deploy --force-now deploys before the deploy time (%s)", e.msg);
	roll_free(r);
	world_free(&c);
}

/* The old key put back by hand after verification: the retirement is
 * refused by the guard, the rollover fails, the old record stays. */
static void test_guard_refuses_retire(void)
{
	tcase c;
	pf_roll *r;
	pf_err e = {0};
	char oldk[PATH_MAX];

	world_new(&c, &defaults);
	snprintf(oldk, sizeof(oldk), "%s", mc_get("smtpd_tls_eckey_file"));
	r = open_roll(&c);
	roll_start(r, &e);
	drive(r, "verified", 0);
	mc_set("smtpd_tls_eckey_file", oldk); /* rolled back by hand */
	W->now = W->stamp[PF_T_RELOAD] + 3600;
	drive(r, NULL, 0);
	T_CHECK(strcmp(roll_phase(r), "failed") == 0 && W->n_refused == 1 && W->n_deleted == 0 &&
			served(OWNER, &old_rd, 0),
		"withdrawal refused by the guard: failed, the old record stays (%s)",
		roll_phase(r));
	roll_free(r);
	world_free(&c);
}

/* Cancel before deploy: the next records go, the next key files go. */
static void test_cancel(void)
{
	tcase c;
	pf_roll *r;
	pf_err e = {0};

	world_new(&c, &defaults);
	r = open_roll(&c);
	roll_start(r, &e);
	drive(r, "propagated", 0);
	T_CHECK(roll_cancel(r, &e) == 0 && strcmp(roll_phase(r), "idle") == 0 &&
			W->n_deleted == 1 && key_files(&c) == 1 && served(OWNER, &old_rd, 0) &&
			roll_was_cancelled(r) && W->n_sets == 0,
		"cancel before deploy: next record withdrawn, next key removed, old kept (%s)",
		e.msg);
	{
		uint64_t done = 9, failed = 9;

		roll_counters(r, &done, &failed);
		T_CHECK(done == 0 && failed == 0, "cancel: counted neither completed nor failed");
	}
	roll_free(r);
	world_free(&c);
}

/* Failures of publish, propagation, deploy and verification. */
static void test_failures(void)
{
	tcase c;
	pf_roll *r;
	pf_err e = {0};
	char oldk[PATH_MAX];
	int64_t w;

	/* Publish refused: failed in generated; resumed: publishes. */
	world_new(&c, &defaults);
	r = open_roll(&c);
	roll_start(r, &e);
	W->update_rc = -EPROTO;
	drive(r, NULL, 0);
	T_CHECK(strcmp(roll_phase(r), "failed") == 0 && W->n_added == 0,
		"publish refused: the rollover stops in phase failed, nothing added");
	{
		uint64_t done = 9, failed = 0;

		roll_counters(r, &done, &failed);
		T_CHECK(done == 0 && failed == 1,
			"publish refused: counters: 0 completed, 1 failed");
	}
	W->update_rc = 0;
	T_CHECK(roll_start(r, &e) == 0 && strcmp(roll_phase(r), "generated") == 0,
		"publish refused: roll_start resumes in generated (%s)", e.msg);
	drive(r, "propagated", 0);
	T_CHECK(strcmp(roll_phase(r), "propagated") == 0 && W->n_added == 1,
		"publish refused: after the resume the records are published and confirmed");
	roll_free(r);
	world_free(&c);

	/* A transient update failure: the phase stays, retried later. */
	world_new(&c, &defaults);
	r = open_roll(&c);
	roll_start(r, &e);
	W->update_rc = -ETIMEDOUT;
	w = 0;
	roll_run(r, false, &w, &e);
	T_CHECK(strcmp(roll_phase(r), "generated") == 0 && w == (T0 + 2) * 1000,
		"update timed out: still generated, retry in 2 s (%lld ms)",
		(long long)(w - T0 * 1000));
	W->update_rc = 0;
	set_now_ms(w);
	drive(r, "propagated", 0);
	T_CHECK(W->n_added == 1 && W->stamp[PF_T_PUB] == T0 + 3,
		"update timed out: published on the retry, T_pub then");
	roll_free(r);
	world_free(&c);

	/* Propagation that never completes: alerts, never a deploy. */
	world_new(&c, &defaults);
	W->down[1] = true;
	r = open_roll(&c);
	roll_start(r, &e);
	drive(r, NULL, T0 + 3 * 3600);
	{
		pf_state st;
		pf_err e2 = {0};
		char *path = pf_state_path(c.cfg.state_directory);

		pf_state_load(path, c.pfdir, &st, &e2);
		T_CHECK(strcmp(roll_phase(r), "published") == 0 && W->n_sets == 0 &&
				st.alert_count > 0,
			"propagation timeout: still published after 3 h, alerts (%u), nothing "
			"deployed",
			st.alert_count);
		pf_state_free(&st);
		free(path);
	}
	pf_err_clear(&e);
	T_CHECK(roll_deploy(r, false, &e) == -EPERM && W->n_sets == 0,
		"propagation timeout: deploy refused (%s)", e.msg);
	roll_free(r);
	world_free(&c);

	/* The deploy's check or reload, or the verification, fails: main.cf
	 * is rolled back (and reloaded), the rollover fails. */
	static const struct {
		const char *name;
		int check_rc;
		unsigned reload_failures;
		bool reload_noop;
		unsigned reloads; /* the deploy's and the rollback's */
	} dep[] = {
		{"postconf check fails", -EINVAL, 0, false, 1},
		{"reload fails", 0, 1, false, 2},
		{"verification fails (smtpd presents the old key)", 0, 0, true, 2},
	};
	for (size_t i = 0; i < PF_ELEMENTSOF(dep); i++) {
		world_new(&c, &defaults);
		snprintf(oldk, sizeof(oldk), "%s", mc_get("smtpd_tls_eckey_file"));
		r = open_roll(&c);
		roll_start(r, &e);
		drive(r, "propagated", 0);
		W->check_rc = dep[i].check_rc;
		W->reload_failures = dep[i].reload_failures;
		W->reload_noop = dep[i].reload_noop;
		W->now = expected_deploy(&c);
		drive(r, NULL, 0);
		T_CHECK(strcmp(roll_phase(r), "failed") == 0 && W->n_restores == 1 &&
				W->n_reloads == dep[i].reloads &&
				t_streq(mc_get("smtpd_tls_eckey_file"), oldk) &&
				served(OWNER, &old_rd, 0) && W->n_deleted == 0,
			"%s: main.cf rolled back to the old key and reloaded, failed, old record "
			"kept (restores %u, reloads %u, phase %s)",
			dep[i].name, W->n_restores, W->n_reloads, roll_phase(r));
		roll_free(r);
		world_free(&c);
	}
}

/* A deploy by hand before the deploy time is carried on; a foreign key
 * holds the rollover. */
static void test_hand(void)
{
	tcase c;
	pf_roll *r;
	pf_err e = {0};
	pf_strv next = {0};

	world_new(&c, &defaults);
	r = open_roll(&c);
	roll_start(r, &e);
	drive(r, "propagated", 0);
	roll_key_files(r, true, &next, &e);
	/* deploy-server-cert by hand: eckey-STAMP.pem and eccert-STAMP.pem */
	const char *base = strrchr(next.v[0], '/');
	char *cert = pf_asprintf("%.*s/eccert-%s", (int)(base - next.v[0]), next.v[0],
				 base + strlen("/eckey-"));
	mc_set("smtpd_tls_eckey_file", next.v[0]);
	mc_set("smtpd_tls_eccert_file", cert);
	snprintf(W->live_key, sizeof(W->live_key), "%s", next.v[0]);
	W->now += 5;
	drive(r, "verified", 0);
	T_CHECK(strcmp(roll_phase(r), "verified") == 0 && W->n_sets == 0 && W->n_reloads == 0 &&
			W->stamp[PF_T_RELOAD] == T0 + 6,
		"deploy by hand: carried on, its reload taken as now, verified (%s)",
		roll_phase(r));
	free(cert);
	pf_strv_clear(&next);
	roll_free(r);
	world_free(&c);

	world_new(&c, &defaults);
	r = open_roll(&c);
	roll_start(r, &e);
	drive(r, "propagated", 0);
	{
		/* a third key, neither the old nor the new one */
		pf_keyspec spec = {PF_ALG_ECDSA, 2048, c.cfg.ecdsa_curve};
		EVP_PKEY *k = NULL;
		char *p = pf_asprintf("%s/eckey-20210101-000000.pem", c.pfdir);

		keystore_generate(&spec, &k, &e);
		keystore_write_key(p, k, &e);
		mc_set("smtpd_tls_eckey_file", p);
		EVP_PKEY_free(k);
		free(p);
	}
	W->now = expected_deploy(&c);
	drive(r, NULL, 0);
	T_CHECK(strcmp(roll_phase(r), "failed") == 0 && W->n_sets == 0,
		"a foreign key in main.cf holds the rollover: failed, nothing deployed (%s)",
		roll_phase(r));
	roll_free(r);
	world_free(&c);
}

/* ---- the deploy prepared ahead (roll_deploy.c) ---- */

typedef struct prep_run {
	tcase c;
	pf_roll *r;
	char *out; /* the progress lines */
	size_t len;
	FILE *f;
	int64_t dep;
} prep_run;

/* A rollover driven to propagated, waiting for its moment (prepared, as
 * the progress lines say), the counters zeroed. */
static void prep_begin(prep_run *p, const world_opts *o)
{
	pf_err e = {0};

	memset(p, 0, sizeof(*p));
	world_new(&p->c, o);
	p->r = open_roll(&p->c);
	p->f = open_memstream(&p->out, &p->len);
	roll_set_progress(p->r, p->f);
	roll_set_phase_hook(p->r, on_phase, p->r);
	roll_start(p->r, &e);
	drive(p->r, "propagated", 0);
	p->dep = expected_deploy(&p->c);
	zero_counts();
}

/* The moment: the rollover driven to verified (or as far as it goes). */
static void prep_moment(prep_run *p)
{
	W->now = p->dep;
	drive(p->r, "verified", 0);
	fflush(p->f);
}

static void prep_end(prep_run *p)
{
	fclose(p->f);
	free(p->out);
	roll_free(p->r);
	world_free(&p->c);
}

static void test_prepared(void)
{
	world_opts long_wait = defaults;
	prep_run p;
	pf_strv next = {0};
	pf_err e = {0};
	char oldk[PATH_MAX];
	int64_t w;

	/* Prepared while waiting: at the moment only set, read-back, reload. */
	prep_begin(&p, &defaults);
	T_CHECK(p.out && strstr(p.out, "deploy prepared: 2 settings"),
		"prepared: the deploy is prepared while the rollover waits (%s)", p.out);
	prep_moment(&p);
	T_CHECK(strcmp(roll_phase(p.r), "verified") == 0 && W->t_set == p.dep,
		"prepared: deployed at the moment and verified (%s)", roll_phase(p.r));
	T_CHECK(only_set_check_reload(),
		"prepared: at the moment only postconf -e, the read-back and the reload "
		"(sets %u, read-backs %u, reloads %u; deployed %u, snapshots %u, settings %u, "
		"preflights %u, full checks %u)",
		at_deployed.n_sets, at_deployed.n_checks_readback, at_deployed.n_reloads,
		at_deployed.n_deployed, at_deployed.n_snapshots, at_deployed.n_deploy_settings,
		at_deployed.n_preflights, at_deployed.n_checks_full);
	T_CHECK(strstr(p.out, "(prepared)") != NULL, "prepared: the progress line says prepared");
	prep_end(&p);

	/* Prepared, then the verification fails: the snapshot taken ahead
	 * puts the old key back. */
	prep_begin(&p, &defaults);
	snprintf(oldk, sizeof(oldk), "%s", mc_get("smtpd_tls_eckey_file"));
	W->reload_noop = true;
	prep_moment(&p);
	drive(p.r, NULL, 0);
	T_CHECK(only_set_check_reload() && strcmp(roll_phase(p.r), "failed") == 0 &&
			W->n_restores == 1 && t_streq(mc_get("smtpd_tls_eckey_file"), oldk),
		"prepared, verification fails: rolled back to the old key from the prepared "
		"snapshot (%s, restores %u)",
		roll_phase(p.r), W->n_restores);
	prep_end(&p);

	/* main.cf changed after the preparation (its mark differs), master.cf
	 * changed, a next key file touched, or the preparation an hour old:
	 * everything is read at the moment. */
	static const char *const changes[] = {"main.cf", "master.cf", "next key", "age"};
	for (size_t i = 0; i < PF_ELEMENTSOF(changes); i++) {
		prep_begin(&p, &defaults);
		if (i == 0) {
			mc_set("smtpd_tls_loglevel", "1");
		} else if (i == 1) {
			W->master_gen++;
		} else if (i == 2) {
			roll_key_files(p.r, true, &next, &e);
			T_CHECK(next.n == 1 && utimensat(AT_FDCWD, next.v[0], NULL, 0) == 0,
				"changed: the next key file touched");
			pf_strv_clear(&next);
		} else {
			W->mono += 3601ULL * 1000000u;
		}
		prep_moment(&p);
		T_CHECK(strcmp(roll_phase(p.r), "verified") == 0 && read_at_moment() &&
				strstr(p.out, "the preparation does not hold"),
			"changed %s after the preparation: everything read at the moment, "
			"deployed (%s; deployed %u, snapshots %u, settings %u, preflights %u)",
			changes[i], roll_phase(p.r), at_deployed.n_deployed,
			at_deployed.n_snapshots, at_deployed.n_deploy_settings,
			at_deployed.n_preflights);
		prep_end(&p);
	}

	/* A restart: the preparation is memory only. */
	prep_begin(&p, &defaults);
	roll_free(p.r);
	p.r = open_roll(&p.c);
	roll_set_phase_hook(p.r, on_phase, p.r);
	prep_moment(&p);
	T_CHECK(strcmp(roll_phase(p.r), "verified") == 0 && read_at_moment(),
		"restarted after the preparation: everything read at the moment (%s)",
		roll_phase(p.r));
	prep_end(&p);

	/* A deploy by hand of the next keys after the preparation is still
	 * noticed: carried on, nothing written. */
	prep_begin(&p, &defaults);
	roll_key_files(p.r, true, &next, &e);
	{
		const char *base = strrchr(next.v[0], '/');
		char *cert = pf_asprintf("%.*s/eccert-%s", (int)(base - next.v[0]), next.v[0],
					 base + strlen("/eckey-"));

		mc_set("smtpd_tls_eckey_file", next.v[0]);
		mc_set("smtpd_tls_eccert_file", cert);
		snprintf(W->live_key, sizeof(W->live_key), "%s", next.v[0]);
		free(cert);
	}
	pf_strv_clear(&next);
	prep_moment(&p);
	T_CHECK(strcmp(roll_phase(p.r), "verified") == 0 && W->n_sets == 0 && W->n_reloads == 0,
		"deployed by hand after the preparation: noticed, carried on, nothing written "
		"(%s, sets %u)",
		roll_phase(p.r), W->n_sets);
	prep_end(&p);

	/* A foreign key put into main.cf after the preparation holds the
	 * rollover, as without one. */
	prep_begin(&p, &defaults);
	{
		pf_keyspec spec = {PF_ALG_ECDSA, 2048, p.c.cfg.ecdsa_curve};
		EVP_PKEY *k = NULL;
		char *path = pf_asprintf("%s/eckey-20210101-000000.pem", p.c.pfdir);

		keystore_generate(&spec, &k, &e);
		keystore_write_key(path, k, &e);
		mc_set("smtpd_tls_eckey_file", path);
		EVP_PKEY_free(k);
		free(path);
	}
	prep_moment(&p);
	T_CHECK(strcmp(roll_phase(p.r), "failed") == 0 && W->n_sets == 0,
		"a foreign key after the preparation: held, nothing deployed (%s)",
		roll_phase(p.r));
	prep_end(&p);

	/* The deployed key's file rewritten in place with a foreign key (main.cf
	 * unchanged): its mark differs, the foreign key is seen. */
	prep_begin(&p, &defaults);
	{
		pf_keyspec spec = {PF_ALG_ECDSA, 2048, p.c.cfg.ecdsa_curve};
		EVP_PKEY *k = NULL;
		char *path = pf_asprintf("%s.new", mc_get("smtpd_tls_eckey_file"));

		keystore_generate(&spec, &k, &e);
		keystore_write_key(path, k, &e);
		T_CHECK(rename(path, mc_get("smtpd_tls_eckey_file")) == 0,
			"foreign key file: the deployed key file replaced");
		EVP_PKEY_free(k);
		free(path);
	}
	prep_moment(&p);
	T_CHECK(strcmp(roll_phase(p.r), "failed") == 0 && W->n_sets == 0,
		"the deployed key file replaced by a foreign key after the preparation: held, "
		"nothing deployed (%s)",
		roll_phase(p.r));
	prep_end(&p);

	/* A moment more than 50 min away: woken 10 min before it, prepared
	 * then, not before. */
	long_wait.ttl = 3600;
	prep_begin(&p, &long_wait);
	fflush(p.f);
	T_CHECK(!p.out || !strstr(p.out, "deploy prepared"),
		"long wait: not prepared 2 h ahead (it would be too old)");
	w = drive(p.r, NULL, T0 + 1);
	T_CHECK(w == p.dep - 600, "long wait: woken 600 s before the moment (%lld)",
		(long long)(p.dep - w));
	W->now = w;
	w = drive(p.r, NULL, w);
	fflush(p.f);
	T_CHECK(w == p.dep && strstr(p.out, "deploy prepared"),
		"long wait: prepared 600 s before, then the wakeup is the moment");
	zero_counts();
	prep_moment(&p);
	T_CHECK(strcmp(roll_phase(p.r), "verified") == 0 && only_set_check_reload(),
		"long wait: at the moment only postconf -e, the read-back and the reload (%s)",
		roll_phase(p.r));
	prep_end(&p);
}

/* The audit of what is in service, and status, through the same fakes. */
static void test_check(void)
{
	tcase c;
	pf_roll *r;
	pf_err e = {0};
	char *path = pf_asprintf("%s/check.out", top);
	FILE *out = fopen(path, "w+");

	world_new(&c, &defaults);
	r = open_roll(&c);
	T_CHECK(roll_check(r, out, &e) == 0,
		"check: the deployed key's record is served and "
		"presented, DANE-valid (%s)",
		e.msg);
	pf_err_clear(&e);
	W->log[W->n_log] = W->log[0]; /* the record withdrawn by someone else */
	W->log[W->n_log].add = W->log[W->n_log].initial = false;
	W->log[W->n_log++].t = W->now;
	T_CHECK(roll_check(r, out, &e) == -EPROTO && W->n_updates == 0,
		"check: a deployed key's record missing is a finding, exit 1, nothing changed (%s)",
		e.msg);
	pf_err_clear(&e);
	T_CHECK(roll_status(r, out, true, &e) == 0 && strcmp(roll_status_line(r), "idle") == 0,
		"status: idle, as JSON and as the STATUS= line");
	fclose(out);
	free(path);
	roll_free(r);
	world_free(&c);
}

/* Lines of the captured stderr naming event kind name, with "still" (a
 * reminder) or without. */
static unsigned count_lines(const char *path, const char *name, bool reminder)
{
	char line[2048], tag[96];
	unsigned n = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return 0;
	snprintf(tag, sizeof(tag), ": %s: ", name);
	while (fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, tag);

		if (p && (strncmp(p + strlen(tag), "still, since ", 13) == 0) == reminder)
			n++;
	}
	fclose(f);
	return n;
}

/* One audit at the fake clock, folded into the book, its journal lines
 * (stderr: no journald here) appended to path. */
static void audit_once(pf_roll *r, pf_audit_book *b, const char *dir, const char *path)
{
	pf_audit_result res;
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600), saved;

	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
	roll_audit_run(r, &res);
	pf_audit_book_update(b, &res, W->now, dir);
	pf_audit_result_free(&res);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
}

/* An open finding of the periodic audit on the fake clock: logged once when
 * it opens, not again within the hour however many audits run, a reminder
 * once the hour is up (and not twice), and audit-finding-resolved when it
 * ends (SPEC.md 6). */
static void test_audit_reminder(void)
{
	tcase c;
	pf_roll *r;
	pf_audit_book b = {0};
	char *path = pf_asprintf("%s/audit.log", top), *dir = pf_asprintf("%s/audit.d", top);
	const char *miss = "audit-records-missing", *res = "audit-finding-resolved";
	unsigned opened, reminded;
	struct stat sb;

	if (stat(PF_JOURNAL_SOCKET, &sb) == 0) {
		printf("SKIP: audit reminder: a journald socket is here, entries do not reach "
		       "stderr\n");
		free(path);
		free(dir);
		return;
	}
	mkdir(dir, 0700);
	unlink(path);
	world_new(&c, &defaults);
	r = open_roll(&c);
	audit_once(r, &b, dir, path);
	T_CHECK(b.n == 0 && count_lines(path, miss, false) == 0,
		"audit reminder: all in order, no finding (%zu open)", b.n);
	W->log[W->n_log] = W->log[0]; /* the deployed key's record deleted by someone else */
	W->log[W->n_log].add = W->log[W->n_log].initial = false;
	W->log[W->n_log++].t = W->now;
	W->now += 60;
	audit_once(r, &b, dir, path);
	opened = count_lines(path, miss, false);
	T_CHECK(b.n >= 1 && opened >= 1,
		"audit reminder: the record missing opens a finding, logged "
		"(%u %s entries, %zu open)",
		opened, miss, b.n);
	/* Audits every 30 s (fake) for 59 minutes: nothing more logged. */
	for (int i = 0; i < 118; i++) {
		W->now += 30;
		audit_once(r, &b, dir, path);
	}
	T_CHECK(count_lines(path, miss, false) == opened && count_lines(path, miss, true) == 0,
		"audit reminder: 118 audits within the hour log neither the finding again nor a "
		"reminder (%u, %u)",
		count_lines(path, miss, false), count_lines(path, miss, true));
	W->now += 61; /* an hour and a second after it opened */
	audit_once(r, &b, dir, path);
	reminded = count_lines(path, miss, true);
	T_CHECK(reminded == opened && count_lines(path, miss, false) == opened,
		"audit reminder: one reminder per open finding once the hour is up (%u for %u)",
		reminded, opened);
	for (int i = 0; i < 10; i++) {
		W->now += 30;
		audit_once(r, &b, dir, path);
	}
	T_CHECK(count_lines(path, miss, true) == reminded,
		"audit reminder: no second reminder within the next hour (%u)",
		count_lines(path, miss, true));
	T_CHECK(count_lines(path, res, false) == 0,
		"audit reminder: nothing resolved while it is open");
	W->log[W->n_log] = W->log[0]; /* put back */
	W->log[W->n_log].add = true;
	W->log[W->n_log].initial = false;
	W->log[W->n_log++].t = W->now;
	W->now += 30;
	audit_once(r, &b, dir, path);
	T_CHECK(b.n == 0 && count_lines(path, res, false) == opened,
		"audit reminder: the record put back: %u %s entr%s, nothing open (%zu)",
		count_lines(path, res, false), res, opened == 1 ? "y" : "ies", b.n);
	W->now += 3600;
	audit_once(r, &b, dir, path);
	T_CHECK(count_lines(path, miss, true) == reminded &&
			count_lines(path, res, false) == opened,
		"audit reminder: closed, it is neither reminded nor resolved again");
	pf_audit_book_free(&b);
	roll_free(r);
	world_free(&c);
	free(path);
	free(dir);
}

/* A key in main.cf that the state knows of neither as the next nor as the
 * old one (deployed by hand while a rollover waits for its deploy) is an
 * audit-maincf-unknown-key finding; the old or the next key there is not. */
static bool has_finding(const pf_audit_result *a, enum pf_event ev)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->f[i].ev == ev)
			return true;
	return false;
}

static void test_audit_maincf(void)
{
	pf_keyspec spec = {PF_ALG_ECDSA, 256, "secp256r1"};
	char *hk = pf_asprintf("%s/eckey-hand.pem", top),
	     *hc = pf_asprintf("%s/eccert-hand.pem", top);
	char saved_k[PATH_MAX], saved_c[PATH_MAX];
	pf_strv hosts = {0};
	EVP_PKEY *k = NULL;
	X509 *cert = NULL;
	pf_audit_result res;
	pf_err e = {0};
	tcase c;
	pf_roll *r;

	pf_strv_push(&hosts, "mx.example.test");
	if (keystore_generate(&spec, &k, &e) < 0 || keystore_write_key(hk, k, &e) < 0 ||
	    keystore_self_signed(k, &hosts, &cert, &e) < 0 ||
	    keystore_write_cert(hc, cert, &e) < 0) {
		T_CHECK(false, "audit main.cf: a hand key written (%s)", e.msg);
		goto out;
	}
	world_new(&c, &defaults);
	r = open_roll(&c);
	roll_start(r, &e);
	drive(r, "propagated", 0);
	T_STREQ(roll_phase(r), "propagated", "audit main.cf: the rollover waits in propagated");
	roll_audit_run(r, &res);
	T_CHECK(!has_finding(&res, PF_EV_AUDIT_MAINCF),
		"audit main.cf: the old key in main.cf is one the state knows: no finding");
	pf_audit_result_free(&res);
	snprintf(saved_k, sizeof(saved_k), "%s", mc_get("smtpd_tls_eckey_file"));
	snprintf(saved_c, sizeof(saved_c), "%s", mc_get("smtpd_tls_eccert_file"));
	mc_set("smtpd_tls_eckey_file", hk);
	mc_set("smtpd_tls_eccert_file", hc);
	roll_audit_run(r, &res);
	T_CHECK(has_finding(&res, PF_EV_AUDIT_MAINCF),
		"audit main.cf: a key deployed by hand is audit-maincf-unknown-key");
	T_STREQ(roll_phase(r), "propagated",
		"audit main.cf: the audit leaves the rollover as it was");
	pf_audit_result_free(&res);
	mc_set("smtpd_tls_eckey_file", saved_k);
	mc_set("smtpd_tls_eccert_file", saved_c);
	roll_audit_run(r, &res);
	T_CHECK(!has_finding(&res, PF_EV_AUDIT_MAINCF),
		"audit main.cf: put back, the finding is gone");
	pf_audit_result_free(&res);
	roll_free(r);
	world_free(&c);
out:
	EVP_PKEY_free(k);
	X509_free(cert);
	pf_strv_clear(&hosts);
	free(hk);
	free(hc);
}

/* Killed right after save N, for every N of a cycle, then restarted in
 * the same world: no persisted timestamp taken again, no visible step
 * repeated, the deploy not before its time. */
static void test_kill_sweep(void)
{
	tcase c;
	pf_roll *r;
	pf_err e = {0};
	unsigned total, bad = 0, kills = 0;
	unsigned ref_added, ref_deleted, ref_sets, ref_reloads;

	world_new(&c, &defaults);
	r = open_roll(&c);
	roll_start(r, &e);
	drive(r, NULL, 0);
	total = W->n_saves;
	ref_added = W->n_added, ref_deleted = W->n_deleted;
	ref_sets = W->n_sets, ref_reloads = W->n_reloads;
	roll_free(r);
	world_free(&c);
	T_CHECK(total > 10, "kill sweep: a cycle saves the state %u times", total);

	for (unsigned n = 1; n <= total; n++) {
		pid_t pid;
		int status;
		int64_t dep;
		char why[200] = "";

		world_new(&c, &defaults);
		W->kill_at = n;
		fflush(stdout);
		if ((pid = fork()) == 0) {
			W->in_child = true;
			r = open_roll(&c);
			roll_start(r, &e);
			drive(r, NULL, 0);
			_exit(3); /* not killed: the sweep went past the cycle */
		}
		waitpid(pid, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			snprintf(why, sizeof(why), "the child was not killed at save %u", n);
		} else {
			kills++;
			W->kill_at = 0;
			W->now += 5; /* restarted a little later */
			r = open_roll(&c);
			drive(r, NULL, 0);
			dep = expected_deploy(&c);
			for (int k = 0; k < PF_T_COUNT && !why[0]; k++)
				if (W->stamp_changed[k])
					snprintf(why, sizeof(why), "timestamp %d taken again", k);
			if (why[0])
				;
			else if (strcmp(roll_phase(r), "idle") != 0)
				snprintf(why, sizeof(why), "ended in %s", roll_phase(r));
			else if (W->n_added != ref_added || W->n_deleted != ref_deleted)
				snprintf(why, sizeof(why), "updates: %u adds, %u deletes",
					 W->n_added, W->n_deleted);
			else if (W->n_sets != ref_sets || W->n_reloads != ref_reloads)
				snprintf(why, sizeof(why), "%u main.cf changes, %u reloads",
					 W->n_sets, W->n_reloads);
			else if (key_files(&c) != 2)
				snprintf(why, sizeof(why), "%zu key files", key_files(&c));
			else if (W->t_set_ms < expected_deploy_ms(&c) || W->t_set < dep - 1)
				snprintf(why, sizeof(why), "deployed at %lld ms, before %lld ms",
					 (long long)(W->t_set_ms - T0 * 1000),
					 (long long)(expected_deploy_ms(&c) - T0 * 1000));
			roll_free(r);
		}
		if (why[0]) {
			bad++;
			printf("FAIL: kill sweep: killed after save %u of %u: %s\n", n, total, why);
		}
		world_free(&c);
	}
	T_CHECK(bad == 0 && kills == total,
		"kill sweep: killed after each of %u saves and restarted: same timestamps, no "
		"step repeated, deploy on time",
		total);
}

int main(void)
{
	fake_init();
	test_cycle();
	test_deploy_time();
	test_refusals();
	test_force();
	test_cancel();
	test_guard_refuses_retire();
	test_failures();
	test_hand();
	test_prepared();
	test_check();
	test_audit_reminder();
	test_audit_maincf();
	test_kill_sweep();

	return fake_done();
}
