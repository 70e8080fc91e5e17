# tests/lib/dns_common.sh - small helpers shared by the DNS integration
# tests: PASS/FAIL lines, key files, running pftls-roll, the tests'
# configuration (dns_conf), and the six-writers case (dns_six_writers).

PFTLS=${PFTLS:-${PFTLS_BUILD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}/pftls-roll}
# Debian's python3 has python3-dnspython; a python3 earlier on PATH may not.
PY3=/usr/bin/python3

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; }
# check NAME CONDITION-COMMAND...: PASS when the command succeeds.
check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}

# new_key DIR NAME rsa|ec: a private key as Postfix would have it, mode 0600.
new_key() {
	local f="$1/$2"
	if [ "$3" = ec ]; then
		openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$f" 2>/dev/null
	else
		openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$f" 2>/dev/null
	fi
	chmod 600 "$f"
	echo "$f"
}

# spki_hex KEYFILE [sha256|sha512]: the TLSA 3 1 x association data, uppercase
# as dig prints it.
spki_hex() {
	openssl pkey -in "$1" -pubout -outform DER 2>/dev/null |
		openssl dgst -"${2:-sha256}" -binary | od -An -v -tx1 | tr -d ' \n' |
		tr 'a-f' 'A-F'
}

# Run pftls-roll; stdout in $OUT, stderr in $ERR, exit code in $RC.
run() {
	local o e
	o=$(mktemp) e=$(mktemp)
	"$PFTLS" "$@" >"$o" 2>"$e"
	RC=$?
	OUT=$(cat "$o")
	ERR=$(cat "$e")
	rm -f "$o" "$e"
}

# dns_conf PART FILE [NAME = VALUE...]: write the test configuration FILE: the
# server fragment PART (bind.sh / knot.sh write one), this test's Postfix
# directory $PF, name and record types, its own state directory under $T,
# then the NAME = VALUE settings given, each replacing the line it names.
dns_conf() {
	local part=$1 f=$2
	shift 2
	{
		cat "$part"
		echo "postfix_config_directory = $PF"
		echo "tlsa_hostnames = mx.example.test"
		echo "tlsa_records = 3 1 1, 3 1 2"
		# Never the host's /var/lib/pftls-roll.
		echo "state_directory = $T/state"
		echo "rollover_scheme = on-demand"
		echo "control_socket = $T/control"
	} | awk -v over="$(printf '%s\n' "$@" | sed 's/ *=.*//')" '
		BEGIN { n = split(over, o, "\n"); for (i = 1; i <= n; i++) skip[o[i]] = 1 }
		{ name = $1; if (!(name in skip)) print }' >"$f"
	[ $# -gt 0 ] && printf '%s\n' "$@" >>"$f"
	return 0
}

# dns_six_writers: six hosts sharing one TLSA name, side by side (a case of
# dns_scenario.sh).  All read the same RRset; the server applies one update and
# fails the others' prerequisites, which must be read again (after a
# randomised pause) and retried, never overwritten: six of six succeed,
# adding and withdrawing.  Uses the caller's T, PF, CF, OTHER, USAGE2 and
# its settle, all_serve and none_serve.
dns_six_writers() {
	local WRITERS=6 WKEYS=() WRECS=() w r ok again why collided all_hosts none
	for w in $(seq "$WRITERS"); do
		WKEYS+=("$(new_key "$PF" "eckey-host-$w.pem" ec)")
		WRECS+=("3 1 1 $(spki_hex "${WKEYS[-1]}")")
	done
	read -r ok again <<<"$(dns_writers publish)"
	why=$(head -1 "$T/wfail")
	check "$WRITERS concurrent publishers on one name: $ok of $WRITERS succeed ($again read the RRset again)${why:+: $why}" \
		[ "$ok" -eq "$WRITERS" ]
	collided=$again
	settle
	all_hosts=1
	for r in "${WRECS[@]}"; do all_serve "$r" || all_hosts=0; done
	check "every host's record is served" [ "$all_hosts" = 1 ]
	check "the others' records are still served" eval 'all_serve "$OTHER" && all_serve "$USAGE2"'
	read -r ok again <<<"$(dns_writers retire)"
	collided=$((collided + again))
	why=$(head -1 "$T/wfail")
	check "$WRITERS concurrent retirers on one name: $ok of $WRITERS succeed ($again read the RRset again)${why:+: $why}" \
		[ "$ok" -eq "$WRITERS" ]
	settle
	none=1
	for r in "${WRECS[@]}"; do none_serve "$r" || none=0; done
	check "after the concurrent retires no host's record is served, the others' still are" \
		eval '[ "$none" = 1 ] && all_serve "$OTHER" && all_serve "$USAGE2"'
	check "the writers collided: $collided times one read the RRset again after a failed prerequisite" \
		[ "$collided" -ge 1 ]
}

# dns_writers OP (inside dns_six_writers): run OP (publish | retire) for
# every key of WKEYS at once; prints how many exited 0, and how many read
# the RRset again at least once; the failures' last lines go to $T/wfail.
dns_writers() {
	local pids=() w i ok=0 again=0
	: >"$T/wfail"
	rm -f "$T/go"
	# All start together (on a loaded machine, processes started one by
	# one may not overlap at all).
	for w in $(seq 0 $((WRITERS - 1))); do
		(
			for ((i = 0; i < 500; i++)); do [ -e "$T/go" ] && break; sleep 0.01; done
			exec "$PFTLS" -v -c "$CF" "$1" "${WKEYS[$w]}" >"$T/w$w.out" 2>"$T/w$w.err"
		) &
		pids+=($!)
	done
	sleep 0.3
	touch "$T/go"
	for w in $(seq 0 $((WRITERS - 1))); do
		if wait "${pids[$w]}"; then ok=$((ok + 1)); else tail -1 "$T/w$w.err" >>"$T/wfail"; fi
		grep -q "reading them again in" "$T/w$w.err" && again=$((again + 1))
	done
	echo "$ok $again"
}
