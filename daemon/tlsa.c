/*
 * tlsa.c - TLSA association data from public keys and certificates.
 */
#include "tlsa.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

int tlsa_compute(const pf_tlsa_param *param, const unsigned char *spki, size_t spki_len,
		 const unsigned char *cert_der, size_t cert_len, pf_tlsa_rdata *ret, pf_err *e)
{
	const unsigned char *in = param->selector == 0 ? cert_der : spki;
	size_t inlen = param->selector == 0 ? cert_len : spki_len;
	const EVP_MD *md = param->mtype == 1 ? EVP_sha256() : EVP_sha512();
	unsigned int mdlen = 0;

	if (param->selector > 1 || param->mtype < 1 || param->mtype > 2)
		return pf_err_usage(e, "unsupported TLSA parameters %u %u %u", param->usage,
				    param->selector, param->mtype);
	if (!in || inlen == 0)
		return pf_err_set(e, EINVAL, "TLSA selector %u needs %s", param->selector,
				  param->selector == 0 ? "the certificate" : "the public key");
	memset(ret, 0, sizeof(*ret));
	if (!EVP_Digest(in, inlen, ret->data, &mdlen, md, NULL))
		return pf_err_set(e, EIO, "digest failed");
	ret->usage = param->usage;
	ret->selector = param->selector;
	ret->mtype = param->mtype;
	ret->len = mdlen;
	return 0;
}

int tlsa_for_keyfile(const char *keypath, const pf_tlsa_param *params, size_t n,
		     pf_tlsa_rdata **ret, pf_err *e)
{
	char *certpath = NULL;
	bool need_cert = false;
	int r;

	for (size_t i = 0; i < n; i++)
		need_cert |= params[i].selector == 0;
	if (need_cert && !(certpath = keystore_cert_path_for_key(keypath)))
		return pf_err_set(e, EINVAL,
				  "%s: selector 0 records need the certificate, and the key file "
				  "name does not say where it is (key-*.pem or eckey-*.pem)",
				  keypath);
	r = tlsa_for_files(keypath, certpath, params, n, ret, e);
	free(certpath);
	return r;
}

int tlsa_for_files(const char *keypath, const char *certpath, const pf_tlsa_param *params, size_t n,
		   pf_tlsa_rdata **ret, pf_err *e)
{
	pf_pubkey pk = {0}, cpk = {0};
	unsigned char *cert_der = NULL;
	pf_tlsa_rdata *out;
	X509 *cert = NULL;
	int cert_len = 0, r;
	bool need_cert = false;

	for (size_t i = 0; i < n; i++)
		need_cert |= params[i].selector == 0;
	if ((r = keystore_load_pubkey(keypath, &pk, e)) < 0)
		return r;
	if (need_cert) {
		if (!certpath) {
			r = pf_err_set(e, EINVAL, "%s: selector 0 records need the certificate",
				       keypath);
			goto out;
		}
		if ((r = keystore_load_cert(certpath, &cert, e)) < 0)
			goto out;
		if ((r = keystore_pubkey_of_cert(cert, &cpk, e)) < 0)
			goto out;
		if (strcmp(cpk.spki_sha256, pk.spki_sha256) != 0) {
			r = pf_err_set(e, EINVAL, "certificate %s does not match key %s", certpath,
				       keypath);
			goto out;
		}
		cert_len = i2d_X509(cert, &cert_der);
		if (cert_len <= 0) {
			r = pf_err_set(e, EINVAL, "%s: cannot encode the certificate", certpath);
			goto out;
		}
	}
	out = pf_calloc(n, sizeof(*out));
	for (size_t i = 0; i < n && r == 0; i++)
		r = tlsa_compute(&params[i], pk.spki, pk.spki_len, cert_der, (size_t)cert_len,
				 &out[i], e);
	if (r < 0)
		free(out);
	else
		*ret = out;
out:
	OPENSSL_free(cert_der);
	X509_free(cert);
	pf_pubkey_free(&cpk);
	pf_pubkey_free(&pk);
	return r;
}

const char *tlsa_format(const pf_tlsa_rdata *r, char *buf, size_t len)
{
	char hex[129];

	pf_hex(r->data, r->len, hex);
	snprintf(buf, len, "%u %u %u %s", r->usage, r->selector, r->mtype, hex);
	return buf;
}

bool tlsa_equal(const pf_tlsa_rdata *a, const pf_tlsa_rdata *b)
{
	return a->usage == b->usage && a->selector == b->selector && a->mtype == b->mtype &&
	       a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

const char *tlsa_owner(const char *host, uint16_t port, char *buf, size_t len)
{
	size_t hl = strlen(host);

	if (hl && host[hl - 1] == '.')
		hl--;
	snprintf(buf, len, "_%u._tcp.%.*s", port, (int)hl, host);
	return buf;
}
