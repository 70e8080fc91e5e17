/*
 * tlsa.h - DANE TLSA association data (RFC 6698, RFC 7671) computed from
 * public material only: a certificate for selector 0, a SubjectPublicKeyInfo
 * for selector 1; SHA-256 (mtype 1) or SHA-512 (mtype 2).
 */
#ifndef PF_TLSA_H
#define PF_TLSA_H

#include <stdint.h>

#include "config.h"
#include "keystore.h"
#include "util.h"

typedef struct pf_tlsa_rdata {
	uint8_t usage;
	uint8_t selector;
	uint8_t mtype;
	size_t len; /* 32 or 64 */
	unsigned char data[64];
} pf_tlsa_rdata;

/*
 * Association data for param.  Selector 1 uses spki; selector 0 needs the
 * certificate's DER (cert_der may be NULL otherwise).  Returns 0, or -EINVAL
 * for an unsupported parameter or a missing certificate.
 */
int tlsa_compute(const pf_tlsa_param *param, const unsigned char *spki, size_t spki_len,
		 const unsigned char *cert_der, size_t cert_len, pf_tlsa_rdata *ret, pf_err *e);

/*
 * Association data for every param of a key file: selector 1 records from the
 * key's public half; selector 0 records from the certificate file that goes
 * with it (keystore_cert_path_for_key), which must match the key.  *ret is an
 * array of n entries the caller frees.  Returns 0 or -errno.
 */
int tlsa_for_keyfile(const char *keypath, const pf_tlsa_param *params, size_t n,
		     pf_tlsa_rdata **ret, pf_err *e);

/* The same for an explicit key and certificate file pair (certpath may be
 * NULL when no selector 0 record is asked for).  Returns 0 or -errno. */
int tlsa_for_files(const char *keypath, const char *certpath, const pf_tlsa_param *params, size_t n,
		   pf_tlsa_rdata **ret, pf_err *e);

/* "3 1 1 <lowercase hex>" into buf (at least 140 bytes). */
const char *tlsa_format(const pf_tlsa_rdata *r, char *buf, size_t len);

/* True when both records have the same parameters and data. */
bool tlsa_equal(const pf_tlsa_rdata *a, const pf_tlsa_rdata *b);

/* The owner name "_PORT._tcp.HOST" as shown to people (no trailing dot, the
 * host's case kept) into buf; returns buf.  DNS messages and every grouping
 * by owner use the canonical form, tlsa_owner_canon (tlsa_records.h). */
const char *tlsa_owner(const char *host, uint16_t port, char *buf, size_t len);

#endif
