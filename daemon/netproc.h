/*
 * netproc.h - the network process: the one process that talks to DNS
 * servers and SMTP servers, forked early by pftls-rolld and by the command
 * line, running as an unprivileged user with no way back to root, or in a
 * sandbox, and in either case with no access to the private keys.
 *
 * Roles, as in OpenBSD's acme-client: the privileged process (the engine,
 * keystore.h, postfix.h, the state) keeps the keys, main.cf and the state,
 * and asks; the network process answers over a SOCK_SEQPACKET socketpair
 * whose messages net_msg.h whitelists by type and size.  It never holds a
 * secret: no TLS private key is ever sent to it, and none can be read by it;
 * an update request carries the TSIG key's name and algorithm, and while it
 * works on the update it asks the privileged process, on the same socket,
 * to sign each request and to check each reply's MAC (net_sign.h, which
 * signs only the update's own messages).
 *
 * Before reading any request it: closes every descriptor but its socket
 * (0, 1 and 2 become /dev/null), moves to "/", and separates itself from
 * the keys in one of two ways:
 *   - when it may change its uid (root with CAP_SETUID and CAP_SETGID), it
 *     drops to the user "_pftls-roll" when it exists, else "nobody" with
 *     group "nogroup" (setgroups(0), setresgid, setresuid), checks that it
 *     can no longer become root and holds no capability, and then enters
 *     the sandbox (sandbox.h) as well;
 *   - when it may not (the shipped systemd unit, whose bounding set lacks
 *     CAP_SETUID and CAP_SETGID), it stays root and the sandbox alone -
 *     Landlock, which no capability overrides, and the seccomp filter - is
 *     the separation; without Landlock (an old kernel, or a unit whose
 *     filter refuses it) there is none, and the parent works in-process.
 * It dies with its parent.  Its first message (the hello) says which
 * separation holds, or why none does.
 */
#ifndef PF_NETPROC_H
#define PF_NETPROC_H

#include <stdnoreturn.h>
#include <sys/types.h>

#include "net_msg.h"
#include "util.h"

#define NETPROC_USER "_pftls-roll"
#define NETPROC_FALLBACK_USER "nobody"
#define NETPROC_FALLBACK_GROUP "nogroup"
#define NETPROC_COMM "pftls-netproc"

/*
 * Fork the network process.  On success *ret_fd is this side's end of the
 * socketpair (close-on-exec), *ret_pid the child, which has separated
 * itself, and *ret_sep (unless NULL) how.  Returns 0; 1 when no network
 * process can run - not root, or neither a uid change nor the sandbox
 * holds (e says why; the child is gone); or -errno when the socketpair or
 * fork failed or the child broke the protocol.
 */
int netproc_spawn(int *ret_fd, pid_t *ret_pid, net_sep *ret_sep, pf_err *e);

/*
 * Become the unprivileged network user as described above (every step,
 * then the checks).  *ret_uid and *ret_gid get the ids.  Returns 0 or
 * -errno with e naming the step that failed.
 */
int netproc_drop_privileges(uid_t *ret_uid, gid_t *ret_gid, pf_err *e);

/*
 * Serve one request from fd: read it (only the request types pass), do the
 * work, send the reply.  Returns 1 when a request was served, 0 at end of
 * file, or -errno for a malformed request (e says how), after which the
 * exchange is over.
 */
int netproc_serve_one(int fd, pf_err *e);

/* The network process's life after fork: descriptors, separation, hello,
 * then requests until end of file or a protocol violation.  Never returns. */
noreturn void netproc_main(int fd);

#endif
