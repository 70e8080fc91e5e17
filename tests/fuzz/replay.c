/*
 * replay.c - the main() that turns a fuzz harness into an ordinary test:
 * build/tests/test_fuzz_replay_NAME feeds each file of tests/fuzz/corpus/NAME/
 * (or the files and directories named as arguments) to the harness once, in
 * name order, and prints "PASS: ..." or "FAIL: ...: why" per file for
 * tests/run.  A crash or a sanitizer report ends the program with a non-zero
 * status; the "# replaying FILE" line before it names the input.
 *
 * Reproduce a libFuzzer finding without clang:
 *   build/tests/test_fuzz_replay_config path/to/crash-file
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* gcc says __SANITIZE_ADDRESS__, clang 14 only __has_feature. */
#if defined(__SANITIZE_ADDRESS__)
#define HAVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_LSAN 1
#endif
#endif
#ifdef HAVE_LSAN
#include <sanitizer/lsan_interface.h>
#endif

/* Harnesses that need no set-up leave it undefined. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

#define REPLAY_PREFIX "test_fuzz_replay_"
#define REPLAY_MAX_INPUT (1024 * 1024)

static const char *harness = "?";
static char failure[1024]; /* first failed property of the current input */
static unsigned n_pass, n_fail;

void fuzz_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	const char *base = strrchr(file, '/');
	size_t used;

	if (failure[0])
		return;
	va_start(ap, fmt);
	vsnprintf(failure, sizeof(failure), fmt, ap);
	va_end(ap);
	used = strlen(failure);
	snprintf(failure + used, sizeof(failure) - used, " (%s:%d)", base ? base + 1 : file, line);
}

/* Keep a report on one line, whatever bytes a message quotes. */
static void print_clean(const char *s)
{
	for (; *s; s++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

static void fail_line(const char *path, const char *why)
{
	n_fail++;
	printf("FAIL: fuzz replay %s: %s: ", harness, path);
	print_clean(why);
	putchar('\n');
	fflush(stdout);
}

static void replay_file(const char *path)
{
	pf_err e = {0};
	char *data;
	size_t len;

	if (pf_read_file(path, REPLAY_MAX_INPUT, &data, &len, &e) < 0) {
		fail_line(path, e.msg);
		return;
	}
	printf("# replaying %s (%zu bytes)\n", path, len);
	fflush(stdout);
	failure[0] = '\0';
	LLVMFuzzerTestOneInput((const uint8_t *)data, len);
	free(data);
#ifdef HAVE_LSAN
	/* Name the input that leaked, not only the program at exit. */
	if (!failure[0] && __lsan_do_recoverable_leak_check())
		snprintf(failure, sizeof(failure), "memory leaked (LeakSanitizer report)");
#endif
	if (failure[0]) {
		fail_line(path, failure);
		return;
	}
	n_pass++;
	printf("PASS: fuzz replay %s: %s\n", harness, path);
	fflush(stdout);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replay every regular file directly in dir, sorted by name.  Returns the
 * number of files found. */
static size_t replay_dir(const char *dir)
{
	pf_strv files = {0};
	struct dirent *d;
	DIR *dh = opendir(dir);

	if (!dh) {
		char why[256];

		snprintf(why, sizeof(why),
			 "cannot open the corpus directory: %s (run from the top "
			 "of the source tree)",
			 strerror(errno));
		fail_line(dir, why);
		return 0;
	}
	while ((d = readdir(dh))) {
		struct stat st;
		char *p;

		if (d->d_name[0] == '.')
			continue;
		p = pf_asprintf("%s/%s", dir, d->d_name);
		if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
			pf_strv_push_owned(&files, p);
		else
			free(p);
	}
	closedir(dh);
	if (files.n)
		qsort(files.v, files.n, sizeof(files.v[0]), by_name);
	for (size_t i = 0; i < files.n; i++)
		replay_file(files.v[i]);
	if (files.n == 0)
		fail_line(dir, "no corpus files: a replay that runs nothing proves nothing");
	size_t n = files.n;
	pf_strv_clear(&files);
	return n;
}

int main(int argc, char **argv)
{
	const char *prog = strrchr(argv[0], '/');
	char *deflt = NULL;

	prog = prog ? prog + 1 : argv[0];
	if (strncmp(prog, REPLAY_PREFIX, strlen(REPLAY_PREFIX)) == 0)
		harness = prog + strlen(REPLAY_PREFIX);
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	if (argc < 2) {
		deflt = pf_asprintf("tests/fuzz/corpus/%s", harness);
		replay_dir(deflt);
		free(deflt);
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
			replay_dir(argv[i]);
		else
			replay_file(argv[i]);
	}
	printf("# %s: %u inputs passed, %u failed\n", harness, n_pass, n_fail);
	return n_fail ? 1 : 0;
}
