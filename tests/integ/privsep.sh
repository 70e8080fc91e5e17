#!/bin/bash
# tests/integ/privsep.sh - privilege separation of a running pftls-rolld
# (SPEC.md 5 rule 5, netproc.h), against real servers: a DNSSEC-signing
# BIND primary with two secondaries and a Postfix instance on 127.61.0.x.
#   - the daemon's network process (its child named pftls-netproc) runs as
#     the unprivileged user: Uid/Gid, no groups, CapEff/CapPrm/CapBnd 0,
#     NoNewPrivs 1, not dumpable, only /dev/null and its socket open, in /;
#   - a process with exactly those credentials (read from the real process's
#     /proc/PID/status, applied with setpriv) cannot open the root 0600 key
#     file, while it can read the 0644 certificate next to it;
#   - a complete rollover still works, and every Internet socket of the
#     daemon's during it was made by the network process, none by the
#     daemon itself (strace -f -e trace=socket attached to both for the
#     rollover, and detached before the daemon exits: LeakSanitizer cannot
#     work under ptrace), and the network process was never replaced;
#   - under the shipped unit's limits (its CapabilityBoundingSet and
#     NoNewPrivileges, applied with setpriv): the command line's and the
#     daemon's network processes stay root but are sandboxed (Seccomp 2,
#     no capabilities, the daemon says so), and publish, retire, check and
#     the daemon's publish and propagation work through them;
#   - no private key or TSIG secret bytes appear in the argv or environment
#     of any process the daemon starts (postconf and postfix reload, through
#     wrappers in postfix_command_directory that record their own
#     /proc/self/cmdline and environ), nor do those processes hold a socket,
#     nor do the secrets appear on the daemon's or the command line's output.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib/bind.sh
. tests/lib/postfix_instance.sh
B=${PFTLS_BUILD:-$ROOT/build}
PFTLS=$B/pftls-roll
ROLLD=$B/pftls-rolld
NET=127.61.0

. tests/lib/dns_common.sh # pass, fail, check

if [ "$(id -u)" -ne 0 ]; then
	fail "privsep: needs root (the network process drops root's privileges)"
	exit 1
fi
D=$(mktemp -d /tmp/pftls-privsep.XXXXXX)
chmod 755 "$D"
DAEMON_PID= STRACE_PID=
cleanup() {
	[ -n "$STRACE_PID" ] && kill "$STRACE_PID" 2>/dev/null && wait "$STRACE_PID" 2>/dev/null
	[ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
	pfi_stop "$D/postfix"
	bind_stop
	rm -rf "$D"
}
trap cleanup EXIT

# ---- the sandbox -----------------------------------------------------------
bind_start "$D/bind" "$NET" >/dev/null || { fail "BIND starts on $NET.1-3"; exit 1; }
bind_addr_add "$NET.9" || { fail "address $NET.9 on lo"; exit 1; }
pfi_create "$D/postfix" "$NET.9" mx.example.test
ETC=$D/postfix/etc
"$PFTLS" -C "$ETC" new-server-key >/dev/null 2>&1
key=$(ls "$ETC"/key-*.pem) cert=$(ls "$ETC"/cert-*.pem)
"$PFTLS" -C "$ETC" deploy-server-cert "$cert" "$key" >/dev/null 2>&1
pfi_start "$D/postfix" || { fail "Postfix starts on $NET.9"; exit 1; }

# postfix_command_directory: wrappers that record how they were started,
# then run the real program.  Every postconf and "postfix reload" the
# daemon starts goes through them.
mkdir -p "$D/sbin" "$D/children"
for prog in postconf postfix; do
	cat >"$D/sbin/$prog" <<EOF
#!/bin/sh
f=\$(mktemp "$D/children/$prog.XXXXXX")
cat /proc/\$\$/cmdline >"\$f.cmdline"
cat /proc/\$\$/environ >"\$f.environ"
echo \$PPID >"\$f.ppid"
ls -l /proc/\$\$/fd/ >"\$f.fds" 2>&1
exec /usr/sbin/$prog "\$@"
EOF
	chmod 755 "$D/sbin/$prog"
done

cat "$D/bind/pftls-roll.cf.part" >"$D/pftls-roll.cf"
cat >>"$D/pftls-roll.cf" <<EOF
postfix_config_directory = $ETC
postfix_command_directory = $D/sbin
key_algorithms = rsa
tlsa_hostnames = mx.example.test
publish_safety = 1s
retire_delay = 3s
verify_endpoints = $NET.9:25
state_directory = $D/state
rollover_scheme = on-demand
control_socket = $D/control
EOF
"$PFTLS" -c "$D/pftls-roll.cf" publish "$key" >"$D/publish.out" 2>&1
check "the current key's record is published through the command line's network process" \
	grep -q "1 added" "$D/publish.out"

# ---- the daemon and its network process ---------------------------------------
"$ROLLD" -c "$D/pftls-roll.cf" >"$D/rolld.log" 2>&1 &
DAEMON_PID=$!
for _ in $(seq 50); do [ -S "$D/control" ] && break; sleep 0.1; done
NP=
for c in $(cat /proc/"$DAEMON_PID"/task/*/children 2>/dev/null); do
	[ "$(cat /proc/"$c"/comm 2>/dev/null)" = pftls-netproc ] && NP=$c
done
check "pftls-rolld (pid $DAEMON_PID) has a child named pftls-netproc (pid ${NP:-none})" \
	test -n "$NP"
check "the daemon gave no fallback notice" eval '! grep -q "notice:" "$D/rolld.log"'
[ -n "$NP" ] || { cat "$D/rolld.log"; exit 1; }

if getent passwd _pftls-roll >/dev/null; then
	user=_pftls-roll uid=$(id -u _pftls-roll) gid=$(id -g _pftls-roll)
else
	user=nobody uid=$(id -u nobody) gid=$(getent group nogroup | cut -d: -f3)
	gid=${gid:-$(id -g nobody)}
fi
field() { sed -n "s/^$1:[[:space:]]*//p" /proc/"$NP"/status | tr -s '\t ' ' '; }
check "network process: real, effective, saved and file uid are $user's ($(field Uid))" \
	test "$(field Uid)" = "$uid $uid $uid $uid"
check "network process: all four gids are $gid ($(field Gid))" \
	test "$(field Gid)" = "$gid $gid $gid $gid"
check "network process: no supplementary groups" test -z "$(field Groups)"
for c in CapInh CapPrm CapEff CapBnd CapAmb; do
	check "network process: $c is empty" test "$(field $c)" = 0000000000000000
done
check "network process: NoNewPrivs 1" test "$(field NoNewPrivs)" = 1
check "network process: its seccomp filter is on as well (Seccomp $(field Seccomp))" \
	test "$(field Seccomp)" = 2
check "the daemon says: its own uid, and a Landlock sandbox on top" \
	grep -q "privilege separation: network process $NP runs as uid $uid gid $gid, in a sandbox (Landlock ABI [1-9]" "$D/rolld.log"
check "network process: not dumpable (its /proc files stay root's although it is uid $uid)" \
	test "$(stat -c %u /proc/"$NP"/environ)" = 0
fds=$(ls -l /proc/"$NP"/fd | awk 'NR > 1 { print $9, $11 }' | sort | tr '\n' ' ')
check "network process: only /dev/null on 0-2 and its socket on 3 ($fds)" \
	eval '[[ "$fds" =~ ^"0 /dev/null 1 /dev/null 2 /dev/null 3 socket:["[0-9]+"] "$ ]]'
check "network process: working directory /" test "$(readlink /proc/"$NP"/cwd)" = /

# The key file's premise, then the proof with the real process's
# credentials (uid, gid, no groups, no capabilities, no_new_privs).
check "the key file is root's, mode 0600" test "$(stat -c '%u %a' "$key")" = "0 600"
as_np() {
	setpriv --reuid="$(field Uid | cut -d' ' -f1)" --regid="$(field Gid | cut -d' ' -f1)" \
		--clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs -- "$@"
}
out=$(as_np cat "$key" 2>&1)
check "with the network process's credentials the key file cannot be opened ($out)" \
	eval '[ -z "$(as_np cat "$key" 2>/dev/null)" ] && grep -q "Permission denied" <<<"$out"'
check "with the same credentials the 0644 certificate beside it can be read (the test is not vacuous)" \
	eval 'as_np cat "$cert" | grep -q "BEGIN CERTIFICATE"'
check "and root can read the key" grep -q "PRIVATE KEY" "$key"

# ---- a complete rollover -------------------------------------------------------------
# strace records every socket() call of the daemon, of the network process
# and of whatever the daemon forks, with their pids.
strace -f -qq -e trace=socket -e signal=none -o "$D/strace.out" -p "$DAEMON_PID" -p "$NP" &
STRACE_PID=$!
traced() { grep -q "^TracerPid:[[:space:]]*[1-9]" /proc/"$1"/status; }
for _ in $(seq 50); do traced "$DAEMON_PID" && traced "$NP" && break; sleep 0.1; done
check "strace is attached to the daemon and the network process" \
	eval 'traced "$DAEMON_PID" && traced "$NP"'
timeout 100 "$PFTLS" -c "$D/pftls-roll.cf" now --wait >"$D/now.out" 2>&1
rc=$?
check "pftls-roll now --wait: a complete rollover, exit 0 ($(tail -1 "$D/now.out"))" test "$rc" -eq 0
kill "$STRACE_PID" && wait "$STRACE_PID" 2>/dev/null
STRACE_PID=
"$PFTLS" -c "$D/pftls-roll.cf" status >"$D/status.out" 2>&1
check "the rollover ended in phase idle" grep -qi "phase.*idle" "$D/status.out"
newkey=$(postconf -c "$ETC" -h smtpd_tls_key_file)
check "main.cf names a new key ($(basename "$newkey"))" test "$newkey" != "$key" -a -f "$newkey"
"$PFTLS" -c "$D/pftls-roll.cf" check >"$D/check.out" 2>&1
check "pftls-roll check: the new key is published, served and presented ($(tail -1 "$D/check.out"))" \
	test $? -eq 0
check "the same network process (pid $NP) is still there: no exchange failed" \
	test "$(cat /proc/"$NP"/comm 2>/dev/null)" = pftls-netproc
inet() { grep -E "^$1 +socket\(AF_INET6?," "$D/strace.out" | wc -l; }
check "the network process made the rollover's Internet sockets ($(inet "$NP"))" \
	test "$(inet "$NP")" -gt 10
check "the daemon itself made no Internet socket ($(inet "$DAEMON_PID"))" \
	test "$(inet "$DAEMON_PID")" -eq 0

# ---- secrets in children's argv and environment, and in output ------------------------------
# Patterns: the TSIG secret (base64, as in the key file) and every base64
# line of every private key, old and new.
secret=$(sed -n 's/.*secret "\([^"]*\)".*/\1/p' "$D/bind/keys/pftls.key")
{
	echo "$secret"
	for k in "$ETC"/key-*.pem "$ETC"/eckey-*.pem; do
		[ -f "$k" ] && grep -v -- '-----' "$k" | awk 'length($0) >= 40'
	done
} | sort -u >"$D/patterns"
npat=$(wc -l <"$D/patterns")
check "the secrets to look for: the TSIG secret and the key lines ($npat patterns)" \
	eval '[ -n "$secret" ] && [ "$npat" -gt 10 ] && grep -qF -f "$D/patterns" "$newkey"'
n_children=$(ls "$D"/children/*.cmdline 2>/dev/null | wc -l)
n_daemon=$(grep -lx "$DAEMON_PID" "$D"/children/*.ppid 2>/dev/null | wc -l)
n_reload=$(grep -l reload "$D"/children/postfix.*.cmdline 2>/dev/null | wc -l)
check "the wrappers recorded $n_children processes, $n_daemon started by the daemon, $n_reload reloads" \
	test "$n_daemon" -gt 0 -a "$n_reload" -gt 0
leaks=$(cat "$D"/children/*.cmdline "$D"/children/*.environ | tr '\0' '\n' |
	grep -cF -f "$D/patterns")
check "no secret in the argv or environment of any child process ($leaks matches)" \
	test "$leaks" -eq 0
socks=$(grep -l "socket:" "$D"/children/*.fds 2>/dev/null | wc -l)
check "no child process holds a socket (the network process's is close-on-exec)" \
	test "$socks" -eq 0
for f in rolld.log now.out status.out check.out publish.out; do
	check "no secret in $f" eval '! grep -qF -f "$D/patterns" "$D/$f"'
done
# A positive control: the same check finds a secret where one is.
printf 'X\0SECRET=%s\0' "$secret" >"$D/control.environ"
check "the environment check finds a secret when one is there" \
	eval 'tr "\0" "\n" <"$D/control.environ" | grep -qF -f "$D/patterns"'

# ---- under the shipped unit's limits ---------------------------------------------------------
# The unit's CapabilityBoundingSet and NoNewPrivileges=yes, read from
# units/pftls-rolld.service and applied with setpriv: no CAP_SETUID, so the
# network process stays root and its sandbox (sandbox.h) alone keeps it from
# the keys.  (test_netsandbox shows what that sandbox refuses, also with
# the unit's system call filter, which setpriv cannot apply.)
unit_caps=$(sed -n 's/^CapabilityBoundingSet=//p' units/pftls-rolld.service)
sp_caps=$(tr 'A-Z' 'a-z' <<<"$unit_caps" | sed 's/cap_/+/g; s/ \+/,/g')
unit_setpriv=(setpriv --bounding-set=-all,"$sp_caps" --no-new-privs --)
as_unit() { "${unit_setpriv[@]}" "$@"; }
check "the unit's bounding set has no CAP_SETUID or CAP_SETGID ($unit_caps)" \
	eval '[ -n "$sp_caps" ] && ! grep -q SET.ID <<<"$unit_caps"'
kill "$DAEMON_PID" && wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=

# The command line under those limits: its network process publishes the
# old key's record again, withdraws it, and checks the live server.
as_unit "$PFTLS" -c "$D/pftls-roll.cf" publish "$key" >"$D/unit-publish.out" 2>&1
check "unit limits: pftls-roll publish sends its update through the sandboxed network process ($(tail -1 "$D/unit-publish.out"))" \
	eval 'grep -q "1 added" "$D/unit-publish.out" && ! grep -q "notice:" "$D/unit-publish.out"'
as_unit "$PFTLS" -c "$D/pftls-roll.cf" retire "$key" >"$D/unit-retire.out" 2>&1
rc=$?
check "unit limits: pftls-roll retire withdraws it again, exit $rc ($(tail -1 "$D/unit-retire.out"))" \
	eval '[ "$rc" -eq 0 ] && grep -q "1 deleted" "$D/unit-retire.out"'
as_unit "$PFTLS" -c "$D/pftls-roll.cf" check >"$D/unit-check.out" 2>&1
check "unit limits: pftls-roll check passes through it ($(tail -1 "$D/unit-check.out"))" test $? -eq 0

# The daemon under those limits, and its network process.  It refuses the
# default reload_command there ("postfix check" and "postfix reload" need
# CAP_SETUID/CAP_SETGID; tests/integ/reload_unit.sh): reload_unit, on a bus
# that does not exist, since this part never deploys.
echo "reload_unit = pftls-test-none.service" >>"$D/pftls-roll.cf"
# Not through the function: $! must be the daemon itself.
DBUS_SYSTEM_BUS_ADDRESS=unix:path=$D/no-bus \
	"${unit_setpriv[@]}" "$ROLLD" -c "$D/pftls-roll.cf" >"$D/rolld-unit.log" 2>&1 &
DAEMON_PID=$!
NP=
for _ in $(seq 50); do
	for c in $(cat /proc/"$DAEMON_PID"/task/*/children 2>/dev/null); do
		[ "$(cat /proc/"$c"/comm 2>/dev/null)" = pftls-netproc ] && NP=$c
	done
	[ -n "$NP" ] && grep -q "privilege separation" "$D/rolld-unit.log" && break
	sleep 0.1
done
check "unit limits: the daemon (pid $DAEMON_PID) has a separate network process (pid ${NP:-none})" \
	eval '[ -n "$NP" ] && [ "$NP" != "$DAEMON_PID" ]'
[ -n "$NP" ] || { cat "$D/rolld-unit.log"; exit 1; }
line=$(grep "privilege separation" "$D/rolld-unit.log")
check "unit limits: the daemon says the sandbox alone separates it ($line)" \
	eval 'grep -q "sandbox alone (Landlock ABI [1-9]" <<<"$line" && ! grep -q "notice:" "$D/rolld-unit.log"'
check "unit limits: the network process stays uid 0 ($(field Uid))" test "$(field Uid)" = "0 0 0 0"
check "unit limits: its seccomp filter is on (Seccomp $(field Seccomp))" test "$(field Seccomp)" = 2
check "unit limits: NoNewPrivs 1" test "$(field NoNewPrivs)" = 1
for c in CapInh CapPrm CapEff CapAmb; do
	check "unit limits: network process $c is empty ($(field $c))" test "$(field $c)" = 0000000000000000
done
check "unit limits: its bounding set is the unit's, which it cannot empty without CAP_SETPCAP ($(field CapBnd))" \
	test "$(field CapBnd)" = 000000000000000b
fds=$(ls -l /proc/"$NP"/fd | awk 'NR > 1 { print $9, $11 }' | sort | tr '\n' ' ')
check "unit limits: only /dev/null on 0-2 and its socket on 3 ($fds)" \
	eval '[[ "$fds" =~ ^"0 /dev/null 1 /dev/null 2 /dev/null 3 socket:["[0-9]+"] "$ ]]'

# The network half of a rollover through it: publish and propagation.
# (Not the deploy: "postfix check" runs postsuper, which needs CAP_SETGID
# that the unit's bounding set lacks - a matter for the unit's capabilities,
# not for the network process.)
as_unit "$PFTLS" -c "$D/pftls-roll.cf" now >"$D/unit-now.out" 2>&1
for _ in $(seq 300); do
	grep -q "propagation-complete" "$D/rolld-unit.log" && break
	sleep 0.2
done
check "unit limits: the daemon published the next key's record through it ($(grep -o 'records-published: [^[]*' "$D/rolld-unit.log"))" \
	grep -q "records-published: 1 TLSA record added" "$D/rolld-unit.log"
check "unit limits: and saw it on every check server ($(grep -c server-confirmed "$D/rolld-unit.log") confirmations)" \
	eval 'grep -q propagation-complete "$D/rolld-unit.log" && [ "$(grep -c server-confirmed "$D/rolld-unit.log")" -eq 3 ]'
check "unit limits: the same network process (pid $NP) did it: no exchange failed" \
	test "$(cat /proc/"$NP"/comm 2>/dev/null)" = pftls-netproc
for f in rolld-unit.log unit-now.out unit-publish.out unit-retire.out unit-check.out; do
	check "no secret in $f" eval '! grep -qF -f "$D/patterns" "$D/$f"'
done
