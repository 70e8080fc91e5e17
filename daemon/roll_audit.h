/*
 * roll_audit.h - the periodic audit of what is in service (SPEC.md 6), as
 * pftls-rolld runs it every audit_interval between rollover steps: the
 * records of the deployed keys (and of next keys published but not yet
 * deployed) on every check server, their DNSSEC verdicts, every verify
 * endpoint presenting a deployed key that DANE-validates, and main.cf
 * naming only keys the state knows.  Every exchange goes through the
 * network process with its own deadline (DNS rounds, bounded probes).
 *
 * Findings are kept in a book: each kind has its own journal event, logged
 * when a finding opens, again at most hourly while it stays open, and an
 * audit-finding-resolved entry when it closes.  The open findings are
 * written to STATE_DIRECTORY/audit (one line each, atomically) so that
 * `status` run by another process shows them.
 */
#ifndef PF_ROLL_AUDIT_H
#define PF_ROLL_AUDIT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "journal.h"
#include "metrics.h"
#include "rollover.h"

#define PF_AUDIT_REMIND_SEC 3600 /* a reminder of an open finding at most this often */
#define PF_AUDIT_FINDINGS_MAX 256
#define PF_AUDIT_FILE "audit" /* in state_directory */

typedef struct pf_audit_finding {
	enum pf_event ev;  /* its kind: one of the PF_EV_AUDIT_* */
	char subject[160]; /* what it concerns: a server, an endpoint, a key */
	char server[64];   /* PFTLS_SERVER: the server or endpoint; "" none */
	char msg[400];
	int64_t since, logged;
} pf_audit_finding;

typedef pf_metrics_served pf_audit_server;

/* What one audit found. */
typedef struct pf_audit_result {
	int64_t time;
	pf_audit_finding *f;
	size_t n;
	int64_t sig_expiry; /* earliest over every validated RRset; 0: none */
	pf_audit_server *servers;
	size_t n_servers;
} pf_audit_result;

/* The open findings, across audits. */
typedef struct pf_audit_book {
	pf_audit_finding *f;
	size_t n;
	int64_t last_audit; /* 0: none yet */
	bool last_ok;
	int64_t sig_expiry;
	pf_audit_server *servers;
	size_t n_servers;
} pf_audit_book;

/* Run one audit on r (state loaded).  Never fails: what could not be
 * checked is a finding of its own (audit-incomplete). */
void roll_audit_run(pf_roll *r, pf_audit_result *ret);
void pf_audit_result_free(pf_audit_result *a);

/* Fold a result into the book at time now, logging what opens, what is
 * reminded and what closes, and write the findings file into dir.
 * Returns the number of open findings. */
size_t pf_audit_book_update(pf_audit_book *b, pf_audit_result *a, int64_t now, const char *dir);
void pf_audit_book_free(pf_audit_book *b);

/* The metrics of the book's last audit into m. */
void pf_audit_metrics(const pf_audit_book *b, pf_metrics *m);

/* The open findings of the file in dir: text lines or a JSON array, to
 * out.  Returns the number shown (0 when the file is absent). */
size_t pf_audit_print(const char *dir, bool json, FILE *out);

#endif
