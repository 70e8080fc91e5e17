#!/bin/bash
# bench/sections/45-prepublish.sh - how fast an emergency rollover is with
# rollover_scheme = prepublish (issue 13, SPEC.md 3): RUNS (default 5)
# `pftls-roll now` to a running pftls-rolld whose staged next key has been
# served long enough (status --json: emergency.deploys_at_once true), in the
# sandbox of the integration tests (tests/lib/rollover.sh: BIND signing
# primary + 2 secondaries on 127.57.15.x, a running Postfix with an RSA and
# an ECDSA key on 127.57.0.150; TTLs 5 s, ttl_factor 2, publish_safety 1 s,
# retire_delay 3 s).  Per run, from the moment `now` is started:
#   (a) until main.cf changes (its contents read every 20 ms),
#   (b) until the live server on port 25 presents the staged RSA and ECDSA
#       keys (openssl s_client -starttls smtp every 100 ms, SPKI SHA-256),
#   (c) until the daemon is back in phase staged with the following key
#       staged (status --json every 100 ms).
# Between runs it waits until deploys_at_once is true again.  Every loop is
# bounded in count and time.  Prints one Markdown section on stdout;
# progress on stderr.  Needs root; adds loopback addresses, so run it in
# its own network namespace: netns-run bench/run --section 45-prepublish.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/lib/rollover.sh"
. "$ROOT/tests/lib/prepublish.sh"
RUNS=${RUNS:-5}
DPID="" WPID=""

W=$(mktemp -d /tmp/pftls-bench-prepub.XXXXXX)
cleanup() {
	[ -n "$WPID" ] && kill "$WPID" 2>/dev/null && wait "$WPID" 2>/dev/null
	[ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	roll_cleanup
	[ -n "${PREPUB_KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT
die() { echo "45-prepublish.sh: $*" >&2; exit 1; }
load0=$(cut -d' ' -f1-3 /proc/loadavg)

echo "bench: prepublish: starting BIND and Postfix" >&2
roll_setup "$W" 15 >&2 || die "sandbox did not start"
roll_conf "rollover_scheme = prepublish"
roll_publish_old 5 >&2 || die "old records not published"

# Its log lines (stderr: no journal here) timestamped as they come.
"$PFTLS_DAEMON" -c "$ROLL_CF" >"$W/daemon.out" 2> >(while IFS= read -r l; do
	printf '%s %s\n' "$EPOCHREALTIME" "$l"; done >"$W/daemon.err") &
DPID=$!
for ((i = 0; i < 100; i++)); do [ -S "$W/control" ] && break; sleep 0.1; done
[ -S "$W/control" ] || die "the daemon did not open its control socket (see $W/daemon.err)"

# at_once OLD SECS: poll status --json (0.2 s, at most SECS) until the
# daemon is in phase staged, staging done, with staged keys other than OLD
# and emergency.deploys_at_once true; prints the staged "RSA ECDSA" SPKIs.
at_once() {
	local old=$1 max=$2 i j s
	for ((i = 0; i < max * 5; i++)); do
		j=$(pp_json "$ROLL_CF")
		if [ "$(jq -r '.phase + " " + (.staging | tostring) + " " +
			(.emergency.deploys_at_once | tostring)' <<<"$j" 2>/dev/null)" = "staged true true" ]; then
			s=$(pp_staged "$ROLL_CF")
			[ "$(wc -w <<<"$s")" = 2 ] && [ "$s" != "$old" ] && { echo "$s"; return 0; }
		fi
		sleep 0.2
	done
	return 1
}
# live: "RSA ECDSA" SPKIs the server on port 25 presents.
live() { echo "$(roll_live_spki rsa) $(roll_live_spki ecdsa)"; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }

# event_after NAME T: the time the daemon logged its first NAME event after T.
event_after() { awk -v e="$1:" -v t="$2" '$4 == e && $1 > t { print $1; exit }' "$W/daemon.err"; }

echo "bench: prepublish: waiting for the first staged key (about 15 s)" >&2
STAGED=$(at_once "" 60) || die "no staged key that deploys at once within 60 s (see $W/daemon.err)"
# The time one RSA probe of (b) takes: the resolution of (b).
probe=()
for ((i = 0; i < 5; i++)); do
	t=$EPOCHREALTIME
	roll_live_spki rsa >/dev/null
	probe+=("$(secs "$EPOCHREALTIME" "$t")")
done
probe_med=$(printf '%s\n' "${probe[@]}" | sort -n | sed -n 3p)

rows=""
for ((run = 1; run <= RUNS; run++)); do
	echo "bench: prepublish: emergency rollover $run of $RUNS" >&2
	[ "$run" = 1 ] || STAGED=$(at_once "$CUR" 60) || die "run $run: not staged with deploys_at_once within 60 s"
	CUR=$(live)
	[ "$CUR" != "$STAGED" ] || die "run $run: the staged keys are already live"
	# (a): main.cf read with the read builtin, a 20 ms wait by read -t on a
	# pipe that never has data (no process per sample), at most ~60 s.
	: >"$W/maincf.$run"
	(
		exec {fd}<> <(:)
		IFS= read -r -d '' last <"$ROLL_PF/main.cf"
		for ((i = 0; i < 3000; i++)); do
			cur=""
			IFS= read -r -d '' cur <"$ROLL_PF/main.cf"
			[ "$cur" != "$last" ] && { echo "$EPOCHREALTIME" >"$W/maincf.$run"; exit 0; }
			read -r -t 0.02 -u "$fd"
		done
	) &
	WPID=$!
	sleep 0.1 # the watcher has read main.cf
	t0=$EPOCHREALTIME
	"$PFTLS" -c "$ROLL_CF" now >"$W/now.$run.out" 2>&1
	rc=$?
	t_ret=$EPOCHREALTIME
	[ "$rc" -eq 0 ] || { cat "$W/now.$run.out" >&2; die "now failed (run $run, exit $rc)"; }
	# (b): the staged RSA key live, then the ECDSA one checked too (the
	# time: the end of the RSA probe that saw it); s_client every 100 ms,
	# at most 300 probes / 60 s.
	t_live=""
	for ((i = 0; i < 300; i++)); do
		if [ "$(roll_live_spki rsa)" = "${STAGED%% *}" ]; then
			t=$EPOCHREALTIME
			[ "$(roll_live_spki ecdsa)" = "${STAGED#* }" ] && { t_live=$t; break; }
		fi
		[ "$(secs "$EPOCHREALTIME" "$t0" | cut -d. -f1)" -ge 60 ] && break
		sleep 0.1
	done
	[ -n "$t_live" ] || die "run $run: the staged keys not live within 60 s"
	# (c): back in phase staged with the following key, status every 100 ms, at most 60 s.
	t_staged=""
	for ((i = 0; i < 600; i++)); do
		s=$(pp_json "$ROLL_CF" | jq -r 'select(.phase == "staged" and .staging == true) |
			[(.staged.keys[] | select(.algorithm == "rsa") | .spki_sha256),
			 (.staged.keys[] | select(.algorithm == "ecdsa") | .spki_sha256)] | join(" ")' 2>/dev/null)
		[ "$(wc -w <<<"$s")" = 2 ] && [ "$s" != "$STAGED" ] && { t_staged=$EPOCHREALTIME; break; }
		sleep 0.1
	done
	[ -n "$t_staged" ] || die "run $run: not back in phase staged within 60 s"
	wait "$WPID" 2>/dev/null
	WPID=""
	t_cf=$(cat "$W/maincf.$run")
	[ -n "$t_cf" ] || die "run $run: main.cf did not change"
	t_rel=$(event_after reloaded "$t0")
	[ -n "$t_rel" ] || die "run $run: no reloaded event in $W/daemon.err"
	rows="$rows$run $(secs "$t_cf" "$t0") $(secs "$t_live" "$t0") $(secs "$t_staged" "$t0") $(secs "$t_ret" "$t0") $(secs "$t_rel" "$t0")
"
	echo "bench: prepublish: run $run: main.cf $(secs "$t_cf" "$t0") s, live $(secs "$t_live" "$t0") s, staged again $(secs "$t_staged" "$t0") s" >&2
	CUR=$STAGED
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)
# For context, what the deploy runs between main.cf and the reloaded event,
# alone, 3 times each (median), with the daemon stopped: Postfix's own
# "postfix check" (with main.cf's mtime just set, "hot", as in the deploy,
# and a second later) and "postfix reload".
kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
DPID=""
pf_time() {
	local t=() i t1
	for ((i = 0; i < 3; i++)); do
		[ "${2:-}" = hot ] && touch "$ROLL_PF/main.cf"
		t1=$EPOCHREALTIME
		timeout 60 postfix -c "$ROLL_PF" "$1" >/dev/null 2>&1 || { echo "failed"; return; }
		t+=("$(secs "$EPOCHREALTIME" "$t1")")
		sleep 1
	done
	printf '%s\n' "${t[@]}" | sort -n | sed -n 2p
}
sleep 1
check_s=$(pf_time check) hot_s=$(pf_time check hot) reload_s=$(pf_time reload)
echo "bench: prepublish: done; load $load1" >&2

median() { sort -n | awk '{a[NR] = $1} END {m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.2f", m}'; }
col() { awk -v c="$1" 'NF {print $c}' <<<"$rows"; }
stats() { echo "$(col "$1" | median) | $(col "$1" | sort -n | head -1) | $(col "$1" | sort -n | tail -1)"; }
cat <<EOT
## Prepublish: an emergency rollover from staged (bench/sections/45-prepublish.sh)

$RUNS emergency rollovers by \`pftls-roll now\` handed to a running pftls-rolld with
\`rollover_scheme = prepublish\`, each from phase staged once the staged key's
wait has passed (\`status --json\`: \`emergency.deploys_at_once\` true).  Real BIND
(signing primary, two secondaries) and a running Postfix (RSA + ECDSA) on
loopback; TLSA and SOA TTLs 5 s, ttl_factor 2, publish_safety 1 s, retire_delay
3 s.  Times from the moment \`now\` is started.  *main.cf changed*: its
contents read every 20 ms.  *Live*: \`openssl s_client -starttls smtp\` to port
25 every 100 ms until it presents the staged RSA key, and then the staged ECDSA
key, by SPKI SHA-256 (one RSA probe takes $probe_med s: the resolution).
*Reloaded*: the daemon's \`reloaded\` event (its stderr, timestamped as read).
Load average at the start: $load0; at the end: $load1 (2 cores, shared).

| now -> | median (s) | min (s) | max (s) |
|---|---:|---:|---:|
| main.cf changed | $(stats 2) |
| the staged keys live on port 25 | $(stats 3) |
| Postfix reloaded (the daemon's event) | $(stats 6) |
| back in phase staged, the following key staged | $(stats 4) |
| \`now\` returned (handed to the daemon) | $(stats 5) |

Per run (s): main.cf $(col 2 | paste -sd, | sed 's/,/, /g'); live $(col 3 | paste -sd, | sed 's/,/, /g'); staged again $(col 4 | paste -sd, | sed 's/,/, /g').

| for context: one run, alone, on this Postfix instance | median of 3 (s) |
|---|---:|
| \`postfix check\`, main.cf's mtime just set, as in a deploy | $hot_s |
| \`postfix check\`, main.cf a second old or more | $check_s |
| \`postfix reload\` | $reload_s |

Before main.cf changes the daemon makes one propagation round (every check
server still serves the staged records); between main.cf and the live key
are \`postfix check\` and \`postfix reload\`.  Most of that is \`postfix check\`
waiting: Postfix programs wait in 300 ms steps while main.cf's mtime is under
about a second old (the second table); the reload itself is quick, and the
next connection after it gets the new key.  Back to staged adds verify,
retire_delay (3 s), the retire, and the following key's staging (generated,
published, confirmed on every server; its own wait of 2 x TTLeff +
publish_safety comes after).  With on-demand (the Rollover section) the same
\`now\` deploys only after 2 x TTLeff + publish_safety.

Reproduce: \`netns-run bench/run --section 45-prepublish\` (RUNS=5 by default), or
\`netns-run bash bench/sections/45-prepublish.sh\`.
EOT
