/*
 * cmd_cert.c - "pftls-roll renew" (SPEC.md 2.2, 8): a new CA-issued
 * certificate for each deployed key of ours, now, through
 * certificate_command; deployed with one postconf -e and a reload.  The
 * keys, and so the TLSA records, stay the same: no DNS change.  The work
 * is the engine's (roll_renew, daemon/roll_cert.c).
 */
#include <getopt.h>

#include "cli.h"
#include "../daemon/control.h"
#include "../daemon/rollover.h"

int cmd_renew(pf_cli *cli, int argc, char **argv)
{
	pf_roll *r = NULL;
	pf_err e = {0}, e2 = {0};
	char *body = NULL;
	int rc, code;

	(void)argv;
	if (argc != 1)
		return cli_usage("renew");
	if ((rc = cli_config(cli, false)) != 0)
		return rc;
	if (!cli->cfg.certificate_command) {
		pf_err_usage(&e, "renew: certificate_command is not set: the certificates are "
				 "self-signed, there is nothing to renew");
		return cli_fail(&e);
	}
	if (roll_open(&cli->cfg, &r, &e) < 0)
		return cli_fail(&e);
	roll_set_net(r, cli->net);
	roll_set_lock_wait(r, 60);
	roll_set_progress(r, stdout);
	rc = roll_renew(r, &e);
	roll_free(r);
	/* The daemon recomputes its next renewal moment (silent when none
	 * runs). */
	if (control_request(cli->cfg.control_socket, "wake", 2000, &code, &body, &e2) == 0)
		free(body);
	return rc < 0 ? cli_fail(&e) : PF_EXIT_OK;
}
