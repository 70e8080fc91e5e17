/*
 * postfix.c - the Postfix adapter: postconf(1) and postfix(1) run by
 * fork/execv with their output captured, main.cf parameters read and set
 * through them, and the knowledge of which parameters deploy a server key.
 * See postfix.h for the contract.
 */
#include "postfix.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "keystore.h"
#include "macro.h"

/* postconf normally answers in milliseconds, but waits on a "hot" main.cf;
 * a reload may take a while.  Neither may hang a rollover for ever. */
#define PC_TIMEOUT 60
#define RELOAD_TIMEOUT 120

const char *const postfix_tls_server_params[] = {
	"smtpd_tls_chain_files",
	"smtpd_tls_key_file",
	"smtpd_tls_cert_file",
	"smtpd_tls_eckey_file",
	"smtpd_tls_eccert_file",
	"tlsproxy_tls_chain_files",
	"tlsproxy_tls_key_file",
	"tlsproxy_tls_cert_file",
	"tlsproxy_tls_eckey_file",
	"tlsproxy_tls_eccert_file",
	NULL,
};

int postfix_open(pf_postfix *pf, const char *command_dir, const char *config_dir, pf_err *e)
{
	struct stat st;
	size_t len;

	memset(pf, 0, sizeof(*pf));
	if (!config_dir || config_dir[0] != '/')
		return pf_err_usage(e,
				    "postfix_config_directory \"%.200s\" is not an absolute path",
				    config_dir ? config_dir : "");
	if (!command_dir || command_dir[0] != '/')
		return pf_err_usage(e,
				    "postfix_command_directory \"%.200s\" is not an absolute path",
				    command_dir ? command_dir : "");
	if (stat(config_dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return pf_err_usage(e, "no Postfix configuration directory %.200s", config_dir);
	/* postconf would wait on a FIFO main.cf until its own timeout. */
	for (const char *const *f = (const char *const[]){"main.cf", "master.cf", NULL}; *f; f++) {
		char *path = pf_asprintf("%s/%s", config_dir, *f);
		int bad = stat(path, &st) == 0 && !S_ISREG(st.st_mode);
		int r = bad ? pf_err_set(e, EINVAL, "%.200s is not a regular file", path) : 0;

		free(path);
		if (bad)
			return r;
	}
	pf->config_dir = pf_strdup(config_dir);
	len = strlen(pf->config_dir);
	while (len > 1 && pf->config_dir[len - 1] == '/')
		pf->config_dir[--len] = '\0';
	pf->command_dir = pf_strdup(command_dir);
	pf->postconf = pf_asprintf("%s/postconf", command_dir);
	pf->postfix = pf_asprintf("%s/postfix", command_dir);
	if (access(pf->postconf, X_OK) < 0) {
		int r = pf_err_usage(e,
				     "no executable postconf in postfix_command_directory %.200s",
				     command_dir);
		postfix_close(pf);
		return r;
	}
	return 0;
}

void postfix_close(pf_postfix *pf)
{
	if (!pf)
		return;
	free(pf->config_dir);
	free(pf->command_dir);
	free(pf->postconf);
	free(pf->postfix);
	memset(pf, 0, sizeof(*pf));
}

/* A growable capture buffer that stops keeping bytes past the limit. */
typedef struct capture {
	char *buf;
	size_t len;
	bool overflow;
} capture;

static void capture_add(capture *c, const char *p, size_t n)
{
	if (c->overflow || c->len + n > PF_POSTFIX_OUTPUT_MAX) {
		c->overflow = true;
		return;
	}
	c->buf = pf_realloc(c->buf, c->len + n + 1);
	memcpy(c->buf + c->len, p, n);
	c->len += n;
	c->buf[c->len] = '\0';
}

static char *capture_take(capture *c)
{
	char *s = c->buf ? c->buf : pf_strdup("");

	c->buf = NULL;
	return s;
}

int postfix_run(char *const argv[], int timeout_sec, char **ret_out, char **ret_err, pf_err *e)
{
	int outp[2] = {-1, -1}, errp[2] = {-1, -1}, execp[2] = {-1, -1};
	capture cap[2] = {{0}, {0}};
	uint64_t deadline = pf_mono_usec() + (uint64_t)timeout_sec * 1000000u;
	bool timed_out = false;
	int status = 0, exec_errno = 0, r;
	pid_t pid;

	if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
	    pipe2(execp, O_CLOEXEC) < 0) {
		r = errno;
		goto pipes_fail;
	}
	pid = fork();
	if (pid < 0) {
		r = errno;
		goto pipes_fail;
	}
	if (pid == 0) {
		/* Only async-signal-safe calls from here to exec. */
		int fd = open("/dev/null", O_RDONLY);

		if (fd < 0 || dup2(fd, 0) < 0 || dup2(outp[1], 1) < 0 || dup2(errp[1], 2) < 0)
			_exit(127);
		if (strchr(argv[0], '/'))
			execv(argv[0], argv);
		else
			execvp(argv[0], argv);
		r = errno;
		(void)!write(execp[1], &r, sizeof(r));
		_exit(127);
	}
	close(outp[1]);
	close(errp[1]);
	close(execp[1]);
	outp[1] = errp[1] = execp[1] = -1;

	struct pollfd pfd[2] = {{outp[0], POLLIN, 0}, {errp[0], POLLIN, 0}};
	while (pfd[0].fd >= 0 || pfd[1].fd >= 0) {
		uint64_t now = pf_mono_usec();
		int n;

		if (now >= deadline) {
			timed_out = true;
			kill(pid, SIGKILL);
			break;
		}
		n = poll(pfd, 2, (int)((deadline - now) / 1000 + 1));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		for (int i = 0; i < 2; i++) {
			char buf[4096];
			ssize_t got;

			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			got = read(pfd[i].fd, buf, sizeof(buf));
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
				continue;
			}
			capture_add(&cap[i], buf, (size_t)got);
		}
	}
	for (int i = 0; i < 2; i++)
		if (pfd[i].fd >= 0)
			close(pfd[i].fd);
	if (read(execp[0], &exec_errno, sizeof(exec_errno)) != sizeof(exec_errno))
		exec_errno = 0;
	close(execp[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (exec_errno) {
		r = pf_err_set(e, exec_errno, "cannot run %s: %s", argv[0], strerror(exec_errno));
		goto out;
	}
	if (timed_out) {
		r = pf_err_set(e, ETIMEDOUT, "%s did not finish within %d seconds; killed it",
			       argv[0], timeout_sec);
		goto out;
	}
	if (cap[0].overflow || cap[1].overflow) {
		r = pf_err_set(e, EFBIG, "%s wrote more than %d bytes of output", argv[0],
			       PF_POSTFIX_OUTPUT_MAX);
		goto out;
	}
	if (WIFSIGNALED(status)) {
		r = pf_err_set(e, EINTR, "%s was killed by signal %d", argv[0], WTERMSIG(status));
		goto out;
	}
	r = WEXITSTATUS(status);
	if (ret_out)
		*ret_out = capture_take(&cap[0]);
	if (ret_err)
		*ret_err = capture_take(&cap[1]);
out:
	free(cap[0].buf);
	free(cap[1].buf);
	return r;
pipes_fail:
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
		if (execp[i] >= 0)
			close(execp[i]);
	}
	return pf_err_set(e, r, "cannot start %s: %s", argv[0], strerror(r));
}

/* The line of a program's complaint worth quoting: the first "fatal:" or
 * "error:" line, else the first non-empty one.  Writes into buf. */
static const char *complaint(const char *text, char *buf, size_t len)
{
	const char *best = NULL, *first = NULL;

	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		size_t l = strcspn(p, "\n");

		if (l == 0)
			continue;
		if (!first)
			first = p;
		if (!best && (memmem(p, l, "fatal:", 6) || memmem(p, l, "error:", 6)))
			best = p;
	}
	if (!best)
		best = first;
	if (!best) {
		/* Postfix programs write to stderr only when it is a terminal;
		 * otherwise the reason is in the mail log. */
		snprintf(buf, len, "no message on stdout or stderr; see the mail log");
		return buf;
	}
	snprintf(buf, len, "%.*s", (int)(strcspn(best, "\n") > 300 ? 300 : strcspn(best, "\n")),
		 best);
	return buf;
}

/* Run a Postfix program; a non-zero exit becomes an error naming what (the
 * command) and quoting its complaint.  Returns 0 or -errno. */
static int run_checked(char *const argv[], const char *what, int timeout_sec, char **ret_out,
		       pf_err *e)
{
	PF_CLEANUP_FREE char *out = NULL, *err = NULL;
	char line[400];
	int st;

	st = postfix_run(argv, timeout_sec, &out, &err, e);
	if (st < 0) {
		pf_err_prefix(e, "%s", what);
		return st;
	}
	if (st != 0) {
		/* Postfix logs to maillog_file rather than stderr when that is set
		 * and stderr is no terminal; stdout may then hold the reason. */
		complaint(*err ? err : out, line, sizeof(line));
		return pf_err_set(e, EIO, "%s failed (exit status %d): %s", what, st, line);
	}
	if (ret_out)
		*ret_out = pf_take_ptr(&out);
	return 0;
}

int postfix_get(pf_postfix *pf, int flags, const char *const *names, size_t n, char **ret,
		pf_err *e)
{
	pf_strv argv = {0};
	char *out = NULL, *what;
	int r;

	for (size_t i = 0; i < n; i++)
		ret[i] = NULL;
	if (n == 0)
		return 0;
	pf_strv_push(&argv, pf->postconf);
	pf_strv_push(&argv, "-c");
	pf_strv_push(&argv, pf->config_dir);
	if (flags & PF_PC_EXPLICIT)
		pf_strv_push(&argv, "-n");
	if (flags & PF_PC_EXPAND)
		pf_strv_push(&argv, "-x");
	if (flags & PF_PC_DEFAULT)
		pf_strv_push(&argv, "-d");
	pf_strv_push(&argv, "--");
	for (size_t i = 0; i < n; i++)
		pf_strv_push(&argv, names[i]);
	what = pf_asprintf("postconf -c %s%s%s%s %s%s", pf->config_dir,
			   flags & PF_PC_EXPLICIT ? " -n" : "", flags & PF_PC_EXPAND ? " -x" : "",
			   flags & PF_PC_DEFAULT ? " -d" : "", names[0], n > 1 ? " ..." : "");
	r = run_checked(argv.v, what, PC_TIMEOUT, &out, e);
	free(what);
	pf_strv_clear(&argv);
	if (r < 0)
		return r;
	postfix_parse_values(out, names, n, ret);
	free(out);
	return 0;
}

void postfix_parse_values(char *out, const char *const *names, size_t n, char **ret)
{
	/* Lines are "name = value" or "name ="; anything else (a warning that
	 * went to stdout through maillog_file) names no asked-for parameter. */
	for (char *line = out, *next; line && *line; line = next) {
		size_t l = strcspn(line, "\n");

		next = line[l] ? line + l + 1 : NULL;
		line[l] = '\0';
		for (size_t i = 0; i < n; i++) {
			size_t nl = strlen(names[i]);

			if (ret[i] || strncmp(line, names[i], nl) != 0)
				continue;
			if (strcmp(line + nl, " =") == 0)
				ret[i] = pf_strdup("");
			else if (strncmp(line + nl, " = ", 3) == 0)
				ret[i] = pf_strdup(line + nl + 3);
		}
	}
}

int postfix_get1(pf_postfix *pf, int flags, const char *name, char **ret, pf_err *e)
{
	const char *names[1] = {name};

	return postfix_get(pf, flags, names, 1, ret, e);
}

/* postconf -c DIR OPTION items...: one call that changes main.cf. */
static int postconf_change(pf_postfix *pf, const char *option, const pf_strv *items, pf_err *e)
{
	pf_strv argv = {0};
	char *what;
	int r;

	if (items->n == 0)
		return 0;
	pf_strv_push(&argv, pf->postconf);
	pf_strv_push(&argv, "-c");
	pf_strv_push(&argv, pf->config_dir);
	pf_strv_push(&argv, option);
	pf_strv_push(&argv, "--");
	for (size_t i = 0; i < items->n; i++)
		pf_strv_push(&argv, items->v[i]);
	what = pf_asprintf("postconf -c %s %s", pf->config_dir, option);
	r = run_checked(argv.v, what, PC_TIMEOUT, NULL, e);
	free(what);
	pf_strv_clear(&argv);
	return r;
}

int postfix_set(pf_postfix *pf, const pf_strv *settings, pf_err *e)
{
	for (size_t i = 0; i < settings->n; i++)
		if (strchr(settings->v[i], '\n'))
			return pf_err_usage(e, "a main.cf value cannot contain a newline: %.100s",
					    settings->v[i]);
	return postconf_change(pf, "-e", settings, e);
}

int postfix_unset(pf_postfix *pf, const pf_strv *names, pf_err *e)
{
	return postconf_change(pf, "-X", names, e);
}

int postfix_map_types(pf_postfix *pf, pf_strv *ret, pf_err *e)
{
	char *argv[] = {pf->postconf, "-c", pf->config_dir, "-m", NULL};
	char *out = NULL;
	int r;

	if ((r = run_checked(argv, "postconf -m", PC_TIMEOUT, &out, e)) < 0)
		return r;
	pf_split_list(out, ret);
	free(out);
	return 0;
}

int postfix_check(pf_postfix *pf, pf_err *e)
{
	char *argv[] = {pf->postfix, "-c", pf->config_dir, "check", NULL};
	char *what = pf_asprintf("postfix -c %s check", pf->config_dir);
	int r = run_checked(argv, what, RELOAD_TIMEOUT, NULL, e);

	free(what);
	return r;
}

int postfix_check_settings(pf_postfix *pf, const pf_strv *settings, pf_err *e)
{
	char *argv[] = {pf->postconf, "-c", pf->config_dir, "-n", "-x", NULL};
	PF_CLEANUP_FREE char *out = NULL, *err = NULL;
	PF_CLEANUP_FREE char *what = pf_asprintf("postconf -c %s -n -x", pf->config_dir);
	char line[400];
	int st, r = 0;

	st = postfix_run(argv, PC_TIMEOUT, &out, &err, e);
	if (st < 0) {
		pf_err_prefix(e, "%s", what);
		return st;
	}
	if (st != 0 || strstr(err, "fatal:")) {
		complaint(*err ? err : out, line, sizeof(line));
		return pf_err_set(e, EIO, "%s failed (exit status %d): %s", what, st, line);
	}
	for (size_t i = 0; r == 0 && i < settings->n; i++) {
		const char *set = settings->v[i];
		size_t nl = strcspn(set, " =");
		PF_CLEANUP_FREE char *want = pf_asprintf("\n%.*s = %s\n", (int)nl, set,
							 set + nl + strspn(set + nl, " ="));
		PF_CLEANUP_FREE char *name = pf_asprintf("%.*s", (int)nl, set);
		PF_CLEANUP_FREE char *have = pf_asprintf("\n%s", out);
		bool superseded = false;

		/* postconf -e applies the settings in order: where one parameter
		 * is set twice (smtpd_tls_chain_files, once per algorithm, the
		 * second list built from the first), the last value is what
		 * main.cf holds, and only it can read back. */
		for (size_t j = i + 1; j < settings->n && !superseded; j++)
			superseded = strncmp(settings->v[j], set, nl) == 0 &&
				     strchr(" =", settings->v[j][nl]) && settings->v[j][nl];
		if (superseded)
			continue;

		/* A warning line naming the parameter (postconf quotes it). */
		for (const char *p = err; p && *p;
		     p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
			size_t l = strcspn(p, "\n");
			const char *hit = memmem(p, l, name, strlen(name));

			if (hit && memmem(p, l, "warning:", 8)) {
				r = pf_err_set(e, EINVAL, "%s: %.*s", what,
					       (int)(l > 300 ? 300 : l), p);
				break;
			}
		}
		if (r == 0 && !strstr(have, want))
			r = pf_err_set(e, EIO, "%s: %s does not read back as written (%.200s)",
				       what, name, set);
	}
	return r;
}

int postfix_reload(pf_postfix *pf, const char *command_line, pf_err *e)
{
	pf_strv argv = {0};
	const char *p = command_line;
	int r;

	(void)pf;
	while (*p) {
		size_t l;

		p += strspn(p, " \t\n");
		l = strcspn(p, " \t\n");
		if (l)
			pf_strv_push_owned(&argv, pf_strndup(p, l));
		p += l;
	}
	if (argv.n == 0)
		return pf_err_usage(e, "the reload command is empty");
	r = run_checked(argv.v, command_line, RELOAD_TIMEOUT, NULL, e);
	pf_strv_clear(&argv);
	return r;
}

int postfix_myhostname(pf_postfix *pf, char **ret, pf_err *e)
{
	char *v = NULL, *text = NULL;
	int r;

	if ((r = postfix_get1(pf, PF_PC_EXPAND, "myhostname", &v, e)) < 0)
		return r;
	if (!v || !*v) {
		free(v);
		return pf_err_set(e, EINVAL, "%s/main.cf: myhostname is empty", pf->config_dir);
	}
	if (v[0] != '/') {
		*ret = v;
		return 0;
	}
	/* "postfix tls" reads the name from the file myhostname names. */
	r = pf_read_file(v, 4096, &text, NULL, e);
	if (r < 0) {
		pf_err_prefix(e, "myhostname = %s", v);
		free(v);
		return r;
	}
	text[strcspn(text, "\n")] = '\0';
	pf_trim(text);
	if (!*text) {
		r = pf_err_set(e, EINVAL, "myhostname file %s is empty", v);
		free(v);
		free(text);
		return r;
	}
	/* Checked here, where it is known to come from a file: the callers
	 * quote a bad name, and the file may be anyone's (/etc/shadow), so
	 * what it holds is never put in a message - its name is. */
	if (!pf_valid_hostname(text)) {
		r = pf_err_usage(
			e,
			"%s/main.cf: myhostname = %s: the first line of that file is not a "
			"valid host name",
			pf->config_dir, v);
		free(v);
		free(text);
		return r;
	}
	free(v);
	*ret = text;
	return 0;
}

void postfix_key_params(const char *prefix, enum pf_alg alg, char *key_param, char *cert_param)
{
	snprintf(key_param, 40, "%s_tls_%skey_file", prefix, alg == PF_ALG_ECDSA ? "ec" : "");
	snprintf(cert_param, 40, "%s_tls_%scert_file", prefix, alg == PF_ALG_ECDSA ? "ec" : "");
}

void pf_tls_files_free(pf_tls_files *f)
{
	if (!f)
		return;
	for (int i = 0; i < PF_ALG_COUNT; i++) {
		free(f->key_file[i]);
		free(f->cert_file[i]);
	}
	memset(f, 0, sizeof(*f));
}

/* One key and its certificate chain inside a chain_files list: items
 * [first, first+count) of the list. */
typedef struct chain {
	enum pf_alg alg;
	size_t first, count;
	size_t key_item, cert_item; /* cert_item == (size_t)-1: no certificate */
} chain;

/*
 * Group a chain_files list into chains: a file holding a private key starts
 * one, files after it with only certificates belong to it (Postfix's rule:
 * each key is followed by its chain).  *ret is allocated.  Returns the
 * number of chains or -errno, naming param in the message.
 */
static int chains_of(const pf_strv *files, const char *param, chain **ret, pf_err *e)
{
	chain *v = pf_calloc(files->n ? files->n : 1, sizeof(*v));
	size_t n = 0;
	int r;

	for (size_t i = 0; i < files->n; i++) {
		pf_pem_info info;

		if (files->v[i][0] != '/') {
			free(v);
			return pf_err_set(
				e, EINVAL,
				"%s: \"%.200s\" is not an absolute path; cannot tell which "
				"key it holds",
				param, files->v[i]);
		}
		if ((r = keystore_probe(files->v[i], &info, e)) < 0) {
			pf_err_prefix(e, "%s", param);
			free(v);
			return r;
		}
		if (info.has_key) {
			v[n] = (chain){info.key_alg, i, 0, i, (size_t)-1};
			n++;
		} else if (n == 0) {
			free(v);
			return pf_err_set(
				e, EINVAL,
				"%s: %s holds a certificate but no private key precedes it", param,
				files->v[i]);
		}
		v[n - 1].count++;
		if (info.n_certs && v[n - 1].cert_item == (size_t)-1)
			v[n - 1].cert_item = i;
	}
	*ret = v;
	return (int)n;
}

/* The chain_files value with the chain of alg replaced by keyfile,
 * certfile (or those appended).  Returns a new string or NULL on error. */
static char *replace_chain(const char *list, const char *param, enum pf_alg alg,
			   const char *keyfile, const char *certfile, pf_err *e)
{
	pf_strv files = {0}, out = {0};
	chain *chains = NULL;
	bool done = false;
	char *s;
	int n;

	pf_split_list(list, &files);
	n = chains_of(&files, param, &chains, e);
	if (n < 0) {
		pf_strv_clear(&files);
		return NULL;
	}
	for (int c = 0; c < n; c++) {
		if (chains[c].alg == alg) {
			/* Two chains of one algorithm: Postfix would use one; the new
			 * key replaces both so that exactly one remains. */
			if (!done) {
				pf_strv_push(&out, keyfile);
				if (strcmp(certfile, keyfile) != 0)
					pf_strv_push(&out, certfile);
			}
			done = true;
			continue;
		}
		for (size_t i = 0; i < chains[c].count; i++)
			pf_strv_push(&out, files.v[chains[c].first + i]);
	}
	if (!done) {
		pf_strv_push(&out, keyfile);
		if (strcmp(certfile, keyfile) != 0)
			pf_strv_push(&out, certfile);
	}
	s = pf_strv_join(&out, ", ");
	free(chains);
	pf_strv_clear(&files);
	pf_strv_clear(&out);
	return s;
}

static bool empty_or_none(const char *v)
{
	return !v || !*v || strcmp(v, "none") == 0;
}

int postfix_deployed(pf_postfix *pf, const char *prefix, pf_tls_files *ret, pf_err *e)
{
	char names[5][48], *vals[5] = {0};
	const char *np[5];
	pf_tls_files f = {0};
	int r;

	snprintf(names[0], sizeof(names[0]), "%s_tls_chain_files", prefix);
	postfix_key_params(prefix, PF_ALG_RSA, names[1], names[2]);
	postfix_key_params(prefix, PF_ALG_ECDSA, names[3], names[4]);
	for (size_t i = 0; i < PF_ELEMENTSOF(np); i++)
		np[i] = names[i];
	if ((r = postfix_get(pf, PF_PC_EXPAND, np, PF_ELEMENTSOF(np), vals, e)) < 0)
		return r;
	if (!empty_or_none(vals[0])) {
		pf_strv files = {0};
		chain *chains = NULL;
		int n;

		f.chain_files = true;
		pf_split_list(vals[0], &files);
		n = chains_of(&files, names[0], &chains, e);
		for (int c = 0; c < n; c++) {
			enum pf_alg a = chains[c].alg;

			if (f.key_file[a])
				continue;
			f.key_file[a] = pf_strdup(files.v[chains[c].key_item]);
			if (chains[c].cert_item != (size_t)-1)
				f.cert_file[a] = pf_strdup(files.v[chains[c].cert_item]);
		}
		free(chains);
		pf_strv_clear(&files);
		if (n < 0) {
			r = n;
			goto out;
		}
	} else {
		for (int a = 0; a < PF_ALG_COUNT; a++) {
			const char *k = vals[1 + 2 * a], *c = vals[2 + 2 * a];

			/* The key parameter defaults to the certificate file. */
			if (empty_or_none(c))
				continue;
			f.cert_file[a] = pf_strdup(c);
			f.key_file[a] = pf_strdup(empty_or_none(k) ? c : k);
		}
	}
	*ret = f;
	memset(&f, 0, sizeof(f));
out:
	pf_tls_files_free(&f);
	for (size_t i = 0; i < PF_ELEMENTSOF(vals); i++)
		free(vals[i]);
	return r;
}

bool postfix_is_reference_to(const char *raw, const char *param)
{
	char buf[64];

	if (!raw)
		return false;
	while (*raw == ' ' || *raw == '\t')
		raw++;
	for (int form = 0; form < 3; form++) {
		snprintf(buf, sizeof(buf),
			 form == 0   ? "$%s"
			 : form == 1 ? "${%s}"
				     : "$(%s)",
			 param);
		size_t l = strlen(buf);
		if (strncmp(raw, buf, l) == 0 && raw[l + strspn(raw + l, " \t")] == '\0')
			return true;
	}
	return false;
}

/* Indexes into postfix_tls_server_params. */
enum { SP_CHAIN = 0, SP_KEY, SP_CERT, SP_ECKEY, SP_ECCERT, SP_TLSPROXY = 5, SP_N = 10 };

int postfix_tlsproxy_overrides(pf_postfix *pf, pf_strv *ret, pf_err *e)
{
	char *raw[SP_N] = {0};
	int r;

	if ((r = postfix_get(pf, PF_PC_EXPLICIT, postfix_tls_server_params, SP_N, raw, e)) < 0)
		return r;
	for (int i = SP_TLSPROXY; i < SP_N; i++)
		if (raw[i] &&
		    !postfix_is_reference_to(raw[i], postfix_tls_server_params[i - SP_TLSPROXY]))
			pf_strv_push_owned(
				ret, pf_asprintf("%s = %s", postfix_tls_server_params[i], raw[i]));
	for (int i = 0; i < SP_N; i++)
		free(raw[i]);
	return 0;
}

/* The value of the last "name = value" in settings, or NULL: a chain list
 * an earlier algorithm's deploy already rewrote. */
static const char *pending_value(const pf_strv *settings, const char *name)
{
	size_t nl = strlen(name);
	const char *v = NULL;

	for (size_t i = 0; i < settings->n; i++)
		if (strncmp(settings->v[i], name, nl) == 0 &&
		    strncmp(settings->v[i] + nl, " = ", 3) == 0)
			v = settings->v[i] + nl + 3;
	return v;
}

int postfix_deploy_settings(pf_postfix *pf, enum pf_alg alg, const char *keyfile,
			    const char *certfile, pf_strv *ret, pf_err *e)
{
	const char *const *p = postfix_tls_server_params;
	char *raw[SP_N] = {0}, *chain_x[2] = {0}, key_param[40], cert_param[40];
	const char *chain_names[2] = {p[SP_CHAIN], p[SP_TLSPROXY + SP_CHAIN]};
	pf_strv add = {0};
	bool proxy_own_chain, proxy_uses_chain;
	int r;

	if (keyfile[0] != '/' || certfile[0] != '/')
		return pf_err_usage(e, "internal error: deploy needs absolute file names");
	if ((r = postfix_get(pf, PF_PC_EXPLICIT, p, SP_N, raw, e)) < 0)
		return r;
	if ((r = postfix_get(pf, PF_PC_EXPLICIT | PF_PC_EXPAND, chain_names, 2, chain_x, e)) < 0)
		goto out;
	/* Both algorithms deployed in one postconf -e: the second starts from
	 * the list the first one made, or it would put the first one's old
	 * chain back. */
	for (int i = 0; i < 2; i++) {
		const char *v = pending_value(ret, chain_names[i]);

		if (v) {
			free(chain_x[i]);
			chain_x[i] = pf_strdup(v);
		}
	}

	/* smtpd: Postfix ignores the legacy parameters once chain_files is set. */
	if (!empty_or_none(chain_x[0])) {
		char *v = replace_chain(chain_x[0], p[SP_CHAIN], alg, keyfile, certfile, e);
		if (!v) {
			r = -EINVAL;
			goto out;
		}
		pf_strv_push_owned(&add, pf_asprintf("%s = %s", p[SP_CHAIN], v));
		free(v);
	} else {
		postfix_key_params("smtpd", alg, key_param, cert_param);
		pf_strv_push_owned(&add, pf_asprintf("%s = %s", key_param, keyfile));
		pf_strv_push_owned(&add, pf_asprintf("%s = %s", cert_param, certfile));
	}

	/* tlsproxy: only what main.cf sets for it on its own; the rest follows
	 * the smtpd_tls_* values just written. */
	proxy_own_chain = raw[SP_TLSPROXY + SP_CHAIN] &&
			  !postfix_is_reference_to(raw[SP_TLSPROXY + SP_CHAIN], p[SP_CHAIN]);
	proxy_uses_chain =
		proxy_own_chain ? !empty_or_none(chain_x[1]) : !empty_or_none(chain_x[0]);
	if (proxy_own_chain && proxy_uses_chain) {
		char *v = replace_chain(chain_x[1], p[SP_TLSPROXY + SP_CHAIN], alg, keyfile,
					certfile, e);
		if (!v) {
			r = -EINVAL;
			goto out;
		}
		pf_strv_push_owned(&add, pf_asprintf("%s = %s", p[SP_TLSPROXY + SP_CHAIN], v));
		free(v);
	} else if (!proxy_uses_chain) {
		int k = alg == PF_ALG_ECDSA ? SP_ECKEY : SP_KEY;

		for (int i = k; i <= k + 1; i++) {
			const char *v = i == k ? keyfile : certfile;

			if (raw[SP_TLSPROXY + i] &&
			    !postfix_is_reference_to(raw[SP_TLSPROXY + i], p[i]))
				pf_strv_push_owned(&add,
						   pf_asprintf("%s = %s", p[SP_TLSPROXY + i], v));
		}
	}
	for (size_t i = 0; i < add.n; i++)
		pf_strv_push(ret, add.v[i]);
	r = 0;
out:
	pf_strv_clear(&add);
	for (int i = 0; i < SP_N; i++)
		free(raw[i]);
	free(chain_x[0]);
	free(chain_x[1]);
	return r;
}

int postfix_snapshot(pf_postfix *pf, const char *const *names, pf_snapshot *ret, pf_err *e)
{
	pf_snapshot s = {0};
	int r;

	for (size_t i = 0; names[i]; i++)
		pf_strv_push(&s.names, names[i]);
	s.values = pf_calloc(s.names.n, sizeof(char *));
	r = postfix_get(pf, PF_PC_EXPLICIT, (const char *const *)s.names.v, s.names.n, s.values, e);
	if (r < 0) {
		pf_snapshot_free(&s);
		return r;
	}
	*ret = s;
	return 0;
}

int postfix_restore(pf_postfix *pf, const pf_snapshot *s, pf_err *e)
{
	pf_strv set = {0}, unset = {0};
	int r;

	for (size_t i = 0; i < s->names.n; i++) {
		if (s->values[i])
			pf_strv_push_owned(&set,
					   pf_asprintf("%s = %s", s->names.v[i], s->values[i]));
		else
			pf_strv_push(&unset, s->names.v[i]);
	}
	r = postfix_set(pf, &set, e);
	if (r == 0)
		r = postfix_unset(pf, &unset, e);
	pf_strv_clear(&set);
	pf_strv_clear(&unset);
	return r;
}

void pf_snapshot_free(pf_snapshot *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->names.n; i++)
		free(s->values[i]);
	free(s->values);
	pf_strv_clear(&s->names);
}

int postfix_mark(const char *path, pf_file_mark *ret, pf_err *e)
{
	pf_file_mark m = {0};
	unsigned char buf[16384];
	unsigned int mdlen = 0;
	struct stat st;
	EVP_MD_CTX *ctx;
	ssize_t n;
	int r = 0;

	PF_CLEANUP_CLOSE int fd = pf_open_regular(path, &st, e);
	if (fd == -ENOENT) {
		pf_err_clear(e);
		*ret = m;
		return 0;
	}
	if (fd < 0)
		return fd;
	m.exists = true;
	m.dev = (unsigned long long)st.st_dev;
	m.ino = (unsigned long long)st.st_ino;
	m.size = (long long)st.st_size;
	m.mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
	if (!(ctx = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(ctx);
		return pf_err_set(e, ENOMEM, "cannot hash %s: no SHA-256", path);
	}
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = errno;
			r = pf_err_set(e, r, "cannot read %s: %s", path, strerror(r));
			break;
		}
		if (!EVP_DigestUpdate(ctx, buf, (size_t)n)) {
			r = pf_err_set(e, ENOMEM, "cannot hash %s", path);
			break;
		}
	}
	if (r == 0 && (!EVP_DigestFinal_ex(ctx, m.sha256, &mdlen) || mdlen != sizeof(m.sha256)))
		r = pf_err_set(e, ENOMEM, "cannot hash %s", path);
	EVP_MD_CTX_free(ctx);
	if (r == 0)
		*ret = m;
	return r;
}

bool postfix_mark_equal(const pf_file_mark *a, const pf_file_mark *b)
{
	if (a->exists != b->exists)
		return false;
	return !a->exists ||
	       (a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
		a->mtime_ns == b->mtime_ns && memcmp(a->sha256, b->sha256, sizeof(a->sha256)) == 0);
}
