#!/bin/bash
# bench/sections/42-deploy.sh - the cost of the deploy moment (issue 16,
# "deploy cheaply").  RUNS (default 3) pairs of complete RSA+ECDSA
# rollovers by `pftls-roll now` in the foreground, in the sandbox of the
# integration tests (tests/lib/rollover.sh: BIND signing primary + 2
# secondaries, a running Postfix; TTLs 5 s).  In each pair:
#   prepared:  the deploy prepared while the rollover waits (roll_deploy.c);
#              at the moment only postconf -e, its read-back and the reload;
#   read now:  main.cf touched once the preparation is made (its mark
#              differs), so the moment reads and checks everything, as
#              before: the postconf reads, the snapshot, postconf -e,
#              "postfix check", the reload.
# The time is the engine's own, on the monotonic clock: from the start of
# the deploy step (roll_step_deploy) to the reload done, as its progress
# line "deploy: S s from the deploy step to the reload done, main.cf written
# after S2 s (MODE)" says.
# Prints one Markdown section on stdout; progress on stderr.  Needs root.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/lib/rollover.sh"
RUNS=${RUNS:-3}

W=$(mktemp -d /tmp/pftls-bench-deploy.XXXXXX)
trap 'roll_cleanup; rm -rf "$W"' EXIT
pass() { :; }
fail() { echo "42-deploy.sh: $*" >&2; }
roll_setup "$W" 17 >&2 || { echo "42-deploy.sh: sandbox did not start" >&2; exit 1; }
roll_publish_old 5 >&2 || { echo "42-deploy.sh: old records not published" >&2; exit 1; }

# one_rollover MODE OUT: a rollover; with MODE "read now", main.cf is
# touched as soon as the deploy is prepared.  Prints "STEP|TO_WRITTEN"
# (seconds).
one_rollover() {
	local mode=$1 out=$2 pid i
	"$PFTLS" -c "$ROLL_CF" now >"$out" 2>&1 &
	pid=$!
	if [ "$mode" = "read now" ]; then
		for ((i = 0; i < 600; i++)); do
			grep -q '^deploy prepared' "$out" 2>/dev/null && break
			sleep 0.1
		done
		touch "$ROLL_PF/main.cf"
	fi
	wait "$pid" || { echo "42-deploy.sh: now failed, see $out" >&2; cat "$out" >&2; return 1; }
	sed -n "s/^deploy: \([0-9.]*\) s from the deploy step to the reload done, main.cf written after \([0-9.]*\) s ($mode)$/\1|\2/p" "$out"
}

rows=""
for ((run = 1; run <= RUNS; run++)); do
	for mode in prepared "read now"; do
		echo "bench: rollover $run of $RUNS, $mode" >&2
		s=$(one_rollover "$mode" "$W/now.$run.${mode// /-}.out") || exit 1
		[ -n "$s" ] || { echo "42-deploy.sh: no '$mode' deploy line (run $run)" >&2; cat "$W/now.$run.${mode// /-}.out" >&2; exit 1; }
		rows="$rows$run $mode|$s
"
	done
done

# The floor Postfix sets: a postconf -e, then the next postconf read of that
# main.cf, which waits until the file is over a second old (whole seconds:
# 1 to 2 s), as postfix reload does.  On a copy of the instance's main.cf.
mkdir -p "$W/copy"
floors=""
for ((run = 1; run <= RUNS; run++)); do
	cp "$ROLL_PF/main.cf" "$ROLL_PF/master.cf" "$W/copy/"
	touch -d '-10 sec' "$W/copy/main.cf"
	t0=$(date +%s.%N)
	postconf -c "$W/copy" -e "smtpd_tls_loglevel = $run" && postconf -c "$W/copy" -n -x >/dev/null
	t1=$(date +%s.%N)
	floors="$floors$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')
"
done

median() { sort -n | awk '{a[NR] = $1} END {m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.3f", m}'; }
col() { awk -F'|' -v m="$1" -v c="$2" '$1 ~ m"$" {print $c}' <<<"$rows" | median; }
p=$(col prepared 2) n=$(col "read now" 2) pw=$(col prepared 3) nw=$(col "read now" 3) f=$(awk 'NF' <<<"$floors" | median)
cat <<EOT
## Deploy moment: prepared ahead vs read at the moment (bench/sections/42-deploy.sh)

$RUNS pairs of complete RSA+ECDSA rollovers by \`pftls-roll now\` (foreground)
against real BIND and a running Postfix on loopback.  The time is the
engine's, on the monotonic clock, from the start of the deploy step to the
reload done, and the part of it before \`postconf -e\` has written main.cf
(for *prepared* the state save with the snapshot, for *read now* also the
postconf reads).  *Prepared*: the deploy was prepared while the rollover waited
(postconf reads, snapshot, hand-deploy check, \`postfix check\`), main.cf,
master.cf and the key files unchanged since: at the moment only
\`postconf -e\`, its read-back (\`postconf -n -x\`) and the reload.  *Read
now*: main.cf touched after the preparation, so its mark differs and the
moment does everything, as before the preparation existed (the reads,
\`postconf -e\`, \`postfix check\`, the reload).

| run | mode | deploy step (s) | of it, until main.cf is written (s) |
|---|---|---:|---:|
$(awk -F'|' 'NF {split($1, a, " "); m = substr($1, length(a[1]) + 2); printf "| %s | %s | %s | %s |\n", a[1], m, $2, $3}' <<<"$rows")
| **median** | **prepared** | **$p** | **$pw** |
| **median** | **read now** | **$n** | **$nw** |

The floor: \`postconf -e\` and then one \`postconf -n -x\` of the same
main.cf take $f s (median of $RUNS: $(awk 'NF' <<<"$floors" | paste -sd, -)), because
every Postfix program that reads a main.cf less than a second old (whole
seconds) waits for it to cool down; \`postfix reload\` is one of them.  So a
deploy moment costs at least 1-2 s after \`postconf -e\` whatever is
prepared (which second \`postconf -e\` falls in decides, hence the spread);
the preparation removes the reads before it and \`postfix check\`'s own run
time after it.

Reproduce: \`bash bench/sections/42-deploy.sh\` (RUNS=3 by default; as root,
e.g. under \`netns-run\`), or \`make bench\`.
EOT
