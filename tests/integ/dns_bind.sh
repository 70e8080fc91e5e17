#!/bin/bash
# dns_bind.sh - publish, propagation and retire against a real BIND: a
# signing primary that takes TSIG-signed updates only and two secondaries
# (tests/lib/bind.sh).  Every outcome is checked by asking the servers.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/bind.sh"
. "$here/../lib/dns_common.sh"

T=$(mktemp -d /tmp/pftls-dns-bind.XXXXXX)
cleanup() {
	bind_stop
	rm -rf "$T"
}
trap cleanup EXIT
bind_start "$T/bind" || { fail "BIND topology starts"; exit 1; }
NET=$BIND_NET
NAME=_25._tcp.mx.example.test
PF=$T/postfix
mkdir -p "$PF"
printf 'myhostname = mx.example.test\n' >"$PF/main.cf"
touch "$PF/master.cf"

# conf FILE [name = value...]: a pftls-roll.cf for the test topology; the
# lines given replace the defaults of the same name.
conf() { dns_conf "$T/bind/pftls-roll.cf.part" "$@"; }
conf "$T/cf"
CF=$T/cf

# served ADDR: the TLSA records ADDR serves at NAME, one a line, sorted.
served() { bind_tlsa "$1" "$NAME"; }
# all_serve "3 1 1 HEX": every server serves the record.
all_serve() {
	local a
	for a in 1 2 3; do served "$NET.$a" | grep -qx "$1" || return 1; done
}
none_serve() {
	local a
	for a in 1 2 3; do served "$NET.$a" | grep -qx "$1" && return 1; done
	return 0
}
# Wait until the three servers serve the same serial (bounded).
settle() {
	local s
	s=$(bind_serial "$NET.1")
	bind_wait_serial "$NET.2" "$s" && bind_wait_serial "$NET.3" "$s"
}

K1=$(new_key "$PF" eckey-20250101-000000.pem ec)
K2=$(new_key "$PF" key-20250101-000000.pem rsa)
R1="3 1 1 $(spki_hex "$K1")"
R1b="3 1 2 $(spki_hex "$K1" sha512)"
R2="3 1 1 $(spki_hex "$K2")"

# ---- -n prints the message and sends nothing ---------------------------
serial0=$(bind_serial "$NET.1")
run -c "$CF" publish -n "$K1"
check "publish -n exits 0" [ "$RC" -eq 0 ]
check "publish -n prints an UPDATE with a 'RRset does not exist' prerequisite" \
	grep -q "NONE	TLSA" <<<"$OUT"
check "publish -n prints both records of the key" \
	[ "$(grep -ic "IN	TLSA	3 1 [12] " <<<"$OUT")" -eq 2 ]
check "publish -n changes nothing on the primary" \
	[ "$(bind_serial "$NET.1")" = "$serial0" -a -z "$(served "$NET.1")" ]

# ---- publish, then propagation --wait ---------------------------------
run -c "$CF" publish "$K1" "$K2"
check "publish of two keys exits 0 ($ERR)" [ "$RC" -eq 0 ]
check "publish reports 4 records added in 1 message, signed" \
	grep -q "4 added, 0 already present, in 1 update message;.*signed" <<<"$OUT"
run -c "$CF" propagation --wait "$K1" "$K2"
check "propagation --wait exits 0 ($ERR)" [ "$RC" -eq 0 ]
check "propagation says every server serves every record" \
	grep -q "every check server serves every record" <<<"$OUT"
check "the tool's claim holds: all three servers serve all 4 records" \
	eval 'all_serve "$R1" && all_serve "$R1b" && all_serve "$R2"'
for a in 1 2 3; do
	s=$(bind_serial "$NET.$a")
	check "propagation row for $NET.$a: serial $s, 4/4, RRSIG yes, TTL 5, ok" \
		grep -Eq "$NET\.$a:53 +$s +4/4 +yes +5 +ok" <<<"$OUT"
	check "$NET.$a really serves an RRSIG over the TLSA RRset" \
		eval "dig +norec +dnssec @$NET.$a $NAME TLSA | grep -q 'RRSIG[[:space:]]*TLSA'"
done
check "the hidden primary (SOA MNAME, not an NS) is checked and marked as update server" \
	grep -q "ns1.example.test. (update) *$NET.1:53" <<<"$OUT"
check "SOA TTL and MINIMUM reported" grep -q "SOA 5 s, SOA MINIMUM 5 s" <<<"$OUT"
check "propagation --wait says when deployment becomes safe" \
	grep -q "deployment becomes safe at" <<<"$OUT"
run -c "$CF" publish "$K1"
check "publishing again sends nothing: already present" \
	eval '[ $RC -eq 0 ] && grep -q "0 added, 2 already present, in 0 update messages" <<<"$OUT"'

# ---- every TSIG algorithm against BIND -------------------------------
for a in sha1 sha224 sha384 sha512; do
	conf "$T/cf-$a" "dns_tsig_key_file = $T/bind/keys/$a.key" "tlsa_records = 3 1 1"
	K=$(new_key "$PF" "eckey-alg-$a.pem" ec)
	run -c "$T/cf-$a" publish "$K"
	check "hmac-$a: publish signed and verified ($ERR)" \
		eval '[ $RC -eq 0 ] && grep -qx "3 1 1 $(spki_hex "$K")" <<<"$(served $NET.1)"'
	run -c "$T/cf-$a" retire "$K"
	check "hmac-$a: retire ($ERR)" \
		eval '[ $RC -eq 0 ] && ! grep -qx "3 1 1 $(spki_hex "$K")" <<<"$(served $NET.1)"'
done
settle

# ---- a stopped secondary ----------------------------------------------
K3=$(new_key "$PF" eckey-20250102-000000.pem ec)
R3="3 1 1 $(spki_hex "$K3")"
kill -STOP "$BIND_S3_PID"
run -c "$CF" publish "$K3"
check "publish while ns3 is stopped succeeds (ns3 is not the update server)" [ "$RC" -eq 0 ]
run -c "$CF" propagation "$K3"
check "propagation with ns3 stopped exits 1" [ "$RC" -eq 1 ]
check "propagation names ns3 as not answering" \
	grep -Eq "ns3.example.test. +$NET.3:53 +- +- .*no answer" <<<"$OUT"
check "propagation says not every server serves every record" \
	grep -q "not every check server serves every record" <<<"$OUT"
# --wait must keep waiting while ns3 is stopped, and finish after SIGCONT.
"$PFTLS" -c "$CF" propagation --wait "$K3" >"$T/wait.out" 2>"$T/wait.err" &
wpid=$!
# It cannot finish while ns3 cannot answer; wait until it has said so.
for i in $(seq 100); do grep -q "waiting for ns3" "$T/wait.err" && break; sleep 0.1; done
check "propagation --wait reports it is waiting for ns3" grep -q "waiting for ns3.example.test. $NET.3:53" "$T/wait.err"
check "propagation --wait is still waiting while ns3 is stopped" kill -0 "$wpid"
kill -CONT "$BIND_S3_PID"
# Bounded: the command has 60 s to notice, then it is stopped.
( sleep 60; kill "$wpid" 2>/dev/null ) &
guard=$!
wait "$wpid"
wrc=$?
kill "$guard" 2>/dev/null
check "propagation --wait finishes with 0 after SIGCONT" [ "$wrc" -eq 0 ]
check "after SIGCONT ns3 serves the new record" eval 'served $NET.3 | grep -qx "$R3"'
run -c "$CF" retire "$K3"
settle

# ---- records we did not create survive publish and retire --------------
OTHER="3 1 1 $(printf '%064d' 0 | tr 0 a | tr a-f A-F)"
USAGE2="2 1 1 $(printf '%064d' 0 | tr 0 b | tr a-f A-F)"
bind_nsupdate "$T/bind/keys/pftls.key" "update add $NAME. 7 IN TLSA ${OTHER}
update add $NAME. 7 IN TLSA ${USAGE2}" >/dev/null
settle
K4=$(new_key "$PF" eckey-20250103-000000.pem ec)
R4="3 1 1 $(spki_hex "$K4")"
before=$(served "$NET.1")
run -c "$CF" publish "$K4"
check "publish into an RRset holding others' records exits 0 ($ERR)" [ "$RC" -eq 0 ]
check "publish joins the existing RRset with its TTL (7), not tlsa_ttl" \
	grep -q "added .* 7 IN TLSA 3 1 1" <<<"$OUT"
settle
check "another host's 3 1 1 record survives publish" all_serve "$OTHER"
check "the usage-2 record survives publish" all_serve "$USAGE2"
check "the RRset TTL is still 7" \
	eval "dig +norec @$NET.1 $NAME TLSA | grep -q \"^$NAME\\.[[:space:]]*7[[:space:]]\""
run -c "$CF" retire "$K4"
check "retire exits 0 ($ERR)" [ "$RC" -eq 0 ]
settle
check "retire removed our records" eval 'none_serve "$R4"'
check "another host's 3 1 1 record survives retire" all_serve "$OTHER"
check "the usage-2 record survives retire" all_serve "$USAGE2"
check "the RRset is what it was before publish" [ "$(served "$NET.1")" = "$before" ]

# ---- a record someone else removed meanwhile is reported -------------
run -c "$CF" publish "$K4"
bind_nsupdate "$T/bind/keys/pftls.key" "update delete $NAME. IN TLSA $R4" >/dev/null
run -c "$CF" retire "$K4"
check "retire of a record someone else already removed: exit 0, reported as already absent" \
	eval '[ $RC -eq 0 ] && grep -q "already absent  *$NAME. IN TLSA $(tr A-F a-f <<<"$R4")" <<<"$OUT"'

# ---- six hosts sharing one TLSA name, side by side (dns_common.sh) ----
dns_six_writers

# ---- failures: clear error, non-zero exit, nothing changed -------------
K7=$(new_key "$PF" eckey-20250104-000000.pem ec)
R7="3 1 1 $(spki_hex "$K7")"
settle
snapshot() { for a in 1 2 3; do bind_serial "$NET.$a"; served "$NET.$a"; done; }
zone_before=$(snapshot)

# expect_fail NAME PATTERN CF: publish K7 fails with PATTERN, zone unchanged.
expect_fail() {
	run -c "$3" publish "$K7"
	check "$1: exit 1" [ "$RC" -eq 1 ]
	check "$1: message says \"$2\" ($ERR)" grep -q "$2" <<<"$ERR"
	check "$1: one line on stderr" [ "$(wc -l <<<"$ERR")" -eq 1 ]
	check "$1: nothing changed on any server" [ "$(snapshot)" = "$zone_before" ]
}
# A wrong secret for the right key name.
sed "s|secret \".*\"|secret \"$(openssl rand -base64 32)\"|" "$T/bind/keys/pftls.key" >"$T/wrong.key"
chmod 600 "$T/wrong.key"
conf "$T/cf-wrong" "dns_tsig_key_file = $T/wrong.key"
expect_fail "wrong TSIG secret" "BADSIG from $NET.1:53: the server could not verify our TSIG signature" "$T/cf-wrong"
tsig-keygen -a hmac-sha256 no-such-key >"$T/unknown.key"
chmod 600 "$T/unknown.key"
conf "$T/cf-unknown" "dns_tsig_key_file = $T/unknown.key"
expect_fail "unknown TSIG key name" "BADKEY from $NET.1:53: the server does not know the TSIG key" "$T/cf-unknown"
conf "$T/cf-limited" "dns_tsig_key_file = $T/bind/keys/limited.key"
expect_fail "update the server's policy refuses" "REFUSED from $NET.1:53: the server refused" "$T/cf-limited"
conf "$T/cf-outside" "tlsa_hostnames = mx.elsewhere.test"
expect_fail "a name outside any zone" "cannot look up _25._tcp.mx.elsewhere.test. SOA: resolver $NET.1:53: REFUSED" "$T/cf-outside"
conf "$T/cf-notzone" "tlsa_hostnames = mx.elsewhere.test" "dns_zone = example.test"
run -c "$T/cf-notzone" publish "$K7"
check "a name outside dns_zone: exit 2 and the name in the message" \
	eval '[ $RC -eq 2 ] && grep -q "_25._tcp.mx.elsewhere.test. is not in dns_zone example.test." <<<"$ERR"'
cp "$T/bind/keys/pftls.key" "$T/open.key"
chmod 644 "$T/open.key"
conf "$T/cf-open" "dns_tsig_key_file = $T/open.key"
run -c "$T/cf-open" publish "$K7"
check "a TSIG key file readable by others: exit 3, file and mode named" \
	eval '[ $RC -eq 3 ] && grep -q "$T/open.key has mode 0644" <<<"$ERR"'
check "no TSIG secret in any output" \
	eval '! grep -qF "$(sed -n "s/.*secret \"\(.*\)\".*/\1/p" "$T/bind/keys/pftls.key")" <<<"$OUT$ERR"'
check "after all failures the zone is unchanged" [ "$(snapshot)" = "$zone_before" ]

# ---- retire refuses a deployed key -----------------------------------
run -c "$CF" publish "$K7"
postconf -c "$PF" -e "smtpd_tls_eckey_file = $K7" 2>/dev/null
run -c "$CF" retire "$K7"
check "retire of the key main.cf deploys: exit 3, says why" \
	eval '[ $RC -eq 3 ] && grep -q "refusing to retire $K7: Postfix uses this key (smtpd_tls_eckey_file" <<<"$ERR"'
check "the deployed key's records are still served" eval 'served $NET.1 | grep -qx "$R7"'
cp "$K7" "$PF/copy-of-k7.pem"
postconf -c "$PF" -e "smtpd_tls_eckey_file = $PF/copy-of-k7.pem" 2>/dev/null
run -c "$CF" retire "$K7"
check "retire refuses a key deployed under another file name (same public key)" [ "$RC" -eq 3 ]
postconf -c "$PF" -e "smtpd_tls_eckey_file =" 2>/dev/null
run -c "$CF" retire "$K7"
check "retire once it is no longer deployed" [ "$RC" -eq 0 ]

run -c "$CF" publish
check "publish without key files and no pending rollover: refused, exit 3" \
	eval '[ $RC -eq 3 ] && grep -q "no pending keys to publish" <<<"$ERR"'
