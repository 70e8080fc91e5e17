/*
 * fuzz_dnssec.c - the DNSSEC chain front end (dnssec_chain_add_reply) and
 * the validator (dnssec_validate) on arbitrary replies, with a fixed trust
 * anchor and a fixed time (2027-01-15) against which the seeds' signatures
 * (2020-2080) are valid.
 *
 * An input is a chain selector byte (bit 0: 0 the chain of
 * _25._tcp.mx.child.test. through child.test. and test., 1 the chain of
 * _25._tcp.mx.unsigned.test. through the unsigned delegation unsigned.test.)
 * then up to 12 replies, each a 2-byte length (big-endian) and the message;
 * a last short one takes what is left.  The seeds (tests/fuzz/corpus/dnssec/,
 * written by tests/fuzz/gen-dnssec-seeds with dnssec_seed.h) are those
 * replies as the unit test renders them, intact and spoiled.
 *
 * Besides no crash, leak or out-of-bounds access, the properties are:
 *   - nothing validates unless its signed parts are the seed zones': the
 *     TLSA RRset, both DNSKEY RRsets, and the DS RRset, record for record
 *     (RDATA; TTLs are not signed), on the signed child's chain only - a
 *     fuzzer cannot forge a signature, so a changed TLSA or DNSKEY that
 *     validates is a validator that does not check;
 *   - insecure only for unsigned.test. with the seed parent's NSEC (or
 *     NSEC3) of it;
 *   - a bogus verdict has a reason and names a zone; every verdict's and
 *     every refused reply's message is one line of printable characters;
 *   - a validating chain's earliest expiry is after the validation time;
 *   - the keys judged once serve each TLSA RRset of a round: the chain
 *     retargeted to its name (dnssec_chain_set_tlsa_name) and given the
 *     replies again, dnssec_validate_keys then dnssec_validate_tlsa give
 *     the verdict dnssec_validate gave.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "../../daemon/dnssec.h"
#include "dnssec_seed.h"
#include "fuzz.h"

#define FUZZ_MAX_LEN 8192
#define NOW ((int64_t)1800000000)
#define FRAMES_MAX 12

static dnssec_anchors *anchors;
static ldns_rr_list *want_tlsa, *want_child_dnskey, *want_parent_dnskey, *want_ds, *want_nsec,
	*want_nsec3;

/* The records of a NULL-terminated list of texts (comments after ';' cut). */
static ldns_rr_list *rrs_of(const char *const *texts)
{
	ldns_rr_list *l = ldns_rr_list_new();

	for (; *texts; texts++) {
		char *t = pf_strdup(*texts), *semi = strchr(t, ';');
		ldns_rr *rr = NULL;

		if (semi)
			*semi = '\0';
		if (ldns_rr_new_frm_str(&rr, t, 0, NULL, NULL) != LDNS_STATUS_OK)
			abort();
		ldns_rr_list_push_rr(l, rr);
		free(t);
	}
	return l;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	pf_err e = {0};

	(void)argc;
	(void)argv;
	if (dnssec_anchors_parse("seed", SEED_ANCHOR, strlen(SEED_ANCHOR), &anchors, &e) < 0)
		abort();
	want_tlsa = rrs_of(seed_tlsa);
	want_child_dnskey = rrs_of(seed_child_dnskey);
	want_parent_dnskey = rrs_of(seed_parent_dnskey);
	want_ds = rrs_of(seed_child_ds);
	want_nsec = rrs_of(seed_unsigned_nsec);
	want_nsec3 = rrs_of(seed_unsigned_nsec3);
	return 0;
}

/* Same type and RDATA (names in it compared without case). */
static bool same_rr(const ldns_rr *a, const ldns_rr *b)
{
	if (ldns_rr_get_type(a) != ldns_rr_get_type(b) ||
	    ldns_rr_rd_count(a) != ldns_rr_rd_count(b))
		return false;
	for (size_t i = 0; i < ldns_rr_rd_count(a); i++) {
		const ldns_rdf *x = ldns_rr_rdf(a, i), *y = ldns_rr_rdf(b, i);

		if (ldns_rdf_get_type(x) == LDNS_RDF_TYPE_DNAME &&
		    ldns_rdf_get_type(y) == LDNS_RDF_TYPE_DNAME) {
			if (ldns_dname_compare(x, y) != 0)
				return false;
		} else if (ldns_rdf_compare(x, y) != 0)
			return false;
	}
	return true;
}

static bool in(const ldns_rr *rr, const ldns_rr_list *l)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++)
		if (same_rr(rr, ldns_rr_list_rr(l, i)))
			return true;
	return false;
}

/* got holds exactly the records of want (as a set). */
static bool same_set(const ldns_rr_list *got, const ldns_rr_list *want)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(got); i++)
		if (!in(ldns_rr_list_rr(got, i), want))
			return false;
	for (size_t i = 0; i < ldns_rr_list_rr_count(want); i++)
		if (!in(ldns_rr_list_rr(want, i), got))
			return false;
	return true;
}

static bool one_printable_line(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* Hand the input's replies (after its selector byte) to the chain. */
static void feed(dnssec_chain *c, const uint8_t *data, size_t size)
{
	size_t pos = 1;
	pf_err e = {0};

	for (int f = 0; f < FRAMES_MAX && pos < size; f++) {
		size_t len = size - pos >= 2 ? (size_t)(data[pos] << 8 | data[pos + 1]) : 0;

		pos += 2;
		if (pos > size)
			break;
		if (len > size - pos)
			len = size - pos;
		pf_err_clear(&e);
		if (dnssec_chain_add_reply(c, data + pos, len, &e) < 0)
			FUZZ_CHECK(one_printable_line(e.msg), "refused reply's message: \"%s\"",
				   e.msg);
		pos += len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const signed_zones[] = {"child.test.", "test."};
	static const char *const unsigned_zones[] = {"unsigned.test.", "test."};
	dnssec_chain *c = NULL;
	dnssec_result res, again;
	const char *tlsa_name;
	pf_err e = {0};
	bool unsig, again_ok;

	if (size < 1)
		return 0;
	unsig = data[0] & 1;
	tlsa_name = unsig ? "_25._tcp.mx.unsigned.test." : "_25._tcp.mx.child.test.";
	if (dnssec_chain_new(tlsa_name, unsig ? unsigned_zones : signed_zones, 2, &c, &e) < 0)
		abort();
	feed(c, data, size);
	dnssec_validate(c, anchors, NOW, &res);
	if (dnssec_chain_set_tlsa_name(c, tlsa_name, &e) < 0)
		abort();
	feed(c, data, size); /* only the TLSA reply is taken again */
	again_ok = dnssec_validate_keys(c, anchors, NOW, &again);
	if (again_ok)
		dnssec_validate_tlsa(c, NOW, &again);
	FUZZ_CHECK(again.verdict == res.verdict && again.reason == res.reason &&
			   strcmp(again.zone, res.zone) == 0 && strcmp(again.msg, res.msg) == 0 &&
			   again.earliest_expiry == res.earliest_expiry,
		   "keys then TLSA: \"%s\", the whole chain: \"%s\"", again.msg, res.msg);
	FUZZ_CHECK(one_printable_line(res.msg), "verdict message not one printable line: \"%s\"",
		   res.msg);
	switch (res.verdict) {
	case DNSSEC_VALIDATES:
		FUZZ_CHECK(!unsig, "the unsigned chain validates: %s", res.msg);
		FUZZ_CHECK(res.reason == DNSSEC_R_NONE, "validates with reason %d", res.reason);
		FUZZ_CHECK(res.earliest_expiry > NOW, "validates with earliest expiry %lld",
			   (long long)res.earliest_expiry);
		FUZZ_CHECK(same_set(c->tlsa, want_tlsa), "validates with another TLSA RRset");
		FUZZ_CHECK(same_set(c->zones[0].dnskey, want_child_dnskey),
			   "validates with another DNSKEY RRset of child.test.");
		FUZZ_CHECK(same_set(c->zones[1].dnskey, want_parent_dnskey),
			   "validates with another DNSKEY RRset of test.");
		FUZZ_CHECK(same_set(c->zones[0].ds, want_ds), "validates with another DS RRset");
		break;
	case DNSSEC_INSECURE:
		FUZZ_CHECK(unsig && strcmp(res.zone, "unsigned.test.") == 0,
			   "insecure at \"%s\" on the %s chain", res.zone,
			   unsig ? "unsigned" : "signed");
		FUZZ_CHECK(res.reason == DNSSEC_R_NONE, "insecure with reason %d", res.reason);
		FUZZ_CHECK(in(ldns_rr_list_rr(want_nsec, 0), c->zones[0].nods) ||
				   in(ldns_rr_list_rr(want_nsec3, 0), c->zones[0].nods),
			   "insecure without the seed's NSEC or NSEC3");
		break;
	case DNSSEC_BOGUS:
		FUZZ_CHECK(res.reason != DNSSEC_R_NONE, "bogus without a reason: %s", res.msg);
		FUZZ_CHECK(res.zone[0] != '\0', "bogus naming no zone: %s", res.msg);
		break;
	default:
		FUZZ_CHECK(false, "verdict %d", (int)res.verdict);
	}
	dnssec_chain_free(c);
	return 0;
}
