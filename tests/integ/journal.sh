#!/bin/bash
# tests/integ/journal.sh - journal events against a real systemd-journald,
# started by this test in its own mount namespace (tests/lib/journald.sh):
#  - every event kind, logged through sd_journal_send, reads back with
#    journalctl carrying MESSAGE_ID, PRIORITY, SYSLOG_IDENTIFIER and the
#    PFTLS_* fields of SPEC.md 6 exactly as sent;
#  - every MESSAGE_ID of daemon/journal.c has an entry in
#    docs/pftls-roll.catalog (journalctl --update-catalog / --list-catalog),
#    each with Subject, Defined-By and Documentation, and journalctl -x shows it;
#  - without a journal socket, and with a dead journald, each event is one
#    line on stderr.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/journald.sh
journald_enter_ns "$0" "$@"

bin=${PFTLS_BUILD:-build}/tests/test_journal
catalog=docs/pftls-roll.catalog
work=$(mktemp -d /tmp/pftls-journal-test.XXXXXX)
cleanup() {
	journald_stop
	rm -rf "$work"
}
trap cleanup EXIT

. tests/lib/dns_common.sh # pass, fail, check
prio_name() {
	case $1 in 3) echo error ;; 4) echo warning ;; 5) echo notice ;; 6) echo info ;; *) echo "?$1" ;; esac
}

if [ ! -x "$bin" ]; then
	fail "journal: $bin is not built (run make)"
	exit 1
fi
"$bin" list >"$work/kinds" || { fail "journal: $bin list failed"; exit 1; }
nkinds=$(wc -l <"$work/kinds")

# ---- events through a real journald ----
if ! journald_start "$work"; then
	fail "journald starts in the mount namespace: $(tail -3 "$work/journald.log")"
	exit 1
fi
pass "journald starts in the mount namespace (pid $JOURNALD_PID)"

"$bin" emit-all >"$work/sent" 2>"$work/emit.err"
check "every event accepted by journald (exit status 0, nothing on stderr)" \
	test $? -eq 0 -a ! -s "$work/emit.err"
check "one event of each of the $nkinds kinds sent" test "$(grep -c '^SENT ' "$work/sent")" -eq "$nkinds"
journald_sync

# One line per stored entry: the fields SPEC.md 6 lists, in a fixed order.
# A field that is missing shows as MISSING; an empty one as "-"; a field
# given several times (PFTLS_KEY_SPKI) as its values joined by ",".
journald_read -o json SYSLOG_IDENTIFIER=pftls-rolld | jq -r '
	def val(f): if has(f) then (.[f] | if type == "array" then join(",") else . end
		| if . == "" then "-" else . end) else "MISSING" end;
	[val("PFTLS_EVENT"), val("MESSAGE_ID"), val("PRIORITY"), val("PFTLS_PHASE"),
	 val("PFTLS_ROLLOVER"), val("PFTLS_KEY_SPKI"),
	 (if has("PFTLS_SERVER") then .PFTLS_SERVER else "-" end),
	 val("SYSLOG_IDENTIFIER"), val("MESSAGE")] | join(" ")' >"$work/stored"
check "journal holds exactly one entry per event sent" test "$(wc -l <"$work/stored")" -eq "$nkinds"

i=0
while read -r _ name id prio phase roll spki server; do
	want="$name $id $prio $phase $roll $spki $server pftls-rolld test event $name number $i"
	got=$(grep "^$name " "$work/stored")
	fields="MESSAGE_ID, PRIORITY $prio, SYSLOG_IDENTIFIER, PFTLS_EVENT, PFTLS_PHASE, PFTLS_ROLLOVER, PFTLS_KEY_SPKI"
	[ "$server" = - ] && fields="$fields, no PFTLS_SERVER" || fields="$fields, PFTLS_SERVER"
	if [ "$got" = "$want" ]; then
		pass "journal entry $name: $fields as sent"
	else
		fail "journal entry $name: want \"$want\", got \"$got\""
	fi
	i=$((i + 1))
done <"$work/sent"

# The fields are always present, empty when there is nothing to name.
got=$(journald_read -o json PFTLS_EVENT=daemon-started |
	jq -r '[has("PFTLS_ROLLOVER"), has("PFTLS_KEY_SPKI"), has("PFTLS_SERVER")] | map(tostring) | join(" ")')
check "an event without rollover or key still has PFTLS_ROLLOVER and PFTLS_KEY_SPKI, and no PFTLS_SERVER" \
	test "$got" = "true true false"

# An event about a rollover state: logged with the state's fields, and kept
# in the state's recent events.
"$bin" state-event >"$work/state-event" 2>&1
read -r _ roll spki nev kind phase t msg <"$work/state-event"
journald_sync
got=$(journald_read -o json PFTLS_ROLLOVER="$roll" |
	jq -r '[.PFTLS_EVENT, .PFTLS_PHASE, .PFTLS_KEY_SPKI, .PFTLS_SERVER, .MESSAGE] | join(" ")')
check "state event logged with the state's phase, rollover and next key, and the server" \
	test "$got" = "server-confirmed published $spki 127.54.0.3:53 server 127.54.0.3:53 confirmed serial 7"
check "state event appended to the state's recent events" \
	test "$nev $kind $phase $t $msg" = "1 server-confirmed published 1700000042 server 127.54.0.3:53 confirmed serial 7"

# ---- the catalog ----
# Entries the source file declares, with their header lines.
awk '
	/^-- / { if (id) print id, subj, def, doc; id = $2; subj = def = doc = 0; hdr = 1; next }
	id && hdr && /^$/ { hdr = 0 }
	id && hdr && /^Subject: ./ { subj = 1 }
	id && hdr && /^Defined-By: pftls-roll$/ { def = 1 }
	id && hdr && /^Documentation: man:pftls-rolld\(8\)$/ { doc = 1 }
	END { if (id) print id, subj, def, doc }' "$catalog" >"$work/catalog.entries"

if journald_catalog "$work" "$catalog" 2>"$work/catalog.err"; then
	pass "journalctl --update-catalog accepts $catalog"
else
	fail "journalctl --update-catalog accepts $catalog: $(head -3 "$work/catalog.err")"
fi
journalctl --root="$work/catalog-root" --list-catalog >"$work/catalog.list" 2>&1
while read -r name id _; do
	if grep -q "^$id pftls-roll: ." "$work/catalog.list" &&
		grep -q "^$id 1 1 1$" "$work/catalog.entries"; then
		pass "catalog entry for $name ($id) with Subject, Defined-By: pftls-roll, Documentation: man:pftls-rolld(8)"
	else
		fail "catalog entry for $name ($id): listed: $(grep -c "^$id " "$work/catalog.list"), headers (subject defined-by documentation): $(grep "^$id " "$work/catalog.entries" | cut -d' ' -f2-)"
	fi
done <"$work/kinds"
extra=$(cut -d' ' -f1 "$work/catalog.entries" | grep -v -x -F -f <(cut -d' ' -f2 "$work/kinds"))
check "catalog has no entry for a MESSAGE_ID the program does not use${extra:+ ($extra)}" test -z "$extra"
check "catalog has one entry per MESSAGE_ID (no duplicates)" \
	test "$(cut -d' ' -f1 "$work/catalog.entries" | sort | uniq -d | wc -l)" -eq 0
journald_read -x PFTLS_EVENT=propagation-alert >"$work/explained" 2>&1
check "journalctl -x explains an entry with its fields filled in" \
	grep -q "Subject: DNS server 127.54.0.2:53 still misses the new TLSA records" "$work/explained"

# ---- without a journal ----
# Expected stderr line of each event, from what emit-all says it sent.
expected_lines() {
	local i=0 name id prio phase roll spki server
	while read -r _ name id prio phase roll spki server; do
		printf 'pftls-rolld: %s: %s: test event %s number %d [phase=%s rollover=%s spki=%s%s]\n' \
			"$(prio_name "$prio")" "$name" "$name" "$i" "$phase" "$roll" "$spki" \
			"$([ "$server" = - ] || echo " server=$server")"
		i=$((i + 1))
	done <"$work/sent"
}
expected_lines >"$work/expected.stderr"

# No socket at all: a fresh, empty /run/systemd in a nested namespace.
unshare --mount --propagation private -- sh -c \
	'mount -t tmpfs tmpfs /run/systemd && exec "$0" emit-all' "$bin" \
	>/dev/null 2>"$work/nosocket.stderr"
rc=$?
check "without a journal socket every event still succeeds (exit status 0)" test "$rc" -eq 0
if cmp -s "$work/expected.stderr" "$work/nosocket.stderr"; then
	pass "without a journal socket each event is one stderr line with every field"
else
	fail "without a journal socket: stderr differs: $(diff "$work/expected.stderr" "$work/nosocket.stderr" | head -4 | tr '\n' '|')"
fi

# A socket left behind by a journald that died: the entries are refused,
# reported, and still not lost.
journald_stop
"$bin" emit-all >/dev/null 2>"$work/dead.stderr"
rc=$?
check "with a dead journald the refusal is reported (exit status 1)" test "$rc" -eq 1
check "with a dead journald each event still reaches stderr" \
	test "$(grep -c -x -F -f "$work/expected.stderr" "$work/dead.stderr")" -eq "$nkinds"
