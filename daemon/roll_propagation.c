/*
 * roll_propagation.c - the propagation round (are records served, or gone,
 * on every check server, signed, with a SOA serial at least the update's?)
 * that publish, verify and retire share, and the step published ->
 * propagated: poll until every check server serves every new record, T_conf
 * then, and the propagation_alert warnings while it waits.  The polls
 * follow pf_poll_next_ms from T_pub: every 150 ms for the first seconds,
 * then backing off to 30 s.  A round saves the state only when it has
 * something to keep (a server newly confirmed, an alert logged), so the
 * fast rounds do not write the state file several times a second.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dnssec_walk.h"
#include "journal.h"
#include "roll_int.h"

/*
 * One propagation round over every zone: are the records idx[0..n) served
 * (present) or gone (!present) on every check server, signed when the zone
 * is, with a SOA serial at least min_serial (when have_serial)?  Records
 * per server confirmations in the state; *ret_missing lists the servers
 * still lacking.  Returns 0 (see *ret_done) or -errno.
 */
int roll_propagation_round(pf_roll *r, const size_t *idx, size_t n, bool present, bool *ret_done,
			   pf_strv *ret_missing, pf_err *e)
{
	dns_net_opts no;
	dns_prop_want *want;
	bool done = true, unsigned_warned = false;
	int rc;

	*ret_done = false;
	r->round_max_ttl = 0;
	r->round_unanswered = 0;
	if ((rc = roll_zones(r, e)) < 0)
		return rc;
	dns_net_opts_default(&no);
	want = pf_calloc(n + 1, sizeof(*want));
	for (size_t z = 0; rc == 0 && z < r->n_zones; z++) {
		dns_prop_round rd = {0};
		size_t m = roll_wants_in_zone(r, idx, n, &r->zones[z], present, want);
		dns_prop_dnssec sec = {0};
		pf_err we = {0};
		bool chain;

		if (m == 0)
			continue;
		/* Served records must validate (SPEC.md 6); withdrawn ones need not. */
		chain = present && dnssec_walk(r->ops->discover, r->ops_data, r->cfg, &r->zones[z],
					       &sec, &we) == 0;
		no.dnssec = chain ? &sec : NULL;
		rc = r->ops->prop_run(r->ops_data, &r->zones[z], want, m, &no, &rd, e);
		no.dnssec = NULL;
		dnssec_walk_free(&sec);
		if (rc < 0)
			break;
		if (!rd.zone_signed && present && !unsigned_warned) {
			unsigned_warned = true;
			roll_progress(
				r,
				"WARNING: zone %s is not DNSSEC-signed: DANE protects nothing "
				"until it is",
				rd.zone);
			/* A rollover goes on (the records are still needed), but an
			 * audit reports an unsigned zone as a problem. */
			if (r->audit) {
				done = false;
				pf_strv_push_owned(
					ret_missing,
					pf_asprintf("zone %s is not DNSSEC-signed", rd.zone));
			}
		}
		if (rd.max_tlsa_ttl > r->round_max_ttl)
			r->round_max_ttl = rd.max_tlsa_ttl;
		for (size_t s = 0; s < rd.n_servers; s++) {
			const dns_prop_server *sv = &rd.servers[s];
			bool ok = sv->complete && (!present || !rd.zone_signed || sv->all_signed);
			const char *note = sv->note;

			/* A signed zone whose chain cannot be checked counts nothing. */
			if (ok && present && rd.zone_signed && !chain) {
				ok = false;
				note = we.msg;
			}

			if (sv->state != DNS_PROP_OK)
				r->round_unanswered++;

			if (ok && present && r->st.have_serial && r->n_zones == 1)
				ok = sv->have_soa &&
				     (int32_t)(sv->serial - r->st.update_serial) >= 0;
			if (ok && present) {
				pf_err e2 = {0};
				bool known = false;

				for (size_t k = 0; k < r->st.n_servers; k++)
					known |= strcmp(r->st.servers[k].name,
							sv->target.addr.label) == 0;
				if (!known && !r->audit) {
					pf_state_confirm_server(
						&r->st, sv->target.addr.label, sv->serial,
						(roll_now_ms_up(r) + 999) / 1000, &e2);
					pf_journal_state_event(
						&r->st, roll_now(r), PF_EV_SERVER_CONFIRMED,
						sv->target.addr.label,
						"%s serves every new record (serial %u)",
						sv->target.addr.label, sv->serial);
				}
			}
			if (r->audit && present)
				roll_report_dnssec(r, &rd, sv, chain ? NULL : we.msg);
			if (ok && present && r->audit && !roll_dnssec_secure(&rd, sv)) {
				/* check: an insecure answer is served, but reported. */
				ok = false;
				note = "DNSSEC insecure: DANE protects nothing";
			}
			if (!ok) {
				done = false;
				pf_strv_push_owned(ret_missing,
						   pf_asprintf("%s%s%s", sv->target.addr.label,
							       note[0] ? ": " : "", note));
			}
		}
		dns_prop_round_free(&rd);
	}
	free(want);
	if (rc == 0)
		*ret_done = done;
	return rc;
}

/*
 * propagation_alert (SPEC.md 3): past it, a round that still misses a
 * server logs one alert per missing server; of the fast rounds only the
 * first does (a journal line every 150 ms would flood it), each slow round
 * again.  Returns true when it logged.
 */
static bool alert(pf_roll *r, const pf_strv *missing, int64_t now_ms, int64_t since_ms)
{
	if (since_ms < r->cfg->propagation_alert * 1000 ||
	    (r->st.alert_count > 0 && pf_poll_fast(since_ms)))
		return false;
	for (size_t i = 0; i < missing->n; i++)
		pf_journal_state_event(&r->st, now_ms / 1000, PF_EV_PROPAGATION_ALERT, NULL,
				       "still waiting after %llds: %s",
				       (long long)(since_ms / 1000), missing->v[i]);
	r->st.alert_count++;
	r->st.alert_last = now_ms / 1000;
	return true;
}

/* published -> propagated: poll every check server until all serve all. */
int roll_step_propagation(pf_roll *r, int64_t *wakeup, pf_err *e)
{
	size_t *idx = pf_calloc(r->st.n_records + 1, sizeof(size_t)), n;
	size_t confirmed = r->st.n_servers;
	pf_strv missing = {0};
	bool done = false, saved = false;
	int64_t now_ms, since_ms;
	int rc;

	n = roll_select_records(&r->st, PF_ROLE_NEXT, idx);
	rc = roll_propagation_round(r, idx, n, true, &done, &missing, e);
	free(idx);
	now_ms = roll_now_ms(r);
	since_ms = now_ms - pf_state_stamp_ms(&r->st, PF_T_PUB);
	if (rc < 0 && !roll_transient(rc))
		goto out;
	if (rc == 0 && done) {
		r->poll_ms = 0; /* the retire polls start afresh */
		rc = roll_enter(r, PF_PHASE_PROPAGATED, PF_T_CONF, roll_now_ms_up(r), e,
				"every check server serves every new record");
		goto out;
	}
	if (rc < 0)
		pf_strv_push(&missing, e->msg);
	pf_err_clear(e);
	rc = 0;
	if (alert(r, &missing, now_ms, since_ms) || r->st.n_servers > confirmed) {
		rc = roll_save(r, e);
		saved = true;
	}
	/* A line for the first round, a change, and each slow round. */
	if (saved || r->poll_ms == 0 || !pf_poll_fast(since_ms))
		roll_progress(r, "propagation: %zu server%s still missing records%s%s", missing.n,
			      missing.n == 1 ? "" : "s", missing.n ? ", e.g. " : "",
			      missing.n ? missing.v[0] : "");
	r->poll_ms = pf_poll_next_ms(since_ms, r->poll_ms);
	*wakeup = now_ms + r->poll_ms;
out:
	pf_strv_clear(&missing);
	return rc;
}
