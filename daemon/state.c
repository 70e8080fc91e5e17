/*
 * state.c - the rollover state in memory: phase and timestamp names, the
 * setters that admit only values the file can hold, and the rules each phase
 * must satisfy.  state_file.c reads and writes it; nothing here acts on it
 * (the phases do).
 *
 * The setters and pf_state_validate are the single gate: the writer refuses
 * what validate refuses, and the parser builds its result through the same
 * setters, so a state that can be saved can always be loaded again.
 */
#include "state.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "postfix.h"
#include "macro.h"

static const char *const phase_names[PF_PHASE_COUNT] = {
	[PF_PHASE_IDLE] = "idle",           [PF_PHASE_GENERATED] = "generated",
	[PF_PHASE_PUBLISHED] = "published", [PF_PHASE_PROPAGATED] = "propagated",
	[PF_PHASE_STAGED] = "staged",       [PF_PHASE_DEPLOYABLE] = "deployable",
	[PF_PHASE_DEPLOYED] = "deployed",   [PF_PHASE_VERIFIED] = "verified",
	[PF_PHASE_RETIRED] = "retired",     [PF_PHASE_FAILED] = "failed",
};

static const char *const stamp_names[PF_T_COUNT] = {
	[PF_T_STARTED] = "t_started",
	[PF_T_GENERATED] = "t_generated",
	[PF_T_PUB] = "t_pub",
	[PF_T_CONF] = "t_conf",
	[PF_T_DEPLOYABLE] = "t_deployable",
	[PF_T_DEPLOYED] = "t_deployed",
	[PF_T_RELOAD] = "t_reload",
	[PF_T_VERIFIED] = "t_verified",
	[PF_T_RETIRED] = "t_retired",
	[PF_T_FAILED] = "t_failed",
	[PF_T_STAGED] = "t_staged",
	[PF_T_REQUESTED] = "t_requested",
	[PF_T_IN_SERVICE] = "t_in_service",
};

#define PF_STATE_MAX_SECONDS ((int64_t)1 << 40)

const char *pf_phase_name(enum pf_phase phase)
{
	return (unsigned)phase < PF_PHASE_COUNT ? phase_names[phase] : "?";
}

int pf_phase_lookup(const char *s)
{
	for (int i = 0; i < PF_PHASE_COUNT; i++)
		if (strcmp(s, phase_names[i]) == 0)
			return i;
	return -EINVAL;
}

const char *pf_stamp_name(enum pf_stamp which)
{
	return (unsigned)which < PF_T_COUNT ? stamp_names[which] : NULL;
}

bool pf_stamp_in_ms(enum pf_stamp which)
{
	return which == PF_T_PUB || which == PF_T_CONF || which == PF_T_DEPLOYED ||
	       which == PF_T_RELOAD || which == PF_T_VERIFIED;
}

int64_t pf_state_stamp_ms(const pf_state *st, enum pf_stamp which)
{
	int64_t ms = st->t_ms[which];

	if (ms > 0 && (ms + 999) / 1000 == st->t[which])
		return ms;
	return st->t[which] * 1000;
}

void pf_state_set_stamp_ms(pf_state *st, enum pf_stamp which, int64_t ms)
{
	st->t_ms[which] = ms;
	st->t[which] = (ms + 999) / 1000;
}

void pf_state_init(pf_state *st)
{
	memset(st, 0, sizeof(*st));
	st->phase = PF_PHASE_IDLE;
}

static void key_clear(pf_state_key *k)
{
	free(k->next_key);
	free(k->next_cert);
	free(k->old_key);
	free(k->old_cert);
	memset(k, 0, sizeof(*k));
}

/* Free and reset what the publication of the next keys established: the
 * RRsets and servers, the TTL, SOA and serial inputs, the timing
 * parameters, the alerts (the stamps are the callers'). */
static void clear_publication_fields(pf_state *st)
{
	free(st->rrsets);
	st->rrsets = NULL;
	st->n_rrsets = 0;
	free(st->servers);
	st->servers = NULL;
	st->n_servers = 0;
	st->tlsa_ttl = 0;
	st->have_soa = false;
	st->soa_ttl = st->soa_minimum = 0;
	st->have_serial = false;
	st->update_serial = 0;
	st->have_params = false;
	memset(&st->params, 0, sizeof(st->params));
	st->alert_count = 0;
	st->alert_last = 0;
}

/* Drop everything that belongs to one rollover; keep the event history. */
static void clear_rollover(pf_state *st)
{
	for (size_t i = 0; i < PF_ALG_COUNT; i++)
		key_clear(&st->keys[i]);
	free(st->records);
	for (size_t i = 0; i < st->n_maincf; i++) {
		free(st->maincf[i].name);
		free(st->maincf[i].value);
	}
	free(st->maincf);
	free(st->failed_reason);
	st->records = NULL;
	st->n_records = 0;
	st->maincf = NULL;
	st->n_maincf = 0;
	clear_publication_fields(st);
	st->failed_reason = NULL;
	st->failed_from = PF_PHASE_IDLE;
	memset(st->t, 0, sizeof(st->t));
	memset(st->t_ms, 0, sizeof(st->t_ms));
	st->staging = false;
	st->rollover[0] = '\0';
}

void pf_state_free(pf_state *st)
{
	if (!st)
		return;
	clear_rollover(st);
	pf_state_init(st);
}

/* A new rollover id in hex[PF_ROLLOVER_ID_LEN + 1]: 128 random bits as a
 * version 4 UUID in 32 lower-case hex digits, the form sd_id128_randomize
 * and sd_id128_to_string gave, without linking libsystemd for it.
 * getrandom() fails only without a kernel random source, where nothing
 * else would work either: then it aborts. */
static void rollover_id_new(char *hex)
{
	unsigned char b[PF_ROLLOVER_ID_LEN / 2];
	size_t have = 0;

	while (have < sizeof(b)) {
		ssize_t n = getrandom(b + have, sizeof(b) - have, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			abort();
		have += (size_t)n;
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	for (size_t i = 0; i < sizeof(b); i++) {
		hex[2 * i] = "0123456789abcdef"[b[i] >> 4];
		hex[2 * i + 1] = "0123456789abcdef"[b[i] & 0x0f];
	}
	hex[PF_ROLLOVER_ID_LEN] = '\0';
}

void pf_state_begin(pf_state *st, int64_t now)
{
	clear_rollover(st);
	rollover_id_new(st->rollover);
	st->phase = PF_PHASE_IDLE;
	st->t[PF_T_STARTED] = now;
}

void pf_state_clear_publication(pf_state *st)
{
	clear_publication_fields(st);
	st->t[PF_T_PUB] = st->t[PF_T_CONF] = st->t[PF_T_STAGED] = 0;
	st->t_ms[PF_T_PUB] = st->t_ms[PF_T_CONF] = 0;
	st->phase = PF_PHASE_GENERATED;
}

bool pf_state_request(pf_state *st, int64_t now)
{
	if (!st->staging)
		return false;
	st->staging = false;
	st->t[PF_T_REQUESTED] = now;
	return true;
}

/* Copy text into a line-safe, bounded string: control characters become
 * '?', so an outside message can never add a line to the file. */
static void copy_text(char *dst, size_t cap, const char *src)
{
	size_t n = 0;

	for (; src && src[n] && n + 1 < cap; n++) {
		unsigned char c = (unsigned char)src[n];

		dst[n] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	dst[n] = '\0';
}

void pf_state_fail(pf_state *st, int64_t now, const char *reason)
{
	char buf[PF_STATE_MAX_TEXT + 1];

	copy_text(buf, sizeof(buf), reason && *reason ? reason : "unknown failure");
	free(st->failed_reason);
	st->failed_reason = pf_strdup(buf);
	if (st->phase != PF_PHASE_FAILED)
		st->failed_from = st->phase;
	st->phase = PF_PHASE_FAILED;
	st->t[PF_T_FAILED] = now;
}

void pf_state_add_event(pf_state *st, int64_t t, const char *kind, const char *msg)
{
	pf_state_event *ev;

	if (st->n_events == PF_STATE_MAX_EVENTS) {
		memmove(&st->events[0], &st->events[1],
			(PF_STATE_MAX_EVENTS - 1) * sizeof(st->events[0]));
		st->n_events--;
	}
	ev = &st->events[st->n_events++];
	memset(ev, 0, sizeof(*ev));
	ev->t = t < 0 ? 0 : t;
	ev->phase = st->phase;
	/* The kind is one token of [a-z0-9-]; anything else becomes '-'. */
	for (size_t i = 0; kind && kind[i] && i + 1 < sizeof(ev->kind); i++) {
		char c = kind[i];

		ev->kind[i] = (islower((unsigned char)c) || isdigit((unsigned char)c)) ? c : '-';
	}
	if (!ev->kind[0])
		strcpy(ev->kind, "event");
	copy_text(ev->msg, sizeof(ev->msg), msg);
}

/* ---- value checks shared by the setters, the parser and the writer ---- */

bool pf_state_valid_hex(const char *s, size_t len)
{
	if (strlen(s) != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
			return false;
	return true;
}

/* True when s can stand on one line of the file as a value. */
static bool line_safe(const char *s, size_t max)
{
	size_t n = 0;

	for (; s[n]; n++) {
		unsigned char c = (unsigned char)s[n];

		if (c < 0x20 || c == 0x7f || n >= max)
			return false;
	}
	return true;
}

bool pf_state_valid_path(const char *s)
{
	return s[0] == '/' && line_safe(s, PF_STATE_MAX_LINE - 64);
}

static bool valid_param_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 100)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return false;
	return true;
}

/* A token: printable, no spaces, bounded. */
bool pf_state_valid_token(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isgraph((unsigned char)s[i]))
			return false;
	return true;
}

static bool valid_server(const char *s)
{
	pf_hostport hp;

	return pf_state_valid_token(s, sizeof(((pf_state_server *)0)->name) - 1) &&
	       pf_parse_hostport(s, false, &hp, NULL) == 0;
}

/* Returns 0 or -EINVAL when the record could not be a record this program
 * creates (usage 3, selector 0/1, mtype 1/2 with the matching length). */
static int check_rdata(const pf_tlsa_rdata *r, pf_err *e)
{
	if (r->usage != 3)
		return pf_err_set(e, EINVAL, "TLSA usage %u is not 3", r->usage);
	if (r->selector > 1)
		return pf_err_set(e, EINVAL, "TLSA selector %u is not 0 or 1", r->selector);
	if (r->mtype != 1 && r->mtype != 2)
		return pf_err_set(e, EINVAL, "TLSA matching type %u is not 1 or 2", r->mtype);
	if (r->len != (r->mtype == 1 ? 32u : 64u))
		return pf_err_set(e, EINVAL,
				  "TLSA data of %zu octets does not fit matching type %u", r->len,
				  r->mtype);
	return 0;
}

static bool same_hostport(const char *h1, uint16_t p1, const char *h2, uint16_t p2)
{
	return p1 == p2 && strcasecmp(h1, h2) == 0;
}

/* Copy a host name without its trailing dot; false when it is not valid. */
static bool copy_host(char dst[PF_DNS_NAME_BUF], const char *host)
{
	size_t n = strlen(host);

	if (!pf_valid_hostname(host))
		return false;
	if (host[n - 1] == '.')
		n--;
	memcpy(dst, host, n);
	dst[n] = '\0';
	return true;
}

/* ---- setters ---- */

int pf_state_set_key(pf_state *st, enum pf_alg alg, enum pf_role role, const char *keypath,
		     const char *certpath, const char *spki_sha256, pf_err *e)
{
	pf_state_key *k;

	if ((unsigned)alg >= PF_ALG_COUNT)
		return pf_err_set(e, EINVAL, "unknown key algorithm %d", (int)alg);
	if (!pf_state_valid_path(keypath))
		return pf_err_set(e, EINVAL, "key file name \"%.100s\" is not an absolute path",
				  keypath);
	if (!pf_state_valid_path(certpath))
		return pf_err_set(e, EINVAL,
				  "certificate file name \"%.100s\" is not an absolute path",
				  certpath);
	if (!pf_state_valid_hex(spki_sha256, 64))
		return pf_err_set(e, EINVAL, "\"%.100s\" is not a SHA-256 digest in hex",
				  spki_sha256);
	/* Copy before freeing: the arguments may be the strings replaced (a
	 * key made again under its planned name). */
	char *kp = pf_strdup(keypath), *cp = pf_strdup(certpath);

	k = &st->keys[alg];
	k->present = true;
	if (role == PF_ROLE_NEXT) {
		free(k->next_key);
		free(k->next_cert);
		k->next_key = kp;
		k->next_cert = cp;
		memmove(k->next_spki, spki_sha256, 65);
	} else {
		free(k->old_key);
		free(k->old_cert);
		k->old_key = kp;
		k->old_cert = cp;
		memmove(k->old_spki, spki_sha256, 65);
	}
	return 0;
}

/* Append one zeroed element to the array *arrayp of *n; returns it.  The
 * array holds at least the power of two at or above *n (arrays only grow
 * here, and shrink in place), so it is reallocated only when *n reaches a
 * power of two: appending 16,000 records copies them about once, not
 * 16,000 times (which took minutes under AddressSanitizer's realloc). */
static void *grow(void *arrayp, size_t *n, size_t size)
{
	void **a = arrayp;
	char *p;

	if ((*n & (*n - 1)) == 0) /* 0 or a power of two: full */
		*a = pf_realloc(*a, (*n ? 2 * *n : 1) * size);
	p = (char *)*a + *n * size;
	memset(p, 0, size);
	(*n)++;
	return p;
}

int pf_state_add_record(pf_state *st, enum pf_role role, enum pf_alg alg, const char *host,
			uint16_t port, const pf_tlsa_rdata *rdata, pf_err *e)
{
	pf_state_record rec = {.role = role, .alg = alg, .port = port};
	int r;

	if ((unsigned)alg >= PF_ALG_COUNT || (role != PF_ROLE_NEXT && role != PF_ROLE_OLD))
		return pf_err_set(e, EINVAL, "bad record role or algorithm");
	if (!copy_host(rec.host, host))
		return pf_err_set(e, EINVAL, "\"%.100s\" is not a valid host name", host);
	if (port == 0)
		return pf_err_set(e, EINVAL, "port 0 is not a TLSA port");
	if ((r = check_rdata(rdata, e)) < 0)
		return r;
	rec.rdata = *rdata;
	tlsa_owner_canon(rec.host, port, rec.owner, sizeof(rec.owner));
	if (st->n_records >= PF_STATE_MAX_ITEMS)
		return pf_err_set(e, EINVAL, "more than %d records", PF_STATE_MAX_ITEMS);
	*(pf_state_record *)grow(&st->records, &st->n_records, sizeof(rec)) = rec;
	return 0;
}

int pf_state_record_cmp(const pf_state_record *a, const pf_state_record *b)
{
	const pf_tlsa_rdata *x = &a->rdata, *y = &b->rdata;
	int c;

	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	if ((c = strcasecmp(a->host, b->host)) != 0)
		return c;
	if (x->usage != y->usage)
		return x->usage < y->usage ? -1 : 1;
	if (x->selector != y->selector)
		return x->selector < y->selector ? -1 : 1;
	if (x->mtype != y->mtype)
		return x->mtype < y->mtype ? -1 : 1;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return memcmp(x->data, y->data, x->len);
}

/* qsort_r order of record indexes: role, algorithm, record, then index. */
static int dup_cmp(const void *pa, const void *pb, void *arg)
{
	const pf_state_record *recs = arg;
	size_t ia = *(const size_t *)pa, ib = *(const size_t *)pb;
	const pf_state_record *a = &recs[ia], *b = &recs[ib];
	int c;

	if (a->role != b->role)
		return a->role < b->role ? -1 : 1;
	if (a->alg != b->alg)
		return a->alg < b->alg ? -1 : 1;
	if ((c = pf_state_record_cmp(a, b)) != 0)
		return c;
	return ia < ib ? -1 : ia > ib;
}

long pf_state_duplicate_record(const pf_state *st)
{
	size_t *idx = pf_calloc(st->n_records + 1, sizeof(*idx));
	long first = -1;

	for (size_t i = 0; i < st->n_records; i++)
		idx[i] = i;
	qsort_r(idx, st->n_records, sizeof(*idx), dup_cmp, st->records);
	for (size_t i = 1; i < st->n_records; i++) {
		const pf_state_record *a = &st->records[idx[i - 1]], *b = &st->records[idx[i]];

		if (a->role == b->role && a->alg == b->alg && pf_state_record_cmp(a, b) == 0 &&
		    (first < 0 || idx[i] < (size_t)first))
			first = (long)idx[i];
	}
	free(idx);
	return first;
}

int pf_state_add_setting(pf_state *st, const char *name, const char *value, pf_err *e)
{
	pf_state_setting *s;

	if (!valid_param_name(name))
		return pf_err_set(e, EINVAL, "\"%.100s\" is not a main.cf parameter name", name);
	if (value && !line_safe(value, PF_STATE_MAX_LINE - 200))
		return pf_err_set(e, EINVAL,
				  "the value of %s has a control character or is too long", name);
	for (size_t i = 0; i < st->n_maincf; i++)
		if (strcmp(st->maincf[i].name, name) == 0)
			return pf_err_set(e, EINVAL, "main.cf parameter %s listed twice", name);
	if (st->n_maincf >= PF_STATE_MAX_ITEMS)
		return pf_err_set(e, EINVAL, "more than %d main.cf settings", PF_STATE_MAX_ITEMS);
	s = grow(&st->maincf, &st->n_maincf, sizeof(*s));
	s->name = pf_strdup(name);
	s->value = value ? pf_strdup(value) : NULL;
	return 0;
}

int pf_state_add_rrset(pf_state *st, const char *host, uint16_t port, bool existed, uint32_t ttl,
		       pf_err *e)
{
	pf_state_rrset rs = {.port = port, .existed = existed, .ttl = existed ? ttl : 0};

	if (!copy_host(rs.host, host))
		return pf_err_set(e, EINVAL, "\"%.100s\" is not a valid host name", host);
	if (port == 0)
		return pf_err_set(e, EINVAL, "port 0 is not a TLSA port");
	if (existed && ttl > INT32_MAX)
		return pf_err_set(e, EINVAL, "TTL %u is out of range", ttl);
	for (size_t i = 0; i < st->n_rrsets; i++)
		if (same_hostport(st->rrsets[i].host, st->rrsets[i].port, rs.host, port))
			return pf_err_set(e, EINVAL, "RRset %s port %u listed twice", rs.host,
					  port);
	if (st->n_rrsets >= PF_STATE_MAX_ITEMS)
		return pf_err_set(e, EINVAL, "more than %d RRsets", PF_STATE_MAX_ITEMS);
	tlsa_owner_canon(rs.host, port, rs.owner, sizeof(rs.owner));
	*(pf_state_rrset *)grow(&st->rrsets, &st->n_rrsets, sizeof(rs)) = rs;
	return 0;
}

int pf_state_add_rrset_owner(pf_state *st, const char *owner, bool existed, uint32_t ttl, pf_err *e)
{
	char host[PF_DNS_NAME_BUF];
	uint16_t port;

	if (tlsa_owner_parse(owner, &port, host, sizeof(host)) < 0)
		return pf_err_set(e, EINVAL, "\"%.100s\" is not a TLSA owner name", owner);
	return pf_state_add_rrset(st, host, port, existed, ttl, e);
}

int pf_state_confirm_server(pf_state *st, const char *server, uint32_t serial, int64_t t, pf_err *e)
{
	pf_state_server *s = NULL;

	if (!valid_server(server))
		return pf_err_set(e, EINVAL, "\"%.100s\" is not a server name", server);
	if (t < 0 || t > PF_STATE_MAX_SECONDS)
		return pf_err_set(e, EINVAL, "bad confirmation time %lld", (long long)t);
	for (size_t i = 0; i < st->n_servers; i++)
		if (strcmp(st->servers[i].name, server) == 0)
			s = &st->servers[i];
	if (!s) {
		if (st->n_servers >= PF_STATE_MAX_ITEMS)
			return pf_err_set(e, EINVAL, "more than %d servers", PF_STATE_MAX_ITEMS);
		s = grow(&st->servers, &st->n_servers, sizeof(*s));
		snprintf(s->name, sizeof(s->name), "%s", server);
	}
	s->serial = serial;
	s->confirmed = t;
	return 0;
}

/* ---- the rules of each phase ---- */

bool pf_state_key_has_next(const pf_state_key *k)
{
	return k->next_key && k->next_cert && k->next_spki[0];
}

bool pf_state_key_has_old(const pf_state_key *k)
{
	return k->old_key && k->old_cert && k->old_spki[0];
}

static bool key_old_any(const pf_state_key *k)
{
	return k->old_key || k->old_cert || k->old_spki[0];
}

static bool key_next_any(const pf_state_key *k)
{
	return k->next_key || k->next_cert || k->next_spki[0];
}

int pf_state_validate(const pf_state *st, pf_err *e)
{
	enum pf_phase p = st->phase;
	size_t n_next_keys = 0, n_next_records = 0;
	bool any_absent = false;

	if ((unsigned)p >= PF_PHASE_COUNT)
		return pf_err_set(e, EINVAL, "unknown phase %d", (int)p);
	if (st->rollover[0] && !pf_state_valid_hex(st->rollover, PF_ROLLOVER_ID_LEN))
		return pf_err_set(e, EINVAL, "rollover id is not %d hex digits",
				  PF_ROLLOVER_ID_LEN);
	if (p != PF_PHASE_IDLE && !st->rollover[0])
		return pf_err_set(e, EINVAL, "phase %s requires rollover, which is missing",
				  pf_phase_name(p));
	if (st->rollover[0] && !st->t[PF_T_STARTED])
		return pf_err_set(e, EINVAL, "a rollover requires t_started, which is missing");
	if (p == PF_PHASE_FAILED) {
		if (!st->failed_reason)
			return pf_err_set(e, EINVAL,
					  "phase failed requires failed_reason, which is missing");
		if ((unsigned)st->failed_from >= PF_PHASE_FAILED)
			return pf_err_set(e, EINVAL, "failed_from must name the phase that failed");
		p = st->failed_from;
	} else if (st->failed_reason) {
		return pf_err_set(e, EINVAL, "failed_reason is set but the phase is %s, not failed",
				  pf_phase_name(p));
	}
	if (st->failed_reason && !line_safe(st->failed_reason, PF_STATE_MAX_TEXT))
		return pf_err_set(e, EINVAL,
				  "failed_reason has a control character or is too long");
	for (size_t i = 0; i < PF_T_COUNT; i++)
		if (st->t[i] < 0 || st->t[i] > PF_STATE_MAX_SECONDS)
			return pf_err_set(e, EINVAL, "%s is out of range", stamp_names[i]);

	for (size_t a = 0; a < PF_ALG_COUNT; a++) {
		const pf_state_key *k = &st->keys[a];
		const char *alg = pf_alg_name((enum pf_alg)a);

		if (!k->present) {
			if (key_next_any(k) || key_old_any(k))
				return pf_err_set(e, EINVAL, "%s key fields set on an absent key",
						  alg);
			continue;
		}
		if (key_next_any(k) && !pf_state_key_has_next(k))
			return pf_err_set(e, EINVAL,
					  "%s: next_key, next_cert and next_spki go together", alg);
		if (key_old_any(k) && !pf_state_key_has_old(k))
			return pf_err_set(e, EINVAL,
					  "%s: old_key, old_cert and old_spki go together", alg);
		if (!pf_state_key_has_next(k) && !pf_state_key_has_old(k))
			return pf_err_set(e, EINVAL, "%s key has neither a next nor an old key",
					  alg);
		if (pf_state_key_has_next(k)) {
			if (!pf_state_valid_path(k->next_key) ||
			    !pf_state_valid_path(k->next_cert) ||
			    !pf_state_valid_hex(k->next_spki, 64))
				return pf_err_set(e, EINVAL, "%s next key has a bad value", alg);
			n_next_keys++;
		}
		if (pf_state_key_has_old(k) &&
		    (!pf_state_valid_path(k->old_key) || !pf_state_valid_path(k->old_cert) ||
		     !pf_state_valid_hex(k->old_spki, 64)))
			return pf_err_set(e, EINVAL, "%s old key has a bad value", alg);
	}
	for (size_t i = 0; i < st->n_records; i++) {
		const pf_state_record *rec = &st->records[i];
		const pf_state_key *k = &st->keys[rec->alg];
		int r;

		if ((unsigned)rec->alg >= PF_ALG_COUNT)
			return pf_err_set(e, EINVAL, "record with an unknown algorithm");
		if ((r = check_rdata(&rec->rdata, e)) < 0)
			return r;
		if (rec->role == PF_ROLE_NEXT ? !pf_state_key_has_next(k)
					      : !pf_state_key_has_old(k))
			return pf_err_set(
				e, EINVAL, "record for %s port %u: the %s %s key is not set",
				rec->host, rec->port, rec->role == PF_ROLE_NEXT ? "next" : "old",
				pf_alg_name(rec->alg));
		if (rec->role == PF_ROLE_NEXT)
			n_next_records++;
	}
	{
		long d = pf_state_duplicate_record(st);

		if (d >= 0)
			return pf_err_set(e, EINVAL, "record for %s port %u listed twice",
					  st->records[d].host, st->records[d].port);
	}
	for (size_t i = 0; i < st->n_maincf; i++)
		if (!valid_param_name(st->maincf[i].name) ||
		    (st->maincf[i].value &&
		     !line_safe(st->maincf[i].value, PF_STATE_MAX_LINE - 200)))
			return pf_err_set(e, EINVAL, "main.cf setting %zu has a bad value", i + 1);
	for (size_t i = 0; i < st->n_rrsets; i++)
		if (!st->rrsets[i].existed)
			any_absent = true;
	for (size_t i = 0; i < st->n_events; i++)
		if (!line_safe(st->events[i].msg, PF_STATE_MAX_TEXT) ||
		    !pf_state_valid_token(st->events[i].kind, sizeof(st->events[i].kind) - 1))
			return pf_err_set(e, EINVAL, "event %zu has a bad value", i + 1);
	if (st->have_params &&
	    (st->params.ttl_factor < 1 || st->params.ttl_factor > 100 ||
	     st->params.publish_safety < 0 || st->params.publish_safety > PF_STATE_MAX_SECONDS ||
	     st->params.propagation_min_delay < 0 ||
	     st->params.propagation_min_delay > PF_STATE_MAX_SECONDS ||
	     st->params.retire_delay < 0 || st->params.retire_delay > PF_STATE_MAX_SECONDS))
		return pf_err_set(e, EINVAL, "a timing parameter is out of range");

#define NEED(cond, what)                                                                           \
	do {                                                                                       \
		if (!(cond))                                                                       \
			return pf_err_set(e, EINVAL, "phase %s requires %s, which is missing",     \
					  pf_phase_name(p), what);                                 \
	} while (0)
	if (st->staging && p > PF_PHASE_STAGED)
		return pf_err_set(e, EINVAL, "staging is set, but phase %s is past staged",
				  pf_phase_name(p));
	if (p == PF_PHASE_STAGED && !st->staging && !st->t[PF_T_REQUESTED])
		return pf_err_set(
			e, EINVAL,
			"phase staged requires staging or t_requested, which are missing");
	if (p >= PF_PHASE_GENERATED)
		NEED(n_next_keys > 0, "the next keys (<alg>.next_key, next_cert, next_spki)");
	if (p >= PF_PHASE_PUBLISHED) {
		NEED(st->t[PF_T_PUB], "t_pub");
		NEED(n_next_records > 0, "the published records (record = next ...)");
		NEED(st->tlsa_ttl > 0, "tlsa_ttl");
		NEED(st->n_rrsets > 0, "the TLSA RRsets seen before the update (rrset_before)");
		NEED(!any_absent || st->have_soa, "soa_ttl and soa_minimum");
		NEED(st->have_serial, "update_serial");
		NEED(st->have_params, "the timing parameters (ttl_factor, publish_safety, ...)");
	}
	if (p >= PF_PHASE_PROPAGATED)
		NEED(st->t[PF_T_CONF], "t_conf");
	if (p >= PF_PHASE_DEPLOYED) {
		NEED(st->t[PF_T_RELOAD], "t_reload");
		NEED(st->n_maincf > 0, "the previous main.cf settings (maincf)");
	}
	if (p >= PF_PHASE_VERIFIED)
		NEED(st->t[PF_T_VERIFIED], "t_verified");
	if (p >= PF_PHASE_RETIRED)
		NEED(st->t[PF_T_RETIRED], "t_retired");
#undef NEED
	return 0;
}

/* ---- rule 8: the files a state may make the program touch ---- */

bool pf_key_file_name_ours(const char *base, enum pf_alg alg, bool cert, const char **ret_stamp)
{
	const char *prefix =
		alg == PF_ALG_ECDSA ? (cert ? "eccert-" : "eckey-") : (cert ? "cert-" : "key-");
	const char *p = base;

	if ((unsigned)alg >= PF_ALG_COUNT || strncmp(p, prefix, strlen(prefix)) != 0)
		return false;
	p += strlen(prefix);
	/* "%Y%m%d-%H%M%S" then ".pem", and nothing after it. */
	for (size_t i = 0; i < 15; i++)
		if (i == 8 ? p[i] != '-' : !isdigit((unsigned char)p[i]))
			return false;
	if (strcmp(p + 15, ".pem") != 0)
		return false;
	if (ret_stamp)
		*ret_stamp = p;
	return true;
}

/* True when p starts with a stamp YYYYMMDD-HHMMSS. */
static bool is_stamp(const char *p)
{
	for (size_t i = 0; i < 15; i++)
		if (i == 8 ? p[i] != '-' : !isdigit((unsigned char)p[i]))
			return false;
	return true;
}

bool pf_ca_file_name_ours(const char *base, enum pf_alg alg, bool combined,
			  const char **ret_key_stamp)
{
	const char *prefix = alg == PF_ALG_ECDSA ? (combined ? "ecchain-" : "eccert-")
						 : (combined ? "chain-" : "cert-");
	const char *p = base;

	if ((unsigned)alg >= PF_ALG_COUNT || strncmp(p, prefix, strlen(prefix)) != 0)
		return false;
	p += strlen(prefix);
	/* KEYSTAMP "-ca-" ISSUESTAMP ".pem", and nothing after it. */
	if (!is_stamp(p) || strncmp(p + 15, "-ca-", 4) != 0 || !is_stamp(p + 19) ||
	    strcmp(p + 34, ".pem") != 0)
		return false;
	if (ret_key_stamp)
		*ret_key_stamp = p;
	return true;
}

/* Length of dir without trailing slashes ("/" stays "/"). */
static size_t dir_len(const char *dir, size_t n)
{
	while (n > 1 && dir[n - 1] == '/')
		n--;
	return n;
}

/* True when a[0..an) and b[0..bn) are one path but for repeated slashes. */
static bool same_dir_text(const char *a, size_t an, const char *b, size_t bn)
{
	size_t i = 0, j = 0;

	an = dir_len(a, an);
	bn = dir_len(b, bn);
	while (i < an && j < bn) {
		if (a[i] != b[j])
			return false;
		if (a[i] == '/') {
			while (i < an && a[i] == '/')
				i++;
			while (j < bn && b[j] == '/')
				j++;
		} else {
			i++;
			j++;
		}
	}
	return i == an && j == bn;
}

/* True when a path component of s[0..n) is "." or "..". */
static bool has_dot_component(const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j < n && s[j] != '/')
			j++;
		if ((j - i == 1 && s[i] == '.') || (j - i == 2 && s[i] == '.' && s[i + 1] == '.'))
			return true;
		i = j + 1;
	}
	return false;
}

/* Check one next file of alg against rule 8; *ret_stamp is its stamp.
 * Returns 0 or -EINVAL with e saying why (field names it). */
static int check_one_file(const char *path, const char *field, enum pf_alg alg, bool cert,
			  const char *config_dir, const char **ret_stamp, pf_err *e)
{
	const char *slash = strrchr(path, '/'), *base;
	struct stat sb;

	if (path[0] != '/' || !slash)
		return pf_err_set(e, EINVAL, "%s \"%.200s\" is not an absolute path", field, path);
	base = slash + 1;
	/* The directory as configured, not merely the same directory now:
	 * a symbolic link the state names (in /tmp, say) could be turned
	 * elsewhere between this check and the write or the unlink.  A "."
	 * or ".." is named as such: "DIR/../x" is outside, and saying why is
	 * clearer than a complaint about the directory. */
	if (!same_dir_text(path, (size_t)(slash - path) ? (size_t)(slash - path) : 1, config_dir,
			   strlen(config_dir)))
		return pf_err_set(
			e, EINVAL,
			has_dot_component(path, strlen(path))
				? "%s \"%.200s\" has a \".\" or \"..\" component, so is not "
				  "directly in postfix_config_directory %.200s"
				: "%s \"%.200s\" is not directly in postfix_config_directory "
				  "%.200s",
			field, path, config_dir);
	if (!pf_key_file_name_ours(base, alg, cert, ret_stamp))
		return pf_err_set(e, EINVAL,
				  "%s \"%.200s\" is not named as this program names %s %s files "
				  "(%s%s-YYYYMMDD-HHMMSS.pem)",
				  field, path, alg == PF_ALG_ECDSA ? "ECDSA" : "RSA",
				  cert ? "certificate" : "key", alg == PF_ALG_ECDSA ? "ec" : "",
				  cert ? "cert" : "key");
	/* Our files are regular files; a symbolic link in their place would
	 * make a deploy hand Postfix whatever it points to. */
	if (lstat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
		return pf_err_set(e, EINVAL, "%s \"%.200s\" is not a regular file%s", field, path,
				  S_ISLNK(sb.st_mode) ? " (a symbolic link)" : "");
	return 0;
}

int pf_state_check_files(const pf_state *st, const char *config_dir, char ret_field[32], pf_err *e)
{
	char field[32];
	int r;

	for (size_t a = 0; a < PF_ALG_COUNT; a++) {
		const pf_state_key *k = &st->keys[a];
		const char *alg = pf_alg_name((enum pf_alg)a), *ks = NULL, *cs = NULL;

		/* The old key and certificate are what main.cf named before
		 * (the operator's own, perhaps /etc/ssl/...): the program reads
		 * them and withdraws their records, but never writes, deploys
		 * or removes them, so rule 8 does not bound where they are. */
		if (!k->present || !pf_state_key_has_next(k))
			continue;
		snprintf(field, sizeof(field), "%s.next_key", alg);
		r = check_one_file(k->next_key, field, (enum pf_alg)a, false, config_dir, &ks, e);
		if (r == 0) {
			snprintf(field, sizeof(field), "%s.next_cert", alg);
			r = check_one_file(k->next_cert, field, (enum pf_alg)a, true, config_dir,
					   &cs, e);
		}
		if (r == 0 && strcmp(ks, cs) != 0)
			r = pf_err_set(e, EINVAL,
				       "%s \"%.200s\" and %s.next_key \"%.200s\" are not one pair "
				       "(their time stamps differ)",
				       field, k->next_cert, alg, k->next_key);
		if (r < 0) {
			if (ret_field)
				snprintf(ret_field, 32, "%s", field);
			return r;
		}
	}
	/* A rollback puts the snapshot back with "postconf -e": a name
	 * outside the deploy's own parameters (mailbox_command, say) would
	 * let the state file rewrite any of main.cf. */
	for (size_t i = 0; i < st->n_maincf; i++) {
		bool known = false;

		for (const char *const *p = postfix_tls_server_params; *p && !known; p++)
			known = strcmp(*p, st->maincf[i].name) == 0;
		if (!known) {
			if (ret_field)
				snprintf(ret_field, 32, "maincf");
			return pf_err_set(e, EINVAL,
					  "maincf names %.100s, not one of the TLS server key and "
					  "certificate parameters a deploy changes",
					  st->maincf[i].name);
		}
	}
	return 0;
}
