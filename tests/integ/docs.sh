#!/bin/bash
# tests/integ/docs.sh - the documentation says what the programs do.
#
# Owns the checks that keep docs/*.8, docs/*.5 and examples/*.cf honest:
# the man pages are lint-clean under mandoc and groff; pftls-roll.cf(5) has
# an entry for every parameter "pftls-roll config -d" knows (and none it
# does not), with the same default; every parameter is in the annotated
# example; every example file, every commented value in it, and the
# examples inside the man page load; the error lines quoted in
# pftls-roll.cf(5) are the ones the program prints; every subcommand and
# option of "pftls-roll --help" is in pftls-roll(8); every journal field is
# in pftls-rolld(8); the BIND and Knot example configurations pass
# named-checkconf and knotc conf-check; docs/OPERATIONS.md names only
# example files, subcommands and journal events that exist, with the
# MESSAGE_IDs and priorities of daemon/journal.c.  No servers, no network;
# runs in a few seconds.
#
# Markup the checks rely on (written down in the pages' header comments):
# a parameter is ".TP" + ".B name" + "Default: \fBvalue\fR" or
# "Default: empty ..."; a subcommand is ".TP" + ".B name ..." / ".BR name".
set -u
cd "$(dirname "$0")/../.." || exit 1

ROLL=${PFTLS_BUILD:-build}/pftls-roll
CF5=docs/pftls-roll.cf.5
ROLL8=docs/pftls-roll.8
ROLLD8=docs/pftls-rolld.8
PAGES=("$ROLL8" "$ROLLD8" "$CF5")
EXAMPLES=(examples/*.cf)
OPS=docs/OPERATIONS.md

tmp=$(mktemp -d /tmp/pftls-docs.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT

pass() { echo "PASS: docs: $1"; }
fail() { echo "FAIL: docs: $1: $2"; }

# Turn roff source text into what a reader sees, for the escapes these
# pages use: fonts, \- \& \e \~ \% \c and the quote characters.
unroff() {
	sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' -e 's/\\&//g' -e 's/\\~/ /g' \
	    -e 's/\\%//g' -e 's/\\c$//' -e 's/\\(lq/"/g' -e 's/\\(rq/"/g' \
	    -e 's/\\(em/--/g' -e 's/\\(mu/x/g' -e 's/\\e/\\/g'
}

if [ ! -x "$ROLL" ]; then
	fail "setup" "$ROLL is not built (run make)"
	exit 1
fi
for p in "${PAGES[@]}"; do
	[ -f "$p" ] || fail "$p" "missing"
done

# --- 1. lint ---------------------------------------------------------------
for p in "${PAGES[@]}"; do
	[ -f "$p" ] || continue
	name=$(basename "$p")
	if ! command -v mandoc >/dev/null; then
		fail "$name mandoc lint" "mandoc not installed (tools/install-deps)"
	elif out=$(mandoc -Tlint -W warning "$p" 2>&1) && [ -z "$out" ]; then
		pass "$name mandoc -Tlint -W warning is silent"
	else
		fail "$name mandoc lint" "$(echo "$out" | head -3 | tr '\n' ' ')"
	fi
	if ! command -v groff >/dev/null; then
		fail "$name groff" "groff not installed (tools/install-deps)"
	else
		err=$(groff -ww -man -Tutf8 "$p" 2>&1 >/dev/null)
		if [ -z "$err" ]; then
			pass "$name groff -ww -man is silent"
		else
			fail "$name groff -ww" "$(echo "$err" | head -3 | tr '\n' ' ')"
		fi
	fi
done

# --- 2. pftls-roll.cf(5) against "config -d" -----------------------------
"$ROLL" config -d >"$tmp/defaults" 2>"$tmp/defaults.err"
rc=$?
if [ "$rc" -ne 0 ] || [ ! -s "$tmp/defaults" ]; then
	fail "config -d" "exit $rc: $(head -1 "$tmp/defaults.err")"
	exit 1
fi
# name<TAB>default, from "name = value" / "name ="
sed -E 's/^([a-z_0-9]+) =( (.*))?$/\1\t\3/' "$tmp/defaults" >"$tmp/want"
cut -f1 "$tmp/want" >"$tmp/names"

# name<TAB>default from the man page: the ".B name" after each ".TP" in
# PARAMETERS, and the first "Default:" line of its entry.  A missing
# Default line is reported as "<none>".
unroff <"$CF5" | awk '
	/^\.SH / { inparams = ($2 == "PARAMETERS"); if (name != "") flush(); next }
	!inparams { next }
	/^\.(TP|SS)/ { if (name != "") flush(); tp = ($1 == ".TP"); next }
	tp && /^\.B [a-z_0-9]+$/ { name = $2; def = "<none>"; tp = 0; next }
	{ tp = 0 }
	name != "" && def == "<none>" && /^Default: / {
		line = $0
		if (line ~ /^Default: empty/) def = ""
		else { sub(/^Default: /, "", line); def = line }
	}
	function flush() { printf "%s\t%s\n", name, def; name = "" }
	END { if (name != "") flush() }
' >"$tmp/have"

missing=$(cut -f1 "$tmp/have" | sort | comm -23 <(sort "$tmp/names") -)
extra=$(cut -f1 "$tmp/have" | sort | comm -13 <(sort "$tmp/names") -)
n=$(wc -l <"$tmp/names")
if [ -z "$missing" ]; then
	pass "pftls-roll.cf.5 has a .TP/.B entry for each of the $n parameters"
else
	fail "pftls-roll.cf.5 entries" "no entry for: $(echo $missing)"
fi
if [ -z "$extra" ]; then
	pass "pftls-roll.cf.5 documents no parameter the program does not know"
else
	fail "pftls-roll.cf.5 entries" "unknown to config -d: $(echo $extra)"
fi
dups=$(cut -f1 "$tmp/have" | sort | uniq -d)
[ -n "$dups" ] && fail "pftls-roll.cf.5 entries" "documented twice: $(echo $dups)"

bad=""
while IFS=$'\t' read -r name want; do
	have=$(awk -F'\t' -v n="$name" '$1 == n { print $2; exit }' "$tmp/have")
	grep -q "^$name"$'\t' "$tmp/have" || continue # reported above
	if [ "$have" != "$want" ]; then
		bad="$bad; $name: page says \"$have\", config -d says \"$want\""
	fi
done <"$tmp/want"
if [ -z "$bad" ]; then
	pass "defaults in pftls-roll.cf.5 match pftls-roll config -d"
else
	fail "pftls-roll.cf.5 defaults" "${bad#; }"
fi

# --- 3. the annotated example names every parameter ------------------------
ex=examples/pftls-roll.cf
if [ -f "$ex" ]; then
	absent=""
	while read -r name; do
		grep -Eq "^#?[[:space:]]*$name[[:space:]]*=" "$ex" || absent="$absent $name"
	done <"$tmp/names"
	if [ -z "$absent" ]; then
		pass "$ex sets or shows every parameter"
	else
		fail "$ex" "parameters not present:$absent"
	fi
fi

# --- 4. every example loads ----------------------------------------------
for ex in "${EXAMPLES[@]}"; do
	if [ ! -f "$ex" ]; then
		fail "$ex" "missing"
		continue
	fi
	if err=$("$ROLL" -c "$ex" config -a 2>&1 >/dev/null); then
		pass "$ex loads (pftls-roll -c FILE config -a)"
	else
		fail "$ex loads" "$err"
	fi
done

# Each commented "#name = value" in the annotated example is a value an
# operator may uncomment: it must load too (with the file's own setting of
# that name removed, since a second setting is an error).
ex=examples/pftls-roll.cf
if [ -f "$ex" ]; then
	bad="" count=0
	while IFS= read -r line; do
		name=$(sed -E 's/^#([a-z_0-9]+) =.*/\1/' <<<"$line")
		grep -qx "$name" "$tmp/names" || continue
		count=$((count + 1))
		grep -Ev "^$name[[:space:]]*=" "$ex" | grep -vxF -- "$line" >"$tmp/uncommented.cf"
		printf '%s\n' "${line#\#}" >>"$tmp/uncommented.cf"
		err=$("$ROLL" -c "$tmp/uncommented.cf" config "$name" 2>&1 >/dev/null) ||
			bad="$bad; \"${line#\#}\": $err"
	done < <(grep -E '^#[a-z_0-9]+ =' "$ex")
	if [ "$count" -eq 0 ]; then
		fail "$ex commented values" "no commented \"#name = value\" lines found"
	elif [ -z "$bad" ]; then
		pass "each of the $count commented values in $ex loads when uncommented"
	else
		fail "$ex commented values" "${bad#; }"
	fi
fi

# The configuration examples inside pftls-roll.cf(5) (EXAMPLES section,
# .EX blocks) load when put together in one file each.
unroff <"$CF5" | awk -v dir="$tmp" '
	/^\.SH / { inex = ($2 == "EXAMPLES"); next }
	inex && /^\.EX/ { n++; f = dir "/man-example-" n ".cf"; printf "" > f; on = 1; next }
	inex && /^\.EE/ { on = 0; close(f); next }
	on { print > f }
'
set -- "$tmp"/man-example-*.cf
if [ ! -e "$1" ]; then
	fail "pftls-roll.cf.5 examples" "no .EX blocks in EXAMPLES"
else
	bad=""
	for f in "$@"; do
		err=$("$ROLL" -c "$f" config -a 2>&1 >/dev/null) || bad="$bad; $(basename "$f"): $err"
	done
	if [ -z "$bad" ]; then
		pass "the $# configuration examples in pftls-roll.cf.5 load"
	else
		fail "pftls-roll.cf.5 examples" "${bad#; }"
	fi
fi

# --- 5. the error lines quoted in pftls-roll.cf(5) are real ----------------
# Make each documented error happen and look for the exact line (with the
# file name the page uses) in the page; the exit status must be 2.
cf="$tmp/err.cf"
pagetext=$(unroff <"$CF5")
err_case() { # description, then the file content
	local what=$1 out rc
	printf '%s' "$2" >"$cf"
	out=$("$ROLL" -c "$cf" config 2>&1 >/dev/null)
	rc=$?
	out=${out//$cf//etc/pftls-roll/pftls-roll.cf}
	if [ "$rc" -ne 2 ]; then
		fail "documented error: $what" "exit status $rc, the page says 2"
	elif ! grep -qxF -- "$out" <<<"$pagetext"; then
		fail "documented error: $what" "the page does not show the line: $out"
	else
		pass "pftls-roll.cf.5 quotes the real error for $what (exit 2)"
	fi
}
comments=$(printf '#\n%.0s' $(seq 11))
err_case "an unknown name" "$comments
tlsa_port = 25
"
err_case "a duplicate" "$(printf '#\n%.0s' $(seq 8))
tlsa_ttl = 300
$(printf '#\n%.0s' $(seq 10))
tlsa_ttl = 600
"
err_case "a bad value" "#
#
#
rsa_bits = 1024
"

# --- 6. pftls-roll(8) has every subcommand and option of --help -------------
"$ROLL" --help >"$tmp/help" 2>&1
# "  name [options...]" lines after "subcommands:"
sed -n '/^subcommands:/,/^$/{/^  [a-z]/p}' "$tmp/help" | sed 's/^  //' >"$tmp/usages"
if [ ! -s "$tmp/usages" ]; then
	fail "pftls-roll --help" "no subcommands listed"
else
	unroff <"$ROLL8" >"$tmp/roll8"
	nosub="" noopt=""
	while read -r usage; do
		sub=${usage%% *}
		# The tag line of the subcommand's .TP entry.
		tag=$(awk -v s="$sub" '
			prev ~ /^\.TP/ && ($1 == ".B" || $1 == ".BR") && $2 == s { print; exit }
			{ prev = $0 }' "$tmp/roll8")
		if [ -z "$tag" ]; then
			nosub="$nosub $sub"
			continue
		fi
		for opt in $(grep -oE -- '(^|[[ |])--?[a-zA-Z][-a-zA-Z]*' <<<"$usage" | tr -d '[ |'); do
			grep -qE -- "(^|[^-a-zA-Z])$opt([^-a-zA-Z]|$)" <<<"$tag" || noopt="$noopt $sub:$opt"
		done
	done <"$tmp/usages"
	n=$(wc -l <"$tmp/usages")
	if [ -z "$nosub" ]; then
		pass "pftls-roll.8 has a .TP entry for each of the $n subcommands of --help"
	else
		fail "pftls-roll.8 subcommands" "not documented:$nosub"
	fi
	if [ -z "$noopt" ]; then
		pass "pftls-roll.8 shows every option of every subcommand's usage"
	else
		fail "pftls-roll.8 options" "not in the entry's tag line:$noopt"
	fi
fi

# --- 7. pftls-rolld(8) explains every journal field ------------------------
# The fields of SPEC 6, plus any PFTLS_* field the code sends.
fields="MESSAGE_ID PRIORITY SYSLOG_IDENTIFIER PFTLS_EVENT PFTLS_PHASE PFTLS_ROLLOVER
	PFTLS_KEY_SPKI PFTLS_SERVER"
fields="$fields $(cat daemon/*.c 2>/dev/null | grep -oE '"PFTLS_[A-Z_]+=' | tr -d '"=' | sort -u)"
undoc=""
for f in $(tr ' \t' '\n\n' <<<"$fields" | sort -u); do
	grep -qE "^\.B $f\$" "$ROLLD8" || undoc="$undoc $f"
done
if [ -z "$undoc" ]; then
	pass "pftls-rolld.8 has a .TP entry for every journal field"
else
	fail "pftls-rolld.8 journal fields" "no entry for:$undoc"
fi

# --- 8. the pages carry the program's version --------------------------------
version=$("$ROLL" --version | awk '{ print $2 }')
stale=""
for p in "${PAGES[@]}"; do
	grep -q "^\.TH .* \"pftls-roll $version\"" "$p" || stale="$stale $(basename "$p")"
done
if [ -z "$stale" ]; then
	pass "every man page's .TH names pftls-roll $version"
else
	fail "man page version" ".TH does not name pftls-roll $version in:$stale"
fi

# --- 9. the DNS server examples are valid configurations -------------------
# named-checkconf runs chrooted into a scratch tree holding the key files
# and directories the examples name, as a chrooted named would see them.
root=$tmp/bindroot
mkdir -p "$root/etc/bind" "$root/var/cache/bind" "$root/var/lib/bind"
for k in $(cat examples/named-*.conf | sed -n 's|^include "/etc/bind/\([^"]*\)\.key";|\1|p' | sort -u); do
	tsig-keygen -a hmac-sha256 "$k" >"$root/etc/bind/$k.key" 2>/dev/null
done
for ex in examples/named-*.conf; do
	[ -f "$ex" ] || continue
	if ! command -v named-checkconf >/dev/null; then
		fail "$ex" "named-checkconf not installed (tools/install-deps: bind9-utils)"
		break
	fi
	cp "$ex" "$root/check.conf"
	if err=$(named-checkconf -t "$root" /check.conf 2>&1) && [ -z "$err" ]; then
		pass "$ex passes named-checkconf, silently"
	else
		fail "$ex named-checkconf" "$(echo "$err" | head -2 | tr '\n' ' ')"
	fi
done
for ex in examples/knot.conf; do
	[ -f "$ex" ] || continue
	if ! command -v knotc >/dev/null; then
		fail "$ex" "knotc not installed (tools/install-deps: knot)"
	elif err=$(knotc -c "$ex" conf-check 2>&1); then
		pass "$ex passes knotc conf-check"
	else
		fail "$ex knotc conf-check" "$(echo "$err" | head -2 | tr '\n' ' ')"
	fi
done
# The update rights the examples grant are the TLSA names the matching
# pftls-roll examples publish: _25._tcp.mx1.example.com.
grep -q 'grant pftls-roll-mx1 name _25\._tcp\.mx1\.example\.com\. TLSA;' examples/named-primary.conf &&
	grep -qx 'tlsa_hostnames = mx1.example.com' examples/hidden-primary.cf &&
	grep -q 'update-owner-name: \[ _25\._tcp\.mx1 \]' examples/knot.conf &&
	grep -qx 'tlsa_hostnames = mx1.example.com' examples/knot.cf &&
	pass "the BIND and Knot examples grant exactly the TLSA name their .cf examples publish" ||
	fail "DNS examples" "the update grants and tlsa_hostnames of the examples disagree"

# --- 10. docs/OPERATIONS.md says only what exists -----------------------------
if [ ! -f "$OPS" ]; then
	fail "$OPS" "missing"
else
	bad=""
	for f in $(grep -oE 'examples/[a-z0-9.-]+\.(cf|conf)' "$OPS" | sort -u); do
		[ -f "$f" ] || bad="$bad $f"
	done
	for f in $(grep -oE '`[a-z0-9.-]+\.(cf|conf)`' "$OPS" | tr -d '`' | sort -u); do
		case $f in pftls-roll.cf | postfix.cf | main.cf | master.cf | named.conf) continue ;; esac
		[ -f "examples/$f" ] || bad="$bad $f"
	done
	[ -z "$bad" ] && pass "$OPS names only example files that exist" ||
		fail "$OPS examples" "no such file:$bad"

	# Each "pftls-roll [-c FILE] SUB" in code (indented blocks and `spans`)
	# names a subcommand of --help.
	bad=""
	for sub in $( (grep -E '^    ' "$OPS"; grep -oE '`[^`]*`' "$OPS") |
		grep -oE '(^|[ `])pftls-roll( -[cC] [^ `]+| -v)* [a-z][-a-z]+' |
		awk '{ print $NF }' | sort -u); do
		grep -q "^  $sub\( \|$\)" "$tmp/help" || bad="$bad $sub"
	done
	[ -z "$bad" ] && pass "$OPS names only real pftls-roll subcommands" ||
		fail "$OPS subcommands" "not a subcommand:$bad"

	# The event table: "| name | ID | priority |" for every kind of
	# daemon/journal.c, with its MESSAGE_ID and priority.
	tr '\n\t' '  ' <daemon/journal.c |
		grep -oE '\[PF_EV_[A-Z_]+\] = \{"[a-z-]+", "[0-9a-f]{32}",[[:space:]]*LOG_[A-Z]+' |
		sed -E 's/.*\{"([a-z-]+)", "([0-9a-f]+)",[[:space:]]*LOG_([A-Z]+)/\1 \2 \3/' |
		sed -e 's/ ERR$/ error/' -e 's/ WARNING$/ warning/' -e 's/ NOTICE$/ notice/' \
		    -e 's/ INFO$/ info/' -e 's/ DEBUG$/ debug/' | sort >"$tmp/events.code"
	sed -n 's/^| \([a-z-]*\) | \([0-9a-f]\{32\}\) | \([a-z]*\) |.*/\1 \2 \3/p' "$OPS" | sort \
		>"$tmp/events.doc"
	n=$(wc -l <"$tmp/events.code")
	if [ "$n" -lt 20 ]; then
		fail "$OPS events" "read only $n event kinds from daemon/journal.c"
	elif diff "$tmp/events.code" "$tmp/events.doc" >"$tmp/events.diff"; then
		pass "$OPS lists the $n journal events with the MESSAGE_ID and priority of daemon/journal.c"
	else
		fail "$OPS events" "$(grep '^[<>]' "$tmp/events.diff" | head -4 | tr '\n' ' ')"
	fi
	bad=""
	for id in $(grep -oE '\b[0-9a-f]{32}\b' "$OPS" | sort -u); do
		grep -qx -- "-- $id" docs/pftls-roll.catalog || bad="$bad $id"
	done
	[ -z "$bad" ] && pass "every MESSAGE_ID in $OPS has a catalog entry" ||
		fail "$OPS MESSAGE_IDs" "not in docs/pftls-roll.catalog:$bad"
fi

# The README's layout lists every source file of daemon/ and tools/ (a row
# of its own or a name in a row), and names no file that is gone.
missing="" gone=""
for f in daemon/*.c tools/*.c; do
	grep -q "\`$(basename "$f")\`" README.md || missing="$missing $f"
done
for f in $(sed -n '/^## Layout/,/^## /p' README.md | grep -oE '`[a-z_-]+\.[ch]`' | tr -d '`' | sort -u); do
	[ -e "daemon/$f" ] || [ -e "tools/$f" ] || [ -e "tests/unit/$f" ] || gone="$gone $f"
done
[ -z "$missing" ] && pass "README's layout names every file of daemon/ and tools/" ||
	fail "README layout" "not listed:$missing"
[ -z "$gone" ] && pass "README's layout names only files that exist" ||
	fail "README layout" "no such file:$gone"
