/*
 * state_file.c - the rollover state file: its grammar, the checksum line that
 * detects torn or edited files, the all-or-nothing parser and the durable
 * write (see state.h for the format).
 *
 * Why so strict: the daemon resumes a rollover from this file alone, and a
 * wrong phase or a lost timestamp could deploy a key before its records are
 * cached everywhere, or withdraw the records of a live key.  So the reader
 * believes a file only when it is complete, checksummed and self-consistent,
 * and otherwise stops with one line saying where it is wrong.
 *
 * The lines, in the order written (absent ones are simply not there):
 *   pftls-roll-state 1
 *   rollover = <32 hex>            phase = <phase>
 *   failed_from = <phase>          failed_reason = <text>     (phase failed)
 *   t_started ... t_failed = <seconds since the epoch>, or for the
 *                  stamps kept to the ms (state.h t_ms) <seconds>.<mmm>,
 *                  exactly three digits; a whole second means that second
 *   <alg>.next_key / next_cert = <path>   <alg>.next_spki = <64 hex>
 *   <alg>.old_key / old_cert = <path>     <alg>.old_spki = <64 hex>
 *   record = next|old <alg> <host> <port> <usage> <selector> <mtype> <hex>
 *   maincf = <name>=<value> | <name>      (the second: not set in main.cf)
 *   rrset_before = <host> <port> <ttl>|none
 *   tlsa_ttl, soa_ttl, soa_minimum, update_serial = <number>
 *   ttl_factor, publish_safety, propagation_min_delay, retire_delay = <number>
 *   server = <host[:port]> <serial> <seconds>
 *   alert_count, alert_last = <number>
 *   rollovers_completed, rollovers_failed = <number>  (kept across rollovers;
 *                                  absent in files older than the counters)
 *   staging = yes                  (prepublish: the cycle holds in phase
 *                                  staged; absent otherwise and in older files)
 *   event = <seconds> <kind> <phase> <message>
 *   checksum = <SHA-256 in hex of all the bytes before this line>
 * Scalar keys may appear once; record, maincf, rrset_before, server and
 * event repeat.  Values are the rest of the line after " = ", verbatim.
 */
#include "state.h"
#include "macro.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#define HEADER "pftls-roll-state"
#define CHECKSUM_KEY "checksum"

/* Per-algorithm key fields, "<alg>.<field>" in the file. */
enum kfield {
	KF_NEXT_KEY,
	KF_NEXT_CERT,
	KF_NEXT_SPKI,
	KF_OLD_KEY,
	KF_OLD_CERT,
	KF_OLD_SPKI,
	KF_COUNT
};
static const char *const kfield_names[KF_COUNT] = {
	"next_key", "next_cert", "next_spki", "old_key", "old_cert", "old_spki",
};

/* Scalar keys, each allowed once; their slots index parser.seen[]. */
enum skey {
	K_ROLLOVER,
	K_PHASE,
	K_FAILED_FROM,
	K_FAILED_REASON,
	K_STAMP0,
	K_TLSA_TTL = K_STAMP0 + PF_T_COUNT,
	K_SOA_TTL,
	K_SOA_MINIMUM,
	K_UPDATE_SERIAL,
	K_TTL_FACTOR,
	K_PUBLISH_SAFETY,
	K_PROPAGATION_MIN_DELAY,
	K_RETIRE_DELAY,
	K_ALERT_COUNT,
	K_ALERT_LAST,
	K_ROLLOVERS_COMPLETED,
	K_ROLLOVERS_FAILED,
	K_STAGING,
	K_KEY0,
	K_COUNT = K_KEY0 + PF_ALG_COUNT * KF_COUNT
};

static const char *const skey_names[K_KEY0] = {
	[K_ROLLOVER] = "rollover",
	[K_PHASE] = "phase",
	[K_FAILED_FROM] = "failed_from",
	[K_FAILED_REASON] = "failed_reason",
	[K_TLSA_TTL] = "tlsa_ttl",
	[K_SOA_TTL] = "soa_ttl",
	[K_SOA_MINIMUM] = "soa_minimum",
	[K_UPDATE_SERIAL] = "update_serial",
	[K_TTL_FACTOR] = "ttl_factor",
	[K_PUBLISH_SAFETY] = "publish_safety",
	[K_PROPAGATION_MIN_DELAY] = "propagation_min_delay",
	[K_RETIRE_DELAY] = "retire_delay",
	[K_ALERT_COUNT] = "alert_count",
	[K_ALERT_LAST] = "alert_last",
	[K_ROLLOVERS_COMPLETED] = "rollovers_completed",
	[K_ROLLOVERS_FAILED] = "rollovers_failed",
	[K_STAGING] = "staging",
};

/* Largest timestamp or duration accepted: far beyond any real clock, small
 * enough that sums of a few of them cannot overflow int64_t. */
/* ---- the writer ---- */

static void sha256_hex(const char *data, size_t len, char out[PF_SHA256_HEX_BUF])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		abort(); /* SHA-256 cannot fail short of a broken OpenSSL */
	pf_hex(md, 32, out);
}

static void put_key_line(FILE *f, enum pf_alg alg, enum kfield kf, const char *value)
{
	fprintf(f, "%s.%s = %s\n", pf_alg_name(alg), kfield_names[kf], value);
}

int pf_state_format(const pf_state *st, char **ret, size_t *ret_len, pf_err *e)
{
	char *buf = NULL, sum[PF_SHA256_HEX_BUF];
	size_t len = 0;
	FILE *f;
	int r;

	if ((r = pf_state_validate(st, e)) < 0)
		return r;
	f = open_memstream(&buf, &len);
	if (!f)
		abort();
	fprintf(f, "%s %d\n", HEADER, PF_STATE_VERSION);
	if (st->rollover[0])
		fprintf(f, "rollover = %s\n", st->rollover);
	fprintf(f, "phase = %s\n", pf_phase_name(st->phase));
	if (st->phase == PF_PHASE_FAILED) {
		fprintf(f, "failed_from = %s\n", pf_phase_name(st->failed_from));
		fprintf(f, "failed_reason = %s\n", st->failed_reason);
	}
	for (size_t i = 0; i < PF_T_COUNT; i++) {
		int64_t ms = pf_state_stamp_ms(st, (enum pf_stamp)i);

		if (!st->t[i])
			continue;
		if (st->t_ms[i] && ms == st->t_ms[i])
			fprintf(f, "%s = %lld.%03lld\n", pf_stamp_name((enum pf_stamp)i),
				(long long)(ms / 1000), (long long)(ms % 1000));
		else
			fprintf(f, "%s = %lld\n", pf_stamp_name((enum pf_stamp)i),
				(long long)st->t[i]);
	}
	for (size_t a = 0; a < PF_ALG_COUNT; a++) {
		const pf_state_key *k = &st->keys[a];

		if (!k->present)
			continue;
		if (pf_state_key_has_next(k)) {
			put_key_line(f, (enum pf_alg)a, KF_NEXT_KEY, k->next_key);
			put_key_line(f, (enum pf_alg)a, KF_NEXT_CERT, k->next_cert);
			put_key_line(f, (enum pf_alg)a, KF_NEXT_SPKI, k->next_spki);
		}
		if (pf_state_key_has_old(k)) {
			put_key_line(f, (enum pf_alg)a, KF_OLD_KEY, k->old_key);
			put_key_line(f, (enum pf_alg)a, KF_OLD_CERT, k->old_cert);
			put_key_line(f, (enum pf_alg)a, KF_OLD_SPKI, k->old_spki);
		}
	}
	for (size_t i = 0; i < st->n_records; i++) {
		const pf_state_record *rec = &st->records[i];
		char hex[129];

		pf_hex(rec->rdata.data, rec->rdata.len, hex);
		fprintf(f, "record = %s %s %s %u %u %u %u %s\n",
			rec->role == PF_ROLE_NEXT ? "next" : "old", pf_alg_name(rec->alg),
			rec->host, rec->port, rec->rdata.usage, rec->rdata.selector,
			rec->rdata.mtype, hex);
	}
	for (size_t i = 0; i < st->n_maincf; i++) {
		const pf_state_setting *s = &st->maincf[i];

		if (s->value)
			fprintf(f, "maincf = %s=%s\n", s->name, s->value);
		else
			fprintf(f, "maincf = %s\n", s->name);
	}
	for (size_t i = 0; i < st->n_rrsets; i++) {
		const pf_state_rrset *rs = &st->rrsets[i];

		if (rs->existed)
			fprintf(f, "rrset_before = %s %u %u\n", rs->host, rs->port, rs->ttl);
		else
			fprintf(f, "rrset_before = %s %u none\n", rs->host, rs->port);
	}
	if (st->tlsa_ttl)
		fprintf(f, "tlsa_ttl = %u\n", st->tlsa_ttl);
	if (st->have_soa)
		fprintf(f, "soa_ttl = %u\nsoa_minimum = %u\n", st->soa_ttl, st->soa_minimum);
	if (st->have_serial)
		fprintf(f, "update_serial = %u\n", st->update_serial);
	if (st->have_params)
		fprintf(f,
			"ttl_factor = %u\npublish_safety = %lld\npropagation_min_delay = %lld\n"
			"retire_delay = %lld\n",
			st->params.ttl_factor, (long long)st->params.publish_safety,
			(long long)st->params.propagation_min_delay,
			(long long)st->params.retire_delay);
	for (size_t i = 0; i < st->n_servers; i++)
		fprintf(f, "server = %s %u %lld\n", st->servers[i].name, st->servers[i].serial,
			(long long)st->servers[i].confirmed);
	if (st->alert_count)
		fprintf(f, "alert_count = %u\n", st->alert_count);
	if (st->alert_last)
		fprintf(f, "alert_last = %lld\n", (long long)st->alert_last);
	if (st->rollovers_completed)
		fprintf(f, "rollovers_completed = %llu\n",
			(unsigned long long)st->rollovers_completed);
	if (st->rollovers_failed)
		fprintf(f, "rollovers_failed = %llu\n", (unsigned long long)st->rollovers_failed);
	if (st->staging)
		fputs("staging = yes\n", f);
	for (size_t i = 0; i < st->n_events; i++) {
		const pf_state_event *ev = &st->events[i];

		fprintf(f, "event = %lld %s %s%s%s\n", (long long)ev->t, ev->kind,
			pf_phase_name(ev->phase), ev->msg[0] ? " " : "", ev->msg);
	}
	if (fclose(f) != 0)
		abort();
	sha256_hex(buf, len, sum);
	*ret = pf_asprintf("%s%s = %s\n", buf, CHECKSUM_KEY, sum);
	if (ret_len)
		*ret_len = strlen(*ret);
	free(buf);
	return 0;
}

/* ---- the parser ---- */

typedef struct parser {
	const char *name;
	unsigned line;
	unsigned seen[K_COUNT]; /* line of each scalar key, 0 when absent */
	unsigned phase_line;
	unsigned *record_line; /* line of each record, for a duplicate found later */
	pf_err *e;
	pf_state st;
} parser;

PF_PRINTF(2, 3) static int perr(parser *ps, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return pf_err_set(ps->e, EINVAL, "%s:%u: %s", ps->name, ps->line, msg);
}

/* Parse a decimal number of at most max; digits only, no sign or space.
 * Returns 0 or -EINVAL. */
static int parse_num(const char *s, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;

	if (!*s || strlen(s) > 20)
		return -EINVAL;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		if (v > (max - (uint64_t)(*s - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*ret = v;
	return 0;
}

static int parse_u32(parser *ps, const char *key, const char *s, uint32_t *ret)
{
	uint64_t v;

	if (parse_num(s, UINT32_MAX, &v) < 0)
		return perr(ps, "bad %s value \"%.60s\" (a number from 0 to 4294967295)", key, s);
	*ret = (uint32_t)v;
	return 0;
}

static int parse_secs(parser *ps, const char *key, const char *s, int64_t *ret)
{
	uint64_t v;

	if (parse_num(s, (uint64_t)PF_STATE_MAX_SECONDS, &v) < 0)
		return perr(ps, "bad %s value \"%.60s\" (a number of seconds)", key, s);
	*ret = (int64_t)v;
	return 0;
}

/* A stamp: whole seconds ("S", that second: *ret_ms 0) or seconds and
 * exactly three digits of milliseconds ("S.mmm": *ret the second rounded
 * up, as pf_state_set_stamp_ms keeps it). */
static int parse_stamp(parser *ps, const char *key, const char *s, int64_t *ret, int64_t *ret_ms)
{
	const char *dot = strchr(s, '.');
	char whole[24];
	uint64_t secs;

	if (!dot) {
		*ret_ms = 0;
		return parse_secs(ps, key, s, ret);
	}
	if (dot == s || (size_t)(dot - s) >= sizeof(whole) || strlen(dot + 1) != 3 ||
	    !isdigit((unsigned char)dot[1]) || !isdigit((unsigned char)dot[2]) ||
	    !isdigit((unsigned char)dot[3]))
		goto bad;
	memcpy(whole, s, (size_t)(dot - s));
	whole[dot - s] = '\0';
	if (parse_num(whole, (uint64_t)PF_STATE_MAX_SECONDS, &secs) < 0)
		goto bad;
	*ret_ms =
		(int64_t)secs * 1000 + (dot[1] - '0') * 100 + (dot[2] - '0') * 10 + (dot[3] - '0');
	*ret = (*ret_ms + 999) / 1000;
	return 0;
bad:
	return perr(ps,
		    "bad %s value \"%.60s\" (seconds, or seconds and exactly three digits of "
		    "milliseconds: S.mmm)",
		    key, s);
}

static int parse_ttl(parser *ps, const char *key, const char *s, uint32_t *ret)
{
	uint64_t v;

	if (parse_num(s, INT32_MAX, &v) < 0)
		return perr(ps, "bad %s value \"%.60s\" (a TTL from 0 to 2147483647)", key, s);
	*ret = (uint32_t)v;
	return 0;
}

static int parse_port(parser *ps, const char *s, uint16_t *ret)
{
	uint64_t v;

	if (parse_num(s, 65535, &v) < 0 || v == 0)
		return perr(ps, "bad port \"%.60s\" (1-65535)", s);
	*ret = (uint16_t)v;
	return 0;
}

/* Split s (modified) at single spaces into at most max tokens; the last
 * token takes the rest of the line when rest is set.  Returns the count,
 * or -EINVAL for an empty token (two spaces in a row, a leading space). */
static int split(char *s, char **tok, int max, bool rest)
{
	int n = 0;

	while (n < max) {
		char *sp = (rest && n == max - 1) ? NULL : strchr(s, ' ');

		tok[n++] = s;
		if (!*s)
			return -EINVAL;
		if (!sp)
			return n;
		*sp = '\0';
		s = sp + 1;
	}
	return -EINVAL; /* more tokens than max */
}

static int parse_alg(const char *s)
{
	for (int a = 0; a < PF_ALG_COUNT; a++)
		if (strcmp(s, pf_alg_name((enum pf_alg)a)) == 0)
			return a;
	return -EINVAL;
}

static int parse_hexdata(const char *s, pf_tlsa_rdata *r)
{
	size_t n = strlen(s);

	if (n != 64 && n != 128)
		return -EINVAL;
	for (size_t i = 0; i < n; i += 2) {
		char pair[3] = {s[i], s[i + 1], '\0'};

		if (!isxdigit((unsigned char)s[i]) || !isxdigit((unsigned char)s[i + 1]) ||
		    isupper((unsigned char)s[i]) || isupper((unsigned char)s[i + 1]))
			return -EINVAL;
		r->data[i / 2] = (unsigned char)strtoul(pair, NULL, 16);
	}
	r->len = n / 2;
	return 0;
}

/* "record = ROLE ALG HOST PORT USAGE SELECTOR MTYPE HEX" */
static int parse_record(parser *ps, char *v)
{
	char *tok[8];
	pf_tlsa_rdata rd = {0};
	uint16_t port = 0;
	uint64_t u, sel, mt;
	int alg, role;
	pf_err sub = {0};

	if (split(v, tok, 8, false) != 8)
		return perr(ps, "bad record: expected \"ROLE ALG HOST PORT USAGE SELECTOR MTYPE "
				"HEX\"");
	if (strcmp(tok[0], "next") == 0)
		role = PF_ROLE_NEXT;
	else if (strcmp(tok[0], "old") == 0)
		role = PF_ROLE_OLD;
	else
		return perr(ps, "bad record role \"%.40s\" (next or old)", tok[0]);
	if ((alg = parse_alg(tok[1])) < 0)
		return perr(ps, "bad record algorithm \"%.40s\" (rsa or ecdsa)", tok[1]);
	if (parse_port(ps, tok[3], &port) < 0)
		return -EINVAL;
	if (parse_num(tok[4], 255, &u) < 0 || parse_num(tok[5], 255, &sel) < 0 ||
	    parse_num(tok[6], 255, &mt) < 0)
		return perr(ps, "bad TLSA parameters \"%.10s %.10s %.10s\"", tok[4], tok[5],
			    tok[6]);
	rd.usage = (uint8_t)u;
	rd.selector = (uint8_t)sel;
	rd.mtype = (uint8_t)mt;
	if (parse_hexdata(tok[7], &rd) < 0)
		return perr(ps, "bad TLSA data \"%.20s...\" (64 or 128 lowercase hex digits)",
			    tok[7]);
	if (pf_state_add_record(&ps->st, (enum pf_role)role, (enum pf_alg)alg, tok[2], port, &rd,
				&sub) < 0)
		return perr(ps, "bad record: %s", sub.msg);
	ps->record_line = pf_realloc(ps->record_line, ps->st.n_records * sizeof(unsigned));
	ps->record_line[ps->st.n_records - 1] = ps->line;
	return 0;
}

/* "maincf = NAME=VALUE" (set) or "maincf = NAME" (not in main.cf) */
static int parse_maincf(parser *ps, char *v)
{
	char *eq = strchr(v, '=');
	pf_err sub = {0};

	if (eq)
		*eq = '\0';
	if (pf_state_add_setting(&ps->st, v, eq ? eq + 1 : NULL, &sub) < 0)
		return perr(ps, "bad maincf: %s", sub.msg);
	return 0;
}

/* "rrset_before = HOST PORT TTL|none" */
static int parse_rrset(parser *ps, char *v)
{
	char *tok[3];
	uint16_t port = 0;
	uint32_t ttl = 0;
	bool existed;
	pf_err sub = {0};

	if (split(v, tok, 3, false) != 3)
		return perr(ps,
			    "bad rrset_before: expected \"HOST PORT TTL\" or \"HOST PORT none\"");
	if (parse_port(ps, tok[1], &port) < 0)
		return -EINVAL;
	existed = strcmp(tok[2], "none") != 0;
	if (existed && parse_ttl(ps, "rrset_before TTL", tok[2], &ttl) < 0)
		return -EINVAL;
	if (pf_state_add_rrset(&ps->st, tok[0], port, existed, ttl, &sub) < 0)
		return perr(ps, "bad rrset_before: %s", sub.msg);
	return 0;
}

/* "server = NAME SERIAL TIME" */
static int parse_server(parser *ps, char *v)
{
	char *tok[3];
	uint32_t serial = 0;
	int64_t t = 0;
	pf_err sub = {0};

	if (split(v, tok, 3, false) != 3)
		return perr(ps, "bad server: expected \"SERVER SERIAL TIME\"");
	if (parse_u32(ps, "server serial", tok[1], &serial) < 0 ||
	    parse_secs(ps, "server time", tok[2], &t) < 0)
		return -EINVAL;
	for (size_t i = 0; i < ps->st.n_servers; i++)
		if (strcmp(ps->st.servers[i].name, tok[0]) == 0)
			return perr(ps, "server %.100s listed twice", tok[0]);
	if (pf_state_confirm_server(&ps->st, tok[0], serial, t, &sub) < 0)
		return perr(ps, "bad server: %s", sub.msg);
	return 0;
}

/* "event = TIME KIND PHASE [MESSAGE]" */
static int parse_event(parser *ps, char *v)
{
	char *tok[4];
	pf_state_event *ev;
	int64_t t = 0;
	int n, phase;

	n = split(v, tok, 4, true);
	if (n < 3)
		return perr(ps, "bad event: expected \"TIME KIND PHASE MESSAGE\"");
	if (parse_secs(ps, "event time", tok[0], &t) < 0)
		return -EINVAL;
	if (!pf_state_valid_token(tok[1], sizeof(ev->kind) - 1))
		return perr(ps, "bad event kind \"%.40s\"", tok[1]);
	for (const char *c = tok[1]; *c; c++)
		if (!islower((unsigned char)*c) && !isdigit((unsigned char)*c) && *c != '-')
			return perr(ps, "bad event kind \"%.40s\"", tok[1]);
	if ((phase = pf_phase_lookup(tok[2])) < 0)
		return perr(ps, "bad event phase \"%.40s\"", tok[2]);
	if (n == 4 && strlen(tok[3]) > PF_STATE_MAX_TEXT)
		return perr(ps, "event message longer than %d characters", PF_STATE_MAX_TEXT);
	if (ps->st.n_events >= PF_STATE_MAX_EVENTS)
		return perr(ps, "more than %d events", PF_STATE_MAX_EVENTS);
	ev = &ps->st.events[ps->st.n_events++];
	ev->t = t;
	ev->phase = (enum pf_phase)phase;
	snprintf(ev->kind, sizeof(ev->kind), "%s", tok[1]);
	snprintf(ev->msg, sizeof(ev->msg), "%s", n == 4 ? tok[3] : "");
	return 0;
}

/* Slot of a scalar key name, or -1. */
static int skey_lookup(const char *key)
{
	const char *dot = strchr(key, '.');

	if (dot) {
		char alg[16];
		int a;

		if ((size_t)(dot - key) >= sizeof(alg))
			return -1;
		memcpy(alg, key, (size_t)(dot - key));
		alg[dot - key] = '\0';
		if ((a = parse_alg(alg)) < 0)
			return -1;
		for (int f = 0; f < KF_COUNT; f++)
			if (strcmp(dot + 1, kfield_names[f]) == 0)
				return K_KEY0 + a * KF_COUNT + f;
		return -1;
	}
	for (int i = 0; i < PF_T_COUNT; i++)
		if (strcmp(key, pf_stamp_name((enum pf_stamp)i)) == 0)
			return K_STAMP0 + i;
	for (int i = 0; i < K_KEY0; i++)
		if (skey_names[i] && strcmp(key, skey_names[i]) == 0)
			return i;
	return -1;
}

static int parse_key_field(parser *ps, int slot, const char *key, const char *v)
{
	int a = (slot - K_KEY0) / KF_COUNT, f = (slot - K_KEY0) % KF_COUNT;
	pf_state_key *k = &ps->st.keys[a];

	k->present = true;
	switch (f) {
	case KF_NEXT_SPKI:
	case KF_OLD_SPKI:
		if (!pf_state_valid_hex(v, 64))
			return perr(ps, "bad %s value \"%.80s\" (64 lowercase hex digits)", key, v);
		memcpy(f == KF_NEXT_SPKI ? k->next_spki : k->old_spki, v, 65);
		return 0;
	default:
		if (!pf_state_valid_path(v))
			return perr(ps, "bad %s value \"%.100s\" (an absolute path)", key, v);
		*(f == KF_NEXT_KEY    ? &k->next_key
		  : f == KF_NEXT_CERT ? &k->next_cert
		  : f == KF_OLD_KEY   ? &k->old_key
				      : &k->old_cert) = pf_strdup(v);
		return 0;
	}
}

static int parse_scalar(parser *ps, int slot, const char *key, const char *v)
{
	pf_state *st = &ps->st;
	uint64_t n;
	int p;

	if (slot >= K_KEY0)
		return parse_key_field(ps, slot, key, v);
	if (slot >= K_STAMP0 && slot < K_STAMP0 + PF_T_COUNT)
		return parse_stamp(ps, key, v, &st->t[slot - K_STAMP0], &st->t_ms[slot - K_STAMP0]);
	switch (slot) {
	case K_ROLLOVER:
		if (!pf_state_valid_hex(v, PF_ROLLOVER_ID_LEN))
			return perr(ps, "bad rollover value \"%.60s\" (%d lowercase hex digits)", v,
				    PF_ROLLOVER_ID_LEN);
		memcpy(st->rollover, v, PF_ROLLOVER_ID_LEN + 1);
		return 0;
	case K_PHASE:
	case K_FAILED_FROM:
		if ((p = pf_phase_lookup(v)) < 0)
			return perr(
				ps,
				"bad %s value \"%.60s\" (a phase: idle, generated, published, "
				"propagated, staged, deployable, deployed, verified, retired or "
				"failed)",
				key, v);
		if (slot == K_PHASE) {
			st->phase = (enum pf_phase)p;
			ps->phase_line = ps->line;
		} else {
			st->failed_from = (enum pf_phase)p;
		}
		return 0;
	case K_FAILED_REASON:
		if (!*v || strlen(v) > PF_STATE_MAX_TEXT)
			return perr(ps, "bad failed_reason (1 to %d characters)",
				    PF_STATE_MAX_TEXT);
		st->failed_reason = pf_strdup(v);
		return 0;
	case K_TLSA_TTL:
		if (parse_ttl(ps, key, v, &st->tlsa_ttl) < 0)
			return -EINVAL;
		if (st->tlsa_ttl == 0)
			return perr(ps, "bad tlsa_ttl value \"0\" (1 to 2147483647)");
		return 0;
	case K_SOA_TTL:
		return parse_ttl(ps, key, v, &st->soa_ttl);
	case K_SOA_MINIMUM:
		return parse_u32(ps, key, v, &st->soa_minimum);
	case K_UPDATE_SERIAL:
		st->have_serial = true;
		return parse_u32(ps, key, v, &st->update_serial);
	case K_TTL_FACTOR:
		if (parse_num(v, 100, &n) < 0 || n == 0)
			return perr(ps, "bad ttl_factor value \"%.60s\" (1 to 100)", v);
		st->params.ttl_factor = (unsigned)n;
		return 0;
	case K_PUBLISH_SAFETY:
		return parse_secs(ps, key, v, &st->params.publish_safety);
	case K_PROPAGATION_MIN_DELAY:
		return parse_secs(ps, key, v, &st->params.propagation_min_delay);
	case K_RETIRE_DELAY:
		return parse_secs(ps, key, v, &st->params.retire_delay);
	case K_ALERT_COUNT:
		if (parse_num(v, UINT32_MAX, &n) < 0)
			return perr(ps, "bad alert_count value \"%.60s\"", v);
		st->alert_count = (unsigned)n;
		return 0;
	case K_ALERT_LAST:
		return parse_secs(ps, key, v, &st->alert_last);
	case K_ROLLOVERS_COMPLETED:
	case K_ROLLOVERS_FAILED:
		if (parse_num(v, UINT32_MAX, &n) < 0)
			return perr(ps, "bad %s value \"%.60s\"", key, v);
		*(slot == K_ROLLOVERS_COMPLETED ? &st->rollovers_completed
						: &st->rollovers_failed) = n;
		return 0;
	case K_STAGING:
		if (strcmp(v, "yes") != 0)
			return perr(ps, "bad staging value \"%.60s\" (yes, or no line at all)", v);
		st->staging = true;
		return 0;
	}
	return perr(ps, "internal error: unhandled key %s", key);
}

/* Keys written as a group: all of them or none. */
static int check_groups(parser *ps)
{
	static const int groups[][4] = {
		{K_SOA_TTL, K_SOA_MINIMUM, -1, -1},
		{K_TTL_FACTOR, K_PUBLISH_SAFETY, K_PROPAGATION_MIN_DELAY, K_RETIRE_DELAY},
	};

	for (size_t g = 0; g < PF_ELEMENTSOF(groups); g++) {
		int have = 0, total = 0, missing = -1, line = 0;

		for (int i = 0; i < 4 && groups[g][i] >= 0; i++) {
			total++;
			if (ps->seen[groups[g][i]]) {
				have++;
				line = (int)ps->seen[groups[g][i]];
			} else {
				missing = groups[g][i];
			}
		}
		if (have && have < total) {
			ps->line = (unsigned)line;
			return perr(ps, "%s is missing (it goes with the line here)",
				    skey_names[missing]);
		}
	}
	ps->st.have_soa = ps->seen[K_SOA_TTL] != 0;
	ps->st.have_params = ps->seen[K_TTL_FACTOR] != 0;
	return 0;
}

static int parse_line(parser *ps, char *line)
{
	char *sep = strstr(line, " = "), *key = line, *v;
	int slot;

	if (!sep)
		return perr(ps, "expected \"key = value\"");
	*sep = '\0';
	v = sep + 3;
	if (strcmp(key, "record") == 0)
		return parse_record(ps, v);
	if (strcmp(key, "maincf") == 0)
		return parse_maincf(ps, v);
	if (strcmp(key, "rrset_before") == 0)
		return parse_rrset(ps, v);
	if (strcmp(key, "server") == 0)
		return parse_server(ps, v);
	if (strcmp(key, "event") == 0)
		return parse_event(ps, v);
	if ((slot = skey_lookup(key)) < 0)
		return perr(ps, "unknown key \"%.60s\"", key);
	if (ps->seen[slot])
		return perr(ps, "duplicate %s (first at line %u)", key, ps->seen[slot]);
	ps->seen[slot] = ps->line;
	return parse_scalar(ps, slot, key, v);
}

int pf_state_parse(const char *name, const char *text, size_t len, pf_state *ret, pf_err *e)
{
	parser *ps = pf_calloc(1, sizeof(*ps));
	const char *p = text, *end = text + len, *last = NULL;
	unsigned last_no = 0;
	char sum[PF_SHA256_HEX_BUF], *line = NULL;
	int r = -EINVAL;

	ps->name = name;
	ps->e = e;
	pf_state_init(&ps->st);
	if (len > PF_STATE_MAX_BYTES) {
		ps->line = 1;
		r = perr(ps, "file too large (more than %d bytes)", PF_STATE_MAX_BYTES);
		goto out;
	}
	if (memchr(text, '\0', len)) {
		ps->line = 1;
		for (const char *q = text; *q; q++)
			ps->line += *q == '\n';
		r = perr(ps, "NUL byte in the file");
		goto out;
	}
	/* First pass: whole lines only, find the last one (the checksum). */
	for (unsigned no = 1; p < end; no++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		ps->line = no;
		if (!nl) {
			r = perr(ps, "last line is incomplete (file truncated?)");
			goto out;
		}
		if ((size_t)(nl - p) > PF_STATE_MAX_LINE) {
			r = perr(ps, "line longer than %d characters", PF_STATE_MAX_LINE);
			goto out;
		}
		for (const char *q = p; q < nl; q++)
			if ((unsigned char)*q < 0x20 || *q == 0x7f) {
				r = perr(ps, "control character in line");
				goto out;
			}
		last = p;
		last_no = no;
		p = nl + 1;
	}
	ps->line = 1;
	if (len == 0) {
		r = perr(ps, "empty file (expected \"%s %d\")", HEADER, PF_STATE_VERSION);
		goto out;
	}
	{
		size_t hl = strlen(HEADER);
		const char *nl = memchr(text, '\n', len);

		if ((size_t)(nl - text) < hl + 2 || memcmp(text, HEADER " ", hl + 1) != 0) {
			r = perr(ps, "not a pftls-roll state file (expected \"%s %d\")", HEADER,
				 PF_STATE_VERSION);
			goto out;
		}
		char ver[32];
		size_t vl = (size_t)(nl - text) - hl - 1;

		snprintf(ver, sizeof(ver), "%.*s", (int)(vl < 31 ? vl : 31), text + hl + 1);
		if (strcmp(ver, "1") != 0) {
			r = perr(ps,
				 "unknown state file version \"%.20s\" (this program reads version "
				 "%d)",
				 ver, PF_STATE_VERSION);
			goto out;
		}
	}
	ps->line = last_no;
	/* memcmp after a length check, not strncmp: text need not be a C
	 * string, and a last line shorter than the key ends at len. */
	if (last_no < 2 || (size_t)(end - last) < strlen(CHECKSUM_KEY) + 3 ||
	    memcmp(last, CHECKSUM_KEY " = ", strlen(CHECKSUM_KEY) + 3) != 0) {
		r = perr(ps, "no checksum line at the end (file truncated or damaged)");
		goto out;
	}
	sha256_hex(text, (size_t)(last - text), sum);
	if ((size_t)(end - last) != strlen(CHECKSUM_KEY) + 3 + 64 + 1 ||
	    memcmp(last + strlen(CHECKSUM_KEY) + 3, sum, 64) != 0) {
		r = perr(ps, "checksum mismatch (file damaged or edited by hand)");
		goto out;
	}
	/* Second pass: the lines between the header and the checksum. */
	p = (const char *)memchr(text, '\n', len) + 1;
	for (ps->line = 2; p < last; ps->line++) {
		const char *nl = memchr(p, '\n', (size_t)(last - p));

		free(line);
		line = pf_strndup(p, (size_t)(nl - p));
		if ((r = parse_line(ps, line)) < 0)
			goto out;
		p = nl + 1;
	}
	{
		/* Duplicates are looked for once, sorted, not per record added. */
		long d = pf_state_duplicate_record(&ps->st);

		if (d >= 0) {
			ps->line = ps->record_line[d];
			r = perr(ps, "bad record: record for %s port %u listed twice",
				 ps->st.records[d].host, ps->st.records[d].port);
			goto out;
		}
	}
	if ((r = check_groups(ps)) < 0)
		goto out;
	ps->line = ps->phase_line ? ps->phase_line : last_no;
	if (!ps->phase_line) {
		r = perr(ps, "phase is missing");
		goto out;
	}
	if (ps->st.phase == PF_PHASE_FAILED && !ps->seen[K_FAILED_FROM]) {
		r = perr(ps, "phase failed requires failed_from, which is missing");
		goto out;
	}
	if (ps->st.phase != PF_PHASE_FAILED && ps->seen[K_FAILED_FROM]) {
		ps->line = ps->seen[K_FAILED_FROM];
		r = perr(ps, "failed_from is set but the phase is %s, not failed",
			 pf_phase_name(ps->st.phase));
		goto out;
	}
	{
		pf_err sub = {0};

		if ((r = pf_state_validate(&ps->st, &sub)) < 0) {
			r = perr(ps, "%s", sub.msg);
			goto out;
		}
	}
	*ret = ps->st;
	pf_state_init(&ps->st);
	r = 0;
out:
	free(line);
	free(ps->record_line);
	pf_state_free(&ps->st);
	free(ps);
	return r;
}

/* ---- files ---- */

char *pf_state_path(const char *state_directory)
{
	return pf_asprintf("%s/%s", state_directory, PF_STATE_FILE_NAME);
}

/* Line number of the first "FIELD = " line of a parsed state's text (one
 * there is, since the parser accepted the text), or 1. */
static unsigned field_line(const char *text, size_t len, const char *field)
{
	size_t fl = strlen(field);
	unsigned no = 1;

	for (const char *p = text, *end = text + len; p < end; no++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (!nl)
			break;
		if ((size_t)(nl - p) > fl + 2 && memcmp(p, field, fl) == 0 &&
		    memcmp(p + fl, " = ", 3) == 0)
			return no;
		p = nl + 1;
	}
	return 1;
}

int pf_state_load(const char *path, const char *config_dir, pf_state *ret, pf_err *e)
{
	char *text = NULL, field[32] = "";
	size_t len = 0;
	pf_state st;
	pf_err sub = {0};
	int r;

	if ((r = pf_read_file(path, PF_STATE_MAX_BYTES, &text, &len, e)) < 0) {
		if (r == -ENOENT)
			pf_err_set(e, ENOENT, "no state file %s", path);
		return r;
	}
	if ((r = pf_state_parse(path, text, len, &st, e)) < 0)
		goto out;
	/* Rule 8: a checksum anyone can recompute proves no origin, so the
	 * files the state names are checked here, before any step can act on
	 * them, and a state naming others is not acted on at all. */
	if ((r = pf_state_check_files(&st, config_dir, field, &sub)) < 0) {
		pf_state_free(&st);
		r = pf_err_set(e, EINVAL,
			       "%s:%u: untrusted state: %s; this program only creates, deploys or "
			       "removes its own key and certificate files in "
			       "postfix_config_directory, so nothing was done",
			       path, field_line(text, len, field), sub.msg);
		goto out;
	}
	*ret = st;
out:
	free(text);
	return r;
}

int pf_state_save(const char *path, const pf_state *st, pf_err *e)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	if ((r = pf_state_format(st, &text, &len, e)) < 0) {
		pf_err_prefix(e, "not saving an invalid state to %s", path);
		return r;
	}
	/* Before the write too: a save killed at its directory fsync must not
	 * leave behind what the save before it left. */
	pf_remove_stale_temps(path);
	r = pf_write_file_durable(path, text, len, 0600, 0, e);
	free(text);
	if (r == 0)
		pf_remove_stale_temps(path);
	return r;
}

int pf_state_dir_create(const char *dir, pf_err *e)
{
	struct stat sb;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return pf_err_set(e, errno, "cannot create state directory %s: %s", dir,
				  strerror(errno));
	if (stat(dir, &sb) < 0)
		return pf_err_set(e, errno, "cannot access state directory %s: %s", dir,
				  strerror(errno));
	if (!S_ISDIR(sb.st_mode))
		return pf_err_set(e, ENOTDIR, "state directory %s is not a directory", dir);
	return 0;
}
