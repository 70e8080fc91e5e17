/*
 * timing.h - the waits of a rollover (SPEC.md 4) as pure functions of the
 * persisted state and the configured timing parameters: when a key may be
 * deployed, when old records may be withdrawn, and each wait on the way,
 * with its start and end, for "status" to show.
 *
 *   TTLeff    = max(TTL of each TLSA RRset before the update, tlsa_ttl), and
 *               where an RRset did not exist, also min(SOA TTL, SOA MINIMUM)
 *               (the negative answer a resolver may have cached, RFC 2308)
 *   deploy at = max(T_conf, T_pub + propagation_min_delay)
 *               + ttl_factor * TTLeff + publish_safety
 *   retire at = T_reload + retire_delay, and only once verified
 *
 * Every input is a persisted timestamp or TTL, so a restarted daemon computes
 * the same times and never shortens a wait.  The parameters used are the
 * larger of the configured ones and those recorded in the state at publish
 * time: a configuration edited mid-rollover can lengthen a wait, not shorten
 * it (deploy --force-now is the one explicit override, and is not here).
 *
 * The deploy and retire moments are computed in milliseconds from the
 * stamps the state keeps to the ms (pf_state_stamp_ms: T_pub, T_conf,
 * T_reload, T_verified, T_deployed; a whole-second stamp of an older file
 * counts as that second), and the safety rules compare "now" in ms.  The
 * moments that start a wait are stamped rounded up to the ms and "now" is
 * passed rounded down (pf_now_ms), so rounding can only lengthen a wait, by
 * less than a millisecond.  The waits for "status" stay whole seconds: each
 * stamp's second rounded up (state.h), deploy_at = ceil(deploy_at_ms).
 *
 * Also here, as a pure function: when to ask the check servers again while
 * waiting for a change to be served (or gone) everywhere.
 */
#ifndef PF_TIMING_H
#define PF_TIMING_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "state.h"
#include "util.h"

enum pf_wait_id {
	PF_WAIT_PROPAGATION,  /* T_pub .. T_conf: every check server serves the records */
	PF_WAIT_MIN_DELAY,    /* T_pub .. T_pub + propagation_min_delay */
	PF_WAIT_TTL,          /* base .. base + ttl_factor * TTLeff */
	PF_WAIT_SAFETY,       /* .. + publish_safety: the deploy time */
	PF_WAIT_VERIFICATION, /* T_reload .. T_verified */
	PF_WAIT_RETIRE,       /* T_reload .. T_reload + retire_delay */
	PF_WAIT_COUNT
};

typedef struct pf_wait {
	const char *name; /* "propagation", "propagation_min_delay", "ttl", ... */
	bool started;     /* start is known */
	bool known;       /* end is known; a wait for an event ends when it happens */
	int64_t start;
	int64_t end;
} pf_wait;

typedef struct pf_timing {
	pf_timing_params params; /* the parameters applied */

	/* TTLeff and the terms it is the maximum of. */
	bool ttl_known;
	uint32_t ttl_eff;
	uint32_t ttl_before;   /* largest TTL of an RRset that existed; 0: none */
	uint32_t ttl_negative; /* min(SOA TTL, SOA MINIMUM); 0: no RRset was absent */
	bool any_absent;       /* some RRset did not exist before the update */
	uint32_t tlsa_ttl;

	bool deploy_known;
	int64_t deploy_at;    /* whole seconds: deploy_at_ms rounded up */
	int64_t deploy_at_ms; /* epoch ms: what pf_timing_may_deploy compares */
	bool retire_known;    /* T_reload is set */
	int64_t retire_at;    /* also needs verification: pf_timing_may_retire */
	int64_t retire_at_ms;
	pf_wait waits[PF_WAIT_COUNT];
} pf_timing;

/* The timing parameters of a configuration. */
void pf_timing_params_from_config(const pf_config *cfg, pf_timing_params *ret);

/* The parameters that apply to st: each the larger of cfg's and those
 * recorded in st (when st has them). */
void pf_timing_effective(const pf_state *st, const pf_timing_params *cfg, pf_timing_params *ret);

/* The terms of SPEC.md 4 on their own, for callers without a state (the
 * CLI's "propagation --wait"); pf_timing_compute uses them too.  TTLeff:
 * the largest of tlsa_ttl, ttl_before and ttl_negative (0 for a term that
 * does not apply).  The negative-caching TTL an SOA implies: min(SOA TTL,
 * SOA MINIMUM).  The deploy time: max(t_conf, t_pub +
 * propagation_min_delay) + ttl_factor * ttl_eff + publish_safety. */
uint32_t pf_timing_ttl_eff(uint32_t tlsa_ttl, uint32_t ttl_before, uint32_t ttl_negative);
uint32_t pf_timing_ttl_negative(uint32_t soa_ttl, uint32_t soa_minimum);
int64_t pf_timing_deploy_at(const pf_timing_params *p, int64_t t_pub, int64_t t_conf,
			    uint32_t ttl_eff);

/* Compute every wait of st under the configured parameters cfg. */
void pf_timing_compute(const pf_state *st, const pf_timing_params *cfg, pf_timing *ret);

/* Seconds left of w at now: 0 when over, -1 when its end is not known. */
int64_t pf_wait_remaining(const pf_wait *w, int64_t now);

/*
 * The propagation poll: while waiting for a change (the adding update's
 * NOERROR, a delete) to be served or gone on every check server, ask every
 * PF_POLL_FAST_MS during the first PF_POLL_FAST_WINDOW_MS after the change,
 * then back off from PF_POLL_MIN_MS, doubling, to PF_POLL_MAX_MS.
 * pf_poll_next_ms: the pause before the next round, since_change_ms after
 * the change, prev_ms the pause before this round (0: none yet).
 * pf_poll_fast: whether a round since_change_ms after the change is one of
 * the fast ones (a retire only asks in those, SPEC.md 5: no delete sent
 * again, no guard run).
 */
#define PF_POLL_FAST_MS 150
#define PF_POLL_FAST_WINDOW_MS 4000
#define PF_POLL_MIN_MS 1000
#define PF_POLL_MAX_MS 30000

int64_t pf_poll_next_ms(int64_t since_change_ms, int64_t prev_ms);
bool pf_poll_fast(int64_t since_change_ms);

/*
 * Safety rule 1 as a question: may the next keys be deployed at now_ms
 * (epoch ms)?
 * Returns 0, or -EPERM (exit code 3) with e saying what is awaited and,
 * when known, until when: the records not yet confirmed on every check
 * server, or the deploy time not reached.
 */
int pf_timing_may_deploy(const pf_state *st, const pf_timing *t, int64_t now_ms, pf_err *e);

/*
 * Safety rule 2 for the old records: may they be withdrawn at now_ms?  Only
 * after a verification at or after the reload, and not before T_reload +
 * retire_delay.  Returns 0, or -EPERM with e saying why not.
 */
int pf_timing_may_retire(const pf_state *st, const pf_timing *t, int64_t now_ms, pf_err *e);

/* "YYYY-MM-DD HH:MM:SS UTC" for t into buf (at least 24 bytes); returns buf. */
const char *pf_timing_fmt_time(int64_t t, char *buf, size_t len);

#endif
