/*
 * status.c - the status report.  The JSON form is versioned: fields may be
 * added, none renamed or removed without a new "schema" number.
 */
#include "status.h"

#include <string.h>
#include <sys/stat.h>

#include "macro.h"

void pf_json_string(FILE *out, const char *s)
{
	if (!s) {
		fputs("null", out);
		return;
	}
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(out, "\\u%04x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

static const char *fmt_time(int64_t t, char *buf, size_t len)
{
	return t ? pf_timing_fmt_time(t, buf, len) : "-";
}

static const char *fmt_age(const char *path, int64_t now, char *buf, size_t len)
{
	struct stat st;

	if (!path || stat(path, &st) < 0)
		return "-";
	return pf_fmt_duration(now - st.st_mtime, buf, len);
}

bool pf_status_emergency(const pf_state *st, const pf_timing *t, int64_t now, char *buf, size_t len)
{
	char when[40], left[32];

	if (st->phase == PF_PHASE_STAGED && t->deploy_known) {
		if (now >= t->deploy_at) {
			snprintf(buf, len, "%s",
				 st->staging ? "an emergency rollover would deploy at once"
					     : "rollover requested: deploying now");
			return true;
		}
		snprintf(buf, len, "%s from %s (in %s)",
			 st->staging ? "an emergency rollover could deploy"
				     : "rollover requested: deploying",
			 pf_timing_fmt_time(t->deploy_at, when, sizeof(when)),
			 pf_fmt_duration(t->deploy_at - now, left, sizeof(left)));
		return false;
	}
	if (st->staging)
		snprintf(buf, len,
			 "a next key is being staged (phase %s): an emergency rollover would "
			 "wait for its records to be served everywhere and their TTLs",
			 pf_phase_name(st->phase));
	else if (st->phase == PF_PHASE_IDLE && !st->rollover[0])
		snprintf(buf, len,
			 "no next key is staged: an emergency rollover would publish one and "
			 "wait out its TTLs before deploying it");
	else
		snprintf(buf, len, "a rollover is under way (phase %s)",
			 pf_phase_name(st->phase == PF_PHASE_FAILED ? st->failed_from : st->phase));
	return false;
}

static int64_t file_age(const char *path, int64_t now)
{
	struct stat st;

	return path && stat(path, &st) == 0 ? now - st.st_mtime : -1;
}

static void json_time(FILE *out, const char *name, int64_t t, bool known)
{
	fprintf(out, ",\"%s\":", name);
	if (known)
		fprintf(out, "%lld", (long long)t);
	else
		fputs("null", out);
}

/* The members prepublish added: "staging", "staged", "emergency". */
static void print_json_staged(const pf_state *st, const pf_timing *t, int64_t now, FILE *out)
{
	char line[300];
	bool ready = pf_status_emergency(st, t, now, line, sizeof(line));

	fprintf(out, ",\"staging\":%s,\"staged\":", st->staging ? "true" : "false");
	if (st->phase == PF_PHASE_STAGED) {
		fputs("{\"keys\":[", out);
		for (int a = 0, first = 1; a < PF_ALG_COUNT; a++) {
			const pf_state_key *k = &st->keys[a];

			if (!k->present || !pf_state_key_has_next(k))
				continue;
			fprintf(out, "%s{\"algorithm\":\"%s\",\"key\":", first ? "" : ",",
				pf_alg_name((enum pf_alg)a));
			first = 0;
			pf_json_string(out, k->next_key);
			fputs(",\"cert\":", out);
			pf_json_string(out, k->next_cert);
			fprintf(out, ",\"spki_sha256\":\"%s\"", k->next_spki);
			json_time(out, "age", file_age(k->next_key, now),
				  file_age(k->next_key, now) >= 0);
			fputc('}', out);
		}
		fputc(']', out);
		json_time(out, "served_since", st->t[PF_T_CONF], st->t[PF_T_CONF] != 0);
		json_time(out, "deployable_from", t->deploy_at, t->deploy_known);
		json_time(out, "requested", st->t[PF_T_REQUESTED], st->t[PF_T_REQUESTED] != 0);
		fputc('}', out);
	} else {
		fputs("null", out);
	}
	fprintf(out,
		",\"emergency\":{\"deploys_at_once\":%s,\"message\":", ready ? "true" : "false");
	pf_json_string(out, line);
	fputc('}', out);
}

static void print_json(const pf_state *st, const pf_timing *t, int64_t now, FILE *out)
{
	fprintf(out, "{\"schema\":1,\"now\":%lld,\"phase\":", (long long)now);
	pf_json_string(out, pf_phase_name(st->phase));
	fputs(",\"rollover\":", out);
	pf_json_string(out, st->rollover[0] ? st->rollover : NULL);
	fputs(",\"failed_from\":", out);
	pf_json_string(out, st->phase == PF_PHASE_FAILED ? pf_phase_name(st->failed_from) : NULL);
	fputs(",\"failed_reason\":", out);
	pf_json_string(out, st->failed_reason);
	fputs(",\"times\":{", out);
	for (int i = 0, first = 1; i < PF_T_COUNT; i++) {
		if (!st->t[i])
			continue;
		fprintf(out, "%s\"%s\":%lld", first ? "" : ",", pf_stamp_name((enum pf_stamp)i),
			(long long)st->t[i]);
		first = 0;
	}
	/* The same keys in epoch ms: a stamp kept to the ms as it is, any
	 * other its second times 1000. */
	fputs("},\"times_ms\":{", out);
	for (int i = 0, first = 1; i < PF_T_COUNT; i++) {
		if (!st->t[i])
			continue;
		fprintf(out, "%s\"%s\":%lld", first ? "" : ",", pf_stamp_name((enum pf_stamp)i),
			(long long)pf_state_stamp_ms(st, (enum pf_stamp)i));
		first = 0;
	}
	fputs("},\"keys\":[", out);
	for (int a = 0, first = 1; a < PF_ALG_COUNT; a++) {
		const pf_state_key *k = &st->keys[a];

		if (!k->present)
			continue;
		fprintf(out, "%s{\"algorithm\":\"%s\",\"next\":", first ? "" : ",",
			a == PF_ALG_ECDSA ? "ecdsa" : "rsa");
		first = 0;
		if (pf_state_key_has_next(k)) {
			fputs("{\"key\":", out);
			pf_json_string(out, k->next_key);
			fputs(",\"cert\":", out);
			pf_json_string(out, k->next_cert);
			fprintf(out, ",\"spki_sha256\":\"%s\"}", k->next_spki);
		} else {
			fputs("null", out);
		}
		fputs(",\"old\":", out);
		if (pf_state_key_has_old(k)) {
			fputs("{\"key\":", out);
			pf_json_string(out, k->old_key);
			fputs(",\"cert\":", out);
			pf_json_string(out, k->old_cert);
			fprintf(out, ",\"spki_sha256\":\"%s\"}", k->old_spki);
		} else {
			fputs("null", out);
		}
		fputc('}', out);
	}
	fputs("],\"records\":[", out);
	for (size_t i = 0; i < st->n_records; i++) {
		const pf_state_record *rec = &st->records[i];
		char owner[PF_OWNER_BUF], rd[160];

		tlsa_owner(rec->host, rec->port, owner, sizeof(owner));
		fprintf(out, "%s{\"role\":\"%s\",\"algorithm\":\"%s\",\"owner\":", i ? "," : "",
			rec->role == PF_ROLE_NEXT ? "next" : "old",
			rec->alg == PF_ALG_ECDSA ? "ecdsa" : "rsa");
		pf_json_string(out, owner);
		fprintf(out, ",\"tlsa\":\"%s\"}", tlsa_format(&rec->rdata, rd, sizeof(rd)));
	}
	fputs("],\"servers_confirmed\":[", out);
	for (size_t i = 0; i < st->n_servers; i++) {
		fprintf(out, "%s{\"server\":", i ? "," : "");
		pf_json_string(out, st->servers[i].name);
		fprintf(out, ",\"serial\":%u,\"confirmed\":%lld}", st->servers[i].serial,
			(long long)st->servers[i].confirmed);
	}
	if (t->ttl_known)
		fprintf(out, "],\"ttl_eff\":%u", t->ttl_eff);
	else
		fputs("],\"ttl_eff\":null", out);
	json_time(out, "deploy_at", t->deploy_at, t->deploy_known);
	json_time(out, "retire_at", t->retire_at, t->retire_known);
	json_time(out, "deploy_at_ms", t->deploy_at_ms, t->deploy_known);
	json_time(out, "retire_at_ms", t->retire_at_ms, t->retire_known);
	fputs(",\"waits\":[", out);
	for (int i = 0, first = 1; i < PF_WAIT_COUNT; i++) {
		const pf_wait *w = &t->waits[i];

		if (!w->started)
			continue;
		fprintf(out, "%s{\"name\":", first ? "" : ",");
		first = 0;
		pf_json_string(out, w->name);
		fprintf(out, ",\"start\":%lld,\"end\":", (long long)w->start);
		if (w->known)
			fprintf(out, "%lld", (long long)w->end);
		else
			fputs("null", out);
		fprintf(out, ",\"remaining\":%lld}", (long long)pf_wait_remaining(w, now));
	}
	fputc(']', out);
	print_json_staged(st, t, now, out);
	fputs(",\"events\":[", out);
	for (size_t i = 0; i < st->n_events; i++) {
		fprintf(out, "%s{\"time\":%lld,\"event\":", i ? "," : "",
			(long long)st->events[i].t);
		pf_json_string(out, st->events[i].kind);
		fputs(",\"phase\":", out);
		pf_json_string(out, pf_phase_name(st->events[i].phase));
		fputs(",\"message\":", out);
		pf_json_string(out, st->events[i].msg);
		fputc('}', out);
	}
	fputs("]}\n", out);
}

void pf_status_print(const pf_state *st, const pf_timing *t, int64_t now, bool json, FILE *out)
{
	char b1[40], b2[40], b3[40];
	size_t n_next = 0, n_old = 0;

	if (json) {
		print_json(st, t, now, out);
		return;
	}
	fprintf(out, "phase:     %s", pf_phase_name(st->phase));
	if (st->phase == PF_PHASE_FAILED)
		fprintf(out, " (in %s: %s)", pf_phase_name(st->failed_from),
			st->failed_reason ? st->failed_reason : "");
	fputc('\n', out);
	if (st->rollover[0])
		fprintf(out, "rollover:  %s, started %s\n", st->rollover,
			fmt_time(st->t[PF_T_STARTED], b1, sizeof(b1)));
	for (int a = 0; a < PF_ALG_COUNT; a++) {
		const pf_state_key *k = &st->keys[a];
		const char *alg = a == PF_ALG_ECDSA ? "ecdsa" : "rsa";

		if (!k->present)
			continue;
		if (pf_state_key_has_old(k))
			fprintf(out, "%-6s current %s\n       spki %s, age %s\n", alg, k->old_key,
				k->old_spki, fmt_age(k->old_key, now, b1, sizeof(b1)));
		if (pf_state_key_has_next(k))
			fprintf(out, "%-6s next    %s\n       spki %s, age %s\n", alg, k->next_key,
				k->next_spki, fmt_age(k->next_key, now, b1, sizeof(b1)));
	}
	for (size_t i = 0; i < st->n_records; i++)
		st->records[i].role == PF_ROLE_NEXT ? n_next++ : n_old++;
	if (st->n_records)
		fprintf(out, "records:   %zu new, %zu old\n", n_next, n_old);
	if (st->n_servers) {
		fprintf(out, "check servers confirmed:\n");
		for (size_t i = 0; i < st->n_servers; i++)
			fprintf(out, "  %-28s serial %-10u at %s\n", st->servers[i].name,
				st->servers[i].serial,
				fmt_time(st->servers[i].confirmed, b1, sizeof(b1)));
	}
	if (t->ttl_known)
		fprintf(out, "TTLeff:    %us (ttl_factor %u, publish_safety %llds)\n", t->ttl_eff,
			t->params.ttl_factor, (long long)t->params.publish_safety);
	for (int i = 0; i < PF_WAIT_COUNT; i++) {
		const pf_wait *w = &t->waits[i];
		int64_t left = pf_wait_remaining(w, now);

		if (!w->started)
			continue;
		fprintf(out, "wait %-22s from %s to %s%s%s\n", w->name,
			fmt_time(w->start, b1, sizeof(b1)),
			w->known ? fmt_time(w->end, b2, sizeof(b2)) : "(when it happens)",
			left > 0 ? ", left " : (left == 0 ? ", done" : ""),
			left > 0 ? pf_fmt_duration(left, b3, sizeof(b3)) : "");
	}
	if (t->deploy_known && st->phase <= PF_PHASE_DEPLOYABLE && st->phase >= PF_PHASE_PUBLISHED)
		fprintf(out, "deploy:    not before %s\n", fmt_time(t->deploy_at, b1, sizeof(b1)));
	if (t->retire_known && st->phase == PF_PHASE_VERIFIED)
		fprintf(out, "retire:    not before %s\n", fmt_time(t->retire_at, b1, sizeof(b1)));
	if (st->phase == PF_PHASE_STAGED) {
		fprintf(out, "staged:    served by every check server since %s\n",
			fmt_time(st->t[PF_T_CONF], b1, sizeof(b1)));
		fprintf(out, "           may be deployed from %s\n",
			t->deploy_known ? fmt_time(t->deploy_at, b1, sizeof(b1)) : "-");
		if (st->t[PF_T_REQUESTED])
			fprintf(out, "           rollover requested at %s\n",
				fmt_time(st->t[PF_T_REQUESTED], b1, sizeof(b1)));
	}
	if (st->staging || st->phase == PF_PHASE_STAGED) {
		char line[300];

		pf_status_emergency(st, t, now, line, sizeof(line));
		fprintf(out, "emergency: %s\n", line);
	}
	if (st->n_events) {
		fprintf(out, "recent events:\n");
		for (size_t i = 0; i < st->n_events; i++)
			fprintf(out, "  %s %-22s %s\n", fmt_time(st->events[i].t, b1, sizeof(b1)),
				st->events[i].kind, st->events[i].msg);
	}
}
