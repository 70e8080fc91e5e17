/*
 * roll_check.c - what the rollover reports without moving it: the "check"
 * audit of the keys in service (a verification pass over a scratch state
 * whose next keys are the deployed ones), its Monitoring Plugins form
 * ("check --plugin", which counts every server and endpoint and weighs
 * certificate expiry), the facts of the metrics_file, the status report,
 * and the one-line sd_notify STATUS=.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/x509.h>

#include "dnssec_walk.h"
#include "keystore.h"
#include "macro.h"
#include "roll_audit.h"
#include "roll_int.h"
#include "status.h"
#include "tlsa.h"

/* The audit's scratch state: its "next" keys are the keys main.cf deploys,
 * with their records; one line per key to out.  Returns 0 or -errno. */
int roll_audit_begin(pf_roll *r, FILE *out, pf_tls_files *dep, pf_err *e)
{
	pf_strv hosts = {0};
	size_t n_keys = 0;
	int rc;

	pf_state_init(&r->st);
	r->audit = true;
	r->progress = out;
	if ((rc = roll_open_postfix(r, e)) < 0 || (rc = roll_tlsa_hosts(r, &hosts, e)) < 0 ||
	    (rc = r->ops->deployed(r->ops_data, "smtpd", dep, e)) < 0)
		goto out;
	pf_state_begin(&r->st, roll_now(r));
	for (int a = 0; rc == 0 && a < PF_ALG_COUNT; a++) {
		pf_pubkey pk = {0};

		if (!dep->key_file[a] || !dep->cert_file[a])
			continue;
		rc = keystore_load_pubkey(dep->key_file[a], &pk, e);
		if (rc == 0)
			rc = pf_state_set_key(&r->st, (enum pf_alg)a, PF_ROLE_NEXT,
					      dep->key_file[a], dep->cert_file[a], pk.spki_sha256,
					      e);
		if (rc == 0)
			rc = roll_add_records(r, PF_ROLE_NEXT, (enum pf_alg)a, dep->key_file[a],
					      dep->cert_file[a], &hosts, e);
		if (rc == 0) {
			fprintf(out, "deployed %s key %s (spki %s)\n", pf_alg_name((enum pf_alg)a),
				dep->key_file[a], pk.spki_sha256);
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
	}
out:
	pf_strv_clear(&hosts);
	return rc;
}

/* Put the engine back as it was before audit_begin (saved). */
void roll_audit_end(pf_roll *r, pf_state *saved, FILE *saved_progress, pf_tls_files *dep)
{
	pf_tls_files_free(dep);
	pf_state_free(&r->st);
	r->st = *saved;
	r->audit = false;
	r->progress = saved_progress;
	dns_zones_free(r->zones, r->n_zones);
	r->zones = NULL;
	r->n_zones = 0;
}

/* A rollover's next keys confirmed and not yet deployed - with
 * prepublish, the staged key, there all year - must be served by every
 * check server too: "check" asks for them as the rollover would, changing
 * nothing.  Returns 0, -EPROTO (a finding, on out) or -errno. */
static int check_next(pf_roll *r, FILE *out, pf_err *e)
{
	enum pf_phase p = r->st.phase;
	pf_strv missing = {0};
	bool done = false;
	size_t *idx, n;
	int rc;

	/* From propagated on they were seen everywhere: missing is a finding.
	 * While still being published they may well be, and are not yet. */
	if (p < PF_PHASE_PROPAGATED || p > PF_PHASE_DEPLOYABLE)
		return 0;
	idx = pf_calloc(r->st.n_records + 1, sizeof(size_t));
	n = roll_select_records(&r->st, PF_ROLE_NEXT, idx);
	r->audit = true; /* no confirmation recorded, no event */
	rc = roll_propagation_round(r, idx, n, true, &done, &missing, e);
	r->audit = false;
	free(idx);
	if (rc == 0 && done) {
		fprintf(out, "ok: the %s key's records are on every check server\n",
			p == PF_PHASE_STAGED ? "staged" : "next");
	} else if (rc == 0) {
		for (size_t i = 0; i < missing.n; i++)
			fprintf(out, "problem: the %s key's records: %s\n",
				p == PF_PHASE_STAGED ? "staged" : "next", missing.v[i]);
		rc = pf_err_set(e, EPROTO, "the %s key's records are not served everywhere: %.200s",
				p == PF_PHASE_STAGED ? "staged" : "next",
				missing.n ? missing.v[0] : "?");
	}
	pf_strv_clear(&missing);
	return rc;
}

int roll_check(pf_roll *r, FILE *out, pf_err *e)
{
	pf_tls_files dep = {0};
	pf_state saved = r->st;
	FILE *saved_progress = r->progress;
	int rc;

	/* The audit reuses the verification of a rollover on a scratch state
	 * whose "next" keys are the ones deployed now. */
	rc = roll_audit_begin(r, out, &dep, e);
	if (rc == 0) {
		rc = roll_verify_once(r, e);
		if (rc == 0)
			fprintf(out,
				"ok: every deployed key's records are on every check server and "
				"every endpoint presents a DANE-valid deployed key\n");
		else if (rc == -EPROTO || rc == -ECONNREFUSED || rc == -ETIMEDOUT)
			rc = -EPROTO;
	}
	roll_audit_end(r, &saved, saved_progress, &dep);
	if (rc == 0)
		rc = check_next(r, out, e);
	return rc;
}

/* ---- what is in service, walked for the audit and check --plugin ---- */

void roll_walk_servers(pf_roll *r, const size_t *idx, size_t n, bool dnssec, int64_t *sig_expiry,
		       roll_seen_fn *fn, void *userdata)
{
	dns_prop_want *want = pf_calloc(n + 1, sizeof(*want));
	dns_net_opts no;
	pf_err e = {0};

	dns_net_opts_default(&no);
	if (roll_zones(r, &e) < 0) {
		fn(userdata, &(roll_seen_item){.what = ROLL_SEEN_NO_DNS, .msg = e.msg});
		free(want);
		return;
	}
	for (size_t z = 0; z < r->n_zones; z++) {
		size_t m = roll_wants_in_zone(r, idx, n, &r->zones[z], true, want);
		dns_prop_dnssec sec = {0};
		dns_prop_round rd = {0};
		char why[sizeof(e.msg)];
		pf_err we = {0};
		bool chain;
		int rc;

		if (m == 0)
			continue;
		chain = dnssec && dnssec_walk(r->ops->discover, r->ops_data, r->cfg, &r->zones[z],
					      &sec, &we) == 0;
		no.dnssec = chain ? &sec : NULL;
		rc = r->ops->prop_run(r->ops_data, &r->zones[z], want, m, &no, &rd, &e);
		no.dnssec = NULL;
		dnssec_walk_free(&sec);
		if (rc < 0) {
			fn(userdata, &(roll_seen_item){.what = ROLL_SEEN_NO_DNS,
						       .zone = r->zones[z].zone,
						       .msg = e.msg});
			pf_err_clear(&e);
			continue;
		}
		if (dnssec && !rd.zone_signed) {
			snprintf(why, sizeof(why),
				 "zone %s is not DNSSEC-signed: DANE protects nothing", rd.zone);
			fn(userdata, &(roll_seen_item){.what = ROLL_SEEN_UNSIGNED,
						       .zone = rd.zone,
						       .msg = why});
		} else if (dnssec && !chain) {
			fn(userdata, &(roll_seen_item){.what = ROLL_SEEN_NO_CHAIN,
						       .zone = rd.zone,
						       .msg = we.msg});
		}
		for (size_t s = 0; s < rd.n_servers; s++) {
			const dns_prop_server *sv = &rd.servers[s];

			fn(userdata, &(roll_seen_item){.what = ROLL_SEEN_SERVER,
						       .zone = rd.zone,
						       .sv = sv,
						       .wanted = m,
						       .zone_signed = rd.zone_signed});
			for (size_t k = 0; dnssec && k < rd.n_owners; k++) {
				const dns_prop_rrset *rs = &sv->rrsets[k];

				if (!rs->n_rr)
					continue;
				if (rs->dnssec == DNS_PROP_BOGUS ||
				    rs->dnssec == DNS_PROP_INSECURE) {
					snprintf(why, sizeof(why), "%s: %s TLSA %s: %s",
						 sv->target.addr.label, rd.owners[k],
						 dns_prop_verdict_name(rs->dnssec), rs->dnssec_msg);
					fn(userdata, &(roll_seen_item){.what = ROLL_SEEN_RRSET,
								       .zone = rd.zone,
								       .sv = sv,
								       .verdict = rs->dnssec,
								       .owner = rd.owners[k],
								       .msg = why});
				} else if (rs->dnssec == DNS_PROP_VALIDATES && rs->sig_expiry &&
					   (!*sig_expiry ||
					    (int64_t)rs->sig_expiry < *sig_expiry)) {
					*sig_expiry = (int64_t)rs->sig_expiry;
				}
			}
		}
		fn(userdata, &(roll_seen_item){.what = ROLL_SEEN_ZONE_DONE, .zone = rd.zone});
		dns_prop_round_free(&rd);
	}
	free(want);
}

void roll_walk_endpoints(pf_roll *r, const size_t *idx, size_t n, roll_endpoint_fn *fn,
			 void *userdata)
{
	pf_hostport_list eps = {0};

	roll_endpoints(r, &eps);
	for (size_t i = 0; i < eps.n && n; i++) {
		char label[PF_ENDPOINT_BUF];

		pf_hostport_label(&eps.v[i], 25, label, sizeof(label));
		for (int a = 0; a < PF_ALG_COUNT; a++) {
			const pf_state_key *k = &r->st.keys[a];
			const char *an = pf_alg_name((enum pf_alg)a);
			roll_endpoint_seen s = {.label = label, .alg = (enum pf_alg)a};
			pf_tlsa_rdata *rds;
			pf_probe_result res;
			char where[2 * PF_ENDPOINT_BUF];
			pf_err e = {0};
			size_t m;

			if (!k->present || !pf_state_key_has_next(k))
				continue;
			rds = pf_calloc(n + 1, sizeof(*rds));
			m = roll_distinct_rdata(&r->st, idx, n, (enum pf_alg)a, rds);
			if (r->ops->probe(r->ops_data, &eps.v[i], r->st.records[idx[0]].host, rds,
					  m, (enum pf_probe_want)a, PROBE_TIMEOUT_MS, &res, &e) < 0)
				; /* e says why */
			else if (strcmp(res.spki_sha256, k->next_spki) != 0)
				pf_err_set(
					&e, EPROTO,
					"%s presents an %s key %.16s... that is not the deployed "
					"%.16s...",
					roll_probe_label(&eps.v[i], &res, where, sizeof(where)), an,
					res.spki_sha256, k->next_spki);
			else if (!res.dane_ok)
				pf_err_set(&e, EPROTO,
					   "%s: the deployed %s key does not DANE-validate: %s",
					   roll_probe_label(&eps.v[i], &res, where, sizeof(where)),
					   an, res.verify_error);
			else if (roll_cert_check_live(r, (enum pf_alg)a, &res, label, &e) < 0)
				; /* CA-issued: the chain presented verifies against
				   * certificate_ca_file for the MX (SPEC.md 2.2), as an
				   * MTA-STS sender checks */
			else
				s.ok = true;
			free(rds);
			s.msg = e.msg;
			fn(userdata, &s);
		}
	}
	free(eps.v);
}

/* ---- check --plugin ---- */

/* What the plugin pass found. */
typedef struct plugin_report {
	size_t servers, servers_ok, servers_answered;
	size_t endpoints, endpoints_ok;
	pf_metrics_key keys[PF_ALG_COUNT];
	int64_t sig_expiry;         /* earliest validated TLSA chain signature; 0: none */
	enum pf_plugin_state state; /* OK, CRITICAL or UNKNOWN so far */
	char why[400];              /* the first problem */
	char gap[768];              /* a zone's first server missing records */
} plugin_report;

const char *roll_plugin_state_name(enum pf_plugin_state s)
{
	static const char *const names[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};

	return (unsigned)s < PF_ELEMENTSOF(names) ? names[s] : "UNKNOWN";
}

/* Note a problem of state s; the first of the worst state is kept. */
PF_PRINTF(3, 4)
static void problem(plugin_report *rep, enum pf_plugin_state s, const char *fmt, ...)
{
	va_list ap;

	if (rep->state != PF_PLUGIN_OK && s <= rep->state)
		return;
	rep->state = s;
	va_start(ap, fmt);
	vsnprintf(rep->why, sizeof(rep->why), fmt, ap);
	va_end(ap);
}

/* A message fit for the one plugin line: no control characters, and no
 * '|', which would start the performance data. */
static void plugin_text(FILE *out, const char *s)
{
	for (; *s; s++)
		fputc(*s == '|' ? '/' : ((unsigned char)*s < 0x20 ? ' ' : *s), out);
}

/* What the walks saw, as the plugin weighs it: a DNS failure is unknown,
 * every other problem critical. */
static void plugin_seen(void *userdata, const roll_seen_item *it)
{
	plugin_report *rep = userdata;
	const dns_prop_server *sv = it->sv;

	switch (it->what) {
	case ROLL_SEEN_NO_DNS:
		problem(rep, PF_PLUGIN_UNKNOWN, "%s", it->msg);
		break;
	case ROLL_SEEN_UNSIGNED:
	case ROLL_SEEN_NO_CHAIN:
	case ROLL_SEEN_RRSET:
		problem(rep, PF_PLUGIN_CRITICAL, "%s", it->msg);
		break;
	case ROLL_SEEN_SERVER:
		rep->servers++;
		rep->servers_answered += sv->state != DNS_PROP_NO_ANSWER;
		if (sv->complete && (!it->zone_signed || sv->all_signed))
			rep->servers_ok++;
		else if (!rep->gap[0])
			snprintf(rep->gap, sizeof(rep->gap),
				 "%s does not serve every deployed key's record%s%s%s",
				 sv->target.addr.label, it->zone_signed ? ", signed" : "",
				 sv->note[0] ? ": " : "", sv->note);
		break;
	case ROLL_SEEN_ZONE_DONE:
		/* A zone's bogus and insecure verdicts come first, then the
		 * first server that misses records. */
		if (rep->gap[0])
			problem(rep, PF_PLUGIN_CRITICAL, "%s", rep->gap);
		rep->gap[0] = '\0';
		break;
	}
}

static void plugin_endpoint(void *userdata, const roll_endpoint_seen *s)
{
	plugin_report *rep = userdata;

	rep->endpoints++;
	if (s->ok)
		rep->endpoints_ok++;
	else
		problem(rep, PF_PLUGIN_CRITICAL, "%s", s->msg);
}

/* Age of the key file (seconds, -1 unknown) and notAfter of the
 * certificate file (0 unknown). */
static void key_facts(const char *keyfile, const char *certfile, int64_t now, pf_metrics_key *ret)
{
	struct stat st;
	X509 *cert = NULL;
	pf_err e = {0};
	struct tm tm;

	ret->present = true;
	ret->age = keyfile && stat(keyfile, &st) == 0 ? now - st.st_mtime : -1;
	ret->cert_not_after = 0;
	if (certfile && keystore_load_cert(certfile, &cert, &e) == 0 &&
	    ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm))
		ret->cert_not_after = (int64_t)timegm(&tm);
	X509_free(cert);
}

static void fmt_days(char *buf, size_t len, int64_t secs)
{
	if (secs >= 86400 || secs <= -86400)
		snprintf(buf, len, "%lldd", (long long)(secs / 86400));
	else
		snprintf(buf, len, "%lldh", (long long)(secs / 3600));
}

/* The perfdata: 'label'=value[UOM];[warn];[crit];[min];[max]. */
static void plugin_perfdata(FILE *out, const plugin_report *rep, const pf_check_limits *lim,
			    int64_t now)
{
	fprintf(out, " | servers_ok=%zu;;;0;%zu endpoints_ok=%zu;;;0;%zu", rep->servers_ok,
		rep->servers, rep->endpoints_ok, rep->endpoints);
	for (int a = 0; a < PF_ALG_COUNT; a++) {
		const pf_metrics_key *k = &rep->keys[a];

		/* A range "N:" alerts below N: a certificate too close to expiry. */
		if (k->present && k->cert_not_after)
			fprintf(out, " cert_expiry_%s=%llds;%lld:;%lld:;;",
				pf_alg_name((enum pf_alg)a), (long long)(k->cert_not_after - now),
				(long long)lim->cert_warning, (long long)lim->cert_critical);
	}
	if (rep->sig_expiry)
		fprintf(out, " sig_expiry=%llds;%lld:;%lld:;;", (long long)(rep->sig_expiry - now),
			(long long)lim->sig_warning, (long long)lim->sig_critical);
	for (int a = 0; a < PF_ALG_COUNT; a++)
		if (rep->keys[a].present && rep->keys[a].age >= 0)
			fprintf(out, " key_age_%s=%llds;;;0;", pf_alg_name((enum pf_alg)a),
				(long long)rep->keys[a].age);
}

enum pf_plugin_state roll_plugin_unknown(FILE *out, const char *msg)
{
	fputs("PFTLS UNKNOWN - ", out);
	plugin_text(out, msg);
	fputc('\n', out);
	return PF_PLUGIN_UNKNOWN;
}

enum pf_plugin_state roll_check_plugin(pf_roll *r, const pf_check_limits *lim, FILE *out)
{
	plugin_report rep = {.state = PF_PLUGIN_OK};
	pf_tls_files dep = {0};
	pf_state saved = r->st;
	FILE *saved_progress = r->progress, *quiet = fopen("/dev/null", "w");
	int64_t now = roll_now(r), soonest = INT64_MAX;
	const char *soonest_alg = "";
	size_t *idx = NULL, n = 0, n_keys = 0;
	pf_err e = {0};

	if (!quiet)
		return roll_plugin_unknown(out, "cannot open /dev/null");
	if (roll_audit_begin(r, quiet, &dep, &e) < 0) {
		roll_audit_end(r, &saved, saved_progress, &dep);
		fclose(quiet);
		return roll_plugin_unknown(out, e.msg);
	}
	idx = pf_calloc(r->st.n_records + 1, sizeof(size_t));
	n = roll_select_records(&r->st, PF_ROLE_NEXT, idx);
	roll_walk_servers(r, idx, n, true, &rep.sig_expiry, plugin_seen, &rep);
	if (rep.servers && !rep.servers_answered)
		problem(&rep, PF_PLUGIN_UNKNOWN, "no check server answered (%zu asked)",
			rep.servers);
	roll_walk_endpoints(r, idx, n, plugin_endpoint, &rep);
	for (int a = 0; a < PF_ALG_COUNT; a++) {
		if (!dep.key_file[a] || !dep.cert_file[a])
			continue;
		n_keys++;
		key_facts(dep.key_file[a], dep.cert_file[a], now, &rep.keys[a]);
		if (rep.keys[a].cert_not_after && rep.keys[a].cert_not_after - now < soonest) {
			soonest = rep.keys[a].cert_not_after - now;
			soonest_alg = pf_alg_name((enum pf_alg)a);
		}
	}
	if (soonest != INT64_MAX) {
		char left[32], limit[32];

		fmt_days(left, sizeof(left), soonest);
		if (soonest <= 0)
			problem(&rep, PF_PLUGIN_CRITICAL, "the deployed %s certificate has expired",
				soonest_alg);
		else if (soonest <= lim->cert_critical) {
			fmt_days(limit, sizeof(limit), lim->cert_critical);
			problem(&rep, PF_PLUGIN_CRITICAL,
				"the deployed %s certificate expires in %s (critical within %s)",
				soonest_alg, left, limit);
		} else if (soonest <= lim->cert_warning && rep.state == PF_PLUGIN_OK) {
			fmt_days(limit, sizeof(limit), lim->cert_warning);
			problem(&rep, PF_PLUGIN_WARNING,
				"the deployed %s certificate expires in %s (warning within %s)",
				soonest_alg, left, limit);
		}
	}
	if (rep.sig_expiry) {
		int64_t left_s = rep.sig_expiry - now;
		char left[32], limit[32];

		fmt_days(left, sizeof(left), left_s);
		if (left_s <= lim->sig_critical) {
			fmt_days(limit, sizeof(limit), lim->sig_critical);
			problem(&rep, PF_PLUGIN_CRITICAL,
				"the TLSA records' DNSSEC signatures expire in %s (critical within "
				"%s)",
				left, limit);
		} else if (left_s <= lim->sig_warning && rep.state == PF_PLUGIN_OK) {
			fmt_days(limit, sizeof(limit), lim->sig_warning);
			problem(&rep, PF_PLUGIN_WARNING,
				"the TLSA records' DNSSEC signatures expire in %s (warning within "
				"%s)",
				left, limit);
		}
	}
	fprintf(out, "PFTLS %s - ", roll_plugin_state_name(rep.state));
	if (rep.state != PF_PLUGIN_OK) {
		plugin_text(out, rep.why);
	} else {
		char left[32];

		fmt_days(left, sizeof(left), soonest == INT64_MAX ? 0 : soonest);
		fprintf(out,
			"%zu deployed key%s served by %zu of %zu check servers, %zu of %zu "
			"endpoint "
			"checks DANE-valid",
			n_keys, n_keys == 1 ? "" : "s", rep.servers_ok, rep.servers,
			rep.endpoints_ok, rep.endpoints);
		if (soonest != INT64_MAX)
			fprintf(out, ", certificates valid for %s more", left);
	}
	plugin_perfdata(out, &rep, lim, now);
	fputc('\n', out);
	free(idx);
	roll_audit_end(r, &saved, saved_progress, &dep);
	fclose(quiet);
	return rep.state;
}

/* ---- metrics ---- */

int roll_metrics(pf_roll *r, pf_metrics *ret, pf_err *e)
{
	pf_tls_files dep = {0};
	pf_timing t;
	int64_t oldest = -1;
	int rc;

	memset(ret, 0, sizeof(*ret));
	ret->now = roll_now(r);
	ret->phase = r->st.phase;
	ret->rollovers_completed = r->st.rollovers_completed;
	ret->rollovers_failed = r->st.rollovers_failed;
	for (int i = 0; i < PF_T_COUNT; i++)
		if (r->st.t[i] > ret->last_phase_change)
			ret->last_phase_change = r->st.t[i];
	/* Back in idle the rollover's times are gone; its last event stays. */
	for (size_t i = r->st.n_events; !ret->last_phase_change && i-- > 0;) {
		const char *k = r->st.events[i].kind;

		if (strcmp(k, "rollover-completed") == 0 || strcmp(k, "cancelled") == 0)
			ret->last_phase_change = r->st.events[i].t;
	}
	pf_timing_compute(&r->st, &r->tparams, &t);
	if ((r->st.phase == PF_PHASE_PROPAGATED || r->st.phase == PF_PHASE_STAGED ||
	     r->st.phase == PF_PHASE_DEPLOYABLE) &&
	    t.deploy_known)
		ret->next_step_at = t.deploy_at;
	else if (r->st.phase == PF_PHASE_VERIFIED && t.retire_known)
		ret->next_step_at = t.retire_at;
	if (r->st.phase >= PF_PHASE_PUBLISHED && r->st.phase <= PF_PHASE_VERIFIED) {
		for (size_t z = 0; z < r->n_zones; z++)
			for (size_t c = 0; c < r->zones[z].n_checks; c++) {
				const char *name = r->zones[z].checks[c].addr.label;
				bool served = false;

				for (size_t k = 0; k < r->st.n_servers && !served; k++)
					served = strcmp(r->st.servers[k].name, name) == 0;
				metrics_add_server(ret, name, served);
			}
		/* Confirmed before a restart, zones not asked again yet. */
		for (size_t k = 0; k < r->st.n_servers; k++) {
			bool listed = false;

			for (size_t i = 0; i < ret->n_servers && !listed; i++)
				listed = strcmp(ret->servers[i].name, r->st.servers[k].name) == 0;
			if (!listed)
				metrics_add_server(ret, r->st.servers[k].name, true);
		}
	}
	if ((rc = roll_open_postfix(r, e)) < 0 ||
	    (rc = r->ops->deployed(r->ops_data, "smtpd", &dep, e)) < 0)
		return rc;
	for (int a = 0; a < PF_ALG_COUNT; a++) {
		if (!dep.key_file[a])
			continue;
		key_facts(dep.key_file[a], dep.cert_file[a], ret->now, &ret->keys[a]);
		if (ret->keys[a].age > oldest)
			oldest = ret->keys[a].age;
	}
	pf_tls_files_free(&dep);
	/* Idle: the next scheduled rollover, when the oldest key is due. */
	if (r->st.phase == PF_PHASE_IDLE && r->cfg->rollover_interval > 0 && oldest >= 0)
		ret->next_step_at = ret->now - oldest + r->cfg->rollover_interval;
	return 0;
}

void roll_counters(pf_roll *r, uint64_t *ret_completed, uint64_t *ret_failed)
{
	*ret_completed = r->st.rollovers_completed;
	*ret_failed = r->st.rollovers_failed;
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
	if (!json) {
		pf_status_print(&r->st, &t, roll_now(r), json, out);
		pf_audit_print(r->cfg->state_directory, false, out);
		return 0;
	}
	/* JSON grows by one member: the daemon's audit (null without one). */
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);

	if (!mem)
		return pf_err_set(e, ENOMEM, "out of memory");
	pf_status_print(&r->st, &t, roll_now(r), json, mem);
	fclose(mem);
	while (len && (text[len - 1] == '\n' || text[len - 1] == '}'))
		if (text[--len] == '}')
			break;
	fwrite(text, 1, len, out);
	fputs(",\"audit\":", out);
	pf_audit_print(r->cfg->state_directory, true, out);
	fputs("}\n", out);
	free(text);
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
	case PF_PHASE_STAGED: {
		char line[240];

		pf_status_emergency(&r->st, &t, now, line, sizeof(line));
		snprintf(r->status, sizeof(r->status), "staged, %s", line);
		break;
	}
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
	if (r->st.staging && r->st.phase != PF_PHASE_STAGED) {
		/* "staging a next key: published: 1 of 3 check servers ..." */
		char tail[sizeof(r->status)];

		snprintf(tail, sizeof(tail), "%s", r->status);
		snprintf(r->status, sizeof(r->status), "staging a next key: %.270s", tail);
	}
	return r->status;
}
