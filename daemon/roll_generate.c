/*
 * roll_generate.c - the rollover's first step, idle -> generated: plan
 * the next key of each algorithm (path and SPKI saved first), write the key
 * and its self-signed certificate through the key store, note the keys
 * main.cf deploys now as the old ones, and their records; and, on every
 * later step, remake what a kill kept from being written.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"
#include "keystore.h"
#include "roll_int.h"

/* Write the key and certificate files of a next key that the state names
 * but the disk lacks (first pass, or a kill before the files were
 * written).  A key made again gets new records.  Returns 0 or -errno. */
int roll_ensure_next_files(pf_roll *r, pf_err *e)
{
	pf_strv hosts = {0};
	int rc = 0;

	for (int a = 0; a < PF_ALG_COUNT && rc == 0; a++) {
		pf_state_key *k = &r->st.keys[a];
		pf_keyspec spec = {(enum pf_alg)a, r->cfg->rsa_bits, r->cfg->ecdsa_curve};
		EVP_PKEY *key = NULL;
		X509 *cert = NULL;
		pf_pubkey pk = {0};
		struct stat st;
		bool have_key, have_cert, have_records = false;

		if (!k->present || !pf_state_key_has_next(k))
			continue;
		/* A writer killed before its rename left a temporary file,
		 * perhaps with a private key: nothing will ever use it. */
		pf_remove_stale_temps(k->next_key);
		pf_remove_stale_temps(k->next_cert);
		have_key = stat(k->next_key, &st) == 0;
		have_cert = stat(k->next_cert, &st) == 0;
		for (size_t i = 0; i < r->st.n_records; i++)
			have_records |= r->st.records[i].role == PF_ROLE_NEXT &&
					r->st.records[i].alg == (enum pf_alg)a;
		if (have_key && have_cert && have_records)
			continue;
		if (!hosts.n && (rc = roll_tlsa_hosts(r, &hosts, e)) < 0)
			break;
		if (!have_key) {
			/* The plan was saved but the key never written (a kill in
			 * between): make a new one, and save its SPKI first. */
			rc = keystore_generate(&spec, &key, e);
			if (rc == 0)
				rc = keystore_pubkey_of_key(key, &pk, e);
			if (rc == 0)
				rc = pf_state_set_key(&r->st, (enum pf_alg)a, PF_ROLE_NEXT,
						      k->next_key, k->next_cert, pk.spki_sha256, e);
			if (rc == 0) {
				roll_drop_records(&r->st, PF_ROLE_NEXT, (enum pf_alg)a);
				have_records = false;
				rc = roll_save(r, e);
			}
			if (rc == 0 && have_cert)
				rc = unlink(k->next_cert) < 0
					     ? pf_err_set(e, errno, "cannot remove %s",
							  k->next_cert)
					     : 0;
			have_cert = false;
			if (rc == 0)
				rc = keystore_write_key(k->next_key, key, e);
		} else if (!have_cert) {
			rc = keystore_load_key(k->next_key, &key, e);
		}
		if (rc == 0 && !have_cert) {
			rc = keystore_self_signed(key, &hosts, &cert, e);
			if (rc == 0)
				rc = keystore_write_cert(k->next_cert, cert, e);
			if (rc == 0) {
				pf_journal_state_event(&r->st, roll_now(r), PF_EV_KEY_GENERATED,
						       NULL, "%s key %s and certificate %s written",
						       pf_alg_name((enum pf_alg)a), k->next_key,
						       k->next_cert);
				roll_progress(r, "generated: %s key %s",
					      pf_alg_name((enum pf_alg)a), k->next_key);
			}
		}
		if (rc == 0 && !have_records)
			rc = roll_add_records(r, PF_ROLE_NEXT, (enum pf_alg)a, k->next_key,
					      k->next_cert, &hosts, e);
		if (rc == 0)
			rc = roll_save(r, e);
		pf_pubkey_free(&pk);
		X509_free(cert);
		EVP_PKEY_free(key);
	}
	pf_strv_clear(&hosts);
	return rc;
}

/*
 * idle -> generated: plan the next keys, save, then write the files.  A
 * rollover killed while planning (phase idle, its id saved) is taken up
 * again, not begun anew: a new rollover would leave the key files already
 * written behind and make a second set.  Algorithms planned before the kill
 * keep their plan; roll_ensure_next_files writes what the kill kept from disk.
 */
int roll_step_generate(pf_roll *r, pf_err *e)
{
	const pf_config *cfg = r->cfg;
	pf_tls_files dep = {0};
	pf_strv hosts = {0};
	time_t t = (time_t)roll_now(r);
	int rc;

	if ((rc = roll_open_postfix(r, e)) < 0 || (rc = roll_tlsa_hosts(r, &hosts, e)) < 0 ||
	    (rc = r->ops->deployed(r->ops_data, "smtpd", &dep, e)) < 0)
		goto out;
	if (!r->st.rollover[0]) {
		/* The id is saved before anything else, so that a kill from here
		 * on resumes this rollover; then it is announced, once. */
		pf_state_begin(&r->st, roll_now(r));
		if ((rc = roll_save(r, e)) < 0)
			goto out;
		pf_journal_state_event(&r->st, roll_now(r), PF_EV_ROLLOVER_STARTED, NULL,
				       "rollover started for %zu key algorithm%s", cfg->n_algs,
				       cfg->n_algs == 1 ? "" : "s");
	} else {
		roll_progress(r, "resuming the key generation of rollover %s", r->st.rollover);
	}
	for (size_t i = 0; rc == 0 && i < cfg->n_algs; i++) {
		enum pf_alg a = cfg->algs[i];
		pf_keyspec spec = {a, cfg->rsa_bits, cfg->ecdsa_curve};
		char *kp, *cp;
		EVP_PKEY *key = NULL;
		pf_pubkey pk = {0}, opk = {0};

		if (r->st.keys[a].present && pf_state_key_has_next(&r->st.keys[a]))
			continue; /* planned before a kill */
		keystore_new_file_names(cfg->postfix_config_directory, a, t, &kp, &cp);
		rc = keystore_generate(&spec, &key, e);
		if (rc == 0)
			rc = keystore_pubkey_of_key(key, &pk, e);
		if (rc == 0)
			rc = pf_state_set_key(&r->st, a, PF_ROLE_NEXT, kp, cp, pk.spki_sha256, e);
		if (rc == 0 && dep.key_file[a] && dep.cert_file[a]) {
			rc = keystore_load_pubkey(dep.key_file[a], &opk, e);
			if (rc == 0)
				rc = pf_state_set_key(&r->st, a, PF_ROLE_OLD, dep.key_file[a],
						      dep.cert_file[a], opk.spki_sha256, e);
			if (rc == 0)
				rc = roll_add_records(r, PF_ROLE_OLD, a, dep.key_file[a],
						      dep.cert_file[a], &hosts, e);
		}
		/* The plan is saved before any file exists; the key is written
		 * right after, and roll_ensure_next_files adds the certificate and the
		 * records (and remakes a key a kill kept from being written). */
		if (rc == 0)
			rc = roll_save(r, e);
		if (rc == 0)
			rc = keystore_write_key(kp, key, e);
		pf_pubkey_free(&pk);
		pf_pubkey_free(&opk);
		EVP_PKEY_free(key);
		free(kp);
		free(cp);
	}
	if (rc == 0)
		rc = roll_ensure_next_files(r, e);
	if (rc == 0)
		rc = roll_enter(r, PF_PHASE_GENERATED, PF_T_GENERATED, roll_now_ms(r), e,
				"next keys and self-signed certificates written");
out:
	pf_tls_files_free(&dep);
	pf_strv_clear(&hosts);
	return rc;
}
