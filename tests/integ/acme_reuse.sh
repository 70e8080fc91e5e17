#!/bin/bash
# tests/integ/acme_reuse.sh - a renewal whose obtained certificate fails a
# later step (the verification of the live server: a second smtpd listener
# presenting the RSA leaf without its intermediate) does not ask the CA
# again on the retry: the chain kept from the first attempt is checked
# again and reused (the test CA's calls.log counts the command's runs),
# "reusing" in the journal and in status; once the fault is gone the retry
# deploys that very certificate (its serial live).  A kept chain that has
# meanwhile come within certificate_renew_before (40 s certificates, 50%)
# is not reused: the CA is asked again.  Real BIND, Postfix, journald and
# tests/lib/test_ca.py as the certificate_command.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/journald.sh
journald_enter_ns "$0" "$@"
. tests/lib/rollover.sh
. tests/lib/acme.sh

roll_begin acme_reuse 15 journal
acme_test_ca || { fail "the test CA is made"; exit 1; }
L2=$ROLL_ADDR:2526
conf() { roll_conf "$CERTCMD" "$CAFILE" "verify_endpoints = $ROLL_ADDR:25 $L2" "$@"; }
conf
events() { acme_events "$1"; }
rsa_calls() { grep -c ' rsa$' "$CA/calls.log" 2>/dev/null; }
live_serial() { acme_live_serial rsa "${1:-}"; }
cp "$ROLL_PF/master.cf" "$W/master.cf.orig"
listener() { # CERTFILE: L2 presents it for RSA; none: L2 as main.cf says
	cp "$W/master.cf.orig" "$ROLL_PF/master.cf"
	echo "$L2 inet n - n - - smtpd${1:+ -o smtpd_tls_cert_file=$1}" >>"$ROLL_PF/master.cf"
	postfix -c "$ROLL_PF" reload >/dev/null 2>&1
	sleep 1
}
renew() { # N
	sleep 1 # new file names have one-second resolution
	"$PFTLS" -c "$ROLL_CF" renew >"$W/renew$1.out" 2>"$W/renew$1.err"
	RC=$?
	sed 's/^/#   /' "$W/renew$1.err" | cut -c1-250
}
roll_publish_old 5 || { fail "old records published with nsupdate"; exit 1; }
listener ""
renew 0
check "a first renew replaces the self-signed certificates (exit 0)" test "$RC" = 0
# The fault: L2 presents the RSA leaf without its intermediate.
openssl x509 -in "$(postconf -c "$ROLL_PF" -h smtpd_tls_cert_file)" -out "$W/leaf-only.pem"
listener "$W/leaf-only.pem"
n0=$(rsa_calls)
renew 1
n1=$(rsa_calls)
S1=$(events certificate-obtained | jq -r .MESSAGE | tail -1 | sed -n 's/.*(serial \([0-9a-f]*\),.*/\1/p')
check "renew with the fault exits 1, after asking the CA once for RSA ($n0 -> $n1)" \
	test "$RC" = 1 -a "$n1" = $((n0 + 1))
renew 2
check "renew again with the fault: exit 1, the CA not asked again ($(rsa_calls) RSA calls)" \
	test "$RC" = 1 -a "$(rsa_calls)" = "$n1"
check "renew says it reuses the certificate of the earlier attempt (serial $S1)" \
	grep -q "serial $S1, .*(reused from an earlier attempt, not asked of the CA again)" "$W/renew2.out"
msg=$(events certificate-obtained | jq -r .MESSAGE | tail -1)
check "the journal says so (certificate-obtained: reusing ..., serial $S1)" \
	grep -q "^reusing the CA-issued certificate for the rsa key .*serial $S1," <<<"$msg"
check "status shows the reuse among its events" \
	bash -c "'$PFTLS' -c '$ROLL_CF' status --json | jq -r '.events[].message' | grep -q '^reusing the CA-issued certificate for the rsa key'"
listener ""
renew 3
check "once the fault is gone renew succeeds (exit 0), without asking the CA for RSA" \
	test "$RC" = 0 -a "$(rsa_calls)" = "$n1"
check "the live RSA certificate is the one obtained by the first failed attempt ($S1)" \
	test -n "$S1" -a "$(live_serial | tr A-F a-f | sed 's/^0*//')" = "$(sed 's/^0*//' <<<"$S1")"
renew 4
check "a later renew (nothing failed) asks the CA for a new certificate" \
	test "$RC" = 0 -a "$(rsa_calls)" = $((n1 + 1))

# A kept chain that comes within certificate_renew_before is not reused.
echo 40 >"$CA/valid"
conf "certificate_renew_before = 50%"
openssl x509 -in "$(postconf -c "$ROLL_PF" -h smtpd_tls_cert_file)" -out "$W/leaf-only.pem"
listener "$W/leaf-only.pem"
n2=$(rsa_calls)
renew 5
check "40 s certificates, with the fault: renew exits 1 after asking the CA once" \
	test "$RC" = 1 -a "$(rsa_calls)" = $((n2 + 1))
S5=$(events certificate-obtained | jq -r .MESSAGE | tail -1 | sed -n 's/.*(serial \([0-9a-f]*\),.*/\1/p')
sleep 21 # past 50% of its 40 s
listener ""
renew 6
check "past its renewal point the kept chain is not reused: the CA asked again, renew exits 0" \
	test "$RC" = 0 -a "$(rsa_calls)" = $((n2 + 2))
check "renew says why it was not reused" \
	grep -q "the rsa certificate obtained earlier is not reused (" "$W/renew6.out"
check "the live RSA certificate is a new one, not the stale $S5" \
	test -n "$S5" -a "$(live_serial | tr A-F a-f | sed 's/^0*//')" != "$(sed 's/^0*//' <<<"$S5")"
