#!/bin/bash
# tests/integ/rollover_fault.sh - crashes INSIDE the durable writes: one
# RSA+ECDSA rollover (real BIND and Postfix) driven by `pftls-roll now` runs
# that each kill themselves (PFTLS_FAULT=write|fsync|rename|dirsync,
# PFTLS_FAULT_COUNT=N: SIGKILL at that point of the Nth durable write, see
# pf_fault_point in daemon/util.c), restarted until the rollover is done.
# Each run dies in its first durable write, or, when that changed nothing,
# in its second (then not at dirsync): no run completes more than one write
# before it dies, so the rollover advances one save at a time, every state
# save and key and certificate write is interrupted, and every phase the
# state passes through is left by a death.  Steps that
# redo writes on resume (a key whose file a kill kept from disk is made
# again) get a growing count so they still get through.  After every death: the state file is
# readable (never torn), nothing recorded earlier moved, at most one new
# key per algorithm; at the end the rollover is complete and correct, with
# no temporary file left behind, and the deaths covered every phase.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/rollover.sh

roll_begin fault 3
roll_publish_old 5 || { fail "old records published with nsupdate"; exit 1; }
roll_read_ttls
OLD_RSA=$(roll_deployed rsa) OLD_EC=$(roll_deployed ecdsa)

points=(write fsync rename dirsync)
state_sum() { sha256sum "$ROLL_STATE/pftls-roll.state" 2>/dev/null; }
first="" prev="" deaths=0 bad_exit="" unreadable=0 moved_all="" extra_keys=""
declare -A died_in=() died_at=()
done_ok=0
count=1 before="" stuck=0 last_phase="" k1=0 k2=0
for ((run = 0; run < 150; run++)); do
	if [ "$count" -eq 1 ]; then
		point=${points[k1 % 4]} k1=$((k1 + 1))
	else
		point=${points[k2 % 3]} k2=$((k2 + 1))
	fi
	PFTLS_FAULT=$point PFTLS_FAULT_COUNT=$count "$PFTLS" -c "$ROLL_CF" now \
		>>"$W/now.out" 2>>"$W/now.err" &
	pid=$!
	ROLL_PIDS="$ROLL_PIDS $pid"
	wait "$pid" 2>/dev/null # no "Killed" job notice
	rc=$?
	cur=$(roll_json)
	p=$(jq -r .phase <<<"$cur" 2>/dev/null)
	if [ "$rc" -eq 0 ] && [ "$p" = idle ]; then
		done_ok=1
		break
	fi
	# Killed right after the last save (idle again): the rollover is done;
	# running now again would begin the next one.
	if [ "$rc" -eq 137 ] && [ "$p" = idle ] && [ -n "$first" ] &&
		[ "$(jq -r .rollover <<<"$cur")" = null ]; then
		done_ok=1
		deaths=$((deaths + 1))
		died_in[retired]=$((${died_in[retired]:-0} + 1))
		died_at[$point]=$((${died_at[$point]:-0} + 1))
		break
	fi
	if [ "$rc" -ne 137 ]; then
		bad_exit="$bad_exit run $run ($point $count): exit $rc, phase $p: $(grep -v '^pftls-rolld: ' "$W/now.err" | tail -1)"
		break
	fi
	echo "# run $run: $point $count -> $p"
	deaths=$((deaths + 1))
	[ -z "$cur" ] && { unreadable=$((unreadable + 1)); continue; }
	died_in[$p]=$((${died_in[$p]:-0} + 1))
	died_at[$point]=$((${died_at[$point]:-0} + 1))
	[ -z "$first" ] && [ "$(jq -r '.times.t_conf // empty' <<<"$cur")" != "" ] && first=$cur
	# A key whose file was never written is made again (new SPKI): only
	# compare planned keys once the rollover is past generation.
	if [ -n "$prev" ] && [ "$p" != idle ]; then
		k=""
		[ "$(roll_pidx "$(jq -r .phase <<<"$prev")")" -ge 2 ] && k=keys
		m=$(roll_moved "$prev" "$cur" $k)
		[ -n "$m" ] && moved_all="$moved_all [$p after $point $count: $m]"
	fi
	n="$(roll_nfiles 'key-*.pem') $(roll_nfiles 'eckey-*.pem')"
	[ "$n" = "2 2" ] || [ "$n" = "1 1" ] || [ "$n" = "2 1" ] ||
		extra_keys="$extra_keys [$p after $point $count: $n]"
	[ "$p" != idle ] && prev=$cur
	after=$(state_sum)
	if [ "$p" = "$last_phase" ]; then stuck=$((stuck + 1)); else stuck=0; fi
	if [ "$after" = "$before" ]; then
		count=$((count + 1))
	else
		count=$((1 + stuck / 6))
	fi
	before=$after last_phase=$p
done
echo "# $deaths deaths; by phase: $(for k in "${!died_in[@]}"; do printf '%s=%s ' "$k" "${died_in[$k]}"; done)"
echo "# by point: $(for k in "${!died_at[@]}"; do printf '%s=%s ' "$k" "${died_at[$k]}"; done)"

check_eq "every run either died by its fault point or completed the rollover" "" "$bad_exit"
check "the rollover completed (phase idle) after $deaths deaths" test "$done_ok" -eq 1
check_eq "the state was readable after every death (never torn)" 0 "$unreadable"
check_eq "no death moved a recorded timestamp, the rollover id, a planned key, deploy_at or a confirmation" \
	"" "$moved_all"
check_eq "never more than one new key per algorithm on disk" "" "$extra_keys"
missing=""
for ph in idle generated published propagated deployable deployed verified retired; do
	[ -n "${died_in[$ph]:-}" ] || missing="$missing $ph"
done
check_eq "deaths fell in every phase (idle with the plan saved .. retired)" "" "$missing"
check_eq "deaths at every fault point" 4 "${#died_at[@]}"
check_eq "every restart resumed the same rollover (one rollover id in all events logged)" 1 \
	"$(grep -o 'rollover=[0-9a-f]*' "$W/now.err" | sort -u | wc -l)"
roll_check_done "$OLD_RSA" "$OLD_EC" "$first"
