#!/bin/bash
# tests/integ/acme_refusals.sh - CA-issued certificates (SPEC.md 8) through
# a certificate_command that is a throw-away CA (tests/lib/test_ca.py: a
# root, an intermediate, a rogue root), with real BIND, Postfix and
# journald, checked from outside (postconf, openssl s_client, dig,
# journalctl):
#   1. a rollover (RSA + ECDSA) whose CA refuses, then returns a chain for
#      another key, for other names, an expired one, one not chaining to
#      certificate_ca_file: each refused with its own message in the
#      journal (certificate-refused, error), main.cf unchanged, the old keys
#      live, no CA file left behind; then the CA behaves and the same
#      rollover completes: both live certificates chain to the root and name
#      the MX, the new keys' 3 1 1 records served, the old ones gone;
#   2. the command's environment and argv: PATH and the five PFTLS_*
#      variables only, no private key, no TSIG secret;
#   3. renew: a new serial for the same key live on both algorithms, the
#      TLSA RRset byte-for-byte the same on every server, main.cf names the
#      new files; renew without certificate_command: exit 2, one line;
#   4. smtpd_tls_chain_files: renew writes one key+chain file per algorithm
#      (mode 0600), main.cf's list names them, the server presents them;
#      then a rollover deploys its next keys that way;
#   5. renewal timing: certificates valid 40 s, certificate_renew_before
#      50%: the daemon renews each on its own 20 s after notBefore, not
#      before; a renewal failing when due is an error (certificate-expiring).
set -u
cd "$(dirname "$0")/../.."
. tests/lib/journald.sh
journald_enter_ns "$0" "$@"
. tests/lib/rollover.sh
. tests/lib/acme.sh

roll_begin acme_refusals 7 journal
acme_test_ca || { fail "the test CA is made"; exit 1; }
ca_mode() { echo "$1" >"$CA/mode"; }
roll_conf "$CERTCMD" "$CAFILE"

events() { acme_events "$1"; }
nevents() { events "$1" | grep -c .; }
# The CA files of ours in the Postfix directory.
ca_files() { find "$ROLL_PF" -maxdepth 1 -name '*-ca-*.pem' | sort; }
# live_verify ALG: the live chain against the test root: "OK" or the error.
live_verify() { acme_live_verify "$1" "$CA/root.pem"; }
live_serial() { acme_live_serial "$1"; }
served_all() { local a; for a in 1 2 3; do echo "ns$a"; roll_served "$ROLL_NET.$a"; done; }

roll_publish_old 5 || { fail "old records published with nsupdate"; exit 1; }
OLD_RSA=$(roll_deployed rsa) OLD_EC=$(roll_deployed ecdsa)
OLD_RSA_REC=$(roll_rec "$OLD_RSA") OLD_EC_REC=$(roll_rec "$OLD_EC")
MAINCF0=$(md5sum <"$ROLL_PF/main.cf")

# ---- 1. refusals during a rollover ------------------------------------------
# "now" runs the rollover in the foreground and retries a failed
# certificate with back-off; each bad mode is one run of it, interrupted
# once its refusal is in the journal (a new run retries at once).
NOW_PID=
now_until_refused() { # MODE WANT-IN-MESSAGE
	local n0 i msg
	ca_mode "$1"
	n0=$(nevents certificate-refused)
	"$PFTLS" -c "$ROLL_CF" now >>"$W/now.out" 2>>"$W/now.err" &
	NOW_PID=$!
	for ((i = 0; i < 300; i++)); do
		[ "$(nevents certificate-refused)" -gt "$n0" ] && break
		sleep 0.2
	done
	kill -INT "$NOW_PID" 2>/dev/null
	wait "$NOW_PID" 2>/dev/null
	msg=$(events certificate-refused | tail -1 | jq -r .MESSAGE)
	check "1: CA mode $1: refused with its message ($2)" grep -q -e "$2" <<<"$msg"
	check "1: CA mode $1: nothing deployed (main.cf unchanged), no CA file written" \
		test "$(md5sum <"$ROLL_PF/main.cf")" = "$MAINCF0" -a -z "$(ca_files)"
	check "1: CA mode $1: the old keys stay live" \
		test "$(roll_live_spki rsa) $(roll_live_spki ecdsa)" = \
		"$(roll_key_spki "$OLD_RSA") $(roll_key_spki "$OLD_EC")"
	echo "# $1: $msg" | cut -c1-300
}
now_until_refused refuse "exited with status 1: urn:ietf:params:acme:error:rejectedIdentifier: test CA refuses"
now_until_refused otherkey "(chain refused: not-our-key)"
now_until_refused othernames "(chain refused: names)"
now_until_refused expired "(chain refused: expired)"
now_until_refused untrusted "(chain refused: untrusted)"
check "1: certificate-refused is an error (priority 3) with its MESSAGE_ID" \
	test "$(events certificate-refused | jq -r '.PRIORITY + " " + .MESSAGE_ID' | sort -u)" = \
	"3 ee183e0251594209a857179ddaec63f7"
check "1: status shows the last refusal among its events" \
	bash -c "'$PFTLS' -c '$ROLL_CF' status --json | jq -r '.events[].event' | grep -qx certificate-refused"
check "1: the rollover waits in phase deployable, not failed" test "$(roll_phase)" = deployable

ca_mode ok
t0=$(date +%s)
timeout 120 "$PFTLS" -c "$ROLL_CF" now >>"$W/now.out" 2>>"$W/now.err"
rc=$?
echo "# rollover after the CA behaves: $(($(date +%s) - t0)) s"
check "1: once the CA behaves the same rollover completes (now: exit 0, idle)" \
	test "$rc" -eq 0 -a "$(roll_phase)" = idle
NEW_RSA=$(roll_deployed rsa) NEW_EC=$(roll_deployed ecdsa)
CERT_RSA=$(postconf -c "$ROLL_PF" -h smtpd_tls_cert_file)
CERT_EC=$(postconf -c "$ROLL_PF" -h smtpd_tls_eccert_file)
check "1: main.cf deploys new keys with CA files of ours (cert-*-ca-*.pem, eccert-*-ca-*.pem)" \
	bash -c "[ '$NEW_RSA' != '$OLD_RSA' ] && [ '$NEW_EC' != '$OLD_EC' ] &&
		[[ \$(basename '$CERT_RSA') == cert-*-ca-*.pem ]] && [[ \$(basename '$CERT_EC') == eccert-*-ca-*.pem ]]"
check_eq "1: the live RSA certificate chains to the root and names the MX" OK "$(live_verify rsa)"
check_eq "1: the live ECDSA certificate chains to the root and names the MX" OK "$(live_verify ecdsa)"
check "1: the live keys are the new ones" \
	test "$(roll_live_spki rsa) $(roll_live_spki ecdsa)" = \
	"$(roll_key_spki "$NEW_RSA") $(roll_key_spki "$NEW_EC")"
check "1: the new keys' 3 1 1 records served on all three servers" \
	roll_all_serve "$(roll_rec "$NEW_RSA")" "$(roll_rec "$NEW_EC")"
check "1: the old keys' records gone from all three servers" \
	roll_none_serve "$OLD_RSA_REC" "$OLD_EC_REC"
check "1: certificate-obtained logged for each algorithm (info, 6)" \
	test "$(events certificate-obtained | jq -r .PRIORITY | tr -d '\n')" = 66
check "1: no temporary CSR directory left in the state directory" \
	test -z "$(find "$ROLL_STATE" -name 'cert.*')"

# ---- 2. the command's environment and argv ----------------------------------
secret=$(sed -n 's/.*secret "\(.*\)".*/\1/p' "$W/bind/keys/pftls.key")
check "2: the command's environment is PATH and the five PFTLS_* variables only" \
	test "$(grep -v -e '^argv=' -e '^--$' "$CA/env.log" | cut -d= -f1 | sort -u | tr '\n' ' ')" = \
	"PATH PFTLS_ALGORITHM PFTLS_CHAIN PFTLS_CSR PFTLS_HOSTNAMES PFTLS_KEY_SPKI "
check "2: no private key or TSIG secret in its argv or environment" \
	bash -c '! grep -q -e "PRIVATE KEY" -e "$0" "$1"' "$secret" "$CA/env.log"
check "2: PFTLS_HOSTNAMES is the TLSA host name, PFTLS_KEY_SPKI the key's SPKI" \
	bash -c "grep -qx 'PFTLS_HOSTNAMES=$ROLL_HOST' '$CA/env.log' &&
		grep -qx 'PFTLS_KEY_SPKI=$(roll_key_spki "$NEW_RSA")' '$CA/env.log'"

# ---- 3. renew ---------------------------------------------------------------
S_RSA=$(live_serial rsa) S_EC=$(live_serial ecdsa)
DNS0=$(served_all)
SER0=$(for a in 1 2 3; do bind_serial "$ROLL_NET.$a"; done | tr '\n' ' ')
sleep 1 # new file names have one-second resolution
"$PFTLS" -c "$ROLL_CF" renew >"$W/renew.out" 2>"$W/renew.err"
rc=$?
check "3: renew exits 0" test "$rc" -eq 0
check "3: renew verified the live endpoint: both algorithms' renewed chains presented, DANE-valid" \
	test "$(grep -c "^ok: $ROLL_ADDR:25 presents the renewed .* certificate, DANE-valid" "$W/renew.out")" -eq 2
CERT_RSA2=$(postconf -c "$ROLL_PF" -h smtpd_tls_cert_file)
CERT_EC2=$(postconf -c "$ROLL_PF" -h smtpd_tls_eccert_file)
check "3: main.cf names new certificate files, the same key files" \
	test "$CERT_RSA2" != "$CERT_RSA" -a "$CERT_EC2" != "$CERT_EC" -a \
	"$(roll_deployed rsa) $(roll_deployed ecdsa)" = "$NEW_RSA $NEW_EC"
check "3: a new serial is live on both algorithms" \
	test -n "$S_RSA" -a "$(live_serial rsa)" != "$S_RSA" -a "$(live_serial ecdsa)" != "$S_EC"
check "3: the same keys are live" \
	test "$(roll_live_spki rsa) $(roll_live_spki ecdsa)" = \
	"$(roll_key_spki "$NEW_RSA") $(roll_key_spki "$NEW_EC")"
check_eq "3: the renewed RSA certificate chains to the root" OK "$(live_verify rsa)"
check "3: the TLSA RRset on every server byte-for-byte the same, no new SOA serial" \
	test "$(served_all)" = "$DNS0" -a \
	"$(for a in 1 2 3; do bind_serial "$ROLL_NET.$a"; done | tr '\n' ' ')" = "$SER0"
check "3: certificate-renewed logged for each algorithm (notice, 5)" \
	test "$(events certificate-renewed | jq -r .PRIORITY | tr -d '\n')" = 55
cp "$ROLL_CF" "$W/nocmd.cf"
sed -i '/^certificate_command/d' "$W/nocmd.cf"
"$PFTLS" -c "$W/nocmd.cf" renew >"$W/renew2.out" 2>"$W/renew2.err"
rc=$?
check "3: renew without certificate_command: exit 2, one line saying so" \
	test "$rc" -eq 2 -a "$(wc -l <"$W/renew2.err")" -eq 1 -a -n "$(grep certificate_command "$W/renew2.err")"

cp "$ROLL_CF" "$W/sel0.cf"
echo "tlsa_records = 3 1 1, 3 0 1" >>"$W/sel0.cf"
"$PFTLS" -c "$W/sel0.cf" renew >"$W/renew5.out" 2>"$W/renew5.err"
rc=$?
check "3: renew with a 3 0 1 record configured: exit 2, one line naming it, nothing changed" \
	test "$rc" -eq 2 -a "$(wc -l <"$W/renew5.err")" -eq 1 -a -n "$(grep '3 0 1' "$W/renew5.err")" -a \
	"$(postconf -c "$ROLL_PF" -h smtpd_tls_cert_file)" = "$CERT_RSA2"

# ---- 4. smtpd_tls_chain_files -----------------------------------------------
# (The legacy parameters go: Postfix ignores them beside the list, and the
# withdrawal guard would still count the keys they name as in use.)
postconf -c "$ROLL_PF" -e "smtpd_tls_chain_files = $NEW_RSA, $CERT_RSA2, $NEW_EC, $CERT_EC2" &&
	postconf -c "$ROLL_PF" -X smtpd_tls_key_file smtpd_tls_cert_file smtpd_tls_eckey_file \
		smtpd_tls_eccert_file &&
	postfix -c "$ROLL_PF" reload >/dev/null 2>&1
sleep 1
"$PFTLS" -c "$ROLL_CF" renew >"$W/renew3.out" 2>"$W/renew3.err"
rc=$?
CHAIN=$(postconf -c "$ROLL_PF" -h smtpd_tls_chain_files)
check "4: renew with smtpd_tls_chain_files: exit 0, the list is one chain-*-ca-*.pem and one ecchain-*-ca-*.pem" \
	bash -c "[ $rc -eq 0 ] && [[ '$CHAIN' =~ ^$ROLL_PF/chain-[0-9-]+-ca-[0-9-]+\.pem,\ $ROLL_PF/ecchain-[0-9-]+-ca-[0-9-]+\.pem$ ]]"
f1=${CHAIN%%,*} f2=${CHAIN##*, }
check "4: each file holds the key then the chain (leaf, intermediate), mode 0600" \
	bash -c "[ \"\$(stat -c %a '$f1' '$f2' | sort -u)\" = 600 ] &&
		[ \"\$(grep -c 'BEGIN CERTIFICATE' '$f1')\" = 2 ] && head -1 '$f1' | grep -q 'PRIVATE KEY'"
check_eq "4: the live ECDSA certificate from the chain file chains to the root" OK "$(live_verify ecdsa)"
check "4: the same keys are live" \
	test "$(roll_live_spki rsa) $(roll_live_spki ecdsa)" = \
	"$(roll_key_spki "$NEW_RSA") $(roll_key_spki "$NEW_EC")"

# A rollover with smtpd_tls_chain_files: the next keys deployed as one
# key+chain file each.
"$PFTLS" -c "$ROLL_CF" now >"$W/now2.out" 2>"$W/now2.err"
rc=$?
CHAIN=$(postconf -c "$ROLL_PF" -h smtpd_tls_chain_files)
f1=${CHAIN%%,*} f2=${CHAIN##*, }
check "4: a rollover with smtpd_tls_chain_files completes, deploying one new key+chain file per algorithm" \
	bash -c "[ $rc -eq 0 ] && [ '$f1' != '$NEW_RSA' ] &&
		[[ '$CHAIN' =~ ^$ROLL_PF/chain-[0-9-]+-ca-[0-9-]+\.pem,\ $ROLL_PF/ecchain-[0-9-]+-ca-[0-9-]+\.pem$ ]]"
echo "# now: exit $rc, smtpd_tls_chain_files = $CHAIN"
[ "$rc" -eq 0 ] || tail -3 "$W/now2.err" | sed 's/^/#   /'
NEW_RSA=$f1 NEW_EC=$f2
check "4: the live keys are those of the new files, their chains verify against the root" \
	test "$(roll_live_spki rsa) $(roll_live_spki ecdsa) $(live_verify rsa) $(live_verify ecdsa)" = \
	"$(roll_key_spki "$f1") $(roll_key_spki "$f2") OK OK"
check "4: the new keys' 3 1 1 records served on all three servers" \
	roll_all_serve "$(roll_rec "$f1")" "$(roll_rec "$f2")"

# ---- 5. renewal timing with the daemon --------------------------------------
echo 40 >"$CA/valid"
roll_conf "$CERTCMD" "$CAFILE" "certificate_renew_before = 50%"
sleep 1
"$PFTLS" -c "$ROLL_CF" renew >"$W/renew4.out" 2>"$W/renew4.err" ||
	fail "5: renew for 40 s certificates: $(tail -1 "$W/renew4.err")"
echo "# smtpd_tls_chain_files = $(postconf -c "$ROLL_PF" -h smtpd_tls_chain_files)"
CHAIN=$(postconf -c "$ROLL_PF" -h smtpd_tls_chain_files)
pub=$(dirname "${CHAIN%%,*}")/$(basename "${CHAIN%%,*}" | sed 's/^chain-/cert-/')
nb=$(date -d "$(openssl x509 -in "$pub" -noout -startdate | cut -d= -f2)" +%s)
nr0=$(nevents certificate-renewed)
# The daemon's calls are those after the ones renew made (two, one per
# algorithm; on a loaded machine the second can come seconds after nb).
nc0=$(wc -l <"$CA/calls.log")
roll_notify_start "$W/notify.log" && roll_daemon_start ||
	{ fail "5: pftls-rolld starts"; exit 1; }
# Due at nb + 20; watch until then plus slack.
first=
for ((i = 0; i < 200; i++)); do
	if [ "$(nevents certificate-renewed)" -gt "$nr0" ]; then first=$(date +%s); break; fi
	sleep 0.25
done
check "5: the daemon renewed on its own (certificate-renewed)" test -n "$first"
if [ -n "$first" ]; then
	# When the daemon asked the CA (its call log), and when it was live.
	rt=$(awk -v n="$nc0" 'NR > n { print $1; exit }' "$CA/calls.log")
	awk -v t="$nb" '{ printf "# CA call at nb + %d s: %s %s\n", $1 - t, $2, $3 }' "$CA/calls.log" | tail -n 6
	echo "# renewal asked at nb + $((rt - nb)) s, deployed at nb + $((first - nb)) s (due at nb + 20 s)"
	check "5: not before the configured point (notBefore + 50% of 40 s)" test "$rt" -ge $((nb + 20))
	check "5: at the configured point (the CA asked within 2 s of it)" test "$rt" -le $((nb + 22))
fi
check_eq "5: the renewed ECDSA certificate chains to the root" OK "$(live_verify ecdsa)"
ca_mode refuse
for ((i = 0; i < 200; i++)); do
	[ "$(nevents certificate-expiring)" -gt 0 ] && break
	sleep 0.25
done
check "5: the next due renewal failing is an error (certificate-expiring, priority 3)" \
	test "$(events certificate-expiring | jq -r .PRIORITY | sort -u)" = 3
check "5: the key stays live meanwhile" \
	test "$(roll_live_spki ecdsa)" = "$(roll_key_spki "$NEW_EC")"
journald_sync
journald_read -o json >"$W/journal.json" 2>/dev/null
check "no private key or TSIG secret in the journal" \
	bash -c '! grep -q -e "PRIVATE KEY" -e "$0" "$1"' "$secret" "$W/journal.json"
