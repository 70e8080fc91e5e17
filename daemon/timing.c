/*
 * timing.c - SPEC.md 4's deploy and retire times, computed from the state
 * alone (see timing.h for the formulas).  No clock is read here: callers pass
 * "now", so the same inputs always give the same answer.
 */
#include "timing.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const wait_names[PF_WAIT_COUNT] = {
	[PF_WAIT_PROPAGATION] = "propagation",
	[PF_WAIT_MIN_DELAY] = "propagation_min_delay",
	[PF_WAIT_TTL] = "ttl",
	[PF_WAIT_SAFETY] = "publish_safety",
	[PF_WAIT_VERIFICATION] = "verification",
	[PF_WAIT_RETIRE] = "retire_delay",
};

static int64_t max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

void pf_timing_params_from_config(const pf_config *cfg, pf_timing_params *ret)
{
	ret->ttl_factor = cfg->ttl_factor;
	ret->publish_safety = cfg->publish_safety;
	ret->propagation_min_delay = cfg->propagation_min_delay;
	ret->retire_delay = cfg->retire_delay;
}

void pf_timing_effective(const pf_state *st, const pf_timing_params *cfg, pf_timing_params *ret)
{
	pf_timing_params p = *cfg;

	if (st->have_params) {
		if (st->params.ttl_factor > p.ttl_factor)
			p.ttl_factor = st->params.ttl_factor;
		p.publish_safety = max64(p.publish_safety, st->params.publish_safety);
		p.propagation_min_delay =
			max64(p.propagation_min_delay, st->params.propagation_min_delay);
		p.retire_delay = max64(p.retire_delay, st->params.retire_delay);
	}
	*ret = p;
}

uint32_t pf_timing_ttl_eff(uint32_t tlsa_ttl, uint32_t ttl_before, uint32_t ttl_negative)
{
	uint32_t eff = tlsa_ttl;

	if (ttl_before > eff)
		eff = ttl_before;
	if (ttl_negative > eff)
		eff = ttl_negative;
	return eff;
}

uint32_t pf_timing_ttl_negative(uint32_t soa_ttl, uint32_t soa_minimum)
{
	return soa_ttl < soa_minimum ? soa_ttl : soa_minimum;
}

/* The TTL wait's start: the later of T_conf and the minimum delay's end. */
static int64_t ttl_base(const pf_timing_params *p, int64_t t_pub, int64_t t_conf)
{
	return max64(t_conf, t_pub + p->propagation_min_delay);
}

/* The TTL wait's end, from its start. */
static int64_t ttl_end_of(const pf_timing_params *p, int64_t base, uint32_t ttl_eff)
{
	return base + (int64_t)p->ttl_factor * ttl_eff;
}

int64_t pf_timing_deploy_at(const pf_timing_params *p, int64_t t_pub, int64_t t_conf,
			    uint32_t ttl_eff)
{
	return ttl_end_of(p, ttl_base(p, t_pub, t_conf), ttl_eff) + p->publish_safety;
}

/* TTLeff into t; false when the state lacks an input (not yet published). */
static bool compute_ttl(const pf_state *st, pf_timing *t)
{
	if (st->tlsa_ttl == 0 || st->n_rrsets == 0)
		return false;
	t->tlsa_ttl = st->tlsa_ttl;
	for (size_t i = 0; i < st->n_rrsets; i++) {
		if (!st->rrsets[i].existed)
			t->any_absent = true;
		else if (st->rrsets[i].ttl > t->ttl_before)
			t->ttl_before = st->rrsets[i].ttl;
	}
	if (t->any_absent) {
		/* A resolver that asked before the records existed may hold the
		 * NXDOMAIN/NODATA answer that long (RFC 2308 section 5). */
		if (!st->have_soa)
			return false;
		t->ttl_negative = pf_timing_ttl_negative(st->soa_ttl, st->soa_minimum);
	}
	t->ttl_eff = pf_timing_ttl_eff(t->tlsa_ttl, t->ttl_before, t->ttl_negative);
	return true;
}

static void set_wait(pf_timing *t, enum pf_wait_id id, bool started, int64_t start, bool known,
		     int64_t end)
{
	pf_wait *w = &t->waits[id];

	w->started = started;
	w->start = started ? start : 0;
	w->known = known;
	w->end = known ? end : 0;
}

int64_t pf_poll_next_ms(int64_t since_change_ms, int64_t prev_ms)
{
	if (pf_poll_fast(since_change_ms))
		return PF_POLL_FAST_MS;
	if (prev_ms < PF_POLL_MIN_MS)
		return PF_POLL_MIN_MS;
	return prev_ms * 2 > PF_POLL_MAX_MS ? PF_POLL_MAX_MS : prev_ms * 2;
}

bool pf_poll_fast(int64_t since_change_ms)
{
	return since_change_ms < PF_POLL_FAST_WINDOW_MS;
}

void pf_timing_compute(const pf_state *st, const pf_timing_params *cfg, pf_timing *ret)
{
	pf_timing t;
	int64_t pub_ms = pf_state_stamp_ms(st, PF_T_PUB),
		conf_ms = pf_state_stamp_ms(st, PF_T_CONF);
	int64_t reload_ms = pf_state_stamp_ms(st, PF_T_RELOAD);
	int64_t t_pub = st->t[PF_T_PUB], t_conf = st->t[PF_T_CONF];
	int64_t t_reload = st->t[PF_T_RELOAD], t_verified = st->t[PF_T_VERIFIED];

	memset(&t, 0, sizeof(t));
	for (int i = 0; i < PF_WAIT_COUNT; i++)
		t.waits[i].name = wait_names[i];
	pf_timing_effective(st, cfg, &t.params);
	t.ttl_known = compute_ttl(st, &t);

	set_wait(&t, PF_WAIT_PROPAGATION, t_pub != 0, t_pub, t_pub && t_conf, t_conf);
	set_wait(&t, PF_WAIT_MIN_DELAY, t_pub != 0, t_pub, t_pub != 0,
		 t_pub + t.params.propagation_min_delay);
	if (t_pub && t_conf && t.ttl_known) {
		int64_t base = ttl_base(&t.params, t_pub, t_conf);
		int64_t ttl_end = ttl_end_of(&t.params, base, t.ttl_eff);

		t.deploy_known = true;
		/* In ms: the same formula on the ms stamps; its second rounded
		 * up is the whole-second formula on the rounded-up stamps. */
		t.deploy_at_ms =
			max64(conf_ms, pub_ms + t.params.propagation_min_delay * 1000) +
			((int64_t)t.params.ttl_factor * t.ttl_eff + t.params.publish_safety) * 1000;
		t.deploy_at = (t.deploy_at_ms + 999) / 1000;
		set_wait(&t, PF_WAIT_TTL, true, base, true, ttl_end);
		set_wait(&t, PF_WAIT_SAFETY, true, ttl_end, true, t.deploy_at);
	}
	set_wait(&t, PF_WAIT_VERIFICATION, t_reload != 0, t_reload, t_reload && t_verified,
		 t_verified);
	if (t_reload) {
		t.retire_known = true;
		t.retire_at_ms = reload_ms + t.params.retire_delay * 1000;
		t.retire_at = (t.retire_at_ms + 999) / 1000;
		set_wait(&t, PF_WAIT_RETIRE, true, t_reload, true, t.retire_at);
	}
	*ret = t;
}

int64_t pf_wait_remaining(const pf_wait *w, int64_t now)
{
	if (!w->known)
		return -1;
	return w->end > now ? w->end - now : 0;
}

const char *pf_timing_fmt_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, len, "@%lld", (long long)t);
	return buf;
}

/* Whole seconds left from now_ms to at_ms, rounded up. */
static int64_t secs_left(int64_t at_ms, int64_t now_ms)
{
	return (at_ms - now_ms + 999) / 1000;
}

int pf_timing_may_deploy(const pf_state *st, const pf_timing *t, int64_t now_ms, pf_err *e)
{
	char when[40], left[32];

	if (!st->t[PF_T_PUB])
		return pf_err_refuse(e, "the new TLSA records are not published yet");
	if (!st->t[PF_T_CONF])
		return pf_err_refuse(e, "the new TLSA records are not yet served by every check "
					"server");
	if (!t->deploy_known)
		return pf_err_refuse(e, "the deploy time is not known (the TTLs seen before the "
					"update are missing)");
	if (now_ms < t->deploy_at_ms)
		return pf_err_refuse(
			e, "too early: deploy is safe from %s (in %s)",
			pf_timing_fmt_time(t->deploy_at, when, sizeof(when)),
			pf_fmt_duration(secs_left(t->deploy_at_ms, now_ms), left, sizeof(left)));
	return 0;
}

int pf_timing_may_retire(const pf_state *st, const pf_timing *t, int64_t now_ms, pf_err *e)
{
	char when[40], left[32];

	if (!st->t[PF_T_RELOAD] || !t->retire_known)
		return pf_err_refuse(e, "the new keys are not deployed yet");
	if (!st->t[PF_T_VERIFIED] ||
	    pf_state_stamp_ms(st, PF_T_VERIFIED) < pf_state_stamp_ms(st, PF_T_RELOAD))
		return pf_err_refuse(e,
				     "the new keys have not been verified on every endpoint yet");
	if (now_ms < t->retire_at_ms)
		return pf_err_refuse(
			e, "too early: the old records may be withdrawn from %s (in %s)",
			pf_timing_fmt_time(t->retire_at, when, sizeof(when)),
			pf_fmt_duration(secs_left(t->retire_at_ms, now_ms), left, sizeof(left)));
	return 0;
}
