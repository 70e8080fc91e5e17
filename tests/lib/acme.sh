# tests/lib/acme.sh - what the CA-issued certificate tests
# (tests/integ/acme_*.sh) share, for a rollover.sh sandbox (ROLL_ADDR,
# ROLL_HOST, ROLL_PF, ROLL_NET) and, for acme_events, journald.sh.  Source
# it after rollover.sh, then:
#
#   acme_events EVENT              the daemon's journal entries of EVENT (JSON)
#   acme_live_verify ALG ROOT [EP] the chain EP (default ROLL_ADDR:25) presents
#                                  for ALG (rsa, ecdsa), verified by openssl
#                                  against ROOT for the MX's name: "OK" or
#                                  openssl's reason
#   acme_live_serial ALG [EP]      the serial of the certificate presented
#   acme_certs                     main.cf's smtpd_tls_cert_file and
#                                  smtpd_tls_eccert_file, on one line
#   acme_test_ca                   a throw-away CA (tests/lib/test_ca.py) in
#                                  $W/ca: sets CA, and CERTCMD and CAFILE,
#                                  the two roll_conf lines that make it the
#                                  certificate_command and its CA file

acme_events() {
	journald_sync
	journald_read -o json SYSLOG_IDENTIFIER=pftls-rolld PFTLS_EVENT="$1"
}

acme_sigalgs() { [ "$1" = rsa ] && echo RSA-PSS+SHA256:RSA+SHA256 || echo ECDSA+SHA256; }

acme_live_verify() {
	timeout 10 openssl s_client -connect "${3:-$ROLL_ADDR:25}" -starttls smtp \
		-servername "$ROLL_HOST" -tls1_2 -sigalgs "$(acme_sigalgs "$1")" -CAfile "$2" \
		-no-CApath -no-CAstore -verify_hostname "$ROLL_HOST" -verify_return_error </dev/null 2>&1 |
		sed -n 's/^Verification: //p; s/^Verify return code: \([1-9].*\)/\1/p' | head -1
}

acme_live_serial() {
	timeout 10 openssl s_client -connect "${2:-$ROLL_ADDR:25}" -starttls smtp \
		-servername "$ROLL_HOST" -tls1_2 -sigalgs "$(acme_sigalgs "$1")" -no-CAfile -no-CApath \
		-no-CAstore </dev/null 2>/dev/null | openssl x509 -noout -serial 2>/dev/null | cut -d= -f2
}

acme_certs() { postconf -c "$ROLL_PF" -h smtpd_tls_cert_file smtpd_tls_eccert_file | paste -sd' '; }

acme_test_ca() {
	CA=$W/ca
	"$PY3" tests/lib/test_ca.py init "$CA" || return 1
	chmod 755 "$CA"
	CERTCMD="certificate_command = $PWD/tests/lib/test_ca.py sign $CA"
	CAFILE="certificate_ca_file = $CA/root.pem"
}
