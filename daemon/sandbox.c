/*
 * sandbox.c - the network process's sandbox (sandbox.h): no_new_privs,
 * capabilities, Landlock and a seccomp deny list, with raw system calls
 * (the C library of Debian 12 wraps none of them, and its kernel headers
 * know Landlock only up to ABI 2: the later constants are defined here).
 *
 * Owns no state: every function acts on the calling process.
 */
#include "sandbox.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <netdb.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "macro.h"

/* ---- Landlock --------------------------------------------------------------- */

/* Rights and scopes newer than the installed header (kernel ABI numbers in
 * the comments). */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13) /* 2 */
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15) /* 5 */
#endif
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP (1ULL << 0) /* 4 */
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0) /* 6 */
#endif
#ifndef LANDLOCK_SCOPE_SIGNAL
#define LANDLOCK_SCOPE_SIGNAL (1ULL << 1) /* 6 */
#endif

/* struct landlock_ruleset_attr as of ABI 6; the kernel is told how much of
 * it the running ABI reads. */
struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net; /* ABI 4 */
	uint64_t scoped;             /* ABI 6 */
};

/* Files read at run time by getaddrinfo (the C library rereads its
 * configuration when it changes) and by the dynamic loader for the NSS
 * modules it may load on a first lookup.  Missing ones are skipped. */
static const char *const read_files[] = {
	"/etc/resolv.conf",   "/etc/hosts",       "/etc/host.conf",
	"/etc/nsswitch.conf", "/etc/gai.conf",    "/etc/services",
	"/etc/protocols",     "/etc/ld.so.cache", "/etc/localtime",
};

int sandbox_landlock_abi(void)
{
#ifdef SYS_landlock_create_ruleset
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

	return abi > 0 && abi < INT_MAX ? (int)abi : 0;
#else
	return 0;
#endif
}

#ifdef SYS_landlock_create_ruleset
/* Every filesystem right ABI abi knows. */
static uint64_t fs_rights(int abi)
{
	uint64_t r = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; /* ABI 1: bits 0-12 */

	if (abi >= 2)
		r |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		r |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		r |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return r;
}

/* Allow reading the files at and beneath path.  Returns 0 (also when path
 * does not exist) or -errno. */
static int allow_read(int ruleset, const char *path, pf_err *e)
{
	struct landlock_path_beneath_attr pb = {.allowed_access = LANDLOCK_ACCESS_FS_READ_FILE};
	int rc = 0;

	pb.parent_fd = open(path, O_PATH | O_CLOEXEC);
	if (pb.parent_fd < 0)
		return 0;
	if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0)
		rc = pf_err_set(e, errno, "Landlock rule for %s: %s", path, strerror(errno));
	close(pb.parent_fd);
	return rc;
}

/* Allow reading path, and when it is a symbolic link into /run (resolv.conf
 * kept by systemd-resolved or resolvconf), the directory it points into,
 * whose files are replaced by rename.  Returns 0 or -errno. */
static int allow_config_file(int ruleset, const char *path, pf_err *e)
{
	char *target;
	int rc;

	if ((rc = allow_read(ruleset, path, e)) < 0)
		return rc;
	if (!(target = realpath(path, NULL)))
		return 0;
	char *slash = strrchr(target, '/');
	if (strncmp(target, "/run/", 5) == 0 && slash && slash - target > 4) {
		*slash = '\0';
		rc = allow_read(ruleset, target, e);
	}
	free(target);
	return rc;
}

/* The directory of the C library: the NSS modules getaddrinfo may load
 * (and OpenSSL's modules) sit there or beneath.  Returns 0 or -errno. */
static int allow_libdir(int ruleset, pf_err *e)
{
	Dl_info info;
	char *dir, *slash;
	int rc = 0;

	if (!dladdr((void *)getaddrinfo, &info) || !info.dli_fname || info.dli_fname[0] != '/')
		return 0;
	dir = pf_strdup(info.dli_fname);
	if ((slash = strrchr(dir, '/')) && slash != dir) {
		*slash = '\0';
		rc = allow_read(ruleset, dir, e);
	}
	free(dir);
	return rc;
}

/* Apply Landlock at ABI abi.  Returns 0 or -errno. */
static int landlock_apply(int abi, pf_err *e)
{
	struct ll_ruleset_attr attr = {.handled_access_fs = fs_rights(abi)};
	size_t size = sizeof(attr.handled_access_fs);
	int fd, rc = 0;

	if (abi >= 4) {
		/* No rule follows: no TCP bind at all.  Connecting stays
		 * unhandled, as servers and ports come with each request. */
		attr.handled_access_net = LANDLOCK_ACCESS_NET_BIND_TCP;
		size = offsetof(struct ll_ruleset_attr, scoped);
	}
	if (abi >= 6) {
		attr.scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL;
		size = sizeof(attr);
	}
	if ((fd = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0)) < 0)
		return pf_err_set(e, errno, "Landlock ruleset (ABI %d): %s", abi, strerror(errno));
	for (size_t i = 0; rc == 0 && i < PF_ELEMENTSOF(read_files); i++)
		rc = allow_config_file(fd, read_files[i], e);
	if (rc == 0)
		rc = allow_libdir(fd, e);
	if (rc == 0 && syscall(SYS_landlock_restrict_self, fd, 0) < 0)
		rc = pf_err_set(e, errno, "landlock_restrict_self: %s", strerror(errno));
	close(fd);
	return rc;
}
#endif

/* ---- seccomp ------------------------------------------------------------------ */

#if defined(__x86_64__) && !defined(__ILP32__)
#define SB_AUDIT_ARCH AUDIT_ARCH_X86_64
#define SB_X32_BIT 0x40000000u
#elif defined(__aarch64__) && defined(__LP64__)
#define SB_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#ifdef SB_AUDIT_ARCH
/* Numbers newer than the installed headers (the same on every
 * architecture since 5.1's unified numbering). */
#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452
#endif
#ifndef __NR_setxattrat
#define __NR_setxattrat 463
#endif
#ifndef __NR_removexattrat
#define __NR_removexattrat 466
#endif

/* Refused with EPERM.  A DNS and SMTP client needs none of them; with the
 * capabilities it may keep under the unit (DAC_OVERRIDE, CHOWN, FOWNER)
 * the file-changing ones would otherwise work on paths Landlock does not
 * guard (chmod, chown, xattrs and times are not Landlock rights). */
/* clang-format off */
static const int denied[] = {
	__NR_execve, __NR_execveat, __NR_ptrace, __NR_process_vm_readv, __NR_process_vm_writev,
	__NR_pidfd_getfd, __NR_open_by_handle_at, __NR_name_to_handle_at,
	__NR_mount, __NR_umount2, __NR_pivot_root, __NR_chroot, __NR_move_mount,
	__NR_open_tree, __NR_fsopen, __NR_fsconfig, __NR_fsmount, __NR_fspick,
	__NR_mount_setattr, __NR_unshare, __NR_setns,
	__NR_keyctl, __NR_add_key, __NR_request_key, __NR_bpf, __NR_perf_event_open,
	__NR_userfaultfd, __NR_kexec_load, __NR_kexec_file_load, __NR_init_module,
	__NR_finit_module, __NR_delete_module, __NR_reboot, __NR_swapon, __NR_swapoff,
	__NR_acct, __NR_quotactl, __NR_io_uring_setup, __NR_io_uring_enter,
	__NR_io_uring_register,
	__NR_fchmod, __NR_fchmodat, __NR_fchmodat2, __NR_fchown, __NR_fchownat,
	__NR_setxattr, __NR_lsetxattr, __NR_fsetxattr, __NR_removexattr,
	__NR_lremovexattr, __NR_fremovexattr, __NR_setxattrat, __NR_removexattrat,
	__NR_utimensat, __NR_mknodat, __NR_linkat, __NR_symlinkat, __NR_renameat2,
	__NR_unlinkat, __NR_mkdirat, __NR_truncate,
	__NR_setuid, __NR_setgid, __NR_setreuid, __NR_setregid, __NR_setresuid,
	__NR_setresgid, __NR_setgroups, __NR_setfsuid, __NR_setfsgid, __NR_capset,
#ifdef __NR_chmod /* the old path calls, where the architecture has them */
	__NR_chmod, __NR_chown, __NR_lchown, __NR_utime, __NR_utimes, __NR_futimesat,
	__NR_mknod, __NR_link, __NR_symlink, __NR_rename, __NR_renameat, __NR_unlink,
	__NR_rmdir, __NR_mkdir,
#endif
};
/* clang-format on */

#define NS_FLAGS                                                                                   \
	(CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC | \
	 CLONE_NEWCGROUP)
#define STMT(c, k) ((struct sock_filter)BPF_STMT((c), (k)))
#define JUMP(c, k, t, f) ((struct sock_filter)BPF_JUMP((c), (k), (t), (f)))
#define RET(v) STMT(BPF_RET | BPF_K, (v))
#define RET_ERRNO(n) RET(SECCOMP_RET_ERRNO | ((n)&SECCOMP_RET_DATA))
#define LD(off) STMT(BPF_LD | BPF_W | BPF_ABS, (off))
#define JEQ(k, t, f) JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), (t), (f))
/* The low 32 bits of argument 0 (both architectures are little-endian). */
#define ARG0 offsetof(struct seccomp_data, args[0])

/* Install the filter.  Returns 0 or -errno. */
static int seccomp_apply(pf_err *e)
{
	enum { N_DENIED = PF_ELEMENTSOF(denied) };
	struct sock_filter f[2 * N_DENIED + 32];
	size_t n = 0;

	f[n++] = LD(offsetof(struct seccomp_data, arch));
	f[n++] = JEQ(SB_AUDIT_ARCH, 1, 0);
	f[n++] = RET_ERRNO(ENOSYS); /* another ABI's numbers: the list would not apply */
	f[n++] = LD(offsetof(struct seccomp_data, nr));
#ifdef SB_X32_BIT
	f[n++] = JUMP(BPF_JMP | BPF_JGE | BPF_K, SB_X32_BIT, 0, 1);
	f[n++] = RET_ERRNO(ENOSYS);
#endif
	for (size_t i = 0; i < N_DENIED; i++) {
		f[n++] = JEQ((uint32_t)denied[i], 0, 1);
		f[n++] = RET_ERRNO(EPERM);
	}
	/* socket(): Internet and netlink (getaddrinfo asks the routing
	 * table) only; no unix socket, so no D-Bus, no control socket. */
	f[n++] = JEQ(__NR_socket, 0, 6);
	f[n++] = LD(ARG0);
	f[n++] = JEQ(AF_INET, 3, 0);
	f[n++] = JEQ(AF_INET6, 2, 0);
	f[n++] = JEQ(AF_NETLINK, 1, 0);
	f[n++] = RET_ERRNO(EAFNOSUPPORT);
	f[n++] = RET(SECCOMP_RET_ALLOW);
	/* clone() into new namespaces; clone3 hides its flags from the
	 * filter, and the C library falls back to clone on ENOSYS. */
	f[n++] = JEQ(__NR_clone, 0, 4);
	f[n++] = LD(ARG0);
	f[n++] = JUMP(BPF_JMP | BPF_JSET | BPF_K, NS_FLAGS, 0, 1);
	f[n++] = RET_ERRNO(EPERM);
	f[n++] = RET(SECCOMP_RET_ALLOW);
	f[n++] = JEQ(__NR_clone3, 0, 1);
	f[n++] = RET_ERRNO(ENOSYS);
	f[n++] = RET(SECCOMP_RET_ALLOW);

	struct sock_fprog prog = {.len = (unsigned short)n, .filter = f};
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
		return pf_err_set(e, errno, "seccomp filter: %s", strerror(errno));
	return 0;
}
#endif

/* ---- capabilities ------------------------------------------------------------- */

bool sandbox_has_cap(int cap)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	memset(d, 0, sizeof(d));
	if (cap < 0 || cap >= 32 * _LINUX_CAPABILITY_U32S_3 || syscall(SYS_capget, &h, d) < 0)
		return false;
	return d[cap / 32].effective & (1u << (cap % 32));
}

bool sandbox_caps_empty(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d) < 0)
		return false;
	for (size_t i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		if (d[i].effective || d[i].permitted || d[i].inheritable)
			return false;
	return true;
}

/* Drop every capability that can be dropped.  Returns whether none is
 * left. */
static bool caps_drop(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	/* The bounding set needs CAP_SETPCAP, which the unit does not grant;
	 * with no_new_privs and no exec it could not be used anyway. */
	for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
		(void)prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
	memset(d, 0, sizeof(d));
	(void)syscall(SYS_capset, &h, d); /* refused by the unit's filter: checked below */
	return sandbox_caps_empty();
}

/* ---- the whole ------------------------------------------------------------------ */

int sandbox_enter(bool require_landlock, pf_sandbox *ret, pf_err *e)
{
	int abi, rc = 0;

	memset(ret, 0, sizeof(*ret));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return pf_err_set(e, errno, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return pf_err_set(e, errno, "PR_SET_DUMPABLE: %s", strerror(errno));
	ret->no_caps = caps_drop();

	abi = sandbox_landlock_abi();
#ifdef SYS_landlock_create_ruleset
	if (abi > 0) {
		if ((rc = landlock_apply(abi, e)) < 0)
			return rc;
		ret->landlock_abi = abi;
	}
#endif
	if (abi == 0 && require_landlock)
		return pf_err_set(e, EOPNOTSUPP,
				  "Landlock is not available (kernel without it, or a system "
				  "call filter refuses landlock_create_ruleset)");
#ifdef SB_AUDIT_ARCH
	if ((rc = seccomp_apply(e)) < 0 && rc != -EINVAL)
		return rc;
	ret->seccomp = rc == 0;
	pf_err_clear(e);
#endif
	/* Capabilities kept (capset refused) are harmless only when the
	 * filter refuses chmod, chown and the rest. */
	if (require_landlock && !ret->no_caps && !ret->seccomp)
		return pf_err_set(e, EPERM, "capabilities remain and no seccomp filter holds");
	return 0;
}
