# tests/lib/observer.sh - the observer of issue 5 as a library: three
# validating unbound resolvers, each pinned to one server of a sandbox
# (tests/lib/sandbox.sh), and DANE probe loops (tests/lib/dane_probe.sh)
# through each of them, with the counts the tests judge a rollover by.
# Source it after sandbox.sh and sandbox_start, set OBS_DIR (a directory
# of the caller's) and NET (the sandbox's net), then:
#
#   observer_start               start three resolvers, each pinned to
#                                NET.1-3, with the zone's DS as trust
#                                anchor: at the addresses in RESOLVERS if
#                                set, else ${NET%.*}.2.1-3 (sets RESOLVERS);
#                                on failure
#                                prints why on stderr and returns 1
#   start_probes NAME MAXSEC [SMTPADDR]   probe loops into OBS_DIR/NAME.log
#   stop_probes                  end them and wait for them
#   observer_stop                stop_probes, then stop the resolvers
#   observer_judge LABEL LOG SUMMARY   the checks of an observed rollover
#
# and the counting helpers below (summarize, field, every_resolver, ...).

OBS_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$OBS_LIB/unbound.sh"
. "$OBS_LIB/dane_probe.sh"
PROBE_PIDS=
PROBE_STOP=

observer_start() {
	local ds r i=0
	ds=$(unbound_ds_of "$NET.1" example.test)
	[ -n "$ds" ] || { echo "no DS from the primary's DNSKEY 257 at $NET.1" >&2; return 1; }
	RESOLVERS=${RESOLVERS:-"${NET%.*}.2.1 ${NET%.*}.2.2 ${NET%.*}.2.3"}
	for r in $RESOLVERS; do
		i=$((i + 1))
		unbound_start "$OBS_DIR/u$i" "$r" "$NET.$i" example.test "$ds" || return 1
	done
}

stop_probes() {
	local p
	[ -n "$PROBE_STOP" ] && touch "$PROBE_STOP"
	for p in $PROBE_PIDS; do
		wait "$p" 2>/dev/null
	done
	PROBE_PIDS=
}

observer_stop() {
	stop_probes
	unbound_stop_all
}

# start_probes NAME MAXSEC [SMTPADDR]: one probe loop per resolver against
# SMTPADDR (default SB_MX), into $OBS_DIR/NAME.log; sets PROBE_LOG.
start_probes() {
	local r
	PROBE_LOG=$OBS_DIR/$1.log
	PROBE_STOP=$OBS_DIR/$1.stop
	: >"$PROBE_LOG"
	for r in $RESOLVERS; do
		probe_loop "$PROBE_LOG" "$PROBE_STOP" "$2" 100000 "${3:-$SB_MX}" "$r" &
		PROBE_PIDS="$PROBE_PIDS $!"
	done
}

# spkis KEYFILE...: the SPKI SHA-256 of each key, sorted, joined by ",".
spkis() {
	sandbox_rdata "$@" | cut -d' ' -f4 | paste -sd, -
}

# prime_resolvers: each resolver drops the TLSA RRset and fetches it again,
# so that all of them hold the RRset served now, with its full TTL.
prime_resolvers() {
	local r i=0
	for r in $RESOLVERS; do
		i=$((i + 1))
		unbound_flush "$OBS_DIR/u$i" "$SB_NAME" TLSA || return 1
		dig +time=2 +tries=1 @"$r" "$SB_NAME" TLSA >/dev/null || return 1
	done
}

# summarize LOG OLD NEW T_AFTER: per resolver, one line of counts:
#   RES n fail mismatch oldkey newkey stale cachednew newonly
# OLD and NEW are ","-joined sorted SPKI lists; an RRset equal to OLD is
# the one before publication, equal to NEW the one after retirement.
# stale: answers after T_AFTER that were still the OLD RRset; cachednew:
# probes with a NEW key whose answer came from the resolver's cache (a TTL
# below the largest TTL any resolver gave that RRset).
summarize() {
	awk -v old="$2" -v new="$3" -v tafter="$4" '
		BEGIN {
			no = split(old, o, ","); for (i = 1; i <= no; i++) isold[o[i]] = 1
			nn = split(new, w, ","); for (i = 1; i <= nn; i++) isnew[w[i]] = 1
		}
		NR == FNR { if ($1 == "P" && $6 != "-" && $6 > maxttl[$7]) maxttl[$7] = $6; next }
		$1 == "P" {
			r = $3; seen[r] = 1; n[r]++
			if ($5 != "ok") { fail[r]++; if ($9 == "dane-mismatch") mm[r]++ }
			if ($8 in isold) ok_[r]++
			if ($8 in isnew) { nk[r]++; if ($6 != "-" && $6 < maxttl[$7]) cn[r]++ }
			if ($7 == old && $2 > tafter) st[r]++
			if ($7 == new) no_[r]++
		}
		END {
			for (r in seen)
				printf "%s %d %d %d %d %d %d %d %d\n", r, n[r], fail[r], mm[r], ok_[r],
					nk[r], st[r], cn[r], no_[r]
		}' "$1" "$1" | sort
}

# field SUMMARY RES NAME: one count of a summarize line.
field() {
	local col
	case $3 in
	n) col=2 ;; fail) col=3 ;; mismatch) col=4 ;; oldkey) col=5 ;; newkey) col=6 ;;
	stale) col=7 ;; cachednew) col=8 ;; newonly) col=9 ;;
	esac
	awk -v r="$2" -v c="$col" '$1 == r { print $c; f = 1 } END { if (!f) print 0 }' <<<"$1"
}

# wait_until TENTHS CMD...: run CMD every 0.2 s until it succeeds.
wait_until() {
	local n=$1 i
	shift
	for ((i = 0; i < n; i += 2)); do
		"$@" && return 0
		sleep 0.2
	done
	return 1
}

# every_resolver LOG OLD NEW NAME MIN: each resolver's NAME count >= MIN.
every_resolver() {
	local s r
	s=$(summarize "$1" "$2" "$3" 0)
	for r in $RESOLVERS; do
		[ "$(field "$s" "$r" "$4")" -ge "$5" ] || return 1
	done
}

# The first failures of a log, for a FAIL message.
first_failures() {
	awk '$1 == "P" && $5 != "ok" { print $3, $4, $9, "key " substr($8, 1, 12) ", rrset " $7 }' "$1" |
		head -3 | cut -c1-150 | paste -sd';' -
}

# observer_judge LABEL LOG SUMMARY: what every observed rollover must show,
# as check lines: zero failures in LOG over all resolvers, and each
# resolver probed at least MIN_SPAN times with the old keys and with the
# new (SUMMARY is summarize's output for LOG).
observer_judge() {
	local label=$1 log=$2 S=$3 r o n total=0 fails=0 why=
	for r in $RESOLVERS; do
		total=$((total + $(field "$S" "$r" n)))
		fails=$((fails + $(field "$S" "$r" fail)))
	done
	[ "$fails" = 0 ] || why=" ($fails failures, e.g. $(first_failures "$log"))"
	check "$label: zero DANE failures in $total probes over 3 resolvers x rsa,ecdsa$why" \
		test "$fails" = 0 -a "$total" -gt 0
	for r in $RESOLVERS; do
		o=$(field "$S" "$r" oldkey) n=$(field "$S" "$r" newkey)
		check "$label: $r probed across the deploy ($o with the old keys, $n with the new, >= $MIN_SPAN each)" \
			test "$o" -ge "$MIN_SPAN" -a "$n" -ge "$MIN_SPAN"
	done
}
