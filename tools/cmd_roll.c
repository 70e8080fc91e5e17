/*
 * cmd_roll.c - the rollover subcommands: now, deploy, reload, cancel, status,
 * check.  They drive the engine (rollover.h) directly under the rollover
 * lock; "now" hands the rollover to pftls-rolld when it runs, and the other
 * steps wake the daemon afterwards so it sees what changed at once.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../daemon/control.h"
#include "../daemon/reload.h"
#include "../daemon/rollover.h"
#include "cli.h"

/* How long "now" waits for the daemon's answer, which comes between its
 * steps: longer than any one step holds its event loop (a reload through
 * reload_unit is waited for 90 s, an UPDATE's retries about 45 s).  After
 * 5 s it says why it waits. */
#define NOW_ANSWER_MAX_MS 180000

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static int open_engine(pf_cli *cli, pf_roll **ret)
{
	pf_err e = {0};
	int r;

	if ((r = cli_config(cli, false)) != 0)
		return r;
	if (roll_open(&cli->cfg, ret, &e) < 0)
		return cli_fail(&e);
	roll_set_net(*ret, cli->net);
	/* A manual step waits for a step of the daemon to end. */
	roll_set_lock_wait(*ret, 60);
	return 0;
}

/* Ask the daemon to look at the state now; silent when none runs. */
static void wake_daemon(pf_cli *cli)
{
	pf_err e = {0};
	char *body = NULL;
	int code;

	if (control_request(cli->cfg.control_socket, "wake", 2000, &code, &body, &e) == 0)
		free(body);
}

/* Sleep until t_ms (epoch ms, to the ms) or a signal; at least 1 ms, at
 * most max seconds. */
static void sleep_until(int64_t t_ms, int max)
{
	int64_t d = t_ms - pf_now_ms();
	struct timespec ts;

	if (d > (int64_t)max * 1000)
		d = (int64_t)max * 1000;
	if (d < 1)
		d = 1;
	ts.tv_sec = (time_t)(d / 1000);
	ts.tv_nsec = (long)(d % 1000) * 1000000L;
	while (!interrupted && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Follow a rollover the daemon runs, by its state file, until it is idle
 * or failed (or, prepublish, the following key is staged).  On a terminal the line is redrawn;
 * otherwise one line per change. */
static int follow(pf_cli *cli, pf_roll *r)
{
	bool tty = isatty(STDOUT_FILENO);
	char last[400] = "";
	pf_err e = {0};

	for (;;) {
		const char *status;

		if (roll_refresh(r, &e) < 0)
			return cli_fail(&e);
		status = roll_status_line(r);
		/* Off a terminal, one line per phase: the countdown would print
		 * a line a second. */
		if (tty || strncmp(status, last, strcspn(last, ":")) != 0 || !last[0]) {
			if (tty)
				printf("\r\033[K%s", status);
			else
				printf("%s\n", status);
			fflush(stdout);
			snprintf(last, sizeof(last), "%s", status);
		}
		if (roll_settled(r) || interrupted)
			break;
		sleep(1);
	}
	if (tty)
		putchar('\n');
	(void)cli;
	if (roll_was_cancelled(r)) {
		fprintf(stderr, "pftls-roll: the rollover was cancelled before it finished\n");
		return PF_EXIT_FAIL;
	}
	return strcmp(roll_phase(r), "failed") == 0 ? PF_EXIT_FAIL : PF_EXIT_OK;
}

/* Refuse at once a deploy that cannot work in this process (reload.h):
 * before a rollover is started, not when its deploy time comes.  Returns
 * 0, or the exit code after printing why. */
static int deploy_possible(pf_cli *cli)
{
	pf_err e = {0};
	bool full;

	if (reload_preflight(&cli->cfg, cli->config_path, &full, &e) < 0)
		return cli_fail(&e);
	return 0;
}

int cmd_now(pf_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"wait", no_argument, NULL, 'w'}, {NULL, 0, NULL, 0}};
	bool wait = false;
	pf_roll *r = NULL;
	pf_err e = {0};
	char *body = NULL;
	struct stat st;
	int c, code, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (c != 'w')
			return cli_usage("now [--wait]");
		wait = true;
	}
	if (optind != argc)
		return cli_usage("now [--wait]");
	/* Without a daemon to ask, this process will deploy: refuse before
	 * open_engine makes the state directory. */
	if ((rc = cli_config(cli, false)) != 0)
		return rc;
	if (stat(cli->cfg.control_socket, &st) < 0 && (rc = deploy_possible(cli)) != 0)
		return rc;
	if ((rc = open_engine(cli, &r)) != 0)
		return rc;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	rc = control_request_patient(
		cli->cfg.control_socket, "now", NOW_ANSWER_MAX_MS, 5000,
		"pftls-roll: pftls-rolld is busy with a step (a DNS update or a "
		"reload); waiting for its answer",
		&code, &body, &e);
	if (rc == 0) {
		/* The daemon runs the rollover. */
		fputs(body, stdout);
		free(body);
		if (code != PF_EXIT_OK) {
			roll_free(r);
			return cli_fail(&e);
		}
		rc = wait ? follow(cli, r) : PF_EXIT_OK;
		roll_free(r);
		return rc;
	}
	if (rc != -ENOENT && rc != -ECONNREFUSED) {
		roll_free(r);
		return cli_fail(&e);
	}
	/* No daemon: this process runs the rollover to its end, in the
	 * foreground, under the same lock and the same waits. */
	pf_err_clear(&e);
	if ((rc = deploy_possible(cli)) != 0) {
		roll_free(r);
		return rc;
	}
	printf("pftls-rolld is not running: running the rollover in the foreground\n");
	roll_set_progress(r, stdout);
	if (roll_start(r, &e) < 0) {
		roll_free(r);
		return cli_fail(&e);
	}
	char shown[400] = "";

	while (!interrupted) {
		int64_t wakeup = 0;

		if (roll_run(r, false, &wakeup, &e) < 0) {
			if (e.code == EBUSY) {
				/* Another process holds the lock for a moment. */
				pf_err_clear(&e);
				sleep_until(pf_now_ms() + 2000, 2);
				continue;
			}
			roll_free(r);
			return cli_fail(&e);
		}
		if (roll_settled(r))
			break;
		if (wakeup) {
			char when[40];
			struct tm tm;
			time_t t = (time_t)(wakeup / 1000);

			gmtime_r(&t, &tm);
			strftime(when, sizeof(when), "%H:%M:%S UTC", &tm);
			char line[400];

			snprintf(line, sizeof(line), "%s; next step at %s", roll_status_line(r),
				 when);
			if (strcmp(line, shown) != 0) {
				printf("%s\n", line);
				fflush(stdout);
				snprintf(shown, sizeof(shown), "%s", line);
			}
			sleep_until(wakeup, 3600);
		}
	}
	rc = strcmp(roll_phase(r), "failed") == 0 ? PF_EXIT_FAIL : PF_EXIT_OK;
	if (interrupted) {
		printf("interrupted in phase %s; \"pftls-roll now\" resumes it\n", roll_phase(r));
		rc = PF_EXIT_FAIL;
	} else if (rc == PF_EXIT_FAIL) {
		fprintf(stderr, "pftls-roll: %s\n", roll_status_line(r));
	} else if (roll_was_cancelled(r)) {
		/* Another process ran "cancel" while this one waited. */
		fprintf(stderr, "pftls-roll: the rollover was cancelled before it finished\n");
		rc = PF_EXIT_FAIL;
	}
	roll_free(r);
	return rc;
}

int cmd_deploy(pf_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"force-now", no_argument, NULL, 'f'},
					     {NULL, 0, NULL, 0}};
	bool force = false;
	pf_roll *r = NULL;
	pf_err e = {0};
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (c != 'f')
			return cli_usage("deploy [--force-now]");
		force = true;
	}
	if (optind != argc)
		return cli_usage("deploy [--force-now]");
	if ((rc = cli_config(cli, false)) != 0 || (rc = deploy_possible(cli)) != 0)
		return rc;
	if ((rc = open_engine(cli, &r)) != 0)
		return rc;
	roll_set_progress(r, stdout);
	rc = roll_deploy(r, force, &e);
	roll_free(r);
	wake_daemon(cli);
	return rc < 0 ? cli_fail(&e) : PF_EXIT_OK;
}

int cmd_reload(pf_cli *cli, int argc, char **argv)
{
	pf_roll *r = NULL;
	pf_err e = {0};
	int rc;

	(void)argv;
	if (argc != 1)
		return cli_usage("reload");
	if ((rc = cli_config(cli, false)) != 0 || (rc = deploy_possible(cli)) != 0)
		return rc;
	if ((rc = open_engine(cli, &r)) != 0)
		return rc;
	rc = roll_reload(r, &e);
	roll_free(r);
	return rc < 0 ? cli_fail(&e) : PF_EXIT_OK;
}

int cmd_cancel(pf_cli *cli, int argc, char **argv)
{
	pf_roll *r = NULL;
	pf_err e = {0};
	int rc;

	(void)argv;
	if (argc != 1)
		return cli_usage("cancel");
	if ((rc = open_engine(cli, &r)) != 0)
		return rc;
	rc = roll_cancel(r, &e);
	roll_free(r);
	if (rc < 0)
		return cli_fail(&e);
	wake_daemon(cli);
	printf("rollover cancelled: its new keys' records were withdrawn and their files "
	       "removed\n");
	return PF_EXIT_OK;
}

int cmd_status(pf_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	bool json = false;
	pf_roll *r = NULL;
	pf_err e = {0};
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (c != 'j')
			return cli_usage("status [--json]");
		json = true;
	}
	if (optind != argc)
		return cli_usage("status [--json]");
	if ((rc = open_engine(cli, &r)) != 0)
		return rc;
	rc = roll_status(r, stdout, json, &e);
	roll_free(r);
	return rc < 0 ? cli_fail(&e) : PF_EXIT_OK;
}

#define CHECK_USAGE                                                                                \
	"check [--plugin] [--cert-warning time] [--cert-critical time] [--sig-warning time] "      \
	"[--sig-critical time]"

/* "check --plugin": stderr goes to a scratch file for the whole run, so
 * that a monitoring system sees one line on stdout and nothing else; an
 * error printed on the way (a configuration error) becomes that line. */
static int check_plugin(pf_cli *cli, const pf_check_limits *lim)
{
	FILE *cap = tmpfile();
	int saved = dup(STDERR_FILENO), rc;
	pf_roll *r = NULL;

	if (cap && saved >= 0)
		dup2(fileno(cap), STDERR_FILENO);
	rc = open_engine(cli, &r);
	if (rc == 0) {
		rc = (int)roll_check_plugin(r, lim, stdout);
		roll_free(r);
	} else {
		char line[600] = "";
		const char *msg = line;

		fflush(stderr);
		if (cap) {
			rewind(cap);
			if (!fgets(line, sizeof(line), cap))
				line[0] = '\0';
		}
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(msg, "pftls-roll: ", 12) == 0)
			msg += 12;
		rc = (int)roll_plugin_unknown(stdout, msg[0] ? msg : "the check cannot run");
	}
	fflush(stdout);
	fflush(stderr);
	if (saved >= 0) {
		dup2(saved, STDERR_FILENO);
		close(saved);
	}
	if (cap)
		fclose(cap);
	return rc;
}

/* A threshold: a time as in pftls-roll.cf ("21d"; a bare number is
 * seconds).  Returns 0 or -EINVAL. */
static int parse_limit(const char *s, int64_t *ret)
{
	return pf_parse_time(s, ret) < 0 ? -EINVAL : 0;
}

int cmd_check(pf_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"plugin", no_argument, NULL, 'p'},
					     {"cert-warning", required_argument, NULL, 'w'},
					     {"cert-critical", required_argument, NULL, 'c'},
					     {"sig-warning", required_argument, NULL, 'W'},
					     {"sig-critical", required_argument, NULL, 'C'},
					     {NULL, 0, NULL, 0}};
	/* Three weeks and one: what certificate checks commonly default to,
	 * and ahead of a 30-day renewal window. */
	pf_check_limits lim = {.cert_warning = 21 * 86400, .cert_critical = 7 * 86400};
	/* Signers refresh their signatures a week or more before they end
	 * (BIND's 5 of 14 days, Knot's 7 of 14): less than 5 days left means
	 * the signer has stopped. */
	lim.sig_warning = 5 * 86400;
	lim.sig_critical = 2 * 86400;
	bool plugin = false, bad = false, limits = false;
	pf_roll *r = NULL;
	pf_err e = {0};
	int c, rc;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (c == 'p')
			plugin = true;
		else if (c == 'w' || c == 'c') {
			limits = true;
			bad |= parse_limit(optarg,
					   c == 'w' ? &lim.cert_warning : &lim.cert_critical) < 0;
		} else if (c == 'W' || c == 'C') {
			limits = true;
			bad |= parse_limit(optarg,
					   c == 'W' ? &lim.sig_warning : &lim.sig_critical) < 0;
		} else
			bad = true;
	}
	opterr = 1;
	if (optind != argc || (limits && !plugin) || lim.cert_critical > lim.cert_warning ||
	    lim.sig_critical > lim.sig_warning)
		bad = true;
	if (bad && plugin)
		return (int)roll_plugin_unknown(stdout, "usage: pftls-roll " CHECK_USAGE
							" (--cert-critical at most --cert-warning, "
							"--sig-critical at most --sig-warning)");
	if (bad)
		return cli_usage(CHECK_USAGE);
	if (plugin)
		return check_plugin(cli, &lim);
	if ((rc = open_engine(cli, &r)) != 0)
		return rc;
	rc = roll_check(r, stdout, &e);
	roll_free(r);
	return rc < 0 ? cli_fail(&e) : PF_EXIT_OK;
}
