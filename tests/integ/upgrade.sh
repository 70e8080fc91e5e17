#!/bin/bash
# tests/integ/upgrade.sh - a state file written by the previous release
# (tests/fixtures/state-v1: on-demand, commit 4cfb055, one file per phase;
# its README says how they were made) resumed by this one, with real BIND
# (signing primary + 2 secondaries) and a running Postfix:
#  1. every fixture as it is, byte for byte: `status` (text and JSON) reads
#     it and shows the same phase, rollover id and (failed) failed_from;
#  2. every in-progress phase (generated .. retired): the world of the
#     capture recreated (the fixtures' paths under /tmp/pftls-upgrade-fixture,
#     their key files, main.cf and DNS records), the file's times moved to
#     now (as if the old daemon had just saved it: the same shift for every
#     time, the checksum recomputed as the format does), then the NEW daemon
#     with the default rollover_scheme (prepublish) carries the on-demand
#     rollover on unchanged: the same rollover id to its end, no staging
#     while it lasts, the fixture's next keys deployed (main.cf, live) no
#     earlier than the SPEC.md 4 formula from the file's t_pub/t_conf,
#     nothing deployed again when the file was past the deploy, the old
#     records withdrawn; and only after it completed (its
#     rollover-completed event first) a next key staged: phase staged,
#     current + next served everywhere;
#  3. idle after a rollover: the new daemon stages a next key and deploys
#     nothing; failed: it stays failed, makes no key, until `now` resumes
#     the rollover, which then completes and stages a next key.
# Budget: ~3 min alone (150-170 s: nine rollovers or stagings on one sandbox).
set -u
cd "$(dirname "$0")/../.."
. tests/lib/rollover.sh
FX=$(pwd)/tests/fixtures/state-v1
PHASES=(generated published propagated deployable deployed verified retired idle failed)

# The fixtures name this directory and this sandbox (capture.sh): one run
# at a time on a machine.
W=/tmp/pftls-upgrade-fixture
exec 9>/tmp/pftls-upgrade-fixture.lock
flock -w 600 9 || { fail "the lock /tmp/pftls-upgrade-fixture.lock"; exit 1; }
rm -rf "$W"
mkdir -p "$W"
trap 'roll_cleanup; rm -rf "$W"' EXIT
roll_setup "$W" 13 || { fail "sandbox starts (BIND on 127.57.13.x, Postfix on 127.57.0.130)"; exit 1; }
# The configuration of the capture, without rollover_scheme: the default.
roll_conf
sed -i '/^rollover_scheme *=/d' "$ROLL_CF"
roll_notify_start "$W/notify.log" || { fail "an sd_notify socket"; exit 1; }
check_eq "the test's configuration has the default rollover_scheme, prepublish" \
	"rollover_scheme = prepublish" "$("$PFTLS" -c "$ROLL_CF" config rollover_scheme 2>&1)"

# rebase FILE DELTA: FILE's times (t_*, alert_last, each server's
# confirmation, each event) DELTA seconds later, and its checksum line
# recomputed over the bytes before it, as state_file.c does.
rebase() {
	local body
	body=$(perl -ne 'BEGIN { $d = shift @ARGV } next if /^checksum = /;
		s/^((?:t_\w+|alert_last) = )(\d+)$/$1 . ($2 + $d)/e;
		s/^(event = )(\d+)/$1 . ($2 + $d)/e;
		s/^(server = \S+ \d+ )(\d+)$/$1 . ($2 + $d)/e; print' "$2" "$1")
	printf '%s\nchecksum = %s\n' "$body" "$(printf '%s\n' "$body" | sha256sum | cut -d' ' -f1)"
}
same=0
for f in "$FX"/*.state; do cmp -s "$f" <(rebase "$f" 0) && same=$((same + 1)); done
check_eq "the rebase's checksum is the format's (each of the 9 fixtures moved by 0 s is itself)" 9 "$same"

# place PHASE [rebase]: the fixture's files in the Postfix directory, its
# main.cf parameters (Postfix reloaded), its TLSA records on all three
# servers, its state file (moved to now with "rebase").
place() {
	local p=$1 s serial want i
	rm -f "$ROLL_STATE"/pftls-roll.state "$ROLL_PF"/*.pem
	mkdir -p "$ROLL_STATE"
	cp "$FX"/files/*.pem "$ROLL_PF"/
	chmod 600 "$ROLL_PF"/key-*.pem "$ROLL_PF"/eckey-*.pem
	postconf -c "$ROLL_PF" -e $(sed 's/ = /=/' "$FX/$p.maincf") || return 1
	postfix -c "$ROLL_PF" reload >/dev/null 2>&1 || return 1
	# The records, and a serial at least the one the file recorded (a
	# server's confirmation compares with it).
	serial=$(sed -n 's/^update_serial = //p' "$FX/$p.state")
	{
		echo "update delete $ROLL_NAME. TLSA"
		sed "s/^/update add $ROLL_NAME. 5 IN TLSA /" "$FX/$p.tlsa"
	} | bind_nsupdate "$ROLL_WORK/bind/keys/pftls.key" "$(cat)" || return 1
	for ((i = 0; i < 20 && $(bind_serial "$ROLL_NET.1") < ${serial:-0}; i++)); do
		bind_nsupdate "$ROLL_WORK/bind/keys/pftls.key" "update add bump.example.test. 5 IN TLSA 3 1 1 $(printf '%064x' "$i")
update delete bump.example.test. TLSA" || return 1
		sleep 0.2
	done
	want=$(cat "$FX/$p.tlsa")
	for ((i = 0; i < 100; i++)); do
		for s in 1 2 3; do
			[ "$(roll_served "$ROLL_NET.$s")" = "$want" ] || continue 2
		done
		break
	done
	[ "$i" -lt 100 ] || return 1
	if [ "${2:-}" = rebase ]; then
		rebase "$FX/$p.state" $(($(date +%s) - $(awk -v p="$p" '$1 == p { print $2 }' "$FX/captured"))) \
			>"$ROLL_STATE/pftls-roll.state"
	else
		cp "$FX/$p.state" "$ROLL_STATE/pftls-roll.state"
	fi
	chmod 600 "$ROLL_STATE/pftls-roll.state"
}
field() { sed -n "s/^$2 = //p" "$FX/$1.state"; }

# ---- 1. every fixture, as it is ----------------------------------------------
for p in "${PHASES[@]}"; do
	place "$p" || { fail "$p: the fixture's world recreated"; continue; }
	J=$(roll_json)
	want="$p $(field "$p" rollover) $(field "$p" failed_from)"
	check_eq "$p: status --json of the fixture as the old release wrote it: phase, rollover id, failed_from" \
		"$(echo $want)" "$(jq -r '[.phase, (.rollover // empty), (.failed_from // empty)] | join(" ")' <<<"$J")"
	roll_cmd status
	check "$p: status (text) reads it (exit 0) and names phase $p" \
		test "$RC" = 0 -a -n "$(grep -w "$p" <<<"$OUT")"
done

# ---- 2. the in-progress phases, resumed by the new daemon -----------------------
# next_keys FIXTURE: the next key files the fixture planned (rsa ecdsa).
next_keys() { echo "$(field "$1" rsa.next_key) $(field "$1" ecdsa.next_key)"; }
deployed_pair() { echo "$(roll_deployed rsa) $(roll_deployed ecdsa)"; }

# resume PHASE: the new daemon on the rebased fixture, until a next key is
# staged (at most 150 s); the states it passed in W/PHASE.states.
resume() {
	local p=$1 i
	roll_poll_start "$W/$p.states"
	roll_daemon_start || { fail "$p: the new daemon starts on the fixture: $(tail -1 "$W/daemon.err")"; return 1; }
	for ((i = 0; i < 600; i++)); do
		[ "$(jq_state '.phase + " " + (.staging | tostring)')" = "staged true" ] && break
		kill -0 "$ROLL_DAEMON_PID" 2>/dev/null || break
		sleep 0.25
	done
	sleep 0.5 # the poller's last line
	roll_poll_stop
}
daemon_stop() {
	[ -n "${ROLL_DAEMON_PID:-}" ] || return 0
	kill "$ROLL_DAEMON_PID" 2>/dev/null
	roll_wait_exit "$ROLL_DAEMON_PID" 30
	ROLL_DAEMON_PID=""
}

# after_completion PHASE FILE: the checks of a fixture's rollover carried to
# its end and the staging after it.
after_completion() {
	local p=$1 states=$2 id new live J st
	id=$(field "$p" rollover)
	new=$(next_keys "$p")
	J=$(roll_json)
	check_eq "$p: a next key staged at the end (phase staged, held)" "staged true" \
		"$(jq -r '.phase + " " + (.staging | tostring)' <<<"$J")"
	check_eq "$p: main.cf deploys the fixture's next keys" "$new" "$(deployed_pair)"
	check_eq "$p: the live server presents them (s_client)" \
		"$(roll_key_spki "${new% *}") $(roll_key_spki "${new#* }")" "$(roll_live_spki rsa) $(roll_live_spki ecdsa)"
	check_eq "$p: while the fixture's rollover lasted (its id), no state said staging" "" \
		"$(jq -r --arg id "$id" 'select(.rollover == $id and .staging) | .phase' "$states" | sort -u | paste -sd' ')"
	check "$p: the first state of the staging cycle comes after the last of the fixture's rollover" \
		jq_quiet -s -e --arg id "$id" '
			([to_entries[] | select(.value.rollover == $id) | .key] | max) as $last |
			([to_entries[] | select(.value.staging) | .key] | min) as $first |
			$first != null and ($last == null or $first > $last)' "$states"
	check "$p: the events say rollover-completed, then staging-started" \
		jq_quiet -e '[.events[].event | select(. == "rollover-completed" or . == "staging-started")] |
			index("rollover-completed") as $c | ($c != null) and (.[$c:] | index("staging-started") != null)' <<<"$J"
	read -r STR STE < <(jq -r '[(.keys[] | select(.algorithm == "rsa") | .next.key),
		(.keys[] | select(.algorithm == "ecdsa") | .next.key)] | join(" ")' <<<"$J")
	check "$p: the staged keys are new ones (not among the fixture's files), made after main.cf deployed the fixture's keys" \
		test ! -e "$FX/files/$(basename "$STR")" -a ! -e "$FX/files/$(basename "$STE")" \
		-a "$(stat -c %Y "$STR")" -ge "$(stat -c %Y "$ROLL_PF/main.cf")"
	live=$(sandbox_rdata_of "${new% *}" "${new#* }" "$STR" "$STE")
	st=""
	for i in 1 2 3; do [ "$(roll_served "$ROLL_NET.$i")" = "$live" ] || st="$st $ROLL_NET.$i"; done
	check_eq "$p: every server serves exactly current + next (the deployed and the staged keys' records; the fixture's old ones withdrawn)" "" "$st"
	check_eq "$p: rollovers_completed counted the fixture's rollover" \
		"$(($(field "$p" rollovers_completed | grep . || echo 0) + 1))" \
		"$(sed -n 's/^rollovers_completed = //p' "$ROLL_STATE/pftls-roll.state")"
}
jq_quiet() { jq "$@" >/dev/null; }
sandbox_rdata_of() { local k; for k in "$@"; do roll_rec "$k"; done | sort; }

for p in generated published propagated deployable deployed verified retired; do
	place "$p" rebase || { fail "$p: the fixture's world recreated"; continue; }
	check_eq "$p: status --json of the rebased fixture: phase $p" "$p" "$(roll_phase)"
	first=$(roll_json)
	mc0=$(stat -c %Y.%y "$ROLL_PF/main.cf")
	t_start=$(date +%s)
	resume "$p" || continue
	daemon_stop
	after_completion "$p" "$W/$p.states"
	# The deploy: from the first state with t_conf (the file's own, or one
	# the new daemon recorded), never before the formula.
	tc=$(jq -c 'select(.times.t_conf != null)' "$W/$p.states" | head -1)
	case $p in
	generated | published | propagated | deployable)
		# The inputs the file recorded (the same in every fixture, and
		# the configuration's for one the new daemon published):
		# the RRset's TTL before, tlsa_ttl, ttl_factor, publish_safety,
		# propagation_min_delay.
		ROLL_TLSA_TTL_BEFORE=$(field published rrset_before | awk '{ print $3 }')
		ROLL_SOA_TTL=$(field published soa_ttl) ROLL_SOA_MIN=$(field published soa_minimum)
		# In ms (the new daemon deploys at the formula's ms; a file's
		# whole-second stamps count as their second).
		read -r min _ < <(roll_formula_ms "$tc" "$(field published tlsa_ttl)" "$(field published ttl_factor)" \
			"$(field published publish_safety)" "$(field published propagation_min_delay)")
		mt=$(roll_mtime_ms "$ROLL_PF/main.cf")
		check "$p: main.cf changed ($(((mt - t_start * 1000) / 1000)) s after the start) no earlier than the SPEC.md 4 formula from the first recorded t_pub/t_conf, the file's own or, where it had none yet, the new daemon's ($(((${min:-0} - t_start * 1000) / 1000)) s)" \
			test -n "$tc" -a -n "$min" -a "$mt" -ge "${min:-0}"
		;;
	*)
		check_eq "$p: main.cf was not deployed again (already past the deploy in the file)" "$mc0" \
			"$(stat -c %Y.%y "$ROLL_PF/main.cf")"
		;;
	esac
done

# ---- 3. idle after a rollover, and failed ---------------------------------------
p=idle
place "$p" rebase || fail "$p: the fixture's world recreated"
mc0=$(stat -c %Y.%y "$ROLL_PF/main.cf") dep0=$(deployed_pair)
resume "$p"
daemon_stop
J=$(roll_json)
check_eq "idle: the new daemon stages a next key (phase staged, held)" "staged true" \
	"$(jq -r '.phase + " " + (.staging | tostring)' <<<"$J")"
check_eq "idle: and deploys nothing (main.cf as it was)" "$mc0 $dep0" "$(stat -c %Y.%y "$ROLL_PF/main.cf") $(deployed_pair)"
read -r STR STE < <(jq -r '[(.keys[] | select(.algorithm == "rsa") | .next.key),
	(.keys[] | select(.algorithm == "ecdsa") | .next.key)] | join(" ")' <<<"$J")
live=$(sandbox_rdata_of $dep0 "$STR" "$STE")
st=""
for i in 1 2 3; do [ "$(roll_served "$ROLL_NET.$i")" = "$live" ] || st="$st $ROLL_NET.$i"; done
check_eq "idle: every server serves current + next" "" "$st"
check_eq "idle: rollovers_completed kept" "$(field idle rollovers_completed)" \
	"$(sed -n 's/^rollovers_completed = //p' "$ROLL_STATE/pftls-roll.state")"

p=failed
place "$p" rebase || fail "$p: the fixture's world recreated"
mc0=$(stat -c %Y.%y "$ROLL_PF/main.cf")
n0=$(roll_nfiles '*.pem')
roll_poll_start "$W/failed.states"
roll_daemon_start || fail "failed: the new daemon starts on the fixture"
sleep 5
check_eq "failed: the new daemon leaves it failed (failed_from deployable), makes no key, deploys nothing" \
	"failed deployable $n0 $mc0" \
	"$(jq_state '.phase + " " + .failed_from') $(roll_nfiles '*.pem') $(stat -c %Y.%y "$ROLL_PF/main.cf")"
roll_cmd now
check "failed: now (resume) reaches the daemon" test "$RC" = 0
for ((i = 0; i < 600; i++)); do
	[ "$(jq_state '.phase + " " + (.staging | tostring)')" = "staged true" ] && break
	sleep 0.25
done
sleep 0.5
roll_poll_stop
daemon_stop
after_completion failed "$W/failed.states"
exit 0
