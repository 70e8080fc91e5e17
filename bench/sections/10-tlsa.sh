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
cat <<EOT
## output-server-tlsa: pftls-roll vs postfix tls

The default key list (\`rsa ecdsa\` from main.cf: an RSA 2048 and an ECDSA
P-256 key), one whole process per run, identical output checked first.

| command | median (ms) |
|---|---:|
| \`pftls-roll -C DIR output-server-tlsa\` | $o |
| \`postfix -c DIR tls output-server-tlsa\` | $p |
| ratio postfix / pftls-roll | $(awk -v a="$p" -v b="$o" 'BEGIN {printf "%.1fx", a/b}') |

Reproduce: \`bench/run\` (or \`bash bench/sections/10-tlsa.sh\` for this table).
EOT
