/*
 * rollover.c - the rollover engine's core: the roll object (open, free,
 * settings), the rollover lock, loading and saving the state, entering a
 * phase or failing, and the phase loop (roll_run) that calls the steps of
 * SPEC.md 4, each in its own file (roll_int.h lists them), over the
 * persisted state (state.h) and the waits of timing.h.
 */
#include "rollover.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal.h"
#include "roll_int.h"
#include "status.h"

int64_t roll_now_ms(const pf_roll *r)
{
	return r->ops->now_ms(r->ops_data);
}

int64_t roll_now(const pf_roll *r)
{
	return roll_now_ms(r) / 1000;
}

int64_t roll_now_ms_up(const pf_roll *r)
{
	/* roll_now_ms truncates; a wait that starts "now" starts at the next
	 * ms, so rounding can only lengthen it (timing.h). */
	return roll_now_ms(r) + 1;
}

uint64_t roll_mono_usec(const pf_roll *r)
{
	return r->ops->mono_usec(r->ops_data);
}

void roll_sleep_ms(const pf_roll *r, unsigned ms)
{
	r->ops->sleep_ms(r->ops_data, ms);
}

void roll_progress(pf_roll *r, const char *fmt, ...)
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

bool roll_settled(pf_roll *r)
{
	const pf_state *st = &r->st;

	return (st->phase == PF_PHASE_IDLE && !st->rollover[0]) || st->phase == PF_PHASE_FAILED ||
	       (st->phase == PF_PHASE_STAGED && st->staging);
}

bool roll_was_cancelled(pf_roll *r)
{
	const char *cancelled = pf_event_kind_get(PF_EV_CANCELLED)->name;
	const char *completed = pf_event_kind_get(PF_EV_ROLLOVER_COMPLETED)->name;
	const pf_state *st = &r->st;

	/* Settled, and the last rollover ended in a cancel rather than a
	 * completion (with prepublish a staging cycle may have begun since). */
	if (st->phase == PF_PHASE_FAILED ||
	    (!roll_settled(r) && !(st->phase == PF_PHASE_IDLE && st->staging)))
		return false;
	for (size_t i = st->n_events; i-- > 0;) {
		if (strcmp(st->events[i].kind, cancelled) == 0)
			return true;
		if (strcmp(st->events[i].kind, completed) == 0)
			return false;
	}
	return false;
}

int roll_load_state(pf_roll *r, pf_err *e)
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
	r->poll_ms = 0;
	r->ops = &roll_real_ops;
	r->ops_data = r;
	if ((rc = pf_state_dir_create(cfg->state_directory, e)) < 0 ||
	    (rc = roll_load_state(r, e)) < 0) {
		roll_free(r);
		return rc;
	}
	*ret = r;
	return 0;
}

void roll_set_net(pf_roll *r, pf_net *net)
{
	r->net = net;
}

void roll_set_ops(pf_roll *r, const pf_roll_ops *ops, void *userdata)
{
	r->ops = ops ? ops : &roll_real_ops;
	r->ops_data = ops ? userdata : r;
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
	roll_prepared_clear(&r->prep);
	pf_state_free(&r->st);
	free(r->state_path);
	free(r);
	return NULL;
}

/* Take the lock and re-read the state: another process may have moved the
 * rollover on since we last looked.  Returns 0 or -errno. */
int roll_begin(pf_roll *r, pf_err *e)
{
	int rc;

	/* A step of another process (the daemon's propagation round, say)
	 * holds the lock for seconds; wait for it, bounded. */
	for (uint64_t until = roll_mono_usec(r) + (uint64_t)r->lock_wait * 1000000u;;) {
		rc = pf_lock_acquire(r->cfg->state_directory, &r->lock, e);
		if (rc != -EBUSY || roll_mono_usec(r) >= until)
			break;
		pf_err_clear(e);
		roll_sleep_ms(r, 200);
	}
	if (rc < 0)
		return rc;
	r->locked = true;
	if ((rc = roll_load_state(r, e)) < 0) {
		pf_lock_release(&r->lock);
		r->locked = false;
	}
	return rc;
}

void roll_end(pf_roll *r)
{
	if (r->locked)
		pf_lock_release(&r->lock);
	r->locked = false;
}

int roll_save(pf_roll *r, pf_err *e)
{
	return r->ops->save(r->ops_data, r->state_path, &r->st, e);
}

int roll_open_postfix(pf_roll *r, pf_err *e)
{
	int rc;

	if (r->pf_open)
		return 0;
	rc = r->ops->postfix_open(r->ops_data, e);
	r->pf_open = rc == 0;
	return rc;
}

/* The crash sweep's "phase:NAME" fault point (util.h), hit once phase p
 * is durably recorded. */
void roll_phase_fault_point(enum pf_phase p)
{
	char name[40];

	snprintf(name, sizeof(name), "phase:%s", pf_phase_name(p));
	pf_fault_point(name);
}

/* Enter phase p, stamp at now_ms, log its event and save.  Returns
 * 0/-errno. */
int roll_enter(pf_roll *r, enum pf_phase p, enum pf_stamp stamp, int64_t now_ms, pf_err *e,
	       const char *fmt, ...)
{
	char msg[PF_STATE_MAX_TEXT];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->st.phase = p;
	if (stamp < PF_T_COUNT && pf_stamp_in_ms(stamp))
		pf_state_set_stamp_ms(&r->st, stamp, now_ms);
	else if (stamp < PF_T_COUNT)
		r->st.t[stamp] = now_ms / 1000;
	/* The stamp may be rounded up (timing.h); the event is when it happened. */
	pf_journal_state_event(&r->st, roll_now(r), pf_event_for_phase(p), NULL, "%s", msg);
	roll_progress(r, "%s: %s", pf_phase_name(p), msg);
	if ((rc = roll_save(r, e)) < 0)
		return rc;
	roll_phase_fault_point(p);
	if (r->phase_hook)
		r->phase_hook(r->phase_hook_data);
	return 0;
}

/* Stop in phase failed with reason; the state says where it failed. */
int roll_fail(pf_roll *r, const char *reason)
{
	pf_err e2 = {0};
	int64_t now = roll_now(r);

	pf_state_fail(&r->st, now, reason);
	r->st.rollovers_failed++;
	pf_journal_state_event(&r->st, now, PF_EV_ROLLOVER_FAILED, NULL, "%s", reason);
	roll_progress(r, "failed: %s", reason);
	if (roll_save(r, &e2) < 0)
		roll_progress(r, "cannot save the state: %s", e2.msg);
	return 0;
}

/* True for failures worth retrying later rather than stopping for. */
bool roll_transient(int rc)
{
	return rc == -ETIMEDOUT || rc == -EAGAIN || rc == -ECONNREFUSED || rc == -EHOSTUNREACH ||
	       rc == -ENETUNREACH || rc == -ECONNRESET || rc == -EBUSY;
}

/* Age of the oldest deployed key of the configured algorithms, seconds,
 * by its file; -1 when none is deployed. */
int64_t roll_deployed_key_age(pf_roll *r)
{
	pf_tls_files dep = {0};
	pf_err e = {0};
	int64_t age = -1;
	struct stat st;

	if (roll_open_postfix(r, &e) < 0 || r->ops->deployed(r->ops_data, "smtpd", &dep, &e) < 0)
		return -1;
	for (size_t i = 0; i < r->cfg->n_algs; i++) {
		const char *k = dep.key_file[r->cfg->algs[i]];

		if (!k || stat(k, &st) < 0) {
			age = INT64_MAX; /* an algorithm without a key: roll now */
			break;
		}
		int64_t a = roll_now(r) - st.st_mtime;
		age = age < 0 || a > age ? a : age;
	}
	pf_tls_files_free(&dep);
	return age;
}

/* Resume a failed rollover, or make the next keys; with request (a "now"),
 * also ask a staging cycle for its rollover. */
static int start(pf_roll *r, bool request, pf_err *e)
{
	int rc;

	if ((rc = roll_begin(r, e)) < 0)
		return rc;
	if (r->st.phase == PF_PHASE_FAILED) {
		enum pf_phase from = r->st.failed_from;

		/* Asked to roll: a staging cycle that failed goes on to deploy. */
		if (request && pf_state_request(&r->st, roll_now(r)))
			pf_journal_state_event(&r->st, roll_now(r), PF_EV_ROLLOVER_REQUESTED, NULL,
					       "rollover requested while staging had failed in "
					       "phase %s: resuming it",
					       pf_phase_name(from));

		free(r->st.failed_reason);
		r->st.failed_reason = NULL;
		r->st.phase = from;
		r->st.t[PF_T_FAILED] = 0;
		r->retry_delay = 0;
		rc = roll_enter(r, from, PF_T_COUNT, roll_now_ms(r), e, "resuming after a failure");
	} else if (r->st.staging && request) {
		/* The staged key (or the one being staged) is the next one. */
		rc = roll_request(r, "pftls-roll now", e);
		if (rc == 0 && r->st.phase == PF_PHASE_IDLE)
			rc = roll_step_generate(r, e);
	} else if (r->st.phase == PF_PHASE_IDLE) {
		rc = roll_step_generate(r, e);
		if (rc < 0 && r->st.phase == PF_PHASE_IDLE && r->st.rollover[0]) {
			/* Nothing was deployed or published: note why and stay idle. */
			pf_err e2 = {0};
			char why[PF_STATE_MAX_TEXT];

			snprintf(why, sizeof(why), "key generation failed: %.300s", e->msg);
			pf_journal_state_event(&r->st, roll_now(r), PF_EV_ROLLOVER_FAILED, NULL,
					       "%s", why);
			r->st.rollovers_failed++;
			roll_save(r, &e2);
		}
	}
	roll_end(r);
	return rc;
}

int roll_start(pf_roll *r, pf_err *e)
{
	return start(r, true, e);
}

/* From a step holding the lock: release it, start (which takes it itself)
 * without a request, and hold it again with the state re-read.  Returns
 * 0/-errno. */
static int start_locked(pf_roll *r, pf_err *e)
{
	int rc;

	roll_end(r);
	if ((rc = start(r, false, e)) < 0)
		return rc;
	return roll_begin(r, e);
}

int roll_run(pf_roll *r, bool auto_start, int64_t *ret_wakeup, pf_err *e)
{
	int64_t wakeup = 0;
	int rc;

	bool generated = false;

	if ((rc = roll_begin(r, e)) < 0)
		return rc;
	for (int guard = 0; guard < 24 && rc == 0 && wakeup == 0; guard++) {
		enum pf_phase before = r->st.phase;
		pf_timing t;

		pf_timing_compute(&r->st, &r->tparams, &t);
		switch (r->st.phase) {
		case PF_PHASE_IDLE:
			if (r->st.rollover[0] && !generated) {
				/* Killed while generating the keys, or a staging
				 * cycle begun: (finish) making them, once a run. */
				generated = true;
				if ((rc = start_locked(r, e)) < 0)
					return rc;
				continue;
			}
			if (auto_start && !r->st.rollover[0] &&
			    r->cfg->rollover_scheme == PF_SCHEME_PREPUBLISH) {
				/* No next key (a first start, an upgrade from
				 * on-demand, a cancel): stage one; deploy nothing. */
				if ((rc = roll_stage_begin(r, r->st.t[PF_T_IN_SERVICE], e)) < 0)
					break;
				continue;
			}
			if (auto_start && r->cfg->rollover_interval > 0) {
				int64_t age = roll_deployed_key_age(r);

				if (age >= r->cfg->rollover_interval) {
					if ((rc = start_locked(r, e)) < 0)
						return rc;
					continue;
				}
				if (age >= 0)
					wakeup = (roll_now(r) + (r->cfg->rollover_interval - age)) *
						 1000;
			}
			if (auto_start)
				roll_cert_idle(r, &wakeup);
			goto done;
		case PF_PHASE_GENERATED:
			rc = roll_step_publish(r, e);
			break;
		case PF_PHASE_PUBLISHED:
			rc = roll_step_propagation(r, &wakeup, e);
			break;
		case PF_PHASE_PROPAGATED:
			if ((rc = roll_check_hand_deploy(r, e)) < 0 || r->st.phase != before)
				break;
			if (r->st.staging) {
				char line[300];

				pf_timing_compute(&r->st, &r->tparams, &t);
				r->st.t[PF_T_STAGED] = r->st.t[PF_T_CONF];
				r->watch_at = roll_now(r) + r->cfg->audit_interval;
				/* The line as status shows it once staged (not "being
				 * staged (phase propagated)"). */
				r->st.phase = PF_PHASE_STAGED;
				pf_status_emergency(&r->st, &t, roll_now(r), line, sizeof(line));
				r->st.phase = PF_PHASE_PROPAGATED;
				rc = roll_enter(r, PF_PHASE_STAGED, PF_T_COUNT, roll_now_ms(r), e,
						"next key staged: %s", line);
				break;
			}
			if (pf_timing_may_deploy(&r->st, &t, roll_now_ms(r), e) < 0) {
				pf_err_clear(e);
				wakeup = t.deploy_known ? t.deploy_at_ms
							: roll_now_ms(r) + WAIT_UNKNOWN_SEC * 1000;
				break;
			}
			rc = roll_enter(r, PF_PHASE_DEPLOYABLE, PF_T_DEPLOYABLE, roll_now_ms(r), e,
					"the safety time has passed");
			break;
		case PF_PHASE_STAGED:
			rc = roll_step_staged(r, auto_start, &wakeup, e);
			if (rc == 0 && r->st.phase == PF_PHASE_STAGED && r->st.staging) {
				/* Held until a request: where prepublish spends the
				 * year, so the certificates in service renew here. */
				if (auto_start)
					roll_cert_idle(r, &wakeup);
				if (wakeup == 0)
					goto done;
			}
			break;
		case PF_PHASE_DEPLOYABLE:
			rc = roll_step_deploy(r, e);
			break;
		case PF_PHASE_DEPLOYED:
			rc = roll_step_verify(r, e);
			break;
		case PF_PHASE_VERIFIED:
			if (pf_state_stamp_ms(&r->st, PF_T_VERIFIED) <
			    pf_state_stamp_ms(&r->st, PF_T_RELOAD)) {
				/* A verification older than the reload proves nothing
				 * about what is live now: verify again. */
				rc = roll_step_verify(r, e);
				break;
			}
			if (pf_timing_may_retire(&r->st, &t, roll_now_ms(r), e) < 0) {
				pf_err_clear(e);
				wakeup = t.retire_known ? t.retire_at_ms
							: roll_now_ms(r) + WAIT_UNKNOWN_SEC * 1000;
				break;
			}
			rc = roll_step_retire(r, &wakeup, e);
			break;
		case PF_PHASE_RETIRED:
			rc = roll_finish(r, e);
			if (rc == 0 && r->st.rollover[0])
				break; /* prepublish: the following key is staged */
			goto done;
		case PF_PHASE_FAILED:
			/* Stopped before anything was deployed, it may wait long
			 * for the operator: the certificates in service still
			 * renew.  After a deploy began, main.cf is the rollover's. */
			if (auto_start && r->st.failed_from <= PF_PHASE_STAGED)
				roll_cert_idle(r, &wakeup);
			goto done;
		default:
			goto done;
		}
		if (rc < 0 && roll_transient(rc)) {
			/* DNS or a server is unreachable: try again later, the
			 * phase unchanged.  Logged as a server error. */
			pf_journal_state_event(&r->st, roll_now(r), PF_EV_SERVER_ERROR, NULL,
					       "will retry: %s", e->msg);
			roll_progress(r, "retrying later: %s", e->msg);
			r->retry_delay = r->retry_delay ? r->retry_delay * 2 : RETRY_MIN_SEC;
			if (r->retry_delay > RETRY_MAX_SEC)
				r->retry_delay = RETRY_MAX_SEC;
			wakeup = roll_now_ms(r) + (int64_t)r->retry_delay * 1000;
			pf_err_clear(e);
			rc = roll_save(r, e);
		} else if (rc < 0 && r->st.phase == before && before != PF_PHASE_IDLE) {
			/* A permanent failure: stop where we are, say why. */
			char why[PF_STATE_MAX_TEXT];

			snprintf(why, sizeof(why), "%.380s", e->msg);
			pf_err_clear(e);
			rc = roll_fail(r, why);
		} else if (rc == 0) {
			r->retry_delay = 0;
		}
	}
done:
	roll_prepare_deploy(r, auto_start, &wakeup); /* while it waits: roll_deploy.c */
	roll_end(r);
	*ret_wakeup = wakeup;
	return rc;
}

int roll_key_files(pf_roll *r, bool next, pf_strv *ret, pf_err *e)
{
	int rc;

	if ((rc = roll_load_state(r, e)) < 0)
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

int roll_refresh(pf_roll *r, pf_err *e)
{
	return roll_load_state(r, e);
}
