# tests/lib/dane_probe.sh - an observer independent of the code under test:
# what a DANE-validating sending MTA would see.  It asks a validating
# resolver for the TLSA RRset with dig, and checks the certificate the live
# SMTP server presents on STARTTLS against exactly that RRset with OpenSSL's
# own DANE verification (openssl s_client -dane_tlsa_rrdata).  Nothing of
# pftls-roll is used.  Source it, then:
#
#   probe_once RESOLVER SMTPADDR ALG...   one DNS answer, then one STARTTLS
#                                         probe per ALG against it; one P
#                                         line per ALG
#   probe_loop OUT STOPFILE MAXSEC MAXROUNDS SMTPADDR RESOLVER
#                                         rounds of probe_once (rsa, ecdsa)
#                                         until STOPFILE exists, MAXSEC
#                                         seconds passed or MAXROUNDS rounds
#                                         were done; appends P lines to OUT,
#                                         then "END RESOLVER reason rounds".
#                                         Run one per resolver, in parallel.
#
# A P line (fields separated by one space):
#   P TIME RESOLVER ALG VERDICT TTL RRSET SPKI REASON
#   TIME     epoch seconds with microseconds, when the probe started
#   VERDICT  ok | FAIL
#   TTL      the TTL the resolver gave the TLSA RRset (- without one)
#   RRSET    the association data of every "3 1 1" record, lowercase,
#            sorted, joined by ","; "-" without records
#   SPKI     SHA-256 of the public key the server presented (- without)
#   REASON   dane-ok | dns-STATUS (not NOERROR) | dns-no-ad (not validated)
#            | dns-no-tlsa | tls-no-cert (no handshake) | dane-mismatch
#            (presented key in no record) | dane-error-N (other verify error)
# ALG chooses the server's certificate through the signature algorithms the
# client offers: rsa (RSA-PSS/PKCS#1) or ecdsa (P-256).

PROBE_TLSA_NAME=${PROBE_TLSA_NAME:-_25._tcp.mx.example.test}
PROBE_HOST=${PROBE_HOST:-mx.example.test}

# probe_once RESOLVER SMTPADDR ALG...: one DNS answer, then one STARTTLS
# probe for each ALG checked against it; one P line per ALG.
probe_once() {
	local res=$1 smtp=$2 t=$EPOCHREALTIME out status ad ttl rrset alg sigalgs tls spki code
	local -a args
	shift 2
	out=$(dig +dnssec +nosplit +time=5 +tries=1 @"$res" "$PROBE_TLSA_NAME" TLSA 2>/dev/null)
	# One awk: status, AD flag, TTL, the RRset, and the s_client arguments.
	mapfile -t args < <(awk '
		/->>HEADER<<-/ { s = $6; sub(",", "", s) }
		/^;; flags:/ { f = $0; sub(/^;; flags:/, "", f); sub(/;.*/, "", f); ad = (f ~ /(^| )ad( |$)/) }
		$4 == "TLSA" { if (ttl == "") ttl = $2; rr[++n] = $5 " " $6 " " $7 " " tolower($8) }
		END {
			print (s == "" ? "timeout" : s); print (ad ? "ad" : "no-ad"); print (ttl == "" ? "-" : ttl)
			list = ""
			for (i = 1; i <= n; i++) if (rr[i] ~ /^3 1 1 /) list = list (list == "" ? "" : ",") substr(rr[i], 7)
			print list
			for (i = 1; i <= n; i++) { print "-dane_tlsa_rrdata"; print rr[i] }
		}' <<<"$out")
	status=${args[0]} ad=${args[1]} ttl=${args[2]}
	rrset=-
	[ -n "${args[3]}" ] && rrset=$(tr , '\n' <<<"${args[3]}" | sort | paste -sd, -)
	args=("${args[@]:4}")
	for alg in "$@"; do
		if [ "$status" != NOERROR ]; then
			echo "P $t $res $alg FAIL $ttl $rrset - dns-$status"
			continue
		elif [ "$ad" != ad ]; then
			echo "P $t $res $alg FAIL $ttl $rrset - dns-no-ad"
			continue
		elif [ "$rrset" = - ]; then
			echo "P $t $res $alg FAIL $ttl - - dns-no-tlsa"
			continue
		fi
		case $alg in
		rsa) sigalgs=rsa_pss_rsae_sha256:rsa_pkcs1_sha256 ;;
		*) sigalgs=ecdsa_secp256r1_sha256 ;;
		esac
		# DANE-EE without name checks, as RFC 7672 3.1.1 has SMTP clients
		# do; no CA store, so only the TLSA records can make it valid.
		tls=$(timeout 10 openssl s_client -connect "$smtp:25" -starttls smtp \
			-name "$PROBE_HOST" -sigalgs "$sigalgs" -no-CAfile -no-CApath -no-CAstore \
			-dane_tlsa_domain "$PROBE_HOST" "${args[@]}" -dane_ee_no_namechecks \
			</dev/null 2>/dev/null)
		# The first "Verify return code" is the handshake's (a session
		# summary may repeat it).
		code=$(sed -n '/^ *Verify return code: \([0-9]*\) .*/{s//\1/p;q}' <<<"$tls")
		spki=-
		[ -n "$code" ] && spki=$(openssl x509 -noout -pubkey <<<"$tls" 2>/dev/null |
			openssl pkey -pubin -outform DER 2>/dev/null | openssl dgst -sha256 -r | cut -d' ' -f1)
		if [ -z "$code" ] || [ -z "$spki" ]; then
			echo "P $t $res $alg FAIL $ttl $rrset - tls-no-cert"
		elif [ "$code" = 0 ]; then
			echo "P $t $res $alg ok $ttl $rrset $spki dane-ok"
		elif [ "$code" = 65 ]; then
			# X509_V_ERR_DANE_NO_MATCH: no TLSA record matches.
			echo "P $t $res $alg FAIL $ttl $rrset $spki dane-mismatch"
		else
			echo "P $t $res $alg FAIL $ttl $rrset $spki dane-error-$code"
		fi
	done
}

# probe_loop OUT STOPFILE MAXSEC MAXROUNDS SMTPADDR RESOLVER: rounds of
# probe_once for rsa and ecdsa until STOPFILE exists or a limit is reached.
probe_loop() {
	local out=$1 stop=$2 maxsec=$3 maxrounds=$4 smtp=$5 res=$6 round=0 end
	end=$((SECONDS + maxsec))
	while :; do
		if [ -e "$stop" ]; then echo "END $res stopped $round" >>"$out"; return; fi
		if [ "$SECONDS" -ge "$end" ]; then echo "END $res time-limit $round" >>"$out"; return; fi
		if [ "$round" -ge "$maxrounds" ]; then echo "END $res round-limit $round" >>"$out"; return; fi
		round=$((round + 1))
		probe_once "$res" "$smtp" rsa ecdsa >>"$out"
	done
}
