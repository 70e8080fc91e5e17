/*
 * metrics.c - the metrics_file in the Prometheus text exposition format:
 * one family per fact, each with "# HELP" and "# TYPE" before its samples,
 * names as Prometheus' naming practices say (pftls_ prefix, base units:
 * seconds, timestamps as _timestamp_seconds, counters ending in _total).
 * Label values are escaped as the format requires (backslash, double
 * quote, newline), so a server name from outside can never add a line or
 * a label.  A fact that is not known is left out rather than given a
 * made-up value.
 */
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void metrics_clear(pf_metrics *m)
{
	free(m->servers);
	memset(m, 0, sizeof(*m));
}

void metrics_add_server(pf_metrics *m, const char *name, bool served)
{
	pf_metrics_server *s;

	m->servers = pf_realloc(m->servers, (m->n_servers + 1) * sizeof(*m->servers));
	s = &m->servers[m->n_servers++];
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->served = served;
}

/* A label value, escaped: \ -> \\, " -> \", newline -> \n. */
static void put_label_value(FILE *f, const char *v)
{
	fputc('"', f);
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(f, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
	fputc('"', f);
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(FILE *f, const char *name, const char *label, const char *value, int64_t v)
{
	fputs(name, f);
	if (label) {
		fprintf(f, "{%s=", label);
		put_label_value(f, value);
		fputc('}', f);
	}
	fprintf(f, " %lld\n", (long long)v);
}

char *metrics_render(const pf_metrics *m)
{
	char *buf = NULL;
	size_t len = 0;
	bool any;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		abort();
	family(f, "pftls_phase", "gauge",
	       "Phase of the rollover (SPEC.md 4): 1 for the current phase, 0 for the others.");
	for (int p = 0; p < PF_PHASE_COUNT; p++)
		sample(f, "pftls_phase", "phase", pf_phase_name((enum pf_phase)p),
		       m->phase == (enum pf_phase)p);
	if (m->next_step_at) {
		family(f, "pftls_next_step_timestamp_seconds", "gauge",
		       "When the next step of the rollover becomes allowed (deploy, retire, or the "
		       "next scheduled rollover), seconds since the epoch.");
		sample(f, "pftls_next_step_timestamp_seconds", NULL, NULL, m->next_step_at);
		family(f, "pftls_next_step_seconds", "gauge",
		       "Seconds from the metrics write until the next step becomes allowed (0: "
		       "due).");
		sample(f, "pftls_next_step_seconds", NULL, NULL,
		       m->next_step_at > m->now ? m->next_step_at - m->now : 0);
	}
	if (m->last_phase_change) {
		family(f, "pftls_last_phase_change_timestamp_seconds", "gauge",
		       "When the rollover last entered a phase, seconds since the epoch.");
		sample(f, "pftls_last_phase_change_timestamp_seconds", NULL, NULL,
		       m->last_phase_change);
	}
	any = false;
	for (int a = 0; a < PF_ALG_COUNT; a++)
		any |= m->keys[a].present && m->keys[a].age >= 0;
	if (any) {
		family(f, "pftls_key_age_seconds", "gauge",
		       "Age of the key deployed in main.cf, by algorithm, seconds.");
		for (int a = 0; a < PF_ALG_COUNT; a++)
			if (m->keys[a].present && m->keys[a].age >= 0)
				sample(f, "pftls_key_age_seconds", "algorithm",
				       pf_alg_name((enum pf_alg)a), m->keys[a].age);
	}
	any = false;
	for (int a = 0; a < PF_ALG_COUNT; a++)
		any |= m->keys[a].present && m->keys[a].cert_not_after;
	if (any) {
		family(f, "pftls_certificate_expiry_timestamp_seconds", "gauge",
		       "notAfter of the certificate deployed in main.cf, by algorithm, seconds "
		       "since the epoch.");
		for (int a = 0; a < PF_ALG_COUNT; a++)
			if (m->keys[a].present && m->keys[a].cert_not_after)
				sample(f, "pftls_certificate_expiry_timestamp_seconds", "algorithm",
				       pf_alg_name((enum pf_alg)a), m->keys[a].cert_not_after);
	}
	if (m->n_servers) {
		family(f, "pftls_records_served", "gauge",
		       "1 when the check server was seen serving every new record of the "
		       "rollover, 0 when not yet.");
		for (size_t i = 0; i < m->n_servers; i++)
			sample(f, "pftls_records_served", "server", m->servers[i].name,
			       m->servers[i].served);
	}
	if (m->last_audit) {
		family(f, "pftls_audit_last_timestamp_seconds", "gauge",
		       "When the daemon's last audit (audit_interval) ran, seconds since the "
		       "epoch.");
		sample(f, "pftls_audit_last_timestamp_seconds", NULL, NULL, m->last_audit);
		family(f, "pftls_audit_ok", "gauge",
		       "1 when the last audit found nothing wrong, 0 when it left findings open.");
		sample(f, "pftls_audit_ok", NULL, NULL, m->audit_findings == 0);
		family(f, "pftls_audit_findings", "gauge", "Findings the last audit left open.");
		sample(f, "pftls_audit_findings", NULL, NULL, (int64_t)m->audit_findings);
	}
	if (m->sig_expiry) {
		family(f, "pftls_dnssec_signature_expiry_timestamp_seconds", "gauge",
		       "Earliest expiry of the signatures validating the deployed keys' TLSA "
		       "RRsets (the whole chain to the trust anchor), seconds since the epoch.");
		sample(f, "pftls_dnssec_signature_expiry_timestamp_seconds", NULL, NULL,
		       m->sig_expiry);
	}
	if (m->n_audit_served) {
		family(f, "pftls_audit_records_served", "gauge",
		       "Records of the deployed keys the check server served at the last audit.");
		for (size_t i = 0; i < m->n_audit_served; i++)
			sample(f, "pftls_audit_records_served", "server", m->audit_served[i].name,
			       m->audit_served[i].served);
		family(f, "pftls_audit_records_wanted", "gauge",
		       "Records of the deployed keys the check server should serve.");
		for (size_t i = 0; i < m->n_audit_served; i++)
			sample(f, "pftls_audit_records_wanted", "server", m->audit_served[i].name,
			       m->audit_served[i].wanted);
	}
	family(f, "pftls_rollovers_completed_total", "counter", "Rollovers completed.");
	sample(f, "pftls_rollovers_completed_total", NULL, NULL, (int64_t)m->rollovers_completed);
	family(f, "pftls_rollovers_failed_total", "counter",
	       "Times a rollover stopped in phase failed (or its key generation failed).");
	sample(f, "pftls_rollovers_failed_total", NULL, NULL, (int64_t)m->rollovers_failed);
	family(f, "pftls_metrics_write_timestamp_seconds", "gauge",
	       "When pftls-rolld wrote this file, seconds since the epoch.");
	sample(f, "pftls_metrics_write_timestamp_seconds", NULL, NULL, m->now);
	if (fclose(f) != 0)
		abort();
	return buf;
}

int metrics_write(const char *path, const pf_metrics *m, pf_err *e)
{
	char *text = metrics_render(m);
	int rc = pf_write_file_durable(path, text, strlen(text), 0644, 0, e);

	free(text);
	return rc;
}
