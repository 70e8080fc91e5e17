#!/bin/bash
# tests/integ/reload_unit.sh - deploying under the shipped unit's limits
# (its CapabilityBoundingSet and NoNewPrivileges, read from
# units/pftls-rolld.service and applied with setpriv), where "postfix check"
# and "postfix reload" cannot run (postsuper needs CAP_SETUID/CAP_SETGID):
#   - with the default reload_command, pftls-rolld and "pftls-roll now"
#     refuse to start: exit 2, one line naming the fix, nothing changed;
#   - with reload_unit, a complete rollover through a REAL systemd: the
#     Debian systemd 252 binary run as a user manager (PID 1 here is not
#     systemd) on a private dbus-daemon, which the daemon reaches as its
#     "system bus" through DBUS_SYSTEM_BUS_ADDRESS.  The test unit's
#     ExecReload sleeps 6 s, then runs "postfix -c DIR reload" with
#     systemd's privileges: a daemon that did not wait for the job would
#     verify too early, fail and roll back;
#   - a unit whose reload job fails (after reloading Postfix: only the job
#     result tells) fails the deploy and rolls back, after a SIGHUP that
#     switched to it.
# The user manager runs in a cgroup subtree of its own (it moves every
# process of the cgroup it starts in), in a mount namespace with a tmpfs on
# /run/systemd; BIND on 127.66.0.1-3, Postfix on 127.66.0.9.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib/journald.sh
. tests/lib/rollover.sh
. tests/lib/user_manager.sh
ROLLD=${PFTLS_DAEMON:-$ROOT/build/pftls-rolld}


if [ "$(id -u)" -ne 0 ]; then
	fail "reload_unit: needs root (mount namespace, cgroups, setpriv)"
	exit 1
fi
journald_enter_ns "$0" "$@"

W=$(mktemp -d /tmp/pftls-reload.XXXXXX)
chmod 755 "$W"
CG=pftls-reload.$$
DAEMON_PID= SD_PID= DBUS_PID=
cleanup() {
	local p
	for p in $DAEMON_PID $SD_PID $DBUS_PID; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	roll_cleanup
	um_cgroup_remove "$CG"
	rm -rf "$W"
}
trap cleanup EXIT

# ---- the sandbox: rollover.sh's, on this test's addresses -------------------
ROLL_WORK=$W ROLL_NET=127.66.0 ROLL_ADDR=127.66.0.9 ROLL_HOST=mx.example.test
ROLL_NAME=_25._tcp.$ROLL_HOST ROLL_PF=$W/pf/etc ROLL_STATE=$W/state ROLL_CF=$W/roll.cf
if ! bind_start "$W/bind" "$ROLL_NET" >/dev/null || ! bind_addr_add "$ROLL_ADDR" ||
	! roll_instance "$W/pf" "$ROLL_ADDR"; then
	fail "sandbox starts (BIND on $ROLL_NET.1-3, Postfix on $ROLL_ADDR)"
	exit 1
fi
roll_conf

unit_caps=$(sed -n 's/^CapabilityBoundingSet=//p' units/pftls-rolld.service)
sp_caps=$(tr 'A-Z' 'a-z' <<<"$unit_caps" | sed 's/cap_/+/g; s/ \+/,/g')
as_unit=(setpriv --bounding-set=-all,"$sp_caps" --no-new-privs --)
check "the unit's bounding set lacks CAP_SETUID and CAP_SETGID ($unit_caps)" \
	eval '[ -n "$sp_caps" ] && ! grep -q SET.ID <<<"$unit_caps"'

# ---- 1. the default reload_command under the unit's limits: refused -----------
state_of() { { sha256sum "$ROLL_PF/main.cf"; ls -A "$ROLL_PF" "$ROLL_STATE" 2>&1; } | sha256sum; }
before=$(state_of)
# (bounded: a daemon that wrongly starts is stopped after 20 s)
timeout 20 "${as_unit[@]}" "$ROLLD" -c "$ROLL_CF" >"$W/refuse.out" 2>"$W/refuse.err"
rc=$?
check "pftls-rolld refuses to start: exit 2 (got $rc)" test "$rc" -eq 2
check "with one line naming the problem and the fix ($(head -c 300 "$W/refuse.err"))" \
	eval '[ "$(wc -l <"$W/refuse.err")" -eq 1 ] && ! [ -s "$W/refuse.out" ] &&
	grep -q "^pftls-rolld: .*postfix check.*reload_command (/usr/sbin/postfix -c $ROLL_PF reload) need CAP_SETUID and CAP_SETGID, outside this process.s capability bounding set: set reload_unit (e.g. postfix@-.service) in $ROLL_CF, or see pftls-rolld(8), SYSTEMD; not starting, nothing changed$" "$W/refuse.err"'
check "nothing changed: main.cf, the Postfix directory, no state directory, no control socket" \
	eval '[ "$(state_of)" = "$before" ] && ! [ -e "$ROLL_STATE" ] && ! [ -e "$W/control" ]'
timeout 60 "${as_unit[@]}" "$PFTLS" -c "$ROLL_CF" now >"$W/now-refuse.out" 2>&1
rc=$?
check "pftls-roll now (no daemon) refuses too, before any step: exit 2 (got $rc; $(head -c 200 "$W/now-refuse.out"))" \
	eval '[ "$rc" -eq 2 ] && grep -q "need CAP_SETUID and CAP_SETGID.*set reload_unit" "$W/now-refuse.out" &&
	[ "$(state_of)" = "$before" ]'
"$PFTLS" -c "$ROLL_CF" reload >"$W/reload-full.out" 2>&1
check "and without the unit's limits the same configuration reloads Postfix (exit $?)" \
	test "$(roll_reloads)" -ge 1

# ---- 2. a real systemd: a user manager on a private bus ------------------------
um_prepare "$W" || { fail "tmpfs on /run/systemd in the test's mount namespace"; exit 1; }
# The unit standing in for Debian's postfix@-.service: its reload takes 6 s.
cat >"$UM_UNITS/pfr-postfix.service" <<EOF
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/true
ExecReload=/bin/sh -c 'sleep 6; /usr/sbin/postfix -c $ROLL_PF reload && echo done >>$W/reloads-slow'
EOF
# Its reload puts the new configuration into service, then fails, once.
cat >"$UM_UNITS/pfr-flaky.service" <<EOF
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/true
ExecReload=/bin/sh -c '/usr/sbin/postfix -c $ROLL_PF reload; echo run >>$W/reloads-flaky; [ -e $W/failed-once ] && exit 0; touch $W/failed-once; exit 1'
EOF
um_start "$W" "$CG"
check "systemd 252 runs as a user manager and owns org.freedesktop.systemd1 on the private bus" um_owned
um_owned || { tail -5 "$W/systemd.log"; exit 1; }
systemctl --user start pfr-postfix.service pfr-flaky.service
check "the test units are active" systemctl --user is-active -q pfr-postfix.service pfr-flaky.service

roll_conf "reload_unit = pfr-postfix.service"
old_rsa=$(roll_deployed rsa)
DBUS_SYSTEM_BUS_ADDRESS=$BUS "${as_unit[@]}" "$ROLLD" -c "$ROLL_CF" >"$W/rolld.out" 2>"$W/rolld.err" &
DAEMON_PID=$!
for _ in $(seq 50); do [ -S "$W/control" ] && break; sleep 0.1; done
check "under the unit's limits, with reload_unit, pftls-rolld starts" test -S "$W/control"
check "and says once that main.cf is checked with postconf, the verification guarding the deploy ($(grep -m1 'through systemd' "$W/rolld.err" | head -c 200))" \
	eval '[ "$(grep -c "deploys reload pfr-postfix.service through systemd; \"postfix check\" cannot run here (CAP_SETUID and CAP_SETGID outside" "$W/rolld.err")" -eq 1 ]'
"${as_unit[@]}" "$PFTLS" -c "$ROLL_CF" now >"$W/now.out" 2>&1
phase=$(roll_wait_phase idle failed -t 100)
check "a complete rollover through systemd's reload: phase $phase" test "$phase" = idle
new_rsa=$(roll_deployed rsa)
check "main.cf names a new RSA key ($(basename "$new_rsa"))" \
	eval '[ "$new_rsa" != "$old_rsa" ] && [ -f "$new_rsa" ]'
check "the live server presents it" test "$(roll_live_spki rsa)" = "$(roll_key_spki "$new_rsa")"
check "the reload went through the unit: its ExecReload ran once ($(grep -c . "$W/reloads-slow" 2>/dev/null))" \
	test "$(grep -c . "$W/reloads-slow" 2>/dev/null)" = 1
check "the daemon waited for the 6 s job: no verification failed, nothing rolled back" \
	eval '! grep -q -e verification-failed -e rollback- "$W/rolld.err"'

# ---- 3. a reload job that fails: the deploy fails and rolls back ------------------
roll_conf "reload_unit = pfr-flaky.service"
kill -HUP "$DAEMON_PID"
for _ in $(seq 50); do grep -q "pfr-flaky.service through systemd" "$W/rolld.err" && break; sleep 0.1; done
check "SIGHUP: the daemon takes the new reload_unit and says so" \
	grep -q "deploys reload pfr-flaky.service through systemd" "$W/rolld.err"
"${as_unit[@]}" "$PFTLS" -c "$ROLL_CF" now >"$W/now2.out" 2>&1
phase=$(roll_wait_phase failed idle -t 100)
check "the rollover stops in phase failed ($phase)" test "$phase" = failed
check "the daemon names the job result ($(grep -o "reload of pfr-flaky.service over D-Bus[^;]*" "$W/rolld.err" | head -1))" \
	grep -q "deploy failed: reload of pfr-flaky.service over D-Bus: job result 'failed'" "$W/rolld.err"
check "and rolled back" grep -q rollback-done "$W/rolld.err"
check "main.cf names the key deployed before ($(basename "$(roll_deployed rsa)"))" \
	test "$(roll_deployed rsa)" = "$new_rsa"
check "the live server presents it again (the rollback's reload went through the unit)" \
	test "$(roll_live_spki rsa)" = "$(roll_key_spki "$new_rsa")"
check "the unit reloaded twice: the failed deploy and the rollback ($(grep -c . "$W/reloads-flaky"))" \
	test "$(grep -c . "$W/reloads-flaky")" = 2
