/*
 * keystore_chain.c - part of the key store: key + chain files for
 * smtpd_tls_chain_files (see keystore_chain.h).  The PEM text holds the
 * private key, so it is built in memory and wiped after the write.
 */
#include "keystore_chain.h"

#include <errno.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

int keystore_write_key_chain(const char *path, EVP_PKEY *key, STACK_OF(X509) * chain, pf_err *e)
{
	BIO *bio;
	BUF_MEM *mem = NULL;
	int r, n = chain ? sk_X509_num(chain) : 0;
	bool ok;

	if (n == 0)
		return pf_err_set(e, EINVAL, "%s: no certificate to write beside the key", path);
	ERR_clear_error();
	if (X509_check_private_key(sk_X509_value(chain, 0), key) != 1) {
		ERR_clear_error();
		return pf_err_set(e, EINVAL,
				  "%s: not written: the certificate does not belong to the key",
				  path);
	}
	bio = BIO_new(BIO_s_secmem());
	if (!bio)
		bio = BIO_new(BIO_s_mem());
	if (!bio)
		return pf_err_set(e, ENOMEM, "%s: out of memory", path);
	ok = PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) == 1;
	for (int i = 0; ok && i < n; i++)
		ok = PEM_write_bio_X509(bio, sk_X509_value(chain, i)) == 1;
	if (!ok || BIO_get_mem_ptr(bio, &mem) <= 0 || !mem) {
		ERR_clear_error();
		BIO_free(bio);
		return pf_err_set(e, EIO, "%s: cannot encode the key and chain", path);
	}
	r = pf_write_file_durable(path, mem->data, mem->length, 0600, 0, e);
	/* A BIO_s_secmem buffer is cleansed when freed; a plain one is wiped here. */
	OPENSSL_cleanse(mem->data, mem->length);
	BIO_free(bio);
	return r;
}
