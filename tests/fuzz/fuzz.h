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

#endif
