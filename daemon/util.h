/*
 * util.h - helpers every module shares: the error record, memory that never
 * returns NULL, string lists, hex, name checks, bounded reads and durable
 * writes.
 *
 * Error convention (one for the whole project): a function that can fail
 * returns 0 (or a count) on success and a negative errno on failure, and when
 * it is given a pf_err it fills in one human-readable line saying what went
 * wrong and where.  The message is printed or logged once, by whoever decides
 * what to do about it, never by the function that failed.
 */
#ifndef PF_UTIL_H
#define PF_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Exit codes of both programs (SPEC.md 2.3). */
enum {
	PF_EXIT_OK = 0,
	PF_EXIT_FAIL = 1,
	PF_EXIT_USAGE = 2,
	PF_EXIT_REFUSED = 3,
};

typedef struct pf_err {
	int code;      /* positive errno value; 0 while nothing failed */
	int exit_code; /* PF_EXIT_* the command line should end with */
	char msg[768];
} pf_err;

#define PF_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Record a failure (exit code 1).  Returns -code, so callers can write
 * "return pf_err_set(e, EIO, ...)".  A NULL e is allowed. */
int pf_err_set(pf_err *e, int code, const char *fmt, ...) PF_PRINTF(3, 4);
/* Same for usage and configuration errors (exit code 2, -EINVAL). */
int pf_err_usage(pf_err *e, const char *fmt, ...) PF_PRINTF(2, 3);
/* Same for refusals by a safety rule (exit code 3, -EPERM). */
int pf_err_refuse(pf_err *e, const char *fmt, ...) PF_PRINTF(2, 3);
/* Prefix an existing message with more context ("while doing X: ..."). */
void pf_err_prefix(pf_err *e, const char *fmt, ...) PF_PRINTF(2, 3);
void pf_err_clear(pf_err *e);

/* Memory: these abort the program on exhaustion, as Postfix's mymalloc does;
 * no caller has a better answer to ENOMEM. */
void *pf_malloc(size_t n);
void *pf_calloc(size_t n, size_t size);
void *pf_realloc(void *p, size_t n);
char *pf_strdup(const char *s);
char *pf_strndup(const char *s, size_t n);
char *pf_asprintf(const char *fmt, ...) PF_PRINTF(1, 2);

/* Copy s (NULL: "") into dst[cap] as printable ASCII, each other octet as
 * '?', cut to fit: text from outside must not forge journal fields, lines
 * or terminal sequences.  Returns dst. */
const char *pf_printable_copy(char *dst, size_t cap, const char *s);

/* Wipe then free a buffer that held secret material. */
void pf_free_secret(void *p, size_t n);

/* A growable NULL-terminated vector of owned strings. */
typedef struct pf_strv {
	char **v;
	size_t n;
	size_t cap;
} pf_strv;

void pf_strv_push(pf_strv *sv, const char *s);
void pf_strv_push_owned(pf_strv *sv, char *s);
bool pf_strv_contains(const pf_strv *sv, const char *s);
/* Free the strings and empty sv (NULL is fine); sv can be used again. */
void pf_strv_clear(pf_strv *sv);
/* Split a Postfix-style list (commas and/or white space) into sv. */
void pf_split_list(const char *s, pf_strv *sv);
/* Returns a newly allocated string of the elements joined by sep. */
char *pf_strv_join(const pf_strv *sv, const char *sep);

/* Lowercase hex of n bytes into out, which must hold 2n+1 bytes. */
void pf_hex(const unsigned char *p, size_t n, char *out);

/* Strip leading and trailing white space in place; returns s. */
char *pf_trim(char *s);

/* True when s is a syntactically valid DNS host name (letters, digits and
 * hyphens, labels of 1-63 octets, 253 in all; one trailing dot allowed). */
bool pf_valid_hostname(const char *s);

/* Open path for reading only when it is a regular file: a FIFO, device,
 * socket or directory is refused ("PATH is not a regular file") without
 * blocking, before anything is read.  *ret_st (may be NULL) gets its
 * fstat.  Returns the fd (close-on-exec, blocking) or -errno. */
struct stat;
int pf_open_regular(const char *path, struct stat *ret_st, pf_err *e);

/* Read a whole regular file of at most max bytes.  The caller frees *ret
 * (NUL-terminated; *ret_len excludes the NUL).  Returns 0 or -errno. */
int pf_read_file(const char *path, size_t max, char **ret, size_t *ret_len, pf_err *e);

/* Flags for pf_write_file_durable. */
enum {
	PF_WRITE_NOREPLACE = 1, /* fail with -EEXIST rather than replace */
};

/*
 * Write data to path durably: a temporary file in the same directory, created
 * with the final mode from the start (never wider), written, fsynced,
 * renamed into place (atomically refusing an existing file with
 * PF_WRITE_NOREPLACE) and the directory fsynced.  A reader sees the old file
 * or the new one, never a torn one.  Returns 0 or -errno.
 */
int pf_write_file_durable(const char *path, const void *data, size_t len, mode_t mode, int flags,
			  pf_err *e);

/* Remove the ".NAME.tmpXXXXXX" files pf_write_file_durable leaves next to
 * path when its writer is killed between creating and renaming them (they
 * may hold a private key, mode 0600).  Call with the lock that serialises
 * the writers of path held. */
void pf_remove_stale_temps(const char *path);

/* fsync the directory holding path.  Returns 0 or -errno. */
int pf_fsync_parent(const char *path);

/* Fault injection for the crash sweep (tests/crash-sweep): when the
 * environment variable PFTLS_FAULT names this point, the process kills
 * itself with SIGKILL at its PFTLS_FAULT_COUNT-th (default 1st) passage
 * there.  Compiled in only with PFTLS_FAULT_INJECTION (the tree's build;
 * not the Debian package's), a no-op otherwise.  The points:
 *   write, fsync, rename, dirsync  inside pf_write_file_durable, before
 *       each of those steps (every state save, key and certificate write);
 *   phase:NAME  right after the state file durably records phase NAME
 *       (rollover.c): generated, published, propagated, deployable,
 *       deployed, verified, retired, and idle once a rollover is complete
 *       (also "resuming after a failure" re-enters a phase through it). */
void pf_fault_point(const char *name);

/* Whether this build has the fault-injection points. */
bool pf_fault_injection(void);

/* Current wall-clock time in seconds since the epoch, and a monotonic clock
 * in microseconds. */
int64_t pf_now(void);
/* The wall clock in ms since the epoch, rounded down. */
int64_t pf_now_ms(void);
uint64_t pf_mono_usec(void);

/* Format seconds as a short duration such as "1h 5m" into buf. */
const char *pf_fmt_duration(int64_t secs, char *buf, size_t len);

#endif
