/*
 * net_sign.h - the privileged process's side of TSIG for the network
 * process, as OpenBSD acme-client's keyproc signs for its netproc: the
 * secret stays here, and the network process, which parses hostile DNS
 * replies, asks for each request to be signed and for each reply's MAC to
 * be checked (dns_tsig.h, dns_tsig_signer) while it works on an update.
 *
 * Only what that update itself sends is signed: a query for the zone's SOA
 * or for the TLSA RRset of one of the update's owner names, or an UPDATE of
 * the zone whose prerequisites are on the TLSA RRsets of those names and
 * whose changes are the update's own records - each add one that was asked
 * to be added, each single-record delete one that was asked to be deleted.
 * Nothing else: no other opcode, type, class, name or record, no message
 * that is already signed, and none that does not parse to the octet.  What
 * is signed is the message as rendered here from what was checked, not the
 * octets received.  A MAC is only ever checked, at the key's full length,
 * and the answer is yes or no.
 */
#ifndef PF_NET_SIGN_H
#define PF_NET_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns_tsig.h"
#include "dns_update.h"
#include "net_msg.h"
#include "util.h"
#include "macro.h"

typedef struct net_sign_owner net_sign_owner;
typedef struct net_sign_record net_sign_record;

/* What one update may have signed: its zone, its owner names and records. */
typedef struct net_signer {
	const dns_tsig_key *key;       /* borrowed; holds the secret */
	uint8_t zone[PF_DNS_NAME_BUF]; /* canonical wire form */
	size_t zone_len;
	net_sign_owner *owners; /* distinct, sorted */
	size_t n_owners;
	net_sign_record *records; /* sorted */
	size_t n_records;
} net_signer;

/* Prepare s for an update of changes ch[0..n) in zone with key.  Returns 0
 * or -EINVAL (e says which name is not one).  Free with net_signer_free. */
int net_signer_init(net_signer *s, const dns_tsig_key *key, const char *zone, const dns_change *ch,
		    size_t n, pf_err *e);

/* Empties s in place (NULL: nothing). */
void net_signer_free(net_signer *s);

/*
 * Sign the request wire[0..len) if the update may send it.  *ret (caller
 * frees) and *ret_len get the signed message, mac and *mac_len its MAC.
 * Returns 0; -EPERM with e naming what is not allowed; or -errno when
 * signing failed.
 */
int net_signer_sign(const net_signer *s, const uint8_t *wire, size_t len, uint8_t **ret,
		    size_t *ret_len, uint8_t *mac, size_t *mac_len, pf_err *e);

/* True when mac is the key's full-length HMAC of input[0..len). */
bool net_signer_check(const net_signer *s, const uint8_t *input, size_t len, const uint8_t *mac,
		      size_t mac_len);

/*
 * Answer the network process's request of type t (NET_SIGN_REQ or
 * NET_MAC_REQ) in body in: *out gets the reply.  Returns 0, or -EPROTO
 * with e saying why for a request it may not make (a message outside the
 * update, a body that does not decode): the exchange is over.
 */
int net_signer_serve(const net_signer *s, uint32_t t, const net_buf *in, net_buf *out, pf_err *e);

#endif
