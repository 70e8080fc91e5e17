#!/bin/bash
# bench/sections/60-scale.sh - one pftls-rolld managing many names (issue 6):
# NAMES (default 500) names x RSA + ECDSA, one complete rollover by
# `pftls-roll now --wait` through the daemon, against real BIND (signing
# primary + 2 secondaries on 127.65.0.1-3, query logging on) and a running
# Postfix on 127.65.0.25 (tests/lib/scale.sh; TTLs 5 s, ttl_factor 2,
# publish_safety 1 s, retire_delay 3 s).  Records: wall time per phase from
# the timestamped `now --wait` lines, deploy vs the SPEC.md 4 formula, the
# daemon's peak RSS and CPU time (with its network process), the UPDATE
# messages BIND accepted and the queries each server logged, the journal
# events, the state file's size, and the TLSA records at the names before,
# during and after.  Prints one Markdown section on stdout, progress on
# stderr.  Needs root.  PFTLS / PFTLS_DAEMON select the binaries (to measure
# another build); TLSA_RECORDS (default "3 1 1") the record types.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/lib/rollover.sh"
. "$ROOT/tests/lib/scale.sh"
NAMES=${NAMES:-500}
TLSA_RECORDS=${TLSA_RECORDS:-3 1 1}
NTYPES=$(($(tr -cd , <<<"$TLSA_RECORDS" | wc -c) + 1))
ADDR=$SCALE_NET.25
DPID=""

W=$(mktemp -d /tmp/pftls-bench-scale.XXXXXX)
cleanup() {
	[ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	roll_cleanup
	[ -n "${SCALE_KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT
die() { echo "60-scale.sh: $*" >&2; exit 1; }

echo "bench: scale: $NAMES names, starting BIND and Postfix" >&2
scale_setup "$W" "$NAMES" "$ADDR" >&2 || die "sandbox did not start"
roll_conf "tlsa_hostnames = $SCALE_NAMES" "verify_endpoints = $ADDR:25" "tlsa_records = $TLSA_RECORDS"

# BIND's statistics channel on every server (named takes it up on SIGHUP):
# counters by opcode and query type.
for d in p s2 s3; do
	a=$SCALE_NET.$([ "$d" = p ] && echo 1 || echo "${d#s}")
	sed -i "s/^controls { };/controls { };\nstatistics-channels { inet $a port 8053 allow { $a; 127.0.0.1; }; };/" \
		"$W/bind/$d/named.conf"
done
for p in $BIND_PRIMARY_PID $BIND_S2_PID $BIND_S3_PID; do kill -HUP "$p"; done
stat_json() { curl -s --max-time 5 "http://$SCALE_NET.$1:8053/json/v1/server"; }
for s in 1 2 3; do
	for ((i = 0; i < 50; i++)); do stat_json "$s" | jq -e .opcodes >/dev/null 2>&1 && break; sleep 0.1; done
	stat_json "$s" | jq -e .opcodes >/dev/null 2>&1 || die "no statistics channel on $SCALE_NET.$s"
done
# queries TYPE: questions of TYPE the 3 servers received so far (SOA ones
# include the secondaries' refresh checks; zone transfers and NOTIFYs are
# other types/opcodes); updates: UPDATE messages the primary got.
queries() {
	local s t=0
	for s in 1 2 3; do
		t=$((t + $(stat_json "$s" | jq ".qtypes.$1 // 0")))
	done
	echo "$t"
}
updates() { stat_json 1 | jq '.opcodes.UPDATE // 0'; }
total_queries() { queries TLSA; }
# count_records: TLSA records at the names on each server, "P S2 S3"; also
# adds the queries it made itself to DIGQ.
DIGQ=0
count_records() {
	local q0 q1 out=""
	q0=$(total_queries)
	for s in 1 2 3; do out="$out $(scale_served "$SCALE_NET.$s" | wc -l)"; done
	q1=$(total_queries)
	DIGQ=$((DIGQ + q1 - q0))
	echo $out
}
OLD_RSA=$(roll_deployed rsa) OLD_EC=$(roll_deployed ecdsa)
REC_OLD="$(roll_rec "$OLD_RSA") / $(roll_rec "$OLD_EC")"
before=$(count_records)

# Its log lines (stderr: no journal here) timestamped as they come.
"$PFTLS_DAEMON" -c "$ROLL_CF" >"$W/daemon.out" 2> >(while IFS= read -r l; do
	printf '%s %s\n' "$(date +%s.%N)" "$l"; done >"$W/daemon.err") &
DPID=$!
for ((i = 0; i < 100; i++)); do [ -S "$W/control" ] && break; sleep 0.1; done
[ -S "$W/control" ] || die "the daemon did not open its control socket"
sleep 1 # its start-up postconf runs
u0=$(updates) q0=$(total_queries) soa0=$(queries SOA)
ev0=$(wc -l <"$W/daemon.err")

# In the background while the rollover runs: the state file's largest size,
# and once (in the safety wait, when the daemon asks nothing) the records
# served at the names: old and new side by side.
(
	max=0 counted=0
	for ((i = 0; i < 1200; i++)); do
		s=$(stat -c %s "$ROLL_STATE/pftls-roll.state" 2>/dev/null || echo 0)
		[ "$s" -gt "$max" ] && { max=$s; echo "$max" >"$W/state_max"; }
		if [ "$counted" = 0 ] && [ "$(roll_phase)" = propagated ]; then
			roll_json >"$W/propagated.json"
			count_records >"$W/during"
			echo "$DIGQ" >"$W/during_q"
			counted=1
		fi
		sleep 0.3
	done
) &
SAMPLER=$!

echo "bench: scale: rollover" >&2
t0=$(date +%s.%N)
"$PFTLS" -c "$ROLL_CF" now --wait 2>&1 | while IFS= read -r line; do
	printf '%s %s\n' "$(date +%s.%N)" "$line"
done >"$W/now.log"
t_end=$(date +%s.%N)
kill "$SAMPLER" 2>/dev/null; wait "$SAMPLER" 2>/dev/null
during=$(cat "$W/during" 2>/dev/null || echo "not sampled")
DIGQ=$(cat "$W/during_q" 2>/dev/null || echo 0)
grep -q ' idle$' "$W/now.log" || { cat "$W/now.log" >&2; die "the rollover did not complete"; }
[ "$(roll_phase)" = idle ] || die "phase $(roll_phase) after now --wait"
cat "$W/now.log" >&2

# The daemon and its network process, from /proc.
kids=$(cat /proc/"$DPID"/task/*/children 2>/dev/null)
hwm_kb=$(awk '/^VmHWM:/ {print $2}' /proc/"$DPID"/status)
kid_hwm_kb=0
cpu_ticks=$(awk '{print $14 + $15 + $16 + $17}' /proc/"$DPID"/stat)
for k in $kids; do
	kid_hwm_kb=$((kid_hwm_kb + $(awk '/^VmHWM:/ {print $2}' /proc/"$k"/status)))
	cpu_ticks=$((cpu_ticks + $(awk '{print $14 + $15}' /proc/"$k"/stat)))
done
HZ=$(getconf CLK_TCK)
n_updates=$(($(updates) - u0))
n_queries=$(($(total_queries) - q0 - DIGQ))
n_soa=$(($(queries SOA) - soa0))
ev_lines=$(($(wc -l <"$W/daemon.err") - ev0))
ev_kinds=$(tail -n +"$((ev0 + 1))" "$W/daemon.err" | awk '{print $4}' | tr -d : | sort | uniq -c | sort -rn | awk '{printf "%s%s %d", (NR > 1 ? ", " : ""), $2, $1}')
state_bytes_max=$(cat "$W/state_max" 2>/dev/null || echo 0)
after=$(count_records)
REC_NEW="$(roll_rec "$(roll_deployed rsa)") / $(roll_rec "$(roll_deployed ecdsa)")"
new_ok=0
for s in 1 2 3; do
	n=$(($(scale_count "$SCALE_NET.$s" "$(roll_rec "$(roll_deployed rsa)")") + $(scale_count "$SCALE_NET.$s" "$(roll_rec "$(roll_deployed ecdsa)")")))
	[ "$n" -eq $((2 * NAMES)) ] && new_ok=$((new_ok + 1)) # the 3 1 1 ones
done
loadavg=$(cut -d' ' -f1-3 /proc/loadavg)

# Phase times from the daemon's timestamped events (one per phase entered).
ts() { awk -v p="$1:" '$4 == p {print $1; exit}' "$W/daemon.err"; }
t_gen=$(ts keys-generated) t_pub=$(ts records-published) t_prop=$(ts propagation-complete)
t_dpl=$(ts deployable) t_dep=$(ts deployed) t_ver=$(ts verified) t_idle=$(ts rollover-completed)
# The earliest deploy SPEC.md 4 allows, from the state's T_pub, T_conf
# (whole seconds, rounded up) and TTLeff, against main.cf's change.
P=$(cat "$W/propagated.json" 2>/dev/null)
ttl_eff=$(jq -r '.ttl_eff // "?"' <<<"$P" 2>/dev/null)
deploy_min=$(jq -r '[.times.t_pub, .times.t_conf] | max + 2 * $t + 1' --argjson t "${ttl_eff/\?/0}" <<<"$P" 2>/dev/null)
maincf=$(stat -c %.3Y "$ROLL_PF/main.cf")
echo "bench: scale: done; load $loadavg" >&2

d() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "") print "?"; else printf "%.2f", b - a }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
cat <<EOT
## One daemon, many names (bench/sections/60-scale.sh)

One pftls-rolld, \`tlsa_hostnames\` = $NAMES names (mx000 ... in example.test),
\`key_algorithms = rsa ecdsa\`, \`tlsa_records = $TLSA_RECORDS\`, port 25: $((2 * NAMES * NTYPES)) TLSA
records to replace (the old ones published by nsupdate: the 3 1 1 ones, $((2 * NAMES))).  Real BIND 9.18 (inline-signing primary, two
secondaries, statistics channel on), one running Postfix; TTLs 5 s, ttl_factor 2,
publish_safety 1 s, retire_delay 3 s.  \`verify_endpoints\` = the one address
Postfix listens on: what an operator with $NAMES names on one Postfix sets (the
names are all the same smtpd; the default would resolve every name and make
a STARTTLS handshake per name and algorithm with that same server).  One
rollover by \`pftls-roll now --wait\`; phase times from the daemon's events.
Load average at the end: $loadavg (2 cores, shared).

| phase | wall time (s) |
|---|---:|
| start -> generated (keys, certificates, $((4 * NAMES * NTYPES)) records planned) | $(d "$t0" "$t_gen") |
| publish: generated -> published (TTLs read, UPDATEs sent, each served signed) | $(d "$t_gen" "$t_pub") |
| propagation: published -> propagated (every check server serves all) | $(d "$t_pub" "$t_prop") |
| safety wait: propagated -> deployable (2 x TTLeff + publish_safety) | $(d "$t_prop" "$t_dpl") |
| deploy: deployable -> deployed (main.cf, postfix check, reload) | $(d "$t_dpl" "$t_dep") |
| verify: deployed -> verified (records everywhere, STARTTLS + DANE) | $(d "$t_dep" "$t_ver") |
| retire: verified -> idle (retire_delay 3 s, deletes, confirmed gone) | $(d "$t_ver" "$t_idle") |
| **total** | **$(d "$t0" "$t_idle")** |

| measurement | value |
|---|---:|
| main.cf changed after the earliest deploy SPEC.md 4 allows (max(T_conf, T_pub) + 2 x TTLeff $ttl_eff s + 1 s) | $(d "$deploy_min" "$maincf") s |
| UPDATE messages accepted by the primary | $n_updates |
| TLSA questions sent by the daemon (sum over the 3 servers' statistics) | $n_queries |
| SOA questions the 3 servers got (the daemon's, and the secondaries' refresh checks) | $n_soa |
| TLSA records at the names before (primary, ns2, ns3) | $before |
| TLSA records at the names during the safety wait | $during |
| TLSA records at the names after | $after |
| servers serving every new 3 1 1 record at every name after | $new_ok of 3 |
| peak RSS (VmHWM), pftls-rolld | $(mib "$hwm_kb") MiB |
| peak RSS (VmHWM), its network process | $(mib "$kid_hwm_kb") MiB |
| CPU time, pftls-rolld + children (user + system) | $(awk -v t="$cpu_ticks" -v h="$HZ" 'BEGIN {printf "%.2f", t / h}') s |
| log lines (journal events) during the rollover | $ev_lines ($ev_kinds) |
| state file, largest seen | $state_bytes_max bytes |

Reproduce: \`bash bench/sections/60-scale.sh\` (NAMES=$NAMES TLSA_RECORDS="$TLSA_RECORDS"), or
\`bench/run --section 60-scale\` (500 names, 3 1 1).

### Before and after the scale fixes (measured once, 2026-11-22; not rerun by this script)

Same script, same machine (load average 5-7 from other jobs on the 2 cores),
with the build of main 42aff4d ("before") and of branch scale ("after"):

| 500 names x 2 algorithms, \`tlsa_records = 3 1 1\` | before | after |
|---|---:|---:|
| total, \`now\` -> idle | 22.15 s | 20.56 s |
| publish (generated -> published) | 0.87 s | 0.75 s |
| verify (deployed -> verified) | 0.54 s | 0.26 s |
| SOA questions to the 3 servers | 2,039 | 538 |
| TLSA questions | 9,000 | 9,000 |
| UPDATE messages | 5 | 5 |
| peak RSS daemon / network process | 12.4 / 27.1 MiB | 12.6 / 27.0 MiB |
| CPU time | 1.92 s | 1.69 s |

| 520 names x 2 algorithms, \`tlsa_records = 3 1 1, 3 1 2\` (4,160 records in the state) | result |
|---|---|
| before | fails at once: \`pftls-roll: more than 4096 records\` (nothing published) |
| state limits raised only | publishes, confirms, deploys, then verification fails (1,040 records for one STARTTLS probe, at most 1,024): rollback, phase failed |
| after | completes: total 20.34 s, 8 UPDATE messages, 9,360 TLSA and 569 SOA questions, RSS 14.6 / 28.6 MiB, CPU 1.83 s, state file 620,857 bytes at most |

The fixes: the zone discovery asked one SOA question per record (4 per
name: 2 algorithms x old and new), now one per owner name; the STARTTLS
probe got every name's copy of the same record (500 copies per key), now
each distinct record once, which also lifts the 1,024-record ceiling of a
probe request; the state held at most 4,096 records and 1 MiB (now 65,536
and 16 MiB), and its duplicate check and the engine's record selection were
pairwise (O(n^2) at every state load and step), now sorted.
EOT
