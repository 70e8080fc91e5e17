# tests/lib/pebble.sh - Let's Encrypt's test CA, Debian's pebble, on a
# loopback address of the test's network namespace, for the ACME tests
# (tests/integ/acme_*.sh).  Source it, then:
#
#   pebble_start DIR ADDR DNS   pebble's ACME endpoint on https://ADDR:14000/dir
#                          and its management port ADDR:15000, validating
#                          dns-01 against the DNS server DNS (host:port, the
#                          test BIND); its own TLS certificate (a throw-away
#                          CA in DIR/tls) made trusted for the ACME clients
#                          by a bind mount of a CA bundle that adds it over
#                          /etc/ssl/certs/ca-certificates.crt (needs a
#                          private mount namespace: journald_enter_ns);
#                          DIR/root.pem is the root pebble issues under
#                          (from the management port), the
#                          certificate_ca_file of the tests.  Sets
#                          PEBBLE_URL, PEBBLE_PID
#   pebble_stop            stop it (by PID), undo the bind mount
#
# pebble runs with PEBBLE_VA_NOSLEEP=1 (no random validation delay),
# PEBBLE_WFE_NONCEREJECT=0 (no bad-nonce errors) and PEBBLE_AUTHZREUSE=0
# (every order validates again).  Its state is in memory: a restart makes
# a new root.
PEBBLE_PID=
PEBBLE_MOUNTED=

pebble_start() {
	local dir=$1 addr=$2 dns=$3 i
	mkdir -p "$dir/tls"
	[ "${PFTLS_JOURNALD_NS:-}" = 1 ] || { echo "pebble_start: not in a private mount namespace" >&2; return 1; }
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=pebble test TLS CA" -keyout "$dir/tls/ca.key" -out "$dir/tls/ca.pem" \
		-addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign \
		2>/dev/null || return 1
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$addr" \
		-keyout "$dir/tls/key.pem" -out "$dir/tls/req.pem" 2>/dev/null || return 1
	openssl x509 -req -in "$dir/tls/req.pem" -CA "$dir/tls/ca.pem" -CAkey "$dir/tls/ca.key" \
		-CAcreateserial -days 2 -out "$dir/tls/cert.pem" \
		-extfile <(printf 'subjectAltName=IP:%s,DNS:localhost\nextendedKeyUsage=serverAuth\n' "$addr") \
		2>/dev/null || return 1
	cat >"$dir/pebble.json" <<JSON
{
  "pebble": {
    "listenAddress": "$addr:14000",
    "managementListenAddress": "$addr:15000",
    "certificate": "$dir/tls/cert.pem",
    "privateKey": "$dir/tls/key.pem",
    "httpPort": 5002,
    "tlsPort": 5001,
    "ocspResponderURL": "",
    "externalAccountBindingRequired": false
  }
}
JSON
	# The ACME clients (GnuTLS, OpenSSL, Go) all read Debian's bundle.
	cat /etc/ssl/certs/ca-certificates.crt "$dir/tls/ca.pem" >"$dir/bundle.crt" 2>/dev/null ||
		cp "$dir/tls/ca.pem" "$dir/bundle.crt"
	mount --bind "$dir/bundle.crt" /etc/ssl/certs/ca-certificates.crt || return 1
	PEBBLE_MOUNTED=1
	PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0 \
		setpriv --pdeathsig KILL -- pebble -config "$dir/pebble.json" -dnsserver "$dns" \
		>"$dir/pebble.log" 2>&1 &
	PEBBLE_PID=$!
	PEBBLE_URL=https://$addr:14000/dir
	for ((i = 0; i < 100; i++)); do
		curl -sf --cacert "$dir/tls/ca.pem" "$PEBBLE_URL" >/dev/null 2>&1 && break
		kill -0 "$PEBBLE_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	curl -sf --cacert "$dir/tls/ca.pem" "https://$addr:15000/roots/0" >"$dir/root.pem" || return 1
	grep -q 'BEGIN CERTIFICATE' "$dir/root.pem"
}

pebble_stop() {
	if [ -n "$PEBBLE_PID" ]; then
		kill "$PEBBLE_PID" 2>/dev/null
		wait "$PEBBLE_PID" 2>/dev/null
		PEBBLE_PID=
	fi
	if [ -n "$PEBBLE_MOUNTED" ]; then
		umount /etc/ssl/certs/ca-certificates.crt 2>/dev/null
		PEBBLE_MOUNTED=
	fi
}
