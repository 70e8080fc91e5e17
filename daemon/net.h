/*
 * net.h - the network operations as the engine and the command line call
 * them: the same shape as dns_discover, dns_update_apply, dns_prop_run and
 * smtp_probe, carried out by the unprivileged network process (netproc.h)
 * of a manager (pf_net) once net_new has forked it, and in this process
 * otherwise.  Under the shipped systemd unit it cannot change its uid and
 * its sandbox (sandbox.h) alone keeps it from the keys.
 *
 * net_new is called early - by pftls-rolld after reading its
 * configuration (it owns the manager and hands it to the engine,
 * roll_set_net), by pftls-roll before a subcommand that uses the network -
 * so that the fork happens before any key or TSIG secret has been in this
 * process's memory.  When the network process cannot run (not root, or
 * neither a uid change nor Landlock available), one notice says so on
 * stderr and the calls run in this process.  A call with no manager (unit
 * tests, tools) runs in-process silently.
 *
 * A failed exchange - a reply of the wrong type or size, a malformed body,
 * the process gone, no reply in time - kills the network process and fails
 * the call with -EPROTO (or -ETIMEDOUT, or -ECONNRESET when it was gone:
 * a transient failure the engine retries), the error naming what went
 * wrong; the next call forks a new one.  That later fork copies this
 * process's memory as it is then, which holds no secret: the key store and
 * the TSIG code wipe what they held (keystore.h, dns_tsig.h).  No secret is
 * ever sent to the network process: an update's TSIG signatures are made
 * here, on its request (net_sign.h).
 */
#ifndef PF_NET_H
#define PF_NET_H

#include <stdbool.h>
#include <sys/types.h>

#include "dns_discover.h"
#include "dns_propagation.h"
#include "dns_update.h"
#include "smtp_probe.h"

/* Time the privileged side waits for one reply. */
#define NET_REPLY_TIMEOUT_MS (10 * 60 * 1000)

/* The network process and the one socket to it, as one manager object. */
typedef struct pf_net pf_net;

/* Start a network process and return its manager (never NULL); when it
 * cannot run, the manager's calls run in this process, after a one-line
 * notice on stderr.  The caller frees it with net_free. */
pf_net *net_new(void);

/* Stop the network process (close the socket: it exits at end of file;
 * reap it) and free n, which may be NULL.  Returns NULL. */
pf_net *net_free(pf_net *n);

/* The network process's pid, or -1 when there is none (n NULL, or the
 * calls run in this process). */
pid_t net_pid(const pf_net *n);

/* One line on how the network process is separated from the keys (user
 * and sandbox, or the sandbox alone and why), for the daemon's start-up
 * message; written to buf[len], which is returned. */
const char *net_separation(const pf_net *n, char *buf, size_t len);

/* A manager for fd (this side of a SOCK_SEQPACKET socketpair) and pid as
 * its network process: for a caller that forked its own, and for tests
 * that play the network process's part.  Free it with net_free. */
pf_net *net_adopt(int fd, pid_t pid);

/* Each call below takes the manager n; with n NULL it runs in this
 * process, as for a manager whose network process cannot run. */

/* As dns_discover (dns_discover.h). */
int net_discover(pf_net *n, const pf_config *cfg, char *const *owners, size_t n_owners,
		 dns_zone_info **ret, size_t *n_zones, size_t *owner_zone, pf_err *e);

/* As dns_update_apply (dns_update.h).  Only the TSIG key's name and
 * algorithm go to the network process; the secret stays in this process,
 * which signs the update's own messages and checks reply MACs when the
 * network process asks (net_sign.h).  What the update prints (o->dry_run,
 * o->verbose) is written to those files when the reply comes. */
int net_update_apply(pf_net *n, const dns_update_opts *o, dns_change *ch, size_t n_ch,
		     dns_update_result *res, pf_err *e);

/* As dns_prop_run (dns_propagation.h). */
int net_prop_run(pf_net *n, const dns_zone_info *z, const dns_prop_want *want, size_t n_want,
		 const dns_net_opts *o, dns_prop_round *ret, pf_err *e);

/* As smtp_probe (smtp_probe.h). */
int net_probe(pf_net *n, const pf_hostport *ep, const char *tlsa_host, const pf_tlsa_rdata *records,
	      size_t n_records, enum pf_probe_want want, int timeout_ms, pf_probe_result *ret,
	      pf_err *e);

#endif
