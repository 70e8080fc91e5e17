#!/bin/bash
# tests/integ/fleet.sh - issue 6: two MX hosts sharing one TLSA name, each
# with its own pftls-rolld, roll their keys at overlapping times.  Each must
# deploy only after ITS OWN records are served everywhere and the SPEC 4
# wait has passed, and neither may ever remove the other's records; the
# observer's DANE probes must see zero failures for both hosts.
#
# Topology, all on 127.64.0.0/24 (tests/lib/sandbox.sh, observer.sh): BIND
# signing primary .1, secondaries .2 and .3 (TTLs 5 s); host A = Postfix on
# .25, host B = Postfix on .26, both "mx.example.test" presenting their own
# RSA and ECDSA keys, whose four records share _25._tcp.mx.example.test;
# two pftls-roll.cf differing only in the Postfix instance, the state
# directory, the control socket and the verify endpoint; two pftls-rolld;
# journald; validating unbound resolvers .11/.12/.13 pinned to .1/.2/.3,
# each probed against both hosts (separate logs).
#
# The run: the shared RRset gets a TTL of 10 s; A's rollover starts; once A
# has confirmed its records everywhere (between publication and deploy),
# the secondary .3 is frozen (SIGSTOP) and B's rollover starts; .3 thaws
# 2 s after B has published.  So while B waits, every server but .3 serves
# B's records and .3 serves A's new ones: B must wait for .3, not take A's
# confirmation or the changed RRset for its own.  A poller records the RRset every server
# serves throughout; the daemons' states are recorded at every change.
# Control: the RRset check catches an update that replaces the RRset (what
# a tool without single-record deletes would do) and so drops B's records.
# Budget: about 90 s.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/journald.sh
journald_enter_ns "$0" "$@"
. tests/lib/sandbox.sh
. tests/lib/observer.sh
. tests/lib/dns_common.sh
. tests/lib/fleet.sh

NET=127.64.0
MIN_SPAN=3    # probes per resolver and host needed on each side of its deploy
RRSET_TTL=10  # the shared RRset's TTL: resolver 3 answers from its cache
              # while .3 is frozen (at most 8 s)
FACTOR=2 SAFETY=2 RETIRE_DELAY=5 TLSA_TTL=5   # bind.sh and sandbox.sh settings
D=$(mktemp -d /tmp/pftls-fleet.XXXXXX)
chmod 755 "$D"
OBS_DIR=$D
B_PID= POLL_PIDS=

cleanup() {
	set +e
	touch "$D/poll.stop" "$D/a.stop" "$D/b.stop"
	for p in $POLL_PIDS; do wait "$p"; done
	[ -n "${BIND_S3_PID:-}" ] && kill -CONT "$BIND_S3_PID" 2>/dev/null
	if [ -n "$B_PID" ]; then
		kill "$B_PID" 2>/dev/null
		wait "$B_PID" 2>/dev/null
	fi
	pfi_stop "$D/b/postfix"
	observer_stop
	sandbox_stop
	rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- helpers ----------------------------------------------------------------

# status_poll CF OUT: every 0.3 s (at most 180 s, until $D/poll.stop), the
# state (status --json) with the time it was seen, appended to OUT whenever
# it changed.  Status reads the file without the lock: it never slows a step.
status_poll() {
	local last="" j k i
	for ((i = 0; i < 600; i++)); do
		[ -e "$D/poll.stop" ] && return
		j=$("$PFTLS" -c "$1" status --json 2>/dev/null)
		k=$(jq -c 'del(.now, .waits)' <<<"$j" 2>/dev/null)
		if [ -n "$k" ] && [ "$k" != "$last" ]; then
			jq -c --arg t "$EPOCHREALTIME" '. + {seen: ($t | tonumber)}' <<<"$j" >>"$2"
			last=$k
		fi
		sleep 0.3
	done
}

# never_gone LOG KEYS: on every server, from the first sample holding every
# record of KEYS (","-joined SPKIs) on, every sample holds them all.  Prints
# "servers-that-had-them violations first-violation".
never_gone() {
	awk -v keys="$2" '
		BEGIN { nk = split(keys, k, ",") }
		$1 == "R" && $4 != "?" {
			delete has; n = split($4, l, ","); for (i = 1; i <= n; i++) has[l[i]] = 1
			all = 1; for (i = 1; i <= nk; i++) if (!(k[i] in has)) all = 0
			if (all && !(($3) in from)) { from[$3] = $2; servers++ }
			if (!all && ($3) in from) { bad++; if (first == "") first = $3 "@" $2 ":" $4 }
		}
		END { printf "%d %d %s\n", servers, bad, (first == "" ? "-" : first) }' "$1"
}

# kept_until LOG KEYS UNTIL: every sample answered before UNTIL holds every
# record of KEYS.  Prints "samples violations first-violation".
kept_until() {
	awk -v keys="$2" -v until="$3" '
		BEGIN { nk = split(keys, k, ",") }
		$1 == "R" && $4 != "?" && $5 < until {
			n_++; delete has; n = split($4, l, ","); for (i = 1; i <= n; i++) has[l[i]] = 1
			for (i = 1; i <= nk; i++) if (!(k[i] in has)) { bad++; if (first == "") first = $3 "@" $2 ":" $4; break }
		}
		END { printf "%d %d %s\n", n_, bad, (first == "" ? "-" : first) }' "$1"
}

# The journal events KIND logged by process PID: how many.
event_count() {
	journald_read -o json _PID="$1" PFTLS_EVENT="$2" 2>/dev/null | grep -c .
}

# The key files main.cf of Postfix config dir ETC deploys (RSA, ECDSA).
deployed_keys() { postconf -c "$1" -hx smtpd_tls_key_file smtpd_tls_eckey_file; }

phase_of() { "$PFTLS" -c "$1" status --json 2>/dev/null | jq -r .phase; }
# in_phase CF PHASE: the rollover of CF is in PHASE.
in_phase() { [ "$(phase_of "$1")" = "$2" ]; }
# done_idle CF: back to idle after a completed rollover.
done_idle() {
	[ "$("$PFTLS" -c "$1" status --json 2>/dev/null | jq -r '.phase + " " + .events[-1].event')" = \
		"idle rollover-completed" ]
}

# The last recorded state of a status log with .times.NAME set.
last_with() { jq -c "select(.times.$2 != null)" "$1" | tail -1; }

# flt A OP B: a floating-point comparison for check.
flt() { awk -v a="$1" -v b="$3" "BEGIN { exit !(a $2 b) }"; }

# ---- the topology --------------------------------------------------------------

if ! sandbox_start "$D" "$NET"; then
	fail "fleet: the sandbox (BIND, Postfix A, journald) starts"
	exit 1
fi
CF_A=$SB_CF ETC_A=$SB_ETC ADDR_A=$SB_MX
A_OLD=$(spkis "$SB_KEY_rsa" "$SB_KEY_ecdsa")

# Host B: a second Postfix answering as mx.example.test with its own keys.
ok=1
fleet_host_b "$NET.26" || ok=0
B_OLD=$(spkis "$B_KEY_rsa" "$B_KEY_ecdsa")
BOTH_OLD=$(sandbox_rdata "$SB_KEY_rsa" "$SB_KEY_ecdsa" "$B_KEY_rsa" "$B_KEY_ecdsa")
sandbox_wait_tlsa 100 "$BOTH_OLD" || ok=0
if [ $ok != 1 ]; then
	fail "fleet: host B (Postfix on $ADDR_B, its keys, its records) set up: $(tail -1 "$D/b/publish.log")"
	exit 1
fi
pass "fleet: hosts A ($ADDR_A) and B ($ADDR_B) run, their 4 records share $SB_NAME on every server"
# The zone's operator sets the RRset's TTL (an add of the records with
# another TTL changes the RRset's TTL in BIND).
ttl_everywhere() {
	local s
	for s in 1 2 3; do
		[ "$(dig +norec +time=1 +tries=1 @"$NET.$s" "$SB_NAME" TLSA |
			awk '$4 == "TLSA" { print $2; exit }')" = "$1" ] || return 1
	done
}
bind_nsupdate "$SB_TSIG" "$(sed "s/^/update add $SB_NAME. $RRSET_TTL TLSA /" <<<"$BOTH_OLD")" \
	>"$D/ttl.log" 2>&1
check "fleet: the shared RRset's TTL is $RRSET_TTL s on every server" wait_until 100 ttl_everywhere "$RRSET_TTL"
# SPEC 4's TTLeff, from what the primary serves before the rollovers.
TTL_EFF=$(dig +norec +time=1 +tries=1 @"$NET.1" "$SB_NAME" TLSA | awk '$4 == "TLSA" { print $2; exit }')
[ "${TTL_EFF:-0}" -lt "$TLSA_TTL" ] && TTL_EFF=$TLSA_TTL

# The observer: three validating resolvers of our /24, each pinned to one
# BIND server.
RESOLVERS="$NET.11 $NET.12 $NET.13"
observer_start 2>>"$D/observer.err"
ok=$?
check "fleet: 3 validating resolvers start, each pinned to one BIND server" test $ok = 0
[ $ok = 0 ] || exit 1

if ! sandbox_daemon_start; then
	fail "fleet: pftls-rolld of host A starts"
	exit 1
fi
A_PID=$SB_DAEMON_PID
"$SB_ROLLD" -c "$CF_B" >"$D/b/rolld.log" 2>&1 &
B_PID=$!
wait_until 50 test -S "$D/b/control" || { fail "fleet: pftls-rolld of host B starts"; exit 1; }

# ---- the overlapping rollovers ------------------------------------------------

status_poll "$CF_A" "$D/a.states" &
POLL_PIDS="$POLL_PIDS $!"
status_poll "$CF_B" "$D/b.states" &
POLL_PIDS="$POLL_PIDS $!"
fleet_rrset_poll "$D/rrsets" &
POLL_PIDS="$POLL_PIDS $!"
# Probe loops for both hosts through every resolver (start_probes keeps
# only the last stop file: each is touched by name below).
start_probes a 170 "$ADDR_A"
LOG_A=$PROBE_LOG
start_probes b 170 "$ADDR_B"
LOG_B=$PROBE_LOG
wait_until 100 every_resolver "$LOG_A" "$A_OLD" - n 2 &&
	wait_until 100 every_resolver "$LOG_B" "$B_OLD" - n 2 ||
	fail "fleet: probes run for both hosts before the rollovers"

# "now" returns once the daemon has made the keys; on a loaded machine
# that can outlast its 10 s wait for the answer, and the rollover goes on:
# the phases, not its exit code, tell.
"$PFTLS" -c "$CF_A" now >"$D/a.now" 2>&1 || echo "fleet: now on host A: $(tail -1 "$D/a.now")"
wait_until 300 in_phase "$CF_A" propagated ||
	fail "fleet: host A's rollover confirms its records ($(phase_of "$CF_A"))"
a_phase=$(phase_of "$CF_A")
# Resolver 3 gets the RRset with a full TTL, so it answers from its cache
# while its server is frozen; then .3 stops, and B's rollover starts.
unbound_flush "$OBS_DIR/u3" "$SB_NAME" TLSA && dig +time=2 +tries=1 @"$NET.13" "$SB_NAME" TLSA >/dev/null
kill -STOP "$BIND_S3_PID"
t_freeze=$EPOCHREALTIME
t_now_b=$EPOCHREALTIME
"$PFTLS" -c "$CF_B" now >"$D/b.now" 2>&1 &
now_b_pid=$!
# Once B has published, one propagation round (2 s: .3 does not answer).
wait_until 200 in_phase "$CF_B" published && sleep 2
b_phase_frozen=$(phase_of "$CF_B")
kill -CONT "$BIND_S3_PID"
t_thaw=$EPOCHREALTIME
echo "fleet: B's rollover started with A in phase $a_phase; $NET.3 frozen for" \
	"$(awk -v a="$t_thaw" -v b="$t_freeze" 'BEGIN { printf "%.1f", a - b }') s, B then in phase $b_phase_frozen"

wait "$now_b_pid" || echo "fleet: now on host B: $(tail -1 "$D/b.now")"
wait_until 900 done_idle "$CF_A" || fail "fleet: host A's rollover completes ($(phase_of "$CF_A"))"
wait_until 900 done_idle "$CF_B" || fail "fleet: host B's rollover completes ($(phase_of "$CF_B"))"
mapfile -t NEW_A_KEYS < <(deployed_keys "$ETC_A")
mapfile -t NEW_B_KEYS < <(deployed_keys "$ETC_B")
A_NEW=$(spkis "${NEW_A_KEYS[@]}")
B_NEW=$(spkis "${NEW_B_KEYS[@]}")
BOTH_NEW=$(spkis "${NEW_A_KEYS[@]}" "${NEW_B_KEYS[@]}")
# Probe until every resolver has answered twice with the final RRset.
wait_until 200 every_resolver "$LOG_A" "$A_OLD" "$BOTH_NEW" newonly 2
wait_until 100 every_resolver "$LOG_B" "$B_OLD" "$BOTH_NEW" newonly 2
touch "$D/a.stop" "$D/b.stop"
stop_probes
touch "$D/poll.stop"
for p in $POLL_PIDS; do wait "$p"; done
POLL_PIDS=
journald_sync

# ---- both complete, overlapping -------------------------------------------------

check "fleet: both rollovers complete: A and B deploy new RSA and ECDSA keys" \
	test "$A_NEW" != "$A_OLD" -a "$B_NEW" != "$B_OLD" -a "${#NEW_A_KEYS[@]}" = 2 -a "${#NEW_B_KEYS[@]}" = 2
SA=$(last_with "$D/a.states" t_deployed) SB=$(last_with "$D/b.states" t_deployed)
A_TPUB=$(jq -r .times.t_pub <<<"$SA") A_TCONF=$(jq -r .times.t_conf <<<"$SA")
A_TDEP=$(jq -r .times.t_deployed <<<"$SA")
B_TPUB=$(jq -r .times.t_pub <<<"$SB") B_TCONF=$(jq -r .times.t_conf <<<"$SB")
B_TDEP=$(jq -r .times.t_deployed <<<"$SB")
A_REL=$(jq -r .times.t_reload <<<"$(last_with "$D/a.states" t_reload)")
B_REL=$(jq -r .times.t_reload <<<"$(last_with "$D/b.states" t_reload)")
# The retire moment is t_reload to the ms + retire_delay; the whole-second
# t_reload is rounded up, so it can be up to a second after the delete.
A_REL_MS=$(jq -r .times_ms.t_reload <<<"$(last_with "$D/a.states" t_reload)")
B_REL_MS=$(jq -r .times_ms.t_reload <<<"$(last_with "$D/b.states" t_reload)")
echo "fleet: A: t_pub $A_TPUB t_conf $A_TCONF t_deployed $A_TDEP t_reload $A_REL"
echo "fleet: B: t_pub $B_TPUB t_conf $B_TCONF t_deployed $B_TDEP t_reload $B_REL (now $t_now_b, thaw $t_thaw)"
check "fleet: each daemon logged one reload, its own (journal events by process: A $(event_count "$A_PID" reloaded), B $(event_count "$B_PID" reloaded))" \
	test "$(event_count "$A_PID" reloaded)" = 1 -a "$(event_count "$B_PID" reloaded)" = 1
check "fleet: the rollovers overlap: B's started ($t_now_b) after A published ($A_TPUB) and before A deployed ($A_TDEP)" \
	eval 'flt "$t_now_b" ">" "$A_TPUB" && flt "$t_now_b" "<" "$A_TDEP"'

# ---- each deploys on its own confirmation, after the SPEC 4 wait ------------------

for h in A B; do
	eval "tpub=\$${h}_TPUB tconf=\$${h}_TCONF tdep=\$${h}_TDEP rel=\$${h}_REL"
	[ "$h" = A ] && S=$SA || S=$SB
	[ "$h" = A ] && keys=$A_NEW || keys=$B_NEW
	# The state's next records are exactly the host's own new keys'.
	recs=$(jq -r '.records[] | select(.role == "next" and (.tlsa | startswith("3 1 1 "))) | .tlsa[6:]' <<<"$S" |
		tr 'A-F' 'a-f' | sort | paste -sd, -)
	check "fleet: $h's rollover owns exactly its own new keys' records (next: $(tr , ' ' <<<"$recs" | cut -c1-20)...)" \
		test "$recs" = "$keys"
	nconf=$(jq '[.servers_confirmed[]] | length' <<<"$S")
	check "fleet: $h confirmed its records on the 3 servers ($nconf) before deploying (t_conf $tconf <= t_deployed $tdep)" \
		test "$nconf" = 3 -a "$tconf" -le "$tdep"
	base=$((tconf > tpub ? tconf : tpub))
	min=$((base + FACTOR * TTL_EFF + SAFETY))
	check "fleet: $h deployed no earlier than max(t_conf, t_pub) + $FACTOR x $TTL_EFF + $SAFETY = $min (t_deployed $tdep, t_reload $rel)" \
		eval '[ "$tdep" -ge "$min" ] && [ "$rel" -ge "$tdep" ]'
	# What the servers served: from the confirmation on, every sample of
	# every server holds all of the host's new records.
	read -r n bad first <<<"$(awk -v t="$tconf" '$1 == "R" && $2 >= t' "$D/rrsets" >"$D/after.$h";
		kept_until "$D/after.$h" "$keys" 1e12)"
	check "fleet: every sample of every server after $h's t_conf holds $h's new records ($n samples, $bad without${first:+: $first})" \
		test "$n" -gt 0 -a "$bad" = 0
done
# B confirmed .3 only after it thawed: it waited for its own records there,
# although .3 served A's new records (the RRset changed) all along.
b3=$(jq -r --arg s "$NET.3:53" '.servers_confirmed[] | select(.server == $s) | .confirmed' <<<"$SB")
check "fleet: B was still waiting when .3 thawed (phase $b_phase_frozen) and confirmed .3 after it ($b3 >= $t_thaw)" \
	eval '[ "$b_phase_frozen" = published ] && flt "${b3:-0}" ">=" "$t_thaw" && flt "$B_TCONF" ">=" "$t_thaw"'

# ---- neither removes the other's records -----------------------------------------

R=$D/rrsets
for h in A B; do
	eval "old=\$${h}_OLD new=\$${h}_NEW rel_ms=\$${h}_REL_MS"
	read -r n bad first <<<"$(kept_until "$R" "$old" "$(awk -v m="$rel_ms" -v d="$RETIRE_DELAY" 'BEGIN { printf "%.3f", m / 1000 + d }')")"
	check "fleet: $h's old records were on every server until $h's t_reload + retire_delay ($n samples, $bad without${first:+: $first})" \
		test "$n" -gt 0 -a "$bad" = 0
	read -r servers bad first <<<"$(never_gone "$R" "$new")"
	check "fleet: $h's new records, once served, stayed on every server ($servers servers, $bad samples without${first:+: $first})" \
		test "$servers" = 3 -a "$bad" = 0
done
final=$(sandbox_rdata "${NEW_A_KEYS[@]}" "${NEW_B_KEYS[@]}")
check "fleet: at the end every server serves exactly the 4 records of the two new key pairs" \
	sandbox_wait_tlsa 50 "$final"
unanswered=$(awk '$1 == "R" && $4 == "?"' "$R" | wc -l)
echo "fleet: RRset samples: $(grep -c '^R' "$R"), unanswered (the frozen .3): $unanswered"

# ---- the observer: zero failures for both hosts ------------------------------------

for h in A B; do
	eval "old=\$${h}_OLD log=\$LOG_$h"
	# While .3 was frozen, resolver 3 could not refresh an expired RRset:
	# a DNS failure then is the test's doing (a sender would defer), not
	# the rollover's; it is counted apart.  Every other failure counts.
	awk -v a="$t_freeze" -v b="$t_thaw" -v r="$NET.13" '
		!($1 == "P" && $3 == r && $5 != "ok" && $9 ~ /^dns-/ && $2 >= a - 1 && $2 <= b + 1)' \
		"$log" >"$log.judged"
	frozen=$(($(grep -c '^P' "$log") - $(grep -c '^P' "$log.judged")))
	echo "fleet: host $h: $frozen DNS failures through $NET.13 while its server was frozen, set apart"
	log=$log.judged
	S=$(summarize "$log" "$old" "$BOTH_NEW" 0)
	echo "fleet: host $h per resolver: probes failures mismatches old-key new-key stale cached-new new-only"
	sed 's/^/    /' <<<"$S"
	observer_judge "fleet: host $h" "$log" "$S"
done

# ---- control: the RRset check catches a replaced RRset --------------------------------

# What a tool without single-record deletes does: replace the RRset with
# "its" records (A's).  The same check as above must flag B's records.
: >"$D/control.rrsets"
rm -f "$D/poll.stop"
fleet_rrset_poll "$D/control.rrsets" &
POLL_PIDS=$!
cmds=$(printf 'update delete %s. TLSA\n' "$SB_NAME"
	sandbox_rdata "${NEW_A_KEYS[@]}" | sed "s/^/update add $SB_NAME. $TLSA_TTL TLSA /")
bind_nsupdate "$SB_TSIG" "$cmds" >"$D/control.log" 2>&1
wait_until 50 sandbox_wait_tlsa 1 "$(sandbox_rdata "${NEW_A_KEYS[@]}")"
sleep 0.5
touch "$D/poll.stop"
wait "$POLL_PIDS"
POLL_PIDS=
cat "$D/control.rrsets" >>"$R"
read -r servers bad first <<<"$(never_gone "$R" "$B_NEW")"
check "fleet: control: an RRset replaced by A's records alone is caught ($bad samples without B's records, e.g. ${first:0:40})" \
	test "$bad" -gt 0
read -r servers bad first <<<"$(never_gone "$R" "$A_NEW")"
check "fleet: control: A's records, kept by that update, are not flagged ($bad)" test "$bad" = 0

# ---- the resolvers asked nobody else -------------------------------------------------

i=0
for r in $RESOLVERS; do
	i=$((i + 1))
	up=$(unbound_upstreams "$OBS_DIR/u$i" | paste -sd' ' -)
	check "fleet: resolver $r sent every query to its own server $NET.$i only (upstreams: ${up:-none})" \
		test "$up" = "$NET.$i#53"
done
