/*
 * cmd_config.c - "pftls-roll config [-d | -a] [name...]": the settings the
 * programs would use, like postconf(1).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cmd_config(pf_cli *cli, int argc, char **argv)
{
	bool defaults = false, all = false;
	int c, r;

	optind = 1;
	while ((c = getopt(argc, argv, "+ad")) != -1) {
		switch (c) {
		case 'a':
			all = true;
			break;
		case 'd':
			defaults = true;
			break;
		default:
			return cli_usage("config [-a | -d] [name...]");
		}
	}
	if (all && defaults)
		return cli_usage("config [-a | -d] [name...]");
	for (int i = optind; i < argc; i++) {
		if (pf_config_param_lookup(argv[i]) < 0) {
			fprintf(stderr, "pftls-roll: unknown parameter name \"%.100s\"\n", argv[i]);
			return PF_EXIT_USAGE;
		}
	}
	if (defaults) {
		for (unsigned id = 0; id < PF_P_COUNT; id++) {
			bool want = optind == argc;
			for (int i = optind; i < argc; i++)
				want |= strcmp(argv[i], pf_config_param_name(id)) == 0;
			if (!want)
				continue;
			const char *d = pf_config_param_default(id);
			printf("%s =%s%s\n", pf_config_param_name(id), *d ? " " : "", d);
		}
		return PF_EXIT_OK;
	}
	if ((r = cli_config(cli, !cli->config_explicit)) != 0)
		return r;
	for (unsigned id = 0; id < PF_P_COUNT; id++) {
		bool want = false;

		if (optind == argc)
			/* Like "postconf -n": only what the file sets, unless -a. */
			want = all || cli->cfg.set_line[id] != 0 ||
			       (id == PF_P_POSTFIX_CONFIG_DIRECTORY && cli->postfix_dir);
		for (int i = optind; i < argc; i++)
			want |= strcmp(argv[i], pf_config_param_name(id)) == 0;
		if (want)
			pf_config_print_param(&cli->cfg, id, stdout);
	}
	return PF_EXIT_OK;
}
