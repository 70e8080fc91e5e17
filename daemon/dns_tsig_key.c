/*
 * dns_tsig_key.c - TSIG keys (RFC 8945): the key file as tsig-keygen writes
 * it (a small lexer for BIND's grammar and comments, strict base64), and keys
 * made from their parts or without a secret.  The secret is decoded straight
 * into the key's one buffer, and the file's text is wiped after parsing; see
 * dns_tsig.h.  The algorithm table and everything on the wire is in
 * dns_tsig.c.
 */
#include "dns_tsig.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "macro.h"

enum tok_kind { TOK_EOF, TOK_WORD, TOK_STRING, TOK_PUNCT, TOK_ERROR };

typedef struct lexer {
	const char *src; /* file name for messages */
	const char *p, *end;
	unsigned line;
	/* The current token; text points into the input, never copied, so a
	 * secret is not duplicated anywhere. */
	enum tok_kind kind;
	const char *text;
	size_t len;
	unsigned tok_line;
} lexer;

/* Skip white space and BIND's three comment styles.  Returns -1 for an
 * unterminated C comment. */
static int skip_space(lexer *lx)
{
	while (lx->p < lx->end) {
		char c = *lx->p;

		if (c == '\n') {
			lx->line++;
			lx->p++;
		} else if (isspace((unsigned char)c)) {
			lx->p++;
		} else if (c == '#' || (c == '/' && lx->p + 1 < lx->end && lx->p[1] == '/')) {
			while (lx->p < lx->end && *lx->p != '\n')
				lx->p++;
		} else if (c == '/' && lx->p + 1 < lx->end && lx->p[1] == '*') {
			lx->p += 2;
			for (;;) {
				if (lx->p + 1 >= lx->end)
					return -1;
				if (lx->p[0] == '*' && lx->p[1] == '/') {
					lx->p += 2;
					break;
				}
				if (*lx->p == '\n')
					lx->line++;
				lx->p++;
			}
		} else {
			break;
		}
	}
	return 0;
}

static void next_token(lexer *lx)
{
	lx->tok_line = lx->line;
	if (skip_space(lx) < 0) {
		lx->kind = TOK_ERROR;
		lx->text = "unterminated /* comment";
		return;
	}
	lx->tok_line = lx->line;
	if (lx->p >= lx->end) {
		lx->kind = TOK_EOF;
		return;
	}
	char c = *lx->p;
	if (c == '{' || c == '}' || c == ';') {
		lx->kind = TOK_PUNCT;
		lx->text = lx->p++;
		lx->len = 1;
		return;
	}
	if (c == '"') {
		const char *start = ++lx->p;

		while (lx->p < lx->end && *lx->p != '"') {
			if (*lx->p == '\n')
				lx->line++;
			lx->p++;
		}
		if (lx->p >= lx->end) {
			lx->kind = TOK_ERROR;
			lx->text = "unterminated quoted string";
			return;
		}
		lx->kind = TOK_STRING;
		lx->text = start;
		lx->len = (size_t)(lx->p - start);
		lx->p++;
		return;
	}
	const char *start = lx->p;
	while (lx->p < lx->end && !isspace((unsigned char)*lx->p) && *lx->p != '{' &&
	       *lx->p != '}' && *lx->p != ';' && *lx->p != '"')
		lx->p++;
	lx->kind = TOK_WORD;
	lx->text = start;
	lx->len = (size_t)(lx->p - start);
}

static bool tok_is(const lexer *lx, const char *s)
{
	return (lx->kind == TOK_WORD || lx->kind == TOK_PUNCT) && lx->len == strlen(s) &&
	       strncasecmp(lx->text, s, lx->len) == 0;
}

/* Longest run of base64 characters in s (len bytes). */
static size_t base64_run(const char *s, size_t len)
{
	size_t best = 0, run = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		run = isalnum(c) || c == '+' || c == '/' || c == '=' ? run + 1 : 0;
		if (run > best)
			best = run;
	}
	return best;
}

/* A piece of the file for an error message, into buf: in double quotes, at
 * most max characters, control characters shown as "?".  A piece holding a
 * run of 12 or more base64 characters may be the secret, misplaced (a
 * forgotten key name or keyword): it is described, not shown. */
static const char *quote(const char *s, size_t len, size_t max, char *buf, size_t size)
{
	size_t n = len > max ? max : len, o = 0;

	if (base64_run(s, len) >= 12) {
		snprintf(buf, size, "a word of %zu characters (not shown: it may be a secret)",
			 len);
		return buf;
	}
	if (size < 3)
		return "";
	buf[o++] = '"';
	for (size_t i = 0; i < n && o + 2 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		buf[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

/* True for a word that can be a keyword or a name of the key grammar:
 * letters, digits, '-', '_' and '.', at most 40 of them. */
static bool word_like(const char *s, size_t len)
{
	if (len == 0 || len > 40)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-_.", s[i]))
			return false;
	return true;
}

/* A token for an error message: punctuation and keyword-like words shown,
 * never a quoted string, which may be a secret, nor any other word: the
 * file named may not be a key file at all (dns_tsig_key_file =
 * /etc/shadow), and its lines are not ours to print. */
static const char *tok_desc(const lexer *lx, char *buf, size_t len)
{
	switch (lx->kind) {
	case TOK_EOF:
		return "end of file";
	case TOK_STRING:
		return "a quoted string";
	case TOK_ERROR:
		return lx->text;
	case TOK_WORD:
		if (!word_like(lx->text, lx->len)) {
			snprintf(buf, len, "a word of %zu characters (not shown)", lx->len);
			return buf;
		}
		return quote(lx->text, lx->len, 40, buf, len);
	default:
		return quote(lx->text, lx->len, 40, buf, len);
	}
}

/* Decode strict base64 (white space ignored) into out (at least 3/4 of len
 * bytes).  Returns the decoded length, or -1. */
static long b64_decode(const char *in, size_t len, unsigned char *out)
{
	uint32_t acc = 0;
	int bits = 0, pad = 0;
	long n = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		int v;

		if (isspace(c))
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad)
			return -1; /* data after padding */
		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '+')
			v = 62;
		else if (c == '/')
			v = 63;
		else
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	/* The ending must be correctly padded, and the leftover bits zero. */
	bool ok = ((bits == 0 && pad == 0) || (bits == 4 && pad == 2) || (bits == 2 && pad == 1)) &&
		  (acc & ((1u << bits) - 1)) == 0;
	explicit_bzero(&acc, sizeof(acc));
	return ok ? n : -1;
}

/* Canonical wire form of a domain name given in presentation form.
 * Returns its length, or 0 when it is not a valid name. */
static size_t name_to_wire(const char *name, size_t len, uint8_t *out, size_t outsz)
{
	char buf[PF_DNS_NAME_BUF];
	ldns_rdf *rdf = NULL;
	size_t n = 0;

	if (len == 0 || len > PF_HOST_NAME_MAX || memchr(name, '\\', len))
		return 0;
	/* Printable ASCII without spaces: the name goes to the network process
	 * and into messages as it is (net_msg.c). */
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x21 || (unsigned char)name[i] > 0x7e)
			return 0;
	memcpy(buf, name, len);
	buf[len] = '\0';
	if (buf[len - 1] != '.')
		strcat(buf, ".");
	if (ldns_str2rdf_dname(&rdf, buf) != LDNS_STATUS_OK || !rdf)
		return 0;
	ldns_dname2canonical(rdf);
	if (ldns_rdf_size(rdf) <= outsz && ldns_rdf_size(rdf) > 1) {
		n = ldns_rdf_size(rdf);
		memcpy(out, ldns_rdf_data(rdf), n);
	}
	ldns_rdf_deep_free(rdf);
	return n;
}

int dns_tsig_key_parse(const char *src, const char *text, size_t len, dns_tsig_key **ret, pf_err *e)
{
	lexer lx = {.src = src, .p = text, .end = text + len, .line = 1};
	dns_tsig_key *k = pf_calloc(1, sizeof(*k));
	bool have_alg = false, have_secret = false;
	char tb[80];
	int r;

	next_token(&lx);
	if (!tok_is(&lx, "key")) {
		r = pf_err_set(e, EINVAL, "%s:%u: expected a key statement, found %s", src,
			       lx.tok_line, tok_desc(&lx, tb, sizeof(tb)));
		goto fail;
	}
	next_token(&lx);
	if (lx.kind != TOK_STRING && lx.kind != TOK_WORD) {
		r = pf_err_set(e, EINVAL, "%s:%u: expected the key name, found %s", src,
			       lx.tok_line, tok_desc(&lx, tb, sizeof(tb)));
		goto fail;
	}
	k->name_wire_len = name_to_wire(lx.text, lx.len, k->name_wire, sizeof(k->name_wire));
	if (k->name_wire_len == 0) {
		r = pf_err_set(e, EINVAL, "%s:%u: %s is not a valid key name", src, lx.tok_line,
			       quote(lx.text, lx.len, 60, tb, sizeof(tb)));
		goto fail;
	}
	{
		/* The presentation form, lowercase and absolute, for messages. */
		size_t n = lx.len < sizeof(k->name) - 2 ? lx.len : sizeof(k->name) - 2;
		for (size_t i = 0; i < n; i++)
			k->name[i] = (char)tolower((unsigned char)lx.text[i]);
		if (n == 0 || k->name[n - 1] != '.')
			k->name[n++] = '.';
		k->name[n] = '\0';
	}
	next_token(&lx);
	if (!tok_is(&lx, "{")) {
		r = pf_err_set(e, EINVAL, "%s:%u: expected \"{\" after the key name, found %s", src,
			       lx.tok_line, tok_desc(&lx, tb, sizeof(tb)));
		goto fail;
	}
	for (;;) {
		next_token(&lx);
		if (tok_is(&lx, "}"))
			break;
		if (tok_is(&lx, "algorithm")) {
			unsigned line = lx.tok_line;
			int i;

			if (have_alg) {
				r = pf_err_set(e, EINVAL, "%s:%u: algorithm given twice", src,
					       line);
				goto fail;
			}
			next_token(&lx);
			if (lx.kind != TOK_STRING && lx.kind != TOK_WORD) {
				r = pf_err_set(e, EINVAL,
					       "%s:%u: expected an algorithm name, found %s", src,
					       lx.tok_line, tok_desc(&lx, tb, sizeof(tb)));
				goto fail;
			}
			i = dns_tsig_alg_from_name(lx.text, lx.len);
			if (i < 0) {
				r = pf_err_set(
					e, EINVAL,
					"%s:%u: unsupported TSIG algorithm %s (use "
					"hmac-sha256, hmac-sha1, hmac-sha224, hmac-sha384 or "
					"hmac-sha512)",
					src, lx.tok_line,
					quote(lx.text, lx.len, 40, tb, sizeof(tb)));
				goto fail;
			}
			k->alg = (enum dns_tsig_alg)i;
			k->alg_name = dns_tsig_alg_name(k->alg, &k->mac_len);
			have_alg = true;
		} else if (tok_is(&lx, "secret")) {
			unsigned line = lx.tok_line;
			long n;

			if (have_secret) {
				r = pf_err_set(e, EINVAL, "%s:%u: secret given twice", src, line);
				goto fail;
			}
			next_token(&lx);
			if (lx.kind != TOK_STRING && lx.kind != TOK_WORD) {
				/* tok_desc never shows a string: the secret stays out. */
				r = pf_err_set(e, EINVAL, "%s:%u: expected the secret, found %s",
					       src, lx.tok_line,
					       lx.kind == TOK_WORD ? "another token"
								   : tok_desc(&lx, tb, sizeof(tb)));
				goto fail;
			}
			k->secret = pf_malloc(lx.len / 4 * 3 + 3);
			n = b64_decode(lx.text, lx.len, k->secret);
			if (n <= 0) {
				r = pf_err_set(e, EINVAL, "%s:%u: the secret is not valid base64",
					       src, line);
				goto fail;
			}
			k->secret_len = (size_t)n;
			if (n > DNS_TSIG_SECRET_MAX) {
				r = pf_err_set(
					e, EINVAL,
					"%s:%u: the secret is %ld bytes long, at most %d are "
					"supported",
					src, line, n, DNS_TSIG_SECRET_MAX);
				goto fail;
			}
			have_secret = true;
		} else {
			r = pf_err_set(
				e, EINVAL,
				"%s:%u: expected \"algorithm\", \"secret\" or \"}\", found %s", src,
				lx.tok_line,
				have_alg && !have_secret && lx.kind == TOK_WORD
					? "another token"
					: tok_desc(&lx, tb, sizeof(tb)));
			goto fail;
		}
		next_token(&lx);
		if (!tok_is(&lx, ";")) {
			r = pf_err_set(e, EINVAL, "%s:%u: expected \";\", found %s", src,
				       lx.tok_line,
				       lx.kind == TOK_WORD ? "another token"
							   : tok_desc(&lx, tb, sizeof(tb)));
			goto fail;
		}
	}
	unsigned close_line = lx.tok_line;
	next_token(&lx);
	if (!tok_is(&lx, ";")) {
		r = pf_err_set(e, EINVAL, "%s:%u: expected \";\" after \"}\", found %s", src,
			       lx.tok_line, tok_desc(&lx, tb, sizeof(tb)));
		goto fail;
	}
	if (!have_alg) {
		r = pf_err_set(e, EINVAL, "%s:%u: key %s has no algorithm", src, close_line,
			       k->name);
		goto fail;
	}
	if (!have_secret) {
		r = pf_err_set(e, EINVAL, "%s:%u: key %s has no secret", src, close_line, k->name);
		goto fail;
	}
	next_token(&lx);
	if (lx.kind != TOK_EOF) {
		r = pf_err_set(
			e, EINVAL,
			tok_is(&lx, "key")
				? "%s:%u: a second key statement; the file must hold exactly "
				  "one key%s"
				: "%s:%u: unexpected %s after the key statement",
			src, lx.tok_line, tok_is(&lx, "key") ? "" : tok_desc(&lx, tb, sizeof(tb)));
		goto fail;
	}
	*ret = k;
	return 0;
fail:
	dns_tsig_key_free(k);
	return r;
}

/* The name and algorithm of a new key k: the common part of
 * dns_tsig_key_new and dns_tsig_key_public.  Returns 0 or -EINVAL. */
static int key_identity(dns_tsig_key *k, const char *name, enum dns_tsig_alg alg, pf_err *e)
{
	size_t nl = strnlen(name, sizeof(k->name));

	k->name_wire_len = name_to_wire(name, nl, k->name_wire, sizeof(k->name_wire));
	if (k->name_wire_len == 0 || nl > sizeof(k->name) - 2)
		return pf_err_set(e, EINVAL, "TSIG key: \"%.60s\" is not a valid key name", name);
	for (size_t i = 0; i < nl; i++)
		k->name[i] = (char)tolower((unsigned char)name[i]);
	if (k->name[nl - 1] != '.')
		k->name[nl++] = '.';
	k->name[nl] = '\0';
	k->alg = alg;
	k->alg_name = dns_tsig_alg_name(alg, &k->mac_len);
	return 0;
}

int dns_tsig_key_new(const char *name, enum dns_tsig_alg alg, const unsigned char *secret,
		     size_t len, dns_tsig_key **ret, pf_err *e)
{
	dns_tsig_key *k;
	int r;

	if (!dns_tsig_alg_name(alg, NULL) || len == 0 || len > DNS_TSIG_SECRET_MAX)
		return pf_err_set(e, EINVAL, "TSIG key: bad algorithm, or a secret of %zu bytes",
				  len);
	k = pf_calloc(1, sizeof(*k));
	if ((r = key_identity(k, name, alg, e)) < 0) {
		dns_tsig_key_free(k);
		return r;
	}
	k->secret = pf_malloc(len);
	memcpy(k->secret, secret, len);
	k->secret_len = len;
	*ret = k;
	return 0;
}

int dns_tsig_key_public(const char *name, enum dns_tsig_alg alg, dns_tsig_key **ret, pf_err *e)
{
	dns_tsig_key *k;
	int r;

	if (!dns_tsig_alg_name(alg, NULL))
		return pf_err_set(e, EINVAL, "TSIG key: bad algorithm %d", (int)alg);
	k = pf_calloc(1, sizeof(*k));
	if ((r = key_identity(k, name, alg, e)) < 0) {
		dns_tsig_key_free(k);
		return r;
	}
	*ret = k;
	return 0;
}

dns_tsig_key *dns_tsig_key_free(dns_tsig_key *k)
{
	if (!k)
		return NULL;
	if (k->secret)
		pf_free_secret(k->secret, k->secret_len ? k->secret_len : 1);
	explicit_bzero(k, sizeof(*k));
	free(k);
	return NULL;
}

int dns_tsig_key_load(const char *path, dns_tsig_key **ret, pf_err *e)
{
	struct stat st;
	char *buf;
	size_t len = 0;
	int r;

	/* O_NONBLOCK: a FIFO is refused below instead of waiting for a writer
	 * (for the regular file read, the flag changes nothing). */
	PF_CLEANUP_CLOSE int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return pf_err_set(e, errno, "cannot open TSIG key file %s: %s", path,
				  strerror(errno));
	/* The mode is checked on the open file, so it is the file read. */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return pf_err_set(e, EINVAL, "TSIG key file %s is not a regular file", path);
	if (st.st_mode & 077)
		return pf_err_refuse(e,
				     "TSIG key file %s has mode %04o: group or others may %s it; "
				     "it must be readable by its owner only (chmod 600)",
				     path, (unsigned)(st.st_mode & 07777),
				     (st.st_mode & 044) ? "read" : "access");
	if (st.st_size > DNS_TSIG_KEYFILE_MAX)
		return pf_err_set(e, EFBIG, "TSIG key file %s is too large (%lld bytes)", path,
				  (long long)st.st_size);
	buf = pf_malloc(DNS_TSIG_KEYFILE_MAX + 1);
	for (;;) {
		ssize_t n = read(fd, buf + len, DNS_TSIG_KEYFILE_MAX + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = errno;
			pf_free_secret(buf, DNS_TSIG_KEYFILE_MAX + 1);
			return pf_err_set(e, r, "cannot read TSIG key file %s: %s", path,
					  strerror(r));
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > DNS_TSIG_KEYFILE_MAX) {
			pf_free_secret(buf, DNS_TSIG_KEYFILE_MAX + 1);
			return pf_err_set(e, EFBIG, "TSIG key file %s is too large", path);
		}
	}
	fd = pf_close(fd);
	r = dns_tsig_key_parse(path, buf, len, ret, e);
	pf_free_secret(buf, DNS_TSIG_KEYFILE_MAX + 1);
	return r;
}
