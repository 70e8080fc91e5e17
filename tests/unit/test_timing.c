/*
 * test_timing.c - SPEC.md 4's timing model, one table row per term of the
 * formulas (each TTL source, the negative TTL, the minimum delay against
 * T_conf, the factor, the safety margin, the recorded parameters as a
 * floor), then the deploy and retire gates at and around their times.
 */
#include <errno.h>
#include <stdlib.h>

#include "../../daemon/timing.h"
#include "t.h"
#include "../../daemon/macro.h"

#define T0 1700000000 /* 2023-11-14 22:13:20 UTC */
#define SPKI "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"

struct rr {
	bool existed;
	uint32_t ttl;
};

static const struct tcase {
	const char *name;
	int64_t t_pub, t_conf, t_reload, t_verified;
	struct rr rr[3];
	size_t n_rr;
	uint32_t tlsa_ttl;
	bool have_soa;
	uint32_t soa_ttl, soa_min;
	bool have_params;
	pf_timing_params recorded;
	pf_timing_params cfg;
	/* expected */
	bool ttl_known;
	uint32_t ttl_eff;
	bool deploy_known;
	int64_t deploy_at;
	int64_t retire_at; /* 0: not known */
} cases[] = {
	{"RRset existed: its TTL dominates",
	 T0,
	 T0 + 5,
	 0,
	 0,
	 {{true, 7200}},
	 1,
	 3600,
	 false,
	 0,
	 0,
	 false,
	 {0},
	 {2, 60, 0, 3600},
	 true,
	 7200,
	 true,
	 T0 + 5 + 2 * 7200 + 60,
	 0},
	{"tlsa_ttl dominates the old TTL",
	 T0,
	 T0 + 5,
	 0,
	 0,
	 {{true, 300}},
	 1,
	 3600,
	 false,
	 0,
	 0,
	 false,
	 {0},
	 {2, 60, 0, 3600},
	 true,
	 3600,
	 true,
	 T0 + 5 + 2 * 3600 + 60,
	 0},
	{"no RRset before: negative TTL is SOA MINIMUM when smaller",
	 T0,
	 T0 + 5,
	 0,
	 0,
	 {{false, 0}},
	 1,
	 3600,
	 true,
	 86400,
	 10800,
	 false,
	 {0},
	 {2, 60, 0, 3600},
	 true,
	 10800,
	 true,
	 T0 + 5 + 2 * 10800 + 60,
	 0},
	{"no RRset before: negative TTL is SOA TTL when smaller",
	 T0,
	 T0 + 5,
	 0,
	 0,
	 {{false, 0}},
	 1,
	 3600,
	 true,
	 5000,
	 86400,
	 false,
	 {0},
	 {2, 60, 0, 3600},
	 true,
	 5000,
	 true,
	 T0 + 5 + 2 * 5000 + 60,
	 0},
	{"no RRset before: tlsa_ttl above the negative TTL",
	 T0,
	 T0 + 5,
	 0,
	 0,
	 {{false, 0}},
	 1,
	 3600,
	 true,
	 60,
	 60,
	 false,
	 {0},
	 {2, 60, 0, 3600},
	 true,
	 3600,
	 true,
	 T0 + 5 + 2 * 3600 + 60,
	 0},
	{"RRset existed: SOA values ignored however large",
	 T0,
	 T0 + 5,
	 0,
	 0,
	 {{true, 300}},
	 1,
	 600,
	 true,
	 86400,
	 86400,
	 false,
	 {0},
	 {2, 60, 0, 3600},
	 true,
	 600,
	 true,
	 T0 + 5 + 2 * 600 + 60,
	 0},
	{"several owners: maximum over all, absent one included",
	 T0,
	 T0 + 5,
	 0,
	 0,
	 {{true, 900}, {false, 0}, {true, 100}},
	 3,
	 600,
	 true,
	 1200,
	 2000,
	 false,
	 {0},
	 {2, 60, 0, 3600},
	 true,
	 1200,
	 true,
	 T0 + 5 + 2 * 1200 + 60,
	 0},
	{"propagation_min_delay later than T_conf",
	 T0,
	 T0 + 5,
	 0,
	 0,
	 {{true, 60}},
	 1,
	 60,
	 false,
	 0,
	 0,
	 false,
	 {0},
	 {2, 10, 3600, 3600},
	 true,
	 60,
	 true,
	 T0 + 3600 + 2 * 60 + 10,
	 0},
	{"T_conf later than propagation_min_delay",
	 T0,
	 T0 + 100,
	 0,
	 0,
	 {{true, 60}},
	 1,
	 60,
	 false,
	 0,
	 0,
	 false,
	 {0},
	 {2, 10, 3, 3600},
	 true,
	 60,
	 true,
	 T0 + 100 + 2 * 60 + 10,
	 0},
	{"ttl_factor 1, no publish_safety",
	 T0,
	 T0 + 7,
	 0,
	 0,
	 {{true, 60}},
	 1,
	 30,
	 false,
	 0,
	 0,
	 false,
	 {0},
	 {1, 0, 0, 0},
	 true,
	 60,
	 true,
	 T0 + 7 + 60,
	 0},
	{"ttl_factor 3",
	 T0,
	 T0 + 7,
	 0,
	 0,
	 {{true, 60}},
	 1,
	 30,
	 false,
	 0,
	 0,
	 false,
	 {0},
	 {3, 1, 0, 0},
	 true,
	 60,
	 true,
	 T0 + 7 + 180 + 1,
	 0},
	{"recorded parameters above the configuration are kept",
	 T0,
	 T0 + 5,
	 T0 + 9000,
	 T0 + 9001,
	 {{true, 60}},
	 1,
	 60,
	 false,
	 0,
	 0,
	 true,
	 {3, 120, 10, 7200},
	 {2, 60, 0, 3600},
	 true,
	 60,
	 true,
	 T0 + 10 + 3 * 60 + 120,
	 T0 + 9000 + 7200},
	{"configuration above the recorded parameters applies",
	 T0,
	 T0 + 5,
	 T0 + 9000,
	 T0 + 9001,
	 {{true, 60}},
	 1,
	 60,
	 false,
	 0,
	 0,
	 true,
	 {1, 0, 0, 60},
	 {2, 60, 0, 3600},
	 true,
	 60,
	 true,
	 T0 + 5 + 2 * 60 + 60,
	 T0 + 9000 + 3600},
	{"not yet confirmed: deploy time unknown",
	 T0,
	 0,
	 0,
	 0,
	 {{true, 60}},
	 1,
	 60,
	 false,
	 0,
	 0,
	 false,
	 {0},
	 {2, 60, 0, 3600},
	 true,
	 60,
	 false,
	 0,
	 0},
	{"not yet published: nothing known",
	 0,
	 0,
	 0,
	 0,
	 {{true, 0}},
	 0,
	 0,
	 false,
	 0,
	 0,
	 false,
	 {0},
	 {2, 60, 0, 3600},
	 false,
	 0,
	 false,
	 0,
	 0},
	{"absent RRset without SOA values: TTLeff unknown",
	 T0,
	 T0 + 5,
	 0,
	 0,
	 {{false, 0}},
	 1,
	 60,
	 false,
	 0,
	 0,
	 false,
	 {0},
	 {2, 60, 0, 3600},
	 false,
	 0,
	 false,
	 0,
	 0},
	{"retire: T_reload + retire_delay",
	 T0,
	 T0 + 5,
	 T0 + 500,
	 T0 + 501,
	 {{true, 60}},
	 1,
	 60,
	 false,
	 0,
	 0,
	 false,
	 {0},
	 {2, 60, 0, 3600},
	 true,
	 60,
	 true,
	 T0 + 5 + 120 + 60,
	 T0 + 500 + 3600},
};

static void fill(pf_state *st, const struct tcase *c)
{
	pf_state_init(st);
	st->t[PF_T_PUB] = c->t_pub;
	st->t[PF_T_CONF] = c->t_conf;
	st->t[PF_T_RELOAD] = c->t_reload;
	st->t[PF_T_VERIFIED] = c->t_verified;
	for (size_t i = 0; i < c->n_rr; i++) {
		char host[64];

		snprintf(host, sizeof(host), "mx%zu.example.com", i);
		if (pf_state_add_rrset(st, host, 25, c->rr[i].existed, c->rr[i].ttl, NULL) < 0)
			abort();
	}
	st->tlsa_ttl = c->tlsa_ttl;
	st->have_soa = c->have_soa;
	st->soa_ttl = c->soa_ttl;
	st->soa_minimum = c->soa_min;
	st->have_params = c->have_params;
	st->params = c->recorded;
}

static void test_table(void)
{
	for (size_t i = 0; i < PF_ELEMENTSOF(cases); i++) {
		const struct tcase *c = &cases[i];
		pf_state st;
		pf_timing t;

		fill(&st, c);
		pf_timing_compute(&st, &c->cfg, &t);
		T_CHECK(t.ttl_known == c->ttl_known && (!c->ttl_known || t.ttl_eff == c->ttl_eff),
			"%s: TTLeff %s%u (got %s%u)", c->name, c->ttl_known ? "" : "unknown ",
			c->ttl_eff, t.ttl_known ? "" : "unknown ", t.ttl_eff);
		T_CHECK(t.deploy_known == c->deploy_known &&
				(!c->deploy_known || t.deploy_at == c->deploy_at),
			"%s: deploy at T0%+lld (got %s T0%+lld)", c->name,
			(long long)(c->deploy_at - T0), t.deploy_known ? "known" : "unknown",
			(long long)(t.deploy_at - T0));
		T_CHECK(t.retire_known == (c->retire_at != 0) &&
				(!c->retire_at || t.retire_at == c->retire_at),
			"%s: retire at T0%+lld (got T0%+lld)", c->name,
			(long long)(c->retire_at - T0), (long long)(t.retire_at - T0));
		if (t.deploy_known)
			T_CHECK(t.waits[PF_WAIT_SAFETY].known &&
					t.waits[PF_WAIT_SAFETY].end == t.deploy_at,
				"%s: the last wait before deploy ends at the deploy time", c->name);
		pf_state_free(&st);
	}
}

static void test_waits(void)
{
	const struct tcase *c = &cases[7]; /* minimum delay later than T_conf */
	pf_state st;
	pf_timing t;
	const pf_wait *w = t.waits;

	fill(&st, c);
	st.t[PF_T_RELOAD] = T0 + 4000;
	pf_timing_compute(&st, &c->cfg, &t);
	T_CHECK(w[PF_WAIT_PROPAGATION].started && w[PF_WAIT_PROPAGATION].start == T0 &&
			w[PF_WAIT_PROPAGATION].known && w[PF_WAIT_PROPAGATION].end == T0 + 5,
		"propagation wait runs from T_pub to T_conf");
	T_CHECK(w[PF_WAIT_MIN_DELAY].start == T0 && w[PF_WAIT_MIN_DELAY].end == T0 + 3600,
		"minimum delay runs from T_pub");
	T_CHECK(w[PF_WAIT_TTL].start == T0 + 3600 && w[PF_WAIT_TTL].end == T0 + 3600 + 120,
		"TTL wait starts at the later of T_conf and T_pub + minimum delay");
	T_CHECK(w[PF_WAIT_SAFETY].start == T0 + 3720 && w[PF_WAIT_SAFETY].end == T0 + 3730,
		"safety wait follows the TTL wait");
	T_CHECK(w[PF_WAIT_VERIFICATION].started && !w[PF_WAIT_VERIFICATION].known,
		"verification wait open until verified");
	T_CHECK(w[PF_WAIT_RETIRE].start == T0 + 4000 && w[PF_WAIT_RETIRE].end == T0 + 7600,
		"retire wait runs from T_reload");
	T_STREQ(w[PF_WAIT_TTL].name, "ttl", "waits are named for status");
	T_CHECK(pf_wait_remaining(&w[PF_WAIT_TTL], T0 + 3700) == 20 &&
			pf_wait_remaining(&w[PF_WAIT_TTL], T0 + 9999) == 0 &&
			pf_wait_remaining(&w[PF_WAIT_VERIFICATION], T0) == -1,
		"remaining time: seconds left, 0 when over, -1 when unknown");
	pf_state_free(&st);

	/* Before publication nothing has started. */
	pf_state_init(&st);
	pf_timing_compute(&st, &c->cfg, &t);
	T_CHECK(!w[PF_WAIT_PROPAGATION].started && !w[PF_WAIT_MIN_DELAY].known &&
			!w[PF_WAIT_TTL].known && !w[PF_WAIT_RETIRE].started,
		"idle state: no wait started");
	pf_state_free(&st);
}

static void test_deploy_gate(void)
{
	const struct tcase *c = &cases[0];
	pf_state st;
	pf_timing t;
	pf_err e = {0};

	fill(&st, c);
	pf_timing_compute(&st, &c->cfg, &t);
	T_CHECK(t.deploy_at_ms == t.deploy_at * 1000,
		"whole-second stamps: deploy_at_ms is its second");
	T_CHECK(pf_timing_may_deploy(&st, &t, (t.deploy_at - 1) * 1000, &e) == -EPERM &&
			e.exit_code == PF_EXIT_REFUSED,
		"deploy refused one second early, exit code 3");
	T_STREQ(e.msg, "too early: deploy is safe from 2023-11-15 02:14:25 UTC (in 1s)",
		"refusal says when (%s)", e.msg);
	pf_err_clear(&e);
	T_CHECK(pf_timing_may_deploy(&st, &t, t.deploy_at_ms - 1, &e) == -EPERM &&
			t_streq(e.msg,
				"too early: deploy is safe from 2023-11-15 02:14:25 UTC (in 1s)"),
		"deploy refused one ms early, the wait rounded up (%s)", e.msg);
	T_CHECK(pf_timing_may_deploy(&st, &t, t.deploy_at_ms, &e) == 0, "deploy allowed on time");
	st.t[PF_T_CONF] = 0;
	pf_timing_compute(&st, &c->cfg, &t);
	T_CHECK(pf_timing_may_deploy(&st, &t, (T0 + 999999) * 1000LL, &e) == -EPERM &&
			t_streq(e.msg,
				"the new TLSA records are not yet served by every check server"),
		"deploy refused without confirmation, however late (%s)", e.msg);
	st.t[PF_T_PUB] = 0;
	T_CHECK(pf_timing_may_deploy(&st, &t, (T0 + 999999) * 1000LL, &e) == -EPERM &&
			t_streq(e.msg, "the new TLSA records are not published yet"),
		"deploy refused before publication (%s)", e.msg);
	pf_state_free(&st);
}

static void test_retire_gate(void)
{
	const struct tcase *c = &cases[16];
	pf_state st;
	pf_timing t;
	pf_err e = {0};

	fill(&st, c);
	pf_timing_compute(&st, &c->cfg, &t);
	T_CHECK(pf_timing_may_retire(&st, &t, t.retire_at_ms - 1, &e) == -EPERM &&
			t_streq(e.msg,
				"too early: the old records may be withdrawn from 2023-11-14 "
				"23:21:40 UTC (in 1s)"),
		"retire refused one ms early (%s)", e.msg);
	T_CHECK(pf_timing_may_retire(&st, &t, t.retire_at_ms, &e) == 0, "retire allowed on time");
	st.t[PF_T_VERIFIED] = 0;
	T_CHECK(pf_timing_may_retire(&st, &t, (t.retire_at + 86400) * 1000, &e) == -EPERM &&
			t_streq(e.msg, "the new keys have not been verified on every endpoint yet"),
		"retire refused without verification, however late");
	st.t[PF_T_VERIFIED] = c->t_reload - 1;
	T_CHECK(pf_timing_may_retire(&st, &t, (t.retire_at + 86400) * 1000, &e) == -EPERM,
		"a verification older than the reload does not count");
	st.t[PF_T_RELOAD] = 0;
	pf_timing_compute(&st, &c->cfg, &t);
	T_CHECK(pf_timing_may_retire(&st, &t, (T0 + 999999) * 1000LL, &e) == -EPERM &&
			t_streq(e.msg, "the new keys are not deployed yet"),
		"retire refused before deploy");
	pf_state_free(&st);
}

/* A restart reads the state back: the same inputs give the same times, and a
 * configuration lowered meanwhile does not bring deploy forward. */
static void test_restart(void)
{
	pf_state st, back;
	pf_timing before, after;
	pf_timing_params cfg = {2, 60, 0, 3600}, lowered = {1, 0, 0, 0};
	pf_err e = {0};
	char *text = NULL;

	pf_state_init(&st);
	pf_state_begin(&st, T0 - 10);
	if (pf_state_set_key(&st, PF_ALG_RSA, PF_ROLE_NEXT, "/k", "/c", SPKI, &e) < 0)
		abort();
	{
		pf_tlsa_rdata r = {.usage = 3, .selector = 1, .mtype = 1, .len = 32};

		if (pf_state_add_record(&st, PF_ROLE_NEXT, PF_ALG_RSA, "mx.example.com", 25, &r,
					&e) < 0 ||
		    pf_state_add_rrset(&st, "mx.example.com", 25, false, 0, &e) < 0)
			abort();
	}
	st.phase = PF_PHASE_PROPAGATED;
	st.t[PF_T_PUB] = T0;
	st.t[PF_T_CONF] = T0 + 3;
	st.tlsa_ttl = 300;
	st.have_soa = true;
	st.soa_ttl = 3600;
	st.soa_minimum = 900;
	st.have_serial = true;
	st.update_serial = 9;
	st.have_params = true;
	st.params = cfg;
	pf_timing_compute(&st, &cfg, &before);
	if (pf_state_format(&st, &text, NULL, &e) < 0 ||
	    pf_state_parse("t", text, strlen(text), &back, &e) < 0) {
		T_CHECK(0, "state round trip: %s", e.msg);
		return;
	}
	pf_timing_compute(&back, &lowered, &after);
	T_CHECK(before.deploy_known && after.deploy_known && after.deploy_at == before.deploy_at &&
			before.deploy_at == T0 + 3 + 2 * 900 + 60,
		"after a restart with a lowered configuration the deploy time is unchanged "
		"(T0%+lld)",
		(long long)(after.deploy_at - T0));
	free(text);
	pf_state_free(&st);
	pf_state_free(&back);
}

static void test_from_config(void)
{
	pf_config cfg;
	pf_timing_params p;
	pf_err e = {0};

	pf_config_init(&cfg);
	if (pf_config_parse(&cfg, "t.cf",
			    "ttl_factor = 3\npublish_safety = 2m\npropagation_min_delay = 1h\n"
			    "retire_delay = 1d\n",
			    &e) < 0) {
		T_CHECK(0, "config: %s", e.msg);
		return;
	}
	pf_timing_params_from_config(&cfg, &p);
	T_CHECK(p.ttl_factor == 3 && p.publish_safety == 120 && p.propagation_min_delay == 3600 &&
			p.retire_delay == 86400,
		"timing parameters taken from pftls-roll.cf");
	pf_config_free(&cfg);
}

/* The terms the CLI's "propagation --wait" uses without a state. */
static void test_terms(void)
{
	static const struct {
		const char *name;
		uint32_t tlsa, before, soa_ttl, soa_min, eff;
		int64_t t_pub, t_conf, deploy;
	} terms[] = {
		{"tlsa_ttl largest", 300, 60, 600, 100, 300, 1000, 1000,
		 1000 + 3600 + 2 * 300 + 60},
		{"TTL before largest", 300, 900, 600, 100, 900, 1000, 1000,
		 1000 + 3600 + 2 * 900 + 60},
		{"negative TTL largest", 300, 60, 7200, 1200, 1200, 1000, 1000,
		 1000 + 3600 + 2 * 1200 + 60},
		{"T_conf after the minimum delay", 300, 0, 60, 60, 300, 1000, 9000,
		 9000 + 2 * 300 + 60},
	};
	pf_timing_params p = {.ttl_factor = 2,
			      .publish_safety = 60,
			      .propagation_min_delay = 3600,
			      .retire_delay = 0};

	for (size_t i = 0; i < PF_ELEMENTSOF(terms); i++) {
		uint32_t neg = pf_timing_ttl_negative(terms[i].soa_ttl, terms[i].soa_min);
		uint32_t eff = pf_timing_ttl_eff(terms[i].tlsa, terms[i].before, neg);

		T_CHECK(eff == terms[i].eff, "terms: %s: TTLeff %u", terms[i].name, eff);
		T_CHECK(pf_timing_deploy_at(&p, terms[i].t_pub, terms[i].t_conf, eff) ==
				terms[i].deploy,
			"terms: %s: deploy time", terms[i].name);
	}
}

int main(void)
{
	test_table();
	test_waits();
	test_deploy_gate();
	test_retire_gate();
	test_restart();
	test_from_config();
	test_terms();
	T_DONE();
}
