/*
 * roll_cert.c - CA-issued certificates for the keys the engine rolls
 * (SPEC.md 8): with certificate_command set, the certificate of each next
 * key is obtained in the deploy step, before main.cf changes, and deployed
 * instead of the self-signed one; the deployed certificate is renewed on
 * the same key when certificate_renew_before is reached (roll_cert_idle,
 * the daemon) or now (roll_renew, "pftls-roll renew"), with no DNS change.
 *
 * One attempt: a private directory in state_directory, the CSR (CN and DNS
 * SANs = the TLSA host names) written there, the command run with
 * PFTLS_CSR, PFTLS_CHAIN, PFTLS_HOSTNAMES, PFTLS_ALGORITHM, PFTLS_KEY_SPKI
 * and nothing else of ours (command.c), the chain it wrote checked
 * (certchain.c), then written into postfix_config_directory under a new
 * name of our scheme (pf_ca_file_name_ours): the chain alone
 * {ec}cert-KEYSTAMP-ca-STAMP.pem, and for smtpd_tls_chain_files the key and
 * chain together {ec}chain-KEYSTAMP-ca-STAMP.pem (keystore_chain.c).  The
 * chain-alone file is written in both cases: it is the public copy a
 * renewal reads the deployed certificate's dates from.
 *
 * Any failure is a certificate-refused journal error with the command's
 * message or the chain's verdict, nothing is deployed, and -EAGAIN is
 * returned: roll_run's transient path retries with its bounded back-off,
 * the current key staying live.
 *
 * Every chain the command gives and the checks accept is also kept, public
 * and alone, in state_directory/ca-retry-ALG.pem (reuse_path).  When a
 * later step fails (the reload, the verification of the live server) the
 * retry takes that chain instead of asking the CA again, as long as it
 * still passes every check (our key, the names, valid for longer than
 * certificate_renew_before, certificate_ca_file) and is not the one
 * deployed now: a local fault that persists must not spend the CA's rate
 * limits (Let's Encrypt's 5 duplicate certificates a week) on identical
 * certificates.  The state file gains nothing: the files
 * are named from the key file's stamp, and after a deploy main.cf says
 * which certificate is in service.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "certchain.h"
#include "command.h"
#include "journal.h"
#include "keystore.h"
#include "keystore_chain.h"
#include "roll_int.h"
#include "tlsa.h"

/* The directory part of path equals dir (trailing slashes aside). */
static bool in_dir(const char *path, const char *dir)
{
	const char *slash = strrchr(path, '/');
	size_t dn = strlen(dir), pn;

	if (!slash)
		return false;
	pn = (size_t)(slash - path);
	while (dn > 1 && dir[dn - 1] == '/')
		dn--;
	return pn == dn && strncmp(path, dir, pn) == 0;
}

static const char *base_of(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/*
 * The key stamp of one of our files deployed for alg: a key file
 * {ec}key-STAMP.pem or a combined {ec}chain-STAMP-ca-STAMP.pem, directly in
 * postfix_config_directory.  Copies the 15 characters into stamp[16] and
 * returns true, or false for a file not ours.
 */
static bool key_stamp_of(const pf_roll *r, const char *keyfile, enum pf_alg alg, bool *ret_combined,
			 char stamp[16])
{
	const char *b = base_of(keyfile), *s = NULL;

	if (!in_dir(keyfile, r->cfg->postfix_config_directory))
		return false;
	if (pf_key_file_name_ours(b, alg, false, &s))
		*ret_combined = false;
	else if (pf_ca_file_name_ours(b, alg, true, &s))
		*ret_combined = true;
	else
		return false;
	memcpy(stamp, s, 15);
	stamp[15] = '\0';
	return true;
}

/* DIR/{ec}{cert,chain}-KEYSTAMP-ca-STAMP(t).pem; the caller frees it. */
static char *ca_file_name(const pf_roll *r, enum pf_alg alg, bool combined, const char *kstamp,
			  int64_t t)
{
	const char *dir = r->cfg->postfix_config_directory;
	size_t dn = strlen(dir);
	time_t tt = (time_t)t;
	char stamp[32];
	struct tm tm;

	while (dn > 1 && dir[dn - 1] == '/')
		dn--;
	gmtime_r(&tt, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	return pf_asprintf("%.*s/%s%s-%s-ca-%s.pem", (int)dn, dir, alg == PF_ALG_ECDSA ? "ec" : "",
			   combined ? "chain" : "cert", kstamp, stamp);
}

/* The public twin of a combined file: chain- -> cert-, same stamps. */
static char *twin_of_combined(const char *path)
{
	const char *b = base_of(path);
	size_t dl = (size_t)(b - path), pl = strncmp(b, "ec", 2) == 0 ? 2 : 0;

	return pf_asprintf("%.*s%.*scert%s", (int)dl, path, (int)pl, b, b + pl + strlen("chain"));
}

/* The command's deadline: CERT_COMMAND_TIMEOUT_MS.  The tree's build (with
 * the fault-injection points, never the Debian package's) takes a shorter
 * one from PFTLS_CERT_COMMAND_TIMEOUT_MS, 1000 to 120000, so that
 * tests/integ/acme_timeout.sh need not wait two minutes. */
static int cert_command_timeout_ms(void)
{
#ifdef PFTLS_FAULT_INJECTION
	const char *env = getenv("PFTLS_CERT_COMMAND_TIMEOUT_MS");
	long t = env ? strtol(env, NULL, 10) : 0;

	if (t >= 1000 && t <= CERT_COMMAND_TIMEOUT_MS)
		return (int)t;
#endif
	return CERT_COMMAND_TIMEOUT_MS;
}

/* One "NAME=value" of the command's environment (command.h). */
static char *env_var(const char *name, const char *value)
{
	return pf_asprintf("%s=%s", name, value);
}

/* Remove the attempt's directory: the CSR, the chain, and whatever the
 * command left beside them (uacme writes CSRBASE-cert.pem there); one
 * level, no symbolic link followed. */
static void remove_work_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno == EISDIR)
			continue;
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

/* Where the last chain the command gave for alg is kept for a retry. */
static char *reuse_path(const pf_roll *r, enum pf_alg alg)
{
	return pf_asprintf("%s/ca-retry-%s.pem", r->cfg->state_directory, pf_alg_name(alg));
}

/*
 * The kept chain of alg, checked now as a new one is (pol: our key, the
 * names, more than certificate_renew_before left, certificate_ca_file),
 * into *ret, unless its serial is skip_serial (the certificate deployed
 * now: "renew" wants another).  Returns true when it may be deployed; a
 * kept chain that no longer passes is removed, with the reason as
 * progress.
 */
static bool reuse_kept(pf_roll *r, enum pf_alg alg, const pf_chain_policy *pol,
		       const char *skip_serial, pf_chain *ret)
{
	char *path = reuse_path(r, alg);
	enum pf_chain_verdict v;
	pf_err e = {0};
	struct stat sb;
	bool ok = false;

	if (lstat(path, &sb) < 0)
		goto out;
	v = certchain_check(path, pol, ret, &e);
	if (v == PF_CHAIN_OK && skip_serial && strcmp(ret->serial, skip_serial) == 0) {
		certchain_free(ret);
		memset(ret, 0, sizeof(*ret));
	} else if (v == PF_CHAIN_OK) {
		ok = true;
	} else {
		roll_progress(r, "the %s certificate obtained earlier is not reused (%s): %s",
			      pf_alg_name(alg), certchain_verdict_name(v), e.msg);
		unlink(path);
	}
out:
	free(path);
	return ok;
}

/* Keep an accepted chain for a retry (reuse_kept); best effort. */
static void keep_for_retry(pf_roll *r, enum pf_alg alg, const pf_chain *c)
{
	char *path = reuse_path(r, alg);
	pf_err e = {0};

	unlink(path);
	if (certchain_write(path, c, &e) < 0)
		roll_progress(r, "the %s certificate is not kept for a retry: %s", pf_alg_name(alg),
			      e.msg);
	free(path);
}

/* The policy a deployed chain of ours is held to: the leaf carries pk,
 * names every host, verifies against certificate_ca_file and is valid now;
 * no renewal margin (renew_before 0), which is the caller's to weigh. */
static pf_chain_policy deployed_policy(pf_roll *r, const pf_pubkey *pk, const pf_strv *hosts)
{
	return (pf_chain_policy){.key = pk,
				 .hostnames = hosts,
				 .ca_file = r->cfg->certificate_ca_file,
				 .renew_before = {.percent = false, .value = 0},
				 .now = roll_now(r)};
}

/* Read the CA-issued chain in pub (of the key in keyfile) into *ret as
 * deployed_policy holds it.  Returns true when it passes (free *ret with
 * certchain_free), false when it does not or cannot be read. */
static bool deployed_chain(pf_roll *r, const char *pub, const char *keyfile, pf_chain *ret)
{
	pf_strv hosts = {0};
	pf_pubkey pk = {0};
	pf_err e = {0};
	bool ok = false;

	if (pub && roll_tlsa_hosts(r, &hosts, &e) == 0 &&
	    keystore_load_pubkey(keyfile, &pk, &e) == 0) {
		pf_chain_policy pol = deployed_policy(r, &pk, &hosts);

		ok = certchain_check(pub, &pol, ret, &e) == PF_CHAIN_OK;
	}
	pf_pubkey_free(&pk);
	pf_strv_clear(&hosts);
	return ok;
}

/* The serial of the CA-issued chain in pub, when it reads as one (no
 * check of its dates or trust: only to tell it from a kept one). */
static bool serial_of(pf_roll *r, const char *pub, const char *keyfile, char serial[41])
{
	pf_chain c = {0};

	if (!deployed_chain(r, pub, keyfile, &c))
		return false;
	snprintf(serial, 41, "%s", c.serial);
	certchain_free(&c);
	return true;
}

/*
 * Obtain and write a CA-issued certificate for the key in keyfile (one of
 * ours, key_stamp_of): CSR, command, check, files; or the chain kept from
 * an earlier attempt for the same key (reuse_kept), unless it is the one
 * in deployed_pub (NULL: none to tell apart).  *ret_key and *ret_cert
 * (the caller frees them) are what a deploy puts into main.cf: the key
 * file and the chain-alone file, or the combined file twice.  *ret_not_after
 * is the new leaf's notAfter.  Every failure is logged (certificate-refused)
 * and returned as -EAGAIN with e saying why.
 */
static int obtain(pf_roll *r, enum pf_alg alg, const char *keyfile, const char *deployed_pub,
		  bool combined_out, char **ret_key, char **ret_cert, int64_t *ret_not_after,
		  pf_err *e)
{
	const pf_config *cfg = r->cfg;
	char kstamp[16], *dir = NULL, *csr = NULL, *csr_path = NULL, *chain_path = NULL;
	char *hostlist = NULL, *env_csr = NULL, *env_chain = NULL, *env_hosts = NULL;
	char *env_alg = NULL, *env_spki = NULL, *out_cert = NULL, *out_chain = NULL;
	enum pf_chain_verdict v = PF_CHAIN_OK;
	EVP_PKEY *key = NULL;
	pf_pubkey pk = {0};
	pf_strv hosts = {0};
	pf_chain chain = {0};
	pf_cmd_result res;
	bool combined_in, have_chain = false, reused = false;
	char skip[41] = "";
	struct stat sb;
	int64_t now = roll_now(r);
	int rc;

	if (!key_stamp_of(r, keyfile, alg, &combined_in, kstamp)) {
		rc = pf_err_refuse(e, "%s is not a key file of this program's in %s", keyfile,
				   cfg->postfix_config_directory);
		goto out;
	}
	if ((rc = roll_tlsa_hosts(r, &hosts, e)) < 0 ||
	    (rc = keystore_load_key(keyfile, &key, e)) < 0 ||
	    (rc = keystore_pubkey_of_key(key, &pk, e)) < 0 ||
	    (rc = keystore_csr_pem_cn(key, &hosts, &csr, e)) < 0)
		goto out;
	{
		pf_chain_policy pol = {.key = &pk,
				       .hostnames = &hosts,
				       .ca_file = cfg->certificate_ca_file,
				       .renew_before = cfg->certificate_renew_before,
				       .now = now};
		bool has_skip = serial_of(r, deployed_pub, keyfile, skip);

		if (reuse_kept(r, alg, &pol, has_skip ? skip : NULL, &chain)) {
			have_chain = reused = true;
			goto write;
		}
	}
	dir = pf_asprintf("%s/cert.XXXXXX", cfg->state_directory);
	if (!mkdtemp(dir)) {
		rc = pf_err_set(e, errno, "cannot make a directory for the CSR in %s: %s",
				cfg->state_directory, strerror(errno));
		free(dir);
		dir = NULL;
		goto out;
	}
	csr_path = pf_asprintf("%s/csr.pem", dir);
	chain_path = pf_asprintf("%s/chain.pem", dir);
	if ((rc = pf_write_file_durable(csr_path, csr, strlen(csr), 0644, PF_WRITE_NOREPLACE, e)) <
	    0)
		goto out;
	hostlist = pf_strv_join(&hosts, " ");
	env_csr = env_var("PFTLS_CSR", csr_path);
	env_chain = env_var("PFTLS_CHAIN", chain_path);
	env_hosts = env_var("PFTLS_HOSTNAMES", hostlist);
	env_alg = env_var("PFTLS_ALGORITHM", pf_alg_name(alg));
	env_spki = env_var("PFTLS_KEY_SPKI", pk.spki_sha256);
	{
		const char *env[] = {env_csr, env_chain, env_hosts, env_alg, env_spki, NULL};

		roll_progress(r, "running certificate_command for the %s key", pf_alg_name(alg));
		rc = command_run("certificate_command", cfg->certificate_command, env,
				 cert_command_timeout_ms(), &res, e);
	}
	if (rc < 0)
		goto out;
	/* Checked at the moment the command has finished: a CA that sets
	 * notBefore to the moment it signed is valid from then. */
	now = roll_now(r);
	{
		pf_chain_policy pol = {.key = &pk,
				       .hostnames = &hosts,
				       .ca_file = cfg->certificate_ca_file,
				       .renew_before = cfg->certificate_renew_before,
				       .now = now};

		v = certchain_check(chain_path, &pol, &chain, e);
		if (v != PF_CHAIN_OK) {
			rc = -EINVAL;
			goto out;
		}
		have_chain = true;
		keep_for_retry(r, alg, &chain);
	}
write:
	out_cert = ca_file_name(r, alg, false, kstamp, now);
	if ((rc = certchain_write(out_cert, &chain, e)) < 0)
		goto out;
	if (combined_out) {
		out_chain = ca_file_name(r, alg, true, kstamp, now);
		if (lstat(out_chain, &sb) == 0)
			rc = pf_err_set(e, EEXIST, "%s exists already", out_chain);
		else
			rc = keystore_write_key_chain(out_chain, key, chain.certs, e);
		if (rc < 0) {
			unlink(out_cert);
			goto out;
		}
	}
	if (reused)
		pf_journal_state_event(
			&r->st, now, PF_EV_CERT_OBTAINED, NULL,
			"reusing the CA-issued certificate for the %s key %s obtained by an "
			"earlier "
			"attempt (serial %s, valid until %lld, renewal due at %lld): it passes "
			"every check again, the CA is not asked for another: %s",
			pf_alg_name(alg), pk.spki_sha256, chain.serial, (long long)chain.not_after,
			(long long)chain.renew_at, combined_out ? out_chain : out_cert);
	else
		pf_journal_state_event(&r->st, now, PF_EV_CERT_OBTAINED, NULL,
				       "CA-issued certificate for the %s key %s obtained (serial "
				       "%s, valid until %lld, renewal due at %lld): %s",
				       pf_alg_name(alg), pk.spki_sha256, chain.serial,
				       (long long)chain.not_after, (long long)chain.renew_at,
				       combined_out ? out_chain : out_cert);
	roll_progress(r, "certificate: %s key, serial %s, %s%s", pf_alg_name(alg), chain.serial,
		      combined_out ? out_chain : out_cert,
		      reused ? " (reused from an earlier attempt, not asked of the CA again)" : "");
	*ret_not_after = chain.not_after;
	if (combined_out) {
		*ret_key = pf_strdup(out_chain);
		*ret_cert = out_chain;
		out_chain = NULL;
	} else {
		*ret_key = pf_strdup(keyfile);
		*ret_cert = out_cert;
		out_cert = NULL;
	}
	rc = 0;
out:
	if (rc < 0) {
		char msg[PF_STATE_MAX_TEXT];

		snprintf(msg, sizeof(msg), "%.380s", e->msg[0] ? e->msg : "failed");
		pf_journal_state_event(
			&r->st, now, PF_EV_CERT_REFUSED, NULL,
			"no CA certificate for the %s key%s%s%s: %s; nothing deployed, "
			"will retry",
			pf_alg_name(alg), v != PF_CHAIN_OK ? " (chain refused: " : "",
			v != PF_CHAIN_OK ? certchain_verdict_name(v) : "",
			v != PF_CHAIN_OK ? ")" : "", msg);
		pf_err_prefix(e, "no CA certificate for the %s key", pf_alg_name(alg));
		if (rc != -EPERM)
			rc = -EAGAIN;
	}
	if (dir)
		remove_work_dir(dir);
	if (have_chain)
		certchain_free(&chain);
	free(dir);
	free(csr);
	free(csr_path);
	free(chain_path);
	free(hostlist);
	free(env_csr);
	free(env_chain);
	free(env_hosts);
	free(env_alg);
	free(env_spki);
	free(out_cert);
	free(out_chain);
	pf_pubkey_free(&pk);
	pf_strv_clear(&hosts);
	EVP_PKEY_free(key);
	return rc;
}

/* Does main.cf use smtpd_tls_chain_files (so a key+chain file is
 * deployed)?  Returns 0 or -errno. */
static int uses_chain_files(pf_roll *r, bool *ret, pf_err *e)
{
	pf_tls_files dep = {0};
	int rc;

	if ((rc = roll_open_postfix(r, e)) < 0)
		return rc;
	rc = r->ops->deployed(r->ops_data, "smtpd", &dep, e);
	*ret = rc == 0 && dep.chain_files;
	pf_tls_files_free(&dep);
	return rc;
}

/* A CA certificate changes at every renewal; only records of the key
 * (selector 1) stay right.  Returns 0 or -EINVAL (exit 2). */
static int spki_records_only(const pf_roll *r, pf_err *e)
{
	for (size_t i = 0; i < r->cfg->n_tlsa_records; i++)
		if (r->cfg->tlsa_records[i].selector != 1)
			return pf_err_usage(
				e,
				"certificate_command needs TLSA records of the key "
				"(selector 1, as 3 1 1): tlsa_records has %u %u %u, which "
				"a CA-issued certificate would not match",
				r->cfg->tlsa_records[i].usage, r->cfg->tlsa_records[i].selector,
				r->cfg->tlsa_records[i].mtype);
	return 0;
}

void roll_cert_files_free(roll_cert_files *f)
{
	for (int a = 0; a < PF_ALG_COUNT; a++) {
		free(f->key[a]);
		free(f->cert[a]);
		f->key[a] = f->cert[a] = NULL;
	}
}

int roll_cert_obtain_next(pf_roll *r, roll_cert_files *ret, pf_err *e)
{
	bool combined;
	int rc;

	memset(ret, 0, sizeof(*ret));
	if (!r->cfg->certificate_command)
		return 0;
	if ((rc = spki_records_only(r, e)) < 0 || (rc = uses_chain_files(r, &combined, e)) < 0)
		return rc;
	for (int a = 0; a < PF_ALG_COUNT; a++) {
		const pf_state_key *k = &r->st.keys[a];
		int64_t na;

		if (!k->present || !pf_state_key_has_next(k))
			continue;
		rc = obtain(r, (enum pf_alg)a, k->next_key, NULL, combined, &ret->key[a],
			    &ret->cert[a], &na, e);
		if (rc < 0) {
			roll_cert_files_free(ret);
			/* The events are in the state, for status. */
			pf_err e2 = {0};
			(void)roll_save(r, &e2);
			return rc;
		}
	}
	return roll_save(r, e);
}

/*
 * What main.cf deploys now for alg, when it is one of our keys with a
 * certificate we may renew: *ret_key (the key or combined file),
 * *ret_pub (the chain-alone file to read the dates from; NULL for our
 * self-signed certificate, which certificate_command replaces at once),
 * *ret_combined (main.cf uses smtpd_tls_chain_files: deploy key+chain).  Returns 1 when found, 0
 * when not ours or none, -errno.
 */
static int deployed_ours(pf_roll *r, enum pf_alg alg, char **ret_key, char **ret_pub,
			 bool *ret_combined, pf_err *e)
{
	pf_tls_files dep = {0};
	char kstamp[16];
	const char *s;
	bool combined_in;
	int rc;

	*ret_key = *ret_pub = NULL;
	if ((rc = roll_open_postfix(r, e)) < 0)
		return rc;
	if ((rc = r->ops->deployed(r->ops_data, "smtpd", &dep, e)) < 0)
		return rc;
	rc = 0;
	*ret_combined = dep.chain_files;
	if (dep.key_file[alg] && key_stamp_of(r, dep.key_file[alg], alg, &combined_in, kstamp)) {
		const char *cert = dep.cert_file[alg] ? dep.cert_file[alg] : dep.key_file[alg];

		if (combined_in) {
			*ret_key = pf_strdup(dep.key_file[alg]);
			*ret_pub = twin_of_combined(dep.key_file[alg]);
			rc = 1;
		} else if (in_dir(cert, r->cfg->postfix_config_directory) &&
			   pf_ca_file_name_ours(base_of(cert), alg, false, &s) &&
			   strncmp(s, kstamp, 15) == 0) {
			*ret_key = pf_strdup(dep.key_file[alg]);
			*ret_pub = pf_strdup(cert);
			rc = 1;
		} else if (in_dir(cert, r->cfg->postfix_config_directory) &&
			   pf_key_file_name_ours(base_of(cert), alg, true, &s) &&
			   strncmp(s, kstamp, 15) == 0) {
			*ret_key = pf_strdup(dep.key_file[alg]);
			rc = 1;
		}
	}
	pf_tls_files_free(&dep);
	return rc;
}

/* The renewal moment of the certificate in pub for the key in keyfile:
 * certchain_renew_at of its dates, or now when it cannot be read, is not
 * CA-issued (pub NULL) or no longer verifies. */
static int64_t renew_moment(pf_roll *r, const char *keyfile, const char *pub,
			    int64_t *ret_not_after)
{
	pf_chain c = {0};
	int64_t at = roll_now(r);

	*ret_not_after = 0;
	if (deployed_chain(r, pub, keyfile, &c)) {
		at = certchain_renew_at(&r->cfg->certificate_renew_before, c.not_before,
					c.not_after);
		*ret_not_after = c.not_after;
		certchain_free(&c);
	}
	return at;
}

/*
 * After a renewal of alg: every endpoint presents the key, DANE-valid
 * against the key's records (which did not change), with the CA-issued
 * chain main.cf now deploys (roll_cert_check_live).  A few attempts a
 * second apart, as Postfix's processes pick up the reload.  Returns 0 or
 * -errno.
 */
static int verify_renewed(pf_roll *r, enum pf_alg alg, pf_err *e)
{
	char *keyfile = NULL, *pub = NULL;
	pf_hostport_list eps = {0};
	pf_tlsa_rdata *rds = NULL;
	pf_pubkey pk = {0};
	bool combined;
	int rc;

	if ((rc = deployed_ours(r, alg, &keyfile, &pub, &combined, e)) <= 0)
		goto out;
	if ((rc = keystore_load_pubkey(keyfile, &pk, e)) < 0 ||
	    (rc = tlsa_for_files(keyfile, NULL, r->cfg->tlsa_records, r->cfg->n_tlsa_records, &rds,
				 e)) < 0)
		goto out;
	roll_endpoints(r, &eps);
	for (size_t i = 0; rc == 0 && i < eps.n; i++) {
		char label[PF_ENDPOINT_BUF];

		pf_hostport_label(&eps.v[i], 25, label, sizeof(label));
		for (int attempt = 0;; attempt++) {
			pf_probe_result res;
			const char *host = r->cfg->tlsa_hostnames.n ? r->cfg->tlsa_hostnames.v[0]
								    : eps.v[i].host;

			pf_err_clear(e);
			rc = r->ops->probe(r->ops_data, &eps.v[i], host, rds,
					   r->cfg->n_tlsa_records, (enum pf_probe_want)alg,
					   PROBE_TIMEOUT_MS, &res, e);
			if (rc == 0 && strcmp(res.spki_sha256, pk.spki_sha256) != 0)
				rc = pf_err_set(
					e, EPROTO, "%s presents an %s key %.16s..., not %.16s...",
					label, pf_alg_name(alg), res.spki_sha256, pk.spki_sha256);
			else if (rc == 0 && !res.dane_ok)
				rc = pf_err_set(e, EPROTO,
						"%s: the %s key does not DANE-validate: %s", label,
						pf_alg_name(alg), res.verify_error);
			else if (rc == 0)
				rc = roll_cert_check_live(r, alg, &res, label, e);
			if (rc == 0 || attempt + 1 >= VERIFY_ATTEMPTS)
				break;
			roll_sleep_ms(r, 1000);
		}
		if (rc == 0)
			roll_progress(r, "ok: %s presents the renewed %s certificate, DANE-valid",
				      label, pf_alg_name(alg));
	}
out:
	free(eps.v);
	free(rds);
	pf_pubkey_free(&pk);
	free(keyfile);
	free(pub);
	return rc < 0 ? rc : 0;
}

/*
 * The renewed certificate of alg failed its verification, or main.cf's
 * check or the reload failed after main.cf changed (verified says which; e
 * says why): a verification-failed (or server-error) entry, main.cf's TLS
 * settings back as snap holds them, Postfix reloaded, the new files
 * removed.  Returns -EPROTO with e saying what failed and what was
 * restored.
 */
static int renew_rollback(pf_roll *r, enum pf_alg alg, const pf_snapshot *snap, const char *nc,
			  bool combined, bool verified, pf_err *e)
{
	char why[PF_STATE_MAX_TEXT];
	pf_err e2 = {0};
	int rc;

	snprintf(why, sizeof(why), "the renewed %s certificate %s: %.300s", pf_alg_name(alg), nc,
		 e->msg);
	pf_journal_state_event(&r->st, roll_now(r),
			       verified ? PF_EV_VERIFICATION_FAILED : PF_EV_SERVER_ERROR, NULL,
			       "%s", why);
	rc = r->ops->restore(r->ops_data, snap, &e2);
	if (rc == 0)
		rc = r->ops->reload(r->ops_data, &e2);
	if (rc < 0)
		return pf_err_set(e, EPROTO, "%s; ROLLBACK FAILED TOO: %.200s", why, e2.msg);
	pf_journal_state_event(&r->st, roll_now(r), PF_EV_ROLLBACK_DONE, NULL,
			       "previous main.cf settings restored and Postfix reloaded after: %s",
			       why);
	roll_progress(r, "rolled back: %s", why);
	/* Written by obtain a moment ago, under names never used before. */
	if (combined) {
		char *twin = twin_of_combined(nc);

		unlink(twin);
		free(twin);
	}
	unlink(nc);
	return pf_err_set(e, EPROTO, "%s; main.cf restored, the previous certificate is live", why);
}

/* Renew alg's deployed certificate now: obtain, one postconf -e, check,
 * reload, verify (verify_renewed; a failure after main.cf changed puts it
 * back).  Returns 0 (nothing of ours deployed: 0 too, *ret_done false) or
 * -errno; *ret_logged tells whether the failure is in the journal. */
static int renew_one(pf_roll *r, enum pf_alg alg, bool only_due, int64_t *wakeup, bool *ret_done,
		     bool *ret_attempted, bool *ret_logged, pf_err *e)
{
	char *keyfile = NULL, *pub = NULL, *nk = NULL, *nc = NULL;
	pf_snapshot snap = {0};
	pf_strv settings = {0};
	bool combined, full_check, changed = false;
	int64_t at, na_old, na = 0, now = roll_now(r);
	int rc;

	*ret_done = *ret_logged = false;
	if ((rc = deployed_ours(r, alg, &keyfile, &pub, &combined, e)) <= 0)
		return rc;
	at = renew_moment(r, keyfile, pub, &na_old);
	if (only_due && at > now) {
		if (wakeup && (*wakeup == 0 || at < *wakeup))
			*wakeup = at;
		goto out;
	}
	*ret_attempted = true;
	if ((rc = r->ops->reload_preflight(r->ops_data, &full_check, e)) < 0)
		goto out;
	rc = obtain(r, alg, keyfile, pub, combined, &nk, &nc, &na, e);
	if (rc < 0) {
		*ret_logged = true; /* certificate-refused */
		/* A CA-issued one of ours nearing its end (a self-signed one
		 * being replaced expires in a century: certificate-refused
		 * says enough). */
		if (only_due && pub)
			pf_journal_state_event(
				&r->st, now, PF_EV_CERT_EXPIRING, NULL,
				"the deployed %s certificate %s is due for renewal%s and renewal "
				"fails: %.200s",
				pf_alg_name(alg), pub, na_old ? "" : " (it no longer verifies)",
				e->msg);
		goto out;
	}
	rc = r->ops->snapshot(r->ops_data, postfix_tls_server_params, &snap, e);
	if (rc == 0)
		rc = r->ops->deploy_settings(r->ops_data, alg, nk, nc, &settings, e);
	if (rc == 0 && (rc = r->ops->set(r->ops_data, &settings, e)) == 0)
		changed = true;
	if (rc == 0)
		rc = r->ops->check(r->ops_data, full_check, &settings, e);
	if (rc == 0)
		rc = r->ops->reload(r->ops_data, e);
	if (rc == 0 && (rc = verify_renewed(r, alg, e)) < 0) {
		rc = renew_rollback(r, alg, &snap, nc, combined, true, e);
		*ret_logged = true;
	} else if (rc < 0 && changed) {
		rc = renew_rollback(r, alg, &snap, nc, combined, false, e);
		*ret_logged = true;
	}
	if (rc == 0) {
		pf_journal_state_event(&r->st, roll_now(r), PF_EV_CERT_RENEWED, NULL,
				       "the %s certificate was renewed on the same key: %s in "
				       "main.cf, Postfix reloaded, no DNS change",
				       pf_alg_name(alg), nc);
		roll_progress(r, "renewed: %s certificate %s", pf_alg_name(alg), nc);
		*ret_done = true;
		at = certchain_renew_at(&r->cfg->certificate_renew_before, now, na);
		if (wakeup && (*wakeup == 0 || at < *wakeup))
			*wakeup = at;
	}
out:
	pf_snapshot_free(&snap);
	pf_strv_clear(&settings);
	free(keyfile);
	free(pub);
	free(nk);
	free(nc);
	return rc;
}

/* *wakeup_ms lowered to the earliest of the renewal moments (whole
 * seconds) found in idle_renew. */
static void lower_wakeup(int64_t *wakeup_ms, int64_t at)
{
	if (at && (*wakeup_ms == 0 || at * 1000 < *wakeup_ms))
		*wakeup_ms = at * 1000;
}

/* roll_cert_idle in whole seconds: *wakeup lowered (0: none yet). */
static void idle_renew(pf_roll *r, int64_t *wakeup)
{
	pf_err e = {0};
	bool any_failed = false, attempted = false, done, logged;

	if (!r->cfg->certificate_command || spki_records_only(r, &e) < 0)
		return;
	for (int a = 0; a < PF_ALG_COUNT; a++) {
		if (renew_one(r, (enum pf_alg)a, true, wakeup, &done, &attempted, &logged, &e) <
		    0) {
			any_failed = true;
			/* Never silent: main.cf unreadable, the reload unit
			 * unreachable, ... (the command's own failures are
			 * certificate-refused already). */
			if (!logged)
				pf_journal_state_event(
					&r->st, roll_now(r), PF_EV_SERVER_ERROR, NULL,
					"renewal of the %s certificate failed: %.300s",
					pf_alg_name((enum pf_alg)a), e.msg);
		}
		pf_err_clear(&e);
	}
	/* Nothing was due: nothing to save. */
	if (!attempted && !any_failed)
		return;
	if (any_failed) {
		/* Bounded back-off, as roll_run's for a transient failure. */
		r->retry_delay = r->retry_delay ? r->retry_delay * 2 : RETRY_MIN_SEC;
		if (r->retry_delay > RETRY_MAX_SEC)
			r->retry_delay = RETRY_MAX_SEC;
		if (*wakeup == 0 || roll_now(r) + r->retry_delay < *wakeup)
			*wakeup = roll_now(r) + r->retry_delay;
	} else {
		r->retry_delay = 0;
	}
	(void)roll_save(r, &e);
}

void roll_cert_idle(pf_roll *r, int64_t *wakeup_ms)
{
	int64_t wakeup = 0;

	idle_renew(r, &wakeup);
	lower_wakeup(wakeup_ms, wakeup);
}

int roll_renew(pf_roll *r, pf_err *e)
{
	int rc, n = 0;
	bool done, attempted = false, logged;

	if (!r->cfg->certificate_command)
		return pf_err_usage(e, "renew: certificate_command is not set: the certificates "
				       "are self-signed, there is nothing to renew");
	if ((rc = roll_begin(r, e)) < 0)
		return rc;
	if ((rc = spki_records_only(r, e)) < 0) {
		roll_end(r);
		return rc;
	}
	for (int a = 0; rc == 0 && a < PF_ALG_COUNT; a++) {
		rc = renew_one(r, (enum pf_alg)a, false, NULL, &done, &attempted, &logged, e);
		n += done;
	}
	if (rc == 0 && n == 0)
		rc = pf_err_set(e, ENOENT, "renew: main.cf deploys no key of this program's in %s",
				r->cfg->postfix_config_directory);
	if (rc == 0)
		rc = roll_save(r, e);
	else {
		pf_err e2 = {0};
		(void)roll_save(r, &e2);
	}
	roll_end(r);
	return rc;
}

int roll_cert_check_live(pf_roll *r, enum pf_alg alg, const pf_probe_result *res, const char *label,
			 pf_err *e)
{
	char *keyfile = NULL, *pub = NULL, hex[PF_SHA256_HEX_BUF] = "";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	enum pf_chain_verdict v;
	pf_strv hosts = {0};
	pf_pubkey pk = {0};
	pf_chain c = {0};
	bool combined;
	int rc;

	if (!r->cfg->certificate_command)
		return 0;
	/* Only a CA-issued certificate of ours is checked: an operator's own
	 * or our self-signed one has no chain to hold to the CA file. */
	if ((rc = deployed_ours(r, alg, &keyfile, &pub, &combined, e)) <= 0 || !pub)
		goto out;
	if ((rc = roll_tlsa_hosts(r, &hosts, e)) < 0 ||
	    (rc = keystore_load_pubkey(keyfile, &pk, e)) < 0)
		goto out;
	{
		pf_chain_policy pol = deployed_policy(r, &pk, &hosts);

		v = certchain_check(pub, &pol, &c, e);
	}
	if (v != PF_CHAIN_OK) {
		pf_err_prefix(e, "%s: the deployed %s chain (%s)", label, pf_alg_name(alg),
			      certchain_verdict_name(v));
		rc = -EPROTO;
		goto out;
	}
	/* What an MTA-STS sender checks (RFC 8461 4.2): the chain the server
	 * presents verifies against the trust anchors and names the MX.  Not
	 * implied by the deployed file verifying: another listener's
	 * certificate, a process not reloaded, or a chain file without its
	 * intermediate all present something else. */
	if (res->chain_der_len == 0) {
		rc = pf_err_set(e, EPROTO,
				"%s presents an %s chain of %d certificates larger than %d octets: "
				"not verified against %s",
				label, pf_alg_name(alg), res->chain_len, PF_PROBE_CHAIN_MAX,
				r->cfg->certificate_ca_file);
		certchain_free(&c);
		goto out;
	}
	{
		pf_chain_policy pol = deployed_policy(r, &pk, &hosts);
		pf_chain live = {0};

		v = certchain_check_der(res->chain_der, res->chain_der_len, "presented chain", &pol,
					&live, e);
		if (v != PF_CHAIN_OK) {
			pf_err_prefix(e,
				      "%s: the %s certificate it presents fails what an MTA-STS "
				      "sender checks (%s)",
				      label, pf_alg_name(alg), certchain_verdict_name(v));
			rc = -EPROTO;
			certchain_free(&c);
			goto out;
		}
		certchain_free(&live);
	}
	if (X509_digest(sk_X509_value(c.certs, 0), EVP_sha256(), md, &mdlen) == 1 && mdlen == 32)
		for (unsigned int i = 0; i < mdlen; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (strcmp(hex, res->leaf_sha256) != 0)
		rc = pf_err_set(e, EPROTO,
				"%s presents an %s certificate that is not the CA-issued one "
				"main.cf deploys (%s, serial %s)",
				label, pf_alg_name(alg), pub, c.serial);
	else if (res->chain_len != sk_X509_num(c.certs))
		rc = pf_err_set(e, EPROTO,
				"%s presents %d certificates for %s, not the chain of %d that "
				"verifies against %s",
				label, res->chain_len, pf_alg_name(alg), sk_X509_num(c.certs),
				r->cfg->certificate_ca_file);
	else
		rc = 0;
	certchain_free(&c);
out:
	pf_pubkey_free(&pk);
	pf_strv_clear(&hosts);
	free(keyfile);
	free(pub);
	return rc < 0 ? rc : 0;
}
