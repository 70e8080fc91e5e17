#!/bin/bash
# tests/integ/audit.sh - pftls-rolld's periodic audit (SPEC.md 6) with
# audit_interval = 2s, against the real BIND sandbox (tests/lib/rollover.sh,
# its zone's DS as trust anchor), a running Postfix, journald (journal
# entries checked by MESSAGE_ID) and Debian's prometheus-node-exporter
# scraping the metrics_file:
#   - all in order: the audit runs, finds nothing (pftls_audit_ok 1, the
#     signature expiry and records served per server in the metrics);
#   - the deployed RSA key's record deleted by nsupdate: an
#     audit-records-missing entry within one audit_interval (plus the
#     audit's own run), `status` (text and JSON) and STATUS= show it,
#     `check` exits 1 and `check --plugin` 2, the metrics turn; the record
#     put back: audit-finding-resolved, and the metrics turn back;
#   - a key deployed by hand in main.cf (Postfix not reloaded, so the
#     endpoint presents a key main.cf does not deploy): audit-records-missing
#     for the new key and audit-endpoint-problem for the endpoint; main.cf
#     put back: both resolved.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/journald.sh
journald_enter_ns "$0" "$@"
. tests/lib/rollover.sh

[ -x "$PFTLS_DAEMON" ] || { fail "pftls-rolld is built ($PFTLS_DAEMON)"; exit 1; }
NODE_EXPORTER=/usr/bin/prometheus-node-exporter
[ -x "$NODE_EXPORTER" ] || { fail "prometheus-node-exporter is installed (tools/install-deps)"; exit 1; }
RM_ID=2885bd22fcc442648bde7206f8bda2c3  # audit-records-missing
EP_ID=fa024568336646b99a3199e0881eb45b  # audit-endpoint-problem
RES_ID=d498168bca3d4e138fbabc4990d12199 # audit-finding-resolved
INTERVAL=2

roll_begin audit 14 journal
roll_publish_old 6 || { fail "old records published with nsupdate"; exit 1; }
roll_notify_start "$W/notify.log" || { fail "the notify listener starts"; exit 1; }
TEXT=$W/textfile
mkdir -m 755 "$TEXT"
roll_conf "audit_interval = ${INTERVAL}s" "metrics_file = $TEXT/pftls-roll.prom"
RSA=$(roll_deployed rsa)
RSA_CERT=$(postconf -c "$ROLL_PF" -h smtpd_tls_cert_file)
REC=$(roll_rec "$RSA")

NE_ADDR=127.57.14.9:9100
"$NODE_EXPORTER" --web.listen-address="$NE_ADDR" --collector.disable-defaults \
	--collector.textfile --collector.textfile.directory="$TEXT" >"$W/ne.log" 2>&1 &
ROLL_PIDS="$ROLL_PIDS $!"
scrape() { curl -s --max-time 5 "http://$NE_ADDR/metrics"; }
sval() { awk -v k="$1" '$1 == k { print $2 }' <<<"$S"; }
# n_entries ID: journal entries of pftls-rolld with that MESSAGE_ID.
n_entries() {
	journald_sync
	journald_read -o cat SYSLOG_IDENTIFIER=pftls-rolld MESSAGE_ID="$1" 2>/dev/null | wc -l
}
# wait_entries ID N SECS: until at least N entries (returns 1 on timeout).
wait_entries() {
	local end=$(($(date +%s) + $3))
	while [ "$(date +%s)" -le "$end" ]; do
		[ "$(n_entries "$1")" -ge "$2" ] && return 0
		sleep 0.2
	done
	return 1
}
# wait_metric NAME VALUE SECS
wait_metric() {
	local end=$(($(date +%s) + $3))
	while [ "$(date +%s)" -le "$end" ]; do
		S=$(scrape)
		[ "$(sval "$1")" = "$2" ] && return 0
		sleep 0.2
	done
	return 1
}

roll_daemon_start
check "the daemon starts with audit_interval = ${INTERVAL}s" test $? -eq 0
check "the first audit runs and finds nothing: pftls_audit_ok 1" wait_metric pftls_audit_ok 1 10
check_eq "node_textfile_scrape_error 0: the exporter parsed the audit's metrics" 0 "$(sval node_textfile_scrape_error)"
EXP=$(sval pftls_dnssec_signature_expiry_timestamp_seconds)
check "the signature expiry is a time in the future ($EXP)" \
	bash -c '[ "$(printf "%.0f" "$0")" -gt "$(date +%s)" ]' "${EXP:-0}"
check_eq "records served per check server: 2 of 2 on each" "2 2 2 2 2 2" \
	"$(for i in 1 2 3; do sval "pftls_audit_records_served{server=\"$ROLL_NET.$i:53\"}"; \
		sval "pftls_audit_records_wanted{server=\"$ROLL_NET.$i:53\"}"; done | tr '\n' ' ' | sed 's/ $//')"
LAST0=$(sval pftls_audit_last_timestamp_seconds)
sleep $((INTERVAL + 2))
S=$(scrape)
check "the audit runs again: the last audit time moves ($LAST0 -> $(sval pftls_audit_last_timestamp_seconds))" \
	test "$(sval pftls_audit_last_timestamp_seconds)" != "$LAST0"
check_eq "no audit entry while nothing is wrong" "0 0" "$(n_entries $RM_ID) $(n_entries $EP_ID)"
run -c "$ROLL_CF" status
check "status: audit with 0 open findings" grep -q "^audit: 0 open findings" <<<"$OUT"

# ---- the deployed key's record deleted -----------------------------------------
bind_nsupdate "$W/bind/keys/pftls.key" "update delete $ROLL_NAME. IN TLSA $REC"
for ((i = 0; i < 50; i++)); do roll_none_serve "$REC" && break; sleep 0.2; done
T0=$(date +%s)
check "record deleted: an audit-records-missing entry (MESSAGE_ID $RM_ID)" wait_entries $RM_ID 1 15
T1=$(date +%s)
check "record deleted: the entry within one audit_interval plus the audit's run ($((T1 - T0)) s <= $((INTERVAL + 6)))" \
	test $((T1 - T0)) -le $((INTERVAL + 6))
E=$(journald_read -o json SYSLOG_IDENTIFIER=pftls-rolld MESSAGE_ID=$RM_ID | head -1)
check "record deleted: priority error, PFTLS_SERVER names a check server" \
	bash -c 'jq -e ".PRIORITY == \"3\" and (.PFTLS_SERVER | test(\"^$1\\\\.[123]:53$\"))" <<<"$0" >/dev/null' "$E" "${ROLL_NET//./\\\\.}"
N3=$(n_entries $RM_ID)
check_eq "record deleted: one entry per check server, logged once" 3 "$N3"
run -c "$ROLL_CF" status
check "status: the open findings, audit-records-missing" \
	bash -c 'grep -q "^audit: 3 open findings" <<<"$0" && grep -q "^  audit-records-missing since " <<<"$0"' "$OUT"
run -c "$ROLL_CF" status --json
check "status --json: .audit.findings names audit-records-missing (and the old members stay)" \
	bash -c 'jq -e "(.audit.findings | map(.event) | index(\"audit-records-missing\")) != null and .phase == \"idle\"" <<<"$0" >/dev/null' "$OUT"
check "STATUS= says audit findings are open" grep -q "^STATUS=.*audit: 3 open findings" "$W/notify.log"
run -c "$ROLL_CF" check
check_eq "record deleted: check exits 1" 1 "$RC"
"$PFTLS" -c "$ROLL_CF" check --plugin >"$W/plugin.out" 2>&1
check_eq "record deleted: check --plugin exits 2" 2 "$?"
check "record deleted: the metrics say so (pftls_audit_ok 0, 1 of 2 records served)" \
	bash -c 'S=$(curl -s --max-time 5 "http://$0/metrics"); grep -qx "pftls_audit_ok 0" <<<"$S" &&
		grep -qx "pftls_audit_records_served{server=\"$1.1:53\"} 1" <<<"$S"' "$NE_ADDR" "$ROLL_NET"
sleep $((INTERVAL + 2))
check_eq "record deleted: no reminder within the hour" 3 "$(n_entries $RM_ID)"

bind_nsupdate "$W/bind/keys/pftls.key" "update add $ROLL_NAME. 6 IN TLSA $REC"
check "record put back: audit-finding-resolved entries, one per server" wait_entries $RES_ID 3 15
check "record put back: pftls_audit_ok 1 again" wait_metric pftls_audit_ok 1 10
run -c "$ROLL_CF" status
check "record put back: status shows 0 open findings" grep -q "^audit: 0 open findings" <<<"$OUT"

# ---- a key deployed by hand, not reloaded --------------------------------------
"$PFTLS" -C "$ROLL_PF" new-server-key -a rsa >/dev/null 2>&1
NEWK=$(ls -t "$ROLL_PF"/key-*.pem | head -1)
NEWC=$(ls -t "$ROLL_PF"/cert-*.pem | head -1)
postconf -c "$ROLL_PF" -e "smtpd_tls_key_file = $NEWK" "smtpd_tls_cert_file = $NEWC"
check "hand deploy: audit-endpoint-problem (the endpoint presents a key main.cf does not deploy)" \
	wait_entries $EP_ID 1 15
check "hand deploy: audit-records-missing for the new key" wait_entries $RM_ID 4 5
check "hand deploy: the endpoint entry names the foreign key" \
	bash -c 'journald_read() { journalctl -D "$1" --no-pager "${@:2}"; }; journald_read "$0" -o cat MESSAGE_ID=$1 | grep -q "presents an rsa key .* that is not the deployed"' \
	"$JOURNALD_DIR" "$EP_ID"
# (No audit-maincf-unknown-key here: this daemon has not rolled, its state
# knows no key to compare main.cf with; tests/integ/ipv6.sh checks that
# finding after a rollover.)
run -c "$ROLL_CF" status
check "hand deploy: status shows the endpoint finding" grep -q "^  audit-endpoint-problem since " <<<"$OUT"
run -c "$ROLL_CF" check
check_eq "hand deploy: check exits 1" 1 "$RC"
"$PFTLS" -c "$ROLL_CF" check --plugin >"$W/plugin.out" 2>&1
check_eq "hand deploy: check --plugin exits 2" 2 "$?"
check "hand deploy: the plugin line is CRITICAL" grep -q "^PFTLS CRITICAL - " "$W/plugin.out"
postconf -c "$ROLL_PF" -e "smtpd_tls_key_file = $RSA" "smtpd_tls_cert_file = $RSA_CERT"
R0=$(n_entries $RES_ID)
check "main.cf put back: the findings resolve" wait_entries $RES_ID $((R0 + 1)) 15
res_names() {
	journald_sync
	journald_read -o cat SYSLOG_IDENTIFIER=pftls-rolld MESSAGE_ID=$RES_ID 2>/dev/null | grep -c "$1"
}
for ((i = 0; i < 75; i++)); do
	[ "$(res_names audit-endpoint-problem)" -ge 1 ] && break
	sleep 0.2
done
check "main.cf put back: a recovery entry for the endpoint finding" \
	test "$(res_names audit-endpoint-problem)" -ge 1
check "main.cf put back: pftls_audit_ok 1" wait_metric pftls_audit_ok 1 10
