/*
 * metrics.h - the metrics_file (SPEC.md 3, 6): what the daemon knows,
 * rendered in the Prometheus text exposition format (version 0.0.4), with
 * "# HELP" and "# TYPE" lines, for the node exporter's textfile collector,
 * and written atomically.  The numbers are gathered elsewhere (roll_metrics,
 * rollover.h); this module only renders and writes them.
 */
#ifndef PF_METRICS_H
#define PF_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "state.h"
#include "util.h"

/* The key of one algorithm deployed in main.cf. */
typedef struct pf_metrics_key {
	bool present;
	int64_t age;            /* seconds since the key file was written; < 0: unknown */
	int64_t cert_not_after; /* the deployed certificate's notAfter; 0: unknown */
} pf_metrics_key;

/* A check server and whether it was seen serving every new record. */
typedef struct pf_metrics_server {
	char name[PF_ENDPOINT_BUF]; /* host:port; any bytes (escaped when rendered) */
	bool served;
} pf_metrics_server;

/* What the last audit saw one check server serve: of the deployed keys'
 * records, how many. */
typedef struct pf_metrics_served {
	char name[64]; /* host:port */
	unsigned served, wanted;
} pf_metrics_served;

typedef struct pf_metrics {
	int64_t now; /* the write time */
	enum pf_phase phase;
	int64_t next_step_at;      /* when the next step becomes allowed; 0: unknown */
	int64_t last_phase_change; /* 0: unknown */
	pf_metrics_key keys[PF_ALG_COUNT];
	pf_metrics_server *servers; /* owned; freed by metrics_clear */
	size_t n_servers;
	uint64_t rollovers_completed;
	uint64_t rollovers_failed;
	/* The daemon's last audit (roll_audit.h); last_audit 0: none yet. */
	int64_t last_audit;
	size_t audit_findings;
	int64_t sig_expiry; /* earliest TLSA chain signature expiry; 0: unknown */
	const pf_metrics_served *audit_served; /* borrowed */
	size_t n_audit_served;
} pf_metrics;

/* Release what m owns; m is then empty. */
void metrics_clear(pf_metrics *m);

/* Append a check server to m (name copied, cut to fit). */
void metrics_add_server(pf_metrics *m, const char *name, bool served);

/* The exposition text of m, "\n"-terminated lines.  The caller frees it.
 * Never fails. */
char *metrics_render(const pf_metrics *m);

/* Render m and replace path with it atomically (pf_write_file_durable),
 * mode 0644: the textfile collector runs as another user.  Returns 0 or
 * -errno with e naming the file. */
int metrics_write(const char *path, const pf_metrics *m, pf_err *e);

#endif
