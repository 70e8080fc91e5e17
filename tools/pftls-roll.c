/*
 * pftls-roll.c - the command line: global options, then one subcommand from
 * the table below.  Each subcommand lives in a cmd_*.c file of its own.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "cli.h"
#include "../daemon/net.h"
#include "../daemon/version.h"
#include "../daemon/macro.h"

/*
 * The one list of subcommands: what --help lists, what "SUB --help" prints
 * (usage, then the description), and what bash completion reads back from
 * --help, and which of them fork the network process (net.h) before
 * running.  A description is a few lines of at most 76 columns.
 */
static const struct command {
	const char *name;
	pf_cmd_fn fn;
	const char *usage;
	const char *description;
	bool network; /* talks to DNS or SMTP servers: the network process is forked first */
} commands[] = {
	/* The "postfix tls" subcommands (SPEC.md 2.1). */
	/* PF_CMD_TABLE_TLS */
	{"enable-client", cmd_enable_client, "enable-client [-r randsource]",
	 "If every SMTP client TLS setting in main.cf is at its default, enable\n"
	 "opportunistic TLS in the Postfix SMTP client; otherwise print the typical\n"
	 "settings and change nothing.  -r sets tls_random_source (dev:/path or\n"
	 "egd:/path).",
	 false},
	{"enable-server", cmd_enable_server,
	 "enable-server [-r randsource] [-a algorithm] [-b bits] [hostname...]",
	 "If every SMTP server TLS setting in main.cf is at its default, make a new\n"
	 "key and self-signed certificate, deploy them and enable opportunistic TLS\n"
	 "in the Postfix SMTP server; otherwise print the typical settings.\n"
	 "algorithm is rsa (default) or ecdsa; bits is an RSA size (2048, 3072,\n"
	 "4096) or an ECDSA curve (secp256r1, secp384r1, secp521r1).",
	 false},
	{"new-server-key", cmd_new_server_key,
	 "new-server-key [-a algorithm] [-b bits] [hostname...]",
	 "Make a new private key (mode 0600) and a self-signed certificate in the\n"
	 "Postfix configuration directory without deploying them, and print the\n"
	 "commands to deploy them.  With DANE, publish its TLSA records and wait\n"
	 "before deploying (or let a rollover do all of it).  Hostnames default\n"
	 "to myhostname.",
	 false},
	{"new-server-cert", cmd_new_server_cert,
	 "new-server-cert [-a algorithm] [-b bits] [hostname...]",
	 "Like new-server-key, but reuse the key deployed for the algorithm, so that\n"
	 "\"3 1 1\" TLSA records stay valid; a new key is made only when none is\n"
	 "deployed.",
	 false},
	{"deploy-server-cert", cmd_deploy_server_cert, "deploy-server-cert certfile keyfile",
	 "Set the certificate and key of the key's algorithm in main.cf, in one\n"
	 "postconf -e call (smtpd_tls_chain_files too, when main.cf uses it).  A\n"
	 "certificate that does not match the key is refused (exit 3).  Neither\n"
	 "waits for DNS nor reloads Postfix.",
	 false},
	{"output-server-csr", cmd_output_server_csr, "output-server-csr [-k keyfile] [hostname...]",
	 "Print a certificate signing request for keyfile: a path name (relative\n"
	 "to the Postfix configuration directory) or rsa (default) or ecdsa, the\n"
	 "key deployed for that algorithm.",
	 false},
	{"output-server-tlsa", cmd_output_server_tlsa,
	 "output-server-tlsa [-h hostname] [keyfile...]",
	 "For each key (default: the deployed rsa and ecdsa keys), print\n"
	 "\"; /path/to/keyfile\" and its \"_25._tcp.HOST. IN TLSA 3 1 1 ...\" record,\n"
	 "as postfix tls does.  HOST defaults to myhostname.",
	 false},
	{"all-default-client", cmd_all_default_client, "all-default-client",
	 "Exit 0 when every SMTP client TLS setting in main.cf is at its default,\n"
	 "non-zero otherwise, exactly when postfix tls would.",
	 false},
	{"all-default-server", cmd_all_default_server, "all-default-server",
	 "Exit 0 when every SMTP server TLS setting in main.cf is at its default,\n"
	 "non-zero otherwise, exactly when postfix tls would.",
	 false},
	/* The rollover steps (SPEC.md 2.2). */
	/* PF_CMD_TABLE_ROLL */
	{"now", cmd_now, "now [--wait]",
	 "Start a rollover at once.  When pftls-rolld runs it does the work;\n"
	 "otherwise this process does, in the foreground, to the end.  Every safety\n"
	 "wait still applies.  --wait follows the rollover to the end, showing the\n"
	 "phase, the check servers that serve the new records and the time left.",
	 true},
	{"publish", cmd_publish, "publish [-n] [keyfile...]",
	 "Add the TLSA records of the keys (default: the pending rollover's next\n"
	 "keys) with RFC 2136 updates, TSIG-signed when dns_tsig_key_file is set;\n"
	 "records this program did not create are never touched.  -n prints the\n"
	 "update messages instead of sending them.",
	 true},
	{"propagation", cmd_propagation, "propagation [--wait] [keyfile...]",
	 "Ask every check server for the keys' records (default: the pending\n"
	 "rollover's next keys) and print server, SOA serial, records served and\n"
	 "RRSIG.  Exit 0 only when all serve all.  --wait asks until they do, then\n"
	 "prints when deploying becomes safe.",
	 true},
	{"deploy", cmd_deploy, "deploy [--force-now]",
	 "Deploy the pending rollover's next keys: change main.cf, postfix check,\n"
	 "reload, verify the live endpoints.  Refused (exit 3) before the deploy\n"
	 "time, which it prints.  --force-now deploys at once, logged as a warning:\n"
	 "senders still caching the old records will defer mail.",
	 true},
	{"reload", cmd_reload, "reload",
	 "Reload Postfix as configured: reload_unit over D-Bus when it is set,\n"
	 "otherwise reload_command.",
	 false},
	{"retire", cmd_retire, "retire [keyfile...]",
	 "Withdraw the TLSA records of keys no longer deployed (default: the keys\n"
	 "the last rollover replaced) and wait until no check server serves them.\n"
	 "A deployed key is refused (exit 3), as is retiring before retire_delay\n"
	 "after the reload or before the new keys were verified.",
	 true},
	{"cancel", cmd_cancel, "cancel",
	 "Abandon a rollover: withdraw its new keys' TLSA records and remove their\n"
	 "key and certificate files.  Refused (exit 3) while a new key is in use.",
	 true},
	{"status", cmd_status, "status [--json]",
	 "Print the phase, the current and next keys (file, algorithm, SPKI\n"
	 "SHA-256, age), each check server's propagation, when the next steps\n"
	 "become allowed and the last events; --json as one JSON object.",
	 false},
	{"check", cmd_check,
	 "check [--plugin] [--cert-warning time] [--cert-critical time] [--sig-warning time] "
	 "[--sig-critical time]",
	 "Audit what is live: every deployed key's TLSA records on every check\n"
	 "server, signed; every verify endpoint presents a deployed key that\n"
	 "DANE-validates.  Exit 0 when all of that holds; one line per problem.\n"
	 "--plugin: one Monitoring Plugins line instead, exit 0 OK, 1 WARNING,\n"
	 "2 CRITICAL, 3 UNKNOWN; a certificate expiring within --cert-warning\n"
	 "(21d) or --cert-critical (7d), TLSA signatures within --sig-warning\n"
	 "(5d) or --sig-critical (2d), is WARNING or CRITICAL.",
	 true},
	{"renew", cmd_renew, "renew",
	 "With certificate_command set: obtain a new CA-issued certificate for each\n"
	 "deployed key now (the same key, a new file), deploy it with one\n"
	 "postconf -e and reload.  No DNS change: the TLSA records stay the same.\n"
	 "Refused (exit 2) when certificate_command is not set.",
	 true},
	{"config", cmd_config, "config [-a | -d] [name...]",
	 "Print settings as \"name = value\": those the file sets; with -a every\n"
	 "parameter as the programs would use it; with -d the built-in defaults.\n"
	 "A file with an error prints it and exits 2, so \"-c FILE config\" checks\n"
	 "a file.",
	 false},
};

static void print_help(FILE *out)
{
	fprintf(out,
		"usage: pftls-roll [-c config] [-C postfix_config_dir] [-v] subcommand [args]\n"
		"\nsubcommands:\n");
	for (size_t i = 0; i < PF_ELEMENTSOF(commands); i++)
		fprintf(out, "  %s\n", commands[i].usage);
	fprintf(out, "\nSee pftls-roll(8) and pftls-roll.cf(5).\n");
}

int cli_fail(const pf_err *e)
{
	fprintf(stderr, "pftls-roll: %s\n", e->msg[0] ? e->msg : "unknown error");
	return e->exit_code ? e->exit_code : PF_EXIT_FAIL;
}

int cli_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("pftls-roll: usage: pftls-roll ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return PF_EXIT_USAGE;
}

int cli_config(pf_cli *cli, bool missing_ok)
{
	pf_err e = {0};

	if (cli->loaded)
		return 0;
	pf_config_init(&cli->cfg);
	/* On failure cfg is freed here: main frees it only once loaded. */
	if (pf_config_load(&cli->cfg, cli->config_path, missing_ok && !cli->config_explicit, &e) <
	    0) {
		pf_config_free(&cli->cfg);
		e.exit_code = PF_EXIT_USAGE;
		return cli_fail(&e);
	}
	if (cli->postfix_dir) {
		if (cli->postfix_dir[0] != '/') {
			pf_config_free(&cli->cfg);
			fprintf(stderr, "pftls-roll: -C %.100s: not an absolute path name\n",
				cli->postfix_dir);
			return PF_EXIT_USAGE;
		}
		free(cli->cfg.postfix_config_directory);
		cli->cfg.postfix_config_directory = pf_strdup(cli->postfix_dir);
	}
	cli->loaded = true;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'H'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	pf_cli cli = {.config_path = PF_DEFAULT_CONFIG};
	int c, r;

	/* As the daemon: private keys and the TSIG secret pass through this
	 * process (now in the foreground, new-server-key), so no core dump
	 * and no ptrace by other users; and nothing it creates is readable by
	 * others unless made so on purpose (certificates are written 0644 by
	 * fchmod, which the umask does not narrow). */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	umask(0077);
	while ((c = getopt_long(argc, argv, "+c:C:v", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cli.config_path = optarg;
			cli.config_explicit = true;
			break;
		case 'C':
			cli.postfix_dir = optarg;
			break;
		case 'v':
			cli.verbose++;
			break;
		case 'H':
			print_help(stdout);
			return PF_EXIT_OK;
		case 'V':
			printf("pftls-roll %s\n", PF_VERSION);
			return PF_EXIT_OK;
		default:
			print_help(stderr);
			return PF_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		print_help(stderr);
		return PF_EXIT_USAGE;
	}
	for (size_t i = 0; i < PF_ELEMENTSOF(commands); i++) {
		if (strcmp(argv[optind], commands[i].name) != 0)
			continue;
		if (argc - optind == 2 && strcmp(argv[optind + 1], "--help") == 0) {
			printf("usage: pftls-roll %s\n\n%s\n\nSee pftls-roll(8).\n",
			       commands[i].usage, commands[i].description);
			return PF_EXIT_OK;
		}
		/* The network process is forked before the subcommand reads
		 * any key or TSIG file (net.h). */
		if (commands[i].network)
			cli.net = net_new();
		r = commands[i].fn(&cli, argc - optind, argv + optind);
		cli.net = net_free(cli.net);
		if (cli.loaded)
			pf_config_free(&cli.cfg);
		return r;
	}
	fprintf(stderr, "pftls-roll: unknown subcommand \"%.100s\"; see pftls-roll --help\n",
		argv[optind]);
	return PF_EXIT_USAGE;
}
