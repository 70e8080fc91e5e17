#!/bin/bash
# tests/integ/install.sh - "make install" and the systemd units it installs.
#
# Owns the checks on the Makefile's install and uninstall targets and on
# units/: PREFIX and DESTDIR put every file under the prefix (units rewritten
# to name the installed daemon and sysconfdir), sbindir, mandir, unitdir,
# sysconfdir and docdir each move their files, the state directory is made
# 0700, and "make uninstall" with the same settings removes what install
# put (the configuration and state directories stay, they are the
# operator's).  pftls-rolld@.service has exactly the [Service] settings of
# pftls-rolld.service, only its paths differ, and they all derive from the
# instance name.  Writes only into temporary directories; runs in a few
# seconds.  It tests the Makefile, so it installs the plain build in build/
# whatever PFTLS_BUILD says.
set -u
cd "$(dirname "$0")/../.." || exit 1

pass() { echo "PASS: install: $1"; }
fail() { echo "FAIL: install: $1: $2"; }

work=$(mktemp -d /tmp/pftls-install.XXXXXX) || exit 1
trap 'rm -rf "$work"' EXIT

if ! make -s all >"$work/make.log" 2>&1; then
	fail "setup" "make failed: $(tail -3 "$work/make.log" | tr '\n' ' ')"
	exit 1
fi

# check_tree ROOT: every line "path mode" of stdin exists under ROOT with
# that mode; prints what is wrong.
check_tree() {
	local root=$1 path mode have
	while read -r path mode; do
		if [ ! -e "$root$path" ]; then
			echo "$path missing"
		elif [ "$mode" != - ] && have=$(stat -c %a "$root$path") && [ "$have" != "$mode" ]; then
			echo "$path mode $have, want $mode"
		fi
	done
}

# --- 1. PREFIX and DESTDIR -------------------------------------------------
d=$work/prefix
if ! make -s install DESTDIR="$d" PREFIX=/opt/pftls >"$work/install.log" 2>&1; then
	fail "make install PREFIX=/opt/pftls" "$(tail -3 "$work/install.log" | tr '\n' ' ')"
	exit 1
fi
bad=$(check_tree "$d" <<EOF
/opt/pftls/sbin/pftls-roll 755
/opt/pftls/sbin/pftls-rolld 755
/opt/pftls/share/man/man8/pftls-roll.8 644
/opt/pftls/share/man/man8/pftls-rolld.8 644
/opt/pftls/share/man/man5/pftls-roll.cf.5 644
/opt/pftls/lib/systemd/system/pftls-rolld.service 644
/opt/pftls/lib/systemd/system/pftls-rolld@.service 644
/opt/pftls/lib/systemd/catalog/pftls-roll.catalog 644
/opt/pftls/share/bash-completion/completions/pftls-roll 644
/opt/pftls/share/bash-completion/completions/pftls-rolld -
/opt/pftls/share/doc/pftls-roll/OPERATIONS.md 644
/opt/pftls/share/doc/pftls-roll/examples/pftls-roll.cf 644
/etc/pftls-roll 755
/var/lib/pftls-roll 700
EOF
)
outside=$(cd "$d" && find . -path ./opt -prune -o -path ./etc -prune -o -path ./var -prune -o \
	! -name . -print)
if [ -z "$bad" ] && [ -z "$outside" ]; then
	pass "make install DESTDIR PREFIX=/opt/pftls puts everything under the prefix (and etc, var)"
else
	fail "make install PREFIX=/opt/pftls" "$(echo $bad) $(echo $outside)"
fi
if cmp -s "$d/opt/pftls/sbin/pftls-roll" build/pftls-roll &&
	[ "$("$d/opt/pftls/sbin/pftls-roll" --version)" = "$(build/pftls-roll --version)" ]; then
	pass "the installed pftls-roll is the built one and runs"
else
	fail "installed pftls-roll" "differs from build/pftls-roll or does not run"
fi
# The units name the installed daemon and configuration.
u=$d/opt/pftls/lib/systemd/system
if grep -qx 'ExecStart=/opt/pftls/sbin/pftls-rolld -c /etc/pftls-roll/pftls-roll.cf' \
	"$u/pftls-rolld.service" &&
	grep -qx 'ExecStart=/opt/pftls/sbin/pftls-rolld -c /etc/pftls-roll/%i.cf' \
		"$u/pftls-rolld@.service" && ! grep -q /usr/sbin "$u"/*.service; then
	pass "installed units start /opt/pftls/sbin/pftls-rolld"
else
	fail "installed units" "ExecStart: $(grep -h ExecStart= "$u"/*.service | tr '\n' ' ')"
fi

# --- 2. each directory variable on its own --------------------------------
d=$work/vars
make -s install DESTDIR="$d" PREFIX=/usr sbindir=/sb mandir=/mn unitdir=/un \
	sysconfdir=/cf docdir=/dc >"$work/install2.log" 2>&1
bad=$(check_tree "$d" <<EOF
/sb/pftls-roll 755
/sb/pftls-rolld 755
/mn/man8/pftls-roll.8 644
/mn/man5/pftls-roll.cf.5 644
/un/pftls-rolld.service 644
/un/pftls-rolld@.service 644
/usr/lib/systemd/catalog/pftls-roll.catalog 644
/dc/examples/pftls-roll.cf 644
/cf/pftls-roll 755
EOF
)
if [ -z "$bad" ] && grep -qx 'ExecStart=/sb/pftls-rolld -c /cf/pftls-roll/pftls-roll.cf' \
	"$d/un/pftls-rolld.service" && grep -qx 'ConditionPathExists=/cf/pftls-roll/pftls-roll.cf' \
	"$d/un/pftls-rolld.service"; then
	pass "sbindir, mandir, unitdir, sysconfdir and docdir are honoured"
else
	fail "directory variables" "$(echo $bad) $(grep -h '^ExecStart' "$d/un/pftls-rolld.service")"
fi

# --- 3. uninstall --------------------------------------------------------------
make -s uninstall DESTDIR="$d" PREFIX=/usr sbindir=/sb mandir=/mn unitdir=/un \
	sysconfdir=/cf docdir=/dc >"$work/uninstall.log" 2>&1
left=$(cd "$d" && find . -type f -o -type l)
if [ -z "$left" ] && [ -d "$d/cf/pftls-roll" ] && [ -d "$d/var/lib/pftls-roll" ]; then
	pass "make uninstall removes every installed file and keeps the configuration and state directories"
else
	fail "make uninstall" "left: $(echo $left)"
fi

# --- 4. the template unit is the plain one, per instance ----------------------
# (tests/integ/units.sh checks each unit's exposure and that it verifies.)
# The [Service] settings, less comments, the ExecStart line, and the
# paths that hold the instance name.
service_settings() {
	sed -n '/^\[Service\]/,/^\[/p' "$1" | grep -v '^#' | grep -v '^\[' | grep -v '^$' |
		grep -Ev '^(ExecStart|ReadWritePaths|StateDirectory|RuntimeDirectory)='
}
if diff <(service_settings units/pftls-rolld.service) \
	<(service_settings units/pftls-rolld@.service) >"$work/units.diff"; then
	pass "pftls-rolld@.service has the same [Service] settings as pftls-rolld.service"
else
	fail "unit hardening differs" "$(grep '^[<>]' "$work/units.diff" | tr '\n' ' ')"
fi
t=units/pftls-rolld@.service
if grep -qx 'ExecStart=/usr/sbin/pftls-rolld -c /etc/pftls-roll/%i.cf' "$t" &&
	grep -qx 'ConditionPathExists=/etc/pftls-roll/%i.cf' "$t" &&
	grep -qx 'StateDirectory=pftls-roll/%i' "$t" && grep -qx 'RuntimeDirectory=pftls-roll-%i' "$t"; then
	pass "pftls-rolld@NAME reads /etc/pftls-roll/NAME.cf, has its own state and runtime directories"
else
	fail "$t" "instance paths are not all derived from %i"
fi
