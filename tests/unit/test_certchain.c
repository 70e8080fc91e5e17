/*
 * test_certchain.c - certchain_check against a throwaway PKI made here with
 * OpenSSL's API (a root, an intermediate, leaves for our key and others;
 * an unrelated root; expired, not yet valid, short-lived, wildcard and
 * CN-only variants): every refusal with its verdict and its message; the
 * certificate_renew_before parser and renewal moment; the file rules
 * (symlink, FIFO, size, count, a private key); keystore_write_key_chain.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "../../daemon/certchain.h"
#include "../../daemon/keystore_chain.h"
#include "../../daemon/smtp_probe.h"
#include "t.h"

#define NOW ((int64_t)1800000000) /* 2027-01-15 */
#define DAY ((int64_t)86400)

static char dir[] = "/tmp/pftls-certchain-XXXXXX";

static EVP_PKEY *gen(enum pf_alg alg)
{
	pf_keyspec spec = {alg, 2048, "secp256r1"};
	EVP_PKEY *k = NULL;

	if (keystore_generate(&spec, &k, NULL) < 0)
		abort();
	return k;
}

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext || !X509_add_ext(x, ext, -1))
		abort();
	X509_EXTENSION_free(ext);
}

/* A certificate for key named cn (SANs san, or none), issued by issuer
 * with issuer_key (NULL: self-signed), valid nb to na. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, const char *san, X509 *issuer,
		       EVP_PKEY *issuer_key, bool ca, int64_t nb, int64_t na)
{
	static long serial = 0x1000;
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), ++serial);
	ASN1_TIME_set(X509_getm_notBefore(x), (time_t)nb);
	ASN1_TIME_set(X509_getm_notAfter(x), (time_t)na);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
	X509_NAME_free(name);
	X509_set_pubkey(x, key);
	add_ext(x, issuer, NID_subject_key_identifier, "hash");
	if (issuer)
		add_ext(x, issuer, NID_authority_key_identifier, "keyid:always");
	if (ca) {
		add_ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		add_ext(x, issuer, NID_basic_constraints, "CA:FALSE");
		add_ext(x, issuer, NID_ext_key_usage, "serverAuth");
		if (san)
			add_ext(x, issuer, NID_subject_alt_name, san);
	}
	if (!X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()))
		abort();
	return x;
}

static char *write_pem(const char *name, X509 *const *certs, const char *extra)
{
	char *path = pf_asprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");

	for (; *certs; certs++)
		PEM_write_X509(f, *certs);
	if (extra)
		fputs(extra, f);
	fclose(f);
	return path;
}

/* The PKI every case draws on. */
static struct {
	EVP_PKEY *root_key, *inter_key, *other_root_key, *key, *other_key, *rsa_key;
	X509 *root, *inter, *other_root, *other_inter, *old_inter;
	pf_pubkey pub, rsa_pub;
	char *ca_file;
} pki;

static void make_pki(void)
{
	X509 *roots[2] = {NULL, NULL};

	pki.root_key = gen(PF_ALG_ECDSA);
	pki.inter_key = gen(PF_ALG_ECDSA);
	pki.other_root_key = gen(PF_ALG_ECDSA);
	pki.key = gen(PF_ALG_ECDSA);
	pki.other_key = gen(PF_ALG_ECDSA);
	pki.rsa_key = gen(PF_ALG_RSA);
	pki.root = make_cert(pki.root_key, "Test Root", NULL, NULL, NULL, true, NOW - 3650 * DAY,
			     NOW + 3650 * DAY);
	pki.inter = make_cert(pki.inter_key, "Test Intermediate", NULL, pki.root, pki.root_key,
			      true, NOW - 365 * DAY, NOW + 365 * DAY);
	pki.old_inter = make_cert(pki.inter_key, "Test Intermediate", NULL, pki.root, pki.root_key,
				  true, NOW - 365 * DAY, NOW - 2 * DAY);
	pki.other_root = make_cert(pki.other_root_key, "Other Root", NULL, NULL, NULL, true,
				   NOW - 3650 * DAY, NOW + 3650 * DAY);
	pki.other_inter = make_cert(pki.inter_key, "Test Intermediate", NULL, pki.other_root,
				    pki.other_root_key, true, NOW - 365 * DAY, NOW + 365 * DAY);
	if (keystore_pubkey_of_key(pki.key, &pki.pub, NULL) < 0 ||
	    keystore_pubkey_of_key(pki.rsa_key, &pki.rsa_pub, NULL) < 0)
		abort();
	roots[0] = pki.root;
	pki.ca_file = write_pem("ca.pem", roots, NULL);
}

enum issuer { BY_INTER, BY_OTHER_INTER, BY_OLD_INTER };

typedef struct chain_case {
	const char *name;
	enum { K_OURS, K_OTHER, K_RSA } key;
	const char *cn;
	const char *san; /* NULL: no subjectAltName */
	int64_t nb, na;  /* relative to NOW */
	enum issuer issuer;
	const char *layout; /* L leaf, I its issuer, R root, X unrelated root, O other key's leaf */
	const char *hosts;
	const char *renew_before;
	enum pf_chain_verdict verdict;
	const char *msg_part;
} chain_case;

static const chain_case chain_cases[] = {
	{"leaf + intermediate", K_OURS, "mx.example.com", "DNS:mx.example.com", -DAY, 89 * DAY,
	 BY_INTER, "LI", "mx.example.com", "33%", PF_CHAIN_OK, NULL},
	{"leaf + intermediate + root", K_OURS, "mx.example.com",
	 "DNS:mx.example.com,DNS:mx2.example.com", -DAY, 89 * DAY, BY_INTER, "LIR",
	 "mx.example.com mx2.example.com", "30d", PF_CHAIN_OK, NULL},
	{"RSA leaf", K_RSA, "mx.example.com", "DNS:mx.example.com", -DAY, 89 * DAY, BY_INTER, "LI",
	 "mx.example.com", "33%", PF_CHAIN_OK, NULL},
	{"host name case and trailing dot", K_OURS, "mx", "DNS:MX.Example.COM", -DAY, 89 * DAY,
	 BY_INTER, "LI", "mx.example.com.", "33%", PF_CHAIN_OK, NULL},
	{"other key", K_OTHER, "mx.example.com", "DNS:mx.example.com", -DAY, 89 * DAY, BY_INTER,
	 "LI", "mx.example.com", "33%", PF_CHAIN_NOT_OUR_KEY,
	 "the certificate's public key is not the key's (SPKI SHA-256 "},
	{"other names", K_OURS, "mx.example.com", "DNS:other.example.com", -DAY, 89 * DAY, BY_INTER,
	 "LI", "mx.example.com", "33%", PF_CHAIN_NAMES,
	 "does not name mx.example.com (it names other.example.com)"},
	{"one name of two missing", K_OURS, "mx.example.com", "DNS:mx.example.com", -DAY, 89 * DAY,
	 BY_INTER, "LI", "mx.example.com mx2.example.com", "33%", PF_CHAIN_NAMES,
	 "does not name mx2.example.com"},
	{"CN ignored beside a SAN", K_OURS, "mx.example.com", "DNS:other.example.com", -DAY,
	 89 * DAY, BY_INTER, "LI", "mx.example.com", "33%", PF_CHAIN_NAMES, "does not name"},
	{"CN only, no SAN", K_OURS, "mx.example.com", NULL, -DAY, 89 * DAY, BY_INTER, "LI",
	 "mx.example.com", "33%", PF_CHAIN_OK, NULL},
	{"CN only, other name", K_OURS, "other.example.com", NULL, -DAY, 89 * DAY, BY_INTER, "LI",
	 "mx.example.com", "33%", PF_CHAIN_NAMES, "(it names no DNS subjectAltName)"},
	{"wildcard covers one label", K_OURS, "x", "DNS:*.example.com", -DAY, 89 * DAY, BY_INTER,
	 "LI", "mx.example.com mx2.example.com", "33%", PF_CHAIN_OK, NULL},
	{"wildcard not the parent", K_OURS, "x", "DNS:*.example.com", -DAY, 89 * DAY, BY_INTER,
	 "LI", "example.com", "33%", PF_CHAIN_NAMES, "does not name example.com"},
	{"wildcard not two labels", K_OURS, "x", "DNS:*.example.com", -DAY, 89 * DAY, BY_INTER,
	 "LI", "a.mx.example.com", "33%", PF_CHAIN_NAMES, "does not name a.mx.example.com"},
	{"partial wildcard refused", K_OURS, "x", "DNS:m*.example.com", -DAY, 89 * DAY, BY_INTER,
	 "LI", "mx.example.com", "33%", PF_CHAIN_NAMES, "does not name mx.example.com"},
	{"not yet valid", K_OURS, "mx.example.com", "DNS:mx.example.com", DAY, 90 * DAY, BY_INTER,
	 "LI", "mx.example.com", "33%", PF_CHAIN_NOT_YET_VALID,
	 "the certificate is not valid yet (notBefore in 1d"},
	{"expired", K_OURS, "mx.example.com", "DNS:mx.example.com", -90 * DAY, -2 * DAY, BY_INTER,
	 "LI", "mx.example.com", "33%", PF_CHAIN_EXPIRED,
	 "the certificate has expired (notAfter 2d"},
	{"less than 33% left", K_OURS, "mx.example.com", "DNS:mx.example.com", -80 * DAY, 20 * DAY,
	 BY_INTER, "LI", "mx.example.com", "33%", PF_CHAIN_RENEW_DUE,
	 "only 20d of the certificate's 100d lifetime left, renewal was due 13d"},
	{"more than 10% left", K_OURS, "mx.example.com", "DNS:mx.example.com", -80 * DAY, 20 * DAY,
	 BY_INTER, "LI", "mx.example.com", "10%", PF_CHAIN_OK, NULL},
	{"less than 30d left", K_OURS, "mx.example.com", "DNS:mx.example.com", -80 * DAY, 20 * DAY,
	 BY_INTER, "LI", "mx.example.com", "30d", PF_CHAIN_RENEW_DUE, "renewal was due 10d"},
	{"more than 2w left", K_OURS, "mx.example.com", "DNS:mx.example.com", -80 * DAY, 20 * DAY,
	 BY_INTER, "LI", "mx.example.com", "2w", PF_CHAIN_OK, NULL},
	{"unrelated root", K_OURS, "mx.example.com", "DNS:mx.example.com", -DAY, 89 * DAY,
	 BY_OTHER_INTER, "LI", "mx.example.com", "33%", PF_CHAIN_UNTRUSTED,
	 ": unable to get local issuer certificate (at depth 1)"},
	{"unrelated root in the file", K_OURS, "mx.example.com", "DNS:mx.example.com", -DAY,
	 89 * DAY, BY_OTHER_INTER, "LIX", "mx.example.com", "33%", PF_CHAIN_UNTRUSTED,
	 "self-signed certificate in certificate chain"},
	{"intermediate missing", K_OURS, "mx.example.com", "DNS:mx.example.com", -DAY, 89 * DAY,
	 BY_INTER, "L", "mx.example.com", "33%", PF_CHAIN_UNTRUSTED,
	 "unable to get local issuer certificate (at depth 0)"},
	{"intermediate expired", K_OURS, "mx.example.com", "DNS:mx.example.com", -DAY, 89 * DAY,
	 BY_OLD_INTER, "LI", "mx.example.com", "33%", PF_CHAIN_UNTRUSTED,
	 "certificate has expired (at depth 1)"},
	{"wrong order", K_OURS, "mx.example.com", "DNS:mx.example.com", -DAY, 89 * DAY, BY_INTER,
	 "IL", "mx.example.com", "33%", PF_CHAIN_ORDER,
	 "the key's certificate is number 2, not first"},
	{"root before intermediate", K_OURS, "mx.example.com", "DNS:mx.example.com", -DAY, 89 * DAY,
	 BY_INTER, "LRI", "mx.example.com", "33%", PF_CHAIN_ORDER,
	 "certificate 2 (CN = Test Root) is not the issuer of certificate 1"},
	{"unrelated extra certificate", K_OURS, "mx.example.com", "DNS:mx.example.com", -DAY,
	 89 * DAY, BY_INTER, "LIX", "mx.example.com", "33%", PF_CHAIN_ORDER,
	 "certificate 3 (CN = Other Root) is not the issuer of certificate 2"},
	{"another leaf appended", K_OURS, "mx.example.com", "DNS:mx.example.com", -DAY, 89 * DAY,
	 BY_INTER, "LIO", "mx.example.com", "33%", PF_CHAIN_ORDER,
	 "certificate 3 (CN = mx.example.com) is not the issuer of certificate 2"},
};

static void test_chains(void)
{
	for (size_t i = 0; i < sizeof(chain_cases) / sizeof(chain_cases[0]); i++) {
		const chain_case *c = &chain_cases[i];
		EVP_PKEY *k = c->key == K_OURS  ? pki.key
			      : c->key == K_RSA ? pki.rsa_key
						: pki.other_key;
		X509 *issuer = c->issuer == BY_INTER       ? pki.inter
			       : c->issuer == BY_OLD_INTER ? pki.old_inter
							   : pki.other_inter;
		X509 *leaf = make_cert(k, c->cn, c->san, issuer, pki.inter_key, false, NOW + c->nb,
				       NOW + c->na);
		X509 *other = make_cert(pki.other_key, "mx.example.com", "DNS:mx.example.com",
					issuer, pki.inter_key, false, NOW - DAY, NOW + DAY);
		X509 *list[8] = {NULL};
		pf_strv hosts = {0};
		pf_chain_policy p = {.key = c->key == K_RSA ? &pki.rsa_pub : &pki.pub,
				     .hostnames = &hosts,
				     .ca_file = pki.ca_file,
				     .now = NOW};
		pf_chain out = {0};
		pf_err e = {0};
		char fname[32], *path;
		enum pf_chain_verdict v;
		size_t n = 0;

		for (const char *l = c->layout; *l; l++)
			list[n++] = *l == 'L'   ? leaf
				    : *l == 'I' ? issuer
				    : *l == 'R' ? pki.root
				    : *l == 'X' ? pki.other_root
						: other;
		snprintf(fname, sizeof(fname), "chain-%zu.pem", i);
		path = write_pem(fname, list, NULL);
		pf_split_list(c->hosts, &hosts);
		if (certchain_parse_renew_before(c->renew_before, &p.renew_before, &e) < 0)
			abort();
		v = certchain_check(path, &p, &out, &e);
		if (v == PF_CHAIN_OK && i < 2) {
			/* Written back and read again: the same chain. */
			char *copy = pf_asprintf("%s.copy", path);
			pf_chain again = {0};

			T_CHECK(certchain_write(copy, &out, &e) == 0 &&
					certchain_write(copy, &out, &e) == -EEXIST &&
					certchain_check(copy, &p, &again, &e) == PF_CHAIN_OK &&
					strcmp(again.serial, out.serial) == 0 &&
					sk_X509_num(again.certs) == (int)n,
				"%s: certchain_write, never replacing, reads back (%s)", c->name,
				e.msg);
			certchain_free(&again);
			pf_err_clear(&e);
			free(copy);
		}
		T_CHECK(v == c->verdict, "%s: verdict %s (expected %s): %s", c->name,
			certchain_verdict_name(v), certchain_verdict_name(c->verdict), e.msg);
		{
			/* The same chain as a live server presents it (the
			 * probe's DER): the same verdict, the same reason. */
			uint8_t der[PF_PROBE_CHAIN_MAX];
			size_t dl = 0;
			pf_chain live = {0};
			pf_err e2 = {0};
			enum pf_chain_verdict v2;

			for (size_t j = 0; j < n; j++) {
				unsigned char *q = der + dl;

				dl += (size_t)i2d_X509(list[j], &q);
			}
			pf_chain_policy p2 = p;

			/* The renewal point is no matter for a live chain. */
			p2.renew_before = (pf_renew_before){.percent = false, .value = 0};
			v2 = certchain_check_der(der, dl, "presented chain", &p2, &live, &e2);
			T_CHECK(v2 == (c->verdict == PF_CHAIN_RENEW_DUE ? PF_CHAIN_OK
									: c->verdict) &&
					(v2 == PF_CHAIN_OK
						 ? live.certs && sk_X509_num(live.certs) == (int)n
						 : strstr(e2.msg, c->msg_part) &&
							   strncmp(e2.msg,
								   "presented chain: ", 17) == 0),
				"%s: presented as DER: %s %s", c->name, certchain_verdict_name(v2),
				e2.msg);
			certchain_free(&live);
		}
		if (c->verdict == PF_CHAIN_OK) {
			T_CHECK(out.certs && sk_X509_num(out.certs) == (int)n &&
					out.not_before == NOW + c->nb &&
					out.not_after == NOW + c->na &&
					out.renew_at == certchain_renew_at(&p.renew_before,
									   NOW + c->nb,
									   NOW + c->na) &&
					out.renew_at > NOW && out.serial[0] && e.code == 0,
				"%s: chain of %zu, dates, renewal at +%llds, serial %s", c->name, n,
				(long long)(out.renew_at - NOW), out.serial);
		} else {
			T_CHECK(!out.certs && e.msg[0] && strncmp(e.msg, path, strlen(path)) == 0 &&
					strstr(e.msg, c->msg_part) && !strchr(e.msg, '\n') &&
					e.exit_code == PF_EXIT_FAIL,
				"%s: refused naming the file: %s", c->name, e.msg);
		}
		certchain_free(&out);
		pf_strv_clear(&hosts);
		X509_free(leaf);
		X509_free(other);
		free(path);
	}
}

/* A presented chain that is not DER certificates, or too many. */
static void test_der(void)
{
	X509 *leaf = make_cert(pki.key, "mx", "DNS:mx.example.com", pki.inter, pki.inter_key, false,
			       NOW - DAY, NOW + DAY);
	uint8_t der[PF_PROBE_CHAIN_MAX], *q = der;
	size_t one = (size_t)i2d_X509(leaf, &q), dl = one;
	pf_strv hosts = {0};
	pf_chain_policy p = {
		.key = &pki.pub, .hostnames = &hosts, .ca_file = pki.ca_file, .now = NOW};
	const struct {
		const char *name;
		size_t len;
		const char *msg;
	} cases[] = {
		{"nothing", 0, "presented chain: no certificate"},
		{"a truncated certificate", one - 1,
		 "presented chain: certificate 1 cannot be parsed"},
		{"a certificate and garbage", one + 5,
		 "presented chain: certificate 2 cannot be parsed"},
		{"nine certificates", 9 * one, "presented chain: more than 8 certificates"},
	};

	pf_split_list("mx.example.com", &hosts);
	for (int i = 1; i < 9; i++) {
		memcpy(der + dl, der, one);
		dl += one;
	}
	for (size_t i = 0; i < PF_ELEMENTSOF(cases); i++) {
		uint8_t copy[PF_PROBE_CHAIN_MAX];
		pf_chain out = {0};
		pf_err e = {0};
		enum pf_chain_verdict v;

		memcpy(copy, der, cases[i].len);
		if (i == 2)
			memset(copy + one, 0xff, 5);
		v = certchain_check_der(copy, cases[i].len, "presented chain", &p, &out, &e);
		T_CHECK(v == PF_CHAIN_MALFORMED && !out.certs && strstr(e.msg, cases[i].msg),
			"presented chain, %s: refused: %s", cases[i].name, e.msg);
	}
	pf_strv_clear(&hosts);
	X509_free(leaf);
}

/* The file rules: what is refused before any certificate is looked at. */
static void test_files(void)
{
	X509 *leaf = make_cert(pki.key, "mx.example.com", "DNS:mx.example.com", pki.inter,
			       pki.inter_key, false, NOW - DAY, NOW + 89 * DAY);
	X509 *good[] = {leaf, pki.inter, NULL};
	X509 *nine[] = {leaf,     pki.inter, pki.root, pki.root, pki.root,
			pki.root, pki.root,  pki.root, pki.root, NULL};
	char *good_path = write_pem("good.pem", good, NULL);
	char *link = pf_asprintf("%s/link.pem", dir), *fifo = pf_asprintf("%s/fifo.pem", dir);
	char *big = pf_asprintf("%s/big.pem", dir);
	char *keyfile = pf_asprintf("%s/with-key.pem", dir);
	char *blob = pf_malloc(PF_CHAIN_MAX_BYTES + 2);
	FILE *f;
	struct {
		const char *name;
		char *path;
		enum pf_chain_verdict verdict;
		const char *msg_part;
	} cases[] = {
		{"good", good_path, PF_CHAIN_OK, NULL},
		{"symlink", link, PF_CHAIN_UNREADABLE, "is a symbolic link"},
		{"FIFO", fifo, PF_CHAIN_UNREADABLE, "is not a regular file"},
		{"missing", pf_asprintf("%s/missing.pem", dir), PF_CHAIN_UNREADABLE,
		 "No such file"},
		{"directory", pf_strdup(dir), PF_CHAIN_UNREADABLE, "is not a regular file"},
		{"too large", big, PF_CHAIN_UNREADABLE, "is too large"},
		{"private key", keyfile, PF_CHAIN_HAS_KEY, "holds a private key"},
		{"nine certificates", write_pem("nine.pem", nine, NULL), PF_CHAIN_MALFORMED,
		 "more than 8 certificates"},
		{"empty", write_pem("empty.pem", (X509 *[]){NULL}, NULL), PF_CHAIN_MALFORMED,
		 "no PEM certificate in the file"},
		{"text only", write_pem("text.pem", (X509 *[]){NULL}, "issued!\n"),
		 PF_CHAIN_MALFORMED, "no PEM certificate in the file"},
		{"a CRL block",
		 write_pem("crl.pem", good,
			   "-----BEGIN X509 CRL-----\nMIIB\n"
			   "-----END X509 CRL-----\n"),
		 PF_CHAIN_MALFORMED, "block 3 is not a PEM certificate"},
		{"bad base64",
		 write_pem("b64.pem", good,
			   "-----BEGIN CERTIFICATE-----\n!!!!\n"
			   "-----END CERTIFICATE-----\n"),
		 PF_CHAIN_MALFORMED, "certificate 3 is not a valid PEM block"},
		{"not DER",
		 write_pem("der.pem", good,
			   "-----BEGIN CERTIFICATE-----\nMIIB\n"
			   "-----END CERTIFICATE-----\n"),
		 PF_CHAIN_MALFORMED, "certificate 3 cannot be parsed"},
		{"text around blocks", write_pem("around.pem", good, "\n# comment\n"), PF_CHAIN_OK,
		 NULL},
	};
	pf_strv hosts = {0};
	pf_chain_policy p = {
		.key = &pki.pub, .hostnames = &hosts, .ca_file = pki.ca_file, .now = NOW};

	pf_strv_push(&hosts, "mx.example.com");
	(void)!symlink(good_path, link);
	mkfifo(fifo, 0600);
	memset(blob, 'A', PF_CHAIN_MAX_BYTES + 1);
	f = fopen(big, "w");
	fwrite(blob, 1, PF_CHAIN_MAX_BYTES + 1, f);
	fclose(f);
	f = fopen(keyfile, "w");
	PEM_write_X509(f, leaf);
	PEM_write_PrivateKey(f, pki.key, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pf_chain out = {0};
		pf_err e = {0};
		enum pf_chain_verdict v = certchain_check(cases[i].path, &p, &out, &e);

		T_CHECK(v == cases[i].verdict, "file %s: verdict %s: %s", cases[i].name,
			certchain_verdict_name(v), e.msg);
		if (cases[i].msg_part)
			T_CHECK(strstr(e.msg, cases[i].path) && strstr(e.msg, cases[i].msg_part) &&
					!out.certs && !strchr(e.msg, '\n'),
				"file %s: message: %s", cases[i].name, e.msg);
		certchain_free(&out);
		free(cases[i].path);
	}
	{
		pf_chain out = {0};
		pf_err e = {0};
		enum pf_chain_verdict v;

		pf_strv none = {0};

		good_path = write_pem("good.pem", good, NULL);
		p.hostnames = &none;
		v = certchain_check(good_path, &p, &out, &e);
		T_CHECK(v == PF_CHAIN_NAMES && strstr(e.msg, "no host names to check"),
			"no host names: refused (%s)", e.msg);
		free(good_path);
		p.hostnames = &hosts;
		p.ca_file = "/nonexistent/ca.pem";
		good_path = write_pem("good.pem", good, NULL);
		v = certchain_check(good_path, &p, &out, &e);
		T_CHECK(v == PF_CHAIN_CA_FILE && strstr(e.msg, "cannot use the CA file "
							       "/nonexistent/ca.pem: No such file"),
			"CA file missing: %s", e.msg);
		/* An intermediate in the CA file is no trust anchor: only a
		 * self-signed root ends a chain (no X509_V_FLAG_PARTIAL_CHAIN), as
		 * for a sender checking against its system's roots. */
		p.ca_file = good_path;
		v = certchain_check(good_path, &p, &out, &e);
		T_CHECK(v == PF_CHAIN_UNTRUSTED &&
				strstr(e.msg, "unable to get issuer certificate"),
			"intermediate as the CA file: not a trust anchor (%s)", e.msg);
		certchain_free(&out);
		free(good_path);
	}
	free(blob);
	pf_strv_clear(&hosts);
	X509_free(leaf);
}

static void test_renew_before(void)
{
	static const struct {
		const char *s;
		int r;
		bool percent;
		int64_t value;
	} cases[] = {
		{"33%", 0, true, 33},        {"1%", 0, true, 1},         {"99%", 0, true, 99},
		{"30d", 0, false, 30 * DAY}, {"2w", 0, false, 14 * DAY}, {"3600", 0, false, 3600},
		{"0", 0, false, 0},          {"0%", -EINVAL, 0, 0},      {"100%", -EINVAL, 0, 0},
		{"%", -EINVAL, 0, 0},        {"x%", -EINVAL, 0, 0},      {"33 %", -EINVAL, 0, 0},
		{"-1", -EINVAL, 0, 0},       {"", -EINVAL, 0, 0},        {"3.5%", -EINVAL, 0, 0},
		{"30y", -EINVAL, 0, 0},      {"+5%", -EINVAL, 0, 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pf_renew_before rb = {true, 12345};
		pf_err e = {0};
		int r = certchain_parse_renew_before(cases[i].s, &rb, &e);

		if (cases[i].r == 0)
			T_CHECK(r == 0 && rb.percent == cases[i].percent &&
					rb.value == cases[i].value,
				"renew_before \"%s\" parsed (%d %lld)", cases[i].s, rb.percent,
				(long long)rb.value);
		else
			T_CHECK(r == cases[i].r && rb.value == 12345 &&
					e.exit_code == PF_EXIT_USAGE && strstr(e.msg, "percentage"),
				"renew_before \"%s\" refused, nothing changed: %s", cases[i].s,
				e.msg);
	}

	static const struct {
		pf_renew_before rb;
		int64_t nb, na, due;
	} at[] = {
		{{true, 33}, 0, 90 * DAY, 90 * DAY - 2566080}, {{true, 50}, 1000, 3000, 2000},
		{{false, 30 * DAY}, 0, 90 * DAY, 60 * DAY},    {{false, 100 * DAY}, 0, 90 * DAY, 0},
		{{false, 0}, 0, 90 * DAY, 90 * DAY},           {{true, 33}, 500, 500, 500},
	};
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++)
		T_CHECK(certchain_renew_at(&at[i].rb, at[i].nb, at[i].na) == at[i].due,
			"renew_at %zu: %lld", i,
			(long long)certchain_renew_at(&at[i].rb, at[i].nb, at[i].na));
}

static void test_key_chain_file(void)
{
	X509 *leaf = make_cert(pki.key, "mx.example.com", "DNS:mx.example.com", pki.inter,
			       pki.inter_key, false, NOW - DAY, NOW + 89 * DAY);
	STACK_OF(X509) *chain = sk_X509_new_null();
	char *path = pf_asprintf("%s/chain-files/eckey-chain.pem", dir);
	char *sub = pf_asprintf("%s/chain-files", dir);
	pf_pem_info info = {0};
	EVP_PKEY *back = NULL;
	pf_pubkey pk = {0};
	struct stat st;
	pf_err e = {0};
	int r;

	mkdir(sub, 0700);
	sk_X509_push(chain, leaf);
	sk_X509_push(chain, pki.inter);
	for (int round = 0; round < 2; round++) {
		r = keystore_write_key_chain(path, pki.key, chain, &e);
		T_CHECK(r == 0 && stat(path, &st) == 0 && (st.st_mode & 0777) == 0600,
			"key + chain written, mode 0600 (round %d: %s)", round, e.msg);
	}
	T_CHECK(keystore_probe(path, &info, &e) == 0 && info.has_key &&
			info.key_alg == PF_ALG_ECDSA && info.n_certs == 2,
		"key + chain file: a key and 2 certificates (%s)", e.msg);
	T_CHECK(keystore_load_key(path, &back, &e) == 0 &&
			keystore_pubkey_of_key(back, &pk, &e) == 0 &&
			strcmp(pk.spki_sha256, pki.pub.spki_sha256) == 0,
		"key + chain file: the key reads back");
	pf_pubkey_free(&pk);
	EVP_PKEY_free(back);
	r = keystore_write_key_chain(path, pki.other_key, chain, &e);
	T_CHECK(r == -EINVAL && strstr(e.msg, "the certificate does not belong to the key"),
		"another key's chain refused: %s", e.msg);
	T_CHECK(keystore_probe(path, &info, &e) == 0 && info.n_certs == 2,
		"refused write left the file alone");
	sk_X509_free(chain);
	X509_free(leaf);
	free(path);
	free(sub);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	make_pki();
	test_chains();
	test_der();
	test_files();
	test_renew_before();
	test_key_chain_file();
	t_scratch_remove(dir);
	T_DONE();
}
