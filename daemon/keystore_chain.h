/*
 * keystore_chain.h - part of the key store (keystore.h): the one file that
 * holds a key and its certificate chain together, for Postfix's
 * smtpd_tls_chain_files.  Kept in its own file so keystore.c stays the
 * key store's core; like it, the only code here that touches a private key.
 */
#ifndef PF_KEYSTORE_CHAIN_H
#define PF_KEYSTORE_CHAIN_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "util.h"

/*
 * Write key (PEM) followed by the chain (leaf first) to path, mode 0600,
 * through a temporary file, fsync and rename: a reader (Postfix) sees the
 * old file or the new one whole, never a key beside another key's
 * certificate.  Replaces an existing file.  Refuses, before writing, a
 * chain whose leaf does not belong to key.  Returns 0 or -errno.
 */
int keystore_write_key_chain(const char *path, EVP_PKEY *key, STACK_OF(X509) * chain, pf_err *e);

#endif
