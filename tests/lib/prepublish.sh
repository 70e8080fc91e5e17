# tests/lib/prepublish.sh - helpers of the rollover_scheme = prepublish
# tests (tests/integ/prepublish*.sh): the staged keys as status --json
# shows them, a watcher of main.cf that records when it changes, and a
# float comparison.  Source it after rollover.sh or sandbox.sh (it uses
# PFTLS or SB_PFTLS and check/fail), then:
#
#   pp_json CF                 status --json of CF (one line)
#   pp_staged CF               "RSA_SPKI ECDSA_SPKI" of the staged keys (by
#                              .staged.keys), empty when none is staged
#   pp_wait_staged CF OLD SECS poll (0.2 s, at most SECS) until CF is held
#                              in phase staged (staging true) with staged
#                              keys other than OLD ("RSA ECDSA" as pp_staged
#                              prints, or ""); prints the staged SPKIs
#   pp_rec SPKI                the "3 1 1 HEX" record of a SPKI SHA-256, as
#                              dig prints it (uppercase)
#   pp_watch_start FILE LOG    in the background, every 50 ms, append
#                              "M TIME" to LOG whenever FILE's contents
#                              differ from the last seen (the first line is
#                              the start); sets PP_WATCH_PID
#   pp_watch_stop              end it
#   pp_change_after LOG T      the time of the first change in LOG after T
#                              (epoch seconds, fractional), empty if none
#   flt A OP B                 floating-point comparison, for check
#   fadd A B                   A + B (floating point)

PP_PFTLS=${PFTLS:-${SB_PFTLS:-build/pftls-roll}}

pp_json() { "$PP_PFTLS" -c "$1" status --json 2>/dev/null; }

pp_staged() {
	pp_json "$1" | jq -r 'if .phase == "staged" and .staged != null then
		[(.staged.keys[] | select(.algorithm == "rsa") | .spki_sha256),
		 (.staged.keys[] | select(.algorithm == "ecdsa") | .spki_sha256)] | join(" ")
		else "" end' 2>/dev/null
}

pp_wait_staged() {
	local cf=$1 old=$2 max=$3 i j s
	for ((i = 0; i < max * 5; i++)); do
		j=$(pp_json "$cf")
		if [ "$(jq -r '.phase + " " + (.staging | tostring)' <<<"$j" 2>/dev/null)" = "staged true" ]; then
			s=$(jq -r '[(.staged.keys[] | select(.algorithm == "rsa") | .spki_sha256),
				(.staged.keys[] | select(.algorithm == "ecdsa") | .spki_sha256)] | join(" ")' <<<"$j")
			if [ -n "$s" ] && [ "$s" != "$old" ] && [ "$(wc -w <<<"$s")" = 2 ]; then
				echo "$s"
				return 0
			fi
		fi
		sleep 0.2
	done
	return 1
}

pp_rec() { echo "3 1 1 $(tr 'a-f' 'A-F' <<<"$1")"; }

# The watcher reads FILE with the read builtin (no process per sample) and
# sleeps 50 ms between samples: a change is seen at most ~60 ms late.
pp_watch_start() {
	local file=$1 log=$2
	(
		last="" cur=""
		IFS= read -r -d '' last <"$file"
		echo "M $EPOCHREALTIME start" >>"$log"
		for ((i = 0; i < 8000; i++)); do # at most ~400 s
			cur=""
			IFS= read -r -d '' cur <"$file"
			if [ "$cur" != "$last" ]; then
				echo "M $EPOCHREALTIME change" >>"$log"
				last=$cur
			fi
			sleep 0.05
		done
	) &
	PP_WATCH_PID=$!
}
pp_watch_stop() {
	[ -n "${PP_WATCH_PID:-}" ] || return 0
	kill "$PP_WATCH_PID" 2>/dev/null
	wait "$PP_WATCH_PID" 2>/dev/null
	PP_WATCH_PID=""
}

pp_change_after() {
	awk -v t="$2" '$1 == "M" && $3 == "change" && $2 > t { print $2; exit }' "$1"
}

flt() { awk -v a="$1" -v b="$3" "BEGIN { exit !(a $2 b) }"; }
fadd() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f\n", a + b }'; }
