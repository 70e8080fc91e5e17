/*
 * roll_int.h - the rollover engine's inside, shared by its files and by
 * nothing else (callers use rollover.h): the roll object, and the
 * functions the phase files call across each other.
 *
 *   rollover.c          the core: the roll object, lock, load and save,
 *                       entering a phase or failing, the phase loop
 *   roll_generate.c     idle -> generated: the next keys and certificates
 *   roll_publish.c      the TLSA records of the keys, their zones, the DNS
 *                       updates; generated -> published
 *   roll_propagation.c  published -> propagated: the check servers' rounds
 *   roll_deploy.c       propagated -> deployable -> deployed: main.cf,
 *                       reload, rollback, a deploy by hand
 *   roll_verify.c       deployed -> verified: the live endpoints
 *   roll_retire.c       verified -> retired -> idle, and cancel: every
 *                       withdrawal, through withdraw_guard
 *   roll_stage.c        prepublish: the staging cycle, the request, the
 *                       watch of the staged records, staged -> deployable
 *   roll_cert.c         CA-issued certificates: obtained before deploy,
 *                       renewed on the same key (idle, "renew")
 *   roll_check.c        the audit of what is in service, and status
 *   roll_ops.c          the real dependencies (pf_roll_ops, rollover.h)
 *
 * Each step persists what it is about to do before doing it, so that after
 * a kill at any point the same step runs again and finds its work done or
 * half done, and finishes it without a visible repetition:
 *   - generate: the next key's path and SPKI are saved, then the files are
 *     written; a missing file found on resume is made again (new key);
 *   - publish: the TLSA RRsets as they were before are saved first (the
 *     TTL inputs must be the pre-update ones), then the update is sent; a
 *     repeated add finds its records present;
 *   - deploy: the previous main.cf settings are saved before main.cf is
 *     changed, and never taken again while a snapshot exists;
 *   - retire: deletes are repeated harmlessly, then confirmed everywhere.
 */
#ifndef PF_ROLL_INT_H
#define PF_ROLL_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "dns_discover.h"
#include "dns_propagation.h"
#include "dns_update.h"
#include "lock.h"
#include "net.h"
#include "postfix.h"
#include "rollover.h"
#include "state.h"
#include "timing.h"
#include "withdraw_guard.h"

/* The propagation polls' pauses are timing.h's (pf_poll_next_ms); after a
 * transient failure the first retry waits RETRY_MIN_SEC, doubling up to
 * RETRY_MAX_SEC; a wait whose end is unknown asks again in WAIT_UNKNOWN_SEC. */
#define RETRY_MIN_SEC 2
#define WAIT_UNKNOWN_SEC 30
#define RETRY_MAX_SEC 300
#define VERIFY_ATTEMPTS 5
#define PROBE_TIMEOUT_MS 10000
#define ZONE_CACHE_SEC 600

/*
 * A deploy prepared ahead (roll_prepare_deploy, roll_deploy.c): what
 * roll_step_deploy reads and checks before it changes main.cf, done while
 * the rollover waits for its deploy moment, in memory only.  It stands for
 * those reads at the moment only for the same rollover and keys, while it
 * is under ROLL_PREPARED_MAX_SEC old, and while every file marked here
 * (main.cf, master.cf, the key and certificate files main.cf names and the
 * next ones) has the mark it had when the reads began.
 */
#define ROLL_PREPARE_LEAD_SEC 5    /* prepared only this long before the moment */
#define ROLL_PREPARED_MAX_SEC 3600 /* and used only while younger than this */
#define ROLL_PREPARE_AHEAD_SEC 600 /* how long before a later moment it is made */

typedef struct roll_prepared {
	bool valid;
	char *keys;       /* the rollover's id and keys it was made for (keys_of) */
	size_t n_maincf;  /* the state's snapshot entries then */
	uint64_t at_usec; /* roll_mono_usec when its reads began */
	int64_t at;       /* and roll_now (the monotonic clock stops in a suspend) */
	pf_strv paths;    /* the files marked */
	pf_file_mark *marks;
	pf_strv settings; /* what the deploy writes (deploy_settings) */
	pf_snapshot snap; /* main.cf's TLS server settings (snapshot) */
} roll_prepared;

struct pf_roll {
	const pf_config *cfg;
	char *state_path;
	pf_state st;
	pf_lock lock;
	bool locked;
	pf_postfix pf;
	bool pf_open;
	pf_timing_params tparams;
	FILE *progress;       /* command line: progress lines; NULL in the daemon */
	int64_t poll_ms;      /* the pause before the current propagation round, ms */
	unsigned retry_delay; /* back-off after a transient DNS failure, seconds */
	/* The retire's delete: when it was last sent (epoch ms), and for which
	 * rollover; the fast polls after it only ask (pf_poll_fast). */
	int64_t retire_sent_ms;
	char retire_of[PF_ROLLOVER_ID_LEN + 1];
	dns_zone_info *zones;
	size_t n_zones;
	int64_t zones_at;
	/* The last propagation round's largest TLSA TTL, and how many check
	 * servers did not answer it (roll_stage.c's watch). */
	uint32_t round_max_ttl;
	size_t round_unanswered;
	int64_t watch_at; /* prepublish: when the staged records are asked again */
	char status[300];
	bool audit;    /* roll_check: report, do not log rollover events */
	int lock_wait; /* seconds to wait for the lock; 0: fail at once */
	void (*phase_hook)(void *userdata);
	void *phase_hook_data;
	pf_net *net;            /* the real ops' network side; NULL: in process */
	const pf_roll_ops *ops; /* roll_real_ops, or a test's */
	void *ops_data;         /* given to each of ops: r itself for the real ones */
	roll_prepared prep;     /* the deploy prepared ahead; valid false: none */
};

/* The real dependencies, with the roll object as their userdata
 * (roll_ops.c). */
extern const pf_roll_ops roll_real_ops;

/* ---- the core (rollover.c) ---- */

/* The clock, through r->ops: now in epoch seconds and in epoch ms, each
 * rounded down; now in ms rounded up (the start of a wait, timing.h); the
 * monotonic clock; a pause. */
int64_t roll_now(const pf_roll *r);
int64_t roll_now_ms(const pf_roll *r);
int64_t roll_now_ms_up(const pf_roll *r);
uint64_t roll_mono_usec(const pf_roll *r);
void roll_sleep_ms(const pf_roll *r, unsigned ms);
void roll_progress(pf_roll *r, const char *fmt, ...) PF_PRINTF(2, 3);
/* Re-read the state file into r->st.  Returns 0 or -errno. */
int roll_load_state(pf_roll *r, pf_err *e);
/* Take the lock and re-read the state.  Returns 0 or -errno. */
int roll_begin(pf_roll *r, pf_err *e);
void roll_end(pf_roll *r);
int roll_save(pf_roll *r, pf_err *e);
/* Open the Postfix adapter once.  Returns 0 or -errno. */
int roll_open_postfix(pf_roll *r, pf_err *e);
void roll_phase_fault_point(enum pf_phase p);
/* Enter phase p, stamp (PF_T_COUNT: none) at now_ms (epoch ms; to the ms
 * for pf_stamp_in_ms stamps, else its second), log its event and save.
 * Returns 0/-errno. */
int roll_enter(pf_roll *r, enum pf_phase p, enum pf_stamp stamp, int64_t now_ms, pf_err *e,
	       const char *fmt, ...) PF_PRINTF(6, 7);
/* Stop in phase failed with reason.  Returns 0. */
int roll_fail(pf_roll *r, const char *reason);
/* Age of the oldest deployed key, by its file; -1 when none is. */
int64_t roll_deployed_key_age(pf_roll *r);
/* True for failures worth retrying later rather than stopping for. */
bool roll_transient(int rc);

/* ---- records and DNS changes (roll_publish.c) ---- */

int roll_tlsa_hosts(pf_roll *r, pf_strv *ret, pf_err *e);
int roll_add_records(pf_roll *r, enum pf_role role, enum pf_alg alg, const char *keypath,
		     const char *certpath, const pf_strv *hosts, pf_err *e);
void roll_drop_records(pf_state *st, enum pf_role role, enum pf_alg alg);
size_t roll_select_records(const pf_state *st, enum pf_role role, size_t *ret);
int roll_zones(pf_roll *r, pf_err *e);
int roll_apply_changes(pf_roll *r, const size_t *idx, size_t n, enum dns_change_op op,
		       dns_update_result *res, pf_err *e);
size_t roll_wants_in_zone(const pf_roll *r, const size_t *idx, size_t n, const dns_zone_info *z,
			  bool present, dns_prop_want *want);

/* ---- the steps, each in its file ---- */

/* Write the next key files the state names and the disk lacks. */
int roll_ensure_next_files(pf_roll *r, pf_err *e);
int roll_step_generate(pf_roll *r, pf_err *e);
int roll_step_publish(pf_roll *r, pf_err *e);
int roll_propagation_round(pf_roll *r, const size_t *idx, size_t n, bool present, bool *ret_done,
			   pf_strv *ret_missing, pf_err *e);
/* The steps that wait set *wakeup: when to run again, epoch ms. */
int roll_step_propagation(pf_roll *r, int64_t *wakeup, pf_err *e);

/* ---- DNSSEC verdicts and the periodic audit (roll_audit.c) ---- */

/* One progress line per validated RRset of server sv (chain_err: why the
 * chain could not be built, or NULL). */
void roll_report_dnssec(pf_roll *r, const dns_prop_round *rd, const dns_prop_server *sv,
			const char *chain_err);
/* The audit's scratch state (roll_check.c): r->st becomes a state whose
 * "next" keys are the ones main.cf deploys, with their records, one line
 * per key to out; roll_audit_end puts saved back.  Returns 0 or -errno. */
int roll_audit_begin(pf_roll *r, FILE *out, pf_tls_files *dep, pf_err *e);
void roll_audit_end(pf_roll *r, pf_state *saved, FILE *saved_progress, pf_tls_files *dep);
/* What roll_walk_servers saw, in this order per zone: the zone's own
 * problem (NO_DNS, UNSIGNED, NO_CHAIN), then each check server's answer
 * (SERVER) followed by the RRsets it serves bogus or insecure (RRSET), then
 * ZONE_DONE.  NO_DNS with zone NULL: no zone could be found at all. */
enum roll_seen {
	ROLL_SEEN_NO_DNS,    /* the zones, or one zone's round, could not be had */
	ROLL_SEEN_UNSIGNED,  /* the zone is not DNSSEC-signed */
	ROLL_SEEN_NO_CHAIN,  /* its chain of trust could not be built */
	ROLL_SEEN_SERVER,    /* one check server's answer to the round */
	ROLL_SEEN_RRSET,     /* an RRset that server serves is bogus or insecure */
	ROLL_SEEN_ZONE_DONE, /* the zone's last word */
};

typedef struct roll_seen_item {
	enum roll_seen what;
	const char *zone;              /* the zone (NO_DNS: NULL for all of them) */
	const dns_prop_server *sv;     /* SERVER, RRSET */
	size_t wanted;                 /* SERVER: how many records it was asked for */
	bool zone_signed;              /* SERVER */
	enum dns_prop_verdict verdict; /* RRSET: bogus or insecure */
	const char *owner;             /* RRSET */
	const char *msg;               /* all but SERVER and ZONE_DONE: what is wrong */
} roll_seen_item;

typedef void roll_seen_fn(void *userdata, const roll_seen_item *it);

/* The records idx[0..n) of r->st asked of every check server of every zone
 * (with dnssec, validated, *sig_expiry lowered to the earliest signature
 * expiry of what validates; 0: none yet), each outcome to fn.  For the
 * periodic audit and check --plugin (roll_check.c). */
void roll_walk_servers(pf_roll *r, const size_t *idx, size_t n, bool dnssec, int64_t *sig_expiry,
		       roll_seen_fn *fn, void *userdata);

/* One verify endpoint x deployed algorithm, as roll_walk_endpoints found it. */
typedef struct roll_endpoint_seen {
	const char *label; /* the endpoint, host:port */
	enum pf_alg alg;
	bool ok;         /* the deployed key, DANE-valid against its records */
	const char *msg; /* !ok: what is wrong */
} roll_endpoint_seen;

typedef void roll_endpoint_fn(void *userdata, const roll_endpoint_seen *s);

/* Every verify endpoint x algorithm with a key in r->st: probed against
 * that key's records among idx[0..n), each outcome to fn (none when n is
 * 0).  For the periodic audit and check --plugin (roll_check.c). */
void roll_walk_endpoints(pf_roll *r, const size_t *idx, size_t n, roll_endpoint_fn *fn,
			 void *userdata);
/* False when an RRset sv serves is bogus or insecure. */
bool roll_dnssec_secure(const dns_prop_round *rd, const dns_prop_server *sv);
int roll_rollback(pf_roll *r, const char *why, pf_err *e);
int roll_maincf_keys(pf_roll *r, bool *ret_all_next, bool *ret_changed, char *foreign, size_t flen,
		     pf_err *e);
int roll_check_hand_deploy(pf_roll *r, pf_err *e);
int roll_step_deploy(pf_roll *r, pf_err *e);
/* While the rollover waits for its deploy moment (propagated, or staged
 * and requested, with the moment known and at least ROLL_PREPARE_LEAD_SEC
 * away; with held_too, the daemon's engine that lives on, also a staged key
 * held), prepare the deploy unless a valid preparation is kept; a failure
 * only leaves none.  A moment too far away for a preparation made now
 * lowers *wakeup (epoch ms, 0: none) to ROLL_PREPARE_AHEAD_SEC before
 * it.  Changes nothing in the state. */
void roll_prepare_deploy(pf_roll *r, bool held_too, int64_t *wakeup);
void roll_prepared_clear(roll_prepared *p);
void roll_endpoints(pf_roll *r, pf_hostport_list *ret);
/* The endpoint a probe result came from: "host:port", with the address
 * probed when ep is a name ("mx.example.test:25 ([fd00::25]:25)"). */
const char *roll_probe_label(const pf_hostport *ep, const pf_probe_result *res, char *buf,
			     size_t len);
size_t roll_distinct_rdata(const pf_state *st, const size_t *idx, size_t n, enum pf_alg alg,
			   pf_tlsa_rdata *ret);
int roll_verify_once(pf_roll *r, pf_err *e);
int roll_step_verify(pf_roll *r, pf_err *e);
int roll_finish(pf_roll *r, pf_err *e);
int roll_step_retire(pf_roll *r, int64_t *wakeup, pf_err *e);

/* ---- prepublish (roll_stage.c) ---- */

/* Begin a staging cycle (a new id, staging set, t_in_service as given)
 * and save.  Returns 0 or -errno. */
int roll_stage_begin(pf_roll *r, int64_t in_service, pf_err *e);
/* Ask a staging cycle for its rollover (pf_state_request), log why and
 * what follows, save.  0 (nothing done) for any other cycle. */
int roll_request(pf_roll *r, const char *why, pf_err *e);
/* Phase staged: held (watch every audit_interval, rollover_interval), or
 * requested (watch, then deployable once the wait has passed). */
int roll_step_staged(pf_roll *r, bool auto_start, int64_t *wakeup, pf_err *e);
/* ---- CA-issued certificates (roll_cert.c, SPEC.md 8) ---- */

#define CERT_COMMAND_TIMEOUT_MS 120000 /* one certificate_command run */

/* What a deploy puts into main.cf per algorithm instead of the next key
 * and its self-signed certificate; NULL: those. */
typedef struct roll_cert_files {
	char *key[PF_ALG_COUNT];
	char *cert[PF_ALG_COUNT];
} roll_cert_files;

void roll_cert_files_free(roll_cert_files *f);
/* With certificate_command set, obtain, check and write a CA-issued
 * certificate for each next key (nothing when it is not set).  Every
 * failure is a journal error and -EAGAIN (roll_transient): nothing is
 * deployed and the deploy is retried with back-off.  Returns 0/-errno. */
int roll_cert_obtain_next(pf_roll *r, roll_cert_files *ret, pf_err *e);
/* In phase idle: renew each deployed CA certificate of ours that has
 * reached certificate_renew_before; lower *wakeup_ms (epoch ms, 0: none
 * yet) to the next renewal moment, or to the back-off after a failure. */
void roll_cert_idle(pf_roll *r, int64_t *wakeup_ms);
/* With certificate_command set and a CA-issued certificate of ours in
 * main.cf for alg: does the endpoint (label) present exactly that chain
 * (res: leaf digest, length), and does it verify against
 * certificate_ca_file and name every tlsa_hostnames name, now?  Returns 0
 * (also when there is nothing to check), -EPROTO with e saying what does
 * not hold, or another -errno.  For verify and the audit. */
int roll_cert_check_live(pf_roll *r, enum pf_alg alg, const pf_probe_result *res, const char *label,
			 pf_err *e);

#endif
