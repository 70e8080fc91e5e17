# tests/lib/knot.sh - a real Knot DNS primary for tests: Debian's knotd run in
# the foreground with its own configuration, storage and rundir under a
# temporary directory, signing the zone automatically (a DNSSEC policy with
# one CSK that never rolls), taking TSIG-signed updates only through its ACLs,
# and notifying a BIND secondary set up with tests/lib/bind.sh's conventions.
# Source bind.sh first, then this file, then:
#
#   knot_start DIR [NET]   Knot primary on NET.1 and a BIND secondary on NET.2
#                          (NET defaults to 127.59.0) serving example.test;
#                          writes DIR/pftls-roll.cf.part and the TSIG key
#                          files DIR/keys/*.key (tsig-keygen syntax, mode 0600)
#   knot_stop              stop both (by PID) and remove the addresses added
#   knot_nsupdate KEY CMDS send an update to the Knot primary with nsupdate
#   knot_driver            define the server driver of tests/lib/dns_scenario.sh
#                          (dns_srv_*) for this topology
#
# bind_serial, bind_tlsa, bind_wait_serial and bind_wait_signed work on these
# servers too (the zone name is BIND_ZONE).
#
# The zone: hidden primary ns1 (Knot, SOA MNAME only), NS ns2 (BIND), TTLs of
# 5 s.  TSIG keys, as in bind.sh: pftls-key (may update TLSA records anywhere
# in the zone), limited-key (only TLSA at _25._tcp.limited.example.test), one
# key per other algorithm (alg-sha1 ... alg-sha512).  The ACLs grant "update"
# only, as an operator would; Knot 3.2 still verifies and signs queries signed
# with a key it knows.  Knot answers an update its ACLs deny with NOTAUTH and
# the TSIG error BADKEY, even for a key it knows.  The caller sets a trap that
# runs knot_stop.
#
# Knot 3.2 facts this relies on: an update is signed before it is answered,
# so the primary serves it signed at once; NOTIFY goes out about 1 s after an
# update (3.2 has no notify-delay to lower); NOTIFY needs "via" the primary's
# address, or it leaves from another loopback address and BIND refuses it as
# "from non-primary"; adding a record with another TTL changes the TTL of the
# whole RRset.

KNOT_PID=""

# knot_key_conf FILE: the key of a tsig-keygen file as a knot.conf key item.
knot_key_conf() {
	awk '
		/^key / { gsub(/"/, "", $2); id = $2 }
		/algorithm/ { gsub(/[;"]/, "", $2); alg = $2 }
		/secret/ { gsub(/[;"]/, "", $2); sec = $2 }
		END { printf "  - id: %s\n    algorithm: %s\n    secret: %s\n", id, alg, sec }' "$1"
}

knot_start() {
	local dir=$1 net=${2:-127.59.0} a k
	BIND_NET=$net
	BIND_DIR=$dir
	mkdir -p "$dir/keys" "$dir/k/storage" "$dir/k/run" "$dir/s2"
	chmod 700 "$dir/k"
	for a in 1 2; do
		bind_addr_add "$net.$a" || return 1
	done
	tsig-keygen -a hmac-sha256 pftls-key >"$dir/keys/pftls.key"
	tsig-keygen -a hmac-sha256 limited-key >"$dir/keys/limited.key"
	for a in sha1 sha224 sha384 sha512; do
		tsig-keygen -a hmac-$a alg-$a >"$dir/keys/$a.key"
	done
	chmod 600 "$dir"/keys/*.key

	cat >"$dir/k/storage/$BIND_ZONE.zone" <<ZONE
\$ORIGIN $BIND_ZONE.
\$TTL 5
@	IN SOA ns1.$BIND_ZONE. hostmaster.$BIND_ZONE. 1 10 2 600 5
@	IN NS ns2.$BIND_ZONE.
ns1	IN A $net.1
ns2	IN A $net.2
mx	IN A $net.25
ZONE
	# The configuration holds the TSIG secrets: mode 0600 inside a 0700
	# directory.
	(
		umask 077
		cat >"$dir/k/knot.conf" <<CONF
server:
    rundir: "$dir/k/run"
    pidfile: "$dir/k/run/knot.pid"
    listen: $net.1@53
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
    automatic-acl: off

control:
    listen: "$dir/k/run/knot.sock"

log:
  - target: stderr
    any: info

database:
    storage: "$dir/k/storage"

key:
$(for k in "$dir"/keys/*.key; do knot_key_conf "$k"; done)

remote:
  - id: ns2
    address: $net.2@53
    via: $net.1

acl:
  - id: transfer-ns2
    address: $net.2
    action: transfer
  - id: update-pftls
    key: [pftls-key, alg-sha1, alg-sha224, alg-sha384, alg-sha512]
    action: update
    update-type: TLSA
    update-owner: zone
    update-owner-match: sub-or-equal
  - id: update-limited
    key: limited-key
    action: update
    update-type: TLSA
    update-owner: name
    update-owner-match: equal
    update-owner-name: _25._tcp.limited

policy:
  - id: pftls-test
    algorithm: ecdsap256sha256
    single-type-signing: on
    ksk-lifetime: 0
    zsk-lifetime: 0
    zone-max-ttl: 86400
    propagation-delay: 0

zone:
  - domain: $BIND_ZONE
    storage: "$dir/k/storage"
    file: "%s.zone"
    zonefile-sync: -1
    zonefile-load: difference
    journal-content: changes
    serial-policy: increment
    dnssec-signing: on
    dnssec-policy: pftls-test
    notify: ns2
    acl: [transfer-ns2, update-pftls, update-limited]
CONF
	)
	knotd -c "$dir/k/knot.conf" >"$dir/k/knotd.log" 2>&1 &
	KNOT_PID=$!
	bind_wait_signed "$net.1" ||
		{ echo "knot: primary did not start (see $dir/k/knotd.log)" >&2; return 1; }
	{
		bind_conf_common s2 "$net.2" "$dir/s2"
		cat <<CONF
zone "$BIND_ZONE" {
	type secondary;
	primaries { $net.1; };
	file "$BIND_ZONE.db";
};
CONF
	} >"$dir/s2/named.conf"
	named -g -n 1 -c "$dir/s2/named.conf" >"$dir/s2/named.log" 2>&1 &
	BIND_PIDS="$BIND_PIDS $!"
	BIND_S2_PID=$!
	bind_wait_serial "$net.2" "$(bind_serial "$net.1")" ||
		{ echo "knot: secondary $net.2 did not load the zone (see $dir/s2/named.log)" >&2; return 1; }
	# The zone's DS as the trust anchor its TLSA records validate to.
	dig +norec +time=2 +tries=2 @"$net.1" "$BIND_ZONE" DNSKEY 2>/dev/null |
		awk '$4 == "DNSKEY" && $5 == 257' | dnssec-dsfromkey -2 -f - "$BIND_ZONE" >"$dir/anchor"
	[ -s "$dir/anchor" ] || { echo "knot: no DS for the zone's key 257" >&2; return 1; }
	cat >"$dir/pftls-roll.cf.part" <<CF
dns_resolver = $net.1
dns_tsig_key_file = $dir/keys/pftls.key
dnssec_trust_anchor_file = $dir/anchor
tlsa_ttl = 5
CF
}

knot_nsupdate() {
	bind_nsupdate "$@"
}

knot_stop() {
	if [ -n "$KNOT_PID" ]; then
		kill "$KNOT_PID" 2>/dev/null
		wait "$KNOT_PID" 2>/dev/null
		KNOT_PID=""
	fi
	bind_stop
}

# knot_driver: the server driver of tests/lib/dns_scenario.sh for this
# topology: Knot signing primary on NET.1 (127.59.0), BIND secondary NET.2;
# the stopped-secondary case stops ns2.  Knot answers an update its ACL
# denies with NOTAUTH/BADKEY, not REFUSED: the message must say the key is
# known and the update refused.
knot_driver() {
	DNS_SRV_DRIVER=knot
	DNS_SRV_NAME=Knot
	DNS_SRV_STARTED="Knot primary and BIND secondary start, the secondary serves the signed zone"
	DNS_SRV_HOSTS="1 2"
	DNS_SRV_EVERY="both servers"
	DNS_SRV_NONE="neither server"
	DNS_SRV_STOP_NS=ns2
	DNS_SRV_POLICY_CASE="update Knot's ACL refuses"
	DNS_SRV_POLICY_ERR="BADKEY from 127.59.0.1:53: the server knows the TSIG key .* but refuses this update for it"
	DNS_SRV_UNSIGNED_ERR="NOTAUTH from 127.59.0.1:53: .*not authorized"
	dns_srv_start() { knot_start "$1" 127.59.0; }
	dns_srv_stop() { knot_stop; }
	dns_srv_serial() { bind_serial "$1"; }
	dns_srv_tlsa() { bind_tlsa "$1" "$2"; }
	dns_srv_nsupdate() { knot_nsupdate "$@"; }
	dns_srv_secondary_pid() { echo "$BIND_S2_PID"; }
}
