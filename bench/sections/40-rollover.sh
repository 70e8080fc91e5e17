#!/bin/bash
# bench/sections/40-rollover.sh - how close a rollover run by pftls-rolld
# gets to the moments SPEC.md 4 allows, seen from OUTSIDE the daemon.
#
# RUNS (default 5) complete RSA+ECDSA rollovers per build and setup, by
# pftls-rolld (rollover_scheme = on-demand, audit_interval = 0) started
# afresh for each run on a new state directory and triggered by
# `pftls-roll now --wait`, against two setups in turn:
#   bind: tests/lib/rollover.sh's sandbox: BIND signing primary + 2
#         secondaries on 127.57.9.x, a running Postfix on 127.57.0.90;
#   knot: a Knot signing primary + a BIND secondary (tests/lib/knot.sh) on
#         127.59.9.x, the same kind of Postfix on 127.57.0.90.
# TLSA TTL 4 s (the old records are published at 4 s too), ttl_factor 2,
# publish_safety 2 s, retire_delay 3 s: the formula time is ~11 s.
#
# With OLD_BUILD=DIR (another checkout's build directory, holding
# pftls-roll and pftls-rolld) the runs alternate between DIR and this
# checkout's build/ (old, new, new, old, ...), side by side in one table;
# NEW_BUILD=DIR replaces this checkout's build/ as "new".
#
# The observer (bench/roll_observer.py watch) asks every check server every
# 0.1 s for the TLSA RRset, records main.cf's mtime, and reads the state
# (status --json) whenever the state file changes.  Per run, t0 = just
# before `now` is started:
#   deploy / formula = (main.cf mtime - t0) / (formula - t0), formula =
#     max(observer: last server first serves both new records,
#         T_pub + propagation_min_delay) + ttl_factor x TTLeff + publish_safety
#   T_conf - the observer's last-server-first-served (ms)
#   retire lag = observer: old records gone from every server
#                - (T_reload + retire_delay)
# State times in ms (status --json "times_ms") where the build records
# them, else "times" (whole seconds) x 1000.  The observer's times are
# those of the first answer that showed a change, up to 0.1 s after it.
#
# Prints one Markdown section on stdout; progress on stderr.  Needs root
# and adds loopback addresses: run it namespaced,
#   netns-run bash bench/sections/40-rollover.sh
# SETUPS (default "bind knot") selects the setups.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/lib/rollover.sh"
. "$ROOT/tests/lib/knot.sh"
RUNS=${RUNS:-5}
SETUPS=${SETUPS:-bind knot}
TTL=4 FACTOR=2 SAFETY=2 RETIRE=3 MINDELAY=0
OBS=$ROOT/bench/roll_observer.py
NEW_BUILD=$(cd "${NEW_BUILD:-$ROOT/build}" && pwd)
OLD_BUILD=${OLD_BUILD:-}

W=$(mktemp -d /tmp/pftls-bench-roll.XXXXXX)
OBS_PID="" DPID=""
cleanup() {
	[ -n "$OBS_PID" ] && kill "$OBS_PID" 2>/dev/null && wait "$OBS_PID" 2>/dev/null
	[ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	roll_cleanup
	[ -n "${BENCH_KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT
die() { echo "40-rollover.sh: $*" >&2; exit 1; }
pass() { :; }
fail() { echo "40-rollover.sh: $*" >&2; }
chmod 755 "$W"

# build_id DIR: the commit of the checkout DIR (a build directory) is in.
build_id() {
	git -C "$1/.." describe --always --dirty --abbrev=10 2>/dev/null || echo unknown
}
builds="new"
[ -n "$OLD_BUILD" ] && builds="old new"
if [ -n "$OLD_BUILD" ]; then
	OLD_BUILD=$(cd "$OLD_BUILD" && pwd)
	[ -x "$OLD_BUILD/pftls-roll" ] && [ -x "$OLD_BUILD/pftls-rolld" ] ||
		die "OLD_BUILD=$OLD_BUILD has no pftls-roll and pftls-rolld"
fi
bdir() { [ "$1" = old ] && echo "$OLD_BUILD" || echo "$NEW_BUILD"; }

# knot_roll_setup WORK N: roll_setup's sandbox with a Knot primary and one
# BIND secondary on 127.59.N.1-2 instead of the BIND topology.
# shellcheck disable=SC2034 # the ROLL_* variables are read by tests/lib/rollover.sh
knot_roll_setup() {
	local work=$1 n=$2
	ROLL_WORK=$work ROLL_N=$n ROLL_NET=127.59.$n ROLL_ADDR=127.57.0.$((n * 10))
	ROLL_HOST=mx.example.test ROLL_NAME=_25._tcp.mx.example.test
	ROLL_PF=$work/pf/etc ROLL_STATE=$work/state ROLL_CF=$work/roll.cf
	ROLL_NET6="" ROLL_ADDR6=""
	chmod 755 "$work"
	knot_start "$work/bind" "$ROLL_NET" || return 1
	bind_addr_add "$ROLL_ADDR" || return 1
	roll_instance "$work/pf" "$ROLL_ADDR" || return 1
	roll_conf
}

# publish_old SERVERS: the deployed keys' records at TTL by nsupdate (not our
# code), and wait (bounded) until every server in SERVERS serves them.
publish_old() {
	local rsa ec i s ok
	rsa=$(roll_rec "$(roll_deployed rsa)") ec=$(roll_rec "$(roll_deployed ecdsa)")
	bind_nsupdate "$ROLL_WORK/bind/keys/pftls.key" \
		"update add $ROLL_NAME. $TTL IN TLSA $rsa
update add $ROLL_NAME. $TTL IN TLSA $ec" || return 1
	for ((i = 0; i < 50; i++)); do
		ok=1
		for s in $1; do
			roll_served "$s" | grep -qx "$rsa" && roll_served "$s" | grep -qx "$ec" || ok=0
		done
		[ $ok = 1 ] && return 0
		sleep 0.2
	done
	return 1
}

# One rollover: SETUP BUILD RUN SERVERS; appends its analyze line to
# $W/results.
one_run() {
	local setup=$1 build=$2 run=$3 servers=$4 tag=$1.$2.$3 bd old new t0 rc i
	bd=$(bdir "$build")
	PFTLS=$bd/pftls-roll PFTLS_DAEMON=$bd/pftls-rolld
	roll_conf "state_directory = $ROLL_WORK/state.$tag" "control_socket = $ROLL_WORK/ctl.$tag" \
		"tlsa_ttl = $TTL" "ttl_factor = $FACTOR" "publish_safety = ${SAFETY}s" \
		"retire_delay = ${RETIRE}s" "propagation_min_delay = ${MINDELAY}s" "audit_interval = 0"
	mkdir -p "$ROLL_WORK/state.$tag"
	old="$(roll_rec "$(roll_deployed rsa)"),$(roll_rec "$(roll_deployed ecdsa)")"
	"$PFTLS_DAEMON" -c "$ROLL_CF" >"$W/daemon.$tag.out" 2>"$W/daemon.$tag.err" &
	DPID=$!
	for ((i = 0; i < 100; i++)); do
		[ -S "$ROLL_WORK/ctl.$tag" ] && break
		kill -0 "$DPID" 2>/dev/null || die "pftls-rolld ($build) exited, see $W/daemon.$tag.err"
		sleep 0.1
	done
	"$PY3" "$OBS" watch --out "$W/obs.$tag" --name "$ROLL_NAME." --main-cf "$ROLL_PF/main.cf" \
		--state-file "$ROLL_WORK/state.$tag/pftls-roll.state" --max 300 \
		--status "$PFTLS -c $ROLL_CF status --json" $servers &
	OBS_PID=$!
	sleep 1 # the observer's first answers
	echo "bench: rollover $setup $build run $run" >&2
	t0=$(date +%s.%N)
	timeout 240 "$PFTLS" -c "$ROLL_CF" now --wait >"$W/now.$tag.out" 2>&1
	rc=$?
	sleep 1 # the observer sees the last change
	kill "$OBS_PID" 2>/dev/null
	wait "$OBS_PID" 2>/dev/null
	OBS_PID=""
	kill "$DPID" 2>/dev/null
	wait "$DPID" 2>/dev/null
	DPID=""
	[ "$rc" = 0 ] || { cat "$W/now.$tag.out" >&2; die "now --wait failed ($setup $build run $run, exit $rc)"; }
	grep -q "in the foreground" "$W/now.$tag.out" && die "now ran in the foreground, not by the daemon ($tag)"
	new="$(roll_rec "$(roll_deployed rsa)"),$(roll_rec "$(roll_deployed ecdsa)")"
	[ "$new" != "$old" ] || die "no new keys deployed ($setup $build run $run)"
	"$PY3" "$OBS" analyze --log "$W/obs.$tag" --t0 "$t0" --old "$old" --new "$new" \
		--factor "$FACTOR" --safety "$SAFETY" --min-delay "$MINDELAY" --retire-delay "$RETIRE" \
		--deploy "$(stat -c %.9Y "$ROLL_PF/main.cf")" --setup "$setup" --build "$build" \
		--run "$run" >>"$W/results"
	tail -1 "$W/results" | jq -c '{setup, build, run, ratio, tconf_lag_ms, retire_lag_s, ms_source}' >&2
}

load0=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$W/results"
for setup in $SETUPS; do
	mkdir -p "$W/$setup"
	case $setup in
	bind)
		roll_setup "$W/$setup" 9 >&2 || die "BIND sandbox did not start"
		servers="$ROLL_NET.1 $ROLL_NET.2 $ROLL_NET.3" ;;
	knot)
		knot_roll_setup "$W/$setup" 9 >&2 || die "Knot sandbox did not start"
		servers="$ROLL_NET.1 $ROLL_NET.2" ;;
	*) die "unknown setup $setup" ;;
	esac
	publish_old "$servers" >&2 || die "old records not published ($setup)"
	for ((run = 1; run <= RUNS; run++)); do
		order=$builds
		[ $((run % 2)) = 0 ] && order=$(tr ' ' '\n' <<<"$builds" | tac | paste -sd' ')
		for b in $order; do one_run "$setup" "$b" "$run" "$servers"; done
	done
	roll_cleanup
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)

cat <<EOT
## Rollover by pftls-rolld: deploy and retire vs the formula, seen from outside (bench/sections/40-rollover.sh)

$RUNS complete RSA+ECDSA rollovers per setup and build by pftls-rolld
(\`rollover_scheme = on-demand\`, started afresh on a new state directory
for each run, triggered by \`pftls-roll now --wait\`), against a running
Postfix on loopback and *bind*: BIND 9.18 signing primary + 2 secondaries,
*knot*: Knot $(knotd --version 2>/dev/null | awk '{print $NF}') signing primary + 1 BIND secondary.
TLSA TTL $TTL s (old and new records), ttl_factor $FACTOR, publish_safety ${SAFETY} s,
retire_delay ${RETIRE} s, propagation_min_delay ${MINDELAY}.  Builds: new = $NEW_BUILD
($(build_id "$NEW_BUILD"))$([ -n "$OLD_BUILD" ] && printf ', old = %s (%s); runs interleaved (old, new, new, old, ...)' "$OLD_BUILD" "$(build_id "$OLD_BUILD")").

An observer outside the daemon (bench/roll_observer.py) asks every check
server every 0.1 s for the TLSA RRset and watches main.cf's mtime.  t0 is
when \`now\` was started.  *Formula*: max(the moment the observer saw the
last server serve both new records, T_pub + propagation_min_delay) +
$FACTOR x TTLeff + publish_safety; deploy / formula = (main.cf mtime - t0) /
(formula - t0).  *T_conf - last served*: the daemon's T_conf minus that
observed moment.  *Retire lag*: the moment the observer saw the old records
gone from every server minus (T_reload + retire_delay).  T_pub, T_conf,
T_reload from the state (\`times_ms\` when the build has it, else \`times\`,
whole seconds, x 1000: column "state times").  *main.cf mtime - deploy_at*:
how long after the daemon's own deploy moment (\`deploy_at_ms\`, else
\`deploy_at\` x 1000) main.cf changed.  Observer times are those of the
first answer showing the change (up to 0.1 s after it happened).

$("$PY3" "$OBS" report "$W/results")

Load average (1, 5, 15 min) before: $load0; after: $load1 ($(nproc) cores,
shared with other work).

Reproduce: \`OLD_BUILD=/path/to/other/build netns-run bash bench/sections/40-rollover.sh\`
(RUNS=5, SETUPS="bind knot" by default), or \`netns-run bench/run --section 40-rollover\`.
EOT
