#!/bin/bash
# tests/integ/netproc_secret.sh - the network process, which parses what DNS
# servers send, never holds the TSIG secret (netproc.h, net_sign.h); shown
# by reading process memory, against a real DNSSEC-signing BIND primary
# that takes TSIG-signed updates only, on 127.67.0.x.
#   - the update server is reached over a slow link (tests/lib/udp_delay.py,
#     +1.5 s a round trip), so each update takes seconds, during which the
#     privileged process holds the secret;
#   - for the command line's pftls-roll publish, the daemon's rollover and a
#     foreground pftls-roll now: tests/lib/memscan.py reads every readable
#     mapping of the privileged process through /proc/PID/mem until it
#     finds the secret's decoded octets there (the positive control), then
#     the network process's, then the privileged process's again (still
#     there: the network process was read while the secret was in use);
#     the network process holds neither the octets nor their base64 text,
#     while the same read finds the key's name in it (its heap was read);
#   - BIND serves the records afterwards: the updates were signed and
#     accepted; after the daemon's update neither of its processes holds a
#     copy (the key is loaded for each update and wiped after);
#   - reading memory needs ptrace permission: the network process is not
#     dumpable, so a process with its own uid cannot read it, and root
#     reads it only by CAP_SYS_PTRACE (which this test has; no Yama here).
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib/bind.sh
. tests/lib/postfix_instance.sh
B=${PFTLS_BUILD:-$ROOT/build}
PFTLS=$B/pftls-roll
ROLLD=$B/pftls-rolld
NET=127.67.0
# The slow link holds the update open while the memory of both processes is
# read.  A sanitizer build's network process is ~320 MB to read, which on a
# loaded machine outlasts 1.5 s (the positive control then sees the update
# over); it gets a longer window.
DELAY_MS=1500
nm -D "$PFTLS" 2>/dev/null | grep -q __asan_init && DELAY_MS=5000

. tests/lib/dns_common.sh # pass, fail, check, PY3

if [ "$(id -u)" -ne 0 ]; then
	fail "netproc_secret: needs root (the network process drops root's privileges)"
	exit 1
fi
D=$(mktemp -d /tmp/pftls-npsecret.XXXXXX)
chmod 755 "$D"
DAEMON_PID= PROXY_PID= FG_PID=
cleanup() {
	[ -n "$FG_PID" ] && kill "$FG_PID" 2>/dev/null && wait "$FG_PID" 2>/dev/null
	[ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
	[ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null && wait "$PROXY_PID" 2>/dev/null
	pfi_stop "$D/postfix"
	bind_stop
	rm -rf "$D"
}
trap cleanup EXIT

# ---- the sandbox -----------------------------------------------------------
bind_start "$D/bind" "$NET" >/dev/null || { fail "BIND starts on $NET.1-3"; exit 1; }
bind_addr_add "$NET.4" && bind_addr_add "$NET.9" || { fail "addresses $NET.4, $NET.9 on lo"; exit 1; }
"$PY3" tests/lib/udp_delay.py "$NET.4" 53 "$NET.1" 53 "$DELAY_MS" 300 >"$D/proxy.out" 2>&1 &
PROXY_PID=$!
for _ in $(seq 50); do grep -q ready "$D/proxy.out" && break; sleep 0.1; done
check "the slow link to the primary ($NET.4, +$DELAY_MS ms) answers for the zone" \
	eval '[ -n "$(dig +norec +short +time=5 +tries=1 @"$NET.4" "$BIND_ZONE" SOA)" ]'
pfi_create "$D/postfix" "$NET.9" mx.example.test
ETC=$D/postfix/etc
"$PFTLS" -C "$ETC" new-server-key >/dev/null 2>&1
key=$(ls "$ETC"/key-*.pem) cert=$(ls "$ETC"/cert-*.pem)
"$PFTLS" -C "$ETC" deploy-server-cert "$cert" "$key" >/dev/null 2>&1
pfi_start "$D/postfix" || { fail "Postfix starts on $NET.9"; exit 1; }

conf() { # conf FILE STATE_DIR
	{
		cat "$D/bind/pftls-roll.cf.part"
		cat <<EOF
dns_update_server = $NET.4
postfix_config_directory = $ETC
key_algorithms = rsa
tlsa_hostnames = mx.example.test
publish_safety = 1s
retire_delay = 3s
verify_endpoints = $NET.9:25
state_directory = $2
rollover_scheme = on-demand
control_socket = $2/control
EOF
	} >"$1"
}
conf "$D/pftls-roll.cf" "$D/state"
conf "$D/fg.cf" "$D/fg-state"
# Each question may take the slow link's round trip and more.
export PFTLS_DNS_TIMEOUT_MS=6000

# What to look for: the secret as the key file has it (base64) and decoded,
# and the key's name, which the network process must hold.
KEYFILE=$D/bind/keys/pftls.key
b64=$(sed -n 's/.*secret "\([^"]*\)".*/\1/p' "$KEYFILE")
dec_hex=$(printf '%s' "$b64" | base64 -d | od -An -v -tx1 | tr -d ' \n')
b64_hex=$(printf '%s' "$b64" | od -An -v -tx1 | tr -d ' \n')
name_hex=$(printf 'pftls-key' | od -An -v -tx1 | tr -d ' \n')
check "the secret to look for: ${#dec_hex} hex digits decoded, ${#b64} base64 characters" \
	test "${#dec_hex}" -eq 64 -a "${#b64}" -eq 44

# A sanitizer build's shadow memory (terabytes, never holding data) is the
# only kind of region memscan.py skips; in any other build none may be.
nm -D "$PFTLS" 2>/dev/null | grep -q __asan_init && MAY_SKIP=1 || MAY_SKIP=0
# scan PID: "DECODED BASE64 NAME BYTES_READ", the counts in PID's memory;
# BYTES_READ is 0 when a region was skipped that may not be.
scan() {
	"$PY3" tests/lib/memscan.py "$1" dec="$dec_hex" b64="$b64_hex" name="$name_hex" 2>/dev/null |
		awk -v may="$MAY_SKIP" '{ v[$1] = $2; if ($1 == "read") skip = $5 }
			END { print v["dec"] + 0, v["b64"] + 0, v["name"] + 0,
				(skip > 0 && !may) ? 0 : v["read"] + 0 }'
}
netproc_of() {
	local c
	for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		[ "$(cat /proc/"$c"/comm 2>/dev/null)" = pftls-netproc ] && echo "$c"
	done
}
# during LABEL PID: wait (at most 60 s) until process PID holds the decoded
# secret, read its network process, then PID again; check what was found.
during() {
	local label=$1 pid=$2 np before="0 0 0 0" now after i
	for ((i = 0; i < 600; i++)); do
		np=$(netproc_of "$pid")
		before=$(scan "$pid")
		[ "${before%% *}" -gt 0 ] && [ -n "$np" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	now=$(scan "${np:-0}")
	after=$(scan "$pid")
	read -r bd bb _ _ <<<"$before"
	read -r nd nb nn nr <<<"$now"
	read -r ad _ _ _ <<<"$after"
	check "$label: the privileged process (pid $pid) holds the secret's octets while it updates (positive control: $bd copies before the network process was read, $ad after)" \
		test "$bd" -gt 0 -a "$ad" -gt 0
	check "$label: and not the key file's base64 text, wiped once parsed ($bb found)" \
		test "$bb" -eq 0
	check "$label: its network process (pid ${np:-none}) was read: $nr octets, the key's name found $nn times" \
		test -n "$np" -a "$nr" -gt 1000000 -a "$nn" -gt 0
	check "$label: no copy of the secret's octets in the network process's memory ($nd found)" \
		test -n "$np" -a "$nd" -eq 0
	check "$label: nor of its base64 text ($nb found)" test -n "$np" -a "$nb" -eq 0
	NP=$np
}
spki=$(spki_hex "$key")

# ---- pftls-roll publish: the command line's network process ------------------------
"$PFTLS" -c "$D/pftls-roll.cf" publish "$key" >"$D/publish.out" 2>&1 &
FG_PID=$!
during "publish" "$FG_PID"
# How the memory could be read: not by the network process's own uid.
if [ -n "$NP" ]; then
	np_uid=$(awk '/^Uid:/ { print $2 }' /proc/"$NP"/status)
	out=$(setpriv --reuid="$np_uid" --regid="$np_uid" --clear-groups --inh-caps=-all \
		--bounding-set=-all -- "$PY3" tests/lib/memscan.py "$NP" x=00 2>&1)
	rc=$?
	check "publish: a process with the network process's own uid $np_uid cannot read its memory (not dumpable; exit $rc: $out)" \
		eval '[ "$np_uid" != 0 ] && [ "$rc" -eq 2 ] && grep -q "Permission denied" <<<"$out"'
fi
wait "$FG_PID"
rc=$?
FG_PID=
check "publish: exit 0, the record added ($(grep -m1 added "$D/publish.out"))" \
	eval '[ "$rc" -eq 0 ] && grep -q "1 added" "$D/publish.out"'
check "publish: the primary serves it: the TSIG-signed update was accepted" \
	eval 'bind_tlsa "$NET.1" _25._tcp.mx.example.test | grep -q "$spki"'
check "publish: no notice of running without a network process" \
	eval '! grep -q "notice:" "$D/publish.out"'

# ---- the daemon's rollover -------------------------------------------------------------
"$ROLLD" -c "$D/pftls-roll.cf" >"$D/rolld.log" 2>&1 &
DAEMON_PID=$!
for _ in $(seq 100); do [ -S "$D/state/control" ] && break; sleep 0.1; done
check "the daemon starts with a network process ($(netproc_of "$DAEMON_PID"))" \
	eval '[ -S "$D/state/control" ] && [ -n "$(netproc_of "$DAEMON_PID")" ]'
"$PFTLS" -c "$D/pftls-roll.cf" now >"$D/now.out" 2>&1
check "pftls-roll now: the daemon starts a rollover ($(tail -1 "$D/now.out"))" test $? -eq 0
during "daemon" "$DAEMON_PID"
for _ in $(seq 300); do grep -q "records-published" "$D/rolld.log" && break; sleep 0.2; done
check "daemon: it published the next key's record ($(grep -o 'records-published: [^[]*' "$D/rolld.log"))" \
	grep -q "records-published: 1 TLSA record added" "$D/rolld.log"
newkey=$(ls -t "$ETC"/key-*.pem | head -1)
check "daemon: the primary serves the new key's record: the TSIG-signed update was accepted" \
	eval '[ "$newkey" != "$key" ] && bind_tlsa "$NET.1" _25._tcp.mx.example.test | grep -q "$(spki_hex "$newkey")"'
read -r pd pb _ _ <<<"$(scan "$DAEMON_PID")"
read -r nd nb nn nr <<<"$(scan "${NP:-0}")"
check "daemon: after its update, the daemon holds no copy of the secret ($pd decoded, $pb base64): the key is wiped" \
	test "$pd" -eq 0 -a "$pb" -eq 0
check "daemon: nor does its network process ($nd, $nb; $nr octets read)" \
	test -n "$NP" -a "$nd" -eq 0 -a "$nb" -eq 0 -a "$nr" -gt 1000000
check "daemon: the same network process (pid ${NP:-none}) did it: no exchange failed" \
	test "$(netproc_of "$DAEMON_PID")" = "$NP"
kill "$DAEMON_PID" && wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=

# ---- a foreground pftls-roll now (no daemon) -------------------------------------------
"$PFTLS" -c "$D/fg.cf" now >"$D/fg.out" 2>&1 &
FG_PID=$!
during "foreground now" "$FG_PID"
kill "$FG_PID" 2>/dev/null && wait "$FG_PID" 2>/dev/null
FG_PID=

for f in publish.out now.out rolld.log fg.out; do
	check "no secret in $f" eval '! grep -qF -e "$b64" "$D/$f"'
done
