/*
 * test_dns_msg.c - the reply checks on hand-built packets (a table of ways a
 * reply can fail to answer our request, signed and unsigned), the status
 * table (every status has a message and an action), serial arithmetic, and
 * the transport's deadlines: many silent servers cost one; a silent server
 * with many questions costs one too (the unsent ones are not sent); a slow
 * server that answers gets through a round longer than one deadline.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../daemon/dns_msg.h"
#include "../../daemon/dns_net.h"
#include "../../daemon/macro.h"
#include "t.h"

#define SECRET "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

static dns_tsig_key *key_named(const char *name, const char *secret)
{
	char *text = pf_asprintf("key %s { algorithm hmac-sha256; secret \"%s\"; };", name, secret);
	dns_tsig_key *k = NULL;

	if (dns_tsig_key_parse("t", text, strlen(text), &k, NULL) < 0)
		abort();
	free(text);
	return k;
}

/* Ways to spoil a reply before it is rendered (pkt) or after (wire). */
enum spoil {
	SP_NONE,
	SP_ID,
	SP_NOT_QR,
	SP_OPCODE,
	SP_QNAME,
	SP_QTYPE,
	SP_NO_QUESTION,
	SP_TC,
	SP_SHORT,
	SP_UNSIGNED,
	SP_OTHER_KEY,
	SP_OTHER_SECRET,
	SP_OLD,
	SP_FLIP_BYTE,
	SP_BADKEY_UNSIGNED,
	SP_SERVFAIL,
};

static const struct reply_case {
	const char *name;
	enum spoil spoil;
	bool signed_req;
	enum dns_check want;
	const char *why;        /* part of the reason for IGNORE */
	enum dns_status status; /* for ACCEPT */
} cases[] = {
	{"good unsigned reply", SP_NONE, false, DNS_CHECK_ACCEPT, NULL, DNS_NOERROR},
	{"good signed reply", SP_NONE, true, DNS_CHECK_ACCEPT, NULL, DNS_NOERROR},
	{"SERVFAIL, signed", SP_SERVFAIL, true, DNS_CHECK_ACCEPT, NULL, DNS_SERVFAIL},
	{"wrong message ID", SP_ID, false, DNS_CHECK_IGNORE, "wrong message ID", 0},
	{"QR clear", SP_NOT_QR, false, DNS_CHECK_IGNORE, "not a response", 0},
	{"wrong opcode", SP_OPCODE, false, DNS_CHECK_IGNORE, "wrong opcode", 0},
	{"another name", SP_QNAME, false, DNS_CHECK_IGNORE, "another question", 0},
	{"another type", SP_QTYPE, false, DNS_CHECK_IGNORE, "another question", 0},
	{"no question", SP_NO_QUESTION, false, DNS_CHECK_IGNORE, "another question", 0},
	{"truncated", SP_TC, false, DNS_CHECK_TRUNCATED, NULL, 0},
	{"truncated, signed request", SP_TC, true, DNS_CHECK_TRUNCATED, NULL, 0},
	{"short datagram", SP_SHORT, false, DNS_CHECK_IGNORE, "too short", 0},
	{"unsigned reply to a signed request", SP_UNSIGNED, true, DNS_CHECK_IGNORE,
	 "not TSIG-signed", 0},
	{"signed with another key name", SP_OTHER_KEY, true, DNS_CHECK_IGNORE,
	 "another TSIG key name", 0},
	{"signed with another secret", SP_OTHER_SECRET, true, DNS_CHECK_IGNORE,
	 "MAC does not verify", 0},
	{"signed 10 minutes ago", SP_OLD, true, DNS_CHECK_IGNORE, "outside the fudge", 0},
	{"a byte changed after signing", SP_FLIP_BYTE, true, DNS_CHECK_IGNORE,
	 "MAC does not verify", 0},
	{"BADKEY without MAC (RFC 8945 5.3.2)", SP_BADKEY_UNSIGNED, true, DNS_CHECK_ACCEPT, NULL,
	 DNS_BADKEY},
};

/* Render rep, signing it as a reply to rq with k at time t when k is set. */
static uint8_t *render(ldns_pkt *rep, const dns_request *rq, const dns_tsig_key *k, int64_t t,
		       uint16_t tsig_error, size_t *len)
{
	uint8_t *w = NULL, *copy;

	ldns_pkt2wire(&w, rep, len);
	copy = pf_malloc(*len);
	memcpy(copy, w, *len);
	free(w);
	if (k)
		dns_tsig_sign(k, &copy, len, t, rq->mac, rq->mac_len, tsig_error, NULL, 0, NULL,
			      NULL);
	return copy;
}

static void test_reply_checks(void)
{
	dns_tsig_key *k = key_named("upd-key", SECRET);
	dns_tsig_key *other = key_named("other-key", SECRET);
	dns_tsig_key *other_secret =
		key_named("upd-key", "AQECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");

	for (size_t i = 0; i < PF_ELEMENTSOF(cases); i++) {
		const struct reply_case *c = &cases[i];
		dns_request rq;
		dns_reply reply = {0};
		char why[200] = "";
		int64_t now = pf_now();
		const dns_tsig_key *signer = c->signed_req ? k : NULL;
		uint16_t terr = 0;

		dns_request_init(&rq,
				 dns_query_pkt("mx.example.test", LDNS_RR_TYPE_TLSA, false, true),
				 c->signed_req ? k : NULL, NULL);
		ldns_pkt *rep = dns_query_pkt("mx.example.test", LDNS_RR_TYPE_TLSA, false, false);
		ldns_pkt_set_id(rep, rq.id);
		ldns_pkt_set_qr(rep, true);
		ldns_pkt_set_aa(rep, true);
		switch (c->spoil) {
		case SP_ID:
			ldns_pkt_set_id(rep, (uint16_t)(rq.id + 1));
			break;
		case SP_NOT_QR:
			ldns_pkt_set_qr(rep, false);
			break;
		case SP_OPCODE:
			ldns_pkt_set_opcode(rep, LDNS_PACKET_UPDATE);
			break;
		case SP_QNAME: {
			ldns_pkt *o =
				dns_query_pkt("mx.example.org", LDNS_RR_TYPE_TLSA, false, false);
			ldns_pkt_set_id(o, rq.id);
			ldns_pkt_set_qr(o, true);
			ldns_pkt_free(rep);
			rep = o;
			break;
		}
		case SP_QTYPE: {
			ldns_pkt *o =
				dns_query_pkt("mx.example.test", LDNS_RR_TYPE_A, false, false);
			ldns_pkt_set_id(o, rq.id);
			ldns_pkt_set_qr(o, true);
			ldns_pkt_free(rep);
			rep = o;
			break;
		}
		case SP_NO_QUESTION: {
			ldns_pkt *o = ldns_pkt_new();
			ldns_pkt_set_id(o, rq.id);
			ldns_pkt_set_qr(o, true);
			ldns_pkt_free(rep);
			rep = o;
			break;
		}
		case SP_TC:
			ldns_pkt_set_tc(rep, true);
			break;
		case SP_UNSIGNED:
			signer = NULL;
			break;
		case SP_OTHER_KEY:
			signer = other;
			break;
		case SP_OTHER_SECRET:
			signer = other_secret;
			break;
		case SP_SERVFAIL:
			ldns_pkt_set_rcode(rep, LDNS_RCODE_SERVFAIL);
			break;
		case SP_BADKEY_UNSIGNED:
			ldns_pkt_set_rcode(rep, LDNS_RCODE_NOTAUTH);
			terr = DNS_TSIG_BADKEY;
			break;
		default:
			break;
		}
		size_t len;
		uint8_t *w = render(rep, &rq, c->spoil == SP_BADKEY_UNSIGNED ? NULL : signer,
				    c->spoil == SP_OLD ? now - 600 : now, terr, &len);
		if (c->spoil == SP_BADKEY_UNSIGNED) {
			/* A TSIG RR with the error and an empty MAC, by hand. */
			static const uint8_t alg[] = "\x0bhmac-sha256";
			size_t extra = k->name_wire_len + 10 + sizeof(alg) + 16;
			w = pf_realloc(w, len + extra);
			uint8_t *p = w + len;
			memcpy(p, k->name_wire, k->name_wire_len);
			p += k->name_wire_len;
			static const uint8_t hdr[] = {0, 250, 0, 255, 0, 0, 0, 0};
			memcpy(p, hdr, 8);
			p[8] = 0;
			p[9] = (uint8_t)(sizeof(alg) + 16);
			p += 10;
			memcpy(p, alg, sizeof(alg));
			p += sizeof(alg);
			memset(p, 0, 16);
			p[6] = DNS_TSIG_FUDGE >> 8;
			p[7] = DNS_TSIG_FUDGE & 0xff;
			p[10] = (uint8_t)(rq.id >> 8);
			p[11] = (uint8_t)rq.id;
			p[13] = DNS_TSIG_BADKEY;
			w[11]++;
			len += extra;
		}
		if (c->spoil == SP_FLIP_BYTE)
			w[3] ^= 0x10; /* the AA bit */
		if (c->spoil == SP_SHORT)
			len = 11;
		enum dns_check got = dns_reply_check(&rq, w, len, now, &reply, why, sizeof(why));
		T_CHECK(got == c->want, "reply check: %s (got %d, why \"%s\")", c->name, got, why);
		if (c->why)
			T_CHECK(strstr(why, c->why) != NULL, "reply check: %s: reason \"%s\"",
				c->name, why);
		if (got == DNS_CHECK_ACCEPT && c->want == DNS_CHECK_ACCEPT) {
			T_CHECK(dns_reply_status(&reply) == c->status, "reply check: %s: status %s",
				c->name, dns_status_describe(c->status)->name);
			T_CHECK(reply.verified == (c->signed_req && c->spoil != SP_BADKEY_UNSIGNED),
				"reply check: %s: verified flag", c->name);
		}
		dns_reply_clear(&reply);
		free(w);
		ldns_pkt_free(rep);
		dns_request_free(&rq);
	}
	dns_tsig_key_free(k);
	dns_tsig_key_free(other);
	dns_tsig_key_free(other_secret);
}

static void test_status_table(void)
{
	static const struct {
		enum dns_status s;
		enum dns_action a;
	} want[] = {
		{DNS_NOERROR, DNS_ACT_ACCEPT}, {DNS_SERVFAIL, DNS_ACT_RETRY},
		{DNS_TIMEOUT, DNS_ACT_RETRY},  {DNS_TRUNCATED, DNS_ACT_TCP},
		{DNS_REFUSED, DNS_ACT_STOP},   {DNS_NOTAUTH, DNS_ACT_STOP},
		{DNS_NOTZONE, DNS_ACT_STOP},   {DNS_BADSIG, DNS_ACT_STOP},
		{DNS_BADKEY, DNS_ACT_STOP},    {DNS_BADTIME, DNS_ACT_STOP},
		{DNS_YXRRSET, DNS_ACT_RETRY},  {DNS_NXRRSET, DNS_ACT_RETRY},
	};
	bool all = true;

	for (unsigned s = 0; s < DNS_STATUS_COUNT; s++) {
		const dns_status_info *si = dns_status_describe((enum dns_status)s);
		all &= si->name && si->meaning && strlen(si->meaning) > 10;
	}
	T_CHECK(all, "every status has a name and its own message");
	for (size_t i = 0; i < PF_ELEMENTSOF(want); i++)
		T_CHECK(dns_status_describe(want[i].s)->action == want[i].a,
			"%s: defined action %d", dns_status_describe(want[i].s)->name, want[i].a);
	all = true;
	for (unsigned s = 0; s < DNS_STATUS_COUNT; s++)
		for (unsigned t = s + 1; t < DNS_STATUS_COUNT; t++)
			all &= strcmp(dns_status_describe((enum dns_status)s)->meaning,
				      dns_status_describe((enum dns_status)t)->meaning) != 0;
	T_CHECK(all, "no two statuses share a message");
}

static void test_serial(void)
{
	T_CHECK(dns_serial_ge(5, 5) && dns_serial_ge(6, 5) && !dns_serial_ge(5, 6),
		"serials: plain order");
	T_CHECK(dns_serial_ge(3, 0xfffffff0u) && !dns_serial_ge(0xfffffff0u, 3),
		"serials: wrap-around (RFC 1982)");
}

/* A UDP socket on 127.0.0.1 and the server for it. */
static int local_server(dns_server *srv)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &al);
	dns_server_set(srv, "127.0.0.1", ntohs(a.sin_port));
	return fd;
}

/* Silent servers: sockets bound on 127.0.0.1 that never answer.  Each is
 * asked, resent to a bounded number of times before the one deadline, and
 * ends in a timeout.  (How long it takes is bench/dns.sh's business.) */
static void test_one_deadline(void)
{
	enum { N = 8 };
	int fds[N];
	dns_server srv[N];
	dns_request rq[N];
	dns_xfer xs[N];
	dns_net_opts o = {.timeout_ms = 300, .retransmit_ms = 100, .window = 8};

	memset(xs, 0, sizeof(xs));
	for (int i = 0; i < N; i++) {
		fds[i] = local_server(&srv[i]);
		dns_request_init(&rq[i],
				 dns_query_pkt("example.test", LDNS_RR_TYPE_SOA, false, true), NULL,
				 NULL);
		xs[i].server = &srv[i];
		xs[i].req = &rq[i];
	}
	dns_net_run(xs, N, &o);
	bool all_timeout = true, bounded = true;
	for (int i = 0; i < N; i++) {
		uint8_t buf[512];
		int got = 0;

		all_timeout &= xs[i].status == DNS_TIMEOUT && !xs[i].replied;
		while (recv(fds[i], buf, sizeof(buf), MSG_DONTWAIT) > 0)
			got++;
		/* 300 ms deadline, resent every 100 ms: 1 to 3 datagrams. */
		bounded &= got >= 1 && got <= 3;
		dns_request_free(&rq[i]);
		close(fds[i]);
	}
	T_CHECK(all_timeout, "8 silent servers: every exchange ends in a timeout");
	T_CHECK(bounded, "8 silent servers: each asked, with at most 3 datagrams");
}

enum { MANY = 40 };

static void many_queries(dns_xfer *xs, dns_request *rq, const dns_server *srv)
{
	memset(xs, 0, MANY * sizeof(*xs));
	for (int i = 0; i < MANY; i++) {
		char name[40];

		snprintf(name, sizeof(name), "mx%02d.example.test", i);
		dns_request_init(&rq[i], dns_query_pkt(name, LDNS_RR_TYPE_TLSA, false, false), NULL,
				 NULL);
		xs[i].server = srv;
		xs[i].req = &rq[i];
	}
}

/* A server far away: each query answered (NODATA) 100 ms after it came, a
 * delay line, never more than 64 waiting; for at most 5 s. */
static void delay_line(int fd)
{
	struct {
		uint64_t at;
		struct sockaddr_storage from;
		socklen_t fl;
		uint8_t buf[512];
		ssize_t n;
	} q[64];
	size_t nq = 0;
	uint64_t end = pf_mono_usec() + 5000000;

	while (pf_mono_usec() < end) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		uint64_t now = pf_mono_usec();
		int ms = nq ? (int)((q[0].at > now ? q[0].at - now : 0) / 1000) : 100;

		if (poll(&p, 1, ms) > 0 && nq < 64) {
			q[nq].fl = sizeof(q[nq].from);
			q[nq].n = recvfrom(fd, q[nq].buf, sizeof(q[nq].buf), 0,
					   (struct sockaddr *)&q[nq].from, &q[nq].fl);
			if (q[nq].n >= 12) {
				q[nq].at = pf_mono_usec() + 100000;
				q[nq].buf[2] |= 0x84; /* QR, AA */
				q[nq].buf[3] = 0;     /* NOERROR */
				nq++;
			}
		}
		while (nq && q[0].at <= pf_mono_usec()) {
			sendto(fd, q[0].buf, (size_t)q[0].n, 0, (struct sockaddr *)&q[0].from,
			       q[0].fl);
			memmove(&q[0], &q[1], --nq * sizeof(q[0]));
		}
	}
}

static void test_deadline_per_question(void)
{
	dns_net_opts o = {.timeout_ms = 300, .retransmit_ms = 250, .window = 8};
	dns_request rq[MANY];
	dns_xfer xs[MANY];
	dns_server srv;
	int fd = local_server(&srv), got = 0, unsent = 0;
	bool all_timeout = true, all_replied = true;
	uint8_t buf[512];
	pid_t pid;

	/* Silent, with 40 questions in windows of 8: the first 8 are asked
	 * and time out; the other 32 are never sent. */
	many_queries(xs, rq, &srv);
	dns_net_run(xs, MANY, &o);
	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		got++;
	for (int i = 0; i < MANY; i++) {
		all_timeout &= xs[i].status == DNS_TIMEOUT && !xs[i].replied;
		unsent += strstr(xs[i].note, "not sent: 127.0.0.1:") &&
			  strstr(xs[i].note, "answered nothing for 300 ms");
		dns_xfer_clear(&xs[i]);
		dns_request_free(&rq[i]);
	}
	T_CHECK(all_timeout, "a silent server with 40 questions: each ends in a timeout");
	T_CHECK(got >= 8 && got <= 16 && unsent == 32,
		"a silent server costs one deadline: 8 asked (%d datagrams), the other %d not sent",
		got, unsent);

	/* 100 ms away, 40 questions in windows of 8: about 500 ms in all,
	 * longer than the 300 ms deadline of each question. */
	pid = fork();
	if (pid == 0) {
		delay_line(fd);
		_exit(0);
	}
	many_queries(xs, rq, &srv);
	dns_net_run(xs, MANY, &o);
	for (int i = 0; i < MANY; i++) {
		all_replied &= xs[i].replied && xs[i].status == DNS_NOERROR;
		dns_xfer_clear(&xs[i]);
		dns_request_free(&rq[i]);
	}
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	close(fd);
	T_CHECK(all_replied, "a server 100 ms away answers all 40 questions, 8 at a time, "
			     "though the round outlasts one 300 ms deadline");
}

int main(void)
{
	test_reply_checks();
	test_status_table();
	test_serial();
	test_one_deadline();
	test_deadline_per_question();
	T_DONE();
}
