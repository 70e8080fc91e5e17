#!/bin/bash
# tests/integ/rollover_state.sh - a damaged state file stops everything that
# would act on it (SPEC.md 5 rule 4): a real mid-rollover state (killed in
# phase propagated) is torn, edited, given an unknown version, or made
# inconsistent with a valid checksum; `now`, `deploy --force-now`,
# `cancel` and `status` each refuse with one "pftls-roll: FILE:LINE: problem"
# line, and pftls-rolld refuses to start; nothing changes (main.cf, key
# files, the state file itself, DNS on all three servers).  With the
# original file back, `now` finishes the rollover.
#
# Rule 8: the checksum is an unkeyed SHA-256 anyone can recompute, so the
# same real state edited to name a victim file (outside the Postfix
# directory, through "..", through a symlinked subdirectory, or a file of
# the Postfix directory that is not ours) with its checksum recomputed is
# untrusted: every command and the daemon refuse (exit 3), the daemon logs
# its state-invalid event, and the victim is neither removed, rewritten
# nor deployed.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/rollover.sh

roll_begin state 6
roll_publish_old 5 || { fail "old records published with nsupdate"; exit 1; }
roll_read_ttls
OLD_RSA=$(roll_deployed rsa) OLD_EC=$(roll_deployed ecdsa)
SF=$ROLL_STATE/pftls-roll.state

roll_bg now1 now
check_eq "a rollover reaches phase propagated" propagated "$(roll_wait_phase propagated -t 40)"
roll_pause "$ROLL_BG_PID"
kill -KILL "$ROLL_BG_PID"
roll_wait_exit "$ROLL_BG_PID" 5
FIRST=$(roll_json)
cp "$SF" "$W/good.state"

# rewrite FILE: recompute the checksum line of FILE after an edit.
rechecksum() {
	local body
	body=$(sed '$d' "$1")
	printf '%s\n' "$body" >"$1"
	printf 'checksum = %s\n' "$(sha256sum "$1" | cut -d' ' -f1)" >>"$1"
}

cp "$W/good.state" "$W/torn.state"
truncate -s $(($(stat -c %s "$W/good.state") / 2)) "$W/torn.state"
# Change t_pub's last digit: a final 0 becomes 1, any other digit 0 (the
# other order would leave a t_pub ending in 0 as it was, 1 run in 10).
# t_pub is S.mmm (to the ms) or S (older files).
sed 's/^t_pub = \([0-9.]*\)0$/t_pub = \11/; t; s/^t_pub = \([0-9.]*\)[0-9]$/t_pub = \10/' \
	"$W/good.state" >"$W/edited.state"
sed '1s/.*/pftls-roll-state 2/' "$W/good.state" >"$W/version.state"
rechecksum "$W/version.state"
sed '1s/.*/pftls-roll-state 2/' "$W/good.state" >"$W/version-nosum.state"
grep -v '^t_conf = ' "$W/good.state" >"$W/inconsistent.state"
rechecksum "$W/inconsistent.state"
: >"$W/empty.state"
check "the edited copy differs from the original only in t_pub" \
	test "$(diff "$W/good.state" "$W/edited.state" | grep -c '^[<>] t_pub = ')" -eq 2

# variant expected-problem: each command refuses (exit 3: a state that cannot
# be trusted is a safety refusal) and changes nothing.
variant() {
	local name=$1 want=$2 cmd fp
	cp "$W/$name.state" "$SF"
	fp=$(roll_fingerprint)
	for cmd in now "deploy --force-now" cancel; do
		run -c "$ROLL_CF" $cmd
		check_eq "$name state file: $cmd refused (exit 3, safety refusal)" 3 "$RC"
		check "$name state file: $cmd says \"pftls-roll: $SF:LINE: $want\" ($(grep '^pftls-roll: ' <<<"$ERR" | head -1))" \
			grep -q "^pftls-roll: $SF:[0-9]*: .*$want" <<<"$ERR"
		check_eq "$name state file: $cmd prints exactly one pftls-roll: line" 1 \
			"$(grep -c '^pftls-roll: ' <<<"$ERR")"
		check_eq "$name state file: $cmd changed nothing (main.cf, files, state, DNS)" \
			"$fp" "$(roll_fingerprint)"
	done
	run -c "$ROLL_CF" status
	check_eq "$name state file: status refuses too (exit 3)" 3 "$RC"
	timeout 10 "$PFTLS_DAEMON" -c "$ROLL_CF" >/dev/null 2>"$W/daemon.err"
	rc=$?
	check_eq "$name state file: pftls-rolld refuses to start (exit 3, not restarted by the unit)" 3 "$rc"
	check "$name state file: pftls-rolld says \"$SF:LINE: $want ...; not starting\"" \
		grep -q "^pftls-rolld: $SF:[0-9]*: .*$want.*not starting, nothing changed" "$W/daemon.err"
	check_eq "$name state file: the daemon changed nothing (main.cf, files, state, DNS)" \
		"$fp" "$(roll_fingerprint)"
}
variant torn "truncated"
variant edited "checksum mismatch"
variant version "version"
variant version-nosum "version"
variant inconsistent "t_conf"
variant empty ""

# Rule 8.  Victims: a file outside with our own name, a directory reached
# through "..", and a symbolic link in the Postfix directory that leads out.
VICTIM=$(mktemp -d /tmp/pftls-victim.XXXXXX)
UP=$(dirname "$ROLL_PF")
mkdir "$UP/victim"
ln -s "$VICTIM" "$ROLL_PF/escape"
CERT=$(sed -n 's/^rsa\.next_cert = //p' "$W/good.state")
STAMP=$(basename "$CERT")
for d in "$VICTIM" "$UP/victim"; do
	echo "victim $d" >"$d/$STAMP"
	echo "victim $d" >"$d/file"
done
echo "# not ours" >"$ROLL_PF/not-ours.pem"
# untrusted NAME FIELD VALUE: good.state with FIELD = VALUE, rechecksummed.
untrusted() {
	sed "s|^$2 = .*|$2 = $3|" "$W/good.state" >"$W/$1.state"
	rechecksum "$W/$1.state"
	check "$1: the edited copy differs in $2 only" \
		test "$(diff "$W/good.state" "$W/$1.state" | grep -c '^[<>] ')" -eq 4
}
untrusted outside rsa.next_cert "$VICTIM/$STAMP"
untrusted victim rsa.next_key "$VICTIM/file"
untrusted dotdot rsa.next_cert "$ROLL_PF/../victim/$STAMP"
untrusted symlink rsa.next_cert "$ROLL_PF/escape/$STAMP"
untrusted foreign rsa.next_cert "$ROLL_PF/not-ours.pem"
# victims_intact NAME: every victim file still there with what it held, and
# main.cf names none of them.
victims_intact() {
	local d
	for d in "$VICTIM" "$UP/victim"; do
		check_eq "$1: $d/$STAMP is still there, unchanged" "victim $d" "$(cat "$d/$STAMP" 2>&1)"
		check_eq "$1: $d/file is still there, unchanged" "victim $d" "$(cat "$d/file" 2>&1)"
	done
	check_eq "$1: $ROLL_PF/not-ours.pem is still there, unchanged" "# not ours" \
		"$(cat "$ROLL_PF/not-ours.pem" 2>&1)"
	check "$1: main.cf names no victim" \
		sh -c "! grep -q 'victim\|escape\|not-ours' '$ROLL_PF/main.cf'"
	check "$1: pftls-rolld logged its state-invalid event ($(grep state-invalid "$W/daemon.err" | head -1))" \
		grep -q "^pftls-rolld: error: state-invalid: $SF:[0-9]*: untrusted state" "$W/daemon.err"
}
variant outside "untrusted state: rsa.next_cert \"$VICTIM/$STAMP\" is not directly in postfix_config_directory"
victims_intact outside
variant victim "untrusted state: rsa.next_key \"$VICTIM/file\" is not directly in"
victims_intact victim
variant dotdot "untrusted state: rsa.next_cert .* has a \".\" or \"..\" component"
victims_intact dotdot
variant symlink "untrusted state: rsa.next_cert \"$ROLL_PF/escape/$STAMP\" is not directly in"
victims_intact symlink
variant foreign "untrusted state: rsa.next_cert .* is not named as this program names RSA certificate"
victims_intact foreign
rm -rf "$VICTIM" "$UP/victim"
rm -f "$ROLL_PF/escape" "$ROLL_PF/not-ours.pem"
check_eq "main.cf still deploys the old keys" "$OLD_RSA $OLD_EC" \
	"$(roll_deployed rsa) $(roll_deployed ecdsa)"

cp "$W/good.state" "$SF"
run -c "$ROLL_CF" now
check_eq "with the original state file back, now finishes the rollover (exit 0, idle)" \
	"0 idle" "$RC $(roll_phase)"
roll_check_done "$OLD_RSA" "$OLD_EC" "$FIRST"
