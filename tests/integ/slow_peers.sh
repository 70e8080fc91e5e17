#!/bin/bash
# tests/integ/slow_peers.sh - deadlines that must hold against a real BIND
# topology (tests/lib/bind.sh) and what no real server does on purpose
# (SPEC.md 5 rule 7):
#   - pftls-roll check with verify_endpoints an SMTP server that answers
#     the greeting, EHLO and STARTTLS correctly and then trickles a TLS
#     ServerHello a byte every 2 s (tests/lib/smtp_trickle.py): check ends
#     within the probe's 10 s limit plus a margin, naming the endpoint and
#     "TLS handshake: timed out" (per-read timeouts let it run for minutes);
#   - a FIFO as dns_tsig_key_file: publish -n, which reads the key after
#     the zone is found, is refused at once naming the file.
# Each command is bounded by timeout, so a hang shows as a failure.
# About 30 s.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/bind.sh"
. "$here/../lib/dns_common.sh"

T=$(mktemp -d /tmp/pftls-slow-peers.XXXXXX) || exit 1
trickle_pid=""
cleanup() {
	[ -n "$trickle_pid" ] && kill "$trickle_pid" 2>/dev/null && wait "$trickle_pid" 2>/dev/null
	bind_stop
	rm -rf "$T"
}
trap cleanup EXIT
bind_start "$T/bind" 127.58.9 || { fail "BIND topology starts"; exit 1; }
NET=$BIND_NET
SMTP=$NET.25
bind_addr_add "$SMTP" || { fail "add $SMTP"; exit 1; }

PF=$T/postfix
mkdir -p "$PF" "$T/state"
touch "$PF/master.cf"
K=$(new_key "$PF" key-20250101-000000.pem rsa)
openssl req -x509 -new -key "$K" -subj /CN=mx.example.test -days 30 \
	-out "$PF/cert-20250101-000000.pem" 2>/dev/null
printf 'smtpd_tls_cert_file = %s\nsmtpd_tls_key_file = %s\n' \
	"$PF/cert-20250101-000000.pem" "$K" >"$PF/main.cf"
dns_conf "$T/bind/pftls-roll.cf.part" "$T/cf" "verify_endpoints = $SMTP:25"

"$PY3" "$here/../lib/smtp_trickle.py" "$SMTP" 25 "$T/ready" 2 2>"$T/trickle.err" &
trickle_pid=$!
for _ in $(seq 100); do [ -e "$T/ready" ] && break; sleep 0.05; done
check "the trickling SMTP server listens on $SMTP:25" [ -e "$T/ready" ] || exit 1

# check probes the endpoints once the key's records are served everywhere.
run -c "$T/cf" publish "$K"
check "the deployed key's records are published" [ "$RC" -eq 0 ]
rec="3 1 1 $(spki_hex "$K")"
for _ in $(seq 100); do
	n=0
	for a in 1 2 3; do bind_tlsa "$NET.$a" _25._tcp.mx.example.test | grep -qx "$rec" && n=$((n + 1)); done
	[ "$n" -eq 3 ] && break
	sleep 0.1
done
check "the records are served by all three servers" [ "$n" -eq 3 ]

t0=$(date +%s%N)
timeout 40 "$PFTLS" -c "$T/cf" check >"$T/out" 2>&1
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
line=$(grep -F "$SMTP:25" "$T/out" | head -1)
if [ "$rc" -eq 124 ]; then
	fail "check against a server trickling its TLS handshake: still running after 40 s (killed by timeout)"
elif [ "$rc" -ne 0 ] && [ "$ms" -lt 15000 ] && grep -qF "TLS handshake: timed out" <<<"$line"; then
	pass "check against a server trickling its TLS handshake ends in $ms ms (probe limit 10 s), exit $rc: $line"
else
	fail "check against a server trickling its TLS handshake: exit $rc after $ms ms: ${line:-$(tail -1 "$T/out")}"
fi

mkfifo "$T/tsig.fifo"
# The configuration names the key file after the fragment's line.
sed -i "s|^dns_tsig_key_file = .*|dns_tsig_key_file = $T/tsig.fifo|" "$T/cf"
t0=$(date +%s%N)
timeout 20 "$PFTLS" -c "$T/cf" publish -n "$K" >/dev/null 2>"$T/err" </dev/null
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
if [ "$rc" -eq 124 ]; then
	fail "a FIFO as dns_tsig_key_file: publish -n still running after 20 s (killed by timeout)"
elif [ "$rc" -ne 0 ] && grep -qF "$T/tsig.fifo is not a regular file" "$T/err"; then
	pass "a FIFO as dns_tsig_key_file is refused in $ms ms, exit $rc: $(head -1 "$T/err")"
else
	fail "a FIFO as dns_tsig_key_file: exit $rc after $ms ms: $(head -1 "$T/err")"
fi
