#!/bin/bash
# tests/integ/observer.sh - "the observer": proof, from outside, that no
# DANE-validating sender would fail during a rollover, and that the same
# probe does catch the two classic ways to break one.
#
# Topology (all on 127.58.x.x, tests/lib/sandbox.sh and observer.sh): BIND
# signing primary 127.58.1.1 and secondaries .2, .3 (TTLs 5 s), Postfix on
# 127.58.1.25 with an RSA and an ECDSA key, journald, pftls-rolld; three
# validating unbound resolvers 127.58.2.1/.2/.3, each pinned to one of the
# BIND servers, with the zone's DS as trust anchor.
#
# Probe (tests/lib/dane_probe.sh, independent of pftls-roll): one loop per
# resolver asks it for the TLSA RRset (AD must be set) and checks the
# certificate Postfix presents on STARTTLS, for RSA and for ECDSA, against
# that RRset with openssl s_client's DANE verification.
#
# Scenarios:
#  1. a complete rollover (pftls-roll now --wait, run by pftls-rolld), the
#     old RRset with a TTL of 10 s (tlsa_ttl is 5 s), every
#     resolver holding it, fresh, in its cache at publication: zero
#     failures, probes before and after the deploy and after the
#     retirement, stale and cached answers seen on every resolver;
#  2. control: a fresh key deployed with no TLSA record at all
#     (deploy-server-cert, reload): every resolver's probe must fail;
#  3. control: a rollover forced with "deploy --force-now" right after
#     publication, while every resolver caches the old RRset (TTL 60 s):
#     every resolver's probe must fail.
# Budget: about 2 minutes (each wait below is bounded).
set -u
cd "$(dirname "$0")/../.."
. tests/lib/journald.sh
journald_enter_ns "$0" "$@"
. tests/lib/sandbox.sh
. tests/lib/observer.sh
. tests/lib/dns_common.sh

NET=127.58.1
MIN_SPAN=3      # probes per resolver required on each side of a deploy
# OBSERVER_OLD_TTL: the TTL of the RRset before the rollover of scenario 1
# (a larger one makes the deploy wait, and the test, longer; with 40 the
# probe catches an engine that waits for tlsa_ttl instead of the TTL that
# resolvers cached).
OLD_TTL=${OBSERVER_OLD_TTL:-10}
LONG_TTL=60     # the TLSA TTL of control 3: longer than any forced deploy takes
D=$(mktemp -d /tmp/pftls-observer.XXXXXX)
chmod 755 "$D"
OBS_DIR=$D

cleanup() {
	set +e
	observer_stop
	sandbox_stop
	rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- helpers ------------------------------------------------------------

# The key files main.cf deploys now (RSA and ECDSA).
deployed_keys() {
	postconf -c "$SB_ETC" -hx smtpd_tls_key_file smtpd_tls_eckey_file
}

# set_tlsa_ttl TTL KEYFILE...: the zone's operator sets the TTL of the
# TLSA RRset (an add of records already there, with another TTL, changes
# the RRset's TTL in BIND); waits until every server serves it.
set_tlsa_ttl() {
	local ttl=$1 cmds
	shift
	cmds=$(sandbox_rdata "$@" | sed "s/^/update add $SB_NAME $ttl TLSA /")
	bind_nsupdate "$SB_TSIG" "$cmds" >>"$D/nsupdate.log" 2>&1 || return 1
	wait_until 100 ttl_everywhere "$ttl"
}
ttl_everywhere() {
	local s
	for s in "$NET.1" "$NET.2" "$NET.3"; do
		[ "$(dig +norec +time=1 +tries=1 @"$s" "$SB_NAME" TLSA |
			awk '$4 == "TLSA" { print $2; exit }')" = "$1" ] || return 1
	done
}

# The realtime (epoch seconds) of the last journal event KIND.
event_time() {
	journald_read -o json PFTLS_EVENT="$1" 2>/dev/null | tail -1 |
		jq -r '.__REALTIME_TIMESTAMP' | awk '{ printf "%.6f\n", $1 / 1e6 }'
}

# ---- the topology ----------------------------------------------------------

if ! sandbox_start "$D" "$NET"; then
	fail "observer: the sandbox (BIND, Postfix, journald) starts"
	exit 1
fi
if ! observer_start 2>"$D/observer.err"; then
	fail "observer: 3 unbound resolvers start and validate: $(tail -1 "$D/observer.err")"
	exit 1
fi
ok=1
for r in $RESOLVERS; do
	a=$(dig +short +time=2 +tries=1 @"$r" mx.example.test A)
	flags=$(dig +dnssec +time=2 +tries=1 @"$r" mx.example.test A | grep '^;; flags:')
	[ "$a" = "$SB_MX" ] && [[ "$flags" == *" ad;"* ]] || ok=0
	# Nothing outside the test zone: refused locally, never recursed.
	[ "$(dig +time=2 +tries=1 @"$r" example.com A | sed -n 's/.*status: \([A-Z]*\),.*/\1/p')" = REFUSED ] || ok=0
done
check "observer: 3 validating resolvers: mx.example.test validated (AD) = $SB_MX, other names refused" \
	test $ok = 1
if ! sandbox_daemon_start; then
	fail "observer: pftls-rolld starts"
	exit 1
fi

# ---- 1. a complete rollover: zero failures ----------------------------------

# The old RRset's TTL is longer than the new records' (tlsa_ttl = 5): the
# rollover must wait for the TTL resolvers cached, not the one it adds.
OLD=$(spkis "$SB_KEY_rsa" "$SB_KEY_ecdsa")
set_tlsa_ttl "$OLD_TTL" "$SB_KEY_rsa" "$SB_KEY_ecdsa" ||
	fail "observer: rollover: the old RRset's TTL is $OLD_TTL s on every server"
start_probes rollover 170
if ! wait_until 100 every_resolver "$PROBE_LOG" "$OLD" - n 2; then
	fail "observer: probes run before the rollover: $(head -2 "$PROBE_LOG")"
fi
# Every resolver holds the old RRset, fresh, when the rollover publishes.
prime_resolvers || fail "observer: resolvers primed with the old RRset"
timeout 150 "$PFTLS" -c "$SB_CF" now --wait >"$D/now.log" 2>&1
now_rc=$?
mapfile -t NEWKEYS < <(deployed_keys)
NEW=$(spkis "${NEWKEYS[@]}")
# Keep probing until every resolver has answered with the RRset after the
# retirement (the old records gone) twice.
wait_until 200 every_resolver "$PROBE_LOG" "$OLD" "$NEW" newonly 2
stop_probes
journald_sync
T_PUB=$(event_time records-published)
T_RELOAD=$(event_time reloaded)
T_RETIRED=$(event_time retired)

check "observer: rollover by pftls-rolld completes (now --wait exit 0, new keys deployed)" \
	test "$now_rc" = 0 -a "$NEW" != "$OLD" -a "${#NEWKEYS[@]}" = 2
S=$(summarize "$PROBE_LOG" "$OLD" "$NEW" "${T_PUB:-0}")
echo "rollover: published $T_PUB, reloaded $T_RELOAD, retired $T_RETIRED"
echo "rollover: per resolver: probes failures mismatches old-key new-key stale cached-new new-only"
sed 's/^/    /' <<<"$S"
observer_judge "observer: rollover" "$PROBE_LOG" "$S"
for r in $RESOLVERS; do
	s=$(field "$S" "$r" stale) c=$(field "$S" "$r" cachednew) w=$(field "$S" "$r" newonly)
	check "observer: rollover: $r held the old RRset in its cache after publication ($s answers), answered from cache after the deploy ($c), and served the RRset without the old records ($w)" \
		test "$s" -ge 1 -a "$c" -ge 1 -a "$w" -ge 1
done

# ---- 2. control: a key with no TLSA record ----------------------------------

CUR_RSA_KEY=$(postconf -c "$SB_ETC" -hx smtpd_tls_key_file)
CUR_RSA_CERT=$(postconf -c "$SB_ETC" -hx smtpd_tls_cert_file)
CUR=$NEW
start_probes norecord 60
wait_until 100 every_resolver "$PROBE_LOG" "$CUR" - n 2
sleep 1 # a second passes: new-server-key names its files by the second
"$PFTLS" -C "$SB_ETC" new-server-key >"$D/fresh.log" 2>&1
FRESH_KEY=$(ls -t "$SB_ETC"/key-*.pem | head -1)
FRESH_CERT=$(ls -t "$SB_ETC"/cert-*.pem | head -1)
FRESH=$(spkis "$FRESH_KEY")
t_fresh=$EPOCHREALTIME
"$PFTLS" -C "$SB_ETC" deploy-server-cert "$FRESH_CERT" "$FRESH_KEY" >>"$D/fresh.log" 2>&1 &&
	"$PFTLS" -c "$SB_CF" reload >>"$D/fresh.log" 2>&1
fresh_rc=$?
wait_until 200 every_resolver "$PROBE_LOG" "$CUR" "$FRESH" newkey 2
stop_probes
S=$(summarize "$PROBE_LOG" "$CUR" "$FRESH" 0)
echo "control 2 (key without record): per resolver: probes failures mismatches current-key fresh-key"
awk '{ print "    " $1, $2, $3, $4, $5, $6 }' <<<"$S"
before=$(awk -v t="$t_fresh" '$1 == "P" && $2 < t && $5 != "ok"' "$PROBE_LOG" | wc -l)
check "observer: control 2: no failure before the fresh key was deployed ($before)" test "$before" = 0
check "observer: control 2: fresh key $(basename "$FRESH_KEY") deployed without a record, Postfix reloaded" \
	test "$fresh_rc" = 0 -a "$FRESH" != "$CUR"
for r in $RESOLVERS; do
	m=$(awk -v r="$r" -v k="$FRESH" '$1 == "P" && $3 == r && $8 == k && $9 == "dane-mismatch"' "$PROBE_LOG" | wc -l)
	okf=$(awk -v r="$r" -v k="$FRESH" '$1 == "P" && $3 == r && $8 == k && $5 == "ok"' "$PROBE_LOG" | wc -l)
	check "observer: control 2: caught through $r ($m DANE mismatches with the fresh key, $okf passes)" \
		test "$m" -ge 1 -a "$okf" = 0
done
# Put the rollover's key back, so that control 3 starts from a valid state.
"$PFTLS" -C "$SB_ETC" deploy-server-cert "$CUR_RSA_CERT" "$CUR_RSA_KEY" >>"$D/fresh.log" 2>&1 &&
	"$PFTLS" -c "$SB_CF" reload >>"$D/fresh.log" 2>&1 ||
	fail "observer: control 2: the previous key redeployed"

# ---- 3. control: deploy --force-now right after publication -------------------

set_tlsa_ttl "$LONG_TTL" "${NEWKEYS[@]}" ||
	fail "observer: control 3: the TLSA TTL is $LONG_TTL s on every server"
start_probes forced 90
wait_until 100 every_resolver "$PROBE_LOG" "$CUR" - n 2
prime_resolvers || fail "observer: control 3: resolvers primed with the old RRset"
t_start=$EPOCHREALTIME
"$PFTLS" -c "$SB_CF" now >"$D/now2.log" 2>&1
phase_published() {
	local p
	p=$("$PFTLS" -c "$SB_CF" status --json 2>/dev/null | jq -r .phase)
	[ "$p" = published ] || [ "$p" = propagated ]
}
wait_until 200 phase_published || fail "observer: control 3: the rollover reaches phase published"
"$PFTLS" -c "$SB_CF" deploy --force-now >"$D/force.log" 2>&1
force_rc=$?
mapfile -t FORCED < <(deployed_keys)
FNEW=$(spkis "${FORCED[@]}")
# Probe until every resolver has seen the forced keys a few times (they are
# caught while its cache holds the old RRset, up to LONG_TTL s).
wait_until 250 every_resolver "$PROBE_LOG" "$CUR" "$FNEW" newkey "$MIN_SPAN"
stop_probes
S=$(summarize "$PROBE_LOG" "$CUR" "$FNEW" 0)
journald_sync
T_PUB=$(event_time records-published)
T_RELOAD=$(event_time reloaded)
echo "control 3 (deploy --force-now): seconds after the resolvers were primed: published" \
	"$(awk -v a="$T_PUB" -v b="$t_start" 'BEGIN { printf "%.1f", a - b }'), forced deploy reloaded" \
	"$(awk -v a="$T_RELOAD" -v b="$t_start" 'BEGIN { printf "%.1f", a - b }'), failures seen" \
	"$(awk -v b="$t_start" '$1 == "P" && $5 != "ok" { t = $2 - b; if (f == "") f = t; l = t }
		END { printf "from %.1f to %.1f", f, l }' "$PROBE_LOG")"
echo "control 3: per resolver: probes failures mismatches old-key forced-key"
awk '{ print "    " $1, $2, $3, $4, $5, $6 }' <<<"$S"
before=$(awk -v t="$t_start" '$1 == "P" && $2 < t && $5 != "ok"' "$PROBE_LOG" | wc -l)
check "observer: control 3: no failure before the rollover started ($before)" test "$before" = 0
check "observer: control 3: deploy --force-now deployed the new keys right after publication (exit $force_rc)" \
	test "$force_rc" = 0 -a "$FNEW" != "$CUR"
for r in $RESOLVERS; do
	m=$(awk -v r="$r" -v ks="$FNEW" -v old="$CUR" '
		BEGIN { split(ks, k, ","); f[k[1]] = 1; f[k[2]] = 1 }
		$1 == "P" && $3 == r && ($8 in f) && $7 == old && $9 == "dane-mismatch"' "$PROBE_LOG" | wc -l)
	check "observer: control 3: caught through $r ($m DANE mismatches: forced key against the cached old RRset)" \
		test "$m" -ge 1
done

# ---- the resolvers asked nobody else ---------------------------------------------

i=0
for r in $RESOLVERS; do
	i=$((i + 1))
	up=$(unbound_upstreams "$D/u$i" | paste -sd' ' -)
	check "observer: resolver $r sent every query of the test to its own server $NET.$i only (upstreams: ${up:-none})" \
		test "$up" = "$NET.$i#53"
done
