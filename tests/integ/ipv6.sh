#!/bin/bash
# tests/integ/ipv6.sh - check servers and verify endpoints on IPv6 (ULA)
# addresses, with real BIND and Postfix in the test's own namespaces
# (tests/lib/rollover.sh with ROLL_FAMILY=dual: every BIND server on an
# IPv4 and an IPv6 address, the zone with an A and an AAAA for each NS,
# notifies and transfers over IPv6, Postfix listening on both families):
#   - pftls-rolld runs a full rollover; it discovers and polls every A and
#     every AAAA of ns2 and ns3 ([fd00:57:15::2]:53 ... in the journal's
#     server-confirmed entries and in the status), sends the update to the
#     primary's IPv6 address, and verifies the verify endpoint, a name
#     (/etc/hosts of the test's mount namespace) with an A and an AAAA, on
#     both addresses; openssl s_client sees the new keys on the IPv6 one;
#     `check` passes;
#   - ns3's AAAA then answers from another server, which serves the zone as
#     it was before the rollover (its IPv4 address still serves the current
#     records): `check` exits 1 naming [fd00:57:15::3]:53 and not
#     127.57.15.3:53, the audit logs audit-records-missing naming it, and a
#     rollover started then never counts that address as confirmed (a
#     propagation alert names it) while its IPv4 address is confirmed.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/journald.sh
journald_enter_ns "$0" "$@"
. tests/lib/rollover.sh

[ -x "$PFTLS_DAEMON" ] || { fail "pftls-rolld is built ($PFTLS_DAEMON)"; exit 1; }
CONFIRMED_ID=b9d815f0da3b422cacdfb2126ae3056d # server-confirmed
RM_ID=2885bd22fcc442648bde7206f8bda2c3    # audit-records-missing
ALERT_ID=1fd2cc6e74224da09acfea2725d7f216     # propagation-alert

ROLL_FAMILY=dual
roll_begin ipv6 15 journal
N6=$ROLL_NET6
V6_NS2="[${N6}2]:53" V6_NS3="[${N6}3]:53" V4_NS3="$ROLL_NET.3:53"
EP6="[$ROLL_ADDR6]:25"
check "the sandbox is dual-stack: ns2 and ns3 answer on their IPv6 addresses" \
	test -n "$(bind_serial "${N6}2")" -a -n "$(bind_serial "${N6}3")"
check "Postfix listens on $EP6" bash -c "ss -ltn 'src [$ROLL_ADDR6]' | grep -q ':25 '"

# The verify endpoint is the MX name, with an A and an AAAA in /etc/hosts
# (this mount namespace's own).
printf '127.0.0.1 localhost\n%s %s\n%s %s\n' "$ROLL_ADDR" "$ROLL_HOST" "$ROLL_ADDR6" "$ROLL_HOST" \
	>"$W/hosts"
mount --bind "$W/hosts" /etc/hosts || { fail "/etc/hosts of the namespace replaced"; exit 1; }
roll_conf "verify_endpoints = $ROLL_HOST:25" "audit_interval = 2s" "propagation_alert = 2s"
roll_publish_old 6 || { fail "old records published with nsupdate"; exit 1; }
OLD_RSA=$(roll_deployed rsa) OLD_EC=$(roll_deployed ecdsa)
roll_read_ttls
MAILLOG=$W/pf/maillog
# The zone as ns3 serves it now, before the rollover: the stale server of
# the second part serves this copy.
dig +norec +time=2 +tries=2 @"${N6}3" "$BIND_ZONE" AXFR 2>/dev/null | grep -v '^;' >"$W/stale.db"
check "a copy of the zone taken from ns3 over IPv6 (AXFR)" grep -q "RRSIG" "$W/stale.db"

roll_notify_start "$W/notify.log" || { fail "the notify listener starts"; exit 1; }
roll_daemon_start || { fail "pftls-rolld starts"; exit 1; }
roll_poll_start "$W/states"
roll_cmd now
check "now hands the rollover to the daemon (exit 0)" test "$RC" -eq 0
roll_wait_phase idle -t 90 >/dev/null
roll_poll_stop
# What the daemon's probes (verification, audits) did on each address, by
# Postfix's own log, before any openssl s_client of this test connects.
tls_from() { grep -c "TLS connection established from unknown\[$1\]" "$MAILLOG"; }
TLS6=$(grep -c "TLS connection established from unknown\[[0-9a-f]*:[0-9a-f:]*\]" "$MAILLOG")
TLS4=$(grep -c "TLS connection established from unknown\[[0-9.]*\]" "$MAILLOG")
check_eq "the rollover completes" "idle rollover-completed" \
	"$(jq_state '.phase + " " + .events[-1].event')"
S=$(roll_snapshot "$W/states" '.times.t_reload != null')
roll_check_done "$OLD_RSA" "$OLD_EC" "$(roll_snapshot "$W/states" '.times.t_conf != null')"

journald_sync
journald_read -o json SYSLOG_IDENTIFIER=pftls-rolld >"$W/journal.json" 2>/dev/null
servers=$(jq -r 'select(.MESSAGE_ID == "'"$CONFIRMED_ID"'") | .PFTLS_SERVER' "$W/journal.json" | sort -u | tr '\n' ' ')
check_eq "server-confirmed entries for every A and AAAA of ns2 and ns3, and the update server ${N6}1" \
	"$ROLL_NET.2:53 $ROLL_NET.3:53 [${N6}1]:53 $V6_NS2 $V6_NS3 " "$servers"
v6_confirmed() {
	jq -e --arg a "$V6_NS2" --arg b "$V6_NS3" \
		'[.servers_confirmed[].server] | (index($a) != null) and (index($b) != null)' <<<"$S" >/dev/null
}
check "the state recorded the IPv6 check servers as confirmed ([addr]:port)" v6_confirmed
check "the update came to the primary over IPv6 (its log names an IPv6 client)" \
	grep -q "client @[0-9a-fx]* fd00:[0-9a-f:]*#[0-9]*/key pftls-key: updating zone" "$W/bind/p/named.log"
check "the endpoint was verified on its IPv6 address (endpoint-verified entry names $EP6)" \
	bash -c "jq -r 'select(.PFTLS_EVENT == \"endpoint-verified\") | .MESSAGE' '$W/journal.json' |
		grep -qF '$EP6'"
check "the daemon's probes made TLS sessions with Postfix on both addresses of $ROLL_HOST (maillog: $TLS4 IPv4, $TLS6 IPv6)" \
	test "$TLS4" -ge 2 -a "$TLS6" -ge 2
check_eq "openssl s_client on $EP6 sees the new RSA and ECDSA keys" \
	"$(roll_key_spki "$(roll_deployed rsa)") $(roll_key_spki "$(roll_deployed ecdsa)")" \
	"$(roll_live_spki rsa "$EP6") $(roll_live_spki ecdsa "$EP6")"
roll_cmd check
check "check passes on every IPv4 and IPv6 check server and endpoint (exit 0)" test "$RC" -eq 0
check "check names the IPv6 check servers it asked" grep -qF "$V6_NS3" <<<"$OUT"

# ---- ns3's IPv6 address answers from a stale server -----------------------
kill "$BIND_S3_PID" && wait "$BIND_S3_PID" 2>/dev/null
mkdir -p "$W/bind/s3v4" "$W/stale"
{
	bind_conf_common s3v4 "$ROLL_NET.3" "$W/bind/s3v4"
	# Transfers from the primary's IPv6 address as ns3 (the address the
	# primary allows); it is not notified (that goes to the stale server)
	# and refreshes within max-refresh-time (10 s).
	printf 'zone "%s" { type secondary; primaries { %s; }; transfer-source-v6 %s; file "%s"; };\n' \
		"$BIND_ZONE" "${N6}1" "${N6}3" "$W/bind/s3/$BIND_ZONE.db"
} >"$W/bind/s3v4/named.conf"
{
	bind_conf_common stale 127.0.0.1 "$W/stale" "" "${N6}3" | sed 's/^\tlisten-on port 53 .*/\tlisten-on { none; };/'
	printf 'zone "%s" { type primary; file "%s"; };\n' "$BIND_ZONE" "$W/stale.db"
} >"$W/stale/named.conf"
named -g -n 1 -c "$W/bind/s3v4/named.conf" >"$W/bind/s3v4/named.log" 2>&1 &
BIND_PIDS="$BIND_PIDS $!"
named -g -n 1 -c "$W/stale/named.conf" >"$W/stale/named.log" 2>&1 &
BIND_PIDS="$BIND_PIDS $!"
NEW_RSA_REC=$(roll_rec "$(roll_deployed rsa)")
for i in $(seq 50); do
	[ -n "$(bind_serial "${N6}3")" ] && [ -n "$(bind_serial "$ROLL_NET.3")" ] && break
	sleep 0.2
done
check "ns3's IPv4 address serves the deployed RSA key's record (dig)" \
	grep -qxF "$NEW_RSA_REC" <(roll_served "$ROLL_NET.3")
v6_lacks() { ! grep -qxF "$NEW_RSA_REC" <(bind_tlsa "${N6}3" "$ROLL_NAME"); }
check "ns3's IPv6 address does not (dig)" v6_lacks

roll_cmd check
check "check exits 1" test "$RC" -eq 1
check "check names $V6_NS3 as not serving the deployed records" \
	bash -c "grep -F '$V6_NS3' <<<'$OUT$ERR' | grep -qi 'not serve\|missing\|lacks'"
check "check does not name $V4_NS3" bash -c "! grep -i 'not serve\|missing\|lacks' <<<\"\$0\" | grep -qF '$V4_NS3'" "$OUT$ERR"
n_rm() {
	journald_sync
	journald_read -o json SYSLOG_IDENTIFIER=pftls-rolld MESSAGE_ID=$RM_ID 2>/dev/null |
		jq -r .MESSAGE | grep -cF "$V6_NS3"
}
for i in $(seq 75); do [ "$(n_rm)" -ge 1 ] && break; sleep 0.2; done
check "the audit logs audit-records-missing naming $V6_NS3 (MESSAGE_ID $RM_ID)" test "$(n_rm)" -ge 1

# A rollover now: the IPv6 address of ns3 never confirms.
roll_cmd now
check "a second rollover starts (exit 0)" test "$RC" -eq 0
n_alert() {
	journald_sync
	journald_read -o json SYSLOG_IDENTIFIER=pftls-rolld MESSAGE_ID=$ALERT_ID 2>/dev/null |
		jq -r .MESSAGE | grep -cF "$V6_NS3"
}
for i in $(seq 150); do [ "$(n_alert)" -ge 1 ] && break; sleep 0.2; done
check "a propagation alert names $V6_NS3 (MESSAGE_ID $ALERT_ID)" test "$(n_alert)" -ge 1
for i in $(seq 150); do
	J=$(roll_json)
	jq -e --arg a "$V4_NS3" '[.servers_confirmed[].server] | index($a) != null' <<<"$J" >/dev/null && break
	sleep 0.2
done
check_eq "the rollover waits in published" published "$(jq -r .phase <<<"$J")"
confirmed_v4_not_v6() {
	jq -e --arg a "$V4_NS3" --arg b "$V6_NS3" \
		'[.servers_confirmed[].server] | (index($a) != null) and (index($b) == null)' <<<"$J" >/dev/null
}
check "$V4_NS3 is confirmed, $V6_NS3 is not" confirmed_v4_not_v6
umount /etc/hosts
