/*
 * t.h - the unit-test protocol: each check prints "PASS: name" or
 * "FAIL: name: why"; tests/run counts the lines.  A test program exits 1
 * when any of its checks failed.
 */
#ifndef PF_T_H
#define PF_T_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../daemon/util.h"

static int t_failed;

#define T_CHECK(cond, ...)                                                                         \
	do {                                                                                       \
		if (cond) {                                                                        \
			printf("PASS: ");                                                          \
			printf(__VA_ARGS__);                                                       \
			printf("\n");                                                              \
		} else {                                                                           \
			t_failed++;                                                                \
			printf("FAIL: ");                                                          \
			printf(__VA_ARGS__);                                                       \
			printf(" (%s:%d: %s)\n", __FILE__, __LINE__, #cond);                       \
		}                                                                                  \
		fflush(stdout);                                                                    \
	} while (0)

static inline int t_streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

#define T_STREQ(a, b, ...) T_CHECK(t_streq((a), (b)), __VA_ARGS__)

#define T_DONE() return t_failed ? 1 : 0

/* A scratch Postfix instance for postconf -c: dir (a mkdtemp template) is
 * made, with etc/, queue/ and data/ in it.  Returns DIR/etc (the caller
 * frees it); aborts when the directories cannot be made. */
static inline char *t_scratch_postfix(char *dir)
{
	char *etc;

	if (!mkdtemp(dir))
		abort();
	etc = pf_asprintf("%s/etc", dir);
	mkdir(etc, 0755);
	for (const char *const *s = (const char *const[]){"queue", "data", NULL}; *s; s++) {
		char *sub = pf_asprintf("%s/%s", dir, *s);

		mkdir(sub, 0755);
		free(sub);
	}
	return etc;
}

/* Remove what t_scratch_postfix made; a failure is a FAIL line. */
static inline void t_scratch_remove(const char *dir)
{
	char *cmd = pf_asprintf("rm -rf %s", dir);

	if (system(cmd) != 0)
		printf("FAIL: remove the scratch instance %s\n", dir);
	free(cmd);
}

#endif
