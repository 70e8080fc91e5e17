# tests/lib/unbound.sh - validating unbound resolvers for tests: each one
# pinned to ONE authoritative server of the test zone, caching and honouring
# TTLs like a sending MTA's resolver would, validating with the zone's trust
# anchor, and never recursing anywhere else.  Source it, then:
#
#   unbound_start DIR ADDR AUTH ZONE DS   start a resolver listening on ADDR
#                                         (put on lo as a /32), stub zone
#                                         ZONE -> AUTH only, trust anchor DS
#                                         (a "ZONE. IN DS ..." line); its
#                                         config, log and control socket in DIR
#   unbound_flush DIR NAME TYPE           drop NAME/TYPE from its cache
#   unbound_upstreams DIR                 every address it has queried so far
#   unbound_stop_all                      stop every resolver started (by
#                                         PID) and remove the addresses added
#   unbound_ds_of AUTH ZONE               the DS lines of the zone's KSK/CSK
#                                         (DNSKEY flags 257) served by AUTH
#
# Why each option (TEST-SERVERS.md has the facts):
#  - test. is a default blocked local zone: the test zone is made transparent,
#    and every other name is refused locally ("." refuse), so nothing leaves
#    the test range; the root hints point at an address of the test range no
#    server listens on, should unbound ever prime the root;
#  - do-not-query-localhost: no, for a stub on 127.x; outgoing-interface on
#    the resolver's own address, so its queries come from the test range;
#  - trust-anchor-signaling and root-key-sentinel off: no queries of their own;
#  - val-bogus-ttl 1 (built-in 60 s) and a 1 s infra TTL: a failure is not
#    remembered longer than the zone's TTLs, so a probe sees the present;
#  - prefetch and serve-expired stay off (the defaults): an answer lives
#    exactly its TTL, as the rollover timing assumes of resolvers.
# The caller sets a trap that runs unbound_stop_all.

UNBOUND_PIDS=""
UNBOUND_ADDRS=""

unbound_addr_add() {
	if ! ip -4 addr show dev lo | grep -q "inet $1/32 "; then
		ip addr add "$1/32" dev lo || return 1
		UNBOUND_ADDRS="$UNBOUND_ADDRS $1"
	fi
}

unbound_ds_of() {
	dig +norec +time=2 +tries=2 @"$1" "$2" DNSKEY 2>/dev/null |
		awk '$4 == "DNSKEY" && $5 == 257' | dnssec-dsfromkey -2 -f - "$2"
}

unbound_start() {
	local dir=$1 addr=$2 auth=$3 zone=$4 ds=$5 hintaddr i
	mkdir -p "$dir"
	unbound_addr_add "$addr" || return 1
	# An address of the resolver's own /24 that nothing listens on.
	hintaddr=${addr%.*}.254
	printf '.\t3600000\tIN\tNS\tno-root.invalid.\nno-root.invalid.\t3600000\tIN\tA\t%s\n' \
		"$hintaddr" >"$dir/root.hints"
	cat >"$dir/unbound.conf" <<CONF
server:
	# 3 logs every upstream query and reply: the test can check that a
	# resolver never asked anyone but its one server.
	verbosity: 3
	use-syslog: no
	logfile: ""
	log-time-ascii: yes
	username: ""
	chroot: ""
	directory: "$dir"
	pidfile: "$dir/unbound.pid"
	num-threads: 1
	so-reuseport: no
	interface: $addr
	port: 53
	access-control: 127.0.0.0/8 allow
	outgoing-interface: $addr
	do-ip6: no
	do-not-query-localhost: no
	root-hints: "$dir/root.hints"
	local-zone: "." refuse
	local-zone: "test." nodefault
	local-zone: "$zone." transparent
	trust-anchor-signaling: no
	root-key-sentinel: no
	trust-anchor: "$ds"
	val-bogus-ttl: 1
	infra-host-ttl: 1
	prefetch: no
	serve-expired: no
stub-zone:
	name: "$zone."
	stub-addr: $auth
	stub-prime: no
	stub-first: no
remote-control:
	control-enable: yes
	control-interface: "$dir/control.sock"
	control-use-cert: no
CONF
	unbound-checkconf "$dir/unbound.conf" >"$dir/checkconf.log" 2>&1 ||
		{ echo "unbound: bad configuration: $(tail -2 "$dir/checkconf.log")" >&2; return 1; }
	# In the foreground, and gone with the test even if it is killed.
	setpriv --pdeathsig TERM -- unbound -d -c "$dir/unbound.conf" >"$dir/unbound.log" 2>&1 &
	UNBOUND_PIDS="$UNBOUND_PIDS $!"
	# Up when it answers the zone's SOA, validated (at most 10 s).
	for i in $(seq 100); do
		dig +time=1 +tries=1 +dnssec @"$addr" "$zone" SOA 2>/dev/null |
			grep -q 'flags:.* ad[ ;]' && return 0
		kill -0 "$!" 2>/dev/null || break
		sleep 0.1
	done
	echo "unbound: $addr does not answer validated for $zone (see $dir/unbound.log)" >&2
	return 1
}

unbound_flush() {
	unbound-control -c "$1/unbound.conf" flush_type "$2" "$3" >/dev/null
}

# Every upstream address the resolver in DIR sent a query to or had a reply
# from so far, one a line, from its log (verbosity 3 logs each).
unbound_upstreams() {
	grep -aoE '(sending to target|reply from): <[^>]*> [0-9.]+#[0-9]+' "$1/unbound.log" |
		awk '{ print $NF }' | sort -u
}

unbound_stop_all() {
	local p a
	for p in $UNBOUND_PIDS; do
		kill "$p" 2>/dev/null
	done
	for p in $UNBOUND_PIDS; do
		wait "$p" 2>/dev/null
	done
	UNBOUND_PIDS=""
	for a in $UNBOUND_ADDRS; do
		ip addr del "$a/32" dev lo 2>/dev/null
	done
	UNBOUND_ADDRS=""
}
