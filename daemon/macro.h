/*
 * macro.h - small language helpers every module may use: the element count
 * of an array, named sizes for DNS names and the buffers that hold them, and
 * cleanup attributes for locals (GCC and clang's __attribute__((cleanup))),
 * so an error path can simply return.
 *
 * A local declared with one of the PF_CLEANUP_* markers is released when it
 * goes out of scope, whichever return leaves it: PF_CLEANUP_FREE frees it,
 * PF_CLEANUP_CLOSE closes a descriptor (-1 is left alone), PF_CLEANUP_FCLOSE
 * closes a stream, PF_CLEANUP_STRV clears a pf_strv.  Each must be
 * initialised where it is declared (NULL, -1, {0}).  To hand the value to the
 * caller instead, take it out with pf_take_ptr / pf_take_fd, which leave
 * nothing behind to release.  PF_DEFINE_CLEANUP makes a marker for any other
 * type with a NULL-accepting destructor (EVP_PKEY_free, BIO_free_all...).
 *
 * Destructors of this project's objects accept NULL.  Those that free an
 * object return NULL, so that "x = thing_free(x);" both releases and
 * forgets; those that empty a struct in place (pf_strv_clear,
 * pf_config_free, dns_request_free...) leave it zeroed, ready for reuse.
 */
#ifndef PF_MACRO_H
#define PF_MACRO_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "util.h"

/* Number of elements of an array (not of a pointer). */
#define PF_ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

/* The argument as a string literal, after macro expansion: for scanf widths,
 * which cannot be given as "*" arguments. */
#define PF_STRINGIFY(x) PF_STRINGIFY_(x)
#define PF_STRINGIFY_(x) #x

/*
 * DNS names.  PF_DNS_NAME_MAX is the longest presentation form kept (an
 * absolute name of 253 octets and its dot fit; RFC 1035's 255-octet wire
 * limit is the bound); PF_DNS_NAME_BUF holds it and its NUL.  Print a name
 * bounded with "%.*s", PF_DNS_NAME_MAX, name, or scan it with
 * "%" PF_STRINGIFY(PF_DNS_NAME_MAX) "s".
 */
#define PF_DNS_NAME_MAX 255
#define PF_DNS_NAME_BUF (PF_DNS_NAME_MAX + 1)

/* A host name as typed, without the trailing dot (RFC 1035's 255-octet wire
 * form less the length octets). */
#define PF_HOST_NAME_MAX 253

/* A TLSA owner name "_PORT._tcp.HOST.", and an endpoint label
 * "[HOST]:PORT": a name of PF_DNS_NAME_MAX and its decorations, with room
 * to spare. */
#define PF_OWNER_BUF 300
#define PF_ENDPOINT_BUF 300

/* Lowercase hex of a SHA-256 digest and its NUL. */
#define PF_SHA256_HEX_BUF 65

#define PF_CLEANUP(func) __attribute__((cleanup(func)))

/* Define static void NAME(TYPE *p) calling FREE(*p) when *p is not NULL: the
 * cleanup function for a local of pointer type TYPE. */
#define PF_DEFINE_CLEANUP(name, type, free_func)                                                   \
	static inline void name(type *p)                                                           \
	{                                                                                          \
		if (*p)                                                                            \
			free_func(*p);                                                             \
	}

/* The cleanup functions behind the markers; errno is kept, so a return
 * value computed from it is not disturbed by the release. */
static inline void pf_freep(void *p)
{
	int saved = errno;

	free(*(void **)p);
	errno = saved;
}

static inline void pf_closep(int *fd)
{
	int saved = errno;

	if (*fd >= 0)
		close(*fd);
	errno = saved;
}

static inline void pf_fclosep(FILE **f)
{
	int saved = errno;

	if (*f)
		fclose(*f);
	errno = saved;
}

#define PF_CLEANUP_FREE PF_CLEANUP(pf_freep)
#define PF_CLEANUP_CLOSE PF_CLEANUP(pf_closep)
#define PF_CLEANUP_FCLOSE PF_CLEANUP(pf_fclosep)
#define PF_CLEANUP_STRV PF_CLEANUP(pf_strv_clear)

/* Returns the pointer *pp held and sets *pp to NULL: ownership leaves the
 * local (pp points to any pointer type). */
static inline void *pf_take_ptr(void *pp)
{
	void **p = pp;
	void *v = *p;

	*p = NULL;
	return v;
}

/* Returns the descriptor *fd held and sets *fd to -1. */
static inline int pf_take_fd(int *fd)
{
	int v = *fd;

	*fd = -1;
	return v;
}

/* Close fd when it is not negative.  Returns -1, for "fd = pf_close(fd);". */
static inline int pf_close(int fd)
{
	if (fd >= 0)
		pf_closep(&fd);
	return -1;
}

#endif
