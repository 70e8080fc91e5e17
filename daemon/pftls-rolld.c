/*
 * pftls-rolld.c - the rollover daemon: one sd-event loop that owns a timer
 * (the engine's next wake-up), the control socket (each client its own
 * source, control.h), and the signals.  It
 * runs in the foreground, as Type=notify expects, and never polls: every
 * wait is a one-shot timer re-armed from what the engine says.
 *
 * The engine persists every step, so stopping at any moment (SIGTERM, or a
 * kill) loses nothing: the next start resumes where the state file says.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "control.h"
#include "journal.h"
#include "metrics.h"
#include "roll_audit.h"
#include "net.h"
#include "reload.h"
#include "rollover.h"
#include "version.h"

#define RETRY_BUSY_USEC (5 * 1000000ULL)

typedef struct manager {
	sd_event *event;
	sd_event_source *timer;
	pf_control *control;
	const char *config_path;
	pf_config cfg;
	pf_roll *roll;
	pf_net *net; /* the network process, which the engine's calls use */
	int control_fd;
	int instance_fd;
	int verbose;
	/* What the metrics_file last showed, to write it again when a
	 * command line moved the rollover; and whether its last write
	 * failed (logged once until one succeeds). */
	enum pf_phase metrics_phase;
	uint64_t metrics_completed, metrics_failed;
	bool metrics_error;
	/* The periodic audit (roll_audit.h): its timer, off when
	 * audit_interval is 0, and the findings it keeps open. */
	sd_event_source *audit_timer;
	pf_audit_book audit;
	char status[400];
} manager;

static void log_event(enum pf_event ev, const char *fmt, ...) PF_PRINTF(2, 3);
static void log_event(enum pf_event ev, const char *fmt, ...)
{
	pf_event_ctx ctx = {.phase = PF_PHASE_IDLE};
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pf_journal_log(ev, &ctx, "%s", msg);
}

static void notify_status(manager *m)
{
	if (m->audit.n)
		snprintf(m->status, sizeof(m->status), "%s; audit: %zu open finding%s (%.120s)",
			 roll_status_line(m->roll), m->audit.n, m->audit.n == 1 ? "" : "s",
			 m->audit.f[0].msg);
	else
		snprintf(m->status, sizeof(m->status), "%s", roll_status_line(m->roll));
	sd_notifyf(0, "STATUS=%s", m->status);
}

/* Write the metrics_file (when set) from the state as it is now. */
static void write_metrics(manager *m)
{
	pf_metrics mx;
	pf_err e = {0};

	if (!m->cfg.metrics_file)
		return;
	/* Without main.cf's keys the state's facts are still worth writing. */
	roll_metrics(m->roll, &mx, &e);
	pf_err_clear(&e);
	pf_audit_metrics(&m->audit, &mx);
	if (metrics_write(m->cfg.metrics_file, &mx, &e) < 0) {
		if (!m->metrics_error)
			log_event(PF_EV_SERVER_ERROR, "metrics_file not written: %s", e.msg);
		m->metrics_error = true;
	} else {
		m->metrics_error = false;
	}
	m->metrics_phase = mx.phase;
	m->metrics_completed = mx.rollovers_completed;
	m->metrics_failed = mx.rollovers_failed;
	metrics_clear(&mx);
}

/* The engine entered a phase: say so at once, even mid-run. */
static void on_phase(void *userdata)
{
	notify_status(userdata);
	write_metrics(userdata);
}

/* Arm the timer for epoch ms t_ms (0: disarm; past: at once), to the ms
 * (the timer's accuracy is 1 ms). */
static void arm(manager *m, int64_t t_ms)
{
	if (t_ms == 0) {
		sd_event_source_set_enabled(m->timer, SD_EVENT_OFF);
		return;
	}
	sd_event_source_set_time(m->timer, (uint64_t)(t_ms < 0 ? 0 : t_ms) * 1000ULL);
	sd_event_source_set_enabled(m->timer, SD_EVENT_ONESHOT);
}

static void arm_now(manager *m)
{
	uint64_t now;

	sd_event_now(m->event, CLOCK_REALTIME, &now);
	sd_event_source_set_time(m->timer, now);
	sd_event_source_set_enabled(m->timer, SD_EVENT_ONESHOT);
}

/* Arm the audit timer audit_interval from now (off when it is 0): the
 * clock's now, not sd_event_now, which after on_audit is the moment the
 * audit began, seconds of DNS rounds and probes before. */
static void arm_audit(manager *m)
{
	if (!m->audit_timer)
		return;
	if (m->cfg.audit_interval <= 0) {
		sd_event_source_set_enabled(m->audit_timer, SD_EVENT_OFF);
		return;
	}
	sd_event_source_set_time(m->audit_timer,
				 pf_mono_usec() + (uint64_t)m->cfg.audit_interval * 1000000ULL);
	sd_event_source_set_enabled(m->audit_timer, SD_EVENT_ONESHOT);
}

/* The periodic audit: every exchange through the network process with its
 * deadline (a DNS round, a bounded probe per endpoint), then the next
 * one audit_interval after this one ended. */
static int on_audit(sd_event_source *s, uint64_t usec, void *userdata)
{
	manager *m = userdata;
	pf_audit_result res;

	(void)s;
	(void)usec;
	roll_audit_run(m->roll, &res);
	pf_audit_book_update(&m->audit, &res, pf_now(), m->cfg.state_directory);
	pf_audit_result_free(&res);
	notify_status(m);
	write_metrics(m);
	arm_audit(m);
	return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	manager *m = userdata;
	int64_t wakeup = 0;
	pf_err e = {0};

	(void)s;
	(void)usec;
	if (roll_run(m->roll, true, &wakeup, &e) < 0) {
		if (e.code == EBUSY) {
			/* A command line holds the rollover lock for a moment. */
			uint64_t now;

			sd_event_now(m->event, CLOCK_REALTIME, &now);
			sd_event_source_set_time(m->timer, now + RETRY_BUSY_USEC);
			sd_event_source_set_enabled(m->timer, SD_EVENT_ONESHOT);
			return 0;
		}
		log_event(PF_EV_SERVER_ERROR, "rollover step failed: %s", e.msg);
		wakeup = pf_now_ms() + 60000;
	}
	notify_status(m);
	/* A change the phase hook did not see: back to idle, or a step a
	 * command line made. */
	{
		uint64_t done, failed;

		roll_counters(m->roll, &done, &failed);
		if (strcmp(pf_phase_name(m->metrics_phase), roll_phase(m->roll)) != 0 ||
		    done != m->metrics_completed || failed != m->metrics_failed)
			write_metrics(m);
	}
	arm(m, wakeup);
	return 0;
}

/* Requests on the control socket. */
static int handle(void *userdata, const char *verb, const char *arg, FILE *out, pf_err *e)
{
	manager *m = userdata;
	int rc;

	if (strcmp(verb, "now") == 0) {
		if ((rc = roll_start(m->roll, e)) < 0)
			return rc;
		arm_now(m);
		notify_status(m);
		fprintf(out, "rollover under way: %s\n", roll_status_line(m->roll));
		return 0;
	}
	if (strcmp(verb, "wake") == 0) {
		roll_refresh(m->roll, e);
		arm_now(m);
		return 0;
	}
	if (strcmp(verb, "status") == 0)
		return roll_status(m->roll, out, strcmp(arg, "json") == 0, e);
	if (strcmp(verb, "cancel") == 0) {
		if ((rc = roll_cancel(m->roll, e)) < 0)
			return rc;
		arm_now(m); /* prepublish: a new next key is staged */
		notify_status(m);
		write_metrics(m);
		fprintf(out, "rollover cancelled\n");
		return 0;
	}
	return pf_err_usage(e, "unknown request \"%.40s\"", verb);
}

/* A client refused or dropped by the control socket. */
static void control_log(void *userdata, const char *msg)
{
	(void)userdata;
	log_event(PF_EV_SERVER_ERROR, "control socket: %s", msg);
}

/*
 * Can cfg's deploys work in this process (reload.h)?  Refuses (-errno, e
 * set) a configuration whose deploy cannot: better now than after a
 * rollover has waited hours for its deploy time.  When reload_unit must
 * stand in for "postfix check", says so in one line, unless old (the
 * configuration being replaced) already used the same unit.
 */
static int check_deploy(const pf_config *cfg, const char *path, const pf_config *old, pf_err *e)
{
	char why[120];
	bool full;
	int rc;

	if ((rc = reload_preflight(cfg, path, &full, e)) < 0)
		return rc;
	if (full || (old && old->reload_unit && strcmp(old->reload_unit, cfg->reload_unit) == 0))
		return 0;
	reload_privileged(why, sizeof(why));
	fprintf(stderr,
		"pftls-rolld: deploys reload %s through systemd; \"postfix check\" cannot run "
		"here (CAP_SETUID and CAP_SETGID %s), so main.cf is checked with postconf, and "
		"the live STARTTLS verification after the reload, with rollback, guards each "
		"deploy\n",
		cfg->reload_unit, why);
	return 0;
}

/* Read the configuration again; on any error keep the old one. */
static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	manager *m = userdata;
	pf_config cfg;
	pf_roll *roll = NULL;
	pf_err e = {0};

	(void)s;
	(void)si;
	sd_notify(0, "RELOADING=1");
	pf_config_init(&cfg);
	if (pf_config_load(&cfg, m->config_path, false, &e) < 0) {
		log_event(PF_EV_CONFIG_RELOADED,
			  "configuration NOT reloaded, keeping the old one: %s", e.msg);
		pf_config_free(&cfg);
	} else if (check_deploy(&cfg, m->config_path, &m->cfg, &e) < 0) {
		log_event(PF_EV_CONFIG_RELOADED,
			  "configuration NOT reloaded, keeping the old one: %s", e.msg);
		pf_config_free(&cfg);
	} else if (strcmp(cfg.state_directory, m->cfg.state_directory) != 0 ||
		   strcmp(cfg.control_socket, m->cfg.control_socket) != 0) {
		log_event(PF_EV_CONFIG_RELOADED,
			  "configuration NOT reloaded: state_directory and control_socket need a "
			  "restart");
		pf_config_free(&cfg);
	} else {
		/* The engine keeps a pointer to its configuration: swap both. */
		pf_config old = m->cfg;

		m->cfg = cfg;
		if (roll_open(&m->cfg, &roll, &e) < 0) {
			log_event(PF_EV_CONFIG_RELOADED, "configuration NOT reloaded: %s", e.msg);
			pf_config_free(&m->cfg);
			m->cfg = old;
		} else {
			roll_free(m->roll);
			m->roll = roll;
			roll_set_net(m->roll, m->net);
			roll_set_phase_hook(m->roll, on_phase, m);
			pf_config_free(&old);
			log_event(PF_EV_CONFIG_RELOADED, "configuration reloaded from %s",
				  m->config_path);
			arm_now(m);
			arm_audit(m);
		}
	}
	sd_notify(0, "READY=1");
	notify_status(m);
	write_metrics(m);
	return 0;
}

static int on_stop(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	manager *m = userdata;

	(void)s;
	sd_notify(0, "STOPPING=1");
	log_event(PF_EV_DAEMON_STOPPING, "pftls-rolld stopping on signal %u in phase %s",
		  si->ssi_signo, roll_phase(m->roll));
	return sd_event_exit(m->event, 0);
}

/* One daemon per state directory: a POSIX record lock held for our
 * lifetime.  Not flock(2): an flock is shared with forked children, so a
 * network process still starting when the daemon was killed would keep a
 * restarted daemon out; a record lock belongs to this process alone.
 * Returns the fd, or -errno with e set. */
static int instance_lock(const char *dir, pf_err *e)
{
	char *path = pf_asprintf("%s/pftls-rolld.pid", dir);
	char pid[32];
	struct stat st = {0};
	int fd, n, r;

	/* The file is truncated below: never through a symbolic link or into
	 * another file's hard link (a victim elsewhere would be emptied). */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK, 0600);
	if (fd < 0) {
		r = errno;
		if (r == ELOOP)
			pf_err_set(e, r,
				   "pid file %s is a symbolic link; not following it "
				   "(remove it, pftls-rolld makes its own)",
				   path);
		else
			pf_err_set(e, r, "cannot open pid file %s: %s", path, strerror(r));
		free(path);
		return -r;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
		pf_err_set(e, EINVAL,
			   "pid file %s is not a plain file of its own (%s); "
			   "not using it (remove it, pftls-rolld makes its own)",
			   path,
			   !S_ISREG(st.st_mode) ? "not a regular file" : "it has other hard links");
		close(fd);
		free(path);
		return -EINVAL;
	}
	if (fcntl(fd, F_SETLK, &(struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET}) < 0) {
		n = (int)read(fd, pid, sizeof(pid) - 1);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		pf_err_set(e, EBUSY, "another pftls-rolld (pid %s) uses %s", pid[0] ? pid : "?",
			   dir);
		close(fd);
		free(path);
		return -EBUSY;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) < 0)
		pf_err_set(e, errno, "cannot write %s", path);
	free(path);
	return fd;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: pftls-rolld [-c config] [-v]\n"
		     "Runs in the foreground; see pftls-rolld(8).\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'H'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	manager m = {.config_path = PF_DEFAULT_CONFIG, .control_fd = -1, .instance_fd = -1};
	pf_err e = {0};
	sigset_t mask;
	int c, rc;

	while ((c = getopt_long(argc, argv, "c:v", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			m.config_path = optarg;
			break;
		case 'v':
			m.verbose++;
			break;
		case 'H':
			usage(stdout);
			return PF_EXIT_OK;
		case 'V':
			printf("pftls-rolld %s\n", PF_VERSION);
			return PF_EXIT_OK;
		default:
			usage(stderr);
			return PF_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return PF_EXIT_USAGE;
	}
	/* Key material passes through this process: no core dumps, no
	 * ptrace by other users, nothing readable by default. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	umask(0077);
	signal(SIGPIPE, SIG_IGN);

	pf_config_init(&m.cfg);
	if (pf_config_load(&m.cfg, m.config_path, false, &e) < 0) {
		fprintf(stderr, "pftls-rolld: %s\n", e.msg);
		pf_config_free(&m.cfg);
		return PF_EXIT_USAGE;
	}
	if (check_deploy(&m.cfg, m.config_path, NULL, &e) < 0) {
		fprintf(stderr, "pftls-rolld: %s; not starting, nothing changed\n", e.msg);
		pf_config_free(&m.cfg);
		return PF_EXIT_USAGE;
	}
	/* Fork the unprivileged network process now, while this process
	 * holds no key and no TSIG secret (net.h), and say how it is kept
	 * from the keys (net_new itself says when it is not). */
	m.net = net_new();
	if (net_pid(m.net) > 0) {
		char sep[512];

		fprintf(stderr, "pftls-rolld: privilege separation: %s\n",
			net_separation(m.net, sep, sizeof(sep)));
	}
	if (roll_open(&m.cfg, &m.roll, &e) < 0) {
		fprintf(stderr, "pftls-rolld: %s; not starting, nothing changed\n", e.msg);
		m.net = net_free(m.net);
		pf_config_free(&m.cfg);
		return e.exit_code ? e.exit_code : PF_EXIT_FAIL;
	}
	roll_set_net(m.roll, m.net);
	roll_set_phase_hook(m.roll, on_phase, &m);
	if ((m.instance_fd = instance_lock(m.cfg.state_directory, &e)) < 0 ||
	    (m.control_fd = control_listen(m.cfg.control_socket, &e)) < 0) {
		fprintf(stderr, "pftls-rolld: %s\n", e.msg);
		rc = PF_EXIT_FAIL;
		goto out;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	if ((rc = sd_event_default(&m.event)) < 0 ||
	    (rc = sd_event_add_signal(m.event, NULL, SIGTERM, on_stop, &m)) < 0 ||
	    (rc = sd_event_add_signal(m.event, NULL, SIGINT, on_stop, &m)) < 0 ||
	    (rc = sd_event_add_signal(m.event, NULL, SIGHUP, on_sighup, &m)) < 0 ||
	    (rc = control_server_new(m.event, m.control_fd, handle, control_log, &m, &m.control,
				     &e)) < 0 ||
	    /* 1 ms accuracy: sd-event may fire a timer as late as its
	     * accuracy allows, and "now" (arm_now) or a deploy time must not
	     * wait up to a second more. */
	    (rc = sd_event_add_time(m.event, &m.timer, CLOCK_REALTIME, 0, 1000, on_timer, &m)) <
		    0 ||
	    (rc = sd_event_set_watchdog(m.event, true)) < 0) {
		fprintf(stderr, "pftls-rolld: cannot set up the event loop: %s\n", strerror(-rc));
		rc = PF_EXIT_FAIL;
		goto out;
	}
	sd_event_source_set_description(m.timer, "rollover-timer");
	if ((rc = sd_event_add_time(m.event, &m.audit_timer, CLOCK_MONOTONIC, UINT64_MAX, 1000000,
				    on_audit, &m)) < 0) {
		fprintf(stderr, "pftls-rolld: cannot set up the audit timer: %s\n", strerror(-rc));
		rc = PF_EXIT_FAIL;
		goto out;
	}
	sd_event_source_set_description(m.audit_timer, "audit-timer");
	arm_audit(&m);
	/* Resume whatever the state file says, at once. */
	arm_now(&m);
	log_event(PF_EV_DAEMON_STARTED, "pftls-rolld %s started (configuration %s, phase %s)",
		  PF_VERSION, m.config_path, roll_phase(m.roll));
	write_metrics(&m);
	sd_notify(0, "READY=1");
	notify_status(&m);
	rc = sd_event_loop(m.event);
	rc = rc < 0 ? PF_EXIT_FAIL : PF_EXIT_OK;
out:
	sd_event_source_unref(m.timer);
	sd_event_source_unref(m.audit_timer);
	pf_audit_book_free(&m.audit);
	m.control = control_server_free(m.control);
	sd_event_unref(m.event);
	if (m.control_fd >= 0) {
		close(m.control_fd);
		unlink(m.cfg.control_socket);
	}
	if (m.instance_fd >= 0)
		close(m.instance_fd);
	roll_free(m.roll);
	m.net = net_free(m.net);
	pf_config_free(&m.cfg);
	return rc;
}
