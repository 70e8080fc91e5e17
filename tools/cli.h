/*
 * cli.h - what every pftls-roll subcommand gets: the global options, the
 * configuration (loaded on first use), and the one way to report an error.
 */
#ifndef PF_CLI_H
#define PF_CLI_H

#include "../daemon/config.h"
#include "../daemon/net.h"
#include "../daemon/util.h"

typedef struct pf_cli {
	const char *config_path; /* -c, or the default */
	bool config_explicit;    /* -c was given */
	const char *postfix_dir; /* -C, or NULL */
	int verbose;             /* -v count */
	bool loaded;
	pf_config cfg;
	pf_net *net; /* for a subcommand that uses the network */
} pf_cli;

/*
 * Load the configuration once.  When the file was not named with -c and does
 * not exist, the defaults apply if missing_ok (the "postfix tls" subcommands
 * need no configuration).  -C overrides postfix_config_directory.
 * Returns 0 or a PF_EXIT_* code after printing the error.
 */
int cli_config(pf_cli *cli, bool missing_ok);

/* Print "pftls-roll: MESSAGE" for e on stderr; returns e's exit code. */
int cli_fail(const pf_err *e);
/* Print "pftls-roll: usage: pftls-roll ..." on stderr; returns PF_EXIT_USAGE. */
int cli_usage(const char *fmt, ...) PF_PRINTF(1, 2);

/* Subcommands: each takes argv[0] = its own name and returns an exit code. */
typedef int (*pf_cmd_fn)(pf_cli *cli, int argc, char **argv);

int cmd_config(pf_cli *cli, int argc, char **argv);
int cmd_now(pf_cli *cli, int argc, char **argv);
int cmd_deploy(pf_cli *cli, int argc, char **argv);
int cmd_reload(pf_cli *cli, int argc, char **argv);
int cmd_cancel(pf_cli *cli, int argc, char **argv);
int cmd_status(pf_cli *cli, int argc, char **argv);
int cmd_check(pf_cli *cli, int argc, char **argv);
int cmd_publish(pf_cli *cli, int argc, char **argv);
int cmd_propagation(pf_cli *cli, int argc, char **argv);
int cmd_retire(pf_cli *cli, int argc, char **argv);
int cmd_renew(pf_cli *cli, int argc, char **argv);

/* The "postfix tls" subcommands (cmd_tls.c). */
int cmd_enable_client(pf_cli *cli, int argc, char **argv);
int cmd_enable_server(pf_cli *cli, int argc, char **argv);
int cmd_new_server_key(pf_cli *cli, int argc, char **argv);
int cmd_new_server_cert(pf_cli *cli, int argc, char **argv);
int cmd_deploy_server_cert(pf_cli *cli, int argc, char **argv);
int cmd_output_server_csr(pf_cli *cli, int argc, char **argv);
int cmd_output_server_tlsa(pf_cli *cli, int argc, char **argv);
int cmd_all_default_client(pf_cli *cli, int argc, char **argv);
int cmd_all_default_server(pf_cli *cli, int argc, char **argv);

#endif
