/*
 * test_macro.c - the helpers of daemon/macro.h: each cleanup marker releases
 * its local on every way out of a scope (checked through a counting
 * destructor, /proc/self/fd and a pf_strv), pf_take_ptr / pf_take_fd hand
 * ownership out so nothing is released, the element count, and the named
 * sizes with the printf and scanf widths made from them.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "../../daemon/macro.h"
#include "t.h"

static int freed;

static void count_free(int *p)
{
	freed += *p;
}

PF_DEFINE_CLEANUP(count_freep, int *, count_free)

/* Returns early from inside a scope holding a counted local when early. */
static int leave(bool early)
{
	int token = 1;
	PF_CLEANUP(count_freep) int *p = &token;

	(void)p; /* only its cleanup reads it */
	if (early)
		return 1;
	token = 10;
	return 0;
}

/* Returns the descriptor opened, after the scope that owned it closed it,
 * or kept it when keep. */
static int open_scoped(bool keep)
{
	PF_CLEANUP_CLOSE int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int seen = fd;

	if (keep)
		return pf_take_fd(&fd);
	return seen;
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/* Returns a string kept out of a PF_CLEANUP_FREE local by pf_take_ptr. */
static char *take_string(void)
{
	PF_CLEANUP_FREE char *s = pf_strdup("kept");
	PF_CLEANUP_FREE char *other = pf_strdup("released");

	(void)other;
	return pf_take_ptr(&s);
}

static size_t strv_scope(void)
{
	PF_CLEANUP_STRV pf_strv sv = {0};

	pf_strv_push(&sv, "a");
	pf_strv_push(&sv, "b");
	return sv.n;
}

int main(void)
{
	freed = 0;
	leave(true);
	T_CHECK(freed == 1, "the cleanup runs on an early return");
	freed = 0;
	leave(false);
	T_CHECK(freed == 10, "the cleanup runs at the end of the scope, with the final value");
	freed = 0;
	{
		PF_CLEANUP(count_freep) int *p = NULL;
		(void)p;
	}
	T_CHECK(freed == 0, "a NULL local is not passed to its destructor");

	int fd = open_scoped(false);
	T_CHECK(fd >= 0 && !fd_open(fd), "PF_CLEANUP_CLOSE closed fd %d on return", fd);
	fd = open_scoped(true);
	T_CHECK(fd >= 0 && fd_open(fd), "pf_take_fd handed fd %d out open", fd);
	errno = EPIPE;
	fd = pf_close(fd);
	T_CHECK(fd == -1 && errno == EPIPE, "pf_close returns -1 and keeps errno");
	{
		PF_CLEANUP_CLOSE int none = -1;
		(void)none;
	}
	T_CHECK(errno == EPIPE, "a -1 descriptor is left alone");
	{
		errno = ENOENT;
		PF_CLEANUP_FCLOSE FILE *f = fopen("/dev/null", "r");
		T_CHECK(f != NULL, "fopen /dev/null");
	}
	T_CHECK(errno == ENOENT, "PF_CLEANUP_FCLOSE keeps errno");

	char *s = take_string();
	T_STREQ(s, "kept", "pf_take_ptr handed the string out");
	free(s);
	T_CHECK(strv_scope() == 2, "PF_CLEANUP_STRV (leaks show under valgrind and ASan)");

	static const int arr[7] = {0};
	T_CHECK(PF_ELEMENTSOF(arr) == 7, "PF_ELEMENTSOF of a 7-element array");

	char host[PF_DNS_NAME_BUF], line[400];
	memset(line, 'a', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	T_CHECK(sscanf(line, "%" PF_STRINGIFY(PF_DNS_NAME_MAX) "s", host) == 1 &&
			strlen(host) == PF_DNS_NAME_MAX,
		"a scanf width from PF_DNS_NAME_MAX reads %d characters", PF_DNS_NAME_MAX);
	char out[PF_OWNER_BUF];
	snprintf(out, sizeof(out), "%.*s", PF_DNS_NAME_MAX, line);
	T_CHECK(strlen(out) == PF_DNS_NAME_MAX, "%%.*s with PF_DNS_NAME_MAX cuts at %d",
		PF_DNS_NAME_MAX);
	T_DONE();
}
