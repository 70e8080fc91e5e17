/*
 * state.h - the persisted rollover state: the one file in state_directory
 * that says which rollover is under way, which phase it has reached, which
 * keys and records it made, what main.cf said before, and every timestamp
 * and TTL the timing model (timing.h) needs to resume a wait after a crash
 * without shortening it.
 *
 * The file is text: a "pftls-roll-state 1" header, "key = value" lines in a
 * fixed order, and a last line "checksum = <SHA-256 of everything before
 * it>", so a torn or hand-edited file is detected rather than half-believed.
 * It is written only through pf_write_file_durable (temporary file, fsync,
 * rename, directory fsync) and read all-or-nothing: any problem is one
 * "FILE:LINE: ..." message and no state.
 *
 * The state holds paths and public digests only, never key material.
 * Timestamps are whole seconds since the epoch; 0 means "not yet".
 */
#ifndef PF_STATE_H
#define PF_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "tlsa.h"
#include "tlsa_records.h"
#include "util.h"
#include "macro.h"

#define PF_STATE_FILE_NAME "pftls-roll.state"
#define PF_STATE_VERSION 1
/* Sized for one daemon with many names (SPEC.md 7): 1,000 names x 2 ports x
 * 2 record types x 2 algorithms x old and next keys are 16,000 records of
 * about 120 bytes; the limits leave room above that. */
#define PF_STATE_MAX_BYTES (16 * 1024 * 1024)
#define PF_STATE_MAX_LINE 4096
#define PF_STATE_MAX_ITEMS 65536 /* records, settings, RRsets, servers: each */
#define PF_STATE_MAX_EVENTS 20   /* the last events kept for "status" */
#define PF_STATE_MAX_TEXT 400    /* failure reasons and event messages */
#define PF_ROLLOVER_ID_LEN 32    /* hex digits of a 128-bit rollover id */
/* Largest timestamp or duration accepted: far beyond any real clock, small
 * enough that sums of a few of them cannot overflow int64_t. */
#define PF_STATE_MAX_SECONDS ((int64_t)1 << 40)

/* Phases of SPEC.md 4, in the order a rollover passes them; failed last. */
enum pf_phase {
	PF_PHASE_IDLE,
	PF_PHASE_GENERATED,
	PF_PHASE_PUBLISHED,
	PF_PHASE_PROPAGATED,
	PF_PHASE_STAGED, /* prepublish: a next key served everywhere, held */
	PF_PHASE_DEPLOYABLE,
	PF_PHASE_DEPLOYED,
	PF_PHASE_VERIFIED,
	PF_PHASE_RETIRED,
	PF_PHASE_FAILED,
	PF_PHASE_COUNT
};

/* The timestamps of a rollover (file keys in brackets). */
enum pf_stamp {
	PF_T_STARTED,    /* [t_started] the rollover began */
	PF_T_GENERATED,  /* [t_generated] next keys and certificates written */
	PF_T_PUB,        /* [t_pub] T_pub: verified NOERROR of the adding update */
	PF_T_CONF,       /* [t_conf] T_conf: last check server seen serving all */
	PF_T_DEPLOYABLE, /* [t_deployable] the deploy time was reached */
	PF_T_DEPLOYED,   /* [t_deployed] main.cf changed */
	PF_T_RELOAD,     /* [t_reload] T_reload: Postfix reload done */
	PF_T_VERIFIED,   /* [t_verified] every endpoint presented the new keys */
	PF_T_RETIRED,    /* [t_retired] old records confirmed gone everywhere */
	PF_T_FAILED,     /* [t_failed] the rollover stopped in phase failed */
	/* Of prepublish (rollover_scheme, SPEC.md 4), after the others so that
	 * files written before them keep their meaning: */
	PF_T_STAGED,     /* [t_staged] the staged key was last found served everywhere */
	PF_T_REQUESTED,  /* [t_requested] a rollover was asked of the staged key */
	PF_T_IN_SERVICE, /* [t_in_service] the key main.cf deploys went live (0: unknown) */
	PF_T_COUNT
};

/* Which key of an algorithm a record belongs to. */
enum pf_role {
	PF_ROLE_NEXT, /* the key being rolled in */
	PF_ROLE_OLD,  /* the key it replaces */
};

/* One algorithm's keys.  Paths are absolute; SPKI digests lowercase hex. */
typedef struct pf_state_key {
	bool present;
	char *next_key;
	char *next_cert;
	char next_spki[PF_SHA256_HEX_BUF];
	char *old_key; /* NULL when nothing was deployed before */
	char *old_cert;
	char old_spki[PF_SHA256_HEX_BUF];
} pf_state_key;

/* A TLSA record this rollover adds (role next) or will withdraw (role old):
 * owner _PORT._tcp.HOST.  The file holds host and port; owner is derived
 * from them when the record is added (or loaded), so the DNS side reads
 * the canonical name and never parses one back. */
typedef struct pf_state_record {
	enum pf_role role;
	enum pf_alg alg;
	char host[PF_DNS_NAME_BUF]; /* as configured, no trailing dot */
	uint16_t port;
	pf_tlsa_rdata rdata;
	char owner[TLSA_OWNER_SIZE]; /* tlsa_owner_canon(host, port); "" when too long */
} pf_state_record;

/* One main.cf parameter as it was before deploy: value NULL means it was
 * not set in main.cf (restore removes it; "postconf -X"). */
typedef struct pf_state_setting {
	char *name;
	char *value;
} pf_state_setting;

/* A TLSA RRset as seen before the adding update. */
typedef struct pf_state_rrset {
	char host[PF_DNS_NAME_BUF];
	uint16_t port;
	char owner[TLSA_OWNER_SIZE]; /* tlsa_owner_canon(host, port), as for a record */
	bool existed;
	uint32_t ttl; /* when existed */
} pf_state_rrset;

/* A check server that was seen serving every new record. */
typedef struct pf_state_server {
	char name[PF_ENDPOINT_BUF]; /* host:port as configured or discovered */
	uint32_t serial;
	int64_t confirmed;
} pf_state_server;

typedef struct pf_state_event {
	int64_t t;
	char kind[40]; /* journal event name, journal.h */
	enum pf_phase phase;
	char msg[PF_STATE_MAX_TEXT + 1];
} pf_state_event;

/* The timing parameters in force when the records were published.  The
 * timing model never waits less than these, so editing the configuration
 * in the middle of a rollover cannot shorten a wait already begun. */
typedef struct pf_timing_params {
	unsigned ttl_factor;
	int64_t publish_safety;
	int64_t propagation_min_delay;
	int64_t retire_delay;
} pf_timing_params;

typedef struct pf_state {
	char rollover[PF_ROLLOVER_ID_LEN + 1]; /* "" when none */
	enum pf_phase phase;
	enum pf_phase failed_from; /* phase failed: the phase it failed in */
	char *failed_reason;       /* phase failed: one line */
	int64_t t[PF_T_COUNT];     /* whole seconds (a ms stamp's rounded up) */
	/* The same stamps to the millisecond, for those stamped so (T_pub,
	 * T_conf, T_deployed, T_reload, T_verified; file "t_pub = S.mmm"); 0:
	 * unknown.  Read them with pf_state_stamp_ms, set them with
	 * pf_state_set_stamp_ms: a t_ms[] that does not round up to t[] (t[]
	 * set on its own since) is not used. */
	int64_t t_ms[PF_T_COUNT];

	pf_state_key keys[PF_ALG_COUNT];
	pf_state_record *records;
	size_t n_records;
	pf_state_setting *maincf;
	size_t n_maincf;

	/* TTL inputs of SPEC.md 4 seen at publish time. */
	pf_state_rrset *rrsets;
	size_t n_rrsets;
	uint32_t tlsa_ttl; /* TTL of the records added; 0 until published */
	bool have_soa;
	uint32_t soa_ttl;
	uint32_t soa_minimum;
	bool have_serial;
	uint32_t update_serial; /* SOA serial the update produced */
	bool have_params;
	pf_timing_params params;

	/* Propagation bookkeeping. */
	pf_state_server *servers;
	size_t n_servers;
	unsigned alert_count; /* propagation alerts logged so far */
	int64_t alert_last;   /* when the last one was logged */

	/* Kept across rollovers, as the events are (pftls_rollovers_*_total
	 * in the metrics): rollovers completed, and times one stopped failed
	 * (entered phase failed, or its key generation failed). */
	uint64_t rollovers_completed;
	uint64_t rollovers_failed;

	/* [staging = yes] (prepublish) this cycle makes and publishes a next
	 * key and holds in phase staged until a rollover is requested
	 * (pf_state_request); absent in files of the on-demand scheme and of
	 * earlier versions, whose rollovers go on to deploy as they did. */
	bool staging;

	pf_state_event events[PF_STATE_MAX_EVENTS]; /* oldest first */
	size_t n_events;
} pf_state;

/* Name of a phase ("idle", "generated", ...); "?" when out of range. */
const char *pf_phase_name(enum pf_phase phase);
/* Phase named s; returns its value or -EINVAL. */
int pf_phase_lookup(const char *s);
/* File key of a timestamp ("t_pub"); NULL when out of range. */
const char *pf_stamp_name(enum pf_stamp which);

/* True for the stamps kept to the ms (T_pub, T_conf, T_deployed,
 * T_reload, T_verified: the ones that start or end a wait). */
bool pf_stamp_in_ms(enum pf_stamp which);
/* Stamp which of st in epoch ms: t_ms[which] when it goes with t[which],
 * else t[which] * 1000 (a whole-second stamp, as older files have; 0 when
 * unset). */
int64_t pf_state_stamp_ms(const pf_state *st, enum pf_stamp which);
/* Set stamp which to ms (epoch ms): t_ms[which] = ms, t[which] = ms
 * rounded up to the second. */
void pf_state_set_stamp_ms(pf_state *st, enum pf_stamp which, int64_t ms);

/* Value checks the setters, the parser and the writer share.  True when s
 * is exactly len lowercase hex digits; an absolute path of printable
 * characters; a printable token without spaces of at most max bytes. */
bool pf_state_valid_hex(const char *s, size_t len);
bool pf_state_valid_path(const char *s);
bool pf_state_valid_token(const char *s, size_t max);
/* True when all three next (or old) fields of k are set. */
bool pf_state_key_has_next(const pf_state_key *k);
bool pf_state_key_has_old(const pf_state_key *k);

/* An empty, idle state.  Never fails. */
void pf_state_init(pf_state *st);
/* Release everything st owns; st is then as after pf_state_init (NULL:
 * nothing). */
void pf_state_free(pf_state *st);

/* Begin a rollover in st: a fresh random id, every field of the previous
 * rollover cleared, phase idle, t_started = now; the events are kept.
 * Callers check first that no rollover is in progress. */
void pf_state_begin(pf_state *st, int64_t now);

/* Forget what the publication of the next keys established - T_pub,
 * T_conf, t_staged, the RRsets and SOA values seen before, the serial,
 * the timing parameters, the servers confirmed, the alerts - so that
 * the records are published and confirmed again from phase generated
 * (their keys, files and records stay).  The phase is set to generated. */
void pf_state_clear_publication(pf_state *st);

/* Ask the staged cycle for a rollover at now: staging ends (the cycle goes
 * on to deploy once its wait has passed), t_requested = now.  False when
 * st is not a staging cycle (nothing changed). */
bool pf_state_request(pf_state *st, int64_t now);

/* Enter phase failed from the current phase, with a one-line reason
 * (control characters replaced, cut at PF_STATE_MAX_TEXT). */
void pf_state_fail(pf_state *st, int64_t now, const char *reason);

/* Append an event, dropping the oldest beyond PF_STATE_MAX_EVENTS.  The
 * message is sanitised as pf_state_fail's reason is. */
void pf_state_add_event(pf_state *st, int64_t t, const char *kind, const char *msg);

/* Setters that copy their arguments.  Each returns 0 or -EINVAL (with e
 * set) for a value the file could not hold.  pf_state_add_record does not
 * look for an equal record already there (that would make adding n records
 * O(n^2)): pf_state_validate, and so every save and load, refuses a record
 * listed twice. */
int pf_state_set_key(pf_state *st, enum pf_alg alg, enum pf_role role, const char *keypath,
		     const char *certpath, const char *spki_sha256, pf_err *e);
int pf_state_add_record(pf_state *st, enum pf_role role, enum pf_alg alg, const char *host,
			uint16_t port, const pf_tlsa_rdata *rdata, pf_err *e);
int pf_state_add_setting(pf_state *st, const char *name, const char *value, pf_err *e);
int pf_state_add_rrset(pf_state *st, const char *host, uint16_t port, bool existed, uint32_t ttl,
		       pf_err *e);
/* The same for the RRset at a canonical owner "_PORT._tcp.HOST." (as a
 * propagation round names it): host and port are parsed out of it
 * (tlsa_owner_parse); -EINVAL for a name not of that form. */
int pf_state_add_rrset_owner(pf_state *st, const char *owner, bool existed, uint32_t ttl,
			     pf_err *e);
/* Order of two records by owner (port, then host name without regard to
 * case) and TLSA data; 0 exactly when they are the same DNS record. */
int pf_state_record_cmp(const pf_state_record *a, const pf_state_record *b);

/* Index of the first record (in order) that repeats an earlier one of the
 * same role and algorithm, or -1 when none does.  O(n log n). */
long pf_state_duplicate_record(const pf_state *st);

/* Record a confirmation of server (replacing an earlier one of it). */
int pf_state_confirm_server(pf_state *st, const char *server, uint32_t serial, int64_t t,
			    pf_err *e);

/*
 * Check the rules a state must satisfy to be saved or loaded: the id is set
 * outside idle, failure fields exactly in phase failed, and each phase has
 * what it stands for (from generated: the next keys; from published: t_pub,
 * the records, tlsa_ttl, the RRsets seen before, the SOA values when one of
 * them did not exist, the timing parameters; from propagated: t_conf; from
 * deployed: t_reload and the main.cf snapshot; from verified: t_verified;
 * retired: t_retired; a staging cycle only up to phase staged).  A failed state is held to the
 * rules of the phase it failed in.  Returns 0 or -EINVAL with e naming the problem.
 */
int pf_state_validate(const pf_state *st, pf_err *e);

/*
 * True when base, a file name without its directory, is one this program
 * gives alg's key (cert false) or certificate (cert true): "key-" / "cert-"
 * (RSA) or "eckey-" / "eccert-" (ECDSA), a UTC stamp YYYYMMDD-HHMMSS, then
 * ".pem", exactly as step_generate (rollover.c) and new_server_cert
 * (tools/cmd_tls.c) make them.  *ret_stamp (when not NULL) is then set to
 * the stamp inside base, so a key and its certificate can be paired.
 */
bool pf_key_file_name_ours(const char *base, enum pf_alg alg, bool cert, const char **ret_stamp);

/*
 * The same for the files a CA-issued certificate of one of our keys is
 * deployed in (SPEC.md 8, roll_cert.c): "cert-" / "eccert-" (the chain
 * alone, beside the key file) or, when combined, "chain-" / "ecchain-" (key
 * and chain in one file, for smtpd_tls_chain_files), then the key's stamp,
 * "-ca-", the stamp of the moment the chain was obtained (a renewal of the
 * same key gets a new name), ".pem".  *ret_key_stamp (when not NULL) is
 * then set to the key's stamp inside base (its first 15 characters), so
 * the file can be paired with the key file of that stamp.
 */
bool pf_ca_file_name_ours(const char *base, enum pf_alg alg, bool combined,
			  const char **ret_key_stamp);

/*
 * Rule 8 (SPEC.md 5): the files a state can make the program create,
 * deploy or delete - each algorithm's next key and certificate - must be
 * files of its own, whatever the state file says, because its checksum
 * detects damage, not edits.  Each must be named as pf_key_file_name_ours
 * says (key and certificate with one stamp), sit directly in config_dir as
 * configured (repeated or trailing slashes aside; not another name for it,
 * not a subdirectory, no "." or ".."), and, where it exists, be a regular
 * file, not a symbolic link.  The main.cf snapshot, which a rollback puts
 * back, may only name the TLS server parameters a deploy changes.
 * Returns 0, or -EINVAL with e saying why and ret_field (when not NULL)
 * set to the file's name of the field ("rsa.next_key", "maincf").
 */
int pf_state_check_files(const pf_state *st, const char *config_dir, char ret_field[32], pf_err *e);

/*
 * Parse the text of a state file; name is used in messages.  On success the
 * parsed state is moved into *ret (initialised by this function); on error
 * *ret is untouched and e says "NAME:LINE: problem".  Returns 0 or -EINVAL.
 */
int pf_state_parse(const char *name, const char *text, size_t len, pf_state *ret, pf_err *e);

/* Serialise st, checksum line included.  The caller frees *ret.
 * Returns 0 or -EINVAL when st breaks pf_state_validate. */
int pf_state_format(const pf_state *st, char **ret, size_t *ret_len, pf_err *e);

/* DIR/pftls-roll.state; the caller frees it. */
char *pf_state_path(const char *state_directory);

/*
 * Read and parse the state file at path into *ret, and hold it to
 * pf_state_check_files for postfix_config_directory config_dir: a state
 * that fails is untrusted ("PATH:LINE: untrusted state: ...", -EINVAL).
 * Returns 0, -ENOENT (with e set) when there is no file, or another
 * -errno; *ret is set only on success.
 */
int pf_state_load(const char *path, const char *config_dir, pf_state *ret, pf_err *e);

/*
 * Write st to path durably (mode 0600): the file then holds either the old
 * state or the new one, never a mix, whenever the process dies.  Call with
 * the rollover lock held (lock.h): afterwards temporary files that earlier,
 * killed writers left behind are removed.  Returns 0 or -errno.
 */
int pf_state_save(const char *path, const pf_state *st, pf_err *e);

/* Create the state directory (mode 0700) unless it exists.  Returns 0 or
 * -errno. */
int pf_state_dir_create(const char *dir, pf_err *e);

#endif
