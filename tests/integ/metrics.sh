#!/bin/bash
# tests/integ/metrics.sh - the metrics_file read by a real Prometheus node
# exporter (Debian's prometheus-node-exporter, textfile collector only, on
# a loopback address of this test's network namespace) and scraped with
# curl, while pftls-rolld runs a rollover against real BIND and Postfix:
#  - the daemon writes the file at start (mode 0644, replaced atomically:
#    no temporary file left beside it), the exporter serves our families
#    and reports no textfile parse error (node_textfile_scrape_error 0);
#  - across a rollover the phase series change (a scrape sees phases other
#    than idle), the completed counter goes 0 -> 1, the deployed keys get
#    younger, the last phase change moves;
#  - SIGHUP writes the file again; a restarted daemon keeps the counter.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/rollover.sh

NODE_EXPORTER=/usr/bin/prometheus-node-exporter
[ -x "$PFTLS_DAEMON" ] || { fail "pftls-rolld is built ($PFTLS_DAEMON)"; exit 1; }
[ -x "$NODE_EXPORTER" ] || { fail "prometheus-node-exporter is installed (tools/install-deps)"; exit 1; }
roll_begin metrics 12
roll_publish_old 6 || { fail "old records published with nsupdate"; exit 1; }
roll_notify_start "$W/notify.log" || { fail "the notify listener starts"; exit 1; }
TEXT=$W/textfile
mkdir -m 755 "$TEXT"
PROM=$TEXT/pftls-roll.prom
roll_conf "metrics_file = $PROM"
OLD_RSA=$(roll_deployed rsa)

# ---- the exporter --------------------------------------------------------------
NE_ADDR=127.57.12.9:9100
"$NODE_EXPORTER" --web.listen-address="$NE_ADDR" --collector.disable-defaults \
	--collector.textfile --collector.textfile.directory="$TEXT" >"$W/ne.log" 2>&1 &
NE_PID=$!
ROLL_PIDS="$ROLL_PIDS $NE_PID"
scrape() { curl -s --max-time 5 "http://$NE_ADDR/metrics"; }
for ((i = 0; i < 50; i++)); do scrape >/dev/null && break; sleep 0.1; done
check "node_exporter serves /metrics on $NE_ADDR" bash -c 'curl -s --max-time 5 "http://$0/metrics" | grep -q "^node_textfile_scrape_error"' "$NE_ADDR"

# sval NAME [LABELS]: the value of series NAME{LABELS} in the last scrape ($S).
sval() {
	local k=$1
	[ -n "${2:-}" ] && k="$1{$2}"
	awk -v k="$k" '$1 == k { print $2 }' <<<"$S"
}
# The phase whose series is 1, from a scrape on stdin.
cur_phase() { sed -n 's/^pftls_phase{phase="\([a-z]*\)"} 1$/\1/p'; }

# ---- at start ------------------------------------------------------------------
roll_daemon_start
check "the daemon starts and sends READY=1" test $? -eq 0
check "the daemon wrote the metrics file at start" test -s "$PROM"
check_eq "the file is mode 0644" 644 "$(stat -c %a "$PROM")"
check_eq "no temporary file beside it" "pftls-roll.prom" "$(ls -A "$TEXT" | tr '\n' ' ' | sed 's/ $//')"
S=$(scrape)
check_eq "node_textfile_scrape_error 0: the exporter parsed our file" 0 "$(sval node_textfile_scrape_error)"
check_eq "phase idle is 1, generated 0" "1 0" \
	"$(sval pftls_phase 'phase="idle"') $(sval pftls_phase 'phase="generated"')"
check_eq "one pftls_phase series per phase (10, staged included)" 10 "$(grep -c '^pftls_phase{' <<<"$S")"
check_eq "rollovers completed 0, failed 0" "0 0" \
	"$(sval pftls_rollovers_completed_total) $(sval pftls_rollovers_failed_total)"
check "HELP and TYPE come through: counter and gauge" \
	bash -c 'grep -qx "# TYPE pftls_rollovers_completed_total counter" <<<"$0" &&
		grep -qx "# TYPE pftls_phase gauge" <<<"$0" && grep -q "^# HELP pftls_key_age_seconds " <<<"$0"' "$S"
AGE0=$(sval pftls_key_age_seconds 'algorithm="rsa"')
EXP=$(sval pftls_certificate_expiry_timestamp_seconds 'algorithm="ecdsa"')
check "key ages and certificate expiry of both deployed keys (rsa age $AGE0 s)" \
	bash -c '[[ $0 =~ ^[0-9]+$ && $1 =~ ^[0-9]+(\.[0-9]+)?(e\+[0-9]+)?$ ]] &&
		[ -n "$2" ] && [ -n "$3" ]' "$AGE0" "$EXP" \
	"$(sval pftls_key_age_seconds 'algorithm="ecdsa"')" \
	"$(sval pftls_certificate_expiry_timestamp_seconds 'algorithm="rsa"')"
check "pftls_metrics_write_timestamp_seconds is present" test -n "$(sval pftls_metrics_write_timestamp_seconds)"

# ---- across a rollover ---------------------------------------------------------
(
	for ((i = 0; i < 400; i++)); do
		scrape | grep -E '^pftls_(phase\{.*\} 1|records_served)' >>"$W/scrapes"
		sleep 0.2
	done
) &
POLL=$!
ROLL_PIDS="$ROLL_PIDS $POLL"
run -c "$ROLL_CF" now --wait
kill "$POLL" 2>/dev/null
wait "$POLL" 2>/dev/null
check_eq "the daemon ran a rollover to its end (now --wait exit 0)" 0 "$RC"
check "a new RSA key is deployed" test "$(roll_deployed rsa)" != "$OLD_RSA"
seen=$(cur_phase <"$W/scrapes" | sort -u | tr '\n' ' ')
# The short phases pass between two scrapes; the waits (2 x TTL in
# propagated, retire_delay in verified) cannot.
check "scrapes during the rollover saw phases other than idle, the waiting ones among them: $seen" \
	bash -c 'for p in propagated verified; do [[ " $0 " == *" $p "* ]] || exit 1; done &&
		[ "$(wc -w <<<"$0")" -ge 4 ]' "$seen"
check "scrapes saw pftls_records_served 1 for a check server" \
	grep -qE '^pftls_records_served\{server="127\.57\.12\.[123]:53"\} 1$' "$W/scrapes"
sleep 0.5
S=$(scrape)
check_eq "after it: no textfile parse error" 0 "$(sval node_textfile_scrape_error)"
check_eq "after it: phase idle 1, the completed counter 1" "1 1" \
	"$(sval pftls_phase 'phase="idle"') $(sval pftls_rollovers_completed_total)"
sed 's/^/# /' "$PROM" # the file after the rollover, for the log
AGE1=$(sval pftls_key_age_seconds 'algorithm="rsa"')
OLD_AGE=$(($(date +%s) - $(stat -c %Y "$OLD_RSA")))
check "after it: the key age is the new RSA key's ($AGE1 s), younger than the old one ($OLD_AGE s)" \
	test "${AGE1:-999999}" -lt "$OLD_AGE"
check "after it: the last phase change is within the last minute" \
	test "$(($(date +%s) - $(sval pftls_last_phase_change_timestamp_seconds)))" -lt 60

# ---- SIGHUP, restart -----------------------------------------------------------
W1=$(sval pftls_metrics_write_timestamp_seconds)
sleep 1.1
kill -HUP "$ROLL_DAEMON_PID"
for ((i = 0; i < 50; i++)); do
	[ "$(awk '$1 == "pftls_metrics_write_timestamp_seconds" {print $2}' "$PROM")" != "$W1" ] && break
	sleep 0.1
done
check "SIGHUP writes the file again (a new write timestamp)" \
	test "$(awk '$1 == "pftls_metrics_write_timestamp_seconds" {print $2}' "$PROM")" != "$W1"
kill -TERM "$ROLL_DAEMON_PID"
wait "$ROLL_DAEMON_PID" 2>/dev/null
rm -f "$PROM"
roll_daemon_start
check "the daemon restarts" test $? -eq 0
S=$(scrape)
check_eq "after a restart: the completed counter is still 1 (kept in the state)" 1 \
	"$(sval pftls_rollovers_completed_total)"
check_eq "after a restart: no textfile parse error" 0 "$(sval node_textfile_scrape_error)"

kill "$NE_PID" 2>/dev/null
wait "$NE_PID" 2>/dev/null
check "node_exporter stopped by its PID" bash -c '! kill -0 "$0" 2>/dev/null' "$NE_PID"
