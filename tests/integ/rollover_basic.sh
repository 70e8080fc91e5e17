#!/bin/bash
# tests/integ/rollover_basic.sh - one complete rollover of an RSA and an
# ECDSA key started by `pftls-roll now` without a daemon (it runs in the
# foreground), against real BIND (signing primary + 2 secondaries) and a
# running Postfix, with a private journald (own mount namespace) capturing
# the events.  Everything is checked from outside our code: main.cf with
# postconf, the live key with openssl s_client, the records with dig, the
# events with journalctl; and the deploy moment against SPEC.md 4's formula,
# computed here from the state's t_pub/t_conf and the TTLs dig reads.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/journald.sh
journald_enter_ns "$0" "$@"
. tests/lib/rollover.sh

roll_begin basic 1 journal
# The old keys' records at TTL 6 (> tlsa_ttl 5): the RRset's TTL before the
# update, not tlsa_ttl, must decide the wait.
roll_publish_old 6 || { fail "old records published with nsupdate"; exit 1; }
OLD_RSA=$(roll_deployed rsa) OLD_EC=$(roll_deployed ecdsa)
OLD_RSA_REC=$(roll_rec "$OLD_RSA") OLD_EC_REC=$(roll_rec "$OLD_EC")
roll_read_ttls
check "dig reads the TTL inputs before the rollover (TLSA 6, SOA TTL 5, MINIMUM 5)" \
	test "$ROLL_TLSA_TTL_BEFORE $ROLL_SOA_TTL $ROLL_SOA_MIN" = "6 5 5"
check "before: the live server presents the old RSA key" \
	test "$(roll_live_spki rsa)" = "$(roll_key_spki "$OLD_RSA")"
reloads0=$(roll_reloads)

# ---- the rollover ------------------------------------------------------------
roll_poll_start "$W/states"
t0=$(date +%s)
"$PFTLS" -c "$ROLL_CF" now >"$W/now.out" 2>"$W/now.err"
rc=$?
roll_poll_stop
check "now (no daemon) runs the whole rollover in the foreground, exit 0" test "$rc" -eq 0
check "now says it runs in the foreground and ends idle" \
	grep -q "running the rollover in the foreground" "$W/now.out"
check "now shows each phase as it goes" \
	bash -c "grep -q '^published: ' '$W/now.out' && grep -q '^propagated: ' '$W/now.out' &&
		grep -q '^deployed: ' '$W/now.out' && grep -q '^verified: ' '$W/now.out' &&
		grep -q '^idle: rollover complete' '$W/now.out'"
check "status afterwards: phase idle, the rollover-completed event kept" \
	test "$(jq_state '.phase + " " + .events[-1].event')" = "idle rollover-completed"

S=$(roll_snapshot "$W/states" '.times.t_reload != null')
NEW_RSA=$(roll_deployed rsa) NEW_EC=$(roll_deployed ecdsa)
NEW_RSA_REC=$(roll_rec "$NEW_RSA") NEW_EC_REC=$(roll_rec "$NEW_EC")
if [ -z "$S" ]; then
	fail "the poller saw the state after the reload (phase deployed or verified)"
	exit 1
fi
ROLL_ID=$(jq -r .rollover <<<"$S")
spki_of() { jq -r --arg a "$1" '.keys[] | select(.algorithm == $a) | .next.spki_sha256' <<<"$S"; }

# ---- main.cf and the keys on disk --------------------------------------------
check "main.cf deploys a new RSA key and a new ECDSA key (postconf)" \
	test "$NEW_RSA" != "$OLD_RSA" -a "$NEW_EC" != "$OLD_EC" -a -f "$NEW_RSA" -a -f "$NEW_EC"
check "the deployed keys are the ones the state named as next" \
	test "$(roll_key_spki "$NEW_RSA") $(roll_key_spki "$NEW_EC")" = "$(spki_of rsa) $(spki_of ecdsa)"
check "the deployed certificates belong to the deployed keys" \
	test "$(openssl x509 -in "$(postconf -c "$ROLL_PF" -h smtpd_tls_cert_file)" -noout -pubkey |
		openssl pkey -pubin -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)" = "$(spki_of rsa)"
check "new private keys are mode 0600" test "$(stat -c %a "$NEW_RSA" "$NEW_EC" | sort -u)" = 600
check "one new key per algorithm on disk, the old ones kept (2 key-*.pem, 2 eckey-*.pem)" \
	test "$(roll_nfiles 'key-*.pem') $(roll_nfiles 'eckey-*.pem') $(roll_nfiles 'cert-*.pem') $(roll_nfiles 'eccert-*.pem')" = "2 2 2 2" -a -f "$OLD_RSA" -a -f "$OLD_EC"
check "no temporary files left in the Postfix directory or the state directory" \
	test -z "$(find "$ROLL_PF" "$ROLL_STATE" -name '.*.tmp*')"
check "Postfix reloaded exactly once (mail log)" test "$(($(roll_reloads) - reloads0))" -eq 1

# ---- the live server (openssl s_client, not our probe) -----------------------
check "the live server presents the new RSA key" test "$(roll_live_spki rsa)" = "$(spki_of rsa)"
check "the live server presents the new ECDSA key" test "$(roll_live_spki ecdsa)" = "$(spki_of ecdsa)"
# DANE check with the records the secondary serves, by openssl itself.
dane_args=()
while read -r rec; do dane_args+=(-dane_tlsa_rrdata "$rec"); done < <(roll_served "$ROLL_NET.2")
check "openssl DANE-validates the live server against the records a secondary serves" \
	bash -c 'timeout 10 openssl s_client -connect "$0" -starttls smtp -tls1_2 -no-CAfile \
		-no-CApath -no-CAstore -dane_tlsa_domain "$1" "${@:2}" </dev/null 2>/dev/null |
		grep -q "^Verification: OK"' "$ROLL_ADDR:25" "$ROLL_HOST" "${dane_args[@]}"

# ---- DNS on all three servers (dig) ------------------------------------------
check "new RSA and ECDSA records served by the primary and both secondaries" \
	roll_all_serve "$NEW_RSA_REC" "$NEW_EC_REC"
check "old records gone from the primary and both secondaries" \
	roll_none_serve "$OLD_RSA_REC" "$OLD_EC_REC"
check "each server serves exactly the 2 new records, signed (RRSIG TLSA)" \
	bash -c 'for a in 1 2 3; do
		n=$(dig +norec +short +time=1 +tries=1 @$0.$a $1 TLSA | grep -c .)
		s=$(dig +norec +dnssec +time=1 +tries=1 @$0.$a $1 TLSA | grep -c "RRSIG[[:space:]]*TLSA")
		[ "$n" -eq 2 ] && [ "$s" -ge 1 ] || exit 1; done' "$ROLL_NET" "$ROLL_NAME"
# The new records join the existing RRset with its TTL (6): changing the
# RRset's TTL would change records the program did not create (rule 3).
check_eq "the new records joined the RRset at its TTL (6), the others' TTL untouched" 6 \
	"$(dig +norec +noall +answer @"$ROLL_NET.2" "$ROLL_NAME" TLSA | awk '{print $2}' | sort -u | paste -sd' ')"

# ---- timing: SPEC.md 4, computed here ----------------------------------------
read -r deploy_min ttl_eff < <(roll_formula "$S" 5 2 1 0)
t_pub=$(jq -r .times.t_pub <<<"$S") t_conf=$(jq -r .times.t_conf <<<"$S")
t_dep=$(jq -r .times.t_deployed <<<"$S") t_rel=$(jq -r .times.t_reload <<<"$S")
mtime=$(stat -c %Y "$ROLL_PF/main.cf")
# The daemon deploys and retires at the ms: compared in ms.
read -r deploy_min_ms _ < <(roll_formula_ms "$S" 5 2 1 0)
mtime_ms=$(roll_mtime_ms "$ROLL_PF/main.cf")
t_rel_ms=$(jq -r .times_ms.t_reload <<<"$S")
check "TTLeff is the old RRset's TTL (6), as the state says too" \
	test "$ttl_eff $(jq -r .ttl_eff <<<"$S")" = "6 6"
check "t_started <= t_pub <= t_conf <= t_deployed <= t_reload" \
	test "$t0" -le "$t_pub" -a "$t_pub" -le "$t_conf" -a "$t_conf" -le "$t_dep" -a "$t_dep" -le "$t_rel"
check "deployed ($t_dep) no earlier than max(T_conf, T_pub) + 2 x TTLeff + publish_safety ($deploy_min)" \
	test "$t_dep" -ge "$deploy_min"
check "main.cf's mtime ($mtime_ms ms) no earlier than the formula ($deploy_min_ms ms)" \
	test "$mtime_ms" -ge "$deploy_min_ms"
check_eq "the state's deploy_at_ms equals the formula in ms, deploy_at its second rounded up" \
	"$deploy_min_ms $(((deploy_min_ms + 999) / 1000))" "$(jq -r '"\(.deploy_at_ms) \(.deploy_at)"' <<<"$S")"
check "main.cf changed at least 2 x 6 + 1 s after now was started" test "$mtime" -ge $((t0 + 13))
check "the state's deploy_at equals the formula" test "$(jq -r .deploy_at <<<"$S")" -eq "$deploy_min"
retired=$(jq_state '[.events[] | select(.event == "retired") | .time] | last')
check "old records withdrawn no earlier than T_reload + retire_delay ($(((t_rel_ms + 3000) / 1000)))" \
	test "$retired" -ge $(((t_rel_ms + 3000) / 1000))
echo "# deploy at t+$((t_dep - t0)) s; the formula allowed t+$((deploy_min - t0)) s"
echo "# main.cf changed $((mtime_ms - deploy_min_ms)) ms after the formula's moment (deploy_at_ms)"

# ---- the audit ---------------------------------------------------------------
run -c "$ROLL_CF" check
check "check (audit) exits 0 after the rollover" test "$RC" -eq 0

# ---- journal (SPEC.md 6) -----------------------------------------------------
journald_sync
journald_read -o json SYSLOG_IDENTIFIER=pftls-rolld >"$W/journal.json"
ev() { jq -c --arg e "$1" 'select(.PFTLS_EVENT == $e)' "$W/journal.json"; }
for e in rollover-started keys-generated records-published server-confirmed \
	propagation-complete deployable deployed reloaded endpoint-verified verified retired \
	rollover-completed; do
	check "journal: event $e logged" test -n "$(ev "$e")"
done
check "journal: every entry has MESSAGE_ID (32 hex), PRIORITY, PFTLS_EVENT, PFTLS_PHASE, PFTLS_ROLLOVER, PFTLS_KEY_SPKI" \
	test "$(jq -r '[(.MESSAGE_ID | test("^[0-9a-f]{32}$")), (.PRIORITY | test("^[0-7]$")),
		has("PFTLS_EVENT"), has("PFTLS_PHASE"), has("PFTLS_ROLLOVER"), has("PFTLS_KEY_SPKI")] | all' \
		"$W/journal.json" | sort -u)" = true
check "journal: one MESSAGE_ID per event kind, each in docs/pftls-roll.catalog" \
	bash -c 'jq -r "[.PFTLS_EVENT, .MESSAGE_ID] | join(\" \")" "$0" | sort -u >"$0.ids";
		[ "$(cut -d" " -f1 "$0.ids" | uniq -d)" = "" ] &&
		[ "$(cut -d" " -f2 "$0.ids" | sort | uniq -d)" = "" ] &&
		while read -r _ id; do grep -q "^-- $id" docs/pftls-roll.catalog || exit 1; done <"$0.ids"' \
	"$W/journal.json"
check "journal: every event from keys-generated to rollover-completed names this rollover" \
	test "$(jq -r 'select(.PFTLS_EVENT != "rollover-started") | .PFTLS_ROLLOVER' "$W/journal.json" | sort -u)" = "$ROLL_ID"
check "journal: phase events carry their phase (records-published/published, deployed/deployed, verified/verified)" \
	test "$(ev records-published | jq -r .PFTLS_PHASE) $(ev deployed | jq -r .PFTLS_PHASE) $(ev verified | jq -r .PFTLS_PHASE)" = "published deployed verified"
check "journal: records-published carries both new keys' SPKI" \
	test "$(ev records-published | jq -r '.PFTLS_KEY_SPKI | if type == "array" then .[] else . end' | sort | tr '\n' ' ')" = \
	"$(printf '%s\n' "$(spki_of rsa)" "$(spki_of ecdsa)" | sort | tr '\n' ' ')"
check "journal: server-confirmed names each of the three servers in PFTLS_SERVER" \
	test "$(ev server-confirmed | jq -r .PFTLS_SERVER | sort -u | tr '\n' ' ')" = \
	"$ROLL_NET.1:53 $ROLL_NET.2:53 $ROLL_NET.3:53 "
check "journal: endpoint-verified names the endpoint in PFTLS_SERVER" \
	test "$(ev endpoint-verified | jq -r .PFTLS_SERVER | sort -u)" = "$ROLL_ADDR:25"
check "journal: phase events have no PFTLS_SERVER" \
	test "$(ev deployed | jq -r 'has("PFTLS_SERVER")')" = false
check "journal: priorities: records-published notice (5), server-confirmed info (6)" \
	test "$(ev records-published | jq -r .PRIORITY) $(ev server-confirmed | jq -r .PRIORITY | sort -u)" = "5 6"
secret=$(sed -n 's/.*secret "\(.*\)".*/\1/p' "$W/bind/keys/pftls.key")
check "no private key or TSIG secret in the journal or the output of now" \
	bash -c '! grep -q -e "PRIVATE KEY" -e "$0" "$1" "$2" "$3"' "$secret" "$W/journal.json" \
	"$W/now.out" "$W/now.err"
