/*
 * lock.c - the rollover lock (see lock.h for the rules it follows).
 */
#include "lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"

/* The pid written in the lock file by its holder, or 0 when unreadable
 * (the holder may be between taking the lock and writing its pid). */
static pid_t read_holder(int fd)
{
	char buf[24], *end;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	long pid;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	errno = 0;
	pid = strtol(buf, &end, 10);
	if (errno || end == buf || (*end != '\n' && *end != '\0') || pid <= 0 || pid > INT32_MAX)
		return 0;
	return (pid_t)pid;
}

int pf_lock_acquire(const char *state_directory, pf_lock *ret, pf_err *e)
{
	PF_CLEANUP_FREE char *path = pf_asprintf("%s/%s", state_directory, PF_LOCK_FILE_NAME);
	char pidline[24];
	struct stat sb;
	int r, n;

	/* Truncated once ours: never through a symbolic link, never a FIFO
	 * (O_NONBLOCK: its open would not wait), never a hard link to a file
	 * elsewhere. */
	PF_CLEANUP_CLOSE int fd =
		open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK, 0600);
	if (fd < 0) {
		r = errno;
		return pf_err_set(e, r, "cannot open lock file %s: %s", path, strerror(r));
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode))
		return pf_err_set(e, EINVAL, "lock file %s is not a regular file", path);
	if (sb.st_nlink != 1)
		return pf_err_set(e, EINVAL,
				  "lock file %s has other hard links; not using it (remove it)",
				  path);
	while ((r = flock(fd, LOCK_EX | LOCK_NB)) < 0 && errno == EINTR)
		;
	if (r < 0) {
		r = errno;
		if (r != EWOULDBLOCK)
			return pf_err_set(e, r, "cannot lock %s: %s", path, strerror(r));
		pid_t holder = read_holder(fd);

		if (holder)
			pf_err_refuse(e, "another rollover is in progress (pid %ld)", (long)holder);
		else
			pf_err_refuse(e, "another rollover is in progress (pid unknown)");
		if (e)
			e->code = EBUSY;
		return -EBUSY;
	}
	/* Ours now: replace whatever pid a dead holder left. */
	n = snprintf(pidline, sizeof(pidline), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pidline, (size_t)n, 0) != n) {
		r = errno ? errno : EIO;
		return pf_err_set(e, r, "cannot write lock file %s: %s", path, strerror(r));
	}
	ret->fd = pf_take_fd(&fd);
	return 0;
}

void pf_lock_release(pf_lock *l)
{
	if (!l || l->fd < 0)
		return;
	/* Still ours while the file is open: clear the pid, then let close()
	 * drop the lock. */
	(void)!ftruncate(l->fd, 0);
	close(l->fd);
	l->fd = -1;
}
