#!/bin/bash
# tests/integ/acme_uacme.sh - CA-issued certificates from a real ACME CA:
# Debian's pebble (tests/lib/pebble.sh) validating dns-01 against the test
# BIND, through the example wrappers (examples/acme/) and three real
# clients, with a running daemon, Postfix, journald, checked from outside
# (postconf, openssl s_client, dig, journalctl):
#   1. a full rollover (RSA + ECDSA) with the daemon running, certificates
#      through uacme (dns-01 with nsupdate and acme-key, a TSIG key that
#      may change only _acme-challenge.mx TXT): both live certificates
#      chain to pebble's root and name the MX, their keys' 3 1 1 records
#      served on every server, the old keys' records gone, no challenge
#      record left;
#   2. renew through uacme: a new serial, the same keys, the TLSA RRset
#      byte-for-byte the same on every server, main.cf names the new files;
#   3. a whole rollover by the daemon through certbot (certonly --csr, its
#      manual hooks), then one through lego (--csr, its rfc2136 provider):
#      new keys, pebble's chains live, their records served everywhere, the
#      previous keys' gone, both certificates through that client (the
#      spy's argv; certbot's own logs);
#   4. neither the command's argv nor its environment holds a private key
#      or a TSIG secret (our key's or the ACME key's);
#   5. the chain the live server presents is checked as an MTA-STS sender
#      would (against certificate_ca_file, for the MX's name), not only the
#      deployed file: a second smtpd listener (master.cf -o) presenting the
#      leaf without its intermediate, then a leaf of our key for other
#      names, is caught by "check" (and --plugin) and by "renew" (which puts main.cf back
#      and reloads), each with its own message; without the listener's
#      override "check" passes again.
# Section 1 runs with the observer (tests/lib/observer.sh): three
# validating unbound resolvers and DANE probe loops through each, judged as
# tests/integ/observer.sh judges a rollover (zero failures over it).
set -u
cd "$(dirname "$0")/../.."
. tests/lib/journald.sh
journald_enter_ns "$0" "$@"
. tests/lib/rollover.sh
. tests/lib/pebble.sh
. tests/lib/acme.sh
. tests/lib/observer.sh

for p in pebble uacme certbot lego; do
	command -v "$p" >/dev/null || { fail "$p is installed (tools/install-deps)"; exit 1; }
done
roll_begin acme_uacme 8 journal
trap 'observer_stop; pebble_stop; roll_end' EXIT
PEB=$W/pebble
bind_addr_add 127.57.8.100 || { fail "pebble's address is added"; exit 1; }
pebble_start "$PEB" 127.57.8.100 "$ROLL_NET.1:53" ||
	{ fail "pebble starts: $(tail -3 "$PEB/pebble.log" 2>/dev/null)"; exit 1; }
pass "pebble starts, its root fetched from the management port"

# The wrappers' configuration (examples/acme/acme.conf's names).
ACME=$W/acme
mkdir -p "$ACME"
sed -n 's/.*secret "\(.*\)".*/\1/p' "$W/bind/keys/acme.key" >"$ACME/acme.secret"
chmod 600 "$ACME/acme.secret"
cat >"$ACME/acme.conf" <<CONF
ACME_URL=$PEBBLE_URL
ACME_EMAIL=hostmaster@example.test
ACME_STATE_DIR=$ACME/state
ACME_NSUPDATE_SERVER=$ROLL_NET.1
ACME_NSUPDATE_KEY=$W/bind/keys/acme.key
ACME_TSIG_SECRET_FILE=$ACME/acme.secret
ACME_DNS_WAIT="$ROLL_NET.1"
ACME_DNS_TTL=5
ACME_LEGO_NO_NS_CHECK=yes # ns2/ns3 do not resolve in the test's namespace
CONF
# A spy in front of the wrapper: what the command is given (as exec'ed).
cat >"$ACME/spy" <<'SPY'
#!/bin/sh
{ echo "argv=$*"; tr '\0' '\n' </proc/$$/environ; echo --; } >>"$(dirname "$0")/env.log"
exec "$@"
SPY
chmod 755 "$ACME/spy"
EX=$PWD/examples/acme
client_conf() { # CLIENT [extra lines]
	local c=$1
	shift
	roll_conf "certificate_command = $ACME/spy $EX/acme-$c $ACME/acme.conf" \
		"certificate_ca_file = $PEB/root.pem" "$@"
}

events() { acme_events "$1"; }
live_verify() { acme_live_verify "$1" "$PEB/root.pem"; }

# rolled_in WHAT OLD_RSA OLD_EC OLD_RSA_REC OLD_EC_REC OLDNAME: after a
# rollover through pebble, main.cf deploys new keys (sets NEW_RSA, NEW_EC)
# with CA files of ours, the live chains verify to pebble's root for the
# MX, the live keys are the new ones, their records are served everywhere
# and the OLDNAME keys' records nowhere, and no challenge is left.
rolled_in() {
	local w=$1 orsa=$2 oec=$3 orsa_rec=$4 oec_rec=$5 oname=$6
	NEW_RSA=$(roll_deployed rsa) NEW_EC=$(roll_deployed ecdsa)
	check "$w main.cf deploys new keys with CA files of ours" \
		bash -c "[ '$NEW_RSA' != '$orsa' ] && [ '$NEW_EC' != '$oec' ] &&
			[[ \$(basename \"\$(postconf -c '$ROLL_PF' -h smtpd_tls_cert_file)\") == cert-*-ca-*.pem ]] &&
			[[ \$(basename \"\$(postconf -c '$ROLL_PF' -h smtpd_tls_eccert_file)\") == eccert-*-ca-*.pem ]]"
	check_eq "$w the live RSA certificate chains to pebble's root and names the MX" OK "$(live_verify rsa)"
	check_eq "$w the live ECDSA certificate chains to pebble's root and names the MX" OK "$(live_verify ecdsa)"
	check "$w the live keys are the new ones" \
		test "$(roll_live_spki rsa) $(roll_live_spki ecdsa)" = \
		"$(roll_key_spki "$NEW_RSA") $(roll_key_spki "$NEW_EC")"
	check "$w the new keys' 3 1 1 records served on all three servers" \
		roll_all_serve "$(roll_rec "$NEW_RSA")" "$(roll_rec "$NEW_EC")"
	check "$w the $oname keys' records gone from all three servers" \
		roll_none_serve "$orsa_rec" "$oec_rec"
	check "$w no _acme-challenge record left behind" no_challenge
}
live_serial() { acme_live_serial "$1"; }
# The TLSA RRset each server serves, as dig prints the answer (owner, TTL,
# class, type, data); the zone's serial moves (the dns-01 TXT records).
served_all() {
	local a
	for a in 1 2 3; do
		echo "ns$a"
		dig +norec +noall +answer +nosplit +time=1 +tries=1 @"$ROLL_NET.$a" "$ROLL_NAME" TLSA | sort
	done
}
no_challenge() { [ -z "$(dig +short +norec @"$ROLL_NET.1" "_acme-challenge.$ROLL_HOST" TXT)" ]; }

roll_publish_old 5 || { fail "old records published with nsupdate"; exit 1; }
OLD_RSA=$(roll_deployed rsa) OLD_EC=$(roll_deployed ecdsa)
OLD_RSA_REC=$(roll_rec "$OLD_RSA") OLD_EC_REC=$(roll_rec "$OLD_EC")

# ---- 1. a rollover through uacme with the daemon ----------------------------
# The observer: three validating resolvers, each pinned to one server.
OBS_DIR=$W/obs NET=$ROLL_NET MIN_SPAN=2
RESOLVERS="$ROLL_NET.201 $ROLL_NET.202 $ROLL_NET.203"
mkdir -p "$OBS_DIR"
observer_start 2>"$W/observer.err" ||
	{ fail "1: the observer's 3 unbound resolvers start: $(tail -1 "$W/observer.err")"; exit 1; }
OBS_OLD=$(printf '%s\n' "$(roll_key_spki "$OLD_RSA")" "$(roll_key_spki "$OLD_EC")" | sort | paste -sd, -)
start_probes rollover 240 "$ROLL_ADDR"
wait_until 150 every_resolver "$PROBE_LOG" "$OBS_OLD" - n 2 ||
	fail "1: the observer probes before the rollover: $(head -2 "$PROBE_LOG")"
client_conf uacme
roll_notify_start "$W/notify.log" && roll_daemon_start || { fail "pftls-rolld starts"; exit 1; }
t0=$(date +%s)
"$PFTLS" -c "$ROLL_CF" now >"$W/now.out" 2>"$W/now.err"
p=$(roll_wait_phase idle failed -t 180)
echo "# rollover with uacme + pebble: $(($(date +%s) - t0)) s, phase $p"
check "1: the daemon's rollover through uacme completes (phase idle)" test "$p" = idle
NEW_RSA=$(roll_deployed rsa) NEW_EC=$(roll_deployed ecdsa)
OBS_NEW=$(printf '%s\n' "$(roll_key_spki "$NEW_RSA")" "$(roll_key_spki "$NEW_EC")" | sort | paste -sd, -)
# Probing goes on until every resolver has answered twice with the RRset
# after the retirement (the old records gone).
wait_until 300 every_resolver "$PROBE_LOG" "$OBS_OLD" "$OBS_NEW" newonly 2
stop_probes
S=$(summarize "$PROBE_LOG" "$OBS_OLD" "$OBS_NEW" 0)
echo "# observer per resolver: probes failures mismatches old-key new-key stale cached-new new-only"
sed 's/^/#    /' <<<"$S"
observer_judge "1: observer, rollover through uacme" "$PROBE_LOG" "$S"
for r in $RESOLVERS; do
	check "1: observer: $r served the RRset without the old records after the retirement" \
		test "$(field "$S" "$r" newonly)" -ge 1
done
rolled_in "1:" "$OLD_RSA" "$OLD_EC" "$OLD_RSA_REC" "$OLD_EC_REC" old
# (The daemon may first replace the self-signed certificates deployed before
# the rollover with CA-issued ones for the same keys: up to 2 more; 3 in
# all was seen once.)
nob=$(events certificate-obtained | grep -c .) nref=$(events certificate-refused | grep -c .)
echo "# certificate-obtained $nob, certificate-refused $nref"
check "1: certificate-obtained for each algorithm (2, up to 4 with the daemon's first renewal), no certificate-refused" \
	test "$nref" = 0 -a "$nob" -ge 2 -a "$nob" -le 4
events certificate-refused | jq -r .MESSAGE | sed 's/^/#   refused: /' | cut -c1-400
check "1: pebble validated the challenges (its log)" grep -qi 'validat' "$PEB/pebble.log" ||
	tail -5 "$PEB/pebble.log" | sed 's/^/#   pebble: /'

# ---- 2. renew through uacme -------------------------------------------------
renew_check() { # CLIENT N
	local c=$1 n=$2 s_rsa s_ec dns0 rc c_rsa c_ec
	s_rsa=$(live_serial rsa) s_ec=$(live_serial ecdsa)
	dns0=$(served_all)
	c_rsa=$(postconf -c "$ROLL_PF" -h smtpd_tls_cert_file)
	c_ec=$(postconf -c "$ROLL_PF" -h smtpd_tls_eccert_file)
	sleep 1 # new file names have one-second resolution
	t0=$(date +%s)
	"$PFTLS" -c "$ROLL_CF" renew >"$W/renew-$c.out" 2>"$W/renew-$c.err"
	rc=$?
	echo "# renew through $c: $(($(date +%s) - t0)) s"
	check "$n: renew through $c exits 0" test "$rc" -eq 0
	[ "$rc" -eq 0 ] || sed 's/^/#   /' "$W/renew-$c.err"
	check "$n: $c: main.cf names new certificate files, the same key files" \
		test "$(postconf -c "$ROLL_PF" -h smtpd_tls_cert_file)" != "$c_rsa" -a \
		"$(postconf -c "$ROLL_PF" -h smtpd_tls_eccert_file)" != "$c_ec" -a \
		"$(roll_deployed rsa) $(roll_deployed ecdsa)" = "$NEW_RSA $NEW_EC"
	check "$n: $c: a new serial is live on both algorithms, the same keys" \
		test -n "$s_rsa" -a "$(live_serial rsa)" != "$s_rsa" -a "$(live_serial ecdsa)" != "$s_ec" -a \
		"$(roll_live_spki rsa) $(roll_live_spki ecdsa)" = \
		"$(roll_key_spki "$NEW_RSA") $(roll_key_spki "$NEW_EC")"
	check_eq "$n: $c: the renewed RSA certificate chains to pebble's root" OK "$(live_verify rsa)"
	check_eq "$n: $c: the renewed ECDSA certificate chains to pebble's root" OK "$(live_verify ecdsa)"
	check "$n: $c: the TLSA RRset on every server byte-for-byte the same (answer section)" \
		test "$(served_all)" = "$dns0" -a "$(grep -c TLSA <<<"$dns0")" -eq 6
}
renew_check uacme 2

# ---- 3. certbot and lego ----------------------------------------------------
# A whole rollover by the daemon through each (its configuration re-read on
# SIGHUP); the renew on the same key is section 2's (uacme).
daemon_rollover() { # CLIENT
	local c=$1 ready i p
	client_conf "$c"
	ready=$(grep -c '^READY=1$' "$ROLL_NOTIFY_LOG")
	kill -HUP "$ROLL_DAEMON_PID"
	for ((i = 0; i < 100; i++)); do
		[ "$(grep -c '^READY=1$' "$ROLL_NOTIFY_LOG")" -gt "$ready" ] && break
		sleep 0.1
	done
	PREV_RSA_REC=$(roll_rec "$NEW_RSA") PREV_EC_REC=$(roll_rec "$NEW_EC")
	PREV_RSA=$NEW_RSA PREV_EC=$NEW_EC
	t0=$(date +%s)
	"$PFTLS" -c "$ROLL_CF" now >"$W/now-$c.out" 2>"$W/now-$c.err"
	p=$(roll_wait_phase idle failed -t 180)
	echo "# rollover with $c + pebble: $(($(date +%s) - t0)) s, phase $p"
	check "3: $c: the daemon's rollover through $c completes (phase idle)" test "$p" = idle
	rolled_in "3: $c:" "$PREV_RSA" "$PREV_EC" "$PREV_RSA_REC" "$PREV_EC_REC" previous
	check "3: $c: the rollover's two certificates came through acme-$c (the spy's last two runs)" \
		test "$(grep '^argv=' "$ACME/env.log" | tail -2 | grep -c "/acme-$c ")" = 2
}
CB_LOGS=$ACME/state/certbot/logs
daemon_rollover certbot
# certbot's own record, in its logs (all runs, rotated or not): two runs
# with --csr (its logged arguments), each finalizing an order at pebble
# (its logged POST to the order's finalize URL).
ncb=$(cat "$CB_LOGS"/letsencrypt.log* 2>/dev/null | grep -c "Arguments: .*'--csr'")
nfin=$(cat "$CB_LOGS"/letsencrypt.log* 2>/dev/null | grep -c "Sending POST request to .*finalize")
echo "# certbot logs: $(ls "$CB_LOGS" 2>/dev/null | paste -sd' '): $ncb runs with --csr, $nfin finalize requests"
check "3: certbot: its own logs record two --csr runs ($ncb) that finalized orders at pebble ($nfin)" \
	test "$ncb" = 2 -a "$nfin" -ge 2
daemon_rollover lego

# ---- 4. the command's argv and environment ----------------------------------
s1=$(sed -n 's/.*secret "\(.*\)".*/\1/p' "$W/bind/keys/pftls.key")
s2=$(cat "$ACME/acme.secret")
check "4: the command was run (spy log) with PATH and the five PFTLS_* variables only" \
	test "$(grep -v -e '^argv=' -e '^--$' "$ACME/env.log" | cut -d= -f1 | sort -u | tr '\n' ' ')" = \
	"PATH PFTLS_ALGORITHM PFTLS_CHAIN PFTLS_CSR PFTLS_HOSTNAMES PFTLS_KEY_SPKI "
check "4: no private key, no TSIG secret (ours or the ACME key's) in its argv or environment" \
	bash -c '! grep -q -e "PRIVATE KEY" -e "$0" -e "$1" "$2"' "$s1" "$s2" "$ACME/env.log"
journald_sync
journald_read -o json >"$W/journal.json" 2>/dev/null
check "4: no private key or TSIG secret in the journal" \
	bash -c '! grep -q -e "PRIVATE KEY" -e "$0" -e "$1" "$2"' "$s1" "$s2" "$W/journal.json"

# ---- 5. the chain the live server presents ----------------------------------
# A second listener whose -o override presents another RSA certificate for
# the same key: what main.cf deploys is right, what a sender gets there is
# not.  Both "check" and "renew" probe it (verify_endpoints).
L2=$ROLL_ADDR:2526
LEAF_ONLY=$W/leaf-only.pem OTHER=$W/other-names.pem
CUR_CERT=$(postconf -c "$ROLL_PF" -h smtpd_tls_cert_file)
openssl x509 -in "$CUR_CERT" -out "$LEAF_ONLY"
# A leaf for the same key naming another host, from a throw-away CA.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=other CA" \
	-keyout "$W/oca.key" -out "$W/oca.pem" -addext basicConstraints=critical,CA:true 2>/dev/null
openssl req -new -key "$NEW_RSA" -subj "/CN=other.example.test" 2>/dev/null |
	openssl x509 -req -CA "$W/oca.pem" -CAkey "$W/oca.key" -CAcreateserial -days 2 \
		-extfile <(printf 'subjectAltName=DNS:other.example.test\n') -out "$OTHER" 2>/dev/null
cp "$ROLL_PF/master.cf" "$W/master.cf.orig"
listener() { # CERTFILE: the second listener presents it for RSA (none: no listener)
	cp "$W/master.cf.orig" "$ROLL_PF/master.cf"
	[ -n "$1" ] && echo "$L2 inet n - n - - smtpd -o smtpd_tls_cert_file=$1" >>"$ROLL_PF/master.cf"
	postfix -c "$ROLL_PF" reload >/dev/null 2>&1
	sleep 1
}
client_conf uacme "verify_endpoints = $ROLL_ADDR:25 $L2"
listener "$LEAF_ONLY"
check "5: the second listener presents the RSA key with the leaf alone" \
	test "$(roll_live_spki rsa "$L2")" = "$(roll_key_spki "$NEW_RSA")"
"$PFTLS" -c "$ROLL_CF" check >"$W/check5.out" 2>"$W/check5.err"
rc=$?
check "5: check exits 1 on a live chain without its intermediate" test "$rc" = 1
check "5: check's message: the certificate $L2 presents fails what an MTA-STS sender checks (untrusted, pebble's root)" \
	grep -q "$L2: the rsa certificate it presents fails what an MTA-STS sender checks (untrusted): presented chain: the chain does not verify against $PEB/root.pem: unable to get local issuer certificate" "$W/check5.err"
sed 's/^/#   /' "$W/check5.err" | cut -c1-300
"$PFTLS" -c "$ROLL_CF" check --plugin >"$W/plugin5.out" 2>&1
rc=$?
check "5: check --plugin: CRITICAL (exit 2), naming the listener and the refusal" \
	bash -c '[ "$0" = 2 ] && grep -q "CRITICAL.*$1: the rsa certificate it presents fails what an MTA-STS sender checks (untrusted)" "$2"' \
	"$rc" "$L2" "$W/plugin5.out"
cut -c1-300 "$W/plugin5.out" | head -2 | sed 's/^/#   /'
pre=$(postconf -c "$ROLL_PF" -h smtpd_tls_cert_file smtpd_tls_eccert_file | paste -sd' ')
s_rsa=$(live_serial rsa) dns0=$(served_all)
sleep 1
"$PFTLS" -c "$ROLL_CF" renew >"$W/renew5.out" 2>"$W/renew5.err"
rc=$?
check "5: renew exits 1 when the live chain fails its verification" test "$rc" = 1
check "5: renew's message names the listener, the refusal, and the restored main.cf" \
	bash -c 'grep -q "$0: the rsa certificate it presents fails what an MTA-STS sender checks (untrusted)" "$1" &&
		grep -q "main.cf restored, the previous certificate is live" "$1"' "$L2" "$W/renew5.err"
sed 's/^/#   /' "$W/renew5.err" | cut -c1-300
check "5: main.cf is back to the certificates it had, the old RSA serial live on :25" \
	test "$(postconf -c "$ROLL_PF" -h smtpd_tls_cert_file smtpd_tls_eccert_file | paste -sd' ')" = "$pre" -a \
	"$(live_serial rsa)" = "$s_rsa"
check "5: no DNS change" test "$(served_all)" = "$dns0"
vf=$(events verification-failed | jq -r .MESSAGE | grep -c "renewed rsa certificate .*MTA-STS")
rb=$(events rollback-done | jq -r .MESSAGE | grep -c "renewed rsa certificate")
check "5: the journal has verification-failed ($vf) and rollback-done ($rb) for the renewal" \
	test "$vf" = 1 -a "$rb" = 1
check "5: the refused renewal's files are removed (no CA file of ours that main.cf does not name)" \
	test "$(find "$ROLL_PF" -maxdepth 1 -name '*-ca-*.pem' -newer "$W/renew5.out" | wc -l)" = 0
listener "$OTHER"
"$PFTLS" -c "$ROLL_CF" check >"$W/check5b.out" 2>"$W/check5b.err"
rc=$?
check "5: check exits 1 on a live leaf of our key for other names" test "$rc" = 1
check "5: check's message: it does not name the MX" \
	grep -q "$L2: the rsa certificate it presents fails what an MTA-STS sender checks (names): presented chain: the certificate does not name $ROLL_HOST (it names other.example.test)" "$W/check5b.err"
sed 's/^/#   /' "$W/check5b.err" | cut -c1-300
listener ""
client_conf uacme
"$PFTLS" -c "$ROLL_CF" check >"$W/check5c.out" 2>"$W/check5c.err"
check "5: without the listener, check passes again (exit 0)" test $? = 0
sed 's/^/#   /' "$W/check5c.err" | cut -c1-300
