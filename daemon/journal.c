/*
 * journal.c - the event table (names, MESSAGE_IDs, priorities) and the one
 * function that turns an event into a journal entry or, without a journal,
 * a stderr line.  docs/pftls-roll.catalog explains every MESSAGE_ID here;
 * tests/integ/journal.sh checks that the two agree.
 *
 * The MESSAGE_IDs were made once with "systemd-id128 new" and must never
 * change: monitoring and the catalog match on them.
 */
#include "journal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <unistd.h>

#include "macro.h"
#include "sd_lazy.h"

static const pf_event_kind kinds[PF_EV_COUNT] = {
	[PF_EV_ROLLOVER_STARTED] = {"rollover-started", "1577beee49f5495cb24385171cadae15",
				    LOG_NOTICE},
	[PF_EV_KEY_GENERATED] = {"key-generated", "f95745c6ff0d4d5eaaa79cd5d1818c7d", LOG_INFO},
	[PF_EV_KEYS_GENERATED] = {"keys-generated", "4b5574fdf8d44582851734a0d576a27f", LOG_INFO},
	[PF_EV_RECORDS_PUBLISHED] = {"records-published", "ba50c8e3524944d2a8148f2794412193",
				     LOG_NOTICE},
	[PF_EV_SERVER_CONFIRMED] = {"server-confirmed", "b9d815f0da3b422cacdfb2126ae3056d",
				    LOG_INFO},
	[PF_EV_PROPAGATION_COMPLETE] = {"propagation-complete", "2d9d0d13aab643eebcce824a57feb8b5",
					LOG_NOTICE},
	[PF_EV_PROPAGATION_ALERT] = {"propagation-alert", "1fd2cc6e74224da09acfea2725d7f216",
				     LOG_WARNING},
	[PF_EV_DEPLOYABLE] = {"deployable", "fb09c2ba8a854e1993cdc142c268ffbf", LOG_NOTICE},
	[PF_EV_DEPLOYED] = {"deployed", "906aa2daa2974e69bd65a179a43f474a", LOG_NOTICE},
	[PF_EV_RELOADED] = {"reloaded", "75712f04aacd4d13b1bafff05fb849cd", LOG_INFO},
	[PF_EV_ENDPOINT_VERIFIED] = {"endpoint-verified", "874297d3fcdf4cf8a7e867b1154eb3c7",
				     LOG_INFO},
	[PF_EV_VERIFIED] = {"verified", "18be6401c75e4cbfaca8fb5f8d6c566f", LOG_NOTICE},
	[PF_EV_VERIFICATION_FAILED] = {"verification-failed", "7323f4db686946cb8ea5bcdc02dd6efe",
				       LOG_ERR},
	[PF_EV_ROLLBACK_DONE] = {"rollback-done", "60d7c22b0e5649e0aecffc59066fa376", LOG_WARNING},
	[PF_EV_RETIRED] = {"retired", "1e91c8ca904648a68c5495bd36e3dabe", LOG_NOTICE},
	[PF_EV_ROLLOVER_COMPLETED] = {"rollover-completed", "efb4b39663894def9278d88d9efbf4b4",
				      LOG_NOTICE},
	[PF_EV_ROLLOVER_FAILED] = {"rollover-failed", "6103a97a27b84c0caa5d5587048795c3", LOG_ERR},
	[PF_EV_CANCELLED] = {"cancelled", "5c63b75c972a4bdab02adb4aca2fb0fe", LOG_NOTICE},
	[PF_EV_FORCED_DEPLOY] = {"forced-deploy", "38d7e65bb42f4ce69016e0651ba41823", LOG_WARNING},
	[PF_EV_SERVER_ERROR] = {"server-error", "a97afe66912d45679689491be29f7869", LOG_WARNING},
	[PF_EV_CONFIG_RELOADED] = {"config-reloaded", "758d7363263445cfab77fe1450d85b68", LOG_INFO},
	[PF_EV_DAEMON_STARTED] = {"daemon-started", "3678efaf21f84c03ae9d33f2899fb614", LOG_INFO},
	[PF_EV_DAEMON_STOPPING] = {"daemon-stopping", "e1e492d88129436fb6d4376d6c7f40d9", LOG_INFO},
	[PF_EV_STATE_INVALID] = {"state-invalid", "640356d8e3c14934960be5155b3e8670", LOG_ERR},
	[PF_EV_CONFIG_INSECURE] = {"config-insecure", "400fc6507d534705b17a243f57380edf",
				   LOG_WARNING},
	[PF_EV_WITHDRAWAL_REFUSED] = {"withdrawal-refused", "65143f200ca34849adfe0a0abbba9bf4",
				      LOG_WARNING},
	[PF_EV_MANUAL_DEPLOY] = {"manual-deploy-detected", "c39a69eed6a0482fbe5f7715f968c068",
				 LOG_WARNING},
	[PF_EV_STAGING_STARTED] = {"staging-started", "091da97d067843ada8b92c8cce758dad",
				   LOG_NOTICE},
	[PF_EV_STAGED] = {"staged", "118060ce695543b9bf890f3d7e747a74", LOG_NOTICE},
	[PF_EV_ROLLOVER_REQUESTED] = {"rollover-requested", "b2255c6848d34a3286aadcb3fc2af61c",
				      LOG_NOTICE},
	[PF_EV_STAGED_CHANGED] = {"staged-records-changed", "4db86ef3621b48d098de776fa4613024",
				  LOG_WARNING},
	[PF_EV_CERT_REFUSED] = {"certificate-refused", "ee183e0251594209a857179ddaec63f7", LOG_ERR},
	[PF_EV_CERT_OBTAINED] = {"certificate-obtained", "9d01f44d0e1b49d19cfce61f94f1a334",
				 LOG_INFO},
	[PF_EV_CERT_RENEWED] = {"certificate-renewed", "02987b735f9e4787be07cee50f086d2d",
				LOG_NOTICE},
	[PF_EV_CERT_EXPIRING] = {"certificate-expiring", "c30c158bd90a44d194c000b84b8fb59d",
				 LOG_ERR},
	[PF_EV_AUDIT_MISSING] = {"audit-records-missing", "2885bd22fcc442648bde7206f8bda2c3",
				 LOG_ERR},
	[PF_EV_AUDIT_NEXT] = {"audit-next-records-missing", "23f43619e25849af9546ce4411a8a6d2",
			      LOG_WARNING},
	[PF_EV_AUDIT_BOGUS] = {"audit-dnssec-bogus", "13600662363b48bf8f26653de7452bce", LOG_ERR},
	[PF_EV_AUDIT_INSECURE] = {"audit-dnssec-insecure", "e85c49ccc2c642edb08eba5a0e434c3b",
				  LOG_WARNING},
	[PF_EV_AUDIT_ENDPOINT] = {"audit-endpoint-problem", "fa024568336646b99a3199e0881eb45b",
				  LOG_ERR},
	[PF_EV_AUDIT_MAINCF] = {"audit-maincf-unknown-key", "ef154b8930a9483ba0d271807b808a59",
				LOG_WARNING},
	[PF_EV_AUDIT_INCOMPLETE] = {"audit-incomplete", "772b9821d58645d791a7db19936557d8",
				    LOG_WARNING},
	[PF_EV_AUDIT_RESOLVED] = {"audit-finding-resolved", "d498168bca3d4e138fbabc4990d12199",
				  LOG_NOTICE},
};

static const enum pf_event phase_events[PF_PHASE_COUNT] = {
	[PF_PHASE_IDLE] = PF_EV_ROLLOVER_COMPLETED,
	[PF_PHASE_GENERATED] = PF_EV_KEYS_GENERATED,
	[PF_PHASE_PUBLISHED] = PF_EV_RECORDS_PUBLISHED,
	[PF_PHASE_PROPAGATED] = PF_EV_PROPAGATION_COMPLETE,
	[PF_PHASE_STAGED] = PF_EV_STAGED,
	[PF_PHASE_DEPLOYABLE] = PF_EV_DEPLOYABLE,
	[PF_PHASE_DEPLOYED] = PF_EV_DEPLOYED,
	[PF_PHASE_VERIFIED] = PF_EV_VERIFIED,
	[PF_PHASE_RETIRED] = PF_EV_RETIRED,
	[PF_PHASE_FAILED] = PF_EV_ROLLOVER_FAILED,
};

static const char *const priority_names[8] = {
	"emerg", "alert", "crit", "error", "warning", "notice", "info", "debug",
};

const pf_event_kind *pf_event_kind_get(enum pf_event ev)
{
	return (unsigned)ev < PF_EV_COUNT ? &kinds[ev] : NULL;
}

enum pf_event pf_event_for_phase(enum pf_phase p)
{
	return (unsigned)p < PF_PHASE_COUNT ? phase_events[p] : PF_EV_ROLLOVER_FAILED;
}

void pf_event_ctx_from_state(const pf_state *st, pf_event_ctx *ret)
{
	pf_event_ctx ctx = {.phase = st->phase, .rollover = st->rollover[0] ? st->rollover : NULL};
	size_t n = 0;
	bool any_next = false;

	for (size_t a = 0; a < PF_ALG_COUNT; a++)
		if (pf_state_key_has_next(&st->keys[a]))
			any_next = true;
	for (size_t a = 0; a < PF_ALG_COUNT && n < PF_EVENT_MAX_KEYS; a++) {
		const pf_state_key *k = &st->keys[a];

		if (any_next && pf_state_key_has_next(k))
			ctx.key_spki[n++] = k->next_spki;
		else if (!any_next && pf_state_key_has_old(k))
			ctx.key_spki[n++] = k->old_spki;
	}
	*ret = ctx;
}

/* The parts of ctx that are well formed; false when something was dropped. */
static bool clean_ctx(const pf_event_ctx *in, pf_event_ctx *out)
{
	bool ok = true;
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	out->phase = (unsigned)in->phase < PF_PHASE_COUNT ? in->phase : PF_PHASE_FAILED;
	ok = out->phase == in->phase;
	if (in->rollover && in->rollover[0]) {
		if (pf_state_valid_hex(in->rollover, PF_ROLLOVER_ID_LEN))
			out->rollover = in->rollover;
		else
			ok = false;
	}
	for (size_t i = 0; i < PF_EVENT_MAX_KEYS; i++) {
		if (!in->key_spki[i])
			continue;
		if (pf_state_valid_hex(in->key_spki[i], 64))
			out->key_spki[n++] = in->key_spki[i];
		else
			ok = false;
	}
	if (in->server) {
		if (pf_state_valid_token(in->server, 300))
			out->server = in->server;
		else
			ok = false;
	}
	return ok;
}

int pf_journal_format_line(enum pf_event ev, const pf_event_ctx *ctx, const char *message,
			   char *buf, size_t len)
{
	const pf_event_kind *k = pf_event_kind_get(ev);
	char keys[PF_EVENT_MAX_KEYS * 65 + 1] = "";
	pf_event_ctx c;

	if (!k)
		return snprintf(buf, len, "%s: error: unknown event %d", PF_JOURNAL_IDENTIFIER, ev);
	clean_ctx(ctx, &c);
	for (size_t i = 0; i < PF_EVENT_MAX_KEYS && c.key_spki[i]; i++) {
		if (i)
			strcat(keys, ",");
		strcat(keys, c.key_spki[i]);
	}
	return snprintf(buf, len, "%s: %s: %s: %s [phase=%s rollover=%s spki=%s%s%s]",
			PF_JOURNAL_IDENTIFIER, priority_names[k->priority & 7], k->name, message,
			pf_phase_name(c.phase), c.rollover ? c.rollover : "-", keys[0] ? keys : "-",
			c.server ? " server=" : "", c.server ? c.server : "");
}

/* True when a journald socket is there to take entries. */
static bool have_journal(void)
{
	struct stat sb;

	return stat(PF_JOURNAL_SOCKET, &sb) == 0 && S_ISSOCK(sb.st_mode);
}

static void to_stderr(enum pf_event ev, const pf_event_ctx *ctx, const char *message)
{
	char line[PF_JOURNAL_MAX_MESSAGE + 1024];
	int n = pf_journal_format_line(ev, ctx, message, line, sizeof(line) - 1);

	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* One write, so concurrent writers do not interleave within a line. */
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

/* Log the already formatted message raw.  Returns as pf_journal_log. */
static int log_text(enum pf_event ev, const pf_event_ctx *ctx, const char *raw)
{
	const pf_event_kind *k = pf_event_kind_get(ev);
	char msg[PF_JOURNAL_MAX_MESSAGE + 1];
	char f_msg[PF_JOURNAL_MAX_MESSAGE + 16], f_id[64], f_prio[16], f_event[64], f_phase[64];
	char f_roll[64], f_keys[PF_EVENT_MAX_KEYS][96], f_server[340];
	struct iovec iov[8 + PF_EVENT_MAX_KEYS];
	static bool said;
	const pf_sd_api *sd;
	pf_err why = {0};
	pf_event_ctx c;
	int n = 0, r;
	bool ok;

	if (!k)
		return -EINVAL;
	pf_printable_copy(msg, sizeof(msg), raw);
	ok = clean_ctx(ctx, &c);
	if (!have_journal()) {
		to_stderr(ev, &c, msg);
		return ok ? 0 : -EINVAL;
	}

#define FIELD(buf, ...)                                                                            \
	do {                                                                                       \
		int l_ = snprintf(buf, sizeof(buf), __VA_ARGS__);                                  \
		iov[n].iov_base = buf;                                                             \
		iov[n++].iov_len = (size_t)l_ < sizeof(buf) ? (size_t)l_ : sizeof(buf) - 1;        \
	} while (0)
	FIELD(f_msg, "MESSAGE=%s", msg);
	FIELD(f_id, "MESSAGE_ID=%s", k->message_id);
	FIELD(f_prio, "PRIORITY=%d", k->priority);
	iov[n].iov_base = (void *)"SYSLOG_IDENTIFIER=" PF_JOURNAL_IDENTIFIER;
	iov[n++].iov_len = strlen("SYSLOG_IDENTIFIER=" PF_JOURNAL_IDENTIFIER);
	FIELD(f_event, "PFTLS_EVENT=%s", k->name);
	FIELD(f_phase, "PFTLS_PHASE=%s", pf_phase_name(c.phase));
	/* Always present, empty when there is no rollover or key, so every
	 * entry has the fields SPEC.md 6 lists. */
	FIELD(f_roll, "PFTLS_ROLLOVER=%s", c.rollover ? c.rollover : "");
	if (!c.key_spki[0])
		FIELD(f_keys[0], "PFTLS_KEY_SPKI=");
	for (size_t i = 0; i < PF_EVENT_MAX_KEYS && c.key_spki[i]; i++)
		FIELD(f_keys[i], "PFTLS_KEY_SPKI=%s", c.key_spki[i]);
	if (c.server)
		FIELD(f_server, "PFTLS_SERVER=%s", c.server);
#undef FIELD
	/* libsystemd loaded only now (sd_lazy.h), with the CODE_* fields its
	 * sd_journal_sendv macro adds.  Without it (a broken install: the
	 * package depends on it) events go to stderr, said once. */
	if (!(sd = pf_sd_api_get(&why)) && !said) {
		fprintf(stderr, "%s: %s; journal entries go to stderr\n",
			program_invocation_short_name, why.msg);
		said = true;
	}
	r = sd ? sd->journal_sendv_with_location("CODE_FILE=" __FILE__,
						 "CODE_LINE=" PF_STRINGIFY(__LINE__), __func__, iov,
						 n)
	       : -ENOENT;
	if (r < 0) {
		/* Never lose an event: a journal that refuses it gets the line
		 * on stderr, which systemd usually routes to the journal too. */
		to_stderr(ev, &c, msg);
		return r;
	}
	return ok ? 0 : -EINVAL;
}

int pf_journal_log(enum pf_event ev, const pf_event_ctx *ctx, const char *fmt, ...)
{
	char raw[PF_JOURNAL_MAX_MESSAGE + 1];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	return log_text(ev, ctx, raw);
}

int pf_journal_state_event(pf_state *st, int64_t now, enum pf_event ev, const char *server,
			   const char *fmt, ...)
{
	const pf_event_kind *k = pf_event_kind_get(ev);
	char raw[PF_JOURNAL_MAX_MESSAGE + 1];
	pf_event_ctx ctx;
	va_list ap;

	if (!k)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	pf_event_ctx_from_state(st, &ctx);
	ctx.server = server;
	pf_state_add_event(st, now, k->name, raw);
	return log_text(ev, &ctx, raw);
}
