#!/bin/bash
# tests/integ/local_edges.sh - what a local operator's mistake or a local
# attacker can do to the two programs without any DNS or SMTP server
# (SPEC.md 5 rules 5 and 7, 6 on the control socket).  The real programs,
# no servers: an idle pftls-rolld on a throw-away state directory.
#   - a FIFO named as the configuration (pftls-roll and pftls-rolld), as
#     the key file of output-server-tlsa, or as main.cf is refused at once,
#     naming it
#     ("not a regular file (a FIFO)"), exit non-zero; each run is bounded by
#     timeout, so a reader that blocks shows as a timeout;
#   - the daemon's pid file a symbolic link to a victim file: the daemon
#     refuses to start, saying so, and the victim is unchanged;
#   - the control socket of a running daemon: a root client dribbling
#     "status" a byte every 1.5 s does not delay another client's status
#     (answered well within a second), and is itself cut off with one
#     error line at its 2 s deadline; a request with a NUL byte gets its
#     error line at once; a client of user nobody (the socket opened to
#     others for the test) that sends nothing is refused at once, before
#     anything is read; the daemon's phase is unchanged by all of it;
#   - pftls-roll caught waiting (on a "daemon" that never answers) has
#     umask 0077 and dumps no core on SIGQUIT (not dumpable).
# About 15 s.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/dns_common.sh
ROLLD=${PFTLS_BUILD:-build}/pftls-rolld
CTL="$PY3 $PWD/tests/lib/ctlclient.py"

T=$(mktemp -d /tmp/pftls-local-edges.XXXXXX) || exit 1
daemon_pid="" listen_pid="" roll_pid=""
cleanup() {
	for p in $roll_pid $listen_pid $daemon_pid; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT

PF=$T/postfix
mkdir -p "$PF" "$T/state"
touch "$PF/main.cf" "$PF/master.cf"
mkfifo "$T/fifo"
new_key "$T" key.pem rsa >/dev/null
cat >"$T/cf" <<EOF
postfix_config_directory = $PF
tlsa_hostnames = mx.example.test
dns_zone = example.test
dns_update_server = 127.0.0.1:1
dns_resolver = 127.0.0.1:1
dns_check_servers = 127.0.0.1:1
state_directory = $T/state
rollover_scheme = on-demand
control_socket = $T/run/control
EOF

# refused_at_once NAME WANT CMD...: CMD exits non-zero (not by timeout)
# within 3 s with WANT on stderr.
refused_at_once() {
	local name=$1 want=$2 t0 ms rc
	shift 2
	t0=$(date +%s%N)
	timeout 10 "$@" >"$T/out" 2>"$T/err" </dev/null
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	if [ "$rc" -eq 124 ]; then
		fail "$name: still running after 10 s (killed by timeout)"
	elif [ "$rc" -eq 0 ]; then
		fail "$name: exit 0"
	elif ! grep -qF -- "$want" "$T/err"; then
		fail "$name: exit $rc, stderr \"$(head -1 "$T/err")\", want \"$want\""
	elif [ "$ms" -ge 3000 ]; then
		fail "$name: refused, but after $ms ms"
	else
		pass "$name: exit $rc in $ms ms: $(grep -F -- "$want" "$T/err" | head -1)"
	fi
}

refused_at_once "a FIFO as pftls-roll's configuration" \
	"$T/fifo is not a regular file (a FIFO)" "$PFTLS" -c "$T/fifo" config
refused_at_once "a FIFO as pftls-rolld's configuration" \
	"$T/fifo is not a regular file (a FIFO)" "$ROLLD" -c "$T/fifo"
refused_at_once "a FIFO as the key file of output-server-tlsa" \
	"$T/fifo is not a regular file (a FIFO)" "$PFTLS" -c "$T/cf" output-server-tlsa "$T/fifo"

# main.cf a FIFO: postconf would wait on it until its own 60 s limit.
mkdir -p "$T/postfix-fifo"
mkfifo "$T/postfix-fifo/main.cf"
refused_at_once "a FIFO as main.cf" "$T/postfix-fifo/main.cf is not a regular file" \
	"$PFTLS" -c "$T/cf" -C "$T/postfix-fifo" output-server-tlsa "$T/key.pem"

# The pid file a symbolic link to a file that is not ours.
echo "not the daemon's" >"$T/victim"
cp "$T/victim" "$T/victim.orig"
ln -s "$T/victim" "$T/state/pftls-rolld.pid"
refused_at_once "the pid file a symbolic link" \
	"pid file $T/state/pftls-rolld.pid is a symbolic link; not following it" \
	"$ROLLD" -c "$T/cf"
check "the symbolic link's target is unchanged" cmp -s "$T/victim" "$T/victim.orig"
rm -f "$T/state/pftls-rolld.pid"

# An idle daemon for the control socket.
"$ROLLD" -c "$T/cf" >"$T/daemon.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 100); do [ -S "$T/run/control" ] && break; sleep 0.05; done
if ! [ -S "$T/run/control" ]; then
	fail "the daemon starts: $(tail -2 "$T/daemon.log")"
	exit 1
fi
pass "an idle daemon listens on $T/run/control"

ms_of() { echo "${1%% *}"; }
answer_of() { echo "${1#* }"; }

# A root client dribbling "status\n", one byte every 1.5 s.
$CTL "$T/run/control" dribble 'status\n' >"$T/dribble" &
dribble_pid=$!
sleep 0.3
# The second client asks the daemon itself ("pftls-roll status" reads the
# state file and would not notice).
r=$(timeout 25 $CTL "$T/run/control" send 'status\n')
if [ "$(answer_of "$r")" = OK ] && [ "$(ms_of "$r")" -lt 1000 ]; then
	pass "a client dribbling a byte every 1.5 s does not delay another's status ($r)"
else
	fail "a client dribbling a byte every 1.5 s delayed another's status: \"$r\", want OK within 1000 ms"
fi
wait "$dribble_pid"
r=$(cat "$T/dribble")
if [ "$(answer_of "$r")" = "ERR 1 control request not complete within 2 s" ] &&
	[ "$(ms_of "$r")" -ge 1900 ] && [ "$(ms_of "$r")" -lt 3500 ]; then
	pass "the dribbling client is cut off at its 2 s deadline with one error line ($r)"
else
	fail "the dribbling client: \"$r\", want \"ERR 1 control request not complete within 2 s\" after about 2000 ms"
fi

r=$(timeout 25 $CTL "$T/run/control" send 'sta\x00tus\n')
if [ "$(answer_of "$r")" = "ERR 2 invalid control request: byte 0x00 at offset 3" ] &&
	[ "$(ms_of "$r")" -lt 1000 ]; then
	pass "a request with a NUL byte gets its error line at once ($r)"
else
	fail "a request with a NUL byte: \"$r\", want \"ERR 2 invalid control request: byte 0x00 at offset 3\" within 1000 ms"
fi

# Opened to others for the test: the peer check is what must refuse them.
chmod 0755 "$T" "$T/run"
chmod 0666 "$T/run/control"
r=$(timeout 25 setpriv --reuid=nobody --regid=nogroup --clear-groups \
	$CTL "$T/run/control" silent)
if [ "$(answer_of "$r")" = "ERR 3 permission denied: root only" ] &&
	[ "$(ms_of "$r")" -lt 1000 ]; then
	pass "a silent client of user nobody is refused before anything is read ($r)"
else
	fail "a silent client of user nobody: \"$r\", want \"ERR 3 permission denied: root only\" within 1000 ms"
fi
chmod 0600 "$T/run/control"
chmod 0700 "$T"

run -c "$T/cf" status
check "the daemon is still idle after the hostile clients" grep -q '^phase: *idle' <<<"$OUT"
check "the refusals are logged" grep -q 'control socket: .*refused' "$T/daemon.log"
kill "$daemon_pid"
wait "$daemon_pid"
daemon_pid=""

# pftls-roll caught waiting for a daemon that never answers "now" (it
# waits up to 3 min for a busy daemon): its umask, and whether it would
# dump core.  A root process's /proc files say nothing of its
# dumpability, so it is asked to dump one: with core_pattern a plain file
# name, a dumpable process killed by SIGQUIT leaves one in its working
# directory (shown first with sleep), a non-dumpable one none.
sed "s|^control_socket = .*|control_socket = $T/silent.sock|" "$T/cf" >"$T/cf2"
$CTL "$T/silent.sock" listen &
listen_pid=$!
for _ in $(seq 100); do [ -S "$T/silent.sock" ] && break; sleep 0.05; done
mkdir "$T/cores" "$T/cores-control"
pattern=$(cat /proc/sys/kernel/core_pattern)
# Not under timeout (its pid would be timeout's): the request has its own
# limit, the listener stops after 120 s, and cleanup kills it.
(cd "$T/cores" && ulimit -c unlimited && exec "$PFTLS" -c "$T/cf2" now) >/dev/null 2>&1 &
roll_pid=$!
(cd "$T/cores-control" && ulimit -c unlimited && exec sleep 30) &
sleep_pid=$!
sleep 0.5
umask_=$(awk '$1 == "Umask:" {print $2}' "/proc/$roll_pid/status" 2>/dev/null)
check "pftls-roll runs with umask 0077 (Umask: ${umask_:-?})" [ "$umask_" = 0077 ]
case $pattern in
"|"* | */*)
	echo "note: core_pattern is \"$pattern\", not a file in the working directory:" \
		"pftls-roll's dumpability not checked"
	kill "$roll_pid" "$sleep_pid"
	;;
*)
	kill -QUIT "$sleep_pid" "$roll_pid"
	wait "$sleep_pid" "$roll_pid" 2>/dev/null
	if [ -z "$(ls -A "$T/cores-control")" ]; then
		fail "no core from a dumpable sleep either: the check cannot see dumpability here"
	elif [ -n "$(ls -A "$T/cores")" ]; then
		fail "pftls-roll dumped core on SIGQUIT: $(ls "$T/cores")"
	else
		pass "pftls-roll is not dumpable: no core on SIGQUIT (a dumpable sleep left $(ls "$T/cores-control"))"
	fi
	;;
esac
roll_pid=""
