# tests/lib/rollover.sh - the sandbox the rollover integration tests share
# (tests/integ/rollover_*.sh) and bench/sections/40-rollover.sh: a real
# BIND topology (tests/lib/bind.sh: signing primary + 2 secondaries), a
# running Postfix instance (tests/lib/postfix_instance.sh) with an RSA and
# an ECDSA key deployed, and a pftls-roll.cf pointing at both.  Source it
# (it sources bind.sh, postfix_instance.sh and dns_common.sh), then:
#
#   roll_begin NAME N [journal]  what every rollover test starts with: a
#                          work directory W (/tmp/pftls-roll-NAME.*) removed
#                          at exit after roll_cleanup, journald in it when
#                          "journal" is given (after journald_enter_ns),
#                          then roll_setup W N; a FAIL line and exit if any
#                          of it does not start
#   roll_setup WORK N      BIND on 127.57.N.1-3, Postfix on 127.57.0.(N*10);
#                          sets ROLL_CF, ROLL_PF (Postfix config dir),
#                          ROLL_STATE, ROLL_ADDR, ROLL_HOST, ROLL_NAME;
#                          with ROLL_FAMILY=dual also BIND on fd00:57:N::1-3
#                          (bind.sh's BIND_NET6) and Postfix on
#                          ROLL_ADDR6 = fd00:57::(N*10), a verify endpoint
#                          too
#   roll_cleanup           stop everything started (by PID), remove addresses
#   roll_conf [name = value...]  rewrite ROLL_CF; given lines replace defaults
#   roll_json              `pftls-roll status --json` (one line) on stdout
#   jq_state FILTER        jq -r FILTER over roll_json
#   roll_phase             the phase in the state file
#   roll_deployed ALG      the key file main.cf deploys for rsa|ecdsa
#   roll_live_spki [ALG] [ADDR:PORT]  SPKI SHA-256 (lowercase) of the key the
#                          live server presents, by openssl s_client
#   roll_served ADDR       TLSA records ADDR serves at ROLL_NAME (sorted)
#   roll_rec KEYFILE       "3 1 1 HEX" as dig prints it
#   roll_all_serve REC... / roll_none_serve REC...   on all three servers
#   roll_wait_phase P... [-t SECS]   poll status until the phase is one of P
#   roll_formula           print "deploy_min ttl_eff": the earliest deploy
#                          moment by SPEC 4, computed HERE from the state's
#                          t_pub/t_conf and the TTLs the test read with dig
#   roll_read_ttls         record ROLL_TLSA_TTL_BEFORE (or "none") and
#                          ROLL_SOA_TTL / ROLL_SOA_MIN from the primary
#   roll_publish_old TTL   the deployed keys' records, by nsupdate
#   roll_poll_start FILE / roll_poll_stop / roll_snapshot FILE COND
#                          record every state the rollover passes through
#   roll_moved A B [keys]  what state B changed of what A had recorded
#   roll_check_done ...    the checks of a completed rollover
#   roll_adds KEY / roll_reloads / roll_nfiles GLOB   counts a user can see
#   roll_cmd / roll_bg / roll_wait_exit / roll_pause / roll_resume
#                          run pftls-roll (retrying a busy lock), in the
#                          background, wait for it, stop it between steps
#   roll_fingerprint       main.cf, files, state and DNS in one digest
#   roll_notify_start / roll_daemon_start   a NOTIFY_SOCKET and pftls-rolld
#   check_eq NAME WANT GOT
#
# Timing used: tlsa_ttl 5 (from bind.sh), SOA TTL and MINIMUM 5,
# ttl_factor 2, publish_safety 1s, retire_delay 3s: a rollover takes ~20 s.

ROLL_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$ROLL_LIB/bind.sh"
. "$ROLL_LIB/dns_common.sh"
. "$ROLL_LIB/postfix_instance.sh"
ROLL_PIDS=""
ROLL_PFIS=""
ROLL_JOURNAL=""

roll_begin() {
	W=$(mktemp -d "/tmp/pftls-roll-$1.XXXXXX")
	ROLL_JOURNAL=${3:-}
	trap roll_end EXIT
	if [ -n "$ROLL_JOURNAL" ] && ! journald_start "$W"; then
		fail "journald starts: $(tail -3 "$W/journald.log")"
		exit 1
	fi
	roll_setup "$W" "$2" ||
		{ fail "sandbox starts (BIND on 127.57.$2.x, Postfix on 127.57.0.$(($2 * 10)))"; exit 1; }
}

# The EXIT trap of roll_begin.
roll_end() {
	roll_cleanup
	[ -n "$ROLL_JOURNAL" ] && journald_stop
	rm -rf "$W"
}

roll_setup() {
	local work=$1 n=$2
	ROLL_WORK=$work
	ROLL_N=$n
	ROLL_NET=127.57.$n
	ROLL_ADDR=127.57.0.$((n * 10))
	ROLL_HOST=mx.example.test
	ROLL_NAME=_25._tcp.$ROLL_HOST
	ROLL_PF=$work/pf/etc
	ROLL_STATE=$work/state
	ROLL_CF=$work/roll.cf
	ROLL_NET6="" ROLL_ADDR6=""
	if [ "${ROLL_FAMILY:-4}" = dual ]; then
		ROLL_NET6=fd00:57:$n::
		ROLL_ADDR6=fd00:57::$((n * 10))
	fi
	chmod 755 "$work"
	BIND_NET6=$ROLL_NET6 bind_start "$work/bind" "$ROLL_NET" || return 1
	bind_addr_add "$ROLL_ADDR" || return 1
	if [ -n "$ROLL_ADDR6" ]; then
		bind_addr_add "$ROLL_ADDR6" || return 1
	fi
	PFI_ADDR6=$ROLL_ADDR6 roll_instance "$work/pf" "$ROLL_ADDR" || return 1
	roll_conf
}

# roll_instance DIR ADDR: a running Postfix on ADDR:25 with a new RSA and a
# new ECDSA key deployed (made by pftls-roll's postfix tls commands).
roll_instance() {
	local dir=$1 addr=$2 k c
	pfi_create "$dir" "$addr" "$ROLL_HOST" || return 1
	"$PFTLS" -C "$dir/etc" new-server-key -a rsa >/dev/null || return 1
	sleep 1 # file names have one-second resolution
	"$PFTLS" -C "$dir/etc" new-server-key -a ecdsa >/dev/null || return 1
	k=$(ls "$dir"/etc/key-*.pem) c=$(ls "$dir"/etc/cert-*.pem)
	postconf -c "$dir/etc" -e "smtpd_tls_key_file = $k" "smtpd_tls_cert_file = $c" || return 1
	k=$(ls "$dir"/etc/eckey-*.pem) c=$(ls "$dir"/etc/eccert-*.pem)
	postconf -c "$dir/etc" -e "smtpd_tls_eckey_file = $k" "smtpd_tls_eccert_file = $c" || return 1
	pfi_start "$dir" || return 1
	ROLL_PFIS="$ROLL_PFIS $dir"
}

roll_conf() {
	{
		cat "$ROLL_WORK/bind/pftls-roll.cf.part"
		cat <<CF
postfix_config_directory = $ROLL_PF
key_algorithms = rsa ecdsa
tlsa_hostnames = $ROLL_HOST
publish_safety = 1s
retire_delay = 3s
state_directory = $ROLL_STATE
rollover_scheme = on-demand
control_socket = $ROLL_WORK/control
verify_endpoints = $ROLL_ADDR:25${ROLL_ADDR6:+ [$ROLL_ADDR6]:25}
CF
	} | awk -v over="$(printf '%s\n' "$@" | sed 's/ *=.*//')" '
		BEGIN { n = split(over, o, "\n"); for (i = 1; i <= n; i++) skip[o[i]] = 1 }
		{ if (!($1 in skip)) print }' >"$ROLL_CF"
	[ $# -gt 0 ] && printf '%s\n' "$@" >>"$ROLL_CF"
	return 0
}

roll_cleanup() {
	local p d
	for p in $ROLL_PIDS; do
		kill -CONT "$p" 2>/dev/null
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	ROLL_PIDS=""
	for d in $ROLL_PFIS; do pfi_stop "$d"; done
	ROLL_PFIS=""
	bind_stop
}

roll_json() { "$PFTLS" -c "$ROLL_CF" status --json 2>/dev/null; }
jq_state() { roll_json | jq -r "$1"; }
roll_phase() { jq_state .phase; }

roll_deployed() {
	case $1 in
	rsa) postconf -c "$ROLL_PF" -h smtpd_tls_key_file ;;
	ecdsa) postconf -c "$ROLL_PF" -h smtpd_tls_eckey_file ;;
	esac
}

# SPKI SHA-256 of the key a live server presents: openssl s_client, forced to
# an RSA or ECDSA signature algorithm so each key is asked for in turn.
roll_live_spki() {
	local alg=${1:-rsa} ep=${2:-$ROLL_ADDR:25} sig
	[ "$alg" = rsa ] && sig=RSA-PSS+SHA256:RSA+SHA256 || sig=ECDSA+SHA256
	timeout 10 openssl s_client -connect "$ep" -starttls smtp -servername "$ROLL_HOST" \
		-tls1_2 -sigalgs "$sig" -no-CAfile -no-CApath -no-CAstore </dev/null 2>/dev/null |
		openssl x509 -noout -pubkey 2>/dev/null |
		openssl pkey -pubin -outform DER 2>/dev/null | openssl dgst -sha256 -r | cut -d' ' -f1
}

# SPKI SHA-256 of a key file, lowercase.
roll_key_spki() {
	openssl pkey -in "$1" -pubout -outform DER 2>/dev/null | openssl dgst -sha256 -r | cut -d' ' -f1
}

roll_served() { bind_tlsa "$1" "$ROLL_NAME"; }
roll_rec() { echo "3 1 1 $(spki_hex "$1")"; }
roll_all_serve() { # REC...: every server serves every REC
	local i r s
	for i in 1 2 3; do
		s=$(roll_served "$ROLL_NET.$i")
		for r in "$@"; do grep -qx "$r" <<<"$s" || return 1; done
	done
}
roll_none_serve() { # REC...: no server serves any REC
	local i r s
	for i in 1 2 3; do
		s=$(roll_served "$ROLL_NET.$i")
		for r in "$@"; do grep -qx "$r" <<<"$s" && return 1; done
	done
	return 0
}
# Count of TLSA records at ROLL_NAME on ADDR.
roll_count() { roll_served "$1" | grep -c . ; }

# roll_wait_phase PHASE... [-t SECS]: poll (every 0.2 s, at most SECS, default
# 60) until the state's phase is one of PHASE.  Prints the phase reached.
roll_wait_phase() {
	local want=() max=60 p i
	while [ $# -gt 0 ]; do
		[ "$1" = -t ] && { max=$2; shift 2; continue; }
		want+=("$1"); shift
	done
	for ((i = 0; i < max * 5; i++)); do
		p=$(roll_phase)
		for w in "${want[@]}"; do [ "$p" = "$w" ] && { echo "$p"; return 0; }; done
		sleep 0.2
	done
	echo "$p"
	return 1
}

# The TTL inputs of SPEC 4 as the primary serves them before a rollover.
roll_read_ttls() {
	local t soa
	t=$(dig +norec +noall +answer +time=1 +tries=1 @"$ROLL_NET.1" "$ROLL_NAME" TLSA |
		awk '$4 == "TLSA" {print $2}' | sort -n | tail -1)
	ROLL_TLSA_TTL_BEFORE=${t:-none}
	soa=$(dig +norec +noall +answer +time=1 +tries=1 @"$ROLL_NET.1" example.test SOA |
		awk '$4 == "SOA" {print $2, $11}')
	ROLL_SOA_TTL=${soa% *}
	ROLL_SOA_MIN=${soa#* }
}

# roll_ttl_eff TLSA_TTL: TTLeff from the TTLs roll_read_ttls recorded.
roll_ttl_eff() {
	local ttl=$1 neg
	if [ "$ROLL_TLSA_TTL_BEFORE" = none ]; then
		neg=$((ROLL_SOA_TTL < ROLL_SOA_MIN ? ROLL_SOA_TTL : ROLL_SOA_MIN))
		[ "$neg" -gt "$ttl" ] && ttl=$neg
	elif [ "$ROLL_TLSA_TTL_BEFORE" -gt "$ttl" ]; then
		ttl=$ROLL_TLSA_TTL_BEFORE
	fi
	echo "$ttl"
}

# roll_formula JSON [TLSA_TTL] [FACTOR] [SAFETY] [MIN_DELAY]: the earliest deploy
# moment SPEC 4 allows, from the JSON state's t_pub and t_conf and the TTLs
# roll_read_ttls recorded; prints "DEPLOY_MIN TTL_EFF".
roll_formula() {
	local json=$1 tlsa=${2:-5} factor=${3:-2} safety=${4:-1} mindelay=${5:-0}
	local tpub tconf ttl base
	tpub=$(jq -r .times.t_pub <<<"$json")
	tconf=$(jq -r .times.t_conf <<<"$json")
	ttl=$(roll_ttl_eff "$tlsa")
	base=$((tpub + mindelay))
	[ "$tconf" -gt "$base" ] && base=$tconf
	echo "$((base + factor * ttl + safety)) $ttl"
}

# roll_formula_ms JSON [TLSA_TTL FACTOR SAFETY MINDELAY]: the same in epoch ms,
# from the stamps to the ms (times_ms; times x 1000 where a state has none):
# the moment the daemon deploys at.  roll_mtime_ms FILE: FILE's mtime in ms.
roll_formula_ms() {
	local json=$1 tlsa=${2:-5} factor=${3:-2} safety=${4:-1} mindelay=${5:-0}
	local tpub tconf ttl base
	tpub=$(jq -r '.times_ms.t_pub // (.times.t_pub * 1000)' <<<"$json")
	tconf=$(jq -r '.times_ms.t_conf // (.times.t_conf * 1000)' <<<"$json")
	ttl=$(roll_ttl_eff "$tlsa")
	base=$((tpub + mindelay * 1000))
	[ "$tconf" -gt "$base" ] && base=$tconf
	echo "$((base + (factor * ttl + safety) * 1000)) $ttl"
}

roll_mtime_ms() {
	local m
	m=$(stat -c %.3Y "$1") || return 1
	echo "${m/./}"
}

# roll_poll_start FILE: in the background, every 0.2 s (at most 180 s), append
# the state (`status --json`, one line) to FILE whenever it differs from the
# last one appended apart from "now" and the waits' "remaining".  Status
# reads the file without the lock, so the poller never slows the rollover.
roll_poll_start() {
	local file=$1
	: >"$file"
	(
		last=""
		for ((i = 0; i < 900; i++)); do
			j=$(roll_json) || j=""
			k=$(jq -c 'del(.now, .waits)' <<<"$j" 2>/dev/null)
			if [ -n "$k" ] && [ "$k" != "$last" ]; then
				printf '%s\n' "$j" >>"$file"
				last=$k
			fi
			sleep 0.2
		done
	) &
	ROLL_POLL_PID=$!
	ROLL_PIDS="$ROLL_PIDS $ROLL_POLL_PID"
}
roll_poll_stop() {
	[ -n "${ROLL_POLL_PID:-}" ] || return 0
	kill "$ROLL_POLL_PID" 2>/dev/null
	wait "$ROLL_POLL_PID" 2>/dev/null
	ROLL_POLL_PID=""
}
# roll_snapshot FILE JQ-CONDITION: the last state line in FILE for which the
# condition holds (e.g. '.times.t_reload != null').
roll_snapshot() {
	jq -c "select($2)" "$1" 2>/dev/null | tail -1
}

# roll_publish_old TTL: publish the TLSA records of the deployed keys with
# nsupdate (not our code) at TTL, and wait (bounded) until all three servers
# serve them.  This is the DNS state a rollover starts from.
roll_publish_old() {
	local ttl=$1 rsa ec i
	rsa=$(roll_rec "$(roll_deployed rsa)") ec=$(roll_rec "$(roll_deployed ecdsa)")
	bind_nsupdate "$ROLL_WORK/bind/keys/pftls.key" \
		"update add $ROLL_NAME. $ttl IN TLSA $rsa
update add $ROLL_NAME. $ttl IN TLSA $ec" || return 1
	for ((i = 0; i < 50; i++)); do
		roll_all_serve "$rsa" && roll_all_serve "$ec" && return 0
		sleep 0.2
	done
	return 1
}

# Count of files matching a glob in the Postfix config dir (e.g. 'key-*.pem').
roll_nfiles() { find "$ROLL_PF" -maxdepth 1 -name "$1" | wc -l; }
# Postfix reloads recorded in the instance's mail log.
roll_reloads() { grep -c 'reload -- version' "$(dirname "$ROLL_PF")/maillog" 2>/dev/null; }

# check_eq NAME WANT GOT: PASS when equal; the FAIL line shows both.
check_eq() {
	if [ "$3" = "$2" ]; then pass "$1"; else fail "$1: want \"$2\", got \"$3\""; fi
}

# The phases in order; roll_pidx PHASE prints its index (99: failed/other).
ROLL_PHASES=(idle generated published propagated deployable deployed verified retired)
roll_pidx() {
	local i
	for i in "${!ROLL_PHASES[@]}"; do
		[ "${ROLL_PHASES[$i]}" = "$1" ] && { echo "$i"; return; }
	done
	echo 99
}

# roll_moved A B [keys]: what state B (JSON) changed of what state A of the
# same rollover had recorded: the rollover id, any timestamp but t_failed,
# deploy_at, a server confirmation, and with "keys" a planned next key.
# Prints "; "-joined findings; empty when nothing moved.
roll_moved() {
	jq -n -r --argjson a "$1" --argjson b "$2" --arg keys "${3:-}" '
		[ (if $a.rollover != $b.rollover then "rollover id" else empty end),
		  ($a.times | to_entries[] | select(.key != "t_failed") |
		   select($b.times[.key] != .value) | "\(.key) \(.value) -> \($b.times[.key])"),
		  (if $keys == "keys" then ($a.keys[] | . as $k |
		   ($b.keys[] | select(.algorithm == $k.algorithm)) as $l |
		   select($k.next != null and $k.next != $l.next) | "next \($k.algorithm) key")
		   else empty end),
		  (if $a.deploy_at != null and $a.deploy_at != $b.deploy_at
		   then "deploy_at \($a.deploy_at) -> \($b.deploy_at)" else empty end),
		  ($a.servers_confirmed[] | . as $s |
		   select([$b.servers_confirmed[] | select(. == $s)] | length == 0) |
		   "confirmation of \($s.server)")
		] | join("; ")'
}

# roll_check_done OLD_RSA OLD_EC FIRST [N]: the checks every test makes once a
# rollover is complete: new keys (those planned in state FIRST) in main.cf
# and live, old records gone and new ones served on all three servers, one
# new key per algorithm, no temporary files, and main.cf changed no earlier
# than the SPEC 4 formula computed from FIRST's t_pub and t_conf (the TTLs
# from roll_read_ttls; tlsa_ttl 5, factor 2, safety 1).  N: the key files of
# each kind expected on disk (default 2: the old and the new).
roll_check_done() {
	local old_rsa=$1 old_ec=$2 first=$3 nk=${4:-2} new_rsa new_ec a n o deploy_min mtime
	new_rsa=$(roll_deployed rsa) new_ec=$(roll_deployed ecdsa)
	check "new keys deployed in main.cf" \
		test "$new_rsa" != "$old_rsa" -a "$new_ec" != "$old_ec" -a -f "$new_rsa" -a -f "$new_ec"
	check_eq "the deployed keys are the next keys the state planned" \
		"$(jq -r '[.keys[].next.spki_sha256] | join(" ")' <<<"$first")" \
		"$(roll_key_spki "$new_rsa") $(roll_key_spki "$new_ec")"
	check_eq "the live server presents the new RSA and ECDSA keys (s_client)" \
		"$(roll_key_spki "$new_rsa") $(roll_key_spki "$new_ec")" \
		"$(roll_live_spki rsa) $(roll_live_spki ecdsa)"
	n=0 o=0
	for a in 1 2 3; do
		roll_served "$ROLL_NET.$a" >"$ROLL_WORK/served.$a"
		grep -qx "$(roll_rec "$new_rsa")" "$ROLL_WORK/served.$a" && n=$((n + 1))
		grep -qx "$(roll_rec "$new_ec")" "$ROLL_WORK/served.$a" && n=$((n + 1))
		grep -qx -e "$(roll_rec "$old_rsa")" -e "$(roll_rec "$old_ec")" "$ROLL_WORK/served.$a" &&
			o=$((o + 1))
	done
	check_eq "both new records on all three servers (dig)" 6 "$n"
	check_eq "old records gone from all three servers (dig)" 0 "$o"
	check_eq "one new key and certificate per algorithm on disk, the old ones kept" "$nk $nk $nk $nk" \
		"$(roll_nfiles 'key-*.pem') $(roll_nfiles 'eckey-*.pem') $(roll_nfiles 'cert-*.pem') $(roll_nfiles 'eccert-*.pem')"
	check_eq "no temporary files left (Postfix directory, state directory)" "" \
		"$(find "$ROLL_PF" "$ROLL_STATE" -name '.*.tmp*' -printf '%f ')"
	if [ -z "$first" ] || [ "$(jq -r '.times.t_conf // empty' <<<"$first")" = "" ]; then
		fail "a state with t_pub and t_conf was seen"
		return
	fi
	# In ms: the daemon deploys at the formula's ms, up to a second before
	# its whole second (the stamps' seconds are rounded up).
	read -r deploy_min _ < <(roll_formula_ms "$first" 5 2 1 0)
	mtime=$(roll_mtime_ms "$ROLL_PF/main.cf")
	check "main.cf changed ($mtime ms) no earlier than the formula from the first recorded t_pub/t_conf ($deploy_min ms)" \
		test "$mtime" -ge "$deploy_min"
}

# roll_adds KEYFILE: how many updates BIND was sent adding the key's 3 1 1
# record (BIND logs each add, also of a record it has; hex in blocks).
roll_adds() {
	sed -n "s/.*adding an RR at '$ROLL_NAME' TLSA 3 1 1 //p" "$ROLL_WORK/bind/p/named.log" |
		tr -d ' ' | grep -c -x "$(spki_hex "$1")"
}

# roll_cmd ARGS...: run pftls-roll -c ROLL_CF ARGS (OUT, ERR, RC as run()),
# again (at most 40 times, 0.25 s apart) while another process holds the
# rollover lock for a moment (a foreground "now" in a propagation round).
roll_cmd() {
	local i
	for ((i = 0; i < 40; i++)); do
		run -c "$ROLL_CF" "$@"
		[[ "$ERR" == *"another rollover is in progress"* ]] || return 0
		sleep 0.25
	done
}

# roll_bg NAME ARGS...: start pftls-roll -c ROLL_CF ARGS in the background,
# output in WORK/NAME.out and NAME.err; sets ROLL_BG_PID.
roll_bg() {
	local name=$1
	shift
	"$PFTLS" -c "$ROLL_CF" "$@" >"$ROLL_WORK/$name.out" 2>"$ROLL_WORK/$name.err" &
	ROLL_BG_PID=$!
	ROLL_PIDS="$ROLL_PIDS $ROLL_BG_PID"
}

# roll_wait_exit PID SECS: wait (bounded) for a background process started
# by this shell (so not from a $(...) subshell); sets ROLL_EXIT to its exit
# status, or "running" (and kills it) when it did not end in time.
roll_wait_exit() {
	local pid=$1 max=$2 i
	for ((i = 0; i < max * 5; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		ROLL_EXIT=running
		return
	fi
	wait "$pid" 2>/dev/null # no "Killed" job notice
	ROLL_EXIT=$?
}

# roll_pause PID: SIGSTOP a foreground "now" of ours at a moment it does not
# hold the rollover lock (it sleeps between steps), so the state stays as it
# is; roll_resume PID continues it.  Returns 1 when no such moment came.
roll_pause() {
	local pid=$1 i
	for ((i = 0; i < 100; i++)); do
		kill -STOP "$pid" 2>/dev/null || return 1
		flock -n "$ROLL_STATE/lock" true && return 0
		kill -CONT "$pid"
		sleep 0.1
	done
	return 1
}
roll_resume() { kill -CONT "$1" 2>/dev/null; }

# A fingerprint of everything a refused command must leave alone: main.cf,
# the files in the Postfix directory, the state file, and the TLSA records
# and SOA serial each of the three servers serves.
roll_fingerprint() {
	local a
	{
		md5sum "$ROLL_PF/main.cf"
		ls -la --time-style=+%s "$ROLL_PF" | awk '$7 != ".." {print $1, $5, $6, $7}'
		md5sum "$ROLL_STATE/pftls-roll.state" 2>/dev/null
		for a in 1 2 3; do
			echo "ns$a $(bind_serial "$ROLL_NET.$a")"
			roll_served "$ROLL_NET.$a"
		done
	} | md5sum | cut -d' ' -f1
}

# ---- the daemon -------------------------------------------------------------
# roll_notify_start FILE: a datagram socket WORK/notify that appends every
# sd_notify message it receives to FILE, one line each (for at most 300 s).
roll_notify_start() {
	ROLL_NOTIFY_SOCK=$ROLL_WORK/notify ROLL_NOTIFY_LOG=$1
	: >"$1"
	"$PY3" - "$ROLL_NOTIFY_SOCK" "$1" <<'PY' &
import os, socket, sys, time
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(1.0)
end = time.monotonic() + 300
with open(out, "a") as f:
    while time.monotonic() < end:
        try:
            data = s.recv(4096)
        except socket.timeout:
            continue
        for line in data.decode(errors="replace").splitlines():
            f.write(line + "\n")
        f.flush()
PY
	ROLL_NOTIFY_PID=$!
	ROLL_PIDS="$ROLL_PIDS $ROLL_NOTIFY_PID"
	local i
	for ((i = 0; i < 50; i++)); do [ -S "$ROLL_NOTIFY_SOCK" ] && return 0; sleep 0.1; done
	return 1
}

# roll_daemon_start: start pftls-rolld -c ROLL_CF (sd_notify to the
# listener, a 2 s watchdog) and wait (bounded) for one more READY=1 in
# ROLL_NOTIFY_LOG.  Sets ROLL_DAEMON_PID; output appended to WORK/daemon.*.
roll_daemon_start() {
	local ready i
	ready=$(grep -c '^READY=1$' "$ROLL_NOTIFY_LOG" 2>/dev/null)
	NOTIFY_SOCKET=$ROLL_NOTIFY_SOCK WATCHDOG_USEC=2000000 \
		"$PFTLS_DAEMON" -c "$ROLL_CF" >>"$ROLL_WORK/daemon.out" 2>>"$ROLL_WORK/daemon.err" &
	ROLL_DAEMON_PID=$!
	ROLL_PIDS="$ROLL_PIDS $ROLL_DAEMON_PID"
	for ((i = 0; i < 100; i++)); do
		[ "$(grep -c '^READY=1$' "$ROLL_NOTIFY_LOG")" -gt "$ready" ] && return 0
		kill -0 "$ROLL_DAEMON_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
PFTLS_DAEMON=${PFTLS_DAEMON:-$(dirname "$PFTLS")/pftls-rolld}
