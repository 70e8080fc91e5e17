/*
 * fuzz_state.c - the rollover state file parser (pf_state_parse) on
 * arbitrary bytes.
 *
 * A state file ends in a SHA-256 checksum line, which random changes almost
 * never keep right.  So each input is parsed twice: as it is (the checksum
 * and the torn-file checks), and resealed - a last "checksum = ..." line
 * dropped, the correct one appended - so the fuzzer reaches the grammar and
 * the consistency rules behind the checksum.
 *
 * Besides no crash, leak or out-of-bounds access, the properties checked are
 * the ones the daemon relies on when it resumes from this file:
 *   - a rejected file gives -EINVAL and one line "fuzz.state:LINE: ..."
 *     naming a line the file has, without control characters, and leaves
 *     the caller's state exactly as it was (all or nothing);
 *   - an accepted state can be written again (pf_state_format, as every
 *     save does), what is written loads again, and writing that gives the
 *     same text: format(parse(x)) is a fixed point, so a save and a restart
 *     never change what the rollover knows;
 *   - rule 8 (pf_state_check_files, which every load applies): an accepted
 *     state is trusted only when each next key and certificate is a file
 *     of our naming scheme directly in the configuration directory, and a
 *     refusal names the field it refuses.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "../../daemon/state.h"
#include "fuzz.h"

#define FUZZ_MAX_LEN 16384 /* a real state of 20 hosts, 80 records: 12 KB */
#define NAME "fuzz.state"
#define CHECKSUM "checksum = "

static unsigned count_lines(const char *text, size_t len)
{
	unsigned n = 1;

	for (size_t i = 0; i < len; i++)
		n += text[i] == '\n';
	return n;
}

static void check_rejected(const pf_state *st, const pf_state *before, int r, const pf_err *e,
			   unsigned lines)
{
	FUZZ_CHECK(r == -EINVAL, "error code %d, expected -EINVAL: %s", r, e->msg);
	FUZZ_CHECK(memcmp(st, before, sizeof(*st)) == 0, "a rejected file changed the state");
	fuzz_check_error_line(e->msg, NAME, lines);
}

/* True when path is dir, "/", then a file name of ours for alg; repeated
 * slashes count as one and trailing ones in dir are not part of it, as for
 * the kernel and for pf_state_check_files. */
static bool ours(const char *path, const char *dir, enum pf_alg alg, bool cert)
{
	const char *p = path, *d = dir, *end = dir + strlen(dir);

	while (end > dir + 1 && end[-1] == '/')
		end--;
	while (d < end) {
		if (*d == '/') {
			if (*p != '/')
				return false;
			while (d < end && *d == '/')
				d++;
			while (*p == '/')
				p++;
			continue;
		}
		if (*p++ != *d++)
			return false;
	}
	if (*p != '/' && !(end == dir + 1 && *dir == '/'))
		return false;
	while (*p == '/')
		p++;
	return !strchr(p, '/') && pf_key_file_name_ours(p, alg, cert, NULL);
}

/* Rule 8 against the directory of the first next key (so the seeds, made
 * in test directories, reach the trusted side too), or /etc/postfix. */
static void check_trust(const pf_state *st)
{
	char field[32] = "", dir[PF_STATE_MAX_LINE] = "/etc/postfix";
	pf_err e = {0};
	int r;

	for (int a = 0; a < PF_ALG_COUNT; a++) {
		const pf_state_key *k = &st->keys[a];
		const char *slash;

		if (k->present && pf_state_key_has_next(k) &&
		    (slash = strrchr(k->next_key, '/')) != NULL && slash > k->next_key) {
			snprintf(dir, sizeof(dir), "%.*s", (int)(slash - k->next_key), k->next_key);
			break;
		}
	}
	r = pf_state_check_files(st, dir, field, &e);
	if (r < 0) {
		FUZZ_CHECK(r == -EINVAL, "check_files returned %d", r);
		FUZZ_CHECK(field[0] && strstr(e.msg, field), "untrusted, but no field named: %s",
			   e.msg);
		for (const char *p = e.msg; *p; p++)
			FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f,
				   "control character in: %s", e.msg);
		return;
	}
	for (int a = 0; a < PF_ALG_COUNT; a++) {
		const pf_state_key *k = &st->keys[a];

		if (k->present && pf_state_key_has_next(k))
			FUZZ_CHECK(ours(k->next_key, dir, (enum pf_alg)a, false) &&
					   ours(k->next_cert, dir, (enum pf_alg)a, true),
				   "trusted next files not ours in %s: %s %s", dir, k->next_key,
				   k->next_cert);
	}
}

static void check_accepted(const pf_state *st)
{
	char *text = NULL, *again_text = NULL, diff[1200];
	size_t len = 0, again_len = 0;
	pf_state again;
	pf_err e = {0};
	int r;

	r = pf_state_format(st, &text, &len, &e);
	FUZZ_CHECK(r == 0, "an accepted state cannot be saved: %s", e.msg);
	if (r < 0)
		return;
	FUZZ_CHECK(len == strlen(text), "formatted length %zu, text %zu bytes", len, strlen(text));
	r = pf_state_parse("formatted", text, len, &again, &e);
	FUZZ_CHECK(r == 0, "what a save writes does not load: %s", e.msg);
	if (r == 0) {
		r = pf_state_format(&again, &again_text, &again_len, &e);
		FUZZ_CHECK(r == 0, "the reloaded state cannot be saved: %s", e.msg);
		if (r == 0)
			FUZZ_CHECK(strcmp(text, again_text) == 0,
				   "save, load and save again changed the file: %s",
				   fuzz_first_difference(text, again_text, diff, sizeof(diff)));
		free(again_text);
		pf_state_free(&again);
	}
	free(text);
}

static void parse_one(const char *text, size_t len)
{
	pf_state st, before;
	pf_err e = {0};
	int r;

	/* A recognisable pattern that the parser must leave alone on error. */
	memset(&st, 0xa5, sizeof(st));
	memcpy(&before, &st, sizeof(st));
	r = pf_state_parse(NAME, text, len, &st, &e);
	if (r < 0) {
		check_rejected(&st, &before, r, &e, count_lines(text, len));
		return;
	}
	FUZZ_CHECK(r == 0, "parse returned %d", r);
	check_accepted(&st);
	check_trust(&st);
	pf_state_free(&st);
}

/* The input with a correct checksum line in place of its last line when
 * that is one, or else appended.  Caller frees. */
static char *reseal(const uint8_t *data, size_t size, size_t *ret_len)
{
	size_t body = size, start;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char hex[65], *out;

	/* Drop a last line beginning "checksum = ", terminated or not. */
	if (body && data[body - 1] == '\n')
		body--;
	start = body;
	while (start > 0 && data[start - 1] != '\n')
		start--;
	if (body - start >= strlen(CHECKSUM) &&
	    memcmp(data + start, CHECKSUM, strlen(CHECKSUM)) == 0)
		body = start;
	else
		body = size;
	out = pf_malloc(body + 1 + strlen(CHECKSUM) + 64 + 2);
	memcpy(out, data, body);
	if (body && out[body - 1] != '\n')
		out[body++] = '\n';
	if (!EVP_Digest(out, body, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		abort();
	pf_hex(md, 32, hex);
	*ret_len = body + (size_t)sprintf(out + body, CHECKSUM "%s\n", hex);
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len = 0;
	char *sealed;

	parse_one((const char *)data, size);
	sealed = reseal(data, size, &len);
	if (len != size || memcmp(sealed, data, size) != 0)
		parse_one(sealed, len);
	free(sealed);
	return 0;
}
