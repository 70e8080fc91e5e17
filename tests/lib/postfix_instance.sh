# tests/lib/postfix_instance.sh - a running, throw-away Postfix instance on a
# loopback address, for tests and the demo.  Source it, then:
#
#   pfi_create DIR ADDR [HOSTNAME]   config in DIR/etc, spool in DIR/spool;
#                                    smtpd on ADDR:25 (and postscreen with
#                                    tlsproxy on ADDR:2525 when PFI_POSTSCREEN=1),
#                                    and on [PFI_ADDR6]:25 too when that IPv6
#                                    address is set
#   pfi_start DIR                    start master; waits until port 25 listens
#   pfi_stop DIR                     stop it (by its master PID) and wait
#
# Never touches /etc/postfix.  Facts this relies on (see TEST-SERVERS.md):
# the queue directory must exist before any "postfix -c DIR" command;
# maillog_file must match maillog_file_prefixes; ADDR must be on an
# interface (ip addr add ADDR/32 dev lo); postfix commands report errors only
# on a terminal or in maillog_file.

pfi_create() {
	local dir=$1 addr=$2 host=${3:-mx.example.test}
	mkdir -p "$dir/etc" "$dir/spool" "$dir/data"
	chmod 755 "$dir" "$dir/etc"
	chown postfix "$dir/data"
	cat >"$dir/etc/main.cf" <<EOT
compatibility_level = 3.6
queue_directory = $dir/spool
data_directory = $dir/data
myhostname = $host
mydestination =
inet_interfaces = loopback-only
inet_protocols = $([ -n "${PFI_ADDR6:-}" ] && echo all || echo ipv4)
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
alias_maps =
alias_database =
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
EOT
	{
		echo "$addr:smtp inet n - n - - smtpd"
		[ -n "${PFI_ADDR6:-}" ] && echo "[$PFI_ADDR6]:smtp inet n - n - - smtpd"
		if [ "${PFI_POSTSCREEN:-0}" = 1 ]; then
			echo "$addr:2525 inet n - n - 1 postscreen"
			echo "smtpd pass - - n - - smtpd"
			echo "dnsblog unix - - n - 0 dnsblog"
		fi
		cat <<'EOT'
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
tlsmgr unix - - n 1000? 1 tlsmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
local unix - n n - - local
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
tlsproxy unix - - n - 0 tlsproxy
EOT
	} >"$dir/etc/master.cf"
	if [ "${PFI_POSTSCREEN:-0}" = 1 ]; then
		postconf -c "$dir/etc" -e "postscreen_dnsbl_sites =" \
			"postscreen_greet_wait = 1s" "postscreen_tls_security_level = may"
	fi
}

# Pid of the instance's master, from its pid file.
pfi_master_pid() {
	local f="$1/spool/pid/master.pid"
	[ -f "$f" ] && tr -d ' \n' <"$f"
}

pfi_start() {
	local dir=$1 addr addr6 port i
	postfix -c "$dir/etc" start >/dev/null 2>&1 || {
		echo "pfi_start: postfix -c $dir/etc start failed:" >&2
		tail -5 "$dir/maillog" >&2 2>/dev/null
		return 1
	}
	addr=$(head -1 "$dir/etc/master.cf" | cut -d: -f1)
	# The IPv6 smtpd line, "[ADDR6]:smtp ...", when there is one.
	addr6=$(sed -n 's/^\(\[[0-9a-f:]*\]\):smtp .*/\1/p' "$dir/etc/master.cf")
	for i in $(seq 1 50); do
		ss -ltn "src $addr" 2>/dev/null | grep -q ":25 " &&
			{ [ -z "$addr6" ] || ss -ltn "src $addr6" 2>/dev/null | grep -q ":25 "; } &&
			return 0
		sleep 0.1
	done
	echo "pfi_start: nothing listens on $addr:25${addr6:+ or $addr6:25}" >&2
	return 1
}

pfi_stop() {
	local dir=$1 pid i
	pid=$(pfi_master_pid "$dir") || return 0
	[ -n "$pid" ] || return 0
	postfix -c "$dir/etc" stop >/dev/null 2>&1 || kill "$pid" 2>/dev/null
	for i in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null
	return 0
}
