/*
 * config.h - pftls-roll.cf: the parameter table, the parser, and the parsed
 * settings every other module reads (SPEC.md 3).
 *
 * The file uses Postfix syntax: "name = value", whole-line "#" comments, a
 * line starting with white space continues the previous one, lists are
 * separated by commas and/or white space, times take a unit (s m h d w).
 * Parsing is all-or-nothing: on any error the caller gets one message
 * "FILE:LINE: ..." and no configuration.
 */
#ifndef PF_CONFIG_H
#define PF_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "macro.h"
#include "util.h"

#define PF_DEFAULT_CONFIG "/etc/pftls-roll/pftls-roll.cf"
#define PF_CONFIG_MAX_BYTES (1024 * 1024)

enum pf_alg { PF_ALG_RSA = 0, PF_ALG_ECDSA = 1, PF_ALG_COUNT };

/* rollover_scheme (SPEC.md 4): a next key staged at all times, or made
 * when a rollover starts. */
enum pf_scheme { PF_SCHEME_PREPUBLISH = 0, PF_SCHEME_ON_DEMAND = 1 };

/* certificate_renew_before: seconds, or a percentage of the lifetime. */
typedef struct pf_renew_before {
	bool percent;  /* value is 1-99 percent of notAfter - notBefore */
	int64_t value; /* seconds when !percent */
} pf_renew_before;

/* One "usage selector mtype" triple from tlsa_records. */
typedef struct pf_tlsa_param {
	uint8_t usage;
	uint8_t selector;
	uint8_t mtype;
} pf_tlsa_param;

/* A "host[:port]" or "[v6addr]:port" item; port 0 means "the default". */
typedef struct pf_hostport {
	char host[PF_DNS_NAME_BUF];
	uint16_t port;
} pf_hostport;

typedef struct pf_hostport_list {
	pf_hostport *v;
	size_t n;
} pf_hostport_list;

/* Parameter indexes, in the order of SPEC.md 3 (and of "config" output). */
enum pf_param_id {
	PF_P_POSTFIX_CONFIG_DIRECTORY,
	PF_P_POSTFIX_COMMAND_DIRECTORY,
	PF_P_KEY_ALGORITHMS,
	PF_P_RSA_BITS,
	PF_P_ECDSA_CURVE,
	PF_P_TLSA_HOSTNAMES,
	PF_P_TLSA_PORTS,
	PF_P_TLSA_RECORDS,
	PF_P_TLSA_TTL,
	PF_P_DNS_ZONE,
	PF_P_DNS_UPDATE_SERVER,
	PF_P_DNS_TSIG_KEY_FILE,
	PF_P_DNS_RESOLVER,
	PF_P_DNS_CHECK_SERVERS,
	PF_P_DNS_EXTRA_CHECK_SERVERS,
	PF_P_ROLLOVER_INTERVAL,
	PF_P_TTL_FACTOR,
	PF_P_PUBLISH_SAFETY,
	PF_P_PROPAGATION_MIN_DELAY,
	PF_P_PROPAGATION_ALERT,
	PF_P_RETIRE_DELAY,
	PF_P_RELOAD_COMMAND,
	PF_P_RELOAD_UNIT,
	PF_P_VERIFY_ENDPOINTS,
	PF_P_ROLLOVER_SCHEME,
	PF_P_CERTIFICATE_COMMAND,
	PF_P_CERTIFICATE_CA_FILE,
	PF_P_CERTIFICATE_RENEW_BEFORE,
	PF_P_AUDIT_INTERVAL,
	PF_P_METRICS_FILE,
	PF_P_DNSSEC_TRUST_ANCHOR_FILE,
	PF_P_STATE_DIRECTORY,
	PF_P_CONTROL_SOCKET,
	PF_P_COUNT
};

typedef struct pf_config {
	char *path; /* file read; NULL when only defaults apply */

	char *postfix_config_directory;
	char *postfix_command_directory;
	enum pf_alg algs[PF_ALG_COUNT]; /* in the order written */
	size_t n_algs;
	unsigned rsa_bits;
	char *ecdsa_curve;      /* canonical: secp256r1, secp384r1, secp521r1 */
	pf_strv tlsa_hostnames; /* empty: Postfix myhostname */
	uint16_t *tlsa_ports;
	size_t n_tlsa_ports;
	pf_tlsa_param *tlsa_records;
	size_t n_tlsa_records;
	uint32_t tlsa_ttl;
	char *dns_zone;                     /* NULL: found by SOA lookup */
	pf_hostport_list dns_update_server; /* 0 or 1 item; none: SOA MNAME */
	char *dns_tsig_key_file;            /* NULL: updates are not signed */
	pf_hostport_list dns_resolver;      /* empty: /etc/resolv.conf */
	pf_hostport_list dns_check_servers; /* empty: every NS address */
	pf_hostport_list dns_extra_check_servers;
	int64_t rollover_interval; /* seconds; 0: manual only */
	unsigned ttl_factor;
	int64_t publish_safety;
	int64_t propagation_min_delay;
	int64_t propagation_alert;
	int64_t retire_delay;
	char *reload_command;              /* NULL: "postfix -c DIR reload" */
	char *reload_unit;                 /* NULL: use reload_command */
	pf_hostport_list verify_endpoints; /* empty: tlsa_hostnames x ports */
	enum pf_scheme rollover_scheme;
	char *certificate_command; /* NULL: self-signed certificates */
	char *certificate_ca_file;
	pf_renew_before certificate_renew_before;
	int64_t audit_interval; /* seconds; 0: no periodic audit */
	char *metrics_file;     /* NULL: no metrics written */
	char *dnssec_trust_anchor_file;
	char *state_directory;
	char *control_socket;

	/* Where each parameter was set: line number, 0 for the default; and
	 * the value text as written (NULL for the default). */
	unsigned set_line[PF_P_COUNT];
	char *raw[PF_P_COUNT];
} pf_config;

/* Name and default text of parameter id; NULL past the end. */
const char *pf_config_param_name(unsigned id);
const char *pf_config_param_default(unsigned id);
/* Index of a parameter name, or -1. */
int pf_config_param_lookup(const char *name);

/* Fill cfg with the defaults.  Never fails. */
void pf_config_init(pf_config *cfg);

/*
 * Parse the configuration file at path into cfg (defaults for names it does
 * not set).  With missing_ok, a file that does not exist leaves the defaults
 * and returns 0.  On error cfg is left as defaults, and e says
 * "PATH:LINE: problem".  Returns 0 or -errno (-EINVAL for bad content).
 */
int pf_config_load(pf_config *cfg, const char *path, bool missing_ok, pf_err *e);

/*
 * One line per way someone other than the operator could steer the
 * program: the configuration file at path (NULL: not checked) or
 * postfix_config_directory writable by group or others, or
 * dns_tsig_key_file owned by neither root nor the effective uid.  Appended
 * to *ret, which the caller clears.  pf_config_load reports them (the
 * daemon in its journal as config-insecure, at warning priority; the
 * command line on stderr) and goes on: they are warnings, not refusals.
 */
void pf_config_permission_warnings(const pf_config *cfg, const char *path, pf_strv *ret);

/* Same, from a buffer; name is used in messages. */
int pf_config_parse(pf_config *cfg, const char *name, const char *text, pf_err *e);

/* Release everything cfg owns (NULL is fine); cfg can be initialised
 * again. */
void pf_config_free(pf_config *cfg);

/* Print "name = value" for the effective value of parameter id. */
void pf_config_print_param(const pf_config *cfg, unsigned id, FILE *out);

/* Parse a time value with an optional unit s m h d w.  Returns 0 or -EINVAL. */
int pf_parse_time(const char *s, int64_t *ret);

/* Parse "host", "host:port", "[v6]:port" or a bare IPv6 address.  With
 * addr_only the host must be an IP address literal.  Returns 0 or -EINVAL
 * with e naming the problem. */
int pf_parse_hostport(const char *s, bool addr_only, pf_hostport *ret, pf_err *e);
/* "host:port", or "[addr]:port" for an IPv6 address, into buf; port
 * default_port when hp's is 0.  Returns buf. */
const char *pf_hostport_label(const pf_hostport *hp, uint16_t default_port, char *buf, size_t len);

/* Canonical curve name for an accepted curve name or alias, else NULL. */
const char *pf_canonical_curve(const char *name);

const char *pf_alg_name(enum pf_alg alg);

/* The reload command effective for cfg (the configured one, or
 * "COMMAND_DIR/postfix -c CONFIG_DIR reload").  Caller frees. */
char *pf_config_reload_command(const pf_config *cfg);

#endif
