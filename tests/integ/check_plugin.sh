#!/bin/bash
# tests/integ/check_plugin.sh - "pftls-roll check --plugin" against real BIND
# (signing primary + 2 secondaries) and a running Postfix with an RSA and
# an ECDSA key whose records nsupdate published: every answer is one
# Monitoring Plugins line on stdout (nothing on stderr), parsed here by a
# strict checker of the status word, the summary and the performance data
# syntax ('label'=value[UOM];[warn];[crit];[min];[max]), with its exit code:
#   OK        everything served and DANE-valid (plain check: exit 0 too)
#   WARNING   a real 10-day certificate for the deployed key (openssl),
#             inside the default --cert-warning 21d
#   CRITICAL  a 3-day certificate; the 10-day one with --cert-critical 15d;
#             the RSA key's TLSA record deleted by nsupdate (plain check:
#             exit 1, as before)
#   UNKNOWN   a configuration error, a missing configuration, bad
#             thresholds, a resolver that does not answer
set -u
cd "$(dirname "$0")/../.."
. tests/lib/rollover.sh

roll_begin plugin 11
roll_publish_old 6 || { fail "old records published with nsupdate"; exit 1; }
RSA=$(roll_deployed rsa)
RSA_CERT=$(postconf -c "$ROLL_PF" -h smtpd_tls_cert_file)

# plugin NAME ARGS...: run "check --plugin ARGS" (config ROLL_CF unless
# PLUGIN_CF is set); sets LINE, PRC, PERF (label=value lines) and checks
# the output's shape strictly.
plugin() {
	local name=$1 o e
	shift
	o=$W/plugin.out e=$W/plugin.err
	"$PFTLS" -c "${PLUGIN_CF:-$ROLL_CF}" check --plugin "$@" >"$o" 2>"$e"
	PRC=$?
	LINE=$(head -1 "$o")
	check "$name: exactly one line on stdout, nothing on stderr" \
		test "$(wc -l <"$o")" -eq 1 -a ! -s "$e"
	PERF=$("$PY3" - "$LINE" <<'PY'
import re, sys
line = sys.argv[1]
m = re.fullmatch(r"PFTLS (OK|WARNING|CRITICAL|UNKNOWN) - ([^|\n]+?)(?: \| (.*))?", line)
if not m:
    sys.exit("not a plugin line")
state, summary, perf = m.groups()
num = r"-?[0-9]+(?:\.[0-9]+)?"
rng = r"(?:@?(?:%s|~)?:?(?:%s)?)" % (num, num)
item = re.compile(r"('[^'=]+'|[^' =]+)=(%s)(s|ms|us|%%|B|KB|MB|TB|c)?((?:;%s?){0,2})((?:;(?:%s)?){0,2})" % (num, rng, num))
print("state=" + state)
if perf is not None:
    labels = set()
    for part in perf.split(" "):
        p = item.fullmatch(part)
        if not p:
            sys.exit("bad perfdata item %r" % part)
        label = p.group(1).strip("'")
        if label in labels:
            sys.exit("label %s repeated" % label)
        labels.add(label)
        print("%s=%s%s %s" % (label, p.group(2), p.group(3) or "", part))
PY
)
	check "$name: the line parses as a Monitoring Plugins line: $LINE" test $? -eq 0
}
perf() { sed -n "s/^$1=\([^ ]*\) .*/\1/p" <<<"$PERF"; }
perf_item() { sed -n "s/^$1=[^ ]* //p" <<<"$PERF"; }

# ---- OK ------------------------------------------------------------------------
plugin "OK"
check_eq "OK: exit 0" 0 "$PRC"
check "OK: status OK, the summary counts servers and endpoints" \
	grep -qE '^PFTLS OK - 2 deployed keys served by 3 of 3 check servers, 2 of 2 endpoint checks DANE-valid' <<<"$LINE"
check_eq "OK: servers_ok 3 of 3, endpoints_ok 2 of 2" "servers_ok=3;;;0;3 endpoints_ok=2;;;0;2" \
	"$(perf_item servers_ok) $(perf_item endpoints_ok)"
left=$(perf cert_expiry_rsa)
check "OK: cert_expiry_rsa in seconds (a 100-year certificate: $left), thresholds 21d/7d as N: ranges" \
	bash -c '[[ $0 =~ ^[0-9]+s$ ]] && [ "${0%s}" -gt $((99 * 365 * 86400)) ] &&
		[[ $1 == *";1814400:;604800:;;" ]]' "$left" "$(perf_item cert_expiry_rsa)"
check "OK: key ages in seconds for both algorithms" \
	bash -c '[[ $0 =~ ^[0-9]+s$ && $1 =~ ^[0-9]+s$ ]]' "$(perf key_age_rsa)" "$(perf key_age_ecdsa)"
run -c "$ROLL_CF" check
check "plain check: exit 0 and its lines as before" \
	bash -c '[ "$0" = 0 ] && grep -q "^deployed rsa key " <<<"$1" &&
		[ "$(tail -1 <<<"$1")" = "ok: every deployed key'"'"'s records are on every check server and every endpoint presents a DANE-valid deployed key" ]' "$RC" "$OUT"

# ---- WARNING -------------------------------------------------------------------
# A real certificate for the deployed RSA key, valid 10 days: the key and
# its TLSA record stay the same.
SHORT=$ROLL_PF/short-cert.pem
openssl req -new -x509 -key "$RSA" -days 10 -subj "/CN=$ROLL_HOST" -out "$SHORT" 2>/dev/null
postconf -c "$ROLL_PF" -e "smtpd_tls_cert_file = $SHORT" && postfix -c "$ROLL_PF" reload 2>/dev/null
sleep 0.5
plugin "WARNING (10-day certificate)"
check_eq "WARNING (10-day certificate): exit 1" 1 "$PRC"
check "WARNING (10-day certificate): the RSA certificate expires in 9d or 10d, warning within 21d" \
	grep -qE '^PFTLS WARNING - the deployed rsa certificate expires in (9|10)d \(warning within 21d\) \|' <<<"$LINE"
left=$(perf cert_expiry_rsa)
check "WARNING (10-day certificate): cert_expiry_rsa about 10 days ($left)" \
	bash -c '[ "${0%s}" -gt $((9 * 86400)) ] && [ "${0%s}" -le $((10 * 86400)) ]' "$left"
check_eq "WARNING (10-day certificate): servers and endpoints still all OK" \
	"servers_ok=3;;;0;3 endpoints_ok=2;;;0;2" "$(perf_item servers_ok) $(perf_item endpoints_ok)"

# The thresholds as options: the same 10-day certificate.
plugin "OK (--cert-warning 5d)" --cert-warning 5d --cert-critical 2d
check "OK (--cert-warning 5d): exit 0, thresholds 432000:/172800: in the perfdata" \
	bash -c '[ "$0" = 0 ] && [[ $1 == *";432000:;172800:;;" ]]' "$PRC" "$(perf_item cert_expiry_rsa)"
plugin "CRITICAL (--cert-critical 15d)" --cert-warning 30d --cert-critical 15d
check "CRITICAL (--cert-critical 15d): exit 2, critical within 15d" \
	bash -c '[ "$0" = 2 ] && grep -qE "^PFTLS CRITICAL - the deployed rsa certificate expires in (9|10)d \(critical within 15d\) \|" <<<"$1"' \
	"$PRC" "$LINE"

# ---- CRITICAL ------------------------------------------------------------------
openssl req -new -x509 -key "$RSA" -days 3 -subj "/CN=$ROLL_HOST" -out "$SHORT.3" 2>/dev/null
postconf -c "$ROLL_PF" -e "smtpd_tls_cert_file = $SHORT.3" && postfix -c "$ROLL_PF" reload 2>/dev/null
sleep 0.5
plugin "CRITICAL (3-day certificate)"
check_eq "CRITICAL (3-day certificate): exit 2" 2 "$PRC"
check "CRITICAL (3-day certificate): critical within 7d" \
	grep -qE '^PFTLS CRITICAL - the deployed rsa certificate expires in [23]d \(critical within 7d\) \|' <<<"$LINE"
postconf -c "$ROLL_PF" -e "smtpd_tls_cert_file = $RSA_CERT" && postfix -c "$ROLL_PF" reload 2>/dev/null
sleep 0.5

# The deployed RSA key's record deleted behind the daemon's back.
REC=$(roll_rec "$RSA")
bind_nsupdate "$W/bind/keys/pftls.key" "update delete $ROLL_NAME. IN TLSA $REC"
for ((i = 0; i < 50; i++)); do roll_none_serve "$REC" && break; sleep 0.2; done
check "the RSA record is gone from all three servers (dig)" roll_none_serve "$REC"
plugin "CRITICAL (record deleted)"
check_eq "CRITICAL (record deleted): exit 2" 2 "$PRC"
check "CRITICAL (record deleted): the summary names a check server" \
	grep -qE "^PFTLS CRITICAL - $ROLL_NET\.[123]:53 does not serve every deployed key's record" <<<"$LINE"
check_eq "CRITICAL (record deleted): servers_ok 0 of 3" "servers_ok=0;;;0;3" "$(perf_item servers_ok)"
run -c "$ROLL_CF" check
check_eq "plain check with the record deleted: exit 1, as before" 1 "$RC"

# ---- UNKNOWN -------------------------------------------------------------------
printf 'no_such_parameter = 1\n' >"$W/bad.cf"
PLUGIN_CF=$W/bad.cf plugin "UNKNOWN (configuration error)"
check_eq "UNKNOWN (configuration error): exit 3" 3 "$PRC"
check "UNKNOWN (configuration error): the error with file:line in the line" \
	grep -qE "^PFTLS UNKNOWN - $W/bad.cf:1: .*no_such_parameter" <<<"$LINE"
PLUGIN_CF=$W/none.cf plugin "UNKNOWN (no configuration file)"
check_eq "UNKNOWN (no configuration file): exit 3" 3 "$PRC"
plugin "UNKNOWN (critical above warning)" --cert-warning 1d --cert-critical 2d
check "UNKNOWN (critical above warning): exit 3, a usage message" \
	bash -c '[ "$0" = 3 ] && grep -q "^PFTLS UNKNOWN - usage: " <<<"$1"' "$PRC" "$LINE"
# Discovery through a resolver that does not answer.
sed -i '/^dns_resolver/d' "$ROLL_CF"
echo "dns_resolver = 127.57.11.99" >>"$ROLL_CF"
PFTLS_DNS_TIMEOUT_MS=300 plugin "UNKNOWN (no DNS answer)"
check_eq "UNKNOWN (no DNS answer): exit 3" 3 "$PRC"
check "UNKNOWN (no DNS answer): status UNKNOWN with the reason" grep -qE '^PFTLS UNKNOWN - .+' <<<"$LINE"
