/*
 * test_postfix.c - the Postfix adapter against the real postconf(1) on a
 * scratch config dir under /tmp (never /etc/postfix): running programs,
 * reading and setting parameters, snapshot/restore, the deployed key files
 * (legacy and smtpd_tls_chain_files) and the settings a deploy writes,
 * including explicit tlsproxy_tls_* overrides.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../daemon/keystore.h"
#include "../../daemon/macro.h"
#include "../../daemon/postfix.h"
#include "t.h"

static char dir[] = "/tmp/pftls-test-postfix-XXXXXX";
static char *etc;

static char *path(const char *name)
{
	return pf_asprintf("%s/%s", etc, name);
}

/* Postfix programs wait while main.cf is under a second old; age it after
 * every change so that reads do not stall the test. */
static void cool(void)
{
	char *p = path("main.cf");
	struct timespec ts[2];

	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= 5;
	ts[1] = ts[0];
	utimensat(AT_FDCWD, p, ts, 0);
	free(p);
}

/* Write main.cf: the instance basics plus extra (may be ""). */
static void main_cf(const char *extra)
{
	char *p = path("main.cf");
	char *text = pf_asprintf("compatibility_level = 3.6\nqueue_directory = %s/queue\n"
				 "data_directory = %s/data\nmyhostname = mx.example.test\n%s",
				 dir, dir, extra);
	FILE *f = fopen(p, "w");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		abort();
	free(text);
	free(p);
	cool();
}

/* Make a key and matching self-signed certificate named NAME.key/NAME.crt
 * (or both in one NAME.pem when combined). */
static void make_pair(const char *name, enum pf_alg alg, bool combined)
{
	pf_keyspec spec = {alg, 2048, "secp256r1"};
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	pf_strv hosts = {0};
	char *k = pf_asprintf("%s/%s.%s", etc, name, combined ? "key.tmp" : "key");
	char *c = pf_asprintf("%s/%s.%s", etc, name, combined ? "crt.tmp" : "crt");

	pf_strv_push(&hosts, "mx.example.test");
	if (keystore_generate(&spec, &key, NULL) < 0 || keystore_write_key(k, key, NULL) < 0 ||
	    keystore_self_signed(key, &hosts, &cert, NULL) < 0 ||
	    keystore_write_cert(c, cert, NULL) < 0)
		abort();
	if (combined) {
		char *cmd = pf_asprintf("cat %s %s > %s/%s.pem && rm %s %s", k, c, etc, name, k, c);
		if (system(cmd) != 0)
			abort();
		free(cmd);
	}
	EVP_PKEY_free(key);
	X509_free(cert);
	pf_strv_clear(&hosts);
	free(k);
	free(c);
}

static void test_open(void)
{
	pf_postfix pf;
	pf_err e = {0};

	T_CHECK(postfix_open(&pf, "/usr/sbin", "relative/dir", &e) == -EINVAL &&
			e.exit_code == PF_EXIT_USAGE,
		"open: a relative config dir is a usage error (%s)", e.msg);
	T_CHECK(postfix_open(&pf, "/usr/sbin", "/nonexistent/pftls", &e) < 0 &&
			strstr(e.msg, "/nonexistent/pftls"),
		"open: a missing config dir is named (%s)", e.msg);
	T_CHECK(postfix_open(&pf, "/tmp", etc, &e) < 0 && strstr(e.msg, "postconf"),
		"open: a command dir without postconf is refused (%s)", e.msg);
}

static void test_run(void)
{
	static const struct {
		const char *name;
		char *argv[5];
		int timeout;
		int want;        /* exit status, or -errno */
		const char *out; /* expected stdout, NULL: not checked */
		const char *err;
	} cases[] = {
		{"exit status 0", {"/bin/true", NULL}, 5, 0, "", ""},
		{"exit status 1", {"/bin/false", NULL}, 5, 1, NULL, NULL},
		{"stdout and stderr apart",
		 {"/bin/sh", "-c", "echo out; echo err >&2", NULL},
		 5,
		 0,
		 "out\n",
		 "err\n"},
		{"bare name found in PATH", {"echo", "hi", NULL}, 5, 0, "hi\n", ""},
		{"stdin is /dev/null", {"/bin/cat", NULL}, 5, 0, "", ""},
		{"missing program", {"/nonexistent/prog", NULL}, 5, -ENOENT, NULL, NULL},
		{"killed after its time", {"/bin/sleep", "10", NULL}, 1, -ETIMEDOUT, NULL, NULL},
		{"death by signal", {"/bin/sh", "-c", "kill -9 $$", NULL}, 5, -EINTR, NULL, NULL},
	};

	for (size_t i = 0; i < PF_ELEMENTSOF(cases); i++) {
		char *out = NULL, *err = NULL;
		pf_err e = {0};
		int r = postfix_run(cases[i].argv, cases[i].timeout, &out, &err, &e);

		T_CHECK(r == cases[i].want && (!cases[i].out || t_streq(out, cases[i].out)) &&
				(!cases[i].err || t_streq(err, cases[i].err)) &&
				(r >= 0 || strstr(e.msg, cases[i].argv[0])),
			"run: %s (got %d, %s)", cases[i].name, r, e.msg);
		free(out);
		free(err);
	}
}

static void test_get_set(pf_postfix *pf)
{
	static const char *const names[] = {"myhostname", "mydomain", "smtpd_tls_key_file",
					    "no_such_parameter_x"};
	static const struct {
		int flags;
		const char *want[4]; /* NULL: not set / unknown; "*": any value */
	} cases[] = {
		{0, {"mx.example.test", "example.test", "$smtpd_tls_cert_file", NULL}},
		{PF_PC_EXPAND, {"mx.example.test", "example.test", "", NULL}},
		{PF_PC_EXPLICIT, {"mx.example.test", NULL, NULL, NULL}},
		/* -d's names come from this machine's name: only their presence. */
		{PF_PC_DEFAULT, {"*", "*", "$smtpd_tls_cert_file", NULL}},
	};
	pf_strv set = {0}, unset = {0};
	char *v[4], *one = NULL;
	pf_err e = {0};

	main_cf("");
	for (size_t c = 0; c < PF_ELEMENTSOF(cases); c++) {
		bool ok = postfix_get(pf, cases[c].flags, names, 4, v, &e) == 0;

		for (int i = 0; i < 4; i++) {
			if (t_streq(cases[c].want[i], "*"))
				ok &= v[i] != NULL;
			else if (cases[c].want[i])
				ok &= t_streq(v[i], cases[c].want[i]);
			else
				ok &= v[i] == NULL;
			free(v[i]);
		}
		T_CHECK(ok, "get: flags %d give the expected values (%s)", cases[c].flags, e.msg);
	}

	/* Many settings, one call; an empty value is "set" for -n. */
	pf_strv_push(&set, "smtpd_tls_loglevel = 1");
	pf_strv_push(&set, "smtpd_tls_cert_file = /etc/x/cert.pem");
	pf_strv_push(&set, "smtpd_tls_eccert_file =");
	T_CHECK(postfix_set(pf, &set, &e) == 0, "set: three settings in one call (%s)", e.msg);
	cool();
	postfix_get1(pf, PF_PC_EXPAND, "smtpd_tls_key_file", &one, &e);
	T_STREQ(one, "/etc/x/cert.pem", "set: value visible, $smtpd_tls_cert_file expanded");
	free(one);
	postfix_get1(pf, PF_PC_EXPLICIT, "smtpd_tls_eccert_file", &one, &e);
	T_STREQ(one, "", "set: an empty value reads back as set and empty");
	free(one);
	pf_strv_push(&unset, "smtpd_tls_loglevel");
	T_CHECK(postfix_unset(pf, &unset, &e) == 0, "unset: postconf -X (%s)", e.msg);
	cool();
	postfix_get1(pf, PF_PC_EXPLICIT, "smtpd_tls_loglevel", &one, &e);
	T_CHECK(one == NULL, "unset: the parameter is gone from main.cf");
	free(one);
	pf_strv_clear(&set);
	pf_strv_clear(&unset);

	/* Errors name the command and quote postconf's complaint. */
	pf_strv_push(&set, "no equals sign");
	T_CHECK(postfix_set(pf, &set, &e) < 0 && strstr(e.msg, "postconf") &&
			strstr(e.msg, "missing '='"),
		"set: postconf's error is quoted (%s)", e.msg);
	pf_strv_clear(&set);
	pf_strv_push(&set, "myhostname = a\nb = c");
	T_CHECK(postfix_set(pf, &set, &e) < 0 && e.exit_code == PF_EXIT_USAGE,
		"set: a value with a newline is refused (%s)", e.msg);
	pf_strv_clear(&set);
}

static void test_missing_main_cf(void)
{
	pf_postfix pf;
	char *empty = pf_asprintf("%s/empty", dir), *v = NULL;
	pf_err e = {0};

	mkdir(empty, 0755);
	if (postfix_open(&pf, "/usr/sbin", empty, &e) < 0)
		abort();
	T_CHECK(postfix_get1(&pf, 0, "myhostname", &v, &e) < 0 && strstr(e.msg, "main.cf") &&
			strstr(e.msg, "postconf -c"),
		"get: a missing main.cf is reported with the command (%s)", e.msg);
	postfix_close(&pf);
	free(empty);
}

static void test_snapshot(pf_postfix *pf)
{
	static const char *const names[] = {"smtpd_tls_key_file", "smtpd_tls_cert_file",
					    "tlsproxy_tls_cert_file", NULL};
	pf_snapshot s = {0};
	pf_strv change = {0}, gone = {0};
	char *before = NULL, *after = NULL, *v[3] = {0};
	pf_err e = {0};

	main_cf("smtpd_tls_cert_file = $config_directory/c.pem\nsmtpd_tls_key_file =\n");
	postfix_get(pf, PF_PC_EXPLICIT, names, 3, v, &e);
	before = pf_asprintf("%s|%s|%s", v[0] ? v[0] : "-", v[1] ? v[1] : "-", v[2] ? v[2] : "-");
	for (int i = 0; i < 3; i++)
		free(v[i]);
	T_CHECK(postfix_snapshot(pf, names, &s, &e) == 0 && s.names.n == 3, "snapshot: taken (%s)",
		e.msg);
	T_STREQ(s.values[1], "$config_directory/c.pem", "snapshot: raw, unexpanded value kept");
	pf_strv_push(&change, "smtpd_tls_cert_file = /new/c.pem");
	pf_strv_push(&change, "tlsproxy_tls_cert_file = /new/p.pem");
	pf_strv_push(&gone, "smtpd_tls_key_file");
	postfix_set(pf, &change, &e);
	postfix_unset(pf, &gone, &e);
	cool();
	T_CHECK(postfix_restore(pf, &s, &e) == 0, "restore: done (%s)", e.msg);
	cool();
	postfix_get(pf, PF_PC_EXPLICIT, names, 3, v, &e);
	after = pf_asprintf("%s|%s|%s", v[0] ? v[0] : "-", v[1] ? v[1] : "-", v[2] ? v[2] : "-");
	for (int i = 0; i < 3; i++)
		free(v[i]);
	T_STREQ(after, before, "restore: set, empty and unset parameters as they were (%s)", after);
	free(before);
	free(after);
	pf_snapshot_free(&s);
	pf_strv_clear(&change);
	pf_strv_clear(&gone);
}

static void test_myhostname(pf_postfix *pf)
{
	char *file = pf_asprintf("%s/hostname", dir), *cf, *h = NULL;
	pf_err e = {0};
	FILE *f = fopen(file, "w");

	fputs("  from-file.example.test\nsecond line\n", f);
	fclose(f);
	main_cf("");
	postfix_myhostname(pf, &h, &e);
	T_STREQ(h, "mx.example.test", "myhostname: the main.cf value");
	free(h);
	h = NULL;
	cf = pf_asprintf("myhostname = %s\n", file);
	main_cf(cf);
	postfix_myhostname(pf, &h, &e);
	T_STREQ(h, "from-file.example.test", "myhostname: a /path is read, first line, trimmed");
	free(h);
	free(cf);
	cf = pf_asprintf("myhostname = %s/none\n", dir);
	main_cf(cf);
	T_CHECK(postfix_myhostname(pf, &h, &e) < 0 && strstr(e.msg, "/none"),
		"myhostname: a missing file is named (%s)", e.msg);
	free(cf);
	/* myhostname = /etc/shadow: the file is named, what it holds is not
	 * repeated in the error. */
	f = fopen(file, "w");
	fputs("root:$6$SECRETSALT$SECRETHASH:19000:0:99999:7:::\nmx.example.test\n", f);
	fclose(f);
	cf = pf_asprintf("myhostname = %s\n", file);
	main_cf(cf);
	h = NULL;
	T_CHECK(postfix_myhostname(pf, &h, &e) < 0 && !h && strstr(e.msg, file) &&
			strstr(e.msg, "not a valid host name") && !strstr(e.msg, "SECRET") &&
			!strstr(e.msg, "root:"),
		"myhostname: a file whose first line is no host name is named, its line not quoted "
		"(%s)",
		e.msg);
	free(cf);
	free(file);
}

static void test_deployed(pf_postfix *pf)
{
	pf_tls_files f = {0};
	pf_err e = {0};
	char *cf;

	make_pair("rsa", PF_ALG_RSA, false);
	make_pair("ec", PF_ALG_ECDSA, true);
	make_pair("rsa2", PF_ALG_RSA, false);
	make_pair("ec2", PF_ALG_ECDSA, false);

	/* Legacy: the key parameter defaults to the certificate file. */
	cf = pf_asprintf("smtpd_tls_cert_file = %s/rsa.crt\nsmtpd_tls_eccert_file = %s/ec.pem\n"
			 "smtpd_tls_eckey_file = $smtpd_tls_eccert_file\n",
			 etc, etc);
	main_cf(cf);
	free(cf);
	T_CHECK(postfix_deployed(pf, "smtpd", &f, &e) == 0 && !f.chain_files,
		"deployed: legacy parameters read (%s)", e.msg);
	T_CHECK(f.key_file[PF_ALG_RSA] && strstr(f.key_file[PF_ALG_RSA], "/rsa.crt") &&
			f.key_file[PF_ALG_ECDSA] && strstr(f.key_file[PF_ALG_ECDSA], "/ec.pem"),
		"deployed: key defaults to the cert file, $references expanded");
	pf_tls_files_free(&f);
	T_CHECK(postfix_deployed(pf, "tlsproxy", &f, &e) == 0 && f.cert_file[PF_ALG_RSA] &&
			strstr(f.cert_file[PF_ALG_RSA], "/rsa.crt"),
		"deployed: tlsproxy inherits smtpd's files (%s)", e.msg);
	pf_tls_files_free(&f);

	/* Chain files: each algorithm found by reading the files. */
	cf = pf_asprintf("smtpd_tls_chain_files = %s/ec.pem, %s/rsa.key %s/rsa.crt\n"
			 "smtpd_tls_cert_file = /ignored.pem\n",
			 etc, etc, etc);
	main_cf(cf);
	free(cf);
	T_CHECK(postfix_deployed(pf, "smtpd", &f, &e) == 0 && f.chain_files,
		"deployed: chain_files read (%s)", e.msg);
	T_CHECK(f.key_file[PF_ALG_RSA] && strstr(f.key_file[PF_ALG_RSA], "/rsa.key") &&
			f.cert_file[PF_ALG_RSA] && strstr(f.cert_file[PF_ALG_RSA], "/rsa.crt") &&
			f.key_file[PF_ALG_ECDSA] && strstr(f.key_file[PF_ALG_ECDSA], "/ec.pem") &&
			f.cert_file[PF_ALG_ECDSA] && strstr(f.cert_file[PF_ALG_ECDSA], "/ec.pem"),
		"deployed: chain_files pairs per algorithm, combined file too");
	pf_tls_files_free(&f);

	cf = pf_asprintf("smtpd_tls_chain_files = %s/rsa.crt, %s/rsa.key\n", etc, etc);
	main_cf(cf);
	free(cf);
	T_CHECK(postfix_deployed(pf, "smtpd", &f, &e) < 0 && strstr(e.msg, "rsa.crt") &&
			strstr(e.msg, "smtpd_tls_chain_files"),
		"deployed: a certificate before any key is an error (%s)", e.msg);
	pf_tls_files_free(&f);
}

static void test_deploy_settings(pf_postfix *pf)
{
	/* %1$s stands for the config dir in main.cf lines and expectations. */
	static const struct {
		const char *name;
		const char *main_cf;
		enum pf_alg alg;
		const char *key, *cert;
		const char *want; /* settings joined with "|" */
	} cases[] = {
		{"legacy RSA: key then cert", "", PF_ALG_RSA, "rsa2.key", "rsa2.crt",
		 "smtpd_tls_key_file = %1$s/rsa2.key|smtpd_tls_cert_file = %1$s/rsa2.crt"},
		{"legacy ECDSA", "", PF_ALG_ECDSA, "ec2.key", "ec2.crt",
		 "smtpd_tls_eckey_file = %1$s/ec2.key|smtpd_tls_eccert_file = %1$s/ec2.crt"},
		{"chain_files: RSA pair replaced in place",
		 "smtpd_tls_chain_files = %1$s/rsa.key, %1$s/rsa.crt, %1$s/ec.pem\n", PF_ALG_RSA,
		 "rsa2.key", "rsa2.crt",
		 "smtpd_tls_chain_files = %1$s/rsa2.key, %1$s/rsa2.crt, %1$s/ec.pem"},
		{"chain_files: combined ECDSA file replaced",
		 "smtpd_tls_chain_files = %1$s/rsa.key, %1$s/rsa.crt, %1$s/ec.pem\n", PF_ALG_ECDSA,
		 "ec2.key", "ec2.crt",
		 "smtpd_tls_chain_files = %1$s/rsa.key, %1$s/rsa.crt, %1$s/ec2.key, %1$s/ec2.crt"},
		{"chain_files: a missing algorithm is appended",
		 "smtpd_tls_chain_files = %1$s/rsa.key %1$s/rsa.crt\n", PF_ALG_ECDSA, "ec2.key",
		 "ec2.crt",
		 "smtpd_tls_chain_files = %1$s/rsa.key, %1$s/rsa.crt, %1$s/ec2.key, %1$s/ec2.crt"},
		{"tlsproxy: explicit files follow, $ref and ${ref} do not",
		 "tlsproxy_tls_key_file = /old/k.pem\ntlsproxy_tls_cert_file = "
		 "${smtpd_tls_cert_file}\n"
		 "tlsproxy_tls_eckey_file = $smtpd_tls_eckey_file\n",
		 PF_ALG_RSA, "rsa2.key", "rsa2.crt",
		 "smtpd_tls_key_file = %1$s/rsa2.key|smtpd_tls_cert_file = %1$s/rsa2.crt|"
		 "tlsproxy_tls_key_file = %1$s/rsa2.key"},
		{"tlsproxy: its own chain_files list is updated too",
		 "tlsproxy_tls_chain_files = %1$s/rsa.key, %1$s/rsa.crt\n"
		 "tlsproxy_tls_key_file = /ignored/k.pem\n",
		 PF_ALG_RSA, "rsa2.key", "rsa2.crt",
		 "smtpd_tls_key_file = %1$s/rsa2.key|smtpd_tls_cert_file = %1$s/rsa2.crt|"
		 "tlsproxy_tls_chain_files = %1$s/rsa2.key, %1$s/rsa2.crt"},
		{"tlsproxy: $(smtpd_tls_chain_files) inherits",
		 "smtpd_tls_chain_files = %1$s/ec.pem\n"
		 "tlsproxy_tls_chain_files = $(smtpd_tls_chain_files)\n",
		 PF_ALG_ECDSA, "ec2.key", "ec2.crt",
		 "smtpd_tls_chain_files = %1$s/ec2.key, %1$s/ec2.crt"},
	};

	for (size_t i = 0; i < PF_ELEMENTSOF(cases); i++) {
		char *cf = pf_asprintf(cases[i].main_cf, etc);
		char *want = pf_asprintf(cases[i].want, etc);
		char *key = path(cases[i].key), *cert = path(cases[i].cert), *got;
		pf_strv out = {0};
		pf_err e = {0};
		int r;

		main_cf(cf);
		r = postfix_deploy_settings(pf, cases[i].alg, key, cert, &out, &e);
		got = pf_strv_join(&out, "|");
		T_CHECK(r == 0 && t_streq(got, want), "deploy settings: %s (got \"%s\"; %s)",
			cases[i].name, got, e.msg);
		free(got);
		free(cf);
		free(want);
		free(key);
		free(cert);
		pf_strv_clear(&out);
	}
}

/* "postfix check" on the scratch instance (real Postfix), and reload
 * commands run without a shell. */
static void test_check_reload(pf_postfix *pf)
{
	char *cmd = pf_asprintf("cp /etc/postfix/master.cf %s/master.cf", etc);
	pf_err e = {0};

	if (system(cmd) != 0)
		abort();
	free(cmd);
	main_cf("");
	T_CHECK(postfix_check(pf, &e) == 0, "check: a sound instance passes (%s)", e.msg);
	main_cf("this line has no equals sign\n");
	T_CHECK(postfix_check(pf, &e) < 0 && strstr(e.msg, "postfix -c") && strstr(e.msg, "check"),
		"check: a broken main.cf fails, naming the command (%s)", e.msg);
	main_cf("");
	T_CHECK(postfix_reload(pf, "  /bin/true  reload ", &e) == 0, "reload: a command line runs");
	T_CHECK(postfix_reload(pf, "/bin/echo\tdone;false", &e) == 0,
		"reload: no shell (\";false\" is just an argument of echo) (%s)", e.msg);
	T_CHECK(postfix_reload(pf, "/bin/false reload", &e) < 0 && strstr(e.msg, "/bin/false") &&
			strstr(e.msg, "exit status 1"),
		"reload: a failing command is named with its status (%s)", e.msg);
	T_CHECK(postfix_reload(pf, " \t ", &e) < 0 && e.exit_code == PF_EXIT_USAGE,
		"reload: an empty command is a usage error (%s)", e.msg);
}

static void test_tlsproxy_overrides(pf_postfix *pf)
{
	pf_strv out = {0};
	pf_err e = {0};
	char *got;

	main_cf("tlsproxy_tls_cert_file = /p/c.pem\ntlsproxy_tls_key_file = $smtpd_tls_key_file\n");
	postfix_tlsproxy_overrides(pf, &out, &e);
	got = pf_strv_join(&out, "|");
	T_STREQ(got, "tlsproxy_tls_cert_file = /p/c.pem",
		"tlsproxy overrides: only the explicit non-inheriting ones (%s)", got);
	free(got);
	pf_strv_clear(&out);
}

/* postfix_mark: equal for an untouched file; a postconf -e (a new file),
 * a change of content, or of the modification time alone differ; a missing
 * file has a mark of its own; a directory is an error. */
static void test_mark(pf_postfix *pf)
{
	char *mc = path("main.cf"), *none = path("no-such-file");
	pf_file_mark a, b, m1, m2;
	pf_strv set = {0};
	pf_err e = {0};
	struct timespec ts[2];

	cool();
	T_CHECK(postfix_mark(mc, &a, &e) == 0 && a.exists && a.size > 0,
		"mark: main.cf has one (%s)", e.msg);
	T_CHECK(postfix_mark(mc, &b, &e) == 0 && postfix_mark_equal(&a, &b),
		"mark: unchanged, the same mark");
	pf_strv_push(&set, "smtpd_tls_loglevel = 1");
	T_CHECK(postfix_set(pf, &set, &e) == 0, "mark: postconf -e (%s)", e.msg);
	cool();
	T_CHECK(postfix_mark(mc, &b, &e) == 0 && !postfix_mark_equal(&a, &b),
		"mark: after postconf -e, another mark");
	a = b;
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= 7;
	ts[1] = ts[0];
	T_CHECK(utimensat(AT_FDCWD, mc, ts, 0) == 0 && postfix_mark(mc, &b, &e) == 0 &&
			!postfix_mark_equal(&a, &b) &&
			memcmp(a.sha256, b.sha256, sizeof(a.sha256)) == 0,
		"mark: the same content touched: another mark, the same SHA-256");
	T_CHECK(postfix_mark(none, &m1, &e) == 0 && !m1.exists &&
			postfix_mark(none, &m2, &e) == 0 && postfix_mark_equal(&m1, &m2) &&
			!postfix_mark_equal(&m1, &b),
		"mark: a missing file: a mark of its own, unlike the file's");
	T_CHECK(postfix_mark(etc, &m1, &e) == -EISDIR, "mark: a directory is an error (%s)", e.msg);
	pf_strv_clear(&set);
	free(mc);
	free(none);
}

int main(void)
{
	pf_postfix pf;
	pf_err e = {0};

	etc = t_scratch_postfix(dir);
	main_cf("");
	test_open();
	test_run();
	if (postfix_open(&pf, "/usr/sbin", etc, &e) < 0) {
		printf("FAIL: open the scratch instance: %s\n", e.msg);
		return 1;
	}
	test_get_set(&pf);
	test_missing_main_cf();
	test_snapshot(&pf);
	test_myhostname(&pf);
	test_deployed(&pf);
	test_deploy_settings(&pf);
	test_tlsproxy_overrides(&pf);
	test_check_reload(&pf);
	test_mark(&pf);
	postfix_close(&pf);

	t_scratch_remove(dir);
	free(etc);
	T_DONE();
}
