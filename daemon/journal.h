/*
 * journal.h - the events a rollover reports (SPEC.md 6): every phase change
 * and every failure is one structured journal entry with a fixed MESSAGE_ID
 * per kind of event, a PRIORITY, SYSLOG_IDENTIFIER=pftls-rolld and the
 * fields PFTLS_EVENT, PFTLS_PHASE, PFTLS_ROLLOVER, PFTLS_KEY_SPKI (one per
 * key concerned) and PFTLS_SERVER (where one is concerned).  Each
 * MESSAGE_ID has an entry in docs/pftls-roll.catalog.
 *
 * Without a journal socket the entry becomes one line on stderr.
 *
 * The API takes identifiers and public digests only: there is no way to
 * hand it a key, and callers must not format secrets into messages.
 * Messages are cut at PF_JOURNAL_MAX_MESSAGE bytes with control characters
 * replaced, since they may quote what a DNS or SMTP server said.
 */
#ifndef PF_JOURNAL_H
#define PF_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "state.h"
#include "util.h"

#define PF_JOURNAL_IDENTIFIER "pftls-rolld"
#define PF_JOURNAL_SOCKET "/run/systemd/journal/socket"
#define PF_JOURNAL_MAX_MESSAGE 1000
#define PF_EVENT_MAX_KEYS 4 /* next and old key of each algorithm */

enum pf_event {
	PF_EV_ROLLOVER_STARTED,
	PF_EV_KEY_GENERATED,        /* one key and certificate written */
	PF_EV_KEYS_GENERATED,       /* phase generated */
	PF_EV_RECORDS_PUBLISHED,    /* phase published */
	PF_EV_SERVER_CONFIRMED,     /* a check server serves every new record */
	PF_EV_PROPAGATION_COMPLETE, /* phase propagated */
	PF_EV_PROPAGATION_ALERT,    /* a server still misses records after propagation_alert */
	PF_EV_DEPLOYABLE,           /* phase deployable */
	PF_EV_DEPLOYED,             /* phase deployed */
	PF_EV_RELOADED,             /* Postfix reloaded */
	PF_EV_ENDPOINT_VERIFIED,    /* one endpoint presents the new key */
	PF_EV_VERIFIED,             /* phase verified */
	PF_EV_VERIFICATION_FAILED,
	PF_EV_ROLLBACK_DONE,      /* previous main.cf settings restored and reloaded */
	PF_EV_RETIRED,            /* phase retired */
	PF_EV_ROLLOVER_COMPLETED, /* back to idle after retired */
	PF_EV_ROLLOVER_FAILED,    /* phase failed */
	PF_EV_CANCELLED,
	PF_EV_FORCED_DEPLOY, /* deploy --force-now skipped the safety wait */
	PF_EV_SERVER_ERROR,  /* a DNS server answered wrongly or not at all */
	PF_EV_CONFIG_RELOADED,
	PF_EV_DAEMON_STARTED,
	PF_EV_DAEMON_STOPPING,
	PF_EV_STATE_INVALID,      /* the state file cannot be trusted; nothing is done */
	PF_EV_CONFIG_INSECURE,    /* someone else could change the configuration or TSIG key */
	PF_EV_WITHDRAWAL_REFUSED, /* a withdrawal would remove the records of a key in use */
	PF_EV_MANUAL_DEPLOY,      /* the next keys were found deployed by hand */
	PF_EV_STAGING_STARTED,    /* prepublish: a cycle to stage a next key began */
	PF_EV_STAGED,             /* phase staged */
	PF_EV_ROLLOVER_REQUESTED, /* a rollover was asked of the staged key (the emergency path) */
	PF_EV_STAGED_CHANGED,     /* the staged records were missing or their TTL grew */
	PF_EV_CERT_REFUSED,       /* certificate_command failed or its chain was refused */
	PF_EV_CERT_OBTAINED,      /* a CA-issued chain for one of our keys was accepted */
	PF_EV_CERT_RENEWED,       /* a renewed certificate (same key) is deployed */
	PF_EV_CERT_EXPIRING,      /* a deployed CA certificate is due and renewal fails */
	PF_EV_AUDIT_MISSING,      /* a check server does not serve a deployed key's record */
	PF_EV_AUDIT_NEXT,         /* a check server does not serve a published next key's
						     record */
	PF_EV_AUDIT_BOGUS,        /* a TLSA RRset does not validate */
	PF_EV_AUDIT_INSECURE,     /* a TLSA RRset is not signed or not securely delegated */
	PF_EV_AUDIT_ENDPOINT, /* an endpoint does not present a deployed key that DANE-validates */
	PF_EV_AUDIT_MAINCF,   /* main.cf deploys a key the state does not know */
	PF_EV_AUDIT_INCOMPLETE, /* the audit could not run */
	PF_EV_AUDIT_RESOLVED,   /* a finding of the audit ended */
	PF_EV_COUNT
};

typedef struct pf_event_kind {
	const char *name;       /* PFTLS_EVENT, e.g. "records-published" */
	const char *message_id; /* 32 lowercase hex digits */
	int priority;           /* LOG_ERR .. LOG_INFO */
} pf_event_kind;

/* The fixed description of ev; NULL when out of range. */
const pf_event_kind *pf_event_kind_get(enum pf_event ev);

/* The event that reports entering phase p. */
enum pf_event pf_event_for_phase(enum pf_phase p);

/* What an event concerns.  Unused key slots are NULL. */
typedef struct pf_event_ctx {
	enum pf_phase phase;
	const char *rollover;                    /* 32 hex digits; NULL or "": none */
	const char *key_spki[PF_EVENT_MAX_KEYS]; /* SPKI SHA-256, 64 hex digits */
	const char *server;                      /* host[:port]; NULL: none concerned */
} pf_event_ctx;

/* The context of st: its phase, its rollover, and the SPKI digests of the
 * next keys (the old ones when there are no next keys).  The pointers point
 * into st, which must outlive ctx. */
void pf_event_ctx_from_state(const pf_state *st, pf_event_ctx *ret);

/*
 * Log one event.  Returns 0; -EINVAL when ctx held a malformed id, digest or
 * server name (the entry is logged without it); or the error of
 * sd_journal_sendv when the journal refused the entry (it then went to
 * stderr).
 */
int pf_journal_log(enum pf_event ev, const pf_event_ctx *ctx, const char *fmt, ...) PF_PRINTF(3, 4);

/*
 * Log an event about st (pf_event_ctx_from_state, plus server when not
 * NULL) and append it to st's recent events, for "status".  The caller
 * saves st.  Returns as pf_journal_log.
 */
int pf_journal_state_event(pf_state *st, int64_t now, enum pf_event ev, const char *server,
			   const char *fmt, ...) PF_PRINTF(5, 6);

/*
 * The stderr form of an event, into buf:
 *   pftls-rolld: PRIORITY: EVENT: MESSAGE [phase=P rollover=R spki=S1,S2 server=H]
 * with "-" for a missing rollover or key, and no server= when none is
 * concerned; no newline.  Returns the length it would have (as snprintf).
 */
int pf_journal_format_line(enum pf_event ev, const pf_event_ctx *ctx, const char *message,
			   char *buf, size_t len);

#endif
