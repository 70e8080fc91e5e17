/*
 * test_dnssec.c - DNSSEC validation of a TLSA RRset (dnssec.c,
 * dnssec_chain.c, dnssec_anchor.c) on real zones signed at test time by
 * BIND's dnssec-signzone (tests/lib/dnssec-zones.sh): a parent "test.", a
 * signed child "child.test." holding _25._tcp.mx.child.test. TLSA 3 1 1, and
 * an unsigned delegation "unsigned.test.", once with RSASHA256 and once
 * with ECDSAP256SHA256 keys.  Each case builds the replies a client would
 * receive from the zones (spoiled as the case says), feeds them to the chain
 * front end, and checks the verdict, the reason, the zone it names and the
 * earliest signature expiry.  Then the front end's refusals and the trust
 * anchor file's parser (good files and one error line per bad one).
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../daemon/dnssec.h"
#include "t.h"

/* Signature windows (tests/lib/dnssec-zones.sh START, ends). */
#define START "20260101000000"
#define Y2029 ((int64_t)1861920000) /* 2029-01-01T00:00:00Z */
#define Y2030 ((int64_t)1893456000) /* 2030-01-01T00:00:00Z */
#define NOW ((int64_t)1800000000)   /* 2027-01-15 */
#define LATE ((int64_t)1874966400)  /* 2029-06-01: one zone's signatures expired */
#define EARLY ((int64_t)1748736000) /* 2025-06-01: before every inception */
#define TLSA_NAME "_25._tcp.mx.child.test."

/* The two the cases are about, then every other algorithm validation
 * supports, each checked to validate and to find an altered record. */
enum alg { A_RSA, A_ECDSA, A_P384, A_ED25519, A_ED448, A_RSA512, A_RSA1, NALG };
static const char *const alg_names[NALG] = {"RSASHA256",   "ECDSAP256SHA256", "ECDSAP384SHA384",
					    "ED25519",     "ED448",           "RSASHA512",
					    "NSEC3RSASHA1"};
/* A_RSA: the child's signatures end first; the others: the parent's. */
static const char *const parent_end[NALG] = {"20300101000000", "20290101000000", "20290101000000",
					     "20290101000000", "20290101000000", "20290101000000",
					     "20290101000000"};
static const char *const child_end[NALG] = {"20290101000000", "20300101000000", "20300101000000",
					    "20300101000000", "20300101000000", "20300101000000",
					    "20300101000000"};

struct zones {
	ldns_rr_list *parent, *parent3, *child, *unsigned_child; /* parent3: NSEC3 */
	ldns_rr *spare_child_key;
	char *anchor, *anchor_dnskey, *wrong_anchor; /* file texts */
};
static struct zones zs[NALG];
static char tmp[] = "/tmp/pftls-dnssec.XXXXXX";

static char *slurp(const char *path)
{
	char *text = NULL;
	size_t len;

	if (pf_read_file(path, 1 << 20, &text, &len, NULL) < 0)
		abort();
	return text;
}

/* All the records of a zone file. */
static ldns_rr_list *load_zone(const char *path)
{
	FILE *fp = fopen(path, "r");
	ldns_zone *z = NULL;
	ldns_rr_list *all;

	if (!fp || ldns_zone_new_frm_fp(&z, fp, NULL, 0, LDNS_RR_CLASS_IN) != LDNS_STATUS_OK)
		abort();
	fclose(fp);
	all = ldns_rr_list_clone(ldns_zone_rrs(z));
	ldns_rr_list_push_rr(all, ldns_rr_clone(ldns_zone_soa(z)));
	ldns_zone_deep_free(z);
	return all;
}

/* Sign from start to the ends of the table, or to pend / cend when given. */
static void make_zones(const char *start, const char *pend, const char *cend)
{
	if (!mkdtemp(tmp))
		abort();
	for (int a = 0; a < NALG; a++) {
		char *dir = pf_asprintf("%s/%s", tmp, alg_names[a]);
		char *cmd =
			pf_asprintf("tests/lib/dnssec-zones.sh %s %s %s %s %s", dir, alg_names[a],
				    start, pend ? pend : parent_end[a], cend ? cend : child_end[a]);
		char *p;
		FILE *fp;

		if (system(cmd) != 0) {
			printf("FAIL: %s\n", cmd);
			exit(1);
		}
		p = pf_asprintf("%s/test.signed", dir), zs[a].parent = load_zone(p), free(p);
		p = pf_asprintf("%s/test.nsec3.signed", dir), zs[a].parent3 = load_zone(p), free(p);
		p = pf_asprintf("%s/child.test.signed", dir), zs[a].child = load_zone(p), free(p);
		p = pf_asprintf("%s/unsigned.test.zone", dir), zs[a].unsigned_child = load_zone(p),
		free(p);
		p = pf_asprintf("%s/anchor", dir), zs[a].anchor = slurp(p), free(p);
		p = pf_asprintf("%s/anchor-dnskey", dir), zs[a].anchor_dnskey = slurp(p), free(p);
		p = pf_asprintf("%s/wrong-anchor", dir), zs[a].wrong_anchor = slurp(p), free(p);
		p = pf_asprintf("%s/spare-child.key", dir);
		if (!(fp = fopen(p, "r")) || ldns_rr_new_frm_fp(&zs[a].spare_child_key, fp, NULL,
								NULL, NULL) != LDNS_STATUS_OK)
			abort();
		fclose(fp);
		free(p);
		free(cmd);
		free(dir);
	}
}

/* What a case does to the zones or the replies. */
enum spoil {
	SP_NONE,
	SP_TLSA_RDATA,     /* the TLSA's last octet changed after signing */
	SP_NO_TLSA_SIG,    /* the RRSIG over the TLSA RRset removed */
	SP_NO_DS_SIG,      /* the RRSIG over the child's DS removed */
	SP_SWAP_DNSKEY,    /* the child's KSK replaced by a spare key */
	SP_NO_NSEC,        /* the DS reply for the unsigned child without NSEC */
	SP_NO_NSEC_SIG,    /* ... with the NSEC but without its RRSIG */
	SP_NOISE,          /* every reply carries foreign records too */
	SP_NO_DNSKEY,      /* the child's DNSKEY reply empty */
	SP_TTL,            /* every TTL changed (TTLs are not signed) */
	SP_NSEC3,          /* the parent signed with NSEC3 */
	SP_NSEC3_NO_SIG,   /* ... and the RRSIGs over its NSEC3 records removed */
	SP_NSEC3_NO_NSEC3, /* ... and no NSEC3 in the DS reply */
};

static bool covers(const ldns_rr *rr, ldns_rr_type t)
{
	return ldns_rr_get_type(rr) == LDNS_RR_TYPE_RRSIG &&
	       ldns_rdf2native_int16(ldns_rr_rrsig_typecovered(rr)) == t;
}

static bool owned(const ldns_rr *rr, const char *name)
{
	ldns_rdf *d = ldns_dname_new_frm_str(name);
	bool same = ldns_dname_compare(ldns_rr_owner(rr), d) == 0;

	ldns_rdf_deep_free(d);
	return same;
}

/* A copy of zone as the spoil leaves it. */
static ldns_rr_list *spoiled(const ldns_rr_list *zone, enum spoil sp, const ldns_rr *spare)
{
	ldns_rr_list *out = ldns_rr_list_new();

	for (size_t i = 0; i < ldns_rr_list_rr_count(zone); i++) {
		ldns_rr *rr = ldns_rr_clone(ldns_rr_list_rr(zone, i));

		if ((sp == SP_NO_TLSA_SIG && covers(rr, LDNS_RR_TYPE_TLSA)) ||
		    (sp == SP_NO_DS_SIG && covers(rr, LDNS_RR_TYPE_DS)) ||
		    (sp == SP_NO_NSEC_SIG && covers(rr, LDNS_RR_TYPE_NSEC)) ||
		    (sp == SP_NSEC3_NO_SIG && covers(rr, LDNS_RR_TYPE_NSEC3))) {
			ldns_rr_free(rr);
			continue;
		}
		if (sp == SP_TTL)
			ldns_rr_set_ttl(rr, 5);
		if (sp == SP_TLSA_RDATA && ldns_rr_get_type(rr) == LDNS_RR_TYPE_TLSA) {
			ldns_rdf *d = ldns_rr_rdf(rr, 3);

			ldns_rdf_data(d)[ldns_rdf_size(d) - 1] ^= 1;
		}
		if (sp == SP_SWAP_DNSKEY && spare && ldns_rr_get_type(rr) == LDNS_RR_TYPE_DNSKEY &&
		    ldns_rdf2native_int16(ldns_rr_rdf(rr, 0)) == 257) {
			ldns_rr_free(rr);
			rr = ldns_rr_clone(spare);
		}
		ldns_rr_list_push_rr(out, rr);
	}
	return out;
}

/* A reply from zone to (qname, qtype), in wire format: the RRset and its
 * RRSIGs in the answer; for an empty answer the NSEC of qname, every NSEC3
 * of the zone (the front end picks the one matching) and their RRSIGs, and
 * the SOA in the authority section (unless no_nsec). */
static uint8_t *reply(const ldns_rr_list *zone, const char *qname, ldns_rr_type qt, bool no_nsec,
		      bool noise, size_t *len)
{
	ldns_pkt *p = ldns_pkt_query_new(ldns_dname_new_frm_str(qname), qt, LDNS_RR_CLASS_IN, 0);
	uint8_t *wire = NULL;
	size_t answers = 0;

	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_aa(p, true);
	for (size_t i = 0; i < ldns_rr_list_rr_count(zone); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(zone, i);

		if (owned(rr, qname) && (ldns_rr_get_type(rr) == qt || covers(rr, qt))) {
			ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, ldns_rr_clone(rr));
			answers++;
		}
	}
	for (size_t i = 0; answers == 0 && i < ldns_rr_list_rr_count(zone); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(zone, i);

		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA ||
		    (!no_nsec && owned(rr, qname) &&
		     (ldns_rr_get_type(rr) == LDNS_RR_TYPE_NSEC ||
		      covers(rr, LDNS_RR_TYPE_NSEC))) ||
		    (!no_nsec && (ldns_rr_get_type(rr) == LDNS_RR_TYPE_NSEC3 ||
				  covers(rr, LDNS_RR_TYPE_NSEC3))))
			ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY, ldns_rr_clone(rr));
	}
	if (noise) {
		/* Of the question's type but another owner or class, and every
		 * key of the zone under the question's name (another zone's). */
		for (size_t i = 0; i < ldns_rr_list_rr_count(zone); i++) {
			const ldns_rr *rr = ldns_rr_list_rr(zone, i);
			ldns_rr *c;

			if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_DNSKEY ||
			    ldns_rr_get_type(rr) == LDNS_RR_TYPE_TLSA) {
				c = ldns_rr_clone(rr);
				ldns_rdf_deep_free(ldns_rr_owner(c));
				ldns_rr_set_owner(c, ldns_dname_new_frm_str("evil.test."));
				ldns_rr_set_type(c, qt);
				ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, c);
				c = ldns_rr_clone(rr);
				ldns_rdf_deep_free(ldns_rr_owner(c));
				ldns_rr_set_owner(c, ldns_dname_new_frm_str(qname));
				ldns_rr_set_class(c, LDNS_RR_CLASS_CH);
				ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, c);
			}
		}
	}
	if (ldns_pkt2wire(&wire, p, len) != LDNS_STATUS_OK)
		abort();
	ldns_pkt_free(p);
	return wire;
}

static int feed(dnssec_chain *c, const ldns_rr_list *zone, const char *qname, ldns_rr_type qt,
		bool no_nsec, bool noise)
{
	size_t len;
	uint8_t *w = reply(zone, qname, qt, no_nsec, noise, &len);
	pf_err e = {0};
	int r = dnssec_chain_add_reply(c, w, len, &e);

	free(w);
	if (r < 0)
		printf("# add_reply %s: %s\n", qname, e.msg);
	return r;
}

enum anchor_kind { AN_DS, AN_DNSKEY, AN_WRONG, AN_ROOT };

static const struct vcase {
	const char *name;
	enum alg alg;
	bool unsigned_child;
	enum anchor_kind anchor;
	enum spoil spoil;
	int64_t now;
	enum dnssec_verdict want;
	enum dnssec_reason reason;
	const char *zone;
	int64_t expiry; /* -1: not checked */
} vcases[] = {
	{"RSASHA256 zones validate (child expires first)", A_RSA, false, AN_DS, SP_NONE, NOW,
	 DNSSEC_VALIDATES, DNSSEC_R_NONE, "", Y2029},
	{"ECDSAP256SHA256 zones validate (parent expires first)", A_ECDSA, false, AN_DS, SP_NONE,
	 NOW, DNSSEC_VALIDATES, DNSSEC_R_NONE, "", Y2029},
	{"DNSKEY trust anchor", A_RSA, false, AN_DNSKEY, SP_NONE, NOW, DNSSEC_VALIDATES,
	 DNSSEC_R_NONE, "", Y2029},
	{"foreign records in every reply are ignored", A_ECDSA, false, AN_DS, SP_NOISE, NOW,
	 DNSSEC_VALIDATES, DNSSEC_R_NONE, "", Y2029},
	{"TTLs changed in transit", A_RSA, false, AN_DS, SP_TTL, NOW, DNSSEC_VALIDATES,
	 DNSSEC_R_NONE, "", Y2029},
	{"wrong trust anchor", A_RSA, false, AN_WRONG, SP_NONE, NOW, DNSSEC_BOGUS,
	 DNSSEC_R_ANCHOR_MISMATCH, "test.", 0},
	{"wrong trust anchor, ECDSA", A_ECDSA, false, AN_WRONG, SP_NONE, NOW, DNSSEC_BOGUS,
	 DNSSEC_R_ANCHOR_MISMATCH, "test.", 0},
	{"no anchor for the chain (root's only)", A_RSA, false, AN_ROOT, SP_NONE, NOW, DNSSEC_BOGUS,
	 DNSSEC_R_NO_ANCHOR, "test.", 0},
	{"child's signatures expired", A_RSA, false, AN_DS, SP_NONE, LATE, DNSSEC_BOGUS,
	 DNSSEC_R_EXPIRED, "child.test.", -1},
	{"parent's signatures expired", A_ECDSA, false, AN_DS, SP_NONE, LATE, DNSSEC_BOGUS,
	 DNSSEC_R_EXPIRED, "test.", 0},
	{"signatures not yet valid", A_RSA, false, AN_DS, SP_NONE, EARLY, DNSSEC_BOGUS,
	 DNSSEC_R_NOT_YET_VALID, "test.", 0},
	{"signatures not yet valid, ECDSA", A_ECDSA, false, AN_DS, SP_NONE, EARLY, DNSSEC_BOGUS,
	 DNSSEC_R_NOT_YET_VALID, "test.", 0},
	{"TLSA RDATA altered after signing", A_RSA, false, AN_DS, SP_TLSA_RDATA, NOW, DNSSEC_BOGUS,
	 DNSSEC_R_BAD_SIGNATURE, "child.test.", Y2029},
	{"TLSA RDATA altered after signing, ECDSA", A_ECDSA, false, AN_DS, SP_TLSA_RDATA, NOW,
	 DNSSEC_BOGUS, DNSSEC_R_BAD_SIGNATURE, "child.test.", Y2029},
	{"TLSA RRSIG removed", A_RSA, false, AN_DS, SP_NO_TLSA_SIG, NOW, DNSSEC_BOGUS,
	 DNSSEC_R_MISSING_RRSIG, "child.test.", -1},
	{"DS RRSIG removed", A_ECDSA, false, AN_DS, SP_NO_DS_SIG, NOW, DNSSEC_BOGUS,
	 DNSSEC_R_MISSING_RRSIG, "test.", -1},
	{"child's KSK swapped for another key", A_RSA, false, AN_DS, SP_SWAP_DNSKEY, NOW,
	 DNSSEC_BOGUS, DNSSEC_R_NO_DS_MATCH, "child.test.", -1},
	{"child's KSK swapped, ECDSA", A_ECDSA, false, AN_DS, SP_SWAP_DNSKEY, NOW, DNSSEC_BOGUS,
	 DNSSEC_R_NO_DS_MATCH, "child.test.", -1},
	{"child's DNSKEY reply empty", A_RSA, false, AN_DS, SP_NO_DNSKEY, NOW, DNSSEC_BOGUS,
	 DNSSEC_R_INCOMPLETE, "child.test.", -1},
	{"unsigned delegation with signed NSEC", A_RSA, true, AN_DS, SP_NONE, NOW, DNSSEC_INSECURE,
	 DNSSEC_R_NONE, "unsigned.test.", Y2030},
	{"unsigned delegation with signed NSEC, ECDSA", A_ECDSA, true, AN_DS, SP_NONE, NOW,
	 DNSSEC_INSECURE, DNSSEC_R_NONE, "unsigned.test.", Y2029},
	{"unsigned delegation without NSEC", A_RSA, true, AN_DS, SP_NO_NSEC, NOW, DNSSEC_BOGUS,
	 DNSSEC_R_NO_DS_PROOF, "unsigned.test.", -1},
	{"unsigned delegation, NSEC without RRSIG", A_ECDSA, true, AN_DS, SP_NO_NSEC_SIG, NOW,
	 DNSSEC_BOGUS, DNSSEC_R_MISSING_RRSIG, "test.", -1},
	{"unsigned delegation, NSEC signature expired", A_RSA, true, AN_DS, SP_NONE, Y2030 + 10,
	 DNSSEC_BOGUS, DNSSEC_R_EXPIRED, "test.", -1},
	{"NSEC3 parent, signed child validates", A_ECDSA, false, AN_DS, SP_NSEC3, NOW,
	 DNSSEC_VALIDATES, DNSSEC_R_NONE, "", Y2029},
	{"unsigned delegation with signed NSEC3", A_RSA, true, AN_DS, SP_NSEC3, NOW,
	 DNSSEC_INSECURE, DNSSEC_R_NONE, "unsigned.test.", Y2030},
	{"unsigned delegation with signed NSEC3, ECDSA", A_ECDSA, true, AN_DS, SP_NSEC3, NOW,
	 DNSSEC_INSECURE, DNSSEC_R_NONE, "unsigned.test.", Y2029},
	{"unsigned delegation, NSEC3 without RRSIG", A_ECDSA, true, AN_DS, SP_NSEC3_NO_SIG, NOW,
	 DNSSEC_BOGUS, DNSSEC_R_MISSING_RRSIG, "test.", -1},
	{"unsigned delegation in an NSEC3 zone without NSEC3", A_RSA, true, AN_DS,
	 SP_NSEC3_NO_NSEC3, NOW, DNSSEC_BOGUS, DNSSEC_R_NO_DS_PROOF, "unsigned.test.", -1},
#define ALG_CASES(a, label)                                                                        \
	{label " zones validate", a,  false, AN_DS, SP_NONE, NOW, DNSSEC_VALIDATES,                \
	 DNSSEC_R_NONE,           "", Y2029},                                                      \
		{"TLSA RDATA altered after signing, " label,                                       \
		 a,                                                                                \
		 false,                                                                            \
		 AN_DS,                                                                            \
		 SP_TLSA_RDATA,                                                                    \
		 NOW,                                                                              \
		 DNSSEC_BOGUS,                                                                     \
		 DNSSEC_R_BAD_SIGNATURE,                                                           \
		 "child.test.",                                                                    \
		 Y2029},                                                                           \
	{                                                                                          \
		"unsigned delegation with signed NSEC3, " label, a, true, AN_DS, SP_NSEC3, NOW,    \
			DNSSEC_INSECURE, DNSSEC_R_NONE, "unsigned.test.", Y2029                    \
	}
	ALG_CASES(A_P384, "ECDSAP384SHA384"),
	ALG_CASES(A_ED25519, "ED25519"),
	ALG_CASES(A_ED448, "ED448"),
	ALG_CASES(A_RSA512, "RSASHA512"),
	ALG_CASES(A_RSA1, "NSEC3RSASHA1"),
#undef ALG_CASES
};

static bool printable_line(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static void run_case(const struct vcase *vc)
{
	const struct zones *z = &zs[vc->alg];
	const char *child = vc->unsigned_child ? "unsigned.test." : "child.test.";
	const char *tname = vc->unsigned_child ? "_25._tcp.mx.unsigned.test." : TLSA_NAME;
	const char *names[] = {child, "test."};
	bool nsec3 = vc->spoil >= SP_NSEC3;
	ldns_rr_list *p = spoiled(nsec3 ? z->parent3 : z->parent, vc->spoil, NULL);
	ldns_rr_list *c = spoiled(vc->unsigned_child ? z->unsigned_child : z->child, vc->spoil,
				  z->spare_child_key);
	const char *atext =
		vc->anchor == AN_DS       ? z->anchor
		: vc->anchor == AN_DNSKEY ? z->anchor_dnskey
		: vc->anchor == AN_WRONG
			? z->wrong_anchor
			: ". IN DS 20326 8 2 "
			  "E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n";
	dnssec_anchors *a = NULL;
	dnssec_chain *ch = NULL;
	dnssec_result res;
	pf_err e = {0};
	bool noise = vc->spoil == SP_NOISE;
	int fed = 0;

	if (dnssec_anchors_parse("anchor", atext, strlen(atext), &a, &e) < 0 ||
	    dnssec_chain_new(tname, names, 2, &ch, &e) < 0) {
		T_CHECK(false, "%s: setup: %s", vc->name, e.msg);
		goto out;
	}
	fed |= feed(ch, c, tname, LDNS_RR_TYPE_TLSA, false, noise);
	if (vc->spoil == SP_NO_DNSKEY) {
		ldns_rr_list *none = ldns_rr_list_new();

		fed |= feed(ch, none, child, LDNS_RR_TYPE_DNSKEY, false, false);
		ldns_rr_list_free(none);
	} else
		fed |= feed(ch, c, child, LDNS_RR_TYPE_DNSKEY, false, noise);
	fed |= feed(ch, p, child, LDNS_RR_TYPE_DS,
		    vc->spoil == SP_NO_NSEC || vc->spoil == SP_NSEC3_NO_NSEC3, noise);
	fed |= feed(ch, p, "test.", LDNS_RR_TYPE_DNSKEY, false, noise);
	T_CHECK(fed == 0, "%s: every reply taken", vc->name);
	dnssec_validate(ch, a, vc->now, &res);
	T_CHECK(res.verdict == vc->want && res.reason == vc->reason && t_streq(res.zone, vc->zone),
		"%s: %s, %s, at \"%s\" (got %s, %s, at \"%s\": %s)", vc->name,
		dnssec_verdict_name(vc->want), dnssec_reason_name(vc->reason), vc->zone,
		dnssec_verdict_name(res.verdict), dnssec_reason_name(res.reason), res.zone,
		res.msg);
	T_CHECK(printable_line(res.msg), "%s: one printable line: %s", vc->name, res.msg);
	if (vc->expiry >= 0)
		T_CHECK(res.earliest_expiry == vc->expiry, "%s: earliest expiry %lld (got %lld)",
			vc->name, (long long)vc->expiry, (long long)res.earliest_expiry);

	/* A round validates each RRset a server serves along one chain: the
	 * keys judged once, the TLSA name changed for each RRset.  The same
	 * verdict comes out; a name outside the zone is refused. */
	T_CHECK(dnssec_chain_set_tlsa_name(ch, "_25._tcp.mx.other.test.", &e) == -EINVAL &&
			ch->have_tlsa,
		"%s: a TLSA name outside the chain's zone: -EINVAL, chain unchanged", vc->name);
	T_CHECK(dnssec_chain_set_tlsa_name(ch, tname, &e) == 0 && !ch->have_tlsa &&
			ldns_rr_list_rr_count(ch->tlsa) == 0,
		"%s: another TLSA name: the TLSA RRset taken is dropped", vc->name);
	if (!vc->unsigned_child && vc->want == DNSSEC_VALIDATES) {
		dnssec_result none;

		dnssec_validate(ch, a, vc->now, &none);
		T_CHECK(none.verdict == DNSSEC_BOGUS && none.reason == DNSSEC_R_INCOMPLETE,
			"%s: no TLSA reply for the new name: bogus, incomplete (%s)", vc->name,
			none.msg);
	}
	feed(ch, c, tname, LDNS_RR_TYPE_TLSA, false, noise);
	{
		dnssec_result again;
		bool secure = dnssec_validate_keys(ch, a, vc->now, &again);

		if (secure)
			dnssec_validate_tlsa(ch, vc->now, &again);
		T_CHECK(again.verdict == res.verdict && again.reason == res.reason &&
				t_streq(again.zone, res.zone) && t_streq(again.msg, res.msg) &&
				again.earliest_expiry == res.earliest_expiry,
			"%s: keys judged, then the TLSA RRset: the same verdict (%s)", vc->name,
			again.msg);
	}
out:
	dnssec_chain_free(ch);
	dnssec_anchors_free(a);
	ldns_rr_list_deep_free(p);
	ldns_rr_list_deep_free(c);
}

/* The chain of TLSA_NAME fed the child's TLSA and DNSKEY replies from zone. */
static dnssec_chain *child_chain(const ldns_rr_list *zone)
{
	const char *names[] = {"child.test.", "test."};
	dnssec_chain *ch = NULL;
	pf_err e = {0};

	if (dnssec_chain_new(TLSA_NAME, names, 2, &ch, &e) < 0)
		return NULL;
	feed(ch, zone, TLSA_NAME, LDNS_RR_TYPE_TLSA, false, false);
	feed(ch, zone, "child.test.", LDNS_RR_TYPE_DNSKEY, false, false);
	return ch;
}

static bool same_form(const dnssec_chain *a, const dnssec_chain *b)
{
	size_t la = 0, lb = 0;
	uint8_t *fa = dnssec_chain_tlsa_form(a, &la), *fb = dnssec_chain_tlsa_form(b, &lb);
	bool same = fa && fb && la == lb && memcmp(fa, fb, la) == 0;

	free(fa);
	free(fb);
	return same;
}

/* What a round compares before it reuses one server's TLSA verdict for
 * another's: the same records in another order are the same; another
 * TLSA, DNSKEY or TTL is not. */
static void test_tlsa_form(void)
{
	const struct zones *z = &zs[A_ECDSA];
	ldns_rr_list *rev = ldns_rr_list_new(), *rdata = spoiled(z->child, SP_TLSA_RDATA, NULL);
	ldns_rr_list *key = spoiled(z->child, SP_SWAP_DNSKEY, z->spare_child_key);
	ldns_rr_list *ttl = spoiled(z->child, SP_TTL, NULL);
	size_t n = ldns_rr_list_rr_count(z->child), tlsa = 0, keys = 0;

	for (size_t i = n; i > 0; i--) {
		const ldns_rr *rr = ldns_rr_list_rr(z->child, i - 1);

		tlsa += ldns_rr_get_type(rr) == LDNS_RR_TYPE_TLSA;
		keys += ldns_rr_get_type(rr) == LDNS_RR_TYPE_DNSKEY;
		ldns_rr_list_push_rr(rev, ldns_rr_clone(rr));
	}
	dnssec_chain *a = child_chain(z->child), *b = child_chain(rev), *c = child_chain(rdata),
		     *d = child_chain(key), *f = child_chain(ttl);

	T_CHECK(a && b && c && d && f, "chains made");
	if (a && b && c && d && f) {
		T_CHECK(tlsa >= 1 && keys >= 2 && same_form(a, b),
			"the same %zu TLSA record(s) and %zu DNSKEYs (with their RRSIGs) in the "
			"reverse order: the same form",
			tlsa, keys);
		T_CHECK(!same_form(a, c), "one TLSA octet changed: another form");
		T_CHECK(!same_form(a, d), "another DNSKEY: another form");
		T_CHECK(!same_form(a, f), "other TTLs: another form");
	}
	dnssec_chain_free(a);
	dnssec_chain_free(b);
	dnssec_chain_free(c);
	dnssec_chain_free(d);
	dnssec_chain_free(f);
	ldns_rr_list_deep_free(rev);
	ldns_rr_list_deep_free(rdata);
	ldns_rr_list_deep_free(key);
	ldns_rr_list_deep_free(ttl);
}

/* The front end's refusals, on replies made from the RSA zones. */
static void test_front_end(void)
{
	const char *names[] = {"child.test.", "test."};
	dnssec_chain *ch = NULL;
	pf_err e = {0};
	uint8_t *w;
	size_t len;
	int r;

	T_CHECK(dnssec_chain_new(TLSA_NAME, names, 2, &ch, &e) == 0, "chain made");
	w = reply(zs[A_RSA].child, TLSA_NAME, LDNS_RR_TYPE_TLSA, false, false, &len);
	T_CHECK(dnssec_chain_add_reply(ch, w, len, &e) == 0, "TLSA reply taken");
	T_CHECK(dnssec_chain_add_reply(ch, w, len, &e) == -EEXIST,
		"the same question twice: -EEXIST");
	w[2] &= 0x7f;
	T_CHECK(dnssec_chain_add_reply(ch, w, len, &e) == -EINVAL, "QR clear: -EINVAL (%s)", e.msg);
	w[2] |= 0x80 | 0x02;
	T_CHECK(dnssec_chain_add_reply(ch, w, len, &e) == -EMSGSIZE, "truncated: -EMSGSIZE");
	T_CHECK(dnssec_chain_add_reply(ch, w, 7, &e) == -EINVAL, "7 bytes: -EINVAL");
	free(w);
	w = reply(zs[A_RSA].child, "mx.child.test.", LDNS_RR_TYPE_A, false, false, &len);
	T_CHECK(dnssec_chain_add_reply(ch, w, len, &e) == -EINVAL,
		"a question the chain does not ask: -EINVAL (%s)", e.msg);
	free(w);
	w = reply(zs[A_RSA].parent, "test.", LDNS_RR_TYPE_DS, false, false, &len);
	T_CHECK(dnssec_chain_add_reply(ch, w, len, &e) == -EINVAL,
		"DS of the anchor's zone is not asked: -EINVAL");
	free(w);
	ch = dnssec_chain_free(ch);

	/* 33 TLSA records: over the bound. */
	ldns_rr_list *big = ldns_rr_list_new();
	for (int i = 0; i < DNSSEC_RRSET_MAX + 1; i++) {
		ldns_rr *rr = NULL;
		char *s = pf_asprintf(TLSA_NAME " 3600 IN TLSA 3 1 1 %064x", i);

		if (ldns_rr_new_frm_str(&rr, s, 0, NULL, NULL) != LDNS_STATUS_OK)
			abort();
		ldns_rr_list_push_rr(big, rr);
		free(s);
	}
	dnssec_chain_new(TLSA_NAME, names, 2, &ch, &e);
	w = reply(big, TLSA_NAME, LDNS_RR_TYPE_TLSA, false, false, &len);
	r = dnssec_chain_add_reply(ch, w, len, &e);
	T_CHECK(r == -EMSGSIZE && ldns_rr_list_rr_count(ch->tlsa) == 0 && !ch->have_tlsa,
		"33 TLSA records: -EMSGSIZE, nothing kept (%d)", r);
	free(w);
	ldns_rr_list_deep_free(big);
	ch = dnssec_chain_free(ch);

	const char *bad[][2] = {{"other.test.", "test."},
				{"child.test.", "other.test."},
				{"child.test.", "child.test."},
				{"child.test.", "not a name.."}};
	for (size_t i = 0; i < 4; i++) {
		T_CHECK(dnssec_chain_new(TLSA_NAME, bad[i], 2, &ch, &e) == -EINVAL && !ch,
			"zones that do not nest (%s, %s): -EINVAL (%s)", bad[i][0], bad[i][1],
			e.msg);
		ch = dnssec_chain_free(ch);
	}
}

static const struct acase {
	const char *name;
	const char *text;
	int want;     /* 0 or -EINVAL */
	size_t count; /* anchors for the zone */
	const char *zone;
	const char *msg; /* the start of the error */
} acases[] = {
	{"one DS",
	 "test. 3600 IN DS 24707 8 2 "
	 "618A1E3751BB772727D41CB3571B48BEC7C522739DA2D0C75650A45AEB5F4C1D\n",
	 0, 1, "test.", NULL},
	{"directives, comments, parentheses",
	 "$TTL 100\n$ORIGIN test.\n; a comment\n\n@ IN DS 24707 8 2 (\n  "
	 "618A1E3751BB772727D41CB3571B48BE\n"
	 "  C7C522739DA2D0C75650A45AEB5F4C1D ) ; tag\nchild IN DS 1 8 2 "
	 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
	 0, 1, "child.test.", NULL},
	{"DNSKEY",
	 ". IN DNSKEY 257 3 8 "
	 "AwEAAaz/tAm8yTn4Mfeh5eyI96WSVexTBAvkMgJzkKTOiW1vkIbzxeF3+/"
	 "4RgWOq7HrxRixHlFlExOLAJr5emLvN7SWXgnLh4+"
	 "B5xQlNVz8Og8kvArMtNROxVQuCaSnIDdD5LKyWbRd2n9WGe2R8PzgCmr3EgVLrjyBxWezF0jLHwVN8efS3rCj/"
	 "EWgvIWgb9tarpVUDK/b58Da+sqqls3eNbuv7pr+eoZG+SrDK6nWeL3c6H5Apxz7LjVc1uTIdsIXxuOLYA4/"
	 "ilBmSVIzuDWfdRUfhHdY6+cn8HFRm+2hM8AnXGXws9555KrUB5qihylGa8subX2Nn6UwNR1AkUTV74bU= ; "
	 "keytag 20326\n",
	 0, 1, ".", NULL},
	{"empty", "", -EINVAL, 0, NULL, "f:1: no trust anchor"},
	{"comments only", "; nothing\n\n", -EINVAL, 0, NULL, "f:"},
	{"an A record on line 2",
	 "test. IN DS 24707 8 2 618A1E3751BB772727D41CB3571B48BEC7C522739DA2D0C75650A45AEB5F4C1D\n"
	 "test. IN A 192.0.2.1\n",
	 -EINVAL, 0, NULL, "f:2: a trust anchor is a DS or DNSKEY record"},
	{"garbage on line 3", "; c\n\nthis is not a record at all\n", -EINVAL, 0, NULL, "f:3: "},
	{"class CH",
	 "test. CH DS 24707 8 2 618A1E3751BB772727D41CB3571B48BEC7C522739DA2D0C75650A45AEB5F4C1D\n",
	 -EINVAL, 0, NULL, "f:1: a trust anchor must be of class IN"},
	{"DNSKEY not a zone key",
	 ". IN DNSKEY 0 3 8 AwEAAaz/tAm8yTn4Mfeh5eyI96WSVexTBAvkMgJzkKTOiW1vkIbzxeF3\n", -EINVAL, 0,
	 NULL, "f:1: a DNSKEY trust anchor must be a zone key"},
	{"NUL byte", "test. IN DS 1 8 2 00\0\n", -EINVAL, 0, NULL, "f:1: NUL byte"},
};

static void test_anchors(void)
{
	for (size_t i = 0; i < sizeof(acases) / sizeof(acases[0]); i++) {
		const struct acase *ac = &acases[i];
		size_t len = strlen(ac->text);
		dnssec_anchors *a = NULL;
		pf_err e = {0};
		int r;

		if (strstr(ac->name, "NUL"))
			len += 2;
		r = dnssec_anchors_parse("f", ac->text, len, &a, &e);
		if (ac->want == 0) {
			ldns_rdf *z = ldns_dname_new_frm_str(ac->zone);

			T_CHECK(r == 0 && a && dnssec_anchors_count_for(a, z) == ac->count,
				"anchors: %s: %zu for %s (%s)", ac->name, ac->count, ac->zone,
				e.msg);
			ldns_rdf_deep_free(z);
		} else
			T_CHECK(r == ac->want && !a &&
					strncmp(e.msg, ac->msg, strlen(ac->msg)) == 0 &&
					printable_line(e.msg),
				"anchors: %s: \"%s...\" (got %d \"%s\")", ac->name, ac->msg, r,
				e.msg);
		dnssec_anchors_free(a);
	}

	/* Over the bounds: a long line, too many records. */
	char *longline = pf_malloc(DNSSEC_ANCHOR_LINE_MAX + 100);
	memset(longline, ' ', DNSSEC_ANCHOR_LINE_MAX + 99);
	memcpy(longline, "; c\n", 4);
	longline[DNSSEC_ANCHOR_LINE_MAX + 99] = '\0';
	dnssec_anchors *a = NULL;
	pf_err e = {0};
	T_CHECK(dnssec_anchors_parse("f", longline, strlen(longline), &a, &e) == -EINVAL && !a &&
			strncmp(e.msg, "f:2: line longer", 16) == 0,
		"anchors: over-long line 2 (%s)", e.msg);
	free(longline);
	pf_strv lines = {0};
	for (int i = 0; i < DNSSEC_ANCHORS_MAX + 1; i++)
		pf_strv_push_owned(&lines, pf_asprintf("test. IN DS %d 8 2 %064x", i, i));
	char *many = pf_strv_join(&lines, "\n");
	T_CHECK(dnssec_anchors_parse("f", many, strlen(many), &a, &e) == -EINVAL && !a &&
			strncmp(e.msg, "f:65: more than 64", 18) == 0,
		"anchors: 65 records refused at line 65 (%s)", e.msg);
	free(many);
	pf_strv_clear(&lines);

	/* The system's root anchors (dns-root-data). */
	if (access("/usr/share/dns/root.key", R_OK) == 0) {
		ldns_rdf *root = ldns_dname_new_frm_str(".");

		T_CHECK(dnssec_anchors_load("/usr/share/dns/root.key", &a, &e) == 0 &&
				dnssec_anchors_count_for(a, root) >= 1,
			"anchors: /usr/share/dns/root.key loads (%s)", e.msg);
		a = dnssec_anchors_free(a);
		T_CHECK(dnssec_anchors_load("/usr/share/dns/root.ds", &a, &e) == 0 &&
				dnssec_anchors_count_for(a, root) >= 1,
			"anchors: /usr/share/dns/root.ds loads (%s)", e.msg);
		a = dnssec_anchors_free(a);
		ldns_rdf_deep_free(root);
	}
	T_CHECK(dnssec_anchors_load("/nonexistent/anchor", &a, &e) < 0 && !a,
		"anchors: a missing file fails (%s)", e.msg);
}

/* --- Seeds for tests/fuzz/fuzz_dnssec.c (tests/fuzz/gen-dnssec-seeds) ---
 *
 * With PFTLS_DNSSEC_SEED_DIR and PFTLS_DNSSEC_SEED_HEADER set, this program
 * only writes the fuzz harness's seeds: ECDSA zones signed 2020-2080, and an
 * input per file: a chain selector byte (0 the signed child, 1 the unsigned
 * one) and the replies, each a 2-byte length and the message; the header
 * gets the anchor and the records the harness compares a validating chain
 * with. */

/* One line of an RR's text, into a C string literal's body. */
static void put_rr_literal(FILE *fp, const ldns_rr *rr)
{
	char *t = ldns_rr2str(rr);

	fputc('"', fp);
	for (char *c = t; *c && *c != '\n'; c++)
		fputc(*c == '\t' ? ' ' : *c, fp);
	fputc('"', fp);
	free(t);
}

static void put_frame(FILE *fp, const uint8_t *w, size_t len)
{
	fputc((int)(len >> 8), fp);
	fputc((int)(len & 0xff), fp);
	fwrite(w, 1, len, fp);
}

struct seed {
	const char *file;
	bool unsigned_child;
	enum spoil spoil;
	bool twice;   /* the TLSA reply a second time at the end */
	bool reverse; /* the replies in the reverse order */
};

static const struct seed seeds[] = {
	{"validates", false, SP_NONE, false, false},
	{"validates-reversed", false, SP_NONE, false, true},
	{"validates-noise", false, SP_NOISE, false, false},
	{"validates-tlsa-twice", false, SP_NONE, true, false},
	{"insecure-unsigned-child", true, SP_NONE, false, false},
	{"bogus-tlsa-altered", false, SP_TLSA_RDATA, false, false},
	{"bogus-no-tlsa-rrsig", false, SP_NO_TLSA_SIG, false, false},
	{"bogus-no-ds-rrsig", false, SP_NO_DS_SIG, false, false},
	{"bogus-dnskey-swapped", false, SP_SWAP_DNSKEY, false, false},
	{"bogus-no-nsec", true, SP_NO_NSEC, false, false},
	{"bogus-nsec-without-rrsig", true, SP_NO_NSEC_SIG, false, false},
	{"validates-nsec3-parent", false, SP_NSEC3, false, false},
	{"insecure-nsec3", true, SP_NSEC3, false, false},
	{"bogus-nsec3-without-rrsig", true, SP_NSEC3_NO_SIG, false, false},
};

static void put_seed(const char *dir, const struct zones *z, const struct seed *sd)
{
	const char *child = sd->unsigned_child ? "unsigned.test." : "child.test.";
	const char *tname = sd->unsigned_child ? "_25._tcp.mx.unsigned.test." : TLSA_NAME;
	ldns_rr_list *p = spoiled(sd->spoil >= SP_NSEC3 ? z->parent3 : z->parent, sd->spoil, NULL);
	ldns_rr_list *c = spoiled(sd->unsigned_child ? z->unsigned_child : z->child, sd->spoil,
				  z->spare_child_key);
	bool noise = sd->spoil == SP_NOISE;
	struct {
		const ldns_rr_list *zone;
		const char *q;
		ldns_rr_type t;
	} fr[] = {{c, tname, LDNS_RR_TYPE_TLSA},
		  {c, child, LDNS_RR_TYPE_DNSKEY},
		  {p, child, LDNS_RR_TYPE_DS},
		  {p, "test.", LDNS_RR_TYPE_DNSKEY}};
	char *path = pf_asprintf("%s/%s", dir, sd->file);
	FILE *fp = fopen(path, "w");

	if (!fp)
		abort();
	fputc(sd->unsigned_child ? 1 : 0, fp);
	for (size_t k = 0; k < (sd->twice ? 5u : 4u); k++) {
		size_t i = k == 4 ? 0 : sd->reverse ? 3 - k : k, len;
		uint8_t *w =
			reply(fr[i].zone, fr[i].q, fr[i].t, sd->spoil == SP_NO_NSEC, noise, &len);

		put_frame(fp, w, len);
		free(w);
	}
	fclose(fp);
	free(path);
	ldns_rr_list_deep_free(p);
	ldns_rr_list_deep_free(c);
}

/* Write every record of zone of type t owned by owner as literals. */
static void put_rrs(FILE *fp, const char *var, const ldns_rr_list *zone, const char *owner,
		    ldns_rr_type t)
{
	fprintf(fp, "static const char *const %s[] = {\n", var);
	for (size_t i = 0; i < ldns_rr_list_rr_count(zone); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(zone, i);

		if (ldns_rr_get_type(rr) == t && owned(rr, owner)) {
			fputc('\t', fp);
			put_rr_literal(fp, rr);
			fputs(",\n", fp);
		}
	}
	fputs("\tNULL,\n};\n", fp);
}

static int write_seeds(const char *dir, const char *header)
{
	const struct zones *z = &zs[A_ECDSA];
	FILE *fp;

	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		put_seed(dir, z, &seeds[i]);
	if (!(fp = fopen(header, "w")))
		abort();
	fputs("/*\n * dnssec_seed.h - written by tests/fuzz/gen-dnssec-seeds with the seeds of\n"
	      " * tests/fuzz/corpus/dnssec/ (regenerate both together): the trust anchor of\n"
	      " * the seeds' zones and the signed records a validating chain must hold.\n */\n",
	      fp);
	fprintf(fp, "#define SEED_ANCHOR \"%s\"\n", strtok(z->anchor, "\n"));
	put_rrs(fp, "seed_tlsa", z->child, TLSA_NAME, LDNS_RR_TYPE_TLSA);
	put_rrs(fp, "seed_child_dnskey", z->child, "child.test.", LDNS_RR_TYPE_DNSKEY);
	put_rrs(fp, "seed_parent_dnskey", z->parent, "test.", LDNS_RR_TYPE_DNSKEY);
	put_rrs(fp, "seed_child_ds", z->parent, "child.test.", LDNS_RR_TYPE_DS);
	put_rrs(fp, "seed_unsigned_nsec", z->parent, "unsigned.test.", LDNS_RR_TYPE_NSEC);
	/* The NSEC3 matching unsigned.test. */
	ldns_rdf *u = ldns_dname_new_frm_str("unsigned.test."),
		 *t = ldns_dname_new_frm_str("test.");
	fputs("static const char *const seed_unsigned_nsec3[] = {\n", fp);
	for (size_t i = 0; i < ldns_rr_list_rr_count(z->parent3); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(z->parent3, i);
		ldns_rdf *o = dnssec_nsec3_owner(rr, u, t);

		if (o && ldns_dname_compare(o, ldns_rr_owner(rr)) == 0) {
			fputc('\t', fp);
			put_rr_literal(fp, rr);
			fputs(",\n", fp);
		}
		ldns_rdf_deep_free(o);
	}
	fputs("\tNULL,\n};\n", fp);
	ldns_rdf_deep_free(u);
	ldns_rdf_deep_free(t);
	fclose(fp);
	return 0;
}

int main(void)
{
	const char *seed_dir = getenv("PFTLS_DNSSEC_SEED_DIR");
	const char *seed_header = getenv("PFTLS_DNSSEC_SEED_HEADER");

	if (seed_dir && seed_header) {
		make_zones("20200101000000", "20800101000000", "20800101000000");
		write_seeds(seed_dir, seed_header);
		t_scratch_remove(tmp);
		return 0;
	}
	make_zones(START, NULL, NULL);
	for (size_t i = 0; i < sizeof(vcases) / sizeof(vcases[0]); i++)
		run_case(&vcases[i]);
	test_front_end();
	test_tlsa_form();
	test_anchors();
	for (int a = 0; a < NALG; a++) {
		ldns_rr_list_deep_free(zs[a].parent);
		ldns_rr_list_deep_free(zs[a].parent3);
		ldns_rr_list_deep_free(zs[a].child);
		ldns_rr_list_deep_free(zs[a].unsigned_child);
		ldns_rr_free(zs[a].spare_child_key);
		free(zs[a].anchor);
		free(zs[a].anchor_dnskey);
		free(zs[a].wrong_anchor);
	}
	t_scratch_remove(tmp);
	T_DONE();
}
