/*
 * fuzz_dns_reply.c - the checks every DNS reply passes before anything
 * believes it (dns_reply_check, dns_msg.c: ID, QR, opcode, question, TC,
 * TSIG key name, algorithm, MAC, time and error) on arbitrary replies.
 *
 * Three real requests are built once, as the daemon builds them: a TLSA
 * query of a check server (unsigned), an SOA query and an UPDATE signed with
 * a TSIG key (dns_request_init; the ID is then fixed so that seeds match).
 * An input is an 8-byte header and the reply:
 *   byte 0   bits 0-1: which request (0 TLSA, 1 signed SOA, 2-3 UPDATE);
 *            bit 2: the harness signs the reply with the key, over the
 *            request's MAC, so the fuzzer reaches the code past the MAC
 *            check; bit 3: then one byte of the signed reply is changed
 *   byte 1-2 signing time relative to "now", seconds (signed 16 bits)
 *   byte 3-4 the TSIG error field signed
 *   byte 5   XOR value of the change, 6-7: its position (modulo the length)
 *   rest     the reply message (without TSIG when the harness signs)
 *
 * Besides no crash, leak or out-of-bounds access, the properties are:
 *   - nothing is accepted (or taken as "truncated, ask over TCP") unless its
 *     ID, QR bit, opcode and question are those of the request (checked
 *     here with ldns's parser and text forms, not dns_msg.c's comparison);
 *   - a reply to a signed request is accepted as verified only when the
 *     harness signed it with the key, within the fudge of 300 s, and was
 *     not changed afterwards (except where RFC 8945 lets a change through
 *     the MAC: the header ID, the TSIG RR's TTL, and letter case in its two
 *     names);
 *   - an accepted unverified reply to a signed request is a TSIG error
 *     (BADSIG, BADKEY, BADTIME) whose action is to stop, never to go on;
 *   - a well-formed reply to the question, signed correctly and on time, is
 *     accepted (no false refusal): well-formed meaning ldns parses it and
 *     renders it back to the same bytes;
 *   - a refusal says why in one line without control characters;
 *   - the key without its secret, as the network process has it, whose
 *     signer judged the reply's MAC ahead (dns_tsig_check_ahead, as a read
 *     of many names does), gives dns_tsig_verify's verdict with the
 *     secret, and its check is answered from what was judged ahead.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "../../daemon/dns_msg.h"
#include "fuzz.h"

#define FUZZ_MAX_LEN 4096
#define HDR 8
#define NOW ((int64_t)1800000000)
#define ID 0x4a5b
#define KEYFILE                                                                                    \
	"key \"pftls-update.example.test\" {\n\talgorithm hmac-sha256;\n"                          \
	"\tsecret \"6zuZ1bRRfdnsAAYuZG7H0wJ0U13MtqvjK+QskvnV6t4=\";\n};\n"

enum { RQ_TLSA, RQ_SOA, RQ_UPDATE, RQ_COUNT };

static dns_tsig_key *key, *pub;
static dns_request rqs[RQ_COUNT];
static bool ready;

/* The signer of pub: what check_ahead judged (with the secret) is kept,
 * and a check of anything else is counted. */
static struct {
	dns_mac_job kept;
	bool have, match;
	unsigned asked;
} ahead;

static void ahead_check_ahead(void *ctx, const dns_mac_job *jobs, size_t n)
{
	(void)ctx;
	if (n != 1 || ahead.have)
		abort();
	ahead.kept = jobs[0];
	ahead.kept.input = pf_malloc(jobs[0].len ? jobs[0].len : 1);
	memcpy(ahead.kept.input, jobs[0].input, jobs[0].len);
	ahead.match =
		dns_tsig_mac_matches(key, jobs[0].input, jobs[0].len, jobs[0].mac, jobs[0].mac_len);
	ahead.have = true;
}

static int ahead_check(void *ctx, const uint8_t *input, size_t len, const uint8_t *mac,
		       size_t mac_len)
{
	(void)ctx;
	if (ahead.have && ahead.kept.len == len && ahead.kept.mac_len == mac_len &&
	    memcmp(ahead.kept.input, input, len) == 0 && memcmp(ahead.kept.mac, mac, mac_len) == 0)
		return ahead.match ? 1 : 0;
	ahead.asked++;
	return dns_tsig_mac_matches(key, input, len, mac, mac_len) ? 1 : 0;
}

static dns_tsig_signer ahead_signer = {.check = ahead_check, .check_ahead = ahead_check_ahead};

static ldns_pkt *update_pkt(void)
{
	ldns_pkt *p = ldns_pkt_new();
	ldns_rr *q = ldns_rr_new(), *add = NULL;

	ldns_pkt_set_opcode(p, LDNS_PACKET_UPDATE);
	ldns_rr_set_question(q, true);
	ldns_rr_set_owner(q, ldns_dname_new_frm_str("example.test."));
	ldns_rr_set_type(q, LDNS_RR_TYPE_SOA);
	ldns_rr_set_class(q, LDNS_RR_CLASS_IN);
	ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, q);
	if (ldns_rr_new_frm_str(&add,
				"_25._tcp.mx.example.test. 3600 IN TLSA 3 1 1 "
				"0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0",
				0, NULL, NULL) != LDNS_STATUS_OK)
		abort();
	ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY, add);
	return p;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	pf_err e = {0};
	ldns_pkt *p[RQ_COUNT];

	(void)argc;
	(void)argv;
	if (dns_tsig_key_parse("fuzz.key", KEYFILE, strlen(KEYFILE), &key, &e) < 0 ||
	    dns_tsig_key_public(key->name, key->alg, &pub, &e) < 0)
		abort();
	pub->signer = &ahead_signer;
	p[RQ_TLSA] = dns_query_pkt("_25._tcp.mx.example.test", LDNS_RR_TYPE_TLSA, false, true);
	p[RQ_SOA] = dns_query_pkt("example.test", LDNS_RR_TYPE_SOA, false, true);
	p[RQ_UPDATE] = update_pkt();
	for (int i = 0; i < RQ_COUNT; i++)
		if (!p[i] || dns_request_init(&rqs[i], p[i], i == RQ_TLSA ? NULL : key, &e) < 0 ||
		    dns_request_set_id(&rqs[i], ID, &e) < 0)
			abort();
	ready = true;
	return 0;
}

/* The question of p as text, lowercase ("name. type class"), or NULL. */
static char *question_text(const ldns_pkt *p)
{
	const ldns_rr_list *q = ldns_pkt_question(p);
	char *owner, *s;

	if (!q || ldns_rr_list_rr_count(q) != 1)
		return NULL;
	const ldns_rr *rr = ldns_rr_list_rr(q, 0);
	if (!ldns_rr_owner(rr) || !(owner = ldns_rdf2str(ldns_rr_owner(rr))))
		return NULL;
	s = pf_asprintf("%s %u %u", owner, (unsigned)ldns_rr_get_type(rr),
			(unsigned)ldns_rr_get_class(rr));
	free(owner);
	for (char *c = s; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return s;
}

/* Does wire carry the request's ID, QR, opcode and question? */
static bool answers(const dns_request *rq, const uint8_t *wire, size_t len, char *why,
		    size_t whylen)
{
	ldns_pkt *p = NULL;
	char *want, *got;
	bool same;

	if (len < 12 || (wire[0] << 8 | wire[1]) != rq->id || !(wire[2] & 0x80) ||
	    ((wire[2] >> 3) & 0x0f) != (unsigned)ldns_pkt_get_opcode(rq->pkt)) {
		snprintf(why, whylen, "header does not match the request");
		return false;
	}
	if (ldns_wire2pkt(&p, wire, len) != LDNS_STATUS_OK) {
		snprintf(why, whylen, "ldns cannot parse it");
		return false;
	}
	want = question_text(rq->pkt);
	got = question_text(p);
	same = want && got && strcmp(want, got) == 0;
	snprintf(why, whylen, "question \"%s\", asked \"%s\"", got ? got : "(none)",
		 want ? want : "?");
	free(want);
	free(got);
	ldns_pkt_free(p);
	return same;
}

/* Is wire (the unsigned body) a reply ldns reads and writes back the same? */
static bool well_formed(const uint8_t *wire, size_t len)
{
	ldns_pkt *p = NULL;
	uint8_t *again = NULL;
	size_t again_len = 0;
	size_t tsig_at;
	bool same;

	/* Walked first, as dns_reply_check does: ldns_wire2pkt leaks all but
	 * the last of several TSIG RRs. */
	if (dns_tsig_find(wire, len, &tsig_at) != 0 ||
	    ldns_wire2pkt(&p, wire, len) != LDNS_STATUS_OK)
		return false;
	same = !ldns_pkt_tsig(p) && ldns_pkt2wire(&again, p, &again_len) == LDNS_STATUS_OK &&
	       again_len == len && memcmp(again, wire, len) == 0;
	free(again);
	ldns_pkt_free(p);
	return same;
}

/* May a change of xor at pos of a reply signed at body_len (the TSIG RR's
 * start) leave the MAC valid?  Only in the header's ID, which the MAC covers
 * as the TSIG RR's Original ID instead (RFC 8945 4.3.1; the ID must still
 * be the request's, and the request's MAC ties the reply to it), in the
 * RR's TTL, which the MAC does not cover, and in letter case of its owner
 * and algorithm names, which it covers in canonical (lowercase) form. */
static bool change_allowed(const uint8_t *signed_wire, size_t body_len, size_t pos, uint8_t xor)
{
	size_t owner = body_len, ttl = owner + key->name_wire_len + 4, alg = ttl + 6;
	size_t alg_len = strlen(key->alg_name) + 2;
	uint8_t c = signed_wire[pos];

	if (pos < 2 || (pos >= ttl && pos < ttl + 4))
		return true;
	if (xor != 0x20 || !isalpha(c))
		return false;
	return (pos >= owner && pos < owner + key->name_wire_len) ||
	       (pos >= alg && pos < alg + alg_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const dns_request *rq;
	uint8_t *wire;
	size_t len, body_len, pos = 0;
	bool sign, change, in_time, verified_ok = false;
	int16_t offset;
	uint16_t error;
	uint8_t xor ;
	dns_reply ret = {0};
	char why[256], reason[200];
	enum dns_check c;

	if (!ready)
		LLVMFuzzerInitialize(NULL, NULL);
	if (size < HDR)
		return 0;
	rq = &rqs[(data[0] & 3) == 3 ? RQ_UPDATE : data[0] & 3];
	sign = rq->tsig && (data[0] & 4);
	change = sign && (data[0] & 8);
	offset = (int16_t)(data[1] << 8 | data[2]);
	error = (uint16_t)(data[3] << 8 | data[4]);
	xor = data[5];
	in_time = offset >= -DNS_TSIG_FUDGE && offset <= DNS_TSIG_FUDGE;
	body_len = len = size - HDR;
	wire = pf_malloc(len ? len : 1);
	memcpy(wire, data + HDR, len);
	if (sign) {
		if (len < 12 || dns_tsig_sign(key, &wire, &len, NOW + offset, rq->mac, rq->mac_len,
					      error, NULL, 0, NULL, NULL) < 0) {
			free(wire);
			return 0;
		}
		verified_ok = in_time;
		if (change && xor) {
			pos = (size_t)(data[6] << 8 | data[7]) % len;
			verified_ok = in_time && change_allowed(wire, body_len, pos, xor);
			wire[pos] ^= xor;
		}
	}

	if (rq->tsig) {
		dns_tsig_ahead item = {wire, len, rq->mac, rq->mac_len};
		dns_tsig_info i1, i2;
		enum dns_tsig_verdict v1 =
			dns_tsig_verify(key, wire, len, rq->mac, rq->mac_len, NOW, &i1);

		ahead.have = false;
		ahead.asked = 0;
		dns_tsig_check_ahead(pub, &item, 1);
		enum dns_tsig_verdict v2 =
			dns_tsig_verify(pub, wire, len, rq->mac, rq->mac_len, NOW, &i2);
		FUZZ_CHECK(v1 == v2, "judged ahead: %s, with the secret: %s",
			   dns_tsig_verdict_str(v2), dns_tsig_verdict_str(v1));
		FUZZ_CHECK(ahead.asked == 0, "a MAC judged ahead was asked again (%u)",
			   ahead.asked);
		FUZZ_CHECK(i1.error == i2.error && i1.time_signed == i2.time_signed,
			   "judged ahead, another TSIG error or time");
		if (ahead.have)
			free(ahead.kept.input);
		ahead.have = false;
	}

	why[0] = '\0';
	c = dns_reply_check(rq, wire, len, NOW, &ret, why, sizeof(why));
	if (c == DNS_CHECK_IGNORE) {
		FUZZ_CHECK(why[0], "refused without a reason");
		for (const char *p = why; *p; p++)
			FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f,
				   "reason holds control character 0x%02x: %s", (unsigned char)*p,
				   why);
		/* A well-formed reply, correctly signed on time, is not refused. */
		if (sign && !change && in_time && !(wire[2] & 0x02) &&
		    well_formed(data + HDR, body_len))
			FUZZ_CHECK(!answers(rq, wire, len, reason, sizeof(reason)),
				   "a correctly signed reply to the question was refused: %s", why);
		free(wire);
		return 0;
	}
	FUZZ_CHECK(answers(rq, wire, len, reason, sizeof(reason)),
		   "a reply that does not answer the request was %s: %s",
		   c == DNS_CHECK_ACCEPT ? "accepted" : "taken as truncated", reason);
	if (c == DNS_CHECK_TRUNCATED) {
		FUZZ_CHECK(wire[2] & 0x02, "taken as truncated without the TC bit");
		free(wire);
		return 0;
	}
	FUZZ_CHECK(c == DNS_CHECK_ACCEPT, "unknown verdict %d", (int)c);
	FUZZ_CHECK(ret.pkt != NULL, "accepted without a packet");
	FUZZ_CHECK(!(wire[2] & 0x02), "a truncated reply was accepted");
	FUZZ_CHECK((ret.rcode & 0x0f) == (wire[3] & 0x0f), "RCODE %d, the header says %d",
		   ret.rcode, wire[3] & 0x0f);
	if (!rq->tsig) {
		FUZZ_CHECK(!ret.verified && !ret.unsigned_error && ret.tsig_error == 0,
			   "TSIG results for an unsigned request");
	} else if (ret.verified) {
		FUZZ_CHECK(!ret.unsigned_error, "both verified and an unsigned error");
		FUZZ_CHECK(sign, "a reply the harness did not sign was verified (forged MAC)");
		FUZZ_CHECK(!sign || in_time, "verified though signed %+d s from now (fudge 300 s)",
			   (int)offset);
		FUZZ_CHECK(!sign || !in_time || verified_ok,
			   "verified after byte %zu of %zu was changed (xor 0x%02x)", pos, len,
			   xor);
		FUZZ_CHECK(ret.tsig_error == error || change, "TSIG error %u, signed %u",
			   ret.tsig_error, error);
	} else {
		const dns_status_info *si = dns_status_describe(dns_reply_status(&ret));

		FUZZ_CHECK(ret.unsigned_error, "a reply to a signed request accepted unverified");
		FUZZ_CHECK(ret.tsig_error == DNS_TSIG_BADSIG || ret.tsig_error == DNS_TSIG_BADKEY ||
				   ret.tsig_error == DNS_TSIG_BADTIME,
			   "unsigned TSIG error %u accepted", ret.tsig_error);
		FUZZ_CHECK(si->action == DNS_ACT_STOP,
			   "an unverified reply (%s) leads to action %d, not stop", si->name,
			   (int)si->action);
	}
	dns_reply_clear(&ret);
	free(wire);
	return 0;
}
