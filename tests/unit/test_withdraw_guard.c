/*
 * test_withdraw_guard.c - SPEC.md 5 rule 2's one check (withdraw_guard.h):
 *   - the decision as a table of named cases: which records may be
 *     withdrawn, given the keys main.cf names and the keys the endpoints
 *     present (same SPKI, same file, a "3 1 1" record carrying an in-use
 *     key's digest, an unreadable file named by main.cf);
 *   - the keys main.cf puts into service, read through the real postconf on
 *     a scratch instance under /tmp: legacy parameters, the ECDSA pair,
 *     smtpd_tls_chain_files, an explicit tlsproxy_tls_* override, a named
 *     file that is missing;
 *   - withdraw_guard_check refusing (exit 3, naming the key and the
 *     parameter) and permitting, with no endpoint to ask;
 *   - the endpoint list: verify_endpoints, or hosts x ports, each once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../daemon/keystore.h"
#include "../../daemon/macro.h"
#include "../../daemon/withdraw_guard.h"
#include "t.h"

#define SPKI_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SPKI_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define SPKI_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

static char dir[] = "/tmp/pftls-test-guard-XXXXXX";
static char *etc;

/* A "3 S M" record whose data is all byte b (32 bytes). */
static pf_tlsa_rdata rec(uint8_t sel, uint8_t mtype, unsigned char b)
{
	pf_tlsa_rdata rd = {3, sel, mtype, 32, {0}};

	memset(rd.data, b, 32);
	return rd;
}

static void test_decide(void)
{
	/* In use: key A by file /etc/x/a.pem (main.cf), key B presented by an
	 * endpoint, and a file main.cf names that could not be read. */
	pf_guard_inuse u = {0};

	withdraw_guard_inuse_add(&u, SPKI_A, "/etc/x/a.pem", "smtpd_tls_key_file = /etc/x/a.pem");
	withdraw_guard_inuse_add(&u, SPKI_B, NULL, "endpoint 127.0.0.1:25");
	withdraw_guard_inuse_add(&u, NULL, "/etc/x/unreadable.pem", "smtpd_tls_eckey_file = ...");

	static const struct {
		const char *name;
		const char *file, *spki;
		uint8_t sel, mtype;
		unsigned char byte;
		ssize_t want;    /* index of the record refused, -1: withdrawn */
		size_t want_key; /* which in-use key it hit */
	} cases[] = {
		{"a key nobody uses may go", "/etc/x/c.pem", SPKI_C, 1, 1, 0xcc, -1, 0},
		{"a key main.cf names stays", "/etc/x/a.pem", SPKI_A, 1, 1, 0xaa, 0, 0},
		{"the same key under another file name stays", "/etc/x/copy.pem", SPKI_A, 1, 1,
		 0xaa, 0, 0},
		{"its 3 0 1 record stays too (the key, not the record type, decides)",
		 "/etc/x/copy.pem", SPKI_A, 0, 1, 0x01, 0, 0},
		{"its 3 1 2 record stays too", "/etc/x/copy.pem", SPKI_A, 1, 2, 0x02, 0, 0},
		{"a key an endpoint presents stays", "/etc/x/b.pem", SPKI_B, 1, 1, 0xbb, 0, 1},
		{"a file main.cf names but nobody can read stays", "/etc/x/unreadable.pem", SPKI_C,
		 1, 1, 0xcc, 0, 2},
		{"a 3 1 1 record with an in-use digest stays whatever key it is filed under",
		 "/etc/x/c.pem", SPKI_C, 1, 1, 0xbb, 0, 1},
		{"a record with no key known may go unless its data matches", NULL, NULL, 1, 1,
		 0xcc, -1, 0},
		{"... and stays when its data is an in-use digest", NULL, NULL, 1, 1, 0xaa, 0, 0},
		{"a 3 0 1 record with A's bytes but of key C may go (selector 0 is a certificate "
		 "digest)",
		 "/etc/x/c.pem", SPKI_C, 0, 1, 0xaa, -1, 0},
	};

	for (size_t i = 0; i < PF_ELEMENTSOF(cases); i++) {
		pf_guard_record r = {cases[i].file, cases[i].spki, PF_ALG_RSA,
				     rec(cases[i].sel, cases[i].mtype, cases[i].byte)};
		size_t key = 99;
		ssize_t got = withdraw_guard_decide(&u, &r, 1, &key);

		T_CHECK(got == cases[i].want && (got < 0 || key == cases[i].want_key),
			"decide: %s (got %zd, key %zu)", cases[i].name, got, key);
	}

	/* Several records: the first one in use is the answer. */
	pf_guard_record many[3] = {
		{"/etc/x/c.pem", SPKI_C, PF_ALG_RSA, rec(1, 1, 0xcc)},
		{"/etc/x/d.pem", SPKI_C, PF_ALG_ECDSA, rec(1, 1, 0xcd)},
		{"/etc/x/b.pem", SPKI_B, PF_ALG_ECDSA, rec(1, 1, 0xbb)},
	};
	size_t key = 99;
	T_CHECK(withdraw_guard_decide(&u, many, 3, &key) == 2 && key == 1,
		"decide: of three records the one an endpoint presents is refused");
	T_CHECK(withdraw_guard_decide(&u, many, 2, NULL) == -1,
		"decide: without it the other two may go");
	pf_guard_inuse none = {0};
	T_CHECK(withdraw_guard_decide(&none, many, 3, NULL) == -1,
		"decide: nothing in use (main.cf names no key, no endpoint answered): all may go");
	withdraw_guard_inuse_free(&u);
}

/* Postfix programs wait while main.cf is under a second old: age it. */
static void write_main_cf(const char *extra)
{
	char *p = pf_asprintf("%s/main.cf", etc);
	char *text = pf_asprintf("compatibility_level = 3.6\nqueue_directory = %s/queue\n"
				 "data_directory = %s/data\nmyhostname = mx.example.test\n%s",
				 dir, dir, extra);
	FILE *f = fopen(p, "w");
	struct timespec ts[2];

	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		abort();
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= 5;
	ts[1] = ts[0];
	utimensat(AT_FDCWD, p, ts, 0);
	free(text);
	free(p);
}

/* Make NAME.key and NAME.crt (or both in NAME.pem); *ret_spki its SPKI. */
static void make_pair(const char *name, enum pf_alg alg, bool combined, char *ret_spki)
{
	pf_keyspec spec = {alg, 2048, "secp256r1"};
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	pf_pubkey pk = {0};
	pf_strv hosts = {0};
	char *k = pf_asprintf("%s/%s.%s", etc, name, combined ? "key.tmp" : "key");
	char *c = pf_asprintf("%s/%s.%s", etc, name, combined ? "crt.tmp" : "crt");

	pf_strv_push(&hosts, "mx.example.test");
	if (keystore_generate(&spec, &key, NULL) < 0 || keystore_write_key(k, key, NULL) < 0 ||
	    keystore_self_signed(key, &hosts, &cert, NULL) < 0 ||
	    keystore_write_cert(c, cert, NULL) < 0 || keystore_pubkey_of_key(key, &pk, NULL) < 0)
		abort();
	if (combined) {
		char *cmd = pf_asprintf("cat %s %s > %s/%s.pem && rm %s %s", k, c, etc, name, k, c);
		if (system(cmd) != 0)
			abort();
		free(cmd);
	}
	memcpy(ret_spki, pk.spki_sha256, 65);
	pf_pubkey_free(&pk);
	EVP_PKEY_free(key);
	X509_free(cert);
	pf_strv_clear(&hosts);
	free(k);
	free(c);
}

/* True when u holds spki with a "where" starting with param. */
static bool has(const pf_guard_inuse *u, const char *spki, const char *param)
{
	for (size_t i = 0; i < u->n; i++)
		if (strcmp(u->v[i].spki_sha256, spki) == 0 &&
		    strncmp(u->v[i].where, param, strlen(param)) == 0)
			return true;
	return false;
}

static void test_maincf(pf_postfix *pf)
{
	char rsa[65], ec[65], chain[65], proxy[65];
	pf_err e = {0};

	make_pair("rsa", PF_ALG_RSA, false, rsa);
	make_pair("ec", PF_ALG_ECDSA, false, ec);
	make_pair("chain", PF_ALG_RSA, true, chain);
	make_pair("proxy", PF_ALG_RSA, false, proxy);

	static const struct {
		const char *name;
		const char *maincf;  /* %1$s: the config dir */
		const char *spki_of; /* "rsa", "ec", "chain", "proxy" wanted in use */
		const char *param;
		bool in_use;
	} cases[] = {
		{"no key named: nothing in use", "", "rsa", "smtpd_tls_key_file", false},
		{"legacy RSA pair",
		 "smtpd_tls_key_file = %1$s/rsa.key\nsmtpd_tls_cert_file = %1$s/rsa.crt\n", "rsa",
		 "smtpd_tls_key_file", true},
		{"legacy RSA pair: the certificate counts too",
		 "smtpd_tls_key_file = %1$s/rsa.key\nsmtpd_tls_cert_file = %1$s/rsa.crt\n", "rsa",
		 "smtpd_tls_cert_file", true},
		{"tlsproxy inherits smtpd's key",
		 "smtpd_tls_key_file = %1$s/rsa.key\nsmtpd_tls_cert_file = %1$s/rsa.crt\n", "rsa",
		 "tlsproxy_tls_key_file", true},
		{"ECDSA pair",
		 "smtpd_tls_eckey_file = %1$s/ec.key\nsmtpd_tls_eccert_file = %1$s/ec.crt\n", "ec",
		 "smtpd_tls_eckey_file", true},
		{"smtpd_tls_chain_files", "smtpd_tls_chain_files = %1$s/chain.pem\n", "chain",
		 "smtpd_tls_chain_files", true},
		{"an explicit tlsproxy_tls_* key",
		 "smtpd_tls_key_file = %1$s/rsa.key\nsmtpd_tls_cert_file = %1$s/rsa.crt\n"
		 "tlsproxy_tls_key_file = %1$s/proxy.key\ntlsproxy_tls_cert_file = "
		 "%1$s/proxy.crt\n",
		 "proxy", "tlsproxy_tls_key_file", true},
		{"the explicit tlsproxy key is not smtpd's",
		 "smtpd_tls_key_file = %1$s/rsa.key\nsmtpd_tls_cert_file = %1$s/rsa.crt\n"
		 "tlsproxy_tls_key_file = %1$s/proxy.key\ntlsproxy_tls_cert_file = "
		 "%1$s/proxy.crt\n",
		 "proxy", "smtpd_tls_key_file", false},
		{"$name references are expanded",
		 "keys = %1$s\nsmtpd_tls_key_file = $keys/ec.key\nsmtpd_tls_cert_file = "
		 "$keys/ec.crt\n",
		 "ec", "smtpd_tls_key_file", true},
	};

	for (size_t i = 0; i < PF_ELEMENTSOF(cases); i++) {
		pf_guard_inuse u = {0};
		char *text = pf_asprintf(cases[i].maincf, etc);
		const char *spki = strcmp(cases[i].spki_of, "rsa") == 0     ? rsa
				   : strcmp(cases[i].spki_of, "ec") == 0    ? ec
				   : strcmp(cases[i].spki_of, "chain") == 0 ? chain
									    : proxy;
		int rc;

		write_main_cf(text);
		rc = withdraw_guard_maincf(pf, &u, &e);
		T_CHECK(rc == 0 && has(&u, spki, cases[i].param) == cases[i].in_use,
			"main.cf: %s (%s in use by %s: %s)", cases[i].name, cases[i].spki_of,
			cases[i].param, cases[i].in_use ? "yes" : "no");
		withdraw_guard_inuse_free(&u);
		free(text);
	}

	/* A named file that is gone is kept by its path. */
	pf_guard_inuse u = {0};
	char *text = pf_asprintf("smtpd_tls_key_file = %s/gone.key\nsmtpd_tls_cert_file = "
				 "%s/gone.crt\n",
				 etc, etc);
	char *gone = pf_asprintf("%s/gone.key", etc);
	pf_guard_record r = {gone, SPKI_C, PF_ALG_RSA, rec(1, 1, 0xcc)};

	write_main_cf(text);
	T_CHECK(withdraw_guard_maincf(pf, &u, &e) == 0 &&
			withdraw_guard_decide(&u, &r, 1, NULL) == 0,
		"main.cf: a named file that cannot be read still keeps its key's records");
	withdraw_guard_inuse_free(&u);
	free(text);
	free(gone);

	/* The whole check, no endpoint to ask: refused with exit 3 naming key
	 * and parameter, then permitted once main.cf names another key. */
	char *rsakey = pf_asprintf("%s/rsa.key", etc);
	char *eckey = pf_asprintf("%s/ec.key", etc);
	pf_guard_record rr = {rsakey, rsa, PF_ALG_RSA, rec(1, 1, 0x11)};
	pf_guard_req q = {.pf = pf, .action = "retire"};

	text = pf_asprintf(
		"smtpd_tls_key_file = %1$s/rsa.key\nsmtpd_tls_cert_file = %1$s/rsa.crt\n", etc);
	write_main_cf(text);
	free(text);
	pf_err_clear(&e);
	int rc = withdraw_guard_check(&q, &rr, 1, &e);
	T_CHECK(rc == -EPERM && e.exit_code == PF_EXIT_REFUSED && strstr(e.msg, rsakey) &&
			strstr(e.msg, "refusing to retire") &&
			strstr(e.msg, "Postfix uses this key (smtpd_tls_key_file);"),
		"check: the deployed key is refused with exit 3, naming it and the parameter (%s)",
		e.msg);
	char *cmd = pf_asprintf("cp -p %1$s/rsa.key %1$s/copy.key", etc);
	char *copy = pf_asprintf("%s/copy.key", etc);

	if (system(cmd) != 0)
		abort();
	text = pf_asprintf("smtpd_tls_key_file = %1$s/copy.key\nsmtpd_tls_cert_file = "
			   "%1$s/rsa.crt\n",
			   etc);
	write_main_cf(text);
	free(text);
	pf_err_clear(&e);
	rc = withdraw_guard_check(&q, &rr, 1, &e);
	T_CHECK(rc == -EPERM && strstr(e.msg, "(smtpd_tls_key_file = ") && strstr(e.msg, copy),
		"check: the same key under another file name is refused, that file named (%s)",
		e.msg);
	free(cmd);
	free(copy);
	text = pf_asprintf("smtpd_tls_eckey_file = %1$s/ec.key\nsmtpd_tls_eccert_file = "
			   "%1$s/ec.crt\n",
			   etc);
	write_main_cf(text);
	free(text);
	pf_err_clear(&e);
	T_CHECK(withdraw_guard_check(&q, &rr, 1, &e) == 0,
		"check: once main.cf names another key the records may go (%s)", e.msg);
	pf_guard_record er = {eckey, ec, PF_ALG_ECDSA, rec(1, 1, 0x22)};
	pf_guard_record both[2] = {rr, er};
	pf_err_clear(&e);
	T_CHECK(withdraw_guard_check(&q, both, 2, &e) == -EPERM && strstr(e.msg, eckey),
		"check: one deployed key among several refuses the whole withdrawal (%s)", e.msg);
	free(rsakey);
	free(eckey);
}

static void test_endpoint_list(void)
{
	pf_config cfg;
	pf_strv hosts = {0};
	pf_hostport_list l = {0};
	pf_hostport eps[3] = {{"127.0.0.1", 25}, {"127.0.0.1", 0}, {"127.0.0.2", 587}};
	uint16_t ports[2] = {25, 465};

	memset(&cfg, 0, sizeof(cfg));
	cfg.tlsa_ports = ports;
	cfg.n_tlsa_ports = 2;
	pf_strv_push(&hosts, "mx1.example.test");
	pf_strv_push(&hosts, "MX1.example.test");
	withdraw_guard_endpoint_list(&cfg, &hosts, &l);
	T_CHECK(l.n == 2 && strcmp(l.v[0].host, "mx1.example.test") == 0 && l.v[0].port == 25 &&
			l.v[1].port == 465,
		"endpoints: hosts x ports, a host named twice asked once (%zu)", l.n);
	free(l.v);
	cfg.verify_endpoints.v = eps;
	cfg.verify_endpoints.n = 3;
	withdraw_guard_endpoint_list(&cfg, &hosts, &l);
	T_CHECK(l.n == 2 && strcmp(l.v[1].host, "127.0.0.2") == 0,
		"endpoints: verify_endpoints when set, port 0 being 25 (%zu)", l.n);
	free(l.v);
	pf_strv_clear(&hosts);
}

int main(void)
{
	pf_postfix pf;
	pf_err e = {0};

	test_decide();
	test_endpoint_list();
	etc = t_scratch_postfix(dir);
	write_main_cf("");
	if (postfix_open(&pf, "/usr/sbin", etc, &e) < 0) {
		printf("FAIL: open the scratch instance: %s\n", e.msg);
		return 1;
	}
	test_maincf(&pf);
	postfix_close(&pf);
	t_scratch_remove(dir);
	free(etc);
	T_DONE();
}
