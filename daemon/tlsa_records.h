/*
 * tlsa_records.h - the one record model: the TLSA records of keys (every
 * host x port x record type), their canonical owner names, each record once,
 * and the index of distinct owners that zone discovery, updates and
 * propagation rounds group by.  The engine (rollover.c) and the CLI's
 * publish / propagation / retire build their records here, and dns_update,
 * dns_propagation and the network-process codec group by owner here, so
 * they all agree on which names there are and in which order.
 *
 * A canonical owner is "_PORT._tcp.HOST." in lowercase with the trailing
 * dot, as DNS messages compare it; the host is kept as given beside it (the
 * state file records it so).  Nothing here touches the network.
 */
#ifndef PF_TLSA_RECORDS_H
#define PF_TLSA_RECORDS_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "postfix.h"
#include "tlsa.h"
#include "util.h"

/* Size of a canonical owner buffer: 255 octets of text and the NUL. */
#define TLSA_OWNER_SIZE 256

/* The canonical owner of host's TLSA records at port into buf ("Mx.Example."
 * and 25 -> "_25._tcp.mx.example.").  Returns buf, or NULL when the name does
 * not fit in len (buf is then "").  */
char *tlsa_owner_canon(const char *host, uint16_t port, char *buf, size_t len);

/* The port and host of an owner "_PORT._tcp.HOST" (a trailing dot on HOST is
 * dropped, case kept).  Returns 0, or -EINVAL when owner is not of that form
 * or the host does not fit in hostlen. */
int tlsa_owner_parse(const char *owner, uint16_t *ret_port, char *host, size_t hostlen);

/* The distinct owner names of a list, in order of first appearance. */
typedef struct tlsa_owner_index {
	char **owners; /* n distinct names, copies */
	size_t n;
	size_t *of; /* per item of the list: index into owners */
} tlsa_owner_index;

/*
 * Index the n names found at first, first + stride, ... (the owner field of
 * an array of structures: &arr[0].owner, sizeof(arr[0])).  Names are
 * compared exactly: pass canonical owners.  Free with tlsa_owner_index_free.
 */
void tlsa_owner_index_build(const char *first, size_t stride, size_t n, tlsa_owner_index *ret);
/* Release ix; it is then empty. */
void tlsa_owner_index_free(tlsa_owner_index *ix);

/* One record of a set. */
typedef struct tlsa_record {
	char owner[TLSA_OWNER_SIZE]; /* canonical */
	char host[TLSA_OWNER_SIZE];  /* as given, without a trailing dot */
	uint16_t port;
	pf_tlsa_rdata rd;
	size_t key; /* the caller's index of the key it is of */
} tlsa_record;

/* Records in order of addition (key, host, port, record type), each owner
 * and data once; owners indexes them once tlsa_records_index ran. */
typedef struct tlsa_record_set {
	tlsa_record *v;
	size_t n;
	tlsa_owner_index owners;
} tlsa_record_set;

/*
 * Add the records rd[0..n_rd) of key at every host x port, leaving out each
 * that is already in s (same canonical owner and data: "MX.example" and
 * "mx.example." name one RRset).  Returns 0, or -EINVAL with e set when an
 * owner name would be too long (s is then unchanged).
 */
int tlsa_records_add(tlsa_record_set *s, const pf_strv *hosts, const uint16_t *ports,
		     size_t n_ports, const pf_tlsa_rdata *rd, size_t n_rd, size_t key, pf_err *e);

/*
 * The same for a key file: cfg's tlsa_records computed from keypath, and
 * from certpath for selector 0 (NULL: the certificate the key file's name
 * pairs it with, keystore_cert_path_for_key), at every host x tlsa_ports.
 * Returns 0 or -errno.
 */
int tlsa_records_add_key(tlsa_record_set *s, const pf_config *cfg, const pf_strv *hosts,
			 const char *keypath, const char *certpath, size_t key, pf_err *e);

/* Build (again) s->owners over the records of s. */
void tlsa_records_index(tlsa_record_set *s);

/* Release s; it is then empty. */
void tlsa_records_free(tlsa_record_set *s);

/*
 * The TLSA host names: tlsa_hostnames, or (not set) Postfix's myhostname,
 * read through pf (NULL: opened and closed here).  Appends to ret.  Returns
 * 0 or -errno with e saying that myhostname was asked for and why it failed.
 */
int tlsa_records_hosts(const pf_config *cfg, pf_postfix *pf, pf_strv *ret, pf_err *e);

/*
 * The same, with myhostname asked of ask(arg, &h, e) (called only when
 * tlsa_hostnames is not set; it returns 0 with a malloc'd *h, or -errno):
 * the rollover engine asks through its operations table.
 */
int tlsa_records_hosts_ask(const pf_config *cfg, int (*ask)(void *arg, char **ret, pf_err *e),
			   void *arg, pf_strv *ret, pf_err *e);

#endif
