/*
 * config.c - the pftls-roll.cf parser.  One table names every parameter, its
 * default text and its type; defaults go through the same value parsers as
 * the file does, so a default can never be a value the file would reject.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "certchain.h"
#include "journal.h"
#include "macro.h"

enum ptype {
	T_PATH,         /* absolute path */
	T_PATH_OPT,     /* absolute path or empty */
	T_ALGS,         /* list of rsa|ecdsa */
	T_RSA_BITS,     /* 2048, 3072, 4096 */
	T_CURVE,        /* secp256r1, secp384r1, secp521r1 */
	T_HOSTNAMES,    /* list of host names */
	T_PORTS,        /* list of 1..65535 */
	T_TLSA,         /* list of "usage selector mtype" */
	T_TTL,          /* time, 1 .. 2^31-1 */
	T_DOMAIN_OPT,   /* domain name or empty */
	T_HOSTPORT_OPT, /* one host[:port] or empty */
	T_ADDRPORTS,    /* list of address[:port] */
	T_HOSTPORTS,    /* list of host[:port] */
	T_TIME,         /* time >= 0 */
	T_FACTOR,       /* integer 1 .. 100 */
	T_COMMAND_OPT,  /* command line or empty */
	T_UNIT_OPT,     /* systemd unit name or empty */
	T_SCHEME,       /* prepublish | on-demand */
	T_RENEW,        /* a time, or 1% .. 99% */
};

static const struct param {
	const char *name;
	const char *def;
	enum ptype type;
} params[PF_P_COUNT] = {
	[PF_P_POSTFIX_CONFIG_DIRECTORY] = {"postfix_config_directory", "/etc/postfix", T_PATH},
	[PF_P_POSTFIX_COMMAND_DIRECTORY] = {"postfix_command_directory", "/usr/sbin", T_PATH},
	[PF_P_KEY_ALGORITHMS] = {"key_algorithms", "rsa", T_ALGS},
	[PF_P_RSA_BITS] = {"rsa_bits", "2048", T_RSA_BITS},
	[PF_P_ECDSA_CURVE] = {"ecdsa_curve", "secp256r1", T_CURVE},
	[PF_P_TLSA_HOSTNAMES] = {"tlsa_hostnames", "", T_HOSTNAMES},
	[PF_P_TLSA_PORTS] = {"tlsa_ports", "25", T_PORTS},
	[PF_P_TLSA_RECORDS] = {"tlsa_records", "3 1 1", T_TLSA},
	[PF_P_TLSA_TTL] = {"tlsa_ttl", "3600", T_TTL},
	[PF_P_DNS_ZONE] = {"dns_zone", "", T_DOMAIN_OPT},
	[PF_P_DNS_UPDATE_SERVER] = {"dns_update_server", "", T_HOSTPORT_OPT},
	[PF_P_DNS_TSIG_KEY_FILE] = {"dns_tsig_key_file", "", T_PATH_OPT},
	[PF_P_DNS_RESOLVER] = {"dns_resolver", "", T_ADDRPORTS},
	[PF_P_DNS_CHECK_SERVERS] = {"dns_check_servers", "", T_HOSTPORTS},
	[PF_P_DNS_EXTRA_CHECK_SERVERS] = {"dns_extra_check_servers", "", T_HOSTPORTS},
	[PF_P_ROLLOVER_INTERVAL] = {"rollover_interval", "0", T_TIME},
	[PF_P_TTL_FACTOR] = {"ttl_factor", "2", T_FACTOR},
	[PF_P_PUBLISH_SAFETY] = {"publish_safety", "60s", T_TIME},
	[PF_P_PROPAGATION_MIN_DELAY] = {"propagation_min_delay", "0", T_TIME},
	[PF_P_PROPAGATION_ALERT] = {"propagation_alert", "1h", T_TIME},
	[PF_P_RETIRE_DELAY] = {"retire_delay", "1h", T_TIME},
	[PF_P_RELOAD_COMMAND] = {"reload_command", "", T_COMMAND_OPT},
	[PF_P_RELOAD_UNIT] = {"reload_unit", "", T_UNIT_OPT},
	[PF_P_VERIFY_ENDPOINTS] = {"verify_endpoints", "", T_HOSTPORTS},
	[PF_P_ROLLOVER_SCHEME] = {"rollover_scheme", "prepublish", T_SCHEME},
	[PF_P_CERTIFICATE_COMMAND] = {"certificate_command", "", T_COMMAND_OPT},
	[PF_P_CERTIFICATE_CA_FILE] = {"certificate_ca_file", "/etc/ssl/certs/ca-certificates.crt",
				      T_PATH},
	[PF_P_CERTIFICATE_RENEW_BEFORE] = {"certificate_renew_before", "33%", T_RENEW},
	[PF_P_AUDIT_INTERVAL] = {"audit_interval", "1h", T_TIME},
	[PF_P_METRICS_FILE] = {"metrics_file", "", T_PATH_OPT},
	[PF_P_DNSSEC_TRUST_ANCHOR_FILE] = {"dnssec_trust_anchor_file", "/usr/share/dns/root.key",
					   T_PATH},
	[PF_P_STATE_DIRECTORY] = {"state_directory", "/var/lib/pftls-roll", T_PATH},
	[PF_P_CONTROL_SOCKET] = {"control_socket", "/run/pftls-roll/control", T_PATH},
};

const char *pf_config_param_name(unsigned id)
{
	return id < PF_P_COUNT ? params[id].name : NULL;
}

const char *pf_config_param_default(unsigned id)
{
	return id < PF_P_COUNT ? params[id].def : NULL;
}

int pf_config_param_lookup(const char *name)
{
	for (unsigned i = 0; i < PF_P_COUNT; i++)
		if (strcmp(params[i].name, name) == 0)
			return (int)i;
	return -1;
}

const char *pf_alg_name(enum pf_alg alg)
{
	return alg == PF_ALG_ECDSA ? "ecdsa" : "rsa";
}

const char *pf_canonical_curve(const char *name)
{
	static const char *const map[][2] = {
		{"secp256r1", "secp256r1"}, {"prime256v1", "secp256r1"}, {"P-256", "secp256r1"},
		{"secp384r1", "secp384r1"}, {"P-384", "secp384r1"},      {"secp521r1", "secp521r1"},
		{"P-521", "secp521r1"},
	};

	for (size_t i = 0; i < PF_ELEMENTSOF(map); i++)
		if (strcmp(name, map[i][0]) == 0)
			return map[i][1];
	return NULL;
}

int pf_parse_time(const char *s, int64_t *ret)
{
	static const struct {
		char c;
		int64_t mult;
	} units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 604800}};
	int64_t mult = 1;
	char *end;
	long long v;

	if (!isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || v < 0)
		return -EINVAL;
	if (*end) {
		size_t i;

		if (end[1] != '\0')
			return -EINVAL;
		for (i = 0; i < PF_ELEMENTSOF(units); i++)
			if (*end == units[i].c)
				break;
		if (i == PF_ELEMENTSOF(units))
			return -EINVAL;
		mult = units[i].mult;
	}
	/* Cap at 100 years: anything longer is a typo, and it keeps every sum
	 * of times far from overflow. */
	if (v > (int64_t)100 * 366 * 86400 / mult)
		return -ERANGE;
	*ret = v * mult;
	return 0;
}

static bool is_ip_literal(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static int parse_port(const char *s, uint16_t *ret)
{
	char *end;
	long v;

	if (!isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > 65535)
		return -EINVAL;
	*ret = (uint16_t)v;
	return 0;
}

int pf_parse_hostport(const char *s, bool addr_only, pf_hostport *ret, pf_err *e)
{
	pf_hostport hp = {.port = 0};
	const char *colon = strrchr(s, ':');
	size_t hostlen;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close)
			return pf_err_usage(e, "\"%.100s\": missing ']'", s);
		hostlen = (size_t)(close - s - 1);
		if (close[1] == ':') {
			if (parse_port(close + 2, &hp.port) < 0)
				return pf_err_usage(e, "\"%.100s\": bad port", s);
		} else if (close[1]) {
			return pf_err_usage(e, "\"%.100s\": junk after ']'", s);
		}
		if (hostlen >= sizeof(hp.host))
			return pf_err_usage(e, "\"%.100s\": name too long", s);
		memcpy(hp.host, s + 1, hostlen);
		hp.host[hostlen] = '\0';
		if (!is_ip_literal(hp.host) || !strchr(hp.host, ':'))
			return pf_err_usage(e, "\"%.100s\": not an IPv6 address", s);
		*ret = hp;
		return 0;
	}
	if (colon && strchr(s, ':') != colon) {
		/* Two or more colons: a bare IPv6 address, no port. */
		colon = NULL;
	}
	hostlen = colon ? (size_t)(colon - s) : strlen(s);
	if (hostlen == 0 || hostlen >= sizeof(hp.host))
		return pf_err_usage(e, "\"%.100s\": bad host name", s);
	memcpy(hp.host, s, hostlen);
	hp.host[hostlen] = '\0';
	if (colon && parse_port(colon + 1, &hp.port) < 0)
		return pf_err_usage(e, "\"%.100s\": bad port", s);
	if (addr_only ? !is_ip_literal(hp.host)
		      : !is_ip_literal(hp.host) && !pf_valid_hostname(hp.host))
		return pf_err_usage(e, "\"%.100s\": not %s", s,
				    addr_only ? "an IP address" : "a host name or IP address");
	*ret = hp;
	return 0;
}

const char *pf_hostport_label(const pf_hostport *hp, uint16_t default_port, char *buf, size_t len)
{
	snprintf(buf, len, strchr(hp->host, ':') ? "[%s]:%u" : "%s:%u", hp->host,
		 hp->port ? hp->port : default_port);
	return buf;
}

static int parse_hostports(const char *value, bool addr_only, size_t max, pf_hostport_list *ret,
			   pf_err *e)
{
	PF_CLEANUP_STRV pf_strv items = {0};
	PF_CLEANUP_FREE pf_hostport *v = NULL;
	int r;

	pf_split_list(value, &items);
	if (items.n > max)
		return pf_err_usage(e, "expected at most %zu item%s, found %zu", max,
				    max == 1 ? "" : "s", items.n);
	v = pf_calloc(items.n, sizeof(*v));
	for (size_t i = 0; i < items.n; i++)
		if ((r = pf_parse_hostport(items.v[i], addr_only, &v[i], e)) < 0)
			return r;
	free(ret->v);
	*ret = (pf_hostport_list){.v = pf_take_ptr(&v), .n = items.n};
	return 0;
}

static int set_path(char **field, const char *value, bool optional, pf_err *e)
{
	if (!*value && optional) {
		free(*field);
		*field = NULL;
		return 0;
	}
	if (value[0] != '/')
		return pf_err_usage(e, "\"%.100s\" is not an absolute path name", value);
	if (strchr(value, ' ') || strchr(value, '\t') || strchr(value, ','))
		return pf_err_usage(e, "\"%.100s\": one path name expected", value);
	free(*field);
	*field = pf_strdup(value);
	return 0;
}

static int set_opt_string(char **field, const char *value)
{
	free(*field);
	*field = *value ? pf_strdup(value) : NULL;
	return 0;
}

static int parse_algs(pf_config *cfg, const char *value, pf_err *e)
{
	PF_CLEANUP_STRV pf_strv items = {0};
	enum pf_alg algs[PF_ALG_COUNT];
	size_t n = 0;
	int r = 0;

	pf_split_list(value, &items);
	for (size_t i = 0; i < items.n && r == 0; i++) {
		enum pf_alg a;

		if (strcmp(items.v[i], "rsa") == 0)
			a = PF_ALG_RSA;
		else if (strcmp(items.v[i], "ecdsa") == 0)
			a = PF_ALG_ECDSA;
		else {
			r = pf_err_usage(e,
					 "unknown key algorithm \"%.50s\" (use rsa and/or ecdsa)",
					 items.v[i]);
			break;
		}
		for (size_t j = 0; j < n; j++)
			if (algs[j] == a)
				r = pf_err_usage(e, "key algorithm \"%s\" listed twice",
						 items.v[i]);
		if (r == 0)
			algs[n++] = a;
	}
	if (r == 0 && n == 0)
		r = pf_err_usage(e, "at least one key algorithm is needed");
	if (r == 0) {
		memcpy(cfg->algs, algs, sizeof(algs));
		cfg->n_algs = n;
	}
	return r;
}

static int parse_hostnames(pf_config *cfg, const char *value, pf_err *e)
{
	PF_CLEANUP_STRV pf_strv items = {0};

	pf_split_list(value, &items);
	for (size_t i = 0; i < items.n; i++) {
		if (!pf_valid_hostname(items.v[i])) {
			pf_err_usage(e, "\"%.100s\" is not a valid host name", items.v[i]);
			return -EINVAL;
		}
		/* Compare and store names without the trailing dot. */
		size_t l = strlen(items.v[i]);
		if (items.v[i][l - 1] == '.')
			items.v[i][l - 1] = '\0';
	}
	pf_strv_clear(&cfg->tlsa_hostnames);
	cfg->tlsa_hostnames = items;
	items = (pf_strv){0};
	return 0;
}

static int parse_ports(pf_config *cfg, const char *value, pf_err *e)
{
	PF_CLEANUP_STRV pf_strv items = {0};
	PF_CLEANUP_FREE uint16_t *ports = NULL;

	pf_split_list(value, &items);
	if (items.n == 0)
		return pf_err_usage(e, "at least one port is needed");
	ports = pf_calloc(items.n, sizeof(*ports));
	for (size_t i = 0; i < items.n; i++)
		if (parse_port(items.v[i], &ports[i]) < 0)
			return pf_err_usage(e, "\"%.50s\" is not a port number (1-65535)",
					    items.v[i]);
	free(cfg->tlsa_ports);
	cfg->tlsa_ports = pf_take_ptr(&ports);
	cfg->n_tlsa_ports = items.n;
	return 0;
}

static int parse_tlsa(pf_config *cfg, const char *value, pf_err *e)
{
	PF_CLEANUP_STRV pf_strv items = {0};
	PF_CLEANUP_FREE pf_tlsa_param *recs = NULL;
	size_t n;
	int r = 0;

	pf_split_list(value, &items);
	if (items.n == 0 || items.n % 3 != 0)
		return pf_err_usage(e,
				    "expected \"usage selector mtype\" triples such as \"3 1 1\"");
	n = items.n / 3;
	recs = pf_calloc(n, sizeof(*recs));
	for (size_t i = 0; i < n && r == 0; i++) {
		const char *u = items.v[3 * i], *s = items.v[3 * i + 1], *m = items.v[3 * i + 2];

		if (strcmp(u, "3") != 0)
			r = pf_err_usage(
				e, "TLSA usage \"%.20s\" is not supported (only 3, DANE-EE)", u);
		else if (strcmp(s, "0") != 0 && strcmp(s, "1") != 0)
			r = pf_err_usage(e, "TLSA selector \"%.20s\" must be 0 or 1", s);
		else if (strcmp(m, "1") != 0 && strcmp(m, "2") != 0)
			r = pf_err_usage(e, "TLSA matching type \"%.20s\" must be 1 or 2", m);
		else {
			recs[i] = (pf_tlsa_param){3, (uint8_t)(s[0] - '0'), (uint8_t)(m[0] - '0')};
			for (size_t j = 0; j < i; j++)
				if (memcmp(&recs[j], &recs[i], sizeof(recs[i])) == 0)
					r = pf_err_usage(
						e, "TLSA record type \"%s %s %s\" listed twice", u,
						s, m);
		}
	}
	if (r == 0) {
		free(cfg->tlsa_records);
		cfg->tlsa_records = pf_take_ptr(&recs);
		cfg->n_tlsa_records = n;
	}
	return r;
}

static int parse_time_field(int64_t *field, const char *value, int64_t min, int64_t max, pf_err *e)
{
	int64_t v;

	if (pf_parse_time(value, &v) < 0)
		return pf_err_usage(e,
				    "\"%.50s\" is not a time (a number with an optional unit s, m, "
				    "h, d or w)",
				    value);
	if (v < min || v > max)
		return pf_err_usage(e, "\"%.50s\" is out of range (%lld to %lld seconds)", value,
				    (long long)min, (long long)max);
	*field = v;
	return 0;
}

static bool valid_unit_name(const char *s)
{
	static const char *const suffixes[] = {".service", ".target", ".socket"};
	size_t len = strlen(s);

	if (len == 0 || len > 255)
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr(":-_.\\@", *p))
			return false;
	for (size_t i = 0; i < PF_ELEMENTSOF(suffixes); i++) {
		size_t sl = strlen(suffixes[i]);
		if (len > sl && strcmp(s + len - sl, suffixes[i]) == 0)
			return true;
	}
	return false;
}

/* Parse value for parameter id into cfg.  Returns 0 or -EINVAL with e set
 * (without location; the caller adds it). */
static int apply(pf_config *cfg, unsigned id, const char *value, pf_err *e)
{
	int64_t t;
	int r;

	switch (id) {
	case PF_P_POSTFIX_CONFIG_DIRECTORY:
		return set_path(&cfg->postfix_config_directory, value, false, e);
	case PF_P_POSTFIX_COMMAND_DIRECTORY:
		return set_path(&cfg->postfix_command_directory, value, false, e);
	case PF_P_KEY_ALGORITHMS:
		return parse_algs(cfg, value, e);
	case PF_P_RSA_BITS:
		if (strcmp(value, "2048") && strcmp(value, "3072") && strcmp(value, "4096"))
			return pf_err_usage(e, "\"%.50s\": RSA key size must be 2048, 3072 or 4096",
					    value);
		cfg->rsa_bits = (unsigned)atoi(value);
		return 0;
	case PF_P_ECDSA_CURVE: {
		const char *c = pf_canonical_curve(value);
		if (!c)
			return pf_err_usage(e,
					    "\"%.50s\": curve must be secp256r1, secp384r1 or "
					    "secp521r1",
					    value);
		free(cfg->ecdsa_curve);
		cfg->ecdsa_curve = pf_strdup(c);
		return 0;
	}
	case PF_P_TLSA_HOSTNAMES:
		return parse_hostnames(cfg, value, e);
	case PF_P_TLSA_PORTS:
		return parse_ports(cfg, value, e);
	case PF_P_TLSA_RECORDS:
		return parse_tlsa(cfg, value, e);
	case PF_P_TLSA_TTL:
		if ((r = parse_time_field(&t, value, 1, INT32_MAX, e)) < 0)
			return r;
		cfg->tlsa_ttl = (uint32_t)t;
		return 0;
	case PF_P_DNS_ZONE:
		if (*value && !pf_valid_hostname(value))
			return pf_err_usage(e, "\"%.100s\" is not a valid domain name", value);
		return set_opt_string(&cfg->dns_zone, value);
	case PF_P_DNS_UPDATE_SERVER:
		return parse_hostports(value, false, 1, &cfg->dns_update_server, e);
	case PF_P_DNS_TSIG_KEY_FILE:
		return set_path(&cfg->dns_tsig_key_file, value, true, e);
	case PF_P_DNS_RESOLVER:
		return parse_hostports(value, true, 16, &cfg->dns_resolver, e);
	case PF_P_DNS_CHECK_SERVERS:
		return parse_hostports(value, false, 256, &cfg->dns_check_servers, e);
	case PF_P_DNS_EXTRA_CHECK_SERVERS:
		return parse_hostports(value, false, 256, &cfg->dns_extra_check_servers, e);
	case PF_P_ROLLOVER_INTERVAL:
		return parse_time_field(&cfg->rollover_interval, value, 0, INT64_MAX, e);
	case PF_P_TTL_FACTOR: {
		char *end;
		long v;

		errno = 0;
		v = strtol(value, &end, 10);
		if (!isdigit((unsigned char)value[0]) || *end || errno || v < 1 || v > 100)
			return pf_err_usage(e,
					    "\"%.50s\": ttl_factor must be a whole number from 1 "
					    "to 100",
					    value);
		cfg->ttl_factor = (unsigned)v;
		return 0;
	}
	case PF_P_PUBLISH_SAFETY:
		return parse_time_field(&cfg->publish_safety, value, 0, INT64_MAX, e);
	case PF_P_PROPAGATION_MIN_DELAY:
		return parse_time_field(&cfg->propagation_min_delay, value, 0, INT64_MAX, e);
	case PF_P_PROPAGATION_ALERT:
		return parse_time_field(&cfg->propagation_alert, value, 0, INT64_MAX, e);
	case PF_P_RETIRE_DELAY:
		return parse_time_field(&cfg->retire_delay, value, 0, INT64_MAX, e);
	case PF_P_RELOAD_COMMAND:
		return set_opt_string(&cfg->reload_command, value);
	case PF_P_RELOAD_UNIT:
		if (*value && !valid_unit_name(value))
			return pf_err_usage(e,
					    "\"%.100s\" is not a systemd unit name (such as "
					    "postfix.service)",
					    value);
		return set_opt_string(&cfg->reload_unit, value);
	case PF_P_VERIFY_ENDPOINTS:
		return parse_hostports(value, false, 256, &cfg->verify_endpoints, e);
	case PF_P_ROLLOVER_SCHEME:
		if (strcmp(value, "prepublish") == 0)
			cfg->rollover_scheme = PF_SCHEME_PREPUBLISH;
		else if (strcmp(value, "on-demand") == 0)
			cfg->rollover_scheme = PF_SCHEME_ON_DEMAND;
		else
			return pf_err_usage(e,
					    "\"%.50s\": rollover_scheme must be prepublish or "
					    "on-demand",
					    value);
		return 0;
	case PF_P_CERTIFICATE_COMMAND:
		return set_opt_string(&cfg->certificate_command, value);
	case PF_P_CERTIFICATE_CA_FILE:
		return set_path(&cfg->certificate_ca_file, value, false, e);
	case PF_P_CERTIFICATE_RENEW_BEFORE:
		return certchain_parse_renew_before(value, &cfg->certificate_renew_before, e);
	case PF_P_AUDIT_INTERVAL:
		return parse_time_field(&cfg->audit_interval, value, 0, INT64_MAX, e);
	case PF_P_METRICS_FILE:
		return set_path(&cfg->metrics_file, value, true, e);
	case PF_P_DNSSEC_TRUST_ANCHOR_FILE:
		return set_path(&cfg->dnssec_trust_anchor_file, value, false, e);
	case PF_P_STATE_DIRECTORY:
		return set_path(&cfg->state_directory, value, false, e);
	case PF_P_CONTROL_SOCKET:
		return set_path(&cfg->control_socket, value, false, e);
	}
	return pf_err_usage(e, "internal error: parameter %u", id);
}

void pf_config_init(pf_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for (unsigned i = 0; i < PF_P_COUNT; i++) {
		pf_err e;

		if (apply(cfg, i, params[i].def, &e) < 0)
			abort(); /* a default the parser rejects is a build bug */
	}
}

void pf_config_free(pf_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->path);
	free(cfg->postfix_config_directory);
	free(cfg->postfix_command_directory);
	free(cfg->ecdsa_curve);
	pf_strv_clear(&cfg->tlsa_hostnames);
	free(cfg->tlsa_ports);
	free(cfg->tlsa_records);
	free(cfg->dns_zone);
	free(cfg->dns_update_server.v);
	free(cfg->dns_tsig_key_file);
	free(cfg->dns_resolver.v);
	free(cfg->dns_check_servers.v);
	free(cfg->dns_extra_check_servers.v);
	free(cfg->reload_command);
	free(cfg->reload_unit);
	free(cfg->verify_endpoints.v);
	free(cfg->certificate_command);
	free(cfg->certificate_ca_file);
	free(cfg->metrics_file);
	free(cfg->dnssec_trust_anchor_file);
	free(cfg->state_directory);
	free(cfg->control_socket);
	for (unsigned i = 0; i < PF_P_COUNT; i++)
		free(cfg->raw[i]);
	memset(cfg, 0, sizeof(*cfg));
}

/* True when the len bytes at p hold a control character other than tab
 * and CR.  Checked on every line, continuation lines included: a value
 * never carries one into a command line, a path or a message. */
static bool has_control_char(const char *p, size_t len)
{
	for (const char *q = p; q < p + len; q++)
		if (iscntrl((unsigned char)*q) && *q != '\t' && *q != '\r')
			return true;
	return false;
}

/* True when s is made of what a parameter name is made of. */
static bool name_like(const char *s, size_t n)
{
	if (n == 0 || n > 50)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return false;
	return true;
}

/*
 * Apply one logical line "name = value" that started at line lineno.
 * The file may not be a configuration at all (-c /etc/shadow), so a line
 * that is not "name = value" is reported by its position, and a name is
 * quoted only when it is made like one: never a line of someone's file.
 */
static int parse_logical_line(pf_config *cfg, const char *name, unsigned lineno, char *line,
			      pf_err *e)
{
	char *eq = strchr(line, '='), *key, *value;
	int id;

	if (!eq) {
		char *word = pf_trim(line);
		size_t n = strcspn(word, " \t");

		word[n] = '\0';
		if (pf_config_param_lookup(word) >= 0)
			return pf_err_usage(e, "%s:%u: missing '=' after %s", name, lineno, word);
		return pf_err_usage(e, "%s:%u: missing '=' (not a \"name = value\" line)", name,
				    lineno);
	}
	*eq = '\0';
	key = pf_trim(line);
	value = pf_trim(eq + 1);
	if (!*key)
		return pf_err_usage(e, "%s:%u: missing parameter name before '='", name, lineno);
	for (const char *p = key; *p; p++)
		if (isspace((unsigned char)*p))
			return pf_err_usage(e, "%s:%u: white space in parameter name", name,
					    lineno);
	id = pf_config_param_lookup(key);
	if (id < 0 && !name_like(key, strlen(key)))
		return pf_err_usage(
			e,
			"%s:%u: unknown parameter name (not made of letters, digits and "
			"'_')",
			name, lineno);
	if (id < 0)
		return pf_err_usage(e, "%s:%u: unknown parameter name \"%s\"", name, lineno, key);
	if (cfg->set_line[id])
		return pf_err_usage(e, "%s:%u: duplicate setting of %s (first set at line %u)",
				    name, lineno, key, cfg->set_line[id]);
	if (apply(cfg, (unsigned)id, value, e) < 0) {
		char why[sizeof(e->msg)];

		memcpy(why, e->msg, sizeof(why));
		return pf_err_usage(e, "%s:%u: bad %s value: %s", name, lineno, key, why);
	}
	cfg->set_line[id] = lineno;
	cfg->raw[id] = pf_strdup(value);
	return 0;
}

int pf_config_parse(pf_config *cfg, const char *name, const char *text, pf_err *e)
{
	pf_config tmp;
	char *logical = NULL;
	size_t loglen = 0;
	unsigned lineno = 0, start = 0;
	const char *p = text;
	int r = 0;

	pf_config_init(&tmp);
	while (r == 0) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		bool at_end = !nl && len == 0;
		bool blank = true, cont;
		const char *q;

		if (!at_end)
			lineno++;
		for (q = p; q < p + len; q++)
			if (!isspace((unsigned char)*q))
				break;
		blank = (q == p + len);
		/* Postfix: comment lines and blank lines are ignored and do not
		 * end a logical line; a line starting with white space continues
		 * the logical line. */
		if (!at_end && (blank || *q == '#'))
			goto next;
		cont = !at_end && isspace((unsigned char)p[0]);
		if (cont) {
			if (!logical) {
				r = pf_err_usage(e,
						 "%s:%u: continuation line without a parameter "
						 "before it",
						 name, lineno);
				break;
			}
			if (has_control_char(p, len)) {
				r = pf_err_usage(e, "%s:%u: control character in line", name,
						 lineno);
				break;
			}
			logical = pf_realloc(logical, loglen + len + 2);
			logical[loglen++] = ' ';
			memcpy(logical + loglen, p, len);
			loglen += len;
			logical[loglen] = '\0';
			goto next;
		}
		if (logical) {
			r = parse_logical_line(&tmp, name, start, logical, e);
			free(logical);
			logical = NULL;
			if (r < 0)
				break;
		}
		if (at_end)
			break;
		if (has_control_char(p, len)) {
			r = pf_err_usage(e, "%s:%u: control character in line", name, lineno);
			break;
		}
		logical = pf_strndup(p, len);
		loglen = len;
		start = lineno;
	next:
		if (!nl)
			p += len;
		else
			p = nl + 1;
	}
	free(logical);
	if (r < 0) {
		pf_config_free(&tmp);
		return r;
	}
	tmp.path = pf_strdup(name);
	pf_config_free(cfg);
	*cfg = tmp;
	return 0;
}

void pf_config_permission_warnings(const pf_config *cfg, const char *path, pf_strv *ret)
{
	const char *dirs[] = {path, cfg->postfix_config_directory};
	const char *what[] = {"the configuration file", "postfix_config_directory"};
	struct stat sb;

	for (size_t i = 0; i < PF_ELEMENTSOF(dirs); i++)
		if (dirs[i] && stat(dirs[i], &sb) == 0 && (sb.st_mode & (S_IWGRP | S_IWOTH)))
			pf_strv_push_owned(
				ret,
				pf_asprintf("%s %s is writable by %s (mode %04o): whoever can "
					    "write it decides which keys are deployed and which "
					    "records are published",
					    what[i], dirs[i],
					    (sb.st_mode & S_IWOTH) ? "others" : "its group",
					    (unsigned)(sb.st_mode & 07777)));
	/* The daemon runs as root, or as its own user under a unit that says
	 * so: a key file anyone else owns is theirs to read and to swap. */
	if (cfg->dns_tsig_key_file && stat(cfg->dns_tsig_key_file, &sb) == 0 && sb.st_uid != 0 &&
	    sb.st_uid != geteuid())
		pf_strv_push_owned(
			ret, pf_asprintf("dns_tsig_key_file %s is owned by uid %u, not root or "
					 "this program's user (uid %u): its owner can read and "
					 "replace the TSIG secret",
					 cfg->dns_tsig_key_file, (unsigned)sb.st_uid,
					 (unsigned)geteuid()));
}

/* Report pf_config_permission_warnings: the daemon as journal entries at
 * warning priority (one stderr line each without a journal), the command
 * line as "pftls-roll: warning: ..." lines on stderr.  Warnings, not
 * refusals: the operator may have a reason, and a rollover is safer run
 * than not. */
static void warn_permissions(const pf_config *cfg, const char *path)
{
	PF_CLEANUP_STRV pf_strv w = {0};
	bool daemon = strcmp(program_invocation_short_name, PF_JOURNAL_IDENTIFIER) == 0;

	pf_config_permission_warnings(cfg, path, &w);
	for (size_t i = 0; i < w.n; i++) {
		if (daemon) {
			pf_event_ctx ctx = {.phase = PF_PHASE_IDLE};

			pf_journal_log(PF_EV_CONFIG_INSECURE, &ctx, "%s", w.v[i]);
		} else {
			fprintf(stderr, "%s: warning: %s\n", program_invocation_short_name, w.v[i]);
		}
	}
}

int pf_config_load(pf_config *cfg, const char *path, bool missing_ok, pf_err *e)
{
	PF_CLEANUP_FREE char *text = NULL;
	size_t len;
	int r;

	r = pf_read_file(path, PF_CONFIG_MAX_BYTES, &text, &len, e);
	if (r == -ENOENT && missing_ok) {
		pf_err_clear(e);
		return 0;
	}
	if (r < 0) {
		e->exit_code = PF_EXIT_USAGE;
		return r;
	}
	if (memchr(text, '\0', len))
		return pf_err_usage(e, "%s: contains a NUL byte; not a text file", path);
	r = pf_config_parse(cfg, path, text, e);
	if (r == 0)
		warn_permissions(cfg, path);
	return r;
}

static void print_hostports(FILE *out, const pf_hostport_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		bool v6 = strchr(l->v[i].host, ':') != NULL;

		if (i)
			fputs(", ", out);
		if (l->v[i].port)
			fprintf(out, v6 ? "[%s]:%u" : "%s:%u", l->v[i].host, l->v[i].port);
		else
			fputs(l->v[i].host, out);
	}
}

char *pf_config_reload_command(const pf_config *cfg)
{
	if (cfg->reload_command)
		return pf_strdup(cfg->reload_command);
	return pf_asprintf("%s/postfix -c %s reload", cfg->postfix_command_directory,
			   cfg->postfix_config_directory);
}

void pf_config_print_param(const pf_config *cfg, unsigned id, FILE *out)
{
	char *s;

	fprintf(out, "%s =", params[id].name);
	switch (id) {
	case PF_P_POSTFIX_CONFIG_DIRECTORY:
		fprintf(out, " %s", cfg->postfix_config_directory);
		break;
	case PF_P_POSTFIX_COMMAND_DIRECTORY:
		fprintf(out, " %s", cfg->postfix_command_directory);
		break;
	case PF_P_KEY_ALGORITHMS:
		for (size_t i = 0; i < cfg->n_algs; i++)
			fprintf(out, "%s%s", i ? ", " : " ", pf_alg_name(cfg->algs[i]));
		break;
	case PF_P_RSA_BITS:
		fprintf(out, " %u", cfg->rsa_bits);
		break;
	case PF_P_ECDSA_CURVE:
		fprintf(out, " %s", cfg->ecdsa_curve);
		break;
	case PF_P_TLSA_HOSTNAMES:
		for (size_t i = 0; i < cfg->tlsa_hostnames.n; i++)
			fprintf(out, "%s%s", i ? ", " : " ", cfg->tlsa_hostnames.v[i]);
		break;
	case PF_P_TLSA_PORTS:
		for (size_t i = 0; i < cfg->n_tlsa_ports; i++)
			fprintf(out, "%s%u", i ? ", " : " ", cfg->tlsa_ports[i]);
		break;
	case PF_P_TLSA_RECORDS:
		for (size_t i = 0; i < cfg->n_tlsa_records; i++)
			fprintf(out, "%s%u %u %u", i ? ", " : " ", cfg->tlsa_records[i].usage,
				cfg->tlsa_records[i].selector, cfg->tlsa_records[i].mtype);
		break;
	case PF_P_TLSA_TTL:
		fprintf(out, " %u", cfg->tlsa_ttl);
		break;
	case PF_P_DNS_ZONE:
		if (cfg->dns_zone)
			fprintf(out, " %s", cfg->dns_zone);
		break;
	case PF_P_DNS_TSIG_KEY_FILE:
		if (cfg->dns_tsig_key_file)
			fprintf(out, " %s", cfg->dns_tsig_key_file);
		break;
	case PF_P_DNS_UPDATE_SERVER:
	case PF_P_DNS_RESOLVER:
	case PF_P_DNS_CHECK_SERVERS:
	case PF_P_DNS_EXTRA_CHECK_SERVERS:
	case PF_P_VERIFY_ENDPOINTS: {
		const pf_hostport_list *l = id == PF_P_DNS_UPDATE_SERVER   ? &cfg->dns_update_server
					    : id == PF_P_DNS_RESOLVER      ? &cfg->dns_resolver
					    : id == PF_P_DNS_CHECK_SERVERS ? &cfg->dns_check_servers
					    : id == PF_P_VERIFY_ENDPOINTS
						    ? &cfg->verify_endpoints
						    : &cfg->dns_extra_check_servers;
		if (l->n) {
			fputc(' ', out);
			print_hostports(out, l);
		}
		break;
	}
	case PF_P_ROLLOVER_INTERVAL:
	case PF_P_PUBLISH_SAFETY:
	case PF_P_PROPAGATION_MIN_DELAY:
	case PF_P_PROPAGATION_ALERT:
	case PF_P_RETIRE_DELAY:
	case PF_P_AUDIT_INTERVAL: {
		int64_t v = id == PF_P_ROLLOVER_INTERVAL       ? cfg->rollover_interval
			    : id == PF_P_PUBLISH_SAFETY        ? cfg->publish_safety
			    : id == PF_P_PROPAGATION_MIN_DELAY ? cfg->propagation_min_delay
			    : id == PF_P_PROPAGATION_ALERT     ? cfg->propagation_alert
			    : id == PF_P_AUDIT_INTERVAL        ? cfg->audit_interval
							       : cfg->retire_delay;
		fprintf(out, " %llds", (long long)v);
		break;
	}
	case PF_P_TTL_FACTOR:
		fprintf(out, " %u", cfg->ttl_factor);
		break;
	case PF_P_RELOAD_COMMAND:
		s = pf_config_reload_command(cfg);
		fprintf(out, " %s", s);
		free(s);
		break;
	case PF_P_RELOAD_UNIT:
		if (cfg->reload_unit)
			fprintf(out, " %s", cfg->reload_unit);
		break;
	case PF_P_ROLLOVER_SCHEME:
		fputs(cfg->rollover_scheme == PF_SCHEME_ON_DEMAND ? " on-demand" : " prepublish",
		      out);
		break;
	case PF_P_CERTIFICATE_COMMAND:
		if (cfg->certificate_command)
			fprintf(out, " %s", cfg->certificate_command);
		break;
	case PF_P_CERTIFICATE_CA_FILE:
		fprintf(out, " %s", cfg->certificate_ca_file);
		break;
	case PF_P_CERTIFICATE_RENEW_BEFORE:
		if (cfg->certificate_renew_before.percent)
			fprintf(out, " %lld%%", (long long)cfg->certificate_renew_before.value);
		else
			fprintf(out, " %llds", (long long)cfg->certificate_renew_before.value);
		break;
	case PF_P_METRICS_FILE:
		if (cfg->metrics_file)
			fprintf(out, " %s", cfg->metrics_file);
		break;
	case PF_P_DNSSEC_TRUST_ANCHOR_FILE:
		fprintf(out, " %s", cfg->dnssec_trust_anchor_file);
		break;
	case PF_P_STATE_DIRECTORY:
		fprintf(out, " %s", cfg->state_directory);
		break;
	case PF_P_CONTROL_SOCKET:
		fprintf(out, " %s", cfg->control_socket);
		break;
	}
	fputc('\n', out);
}
