/*
 * lock.h - one rollover at a time: an exclusive flock(2) on the file "lock"
 * in state_directory, taken without waiting by whoever changes the rollover
 * state (the daemon, or the command line working in the foreground).
 *
 * The kernel drops the lock when its holder exits or is killed, so a crash
 * never leaves a stale lock.  The holder's pid is written into the file only
 * to name it in the refusal.  The descriptor is close-on-exec, so commands
 * the holder runs (postfix reload, postconf) do not keep the lock alive; a
 * child made by fork() without exec shares it, and must not release it.
 * The lock file is never removed: unlinking a flock file lets two processes
 * lock two different files of the same name.
 */
#ifndef PF_LOCK_H
#define PF_LOCK_H

#include <sys/types.h>

#include "util.h"

#define PF_LOCK_FILE_NAME "lock"

typedef struct pf_lock {
	int fd; /* -1 when not held */
} pf_lock;

#define PF_LOCK_NONE ((pf_lock){.fd = -1})

/*
 * Take the rollover lock in state_directory.  Returns 0 with *ret held;
 * -EBUSY when another process (or another pf_lock of this one) holds it,
 * with e saying "another rollover is in progress (pid N)" and exit code 3;
 * another -errno when the lock file cannot be opened.
 */
int pf_lock_acquire(const char *state_directory, pf_lock *ret, pf_err *e);

/* Release a held lock; a lock that is not held is left alone. */
void pf_lock_release(pf_lock *l);

#endif
