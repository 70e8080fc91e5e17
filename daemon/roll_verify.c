/*
 * roll_verify.c - deployed -> verified: every verify endpoint presents the
 * next key of every algorithm, DANE-valid against the next records that
 * every check server still serves; a few attempts, then a failure that
 * rolls main.cf back (only what this rollover changed).  roll_check reuses
 * the one verification pass.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"
#include "roll_int.h"
#include "tlsa.h"
#include "macro.h"

/* The endpoints to verify, each once: verify_endpoints, or every TLSA host
 * x port. */
void roll_endpoints(pf_roll *r, pf_hostport_list *ret)
{
	pf_strv hosts = {0};
	pf_err e = {0};

	if (!r->cfg->verify_endpoints.n)
		roll_tlsa_hosts(r, &hosts, &e);
	withdraw_guard_endpoint_list(r->cfg, &hosts, ret);
	pf_strv_clear(&hosts);
}

const char *roll_probe_label(const pf_hostport *ep, const pf_probe_result *res, char *buf,
			     size_t len)
{
	pf_hostport a = {.port = ep->port};
	char l1[PF_ENDPOINT_BUF], l2[PF_ENDPOINT_BUF];

	pf_hostport_label(ep, 25, l1, sizeof(l1));
	if (!res->address[0] || strcmp(res->address, ep->host) == 0) {
		snprintf(buf, len, "%s", l1);
		return buf;
	}
	snprintf(a.host, sizeof(a.host), "%s", res->address);
	snprintf(buf, len, "%s (%s)", l1, pf_hostport_label(&a, 25, l2, sizeof(l2)));
	return buf;
}

/* Every name carries the same records of a key: a probe gets each distinct
 * one once (500 names would otherwise be 500 copies, past what one probe
 * request holds).  The distinct rdata of alg among st->records[idx[0..n)]
 * into ret (room for n); returns how many. */
size_t roll_distinct_rdata(const pf_state *st, const size_t *idx, size_t n, enum pf_alg alg,
			   pf_tlsa_rdata *ret)
{
	size_t m = 0;

	for (size_t j = 0; j < n; j++) {
		const pf_tlsa_rdata *rd = &st->records[idx[j]].rdata;
		bool seen = false;

		if (st->records[idx[j]].alg != alg)
			continue;
		for (size_t q = 0; q < m && !seen; q++)
			seen = tlsa_equal(&ret[q], rd);
		if (!seen)
			ret[m++] = *rd;
	}
	return m;
}

/*
 * Does every endpoint present the next key of every algorithm, and does it
 * DANE-validate against the next records, which every check server must
 * still serve?  Returns 0 when all hold, -EPROTO with e saying what did
 * not, or another -errno.
 */
int roll_verify_once(pf_roll *r, pf_err *e)
{
	size_t *idx = pf_calloc(r->st.n_records + 1, sizeof(size_t)), n;
	pf_hostport_list eps = {0};
	pf_strv missing = {0};
	bool done = false;
	int rc;

	n = roll_select_records(&r->st, PF_ROLE_NEXT, idx);
	rc = roll_propagation_round(r, idx, n, true, &done, &missing, e);
	if (rc == 0 && !done)
		rc = pf_err_set(e, EPROTO, "the new records are not served everywhere: %s",
				missing.v[0]);
	roll_endpoints(r, &eps);
	for (size_t i = 0; rc == 0 && i < eps.n; i++) {
		char label[PF_ENDPOINT_BUF];

		pf_hostport_label(&eps.v[i], 25, label, sizeof(label));
		for (int a = 0; rc == 0 && a < PF_ALG_COUNT; a++) {
			const pf_state_key *k = &r->st.keys[a];
			const char *alg = pf_alg_name((enum pf_alg)a);
			pf_tlsa_rdata *rds = pf_calloc(n + 1, sizeof(*rds));
			pf_probe_result res;
			size_t m = 0;
			bool is_new;

			if (!k->present || !pf_state_key_has_next(k)) {
				free(rds);
				continue;
			}
			m = roll_distinct_rdata(&r->st, idx, n, (enum pf_alg)a, rds);
			rc = r->ops->probe(r->ops_data, &eps.v[i], r->st.records[idx[0]].host, rds,
					   m, (enum pf_probe_want)a, PROBE_TIMEOUT_MS, &res, e);
			free(rds);
			if (rc < 0)
				break;
			roll_probe_label(&eps.v[i], &res, label, sizeof(label));
			is_new = strcmp(res.spki_sha256, k->next_spki) == 0;
			if (!is_new && strcmp(res.spki_sha256, k->old_spki) == 0)
				rc = pf_err_set(
					e, EPROTO,
					"%s presents the old %s key %.16s..., not the new %.16s...",
					label, alg, res.spki_sha256, k->next_spki);
			else if (!is_new)
				/* Most likely another MX host sharing the name: the
				 * default endpoints are every address of the name. */
				rc = pf_err_set(
					e, EPROTO,
					"%s presents an %s key %.16s... that is neither the new "
					"%.16s... nor the old one: another server answers there; "
					"if "
					"hosts share this name, set verify_endpoints to this "
					"host's "
					"own addresses",
					label, alg, res.spki_sha256, k->next_spki);
			else if (!res.dane_ok)
				rc = pf_err_set(e, EPROTO,
						"%s: the new %s key does not DANE-validate: %s",
						label, alg, res.verify_error);
			else if ((rc = roll_cert_check_live(r, (enum pf_alg)a, &res, label, e)) < 0)
				; /* CA-issued: not the chain deployed, or it does not verify */
			else if (r->audit)
				roll_progress(r, "ok: %s presents the deployed %s key, DANE-valid",
					      label, alg);
			else
				pf_journal_state_event(
					&r->st, roll_now(r), PF_EV_ENDPOINT_VERIFIED, label,
					"%s presents the new %s key, DANE-valid", label, alg);
		}
	}
	free(eps.v);
	free(idx);
	pf_strv_clear(&missing);
	return rc;
}

/* deployed -> verified, or a rollback into failed. */
int roll_step_verify(pf_roll *r, pf_err *e)
{
	char why[600];
	int rc = 0;

	if ((rc = roll_open_postfix(r, e)) < 0)
		return rc;
	for (int attempt = 0; attempt < VERIFY_ATTEMPTS; attempt++) {
		if (attempt)
			roll_sleep_ms(r, 1000); /* smtpd takes a moment to pick up the reload */
		pf_err_clear(e);
		if ((rc = roll_verify_once(r, e)) == 0)
			break;
	}
	/* T_reload was rounded up; the verification, which came after it, must
	 * not look older than the reload. */
	if (rc == 0) {
		int64_t now_ms = roll_now_ms(r), reload_ms = pf_state_stamp_ms(&r->st, PF_T_RELOAD);

		return roll_enter(r, PF_PHASE_VERIFIED, PF_T_VERIFIED,
				  now_ms > reload_ms ? now_ms : reload_ms, e,
				  "every endpoint presents the new keys, DANE-valid");
	}
	snprintf(why, sizeof(why), "verification failed: %.300s", e->msg);
	pf_journal_state_event(&r->st, roll_now(r), PF_EV_VERIFICATION_FAILED, NULL, "%s", e->msg);
	pf_err_clear(e);
	{
		pf_err e2 = {0};
		char foreign[400];
		bool all_next = false, changed = true;

		/* Roll back only what this rollover changed, and only while
		 * main.cf is as it left it: never over an operator's hand. */
		if (!r->audit &&
		    roll_maincf_keys(r, &all_next, &changed, foreign, sizeof(foreign), &e2) < 0)
			snprintf(why + strlen(why), sizeof(why) - strlen(why),
				 "; main.cf left as it is: %.150s", e2.msg);
		else if (all_next && !changed) {
			/* Deployed by hand: the snapshot is main.cf as found. */
			snprintf(
				why + strlen(why), sizeof(why) - strlen(why),
				"; the new keys were deployed by hand and main.cf is left as it "
				"is: "
				"reload Postfix or fix it, then \"pftls-roll now\" verifies again");
			return roll_fail(r, why);
		} else if (!all_next) {
			snprintf(why + strlen(why), sizeof(why) - strlen(why),
				 "; main.cf no longer deploys the new keys (changed by hand) and "
				 "is left "
				 "as it is");
		} else if (roll_rollback(r, why, &e2) < 0) {
			snprintf(why + strlen(why), sizeof(why) - strlen(why),
				 "; ROLLBACK FAILED TOO: %.200s", e2.msg);
		}
	}
	/* Resuming starts again at the deploy: main.cf holds the old keys. */
	r->st.phase = PF_PHASE_DEPLOYABLE;
	return roll_fail(r, why);
}
