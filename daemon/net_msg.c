/*
 * net_msg.c - the messages between the privileged process and the network
 * process (see net_msg.h for the rules): the type table (names and largest
 * bodies), one field table per message, the checks that relate fields to
 * each other or to the request a reply answers, and the net_enc_* /
 * net_dec_* functions, thin wrappers that fill a message structure and hand
 * it with its table to the one encoder and decoder of net_codec.c.  The
 * messages of the two checks, a propagation round and a STARTTLS probe,
 * are in net_msg_check.c.
 *
 * A decoder decodes into a message structure of its own and copies to the
 * caller's outputs only once everything was accepted: a refused message
 * leaves them as they were.  Encoders never send what the other side must
 * refuse when given what the real functions produce.
 */
#include "net_msg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net_codec.h"
#include "net_msg_int.h"
#include "util.h"
#include "macro.h"

#define MAX_ERRNO 4095

/* ---- types ---------------------------------------------------------------- */

static const struct {
	const char *name;
	size_t max;
} types[NET_TYPE_END] = {
	[NET_HELLO] = {"hello", 2048},
	[NET_DISCOVER_REQ] = {"discover request", 4 * 1024 * 1024},
	[NET_DISCOVER_REP] = {"discover reply", 1024 * 1024},
	[NET_UPDATE_REQ] = {"update request", 16 * 1024 * 1024},
	[NET_UPDATE_REP] = {"update reply", 2 * NET_TEXT_MAX + 4 * 1024 * 1024},
	[NET_PROP_REQ] = {"propagation request", 16 * 1024 * 1024},
	[NET_PROP_REP] = {"propagation reply", 16 * 1024 * 1024},
	[NET_PROBE_REQ] = {"probe request", 128 * 1024},
	[NET_PROBE_REP] = {"probe reply", 4096 + PF_PROBE_CHAIN_MAX},
	[NET_SIGN_REQ] = {"sign request", 4 + NET_DNS_MAX},
	[NET_SIGN_REP] = {"sign reply", 1024 + 4 + NET_DNS_MAX + 4 + DNS_TSIG_MAC_MAX},
	[NET_MAC_REQ] = {"MAC check request", 4 + NET_MAC_INPUT_MAX + 4 + DNS_TSIG_MAC_MAX},
	[NET_MAC_REP] = {"MAC check reply", 1},
};

size_t net_type_max(uint32_t t)
{
	return t > 0 && t < NET_TYPE_END ? types[t].max : 0;
}

const char *net_type_name(uint32_t t)
{
	return t > 0 && t < NET_TYPE_END ? types[t].name : "unknown type";
}

/* ---- shared pieces ------------------------------------------------------------- */

/* A failure has its errno as its error code too. */
static void status_check(nc_reader *r, void *s, const void *ctx)
{
	const net_status *st = s;

	(void)ctx;
	if (st->rc < 0 && st->err.code == 0)
		nc_bad(r, "return value %d without an error code", st->rc);
}

static const nc_field status_f[] = {
	{NC_UX(net_status, rc, 4, -1, 0, 0, MAX_ERRNO, "return value")},
	{NC_U(net_status, err.code, 2, 0, MAX_ERRNO, "error code")},
	{NC_U(net_status, err.exit_code, 1, 0, PF_EXIT_REFUSED, "exit code")},
	{NC_S(net_status, err.msg, 0, NC_CL_LINE, "error message")},
	{NC_HK(status_check)},
};
const nc_desc net_status_d = NC_DESC(net_status, status_f);

/* The status as it travels: a return value of 0 or -1..-4095, a failure
 * with its errno as its error code, an exit code that exists. */
net_status net_status_norm(const net_status *st)
{
	net_status n = *st;

	n.rc = st->rc < -MAX_ERRNO ? -EIO : st->rc > 0 ? 0 : st->rc;
	n.err.code = st->err.code < 0 || st->err.code > MAX_ERRNO ? EIO : st->err.code;
	if (n.rc < 0 && n.err.code == 0)
		n.err.code = -n.rc;
	if (st->err.exit_code < 0 || st->err.exit_code > PF_EXIT_REFUSED)
		n.err.exit_code = PF_EXIT_FAIL;
	return n;
}

static const nc_field rdata_f[] = {
	{NC_U8(pf_tlsa_rdata, usage, "TLSA usage")},
	{NC_U8(pf_tlsa_rdata, selector, "TLSA selector")},
	{NC_U8(pf_tlsa_rdata, mtype, "TLSA matching type")},
	{NC_BY(pf_tlsa_rdata, data, len, 1, "TLSA data")},
};
const nc_desc net_rdata_d = NC_DESC(pf_tlsa_rdata, rdata_f);

/* A server address: family (0 none, 4, 6), address, port.  The label is
 * made again from the address, not taken from the other side. */
static void server_enc(net_buf *b, const void *m)
{
	const dns_server *s = m;
	const struct sockaddr_in *a4 = (const void *)&s->sa;
	const struct sockaddr_in6 *a6 = (const void *)&s->sa;

	if (s->sa.ss_family == AF_INET) {
		nc_put_uint(b, 4, 1);
		nc_put(b, &a4->sin_addr, 4);
		nc_put_uint(b, ntohs(a4->sin_port), 2);
	} else if (s->sa.ss_family == AF_INET6) {
		nc_put_uint(b, 6, 1);
		nc_put(b, &a6->sin6_addr, 16);
		nc_put_uint(b, ntohs(a6->sin6_port), 2);
	} else {
		nc_put_uint(b, 0, 1);
	}
}

static void server_dec(nc_reader *r, void *m)
{
	dns_server *s = m;
	unsigned fam = (unsigned)nc_get_uint(r, 1, "address family");
	char text[INET6_ADDRSTRLEN];
	const uint8_t *addr;
	uint16_t port;

	if (!nc_ok(r) || fam == 0)
		return;
	if (fam != 4 && fam != 6) {
		nc_bad(r, "address family %u", fam);
		return;
	}
	addr = nc_get(r, fam == 4 ? 4 : 16, "address");
	port = (uint16_t)nc_get_uint(r, 2, "port");
	if (nc_ok(r) && port == 0)
		nc_bad(r, "port 0");
	if (!nc_ok(r))
		return;
	inet_ntop(fam == 4 ? AF_INET : AF_INET6, addr, text, sizeof(text));
	if (dns_server_set(s, text, port) < 0)
		nc_bad(r, "address %s", text);
}

/* The fewest octets: the family alone. */
static const nc_custom server_c = {1, server_enc, server_dec};

static const nc_field target_f[] = {
	{NC_CUS(dns_target, addr, server_c, "server address")},
	{NC_S(dns_target, name, 0, NC_CL_NAME, "server name")},
	{NC_B(dns_target, update_server, "update server flag")},
};
static const nc_desc target_d = NC_DESC(dns_target, target_f);

static const nc_field zone_f[] = {
	{NC_S(dns_zone_info, zone, 0, NC_CL_NAME, "zone name")},
	{NC_SUB(dns_zone_info, update, target_d, "update server")},
	{NC_ARR(dns_zone_info, checks, n_checks, NET_MAX_SERVERS, target_d, "check servers")},
	{NC_S(dns_zone_info, mname, 0, NC_CL_NAME, "SOA MNAME")},
	{NC_U32(dns_zone_info, serial, "serial")},
	{NC_U32(dns_zone_info, soa_ttl, "SOA TTL")},
	{NC_U32(dns_zone_info, soa_minimum, "SOA MINIMUM")},
};
const nc_desc net_zone_d = NC_DESC(dns_zone_info, zone_f);

/* Encode with a table that never fails (no array).  Returns nothing. */
static void encode_fixed(net_buf *b, uint32_t t, const nc_desc *d, const void *msg)
{
	(void)nc_encode(b, t, d, msg, NULL);
}

/* ---- hello ------------------------------------------------------------------- */

typedef struct hello_msg {
	net_status st;
	net_sep sep;
} hello_msg;

static void hello_check(nc_reader *r, void *s, const void *ctx)
{
	const hello_msg *m = s;

	(void)ctx;
	if (m->sep.flags & ~NET_SEP_ALL)
		nc_bad(r, "unknown separation flags 0x%x", (unsigned)m->sep.flags);
}

static const nc_field hello_f[] = {
	{NC_SUB(hello_msg, st, net_status_d, "status")},
	{NC_U32(hello_msg, sep.uid, "uid")},
	{NC_U32(hello_msg, sep.gid, "gid")},
	{NC_U32(hello_msg, sep.flags, "separation flags")},
	{NC_U(hello_msg, sep.landlock_abi, 4, 0, NET_LANDLOCK_ABI_MAX, "Landlock ABI")},
	{NC_S(hello_msg, sep.why_uid, 0, NC_CL_LINE, "uid note")},
};
static const nc_desc hello_d = NC_DESC(hello_msg, hello_f);

void net_enc_hello(net_buf *b, const net_status *st, const net_sep *sep)
{
	hello_msg m = {net_status_norm(st), *sep};

	encode_fixed(b, NET_HELLO, &hello_d, &m);
}

int net_dec_hello(const net_buf *b, net_status *ret_st, net_sep *ret_sep, pf_err *e)
{
	hello_msg m;
	int rc;

	if ((rc = nc_decode(b, NET_HELLO, &hello_d, &m, hello_check, NULL, e)) < 0)
		return rc;
	*ret_st = m.st;
	*ret_sep = m.sep;
	return 0;
}

/* ---- discover ----------------------------------------------------------------- */

typedef struct owner_name {
	char name[PF_DNS_NAME_BUF];
} owner_name;

typedef struct disc_req_msg {
	bool has_zone;
	char zone[PF_DNS_NAME_BUF];
	pf_hostport_list upd, res, chk, extra;
	owner_name *owners;
	size_t n;
} disc_req_msg;

static const nc_field hostport_f[] = {
	{NC_S(pf_hostport, host, 1, NC_CL_NAME, "host")},
	{NC_U16(pf_hostport, port, "port")},
};
static const nc_desc hostport_d = NC_DESC(pf_hostport, hostport_f);

static const nc_field owner_f[] = {
	{NC_S(owner_name, name, 1, NC_CL_NAME, "owner name")},
};
static const nc_desc owner_d = NC_DESC(owner_name, owner_f);

static const nc_field disc_req_f[] = {
	{NC_B(disc_req_msg, has_zone, "dns_zone flag")},
	{NC_S(disc_req_msg, zone, 1, NC_CL_NAME, "dns_zone"), NC_WHEN_SET(disc_req_msg, has_zone)},
	{NC_ARR(disc_req_msg, upd.v, upd.n, 1, hostport_d, "dns_update_server")},
	{NC_ARR(disc_req_msg, res.v, res.n, NET_MAX_HOSTPORTS, hostport_d, "dns_resolver")},
	{NC_ARR(disc_req_msg, chk.v, chk.n, NET_MAX_HOSTPORTS, hostport_d, "dns_check_servers")},
	{NC_ARR(disc_req_msg, extra.v, extra.n, NET_MAX_HOSTPORTS, hostport_d,
		"dns_extra_check_servers")},
	{NC_ARR(disc_req_msg, owners, n, NET_MAX_ITEMS, owner_d, "owner names")},
};
static const nc_desc disc_req_d = NC_DESC(disc_req_msg, disc_req_f);

int net_enc_discover_req(net_buf *b, const pf_config *cfg, char *const *owners, size_t n, pf_err *e)
{
	disc_req_msg m = {.has_zone = cfg->dns_zone != NULL,
			  .upd = cfg->dns_update_server,
			  .res = cfg->dns_resolver,
			  .chk = cfg->dns_check_servers,
			  .extra = cfg->dns_extra_check_servers,
			  .n = n};
	int rc;

	if (cfg->dns_zone)
		snprintf(m.zone, sizeof(m.zone), "%s", cfg->dns_zone);
	m.owners = pf_calloc(n + 1, sizeof(*m.owners));
	for (size_t i = 0; i < n; i++)
		snprintf(m.owners[i].name, sizeof(m.owners[i].name), "%s", owners[i]);
	rc = nc_encode(b, NET_DISCOVER_REQ, &disc_req_d, &m, e);
	free(m.owners);
	return rc;
}

/* Moves list l into *to. */
static void hostports_take(pf_hostport_list *to, pf_hostport_list *l)
{
	free(to->v);
	*to = *l;
	memset(l, 0, sizeof(*l));
}

int net_dec_discover_req(const net_buf *b, pf_config *cfg, pf_strv *owners, pf_err *e)
{
	disc_req_msg m;
	int rc;

	if ((rc = nc_decode(b, NET_DISCOVER_REQ, &disc_req_d, &m, NULL, NULL, e)) < 0)
		return rc;
	if (m.has_zone) {
		free(cfg->dns_zone);
		cfg->dns_zone = pf_strdup(m.zone);
	}
	hostports_take(&cfg->dns_update_server, &m.upd);
	hostports_take(&cfg->dns_resolver, &m.res);
	hostports_take(&cfg->dns_check_servers, &m.chk);
	hostports_take(&cfg->dns_extra_check_servers, &m.extra);
	for (size_t i = 0; i < m.n; i++)
		pf_strv_push(owners, m.owners[i].name);
	nc_free(&disc_req_d, &m);
	return 0;
}

typedef struct owner_zone {
	size_t zone;
} owner_zone;

typedef struct disc_rep_msg {
	net_status st;
	dns_zone_info *z;
	size_t nz;
	owner_zone *oz;
	size_t noz;
} disc_rep_msg;

static const nc_field owner_zone_f[] = {
	{NC_U32(owner_zone, zone, "owner zone")},
};
static const nc_desc owner_zone_d = NC_DESC(owner_zone, owner_zone_f);

static const nc_field disc_rep_f[] = {
	{NC_SUB(disc_rep_msg, st, net_status_d, "status")},
	{NC_ARR(disc_rep_msg, z, nz, NET_MAX_ZONES, net_zone_d, "zones"),
	 NC_WHEN_ZERO(disc_rep_msg, st.rc)},
	{NC_ARR(disc_rep_msg, oz, noz, NET_MAX_ITEMS, owner_zone_d, "owner zones"),
	 NC_WHEN_ZERO(disc_rep_msg, st.rc)},
};
static const nc_desc disc_rep_d = NC_DESC(disc_rep_msg, disc_rep_f);

/* ctx: the number of owner names asked about. */
static void disc_rep_check(nc_reader *r, void *s, const void *ctx)
{
	const disc_rep_msg *m = s;
	size_t n_owners = *(const size_t *)ctx;

	if (m->st.rc < 0)
		return;
	for (size_t i = 0; i < m->nz; i++)
		if (!m->z[i].zone[0])
			nc_bad(r, "zone %zu has no name", i);
	if (nc_ok(r) && m->noz != n_owners)
		nc_bad(r, "%zu owner zones for %zu owner names", m->noz, n_owners);
	for (size_t i = 0; i < m->noz && nc_ok(r); i++)
		if (m->oz[i].zone >= m->nz)
			nc_bad(r, "owner zone %zu out of range 0..%zu", m->oz[i].zone,
			       m->nz ? m->nz - 1 : 0);
	if (nc_ok(r) && m->nz == 0 && n_owners > 0)
		nc_bad(r, "no zone for %zu owner names", n_owners);
}

int net_enc_discover_rep(net_buf *b, const net_status *st, const dns_zone_info *z, size_t n_zones,
			 const size_t *owner_zone_in, size_t n_owners, pf_err *e)
{
	/* The encoder only reads through the message's pointers. */
	disc_rep_msg m = {net_status_norm(st), (dns_zone_info *)(uintptr_t)z, n_zones, NULL,
			  n_owners};
	int rc;

	m.oz = pf_calloc(n_owners + 1, sizeof(*m.oz));
	for (size_t i = 0; i < n_owners && m.st.rc == 0; i++)
		m.oz[i].zone = owner_zone_in[i];
	rc = nc_encode(b, NET_DISCOVER_REP, &disc_rep_d, &m, e);
	free(m.oz);
	return rc;
}

int net_dec_discover_rep(const net_buf *b, size_t n_owners, net_status *ret_st, dns_zone_info **ret,
			 size_t *ret_n, size_t *ret_owner_zone, pf_err *e)
{
	disc_rep_msg m;
	int rc;

	if ((rc = nc_decode(b, NET_DISCOVER_REP, &disc_rep_d, &m, disc_rep_check, &n_owners, e)) <
	    0)
		return rc;
	for (size_t i = 0; i < m.noz; i++)
		ret_owner_zone[i] = m.oz[i].zone;
	free(m.oz);
	*ret_st = m.st;
	*ret = m.z;
	*ret_n = m.nz;
	return 0;
}

/* ---- update -------------------------------------------------------------------- */

typedef struct upd_req_msg {
	dns_zone_info zone;
	bool has_tsig;
	char tsig_name[PF_DNS_NAME_BUF];
	uint8_t tsig_alg;
	uint32_t ttl;
	bool dry_run, verbose;
	dns_change *ch;
	size_t n;
	dns_tsig_key *tsig; /* made by upd_req_check, not on the wire */
} upd_req_msg;

static const nc_field change_f[] = {
	{NC_S(dns_change, owner, 1, NC_CL_NAME, "owner name")},
	{NC_SUB(dns_change, rd, net_rdata_d, "TLSA record")},
	{NC_U(dns_change, op, 1, DNS_OP_ADD, DNS_OP_DELETE, "operation")},
};
static const nc_desc change_d = NC_DESC(dns_change, change_f);

/* The key's name and algorithm only: the secret stays with the privileged
 * process, and the network process asks for each signature (net_sign.h). */
static const nc_field upd_req_f[] = {
	{NC_SUB(upd_req_msg, zone, net_zone_d, "zone")},
	{NC_B(upd_req_msg, has_tsig, "TSIG flag")},
	{NC_S(upd_req_msg, tsig_name, 0, NC_CL_NAME, "TSIG key name"),
	 NC_WHEN_SET(upd_req_msg, has_tsig)},
	{NC_U(upd_req_msg, tsig_alg, 1, 0, DNS_HMAC_SHA512, "TSIG algorithm"),
	 NC_WHEN_SET(upd_req_msg, has_tsig)},
	{NC_U32(upd_req_msg, ttl, "TTL")},
	{NC_B(upd_req_msg, dry_run, "dry-run flag")},
	{NC_B(upd_req_msg, verbose, "verbose flag")},
	{NC_ARR(upd_req_msg, ch, n, NET_MAX_ITEMS, change_d, "changes")},
};
static const nc_desc upd_req_d = NC_DESC(upd_req_msg, upd_req_f);

static void upd_req_check(nc_reader *r, void *s, const void *ctx)
{
	upd_req_msg *m = s;
	pf_err e2 = {0};

	(void)ctx;
	if (m->has_tsig &&
	    dns_tsig_key_public(m->tsig_name, (enum dns_tsig_alg)m->tsig_alg, &m->tsig, &e2) < 0)
		nc_bad(r, "%s", e2.msg);
	/* The parent sends the key's own name, which is in canonical form. */
	if (m->tsig && strcmp(m->tsig->name, m->tsig_name) != 0) {
		nc_bad(r, "TSIG key name %s is not in canonical form", m->tsig_name);
		m->tsig = dns_tsig_key_free(m->tsig);
	}
}

int net_enc_update_req(net_buf *b, const dns_update_opts *o, const dns_change *ch, size_t n,
		       pf_err *e)
{
	upd_req_msg m = {.zone = *o->zone,
			 .has_tsig = o->tsig != NULL,
			 .ttl = o->ttl,
			 .dry_run = o->dry_run != NULL,
			 .verbose = o->verbose != NULL,
			 .ch = (dns_change *)(uintptr_t)ch,
			 .n = n};

	if (o->tsig) {
		snprintf(m.tsig_name, sizeof(m.tsig_name), "%s", o->tsig->name);
		m.tsig_alg = (uint8_t)o->tsig->alg;
	}
	return nc_encode(b, NET_UPDATE_REQ, &upd_req_d, &m, e);
}

int net_dec_update_req(const net_buf *b, net_update_req *ret, pf_err *e)
{
	upd_req_msg m;
	int rc;

	memset(ret, 0, sizeof(*ret));
	if ((rc = nc_decode(b, NET_UPDATE_REQ, &upd_req_d, &m, upd_req_check, NULL, e)) < 0)
		return rc;
	ret->zone = m.zone;
	ret->tsig = m.tsig;
	ret->ttl = m.ttl;
	ret->dry_run = m.dry_run;
	ret->verbose = m.verbose;
	ret->ch = m.ch;
	ret->n = m.n;
	return 0;
}

void net_update_req_free(net_update_req *r)
{
	if (!r)
		return;
	free(r->zone.checks);
	dns_tsig_key_free(r->tsig);
	free(r->ch);
	memset(r, 0, sizeof(*r));
}

typedef struct upd_rep_msg {
	net_status st;
	dns_change *ch;
	size_t n;
	dns_update_result res;
	char *dry, *verbose;
	size_t dry_len, verbose_len;
} upd_rep_msg;

/* What a change's outputs are; the rest of dns_change is the request's. */
static const nc_field change_out_f[] = {
	{NC_U(dns_change, result, 1, 0, DNS_CH_FAILED, "change result")},
	{NC_B(dns_change, existed_before, "existed before")},
	{NC_U32(dns_change, ttl_before, "TTL before")},
	{NC_U32(dns_change, ttl, "TTL")},
	{NC_U32(dns_change, others, "other records")},
};
static const nc_desc change_out_d = NC_DESC(dns_change, change_out_f);

static const nc_field upd_rep_f[] = {
	{NC_SUB(upd_rep_msg, st, net_status_d, "status")},
	{NC_ARR(upd_rep_msg, ch, n, NET_MAX_ITEMS, change_out_d, "change results")},
	{NC_U32(upd_rep_msg, res.messages, "messages")},
	{NC_U(upd_rep_msg, res.t_pub, 8, 0, INT64_MAX, "T_pub")},
	{NC_U32(upd_rep_msg, res.serial, "serial")},
	{NC_B(upd_rep_msg, res.zone_signed, "zone signed")},
	{NC_U32(upd_rep_msg, res.soa_ttl, "SOA TTL")},
	{NC_U32(upd_rep_msg, res.soa_minimum, "SOA MINIMUM")},
	{NC_TXT(upd_rep_msg, dry, dry_len, NET_TEXT_MAX, "dry-run output")},
	{NC_TXT(upd_rep_msg, verbose, verbose_len, NET_TEXT_MAX, "verbose output")},
};
static const nc_desc upd_rep_d = NC_DESC(upd_rep_msg, upd_rep_f);

/* ctx: the number of changes sent.  A success reply must account for
 * every change. */
static void upd_rep_check(nc_reader *r, void *s, const void *ctx)
{
	const upd_rep_msg *m = s;
	size_t n = *(const size_t *)ctx;

	if (m->n != n)
		nc_bad(r, "%zu change results for %zu changes", m->n, n);
	for (size_t i = 0; i < m->n && m->st.rc == 0 && nc_ok(r); i++)
		if (m->ch[i].result != DNS_CH_DONE && m->ch[i].result != DNS_CH_ALREADY &&
		    !(m->ch[i].result == DNS_CH_PENDING && m->res.messages == 0))
			nc_bad(r, "success with change %zu not done", i);
}

int net_enc_update_rep(net_buf *b, const net_status *st, const dns_change *ch, size_t n,
		       const dns_update_result *res, const char *dry, size_t dry_len,
		       const char *verbose, size_t verbose_len, pf_err *e)
{
	upd_rep_msg m = {net_status_norm(st),    (dns_change *)(uintptr_t)ch, n,       *res,
			 (char *)(uintptr_t)dry, (char *)(uintptr_t)verbose,  dry_len, verbose_len};

	return nc_encode(b, NET_UPDATE_REP, &upd_rep_d, &m, e);
}

int net_dec_update_rep(const net_buf *b, dns_change *ch, size_t n, net_status *ret_st,
		       dns_update_result *ret_res, char **ret_dry, char **ret_verbose, pf_err *e)
{
	upd_rep_msg m;
	int rc;

	if ((rc = nc_decode(b, NET_UPDATE_REP, &upd_rep_d, &m, upd_rep_check, &n, e)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		ch[i].result = m.ch[i].result;
		ch[i].existed_before = m.ch[i].existed_before;
		ch[i].ttl_before = m.ch[i].ttl_before;
		ch[i].ttl = m.ch[i].ttl;
		ch[i].others = m.ch[i].others;
	}
	free(m.ch);
	*ret_st = m.st;
	*ret_res = m.res;
	*ret_dry = m.dry;
	*ret_verbose = m.verbose;
	return 0;
}

/* ---- signing ------------------------------------------------------------------------ */

typedef struct sign_req_msg {
	const uint8_t *wire;
	size_t len;
} sign_req_msg;

static const nc_field sign_req_f[] = {
	{NC_BL(sign_req_msg, wire, len, 12, NET_DNS_MAX, "message to sign")},
};
static const nc_desc sign_req_d = NC_DESC(sign_req_msg, sign_req_f);

void net_enc_sign_req(net_buf *b, const uint8_t *wire, size_t len)
{
	sign_req_msg m = {wire, len};

	encode_fixed(b, NET_SIGN_REQ, &sign_req_d, &m);
}

int net_dec_sign_req(const net_buf *b, const uint8_t **ret_wire, size_t *ret_len, pf_err *e)
{
	sign_req_msg m;
	int rc;

	if ((rc = nc_decode(b, NET_SIGN_REQ, &sign_req_d, &m, NULL, NULL, e)) < 0)
		return rc;
	*ret_wire = m.wire;
	*ret_len = m.len;
	return 0;
}

typedef struct sign_rep_msg {
	net_status st;
	const uint8_t *wire, *mac;
	size_t len, mac_len;
} sign_rep_msg;

static const nc_field sign_rep_f[] = {
	{NC_SUB(sign_rep_msg, st, net_status_d, "status")},
	{NC_BL(sign_rep_msg, wire, len, 0, NET_DNS_MAX, "signed message")},
	{NC_BL(sign_rep_msg, mac, mac_len, 0, DNS_TSIG_MAC_MAX, "MAC")},
};
static const nc_desc sign_rep_d = NC_DESC(sign_rep_msg, sign_rep_f);

typedef struct sign_ctx {
	size_t req_len, mac_len;
} sign_ctx;

/* A signed message is longer than the request, its MAC the key's length;
 * a failure carries neither. */
static void sign_rep_check(nc_reader *r, void *s, const void *ctx)
{
	const sign_rep_msg *m = s;
	const sign_ctx *c = ctx;

	if (m->st.rc == 0 && (m->len <= c->req_len || m->mac_len != c->mac_len))
		nc_bad(r, "a signed message of %zu octets with a MAC of %zu for a request of %zu",
		       m->len, m->mac_len, c->req_len);
	else if (m->st.rc < 0 && (m->len || m->mac_len))
		nc_bad(r, "a failure with a signed message of %zu octets and a MAC of %zu", m->len,
		       m->mac_len);
}

void net_enc_sign_rep(net_buf *b, const net_status *st, const uint8_t *wire, size_t len,
		      const uint8_t *mac, size_t mac_len)
{
	bool good = st->rc == 0 && len <= NET_DNS_MAX && mac_len <= DNS_TSIG_MAC_MAX;
	sign_rep_msg m = {net_status_norm(st), wire, mac, good ? len : 0, good ? mac_len : 0};

	encode_fixed(b, NET_SIGN_REP, &sign_rep_d, &m);
}

int net_dec_sign_rep(const net_buf *b, size_t req_len, size_t mac_len_want, net_status *st,
		     uint8_t **ret_wire, size_t *ret_len, uint8_t *mac, size_t *mac_len, pf_err *e)
{
	sign_ctx c = {req_len, mac_len_want};
	sign_rep_msg m;
	int rc;

	if ((rc = nc_decode(b, NET_SIGN_REP, &sign_rep_d, &m, sign_rep_check, &c, e)) < 0)
		return rc;
	*st = m.st;
	if (m.st.rc < 0)
		return 0;
	*ret_wire = pf_malloc(m.len);
	memcpy(*ret_wire, m.wire, m.len);
	*ret_len = m.len;
	memcpy(mac, m.mac, m.mac_len);
	*mac_len = m.mac_len;
	return 0;
}

typedef struct mac_req_msg {
	const uint8_t *input, *mac;
	size_t len, mac_len;
} mac_req_msg;

static const nc_field mac_req_f[] = {
	{NC_BL(mac_req_msg, input, len, 0, NET_MAC_INPUT_MAX, "TSIG input")},
	{NC_BL(mac_req_msg, mac, mac_len, 0, DNS_TSIG_MAC_MAX, "MAC")},
};
static const nc_desc mac_req_d = NC_DESC(mac_req_msg, mac_req_f);

void net_enc_mac_req(net_buf *b, const uint8_t *input, size_t len, const uint8_t *mac,
		     size_t mac_len)
{
	mac_req_msg m = {input, mac, len, mac_len};

	encode_fixed(b, NET_MAC_REQ, &mac_req_d, &m);
}

int net_dec_mac_req(const net_buf *b, const uint8_t **ret_input, size_t *ret_len,
		    const uint8_t **ret_mac, size_t *ret_mac_len, pf_err *e)
{
	mac_req_msg m;
	int rc;

	if ((rc = nc_decode(b, NET_MAC_REQ, &mac_req_d, &m, NULL, NULL, e)) < 0)
		return rc;
	*ret_input = m.input;
	*ret_len = m.len;
	*ret_mac = m.mac;
	*ret_mac_len = m.mac_len;
	return 0;
}

typedef struct mac_rep_msg {
	bool match;
} mac_rep_msg;

static const nc_field mac_rep_f[] = {
	{NC_B(mac_rep_msg, match, "MAC verdict")},
};
static const nc_desc mac_rep_d = NC_DESC(mac_rep_msg, mac_rep_f);

void net_enc_mac_rep(net_buf *b, bool match)
{
	mac_rep_msg m = {match};

	encode_fixed(b, NET_MAC_REP, &mac_rep_d, &m);
}

int net_dec_mac_rep(const net_buf *b, bool *match, pf_err *e)
{
	mac_rep_msg m;
	int rc;

	if ((rc = nc_decode(b, NET_MAC_REP, &mac_rep_d, &m, NULL, NULL, e)) < 0)
		return rc;
	*match = m.match;
	return 0;
}
