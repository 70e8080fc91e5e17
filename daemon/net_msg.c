/*
 * net_msg.c - the messages between the privileged process and the network
 * process (see net_msg.h for the rules): the type table (names and largest
 * bodies), one field table per message, the checks that relate fields to
 * each other or to the request a reply answers, and the net_enc_* /
 * net_dec_* functions, thin wrappers that fill a message structure and hand
 * it with its table to the one encoder and decoder of net_codec.c.
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
#include "util.h"

#define MAX_ERRNO 4095
#define MAX_TIMEOUT_MS 600000

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
	[NET_PROBE_REP] = {"probe reply", 4096},
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
static const nc_desc status_d = NC_DESC(net_status, status_f);

/* The status as it travels: a return value of 0 or -1..-4095, a failure
 * with its errno as its error code, an exit code that exists. */
static net_status status_norm(const net_status *st)
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
static const nc_desc rdata_d = NC_DESC(pf_tlsa_rdata, rdata_f);

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
static const nc_desc zone_d = NC_DESC(dns_zone_info, zone_f);

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
	{NC_SUB(hello_msg, st, status_d, "status")},
	{NC_U32(hello_msg, sep.uid, "uid")},
	{NC_U32(hello_msg, sep.gid, "gid")},
	{NC_U32(hello_msg, sep.flags, "separation flags")},
	{NC_U(hello_msg, sep.landlock_abi, 4, 0, NET_LANDLOCK_ABI_MAX, "Landlock ABI")},
	{NC_S(hello_msg, sep.why_uid, 0, NC_CL_LINE, "uid note")},
};
static const nc_desc hello_d = NC_DESC(hello_msg, hello_f);

void net_enc_hello(net_buf *b, const net_status *st, const net_sep *sep)
{
	hello_msg m = {status_norm(st), *sep};

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
	char name[256];
} owner_name;

typedef struct disc_req_msg {
	bool has_zone;
	char zone[256];
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

int net_enc_discover_req(net_buf *b, const pf_config *cfg, char *const *owners, size_t n,
			 pf_err *e)
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
	{NC_SUB(disc_rep_msg, st, status_d, "status")},
	{NC_ARR(disc_rep_msg, z, nz, NET_MAX_ZONES, zone_d, "zones"),
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

int net_enc_discover_rep(net_buf *b, const net_status *st, const dns_zone_info *z,
			 size_t n_zones, const size_t *owner_zone_in, size_t n_owners, pf_err *e)
{
	/* The encoder only reads through the message's pointers. */
	disc_rep_msg m = {status_norm(st), (dns_zone_info *)(uintptr_t)z, n_zones, NULL, n_owners};
	int rc;

	m.oz = pf_calloc(n_owners + 1, sizeof(*m.oz));
	for (size_t i = 0; i < n_owners && m.st.rc == 0; i++)
		m.oz[i].zone = owner_zone_in[i];
	rc = nc_encode(b, NET_DISCOVER_REP, &disc_rep_d, &m, e);
	free(m.oz);
	return rc;
}

int net_dec_discover_rep(const net_buf *b, size_t n_owners, net_status *ret_st,
			 dns_zone_info **ret, size_t *ret_n, size_t *ret_owner_zone, pf_err *e)
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
	char tsig_name[256];
	uint8_t tsig_alg;
	uint32_t ttl;
	bool dry_run, verbose;
	dns_change *ch;
	size_t n;
	dns_tsig_key *tsig; /* made by upd_req_check, not on the wire */
} upd_req_msg;

static const nc_field change_f[] = {
	{NC_S(dns_change, owner, 1, NC_CL_NAME, "owner name")},
	{NC_SUB(dns_change, rd, rdata_d, "TLSA record")},
	{NC_U(dns_change, op, 1, DNS_OP_ADD, DNS_OP_DELETE, "operation")},
};
static const nc_desc change_d = NC_DESC(dns_change, change_f);

/* The key's name and algorithm only: the secret stays with the privileged
 * process, and the network process asks for each signature (net_sign.h). */
static const nc_field upd_req_f[] = {
	{NC_SUB(upd_req_msg, zone, zone_d, "zone")},
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
	if (m->has_tsig && dns_tsig_key_public(m->tsig_name, (enum dns_tsig_alg)m->tsig_alg,
					       &m->tsig, &e2) < 0)
		nc_bad(r, "%s", e2.msg);
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
	{NC_SUB(upd_rep_msg, st, status_d, "status")},
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
	upd_rep_msg m = {status_norm(st), (dns_change *)(uintptr_t)ch, n, *res,
			 (char *)(uintptr_t)dry, (char *)(uintptr_t)verbose, dry_len, verbose_len};

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
	{NC_SUB(sign_rep_msg, st, status_d, "status")},
	{NC_BL(sign_rep_msg, wire, len, 0, NET_DNS_MAX, "signed message")},
	{NC_BL(sign_rep_msg, mac, mac_len, 0, DNS_TSIG_MAC_MAX, "MAC")},
};
static const nc_desc sign_rep_d = NC_DESC(sign_rep_msg, sign_rep_f);

typedef struct sign_ctx {
	size_t req_len, mac_len;
} sign_ctx;

/* A signed message is longer than the request, its MAC the key's length. */
static void sign_rep_check(nc_reader *r, void *s, const void *ctx)
{
	const sign_rep_msg *m = s;
	const sign_ctx *c = ctx;

	if (m->st.rc == 0 && (m->len <= c->req_len || m->mac_len != c->mac_len))
		nc_bad(r, "a signed message of %zu octets with a MAC of %zu for a request of %zu",
		       m->len, m->mac_len, c->req_len);
}

void net_enc_sign_rep(net_buf *b, const net_status *st, const uint8_t *wire, size_t len,
		      const uint8_t *mac, size_t mac_len)
{
	bool good = st->rc == 0 && len <= NET_DNS_MAX && mac_len <= DNS_TSIG_MAC_MAX;
	sign_rep_msg m = {status_norm(st), wire, mac, good ? len : 0, good ? mac_len : 0};

	encode_fixed(b, NET_SIGN_REP, &sign_rep_d, &m);
}

int net_dec_sign_rep(const net_buf *b, size_t req_len, size_t mac_len_want, net_status *st,
		     uint8_t **ret_wire, size_t *ret_len, uint8_t *mac, size_t *mac_len,
		     pf_err *e)
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

/* ---- propagation round ------------------------------------------------------------ */

static int check_opts(const dns_net_opts *o)
{
	return o->timeout_ms >= 1 && o->timeout_ms <= MAX_TIMEOUT_MS && o->retransmit_ms >= 1 &&
	       o->retransmit_ms <= MAX_TIMEOUT_MS && o->window >= 1 && o->window <= 64;
}

static const nc_field want_f[] = {
	{NC_S(dns_prop_want, owner, 1, NC_CL_NAME, "owner name")},
	{NC_SUB(dns_prop_want, rd, rdata_d, "TLSA record")},
	{NC_B(dns_prop_want, present, "present flag")},
};
static const nc_desc want_d = NC_DESC(dns_prop_want, want_f);

static const nc_field prop_req_f[] = {
	{NC_SUB(net_prop_req, zone, zone_d, "zone")},
	{NC_U(net_prop_req, opts.timeout_ms, 4, 1, MAX_TIMEOUT_MS, "timeout")},
	{NC_U(net_prop_req, opts.retransmit_ms, 4, 1, MAX_TIMEOUT_MS, "retransmit interval")},
	{NC_U(net_prop_req, opts.window, 4, 1, 64, "window")},
	{NC_ARR(net_prop_req, want, n, NET_MAX_ITEMS, want_d, "wanted records")},
};
static const nc_desc prop_req_d = NC_DESC(net_prop_req, prop_req_f);

int net_enc_prop_req(net_buf *b, const dns_zone_info *z, const dns_prop_want *want, size_t n,
		     const dns_net_opts *o, pf_err *e)
{
	net_prop_req m = {*z, (dns_prop_want *)(uintptr_t)want, n, *o};

	if (!check_opts(o))
		return pf_err_set(e, EINVAL, "DNS timeouts out of range");
	return nc_encode(b, NET_PROP_REQ, &prop_req_d, &m, e);
}

int net_dec_prop_req(const net_buf *b, net_prop_req *ret, pf_err *e)
{
	return nc_decode(b, NET_PROP_REQ, &prop_req_d, ret, NULL, NULL, e);
}

void net_prop_req_free(net_prop_req *r)
{
	free(r->zone.checks);
	free(r->want);
	memset(r, 0, sizeof(*r));
}

/* The zone, owner names and server addresses are the request's: the parent
 * sets them itself.  Only what the servers said travels, with the counts
 * it was made for. */
typedef struct prop_rep_msg {
	net_status st;
	size_t n_owners, n_want;
	dns_prop_round rd;
} prop_rep_msg;

typedef struct match_flag {
	bool match;
} match_flag;

static const nc_field rrset_f[] = {
	{NC_B(dns_prop_rrset, answered, "answered")},
	{NC_U32(dns_prop_rrset, n_rr, "record count")},
	{NC_U32(dns_prop_rrset, ttl, "TTL")},
	{NC_U32(dns_prop_rrset, orig_ttl, "original TTL")},
	{NC_B(dns_prop_rrset, rrsig, "RRSIG")},
	{NC_B(dns_prop_rrset, rrsig_expired, "RRSIG expired")},
};
static const nc_desc rrset_d = NC_DESC(dns_prop_rrset, rrset_f);

static const nc_field match_f[] = {
	{NC_B(match_flag, match, "match")},
};
static const nc_desc match_d = NC_DESC(match_flag, match_f);

static const nc_field prop_server_f[] = {
	{NC_U(dns_prop_server, state, 1, DNS_PROP_OK, DNS_PROP_ERROR, "server state")},
	{NC_S(dns_prop_server, note, 0, NC_CL_LINE, "server note")},
	{NC_B(dns_prop_server, have_soa, "have SOA")},
	{NC_U32(dns_prop_server, serial, "serial")},
	{NC_U32(dns_prop_server, soa_ttl, "SOA TTL")},
	{NC_U32(dns_prop_server, soa_minimum, "SOA MINIMUM")},
	{NC_B(dns_prop_server, soa_signed, "SOA signed")},
	{NC_VEC(dns_prop_server, rrsets, prop_rep_msg, n_owners, NET_MAX_ITEMS, rrset_d,
		"RRsets")},
	{NC_VEC(dns_prop_server, match, prop_rep_msg, n_want, NET_MAX_ITEMS, match_d, "matches")},
	{NC_U32(dns_prop_server, n_match, "match count")},
	{NC_B(dns_prop_server, all_signed, "all signed")},
	{NC_B(dns_prop_server, complete, "complete")},
	{NC_U64(dns_prop_server, rtt_usec, "round-trip time")},
};
static const nc_desc prop_server_d = NC_DESC(dns_prop_server, prop_server_f);

/* The request a propagation reply answers. */
typedef struct prop_ctx {
	const dns_zone_info *z;
	size_t n_want, n_owners;
} prop_ctx;

/* Before the servers are read: the round is the request's. */
static void prop_counts(nc_reader *r, void *s, const void *ctx)
{
	const prop_rep_msg *m = s;
	const prop_ctx *c = ctx;

	if (m->n_owners != c->n_owners || m->n_want != c->n_want || m->rd.n_servers != c->z->n_checks)
		nc_bad(r, "a round of %zu owners, %zu records, %zu servers for a request of %zu, "
			  "%zu, %zu",
		       m->n_owners, m->n_want, m->rd.n_servers, c->n_owners, c->n_want,
		       c->z->n_checks);
}

#define PROP_OK NC_WHEN_ZERO(prop_rep_msg, st.rc)
static const nc_field prop_rep_f[] = {
	{NC_SUB(prop_rep_msg, st, status_d, "status")},
	{NC_U32(prop_rep_msg, n_owners, "owner count"), PROP_OK},
	{NC_U32(prop_rep_msg, n_want, "record count"), PROP_OK},
	{NC_U32(prop_rep_msg, rd.n_servers, "server count"), PROP_OK},
	{NC_HK(prop_counts), PROP_OK},
	{NC_VEC(prop_rep_msg, rd.servers, prop_rep_msg, rd.n_servers, NET_MAX_SERVERS,
		prop_server_d, "servers"),
	 PROP_OK},
	{NC_U64(prop_rep_msg, rd.time, "time"), PROP_OK},
	{NC_B(prop_rep_msg, rd.all_complete, "all complete"), PROP_OK},
	{NC_B(prop_rep_msg, rd.zone_signed, "zone signed"), PROP_OK},
	{NC_U32(prop_rep_msg, rd.max_tlsa_ttl, "largest TTL"), PROP_OK},
	{NC_U32(prop_rep_msg, rd.soa_ttl, "SOA TTL"), PROP_OK},
	{NC_U32(prop_rep_msg, rd.soa_minimum, "SOA MINIMUM"), PROP_OK},
};
static const nc_desc prop_rep_d = NC_DESC(prop_rep_msg, prop_rep_f);

/* Each server's matches are counted right, complete means every record,
 * and all_complete agrees with the servers. */
static void prop_check(nc_reader *r, void *s, const void *ctx)
{
	const prop_rep_msg *m = s;
	bool all = true;

	(void)ctx;
	if (m->st.rc < 0)
		return;
	for (size_t i = 0; i < m->rd.n_servers && nc_ok(r); i++) {
		const dns_prop_server *ps = &m->rd.servers[i];
		size_t matched = 0;

		for (size_t w = 0; w < m->n_want; w++)
			matched += ps->match[w];
		if (ps->n_match != matched)
			nc_bad(r, "server %zu: %zu matches counted as %zu", i, matched, ps->n_match);
		else if (ps->complete && (ps->state != DNS_PROP_OK || ps->n_match != m->n_want))
			nc_bad(r, "server %zu complete without every record", i);
		all &= ps->complete;
	}
	if (nc_ok(r) && m->rd.all_complete != (all && m->rd.n_servers > 0))
		nc_bad(r, "all_complete does not agree with the servers");
}

int net_enc_prop_rep(net_buf *b, const net_status *st, const dns_prop_round *rd, pf_err *e)
{
	prop_rep_msg m = {status_norm(st), rd->n_owners, rd->n_want, *rd};

	return nc_encode(b, NET_PROP_REP, &prop_rep_d, &m, e);
}

/* The distinct owners of want[0..n) in order, and each want's owner index,
 * exactly as dns_prop_run makes them. */
static void round_owners(dns_prop_round *rd, const dns_prop_want *want, size_t n)
{
	rd->want_owner = pf_calloc(n + 1, sizeof(*rd->want_owner));
	rd->owners = pf_calloc(n + 1, sizeof(*rd->owners));
	for (size_t w = 0; w < n; w++) {
		size_t k;

		for (k = 0; k < rd->n_owners; k++)
			if (strcmp(rd->owners[k], want[w].owner) == 0)
				break;
		if (k == rd->n_owners)
			rd->owners[rd->n_owners++] = pf_strdup(want[w].owner);
		rd->want_owner[w] = k;
	}
}

int net_dec_prop_rep(const net_buf *b, const dns_zone_info *z, const dns_prop_want *want,
		     size_t n, net_status *ret_st, dns_prop_round *ret, pf_err *e)
{
	dns_prop_round own = {0};
	prop_rep_msg m;
	prop_ctx c;
	int rc;

	round_owners(&own, want, n);
	c = (prop_ctx){z, n, own.n_owners};
	if ((rc = nc_decode(b, NET_PROP_REP, &prop_rep_d, &m, prop_check, &c, e)) < 0) {
		dns_prop_round_free(&own);
		return rc;
	}
	if (m.st.rc == 0) {
		snprintf(m.rd.zone, sizeof(m.rd.zone), "%s", z->zone);
		m.rd.want = want;
		m.rd.n_want = n;
		m.rd.owners = own.owners;
		m.rd.n_owners = own.n_owners;
		m.rd.want_owner = own.want_owner;
		for (size_t s = 0; s < m.rd.n_servers; s++)
			m.rd.servers[s].target = z->checks[s];
	} else {
		dns_prop_round_free(&own);
	}
	*ret_st = m.st;
	*ret = m.rd;
	return 0;
}

/* ---- STARTTLS probe ------------------------------------------------------------------ */

static const nc_field probe_req_f[] = {
	{NC_S(net_probe_req, ep.host, 1, NC_CL_NAME, "endpoint")},
	{NC_U16(net_probe_req, ep.port, "port")},
	{NC_S(net_probe_req, tlsa_host, 0, NC_CL_NAME, "TLSA host")},
	{NC_ARR(net_probe_req, records, n, NET_MAX_PROBE_RECORDS, rdata_d, "records")},
	{NC_UX(net_probe_req, want, 1, 1, 1, 0, PF_ALG_COUNT, "key algorithm")},
	{NC_U(net_probe_req, timeout_ms, 4, 1, MAX_TIMEOUT_MS, "timeout")},
};
static const nc_desc probe_req_d = NC_DESC(net_probe_req, probe_req_f);

int net_enc_probe_req(net_buf *b, const pf_hostport *ep, const char *tlsa_host,
		      const pf_tlsa_rdata *records, size_t n, enum pf_probe_want want,
		      int timeout_ms, pf_err *e)
{
	net_probe_req m = {.ep = *ep,
			   .records = (pf_tlsa_rdata *)(uintptr_t)records,
			   .n = n,
			   .want = want,
			   .timeout_ms = timeout_ms};

	if (timeout_ms < 1 || timeout_ms > MAX_TIMEOUT_MS)
		return pf_err_set(e, EINVAL, "probe timeout %d ms out of range", timeout_ms);
	snprintf(m.tlsa_host, sizeof(m.tlsa_host), "%s", tlsa_host ? tlsa_host : "");
	return nc_encode(b, NET_PROBE_REQ, &probe_req_d, &m, e);
}

int net_dec_probe_req(const net_buf *b, net_probe_req *ret, pf_err *e)
{
	return nc_decode(b, NET_PROBE_REQ, &probe_req_d, ret, NULL, NULL, e);
}

void net_probe_req_free(net_probe_req *r)
{
	free(r->records);
	memset(r, 0, sizeof(*r));
}

typedef struct probe_rep_msg {
	net_status st;
	pf_probe_result res;
} probe_rep_msg;

static const nc_field probe_rep_f[] = {
	{NC_SUB(probe_rep_msg, st, status_d, "status")},
	{NC_S(probe_rep_msg, res.address, 0, NC_CL_LINE, "address")},
	{NC_S(probe_rep_msg, res.spki_sha256, 0, NC_CL_NAME, "SPKI digest")},
	{NC_UX(probe_rep_msg, res.alg, 1, 1, 1, 0, PF_ALG_COUNT, "key algorithm")},
	{NC_B(probe_rep_msg, res.dane_checked, "DANE checked")},
	{NC_B(probe_rep_msg, res.dane_ok, "DANE valid")},
	{NC_UX(probe_rep_msg, res.dane_depth, 1, 1, 1, 0, UINT8_MAX, "DANE depth")},
	{NC_S(probe_rep_msg, res.verify_error, 0, NC_CL_LINE, "verify error")},
};
static const nc_desc probe_rep_d = NC_DESC(probe_rep_msg, probe_rep_f);

static void probe_rep_check(nc_reader *r, void *s, const void *ctx)
{
	const pf_probe_result *res = &((const probe_rep_msg *)s)->res;
	size_t hl = strlen(res->spki_sha256);

	(void)ctx;
	if ((hl != 0 && hl != 64) || strspn(res->spki_sha256, "0123456789abcdef") != hl)
		nc_bad(r, "SPKI digest is not 64 lowercase hex digits");
	else if (res->dane_ok && !res->dane_checked)
		nc_bad(r, "DANE valid without a check");
}

void net_enc_probe_rep(net_buf *b, const net_status *st, const pf_probe_result *res)
{
	probe_rep_msg m = {status_norm(st), *res};

	encode_fixed(b, NET_PROBE_REP, &probe_rep_d, &m);
}

int net_dec_probe_rep(const net_buf *b, net_status *ret_st, pf_probe_result *ret, pf_err *e)
{
	probe_rep_msg m;
	int rc;

	if ((rc = nc_decode(b, NET_PROBE_REP, &probe_rep_d, &m, probe_rep_check, NULL, e)) < 0)
		return rc;
	*ret_st = m.st;
	*ret = m.res;
	return 0;
}
