/*
 * keystore.c - private keys, self-signed certificates and CSRs, with the
 * OpenSSL 3 API (no openssl(1) processes).  This file alone reads or writes
 * private key material; see keystore.h for the file rules.
 */
#include "keystore.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "macro.h"

/* The most recent OpenSSL error as text, for messages. */
static const char *ssl_reason(void)
{
	static char buf[160];
	unsigned long code = ERR_peek_last_error();

	if (!code)
		return "unknown OpenSSL error";
	ERR_error_string_n(code, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

/* Refuse any passphrase prompt: an encrypted key is reported, not unlocked. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	*(int *)u = 1;
	return -1;
}

void pf_pubkey_free(pf_pubkey *pk)
{
	if (!pk)
		return;
	OPENSSL_free(pk->spki);
	memset(pk, 0, sizeof(*pk));
}

int keystore_load_key(const char *path, EVP_PKEY **ret, pf_err *e)
{
	char *text = NULL;
	size_t len = 0;
	EVP_PKEY *key = NULL;
	BIO *bio;
	int asked = 0, r;

	r = pf_read_file(path, PF_KEYFILE_MAX_BYTES, &text, &len, e);
	if (r < 0)
		return r;
	if (!strstr(text, "-----BEGIN ") || !strstr(text, "PRIVATE KEY-----")) {
		pf_free_secret(text, len);
		return pf_err_set(e, EINVAL, "%s: no PEM private key found in the file", path);
	}
	if (strstr(text, "-----BEGIN ENCRYPTED PRIVATE KEY-----") ||
	    strstr(text, "Proc-Type: 4,ENCRYPTED")) {
		pf_free_secret(text, len);
		return pf_err_set(e, EINVAL,
				  "%s: the private key is encrypted; Postfix needs an unencrypted "
				  "key",
				  path);
	}
	bio = BIO_new_mem_buf(text, (int)len);
	if (bio)
		key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, &asked);
	BIO_free(bio);
	pf_free_secret(text, len);
	if (!key) {
		if (asked)
			return pf_err_set(e, EINVAL, "%s: the private key is encrypted", path);
		return pf_err_set(e, EINVAL, "%s: cannot parse the PEM private key: %s", path,
				  ssl_reason());
	}
	if (!EVP_PKEY_is_a(key, "RSA") && !EVP_PKEY_is_a(key, "EC")) {
		EVP_PKEY_free(key);
		return pf_err_set(e, EINVAL, "%s: not an RSA or ECDSA private key", path);
	}
	*ret = key;
	return 0;
}

static int pubkey_from_evp(EVP_PKEY *pub, pf_pubkey *ret, pf_err *e)
{
	pf_pubkey pk = {0};
	unsigned char md[32];
	unsigned int mdlen = 0;
	int n;

	pk.alg = EVP_PKEY_is_a(pub, "EC") ? PF_ALG_ECDSA : PF_ALG_RSA;
	n = i2d_PUBKEY(pub, &pk.spki);
	if (n <= 0)
		return pf_err_set(e, EINVAL, "cannot encode the public key: %s", ssl_reason());
	pk.spki_len = (size_t)n;
	if (!EVP_Digest(pk.spki, pk.spki_len, md, &mdlen, EVP_sha256(), NULL)) {
		pf_pubkey_free(&pk);
		return pf_err_set(e, EIO, "SHA-256 failed: %s", ssl_reason());
	}
	pf_hex(md, mdlen, pk.spki_sha256);
	*ret = pk;
	return 0;
}

int keystore_pubkey_of_key(EVP_PKEY *key, pf_pubkey *ret, pf_err *e)
{
	return pubkey_from_evp(key, ret, e);
}

int keystore_pubkey_of_cert(X509 *cert, pf_pubkey *ret, pf_err *e)
{
	EVP_PKEY *pub = X509_get0_pubkey(cert);

	if (!pub)
		return pf_err_set(e, EINVAL, "the certificate has no usable public key");
	return pubkey_from_evp(pub, ret, e);
}

int keystore_load_pubkey(const char *path, pf_pubkey *ret, pf_err *e)
{
	EVP_PKEY *key;
	int r;

	if ((r = keystore_load_key(path, &key, e)) < 0)
		return r;
	r = keystore_pubkey_of_key(key, ret, e);
	EVP_PKEY_free(key);
	return r;
}

int keystore_load_cert(const char *path, X509 **ret, pf_err *e)
{
	char *text = NULL;
	size_t len = 0;
	X509 *cert = NULL;
	BIO *bio;
	int r;

	r = pf_read_file(path, PF_CERTFILE_MAX_BYTES, &text, &len, e);
	if (r < 0)
		return r;
	if (!strstr(text, "-----BEGIN CERTIFICATE-----")) {
		free(text);
		return pf_err_set(e, EINVAL, "%s: no PEM certificate found in the file", path);
	}
	bio = BIO_new_mem_buf(text, (int)len);
	if (bio)
		cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	/* A combined key+certificate file holds key material too. */
	pf_free_secret(text, len);
	if (!cert)
		return pf_err_set(e, EINVAL, "%s: cannot parse the PEM certificate: %s", path,
				  ssl_reason());
	*ret = cert;
	return 0;
}

int keystore_probe(const char *path, pf_pem_info *ret, pf_err *e)
{
	pf_pem_info info = {0};
	char *text = NULL;
	size_t len = 0;
	int r;

	r = pf_read_file(path, PF_CERTFILE_MAX_BYTES, &text, &len, e);
	if (r < 0)
		return r;
	for (const char *p = text; (p = strstr(p, "-----BEGIN CERTIFICATE-----")); p++)
		info.n_certs++;
	info.has_key = strstr(text, "PRIVATE KEY-----") != NULL;
	pf_free_secret(text, len);
	if (info.has_key) {
		EVP_PKEY *key;

		if ((r = keystore_load_key(path, &key, e)) < 0)
			return r;
		info.key_alg = EVP_PKEY_is_a(key, "EC") ? PF_ALG_ECDSA : PF_ALG_RSA;
		EVP_PKEY_free(key);
	}
	if (info.n_certs) {
		X509 *cert;
		EVP_PKEY *pub;

		if ((r = keystore_load_cert(path, &cert, e)) < 0)
			return r;
		pub = X509_get0_pubkey(cert);
		info.cert_alg = pub && EVP_PKEY_is_a(pub, "EC") ? PF_ALG_ECDSA : PF_ALG_RSA;
		X509_free(cert);
	}
	if (!info.has_key && !info.n_certs)
		return pf_err_set(e, EINVAL, "%s: neither a PEM private key nor a certificate",
				  path);
	*ret = info;
	return 0;
}

void keystore_new_file_names(const char *dir, enum pf_alg alg, time_t t, char **ret_key,
			     char **ret_cert)
{
	const char *pre = alg == PF_ALG_ECDSA ? "ec" : "";
	char stamp[32];
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	*ret_key = pf_asprintf("%s/%skey-%s.pem", dir, pre, stamp);
	*ret_cert = pf_asprintf("%s/%scert-%s.pem", dir, pre, stamp);
}

char *keystore_cert_path_for_key(const char *keypath)
{
	static const char *const map[][2] = {{"eckey-", "eccert-"}, {"key-", "cert-"}};
	const char *base = strrchr(keypath, '/');
	size_t dirlen;

	base = base ? base + 1 : keypath;
	dirlen = (size_t)(base - keypath);
	for (size_t i = 0; i < PF_ELEMENTSOF(map); i++) {
		size_t pl = strlen(map[i][0]);

		if (strncmp(base, map[i][0], pl) == 0)
			return pf_asprintf("%.*s%s%s", (int)dirlen, keypath, map[i][1], base + pl);
	}
	return NULL;
}

int keystore_generate(const pf_keyspec *spec, EVP_PKEY **ret, pf_err *e)
{
	EVP_PKEY *key = NULL;

	if (spec->alg == PF_ALG_RSA) {
		if (spec->rsa_bits != 2048 && spec->rsa_bits != 3072 && spec->rsa_bits != 4096)
			return pf_err_usage(e,
					    "unsupported RSA key size %u (use 2048, 3072 or 4096)",
					    spec->rsa_bits);
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)spec->rsa_bits);
	} else {
		const char *curve = spec->curve ? pf_canonical_curve(spec->curve) : NULL;

		if (!curve)
			return pf_err_usage(e,
					    "unsupported EC curve \"%.50s\" (use secp256r1, "
					    "secp384r1 or secp521r1)",
					    spec->curve ? spec->curve : "");
		/* OpenSSL knows secp256r1 as prime256v1. */
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC",
					strcmp(curve, "secp256r1") == 0 ? "prime256v1" : curve);
	}
	if (!key)
		return pf_err_set(e, EIO, "key generation failed: %s", ssl_reason());
	*ret = key;
	return 0;
}

/* Render a PEM object into memory with writer; the caller wipes and frees. */
static int pem_to_mem(int (*writer)(BIO *, void *), void *obj, char **ret, size_t *ret_len,
		      pf_err *e)
{
	BIO *bio = BIO_new(BIO_s_secmem());
	char *data;
	long n;

	if (!bio || !writer(bio, obj)) {
		BIO_free(bio);
		return pf_err_set(e, EIO, "cannot encode PEM: %s", ssl_reason());
	}
	n = BIO_get_mem_data(bio, &data);
	*ret = pf_malloc((size_t)n + 1);
	memcpy(*ret, data, (size_t)n);
	(*ret)[n] = '\0';
	*ret_len = (size_t)n;
	BIO_free(bio); /* secure memory is cleansed on free */
	return 0;
}

static int write_key_pem(BIO *bio, void *key)
{
	return PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
}

static int write_cert_pem(BIO *bio, void *cert)
{
	return PEM_write_bio_X509(bio, cert);
}

static int write_req_pem(BIO *bio, void *req)
{
	return PEM_write_bio_X509_REQ(bio, req);
}

int keystore_write_key(const char *path, EVP_PKEY *key, pf_err *e)
{
	char *pem;
	size_t len;
	int r;

	if ((r = pem_to_mem(write_key_pem, key, &pem, &len, e)) < 0)
		return r;
	r = pf_write_file_durable(path, pem, len, 0600, PF_WRITE_NOREPLACE, e);
	pf_free_secret(pem, len);
	return r;
}

int keystore_write_cert(const char *path, X509 *cert, pf_err *e)
{
	char *pem;
	size_t len;
	int r;

	if ((r = pem_to_mem(write_cert_pem, cert, &pem, &len, e)) < 0)
		return r;
	r = pf_write_file_durable(path, pem, len, 0644, PF_WRITE_NOREPLACE, e);
	free(pem);
	return r;
}

/* "DNS:a,DNS:b" for the subjectAltName extension.  Caller frees. */
static char *san_value(const pf_strv *hostnames)
{
	pf_strv parts = {0};
	char *out;

	for (size_t i = 0; i < hostnames->n; i++)
		pf_strv_push_owned(&parts, pf_asprintf("DNS:%s", hostnames->v[i]));
	out = pf_strv_join(&parts, ",");
	pf_strv_clear(&parts);
	return out;
}

static int check_hostnames(const pf_strv *hostnames, pf_err *e)
{
	if (hostnames->n == 0)
		return pf_err_usage(e, "at least one host name is needed");
	for (size_t i = 0; i < hostnames->n; i++)
		if (!pf_valid_hostname(hostnames->v[i]))
			return pf_err_usage(e, "invalid host name \"%.100s\"", hostnames->v[i]);
	return 0;
}

/* Add the extensions shared by certificates and CSRs to ext_stack or cert. */
static int add_extensions(X509V3_CTX *ctx, X509 *cert, STACK_OF(X509_EXTENSION) * exts,
			  const pf_strv *hostnames, pf_err *e)
{
	char *san = san_value(hostnames);
	const struct {
		int nid;
		const char *value;
		bool cert_only;
	} list[] = {
		{NID_basic_constraints, "CA:FALSE", true},
		{NID_subject_key_identifier, "hash", false},
		{NID_ext_key_usage, "serverAuth,clientAuth", false},
		{NID_subject_alt_name, san, false},
	};
	int r = 0;

	for (size_t i = 0; i < PF_ELEMENTSOF(list) && r == 0; i++) {
		X509_EXTENSION *ext;

		if (list[i].cert_only && !cert)
			continue;
		ext = X509V3_EXT_conf_nid(NULL, ctx, list[i].nid, list[i].value);
		if (!ext) {
			r = pf_err_set(e, EINVAL, "cannot make the %s extension: %s",
				       OBJ_nid2sn(list[i].nid), ssl_reason());
			break;
		}
		if (cert ? !X509_add_ext(cert, ext, -1) : !sk_X509_EXTENSION_push(exts, ext)) {
			X509_EXTENSION_free(ext);
			r = pf_err_set(e, EIO, "cannot add an extension: %s", ssl_reason());
			break;
		}
		if (cert)
			X509_EXTENSION_free(ext);
	}
	free(san);
	return r;
}

int keystore_self_signed(EVP_PKEY *key, const pf_strv *hostnames, X509 **ret, pf_err *e)
{
	X509 *cert;
	X509_NAME *name;
	X509V3_CTX ctx;
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	int r;

	if ((r = check_hostnames(hostnames, e)) < 0)
		return r;
	cert = X509_new();
	name = X509_NAME_new();
	if (!cert || !name || RAND_bytes(serial, sizeof(serial)) != 1)
		goto ssl_fail;
	serial[0] &= 0x7f; /* a positive serial number */
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) ||
	    !X509_set_version(cert, X509_VERSION_3) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
					(const unsigned char *)hostnames->v[0], -1, -1, 0) ||
	    !X509_set_subject_name(cert, name) || !X509_set_issuer_name(cert, name) ||
	    !X509_gmtime_adj(X509_getm_notBefore(cert), 0) ||
	    !X509_time_adj_ex(X509_getm_notAfter(cert), 36525, 0, NULL) ||
	    !X509_set_pubkey(cert, key))
		goto ssl_fail;
	X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
	if ((r = add_extensions(&ctx, cert, NULL, hostnames, e)) < 0)
		goto fail;
	if (!X509_sign(cert, key, EVP_sha256()))
		goto ssl_fail;
	BN_free(bn);
	X509_NAME_free(name);
	*ret = cert;
	return 0;
ssl_fail:
	r = pf_err_set(e, EIO, "cannot make the certificate: %s", ssl_reason());
fail:
	BN_free(bn);
	X509_NAME_free(name);
	X509_free(cert);
	return r;
}

static int csr_pem(EVP_PKEY *key, const pf_strv *hostnames, bool cn, char **ret, pf_err *e)
{
	X509_REQ *req;
	X509V3_CTX ctx;
	STACK_OF(X509_EXTENSION) *exts = NULL;
	size_t len;
	int r;

	if ((r = check_hostnames(hostnames, e)) < 0)
		return r;
	req = X509_REQ_new();
	exts = sk_X509_EXTENSION_new_null();
	if (!req || !exts || !X509_REQ_set_version(req, X509_REQ_VERSION_1) ||
	    !X509_REQ_set_pubkey(req, key))
		goto ssl_fail;
	/* A CN is at most 64 octets (RFC 5280 ub-common-name); longer names
	 * are in the subjectAltNames only. */
	if (cn && strlen(hostnames->v[0]) <= 64 &&
	    !X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_ASC,
					(const unsigned char *)hostnames->v[0], -1, -1, 0))
		goto ssl_fail;
	X509V3_set_ctx(&ctx, NULL, NULL, req, NULL, 0);
	if ((r = add_extensions(&ctx, NULL, exts, hostnames, e)) < 0)
		goto fail;
	if (!X509_REQ_add_extensions(req, exts) || !X509_REQ_sign(req, key, EVP_sha256()))
		goto ssl_fail;
	r = pem_to_mem(write_req_pem, req, ret, &len, e);
	goto out;
ssl_fail:
	r = pf_err_set(e, EIO, "cannot make the CSR: %s", ssl_reason());
fail:
out:
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	return r;
}

int keystore_csr_pem(EVP_PKEY *key, const pf_strv *hostnames, char **ret, pf_err *e)
{
	return csr_pem(key, hostnames, false, ret, e);
}

int keystore_csr_pem_cn(EVP_PKEY *key, const pf_strv *hostnames, char **ret, pf_err *e)
{
	return csr_pem(key, hostnames, true, ret, e);
}
