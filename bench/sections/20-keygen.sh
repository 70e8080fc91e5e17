#!/bin/bash
# bench/sections/20-keygen.sh - time to make a new server key per algorithm:
# "pftls-roll new-server-key" as a whole process (key generation, the
# self-signed certificate, two fsynced no-replace writes; key generation
# dominates).  The files are removed before each run, untimed, because the
# file names have one-second resolution.
set -euo pipefail
. "$(dirname "$0")/../../tests/lib/postfix.sh"
. "$(dirname "$0")/../lib.sh"
pf_tmproot
I=$PF_TMP/i
pf_instance "$I"
clean="rm -f $I/etc/key-*.pem $I/etc/cert-*.pem $I/etc/eckey-*.pem $I/etc/eccert-*.pem"
cat <<EOT
## Key generation: pftls-roll new-server-key

RSA key generation time varies a lot from run to run (prime search), so
RSA rows use more runs where cheap; the median is shown.

| algorithm | runs | median (ms) |
|---|---:|---:|
EOT
while read -r alg bits runs; do
	m=$(bench_median "$runs" "$clean" "$PFTLS -C $I/etc new-server-key -a $alg -b $bits mx.example.test")
	echo "| $alg $bits | $runs | $m |"
done <<EOL
rsa 2048 30
rsa 3072 15
rsa 4096 10
ecdsa secp256r1 30
ecdsa secp384r1 30
ecdsa secp521r1 30
EOL
echo
echo "Reproduce: \`bench/run\` (or \`bash bench/sections/20-keygen.sh\` for this table)."
