/*
 * dns_tsig.c - TSIG key files and HMAC signatures on DNS wire messages
 * (RFC 8945), with OpenSSL's HMAC.  See dns_tsig.h for what this module
 * promises about the secret.
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
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define TYPE_TSIG 250
#define CLASS_ANY 255

static const struct alg_info {
	const char *name;
	size_t mac_len;
	const EVP_MD *(*md)(void);
} algs[] = {
	[DNS_HMAC_SHA1] = {"hmac-sha1", 20, EVP_sha1},
	[DNS_HMAC_SHA224] = {"hmac-sha224", 28, EVP_sha224},
	[DNS_HMAC_SHA256] = {"hmac-sha256", 32, EVP_sha256},
	[DNS_HMAC_SHA384] = {"hmac-sha384", 48, EVP_sha384},
	[DNS_HMAC_SHA512] = {"hmac-sha512", 64, EVP_sha512},
};

#define N_ALGS (sizeof(algs) / sizeof(algs[0]))

/* ---- the key file ---------------------------------------------------- */

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
		snprintf(buf, size, "a word of %zu characters (not shown: it may be a secret)", len);
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
	char buf[256];
	ldns_rdf *rdf = NULL;
	size_t n = 0;

	if (len == 0 || len > 253 || memchr(name, '\\', len))
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

int dns_tsig_key_parse(const char *src, const char *text, size_t len, dns_tsig_key **ret,
		       pf_err *e)
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
			size_t i;

			if (have_alg) {
				r = pf_err_set(e, EINVAL, "%s:%u: algorithm given twice", src, line);
				goto fail;
			}
			next_token(&lx);
			if (lx.kind != TOK_STRING && lx.kind != TOK_WORD) {
				r = pf_err_set(e, EINVAL, "%s:%u: expected an algorithm name, found %s",
					       src, lx.tok_line, tok_desc(&lx, tb, sizeof(tb)));
				goto fail;
			}
			for (i = 0; i < N_ALGS; i++)
				if (lx.len == strlen(algs[i].name) &&
				    strncasecmp(lx.text, algs[i].name, lx.len) == 0)
					break;
			if (i == N_ALGS) {
				r = pf_err_set(e, EINVAL,
					       "%s:%u: unsupported TSIG algorithm %s (use "
					       "hmac-sha256, hmac-sha1, hmac-sha224, hmac-sha384 or "
					       "hmac-sha512)",
					       src, lx.tok_line, quote(lx.text, lx.len, 40, tb, sizeof(tb)));
				goto fail;
			}
			k->alg = (enum dns_tsig_alg)i;
			k->alg_name = algs[i].name;
			k->mac_len = algs[i].mac_len;
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
				r = pf_err_set(e, EINVAL,
					       "%s:%u: the secret is %ld bytes long, at most %d are "
					       "supported",
					       src, line, n, DNS_TSIG_SECRET_MAX);
				goto fail;
			}
			have_secret = true;
		} else {
			r = pf_err_set(e, EINVAL,
				       "%s:%u: expected \"algorithm\", \"secret\" or \"}\", found %s",
				       src, lx.tok_line,
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
		r = pf_err_set(e, EINVAL,
			       tok_is(&lx, "key")
				       ? "%s:%u: a second key statement; the file must hold exactly "
					 "one key%s"
				       : "%s:%u: unexpected %s after the key statement",
			       src, lx.tok_line,
			       tok_is(&lx, "key") ? "" : tok_desc(&lx, tb, sizeof(tb)));
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
	k->alg_name = algs[alg].name;
	k->mac_len = algs[alg].mac_len;
	return 0;
}

int dns_tsig_key_new(const char *name, enum dns_tsig_alg alg, const unsigned char *secret,
		     size_t len, dns_tsig_key **ret, pf_err *e)
{
	dns_tsig_key *k;
	int r;

	if ((unsigned)alg >= N_ALGS || len == 0 || len > DNS_TSIG_SECRET_MAX)
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

int dns_tsig_key_public(const char *name, enum dns_tsig_alg alg, dns_tsig_key **ret,
			pf_err *e)
{
	dns_tsig_key *k;
	int r;

	if ((unsigned)alg >= N_ALGS)
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
	int fd, r;

	/* O_NONBLOCK: a FIFO is refused below instead of waiting for a writer
	 * (for the regular file read, the flag changes nothing). */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return pf_err_set(e, errno, "cannot open TSIG key file %s: %s", path,
				  strerror(errno));
	/* The mode is checked on the open file, so it is the file read. */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return pf_err_set(e, EINVAL, "TSIG key file %s is not a regular file", path);
	}
	if (st.st_mode & 077) {
		close(fd);
		return pf_err_refuse(e,
				     "TSIG key file %s has mode %04o: group or others may %s it; "
				     "it must be readable by its owner only (chmod 600)",
				     path, (unsigned)(st.st_mode & 07777),
				     (st.st_mode & 044) ? "read" : "access");
	}
	if (st.st_size > DNS_TSIG_KEYFILE_MAX) {
		close(fd);
		return pf_err_set(e, EFBIG, "TSIG key file %s is too large (%lld bytes)", path,
				  (long long)st.st_size);
	}
	buf = pf_malloc(DNS_TSIG_KEYFILE_MAX + 1);
	for (;;) {
		ssize_t n = read(fd, buf + len, DNS_TSIG_KEYFILE_MAX + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = errno;
			close(fd);
			pf_free_secret(buf, DNS_TSIG_KEYFILE_MAX + 1);
			return pf_err_set(e, r, "cannot read TSIG key file %s: %s", path,
					  strerror(r));
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > DNS_TSIG_KEYFILE_MAX) {
			close(fd);
			pf_free_secret(buf, DNS_TSIG_KEYFILE_MAX + 1);
			return pf_err_set(e, EFBIG, "TSIG key file %s is too large", path);
		}
	}
	close(fd);
	r = dns_tsig_key_parse(path, buf, len, ret, e);
	pf_free_secret(buf, DNS_TSIG_KEYFILE_MAX + 1);
	return r;
}

/* ---- the wire --------------------------------------------------------- */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint64_t get48(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 6; i++)
		v = v << 8 | p[i];
	return v;
}

static void put48(uint8_t *p, uint64_t v)
{
	for (int i = 5; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

/*
 * Read the name at *pos, following compression pointers (backwards only,
 * bounded), into out in canonical (lowercase, uncompressed) form.  *pos moves
 * past the name as it appears at *pos.  Returns its length, or 0 when the
 * name is malformed.
 */
static size_t read_name(const uint8_t *w, size_t len, size_t *pos, uint8_t *out)
{
	size_t p = *pos, n = 0, after = 0;
	int jumps = 0;

	for (;;) {
		if (p >= len)
			return 0;
		uint8_t l = w[p];
		if ((l & 0xc0) == 0xc0) {
			if (p + 1 >= len || ++jumps > 64)
				return 0;
			size_t target = (size_t)(l & 0x3f) << 8 | w[p + 1];
			if (!after)
				after = p + 2;
			if (target >= p)
				return 0;
			p = target;
			continue;
		}
		if (l & 0xc0)
			return 0;
		if (p + 1 + l > len || n + 1 + l > 255)
			return 0;
		out[n++] = l;
		for (size_t i = 0; i < l; i++)
			out[n++] = (uint8_t)tolower(w[p + 1 + i]);
		p += 1 + l;
		if (l == 0)
			break;
	}
	*pos = after ? after : p;
	return n;
}

static bool skip_name(const uint8_t *w, size_t len, size_t *pos)
{
	uint8_t tmp[256];

	return read_name(w, len, pos, tmp) > 0;
}

/* Wire form of an algorithm name ("hmac-sha256." as labels). */
static size_t alg_wire(enum dns_tsig_alg alg, uint8_t *out)
{
	size_t l = strlen(algs[alg].name);

	out[0] = (uint8_t)l;
	memcpy(out + 1, algs[alg].name, l);
	out[l + 1] = 0;
	return l + 2;
}

/*
 * The TSIG input (RFC 8945 section 4.3.3): the request MAC when there is
 * one, the message with the original ID and without the TSIG RR, then the
 * TSIG variables.  Returns it, newly allocated, its length in *ret_len.
 */
static uint8_t *mac_input(const dns_tsig_key *k, const uint8_t *req_mac, size_t req_mac_len,
			  const uint8_t *msg, size_t msg_len, uint16_t orig_id, uint16_t arcount,
			  uint64_t time_signed, uint16_t fudge, uint16_t error, const uint8_t *other,
			  size_t other_len, size_t *ret_len)
{
	size_t cap = 2 + req_mac_len + msg_len + 256 + 256 + 16 + other_len, n = 0;
	uint8_t *buf = pf_malloc(cap), aw[32];
	size_t awl = alg_wire(k->alg, aw);

	if (req_mac) {
		put16(buf, (uint16_t)req_mac_len);
		memcpy(buf + 2, req_mac, req_mac_len);
		n = 2 + req_mac_len;
	}
	memcpy(buf + n, msg, msg_len);
	put16(buf + n, orig_id);
	put16(buf + n + 10, arcount);
	n += msg_len;
	memcpy(buf + n, k->name_wire, k->name_wire_len);
	n += k->name_wire_len;
	put16(buf + n, CLASS_ANY);
	memset(buf + n + 2, 0, 4); /* TTL */
	n += 6;
	memcpy(buf + n, aw, awl);
	n += awl;
	put48(buf + n, time_signed);
	put16(buf + n + 6, fudge);
	put16(buf + n + 8, error);
	put16(buf + n + 10, (uint16_t)other_len);
	n += 12;
	if (other_len) {
		memcpy(buf + n, other, other_len);
		n += other_len;
	}
	*ret_len = n;
	return buf;
}

/* The HMAC of input[0..len) with k's secret.  Returns the MAC length, or 0
 * on failure (also for a key without a secret). */
static size_t hmac(const dns_tsig_key *k, const uint8_t *input, size_t len, uint8_t *mac)
{
	unsigned int maclen = 0;

	if (!k->secret ||
	    !HMAC(algs[k->alg].md(), k->secret, (int)k->secret_len, input, len, mac, &maclen))
		return 0;
	return maclen;
}

/* The MAC of a message, from its TSIG input.  Returns the MAC length, or 0
 * on failure. */
static size_t compute_mac(const dns_tsig_key *k, const uint8_t *req_mac, size_t req_mac_len,
			  const uint8_t *msg, size_t msg_len, uint16_t orig_id, uint16_t arcount,
			  uint64_t time_signed, uint16_t fudge, uint16_t error, const uint8_t *other,
			  size_t other_len, uint8_t *mac)
{
	size_t n, maclen;
	uint8_t *buf = mac_input(k, req_mac, req_mac_len, msg, msg_len, orig_id, arcount,
				 time_signed, fudge, error, other, other_len, &n);

	maclen = hmac(k, buf, n, mac);
	free(buf);
	return maclen;
}

bool dns_tsig_mac_matches(const dns_tsig_key *k, const uint8_t *input, size_t len,
			  const uint8_t *mac, size_t mac_len)
{
	uint8_t want[EVP_MAX_MD_SIZE];
	size_t n;
	bool same;

	if (mac_len != k->mac_len || (n = hmac(k, input, len, want)) != mac_len)
		return false;
	same = CRYPTO_memcmp(want, mac, mac_len) == 0;
	explicit_bzero(want, sizeof(want));
	return same;
}

int dns_tsig_sign(const dns_tsig_key *k, uint8_t **wire, size_t *len, int64_t now,
		  const uint8_t *req_mac, size_t req_mac_len, uint16_t error,
		  const uint8_t *other, size_t other_len, uint8_t *ret_mac, size_t *ret_mac_len)
{
	uint8_t mac[EVP_MAX_MD_SIZE], aw[32], *w;
	size_t awl = alg_wire(k->alg, aw), maclen, n = *len;
	uint16_t id, arcount;

	if (n < 12 || other_len > 64)
		return -EINVAL;
	if (k->signer) {
		/* The secret is with the signer, which signs requests only. */
		if (req_mac || error || other_len)
			return -EPERM;
		return k->signer->sign(k->signer->ctx, wire, len, ret_mac ? ret_mac : mac,
				       ret_mac_len ? ret_mac_len : &maclen);
	}
	id = get16(*wire);
	arcount = get16(*wire + 10);
	maclen = compute_mac(k, req_mac, req_mac_len, *wire, n, id, arcount, (uint64_t)now,
			     DNS_TSIG_FUDGE, error, other, other_len, mac);
	if (maclen == 0)
		return -EIO;
	size_t rdlen = awl + 6 + 2 + 2 + maclen + 2 + 2 + 2 + other_len;
	size_t total = n + k->name_wire_len + 10 + rdlen;
	if (total > 65535)
		return -EMSGSIZE;
	w = pf_realloc(*wire, total);
	size_t p = n;
	memcpy(w + p, k->name_wire, k->name_wire_len);
	p += k->name_wire_len;
	put16(w + p, TYPE_TSIG);
	put16(w + p + 2, CLASS_ANY);
	memset(w + p + 4, 0, 4);
	put16(w + p + 8, (uint16_t)rdlen);
	p += 10;
	memcpy(w + p, aw, awl);
	p += awl;
	put48(w + p, (uint64_t)now);
	put16(w + p + 6, DNS_TSIG_FUDGE);
	put16(w + p + 8, (uint16_t)maclen);
	p += 10;
	memcpy(w + p, mac, maclen);
	p += maclen;
	put16(w + p, id);
	put16(w + p + 2, error);
	put16(w + p + 4, (uint16_t)other_len);
	p += 6;
	if (other_len)
		memcpy(w + p, other, other_len);
	put16(w + 10, (uint16_t)(arcount + 1));
	*wire = w;
	*len = total;
	if (ret_mac) {
		memcpy(ret_mac, mac, maclen);
		*ret_mac_len = maclen;
	}
	return 0;
}

int dns_tsig_find(const uint8_t *wire, size_t len, size_t *tsig_at)
{
	uint8_t owner[256];
	size_t pos = 12, total, at = 0;
	uint16_t counts[4];

	if (len < 12)
		return -1;
	for (int i = 0; i < 4; i++)
		counts[i] = get16(wire + 4 + 2 * i);
	for (unsigned i = 0; i < counts[0]; i++) {
		if (!skip_name(wire, len, &pos) || pos + 4 > len)
			return -1;
		pos += 4;
	}
	total = (size_t)counts[1] + counts[2] + counts[3];
	for (size_t i = 0; i < total; i++) {
		size_t start = pos;
		uint16_t type, rdlen;

		if (read_name(wire, len, &pos, owner) == 0 || pos + 10 > len)
			return -1;
		type = get16(wire + pos);
		rdlen = get16(wire + pos + 8);
		if (pos + 10 + rdlen > len)
			return -1;
		if (type == TYPE_TSIG) {
			/* Only the last record of the additional section may be one. */
			if (i != total - 1 || counts[3] == 0)
				return -1;
			at = start;
		}
		pos += 10 + rdlen;
	}
	if (pos != len)
		return -1;
	*tsig_at = at;
	return at ? 1 : 0;
}

enum dns_tsig_verdict dns_tsig_verify(const dns_tsig_key *k, const uint8_t *wire, size_t len,
				      const uint8_t *req_mac, size_t req_mac_len, int64_t now,
				      dns_tsig_info *info)
{
	uint8_t owner[256], alg[256], aw[32], mac[EVP_MAX_MD_SIZE];
	size_t pos, tsig_at = 0, ownerlen;
	int found;

	memset(info, 0, sizeof(*info));
	found = dns_tsig_find(wire, len, &tsig_at);
	if (found < 0)
		return DNS_TSIG_MALFORMED;
	if (found == 0)
		return DNS_TSIG_ABSENT;

	/* Parse the TSIG RR again, field by field. */
	pos = tsig_at;
	ownerlen = read_name(wire, len, &pos, owner);
	if (get16(wire + pos + 2) != CLASS_ANY)
		return DNS_TSIG_MALFORMED;
	size_t rdend = pos + 10 + get16(wire + pos + 8);
	pos += 10;
	size_t alglen = read_name(wire, rdend, &pos, alg);
	if (alglen == 0 || pos + 10 > rdend)
		return DNS_TSIG_MALFORMED;
	info->present = true;
	info->tsig_offset = tsig_at;
	info->time_signed = get48(wire + pos);
	info->fudge = get16(wire + pos + 6);
	size_t maclen = get16(wire + pos + 8);
	pos += 10;
	if (pos + maclen + 6 > rdend)
		return DNS_TSIG_MALFORMED;
	const uint8_t *rmac = wire + pos;
	pos += maclen;
	info->orig_id = get16(wire + pos);
	info->error = get16(wire + pos + 2);
	size_t other_len = get16(wire + pos + 4);
	pos += 6;
	if (pos + other_len != rdend)
		return DNS_TSIG_MALFORMED;
	const uint8_t *other = wire + pos;
	if (info->error == DNS_TSIG_BADTIME && other_len == 6) {
		info->has_server_time = true;
		info->server_time = get48(other);
	}

	if (ownerlen != k->name_wire_len || memcmp(owner, k->name_wire, ownerlen) != 0)
		return DNS_TSIG_WRONG_KEY;
	size_t awl = alg_wire(k->alg, aw);
	if (alglen != awl || memcmp(alg, aw, awl) != 0)
		return DNS_TSIG_WRONG_ALG;
	/* RFC 8945 5.3.2: BADSIG and BADKEY replies come unsigned. */
	if (maclen == 0 && info->error != 0)
		return DNS_TSIG_UNSIGNED_ERROR;
	/* Truncated MACs (RFC 8945 5.2.2.1) are not accepted: we never ask
	 * for them, so a short one is someone else's doing. */
	if (maclen != k->mac_len)
		return DNS_TSIG_BAD_MAC;
	size_t in_len;
	uint8_t *input = mac_input(k, req_mac, req_mac_len, wire, tsig_at, info->orig_id,
				   (uint16_t)(get16(wire + 10) - 1), info->time_signed,
				   info->fudge, info->error, other, other_len, &in_len);
	bool good;
	if (k->signer) /* the signer says yes or no, never what the MAC is */
		good = k->signer->check(k->signer->ctx, input, in_len, rmac, maclen) == 1;
	else
		good = hmac(k, input, in_len, mac) == maclen &&
		       CRYPTO_memcmp(mac, rmac, maclen) == 0;
	free(input);
	if (!good)
		return DNS_TSIG_BAD_MAC;
	/* The MAC covers the fudge too, but a server's generous fudge does not
	 * widen ours: the window is the smaller of the two. */
	uint64_t window = info->fudge < DNS_TSIG_FUDGE ? info->fudge : DNS_TSIG_FUDGE;
	uint64_t t = (uint64_t)now;
	uint64_t skew = t > info->time_signed ? t - info->time_signed : info->time_signed - t;
	if (skew > window)
		return DNS_TSIG_BAD_TIME;
	return DNS_TSIG_OK;
}

const char *dns_tsig_verdict_str(enum dns_tsig_verdict v)
{
	switch (v) {
	case DNS_TSIG_OK:
		return "TSIG verified";
	case DNS_TSIG_ABSENT:
		return "the reply is not TSIG-signed";
	case DNS_TSIG_MALFORMED:
		return "the reply's TSIG record is malformed or misplaced";
	case DNS_TSIG_WRONG_KEY:
		return "the reply is signed with another TSIG key name";
	case DNS_TSIG_WRONG_ALG:
		return "the reply is signed with another TSIG algorithm";
	case DNS_TSIG_UNSIGNED_ERROR:
		return "the reply carries a TSIG error and no MAC";
	case DNS_TSIG_BAD_MAC:
		return "the reply's TSIG MAC does not verify";
	case DNS_TSIG_BAD_TIME:
		return "the reply's TSIG signing time is outside the fudge";
	}
	return "?";
}

const char *dns_tsig_error_name(uint16_t error)
{
	switch (error) {
	case 0:
		return "NOERROR";
	case DNS_TSIG_BADSIG:
		return "BADSIG";
	case DNS_TSIG_BADKEY:
		return "BADKEY";
	case DNS_TSIG_BADTIME:
		return "BADTIME";
	case DNS_TSIG_BADTRUNC:
		return "BADTRUNC";
	}
	return NULL;
}
