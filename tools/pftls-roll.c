/*
 * pftls-roll.c - the command line: global options, then one subcommand from
 * the table below.  Each subcommand lives in a cmd_*.c file of its own.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "../daemon/version.h"

static const struct command {
	const char *name;
	pf_cmd_fn fn;
	const char *usage;
} commands[] = {
	/* The "postfix tls" subcommands (SPEC.md 2.1). */
	/* PF_CMD_TABLE_TLS */
	{"enable-client", cmd_enable_client, "enable-client [-r randsource]"},
	{"enable-server", cmd_enable_server,
	 "enable-server [-r randsource] [-a algorithm] [-b bits] [hostname...]"},
	{"new-server-key", cmd_new_server_key, "new-server-key [-a algorithm] [-b bits] [hostname...]"},
	{"new-server-cert", cmd_new_server_cert,
	 "new-server-cert [-a algorithm] [-b bits] [hostname...]"},
	{"deploy-server-cert", cmd_deploy_server_cert, "deploy-server-cert certfile keyfile"},
	{"output-server-csr", cmd_output_server_csr, "output-server-csr [-k keyfile] [hostname...]"},
	{"output-server-tlsa", cmd_output_server_tlsa,
	 "output-server-tlsa [-h hostname] [keyfile...]"},
	{"all-default-client", cmd_all_default_client, "all-default-client"},
	{"all-default-server", cmd_all_default_server, "all-default-server"},
	/* The rollover steps (SPEC.md 2.2). */
	/* PF_CMD_TABLE_ROLL */
	{"now", cmd_now, "now [--wait]"},
	{"publish", cmd_publish, "publish [-n] [keyfile...]"},
	{"propagation", cmd_propagation, "propagation [--wait] [keyfile...]"},
	{"deploy", cmd_deploy, "deploy [--force-now]"},
	{"reload", cmd_reload, "reload"},
	{"retire", cmd_retire, "retire [keyfile...]"},
	{"cancel", cmd_cancel, "cancel"},
	{"status", cmd_status, "status [--json]"},
	{"check", cmd_check, "check"},
	{"config", cmd_config, "config [-a | -d] [name...]"},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void print_help(FILE *out)
{
	fprintf(out, "usage: pftls-roll [-c config] [-C postfix_config_dir] [-v] subcommand [args]\n"
		     "\nsubcommands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
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
	for (size_t i = 0; i < N_COMMANDS; i++) {
		if (strcmp(argv[optind], commands[i].name) != 0)
			continue;
		if (argc - optind == 2 && strcmp(argv[optind + 1], "--help") == 0) {
			printf("usage: pftls-roll %s\n", commands[i].usage);
			return PF_EXIT_OK;
		}
		r = commands[i].fn(&cli, argc - optind, argv + optind);
		if (cli.loaded)
			pf_config_free(&cli.cfg);
		return r;
	}
	fprintf(stderr, "pftls-roll: unknown subcommand \"%.100s\"; see pftls-roll --help\n",
		argv[optind]);
	return PF_EXIT_USAGE;
}
