# tests/lib/user_manager.sh - a REAL systemd for the tests that need one
# (tests/integ/reload_unit.sh, acme_unit.sh): Debian's systemd binary run
# as a user manager (PID 1 here is not systemd) on a private dbus-daemon,
# in a cgroup subtree of its own, in the test's mount namespace (a tmpfs
# on /run/systemd).  Source it, then:
#
#   um_prepare DIR      tmpfs on /run/systemd; exports XDG_RUNTIME_DIR
#                       (DIR/rt), XDG_CONFIG_HOME (DIR/cfg); sets BUS (the
#                       bus address) and UM_UNITS (where user units go)
#   um_start DIR CG     the dbus-daemon (DBUS_PID) and the user manager
#                       (SD_PID, its output in DIR/systemd.log) in the cgroup
#                       CG of every hierarchy; exports
#                       DBUS_SESSION_BUS_ADDRESS; 0 once it owns
#                       org.freedesktop.systemd1 on the bus (um_owned)
#   um_cgroup_remove CG the cgroup subtrees, for the EXIT trap (after the
#                       processes are stopped)

um_prepare() {
	mount -t tmpfs -o mode=0755 tmpfs /run/systemd && mkdir -p /run/systemd/system || return 1
	export XDG_RUNTIME_DIR=$1/rt XDG_CONFIG_HOME=$1/cfg
	BUS=unix:path=$1/rt/bus
	UM_UNITS=$XDG_CONFIG_HOME/systemd/user
	mkdir -p -m 0700 "$XDG_RUNTIME_DIR" && mkdir -p "$UM_UNITS"
}

um_owned() {
	busctl --address="$BUS" call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
		NameHasOwner s org.freedesktop.systemd1 2>/dev/null | grep -q true
}

um_start() {
	local d=$1 cg=$2
	dbus-daemon --session --address="$BUS" --nofork >/dev/null 2>"$d/dbus.err" &
	DBUS_PID=$!
	for _ in $(seq 50); do [ -S "$d/rt/bus" ] && break; sleep 0.1; done
	(
		for h in /sys/fs/cgroup/*/; do
			[ -e "${h}cgroup.procs" ] && mkdir -p "$h$cg" && echo "$BASHPID" >"$h$cg/cgroup.procs"
		done
		# A user manager takes over the cgroup it starts in and moves
		# every process in it: never start it anywhere but in this
		# test's own subtree.  (systemd tracks processes in the unified
		# and name=systemd hierarchies.)
		! grep -E '^(0::|[0-9]+:name=systemd:)' /proc/self/cgroup | grep -qv "/$cg\$" || {
			echo "not moved into a cgroup of its own ($cg): $(paste -sd' ' /proc/self/cgroup)"
			exit 1
		}
		DBUS_SESSION_BUS_ADDRESS=$BUS exec /lib/systemd/systemd --user
	) >"$d/systemd.log" 2>&1 &
	SD_PID=$!
	export DBUS_SESSION_BUS_ADDRESS=$BUS
	for _ in $(seq 100); do um_owned && break; sleep 0.1; done
	um_owned
}

um_cgroup_remove() {
	local h
	for h in /sys/fs/cgroup/*/; do
		[ -d "$h$1" ] && find "$h$1" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
}
