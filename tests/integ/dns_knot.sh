#!/bin/bash
# dns_knot.sh - publish, propagation and retire against a second DNS
# implementation: a Knot DNS primary that signs the zone automatically and
# takes TSIG-signed updates only through its ACLs, notifying a BIND secondary
# (tests/lib/knot.sh).  The cases of dns_bind.sh that depend on the server's
# behaviour, plus a large update over TCP; every outcome is checked by asking
# the servers.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/bind.sh"
. "$here/../lib/knot.sh"
. "$here/../lib/dns_common.sh"

T=$(mktemp -d /tmp/pftls-dns-knot.XXXXXX)
cleanup() {
	knot_stop
	rm -rf "$T"
}
trap cleanup EXIT
knot_start "$T/knot" 127.59.0 || { fail "Knot primary and BIND secondary start"; exit 1; }
pass "Knot primary and BIND secondary start, the secondary serves the signed zone"
NET=$BIND_NET
KEYS=$T/knot/keys
NAME=_25._tcp.mx.example.test
PF=$T/postfix
mkdir -p "$PF"
printf 'myhostname = mx.example.test\n' >"$PF/main.cf"
touch "$PF/master.cf"

# conf FILE [name = value...]: a pftls-roll.cf for the test topology; the
# lines given replace the defaults of the same name.
conf() { dns_conf "$T/knot/pftls-roll.cf.part" "$@"; }
conf "$T/cf"
CF=$T/cf

# served ADDR [OWNER]: the TLSA records ADDR serves, one a line, sorted.
served() { bind_tlsa "$1" "${2:-$NAME}"; }
# all_serve "3 1 1 HEX" [OWNER]: both servers serve the record.
all_serve() {
	local a
	for a in 1 2; do served "$NET.$a" "${2:-$NAME}" | grep -qx "$1" || return 1; done
}
none_serve() {
	local a
	for a in 1 2; do served "$NET.$a" "${2:-$NAME}" | grep -qx "$1" && return 1; done
	return 0
}
# Wait until the secondary serves the primary's serial (bounded).
settle() { bind_wait_serial "$NET.2" "$(bind_serial "$NET.1")"; }
# signed_tlsa ADDR OWNER: ADDR serves an RRSIG over the TLSA RRset.
signed_tlsa() {
	dig +norec +dnssec +time=1 +tries=1 @"$1" "$2" TLSA | grep -q "RRSIG[[:space:]]*TLSA"
}

K1=$(new_key "$PF" eckey-20250101-000000.pem ec)
K2=$(new_key "$PF" key-20250101-000000.pem rsa)
R1="3 1 1 $(spki_hex "$K1")"
R1b="3 1 2 $(spki_hex "$K1" sha512)"
R2="3 1 1 $(spki_hex "$K2")"

# ---- -n prints the message and sends nothing ---------------------------
serial0=$(bind_serial "$NET.1")
run -c "$CF" publish -n "$K1"
check "publish -n exits 0 ($ERR)" [ "$RC" -eq 0 ]
check "publish -n prints an UPDATE with a 'RRset does not exist' prerequisite" \
	grep -q "NONE	TLSA" <<<"$OUT"
check "publish -n changes nothing on the primary" \
	[ "$(bind_serial "$NET.1")" = "$serial0" -a -z "$(served "$NET.1")" ]

# ---- publish, then propagation --wait ---------------------------------
run -c "$CF" publish "$K1" "$K2"
check "publish of two keys to Knot exits 0 ($ERR)" [ "$RC" -eq 0 ]
check "publish reports 4 records added in 1 message, signed" \
	grep -q "4 added, 0 already present, in 1 update message;.*signed" <<<"$OUT"
check "Knot serves the records as soon as it acknowledged the update" \
	eval 'served $NET.1 | grep -qx "$R1" && served $NET.1 | grep -qx "$R2"'
run -c "$CF" propagation --wait "$K1" "$K2"
check "propagation --wait exits 0 ($ERR)" [ "$RC" -eq 0 ]
check "propagation says every server serves every record" \
	grep -q "every check server serves every record" <<<"$OUT"
check "the tool's claim holds: Knot and BIND serve all 4 records" \
	eval 'all_serve "$R1" && all_serve "$R1b" && all_serve "$R2"'
for a in 1 2; do
	s=$(bind_serial "$NET.$a")
	check "propagation row for $NET.$a: serial $s, 4/4, RRSIG yes, TTL 5, ok" \
		grep -Eq "$NET\.$a:53 +$s +4/4 +yes +5 +ok" <<<"$OUT"
	check "$NET.$a really serves an RRSIG over the TLSA RRset" signed_tlsa "$NET.$a" "$NAME"
done
check "the hidden Knot primary (SOA MNAME, not an NS) is checked as update server" \
	grep -q "ns1.example.test. (update) *$NET.1:53" <<<"$OUT"
check "SOA TTL and MINIMUM reported" grep -q "SOA 5 s, SOA MINIMUM 5 s" <<<"$OUT"
run -c "$CF" publish "$K1"
check "publishing again sends nothing: already present" \
	eval '[ $RC -eq 0 ] && grep -q "0 added, 2 already present, in 0 update messages" <<<"$OUT"'
run -c "$CF" retire "$K1" "$K2"
check "retire of both keys from Knot exits 0 ($ERR)" \
	eval '[ $RC -eq 0 ] && grep -q "4 deleted, 0 already absent, in 1 update message" <<<"$OUT"'
settle
check "after retire neither server serves the records" \
	eval 'none_serve "$R1" && none_serve "$R1b" && none_serve "$R2"'
check "the empty name is covered by signed denial (NSEC with RRSIG) on both servers" \
	eval 'for a in 1 2; do dig +norec +dnssec @$NET.$a $NAME TLSA | grep -q "RRSIG[[:space:]]*NSEC" || exit 1; done'

# ---- every TSIG algorithm against Knot --------------------------------
for a in sha1 sha224 sha384 sha512; do
	conf "$T/cf-$a" "dns_tsig_key_file = $KEYS/$a.key" "tlsa_records = 3 1 1"
	K=$(new_key "$PF" "eckey-alg-$a.pem" ec)
	run -c "$T/cf-$a" publish "$K"
	check "hmac-$a: publish signed and Knot's reply verified ($ERR)" \
		eval '[ $RC -eq 0 ] && grep -qx "3 1 1 $(spki_hex "$K")" <<<"$(served $NET.1)"'
	run -c "$T/cf-$a" retire "$K"
	check "hmac-$a: retire ($ERR)" \
		eval '[ $RC -eq 0 ] && ! grep -qx "3 1 1 $(spki_hex "$K")" <<<"$(served $NET.1)"'
done

# ---- a large update goes over TCP -------------------------------------
hosts=$(for i in $(seq 30); do printf 'mx%02d.example.test ' "$i"; done)
conf "$T/cf-many" "tlsa_hostnames = $hosts"
K8=$(new_key "$PF" eckey-20250105-000000.pem ec)
R8="3 1 1 $(spki_hex "$K8")"
"$PFTLS" -v -c "$T/cf-many" publish "$K8" >"$T/many.out" 2>"$T/many.err"
check "publish of 60 records to Knot exits 0" [ $? -eq 0 ]
check "the update (over 512 octets) went over TCP in one message" \
	eval 'grep -q "sending update 1 of 1 .* over TCP" "$T/many.err" &&
		grep -q "60 added, 0 already present, in 1 update message" "$T/many.out"'
run -c "$T/cf-many" propagation --wait "$K8"
check "propagation --wait of 60 records exits 0 ($ERR)" \
	eval '[ $RC -eq 0 ] && grep -Eq "$NET.2:53 .* 60/60 +yes" <<<"$OUT"'
check "the first and the last name are served by both servers" \
	eval 'all_serve "$R8" _25._tcp.mx01.example.test && all_serve "$R8" _25._tcp.mx30.example.test'
run -c "$T/cf-many" retire "$K8"
check "retire of 60 records exits 0 ($ERR)" \
	eval '[ $RC -eq 0 ] && grep -q "60 deleted, 0 already absent, in 1 update message" <<<"$OUT"'
settle
check "after retire the last name is served by neither server" \
	none_serve "$R8" _25._tcp.mx30.example.test

# ---- an RRset too large for UDP: Knot truncates, we read it over TCP ----
BIG=_25._tcp.big.example.test
knot_nsupdate "$KEYS/pftls.key" "$(for i in $(seq 20); do
	printf 'update add %s. 5 IN TLSA 3 1 2 %0128X\n' "$BIG" "$i"; done)" >/dev/null
settle
check "setup: Knot truncates the 20-record RRset over UDP" \
	eval 'dig +norec +dnssec +ignore @$NET.1 $BIG TLSA | grep -q "flags: qr aa tc"'
conf "$T/cf-big" "tlsa_hostnames = big.example.test" "tlsa_records = 3 1 1"
K9=$(new_key "$PF" eckey-20250106-000000.pem ec)
R9="3 1 1 $(spki_hex "$K9")"
big_before=$(served "$NET.1" "$BIG")
run -c "$T/cf-big" publish "$K9"
check "publish next to 20 records (read over TCP) exits 0 ($ERR)" \
	eval '[ $RC -eq 0 ] && grep -q "1 added, 0 already present, in 1 update message" <<<"$OUT"'
run -c "$T/cf-big" propagation --wait "$K9"
check "propagation of the truncated RRset: both servers 1/1 signed ($ERR)" \
	eval '[ $RC -eq 0 ] && [ "$(grep -Ec ":53 +[0-9]+ +1/1 +yes +5 +ok" <<<"$OUT")" -eq 2 ]'
check "both servers serve our record and the 20 others" \
	eval 'all_serve "$R9" $BIG && [ "$(served $NET.2 $BIG | grep -c "^3 1 2 ")" -eq 20 ]'
run -c "$T/cf-big" retire "$K9"
settle
check "retire from the large RRset leaves exactly the 20 others ($ERR)" \
	eval '[ $RC -eq 0 ] && [ "$(served $NET.1 $BIG)" = "$big_before" ] &&
		[ "$(served $NET.2 $BIG)" = "$big_before" ]'

# ---- records we did not create survive publish and retire --------------
OTHER="3 1 1 $(printf '%064d' 0 | tr 0 A)"
USAGE2="2 1 1 $(printf '%064d' 0 | tr 0 B)"
knot_nsupdate "$KEYS/pftls.key" "update add $NAME. 7 IN TLSA ${OTHER}
update add $NAME. 7 IN TLSA ${USAGE2}" >/dev/null
settle
check "setup: both servers serve another host's record and a usage-2 record" \
	eval 'all_serve "$OTHER" && all_serve "$USAGE2"'
K4=$(new_key "$PF" eckey-20250103-000000.pem ec)
R4="3 1 1 $(spki_hex "$K4")"
before=$(served "$NET.1")
run -c "$CF" publish "$K4"
check "publish into an RRset holding others' records exits 0 ($ERR)" [ "$RC" -eq 0 ]
check "publish joins the existing RRset with its TTL (7), not tlsa_ttl" \
	grep -q "added .* 7 IN TLSA 3 1 1" <<<"$OUT"
settle
check "our records are served next to the others'" all_serve "$R4"
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
check "the remaining RRset is still signed on both servers" \
	eval 'signed_tlsa $NET.1 $NAME && signed_tlsa $NET.2 $NAME'

# ---- a record someone else changed meanwhile ---------------------------
run -c "$CF" publish "$K4"
knot_nsupdate "$KEYS/pftls.key" "update delete $NAME. IN TLSA $R4" >/dev/null
run -c "$CF" retire "$K4"
check "retire of a record someone else already removed: exit 0, reported as already absent" \
	eval '[ $RC -eq 0 ] && grep -q "already absent  *$NAME. IN TLSA $(tr A-F a-f <<<"$R4")" <<<"$OUT"'

# ---- six hosts sharing one TLSA name, side by side (dns_common.sh) ----
dns_six_writers

# ---- failures: clear error, non-zero exit, nothing changed -------------
K7=$(new_key "$PF" eckey-20250104-000000.pem ec)
settle
snapshot() { for a in 1 2; do bind_serial "$NET.$a"; served "$NET.$a"; served "$NET.$a" _25._tcp.limited.example.test; done; }
zone_before=$(snapshot)

# expect_fail NAME PATTERN CF [HOST]: publish K7 fails with PATTERN, zone
# unchanged.
expect_fail() {
	run -c "$3" publish "$K7"
	check "$1: exit 1" [ "$RC" -eq 1 ]
	check "$1: message says \"$2\" ($ERR)" grep -q -- "$2" <<<"$ERR"
	check "$1: one line on stderr" [ "$(wc -l <<<"$ERR")" -eq 1 ]
	check "$1: nothing changed on any server" [ "$(snapshot)" = "$zone_before" ]
}
sed "s|secret \".*\"|secret \"$(openssl rand -base64 32)\"|" "$KEYS/pftls.key" >"$T/wrong.key"
chmod 600 "$T/wrong.key"
conf "$T/cf-wrong" "dns_tsig_key_file = $T/wrong.key"
expect_fail "wrong TSIG secret" "BADSIG from $NET.1:53: the server could not verify our TSIG signature" "$T/cf-wrong"
tsig-keygen -a hmac-sha256 no-such-key >"$T/unknown.key"
chmod 600 "$T/unknown.key"
conf "$T/cf-unknown" "dns_tsig_key_file = $T/unknown.key"
expect_fail "unknown TSIG key name" "BADKEY from $NET.1:53: the server does not know the TSIG key" "$T/cf-unknown"
# Knot denies an update its ACL does not allow with NOTAUTH/BADKEY, not
# REFUSED: the message must say the key is known and the update refused.
conf "$T/cf-limited" "dns_tsig_key_file = $KEYS/limited.key"
expect_fail "update Knot's ACL refuses" \
	"BADKEY from $NET.1:53: the server knows the TSIG key .* but refuses this update for it" "$T/cf-limited"
conf "$T/cf-limited-ok" "dns_tsig_key_file = $KEYS/limited.key" "tlsa_hostnames = limited.example.test"
run -c "$T/cf-limited-ok" publish "$K7"
check "the limited key may change its own name: the ACL, not the key, refused before ($ERR)" \
	eval '[ $RC -eq 0 ] && served $NET.1 _25._tcp.limited.example.test | grep -qx "3 1 1 $(spki_hex "$K7")"'
run -c "$T/cf-limited-ok" retire "$K7"
settle
zone_before=$(snapshot)
grep -v '^dns_tsig_key_file' "$CF" >"$T/cf-unsigned"
expect_fail "an unsigned update" "NOTAUTH from $NET.1:53: .*not authorized" "$T/cf-unsigned"
conf "$T/cf-outside" "tlsa_hostnames = mx.elsewhere.test"
expect_fail "a name outside any zone" "cannot look up _25._tcp.mx.elsewhere.test. SOA: resolver $NET.1:53: REFUSED" "$T/cf-outside"
conf "$T/cf-notzone" "tlsa_hostnames = mx.elsewhere.test" "dns_zone = example.test"
run -c "$T/cf-notzone" publish "$K7"
check "a name outside dns_zone: exit 2 and the name in the message" \
	eval '[ $RC -eq 2 ] && grep -q "_25._tcp.mx.elsewhere.test. is not in dns_zone example.test." <<<"$ERR"'
check "no TSIG secret in any output" \
	eval '! grep -qF "$(sed -n "s/.*secret \"\(.*\)\".*/\1/p" "$KEYS/pftls.key")" <<<"$OUT$ERR"'
check "after all failures the zone is unchanged" [ "$(snapshot)" = "$zone_before" ]
