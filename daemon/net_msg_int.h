/*
 * net_msg_int.h - what the message files (net_msg.c, net_msg_check.c)
 * share: the field tables of the pieces several messages carry and the
 * bounds of a few fields.  Not for the users of the protocol (net_msg.h).
 */
#ifndef PF_NET_MSG_INT_H
#define PF_NET_MSG_INT_H

#include "net_codec.h"
#include "net_msg.h"

#define MAX_TIMEOUT_MS 600000 /* a DNS or probe timeout, in milliseconds */

extern const nc_desc net_status_d; /* net_status: every reply's first field */
extern const nc_desc net_rdata_d;  /* pf_tlsa_rdata */
extern const nc_desc net_zone_d;   /* dns_zone_info, with its check servers */

/* Returns the status as it travels: a return value of 0 or -1..-4095, a
 * failure with its errno as its error code, an exit code that exists. */
net_status net_status_norm(const net_status *st);

#endif
