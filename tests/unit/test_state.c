/*
 * test_state.c - the rollover state file: round trips of every phase, a
 * table of damaged files each refused with its own FILE:LINE message and no
 * state, and crash safety of the durable write under fault injection.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "../../daemon/state.h"
#include "t.h"
#include "../../daemon/macro.h"

#define SPKI_A "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
#define SPKI_B "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SPKI_C "1111111111111111111111111111111111111111111111111111111111111111"
#define SPKI_D "2222222222222222222222222222222222222222222222222222222222222222"
#define ID "00112233445566778899aabbccddeeff"

static char dir[] = "/tmp/pftls-test-state-XXXXXX";

static pf_tlsa_rdata rdata(uint8_t sel, uint8_t mtype, unsigned char fill)
{
	pf_tlsa_rdata r = {.usage = 3, .selector = sel, .mtype = mtype};

	r.len = mtype == 1 ? 32 : 64;
	memset(r.data, fill, r.len);
	return r;
}

/* A state filled up to phase p with everything that phase stands for. */
static void build(pf_state *st, enum pf_phase p)
{
	pf_tlsa_rdata r1 = rdata(1, 1, 0xab), r2 = rdata(0, 2, 0x5c), r3 = rdata(1, 1, 0x01);

	pf_state_init(st);
	if (p == PF_PHASE_IDLE)
		return;
	pf_state_begin(st, 1700000000);
	memcpy(st->rollover, ID, sizeof(ID));
	if (pf_state_set_key(st, PF_ALG_RSA, PF_ROLE_NEXT, "/etc/postfix/key-20240101-000000.pem",
			     "/etc/postfix/cert-20240101-000000.pem", SPKI_A, NULL) < 0 ||
	    pf_state_set_key(st, PF_ALG_RSA, PF_ROLE_OLD, "/etc/postfix/key-old.pem",
			     "/etc/postfix/cert old.pem", SPKI_B, NULL) < 0 ||
	    pf_state_set_key(st, PF_ALG_ECDSA, PF_ROLE_NEXT,
			     "/etc/postfix/eckey-20240101-000000.pem",
			     "/etc/postfix/eccert-20240101-000000.pem", SPKI_C, NULL) < 0)
		abort();
	st->t[PF_T_GENERATED] = 1700000001;
	st->phase = PF_PHASE_GENERATED;
	if (p == PF_PHASE_GENERATED)
		return;
	if (pf_state_add_record(st, PF_ROLE_NEXT, PF_ALG_RSA, "mx.example.com.", 25, &r1, NULL) ||
	    pf_state_add_record(st, PF_ROLE_NEXT, PF_ALG_RSA, "mx.example.com", 25, &r2, NULL) ||
	    pf_state_add_record(st, PF_ROLE_NEXT, PF_ALG_ECDSA, "mx.example.com", 465, &r1, NULL) ||
	    pf_state_add_record(st, PF_ROLE_OLD, PF_ALG_RSA, "mx.example.com", 25, &r3, NULL) ||
	    pf_state_add_rrset(st, "mx.example.com", 25, true, 7200, NULL) ||
	    pf_state_add_rrset(st, "mx.example.com", 465, false, 0, NULL))
		abort();
	st->tlsa_ttl = 3600;
	st->have_soa = true;
	st->soa_ttl = 86400;
	st->soa_minimum = 300;
	st->have_serial = true;
	st->update_serial = 4294967295u;
	st->have_params = true;
	st->params = (pf_timing_params){2, 60, 0, 3600};
	st->t[PF_T_PUB] = 1700000010;
	st->phase = PF_PHASE_PUBLISHED;
	if (p == PF_PHASE_PUBLISHED)
		return;
	if (pf_state_confirm_server(st, "127.54.0.1:53", 7, 1700000011, NULL) ||
	    pf_state_confirm_server(st, "[::1]:5353", 7, 1700000012, NULL) ||
	    pf_state_confirm_server(st, "ns1.example.com", 8, 1700000013, NULL))
		abort();
	st->alert_count = 3;
	st->alert_last = 1700000500;
	st->t[PF_T_CONF] = 1700000013;
	st->phase = PF_PHASE_PROPAGATED;
	if (p == PF_PHASE_PROPAGATED)
		return;
	if (p == PF_PHASE_STAGED) {
		st->staging = true;
		st->t[PF_T_STAGED] = st->t[PF_T_CONF];
		st->t[PF_T_IN_SERVICE] = 1690000000;
		st->phase = PF_PHASE_STAGED;
		return;
	}
	st->t[PF_T_DEPLOYABLE] = 1700014473;
	st->phase = PF_PHASE_DEPLOYABLE;
	if (p == PF_PHASE_DEPLOYABLE)
		return;
	if (pf_state_add_setting(st, "smtpd_tls_cert_file", "/etc/postfix/cert old.pem", NULL) ||
	    pf_state_add_setting(st, "smtpd_tls_key_file", "/etc/postfix/key-old.pem", NULL) ||
	    pf_state_add_setting(st, "smtpd_tls_chain_files", "", NULL) ||
	    pf_state_add_setting(st, "tlsproxy_tls_cert_file", NULL, NULL) ||
	    pf_state_add_setting(st, "smtpd_tls_eccert_file", "$config_directory/a=b.pem", NULL))
		abort();
	st->t[PF_T_DEPLOYED] = 1700014480;
	st->t[PF_T_RELOAD] = 1700014482;
	st->phase = PF_PHASE_DEPLOYED;
	if (p == PF_PHASE_DEPLOYED)
		return;
	st->t[PF_T_VERIFIED] = 1700014483;
	st->phase = PF_PHASE_VERIFIED;
	if (p == PF_PHASE_VERIFIED)
		return;
	st->t[PF_T_RETIRED] = 1700018090;
	st->phase = PF_PHASE_RETIRED;
	if (p == PF_PHASE_RETIRED)
		return;
	/* PF_PHASE_FAILED: failed while deployed, with a hostile reason. */
	pf_state_free(st);
	build(st, PF_PHASE_DEPLOYED);
	pf_state_fail(st, 1700014490, "reload failed:\nexit 1\twith = signs = here");
}

static char *fmt(const pf_state *st)
{
	char *text = NULL;
	pf_err e = {0};

	if (pf_state_format(st, &text, NULL, &e) < 0) {
		printf("format failed: %s\n", e.msg);
		return pf_strdup("");
	}
	return text;
}

static void test_round_trips(void)
{
	for (int p = 0; p < PF_PHASE_COUNT; p++) {
		pf_state st, back;
		pf_err e = {0};
		char *a, *b;
		int r;

		build(&st, (enum pf_phase)p);
		a = fmt(&st);
		r = pf_state_parse("t", a, strlen(a), &back, &e);
		T_CHECK(r == 0, "round trip %s: parses (%s)", pf_phase_name((enum pf_phase)p),
			e.msg);
		if (r == 0) {
			b = fmt(&back);
			T_STREQ(a, b, "round trip %s: same text after parse and format",
				pf_phase_name((enum pf_phase)p));
			T_CHECK(back.phase == (enum pf_phase)p, "round trip %s: phase kept",
				pf_phase_name((enum pf_phase)p));
			free(b);
			pf_state_free(&back);
		}
		free(a);
		pf_state_free(&st);
	}
}

static void test_fields_survive(void)
{
	pf_state st, back;
	pf_err e = {0};
	char *a;

	build(&st, PF_PHASE_FAILED);
	a = fmt(&st);
	if (pf_state_parse("t", a, strlen(a), &back, &e) < 0) {
		T_CHECK(0, "failed state parses: %s", e.msg);
		return;
	}
	T_CHECK(back.phase == PF_PHASE_FAILED && back.failed_from == PF_PHASE_DEPLOYED,
		"failed state keeps the phase it failed from");
	T_STREQ(back.failed_reason, "reload failed:?exit 1?with = signs = here",
		"failure reason: control characters replaced, '=' kept");
	T_STREQ(back.rollover, ID, "rollover id kept");
	T_CHECK(back.t[PF_T_PUB] == 1700000010 && back.t[PF_T_CONF] == 1700000013 &&
			back.t[PF_T_RELOAD] == 1700014482 && back.t[PF_T_FAILED] == 1700014490,
		"timestamps kept");
	T_STREQ(back.keys[PF_ALG_RSA].old_cert, "/etc/postfix/cert old.pem",
		"path with a space kept");
	T_CHECK(!back.keys[PF_ALG_ECDSA].old_key, "absent old key stays absent");
	T_CHECK(back.n_records == 4 && back.records[1].rdata.selector == 0 &&
			back.records[1].rdata.mtype == 2 && back.records[1].rdata.len == 64 &&
			back.records[1].rdata.data[63] == 0x5c &&
			back.records[3].role == PF_ROLE_OLD,
		"records kept with parameters and data");
	T_STREQ(back.records[0].host, "mx.example.com", "record host stored without trailing dot");
	T_CHECK(back.n_maincf == 5 && back.maincf[2].value && back.maincf[2].value[0] == '\0' &&
			back.maincf[3].value == NULL,
		"main.cf snapshot tells an empty value from an unset one");
	T_STREQ(back.maincf[4].value, "$config_directory/a=b.pem", "main.cf value with '=' kept");
	T_CHECK(back.n_rrsets == 2 && back.rrsets[0].existed && back.rrsets[0].ttl == 7200 &&
			!back.rrsets[1].existed,
		"RRsets seen before kept");
	T_CHECK(back.have_soa && back.soa_ttl == 86400 && back.soa_minimum == 300 &&
			back.have_serial && back.update_serial == 4294967295u &&
			back.tlsa_ttl == 3600,
		"SOA values, serial and tlsa_ttl kept");
	T_CHECK(back.have_params && back.params.ttl_factor == 2 &&
			back.params.publish_safety == 60 && back.params.retire_delay == 3600,
		"timing parameters kept");
	T_CHECK(back.n_servers == 3 && strcmp(back.servers[1].name, "[::1]:5353") == 0 &&
			back.servers[2].serial == 8 && back.alert_count == 3 &&
			back.alert_last == 1700000500,
		"propagation bookkeeping kept");
	free(a);
	pf_state_free(&back);
	pf_state_free(&st);
}

/* The state keeps each record's canonical owner beside host and port; the
 * file holds host and port as before, byte for byte. */
static void test_owners(void)
{
	pf_tlsa_rdata r1 = rdata(1, 1, 0xab);
	pf_state st, back;
	pf_err e = {0};
	char *a, *b;

	build(&st, PF_PHASE_PUBLISHED);
	if (pf_state_add_record(&st, PF_ROLE_NEXT, PF_ALG_ECDSA, "MX2.Example.com.", 587, &r1, &e) <
		    0 ||
	    pf_state_add_rrset_owner(&st, "_587._tcp.mx2.example.com.", true, 600, &e) < 0) {
		T_CHECK(0, "records added: %s", e.msg);
		return;
	}
	T_STREQ(st.records[0].owner, "_25._tcp.mx.example.com.", "record owner canonical");
	T_STREQ(st.records[4].owner, "_587._tcp.mx2.example.com.",
		"record owner canonical: lowercase, one trailing dot");
	T_STREQ(st.records[4].host, "MX2.Example.com", "record host kept as given");
	T_CHECK(st.n_rrsets == 3 && st.rrsets[2].port == 587 &&
			t_streq(st.rrsets[2].host, "mx2.example.com") &&
			t_streq(st.rrsets[2].owner, "_587._tcp.mx2.example.com."),
		"RRset added by its owner name: host and port parsed out");
	T_CHECK(pf_state_add_rrset_owner(&st, "mx2.example.com.", true, 600, &e) == -EINVAL,
		"RRset owner not of the _PORT._tcp form refused");
	a = fmt(&st);
	T_CHECK(strstr(a, "record = next ecdsa MX2.Example.com 587 ") &&
			strstr(a, "rrset_before = mx2.example.com 587 600\n"),
		"file lines hold host and port as before");
	if (pf_state_parse("t", a, strlen(a), &back, &e) < 0) {
		T_CHECK(0, "state with owners parses: %s", e.msg);
		free(a);
		pf_state_free(&st);
		return;
	}
	T_STREQ(back.records[4].owner, "_587._tcp.mx2.example.com.", "owner derived again on load");
	T_STREQ(back.rrsets[1].owner, "_465._tcp.mx.example.com.", "RRset owner derived on load");
	b = fmt(&back);
	T_STREQ(a, b, "loaded and written again: the same bytes");
	free(a);
	free(b);
	pf_state_free(&back);
	pf_state_free(&st);
}

static void test_events(void)
{
	pf_state st, back;
	pf_err e = {0};
	char *a;

	build(&st, PF_PHASE_PUBLISHED);
	for (int i = 0; i < PF_STATE_MAX_EVENTS + 5; i++) {
		char msg[64];

		snprintf(msg, sizeof(msg), "event number %d\r\n", i);
		pf_state_add_event(&st, 1700000100 + i, i == 3 ? "Bad Kind!" : "server-confirmed",
				   msg);
	}
	pf_state_add_event(&st, 1700000200, "records-published", "");
	T_CHECK(st.n_events == PF_STATE_MAX_EVENTS, "at most %d events kept", PF_STATE_MAX_EVENTS);
	T_STREQ(st.events[0].msg, "event number 6??",
		"oldest events dropped first, text sanitised");
	a = fmt(&st);
	if (pf_state_parse("t", a, strlen(a), &back, &e) == 0) {
		T_CHECK(back.n_events == PF_STATE_MAX_EVENTS &&
				back.events[PF_STATE_MAX_EVENTS - 1].msg[0] == '\0' &&
				back.events[0].phase == PF_PHASE_PUBLISHED &&
				back.events[0].t == 1700000106,
			"events round trip, an empty message too");
		pf_state_free(&back);
	} else {
		T_CHECK(0, "events parse: %s", e.msg);
	}
	pf_state_free(&st);
	pf_state_init(&st);
	pf_state_add_event(&st, 1, "Bad Kind!", "x");
	T_STREQ(st.events[0].kind, "-ad--ind-", "event kind reduced to [a-z0-9-]");
	free(a);
	pf_state_free(&st);
}

static void test_begin(void)
{
	pf_state a, b;

	build(&a, PF_PHASE_DEPLOYED);
	pf_state_add_event(&a, 5, "deployed", "kept");
	pf_state_begin(&a, 42);
	pf_state_init(&b);
	pf_state_begin(&b, 42);
	T_CHECK(strlen(a.rollover) == 32 && strspn(a.rollover, "0123456789abcdef") == 32,
		"rollover id is 128 bits of lowercase hex");
	T_CHECK(strcmp(a.rollover, b.rollover) != 0, "two rollovers get different ids");
	T_CHECK(a.n_records == 0 && !a.keys[PF_ALG_RSA].present && a.n_maincf == 0 &&
			a.t[PF_T_PUB] == 0 && a.t[PF_T_STARTED] == 42 && a.n_events == 1,
		"begin clears the previous rollover but keeps its events");
	pf_state_free(&a);
	pf_state_free(&b);
}

/* Build a file body, then append a correct checksum so that only the
 * damage the case is about can be found. */
static char *with_sum(const char *body)
{
	char *out;
	unsigned char md[32];
	char hex[65];
	unsigned int mdlen = 0;

	EVP_Digest(body, strlen(body), md, &mdlen, EVP_sha256(), NULL);
	pf_hex(md, 32, hex);
	out = pf_asprintf("%schecksum = %s\n", body, hex);
	return out;
}

#define H "pftls-roll-state 1\n"
#define PUB_OK "rollover = " ID "\nphase = published\nt_started = 1\nt_pub = 3\n" PUB_OK_REST
#define PUB_OK_REST                                                                                \
	"rsa.next_key = /k.pem\nrsa.next_cert = /c.pem\nrsa.next_spki = " SPKI_A "\n"              \
	"record = next rsa mx.example.com 25 3 1 1 " SPKI_D "\n"                                   \
	"rrset_before = mx.example.com 25 none\ntlsa_ttl = 60\nsoa_ttl = 60\nsoa_minimum = 30\n"   \
	"update_serial = 5\nttl_factor = 2\npublish_safety = 1\npropagation_min_delay = 0\n"       \
	"retire_delay = 5\n"

static const struct bad {
	const char *name;
	const char *body; /* checksum appended unless raw */
	bool raw;
	const char *want;
} bads[] = {
	{"empty file", "", true, "t:1: empty file (expected \"pftls-roll-state 1\")"},
	{"unknown version", "pftls-roll-state 2\nphase = idle\n", false,
	 "t:1: unknown state file version \"2\" (this program reads version 1)"},
	{"not a state file", "hello world\nphase = idle\n", false,
	 "t:1: not a pftls-roll state file (expected \"pftls-roll-state 1\")"},
	{"torn: last line cut", H "phase = idle\nchecksum = 12", true,
	 "t:3: last line is incomplete (file truncated?)"},
	{"torn: checksum line lost", H "phase = idle\n", true,
	 "t:2: no checksum line at the end (file truncated or damaged)"},
	{"edited by hand",
	 H "phase = idle\nchecksum = "
	   "0000000000000000000000000000000000000000000000000000000000000000\n",
	 true, "t:3: checksum mismatch (file damaged or edited by hand)"},
	{"unknown key", H "phase = idle\ncolour = blue\n", false, "t:3: unknown key \"colour\""},
	{"unknown algorithm key", H "phase = idle\ndsa.next_key = /k\n", false,
	 "t:3: unknown key \"dsa.next_key\""},
	{"duplicate key", H "phase = idle\nphase = idle\n", false,
	 "t:3: duplicate phase (first at line 2)"},
	{"bad phase", H "phase = halfway\n", false,
	 "t:2: bad phase value \"halfway\" (a phase: idle, generated, published, propagated, "
	 "staged, "
	 "deployable, deployed, verified, retired or failed)"},
	{"missing phase", H "t_started = 5\n", false, "t:3: phase is missing"},
	{"missing ' = '", H "phase=idle\n", false, "t:2: expected \"key = value\""},
	{"bad rollover id", H "rollover = 0011\nphase = idle\nt_started = 1\n", false,
	 "t:2: bad rollover value \"0011\" (32 lowercase hex digits)"},
	{"uppercase rollover id", H "rollover = 00112233445566778899AABBCCDDEEFF\nphase = idle\n",
	 false,
	 "t:2: bad rollover value \"00112233445566778899AABBCCDDEEFF\" (32 lowercase hex "
	 "digits)"},
	{"bad timestamp", H "phase = idle\nt_pub = 12x\n", false,
	 "t:3: bad t_pub value \"12x\" (a number of seconds)"},
	{"negative timestamp", H "phase = idle\nt_conf = -5\n", false,
	 "t:3: bad t_conf value \"-5\" (a number of seconds)"},
	{"huge timestamp", H "phase = idle\nt_conf = 99999999999999999999\n", false,
	 "t:3: bad t_conf value \"99999999999999999999\" (a number of seconds)"},
	{"empty value", H "phase = idle\nt_conf = \n", false,
	 "t:3: bad t_conf value \"\" (a number of seconds)"},
	{"bad spki", H "phase = idle\nrsa.old_spki = abc\n", false,
	 "t:3: bad rsa.old_spki value \"abc\" (64 lowercase hex digits)"},
	{"relative key path", H "phase = idle\nrsa.old_key = key.pem\n", false,
	 "t:3: bad rsa.old_key value \"key.pem\" (an absolute path)"},
	{"key fields incomplete", H "phase = idle\nrsa.old_key = /k.pem\n", false,
	 "t:2: rsa: old_key, old_cert and old_spki go together"},
	{"control character", H "phase = idle\nfailed_reason = a\tb\n", false,
	 "t:3: control character in line"},
	{"CRLF line", "pftls-roll-state 1\r\nphase = idle\n", false,
	 "t:1: control character in line"},
	{"NUL byte", H "phase = idle\n\0", true, "t:3: NUL byte in the file"},
	{"bad record role", H "phase = idle\nrecord = new rsa a.example 25 3 1 1 " SPKI_A "\n",
	 false, "t:3: bad record role \"new\" (next or old)"},
	{"record with usage 2", H "phase = idle\nrecord = next rsa a.example 25 2 1 1 " SPKI_A "\n",
	 false, "t:3: bad record: TLSA usage 2 is not 3"},
	{"record data too short", H "phase = idle\nrecord = next rsa a.example 25 3 1 1 abcd\n",
	 false, "t:3: bad TLSA data \"abcd...\" (64 or 128 lowercase hex digits)"},
	{"record data length vs mtype",
	 H "phase = idle\nrecord = next rsa a.example 25 3 1 2 " SPKI_A "\n", false,
	 "t:3: bad record: TLSA data of 32 octets does not fit matching type 2"},
	{"record host", H "phase = idle\nrecord = next rsa a_b.example 25 3 1 1 " SPKI_A "\n",
	 false, "t:3: bad record: \"a_b.example\" is not a valid host name"},
	{"record port", H "phase = idle\nrecord = next rsa a.example 0 3 1 1 " SPKI_A "\n", false,
	 "t:3: bad port \"0\" (1-65535)"},
	{"record fields", H "phase = idle\nrecord = next rsa a.example  25 3 1 1 " SPKI_A "\n",
	 false, "t:3: bad record: expected \"ROLE ALG HOST PORT USAGE SELECTOR MTYPE HEX\""},
	{"record without its key",
	 H "phase = idle\nrecord = next rsa a.example 25 3 1 1 " SPKI_A "\n", false,
	 "t:2: record for a.example port 25: the next rsa key is not set"},
	{"duplicate record",
	 H "rollover = " ID
	   "\nphase = generated\nt_started = 1\nrsa.next_key = /k\nrsa.next_cert = "
	   "/c\nrsa.next_spki = " SPKI_A "\nrecord = next rsa a.example 25 3 1 1 " SPKI_A
	   "\nrecord = next rsa A.example. 25 3 1 1 " SPKI_A "\n",
	 false, "t:9: bad record: record for A.example port 25 listed twice"},
	{"duplicate main.cf setting", H "phase = idle\nmaincf = a=1\nmaincf = a\n", false,
	 "t:4: bad maincf: main.cf parameter a listed twice"},
	{"bad main.cf name", H "phase = idle\nmaincf = a-b=1\n", false,
	 "t:3: bad maincf: \"a-b\" is not a main.cf parameter name"},
	{"bad rrset TTL", H "phase = idle\nrrset_before = a.example 25 forever\n", false,
	 "t:3: bad rrset_before TTL value \"forever\" (a TTL from 0 to 2147483647)"},
	{"bad server", H "phase = idle\nserver = [::1 1 5\n", false,
	 "t:3: bad server: \"[::1\" is not a server name"},
	{"bad event phase", H "phase = idle\nevent = 5 started nowhere hi\n", false,
	 "t:3: bad event phase \"nowhere\""},
	{"bad event kind", H "phase = idle\nevent = 5 Started idle hi\n", false,
	 "t:3: bad event kind \"Started\""},
	{"SOA TTL without MINIMUM", H "phase = idle\nsoa_ttl = 5\n", false,
	 "t:3: soa_minimum is missing (it goes with the line here)"},
	{"tlsa_ttl zero", H "phase = idle\ntlsa_ttl = 0\n", false,
	 "t:3: bad tlsa_ttl value \"0\" (1 to 2147483647)"},
	{"ttl_factor out of range", H "phase = idle\nttl_factor = 101\n", false,
	 "t:3: bad ttl_factor value \"101\" (1 to 100)"},
	{"rollover phase without id", H "phase = generated\n", false,
	 "t:2: phase generated requires rollover, which is missing"},
	{"generated without keys", H "rollover = " ID "\nphase = generated\nt_started = 1\n", false,
	 "t:3: phase generated requires the next keys (<alg>.next_key, next_cert, next_spki), "
	 "which is missing"},
	{"published without t_pub",
	 H "rollover = " ID "\nphase = published\nt_started = 1\n"
	   "rsa.next_key = /k\nrsa.next_cert = /c\nrsa.next_spki = " SPKI_A "\n",
	 false, "t:3: phase published requires t_pub, which is missing"},
	{"published without SOA for an absent RRset",
	 H "rollover = " ID "\nphase = published\nt_started = 1\nt_pub = 3\n"
	   "rsa.next_key = /k.pem\nrsa.next_cert = /c.pem\nrsa.next_spki = " SPKI_A "\n"
	   "record = next rsa mx.example.com 25 3 1 1 " SPKI_D "\n"
	   "rrset_before = mx.example.com 25 none\ntlsa_ttl = 60\n"
	   "update_serial = 5\nttl_factor = 2\npublish_safety = 1\npropagation_min_delay = 0\n"
	   "retire_delay = 5\n",
	 false, "t:3: phase published requires soa_ttl and soa_minimum, which is missing"},
	{"propagated without t_conf",
	 H "rollover = " ID "\nphase = propagated\nt_started = 1\n"
	   "t_pub = 3\nrsa.next_key = /k.pem\nrsa.next_cert = /c.pem\n"
	   "rsa.next_spki = " SPKI_A "\n"
	   "record = next rsa mx.example.com 25 3 1 1 " SPKI_D "\n"
	   "rrset_before = mx.example.com 25 none\ntlsa_ttl = 60\n"
	   "soa_ttl = 60\nsoa_minimum = 30\nupdate_serial = 5\n"
	   "ttl_factor = 2\npublish_safety = 1\n"
	   "propagation_min_delay = 0\nretire_delay = 5\n",
	 false, "t:3: phase propagated requires t_conf, which is missing"},
	{"failed without reason",
	 H "rollover = " ID "\nphase = failed\nfailed_from = idle\n"
	   "t_started = 1\n",
	 false, "t:3: phase failed requires failed_reason, which is missing"},
	{"failed without failed_from",
	 H "rollover = " ID "\nphase = failed\nfailed_reason = x\n"
	   "t_started = 1\n",
	 false, "t:3: phase failed requires failed_from, which is missing"},
	{"failed from failed",
	 H "rollover = " ID "\nphase = failed\nfailed_from = failed\n"
	   "failed_reason = x\nt_started = 1\n",
	 false, "t:3: failed_from must name the phase that failed"},
	{"failed held to the rules of its phase",
	 H "rollover = " ID "\nphase = failed\nfailed_from = published\nfailed_reason = x\n"
	   "t_started = 1\n",
	 false,
	 "t:3: phase published requires the next keys (<alg>.next_key, next_cert, "
	 "next_spki), which is missing"},
	{"failure reason outside failed", H "phase = idle\nfailed_reason = x\n", false,
	 "t:2: failed_reason is set but the phase is idle, not failed"},
	{"failed_from outside failed", H "phase = idle\nfailed_from = deployed\n", false,
	 "t:3: failed_from is set but the phase is idle, not failed"},
	{"checksum in the middle", H "checksum = x\nphase = idle\n", false,
	 "t:2: unknown key \"checksum\""},
#define MS_WANT "(seconds, or seconds and exactly three digits of milliseconds: S.mmm)"
	{"stamp: one digit of ms", H "phase = idle\nt_started = 3.5\n", false,
	 "t:3: bad t_started value \"3.5\" " MS_WANT},
	{"stamp: four digits of ms", H "phase = idle\nt_started = 3.1234\n", false,
	 "t:3: bad t_started value \"3.1234\" " MS_WANT},
	{"stamp: a dot and no ms", H "phase = idle\nt_started = 3.\n", false,
	 "t:3: bad t_started value \"3.\" " MS_WANT},
	{"stamp: ms not digits", H "phase = idle\nt_started = 3.1e2\n", false,
	 "t:3: bad t_started value \"3.1e2\" " MS_WANT},
	{"stamp: ms and no seconds", H "phase = idle\nt_started = .250\n", false,
	 "t:3: bad t_started value \".250\" " MS_WANT},
};

static void test_bad_files(void)
{
	for (size_t i = 0; i < PF_ELEMENTSOF(bads); i++) {
		const struct bad *c = &bads[i];
		pf_state st;
		pf_err e = {0};
		char *text;
		size_t len;
		int r;

		if (c->raw) {
			len = strlen(c->body);
			if (strcmp(c->name, "NUL byte") == 0)
				len++;
			text = pf_malloc(len + 1);
			memcpy(text, c->body, len);
			text[len] = '\0';
		} else {
			text = with_sum(c->body);
			len = strlen(text);
		}
		memset(&st, 0x5a, sizeof(st));
		r = pf_state_parse("t", text, len, &st, &e);
		T_CHECK(r == -EINVAL, "bad file %s: refused", c->name);
		T_STREQ(e.msg, c->want, "bad file %s: message (got \"%s\")", c->name, e.msg);
		T_CHECK(st.n_records == (size_t)0x5a5a5a5a5a5a5a5aull,
			"bad file %s: output left untouched", c->name);
		free(text);
	}

	/* The good base of the published cases parses, so each case above
	 * fails for its own reason only. */
	{
		char *text = with_sum(H PUB_OK);
		pf_state st;
		pf_err e = {0};

		T_CHECK(pf_state_parse("t", text, strlen(text), &st, &e) == 0,
			"minimal published state parses (%s)", e.msg);
		if (!e.code)
			pf_state_free(&st);
		free(text);
	}
	/* A stamp to the ms: S.mmm is S s and mmm ms (its second rounded up
	 * in t[]); a whole second keeps its meaning; both written back as
	 * read. */
	{
		char *text = with_sum(H "rollover = " ID "\nphase = published\nt_started = 1\n"
					"t_pub = 3.250\nt_conf = 7.000\n" PUB_OK_REST);
		char *again = NULL;
		pf_state st;
		pf_err e = {0};
		size_t len;

		T_CHECK(pf_state_parse("t", text, strlen(text), &st, &e) == 0 &&
				st.t[PF_T_PUB] == 4 && pf_state_stamp_ms(&st, PF_T_PUB) == 3250 &&
				st.t[PF_T_CONF] == 7 && pf_state_stamp_ms(&st, PF_T_CONF) == 7000 &&
				pf_state_stamp_ms(&st, PF_T_STARTED) == 1000,
			"stamps to the ms parse: t_pub 3.250 is 3250 ms, second 4; t_started 1 "
			"is 1000 ms (%s)",
			e.msg);
		T_CHECK(e.code == 0 && pf_state_format(&st, &again, &len, &e) == 0 &&
				strstr(again, "\nt_pub = 3.250\n") &&
				strstr(again, "\nt_conf = 7.000\n") &&
				strstr(again, "\nt_started = 1\n"),
			"stamps to the ms written back as read (%s)", e.msg);
		if (!e.code) {
			/* A stamp set on its own since (t[] only) is its second. */
			st.t[PF_T_PUB] = 9;
			T_CHECK(pf_state_stamp_ms(&st, PF_T_PUB) == 9000,
				"a ms stamp that no longer goes with its second is not used");
			pf_state_free(&st);
		}
		free(again);
		free(text);
	}
	/* Anything after the checksum line is damage too. */
	{
		char *good = with_sum(H "phase = idle\n");
		char *text = pf_asprintf("%sphase = idle\n", good);
		pf_state st;
		pf_err e = {0};

		T_CHECK(pf_state_parse("t", text, strlen(text), &st, &e) == -EINVAL &&
				t_streq(e.msg,
					"t:4: no checksum line at the end (file truncated or "
					"damaged)"),
			"text after the checksum line refused (%s)", e.msg);
		free(good);
		free(text);
	}
	/* Every prefix of a real file is refused: a torn write is always seen. */
	{
		pf_state st;
		char *text;
		size_t len, accepted = 0;

		build(&st, PF_PHASE_FAILED);
		text = fmt(&st);
		pf_state_free(&st);
		len = strlen(text);
		for (size_t n = 0; n < len; n++) {
			pf_state out;
			pf_err e = {0};

			if (pf_state_parse("t", text, n, &out, &e) == 0) {
				accepted++;
				pf_state_free(&out);
			}
		}
		T_CHECK(accepted == 0, "none of the %zu truncations of a state file is accepted",
			len);
		/* And every single flipped bit. */
		accepted = 0;
		for (size_t n = 0; n < len; n++) {
			for (int bit = 0; bit < 8; bit++) {
				pf_state out;
				pf_err e = {0};

				text[n] ^= (char)(1 << bit);
				if (pf_state_parse("t", text, len, &out, &e) == 0) {
					accepted++;
					pf_state_free(&out);
				}
				text[n] ^= (char)(1 << bit);
			}
		}
		T_CHECK(accepted == 0,
			"none of the %zu one-bit changes of a state file is accepted", len * 8);
		free(text);
	}
	/* Size bound. */
	{
		size_t len = PF_STATE_MAX_BYTES + 1;
		char *big = pf_malloc(len + 1);
		pf_state st;
		pf_err e = {0};
		char want[80];

		memset(big, 'a', len);
		big[len] = '\0';
		snprintf(want, sizeof(want), "t:1: file too large (more than %d bytes)",
			 PF_STATE_MAX_BYTES);
		T_CHECK(pf_state_parse("t", big, len, &st, &e) == -EINVAL && t_streq(e.msg, want),
			"oversized file refused (%s)", e.msg);
		free(big);
	}
	/* Too many events. */
	{
		char *body = pf_strdup(H "phase = idle\n"), *text;
		pf_state st;
		pf_err e = {0};

		for (int i = 0; i <= PF_STATE_MAX_EVENTS; i++) {
			char *n = pf_asprintf("%sevent = %d x idle m\n", body, i);

			free(body);
			body = n;
		}
		text = with_sum(body);
		T_CHECK(pf_state_parse("t", text, strlen(text), &st, &e) == -EINVAL &&
				t_streq(e.msg, "t:23: more than 20 events"),
			"too many events refused (%s)", e.msg);
		free(body);
		free(text);
	}
}

static void test_writer_refuses(void)
{
	pf_state st;
	pf_err e = {0};
	char *text = NULL;

	build(&st, PF_PHASE_PUBLISHED);
	st.t[PF_T_PUB] = 0;
	T_CHECK(pf_state_format(&st, &text, NULL, &e) == -EINVAL &&
			t_streq(e.msg, "phase published requires t_pub, which is missing"),
		"writer refuses a state it could not read back (%s)", e.msg);
	pf_state_free(&st);
	build(&st, PF_PHASE_DEPLOYED);
	st.keys[PF_ALG_RSA].old_key[0] = 'x';
	T_CHECK(pf_state_format(&st, &text, NULL, &e) == -EINVAL,
		"writer refuses a relative path set behind the setters' back");
	pf_state_free(&st);
	pf_state_init(&st);
	T_CHECK(pf_state_add_setting(&st, "smtpd_tls_cert_file", "a\nphase = failed", &e) ==
			-EINVAL,
		"a main.cf value with a newline cannot be stored");
	T_CHECK(pf_state_set_key(&st, PF_ALG_RSA, PF_ROLE_NEXT, "/k", "/c", "ABC", &e) == -EINVAL,
		"a key without a hex digest cannot be stored");
	T_CHECK(pf_state_add_rrset(&st, "bad host", 25, true, 5, &e) == -EINVAL,
		"an RRset with a bad host cannot be stored");
	pf_state_free(&st);
}

/* ---- files ---- */

static char *slurp(const char *path)
{
	char *text = NULL;

	if (pf_read_file(path, PF_STATE_MAX_BYTES, &text, NULL, NULL) < 0)
		return NULL;
	return text;
}

static size_t count_entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void test_files(void)
{
	char *path = pf_state_path(dir), *text, *want;
	pf_state st, back;
	pf_err e = {0};
	struct stat sb;

	T_CHECK(pf_state_load(path, "/etc/postfix", &back, &e) == -ENOENT,
		"no state file: -ENOENT (%s)", e.msg);
	build(&st, PF_PHASE_DEPLOYED);
	T_CHECK(pf_state_save(path, &st, &e) == 0, "save (%s)", e.msg);
	T_CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600, "state file mode 0600");
	if (pf_state_load(path, "/etc/postfix", &back, &e) == 0) {
		char *a = fmt(&st), *b = fmt(&back);

		T_STREQ(a, b, "load returns what save wrote");
		free(a);
		free(b);
		pf_state_free(&back);
	} else {
		T_CHECK(0, "load: %s", e.msg);
	}
	/* An invalid state is not written, and the file stays as it was. */
	want = slurp(path);
	st.t[PF_T_RELOAD] = 0;
	T_CHECK(pf_state_save(path, &st, &e) == -EINVAL, "save refuses an invalid state");
	T_CHECK(strstr(e.msg, "requires t_reload") != NULL, "save says why (%s)", e.msg);
	text = slurp(path);
	T_STREQ(text, want, "refused save leaves the file unchanged");
	free(text);
	/* A damaged file on disk: load refuses, the file is untouched. */
	{
		int fd = open(path, O_WRONLY);

		if (fd < 0 || pwrite(fd, "X", 1, 30) != 1)
			abort();
		close(fd);
		want[30] = 'X';
		memset(&back, 0, sizeof(back));
		T_CHECK(pf_state_load(path, "/etc/postfix", &back, &e) == -EINVAL &&
				strstr(e.msg, "checksum mismatch") &&
				strncmp(e.msg, path, strlen(path)) == 0,
			"damaged file on disk refused with its path (%s)", e.msg);
		text = slurp(path);
		T_STREQ(text, want, "refused load leaves the file unchanged");
		free(text);
	}
	free(want);
	unlink(path);
	free(path);
	pf_state_free(&st);
}

/* Save new_st in a child told to die at fault point; returns true when the
 * child was killed by SIGKILL there. */
static bool save_killed_at(const char *path, const pf_state *new_st, const char *point)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		setenv("PFTLS_FAULT", point, 1);
		pf_state_save(path, new_st, NULL);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return false;
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

static void test_crash_safety(void)
{
	static const struct {
		const char *point;
		bool new_visible; /* after a kill here, the new state is on disk */
	} points[] = {
		{"write", false},
		{"fsync", false},
		{"rename", false},
		{"dirsync", true},
	};
	char *path = pf_state_path(dir);
	pf_state old_st, new_st;
	char *old_text, *new_text;

	if (!pf_fault_injection()) { /* e.g. the Debian package's build */
		printf("# crash safety: skipped, built without fault injection\n");
		free(path);
		return;
	}
	build(&old_st, PF_PHASE_PROPAGATED);
	build(&new_st, PF_PHASE_DEPLOYED);
	old_text = fmt(&old_st);
	new_text = fmt(&new_st);
	for (int with_old = 1; with_old >= 0; with_old--) {
		for (size_t i = 0; i < PF_ELEMENTSOF(points); i++) {
			const char *pt = points[i].point;
			pf_state back;
			pf_err e = {0};
			int r;

			unlink(path);
			if (with_old && pf_state_save(path, &old_st, NULL) < 0)
				abort();
			T_CHECK(save_killed_at(path, &new_st, pt),
				"%s old file: writer killed at %s", with_old ? "with" : "without",
				pt);
			r = pf_state_load(path, "/etc/postfix", &back, &e);
			if (points[i].new_visible || with_old) {
				const char *want = points[i].new_visible ? new_text : old_text;
				char *got = r == 0 ? fmt(&back) : NULL;

				T_CHECK(r == 0 && t_streq(got, want),
					"%s old file, killed at %s: the %s state loads intact (%s)",
					with_old ? "with" : "without", pt,
					points[i].new_visible ? "new" : "old", e.msg);
				free(got);
				if (r == 0)
					pf_state_free(&back);
			} else {
				T_CHECK(r == -ENOENT,
					"without old file, killed at %s: still no file", pt);
			}
			/* The next save succeeds and clears the dead writer's temporary. */
			T_CHECK(pf_state_save(path, &new_st, &e) == 0 && count_entries() == 1,
				"%s old file, killed at %s: next save works and leaves only the "
				"state "
				"file (%zu entries)",
				with_old ? "with" : "without", pt, count_entries());
		}
	}
	unlink(path);
	free(path);
	free(old_text);
	free(new_text);
	pf_state_free(&old_st);
	pf_state_free(&new_st);
}

/* A state with one next key of alg named keypath / certpath. */
static void one_key(pf_state *st, enum pf_alg alg, const char *keypath, const char *certpath)
{
	pf_state_init(st);
	pf_state_begin(st, 1700000000);
	if (pf_state_set_key(st, alg, PF_ROLE_NEXT, keypath, certpath, SPKI_A, NULL) < 0)
		abort();
	st->phase = PF_PHASE_GENERATED;
	st->t[PF_T_GENERATED] = 1700000001;
}

/*
 * Rule 8 (SPEC.md 5): the next files a state names must be this program's
 * own, directly in postfix_config_directory.  Each case is a pair of next
 * files (%s: the configuration directory, %o: a directory outside it) and
 * the words the refusal must use, or NULL when the pair is ours.
 */
static void test_untrusted_files(void)
{
	static const struct {
		const char *name;
		enum pf_alg alg;
		const char *key, *cert;
		const char *want; /* NULL: accepted */
		const char *field;
	} cases[] = {
		{"RSA pair", PF_ALG_RSA, "%s/key-20260101-120000.pem",
		 "%s/cert-20260101-120000.pem", NULL, ""},
		{"ECDSA pair", PF_ALG_ECDSA, "%s/eckey-20260101-120000.pem",
		 "%s/eccert-20260101-120000.pem", NULL, ""},
		{"repeated and trailing slashes", PF_ALG_RSA, "%s//key-20260101-120000.pem",
		 "%s/cert-20260101-120000.pem", NULL, ""},
		{"outside the directory", PF_ALG_RSA, "%s/key-20260101-120000.pem",
		 "%o/cert-20260101-120000.pem", "is not directly in postfix_config_directory",
		 "rsa.next_cert"},
		{"the victim's own name", PF_ALG_RSA, "%o/victim", "%s/cert-20260101-120000.pem",
		 "is not directly in", "rsa.next_key"},
		{"dot-dot out of the directory", PF_ALG_RSA, "%s/../key-20260101-120000.pem",
		 "%s/cert-20260101-120000.pem", "\"..\" component", "rsa.next_key"},
		{"dot-dot back into it", PF_ALG_RSA, "%s/key-20260101-120000.pem",
		 "%s/../%b/cert-20260101-120000.pem", "\"..\" component", "rsa.next_cert"},
		{"a subdirectory", PF_ALG_RSA, "%s/sub/key-20260101-120000.pem",
		 "%s/sub/cert-20260101-120000.pem", "is not directly in", "rsa.next_key"},
		{"a symlinked directory escape", PF_ALG_RSA, "%s/escape/key-20260101-120000.pem",
		 "%s/escape/cert-20260101-120000.pem", "is not directly in", "rsa.next_key"},
		{"another name for the directory", PF_ALG_RSA, "%a/key-20260101-120000.pem",
		 "%a/cert-20260101-120000.pem", "is not directly in", "rsa.next_key"},
		{"main.cf itself", PF_ALG_RSA, "%s/key-20260101-120000.pem", "%s/main.cf",
		 "is not named as this program names RSA certificate files", "rsa.next_cert"},
		{"wrong prefix for the algorithm", PF_ALG_RSA, "%s/eckey-20260101-120000.pem",
		 "%s/eccert-20260101-120000.pem", "names RSA key files", "rsa.next_key"},
		{"key and certificate swapped", PF_ALG_ECDSA, "%s/eccert-20260101-120000.pem",
		 "%s/eckey-20260101-120000.pem", "names ECDSA key files", "ecdsa.next_key"},
		{"short stamp", PF_ALG_RSA, "%s/key-2026010-120000.pem",
		 "%s/cert-2026010-120000.pem", "is not named", "rsa.next_key"},
		{"suffix after .pem", PF_ALG_RSA, "%s/key-20260101-120000.pem.bak",
		 "%s/cert-20260101-120000.pem", "is not named", "rsa.next_key"},
		{"stamps of two rollovers", PF_ALG_RSA, "%s/key-20260101-120000.pem",
		 "%s/cert-20260101-120001.pem", "time stamps differ", "rsa.next_cert"},
		{"a symbolic link in our name", PF_ALG_RSA, "%s/key-20250101-000000.pem",
		 "%s/cert-20250101-000000.pem", "a symbolic link", "rsa.next_key"},
	};
	char *cfg = pf_asprintf("%s/postfix", dir), *out = pf_asprintf("%s/outside", dir);
	char *alias = pf_asprintf("%s/alias", dir), *s;

	if (mkdir(cfg, 0700) < 0 || mkdir(out, 0700) < 0 || symlink(cfg, alias) < 0)
		abort();
	s = pf_asprintf("%s/escape", cfg);
	if (symlink(out, s) < 0)
		abort();
	free(s);
	s = pf_asprintf("%s/key-20250101-000000.pem", cfg);
	if (symlink("/etc/shadow", s) < 0)
		abort();
	free(s);
	for (size_t i = 0; i < PF_ELEMENTSOF(cases); i++) {
		char *paths[2];
		char field[32] = "";
		pf_state st;
		pf_err e = {0};
		int r;

		for (int j = 0; j < 2; j++) {
			const char *f = j ? cases[i].cert : cases[i].key;
			const char *rest = f + 2, *base = strrchr(cfg, '/') + 1;

			paths[j] = f[1] == 's'   ? pf_asprintf("%s%s", cfg, rest)
				   : f[1] == 'o' ? pf_asprintf("%s%s", out, rest)
						 : pf_asprintf("%s%s", alias, rest);
			if (strstr(paths[j], "%b")) { /* "%s/../%b/..." */
				char *p = strstr(paths[j], "%b"), *q;

				*p = '\0';
				q = pf_asprintf("%s%s%s", paths[j], base, p + 2);
				free(paths[j]);
				paths[j] = q;
			}
		}
		one_key(&st, cases[i].alg, paths[0], paths[1]);
		r = pf_state_check_files(&st, cfg, field, &e);
		if (!cases[i].want)
			T_CHECK(r == 0, "%s: accepted (%s)", cases[i].name, e.msg);
		else
			T_CHECK(r == -EINVAL && strstr(e.msg, cases[i].want) &&
					strcmp(field, cases[i].field) == 0 &&
					strstr(e.msg, cases[i].field),
				"%s: untrusted, naming %s (%s: %s)", cases[i].name, cases[i].field,
				field, e.msg);
		pf_state_free(&st);
		free(paths[0]);
		free(paths[1]);
	}
	/* The configured directory may itself be written with a trailing
	 * slash; its files are the same. */
	{
		char *slashed = pf_asprintf("%s/", cfg),
		     *k = pf_asprintf("%s/key-20260101-120000.pem", cfg),
		     *c = pf_asprintf("%s/cert-20260101-120000.pem", cfg);
		pf_state st;
		pf_err e = {0};

		one_key(&st, PF_ALG_RSA, k, c);
		T_CHECK(pf_state_check_files(&st, slashed, NULL, &e) == 0,
			"postfix_config_directory with a trailing slash (%s)", e.msg);
		pf_state_free(&st);
		/* One configured with a "..": its own files, made from that text,
		 * are in it. */
		{
			char *dotted = pf_asprintf("%s/../postfix", cfg);
			char *dk = pf_asprintf("%s/key-20260101-120000.pem", dotted);
			char *dc = pf_asprintf("%s/cert-20260101-120000.pem", dotted);

			one_key(&st, PF_ALG_RSA, dk, dc);
			T_CHECK(pf_state_check_files(&st, dotted, NULL, &e) == 0,
				"postfix_config_directory configured with \"..\": its files (%s)",
				e.msg);
			T_CHECK(pf_state_check_files(&st, cfg, NULL, &e) == -EINVAL &&
					strstr(e.msg, "\"..\" component"),
				"the same files against the plain name: untrusted (%s)", e.msg);
			pf_state_free(&st);
			free(dotted);
			free(dk);
			free(dc);
		}
		one_key(&st, PF_ALG_RSA, k, c);
		/* A rollback may put back only the deploy's own parameters. */
		T_CHECK(pf_state_add_setting(&st, "smtpd_tls_key_file", "/etc/ssl/private/x.key",
					     &e) == 0 &&
				pf_state_check_files(&st, cfg, NULL, &e) == 0,
			"a snapshot of smtpd_tls_key_file (the operator's own path) is trusted "
			"(%s)",
			e.msg);
		T_CHECK(pf_state_add_setting(&st, "mailbox_command", "/tmp/x", &e) == 0 &&
				pf_state_check_files(&st, cfg, NULL, &e) == -EINVAL &&
				strstr(e.msg, "maincf names mailbox_command"),
			"a snapshot of mailbox_command is untrusted (%s)", e.msg);
		pf_state_free(&st);
		/* The old key is the operator's: anywhere. */
		one_key(&st, PF_ALG_RSA, k, c);
		T_CHECK(pf_state_set_key(&st, PF_ALG_RSA, PF_ROLE_OLD,
					 "/etc/ssl/private/snakeoil.key",
					 "/etc/ssl/certs/snakeoil.pem", SPKI_B, &e) == 0 &&
				pf_state_check_files(&st, cfg, NULL, &e) == 0,
			"an old key outside the directory (main.cf's before) is trusted (%s)",
			e.msg);
		pf_state_free(&st);
		free(slashed);
		free(k);
		free(c);
	}
	/* Load: the file's path, the field's line, exit -EINVAL; no state. */
	{
		char *path = pf_state_path(dir),
		     *victim = pf_asprintf("%s/cert-20260101-120000.pem", out);
		char *k = pf_asprintf("%s/key-20260101-120000.pem", cfg), *text, *want;
		pf_state st, back;
		pf_err e = {0};
		unsigned line = 0;

		one_key(&st, PF_ALG_RSA, k, victim);
		T_CHECK(pf_state_save(path, &st, &e) == 0,
			"a state naming a file outside saves (%s)", e.msg);
		text = slurp(path);
		for (char *p = text; p && (p = strstr(p, "\n")) != NULL; p++) {
			line++;
			if (strncmp(p + 1, "rsa.next_cert = ", 16) == 0)
				break;
		}
		want = pf_asprintf(
			"%s:%u: untrusted state: rsa.next_cert \"%s\" is not directly in "
			"postfix_config_directory %s",
			path, line + 1, victim, cfg);
		memset(&back, 0x5a, sizeof(back));
		T_CHECK(pf_state_load(path, cfg, &back, &e) == -EINVAL &&
				strncmp(e.msg, want, strlen(want)) == 0 &&
				strstr(e.msg, "nothing was done"),
			"load refuses it: \"%s\" (%s)", want, e.msg);
		T_CHECK(((unsigned char *)&back)[0] == 0x5a, "a refused load leaves *ret alone");
		pf_state_free(&st);
		unlink(path);
		free(path);
		free(victim);
		free(k);
		free(text);
		free(want);
	}
	s = pf_asprintf("%s/key-20250101-000000.pem", cfg);
	unlink(s);
	free(s);
	s = pf_asprintf("%s/escape", cfg);
	unlink(s);
	free(s);
	unlink(alias);
	rmdir(out);
	rmdir(cfg);
	free(cfg);
	free(out);
	free(alias);
}

static void test_dir_create(void)
{
	char *sub = pf_asprintf("%s/sub", dir), *file = pf_asprintf("%s/file", dir);
	struct stat sb;
	pf_err e = {0};

	T_CHECK(pf_state_dir_create(sub, &e) == 0 && stat(sub, &sb) == 0 &&
			(sb.st_mode & 0777) == 0700,
		"state directory created 0700");
	T_CHECK(pf_state_dir_create(sub, &e) == 0, "existing state directory accepted");
	close(open(file, O_CREAT | O_WRONLY, 0600));
	T_CHECK(pf_state_dir_create(file, &e) == -ENOTDIR, "a file in the way is refused (%s)",
		e.msg);
	unlink(file);
	rmdir(sub);
	free(sub);
	free(file);
}

/* The rollover counters (metrics): new optional keys, kept across
 * rollovers; a file without them (every file before them) loads as 0. */
static void test_counters(void)
{
	pf_state st, back;
	pf_err e = {0};
	char *a = NULL;
	size_t len = 0;

	pf_state_init(&st);
	T_CHECK(pf_state_format(&st, &a, &len, &e) == 0 && !strstr(a, "rollovers_"),
		"counters: no counter line while both are 0 (the format before them)");
	T_CHECK(pf_state_parse("old", a, len, &back, &e) == 0 && back.rollovers_completed == 0 &&
			back.rollovers_failed == 0,
		"counters: a file without them loads with both 0");
	free(a);
	pf_state_free(&back);
	st.rollovers_completed = 5;
	st.rollovers_failed = 2;
	pf_state_begin(&st, 1700000000);
	T_CHECK(st.rollovers_completed == 5 && st.rollovers_failed == 2,
		"counters: pf_state_begin keeps them");
	T_CHECK(pf_state_format(&st, &a, &len, &e) == 0 &&
			strstr(a, "\nrollovers_completed = 5\n") &&
			strstr(a, "\nrollovers_failed = 2\n"),
		"counters: written as rollovers_completed / rollovers_failed");
	T_CHECK(pf_state_parse("new", a, len, &back, &e) == 0 && back.rollovers_completed == 5 &&
			back.rollovers_failed == 2,
		"counters: read back (%s)", e.msg);
	free(a);
	pf_state_free(&back);
	pf_state_free(&st);
}

/* The CA-issued files' names (roll_cert.c): the key's stamp, "-ca-", the
 * moment obtained; chain-alone or key+chain; nothing else. */
static void test_ca_file_names(void)
{
	static const struct {
		const char *base;
		enum pf_alg alg;
		bool combined, want;
	} cases[] = {
		{"cert-20260101-000000-ca-20260301-120000.pem", PF_ALG_RSA, false, true},
		{"eccert-20260101-000000-ca-20260301-120000.pem", PF_ALG_ECDSA, false, true},
		{"chain-20260101-000000-ca-20260301-120000.pem", PF_ALG_RSA, true, true},
		{"ecchain-20260101-000000-ca-20260301-120000.pem", PF_ALG_ECDSA, true, true},
		{"eccert-20260101-000000-ca-20260301-120000.pem", PF_ALG_RSA, false, false},
		{"chain-20260101-000000-ca-20260301-120000.pem", PF_ALG_RSA, false, false},
		{"cert-20260101-000000-ca-20260301-120000.pem", PF_ALG_RSA, true, false},
		{"cert-20260101-000000.pem", PF_ALG_RSA, false, false},
		{"cert-20260101-000000-ca-20260301-12000.pem", PF_ALG_RSA, false, false},
		{"cert-20260101-000000-ca-20260301-120000.pem.bak", PF_ALG_RSA, false, false},
		{"cert-20260101-000000-cb-20260301-120000.pem", PF_ALG_RSA, false, false},
		{"cert-2026010a-000000-ca-20260301-120000.pem", PF_ALG_RSA, false, false},
		{"../cert-20260101-000000-ca-20260301-120000.pem", PF_ALG_RSA, false, false},
		{"", PF_ALG_RSA, false, false},
	};
	const char *st = NULL;

	for (size_t i = 0; i < PF_ELEMENTSOF(cases); i++)
		T_CHECK(pf_ca_file_name_ours(cases[i].base, cases[i].alg, cases[i].combined,
					     NULL) == cases[i].want,
			"CA file name \"%s\" (%s%s): %s", cases[i].base, pf_alg_name(cases[i].alg),
			cases[i].combined ? ", key+chain" : "",
			cases[i].want ? "ours" : "not ours");
	T_CHECK(pf_ca_file_name_ours(cases[0].base, PF_ALG_RSA, false, &st) &&
			strncmp(st, "20260101-000000", 15) == 0 && st[15] == '-',
		"CA file name: the key's stamp is returned");
	T_CHECK(!pf_key_file_name_ours(cases[0].base, PF_ALG_RSA, true, NULL),
		"a CA file name is not a self-signed certificate's name (state files keep "
		"those)");
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	test_ca_file_names();
	test_round_trips();
	test_fields_survive();
	test_owners();
	test_events();
	test_begin();
	test_counters();
	test_bad_files();
	test_writer_refuses();
	test_files();
	test_crash_safety();
	test_untrusted_files();
	test_dir_create();
	rmdir(dir);
	T_DONE();
}
