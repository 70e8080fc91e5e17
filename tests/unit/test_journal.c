/*
 * test_journal.c - the event table and the stderr form of events.
 *
 * Without arguments it runs unit checks that send nothing (so running it on
 * a machine with a journal logs nothing there).  tests/integ/journal.sh uses
 * two more modes, inside a mount namespace with its own journald:
 *   test_journal list      print "NAME MESSAGE_ID PRIORITY" for every kind
 *   test_journal emit-all  log one event of every kind, and print
 *                          "SENT NAME MESSAGE_ID PRIORITY PHASE ROLLOVER
 *                          SPKI[,SPKI] SERVER|-" for each, so the test can
 *                          compare what the journal stored with what was sent
 *   test_journal state-event  log one event about a state in phase published
 *                          through pf_journal_state_event, and print
 *                          "STATE ROLLOVER SPKI EVENTS KIND PHASE MESSAGE" from
 *                          the state afterwards
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <syslog.h>

#include "../../daemon/journal.h"
#include "t.h"

#define ROLL "00112233445566778899aabbccddeeff"
#define SPKI1 "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
#define SPKI2 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static bool lower_hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
			return false;
	return true;
}

static void test_table(void)
{
	for (int i = 0; i < PF_EV_COUNT; i++) {
		const pf_event_kind *k = pf_event_kind_get((enum pf_event)i);
		bool unique = true, name_ok = k->name && *k->name;

		for (int j = 0; j < i; j++) {
			const pf_event_kind *o = pf_event_kind_get((enum pf_event)j);

			if (strcmp(o->message_id, k->message_id) == 0 ||
			    strcmp(o->name, k->name) == 0)
				unique = false;
		}
		for (const char *c = k->name; name_ok && *c; c++)
			name_ok = islower((unsigned char)*c) || *c == '-';
		T_CHECK(lower_hex(k->message_id, 32), "%s: MESSAGE_ID is 128 bits in hex", k->name);
		T_CHECK(unique, "%s: name and MESSAGE_ID are unique", k->name);
		T_CHECK(name_ok, "%s: name is lowercase words joined by '-'", k->name);
		T_CHECK(k->priority >= LOG_ERR && k->priority <= LOG_INFO,
			"%s: priority between err and info", k->name);
	}
	T_CHECK(pf_event_kind_get(PF_EV_COUNT) == NULL, "no kind past the end");
	T_CHECK(pf_event_kind_get(PF_EV_PROPAGATION_ALERT)->priority == LOG_WARNING &&
			pf_event_kind_get(PF_EV_FORCED_DEPLOY)->priority == LOG_WARNING &&
			pf_event_kind_get(PF_EV_ROLLOVER_FAILED)->priority == LOG_ERR &&
			pf_event_kind_get(PF_EV_VERIFICATION_FAILED)->priority == LOG_ERR &&
			pf_event_kind_get(PF_EV_STATE_INVALID)->priority == LOG_ERR,
		"alerts and forced deploys are warnings, failures errors");
	for (int p = 0; p < PF_PHASE_COUNT; p++) {
		enum pf_event ev = pf_event_for_phase((enum pf_phase)p);
		int users = 0;

		for (int q = 0; q < PF_PHASE_COUNT; q++)
			users += pf_event_for_phase((enum pf_phase)q) == ev;
		T_CHECK(users == 1, "phase %s has an event of its own (%s)",
			pf_phase_name((enum pf_phase)p), pf_event_kind_get(ev)->name);
	}
}

static void test_line(void)
{
	pf_event_ctx ctx = {.phase = PF_PHASE_PUBLISHED,
			    .rollover = ROLL,
			    .key_spki = {SPKI1, SPKI2},
			    .server = "127.54.0.1:53"};
	char buf[2048];

	pf_journal_format_line(PF_EV_PROPAGATION_ALERT, &ctx, "still missing", buf, sizeof(buf));
	T_STREQ(buf,
		"pftls-rolld: warning: propagation-alert: still missing [phase=published "
		"rollover=" ROLL " spki=" SPKI1 "," SPKI2 " server=127.54.0.1:53]",
		"stderr line carries every field");
	ctx = (pf_event_ctx){.phase = PF_PHASE_IDLE};
	pf_journal_format_line(PF_EV_DAEMON_STARTED, &ctx, "started", buf, sizeof(buf));
	T_STREQ(buf, "pftls-rolld: info: daemon-started: started [phase=idle rollover=- spki=-]",
		"no rollover, key or server: '-' and no server=");
	ctx = (pf_event_ctx){.phase = PF_PHASE_DEPLOYED,
			     .rollover = "not-an-id",
			     .key_spki = {"-----BEGIN PRIVATE KEY-----", SPKI2},
			     .server = "a b\nPFTLS_PHASE=idle"};
	pf_journal_format_line(PF_EV_DEPLOYED, &ctx, "x", buf, sizeof(buf));
	T_STREQ(buf, "pftls-rolld: notice: deployed: x [phase=deployed rollover=- spki=" SPKI2 "]",
		"malformed rollover, digest and server are left out");
}

static void test_ctx_from_state(void)
{
	pf_state st;
	pf_event_ctx ctx;

	pf_state_init(&st);
	pf_state_begin(&st, 1);
	st.phase = PF_PHASE_GENERATED;
	if (pf_state_set_key(&st, PF_ALG_RSA, PF_ROLE_OLD, "/o", "/oc", SPKI2, NULL) < 0 ||
	    pf_state_set_key(&st, PF_ALG_ECDSA, PF_ROLE_OLD, "/o2", "/oc2", SPKI2, NULL) < 0)
		abort();
	pf_event_ctx_from_state(&st, &ctx);
	T_CHECK(ctx.key_spki[0] == st.keys[PF_ALG_RSA].old_spki && ctx.key_spki[1] &&
			!ctx.key_spki[2],
		"without next keys the deployed (old) keys are named");
	if (pf_state_set_key(&st, PF_ALG_RSA, PF_ROLE_NEXT, "/n", "/nc", SPKI1, NULL) < 0)
		abort();
	pf_event_ctx_from_state(&st, &ctx);
	T_CHECK(ctx.phase == PF_PHASE_GENERATED && ctx.rollover == st.rollover &&
			t_streq(ctx.key_spki[0], SPKI1) && !ctx.key_spki[1] && !ctx.server,
		"with next keys only they are named, with phase and rollover");
	pf_state_free(&st);
}

/* The context emit-all gives each event: server events name a server. */
static pf_event_ctx emit_ctx(enum pf_event ev)
{
	pf_event_ctx c = {.phase = PF_PHASE_PUBLISHED, .rollover = ROLL, .key_spki = {SPKI1}};

	switch (ev) {
	case PF_EV_SERVER_CONFIRMED:
	case PF_EV_PROPAGATION_ALERT:
	case PF_EV_SERVER_ERROR:
		c.server = "127.54.0.2:53";
		break;
	case PF_EV_ENDPOINT_VERIFIED:
	case PF_EV_VERIFICATION_FAILED:
		c.phase = PF_PHASE_DEPLOYED;
		c.server = "mx.example.test:25";
		break;
	case PF_EV_ROLLOVER_STARTED:
		c.phase = PF_PHASE_IDLE;
		break;
	case PF_EV_DAEMON_STARTED:
	case PF_EV_DAEMON_STOPPING:
	case PF_EV_CONFIG_RELOADED:
	case PF_EV_STATE_INVALID:
		c = (pf_event_ctx){.phase = PF_PHASE_IDLE};
		break;
	default:
		c.phase = PF_PHASE_GENERATED;
		for (int p = 0; p < PF_PHASE_COUNT; p++)
			if (pf_event_for_phase((enum pf_phase)p) == ev)
				c.phase = (enum pf_phase)p;
		if (ev == PF_EV_DEPLOYED || ev == PF_EV_VERIFIED || ev == PF_EV_RETIRED)
			c.key_spki[1] = SPKI2;
	}
	return c;
}

static int emit_all(void)
{
	int bad = 0;

	for (int i = 0; i < PF_EV_COUNT; i++) {
		const pf_event_kind *k = pf_event_kind_get((enum pf_event)i);
		pf_event_ctx c = emit_ctx((enum pf_event)i);
		int r = pf_journal_log((enum pf_event)i, &c, "test event %s number %d", k->name, i);

		if (r < 0) {
			fprintf(stderr, "test_journal: %s: %s\n", k->name, strerror(-r));
			bad++;
		}
		printf("SENT %s %s %d %s %s %s%s%s %s\n", k->name, k->message_id, k->priority,
		       pf_phase_name(c.phase), c.rollover ? c.rollover : "-",
		       c.key_spki[0] ? c.key_spki[0] : "-", c.key_spki[1] ? "," : "",
		       c.key_spki[1] ? c.key_spki[1] : "", c.server ? c.server : "-");
	}
	return bad ? 1 : 0;
}

static int state_event(void)
{
	pf_state st;
	const pf_state_event *ev;
	int r;

	pf_state_init(&st);
	pf_state_begin(&st, 1700000000);
	st.phase = PF_PHASE_PUBLISHED;
	if (pf_state_set_key(&st, PF_ALG_ECDSA, PF_ROLE_NEXT, "/n", "/nc", SPKI2, NULL) < 0)
		abort();
	r = pf_journal_state_event(&st, 1700000042, PF_EV_SERVER_CONFIRMED, "127.54.0.3:53",
				   "server %s confirmed serial %u", "127.54.0.3:53", 7u);
	ev = &st.events[st.n_events - 1];
	printf("STATE %s %s %zu %s %s %lld %s\n", st.rollover, st.keys[PF_ALG_ECDSA].next_spki,
	       st.n_events, ev->kind, pf_phase_name(ev->phase), (long long)ev->t, ev->msg);
	pf_state_free(&st);
	return r < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "list") == 0) {
		for (int i = 0; i < PF_EV_COUNT; i++) {
			const pf_event_kind *k = pf_event_kind_get((enum pf_event)i);

			printf("%s %s %d\n", k->name, k->message_id, k->priority);
		}
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "emit-all") == 0)
		return emit_all();
	if (argc > 1 && strcmp(argv[1], "state-event") == 0)
		return state_event();
	if (argc > 1) {
		fprintf(stderr, "usage: test_journal [list|emit-all|state-event]\n");
		return 2;
	}
	test_table();
	test_line();
	test_ctx_from_state();
	T_DONE();
}
