/*
 * certchain.c - reading and checking a CA-issued certificate chain before
 * it is deployed (see certchain.h).  Owns nothing beyond the chain it
 * returns; never parses private key material (a file holding a key is
 * refused before any PEM parsing, and its buffer wiped).
 */
#include "certchain.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "config.h"

const char *certchain_verdict_name(enum pf_chain_verdict v)
{
	static const char *const names[] = {
		[PF_CHAIN_OK] = "ok",
		[PF_CHAIN_UNREADABLE] = "unreadable",
		[PF_CHAIN_HAS_KEY] = "holds-private-key",
		[PF_CHAIN_MALFORMED] = "malformed",
		[PF_CHAIN_ORDER] = "chain-order",
		[PF_CHAIN_NOT_OUR_KEY] = "not-our-key",
		[PF_CHAIN_NAMES] = "names",
		[PF_CHAIN_NOT_YET_VALID] = "not-yet-valid",
		[PF_CHAIN_EXPIRED] = "expired",
		[PF_CHAIN_CA_FILE] = "ca-file",
		[PF_CHAIN_UNTRUSTED] = "untrusted",
		[PF_CHAIN_RENEW_DUE] = "renew-due",
	};

	if ((unsigned)v >= sizeof(names) / sizeof(names[0]) || !names[v])
		return "unknown";
	return names[v];
}

int certchain_parse_renew_before(const char *s, pf_renew_before *ret, pf_err *e)
{
	size_t n = s ? strlen(s) : 0;
	pf_renew_before rb = {0};

	if (n >= 2 && n <= 3 && s[n - 1] == '%') {
		char *end;
		long v = strtol(s, &end, 10);

		if (end != s + n - 1 || s[0] < '0' || s[0] > '9' || v < 1 || v > 99)
			return pf_err_usage(e, "\"%.50s\" is not a percentage from 1%% to 99%%", s);
		rb.percent = true;
		rb.value = v;
	} else if (!s || pf_parse_time(s, &rb.value) < 0) {
		return pf_err_usage(e,
				    "\"%.50s\" is neither a percentage of the lifetime (\"33%%\") "
				    "nor a time (a number with an optional unit s, m, h, d or w)",
				    s ? s : "");
	}
	*ret = rb;
	return 0;
}

int64_t certchain_renew_at(const pf_renew_before *rb, int64_t not_before, int64_t not_after)
{
	int64_t life = not_after - not_before, before;

	if (life <= 0)
		return not_before;
	before = rb->percent ? life / 100 * rb->value + life % 100 * rb->value / 100 : rb->value;
	if (before >= life)
		return not_before;
	return not_after - before;
}

void certchain_free(pf_chain *c)
{
	if (!c)
		return;
	sk_X509_pop_free(c->certs, X509_free);
	memset(c, 0, sizeof(*c));
}

int certchain_write(const char *path, const pf_chain *c, pf_err *e)
{
	BIO *bio = BIO_new(BIO_s_mem());
	BUF_MEM *mem = NULL;
	int n = c && c->certs ? sk_X509_num(c->certs) : 0, r;
	bool ok = bio && n > 0;

	for (int i = 0; ok && i < n; i++)
		ok = PEM_write_bio_X509(bio, sk_X509_value(c->certs, i)) == 1;
	if (!ok || BIO_get_mem_ptr(bio, &mem) <= 0 || !mem) {
		ERR_clear_error();
		BIO_free(bio);
		return pf_err_set(e, EINVAL, "%s: no certificate chain to write", path);
	}
	r = pf_write_file_durable(path, mem->data, mem->length, 0644, PF_WRITE_NOREPLACE, e);
	BIO_free(bio);
	return r;
}

/* Read the whole regular file behind fd, at most PF_CHAIN_MAX_BYTES.
 * Returns 0 (the caller frees *ret with pf_free_secret) or -errno. */
static int read_fd(int fd, const char *name, char **ret, size_t *ret_len, pf_err *e)
{
	struct stat st;
	char *buf;
	size_t len = 0;

	if (fstat(fd, &st) < 0)
		return pf_err_set(e, errno, "cannot read %s: %s", name, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return pf_err_set(e, EINVAL, "%s is not a regular file", name);
	if (st.st_size > PF_CHAIN_MAX_BYTES)
		return pf_err_set(e, EFBIG, "%s is too large (%lld bytes, at most %d)", name,
				  (long long)st.st_size, PF_CHAIN_MAX_BYTES);
	buf = pf_malloc(PF_CHAIN_MAX_BYTES + 1);
	for (;;) {
		ssize_t n = pread(fd, buf + len, PF_CHAIN_MAX_BYTES + 1 - len, (off_t)len);

		if (n < 0) {
			int r = errno;

			pf_free_secret(buf, PF_CHAIN_MAX_BYTES + 1);
			return pf_err_set(e, r, "cannot read %s: %s", name, strerror(r));
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > PF_CHAIN_MAX_BYTES) {
			pf_free_secret(buf, PF_CHAIN_MAX_BYTES + 1);
			return pf_err_set(e, EFBIG, "%s is too large (more than %d bytes)", name,
					  PF_CHAIN_MAX_BYTES);
		}
	}
	buf[len] = '\0';
	*ret = buf;
	*ret_len = len;
	return 0;
}

static bool holds_private_key(const char *text, size_t len)
{
	static const char mark[] = "PRIVATE KEY-----";

	return memmem(text, len, mark, sizeof(mark) - 1) != NULL;
}

/* Parse the PEM certificates of text into *ret.  Returns the verdict. */
static enum pf_chain_verdict parse_pem(const char *name, const char *text, size_t len,
				       STACK_OF(X509) * *ret, pf_err *e)
{
	STACK_OF(X509) *certs = sk_X509_new_null();
	BIO *bio = BIO_new_mem_buf(text, (int)len);
	enum pf_chain_verdict v = PF_CHAIN_OK;

	if (!certs || !bio)
		abort();
	ERR_clear_error();
	for (;;) {
		char *pem_name = NULL, *header = NULL;
		unsigned char *data = NULL;
		const unsigned char *p;
		long dlen = 0;
		X509 *x;

		if (!PEM_read_bio(bio, &pem_name, &header, &data, &dlen)) {
			unsigned long err = ERR_peek_last_error();

			if (ERR_GET_REASON(err) != PEM_R_NO_START_LINE) {
				pf_err_set(e, EINVAL, "%s: certificate %d is not a valid PEM block",
					   name, sk_X509_num(certs) + 1);
				v = PF_CHAIN_MALFORMED;
			}
			ERR_clear_error();
			break;
		}
		p = data;
		x = NULL;
		v = PF_CHAIN_MALFORMED;
		if (strcmp(pem_name, "CERTIFICATE") != 0 || header[0] != '\0')
			pf_err_set(e, EINVAL, "%s: block %d is not a PEM certificate", name,
				   sk_X509_num(certs) + 1);
		else if (!(x = d2i_X509(NULL, &p, dlen)) || p != data + dlen)
			pf_err_set(e, EINVAL, "%s: certificate %d cannot be parsed", name,
				   sk_X509_num(certs) + 1);
		else if (sk_X509_num(certs) >= PF_CHAIN_MAX_CERTS)
			pf_err_set(e, EINVAL, "%s: more than %d certificates", name,
				   PF_CHAIN_MAX_CERTS);
		else if (!sk_X509_push(certs, x))
			abort();
		else
			x = NULL, v = PF_CHAIN_OK;
		X509_free(x);
		OPENSSL_free(pem_name);
		OPENSSL_free(header);
		OPENSSL_clear_free(data, dlen > 0 ? (size_t)dlen : 0);
		if (v != PF_CHAIN_OK)
			break;
	}
	BIO_free(bio);
	ERR_clear_error();
	if (v == PF_CHAIN_OK && sk_X509_num(certs) == 0) {
		pf_err_set(e, EINVAL, "%s: no PEM certificate in the file", name);
		v = PF_CHAIN_MALFORMED;
	}
	if (v != PF_CHAIN_OK) {
		sk_X509_pop_free(certs, X509_free);
		return v;
	}
	*ret = certs;
	return PF_CHAIN_OK;
}

/* Whether cert carries the key's SubjectPublicKeyInfo. */
static bool is_our_key(X509 *cert, const pf_pubkey *key)
{
	unsigned char *der = NULL;
	EVP_PKEY *pub = X509_get0_pubkey(cert);
	int n;
	bool same;

	ERR_clear_error();
	if (!pub || (n = i2d_PUBKEY(pub, &der)) <= 0) {
		ERR_clear_error();
		return false;
	}
	same = (size_t)n == key->spki_len && memcmp(der, key->spki, key->spki_len) == 0;
	OPENSSL_free(der);
	return same;
}

/* The certificate's subject as printable text, cut to fit buf. */
static const char *subject_text(X509 *cert, char *buf, size_t len)
{
	char raw[256] = "";
	BIO *bio = BIO_new(BIO_s_mem());

	if (bio && X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_ONELINE) >= 0) {
		int n = BIO_read(bio, raw, sizeof(raw) - 1);

		raw[n > 0 ? n : 0] = '\0';
	}
	BIO_free(bio);
	ERR_clear_error();
	return pf_printable_copy(buf, len, raw);
}

/* The leaf's DNS names ("a, b") for a message, printable, cut to fit. */
static const char *dns_names_text(X509 *cert, char *buf, size_t len)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	char raw[512] = "";
	size_t used = 0;

	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		int n;

		if (g->type != GEN_DNS)
			continue;
		n = snprintf(raw + used, sizeof(raw) - used, "%s%.*s", used ? ", " : "",
			     ASN1_STRING_length(g->d.dNSName),
			     (const char *)ASN1_STRING_get0_data(g->d.dNSName));
		if (n < 0 || (size_t)n >= sizeof(raw) - used)
			break;
		used += (size_t)n;
	}
	GENERAL_NAMES_free(gens);
	ERR_clear_error();
	if (!used)
		return pf_printable_copy(buf, len, "no DNS subjectAltName");
	return pf_printable_copy(buf, len, raw);
}

/* An ASN1_TIME as seconds since the epoch.  Returns 0 or -EINVAL. */
static int asn1_time_secs(const ASN1_TIME *t, int64_t *ret)
{
	struct tm tm;

	if (!t || !ASN1_TIME_to_tm(t, &tm)) {
		ERR_clear_error();
		return -EINVAL;
	}
	*ret = (int64_t)timegm(&tm);
	return 0;
}

static void serial_hex(X509 *cert, char *buf, size_t len)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;

	snprintf(buf, len, "%s", hex ? hex : "");
	for (char *c = buf; *c; c++)
		if (*c >= 'A' && *c <= 'F')
			*c = (char)(*c - 'A' + 'a');
	OPENSSL_free(hex);
	BN_free(bn);
	ERR_clear_error();
}

static enum pf_chain_verdict check_order(const char *name, STACK_OF(X509) * certs,
					 const pf_pubkey *key, pf_err *e)
{
	int n = sk_X509_num(certs);
	char subj[120];

	if (!is_our_key(sk_X509_value(certs, 0), key)) {
		for (int i = 1; i < n; i++)
			if (is_our_key(sk_X509_value(certs, i), key)) {
				pf_err_set(e, EINVAL,
					   "%s: the key's certificate is number %d, not first "
					   "(the chain must be leaf first)",
					   name, i + 1);
				return PF_CHAIN_ORDER;
			}
		pf_err_set(e, EINVAL,
			   "%s: the certificate's public key is not the key's (SPKI SHA-256 %s)",
			   name, key->spki_sha256);
		return PF_CHAIN_NOT_OUR_KEY;
	}
	for (int i = 0; i + 1 < n; i++) {
		X509 *cur = sk_X509_value(certs, i), *next = sk_X509_value(certs, i + 1);

		if (X509_check_issued(next, cur) != X509_V_OK) {
			ERR_clear_error();
			pf_err_set(e, EINVAL,
				   "%s: certificate %d (%s) is not the issuer of certificate %d: "
				   "wrong order or an unrelated certificate",
				   name, i + 2, subject_text(next, subj, sizeof(subj)), i + 1);
			return PF_CHAIN_ORDER;
		}
	}
	return PF_CHAIN_OK;
}

static enum pf_chain_verdict check_names(const char *name, X509 *leaf, const pf_strv *hostnames,
					 pf_err *e)
{
	char names[240];

	/* Nothing to cover would accept any certificate. */
	if (!hostnames || hostnames->n == 0) {
		pf_err_set(e, EINVAL, "%s: no host names to check the certificate against", name);
		return PF_CHAIN_NAMES;
	}
	for (size_t i = 0; i < hostnames->n; i++) {
		const char *h = hostnames->v[i];
		size_t len = strlen(h);

		if (len > 1 && h[len - 1] == '.')
			len--;
		if (X509_check_host(leaf, h, len, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) !=
		    1) {
			ERR_clear_error();
			pf_err_set(e, EINVAL,
				   "%s: the certificate does not name %.*s (it names %s)", name,
				   (int)len, h, dns_names_text(leaf, names, sizeof(names)));
			return PF_CHAIN_NAMES;
		}
	}
	return PF_CHAIN_OK;
}

static enum pf_chain_verdict check_verify(const char *name, STACK_OF(X509) * certs,
					  const pf_chain_policy *p, pf_err *e)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	enum pf_chain_verdict v = PF_CHAIN_OK;

	if (!store || !ctx || !untrusted)
		abort();
	for (int i = 1; i < sk_X509_num(certs); i++)
		if (!sk_X509_push(untrusted, sk_X509_value(certs, i)))
			abort();
	ERR_clear_error();
	if (!p->ca_file || !X509_STORE_load_file(store, p->ca_file)) {
		pf_err_set(e, EINVAL, "%s: cannot use the CA file %s: %s", name,
			   p->ca_file ? p->ca_file : "(none)",
			   p->ca_file && access(p->ca_file, R_OK) < 0
				   ? strerror(errno)
				   : "no certificate could be loaded from it");
		v = PF_CHAIN_CA_FILE;
	} else if (!X509_STORE_CTX_init(ctx, store, sk_X509_value(certs, 0), untrusted)) {
		pf_err_set(e, ENOMEM, "%s: cannot set up verification", name);
		v = PF_CHAIN_UNTRUSTED;
	} else {
		X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), (time_t)p->now);
		X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
		if (X509_verify_cert(ctx) != 1) {
			int err = X509_STORE_CTX_get_error(ctx);

			pf_err_set(e, EINVAL,
				   "%s: the chain does not verify against %s: %s (at depth %d)",
				   name, p->ca_file, X509_verify_cert_error_string(err),
				   X509_STORE_CTX_get_error_depth(ctx));
			v = PF_CHAIN_UNTRUSTED;
		}
	}
	ERR_clear_error();
	sk_X509_free(untrusted);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return v;
}

/* Every check after parsing, on the chain in certs (not consumed). */
static enum pf_chain_verdict check_chain(const char *name, STACK_OF(X509) * certs,
					 const pf_chain_policy *p, pf_chain *out, pf_err *e)
{
	X509 *leaf = sk_X509_value(certs, 0);
	int64_t nb, na, renew_at;
	enum pf_chain_verdict v;
	char buf[3][32];

	if ((v = check_order(name, certs, p->key, e)) != PF_CHAIN_OK)
		return v;
	if ((v = check_names(name, leaf, p->hostnames, e)) != PF_CHAIN_OK)
		return v;
	if (asn1_time_secs(X509_get0_notBefore(leaf), &nb) < 0 ||
	    asn1_time_secs(X509_get0_notAfter(leaf), &na) < 0) {
		pf_err_set(e, EINVAL, "%s: the certificate's validity dates cannot be read", name);
		return PF_CHAIN_MALFORMED;
	}
	if (p->now < nb) {
		pf_err_set(e, EINVAL, "%s: the certificate is not valid yet (notBefore in %s)",
			   name, pf_fmt_duration(nb - p->now, buf[0], sizeof(buf[0])));
		return PF_CHAIN_NOT_YET_VALID;
	}
	if (p->now > na) {
		pf_err_set(e, EINVAL, "%s: the certificate has expired (notAfter %s ago)", name,
			   pf_fmt_duration(p->now - na, buf[0], sizeof(buf[0])));
		return PF_CHAIN_EXPIRED;
	}
	if ((v = check_verify(name, certs, p, e)) != PF_CHAIN_OK)
		return v;
	renew_at = certchain_renew_at(&p->renew_before, nb, na);
	if (p->now >= renew_at) {
		pf_err_set(e, EINVAL,
			   "%s: only %s of the certificate's %s lifetime left, renewal was due "
			   "%s ago (certificate_renew_before)",
			   name, pf_fmt_duration(na - p->now, buf[0], sizeof(buf[0])),
			   pf_fmt_duration(na - nb, buf[1], sizeof(buf[1])),
			   pf_fmt_duration(p->now - renew_at, buf[2], sizeof(buf[2])));
		return PF_CHAIN_RENEW_DUE;
	}
	out->not_before = nb;
	out->not_after = na;
	out->renew_at = renew_at;
	serial_hex(leaf, out->serial, sizeof(out->serial));
	return PF_CHAIN_OK;
}

enum pf_chain_verdict certchain_check_fd(int fd, const char *name, const pf_chain_policy *policy,
					 pf_chain *ret, pf_err *e)
{
	STACK_OF(X509) *certs = NULL;
	pf_chain out = {0};
	enum pf_chain_verdict v;
	char *text = NULL;
	size_t len = 0;

	if (read_fd(fd, name, &text, &len, e) < 0)
		return PF_CHAIN_UNREADABLE;
	if (holds_private_key(text, len)) {
		pf_free_secret(text, PF_CHAIN_MAX_BYTES + 1);
		pf_err_set(e, EINVAL,
			   "%s holds a private key: a chain file must hold certificates only",
			   name);
		return PF_CHAIN_HAS_KEY;
	}
	v = parse_pem(name, text, len, &certs, e);
	pf_free_secret(text, PF_CHAIN_MAX_BYTES + 1);
	if (v != PF_CHAIN_OK)
		return v;
	if ((v = check_chain(name, certs, policy, &out, e)) != PF_CHAIN_OK) {
		sk_X509_pop_free(certs, X509_free);
		return v;
	}
	out.certs = certs;
	*ret = out;
	return PF_CHAIN_OK;
}

enum pf_chain_verdict certchain_check_der(const uint8_t *der, size_t len, const char *name,
					  const pf_chain_policy *policy, pf_chain *ret, pf_err *e)
{
	STACK_OF(X509) *certs = sk_X509_new_null();
	const unsigned char *p = der, *end = der + len;
	enum pf_chain_verdict v = PF_CHAIN_OK;
	pf_chain out = {0};

	if (!certs)
		abort();
	ERR_clear_error();
	while (v == PF_CHAIN_OK && p < end) {
		X509 *x = NULL;

		if (sk_X509_num(certs) >= PF_CHAIN_MAX_CERTS) {
			pf_err_set(e, EINVAL, "%s: more than %d certificates", name,
				   PF_CHAIN_MAX_CERTS);
			v = PF_CHAIN_MALFORMED;
		} else if (!(x = d2i_X509(NULL, &p, (long)(end - p)))) {
			pf_err_set(e, EINVAL, "%s: certificate %d cannot be parsed", name,
				   sk_X509_num(certs) + 1);
			v = PF_CHAIN_MALFORMED;
		} else if (!sk_X509_push(certs, x)) {
			abort();
		}
	}
	ERR_clear_error();
	if (v == PF_CHAIN_OK && sk_X509_num(certs) == 0) {
		pf_err_set(e, EINVAL, "%s: no certificate", name);
		v = PF_CHAIN_MALFORMED;
	}
	if (v == PF_CHAIN_OK)
		v = check_chain(name, certs, policy, &out, e);
	if (v != PF_CHAIN_OK) {
		sk_X509_pop_free(certs, X509_free);
		return v;
	}
	out.certs = certs;
	*ret = out;
	return PF_CHAIN_OK;
}

enum pf_chain_verdict certchain_check(const char *path, const pf_chain_policy *policy,
				      pf_chain *ret, pf_err *e)
{
	enum pf_chain_verdict v;
	int fd;

	/* O_NOFOLLOW: the command writes this file; a symlink it left there
	 * (to a key, a FIFO, anything) is not followed.  O_NONBLOCK: a FIFO
	 * would block the open. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
	if (fd < 0) {
		int r = errno;

		if (r == ELOOP)
			pf_err_set(e, r, "%s is a symbolic link, not the chain file", path);
		else
			pf_err_set(e, r, "cannot open %s: %s", path, strerror(r));
		return PF_CHAIN_UNREADABLE;
	}
	v = certchain_check_fd(fd, path, policy, ret, e);
	close(fd);
	return v;
}
