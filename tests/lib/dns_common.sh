# tests/lib/dns_common.sh - small helpers shared by the DNS integration
# tests: PASS/FAIL lines, key files, and running pftls-roll.

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
		echo "control_socket = $T/control"
	} | awk -v over="$(printf '%s\n' "$@" | sed 's/ *=.*//')" '
		BEGIN { n = split(over, o, "\n"); for (i = 1; i <= n; i++) skip[o[i]] = 1 }
		{ name = $1; if (!(name in skip)) print }' >"$f"
	[ $# -gt 0 ] && printf '%s\n' "$@" >>"$f"
	return 0
}
