#!/bin/bash
# tests/integ/startup.sh - what pftls-roll loads at start-up.
#
# Owns the check that the command line binary records no libsystemd among
# its NEEDED libraries, nor loads libgcrypt, liblzma, libzstd (which
# libsystemd pulls in) through another: its
# journal entries and D-Bus reloads load libsystemd on first use
# (daemon/sd_lazy.c), so a subcommand such as output-server-tlsa loads
# only libssl, libcrypto, libldns and libc.  The daemon still links it
# (sd-event, sd_notify).  A saving measured in bench/sections/15-cli-
# startup.sh, checked here without timing so it cannot regress silently.
# No servers; runs in a second.
set -u
cd "$(dirname "$0")/../.." || exit 1

B=${PFTLS_BUILD:-build}
ROLL=$B/pftls-roll
ROLLD=$B/pftls-rolld
pass() { echo "PASS: startup: $1"; }
fail() { echo "FAIL: startup: $1: $2"; }
failed=0
check() { # NAME COMMAND...
	local name=$1; shift
	if "$@"; then pass "$name"; else fail "$name" "check failed: $*"; failed=1; fi
}

for b in "$ROLL" "$ROLLD"; do
	[ -x "$b" ] || { fail setup "$b is not built (run make)"; exit 1; }
done
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' '; }
cli=$(needed "$ROLL")
daemon=$(needed "$ROLLD")
echo "# pftls-roll NEEDED: $cli"
echo "# pftls-rolld NEEDED: $daemon"
check "pftls-roll does not link libsystemd" eval '! grep -q libsystemd <<<"$cli"'
check "pftls-roll links libcrypto" grep -q 'libcrypto\.so' <<<"$cli"
check "pftls-rolld links libsystemd (sd-event, sd_notify)" grep -q 'libsystemd\.so' <<<"$daemon"

# Nor anything it loads: ldd resolves the whole tree.
tree=$(ldd "$ROLL")
check "nothing pftls-roll loads at start-up needs libsystemd, libgcrypt, liblzma or libzstd" \
	eval '! grep -Eq "libsystemd|libgcrypt|liblzma|libzstd" <<<"$tree"'

# And a run of output-server-tlsa loads no libsystemd on the way either
# (LD_DEBUG lists every object the loader opens, dlopen's included).
work=$(mktemp -d /tmp/pftls-startup.XXXXXX) || exit 1
trap 'rm -rf "$work"' EXIT
cp tests/fuzz/corpus/pem_key/ec-p256-sec1.pem "$work/key.pem"
LD_DEBUG=files "$ROLL" -C "$work" output-server-tlsa -h mx.example.test "$work/key.pem" \
	>"$work/out" 2>"$work/ld"
rc=$?
check "output-server-tlsa -h HOST KEY exits 0" test "$rc" -eq 0
check "output-server-tlsa prints one TLSA record" \
	grep -Eq '^_25\._tcp\.mx\.example\.test\. IN TLSA 3 1 1 [0-9a-f]{64}$' "$work/out"
check "output-server-tlsa loads no libsystemd" eval '! grep -q "file=libsystemd" "$work/ld"'
exit $failed
