/*
 * fuzz_config.c - pftls-roll.cf parsing (pf_config_parse) on arbitrary bytes.
 *
 * Besides no crash, leak or out-of-bounds access (the sanitizers' part), the
 * properties checked are the ones a user relies on:
 *   - a rejected file gives one line "fuzz.cf:LINE: ..." naming a line the
 *     file has, exit code 2, and leaves the configuration exactly as it was
 *     (the defaults): all or nothing;
 *   - an accepted file holds no control characters in any value, and what
 *     "pftls-roll config -a" prints for it is itself a configuration that
 *     loads to the same settings.
 * The input is cut at its first NUL, as a C string is; pf_config_load refuses
 * files with NUL bytes before parsing.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../daemon/config.h"
#include "fuzz.h"

#define FUZZ_MAX_LEN 8192 /* the annotated example is 6.7 KB */
#define NAME "fuzz.cf"

/* Every effective value, as "config -a" prints them.  Caller frees. */
static char *print_all(const pf_config *cfg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		abort();
	for (unsigned id = 0; id < PF_P_COUNT; id++)
		pf_config_print_param(cfg, id, f);
	fclose(f);
	return buf;
}

/* print_all plus what the parser records about the file: its name, and the
 * line and raw text of each setting.  Caller frees. */
static char *print_state(const pf_config *cfg)
{
	char *values = print_all(cfg), *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		abort();
	fprintf(f, "path=%s\n%s", cfg->path ? cfg->path : "(none)", values);
	for (unsigned id = 0; id < PF_P_COUNT; id++)
		fprintf(f, "%u: line %u raw %s\n", id, cfg->set_line[id],
			cfg->raw[id] ? cfg->raw[id] : "(none)");
	fclose(f);
	free(values);
	return buf;
}

static unsigned count_lines(const char *text)
{
	unsigned n = 1;

	for (const char *p = text; *p; p++)
		if (*p == '\n')
			n++;
	return n;
}

static void check_rejected(const pf_config *cfg, int r, const pf_err *e, unsigned lines)
{
	static char *defaults;
	char *state, diff[600];
	unsigned line = 0;
	int used = 0;

	if (!defaults) {
		pf_config d;

		pf_config_init(&d);
		defaults = print_state(&d);
		pf_config_free(&d);
	}
	FUZZ_CHECK(r == -EINVAL, "error code %d, expected -EINVAL", r);
	FUZZ_CHECK(e->exit_code == PF_EXIT_USAGE, "exit code %d, expected 2", e->exit_code);
	FUZZ_CHECK(!strchr(e->msg, '\n'), "error message is not one line: %s", e->msg);
	FUZZ_CHECK(sscanf(e->msg, NAME ":%u:%n", &line, &used) == 1 && used > 0,
		   "error message does not start with " NAME ":LINE: %s", e->msg);
	FUZZ_CHECK(line >= 1 && line <= lines, "error names line %u of a %u-line file: %s", line,
		   lines, e->msg);
	state = print_state(cfg);
	FUZZ_CHECK(strcmp(state, defaults) == 0, "a rejected file changed the configuration: %s",
		   fuzz_first_difference(defaults, state, diff, sizeof(diff)));
	free(state);
}

static void check_accepted(const pf_config *cfg, unsigned lines)
{
	pf_config again;
	pf_err e = {0};
	char *printed, *reprinted, diff[600];
	int r;

	FUZZ_CHECK(cfg->path && strcmp(cfg->path, NAME) == 0, "file name not recorded");
	for (unsigned id = 0; id < PF_P_COUNT; id++) {
		const char *raw = cfg->raw[id];

		FUZZ_CHECK(cfg->set_line[id] <= lines, "%s: set at line %u of %u",
			   pf_config_param_name(id), cfg->set_line[id], lines);
		FUZZ_CHECK(!raw == !cfg->set_line[id], "%s: raw text and line disagree",
			   pf_config_param_name(id));
		for (const char *p = raw; p && *p; p++)
			FUZZ_CHECK(!iscntrl((unsigned char)*p) || *p == '\t' || *p == '\r',
				   "%s accepted with control character 0x%02x in its value",
				   pf_config_param_name(id), (unsigned char)*p);
	}
	printed = print_all(cfg);
	pf_config_init(&again);
	r = pf_config_parse(&again, "printed.cf", printed, &e);
	FUZZ_CHECK(r == 0, "\"config -a\" output does not load: %s", e.msg);
	if (r == 0) {
		reprinted = print_all(&again);
		FUZZ_CHECK(strcmp(printed, reprinted) == 0,
			   "\"config -a\" output loads to other settings: %s",
			   fuzz_first_difference(printed, reprinted, diff, sizeof(diff)));
		free(reprinted);
	}
	pf_config_free(&again);
	free(printed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = pf_strndup((const char *)data, size);
	pf_config cfg;
	pf_err e = {0};
	unsigned lines = count_lines(text);
	int r;

	pf_config_init(&cfg);
	r = pf_config_parse(&cfg, NAME, text, &e);
	if (r < 0)
		check_rejected(&cfg, r, &e, lines);
	else
		check_accepted(&cfg, lines);
	pf_config_free(&cfg);
	free(text);
	return 0;
}
