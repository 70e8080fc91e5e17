/*
 * fuzz_net_msg.c - the privileged process's decoders of what the network
 * process sends it (net_msg.h), on arbitrary bytes.  The network process
 * talks to hostile DNS and SMTP peers; if it is ever subverted, these
 * decoders are the wall between it and the process that holds the keys and
 * the TSIG secret.
 *
 * An input is one octet choosing the message type, one octet shaping the
 * request the reply answers (how many owners, changes, check servers and
 * wanted records), and the message body.  The types are every one the
 * privileged side accepts: hello, the discover, update, propagation and
 * probe replies, and the sign and MAC requests made during an update.
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

#include "../../daemon/dns_propagation.h"
#include "../../daemon/net_msg.h"
#include "fuzz.h"

#define FUZZ_MAX_LEN 8192
#define SENTINEL 0xa5

enum { D_HELLO, D_DISCOVER, D_UPDATE, D_SIGN, D_MAC, D_PROP, D_PROBE, D_COUNT };

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

#define UNTOUCHED(obj, before, what)                                                              \
	FUZZ_CHECK(memcmp(&(obj), &(before), sizeof(obj)) == 0, "a refused %s changed %s", type, what)

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
		FUZZ_CHECK(wire[0] == 'x' && len == 12345, "a refused %s changed its outputs", type);
		return;
	}
	FUZZ_CHECK(len >= 12 && len <= NET_DNS_MAX, "a message of %zu octets to sign accepted", len);
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
			FUZZ_CHECK(ps->n_match == m && m <= n, "server %zu: %zu matches of %zu",
				   s, ps->n_match, m);
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
	default:
		probe(&b);
		break;
	}
	return 0;
}
