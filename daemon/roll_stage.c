/*
 * roll_stage.c - rollover_scheme = prepublish (SPEC.md 4): a next key
 * published and confirmed at all times beside the one in service, so that
 * a rollover - scheduled, or after a key compromise - deploys at once.
 *
 * A staging cycle is an ordinary rollover with st.staging set: it
 * generates, publishes and confirms the next key like any other, and then
 * holds in phase staged instead of going on to deploy.  A request (the
 * "now" of the command line or the control socket, rollover_interval, a
 * manual deploy) clears staging; the cycle then deploys as soon as the
 * wait counted from the staged key's own T_pub and T_conf has passed,
 * which after staging is normally long ago.
 *
 * A staged key is only as ready as what DNS serves now.  Its records are
 * asked of every check server again before it is deployed, and while it
 * waits every audit_interval: a server that answers without them, or with
 * the RRset at a larger TTL than the wait was counted from, sends the
 * cycle back to phase generated, to publish and confirm them again, the
 * wait then starting afresh from their return and the new TTL.  A server
 * that does not answer at all proves nothing either way: the deploy waits
 * and asks again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "roll_int.h"
#include "status.h"

/* When the watch asks again while a deploy waits for a server to answer. */
#define WATCH_RETRY_SEC 5

int roll_stage_begin(pf_roll *r, int64_t in_service, pf_err *e)
{
	pf_state_begin(&r->st, roll_now(r));
	r->st.staging = true;
	r->st.t[PF_T_IN_SERVICE] = in_service;
	pf_journal_state_event(&r->st, roll_now(r), PF_EV_STAGING_STARTED, NULL,
			       "staging a next key for %zu key algorithm%s (rollover_scheme = "
			       "prepublish)",
			       r->cfg->n_algs, r->cfg->n_algs == 1 ? "" : "s");
	roll_progress(r, "staging the next key");
	return roll_save(r, e);
}

/* Seconds the keys in service have been live: from t_in_service when the
 * cycle knows it, else from the deployed key files' age. */
static int64_t in_service_age(pf_roll *r)
{
	if (r->st.t[PF_T_IN_SERVICE])
		return roll_now(r) - r->st.t[PF_T_IN_SERVICE];
	return roll_deployed_key_age(r);
}

bool roll_emergency(pf_roll *r, char *buf, size_t len)
{
	pf_timing t;

	pf_timing_compute(&r->st, &r->tparams, &t);
	return pf_status_emergency(&r->st, &t, roll_now(r), buf, len);
}

int roll_request(pf_roll *r, const char *why, pf_err *e)
{
	char line[300], when[40], left[32];
	pf_timing t;

	if (!pf_state_request(&r->st, roll_now(r)))
		return 0;
	pf_timing_compute(&r->st, &r->tparams, &t);
	if (r->st.phase != PF_PHASE_STAGED || !t.deploy_known)
		snprintf(line, sizeof(line),
			 "the next key is still being staged (phase %s): it is deployed once "
			 "its records are served everywhere and their wait has passed",
			 pf_phase_name(r->st.phase));
	else if (roll_now_ms(r) >= t.deploy_at_ms)
		snprintf(line, sizeof(line), "the staged key is deployed at once");
	else
		snprintf(line, sizeof(line),
			 "the staged key is deployed at %s (in %s), when its wait ends",
			 pf_timing_fmt_time(t.deploy_at, when, sizeof(when)),
			 pf_fmt_duration(t.deploy_at - roll_now(r), left, sizeof(left)));
	pf_journal_state_event(&r->st, roll_now(r), PF_EV_ROLLOVER_REQUESTED, NULL, "%s: %s", why,
			       line);
	roll_progress(r, "%s: %s", why, line);
	return roll_save(r, e);
}

/*
 * Ask every check server for the staged key's records.  *ret_ready: every
 * server serves every record, at no larger TTL than the wait was counted
 * from.  *ret_changed (with why): a server answered without them, or the
 * TTL grew - the wait must start again.  Neither: some server did not
 * answer; ask again later.  Returns 0 or -errno.
 */
static int watch(pf_roll *r, bool *ret_ready, bool *ret_changed, char *why, size_t wlen, pf_err *e)
{
	size_t *idx = pf_calloc(r->st.n_records + 1, sizeof(size_t)), n;
	pf_strv missing = {0};
	bool done = false;
	pf_timing t;
	int rc;

	*ret_ready = *ret_changed = false;
	pf_timing_compute(&r->st, &r->tparams, &t);
	n = roll_select_records(&r->st, PF_ROLE_NEXT, idx);
	rc = roll_propagation_round(r, idx, n, true, &done, &missing, e);
	free(idx);
	if (rc == 0) {
		if (t.ttl_known && r->round_max_ttl > t.ttl_eff) {
			*ret_changed = true;
			snprintf(why, wlen,
				 "a check server serves the RRset with TTL %u, above the %u the "
				 "wait was counted from",
				 r->round_max_ttl, t.ttl_eff);
		} else if (done) {
			*ret_ready = true;
		} else if (r->round_unanswered == 0) {
			*ret_changed = true;
			snprintf(why, wlen, "not served by %.200s",
				 missing.n ? missing.v[0] : "a check server");
		} else {
			snprintf(why, wlen, "no answer from %.200s",
				 missing.n ? missing.v[0] : "a check server");
		}
	}
	pf_strv_clear(&missing);
	return rc;
}

/* Back to phase generated: publish the staged key's records again and
 * count its wait afresh. */
static int restage(pf_roll *r, const char *why, pf_err *e)
{
	int rc;

	pf_journal_state_event(&r->st, roll_now(r), PF_EV_STAGED_CHANGED, NULL,
			       "the staged key's records changed (%s): publishing them again; "
			       "its wait starts again once every check server serves them",
			       why);
	roll_progress(r, "staged key's records changed: %s", why);
	pf_state_clear_publication(&r->st);
	r->poll_ms = 0;
	if ((rc = roll_save(r, e)) < 0)
		return rc;
	roll_phase_fault_point(PF_PHASE_GENERATED);
	return 0;
}

int roll_step_staged(pf_roll *r, bool auto_start, int64_t *wakeup, pf_err *e)
{
	int64_t now = roll_now(r), now_ms = roll_now_ms(r), at = 0; /* at: epoch ms */
	bool ready = false, changed = false;
	char why[300] = "";
	pf_timing t;
	int rc;

	if ((rc = roll_check_hand_deploy(r, e)) < 0 || r->st.phase != PF_PHASE_STAGED)
		return rc;
	if (r->st.staging) {
		/* Held: deploy when asked, or when rollover_interval says so. */
		if (auto_start && r->cfg->rollover_interval > 0) {
			int64_t age = in_service_age(r);

			if (age >= r->cfg->rollover_interval)
				return roll_request(r, "rollover_interval reached", e);
			if (age >= 0)
				at = (now + (r->cfg->rollover_interval - age)) * 1000;
		}
		if (!r->watch_at)
			r->watch_at = now; /* a restart: look once at what DNS serves */
		if (r->cfg->audit_interval > 0 && now >= r->watch_at) {
			if ((rc = watch(r, &ready, &changed, why, sizeof(why), e)) < 0)
				return rc;
			if (changed)
				return restage(r, why, e);
			r->watch_at = now + (ready ? r->cfg->audit_interval : WATCH_RETRY_SEC);
		}
		if (r->cfg->audit_interval > 0 && (!at || r->watch_at * 1000 < at))
			at = r->watch_at * 1000;
		/* Wake when the staged key's wait ends, so that STATUS= says
		 * "would deploy at once" then, not at the next watch: at the
		 * whole second it shows (deploy_at, rounded up), which is when
		 * pf_status_emergency says so. */
		pf_timing_compute(&r->st, &r->tparams, &t);
		if (t.deploy_known && t.deploy_at > now && (!at || t.deploy_at * 1000 < at))
			at = t.deploy_at * 1000;
		/* 0 stays 0: nothing to wait for but a request. */
		*wakeup = at;
		return 0;
	}
	/* Requested: what DNS serves now decides, not what it served when the
	 * key was staged. */
	if ((rc = watch(r, &ready, &changed, why, sizeof(why), e)) < 0)
		return rc;
	if (changed)
		return restage(r, why, e);
	if (!ready) {
		roll_progress(r, "staged: the deploy waits: %s", why);
		*wakeup = now_ms + WATCH_RETRY_SEC * 1000;
		return 0;
	}
	pf_timing_compute(&r->st, &r->tparams, &t);
	if (pf_timing_may_deploy(&r->st, &t, now_ms, e) < 0) {
		pf_err_clear(e);
		*wakeup = t.deploy_known ? t.deploy_at_ms : now_ms + WAIT_UNKNOWN_SEC * 1000;
		return 0;
	}
	return roll_enter(r, PF_PHASE_DEPLOYABLE, PF_T_DEPLOYABLE, now_ms, e,
			  "the staged key's records are served everywhere and its wait has "
			  "passed");
}
