/*
 * test_command.c - command_run: outcomes (exit 0, exit 3 with stderr's
 * last line, a signal, the deadline, a grandchild holding stderr, a
 * missing program), the environment and descriptors the command gets, and
 * its argv words.  The commands are this program itself, re-run with
 * "--child MODE ...".
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../daemon/command.h"
#include "t.h"

extern char **environ;

static char self[4096];

/* The child side: what each mode does. */
static int child_main(int argc, char **argv)
{
	const char *mode = argv[2];
	FILE *f;

	if (strcmp(mode, "exit3") == 0) {
		fprintf(stderr, "first line\n\nacme: order \x1b[31mfailed\x1b[0m\t(urn:x)\n   \n");
		return 3;
	}
	if (strcmp(mode, "ok") == 0)
		return 0;
	if (strcmp(mode, "long") == 0) {
		for (int i = 0; i < 5000; i++)
			fputs("0123456789", stderr);
		return 1;
	}
	if (strcmp(mode, "signal") == 0) {
		fputs("about to fall\n", stderr);
		fflush(stderr);
		raise(SIGTERM);
		return 0;
	}
	if (strcmp(mode, "hang") == 0) {
		/* Ignores SIGTERM: only SIGKILL ends it. */
		signal(SIGTERM, SIG_IGN);
		fputs("waiting for the CA\n", stderr);
		fflush(stderr);
		for (;;)
			pause();
	}
	if (strcmp(mode, "grandchild") == 0 && argc > 3) {
		pid_t pid = fork();

		if (pid == 0) {
			for (;;)
				pause();
		}
		f = fopen(argv[3], "w");
		fprintf(f, "%d\n", (int)pid);
		fclose(f);
		fputs("issued\n", stderr);
		return 0;
	}
	if (strcmp(mode, "env") == 0 && argc > 3) {
		DIR *d = opendir("/proc/self/fd");
		struct dirent *de;
		char buf[16] = "";

		f = fopen(argv[3], "w");
		for (char **v = environ; *v; v++)
			fprintf(f, "env %s\n", *v);
		/* Descriptors: 0 1 2, the directory being read, f itself. */
		while (d && (de = readdir(d)))
			if (de->d_name[0] != '.' && atoi(de->d_name) != dirfd(d) &&
			    atoi(de->d_name) != fileno(f))
				fprintf(f, "fd %s\n", de->d_name);
		if (d)
			closedir(d);
		fprintf(f, "stdin-read %zd\n", read(0, buf, sizeof(buf)));
		fclose(f);
		return 0;
	}
	if (strcmp(mode, "argv") == 0 && argc > 3) {
		f = fopen(argv[3], "w");
		for (int i = 4; i < argc; i++)
			fprintf(f, "[%s]\n", argv[i]);
		fclose(f);
		return 0;
	}
	return 99;
}

static char *slurp(const char *path)
{
	char *text = NULL;
	size_t len;

	if (pf_read_file(path, 1 << 20, &text, &len, NULL) < 0)
		return pf_strdup("");
	return text;
}

static void test_outcomes(void)
{
	static const struct {
		const char *name;
		const char *args;
		uint64_t timeout_ms;
		enum pf_cmd_outcome outcome;
		int status;
		const char *last_line;
		const char *msg_part;
		uint64_t max_ms;
	} cases[] = {
		{"exit 0", "ok", 5000, PF_CMD_EXITED, 0, "", NULL, 2000},
		{"exit 3", "exit3", 5000, PF_CMD_EXITED, 3, "acme: order ?[31mfailed?[0m (urn:x)",
		 "exited with status 3: acme: order ?[31mfailed?[0m (urn:x)", 2000},
		{"long line cut", "long", 5000, PF_CMD_EXITED, 1, NULL,
		 "exited with status 1: 0123", 2000},
		{"signal", "signal", 5000, PF_CMD_SIGNALED, SIGTERM, "about to fall",
		 "was killed by signal 15 (Terminated): about to fall", 2000},
		{"deadline, SIGTERM ignored", "hang", 1000, PF_CMD_TIMED_OUT, SIGKILL,
		 "waiting for the CA", "did not finish within 1.000 s: stopped: waiting for the CA",
		 1000 + PF_CMD_KILL_GRACE_MS + 1000},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *cmd = pf_asprintf("%s --child %s", self, cases[i].args);
		pf_cmd_result res;
		pf_err e = {0};
		int r = command_run("certificate_command", cmd, NULL, cases[i].timeout_ms, &res,
				    &e);

		T_CHECK(res.outcome == cases[i].outcome && res.status == cases[i].status,
			"%s: outcome %d status %d", cases[i].name, res.outcome, res.status);
		T_CHECK((r == 0) == (cases[i].outcome == PF_CMD_EXITED && cases[i].status == 0),
			"%s: returns %d", cases[i].name, r);
		if (cases[i].last_line)
			T_STREQ(res.last_line, cases[i].last_line, "%s: last line \"%s\"",
				cases[i].name, res.last_line);
		else
			T_CHECK(strlen(res.last_line) == PF_CMD_LINE_MAX,
				"%s: last line cut to %d (%zu)", cases[i].name, PF_CMD_LINE_MAX,
				strlen(res.last_line));
		if (cases[i].msg_part)
			T_CHECK(strstr(e.msg, cases[i].msg_part) &&
					strstr(e.msg, "certificate_command (") == e.msg &&
					!strchr(e.msg, '\n'),
				"%s: message \"%s\"", cases[i].name, e.msg);
		T_CHECK(res.elapsed_ms <= cases[i].max_ms, "%s: took %llu ms (at most %llu)",
			cases[i].name, (unsigned long long)res.elapsed_ms,
			(unsigned long long)cases[i].max_ms);
		free(cmd);
	}
}

static void test_sleep_deadline(void)
{
	pf_cmd_result res;
	pf_err e = {0};
	int r = command_run("certificate_command", "sleep 30", NULL, 1000, &res, &e);

	T_CHECK(r == -ETIMEDOUT && res.outcome == PF_CMD_TIMED_OUT && res.status == SIGTERM,
		"sleep 30 with a 1 s deadline: timed out, ended by SIGTERM (%d, %d: %s)", r,
		res.status, e.msg);
	T_CHECK(res.elapsed_ms >= 1000 && res.elapsed_ms < 1800,
		"sleep 30 stopped soon after 1 s (%llu ms)", (unsigned long long)res.elapsed_ms);
	T_CHECK(strstr(e.msg, "(nothing on stderr)") != NULL, "no stderr said so: %s", e.msg);
}

static void test_grandchild(const char *dir)
{
	char *pidfile = pf_asprintf("%s/grandchild.pid", dir);
	char *cmd = pf_asprintf("%s --child grandchild %s", self, pidfile);
	pf_cmd_result res;
	pf_err e = {0};
	int r = command_run("certificate_command", cmd, NULL, 20000, &res, &e);
	char *text = slurp(pidfile);
	pid_t gpid = (pid_t)atoi(text);
	bool gone = false;

	T_CHECK(r == 0 && res.outcome == PF_CMD_EXITED && res.status == 0,
		"grandchild holding stderr: the command's exit 0 counts (%d: %s)", r, e.msg);
	T_CHECK(res.elapsed_ms < PF_CMD_LINGER_MS + 1500,
		"grandchild holding stderr: not waited for (%llu ms)",
		(unsigned long long)res.elapsed_ms);
	T_STREQ(res.last_line, "issued", "grandchild: last line \"%s\"", res.last_line);
	/* Reparented to init (or a subreaper), which reaps it once killed. */
	for (int i = 0; gpid > 0 && i < 100 && !gone; i++) {
		char st[64];
		char *stat_path = pf_asprintf("/proc/%d/stat", (int)gpid);
		char *s = slurp(stat_path);

		gone = !*s || (sscanf(s, "%*d %*s %63s", st) == 1 && st[0] == 'Z');
		free(s);
		free(stat_path);
		if (!gone)
			usleep(20000);
	}
	T_CHECK(gpid > 0 && gone, "grandchild %d killed with the command's process group",
		(int)gpid);
	if (!gone && gpid > 0)
		kill(gpid, SIGKILL);
	free(text);
	free(cmd);
	free(pidfile);
}

static void test_env_and_fds(const char *dir)
{
	char *out = pf_asprintf("%s/env.out", dir);
	char *cmd = pf_asprintf("%s,--child, env %s", self, out);
	const char *env[] = {"PFTLS_CSR=/run/x/csr.pem",
			     "PFTLS_CHAIN=/run/x/chain.pem",
			     "PFTLS_HOSTNAMES=mx.example.com mx2.example.com",
			     "PFTLS_ALGORITHM=ecdsa",
			     "PFTLS_KEY_SPKI=00ff",
			     NULL};
	const char *expect = "env PATH=" PF_CMD_PATH "\n"
			     "env PFTLS_CSR=/run/x/csr.pem\n"
			     "env PFTLS_CHAIN=/run/x/chain.pem\n"
			     "env PFTLS_HOSTNAMES=mx.example.com mx2.example.com\n"
			     "env PFTLS_ALGORITHM=ecdsa\n"
			     "env PFTLS_KEY_SPKI=00ff\n"
			     "fd 0\nfd 1\nfd 2\n"
			     "stdin-read 0\n";
	pf_cmd_result res;
	pf_err e = {0};
	char *text;
	int r, keep;

	/* Something of ours the command must not see: a secret in our
	 * environment, and an open descriptor without close-on-exec. */
	setenv("PFTLS_TSIG_SECRET", "c2VjcmV0", 1);
	keep = dup(1);
	r = command_run("certificate_command", cmd, env, 5000, &res, &e);
	close(keep);
	unsetenv("PFTLS_TSIG_SECRET");
	text = slurp(out);
	T_CHECK(r == 0, "env: ran (%s)", e.msg);
	T_STREQ(text, expect,
		"env: exactly PATH and the five PFTLS_ variables, fds 0-2 only, "
		"stdin /dev/null:\n%s",
		text);
	free(text);

	static const char *const bad[] = {"LD_PRELOAD=/tmp/x.so", "PFTLS_NOEQUALS", "PATH=/tmp"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *benv[] = {bad[i], NULL};

		unlink(out);
		pf_err_clear(&e);
		r = command_run("certificate_command", cmd, benv, 5000, &res, &e);
		T_CHECK(r == -EINVAL && res.outcome == PF_CMD_NOT_STARTED && access(out, F_OK) < 0,
			"env %s refused, nothing run (%s)", bad[i], e.msg);
	}
	free(cmd);
	free(out);
}

static void test_argv(const char *dir)
{
	static const struct {
		const char *words;
		const char *expect;
	} cases[] = {
		{"a b c", "[a]\n[b]\n[c]\n"},
		{"a,b,,c", "[a]\n[b]\n[c]\n"},
		{"  issue \t --csr ,  x  ", "[issue]\n[--csr]\n[x]\n"},
		{"'quoted words' $HOME;rm", "['quoted]\n[words']\n[$HOME;rm]\n"},
	};
	char *out = pf_asprintf("%s/argv.out", dir);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *cmd = pf_asprintf("%s --child argv %s %s", self, out, cases[i].words);
		pf_cmd_result res;
		pf_err e = {0};
		char *text;

		unlink(out);
		command_run("certificate_command", cmd, NULL, 5000, &res, &e);
		text = slurp(out);
		T_STREQ(text, cases[i].expect, "argv \"%s\": words as a Postfix list, no shell",
			cases[i].words);
		free(text);
		free(cmd);
	}
	free(out);
}

static void test_not_started(void)
{
	static const struct {
		const char *cmd;
		int r;
		const char *msg_part;
	} cases[] = {
		{"/nonexistent/acme-client issue", -ENOENT,
		 "certificate_command: cannot run /nonexistent/acme-client: No such file"},
		{"no-such-program-pftls", -ENOENT, "cannot run no-such-program-pftls"},
		{"/etc/passwd", -EACCES, "cannot run /etc/passwd: Permission denied"},
		{" , ", -EINVAL, "certificate_command is empty"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pf_cmd_result res;
		pf_err e = {0};
		int r = command_run("certificate_command", cases[i].cmd, NULL, 5000, &res, &e);

		T_CHECK(r == cases[i].r && res.outcome == PF_CMD_NOT_STARTED &&
				strstr(e.msg, cases[i].msg_part),
			"\"%s\" not started: %d %s", cases[i].cmd, r, e.msg);
	}
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/pftls-command-XXXXXX";
	ssize_t n;

	if (argc > 2 && strcmp(argv[1], "--child") == 0)
		return child_main(argc, argv);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0 || !mkdtemp(dir))
		return 1;
	self[n] = '\0';
	test_outcomes();
	test_sleep_deadline();
	test_grandchild(dir);
	test_env_and_fds(dir);
	test_argv(dir);
	test_not_started();
	t_scratch_remove(dir);
	T_DONE();
}
