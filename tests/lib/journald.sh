# tests/lib/journald.sh - a private systemd-journald for integration tests,
# sourced by bash test scripts.  libsystemd's journal socket path is fixed
# (/run/systemd/journal/socket), so the test runs in its own mount namespace
# with tmpfs on /run/systemd and /run/log: the unmodified programs under test
# log into a journald that only this test sees, and the host's /run is never
# touched.  Everything mounted disappears with the namespace.
#
#   . tests/lib/journald.sh
#   journald_enter_ns "$0" "$@"   # first: re-runs the script in a new mount
#                                 # namespace (once; a no-op inside it)
#   journald_start WORKDIR        # start journald; its own log in WORKDIR
#   journald_sync                 # everything sent so far is readable
#   journald_read ARGS...         # journalctl -D <journal> --no-pager ARGS
#   journald_catalog WORKDIR FILE...  # install catalog FILEs for journalctl -x
#   journald_stop                 # stop it (also done by journald_cleanup)
#
# journald_start sets JOURNALD_PID and JOURNALD_DIR.  journald runs with
# --pdeathsig KILL, so it cannot outlive a test that is killed.

JOURNALD_BIN=${JOURNALD_BIN:-/lib/systemd/systemd-journald}
JOURNALD_PID=
JOURNALD_DIR=/run/log/journal

# Re-execute the calling script inside a private mount namespace.
journald_enter_ns() {
	local script=$1
	shift
	[ "${PFTLS_JOURNALD_NS:-}" = 1 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "FAIL: $(basename "$script"): needs root (mount namespace for journald)"
		exit 1
	fi
	PFTLS_JOURNALD_NS=1 exec unshare --mount --propagation private -- bash "$script" "$@"
}

# Start journald on fresh tmpfs mounts.  Returns non-zero when it does not
# come up within 5 s (its log is then in WORKDIR/journald.log).
journald_start() {
	local work=$1 i
	[ "${PFTLS_JOURNALD_NS:-}" = 1 ] || { echo "journald_start: not in a namespace" >&2; return 1; }
	mount -t tmpfs -o mode=0755 tmpfs /run/systemd || return 1
	mount -t tmpfs -o mode=0755 tmpfs /run/log || return 1
	mkdir -p /run/systemd/journald.conf.d
	# A drop-in on our tmpfs: volatile storage, no rate limit (tests log
	# bursts), and nothing read from or forwarded to the host (kmsg,
	# syslog, console, wall, audit).
	cat >/run/systemd/journald.conf.d/pftls-test.conf <<-'EOF'
	[Journal]
	Storage=volatile
	RateLimitIntervalSec=0
	ReadKMsg=no
	Audit=no
	ForwardToSyslog=no
	ForwardToKMsg=no
	ForwardToConsole=no
	ForwardToWall=no
	EOF
	SYSTEMD_LOG_TARGET=console setpriv --pdeathsig KILL -- "$JOURNALD_BIN" \
		>"$work/journald.log" 2>&1 </dev/null &
	JOURNALD_PID=$!
	for i in $(seq 100); do
		[ -S /run/systemd/journal/socket ] && return 0
		kill -0 "$JOURNALD_PID" 2>/dev/null || break
		sleep 0.05
	done
	return 1
}

journald_sync() {
	journalctl --sync
}

journald_read() {
	journalctl -D "$JOURNALD_DIR" --no-pager "$@"
}

# Build a catalog database from FILEs under WORKDIR/catalog-root and make it
# the one journalctl -x uses (a bind mount seen only in this namespace).
journald_catalog() {
	local work=$1 root
	shift
	root=$work/catalog-root
	mkdir -p "$root/usr/lib/systemd/catalog" "$root/var/lib/systemd/catalog"
	cp "$@" "$root/usr/lib/systemd/catalog/" || return 1
	journalctl --root="$root" --update-catalog || return 1
	mount --bind "$root/var/lib/systemd" /var/lib/systemd
}

journald_stop() {
	[ -n "$JOURNALD_PID" ] || return 0
	kill "$JOURNALD_PID" 2>/dev/null
	wait "$JOURNALD_PID" 2>/dev/null
	JOURNALD_PID=
}
