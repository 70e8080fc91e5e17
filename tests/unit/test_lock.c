/*
 * test_lock.c - the rollover lock between processes: a second taker is
 * refused with the holder's pid and exit code 3, release and death of the
 * holder free it, commands the holder runs do not inherit it, and a missing
 * or odd lock file gives a clear error.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../daemon/lock.h"
#include "t.h"

static char dir[] = "/tmp/pftls-test-lock-XXXXXX";

/* Try the lock in a child process; returns its result, with the message
 * in msg.  The child releases what it got before it exits. */
static int try_in_child(char *msg, size_t len, int *exit_code)
{
	int fds[2], r = -999, status;
	pf_err e = {0};
	pid_t pid;

	if (pipe(fds) < 0)
		abort();
	pid = fork();
	if (pid == 0) {
		pf_lock l = PF_LOCK_NONE;

		close(fds[0]);
		r = pf_lock_acquire(dir, &l, &e);
		if (write(fds[1], &r, sizeof(r)) < 0 || write(fds[1], &e, sizeof(e)) < 0)
			_exit(1);
		pf_lock_release(&l);
		_exit(0);
	}
	close(fds[1]);
	if (read(fds[0], &r, sizeof(r)) != sizeof(r) || read(fds[0], &e, sizeof(e)) != sizeof(e))
		r = -999;
	close(fds[0]);
	waitpid(pid, &status, 0);
	snprintf(msg, len, "%s", e.msg);
	if (exit_code)
		*exit_code = e.exit_code;
	return r;
}

static char *lockfile(void)
{
	static char buf[128];

	snprintf(buf, sizeof(buf), "%s/lock", dir);
	return buf;
}

static void test_exclusive(void)
{
	pf_lock a = PF_LOCK_NONE, b = PF_LOCK_NONE;
	pf_err e = {0};
	char msg[800], want[100], *text = NULL;
	int code = 0;

	T_CHECK(pf_lock_acquire(dir, &a, &e) == 0 && a.fd >= 0, "lock taken (%s)", e.msg);
	snprintf(want, sizeof(want), "%ld\n", (long)getpid());
	pf_read_file(lockfile(), 100, &text, NULL, NULL);
	T_STREQ(text, want, "lock file names the holder's pid");
	free(text);
	snprintf(want, sizeof(want), "another rollover is in progress (pid %ld)", (long)getpid());
	T_CHECK(try_in_child(msg, sizeof(msg), &code) == -EBUSY, "second process refused");
	T_STREQ(msg, want, "refusal names the holder (%s)", msg);
	T_CHECK(code == PF_EXIT_REFUSED, "refusal exit code 3");
	T_CHECK(pf_lock_acquire(dir, &b, &e) == -EBUSY && b.fd == -1,
		"a second lock in the same process is refused too");
	pf_lock_release(&a);
	T_CHECK(a.fd == -1, "release marks the lock not held");
	pf_lock_release(&a); /* harmless twice */
	T_CHECK(try_in_child(msg, sizeof(msg), NULL) == 0, "after release another process gets it");
	T_CHECK(pf_lock_acquire(dir, &a, &e) == 0, "and the first one again");
	pf_lock_release(&a);
}

static void test_holder_killed(void)
{
	int fds[2], status;
	char c, msg[800];
	pid_t pid;
	pf_lock l = PF_LOCK_NONE;
	pf_err e = {0};
	char want[32], *text = NULL;

	if (pipe(fds) < 0)
		abort();
	pid = fork();
	if (pid == 0) {
		pf_lock held = PF_LOCK_NONE;

		if (pf_lock_acquire(dir, &held, NULL) < 0)
			_exit(1);
		(void)!write(fds[1], "x", 1);
		pause();
		_exit(0);
	}
	close(fds[1]);
	T_CHECK(read(fds[0], &c, 1) == 1, "child holds the lock");
	close(fds[0]);
	T_CHECK(try_in_child(msg, sizeof(msg), NULL) == -EBUSY, "held by the child: refused");
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	T_CHECK(pf_lock_acquire(dir, &l, &e) == 0, "holder killed: lock free again (%s)", e.msg);
	snprintf(want, sizeof(want), "%ld\n", (long)getpid());
	pf_read_file(lockfile(), 100, &text, NULL, NULL);
	T_STREQ(text, want, "the dead holder's pid is replaced");
	free(text);
	pf_lock_release(&l);
}

static void test_not_inherited(void)
{
	pf_lock l = PF_LOCK_NONE;
	pf_err e = {0};
	char msg[800];
	pid_t cmd;
	int status;

	if (pf_lock_acquire(dir, &l, &e) < 0)
		abort();
	/* A command the holder runs (like "postfix reload") outlives the
	 * holder: it must not keep the rollover locked. */
	int sync[2];
	char c;

	if (pipe2(sync, O_CLOEXEC) < 0)
		abort();
	cmd = fork();
	if (cmd == 0) {
		execl("/bin/sleep", "sleep", "30", (char *)NULL);
		_exit(127);
	}
	/* The pipe reads EOF once exec has closed the child's copy: from then
	 * on the child holds exactly what exec let it keep. */
	close(sync[1]);
	T_CHECK(read(sync[0], &c, 1) == 0, "command started");
	close(sync[0]);
	pf_lock_release(&l);
	T_CHECK(try_in_child(msg, sizeof(msg), NULL) == 0,
		"a command run by the holder does not keep the lock (%s)", msg);
	kill(cmd, SIGKILL);
	waitpid(cmd, &status, 0);
}

static void test_errors(void)
{
	pf_lock l = PF_LOCK_NONE;
	pf_err e = {0};
	char *missing = pf_asprintf("%s/nonexistent", dir), want[256], msg[800];
	int fd;

	T_CHECK(pf_lock_acquire(missing, &l, &e) == -ENOENT && l.fd == -1,
		"missing state directory: -ENOENT");
	snprintf(want, sizeof(want), "cannot open lock file %s/lock: No such file or directory",
		 missing);
	T_STREQ(e.msg, want, "message names the lock file (%s)", e.msg);
	free(missing);

	/* Garbage where the pid should be: still refused, pid unknown. */
	if (pf_lock_acquire(dir, &l, &e) < 0)
		abort();
	fd = open(lockfile(), O_WRONLY | O_TRUNC);
	(void)!write(fd, "junk", 4);
	close(fd);
	try_in_child(msg, sizeof(msg), NULL);
	T_STREQ(msg, "another rollover is in progress (pid unknown)",
		"unreadable pid still refused (%s)", msg);
	pf_lock_release(&l);

	unlink(lockfile());
	mkdir(lockfile(), 0700);
	T_CHECK(pf_lock_acquire(dir, &l, &e) < 0 && l.fd == -1,
		"a directory named lock is refused");
	rmdir(lockfile());
	if (symlink("/etc/passwd", lockfile()) < 0)
		abort();
	T_CHECK(pf_lock_acquire(dir, &l, &e) == -ELOOP,
		"a symbolic link named lock is not followed (%s)", e.msg);
	unlink(lockfile());
	/* A hard link to a file elsewhere would be truncated by its holder. */
	char victim[sizeof(dir) + 16], got[16] = "";
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	fd = open(victim, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	(void)!write(fd, "victim", 6);
	close(fd);
	if (link(victim, lockfile()) < 0)
		abort();
	T_CHECK(pf_lock_acquire(dir, &l, &e) == -EINVAL && strstr(e.msg, "other hard links"),
		"a lock file with another hard link is refused (%s)", e.msg);
	fd = open(victim, O_RDONLY);
	(void)!read(fd, got, sizeof(got) - 1);
	close(fd);
	T_STREQ(got, "victim", "the other link's content is unchanged");
	unlink(lockfile());
	unlink(victim);
	/* A FIFO: refused, and at once (the open does not wait for a peer). */
	if (mkfifo(lockfile(), 0600) < 0)
		abort();
	alarm(5);
	T_CHECK(pf_lock_acquire(dir, &l, &e) == -EINVAL && strstr(e.msg, "not a regular file"),
		"a FIFO named lock is refused (%s)", e.msg);
	alarm(0);
	unlink(lockfile());
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	test_exclusive();
	test_holder_killed();
	test_not_inherited();
	test_errors();
	unlink(lockfile());
	rmdir(dir);
	T_DONE();
}
