/*
 * reload.c - reloading Postfix through systemd, waiting for the job, and
 * knowing beforehand whether "postfix check" / "postfix reload" can run
 * in this process.  See reload.h.
 */
#include "reload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>
#include "macro.h"
#include "sandbox.h"
#include "sd_lazy.h"

bool reload_privileged(char *why, size_t len)
{
	static const int caps[] = {CAP_SETUID, CAP_SETGID};
	const char *missing = NULL;

	for (size_t i = 0; !missing && i < PF_ELEMENTSOF(caps); i++)
		if (prctl(PR_CAPBSET_READ, caps[i], 0, 0, 0) != 1)
			missing = "outside this process's capability bounding set";
	/* Effective implies permitted; a root process has both or neither. */
	for (size_t i = 0; !missing && i < PF_ELEMENTSOF(caps); i++)
		if (!sandbox_has_cap(caps[i]))
			missing = "not among this process's capabilities";
	/* Asking for no change succeeds without any privilege, unless a system
	 * call filter (the unit's ~@privileged) refuses the call itself; the
	 * filter is inherited by postsuper.  Raw calls: glibc's wrappers would
	 * signal every thread to do the same. */
	if (!missing && (syscall(SYS_setresuid, (uid_t)-1, (uid_t)-1, (uid_t)-1) < 0 ||
			 syscall(SYS_setresgid, (gid_t)-1, (gid_t)-1, (gid_t)-1) < 0))
		missing = "refused by this process's system call filter (setresuid, setresgid)";
	if (missing && why)
		snprintf(why, len, "%s", missing);
	return !missing;
}

int reload_preflight(const pf_config *cfg, const char *config_path, bool *ret_check, pf_err *e)
{
	char why[120];
	PF_CLEANUP_FREE char *cmd = NULL;

	if (reload_privileged(why, sizeof(why))) {
		*ret_check = true;
		return 0;
	}
	if (cfg->reload_unit) {
		*ret_check = false;
		return 0;
	}
	cmd = pf_config_reload_command(cfg);
	return pf_err_usage(
		e,
		"\"postfix check\" and reload_command (%.200s) need CAP_SETUID and "
		"CAP_SETGID, %s: set reload_unit (e.g. postfix@-.service) in %.200s, or "
		"see pftls-rolld(8), SYSTEMD",
		cmd, why, config_path ? config_path : PF_DEFAULT_CONFIG);
}

/* What the JobRemoved handler fills in for the job it waits for. */
typedef struct job_wait {
	const pf_sd_api *sd;
	char *path;   /* the job's object path, from ReloadUnit's reply */
	char *result; /* "done", "failed", ...: set once the job is removed */
} job_wait;

/* JobRemoved(u id, o job, s unit, s result): keep the result of ours.
 * Signals for other jobs are ignored.  Returns 0 (never stops the bus). */
static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	job_wait *w = userdata;
	const char *path, *unit, *result;
	uint32_t id;

	(void)ret_error;
	if (!w->path || w->result)
		return 0;
	if (w->sd->bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0)
		return 0;
	if (strcmp(path, w->path) == 0)
		w->result = pf_strdup(result);
	return 0;
}

int reload_unit_wait(const char *unit, unsigned timeout_sec, pf_err *e)
{
	sd_bus *bus = NULL;
	sd_bus_slot *slot = NULL;
	sd_bus_message *reply = NULL;
	sd_bus_error berr = SD_BUS_ERROR_NULL;
	job_wait w = {0};
	pf_err why = {0};
	uint64_t deadline;
	const char *path;
	int r;

	/* libsystemd loaded only now (sd_lazy.h): most pftls-roll runs reload
	 * nothing. */
	if (!(w.sd = pf_sd_api_get(&why)))
		return pf_err_set(e, ENOENT, "reload of %s over D-Bus: %s", unit, why.msg);
	if ((r = w.sd->bus_open_system(&bus)) < 0) {
		r = pf_err_set(e, -r,
			       "reload of %s over D-Bus: cannot connect to the system bus: %s",
			       unit, strerror(-r));
		goto out;
	}
	/* Listen before asking, as systemctl does: a quick job may be gone
	 * before the reply to ReloadUnit is read. */
	r = w.sd->bus_match_signal(bus, &slot, "org.freedesktop.systemd1",
				   "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
				   "JobRemoved", on_job_removed, &w);
	if (r < 0) {
		r = pf_err_set(e, -r, "reload of %s over D-Bus: cannot subscribe to JobRemoved: %s",
			       unit, strerror(-r));
		goto out;
	}
	r = w.sd->bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
				  "org.freedesktop.systemd1.Manager", "ReloadUnit", &berr, &reply,
				  "ss", unit, "replace");
	if (r < 0) {
		r = pf_err_set(e, -r, "reload of %s over D-Bus failed: %.300s", unit,
			       berr.message ? berr.message : strerror(-r));
		goto out;
	}
	if ((r = w.sd->bus_message_read(reply, "o", &path)) < 0) {
		r = pf_err_set(e, EPROTO, "reload of %s over D-Bus: no job in systemd's reply",
			       unit);
		goto out;
	}
	w.path = pf_strdup(path);
	deadline = pf_mono_usec() + (uint64_t)timeout_sec * 1000000u;
	while (!w.result) {
		uint64_t now;

		r = w.sd->bus_process(bus, NULL);
		if (r < 0) {
			r = pf_err_set(e, -r,
				       "reload of %s over D-Bus: lost the bus while waiting for "
				       "job %s: %s",
				       unit, w.path, strerror(-r));
			goto out;
		}
		if (r > 0)
			continue;
		now = pf_mono_usec();
		if (now >= deadline) {
			r = pf_err_set(e, ETIMEDOUT,
				       "reload of %s over D-Bus: job %s not finished within %u s",
				       unit, w.path, timeout_sec);
			goto out;
		}
		r = w.sd->bus_wait(bus, deadline - now);
		if (r < 0 && r != -EINTR) {
			r = pf_err_set(e, -r, "reload of %s over D-Bus: %s", unit, strerror(-r));
			goto out;
		}
	}
	if (strcmp(w.result, "done") != 0)
		r = pf_err_set(e, EIO, "reload of %s over D-Bus: job result '%.40s'", unit,
			       w.result);
	else
		r = 0;
out:
	free(w.path);
	free(w.result);
	w.sd->bus_error_free(&berr);
	w.sd->bus_message_unref(reply);
	w.sd->bus_slot_unref(slot);
	w.sd->bus_flush_close_unref(bus);
	return r;
}
