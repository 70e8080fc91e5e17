#!/bin/bash
# tests/integ/trust_inputs.sh - files that are not this program's own, as
# the command line and the daemon meet them (SPEC.md 5 rule 7, issue 11):
#  - an error names a file and a position, never what the file holds:
#    myhostname = FILE in main.cf whose first line is a secret, and
#    "-c FILE" on a file that is no configuration;
#  - a configuration file or postfix_config_directory writable by group or
#    others, or a TSIG key file owned by neither root nor the user running,
#    each gives one warning line (pftls-roll on stderr; pftls-rolld as a
#    config-insecure entry at warning priority in a real journald, started
#    in this test's mount namespace), and nothing is refused; the normal
#    case gives none.
# No DNS servers: `config` and `new-server-key` need only postconf; the
# daemon is stopped by a state directory that cannot be one, after the
# configuration is read.  Runs in a few seconds.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/journald.sh
journald_enter_ns "$0" "$@"
. tests/lib/dns_common.sh # pass, fail, check, run, PFTLS

DAEMON=${PFTLS_DAEMON:-$(dirname "$PFTLS")/pftls-rolld}
T=$(mktemp -d /tmp/pftls-trust.XXXXXX)
cleanup() {
	journald_stop
	rm -rf "$T"
}
trap cleanup EXIT
check_eq() { # NAME WANT GOT
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: want \"$2\", got \"$3\""; fi
}
SECRET='root:$6$SECRETSALT$SECRETHASH:19000:0:99999:7:::'

PF=$T/pf
mkdir -m 0755 "$PF" "$T/etc"
printf '%s\nmx.example.test\n' "$SECRET" >"$T/secret"
chmod 600 "$T/secret"

# ---- 1. errors quote names, not contents --------------------------------
printf 'myhostname = %s\n' "$T/secret" >"$PF/main.cf"
for sub in new-server-key output-server-csr output-server-tlsa; do
	run -C "$PF" $sub
	check_eq "myhostname = a secret file: $sub fails as a usage error (exit 2)" 2 "$RC"
	check "myhostname = a secret file: $sub names the file ($ERR)" \
		grep -q "myhostname = $T/secret: the first line of that file is not a valid host name" <<<"$ERR"
	check "myhostname = a secret file: $sub does not print its first line" \
		sh -c "! grep -q 'SECRET' <<'EOF'
$ERR$OUT
EOF"
done
check_eq "myhostname = a secret file: no key file was made" "main.cf" "$(ls "$PF")"
run -c "$T/secret" config
check_eq "-c a secret file: a usage error (exit 2)" 2 "$RC"
check_eq "-c a secret file: its position, not its line" \
	"pftls-roll: $T/secret:1: missing '=' (not a \"name = value\" line)" "$ERR"
printf 'myhostname = mx.example.test\n' >"$PF/main.cf"

# ---- 2. warnings about who else can steer it ----------------------------
CF=$T/etc/pftls-roll.cf
KEY=$T/etc/tsig.key
printf 'key "k" {\n\talgorithm hmac-sha256;\n\tsecret "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0";\n};\n' >"$KEY"
chmod 600 "$KEY"
: >"$T/not-a-dir"
cat >"$CF" <<EOF
postfix_config_directory = $PF
state_directory = $T/not-a-dir
control_socket = $T/control
tlsa_hostnames = mx.example.test
dns_zone = example.test
dns_update_server = 127.0.0.1:53
dns_check_servers = 127.0.0.1:53
dns_tsig_key_file = $KEY
EOF
chmod 600 "$CF"

if ! journald_start "$T"; then
	fail "journald starts in the mount namespace: $(tail -3 "$T/journald.log")"
	exit 1
fi
# daemon_warnings: start pftls-rolld once (it stops at the state directory)
# and print the MESSAGE of each config-insecure entry it logged, with its
# PRIORITY and MESSAGE_ID.
insecure_entries() {
	journald_read -o json SYSLOG_IDENTIFIER=pftls-rolld PFTLS_EVENT=config-insecure
}
daemon_warnings() {
	local before
	journald_sync
	before=$(insecure_entries | grep -c .)
	timeout 20 "$DAEMON" -c "$CF" >/dev/null 2>"$T/daemon.err"
	journald_sync
	insecure_entries | tail -n +$((before + 1)) |
		jq -r '"\(.PRIORITY) \(.MESSAGE_ID) \(.MESSAGE)"'
}
# case NAME WANT...: the CLI's warning lines and the daemon's entries are
# exactly WANT (regexps, in order; none given: no warning at all).
case_() {
	local name=$1 got n=0 w
	shift
	run -c "$CF" config
	check_eq "$name: pftls-roll config still works (exit 0)" 0 "$RC"
	got=$(grep 'warning' <<<"$ERR")
	check_eq "$name: pftls-roll prints $# warning line(s)" "$#" "$(grep -c . <<<"$got")"
	for w in "$@"; do
		n=$((n + 1))
		check "$name: pftls-roll warning $n is \"pftls-roll: warning: $w\" ($(sed -n ${n}p <<<"$got"))" \
			grep -q "^pftls-roll: warning: $w" <<<"$(sed -n ${n}p <<<"$got")"
	done
	got=$(daemon_warnings)
	check_eq "$name: pftls-rolld logs $# config-insecure entr(y/ies)" "$#" "$(grep -c . <<<"$got")"
	n=0
	for w in "$@"; do
		n=$((n + 1))
		check "$name: pftls-rolld entry $n at warning priority, its MESSAGE_ID, \"$w\" ($(sed -n ${n}p <<<"$got"))" \
			grep -q "^4 400fc6507d534705b17a243f57380edf $w" <<<"$(sed -n ${n}p <<<"$got")"
	done
	check "$name: the daemon printed no warning line of its own on stderr (it went to the journal)" \
		sh -c "! grep -q 'warning' '$T/daemon.err'"
}

case_ "normal modes (0600 file, 0755 directory, key owned by root)"
chmod 0660 "$CF"
case_ "configuration file group-writable" \
	"the configuration file $CF is writable by its group (mode 0660)"
chmod 0602 "$CF"
case_ "configuration file world-writable" \
	"the configuration file $CF is writable by others (mode 0602)"
chmod 0600 "$CF"
chmod 0775 "$PF"
case_ "postfix_config_directory group-writable" \
	"postfix_config_directory $PF is writable by its group (mode 0775)"
chmod 1777 "$PF"
case_ "postfix_config_directory world-writable" \
	"postfix_config_directory $PF is writable by others (mode 1777)"
chmod 0755 "$PF"
chown 12345 "$KEY"
case_ "TSIG key file owned by another user" \
	"dns_tsig_key_file $KEY is owned by uid 12345, not root or this program's user (uid 0)"
chmod 0666 "$CF"
chmod 0757 "$PF"
case_ "all three at once" \
	"the configuration file $CF is writable by others" \
	"postfix_config_directory $PF is writable by others" \
	"dns_tsig_key_file $KEY is owned by uid 12345"
chmod 0644 "$CF"
chmod 0755 "$PF"

# The key owned by the user running is that user's own: no warning.  As
# nobody (65534), a key of nobody's is fine and a key of root's too.
chown 65534 "$KEY"
chmod 0755 "$T" "$T/etc"
run_as_nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups "$PFTLS" -c "$CF" config 2>&1 >/dev/null
	echo "exit $?"
}
check_eq "as uid 65534: a TSIG key file of its own gives no warning (exit 0)" "exit 0" \
	"$(run_as_nobody)"
chown 0 "$KEY"
check_eq "as uid 65534: a TSIG key file of root's gives no warning (exit 0)" "exit 0" \
	"$(run_as_nobody)"
chown 12345 "$KEY"
check "as uid 65534: a TSIG key file of uid 12345 is warned about, naming uid 65534" \
	grep -q "^pftls-roll: warning: dns_tsig_key_file $KEY is owned by uid 12345, not root or this program's user (uid 65534)" \
	<<<"$(run_as_nobody)"
