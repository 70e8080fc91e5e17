# tests/lib/scale.sh - one daemon, many names: the sandbox that
# tests/integ/rollover_many.sh and bench/sections/60-scale.sh share.  Real
# BIND (tests/lib/bind.sh: signing primary + 2 secondaries) on 127.65.0.1-3,
# one running Postfix with an RSA and an ECDSA key (tests/lib/rollover.sh's
# roll_instance) on ADDR, and a pftls-roll.cf whose tlsa_hostnames are N
# names mx000 ... in example.test.  Source it after bind.sh, dns_common.sh,
# postfix_instance.sh and rollover.sh, then:
#
#   scale_setup WORK N ADDR   start it all; the deployed keys' records at
#                             every name, published with nsupdate (not our
#                             code) and served by all three servers; sets
#                             SCALE_NAMES (the host names), ROLL_* as
#                             roll_setup does
#   scale_owners_file FILE    "_25._tcp.NAME TLSA" per name, for dig -f
#   scale_served ADDR         every TLSA record ADDR serves at the names,
#                             "OWNER 3 1 1 HEX" a line, sorted
#   scale_count ADDR REC      how many names ADDR serves REC ("3 1 1 HEX") at
#
# The configuration is what an operator with many names on one Postfix
# writes: the names, and verify_endpoints = the one address Postfix listens
# on (every name is the same smtpd; the default would resolve each name and
# make a STARTTLS handshake per name and algorithm, all with the same
# server).  roll_cleanup stops everything.

SCALE_NET=127.65.0

scale_setup() {
	local work=$1 n=$2 addr=$3 i
	ROLL_WORK=$work
	ROLL_NET=$SCALE_NET
	ROLL_ADDR=$addr
	ROLL_HOST=mx000.example.test
	ROLL_NAME=_25._tcp.$ROLL_HOST
	ROLL_PF=$work/pf/etc
	ROLL_STATE=$work/state
	ROLL_CF=$work/roll.cf
	SCALE_NAMES=$(for ((i = 0; i < n; i++)); do printf 'mx%03d.example.test ' "$i"; done)
	chmod 755 "$work"
	bind_start "$work/bind" "$SCALE_NET" || return 1
	bind_addr_add "$addr" || return 1
	roll_instance "$work/pf" "$addr" || return 1
	roll_conf "tlsa_hostnames = $SCALE_NAMES" "verify_endpoints = $addr:25"
	scale_owners_file "$work/owners"
	scale_publish_old 5
}

scale_owners_file() {
	local h
	for h in $SCALE_NAMES; do echo "_25._tcp.$h TLSA"; done >"$1"
}

scale_served() {
	dig +norec +noall +answer +nosplit +time=2 +tries=2 @"$1" -f "$ROLL_WORK/owners" 2>/dev/null |
		awk '$4 == "TLSA" {print $1, $5, $6, $7, toupper($8)}' | sort
}

scale_count() {
	scale_served "$1" | awk -v r="$2" '$2 " " $3 " " $4 " " $5 == r' | wc -l
}

# scale_publish_old TTL: the deployed keys' records at every name with
# nsupdate, 200 names a message (nsupdate does not compress names), each
# message sent once the primary serves the one before (the inline-signing
# race of TEST-SERVERS.md); then wait (bounded) for all three servers.
scale_publish_old() {
	local ttl=$1 rsa ec h k=0 want s i ok total batch=""
	rsa=$(roll_rec "$(roll_deployed rsa)") ec=$(roll_rec "$(roll_deployed ecdsa)")
	total=$(wc -w <<<"$SCALE_NAMES")
	for h in $SCALE_NAMES; do
		batch="${batch}update add _25._tcp.$h. $ttl IN TLSA $rsa
update add _25._tcp.$h. $ttl IN TLSA $ec
"
		k=$((k + 1))
		if [ $((k % 200)) -eq 0 ] || [ "$k" -eq "$total" ]; then
			bind_nsupdate "$ROLL_WORK/bind/keys/pftls.key" "$batch" || return 1
			batch=""
			for ((i = 0; i < 100; i++)); do
				[ "$(scale_served "$SCALE_NET.1" | wc -l)" -ge $((2 * k)) ] && break
				sleep 0.2
			done
		fi
	done
	want=$((2 * k))
	for ((i = 0; i < 100; i++)); do
		ok=1
		for s in 1 2 3; do
			[ "$(scale_served "$SCALE_NET.$s" | wc -l)" -eq "$want" ] || { ok=0; break; }
		done
		[ "$ok" = 1 ] && return 0
		sleep 0.2
	done
	return 1
}
