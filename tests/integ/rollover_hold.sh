#!/bin/bash
# tests/integ/rollover_hold.sh - what holds a rollover back, and the manual
# steps that override or abandon it (real BIND and Postfix, `now` running in
# the foreground in the background of the test):
#  - a SIGSTOPped secondary holds the rollover in phase published, past the
#    moment it could otherwise have deployed; with propagation_alert = 2s a
#    warning names the stopped server; after SIGCONT the rollover goes on,
#    and its deploy wait counts from the moment the server caught up;
#  - `deploy` while a server lacks the records, and before the deploy time,
#    is refused with exit 3 and changes nothing (main.cf, files, state, DNS);
#  - `cancel` before deploy withdraws the new records from every server and
#    removes the new key files; the old ones stay live;
#  - `deploy --force-now` deploys at once and logs a forced-deploy warning;
#    `cancel` after that is refused with exit 3 and changes nothing.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/rollover.sh

roll_begin hold 4

# refused_unchanged PID WHAT PATTERN MSGNAME CMD...: with the foreground
# "now" PID paused between its steps (so only CMD could change anything),
# pftls-roll CMD is refused with exit 3 and a message matching PATTERN, and
# main.cf, the files, the state and DNS are as they were.
refused_unchanged() {
	local pid=$1 what=$2 pat=$3 msgname=$4 fp
	shift 4
	roll_pause "$pid" || fail "the foreground now can be paused between its steps"
	fp=$(roll_fingerprint)
	roll_cmd "$@"
	check_eq "$what: refused, exit 3" 3 "$RC"
	check "$msgname" grep -q "$pat" <<<"$ERR"
	check_eq "the refused $1 changed nothing (main.cf, files, state, DNS)" "$fp" "$(roll_fingerprint)"
	roll_resume "$pid"
}

roll_conf "propagation_alert = 2s"
roll_publish_old 5 || { fail "old records published with nsupdate"; exit 1; }
OLD_RSA=$(roll_deployed rsa) OLD_EC=$(roll_deployed ecdsa)
OLD_RSA_REC=$(roll_rec "$OLD_RSA") OLD_EC_REC=$(roll_rec "$OLD_EC")
S3=$ROLL_NET.3:53

run -c "$ROLL_CF" deploy
check_eq "deploy with no rollover under way: refused, exit 3" 3 "$RC"

# ---- a stopped secondary ------------------------------------------------------
kill -STOP "$BIND_S3_PID"
roll_bg now1 now
NOW1=$ROLL_BG_PID
check_eq "with ns3 stopped, the rollover reaches phase published" published \
	"$(roll_wait_phase published propagated -t 30)"
# The alerts once ns1 and ns2 were confirmed: a round that ends after
# propagation_alert (2 s, as long as one server's deadline) may have asked
# ns1 and ns2 before they served the records, and rightly named them then.
alerts_after_confirmed() {
	awk -v a="$ROLL_NET.1:53" -v b="$ROLL_NET.2:53" '
		/server-confirmed/ && index($0, a) { ca = 1 }
		/server-confirmed/ && index($0, b) { cb = 1 }
		ca && cb && /propagation-alert/ { print }' "$W/now1.err"
}
alert=""
for ((i = 0; i < 100; i++)); do # at most 20 s
	alert=$(alerts_after_confirmed | head -1)
	[ -n "$alert" ] && break
	sleep 0.2
done
check "after propagation_alert (2s) a warning names the stopped server ($S3)" \
	grep -q "^pftls-rolld: warning: propagation-alert: .*$S3" <<<"$alert"
check "the alert does not name the servers that serve the records" \
	bash -c '! grep -q -e "$0:53" -e "$1:53" <<<"$2"' "$ROLL_NET.1" "$ROLL_NET.2" \
	"$(alerts_after_confirmed)"

# The waiting now saves the state after each poll round: pause it (not
# while it holds the lock) so that only the refused command could change it.
refused_unchanged "$NOW1" "deploy while ns3 lacks the records" "not yet served by every check server" "deploy says the records are not served everywhere yet" deploy

# Hold until well past the moment the rollover could have deployed had ns3
# not counted: T_pub + 2 x TTLeff (5) + publish_safety (1) + 2.
t_pub=$(jq_state .times.t_pub)
while [ "$(date +%s)" -le $((t_pub + 13)) ]; do sleep 0.5; done
check_eq "still held in phase published after T_pub + 13 s" published "$(roll_phase)"
check_eq "main.cf still deploys the old keys" "$OLD_RSA $OLD_EC" \
	"$(roll_deployed rsa) $(roll_deployed ecdsa)"
check_eq "the live server still presents the old RSA key" \
	"$(roll_key_spki "$OLD_RSA")" "$(roll_live_spki rsa)"
check "ns3 is not confirmed in the state" \
	test "$(jq_state "[.servers_confirmed[] | select(.server == \"$S3\")] | length")" -eq 0
check "more than one alert while held (each poll round that misses the server)" \
	test "$(grep -c 'propagation-alert' "$W/now1.err")" -ge 2

t_cont=$(date +%s)
kill -CONT "$BIND_S3_PID"
check_eq "after SIGCONT the rollover goes on to phase propagated" propagated \
	"$(roll_wait_phase propagated -t 40)"
S=$(roll_json)
check "T_conf ($(jq .times.t_conf <<<"$S")) is not before ns3 was resumed ($t_cont)" \
	test "$(jq .times.t_conf <<<"$S")" -ge "$t_cont"
check "the deploy time counts from T_conf: deploy_at = T_conf + 2 x 5 + 1" \
	test "$(jq .deploy_at <<<"$S")" -eq $(($(jq .times.t_conf <<<"$S") + 11))

# ---- deploy before its time ---------------------------------------------------
refused_unchanged "$NOW1" "deploy before the deploy time" "too early: deploy is safe from" "deploy says when it becomes safe" deploy

# ---- cancel before deploy -----------------------------------------------------
NEXT_RSA=$(jq -r '.keys[] | select(.algorithm == "rsa") | .next.key' <<<"$S")
NEXT_EC=$(jq -r '.keys[] | select(.algorithm == "ecdsa") | .next.key' <<<"$S")
NEXT_RSA_CERT=$(jq -r '.keys[] | select(.algorithm == "rsa") | .next.cert' <<<"$S")
NEXT_RSA_REC=$(roll_rec "$NEXT_RSA") NEXT_EC_REC=$(roll_rec "$NEXT_EC")
check "before cancel the new records are on all three servers" roll_all_serve "$NEXT_RSA_REC" "$NEXT_EC_REC"
roll_cmd cancel
check_eq "cancel before deploy: exit 0" 0 "$RC"
gone=1
for ((i = 0; i < 50; i++)); do
	roll_none_serve "$NEXT_RSA_REC" "$NEXT_EC_REC" && { gone=0; break; }
	sleep 0.2
done
check_eq "cancel withdrew the new records from all three servers" 0 "$gone"
check "the old records are still on all three servers" \
	roll_all_serve "$OLD_RSA_REC" "$OLD_EC_REC"
check "cancel removed the new key and certificate files" \
	test ! -e "$NEXT_RSA" -a ! -e "$NEXT_EC" -a ! -e "$NEXT_RSA_CERT"
check_eq "only the old keys remain on disk" "1 1 1 1" \
	"$(roll_nfiles 'key-*.pem') $(roll_nfiles 'eckey-*.pem') $(roll_nfiles 'cert-*.pem') $(roll_nfiles 'eccert-*.pem')"
check_eq "after cancel: phase idle, main.cf unchanged" "idle $OLD_RSA $OLD_EC" \
	"$(roll_phase) $(roll_deployed rsa) $(roll_deployed ecdsa)"
roll_wait_exit "$NOW1" 20
check_eq "the foreground now that was waiting sees the cancel and ends with exit 1" 1 "$ROLL_EXIT"
check "it says the rollover was cancelled" \
	grep -q "^pftls-roll: the rollover was cancelled before it finished" "$W/now1.err"
check_eq "the live server presents the old keys" \
	"$(roll_key_spki "$OLD_RSA") $(roll_key_spki "$OLD_EC")" "$(roll_live_spki rsa) $(roll_live_spki ecdsa)"

# ---- deploy --force-now, then cancel is refused --------------------------------
roll_bg now2 now
NOW2=$ROLL_BG_PID
check_eq "a second rollover reaches phase propagated" propagated "$(roll_wait_phase propagated -t 40)"
S=$(roll_json)
roll_cmd deploy --force-now
check_eq "deploy --force-now before the deploy time: exit 0" 0 "$RC"
check "deploy --force-now logs a forced-deploy warning" \
	grep -q "^pftls-rolld: warning: forced-deploy: " <<<"$ERR"
t_dep=$(stat -c %Y "$ROLL_PF/main.cf")
check "main.cf changed before the deploy time ($t_dep < $(jq .deploy_at <<<"$S"))" \
	test "$t_dep" -lt "$(jq .deploy_at <<<"$S")"
NEW_RSA=$(roll_deployed rsa) NEW_EC=$(roll_deployed ecdsa)
check_eq "the forced deploy put the planned next keys into main.cf" \
	"$(jq -r '[.keys[].next.key] | join(" ")' <<<"$S")" "$NEW_RSA $NEW_EC"
check_eq "the live server presents the new keys at once" \
	"$(roll_key_spki "$NEW_RSA") $(roll_key_spki "$NEW_EC")" "$(roll_live_spki rsa) $(roll_live_spki ecdsa)"
refused_unchanged "$NOW2" "cancel after deploy" "deployed" "cancel says the new keys are deployed" cancel
roll_wait_exit "$NOW2" 60
check_eq "the waiting now finishes the rollover (exit 0)" 0 "$ROLL_EXIT"
check_eq "phase idle, the forced-deploy event kept in status" "idle 1" \
	"$(jq_state '.phase + " " + ([.events[] | select(.event == "forced-deploy")] | length | tostring)')"
check "old records gone from all three servers" \
	roll_none_serve "$OLD_RSA_REC" "$OLD_EC_REC"
check "the new records on all three servers" \
	roll_all_serve "$(roll_rec "$NEW_RSA")" "$(roll_rec "$NEW_EC")"
