/*
 * roll_retire.c - every withdrawal of the engine's records, each through
 * withdraw_guard first (SPEC.md 5 rule 2): verified -> retired -> idle
 * (the old records deleted, then confirmed gone everywhere), the manual
 * retire, and cancel (the next keys' records and files, refused while a
 * next key is in use).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"
#include "roll_int.h"

/* What the operator can do when cancel meets a deployed next key. */
static void cancel_hint(const pf_guard_record *hit, void *arg, char *buf, size_t len)
{
	const pf_state_key *k = &((pf_roll *)arg)->st.keys[hit->alg];

	if (pf_state_key_has_old(k))
		snprintf(buf, len,
			 "the new %s key is deployed: let the rollover finish (the daemon or "
			 "\"pftls-roll now\" carries it on), or put the old key back with "
			 "\"pftls-roll deploy-server-cert %s %s\" and \"postfix reload\", then "
			 "cancel",
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
	if ((rc = roll_open_postfix(r, e)) < 0)
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
	roll_endpoints(r, &eps);
	pf_guard_req q = {.pf = &r->pf,
			  .endpoints = &eps,
			  .st = &r->st,
			  .action = action,
			  .hint = hint,
			  .hint_arg = r};
	rc = r->ops->guard(r->ops_data, &q, gr, n, e);
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
	return roll_apply_changes(r, idx, n, DNS_OP_DELETE, res, e);
}

/* Back to idle after a rollover ended; its events stay for "status", and
 * so does t_in_service (prepublish: when the keys in service went live,
 * for rollover_interval). */
static void reset_idle(pf_state *st)
{
	pf_state next;

	pf_state_init(&next);
	memcpy(next.events, st->events, sizeof(next.events));
	next.n_events = st->n_events;
	next.rollovers_completed = st->rollovers_completed;
	next.rollovers_failed = st->rollovers_failed;
	next.t[PF_T_IN_SERVICE] = st->t[PF_T_IN_SERVICE];
	pf_state_free(st);
	*st = next;
}

/* retired -> idle: the rollover is over; the events stay for status.
 * Also what a restart after a kill in phase retired does.  Returns 0 or
 * -errno. */
int roll_finish(pf_roll *r, pf_err *e)
{
	int64_t live = r->st.t[PF_T_RELOAD];
	int rc;

	pf_journal_state_event(&r->st, roll_now(r), PF_EV_ROLLOVER_COMPLETED, NULL,
			       "rollover complete");
	r->st.rollovers_completed++;
	reset_idle(&r->st);
	roll_progress(r, "idle: rollover complete");
	/* prepublish: the following key's staging begins in the same save,
	 * so no restart can find idle and lose when these keys went live. */
	if (r->cfg->rollover_scheme == PF_SCHEME_PREPUBLISH)
		rc = roll_stage_begin(r, live, e);
	else
		rc = roll_save(r, e);
	if (rc == 0)
		roll_phase_fault_point(PF_PHASE_IDLE);
	return rc;
}

/*
 * verified -> retired -> idle: withdraw the old records, confirm.  The
 * first call sends the delete (after the guard); the polls in the fast
 * window after it (pf_poll_fast) only ask whether the records are gone;
 * each slower one runs the guard and sends the delete again (harmless when
 * done) before asking, as a restarted process does on its first call.
 */
int roll_step_retire(pf_roll *r, int64_t *wakeup, pf_err *e)
{
	size_t *idx = pf_calloc(r->st.n_records + 1, sizeof(size_t)), n;
	pf_strv missing = {0};
	dns_update_result res;
	bool done = false, sent = strcmp(r->retire_of, r->st.rollover) == 0 && r->retire_sent_ms;
	int64_t since_ms = sent ? roll_now_ms(r) - r->retire_sent_ms : 0;
	int rc = 0;

	n = roll_select_records(&r->st, PF_ROLE_OLD, idx);
	/* A refusal (an old key deployed again by hand) comes back as -EPERM:
	 * roll_run stops the rollover in phase failed with the reason, once;
	 * a manual retire leaves the state as it was. */
	if (!sent || !pf_poll_fast(since_ms))
		rc = withdraw(r, idx, n, "retire", retire_hint, &res, e);
	if (rc == 0 && !sent) {
		/* The fast polls count from the first delete's NOERROR. */
		r->retire_sent_ms = res.t_pub ? res.t_pub : roll_now_ms(r);
		snprintf(r->retire_of, sizeof(r->retire_of), "%s", r->st.rollover);
	}
	if (rc == 0)
		rc = roll_propagation_round(r, idx, n, false, &done, &missing, e);
	free(idx);
	if (rc < 0 && !roll_transient(rc))
		goto out;
	if (rc == 0 && done) {
		if ((rc = roll_enter(r, PF_PHASE_RETIRED, PF_T_RETIRED, roll_now_ms(r), e,
				     "%zu old record%s withdrawn and gone from every check server",
				     n, n == 1 ? "" : "s")) < 0)
			goto out;
		rc = roll_finish(r, e);
		goto out;
	}
	since_ms = roll_now_ms(r) - r->retire_sent_ms;
	if (r->poll_ms == 0 || !pf_poll_fast(since_ms))
		roll_progress(r, "retire: %zu server%s still serve old records", missing.n,
			      missing.n == 1 ? "" : "s");
	pf_err_clear(e);
	rc = 0;
	r->poll_ms = pf_poll_next_ms(since_ms, r->poll_ms);
	*wakeup = roll_now_ms(r) + r->poll_ms;
out:
	pf_strv_clear(&missing);
	return rc;
}

int roll_retire(pf_roll *r, int max_wait, pf_err *e)
{
	int64_t deadline = roll_now_ms(r) + (int64_t)max_wait * 1000;
	int rc;

	for (;;) {
		int64_t wakeup = 0;
		pf_timing t;

		if ((rc = roll_begin(r, e)) < 0)
			return rc;
		pf_timing_compute(&r->st, &r->tparams, &t);
		if (r->st.phase != PF_PHASE_VERIFIED)
			rc = pf_err_refuse(e,
					   "no old records to retire: the rollover is in phase %s",
					   pf_phase_name(r->st.phase));
		else if ((rc = pf_timing_may_retire(&r->st, &t, roll_now_ms(r), e)) == 0)
			rc = roll_step_retire(r, &wakeup, e);
		roll_end(r);
		if (rc < 0 || wakeup == 0)
			return rc;
		if (roll_now_ms(r) >= deadline)
			return pf_err_set(
				e, ETIMEDOUT,
				"old records withdrawn, but not yet gone from every check "
				"server; the rollover confirms it later");
		/* The engine's own poll schedule (pf_poll_next_ms). */
		if (wakeup > roll_now_ms(r))
			roll_sleep_ms(r, (unsigned)(wakeup - roll_now_ms(r)));
	}
}

int roll_cancel(pf_roll *r, pf_err *e)
{
	enum pf_phase p;
	size_t *idx, n;
	dns_update_result res;
	int rc;

	if ((rc = roll_begin(r, e)) < 0)
		return rc;
	p = r->st.phase == PF_PHASE_FAILED ? r->st.failed_from : r->st.phase;
	if (r->st.phase == PF_PHASE_IDLE && !r->st.rollover[0]) {
		roll_end(r);
		return pf_err_refuse(e, "no rollover in progress");
	}
	/* Not the saved phase decides but what is deployed now: before the
	 * deploy an operator may have deployed the next keys by hand (then
	 * cancel is refused), after it rolled back by hand (then the next
	 * keys' records and files may go; the old ones stay).  The guard asks
	 * even when nothing was published, since the key files go too. */
	idx = pf_calloc(r->st.n_records + 1, sizeof(size_t));
	n = roll_select_records(&r->st, PF_ROLE_NEXT, idx);
	rc = guard(r, idx, n, "cancel and withdraw", cancel_hint, e);
	if (rc == 0 && p >= PF_PHASE_GENERATED && (r->st.t[PF_T_PUB] || r->st.n_rrsets))
		rc = roll_apply_changes(r, idx, n, DNS_OP_DELETE, &res, e);
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
		pf_journal_state_event(
			&r->st, roll_now(r), PF_EV_CANCELLED, NULL,
			"rollover cancelled: new records withdrawn, new keys removed");
		reset_idle(&r->st);
		rc = roll_save(r, e);
	}
	roll_end(r);
	return rc;
}
