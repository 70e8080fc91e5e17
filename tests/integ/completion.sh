#!/bin/bash
# tests/integ/completion.sh - the bash completion in completion/pftls-roll.
#
# Owns the checks on what TAB offers: the file is sourced after Debian's
# bash-completion (as /usr/share/bash-completion/completions/ is loaded),
# COMP_WORDS is set up as bash does for a command line, and COMPREPLY is
# compared with what it must be: the subcommands of "pftls-roll --help" for
# an empty word and for prefixes, every subcommand's options as its usage
# line shows them, option values (algorithms, sizes, curves, parameter
# names), files and directories.  "pftls-roll" on the PATH is the freshly
# built program.  No servers; runs in a few seconds.
set -u
cd "$(dirname "$0")/../.." || exit 1

ROLL=${PFTLS_BUILD:-build}/pftls-roll
pass() { echo "PASS: completion: $1"; }
fail() { echo "FAIL: completion: $1: $2"; }

if [ ! -x "$ROLL" ]; then
	fail "setup" "$ROLL is not built (run make)"
	exit 1
fi
if [ ! -f /usr/share/bash-completion/bash_completion ]; then
	fail "setup" "bash-completion is not installed (tools/install-deps)"
	exit 1
fi
work=$(mktemp -d /tmp/pftls-completion.XXXXXX) || exit 1
trap 'rm -rf "$work"' EXIT
mkdir "$work/bin" "$work/files" "$work/files/keys.d"
ln -s "$(realpath "$ROLL")" "$work/bin/pftls-roll"
touch "$work/files/eckey-20261122-101500.pem" "$work/files/eccert-20261122-101500.pem" \
	"$work/files/main.cf"

# complete LINE: print the sorted COMPREPLY for the cursor at the end of
# LINE, in a fresh bash that loaded bash-completion and our file.
complete_line() {
	PATH="$work/bin:$PATH" bash -c '
		. /usr/share/bash-completion/bash_completion
		. completion/pftls-roll
		COMP_LINE=$1
		COMP_POINT=${#COMP_LINE}
		read -r -a COMP_WORDS <<<"$COMP_LINE"
		[[ $COMP_LINE == *" " ]] && COMP_WORDS+=("")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMPREPLY=()
		fn=_pftls_roll
		[[ ${COMP_WORDS[0]} == pftls-rolld ]] && fn=_pftls_rolld
		$fn "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " " | sed "s/ $//"
	' complete "$1" 2>&1
}
expect() { # LINE EXPECTED
	local got
	got=$(complete_line "$1")
	if [ "$got" = "$2" ]; then
		pass "\"$1\" -> ${2:-(nothing)}"
	else
		fail "\"$1\"" "got \"$got\", want \"$2\""
	fi
}

"$ROLL" --help | sed -n '/^subcommands:/,/^$/s/^  \([a-z]\)/\1/p' >"$work/usages"
all=$(cut -d' ' -f1 "$work/usages" | sort | tr '\n' ' ' | sed 's/ $//')

expect "pftls-roll " "$all"
expect "pftls-roll ou" "output-server-csr output-server-tlsa"
expect "pftls-roll all-default-s" "all-default-server"
expect "pftls-roll re" "reload renew retire"
expect "pftls-roll -c /etc/pftls-roll/out.cf -v st" "status"
expect "pftls-roll -C /etc/postfix-out p" "propagation publish"
expect "pftls-roll -" "--help --version -C -c -v"
expect "pftls-roll xyz" ""
expect "pftls-roll new-server-key -a " "ecdsa rsa"
expect "pftls-roll enable-server -a ecdsa -b " "secp256r1 secp384r1 secp521r1"
expect "pftls-roll new-server-cert -b " "2048 3072 4096"
expect "pftls-roll config tlsa_" "tlsa_hostnames tlsa_ports tlsa_records tlsa_ttl"
expect "pftls-roll config -a dns_tsig" "dns_tsig_key_file"
expect "pftls-roll -c $work/files/m" "$work/files/main.cf"
expect "pftls-roll -C $work/fi" "$work/files"
expect "pftls-roll publish $work/files/eck" "$work/files/eckey-20261122-101500.pem"
expect "pftls-roll deploy-server-cert $work/files/ecc" "$work/files/eccert-20261122-101500.pem"
expect "pftls-roll output-server-tlsa ec" "ecdsa"
expect "pftls-roll output-server-csr -k r" "rsa"
expect "pftls-rolld -" "--help --version -c -v"

# Every subcommand offers exactly the options of its usage line, plus --help.
bad=""
while read -r usage; do
	sub=${usage%% *}
	want=$( (echo --help; grep -oE -- '(^|[[ |])--?[a-zA-Z][-a-zA-Z]*' <<<"$usage" | tr -d '[ |') |
		sort | tr '\n' ' ' | sed 's/ $//')
	got=$(complete_line "pftls-roll $sub -")
	[ "$got" = "$want" ] || bad="$bad; $sub: got \"$got\", want \"$want\""
done <"$work/usages"
if [ -z "$bad" ]; then
	pass "each of the $(wc -l <"$work/usages") subcommands offers the options of its usage line"
else
	fail "subcommand options" "${bad#; }"
fi
