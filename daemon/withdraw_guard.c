/*
 * withdraw_guard.c - the one check every withdrawal of TLSA records passes
 * (withdraw_guard.h): which keys are in use right now, read from main.cf
 * through the Postfix adapter and asked of the live endpoints through the
 * network process, and whether any record about to be withdrawn is one of
 * theirs.  It owns no state and changes nothing: it answers yes or no, and
 * on no, logs the refusal once.
 */
#include "withdraw_guard.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "keystore.h"
#include "net.h"

void withdraw_guard_inuse_free(pf_guard_inuse *u)
{
	if (!u)
		return;
	free(u->v);
	u->v = NULL;
	u->n = 0;
}

void withdraw_guard_inuse_add(pf_guard_inuse *u, const char *spki, const char *path,
			      const char *where)
{
	pf_guard_key *k;

	u->v = pf_realloc(u->v, (u->n + 1) * sizeof(*u->v));
	k = &u->v[u->n++];
	memset(k, 0, sizeof(*k));
	snprintf(k->spki_sha256, sizeof(k->spki_sha256), "%s", spki ? spki : "");
	snprintf(k->path, sizeof(k->path), "%s", path ? path : "");
	snprintf(k->where, sizeof(k->where), "%s", where ? where : "");
}

/* True when the "3 1 1" record rd carries the digest spki (hex). */
static bool rd_is_spki(const pf_tlsa_rdata *rd, const char *spki)
{
	char hex[2 * sizeof(rd->data) + 1];

	if (rd->selector != 1 || rd->mtype != 1 || rd->len != 32 || strlen(spki) != 64)
		return false;
	for (size_t i = 0; i < rd->len; i++)
		snprintf(hex + 2 * i, 3, "%02x", rd->data[i]);
	return strcmp(hex, spki) == 0;
}

ssize_t withdraw_guard_decide(const pf_guard_inuse *u, const pf_guard_record *recs, size_t n,
			      size_t *ret_key)
{
	for (size_t i = 0; i < n; i++) {
		const pf_guard_record *r = &recs[i];

		for (size_t k = 0; k < u->n; k++) {
			const pf_guard_key *g = &u->v[k];
			bool hit = false;

			if (g->spki_sha256[0]) {
				hit = r->key_spki && strcmp(r->key_spki, g->spki_sha256) == 0;
				hit |= rd_is_spki(&r->rd, g->spki_sha256);
			}
			/* A file main.cf names but nobody can read (yet) is still
			 * named: its key's records go only once main.cf lets go. */
			hit |= g->path[0] && r->key_file && strcmp(r->key_file, g->path) == 0;
			if (hit) {
				if (ret_key)
					*ret_key = k;
				return (ssize_t)i;
			}
		}
	}
	return -1;
}

/* path with symbolic links and ".." resolved when it exists, else as
 * given, into buf[len]. */
static const char *resolved(const char *path, char *buf, size_t len)
{
	char tmp[PATH_MAX];

	snprintf(buf, len, "%s", realpath(path, tmp) ? tmp : path);
	return buf;
}

/* Add the key in file (a private key, else the first certificate), named
 * by main.cf parameter param. */
static void add_file(pf_guard_inuse *u, const char *param, const char *file)
{
	pf_pubkey pk = {0};
	pf_err e = {0};
	char path[PATH_MAX], *where;
	X509 *cert = NULL;

	if (!file || !*file || strcmp(file, "none") == 0)
		return;
	resolved(file, path, sizeof(path));
	if (keystore_load_pubkey(file, &pk, &e) < 0) {
		pf_err_clear(&e);
		if (keystore_load_cert(file, &cert, &e) < 0 ||
		    keystore_pubkey_of_cert(cert, &pk, &e) < 0)
			pk.spki_sha256[0] = '\0';
		X509_free(cert);
	}
	where = pf_asprintf("%s = %.300s", param, file);
	withdraw_guard_inuse_add(u, pk.spki_sha256, path, where);
	free(where);
	pf_pubkey_free(&pk);
}

int withdraw_guard_maincf(pf_postfix *pf, pf_guard_inuse *ret, pf_err *e)
{
	static const char *const prefixes[] = {"smtpd", "tlsproxy"};
	/* Per prefix: a key and a certificate parameter per algorithm, and
	 * the chain files. */
	enum { N_NAMES = PF_ELEMENTSOF(prefixes) * (2 * PF_ALG_COUNT + 1) };
	char names[N_NAMES][48], *vals[N_NAMES] = {0};
	const char *np[N_NAMES];
	size_t n = 0;
	int rc;

	for (size_t p = 0; p < PF_ELEMENTSOF(prefixes); p++) {
		for (int a = 0; a < PF_ALG_COUNT; a++) {
			postfix_key_params(prefixes[p], (enum pf_alg)a, names[n], names[n + 1]);
			n += 2;
		}
		snprintf(names[n++], sizeof(names[0]), "%s_tls_chain_files", prefixes[p]);
	}
	for (size_t i = 0; i < n; i++)
		np[i] = names[i];
	/* Expanded: tlsproxy_tls_* default to "$smtpd_tls_*", and an
	 * explicit setting is what tlsproxy uses.  Every file named counts,
	 * even where smtpd_tls_chain_files makes Postfix ignore the legacy
	 * parameters: an operator may remove the list at the next edit. */
	if ((rc = postfix_get(pf, PF_PC_EXPAND, np, n, vals, e)) < 0) {
		pf_err_prefix(e, "cannot tell which keys main.cf deploys");
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		if (!vals[i])
			continue;
		if (strstr(names[i], "chain_files")) {
			pf_strv files = {0};

			pf_split_list(vals[i], &files);
			for (size_t f = 0; f < files.n; f++)
				add_file(ret, names[i], files.v[f]);
			pf_strv_clear(&files);
		} else {
			add_file(ret, names[i], vals[i]);
		}
		free(vals[i]);
	}
	return 0;
}

void withdraw_guard_endpoints(pf_net *net, const pf_hostport *eps, size_t n, unsigned alg_mask,
			      pf_guard_inuse *ret, pf_strv *ret_unreached)
{
	for (size_t i = 0; i < n; i++) {
		char label[PF_ENDPOINT_BUF];

		snprintf(label, sizeof(label), "%s:%u", eps[i].host,
			 eps[i].port ? eps[i].port : 25);
		for (int a = 0; a < PF_ALG_COUNT; a++) {
			pf_probe_result res;
			pf_err e = {0};
			int rc;

			if (!(alg_mask & (1u << a)))
				continue;
			rc = net_probe(net, &eps[i], eps[i].host, NULL, 0, (enum pf_probe_want)a,
				       PF_GUARD_PROBE_TIMEOUT_MS, &res, &e);
			if (rc == 0) {
				char *where = pf_asprintf("endpoint %s", label);

				withdraw_guard_inuse_add(ret, res.spki_sha256, NULL, where);
				free(where);
				continue;
			}
			if (ret_unreached)
				pf_strv_push_owned(ret_unreached,
						   pf_asprintf("%s: %.200s", label, e.msg));
			/* Nobody listens there: the other algorithm's probe
			 * would only wait out the same silence. */
			if (rc == -ECONNREFUSED || rc == -ETIMEDOUT || rc == -EHOSTUNREACH ||
			    rc == -ENETUNREACH)
				break;
		}
	}
}

static int hostport_cmp(const pf_hostport *a, const pf_hostport *b)
{
	unsigned pa = a->port ? a->port : 25, pb = b->port ? b->port : 25;
	int c = strcasecmp(a->host, b->host);

	return c ? c : pa < pb ? -1 : pa > pb;
}

void withdraw_guard_endpoint_list(const pf_config *cfg, const pf_strv *hosts, pf_hostport_list *ret)
{
	size_t w = 0;

	if (cfg->verify_endpoints.n) {
		ret->n = cfg->verify_endpoints.n;
		ret->v = pf_calloc(ret->n, sizeof(pf_hostport));
		memcpy(ret->v, cfg->verify_endpoints.v, ret->n * sizeof(pf_hostport));
	} else {
		ret->n = hosts->n * cfg->n_tlsa_ports;
		ret->v = pf_calloc(ret->n + 1, sizeof(pf_hostport));
		for (size_t h = 0, i = 0; h < hosts->n; h++)
			for (size_t p = 0; p < cfg->n_tlsa_ports; p++, i++) {
				snprintf(ret->v[i].host, sizeof(ret->v[i].host), "%s", hosts->v[h]);
				ret->v[i].port = cfg->tlsa_ports[p];
			}
	}
	/* An endpoint named twice is asked once (the same handshake again
	 * proves nothing more), in the order given. */
	for (size_t i = 0; i < ret->n; i++) {
		bool seen = false;

		for (size_t j = 0; j < w && !seen; j++)
			seen = hostport_cmp(&ret->v[j], &ret->v[i]) == 0;
		if (!seen)
			ret->v[w++] = ret->v[i];
	}
	ret->n = w;
}

int withdraw_guard_check(const pf_guard_req *q, const pf_guard_record *recs, size_t n, pf_err *e)
{
	pf_guard_inuse u = {0};
	pf_guard_record *rs;
	char(*paths)[PATH_MAX];
	unsigned mask = 0;
	size_t key = 0;
	ssize_t hit;
	int rc;

	if (n == 0)
		return 0;
	/* main.cf first: when it cannot be read nothing is known, and
	 * nothing is withdrawn (fail closed). */
	if ((rc = withdraw_guard_maincf(q->pf, &u, e)) < 0)
		return rc;
	rs = pf_calloc(n, sizeof(*rs));
	paths = pf_calloc(n, sizeof(*paths));
	for (size_t i = 0; i < n; i++) {
		rs[i] = recs[i];
		if (recs[i].key_file)
			rs[i].key_file = resolved(recs[i].key_file, paths[i], sizeof(paths[i]));
		mask |= recs[i].alg >= 0 && recs[i].alg < PF_ALG_COUNT ? 1u << recs[i].alg
								       : (1u << PF_ALG_COUNT) - 1;
	}
	hit = withdraw_guard_decide(&u, rs, n, &key);
	/*
	 * Then the endpoints, only when main.cf permits: a key an endpoint
	 * presents is in use (an smtpd or tlsproxy process that has not
	 * exited since the last reload, a Postfix whose main.cf was changed
	 * without a reload, another host behind the name), so it blocks.  An
	 * endpoint that cannot be reached presents nothing to anyone now, and
	 * main.cf - already checked - is what Postfix will present when it
	 * runs again; letting an unreachable endpoint block would hold every
	 * cancel and retire for as long as Postfix is stopped or the network
	 * is down, and the records of a key main.cf no longer names protect
	 * nobody.
	 */
	if (hit < 0 && q->endpoints && q->endpoints->n) {
		withdraw_guard_endpoints(q->net, q->endpoints->v, q->endpoints->n, mask, &u, NULL);
		hit = withdraw_guard_decide(&u, rs, n, &key);
	}
	if (hit >= 0) {
		const pf_guard_record *r = &recs[hit];
		const pf_guard_key *g = &u.v[key];
		bool endpoint = strncmp(g->where, "endpoint ", 9) == 0;
		char hint[500] = "", who[460];
		pf_event_ctx ctx = {.phase = PF_PHASE_IDLE};

		if (q->hint)
			q->hint(r, q->hint_arg, hint, sizeof(hint));
		/* The parameter alone when it names the very file. */
		const char *eq = strstr(g->where, " = ");
		bool same = eq && r->key_file && strcmp(rs[hit].key_file, g->path) == 0;

		if (endpoint)
			snprintf(who, sizeof(who), "%s presents this key", g->where);
		else
			snprintf(who, sizeof(who), "Postfix uses this key (%.*s)",
				 same ? (int)(eq - g->where) : (int)strlen(g->where), g->where);
		if (q->st)
			pf_event_ctx_from_state(q->st, &ctx);
		memset(ctx.key_spki, 0, sizeof(ctx.key_spki));
		ctx.key_spki[0] = r->key_spki         ? r->key_spki
				  : g->spki_sha256[0] ? g->spki_sha256
						      : NULL;
		ctx.server = endpoint ? g->where + 9 : NULL;
		rc = pf_err_refuse(e, "refusing to %s %.300s: %s; its TLSA records must stay%s%s",
				   q->action, r->key_file ? r->key_file : "a record", who,
				   hint[0] ? "; " : "", hint);
		pf_journal_log(PF_EV_WITHDRAWAL_REFUSED, &ctx, "%s", e->msg);
	}
	withdraw_guard_inuse_free(&u);
	free(rs);
	free(paths);
	return rc;
}
