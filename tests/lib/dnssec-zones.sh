#!/bin/sh
# dnssec-zones.sh DIR ALGORITHM START PARENT_END CHILD_END - make a signed
# parent zone "test." and a signed child "child.test." (its DS in the
# parent), an unsigned child "unsigned.test." (a delegation without DS, so
# the parent's NSEC proves there is none), with BIND's dnssec-keygen and
# dnssec-signzone, and two spare keys (test. and child.test.) signing
# nothing.  Signatures from START to PARENT_END / CHILD_END (YYYYMMDDHHMMSS).
# Writes DIR/test.signed (and DIR/test.nsec3.signed, the same with NSEC3,
# salt AABBCCDD, 5 iterations, no opt-out), DIR/child.test.signed, DIR/unsigned.test.zone,
# DIR/anchor (the parent's DS), DIR/anchor-dnskey (its KSK), DIR/wrong-anchor
# (a DS of the spare test. key) and DIR/spare-child.key.  Used by
# tests/unit/test_dnssec.c and tests/fuzz/gen-dnssec-seeds.
set -eu
dir=$1 alg=$2 start=$3 pend=$4 cend=$5
mkdir -p "$dir/keys" "$dir/spare"
cd "$dir"
case $alg in
RSASHA256) bits="-b 2048" ;;
# The other RSA algorithms are there to check their verification: smaller
# keys make them quicker.
RSASHA512 | NSEC3RSASHA1) bits="-b 1024" ;;
*) bits="" ;;
esac
key() { # ZONE KEYDIR [KSK]
	dnssec-keygen -q -K "$2" -a "$alg" $bits ${3:+-f KSK} -n ZONE "$1"
}
tlsa="_25._tcp.mx 3600 IN TLSA 3 1 1 0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
soa() { # ZONE
	printf '$TTL 3600\n@ IN SOA ns.%s hostmaster.%s 1 3600 900 604800 300\n@ IN NS ns\nns IN A 192.0.2.1\n' "$1" "$1"
}

cksk=$(key child.test. keys ksk) czsk=$(key child.test. keys)
pksk=$(key test. keys ksk) pzsk=$(key test. keys)
pspare=$(key test. spare ksk) cspare=$(key child.test. spare ksk)

{ soa child.test.; echo "$tlsa"; echo "mx IN A 192.0.2.25"
  cat "keys/$cksk.key" "keys/$czsk.key"; } >child.test.zone
dnssec-signzone -q -o child.test. -s "$start" -e "$cend" -f child.test.signed \
	child.test.zone "keys/$cksk" "keys/$czsk" >/dev/null

{ soa unsigned.test.; echo "$tlsa"; } >unsigned.test.zone

{ soa test.
  echo "child IN NS ns.child"; echo "ns.child IN A 192.0.2.2"
  echo "unsigned IN NS ns.unsigned"; echo "ns.unsigned IN A 192.0.2.3"
  dnssec-dsfromkey -2 "keys/$cksk.key"
  cat "keys/$pksk.key" "keys/$pzsk.key"; } >test.zone
dnssec-signzone -q -o test. -s "$start" -e "$pend" -f test.signed \
	test.zone "keys/$pksk" "keys/$pzsk" >/dev/null
dnssec-signzone -q -3 AABBCCDD -H 5 -o test. -s "$start" -e "$pend" -f test.nsec3.signed \
	test.zone "keys/$pksk" "keys/$pzsk" >/dev/null

dnssec-dsfromkey -2 "keys/$pksk.key" >anchor
grep -v '^;' "keys/$pksk.key" >anchor-dnskey
dnssec-dsfromkey -2 "spare/$pspare.key" >wrong-anchor
grep -v '^;' "spare/$cspare.key" >spare-child.key
