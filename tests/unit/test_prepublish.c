/*
 * test_prepublish.c - rollover_scheme = prepublish (roll_stage.c) in the
 * fake world of roll_fake.h (DNS per check server, main.cf in memory, the
 * clock only the test moves), with roll_run as the daemon calls it:
 *   - a daemon on an installation with a deployed key stages the next
 *     one: phase staged, current + next served everywhere, main.cf as it
 *     was;
 *   - a rollover asked of the staged key after its wait deploys at the
 *     moment it is asked, then verifies, retires the old key and stages
 *     the following one;
 *   - asked before the wait has passed, it deploys exactly when it ends;
 *   - the staged record deleted behind the daemon's back, or its RRset's
 *     TTL raised: the records are published again and the deploy waits
 *     for their return and the new TTL, counted afresh;
 *   - cancel in staged withdraws the staged key's record and files, and
 *     the daemon stages a new key;
 *   - killed after each save of a staging cycle, a request and the next
 *     staging, then restarted: one deploy, one reload, never early.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "roll_fake.h"

static const world_opts pre = {300, false, 300, 0, 60, 3600, 3600, 0, true, 3600, 0};

/* The staged (next) key's record and path in the state file. */
static pf_tlsa_rdata staged_rd(const tcase *c, char *key, size_t len)
{
	pf_tlsa_rdata rd = {0};
	pf_state st;

	case_load_state(c, &st);
	for (size_t i = 0; i < st.n_records; i++)
		if (st.records[i].role == PF_ROLE_NEXT)
			rd = st.records[i].rdata;
	if (key)
		snprintf(key, len, "%s",
			 st.keys[PF_ALG_ECDSA].next_key ? st.keys[PF_ALG_ECDSA].next_key : "");
	pf_state_free(&st);
	return rd;
}

static bool served_everywhere(const pf_tlsa_rdata *rd)
{
	for (int s = 0; s < N_SERVERS; s++)
		if (!served(OWNER, rd, W->lag[s] * 1000 + W->lag_ms[s]))
			return false;
	return true;
}

static bool has_event(const tcase *c, const char *kind)
{
	pf_state st;
	bool found = false;

	case_load_state(c, &st);
	for (size_t i = 0; i < st.n_events; i++)
		found |= strcmp(st.events[i].kind, kind) == 0;
	pf_state_free(&st);
	return found;
}

/* Deploy time from the state file's own T_pub and T_conf (SPEC.md 4), the
 * old RRset existing at TTL ttl: in ms, and (deploy_time) its second
 * rounded up. */
static int64_t deploy_time_ms(const tcase *c, uint32_t ttl)
{
	pf_state st;
	int64_t base;

	case_load_state(c, &st);
	base = pf_state_stamp_ms(&st, PF_T_CONF);
	if (pf_state_stamp_ms(&st, PF_T_PUB) + c->o.min_delay * 1000 > base)
		base = pf_state_stamp_ms(&st, PF_T_PUB) + c->o.min_delay * 1000;
	pf_state_free(&st);
	if (c->o.tlsa_ttl > ttl)
		ttl = c->o.tlsa_ttl;
	return base + (2 * (int64_t)ttl + c->o.safety) * 1000;
}

static int64_t deploy_time(const tcase *c, uint32_t ttl)
{
	pf_state st;
	int64_t base;

	case_load_state(c, &st);
	base = st.t[PF_T_CONF];
	if (st.t[PF_T_PUB] + c->o.min_delay > base)
		base = st.t[PF_T_PUB] + c->o.min_delay;
	pf_state_free(&st);
	if (c->o.tlsa_ttl > ttl)
		ttl = c->o.tlsa_ttl;
	return base + 2 * (int64_t)ttl + c->o.safety;
}

/* A record removed from the zone by someone else, now. */
static void delete_by_hand(const pf_tlsa_rdata *rd)
{
	frec *f = &W->log[W->n_log++];

	memset(f, 0, sizeof(*f));
	snprintf(f->owner, sizeof(f->owner), "%s", OWNER);
	f->rd = *rd;
	f->t = W->now;
}

/* roll_run as the daemon runs it, the clock moved to each wakeup, until
 * nothing is left to do but wait for a request (roll_settled). */
static void settle(pf_roll *r)
{
	for (int i = 0; i < 400; i++) {
		int64_t wakeup = 0;
		pf_err e = {0};

		roll_run(r, true, &wakeup, &e);
		if (roll_settled(r) || wakeup == 0)
			break;
		if (wakeup > now_ms())
			set_now_ms(wakeup);
	}
}

/* A fresh world with prepublish, a daemon's roll_run driven until the
 * next key is staged. */
static pf_roll *staged_world(tcase *c, const world_opts *o)
{
	pf_roll *r;

	world_new(c, o);
	drive_auto = true;
	r = open_roll(c);
	settle(r);
	return r;
}

static void test_stage(void)
{
	tcase c;
	pf_roll *r = staged_world(&c, &pre);
	pf_tlsa_rdata rd = staged_rd(&c, NULL, 0);
	char line[300];
	pf_state st;

	T_STREQ(roll_phase(r), "staged", "stage: a daemon with a deployed key stages the next");
	T_STREQ(W->phases, "generated,published,propagated,staged",
		"stage: the phases in order (%s)", W->phases);
	T_CHECK(W->n_sets == 0 && W->n_reloads == 0, "stage: main.cf untouched, no reload");
	T_CHECK(served_everywhere(&rd) && served_everywhere(&old_rd) && served_at(OWNER, 0) == 2,
		"stage: current + next served by every check server");
	case_load_state(&c, &st);
	T_CHECK(st.staging && st.t[PF_T_CONF] && st.t[PF_T_STAGED] == st.t[PF_T_CONF],
		"stage: the state says staging, served since T_conf");
	pf_state_free(&st);
	T_CHECK(!roll_emergency(r, line, sizeof(line)) && strstr(line, "could deploy from"),
		"stage: right after staging an emergency rollover waits (%s)", line);
	W->now = deploy_time(&c, 300);
	T_CHECK(roll_emergency(r, line, sizeof(line)) && strstr(line, "at once"),
		"stage: after the wait an emergency rollover deploys at once (%s)", line);
	T_CHECK(strstr(roll_status_line(r), "staged, an emergency rollover would deploy at once"),
		"stage: STATUS says so (%s)", roll_status_line(r));
	T_CHECK(has_event(&c, "staging-started") && has_event(&c, "staged"),
		"stage: staging-started and staged events");
	roll_free(r);
	world_free(&c);
}

static void test_emergency(void)
{
	tcase c;
	pf_roll *r = staged_world(&c, &pre);
	char key[PATH_MAX];
	pf_tlsa_rdata rd = staged_rd(&c, key, sizeof(key)), rd2;
	pf_err e = {0};
	int64_t asked;

	W->now = deploy_time(&c, 300) + 3600 * 24; /* a day later: the key leaked */
	asked = W->now;
	W->phases[0] = '\0';
	T_CHECK(roll_start(r, &e) == 0, "emergency: now is taken (%s)", e.msg);
	settle(r);
	T_CHECK(W->n_sets == 1 && W->t_set == asked,
		"emergency: deployed at the moment it was asked (%lld s after)",
		(long long)(W->t_set_ms / 1000 - asked));
	T_STREQ(W->live_key, key, "emergency: the endpoint presents the staged key");
	T_STREQ(W->phases,
		"deployable,deployed,verified,retired,idle,generated,published,propagated,staged",
		"emergency: on to verify, retire and the following key staged (%s)", W->phases);
	rd2 = staged_rd(&c, NULL, 0);
	T_CHECK(!served(OWNER, &old_rd, 0) && served_everywhere(&rd) && served_everywhere(&rd2) &&
			served_at(OWNER, 0) == 2,
		"emergency: old record gone; current + the new next served everywhere");
	T_CHECK(has_event(&c, "rollover-requested"), "emergency: a rollover-requested event");
	T_CHECK(!roll_was_cancelled(r), "emergency: completed, not cancelled");
	T_CHECK(key_files(&c) == 3, "emergency: one key made per cycle (%zu files)", key_files(&c));
	roll_free(r);
	world_free(&c);
}

static void test_early_request(void)
{
	tcase c;
	pf_roll *r = staged_world(&c, &pre);
	pf_err e = {0};
	int64_t dep = deploy_time_ms(&c, 300);

	W->now += 10;
	roll_start(r, &e);
	drive(r, "verified", 0);
	T_CHECK(W->t_set_ms == dep,
		"early request: deployed exactly when the staged key's wait ends (%lld ms, "
		"expected %lld ms)",
		(long long)(W->t_set_ms - T0 * 1000), (long long)(dep - T0 * 1000));
	roll_free(r);
	world_free(&c);
}

/* A staged key held: the daemon prepares its deploy (roll_deploy.c).  A
 * request within the hour deploys with only postconf -e, the read-back and
 * the reload; two hours later without a pass of the daemon in between it
 * reads everything again; with one (its watch), prepared again. */
static void test_prepared_staged(void)
{
	static const struct {
		const char *name;
		int64_t after; /* the request, this long after the staged key's wait */
		bool pass;     /* a daemon pass just before it */
		bool prepared; /* expected: the deploy took the prepared path */
	} cases[] = {
		{"asked 60 s after the wait", 60, false, true},
		{"asked 2 h later", 7200, false, false},
		{"asked 2 h later, the daemon's watch just before", 7200, true, true},
	};

	for (size_t i = 0; i < PF_ELEMENTSOF(cases); i++) {
		tcase c;
		pf_roll *r = staged_world(&c, &pre);
		pf_err e = {0};

		roll_set_phase_hook(r, on_phase, r);
		W->now = deploy_time(&c, 300) + cases[i].after;
		if (cases[i].pass) {
			int64_t wakeup = 0;

			roll_run(r, true, &wakeup, &e);
		}
		zero_counts();
		roll_start(r, &e);
		drive(r, "verified", 0);
		T_CHECK(strcmp(roll_phase(r), "verified") == 0 && W->t_set == W->now &&
				(cases[i].prepared ? only_set_check_reload() : read_at_moment()),
			"prepared staged, %s: deployed at once, %s (%s; deployed %u, snapshots "
			"%u, preflights %u, read-backs %u)",
			cases[i].name,
			cases[i].prepared ? "only postconf -e, read-back, reload"
					  : "everything read then",
			roll_phase(r), at_deployed.n_deployed, at_deployed.n_snapshots,
			at_deployed.n_preflights, at_deployed.n_checks_readback);
		roll_free(r);
		world_free(&c);
	}
}

/* The staged record deleted behind the daemon's back (deleted), or its
 * RRset's TTL raised to ttl: asked after the wait, the deploy waits again. */
static void changed_case(const char *name, bool deleted, uint32_t ttl)
{
	tcase c;
	pf_roll *r = staged_world(&c, &pre);
	pf_tlsa_rdata rd = staged_rd(&c, NULL, 0);
	pf_err e = {0};
	int64_t old_dep = deploy_time(&c, 300), asked, dep;
	unsigned adds = W->n_added, updates = W->n_updates;

	W->now = old_dep + 600;
	if (deleted)
		delete_by_hand(&rd);
	W->ttl = ttl;
	asked = W->now;
	roll_start(r, &e);
	drive(r, "verified", 0);
	dep = deploy_time_ms(&c, ttl);
	T_CHECK(W->n_updates > updates && W->n_added == adds + deleted && served_everywhere(&rd),
		"%s: the staged record is published again", name);
	T_CHECK(W->t_set_ms == dep && dep >= (asked + 2 * (int64_t)ttl + c.o.safety) * 1000,
		"%s: deployed only when its wait, counted afresh, ended (%lld s after asked)", name,
		(long long)(W->t_set - asked));
	T_CHECK(has_event(&c, "staged-records-changed"), "%s: a staged-records-changed event",
		name);
	roll_free(r);
	world_free(&c);
}

/* check: the staged key's records are audited too (SPEC.md 2.2). */
static void test_check_staged(void)
{
	tcase c;
	pf_roll *r = staged_world(&c, &pre);
	pf_tlsa_rdata rd = staged_rd(&c, NULL, 0);
	char *path = pf_asprintf("%s/check-staged.out", top);
	FILE *out = fopen(path, "w+");
	pf_err e = {0};
	unsigned updates = W->n_updates;

	T_CHECK(roll_check(r, out, &e) == 0,
		"check in staged: deployed and staged records served (%s)", e.msg);
	pf_err_clear(&e);
	delete_by_hand(&rd);
	T_CHECK(roll_check(r, out, &e) == -EPROTO && strstr(e.msg, "staged") &&
			W->n_updates == updates,
		"check in staged: the staged record missing is a finding, nothing changed (%s)",
		e.msg);
	fclose(out);
	free(path);
	roll_free(r);
	world_free(&c);
}

static void test_cancel_staged(void)
{
	tcase c;
	pf_roll *r = staged_world(&c, &pre);
	pf_tlsa_rdata rd = staged_rd(&c, NULL, 0), rd2;
	pf_err e = {0};

	T_CHECK(roll_cancel(r, &e) == 0 && !served(OWNER, &rd, 0) && served(OWNER, &old_rd, 0) &&
			key_files(&c) == 1 && W->n_sets == 0,
		"cancel in staged: the staged record and key gone, the current kept (%s)", e.msg);
	settle(r);
	rd2 = staged_rd(&c, NULL, 0);
	T_CHECK(strcmp(roll_phase(r), "staged") == 0 && !tlsa_equal(&rd, &rd2) &&
			served_everywhere(&rd2) && key_files(&c) == 2,
		"cancel in staged: the daemon stages a new key");
	T_CHECK(roll_was_cancelled(r),
		"cancel in staged: a \"now --wait\" following it still sees the cancel");
	roll_free(r);
	world_free(&c);
}

/* One run of the sweep's scenario: a daemon stages, a rollover is asked
 * right after (its wait not passed), it deploys, retires, stages the
 * following key.  After a restart (killed), the request is repeated only
 * while nothing has been deployed, as an operator would. */
static void sweep_run(pf_roll *r, bool restarted)
{
	pf_err e = {0};

	settle(r);
	if (restarted && W->n_sets)
		return;
	roll_start(r, &e);
	settle(r);
}

/* The deploy time of the deploy that happened, from the T_pub and T_conf
 * it was decided on. */
static int64_t early_ms(const tcase *c)
{
	int64_t base = W->dep_conf_ms;

	if (W->dep_pub_ms + c->o.min_delay * 1000 > base)
		base = W->dep_pub_ms + c->o.min_delay * 1000;
	return base + (2 * (int64_t)c->o.tlsa_ttl + c->o.safety) * 1000;
}

/* rollover_interval with prepublish: counted from when the key in service
 * went live (t_in_service), not from its file, made when it was staged. */
static void test_interval(void)
{
	world_opts o = pre;
	tcase c;
	pf_roll *r;
	pf_err e = {0};
	int64_t live;

	o.rollover_interval = 30 * 86400;
	o.audit_interval = 0;
	r = staged_world(&c, &o);
	/* The old key's file is years older than the fake clock's now: the
	 * first rollover is due as soon as the staged key's wait has passed. */
	T_CHECK(W->n_sets == 1 && W->t_set_ms == early_ms(&c) &&
			strcmp(roll_phase(r), "staged") == 0,
		"interval: an old key's file past the interval: rolled when the staged key's "
		"wait passed, then the next staged (%u, %s)",
		W->n_sets, roll_phase(r));
	live = W->t_set;
	/* The deployed key's file is 40 days old now, its service just begun. */
	settle(r);
	T_CHECK(W->n_sets == 1, "interval: not again at once: the new key has been live 0 days");
	W->now = live + 30 * 86400 - 10;
	settle(r);
	T_CHECK(W->n_sets == 1, "interval: not 10 s before 30 days of service");
	W->now = live + 30 * 86400 + 5;
	settle(r);
	T_CHECK(W->n_sets == 2 && W->t_set >= live + 30 * 86400,
		"interval: rolled once 30 days of service have passed (%lld s after)",
		(long long)(W->t_set - live - 30 * 86400));
	(void)e;
	roll_free(r);
	world_free(&c);
}

static void test_kill_sweep(void)
{
	tcase c;
	pf_roll *r;
	unsigned total, bad = 0;

	world_new(&c, &pre);
	drive_auto = true;
	r = open_roll(&c);
	sweep_run(r, false);
	total = W->n_saves;
	roll_free(r);
	world_free(&c);
	T_CHECK(total > 15 && W->n_sets == 1, "kill sweep: the scenario saves %u times", total);

	for (unsigned n = 1; n <= total; n++) {
		char why[200] = "";
		pid_t pid;
		int status;

		world_new(&c, &pre);
		W->kill_at = n;
		fflush(stdout);
		if ((pid = fork()) == 0) {
			W->in_child = true;
			sweep_run(open_roll(&c), false);
			_exit(3);
		}
		waitpid(pid, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			snprintf(why, sizeof(why), "not killed at save %u", n);
		} else {
			W->kill_at = 0;
			W->now += 5;
			r = open_roll(&c);
			settle(r);
			if (W->n_sets == 0) {
				/* Killed before the request was saved: ask again. */
				pf_err e = {0};

				roll_start(r, &e);
			}
			sweep_run(r, true);
			if (W->n_sets != 1 || W->n_reloads != 1)
				snprintf(why, sizeof(why), "%u main.cf changes, %u reloads",
					 W->n_sets, W->n_reloads);
			else if (W->t_set_ms < early_ms(&c))
				snprintf(why, sizeof(why), "deployed at %lld ms, before %lld ms",
					 (long long)(W->t_set_ms - T0 * 1000),
					 (long long)(early_ms(&c) - T0 * 1000));
			else if (strcmp(roll_phase(r), "staged") != 0)
				snprintf(why, sizeof(why), "ended in %s", roll_phase(r));
			else if (key_files(&c) != 3)
				snprintf(why, sizeof(why), "%zu key files", key_files(&c));
			else if (served(OWNER, &old_rd, 0) || served_at(OWNER, 0) != 2)
				snprintf(why, sizeof(why), "%u records served, old %s",
					 served_at(OWNER, 0),
					 served(OWNER, &old_rd, 0) ? "still" : "gone");
			roll_free(r);
		}
		if (why[0]) {
			bad++;
			printf("FAIL: kill sweep: killed after save %u of %u: %s\n", n, total, why);
		}
		world_free(&c);
	}
	T_CHECK(bad == 0,
		"kill sweep: killed after each of %u saves and restarted: one deploy, "
		"one reload, not early, current + next served at the end",
		total);
}

int main(void)
{
	fake_init();
	test_stage();
	test_emergency();
	test_early_request();
	test_prepared_staged();
	changed_case("record deleted", true, 300);
	changed_case("TTL raised", false, 1800);
	test_check_staged();
	test_cancel_staged();
	test_interval();
	test_kill_sweep();
	return fake_done();
}
