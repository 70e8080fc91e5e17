#!/bin/bash
# tests/integ/prepublish_fleet.sh - issue 13, prepublish in a fleet: two MX
# hosts sharing one TLSA name, each with its own Postfix, pftls-rolld,
# state directory and rollover_scheme = prepublish.  Each keeps its own
# current + next: the shared RRset holds 4 records per algorithm.  A
# rollover on host A deploys A's staged key, retires A's old record and
# stages A's following key, and touches none of B's records (current or
# staged); then the same on host B.  The observer's three validating
# resolvers probe both hosts throughout: zero DANE failures.
#
# Topology, on 127.65.0.0/24 (tests/lib/sandbox.sh, observer.sh): BIND
# signing primary .1, secondaries .2 and .3 (TTLs 5 s); host A = Postfix on
# .25, host B = Postfix on .26, both mx.example.test; resolvers .11-.13
# pinned to .1-.3.  A poller records the RRset every server serves, every
# 0.2 s, for the whole run.  Budget: about 75 s.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/journald.sh
journald_enter_ns "$0" "$@"
. tests/lib/sandbox.sh
. tests/lib/observer.sh
. tests/lib/dns_common.sh
. tests/lib/fleet.sh
. tests/lib/prepublish.sh

NET=127.65.0
D=$(mktemp -d /tmp/pftls-ppfleet.XXXXXX)
chmod 755 "$D"
OBS_DIR=$D
B_PID= POLL_PID=

cleanup() {
	set +e
	touch "$D/poll.stop" "$D/a.stop" "$D/b.stop"
	[ -n "$POLL_PID" ] && wait "$POLL_PID"
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

# always_held LOG SPKIS FROM UNTIL: every answered sample sent in [FROM,
# UNTIL) holds every SPKI of SPKIS (space-separated).  Prints "samples
# violations first-violation".
always_held() {
	awk -v keys="$2" -v from="$3" -v until="$4" '
		BEGIN { nk = split(keys, k, " ") }
		$1 == "R" && $4 != "?" && $2 >= from && $2 < until {
			n_++; delete has; n = split($4, l, ","); for (i = 1; i <= n; i++) has[l[i]] = 1
			for (i = 1; i <= nk; i++) if (!(k[i] in has)) { bad++; if (first == "") first = $3 "@" $2; break }
		}
		END { printf "%d %d %s\n", n_, bad, (first == "" ? "-" : first) }' "$1"
}
keyspkis() { # ETC: "RSA ECDSA" SPKIs of the keys main.cf deploys
	local k
	for k in $(postconf -c "$1" -hx smtpd_tls_key_file smtpd_tls_eckey_file); do
		openssl pkey -in "$k" -pubout -outform DER 2>/dev/null | openssl dgst -sha256 -r | cut -d' ' -f1
	done | paste -sd' ' -
}
# exactly SPKIS...: every server serves exactly their "3 1 1" records.
exactly() {
	local want s
	want=$(for s in $*; do echo "3 1 1 $s"; done | sort)
	sandbox_wait_tlsa 1 "$want"
}
# csv SPKIS...: sorted, ","-joined (as the probe logs RRsets).
csv() { tr ' ' '\n' <<<"$*" | grep . | sort | paste -sd, -; }
sleep_past() {
	local d
	d=$(awk -v t="$1" -v n="$EPOCHREALTIME" 'BEGIN { d = t + 0.2 - n; print (d > 0 ? d : 0) }')
	sleep "$d"
}

# ---- the topology ----------------------------------------------------------------

if ! sandbox_start "$D" "$NET"; then
	fail "prepublish fleet: the sandbox (BIND, Postfix A, journald) starts"
	exit 1
fi
sed -i 's/^rollover_scheme = .*/rollover_scheme = prepublish/' "$SB_CF"
CF_A=$SB_CF ETC_A=$SB_ETC ADDR_A=$SB_MX
ok=1
fleet_host_b "$NET.26" || ok=0
A_CUR=$(keyspkis "$ETC_A") B_CUR=$(keyspkis "$ETC_B")
exactly_wait() { wait_until 100 exactly "$@"; }
exactly_wait $A_CUR $B_CUR || ok=0
if [ $ok != 1 ]; then
	fail "prepublish fleet: host B (Postfix on $ADDR_B, its keys, its records) set up: $(tail -1 "$D/b/publish.log")"
	exit 1
fi
check "prepublish fleet: both configurations say rollover_scheme = prepublish" \
	test "$(grep -h '^rollover_scheme' "$CF_A" "$CF_B" | sort -u)" = "rollover_scheme = prepublish"
RESOLVERS="$NET.11 $NET.12 $NET.13"
if ! observer_start 2>>"$D/observer.err"; then
	fail "prepublish fleet: 3 validating resolvers start: $(tail -1 "$D/observer.err")"
	exit 1
fi
cp "$ETC_A/main.cf" "$D/a.main.cf" && cp "$ETC_B/main.cf" "$D/b.main.cf"
fleet_rrset_poll "$D/rrsets" &
POLL_PID=$!
start_probes a 170 "$ADDR_A"
LOG_A=$PROBE_LOG
start_probes b 170 "$ADDR_B"
LOG_B=$PROBE_LOG

# ---- both daemons stage ------------------------------------------------------------------
sandbox_daemon_start || { fail "prepublish fleet: pftls-rolld of host A starts"; exit 1; }
"$SB_ROLLD" -c "$CF_B" >"$D/b/rolld.log" 2>&1 &
B_PID=$!
wait_until 50 test -S "$D/b/control" || { fail "prepublish fleet: pftls-rolld of host B starts"; exit 1; }
A_ST=$(pp_wait_staged "$CF_A" "" 40)
B_ST=$(pp_wait_staged "$CF_B" "" 40)
check "prepublish fleet: both daemons stage a next key of their own (A ${A_ST:0:8}..., B ${B_ST:0:8}...)" \
	test -n "$A_ST" -a -n "$B_ST" -a "$A_ST" != "$A_CUR" -a "$B_ST" != "$B_CUR" -a "$A_ST" != "$B_ST"
check "prepublish fleet: the shared RRset holds each host's current + next: 4 RSA + 4 ECDSA records, exactly, on every server" \
	exactly_wait $A_CUR $A_ST $B_CUR $B_ST
check "prepublish fleet: staging changed neither main.cf" \
	eval 'cmp -s "$D/a.main.cf" "$ETC_A/main.cf" && cmp -s "$D/b.main.cf" "$ETC_B/main.cf"'
t_all=$EPOCHREALTIME

# ---- a rollover on host A ------------------------------------------------------------------
sleep_past "$(pp_json "$CF_A" | jq -r .staged.deployable_from)"
t_a=$EPOCHREALTIME
timeout 90 "$SB_PFTLS" -c "$CF_A" now --wait >"$D/a.now" 2>&1
a_rc=$?
A_NX=$(pp_wait_staged "$CF_A" "$A_ST" 10)
check "prepublish fleet: A: now --wait (exit $a_rc) deployed A's staged keys and staged new ones" \
	test "$a_rc" = 0 -a "$(keyspkis "$ETC_A")" = "$A_ST" -a -n "$A_NX" -a "$A_NX" != "$A_ST"
check "prepublish fleet: A: B's keys and state untouched (main.cf, phase staged, the same staged keys)" \
	eval 'cmp -s "$D/b.main.cf" "$ETC_B/main.cf" && [ "$(pp_staged "$CF_B")" = "$B_ST" ]'
check "prepublish fleet: after A's rollover: A's old records gone, A's current + next and B's current + next, exactly, everywhere" \
	exactly_wait $A_ST $A_NX $B_CUR $B_ST
t_a_done=$EPOCHREALTIME

# ---- then one on host B --------------------------------------------------------------------
cp "$ETC_A/main.cf" "$D/a.main.cf"
sleep_past "$(pp_json "$CF_B" | jq -r .staged.deployable_from)"
t_b=$EPOCHREALTIME
timeout 90 "$SB_PFTLS" -c "$CF_B" now --wait >"$D/b.now" 2>&1
b_rc=$?
B_NX=$(pp_wait_staged "$CF_B" "$B_ST" 10)
check "prepublish fleet: B: now --wait (exit $b_rc) deployed B's staged keys and staged new ones" \
	test "$b_rc" = 0 -a "$(keyspkis "$ETC_B")" = "$B_ST" -a -n "$B_NX" -a "$B_NX" != "$B_ST"
check "prepublish fleet: B: A's main.cf and staged keys untouched" \
	eval 'cmp -s "$D/a.main.cf" "$ETC_A/main.cf" && [ "$(pp_staged "$CF_A")" = "$A_NX" ]'
check "prepublish fleet: after B's rollover: each host's current + next, exactly, everywhere" \
	exactly_wait $A_ST $A_NX $B_ST $B_NX
t_end=$EPOCHREALTIME

# ---- nobody removed another's records: every sample of every server ------------------------
FINAL=$(csv $A_ST $A_NX $B_ST $B_NX)
wait_until 150 every_resolver "$LOG_A" - "$FINAL" newonly 2
wait_until 100 every_resolver "$LOG_B" - "$FINAL" newonly 2
touch "$D/a.stop" "$D/b.stop"
stop_probes
touch "$D/poll.stop"
wait "$POLL_PID"
POLL_PID=
R=$D/rrsets
held() { # LABEL SPKIS FROM UNTIL
	local n bad first
	read -r n bad first <<<"$(always_held "$R" "$2" "$3" "$4")"
	check "prepublish fleet: $1 in every sample of every server ($n samples, $bad without$([ "$first" != - ] && echo ", first: $first"))" \
		test "$n" -gt 0 -a "$bad" = 0
}
held "during A's rollover: B's current and staged records" "$B_CUR $B_ST" "$t_all" "$t_a_done"
held "during B's rollover: A's current (A's former staged) and new staged records" "$A_ST $A_NX" "$t_a_done" "$t_end"
held "throughout: A's first staged key, deployed by A's rollover" "$A_ST" "$t_all" "$t_end"
held "throughout: B's first staged key, deployed by B's rollover" "$B_ST" "$t_all" "$t_end"
echo "prepublish fleet: RRset samples: $(grep -c '^R' "$R"), unanswered: $(awk '$1 == "R" && $4 == "?"' "$R" | wc -l)"

# ---- the observer: zero failures for both hosts ------------------------------------------
for h in A B; do
	eval "log=\$LOG_$h"
	[ "$h" = A ] && { old=$A_CUR new=$A_ST; } || { old=$B_CUR new=$B_ST; }
	total=$(grep -c '^P ' "$log") fails=$(awk '$1 == "P" && $5 != "ok"' "$log" | wc -l)
	check "prepublish fleet: host $h: zero DANE failures in $total probes over 3 resolvers x rsa,ecdsa$([ "$fails" != 0 ] && echo " ($fails, e.g. $(first_failures "$log"))")" \
		test "$fails" = 0 -a "$total" -gt 0
	for r in $RESOLVERS; do
		o=$(awk -v r="$r" -v a="${old% *}" -v b="${old#* }" '$1 == "P" && $3 == r && $5 == "ok" && ($8 == a || $8 == b)' "$log" | wc -l)
		n=$(awk -v r="$r" -v a="${new% *}" -v b="${new#* }" '$1 == "P" && $3 == r && $5 == "ok" && ($8 == a || $8 == b)' "$log" | wc -l)
		e=$(awk -v r="$r" '$1 == "P" && $3 == r && $5 == "ok" && split($7, x, ",") == 8' "$log" | wc -l)
		check "prepublish fleet: host $h through $r: validated before ($o) and after ($n) its deploy, with the 8-record RRset ($e)" \
			test "$o" -ge 2 -a "$n" -ge 2 -a "$e" -ge 2
	done
done
