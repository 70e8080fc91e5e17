/*
 * roll_deploy.c - propagated -> deployable -> deployed: what main.cf
 * deploys now compared with the rollover's keys (a deploy by hand is
 * carried on, a foreign key holds the rollover), the main.cf snapshot
 * saved before the change, the one postconf -e, the check, the reload, and
 * the rollback to the snapshot when a deploy or a verification fails; the
 * manual deploy (and --force-now) and reload.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "keystore.h"
#include "roll_int.h"

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
int roll_rollback(pf_roll *r, const char *why, pf_err *e)
{
	pf_snapshot s;
	int rc;

	snapshot_of_state(&r->st, &s);
	rc = r->ops->restore(r->ops_data, &s, e);
	pf_snapshot_free(&s);
	if (rc == 0)
		rc = r->ops->reload(r->ops_data, e);
	if (rc == 0) {
		pf_journal_state_event(&r->st, roll_now(r), PF_EV_ROLLBACK_DONE, NULL,
				       "previous main.cf settings restored and Postfix reloaded "
				       "after: %s",
				       why);
		roll_progress(r, "rolled back: %s", why);
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
int roll_maincf_keys(pf_roll *r, bool *ret_all_next, bool *ret_changed, char *foreign, size_t flen,
		     pf_err *e)
{
	static const char *const prefixes[] = {"smtpd", "tlsproxy"};
	bool all_next = true, any = false;
	pf_snapshot cur = {0};
	int rc;

	foreign[0] = '\0';
	if ((rc = roll_open_postfix(r, e)) < 0)
		return rc;
	for (int p = 0; p < 2; p++) {
		pf_tls_files dep = {0};

		if ((rc = r->ops->deployed(r->ops_data, prefixes[p], &dep, e)) < 0)
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
	if ((rc = r->ops->snapshot(r->ops_data, postfix_tls_server_params, &cur, e)) < 0)
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

	rc = r->ops->snapshot(r->ops_data, postfix_tls_server_params, &s, e);
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
int roll_check_hand_deploy(pf_roll *r, pf_err *e)
{
	char foreign[400], why[PF_STATE_MAX_TEXT];
	bool all_next, changed;
	pf_timing t;
	int rc;

	if ((rc = roll_maincf_keys(r, &all_next, &changed, foreign, sizeof(foreign), e)) < 0)
		return rc;
	if (foreign[0]) {
		snprintf(why, sizeof(why),
			 "held: main.cf deploys %.200s, neither the old nor the new one, and the "
			 "rollover does not deploy over it; deploy the new keys by hand or put the "
			 "old ones back, then \"pftls-roll now\"; or \"pftls-roll cancel\"",
			 foreign);
		return roll_fail(r, why);
	}
	/* With a snapshot saved, this rollover's own deploy has begun (a kill
	 * may have come between main.cf and the reload): step_deploy finishes
	 * it, reload included.  Only before that is a deployed next key the
	 * operator's doing. */
	if (!all_next || r->st.n_maincf > 0)
		return 0;
	pf_timing_compute(&r->st, &r->tparams, &t);
	pf_journal_state_event(&r->st, roll_now(r), PF_EV_MANUAL_DEPLOY, NULL,
			       "the next keys were deployed by hand%s: carrying on, verifying them "
			       "and withdrawing the old keys' records after retire_delay",
			       pf_timing_may_deploy(&r->st, &t, roll_now_ms(r), NULL) < 0
				       ? ", before the safety time"
				       : "");
	/* A staged key deployed by hand is a rollover asked for. */
	pf_state_request(&r->st, roll_now(r));
	if ((rc = snapshot_now(r, e)) < 0)
		return rc;
	if (!r->st.t[PF_T_DEPLOYED])
		pf_state_set_stamp_ms(&r->st, PF_T_DEPLOYED, roll_now_ms(r));
	return roll_enter(
		r, PF_PHASE_DEPLOYED, PF_T_RELOAD, roll_now_ms_up(r), e,
		"the next keys are in main.cf, deployed by hand; their reload is taken as now");
}

/* deployable -> deployed: snapshot, change main.cf, check, reload. */
int roll_step_deploy(pf_roll *r, pf_err *e)
{
	roll_cert_files ca = {0};
	pf_strv settings = {0};
	char why[600];
	bool full_check;
	int rc;

	if ((rc = roll_open_postfix(r, e)) < 0)
		return rc;
	if ((rc = roll_check_hand_deploy(r, e)) < 0 || r->st.phase != PF_PHASE_DEPLOYABLE)
		return rc;
	/* Before main.cf changes: can "postfix check" and the reload run in
	 * this process, or must reload_unit stand in (reload.h)? */
	if ((rc = r->ops->reload_preflight(r->ops_data, &full_check, e)) < 0)
		return rc;
	/* CA-issued certificates (certificate_command): obtained now, before
	 * main.cf changes; a failure deploys nothing (roll_cert.c). */
	if ((rc = roll_cert_obtain_next(r, &ca, e)) < 0)
		return rc;
	if (r->st.n_maincf == 0) {
		pf_snapshot s = {0};

		rc = r->ops->snapshot(r->ops_data, postfix_tls_server_params, &s, e);
		for (size_t i = 0; rc == 0 && i < s.names.n; i++)
			rc = pf_state_add_setting(&r->st, s.names.v[i], s.values[i], e);
		pf_snapshot_free(&s);
		if (rc == 0)
			rc = roll_save(r, e);
		if (rc < 0) {
			roll_cert_files_free(&ca);
			return rc;
		}
	}
	for (int a = 0; rc == 0 && a < PF_ALG_COUNT; a++) {
		const pf_state_key *k = &r->st.keys[a];

		if (k->present && pf_state_key_has_next(k))
			rc = r->ops->deploy_settings(
				r->ops_data, (enum pf_alg)a, ca.key[a] ? ca.key[a] : k->next_key,
				ca.cert[a] ? ca.cert[a] : k->next_cert, &settings, e);
	}
	roll_cert_files_free(&ca);
	if (rc == 0)
		rc = r->ops->set(r->ops_data, &settings, e);
	/* t_deployed is when main.cf changed; "postfix check" after it can
	 * take seconds while main.cf is "hot" (TEST-SERVERS.md). */
	if (rc == 0)
		pf_state_set_stamp_ms(&r->st, PF_T_DEPLOYED, roll_now_ms(r));
	if (rc == 0)
		rc = r->ops->check(r->ops_data, full_check, &settings, e);
	if (rc == 0)
		rc = r->ops->reload(r->ops_data, e);
	pf_strv_clear(&settings);
	if (rc < 0) {
		pf_err e2 = {0};

		snprintf(why, sizeof(why), "deploy failed: %.300s", e->msg);
		if (roll_rollback(r, why, &e2) < 0)
			snprintf(why + strlen(why), sizeof(why) - strlen(why),
				 "; ROLLBACK FAILED TOO: %.200s", e2.msg);
		pf_err_clear(e);
		return roll_fail(r, why);
	}
	pf_journal_state_event(&r->st, roll_now(r), PF_EV_RELOADED, NULL, "Postfix reloaded");
	return roll_enter(r, PF_PHASE_DEPLOYED, PF_T_RELOAD, roll_now_ms_up(r), e,
			  "new keys in main.cf and Postfix reloaded");
}

int roll_deploy(pf_roll *r, bool force, pf_err *e)
{
	pf_timing t;
	int rc;

	if ((rc = roll_begin(r, e)) < 0)
		return rc;
	pf_timing_compute(&r->st, &r->tparams, &t);
	if (r->st.phase < PF_PHASE_PUBLISHED || r->st.phase > PF_PHASE_DEPLOYABLE) {
		rc = pf_err_refuse(e, "nothing to deploy: the rollover is in phase %s",
				   pf_phase_name(r->st.phase));
	} else if (!force && (rc = pf_timing_may_deploy(&r->st, &t, roll_now_ms(r), e)) < 0) {
		/* e says what is awaited, and until when. */
	} else {
		if (force && pf_timing_may_deploy(&r->st, &t, roll_now_ms(r), NULL) < 0)
			pf_journal_state_event(
				&r->st, roll_now(r), PF_EV_FORCED_DEPLOY, NULL,
				"deploy --force-now: deploying before the safety time "
				"(phase %s)",
				pf_phase_name(r->st.phase));
		if (r->st.phase != PF_PHASE_DEPLOYABLE) {
			/* "deploy" of a staged key asks for its rollover. */
			pf_state_request(&r->st, roll_now(r));
			if (!r->st.t[PF_T_CONF])
				pf_state_set_stamp_ms(&r->st, PF_T_CONF, roll_now_ms_up(r));
			rc = roll_enter(r, PF_PHASE_DEPLOYABLE, PF_T_DEPLOYABLE, roll_now_ms(r), e,
					force ? "deploy forced" : "the safety time has passed");
		}
		if (rc == 0)
			rc = roll_step_deploy(r, e);
		if (rc == 0 && r->st.phase == PF_PHASE_DEPLOYED)
			rc = roll_step_verify(r, e);
		if (rc == 0 && r->st.phase == PF_PHASE_FAILED)
			rc = pf_err_set(e, EIO, "%s", r->st.failed_reason);
	}
	roll_end(r);
	return rc;
}

int roll_reload(pf_roll *r, pf_err *e)
{
	int rc;

	if ((rc = roll_open_postfix(r, e)) < 0)
		return rc;
	return r->ops->reload(r->ops_data, e);
}
