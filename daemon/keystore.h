/*
 * keystore.h - the one module that creates, reads and writes private keys
 * (and the self-signed certificates and CSRs made from them).  Every other
 * module sees only public material: DER SubjectPublicKeyInfo, certificates,
 * digests.
 *
 * Key files are PEM, unencrypted (Postfix cannot use an encrypted key), and
 * are created exclusively with mode 0600 through a temporary file, fsync and
 * an atomic no-replace rename: an existing file is never overwritten.
 */
#ifndef PF_KEYSTORE_H
#define PF_KEYSTORE_H

#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "config.h"
#include "macro.h"
#include "util.h"

#define PF_KEYFILE_MAX_BYTES (64 * 1024)
#define PF_CERTFILE_MAX_BYTES (1024 * 1024)

typedef struct pf_keyspec {
	enum pf_alg alg;
	unsigned rsa_bits; /* 2048, 3072 or 4096 */
	const char *curve; /* secp256r1, secp384r1 or secp521r1 */
} pf_keyspec;

/* The public half of a key: what the rest of the program may hold. */
typedef struct pf_pubkey {
	enum pf_alg alg;
	unsigned char *spki; /* DER SubjectPublicKeyInfo */
	size_t spki_len;
	char spki_sha256[PF_SHA256_HEX_BUF]; /* lowercase hex of SHA-256(spki) */
} pf_pubkey;

void pf_pubkey_free(pf_pubkey *pk);

/*
 * Read the private key in path.  Refuses, each with its own message naming
 * the file: a missing or unreadable file, one that is not PEM, an encrypted
 * key, a key that is neither RSA nor ECDSA.  The caller frees *ret with
 * EVP_PKEY_free.  Returns 0 or -errno.
 */
int keystore_load_key(const char *path, EVP_PKEY **ret, pf_err *e);

/* Read the key in path and return only its public half.  Returns 0 or
 * -errno (the messages of keystore_load_key). */
int keystore_load_pubkey(const char *path, pf_pubkey *ret, pf_err *e);

/* Public half of a loaded key or of a certificate.  Returns 0 or -errno. */
int keystore_pubkey_of_key(EVP_PKEY *key, pf_pubkey *ret, pf_err *e);
int keystore_pubkey_of_cert(X509 *cert, pf_pubkey *ret, pf_err *e);

/* Read the first certificate of a PEM file.  The caller frees *ret with
 * X509_free.  Returns 0 or -errno. */
int keystore_load_cert(const char *path, X509 **ret, pf_err *e);

/*
 * The names of a new key and its certificate for alg, made at t:
 * DIR/key-STAMP.pem and DIR/cert-STAMP.pem (eckey-/eccert- for ECDSA), STAMP
 * t's UTC time as YYYYMMDD-HHMMSS - what pf_key_file_name_ours (state.h)
 * and keystore_cert_path_for_key recognise.  The caller frees both strings.
 */
void keystore_new_file_names(const char *dir, enum pf_alg alg, time_t t, char **ret_key,
			     char **ret_cert);

/*
 * The certificate file that goes with a key file made by new-server-key:
 * DIR/key-STAMP.pem -> DIR/cert-STAMP.pem, DIR/eckey-STAMP.pem ->
 * DIR/eccert-STAMP.pem.  Returns a new string, or NULL when the key file
 * name does not follow that pattern.
 */
char *keystore_cert_path_for_key(const char *keypath);

/* What one PEM file holds, as Postfix's smtpd_tls_chain_files sees it. */
typedef struct pf_pem_info {
	bool has_key; /* a private key (of key_alg) is in the file */
	enum pf_alg key_alg;
	size_t n_certs; /* certificates in the file; the first is cert_alg */
	enum pf_alg cert_alg;
} pf_pem_info;

/*
 * Learn what the PEM file in path holds without handing any key material
 * out: the private key is parsed only to know its algorithm and wiped.
 * A file with neither a key nor a certificate is an error naming it.
 * Returns 0 or -errno.
 */
int keystore_probe(const char *path, pf_pem_info *ret, pf_err *e);

/* Generate a new key per spec.  The caller frees *ret.  Returns 0 or -errno. */
int keystore_generate(const pf_keyspec *spec, EVP_PKEY **ret, pf_err *e);

/* Write key to path as unencrypted PEM, mode 0600, never replacing an
 * existing file.  Returns 0 or -errno (-EEXIST when path exists). */
int keystore_write_key(const char *path, EVP_PKEY *key, pf_err *e);

/*
 * Make a self-signed certificate for key, valid 100 years (36525 days, as
 * "postfix tls" does), with the first host name as subject and issuer CN and
 * every host name as a DNS subjectAltName, basicConstraints CA:false,
 * subjectKeyIdentifier, extendedKeyUsage serverAuth and clientAuth, signed
 * with SHA-256.  The caller frees *ret.  Returns 0 or -errno.
 */
int keystore_self_signed(EVP_PKEY *key, const pf_strv *hostnames, X509 **ret, pf_err *e);

/* Write cert to path as PEM, mode 0644, never replacing an existing file.
 * Returns 0 or -errno. */
int keystore_write_cert(const char *path, X509 *cert, pf_err *e);

/* A PEM certificate signing request for key with the given names, as
 * "postfix tls output-server-csr" makes it (empty subject, SANs, SKI,
 * EKU serverAuth and clientAuth, SHA-256).  The caller frees *ret.
 * Returns 0 or -errno. */
int keystore_csr_pem(EVP_PKEY *key, const pf_strv *hostnames, char **ret, pf_err *e);

/* The same with the first host name as the subject's CN (when it fits in
 * 64 octets), for certificate_command (SPEC.md 8): ACME clients and CAs
 * take the CN as the certificate's first name. */
int keystore_csr_pem_cn(EVP_PKEY *key, const pf_strv *hostnames, char **ret, pf_err *e);

#endif
