#!/bin/bash
# tests/integ/rollover_kill.sh - SIGKILL the foreground `pftls-roll now` as
# soon as the state shows each phase, restart it, and so on to the end of
# one RSA+ECDSA rollover (real BIND and Postfix).  After every kill: the
# state is readable, no recorded timestamp or planned key moved, the deploy
# time never moved, main.cf still has the old keys before deploy, and no
# second new key appeared; at the end the rollover is complete, the deploy
# happened no earlier than SPEC.md 4 allows computed from the FIRST t_pub
# and t_conf ever recorded, each new record was added once (BIND's log),
# and main.cf went from the old keys to the new ones once.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/rollover.sh

roll_begin kill 2
roll_publish_old 5 || { fail "old records published with nsupdate"; exit 1; }
roll_read_ttls
OLD_RSA=$(roll_deployed rsa) OLD_EC=$(roll_deployed ecdsa)
reloads0=$(roll_reloads)

first=""  # the first state of the rollover with t_pub and t_conf
prev=""
killed_in=()
deploy_kills=0
for target in generated published propagated deployable deployed verified; do
	"$PFTLS" -c "$ROLL_CF" now >>"$W/now.out" 2>>"$W/now.err" &
	pid=$!
	ROLL_PIDS="$ROLL_PIDS $pid"
	want=$(roll_pidx "$target") p=""
	for ((i = 0; i < 1200; i++)); do # at most ~60 s
		p=$(roll_phase)
		[ "$(roll_pidx "$p")" -ge "$want" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	cur=$(roll_json)
	p=$(jq -r .phase <<<"$cur")
	if [ -z "$cur" ]; then
		fail "state readable after a kill aimed at phase $target"
		continue
	fi
	killed_in+=("$p")
	[ "$p" = deployable ] && deploy_kills=$((deploy_kills + 1))
	echo "# aimed at $target, killed in $p"
	[ -z "$first" ] && [ "$(jq -r '.times.t_conf // empty' <<<"$cur")" != "" ] && first=$cur
	if [ -n "$prev" ] && [ "$p" != idle ]; then
		check_eq "killed in $p: nothing recorded earlier moved (times, keys, deploy_at, confirmations)" \
			"" "$(roll_moved "$prev" "$cur" keys)"
	fi
	if [ "$(roll_pidx "$p")" -lt 4 ]; then
		check_eq "killed in $p: main.cf still deploys the old keys" "$OLD_RSA $OLD_EC" \
			"$(roll_deployed rsa) $(roll_deployed ecdsa)"
	fi
	check "killed in $p: at most one new key per algorithm on disk (key-*, eckey-* files)" \
		test "$(roll_nfiles 'key-*.pem')" -le 2 -a "$(roll_nfiles 'eckey-*.pem')" -le 2
	[ "$p" != idle ] && prev=$cur
	[ "$(roll_pidx "$p")" -ge 7 ] || [ "$p" = idle ] && break
done

# The last restart runs to the end.
"$PFTLS" -c "$ROLL_CF" now >>"$W/now.out" 2>>"$W/now.err" &
pid=$!
ROLL_PIDS="$ROLL_PIDS $pid"
roll_wait_phase idle failed -t 90 >/dev/null
wait "$pid" 2>/dev/null
rc=$?
check_eq "the last restart of now completes the rollover (exit 0, phase idle)" "0 idle" "$rc $(roll_phase)"
# The phases that last seconds (propagation, deploy and retire waits, the
# deploy itself) are always hit; generated, published and deployed (about
# 0.1 s) by luck: rollover_fault.sh reaches every phase deterministically.
check "kills landed in propagated, deployable and verified (killed in: ${killed_in[*]})" \
	bash -c 'for p in propagated deployable verified; do
		[[ " $0 " == *" $p "* ]] || exit 1; done' "${killed_in[*]}"

roll_check_done "$OLD_RSA" "$OLD_EC" "$first"
NEW_RSA=$(roll_deployed rsa) NEW_EC=$(roll_deployed ecdsa)
gen_kills=0
for p in "${killed_in[@]}"; do [ "$p" = generated ] && gen_kills=$((gen_kills + 1)); done
a_rsa=$(roll_adds "$NEW_RSA") a_ec=$(roll_adds "$NEW_EC")
check "BIND was sent each new record once ($a_rsa, $a_ec; one more allowed per kill in phase generated: $gen_kills)" \
	test "$a_rsa" -ge 1 -a "$a_rsa" -le $((gen_kills + 1)) -a "$a_ec" -ge 1 -a "$a_ec" -le $((gen_kills + 1))
r=$(($(roll_reloads) - reloads0))
check "Postfix reloaded once, plus once per kill while deploying ($r reloads, $deploy_kills such kills)" \
	test "$r" -ge 1 -a "$r" -le $((deploy_kills + 1))
last=$(jq -c 'select(.times.t_deployed != null)' <<<"$prev")
if [ -n "$last" ]; then
	read -r deploy_min _ < <(roll_formula "$first" 5 2 1 0)
	check "t_deployed ($(jq .times.t_deployed <<<"$last")) no earlier than the formula ($deploy_min)" \
		test "$(jq .times.t_deployed <<<"$last")" -ge "$deploy_min"
fi
check "every restart resumed the same rollover (one rollover-started event)" \
	test "$(grep -c 'rollover-started' "$W/now.err")" -eq 1
