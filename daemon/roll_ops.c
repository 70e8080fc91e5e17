/*
 * roll_ops.c - the rollover engine's real dependencies (pf_roll_ops,
 * rollover.h): the system clock, the network side of net.h, the Postfix
 * adapter and reload of postfix.h and reload.h on the instance the
 * configuration names, and withdraw_guard_check.  Each takes the roll
 * object as its userdata; a test replaces the whole table with its own.
 */
#include <stdlib.h>
#include <time.h>

#include "net.h"
#include "reload.h"
#include "roll_int.h"

static int64_t real_now_ms(void *ud)
{
	(void)ud;
	return pf_now_ms();
}

static uint64_t real_mono_usec(void *ud)
{
	(void)ud;
	return pf_mono_usec();
}

static void real_sleep_ms(void *ud, unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	(void)ud;
	nanosleep(&ts, NULL); /* as sleep(3): a signal ends it early */
}

static int real_discover(void *ud, const pf_config *cfg, char *const *owners, size_t n_owners,
			 dns_zone_info **ret, size_t *n_zones, size_t *owner_zone, pf_err *e)
{
	return net_discover(((pf_roll *)ud)->net, cfg, owners, n_owners, ret, n_zones, owner_zone,
			    e);
}

static int real_update_apply(void *ud, const dns_update_opts *o, dns_change *ch, size_t n,
			     dns_update_result *res, pf_err *e)
{
	return net_update_apply(((pf_roll *)ud)->net, o, ch, n, res, e);
}

static int real_prop_run(void *ud, const dns_zone_info *z, const dns_prop_want *want, size_t n,
			 const dns_net_opts *o, dns_prop_round *ret, pf_err *e)
{
	return net_prop_run(((pf_roll *)ud)->net, z, want, n, o, ret, e);
}

static int real_probe(void *ud, const pf_hostport *ep, const char *tlsa_host,
		      const pf_tlsa_rdata *records, size_t n, enum pf_probe_want want,
		      int timeout_ms, pf_probe_result *ret, pf_err *e)
{
	return net_probe(((pf_roll *)ud)->net, ep, tlsa_host, records, n, want, timeout_ms, ret, e);
}

static int real_postfix_open(void *ud, pf_err *e)
{
	pf_roll *r = ud;

	return postfix_open(&r->pf, r->cfg->postfix_command_directory,
			    r->cfg->postfix_config_directory, e);
}

static int real_myhostname(void *ud, char **ret, pf_err *e)
{
	return postfix_myhostname(&((pf_roll *)ud)->pf, ret, e);
}

static int real_deployed(void *ud, const char *prefix, pf_tls_files *ret, pf_err *e)
{
	return postfix_deployed(&((pf_roll *)ud)->pf, prefix, ret, e);
}

static int real_snapshot(void *ud, const char *const *names, pf_snapshot *ret, pf_err *e)
{
	return postfix_snapshot(&((pf_roll *)ud)->pf, names, ret, e);
}

static int real_restore(void *ud, const pf_snapshot *s, pf_err *e)
{
	return postfix_restore(&((pf_roll *)ud)->pf, s, e);
}

static int real_deploy_settings(void *ud, enum pf_alg alg, const char *keyfile,
				const char *certfile, pf_strv *ret, pf_err *e)
{
	return postfix_deploy_settings(&((pf_roll *)ud)->pf, alg, keyfile, certfile, ret, e);
}

static int real_set(void *ud, const pf_strv *settings, pf_err *e)
{
	return postfix_set(&((pf_roll *)ud)->pf, settings, e);
}

static int real_check(void *ud, bool full, const pf_strv *settings, pf_err *e)
{
	pf_roll *r = ud;

	return full ? postfix_check(&r->pf, e) : postfix_check_settings(&r->pf, settings, e);
}

static int real_mark(void *ud, const char *path, pf_file_mark *ret, pf_err *e)
{
	(void)ud;
	return postfix_mark(path, ret, e);
}

static int real_reload_preflight(void *ud, bool *ret_full_check, pf_err *e)
{
	pf_roll *r = ud;

	return reload_preflight(r->cfg, r->cfg->path, ret_full_check, e);
}

/* Reload Postfix: through systemd (reload_unit), waiting for the job to
 * finish so that verification never probes a server not yet reloaded, or
 * with reload_command. */
static int real_reload(void *ud, pf_err *e)
{
	pf_roll *r = ud;
	char *cmd;
	int rc;

	if (r->cfg->reload_unit)
		return reload_unit_wait(r->cfg->reload_unit, PF_RELOAD_UNIT_TIMEOUT_SEC, e);
	cmd = pf_config_reload_command(r->cfg);
	rc = postfix_reload(&r->pf, cmd, e);
	free(cmd);
	return rc;
}

static int real_save(void *ud, const char *path, const pf_state *st, pf_err *e)
{
	(void)ud;
	return pf_state_save(path, st, e);
}

static int real_guard(void *ud, const pf_guard_req *q, const pf_guard_record *recs, size_t n,
		      pf_err *e)
{
	pf_guard_req q2 = *q;

	q2.net = ((pf_roll *)ud)->net; /* its probes go where the engine's go */
	return withdraw_guard_check(&q2, recs, n, e);
}

const pf_roll_ops roll_real_ops = {
	.now_ms = real_now_ms,
	.mono_usec = real_mono_usec,
	.sleep_ms = real_sleep_ms,
	.discover = real_discover,
	.update_apply = real_update_apply,
	.prop_run = real_prop_run,
	.probe = real_probe,
	.postfix_open = real_postfix_open,
	.myhostname = real_myhostname,
	.deployed = real_deployed,
	.snapshot = real_snapshot,
	.restore = real_restore,
	.deploy_settings = real_deploy_settings,
	.set = real_set,
	.check = real_check,
	.mark = real_mark,
	.reload_preflight = real_reload_preflight,
	.reload = real_reload,
	.save = real_save,
	.guard = real_guard,
};
