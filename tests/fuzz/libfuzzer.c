/*
 * libfuzzer.c - fuzz_fail for harnesses linked with libFuzzer (make fuzz):
 * a broken property is a crash, so libFuzzer keeps the input that caused it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"

void fuzz_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "FUZZ_CHECK failed at %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}
