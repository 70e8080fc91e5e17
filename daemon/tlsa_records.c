/*
 * tlsa_records.c - TLSA record sets of keys, canonical owner names and the
 * distinct-owner index (see tlsa_records.h).  Sorting, not pairwise
 * comparison: with many host names a set holds thousands of records.
 */
#include "tlsa_records.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keystore.h"

char *tlsa_owner_canon(const char *host, uint16_t port, char *buf, size_t len)
{
	size_t hl = strlen(host);
	int n;

	if (hl && host[hl - 1] == '.')
		hl--;
	n = snprintf(buf, len, "_%u._tcp.%.*s.", port, (int)hl, host);
	if (hl == 0 || n < 0 || (size_t)n >= len) {
		if (len)
			buf[0] = '\0';
		return NULL;
	}
	for (char *p = buf; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return buf;
}

int tlsa_owner_parse(const char *owner, uint16_t *ret_port, char *host, size_t hostlen)
{
	unsigned long port;
	const char *h;
	char *end;
	size_t hl;

	if (owner[0] != '_' || !isdigit((unsigned char)owner[1]))
		return -EINVAL;
	errno = 0;
	port = strtoul(owner + 1, &end, 10);
	if (errno || port == 0 || port > 65535 || strncasecmp(end, "._tcp.", 6) != 0)
		return -EINVAL;
	h = end + 6;
	hl = strlen(h);
	if (hl && h[hl - 1] == '.')
		hl--;
	if (hl == 0 || hl >= hostlen)
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*ret_port = (uint16_t)port;
	return 0;
}

/* qsort_r order of item indexes: name, then index. */
static int name_cmp(const void *pa, const void *pb, void *arg)
{
	const char *const *names = arg;
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	int c = strcmp(names[a], names[b]);

	return c ? c : a < b ? -1 : a > b;
}

/*
 * rep[i] = the first index whose name equals names[i] (so rep[i] <= i),
 * for n names.  rep holds n entries.
 */
static void first_of_each(const char *const *names, size_t n, size_t *rep)
{
	size_t *idx = pf_calloc(n + 1, sizeof(*idx));

	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	qsort_r(idx, n, sizeof(*idx), name_cmp, (void *)names);
	for (size_t i = 0; i < n; i++)
		rep[idx[i]] = i && strcmp(names[idx[i - 1]], names[idx[i]]) == 0 ? rep[idx[i - 1]]
										 : idx[i];
	free(idx);
}

void tlsa_owner_index_build(const char *first, size_t stride, size_t n, tlsa_owner_index *ret)
{
	const char **names = pf_calloc(n + 1, sizeof(*names));
	size_t *rep = pf_calloc(n + 1, sizeof(*rep));

	memset(ret, 0, sizeof(*ret));
	ret->owners = pf_calloc(n + 1, sizeof(*ret->owners));
	ret->of = pf_calloc(n + 1, sizeof(*ret->of));
	for (size_t i = 0; i < n; i++)
		names[i] = first + i * stride;
	first_of_each(names, n, rep);
	for (size_t i = 0; i < n; i++) {
		if (rep[i] == i) {
			ret->of[i] = ret->n;
			ret->owners[ret->n++] = pf_strdup(names[i]);
		} else {
			ret->of[i] = ret->of[rep[i]];
		}
	}
	free(rep);
	free(names);
}

void tlsa_owner_index_free(tlsa_owner_index *ix)
{
	for (size_t i = 0; i < ix->n; i++)
		free(ix->owners[i]);
	free(ix->owners);
	free(ix->of);
	memset(ix, 0, sizeof(*ix));
}

/* qsort_r order of record indexes: owner, data, then index. */
static int record_cmp(const void *pa, const void *pb, void *arg)
{
	const tlsa_record *v = arg;
	size_t ia = *(const size_t *)pa, ib = *(const size_t *)pb;
	const tlsa_record *a = &v[ia], *b = &v[ib];
	int c = strcmp(a->owner, b->owner);

	if (c == 0 && a->rd.len != b->rd.len)
		c = a->rd.len < b->rd.len ? -1 : 1;
	if (c == 0) {
		unsigned char x[3] = {a->rd.usage, a->rd.selector, a->rd.mtype};
		unsigned char y[3] = {b->rd.usage, b->rd.selector, b->rd.mtype};

		if ((c = memcmp(x, y, 3)) == 0)
			c = memcmp(a->rd.data, b->rd.data, a->rd.len);
	}
	return c ? c : ia < ib ? -1 : ia > ib;
}

/* Drop every record equal to an earlier one, keeping the order. */
static void dedup(tlsa_record_set *s)
{
	size_t *idx = pf_calloc(s->n + 1, sizeof(*idx)), w = 0;
	bool *drop = pf_calloc(s->n + 1, sizeof(*drop));

	for (size_t i = 0; i < s->n; i++)
		idx[i] = i;
	qsort_r(idx, s->n, sizeof(*idx), record_cmp, s->v);
	for (size_t i = 1; i < s->n; i++) {
		const tlsa_record *a = &s->v[idx[i - 1]], *b = &s->v[idx[i]];

		drop[idx[i]] = strcmp(a->owner, b->owner) == 0 && tlsa_equal(&a->rd, &b->rd);
	}
	for (size_t i = 0; i < s->n; i++)
		if (!drop[i])
			s->v[w++] = s->v[i];
	s->n = w;
	free(drop);
	free(idx);
}

int tlsa_records_add(tlsa_record_set *s, const pf_strv *hosts, const uint16_t *ports,
		     size_t n_ports, const pf_tlsa_rdata *rd, size_t n_rd, size_t key, pf_err *e)
{
	size_t add = hosts->n * n_ports * n_rd, m = s->n;

	s->v = pf_realloc(s->v, (s->n + add + 1) * sizeof(*s->v));
	for (size_t h = 0; h < hosts->n; h++) {
		for (size_t p = 0; p < n_ports; p++) {
			char owner[TLSA_OWNER_SIZE], text[300];

			if (!tlsa_owner_canon(hosts->v[h], ports[p], owner, sizeof(owner)) ||
			    strlen(hosts->v[h]) >= sizeof(s->v->host))
				return pf_err_usage(
					e, "TLSA name %.100s is too long",
					tlsa_owner(hosts->v[h], ports[p], text, sizeof(text)));
			for (size_t t = 0; t < n_rd; t++) {
				tlsa_record *r = &s->v[m++];

				memset(r, 0, sizeof(*r));
				memcpy(r->owner, owner, sizeof(owner));
				snprintf(r->host, sizeof(r->host), "%s", hosts->v[h]);
				size_t hl = strlen(r->host);
				if (hl && r->host[hl - 1] == '.')
					r->host[hl - 1] = '\0';
				r->port = ports[p];
				r->rd = rd[t];
				r->key = key;
			}
		}
	}
	s->n = m;
	dedup(s);
	return 0;
}

int tlsa_records_add_key(tlsa_record_set *s, const pf_config *cfg, const pf_strv *hosts,
			 const char *keypath, const char *certpath, size_t key, pf_err *e)
{
	pf_tlsa_rdata *rd = NULL;
	int r;

	if (certpath)
		r = tlsa_for_files(keypath, certpath, cfg->tlsa_records, cfg->n_tlsa_records, &rd,
				   e);
	else
		r = tlsa_for_keyfile(keypath, cfg->tlsa_records, cfg->n_tlsa_records, &rd, e);
	if (r == 0)
		r = tlsa_records_add(s, hosts, cfg->tlsa_ports, cfg->n_tlsa_ports, rd,
				     cfg->n_tlsa_records, key, e);
	free(rd);
	return r;
}

void tlsa_records_index(tlsa_record_set *s)
{
	tlsa_owner_index_free(&s->owners);
	tlsa_owner_index_build(s->v ? s->v[0].owner : "", sizeof(*s->v), s->n, &s->owners);
}

void tlsa_records_free(tlsa_record_set *s)
{
	tlsa_owner_index_free(&s->owners);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

int tlsa_records_hosts_ask(const pf_config *cfg, int (*ask)(void *arg, char **ret, pf_err *e),
			   void *arg, pf_strv *ret, pf_err *e)
{
	char *h = NULL;
	int r;

	if (cfg->tlsa_hostnames.n) {
		for (size_t i = 0; i < cfg->tlsa_hostnames.n; i++)
			pf_strv_push(ret, cfg->tlsa_hostnames.v[i]);
		return 0;
	}
	if ((r = ask(arg, &h, e)) < 0) {
		pf_err_prefix(e, "tlsa_hostnames is not set, and Postfix's myhostname");
		return r;
	}
	if (!pf_valid_hostname(h)) {
		free(h);
		return pf_err_usage(e, "tlsa_hostnames is not set, and Postfix's myhostname is "
				       "not a usable host name");
	}
	pf_strv_push_owned(ret, h);
	return 0;
}

/* tlsa_records_hosts_ask's question, put to a Postfix handle. */
static int ask_postfix(void *arg, char **ret, pf_err *e)
{
	return postfix_myhostname(arg, ret, e);
}

int tlsa_records_hosts(const pf_config *cfg, pf_postfix *pf, pf_strv *ret, pf_err *e)
{
	pf_postfix own;
	int r;

	if (cfg->tlsa_hostnames.n || pf)
		return tlsa_records_hosts_ask(cfg, ask_postfix, pf, ret, e);
	if ((r = postfix_open(&own, cfg->postfix_command_directory, cfg->postfix_config_directory,
			      e)) < 0)
		return r;
	r = tlsa_records_hosts_ask(cfg, ask_postfix, &own, ret, e);
	postfix_close(&own);
	return r;
}
