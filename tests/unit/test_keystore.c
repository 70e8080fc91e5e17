/*
 * test_keystore.c - keys, certificates, CSRs and TLSA data: every algorithm
 * and curve, file modes, no-overwrite, and each kind of bad key file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "../../daemon/keystore.h"
#include "../../daemon/macro.h"
#include "../../daemon/tlsa.h"
#include "t.h"

static char dir[] = "/tmp/pftls-test-keystore-XXXXXX";

static char *path(const char *name)
{
	return pf_asprintf("%s/%s", dir, name);
}

static void put(const char *name, const char *text, mode_t mode)
{
	char *p = path(name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);

	if (fd < 0 || write(fd, text, strlen(text)) < 0)
		abort();
	close(fd);
	chmod(p, mode);
	free(p);
}

static const struct spec_case {
	const char *name;
	pf_keyspec spec;
	int bits; /* expected key size */
} specs[] = {
	{"rsa2048", {PF_ALG_RSA, 2048, NULL}, 2048},
	{"rsa3072", {PF_ALG_RSA, 3072, NULL}, 3072},
	{"ec256", {PF_ALG_ECDSA, 0, "secp256r1"}, 256},
	{"ec384", {PF_ALG_ECDSA, 0, "secp384r1"}, 384},
	{"ec521", {PF_ALG_ECDSA, 0, "secp521r1"}, 521},
};

static void test_generate(void)
{
	pf_strv names = {0};

	pf_strv_push(&names, "mx.example.com");
	pf_strv_push(&names, "mail.example.com");
	for (size_t i = 0; i < PF_ELEMENTSOF(specs); i++) {
		const struct spec_case *c = &specs[i];
		EVP_PKEY *key = NULL, *back = NULL;
		X509 *cert = NULL, *cert2 = NULL;
		pf_pubkey pk = {0}, pk2 = {0}, cpk = {0};
		pf_err e = {0};
		char *kp = pf_asprintf("%s/key-%s.pem", dir, c->name);
		char *cp = keystore_cert_path_for_key(kp);
		struct stat st;

		T_CHECK(keystore_generate(&c->spec, &key, &e) == 0, "%s: generate", c->name);
		if (!key)
			continue;
		T_CHECK(EVP_PKEY_get_bits(key) == c->bits, "%s: %d bits", c->name, c->bits);
		T_CHECK(keystore_write_key(kp, key, &e) == 0, "%s: write key", c->name);
		T_CHECK(stat(kp, &st) == 0 && (st.st_mode & 0777) == 0600, "%s: key mode 0600",
			c->name);
		T_CHECK(keystore_write_key(kp, key, &e) == -EEXIST, "%s: no overwrite", c->name);
		T_CHECK(keystore_load_key(kp, &back, &e) == 0 && EVP_PKEY_eq(key, back) == 1,
			"%s: read back", c->name);
		T_CHECK(keystore_self_signed(key, &names, &cert, &e) == 0, "%s: self-signed",
			c->name);
		T_CHECK(cert && X509_verify(cert, key) == 1, "%s: cert signed by key", c->name);
		T_CHECK(keystore_write_cert(cp, cert, &e) == 0, "%s: write cert", c->name);
		T_CHECK(keystore_load_cert(cp, &cert2, &e) == 0, "%s: read cert", c->name);
		keystore_pubkey_of_key(key, &pk, &e);
		keystore_load_pubkey(kp, &pk2, &e);
		if (cert2)
			keystore_pubkey_of_cert(cert2, &cpk, &e);
		T_STREQ(pk.spki_sha256, cpk.spki_sha256, "%s: cert matches key", c->name);
		T_STREQ(pk.spki_sha256, pk2.spki_sha256, "%s: pubkey from file", c->name);
		if (cert2) {
			X509_NAME *subj = X509_get_subject_name(cert2);
			char cn[256] = "";
			GENERAL_NAMES *sans =
				X509_get_ext_d2i(cert2, NID_subject_alt_name, NULL, NULL);
			int days = 0, secs = 0;

			X509_NAME_get_text_by_NID(subj, NID_commonName, cn, sizeof(cn));
			T_STREQ(cn, "mx.example.com", "%s: CN", c->name);
			T_CHECK(sans && sk_GENERAL_NAME_num(sans) == 2, "%s: two SANs", c->name);
			GENERAL_NAMES_free(sans);
			ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(cert2),
				       X509_get0_notAfter(cert2));
			T_CHECK(days == 36525, "%s: valid 36525 days (%d)", c->name, days);
		}
		/* TLSA 3 1 1 from the key file equals SHA-256 of the SPKI. */
		pf_tlsa_param params[] = {{3, 1, 1}, {3, 0, 1}, {3, 1, 2}};
		pf_tlsa_rdata *rd = NULL;
		char buf[200], want[200];
		T_CHECK(tlsa_for_keyfile(kp, params, 3, &rd, &e) == 0, "%s: tlsa for key: %s",
			c->name, e.msg);
		snprintf(want, sizeof(want), "3 1 1 %s", pk.spki_sha256);
		if (rd) {
			T_STREQ(tlsa_format(&rd[0], buf, sizeof(buf)), want, "%s: 3 1 1", c->name);
			T_CHECK(rd[1].len == 32 && rd[2].len == 64, "%s: 3 0 1 and 3 1 2 sizes",
				c->name);
		}
		free(rd);
		pf_pubkey_free(&pk);
		pf_pubkey_free(&pk2);
		pf_pubkey_free(&cpk);
		X509_free(cert);
		X509_free(cert2);
		EVP_PKEY_free(key);
		EVP_PKEY_free(back);
		free(kp);
		free(cp);
	}
	pf_strv_clear(&names);
}

static void test_bad_keys(void)
{
	static const struct {
		const char *name;
		const char *text;
		mode_t mode;
		const char *want; /* substring of the message */
	} bads[] = {
		{"not-pem.pem", "just some text\n", 0600, "no PEM private key"},
		{"cert-only.pem", "-----BEGIN CERTIFICATE-----\nMII=\n-----END CERTIFICATE-----\n",
		 0600, "no PEM private key"},
		{"encrypted.pem",
		 "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE "
		 "KEY-----\n",
		 0600, "encrypted"},
		{"garbage.pem",
		 "-----BEGIN PRIVATE KEY-----\nnotbase64!!\n-----END PRIVATE KEY-----\n", 0600,
		 "cannot parse"},
		{"unreadable.pem", "x", 0000, "cannot open"},
	};
	for (size_t i = 0; i < PF_ELEMENTSOF(bads); i++) {
		EVP_PKEY *key = NULL;
		pf_err e = {0};
		char *p = path(bads[i].name);

		put(bads[i].name, bads[i].text, bads[i].mode);
		/* root reads mode-0 files; test unreadable only as a non-root user */
		if (bads[i].mode == 0 && geteuid() == 0) {
			free(p);
			continue;
		}
		T_CHECK(keystore_load_key(p, &key, &e) < 0 && strstr(e.msg, bads[i].want) &&
				strstr(e.msg, bads[i].name),
			"bad key %s: %s", bads[i].name, e.msg);
		EVP_PKEY_free(key);
		free(p);
	}
	{
		EVP_PKEY *key = NULL;
		pf_err e = {0};
		char *p = path("missing.pem");
		T_CHECK(keystore_load_key(p, &key, &e) == -ENOENT, "missing key: %s", e.msg);
		free(p);
	}
	{
		pf_keyspec bad_bits = {PF_ALG_RSA, 1024, NULL},
			   bad_curve = {PF_ALG_ECDSA, 0, "secp224r1"};
		EVP_PKEY *key = NULL;
		pf_err e = {0};
		T_CHECK(keystore_generate(&bad_bits, &key, &e) == -EINVAL, "rsa 1024 refused");
		T_CHECK(keystore_generate(&bad_curve, &key, &e) == -EINVAL, "secp224r1 refused");
	}
	{
		pf_strv names = {0};
		EVP_PKEY *key = NULL;
		X509 *cert = NULL;
		pf_err e = {0};
		pf_keyspec ec = {PF_ALG_ECDSA, 0, "secp256r1"};

		pf_strv_push(&names, "bad_name..example");
		keystore_generate(&ec, &key, &e);
		T_CHECK(keystore_self_signed(key, &names, &cert, &e) == -EINVAL &&
				strstr(e.msg, "invalid host name"),
			"invalid host name refused");
		pf_strv_clear(&names);
		EVP_PKEY_free(key);
	}
}

static void test_paths(void)
{
	static const char *const cases[][2] = {
		{"/etc/postfix/key-20261122-101010.pem", "/etc/postfix/cert-20261122-101010.pem"},
		{"/etc/postfix/eckey-20261122-101010.pem",
		 "/etc/postfix/eccert-20261122-101010.pem"},
		{"key-1.pem", "cert-1.pem"},
		{"/etc/postfix/server.key", NULL},
	};
	for (size_t i = 0; i < PF_ELEMENTSOF(cases); i++) {
		char *got = keystore_cert_path_for_key(cases[i][0]);
		T_CHECK((!got && !cases[i][1]) || (got && cases[i][1] && !strcmp(got, cases[i][1])),
			"cert path for %s", cases[i][0]);
		free(got);
	}
}

/* The names of new files: what rollover and new-server-key make. */
static void test_new_names(void)
{
	static const struct {
		enum pf_alg alg;
		const char *key, *cert;
	} names[] = {
		{PF_ALG_RSA, "/etc/postfix/key-20261122-101010.pem",
		 "/etc/postfix/cert-20261122-101010.pem"},
		{PF_ALG_ECDSA, "/etc/postfix/eckey-20261122-101010.pem",
		 "/etc/postfix/eccert-20261122-101010.pem"},
	};
	const time_t t = 1795342210; /* 2026-11-22 10:10:10 UTC */

	for (size_t i = 0; i < 2; i++) {
		char *k = NULL, *c = NULL, *pair;

		keystore_new_file_names("/etc/postfix", names[i].alg, t, &k, &c);
		T_STREQ(k, names[i].key, "new key file name %s", names[i].key);
		T_STREQ(c, names[i].cert, "new certificate file name %s", names[i].cert);
		pair = keystore_cert_path_for_key(k);
		T_STREQ(pair, c, "the new key's certificate is found from its name");
		free(pair);
		free(k);
		free(c);
	}
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	test_generate();
	test_bad_keys();
	test_paths();
	test_new_names();
	if (!t_failed) {
		char *cmd = pf_asprintf("rm -rf %s", dir);
		(void)!system(cmd);
		free(cmd);
	}
	T_DONE();
}
