/*
 * smtp_probe.h - ask a live SMTP server which key it presents after STARTTLS,
 * and whether that certificate DANE-validates against a set of TLSA records
 * (OpenSSL's DANE API).  Network side only: no private key is involved.
 */
#ifndef PF_SMTP_PROBE_H
#define PF_SMTP_PROBE_H

#include "config.h"
#include "tlsa.h"
#include "macro.h"
#include "util.h"

/* The most DER octets of a presented chain a probe carries (a chain file
 * of PF_CHAIN_MAX_BYTES PEM holds fewer). */
#define PF_PROBE_CHAIN_MAX (48 * 1024)

typedef struct pf_probe_result {
	char address[64];                    /* the address connected to */
	char spki_sha256[PF_SHA256_HEX_BUF]; /* SHA-256 of the presented leaf's SPKI, hex */
	int alg;                             /* PF_ALG_* of the presented key, -1 if unknown */
	bool dane_checked;                   /* records were given and validation ran */
	bool dane_ok;                        /* the chain matched one of the records */
	int dane_depth;                      /* depth of the matching certificate, -1 if none */
	char verify_error[128];              /* X509 verification error text when !dane_ok */
	char leaf_sha256[PF_SHA256_HEX_BUF]; /* SHA-256 of the presented leaf (DER), hex */
	int chain_len;                       /* certificates presented, leaf included */
	/* The presented chain, DER certificates back to back, leaf first, for
	 * the privileged side to verify as a WebPKI sender would
	 * (roll_cert_check_live); length 0 when it is larger than the buffer. */
	size_t chain_der_len;
	uint8_t chain_der[PF_PROBE_CHAIN_MAX];
} pf_probe_result;

/* Which signature algorithms the client offers, to make the server choose a
 * certificate of one algorithm when it has both RSA and ECDSA keys. */
enum pf_probe_want {
	PF_PROBE_ANY = -1,
	PF_PROBE_RSA = PF_ALG_RSA,
	PF_PROBE_ECDSA = PF_ALG_ECDSA,
};

/*
 * Connect to ep (an IP address or a host name resolved with getaddrinfo;
 * port 25 when ep->port is 0), read the greeting, EHLO, STARTTLS, and do a
 * TLS handshake with DANE validation for domain tlsa_host against records
 * (n may be 0: then only the presented key is reported).  want selects the
 * key algorithm the server should present.  The whole exchange is bounded by
 * timeout_ms.  Returns 0 when the handshake completed (whether or not DANE
 * validated: see ret), -errno with e naming the server and the step that
 * failed otherwise.
 */
int smtp_probe(const pf_hostport *ep, const char *tlsa_host, const pf_tlsa_rdata *records, size_t n,
	       enum pf_probe_want want, int timeout_ms, pf_probe_result *ret, pf_err *e);

#endif
