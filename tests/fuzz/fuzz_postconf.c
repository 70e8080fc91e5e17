/*
 * fuzz_postconf.c - what the Postfix adapter makes of postconf's output
 * (postfix_parse_values, the parser behind postfix_get) and of an
 * unexpanded tlsproxy_tls_* value (postfix_is_reference_to, which decides
 * whether main.cf sets a tlsproxy key of its own that a deploy must
 * change too), on arbitrary text: odd characters, long and empty values,
 * CR, lines that only begin with a name, repeated names, warnings mixed in.
 *
 * Both are checked against a model written differently here:
 *   - a parameter's value is the rest of the FIRST line that is exactly
 *     "NAME = VALUE" or "NAME =" - never a line for a longer name that
 *     begins with this one ("smtpd_tls_cert_file_x"), never one with
 *     other spacing - and a parameter no line names stays NULL; a value
 *     never holds a newline;
 *   - a value is a reference to P exactly when, without the blanks around
 *     it, it is "$P", "${P}" or "$(P)".
 * The input is the postconf output; its first line is also the raw value
 * given to postfix_is_reference_to for each TLS server parameter.
 */
#include <stdlib.h>
#include <string.h>

#include "../../daemon/postfix.h"
#include "fuzz.h"

#define FUZZ_MAX_LEN 4096
#define N_PARAMS 10 /* postfix_tls_server_params */

/* The model's value for name in text[0..len) (no NUL inside); NULL: none.
 * The caller frees it. */
static char *model_value(const char *text, size_t len, const char *name)
{
	size_t nl = strlen(name);

	for (size_t off = 0; off < len;) {
		const char *line = text + off, *end = memchr(line, '\n', len - off);
		size_t l = end ? (size_t)(end - line) : len - off;

		if (l == nl + 2 && memcmp(line, name, nl) == 0 && memcmp(line + nl, " =", 2) == 0)
			return strdup("");
		if (l >= nl + 3 && memcmp(line, name, nl) == 0 && memcmp(line + nl, " = ", 3) == 0)
			return strndup(line + nl + 3, l - nl - 3);
		off += l + 1;
	}
	return NULL;
}

static bool model_reference(const char *raw, const char *param)
{
	size_t a = 0, b = strlen(raw);
	char forms[3][64];

	while (a < b && (raw[a] == ' ' || raw[a] == '\t'))
		a++;
	while (b > a && (raw[b - 1] == ' ' || raw[b - 1] == '\t'))
		b--;
	snprintf(forms[0], sizeof(forms[0]), "$%s", param);
	snprintf(forms[1], sizeof(forms[1]), "${%s}", param);
	snprintf(forms[2], sizeof(forms[2]), "$(%s)", param);
	for (int i = 0; i < 3; i++)
		if (strlen(forms[i]) == b - a && memcmp(raw + a, forms[i], b - a) == 0)
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The TLS server parameters, then names that share their prefixes. */
	const char *names[N_PARAMS + 3];
	char *ret[N_PARAMS + 3] = {0}, *text, *first;
	size_t n = 0, len;

	for (size_t i = 0; i < N_PARAMS; i++)
		names[n++] = postfix_tls_server_params[i];
	names[n++] = "smtpd_tls";
	names[n++] = "smtpd_tls_cert_file_x";
	names[n++] = "myhostname";

	/* postconf's output as postfix_get holds it: a C string. */
	len = strnlen((const char *)data, size);
	text = strndup((const char *)data, len);
	postfix_parse_values(text, names, n, ret);
	for (size_t i = 0; i < n; i++) {
		char *want = model_value((const char *)data, len, names[i]);

		FUZZ_CHECK((want == NULL) == (ret[i] == NULL) &&
				   (!want || strcmp(want, ret[i]) == 0),
			   "%s: parsed as \"%.60s\", expected \"%.60s\"", names[i],
			   ret[i] ? ret[i] : "(none)", want ? want : "(none)");
		FUZZ_CHECK(!ret[i] || !strchr(ret[i], '\n'), "%s: a value with a newline",
			   names[i]);
		free(want);
		free(ret[i]);
	}
	free(text);

	{
		const char *nl = memchr(data, '\n', len);

		first = strndup((const char *)data, nl ? (size_t)(nl - (const char *)data) : len);
	}
	for (size_t i = 0; i < N_PARAMS; i++) {
		const char *p = postfix_tls_server_params[i];
		bool got = postfix_is_reference_to(first, p), want = model_reference(first, p);

		FUZZ_CHECK(got == want, "\"%.60s\" %s a reference to %s, taken as %s", first,
			   want ? "is" : "is not", p, got ? "one" : "none");
	}
	free(first);
	return 0;
}
