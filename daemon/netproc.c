/*
 * netproc.c - the network process (see netproc.h): fork, privilege drop
 * and sandbox (sandbox.h), and the request loop that runs dns_discover,
 * dns_update_apply, dns_prop_run and smtp_probe for the privileged process.
 *
 * This file owns the process's credentials.  It never holds the TSIG
 * secret: an update's key has its name and algorithm only, and its signer
 * asks the privileged process, on the same socket, to sign each request and
 * to check each reply's MAC (net_sign.h).  It never opens a file of its
 * own: everything it works on arrives in a request, and everything it
 * reports leaves in the reply, each checked by net_msg.c.
 */
#include "netproc.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "dns_discover.h"
#include "dns_propagation.h"
#include "dns_update.h"
#include "net_msg.h"
#include "sandbox.h"
#include "smtp_probe.h"
#include "macro.h"

#define HELLO_TIMEOUT_MS 10000
#define NETPROC_FD 3
/* The privileged process answers a signature or a MAC check at once. */
#define SIGN_TIMEOUT_MS 60000

/* ---- credentials ------------------------------------------------------------ */

/* The user and group to become.  Returns 0 or -errno. */
static int lookup_user(uid_t *ret_uid, gid_t *ret_gid, const char **ret_name, pf_err *e)
{
	struct passwd *pw;
	struct group *gr;

	/* A dedicated user is never created here: an administrator (or a
	 * package) does that; until then "nobody" serves. */
	if ((pw = getpwnam(NETPROC_USER))) {
		*ret_uid = pw->pw_uid;
		*ret_gid = pw->pw_gid;
		*ret_name = NETPROC_USER;
	} else if ((pw = getpwnam(NETPROC_FALLBACK_USER))) {
		*ret_uid = pw->pw_uid;
		gr = getgrnam(NETPROC_FALLBACK_GROUP);
		*ret_gid = gr ? gr->gr_gid : pw->pw_gid;
		*ret_name = NETPROC_FALLBACK_USER;
	} else {
		return pf_err_set(e, ENOENT, "neither user %s nor %s exists", NETPROC_USER,
				  NETPROC_FALLBACK_USER);
	}
	if (*ret_uid == 0 || *ret_gid == 0)
		return pf_err_set(e, EPERM, "user %s has uid or gid 0", *ret_name);
	return 0;
}

int netproc_drop_privileges(uid_t *ret_uid, gid_t *ret_gid, pf_err *e)
{
	uid_t uid = 0, ru, eu, su;
	gid_t gid = 0, rg, eg, sg;
	const char *name = NETPROC_USER;
	int rc;

	if ((rc = lookup_user(&uid, &gid, &name, e)) < 0)
		return rc;
	/* Empty the bounding set while we still may (CAP_SETPCAP): with
	 * NO_NEW_PRIVS nothing could use it anyway, but nothing is left to
	 * argue about. */
	for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
		(void)prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
	if (setgroups(0, NULL) < 0)
		return pf_err_set(e, errno, "setgroups: %s", strerror(errno));
	if (setresgid(gid, gid, gid) < 0)
		return pf_err_set(e, errno, "setresgid %u: %s", (unsigned)gid, strerror(errno));
	if (setresuid(uid, uid, uid) < 0)
		return pf_err_set(e, errno, "setresuid %u (%s): %s", (unsigned)uid, name,
				  strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return pf_err_set(e, errno, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	/* setresuid made us non-dumpable already (suid_dumpable 0); say it
	 * anyway: no core file, no ptrace by the same user. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return pf_err_set(e, errno, "PR_SET_DUMPABLE: %s", strerror(errno));

	/* Trust nothing of the above: check the result. */
	if (getresuid(&ru, &eu, &su) < 0 || ru != uid || eu != uid || su != uid ||
	    getresgid(&rg, &eg, &sg) < 0 || rg != gid || eg != gid || sg != gid)
		return pf_err_set(e, EPERM, "the user and group ids did not all change");
	if (getgroups(0, NULL) != 0)
		return pf_err_set(e, EPERM, "supplementary groups remain");
	if (setresuid(0, 0, 0) != -1 || setuid(0) != -1 || seteuid(0) != -1 ||
	    setresgid(0, 0, 0) != -1 || setegid(0) != -1)
		return pf_err_set(e, EPERM, "could become root again after dropping privileges");
	if (!sandbox_caps_empty())
		return pf_err_set(e, EPERM, "capabilities remain after dropping privileges");
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1 || prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
		return pf_err_set(e, EPERM, "no_new_privs or dumpable did not take");
	*ret_uid = uid;
	*ret_gid = gid;
	return 0;
}

/* ---- requests ---------------------------------------------------------------- */

/* Replace out with a reply of type t that carries only a failure (an
 * answer too large to send). */
static void failure_reply(net_buf *out, uint32_t t, int code, const pf_err *why)
{
	net_status st = {.rc = -code, .err = *why};

	net_buf_free(out);
	/* A failed discover or propagation reply is its status alone. */
	if (t == NET_DISCOVER_REP)
		net_enc_discover_rep(out, &st, NULL, 0, NULL, 0, NULL);
	else
		net_enc_prop_rep(out, &st, NULL, NULL);
}

static int serve_discover(const net_buf *in, net_buf *out, pf_err *e)
{
	pf_config cfg;
	pf_strv owners = {0};
	net_status st = {0};
	dns_zone_info *z = NULL;
	size_t nz = 0, *oz = NULL;
	pf_err e2 = {0};
	int rc;

	pf_config_init(&cfg);
	if ((rc = net_dec_discover_req(in, &cfg, &owners, e)) == 0) {
		oz = pf_calloc(owners.n + 1, sizeof(*oz));
		st.rc = dns_discover(&cfg, owners.v, owners.n, &z, &nz, oz, &st.err);
		if (net_enc_discover_rep(out, &st, z, nz, oz, owners.n, &e2) < 0)
			failure_reply(out, NET_DISCOVER_REP, E2BIG, &e2);
		dns_zones_free(z, nz);
		free(oz);
	}
	pf_config_free(&cfg);
	pf_strv_clear(&owners);
	return rc;
}

/* ---- TSIG, from the privileged process -------------------------------------- */

/* A MAC the privileged process judged ahead (remote_check_ahead). */
typedef struct mac_ahead {
	uint8_t *input;
	size_t len;
	uint8_t mac[DNS_TSIG_MAC_MAX];
	size_t mac_len;
	bool match, used;
} mac_ahead;

typedef struct remote {
	int fd;
	size_t mac_len; /* the key's */
	mac_ahead *ahead;
	size_t n_ahead;
} remote;

static void ahead_clear(remote *rm)
{
	for (size_t i = 0; i < rm->n_ahead; i++)
		free(rm->ahead[i].input);
	free(rm->ahead);
	rm->ahead = NULL;
	rm->n_ahead = 0;
}

/* The exchange with the privileged process broke in the middle of an
 * update: nothing after it on the socket can be taken to be in step, so
 * this process ends, and the privileged side sees it gone. */
static noreturn void lost(void)
{
	_exit(2);
}

/* dns_tsig_signer.sign: the privileged process signs the request. */
static int remote_sign(void *ctx, uint8_t **wire, size_t *len, uint8_t *ret_mac,
		       size_t *ret_mac_len)
{
	static const uint32_t want[] = {NET_SIGN_REP};
	const remote *rm = ctx;
	net_buf b = {0}, in = {0};
	net_status st;
	uint8_t *sw = NULL;
	size_t sl = 0;
	uint32_t t;
	pf_err e = {0};

	if (*len > NET_DNS_MAX)
		return -EMSGSIZE;
	net_enc_sign_req(&b, *wire, *len);
	if (net_send(rm->fd, NET_SIGN_REQ, &b) < 0 ||
	    net_recv(rm->fd, want, 1, SIGN_TIMEOUT_MS, &t, &in, &e) < 0 ||
	    net_dec_sign_rep(&in, *len, rm->mac_len, &st, &sw, &sl, ret_mac, ret_mac_len, &e) < 0)
		lost();
	net_buf_free(&b);
	net_buf_free(&in);
	if (st.rc < 0)
		return st.rc;
	free(*wire);
	*wire = sw;
	*len = sl;
	return 0;
}

/*
 * dns_tsig_signer.sign_many: the requests go to the privileged process
 * SIGN_WINDOW at a time ahead of its answers (which come in order), so that
 * a read of hundreds of names costs one exchange's latency, not hundreds.
 * The window is bounded in octets too, well inside the socket buffers:
 * neither side can block on a send while the other does.
 */
#define SIGN_WINDOW 32
#define SIGN_WINDOW_OCTETS (16 * 1024)

static void remote_sign_many(void *ctx, dns_sign_job *jobs, size_t n)
{
	static const uint32_t want[] = {NET_SIGN_REP};
	const remote *rm = ctx;
	size_t *to = pf_calloc(n + 1, sizeof(*to)), m = 0, sent = 0, got = 0, octets = 0;

	for (size_t i = 0; i < n; i++) {
		if (jobs[i].rc == 0 && jobs[i].len > NET_DNS_MAX)
			jobs[i].rc = -EMSGSIZE;
		if (jobs[i].rc == 0)
			to[m++] = i;
	}
	while (got < m) {
		if (sent < m &&
		    (sent == got || (sent - got < SIGN_WINDOW &&
				     octets + jobs[to[sent]].len <= SIGN_WINDOW_OCTETS))) {
			dns_sign_job *j = &jobs[to[sent++]];
			net_buf b = {0};

			net_enc_sign_req(&b, j->wire, j->len);
			if (net_send(rm->fd, NET_SIGN_REQ, &b) < 0)
				lost();
			net_buf_free(&b);
			octets += j->len;
			continue;
		}
		/* The oldest request in the window gets its answer. */
		dns_sign_job *j = &jobs[to[got++]];
		net_buf in = {0};
		net_status st;
		uint8_t *sw = NULL;
		size_t sl = 0;
		uint32_t t;
		pf_err e = {0};

		if (net_recv(rm->fd, want, 1, SIGN_TIMEOUT_MS, &t, &in, &e) < 0 ||
		    net_dec_sign_rep(&in, j->len, rm->mac_len, &st, &sw, &sl, j->mac, &j->mac_len,
				     &e) < 0)
			lost();
		net_buf_free(&in);
		octets -= j->len;
		if (st.rc < 0) {
			j->rc = st.rc;
		} else {
			free(j->wire);
			j->wire = sw;
			j->len = sl;
		}
	}
	free(to);
}

/*
 * dns_tsig_signer.check_ahead: the MAC check requests of the replies that
 * arrived together go out SIGN_WINDOW ahead of their answers, as in
 * remote_sign_many; the verdicts are kept for remote_check, which answers
 * a check of exactly the same input and MAC from them, once.  What was
 * kept from the batch before is dropped.
 */
static void remote_check_ahead(void *ctx, const dns_mac_job *jobs, size_t n)
{
	static const uint32_t want[] = {NET_MAC_REP};
	remote *rm = ctx;
	size_t *to = pf_calloc(n + 1, sizeof(*to)), m = 0, sent = 0, got = 0, octets = 0;

	ahead_clear(rm);
	for (size_t i = 0; i < n; i++)
		if (jobs[i].len <= NET_MAC_INPUT_MAX && jobs[i].mac_len <= DNS_TSIG_MAC_MAX)
			to[m++] = i;
	rm->ahead = pf_calloc(m + 1, sizeof(*rm->ahead));
	while (got < m) {
		if (sent < m &&
		    (sent == got || (sent - got < SIGN_WINDOW &&
				     octets + jobs[to[sent]].len <= SIGN_WINDOW_OCTETS))) {
			const dns_mac_job *j = &jobs[to[sent++]];
			net_buf b = {0};

			net_enc_mac_req(&b, j->input, j->len, j->mac, j->mac_len);
			if (net_send(rm->fd, NET_MAC_REQ, &b) < 0)
				lost();
			net_buf_free(&b);
			octets += j->len;
			continue;
		}
		const dns_mac_job *j = &jobs[to[got++]];
		mac_ahead *a = &rm->ahead[rm->n_ahead];
		net_buf in = {0};
		uint32_t t;
		pf_err e = {0};

		if (net_recv(rm->fd, want, 1, SIGN_TIMEOUT_MS, &t, &in, &e) < 0 ||
		    net_dec_mac_rep(&in, &a->match, &e) < 0)
			lost();
		net_buf_free(&in);
		octets -= j->len;
		a->input = pf_malloc(j->len ? j->len : 1);
		memcpy(a->input, j->input, j->len);
		a->len = j->len;
		memcpy(a->mac, j->mac, j->mac_len);
		a->mac_len = j->mac_len;
		rm->n_ahead++;
	}
	free(to);
}

/* dns_tsig_signer.check: the privileged process says whether mac is the
 * reply's MAC (or said so just before, remote_check_ahead). */
static int remote_check(void *ctx, const uint8_t *input, size_t len, const uint8_t *mac,
			size_t mac_len)
{
	static const uint32_t want[] = {NET_MAC_REP};
	remote *rm = ctx;
	net_buf b = {0}, in = {0};
	bool match = false;
	uint32_t t;
	pf_err e = {0};

	if (len > NET_MAC_INPUT_MAX || mac_len > DNS_TSIG_MAC_MAX)
		return -EMSGSIZE;
	for (size_t i = 0; i < rm->n_ahead; i++) {
		mac_ahead *a = &rm->ahead[i];

		if (!a->used && a->len == len && a->mac_len == mac_len &&
		    memcmp(a->input, input, len) == 0 && memcmp(a->mac, mac, mac_len) == 0) {
			a->used = true;
			return a->match ? 1 : 0;
		}
	}
	net_enc_mac_req(&b, input, len, mac, mac_len);
	if (net_send(rm->fd, NET_MAC_REQ, &b) < 0 ||
	    net_recv(rm->fd, want, 1, SIGN_TIMEOUT_MS, &t, &in, &e) < 0 ||
	    net_dec_mac_rep(&in, &match, &e) < 0)
		lost();
	net_buf_free(&b);
	net_buf_free(&in);
	return match ? 1 : 0;
}

/* ---- requests, continued ------------------------------------------------------- */

static int serve_update(int fd, const net_buf *in, net_buf *out, pf_err *e)
{
	net_update_req req;
	net_status st = {0};
	dns_update_result res = {0};
	char *dry = NULL, *verbose = NULL;
	size_t dry_len = 0, verbose_len = 0;
	int rc;

	if ((rc = net_dec_update_req(in, &req, e)) < 0)
		return rc;
	remote rm = {.fd = fd, .mac_len = req.tsig ? req.tsig->mac_len : 0};
	dns_tsig_signer signer = {.sign = remote_sign,
				  .check = remote_check,
				  .sign_many = remote_sign_many,
				  .check_ahead = remote_check_ahead,
				  .ctx = &rm};
	if (req.tsig)
		req.tsig->signer = &signer;
	dns_update_opts o = {.zone = &req.zone, .tsig = req.tsig, .ttl = req.ttl};
	/* What dns_update_apply prints goes back in the reply. */
	if (req.dry_run)
		o.dry_run = open_memstream(&dry, &dry_len);
	if (req.verbose)
		o.verbose = open_memstream(&verbose, &verbose_len);
	if ((req.dry_run && !o.dry_run) || (req.verbose && !o.verbose))
		st.rc = pf_err_set(&st.err, ENOMEM, "cannot capture the update's output");
	else
		st.rc = dns_update_apply(&o, req.ch, req.n, &res, &st.err);
	if (o.dry_run)
		fclose(o.dry_run);
	if (o.verbose)
		fclose(o.verbose);
	ahead_clear(&rm);
	net_enc_update_rep(out, &st, req.ch, req.n, &res, dry, dry_len, verbose, verbose_len, e);
	free(dry);
	free(verbose);
	net_update_req_free(&req);
	return 0;
}

static int serve_prop(const net_buf *in, net_buf *out, pf_err *e)
{
	net_prop_req req;
	net_status st = {0};
	dns_prop_round rd = {0};
	pf_err e2 = {0};
	int rc;

	if ((rc = net_dec_prop_req(in, &req, e)) < 0)
		return rc;
	st.rc = dns_prop_run(&req.zone, req.want, req.n, &req.opts, &rd, &st.err);
	if (net_enc_prop_rep(out, &st, &rd, &e2) < 0)
		failure_reply(out, NET_PROP_REP, E2BIG, &e2);
	dns_prop_round_free(&rd);
	net_prop_req_free(&req);
	return 0;
}

static int serve_probe(const net_buf *in, net_buf *out, pf_err *e)
{
	net_probe_req req;
	net_status st = {0};
	pf_probe_result res = {0};
	int rc;

	if ((rc = net_dec_probe_req(in, &req, e)) < 0)
		return rc;
	res.alg = -1;
	res.dane_depth = -1;
	st.rc = smtp_probe(&req.ep, req.tlsa_host[0] ? req.tlsa_host : NULL, req.records, req.n,
			   req.want, req.timeout_ms, &res, &st.err);
	net_enc_probe_rep(out, &st, &res);
	net_probe_req_free(&req);
	return 0;
}

int netproc_serve_one(int fd, pf_err *e)
{
	static const uint32_t requests[] = {NET_DISCOVER_REQ, NET_UPDATE_REQ, NET_PROP_REQ,
					    NET_PROBE_REQ};
	net_buf in = {0}, out = {0};
	uint32_t t = 0;
	int rc;

	rc = net_recv(fd, requests, PF_ELEMENTSOF(requests), -1, &t, &in, e);
	if (rc == -ECONNRESET)
		return 0;
	if (rc < 0)
		return rc;
	switch (t) {
	case NET_DISCOVER_REQ:
		rc = serve_discover(&in, &out, e);
		break;
	case NET_UPDATE_REQ:
		rc = serve_update(fd, &in, &out, e);
		break;
	case NET_PROP_REQ:
		rc = serve_prop(&in, &out, e);
		break;
	default:
		rc = serve_probe(&in, &out, e);
		break;
	}
	net_buf_free(&in);
	if (rc == 0 && (rc = net_send(fd, t + 1, &out)) < 0)
		pf_err_set(e, -rc, "cannot send the %s: %s", net_type_name(t + 1), strerror(-rc));
	net_buf_free(&out);
	return rc < 0 ? rc : 1;
}

/* ---- the process ---------------------------------------------------------------- */

/* Descriptors: the socket on NETPROC_FD, /dev/null on 0-2, nothing else.
 * Returns 0 or -errno. */
static int reset_fds(int fd, pf_err *e)
{
	int s, null;

	if ((s = fcntl(fd, F_DUPFD, NETPROC_FD)) < 0 ||
	    (null = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
		return pf_err_set(e, errno, "cannot set up descriptors: %s", strerror(errno));
	for (int i = 0; i < 3; i++)
		if (null != i && dup2(null, i) < 0)
			return pf_err_set(e, errno, "dup2: %s", strerror(errno));
	if (dup2(s, NETPROC_FD) < 0)
		return pf_err_set(e, errno, "dup2: %s", strerror(errno));
	if (close_range(NETPROC_FD + 1, ~0U, 0) < 0) {
		/* Older kernels: one by one. */
		for (int i = NETPROC_FD + 1; i < getdtablesize(); i++)
			close(i);
	}
	return 0;
}

/* Returns true when every user and group id is still root's. */
static bool ids_unchanged(void)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	return getresuid(&ru, &eu, &su) == 0 && ru == 0 && eu == 0 && su == 0 &&
	       getresgid(&rg, &eg, &sg) == 0 && rg == 0 && eg == 0 && sg == 0;
}

/* What the sandbox will forbid, done while it is still allowed: OpenSSL
 * reads its configuration (and may load modules) on first use, the random
 * generator seeds itself, the time zone is read. */
static void warm_up(void)
{
	unsigned char b;

	OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG, NULL);
	(void)RAND_bytes(&b, 1);
	tzset();
}

/*
 * Separate this process from the keys: the unprivileged user when it may
 * change its uid, and the sandbox in any case - the one separation when the
 * uid cannot change (the shipped unit's bounding set has no CAP_SETUID).
 * Returns 0 with *sep filled, or -errno with e saying why neither holds.
 */
static int separate(net_sep *sep, pf_err *e)
{
	pf_sandbox sb;
	pf_err why = {0};
	uid_t uid;
	gid_t gid;
	bool dropped = false;
	int rc;

	warm_up();
	if (!sandbox_has_cap(CAP_SETUID) || !sandbox_has_cap(CAP_SETGID))
		pf_err_set(&why, EPERM, "CAP_SETUID or CAP_SETGID is outside the bounding set");
	else if (netproc_drop_privileges(&uid, &gid, &why) == 0)
		dropped = true;
	else if (!ids_unchanged())
		/* Half a change (a gid but not the uid) is no state to run in. */
		return pf_err_set(e, EPERM, "%s", why.msg);
	if ((rc = sandbox_enter(!dropped, &sb, e)) < 0) {
		if (!dropped)
			pf_err_prefix(e, "no uid change (%s), and no sandbox", why.msg);
		return rc;
	}
	memset(sep, 0, sizeof(*sep));
	sep->uid = (uint32_t)getuid();
	sep->gid = (uint32_t)getgid();
	sep->flags = (dropped ? NET_SEP_UID : 0) | (sb.seccomp ? NET_SEP_SECCOMP : 0) |
		     (sb.no_caps ? NET_SEP_NOCAPS : 0);
	sep->landlock_abi = (uint32_t)sb.landlock_abi;
	if (!dropped)
		snprintf(sep->why_uid, sizeof(sep->why_uid), "%.200s", why.msg);
	return 0;
}

noreturn void netproc_main(int fd)
{
	pid_t parent = getppid();
	net_status st = {0};
	net_buf hello = {0};
	net_sep sep = {.uid = (uint32_t)-1, .gid = (uint32_t)-1};
	sigset_t none;
	pf_err e = {0};

	/* The parent may block signals for its event loop; this process wants
	 * the defaults, except that the parent alone answers ^C and hangups,
	 * and a peer closing a connection is an error, not a death. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	prctl(PR_SET_NAME, NETPROC_COMM, 0, 0, 0);
	/* Not left in the parent's directory (perhaps the Postfix one). */
	if (chdir("/") < 0)
		_exit(1);

	if ((st.rc = reset_fds(fd, &st.err)) == 0) {
		fd = NETPROC_FD;
		st.rc = separate(&sep, &st.err);
	}
	/* Set after the drop: changing credentials clears it. */
	if (st.rc == 0 && (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent))
		st.rc = pf_err_set(&st.err, ESRCH, "the parent process is gone");
	net_enc_hello(&hello, &st, &sep);
	if (net_send(fd, NET_HELLO, &hello) < 0 || st.rc < 0)
		_exit(1);
	net_buf_free(&hello);
	for (;;) {
		int rc = netproc_serve_one(NETPROC_FD, &e);

		if (rc == 0)
			_exit(0);
		if (rc < 0)
			_exit(2); /* the parent sees the socket close and reports it */
	}
}

int netproc_spawn(int *ret_fd, pid_t *ret_pid, net_sep *ret_sep, pf_err *e)
{
	static const uint32_t hello_only[] = {NET_HELLO};
	net_buf b = {0};
	net_status st;
	net_sep sep;
	uint32_t t;
	int sv[2], rc;
	pid_t pid;

	if (geteuid() != 0) {
		pf_err_set(e, EPERM, "not running as root, so no privileges to drop");
		return 1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return pf_err_set(e, errno, "socketpair: %s", strerror(errno));
	/* Buffered output would otherwise be written twice. */
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		rc = pf_err_set(e, errno, "fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return rc;
	}
	if (pid == 0) {
		close(sv[0]);
		netproc_main(sv[1]);
	}
	close(sv[1]);
	rc = net_recv(sv[0], hello_only, 1, HELLO_TIMEOUT_MS, &t, &b, e);
	if (rc == 0)
		rc = net_dec_hello(&b, &st, &sep, e);
	net_buf_free(&b);
	if (rc == 0 && st.rc < 0) {
		*e = st.err;
		pf_err_prefix(e, "the network process cannot separate itself");
		rc = 1;
	} else if (rc == 0 && !(sep.flags & NET_SEP_UID) && sep.landlock_abi == 0) {
		/* It must not claim success with neither. */
		rc = pf_err_set(e, EPROTO,
				"the network process reports neither a uid change "
				"nor a sandbox");
		kill(pid, SIGKILL);
	} else if (rc < 0) {
		if (rc == -ECONNRESET || rc == -ETIMEDOUT)
			pf_err_set(e, -rc, "the network process did not start");
		kill(pid, SIGKILL);
	}
	if (rc != 0) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		close(sv[0]);
		return rc;
	}
	*ret_fd = sv[0];
	*ret_pid = pid;
	if (ret_sep)
		*ret_sep = sep;
	return 0;
}
