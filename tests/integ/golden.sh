#!/bin/bash
# tests/integ/golden.sh - golden files (tests/golden/*.ref, Postfix's .ref
# style): the output of `pftls-roll config -a` / `config -d`, of `status
# --json` and `status` over fixed state files, and of `publish -n` against a
# test BIND (tests/lib/bind.sh on 127.63.0.1-3: the dry run reads the
# RRsets for its prerequisites), compared with diff -u.  A .ref holds the
# command's stdout, then its stderr lines prefixed "stderr: ", then "exit
# N", after tests/golden/filter.sed (which documents what it normalises and
# which fixtures fix the rest).  A difference prints FAIL and the diff.
#
# To regenerate every .ref after an intended change of an output format:
#   PFTLS_GOLDEN_UPDATE=1 netns-run tests/run integ golden
# then review `git diff tests/golden` before committing it.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/bind.sh
. tests/lib/dns_common.sh # pass, fail, check, PFTLS

G=tests/golden
CORPUS=tests/fuzz/corpus
T=$(mktemp -d /tmp/pftls-golden.XXXXXX)
cleanup() {
	bind_stop
	rm -rf "$T"
}
trap cleanup EXIT

# sort_prerequisites: a filter that sorts the records of each ";;
# PREREQUISITE SECTION:" of publish -n (the records already served, in the
# order the server sent the RRset: BIND rotates it) and passes every other
# line through in its place.
sort_prerequisites() {
	awk '/^;; / { sec = ($0 == ";; PREREQUISITE SECTION:") ? NR : 0 }
		{ printf "%d\t%d\t%s\n", sec ? sec : NR, sec && !/^;; /, $0 }' |
		LC_ALL=C sort -t "$(printf '\t')" -k1,1n -k2,2n -k3 | cut -f3-
}

# golden NAME CMD...: run CMD; its normalised output (see the head of this
# file) must be $G/NAME.ref.  With PFTLS_GOLDEN_UPDATE set it becomes it.
golden() {
	local name=$1 rc
	shift
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	{
		cat "$T/out"
		sed 's/^/stderr: /' "$T/err"
		echo "exit $rc"
	} | sed -e "s|$T|@T@|g" -f "$G/filter.sed" | sort_prerequisites >"$T/$name.got"
	if [ -n "${PFTLS_GOLDEN_UPDATE:-}" ]; then
		cp "$T/$name.got" "$G/$name.ref"
		pass "$name: $G/$name.ref written"
	elif diff -u "$G/$name.ref" "$T/$name.got" >"$T/$name.diff"; then
		pass "$name: output as in $G/$name.ref"
	else
		fail "$name: output differs from $G/$name.ref (diff -u follows)"
		sed 's/^/    /' "$T/$name.diff"
		# status --json is one long line: show it field by field too.
		if head -1 "$G/$name.ref" | grep -q '^{' && command -v jq >/dev/null; then
			echo "    the same, one JSON field a line:"
			diff -u <(head -1 "$G/$name.ref" | sed 's/@NOW@/0/' | jq .) \
				<(head -1 "$T/$name.got" | sed 's/@NOW@/0/' | jq . 2>&1) |
				sed 's/^/    /'
		fi
	fi
}

PF=$T/pf
mkdir -p "$PF" "$T/etc"
mkdir -m 700 "$T/state"
printf 'myhostname = mx.example.test\n' >"$PF/main.cf"
touch "$PF/master.cf"
cp "$CORPUS/pem_key/rsa2048-pkcs1.pem" "$PF/key-fixture.pem"
cp "$CORPUS/pem_key/ec-p256-sec1.pem" "$PF/eckey-fixture.pem"
chmod 600 "$PF"/*.pem

# ---- config -a, config -d ------------------------------------------------
printf 'postfix_config_directory = %s\n' "$PF" >"$T/etc/minimal.cf"
golden config-a-minimal "$PFTLS" -c "$T/etc/minimal.cf" config -a
golden config-d "$PFTLS" -c "$T/etc/minimal.cf" config -d
tsig-keygen -a hmac-sha256 golden-key >"$T/etc/tsig.key"
chmod 600 "$T/etc/tsig.key"
cat >"$T/etc/every.cf" <<CF
# every setting away from its default
postfix_config_directory = $PF
postfix_command_directory = /usr/sbin
key_algorithms = rsa, ecdsa
rsa_bits = 3072
ecdsa_curve = secp384r1
tlsa_hostnames = mx.example.test
	mx2.example.test
tlsa_ports = 25, 465
tlsa_records = 3 1 1, 3 1 2, 3 0 1
tlsa_ttl = 1h
dns_zone = example.test
dns_update_server = ns1.example.test:5353
dns_tsig_key_file = $T/etc/tsig.key
dns_resolver = 127.63.0.1, [::1]:53
dns_check_servers = 127.63.0.2, 127.63.0.3:53
dns_extra_check_servers = 127.63.0.4
rollover_interval = 30d
ttl_factor = 3
publish_safety = 2m
propagation_min_delay = 1w
propagation_alert = 90m
retire_delay = 2h
reload_command = /bin/true
reload_unit = postfix@-.service
verify_endpoints = mx.example.test:25, 127.63.0.25:465
metrics_file = $T/metrics/pftls-roll.prom
state_directory = $T/state
rollover_scheme = on-demand
control_socket = $T/control
CF
golden config-a-every "$PFTLS" -c "$T/etc/every.cf" config -a
golden config-named "$PFTLS" -c "$T/etc/every.cf" config tlsa_records publish_safety dns_resolver

# ---- status --json and status over fixed state files -------------------
printf 'postfix_config_directory = %s\nstate_directory = %s\ncontrol_socket = %s\n' \
	"$PF" "$T/state" "$T/control" >"$T/etc/status.cf"
golden status-json-none "$PFTLS" -c "$T/etc/status.cf" status --json
golden status-none "$PFTLS" -c "$T/etc/status.cf" status

# state FIXTURE: install $CORPUS/state/FIXTURE.state as the state file: the
# directory of its key files becomes $PF, every time moves SHIFT seconds
# back (so that every wait has ended whatever the clock says), and the
# checksum (SPEC.md: an unkeyed SHA-256 of the lines before it) is
# recomputed.
SHIFT=86400000
state() {
	local f=$CORPUS/state/$1.state dir
	dir=$(sed -n 's/^[a-z]*\.[a-z]*_key = \(.*\)\/[^/]*$/\1/p; s/^event = [0-9]* key-generated [a-z]* [a-z]* key \(.*\)\/[^/ ]* .*/\1/p' "$f" | head -1)
	# The time is the last field of t_* and server lines, the first of
	# event lines (whose messages keep their spacing).
	sed '$d' "$f" | sed "s|$dir/|$PF/|g" | awk -v s="$SHIFT" '
		/^t_[a-z_]* = [0-9]+$/ || /^server = / { $NF -= s }
		/^event = [0-9]+ / { t = $3 - s; sub(/^event = [0-9]+/, "event = " t) }
		{ print }' >"$T/state/pftls-roll.state"
	printf 'checksum = %s\n' "$(sha256sum "$T/state/pftls-roll.state" | cut -d' ' -f1)" \
		>>"$T/state/pftls-roll.state"
}
for s in real-idle-after-rollover real-propagated real-verified real-deployed failed-from-propagated; do
	state "$s"
	golden "status-json-${s#real-}" "$PFTLS" -c "$T/etc/status.cf" status --json
	golden "status-${s#real-}" "$PFTLS" -c "$T/etc/status.cf" status
done
rm -f "$T/state/pftls-roll.state"

# ---- publish -n against the test BIND ------------------------------------
bind_start "$T/bind" 127.63.0 >/dev/null || { fail "BIND topology starts"; exit 1; }
dns_conf "$T/bind/pftls-roll.cf.part" "$T/etc/dns.cf"
K=("$PF/key-fixture.pem" "$PF/eckey-fixture.pem")
golden publish-n-new "$PFTLS" -c "$T/etc/dns.cf" publish -n "${K[@]}"
dns_conf "$T/bind/pftls-roll.cf.part" "$T/etc/dns-unsigned.cf" "dns_tsig_key_file =" \
	"tlsa_hostnames = mx.example.test mx2.example.test" "tlsa_ports = 25 465" "tlsa_records = 3 1 1"
golden publish-n-unsigned-hosts-ports "$PFTLS" -c "$T/etc/dns-unsigned.cf" publish -n "${K[@]}"
run -c "$T/etc/dns.cf" publish "${K[0]}"
check "setup: the RSA fixture key's records are published ($ERR)" [ "$RC" -eq 0 ]
golden publish-n-partial "$PFTLS" -c "$T/etc/dns.cf" publish -n "${K[@]}"
golden publish-n-present "$PFTLS" -c "$T/etc/dns.cf" publish -n "${K[0]}"
