#!/bin/bash
# bench/sections/50-daemon-idle.sh - pftls-rolld between rollovers: memory
# (PSS per process, and RSS) and CPU time over IDLE_SECONDS (default 600, issue 4's ten minutes)
# with a deployed key, rollover_interval = 30d and the watchdog on, so the
# daemon holds a timer a month away and pings the watchdog; nothing should
# run in between.  Needs no DNS or running Postfix: only main.cf is read.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
IDLE=${IDLE_SECONDS:-600}
D=$(mktemp -d /tmp/pftls-bench-idle.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$D"' EXIT
mkdir -p "$D/etc" "$D/spool" "$D/data"
chmod 755 "$D" "$D/etc"
cat >"$D/etc/main.cf" <<EOT
queue_directory = $D/spool
data_directory = $D/data
myhostname = mx.example.test
EOT
"$ROOT/build/pftls-roll" -C "$D/etc" new-server-key >/dev/null
k=$(ls "$D"/etc/key-*.pem) c=$(ls "$D"/etc/cert-*.pem)
postconf -c "$D/etc" -e "smtpd_tls_key_file = $k" "smtpd_tls_cert_file = $c"
cat >"$D/roll.cf" <<EOT
postfix_config_directory = $D/etc
rollover_interval = 30d
state_directory = $D/state
rollover_scheme = on-demand
control_socket = $D/control
EOT
ticks=$(getconf CLK_TCK)
# The daemon and its children (the unprivileged network process, when
# privilege separation runs), summed.
procs() { echo "$1" $(cat /proc/"$1"/task/*/children 2>/dev/null); }
cpu() { for p in $(procs "$1"); do cat "/proc/$p/stat"; done |
	awk -v t="$ticks" '{s += $14 + $15} END {printf "%.3f", s / t}'; }
rss() { for p in $(procs "$1"); do cat "/proc/$p/status"; done | awk '/^VmRSS:/ {s += $2} END {print s}'; }
# PSS (smaps_rollup): a shared library page counts 1/N in each of the N
# processes mapping it, so the sum is what the daemon costs the machine;
# RSS counts libcrypto once per process.  kB, one process.
pss() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f MiB", k / 1024}'; }
hwm() { for p in $(procs "$1"); do cat "/proc/$p/status"; done | awk '/^VmHWM:/ {s += $2} END {print s}'; }
WATCHDOG_USEC=60000000 NOTIFY_SOCKET= "$ROOT/build/pftls-rolld" -c "$D/roll.cf" 2>"$D/log" &
pid=$!
# At start the daemon reads main.cf through postconf: sample once only its
# long-lived children (the network process) remain, at most 20 s.
for i in $(seq 1 40); do
	sleep 0.5
	kids=$(cat /proc/"$pid"/task/*/children 2>/dev/null | wc -w)
	[ "$kids" -le 1 ] && [ "$i" -ge 4 ] && break
done
cpu0=$(cpu "$pid") rss0=$(rss "$pid")
kid=$(cat /proc/"$pid"/task/*/children 2>/dev/null | awk '{print $1}')
pss_d0=$(pss "$pid") pss_n0=0
[ -n "$kid" ] && pss_n0=$(pss "$kid")
echo "bench: daemon idle for ${IDLE}s" >&2
sleep "$IDLE"
cpu1=$(cpu "$pid") rss1=$(rss "$pid") peak=$(hwm "$pid") nprocs=$(procs "$pid" | wc -w)
pss_d1=$(pss "$pid") pss_n1=0
[ -n "$kid" ] && pss_n1=$(pss "$kid")
kill "$pid"
wait "$pid" 2>/dev/null || true
pid=
cat <<EOT
## pftls-rolld at rest

The daemon between rollovers (a deployed key, rollover_interval = 30d,
WatchdogSec 60s) for ${IDLE} s, measured from /proc: pftls-rolld and its
child processes (${nprocs} processes), summed.  PSS (smaps_rollup) shares
each library page among the processes mapping it at that moment, so it
moves with what else runs on the machine (other tests' OpenSSL users)
while RSS stays put.

| measurement | value |
|---|---:|
| PSS of pftls-rolld once started / after ${IDLE} s | $(mib "$pss_d0") / $(mib "$pss_d1") |
| PSS of its network process once started / after ${IDLE} s | $(mib "$pss_n0") / $(mib "$pss_n1") |
| PSS of both after ${IDLE} s | $(mib $((pss_d1 + pss_n1))) |
| resident memory once started (VmRSS) | $((rss0 / 1024)).$(((rss0 % 1024) * 10 / 1024)) MiB |
| resident memory after ${IDLE} s | $((rss1 / 1024)).$(((rss1 % 1024) * 10 / 1024)) MiB |
| peak resident memory (VmHWM) | $((peak / 1024)).$(((peak % 1024) * 10 / 1024)) MiB |
| CPU time used while idle (user + system) | $(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN {printf "%.2f s", b - a}') |

Reproduce: \`IDLE_SECONDS=600 bash bench/sections/50-daemon-idle.sh\`.
EOT
