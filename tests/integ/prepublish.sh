#!/bin/bash
# tests/integ/prepublish.sh - issue 13, rollover_scheme = prepublish, with
# real parts: BIND (signing primary + 2 secondaries), a running Postfix, a
# private journald, pftls-rolld, and the observer (three validating unbound
# resolvers, each pinned to one BIND server, probing Postfix's RSA and
# ECDSA keys with openssl's DANE check the whole time).  In order:
#  1. a fresh daemon on an installation whose main.cf deploys keys stages a
#     next key: phase staged, current + next records per algorithm on every
#     server, main.cf byte-identical, Postfix not reloaded;
#  3. `now` right after staging (its wait not passed): main.cf changes at
#     the staged key's deployable_from, within two seconds, never before;
#     then verify, retire, and the following key is staged;
#  2. `now --wait` once the wait has passed: main.cf changes within a
#     second or two (measured, printed for docs/BENCHMARKS.md); afterwards
#     current + the new next served, the old records gone, staged again;
#  4. a staged record deleted behind the daemon's back (nsupdate, the
#     zone's TSIG key), then `now`: no deploy until the daemon has put it
#     back (staged-records-changed) and its wait has passed again;
#  5. `cancel` in staged: the staged records and key files gone, the
#     current records and main.cf untouched; the daemon stages a new key.
# Zero DANE failures through the three resolvers over all of it.
# Timing: tlsa_ttl 5, SOA TTL/MINIMUM 5, ttl_factor 2, publish_safety 1 s,
# retire_delay 3 s: a staged key may deploy 11 s after it is confirmed.
# Budget: about 2 minutes (100-130 s seen on 2 loaded cores).
set -u
cd "$(dirname "$0")/../.."
. tests/lib/journald.sh
journald_enter_ns "$0" "$@"
. tests/lib/rollover.sh
. tests/lib/observer.sh
. tests/lib/prepublish.sh

[ -x "$PFTLS_DAEMON" ] || { fail "pftls-rolld is built ($PFTLS_DAEMON)"; exit 1; }
roll_begin prepub 13 journal
trap 'pp_watch_stop; observer_stop; roll_end' EXIT
roll_conf "rollover_scheme = prepublish"
NET=$ROLL_NET SB_NAME=$ROLL_NAME OBS_DIR=$W
RESOLVERS="$NET.11 $NET.12 $NET.13"
roll_publish_old 5 || { fail "the deployed keys' records published with nsupdate"; exit 1; }
roll_read_ttls
if ! observer_start 2>"$W/observer.err"; then
	fail "3 validating resolvers start: $(tail -1 "$W/observer.err")"
	exit 1
fi
roll_notify_start "$W/notify.log" || { fail "the notify listener starts"; exit 1; }

# A deploy "at once" changes main.cf this many seconds after it may: one
# propagation round and a few postconf runs: 0.7 s seen at a load average
# of 5 on 2 cores, 1.7 s at 16.
LATE=3

# ---- helpers ---------------------------------------------------------------------------
# The SPKIs "RSA ECDSA" of the keys main.cf deploys.
keyspkis() { echo "$(roll_key_spki "$(roll_deployed rsa)") $(roll_key_spki "$(roll_deployed ecdsa)")"; }
# recs SPKIS...: their records, one a line, as dig prints them.
recs() { local s; for s in $*; do pp_rec "$s"; done; }
# served_exactly SPKIS...: each of the three servers serves exactly their
# records, nothing else, at ROLL_NAME.
served_exactly() {
	local want i
	want=$(recs "$@" | sort)
	for i in 1 2 3; do [ "$(roll_served "$ROLL_NET.$i")" = "$want" ] || return 1; done
}
# none_serve SPKIS...: no server serves any of their records.
none_serve() { local -a r; mapfile -t r < <(recs "$@"); roll_none_serve "${r[@]}"; }
all_serve() { local -a r; mapfile -t r < <(recs "$@"); roll_all_serve "${r[@]}"; }
# ev_since EVENT T: journal events of that kind logged at or after T.
ev_since() {
	journald_sync
	journald_read -o json PFTLS_EVENT="$1" 2>/dev/null |
		jq -r --arg t "$2" 'select((.__REALTIME_TIMESTAMP | tonumber) / 1e6 >= ($t | tonumber)) | 1' | wc -l
}
# sleep_past T: sleep until the clock is past epoch second T (+0.2 s).
sleep_past() {
	local d
	d=$(awk -v t="$1" -v n="$EPOCHREALTIME" 'BEGIN { d = t + 0.2 - n; print (d > 0 ? d : 0) }')
	sleep "$d"
}
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }
# unchanged_since T: main.cf did not change after T.
unchanged_since() { [ -z "$(pp_change_after "$W/maincf.log" "$1")" ]; }
# changed_after T: main.cf changed after T (for wait_until).
changed_after() { [ -n "$(pp_change_after "$W/maincf.log" "$1")" ]; }

# timeline T LABEL: the daemon's journal events from T on, seconds after T.
timeline() {
	journald_sync
	echo "# $2:"
	journald_read -o json SYSLOG_IDENTIFIER=pftls-rolld 2>/dev/null |
		jq -r --arg t "$1" '((.__REALTIME_TIMESTAMP | tonumber) / 1e6 - ($t | tonumber)) as $d |
			select($d >= 0) | "#   +\($d * 100 | floor / 100) s \(.PFTLS_EVENT // "-"): \(.MESSAGE[0:100])"' | head -30
}
GEN=() # the key pairs ("RSA ECDSA" SPKIs) in service, in order
CUR=$(keyspkis)
GEN+=("$CUR")
cp "$ROLL_PF/main.cf" "$W/main.cf.before"
reloads0=$(roll_reloads)
pp_watch_start "$ROLL_PF/main.cf" "$W/maincf.log"
start_probes all 240 "$ROLL_ADDR"
wait_until 100 every_resolver "$PROBE_LOG" - - n 2 || fail "probes run before the daemon starts"

# ---- 1. a fresh daemon stages ------------------------------------------------------------
T_START=$EPOCHREALTIME
roll_daemon_start || { fail "pftls-rolld starts (READY=1)"; exit 1; }
STAGED=$(pp_wait_staged "$ROLL_CF" "" 40)
t_staged=$EPOCHREALTIME
J=$(pp_json "$ROLL_CF")
check_eq "1: a fresh daemon stages a next key ($(secs "$t_staged" "$T_START") s): phase, staging, staged.keys" \
	"staged true rsa,ecdsa" \
	"$(jq -r '.phase + " " + (.staging|tostring) + " " + ([.staged.keys[].algorithm] | join(","))' <<<"$J")"
check "1: the staged keys are new ones (${STAGED:0:12}...), not those in service" \
	test -n "$STAGED" -a "$STAGED" != "$CUR"
check_eq "1: the staged key files exist, their SPKIs as status says" "$STAGED" \
	"$(jq -r '.staged.keys[].key' <<<"$J" | while read -r k; do roll_key_spki "$k"; done | paste -sd' ')"
check "1: current + next per algorithm (2 RSA, 2 ECDSA records), exactly, on all three servers (dig)" \
	wait_until 100 served_exactly "$CUR" "$STAGED"
check "1: main.cf byte-identical to before the daemon started (cmp), never changed (50 ms watcher)" \
	eval 'cmp -s "$W/main.cf.before" "$ROLL_PF/main.cf" && unchanged_since 0'
check_eq "1: Postfix not reloaded, the live server still presents the keys in service" \
	"0 $CUR" "$(($(roll_reloads) - reloads0)) $(roll_live_spki rsa) $(roll_live_spki ecdsa)"
read -r dmin _ < <(roll_formula "$J" 5 2 1 0)
check_eq "1: staged.deployable_from = SPEC 4's formula from t_pub/t_conf (max(t_conf, t_pub) + 2 x 5 + 1)" \
	"$dmin" "$(jq -r .staged.deployable_from <<<"$J")"
check_eq "1: staged.served_since = t_conf; emergency: not at once yet" \
	"$(jq -r .times.t_conf <<<"$J") false" \
	"$(jq -r '(.staged.served_since|tostring) + " " + (.emergency.deploys_at_once|tostring)' <<<"$J")"
run -c "$ROLL_CF" status
check "1: status text: the staged key served since, deployable from, and the emergency line" \
	eval 'grep -q "^staged: *served by every check server since " <<<"$OUT" &&
		grep -q "^ *may be deployed from " <<<"$OUT" &&
		grep -q "^emergency: an emergency rollover could deploy from " <<<"$OUT"'
check "1: sd_notify STATUS says staged and when an emergency rollover could deploy" \
	grep -q '^STATUS=staged, an emergency rollover could deploy from ' "$W/notify.log"
check_eq "1: journal: staging-started and staged once each" "1 1" \
	"$(ev_since staging-started 0) $(ev_since staged 0)"

# ---- 3. now before the staged key's wait has passed ----------------------------------------
DFROM=$(jq -r .staged.deployable_from <<<"$J")
# The daemon deploys at deploy_at_ms, up to a second before deployable_from
# (whole seconds, rounded up).
DAT_MS=$(jq -r .deploy_at_ms <<<"$J")
DAT=$((DAT_MS / 1000)).$(printf %03d $((DAT_MS % 1000)))
check_eq "3: staged.deployable_from is deploy_at_ms rounded up to the second" \
	"$(((DAT_MS + 999) / 1000))" "$DFROM"
t_now=$EPOCHREALTIME
roll_cmd now
check "3: now right after staging ($(secs "$DFROM" "$t_now") s before deployable_from): handed to the daemon, exit $RC" \
	eval '[ "$RC" = 0 ] && grep -q "rollover under way" <<<"$OUT" && flt "$t_now" "<" "$DFROM"'
J=$(pp_json "$ROLL_CF")
check_eq "3: status: still staged, staging false, staged.requested set" "staged false true" \
	"$(jq -r '.phase + " " + (.staging|tostring) + " " + (.staged.requested != null | tostring)' <<<"$J")"
wait_until 300 changed_after "$t_now"
tch=$(pp_change_after "$W/maincf.log" "$t_now")
echo "# 3: now at $t_now, deploy_at_ms $DAT_MS, deployable_from $DFROM, main.cf changed at ${tch:-never}"
check "3: main.cf changed at deploy_at_ms, not before, within $LATE s after ($(secs "${tch:-0}" "$DAT") s after it)" \
	eval '[ -n "$tch" ] && flt "$tch" ">=" "$DAT" && flt "$tch" "<=" "$((DFROM + LATE))"'
NEXT=$(pp_wait_staged "$ROLL_CF" "$STAGED" 60)
check_eq "3: the rollover completed and staged the following key; the former staged keys deployed" \
	"$STAGED yes" "$(keyspkis) $([ -n "$NEXT" ] && [ "$NEXT" != "$STAGED" ] && echo yes)"
GEN+=("$STAGED")
check_eq "3: the live server presents them (s_client)" "$STAGED" "$(roll_live_spki rsa) $(roll_live_spki ecdsa)"
check "3: every server serves exactly current + the new next; the old records gone" \
	wait_until 50 served_exactly "$STAGED" "$NEXT"
check_eq "3: Postfix reloaded once" 1 "$(($(roll_reloads) - reloads0))"
CUR=$STAGED STAGED=$NEXT

# ---- 2. now --wait with the wait passed: the deploy at once --------------------------------
J=$(pp_json "$ROLL_CF")
sleep_past "$(jq -r .staged.deployable_from <<<"$J")"
J=$(pp_json "$ROLL_CF")
check_eq "2: the staged key's wait has passed: emergency.deploys_at_once" true "$(jq -r .emergency.deploys_at_once <<<"$J")"
run -c "$ROLL_CF" status
check "2: status text: \"emergency: an emergency rollover would deploy at once\"" \
	grep -q '^emergency: an emergency rollover would deploy at once$' <<<"$OUT"
check "2: sd_notify STATUS says so too, once the wait has passed (not at the next audit)" \
	wait_until 30 grep -q '^STATUS=staged, an emergency rollover would deploy at once$' "$W/notify.log"
reloads1=$(roll_reloads)
t_now=$EPOCHREALTIME
roll_bg nowwait now --wait
NOWPID=$ROLL_BG_PID
want_rsa=${STAGED%% *} tlive=""
for ((i = 0; i < 100; i++)); do # the new RSA key live on port 25, by s_client
	[ "$(roll_live_spki rsa)" = "$want_rsa" ] && { tlive=$EPOCHREALTIME; break; }
	sleep 0.05
done
roll_wait_exit "$NOWPID" 90
tch=$(pp_change_after "$W/maincf.log" "$t_now")
DT=$(secs "${tch:-0}" "$t_now")
echo "now -> main.cf: $DT s (rollover from staged, wait passed; pftls-roll now --wait to pftls-rolld, main.cf watched every 50 ms)"
[ -n "$tlive" ] && echo "now -> new key live on port 25: $(secs "$tlive" "$t_now") s (openssl s_client polled every ~0.1 s)"
check "2: now with the wait passed: main.cf changed $DT s after now (<= $LATE s)" \
	eval '[ -n "$tch" ] && flt "$DT" "<=" "$LATE" && flt "$DT" ">" 0'
check "2: now --wait exit 0, its last line says staged" \
	eval '[ "$ROLL_EXIT" = 0 ] && tail -1 "$W/nowwait.out" | grep -q "^staged, "'
NEXT=$(pp_wait_staged "$ROLL_CF" "$STAGED" 5)
check_eq "2: afterwards: the staged keys deployed and live, a new next staged" "$STAGED $STAGED yes" \
	"$(keyspkis) $(roll_live_spki rsa) $(roll_live_spki ecdsa) $([ -n "$NEXT" ] && [ "$NEXT" != "$STAGED" ] && echo yes)"
GEN+=("$STAGED")
check "2: every server serves exactly current + the new next (the old records gone) when now --wait returns" \
	served_exactly "$STAGED" "$NEXT"
check_eq "2: Postfix reloaded once" 1 "$(($(roll_reloads) - reloads1))"
timeline "$t_now" "2: the daemon's journal, seconds after now"
CUR=$STAGED STAGED=$NEXT

# ---- 4. the staged record deleted behind the daemon's back ---------------------------------
J=$(pp_json "$ROLL_CF")
sleep_past "$(jq -r .staged.deployable_from <<<"$J")"
ST_RSA_KEY=$(jq -r '.staged.keys[] | select(.algorithm == "rsa") | .key' <<<"$J")
REC=$(pp_rec "${STAGED%% *}")
adds0=$(roll_adds "$ST_RSA_KEY")
bind_nsupdate "$ROLL_WORK/bind/keys/pftls.key" "update delete $ROLL_NAME. TLSA $REC" >"$W/nsupdate4.log" 2>&1
check "4: the staged RSA record deleted by nsupdate: gone from all three servers" \
	wait_until 100 roll_none_serve "$REC"
t_gone=$EPOCHREALTIME
reloads1=$(roll_reloads)
roll_poll_start "$W/states4"
t_now=$EPOCHREALTIME
roll_cmd now
check_eq "4: now with the staged record missing: exit 0" 0 "$RC"
t_back=""
for ((i = 0; i < 300; i++)); do
	roll_all_serve "$REC" && { t_back=$EPOCHREALTIME; break; }
	sleep 0.1
done
check "4: the daemon published the record again: on all three servers $(secs "${t_back:-0}" "$t_now") s after now" \
	test -n "$t_back"
check "4: main.cf unchanged while the record was missing" unchanged_since "$t_gone"
wait_until 300 changed_after "$t_now"
tch=$(pp_change_after "$W/maincf.log" "$t_now")
NEXT=$(pp_wait_staged "$ROLL_CF" "$STAGED" 60)
roll_poll_stop
S=$(roll_snapshot "$W/states4" '.times.t_deployed != null')
# In ms: the daemon deploys at the formula's ms (roll_formula_ms), up to a
# second before its whole second.
read -r dmin_ms _ < <(roll_formula_ms "$S" 5 2 1 0)
dmin=$((dmin_ms / 1000)).$(printf %03d $((dmin_ms % 1000)))
echo "# 4: record gone $t_gone, now $t_now, back everywhere $t_back, new t_conf $(jq -r .times.t_conf <<<"$S"), main.cf changed ${tch:-never}"
check "4: main.cf changed only after the record was back (+$(secs "${tch:-0}" "${t_back:-0}") s >= 9) and its new wait passed (formula from the new t_pub/t_conf: $dmin)" \
	eval '[ -n "$tch" ] && [ -n "$t_back" ] && flt "$tch" ">=" "$dmin" && flt "$tch" ">=" "$(fadd "$t_back" 9)" &&
		[ "$(jq -r .times.t_pub <<<"$S")" -ge "${t_now%.*}" ]'
check "4: BIND was sent the staged record again ($adds0 adds before, $(roll_adds "$ST_RSA_KEY") after)" \
	test "$(roll_adds "$ST_RSA_KEY")" -gt "$adds0"
check_eq "4: journal: staged-records-changed once, after now" 1 "$(ev_since staged-records-changed "$t_now")"
check "4: status events: staged-records-changed" \
	eval 'jq -e "[.events[].event] | index(\"staged-records-changed\")" <<<"$S" >/dev/null'
check_eq "4: the rollover completed: the staged keys deployed, a new next staged" "$STAGED yes" \
	"$(keyspkis) $([ -n "$NEXT" ] && [ "$NEXT" != "$STAGED" ] && echo yes)"
GEN+=("$STAGED")
check "4: every server serves exactly current + the new next" wait_until 50 served_exactly "$STAGED" "$NEXT"
check_eq "4: Postfix reloaded once" 1 "$(($(roll_reloads) - reloads1))"
CUR=$STAGED STAGED=$NEXT

# ---- 5. cancel in staged -------------------------------------------------------------------
J=$(pp_json "$ROLL_CF")
mapfile -t FILES < <(jq -r '.staged.keys[] | .key, .cert' <<<"$J")
cp "$ROLL_PF/main.cf" "$W/main.cf.before5"
reloads1=$(roll_reloads)
t_cancel=$EPOCHREALTIME
roll_cmd cancel
check "5: cancel in staged: exit 0 ($(tail -1 <<<"$OUT$ERR"))" test "$RC" = 0
check "5: the staged records gone from all three servers" wait_until 100 none_serve "$STAGED"
check "5: the records of the keys in service still served everywhere" all_serve "$CUR"
left=""
for f in "${FILES[@]}"; do [ -e "$f" ] && left="$left $(basename "$f")"; done
check "5: the staged key and certificate files removed (${#FILES[@]} files; left:${left:- none})" \
	test "${#FILES[@]}" = 4 -a -z "$left"
check_eq "5: journal: cancelled" 1 "$(ev_since cancelled "$t_cancel")"
NEXT=$(pp_wait_staged "$ROLL_CF" "$STAGED" 40)
check "5: the daemon stages a new key after the cancel (${NEXT:0:12}...)" \
	test -n "$NEXT" -a "$NEXT" != "$STAGED" -a "$NEXT" != "$CUR"
check "5: every server serves exactly current + the new next" wait_until 100 served_exactly "$CUR" "$NEXT"
check "5: main.cf byte-identical through cancel and the new staging, Postfix not reloaded, the same keys live" \
	eval 'cmp -s "$W/main.cf.before5" "$ROLL_PF/main.cf" && unchanged_since "$t_cancel" &&
		[ "$(roll_reloads)" = "$reloads1" ] && [ "$(roll_live_spki rsa) $(roll_live_spki ecdsa)" = "$CUR" ]'

# ---- the observer: zero DANE failures over all of it -----------------------------------------
# Probe on until every resolver has seen the final RRset (current + new next) twice.
FINAL=$(recs "$CUR" "$NEXT" | cut -d' ' -f4 | tr 'A-F' 'a-f' | sort | paste -sd, -)
wait_until 150 every_resolver "$PROBE_LOG" - "$FINAL" newonly 2
stop_probes
total=$(grep -c '^P ' "$PROBE_LOG") fails=$(awk '$1 == "P" && $5 != "ok"' "$PROBE_LOG" | wc -l)
check "zero DANE failures in $total probes through 3 resolvers x rsa,ecdsa over the whole test$([ "$fails" != 0 ] && echo " ($fails failures, e.g. $(first_failures "$PROBE_LOG"))")" \
	test "$fails" = 0 -a "$total" -gt 0
for r in $RESOLVERS; do
	per=""
	ok=1
	for g in "${GEN[@]}"; do
		n=$(awk -v r="$r" -v a="${g% *}" -v b="${g#* }" '$1 == "P" && $3 == r && $5 == "ok" && ($8 == a || $8 == b)' "$PROBE_LOG" | wc -l)
		per="$per $n"
		[ "$n" -ge 2 ] || ok=0
	done
	four=$(awk -v r="$r" '$1 == "P" && $3 == r && $5 == "ok" && split($7, x, ",") == 4' "$PROBE_LOG" | wc -l)
	check "observer: $r validated each of the ${#GEN[@]} key pairs in service (ok probes:$per) and saw current + next, 4 records ($four probes)" \
		test "$ok" = 1 -a "$four" -ge 2
done
