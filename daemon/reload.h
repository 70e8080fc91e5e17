/*
 * reload.h - how a deploy puts Postfix's new configuration into service,
 * and whether this process can do it at all.
 *
 * "postfix check" and "postfix reload" both run postsuper, which changes
 * to mail_owner: they need CAP_SETUID and CAP_SETGID, which the shipped
 * unit keeps out of its bounding set (and its system call filter refuses
 * setresuid/setresgid).  Under it the reload goes through systemd instead
 * (reload_unit: ReloadUnit over D-Bus, and systemd runs the unit's
 * ExecReload with its own privileges), and main.cf is checked with
 * postconf, which needs no privilege.
 *
 * Owns the D-Bus connection of one reload, for the length of the call.
 */
#ifndef PF_RELOAD_H
#define PF_RELOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "util.h"

/* How long a ReloadUnit job may take before the deploy counts it failed. */
#define PF_RELOAD_UNIT_TIMEOUT_SEC 90

/*
 * Returns true when this process can run "postfix check" and "postfix
 * reload": CAP_SETUID and CAP_SETGID in its bounding and permitted sets,
 * and setresuid/setresgid not refused by a system call filter.  When not,
 * and why is not NULL, writes there what is missing (a phrase such as
 * "outside this process's capability bounding set").
 */
bool reload_privileged(char *why, size_t len);

/*
 * Can a deploy with cfg work in this process?  Without reload_unit it runs
 * "postfix check" and reload_command, so it refuses (-EPERM, exit code 2,
 * one line naming the fix and config_path) when reload_privileged() is
 * false.  Otherwise returns 0 and sets *ret_check: true when "postfix
 * check" can run, false when the deploy must check main.cf with postconf
 * instead (reload_unit set, privileges missing).
 */
int reload_preflight(const pf_config *cfg, const char *config_path, bool *ret_check, pf_err *e);

/*
 * Reload systemd unit over the system bus (DBUS_SYSTEM_BUS_ADDRESS when
 * set): ReloadUnit(unit, "replace"), then wait up to timeout_sec for its
 * job to be removed.  Returns 0 when the job's result is "done", else
 * -errno with e saying what systemd answered (job result, D-Bus error,
 * timeout).
 */
int reload_unit_wait(const char *unit, unsigned timeout_sec, pf_err *e);

#endif
