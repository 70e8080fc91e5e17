#!/bin/bash
# tests/integ/rollover_handops.sh - SPEC.md 5 rule 2 against what an
# operator does by hand between two phases (real BIND, a running Postfix, a
# private journald): the records of a key main.cf names or an endpoint
# presents are never withdrawn, whatever the state file remembers.
#  1. `cancel` after a manual deploy: a foreground `now` stopped in phase
#     propagated, `deploy-server-cert` with the rollover's own next files
#     and `postfix reload`; `cancel` and `retire NEXTKEY` are refused with
#     exit 3, a withdrawal-refused journal warning and one line saying what
#     to do, and change nothing (main.cf, files, state, DNS).  Resumed, the
#     rollover recognises the hand deploy (manual-deploy-detected), does not
#     touch main.cf, verifies, and retires the old keys after retire_delay.
#  2. the automatic retire after a hand rollback: the daemon with
#     retire_delay = 25s, in phase verified `deploy-server-cert OLDCERT
#     OLDKEY` (both algorithms) and `postfix reload`; at the retire time the
#     daemon refuses to withdraw the old records (withdrawal-refused, once),
#     holds the rollover in phase failed with a status line saying what to
#     do, and the old records stay on every server; `retire OLDKEY` is
#     refused too; so is `cancel` while a submission port pinned by master.cf
#     overrides presents the new keys; without it `cancel` withdraws only the
#     new keys' records (an unreachable verify endpoint does not stop it).
#  3. a key that is neither the old nor the new one deployed by hand while
#     the rollover waits to deploy: the rollover holds in phase failed and
#     never deploys over it; `cancel` withdraws the new keys' records.
#
# HANDOPS_SECTIONS="2" (or "3", "2 3") runs only those sections (to see one
# alone against a build where section 1 leaves main.cf naming deleted files).
set -u
cd "$(dirname "$0")/../.."
. tests/lib/journald.sh
journald_enter_ns "$0" "$@"
. tests/lib/rollover.sh

[ -x "$PFTLS_DAEMON" ] || { fail "pftls-rolld is built ($PFTLS_DAEMON)"; exit 1; }
WR_ID=65143f200ca34849adfe0a0abbba9bf4 # withdrawal-refused
MD_ID=c39a69eed6a0482fbe5f7715f968c068 # manual-deploy-detected

roll_begin handops 9 journal
roll_publish_old 5 || { fail "old records published with nsupdate"; exit 1; }

# key|cert ALG ROLE [STATE]: a file the state names (ROLE next|old).
sfile() { jq -r --arg a "$2" --arg r "$3" --arg f "$1" \
	'.keys[] | select(.algorithm == $a) | .[$r][$f]' <<<"${4:-$(roll_json)}"; }
# The journal entries of one event (JSON lines), after a sync.
events() {
	journald_sync
	journald_read -o json SYSLOG_IDENTIFIER=pftls-rolld PFTLS_EVENT="$1"
}
# uses RSAKEY ECKEY: an extended regex for "KEY: Postfix uses this key
# (PARAM)", either key (the first record in use is refused).
uses() {
	echo "($1: Postfix uses this key \(smtpd_tls_key_file\)|$2: Postfix uses this key \(smtpd_tls_eckey_file\))"
}
# files_exist FILE...: every one is there.
files_exist() { local f; for f in "$@"; do [ -f "$f" ] || return 1; done; }
# hand_deploy STATE ROLE: what an operator types, for both algorithms.
hand_deploy() {
	local a
	for a in rsa ecdsa; do
		"$PFTLS" -C "$ROLL_PF" deploy-server-cert "$(sfile cert $a "$2" "$1")" \
			"$(sfile key $a "$2" "$1")" >/dev/null 2>"$W/hand.err" || return 1
	done
	postfix -c "$ROLL_PF" reload >/dev/null 2>&1
}

SECTIONS=${HANDOPS_SECTIONS:-1 2 3}
# ---- 1. cancel after a manual deploy of the next keys ----------------------------
if [[ " $SECTIONS " == *" 1 "* ]]; then
OLD_RSA=$(roll_deployed rsa) OLD_EC=$(roll_deployed ecdsa)
OLD_RECS=("$(roll_rec "$OLD_RSA")" "$(roll_rec "$OLD_EC")")
roll_bg now1 now
NOW1=$ROLL_BG_PID
check_eq "1: the rollover reaches phase propagated" propagated "$(roll_wait_phase propagated -t 40)"
roll_pause "$NOW1" || fail "1: the foreground now can be paused between its steps"
S1=$(roll_json)
NEXT_RSA=$(sfile key rsa next "$S1") NEXT_EC=$(sfile key ecdsa next "$S1")
NEXT_FILES=("$NEXT_RSA" "$NEXT_EC" "$(sfile cert rsa next "$S1")" "$(sfile cert ecdsa next "$S1")")
NEXT_RECS=("$(roll_rec "$NEXT_RSA")" "$(roll_rec "$NEXT_EC")")
hand_deploy "$S1" next || fail "1: deploy-server-cert with the next files: $(cat "$W/hand.err")"
check_eq "1: by hand, main.cf deploys the rollover's next keys" "$NEXT_RSA $NEXT_EC" \
	"$(roll_deployed rsa) $(roll_deployed ecdsa)"
maincf=$(md5sum <"$ROLL_PF/main.cf")
fp=$(roll_fingerprint)
roll_cmd cancel
check_eq "1: cancel after the next keys were deployed by hand: refused, exit 3" 3 "$RC"
check "1: one line says which key main.cf names and what to do: $(grep 'refusing' <<<"$ERR" | head -1)" \
	grep -qE "^pftls-roll: refusing to cancel and withdraw $(uses "$NEXT_RSA" "$NEXT_EC"); .*let the rollover finish.*deploy-server-cert" <<<"$ERR"
check_eq "1: the refused cancel changed nothing (main.cf, files, state, DNS)" "$fp" "$(roll_fingerprint)"
check "1: the new keys' records are still served by every server (dig)" roll_all_serve "${NEXT_RECS[@]}"
check "1: the old keys' records too" roll_all_serve "${OLD_RECS[@]}"
check "1: the new key and certificate files are still there" files_exist "${NEXT_FILES[@]}"
check_eq "1: phase still propagated" propagated "$(roll_phase)"
run -c "$ROLL_CF" retire "$NEXT_EC"
check_eq "1: retire of the hand-deployed ECDSA key: refused, exit 3" 3 "$RC"
check "1: it names the parameter: $(grep refusing <<<"$ERR" | head -1)" \
	grep -q "refusing to retire $NEXT_EC: Postfix uses this key (smtpd_tls_eckey_file); .*deploy another key first" <<<"$ERR"
check_eq "1: the refused retire changed nothing either" "$fp" "$(roll_fingerprint)"
check_eq "1: journal: withdrawal-refused at warning priority with its MESSAGE_ID, each time" \
	"$WR_ID 4,$WR_ID 4" \
	"$(events withdrawal-refused | jq -r '.MESSAGE_ID + " " + .PRIORITY' | paste -sd,)"

roll_resume "$NOW1"
roll_wait_exit "$NOW1" 60
check_eq "1: resumed, the rollover carries the hand deploy on to the end (exit 0, idle)" "0 idle" \
	"$ROLL_EXIT $(roll_phase)"
check_eq "1: journal: manual-deploy-detected once, with its MESSAGE_ID" "$MD_ID" \
	"$(events manual-deploy-detected | jq -r .MESSAGE_ID | paste -sd,)"
check "1: it went through phase verified (now's progress lines)" \
	grep -q '^verified: ' "$W/now1.out"
check_eq "1: main.cf is as the operator left it (no deploy over it, no rollback)" "$maincf" \
	"$(md5sum <"$ROLL_PF/main.cf")"
check_eq "1: no rollback-done event" "" "$(events rollback-done | jq -r .MESSAGE)"
check_eq "1: the live server presents the new keys" \
	"$(roll_key_spki "$NEXT_RSA") $(roll_key_spki "$NEXT_EC")" "$(roll_live_spki rsa) $(roll_live_spki ecdsa)"
check "1: the new records on every server" roll_all_serve "${NEXT_RECS[@]}"
check "1: the old records withdrawn from every server after retire_delay" roll_none_serve "${OLD_RECS[@]}"
fi

# ---- 2. the automatic retire after a hand rollback --------------------------------
if [[ " $SECTIONS " == *" 2 "* ]]; then
roll_conf "retire_delay = 25s"
roll_notify_start "$W/notify.log" || { fail "the notify listener starts"; exit 1; }
roll_daemon_start || { fail "2: the daemon starts"; exit 1; }
D=$ROLL_DAEMON_PID
roll_cmd now
check_eq "2: now hands a second rollover to the daemon" 0 "$RC"
check_eq "2: it reaches phase verified" verified "$(roll_wait_phase verified -t 60)"
S2=$(roll_json)
OLD2_RSA=$(sfile key rsa old "$S2") OLD2_EC=$(sfile key ecdsa old "$S2")
OLD2_RECS=("$(roll_rec "$OLD2_RSA")" "$(roll_rec "$OLD2_EC")")
NEW2_RSA=$(sfile key rsa next "$S2") NEW2_EC=$(sfile key ecdsa next "$S2")
NEW2_FILES=("$NEW2_RSA" "$NEW2_EC" "$(sfile cert rsa next "$S2")" "$(sfile cert ecdsa next "$S2")")
NEW2_RECS=("$(roll_rec "$NEW2_RSA")" "$(roll_rec "$NEW2_EC")")
hand_deploy "$S2" old || fail "2: deploy-server-cert with the old files: $(cat "$W/hand.err")"
check_eq "2: by hand, main.cf deploys the old keys again" "$OLD2_RSA $OLD2_EC" \
	"$(roll_deployed rsa) $(roll_deployed ecdsa)"
maincf=$(md5sum <"$ROLL_PF/main.cf")
# In ms: T_reload is stamped to the ms and the retire comes at T_reload +
# retire_delay exactly, up to a second before times.t_reload (rounded up) + 25.
t_retire=$(($(jq .times_ms.t_reload <<<"$S2") + 25000))
check_eq "2: at the retire time (t_reload + 25 s) the daemon holds the rollover in phase failed" \
	failed "$(roll_wait_phase failed idle -t 45)"
S=$(roll_json)
t_now_ms=$((${EPOCHREALTIME/./} / 1000))
check "2: not before the retire time ($t_now_ms >= $t_retire ms)" test "$t_now_ms" -ge "$t_retire"
check_eq "2: failed in verified" verified "$(jq -r .failed_from <<<"$S")"
check "2: the status says what to do: $(jq -r .failed_reason <<<"$S")" \
	grep -qE "refusing to retire $(uses "$OLD2_RSA" "$OLD2_EC").*deploy-server-cert" \
	<<<"$(jq -r .failed_reason <<<"$S")"
check "2: the old records are still served by every server (dig)" roll_all_serve "${OLD2_RECS[@]}"
check "2: the old key files are still there" files_exist "$OLD2_RSA" "$OLD2_EC"
check_eq "2: main.cf unchanged since the hand rollback" "$maincf" "$(md5sum <"$ROLL_PF/main.cf")"
check_eq "2: the live server presents the old keys" \
	"$(roll_key_spki "$OLD2_RSA") $(roll_key_spki "$OLD2_EC")" "$(roll_live_spki rsa) $(roll_live_spki ecdsa)"
sleep 3 # the daemon must not try again and again
check_eq "2: journal: one withdrawal-refused from the daemon, warning, with its MESSAGE_ID" \
	"$D $WR_ID 4" \
	"$(events withdrawal-refused | jq -r --arg d "$D" 'select(._PID == $d) | ._PID + " " + .MESSAGE_ID + " " + .PRIORITY' | paste -sd,)"
check "2: STATUS= says the rollover is held and why" \
	grep -q "^STATUS=failed in verified: refusing to retire" "$W/notify.log"
fp=$(roll_fingerprint)
run -c "$ROLL_CF" retire "$OLD2_RSA"
check_eq "2: retire of the old key by hand: refused, exit 3, nothing changed" "3 $fp" "$RC $(roll_fingerprint)"

# A key main.cf does not name but an endpoint presents blocks too: a
# submission service on 587 pinned to the new keys by master.cf overrides.
MASTER=$ROLL_PF/master.cf
cp "$MASTER" "$W/master.cf.orig"
{
	echo "$ROLL_ADDR:587 inet n - n - - smtpd"
	echo "  -o smtpd_tls_key_file=$NEW2_RSA -o smtpd_tls_cert_file=${NEW2_FILES[2]}"
	echo "  -o smtpd_tls_eckey_file=$NEW2_EC -o smtpd_tls_eccert_file=${NEW2_FILES[3]}"
} >>"$MASTER"
postfix -c "$ROLL_PF" reload >/dev/null 2>&1
for ((i = 0; i < 50; i++)); do ss -ltn "src $ROLL_ADDR" | grep -q ":587 " && break; sleep 0.1; done
roll_conf "retire_delay = 25s" "verify_endpoints = $ROLL_ADDR:25, $ROLL_ADDR:587"
fp=$(roll_fingerprint)
roll_cmd cancel
check_eq "2: cancel while port 587 presents the new keys (master.cf -o, not main.cf): refused, exit 3, nothing changed" \
	"3 $fp" "$RC $(roll_fingerprint)"
check "2: it names the endpoint: $(grep refusing <<<"$ERR" | head -1)" \
	grep -qE "refusing to cancel and withdraw ($NEW2_RSA|$NEW2_EC): endpoint $ROLL_ADDR:587 presents this key" <<<"$ERR"
cp "$W/master.cf.orig" "$MASTER"
postfix -c "$ROLL_PF" reload >/dev/null 2>&1
for ((i = 0; i < 50; i++)); do ss -ltn "src $ROLL_ADDR" | grep -q ":587 " || break; sleep 0.1; done

# An endpoint nobody answers on does not by itself block a withdrawal
# main.cf permits.
roll_conf "retire_delay = 25s" "verify_endpoints = $ROLL_ADDR:25, $ROLL_ADDR:2525"
roll_cmd cancel
check_eq "2: cancel after the hand rollback (one verify endpoint unreachable): exit 0" 0 "$RC"
gone=1
for ((i = 0; i < 50; i++)); do
	roll_none_serve "${NEW2_RECS[@]}" && { gone=0; break; }
	sleep 0.2
done
check_eq "2: cancel withdrew the new keys' records from every server" 0 "$gone"
check "2: and only those: the old (deployed) keys' records stay everywhere" roll_all_serve "${OLD2_RECS[@]}"
check "2: the new key files are removed, the old ones kept" \
	bash -c '! ls "$@" 2>/dev/null | grep -q . && [ -f "'"$OLD2_RSA"'" ] && [ -f "'"$OLD2_EC"'" ]' _ "${NEW2_FILES[@]}"
check_eq "2: phase idle, main.cf untouched, the daemon still running" "idle $maincf 0" \
	"$(roll_phase) $(md5sum <"$ROLL_PF/main.cf") $(kill -0 "$D" 2>/dev/null; echo $?)"
fi

# ---- 3. a key that is neither the old nor the new one, deployed before the deploy --
# The rollover never deploys over it: it holds in phase failed, main.cf as
# the operator left it; cancel then withdraws the new keys' records.
if [[ " $SECTIONS " == *" 3 "* ]]; then
[ -n "${D:-}" ] && kill -TERM "$D" && roll_wait_exit "$D" 20
roll_conf
FOREIGN_KEY=$ROLL_PF/key-20200101-000000.pem FOREIGN_CERT=$ROLL_PF/cert-20200101-000000.pem
(umask 077 && openssl req -x509 -newkey rsa:2048 -nodes -keyout "$FOREIGN_KEY" \
	-out "$FOREIGN_CERT" -subj "/CN=$ROLL_HOST" -days 30 2>/dev/null)
roll_bg now3 now
NOW3=$ROLL_BG_PID
check_eq "3: a third rollover (foreground) reaches phase propagated" propagated \
	"$(roll_wait_phase propagated -t 40)"
roll_pause "$NOW3" || fail "3: the foreground now can be paused between its steps"
S3=$(roll_json)
NEW3_RECS=("$(roll_rec "$(sfile key rsa next "$S3")")" "$(roll_rec "$(sfile key ecdsa next "$S3")")")
"$PFTLS" -C "$ROLL_PF" deploy-server-cert "$FOREIGN_CERT" "$FOREIGN_KEY" >/dev/null 2>"$W/hand.err" ||
	fail "3: deploy-server-cert of a foreign key: $(cat "$W/hand.err")"
postfix -c "$ROLL_PF" reload >/dev/null 2>&1
maincf=$(md5sum <"$ROLL_PF/main.cf")
roll_cmd deploy --force-now
check_eq "3: deploy with a foreign key in main.cf: exit 1, held in phase failed (in deployable)" \
	"1 failed deployable" "$RC $(jq -r '.phase + " " + .failed_from' <<<"$(roll_json)")"
check "3: the reason names the key and what to do: $(jq -r .failed_reason <<<"$(roll_json)")" \
	grep -q "^held: main.cf deploys the smtpd rsa key $FOREIGN_KEY, neither the old nor the new one.*cancel" \
	<<<"$(jq -r .failed_reason <<<"$(roll_json)")"
check_eq "3: main.cf as the operator left it" "$maincf" "$(md5sum <"$ROLL_PF/main.cf")"
check_eq "3: the live server presents the operator's RSA key" "$(roll_key_spki "$FOREIGN_KEY")" \
	"$(roll_live_spki rsa)"
roll_resume "$NOW3"
roll_wait_exit "$NOW3" 20
check_eq "3: the waiting foreground now ends with exit 1 (failed)" 1 "$ROLL_EXIT"
roll_cmd cancel
check_eq "3: cancel: exit 0, phase idle, main.cf untouched, the operator's key files kept" \
	"0 idle $maincf 0" \
	"$RC $(roll_phase) $(md5sum <"$ROLL_PF/main.cf") $(files_exist "$FOREIGN_KEY" "$FOREIGN_CERT"; echo $?)"
gone=1
for ((i = 0; i < 50; i++)); do
	roll_none_serve "${NEW3_RECS[@]}" && { gone=0; break; }
	sleep 0.2
done
check_eq "3: cancel withdrew the new keys' records from every server" 0 "$gone"
fi
