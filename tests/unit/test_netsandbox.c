/*
 * test_netsandbox.c - the network process's sandbox (sandbox.h), applied by
 * the very function netproc.c calls, in forked children:
 *   - a table of operations a compromised network process might try - open
 *     the private key file, the Postfix main.cf, /etc/shadow, create or
 *     chmod a file, open a unix socket (D-Bus, the control socket), bind a
 *     TCP port, signal its parent, exec - each refused with the expected
 *     errno inside the sandbox, and each working in a child without it (the
 *     negative control, so no case passes vacuously);
 *   - what it needs still works inside: /etc/resolv.conf and /etc/hosts,
 *     an Internet socket, getaddrinfo("localhost");
 *   - as root, "unit" mode mimics the shipped systemd unit: capabilities
 *     cut to the unit's bounding set (DAC_OVERRIDE, CHOWN, FOWNER) and a
 *     system call filter refusing capset and the setuid family, as the
 *     unit's does; the sandbox cannot drop those capabilities there, and
 *     the key file and /etc/shadow stay unreadable and chmod refused
 *     all the same.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../daemon/macro.h"
#include "../../daemon/sandbox.h"
#include "t.h"

enum mode { M_NONE, M_SANDBOX, M_UNIT, M_END };
static const char *const mode_name[] = {"without the sandbox", "in the sandbox",
					"in the sandbox under the unit's limits"};

enum op {
	OP_READ,      /* open(path, O_RDONLY) */
	OP_WRITE,     /* open(path, O_WRONLY) */
	OP_CREATE,    /* open(path, O_CREAT | O_EXCL) */
	OP_CHMOD,     /* chmod(path, 0644) */
	OP_CHOWN,     /* chown(path, 0, 0) (as root) */
	OP_UNIX,      /* socket(AF_UNIX) and connect to path */
	OP_INET,      /* socket(AF_INET, SOCK_STREAM) */
	OP_BIND_TCP,  /* bind a TCP socket to 127.0.0.1, port 0 (no listen) */
	OP_KILL,      /* kill(parent, 0) */
	OP_EXEC,      /* execve(path) */
	OP_RESOLVE,   /* getaddrinfo("localhost") */
	OP_CAPS_KEPT, /* the unit's capabilities are still there */
};

/* A case: the operation, and the result (0 or an errno) expected in each
 * mode; ANY: not checked in that mode. */
#define ANY (-1)
#define CHILD_SETUP 201
#define CHILD_SANDBOX 202
struct tcase {
	const char *name;
	enum op op;
	const char *path; /* %s: the test directory */
	int want[M_END];
	int min_abi; /* Landlock ABI the refusal needs */
	bool root;   /* only meaningful as root */
};

static const struct tcase cases[] = {
	{"read the private key file",
	 OP_READ,
	 "%s/key-20250101-000000.pem",
	 {0, EACCES, EACCES},
	 0,
	 false},
	{"read main.cf", OP_READ, "%s/postfix/main.cf", {0, EACCES, EACCES}, 0, false},
	{"write main.cf", OP_WRITE, "%s/postfix/main.cf", {0, EACCES, EACCES}, 0, false},
	{"create a file in the Postfix directory",
	 OP_CREATE,
	 "%s/postfix/new.pem",
	 {0, EACCES, EACCES},
	 0,
	 false},
	{"read the state file", OP_READ, "%s/state/state", {0, EACCES, EACCES}, 0, false},
	{"read /etc/shadow", OP_READ, "/etc/shadow", {0, EACCES, EACCES}, 0, true},
	{"chmod the key file", OP_CHMOD, "%s/key-20250101-000000.pem", {0, EPERM, EPERM}, 0, false},
	{"chown the key file", OP_CHOWN, "%s/key-20250101-000000.pem", {0, EPERM, EPERM}, 0, true},
	{"connect to a unix socket",
	 OP_UNIX,
	 "%s/control",
	 {0, EAFNOSUPPORT, EAFNOSUPPORT},
	 0,
	 false},
	{"bind a TCP port", OP_BIND_TCP, NULL, {0, EACCES, EACCES}, 4, false},
	{"signal its parent", OP_KILL, NULL, {0, EPERM, EPERM}, 6, false},
	{"exec /bin/true", OP_EXEC, "/bin/true", {0, EPERM, EPERM}, 0, false},
	{"read /etc/resolv.conf", OP_READ, "/etc/resolv.conf", {0, 0, 0}, 0, false},
	{"read /etc/hosts", OP_READ, "/etc/hosts", {0, 0, 0}, 0, false},
	{"open an Internet socket", OP_INET, NULL, {0, 0, 0}, 0, false},
	{"resolve localhost with getaddrinfo", OP_RESOLVE, NULL, {0, 0, 0}, 0, false},
	{"keep the unit's capabilities (capset refused)",
	 OP_CAPS_KEPT,
	 NULL,
	 {ANY, ANY, 0},
	 0,
	 true},
};

/* The unit's limits: the bounding set's three capabilities only, and a
 * filter that refuses capset and the uid calls with EPERM, as systemd's
 * SystemCallFilter=~@privileged does.  Returns 0 or -1. */
static int unit_limits(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {{0}};
	const uint32_t keep = (1u << CAP_DAC_OVERRIDE) | (1u << CAP_CHOWN) | (1u << CAP_FOWNER);
	static const int refused[] = {__NR_capset,    __NR_setuid,    __NR_setgid,
				      __NR_setresuid, __NR_setresgid, __NR_setgroups};
	struct sock_filter f[4 + 2 * 6 + 1];
	size_t n = 0;

	d[0].effective = d[0].permitted = keep;
	if (syscall(SYS_capset, &h, d) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, nr));
	for (size_t i = 0; i < 6; i++) {
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
						      (uint32_t)refused[i], 0, 1);
		f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
	}
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sock_fprog prog = {.len = (unsigned short)n, .filter = f};
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0 ? -1 : 0;
}

/* The operation.  Returns 0 or the errno it failed with. */
static int do_op(enum op op, const char *path, const pf_sandbox *sb)
{
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	struct addrinfo *ai = NULL, hints = {.ai_socktype = SOCK_STREAM};
	int fd = -1, r = 0;

	switch (op) {
	case OP_READ:
		fd = open(path, O_RDONLY | O_CLOEXEC);
		break;
	case OP_WRITE:
		fd = open(path, O_WRONLY | O_CLOEXEC);
		break;
	case OP_CREATE:
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		break;
	case OP_CHMOD:
		return chmod(path, 0644) < 0 ? errno : 0;
	case OP_CHOWN:
		return chown(path, 0, 0) < 0 ? errno : 0;
	case OP_UNIX:
		if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
			return errno;
		snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
		r = connect(fd, (struct sockaddr *)&un, sizeof(un)) < 0 ? errno : 0;
		close(fd);
		return r;
	case OP_INET:
		fd = socket(AF_INET, SOCK_STREAM, 0);
		break;
	case OP_BIND_TCP:
		if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
			return errno;
		r = bind(fd, (struct sockaddr *)&in, sizeof(in)) < 0 ? errno : 0;
		close(fd);
		return r;
	case OP_KILL:
		return kill(getppid(), 0) < 0 ? errno : 0;
	case OP_EXEC: {
		char *argv[] = {(char *)path, NULL}, *envp[] = {NULL};
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0)
			dup2(null, 1);
		execve(path, argv, envp);
		return errno;
	}
	case OP_RESOLVE:
		r = getaddrinfo("localhost", "25", &hints, &ai);
		if (ai)
			freeaddrinfo(ai);
		return r == 0 ? 0 : r == EAI_SYSTEM ? errno : EIO;
	case OP_CAPS_KEPT:
		return !sb->no_caps && sandbox_has_cap(CAP_DAC_OVERRIDE) ? 0 : ENOTSUP;
	}
	if (fd < 0)
		return errno;
	close(fd);
	if (op == OP_CREATE)
		unlink(path); /* for the next mode's try */
	return 0;
}

/* Run case c in mode m in a child.  Returns its exit code (0 or errno,
 * CHILD_SETUP, CHILD_SANDBOX), or -1 when it died. */
static int run_case(const struct tcase *c, enum mode m, const char *dir)
{
	char path[512] = "";
	int status = 0;
	pid_t pid;

	if (c->path)
		snprintf(path, sizeof(path), c->path, dir);
	fflush(stdout);
	if ((pid = fork()) == 0) {
		pf_sandbox sb = {0};
		pf_err e = {0};

		if (m == M_UNIT && unit_limits() < 0)
			_exit(CHILD_SETUP);
		if (m != M_NONE && sandbox_enter(true, &sb, &e) < 0) {
			fprintf(stderr, "sandbox_enter: %s\n", e.msg);
			_exit(CHILD_SANDBOX);
		}
		_exit(do_op(c->op, path, &sb));
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* Returns a name for result r. */
static const char *result_name(int r, char *buf, size_t len)
{
	if (r == 0)
		return "success";
	if (r == CHILD_SETUP)
		return "the unit's limits could not be set up";
	if (r == CHILD_SANDBOX)
		return "sandbox_enter failed";
	if (r < 0)
		return "the child died";
	snprintf(buf, len, "%s", strerror(r));
	return buf;
}

/* A directory shaped like the parts of the system the network process
 * must not reach: a 0600 key file, a Postfix directory, a state directory,
 * a listening control socket.  Returns the unix socket's fd or -1. */
static int make_files(const char *dir)
{
	char p[512];
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	int fd, s;

	snprintf(p, sizeof(p), "%s/key-20250101-000000.pem", dir);
	if ((fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0)
		return -1;
	/* Not a key: nothing secret is needed to show it cannot be read. */
	if (write(fd, "-----BEGIN PRIVATE KEY-----\n", 28) != 28)
		return -1;
	close(fd);
	snprintf(p, sizeof(p), "%s/postfix", dir);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/postfix/main.cf", dir);
	if ((fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644)) < 0)
		return -1;
	close(fd);
	snprintf(p, sizeof(p), "%s/state", dir);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/state/state", dir);
	if ((fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0)
		return -1;
	close(fd);
	snprintf(un.sun_path, sizeof(un.sun_path), "%s/control", dir);
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(s, (struct sockaddr *)&un, sizeof(un)) < 0 || listen(s, 64) < 0)
		return -1;
	return s;
}

int main(void)
{
	char dir[] = "/tmp/pftls-netsandbox.XXXXXX", buf[128], cmd[600];
	const char *wrapper = getenv("PFTLS_TEST_WRAPPER");
	int abi = sandbox_landlock_abi(), lfd;
	bool root = geteuid() == 0;

	if (!mkdtemp(dir)) {
		T_CHECK(0, "mkdtemp: %s", strerror(errno));
		T_DONE();
	}
	lfd = make_files(dir);
	T_CHECK(lfd >= 0, "the test files and the listening control socket are made in %s", dir);
	if (abi <= 0 && wrapper && strstr(wrapper, "valgrind")) {
		/* valgrind does not pass the Landlock system calls through
		 * (ENOSYS); make check and make check-asan run these cases. */
		printf("# under valgrind, which has no Landlock: the sandbox cases are skipped\n");
	} else {
		T_CHECK(abi > 0, "the kernel has Landlock (ABI %d)", abi);
	}
	for (size_t i = 0; lfd >= 0 && abi > 0 && i < PF_ELEMENTSOF(cases); i++) {
		const struct tcase *c = &cases[i];

		for (enum mode m = M_NONE; m < M_END; m++) {
			int want = c->want[m], got;

			if (want == ANY || ((m == M_UNIT || c->root) && !root))
				continue;
			if (m != M_NONE && want != 0 && abi < c->min_abi)
				continue;
			got = run_case(c, m, dir);
			T_CHECK(got == want, "%s %s: %s", mode_name[m], c->name,
				result_name(got, buf, sizeof(buf)));
		}
	}
	if (lfd >= 0)
		close(lfd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	T_DONE();
}
