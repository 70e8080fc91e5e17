/*
 * rollover.h - the rollover engine: the phases of SPEC.md 4 as one state
 * machine, shared by the daemon (driven by timers) and the command line
 * (driven by a sleep loop, or by single manual steps).
 *
 * The state file is the only source of truth.  Every entry point takes the
 * rollover lock, re-reads the state, does the work due, persists the new
 * phase BEFORE each side effect it depends on, and releases the lock; so a
 * daemon and a command line can act on the same rollover one after the
 * other, and a process killed at any point resumes without repeating a
 * visible step or shortening a wait.
 */
#ifndef PF_ROLLOVER_H
#define PF_ROLLOVER_H

#include <stdio.h>

#include "config.h"
#include "dns_discover.h"
#include "dns_propagation.h"
#include "dns_update.h"
#include "metrics.h"
#include "net.h"
#include "postfix.h"
#include "smtp_probe.h"
#include "state.h"
#include "util.h"
#include "withdraw_guard.h"

typedef struct pf_roll pf_roll;

/*
 * Everything the engine asks of the world outside its state file, as one
 * table: the clock, the network side (net.h), Postfix (postfix.h and
 * reload.h, on the instance of the configuration) and the withdraw guard
 * (withdraw_guard.h).  Each function gets the userdata given with the
 * table and returns what the function it stands for returns.  roll_open
 * installs the real ones; roll_set_ops is for tests, which play DNS,
 * Postfix and the clock themselves (tests/unit/test_rollover.c).
 */
typedef struct pf_roll_ops {
	/* The clock: epoch milliseconds, rounded down (pf_now_ms; the
	 * engine's seconds are these rounded down), a monotonic count in
	 * microseconds (pf_mono_usec), and a pause (between verification
	 * attempts, lock attempts, a manual retire's polls). */
	int64_t (*now_ms)(void *ud);
	uint64_t (*mono_usec)(void *ud);
	void (*sleep_ms)(void *ud, unsigned ms);

	/* The network side, as net_discover, net_update_apply, net_prop_run
	 * and net_probe. */
	int (*discover)(void *ud, const pf_config *cfg, char *const *owners, size_t n_owners,
			dns_zone_info **ret, size_t *n_zones, size_t *owner_zone, pf_err *e);
	int (*update_apply)(void *ud, const dns_update_opts *o, dns_change *ch, size_t n,
			    dns_update_result *res, pf_err *e);
	int (*prop_run)(void *ud, const dns_zone_info *z, const dns_prop_want *want, size_t n,
			const dns_net_opts *o, dns_prop_round *ret, pf_err *e);
	int (*probe)(void *ud, const pf_hostport *ep, const char *tlsa_host,
		     const pf_tlsa_rdata *records, size_t n, enum pf_probe_want want,
		     int timeout_ms, pf_probe_result *ret, pf_err *e);

	/* Postfix, as postfix_open (once, before any other), postfix_myhostname,
	 * postfix_deployed, postfix_snapshot, postfix_restore,
	 * postfix_deploy_settings, postfix_set, and postfix_check (full) or
	 * postfix_check_settings. */
	int (*postfix_open)(void *ud, pf_err *e);
	int (*myhostname)(void *ud, char **ret, pf_err *e);
	int (*deployed)(void *ud, const char *prefix, pf_tls_files *ret, pf_err *e);
	int (*snapshot)(void *ud, const char *const *names, pf_snapshot *ret, pf_err *e);
	int (*restore)(void *ud, const pf_snapshot *s, pf_err *e);
	int (*deploy_settings)(void *ud, enum pf_alg alg, const char *keyfile, const char *certfile,
			       pf_strv *ret, pf_err *e);
	int (*set)(void *ud, const pf_strv *settings, pf_err *e);
	int (*check)(void *ud, bool full, const pf_strv *settings, pf_err *e);
	/* As postfix_mark: what a file is now, for a deploy prepared ahead. */
	int (*mark)(void *ud, const char *path, pf_file_mark *ret, pf_err *e);
	/* As reload_preflight for the configuration. */
	int (*reload_preflight)(void *ud, bool *ret_full_check, pf_err *e);
	/* Reload as configured: reload_unit (waiting for the job), else
	 * reload_command. */
	int (*reload)(void *ud, pf_err *e);

	/* The state file: as pf_state_save (a test counts saves, or dies
	 * after one, to play a kill). */
	int (*save)(void *ud, const char *path, const pf_state *st, pf_err *e);

	/* As withdraw_guard_check. */
	int (*guard)(void *ud, const pf_guard_req *q, const pf_guard_record *recs, size_t n,
		     pf_err *e);
} pf_roll_ops;

/* Open the engine for cfg (which must outlive it).  Reads and checks the
 * state file; a torn or unknown-version file is refused with e saying so.
 * Returns 0 or -errno. */
int roll_open(const pf_config *cfg, pf_roll **ret, pf_err *e);
pf_roll *roll_free(pf_roll *r);

/* Send the engine's network calls through net's network process (net.h);
 * net must outlive r.  Without it (NULL, the default) they run in this
 * process. */
void roll_set_net(pf_roll *r, pf_net *net);

/* FOR TESTS: use ops (which must outlive r) with userdata in place of the
 * real dependencies; NULL puts the real ones back. */
void roll_set_ops(pf_roll *r, const pf_roll_ops *ops, void *userdata);

/* Call fn(userdata) each time the rollover enters a phase (after the state
 * is saved): the daemon sends sd_notify STATUS= from it, so every phase is
 * reported even when several pass in one run. */
void roll_set_phase_hook(pf_roll *r, void (*fn)(void *userdata), void *userdata);

/* Wait up to seconds for the rollover lock when another process holds it
 * for a step, instead of failing at once with "in progress" (the command
 * line waits; the daemon, which re-arms its timer, does not).  Default 0. */
void roll_set_lock_wait(pf_roll *r, int seconds);

/* Where to print one progress line per step (the command line's terminal);
 * NULL (the default) prints nothing. */
void roll_set_progress(pf_roll *r, FILE *out);

/* Start a rollover when idle; resume one that stopped in phase failed;
 * otherwise nothing (the running rollover goes on).  Returns 0 or -errno. */
int roll_start(pf_roll *r, pf_err *e);

/*
 * Do everything that is due now, phase after phase, until the rollover has
 * to wait (for propagation, the deploy time, the retire time) or is idle or
 * failed.  *ret_wakeup is when to call again (epoch milliseconds; 0 when
 * nothing is scheduled).  With the rollover_interval due, an idle engine starts a
 * rollover when auto_start.  Returns 0 (also when the rollover failed: see
 * roll_phase) or -errno for an error that left the state unchanged.
 */
int roll_run(pf_roll *r, bool auto_start, int64_t *ret_wakeup, pf_err *e);

/* "pftls-roll renew" (roll_cert.c): a new CA-issued certificate for each
 * deployed key of ours, now; one postconf -e, reload; no DNS change.
 * Refuses (exit 2) without certificate_command.  Returns 0 or -errno. */
int roll_renew(pf_roll *r, pf_err *e);

/* Deploy now when the deploy time has passed, or at once with force
 * (logged at warning priority); refused with exit code 3 before the time or
 * before the records were published.  Returns 0 or -errno. */
int roll_deploy(pf_roll *r, bool force, pf_err *e);

/* Abandon a rollover: withdraw its next keys' records, remove their key
 * files; the old keys' records stay.  Refused (exit 3, nothing changed)
 * while a next key is in use - named by main.cf or presented by an
 * endpoint (withdraw_guard.h) - whatever the phase: after deploy, or after
 * an operator deployed it by hand.  Returns 0 or -errno. */
int roll_cancel(pf_roll *r, pf_err *e);

/* The manual steps of a pending rollover, under the same rules as the
 * engine's own: publish its next keys' records (phase generated only), and
 * withdraw its old records (phase verified, after the retire time, when no
 * old key is in use: withdraw_guard.h), waiting up to max_wait seconds for
 * every check server to confirm.  Refused with exit code 3 in any other
 * phase.  Returns 0 or -errno. */
int roll_publish(pf_roll *r, pf_err *e);
int roll_retire(pf_roll *r, int max_wait, pf_err *e);

/* The key files of the pending rollover: its next keys (role next) or the
 * keys it replaces (old), into ret.  Returns 0 or -errno. */
int roll_key_files(pf_roll *r, bool next, pf_strv *ret, pf_err *e);

/* Reload Postfix as configured (reload_unit over D-Bus, else
 * reload_command).  Returns 0 or -errno. */
int roll_reload(pf_roll *r, pf_err *e);

/*
 * Audit what is in service now, independent of any rollover: every
 * deployed key's TLSA records on every check server (signed when the zone
 * is), and every verify endpoint presenting the deployed key of each
 * algorithm, DANE-valid against those records.  Prints one line per
 * finding to out.  Returns 0 when all hold, -EPROTO (exit 1) when not, or
 * another -errno.
 */
int roll_check(pf_roll *r, FILE *out, pf_err *e);

/* "check --plugin": the Monitoring Plugins states, which are its exit
 * codes, and the certificate expiry thresholds (seconds left). */
enum pf_plugin_state {
	PF_PLUGIN_OK = 0,
	PF_PLUGIN_WARNING = 1,
	PF_PLUGIN_CRITICAL = 2,
	PF_PLUGIN_UNKNOWN = 3,
};

typedef struct pf_check_limits {
	int64_t cert_warning;  /* WARNING when a certificate expires within this */
	int64_t cert_critical; /* CRITICAL within this (or expired) */
	int64_t sig_warning;   /* WARNING when the TLSA chain's signatures expire within this */
	int64_t sig_critical;  /* CRITICAL within this */
} pf_check_limits;

/* "OK", "WARNING", "CRITICAL", "UNKNOWN". */
const char *roll_plugin_state_name(enum pf_plugin_state s);

/*
 * The audit of roll_check for a monitoring system: every check server and
 * every endpoint is asked (it goes on past a problem, to count), and one
 * line "PFTLS STATE - summary | perfdata" is written to out, nothing else.
 * Records missing or unsigned, an endpoint presenting another key, or one
 * that does not DANE-validate: CRITICAL; a certificate within the limits:
 * WARNING or CRITICAL; no answer from any check server, or an audit that
 * cannot run: UNKNOWN.  Returns the state.
 */
enum pf_plugin_state roll_check_plugin(pf_roll *r, const pf_check_limits *lim, FILE *out);

/* The one plugin line for a check that could not even start (e.g. a
 * configuration error): "PFTLS UNKNOWN - msg".  Returns PF_PLUGIN_UNKNOWN. */
enum pf_plugin_state roll_plugin_unknown(FILE *out, const char *msg);

/*
 * What the metrics_file shows (metrics.h), from the state as last read
 * (roll_refresh) and the keys main.cf deploys: the phase, when the next
 * step becomes allowed, the last phase change, each deployed key's age and
 * certificate notAfter, the check servers confirmed so far (published to
 * verified), the rollover counters.  *ret is filled even on failure (the
 * state's facts); the caller frees it with metrics_clear.  Returns 0, or
 * -errno when main.cf's keys could not be read.
 */
int roll_metrics(pf_roll *r, pf_metrics *ret, pf_err *e);

/* The rollover counters of the state as last read. */
void roll_counters(pf_roll *r, uint64_t *ret_completed, uint64_t *ret_failed);

/* The status report, as text or as JSON (schema in pftls-roll(8)). */
int roll_status(pf_roll *r, FILE *out, bool json, pf_err *e);

/* Re-read the state file (without the lock: it is never torn).  Returns
 * 0 or -errno. */
int roll_refresh(pf_roll *r, pf_err *e);

/* One line for sd_notify STATUS=: the phase and what it waits for. */
const char *roll_status_line(pf_roll *r);

/* pf_status_emergency for the state as it is: what a rollover asked for
 * now would do; true when it would deploy at once. */
bool roll_emergency(pf_roll *r, char *buf, size_t len);

/* True when nothing is left to do until the next request: idle with no
 * rollover, failed, or (prepublish) a next key staged and held.  What a
 * "now" in the foreground, or following the daemon, runs until. */
bool roll_settled(pf_roll *r);

/* The current phase name ("idle", "published", ..., "failed"). */
const char *roll_phase(pf_roll *r);

/* True when the engine is settled (roll_settled) because the rollover was
 * cancelled (of "cancelled" and "rollover-completed", the later event is
 * the cancel; a staging cycle may have begun since), not because it
 * completed: a "now" that was following it must not report success. */
bool roll_was_cancelled(pf_roll *r);

#endif
