#!/bin/bash
# tests/integ/rollover_failure.sh - rollovers that fail, against real BIND
# and a running Postfix; each must stop in phase failed with the previous
# key live (openssl s_client) and its records intact (dig), say why in
# `status`, and be left by `now` (resume) or `cancel` as appropriate:
#  1. the reload fails (reload_command = /bin/false): `now` again resumes
#     and fails the same way; `cancel` (nothing was deployed) withdraws the
#     new records and removes the new keys;
#  2. the verification fails: a submission service on port 587 pins the old
#     key with master.cf "-o smtpd_tls_*" overrides (which deploy does not
#     touch), and verify_endpoints includes it: Postfix was reloaded with the
#     new keys, so the rollback must put the old ones back live on port 25;
#     the override then set to keys of another server (what a name shared
#     by several MX hosts gives the default verify_endpoints) fails the same
#     way, and the message says to set verify_endpoints; with the override
#     removed, `now` resumes with the same next keys;
#  3. withdrawing the old records is refused by the DNS server (a TSIG key
#     that may not change the name): failed after deploy, so `cancel` is
#     refused with exit 3 and changes nothing; with the right key `now`
#     finishes the rollover.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/rollover.sh

roll_begin failure 5
roll_publish_old 5 || { fail "old records published with nsupdate"; exit 1; }
roll_read_ttls
OLD_RSA=$(roll_deployed rsa) OLD_EC=$(roll_deployed ecdsa)
OLD_RSA_REC=$(roll_rec "$OLD_RSA") OLD_EC_REC=$(roll_rec "$OLD_EC")
OLD_SPKI="$(roll_key_spki "$OLD_RSA") $(roll_key_spki "$OLD_EC")"
next_of() { jq -r --arg a "$2" '.keys[] | select(.algorithm == $a) | .next.key' <<<"$1"; }

# The checks of a rollover stopped in phase failed after trying to deploy.
failed_checks() {
	local what=$1 S=$2
	check_eq "$what: phase failed, failed in deployable (main.cf restored, resume deploys again)" \
		"failed deployable" "$(jq -r '.phase + " " + .failed_from' <<<"$S")"
	check_eq "$what: main.cf deploys the old keys again" "$OLD_RSA $OLD_EC" \
		"$(roll_deployed rsa) $(roll_deployed ecdsa)"
	check_eq "$what: the live server presents the old keys (s_client)" "$OLD_SPKI" \
		"$(roll_live_spki rsa) $(roll_live_spki ecdsa)"
	check "$what: the old records are intact on all three servers" \
		roll_all_serve "$OLD_RSA_REC" "$OLD_EC_REC"
	check "$what: the new records stay published (a resume needs them)" \
		roll_all_serve "$(roll_rec "$(next_of "$S" rsa)")" "$(roll_rec "$(next_of "$S" ecdsa)")"
	run -c "$ROLL_CF" status
	check "$what: status explains: 'phase: failed (in deployable: ...)'" \
		grep -q "^phase: *failed (in deployable: .*$3" <<<"$OUT"
}

# ---- 1. the reload fails -------------------------------------------------------
roll_conf "reload_command = /bin/false"
run -c "$ROLL_CF" now
check_eq "1: now with a failing reload command exits 1" 1 "$RC"
check "1: now's last line says why" grep -q "^pftls-roll: failed in deployable: .*/bin/false" <<<"$(tail -1 <<<"$ERR")"
ERR1=$ERR
S1=$(roll_json)
failed_checks "1 (reload fails)" "$S1" "/bin/false"
check "1: the failure is logged at error priority (stderr without a journal)" \
	grep -q "^pftls-rolld: error: rollover-failed: " <<<"$ERR1"
check "1: the failed_reason in status --json names the reload command" \
	grep -q "/bin/false" <<<"$(jq -r .failed_reason <<<"$S1")"

run -c "$ROLL_CF" now
check_eq "1: now again resumes the rollover and fails the same way (exit 1, same next keys)" \
	"1 failed $(next_of "$S1" rsa)" "$RC $(roll_phase) $(next_of "$(roll_json)" rsa)"
check "1: the resume said so" grep -q "resuming after a failure" <<<"$OUT"

roll_cmd cancel
check_eq "1: cancel after a failed deploy is allowed (nothing is deployed): exit 0" 0 "$RC"
gone=1
for ((i = 0; i < 50; i++)); do
	roll_none_serve "$(roll_rec "$(next_of "$S1" rsa)")" "$(roll_rec "$(next_of "$S1" ecdsa)")" &&
		{ gone=0; break; }
	sleep 0.2
done
check_eq "1: cancel withdrew the new records from all three servers" 0 "$gone"
check "1: cancel removed the new keys" test ! -e "$(next_of "$S1" rsa)" -a ! -e "$(next_of "$S1" ecdsa)"
check "1: the old records are still intact" roll_all_serve "$OLD_RSA_REC" "$OLD_EC_REC"
check_eq "1: phase idle, old keys deployed and live" "idle $OLD_RSA $OLD_SPKI" \
	"$(roll_phase) $(roll_deployed rsa) $(roll_live_spki rsa) $(roll_live_spki ecdsa)"

# ---- 2. the verification fails ---------------------------------------------------
MASTER=$ROLL_PF/master.cf
cp "$MASTER" "$W/master.cf.orig"
{
	echo "$ROLL_ADDR:587 inet n - n - - smtpd"
	echo "  -o smtpd_tls_key_file=$OLD_RSA -o smtpd_tls_cert_file=$(postconf -c "$ROLL_PF" -h smtpd_tls_cert_file)"
	echo "  -o smtpd_tls_eckey_file=$OLD_EC -o smtpd_tls_eccert_file=$(postconf -c "$ROLL_PF" -h smtpd_tls_eccert_file)"
} >>"$MASTER"
postfix -c "$ROLL_PF" reload >/dev/null 2>&1
for ((i = 0; i < 50; i++)); do ss -ltn "src $ROLL_ADDR" | grep -q ":587 " && break; sleep 0.1; done
check_eq "2: the submission service on 587 presents the old keys" "$OLD_SPKI" \
	"$(roll_live_spki rsa "$ROLL_ADDR:587") $(roll_live_spki ecdsa "$ROLL_ADDR:587")"
roll_conf "verify_endpoints = $ROLL_ADDR:25, $ROLL_ADDR:587"
reloads0=$(roll_reloads)
run -c "$ROLL_CF" now
check_eq "2: now with an endpoint keeping the old key exits 1" 1 "$RC"
ERR2=$ERR
S2=$(roll_json)
failed_checks "2 (verification fails)" "$S2" "verification failed: $ROLL_ADDR:587 presents the old"
check "2: Postfix was reloaded for the deploy and again for the rollback" \
	test $(($(roll_reloads) - reloads0)) -ge 2
check "2: verification-failed (error), rollback-done and rollover-failed were logged" \
	bash -c 'grep -q "^pftls-rolld: error: verification-failed: .*587" <<<"$0" &&
		grep -q "^pftls-rolld: [a-z]*: rollback-done: " <<<"$0" &&
		grep -q "^pftls-rolld: error: rollover-failed: " <<<"$0"' "$ERR2"

# The same endpoint with keys that are neither ours, old nor new: what the
# default verify_endpoints meets when several MX hosts share the name.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$W/other.key" -out "$W/other.crt" \
	-subj /CN=other.example.test -days 2 >/dev/null 2>&1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/other-ec.key" \
	-out "$W/other-ec.crt" -subj /CN=other.example.test -days 2 >/dev/null 2>&1
cp "$W/master.cf.orig" "$MASTER"
{
	echo "$ROLL_ADDR:587 inet n - n - - smtpd"
	echo "  -o smtpd_tls_key_file=$W/other.key -o smtpd_tls_cert_file=$W/other.crt"
	echo "  -o smtpd_tls_eckey_file=$W/other-ec.key -o smtpd_tls_eccert_file=$W/other-ec.crt"
} >>"$MASTER"
postfix -c "$ROLL_PF" reload >/dev/null 2>&1
sleep 0.5
run -c "$ROLL_CF" now
check_eq "2: an endpoint presenting another server's keys: the resumed rollover fails again, same next keys" \
	"1 failed $(next_of "$S2" rsa)" "$RC $(roll_phase) $(next_of "$(roll_json)" rsa)"
check "2: the failure says the key is neither new nor old, and names verify_endpoints" \
	grep -q "$ROLL_ADDR:587 presents an rsa key [0-9a-f]*\.\.\. that is neither the new .* nor the old one: .*set verify_endpoints" \
	<<<"$(jq -r .failed_reason <<<"$(roll_json)")"
check_eq "2: after that rollback too, the live server on 25 presents the old keys" "$OLD_SPKI" \
	"$(roll_live_spki rsa) $(roll_live_spki ecdsa)"

cp "$W/master.cf.orig" "$MASTER"
echo "$ROLL_ADDR:587 inet n - n - - smtpd" >>"$MASTER"
postfix -c "$ROLL_PF" reload >/dev/null 2>&1
sleep 0.5

# ---- 3. retire refused by the DNS server, then finished -----------------------------
# limited-key may only change TLSA records at limited.example.test: BIND
# answers REFUSED to the deletes of the old records.
roll_conf "verify_endpoints = $ROLL_ADDR:25, $ROLL_ADDR:587" \
	"dns_tsig_key_file = $W/bind/keys/limited.key"
run -c "$ROLL_CF" now
S3=$(roll_json)
check_eq "3: with the override gone, now resumes the same rollover (same next keys)" \
	"$(next_of "$S2" rsa) $(next_of "$S2" ecdsa)" "$(next_of "$S3" rsa) $(next_of "$S3" ecdsa)"
check_eq "3: a refused withdrawal stops the rollover after deploy: exit 1, failed in verified" \
	"1 failed verified" "$RC $(jq -r '.phase + " " + .failed_from' <<<"$S3")"
check "3: status --json says the server refused" grep -qi "refused" <<<"$(jq -r .failed_reason <<<"$S3")"
check_eq "3: the new keys stay deployed and live on 25 and 587" \
	"$(roll_key_spki "$(next_of "$S3" rsa)") $(roll_key_spki "$(next_of "$S3" rsa)")" \
	"$(roll_live_spki rsa) $(roll_live_spki rsa "$ROLL_ADDR:587")"
check "3: the old records are still published (not withdrawn)" roll_all_serve "$OLD_RSA_REC" "$OLD_EC_REC"
fp=$(roll_fingerprint)
roll_cmd cancel
check_eq "3: cancel after deploy (phase failed, in verified): refused, exit 3" 3 "$RC"
check_eq "3: the refused cancel changed nothing (main.cf, files, state, DNS)" "$fp" "$(roll_fingerprint)"

roll_conf "verify_endpoints = $ROLL_ADDR:25, $ROLL_ADDR:587"
run -c "$ROLL_CF" now
check_eq "3: with the right TSIG key, now finishes the rollover (exit 0, idle)" "0 idle" "$RC $(roll_phase)"
roll_check_done "$OLD_RSA" "$OLD_EC" "$S2"
