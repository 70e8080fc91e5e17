# tests/lib/bind.sh - a real BIND topology for tests, the demo and benchmarks:
# a DNSSEC-signing primary (inline signing with a dnssec-policy) that takes
# TSIG-signed updates only, and two secondaries it notifies, all on loopback
# addresses of one /24.  Source it, then:
#
#   bind_start DIR [NET]   start primary NET.1 and secondaries NET.2, NET.3
#                          (NET defaults to 127.53.0) serving example.test;
#                          writes DIR/pftls-roll.cf.part, a fragment that
#                          points pftls-roll at them, and the TSIG key files
#                          DIR/keys/*.key (mode 0600)
#   bind_stop              stop them (by PID) and remove the addresses added
#   bind_addr_add ADDR     put ADDR/32 (an IPv6 ADDR: /128) on lo (removed
#                          again by bind_stop)
#   bind_serial ADDR       the SOA serial ADDR serves
#   bind_tlsa ADDR NAME    the TLSA records ADDR serves for NAME, one a line
#   bind_nsupdate KEY CMDS send an update with nsupdate, signed with KEY
#   bind_driver            define the server driver of tests/lib/dns_scenario.sh
#                          (dns_srv_*) for this topology
#
# BIND_EXTRA_ADDRS (space-separated addresses of NET) makes ns2 listen on
# those too, for tests that need many check server addresses.
#
# BIND_NET6 (an IPv6 prefix ending in "::", e.g. fd00:57:1::) makes the
# topology dual-stack: server i also listens on ${BIND_NET6}i, the zone has
# an AAAA beside each A of ns1-ns3, the primary notifies and transfers to
# the secondaries over IPv6, and the fragment points pftls-roll's resolver
# and update server at the primary's IPv6 address.
#
# The zone: hidden primary ns1 (SOA MNAME only), NS ns2 and ns3, TTLs of
# 5 s, notify and refresh settings lowered as TEST-SERVERS.md describes.
# TSIG keys: pftls-key (may change any TLSA record of the zone),
# limited-key (only TLSA at limited.example.test and at
# _25._tcp.limited.example.test), acme-key (only TXT at
# _acme-challenge.mx.example.test: an ACME client's dns-01), and one key per other
# algorithm (alg-sha1, alg-sha224, alg-sha384, alg-sha512).  The caller
# sets a trap that runs bind_stop.

BIND_PIDS=""
BIND_ADDRS=""
BIND_ZONE=example.test

bind_addr_add() {
	case $1 in
	*:*)
		if ! ip -6 addr show dev lo | grep -q "inet6 $1/128 "; then
			ip -6 addr add "$1/128" dev lo nodad || return 1
			BIND_ADDRS="$BIND_ADDRS $1"
		fi ;;
	*)
		if ! ip -4 addr show dev lo | grep -q "inet $1/32 "; then
			ip addr add "$1/32" dev lo || return 1
			BIND_ADDRS="$BIND_ADDRS $1"
		fi ;;
	esac
}

# bind_conf_common NAME ADDR DIR [EXTRA_ADDRS] [ADDR6]: the options block of
# one server; with ADDR6 it listens there too and talks to other servers
# over IPv6 from it.
bind_conf_common() {
	cat <<CONF
options {
	directory "$3";
	pid-file "$3/named.pid";
	session-keyfile "$3/session.key";
	managed-keys-directory "$3";
	listen-on port 53 { $2; $(for x in ${4:-}; do printf '%s; ' "$x"; done)};
	listen-on-v6 { ${5:-none}; };
$([ -n "${5:-}" ] && printf '\tnotify-source-v6 %s;\n\ttransfer-source-v6 %s;\n\tquery-source-v6 address %s;\n' "$5" "$5" "$5")
	recursion no;
	dnssec-validation no;
	notify-source $2;
	transfer-source $2;
	query-source address $2;
	notify-delay 0;
	notify-rate 1000;
	startup-notify-rate 1000;
	serial-query-rate 1000;
	min-refresh-time 1;
	min-retry-time 1;
	max-refresh-time 10;
	max-retry-time 10;
};
controls { };
logging {
	channel all { stderr; severity info; print-time yes; print-category yes; };
	category default { all; };
	category lame-servers { null; };
};
CONF
}

bind_start() {
	local dir=$1 net=${2:-127.53.0} i
	BIND_NET=$net
	BIND_DIR=$dir
	mkdir -p "$dir/keys" "$dir/p" "$dir/s2" "$dir/s3"
	for i in 1 2 3; do
		bind_addr_add "$net.$i" || return 1
	done
	for i in ${BIND_EXTRA_ADDRS:-}; do
		bind_addr_add "$i" || return 1
	done
	local n6=${BIND_NET6:-} peer=$net
	if [ -n "$n6" ]; then
		for i in 1 2 3; do
			bind_addr_add "$n6$i" || return 1
		done
		peer=$n6
	fi
	tsig-keygen -a hmac-sha256 pftls-key >"$dir/keys/pftls.key"
	tsig-keygen -a hmac-sha256 limited-key >"$dir/keys/limited.key"
	tsig-keygen -a hmac-sha256 acme-key >"$dir/keys/acme.key"
	for a in sha1 sha224 sha384 sha512; do
		tsig-keygen -a hmac-$a alg-$a >"$dir/keys/$a.key"
	done
	chmod 600 "$dir"/keys/*.key

	cat >"$dir/p/$BIND_ZONE.db" <<ZONE
\$TTL 5
@	IN SOA ns1.$BIND_ZONE. hostmaster.$BIND_ZONE. 1 10 2 600 5
@	IN NS ns2.$BIND_ZONE.
@	IN NS ns3.$BIND_ZONE.
ns1	IN A $net.1
ns2	IN A $net.2
ns3	IN A $net.3
mx	IN A $net.25
ZONE
	if [ -n "$n6" ]; then
		for i in 1 2 3; do
			printf 'ns%s\tIN AAAA %s%s\n' "$i" "$n6" "$i"
		done >>"$dir/p/$BIND_ZONE.db"
	fi
	{
		bind_conf_common primary "$net.1" "$dir/p" "" "${n6:+${n6}1}"
		for k in "$dir"/keys/*.key; do
			echo "include \"$k\";"
		done
		cat <<CONF
dnssec-policy "pftls-test" {
	keys { csk lifetime unlimited algorithm ecdsap256sha256; };
	max-zone-ttl 86400;
};
zone "$BIND_ZONE" {
	type primary;
	file "$BIND_ZONE.db";
	dnssec-policy "pftls-test";
	inline-signing yes;
	key-directory "$dir/p";
	update-policy {
		grant pftls-key zonesub TLSA;
		grant limited-key name limited.$BIND_ZONE TLSA;
		grant limited-key name _25._tcp.limited.$BIND_ZONE TLSA;
		grant acme-key name _acme-challenge.mx.$BIND_ZONE TXT;
		grant alg-sha1 zonesub TLSA;
		grant alg-sha224 zonesub TLSA;
		grant alg-sha384 zonesub TLSA;
		grant alg-sha512 zonesub TLSA;
	};
	notify explicit;
	also-notify { $(bind_peer "$peer" 2); $(bind_peer "$peer" 3); };
	allow-transfer { $(bind_peer "$peer" 2); $(bind_peer "$peer" 3); };
};
CONF
	} >"$dir/p/named.conf"
	for i in 2 3; do
		{
			bind_conf_common "s$i" "$net.$i" "$dir/s$i" \
				"$([ "$i" = 2 ] && echo "${BIND_EXTRA_ADDRS:-}")" "${n6:+$n6$i}"
			cat <<CONF
zone "$BIND_ZONE" {
	type secondary;
	primaries { $(bind_peer "$peer" 1); };
	file "$BIND_ZONE.db";
};
CONF
		} >"$dir/s$i/named.conf"
	done
	named -g -n 1 -c "$dir/p/named.conf" >"$dir/p/named.log" 2>&1 &
	BIND_PIDS="$BIND_PIDS $!"
	BIND_PRIMARY_PID=$!
	# The secondaries start once the primary serves the signed zone, so
	# their first transfer already has the signatures.
	bind_wait_signed "$net.1" || { echo "bind: primary did not start (see $dir/p/named.log)" >&2; return 1; }
	for i in 2 3; do
		named -g -n 1 -c "$dir/s$i/named.conf" >"$dir/s$i/named.log" 2>&1 &
		BIND_PIDS="$BIND_PIDS $!"
		eval "BIND_S${i}_PID=$!"
	done
	local serial
	serial=$(bind_serial "$net.1")
	for i in 2 3; do
		bind_wait_serial "$net.$i" "$serial" ||
			{ echo "bind: secondary $net.$i did not load the zone (see $dir/s$i/named.log)" >&2; return 1; }
	done
	# The zone's DS as the trust anchor its TLSA records validate to.
	dig +norec +time=2 +tries=2 @"$net.1" "$BIND_ZONE" DNSKEY 2>/dev/null |
		awk '$4 == "DNSKEY" && $5 == 257' | dnssec-dsfromkey -2 -f - "$BIND_ZONE" >"$dir/anchor"
	[ -s "$dir/anchor" ] || { echo "bind: no DS for the zone's key 257" >&2; return 1; }
	cat >"$dir/pftls-roll.cf.part" <<CF
dns_resolver = $net.1
dns_tsig_key_file = $dir/keys/pftls.key
dnssec_trust_anchor_file = $dir/anchor
tlsa_ttl = 5
CF
	if [ -n "$n6" ]; then
		sed -i "s/^dns_resolver = .*/dns_resolver = [${n6}1]:53/" "$dir/pftls-roll.cf.part"
		echo "dns_update_server = [${n6}1]:53" >>"$dir/pftls-roll.cf.part"
	fi
}

# bind_peer NET I: address I of NET, an IPv4 /24 prefix (127.53.0) or an
# IPv6 prefix ending in "::".
bind_peer() {
	case $1 in
	*::) echo "$1$2" ;;
	*) echo "$1.$2" ;;
	esac
}

# Wait (at most 10 s) until ADDR serves the zone's SOA with an RRSIG.
bind_wait_signed() {
	local i
	for i in $(seq 100); do
		dig +norec +dnssec +time=1 +tries=1 @"$1" "$BIND_ZONE" SOA 2>/dev/null |
			grep -q "RRSIG[[:space:]]*SOA" && return 0
		sleep 0.1
	done
	return 1
}

# Wait (at most 10 s) until ADDR serves serial SERIAL or later.
bind_wait_serial() {
	local i s
	for i in $(seq 100); do
		s=$(bind_serial "$1")
		[[ "$s" =~ ^[0-9]+$ ]] && [ "$s" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

bind_serial() {
	dig +norec +short +time=1 +tries=1 @"$1" "$BIND_ZONE" SOA 2>/dev/null | awk '!/^;/ {print $3}'
}

bind_tlsa() {
	dig +norec +short +nosplit +time=1 +tries=1 @"$1" "$2" TLSA 2>/dev/null | sort
}

bind_nsupdate() {
	local key=$1
	shift
	printf 'server %s\nzone %s\n%s\nsend\n' "$BIND_NET.1" "$BIND_ZONE" "$*" |
		nsupdate -k "$key"
}

bind_stop() {
	local p a
	for p in $BIND_PIDS; do
		kill -CONT "$p" 2>/dev/null
		kill "$p" 2>/dev/null
	done
	for p in $BIND_PIDS; do
		wait "$p" 2>/dev/null
	done
	BIND_PIDS=""
	for a in $BIND_ADDRS; do
		case $a in
		*:*) ip -6 addr del "$a/128" dev lo 2>/dev/null ;;
		*) ip addr del "$a/32" dev lo 2>/dev/null ;;
		esac
	done
	BIND_ADDRS=""
}

# bind_driver: the server driver of tests/lib/dns_scenario.sh for this
# topology: BIND signing primary on NET.1 (127.53.0), secondaries NET.2 and
# NET.3; the stopped-secondary case stops ns3.
bind_driver() {
	DNS_SRV_DRIVER=bind
	DNS_SRV_NAME=BIND
	DNS_SRV_STARTED="BIND topology starts, the secondaries serve the signed zone"
	DNS_SRV_HOSTS="1 2 3"
	DNS_SRV_EVERY="all three servers"
	DNS_SRV_NONE="no server"
	DNS_SRV_STOP_NS=ns3
	DNS_SRV_POLICY_CASE="update the server's policy refuses"
	DNS_SRV_POLICY_ERR="REFUSED from 127.53.0.1:53: the server refused"
	DNS_SRV_UNSIGNED_ERR="REFUSED from 127.53.0.1:53: the server refused"
	dns_srv_start() { bind_start "$1" 127.53.0; }
	dns_srv_stop() { bind_stop; }
	dns_srv_serial() { bind_serial "$1"; }
	dns_srv_tlsa() { bind_tlsa "$1" "$2"; }
	dns_srv_nsupdate() { bind_nsupdate "$@"; }
	dns_srv_secondary_pid() { echo "$BIND_S3_PID"; }
}
