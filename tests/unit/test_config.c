/*
 * test_config.c - the pftls-roll.cf parser: every name's default, units,
 * lists, continuation lines, and one error line with FILE:LINE for each kind
 * of bad input.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../daemon/config.h"
#include "../../daemon/macro.h"
#include "t.h"
#include <errno.h>

static const struct good {
	const char *name;
	const char *text;
	const char *param; /* printed as "name = value" after parsing */
	const char *want;
} goods[] = {
	{"defaults: key_algorithms", "", "key_algorithms", "key_algorithms = rsa"},
	{"defaults: publish_safety", "", "publish_safety", "publish_safety = 60s"},
	{"defaults: retire_delay", "", "retire_delay", "retire_delay = 3600s"},
	{"defaults: tlsa_records", "", "tlsa_records", "tlsa_records = 3 1 1"},
	{"defaults: reload_command", "", "reload_command",
	 "reload_command = /usr/sbin/postfix -c /etc/postfix reload"},
	{"both algorithms", "key_algorithms = ecdsa, rsa\n", "key_algorithms",
	 "key_algorithms = ecdsa, rsa"},
	{"time unit w", "rollover_interval = 2w\n", "rollover_interval",
	 "rollover_interval = 1209600s"},
	{"time unit d", "rollover_interval = 30d\n", "rollover_interval",
	 "rollover_interval = 2592000s"},
	{"time without unit", "publish_safety = 90\n", "publish_safety", "publish_safety = 90s"},
	{"ttl with unit", "tlsa_ttl = 5m\n", "tlsa_ttl", "tlsa_ttl = 300"},
	{"continuation line", "tlsa_hostnames = mx1.example.com,\n  mx2.example.com\n",
	 "tlsa_hostnames", "tlsa_hostnames = mx1.example.com, mx2.example.com"},
	{"comment inside continuation", "tlsa_ports = 25\n# a comment\n\n  465 587\n", "tlsa_ports",
	 "tlsa_ports = 25, 465, 587"},
	{"tlsa triples with commas", "tlsa_records = 3 1 1, 3 0 2\n", "tlsa_records",
	 "tlsa_records = 3 1 1, 3 0 2"},
	{"curve alias", "ecdsa_curve = prime256v1\n", "ecdsa_curve", "ecdsa_curve = secp256r1"},
	{"hostport list", "dns_check_servers = 192.0.2.1, ns1.example.com:5353 [2001:db8::1]:53\n",
	 "dns_check_servers",
	 "dns_check_servers = 192.0.2.1, ns1.example.com:5353, [2001:db8::1]:53"},
	{"bare ipv6 resolver", "dns_resolver = ::1\n", "dns_resolver", "dns_resolver = ::1"},
	{"trailing dot host", "tlsa_hostnames = mx.example.com.\n", "tlsa_hostnames",
	 "tlsa_hostnames = mx.example.com"},
	{"spaces around =", "rsa_bits=4096\n", "rsa_bits", "rsa_bits = 4096"},
	{"CRLF line ends", "rsa_bits = 3072\r\n", "rsa_bits", "rsa_bits = 3072"},
	{"no final newline", "ttl_factor = 3", "ttl_factor", "ttl_factor = 3"},
	{"reload unit", "reload_unit = postfix@-.service\n", "reload_unit",
	 "reload_unit = postfix@-.service"},
};

static const struct bad {
	const char *name;
	const char *text;
	const char *want; /* exact message */
} bads[] = {
	{"unknown name", "rsa_bits = 2048\nfoo_bar = 1\n",
	 "t.cf:2: unknown parameter name \"foo_bar\""},
	{"duplicate", "tlsa_ttl = 60\n\ntlsa_ttl = 120\n",
	 "t.cf:3: duplicate setting of tlsa_ttl (first set at line 1)"},
	{"bad rsa bits", "rsa_bits = 1024\n",
	 "t.cf:1: bad rsa_bits value: \"1024\": RSA key size must be 2048, 3072 or 4096"},
	{"bad curve", "ecdsa_curve = secp224r1\n",
	 "t.cf:1: bad ecdsa_curve value: \"secp224r1\": curve must be secp256r1, secp384r1 or "
	 "secp521r1"},
	{"bad algorithm", "key_algorithms = rsa dsa\n",
	 "t.cf:1: bad key_algorithms value: unknown key algorithm \"dsa\" (use rsa and/or ecdsa)"},
	{"bad time unit", "retire_delay = 5y\n",
	 "t.cf:1: bad retire_delay value: \"5y\" is not a time (a number with an optional unit s, "
	 "m, h, d or w)"},
	{"negative time", "publish_safety = -5\n",
	 "t.cf:1: bad publish_safety value: \"-5\" is not a time (a number with an optional unit "
	 "s, m, h, d or w)"},
	{"usage 2 refused", "tlsa_records = 2 1 1\n",
	 "t.cf:1: bad tlsa_records value: TLSA usage \"2\" is not supported (only 3, DANE-EE)"},
	{"incomplete triple", "tlsa_records = 3 1\n",
	 "t.cf:1: bad tlsa_records value: expected \"usage selector mtype\" triples such as \"3 1 "
	 "1\""},
	{"bad port", "tlsa_ports = 25 70000\n",
	 "t.cf:1: bad tlsa_ports value: \"70000\" is not a port number (1-65535)"},
	{"bad hostname", "tlsa_hostnames = mx_1.example.com\n",
	 "t.cf:1: bad tlsa_hostnames value: \"mx_1.example.com\" is not a valid host name"},
	{"relative path", "state_directory = var/lib\n",
	 "t.cf:1: bad state_directory value: \"var/lib\" is not an absolute path name"},
	{"resolver must be an address", "dns_resolver = ns.example.com\n",
	 "t.cf:1: bad dns_resolver value: \"ns.example.com\": not an IP address"},
	{"two update servers", "dns_update_server = 192.0.2.1 192.0.2.2\n",
	 "t.cf:1: bad dns_update_server value: expected at most 1 item, found 2"},
	{"missing =", "rsa_bits 2048\n", "t.cf:1: missing '=' after rsa_bits"},
	/* A file that is not a configuration (-c /etc/shadow): its position,
	 * never its contents. */
	{"a line of someone's file", "root:$6$SECRETSALT$SECRETHASH:19000:0:99999:7:::\n",
	 "t.cf:1: missing '=' (not a \"name = value\" line)"},
	{"a line of someone's file with '='", "user:SECRET=hunter2\n",
	 "t.cf:1: unknown parameter name (not made of letters, digits and '_')"},
	{"white space in the name", "my SECRET password = x\n",
	 "t.cf:1: white space in parameter name"},
	{"leading continuation", "  rsa_bits = 2048\n",
	 "t.cf:1: continuation line without a parameter before it"},
	{"control character in a continuation line", "reload_command = /bin/true\n  \033[2J\n",
	 "t.cf:2: control character in line"},
	{"empty last label", "tlsa_hostnames = mx.example.com..\n",
	 "t.cf:1: bad tlsa_hostnames value: \"mx.example.com..\" is not a valid host name"},
	{"error in continued line reports its start",
	 "tlsa_ports = 25\ntlsa_hostnames = a.example,\n  b..example\n",
	 "t.cf:2: bad tlsa_hostnames value: \"b..example\" is not a valid host name"},
	{"ttl zero", "tlsa_ttl = 0\n",
	 "t.cf:1: bad tlsa_ttl value: \"0\" is out of range (1 to 2147483647 seconds)"},
	{"ttl_factor zero", "ttl_factor = 0\n",
	 "t.cf:1: bad ttl_factor value: \"0\": ttl_factor must be a whole number from 1 to 100"},
	{"bad unit name", "reload_unit = postfix\n",
	 "t.cf:1: bad reload_unit value: \"postfix\" is not a systemd unit name (such as "
	 "postfix.service)"},
	{"duplicate algorithm", "key_algorithms = rsa rsa\n",
	 "t.cf:1: bad key_algorithms value: key algorithm \"rsa\" listed twice"},
};

static char *print_param(const pf_config *cfg, const char *name)
{
	static char buf[1024];
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	pf_config_print_param(cfg, (unsigned)pf_config_param_lookup(name), f);
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

/* pf_config_permission_warnings: one line per problem, none normally.
 * Root runs the tests; the other owner is a uid nobody has. */
static void test_permission_warnings(void)
{
	static const struct {
		const char *name;
		mode_t cf_mode, dir_mode;
		uid_t key_uid;
		const char *want[3]; /* substrings, in order; NULL ends */
	} cases[] = {
		{"normal", 0600, 0755, 0, {NULL}},
		{"read by all, written by root", 0644, 0755, 0, {NULL}},
		{"config group-writable",
		 0660,
		 0755,
		 0,
		 {"the configuration file %c is writable by its group (mode 0660)", NULL}},
		{"config world-writable",
		 0602,
		 0755,
		 0,
		 {"the configuration file %c is writable by others (mode 0602)", NULL}},
		{"directory group-writable",
		 0600,
		 0775,
		 0,
		 {"postfix_config_directory %d is writable by its group (mode 0775)", NULL}},
		{"directory sticky and world-writable",
		 0600,
		 01777,
		 0,
		 {"postfix_config_directory %d is writable by others (mode 1777)", NULL}},
		{"key of the user running", 0600, 0755, (uid_t)-1, {NULL}},
		{"key of another user",
		 0600,
		 0755,
		 54321,
		 {"dns_tsig_key_file %k is owned by uid 54321, not root or this program's user",
		  NULL}},
		{"all three",
		 0666,
		 0757,
		 54321,
		 {"configuration file %c is writable by others",
		  "postfix_config_directory %d is writable by others", "owned by uid 54321"}},
	};
	char tmpl[] = "/tmp/pftls-test-config-XXXXXX";
	char *top = mkdtemp(tmpl), *cf, *d, *key;

	if (!top)
		abort();
	cf = pf_asprintf("%s/pftls-roll.cf", top);
	d = pf_asprintf("%s/postfix", top);
	key = pf_asprintf("%s/tsig.key", top);
	if (mkdir(d, 0755) < 0)
		abort();
	close(open(cf, O_CREAT | O_WRONLY, 0600));
	close(open(key, O_CREAT | O_WRONLY, 0600));
	for (size_t i = 0; i < PF_ELEMENTSOF(cases); i++) {
		pf_config cfg;
		pf_strv w = {0};
		size_t n = 0;

		if (chmod(cf, cases[i].cf_mode) < 0 || chmod(d, cases[i].dir_mode) < 0 ||
		    chown(key, cases[i].key_uid == (uid_t)-1 ? geteuid() : cases[i].key_uid,
			  (gid_t)-1) < 0)
			abort();
		pf_config_init(&cfg);
		free(cfg.postfix_config_directory);
		cfg.postfix_config_directory = pf_strdup(d);
		cfg.dns_tsig_key_file = pf_strdup(key);
		pf_config_permission_warnings(&cfg, cf, &w);
		while (n < 3 && cases[i].want[n])
			n++;
		T_CHECK(w.n == n, "%s: %zu warning(s), expected %zu%s%s", cases[i].name, w.n, n,
			w.n ? ": " : "", w.n ? w.v[0] : "");
		for (size_t j = 0; j < n && j < w.n; j++) {
			char *want = pf_strdup(cases[i].want[j]), *p;

			/* %c, %d, %k: the file, the directory, the key. */
			while ((p = strchr(want, '%')) != NULL) {
				char *q;

				*p = '\0';
				q = pf_asprintf("%s%s%s", want,
						p[1] == 'c'   ? cf
						: p[1] == 'd' ? d
							      : key,
						p + 2);
				free(want);
				want = q;
			}
			T_CHECK(strstr(w.v[j], want) != NULL, "%s: warning %zu says \"%s\" (%s)",
				cases[i].name, j + 1, want, w.v[j]);
			free(want);
		}
		pf_strv_clear(&w);
		pf_config_free(&cfg);
	}
	unlink(cf);
	unlink(key);
	rmdir(d);
	rmdir(top);
	free(cf);
	free(d);
	free(key);
}

int main(void)
{
	test_permission_warnings();
	for (size_t i = 0; i < PF_ELEMENTSOF(goods); i++) {
		pf_config cfg;
		pf_err e = {0};
		int r;

		pf_config_init(&cfg);
		r = pf_config_parse(&cfg, "t.cf", goods[i].text, &e);
		T_CHECK(r == 0, "parse %s%s%s", goods[i].name, r ? ": " : "", r ? e.msg : "");
		if (r == 0)
			T_STREQ(print_param(&cfg, goods[i].param), goods[i].want, "value %s: %s",
				goods[i].name, print_param(&cfg, goods[i].param));
		pf_config_free(&cfg);
	}
	for (size_t i = 0; i < PF_ELEMENTSOF(bads); i++) {
		pf_config cfg;
		pf_err e = {0};
		int r;

		pf_config_init(&cfg);
		r = pf_config_parse(&cfg, "t.cf", bads[i].text, &e);
		T_CHECK(r == -EINVAL && e.exit_code == PF_EXIT_USAGE, "reject %s", bads[i].name);
		T_STREQ(e.msg, bads[i].want, "message %s: got \"%s\"", bads[i].name, e.msg);
		/* The configuration must be left as the defaults. */
		T_CHECK(cfg.set_line[PF_P_RSA_BITS] == 0 && cfg.rsa_bits == 2048,
			"defaults kept after %s", bads[i].name);
		pf_config_free(&cfg);
	}
	{
		int64_t t = 0;
		T_CHECK(pf_parse_time("999999999w", &t) == -ERANGE, "absurd time refused");
		T_CHECK(pf_parse_time("1h", &t) == 0 && t == 3600, "1h is 3600s");
		T_CHECK(pf_parse_time("1h30m", &t) < 0, "compound time refused");
		T_CHECK(pf_parse_time("", &t) < 0, "empty time refused");
	}
	T_DONE();
}
