#!/bin/bash
# bench/sections/10-tlsa.sh - "output-server-tlsa" for the same two
# deployed keys (RSA 2048 + ECDSA P-256): pftls-roll vs Debian's
# "postfix tls" (a shell script running openssl(1) several times per key).
# Debian's script needs /etc/postfix/main.cf, so this runs in the private
# mount namespace of tests/lib/postfix.sh; /etc/postfix is not touched.
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
# Same output first, or the comparison means nothing.
ours=$("$PFTLS" -C "$I/etc" output-server-tlsa)
theirs=$(postfix -c "$I/etc" tls output-server-tlsa 2>/dev/null)
[ "$ours" = "$theirs" ] || { echo "bench: outputs differ" >&2; exit 1; }

o=$(bench_median 50 "" "$PFTLS -C $I/etc output-server-tlsa")
p=$(bench_median 20 "" "postfix -c $I/etc tls output-server-tlsa")
# With the host name and key files given, pftls-roll needs no postconf run;
# postfix tls still runs postconf several times.
args="-h mx.example.test $I/etc/rsa.pem $I/etc/ec.pem"
[ "$("$PFTLS" -C "$I/etc" output-server-tlsa $args)" = \
	"$(postfix -c "$I/etc" tls output-server-tlsa $args 2>/dev/null)" ] ||
	{ echo "bench: outputs differ (explicit keys)" >&2; exit 1; }
oe=$(bench_median 50 "" "$PFTLS -C $I/etc output-server-tlsa $args")
pe=$(bench_median 20 "" "postfix -c $I/etc tls output-server-tlsa $args")
pc=$(bench_median 50 "" "postconf -c $I/etc -n -x -- smtpd_tls_chain_files smtpd_tls_key_file smtpd_tls_eckey_file myhostname")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1fx", a/b}'; }
cat <<EOT
## output-server-tlsa: pftls-roll vs postfix tls

The same two keys (an RSA 2048 and an ECDSA P-256 key), one whole process
per run, identical output checked first.  With the default key list both
programs must ask Postfix's own postconf for main.cf (SPEC: main.cf is read
through postconf); pftls-roll does it in one postconf run, whose own cost
is shown in the last row and is most of pftls-roll's time.

| command | median (ms) | postfix tls / pftls-roll |
|---|---:|---:|
| \`pftls-roll -C DIR output-server-tlsa\` (default list) | $o | |
| \`postfix -c DIR tls output-server-tlsa\` (default list) | $p | $(ratio "$p" "$o") |
| \`pftls-roll -C DIR output-server-tlsa -h HOST KEY KEY\` | $oe | |
| \`postfix -c DIR tls output-server-tlsa -h HOST KEY KEY\` | $pe | $(ratio "$pe" "$oe") |
| one \`postconf -c DIR -n -x\` run, alone | $pc | |

Reproduce: \`bench/run\` (or \`bash bench/sections/10-tlsa.sh\` for this table).
EOT
