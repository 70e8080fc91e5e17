/*
 * fuzz_tsig_key.c - the TSIG key file parser (dns_tsig_key_parse) on
 * arbitrary bytes.
 *
 * Besides no crash, leak or out-of-bounds access, the properties checked are
 * the ones a user relies on:
 *   - a rejected file gets exit code 1, no key, and one line "fuzz.key:LINE:
 *     ..." naming a line the file has, with no control character in it (the
 *     message goes to the terminal and the journal);
 *   - no message holds the secret: neither a run of 12 base64 characters of
 *     the text after a "secret" keyword (a word of its own or followed by
 *     punctuation, not part of a key name; unless that run also appears
 *     elsewhere in the file, as a key name may), nor 8 printable bytes of
 *     its base64 decoding (the seeds' secrets decode to readable text, so a
 *     message quoting the decoded bytes would show);
 *   - an accepted key has a name of printable ASCII without spaces ending in
 *     "." (what the network process receives, net_msg.c), a known algorithm
 *     with its MAC length, and a secret of 1 to DNS_TSIG_SECRET_MAX bytes;
 *   - an accepted key can be rebuilt: from name, algorithm and secret
 *     (dns_tsig_key_new) it is the same key, and both sign a message
 *     identically; from name and algorithm alone (dns_tsig_key_public, as
 *     net_msg.c gives it to the network process) it has the same name, wire
 *     form and algorithm, and no secret.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../daemon/dns_tsig.h"
#include "../../daemon/net_msg.h"
#include "fuzz.h"

#define FUZZ_MAX_LEN 4096
#define NAME "fuzz.key"
#define RUN_TEXT 12     /* base64 characters of a secret that may not be quoted */
#define RUN_BYTES 8     /* decoded secret bytes that may not be quoted */
#define WINDOW_SPAN 160 /* how far into a secret windows are checked */

static unsigned count_lines(const uint8_t *data, size_t size)
{
	unsigned n = 1;

	for (size_t i = 0; i < size; i++)
		n += data[i] == '\n';
	return n;
}

static bool is_b64(unsigned char c)
{
	return isalnum(c) || c == '+' || c == '/' || c == '=';
}

/* Number of times needle (n bytes) occurs in hay (h bytes), counting up to
 * 2 ("more than once"). */
static unsigned occurrences(const uint8_t *hay, size_t h, const uint8_t *needle, size_t n)
{
	const uint8_t *p = memmem(hay, h, needle, n);

	if (!p)
		return 0;
	p++;
	return memmem(p, h - (size_t)(p - hay), needle, n) ? 2 : 1;
}

/* Loose base64 decoding of s (n bytes) into out, stopping at the first byte
 * outside the alphabet.  Returns the number of bytes decoded. */
static size_t b64_loose(const uint8_t *s, size_t n, uint8_t *out)
{
	static const char alpha[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		const char *p = s[i] ? strchr(alpha, s[i]) : NULL;

		if (!p)
			break;
		acc = acc << 6 | (uint32_t)(p - alpha);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return o;
}

/* Are the n bytes at p text a message could show as they are: printable
 * ASCII other than "?", which messages put in place of control characters? */
static bool printable_run(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7e || p[i] == '?')
			return false;
	return true;
}

static uint8_t *copy_of(const uint8_t *p, size_t n)
{
	uint8_t *c = pf_malloc(n);

	memcpy(c, p, n);
	return c;
}

/* The next base64 alphabet character after c ('/' wraps to 'A'; '='
 * stays): a text rotated so keeps its length, padding and validity as
 * base64, but decodes to other bytes. */
static uint8_t b64_next(uint8_t c)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				       "0123456789+/";
	const char *at = c ? strchr(alphabet, c) : NULL;

	if (!at)
		return c;
	return (uint8_t)(at[1] ? at[1] : alphabet[0]);
}

/* True when the parser's message for data[0..size), with the secret's text
 * data[start..end) replaced, still holds needle[0..n): then needle is the
 * message's own wording ("the secret is not ..."), which decoded readable
 * seed secrets can spell by chance, not something of the secret's.  Three
 * replacements, none holding the secret's bytes: all "A"s (valid base64),
 * each character rotated in the alphabet (the same length and padding),
 * and all "!"s (never base64, so the parser's "not valid base64" words). */
static bool in_own_words(const uint8_t *data, size_t size, size_t start, size_t end,
			 const uint8_t *needle, size_t n)
{
	bool own = false;

	for (int variant = 0; variant < 3 && !own; variant++) {
		uint8_t *other = copy_of(data, size);
		dns_tsig_key *k = NULL;
		pf_err e = {0};

		for (size_t i = start; i < end; i++)
			other[i] = variant == 0 ? 'A' : variant == 1 ? b64_next(data[i]) : '!';
		if (dns_tsig_key_parse(NAME, (const char *)other, size, &k, &e) == 0)
			dns_tsig_key_free(k);
		own = occurrences((const uint8_t *)e.msg, strlen(e.msg), needle, n) > 0;
		free(other);
	}
	return own;
}

/* The secret must not show in msg: for every "secret" keyword of the
 * input, the base64 text after it and its decoding. */
static void check_no_secret(const uint8_t *data, size_t size, const char *msg)
{
	size_t ml = strlen(msg);

	for (size_t i = 0; i + 6 <= size; i++) {
		size_t p = i + 6, start, end;

		/* The keyword, not "secret" inside a name: a word of its own,
		 * or followed by punctuation ("secret=...", "secret:"). */
		if (strncasecmp((const char *)data + i, "secret", 6) != 0 ||
		    (i > 0 && !isspace(data[i - 1]) &&
		     !(data[i - 1] && strchr("{};/", data[i - 1]))) ||
		    (p < size &&
		     (isalnum(data[p]) || data[p] == '-' || data[p] == '_' || data[p] == '.')))
			continue;
		/* Nor "secret" inside a quoted string (a key name such as
		 * "a/secret//b", which messages rightly show): an odd number of
		 * double quotes before it on its line. */
		{
			size_t q = 0, l = i;

			while (l > 0 && data[l - 1] != '\n')
				l--;
			for (; l < i; l++)
				q += data[l] == '"';
			if (q % 2)
				continue;
		}
		while (p < size && (isspace(data[p]) || data[p] == '"'))
			p++;
		start = p;
		while (p < size && is_b64(data[p]))
			p++;
		/* Messages quote at most the first 100 characters of a token. */
		end = p - start > WINDOW_SPAN ? start + WINDOW_SPAN : p;
		for (size_t w = start; w + RUN_TEXT <= end; w++)
			if (occurrences(data, size, data + w, RUN_TEXT) == 1)
				FUZZ_CHECK(
					!occurrences((const uint8_t *)msg, ml, data + w, RUN_TEXT),
					"message quotes the secret's text \"%.*s\": %s", RUN_TEXT,
					(const char *)data + w, msg);
		uint8_t *dec = pf_malloc(end - start + 1);
		size_t dl = b64_loose(data + start, end - start, dec);

		for (size_t w = 0; w + RUN_BYTES <= dl; w++)
			if (printable_run(dec + w, RUN_BYTES) &&
			    !occurrences(data, size, dec + w, RUN_BYTES) &&
			    occurrences((const uint8_t *)msg, ml, dec + w, RUN_BYTES))
				FUZZ_CHECK(in_own_words(data, size, start, end, dec + w, RUN_BYTES),
					   "message quotes decoded secret bytes \"%.*s\": %s",
					   RUN_BYTES, (const char *)dec + w, msg);
		free(dec);
	}
}

static void check_rejected(const dns_tsig_key *k, int r, const pf_err *e, unsigned lines)
{
	FUZZ_CHECK(k == NULL, "a key was returned with an error");
	FUZZ_CHECK(r == -EINVAL, "error code %d, expected -EINVAL: %s", r, e->msg);
	FUZZ_CHECK(e->exit_code == PF_EXIT_FAIL, "exit code %d, expected 1: %s", e->exit_code,
		   e->msg);
	fuzz_check_error_line(e->msg, NAME, lines);
}

/* Sign the same small message with both keys: equal keys, equal MACs. */
static bool same_signature(const dns_tsig_key *a, const dns_tsig_key *b)
{
	static const uint8_t query[] = {0x12, 0x34, 0x28, 0,   0,   1,   0,   0, 0, 0, 0, 0, 7,
					'e',  'x',  'a',  'm', 'p', 'l', 'e', 0, 0, 6, 0, 1};
	uint8_t *wa = copy_of(query, sizeof(query)), *wb = copy_of(query, sizeof(query));
	size_t la = sizeof(query), lb = sizeof(query);
	bool same = dns_tsig_sign(a, &wa, &la, 1700000000, NULL, 0, 0, NULL, 0, NULL, NULL) == 0 &&
		    dns_tsig_sign(b, &wb, &lb, 1700000000, NULL, 0, 0, NULL, 0, NULL, NULL) == 0 &&
		    la == lb && memcmp(wa, wb, la) == 0;

	free(wa);
	free(wb);
	return same;
}

static void check_accepted(const dns_tsig_key *k)
{
	static const size_t mac_lens[] = {20, 28, 32, 48, 64};
	size_t nl = strlen(k->name);
	dns_tsig_key *again = NULL;
	pf_err e = {0};

	FUZZ_CHECK(nl >= 2 && nl <= 254 && k->name[nl - 1] == '.', "key name \"%s\" not absolute",
		   k->name);
	for (const char *c = k->name; *c; c++)
		FUZZ_CHECK(*c >= 0x21 && *c <= 0x7e && !isupper((unsigned char)*c),
			   "key name holds octet 0x%02x (the network process would change it)",
			   (unsigned char)*c);
	FUZZ_CHECK(!strstr(k->name, ".."), "key name \"%s\" has an empty label", k->name);
	FUZZ_CHECK((unsigned)k->alg <= DNS_HMAC_SHA512 && k->alg_name &&
			   k->mac_len == mac_lens[k->alg],
		   "algorithm %d (%s) with MAC length %zu", (int)k->alg,
		   k->alg_name ? k->alg_name : "?", k->mac_len);
	FUZZ_CHECK(k->secret && k->secret_len >= 1 && k->secret_len <= DNS_TSIG_SECRET_MAX,
		   "secret of %zu bytes accepted (at most %d are supported)", k->secret_len,
		   DNS_TSIG_SECRET_MAX);
	if (!k->secret || k->secret_len == 0 || (unsigned)k->alg > DNS_HMAC_SHA512)
		return;
	if (dns_tsig_key_new(k->name, k->alg, k->secret, k->secret_len, &again, &e) < 0) {
		FUZZ_CHECK(false, "the key cannot be rebuilt from its parts: %s", e.msg);
		return;
	}
	FUZZ_CHECK(strcmp(again->name, k->name) == 0, "name \"%s\" rebuilt as \"%s\"", k->name,
		   again->name);
	FUZZ_CHECK(again->name_wire_len == k->name_wire_len &&
			   memcmp(again->name_wire, k->name_wire, k->name_wire_len) == 0,
		   "wire form of name \"%s\" differs when rebuilt", k->name);
	FUZZ_CHECK(again->alg == k->alg && again->secret_len == k->secret_len &&
			   memcmp(again->secret, k->secret, k->secret_len) == 0,
		   "algorithm or secret differs when rebuilt");
	FUZZ_CHECK(same_signature(k, again), "the rebuilt key signs differently");
	dns_tsig_key_free(again);
	if (dns_tsig_key_public(k->name, k->alg, &again, &e) < 0) {
		FUZZ_CHECK(false, "the key's name and algorithm do not make a key: %s", e.msg);
		return;
	}
	FUZZ_CHECK(strcmp(again->name, k->name) == 0 && again->name_wire_len == k->name_wire_len &&
			   memcmp(again->name_wire, k->name_wire, k->name_wire_len) == 0 &&
			   again->alg == k->alg && again->mac_len == k->mac_len && !again->secret,
		   "the network process's form of key \"%s\" differs", k->name);
	dns_tsig_key_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	dns_tsig_key *k = NULL;
	pf_err e = {0};
	int r;

	r = dns_tsig_key_parse(NAME, (const char *)data, size, &k, &e);
	if (r < 0) {
		check_rejected(k, r, &e, count_lines(data, size));
		check_no_secret(data, size, e.msg);
	} else {
		FUZZ_CHECK(r == 0 && k != NULL, "success (%d) without a key", r);
		if (k)
			check_accepted(k);
	}
	dns_tsig_key_free(k);
	return 0;
}
