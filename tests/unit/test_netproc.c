/*
 * test_netproc.c - the network process and its protocol (net_msg.h,
 * netproc.h, net.h):
 *   - every message type survives a round trip through a real
 *     SOCK_SEQPACKET socketpair, field by field, also when larger than one
 *     chunk;
 *   - a table of malformed messages - wrong magic, unexpected type, oversize,
 *     wrong packet sizes, truncated bodies, lying lengths and counts, values
 *     out of range, replies that contradict their request - each refused
 *     with -EPROTO and a message naming the problem;
 *   - as root: the real network process runs as the unprivileged user with
 *     no capability, no_new_privs, not dumpable, only its socket open; a
 *     process with its credentials cannot open a root 0600 key file; a real
 *     STARTTLS probe and a DNS failure travel through it; a malformed request
 *     ends it; a scripted peer's bad replies fail the call and the next call
 *     gets a fresh process;
 *   - not root: net_new falls back to in-process calls with one notice.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "../../daemon/keystore.h"
#include "../../daemon/net.h"
#include "../../daemon/net_msg.h"
#include "../../daemon/net_sign.h"
#include "../../daemon/netproc.h"
#include "../../daemon/tlsa.h"
#include "t.h"
#include "../../daemon/macro.h"

#define TEST_ADDR "127.61.0.1"

/* ---- helpers ------------------------------------------------------------- */

/* Send b as type t from a child (a large message must be read while it is
 * written), receive it here with allowed types.  Returns net_recv's code. */
static int transfer(uint32_t t, const net_buf *b, const uint32_t *allowed, size_t n, net_buf *ret,
		    pf_err *e)
{
	int sv[2];
	uint32_t got;
	pid_t pid;
	int rc;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0)
		abort();
	pid = fork();
	if (pid == 0) {
		close(sv[1]);
		_exit(net_send(sv[0], t, b) < 0);
	}
	close(sv[0]);
	rc = net_recv(sv[1], allowed, n, 5000, &got, ret, e);
	if (rc == 0 && got != t)
		rc = -EBADMSG;
	close(sv[1]);
	waitpid(pid, NULL, 0);
	return rc;
}

static int roundtrip(uint32_t t, const net_buf *b, net_buf *ret, pf_err *e)
{
	return transfer(t, b, &t, 1, ret, e);
}

static void server(dns_server *s, const char *addr, uint16_t port)
{
	if (dns_server_set(s, addr, port) < 0)
		abort();
}

static void sample_zone(dns_zone_info *z)
{
	memset(z, 0, sizeof(*z));
	snprintf(z->zone, sizeof(z->zone), "example.test.");
	server(&z->update.addr, "127.61.0.1", 53);
	snprintf(z->update.name, sizeof(z->update.name), "ns1.example.test.");
	z->update.update_server = true;
	z->n_checks = 3;
	z->checks = pf_calloc(3, sizeof(*z->checks));
	z->checks[0] = z->update;
	server(&z->checks[1].addr, "127.61.0.2", 5353);
	snprintf(z->checks[1].name, sizeof(z->checks[1].name), "ns2.example.test.");
	server(&z->checks[2].addr, "2001:db8::3", 53);
	snprintf(z->mname, sizeof(z->mname), "ns1.example.test.");
	z->serial = 4000000001u;
	z->soa_ttl = 3600;
	z->soa_minimum = 300;
}

static bool target_eq(const dns_target *a, const dns_target *b)
{
	return dns_server_equal(&a->addr, &b->addr) && strcmp(a->addr.label, b->addr.label) == 0 &&
	       strcmp(a->name, b->name) == 0 && a->update_server == b->update_server;
}

static bool zone_eq(const dns_zone_info *a, const dns_zone_info *b)
{
	if (strcmp(a->zone, b->zone) || !target_eq(&a->update, &b->update) ||
	    a->n_checks != b->n_checks || strcmp(a->mname, b->mname) || a->serial != b->serial ||
	    a->soa_ttl != b->soa_ttl || a->soa_minimum != b->soa_minimum)
		return false;
	for (size_t i = 0; i < a->n_checks; i++)
		if (!target_eq(&a->checks[i], &b->checks[i]))
			return false;
	return true;
}

static void rdata(pf_tlsa_rdata *rd, uint8_t sel, uint8_t mt, uint8_t fill)
{
	memset(rd, 0, sizeof(*rd));
	rd->usage = 3;
	rd->selector = sel;
	rd->mtype = mt;
	rd->len = mt == 2 ? 64 : 32;
	for (size_t i = 0; i < rd->len; i++)
		rd->data[i] = (uint8_t)(fill + i);
}

static bool rdata_eq(const pf_tlsa_rdata *a, const pf_tlsa_rdata *b)
{
	return a->usage == b->usage && a->selector == b->selector && a->mtype == b->mtype &&
	       a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

static void hostports(pf_hostport_list *l, size_t n, const char *base)
{
	free(l->v);
	l->n = n;
	l->v = pf_calloc(n + 1, sizeof(*l->v));
	for (size_t i = 0; i < n; i++) {
		snprintf(l->v[i].host, sizeof(l->v[i].host), "%s%zu", base, i + 1);
		l->v[i].port = (uint16_t)(i ? 5300 + i : 0);
	}
}

static bool hostports_eq(const pf_hostport_list *a, const pf_hostport_list *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i].host, b->v[i].host) || a->v[i].port != b->v[i].port)
			return false;
	return true;
}

/* A sample round over z's servers for want[0..n). */
static void sample_round(const dns_zone_info *z, const dns_prop_want *want, size_t n,
			 dns_prop_round *rd, char *const *owners, size_t n_owners,
			 const size_t *want_owner)
{
	memset(rd, 0, sizeof(*rd));
	snprintf(rd->zone, sizeof(rd->zone), "%s", z->zone);
	rd->n_owners = n_owners;
	rd->owners = pf_calloc(n_owners + 1, sizeof(char *));
	for (size_t k = 0; k < n_owners; k++)
		rd->owners[k] = pf_strdup(owners[k]);
	rd->want_owner = pf_calloc(n + 1, sizeof(size_t));
	memcpy(rd->want_owner, want_owner, n * sizeof(size_t));
	rd->want = want;
	rd->n_want = n;
	rd->n_servers = z->n_checks;
	rd->servers = pf_calloc(z->n_checks, sizeof(*rd->servers));
	for (size_t s = 0; s < z->n_checks; s++) {
		dns_prop_server *ps = &rd->servers[s];

		ps->target = z->checks[s];
		ps->state = s == 2 ? DNS_PROP_NO_ANSWER : DNS_PROP_OK;
		if (s == 2)
			snprintf(ps->note, sizeof(ps->note), "no answer within 2000 ms");
		ps->have_soa = s != 2;
		ps->serial = 100 + (uint32_t)s;
		ps->soa_ttl = 60;
		ps->soa_minimum = 30;
		ps->soa_signed = s == 0;
		ps->rrsets = pf_calloc(n_owners, sizeof(*ps->rrsets));
		for (size_t k = 0; k < n_owners; k++) {
			ps->rrsets[k].answered = s != 2;
			ps->rrsets[k].n_rr = (unsigned)(k + s);
			ps->rrsets[k].ttl = 5;
			ps->rrsets[k].orig_ttl = s == 0 ? 3600 : 0;
			ps->rrsets[k].rrsig = s == 0;
			ps->rrsets[k].rrsig_expired = s == 1 && k == 1;
		}
		ps->match = pf_calloc(n, sizeof(bool));
		for (size_t w = 0; w < n; w++) {
			ps->match[w] = s == 0 || (s == 1 && w != 1);
			ps->n_match += ps->match[w];
		}
		ps->all_signed = s == 0;
		ps->complete = ps->state == DNS_PROP_OK && ps->n_match == n;
		ps->rtt_usec = 1234 + s;
	}
	rd->time = 1700000000;
	rd->all_complete = false;
	rd->zone_signed = true;
	rd->max_tlsa_ttl = 3600;
	rd->soa_ttl = 60;
	rd->soa_minimum = 30;
}

/* ---- round trips ------------------------------------------------------------ */

static void test_roundtrip_hello(void)
{
	net_buf b = {0}, r = {0};
	net_status st = {.rc = -EPERM}, got;
	net_sep sep = {65534, 65533, NET_SEP_UID | NET_SEP_SECCOMP, 7, "why not"}, gs;
	pf_err e = {0};

	pf_err_set(&st.err, EPERM, "setresuid 65534: Operation not permitted");
	net_enc_hello(&b, &st, &sep);
	T_CHECK(roundtrip(NET_HELLO, &b, &r, &e) == 0 && net_dec_hello(&r, &got, &gs, &e) == 0,
		"hello: round trip: %s", e.msg);
	T_CHECK(got.rc == -EPERM && got.err.code == EPERM && got.err.exit_code == 1 &&
			gs.uid == 65534 && gs.gid == 65533 && strcmp(got.err.msg, st.err.msg) == 0,
		"hello: status, message, uid and gid survive");
	T_CHECK(gs.flags == (NET_SEP_UID | NET_SEP_SECCOMP) && gs.landlock_abi == 7 &&
			strcmp(gs.why_uid, "why not") == 0,
		"hello: separation flags, Landlock ABI and note survive");
	net_buf_free(&b);
	net_buf_free(&r);
}

static void test_roundtrip_discover(void)
{
	pf_config cfg, got;
	char *owners[] = {"_25._tcp.mx.example.test.", "_465._tcp.mx.example.test.",
			  "_25._tcp.mx2.example.test."};
	pf_strv gowners = {0};
	net_buf b = {0}, r = {0};
	pf_err e = {0};

	pf_config_init(&cfg);
	cfg.dns_zone = pf_strdup("example.test");
	hostports(&cfg.dns_update_server, 1, "127.61.0.");
	hostports(&cfg.dns_resolver, 2, "127.61.0.");
	hostports(&cfg.dns_check_servers, 3, "ns");
	hostports(&cfg.dns_extra_check_servers, 1, "2001:db8::");
	pf_config_init(&got);
	T_CHECK(net_enc_discover_req(&b, &cfg, owners, 3, &e) == 0 &&
			roundtrip(NET_DISCOVER_REQ, &b, &r, &e) == 0 &&
			net_dec_discover_req(&r, &got, &gowners, &e) == 0,
		"discover request: round trip: %s", e.msg);
	T_CHECK(got.dns_zone && strcmp(got.dns_zone, "example.test") == 0 &&
			hostports_eq(&got.dns_update_server, &cfg.dns_update_server) &&
			hostports_eq(&got.dns_resolver, &cfg.dns_resolver) &&
			hostports_eq(&got.dns_check_servers, &cfg.dns_check_servers) &&
			hostports_eq(&got.dns_extra_check_servers, &cfg.dns_extra_check_servers),
		"discover request: the DNS configuration survives");
	T_CHECK(gowners.n == 3 && strcmp(gowners.v[0], owners[0]) == 0 &&
			strcmp(gowners.v[2], owners[2]) == 0,
		"discover request: the owner names survive");
	pf_config_free(&cfg);
	pf_config_free(&got);
	pf_strv_clear(&gowners);
	net_buf_free(&b);
	net_buf_free(&r);

	/* Without dns_zone, lists empty. */
	pf_config_init(&cfg);
	pf_config_init(&got);
	T_CHECK(net_enc_discover_req(&b, &cfg, owners, 1, &e) == 0 &&
			roundtrip(NET_DISCOVER_REQ, &b, &r, &e) == 0 &&
			net_dec_discover_req(&r, &got, &gowners, &e) == 0 && got.dns_zone == NULL &&
			got.dns_resolver.n == 0 && gowners.n == 1,
		"discover request: defaults (no dns_zone, empty lists) survive: %s", e.msg);
	pf_config_free(&cfg);
	pf_config_free(&got);
	pf_strv_clear(&gowners);
	net_buf_free(&b);
	net_buf_free(&r);

	/* The reply: two zones, and owner i -> zone. */
	dns_zone_info z[2], *gz = NULL;
	size_t oz[3] = {0, 0, 1}, goz[3] = {9, 9, 9}, ngz = 0;
	net_status st = {0}, gst;

	sample_zone(&z[0]);
	sample_zone(&z[1]);
	snprintf(z[1].zone, sizeof(z[1].zone), "other.test.");
	z[1].n_checks = 1;
	T_CHECK(net_enc_discover_rep(&b, &st, z, 2, oz, 3, &e) == 0 &&
			roundtrip(NET_DISCOVER_REP, &b, &r, &e) == 0 &&
			net_dec_discover_rep(&r, 3, &gst, &gz, &ngz, goz, &e) == 0,
		"discover reply: round trip: %s", e.msg);
	T_CHECK(gst.rc == 0 && ngz == 2 && gz && zone_eq(&gz[0], &z[0]) && zone_eq(&gz[1], &z[1]),
		"discover reply: zones, servers (v4, v6, ports, labels) and SOA data survive");
	T_CHECK(goz[0] == 0 && goz[1] == 0 && goz[2] == 1, "discover reply: owner zones survive");
	dns_zones_free(gz, ngz);
	net_buf_free(&b);
	net_buf_free(&r);
	free(z[0].checks);
	free(z[1].checks);

	st.rc = pf_err_set(&st.err, ETIMEDOUT, "no resolver answered for example.test SOA");
	gz = NULL;
	T_CHECK(net_enc_discover_rep(&b, &st, NULL, 0, NULL, 3, &e) == 0 &&
			roundtrip(NET_DISCOVER_REP, &b, &r, &e) == 0 &&
			net_dec_discover_rep(&r, 3, &gst, &gz, &ngz, goz, &e) == 0 &&
			gst.rc == -ETIMEDOUT && strcmp(gst.err.msg, st.err.msg) == 0 && !gz,
		"discover reply: a failure and its message survive");
	net_buf_free(&b);
	net_buf_free(&r);
}

static void test_roundtrip_update(void)
{
	/* Octets no other field of the request has (its TLSA data are 0x00 to
	 * 0x42), so that finding any 8 of them in a row means the secret. */
	static const unsigned char secret[32] = "\xa0\xa1\xa2\xa3\xa4\xa5\xa6\xa7\xa8\xa9\xaa\xab"
						"\xac\xad\xae\xaf\xb0\xb1\xb2\xb3\xb4\xb5\xb6\xb7"
						"\xb8\xb9\xba\xbb\xbc\xbd\xbe\xbf";
	dns_tsig_key *key = NULL;
	dns_zone_info z;
	dns_change ch[3] = {0};
	net_update_req req;
	net_buf b = {0}, r = {0};
	pf_err e = {0};

	sample_zone(&z);
	T_CHECK(dns_tsig_key_new("pftls-key", DNS_HMAC_SHA256, secret, sizeof(secret), &key, &e) ==
			0,
		"dns_tsig_key_new makes a key: %s", e.msg);
	for (int i = 0; i < 3; i++) {
		snprintf(ch[i].owner, sizeof(ch[i].owner), "_25._tcp.mx%d.example.test.", i);
		rdata(&ch[i].rd, (uint8_t)(i == 2 ? 0 : 1), (uint8_t)(i == 1 ? 2 : 1), (uint8_t)i);
		ch[i].op = i == 2 ? DNS_OP_DELETE : DNS_OP_ADD;
	}
	dns_update_opts o = {.zone = &z, .tsig = key, .ttl = 300, .dry_run = stdout};
	T_CHECK(net_enc_update_req(&b, &o, ch, 3, &e) == 0 &&
			roundtrip(NET_UPDATE_REQ, &b, &r, &e) == 0 &&
			net_dec_update_req(&r, &req, &e) == 0,
		"update request: round trip: %s", e.msg);
	T_CHECK(zone_eq(&req.zone, &z) && req.ttl == 300 && req.dry_run && !req.verbose &&
			req.n == 3,
		"update request: zone, TTL and flags survive");
	bool same = true;
	for (int i = 0; i < 3; i++)
		same &= strcmp(req.ch[i].owner, ch[i].owner) == 0 &&
			rdata_eq(&req.ch[i].rd, &ch[i].rd) && req.ch[i].op == ch[i].op;
	T_CHECK(same,
		"update request: owners, TLSA data (32 and 64 octets) and operations survive");
	T_CHECK(req.tsig && strcmp(req.tsig->name, "pftls-key.") == 0 &&
			req.tsig->alg == DNS_HMAC_SHA256 && req.tsig->mac_len == 32 &&
			req.tsig->name_wire_len == key->name_wire_len &&
			memcmp(req.tsig->name_wire, key->name_wire, key->name_wire_len) == 0,
		"update request: the TSIG key's name and algorithm survive");
	T_CHECK(req.tsig && !req.tsig->secret && req.tsig->secret_len == 0 && !req.tsig->signer,
		"update request: the key the network process gets has no secret");
	net_update_req_free(&req);
	net_buf_free(&r);
	bool piece = false;
	for (size_t i = 0; i + 8 <= sizeof(secret); i++)
		piece |= b.p && memmem(b.p, b.len, secret + i, 8) != NULL;
	T_CHECK(b.p && !piece && key->secret_len == 32,
		"update request: no 8 octets in a row of the TSIG secret are in it");
	net_buf_free(&b);

	o.tsig = NULL;
	o.dry_run = NULL;
	o.verbose = stderr;
	T_CHECK(net_enc_update_req(&b, &o, ch, 1, &e) == 0 &&
			roundtrip(NET_UPDATE_REQ, &b, &r, &e) == 0 &&
			net_dec_update_req(&r, &req, &e) == 0 && req.tsig == NULL && req.verbose &&
			!req.dry_run && req.n == 1,
		"update request without a TSIG key: round trip: %s", e.msg);
	net_update_req_free(&req);
	net_buf_free(&b);
	net_buf_free(&r);

	/* The reply. */
	dns_change out[3];
	dns_update_result res = {.messages = 2,
				 .t_pub = 1700000001,
				 .serial = 77,
				 .zone_signed = true,
				 .soa_ttl = 60,
				 .soa_minimum = 30};
	dns_update_result gres;
	net_status st = {0}, gst;
	char *dry = NULL, *verbose = NULL;
	const char *text = "; update 1 of 2\n_25._tcp.mx0.example.test.\t300\tIN\tTLSA\t3 1 1 00\n";

	memcpy(out, ch, sizeof(out));
	for (int i = 0; i < 3; i++) {
		ch[i].result = i == 1 ? DNS_CH_ALREADY : DNS_CH_DONE;
		ch[i].existed_before = i == 0;
		ch[i].ttl_before = i == 0 ? 3600 : 0;
		ch[i].ttl = 300 + (uint32_t)i;
		ch[i].others = (unsigned)i;
	}
	T_CHECK(net_enc_update_rep(&b, &st, ch, 3, &res, text, strlen(text), "line\x01two\n", 9,
				   &e) == 0 &&
			roundtrip(NET_UPDATE_REP, &b, &r, &e) == 0 &&
			net_dec_update_rep(&r, out, 3, &gst, &gres, &dry, &verbose, &e) == 0,
		"update reply: round trip: %s", e.msg);
	same = gst.rc == 0;
	for (int i = 0; i < 3; i++)
		same &= out[i].result == ch[i].result &&
			out[i].existed_before == ch[i].existed_before &&
			out[i].ttl_before == ch[i].ttl_before && out[i].ttl == ch[i].ttl &&
			out[i].others == ch[i].others;
	T_CHECK(same, "update reply: every change's result, TTLs and counts survive");
	T_CHECK(gres.messages == 2 && gres.t_pub == 1700000001 && gres.serial == 77 &&
			gres.zone_signed && gres.soa_ttl == 60 && gres.soa_minimum == 30,
		"update reply: the result survives");
	T_STREQ(dry, text, "update reply: the dry-run text survives, tabs and newlines included");
	T_STREQ(verbose, "line?two\n", "update reply: a control character is replaced by ?");
	free(dry);
	free(verbose);
	net_buf_free(&b);
	net_buf_free(&r);
	dns_tsig_key_free(key);
	free(z.checks);
}

static void test_roundtrip_large(void)
{
	size_t n = 3000;
	dns_change *ch = pf_calloc(n, sizeof(*ch));
	dns_zone_info z;
	net_update_req req;
	net_buf b = {0}, r = {0};
	pf_err e = {0};
	bool same = true;

	sample_zone(&z);
	for (size_t i = 0; i < n; i++) {
		snprintf(ch[i].owner, sizeof(ch[i].owner), "_25._tcp.host%zu.example.test.", i);
		rdata(&ch[i].rd, 1, 2, (uint8_t)i);
	}
	dns_update_opts o = {.zone = &z, .ttl = 60};
	T_CHECK(net_enc_update_req(&b, &o, ch, n, &e) == 0 && b.len > 4 * NET_CHUNK,
		"large update request: %zu octets, more than four chunks", b.len);
	T_CHECK(roundtrip(NET_UPDATE_REQ, &b, &r, &e) == 0 &&
			net_dec_update_req(&r, &req, &e) == 0 && req.n == n,
		"large update request: round trip: %s", e.msg);
	for (size_t i = 0; i < n && req.ch; i++)
		same &= strcmp(req.ch[i].owner, ch[i].owner) == 0 &&
			rdata_eq(&req.ch[i].rd, &ch[i].rd);
	T_CHECK(same, "large update request: all %zu changes survive", n);
	net_update_req_free(&req);
	net_buf_free(&b);
	net_buf_free(&r);
	free(ch);
	free(z.checks);
}

static void test_roundtrip_prop(void)
{
	dns_zone_info z;
	dns_prop_want want[3];
	char *owners[] = {"_25._tcp.mx.example.test.", "_465._tcp.mx.example.test."};
	size_t want_owner[3] = {0, 1, 0};
	dns_net_opts o = {.timeout_ms = 2000, .retransmit_ms = 700, .window = 32};
	net_prop_req req;
	net_buf b = {0}, r = {0};
	pf_err e = {0};

	sample_zone(&z);
	for (int i = 0; i < 3; i++) {
		snprintf(want[i].owner, sizeof(want[i].owner), "%s", owners[want_owner[i]]);
		rdata(&want[i].rd, 1, 1, (uint8_t)(10 * i));
		want[i].present = i != 2;
	}
	T_CHECK(net_enc_prop_req(&b, &z, want, 3, &o, &e) == 0 &&
			roundtrip(NET_PROP_REQ, &b, &r, &e) == 0 &&
			net_dec_prop_req(&r, &req, &e) == 0,
		"propagation request: round trip: %s", e.msg);
	bool same = zone_eq(&req.zone, &z) && req.n == 3 && req.opts.timeout_ms == 2000 &&
		    req.opts.retransmit_ms == 700 && req.opts.window == 32;
	for (int i = 0; same && i < 3; i++)
		same &= strcmp(req.want[i].owner, want[i].owner) == 0 &&
			rdata_eq(&req.want[i].rd, &want[i].rd) &&
			req.want[i].present == want[i].present;
	T_CHECK(same, "propagation request: zone, options and wanted records survive");
	net_prop_req_free(&req);
	net_buf_free(&b);
	net_buf_free(&r);

	dns_prop_round rd, got = {0};
	net_status st = {0}, gst;

	sample_round(&z, want, 3, &rd, owners, 2, want_owner);
	T_CHECK(net_enc_prop_rep(&b, &st, &rd, &e) == 0 &&
			roundtrip(NET_PROP_REP, &b, &r, &e) == 0 &&
			net_dec_prop_rep(&r, &z, want, 3, &gst, &got, &e) == 0,
		"propagation reply: round trip: %s", e.msg);
	same = gst.rc == 0 && strcmp(got.zone, rd.zone) == 0 && got.n_owners == 2 &&
	       got.want == want && got.n_want == 3 && got.n_servers == 3 &&
	       strcmp(got.owners[1], owners[1]) == 0 && got.want_owner[2] == 0 &&
	       got.time == rd.time && got.all_complete == rd.all_complete &&
	       got.zone_signed == rd.zone_signed && got.max_tlsa_ttl == rd.max_tlsa_ttl &&
	       got.soa_ttl == rd.soa_ttl && got.soa_minimum == rd.soa_minimum;
	T_CHECK(same, "propagation reply: the round's owners, wants and totals survive");
	same = got.servers != NULL;
	for (size_t s = 0; same && s < 3; s++) {
		const dns_prop_server *a = &rd.servers[s], *g = &got.servers[s];

		same &= target_eq(&a->target, &g->target) && a->state == g->state &&
			strcmp(a->note, g->note) == 0 && a->have_soa == g->have_soa &&
			a->serial == g->serial && a->soa_ttl == g->soa_ttl &&
			a->soa_minimum == g->soa_minimum && a->soa_signed == g->soa_signed &&
			a->n_match == g->n_match && a->all_signed == g->all_signed &&
			a->complete == g->complete && a->rtt_usec == g->rtt_usec;
		for (size_t k = 0; k < 2; k++)
			same &= memcmp(&a->rrsets[k], &g->rrsets[k], sizeof(a->rrsets[k])) == 0;
		for (size_t w = 0; w < 3; w++)
			same &= a->match[w] == g->match[w];
	}
	T_CHECK(same, "propagation reply: every server's state, note, SOA, RRsets and matches "
		      "survive");
	dns_prop_round_free(&got);
	rd.want = NULL;
	dns_prop_round_free(&rd);
	net_buf_free(&b);
	net_buf_free(&r);
	free(z.checks);
}

static void test_roundtrip_probe(void)
{
	pf_hostport ep = {"mx.example.test", 2525};
	pf_tlsa_rdata recs[2];
	net_probe_req req;
	net_buf b = {0}, r = {0};
	pf_err e = {0};

	rdata(&recs[0], 1, 1, 1);
	rdata(&recs[1], 0, 2, 2);
	T_CHECK(net_enc_probe_req(&b, &ep, "mx.example.test", recs, 2, PF_PROBE_ECDSA, 10000, &e) ==
				0 &&
			roundtrip(NET_PROBE_REQ, &b, &r, &e) == 0 &&
			net_dec_probe_req(&r, &req, &e) == 0,
		"probe request: round trip: %s", e.msg);
	T_CHECK(strcmp(req.ep.host, ep.host) == 0 && req.ep.port == 2525 &&
			strcmp(req.tlsa_host, "mx.example.test") == 0 && req.n == 2 &&
			rdata_eq(&req.records[1], &recs[1]) && req.want == PF_PROBE_ECDSA &&
			req.timeout_ms == 10000,
		"probe request: endpoint, records, algorithm and timeout survive");
	net_probe_req_free(&req);
	net_buf_free(&b);
	net_buf_free(&r);

	T_CHECK(net_enc_probe_req(&b, &ep, NULL, NULL, 0, PF_PROBE_ANY, 1, &e) == 0 &&
			roundtrip(NET_PROBE_REQ, &b, &r, &e) == 0 &&
			net_dec_probe_req(&r, &req, &e) == 0 && req.tlsa_host[0] == '\0' &&
			req.n == 0 && req.want == PF_PROBE_ANY,
		"probe request without TLSA host or records: round trip: %s", e.msg);
	net_probe_req_free(&req);
	net_buf_free(&b);
	net_buf_free(&r);

	pf_probe_result res = {.address = "127.61.0.25",
			       .alg = PF_ALG_ECDSA,
			       .dane_checked = true,
			       .dane_ok = false,
			       .dane_depth = -1,
			       .verify_error = "no matching DANE TLSA records"};
	pf_probe_result got;
	net_status st = {0}, gst;

	memset(res.spki_sha256, 'a', 64);
	memset(res.leaf_sha256, 'b', 64);
	res.chain_len = 2;
	/* The largest presented chain the reply carries. */
	res.chain_der_len = PF_PROBE_CHAIN_MAX;
	for (size_t i = 0; i < res.chain_der_len; i++)
		res.chain_der[i] = (uint8_t)(i * 7);
	net_enc_probe_rep(&b, &st, &res);
	T_CHECK(roundtrip(NET_PROBE_REP, &b, &r, &e) == 0 &&
			net_dec_probe_rep(&r, &gst, &got, &e) == 0,
		"probe reply: round trip: %s", e.msg);
	T_CHECK(gst.rc == 0 && strcmp(got.address, res.address) == 0 &&
			strcmp(got.spki_sha256, res.spki_sha256) == 0 && got.alg == PF_ALG_ECDSA &&
			got.dane_checked && !got.dane_ok && got.dane_depth == -1 &&
			strcmp(got.verify_error, res.verify_error) == 0 && got.chain_len == 2 &&
			got.chain_der_len == res.chain_der_len &&
			memcmp(got.chain_der, res.chain_der, res.chain_der_len) == 0,
		"probe reply: every field survives, the presented chain too");
	net_buf_free(&b);
	net_buf_free(&r);
}

/* ---- malformed framing --------------------------------------------------------- */

static void hdr(uint8_t *p, uint32_t magic, uint32_t type, uint32_t len)
{
	uint32_t v[3] = {htonl(magic), htonl(type), htonl(len)};
	memcpy(p, v, 12);
}

typedef struct frame_case {
	const char *name;
	uint32_t magic, type, len; /* the header */
	size_t hdr_size;           /* its packet's size (12 is right) */
	size_t body[3];            /* sizes of the body packets sent, 0 ends */
	uint32_t allowed;
	const char *want; /* in the error message */
} frame_case;

static const frame_case frame_cases[] = {
	{"bad magic", 0xdeadbeef, NET_PROBE_REQ, 0, 12, {0}, NET_PROBE_REQ, "magic"},
	{"a reply where a request is expected",
	 NET_MAGIC,
	 NET_PROBE_REP,
	 0,
	 12,
	 {0},
	 NET_PROBE_REQ,
	 "not expected"},
	{"another request than the one allowed",
	 NET_MAGIC,
	 NET_UPDATE_REQ,
	 0,
	 12,
	 {0},
	 NET_PROBE_REQ,
	 "not expected"},
	{"unknown type 99", NET_MAGIC, 99, 0, 12, {0}, NET_PROBE_REQ, "not expected"},
	{"type 0", NET_MAGIC, 0, 0, 12, {0}, NET_PROBE_REQ, "not expected"},
	{"oversize for its type",
	 NET_MAGIC,
	 NET_PROBE_REQ,
	 128 * 1024 + 1,
	 12,
	 {0},
	 NET_PROBE_REQ,
	 "at most"},
	{"oversize hello", NET_MAGIC, NET_HELLO, 4096, 12, {0}, NET_HELLO, "at most"},
	{"short header packet", NET_MAGIC, NET_PROBE_REQ, 0, 11, {0}, NET_PROBE_REQ, "11 octets"},
	{"long header packet", NET_MAGIC, NET_PROBE_REQ, 0, 13, {0}, NET_PROBE_REQ, "13 octets"},
	{"body cut short (peer gone)",
	 NET_MAGIC,
	 NET_PROBE_REQ,
	 100,
	 12,
	 {50},
	 NET_PROBE_REQ,
	 "a packet of 50"},
	{"body packet longer than the length",
	 NET_MAGIC,
	 NET_PROBE_REQ,
	 10,
	 12,
	 {20},
	 NET_PROBE_REQ,
	 "a packet of 20"},
	{"first chunk shorter than a chunk",
	 NET_MAGIC,
	 NET_PROBE_REQ,
	 40000,
	 12,
	 {1000, 39000},
	 NET_PROBE_REQ,
	 "a packet of 1000"},
	{"no body at all (peer gone)",
	 NET_MAGIC,
	 NET_PROBE_REQ,
	 100,
	 12,
	 {0},
	 NET_PROBE_REQ,
	 "ends after 0 of 100"},
};

static void test_malformed_frames(void)
{
	for (size_t i = 0; i < PF_ELEMENTSOF(frame_cases); i++) {
		const frame_case *c = &frame_cases[i];
		static uint8_t buf[64 * 1024];
		net_buf got = {0};
		pf_err e = {0};
		uint32_t t;
		int sv[2], rc;

		if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0)
			abort();
		memset(buf, 'x', sizeof(buf));
		hdr(buf, c->magic, c->type, c->len);
		send(sv[0], buf, c->hdr_size, 0);
		for (int k = 0; k < 3 && c->body[k]; k++)
			send(sv[0], buf + 100, c->body[k], 0);
		close(sv[0]);
		rc = net_recv(sv[1], &c->allowed, 1, 2000, &t, &got, &e);
		T_CHECK(rc == -EPROTO && strstr(e.msg, c->want) != NULL,
			"malformed frame refused: %s (rc %d: %s)", c->name, rc, e.msg);
		net_buf_free(&got);
		close(sv[1]);
	}
}

/* ---- malformed bodies --------------------------------------------------------------- */

/* A little writer to craft bodies by hand, byte for byte as net_codec.h
 * documents the encoding. */
static void w8(net_buf *b, uint8_t v)
{
	if (b->len + 1 > b->cap) {
		b->cap = b->cap ? b->cap * 2 : 256;
		b->p = pf_realloc(b->p, b->cap);
	}
	b->p[b->len++] = v;
}

static void w16(net_buf *b, uint16_t v)
{
	w8(b, (uint8_t)(v >> 8));
	w8(b, (uint8_t)v);
}

static void w32(net_buf *b, uint32_t v)
{
	w16(b, (uint16_t)(v >> 16));
	w16(b, (uint16_t)v);
}

static void wstr(net_buf *b, const char *s)
{
	w16(b, (uint16_t)strlen(s));
	for (const char *p = s; *p; p++)
		w8(b, (uint8_t)*p);
}

static void wstatus(net_buf *b, uint32_t neg_rc, uint16_t code, uint8_t exit_code)
{
	w32(b, neg_rc);
	w16(b, code);
	w8(b, exit_code);
	wstr(b, "");
}

enum body_kind {
	B_HELLO,
	B_DISC_REQ,
	B_DISC_REP,
	B_UPD_REQ,
	B_UPD_REP,
	B_PROP_REP,
	B_PROBE_REQ,
	B_PROBE_REP
};

/* Decode body b as kind k (replies against a 2-owner, 1-change, 3-server
 * request).  Returns the decoder's code; e its message. */
static int decode(enum body_kind k, const net_buf *b, pf_err *e)
{
	net_status st;
	int rc = -1;

	switch (k) {
	case B_HELLO: {
		net_sep sep;
		rc = net_dec_hello(b, &st, &sep, e);
		break;
	}
	case B_DISC_REQ: {
		pf_config cfg;
		pf_strv o = {0};

		pf_config_init(&cfg);
		rc = net_dec_discover_req(b, &cfg, &o, e);
		pf_config_free(&cfg);
		pf_strv_clear(&o);
		break;
	}
	case B_DISC_REP: {
		dns_zone_info *z = NULL;
		size_t nz = 0, oz[2];
		rc = net_dec_discover_rep(b, 2, &st, &z, &nz, oz, e);
		dns_zones_free(z, nz);
		break;
	}
	case B_UPD_REQ: {
		net_update_req r;
		if ((rc = net_dec_update_req(b, &r, e)) == 0)
			net_update_req_free(&r);
		break;
	}
	case B_UPD_REP: {
		dns_change ch[1] = {0};
		dns_update_result res;
		char *d = NULL, *v = NULL;
		rc = net_dec_update_rep(b, ch, 1, &st, &res, &d, &v, e);
		free(d);
		free(v);
		break;
	}
	case B_PROP_REP: {
		dns_zone_info z;
		dns_prop_want want[1] = {0};
		dns_prop_round rd = {0};

		sample_zone(&z);
		snprintf(want[0].owner, sizeof(want[0].owner), "_25._tcp.mx.example.test.");
		rc = net_dec_prop_rep(b, &z, want, 1, &st, &rd, e);
		dns_prop_round_free(&rd);
		free(z.checks);
		break;
	}
	case B_PROBE_REQ: {
		net_probe_req r;
		if ((rc = net_dec_probe_req(b, &r, e)) == 0)
			net_probe_req_free(&r);
		break;
	}
	case B_PROBE_REP: {
		pf_probe_result res;
		rc = net_dec_probe_rep(b, &st, &res, e);
		break;
	}
	}
	return rc;
}

/* Bodies: a valid one of each kind, then variants that each break one
 * rule.  The mutation is applied by the builder. */
enum mutation {
	M_NONE,
	M_TRUNCATE,
	M_TRAILING,
	M_LIE_COUNT,
	M_HUGE_COUNT,
	M_LIE_STRLEN,
	M_CONTROL_CHAR,
	M_BOOL2,
	M_RANGE,
	M_CONTRADICT,
	M_TSIG_ALG,
	M_TSIG_NAME,
	M_RDATA_LEN,
	M_FAMILY,
	M_PORT0,
	M_TSIG_CASE,
	M_VERDICT_EMPTY,  /* a DNSSEC verdict on an RRset with no record */
	M_VERDICT_REASON, /* a bogus reason with a verdict that is not bogus */
	M_VERDICT_RANGE,
	M_CHAIN_NO_LEAF, /* a presented chain without a leaf digest */
	M_CHAIN_HUGE     /* a presented chain past PF_PROBE_CHAIN_MAX */
};

static void body_probe_rep(net_buf *b, enum mutation m)
{
	wstatus(b, 0, 0, m == M_RANGE ? 9 : 0);
	wstr(b, "127.61.0.25");
	wstr(b, m == M_CONTRADICT ? "not-a-digest" : "");
	w8(b, m == M_TSIG_ALG ? 7 : 0); /* alg + 1 */
	w8(b, m == M_BOOL2 ? 2 : 0);    /* dane_checked */
	w8(b, 0);                       /* dane_ok */
	w8(b, 0);                       /* depth + 1 */
	wstr(b, "");
	wstr(b, ""); /* leaf digest */
	w8(b, 2);    /* chain length */
	/* presented chain: none, three octets, or one past the bound */
	w32(b, m == M_CHAIN_NO_LEAF ? 3 : m == M_CHAIN_HUGE ? PF_PROBE_CHAIN_MAX + 1 : 0);
	if (m == M_CHAIN_NO_LEAF)
		for (int i = 0; i < 3; i++)
			w8(b, 0x30);
}

static void body_probe_req(net_buf *b, enum mutation m)
{
	wstr(b, m == M_CONTROL_CHAR ? "mx\nexample" : "mx.example.test");
	w16(b, 25);
	wstr(b, "mx.example.test");
	w32(b, m == M_LIE_COUNT ? 1000 : 1); /* records */
	w8(b, 3);
	w8(b, 1);
	w8(b, 1);
	w8(b, m == M_RDATA_LEN ? 65 : 32);
	for (int i = 0; i < 32; i++)
		w8(b, (uint8_t)i);
	w8(b, 0); /* want + 1 */
	w32(b, m == M_RANGE ? 0 : 1000);
}

static void body_hello(net_buf *b, enum mutation m)
{
	wstatus(b, m == M_RANGE ? 5000 : 0, 0, 0);
	w32(b, 65534);
	w32(b, 65534);
	w32(b, NET_SEP_UID);
	w32(b, 7);
	w16(b, 0);
}

static void body_disc_req(net_buf *b, enum mutation m)
{
	w8(b, m == M_BOOL2 ? 2 : 1);
	if (m == M_LIE_STRLEN) {
		w16(b, 300); /* longer than a name may be */
		for (int i = 0; i < 300; i++)
			w8(b, 'a');
	} else {
		wstr(b, "example.test");
	}
	w32(b, 0);                           /* dns_update_server */
	w32(b, 0);                           /* dns_resolver */
	w32(b, m == M_HUGE_COUNT ? 257 : 0); /* dns_check_servers */
	w32(b, 0);                           /* extra */
	w32(b, m == M_LIE_COUNT ? 60000 : m == M_HUGE_COUNT ? 70000 : 2);
	wstr(b, "_25._tcp.mx.example.test.");
	wstr(b, "_26._tcp.mx.example.test.");
}

static void target(net_buf *b, enum mutation m)
{
	w8(b, m == M_FAMILY ? 5 : 4);
	w8(b, 127);
	w8(b, 61);
	w8(b, 0);
	w8(b, 1);
	w16(b, m == M_PORT0 ? 0 : 53);
	wstr(b, "ns1.example.test.");
	w8(b, 1);
}

static void body_disc_rep(net_buf *b, enum mutation m)
{
	wstatus(b, 0, 0, 0);
	w32(b, 1); /* zones */
	wstr(b, "example.test.");
	target(b, m);
	w32(b, 1);
	target(b, M_NONE);
	wstr(b, "ns1.example.test.");
	w32(b, 1);
	w32(b, 60);
	w32(b, 30);
	w32(b, m == M_CONTRADICT ? 3 : 2); /* owner zones: must be 2 */
	for (int i = 0; i < (m == M_CONTRADICT ? 3 : 2); i++)
		w32(b, m == M_RANGE && i == 1 ? 1 : 0);
}

static void body_upd_req(net_buf *b, enum mutation m)
{
	wstr(b, "example.test.");
	target(b, M_NONE);
	w32(b, 0);
	wstr(b, "");
	w32(b, 1);
	w32(b, 60);
	w32(b, 30);
	w8(b, 1); /* TSIG: name and algorithm, no secret */
	wstr(b, m == M_TSIG_NAME ? "pftls..key." : m == M_TSIG_CASE ? "PFTLS-key." : "pftls-key.");
	w8(b, m == M_TSIG_ALG ? 9 : DNS_HMAC_SHA256);
	w32(b, 60);
	w8(b, 0);
	w8(b, 0);
	w32(b, 1);
	wstr(b, "_25._tcp.mx.example.test.");
	w8(b, 3);
	w8(b, 1);
	w8(b, 1);
	w8(b, 32);
	for (int i = 0; i < 32; i++)
		w8(b, (uint8_t)i);
	w8(b, m == M_RANGE ? 7 : 0); /* op */
}

static void body_upd_rep(net_buf *b, enum mutation m)
{
	wstatus(b, 0, 0, 0);
	w32(b, m == M_CONTRADICT ? 2 : 1);
	for (int i = 0; i < (m == M_CONTRADICT ? 2 : 1); i++) {
		w8(b, m == M_RANGE ? 4 : DNS_CH_DONE);
		w8(b, 0);
		w32(b, 0);
		w32(b, 60);
		w32(b, 0);
	}
	w32(b, 1); /* messages */
	w32(b, 0); /* t_pub */
	w32(b, 1700000000);
	w32(b, 5); /* serial */
	w8(b, 1);
	w32(b, 60);
	w32(b, 30);
	w32(b, m == M_LIE_STRLEN ? 1000 : 0); /* dry-run text */
	w32(b, 0);
}

static void body_prop_rep(net_buf *b, enum mutation m)
{
	wstatus(b, 0, 0, 0);
	w32(b, 1);                         /* owners */
	w32(b, 1);                         /* wants */
	w32(b, m == M_CONTRADICT ? 2 : 3); /* servers: the zone has 3 */
	for (int s = 0; s < 3; s++) {
		w8(b, m == M_RANGE && s == 1 ? 7 : 0);
		wstr(b, "");
		w8(b, 1);
		w32(b, 10);
		w32(b, 60);
		w32(b, 30);
		w8(b, 1);
		w8(b, 1); /* rrset */
		w32(b, m == M_VERDICT_EMPTY && s == 1 ? 0 : 1);
		w32(b, 5);
		w32(b, 5);
		w8(b, 1);
		w8(b, 0);
		w8(b, m == M_VERDICT_RANGE && s == 2 ? 9 : 1);  /* verdict: validates */
		w8(b, m == M_VERDICT_REASON && s == 0 ? 1 : 0); /* reason */
		w32(b, 0);                                      /* signature expiry, */
		w32(b, 1700086400);                             /* 64 bits */
		wstr(b, "TLSA RRset of x. validates");
		w8(b, 1);                                   /* match */
		w32(b, m == M_LIE_COUNT && s == 2 ? 0 : 1); /* n_match */
		w8(b, 1);
		w8(b, 1); /* complete */
		w32(b, 0);
		w32(b, 100);
	}
	w32(b, 0);
	w32(b, 1700000000);
	w8(b, m == M_BOOL2 ? 0 : 1); /* all_complete: must agree */
	w8(b, 1);
	w32(b, 5);
	w32(b, 60);
	w32(b, 30);
}

typedef struct body_case {
	const char *name;
	enum body_kind kind;
	void (*build)(net_buf *, enum mutation);
	enum mutation m;
	const char *want; /* in the message; NULL: must decode */
} body_case;

static const body_case body_cases[] = {
	{"hello, valid", B_HELLO, body_hello, M_NONE, NULL},
	{"hello, return value out of range", B_HELLO, body_hello, M_RANGE, "out of range"},
	{"hello, truncated", B_HELLO, body_hello, M_TRUNCATE, "truncated"},
	{"hello, trailing octet", B_HELLO, body_hello, M_TRAILING, "left over"},
	{"discover request, valid", B_DISC_REQ, body_disc_req, M_NONE, NULL},
	{"discover request, owner count larger than the body", B_DISC_REQ, body_disc_req,
	 M_LIE_COUNT, "cannot fit"},
	{"discover request, counts above the maximum", B_DISC_REQ, body_disc_req, M_HUGE_COUNT,
	 "at most"},
	{"discover request, name longer than a name", B_DISC_REQ, body_disc_req, M_LIE_STRLEN,
	 "at most 255"},
	{"discover request, boolean 2", B_DISC_REQ, body_disc_req, M_BOOL2, "boolean"},
	{"discover request, truncated", B_DISC_REQ, body_disc_req, M_TRUNCATE, "truncated"},
	{"discover reply, valid", B_DISC_REP, body_disc_rep, M_NONE, NULL},
	{"discover reply, owner zone index out of range", B_DISC_REP, body_disc_rep, M_RANGE,
	 "out of range"},
	{"discover reply, more owner zones than owners asked", B_DISC_REP, body_disc_rep,
	 M_CONTRADICT, "owner zones for"},
	{"discover reply, address family 5", B_DISC_REP, body_disc_rep, M_FAMILY, "address family"},
	{"discover reply, port 0", B_DISC_REP, body_disc_rep, M_PORT0, "port 0"},
	{"discover reply, trailing octet", B_DISC_REP, body_disc_rep, M_TRAILING, "left over"},
	{"update request, valid", B_UPD_REQ, body_upd_req, M_NONE, NULL},
	{"update request, TSIG algorithm 9", B_UPD_REQ, body_upd_req, M_TSIG_ALG, "TSIG algorithm"},
	{"update request, a TSIG key name that is not one", B_UPD_REQ, body_upd_req, M_TSIG_NAME,
	 "not a valid key name"},
	{"update request, a TSIG key name not in canonical form", B_UPD_REQ, body_upd_req,
	 M_TSIG_CASE, "canonical"},
	{"update request, operation 7", B_UPD_REQ, body_upd_req, M_RANGE, "operation"},
	{"update request, truncated", B_UPD_REQ, body_upd_req, M_TRUNCATE, "truncated"},
	{"update reply, valid", B_UPD_REP, body_upd_rep, M_NONE, NULL},
	{"update reply, results for two changes when one was sent", B_UPD_REP, body_upd_rep,
	 M_CONTRADICT, "change results for"},
	{"update reply, change result 4", B_UPD_REP, body_upd_rep, M_RANGE, "change result"},
	{"update reply, text length larger than the body", B_UPD_REP, body_upd_rep, M_LIE_STRLEN,
	 "truncated"},
	{"propagation reply, valid", B_PROP_REP, body_prop_rep, M_NONE, NULL},
	{"propagation reply, two servers for a zone of three", B_PROP_REP, body_prop_rep,
	 M_CONTRADICT, "a round of"},
	{"propagation reply, server state 7", B_PROP_REP, body_prop_rep, M_RANGE, "server state"},
	{"propagation reply, a verdict on an empty RRset", B_PROP_REP, body_prop_rep,
	 M_VERDICT_EMPTY, "a verdict on an empty RRset"},
	{"propagation reply, a bogus reason on a validated RRset", B_PROP_REP, body_prop_rep,
	 M_VERDICT_REASON, "a reason without a bogus verdict"},
	{"propagation reply, verdict 9", B_PROP_REP, body_prop_rep, M_VERDICT_RANGE, "verdict"},
	{"propagation reply, match count that lies", B_PROP_REP, body_prop_rep, M_LIE_COUNT,
	 "matches counted"},
	{"propagation reply, all_complete that lies", B_PROP_REP, body_prop_rep, M_BOOL2,
	 "all_complete"},
	{"propagation reply, truncated", B_PROP_REP, body_prop_rep, M_TRUNCATE, "truncated"},
	{"probe request, valid", B_PROBE_REQ, body_probe_req, M_NONE, NULL},
	{"probe request, control character in the host", B_PROBE_REQ, body_probe_req,
	 M_CONTROL_CHAR, "not allowed"},
	{"probe request, record count larger than the body", B_PROBE_REQ, body_probe_req,
	 M_LIE_COUNT, "cannot fit"},
	{"probe request, TLSA data of 65 octets", B_PROBE_REQ, body_probe_req, M_RDATA_LEN,
	 "TLSA data"},
	{"probe request, timeout 0", B_PROBE_REQ, body_probe_req, M_RANGE, "timeout"},
	{"probe reply, valid", B_PROBE_REP, body_probe_rep, M_NONE, NULL},
	{"probe reply, exit code 9", B_PROBE_REP, body_probe_rep, M_RANGE, "exit code"},
	{"probe reply, SPKI digest not hex", B_PROBE_REP, body_probe_rep, M_CONTRADICT, "SPKI"},
	{"probe reply, key algorithm octet 7", B_PROBE_REP, body_probe_rep, M_TSIG_ALG,
	 "key algorithm"},
	{"probe reply, boolean 2", B_PROBE_REP, body_probe_rep, M_BOOL2, "boolean"},
	{"probe reply, trailing octet", B_PROBE_REP, body_probe_rep, M_TRAILING, "left over"},
	{"probe reply, chain without its leaf", B_PROBE_REP, body_probe_rep, M_CHAIN_NO_LEAF,
	 "without its leaf"},
	{"probe reply, chain past its bound", B_PROBE_REP, body_probe_rep, M_CHAIN_HUGE,
	 "presented chain"},
};

static void test_malformed_bodies(void)
{
	for (size_t i = 0; i < PF_ELEMENTSOF(body_cases); i++) {
		const body_case *c = &body_cases[i];
		net_buf b = {0};
		pf_err e = {0};
		int rc;

		c->build(&b, c->m);
		if (c->m == M_TRUNCATE)
			b.len--;
		if (c->m == M_TRAILING)
			w8(&b, 0);
		rc = decode(c->kind, &b, &e);
		if (!c->want)
			T_CHECK(rc == 0, "crafted body decodes: %s (%s)", c->name, e.msg);
		else
			T_CHECK(rc == -EPROTO && strstr(e.msg, c->want) != NULL,
				"malformed body refused: %s (rc %d: %s)", c->name, rc, e.msg);
		net_buf_free(&b);
	}
}

/* ---- signing messages ------------------------------------------------------------ */

static void test_roundtrip_sign(void)
{
	uint8_t msg[40], sig[90], mac[DNS_TSIG_MAC_MAX], gmac[DNS_TSIG_MAC_MAX];
	const uint8_t *gw = NULL, *gi = NULL, *gm = NULL;
	uint8_t *sw = NULL;
	size_t gl = 0, sl = 0, ml = 0, il = 0, gml = 0;
	net_buf b = {0}, r = {0};
	net_status st = {0}, gst;
	pf_err e = {0};
	bool match = false;

	for (size_t i = 0; i < sizeof(sig); i++) {
		if (i < sizeof(msg))
			msg[i] = (uint8_t)i;
		if (i < sizeof(mac))
			mac[i] = (uint8_t)(0x40 + i);
		sig[i] = (uint8_t)(0x80 + i);
	}
	net_enc_sign_req(&b, msg, sizeof(msg));
	T_CHECK(roundtrip(NET_SIGN_REQ, &b, &r, &e) == 0 &&
			net_dec_sign_req(&r, &gw, &gl, &e) == 0 && gl == sizeof(msg) &&
			memcmp(gw, msg, gl) == 0,
		"sign request: the message survives: %s", e.msg);
	net_buf_free(&b);
	net_buf_free(&r);
	net_enc_sign_req(&b, msg, 11);
	T_CHECK(net_dec_sign_req(&b, &gw, &gl, &e) == -EPROTO && strstr(e.msg, "11 octets"),
		"sign request: 11 octets, shorter than a DNS header, refused: %s", e.msg);
	net_buf_free(&b);

	net_enc_sign_rep(&b, &st, sig, sizeof(sig), mac, 32);
	T_CHECK(roundtrip(NET_SIGN_REP, &b, &r, &e) == 0 &&
			net_dec_sign_rep(&r, sizeof(msg), 32, &gst, &sw, &sl, gmac, &ml, &e) == 0 &&
			gst.rc == 0 && sl == sizeof(sig) && sw && memcmp(sw, sig, sl) == 0 &&
			ml == 32 && memcmp(gmac, mac, 32) == 0,
		"sign reply: the signed message and its MAC survive: %s", e.msg);
	free(sw);
	sw = NULL;
	T_CHECK(net_dec_sign_rep(&r, sizeof(msg), 20, &gst, &sw, &sl, gmac, &ml, &e) == -EPROTO &&
			strstr(e.msg, "MAC of 32") && !sw,
		"sign reply: a MAC of another length than the key's refused: %s", e.msg);
	T_CHECK(net_dec_sign_rep(&r, sizeof(sig), 32, &gst, &sw, &sl, gmac, &ml, &e) == -EPROTO &&
			!sw,
		"sign reply: a signed message no longer than the request refused: %s", e.msg);
	net_buf_free(&b);
	net_buf_free(&r);
	st.rc = pf_err_set(&st.err, EMSGSIZE, "cannot TSIG-sign a DNS message: message too large");
	net_enc_sign_rep(&b, &st, NULL, 0, NULL, 0);
	T_CHECK(net_dec_sign_rep(&b, sizeof(msg), 32, &gst, &sw, &sl, gmac, &ml, &e) == 0 &&
			gst.rc == -EMSGSIZE && strcmp(gst.err.msg, st.err.msg) == 0 && !sw,
		"sign reply: a failure and its message survive: %s", gst.err.msg);
	net_buf_free(&b);
	wstatus(&b, EMSGSIZE, EMSGSIZE, 1);
	w32(&b, sizeof(sig));
	for (size_t i = 0; i < sizeof(sig); i++)
		w8(&b, sig[i]);
	w32(&b, 0);
	T_CHECK(net_dec_sign_rep(&b, sizeof(msg), 32, &gst, &sw, &sl, gmac, &ml, &e) == -EPROTO &&
			strstr(e.msg, "a failure with a signed message") && !sw,
		"sign reply: a failure that carries a signed message refused: %s", e.msg);
	net_buf_free(&b);
	pf_err_clear(&e);
	net_enc_mac_req(&b, msg, sizeof(msg), mac, 32);
	T_CHECK(roundtrip(NET_MAC_REQ, &b, &r, &e) == 0 &&
			net_dec_mac_req(&r, &gi, &il, &gm, &gml, &e) == 0 && il == sizeof(msg) &&
			memcmp(gi, msg, il) == 0 && gml == 32 && memcmp(gm, mac, 32) == 0,
		"MAC check request: the TSIG input and the MAC survive: %s", e.msg);
	net_buf_free(&b);
	net_buf_free(&r);
	net_enc_mac_rep(&b, true);
	T_CHECK(roundtrip(NET_MAC_REP, &b, &r, &e) == 0 && net_dec_mac_rep(&r, &match, &e) == 0 &&
			match,
		"MAC check reply: the verdict survives");
	net_buf_free(&b);
	net_buf_free(&r);
	w8(&b, 2);
	T_CHECK(net_dec_mac_rep(&b, &match, &e) == -EPROTO && strstr(e.msg, "boolean"),
		"MAC check reply: boolean 2 refused: %s", e.msg);
	net_buf_free(&b);
	w32(&b, NET_MAC_INPUT_MAX + 1);
	T_CHECK(net_dec_mac_req(&b, &gi, &il, &gm, &gml, &e) == -EPROTO && strstr(e.msg, "at most"),
		"MAC check request: an input longer than any reply's refused: %s", e.msg);
	net_buf_free(&b);
	w32(&b, 4);
	w32(&b, 0);
	w32(&b, DNS_TSIG_MAC_MAX + 1);
	T_CHECK(net_dec_mac_req(&b, &gi, &il, &gm, &gml, &e) == -EPROTO && strstr(e.msg, "MAC"),
		"MAC check request: a MAC longer than any refused: %s", e.msg);
	net_buf_free(&b);
}

/* ---- the real network process ---------------------------------------------------------- */

/* The value of field name ("Uid:") in /proc/pid/status, into buf. */
static const char *proc_field(pid_t pid, const char *name, char *buf, size_t len)
{
	char path[64], line[512];
	FILE *f;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (!(f = fopen(path, "r")))
		return buf;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, name, strlen(name)) == 0) {
			char *v = line + strlen(name);
			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = '\0';
			snprintf(buf, len, "%s", v);
		}
	fclose(f);
	return buf;
}

/* The user and group the network process should run as. */
static void expected_ids(uid_t *uid, gid_t *gid)
{
	struct passwd *pw = getpwnam(NETPROC_USER);
	struct group *gr;

	*uid = (uid_t)-2;
	*gid = (gid_t)-2;
	if (pw) {
		*uid = pw->pw_uid;
		*gid = pw->pw_gid;
	} else if ((pw = getpwnam(NETPROC_FALLBACK_USER))) {
		*uid = pw->pw_uid;
		gr = getgrnam(NETPROC_FALLBACK_GROUP);
		*gid = gr ? gr->gr_gid : pw->pw_gid;
	}
}

/* "0->/dev/null ..." for every open descriptor of pid: true when they are
 * /dev/null on 0-2 and one socket on 3, nothing else.  Descriptors at or
 * above our descriptor limit are not the program's (valgrind keeps its own
 * there, out of the program's reach). */
static bool only_socket_open(pid_t pid, char *seen, size_t len)
{
	char dir[64], path[400], target[256];
	struct dirent *d;
	DIR *dp;
	bool good = true;
	size_t off = 0;
	int count = 0;

	struct rlimit lim;

	getrlimit(RLIMIT_NOFILE, &lim);
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	if (!(dp = opendir(dir)))
		return false;
	seen[0] = '\0';
	while ((d = readdir(dp))) {
		ssize_t n;
		int fd;

		if (d->d_name[0] == '.')
			continue;
		fd = atoi(d->d_name);
		if ((rlim_t)fd >= lim.rlim_cur)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		if (off < len)
			off += (size_t)snprintf(seen + off, len - off, "%d->%s ", fd, target);
		count++;
		if (fd <= 2)
			good &= strcmp(target, "/dev/null") == 0;
		else if (fd == 3)
			good &= strncmp(target, "socket:", 7) == 0;
		else
			good = false;
	}
	closedir(dp);
	return good && count == 4;
}

static void make_key_file(const char *dir, char *keypath, size_t len, EVP_PKEY **ret_key,
			  X509 **ret_cert)
{
	pf_keyspec spec = {PF_ALG_ECDSA, 0, "secp256r1"};
	pf_strv names = {0};
	pf_err e = {0};

	snprintf(keypath, len, "%s/eckey.pem", dir);
	pf_strv_push(&names, "mx.example.test");
	if (keystore_generate(&spec, ret_key, &e) < 0 ||
	    keystore_write_key(keypath, *ret_key, &e) < 0 ||
	    keystore_self_signed(*ret_key, &names, ret_cert, &e) < 0) {
		fprintf(stderr, "cannot make a key: %s\n", e.msg);
		abort();
	}
	pf_strv_clear(&names);
}

/* A one-connection STARTTLS server on TEST_ADDR; returns its pid, *port. */
static pid_t smtp_server(EVP_PKEY *key, X509 *cert, uint16_t *port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sin);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pid_t pid;

	inet_pton(AF_INET, TEST_ADDR, &sin.sin_addr);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(lfd, 1) < 0)
		return -1;
	getsockname(lfd, (struct sockaddr *)&sin, &sl);
	*port = ntohs(sin.sin_port);
	pid = fork();
	if (pid == 0) {
		char line[512];
		int fd;
		FILE *f;

		alarm(10);
		if ((fd = accept(lfd, NULL, NULL)) < 0)
			_exit(1);
		f = fdopen(dup(fd), "r");
		(void)!write(fd, "220 test ESMTP\r\n", 16);
		if (!fgets(line, sizeof(line), f))
			_exit(1);
		(void)!write(fd, "250-test\r\n250 STARTTLS\r\n", 24);
		if (!fgets(line, sizeof(line), f))
			_exit(1);
		(void)!write(fd, "220 go ahead\r\n", 14);
		SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
		SSL_CTX_use_certificate(ctx, cert);
		SSL_CTX_use_PrivateKey(ctx, key);
		SSL *ssl = SSL_new(ctx);
		SSL_set_fd(ssl, fd);
		SSL_accept(ssl);
		SSL_shutdown(ssl);
		_exit(0);
	}
	close(lfd);
	return pid;
}

static void test_real_netproc(const char *tmp)
{
	char buf[256], seen[512], keypath[300];
	pf_err e = {0};
	uid_t want_uid;
	gid_t want_gid;
	pid_t pid;
	int fd, rc;

	expected_ids(&want_uid, &want_gid);
	rc = netproc_spawn(&fd, &pid, NULL, &e);
	T_CHECK(rc == 0 && pid > 0, "as root, the network process starts: %s", e.msg);
	if (rc != 0)
		return;
	char uids[64];
	snprintf(uids, sizeof(uids), "%u\t%u\t%u\t%u", (unsigned)want_uid, (unsigned)want_uid,
		 (unsigned)want_uid, (unsigned)want_uid);
	T_STREQ(proc_field(pid, "Uid:", buf, sizeof(buf)), uids,
		"its real, effective, saved and file uid are %s's (%s)", NETPROC_FALLBACK_USER,
		buf);
	snprintf(uids, sizeof(uids), "%u\t%u\t%u\t%u", (unsigned)want_gid, (unsigned)want_gid,
		 (unsigned)want_gid, (unsigned)want_gid);
	T_STREQ(proc_field(pid, "Gid:", buf, sizeof(buf)), uids,
		"its real, effective, saved and file gid are %s's (%s)", NETPROC_FALLBACK_GROUP,
		buf);
	T_STREQ(proc_field(pid, "Groups:", buf, sizeof(buf)), "", "it has no supplementary groups");
	T_STREQ(proc_field(pid, "CapEff:", buf, sizeof(buf)), "0000000000000000",
		"no effective capability");
	T_STREQ(proc_field(pid, "CapPrm:", buf, sizeof(buf)), "0000000000000000",
		"no permitted capability");
	T_STREQ(proc_field(pid, "CapBnd:", buf, sizeof(buf)), "0000000000000000",
		"an empty bounding set");
	T_STREQ(proc_field(pid, "NoNewPrivs:", buf, sizeof(buf)), "1", "no_new_privs is set");
	T_STREQ(proc_field(pid, "Name:", buf, sizeof(buf)), NETPROC_COMM, "it is named %s",
		NETPROC_COMM);
	/* A process that is not dumpable has its /proc files owned by root. */
	struct stat st;
	snprintf(buf, sizeof(buf), "/proc/%d/environ", (int)pid);
	T_CHECK(stat(buf, &st) == 0 && st.st_uid == 0 && want_uid != 0,
		"it is not dumpable (/proc/PID/environ owned by root, not uid %u)",
		(unsigned)want_uid);
	T_CHECK(only_socket_open(pid, seen, sizeof(seen)),
		"its only descriptors are /dev/null on 0-2 and its socket on 3: %s", seen);

	/* A real exchange: a STARTTLS probe through it. */
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	pf_pubkey pk;
	pf_tlsa_rdata rd;
	pf_tlsa_param p = {3, 1, 1};
	pf_probe_result res;
	pf_hostport ep = {TEST_ADDR, 0};
	pid_t spid;

	make_key_file(tmp, keypath, sizeof(keypath), &key, &cert);
	keystore_pubkey_of_key(key, &pk, &e);
	tlsa_compute(&p, pk.spki, pk.spki_len, NULL, 0, &rd, &e);
	pf_net *net = net_adopt(fd, pid);
	spid = smtp_server(key, cert, &ep.port);
	memset(&res, 0, sizeof(res));
	rc = net_probe(net, &ep, "mx.example.test", &rd, 1, PF_PROBE_ECDSA, 5000, &res, &e);
	T_CHECK(rc == 0 && res.dane_ok && strcmp(res.spki_sha256, pk.spki_sha256) == 0 &&
			net_pid(net) == pid,
		"a STARTTLS probe through the network process sees the key and DANE-validates "
		"(rc %d: %s)",
		rc, e.msg);
	waitpid(spid, NULL, 0);

	/* A failure travels back with its message: nothing listens here. */
	pf_err_clear(&e);
	ep.port = 1;
	rc = net_probe(net, &ep, "mx.example.test", &rd, 1, PF_PROBE_ECDSA, 2000, &res, &e);
	T_CHECK(rc < 0 && rc != -EPROTO && strstr(e.msg, TEST_ADDR) && net_pid(net) == pid,
		"a failed probe comes back as the probe's own error (rc %d: %s)", rc, e.msg);

	/* The key file is root's, 0600: a process with the network process's
	 * credentials cannot open it. */
	pid_t c = fork();
	if (c == 0) {
		uid_t u;
		gid_t g;
		pf_err e2 = {0};

		if (netproc_drop_privileges(&u, &g, &e2) < 0)
			_exit(3);
		int kfd = open(keypath, O_RDONLY);
		_exit(kfd >= 0 ? 0 : errno == EACCES ? 1 : 2);
	}
	int status = 0;
	waitpid(c, &status, 0);
	T_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1,
		"after netproc_drop_privileges, opening the 0600 key file fails with EACCES "
		"(exit %d)",
		WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	T_CHECK(access(keypath, R_OK) == 0, "while root can read it (the test is not vacuous)");

	/* A malformed request ends the network process. */
	int sv[2];
	pid_t p2;
	uint8_t h[12];

	rc = netproc_spawn(&sv[0], &p2, NULL, &e);
	hdr(h, NET_MAGIC, NET_PROBE_REP, 0); /* a reply is not a request */
	send(sv[0], h, sizeof(h), MSG_NOSIGNAL);
	status = 0;
	waitpid(p2, &status, 0);
	T_CHECK(rc == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 2,
		"a message of a type it does not take ends the network process (exit %d)",
		WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	close(sv[0]);

	rc = netproc_spawn(&sv[0], &p2, NULL, &e);
	hdr(h, NET_MAGIC, NET_PROBE_REQ, 5);
	send(sv[0], h, sizeof(h), MSG_NOSIGNAL);
	send(sv[0], "\0\0\0\0\0", 5, MSG_NOSIGNAL);
	status = 0;
	waitpid(p2, &status, 0);
	T_CHECK(rc == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 2,
		"a request that does not decode ends the network process (exit %d)",
		WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	close(sv[0]);

	/* End of file: it exits cleanly. */
	net = net_free(net);
	T_CHECK(kill(pid, 0) < 0 && errno == ESRCH, "net_free: the network process is gone");
	EVP_PKEY_free(key);
	X509_free(cert);
	pf_pubkey_free(&pk);
}

/* ---- the privileged side against a scripted peer ---------------------------------------- */

enum peer_act { P_WRONG_TYPE, P_BAD_BODY, P_EXIT, P_OVERSIZE, P_SIGN };

/* Play the network process's part on fd: read one request, answer badly. */
static void peer(int fd, enum peer_act a)
{
	static const uint32_t any[] = {NET_DISCOVER_REQ, NET_UPDATE_REQ, NET_PROP_REQ,
				       NET_PROBE_REQ};
	net_buf in = {0}, out = {0};
	uint32_t t;
	pf_err e;
	uint8_t h[12];

	if (net_recv(fd, any, 4, 5000, &t, &in, &e) < 0)
		_exit(1);
	switch (a) {
	case P_WRONG_TYPE: /* a request back, not the reply */
		net_send(fd, NET_DISCOVER_REQ, NULL);
		break;
	case P_BAD_BODY:
		w8(&out, 0);
		net_send(fd, t + 1, &out);
		break;
	case P_OVERSIZE:
		hdr(h, NET_MAGIC, t + 1, 64 * 1024 * 1024);
		send(fd, h, sizeof(h), MSG_NOSIGNAL);
		break;
	case P_SIGN: /* a signature asked for where no update is worked on */
		w32(&out, 12);
		for (int i = 0; i < 12; i++)
			w8(&out, 0);
		net_send(fd, NET_SIGN_REQ, &out);
		break;
	case P_EXIT:
		_exit(0);
	}
	sleep(5); /* until killed, or the test's end */
	_exit(0);
}

static void test_scripted_peer(void)
{
	static const struct {
		enum peer_act act;
		const char *name;
		int want_rc;
		const char *want;
	} cases[] = {
		{P_WRONG_TYPE, "a request where the reply belongs", -EPROTO, "not expected"},
		{P_BAD_BODY, "a reply that does not decode", -EPROTO, "malformed probe reply"},
		{P_OVERSIZE, "a reply longer than its type allows", -EPROTO, "at most"},
		{P_EXIT, "a peer that closes without answering", -ECONNRESET, "ended during"},
		{P_SIGN, "a sign request outside an update", -EPROTO,
		 "(sign request) not expected"},
	};
	pf_hostport ep = {TEST_ADDR, 1};
	pf_probe_result res;
	pf_net *net = NULL;

	for (size_t i = 0; i < PF_ELEMENTSOF(cases); i++) {
		int sv[2], status = 0, rc;
		pf_err e = {0};
		pid_t pid;

		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
			abort();
		pid = fork();
		if (pid == 0) {
			close(sv[0]);
			peer(sv[1], cases[i].act);
		}
		close(sv[1]);
		net_free(net);
		net = net_adopt(sv[0], pid);
		rc = net_probe(net, &ep, NULL, NULL, 0, PF_PROBE_ANY, 1000, &res, &e);
		T_CHECK(rc == cases[i].want_rc && strstr(e.msg, cases[i].want) != NULL,
			"privileged side refuses %s (rc %d: %s)", cases[i].name, rc, e.msg);
		T_CHECK(net_pid(net) == -1 && waitpid(pid, &status, WNOHANG) < 0 && errno == ECHILD,
			"and the peer is killed and reaped (%s)", cases[i].name);
	}
	/* The next call forks a fresh, real network process. */
	if (geteuid() == 0) {
		pf_err e = {0};
		int rc = net_probe(net, &ep, NULL, NULL, 0, PF_PROBE_ANY, 1000, &res, &e);

		T_CHECK(rc < 0 && rc != -EPROTO && rc != -ECONNRESET && net_pid(net) > 0,
			"after a broken exchange the next call gets a new network process "
			"(rc %d: %s)",
			rc, e.msg);
	}
	net = net_free(net);
}

/* ---- what the privileged side signs (net_sign.h) ------------------------------------ */

#define SIGN_ZONE "example.test."
#define SIGN_OWNER "_25._tcp.mx.example.test."
#define SIGN_OWNER2 "_587._tcp.mx.example.test."

/* An update's changes: add and delete at one name, add at another. */
static void sign_changes(dns_change ch[3])
{
	memset(ch, 0, 3 * sizeof(*ch));
	snprintf(ch[0].owner, sizeof(ch[0].owner), "%s", SIGN_OWNER);
	rdata(&ch[0].rd, 1, 1, 0x10);
	ch[0].op = DNS_OP_ADD;
	snprintf(ch[1].owner, sizeof(ch[1].owner), "%s", SIGN_OWNER);
	rdata(&ch[1].rd, 1, 1, 0x20);
	ch[1].op = DNS_OP_DELETE;
	snprintf(ch[2].owner, sizeof(ch[2].owner), "%s", SIGN_OWNER2);
	rdata(&ch[2].rd, 1, 2, 0x30);
	ch[2].op = DNS_OP_ADD;
}

/* A TLSA record (no rdata when rd is NULL), as dns_update.c makes them. */
static ldns_rr *w_tlsa(const char *owner, ldns_rr_class cls, ldns_rr_type type, uint32_t ttl,
		       const pf_tlsa_rdata *rd)
{
	ldns_rr *rr = ldns_rr_new();

	ldns_rr_set_owner(rr, ldns_dname_new_frm_str(owner));
	ldns_rr_set_type(rr, type);
	ldns_rr_set_class(rr, cls);
	ldns_rr_set_ttl(rr, ttl);
	if (rd) {
		ldns_rr_push_rdf(rr,
				 ldns_native2rdf_int8(LDNS_RDF_TYPE_CERTIFICATE_USAGE, rd->usage));
		ldns_rr_push_rdf(rr, ldns_native2rdf_int8(LDNS_RDF_TYPE_SELECTOR, rd->selector));
		ldns_rr_push_rdf(rr, ldns_native2rdf_int8(LDNS_RDF_TYPE_MATCHING_TYPE, rd->mtype));
		ldns_rr_push_rdf(rr, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_HEX, rd->len, rd->data));
	}
	return rr;
}

static ldns_pkt *w_update(const char *zone)
{
	ldns_pkt *p = ldns_pkt_new();
	ldns_rr *q = ldns_rr_new();

	ldns_pkt_set_opcode(p, LDNS_PACKET_UPDATE);
	ldns_pkt_set_id(p, 0x2345);
	ldns_rr_set_question(q, true);
	ldns_rr_set_owner(q, ldns_dname_new_frm_str(zone));
	ldns_rr_set_type(q, LDNS_RR_TYPE_SOA);
	ldns_rr_set_class(q, LDNS_RR_CLASS_IN);
	ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, q);
	return p;
}

/* p rendered (p is freed); *len its length. */
static uint8_t *w_render(ldns_pkt *p, size_t *len)
{
	uint8_t *w = NULL, *copy;

	if (!p || ldns_pkt2wire(&w, p, len) != LDNS_STATUS_OK)
		abort();
	ldns_pkt_free(p);
	copy = pf_malloc(*len + 1);
	memcpy(copy, w, *len);
	free(w);
	return copy;
}

enum sign_kind {
	SK_SOA,
	SK_TLSA,
	SK_TLSA_CASE,
	SK_ADD,
	SK_ADD_DEL,
	SK_Q_NAME,
	SK_Q_A,
	SK_Q_ZONE,
	SK_Q_SOA_OWNER,
	SK_Q_ANSWER,
	SK_Q_ADDITIONAL,
	SK_Q_TWO,
	SK_Q_CHAOS,
	SK_NOTIFY,
	SK_QR,
	SK_TRAILING,
	SK_SIGNED,
	SK_SHORT,
	SK_ADD_OTHER,
	SK_DEL_OF_ADD,
	SK_ADD_OF_DEL,
	SK_DEL_RRSET,
	SK_DEL_NAME,
	SK_ADD_A,
	SK_ZONE,
	SK_PRE_NAME,
	SK_PRE_A,
	SK_PRE_TTL,
	SK_NOTHING,
};

static uint8_t *sign_wire(enum sign_kind k, const dns_change *ch, const dns_tsig_key *key,
			  size_t *len)
{
	ldns_pkt *p = NULL;
	pf_tlsa_rdata other;
	uint8_t *w;

	rdata(&other, 1, 1, 0x55);
	switch (k) {
	case SK_SOA:
	case SK_TRAILING:
	case SK_SIGNED:
	case SK_SHORT:
	case SK_NOTIFY:
	case SK_QR:
	case SK_Q_ANSWER:
	case SK_Q_ADDITIONAL:
	case SK_Q_TWO:
		p = dns_query_pkt(SIGN_ZONE, LDNS_RR_TYPE_SOA, false, true);
		break;
	case SK_TLSA:
		p = dns_query_pkt(SIGN_OWNER2, LDNS_RR_TYPE_TLSA, false, true);
		break;
	case SK_TLSA_CASE:
		p = dns_query_pkt("_25._TCP.Mx.Example.TEST.", LDNS_RR_TYPE_TLSA, false, true);
		break;
	case SK_Q_NAME:
		p = dns_query_pkt("_25._tcp.www.example.test.", LDNS_RR_TYPE_TLSA, false, true);
		break;
	case SK_Q_A:
		p = dns_query_pkt(SIGN_ZONE, LDNS_RR_TYPE_A, false, true);
		break;
	case SK_Q_ZONE:
		p = dns_query_pkt("example.org.", LDNS_RR_TYPE_SOA, false, true);
		break;
	case SK_Q_SOA_OWNER:
		p = dns_query_pkt(SIGN_OWNER, LDNS_RR_TYPE_SOA, false, true);
		break;
	case SK_Q_CHAOS:
		ldns_pkt_query_new_frm_str(&p, SIGN_ZONE, LDNS_RR_TYPE_SOA, LDNS_RR_CLASS_CH, 0);
		break;
	default:
		p = w_update(k == SK_ZONE ? "example.org." : SIGN_ZONE);
		break;
	}
	switch (k) {
	case SK_ADD:
	case SK_ZONE:
		ldns_pkt_push_rr(
			p, LDNS_SECTION_ANSWER,
			w_tlsa(SIGN_OWNER2, LDNS_RR_CLASS_NONE, LDNS_RR_TYPE_TLSA, 0, NULL));
		ldns_pkt_push_rr(
			p, LDNS_SECTION_AUTHORITY,
			w_tlsa(SIGN_OWNER2, LDNS_RR_CLASS_IN, LDNS_RR_TYPE_TLSA, 300, &ch[2].rd));
		break;
	case SK_ADD_DEL:
		ldns_pkt_push_rr(
			p, LDNS_SECTION_ANSWER,
			w_tlsa(SIGN_OWNER, LDNS_RR_CLASS_IN, LDNS_RR_TYPE_TLSA, 0, &ch[1].rd));
		ldns_pkt_push_rr(
			p, LDNS_SECTION_AUTHORITY,
			w_tlsa(SIGN_OWNER, LDNS_RR_CLASS_IN, LDNS_RR_TYPE_TLSA, 3600, &ch[0].rd));
		ldns_pkt_push_rr(
			p, LDNS_SECTION_AUTHORITY,
			w_tlsa(SIGN_OWNER, LDNS_RR_CLASS_NONE, LDNS_RR_TYPE_TLSA, 0, &ch[1].rd));
		break;
	case SK_ADD_OTHER:
		ldns_pkt_push_rr(
			p, LDNS_SECTION_AUTHORITY,
			w_tlsa(SIGN_OWNER, LDNS_RR_CLASS_IN, LDNS_RR_TYPE_TLSA, 300, &other));
		break;
	case SK_DEL_OF_ADD:
		ldns_pkt_push_rr(
			p, LDNS_SECTION_AUTHORITY,
			w_tlsa(SIGN_OWNER, LDNS_RR_CLASS_NONE, LDNS_RR_TYPE_TLSA, 0, &ch[0].rd));
		break;
	case SK_ADD_OF_DEL:
		ldns_pkt_push_rr(
			p, LDNS_SECTION_AUTHORITY,
			w_tlsa(SIGN_OWNER, LDNS_RR_CLASS_IN, LDNS_RR_TYPE_TLSA, 300, &ch[1].rd));
		break;
	case SK_DEL_RRSET:
		ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY,
				 w_tlsa(SIGN_OWNER, LDNS_RR_CLASS_ANY, LDNS_RR_TYPE_TLSA, 0, NULL));
		break;
	case SK_DEL_NAME:
		ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY,
				 w_tlsa(SIGN_OWNER, LDNS_RR_CLASS_ANY, LDNS_RR_TYPE_ANY, 0, NULL));
		break;
	case SK_ADD_A: {
		ldns_rr *a = NULL;

		ldns_rr_new_frm_str(&a, "mx.example.test. 300 IN A 192.0.2.1", 0, NULL, NULL);
		ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY, a);
		break;
	}
	case SK_PRE_NAME:
	case SK_PRE_A:
	case SK_PRE_TTL:
		ldns_pkt_push_rr(
			p, LDNS_SECTION_ANSWER,
			w_tlsa(k == SK_PRE_NAME ? "_25._tcp.www.example.test." : SIGN_OWNER2,
			       LDNS_RR_CLASS_NONE,
			       k == SK_PRE_A ? LDNS_RR_TYPE_A : LDNS_RR_TYPE_TLSA,
			       k == SK_PRE_TTL ? 60 : 0, NULL));
		ldns_pkt_push_rr(
			p, LDNS_SECTION_AUTHORITY,
			w_tlsa(SIGN_OWNER2, LDNS_RR_CLASS_IN, LDNS_RR_TYPE_TLSA, 300, &ch[2].rd));
		break;
	case SK_NOTHING:
		ldns_pkt_push_rr(
			p, LDNS_SECTION_ANSWER,
			w_tlsa(SIGN_OWNER2, LDNS_RR_CLASS_NONE, LDNS_RR_TYPE_TLSA, 0, NULL));
		break;
	case SK_NOTIFY:
		ldns_pkt_set_opcode(p, LDNS_PACKET_NOTIFY);
		break;
	case SK_QR:
		ldns_pkt_set_qr(p, true);
		break;
	case SK_Q_ANSWER:
		ldns_pkt_push_rr(
			p, LDNS_SECTION_ANSWER,
			w_tlsa(SIGN_OWNER, LDNS_RR_CLASS_IN, LDNS_RR_TYPE_TLSA, 300, &ch[0].rd));
		break;
	case SK_Q_ADDITIONAL: {
		ldns_rr *a = NULL;

		ldns_rr_new_frm_str(&a, "mx.example.test. 300 IN A 192.0.2.1", 0, NULL, NULL);
		ldns_pkt_push_rr(p, LDNS_SECTION_ADDITIONAL, a);
		break;
	}
	case SK_Q_TWO: {
		ldns_rr *q = ldns_rr_new();

		ldns_rr_set_question(q, true);
		ldns_rr_set_owner(q, ldns_dname_new_frm_str(SIGN_OWNER));
		ldns_rr_set_type(q, LDNS_RR_TYPE_TLSA);
		ldns_rr_set_class(q, LDNS_RR_CLASS_IN);
		ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, q);
		break;
	}
	default:
		break;
	}
	w = w_render(p, len);
	if (k == SK_TRAILING)
		w[(*len)++] = 0;
	if (k == SK_SHORT)
		*len = 11;
	if (k == SK_SIGNED) {
		uint8_t mac[DNS_TSIG_MAC_MAX];
		size_t ml;

		dns_tsig_sign(key, &w, len, pf_now(), NULL, 0, 0, NULL, 0, mac, &ml);
	}
	return w;
}

static const struct sign_case {
	const char *name;
	enum sign_kind kind;
	const char *want; /* in the refusal; NULL: signed */
} sign_cases[] = {
	{"a query for the zone's SOA", SK_SOA, NULL},
	{"a query for an update name's TLSA RRset", SK_TLSA, NULL},
	{"the same, the name in other letter case", SK_TLSA_CASE, NULL},
	{"an add with \"RRset does not exist\"", SK_ADD, NULL},
	{"an add and a delete with a value-dependent prerequisite", SK_ADD_DEL, NULL},
	{"a query for another name's TLSA RRset", SK_Q_NAME, "a query for _25._tcp.www"},
	{"a query for the zone's A RRset", SK_Q_A, "a query for example.test."},
	{"a query for another zone's SOA", SK_Q_ZONE, "a query for example.org."},
	{"a query for SOA at an update name", SK_Q_SOA_OWNER, "a query for _25._tcp.mx"},
	{"a query with a record in its answer section", SK_Q_ANSWER, "records in it"},
	{"a query with an additional record", SK_Q_ADDITIONAL, "additional records"},
	{"a query with two questions", SK_Q_TWO, "2 questions"},
	{"a query of class CH", SK_Q_CHAOS, "class 3"},
	{"a NOTIFY", SK_NOTIFY, "opcode 4"},
	{"a response (QR set)", SK_QR, "not a request"},
	{"a query with an octet after its last record", SK_TRAILING, "malformed"},
	{"a query already signed", SK_SIGNED, "already signed"},
	{"11 octets", SK_SHORT, "11 octets"},
	{"an add of a record that is not the update's", SK_ADD_OTHER, "the change _25._tcp.mx"},
	{"a delete of a record the update adds", SK_DEL_OF_ADD, "the change _25._tcp.mx"},
	{"an add of a record the update deletes", SK_ADD_OF_DEL, "the change _25._tcp.mx"},
	{"a delete of the whole TLSA RRset", SK_DEL_RRSET, "(class 255)"},
	{"a delete of every RRset at a name", SK_DEL_NAME, "(class 255)"},
	{"an add of an A record", SK_ADD_A, "IN A 192.0.2.1"},
	{"an update of another zone", SK_ZONE, "an update of example.org."},
	{"a prerequisite at another name", SK_PRE_NAME, "prerequisite _25._tcp.www"},
	{"a prerequisite on an A RRset", SK_PRE_A, "prerequisite"},
	{"a prerequisite with a TTL", SK_PRE_TTL, "prerequisite"},
	{"an update with nothing to change", SK_NOTHING, "changes nothing"},
};

static void test_signer_whitelist(void)
{
	static const unsigned char secret[32] = "abcdefghijklmnopqrstuvwxyz012345";
	dns_tsig_key *key = NULL;
	dns_change ch[3];
	net_signer sg;
	pf_err e = {0};

	sign_changes(ch);
	dns_tsig_key_new("pftls-key", DNS_HMAC_SHA256, secret, sizeof(secret), &key, &e);
	T_CHECK(net_signer_init(&sg, key, "Example.Test", ch, 3, &e) == 0 && sg.n_owners == 2 &&
			sg.n_records == 3,
		"the signer for an update of 3 records at 2 names: %s", e.msg);
	for (size_t i = 0; i < PF_ELEMENTSOF(sign_cases); i++) {
		const struct sign_case *c = &sign_cases[i];
		size_t len = 0, ol = 0, ml = 0, at = 0;
		uint8_t *w = sign_wire(c->kind, ch, key, &len), *out = NULL, mac[DNS_TSIG_MAC_MAX];
		dns_tsig_info info;
		int rc;

		pf_err_clear(&e);
		rc = net_signer_sign(&sg, w, len, &out, &ol, mac, &ml, &e);
		if (!c->want) {
			bool same = ol > len && dns_tsig_find(out, ol, &at) == 1 && at == len &&
				    memcmp(out, w, 10) == 0 &&
				    memcmp(out + 12, w + 12, len - 12) == 0;
			T_CHECK(rc == 0 && same && ml == 32 &&
					dns_tsig_verify(key, out, ol, NULL, 0, pf_now(), &info) ==
						DNS_TSIG_OK,
				"signed: %s (the request itself, then a TSIG that verifies: rc %d "
				"%s)",
				c->name, rc, e.msg);
		} else {
			T_CHECK(rc == -EPERM && !out && strstr(e.msg, "asked to sign") &&
					strstr(e.msg, c->want),
				"refused: %s (rc %d: %s)", c->name, rc, e.msg);
		}
		free(w);
		free(out);
	}
	net_signer_free(&sg);

	/* An UPDATE as large as one gets (760 names, a record added at each
	 * with "RRset does not exist": 64 KB), checked and signed in a moment:
	 * rollover_many's 1,000 names take two of them. */
	size_t n = 760, len = 0, ol = 0, ml = 0;
	dns_change *many = pf_calloc(n, sizeof(*many));
	ldns_pkt *p = w_update(SIGN_ZONE);
	for (size_t i = 0; i < n; i++) {
		snprintf(many[i].owner, sizeof(many[i].owner), "_25._tcp.host%zu.example.test.", i);
		rdata(&many[i].rd, 1, 1, (uint8_t)i);
		ldns_pkt_push_rr(
			p, LDNS_SECTION_ANSWER,
			w_tlsa(many[i].owner, LDNS_RR_CLASS_NONE, LDNS_RR_TYPE_TLSA, 0, NULL));
		ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY,
				 w_tlsa(many[i].owner, LDNS_RR_CLASS_IN, LDNS_RR_TYPE_TLSA, 60,
					&many[i].rd));
	}
	uint8_t *w = w_render(p, &len), *out = NULL, mac[DNS_TSIG_MAC_MAX];
	uint64_t t0 = pf_mono_usec();
	pf_err_clear(&e);
	int rc = net_signer_init(&sg, key, SIGN_ZONE, many, n, &e);
	if (rc == 0)
		rc = net_signer_sign(&sg, w, len, &out, &ol, mac, &ml, &e);
	double ms = (double)(pf_mono_usec() - t0) / 1000.0;
	/* valgrind (make check-valgrind) runs code some 50 times slower. */
	const char *wrapper = getenv("PFTLS_TEST_WRAPPER");
	double limit = wrapper && strstr(wrapper, "valgrind") ? 50000 : 1000;
	T_CHECK(rc == 0 && ol > len && ol <= 65535 && ms < limit,
		"an UPDATE of %zu records (%zu octets) checked and signed in %.1f ms (at most "
		"%.0f): "
		"%s",
		n, len, ms, limit, e.msg);
	free(out);
	out = NULL;
	/* One record in it that is not the update's, the last: refused. */
	many[n - 1].rd.data[0] ^= 0xff;
	net_signer_free(&sg);
	net_signer_init(&sg, key, SIGN_ZONE, many, n, &e);
	T_CHECK(net_signer_sign(&sg, w, len, &out, &ol, mac, &ml, &e) == -EPERM &&
			strstr(e.msg, "host759"),
		"the same UPDATE when its last record is not the update's: refused (%.200s)",
		e.msg);
	free(out);
	free(w);
	free(many);
	net_signer_free(&sg);

	/* MAC checks: yes for the MAC, no for a shortened one. */
	uint8_t in[64], good[DNS_TSIG_MAC_MAX];
	size_t gl = 0;
	uint8_t *signed_in = NULL;
	memset(in, 0x33, sizeof(in));
	sign_changes(ch);
	net_signer_init(&sg, key, SIGN_ZONE, ch, 3, &e);
	/* The MAC of a real signature: sign a query and take the TSIG input
	 * dns_tsig would compute, by checking it through a signer. */
	w = sign_wire(SK_SOA, ch, key, &len);
	net_signer_sign(&sg, w, len, &signed_in, &gl, good, &ml, &e);
	T_CHECK(!net_signer_check(&sg, in, sizeof(in), good, ml) &&
			!net_signer_check(&sg, in, sizeof(in), good, 1),
		"MAC check: no for a MAC that is not the input's, at full length or one octet");
	free(w);
	free(signed_in);
	net_signer_free(&sg);
	dns_tsig_key_free(key);
}

/* ---- an update's signatures through the socket ----------------------------------------- */

enum sign_peer_act { SP_HONEST, SP_FORBIDDEN };

/* Play the network process during an update: report on out whether the
 * request held the secret, ask for a signature and a MAC check, answer. */
static void sign_peer(int fd, int out, enum sign_peer_act a, const unsigned char *secret,
		      size_t secret_len)
{
	static const uint32_t upd[] = {NET_UPDATE_REQ}, srep[] = {NET_SIGN_REP},
			      mrep[] = {NET_MAC_REP};
	net_buf in = {0}, b = {0};
	net_update_req req;
	net_status st = {0}, gst;
	uint8_t *sw = NULL, mac[DNS_TSIG_MAC_MAX];
	size_t len = 0, sl = 0, ml = 0;
	uint32_t t;
	bool match = true;
	pf_err e;
	uint8_t leak;

	if (net_recv(fd, upd, 1, 5000, &t, &in, &e) < 0 || net_dec_update_req(&in, &req, &e) < 0)
		_exit(1);
	leak = memmem(in.p, in.len, secret, secret_len) != NULL || !req.tsig || req.tsig->secret;
	(void)!write(out, &leak, 1);
	uint8_t *w = w_render(dns_query_pkt(a == SP_FORBIDDEN ? "www.example.test." : SIGN_ZONE,
					    a == SP_FORBIDDEN ? LDNS_RR_TYPE_A : LDNS_RR_TYPE_SOA,
					    false, true),
			      &len);
	net_enc_sign_req(&b, w, len);
	if (net_send(fd, NET_SIGN_REQ, &b) < 0 || net_recv(fd, srep, 1, 5000, &t, &in, &e) < 0 ||
	    net_dec_sign_rep(&in, len, 32, &gst, &sw, &sl, mac, &ml, &e) < 0 || gst.rc < 0)
		_exit(2);
	uint32_t l32 = (uint32_t)sl;
	(void)!write(out, &l32, 4);
	(void)!write(out, sw, sl);
	net_buf_free(&b);
	net_enc_mac_req(&b, w, len, mac, ml); /* not a reply's input: must be no */
	if (net_send(fd, NET_MAC_REQ, &b) < 0 || net_recv(fd, mrep, 1, 5000, &t, &in, &e) < 0 ||
	    net_dec_mac_rep(&in, &match, &e) < 0)
		_exit(3);
	(void)!write(out, &match, 1);
	for (size_t i = 0; i < req.n; i++)
		req.ch[i].result = DNS_CH_DONE;
	dns_update_result res = {.messages = 1, .t_pub = pf_now(), .serial = 9};
	net_buf_free(&b);
	net_enc_update_rep(&b, &st, req.ch, req.n, &res, NULL, 0, NULL, 0, &e);
	net_send(fd, NET_UPDATE_REP, &b);
	sleep(5);
	_exit(0);
}

static void test_signing_peer(void)
{
	static const unsigned char secret[32] = "\xc0\xc1\xc2\xc3\xc4\xc5\xc6\xc7\xc8\xc9\xca\xcb"
						"\xcc\xcd\xce\xcf\xd0\xd1\xd2\xd3\xd4\xd5\xd6\xd7"
						"\xd8\xd9\xda\xdb\xdc\xdd\xde\xdf";
	dns_tsig_key *key = NULL;
	dns_zone_info z;
	dns_change ch[3];
	pf_err e = {0};

	sample_zone(&z);
	dns_tsig_key_new("pftls-key", DNS_HMAC_SHA256, secret, sizeof(secret), &key, &e);
	for (int a = SP_HONEST; a <= SP_FORBIDDEN; a++) {
		int sv[2], pp[2], status = 0, rc;
		dns_update_result res;
		uint8_t leak = 1, match = 1, *sw = NULL;
		uint32_t sl = 0;
		pid_t pid;

		sign_changes(ch);
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 || pipe(pp) < 0)
			abort();
		pid = fork();
		if (pid == 0) {
			close(sv[0]);
			close(pp[0]);
			sign_peer(sv[1], pp[1], (enum sign_peer_act)a, secret, sizeof(secret));
		}
		close(sv[1]);
		close(pp[1]);
		pf_net *net = net_adopt(sv[0], pid);
		dns_update_opts o = {.zone = &z, .tsig = key, .ttl = 60};
		pf_err_clear(&e);
		rc = net_update_apply(net, &o, ch, 3, &res, &e);
		(void)!read(pp[0], &leak, 1);
		if (a == SP_FORBIDDEN) {
			T_CHECK(rc == -EPROTO && strstr(e.msg, "network process: asked to sign") &&
					strstr(e.msg, "www.example.test.") &&
					ch[0].result == DNS_CH_FAILED,
				"a sign request for a message outside the update fails the update "
				"(rc %d: %s)",
				rc, e.msg);
			T_CHECK(net_pid(net) == -1 && waitpid(pid, &status, WNOHANG) < 0 &&
					errno == ECHILD,
				"and the network process that asked is killed and reaped");
		} else {
			if (read(pp[0], &sl, 4) == 4 && sl < 65536) {
				sw = pf_malloc(sl + 1);
				if (read(pp[0], sw, sl) != (ssize_t)sl)
					sl = 0;
			}
			(void)!read(pp[0], &match, 1);
			dns_tsig_info info;
			T_CHECK(rc == 0 && ch[0].result == DNS_CH_DONE && res.serial == 9,
				"an update whose network process asks for signatures succeeds (rc "
				"%d: %s)",
				rc, e.msg);
			T_CHECK(sw && sl > 12 &&
					dns_tsig_verify(key, sw, sl, NULL, 0, pf_now(), &info) ==
						DNS_TSIG_OK,
				"the network process got its SOA query signed with the key (%u "
				"octets)",
				sl);
			T_CHECK(match == 0, "and a MAC that is not a reply's is not confirmed");
			free(sw);
		}
		net = net_free(net);
		T_CHECK(leak == 0, "the update request held no secret, only the key's name (%s)",
			a == SP_HONEST ? "honest peer" : "forbidden request");
		close(pp[0]);
	}
	dns_tsig_key_free(key);
	free(z.checks);
}

/* ---- not root ------------------------------------------------------------------------------ */

static void test_not_root(void)
{
	int pipefd[2], status = 0;
	char out[512] = "";
	pid_t pid;

	if (pipe(pipefd) < 0)
		abort();
	pid = fork();
	if (pid == 0) {
		dns_zone_info z;
		dns_net_opts o = {.timeout_ms = 200, .retransmit_ms = 100, .window = 1};
		dns_prop_round rd = {0};
		pf_err e = {0};
		struct passwd *pw = getpwnam(NETPROC_FALLBACK_USER);
		int rc;

		dup2(pipefd[1], 2);
		close(pipefd[0]);
		if (geteuid() == 0 && (!pw || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
				       setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0))
			_exit(9);
		pf_net *net = net_new();

		if (net_pid(net) != -1)
			_exit(1);
		/* In process: a round over a server that does not answer. */
		sample_zone(&z);
		z.n_checks = 1;
		server(&z.checks[0].addr, TEST_ADDR, 9);
		rc = net_prop_run(net, &z, NULL, 0, &o, &rd, &e);
		_exit(rc == 0 && rd.n_servers == 1 && rd.servers[0].state != DNS_PROP_OK ? 0 : 2);
	}
	close(pipefd[1]);
	ssize_t n = read(pipefd[0], out, sizeof(out) - 1);
	out[n > 0 ? n : 0] = '\0';
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	T_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		"not root: net_new falls back and the calls run in process (exit %d)",
		WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	T_CHECK(strstr(out, "notice: not running as root") != NULL && strchr(out, '\n') &&
			strchr(out, '\n')[1] == '\0',
		"not root: exactly one notice line says so: %.*s", (int)strcspn(out, "\n"), out);
}

int main(void)
{
	char tmp[] = "/tmp/test_netproc.XXXXXX";

	signal(SIGPIPE, SIG_IGN);
	test_roundtrip_hello();
	test_roundtrip_discover();
	test_roundtrip_update();
	test_roundtrip_large();
	test_roundtrip_prop();
	test_roundtrip_probe();
	test_malformed_frames();
	test_malformed_bodies();
	test_roundtrip_sign();
	test_signer_whitelist();
	test_scripted_peer();
	test_signing_peer();
	test_not_root();
	if (geteuid() == 0 && mkdtemp(tmp)) {
		chmod(tmp, 0755);
		test_real_netproc(tmp);
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
		(void)!system(cmd);
	} else {
		printf("note: not root, so the real network process was not tested\n");
	}
	T_DONE();
}
