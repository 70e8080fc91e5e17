/*
 * dns_discover.h - where the TLSA records live and who serves them: the zone
 * of each owner name (an SOA walk through the resolvers), the server that
 * takes updates (SOA MNAME unless dns_update_server), and the servers whose
 * answers count (every address of every NS name plus dns_extra_check_servers,
 * or exactly dns_check_servers; the update server always among them).
 *
 * Resolvers are asked with RD set; every reply goes through the same checks
 * as any other (dns_msg.h).  Nothing here changes anything.
 */
#ifndef PF_DNS_DISCOVER_H
#define PF_DNS_DISCOVER_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "dns_net.h"
#include "macro.h"

/* A server we ask directly, and the name it was found under. */
typedef struct dns_target {
	dns_server addr;
	char name[PF_DNS_NAME_BUF]; /* "ns2.example.test." or "" for an address literal */
	bool update_server;         /* this is (also) the update server */
} dns_target;

typedef struct dns_zone_info {
	char zone[PF_DNS_NAME_BUF]; /* absolute, lowercase: "example.test." */
	dns_target update;          /* where updates go */
	dns_target *checks;         /* the check servers, the update server first */
	size_t n_checks;
	char mname[PF_DNS_NAME_BUF];           /* SOA MNAME as the resolver saw it */
	uint32_t serial, soa_ttl, soa_minimum; /* the resolver's view */
} dns_zone_info;

/* The resolvers: dns_resolver, or the nameserver lines of /etc/resolv.conf.
 * *ret is an array of *n the caller frees.  Returns 0 or -errno. */
int dns_resolvers(const pf_config *cfg, dns_server **ret, size_t *n, pf_err *e);

/*
 * Discover the zone of every owner name (absolute, lowercase) and, per zone,
 * the update and check servers.  owner_zone[i] gets the index into *ret of
 * owner i's zone.  *ret is an array of *n_zones the caller frees with
 * dns_zones_free.  Returns 0 or -errno with e naming the name and the server.
 */
int dns_discover(const pf_config *cfg, char *const *owners, size_t n_owners, dns_zone_info **ret,
		 size_t *n_zones, size_t *owner_zone, pf_err *e);

/* Free the n zones of z (NULL is fine).  Returns NULL. */
dns_zone_info *dns_zones_free(dns_zone_info *z, size_t n);

/* Lowercase absolute form of a domain name into buf ("Mx.Example" ->
 * "mx.example.").  Returns buf, or NULL when it does not fit. */
char *dns_name_canon(const char *name, char *buf, size_t len);

/* True when name equals zone or lies below it (both canonical). */
bool dns_name_in_zone(const char *name, const char *zone);

#endif
