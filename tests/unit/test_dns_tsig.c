/*
 * test_dns_tsig.c - TSIG key files (a table of good and bad files, the file
 * mode rule, the secret kept out of messages) and TSIG signatures (our MAC
 * checked by ldns's independent code, and each way a reply can fail); and
 * keys without a secret, as the network process has them: signed and
 * checked through their signer with the same results, a response never
 * signed that way, and a MAC check that a shortened MAC never passes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ldns/ldns.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "../../daemon/dns_msg.h"
#include "../../daemon/dns_tsig.h"
#include "../../daemon/macro.h"
#include "t.h"

/* The secret of the good cases: base64 of 32 bytes 0x00..0x1f. */
#define SECRET "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define SECRET_PIECE "AAECAwQF"

static const struct key_case {
	const char *name;
	const char *text;
	const char *want_error; /* NULL: must parse */
	const char *key_name;
	const char *alg;
} key_cases[] = {
	{"tsig-keygen output",
	 "key \"tsig-key\" {\n\talgorithm hmac-sha256;\n\tsecret \"" SECRET "\";\n};\n", NULL,
	 "tsig-key.", "hmac-sha256"},
	{"hmac-sha1", "key k1 { algorithm hmac-sha1; secret \"" SECRET "\"; };", NULL, "k1.",
	 "hmac-sha1"},
	{"hmac-sha224", "key k { algorithm hmac-sha224; secret \"" SECRET "\"; };", NULL, "k.",
	 "hmac-sha224"},
	{"hmac-sha384", "key k { algorithm hmac-sha384; secret \"" SECRET "\"; };", NULL, "k.",
	 "hmac-sha384"},
	{"hmac-sha512 quoted",
	 "key \"K.Example.\" { algorithm \"HMAC-SHA512\"; secret \"" SECRET "\"; };", NULL,
	 "k.example.", "hmac-sha512"},
	{"comments",
	 "# made by tsig-keygen\n// another\n/* block\n comment */ key \"a.b\" {\n"
	 "algorithm hmac-sha256; # trailing\n secret \"" SECRET "\"; };\n",
	 NULL, "a.b.", "hmac-sha256"},
	{"secret before algorithm", "key x { secret \"" SECRET "\"; algorithm hmac-sha256; };",
	 NULL, "x.", "hmac-sha256"},
	{"empty file", "", ":1: expected a key statement, found end of file", NULL, NULL},
	{"not a key", "options { };", ":1: expected a key statement, found \"options\"", NULL,
	 NULL},
	{"no name", "key { algorithm hmac-sha256; };", ":1: expected the key name", NULL, NULL},
	{"bad name", "key \"a..b\" { algorithm hmac-sha256; secret \"" SECRET "\"; };",
	 ":1: \"a..b\" is not a valid key name", NULL, NULL},
	{"md5", "key k {\n algorithm hmac-md5;\n secret \"" SECRET "\"; };",
	 ":2: unsupported TSIG algorithm \"hmac-md5\"", NULL, NULL},
	{"no algorithm", "key k {\n secret \"" SECRET "\";\n};", ":3: key k. has no algorithm",
	 NULL, NULL},
	{"no secret", "key k {\n algorithm hmac-sha256;\n};", ":3: key k. has no secret", NULL,
	 NULL},
	{"bad base64", "key k {\n algorithm hmac-sha256;\n secret \"AAEC*wQF\";\n};",
	 ":3: the secret is not valid base64", NULL, NULL},
	{"bad padding", "key k { algorithm hmac-sha256; secret \"AAECAw=\"; };",
	 ":1: the secret is not valid base64", NULL, NULL},
	{"missing semicolon", "key k {\n algorithm hmac-sha256\n secret \"" SECRET "\";\n};",
	 ":3: expected \";\", found another token", NULL, NULL},
	{"missing final semicolon", "key k { algorithm hmac-sha256; secret \"" SECRET "\"; }",
	 ":1: expected \";\" after \"}\", found end of file", NULL, NULL},
	{"two keys",
	 "key a { algorithm hmac-sha256; secret \"" SECRET "\"; };\n"
	 "key b { algorithm hmac-sha256; secret \"" SECRET "\"; };",
	 ":2: a second key statement", NULL, NULL},
	{"twice", "key k { algorithm hmac-sha256; algorithm hmac-sha1; };",
	 ":1: algorithm given twice", NULL, NULL},
	{"unterminated string", "key k { algorithm hmac-sha256; secret \"" SECRET_PIECE,
	 ":1: expected the secret, found unterminated quoted string", NULL, NULL},
	{"unterminated comment", "/* key", ":1: expected a key statement, found unterminated", NULL,
	 NULL},
	{"not a key file (shadow)", "root:$6$SECRETSALT$SECRETHASH:19000:0:99999:7:::\n",
	 ":1: expected a key statement, found a word of 48 characters (not shown)", NULL, NULL},
	{"a password file", "hunter2:secret\n",
	 ":1: expected a key statement, found a word of 14 characters (not shown)", NULL, NULL},
	{"unknown clause", "key k { algorithm hmac-sha256; port 53; };",
	 ":1: expected \"algorithm\", \"secret\" or \"}\", found another token", NULL, NULL},
};

static void test_parse_table(void)
{
	for (size_t i = 0; i < PF_ELEMENTSOF(key_cases); i++) {
		const struct key_case *c = &key_cases[i];
		dns_tsig_key *k = NULL;
		pf_err e = {0};
		int r = dns_tsig_key_parse("F", c->text, strlen(c->text), &k, &e);

		if (!c->want_error) {
			T_CHECK(r == 0, "parse %s (%s)", c->name, e.msg);
			if (!k)
				continue;
			T_STREQ(k->name, c->key_name, "parse %s: key name %s", c->name, k->name);
			T_STREQ(k->alg_name, c->alg, "parse %s: algorithm", c->name);
			T_CHECK(k->secret_len == 32 && k->secret[0] == 0 && k->secret[31] == 31,
				"parse %s: secret decoded", c->name);
			dns_tsig_key_free(k);
		} else {
			T_CHECK(r == -EINVAL && !k, "reject %s", c->name);
			T_CHECK(strncmp(e.msg, "F:", 2) == 0 && strstr(e.msg, c->want_error),
				"reject %s: message \"%s\" has \"%s\"", c->name, e.msg,
				c->want_error);
			T_CHECK(!strstr(e.msg, SECRET_PIECE), "reject %s: no secret in message",
				c->name);
		}
	}
}

static void test_file_mode(void)
{
	char path[] = "/tmp/pftls-test-tsig-XXXXXX";
	const char *text = key_cases[0].text;
	dns_tsig_key *k = NULL;
	pf_err e = {0};
	int fd = mkstemp(path);

	if (fd < 0 || write(fd, text, strlen(text)) < 0)
		abort();
	close(fd);
	static const struct {
		mode_t mode;
		bool ok;
	} modes[] = {{0600, true},  {0400, true},  {0640, false},
		     {0604, false}, {0620, false}, {0644, false}};
	for (size_t i = 0; i < PF_ELEMENTSOF(modes); i++) {
		chmod(path, modes[i].mode);
		pf_err_clear(&e);
		int r = dns_tsig_key_load(path, &k, &e);
		if (modes[i].ok) {
			T_CHECK(r == 0 && k, "mode %04o accepted (%s)", (unsigned)modes[i].mode,
				e.msg);
		} else {
			T_CHECK(r == -EPERM && !k && e.exit_code == PF_EXIT_REFUSED &&
					strstr(e.msg, path) && strstr(e.msg, "chmod 600"),
				"mode %04o refused: %s", (unsigned)modes[i].mode, e.msg);
		}
		k = dns_tsig_key_free(k);
	}
	unlink(path);
	pf_err_clear(&e);
	T_CHECK(dns_tsig_key_load(path, &k, &e) < 0 && strstr(e.msg, path),
		"missing file named: %s", e.msg);
}

static dns_tsig_key *key_of(const char *alg, const char *name)
{
	char *text = pf_asprintf("key \"%s\" { algorithm %s; secret \"%s\"; };", name, alg, SECRET);
	dns_tsig_key *k = NULL;

	if (dns_tsig_key_parse("t", text, strlen(text), &k, NULL) < 0)
		abort();
	free(text);
	return k;
}

/* A query for example.test SOA rendered by ldns. */
static uint8_t *query_wire(uint16_t id, size_t *len)
{
	ldns_pkt *p = NULL;
	uint8_t *w = NULL;

	ldns_pkt_query_new_frm_str(&p, "example.test.", LDNS_RR_TYPE_SOA, LDNS_RR_CLASS_IN, 0);
	ldns_pkt_set_id(p, id);
	ldns_pkt2wire(&w, p, len);
	ldns_pkt_free(p);
	uint8_t *copy = pf_malloc(*len);
	memcpy(copy, w, *len);
	free(w);
	return copy;
}

static void test_sign_against_ldns(void)
{
	/* Not hmac-sha224 or hmac-sha384: ldns 1.8.3 cannot verify them (its
	 * table lacks the first and misspells the second "hmac-shac384.");
	 * the integration tests check every algorithm against BIND. */
	static const char *names[] = {"hmac-sha1", "hmac-sha256", "hmac-sha512"};

	for (size_t i = 0; i < PF_ELEMENTSOF(names); i++) {
		dns_tsig_key *k = key_of(names[i], "Upd-Key.Example.");
		uint8_t mac[DNS_TSIG_MAC_MAX];
		size_t len, maclen = 0;
		uint8_t *w = query_wire(0x1234, &len);
		ldns_pkt *p = NULL;
		char alg[32];

		T_CHECK(dns_tsig_sign(k, &w, &len, pf_now(), NULL, 0, 0, NULL, 0, mac, &maclen) ==
				0,
			"%s: sign", names[i]);
		T_CHECK(maclen == k->mac_len, "%s: MAC length %zu", names[i], maclen);
		T_CHECK(ldns_wire2pkt(&p, w, len) == LDNS_STATUS_OK && p && ldns_pkt_tsig(p),
			"%s: ldns parses the signed message", names[i]);
		snprintf(alg, sizeof(alg), "%s.", names[i]);
		/* ldns's verifier is independent code: agreement means our MAC
		 * input is the RFC's. */
		T_CHECK(p && ldns_pkt_tsig_verify(p, w, len, "upd-key.example.", SECRET, NULL),
			"%s: ldns verifies our signature", names[i]);
		ldns_pkt_free(p);
		free(w);
		dns_tsig_key_free(k);
	}
}

/* Sign a "reply" with key at time t and check it as the client would. */
static enum dns_tsig_verdict reply_verdict(dns_tsig_key *signer, dns_tsig_key *checker, int64_t t,
					   int64_t now, uint16_t error,
					   void (*tamper)(uint8_t *, size_t), dns_tsig_info *info)
{
	uint8_t req_mac[DNS_TSIG_MAC_MAX], mac[DNS_TSIG_MAC_MAX];
	size_t rlen, len, req_mac_len = 0, maclen;
	uint8_t *req = query_wire(7, &rlen), *w = query_wire(7, &len);
	enum dns_tsig_verdict v;

	dns_tsig_sign(checker, &req, &rlen, now, NULL, 0, 0, NULL, 0, req_mac, &req_mac_len);
	w[2] |= 0x80; /* QR */
	dns_tsig_sign(signer, &w, &len, t, req_mac, req_mac_len, error, NULL, 0, mac, &maclen);
	if (tamper)
		tamper(w, len);
	v = dns_tsig_verify(checker, w, len, req_mac, req_mac_len, now, info);
	free(req);
	free(w);
	return v;
}

static void flip_question(uint8_t *w, size_t len)
{
	(void)len;
	w[13] ^= 0x20; /* the case of a letter of the question */
	w[14] ^= 0x01; /* and a letter itself */
}

static void flip_mac(uint8_t *w, size_t len)
{
	w[len - 10] ^= 1; /* the last MAC byte sits before orig-id, error, other-len */
}

static void drop_tsig_count(uint8_t *w, size_t len)
{
	(void)len;
	w[11] = 0; /* ARCOUNT 0: the TSIG RR becomes trailing junk */
}

static void test_verify(void)
{
	dns_tsig_key *k = key_of("hmac-sha256", "upd-key");
	dns_tsig_key *other_name = key_of("hmac-sha256", "other-key");
	dns_tsig_key *other_alg = key_of("hmac-sha512", "upd-key");
	char text[128];
	dns_tsig_key *other_secret;
	dns_tsig_info info;
	int64_t now = pf_now();

	snprintf(text, sizeof(text), "key upd-key { algorithm hmac-sha256; secret \"%s\"; };",
		 "AQECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
	dns_tsig_key_parse("t", text, strlen(text), &other_secret, NULL);

	T_CHECK(reply_verdict(k, k, now, now, 0, NULL, &info) == DNS_TSIG_OK, "good reply");
	T_CHECK(reply_verdict(k, k, now - 299, now, 0, NULL, &info) == DNS_TSIG_OK,
		"reply signed 299 s ago is within the fudge");
	T_CHECK(reply_verdict(k, k, now - 301, now, 0, NULL, &info) == DNS_TSIG_BAD_TIME,
		"reply signed 301 s ago: time outside the fudge");
	T_CHECK(reply_verdict(k, k, now + 1000, now, 0, NULL, &info) == DNS_TSIG_BAD_TIME,
		"reply from the future: time outside the fudge");
	T_CHECK(reply_verdict(other_secret, k, now, now, 0, NULL, &info) == DNS_TSIG_BAD_MAC,
		"reply signed with another secret: bad MAC");
	T_CHECK(reply_verdict(other_name, k, now, now, 0, NULL, &info) == DNS_TSIG_WRONG_KEY,
		"reply signed with another key name");
	T_CHECK(reply_verdict(other_alg, k, now, now, 0, NULL, &info) == DNS_TSIG_WRONG_ALG,
		"reply signed with another algorithm");
	T_CHECK(reply_verdict(k, k, now, now, 0, flip_question, &info) == DNS_TSIG_BAD_MAC,
		"altered message: bad MAC");
	T_CHECK(reply_verdict(k, k, now, now, 0, flip_mac, &info) == DNS_TSIG_BAD_MAC,
		"altered MAC: bad MAC");
	T_CHECK(reply_verdict(k, k, now, now, 0, drop_tsig_count, &info) == DNS_TSIG_MALFORMED,
		"TSIG outside the counted records: malformed");
	T_CHECK(reply_verdict(k, k, now, now, DNS_TSIG_BADTIME, NULL, &info) == DNS_TSIG_OK &&
			info.error == DNS_TSIG_BADTIME,
		"signed BADTIME reply verifies and reports the error");

	/* A reply with no TSIG at all. */
	size_t len;
	uint8_t *w = query_wire(7, &len);
	T_CHECK(dns_tsig_verify(k, w, len, NULL, 0, now, &info) == DNS_TSIG_ABSENT,
		"unsigned reply: absent");
	free(w);

	dns_tsig_key_free(k);
	dns_tsig_key_free(other_name);
	dns_tsig_key_free(other_alg);
	dns_tsig_key_free(other_secret);
}

/* ---- keys without a secret --------------------------------------------- */

/* A signer as the privileged process is one: the real key, and counts. */
typedef struct test_signer {
	const dns_tsig_key *real;
	unsigned signs, checks;
} test_signer;

static int ts_sign(void *ctx, uint8_t **wire, size_t *len, uint8_t *ret_mac, size_t *ret_mac_len)
{
	test_signer *t = ctx;

	t->signs++;
	return dns_tsig_sign(t->real, wire, len, pf_now(), NULL, 0, 0, NULL, 0, ret_mac,
			     ret_mac_len);
}

static int ts_check(void *ctx, const uint8_t *input, size_t len, const uint8_t *mac, size_t mac_len)
{
	test_signer *t = ctx;

	t->checks++;
	return dns_tsig_mac_matches(t->real, input, len, mac, mac_len) ? 1 : 0;
}

static void test_signer_key(void)
{
	dns_tsig_key *k = key_of("hmac-sha256", "upd-key");
	dns_tsig_key *other_name = key_of("hmac-sha256", "other-key");
	dns_tsig_key *other_alg = key_of("hmac-sha512", "upd-key");
	dns_tsig_key *pub = NULL, *bare = NULL;
	test_signer ts = {.real = k};
	dns_tsig_signer signer = {.sign = ts_sign, .check = ts_check, .ctx = &ts};
	dns_tsig_info info, info2;
	int64_t now = pf_now();
	pf_err e = {0};

	T_CHECK(dns_tsig_key_public("Upd-Key", DNS_HMAC_SHA256, &pub, &e) == 0 && pub &&
			!pub->secret && pub->secret_len == 0 &&
			strcmp(pub->name, "upd-key.") == 0 && pub->mac_len == 32 &&
			pub->name_wire_len == k->name_wire_len &&
			memcmp(pub->name_wire, k->name_wire, k->name_wire_len) == 0,
		"a key from name and algorithm has the real key's name, wire form and MAC "
		"length, and no secret: %s",
		e.msg);
	if (!pub)
		return;
	T_CHECK(dns_tsig_key_public("a..b", DNS_HMAC_SHA256, &bare, &e) < 0 &&
			strstr(e.msg, "not a valid key name"),
		"a name that is not one makes no key: %s", e.msg);
	pub->signer = &signer;

	/* A request signed through the signer verifies with ldns and the real
	 * secret. */
	uint8_t mac[DNS_TSIG_MAC_MAX];
	size_t len, maclen = 0;
	uint8_t *w = query_wire(0x4321, &len);
	ldns_pkt *p = NULL;
	T_CHECK(dns_tsig_sign(pub, &w, &len, 0, NULL, 0, 0, NULL, 0, mac, &maclen) == 0 &&
			ts.signs == 1 && maclen == 32,
		"a key with a signer signs a request through it (%u calls, MAC of %zu)", ts.signs,
		maclen);
	T_CHECK(ldns_wire2pkt(&p, w, len) == LDNS_STATUS_OK && p &&
			ldns_pkt_tsig_verify(p, w, len, "upd-key.", SECRET, NULL),
		"and ldns verifies that signature with the real secret");
	ldns_pkt_free(p);
	free(w);
	w = query_wire(7, &len);
	T_CHECK(dns_tsig_sign(pub, &w, &len, now, mac, 32, 0, NULL, 0, mac, &maclen) == -EPERM &&
			ts.signs == 1,
		"a response (a request MAC given) is never signed through a signer");
	free(w);

	/* Replies: every verdict is the real key's, the MAC judged by the
	 * signer. */
	static const struct {
		const char *name;
		int64_t dt;
		uint16_t error;
		void (*tamper)(uint8_t *, size_t);
		int signer_key; /* 0 the key, 1 another name, 2 another algorithm */
	} cases[] = {
		{"good reply", 0, 0, NULL, 0},
		{"reply signed 301 s ago", -301, 0, NULL, 0},
		{"altered message", 0, 0, flip_question, 0},
		{"altered MAC", 0, 0, flip_mac, 0},
		{"TSIG outside the counted records", 0, 0, drop_tsig_count, 0},
		{"signed BADTIME reply", 0, DNS_TSIG_BADTIME, NULL, 0},
		{"another key name", 0, 0, NULL, 1},
		{"another algorithm", 0, 0, NULL, 2},
	};
	for (size_t i = 0; i < PF_ELEMENTSOF(cases); i++) {
		dns_tsig_key *by = cases[i].signer_key == 1   ? other_name
				   : cases[i].signer_key == 2 ? other_alg
							      : k;
		enum dns_tsig_verdict want = reply_verdict(by, k, now + cases[i].dt, now,
							   cases[i].error, cases[i].tamper, &info);
		unsigned before = ts.checks;
		enum dns_tsig_verdict got = reply_verdict(by, pub, now + cases[i].dt, now,
							  cases[i].error, cases[i].tamper, &info2);

		T_CHECK(got == want && info.error == info2.error &&
				info.time_signed == info2.time_signed,
			"%s: the key without a secret says %s, as the real key does (%u MAC checks "
			"asked)",
			cases[i].name, dns_tsig_verdict_str(got), ts.checks - before);
	}
	T_CHECK(ts.checks > 0, "the MACs were checked by the signer (%u times)", ts.checks);

	/* The privileged side's yes or no. */
	uint8_t input[100], good[DNS_TSIG_MAC_MAX];
	unsigned int gl = 0;
	memset(input, 0x5a, sizeof(input));
	HMAC(EVP_sha256(), k->secret, (int)k->secret_len, input, sizeof(input), good, &gl);
	T_CHECK(dns_tsig_mac_matches(k, input, sizeof(input), good, gl),
		"the MAC check says yes to the HMAC of its input");
	good[5] ^= 1;
	T_CHECK(!dns_tsig_mac_matches(k, input, sizeof(input), good, gl),
		"and no to a MAC with one bit changed");
	good[5] ^= 1;
	T_CHECK(!dns_tsig_mac_matches(k, input, sizeof(input), good, gl - 1) &&
			!dns_tsig_mac_matches(k, input, sizeof(input), good, 1) &&
			!dns_tsig_mac_matches(k, input, sizeof(input), good, 0),
		"and no to a correct but shortened MAC (31, 1, 0 octets): nothing to learn a MAC "
		"octet by octet");
	pub->signer = NULL;
	w = query_wire(7, &len);
	T_CHECK(dns_tsig_sign(pub, &w, &len, now, NULL, 0, 0, NULL, 0, mac, &maclen) < 0 &&
			!dns_tsig_mac_matches(pub, input, sizeof(input), good, gl),
		"a key with neither secret nor signer can neither sign nor check");
	free(w);

	dns_tsig_key_free(pub);
	dns_tsig_key_free(k);
	dns_tsig_key_free(other_name);
	dns_tsig_key_free(other_alg);
}

/* sign_many of the test signer: each job left to it signed with the real
 * key, the calls and jobs counted. */
static unsigned ts_many_calls, ts_many_jobs;

static void ts_sign_many(void *ctx, dns_sign_job *jobs, size_t n)
{
	test_signer *t = ctx;

	ts_many_calls++;
	for (size_t i = 0; i < n; i++) {
		if (jobs[i].rc != 0)
			continue;
		ts_many_jobs++;
		jobs[i].rc = dns_tsig_sign(t->real, &jobs[i].wire, &jobs[i].len, pf_now(), NULL, 0,
					   0, NULL, 0, jobs[i].mac, &jobs[i].mac_len);
	}
}

/* The requests of one read signed together: each as dns_request_init
 * signs one, through one sign_many call when the signer has it. */
static void test_sign_many(void)
{
	dns_tsig_key *k = key_of("hmac-sha256", "upd-key"), *pub = NULL;
	test_signer ts = {.real = k};
	dns_tsig_signer signer = {
		.sign = ts_sign, .check = ts_check, .sign_many = ts_sign_many, .ctx = &ts};
	enum { N = 40 };
	dns_request rqs[N];
	ldns_pkt *pkts[N];
	pf_err e = {0};
	char name[64];

	T_CHECK(dns_tsig_key_public("upd-key", DNS_HMAC_SHA256, &pub, &e) == 0 && pub,
		"a key without a secret: %s", e.msg);
	if (!pub)
		return;
	pub->signer = &signer;
	for (int pass = 0; pass < 2; pass++) {
		const dns_tsig_key *use = pass ? pub : k;
		unsigned calls0 = ts_many_calls, signs0 = ts.signs;
		int good = 0, macs = 0;

		for (int i = 0; i < N; i++) {
			snprintf(name, sizeof(name), "_25._tcp.host%d.example.test.", i);
			pkts[i] = dns_query_pkt(name, LDNS_RR_TYPE_TLSA, false, true);
		}
		T_CHECK(dns_requests_init(rqs, pkts, N, use, &e) == 0, "%d requests signed %s: %s",
			N, pass ? "through the signer" : "with the secret", e.msg);
		for (int i = 0; i < N; i++) {
			ldns_pkt *p = NULL;

			if (ldns_wire2pkt(&p, rqs[i].wire, rqs[i].len) == LDNS_STATUS_OK && p &&
			    ldns_pkt_id(p) == rqs[i].id &&
			    ldns_pkt_tsig_verify(p, rqs[i].wire, rqs[i].len, "upd-key.", SECRET,
						 NULL))
				good++;
			/* The MAC kept for the reply is the one the request carries. */
			if (p && ldns_pkt_tsig(p) && rqs[i].mac_len == 32 &&
			    ldns_rdf_size(ldns_rr_rdf(ldns_pkt_tsig(p), 3)) == 34 &&
			    memcmp(ldns_rdf_data(ldns_rr_rdf(ldns_pkt_tsig(p), 3)) + 2, rqs[i].mac,
				   32) == 0)
				macs++;
			ldns_pkt_free(p);
			dns_request_free(&rqs[i]);
		}
		T_CHECK(good == N && macs == N,
			"each carries its own ID and a signature ldns verifies with the real "
			"secret (%d of %d), and its MAC is kept for the reply (%d)",
			good, N, macs);
		if (pass)
			T_CHECK(ts_many_calls == calls0 + 1 && ts.signs == signs0,
				"through the signer: one sign_many call, no single signing (%u, "
				"%u)",
				ts_many_calls - calls0, ts.signs - signs0);
	}

	/* A message too short to be one is refused before the signer sees it;
	 * the others are signed. */
	dns_sign_job jobs[3] = {0};
	size_t len;
	unsigned jobs0 = ts_many_jobs;
	jobs[0].wire = query_wire(1, &len);
	jobs[0].len = len;
	jobs[1].wire = pf_malloc(5);
	memset(jobs[1].wire, 0, 5);
	jobs[1].len = 5;
	jobs[2].wire = query_wire(2, &len);
	jobs[2].len = len;
	dns_tsig_sign_many(pub, jobs, 3, pf_now());
	T_CHECK(jobs[0].rc == 0 && jobs[1].rc == -EINVAL && jobs[2].rc == 0 &&
			ts_many_jobs == jobs0 + 2 && jobs[1].len == 5,
		"a 5-octet message is refused (rc %d) and left as it was; the two others are "
		"signed (%d, %d; %u signed)",
		jobs[1].rc, jobs[0].rc, jobs[2].rc, ts_many_jobs - jobs0);
	for (int i = 0; i < 3; i++)
		free(jobs[i].wire);
	dns_tsig_key_free(pub);
	dns_tsig_key_free(k);
}

/* A signer that judges MACs ahead as the network process's does: the
 * verdicts kept, a later check of the same input and MAC answered from
 * them (and counted), any other asked as before. */
typedef struct ahead_signer {
	test_signer ts;
	dns_mac_job kept[16];
	bool match[16];
	size_t n;
	unsigned batches, from_kept;
} ahead_signer;

static void as_check_ahead(void *ctx, const dns_mac_job *jobs, size_t n)
{
	ahead_signer *a = ctx;

	a->batches++;
	for (size_t i = 0; i < n && a->n < PF_ELEMENTSOF(a->kept); i++) {
		dns_mac_job *j = &a->kept[a->n];

		*j = jobs[i];
		j->input = pf_malloc(jobs[i].len);
		memcpy(j->input, jobs[i].input, jobs[i].len);
		a->match[a->n++] =
			dns_tsig_mac_matches(a->ts.real, j->input, j->len, j->mac, j->mac_len);
	}
}

static int as_check(void *ctx, const uint8_t *input, size_t len, const uint8_t *mac, size_t mac_len)
{
	ahead_signer *a = ctx;

	for (size_t i = 0; i < a->n; i++)
		if (a->kept[i].len == len && a->kept[i].mac_len == mac_len &&
		    memcmp(a->kept[i].input, input, len) == 0 &&
		    memcmp(a->kept[i].mac, mac, mac_len) == 0) {
			a->from_kept++;
			return a->match[i] ? 1 : 0;
		}
	return ts_check(&a->ts, input, len, mac, mac_len);
}

/* The replies of one read judged ahead: what dns_tsig_check_ahead hands
 * the signer is exactly what each dns_tsig_verify then asks, and every
 * verdict is the real key's. */
static void test_check_ahead(void)
{
	dns_tsig_key *k = key_of("hmac-sha256", "upd-key");
	dns_tsig_key *other_name = key_of("hmac-sha256", "other-key"), *pub = NULL;
	ahead_signer as = {.ts = {.real = k}};
	dns_tsig_signer signer = {
		.sign = ts_sign, .check = as_check, .check_ahead = as_check_ahead, .ctx = &as};
	static const struct {
		const char *name;
		int64_t dt;
		void (*tamper)(uint8_t *, size_t);
		bool other_key;
		bool judged; /* a MAC to judge */
	} cases[] = {
		{"good reply", 0, NULL, false, true},
		{"altered message", 0, flip_question, false, true},
		{"altered MAC", 0, flip_mac, false, true},
		{"signed 301 s ago", -301, NULL, false, true},
		{"another key name", 0, NULL, true, false},
		{"TSIG outside the counted records", 0, drop_tsig_count, false, false},
	};
	enum { N = PF_ELEMENTSOF(cases) };
	uint8_t *req[N], *rep[N], req_mac[N][DNS_TSIG_MAC_MAX], mac[DNS_TSIG_MAC_MAX];
	size_t rlen[N], len[N], req_mac_len[N], maclen, judged = 0;
	dns_tsig_ahead items[N];
	int64_t now = pf_now();
	pf_err e = {0};

	T_CHECK(dns_tsig_key_public("upd-key", DNS_HMAC_SHA256, &pub, &e) == 0 && pub,
		"a key without a secret: %s", e.msg);
	if (!pub)
		return;
	pub->signer = &signer;
	for (size_t i = 0; i < N; i++) {
		req[i] = query_wire((uint16_t)(100 + i), &rlen[i]);
		dns_tsig_sign(k, &req[i], &rlen[i], now, NULL, 0, 0, NULL, 0, req_mac[i],
			      &req_mac_len[i]);
		rep[i] = query_wire((uint16_t)(100 + i), &len[i]);
		rep[i][2] |= 0x80;
		dns_tsig_sign(cases[i].other_key ? other_name : k, &rep[i], &len[i],
			      now + cases[i].dt, req_mac[i], req_mac_len[i], 0, NULL, 0, mac,
			      &maclen);
		if (cases[i].tamper)
			cases[i].tamper(rep[i], len[i]);
		items[i] = (dns_tsig_ahead){rep[i], len[i], req_mac[i], req_mac_len[i]};
		judged += cases[i].judged;
	}
	dns_tsig_check_ahead(pub, items, N);
	T_CHECK(as.batches == 1 && as.n == judged,
		"one batch to the signer with the %zu MACs there are to judge (%u, %zu)", judged,
		as.batches, as.n);
	for (size_t i = 0; i < N; i++) {
		dns_tsig_info info, info2;
		unsigned kept0 = as.from_kept, asked0 = as.ts.checks;
		enum dns_tsig_verdict want =
			dns_tsig_verify(k, rep[i], len[i], req_mac[i], req_mac_len[i], now, &info);
		enum dns_tsig_verdict got = dns_tsig_verify(pub, rep[i], len[i], req_mac[i],
							    req_mac_len[i], now, &info2);

		T_CHECK(got == want && as.ts.checks == asked0 &&
				as.from_kept - kept0 == (cases[i].judged ? 1u : 0u),
			"%s: %s, as the real key says, answered from what was judged ahead (%u) "
			"with no check asked (%u)",
			cases[i].name, dns_tsig_verdict_str(got), as.from_kept - kept0,
			as.ts.checks - asked0);
		free(req[i]);
		free(rep[i]);
	}
	for (size_t i = 0; i < as.n; i++)
		free(as.kept[i].input);
	pub->signer = NULL;
	dns_tsig_check_ahead(pub, items, 0);
	dns_tsig_key_free(pub);
	dns_tsig_key_free(k);
	dns_tsig_key_free(other_name);
}

int main(void)
{
	test_parse_table();
	test_file_mode();
	test_sign_against_ldns();
	test_verify();
	test_signer_key();
	test_sign_many();
	test_check_ahead();
	T_DONE();
}
