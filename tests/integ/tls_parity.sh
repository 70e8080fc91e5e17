#!/bin/bash
# tls_parity.sh - the "postfix tls" subcommands of pftls-roll against
# Debian's own "postfix tls" (postfix-tls-script), side by side on scratch
# Postfix config dirs under a temp dir (never /etc/postfix): same TLSA
# output, same all-default verdicts, same main.cf settings and texts; keys,
# certificates and CSRs checked with openssl(1), independent of our code;
# and bad input refused with one line and no change to any file.
# Budget: well under 2 minutes (Debian's script is the slow side).
set -u
. "$(dirname "$0")/../lib/postfix.sh"
pf_enter_namespace "$0" "$@"
pf_tmproot
[ -x "$PFTLS" ] || { fail setup "$PFTLS not built"; exit 1; }
T=$PF_TMP

# ---------------------------------------------------------------------------
# Keys made by openssl(1): RSA, each curve, and the "EC PARAMETERS + EC
# PRIVATE KEY" layout that postfix-tls-script's "openssl ecparam" writes.
K=$T/keys
mkdir -p "$K"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$K/rsa.pem" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$K/rsa2.pem" 2>/dev/null
for c in 256 384 521; do
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-$c -out "$K/ec$c.pem" 2>/dev/null
done
openssl ecparam -param_enc named_curve -genkey -name secp384r1 -out "$K/ecparam.pem" 2>/dev/null
selfsign() { # KEY CERT CN
	openssl req -x509 -new -key "$1" -subj "/CN=$3" -days 30 -out "$2" 2>/dev/null
}
selfsign "$K/rsa.pem" "$K/rsa-cert.pem" mx.example.test
selfsign "$K/rsa2.pem" "$K/rsa2-cert.pem" mx.example.test
selfsign "$K/ec256.pem" "$K/ec256-cert.pem" mx.example.test

# ---------------------------------------------------------------------------
# 1. output-server-tlsa: identical text for the same keys.
A=$T/a
pf_instance "$A"
cp "$K"/rsa.pem "$K"/ec256.pem "$K"/ec384.pem "$K"/ec521.pem "$K"/ecparam.pem "$A/etc/"
pf_append "$A" "smtpd_tls_key_file = \$config_directory/rsa.pem" \
	"smtpd_tls_eckey_file = $A/etc/ec384.pem"
tlsa_case() { # NAME ARGS...
	local name=$1; shift
	local d_out o_out d_rc o_rc
	debian_tls "$A" output-server-tlsa "$@" >"$T/d.out" 2>/dev/null
	d_rc=$?
	d_out=$(grep -v 'postfix-tls-script' "$T/d.out")
	o_out=$(ours_tls "$A" output-server-tlsa "$@" 2>/dev/null)
	o_rc=$?
	if [ "$d_rc" != "$o_rc" ]; then
		fail "tlsa parity: $name" "exit status postfix $d_rc, ours $o_rc"
	elif [ "$d_out" != "$o_out" ]; then
		fail "tlsa parity: $name" "output differs: postfix [$d_out] ours [$o_out]"
	elif [ "$o_rc" -eq 0 ] && ! grep -q ' IN TLSA 3 1 1 [0-9a-f]\{64\}$' <<<"$o_out"; then
		fail "tlsa parity: $name" "no TLSA record in [$o_out]"
	else
		pass "tlsa parity: $name"
	fi
}
tlsa_case "default list (rsa ecdsa from main.cf)"
tlsa_case "-h other host" -h other.example.test
tlsa_case "algorithm names" ecdsa rsa
tlsa_case "relative RSA path" rsa.pem
tlsa_case "absolute path, EC PARAMETERS layout" "$A/etc/ecparam.pem"
tlsa_case "each curve, relative" ec256.pem ec384.pem ec521.pem
tlsa_case "none skipped, -h" -h mail.example.test none ecdsa ec521.pem
tlsa_case "only none: no usable key" none
# The digest is the key's SPKI SHA-256 as openssl computes it.
want=$(spki_of_key "$K/ec521.pem")
got=$(ours_tls "$A" output-server-tlsa -h h.example.test ec521.pem)
check "tlsa: record is the SPKI SHA-256 (openssl)" \
	test "$got" = "; $A/etc/ec521.pem
_25._tcp.h.example.test. IN TLSA 3 1 1 $want"

# ---------------------------------------------------------------------------
# 2. all-default-client / all-default-server: same verdict as Postfix for
# every listed parameter set, set empty, and unset.
B=$T/b
pf_instance "$B"
cp "$B/etc/main.cf" "$T/main.cf.base"
client_params="smtp_use_tls smtp_enforce_tls smtp_tls_enforce_peername smtp_tls_security_level
	smtp_tls_cert_file smtp_tls_dcert_file smtp_tls_eccert_file"
server_params="smtpd_use_tls smtpd_enforce_tls smtpd_tls_security_level smtpd_tls_cert_file
	smtpd_tls_dcert_file smtpd_tls_eccert_file"
value_for() {
	case $1 in
	*_file) echo /etc/ssl/certs/x.pem ;;
	*_level) echo may ;;
	*) echo yes ;;
	esac
}
all_default_case() { # CMD PARAM-LINE-or-empty WANT
	local cmd=$1 line=$2 want=$3 d o
	cp "$T/main.cf.base" "$B/etc/main.cf"
	[ -n "$line" ] && echo "$line" >>"$B/etc/main.cf"
	pf_cool "$B"
	debian_tls "$B" "$cmd" >/dev/null 2>&1; d=$?
	ours_tls "$B" "$cmd" >/dev/null 2>&1; o=$?
	if [ "$d" = "$o" ] && [ "$o" = "$want" ]; then
		pass "$cmd parity: ${line:-all unset} -> $o"
	else
		fail "$cmd parity: ${line:-all unset}" "postfix $d, ours $o, expected $want"
	fi
}
all_default_case all-default-client "" 0
all_default_case all-default-server "" 0
for p in $client_params; do
	all_default_case all-default-client "$p = $(value_for "$p")" 1
	all_default_case all-default-client "$p =" 0
done
for p in $server_params; do
	all_default_case all-default-server "$p = $(value_for "$p")" 1
	all_default_case all-default-server "$p =" 0
done
# A TLS setting outside the lists does not count.
all_default_case all-default-server "smtpd_tls_loglevel = 1" 0
cp "$T/main.cf.base" "$B/etc/main.cf"
pf_cool "$B"

# ---------------------------------------------------------------------------
# 3. enable-client: same settings and texts; a second run changes nothing.
C1=$T/c1 C2=$T/c2
pf_instance "$C1"
pf_instance "$C2"
dt=$(debian_tls "$C1" enable-client 2>/dev/null | pf_log_texts)
ot=$(ours_tls "$C2" enable-client)
pf_cool "$C1"
pf_cool "$C2"
check "enable-client: same main.cf settings" test "$(pf_norm_conf "$C1")" = "$(pf_norm_conf "$C2")"
check "enable-client: sets smtp_tls_security_level = may" \
	test "$(postconf -c "$C2/etc" -nh smtp_tls_security_level)" = may
check "enable-client: same text" test "$dt" = "$ot"
s1=$(pf_state "$C2")
dt=$(debian_tls "$C1" enable-client 2>/dev/null | pf_log_texts)
ot=$(ours_tls "$C2" enable-client)
check "enable-client on non-default settings: same text" test "$dt" = "$ot"
check "enable-client on non-default settings: nothing changed" test "$s1" = "$(pf_state "$C2")"

# ---------------------------------------------------------------------------
# 4. enable-server: same settings (up to file names) and texts.
S1=$T/s1 S2=$T/s2
pf_instance "$S1"
pf_instance "$S2"
dt=$(debian_tls "$S1" enable-server -r dev:/dev/urandom 2>/dev/null | pf_log_texts)
ot=$(ours_tls "$S2" enable-server -r dev:/dev/urandom)
pf_cool "$S1"
pf_cool "$S2"
norm() { sed -E "s#$1#DIR#g; s#(ec)?(key|cert)-[0-9]{8}-[0-9]{6}\.pem#\1\2-STAMP.pem#g"; }
check "enable-server: same main.cf settings" test "$(pf_norm_conf "$S1")" = "$(pf_norm_conf "$S2")"
check "enable-server: same text" test "$(norm "$S1" <<<"$dt")" = "$(norm "$S2" <<<"$ot")"
key=$(postconf -c "$S2/etc" -xh smtpd_tls_key_file)
cert=$(postconf -c "$S2/etc" -xh smtpd_tls_cert_file)
check "enable-server: deployed key is mode 0600" test "$(stat -c %a "$key")" = 600
# pftls-roll runs with umask 077: what Postfix's makes world-readable must
# stay so (the certificate, main.cf).
dcert=$(postconf -c "$S1/etc" -xh smtpd_tls_cert_file)
check "enable-server: certificate mode $(stat -c %a "$cert"), Postfix's $(stat -c %a "$dcert")" \
	test "$(stat -c %a "$cert")" = "$(stat -c %a "$dcert")"
check "enable-server: main.cf mode $(stat -c %a "$S2/etc/main.cf"), Postfix's $(stat -c %a "$S1/etc/main.cf")" \
	test "$(stat -c %a "$S2/etc/main.cf")" = "$(stat -c %a "$S1/etc/main.cf")"
check "enable-server: deployed cert matches deployed key" \
	test "$(spki_of_key "$key")" = "$(spki_of_cert "$cert")"
s1=$(pf_state "$S2")
dt=$(debian_tls "$S1" enable-server 2>/dev/null | pf_log_texts)
ot=$(ours_tls "$S2" enable-server)
check "enable-server on non-default settings: same text" test "$dt" = "$ot"
check "enable-server on non-default settings: nothing changed" test "$s1" = "$(pf_state "$S2")"

# ---------------------------------------------------------------------------
# 5. new-server-key: our keys and certificates, checked with openssl(1);
# the same texts and certificate names as Postfix's.
N1=$T/n1 N2=$T/n2
pf_instance "$N1"
pf_instance "$N2"
dt=$(debian_tls "$N1" new-server-key -b 3072 h1.example.test h2.example.test 2>/dev/null | pf_log_texts)
ot=$(ours_tls "$N2" new-server-key -b 3072 h1.example.test h2.example.test)
check "new-server-key: same text" test "$(norm "$N1" <<<"$dt")" = "$(norm "$N2" <<<"$ot")"
okey=$(ls "$N2"/etc/key-*.pem)
ocert=$(ls "$N2"/etc/cert-*.pem)
dcert=$(ls "$N1"/etc/cert-*.pem)
check "new-server-key: file names key-/cert-YYYYMMDD-HHMMSS (UTC)" \
	bash -c "[[ '$okey' =~ /key-[0-9]{8}-[0-9]{6}\.pem$ ]] && [ '${okey##*key-}' = '${ocert##*cert-}' ]"
check "new-server-key: key mode 0600" test "$(stat -c %a "$okey")" = 600
check "new-server-key: certificate mode $(stat -c %a "$ocert"), Postfix's $(stat -c %a "$dcert")" \
	test "$(stat -c %a "$ocert")" = "$(stat -c %a "$dcert")"
check "new-server-key: RSA 3072 bits" bash -c "openssl pkey -in '$okey' -noout -text | head -1 | grep -q '3072 bit'"
check "new-server-key: certificate matches key" test "$(spki_of_key "$okey")" = "$(spki_of_cert "$ocert")"
check "new-server-key: subject CN is the first name" \
	bash -c "openssl x509 -in '$ocert' -noout -subject | grep -q 'CN *= *h1.example.test$'"
sans() { openssl x509 -in "$1" -noout -ext subjectAltName 2>/dev/null | tail -n +2 | tr -d ' '; }
check "new-server-key: SANs are the names asked for" test "$(sans "$ocert")" = "DNS:h1.example.test,DNS:h2.example.test"
check "new-server-key: same SANs as Postfix's certificate" test "$(sans "$ocert")" = "$(sans "$dcert")"
days() {
	local nb na
	nb=$(openssl x509 -in "$1" -noout -startdate | cut -d= -f2)
	na=$(openssl x509 -in "$1" -noout -enddate | cut -d= -f2)
	echo $((($(date -ud "$na" +%s) - $(date -ud "$nb" +%s)) / 86400))
}
check "new-server-key: valid 100 years (36525 days)" test "$(days "$ocert")" = 36525
check "new-server-key: same validity as Postfix's" test "$(days "$ocert")" = "$(days "$dcert")"
ot=$(ours_tls "$N2" new-server-key -a ecdsa -b secp521r1)
eckey=$(ls "$N2"/etc/eckey-*.pem)
eccert=$(ls "$N2"/etc/eccert-*.pem)
check "new-server-key ecdsa: key on secp521r1, 0600" \
	bash -c "openssl pkey -in '$eckey' -noout -text | grep -q 'NIST CURVE: P-521' && [ \$(stat -c %a '$eckey') = 600 ]"
check "new-server-key ecdsa: certificate for myhostname matches key" \
	bash -c "[ '$(spki_of_key "$eckey")' = '$(spki_of_cert "$eccert")' ] && [ '$(sans "$eccert")' = DNS:mx.example.test ]"
tl=$(ours_tls "$N2" output-server-tlsa "$eckey")
dl=$(debian_tls "$N2" output-server-tlsa "$eckey" 2>/dev/null)
check "output-server-tlsa on our new ECDSA key: same as Postfix's" test "$tl" = "$dl"

# ---------------------------------------------------------------------------
# 6. deploy-server-cert: the same parameters for the same files.
D1=$T/d1 D2=$T/d2
pf_instance "$D1"
pf_instance "$D2"
dkey=$(ls "$N1"/etc/key-*.pem)
for d in "$D1" "$D2"; do cp "$dkey" "$d/etc/k.pem"; cp "$dcert" "$d/etc/c.pem"; done
dt=$(debian_tls "$D1" deploy-server-cert c.pem k.pem 2>/dev/null | pf_log_texts)
ot=$(ours_tls "$D2" deploy-server-cert c.pem k.pem)
pf_cool "$D1"
pf_cool "$D2"
check "deploy-server-cert: same main.cf settings" test "$(pf_norm_conf "$D1")" = "$(pf_norm_conf "$D2")"
check "deploy-server-cert: relative names resolved in the config dir" \
	test "$(postconf -c "$D2/etc" -h smtpd_tls_key_file)" = "$D2/etc/k.pem"
check "deploy-server-cert: same text" test "$dt" = "$ot"
cp "$eckey" "$D1/etc/e.pem"; cp "$eccert" "$D1/etc/ec.pem"
cp "$eckey" "$D2/etc/e.pem"; cp "$eccert" "$D2/etc/ec.pem"
debian_tls "$D1" deploy-server-cert "$D1/etc/ec.pem" "$D1/etc/e.pem" >/dev/null 2>&1
ours_tls "$D2" deploy-server-cert "$D2/etc/ec.pem" "$D2/etc/e.pem" >/dev/null
pf_cool "$D1"
pf_cool "$D2"
check "deploy-server-cert ECDSA: same main.cf settings" test "$(pf_norm_conf "$D1")" = "$(pf_norm_conf "$D2")"

# ---------------------------------------------------------------------------
# 7. output-server-csr: verifies, carries the key and the names.
csr=$(ours_tls "$A" output-server-csr -k rsa.pem a.example.test b.example.test)
check "output-server-csr: signature verifies (openssl req -verify)" \
	bash -c "openssl req -verify -noout <<<'$csr' 2>&1 | grep -q 'verify OK'"
check "output-server-csr: public key is the key's" \
	test "$(openssl req -noout -pubkey <<<"$csr" | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1)" = "$(spki_of_key "$K/rsa.pem")"
check "output-server-csr: SANs are the names asked for" \
	bash -c "openssl req -noout -text <<<'$csr' | tr -d ' ' | grep -qx 'DNS:a.example.test,DNS:b.example.test'"
csr=$(ours_tls "$A" output-server-csr)
check "output-server-csr default: configured RSA key, myhostname" \
	bash -c "openssl req -noout -text <<<'$csr' | tr -d ' ' | grep -qx 'DNS:mx.example.test' &&
		[ \"\$(openssl req -noout -pubkey <<<'$csr' | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1)\" = '$(spki_of_key "$K/rsa.pem")' ]"

# ---------------------------------------------------------------------------
# 8. new-server-cert keeps the deployed key; myhostname may be a /path.
echo renamed.example.test >"$T/hostname"
postconf -c "$D2/etc" -e "myhostname = $T/hostname"
pf_cool "$D2"
before=$(spki_of_key "$D2/etc/k.pem")
sleep 1 # file names have one-second resolution
ours_tls "$D2" new-server-cert >/dev/null
nkey=$(ls "$D2"/etc/key-*.pem)
ncert=$(ls "$D2"/etc/cert-*.pem)
check "new-server-cert: a new key file with the deployed key (same SPKI)" test "$(spki_of_key "$nkey")" = "$before"
check "new-server-cert: new key file is 0600" test "$(stat -c %a "$nkey")" = 600
check "new-server-cert: certificate for the name in the myhostname file" \
	test "$(sans "$ncert")" = DNS:renamed.example.test
check "new-server-cert: main.cf unchanged (not deployed)" \
	test "$(postconf -c "$D2/etc" -h smtpd_tls_key_file)" = "$D2/etc/k.pem"

# ---------------------------------------------------------------------------
# 9. Where we go past "postfix tls": smtpd_tls_chain_files and explicit
# tlsproxy_tls_* settings are updated in the same single postconf -e.
E=$T/e
pf_instance "$E"
cp "$K/rsa.pem" "$K/rsa-cert.pem" "$E/etc/"
cat "$K/ec256.pem" "$K/ec256-cert.pem" >"$E/etc/ec-combined.pem"
cp "$K/rsa2.pem" "$K/rsa2-cert.pem" "$E/etc/"
pf_append "$E" "smtpd_tls_chain_files = $E/etc/rsa.pem, $E/etc/rsa-cert.pem, $E/etc/ec-combined.pem"
ours_tls "$E" deploy-server-cert rsa2-cert.pem rsa2.pem >/dev/null
pf_cool "$E"
check "chain_files: the RSA pair replaced, the ECDSA chain kept" \
	test "$(postconf -c "$E/etc" -h smtpd_tls_chain_files)" = "$E/etc/rsa2.pem, $E/etc/rsa2-cert.pem, $E/etc/ec-combined.pem"
check "chain_files: legacy parameters left alone" test -z "$(postconf -c "$E/etc" -nh smtpd_tls_key_file)"
check "chain_files: output-server-tlsa rsa finds the key in the list" \
	bash -c "'$PFTLS' -C '$E/etc' output-server-tlsa rsa | grep -q '$(spki_of_key "$K/rsa2.pem")'"
P=$T/p
pf_instance "$P"
cp "$K/rsa.pem" "$K/rsa-cert.pem" "$P/etc/"
pf_append "$P" "tlsproxy_tls_key_file = \$smtpd_tls_key_file" "tlsproxy_tls_cert_file = /etc/ssl/old.pem"
ours_tls "$P" deploy-server-cert rsa-cert.pem rsa.pem >/dev/null
pf_cool "$P"
check "tlsproxy: an explicit tlsproxy_tls_cert_file follows the deploy" \
	test "$(postconf -c "$P/etc" -h tlsproxy_tls_cert_file)" = "$P/etc/rsa-cert.pem"
check "tlsproxy: one inheriting from smtpd_tls_* is left as it is" \
	test "$(postconf -c "$P/etc" -nh tlsproxy_tls_key_file)" = "\$smtpd_tls_key_file"

# ---------------------------------------------------------------------------
# 10. Bad input: one error line, the documented exit code, nothing changed.
F=$T/f
pf_instance "$F"
cp "$K/rsa.pem" "$F/etc/key.pem"
cp "$K/rsa-cert.pem" "$F/etc/cert.pem"
cp "$K/rsa2-cert.pem" "$F/etc/other-cert.pem"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -aes256 -pass pass:secret \
	-out "$F/etc/encrypted.pem" 2>/dev/null
openssl pkey -in "$K/rsa.pem" -outform DER -out "$F/etc/der.key"
head -c 300 /dev/urandom >"$F/etc/garbage.pem"
chmod 600 "$F/etc/key.pem"
printf 'no_such_name = 1\n' >"$T/unknown.cf"
printf 'rsa_bits = 1234\n' >"$T/badvalue.cf"
printf 'rsa_bits = 2048\n# x\nrsa_bits = 3072\n' >"$T/dup.cf"
bad_case() { # NAME WANT-RC [runuser] ARGS...
	local name=$1 want=$2 before after rc err; shift 2
	before=$(pf_state "$F")
	err=$("$@" 2>&1 >/dev/null)
	rc=$?
	after=$(pf_state "$F")
	if [ "$rc" != "$want" ]; then
		fail "bad input: $name" "exit $rc, expected $want ($err)"
	elif [ "$(wc -l <<<"$err")" != 1 ] || [ -z "$err" ]; then
		fail "bad input: $name" "expected one error line, got [$err]"
	elif [ "$before" != "$after" ]; then
		fail "bad input: $name" "files changed"
	else
		pass "bad input: $name -> $rc: $err"
	fi
}
O="$PFTLS -C $F/etc"
bad_case "certificate does not match the key" 3 $O deploy-server-cert other-cert.pem key.pem
bad_case "missing key file" 3 $O deploy-server-cert cert.pem nokey.pem
bad_case "unreadable key (as nobody)" 3 runuser -u nobody -- $O deploy-server-cert cert.pem key.pem
bad_case "encrypted key" 3 $O deploy-server-cert cert.pem encrypted.pem
bad_case "DER (non-PEM) key" 3 $O deploy-server-cert cert.pem der.key
bad_case "garbage key" 3 $O deploy-server-cert cert.pem garbage.pem
bad_case "missing certificate" 3 $O deploy-server-cert nocert.pem key.pem
bad_case "-a dsa" 2 $O new-server-key -a dsa
bad_case "-a ed25519 (enable-server)" 2 $O enable-server -a ed25519
bad_case "-b 1024" 2 $O new-server-key -b 1024
bad_case "-b 2048x" 2 $O new-server-cert -b 2048x
bad_case "-a ecdsa -b secp192r1" 2 $O new-server-key -a ecdsa -b secp192r1
bad_case "-a ecdsa -b 2048" 2 $O enable-server -a ecdsa -b 2048
bad_case "invalid host name" 2 $O new-server-key bad_host.example.test
bad_case "invalid second host name" 2 $O enable-server mx.example.test -bad.example.test
bad_case "invalid -h host name" 2 $O output-server-tlsa -h 'a..b' key.pem
bad_case "invalid CSR host name" 2 $O output-server-csr -k key.pem 'x y'
bad_case "pftls-roll.cf unknown name" 2 $PFTLS -c "$T/unknown.cf" -C "$F/etc" new-server-key
bad_case "pftls-roll.cf bad value" 2 $PFTLS -c "$T/badvalue.cf" -C "$F/etc" new-server-key
bad_case "pftls-roll.cf duplicate" 2 $PFTLS -c "$T/dup.cf" -C "$F/etc" new-server-key
bad_case "tlsa for an encrypted key" 1 $O output-server-tlsa encrypted.pem
bad_case "usage: deploy-server-cert one argument" 2 $O deploy-server-cert cert.pem

# Never overwrite: key files for this second and the next two already
# exist, so new-server-key collides whenever it runs; they stay as they were.
for i in 0 1 2; do
	stamp=$(date -u -d "+$i seconds" +%Y%m%d-%H%M%S)
	echo "precious $i" >"$F/etc/key-$stamp.pem"
done
bad_case "existing key file is not overwritten" 1 $O new-server-key mx.example.test

# A failed deploy in enable-server removes the key and certificate it made:
# a postconf that fails on -e (and answers reads as the real one does).
mkdir -p "$T/fakebin"
cat >"$T/fakebin/postconf" <<'EOS'
#!/bin/sh
for a in "$@"; do [ "$a" = -e ] && { echo "postconf: fatal: simulated failure" >&2; exit 1; }; done
exec /usr/sbin/postconf "$@"
EOS
chmod 755 "$T/fakebin/postconf"
printf 'postfix_command_directory = %s\n' "$T/fakebin" >"$T/fakebin.cf"
bad_case "enable-server: failed postconf -e leaves no key or cert" 1 \
	$PFTLS -c "$T/fakebin.cf" -C "$F/etc" enable-server -a ecdsa

pf_done
