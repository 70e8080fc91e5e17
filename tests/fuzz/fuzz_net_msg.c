/*
 * fuzz_net_msg.c - the decoders of the network-process protocol (net_msg.h,
 * one field table per message walked by net_codec.c), on arbitrary bytes.
 * First the privileged process's decoders of what the network process sends
 * it: the network process talks to hostile DNS and SMTP peers; if it is ever
 * subverted, these decoders are the wall between it and the process that
 * holds the keys and the TSIG secret.  Then the network process's decoders
 * of the requests it gets, so every message's table is walked both ways.
 *
 * An input is one octet choosing the message type, one octet shaping the
 * request the reply answers (how many owners, changes, check servers and
 * wanted records; for a sign reply the request's length and the MAC's), and
 * the message body.  The types are every one the privileged side accepts
 * (hello, the discover, update, propagation and probe replies, and the sign
 * and MAC requests made during an update), then every one the network
 * process accepts (the discover, update, propagation and probe requests,
 * and the sign and MAC replies).
 *
 * Besides no crash, leak or out-of-bounds access, the properties are:
 *   - a body is accepted only if encoding what was decoded gives the same
 *     octets: nothing is accepted that the encoder would not send, so no
 *     field is read loosely or silently dropped;
 *   - what was accepted holds every bound of net_msg.h and agrees with the
 *     request (counts, owner indexes, servers, matches);
 *   - a refused body gives -EPROTO with one line "malformed TYPE: ..."
 *     without control characters, and leaves every output of the caller
 *     exactly as it was.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../daemon/config.h"
#include "../../daemon/dns_propagation.h"
#include "../../daemon/net_msg.h"
#include "fuzz.h"

#define FUZZ_MAX_LEN 8192
#define SENTINEL 0xa5

enum {
	D_HELLO,
	D_DISCOVER,
	D_UPDATE,
	D_SIGN,
	D_MAC,
	D_PROP,
	D_PROBE,
	D_DISCOVER_REQ,
	D_UPDATE_REQ,
	D_PROP_REQ,
	D_PROBE_REQ,
	D_SIGN_REP,
	D_MAC_REP,
	D_COUNT
};

#define MAX_OWNERS 4
#define MAX_CHECKS 3
#define MAX_WANTS 4

static const char *const owner_names[] = {
	"_25._tcp.mx.example.test.",
	"_465._tcp.mx.example.test.",
	"_25._tcp.mx.example.test.", /* a second record at the first owner */
	"_587._tcp.mx2.example.test.",
};

static dns_target checks[MAX_CHECKS];
static dns_zone_info zone;
static dns_prop_want wants[MAX_WANTS];
static dns_change changes[MAX_WANTS];

/* The request side every reply is decoded against. */
static void setup(void)
{
	static const char *const addrs[MAX_CHECKS] = {"127.0.0.1", "::1", "127.0.0.3"};
	static bool done;

	if (done)
		return;
	done = true;
	snprintf(zone.zone, sizeof(zone.zone), "example.test.");
	for (size_t i = 0; i < MAX_CHECKS; i++) {
		dns_server_set(&checks[i].addr, addrs[i], 53);
		snprintf(checks[i].name, sizeof(checks[i].name), "ns%zu.example.test.", i + 1);
	}
	checks[0].update_server = true;
	zone.update = checks[0];
	zone.checks = checks;
	for (size_t i = 0; i < MAX_WANTS; i++) {
		pf_tlsa_rdata rd = {.usage = 3, .selector = 1, .mtype = 1, .len = 32};

		memset(rd.data, (int)(0x10 + i), rd.len);
		snprintf(wants[i].owner, sizeof(wants[i].owner), "%s", owner_names[i]);
		wants[i].rd = rd;
		wants[i].present = i != 1;
		snprintf(changes[i].owner, sizeof(changes[i].owner), "%s", owner_names[i]);
		changes[i].rd = rd;
		changes[i].op = i == 1 ? DNS_OP_DELETE : DNS_OP_ADD;
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	setup();
	return 0;
}

/* s is a NUL-terminated string of printable ASCII within its array. */
static bool printable(const char *s, size_t cap, bool spaces)
{
	size_t n = strnlen(s, cap);

	if (n == cap)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < (spaces ? 0x20 : 0x21) || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

static void check_status(const net_status *st)
{
	FUZZ_CHECK(st->rc <= 0 && st->rc >= -4095, "return value %d accepted", st->rc);
	FUZZ_CHECK(st->rc == 0 || st->err.code == -st->rc || st->err.code > 0,
		   "failure %d with error code %d", st->rc, st->err.code);
	FUZZ_CHECK(st->err.exit_code >= 0 && st->err.exit_code <= PF_EXIT_REFUSED,
		   "exit code %d accepted", st->err.exit_code);
	FUZZ_CHECK(printable(st->err.msg, sizeof(st->err.msg), true),
		   "error message with a control character accepted");
}

/* What was decoded, encoded again, must be the body to the octet. */
static void check_same(const char *what, net_buf *again, const uint8_t *body, size_t len)
{
	size_t i = 0;

	while (i < len && i < again->len && again->p[i] == body[i])
		i++;
	FUZZ_CHECK(again->len == len && i == len,
		   "accepted %s of %zu octets encodes again as %zu octets, first difference at %zu",
		   what, len, again->len, i);
	net_buf_free(again);
}

static void check_refused(int rc, const pf_err *e, const char *type)
{
	char want[64];

	snprintf(want, sizeof(want), "malformed %s: ", type);
	FUZZ_CHECK(rc == -EPROTO, "%s refused with %d, not -EPROTO: %s", type, rc, e->msg);
	FUZZ_CHECK(strncmp(e->msg, want, strlen(want)) == 0, "refusal does not say \"%s\": %s",
		   want, e->msg);
	FUZZ_CHECK(printable(e->msg, sizeof(e->msg), true), "refusal with a control character: %s",
		   e->msg);
}

#define UNTOUCHED(obj, before, what)                                                               \
	FUZZ_CHECK(memcmp(&(obj), &(before), sizeof(obj)) == 0, "a refused %s changed %s", type,   \
		   what)

static void hello(const net_buf *b)
{
	const char *type = net_type_name(NET_HELLO);
	net_status st, st0;
	net_sep sep, sep0;
	net_buf again = {0};
	pf_err e = {0};
	int rc;

	memset(&st, SENTINEL, sizeof(st));
	memset(&sep, SENTINEL, sizeof(sep));
	st0 = st;
	sep0 = sep;
	if ((rc = net_dec_hello(b, &st, &sep, &e)) < 0) {
		check_refused(rc, &e, type);
		UNTOUCHED(st, st0, "the status");
		UNTOUCHED(sep, sep0, "the separation report");
		return;
	}
	check_status(&st);
	FUZZ_CHECK(!(sep.flags & ~NET_SEP_ALL), "unknown flags 0x%x accepted", (unsigned)sep.flags);
	FUZZ_CHECK(sep.landlock_abi <= NET_LANDLOCK_ABI_MAX, "Landlock ABI %u accepted",
		   (unsigned)sep.landlock_abi);
	FUZZ_CHECK(printable(sep.why_uid, sizeof(sep.why_uid), true), "uid note not printable");
	net_enc_hello(&again, &st, &sep);
	check_same(type, &again, b->p, b->len);
}

static void discover(const net_buf *b, unsigned shape)
{
	const char *type = net_type_name(NET_DISCOVER_REP);
	size_t n_owners = shape % (MAX_OWNERS + 1), owner_zone[MAX_OWNERS + 1], oz0[MAX_OWNERS + 1];
	dns_zone_info *z = (dns_zone_info *)&zone, *z0;
	size_t nz = 12345, nz0;
	net_status st, st0;
	net_buf again = {0};
	pf_err e = {0}, e2 = {0};
	int rc;

	memset(&st, SENTINEL, sizeof(st));
	memset(owner_zone, SENTINEL, sizeof(owner_zone));
	st0 = st;
	memcpy(oz0, owner_zone, sizeof(oz0));
	z0 = z;
	nz0 = nz;
	if ((rc = net_dec_discover_rep(b, n_owners, &st, &z, &nz, owner_zone, &e)) < 0) {
		check_refused(rc, &e, type);
		UNTOUCHED(st, st0, "the status");
		UNTOUCHED(owner_zone, oz0, "the owner zones");
		FUZZ_CHECK(z == z0 && nz == nz0, "a refused %s changed the zones", type);
		return;
	}
	check_status(&st);
	FUZZ_CHECK(st.rc < 0 ? z == NULL && nz == 0 : (nz > 0 || n_owners == 0),
		   "%zu zones for %zu owners (return value %d)", nz, n_owners, st.rc);
	FUZZ_CHECK(nz <= NET_MAX_ZONES, "%zu zones accepted", nz);
	for (size_t i = 0; i < nz; i++) {
		FUZZ_CHECK(z[i].zone[0] && printable(z[i].zone, sizeof(z[i].zone), false),
			   "zone %zu: name empty or not printable", i);
		FUZZ_CHECK(z[i].n_checks <= NET_MAX_SERVERS, "zone %zu: %zu check servers", i,
			   z[i].n_checks);
	}
	if (st.rc == 0)
		for (size_t i = 0; i < n_owners; i++)
			FUZZ_CHECK(owner_zone[i] < nz, "owner %zu in zone %zu of %zu", i,
				   owner_zone[i], nz);
	else
		FUZZ_CHECK(memcmp(owner_zone, oz0, sizeof(oz0)) == 0,
			   "a failure reply changed the owner zones");
	rc = net_enc_discover_rep(&again, &st, z, nz, owner_zone, n_owners, &e2);
	FUZZ_CHECK(rc == 0, "accepted %s does not encode: %s", type, e2.msg);
	check_same(type, &again, b->p, b->len);
	dns_zones_free(z, nz);
}

static void update(const net_buf *b, unsigned shape)
{
	const char *type = net_type_name(NET_UPDATE_REP);
	size_t n = shape % (MAX_WANTS + 1);
	dns_change ch[MAX_WANTS + 1], ch0[MAX_WANTS + 1];
	dns_update_result res, res0;
	char *dry = (char *)"sentinel", *verbose = dry;
	net_status st, st0;
	net_buf again = {0};
	pf_err e = {0}, e2 = {0};
	int rc;

	memset(ch, SENTINEL, sizeof(ch));
	for (size_t i = 0; i < n; i++) {
		memcpy(ch[i].owner, changes[i].owner, sizeof(ch[i].owner));
		ch[i].rd = changes[i].rd;
		ch[i].op = changes[i].op;
	}
	memset(&st, SENTINEL, sizeof(st));
	memset(&res, SENTINEL, sizeof(res));
	memcpy(ch0, ch, sizeof(ch));
	st0 = st;
	res0 = res;
	if ((rc = net_dec_update_rep(b, ch, n, &st, &res, &dry, &verbose, &e)) < 0) {
		check_refused(rc, &e, type);
		UNTOUCHED(st, st0, "the status");
		UNTOUCHED(res, res0, "the result");
		UNTOUCHED(ch, ch0, "the changes");
		FUZZ_CHECK(strcmp(dry, "sentinel") == 0 && dry == verbose,
			   "a refused %s changed the texts", type);
		return;
	}
	check_status(&st);
	for (size_t i = 0; i < n; i++) {
		FUZZ_CHECK(memcmp(ch[i].owner, ch0[i].owner, sizeof(ch[i].owner)) == 0 &&
				   memcmp(&ch[i].rd, &ch0[i].rd, sizeof(ch[i].rd)) == 0 &&
				   ch[i].op == ch0[i].op,
			   "the reply changed what change %zu asked for", i);
		FUZZ_CHECK(ch[i].result <= DNS_CH_FAILED, "change %zu: result %d", i,
			   (int)ch[i].result);
		FUZZ_CHECK(st.rc < 0 || ch[i].result == DNS_CH_DONE ||
				   ch[i].result == DNS_CH_ALREADY ||
				   (ch[i].result == DNS_CH_PENDING && res.messages == 0),
			   "success with change %zu not done", i);
	}
	FUZZ_CHECK(memcmp(&ch[n], &ch0[n], sizeof(ch[n])) == 0, "the reply wrote past the changes");
	FUZZ_CHECK(res.t_pub >= 0, "T_pub %lld accepted", (long long)res.t_pub);
	FUZZ_CHECK(dry && verbose, "an accepted %s without its texts", type);
	rc = net_enc_update_rep(&again, &st, ch, n, &res, dry, strlen(dry), verbose,
				strlen(verbose), &e2);
	FUZZ_CHECK(rc == 0, "accepted %s does not encode: %s", type, e2.msg);
	check_same(type, &again, b->p, b->len);
	free(dry);
	free(verbose);
}

static void sign_req(const net_buf *b)
{
	const char *type = net_type_name(NET_SIGN_REQ);
	const uint8_t *wire = (const uint8_t *)"x";
	size_t len = 12345;
	net_buf again = {0};
	pf_err e = {0};
	int rc;

	if ((rc = net_dec_sign_req(b, &wire, &len, &e)) < 0) {
		check_refused(rc, &e, type);
		FUZZ_CHECK(wire[0] == 'x' && len == 12345, "a refused %s changed its outputs",
			   type);
		return;
	}
	FUZZ_CHECK(len >= 12 && len <= NET_DNS_MAX, "a message of %zu octets to sign accepted",
		   len);
	FUZZ_CHECK(wire >= b->p && wire + len <= b->p + b->len, "the message is not in the body");
	net_enc_sign_req(&again, wire, len);
	check_same(type, &again, b->p, b->len);
}

static void mac_req(const net_buf *b)
{
	const char *type = net_type_name(NET_MAC_REQ);
	const uint8_t *in = (const uint8_t *)"x", *mac = in;
	size_t len = 12345, mac_len = 12345;
	net_buf again = {0};
	pf_err e = {0};
	int rc;

	if ((rc = net_dec_mac_req(b, &in, &len, &mac, &mac_len, &e)) < 0) {
		check_refused(rc, &e, type);
		FUZZ_CHECK(in[0] == 'x' && mac == in && len == 12345 && mac_len == 12345,
			   "a refused %s changed its outputs", type);
		return;
	}
	FUZZ_CHECK(len <= NET_MAC_INPUT_MAX && mac_len <= DNS_TSIG_MAC_MAX,
		   "TSIG input of %zu and MAC of %zu accepted", len, mac_len);
	net_enc_mac_req(&again, in, len, mac, mac_len);
	check_same(type, &again, b->p, b->len);
}

static void prop(const net_buf *b, unsigned shape)
{
	const char *type = net_type_name(NET_PROP_REP);
	dns_zone_info z = zone;
	size_t n = (shape / (MAX_CHECKS + 1)) % (MAX_WANTS + 1);
	dns_prop_round rd, rd0;
	net_status st, st0;
	net_buf again = {0};
	pf_err e = {0}, e2 = {0};
	int rc;

	z.n_checks = shape % (MAX_CHECKS + 1);
	memset(&st, SENTINEL, sizeof(st));
	memset(&rd, SENTINEL, sizeof(rd));
	st0 = st;
	rd0 = rd;
	if ((rc = net_dec_prop_rep(b, &z, wants, n, &st, &rd, &e)) < 0) {
		check_refused(rc, &e, type);
		UNTOUCHED(st, st0, "the status");
		UNTOUCHED(rd, rd0, "the round");
		return;
	}
	check_status(&st);
	if (st.rc == 0) {
		size_t distinct = 0;

		for (size_t w = 0; w < n; w++) {
			size_t k = 0;

			while (k < w && strcmp(wants[k].owner, wants[w].owner) != 0)
				k++;
			distinct += k == w;
		}
		FUZZ_CHECK(rd.n_servers == z.n_checks && rd.n_want == n && rd.want == wants &&
				   rd.n_owners == distinct,
			   "a round of %zu servers, %zu records, %zu owners for %zu, %zu, %zu",
			   rd.n_servers, rd.n_want, rd.n_owners, z.n_checks, n, distinct);
		for (size_t s = 0; s < rd.n_servers; s++) {
			const dns_prop_server *ps = &rd.servers[s];
			size_t m = 0;

			for (size_t w = 0; w < n; w++)
				m += ps->match[w];
			FUZZ_CHECK(ps->n_match == m && m <= n, "server %zu: %zu matches of %zu", s,
				   ps->n_match, m);
			FUZZ_CHECK(!ps->complete || (ps->state == DNS_PROP_OK && m == n),
				   "server %zu complete without every record", s);
			FUZZ_CHECK(dns_server_equal(&ps->target.addr, &z.checks[s].addr),
				   "server %zu is not the request's", s);
			FUZZ_CHECK(printable(ps->note, sizeof(ps->note), true),
				   "server %zu: note not printable", s);
		}
	}
	rc = net_enc_prop_rep(&again, &st, &rd, &e2);
	FUZZ_CHECK(rc == 0, "accepted %s does not encode: %s", type, e2.msg);
	check_same(type, &again, b->p, b->len);
	dns_prop_round_free(&rd);
}

static void probe(const net_buf *b)
{
	const char *type = net_type_name(NET_PROBE_REP);
	pf_probe_result res, res0;
	net_status st, st0;
	net_buf again = {0};
	pf_err e = {0};
	size_t hl;
	int rc;

	memset(&st, SENTINEL, sizeof(st));
	memset(&res, SENTINEL, sizeof(res));
	st0 = st;
	res0 = res;
	if ((rc = net_dec_probe_rep(b, &st, &res, &e)) < 0) {
		check_refused(rc, &e, type);
		UNTOUCHED(st, st0, "the status");
		UNTOUCHED(res, res0, "the result");
		return;
	}
	check_status(&st);
	hl = strnlen(res.spki_sha256, sizeof(res.spki_sha256));
	FUZZ_CHECK((hl == 0 || hl == 64) && strspn(res.spki_sha256, "0123456789abcdef") == hl,
		   "SPKI digest \"%.70s\" accepted", res.spki_sha256);
	FUZZ_CHECK(res.alg >= -1 && res.alg < PF_ALG_COUNT, "key algorithm %d accepted", res.alg);
	FUZZ_CHECK(!res.dane_ok || res.dane_checked, "DANE valid without a check accepted");
	FUZZ_CHECK(printable(res.address, sizeof(res.address), true) &&
			   printable(res.verify_error, sizeof(res.verify_error), true),
		   "address or verify error not printable");
	net_enc_probe_rep(&again, &st, &res);
	check_same(type, &again, b->p, b->len);
}

/* ---- the network process's side --------------------------------------------------- */

/* Every octet of the object at p is 0: a refused request leaves the
 * caller's structure zeroed, as net_msg.h promises. */
static bool all_zero(const void *p, size_t n)
{
	const uint8_t *q = p;

	for (size_t i = 0; i < n; i++)
		if (q[i])
			return false;
	return true;
}

static void check_zone(const dns_zone_info *z)
{
	FUZZ_CHECK(printable(z->zone, sizeof(z->zone), false) &&
			   printable(z->mname, sizeof(z->mname), false),
		   "zone or MNAME not printable");
	FUZZ_CHECK(z->n_checks <= NET_MAX_SERVERS, "%zu check servers accepted", z->n_checks);
	for (size_t i = 0; i < z->n_checks; i++)
		FUZZ_CHECK(printable(z->checks[i].name, sizeof(z->checks[i].name), false),
			   "check server %zu: name not printable", i);
}

static void check_rdata(const pf_tlsa_rdata *rd)
{
	FUZZ_CHECK(rd->len >= 1 && rd->len <= sizeof(rd->data), "TLSA data of %zu octets accepted",
		   rd->len);
}

static void discover_req(const net_buf *b)
{
	const char *type = net_type_name(NET_DISCOVER_REQ);
	const pf_hostport_list *lists[4];
	pf_config cfg, cfg0;
	pf_strv owners = {0}, owners0 = {0};
	net_buf again = {0};
	pf_err e = {0}, e2 = {0};
	int rc;

	pf_config_init(&cfg);
	cfg0 = cfg;
	if ((rc = net_dec_discover_req(b, &cfg, &owners, &e)) < 0) {
		check_refused(rc, &e, type);
		UNTOUCHED(cfg, cfg0, "the configuration");
		UNTOUCHED(owners, owners0, "the owner names");
		pf_config_free(&cfg);
		return;
	}
	lists[0] = &cfg.dns_update_server;
	lists[1] = &cfg.dns_resolver;
	lists[2] = &cfg.dns_check_servers;
	lists[3] = &cfg.dns_extra_check_servers;
	FUZZ_CHECK(cfg.dns_update_server.n <= 1, "%zu update servers accepted",
		   cfg.dns_update_server.n);
	for (size_t l = 0; l < 4; l++) {
		FUZZ_CHECK(lists[l]->n <= NET_MAX_HOSTPORTS, "list %zu of %zu accepted", l,
			   lists[l]->n);
		for (size_t i = 0; i < lists[l]->n; i++)
			FUZZ_CHECK(lists[l]->v[i].host[0] &&
					   printable(lists[l]->v[i].host,
						     sizeof(lists[l]->v[i].host), false),
				   "list %zu host %zu empty or not printable", l, i);
	}
	FUZZ_CHECK(owners.n <= NET_MAX_ITEMS, "%zu owner names accepted", owners.n);
	for (size_t i = 0; i < owners.n; i++)
		FUZZ_CHECK(owners.v[i][0] && printable(owners.v[i], 256, false),
			   "owner name %zu empty or not printable", i);
	FUZZ_CHECK(!cfg.dns_zone || (cfg.dns_zone[0] && printable(cfg.dns_zone, 256, false)),
		   "dns_zone empty or not printable");
	rc = net_enc_discover_req(&again, &cfg, owners.v, owners.n, &e2);
	FUZZ_CHECK(rc == 0, "accepted %s does not encode: %s", type, e2.msg);
	check_same(type, &again, b->p, b->len);
	pf_strv_clear(&owners);
	pf_config_free(&cfg);
}

static void update_req(const net_buf *b)
{
	const char *type = net_type_name(NET_UPDATE_REQ);
	net_update_req r;
	dns_update_opts o;
	net_buf again = {0};
	pf_err e = {0}, e2 = {0};
	int rc;

	memset(&r, SENTINEL, sizeof(r));
	if ((rc = net_dec_update_req(b, &r, &e)) < 0) {
		check_refused(rc, &e, type);
		FUZZ_CHECK(all_zero(&r, sizeof(r)), "a refused %s left its request set", type);
		return;
	}
	check_zone(&r.zone);
	FUZZ_CHECK(r.n <= NET_MAX_ITEMS, "%zu changes accepted", r.n);
	for (size_t i = 0; i < r.n; i++) {
		FUZZ_CHECK(r.ch[i].owner[0] &&
				   printable(r.ch[i].owner, sizeof(r.ch[i].owner), false),
			   "change %zu: owner empty or not printable", i);
		FUZZ_CHECK(r.ch[i].op == DNS_OP_ADD || r.ch[i].op == DNS_OP_DELETE,
			   "change %zu: operation %d", i, (int)r.ch[i].op);
		check_rdata(&r.ch[i].rd);
	}
	o = (dns_update_opts){.zone = &r.zone,
			      .tsig = r.tsig,
			      .ttl = r.ttl,
			      .dry_run = r.dry_run ? stdout : NULL,
			      .verbose = r.verbose ? stdout : NULL};
	rc = net_enc_update_req(&again, &o, r.ch, r.n, &e2);
	FUZZ_CHECK(rc == 0, "accepted %s does not encode: %s", type, e2.msg);
	check_same(type, &again, b->p, b->len);
	net_update_req_free(&r);
}

static void prop_req(const net_buf *b)
{
	const char *type = net_type_name(NET_PROP_REQ);
	net_prop_req r;
	net_buf again = {0};
	pf_err e = {0}, e2 = {0};
	int rc;

	memset(&r, SENTINEL, sizeof(r));
	if ((rc = net_dec_prop_req(b, &r, &e)) < 0) {
		check_refused(rc, &e, type);
		FUZZ_CHECK(all_zero(&r, sizeof(r)), "a refused %s left its request set", type);
		return;
	}
	check_zone(&r.zone);
	FUZZ_CHECK(r.n <= NET_MAX_ITEMS, "%zu wanted records accepted", r.n);
	for (size_t i = 0; i < r.n; i++) {
		FUZZ_CHECK(r.want[i].owner[0] &&
				   printable(r.want[i].owner, sizeof(r.want[i].owner), false),
			   "want %zu: owner empty or not printable", i);
		check_rdata(&r.want[i].rd);
	}
	FUZZ_CHECK(r.opts.window >= 1 && r.opts.window <= 64 && r.opts.timeout_ms >= 1 &&
			   r.opts.retransmit_ms >= 1,
		   "DNS options %u, %u, %u accepted", r.opts.timeout_ms, r.opts.retransmit_ms,
		   r.opts.window);
	rc = net_enc_prop_req(&again, &r.zone, r.want, r.n, &r.opts, &e2);
	FUZZ_CHECK(rc == 0, "accepted %s does not encode: %s", type, e2.msg);
	check_same(type, &again, b->p, b->len);
	net_prop_req_free(&r);
}

static void probe_req(const net_buf *b)
{
	const char *type = net_type_name(NET_PROBE_REQ);
	net_probe_req r;
	net_buf again = {0};
	pf_err e = {0}, e2 = {0};
	int rc;

	memset(&r, SENTINEL, sizeof(r));
	if ((rc = net_dec_probe_req(b, &r, &e)) < 0) {
		check_refused(rc, &e, type);
		FUZZ_CHECK(all_zero(&r, sizeof(r)), "a refused %s left its request set", type);
		return;
	}
	FUZZ_CHECK(r.ep.host[0] && printable(r.ep.host, sizeof(r.ep.host), false) &&
			   printable(r.tlsa_host, sizeof(r.tlsa_host), false),
		   "endpoint or TLSA host empty or not printable");
	FUZZ_CHECK(r.n <= NET_MAX_PROBE_RECORDS, "%zu records accepted", r.n);
	for (size_t i = 0; i < r.n; i++)
		check_rdata(&r.records[i]);
	FUZZ_CHECK((int)r.want >= -1 && (int)r.want < PF_ALG_COUNT, "key algorithm %d accepted",
		   (int)r.want);
	FUZZ_CHECK(r.timeout_ms >= 1, "timeout %d accepted", r.timeout_ms);
	rc = net_enc_probe_req(&again, &r.ep, r.tlsa_host, r.records, r.n, r.want, r.timeout_ms,
			       &e2);
	FUZZ_CHECK(rc == 0, "accepted %s does not encode: %s", type, e2.msg);
	check_same(type, &again, b->p, b->len);
	net_probe_req_free(&r);
}

static void sign_rep(const net_buf *b, unsigned shape)
{
	static const size_t mac_lens[4] = {20, 32, 48, 64};
	const char *type = net_type_name(NET_SIGN_REP);
	size_t req_len = 12 + (shape & 0x3f), mac_want = mac_lens[shape >> 6];
	uint8_t mac[DNS_TSIG_MAC_MAX], mac0[DNS_TSIG_MAC_MAX], x = 'x';
	uint8_t *wire = &x;
	size_t len = 12345, mac_len = 12345;
	net_status st, st0;
	net_buf again = {0};
	pf_err e = {0};
	int rc;

	memset(&st, SENTINEL, sizeof(st));
	memset(mac, SENTINEL, sizeof(mac));
	st0 = st;
	memcpy(mac0, mac, sizeof(mac));
	if ((rc = net_dec_sign_rep(b, req_len, mac_want, &st, &wire, &len, mac, &mac_len, &e)) <
	    0) {
		check_refused(rc, &e, type);
		UNTOUCHED(st, st0, "the status");
		UNTOUCHED(mac, mac0, "the MAC");
		FUZZ_CHECK(wire == &x && len == 12345 && mac_len == 12345,
			   "a refused %s changed its outputs", type);
		return;
	}
	check_status(&st);
	if (st.rc < 0) {
		FUZZ_CHECK(wire == &x && len == 12345 && mac_len == 12345 &&
				   memcmp(mac, mac0, sizeof(mac)) == 0,
			   "a failure %s set a signed message", type);
		net_enc_sign_rep(&again, &st, NULL, 0, NULL, 0);
	} else {
		FUZZ_CHECK(len > req_len && len <= NET_DNS_MAX && mac_len == mac_want,
			   "a signed message of %zu with a MAC of %zu accepted for %zu and %zu",
			   len, mac_len, req_len, mac_want);
		net_enc_sign_rep(&again, &st, wire, len, mac, mac_len);
		free(wire);
	}
	check_same(type, &again, b->p, b->len);
}

static void mac_rep(const net_buf *b)
{
	const char *type = net_type_name(NET_MAC_REP);
	net_buf again = {0};
	pf_err e = {0};
	bool match = true;
	int rc;

	if ((rc = net_dec_mac_rep(b, &match, &e)) < 0) {
		check_refused(rc, &e, type);
		FUZZ_CHECK(match, "a refused %s changed the verdict", type);
		return;
	}
	net_enc_mac_rep(&again, match);
	check_same(type, &again, b->p, b->len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	net_buf b;
	unsigned shape;

	setup();
	if (size < 2)
		return 0;
	shape = data[1];
	/* The decoders only read the body; net_buf is not const inside. */
	b.p = (uint8_t *)(uintptr_t)(data + 2);
	b.len = b.cap = size - 2;
	switch (data[0] % D_COUNT) {
	case D_HELLO:
		hello(&b);
		break;
	case D_DISCOVER:
		discover(&b, shape);
		break;
	case D_UPDATE:
		update(&b, shape);
		break;
	case D_SIGN:
		sign_req(&b);
		break;
	case D_MAC:
		mac_req(&b);
		break;
	case D_PROP:
		prop(&b, shape);
		break;
	case D_PROBE:
		probe(&b);
		break;
	case D_DISCOVER_REQ:
		discover_req(&b);
		break;
	case D_UPDATE_REQ:
		update_req(&b);
		break;
	case D_PROP_REQ:
		prop_req(&b);
		break;
	case D_PROBE_REQ:
		probe_req(&b);
		break;
	case D_SIGN_REP:
		sign_rep(&b, shape);
		break;
	default:
		mac_rep(&b);
		break;
	}
	return 0;
}
