/*
 * roll_deploy.c - propagated -> deployable -> deployed: what main.cf
 * deploys now compared with the rollover's keys (a deploy by hand is
 * carried on, a foreign key holds the rollover), the main.cf snapshot
 * saved before the change, the one postconf -e, the check, the reload, and
 * the rollback to the snapshot when a deploy or a verification fails; the
 * manual deploy (and --force-now) and reload.
 */
#include <errno.h>
#include <limits.h>
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

void roll_prepared_clear(roll_prepared *p)
{
	free(p->keys);
	pf_strv_clear(&p->paths);
	free(p->marks);
	pf_strv_clear(&p->settings);
	pf_snapshot_free(&p->snap);
	memset(p, 0, sizeof(*p));
}

/* The rollover's id and keys in one string: a deploy prepared for other
 * keys stands for nothing.  The caller frees it. */
static char *keys_of(const pf_state *st)
{
	char *s = pf_strdup(st->rollover);

	for (int a = 0; a < PF_ALG_COUNT; a++) {
		const pf_state_key *k = &st->keys[a];
		char *t;

		if (!k->present)
			continue;
		t = pf_asprintf("%s|%d %s %s %s %s %s", s, a, k->next_key ? k->next_key : "",
				k->next_cert ? k->next_cert : "", k->next_spki,
				k->old_key ? k->old_key : "", k->old_spki);
		free(s);
		s = t;
	}
	return s;
}

static void add_path(pf_strv *paths, const char *path)
{
	if (path && *path && !pf_strv_contains(paths, path))
		pf_strv_push(paths, path);
}

/* Mark paths[from..) into marks (grown to paths->n).  Returns 0/-errno. */
static int mark_paths(pf_roll *r, const pf_strv *paths, size_t from, pf_file_mark **marks,
		      pf_err *e)
{
	int rc = 0;

	*marks = pf_realloc(*marks, (paths->n + 1) * sizeof(**marks));
	for (size_t i = from; rc == 0 && i < paths->n; i++)
		rc = r->ops->mark(r->ops_data, paths->v[i], &(*marks)[i], e);
	return rc;
}

/*
 * Does p stand for the reads roll_step_deploy would make now?  Only for
 * the same rollover, keys and snapshot entries, under
 * ROLL_PREPARED_MAX_SEC old, and with every file it marked as it was:
 * main.cf unchanged means postconf reads the same values (and names the
 * same key files, so the list of files to look at is the same), the key
 * files unchanged mean the same public keys.  why[len] says what does not
 * hold.
 */
static bool prepared_holds(pf_roll *r, const roll_prepared *p, char *why, size_t len)
{
	PF_CLEANUP_FREE char *keys = NULL;
	pf_err e = {0};

	snprintf(why, len, "none");
	if (!p->valid || r->cfg->certificate_command)
		return false;
	keys = keys_of(&r->st);
	if (strcmp(keys, p->keys) != 0 || r->st.n_maincf != p->n_maincf) {
		snprintf(why, len, "made for other keys");
		return false;
	}
	if (roll_mono_usec(r) - p->at_usec >= (uint64_t)ROLL_PREPARED_MAX_SEC * 1000000u ||
	    roll_now(r) < p->at || roll_now(r) - p->at >= ROLL_PREPARED_MAX_SEC) {
		snprintf(why, len, "older than %d s", ROLL_PREPARED_MAX_SEC);
		return false;
	}
	for (size_t i = 0; i < p->paths.n; i++) {
		pf_file_mark m;

		if (r->ops->mark(r->ops_data, p->paths.v[i], &m, &e) < 0) {
			snprintf(why, len, "%.300s", e.msg);
			return false;
		}
		if (!postfix_mark_equal(&m, &p->marks[i])) {
			snprintf(why, len, "%.300s changed", p->paths.v[i]);
			return false;
		}
	}
	return true;
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

	/* A preparation that holds read all of this from the same files, for
	 * the same keys, and found nothing to do (roll_prepare_deploy). */
	if (r->prep.valid && prepared_holds(r, &r->prep, why, sizeof(why)))
		return 0;
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

/*
 * Should the deploy be prepared now (roll_prepare_deploy)?  A moment more
 * than ROLL_PREPARED_MAX_SEC - ROLL_PREPARE_AHEAD_SEC away would find the
 * preparation too old: then *wakeup (0: none yet) is lowered to
 * ROLL_PREPARE_AHEAD_SEC before it (epoch ms, as roll_run's), to prepare
 * then.
 */
static bool prepare_due(pf_roll *r, bool held_too, int64_t *wakeup)
{
	const pf_state *st = &r->st;
	int64_t now = roll_now(r), at;
	pf_timing t;

	/* A CA-issued certificate is obtained at the moment, and the
	 * settings name it: that deploy reads everything then. */
	if (r->cfg->certificate_command || !r->ops->mark)
		return false;
	if (st->phase == PF_PHASE_STAGED && st->staging)
		return held_too; /* a request may come at any time */
	if (st->phase != PF_PHASE_PROPAGATED && st->phase != PF_PHASE_STAGED)
		return false;
	pf_timing_compute(st, &r->tparams, &t);
	if (!t.deploy_known || t.deploy_at < now + ROLL_PREPARE_LEAD_SEC)
		return false;
	if (t.deploy_at - now <= ROLL_PREPARED_MAX_SEC - ROLL_PREPARE_AHEAD_SEC)
		return true;
	at = (t.deploy_at - ROLL_PREPARE_AHEAD_SEC) * 1000; /* *wakeup: epoch ms */
	if (!*wakeup || at < *wakeup)
		*wakeup = at;
	return false;
}

void roll_prepare_deploy(pf_roll *r, bool held_too, int64_t *wakeup)
{
	static const pf_strv none = {0};
	roll_prepared p = {0};
	char foreign[400], why[400], mc[PATH_MAX];
	bool all_next, changed, full_check;
	size_t n_fixed;
	pf_err e = {0};
	int rc;

	if (!prepare_due(r, held_too, wakeup) || prepared_holds(r, &r->prep, why, sizeof(why)))
		return;
	roll_prepared_clear(&r->prep);
	if (roll_open_postfix(r, &e) < 0)
		goto out;
	p.at_usec = roll_mono_usec(r);
	p.at = roll_now(r);
	p.keys = keys_of(&r->st);
	p.n_maincf = r->st.n_maincf;
	/* Marked before anything is read from them: a change while the reads
	 * run changes the mark too. */
	snprintf(mc, sizeof(mc), "%s/main.cf", r->cfg->postfix_config_directory);
	add_path(&p.paths, mc);
	snprintf(mc, sizeof(mc), "%s/master.cf", r->cfg->postfix_config_directory);
	add_path(&p.paths, mc);
	add_path(&p.paths, r->pf.postconf); /* its compiled-in defaults */
	if ((rc = mark_paths(r, &p.paths, 0, &p.marks, &e)) < 0)
		goto out;
	n_fixed = p.paths.n;
	for (int i = 0; i < 2; i++) {
		pf_tls_files dep = {0};

		if ((rc = r->ops->deployed(r->ops_data, i ? "tlsproxy" : "smtpd", &dep, &e)) < 0)
			goto out;
		for (int a = 0; a < PF_ALG_COUNT; a++) {
			add_path(&p.paths, dep.key_file[a]);
			add_path(&p.paths, dep.cert_file[a]);
		}
		pf_tls_files_free(&dep);
	}
	for (int a = 0; a < PF_ALG_COUNT; a++) {
		const pf_state_key *k = &r->st.keys[a];

		if (k->present && pf_state_key_has_next(k)) {
			add_path(&p.paths, k->next_key);
			add_path(&p.paths, k->next_cert);
		}
	}
	if ((rc = mark_paths(r, &p.paths, n_fixed, &p.marks, &e)) < 0)
		goto out;
	/* What roll_check_hand_deploy reads: only a rollover it lets go on
	 * (no foreign key, not deployed by hand) is prepared. */
	if ((rc = roll_maincf_keys(r, &all_next, &changed, foreign, sizeof(foreign), &e)) < 0)
		goto out;
	if (foreign[0] || (all_next && r->st.n_maincf == 0))
		goto out;
	if ((rc = r->ops->reload_preflight(r->ops_data, &full_check, &e)) < 0)
		goto out;
	for (int a = 0; a < PF_ALG_COUNT; a++) {
		const pf_state_key *k = &r->st.keys[a];

		if (k->present && pf_state_key_has_next(k) &&
		    (rc = r->ops->deploy_settings(r->ops_data, (enum pf_alg)a, k->next_key,
						  k->next_cert, &p.settings, &e)) < 0)
			goto out;
	}
	if ((rc = r->ops->snapshot(r->ops_data, postfix_tls_server_params, &p.snap, &e)) < 0)
		goto out;
	/* "postfix check" (or postconf's parse) of the files as they are: at
	 * the moment only the settings written are read back. */
	if ((rc = r->ops->check(r->ops_data, full_check, &none, &e)) < 0)
		goto out;
	p.valid = true;
	r->prep = p;
	roll_progress(r, "deploy prepared: %zu settings, %zu files marked, %s passed", p.settings.n,
		      p.paths.n, full_check ? "postfix check" : "postconf -n -x");
	return;
out:
	if (e.msg[0])
		roll_progress(r, "deploy not prepared: %s", e.msg);
	roll_prepared_clear(&p);
}

/*
 * deployable -> deployed: snapshot, change main.cf, check, reload.
 *
 * With a deploy prepared ahead that still holds (prepared_holds), the
 * reads before the change were made already on these very files:
 * roll_check_hand_deploy found neither a foreign key nor a deploy by hand
 * (its outcome depends only on main.cf, the key files it names and the
 * state's keys, all unchanged), the preflight passed, the snapshot and the
 * settings were read, "postfix check" passed.  Then only the save of the
 * snapshot, the one postconf -e, its read-back and the reload remain.
 * Otherwise everything runs here, as it always did.
 */
int roll_step_deploy(pf_roll *r, pf_err *e)
{
	roll_cert_files ca = {0};
	pf_strv settings = {0};
	roll_prepared p = r->prep;
	uint64_t t0 = roll_mono_usec(r), t_set = t0;
	char why[600];
	bool full_check = false, prepared;
	int rc;

	/* Used once: a later deploy (a retry, a resume) reads again. */
	memset(&r->prep, 0, sizeof(r->prep));
	if ((rc = roll_open_postfix(r, e)) < 0) {
		roll_prepared_clear(&p);
		return rc;
	}
	prepared = prepared_holds(r, &p, why, sizeof(why));
	if (prepared) {
		settings = p.settings;
		memset(&p.settings, 0, sizeof(p.settings));
		if (r->st.n_maincf == 0) {
			for (size_t i = 0; rc == 0 && i < p.snap.names.n; i++)
				rc = pf_state_add_setting(&r->st, p.snap.names.v[i],
							  p.snap.values[i], e);
			if (rc == 0)
				rc = roll_save(r, e);
		}
		roll_prepared_clear(&p);
		if (rc < 0) {
			pf_strv_clear(&settings);
			return rc;
		}
	} else {
		if (p.valid)
			roll_progress(r, "deploy: the preparation does not hold (%s)", why);
		roll_prepared_clear(&p);
		if ((rc = roll_check_hand_deploy(r, e)) < 0 || r->st.phase != PF_PHASE_DEPLOYABLE)
			return rc;
		/* Before main.cf changes: can "postfix check" and the reload run
		 * in this process, or must reload_unit stand in (reload.h)? */
		if ((rc = r->ops->reload_preflight(r->ops_data, &full_check, e)) < 0)
			return rc;
		/* CA-issued certificates (certificate_command): obtained now,
		 * before main.cf changes; a failure deploys nothing
		 * (roll_cert.c). */
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
				rc = r->ops->deploy_settings(r->ops_data, (enum pf_alg)a,
							     ca.key[a] ? ca.key[a] : k->next_key,
							     ca.cert[a] ? ca.cert[a] : k->next_cert,
							     &settings, e);
		}
		roll_cert_files_free(&ca);
	}
	if (rc == 0)
		rc = r->ops->set(r->ops_data, &settings, e);
	/* t_deployed is when main.cf changed; "postfix check" after it can
	 * take seconds while main.cf is "hot" (TEST-SERVERS.md). */
	if (rc == 0)
		pf_state_set_stamp_ms(&r->st, PF_T_DEPLOYED, roll_now_ms(r));
	t_set = roll_mono_usec(r);
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
	roll_progress(r,
		      "deploy: %.3f s from the deploy step to the reload done, main.cf written "
		      "after %.3f s (%s)",
		      (double)(roll_mono_usec(r) - t0) / 1e6, (double)(t_set - t0) / 1e6,
		      prepared ? "prepared" : "read now");
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
