/*
 * certchain.h - CA-issued certificate chains (SPEC.md 8): reading the PEM
 * chain file a certificate_command wrote, and deciding whether it may be
 * deployed for one of our keys.  Public material only: a chain file that
 * holds a private key is refused unread, and the key is known by its SPKI
 * (pf_pubkey); keystore_write_key_chain (keystore_chain.c) joins key and
 * chain for smtpd_tls_chain_files.
 *
 * Every refusal is its own pf_chain_verdict and one line naming the file.
 */
#ifndef PF_CERTCHAIN_H
#define PF_CERTCHAIN_H

#include <openssl/x509.h>

#include "config.h"
#include "keystore.h"
#include "util.h"

#define PF_CHAIN_MAX_BYTES (64 * 1024)
#define PF_CHAIN_MAX_CERTS 8

/* Why a chain was refused; PF_CHAIN_OK (0) when it may be deployed. */
enum pf_chain_verdict {
	PF_CHAIN_OK = 0,
	PF_CHAIN_UNREADABLE,    /* missing, symlink, not a regular file, too large */
	PF_CHAIN_HAS_KEY,       /* the file holds a private key */
	PF_CHAIN_MALFORMED,     /* not PEM certificates, none, too many */
	PF_CHAIN_ORDER,         /* not leaf first, each followed by its issuer */
	PF_CHAIN_NOT_OUR_KEY,   /* the leaf's public key is not the key's */
	PF_CHAIN_NAMES,         /* the leaf's names do not cover every host name */
	PF_CHAIN_NOT_YET_VALID, /* the leaf's notBefore is after now */
	PF_CHAIN_EXPIRED,       /* the leaf's notAfter is before now */
	PF_CHAIN_CA_FILE,       /* the CA file cannot be used */
	PF_CHAIN_UNTRUSTED,     /* does not verify against the CA file */
	PF_CHAIN_RENEW_DUE,     /* valid, but less than renew_before remains */
};

/* A stable word for each verdict ("not-our-key"), for metrics and status. */
const char *certchain_verdict_name(enum pf_chain_verdict v);

/*
 * Parse "33%" (1% to 99%) or a time in the configuration's syntax ("30d",
 * "86400", units s m h d w; pf_parse_time).  Returns 0 or -EINVAL with a
 * usage message quoting the value.
 */
int certchain_parse_renew_before(const char *s, pf_renew_before *ret, pf_err *e);

/* The moment renewal is due for a certificate valid from not_before to
 * not_after: not_after minus renew_before (or its percentage of the
 * lifetime), never before not_before. */
int64_t certchain_renew_at(const pf_renew_before *rb, int64_t not_before, int64_t not_after);

/* What is checked: everything must hold for PF_CHAIN_OK. */
typedef struct pf_chain_policy {
	const pf_pubkey *key;     /* the leaf must carry this SPKI */
	const pf_strv *hostnames; /* each covered by the leaf's names */
	const char *ca_file;      /* trust anchors (certificate_ca_file) */
	pf_renew_before renew_before;
	int64_t now; /* seconds since the epoch */
} pf_chain_policy;

/* An accepted chain.  Free with certchain_free. */
typedef struct pf_chain {
	STACK_OF(X509) * certs; /* leaf first, as in the file */
	int64_t not_before;     /* the leaf's validity */
	int64_t not_after;
	int64_t renew_at;        /* certchain_renew_at of the policy */
	char serial[2 * 20 + 1]; /* the leaf's serial number, lowercase hex */
} pf_chain;

void certchain_free(pf_chain *c);

/* Write an accepted chain (leaf first) as PEM to path, mode 0644, durably
 * and never replacing an existing file (a renewed certificate gets a new
 * name), for smtpd_tls_cert_file deployments.  Returns 0 or -errno
 * (-EEXIST when path exists). */
int certchain_write(const char *path, const pf_chain *c, pf_err *e);

/*
 * Read the chain file at path (never following a symlink) and check it
 * against policy, in this order: readable, no private key, PEM
 * certificates only (at most PF_CHAIN_MAX_CERTS, PF_CHAIN_MAX_BYTES),
 * order, our key, names, not yet valid, expired, CA file, verification
 * (OpenSSL's reason in the message; purpose TLS server, at now; only a
 * self-signed certificate of the CA file is a trust anchor, as for a
 * sender checking against its system's roots), renewal due.  Host names are matched
 * as RFC 6125 says: DNS subjectAltNames, the subject CN only when there is
 * none; a wildcard is accepted only as the whole leftmost label and covers
 * exactly one label ("*.example.com" covers a.example.com, neither
 * example.com nor a.b.example.com) and needs two labels after it (OpenSSL's
 * X509_check_host with X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS).  Letter case
 * and one trailing dot of a host name are ignored.
 *
 * Returns PF_CHAIN_OK and fills *ret (the caller frees it), or another
 * verdict with a one-line message naming the file in e (exit code 1) and
 * *ret untouched.  An audit of a deployed chain
 * passes renew_before 0 seconds and compares ret->not_after itself.
 */
enum pf_chain_verdict certchain_check(const char *path, const pf_chain_policy *policy,
				      pf_chain *ret, pf_err *e);

/* The same for an open file (a regular file; name is for messages). */
enum pf_chain_verdict certchain_check_fd(int fd, const char *name, const pf_chain_policy *policy,
					 pf_chain *ret, pf_err *e);

/*
 * The same checks, from order on, for the chain a live server presented
 * (smtp_probe's chain_der: DER certificates back to back, leaf first, at
 * most PF_CHAIN_MAX_CERTS): what a sender that checks the WebPKI (MTA-STS)
 * would accept.  name is for messages ("127.0.0.1:25's chain").
 */
enum pf_chain_verdict certchain_check_der(const uint8_t *der, size_t len, const char *name,
					  const pf_chain_policy *policy, pf_chain *ret, pf_err *e);

#endif
