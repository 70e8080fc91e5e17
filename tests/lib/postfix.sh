# tests/lib/postfix.sh - sourced by integration tests that need scratch
# Postfix instances: the PASS/FAIL protocol, a temp root cleaned by a trap,
# throw-away config dirs (never /etc/postfix), and Debian's own
# "postfix tls" runnable next to ours.
#
# Debian's postfix-tls-script reads openssl_path from the DEFAULT instance
# (/etc/postfix/main.cf), which a fresh Debian machine does not have.  We do
# not touch /etc/postfix: pf_enter_namespace re-runs the calling script in
# a private mount namespace with a copy of /etc/postfix (plus a minimal
# main.cf) bind-mounted over it, visible to that script only.

PF_ROOT=${PF_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
PFTLS=${PFTLS_BUILD:-$PF_ROOT/build}/pftls-roll
PF_PASSED=0
PF_FAILED=0

pass() { echo "PASS: $1"; PF_PASSED=$((PF_PASSED + 1)); }
fail() { echo "FAIL: $1: $2"; PF_FAILED=$((PF_FAILED + 1)); }
# check NAME COMMAND...: PASS when the command succeeds.
check() {
	local name=$1; shift
	if "$@"; then pass "$name"; else fail "$name" "check failed: $*"; fi
}
pf_done() {
	echo "# $PF_PASSED passed, $PF_FAILED failed"
	[ "$PF_FAILED" -eq 0 ]
}

# pf_enter_namespace "$0" "$@": call first thing in a test.  Re-executes the
# script under "unshare --mount" with /etc/postfix replaced as described
# above; returns in the re-executed copy.
pf_enter_namespace() {
	if [ -z "${PF_IN_NS:-}" ]; then
		PF_IN_NS=1 exec unshare --mount --propagation private bash "$@"
	fi
	PF_SYS=$(mktemp -d /tmp/pftls-sys.XXXXXX)
	cp -a /etc/postfix/. "$PF_SYS/"
	[ -f "$PF_SYS/main.cf" ] || echo "compatibility_level = 3.6" >"$PF_SYS/main.cf"
	mount --bind "$PF_SYS" /etc/postfix || { echo "FAIL: namespace: cannot bind-mount"; exit 1; }
}

# pf_tmproot: a temp dir removed on exit (with the namespace's copy).
pf_tmproot() {
	PF_TMP=$(mktemp -d /tmp/pftls-test.XXXXXX)
	chmod 755 "$PF_TMP" # the unprivileged-user cases must traverse it
	trap 'pf_cleanup' EXIT
}
pf_cleanup() {
	[ -n "${PF_TMP:-}" ] && rm -rf "$PF_TMP"
	if [ -n "${PF_SYS:-}" ]; then
		umount /etc/postfix 2>/dev/null
		rm -rf "$PF_SYS"
	fi
}

# pf_instance DIR [HOSTNAME]: a scratch Postfix config dir DIR/etc with its
# own queue and data directories; prints nothing.  The instance's config
# directory is DIR/etc.
pf_instance() {
	local d=$1 host=${2:-mx.example.test}
	mkdir -p "$d/etc" "$d/queue" "$d/data"
	chmod 755 "$d" "$d/etc"
	cp /etc/postfix/master.cf "$d/etc/master.cf"
	cat >"$d/etc/main.cf" <<-EOF
	compatibility_level = 3.6
	queue_directory = $d/queue
	data_directory = $d/data
	maillog_file = /dev/stdout
	myhostname = $host
	smtpd_peername_lookup = no
	inet_interfaces = loopback-only
	EOF
	pf_cool "$d"
}

# Postfix programs wait ~1.8 s while main.cf is under a second old; tests
# that rewrite main.cf age it so that no command waits on our edits.
pf_cool() { touch -d '-5 seconds' "$1/etc/main.cf"; }

# pf_append DIR "name = value"...: add settings to main.cf by hand.
pf_append() {
	local d=$1; shift
	printf '%s\n' "$@" >>"$d/etc/main.cf"
	pf_cool "$d"
}

# Debian's "postfix tls" and ours on instance DIR.  Postfix logs through
# maillog_file=/dev/stdout; the pipe keeps its writes from overwriting each
# other (each postlog opens /dev/stdout anew).
debian_tls() { local d=$1; shift; postfix -c "$d/etc" tls "$@" | cat; return "${PIPESTATUS[0]}"; }
ours_tls() { local d=$1; shift; "$PFTLS" -C "$d/etc" "$@"; }

# The message texts of postfix-tls-script log lines, prefix removed.
pf_log_texts() { sed -nE 's/^.*postfix\/postfix-tls-script\[[0-9]+\]: ?//p' | sed 's/[[:space:]]*$//'; }

# main.cf as "postconf -n" shows it, with the instance dir and the time
# stamps in key/cert file names replaced, for comparing two instances.
pf_norm_conf() {
	local d=$1
	postconf -c "$d/etc" -n 2>/dev/null | sed -E "s#$d#DIR#g; s#(ec)?(key|cert)-[0-9]{8}-[0-9]{6}\.pem#\1\2-STAMP.pem#g"
}

# pf_state DIR: a listing of every file under DIR/etc with mode and
# checksum, to prove a failed command changed nothing.
pf_state() {
	(cd "$1/etc" && find . -printf '%p %m %s\n' | sort && find . -type f -exec sha256sum {} + | sort)
}

# The SHA-256 of a key's or certificate's SubjectPublicKeyInfo, by openssl(1).
spki_of_key() { openssl pkey -in "$1" -pubout -outform DER 2>/dev/null | sha256sum | cut -d' ' -f1; }
spki_of_cert() {
	openssl x509 -in "$1" -noout -pubkey 2>/dev/null | openssl pkey -pubin -outform DER 2>/dev/null |
		sha256sum | cut -d' ' -f1
}
