#!/bin/bash
# bench/sections/30-dns.sh - the DNS layer's benchmark; prints one Markdown
# section on stdout (bench/run collects it), progress on stderr.
# Runs alone too: starts its own BIND (tests/lib/bind.sh) on 127.53.0.0/24,
# needs root (loopback addresses), hyperfine, and a built build/pftls-roll.
#
#  1. 1,000 TLSA records (500 names x 2 keys) published to the signing
#     primary and confirmed on all three servers, runs interleaved (a reset
#     before each: everything withdrawn, the secondaries caught up):
#     - ours: pftls-roll publish + propagation --wait (with OLD_BUILD=DIR
#       also DIR/pftls-roll, another checkout's build; NEW_BUILD=DIR
#       replaces this checkout's build/ as "new");
#     - the floor (bench/dns_floor.py): the same 1,000 records as ONE
#       pre-built, name-compressed, TSIG-signed UPDATE over TCP, then every
#       server's SOA polled every 0.1 s and, once it moved, every name asked
#       once (both records and an RRSIG); timed inside the script, from
#       the send to the last server verified (no process start-up);
#     - floor+reads (dns_floor.py --with-reads): the floor plus the reads
#       pftls-roll's contract (SPEC) requires and the floor skips: before
#       the UPDATE, every owner's TLSA RRset and the zone's SOA read from
#       the update server, TSIG-signed (the compare-and-swap state; the
#       UPDATE then carries an "RRset does not exist" prerequisite for every
#       owner), and every read of the update server signed (its confirming
#       read too).  Still no DNSSEC validation, no discovery, no process
#       start-up: what it adds to the floor is the price of those reads;
#     - nsupdate (which does not compress names, so two messages) plus a
#       dig loop until every server serves every record.
#     PROFILE=1 adds one run of ours under strace -f -tt (output kept in
#     $PROFILE_DIR, default /tmp/pftls-bench-dns-profile).
#  2. One propagation round over 16 check server addresses of which 4 never
#     answer, against a round over 1 server that never answers: asked
#     concurrently, both should cost about one timeout (2 s by default).
#
# RUNS (default 5) sets the runs per measurement.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$root/tests/lib/bind.sh"
. "$root/tests/lib/dns_common.sh"
RUNS=${RUNS:-5}
NET=127.53.0
# 11 more addresses for ns2, 4 silent ones.
EXTRA=$(for i in $(seq 40 50); do printf '%s.%s ' "$NET" "$i"; done)
SILENT="$NET.60 $NET.61 $NET.62 $NET.63"
T=$(mktemp -d /tmp/pftls-bench-dns.XXXXXX)
silent_pid=""
cleanup() {
	[ -n "$silent_pid" ] && kill "$silent_pid" 2>/dev/null && wait "$silent_pid" 2>/dev/null
	bind_stop
	rm -rf "$T"
}
trap cleanup EXIT

BIND_EXTRA_ADDRS=$EXTRA bind_start "$T/bind" >&2 || { echo "30-dns.sh: BIND did not start" >&2; exit 1; }
for a in $SILENT; do bind_addr_add "$a"; done
# Servers that never answer: UDP sockets bound and never read (bounded life).
"$PY3" - $SILENT <<'PY' &
import socket, sys, time
socks = []
for a in sys.argv[1:]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((a, 53))
    socks.append(s)
time.sleep(1800)
PY
silent_pid=$!

PF=$T/postfix
mkdir -p "$PF"
touch "$PF/main.cf" "$PF/master.cf"
K1=$(new_key "$PF" eckey-20250101-000000.pem ec)
K2=$(new_key "$PF" eckey-20250102-000000.pem ec)
hosts=$(for i in $(seq 500); do printf 'host%d.example.test ' "$i"; done)
{
	cat "$T/bind/pftls-roll.cf.part"
	echo "postfix_config_directory = $PF"
	echo "tlsa_hostnames = $hosts"
} >"$T/big.cf"

# The same 1,000 records for nsupdate, and the names for dig.
h1=$(spki_hex "$K1")
h2=$(spki_hex "$K2")
half() {
	printf 'server %s.1\nzone example.test\n' "$NET"
	for i in $(seq "$1" "$2"); do
		printf 'update add _25._tcp.host%d.example.test. 5 IN TLSA 3 1 1 %s\n' "$i" "$h1"
		printf 'update add _25._tcp.host%d.example.test. 5 IN TLSA 3 1 1 %s\n' "$i" "$h2"
	done
	printf 'send\n'
}
half 1 250 >"$T/nsupdate1.txt"
half 251 500 >"$T/nsupdate2.txt"
for i in $(seq 250); do echo "_25._tcp.host$i.example.test TLSA"; done >"$T/names1.txt"
for i in $(seq 500); do echo "_25._tcp.host$i.example.test TLSA"; done >"$T/names.txt"
# The baseline waits for its first message to be served before sending the
# second: sent back to back, the second change hits BIND's inline-signing
# race (TEST-SERVERS.md) and is never served, and the loop never ends.
cat >"$T/baseline.sh" <<EOF
#!/bin/bash
# until_served SERVERS NAMES COUNT: dig until each server serves COUNT records.
until_served() {
	for round in \$(seq 150); do
		ok=1
		for s in \$1; do
			n=\$(dig @\$s +norec +short +time=1 +tries=1 -f \$2 | grep -c '^3 1 1 ')
			[ "\$n" -eq \$3 ] || { ok=0; break; }
		done
		[ \$ok -eq 1 ] && return 0
		sleep 0.2
	done
	return 1
}
nsupdate -k $T/bind/keys/pftls.key $T/nsupdate1.txt || exit 1
until_served $NET.1 $T/names1.txt 500 || exit 1
nsupdate -k $T/bind/keys/pftls.key $T/nsupdate2.txt || exit 1
until_served "$NET.1 $NET.2 $NET.3" $T/names.txt 1000
EOF
chmod +x "$T/baseline.sh"
# Between runs: withdraw everything, and wait until the secondaries agree.
cat >"$T/reset.sh" <<EOF
#!/bin/bash
$PFTLS -c $T/big.cf retire $K1 $K2 >/dev/null 2>&1
. $root/tests/lib/bind.sh
BIND_ZONE=example.test
s=\$(bind_serial $NET.1)
bind_wait_serial $NET.2 \$s && bind_wait_serial $NET.3 \$s
EOF
chmod +x "$T/reset.sh"

{
	cat "$T/bind/pftls-roll.cf.part"
	echo "postfix_config_directory = $PF"
	echo "tlsa_hostnames = mx.example.test"
	echo "dns_check_servers = $EXTRA $SILENT"
} >"$T/p16.cf"
{
	cat "$T/bind/pftls-roll.cf.part"
	echo "postfix_config_directory = $PF"
	echo "tlsa_hostnames = mx.example.test"
	echo "dns_check_servers = $NET.60"
} >"$T/p1.cf"
# The round over 1 silent server still asks the update server (always
# checked); so does the round over 16, which makes them comparable.

# The floor's inputs: the owners (the two records' hex: h1, h2).
for i in $(seq 500); do echo "_25._tcp.host$i.example.test."; done >"$T/owners.txt"
cat >"$T/ours.sh" <<'EOF'
#!/bin/bash
# ours.sh BUILD-DIR CF K1 K2 [SPLIT-FILE]: the one command pair an
# operator would run; with SPLIT-FILE, appends the seconds each took.
a=$(date +%s%N)
"$1/pftls-roll" -c "$2" publish "$3" "$4" >/dev/null || exit 1
b=$(date +%s%N)
"$1/pftls-roll" -c "$2" propagation --wait "$3" "$4" >/dev/null || exit 1
c=$(date +%s%N)
[ -n "${5:-}" ] && awk -v a="$a" -v b="$b" -v c="$c" 'BEGIN {printf "%.3f %.3f\n", (b - a) / 1e9, (c - b) / 1e9}' >>"$5"
exit 0
EOF
chmod +x "$T/ours.sh"
OLD_BUILD=${OLD_BUILD:-}
[ -n "$OLD_BUILD" ] && OLD_BUILD=$(cd "$OLD_BUILD" && pwd)
NEW_BUILD=$(cd "${NEW_BUILD:-$(dirname "$PFTLS")}" && pwd)
sides="new floor floor+reads baseline"
[ -n "$OLD_BUILD" ] && sides="old new floor floor+reads baseline"
# timed CMD...: the seconds (wall clock) CMD takes; fails when CMD does.
timed() {
	local a b
	a=$(date +%s%N)
	"$@" >/dev/null 2>"$T/timed.err" || { cat "$T/timed.err" >&2; return 1; }
	b=$(date +%s%N)
	awk -v a="$a" -v b="$b" 'BEGIN {printf "%.6f\n", (b - a) / 1e9}'
}
load0=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$T/pub.txt"
for ((run = 1; run <= RUNS; run++)); do
	order=$sides
	[ $((run % 2)) = 0 ] && order=$(tr ' ' '\n' <<<"$sides" | tac | paste -sd' ')
	for side in $order; do
		"$T/reset.sh" || { echo "30-dns.sh: reset failed" >&2; exit 1; }
		case $side in
		new) t=$(timed "$T/ours.sh" "$NEW_BUILD" "$T/big.cf" "$K1" "$K2" "$T/split.new") ;;
		old) t=$(timed "$T/ours.sh" "$OLD_BUILD" "$T/big.cf" "$K1" "$K2" "$T/split.old") ;;
		floor) t=$("$PY3" "$here/../dns_floor.py" "$T/bind/keys/pftls.key" example.test "$NET.1" 5 \
			"$h1,$h2" "$T/owners.txt" "$NET.1" "$NET.2" "$NET.3" 2>>"$T/floor.err") ;;
		# Its own err file: the report reads each floor's stamps apart.
		floor+reads) t=$("$PY3" "$here/../dns_floor.py" --with-reads "$T/bind/keys/pftls.key" \
			example.test "$NET.1" 5 "$h1,$h2" "$T/owners.txt" "$NET.1" "$NET.2" "$NET.3" \
			2>>"$T/floorreads.err") ;;
		baseline) t=$(timed "$T/baseline.sh") ;;
		esac
		[ -n "$t" ] || {
			echo "30-dns.sh: $side failed (run $run)" >&2
			tail -3 "$T/floor.err" >&2
			[ -e "$T/floorreads.err" ] && tail -3 "$T/floorreads.err" >&2
			exit 1
		}
		echo "bench: 1,000 records, run $run, $side: $t s" >&2
		echo "$side $t" >>"$T/pub.txt"
	done
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)
tail -1 "$T/floor.err" >&2
tail -1 "$T/floorreads.err" >&2
if [ -n "${PROFILE:-}" ]; then
	P=${PROFILE_DIR:-/tmp/pftls-bench-dns-profile}
	mkdir -p "$P"
	"$T/reset.sh"
	strace -f -tt -s 256 -xx -e trace=%network,%process,poll,clock_nanosleep,nanosleep,write,read \
		-o "$P/ours.strace" "$T/ours.sh" "$NEW_BUILD" "$T/big.cf" "$K1" "$K2"
	cp "$T/floor.err" "$P/floor.err"
	cp "$T/floorreads.err" "$P/floorreads.err"
	"$PY3" "$here/../strace_dns.py" "$P/ours.strace" >"$P/ours.phases.md"
	echo "bench: profile of ours in $P/ours.strace, its DNS phases in $P/ours.phases.md" >&2
fi
hyperfine -N -i --runs "$RUNS" --export-json "$T/prop.json" \
	-n round16 "$PFTLS -c $T/p16.cf propagation $K1" \
	-n round1 "$PFTLS -c $T/p1.cf propagation $K1" >&2 || exit 1
# Check the round over 16 really saw 12 answering and 4 silent servers.
"$PFTLS" -c "$T/p16.cf" propagation "$K1" >"$T/p16.out" 2>&1
answered=$(grep -Ec "^  .* (ok|missing records)$" "$T/p16.out")
silent=$(grep -c "no answer within" "$T/p16.out")

build_id() { git -C "$1/.." describe --always --dirty --abbrev=10 2>/dev/null || echo unknown; }
"$PY3" - "$T/pub.txt" "$T/prop.json" "$answered" "$silent" "$RUNS" "$load0" "$load1" \
	"$NEW_BUILD ($(build_id "$NEW_BUILD"))" "${OLD_BUILD:+$OLD_BUILD ($(build_id "$OLD_BUILD"))}" \
	"$T/split.new" "$T/split.old" "$T/floor.err" "$T/floorreads.err" <<'PY'
import json, re, statistics, sys
pub = {}
for line in open(sys.argv[1]):
    k, v = line.split()
    pub.setdefault(k, []).append(float(v))
prop = {r["command"]: r for r in json.load(open(sys.argv[2]))["results"]}
answered, silent, runs, load0, load1, new_id, old, split_new, split_old, floor_err, floorreads_err = sys.argv[3:14]
m = lambda r: r["median"]
med = {k: statistics.median(v) for k, v in pub.items()}
p, b, f, fr = med["new"], med["baseline"], med["floor"], med["floor+reads"]
r16, r1 = m(prop["round16"]), m(prop["round1"])
print("## DNS: publishing and propagation (bench/sections/30-dns.sh)\n")
print("Real BIND 9.18: signing primary (inline, dnssec-policy) and two")
print("secondaries on loopback; medians of %s runs, the 1,000-record runs" % runs)
print("interleaved (%s, reversed every other run), a reset before each." % ", ".join(pub))
print("Builds: new = %s%s." % (new_id, ", old = " + old if old else ""))
print("Load average (1, 5, 15 min) before the 1,000-record runs: %s; after: %s (2 cores, shared)." % (load0, load1))
print()
print("1,000 TLSA records (500 names x 2 keys) published and confirmed on 3 servers, each run (s):")
print()
n = len(pub["new"])
print("| side | " + " | ".join(str(i + 1) for i in range(n)) + " | median |")
print("|---|" + "---:|" * (n + 1))
label = {"old": "pftls-roll, old build", "new": "pftls-roll", "floor": "floor",
         "floor+reads": "floor + the reads SPEC requires", "baseline": "nsupdate + dig loop"}
for k in pub:
    print("| %s | %s | **%.2f** |" % (label[k], " | ".join("%.2f" % x for x in pub[k]), med[k]))
print()
print("| measurement | median |")
print("|---|---|")
print("| pftls-roll `publish` + `propagation --wait`: 1,000 TLSA records (500 names x 2 keys), confirmed on 3 servers | %.2f s |" % p)
if "old" in med:
    print("| the same, old build | %.2f s |" % med["old"])
print("| floor: the same 1,000 records as ONE pre-built, name-compressed, TSIG-signed UPDATE over TCP; every server's SOA polled every 0.1 s, then every name asked once (records + RRSIG); timed inside one process | %.2f s |" % f)
print("| **ratio pftls-roll / floor** (goal <= 1.2) | **%.2f** |" % (p / f))
if "old" in med:
    print("| ratio old build / floor | %.2f |" % (med["old"] / f))
print("| floor + the reads SPEC requires (state read before, TSIG on the update server's reads): the floor, plus every owner's TLSA RRset and the zone's SOA read TSIG-signed from the update server before the UPDATE (pipelined UDP), an \"RRset does not exist\" prerequisite per owner in the UPDATE, and the update server's confirming read TSIG-signed | %.2f s |" % fr)
print("| **ratio pftls-roll / floor+reads** | **%.2f** |" % (p / fr))
if "old" in med:
    print("| ratio old build / floor+reads | %.2f |" % (med["old"] / fr))
print("| nsupdate (2 messages: no name compression; the second sent once the first is served) + dig loop until all 3 servers serve all 1,000 | %.2f s |" % b)
print("| ratio nsupdate baseline / pftls-roll | %.2f |" % (b / p))
for side, fn in (("new", split_new), ("old build", split_old)):
    try:
        rows = [tuple(map(float, l.split())) for l in open(fn) if l.strip()]
    except OSError:
        continue
    if rows:
        print("| of pftls-roll (%s): `publish` / `propagation --wait` (medians; each run) | %.2f s / %.2f s (%s) |" % (
            side, statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows),
            ", ".join("%.2f / %.2f" % r for r in rows)))
# The floor's own stamps: when the signing primary's serial moved (BIND
# signing the 1,000 records: the part no client can shorten).
def stamps(fn, pattern):
    out = []
    try:
        for line in open(fn):
            mm = re.search(pattern, line)
            if line.startswith("dns_floor:") and mm:
                out.append(float(mm.group(1)))
    except OSError:
        pass
    return out
moved = stamps(floor_err, r"serial moved \S+ ([0-9.]+)")
if moved:
    print("| floor: the primary's serial moved (BIND signed the records) after the UPDATE was sent (median; each run) | %.2f s (%s) |" % (
        statistics.median(moved), ", ".join("%.2f" % v for v in moved)))
# floor+reads's clock starts before its state read: its serial moved that
# much later; the reads' own time is shown apart.
reads = stamps(floorreads_err, r"reads ([0-9.]+) s")
if reads:
    print("| floor+reads: the state read (500 TLSA + 1 SOA, TSIG-signed, from the update server) (median; each run) | %.3f s (%s) |" % (
        statistics.median(reads), ", ".join("%.3f" % v for v in reads)))
moved_r = stamps(floorreads_err, r"serial moved \S+ ([0-9.]+)")
if moved_r:
    print("| floor+reads: the primary's serial moved after the state read began (median; each run) | %.2f s (%s) |" % (
        statistics.median(moved_r), ", ".join("%.2f" % v for v in moved_r)))
print("| one `propagation` round, 16 check server addresses (%s answering, %s never answer) | %.2f s |" % (answered, silent, r16))
print("| one `propagation` round, 1 server that never answers (+ the update server) | %.2f s |" % r1)
print("| ratio 16-server round / 1-server round (concurrent: ~1; sequential would be ~4) | %.2f |" % (r16 / r1))
print()
print("Reproduce: `OLD_BUILD=/path/to/other/build netns-run bash bench/sections/30-dns.sh`")
print("(RUNS=5 by default; PROFILE=1 adds one strace -f -tt run of ours), or")
print("`netns-run bench/run --section 30-dns`.")
print()
PY
if [ -n "${PROFILE:-}" ]; then
	echo "### Profile of one run of ours (PROFILE=1: strace -f -tt, bench/strace_dns.py)"
	echo
	echo "Times from the first traced syscall of \`publish\` + \`propagation --wait\`"
	echo "under strace (slower than untraced, most in the IPC-heavy parts); gaps are"
	echo "stretches without any DNS message, with the syscalls made meanwhile."
	echo "The floor's own breakdown of its last run: $(tail -1 "$P/floor.err")"
	echo "floor+reads's: $(tail -1 "$P/floorreads.err")"
	echo
	cat "$P/ours.phases.md"
	echo
fi
