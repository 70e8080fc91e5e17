#!/bin/bash
# dns_mock.sh - the replies BIND will not send, from a scripted server
# (tests/lib/dnsmock.py): wrong message ID, wrong source address, bad MAC,
# signing time outside the fudge, BADTIME, truncation (retried over TCP),
# SERVFAIL, silence, REFUSED, NOTAUTH, NOTZONE.  None may be believed: no
# "added" and a non-zero exit, except truncation, which must succeed over TCP.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/bind.sh"
. "$here/../lib/dns_common.sh"

T=$(mktemp -d /tmp/pftls-dns-mock.XXXXXX)
MOCK=127.53.0.10
ALT=127.53.0.11
mock_pid=""
cleanup() {
	[ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null
	bind_stop
	rm -rf "$T"
}
trap cleanup EXIT
bind_addr_add "$MOCK" && bind_addr_add "$ALT" || { fail "add loopback addresses"; exit 1; }

tsig-keygen -a hmac-sha256 mock-key >"$T/mock.key"
chmod 600 "$T/mock.key"
echo ok >"$T/mode"
: >"$T/log"
"$PY3" "$here/../lib/dnsmock.py" "$MOCK" "$ALT" example.test "$T/mock.key" "$T/mode" \
	"$T/log" "$T/ready" 180 2>"$T/mock.err" &
mock_pid=$!
for i in $(seq 100); do [ -e "$T/ready" ] && break; sleep 0.05; done
check "mock DNS server starts" [ -e "$T/ready" ] || exit 1

PF=$T/postfix
mkdir -p "$PF"
touch "$PF/main.cf" "$PF/master.cf"
cat >"$T/cf" <<EOF
postfix_config_directory = $PF
tlsa_hostnames = mx.example.test
dns_zone = example.test
dns_resolver = $MOCK
dns_update_server = $MOCK
dns_check_servers = $MOCK
dns_tsig_key_file = $T/mock.key
tlsa_ttl = 5
state_directory = $T/state
rollover_scheme = on-demand
control_socket = $T/control
EOF
# Short deadlines keep the retries of each case under two seconds.
export PFTLS_DNS_TIMEOUT_MS=400
K=$(new_key "$PF" eckey-20250101-000000.pem ec)
REC="3 1 1 $(spki_hex "$K")"
served() { dig +norec +short +nosplit +time=1 +tries=1 @"$MOCK" _25._tcp.mx.example.test TLSA; }
updates() { grep -c "^UPDATE .* $1 " "$T/log"; }

# case MODE EXPECTED-COUNT PATTERN: publish against the mode; nothing believed.
case_fail() {
	local m=$1 count=$2 pat=$3
	echo "$m" >"$T/mode"
	run -c "$T/cf" publish "$K"
	check "$m: publish exits 1" [ "$RC" -eq 1 ]
	check "$m: nothing reported as added" eval '! grep -q "added  *_25" <<<"$OUT"'
	check "$m: message \"$pat\" ($ERR)" grep -q -- "$pat" <<<"$ERR"
	# COUNT attempts; over UDP each attempt may resend its datagram twice
	# before its deadline, so retries are bounded by 3 x COUNT datagrams.
	local got
	got=$(updates "$m")
	if [ "$count" -eq 1 ]; then
		check "$m: stops at once: 1 UPDATE sent (got $got)" [ "$got" -eq 1 ]
	else
		check "$m: bounded retries: $count attempts, $count..$((3 * count)) datagrams (got $got)" \
			[ "$got" -ge "$count" -a "$got" -le $((3 * count)) ]
	fi
	check "$m: the server holds no record" [ -z "$(served)" ]
}

case_fail wrong-id 3 "after 3 attempts: update 1 of 1 for zone example.test.: timeout from $MOCK:53: .*not believed: a reply with the wrong message ID"
case_fail wrong-source 3 "timeout from $MOCK:53: .*not believed: a reply from $ALT:53, not from $MOCK:53"
case_fail bad-mac 3 "timeout from $MOCK:53: .*not believed: a NOERROR reply that failed TSIG verification: the reply's TSIG MAC does not verify"
case_fail bad-time 3 "timeout from $MOCK:53: .*not believed: a NOERROR reply that failed TSIG verification: the reply's TSIG signing time is outside the fudge"
case_fail silence 3 "after 3 attempts: update 1 of 1 for zone example.test.: timeout from $MOCK:53: no verified reply before the deadline"
case_fail servfail 3 "after 3 attempts: update 1 of 1 for zone example.test.: SERVFAIL from $MOCK:53: the server failed"
case_fail badtime 1 "BADTIME from $MOCK:53: the server's clock and ours differ by more than the TSIG fudge (its clock is 1000 s ahead of ours)"
case_fail refused 1 "REFUSED from $MOCK:53: the server refused the request"
case_fail notauth 1 "NOTAUTH from $MOCK:53: the server is not authoritative for the zone"
case_fail notzone 1 "NOTZONE from $MOCK:53: a name in the update is outside the zone"

echo truncate >"$T/mode"
run -c "$T/cf" publish "$K"
check "truncate: publish succeeds after retrying over TCP ($ERR)" [ "$RC" -eq 0 ]
check "truncate: the UPDATE went over UDP, then over TCP" \
	eval '[ "$(grep -c "^UPDATE udp truncate ignored" "$T/log")" -eq 1 ] && [ "$(grep -c "^UPDATE tcp truncate applied" "$T/log")" -eq 1 ]'
check "truncate: the server now serves the record" [ "$(served)" = "$REC" ]
check "an unsigned zone draws a loud warning" grep -q "WARNING: zone example.test. is not DNSSEC-signed" <<<"$ERR"
check "no message the mock could not verify (all our requests were well signed)" \
	eval '! grep -q "^BAD" "$T/log"'
