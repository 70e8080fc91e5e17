/*
 * test_tlsa_records.c - the record model: canonical owners and their parse,
 * hosts x ports x record types, one record per owner and data, the
 * distinct-owner index.
 */
#include <errno.h>

#include "../../daemon/tlsa_records.h"
#include "t.h"
#include "../../daemon/macro.h"

static void test_canon(void)
{
	static const struct {
		const char *host;
		uint16_t port;
		const char *want; /* NULL: does not fit */
	} canon[] = {
		{"mx.example.test", 25, "_25._tcp.mx.example.test."},
		{"MX.Example.TEST", 25, "_25._tcp.mx.example.test."},
		{"mx.example.test.", 465, "_465._tcp.mx.example.test."},
		{"", 25, NULL},
	};
	char buf[TLSA_OWNER_SIZE], small[16];

	for (size_t i = 0; i < PF_ELEMENTSOF(canon); i++) {
		const char *got = tlsa_owner_canon(canon[i].host, canon[i].port, buf, sizeof(buf));

		T_CHECK(canon[i].want ? t_streq(got, canon[i].want) : got == NULL,
			"canonical owner of \"%s\" port %u", canon[i].host, canon[i].port);
	}
	T_CHECK(!tlsa_owner_canon("mx.example.test", 25, small, sizeof(small)) && !small[0],
		"canonical owner too long for the buffer: NULL and \"\"");

	/* 250 octets of host: "_25._tcp." + 250 + "." is 260, too long. */
	char longhost[251];
	memset(longhost, 'a', 250);
	longhost[250] = '\0';
	for (size_t i = 63; i < 250; i += 64)
		longhost[i] = '.';
	T_CHECK(!tlsa_owner_canon(longhost, 25, buf, sizeof(buf)),
		"an owner over 255 octets does not fit");
}

static void test_parse(void)
{
	static const struct {
		const char *owner;
		int rc;
		uint16_t port;
		const char *host;
	} parse[] = {
		{"_25._tcp.mx.example.test.", 0, 25, "mx.example.test"},
		{"_465._tcp.MX.example.test", 0, 465, "MX.example.test"},
		{"_0._tcp.mx.example.test.", -EINVAL, 0, NULL},
		{"_65536._tcp.mx.example.test.", -EINVAL, 0, NULL},
		{"_25._udp.mx.example.test.", -EINVAL, 0, NULL},
		{"25._tcp.mx.example.test.", -EINVAL, 0, NULL},
		{"_25._tcp.", -EINVAL, 0, NULL},
		{"_25._tcp..", -EINVAL, 0, NULL},
	};

	for (size_t i = 0; i < PF_ELEMENTSOF(parse); i++) {
		char host[256] = "";
		uint16_t port = 0;
		int rc = tlsa_owner_parse(parse[i].owner, &port, host, sizeof(host));

		T_CHECK(rc == parse[i].rc &&
				(rc < 0 || (port == parse[i].port && t_streq(host, parse[i].host))),
			"parse \"%s\"", parse[i].owner);
	}
	/* The round trip the engine makes for the RRsets it saw. */
	char owner[TLSA_OWNER_SIZE], host[256];
	uint16_t port = 0;
	tlsa_owner_canon("Mx.Example.Test", 587, owner, sizeof(owner));
	T_CHECK(tlsa_owner_parse(owner, &port, host, sizeof(host)) == 0 && port == 587 &&
			t_streq(host, "mx.example.test"),
		"canonical owner back into port and (lowercase) host");
}

static pf_tlsa_rdata rdata(uint8_t selector, unsigned char fill)
{
	pf_tlsa_rdata r = {.usage = 3, .selector = selector, .mtype = 1, .len = 32};

	memset(r.data, fill, 32);
	return r;
}

static void test_sets(void)
{
	static const struct {
		const char *name;
		const char *hosts[4];
		uint16_t ports[3];
		size_t n_types; /* rd[0], rd[0..1] */
		size_t n_keys;  /* keys 0, 1: different data */
		size_t want_records, want_owners;
		const char *owner0, *owner_last;
	} sets[] = {
		{"one host, one port, 3 1 1",
		 {"mx.example.test"},
		 {25},
		 1,
		 1,
		 1,
		 1,
		 "_25._tcp.mx.example.test.",
		 "_25._tcp.mx.example.test."},
		{"hosts x ports x types",
		 {"mx1.example.test", "mx2.example.test"},
		 {25, 465},
		 2,
		 1,
		 8,
		 4,
		 "_25._tcp.mx1.example.test.",
		 "_465._tcp.mx2.example.test."},
		{"two keys share the owners",
		 {"mx.example.test"},
		 {25, 587},
		 1,
		 2,
		 4,
		 2,
		 "_25._tcp.mx.example.test.",
		 "_587._tcp.mx.example.test."},
		{"hosts differing in case: one owner",
		 {"mx.example.test", "MX.Example.Test"},
		 {25},
		 2,
		 1,
		 2,
		 1,
		 "_25._tcp.mx.example.test.",
		 "_25._tcp.mx.example.test."},
		{"host with and without the trailing dot: one owner",
		 {"mx.example.test.", "mx.example.test"},
		 {25},
		 1,
		 2,
		 2,
		 1,
		 "_25._tcp.mx.example.test.",
		 "_25._tcp.mx.example.test."},
		{"the same port twice: one owner",
		 {"mx.example.test"},
		 {25, 25},
		 2,
		 1,
		 2,
		 1,
		 "_25._tcp.mx.example.test.",
		 "_25._tcp.mx.example.test."},
		{"order: host, then port",
		 {"b.example.test", "a.example.test"},
		 {465, 25},
		 1,
		 1,
		 4,
		 4,
		 "_465._tcp.b.example.test.",
		 "_25._tcp.a.example.test."},
	};
	pf_tlsa_rdata rd[2][2] = {{rdata(1, 0x11), rdata(0, 0x22)},
				  {rdata(1, 0x33), rdata(0, 0x44)}};

	for (size_t c = 0; c < PF_ELEMENTSOF(sets); c++) {
		tlsa_record_set s = {0};
		pf_strv hosts = {0};
		size_t n_ports = 0;
		pf_err e = {0};
		int rc = 0;

		for (size_t h = 0; h < 4 && sets[c].hosts[h]; h++)
			pf_strv_push(&hosts, sets[c].hosts[h]);
		while (n_ports < 3 && sets[c].ports[n_ports])
			n_ports++;
		for (size_t k = 0; k < sets[c].n_keys && rc == 0; k++)
			rc = tlsa_records_add(&s, &hosts, sets[c].ports, n_ports, rd[k],
					      sets[c].n_types, k, &e);
		tlsa_records_index(&s);
		T_CHECK(rc == 0 && s.n == sets[c].want_records && s.owners.n == sets[c].want_owners,
			"%s: %zu records (want %zu), %zu owners (want %zu)", sets[c].name, s.n,
			sets[c].want_records, s.owners.n, sets[c].want_owners);
		if (s.n) {
			T_STREQ(s.owners.owners[0], sets[c].owner0, "%s: first owner",
				sets[c].name);
			T_STREQ(s.owners.owners[s.owners.n - 1], sets[c].owner_last,
				"%s: last owner", sets[c].name);
		}
		bool consistent = true;
		for (size_t i = 0; i < s.n; i++)
			consistent &= s.owners.of[i] < s.owners.n &&
				      strcmp(s.owners.owners[s.owners.of[i]], s.v[i].owner) == 0 &&
				      s.v[i].host[strlen(s.v[i].host) - 1] != '.';
		T_CHECK(consistent,
			"%s: every record's owner index names its owner, hosts "
			"without the trailing dot",
			sets[c].name);
		tlsa_records_free(&s);
		pf_strv_clear(&hosts);
	}

	/* The first of equal records stays, as given (the state keeps its case). */
	tlsa_record_set s = {0};
	pf_strv hosts = {0};
	const uint16_t port = 25;
	pf_err e = {0};
	pf_strv_push(&hosts, "MX.example.test");
	pf_strv_push(&hosts, "mx.example.test");
	tlsa_records_add(&s, &hosts, &port, 1, rd[0], 1, 0, &e);
	T_CHECK(s.n == 1 && t_streq(s.v[0].host, "MX.example.test") && s.v[0].port == 25,
		"of equal records the first stays, its host as given");
	tlsa_records_free(&s);
	pf_strv_clear(&hosts);

	/* A name too long: an error, the set unchanged. */
	char longhost[252];
	memset(longhost, 'a', 251);
	longhost[251] = '\0';
	for (size_t i = 63; i < 251; i += 64)
		longhost[i] = '.';
	pf_strv_push(&hosts, "mx.example.test");
	tlsa_records_add(&s, &hosts, &port, 1, rd[0], 1, 0, &e);
	pf_strv_push(&hosts, longhost);
	T_CHECK(tlsa_records_add(&s, &hosts, &port, 1, rd[1], 1, 1, &e) == -EINVAL && s.n == 1 &&
			strstr(e.msg, "is too long"),
		"an owner name too long is refused, the set unchanged (%s)", e.msg);
	tlsa_records_free(&s);
	pf_strv_clear(&hosts);
}

static void test_index(void)
{
	static const struct {
		char owner[TLSA_OWNER_SIZE];
		int other;
	} items[] = {
		{"_25._tcp.b.test.", 0},  {"_25._tcp.a.test.", 1}, {"_25._tcp.b.test.", 2},
		{"_465._tcp.a.test.", 3}, {"_25._tcp.a.test.", 4},
	};
	static const size_t want_of[] = {0, 1, 0, 2, 1};
	tlsa_owner_index ix;
	bool ok = true;

	tlsa_owner_index_build(items[0].owner, sizeof(items[0]), 5, &ix);
	for (size_t i = 0; i < 5; i++)
		ok &= ix.of[i] == want_of[i];
	T_CHECK(ix.n == 3 && ok && t_streq(ix.owners[0], "_25._tcp.b.test.") &&
			t_streq(ix.owners[1], "_25._tcp.a.test.") &&
			t_streq(ix.owners[2], "_465._tcp.a.test."),
		"owner index: distinct names in order of first appearance");
	tlsa_owner_index_free(&ix);
	tlsa_owner_index_build(items[0].owner, sizeof(items[0]), 0, &ix);
	T_CHECK(ix.n == 0, "owner index of nothing is empty");
	tlsa_owner_index_free(&ix);
}

static void test_hosts(void)
{
	pf_config cfg;
	pf_strv hosts = {0};
	pf_err e = {0};

	pf_config_init(&cfg);
	if (pf_config_parse(&cfg, "t.cf", "tlsa_hostnames = mx1.example.test, MX2.example.test.\n",
			    &e) < 0) {
		T_CHECK(0, "config: %s", e.msg);
		return;
	}
	T_CHECK(tlsa_records_hosts(&cfg, NULL, &hosts, &e) == 0 && hosts.n == 2 &&
			t_streq(hosts.v[0], "mx1.example.test") &&
			t_streq(hosts.v[1], "MX2.example.test"),
		"tlsa_records_hosts: tlsa_hostnames as configured, without Postfix");
	pf_strv_clear(&hosts);
	pf_config_free(&cfg);
}

int main(void)
{
	test_canon();
	test_parse();
	test_sets();
	test_index();
	test_hosts();
	T_DONE();
}
