/*
 * withdraw_guard.h - SPEC.md 5 rule 2 in one place: the records of a key in
 * use are never withdrawn.  Every withdrawal of TLSA records - "cancel",
 * "retire" (with or without key files), the engine's automatic retire -
 * asks withdraw_guard_check just before its DNS delete.  "In use" is not
 * what the state file remembers but what is true at that moment:
 *   - every key and certificate main.cf names for smtpd and tlsproxy
 *     (smtpd_tls_{,ec}{key,cert}_file, smtpd_tls_chain_files, and the
 *     tlsproxy_tls_* twins, whose inheritance postconf resolves), read
 *     again through postconf;
 *   - every key a verify endpoint presents after STARTTLS, asked through
 *     the network process.
 * A record that matches either is refused (exit 3, a withdrawal-refused
 * journal warning, nothing changed).  An operator may have run
 * deploy-server-cert by hand, or rolled back, since the state was saved.
 */
#ifndef PF_WITHDRAW_GUARD_H
#define PF_WITHDRAW_GUARD_H

#include <stdbool.h>
#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#include "config.h"
#include "net.h"
#include "postfix.h"
#include "state.h"
#include "tlsa.h"
#include "macro.h"
#include "util.h"

/* A probe of an endpoint by the guard waits at most this long: it runs
 * before every delete, and an endpoint that does not answer does not
 * block a withdrawal (withdraw_guard_check says why). */
#define PF_GUARD_PROBE_TIMEOUT_MS 5000

/* One key in service, as the guard found it. */
typedef struct pf_guard_key {
	char spki_sha256[PF_SHA256_HEX_BUF]; /* lowercase hex; "" when the file could not be read */
	char path[PATH_MAX]; /* the file main.cf names (resolved); "" for an endpoint */
	char where[400];     /* "smtpd_tls_key_file = PATH", "endpoint HOST:PORT" */
} pf_guard_key;

typedef struct pf_guard_inuse {
	pf_guard_key *v;
	size_t n;
} pf_guard_inuse;

/* Empty u (NULL is fine); u can be filled again. */
void withdraw_guard_inuse_free(pf_guard_inuse *u);

/* Append one key in use (spki or path may be NULL or ""). */
void withdraw_guard_inuse_add(pf_guard_inuse *u, const char *spki, const char *path,
			      const char *where);

/* One record about to be withdrawn, and the key it was made from. */
typedef struct pf_guard_record {
	const char *key_file; /* NULL: unknown */
	const char *key_spki; /* SPKI SHA-256 hex of that key; NULL: unknown */
	int alg;              /* PF_ALG_* of that key; -1: unknown */
	pf_tlsa_rdata rd;
} pf_guard_record;

/*
 * The decision, without any I/O: the index of the first record of
 * recs[0..n) that belongs to a key in u - same SPKI, same key file, or a
 * "3 1 1" record whose data is an in-use key's SPKI digest - with the
 * index of that key in *ret_key; -1 when every record may be withdrawn.
 */
ssize_t withdraw_guard_decide(const pf_guard_inuse *u, const pf_guard_record *recs, size_t n,
			      size_t *ret_key);

/*
 * The keys main.cf puts into service, read now through postconf: every
 * explicitly named smtpd/tlsproxy key and certificate file, and the
 * chain files' keys.  A named file that cannot be read is kept by path.
 * Returns 0 or -errno (main.cf could not be read).
 */
int withdraw_guard_maincf(pf_postfix *pf, pf_guard_inuse *ret, pf_err *e);

/*
 * The keys the endpoints eps[0..n) present, for the algorithms in alg_mask
 * (bit 1 << PF_ALG_*), one STARTTLS probe each, through net (net.h; NULL:
 * in this process).  An endpoint that cannot
 * be asked is named in *ret_unreached (may be NULL) and adds nothing.
 */
void withdraw_guard_endpoints(pf_net *net, const pf_hostport *eps, size_t n, unsigned alg_mask,
			      pf_guard_inuse *ret, pf_strv *ret_unreached);

/* The endpoints to ask, each once: verify_endpoints, or every TLSA host in
 * hosts x tlsa_ports (port 25 for a port of 0).  The caller frees ret->v. */
void withdraw_guard_endpoint_list(const pf_config *cfg, const pf_strv *hosts,
				  pf_hostport_list *ret);

/* What withdraw_guard_check is asked about. */
typedef struct pf_guard_req {
	pf_postfix *pf;                    /* an open Postfix adapter */
	const pf_hostport_list *endpoints; /* NULL or empty: none asked */
	pf_net *net;                       /* probes through it (net.h); NULL: in process */
	const pf_state *st;                /* for the journal entry's context; may be NULL */
	const char *action;                /* "retire", "cancel and withdraw" */
	/* What the operator should do about the record hit, into buf[len];
	 * NULL: nothing more to say. */
	void (*hint)(const pf_guard_record *hit, void *arg, char *buf, size_t len);
	void *hint_arg;
} pf_guard_req;

/*
 * Read main.cf again, ask the endpoints, and decide for recs[0..n).
 * Returns 0 when every record may be withdrawn; -EPERM (exit 3) after a
 * withdrawal-refused journal warning, with e naming the key, where it is
 * in use, and the hint; or -errno when main.cf could not be read (nothing
 * may be withdrawn then either).
 */
int withdraw_guard_check(const pf_guard_req *q, const pf_guard_record *recs, size_t n, pf_err *e);

#endif
