# tests/lib/sandbox.sh - the rollover topology of the demo as one function,
# for tests that need the whole thing: a DNSSEC-signing BIND primary NET.1
# with secondaries NET.2 and NET.3 (tests/lib/bind.sh, TTLs of 5 s), a
# Postfix instance on NET.25 (the address of mx.example.test in the zone)
# presenting an RSA and an ECDSA key whose TLSA records are published and
# served everywhere, a pftls-roll.cf for them, and optionally journald and
# pftls-rolld.  Source it (after journald_enter_ns when journald is
# wanted), then:
#
#   sandbox_start DIR NET      set it all up under DIR; sets SB_CF (the
#                              pftls-roll.cf), SB_ETC (Postfix config dir),
#                              SB_MX (Postfix address), SB_KEY_rsa,
#                              SB_KEY_ecdsa, SB_CERT_rsa, SB_CERT_ecdsa
#                              (the deployed files), SB_TSIG (TSIG key file)
#   sandbox_daemon_start       start pftls-rolld on SB_CF (SB_DAEMON_PID)
#   sandbox_tlsa ADDR          the TLSA rdata ADDR serves, one a line
#   sandbox_wait_tlsa N EXPECT wait (at most N tenths of a second) until
#                              every BIND server serves exactly EXPECT
#                              (sorted lines, as sandbox_tlsa prints)
#   sandbox_stop               stop everything started, remove addresses
#
# Everything listens on addresses of NET only; journald runs only inside
# the caller's mount namespace (PFTLS_JOURNALD_NS=1).

SB_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$SB_LIB/bind.sh"
. "$SB_LIB/postfix_instance.sh"
. "$SB_LIB/journald.sh"
SB_ROOT=$(cd "$SB_LIB/../.." && pwd)
SB_PFTLS=${SB_PFTLS:-$SB_ROOT/build/pftls-roll}
SB_ROLLD=${SB_ROLLD:-$SB_ROOT/build/pftls-rolld}
SB_NAME=_25._tcp.mx.example.test
SB_DAEMON_PID=
SB_DIR=

# One line per TLSA record ADDR serves: "3 1 1 hex" in lowercase.
sandbox_tlsa() {
	dig +norec +short +nosplit +time=1 +tries=1 @"$1" "$SB_NAME" TLSA 2>/dev/null |
		tr 'A-F' 'a-f' | sort
}

sandbox_wait_tlsa() {
	local n=$1 want=$2 i s ok
	for i in $(seq "$n"); do
		ok=1
		for s in "$BIND_NET.1" "$BIND_NET.2" "$BIND_NET.3"; do
			[ "$(sandbox_tlsa "$s")" = "$want" ] || { ok=0; break; }
		done
		[ $ok = 1 ] && return 0
		sleep 0.1
	done
	return 1
}

sandbox_start() {
	local dir=$1 net=$2 a
	SB_DIR=$dir
	[ -x "$SB_PFTLS" ] && [ -x "$SB_ROLLD" ] ||
		{ echo "sandbox: build first (make)" >&2; return 1; }
	if [ "${PFTLS_JOURNALD_NS:-}" = 1 ]; then
		journald_start "$dir" || { echo "sandbox: journald did not start" >&2; return 1; }
	fi
	bind_start "$dir/bind" "$net" >/dev/null || return 1
	SB_TSIG=$dir/bind/keys/pftls.key
	SB_MX=$net.25
	bind_addr_add "$SB_MX" || return 1
	pfi_create "$dir/postfix" "$SB_MX" mx.example.test
	SB_ETC=$dir/postfix/etc
	"$SB_PFTLS" -C "$SB_ETC" new-server-key >/dev/null &&
		"$SB_PFTLS" -C "$SB_ETC" new-server-key -a ecdsa >/dev/null || return 1
	SB_KEY_rsa=$(ls "$SB_ETC"/key-*.pem) SB_CERT_rsa=$(ls "$SB_ETC"/cert-*.pem)
	SB_KEY_ecdsa=$(ls "$SB_ETC"/eckey-*.pem) SB_CERT_ecdsa=$(ls "$SB_ETC"/eccert-*.pem)
	for a in rsa ecdsa; do
		eval "\"\$SB_PFTLS\" -C \"\$SB_ETC\" deploy-server-cert \"\$SB_CERT_$a\" \"\$SB_KEY_$a\"" \
			>/dev/null || return 1
	done
	pfi_start "$dir/postfix" || return 1
	SB_CF=$dir/pftls-roll.cf
	cat "$dir/bind/pftls-roll.cf.part" >"$SB_CF"
	cat >>"$SB_CF" <<EOF
postfix_config_directory = $SB_ETC
key_algorithms = rsa, ecdsa
tlsa_hostnames = mx.example.test
publish_safety = 2s
retire_delay = 5s
verify_endpoints = $SB_MX:25
state_directory = $dir/state
rollover_scheme = on-demand
control_socket = $dir/control
EOF
	"$SB_PFTLS" -c "$SB_CF" publish "$SB_KEY_rsa" "$SB_KEY_ecdsa" >"$dir/publish.log" 2>&1 ||
		{ echo "sandbox: publishing the first records failed: $(tail -1 "$dir/publish.log")" >&2; return 1; }
	sandbox_wait_tlsa 100 "$(sandbox_rdata "$SB_KEY_rsa" "$SB_KEY_ecdsa")" ||
		{ echo "sandbox: the first records are not served everywhere" >&2; return 1; }
}

# The "3 1 1" rdata of KEYFILEs, sorted, computed with openssl(1) alone.
sandbox_rdata() {
	local k
	for k in "$@"; do
		printf '3 1 1 %s\n' "$(openssl pkey -in "$k" -pubout -outform DER 2>/dev/null |
			openssl dgst -sha256 -r | cut -d' ' -f1)"
	done | sort
}

sandbox_daemon_start() {
	local i
	"$SB_ROLLD" -c "$SB_CF" >"$SB_DIR/rolld.log" 2>&1 &
	SB_DAEMON_PID=$!
	for i in $(seq 50); do
		[ -S "$SB_DIR/control" ] && return 0
		kill -0 "$SB_DAEMON_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "sandbox: pftls-rolld did not start (see $SB_DIR/rolld.log)" >&2
	return 1
}

sandbox_stop() {
	if [ -n "$SB_DAEMON_PID" ]; then
		kill "$SB_DAEMON_PID" 2>/dev/null
		wait "$SB_DAEMON_PID" 2>/dev/null
		SB_DAEMON_PID=
	fi
	[ -n "$SB_DIR" ] && pfi_stop "$SB_DIR/postfix"
	bind_stop
	journald_stop
}
