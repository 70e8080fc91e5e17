#!/bin/bash
# tests/integ/rollover_daemon.sh - rollovers run by pftls-rolld (real BIND,
# a running Postfix, a private journald in this test's mount namespace, and
# a NOTIFY_SOCKET the test listens on):
#  1. `pftls-roll now --wait` hands the rollover to the daemon and follows it
#     to the end: new keys deployed and live, old records gone, deploy no
#     earlier than SPEC.md 4 allows; sd_notify READY=1, a STATUS= per waiting
#     phase, WATCHDOG=1 pings; the journal entries come from the daemon;
#  2. a second rollover with the daemon killed inside key generation (by
#     its own fault point), then SIGKILLed as soon as each later phase
#     shows, and restarted each time (plus one SIGTERM, which must stop it
#     cleanly): the rollover resumes by itself and completes, nothing
#     recorded moves, no step is repeated visibly;
#  3. a busy daemon: while one of its steps waits on a stopped primary
#     (PFTLS_DNS_TIMEOUT_MS=20000, as on a slow link) for longer than 10 s,
#     `pftls-roll now` says the daemon is busy and waits for its answer
#     instead of giving up.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/journald.sh
journald_enter_ns "$0" "$@"
. tests/lib/rollover.sh

[ -x "$PFTLS_DAEMON" ] || { fail "pftls-rolld is built ($PFTLS_DAEMON)"; exit 1; }
roll_begin daemon 7 journal
roll_publish_old 6 || { fail "old records published with nsupdate"; exit 1; }
roll_read_ttls
roll_notify_start "$W/notify.log" || { fail "the notify listener starts"; exit 1; }
OLD_RSA=$(roll_deployed rsa) OLD_EC=$(roll_deployed ecdsa)
reloads0=$(roll_reloads)

# ---- 1. a rollover run by the daemon -----------------------------------------------
roll_daemon_start
check "the daemon starts and sends READY=1" test $? -eq 0
D1=$ROLL_DAEMON_PID
# One daemon per state directory; the lock is the daemon's own, not shared
# with its network process (a record lock, not an flock).
second=$(timeout 10 "$PFTLS_DAEMON" -c "$ROLL_CF" 2>&1)
second_rc=$?
check "a second pftls-rolld on the same state directory refuses (exit $second_rc), naming the first: $(tail -1 <<<"$second")" \
	eval '[ "$second_rc" = 1 ] && grep -q "another pftls-rolld (pid $D1) uses" <<<"$second"'
roll_poll_start "$W/states1"
run -c "$ROLL_CF" now --wait
roll_poll_stop
check_eq "now --wait through the daemon: exit 0" 0 "$RC"
check "now handed the rollover to the daemon (not the foreground)" \
	bash -c 'grep -q "rollover under way" <<<"$0" && ! grep -q "in the foreground" <<<"$0"' "$OUT"
check "now --wait showed the phases as plain lines (not a terminal)" \
	bash -c 'grep -q "^propagated: deploy at" <<<"$0" && [ "$(tail -1 <<<"$0")" = idle ]' "$OUT"
check_eq "phase idle afterwards, the daemon still running" "idle 0" \
	"$(roll_phase) $(kill -0 "$D1" 2>/dev/null; echo $?)"
FIRST=$(roll_snapshot "$W/states1" '.times.t_conf != null')
roll_check_done "$OLD_RSA" "$OLD_EC" "$FIRST"
S=$(roll_snapshot "$W/states1" '.times.t_deployed != null')
read -r deploy_min ttl_eff < <(roll_formula "$FIRST" 5 2 1 0)
check_eq "TTLeff = the old RRset's TTL read with dig (6)" "6 6" "$ttl_eff $(jq .ttl_eff <<<"$FIRST")"
check "t_deployed ($(jq .times.t_deployed <<<"$S")) no earlier than the formula ($deploy_min)" \
	test "$(jq .times.t_deployed <<<"$S")" -ge "$deploy_min"
check_eq "Postfix reloaded once" 1 "$(($(roll_reloads) - reloads0))"

check_eq "sd_notify: READY=1 once" 1 "$(grep -c '^READY=1$' "$W/notify.log")"
for p in published propagated verified; do
	check "sd_notify: a STATUS= line for phase $p" grep -q "^STATUS=$p: " "$W/notify.log"
done
check_eq "sd_notify: the last STATUS= says idle" "STATUS=idle" "$(grep '^STATUS=' "$W/notify.log" | tail -1)"
check "sd_notify: WATCHDOG=1 pings (WATCHDOG_USEC=2 s)" \
	test "$(grep -c '^WATCHDOG=1$' "$W/notify.log")" -ge 3

journald_sync
journald_read -o json SYSLOG_IDENTIFIER=pftls-rolld >"$W/journal.json"
check_eq "journal: daemon-started from the daemon's PID, in phase idle" "$D1 idle" \
	"$(jq -r 'select(.PFTLS_EVENT == "daemon-started") | ._PID + " " + .PFTLS_PHASE' "$W/journal.json" | head -1)"
ROLL1=$(jq -r .rollover <<<"$FIRST")
check_eq "journal: every event of the rollover logged by the daemon's PID" "$D1" \
	"$(jq -r --arg r "$ROLL1" 'select(.PFTLS_ROLLOVER == $r) | ._PID' "$W/journal.json" | sort -u | paste -sd' ')"
for e in records-published propagation-complete deployed verified retired rollover-completed; do
	check_eq "journal: $e once, with MESSAGE_ID, PRIORITY and PFTLS_PHASE/ROLLOVER/KEY_SPKI" 1 \
		"$(jq -r --arg r "$ROLL1" --arg e "$e" 'select(.PFTLS_ROLLOVER == $r and .PFTLS_EVENT == $e and
			(.MESSAGE_ID | test("^[0-9a-f]{32}$")) and has("PRIORITY") and has("PFTLS_PHASE") and
			has("PFTLS_KEY_SPKI")) | 1' "$W/journal.json" | wc -l)"
done

# ---- 2. the daemon killed in every phase ---------------------------------------------
OLD_RSA=$(roll_deployed rsa) OLD_EC=$(roll_deployed ecdsa)
reloads0=$(roll_reloads)
roll_read_ttls
# First a death inside key generation, deterministically: the daemon kills
# itself (PFTLS_FAULT, daemon/util.c) right after its 2nd durable write, the
# save of the first key plan; the restarted daemon must take that rollover
# up again (phase idle, rollover id saved), not leave it or begin another.
kill -TERM "$ROLL_DAEMON_PID"
roll_wait_exit "$ROLL_DAEMON_PID" 15
PFTLS_FAULT=dirsync PFTLS_FAULT_COUNT=2 roll_daemon_start
run -c "$ROLL_CF" now
roll_wait_exit "$ROLL_DAEMON_PID" 15
cur=$(roll_json)
check_eq "the daemon died inside key generation: phase idle, rollover id and a key plan saved" \
	"137 idle true 1" "$ROLL_EXIT $(jq -r '.phase + " " + (.rollover != null | tostring) + " " + (.keys | length | tostring)' <<<"$cur")"
check "now, whose daemon died under it, fails (exit $RC): $(tail -1 <<<"$ERR")" test "$RC" -ne 0
first="" prev=$cur killed_in=(idle) gen_kills=0 deploy_kills=0 restarts_ok=0 sigterms=0
roll_daemon_start && restarts_ok=$((restarts_ok + 1))
for target in published propagated deployable deployed verified; do
	want=$(roll_pidx "$target") p=""
	for ((i = 0; i < 1200; i++)); do # at most ~60 s
		p=$(roll_phase)
		[ "$(roll_pidx "$p")" -ge "$want" ] && break
		sleep 0.05
	done
	kill -KILL "$ROLL_DAEMON_PID"
	wait "$ROLL_DAEMON_PID" 2>/dev/null
	cur=$(roll_json)
	p=$(jq -r .phase <<<"$cur")
	echo "# aimed at $target, daemon killed in $p"
	killed_in+=("$p")
	[ "$p" = generated ] && gen_kills=$((gen_kills + 1))
	[ "$p" = deployable ] && deploy_kills=$((deploy_kills + 1))
	[ -z "$first" ] && [ "$(jq -r '.times.t_conf // empty' <<<"$cur")" != "" ] && first=$cur
	if [ -n "$prev" ] && [ "$p" != idle ]; then
		# A key planned but never written (the fault above) is made
		# again: compare the planned keys only from phase generated on.
		k=keys
		[ "$(jq -r .phase <<<"$prev")" = idle ] && k=""
		check_eq "daemon killed in $p: nothing recorded earlier moved" "" \
			"$(roll_moved "$prev" "$cur" $k)"
	fi
	[ "$p" != idle ] && prev=$cur
	if [ "$p" = propagated ] && [ "$target" = propagated ]; then
		# SIGTERM in the deploy wait: a clean stop, then a restart.
		roll_daemon_start && restarts_ok=$((restarts_ok + 1))
		sigterms=1
		kill -TERM "$ROLL_DAEMON_PID"
		roll_wait_exit "$ROLL_DAEMON_PID" 15
		check_eq "SIGTERM in phase propagated: the daemon exits 0" 0 "$ROLL_EXIT"
		check "SIGTERM: STOPPING=1 sent" grep -q '^STOPPING=1$' "$W/notify.log"
		check_eq "SIGTERM: the state is left in phase propagated, unchanged" "propagated " \
			"$(roll_phase) $(roll_moved "$cur" "$(roll_json)" keys)"
	fi
	roll_daemon_start && restarts_ok=$((restarts_ok + 1))
	[ "$(roll_pidx "$p")" -ge 6 ] || [ "$p" = idle ] && break
done
check_eq "every restart of the daemon sent READY=1" "$((${#killed_in[@]} + sigterms))" "$restarts_ok"
# The phases that last seconds (the propagation wait, the deploy wait, the
# retire wait) are always hit; the others (about 0.1 s) by luck.
check "kills landed in idle (fault), propagated, deployable and verified (killed in: ${killed_in[*]})" \
	bash -c 'for p in idle propagated deployable verified; do
		[[ " $0 " == *" $p "* ]] || exit 1; done' "${killed_in[*]}"
check_eq "the restarted daemon completes the rollover by itself" idle "$(roll_wait_phase idle failed -t 90)"
roll_check_done "$OLD_RSA" "$OLD_EC" "$first" 3
NEW_RSA=$(roll_deployed rsa) NEW_EC=$(roll_deployed ecdsa)
a_rsa=$(roll_adds "$NEW_RSA") a_ec=$(roll_adds "$NEW_EC")
check "BIND was sent each new record once ($a_rsa, $a_ec; one more per kill in phase generated: $gen_kills)" \
	test "$a_rsa" -ge 1 -a "$a_rsa" -le $((gen_kills + 1)) -a "$a_ec" -ge 1 -a "$a_ec" -le $((gen_kills + 1))
r=$(($(roll_reloads) - reloads0))
check "Postfix reloaded once, plus once per kill while deploying ($r reloads, $deploy_kills such kills)" \
	test "$r" -ge 1 -a "$r" -le $((deploy_kills + 1))
journald_sync
ROLL2=$(jq -r .rollover <<<"$first")
check_eq "journal: one records-published and one deployed event for the second rollover" "1 1" \
	"$(journald_read -o json PFTLS_ROLLOVER="$ROLL2" PFTLS_EVENT=records-published | wc -l) $(journald_read -o json PFTLS_ROLLOVER="$ROLL2" PFTLS_EVENT=deployed | wc -l)"
check "journal: daemon-stopping logged for the SIGTERM" \
	test "$(journald_read -o json PFTLS_EVENT=daemon-stopping | wc -l)" -ge 1

# ---- 3. a busy daemon ------------------------------------------------------------------
kill -TERM "$ROLL_DAEMON_PID"
roll_wait_exit "$ROLL_DAEMON_PID" 15
PFTLS_DNS_TIMEOUT_MS=20000 roll_daemon_start
check "the daemon restarts with a 20 s DNS deadline" test $? -eq 0
kill -STOP "$BIND_PRIMARY_PID"
run -c "$ROLL_CF" now # answered at once; the publish step then waits on the primary
check_eq "now with the primary stopped: the daemon takes the rollover (exit 0)" 0 "$RC"
sleep 1
t0=$SECONDS
"$PFTLS" -c "$ROLL_CF" now >"$W/busy.out" 2>"$W/busy.err" &
busy=$!
sleep 13
kill -CONT "$BIND_PRIMARY_PID"
wait "$busy"
busy_rc=$? busy_secs=$((SECONDS - t0))
check "now to a daemon busy for ${busy_secs}s (over the 10 s it used to wait) gets its answer, exit $busy_rc: $(tail -1 "$W/busy.out") $(tail -1 "$W/busy.err")" \
	eval '[ "$busy_rc" = 0 ] && [ "$busy_secs" -ge 11 ] && grep -q "^rollover under way" "$W/busy.out"'
check "while it waits, now says once on stderr that the daemon is busy, and nothing else" \
	eval '[ "$(grep -c "pftls-rolld is busy with a step" "$W/busy.err")" = 1 ] && [ "$(wc -l <"$W/busy.err")" = 1 ]'
p=$(roll_wait_phase published propagated deployable -t 30)
check "once the primary answers, the rollover goes on (phase $p: published or later)" \
	eval '[[ " published propagated deployable " == *" $p "* ]]'
