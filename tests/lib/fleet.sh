# tests/lib/fleet.sh - what the fleet tests share: a second MX host (host
# B: its own Postfix, keys, pftls-roll.cf, state directory and control
# socket) beside the sandbox's host A, and a poller that records the TLSA
# RRset every BIND server serves.  Sourced after tests/lib/sandbox.sh, which
# provides the sandbox ($SB_CF, $SB_NAME, bind_addr_add, pfi_*), with $NET
# the sandbox's /24 (servers $NET.1-.3) and $D the test's directory.

# fleet_rrset_poll OUT: every 0.2 s (at most 180 s, until $D/poll.stop), one
# line per BIND server: "R SENT SERVER LIST RECEIVED", LIST the sorted,
# ","-joined SPKI hashes of its "3 1 1" records, "-" for none, "?" for no
# answer; SENT and RECEIVED the times the question left and the answer came:
# the server served LIST at some moment between the two.
fleet_rrset_poll() {
	local i s t out
	for ((i = 0; i < 900; i++)); do
		[ -e "$D/poll.stop" ] && return
		for s in 1 2 3; do
			t=$EPOCHREALTIME
			if out=$(dig +norec +nosplit +time=1 +tries=1 @"$NET.$s" "$SB_NAME" TLSA 2>/dev/null) &&
				grep -q 'status: NOERROR' <<<"$out"; then
				out=$(awk '$4 == "TLSA" && $5 == 3 && $6 == 1 && $7 == 1 { print tolower($8) }' <<<"$out" |
					sort | paste -sd, -)
			else
				out="?"
			fi
			echo "R $t $NET.$s ${out:--} $EPOCHREALTIME" >>"$1"
		done
		sleep 0.2
	done
}

# fleet_host_b ADDR: host B, a second Postfix answering as mx.example.test
# on ADDR with an RSA and an ECDSA key of its own, deployed and running,
# and its pftls-roll.cf: host A's ($SB_CF) but for the four lines that make
# it host B's.  Its keys' records are published (pftls-roll publish) but
# not waited for.  Sets ADDR_B, ETC_B, CF_B, B_KEY_rsa, B_CERT_rsa,
# B_KEY_ecdsa, B_CERT_ecdsa; what the commands said is in $D/b/keys.log and
# $D/b/publish.log.  Returns non-zero when a step failed.
fleet_host_b() {
	local pftls=${SB_PFTLS:-build/pftls-roll}
	ADDR_B=$1
	mkdir -p "$D/b"
	ETC_B=$D/b/postfix/etc
	CF_B=$D/b/pftls-roll.cf
	bind_addr_add "$ADDR_B" && pfi_create "$D/b/postfix" "$ADDR_B" mx.example.test || return 1
	"$pftls" -C "$ETC_B" new-server-key >"$D/b/keys.log" 2>&1 &&
		"$pftls" -C "$ETC_B" new-server-key -a ecdsa >>"$D/b/keys.log" 2>&1 || return 1
	B_KEY_rsa=$(ls "$ETC_B"/key-*.pem) B_CERT_rsa=$(ls "$ETC_B"/cert-*.pem)
	B_KEY_ecdsa=$(ls "$ETC_B"/eckey-*.pem) B_CERT_ecdsa=$(ls "$ETC_B"/eccert-*.pem)
	"$pftls" -C "$ETC_B" deploy-server-cert "$B_CERT_rsa" "$B_KEY_rsa" >>"$D/b/keys.log" 2>&1 &&
		"$pftls" -C "$ETC_B" deploy-server-cert "$B_CERT_ecdsa" "$B_KEY_ecdsa" >>"$D/b/keys.log" 2>&1 &&
		pfi_start "$D/b/postfix" || return 1
	sed -e "s|^postfix_config_directory = .*|postfix_config_directory = $ETC_B|" \
		-e "s|^state_directory = .*|state_directory = $D/b/state|" \
		-e "s|^control_socket = .*|control_socket = $D/b/control|" \
		-e "s|^verify_endpoints = .*|verify_endpoints = $ADDR_B:25|" "$SB_CF" >"$CF_B" || return 1
	"$pftls" -c "$CF_B" publish "$B_KEY_rsa" "$B_KEY_ecdsa" >"$D/b/publish.log" 2>&1
}
