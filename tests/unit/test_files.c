/*
 * test_files.c - files an operator names are read only when they are
 * regular files (SPEC.md 5, rule 7: reading never blocks).  A FIFO given as
 * the configuration, the TSIG key, a key or certificate file, or to
 * pf_read_file itself is refused at once with "not a regular file (a
 * FIFO)"; so are a directory and a character device.  Each read runs in a
 * child with an alarm, so a reader that blocks is a failure here, not a
 * hang of the suite.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../daemon/config.h"
#include "../../daemon/dns_tsig.h"
#include "../../daemon/keystore.h"
#include "../../daemon/macro.h"
#include "t.h"

enum reader { READ_FILE, READ_CONFIG, READ_TSIG, READ_KEY, READ_CERT, READ_PROBE };

static const char *reader_name[] = {"pf_read_file",  "the configuration", "the TSIG key",
				    "a private key", "a certificate",     "keystore_probe"};

/* Read path with reader in a child; the child writes the error line into
 * msg.  Returns the child's exit status (0: the read was refused, 1: it
 * succeeded, 2: refused without a message), or -1 when it was still
 * blocked after 2 s (then killed). */
static int read_in_child(enum reader reader, const char *path, char *msg, size_t size,
			 uint64_t *ret_usec)
{
	uint64_t t0 = pf_mono_usec();
	int pfd[2], status;
	ssize_t n;
	pid_t pid;

	if (pipe(pfd) < 0)
		return -2;
	pid = fork();
	if (pid == 0) {
		pf_err e = {0};
		pf_config cfg;
		dns_tsig_key *k = NULL;
		EVP_PKEY *key = NULL;
		X509 *cert = NULL;
		pf_pem_info info;
		char *text = NULL;
		int r = 0;

		close(pfd[0]);
		alarm(2);
		switch (reader) {
		case READ_FILE:
			r = pf_read_file(path, 4096, &text, NULL, &e);
			break;
		case READ_CONFIG:
			pf_config_init(&cfg);
			r = pf_config_load(&cfg, path, false, &e);
			break;
		case READ_TSIG:
			r = dns_tsig_key_load(path, &k, &e);
			break;
		case READ_KEY:
			r = keystore_load_key(path, &key, &e);
			break;
		case READ_CERT:
			r = keystore_load_cert(path, &cert, &e);
			break;
		case READ_PROBE:
			r = keystore_probe(path, &info, &e);
			break;
		}
		(void)!write(pfd[1], e.msg, strlen(e.msg));
		_exit(r >= 0 ? 1 : e.msg[0] ? 0 : 2);
	}
	close(pfd[1]);
	waitpid(pid, &status, 0);
	*ret_usec = pf_mono_usec() - t0;
	n = read(pfd[0], msg, size - 1);
	msg[n > 0 ? n : 0] = '\0';
	close(pfd[0]);
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -2;
}

int main(void)
{
	char dir[] = "/tmp/pftls-test-files-XXXXXX";
	char fifo[sizeof(dir) + 16], msg[800];
	uint64_t usec;

	if (!mkdtemp(dir))
		return 1;
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	T_CHECK(mkfifo(fifo, 0600) == 0, "a FIFO made");

	for (enum reader rd = READ_FILE; rd <= READ_PROBE; rd++) {
		int r = read_in_child(rd, fifo, msg, sizeof(msg), &usec);

		T_CHECK(r == 0 && strstr(msg, fifo) && strstr(msg, "not a regular file") &&
				usec < 1000000,
			"a FIFO as %s is refused at once (%.1f ms): %s", reader_name[rd],
			(double)usec / 1000, r == -1 ? "still blocked after 2 s" : msg);
	}
	static const struct {
		const char *path, *kind;
	} others[] = {
		{"/dev/zero", "a character device"},
		{"/tmp", "a directory"},
	};
	for (size_t i = 0; i < PF_ELEMENTSOF(others); i++) {
		int r = read_in_child(READ_FILE, others[i].path, msg, sizeof(msg), &usec);

		T_CHECK(r == 0 && strstr(msg, others[i].path) && strstr(msg, others[i].kind),
			"%s is refused as %s: %s", others[i].path, others[i].kind, msg);
	}
	/* The positive control: a regular file is still read. */
	char plain[sizeof(dir) + 16], *text = NULL;
	size_t len = 0;
	pf_err e = {0};
	FILE *f;

	snprintf(plain, sizeof(plain), "%s/plain", dir);
	f = fopen(plain, "w");
	fputs("hello\n", f);
	fclose(f);
	T_CHECK(pf_read_file(plain, 4096, &text, &len, &e) == 0 && len == 6 &&
			strcmp(text, "hello\n") == 0,
		"a regular file is read: %s", e.msg);
	free(text);
	int fd = pf_open_regular(plain, NULL, &e);
	T_CHECK(fd >= 0 && !(fcntl(fd, F_GETFL) & O_NONBLOCK) && (fcntl(fd, F_GETFD) & FD_CLOEXEC),
		"pf_open_regular gives a blocking, close-on-exec descriptor");
	if (fd >= 0)
		close(fd);
	unlink(plain);
	unlink(fifo);
	rmdir(dir);
	T_DONE();
}
