/*
 * util.c - the error record, allocation, string lists, and durable file I/O
 * shared by the daemon and the command line.
 */
#include "util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"

static int err_vset(pf_err *e, int code, int exit_code, const char *fmt, va_list ap)
{
	if (e) {
		e->code = code;
		e->exit_code = exit_code;
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	}
	return -code;
}

int pf_err_set(pf_err *e, int code, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = err_vset(e, code > 0 ? code : EIO, PF_EXIT_FAIL, fmt, ap);
	va_end(ap);
	return r;
}

int pf_err_usage(pf_err *e, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = err_vset(e, EINVAL, PF_EXIT_USAGE, fmt, ap);
	va_end(ap);
	return r;
}

int pf_err_refuse(pf_err *e, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = err_vset(e, EPERM, PF_EXIT_REFUSED, fmt, ap);
	va_end(ap);
	return r;
}

void pf_err_prefix(pf_err *e, const char *fmt, ...)
{
	char head[256], old[sizeof(e->msg)];
	va_list ap;

	if (!e)
		return;
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	/* Built by hand: the result is cut at the buffer's end on purpose. */
	size_t hl = strlen(head), ol = strlen(old), cap = sizeof(e->msg) - 1;
	if (hl > cap)
		hl = cap;
	memcpy(e->msg, head, hl);
	if (hl + 2 <= cap) {
		memcpy(e->msg + hl, ": ", 2);
		hl += 2;
	}
	if (ol > cap - hl)
		ol = cap - hl;
	memcpy(e->msg + hl, old, ol);
	e->msg[hl + ol] = '\0';
}

void pf_err_clear(pf_err *e)
{
	if (e)
		memset(e, 0, sizeof(*e));
}

static void out_of_memory(void)
{
	static const char m[] = "pftls-roll: fatal: out of memory\n";

	(void)!write(2, m, sizeof(m) - 1);
	abort();
}

void *pf_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		out_of_memory();
	return p;
}

void *pf_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		out_of_memory();
	return p;
}

void *pf_realloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		out_of_memory();
	return p;
}

char *pf_strdup(const char *s)
{
	return pf_strndup(s, strlen(s));
}

char *pf_strndup(const char *s, size_t n)
{
	char *p = pf_malloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

const char *pf_printable_copy(char *dst, size_t cap, const char *s)
{
	size_t n = 0;

	for (; s && s[n] && n + 1 < cap; n++) {
		unsigned char c = (unsigned char)s[n];

		dst[n] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
	}
	dst[n] = '\0';
	return dst;
}

char *pf_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0)
		out_of_memory();
	return p;
}

void pf_free_secret(void *p, size_t n)
{
	if (!p)
		return;
	explicit_bzero(p, n);
	free(p);
}

void pf_strv_push_owned(pf_strv *sv, char *s)
{
	if (sv->n + 2 > sv->cap) {
		sv->cap = sv->cap ? sv->cap * 2 : 8;
		sv->v = pf_realloc(sv->v, sv->cap * sizeof(char *));
	}
	sv->v[sv->n++] = s;
	sv->v[sv->n] = NULL;
}

void pf_strv_push(pf_strv *sv, const char *s)
{
	pf_strv_push_owned(sv, pf_strdup(s));
}

bool pf_strv_contains(const pf_strv *sv, const char *s)
{
	for (size_t i = 0; i < sv->n; i++)
		if (strcmp(sv->v[i], s) == 0)
			return true;
	return false;
}

void pf_strv_clear(pf_strv *sv)
{
	if (!sv)
		return;
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	memset(sv, 0, sizeof(*sv));
}

void pf_split_list(const char *s, pf_strv *sv)
{
	const char *p = s;

	while (*p) {
		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		const char *start = p;
		while (*p && *p != ',' && !isspace((unsigned char)*p))
			p++;
		pf_strv_push_owned(sv, pf_strndup(start, (size_t)(p - start)));
	}
}

char *pf_strv_join(const pf_strv *sv, const char *sep)
{
	size_t len = 1, seplen = strlen(sep);
	char *out, *w;

	for (size_t i = 0; i < sv->n; i++)
		len += strlen(sv->v[i]) + seplen;
	out = w = pf_malloc(len);
	*w = '\0';
	for (size_t i = 0; i < sv->n; i++) {
		size_t l = strlen(sv->v[i]);
		if (i) {
			memcpy(w, sep, seplen);
			w += seplen;
		}
		memcpy(w, sv->v[i], l);
		w += l;
	}
	*w = '\0';
	return out;
}

void pf_hex(const unsigned char *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

char *pf_trim(char *s)
{
	char *start = s, *end;

	while (isspace((unsigned char)*start))
		start++;
	if (start != s)
		memmove(s, start, strlen(start) + 1);
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

bool pf_valid_hostname(const char *s)
{
	size_t len = strlen(s), label = 0;

	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0 || len > PF_HOST_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!isalnum(c) && c != '-')
			return false;
		if (c == '-' && label == 0)
			return false;
		if (++label > 63)
			return false;
	}
	/* label == 0: the name ends in an empty label ("a.." before the one
	 * trailing dot allowed was taken off). */
	return label > 0 && s[len - 1] != '-';
}

/* What kind of file mode is, for a refusal. */
static const char *file_kind(mode_t mode)
{
	return S_ISDIR(mode)    ? "a directory"
	       : S_ISFIFO(mode) ? "a FIFO"
	       : S_ISCHR(mode)  ? "a character device"
	       : S_ISBLK(mode)  ? "a block device"
	       : S_ISSOCK(mode) ? "a socket"
				: "not a plain file";
}

int pf_open_regular(const char *path, struct stat *ret_st, pf_err *e)
{
	struct stat st;
	int r;

	/* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
	 * writer for ever, and a device's open may have side effects or block;
	 * the type is known only once it is open. */
	PF_CLEANUP_CLOSE int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = errno;
		return pf_err_set(e, r, "cannot open %s: %s", path, strerror(r));
	}
	if (fstat(fd, &st) < 0) {
		r = errno;
		return pf_err_set(e, r, "cannot read %s: %s", path, strerror(r));
	}
	if (!S_ISREG(st.st_mode))
		return pf_err_set(e, S_ISDIR(st.st_mode) ? EISDIR : EINVAL,
				  "%s is not a regular file (%s)", path, file_kind(st.st_mode));
	/* Blocking reads again (for a regular file the flag changes nothing;
	 * cleared so no caller inherits a surprise). */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		r = errno;
		return pf_err_set(e, r, "cannot read %s: %s", path, strerror(r));
	}
	if (ret_st)
		*ret_st = st;
	return pf_take_fd(&fd);
}

int pf_read_file(const char *path, size_t max, char **ret, size_t *ret_len, pf_err *e)
{
	struct stat st;
	PF_CLEANUP_FREE char *buf = NULL;
	size_t len = 0;
	int r;

	PF_CLEANUP_CLOSE int fd = pf_open_regular(path, &st, e);
	if (fd < 0)
		return fd;
	if ((size_t)st.st_size > max)
		return pf_err_set(e, EFBIG, "%s is too large (%lld bytes, at most %zu)", path,
				  (long long)st.st_size, max);
	buf = pf_malloc(max + 1);
	for (;;) {
		ssize_t n = read(fd, buf + len, max + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = errno;
			return pf_err_set(e, r, "cannot read %s: %s", path, strerror(r));
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max)
			return pf_err_set(e, EFBIG, "%s is too large (more than %zu bytes)", path,
					  max);
	}
	buf[len] = '\0';
	*ret = pf_take_ptr(&buf);
	if (ret_len)
		*ret_len = len;
	return 0;
}

int pf_fsync_parent(const char *path)
{
	PF_CLEANUP_FREE char *dir = pf_strdup(path);
	char *slash = strrchr(dir, '/');

	if (!slash)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	PF_CLEANUP_CLOSE int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		return -errno;
	return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int pf_write_file_durable(const char *path, const void *data, size_t len, mode_t mode, int flags,
			  pf_err *e)
{
	const char *base = strrchr(path, '/');
	size_t dirlen = base ? (size_t)(base - path) + 1 : 0;
	PF_CLEANUP_FREE char *tmp = NULL;
	int fd, r;

	base = base ? base + 1 : path;
	if (!*base)
		return pf_err_set(e, EINVAL, "%s is not a file name", path);
	tmp = pf_asprintf("%.*s.%s.tmpXXXXXX", (int)dirlen, path, base);
	/* mkstemp creates the file 0600 and exclusively; narrow to mode before
	 * a byte is written, so the content is never more visible than asked. */
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = errno;
		return pf_err_set(e, r, "cannot create a temporary file for %s: %s", path,
				  strerror(r));
	}
	if (fchmod(fd, mode & 0777) < 0) {
		r = errno;
		goto fail;
	}
	pf_fault_point("write");
	if ((r = -write_all(fd, data, len)) != 0)
		goto fail;
	pf_fault_point("fsync");
	if (fsync(fd) < 0) {
		r = errno;
		goto fail;
	}
	close(fd);
	fd = -1;
	pf_fault_point("rename");
	if (flags & PF_WRITE_NOREPLACE) {
		if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) < 0) {
			r = errno;
			/* Some file systems lack RENAME_NOREPLACE; link(2) gives the
			 * same all-or-nothing refusal of an existing name. */
			if (r == EINVAL || r == ENOSYS) {
				if (link(tmp, path) < 0) {
					r = errno;
					goto fail;
				}
				unlink(tmp);
			} else {
				goto fail;
			}
		}
	} else if (rename(tmp, path) < 0) {
		r = errno;
		goto fail;
	}
	pf_fault_point("dirsync");
	if ((r = -pf_fsync_parent(path)) != 0)
		return pf_err_set(e, r, "cannot sync the directory of %s: %s", path, strerror(r));
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	if (r == EEXIST)
		return pf_err_set(e, r, "%s already exists; not overwriting it", path);
	return pf_err_set(e, r, "cannot write %s: %s", path, strerror(r));
}

void pf_remove_stale_temps(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir =
		slash ? pf_strndup(path, (size_t)(slash - path) + (slash == path)) : pf_strdup(".");
	char *prefix = pf_asprintf(".%s.tmp", slash ? slash + 1 : path);
	size_t plen = strlen(prefix);
	DIR *d = opendir(dir);
	struct dirent *de;

	while (d && (de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, prefix, plen) == 0 && strlen(de->d_name) == plen + 6) {
			char *p = pf_asprintf("%s/%s", dir, de->d_name);

			unlink(p);
			free(p);
		}
	}
	if (d)
		closedir(d);
	free(prefix);
	free(dir);
}

#ifdef PFTLS_FAULT_INJECTION
void pf_fault_point(const char *name)
{
	static long remaining = -1;
	const char *want = getenv("PFTLS_FAULT");

	if (!want || strcmp(want, name) != 0)
		return;
	if (remaining < 0) {
		const char *c = getenv("PFTLS_FAULT_COUNT");
		remaining = c ? strtol(c, NULL, 10) : 1;
	}
	if (--remaining <= 0)
		kill(getpid(), SIGKILL);
}

bool pf_fault_injection(void)
{
	return true;
}
#else
void pf_fault_point(const char *name)
{
	(void)name;
}

bool pf_fault_injection(void)
{
	return false;
}
#endif

int64_t pf_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

int64_t pf_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t pf_mono_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

const char *pf_fmt_duration(int64_t secs, char *buf, size_t len)
{
	static const struct {
		int64_t n;
		char u;
	} units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
	size_t used = 0;
	int parts = 0;

	if (secs <= 0) {
		snprintf(buf, len, "0s");
		return buf;
	}
	buf[0] = '\0';
	for (size_t i = 0; i < 4 && parts < 2; i++) {
		int64_t q = secs / units[i].n;

		if (q == 0 && parts == 0)
			continue;
		if (q > 0) {
			used += (size_t)snprintf(buf + used, used < len ? len - used : 0,
						 "%s%lld%c", parts ? " " : "", (long long)q,
						 units[i].u);
		}
		parts++;
		secs -= q * units[i].n;
	}
	return buf;
}
