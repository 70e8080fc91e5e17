#!/bin/bash
# tests/integ/package.sh - the Debian package, as an operator meets it.
#
# Owns the checks on debian/: "dpkg-buildpackage -us -uc -b" builds the
# package from a copy of the tree (nocheck: the unit tests run elsewhere);
# lintian reports no error (its warnings are printed to the log); the
# package installs with "dpkg -i"; /usr/sbin/pftls-roll and pftls-rolld
# answer --version with the package's version and "config -d" works; every
# file is where it should be with its mode; the units are installed but not
# enabled; journald's catalog knows the MESSAGE_IDs; the installed bash
# completion completes; and "dpkg --purge" removes it all, state included,
# leaving the machine as it was found.  Needs root; about a minute.
set -u
cd "$(dirname "$0")/../.." || exit 1
src=$PWD

pass() { echo "PASS: package: $1"; }
fail() { echo "FAIL: package: $1: $2"; }

# Paths the package owns; none may exist before the test (they would be
# someone's installation, which dpkg -i would silently overwrite), except
# the state directory: a stray one (left by a program run with the default
# state_directory) is copied aside and put back after the purge.
STATE=/var/lib/pftls-roll
OWNED=(/usr/sbin/pftls-roll /usr/sbin/pftls-rolld /etc/pftls-roll
	/lib/systemd/system/pftls-rolld.service /lib/systemd/system/pftls-rolld@.service
	/usr/lib/systemd/catalog/pftls-roll.catalog /usr/share/doc/pftls-roll
	/usr/share/bash-completion/completions/pftls-roll)
# A MESSAGE_ID from the catalog, to see journald's catalog pick it up.
msgid=$(sed -n 's/^-- \([0-9a-f]\{32\}\)$/\1/p' docs/pftls-roll.catalog | head -1)

if [ "$(id -u)" -ne 0 ]; then
	fail "setup" "needs root (dpkg -i)"
	exit 1
fi
for t in dpkg-buildpackage dh lintian fakeroot; do
	command -v "$t" >/dev/null || { fail "setup" "$t not installed (tools/install-deps)"; exit 1; }
done
if dpkg-query -W -f='${Status}' pftls-roll 2>/dev/null | grep -q ' installed$'; then
	fail "setup" "pftls-roll is already installed on this machine; not touching it"
	exit 1
fi
for p in "${OWNED[@]}"; do
	if [ -e "$p" ]; then
		fail "setup" "$p exists already (a \"make install\"?); not overwriting it"
		exit 1
	fi
done

work=$(mktemp -d /tmp/pftls-package.XXXXXX) || exit 1
installed="" saved=""
if [ -e "$STATE" ]; then
	cp -a "$STATE" "$work/saved-state" || { fail "setup" "cannot copy $STATE aside"; exit 1; }
	saved=$work/saved-state
	echo "package: $STATE existed before the test; it is put back after the purge"
fi
cleanup() {
	[ -n "$installed" ] && dpkg --purge pftls-roll >/dev/null 2>&1
	if [ -n "$saved" ]; then
		if [ -e "$STATE" ]; then
			echo "FAIL: package: cleanup: $STATE is in the way; its old copy is in $saved"
			return
		fi
		mv "$saved" "$STATE"
	fi
	rm -rf "$work"
}
trap cleanup EXIT

# dpkg -i waits for no one: another apt/dpkg run on the machine holds the
# lock for a while.  Retry for at most a minute.
dpkg_locked() {
	local i out rc
	for i in $(seq 30); do
		out=$("$@" 2>&1)
		rc=$?
		grep -q 'dpkg frontend lock\|lock-frontend\|dpkg status database is locked' <<<"$out" ||
			break
		sleep 2
	done
	printf '%s\n' "$out"
	return $rc
}

# --- build -----------------------------------------------------------------
version=$(dpkg-parsechangelog -l debian/changelog -S Version)
tree=$work/pftls-roll-$version
mkdir -p "$tree"
tar -C "$src" --exclude=./build --exclude="./build-*" --exclude=./tests/out --exclude=./.git -cf - . |
	tar -C "$tree" -xf -
if (cd "$tree" && DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -us -uc -b) \
	>"$work/build.log" 2>&1; then
	pass "dpkg-buildpackage -us -uc -b builds pftls-roll $version"
else
	fail "dpkg-buildpackage" "$(grep -E 'error|Error' "$work/build.log" | head -3 | tr '\n' ' ')"
	tail -20 "$work/build.log"
	exit 1
fi
deb=$work/pftls-roll_${version}_$(dpkg --print-architecture).deb
changes=${deb%.deb}.changes

lintian --tag-display-limit 0 "$changes" 2>&1 | grep -v '^running with root' >"$work/lintian.log"
errors=$(grep -c '^E: ' "$work/lintian.log")
echo "lintian says:"
sed 's/^/    /' "$work/lintian.log" && [ -s "$work/lintian.log" ] || echo "    (nothing)"
if [ "$errors" -eq 0 ]; then
	pass "lintian reports no errors ($(grep -c '^W: ' "$work/lintian.log") warnings)"
else
	fail "lintian" "$errors errors: $(grep '^E: ' "$work/lintian.log" | head -3 | tr '\n' ' ')"
fi

# --- install -----------------------------------------------------------------
if out=$(dpkg_locked dpkg -i "$deb"); then
	installed=1
	pass "dpkg -i installs it"
else
	fail "dpkg -i" "$(tail -3 <<<"$out" | tr '\n' ' ')"
	exit 1
fi
status=$(dpkg-query -W -f='${Status} ${Version}' pftls-roll)
[ "$status" = "install ok installed $version" ] && pass "dpkg-query: $status" ||
	fail "dpkg-query" "status is \"$status\""

for p in pftls-roll pftls-rolld; do
	out=$(/usr/sbin/$p --version 2>&1)
	if [ "$out" = "$p $version" ]; then
		pass "/usr/sbin/$p --version says \"$out\""
	else
		fail "/usr/sbin/$p --version" "said \"$out\", want \"$p $version\""
	fi
done
# The crash tests' fault points (PFTLS_FAULT) are for the tree's build only.
for p in pftls-roll pftls-rolld; do
	if grep -q PFTLS_FAULT "/usr/sbin/$p"; then
		fail "/usr/sbin/$p has no fault-injection points" "it reads PFTLS_FAULT"
	elif grep -q PFTLS_FAULT "$src/build/$p"; then
		pass "/usr/sbin/$p has no fault-injection points (the tree's build/$p has)"
	else
		fail "/usr/sbin/$p has no fault-injection points" "cannot tell: build/$p lacks them too"
	fi
done
# config -d needs no configuration file (there is none yet); its defaults
# are those of the tree the package was built from.
if out=$(cd / && /usr/sbin/pftls-roll config -d 2>&1) &&
	grep -qx 'state_directory = /var/lib/pftls-roll' <<<"$out"; then
	roll=${PFTLS_BUILD:-build}/pftls-roll
	if [ -x "$roll" ] && [ "$out" != "$("$roll" config -d)" ]; then
		fail "pftls-roll config -d" "differs from $roll config -d"
	else
		pass "/usr/sbin/pftls-roll config -d prints the $(wc -l <<<"$out") defaults"
	fi
else
	fail "/usr/sbin/pftls-roll config -d" "$(head -2 <<<"$out" | tr '\n' ' ')"
fi
# Without a configuration, the rollover subcommands say which file is missing.
out=$(cd / && /usr/sbin/pftls-roll status 2>&1)
rc=$?
if [ "$rc" -eq 2 ] && grep -q '/etc/pftls-roll/pftls-roll.cf' <<<"$out"; then
	pass "pftls-roll status without a configuration: exit 2 naming /etc/pftls-roll/pftls-roll.cf"
else
	fail "pftls-roll status without a configuration" "exit $rc: $out"
fi

# path, type (f file, d directory, l link), mode, owner:group
bad=""
n=0
while read -r path type mode; do
	n=$((n + 1))
	case $type in
	f) [ -f "$path" ] && [ ! -L "$path" ] || { bad="$bad; $path: not a file"; continue; } ;;
	d) [ -d "$path" ] || { bad="$bad; $path: not a directory"; continue; } ;;
	l) [ -L "$path" ] || { bad="$bad; $path: not a symbolic link"; continue; } ;;
	esac
	[ "$type" = l ] && continue
	have=$(stat -c '%a %U:%G' "$path")
	[ "$have" = "$mode root:root" ] || bad="$bad; $path: $have, want $mode root:root"
done <<EOF
/usr/sbin/pftls-roll f 755
/usr/sbin/pftls-rolld f 755
/usr/share/man/man8/pftls-roll.8.gz f 644
/usr/share/man/man8/pftls-rolld.8.gz f 644
/usr/share/man/man5/pftls-roll.cf.5.gz f 644
/lib/systemd/system/pftls-rolld.service f 644
/lib/systemd/system/pftls-rolld@.service f 644
/usr/lib/systemd/catalog/pftls-roll.catalog f 644
/usr/share/bash-completion/completions/pftls-roll f 644
/usr/share/bash-completion/completions/pftls-rolld l -
/usr/share/doc/pftls-roll/OPERATIONS.md f 644
/usr/share/doc/pftls-roll/copyright f 644
/usr/share/doc/pftls-roll/examples d 755
/etc/pftls-roll d 755
/var/lib/pftls-roll d 700
$(for f in examples/* examples/*/*; do
	[ -d "$f" ] && t="d 755" || t="f 644"
	echo "/usr/share/doc/pftls-roll/examples/${f#examples/} $t"
done)
EOF
if [ -z "$bad" ]; then
	pass "the $n installed files and directories have the right type, mode and owner"
else
	fail "installed files" "${bad#; }"
fi
# The examples are the tree's, uncompressed, so they can be copied as they are.
if diff -r examples /usr/share/doc/pftls-roll/examples >"$work/ex.diff"; then
	pass "/usr/share/doc/pftls-roll/examples is examples/, uncompressed"
else
	fail "examples" "$(head -3 "$work/ex.diff" | tr '\n' ' ')"
fi
# Nothing in the package is writable by others or setuid.
loose=$(dpkg -L pftls-roll | while read -r p; do
	[ -L "$p" ] && continue
	find "$p" -maxdepth 0 \( -perm -o+w -o -perm -u+s -o -perm -g+s \) 2>/dev/null
done)
[ -z "$loose" ] && pass "no installed path is world-writable, setuid or setgid" ||
	fail "permissions" "$(echo $loose)"

# The units point at the installed daemon and are not enabled.
for u in pftls-rolld.service pftls-rolld@.service; do
	exe=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "/lib/systemd/system/$u")
	[ "$exe" = /usr/sbin/pftls-rolld ] && [ -x "$exe" ] &&
		pass "$u starts /usr/sbin/pftls-rolld" ||
		fail "$u" "ExecStart names \"$exe\""
done
state=$(systemctl is-enabled pftls-rolld.service 2>&1)
links=$(find /etc/systemd/system -name 'pftls-rolld*' 2>/dev/null)
if [ "$state" = disabled ] && [ -z "$links" ]; then
	pass "pftls-rolld.service is installed but not enabled (systemctl is-enabled: $state)"
else
	fail "pftls-rolld.service enablement" "is-enabled says \"$state\"; links: $links"
fi
grep -qx 'ConditionPathExists=/etc/pftls-roll/pftls-roll.cf' /lib/systemd/system/pftls-rolld.service &&
	pass "pftls-rolld.service does not start before /etc/pftls-roll/pftls-roll.cf exists" ||
	fail "pftls-rolld.service" "no ConditionPathExists on the configuration"

# systemd's dpkg trigger rebuilt journald's catalog database from
# /usr/lib/systemd/catalog: journalctl -x will explain the events.
if journalctl --list-catalog "$msgid" 2>/dev/null | grep -q "$msgid"; then
	pass "journalctl --list-catalog knows MESSAGE_ID $msgid after installation"
else
	fail "catalog" "journalctl --list-catalog does not show $msgid"
fi

# The installed completion, loaded the way bash-completion does.
if [ -f /usr/share/bash-completion/bash_completion ]; then
	got=$(PATH=/usr/sbin:$PATH bash -c '
		. /usr/share/bash-completion/bash_completion
		. /usr/share/bash-completion/completions/pftls-roll
		COMP_LINE="pftls-roll output-server-"; COMP_POINT=${#COMP_LINE}
		COMP_WORDS=(pftls-roll output-server-); COMP_CWORD=1
		_pftls_roll pftls-roll output-server- pftls-roll
		echo "${COMPREPLY[*]}"' 2>&1)
	[ "$got" = "output-server-csr output-server-tlsa" ] &&
		pass "the installed bash completion completes \"pftls-roll output-server-\"" ||
		fail "installed completion" "got \"$got\""
else
	fail "installed completion" "bash-completion is not installed (tools/install-deps)"
fi

# --- purge -------------------------------------------------------------------
# State left by a daemon must go with the purge too.
touch "$STATE/state-left-by-package-test"
if out=$(dpkg_locked dpkg --purge pftls-roll); then
	installed=""
	pass "dpkg --purge removes it"
else
	fail "dpkg --purge" "$(tail -3 <<<"$out" | tr '\n' ' ')"
	exit 1
fi
left=""
for p in "${OWNED[@]}" "$STATE" /usr/share/man/man8/pftls-roll.8.gz; do
	[ -e "$p" ] || [ -L "$p" ] && left="$left $p"
done
left="$left $(find /var/lib/systemd -name '*pftls-rolld*' 2>/dev/null)"
if [ -z "${left// /}" ]; then
	pass "after the purge no file of the package, its state or its unit state is left"
else
	fail "purge" "left behind:$left"
fi
if journalctl --list-catalog "$msgid" 2>/dev/null | grep -q "$msgid"; then
	fail "purge" "journald's catalog still has $msgid"
else
	pass "after the purge journald's catalog no longer has $msgid"
fi
