/*
 * dnssec_walk.h - what a validating propagation round (dns_propagation.h)
 * needs besides its zone, found on the privileged side: the trust anchors
 * of dnssec_trust_anchor_file as DS text, and the zones from the round's
 * up to the one an anchor names, each with its authoritative servers, by
 * discovery through the resolvers (dns_discover.h) - the DS of a zone is
 * asked of its parent's servers, never of a resolver.
 */
#ifndef PF_DNSSEC_WALK_H
#define PF_DNSSEC_WALK_H

#include "config.h"
#include "dns_discover.h"
#include "dns_propagation.h"
#include "util.h"

/* net_discover's shape (the engine passes its ops, the CLI net_discover). */
typedef int (*dnssec_discover_fn)(void *ud, const pf_config *cfg, char *const *owners,
				  size_t n_owners, dns_zone_info **ret, size_t *n_zones,
				  size_t *owner_zone, pf_err *e);

/*
 * Fill *ret for zone z.  Returns 0, or -errno with e naming the anchor file
 * (unreadable, bad line) or the zone above whose servers were not found;
 * *ret is then empty.  Free it with dnssec_walk_free.
 */
int dnssec_walk(dnssec_discover_fn discover, void *ud, const pf_config *cfg, const dns_zone_info *z,
		dns_prop_dnssec *ret, pf_err *e);

void dnssec_walk_free(dns_prop_dnssec *d);

#endif
