/*
 * dns_msg.c - building requests and checking replies; the table of what each
 * outcome means and what to do about it.
 */
#include "dns_msg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "macro.h"

uint16_t dns_random_id(void)
{
	uint16_t id;

	/* getrandom without flags blocks only before the pool is ready; the
	 * loop covers EINTR. */
	while (getrandom(&id, sizeof(id), 0) != sizeof(id))
		;
	return id;
}

ldns_pkt *dns_query_pkt(const char *name, ldns_rr_type type, bool rd, bool dnssec)
{
	ldns_pkt *p = NULL;
	char *abs = NULL;
	size_t l = strlen(name);

	if (l == 0)
		return NULL;
	if (name[l - 1] != '.')
		name = abs = pf_asprintf("%s.", name);
	if (ldns_pkt_query_new_frm_str(&p, name, type, LDNS_RR_CLASS_IN, 0) != LDNS_STATUS_OK)
		p = NULL;
	free(abs);
	if (!p)
		return NULL;
	ldns_pkt_set_rd(p, rd);
	if (dnssec) {
		ldns_pkt_set_edns_udp_size(p, DNS_EDNS_SIZE);
		ldns_pkt_set_edns_do(p, true);
	}
	return p;
}

/* The request as wire octets, not signed yet. */
int dns_pkt_wire(const ldns_pkt *p, uint8_t **ret, size_t *len)
{
	/* ldns_pkt2wire allocates the largest message, 64 KB, for each; and
	 * freeing a chunk that large makes glibc consolidate every small free
	 * chunk there is.  Once a query of a read of hundreds, that was most
	 * of the cost of rendering them.  The buffer grows as needed. */
	ldns_buffer *b = ldns_buffer_new(512);
	int r = -EINVAL;

	*ret = NULL;
	*len = 0;
	if (!b)
		return -EINVAL;
	if (ldns_pkt2buffer_wire(b, p) == LDNS_STATUS_OK && ldns_buffer_status_ok(b)) {
		*len = ldns_buffer_position(b);
		*ret = pf_malloc(*len ? *len : 1);
		memcpy(*ret, ldns_buffer_begin(b), *len);
		r = 0;
	}
	ldns_buffer_free(b);
	return r;
}

static int render_wire(dns_request *rq, pf_err *e)
{
	free(rq->wire);
	rq->wire = NULL;
	ldns_pkt_set_id(rq->pkt, rq->id);
	if (dns_pkt_wire(rq->pkt, &rq->wire, &rq->len) < 0)
		return pf_err_set(e, EINVAL, "cannot render a DNS message");
	rq->mac_len = 0;
	return 0;
}

/* After signing (r its result): the error, or the size check. */
static int signed_check(const dns_request *rq, int r, pf_err *e)
{
	if (r < 0)
		return pf_err_set(e, -r, "cannot TSIG-sign a DNS message: %s",
				  r == -EMSGSIZE ? "message too large" : strerror(-r));
	if (rq->len > 65535)
		return pf_err_set(e, EMSGSIZE, "DNS message too large (%zu bytes)", rq->len);
	return 0;
}

static int render(dns_request *rq, pf_err *e)
{
	int r = render_wire(rq, e);

	if (r < 0)
		return r;
	if (rq->tsig)
		r = dns_tsig_sign(rq->tsig, &rq->wire, &rq->len, pf_now(), NULL, 0, 0, NULL, 0,
				  rq->mac, &rq->mac_len);
	return signed_check(rq, r, e);
}

int dns_request_init(dns_request *rq, ldns_pkt *pkt, const dns_tsig_key *tsig, pf_err *e)
{
	memset(rq, 0, sizeof(*rq));
	rq->pkt = pkt;
	rq->tsig = tsig;
	rq->id = dns_random_id();
	return render(rq, e);
}

int dns_requests_init(dns_request *rqs, ldns_pkt *const *pkts, size_t n, const dns_tsig_key *tsig,
		      pf_err *e)
{
	dns_sign_job *jobs = NULL;
	int r = 0;

	for (size_t i = 0; i < n; i++) {
		memset(&rqs[i], 0, sizeof(rqs[i]));
		rqs[i].pkt = pkts[i];
		rqs[i].tsig = tsig;
		rqs[i].id = dns_random_id();
	}
	for (size_t i = 0; i < n && r == 0; i++)
		r = render_wire(&rqs[i], e);
	if (r < 0 || !tsig || !n)
		return r;
	jobs = pf_calloc(n, sizeof(*jobs));
	for (size_t i = 0; i < n; i++) {
		jobs[i].wire = rqs[i].wire;
		jobs[i].len = rqs[i].len;
	}
	dns_tsig_sign_many(tsig, jobs, n, pf_now());
	for (size_t i = 0; i < n; i++) {
		rqs[i].wire = jobs[i].wire;
		rqs[i].len = jobs[i].len;
		memcpy(rqs[i].mac, jobs[i].mac, sizeof(rqs[i].mac));
		rqs[i].mac_len = jobs[i].mac_len;
		if (r == 0)
			r = signed_check(&rqs[i], jobs[i].rc, e);
	}
	free(jobs);
	return r;
}

int dns_request_set_id(dns_request *rq, uint16_t id, pf_err *e)
{
	rq->id = id;
	return render(rq, e);
}

void dns_request_free(dns_request *rq)
{
	if (!rq)
		return;
	ldns_pkt_free(rq->pkt);
	free(rq->wire);
	memset(rq, 0, sizeof(*rq));
}

void dns_reply_clear(dns_reply *r)
{
	if (!r)
		return;
	ldns_pkt_free(r->pkt);
	memset(r, 0, sizeof(*r));
}

const char *dns_rcode_name(int rcode, char *buf, size_t len)
{
	static const char *names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
				      "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
				      "NXRRSET", "NOTAUTH", "NOTZONE"};

	if (rcode >= 0 && (size_t)rcode < PF_ELEMENTSOF(names))
		return names[rcode];
	snprintf(buf, len, "RCODE %d", rcode);
	return buf;
}

/* Does the question of p equal the one we asked? */
static bool same_question(const ldns_pkt *req, const ldns_pkt *rep)
{
	const ldns_rr_list *a = ldns_pkt_question(req), *b = ldns_pkt_question(rep);

	if (!a || !b || ldns_rr_list_rr_count(a) != 1 || ldns_rr_list_rr_count(b) != 1)
		return false;
	const ldns_rr *qa = ldns_rr_list_rr(a, 0), *qb = ldns_rr_list_rr(b, 0);
	return ldns_dname_compare(ldns_rr_owner(qa), ldns_rr_owner(qb)) == 0 &&
	       ldns_rr_get_type(qa) == ldns_rr_get_type(qb) &&
	       ldns_rr_get_class(qa) == ldns_rr_get_class(qb);
}

enum dns_check dns_reply_check(const dns_request *rq, const uint8_t *wire, size_t len, int64_t now,
			       dns_reply *ret, char *why, size_t whylen)
{
	ldns_pkt *p = NULL;
	dns_tsig_info ti;
	enum dns_tsig_verdict v;
	size_t tsig_at;
	uint16_t id;
	char rb[16];

	if (len < 12) {
		snprintf(why, whylen, "a %zu-byte datagram, too short for DNS", len);
		return DNS_CHECK_IGNORE;
	}
	id = (uint16_t)(wire[0] << 8 | wire[1]);
	if (id != rq->id) {
		snprintf(why, whylen, "a reply with the wrong message ID (0x%04x, expected 0x%04x)",
			 id, rq->id);
		return DNS_CHECK_IGNORE;
	}
	if (!(wire[2] & 0x80)) {
		snprintf(why, whylen, "a message that is not a response (QR clear)");
		return DNS_CHECK_IGNORE;
	}
	if (((wire[2] >> 3) & 0x0f) != (unsigned)ldns_pkt_get_opcode(rq->pkt)) {
		snprintf(why, whylen, "a reply with the wrong opcode %u", (wire[2] >> 3) & 0x0f);
		return DNS_CHECK_IGNORE;
	}
	/* Walked before ldns parses it: ldns_wire2pkt leaks the first of two
	 * TSIG RRs, and a datagram from anyone who guessed the ID gets here. */
	if (dns_tsig_find(wire, len, &tsig_at) < 0 ||
	    ldns_wire2pkt(&p, wire, len) != LDNS_STATUS_OK || !p) {
		snprintf(why, whylen, "a malformed reply");
		return DNS_CHECK_IGNORE;
	}
	if (!same_question(rq->pkt, p)) {
		snprintf(why, whylen, "a reply to another question");
		ldns_pkt_free(p);
		return DNS_CHECK_IGNORE;
	}
	if (ldns_pkt_tc(p)) {
		/* Nothing in a truncated reply is used; it only says "use TCP". */
		ldns_pkt_free(p);
		return DNS_CHECK_TRUNCATED;
	}
	memset(ret, 0, sizeof(*ret));
	ret->rcode = (int)ldns_pkt_get_rcode(p) | (int)ldns_pkt_edns_extended_rcode(p) << 4;
	if (rq->tsig) {
		v = dns_tsig_verify(rq->tsig, wire, len, rq->mac, rq->mac_len, now, &ti);
		if (v == DNS_TSIG_UNSIGNED_ERROR &&
		    (ti.error == DNS_TSIG_BADSIG || ti.error == DNS_TSIG_BADKEY ||
		     ti.error == DNS_TSIG_BADTIME)) {
			/* The server could not check our signature, so it cannot
			 * sign its answer.  Unauthenticated, so it is only ever
			 * used to stop, never to go on. */
			ret->unsigned_error = true;
		} else if (v != DNS_TSIG_OK) {
			snprintf(why, whylen, "a %s reply that failed TSIG verification: %s",
				 dns_rcode_name(ret->rcode, rb, sizeof(rb)),
				 dns_tsig_verdict_str(v));
			ldns_pkt_free(p);
			return DNS_CHECK_IGNORE;
		} else {
			ret->verified = true;
		}
		ret->tsig_error = ti.error;
		if (ti.has_server_time)
			ret->skew = (int64_t)ti.server_time - now;
	}
	ret->pkt = p;
	return DNS_CHECK_ACCEPT;
}

static const dns_status_info statuses[DNS_STATUS_COUNT] = {
	[DNS_NOERROR] = {"NOERROR", DNS_ACT_ACCEPT, "the request succeeded"},
	[DNS_FORMERR] = {"FORMERR", DNS_ACT_STOP,
			 "the server could not parse the message (a bug here or there)"},
	[DNS_SERVFAIL] = {"SERVFAIL", DNS_ACT_RETRY,
			  "the server failed to process the request (retried with back-off)"},
	[DNS_NXDOMAIN] = {"NXDOMAIN", DNS_ACT_ACCEPT, "the name does not exist"},
	[DNS_NOTIMP] = {"NOTIMP", DNS_ACT_STOP,
			"the server does not implement this kind of request"},
	[DNS_REFUSED] = {"REFUSED", DNS_ACT_STOP,
			 "the server refused the request (its allow-update / update-policy, or "
			 "it is not a server for the zone)"},
	[DNS_YXDOMAIN] = {"YXDOMAIN", DNS_ACT_STOP,
			  "a prerequisite failed: a name that should not exist exists"},
	[DNS_YXRRSET] = {"YXRRSET", DNS_ACT_RETRY,
			 "a prerequisite failed: the RRset exists, but was expected not to"},
	[DNS_NXRRSET] = {"NXRRSET", DNS_ACT_RETRY,
			 "a prerequisite failed: the RRset is not what it was when read (changed "
			 "by someone else meanwhile)"},
	/* RCODE 9 has two meanings: RFC 2136 "not authoritative for the zone"
	 * and RFC 8945 "not authorized" (Knot answers an update no ACL allows,
	 * such as an unsigned one, with it). */
	[DNS_NOTAUTH] = {"NOTAUTH", DNS_ACT_STOP,
			 "the server is not authoritative for the zone, or the request is not "
			 "authorized (RFC 8945): no TSIG key, or none its access rules accept for "
			 "this"},
	[DNS_NOTZONE] = {"NOTZONE", DNS_ACT_STOP, "a name in the update is outside the zone"},
	[DNS_BADSIG] = {"BADSIG", DNS_ACT_STOP,
			"the server could not verify our TSIG signature: the secret does not "
			"match the server's copy of the key"},
	[DNS_BADKEY] = {"BADKEY", DNS_ACT_STOP,
			"the server does not know the TSIG key (name or algorithm)"},
	[DNS_BADTIME] = {"BADTIME", DNS_ACT_STOP,
			 "the server's clock and ours differ by more than the TSIG fudge"},
	[DNS_OTHER_RCODE] = {"error", DNS_ACT_STOP, "the server answered with an error"},
	[DNS_TIMEOUT] = {"timeout", DNS_ACT_RETRY,
			 "no verified reply before the deadline (retried with back-off)"},
	[DNS_TRUNCATED] = {"truncated", DNS_ACT_TCP, "the reply was truncated (asked over TCP)"},
	[DNS_NETERR] = {"network error", DNS_ACT_RETRY, "the server could not be reached"},
};

const dns_status_info *dns_status_describe(enum dns_status s)
{
	if ((unsigned)s >= DNS_STATUS_COUNT)
		s = DNS_OTHER_RCODE;
	return &statuses[s];
}

enum dns_status dns_reply_status(const dns_reply *r)
{
	switch (r->tsig_error) {
	case DNS_TSIG_BADSIG:
		return DNS_BADSIG;
	case DNS_TSIG_BADKEY:
		return DNS_BADKEY;
	case DNS_TSIG_BADTIME:
		return DNS_BADTIME;
	case 0:
		break;
	default:
		return DNS_OTHER_RCODE;
	}
	switch (r->rcode) {
	case LDNS_RCODE_NOERROR:
		return DNS_NOERROR;
	case LDNS_RCODE_FORMERR:
		return DNS_FORMERR;
	case LDNS_RCODE_SERVFAIL:
		return DNS_SERVFAIL;
	case LDNS_RCODE_NXDOMAIN:
		return DNS_NXDOMAIN;
	case LDNS_RCODE_NOTIMPL:
		return DNS_NOTIMP;
	case LDNS_RCODE_REFUSED:
		return DNS_REFUSED;
	case LDNS_RCODE_YXDOMAIN:
		return DNS_YXDOMAIN;
	case LDNS_RCODE_YXRRSET:
		return DNS_YXRRSET;
	case LDNS_RCODE_NXRRSET:
		return DNS_NXRRSET;
	case LDNS_RCODE_NOTAUTH:
		return DNS_NOTAUTH;
	case LDNS_RCODE_NOTZONE:
		return DNS_NOTZONE;
	}
	return DNS_OTHER_RCODE;
}

bool dns_serial_ge(uint32_t a, uint32_t b)
{
	return a == b || (int32_t)(a - b) > 0;
}
