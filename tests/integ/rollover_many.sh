#!/bin/bash
# tests/integ/rollover_many.sh - one pftls-rolld rolls many names (SPEC.md 7,
# issue 6): 520 names x RSA + ECDSA x records 3 1 1 and 3 1 2 (2,080 new
# TLSA records, 4,160 records in the state with the old ones) against real
# BIND (signing primary + 2 secondaries on 127.65.0.1-3) and a running
# Postfix on 127.65.0.26 (tests/lib/scale.sh), by `pftls-roll now --wait`.
# The third secondary is checked across a slow link: tests/lib/udp_delay.py
# on 127.65.0.4 adds 250 ms to every exchange with it (dns_check_servers
# names the proxy), so that its 521 questions of a round take about 4 s,
# 32 in flight at a time.  Each question has its own 2 s deadline; with
# one deadline for the whole round (as before) such a server never
# completed a round and the rollover waited in phase published for ever.
# Afterwards every name serves exactly the new records on every server and
# none of the old, main.cf deploys the new keys, the live server presents
# them, and the verification passed at the first try.
#
# The size is chosen to cross the limits this once broke on: the state held
# at most 4,096 records, and a STARTTLS probe request at most 1,024 records
# (the verification sent each name's copy of the same record).
set -u
cd "$(dirname "$0")/../.."
. tests/lib/rollover.sh
. tests/lib/scale.sh
NAMES=520
DELAY_MS=250
DPID="" PROXY=""

W=$(mktemp -d /tmp/pftls-roll-many.XXXXXX)
cleanup() {
	[ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	[ -n "$PROXY" ] && kill "$PROXY" 2>/dev/null && wait "$PROXY" 2>/dev/null
	roll_cleanup
	rm -rf "$W"
}
trap cleanup EXIT

[ -x "$PFTLS_DAEMON" ] || { fail "pftls-rolld is built ($PFTLS_DAEMON)"; exit 1; }
scale_setup "$W" "$NAMES" "$SCALE_NET.26" >"$W/setup.log" 2>&1 ||
	{ fail "sandbox starts and the old records are served: $(tail -3 "$W/setup.log")"; exit 1; }
"$PY3" tests/lib/udp_delay.py "$SCALE_NET.4" 53 "$SCALE_NET.3" 53 "$DELAY_MS" 600 >"$W/proxy.out" 2>&1 &
PROXY=$!
for ((i = 0; i < 50; i++)); do grep -q ready "$W/proxy.out" && break; sleep 0.1; done
check_eq "the slow link to $SCALE_NET.3 ($SCALE_NET.4, +$DELAY_MS ms) answers for the zone" \
	"$(dig +short +norec @"$SCALE_NET.3" example.test SOA)" \
	"$(dig +short +norec +time=3 @"$SCALE_NET.4" example.test SOA)"
roll_conf "tlsa_hostnames = $SCALE_NAMES" "verify_endpoints = $SCALE_NET.26:25" \
	"tlsa_records = 3 1 1, 3 1 2" \
	"dns_check_servers = $SCALE_NET.1, $SCALE_NET.2, $SCALE_NET.4"
OLD_RSA=$(roll_deployed rsa) OLD_EC=$(roll_deployed ecdsa)
OLD1=$(roll_rec "$OLD_RSA") OLD2=$(roll_rec "$OLD_EC")
check_eq "before: each server serves the 2 old records at each of the $NAMES names" \
	"$((2 * NAMES)) $((2 * NAMES)) $((2 * NAMES))" \
	"$(for s in 1 2 3; do printf '%s ' "$(scale_served "$SCALE_NET.$s" | wc -l)"; done | sed 's/ $//')"

"$PFTLS_DAEMON" -c "$ROLL_CF" >"$W/daemon.out" 2>"$W/daemon.err" &
DPID=$!
for ((i = 0; i < 100; i++)); do [ -S "$W/control" ] && break; sleep 0.1; done
check "the daemon starts (control socket)" test -S "$W/control"

# Bounded: a round that can never complete would otherwise wait for ever.
timeout 240 "$PFTLS" -c "$ROLL_CF" now --wait >"$W/now.out" 2>"$W/now.err"
RC=$?
check_eq "now --wait: exit 0 (stderr: $(tail -1 "$W/now.err"))" 0 "$RC"
check "every check server was confirmed, the slow one ($SCALE_NET.4:53) too" \
	eval '[ "$(grep -c "server-confirmed: " "$W/daemon.err")" = 3 ] &&
		grep -q "server-confirmed: $SCALE_NET.4:53 serves every new record" "$W/daemon.err"'
check_eq "phase idle afterwards, the daemon still running" "idle 0" \
	"$(roll_phase) $(kill -0 "$DPID" 2>/dev/null; echo $?)"
check_eq "the rollover was not failed or rolled back on the way" "" \
	"$(grep -oE 'rollover-failed|verification-failed|rollback-done|state-invalid' "$W/daemon.err" | sort -u | paste -sd' ')"

NEW_RSA=$(roll_deployed rsa) NEW_EC=$(roll_deployed ecdsa)
check "main.cf deploys new RSA and ECDSA keys" \
	test "$NEW_RSA" != "$OLD_RSA" -a "$NEW_EC" != "$OLD_EC" -a -f "$NEW_RSA" -a -f "$NEW_EC"
check_eq "the live server presents the new keys (s_client)" \
	"$(roll_key_spki "$NEW_RSA") $(roll_key_spki "$NEW_EC")" \
	"$(roll_live_spki rsa "$SCALE_NET.26:25") $(roll_live_spki ecdsa "$SCALE_NET.26:25")"

# Exactly the 4 new records at every name, on every server.
recs=("$(roll_rec "$NEW_RSA")" "$(roll_rec "$NEW_EC")"
	"3 1 2 $(spki_hex "$NEW_RSA" sha512)" "3 1 2 $(spki_hex "$NEW_EC" sha512)")
want=$(for h in $SCALE_NAMES; do
	for rec in "${recs[@]}"; do echo "_25._tcp.$h. $rec"; done
done | sort)
for s in 1 2 3; do
	got=$(scale_served "$SCALE_NET.$s")
	check_eq "$SCALE_NET.$s: every name serves exactly its 4 new records ($((4 * NAMES)) in all)" \
		"$(md5sum <<<"$want")" "$(md5sum <<<"$got")"
	check_eq "$SCALE_NET.$s: no old record left at any name" 0 \
		"$(grep -c -e " $OLD1\$" -e " $OLD2\$" <<<"$got")"
done
check_eq "one new key and certificate per algorithm on disk" "2 2 2 2" \
	"$(roll_nfiles 'key-*.pem') $(roll_nfiles 'eckey-*.pem') $(roll_nfiles 'cert-*.pem') $(roll_nfiles 'eccert-*.pem')"
