#!/bin/bash
# tests/integ/acme_timeout.sh - a certificate_command that hangs (the test
# CA of tests/lib/test_ca.py sleeping past the deadline) during a
# rollover, with real BIND, Postfix and journald: it is stopped at the
# deadline (its process group killed, none of it left running), the
# refusal says so in the journal, nothing is deployed and the old keys stay
# live; once the CA answers again the same rollover completes.  The
# deadline is 120 s; the tree's build takes a shorter one from
# PFTLS_CERT_COMMAND_TIMEOUT_MS (roll_cert.c), here 8 s, so the test does
# not wait two minutes for it.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/journald.sh
journald_enter_ns "$0" "$@"
. tests/lib/rollover.sh
. tests/lib/acme.sh

roll_begin acme_timeout 9 journal
acme_test_ca || { fail "the test CA is made"; exit 1; }
roll_conf "$CERTCMD" "$CAFILE"
events() { acme_events "$1"; }
roll_publish_old 5 || { fail "old records published with nsupdate"; exit 1; }
OLD_RSA=$(roll_deployed rsa) OLD_EC=$(roll_deployed ecdsa)
MAINCF0=$(md5sum <"$ROLL_PF/main.cf")

echo slow >"$CA/mode"
echo 600 >"$CA/sleep"
t0=$(date +%s)
PFTLS_CERT_COMMAND_TIMEOUT_MS=8000 "$PFTLS" -c "$ROLL_CF" now >"$W/now.out" 2>"$W/now.err" &
NOW_PID=$!
for ((i = 0; i < 1000; i++)); do
	[ -n "$(events certificate-refused)" ] && break
	sleep 0.2
done
t1=$(date +%s)
# Its retry (2 s later) fails fast, and "now" is interrupted before it.
echo refuse >"$CA/mode"
kill -INT "$NOW_PID" 2>/dev/null
wait "$NOW_PID" 2>/dev/null
msg=$(events certificate-refused | head -1 | jq -r .MESSAGE)
echo "# refused after $((t1 - t0)) s: $msg" | cut -c1-300
check "the hanging command is stopped at its deadline, with that message" \
	grep -q "did not finish within 8[.0-9]* s: stopped" <<<"$msg"
check "stopped at the 8 s deadline (refused at most 60 s after the rollover began)" \
	test $((t1 - t0)) -ge 8 -a $((t1 - t0)) -le 60
check "none of the command is left running" \
	bash -c "! pgrep -f '[t]est_ca.py sign $CA' >/dev/null"
check "nothing deployed: main.cf unchanged, no CA file written" \
	test "$(md5sum <"$ROLL_PF/main.cf")" = "$MAINCF0" -a \
	-z "$(find "$ROLL_PF" -maxdepth 1 -name '*-ca-*.pem')"
check "the old keys stay live" \
	test "$(roll_live_spki rsa) $(roll_live_spki ecdsa)" = \
	"$(roll_key_spki "$OLD_RSA") $(roll_key_spki "$OLD_EC")"

echo ok >"$CA/mode"
timeout 120 "$PFTLS" -c "$ROLL_CF" now >>"$W/now.out" 2>>"$W/now.err"
rc=$?
check "once the CA answers, the same rollover completes (idle, CA files deployed)" \
	bash -c "[ $rc -eq 0 ] && [ \"\$('$PFTLS' -c '$ROLL_CF' status --json | jq -r .phase)\" = idle ] &&
		[[ \$(basename \"\$(postconf -c '$ROLL_PF' -h smtpd_tls_cert_file)\") == cert-*-ca-*.pem ]]"
