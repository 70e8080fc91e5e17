/*
 * test_prompt.c - the rollover seen and done promptly (issue 16), in the
 * fake world of roll_fake.h on its ms clock:
 *   - the poll schedule (pf_poll_next_ms): every 150 ms for the first 4 s
 *     after a change, then 1 s, 2 s, 4 s ... 30 s;
 *   - T_conf within a fast poll (150 ms) of the moment the last check
 *     server began to serve the records;
 *   - the deploy at the formula's exact ms, refused 1 ms before;
 *   - the retire confirmed within 150 ms of the old records being gone
 *     everywhere, with one delete sent and one guard run;
 *   - a state file of whole seconds (older releases) keeps its meaning;
 *   - a staged key held: woken when its wait ends, STATUS= says so;
 *   - a server 3 s or 10 s late: the propagation alerts name it, once in
 *     the fast polls and once per slow poll after, and the state is saved
 *     only when a server is confirmed or an alert logged.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "roll_fake.h"
#include "../../daemon/journal.h"
#include "../../daemon/timing.h"

static const char *const ns2 = "127.0.0.2";

/* ns2 lags behind the update server by ms. */
static void lag_ns2(int64_t ms)
{
	W->lag[1] = ms / 1000;
	W->lag_ms[1] = ms % 1000;
}

static void test_schedule(void)
{
	static const struct {
		int64_t since, prev, want;
	} steps[] = {
		{0, 0, 150},           {150, 150, 150},       {3999, 150, 150},
		{4000, 150, 1000},     {4000, 0, 1000},       {5000, 1000, 2000},
		{7000, 2000, 4000},    {11000, 4000, 8000},   {19000, 8000, 16000},
		{35000, 16000, 30000}, {65000, 30000, 30000},
	};
	int64_t since = 0, prev = 0;
	unsigned fast = 0;

	for (size_t i = 0; i < PF_ELEMENTSOF(steps); i++)
		T_CHECK(pf_poll_next_ms(steps[i].since, steps[i].prev) == steps[i].want,
			"schedule: %lld ms after the change, after a pause of %lld ms: %lld ms "
			"(got %lld)",
			(long long)steps[i].since, (long long)steps[i].prev,
			(long long)steps[i].want,
			(long long)pf_poll_next_ms(steps[i].since, steps[i].prev));
	/* The rounds of the first minute, as the engine makes them. */
	while (since < 4000) {
		fast++;
		prev = pf_poll_next_ms(since, prev);
		since += prev;
	}
	T_CHECK(fast == 27 && since == 4050,
		"schedule: 27 rounds in the first 4 s, the first slow one at 4050 ms (%u, %lld)",
		fast, (long long)since);
	T_CHECK(pf_poll_fast(3999) && !pf_poll_fast(4000), "schedule: the fast window is 4 s");
}

/* ns2 begins to serve the new record 1234 ms after the update: T_conf
 * within one fast poll of that, where it used to be up to 2 s later (a 1 s
 * poll, then the second rounded up). */
static void test_conf_prompt(void)
{
	tcase c;
	pf_roll *r;
	pf_err e = {0};
	int64_t served_from, late;

	world_new(&c, &defaults);
	lag_ns2(1234);
	r = open_roll(&c);
	roll_start(r, &e);
	drive(r, "propagated", 0);
	served_from = W->log[W->n_log - 1].t_ms + 1234;
	late = W->stamp_ms[PF_T_CONF] - served_from;
	T_CHECK(strcmp(roll_phase(r), "propagated") == 0 && late >= 0 &&
			late <= PF_POLL_FAST_MS + 1,
		"conf: T_conf %lld ms after the last server began to serve (at most 151)",
		(long long)late);
	T_CHECK(W->stamp_ms[PF_T_PUB] == W->log[W->n_log - 1].t_ms + 1,
		"conf: T_pub is the update's NOERROR, rounded up to the ms (%lld)",
		(long long)(W->stamp_ms[PF_T_PUB] - T0 * 1000));
	roll_free(r);
	world_free(&c);
}

/* The deploy at the formula's ms: not 1 ms before, at it exactly. */
static void test_deploy_ms(void)
{
	tcase c;
	pf_roll *r;
	pf_err e = {0};
	int64_t dep, w = 0;

	world_new(&c, &defaults);
	lag_ns2(1234);
	r = open_roll(&c);
	roll_start(r, &e);
	drive(r, "propagated", 0);
	dep = expected_deploy_ms(&c);
	T_CHECK(dep % 1000 != 0, "deploy: the formula's moment is not a whole second (%lld ms)",
		(long long)(dep - T0 * 1000));
	set_now_ms(dep - 1);
	roll_run(r, false, &w, &e);
	T_CHECK(strcmp(roll_phase(r), "propagated") == 0 && W->n_sets == 0 && w == dep,
		"deploy: nothing deployed 1 ms before, the wakeup is the moment (%lld ms)",
		(long long)(w - T0 * 1000));
	pf_err_clear(&e);
	T_CHECK(roll_deploy(r, false, &e) == -EPERM && e.exit_code == PF_EXIT_REFUSED &&
			W->n_sets == 0,
		"deploy: by hand 1 ms before, refused, exit 3 (%s)", e.msg);
	pf_err_clear(&e);
	set_now_ms(dep);
	drive(r, "verified", 0);
	T_CHECK(W->n_sets == 1 && W->t_set_ms == dep && strcmp(roll_phase(r), "verified") == 0,
		"deploy: at the ms (%lld ms, expected %lld ms)",
		(long long)(W->t_set_ms - T0 * 1000), (long long)(dep - T0 * 1000));
	T_CHECK(W->stamp_ms[PF_T_DEPLOYED] == dep && W->stamp_ms[PF_T_RELOAD] == dep + 1 &&
			W->stamp_ms[PF_T_VERIFIED] == dep + 1,
		"deploy: T_deployed, T_reload, T_verified to the ms");
	roll_free(r);
	world_free(&c);
}

/* The old records gone from ns2 1234 ms after the delete: retired within a
 * fast poll of that, one delete sent, the guard run once. */
static void test_retire_prompt(void)
{
	tcase c;
	pf_roll *r;
	pf_err e = {0};
	int64_t retire_at, late;

	world_new(&c, &defaults);
	lag_ns2(1234);
	r = open_roll(&c);
	roll_start(r, &e);
	drive(r, NULL, 0);
	retire_at = W->stamp_ms[PF_T_RELOAD] + c.o.retire_delay * 1000;
	late = W->phase_ms[PF_PHASE_RETIRED] - (retire_at + 1234);
	T_CHECK(strcmp(roll_phase(r), "idle") == 0 && late >= 0 && late <= PF_POLL_FAST_MS,
		"retire: confirmed %lld ms after the old record was gone everywhere (at most 150)",
		(long long)late);
	T_CHECK(W->n_deleted == 1 && W->n_updates == 2 && W->n_guards == 1,
		"retire: one delete sent (%u updates in all), the guard run once (%u)",
		W->n_updates, W->n_guards);
	roll_free(r);
	world_free(&c);

	/* 6 s late: the polls after the fast window send the delete again,
	 * each through the guard. */
	world_new(&c, &defaults);
	lag_ns2(6000);
	r = open_roll(&c);
	roll_start(r, &e);
	drive(r, NULL, 0);
	T_CHECK(strcmp(roll_phase(r), "idle") == 0 && W->n_guards >= 2 && W->n_guards <= 4 &&
			W->n_updates == 1 + W->n_guards && W->n_deleted == 1,
		"retire 6 s late: the delete sent again only on the slow polls, each guarded "
		"(%u guards, %u updates)",
		W->n_guards, W->n_updates);
	roll_free(r);
	world_free(&c);
}

/* A state file as older releases wrote it (whole seconds, rounded up)
 * keeps its meaning: the deploy at its whole-second formula. */
static void test_old_file(void)
{
	tcase c;
	pf_roll *r;
	pf_err e = {0};
	pf_state st;
	char path[PATH_MAX];
	int64_t dep;
	bool whole;
	char *text;
	size_t len;

	world_new(&c, &defaults);
	lag_ns2(1234);
	r = open_roll(&c);
	roll_start(r, &e);
	drive(r, "propagated", 0);
	roll_free(r);
	case_load_state(&c, &st);
	if (pf_state_format(&st, &text, &len, &e) < 0) {
		printf("FAIL: old file: %s\n", e.msg);
		exit(1);
	}
	{
		const char *p = strstr(text, "\nt_pub = ");
		size_t l = p ? strcspn(p + 1, "\n") : 0;

		T_CHECK(p && l > 4 && p[l - 3] == '.' && strstr(text, "\nt_conf = "),
			"new file: t_pub written to the ms (%.*s)", (int)l, p ? p + 1 : "");
	}
	free(text);
	memset(st.t_ms, 0, sizeof(st.t_ms)); /* as an older release knew it */
	snprintf(path, sizeof(path), "%s/state/" PF_STATE_FILE_NAME, c.dir);
	if (pf_state_save(path, &st, &e) < 0 || pf_state_format(&st, &text, &len, &e) < 0) {
		printf("FAIL: old file: %s\n", e.msg);
		exit(1);
	}
	whole = strstr(text, "\nt_pub = ") && strstr(text, "\nt_conf = ");
	for (const char *l = text; (l = strstr(l, "\nt_")); l++)
		whole &= memchr(l, '.', strcspn(l + 1, "\n")) == NULL;
	free(text);
	dep = (st.t[PF_T_CONF] > st.t[PF_T_PUB] ? st.t[PF_T_CONF] : st.t[PF_T_PUB]) + 2 * 300 + 60;
	pf_state_free(&st);
	T_CHECK(whole, "old file: written with whole seconds only");
	r = open_roll(&c);
	W->n_sets = 0;
	set_now_ms(dep * 1000 - 1);
	drive(r, NULL, dep - 1);
	T_CHECK(W->n_sets == 0 && strcmp(roll_phase(r), "propagated") == 0,
		"old file: nothing deployed 1 ms before its whole-second deploy time");
	set_now_ms(dep * 1000);
	drive(r, "verified", 0);
	T_CHECK(W->n_sets == 1 && W->t_set_ms == dep * 1000,
		"old file: deployed at its whole second (%lld ms)",
		(long long)(W->t_set_ms - T0 * 1000));
	roll_free(r);
	world_free(&c);
}

/* propagation_alert 2 s, ns2 late_ms late: the alerts (of the state's
 * events, naming whom) and the saves in phase published. */
static void alert_case(int64_t late_ms, unsigned want_alerts)
{
	const char *kind = pf_event_kind_get(PF_EV_PROPAGATION_ALERT)->name;
	world_opts o = defaults;
	unsigned alerts = 0, naming = 0;
	tcase c;
	pf_roll *r;
	pf_err e = {0};
	pf_state st;

	o.alert = 2;
	world_new(&c, &o);
	lag_ns2(late_ms);
	r = open_roll(&c);
	roll_start(r, &e);
	drive(r, "propagated", 0);
	case_load_state(&c, &st);
	for (size_t i = 0; i < st.n_events; i++)
		if (strcmp(st.events[i].kind, kind) == 0) {
			alerts++;
			naming += strstr(st.events[i].msg, ns2) != NULL;
		}
	T_CHECK(strcmp(roll_phase(r), "propagated") == 0 && alerts == want_alerts &&
			naming == alerts && st.alert_count == want_alerts,
		"alert, ns2 %lld ms late: %u alerts, each naming it (%u, %u naming, count %u)",
		(long long)late_ms, want_alerts, alerts, naming, st.alert_count);
	/* Entering published, ns1 confirmed, each alert; nothing else. */
	T_CHECK(W->saves_in[PF_PHASE_PUBLISHED] == 2 + want_alerts,
		"alert, ns2 %lld ms late: %u saves while published, not one per poll (%u)",
		(long long)late_ms, 2 + want_alerts, W->saves_in[PF_PHASE_PUBLISHED]);
	pf_state_free(&st);
	roll_free(r);
	world_free(&c);
}

/* prepublish, a staged key held: the daemon wakes when its wait ends, and
 * STATUS= then says an emergency rollover would deploy at once. */
static void test_staged_status(void)
{
	world_opts o = defaults;
	tcase c;
	pf_roll *r;
	pf_err e = {0};
	int64_t w = 0;

	o.prepublish = true;
	o.audit_interval = 3600;
	world_new(&c, &o);
	lag_ns2(1234);
	r = open_roll(&c);
	for (int i = 0; i < 100 && strcmp(roll_phase(r), "staged") != 0; i++) {
		w = 0;
		roll_run(r, true, &w, &e);
		if (strcmp(roll_phase(r), "staged") != 0 && w > now_ms())
			set_now_ms(w);
	}
	w = 0;
	roll_run(r, true, &w, &e);
	T_CHECK(strcmp(roll_phase(r), "staged") == 0 && w > now_ms() && w < now_ms() + 3600 * 1000,
		"staged: held, the next wakeup before the audit (in %lld ms)",
		(long long)(w - now_ms()));
	set_now_ms(w);
	roll_run(r, true, &w, &e);
	T_CHECK(strstr(roll_status_line(r), "an emergency rollover would deploy at once") != NULL,
		"staged: at that wakeup STATUS says an emergency rollover deploys at once (%s)",
		roll_status_line(r));
	roll_free(r);
	world_free(&c);
}

int main(void)
{
	fake_init();
	test_schedule();
	test_conf_prompt();
	test_deploy_ms();
	test_retire_prompt();
	test_old_file();
	test_staged_status();
	/* 3 s: the first fast poll past 2 s; 10 s: that, and the slow polls
	 * at 4.05, 5.05 and 7.05 s (confirmed at 11.05 s). */
	alert_case(3000, 1);
	alert_case(10000, 4);
	return fake_done();
}
