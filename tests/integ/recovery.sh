#!/bin/bash
# tests/integ/recovery.sh - the ways out of a failed rollover that
# docs/OPERATIONS.md (section 8) tells operators to take, done as an
# operator would, against a real BIND (signing primary, two secondaries)
# and a real Postfix instance on 127.62.0.0/24:
#   1. a TSIG key the primary does not allow: the rollover stops in failed
#      (in generated) naming REFUSED and the server; nothing is published,
#      main.cf is unchanged;
#   2. with the right key, "pftls-roll now" resumes the same rollover (the
#      same key file, no new one); a verification that cannot succeed stops
#      it in failed (in deployable) after a rollback: main.cf and the live
#      server have the old key again, and the old and new records are both
#      served;
#   3. with verify_endpoints fixed, "pftls-roll now" deploys, verifies and
#      retires: the new key is live and only its record is left;
#   4. "pftls-roll cancel" after another failure removes the unpublished
#      key files and returns to idle.
# Needs root (addresses on lo, Postfix); about half a minute.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/bind.sh
. tests/lib/postfix_instance.sh
. tests/lib/dns_common.sh

NET=127.62.0
MX=$NET.25
W=$(mktemp -d /tmp/pftls-recovery.XXXXXX) || exit 1
chmod 755 "$W"
added_mx=""
cleanup() {
	pfi_stop "$W/pf"
	bind_stop
	[ -n "$added_mx" ] && ip addr del "$MX/32" dev lo 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT

if [ ! -x "$PFTLS" ]; then
	fail "recovery: $PFTLS is not built (run make)"
	exit 1
fi
if ! bind_start "$W/dns" "$NET"; then
	fail "recovery: BIND did not start"
	exit 1
fi
if ! ip -4 addr show dev lo | grep -q "inet $MX/32 "; then
	ip addr add "$MX/32" dev lo || { fail "recovery: cannot add $MX to lo"; exit 1; }
	added_mx=1
fi
pfi_create "$W/pf" "$MX" mx.example.test
ETC=$W/pf/etc

# The TLSA records the primary serves for mx, as lowercase hex, one a line.
served() {
	dig +norec +short +nosplit +time=2 +tries=1 @"$NET.1" _25._tcp.mx.example.test TLSA |
		awk '{ print tolower($4) }' | sort
}
lower() { tr 'A-F' 'a-f'; }
# The SPKI SHA-256 of the key the live server presents on port 25.
live_spki() {
	openssl s_client -connect "$MX:25" -starttls smtp -no-CAfile -no-CApath -no-CAstore \
		</dev/null 2>/dev/null | openssl x509 -pubkey -noout 2>/dev/null |
		openssl pkey -pubin -outform DER 2>/dev/null | openssl dgst -sha256 -binary |
		od -An -v -tx1 | tr -d ' \n'
}
keyfiles() { (cd "$ETC" && ls key-*.pem 2>/dev/null | tr '\n' ' '); }
phase_line() { "$PFTLS" -c "$W/roll.cf" status 2>&1 | head -1; }

# The current key: made, deployed, its record published, Postfix running.
run -C "$ETC" new-server-key mx.example.test
oldkey=$(ls "$ETC"/key-*.pem 2>/dev/null | head -1)
oldcert=$(ls "$ETC"/cert-*.pem 2>/dev/null | head -1)
run -C "$ETC" deploy-server-cert "$oldcert" "$oldkey"
[ "$RC" -eq 0 ] || { fail "recovery: setup: deploy-server-cert: $ERR"; exit 1; }
oldspki=$(spki_hex "$oldkey" | lower)
base="postfix_config_directory = $ETC
dns_resolver = $NET.1
dns_update_server = $NET.1
tlsa_hostnames = mx.example.test
tlsa_ttl = 5
ttl_factor = 1
publish_safety = 0
retire_delay = 0
state_directory = $W/state
rollover_scheme = on-demand
dnssec_trust_anchor_file = $W/dns/anchor
control_socket = $W/control"
mkdir -m 700 "$W/state"
good="dns_tsig_key_file = $W/dns/keys/pftls.key"
refused="dns_tsig_key_file = $W/dns/keys/limited.key"
printf '%s\n%s\nverify_endpoints = %s:25\n' "$base" "$good" "$MX" >"$W/roll.cf"
run -c "$W/roll.cf" publish "$oldkey"
pfi_start "$W/pf" || { fail "recovery: Postfix did not start"; exit 1; }
sleep 2 # the secondaries pick the record up; only the primary is asked here
if [ "$RC" -ne 0 ] || [ "$(served)" != "$oldspki" ] || [ "$(live_spki)" != "$oldspki" ]; then
	fail "recovery: setup: the current key is not published and live ($ERR)"
	exit 1
fi
pass "recovery: setup: the current key is deployed, live and published"

# --- 1. a key the primary refuses ---------------------------------------------
printf '%s\n%s\nverify_endpoints = %s:25\n' "$base" "$refused" "$MX" >"$W/roll.cf"
run -c "$W/roll.cf" now
line=$(phase_line)
if [ "$RC" -eq 1 ] && [[ $line == "phase:     failed (in generated: "*"REFUSED from $NET.1:53"* ]]; then
	pass "recovery: a refused update stops in failed (in generated), naming REFUSED and the server"
else
	fail "recovery: refused update: exit $RC, status \"$line\""
fi
nextkeys=$(keyfiles)
check "recovery: nothing was published and main.cf still names the current key" \
	test "$(served)" = "$oldspki" -a "$(postconf -c "$ETC" -h smtpd_tls_key_file)" = "$oldkey"

# --- 2. right key, "now" resumes; a verification that cannot succeed -----------
# Nothing listens on port 2526: verification fails after the deploy.
printf '%s\n%s\nverify_endpoints = %s:2526\n' "$base" "$good" "$MX" >"$W/roll.cf"
run -c "$W/roll.cf" now
line=$(phase_line)
if [ "$RC" -eq 1 ] && [[ $line == "phase:     failed (in deployable: verification failed"* ]]; then
	pass "recovery: \"now\" resumed; a failed verification stops in failed (in deployable)"
else
	fail "recovery: failed verification: exit $RC, status \"$line\""
fi
check "recovery: the resumed rollover kept its key file (no new key made)" \
	test "$(keyfiles)" = "$nextkeys"
newkey=$ETC/$(cd "$ETC" && ls key-*.pem | grep -v "^${oldkey##*/}$")
newspki=$(spki_hex "$newkey" | lower)
check "recovery: after the rollback main.cf names the current key again" \
	test "$(postconf -c "$ETC" -h smtpd_tls_key_file)" = "$oldkey"
check "recovery: after the rollback the live server presents the current key" \
	test "$(live_spki)" = "$oldspki"
check "recovery: both the current and the new key's records are served meanwhile" \
	test "$(served)" = "$(printf '%s\n%s\n' "$oldspki" "$newspki" | sort)"

# --- 3. fixed, "now" finishes ---------------------------------------------------
printf '%s\n%s\nverify_endpoints = %s:25\n' "$base" "$good" "$MX" >"$W/roll.cf"
run -c "$W/roll.cf" now
line=$(phase_line)
if [ "$RC" -eq 0 ] && [ "$line" = "phase:     idle" ]; then
	pass "recovery: \"now\" deploys, verifies and retires: back to idle"
else
	fail "recovery: finishing: exit $RC, status \"$line\": $(tail -1 <<<"$ERR")"
fi
check "recovery: main.cf names the new key and the live server presents it" \
	test "$(postconf -c "$ETC" -h smtpd_tls_key_file)" = "$newkey" -a "$(live_spki)" = "$newspki"
check "recovery: only the new key's record is left" test "$(served)" = "$newspki"

# --- 4. cancel after a failure ----------------------------------------------------
before=$(keyfiles)
sleep 1 # key file names have one-second resolution
printf '%s\n%s\nverify_endpoints = %s:25\n' "$base" "$refused" "$MX" >"$W/roll.cf"
run -c "$W/roll.cf" now
made=$(keyfiles)
run -c "$W/roll.cf" cancel
line=$(phase_line)
if [ "$made" != "$before" ] && [ "$RC" -eq 0 ] && [ "$line" = "phase:     idle" ] &&
	[ "$(keyfiles)" = "$before" ] && [ "$(served)" = "$newspki" ]; then
	pass "recovery: cancel after a failed publish removes the new key files; back to idle"
else
	fail "recovery: cancel" "exit $RC, status \"$line\", key files \"$made\" -> \"$(keyfiles)\": $ERR"
fi
