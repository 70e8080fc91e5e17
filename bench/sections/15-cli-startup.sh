#!/bin/bash
# bench/sections/15-cli-startup.sh - what starting pftls-roll costs: one
# output-server-tlsa run for one ECDSA key and for the default key list,
# against /bin/true (a process that does nothing) and Debian's "postfix
# tls" for the same keys.  pftls-roll links no libsystemd (daemon/sd_lazy.c
# loads it for journal entries and D-Bus reloads only); the same objects
# linked with libsystemd, as pftls-roll was before, run side by side.
# Runs in the private mount namespace of tests/lib/postfix.sh, as
# 10-tlsa.sh, since Debian's script needs /etc/postfix/main.cf.
set -euo pipefail
. "$(dirname "$0")/../../tests/lib/postfix.sh"
. "$(dirname "$0")/../lib.sh"
pf_enter_namespace "$0" "$@"
pf_tmproot
I=$PF_TMP/i
pf_instance "$I"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$I/etc/rsa.pem" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$I/etc/ec.pem" 2>/dev/null
pf_append "$I" "smtpd_tls_key_file = $I/etc/rsa.pem" "smtpd_tls_eckey_file = $I/etc/ec.pem"
one="-h mx.example.test $I/etc/ec.pem"
# Same output first, or the comparison means nothing.
for args in "$one" ""; do
	# shellcheck disable=SC2086 # the arguments are split on purpose
	[ "$("$PFTLS" -C "$I/etc" output-server-tlsa $args)" = \
		"$(postfix -c "$I/etc" tls output-server-tlsa $args 2>/dev/null)" ] ||
		{ echo "bench: outputs differ (${args:-default list})" >&2; exit 1; }
done
# The same objects linked as before daemon/sd_lazy.c: libsystemd NEEDED.
B=$(dirname "$PFTLS")
linked=$PF_TMP/pftls-roll-linked
# shellcheck disable=SC2046 # pkg-config's words are split on purpose
cc -o "$linked" "$B"/tools/*.o "$B/libpftls.a" -Wl,--no-as-needed \
	$(pkg-config --libs openssl ldns libsystemd)
ours_one="$PFTLS -C $I/etc output-server-tlsa $one"
linked_one="$linked -C $I/etc output-server-tlsa $one"
ours_all="$PFTLS -C $I/etc output-server-tlsa"

# medians RUNS WARMUP CMD...: for each command, one line "MEDIAN CPU": the
# median wall time and the mean user+system CPU time, in ms, all measured
# in one hyperfine run without a shell (-N).  CPU time says more than wall
# time on a busy machine.
medians() {
	local runs=$1 warmup=$2 json
	shift 2
	if ! command -v hyperfine >/dev/null; then
		for c in "$@"; do echo "$(bench_median "$runs" "" "$c") -"; done
		return
	fi
	json=$(mktemp)
	hyperfine -N --style none --warmup "$warmup" --runs "$runs" --export-json "$json" \
		"$@" >/dev/null 2>&1 || { rm -f "$json"; return 1; }
	jq -r '.results[] | "\(.median * 1e6 | round / 1000) \((.user + .system) * 1e6 | round / 1000)"' \
		"$json"
	rm -f "$json"
}
load=$(cut -d' ' -f1-3 /proc/loadavg)
mapfile -t m < <(medians 200 20 /bin/true "$ours_one" "$linked_one" "$ours_all")
mapfile -t pf < <(medians 20 2 "postfix -c $I/etc tls output-server-tlsa $one" \
	"postfix -c $I/etc tls output-server-tlsa")
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr "\n" " " | sed "s/ $//"; }
# row LABEL I: a table row for result line I of m, or of pf when I is pI.
row() {
	local r
	case $2 in p*) r=${pf[${2#p}]} ;; *) r=${m[$2]} ;; esac
	awk -v l="$1" -v r="$r" -v t="${m[0]}" 'BEGIN {
		split(r, a, " "); split(t, b, " ")
		o = l == "`/bin/true`" ? "" : sprintf("%.2f", a[1] - b[1])
		printf "| %s | %s | %s | %s |\n", l, a[1], a[2], o }'
}
cat <<EOT
## CLI start-up: output-server-tlsa vs /bin/true (bench/sections/15-cli-startup.sh)

One whole process per run, no shell in between (\`hyperfine -N\`), medians;
identical output to \`postfix tls\` checked first.  The ECDSA key is a P-256
key; the default list is main.cf's RSA 2048 and ECDSA P-256 keys, read
through one postconf run.  pftls-roll NEEDs \`$(needed "$PFTLS")\`; it
loads libsystemd (and the libcap, libgcrypt, libgpg-error, liblzma,
libzstd, liblz4 it pulls in) only when a journal entry is written or a
reload goes over D-Bus (daemon/sd_lazy.c).  The "as before" row is the
same object files linked with libsystemd NEEDED, as pftls-roll was, in
the same hyperfine run: the difference is what linking libsystemd cost
every run.  CPU is the mean user+system time, steadier than wall time on a
busy machine (load average $load when this was measured).

| command | median (ms) | CPU (ms) | median over /bin/true (ms) |
|---|---:|---:|---:|
$(row "\`/bin/true\`" 0)
$(row "\`pftls-roll -C DIR output-server-tlsa -h HOST ECKEY\`" 1)
$(row "the same objects linked with libsystemd (as before)" 2)
$(row "\`pftls-roll -C DIR output-server-tlsa\` (default list)" 3)
$(row "\`postfix -c DIR tls output-server-tlsa -h HOST ECKEY\`" p0)
$(row "\`postfix -c DIR tls output-server-tlsa\` (default list)" p1)

Where the rest of pftls-roll's time goes (measured apart, in-process, on
this machine): loading libssl, libcrypto and libldns ~0.9 ms; OpenSSL's
initialisation with the system openssl.cnf ~0.5 ms, of which skipping the
file would save ~0.1-0.5 ms (not done: the operator's openssl.cnf chooses
providers, as it does for the openssl(1) runs of \`postfix tls\`); decoding
the PEM key ~0.9 ms (~0.25 ms less with a decoder told the key type).

Reproduce: \`bench/run --section 15-cli-startup\`.
EOT
