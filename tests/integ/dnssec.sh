#!/bin/bash
# tests/integ/dnssec.sh - "signed" means validated (SPEC.md 6): `check`
# against the real BIND sandbox (tests/lib/rollover.sh: an inline-signing
# primary and two secondaries for example.test.) with the deployed keys'
# records published by nsupdate, each server's TLSA RRset verified with its
# DNSKEY RRset up to dnssec_trust_anchor_file:
#   - the zone's own DS as anchor: every server validates, with the
#     signatures' expiry, and check exits 0;
#   - a DS of another key of example.test.: bogus ("trust anchor does not
#     match"), check exits 1 and names it;
#   - a signed parent test. (dnssec-signzone, on its own named) delegating
#     example.test. WITH its DS, the parent's DS as anchor: validates
#     through the parent (DNSKEY and DS asked of the parent's server,
#     found by discovery);
#   - the same parent delegating WITHOUT a DS: insecure ("unsigned
#     delegation"), loudly, and check exits 1;
#   - a publish under the bogus anchor never counts a server as serving:
#     `propagation` exits 1 with the verdict in its table;
#   - check --plugin: sig_expiry perfdata with its thresholds, WARNING and
#     CRITICAL by --sig-warning / --sig-critical, CRITICAL when bogus;
#   - signatures that expire (the parent re-signed with dnssec-signzone -e
#     +25 s): check says bogus ("signature expired") no later than a
#     validating unbound (tests/lib/unbound.sh) with the same anchor, its
#     tolerance of expired signatures (val-sig-skew-min, 1 h by default)
#     set to 0 and its caches emptied each second (a resolver that keeps
#     example.test.'s validated DNSKEY set trusts it for that set's TTL,
#     later still), answers SERVFAIL.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/rollover.sh
. tests/lib/unbound.sh
UNBOUND_PIDS=

roll_begin dnssec 13
roll_publish_old 6 || { fail "old records published with nsupdate"; exit 1; }
ANCHOR=$W/bind/anchor
PARENT=$ROLL_NET.9

# ---- validates to the zone's own DS --------------------------------------------
run -c "$ROLL_CF" check
check_eq "zone DS as anchor: check exits 0" 0 "$RC"
n=$(grep -cE "^$ROLL_NET\.[123]:53: $ROLL_NAME\. TLSA validates \(signatures valid until [0-9-]+ [0-9:]+Z\)$" <<<"$OUT")
check_eq "zone DS as anchor: all three servers validate, with the signature expiry" 3 "$n"
check "zone DS as anchor: check's last line is ok" \
	bash -c 'tail -1 <<<"$0" | grep -q "^ok: "' "$OUT"

# plugin ARGS: check --plugin; PRC and LINE.
plugin() { LINE=$("$PFTLS" -c "$ROLL_CF" check --plugin "$@" 2>&1); PRC=$?; }
plugin
check "plugin: OK with sig_expiry perfdata, thresholds 5d/2d as N: ranges" \
	bash -c '[ "$0" = 0 ] && [[ $1 =~ \ sig_expiry=[0-9]+s\;432000:\;172800:\;\;( |$) ]]' "$PRC" "$LINE"
plugin --sig-warning 30d
check "plugin --sig-warning 30d: WARNING, the signatures expire within it" \
	bash -c '[ "$0" = 1 ] && grep -qE "^PFTLS WARNING - the TLSA records. DNSSEC signatures expire in [0-9]+d \(warning within 30d\) \|" <<<"$1"' "$PRC" "$LINE"
plugin --sig-warning 40d --sig-critical 30d
check "plugin --sig-critical 30d: CRITICAL" \
	bash -c '[ "$0" = 2 ] && grep -qE "^PFTLS CRITICAL - the TLSA records. DNSSEC signatures expire in [0-9]+d \(critical within 30d\)" <<<"$1"' "$PRC" "$LINE"
plugin --sig-warning 1d --sig-critical 2d
check "plugin: --sig-critical above --sig-warning is UNKNOWN" test "$PRC" = 3

# ---- a trust anchor that does not match ----------------------------------------
dnssec-keygen -q -K "$W" -a ECDSAP256SHA256 -f KSK -n ZONE example.test. >"$W/wrong.name"
dnssec-dsfromkey -2 "$W/$(cat "$W/wrong.name").key" >"$W/wrong-anchor"
roll_conf "dnssec_trust_anchor_file = $W/wrong-anchor"
run -c "$ROLL_CF" check
check_eq "wrong anchor: check exits 1" 1 "$RC"
n=$(grep -cE "^$ROLL_NET\.[123]:53: $ROLL_NAME\. TLSA bogus: no DNSKEY of example\.test\. matches the trust anchor" <<<"$OUT$ERR")
check_eq "wrong anchor: all three servers bogus, naming the trust anchor" 3 "$n"
check "wrong anchor: check's verdict names DNSSEC bogus" \
	grep -q "DNSSEC bogus" <<<"$OUT$ERR"

plugin
check "wrong anchor: plugin CRITICAL naming the bogus TLSA RRset" \
	bash -c '[ "$0" = 2 ] && grep -q "^PFTLS CRITICAL - .* TLSA bogus: no DNSKEY of example.test. matches the trust anchor" <<<"$1"' "$PRC" "$LINE"

# A round of propagation under that anchor: no server counts as serving.
run -c "$ROLL_CF" propagation "$(roll_deployed rsa)"
check "wrong anchor: propagation exits 1, every server bogus in its table" \
	bash -c '[ "$0" = 1 ] && [ "$(grep -cE "^  .* [0-9]+ +bogus +ok$" <<<"$1")" = 3 ]' "$RC" "$OUT"
[ "$RC" = 1 ] || printf '%s\n%s\n' "$OUT" "$ERR"

# ---- a signed parent: validates through it, insecure without the DS ------------
# parent DSLINES: sign test. delegating example.test. to the sandbox's
# three servers with DSLINES (may be empty), serve it on PARENT.
P=$W/parent
mkdir -p "$P/keys"
pksk=$(dnssec-keygen -q -K "$P/keys" -a ECDSAP256SHA256 -f KSK -n ZONE test.)
pzsk=$(dnssec-keygen -q -K "$P/keys" -a ECDSAP256SHA256 -n ZONE test.)
dnssec-dsfromkey -2 "$P/keys/$pksk.key" >"$P/anchor"
bind_addr_add "$PARENT"
PARENT_PID=
parent() {
	{
		printf '$TTL 5\n@ IN SOA ns.test. hostmaster.test. %s 10 2 600 5\n' "$(date +%s)"
		printf '@ IN NS ns.test.\nns IN A %s\n' "$PARENT"
		for i in 1 2 3; do printf 'example IN NS ns%s.example.test.\n' "$i"; done
		for i in 1 2 3; do printf 'ns%s.example IN A %s.%s\n' "$i" "$ROLL_NET" "$i"; done
		[ -n "$1" ] && printf '%s\n' "$1"
		cat "$P/keys/$pksk.key" "$P/keys/$pzsk.key"
	} >"$P/test.zone"
	dnssec-signzone -q -d "$P" -o test. ${2:+-e "$2"} -f "$P/test.signed" "$P/test.zone" \
		"$P/keys/$pksk" "$P/keys/$pzsk" >/dev/null || return 1
	cat >"$P/named.conf" <<CONF
options {
	directory "$P";
	pid-file "$P/named.pid";
	listen-on port 53 { $PARENT; };
	listen-on-v6 { none; };
	recursion yes;
	allow-recursion { any; };
	dnssec-validation no;
};
zone "test." { type primary; file "$P/test.signed"; };
zone "example.test." { type forward; forward only; forwarders { $ROLL_NET.1; }; };
CONF
	if [ -n "$PARENT_PID" ]; then kill "$PARENT_PID"; wait "$PARENT_PID" 2>/dev/null; fi
	named -g -n 1 -c "$P/named.conf" >"$P/named.log" 2>&1 &
	PARENT_PID=$!
	ROLL_PIDS="$ROLL_PIDS $PARENT_PID"
	for i in $(seq 50); do
		dig +norec +time=1 +tries=1 @"$PARENT" test. SOA 2>/dev/null | grep -q "status: NOERROR" && return 0
		sleep 0.1
	done
	return 1
}
# The zone's servers stay the sandbox's; the zone above is found through a
# resolver that knows both: the parent's named, authoritative for test. and
# forwarding example.test. to the primary (the DS questions go to it with
# RD clear and are answered from test.).
parent_conf() {
	roll_conf "dnssec_trust_anchor_file = $P/anchor" "dns_resolver = $PARENT" \
		"dns_zone = example.test" "dns_update_server = $ROLL_NET.1" \
		"dns_check_servers = $ROLL_NET.1 $ROLL_NET.2 $ROLL_NET.3"
}

check "parent test. with the DS of example.test. starts" parent "$(cat "$ANCHOR")"
# Ask the parent's server directly for the anchor zone's SOA again after
# each restart (the resolver of discovery is that server).
parent_conf
run -c "$ROLL_CF" check
check_eq "parent with DS, its DS as anchor: check exits 0" 0 "$RC"
n=$(grep -cE "^$ROLL_NET\.[123]:53: $ROLL_NAME\. TLSA validates" <<<"$OUT")
check_eq "parent with DS: all three servers validate through test." 3 "$n"
[ "$RC" = 0 ] || printf '%s\n%s\n' "$OUT" "$ERR" | tail -20

check "parent test. without a DS for example.test. starts" parent ""
run -c "$ROLL_CF" check
check_eq "unsigned delegation: check exits 1" 1 "$RC"
n=$(grep -cE "^WARNING: $ROLL_NET\.[123]:53: $ROLL_NAME\. TLSA insecure: example\.test\. is an unsigned delegation from test\." <<<"$OUT$ERR")
check_eq "unsigned delegation: all three servers insecure, loudly" 3 "$n"

# The resolver that knows the parent gone, the primary as resolver: the
# chain cannot be built (test. is nowhere), so nothing counts as signed.
roll_conf "dnssec_trust_anchor_file = $P/anchor"
run -c "$ROLL_CF" check
check "chain not found: check exits 1 naming the zone above" \
	bash -c '[ "$0" = 1 ] && grep -q "DNSSEC chain of example.test.: cannot find the servers of test." <<<"$1"' \
	"$RC" "$OUT$ERR"



# ---- signatures that expire ----------------------------------------------------
# The parent re-signed to end in 25 s, a validating unbound with the
# parent's DS as its anchor: each second, check's verdict and unbound's.
check "parent test. re-signed to expire in 25 s starts" parent "$(cat "$ANCHOR")" now+25
SIGEND=$(($(date +%s) + 25))
parent_conf
UB=$ROLL_NET.20
check "a validating unbound with the parent's DS starts" \
	unbound_start "$W/ub" "$UB" "$PARENT" test "$(cat "$P/anchor")"
# Unbound accepts signatures up to val-sig-skew-min (1 h) past their end by
# default; the strictest resolver allows none.
check "unbound: val-sig-skew-min and -max set to 0 (configuration reloaded)" \
	bash -c 'sed -i "s/^server:$/server:\n\tval-sig-skew-min: 0\n\tval-sig-skew-max: 0/" "$0/unbound.conf" &&
		unbound-checkconf "$0/unbound.conf" >/dev/null &&
		unbound-control -c "$0/unbound.conf" reload >/dev/null' "$W/ub"
check "before the end: unbound validates the TLSA RRset (ad)" \
	bash -c 'dig +time=2 +tries=1 +dnssec @"$0" "$1" TLSA | grep -q "flags:.* ad[ ;]"' "$UB" "$ROLL_NAME"
run -c "$ROLL_CF" check
check_eq "before the end: check exits 0" 0 "$RC"
OURS= THEIRS= OURS_I= THEIRS_I=
# Each round asks unbound first and then runs check, so a round in which
# unbound first answers SERVFAIL has check run after it: "no later than
# unbound" is then "bogus in the same round or an earlier one" (timestamps
# of one round would not do: check alone can take a second under load).
for ((i = 0; i < 60; i++)); do
	[ -n "$OURS" ] && [ -n "$THEIRS" ] && break
	if [ -z "$THEIRS" ]; then
		# A resolver with nothing cached (a reload empties every cache)
		# sees the end first: one that holds example.test.'s validated
		# DNSKEY set trusts it up to that set's TTL.
		unbound-control -c "$W/ub/unbound.conf" reload >/dev/null
		dig +time=2 +tries=1 +dnssec @"$UB" "$ROLL_NAME" TLSA 2>/dev/null |
			grep -q "status: SERVFAIL" && THEIRS=$(date +%s) THEIRS_I=$i
	fi
	if [ -z "$OURS" ]; then
		run -c "$ROLL_CF" check
		grep -qE "TLSA bogus: .*signature expired" <<<"$OUT$ERR" && OURS=$(date +%s) OURS_I=$i
	fi
	sleep 1
done
check "expired: check says bogus (signature expired) (at +$((${OURS:-0} - SIGEND)) s)" test -n "$OURS"
[ -n "$THEIRS" ] || dig +time=2 +tries=1 +dnssec @"$UB" "$ROLL_NAME" TLSA | grep -E "status|flags|RRSIG"
check "expired: unbound answers SERVFAIL (at +$((${THEIRS:-0} - SIGEND)) s)" test -n "$THEIRS"
check "expired: check no later than unbound (round ${OURS_I:-none} vs ${THEIRS_I:-none})" \
	test "${OURS_I:-999}" -le "${THEIRS_I:--1}"
for p in $UNBOUND_PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
