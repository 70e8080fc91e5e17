/*
 * fuzz_cert_chain.c - certchain_check_fd on arbitrary chain file contents,
 * against a fixed key (ECDSA P-256, its public half below), host names
 * mx.example.test and mx2.example.test, a fixed root as the CA file,
 * renew_before 33% and a fixed now (2027-01-15): the seeds of
 * corpus/cert_chain/ (made once by tests/fuzz/cert_chain_seeds.py with
 * Python's cryptography package) stay meaningful for ever.
 *
 * Each input is written to one memfd (memory only) and checked through
 * its descriptor, named /proc/self/fd/N.  An input whose first octet is
 * 0x00 is DER instead: the rest is cut into DER objects (by their outer
 * SEQUENCE length; what does not fit is the last piece) and each is
 * written as a PEM CERTIFICATE block, so mutations reach the certificate
 * checks rather than stopping at base64 (seeds der-*).  Besides no crash, leak or
 * out-of-bounds access, the properties checked are:
 *   - a refused chain gets a verdict other than ok, exit code 1, one line
 *     of printable ASCII naming the file, and nothing returned;
 *   - an accepted chain: its leaf carries our key's SPKI, its names cover
 *     both host names by a model written here (RFC 6125: DNS SANs, CN only
 *     without one; a wildcard only as a whole first label, for one label),
 *     it verifies against the root here (at now, TLS server purpose), each
 *     certificate is issued by the next, and now lies between notBefore
 *     and the renewal moment, which lies before notAfter.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "../../daemon/certchain.h"
#include "fuzz.h"

#define FUZZ_MAX_LEN 16384

#define FUZZ_NOW ((int64_t)1800000000)

static const char root_pem[] = "-----BEGIN CERTIFICATE-----\n"
			       "MIIBXTCCAQKgAwIBAgICUAEwCgYIKoZIzj0EAwIwFDESMBAGA1UEAwwJRnV6eiBS\n"
			       "b290MCAXDTI1MDEwMTAwMDAwMFoYDzIxMjUwMTAxMDAwMDAwWjAUMRIwEAYDVQQD\n"
			       "DAlGdXp6IFJvb3QwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAATxnX3951Zf6iWn\n"
			       "YogNFPxOZUIzLC3K9x8CvfYlqUlMj5Ic403dvQ0kfPzEoSn03vOMIfU5UYBJSMKD\n"
			       "p3croe08o0IwQDAdBgNVHQ4EFgQUEtRHU5h2jsUFkyVtE1q5TLNV4rQwDwYDVR0T\n"
			       "AQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAQYwCgYIKoZIzj0EAwIDSQAwRgIhANN5\n"
			       "m1jnXCAs+7uwyvMh6vf5PMLerLesr0FZoHcGr+59AiEAqx6TrozrZX1n2kSQGEZJ\n"
			       "j7IQBCCsBQ/Cgmws1i+q9+Y=\n"
			       "-----END CERTIFICATE-----\n";

static const char key_pub_pem[] =
	"-----BEGIN PUBLIC KEY-----\n"
	"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEfrim1DCo1DNp4CiNziGCse1DOTLg\n"
	"sDom1vjP1NYTGA0WIsFNDwHMW/dToLXy4rEHQhstF9JV/bjWefxcaDXARQ==\n"
	"-----END PUBLIC KEY-----\n";

static int memfd = -1;
static char path[64], ca_path[64];
static pf_pubkey key;
static pf_strv hosts;
static X509_STORE *store;

/* A memfd holding len bytes of data.  Aborts on failure. */
static int memfd_with(const char *name, const void *data, size_t len)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0 || (len && write(fd, data, len) != (ssize_t)len))
		abort();
	return fd;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	BIO *bio = BIO_new_mem_buf(key_pub_pem, -1);
	EVP_PKEY *pub = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
	int ca_fd;

	(void)argc;
	(void)argv;
	if (!pub || keystore_pubkey_of_key(pub, &key, NULL) < 0)
		abort();
	EVP_PKEY_free(pub);
	BIO_free(bio);
	memfd = memfd_with("fuzz-cert-chain", NULL, 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	ca_fd = memfd_with("fuzz-cert-chain-ca", root_pem, sizeof(root_pem) - 1);
	snprintf(ca_path, sizeof(ca_path), "/proc/self/fd/%d", ca_fd);
	pf_split_list("mx.example.test mx2.example.test", &hosts);
	store = X509_STORE_new();
	if (!store || !X509_STORE_load_file(store, ca_path))
		abort();
	return 0;
}

static void put_bytes(const void *data, size_t size)
{
	const uint8_t *p = data;
	size_t left = size;

	while (left > 0) {
		ssize_t n = write(memfd, p, left);

		if (n <= 0)
			abort();
		p += n;
		left -= (size_t)n;
	}
}

/* The length of the DER object at p (at most left octets): its outer
 * tag and length, or left when they do not fit. */
static size_t der_length(const uint8_t *p, size_t left)
{
	size_t len, hdr = 2;

	if (left < 2)
		return left;
	len = p[1];
	if (len & 0x80) {
		size_t n = len & 0x7f;

		if (n == 0 || n > 3 || left < 2 + n)
			return left;
		len = 0;
		for (size_t i = 0; i < n; i++)
			len = len << 8 | p[2 + i];
		hdr += n;
	}
	return hdr + len > left ? left : hdr + len;
}

/* Append the PEM CERTIFICATE block of der[0..n) to out at *used, exactly
 * as PEM_write_bio(bio, "CERTIFICATE", "", der, n) writes it: 64 base64
 * characters (48 octets) a line.  Here, not through a memory BIO, because
 * the BIO's allocations were a tenth of the harness's time. */
static void append_pem(char *out, size_t *used, const uint8_t *der, size_t n)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----\n",
			  end[] = "-----END CERTIFICATE-----\n";
	size_t o = *used;

	memcpy(out + o, begin, sizeof(begin) - 1);
	o += sizeof(begin) - 1;
	for (size_t i = 0; i < n; i += 48) {
		size_t k = n - i < 48 ? n - i : 48;

		o += (size_t)EVP_EncodeBlock((unsigned char *)out + o, der + i, (int)k);
		out[o++] = '\n';
	}
	memcpy(out + o, end, sizeof(end) - 1);
	*used = o + sizeof(end) - 1;
}

static void put_input(const uint8_t *data, size_t size)
{
	/* Each object of n >= 1 octets takes at most 64 + 4 * (n + 2) / 3 +
	 * n / 48 + 1 characters: 69 per input octet at worst.  Grown, never
	 * shrunk, so one allocation for the whole run. */
	static char *out;
	static size_t cap;
	size_t used = 0;

	if (ftruncate(memfd, 0) < 0 || lseek(memfd, 0, SEEK_SET) < 0)
		abort();
	if (size == 0 || data[0] != 0x00) {
		put_bytes(data, size);
		return;
	}
	if (cap < 69 * size + 64) {
		cap = 69 * size + 64;
		free(out);
		if (!(out = malloc(cap)))
			abort();
	}
	for (size_t off = 1; off < size;) {
		size_t n = der_length(data + off, size - off);

		append_pem(out, &used, data + off, n);
		off += n;
	}
	put_bytes(out, used);
}

/* Whether pattern (a certificate's name, len octets) covers host, by the
 * model: equal ignoring case and one trailing dot, or "*." followed by
 * what follows host's first label, when that holds a dot. */
static bool model_match(const unsigned char *pattern, size_t len, const char *host)
{
	size_t hl = strlen(host);
	const char *rest;

	if (memchr(pattern, '\0', len))
		return false;
	if (len && pattern[len - 1] == '.')
		len--;
	if (hl && host[hl - 1] == '.')
		hl--;
	if (len == hl && strncasecmp((const char *)pattern, host, hl) == 0)
		return true;
	if (len < 3 || pattern[0] != '*' || pattern[1] != '.')
		return false;
	rest = memchr(host, '.', hl);
	if (!rest || rest == host || !memchr(pattern + 2, '.', len - 2))
		return false;
	rest++;
	return (size_t)(host + hl - rest) == len - 2 &&
	       strncasecmp((const char *)pattern + 2, rest, len - 2) == 0;
}

static bool model_covers(X509 *leaf, const char *host)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
	X509_NAME *subj = X509_get_subject_name(leaf);
	bool any_dns = false, covered = false;

	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

		if (g->type != GEN_DNS)
			continue;
		any_dns = true;
		covered = covered || model_match(ASN1_STRING_get0_data(g->d.dNSName),
						 (size_t)ASN1_STRING_length(g->d.dNSName), host);
	}
	GENERAL_NAMES_free(gens);
	for (int i = -1; !any_dns && !covered &&
			 (i = X509_NAME_get_index_by_NID(subj, NID_commonName, i)) >= 0;) {
		unsigned char *utf8 = NULL;
		int n = ASN1_STRING_to_UTF8(&utf8,
					    X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i)));

		covered = n > 0 && model_match(utf8, (size_t)n, host);
		OPENSSL_free(utf8);
	}
	ERR_clear_error();
	return covered;
}

static bool verifies(STACK_OF(X509) * certs)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	bool ok;

	for (int i = 1; i < sk_X509_num(certs); i++)
		sk_X509_push(untrusted, sk_X509_value(certs, i));
	ok = ctx && X509_STORE_CTX_init(ctx, store, sk_X509_value(certs, 0), untrusted);
	if (ok) {
		X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), (time_t)FUZZ_NOW);
		X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
		ok = X509_verify_cert(ctx) == 1;
	}
	X509_STORE_CTX_free(ctx);
	sk_X509_free(untrusted);
	ERR_clear_error();
	return ok;
}

static void check_accepted(const pf_chain *c)
{
	X509 *leaf;
	pf_pubkey pk = {0};
	int n = c->certs ? sk_X509_num(c->certs) : 0;

	FUZZ_CHECK(n >= 1 && n <= PF_CHAIN_MAX_CERTS, "accepted a chain of %d certificates", n);
	if (n < 1)
		return;
	leaf = sk_X509_value(c->certs, 0);
	FUZZ_CHECK(keystore_pubkey_of_cert(leaf, &pk, NULL) == 0 && pk.spki_len == key.spki_len &&
			   memcmp(pk.spki, key.spki, key.spki_len) == 0,
		   "accepted a leaf that does not carry our key");
	pf_pubkey_free(&pk);
	for (size_t i = 0; i < hosts.n; i++)
		FUZZ_CHECK(model_covers(leaf, hosts.v[i]),
			   "accepted, but the names do not cover %s", hosts.v[i]);
	for (int i = 0; i + 1 < n; i++)
		FUZZ_CHECK(X509_check_issued(sk_X509_value(c->certs, i + 1),
					     sk_X509_value(c->certs, i)) == X509_V_OK,
			   "accepted, but certificate %d does not issue certificate %d", i + 2,
			   i + 1);
	ERR_clear_error();
	FUZZ_CHECK(verifies(c->certs), "accepted a chain that does not verify against the root");
	FUZZ_CHECK(c->not_before <= FUZZ_NOW && FUZZ_NOW < c->renew_at &&
			   c->renew_at <= c->not_after,
		   "accepted with notBefore %lld, renewal %lld, notAfter %lld at %lld",
		   (long long)c->not_before, (long long)c->renew_at, (long long)c->not_after,
		   (long long)FUZZ_NOW);
	FUZZ_CHECK(c->serial[0] != '\0', "accepted without a serial number");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const pf_chain zero;
	pf_chain_policy policy = {.key = &key,
				  .hostnames = &hosts,
				  .ca_file = ca_path,
				  .renew_before = {true, 33},
				  .now = FUZZ_NOW};
	pf_chain out = {0};
	pf_err e = {0};
	enum pf_chain_verdict v;

	if (memfd < 0)
		LLVMFuzzerInitialize(NULL, NULL);
	put_input(data, size);
	v = certchain_check_fd(memfd, path, &policy, &out, &e);
	if (v != PF_CHAIN_OK) {
		FUZZ_CHECK(strcmp(certchain_verdict_name(v), "unknown") != 0, "verdict %d", (int)v);
		FUZZ_CHECK(memcmp(&out, &zero, sizeof(out)) == 0,
			   "a refused chain returned something");
		FUZZ_CHECK(e.code != 0 && e.exit_code == PF_EXIT_FAIL,
			   "refused (%s) with code %d "
			   "exit %d: %s",
			   certchain_verdict_name(v), e.code, e.exit_code, e.msg);
		FUZZ_CHECK(strstr(e.msg, path) != NULL, "message does not name the file: %s",
			   e.msg);
		for (const char *c = e.msg; *c; c++)
			FUZZ_CHECK((unsigned char)*c >= 0x20 && (unsigned char)*c < 0x7f,
				   "message holds octet 0x%02x: %.200s", (unsigned char)*c, e.msg);
		certchain_free(&out);
		return 0;
	}
	FUZZ_CHECK(e.code == 0, "accepted with an error: %s", e.msg);
	check_accepted(&out);
	certchain_free(&out);
	return 0;
}
