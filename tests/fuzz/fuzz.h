/*
 * fuzz.h - what a fuzz harness tests/fuzz/fuzz_NAME.c may use.  A harness
 * defines LLVMFuzzerTestOneInput (and optionally LLVMFuzzerInitialize) and
 * states the properties of the code under test with FUZZ_CHECK; it never
 * prints or exits by itself.
 *
 * The same harness source is linked two ways (see the end of the Makefile):
 *   - with libFuzzer and tests/fuzz/libfuzzer.c (clang, make fuzz): a failed
 *     FUZZ_CHECK prints the message and aborts, so libFuzzer saves the input;
 *   - with tests/fuzz/replay.c (gcc, the normal flags, make check): a plain
 *     program build/tests/test_fuzz_replay_NAME that feeds every file of
 *     tests/fuzz/corpus/NAME/ once and prints PASS or FAIL per file.
 *
 * A harness may declare "#define FUZZ_MAX_LEN n" on a line of its own: make
 * fuzz passes it as -max_len (default 4096).
 */
#ifndef PF_FUZZ_H
#define PF_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../../daemon/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Report a broken property of the code under test for the current input.
 * Under libFuzzer it does not return; under replay it records the first
 * failure of the input and returns, so the harness should return soon. */
void fuzz_fail(const char *file, int line, const char *fmt, ...) PF_PRINTF(3, 4);

#define FUZZ_CHECK(cond, ...)                                                                      \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fuzz_fail(__FILE__, __LINE__, __VA_ARGS__);                                \
	} while (0)

/* The first line where texts a and b differ, as "A" became "B", into buf;
 * returns buf. */
static inline const char *fuzz_first_difference(const char *a, const char *b, char *buf,
						size_t size)
{
	while (*a && *a == *b) {
		const char *na = strchr(a, '\n'), *nb = strchr(b, '\n');

		if (!na || !nb || na - a != nb - b || memcmp(a, b, (size_t)(na - a)) != 0)
			break;
		a = na + 1;
		b = nb + 1;
	}
	snprintf(buf, size, "\"%.*s\" became \"%.*s\"", (int)strcspn(a, "\n"), a,
		 (int)strcspn(b, "\n"), b);
	return buf;
}

/* A refusal's message: "NAME:LINE: ..." naming one of the input's lines
 * (1 to lines), without control characters. */
static inline void fuzz_check_error_line(const char *msg, const char *name, unsigned lines)
{
	unsigned line = 0;
	int used = 0;
	size_t n = strlen(name);

	FUZZ_CHECK(strncmp(msg, name, n) == 0 && sscanf(msg + n, ":%u:%n", &line, &used) == 1 &&
			   used > 0,
		   "message does not start with %s:LINE: %s", name, msg);
	FUZZ_CHECK(line >= 1 && line <= lines, "message names line %u of a %u-line file: %s", line,
		   lines, msg);
	for (const char *c = msg; *c; c++)
		FUZZ_CHECK((unsigned char)*c >= 0x20 && *c != 0x7f,
			   "message holds control character 0x%02x: %s", (unsigned char)*c, msg);
}

#endif
