/*
 * roll_audit.c - what is in service, watched between rollovers: the
 * DNSSEC verdicts of a propagation round as check prints them, and the
 * daemon's periodic audit (every audit_interval) with its findings, each
 * logged once when it opens, reminded at most hourly, and logged again when
 * it closes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dnssec.h"
#include "roll_audit.h"
#include "roll_int.h"
#include "status.h"

static const char *fmt_utc(uint64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!t || !gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%SZ", &tm))
		snprintf(buf, len, "unknown");
	return buf;
}

void roll_report_dnssec(pf_roll *r, const dns_prop_round *rd, const dns_prop_server *sv,
			const char *chain_err)
{
	for (size_t k = 0; k < rd->n_owners; k++) {
		const dns_prop_rrset *rs = &sv->rrsets[k];
		char when[40];

		if (!rs->n_rr)
			continue;
		if (chain_err && rs->dnssec == DNS_PROP_UNVALIDATED) {
			roll_progress(r, "%s: %s TLSA %s: %s", sv->target.addr.label, rd->owners[k],
				      rd->zone_signed ? "bogus" : "insecure", chain_err);
			continue;
		}
		switch (rs->dnssec) {
		case DNS_PROP_VALIDATES:
			roll_progress(r, "%s: %s TLSA validates (signatures valid until %s)",
				      sv->target.addr.label, rd->owners[k],
				      fmt_utc(rs->sig_expiry, when, sizeof(when)));
			break;
		case DNS_PROP_BOGUS:
			roll_progress(r, "%s: %s TLSA bogus: %s", sv->target.addr.label,
				      rd->owners[k], rs->dnssec_msg);
			break;
		case DNS_PROP_INSECURE:
			roll_progress(r, "WARNING: %s: %s TLSA insecure: %s", sv->target.addr.label,
				      rd->owners[k], rs->dnssec_msg);
			break;
		default:
			roll_progress(r, "WARNING: %s: %s TLSA not validated",
				      sv->target.addr.label, rd->owners[k]);
		}
	}
}

bool roll_dnssec_secure(const dns_prop_round *rd, const dns_prop_server *sv)
{
	for (size_t k = 0; k < rd->n_owners; k++)
		if (sv->rrsets[k].n_rr && (sv->rrsets[k].dnssec == DNS_PROP_BOGUS ||
					   sv->rrsets[k].dnssec == DNS_PROP_INSECURE))
			return false;
	return true;
}

/* ---- the periodic audit ---- */

PF_PRINTF(5, 6)
static void add(pf_audit_result *a, enum pf_event ev, const char *subject, const char *server,
		const char *fmt, ...)
{
	pf_audit_finding *f;
	va_list ap;

	for (size_t i = 0; i < a->n; i++)
		if (a->f[i].ev == ev && strcmp(a->f[i].subject, subject) == 0)
			return; /* the first word on it stands */
	if (a->n == PF_AUDIT_FINDINGS_MAX)
		return;
	a->f = pf_realloc(a->f, (a->n + 1) * sizeof(*a->f));
	f = &a->f[a->n++];
	memset(f, 0, sizeof(*f));
	f->ev = ev;
	snprintf(f->subject, sizeof(f->subject), "%s", subject);
	snprintf(f->server, sizeof(f->server), "%s", server ? server : "");
	va_start(ap, fmt);
	vsnprintf(f->msg, sizeof(f->msg), fmt, ap);
	va_end(ap);
}

static void note_server(pf_audit_result *a, const char *name, unsigned served, unsigned wanted)
{
	for (size_t i = 0; i < a->n_servers; i++)
		if (strcmp(a->servers[i].name, name) == 0) {
			a->servers[i].served += served;
			a->servers[i].wanted += wanted;
			return;
		}
	a->servers = pf_realloc(a->servers, (a->n_servers + 1) * sizeof(*a->servers));
	snprintf(a->servers[a->n_servers].name, sizeof(a->servers[0].name), "%s", name);
	a->servers[a->n_servers].served = served;
	a->servers[a->n_servers++].wanted = wanted;
}

/* An audit of the next keys' records (next) or the deployed ones', as the
 * walks report to it. */
typedef struct audit_walk {
	pf_audit_result *a;
	bool next;
} audit_walk;

/* What a walk saw on the check servers, as findings. */
static void audit_seen(void *userdata, const roll_seen_item *it)
{
	audit_walk *w = userdata;
	const char *whose = w->next ? "next" : "deployed";
	const char *label = it->sv ? it->sv->target.addr.label : NULL;
	char subj[160];

	switch (it->what) {
	case ROLL_SEEN_NO_DNS:
		add(w->a, PF_EV_AUDIT_INCOMPLETE, it->zone ? it->zone : "dns", NULL, "%s", it->msg);
		break;
	case ROLL_SEEN_UNSIGNED:
		add(w->a, PF_EV_AUDIT_INSECURE, it->zone, NULL, "%s", it->msg);
		break;
	case ROLL_SEEN_NO_CHAIN:
		add(w->a, PF_EV_AUDIT_BOGUS, it->zone, NULL, "%s", it->msg);
		break;
	case ROLL_SEEN_SERVER:
		if (!w->next)
			note_server(w->a, label, (unsigned)it->sv->n_match, (unsigned)it->wanted);
		snprintf(subj, sizeof(subj), "%.10s %.64s", whose, label);
		if (!it->sv->complete)
			add(w->a, w->next ? PF_EV_AUDIT_NEXT : PF_EV_AUDIT_MISSING, subj, label,
			    "%s serves %zu of the %zu %s keys' records%s%s", label, it->sv->n_match,
			    it->wanted, whose, it->sv->note[0] ? ": " : "", it->sv->note);
		break;
	case ROLL_SEEN_RRSET:
		snprintf(subj, sizeof(subj), "%s %s", label, it->owner);
		add(w->a, it->verdict == DNS_PROP_BOGUS ? PF_EV_AUDIT_BOGUS : PF_EV_AUDIT_INSECURE,
		    subj, label, "%s", it->msg);
		break;
	case ROLL_SEEN_ZONE_DONE:
		break;
	}
}

/* What the endpoint walk saw, as findings. */
static void audit_endpoint(void *userdata, const roll_endpoint_seen *s)
{
	char subj[160];

	if (s->ok)
		return;
	snprintf(subj, sizeof(subj), "%.100s %.10s", s->label, pf_alg_name(s->alg));
	add(userdata, PF_EV_AUDIT_ENDPOINT, subj, s->label, "%s", s->msg);
}

/* The records idx[0..n) of r->st on every check server of every zone:
 * served, and (for the deployed keys) validated. */
static void audit_servers(pf_roll *r, const size_t *idx, size_t n, bool next, pf_audit_result *a)
{
	audit_walk w = {.a = a, .next = next};

	roll_walk_servers(r, idx, n, !next, &a->sig_expiry, audit_seen, &w);
}

/* A phase with next keys published and not yet deployed; a phase this
 * code does not know counts as one (the state says which keys it has). */
static bool next_published(enum pf_phase p)
{
	switch (p) {
	case PF_PHASE_IDLE:
	case PF_PHASE_GENERATED:
	case PF_PHASE_DEPLOYED:
	case PF_PHASE_VERIFIED:
	case PF_PHASE_RETIRED:
	case PF_PHASE_FAILED:
		return false;
	default:
		return true;
	}
}

void roll_audit_run(pf_roll *r, pf_audit_result *ret)
{
	pf_tls_files dep = {0};
	pf_state saved;
	FILE *saved_progress = r->progress, *quiet;
	size_t *idx, n;
	pf_err e = {0};

	memset(ret, 0, sizeof(*ret));
	ret->time = roll_now(r);
	if (roll_load_state(r, &e) < 0) {
		add(ret, PF_EV_AUDIT_INCOMPLETE, "state", NULL, "%s", e.msg);
		return;
	}
	/* The next keys' records, while they wait to be deployed. */
	if (next_published(r->st.phase)) {
		idx = pf_calloc(r->st.n_records + 1, sizeof(size_t));
		n = roll_select_records(&r->st, PF_ROLE_NEXT, idx);
		if (n)
			audit_servers(r, idx, n, true, ret);
		free(idx);
		dns_zones_free(r->zones, r->n_zones);
		r->zones = NULL;
		r->n_zones = 0;
	}
	if (!(quiet = fopen("/dev/null", "w"))) {
		add(ret, PF_EV_AUDIT_INCOMPLETE, "audit", NULL, "cannot open /dev/null");
		return;
	}
	saved = r->st;
	if (roll_audit_begin(r, quiet, &dep, &e) < 0) {
		add(ret, PF_EV_AUDIT_INCOMPLETE, "main.cf", NULL, "%s", e.msg);
		roll_audit_end(r, &saved, saved_progress, &dep);
		fclose(quiet);
		return;
	}
	idx = pf_calloc(r->st.n_records + 1, sizeof(size_t));
	n = roll_select_records(&r->st, PF_ROLE_NEXT, idx);
	audit_servers(r, idx, n, false, ret);
	/* Every verify endpoint x deployed algorithm: the deployed key
	 * presented, DANE-valid against its records. */
	roll_walk_endpoints(r, idx, n, audit_endpoint, ret);
	/* main.cf against the state: a deployed key it knows of neither as
	 * the next nor as the old one was put there by hand. */
	for (int al = 0; al < PF_ALG_COUNT; al++) {
		const pf_state_key *d = &r->st.keys[al], *k = &saved.keys[al];
		char subj[64];

		if (!d->present || !k->present || (!k->next_spki[0] && !k->old_spki[0]))
			continue;
		if (strcmp(d->next_spki, k->next_spki) == 0 ||
		    strcmp(d->next_spki, k->old_spki) == 0)
			continue;
		snprintf(subj, sizeof(subj), "main.cf %s", pf_alg_name((enum pf_alg)al));
		add(ret, PF_EV_AUDIT_MAINCF, subj, NULL,
		    "main.cf deploys the %s key %s (spki %.16s...), which the rollover state does "
		    "not know (it knows %.16s...)",
		    pf_alg_name((enum pf_alg)al), d->next_key ? d->next_key : "?", d->next_spki,
		    k->next_spki[0] ? k->next_spki : k->old_spki);
	}
	free(idx);
	roll_audit_end(r, &saved, saved_progress, &dep);
	fclose(quiet);
}

void pf_audit_result_free(pf_audit_result *a)
{
	if (!a)
		return;
	free(a->f);
	free(a->servers);
	memset(a, 0, sizeof(*a));
}

/* ---- the book of open findings ---- */

static void log_finding(enum pf_event ev, const pf_audit_finding *f, const char *fmt, ...)
	PF_PRINTF(3, 4);
static void log_finding(enum pf_event ev, const pf_audit_finding *f, const char *fmt, ...)
{
	pf_event_ctx ctx = {.phase = PF_PHASE_IDLE, .server = f->server[0] ? f->server : NULL};
	char text[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	pf_journal_log(ev, &ctx, "%s", text);
}

static void write_book(const pf_audit_book *b, const char *dir)
{
	char *path, *text = NULL;
	size_t len = 0;
	FILE *f;
	pf_err e = {0};

	if (!dir || !(f = open_memstream(&text, &len)))
		return;
	fprintf(f, "audit %lld %zu\n", (long long)b->last_audit, b->n);
	for (size_t i = 0; i < b->n; i++) {
		const pf_event_kind *k = pf_event_kind_get(b->f[i].ev);

		fprintf(f, "%s\t%lld\t%s\t%s\n", k ? k->name : "?", (long long)b->f[i].since,
			b->f[i].subject, b->f[i].msg);
	}
	fclose(f);
	path = pf_asprintf("%s/%s", dir, PF_AUDIT_FILE);
	pf_write_file_durable(path, text, len, 0644, 0, &e);
	free(path);
	free(text);
}

size_t pf_audit_book_update(pf_audit_book *b, pf_audit_result *a, int64_t now, const char *dir)
{
	char when[40];

	/* What ended. */
	for (size_t i = 0; i < b->n;) {
		bool still = false;

		for (size_t j = 0; j < a->n && !still; j++)
			still = a->f[j].ev == b->f[i].ev &&
				strcmp(a->f[j].subject, b->f[i].subject) == 0;
		if (still) {
			i++;
			continue;
		}
		const pf_event_kind *k = pf_event_kind_get(b->f[i].ev);
		log_finding(PF_EV_AUDIT_RESOLVED, &b->f[i], "resolved after %llds: %s: %s",
			    (long long)(now - b->f[i].since), k ? k->name : "?", b->f[i].msg);
		b->f[i] = b->f[--b->n];
	}
	/* What opened, and what stays open. */
	for (size_t j = 0; j < a->n; j++) {
		pf_audit_finding *f = NULL;

		for (size_t i = 0; i < b->n && !f; i++)
			if (b->f[i].ev == a->f[j].ev &&
			    strcmp(b->f[i].subject, a->f[j].subject) == 0)
				f = &b->f[i];
		if (f) {
			snprintf(f->msg, sizeof(f->msg), "%s", a->f[j].msg);
			if (now - f->logged >= PF_AUDIT_REMIND_SEC) {
				f->logged = now;
				log_finding(f->ev, f, "still, since %s: %s",
					    fmt_utc((uint64_t)f->since, when, sizeof(when)),
					    f->msg);
			}
			continue;
		}
		b->f = pf_realloc(b->f, (b->n + 1) * sizeof(*b->f));
		f = &b->f[b->n++];
		*f = a->f[j];
		f->since = f->logged = now;
		log_finding(f->ev, f, "%s", f->msg);
	}
	b->last_audit = a->time ? a->time : now;
	b->last_ok = b->n == 0;
	b->sig_expiry = a->sig_expiry;
	free(b->servers);
	b->servers = a->servers;
	b->n_servers = a->n_servers;
	a->servers = NULL;
	a->n_servers = 0;
	write_book(b, dir);
	return b->n;
}

void pf_audit_book_free(pf_audit_book *b)
{
	if (!b)
		return;
	free(b->f);
	free(b->servers);
	memset(b, 0, sizeof(*b));
}

size_t pf_audit_print(const char *dir, bool json, FILE *out)
{
	char *path = pf_asprintf("%s/%s", dir, PF_AUDIT_FILE), *text = NULL, *save = NULL, *line;
	long long last = 0;
	size_t len, n = 0, shown = 0;
	pf_err e = {0};

	if (pf_read_file(path, 1024 * 1024, &text, &len, &e) < 0) {
		free(path);
		if (json)
			fputs("null", out);
		return 0;
	}
	free(path);
	line = strtok_r(text, "\n", &save);
	if (!line || sscanf(line, "audit %lld %zu", &last, &n) != 2) {
		free(text);
		if (json)
			fputs("null", out);
		return 0;
	}
	if (json)
		fprintf(out, "{\"last\":%lld,\"findings\":[", last);
	else
		fprintf(out, "audit: %zu open finding%s (last audit %s)\n", n, n == 1 ? "" : "s",
			fmt_utc((uint64_t)last, (char[40]){0}, 40));
	while ((line = strtok_r(NULL, "\n", &save))) {
		char *kind = line, *since = strchr(kind, '\t'), *subj, *msg;

		if (!since || !(subj = strchr(since + 1, '\t')) || !(msg = strchr(subj + 1, '\t')))
			continue;
		*since++ = *subj++ = *msg++ = '\0';
		if (json) {
			fprintf(out, "%s{\"event\":", shown ? "," : "");
			pf_json_string(out, kind);
			fprintf(out, ",\"since\":%lld,\"subject\":", atoll(since));
			pf_json_string(out, subj);
			fputs(",\"message\":", out);
			pf_json_string(out, msg);
			fputc('}', out);
		} else {
			fprintf(out, "  %s since %s: %s\n", kind,
				fmt_utc((uint64_t)atoll(since), (char[40]){0}, 40), msg);
		}
		shown++;
	}
	if (json)
		fputs("]}", out);
	free(text);
	return shown;
}

void pf_audit_metrics(const pf_audit_book *b, pf_metrics *m)
{
	m->last_audit = b->last_audit;
	m->audit_findings = b->n;
	m->sig_expiry = b->sig_expiry;
	m->audit_served = b->servers;
	m->n_audit_served = b->n_servers;
}
