# tests/lib/dns_scenario.sh - the DNS integration scenario, run once per
# server driver (tests/integ/dns_bind.sh, tests/integ/dns_knot.sh): publish,
# propagation and retire against a real signing primary that takes
# TSIG-signed updates only, with its secondaries; every outcome is checked by
# asking the servers.  Source dns_common.sh and a driver (bind.sh, or
# bind.sh then knot.sh), call the driver's bind_driver / knot_driver, then
# dns_scenario.
#
# The driver interface (functions and variables the driver defines):
#   dns_srv_start DIR      start the topology serving example.test: the
#                          primary (update server, SOA MNAME only) on
#                          $BIND_NET.1, the secondaries (NS) after it; write
#                          DIR/pftls-roll.cf.part and DIR/keys/*.key
#                          (pftls, limited, sha1, sha224, sha384, sha512)
#   dns_srv_stop           stop everything dns_srv_start started
#   dns_srv_serial ADDR    the SOA serial ADDR serves
#   dns_srv_tlsa ADDR NAME the TLSA records ADDR serves at NAME, sorted
#   dns_srv_nsupdate KEY CMDS   an update to the primary with nsupdate
#   dns_srv_secondary_pid  the PID of the secondary DNS_SRV_STOP_NS runs on
#   DNS_SRV_NAME           the primary's implementation, in check names
#   DNS_SRV_STARTED        the check name of a successful start
#   DNS_SRV_HOSTS          the last octets of the servers, primary first
#   DNS_SRV_EVERY / DNS_SRV_NONE   "both servers" / "neither server" ...
#   DNS_SRV_STOP_NS        the secondary stopped in the "stopped secondary"
#                          case (ns2, ns3)
#   DNS_SRV_POLICY_CASE, DNS_SRV_POLICY_ERR   the case name, and the message
#                          (a grep pattern) of an update the limited key's
#                          policy or ACL does not allow
#   DNS_SRV_UNSIGNED_ERR   the message of an unsigned update
#
# Every case runs against every driver; only the servers' answers that
# differ by implementation (how a refused update is answered) come from it.

# served ADDR [OWNER]: the TLSA records ADDR serves at OWNER (default NAME),
# one a line, sorted.
served() { dns_srv_tlsa "$1" "${2:-$NAME}"; }
# all_serve "3 1 1 HEX" [OWNER]: every server serves the record.
all_serve() {
	local a
	for a in $DNS_SRV_HOSTS; do served "$NET.$a" "${2:-$NAME}" | grep -qx "$1" || return 1; done
}
none_serve() {
	local a
	for a in $DNS_SRV_HOSTS; do served "$NET.$a" "${2:-$NAME}" | grep -qx "$1" && return 1; done
	return 0
}
# Wait until every secondary serves the primary's serial (bounded).
settle() {
	local s a
	s=$(dns_srv_serial "$NET.1")
	for a in $DNS_SRV_HOSTS; do
		[ "$a" = 1 ] || bind_wait_serial "$NET.$a" "$s" || return 1
	done
}
# signed_tlsa ADDR OWNER: ADDR serves an RRSIG over the TLSA RRset.
signed_tlsa() {
	dig +norec +dnssec +time=1 +tries=1 @"$1" "$2" TLSA | grep -q "RRSIG[[:space:]]*TLSA"
}
# all_signed OWNER: every server serves an RRSIG over the TLSA RRset.
all_signed() {
	local a
	for a in $DNS_SRV_HOSTS; do signed_tlsa "$NET.$a" "$1" || return 1; done
}
# n_servers: how many servers the topology has.
n_servers() { wc -w <<<"$DNS_SRV_HOSTS"; }

# conf FILE [name = value...]: a pftls-roll.cf for the test topology; the
# lines given replace the defaults of the same name.
conf() { dns_conf "$T/dns/pftls-roll.cf.part" "$@"; }

dns_scenario() {
	T=$(mktemp -d "/tmp/pftls-dns-$DNS_SRV_DRIVER.XXXXXX")
	trap 'dns_srv_stop; rm -rf "$T"' EXIT
	dns_srv_start "$T/dns" || { fail "$DNS_SRV_STARTED"; exit 1; }
	pass "$DNS_SRV_STARTED"
	NET=$BIND_NET
	KEYS=$T/dns/keys
	NAME=_25._tcp.mx.example.test
	PF=$T/postfix
	mkdir -p "$PF"
	printf 'myhostname = mx.example.test\n' >"$PF/main.cf"
	touch "$PF/master.cf"
	conf "$T/cf"
	CF=$T/cf

	dns_case_publish
	dns_case_tsig_algorithms
	dns_case_stopped_secondary
	dns_case_large_update
	dns_case_truncated_rrset
	dns_case_others_records
	dns_six_writers
	dns_case_failures
	dns_case_deployed
}

# ---- -n, publish, propagation --wait, retire ---------------------------
dns_case_publish() {
	local a s serial0
	K1=$(new_key "$PF" eckey-20250101-000000.pem ec)
	K2=$(new_key "$PF" key-20250101-000000.pem rsa)
	R1="3 1 1 $(spki_hex "$K1")"
	R1b="3 1 2 $(spki_hex "$K1" sha512)"
	R2="3 1 1 $(spki_hex "$K2")"

	# -n prints the message and sends nothing.
	serial0=$(dns_srv_serial "$NET.1")
	run -c "$CF" publish -n "$K1"
	check "publish -n exits 0 ($ERR)" [ "$RC" -eq 0 ]
	check "publish -n prints an UPDATE with a 'RRset does not exist' prerequisite" \
		grep -q "NONE	TLSA" <<<"$OUT"
	check "publish -n prints both records of the key" \
		[ "$(grep -ic "IN	TLSA	3 1 [12] " <<<"$OUT")" -eq 2 ]
	check "publish -n changes nothing on the primary" \
		[ "$(dns_srv_serial "$NET.1")" = "$serial0" -a -z "$(served "$NET.1")" ]

	run -c "$CF" publish "$K1" "$K2"
	check "publish of two keys to $DNS_SRV_NAME exits 0 ($ERR)" [ "$RC" -eq 0 ]
	check "publish reports 4 records added in 1 message, signed" \
		grep -q "4 added, 0 already present, in 1 update message;.*signed" <<<"$OUT"
	check "$DNS_SRV_NAME serves the records as soon as it acknowledged the update" \
		eval 'served $NET.1 | grep -qx "$R1" && served $NET.1 | grep -qx "$R2"'
	run -c "$CF" propagation --wait "$K1" "$K2"
	check "propagation --wait exits 0 ($ERR)" [ "$RC" -eq 0 ]
	check "propagation says every server serves every record" \
		grep -q "every check server serves every record" <<<"$OUT"
	check "the tool's claim holds: $DNS_SRV_EVERY serve all 4 records" \
		eval 'all_serve "$R1" && all_serve "$R1b" && all_serve "$R2"'
	for a in $DNS_SRV_HOSTS; do
		s=$(dns_srv_serial "$NET.$a")
		check "propagation row for $NET.$a: serial $s, 4/4, RRSIG yes, TTL 5, validates, ok" \
			grep -Eq "$NET\.$a:53 +$s +4/4 +yes +5 +validates +ok" <<<"$OUT"
		check "$NET.$a really serves an RRSIG over the TLSA RRset" signed_tlsa "$NET.$a" "$NAME"
	done
	check "the hidden $DNS_SRV_NAME primary (SOA MNAME, not an NS) is checked and marked as update server" \
		grep -q "ns1.example.test. (update) *$NET.1:53" <<<"$OUT"
	check "SOA TTL and MINIMUM reported" grep -q "SOA 5 s, SOA MINIMUM 5 s" <<<"$OUT"
	check "propagation --wait says when deployment becomes safe" \
		grep -q "deployment becomes safe at" <<<"$OUT"
	run -c "$CF" publish "$K1"
	check "publishing again sends nothing: already present" \
		eval '[ $RC -eq 0 ] && grep -q "0 added, 2 already present, in 0 update messages" <<<"$OUT"'
	run -c "$CF" retire "$K1" "$K2"
	check "retire of both keys from $DNS_SRV_NAME exits 0 ($ERR)" \
		eval '[ $RC -eq 0 ] && grep -q "4 deleted, 0 already absent, in 1 update message" <<<"$OUT"'
	settle
	check "after retire $DNS_SRV_NONE serves the records" \
		eval 'none_serve "$R1" && none_serve "$R1b" && none_serve "$R2"'
	check "the empty name is covered by signed denial (NSEC with RRSIG) on $DNS_SRV_EVERY" \
		eval 'for a in $DNS_SRV_HOSTS; do dig +norec +dnssec @$NET.$a $NAME TLSA | grep -q "RRSIG[[:space:]]*NSEC" || exit 1; done'
}

# ---- every TSIG algorithm ----------------------------------------------
dns_case_tsig_algorithms() {
	local a K
	for a in sha1 sha224 sha384 sha512; do
		conf "$T/cf-$a" "dns_tsig_key_file = $KEYS/$a.key" "tlsa_records = 3 1 1"
		K=$(new_key "$PF" "eckey-alg-$a.pem" ec)
		run -c "$T/cf-$a" publish "$K"
		check "hmac-$a: publish signed and $DNS_SRV_NAME's reply verified ($ERR)" \
			eval '[ $RC -eq 0 ] && grep -qx "3 1 1 $(spki_hex "$K")" <<<"$(served $NET.1)"'
		run -c "$T/cf-$a" retire "$K"
		check "hmac-$a: retire ($ERR)" \
			eval '[ $RC -eq 0 ] && ! grep -qx "3 1 1 $(spki_hex "$K")" <<<"$(served $NET.1)"'
	done
	settle
}

# ---- a stopped secondary -------------------------------------------------
dns_case_stopped_secondary() {
	local ns=$DNS_SRV_STOP_NS pid addr wpid guard wrc i K3 R3
	pid=$(dns_srv_secondary_pid)
	addr=$NET.${ns#ns}
	K3=$(new_key "$PF" eckey-20250102-000000.pem ec)
	R3="3 1 1 $(spki_hex "$K3")"
	kill -STOP "$pid"
	run -c "$CF" publish "$K3"
	check "publish while $ns is stopped succeeds ($ns is not the update server)" [ "$RC" -eq 0 ]
	run -c "$CF" propagation "$K3"
	check "propagation with $ns stopped exits 1" [ "$RC" -eq 1 ]
	check "propagation names $ns as not answering" \
		grep -Eq "$ns.example.test. +$addr:53 +- +- .*no answer" <<<"$OUT"
	check "propagation says not every server serves every record" \
		grep -q "not every check server serves every record" <<<"$OUT"
	# --wait must keep waiting while the secondary is stopped, and finish
	# after SIGCONT.
	"$PFTLS" -c "$CF" propagation --wait "$K3" >"$T/wait.out" 2>"$T/wait.err" &
	wpid=$!
	# It cannot finish while the secondary cannot answer; wait until it
	# has said so.
	for i in $(seq 100); do grep -q "waiting for $ns" "$T/wait.err" && break; sleep 0.1; done
	check "propagation --wait reports it is waiting for $ns" \
		grep -q "waiting for $ns.example.test. $addr:53" "$T/wait.err"
	check "propagation --wait is still waiting while $ns is stopped" kill -0 "$wpid"
	kill -CONT "$pid"
	# Bounded: the command has 60 s to notice, then it is stopped.
	(
		sleep 60
		kill "$wpid" 2>/dev/null
	) &
	guard=$!
	wait "$wpid"
	wrc=$?
	kill "$guard" 2>/dev/null
	check "propagation --wait finishes with 0 after SIGCONT" [ "$wrc" -eq 0 ]
	check "after SIGCONT $ns serves the new record" eval 'served $addr | grep -qx "$R3"'
	run -c "$CF" retire "$K3"
	settle
}

# ---- a large update goes over TCP ----------------------------------------
dns_case_large_update() {
	local hosts K8 K8b R8 rc
	hosts=$(for i in $(seq 30); do printf 'mx%02d.example.test ' "$i"; done)
	conf "$T/cf-many" "tlsa_hostnames = $hosts"
	K8=$(new_key "$PF" eckey-20250105-000000.pem ec)
	R8="3 1 1 $(spki_hex "$K8")"
	"$PFTLS" -v -c "$T/cf-many" publish "$K8" >"$T/many.out" 2>"$T/many.err"
	rc=$?
	check "publish of 60 records to $DNS_SRV_NAME exits 0" [ "$rc" -eq 0 ]
	check "the update (over 512 octets) went over TCP in one message" \
		eval 'grep -q "sending update 1 of 1 .* over TCP" "$T/many.err" &&
			grep -q "60 added, 0 already present, in 1 update message" "$T/many.out"'
	# 1,400 records (350 names, 2 keys, the 2 record types of
	# tlsa_records) do not fit one message: a dry run shows the split, each
	# message within the limit and all but the last filled, every record in
	# exactly one of them, next to its owner's prerequisite.
	conf "$T/cf-split" "tlsa_hostnames = $(for i in $(seq 350); do printf 'sp%d.example.test ' "$i"; done)"
	K8b=$(new_key "$PF" eckey-20250107-000000.pem ec)
	"$PFTLS" -c "$T/cf-split" publish -n "$K8" "$K8b" >"$T/split.out" 2>"$T/split.err"
	rc=$?
	check "publish -n of 1,400 records: several messages, each within 65,535 octets with room for the TSIG, all but the last over 60,000 ($rc)" \
		eval '[ $rc -eq 0 ] &&
			sed -n "s/^;; UPDATE message \([0-9]*\) of \([0-9]*\) .*, \([0-9]*\) bytes before TSIG.*/\1 \2 \3/p" "$T/split.out" |
			awk "{ if (\$1 != NR || \$3 > 65535 - 364 || (\$1 < \$2 && \$3 < 60000)) bad = 1; n = \$2 } END { exit bad || NR < 2 || NR != n }"'
	check "publish -n of 1,400 records: each record once, with its owner's prerequisite in the same message" \
		eval 'awk "/^;; UPDATE message/ { m++ } /NONE[[:space:]]+TLSA/ { pre[\$1] = m } /IN[[:space:]]+TLSA[[:space:]]+3 1 [12] / { if (pre[\$1] != m || seen[\$0]++) bad = 1; n++ } END { exit bad || n != 1400 }" "$T/split.out"'
	run -c "$T/cf-many" propagation --wait "$K8"
	check "propagation --wait of 60 records exits 0 ($ERR)" \
		eval '[ $RC -eq 0 ] && grep -Eq "$NET.2:53 .* 60/60 +yes" <<<"$OUT"'
	check "the first and the last name are served by $DNS_SRV_EVERY" \
		eval 'all_serve "$R8" _25._tcp.mx01.example.test && all_serve "$R8" _25._tcp.mx30.example.test'
	run -c "$T/cf-many" retire "$K8"
	check "retire of 60 records exits 0 ($ERR)" \
		eval '[ $RC -eq 0 ] && grep -q "60 deleted, 0 already absent, in 1 update message" <<<"$OUT"'
	settle
	check "after retire the last name is served by $DNS_SRV_NONE" \
		none_serve "$R8" _25._tcp.mx30.example.test
}

# ---- an RRset too large for UDP: the server truncates, we read it over TCP
dns_case_truncated_rrset() {
	local BIG=_25._tcp.big.example.test K9 R9 big_before a same
	dns_srv_nsupdate "$KEYS/pftls.key" "$(for i in $(seq 20); do
		printf 'update add %s. 5 IN TLSA 3 1 2 %0128X\n' "$BIG" "$i"
	done)" >/dev/null
	settle
	check "setup: $DNS_SRV_NAME truncates the 20-record RRset over UDP" \
		eval 'dig +norec +dnssec +ignore @$NET.1 $BIG TLSA | grep -q "flags: qr aa tc"'
	conf "$T/cf-big" "tlsa_hostnames = big.example.test" "tlsa_records = 3 1 1"
	K9=$(new_key "$PF" eckey-20250106-000000.pem ec)
	R9="3 1 1 $(spki_hex "$K9")"
	big_before=$(served "$NET.1" "$BIG")
	run -c "$T/cf-big" publish "$K9"
	check "publish next to 20 records (read over TCP) exits 0 ($ERR)" \
		eval '[ $RC -eq 0 ] && grep -q "1 added, 0 already present, in 1 update message" <<<"$OUT"'
	run -c "$T/cf-big" propagation --wait "$K9"
	check "propagation of the truncated RRset: $DNS_SRV_EVERY 1/1 signed, validates ($ERR)" \
		eval '[ $RC -eq 0 ] && [ "$(grep -Ec ":53 +[0-9]+ +1/1 +yes +5 +validates +ok" <<<"$OUT")" -eq "$(n_servers)" ]'
	same=1
	for a in $DNS_SRV_HOSTS; do
		[ "$(served "$NET.$a" "$BIG" | grep -c "^3 1 2 ")" -eq 20 ] || same=0
	done
	check "$DNS_SRV_EVERY serve our record and the 20 others" \
		eval 'all_serve "$R9" $BIG && [ "$same" = 1 ]'
	run -c "$T/cf-big" retire "$K9"
	settle
	same=1
	for a in $DNS_SRV_HOSTS; do
		[ "$(served "$NET.$a" "$BIG")" = "$big_before" ] || same=0
	done
	check "retire from the large RRset leaves exactly the 20 others ($ERR)" \
		eval '[ $RC -eq 0 ] && [ "$same" = 1 ]'
}

# ---- records we did not create survive publish and retire --------------
# Leaves OTHER and USAGE2 published for dns_six_writers.
dns_case_others_records() {
	local before
	OTHER="3 1 1 $(printf '%064d' 0 | tr 0 A)"
	USAGE2="2 1 1 $(printf '%064d' 0 | tr 0 B)"
	dns_srv_nsupdate "$KEYS/pftls.key" "update add $NAME. 7 IN TLSA ${OTHER}
update add $NAME. 7 IN TLSA ${USAGE2}" >/dev/null
	settle
	check "setup: $DNS_SRV_EVERY serve another host's record and a usage-2 record" \
		eval 'all_serve "$OTHER" && all_serve "$USAGE2"'
	K4=$(new_key "$PF" eckey-20250103-000000.pem ec)
	R4="3 1 1 $(spki_hex "$K4")"
	before=$(served "$NET.1")
	run -c "$CF" publish "$K4"
	check "publish into an RRset holding others' records exits 0 ($ERR)" [ "$RC" -eq 0 ]
	check "publish joins the existing RRset with its TTL (7), not tlsa_ttl" \
		grep -q "added .* 7 IN TLSA 3 1 1" <<<"$OUT"
	settle
	check "our records are served next to the others'" all_serve "$R4"
	check "another host's 3 1 1 record survives publish" all_serve "$OTHER"
	check "the usage-2 record survives publish" all_serve "$USAGE2"
	check "the RRset TTL is still 7" \
		eval "dig +norec @$NET.1 $NAME TLSA | grep -q \"^$NAME\\.[[:space:]]*7[[:space:]]\""
	run -c "$CF" retire "$K4"
	check "retire exits 0 ($ERR)" [ "$RC" -eq 0 ]
	settle
	check "retire removed our records" eval 'none_serve "$R4"'
	check "another host's 3 1 1 record survives retire" all_serve "$OTHER"
	check "the usage-2 record survives retire" all_serve "$USAGE2"
	check "the RRset is what it was before publish" [ "$(served "$NET.1")" = "$before" ]
	check "the remaining RRset is still signed on $DNS_SRV_EVERY" all_signed "$NAME"

	# A record someone else removed meanwhile is reported.
	run -c "$CF" publish "$K4"
	dns_srv_nsupdate "$KEYS/pftls.key" "update delete $NAME. IN TLSA $R4" >/dev/null
	run -c "$CF" retire "$K4"
	check "retire of a record someone else already removed: exit 0, reported as already absent" \
		eval '[ $RC -eq 0 ] && grep -q "already absent  *$NAME. IN TLSA $(tr A-F a-f <<<"$R4")" <<<"$OUT"'
}

# snapshot: every server's serial and TLSA records at the two names the
# failure cases could change.
snapshot() {
	local a
	for a in $DNS_SRV_HOSTS; do
		dns_srv_serial "$NET.$a"
		served "$NET.$a"
		served "$NET.$a" _25._tcp.limited.example.test
	done
}

# expect_fail NAME PATTERN CF: publish K7 fails with PATTERN (grep), the
# zone unchanged.
expect_fail() {
	run -c "$3" publish "$K7"
	check "$1: exit 1" [ "$RC" -eq 1 ]
	check "$1: message says \"$2\" ($ERR)" grep -q -- "$2" <<<"$ERR"
	check "$1: one line on stderr" [ "$(wc -l <<<"$ERR")" -eq 1 ]
	check "$1: nothing changed on any server" [ "$(snapshot)" = "$zone_before" ]
}

# ---- failures: clear error, non-zero exit, nothing changed -------------
dns_case_failures() {
	K7=$(new_key "$PF" eckey-20250104-000000.pem ec)
	R7="3 1 1 $(spki_hex "$K7")"
	settle
	zone_before=$(snapshot)
	# A wrong secret for the right key name.
	sed "s|secret \".*\"|secret \"$(openssl rand -base64 32)\"|" "$KEYS/pftls.key" >"$T/wrong.key"
	chmod 600 "$T/wrong.key"
	conf "$T/cf-wrong" "dns_tsig_key_file = $T/wrong.key"
	expect_fail "wrong TSIG secret" "BADSIG from $NET.1:53: the server could not verify our TSIG signature" "$T/cf-wrong"
	tsig-keygen -a hmac-sha256 no-such-key >"$T/unknown.key"
	chmod 600 "$T/unknown.key"
	conf "$T/cf-unknown" "dns_tsig_key_file = $T/unknown.key"
	expect_fail "unknown TSIG key name" "BADKEY from $NET.1:53: the server does not know the TSIG key" "$T/cf-unknown"
	conf "$T/cf-limited" "dns_tsig_key_file = $KEYS/limited.key"
	expect_fail "$DNS_SRV_POLICY_CASE" "$DNS_SRV_POLICY_ERR" "$T/cf-limited"
	conf "$T/cf-limited-ok" "dns_tsig_key_file = $KEYS/limited.key" "tlsa_hostnames = limited.example.test"
	run -c "$T/cf-limited-ok" publish "$K7"
	check "the limited key may change its own name: the ACL, not the key, refused before ($ERR)" \
		eval '[ $RC -eq 0 ] && served $NET.1 _25._tcp.limited.example.test | grep -qx "$R7"'
	run -c "$T/cf-limited-ok" retire "$K7"
	settle
	zone_before=$(snapshot)
	grep -v '^dns_tsig_key_file' "$CF" >"$T/cf-unsigned"
	expect_fail "an unsigned update" "$DNS_SRV_UNSIGNED_ERR" "$T/cf-unsigned"
	conf "$T/cf-outside" "tlsa_hostnames = mx.elsewhere.test"
	expect_fail "a name outside any zone" "cannot look up _25._tcp.mx.elsewhere.test. SOA: resolver $NET.1:53: REFUSED" "$T/cf-outside"
	conf "$T/cf-notzone" "tlsa_hostnames = mx.elsewhere.test" "dns_zone = example.test"
	run -c "$T/cf-notzone" publish "$K7"
	check "a name outside dns_zone: exit 2 and the name in the message" \
		eval '[ $RC -eq 2 ] && grep -q "_25._tcp.mx.elsewhere.test. is not in dns_zone example.test." <<<"$ERR"'
	cp "$KEYS/pftls.key" "$T/open.key"
	chmod 644 "$T/open.key"
	conf "$T/cf-open" "dns_tsig_key_file = $T/open.key"
	run -c "$T/cf-open" publish "$K7"
	check "a TSIG key file readable by others: exit 3, file and mode named" \
		eval '[ $RC -eq 3 ] && grep -q "$T/open.key has mode 0644" <<<"$ERR"'
	check "no TSIG secret in any output" \
		eval '! grep -qF "$(sed -n "s/.*secret \"\(.*\)\".*/\1/p" "$KEYS/pftls.key")" <<<"$OUT$ERR"'
	check "after all failures the zone is unchanged" [ "$(snapshot)" = "$zone_before" ]
}

# ---- retire refuses a deployed key ---------------------------------------
dns_case_deployed() {
	run -c "$CF" publish "$K7"
	postconf -c "$PF" -e "smtpd_tls_eckey_file = $K7" 2>/dev/null
	run -c "$CF" retire "$K7"
	check "retire of the key main.cf deploys: exit 3, says why" \
		eval '[ $RC -eq 3 ] && grep -q "refusing to retire $K7: Postfix uses this key (smtpd_tls_eckey_file" <<<"$ERR"'
	check "the deployed key's records are still served" eval 'served $NET.1 | grep -qx "$R7"'
	cp "$K7" "$PF/copy-of-k7.pem"
	postconf -c "$PF" -e "smtpd_tls_eckey_file = $PF/copy-of-k7.pem" 2>/dev/null
	run -c "$CF" retire "$K7"
	check "retire refuses a key deployed under another file name (same public key)" [ "$RC" -eq 3 ]
	postconf -c "$PF" -e "smtpd_tls_eckey_file =" 2>/dev/null
	run -c "$CF" retire "$K7"
	check "retire once it is no longer deployed" [ "$RC" -eq 0 ]

	run -c "$CF" publish
	check "publish without key files and no pending rollover: refused, exit 3" \
		eval '[ $RC -eq 3 ] && grep -q "no pending keys to publish" <<<"$ERR"'
}
