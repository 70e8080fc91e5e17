/*
 * cmd_tls.c - the nine "postfix tls" subcommands (SPEC.md 2.1), behaving as
 * Postfix's postfix-tls-script does: the same parameters, file names and
 * informational texts.  Where that script is loose we are strict: host
 * names, algorithms and key sizes are checked before anything is written,
 * deploy-server-cert refuses a key it cannot use, files are never
 * overwritten, and a failed run removes the files it created.
 *
 * Key material is handled only through keystore.h; main.cf only through
 * postfix.h.  Informational texts go to stdout, errors to stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "../daemon/keystore.h"
#include "../daemon/postfix.h"
#include "../daemon/tlsa.h"
#include "../daemon/macro.h"

/* The parameters whose explicit settings make "postfix tls" keep its hands
 * off the client or the server (postfix-tls-script's lists). */
static const char *const client_settings[] = {
	"smtp_use_tls",
	"smtp_enforce_tls",
	"smtp_tls_enforce_peername",
	"smtp_tls_security_level",
	"smtp_tls_cert_file",
	"smtp_tls_dcert_file",
	"smtp_tls_eccert_file",
};
static const char *const server_settings[] = {
	"smtpd_use_tls",       "smtpd_enforce_tls",    "smtpd_tls_security_level",
	"smtpd_tls_cert_file", "smtpd_tls_dcert_file", "smtpd_tls_eccert_file",
};

/* One subcommand run: the CLI, the Postfix instance, and the deployed key
 * files of "postfix tls" algorithm names, looked up once. */
typedef struct tls_run {
	pf_cli *cli;
	pf_postfix pf;
	bool keys_known;
	char *alg_key[PF_ALG_COUNT]; /* NULL: nothing configured */
	char *myhostname_set;        /* myhostname when main.cf sets it, expanded */
} tls_run;

/* Load the configuration and find the Postfix instance.  Returns 0 or an
 * exit code after printing the error. */
static int run_open(tls_run *t, pf_cli *cli)
{
	pf_err e = {0};
	int r;

	memset(t, 0, sizeof(*t));
	t->cli = cli;
	if ((r = cli_config(cli, true)) != 0)
		return r;
	if (postfix_open(&t->pf, cli->cfg.postfix_command_directory,
			 cli->cfg.postfix_config_directory, &e) < 0)
		return cli_fail(&e);
	return 0;
}

static void run_close(tls_run *t)
{
	postfix_close(&t->pf);
	for (int i = 0; i < PF_ALG_COUNT; i++)
		free(t->alg_key[i]);
	free(t->myhostname_set);
}

/* Print e and return its exit code, closing the run. */
static int run_fail(tls_run *t, const pf_err *e)
{
	run_close(t);
	return cli_fail(e);
}

static const char *const alg_names[PF_ALG_COUNT] = {"rsa", "ecdsa"};

/* The algorithm named by a "postfix tls" algorithm name, or -1. */
static int alg_of_name(const char *name)
{
	for (int a = 0; a < PF_ALG_COUNT; a++)
		if (strcmp(name, alg_names[a]) == 0)
			return a;
	return -1;
}

/*
 * -a and -b into a key specification.  kind is the word postfix-tls-script
 * uses in its message ("private" or "public").  Returns 0 or -EINVAL with a
 * usage error.
 */
static int parse_keyspec(const char *alg, const char *bits, const char *kind, pf_keyspec *ret,
			 pf_err *e)
{
	int a = alg ? alg_of_name(alg) : PF_ALG_RSA;

	if (a < 0)
		return pf_err_usage(e, "Unsupported %s key algorithm: %.50s (use rsa or ecdsa)",
				    kind, alg);
	memset(ret, 0, sizeof(*ret));
	ret->alg = (enum pf_alg)a;
	if (a == PF_ALG_RSA) {
		static const char *const sizes[] = {"2048", "3072", "4096"};

		ret->rsa_bits = 2048;
		if (!bits)
			return 0;
		for (size_t i = 0; i < PF_ELEMENTSOF(sizes); i++)
			if (strcmp(bits, sizes[i]) == 0) {
				ret->rsa_bits = (unsigned)atoi(bits);
				return 0;
			}
		return pf_err_usage(
			e, "unsupported RSA key size \"%.50s\" (use 2048, 3072 or 4096)", bits);
	}
	ret->curve = pf_canonical_curve(bits ? bits : "secp256r1");
	if (!ret->curve)
		return pf_err_usage(
			e,
			"unsupported ECDSA curve \"%.50s\" (use secp256r1 (prime256v1), "
			"secp384r1 or secp521r1)",
			bits);
	return 0;
}

/*
 * The host names for a certificate or CSR: the arguments, or myhostname.
 * Each must be a valid DNS host name.  Returns 0 or -errno.
 */
static int get_hostnames(tls_run *t, int argc, char **argv, pf_strv *ret, pf_err *e)
{
	int r;

	for (int i = 0; i < argc; i++) {
		if (!pf_valid_hostname(argv[i]))
			return pf_err_usage(e, "invalid host name \"%.100s\"", argv[i]);
		pf_strv_push(ret, argv[i]);
	}
	if (argc == 0) {
		char *h = NULL;

		if ((r = postfix_myhostname(&t->pf, &h, e)) < 0)
			return r;
		if (!pf_valid_hostname(h)) {
			r = pf_err_usage(e, "invalid host name \"%.100s\" (myhostname of %s)", h,
					 t->pf.config_dir);
			free(h);
			return r;
		}
		pf_strv_push_owned(ret, h);
	}
	return 0;
}

/* Look up, once, the key files "rsa" and "ecdsa" stand for: the explicit
 * smtpd_tls_key_file / smtpd_tls_eckey_file as postfix-tls-script reads
 * them, or the keys in smtpd_tls_chain_files when main.cf uses that list
 * (which postfix-tls-script does not see).  Returns 0 or -errno. */
static int load_alg_keys(tls_run *t, pf_err *e)
{
	/* myhostname rides along: each postconf run costs ~20 ms, most of the
	 * time of a whole "output-server-tlsa", and main.cf usually sets it. */
	static const char *const names[] = {"smtpd_tls_chain_files", "smtpd_tls_key_file",
					    "smtpd_tls_eckey_file", "myhostname"};
	char *v[4] = {0};
	int r;

	if (t->keys_known)
		return 0;
	if ((r = postfix_get(&t->pf, PF_PC_EXPLICIT | PF_PC_EXPAND, names, 4, v, e)) < 0)
		return r;
	t->myhostname_set = v[3];
	v[3] = NULL;
	if (v[0] && *v[0] && strcmp(v[0], "none") != 0) {
		pf_tls_files f = {0};

		r = postfix_deployed(&t->pf, "smtpd", &f, e);
		for (int a = 0; r == 0 && a < PF_ALG_COUNT; a++) {
			t->alg_key[a] = f.key_file[a];
			f.key_file[a] = NULL;
		}
		pf_tls_files_free(&f);
	} else {
		for (int a = 0; a < PF_ALG_COUNT; a++) {
			t->alg_key[a] = v[1 + a];
			v[1 + a] = NULL;
		}
	}
	for (int i = 0; i < 3; i++)
		free(v[i]);
	t->keys_known = r == 0;
	return r;
}

/*
 * A keyfile argument as postfix-tls-script's set_keyfile reads it: an
 * algorithm name (the configured key), "" or "none" (nothing), an absolute
 * path, or a path relative to the configuration directory.  *ret is a new
 * string, or NULL for "nothing".  Returns 0 or -errno.
 */
static int resolve_keyfile(tls_run *t, const char *arg, char **ret, pf_err *e)
{
	int a = alg_of_name(arg), r;

	*ret = NULL;
	if (a >= 0) {
		if ((r = load_alg_keys(t, e)) < 0)
			return r;
		if (t->alg_key[a] && *t->alg_key[a] && strcmp(t->alg_key[a], "none") != 0)
			*ret = pf_strdup(t->alg_key[a]);
		return 0;
	}
	if (!*arg || strcmp(arg, "none") == 0)
		return 0;
	*ret = arg[0] == '/' ? pf_strdup(arg) : pf_asprintf("%s/%s", t->pf.config_dir, arg);
	return 0;
}

/* A command-line file name: absolute, or relative to the configuration
 * directory.  Returns a new string. */
static char *config_path(tls_run *t, const char *arg)
{
	return arg[0] == '/' ? pf_strdup(arg) : pf_asprintf("%s/%s", t->pf.config_dir, arg);
}

/* 1 when every name is at its default (not set, or set empty, in main.cf),
 * 0 when one is not, -errno on failure. */
static int all_default(tls_run *t, const char *const *names, size_t n, pf_err *e)
{
	char **v = pf_calloc(n, sizeof(char *));
	int r;

	r = postfix_get(&t->pf, PF_PC_EXPLICIT, names, n, v, e);
	if (r == 0) {
		r = 1;
		for (size_t i = 0; i < n; i++)
			if (v[i] && *v[i])
				r = 0;
	}
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return r;
}

/* tls_random_source as postfix-tls-script's init_random_source picks it:
 * -r, else main.cf's (with defaults), else dev:/dev/urandom.  *ret is new.
 * Returns 0 or -errno. */
static int random_source(tls_run *t, const char *arg, char **ret, pf_err *e)
{
	char *v = NULL;
	int r;

	if (arg && *arg) {
		*ret = pf_strdup(arg);
		return 0;
	}
	if ((r = postfix_get1(&t->pf, PF_PC_EXPAND, "tls_random_source", &v, e)) < 0)
		return r;
	if (v && *v) {
		*ret = v;
		return 0;
	}
	free(v);
	if (access("/dev/urandom", R_OK) < 0)
		return pf_err_set(e, ENOENT,
				  "no default TLS random source defined and no /dev/urandom");
	*ret = pf_strdup("dev:/dev/urandom");
	return 0;
}

/* The preferred read-write lookup table type for TLS session caches (lmdb,
 * else btree), or NULL when neither is available.  Returns 0 or -errno. */
static int cache_db_type(tls_run *t, const char **ret, pf_err *e)
{
	pf_strv types = {0};
	int r;

	*ret = NULL;
	if ((r = postfix_map_types(&t->pf, &types, e)) < 0)
		return r;
	if (pf_strv_contains(&types, "lmdb"))
		*ret = "lmdb";
	else if (pf_strv_contains(&types, "btree"))
		*ret = "btree";
	pf_strv_clear(&types);
	return 0;
}

/*
 * Check that keyfile holds a usable private key and certfile a certificate
 * for it, then put them into service with one "postconf -e" (plus the
 * enable-server settings and tls_random_source when given).  A key or
 * certificate we cannot use is a refusal (exit 3); nothing is changed.
 * Returns 0 or -errno.
 */
static int deploy_pair(tls_run *t, const char *certfile, const char *keyfile, bool enable,
		       const char *randsrc, pf_err *e)
{
	pf_pubkey kpk = {0}, cpk = {0};
	pf_strv settings = {0};
	X509 *cert = NULL;
	pf_err why = {0};
	int r;

	if (keystore_load_pubkey(keyfile, &kpk, &why) < 0) {
		r = pf_err_refuse(e, "not deploying: no usable private key: %s", why.msg);
		goto out;
	}
	if (keystore_load_cert(certfile, &cert, &why) < 0 ||
	    keystore_pubkey_of_cert(cert, &cpk, &why) < 0) {
		r = pf_err_refuse(e, "not deploying: no usable certificate: %s", why.msg);
		goto out;
	}
	if (strcmp(kpk.spki_sha256, cpk.spki_sha256) != 0) {
		r = pf_err_refuse(e, "Certificate in %s does not match key in %s", certfile,
				  keyfile);
		goto out;
	}
	if ((r = postfix_deploy_settings(&t->pf, kpk.alg, keyfile, certfile, &settings, e)) < 0)
		goto out;
	if (enable) {
		pf_strv_push(&settings, "smtpd_tls_security_level = may");
		pf_strv_push(&settings, "smtpd_tls_received_header = yes");
		pf_strv_push(&settings, "smtpd_tls_loglevel = 1");
	}
	if (randsrc)
		pf_strv_push_owned(&settings, pf_asprintf("tls_random_source = %s", randsrc));
	r = postfix_set(&t->pf, &settings, e);
out:
	pf_strv_clear(&settings);
	X509_free(cert);
	pf_pubkey_free(&kpk);
	pf_pubkey_free(&cpk);
	return r;
}

static void info_server_deployed(bool enable)
{
	if (enable)
		printf("Enabled opportunistic TLS in the Postfix SMTP server\n");
	printf("New TLS private key and certificate deployed.\n"
	       "Run the command:\n"
	       "  # postfix reload\n"
	       "if you want the new settings to take effect immediately.\n");
}

/* The texts postfix-tls-script prints after making a key and certificate. */
static void info_new(const char *certfile, const char *keyfile, bool deployed, bool copied)
{
	if (!deployed)
		printf("New private key and self-signed certificate created. To deploy run:\n"
		       "  # postfix tls deploy-server-cert %s %s\n",
		       certfile, keyfile);
	else
		info_server_deployed(true);
	printf("To generate a CSR run:\n"
	       "  # postfix tls output-server-csr -k %s [<hostname> ...]\n",
	       keyfile);
	if (!deployed)
		printf("Save the signed certificate chain in %s, and deploy as above.\n", certfile);
	else
		printf("Save the signed certificate chain in %s.\n", certfile);
	/* Once deployed, the TLSA records of all deployed keys are wanted. */
	printf("To generate TLSA records run:\n"
	       "  # postfix tls output-server-tlsa [-h <hostname>]%s%s\n",
	       deployed ? "" : " ", deployed ? "" : keyfile);
	if (copied)
		return;
	if (deployed)
		printf("(If you have DANE TLSA RRs, update them as soon as possible to match\n"
		       "the newly deployed keys).\n");
	else
		printf("(deploy after updating the DNS and waiting for stale RRs to expire).\n");
}

/*
 * Make key-STAMP.pem/cert-STAMP.pem (eckey-/eccert- for ECDSA) in the
 * configuration directory: a new key per spec, or a copy of oldkey (which
 * must be of spec's algorithm); a self-signed certificate for hosts; with
 * enable, deploy them as enable-server does.  On failure every file made
 * here is removed.  Returns 0 or -errno.
 */
static int new_server_cert(tls_run *t, const pf_keyspec *spec, const char *oldkey, bool enable,
			   const char *randsrc, const pf_strv *hosts, pf_err *e)
{
	const bool ec = spec->alg == PF_ALG_ECDSA;
	char *keyfile, *certfile;
	bool made_key = false, made_cert = false;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	int r;

	keystore_new_file_names(t->pf.config_dir, spec->alg, time(NULL), &keyfile, &certfile);
	if (access(keyfile, F_OK) == 0) {
		r = pf_err_set(e, EEXIST, "New private key file already exists: %s", keyfile);
		goto out;
	}
	if (access(certfile, F_OK) == 0) {
		r = pf_err_set(e, EEXIST, "New certificate file already exists: %s", certfile);
		goto out;
	}
	if (oldkey) {
		if ((r = keystore_load_key(oldkey, &key, e)) < 0) {
			pf_err_prefix(e, "Error copying private key from '%s' to '%s'", oldkey,
				      keyfile);
			goto out;
		}
		if (EVP_PKEY_is_a(key, "EC") != ec) {
			r = pf_err_set(e, EINVAL, "Key algorithm '%s' of '%s' is not '%s'",
				       ec ? "rsa" : "ecdsa", oldkey, alg_names[spec->alg]);
			goto out;
		}
	} else if ((r = keystore_generate(spec, &key, e)) < 0) {
		goto out;
	}
	/* keystore_write_* never replace a file, so a file that appeared since
	 * the check above is refused, not overwritten. */
	if ((r = keystore_write_key(keyfile, key, e)) < 0)
		goto out;
	made_key = true;
	if ((r = keystore_self_signed(key, hosts, &cert, e)) < 0 ||
	    (r = keystore_write_cert(certfile, cert, e)) < 0) {
		pf_err_prefix(e, "error generating self-signed SSL certificate");
		goto out;
	}
	made_cert = true;
	if (enable && (r = deploy_pair(t, certfile, keyfile, true, randsrc, e)) < 0)
		goto out;
	info_new(certfile, keyfile, enable, oldkey != NULL);
	r = 0;
out:
	if (r < 0) {
		if (made_cert)
			unlink(certfile);
		if (made_key)
			unlink(keyfile);
	}
	EVP_PKEY_free(key);
	X509_free(cert);
	free(keyfile);
	free(certfile);
	return r;
}

/* Options shared by enable-server, new-server-key and new-server-cert. */
typedef struct key_opts {
	const char *alg, *bits, *rand;
	int first_host; /* index of the first host name argument */
} key_opts;

/* Parse "[-r randsource] [-a algorithm] [-b bits]" (allow_r for -r).
 * Returns 0 or PF_EXIT_USAGE after printing the usage line. */
static int parse_key_opts(int argc, char **argv, bool allow_r, key_opts *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((c = getopt(argc, argv, allow_r ? "+:a:b:r:" : "+:a:b:")) != -1) {
		switch (c) {
		case 'a':
			o->alg = optarg;
			break;
		case 'b':
			o->bits = optarg;
			break;
		case 'r':
			o->rand = optarg;
			break;
		default:
			return cli_usage("%s %s[-a algorithm] [-b bits] [hostname...]", argv[0],
					 allow_r ? "[-r randsource] " : "");
		}
	}
	o->first_host = optind;
	return 0;
}

int cmd_enable_client(pf_cli *cli, int argc, char **argv)
{
	const char *rand = NULL, *dbtype = NULL;
	char *randsrc = NULL, *datadir = NULL;
	pf_strv settings = {0};
	pf_err e = {0};
	tls_run t;
	int c, r, def = 0;

	optind = 1;
	while ((c = getopt(argc, argv, "+:r:")) != -1) {
		if (c != 'r')
			return cli_usage("enable-client [-r randsource]");
		rand = optarg;
	}
	if (optind != argc)
		return cli_usage("enable-client [-r randsource]");
	if ((r = run_open(&t, cli)) != 0)
		return r;
	if ((r = random_source(&t, rand, &randsrc, &e)) < 0 ||
	    (def = all_default(&t, client_settings, PF_ELEMENTSOF(client_settings), &e)) < 0 ||
	    (r = cache_db_type(&t, &dbtype, &e)) < 0)
		goto fail;
	if (!def) {
		printf("*** Non-default SMTP client TLS settings detected, no changes made.\n"
		       "For opportunistic TLS in the Postfix SMTP client, the below settings\n"
		       "are typical:\n"
		       "  smtp_tls_security_level = may\n"
		       "  smtp_tls_loglevel = 1\n");
		if (dbtype)
			printf("  smtp_tls_session_cache_database = "
			       "%s:${data_directory}/smtp_scache\n",
			       dbtype);
		goto done;
	}
	pf_strv_push(&settings, "smtp_tls_security_level = may");
	pf_strv_push(&settings, "smtp_tls_loglevel = 1");
	if (dbtype) {
		if ((r = postfix_get1(&t.pf, PF_PC_EXPAND, "data_directory", &datadir, &e)) < 0)
			goto fail;
		pf_strv_push_owned(
			&settings,
			pf_asprintf("smtp_tls_session_cache_database = %s:%s/smtp_scache", dbtype,
				    datadir ? datadir : ""));
	}
	pf_strv_push_owned(&settings, pf_asprintf("tls_random_source = %s", randsrc));
	if ((r = postfix_set(&t.pf, &settings, &e)) < 0)
		goto fail;
	printf("Enabled opportunistic TLS in the Postfix SMTP client.\n"
	       "Run the command:\n"
	       "  # postfix reload\n"
	       "if you want the new settings to take effect immediately.\n");
done:
	pf_strv_clear(&settings);
	free(randsrc);
	free(datadir);
	run_close(&t);
	return PF_EXIT_OK;
fail:
	pf_strv_clear(&settings);
	free(randsrc);
	free(datadir);
	return run_fail(&t, &e);
}

int cmd_enable_server(pf_cli *cli, int argc, char **argv)
{
	pf_strv hosts = {0};
	char *randsrc = NULL;
	pf_keyspec spec;
	key_opts o;
	pf_err e = {0};
	tls_run t;
	int r;

	if ((r = parse_key_opts(argc, argv, true, &o)) != 0)
		return r;
	if (parse_keyspec(o.alg, o.bits, "private", &spec, &e) < 0)
		return cli_fail(&e);
	if ((r = run_open(&t, cli)) != 0)
		return r;
	if ((r = get_hostnames(&t, argc - o.first_host, argv + o.first_host, &hosts, &e)) < 0 ||
	    (r = random_source(&t, o.rand, &randsrc, &e)) < 0 ||
	    (r = all_default(&t, server_settings, PF_ELEMENTSOF(server_settings), &e)) < 0)
		goto fail;
	if (r == 0) {
		printf("*** Non-default SMTP server TLS settings detected, no changes made.\n"
		       "For opportunistic TLS in the Postfix SMTP server, the below settings\n"
		       "are typical:\n"
		       "  smtpd_tls_security_level = may\n"
		       "  smtpd_tls_loglevel = 1\n"
		       "You can use \"postfix tls new-server-cert\" to create a new certificate.\n"
		       "Or, \"postfix tls new-server-key\" to also force a new private key.\n"
		       "If you publish DANE TLSA records, see:\n"
		       "  https://tools.ietf.org/html/rfc7671#section-8\n"
		       "  https://tools.ietf.org/html/rfc7671#section-5.1\n"
		       "  https://tools.ietf.org/html/rfc7671#section-5.2\n"
		       "  https://community.letsencrypt.org/t/"
		       "please-avoid-3-0-1-and-3-0-2-dane-tlsa-records-with-le-certificates/"
		       "7022\n");
	} else if ((r = new_server_cert(&t, &spec, NULL, true, randsrc, &hosts, &e)) < 0) {
		goto fail;
	}
	pf_strv_clear(&hosts);
	free(randsrc);
	run_close(&t);
	return PF_EXIT_OK;
fail:
	pf_strv_clear(&hosts);
	free(randsrc);
	return run_fail(&t, &e);
}

/* new-server-key and new-server-cert: copy says whether to reuse the
 * deployed key of the algorithm. */
static int new_server(pf_cli *cli, int argc, char **argv, bool copy)
{
	pf_strv hosts = {0};
	char *oldkey = NULL;
	pf_keyspec spec;
	key_opts o;
	pf_err e = {0};
	tls_run t;
	int r;

	if ((r = parse_key_opts(argc, argv, false, &o)) != 0)
		return r;
	if (parse_keyspec(o.alg, o.bits, copy ? "private" : "public", &spec, &e) < 0)
		return cli_fail(&e);
	if ((r = run_open(&t, cli)) != 0)
		return r;
	if ((r = get_hostnames(&t, argc - o.first_host, argv + o.first_host, &hosts, &e)) < 0)
		goto fail;
	if (copy) {
		struct stat st;

		if ((r = resolve_keyfile(&t, alg_names[spec.alg], &oldkey, &e)) < 0)
			goto fail;
		if (oldkey && (stat(oldkey, &st) < 0 || !S_ISREG(st.st_mode))) {
			fprintf(stderr,
				"pftls-roll: warning: Key file: %s not found, creating new keys\n",
				oldkey);
			free(oldkey);
			oldkey = NULL;
		}
	}
	if ((r = new_server_cert(&t, &spec, oldkey, false, NULL, &hosts, &e)) < 0)
		goto fail;
	pf_strv_clear(&hosts);
	free(oldkey);
	run_close(&t);
	return PF_EXIT_OK;
fail:
	pf_strv_clear(&hosts);
	free(oldkey);
	return run_fail(&t, &e);
}

int cmd_new_server_key(pf_cli *cli, int argc, char **argv)
{
	return new_server(cli, argc, argv, false);
}

int cmd_new_server_cert(pf_cli *cli, int argc, char **argv)
{
	return new_server(cli, argc, argv, true);
}

int cmd_deploy_server_cert(pf_cli *cli, int argc, char **argv)
{
	char *certfile, *keyfile;
	pf_err e = {0};
	tls_run t;
	int r;

	if (argc != 3)
		return cli_usage("deploy-server-cert certfile keyfile");
	if ((r = run_open(&t, cli)) != 0)
		return r;
	certfile = config_path(&t, argv[1]);
	keyfile = config_path(&t, argv[2]);
	r = deploy_pair(&t, certfile, keyfile, false, NULL, &e);
	free(certfile);
	free(keyfile);
	if (r < 0)
		return run_fail(&t, &e);
	info_server_deployed(false);
	run_close(&t);
	return PF_EXIT_OK;
}

int cmd_output_server_csr(pf_cli *cli, int argc, char **argv)
{
	const char *k = NULL;
	char *keyfile = NULL, *pem = NULL;
	pf_strv hosts = {0};
	EVP_PKEY *key = NULL;
	pf_err e = {0};
	tls_run t;
	int c, r;

	optind = 1;
	while ((c = getopt(argc, argv, "+:k:")) != -1) {
		if (c != 'k')
			return cli_usage("output-server-csr [-k keyfile] [hostname...]");
		k = optarg;
	}
	if ((r = run_open(&t, cli)) != 0)
		return r;
	if ((r = get_hostnames(&t, argc - optind, argv + optind, &hosts, &e)) < 0)
		goto fail;
	if (k) {
		r = resolve_keyfile(&t, k, &keyfile, &e);
	} else {
		for (int a = 0; a < PF_ALG_COUNT && !keyfile && r == 0; a++)
			r = resolve_keyfile(&t, alg_names[a], &keyfile, &e);
	}
	if (r < 0)
		goto fail;
	if (!keyfile) {
		r = pf_err_set(&e, ENOENT, "No usable keyfile specified or configured");
		goto fail;
	}
	if ((r = keystore_load_key(keyfile, &key, &e)) < 0 ||
	    (r = keystore_csr_pem(key, &hosts, &pem, &e)) < 0)
		goto fail;
	fputs(pem, stdout);
	free(pem);
	EVP_PKEY_free(key);
	free(keyfile);
	pf_strv_clear(&hosts);
	run_close(&t);
	return PF_EXIT_OK;
fail:
	EVP_PKEY_free(key);
	free(keyfile);
	pf_strv_clear(&hosts);
	return run_fail(&t, &e);
}

int cmd_output_server_tlsa(pf_cli *cli, int argc, char **argv)
{
	static const pf_tlsa_param p311 = {3, 1, 1};
	const char *h = NULL;
	char *host = NULL, owner[PF_OWNER_BUF], rr[160];
	pf_strv out = {0};
	pf_err e = {0};
	tls_run t;
	int c, r = 0;

	optind = 1;
	while ((c = getopt(argc, argv, "+:h:")) != -1) {
		if (c != 'h')
			return cli_usage("output-server-tlsa [-h hostname] [keyfile...]");
		h = optarg;
	}
	if (h && !pf_valid_hostname(h)) {
		pf_err_usage(&e, "invalid host name \"%.100s\"", h);
		return cli_fail(&e);
	}
	if ((r = run_open(&t, cli)) != 0)
		return r;
	if (h)
		host = pf_strdup(h);
	else if ((r = load_alg_keys(&t, &e)) < 0)
		goto fail;
	else if (t.myhostname_set && *t.myhostname_set && t.myhostname_set[0] != '/')
		host = pf_strdup(t.myhostname_set);
	else if ((r = postfix_myhostname(&t.pf, &host, &e)) < 0)
		goto fail;
	else if (!pf_valid_hostname(host)) {
		r = pf_err_usage(&e, "invalid host name \"%.100s\" (myhostname of %s)", host,
				 t.pf.config_dir);
		goto fail;
	}
	tlsa_owner(host, 25, owner, sizeof(owner));

	/* Every key is read before anything is printed: a bad one yields an
	 * error and no partial RRset. */
	int nkeys = argc - optind;
	for (int i = 0; i < (nkeys ? nkeys : PF_ALG_COUNT); i++) {
		const char *arg = nkeys ? argv[optind + i] : alg_names[i];
		char *keyfile = NULL;
		pf_pubkey pk = {0};
		pf_tlsa_rdata rd;

		if ((r = resolve_keyfile(&t, arg, &keyfile, &e)) < 0)
			goto fail;
		if (!keyfile)
			continue;
		if ((r = keystore_load_pubkey(keyfile, &pk, &e)) < 0) {
			free(keyfile);
			goto fail;
		}
		r = tlsa_compute(&p311, pk.spki, pk.spki_len, NULL, 0, &rd, &e);
		pf_pubkey_free(&pk);
		if (r < 0) {
			free(keyfile);
			goto fail;
		}
		pf_strv_push_owned(&out, pf_asprintf("; %s\n%s. IN TLSA %s\n", keyfile, owner,
						     tlsa_format(&rd, rr, sizeof(rr))));
		free(keyfile);
	}
	if (out.n == 0) {
		r = pf_err_set(&e, ENOENT, "No usable keyfiles specified or configured");
		goto fail;
	}
	for (size_t i = 0; i < out.n; i++)
		fputs(out.v[i], stdout);
	pf_strv_clear(&out);
	free(host);
	run_close(&t);
	return PF_EXIT_OK;
fail:
	pf_strv_clear(&out);
	free(host);
	return run_fail(&t, &e);
}

/* all-default-client / all-default-server: exit 0 exactly when every
 * listed parameter is unset or empty in main.cf. */
static int all_default_cmd(pf_cli *cli, int argc, char **argv, const char *const *names, size_t n)
{
	pf_err e = {0};
	tls_run t;
	int r;

	if (argc != 1)
		return cli_usage("%s", argv[0]);
	if ((r = run_open(&t, cli)) != 0)
		return r;
	if ((r = all_default(&t, names, n, &e)) < 0)
		return run_fail(&t, &e);
	run_close(&t);
	return r ? PF_EXIT_OK : PF_EXIT_FAIL;
}

int cmd_all_default_client(pf_cli *cli, int argc, char **argv)
{
	return all_default_cmd(cli, argc, argv, client_settings, PF_ELEMENTSOF(client_settings));
}

int cmd_all_default_server(pf_cli *cli, int argc, char **argv)
{
	return all_default_cmd(cli, argc, argv, server_settings, PF_ELEMENTSOF(server_settings));
}
