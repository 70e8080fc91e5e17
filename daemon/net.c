/*
 * net.c - the privileged side of the network process: start and stop it,
 * and turn each net_* call into one request and one reply (net_msg.h), or
 * into the in-process call when there is no network process.
 *
 * The manager (pf_net) owns the socket to its network process and its pid:
 * pftls-rolld makes one and hands it to the engine, the command line makes
 * its own per subcommand.  Every
 * reply is taken only as the reply type of the request just sent and is
 * decoded completely before anything of it is used; while an update is
 * worked on, the network process's sign and MAC check requests are taken
 * too, and answered by net_sign.c, which holds the key.  Anything else ends
 * the network process (SIGKILL, reaped) and fails the call.
 */
#include "net.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net_msg.h"
#include "net_sign.h"
#include "netproc.h"

enum net_mode {
	MODE_INPROCESS, /* no network process possible: the calls run here */
	MODE_RUNNING,   /* requests go to np->fd */
	MODE_DEAD,      /* it failed an exchange: the next call forks another */
};

/* A network process older than this is replaced, cleanly, at the next
 * call: its Landlock rules name the inodes of resolv.conf and the like as
 * they were when it started, and those files are replaced by rename. */
#define NET_MAX_AGE_USEC (3600ULL * 1000000ULL)

struct pf_net {
	enum net_mode mode;
	int fd;
	pid_t pid;
	uint64_t started; /* pf_mono_usec() at the fork */
	net_sep sep;
};

static void reap(pf_net *np)
{
	if (np->fd >= 0)
		close(np->fd);
	if (np->pid > 0)
		while (waitpid(np->pid, NULL, 0) < 0 && errno == EINTR)
			;
	np->fd = -1;
	np->pid = -1;
}

/* A manager with no network process: its calls run in this process. */
static pf_net *net_alloc(void)
{
	pf_net *np = pf_calloc(1, sizeof(*np));

	np->mode = MODE_INPROCESS;
	np->fd = -1;
	np->pid = -1;
	return np;
}

pf_net *net_new(void)
{
	pf_net *np = net_alloc();
	pf_err e = {0};

	if (netproc_spawn(&np->fd, &np->pid, &np->sep, &e) == 0) {
		np->mode = MODE_RUNNING;
		np->started = pf_mono_usec();
		return np;
	}
	np->mode = MODE_INPROCESS;
	fprintf(stderr,
		"%s: notice: %s; DNS and SMTP checks run in this process, without "
		"privilege separation\n",
		program_invocation_short_name, e.msg);
	return np;
}

pf_net *net_free(pf_net *np)
{
	if (!np)
		return NULL;
	/* At end of file it exits by itself. */
	if (np->mode != MODE_INPROCESS)
		reap(np);
	free(np);
	return NULL;
}

pid_t net_pid(const pf_net *np)
{
	return np && np->mode == MODE_RUNNING ? np->pid : -1;
}

const char *net_separation(const pf_net *np, char *buf, size_t len)
{
	const net_sep *s = np ? &np->sep : NULL;
	char ll[32] = "no Landlock";

	if (!np || np->mode != MODE_RUNNING) {
		snprintf(buf, len, "no network process: DNS and SMTP checks run in this process");
		return buf;
	}
	if (s->landlock_abi)
		snprintf(ll, sizeof(ll), "Landlock ABI %u", (unsigned)s->landlock_abi);
	if (s->flags & NET_SEP_UID)
		snprintf(buf, len,
			 "network process %d runs as uid %u gid %u, in a sandbox (%s, %s)",
			 (int)np->pid, (unsigned)s->uid, (unsigned)s->gid, ll,
			 s->flags & NET_SEP_SECCOMP ? "seccomp" : "no seccomp");
	else
		snprintf(buf, len,
			 "network process %d stays uid %u (%s), separated by its sandbox alone "
			 "(%s, %s, %s)",
			 (int)np->pid, (unsigned)s->uid, s->why_uid, ll,
			 s->flags & NET_SEP_SECCOMP ? "seccomp" : "no seccomp",
			 s->flags & NET_SEP_NOCAPS ? "no capabilities"
						   : "capabilities kept, capset refused");
	return buf;
}

pf_net *net_adopt(int fd, pid_t pid)
{
	pf_net *np = net_alloc();

	np->fd = fd;
	np->pid = pid;
	np->started = pf_mono_usec();
	np->mode = MODE_RUNNING;
	return np;
}

/* End a network process that broke an exchange.  Returns rc. */
static int broken(pf_net *np, int rc)
{
	if (np->pid > 0)
		kill(np->pid, SIGKILL);
	reap(np);
	np->mode = MODE_DEAD;
	return rc;
}

/* A fresh network process after a failed exchange.  Returns 0 or -errno. */
static int restart(pf_net *np, pf_err *e)
{
	int rc = netproc_spawn(&np->fd, &np->pid, &np->sep, e);

	if (rc != 0) {
		/* It ran before: not being able to run it now is a failure, not
		 * a reason to fall back to unseparated work. */
		pf_err_prefix(e, "cannot restart the network process");
		return rc < 0 ? rc : -EPERM;
	}
	np->mode = MODE_RUNNING;
	np->started = pf_mono_usec();
	return 0;
}

/*
 * Send request req (body b) and receive its reply into *reply, answering on
 * the way the sign and MAC check requests of the network process with
 * signer (NULL: none may come).  The whole exchange ends within
 * NET_REPLY_TIMEOUT_MS.  Returns 0; -ECONNRESET when the network process is
 * gone (it is restarted at the next call: a transient failure); -ETIMEDOUT;
 * -EPROTO for a protocol violation; each with e saying so.
 */
static int exchange(pf_net *np, uint32_t req, const net_buf *b, net_buf *reply,
		    const net_signer *signer, pf_err *e)
{
	const uint32_t allowed[] = {req + 1, NET_SIGN_REQ, NET_MAC_REQ};
	uint64_t deadline;
	uint32_t t;
	int rc;

	if (np->mode == MODE_RUNNING && pf_mono_usec() - np->started > NET_MAX_AGE_USEC) {
		/* Retire it: at end of file it exits by itself. */
		reap(np);
		np->mode = MODE_DEAD;
	}
	if (np->mode == MODE_DEAD && (rc = restart(np, e)) < 0)
		return rc;
	if ((rc = net_send(np->fd, req, b)) < 0) {
		pf_err_set(e, -rc, "cannot send the %s to the network process: %s",
			   net_type_name(req), strerror(-rc));
		return broken(np, rc == -EPIPE || rc == -ECONNRESET ? -ECONNRESET : -EPROTO);
	}
	deadline = pf_mono_usec() + (uint64_t)NET_REPLY_TIMEOUT_MS * 1000;
	for (;;) {
		uint64_t now = pf_mono_usec();
		int left = now >= deadline ? 0 : (int)((deadline - now + 999) / 1000);
		net_buf out = {0};

		rc = net_recv(np->fd, allowed, signer ? 3 : 1, left, &t, reply, e);
		if (rc == -ECONNRESET) {
			pf_err_set(e, ECONNRESET, "the network process ended during a %s",
				   net_type_name(req));
			return broken(np, -ECONNRESET);
		}
		if (rc == -ETIMEDOUT) {
			pf_err_set(e, ETIMEDOUT,
				   "the network process did not answer a %s within %d s",
				   net_type_name(req), NET_REPLY_TIMEOUT_MS / 1000);
			return broken(np, -ETIMEDOUT);
		}
		if (rc < 0) {
			if (rc != -EPROTO)
				pf_err_set(e, -rc, "reading from the network process: %s",
					   strerror(-rc));
			pf_err_prefix(e, "network process");
			return broken(np, -EPROTO);
		}
		if (t == req + 1)
			return 0;
		/* A signature or a MAC check for the update it works on. */
		if ((rc = net_signer_serve(signer, t, reply, &out, e)) == 0 &&
		    (rc = net_send(np->fd, t + 1, &out)) < 0)
			pf_err_set(e, -rc, "cannot send the %s to the network process: %s",
				   net_type_name(t + 1), strerror(-rc));
		net_buf_free(&out);
		if (rc < 0) {
			pf_err_prefix(e, "network process");
			return broken(np,
				      rc == -EPIPE || rc == -ECONNRESET ? -ECONNRESET : -EPROTO);
		}
	}
}

/* Take the status of a decoded reply as the call's result.  Returns its
 * rc. */
static int result(const net_status *st, pf_err *e)
{
	if (st->rc < 0 && e)
		*e = st->err;
	return st->rc;
}

int net_discover(pf_net *np, const pf_config *cfg, char *const *owners, size_t n_owners,
		 dns_zone_info **ret, size_t *n_zones, size_t *owner_zone, pf_err *e)
{
	net_buf req = {0}, rep = {0};
	net_status st;
	dns_zone_info *z = NULL;
	size_t nz = 0;
	int rc;

	if (!np || np->mode == MODE_INPROCESS)
		return dns_discover(cfg, owners, n_owners, ret, n_zones, owner_zone, e);
	if ((rc = net_enc_discover_req(&req, cfg, owners, n_owners, e)) == 0 &&
	    (rc = exchange(np, NET_DISCOVER_REQ, &req, &rep, NULL, e)) == 0) {
		if ((rc = net_dec_discover_rep(&rep, n_owners, &st, &z, &nz, owner_zone, e)) < 0) {
			pf_err_prefix(e, "network process");
			rc = broken(np, rc);
		} else if ((rc = result(&st, e)) == 0) {
			*ret = z;
			*n_zones = nz;
		}
	}
	net_buf_free(&req);
	net_buf_free(&rep);
	return rc;
}

/* Write a text the network process captured to the caller's file. */
static void copy_text(FILE *to, const char *text)
{
	if (to && text && *text) {
		fputs(text, to);
		fflush(to);
	}
}

int net_update_apply(pf_net *np, const dns_update_opts *o, dns_change *ch, size_t n,
		     dns_update_result *res, pf_err *e)
{
	net_buf req = {0}, rep = {0};
	net_signer signer = {0};
	net_status st;
	char *dry = NULL, *verbose = NULL;
	int rc;

	if (!np || np->mode == MODE_INPROCESS)
		return dns_update_apply(o, ch, n, res, e);
	memset(res, 0, sizeof(*res));
	/* The key stays here: the network process asks for each signature. */
	if ((rc = net_enc_update_req(&req, o, ch, n, e)) == 0 &&
	    (!o->tsig || (rc = net_signer_init(&signer, o->tsig, o->zone->zone, ch, n, e)) == 0) &&
	    (rc = exchange(np, NET_UPDATE_REQ, &req, &rep, o->tsig ? &signer : NULL, e)) == 0) {
		if ((rc = net_dec_update_rep(&rep, ch, n, &st, res, &dry, &verbose, e)) < 0) {
			pf_err_prefix(e, "network process");
			rc = broken(np, rc);
		} else {
			copy_text(o->verbose, verbose);
			copy_text(o->dry_run, dry);
			rc = result(&st, e);
		}
	}
	if (rc < 0)
		for (size_t i = 0; i < n; i++)
			if (ch[i].result == DNS_CH_PENDING)
				ch[i].result = DNS_CH_FAILED;
	free(dry);
	free(verbose);
	net_signer_free(&signer);
	net_buf_free(&req);
	net_buf_free(&rep);
	return rc;
}

int net_prop_run(pf_net *np, const dns_zone_info *z, const dns_prop_want *want, size_t n,
		 const dns_net_opts *o, dns_prop_round *ret, pf_err *e)
{
	net_buf req = {0}, rep = {0};
	net_status st;
	dns_prop_round rd = {0};
	int rc;

	if (!np || np->mode == MODE_INPROCESS)
		return dns_prop_run(z, want, n, o, ret, e);
	if ((rc = net_enc_prop_req(&req, z, want, n, o, e)) == 0 &&
	    (rc = exchange(np, NET_PROP_REQ, &req, &rep, NULL, e)) == 0) {
		if ((rc = net_dec_prop_rep(&rep, z, want, n, &st, &rd, e)) < 0) {
			pf_err_prefix(e, "network process");
			rc = broken(np, rc);
		} else if ((rc = result(&st, e)) == 0) {
			*ret = rd;
		} else {
			dns_prop_round_free(&rd);
		}
	}
	net_buf_free(&req);
	net_buf_free(&rep);
	return rc;
}

int net_probe(pf_net *np, const pf_hostport *ep, const char *tlsa_host,
	      const pf_tlsa_rdata *records, size_t n, enum pf_probe_want want, int timeout_ms,
	      pf_probe_result *ret, pf_err *e)
{
	net_buf req = {0}, rep = {0};
	net_status st;
	int rc;

	if (!np || np->mode == MODE_INPROCESS)
		return smtp_probe(ep, tlsa_host, records, n, want, timeout_ms, ret, e);
	if ((rc = net_enc_probe_req(&req, ep, tlsa_host, records, n, want, timeout_ms, e)) == 0 &&
	    (rc = exchange(np, NET_PROBE_REQ, &req, &rep, NULL, e)) == 0) {
		if ((rc = net_dec_probe_rep(&rep, &st, ret, e)) < 0) {
			pf_err_prefix(e, "network process");
			rc = broken(np, rc);
		} else {
			rc = result(&st, e);
		}
	}
	net_buf_free(&req);
	net_buf_free(&rep);
	return rc;
}
