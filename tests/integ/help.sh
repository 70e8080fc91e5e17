#!/bin/bash
# tests/integ/help.sh - "pftls-roll SUB --help" for every subcommand.
#
# Owns the checks on the per-subcommand help: for each subcommand that
# "pftls-roll --help" lists, "pftls-roll SUB --help" exits 0, prints
# "usage: pftls-roll " and the same usage line as the list, then a
# description of at least one line, each at most 80 columns, and nothing on
# stderr; it needs no configuration (a -c naming a missing file does not
# matter) and changes nothing.  No servers; runs in a second.
set -u
cd "$(dirname "$0")/../.." || exit 1

ROLL=${PFTLS_BUILD:-build}/pftls-roll
pass() { echo "PASS: help: $1"; }
fail() { echo "FAIL: help: $1: $2"; }

if [ ! -x "$ROLL" ]; then
	fail "setup" "$ROLL is not built (run make)"
	exit 1
fi
roll=$(realpath "$ROLL")
work=$(mktemp -d /tmp/pftls-help.XXXXXX) || exit 1
trap 'rm -rf "$work"' EXIT

"$ROLL" --help >"$work/help" 2>&1
sed -n '/^subcommands:/,/^$/s/^  \([a-z]\)/\1/p' "$work/help" >"$work/usages"
n=$(wc -l <"$work/usages")
if [ "$n" -lt 19 ]; then
	fail "pftls-roll --help" "lists $n subcommands, expected the 19 of SPEC.md 2"
	exit 1
fi

while read -r usage; do
	sub=${usage%% *}
	# A -c naming a file that does not exist: --help must not load it.
	# Run in an empty directory, which must stay empty.
	mkdir "$work/cwd-$sub"
	out=$(cd "$work/cwd-$sub" && "$roll" -c "$work/none.cf" "$sub" --help \
		2>"$work/err")
	rc=$?
	first=$(head -1 <<<"$out")
	desc=$(tail -n +2 <<<"$out" | grep -v '^$' | grep -v '^See pftls-roll(8)\.$')
	long=$(awk 'length > 80' <<<"$desc")
	if [ "$rc" -ne 0 ]; then
		fail "$sub --help" "exit status $rc: $(head -1 "$work/err")"
	elif [ -s "$work/err" ]; then
		fail "$sub --help" "wrote to stderr: $(head -1 "$work/err")"
	elif [ "$first" != "usage: pftls-roll $usage" ]; then
		fail "$sub --help" "first line \"$first\", want \"usage: pftls-roll $usage\""
	elif [ -z "$desc" ]; then
		fail "$sub --help" "no description after the usage line"
	elif [ -n "$long" ]; then
		fail "$sub --help" "line longer than 80 columns: $long"
	elif [ -n "$(ls -A "$work/cwd-$sub")" ] || [ -e "$work/none.cf" ]; then
		fail "$sub --help" "created files"
	else
		pass "$sub --help: exit 0, its usage and $(wc -l <<<"$desc") lines of description"
	fi
done <"$work/usages"

# Each description is its own: no two subcommands share one.
for u in $(cut -d' ' -f1 "$work/usages"); do
	"$ROLL" "$u" --help | tail -n +2 | md5sum
done | sort | uniq -d >"$work/dups"
[ -s "$work/dups" ] && fail "descriptions" "two subcommands print the same help" ||
	pass "the $n descriptions all differ"

# --help still only applies to a subcommand that exists.
out=$("$ROLL" no-such-command --help 2>&1)
rc=$?
[ "$rc" -eq 2 ] && grep -q 'unknown subcommand "no-such-command"' <<<"$out" &&
	pass "no-such-command --help: exit 2, unknown subcommand" ||
	fail "no-such-command --help" "exit $rc: $out"
