#!/bin/bash
# tests/integ/acme_unit.sh - the certificate_command under the shipped unit
# (SPEC.md 8, last point): pftls-rolld run by a REAL systemd (Debian's
# systemd 252 as a user manager on a private dbus-daemon, as in
# reload_unit.sh; PID 1 here is not systemd) from units/pftls-rolld.service
# itself, every [Service] line of it, with a test drop-in that only points
# the unit at this test's directories; uacme through examples/acme/ against
# pebble (tests/lib/pebble.sh) and the test BIND; Postfix reloaded through a
# unit over D-Bus (reload_unit), as the shipped unit requires.
#   1. without the drop-in OPERATIONS.md 11 documents, the command cannot
#      write its state directory (ProtectSystem=strict): certificate-refused
#      quoting the client's "Read-only file system", nothing deployed, the
#      self-signed certificates stay live;
#   2. with the drop-in (ReadWritePaths= for ACME_STATE_DIR) and a restart,
#      the daemon replaces both self-signed certificates with pebble's for
#      the same keys (its first renewal), deployed, reloaded through systemd
#      and verified; both live chains verify against pebble's root for the
#      MX;
#   3. the command ran inside the sandbox: no new privileges, a seccomp
#      filter, the unit's bounding set, / mounted read-only, a private /tmp
#      (what a spy in front of the wrapper records from /proc/self).
# What this machine cannot do, and the drop-in replaces: ProtectHome=yes
# (systemd's namespace setup fails, exit 226/NAMESPACE, under this root
# user manager; ProtectHome=tmpfs works and hides /root and /home as well).
# Everything lives on a tmpfs at /srv in the test's mount namespace: the
# unit's PrivateTmp=yes hides /tmp.  BIND on 127.67.0.1-3, Postfix on
# 127.67.0.9, pebble on 127.67.0.100.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib/journald.sh
journald_enter_ns "$0" "$@"
. tests/lib/rollover.sh
. tests/lib/pebble.sh
. tests/lib/acme.sh
. tests/lib/user_manager.sh
ROLLD=${PFTLS_DAEMON:-$ROOT/build/pftls-rolld}

for p in pebble uacme dbus-daemon busctl; do
	command -v "$p" >/dev/null || { fail "$p is installed (tools/install-deps)"; exit 1; }
done
[ -x /lib/systemd/systemd ] || { fail "systemd is installed"; exit 1; }
mount -t tmpfs -o mode=0755 tmpfs /srv || { fail "a tmpfs on /srv in the test's mount namespace"; exit 1; }
W=$(mktemp -d /srv/acme_unit.XXXXXX)
chmod 755 "$W"
CG=pftls-acme-unit.$$
SD_PID= DBUS_PID=
cleanup() {
	local p
	[ -n "$SD_PID" ] && systemctl --user stop pftls-rolld.service >/dev/null 2>&1
	for p in $SD_PID $DBUS_PID; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	pebble_stop
	roll_cleanup
	um_cgroup_remove "$CG"
	rm -rf "$W"
}
trap cleanup EXIT

# ---- BIND, Postfix, pebble ----------------------------------------------------
ROLL_WORK=$W ROLL_NET=127.67.0 ROLL_ADDR=127.67.0.9 ROLL_HOST=mx.example.test
ROLL_NAME=_25._tcp.$ROLL_HOST ROLL_PF=$W/pf/etc ROLL_STATE=$W/state ROLL_CF=$W/roll.cf
if ! bind_start "$W/bind" "$ROLL_NET" >/dev/null || ! bind_addr_add "$ROLL_ADDR" ||
	! roll_instance "$W/pf" "$ROLL_ADDR"; then
	fail "sandbox starts (BIND on $ROLL_NET.1-3, Postfix on $ROLL_ADDR)"
	exit 1
fi
roll_publish_old 5 || { fail "the keys' records published with nsupdate"; exit 1; }
PEB=$W/pebble
bind_addr_add "$ROLL_NET.100" && pebble_start "$PEB" "$ROLL_NET.100" "$ROLL_NET.1:53" ||
	{ fail "pebble starts: $(tail -3 "$PEB/pebble.log" 2>/dev/null)"; exit 1; }

ACME=$W/acme
mkdir -p "$ACME/state"
cat >"$ACME/acme.conf" <<CONF
ACME_URL=$PEBBLE_URL
ACME_EMAIL=hostmaster@example.test
ACME_STATE_DIR=$ACME/state
ACME_NSUPDATE_SERVER=$ROLL_NET.1
ACME_NSUPDATE_KEY=$W/bind/keys/acme.key
ACME_DNS_WAIT="$ROLL_NET.1"
ACME_DNS_TTL=5
CONF
# The spy: what the command's process is given by the sandbox, from
# /proc/self (nothing is written anywhere but its log, if it can).
cat >"$ACME/spy" <<'SPY'
#!/bin/sh
{
	grep -E '^(NoNewPrivs|Seccomp|CapBnd):' /proc/self/status | tr -d '\t'
	echo "root: $(awk '$5 == "/" { print $6 }' /proc/self/mountinfo | tail -1 | cut -d, -f1)"
	echo "tmp: $(ls -A /tmp | wc -l)"
	echo --
} >>"$SPY_LOG" 2>/dev/null
exec "$@"
SPY
sed -i "2i SPY_LOG=$ACME/state/spy.log" "$ACME/spy"
chmod 755 "$ACME/spy"
roll_conf "certificate_command = $ACME/spy $ROOT/examples/acme/acme-uacme $ACME/acme.conf" \
	"certificate_ca_file = $PEB/root.pem" "reload_unit = pfr-postfix.service" \
	"control_socket = $W/rt/pftls-roll/control"

# ---- a real systemd: a user manager on a private bus ----------------------------
um_prepare "$W" || { fail "tmpfs on /run/systemd in the test's mount namespace"; exit 1; }
U=$UM_UNITS
mkdir -p -m 0700 "$XDG_RUNTIME_DIR" && mkdir -p "$U/pftls-rolld.service.d"
cat >"$U/pfr-postfix.service" <<EOF
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/true
ExecReload=/usr/sbin/postfix -c $ROLL_PF reload
EOF
# The shipped unit, word for word but for the daemon's path and its
# condition on /etc/pftls-roll.
sed -e "s|^ExecStart=.*|ExecStart=$ROLLD -c $ROLL_CF|" -e '/^ConditionPathExists=/d' \
	units/pftls-rolld.service >"$U/pftls-rolld.service"
mkdir -p -m 0700 "$ROLL_STATE" # a path in ReadWritePaths= must exist
cat >"$U/pftls-rolld.service.d/50-test.conf" <<EOF
# This test's directories in place of /etc/postfix and /var/lib/pftls-roll,
# its bus, its log; ProtectHome=yes cannot be set up here (see the top).
[Service]
Environment=DBUS_SYSTEM_BUS_ADDRESS=$BUS
ReadWritePaths=$ROLL_PF $ROLL_STATE
StandardError=append:$W/rolld.err
ProtectHome=tmpfs
EOF
um_start "$W" "$CG" ||
	{ fail "systemd runs as a user manager: $(tail -3 "$W/systemd.log")"; exit 1; }
systemctl --user start pfr-postfix.service ||
	{ fail "the Postfix reload unit starts"; exit 1; }

certs() { acme_certs; }
wait_for() { # TENTHS CMD...
	local n=$1 i
	shift
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
live_verify() { acme_live_verify "$1" "$PEB/root.pem"; }

# ---- 1. no drop-in: the client's state directory is read-only ---------------------
CERTS0=$(certs)
systemctl --user start pftls-rolld.service
if ! systemctl --user is-active -q pftls-rolld.service; then
	fail "1: pftls-rolld runs under the shipped unit: $(systemctl --user show -p Result,ExecMainStatus --value pftls-rolld.service | paste -sd' '); $(tail -2 "$W/rolld.err" 2>/dev/null | paste -sd' ' | cut -c1-300)"
	exit 1
fi
pass "1: pftls-rolld runs under the shipped unit (active)"
PID=$(systemctl --user show -p MainPID --value pftls-rolld.service)
st=$(grep -E '^(NoNewPrivs|Seccomp|CapBnd):' "/proc/$PID/status" 2>/dev/null | tr -d '\t' | paste -sd' ')
check "1: the daemon has no new privileges, a seccomp filter, the unit's bounding set ($st)" \
	test "$st" = "CapBnd:000000000000000b NoNewPrivs:1 Seccomp:2"
wait_for 300 grep -q 'certificate-refused' "$W/rolld.err"
ref=$(grep -m1 'certificate-refused' "$W/rolld.err")
echo "# ${ref:0:400}"
[ -n "$ref" ] || { head -c 2000 "$W/rolld.err" | sed 's/^/#   rolld: /'; exit 1; }
check "1: certificate-refused quotes the client: its state directory is on a read-only file system" \
	grep -q 'certificate-refused.*Read-only file system' <<<"$ref"
check "1: nothing deployed: main.cf names the self-signed certificates still" test "$(certs)" = "$CERTS0"
systemctl --user stop pftls-rolld.service

# ---- 2. the drop-in of OPERATIONS.md 11 ---------------------------------------------
cat >"$U/pftls-rolld.service.d/acme.conf" <<EOF
[Service]
ReadWritePaths=$ACME/state
EOF
systemctl --user daemon-reload
: >"$W/rolld.err"
t0=$(date +%s)
systemctl --user start pftls-rolld.service
renewed() { [ "$(grep -c 'certificate-renewed' "$W/rolld.err")" -ge 2 ]; }
wait_for 1200 renewed
echo "# both certificates CA-issued under the unit in $(($(date +%s) - t0)) s"
grep -E 'certificate-refused|verification-failed' "$W/rolld.err" | head -3 | cut -c1-300 | sed 's/^/#   /'
check "2: with the drop-in, the daemon deploys pebble's certificates for both keys (certificate-renewed twice)" renewed
check "2: main.cf names CA files of ours, the same keys" \
	bash -c '[[ "$0" == */cert-*-ca-*.pem\ */eccert-*-ca-*.pem ]]' "$(certs)"
check_eq "2: the live RSA certificate chains to pebble's root and names the MX" OK "$(live_verify rsa)"
check_eq "2: the live ECDSA certificate chains to pebble's root and names the MX" OK "$(live_verify ecdsa)"
check "2: no verification failed, nothing rolled back" \
	bash -c '! grep -q -e verification-failed -e rollback- "$0"' "$W/rolld.err"

# ---- 3. what the command's process was given -----------------------------------------
S=$(awk '/^--$/ { n++ } END { print n + 0 }' "$ACME/state/spy.log" 2>/dev/null)
last=$(awk 'BEGIN { RS = "--\n" } { r = $0 } END { printf "%s", r }' "$ACME/state/spy.log" 2>/dev/null | paste -sd' ')
echo "# the command as the spy saw it ($S runs logged): $last"
check "3: the command ran with no new privileges, a seccomp filter, the unit's bounding set" \
	grep -q 'NoNewPrivs:1 Seccomp:2' <<<"$last"
check "3: ... and the unit's bounding set (CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER)" \
	grep -q 'CapBnd:000000000000000b' <<<"$last"
check "3: ... / mounted read-only (ProtectSystem=strict), its own empty /tmp (PrivateTmp)" \
	grep -q 'root: ro tmp: 0' <<<"$last"
