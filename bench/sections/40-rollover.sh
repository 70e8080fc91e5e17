#!/bin/bash
# bench/sections/40-rollover.sh - how close a rollover gets to the earliest
# deploy SPEC.md 4 allows.  RUNS (default 3) complete RSA+ECDSA rollovers by
# `pftls-roll now` in the foreground, in the sandbox of the integration
# tests (tests/lib/rollover.sh: BIND signing primary + 2 secondaries on
# 127.57.9.x, a running Postfix on 127.57.0.90; TTLs 5 s, ttl_factor 2,
# publish_safety 1 s).  Per run: the wall time from starting `now` to the
# change of main.cf (its mtime), against
#   formula: max(T_conf, T_pub) + 2 x TTLeff + publish_safety, with T_pub and
#            T_conf as the state records them (whole seconds, rounded up);
#   ideal:   2 x TTLeff + publish_safety after `now` started, as if publishing
#            and propagation took no time at all.
# Prints one Markdown section on stdout; progress on stderr.  Needs root.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/lib/rollover.sh"
RUNS=${RUNS:-3}
TTL=5 FACTOR=2 SAFETY=1

W=$(mktemp -d /tmp/pftls-bench-roll.XXXXXX)
trap 'roll_cleanup; rm -rf "$W"' EXIT
pass() { :; }
fail() { echo "40-rollover.sh: $*" >&2; }
roll_setup "$W" 9 >&2 || { echo "40-rollover.sh: sandbox did not start" >&2; exit 1; }
roll_publish_old "$TTL" >&2 || { echo "40-rollover.sh: old records not published" >&2; exit 1; }

rows=""
for ((run = 1; run <= RUNS; run++)); do
	echo "bench: rollover $run of $RUNS" >&2
	roll_poll_start "$W/states.$run"
	t0=$(date +%s.%N)
	"$PFTLS" -c "$ROLL_CF" now >"$W/now.$run.out" 2>&1
	rc=$?
	roll_poll_stop
	[ "$rc" -eq 0 ] || { echo "40-rollover.sh: now failed (run $run), see $W/now.$run.out" >&2; cat "$W/now.$run.out" >&2; exit 1; }
	dep=$(stat -c %.9Y "$ROLL_PF/main.cf")
	S=$(roll_snapshot "$W/states.$run" '.times.t_conf != null')
	[ -n "$S" ] || { echo "40-rollover.sh: no state with t_conf seen (run $run)" >&2; exit 1; }
	t_pub=$(jq .times.t_pub <<<"$S") t_conf=$(jq .times.t_conf <<<"$S") ttl=$(jq .ttl_eff <<<"$S")
	rows="$rows$(awk -v r="$run" -v t0="$t0" -v dep="$dep" -v tp="$t_pub" -v tc="$t_conf" \
		-v ttl="$ttl" -v f="$FACTOR" -v s="$SAFETY" 'BEGIN {
		base = tc > tp ? tc : tp
		formula = base + f * ttl + s - t0
		ideal = f * ttl + s
		wall = dep - t0
		printf "%d %.2f %.2f %.2f %.2f %.3f %.3f %d\n", r, wall, tc - t0, formula, ideal,
			wall / formula, wall / ideal, ttl
	}')
"
done

median() { sort -n | awk '{a[NR] = $1} END {m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.2f", m}'; }
col() { awk -v c="$1" 'NF {print $c}' <<<"$rows" | median; }
cat <<EOT
## Rollover: time from \`now\` to deploy vs the formula (bench/sections/40-rollover.sh)

$RUNS complete RSA+ECDSA rollovers by \`pftls-roll now\` (foreground) against
real BIND (signing primary, two secondaries) and a running Postfix on
loopback; TLSA and SOA TTLs $TTL s (TTLeff $(awk 'NF {print $8; exit}' <<<"$rows") s), ttl_factor $FACTOR,
publish_safety ${SAFETY} s.  "Deploy" is main.cf's mtime.  *Formula*: the
earliest deploy SPEC.md 4 allows, max(T_conf, T_pub) + $FACTOR x TTLeff +
publish_safety, from the state's T_pub and T_conf (recorded rounded up to the
next second, so that rounding can only lengthen a wait).  *Ideal*: $FACTOR x
TTLeff + publish_safety after \`now\` started, as if publishing and
propagation took no time.

| run | now -> deploy (s) | now -> T_conf (s) | formula (s) | ideal (s) | deploy / formula | deploy / ideal |
|---|---:|---:|---:|---:|---:|---:|
$(awk 'NF {printf "| %d | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7}' <<<"$rows")
| **median** | **$(col 2)** | **$(col 3)** | **$(col 4)** | **$(col 5)** | **$(col 6)** | **$(col 7)** |

A deploy / formula ratio of 1.00 would be a deploy at the very moment the
formula allows; the foreground \`now\` sleeps in whole seconds and wakes up
to 1 s after it, and \`postconf -e\` takes a little before main.cf's mtime
marks the change.  Deploy / ideal adds the time to generate the keys, publish, and see
every server serve the records, plus the rounding up of T_pub and T_conf.

Reproduce: \`bash bench/sections/40-rollover.sh\` (RUNS=3 by default), or \`make bench\`.
EOT
