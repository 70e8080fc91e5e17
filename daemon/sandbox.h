/*
 * sandbox.h - the network process's sandbox: what keeps it away from the
 * private keys when it cannot change its uid (the shipped systemd unit
 * leaves CAP_SETUID and CAP_SETGID out of the bounding set), and what it
 * wears on top of the uid change when it can.
 *
 * sandbox_enter, in the process itself and before it reads any request:
 *   - PR_SET_NO_NEW_PRIVS and PR_SET_DUMPABLE 0;
 *   - every capability out of the effective, permitted and inheritable sets
 *     (capset; refused under the unit's system call filter, in which case
 *     the capabilities it keeps - the unit's DAC_OVERRIDE, CHOWN, FOWNER -
 *     can open nothing Landlock forbids, and the seccomp filter refuses the
 *     calls CHOWN and FOWNER would serve);
 *   - Landlock with every filesystem right the running kernel knows, and
 *     read access only to what name resolution and OpenSSL read at run time
 *     (resolv.conf, hosts, nsswitch.conf, gai.conf, the libraries NSS may
 *     load): not the key directory, not the Postfix configuration, not the
 *     state; on ABI 4 and later no TCP bind; on ABI 6 and later no signal
 *     and no abstract unix socket outside its own domain (so not to its
 *     parent);
 *   - a seccomp filter that refuses (EPERM, not death) what a network
 *     client never needs: exec, ptrace and process_vm_*, mounts and
 *     namespaces, modules, keyrings, bpf, io_uring, chmod/chown/xattr/utime
 *     and every name-changing call, and socket() of any family but INET,
 *     INET6 and NETLINK (a root process could otherwise talk to the D-Bus
 *     system bus, or to the daemon's own control socket).
 *
 * Owns nothing after it returns: the restrictions are the process's, for
 * good.  Landlock file rules name inodes, so a file replaced by rename after
 * the sandbox was made is unreadable to this process: net.c forks a fresh
 * network process from time to time for that reason.
 */
#ifndef PF_SANDBOX_H
#define PF_SANDBOX_H

#include <stdbool.h>

#include "util.h"

/* What sandbox_enter achieved. */
typedef struct pf_sandbox {
	int landlock_abi; /* 0: no Landlock (kernel without it, or refused) */
	bool seccomp;     /* the filter is installed */
	bool no_caps;     /* no capability left in any of the three sets */
} pf_sandbox;

/* Returns true when capability cap (CAP_*) is in the effective set. */
bool sandbox_has_cap(int cap);

/* Returns true when no capability is left in the effective, permitted or
 * inheritable set. */
bool sandbox_caps_empty(void);

/* The Landlock ABI of the running kernel: 0 when it has none (or it is
 * disabled, or a system call filter refuses the call). */
int sandbox_landlock_abi(void);

/*
 * Enter the sandbox described above.  require_landlock: fail when Landlock
 * cannot be applied (the sandbox is then the only separation).  *ret says
 * what holds, also on failure.  Returns 0 or -errno with e naming the step
 * that failed; a failed step may leave the earlier ones applied, so the
 * caller's only sane reaction is to exit.
 */
int sandbox_enter(bool require_landlock, pf_sandbox *ret, pf_err *e);

#endif
