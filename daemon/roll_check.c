/*
 * roll_check.c - what the rollover reports without moving it: the "check"
 * audit of the keys in service (a verification pass over a scratch state
 * whose next keys are the deployed ones), the status report, and the
 * one-line sd_notify STATUS=.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "keystore.h"
#include "roll_int.h"
#include "status.h"

int roll_check(pf_roll *r, FILE *out, pf_err *e)
{
	pf_tls_files dep = {0};
	pf_strv hosts = {0};
	pf_state saved = r->st;
	FILE *saved_progress = r->progress;
	size_t n_keys = 0;
	int rc;

	/* The audit reuses the verification of a rollover on a scratch state
	 * whose "next" keys are the ones deployed now. */
	pf_state_init(&r->st);
	r->audit = true;
	r->progress = out;
	if ((rc = roll_open_postfix(r, e)) < 0 || (rc = roll_tlsa_hosts(r, &hosts, e)) < 0 ||
	    (rc = r->ops->deployed(r->ops_data, "smtpd", &dep, e)) < 0)
		goto out;
	pf_state_begin(&r->st, roll_now(r));
	for (int a = 0; rc == 0 && a < PF_ALG_COUNT; a++) {
		pf_pubkey pk = {0};

		if (!dep.key_file[a] || !dep.cert_file[a])
			continue;
		rc = keystore_load_pubkey(dep.key_file[a], &pk, e);
		if (rc == 0)
			rc = pf_state_set_key(&r->st, (enum pf_alg)a, PF_ROLE_NEXT, dep.key_file[a],
					      dep.cert_file[a], pk.spki_sha256, e);
		if (rc == 0)
			rc = roll_add_records(r, PF_ROLE_NEXT, (enum pf_alg)a, dep.key_file[a],
					      dep.cert_file[a], &hosts, e);
		if (rc == 0) {
			fprintf(out, "deployed %s key %s (spki %s)\n", pf_alg_name((enum pf_alg)a),
				dep.key_file[a], pk.spki_sha256);
			n_keys++;
		}
		pf_pubkey_free(&pk);
	}
	if (rc == 0 && n_keys == 0)
		rc = pf_err_set(e, ENOENT, "%s: no server key is deployed in main.cf",
				r->cfg->postfix_config_directory);
	if (rc == 0) {
		dns_zones_free(r->zones, r->n_zones);
		r->zones = NULL;
		r->n_zones = 0;
		rc = roll_verify_once(r, e);
		if (rc == 0)
			fprintf(out,
				"ok: every deployed key's records are on every check server and "
				"every endpoint presents a DANE-valid deployed key\n");
		else if (rc == -EPROTO || rc == -ECONNREFUSED || rc == -ETIMEDOUT)
			rc = -EPROTO;
	}
out:
	pf_tls_files_free(&dep);
	pf_strv_clear(&hosts);
	pf_state_free(&r->st);
	r->st = saved;
	r->audit = false;
	r->progress = saved_progress;
	dns_zones_free(r->zones, r->n_zones);
	r->zones = NULL;
	r->n_zones = 0;
	return rc;
}

int roll_status(pf_roll *r, FILE *out, bool json, pf_err *e)
{
	pf_timing t;
	int rc;

	/* Status only reads: a rollover step in progress elsewhere holds the
	 * lock, and the file is never torn, so read it without the lock. */
	if ((rc = roll_load_state(r, e)) < 0)
		return rc;
	pf_timing_compute(&r->st, &r->tparams, &t);
	pf_status_print(&r->st, &t, roll_now(r), json, out);
	return 0;
}

const char *roll_status_line(pf_roll *r)
{
	pf_timing t;
	char when[40];
	int64_t now = roll_now(r);

	pf_timing_compute(&r->st, &r->tparams, &t);
	switch (r->st.phase) {
	case PF_PHASE_PUBLISHED: {
		size_t total = 0;

		for (size_t z = 0; z < r->n_zones; z++)
			total += r->zones[z].n_checks;
		if (total)
			snprintf(r->status, sizeof(r->status),
				 "published: %zu of %zu check servers serve the new records",
				 r->st.n_servers, total);
		else
			snprintf(r->status, sizeof(r->status),
				 "published: %zu check server%s confirmed so far", r->st.n_servers,
				 r->st.n_servers == 1 ? "" : "s");
		break;
	}
	case PF_PHASE_PROPAGATED:
		snprintf(r->status, sizeof(r->status), "propagated: deploy at %s (in %s)",
			 pf_timing_fmt_time(t.deploy_at, when, sizeof(when)),
			 pf_fmt_duration(t.deploy_at - now, (char[32]){0}, 32));
		break;
	case PF_PHASE_VERIFIED:
		snprintf(r->status, sizeof(r->status), "verified: old records withdrawn at %s",
			 pf_timing_fmt_time(t.retire_at, when, sizeof(when)));
		break;
	case PF_PHASE_FAILED:
		snprintf(r->status, sizeof(r->status), "failed in %s: %.200s",
			 pf_phase_name(r->st.failed_from),
			 r->st.failed_reason ? r->st.failed_reason : "");
		break;
	default:
		snprintf(r->status, sizeof(r->status), "%s", pf_phase_name(r->st.phase));
	}
	return r->status;
}
