/*
 * dnssec.c - the verdict on a TLSA RRset: validates, bogus or insecure,
 * walking the chain down from the trust anchor's zone (RFC 4035 5): the
 * anchor (or the parent's verified DS RRset) selects the zone's entry keys,
 * which must sign its DNSKEY RRset; the zone keys of that set then sign the
 * DS RRset of the child, or the NSEC proving the child has none (insecure
 * from there down), and at the bottom the TLSA RRset.  Owns the signature
 * time window (serial arithmetic around the caller's "now") and the choice
 * of one reason and one zone for a failure.  The records are put in
 * canonical form by ldns; the signatures are checked by OpenSSL, with each
 * DNSKEY turned into an OpenSSL key once for the chain.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "dnssec.h"

/* At most this many keys are kept a chain (its zones' DNSKEY RRsets are
 * bounded, but a key beyond it is made for each verification). */
#define KEYS_MAX 64

/* An RRSIG time field as unix seconds: the one within 2^31 s of now
 * (RFC 4034 3.1.5). */
static int64_t sig_time(const ldns_rdf *f, int64_t now)
{
	uint32_t t = ldns_rdf2native_int32(f);

	return now + (int32_t)(t - (uint32_t)now);
}

/* Failure reasons by how much they say: when no RRSIG verifies, the most
 * telling one is reported. */
static int weight(enum dnssec_reason r)
{
	switch (r) {
	case DNSSEC_R_BAD_SIGNATURE:
		return 6;
	case DNSSEC_R_EXPIRED:
		return 5;
	case DNSSEC_R_NOT_YET_VALID:
		return 4;
	case DNSSEC_R_NO_KEY:
		return 3;
	case DNSSEC_R_UNSUPPORTED_ALGORITHM:
		return 2;
	default:
		return 1;
	}
}

static bool algorithm_supported(uint8_t alg)
{
	switch (alg) {
	case LDNS_RSASHA1:
	case LDNS_RSASHA1_NSEC3:
	case LDNS_RSASHA256:
	case LDNS_RSASHA512:
	case LDNS_ECDSAP256SHA256:
	case LDNS_ECDSAP384SHA384:
	case LDNS_ED25519:
	case LDNS_ED448:
		return ldns_key_algo_supported(alg) != 0;
	default:
		return false;
	}
}

/* A DNSKEY that may sign: a zone key of protocol 3, not revoked. */
static bool zone_key(const ldns_rr *k)
{
	uint16_t flags;

	if (ldns_rr_get_type(k) != LDNS_RR_TYPE_DNSKEY || ldns_rr_rd_count(k) != 4)
		return false;
	flags = ldns_rdf2native_int16(ldns_rr_rdf(k, 0));
	return (flags & LDNS_KEY_ZONE_KEY) && !(flags & LDNS_KEY_REVOKE_KEY) &&
	       ldns_rdf2native_int8(ldns_rr_rdf(k, 1)) == 3;
}

/* One DNSKEY: its RDATA (what it is looked up by), tag and OpenSSL key
 * (NULL: the public key is not one of its algorithm). */
typedef struct key_entry {
	uint8_t *rdata;
	size_t len;
	uint16_t tag;
	uint8_t alg;
	EVP_PKEY *pk;
} key_entry;

struct dnssec_keys {
	key_entry v[KEYS_MAX];
	size_t n;
};

dnssec_keys *dnssec_keys_new(void)
{
	return pf_calloc(1, sizeof(dnssec_keys));
}

static void entry_clear(key_entry *k)
{
	free(k->rdata);
	EVP_PKEY_free(k->pk);
	memset(k, 0, sizeof(*k));
}

void dnssec_keys_free(dnssec_keys *k)
{
	if (!k)
		return;
	for (size_t i = 0; i < k->n; i++)
		entry_clear(&k->v[i]);
	free(k);
}

/* A public key from OpenSSL parameters of key type type, or NULL. */
static EVP_PKEY *key_from(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = bld ? OSSL_PARAM_BLD_to_param(bld) : NULL;
	EVP_PKEY_CTX *ctx = params ? EVP_PKEY_CTX_new_from_name(NULL, type, NULL) : NULL;
	EVP_PKEY *pk = NULL;

	if (ctx && EVP_PKEY_fromdata_init(ctx) == 1 &&
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pk = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pk;
}

/* An RSA public key in DNSKEY form (RFC 3110 2: exponent length in one
 * octet, or zero and two; exponent; modulus), or NULL. */
static EVP_PKEY *rsa_key(const uint8_t *k, size_t len)
{
	size_t off = 1, elen = len ? k[0] : 0;
	EVP_PKEY *pk = NULL;

	if (len >= 3 && k[0] == 0) {
		elen = (size_t)k[1] << 8 | k[2];
		off = 3;
	}
	if (elen == 0 || len <= off + elen)
		return NULL;
	BIGNUM *e = BN_bin2bn(k + off, (int)elen, NULL);
	BIGNUM *n = BN_bin2bn(k + off + elen, (int)(len - off - elen), NULL);
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	if (e && n && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) == 1 &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) == 1)
		pk = key_from("RSA", bld);
	OSSL_PARAM_BLD_free(bld);
	BN_free(e);
	BN_free(n);
	return pk;
}

/* An ECDSA public key in DNSKEY form (RFC 6605 4: x and y, each half),
 * on curve group, or NULL; OpenSSL refuses a point not on the curve. */
static EVP_PKEY *ec_key(const char *group, size_t half, const uint8_t *k, size_t len)
{
	uint8_t point[1 + 2 * 48];
	OSSL_PARAM_BLD *bld;
	EVP_PKEY *pk = NULL;

	if (len != 2 * half || len + 1 > sizeof(point))
		return NULL;
	point[0] = 0x04; /* uncompressed */
	memcpy(point + 1, k, len);
	bld = OSSL_PARAM_BLD_new();
	if (bld &&
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) == 1 &&
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, len + 1) == 1)
		pk = key_from("EC", bld);
	OSSL_PARAM_BLD_free(bld);
	return pk;
}

/* The OpenSSL key of a DNSKEY's public key field of algorithm alg, or NULL. */
static EVP_PKEY *make_key(uint8_t alg, const uint8_t *k, size_t len)
{
	switch (alg) {
	case LDNS_RSASHA1:
	case LDNS_RSASHA1_NSEC3:
	case LDNS_RSASHA256:
	case LDNS_RSASHA512:
		return rsa_key(k, len);
	case LDNS_ECDSAP256SHA256:
		return ec_key("P-256", 32, k, len);
	case LDNS_ECDSAP384SHA384:
		return ec_key("P-384", 48, k, len);
	case LDNS_ED25519:
		return len == 32 ? EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, k, len)
				 : NULL;
	case LDNS_ED448:
		return len == 57 ? EVP_PKEY_new_raw_public_key(EVP_PKEY_ED448, NULL, k, len) : NULL;
	default:
		return NULL;
	}
}

/* Fill e for the DNSKEY k (a zone key, zone_key()): its RDATA copied and
 * its tag; the OpenSSL key is key_of's to make. */
static void entry_make(key_entry *e, const ldns_rr *k)
{
	const ldns_rdf *pub = ldns_rr_rdf(k, 3);
	size_t plen = ldns_rdf_size(pub);

	memset(e, 0, sizeof(*e));
	e->len = 4 + plen;
	e->rdata = pf_malloc(e->len);
	e->rdata[0] = (uint8_t)(ldns_rdf2native_int16(ldns_rr_rdf(k, 0)) >> 8);
	e->rdata[1] = (uint8_t)ldns_rdf2native_int16(ldns_rr_rdf(k, 0));
	e->rdata[2] = ldns_rdf2native_int8(ldns_rr_rdf(k, 1));
	e->rdata[3] = e->alg = ldns_rdf2native_int8(ldns_rr_rdf(k, 2));
	memcpy(e->rdata + 4, ldns_rdf_data(pub), plen);
	e->tag = ldns_calc_keytag_raw(e->rdata, e->len);
}

/* The entry of zone key k in ks, made now when it is not there yet; when ks
 * is full (or NULL), into *tmp, which the caller clears. */
static const key_entry *key_of(dnssec_keys *ks, const ldns_rr *k, key_entry *tmp)
{
	const ldns_rdf *pub = ldns_rr_rdf(k, 3);
	uint16_t flags = ldns_rdf2native_int16(ldns_rr_rdf(k, 0));
	key_entry e;

	/* Compared in place: a lookup per key and RRset verified, no copy. */
	for (size_t i = 0; ks && i < ks->n; i++) {
		const key_entry *c = &ks->v[i];

		if (c->len == 4 + ldns_rdf_size(pub) && c->rdata[0] == (uint8_t)(flags >> 8) &&
		    c->rdata[1] == (uint8_t)flags &&
		    c->rdata[2] == ldns_rdf2native_int8(ldns_rr_rdf(k, 1)) &&
		    c->rdata[3] == ldns_rdf2native_int8(ldns_rr_rdf(k, 2)) &&
		    memcmp(c->rdata + 4, ldns_rdf_data(pub), ldns_rdf_size(pub)) == 0)
			return c;
	}
	entry_make(&e, k);
	e.pk = make_key(e.alg, e.rdata + 4, e.len - 4);
	ERR_clear_error();
	if (ks && ks->n < KEYS_MAX) {
		ks->v[ks->n] = e;
		return &ks->v[ks->n++];
	}
	*tmp = e;
	return tmp;
}

/*
 * The data an RRSIG signs (RFC 4034 3.1.8.1): its RDATA up to the signature,
 * the signer's name in canonical form, then each record of the RRset in
 * canonical form (6.2) with the RRSIG's original TTL, in canonical order
 * (6.3).  NULL when out of memory.
 */
static ldns_buffer *signed_data(const ldns_rr_list *rrset, const ldns_rr *sig)
{
	ldns_rr_list *set = ldns_rr_list_clone(rrset);
	ldns_rr *s = ldns_rr_clone(sig);
	ldns_buffer *b = ldns_buffer_new(1024);
	uint32_t ttl = ldns_rdf2native_int32(ldns_rr_rrsig_origttl(sig));
	bool ok = set && s && b;

	for (size_t i = 0; ok && i < ldns_rr_list_rr_count(set); i++) {
		ldns_rr *rr = ldns_rr_list_rr(set, i);

		ldns_rr_set_ttl(rr, ttl);
		ldns_rr2canonical(rr);
	}
	if (ok) {
		ldns_rr_list_sort(set);
		ldns_dname2canonical(ldns_rr_rrsig_signame(s));
		ok = ldns_rrsig2buffer_wire(b, s) == LDNS_STATUS_OK &&
		     ldns_rr_list2buffer_wire(b, set) == LDNS_STATUS_OK && ldns_buffer_status_ok(b);
	}
	ldns_rr_list_deep_free(set);
	ldns_rr_free(s);
	if (!ok) {
		ldns_buffer_free(b);
		return NULL;
	}
	return b;
}

/* Does sig (the RRSIG's signature field, algorithm alg) verify over data
 * with pk? */
static bool sig_verifies(EVP_PKEY *pk, uint8_t alg, const ldns_rdf *sig, const ldns_buffer *data)
{
	const uint8_t *raw = ldns_rdf_data(sig);
	size_t len = ldns_rdf_size(sig), half = 0;
	const char *md = NULL;
	unsigned char *der = NULL;
	EVP_MD_CTX *ctx;
	bool ok;

	switch (alg) {
	case LDNS_RSASHA1:
	case LDNS_RSASHA1_NSEC3:
		md = "SHA1";
		break;
	case LDNS_RSASHA256:
		md = "SHA256";
		break;
	case LDNS_RSASHA512:
		md = "SHA512";
		break;
	case LDNS_ECDSAP256SHA256:
		md = "SHA256";
		half = 32;
		break;
	case LDNS_ECDSAP384SHA384:
		md = "SHA384";
		half = 48;
		break;
	case LDNS_ED25519:
	case LDNS_ED448:
		break; /* no separate digest */
	default:
		return false;
	}
	if (half) {
		/* RFC 6605 4: r and s, each half; OpenSSL wants DER. */
		ECDSA_SIG *es = len == 2 * half ? ECDSA_SIG_new() : NULL;
		BIGNUM *r = es ? BN_bin2bn(raw, (int)half, NULL) : NULL;
		BIGNUM *s = es ? BN_bin2bn(raw + half, (int)half, NULL) : NULL;
		int n;

		if (!r || !s || ECDSA_SIG_set0(es, r, s) != 1) {
			BN_free(r);
			BN_free(s);
			ECDSA_SIG_free(es);
			return false;
		}
		n = i2d_ECDSA_SIG(es, &der);
		ECDSA_SIG_free(es);
		if (n <= 0)
			return false;
		raw = der;
		len = (size_t)n;
	}
	ctx = EVP_MD_CTX_new();
	ok = ctx && EVP_DigestVerifyInit_ex(ctx, NULL, md, NULL, NULL, pk, NULL) == 1 &&
	     EVP_DigestVerify(ctx, raw, len, ldns_buffer_begin(data), ldns_buffer_position(data)) ==
		     1;
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	ERR_clear_error();
	return ok;
}

/* The owner of an RRset as printable text into buf. */
static const char *name_text(const ldns_rdf *d, char *buf, size_t size)
{
	char *s = d ? ldns_rdf2str(d) : NULL;

	pf_printable_copy(buf, size, s ? s : "?");
	free(s);
	return buf;
}

static void fmt_time(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, size, "%lld", (long long)t);
}

/* What a verification of one RRset came to. */
struct check {
	enum dnssec_reason reason; /* DNSSEC_R_NONE: verified */
	int64_t expiry;            /* latest expiration of a verified RRSIG */
	char detail[200];
};

/*
 * Verify the RRset (non-empty) with the RRSIGs of signer made by one of keys
 * at now, their OpenSSL keys kept in ks (may be NULL).  Returns the outcome
 * in *out.
 */
static void verify_rrset(const ldns_rr_list *rrset, const ldns_rr_list *sigs,
			 const ldns_rr_list *keys, dnssec_keys *ks, const ldns_rdf *signer,
			 int64_t now, struct check *out)
{
	const ldns_rr *first = ldns_rr_list_rr(rrset, 0);
	ldns_rr_type type = ldns_rr_get_type(first);
	size_t nk = ldns_rr_list_rr_count(keys);
	const key_entry **kv = pf_calloc(nk ? nk : 1, sizeof(*kv));
	key_entry *tmp = pf_calloc(nk ? nk : 1, sizeof(*tmp));

	/* Each zone key once, not once a signature. */
	for (size_t k = 0; k < nk; k++)
		if (zone_key(ldns_rr_list_rr(keys, k)))
			kv[k] = key_of(ks, ldns_rr_list_rr(keys, k), &tmp[k]);
	memset(out, 0, sizeof(*out));
	out->reason = DNSSEC_R_MISSING_RRSIG;
	snprintf(out->detail, sizeof(out->detail), "no RRSIG");
	for (size_t i = 0; i < ldns_rr_list_rr_count(sigs); i++) {
		const ldns_rr *sig = ldns_rr_list_rr(sigs, i);
		enum dnssec_reason r = DNSSEC_R_NONE;
		char det[200] = "";

		if (ldns_rr_rd_count(sig) != 9 ||
		    ldns_rdf2native_int16(ldns_rr_rrsig_typecovered(sig)) != type ||
		    ldns_dname_compare(ldns_rr_owner(sig), ldns_rr_owner(first)) != 0)
			continue;
		uint8_t alg = ldns_rdf2native_int8(ldns_rr_rrsig_algorithm(sig));
		uint16_t tag = ldns_rdf2native_int16(ldns_rr_rrsig_keytag(sig));
		int64_t inc = sig_time(ldns_rr_rrsig_inception(sig), now);
		int64_t exp = sig_time(ldns_rr_rrsig_expiration(sig), now);
		char when[32];
		size_t n_match = 0;

		for (size_t k = 0; k < nk; k++)
			n_match += kv[k] && kv[k]->alg == alg && kv[k]->tag == tag;
		if (!algorithm_supported(alg)) {
			r = DNSSEC_R_UNSUPPORTED_ALGORITHM;
			snprintf(det, sizeof(det), "algorithm %u", alg);
		} else if (ldns_rdf2native_int8(ldns_rr_rrsig_labels(sig)) !=
			   ldns_dname_label_count(ldns_rr_owner(first))) {
			/* A wildcard expansion would need the proof that no closer
			 * name exists, which the chain does not carry. */
			r = DNSSEC_R_BAD_SIGNATURE;
			snprintf(det, sizeof(det), "wildcard expansion, not supported (key %u)",
				 tag);
		} else if (ldns_dname_compare(ldns_rr_rrsig_signame(sig), signer) != 0) {
			r = DNSSEC_R_NO_KEY;
			snprintf(det, sizeof(det), "signer is not the zone (key %u)", tag);
		} else if (exp < now) {
			r = DNSSEC_R_EXPIRED;
			fmt_time(exp, when, sizeof(when));
			snprintf(det, sizeof(det), "expired %s (key %u)", when, tag);
		} else if (inc > now) {
			r = DNSSEC_R_NOT_YET_VALID;
			fmt_time(inc, when, sizeof(when));
			snprintf(det, sizeof(det), "valid from %s (key %u)", when, tag);
		} else if (n_match == 0) {
			r = DNSSEC_R_NO_KEY;
			snprintf(det, sizeof(det), "no DNSKEY with tag %u algorithm %u", tag, alg);
		} else {
			/* Any of the keys with that tag and algorithm may have
			 * made it (tags collide). */
			ldns_buffer *data = signed_data(rrset, sig);
			bool good = false;

			for (size_t k = 0; data && !good && k < nk; k++)
				good = kv[k] && kv[k]->alg == alg && kv[k]->tag == tag &&
				       kv[k]->pk &&
				       sig_verifies(kv[k]->pk, alg, ldns_rr_rrsig_sig(sig), data);
			ldns_buffer_free(data);
			if (!good) {
				r = DNSSEC_R_BAD_SIGNATURE;
				snprintf(det, sizeof(det), "key %u", tag);
			}
		}
		if (r == DNSSEC_R_NONE) {
			if (out->reason != DNSSEC_R_NONE || exp > out->expiry)
				out->expiry = exp;
			out->reason = DNSSEC_R_NONE;
			out->detail[0] = '\0';
		} else if (out->reason != DNSSEC_R_NONE && (out->reason == DNSSEC_R_MISSING_RRSIG ||
							    weight(r) > weight(out->reason))) {
			out->reason = r;
			snprintf(out->detail, sizeof(out->detail), "%s", det);
		}
	}
	for (size_t k = 0; k < nk; k++)
		entry_clear(&tmp[k]);
	free(tmp);
	free(kv);
}

/* Fill ret as bogus (or insecure, with reason NONE) at zone. */
static void conclude(dnssec_result *ret, enum dnssec_verdict v, enum dnssec_reason r,
		     const ldns_rdf *zone, const char *fmt, ...) PF_PRINTF(5, 6);
static void conclude(dnssec_result *ret, enum dnssec_verdict v, enum dnssec_reason r,
		     const ldns_rdf *zone, const char *fmt, ...)
{
	char text[sizeof(ret->msg)];
	va_list ap;

	ret->verdict = v;
	ret->reason = r;
	name_text(zone, ret->zone, sizeof(ret->zone));
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	pf_printable_copy(ret->msg, sizeof(ret->msg), text);
}

/* Fold a verified RRset's expiry into the chain's earliest. */
static void note_expiry(dnssec_result *ret, int64_t expiry)
{
	if (ret->earliest_expiry == 0 || expiry < ret->earliest_expiry)
		ret->earliest_expiry = expiry;
}

/* The DNSKEYs of set matching one of the DS records of owner zone in ds
 * (borrowed pointers; the caller frees the list, not the records). */
static ldns_rr_list *entry_keys(const ldns_rr_list *set, const ldns_rr_list *ds,
				const ldns_rdf *zone)
{
	ldns_rr_list *out = ldns_rr_list_new();

	for (size_t i = 0; i < ldns_rr_list_rr_count(set); i++) {
		ldns_rr *k = ldns_rr_list_rr(set, i);

		if (!zone_key(k) || !algorithm_supported(ldns_rdf2native_int8(ldns_rr_rdf(k, 2))))
			continue;
		for (size_t j = 0; j < ldns_rr_list_rr_count(ds); j++) {
			const ldns_rr *d = ldns_rr_list_rr(ds, j);

			if (ldns_rr_get_type(d) == LDNS_RR_TYPE_DS && ldns_rr_rd_count(d) == 4 &&
			    ldns_dname_compare(ldns_rr_owner(d), zone) == 0 &&
			    ldns_rr_compare_ds(d, k)) {
				ldns_rr_list_push_rr(out, k);
				break;
			}
		}
	}
	return out;
}

ldns_rdf *dnssec_nsec3_owner(const ldns_rr *nsec3, const ldns_rdf *name, const ldns_rdf *zone)
{
	ldns_rdf *label, *owner;
	uint8_t *salt;

	if (ldns_rr_get_type(nsec3) != LDNS_RR_TYPE_NSEC3 || ldns_rr_rd_count(nsec3) != 6 ||
	    ldns_nsec3_algorithm(nsec3) != LDNS_SHA1 ||
	    ldns_nsec3_iterations(nsec3) > DNSSEC_NSEC3_ITERATIONS_MAX)
		return NULL;
	salt = ldns_nsec3_salt_data(nsec3);
	label = ldns_nsec3_hash_name(name, LDNS_SHA1, ldns_nsec3_iterations(nsec3),
				     ldns_nsec3_salt_length(nsec3), salt);
	free(salt);
	if (!label)
		return NULL;
	owner = ldns_dname_cat_clone(label, zone);
	ldns_rdf_deep_free(label);
	if (owner)
		ldns_dname2canonical(owner);
	return owner;
}

/* A type bitmap of a delegation without DS. */
static bool bitmap_no_ds(const ldns_rdf *bm)
{
	return ldns_nsec_bitmap_covers_type(bm, LDNS_RR_TYPE_NS) &&
	       !ldns_nsec_bitmap_covers_type(bm, LDNS_RR_TYPE_DS) &&
	       !ldns_nsec_bitmap_covers_type(bm, LDNS_RR_TYPE_SOA);
}

/* Whether n is the NSEC (or NSEC3) of z's name in the parent, its bitmap
 * (index bm) saying a delegation without DS. */
static bool denies_ds(const ldns_rr *n, const dnssec_zone *z, const ldns_rdf *parent)
{
	ldns_rdf *want = NULL;
	size_t bm_at;
	bool match;

	if (ldns_rr_get_type(n) == LDNS_RR_TYPE_NSEC && ldns_rr_rd_count(n) == 2) {
		match = ldns_dname_compare(ldns_rr_owner(n), z->name) == 0;
		bm_at = 1;
	} else if ((want = dnssec_nsec3_owner(n, z->name, parent))) {
		match = ldns_dname_compare(ldns_rr_owner(n), want) == 0;
		ldns_rdf_deep_free(want);
		bm_at = 5;
	} else
		return false;
	return match && ldns_rdf_get_type(ldns_rr_rdf(n, bm_at)) == LDNS_RDF_TYPE_BITMAP &&
	       bitmap_no_ds(ldns_rr_rdf(n, bm_at));
}

/* An NSEC of the child's name, or an NSEC3 of its hash, in the parent
 * proving that the name is a delegation without DS: NS in its bitmap,
 * neither DS nor SOA (RFC 4035 5.2, RFC 5155 8.6, RFC 6840 4.4).  Returns
 * it or NULL. */
static const ldns_rr *nsec_no_ds(const dnssec_zone *z, const ldns_rdf *parent)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(z->nods); i++) {
		const ldns_rr *n = ldns_rr_list_rr(z->nods, i);

		if (denies_ds(n, z, parent))
			return n;
	}
	return NULL;
}

/* Whether z's DNSKEY RRset is signed by one of its entry keys (matching ds):
 * returns true, else false with ret concluded bogus. */
static bool zone_keys(const dnssec_zone *z, const ldns_rr_list *ds, bool anchored, dnssec_keys *ks,
		      int64_t now, dnssec_result *ret)
{
	struct check ck;
	char zn[256];
	ldns_rr_list *entry;

	name_text(z->name, zn, sizeof(zn));
	if (ldns_rr_list_rr_count(z->dnskey) == 0) {
		conclude(ret, DNSSEC_BOGUS, DNSSEC_R_INCOMPLETE, z->name,
			 "no DNSKEY RRset for %.100s", zn);
		return false;
	}
	entry = entry_keys(z->dnskey, ds, z->name);
	if (ldns_rr_list_rr_count(entry) == 0) {
		ldns_rr_list_free(entry);
		if (anchored)
			conclude(ret, DNSSEC_BOGUS, DNSSEC_R_ANCHOR_MISMATCH, z->name,
				 "no DNSKEY of %.100s matches the trust anchor", zn);
		else
			conclude(ret, DNSSEC_BOGUS, DNSSEC_R_NO_DS_MATCH, z->name,
				 "no DNSKEY of %.100s matches its DS RRset", zn);
		return false;
	}
	verify_rrset(z->dnskey, z->dnskey_sigs, entry, ks, z->name, now, &ck);
	ldns_rr_list_free(entry);
	if (ck.reason != DNSSEC_R_NONE) {
		conclude(ret, DNSSEC_BOGUS, ck.reason, z->name, "DNSKEY RRset of %.100s: %s (%s)",
			 zn, dnssec_reason_name(ck.reason), ck.detail);
		return false;
	}
	note_expiry(ret, ck.expiry);
	return true;
}

/* The anchor's zone: the lowest zone of the chain an anchor names, or -1. */
static int anchor_zone(const dnssec_chain *c, const dnssec_anchors *a)
{
	for (size_t i = 0; i < c->nzones; i++)
		if (dnssec_anchors_count_for(a, c->zones[i].name) > 0)
			return (int)i;
	return -1;
}

bool dnssec_validate_keys(const dnssec_chain *c, const dnssec_anchors *a, int64_t now,
			  dnssec_result *ret)
{
	struct check ck;
	char zn[256], pn[256];
	int top = anchor_zone(c, a);

	memset(ret, 0, sizeof(*ret));
	if (top < 0) {
		conclude(ret, DNSSEC_BOGUS, DNSSEC_R_NO_ANCHOR, c->zones[c->nzones - 1].name,
			 "no trust anchor for any zone from %s up",
			 name_text(c->zones[0].name, zn, sizeof(zn)));
		return false;
	}
	if (!zone_keys(&c->zones[top], a->ds, true, c->keys, now, ret))
		return false;
	for (int i = top - 1; i >= 0; i--) {
		const dnssec_zone *z = &c->zones[i], *parent = &c->zones[i + 1];

		name_text(z->name, zn, sizeof(zn));
		name_text(parent->name, pn, sizeof(pn));
		if (ldns_rr_list_rr_count(z->ds) > 0) {
			verify_rrset(z->ds, z->ds_sigs, parent->dnskey, c->keys, parent->name, now,
				     &ck);
			if (ck.reason != DNSSEC_R_NONE) {
				conclude(ret, DNSSEC_BOGUS, ck.reason, parent->name,
					 "DS RRset of %.100s in %.100s: %s (%s)", zn, pn,
					 dnssec_reason_name(ck.reason), ck.detail);
				return false;
			}
			note_expiry(ret, ck.expiry);
			if (!zone_keys(z, z->ds, false, c->keys, now, ret))
				return false;
			continue;
		}
		const ldns_rr *nsec = nsec_no_ds(z, parent->name);
		if (!nsec) {
			conclude(ret, DNSSEC_BOGUS, DNSSEC_R_NO_DS_PROOF, z->name,
				 "%.100s has no DS in %.100s and no NSEC or NSEC3 proves its "
				 "absence",
				 zn, pn);
			return false;
		}
		ldns_rr_list *one = ldns_rr_list_new();
		ldns_rr_list_push_rr(one, (ldns_rr *)nsec);
		verify_rrset(one, z->nods_sigs, parent->dnskey, c->keys, parent->name, now, &ck);
		ldns_rr_list_free(one);
		if (ck.reason != DNSSEC_R_NONE) {
			conclude(ret, DNSSEC_BOGUS, ck.reason, parent->name,
				 "%s proving no DS for %.100s in %.100s: %s (%s)",
				 ldns_rr_get_type(nsec) == LDNS_RR_TYPE_NSEC ? "NSEC" : "NSEC3", zn,
				 pn, dnssec_reason_name(ck.reason), ck.detail);
			return false;
		}
		note_expiry(ret, ck.expiry);
		conclude(ret, DNSSEC_INSECURE, DNSSEC_R_NONE, z->name,
			 "%.100s is an unsigned delegation from %.100s: DANE protects nothing", zn,
			 pn);
		return false;
	}
	return true;
}

void dnssec_validate_tlsa(const dnssec_chain *c, int64_t now, dnssec_result *ret)
{
	struct check ck;
	char zn[256], pn[256];

	name_text(c->tlsa_name, pn, sizeof(pn));
	name_text(c->zones[0].name, zn, sizeof(zn));
	if (ldns_rr_list_rr_count(c->tlsa) == 0) {
		conclude(ret, DNSSEC_BOGUS, DNSSEC_R_INCOMPLETE, c->zones[0].name,
			 "no TLSA RRset for %.100s", pn);
		return;
	}
	verify_rrset(c->tlsa, c->tlsa_sigs, c->zones[0].dnskey, c->keys, c->zones[0].name, now,
		     &ck);
	if (ck.reason != DNSSEC_R_NONE) {
		conclude(ret, DNSSEC_BOGUS, ck.reason, c->zones[0].name,
			 "TLSA RRset of %.100s in %.100s: %s (%s)", pn, zn,
			 dnssec_reason_name(ck.reason), ck.detail);
		return;
	}
	note_expiry(ret, ck.expiry);
	ret->verdict = DNSSEC_VALIDATES;
	ret->reason = DNSSEC_R_NONE;
	ret->zone[0] = '\0';
	snprintf(ret->msg, sizeof(ret->msg), "TLSA RRset of %.100s validates", pn);
}

/* One RRset into b for dnssec_chain_tlsa_form: its count, then its records
 * sorted.  Returns false when out of memory. */
static bool put_sorted(ldns_buffer *b, const ldns_rr_list *l)
{
	size_t n = l ? ldns_rr_list_rr_count(l) : 0;
	ldns_rr_list *sorted = n ? ldns_rr_list_clone(l) : NULL;
	bool ok = (!n || sorted) && ldns_buffer_reserve(b, 4);

	if (ok)
		ldns_buffer_write_u32(b, (uint32_t)n);
	if (ok && sorted) {
		ldns_rr_list_sort(sorted);
		ok = ldns_rr_list2buffer_wire(b, sorted) == LDNS_STATUS_OK;
	}
	ldns_rr_list_deep_free(sorted);
	return ok;
}

uint8_t *dnssec_chain_tlsa_form(const dnssec_chain *c, size_t *len)
{
	ldns_buffer *b = ldns_buffer_new(1024);
	uint8_t *ret = NULL;

	if (!b)
		return NULL;
	if (ldns_rdf2buffer_wire(b, c->tlsa_name) == LDNS_STATUS_OK &&
	    put_sorted(b, c->zones[0].dnskey) && put_sorted(b, c->tlsa) &&
	    put_sorted(b, c->tlsa_sigs) && ldns_buffer_status_ok(b)) {
		*len = ldns_buffer_position(b);
		ret = ldns_buffer_export(b);
	}
	ldns_buffer_free(b);
	return ret;
}

void dnssec_validate(const dnssec_chain *c, const dnssec_anchors *a, int64_t now,
		     dnssec_result *ret)
{
	if (dnssec_validate_keys(c, a, now, ret))
		dnssec_validate_tlsa(c, now, ret);
}

const char *dnssec_verdict_name(enum dnssec_verdict v)
{
	switch (v) {
	case DNSSEC_VALIDATES:
		return "validates";
	case DNSSEC_BOGUS:
		return "bogus";
	case DNSSEC_INSECURE:
		return "insecure";
	}
	return "?";
}

const char *dnssec_reason_name(enum dnssec_reason r)
{
	switch (r) {
	case DNSSEC_R_NONE:
		return "none";
	case DNSSEC_R_EXPIRED:
		return "signature expired";
	case DNSSEC_R_NOT_YET_VALID:
		return "signature not yet valid";
	case DNSSEC_R_NO_KEY:
		return "no DNSKEY matches the RRSIG's key tag and algorithm";
	case DNSSEC_R_BAD_SIGNATURE:
		return "signature does not verify";
	case DNSSEC_R_NO_DS_MATCH:
		return "DNSKEY set not matched by any DS";
	case DNSSEC_R_ANCHOR_MISMATCH:
		return "trust anchor does not match";
	case DNSSEC_R_MISSING_RRSIG:
		return "missing RRSIG";
	case DNSSEC_R_UNSUPPORTED_ALGORITHM:
		return "unsupported algorithm";
	case DNSSEC_R_NO_DS_PROOF:
		return "no DS and no proof of its absence";
	case DNSSEC_R_INCOMPLETE:
		return "chain incomplete";
	case DNSSEC_R_NO_ANCHOR:
		return "no trust anchor for the chain";
	}
	return "?";
}
