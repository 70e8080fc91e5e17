/*
 * fuzz_smtp_reply.c - the STARTTLS probe (smtp_probe) against a hostile
 * server: greeting, EHLO and STARTTLS replies, and whatever follows where
 * a TLS handshake should be, as the fuzzer writes them.
 *
 * The probe runs unchanged over real TCP on 127.0.0.1: a server thread of
 * the harness accepts its connection, sends the input (all at once, or in
 * pieces of the size the first octet gives, TCP_NODELAY so they tend to
 * arrive as separate reads; at most MAX_PIECES of them), reads what the
 * probe says, and closes.  Each
 * input is probed twice, whole and in pieces.  Besides no crash, leak,
 * out-of-bounds access or hang (libFuzzer's -timeout; the probe's own
 * deadline is 2 s), the properties are:
 *   - the verdict is an error (no input can forge a TLS handshake with a
 *     certificate), one line of printable ASCII naming the server first,
 *     whatever bytes the server sent: a hostile reply is never echoed raw;
 *   - the verdict does not depend on how the bytes were split;
 *   - a first line longer than RFC 5321's 1000 octets is refused as too
 *     long, and a server that never offers STARTTLS is never given a TLS
 *     handshake.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../daemon/smtp_probe.h"
#include "fuzz.h"

#define FUZZ_MAX_LEN 4096

/* At most this many pieces an input: a 4 KB input in pieces of one octet
 * cost the kernel 4,096 segments each way, which held the harness to about
 * 500 inputs a second.  The fuzzer still reaches every split position, as
 * what precedes a line moves where the piece boundaries fall in it. */
#define MAX_PIECES 64

static int listen_fd = -1;
static uint16_t listen_port;

static struct {
	const uint8_t *p;
	size_t n, piece;
} job;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int pending, done;

/* The server: one connection per job, the job's bytes, then the end. */
static void *server(void *arg)
{
	(void)arg;
	for (;;) {
		char sink[512];
		size_t off = 0;
		int fd, one = 1;

		pthread_mutex_lock(&mu);
		while (!pending)
			pthread_cond_wait(&cv, &mu);
		pending = 0;
		pthread_mutex_unlock(&mu);
		fd = accept(listen_fd, NULL, NULL);
		if (fd >= 0) {
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			while (off < job.n) {
				size_t k = job.n - off < job.piece ? job.n - off : job.piece;
				ssize_t w = send(fd, job.p + off, k, MSG_NOSIGNAL);

				if (w <= 0)
					break;
				off += (size_t)w;
			}
			shutdown(fd, SHUT_WR);
			while (recv(fd, sink, sizeof(sink), 0) > 0)
				;
			close(fd);
		}
		pthread_mutex_lock(&mu);
		done = 1;
		pthread_cond_signal(&cv);
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);
	pthread_t t;

	(void)argc;
	(void)argv;
	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(listen_fd, 4) < 0 || getsockname(listen_fd, (struct sockaddr *)&sin, &len) < 0 ||
	    pthread_create(&t, NULL, server, NULL) != 0) {
		fprintf(stderr, "fuzz_smtp_reply: set-up failed: %s\n", strerror(errno));
		abort();
	}
	pthread_detach(t);
	listen_port = ntohs(sin.sin_port);
	return 0;
}

/* One probe against the server sending p[0..n) in pieces; its verdict. */
static int probe(const uint8_t *p, size_t n, size_t piece, pf_err *e)
{
	static const pf_tlsa_rdata rd = {.usage = 3, .selector = 1, .mtype = 1, .len = 32};
	pf_hostport ep = {.port = listen_port};
	pf_probe_result res;
	int r;

	snprintf(ep.host, sizeof(ep.host), "127.0.0.1");
	pthread_mutex_lock(&mu);
	job.p = p;
	job.n = n;
	job.piece = piece;
	done = 0;
	pending = 1;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	r = smtp_probe(&ep, "mx.example.test", &rd, 1, PF_PROBE_ANY, 2000, &res, e);
	pthread_mutex_lock(&mu);
	while (!done)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	return r;
}

static void check_verdict(int r, const pf_err *e, const char *how)
{
	char want[64];
	size_t n = (size_t)snprintf(want, sizeof(want), "127.0.0.1:%u: ", listen_port);

	FUZZ_CHECK(r < 0, "%s: the probe succeeded against a fuzzed server", how);
	FUZZ_CHECK(strncmp(e->msg, want, n) == 0, "%s: the error does not name the server: %s", how,
		   e->msg);
	for (const char *c = e->msg; *c; c++)
		FUZZ_CHECK((unsigned char)*c >= 0x20 && (unsigned char)*c < 0x7f,
			   "%s: octet 0x%02x from the server in the error: %.120s", how,
			   (unsigned char)*c, e->msg);
}

/* The step an error names, right after the server: "HOST:PORT: STEP". */
static bool step_is(const pf_err *e, const char *step)
{
	const char *p = strchr(e->msg, ' ');

	return p && strncmp(p + 1, step, strlen(step)) == 0;
}

static bool after_starttls(const pf_err *e)
{
	return step_is(e, "TLS handshake") || step_is(e, "data after the STARTTLS reply");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pf_err whole = {0}, split = {0};
	size_t piece, first;
	const uint8_t *nl;
	int r1, r2;

	if (size < 1 || listen_fd < 0)
		return 0;
	piece = data[0] ? data[0] : 1;
	data++;
	size--;
	if (size > piece * MAX_PIECES)
		piece = (size + MAX_PIECES - 1) / MAX_PIECES;
	r1 = probe(data, size, size ? size : 1, &whole);
	check_verdict(r1, &whole, "sent whole");
	r2 = probe(data, size, piece, &split);
	check_verdict(r2, &split, "sent in pieces");
	/* Once the STARTTLS reply is read, what follows is TLS, and whether
	 * it was already buffered (refused as injected) or arrives later (a
	 * failed handshake) depends on timing by nature: both are errors. */
	if (!after_starttls(&whole) && !after_starttls(&split))
		FUZZ_CHECK(r1 == r2 && strcmp(whole.msg, split.msg) == 0,
			   "the verdict depends on the pieces: \"%.100s\" (%d) whole, \"%.100s\" "
			   "(%d) in "
			   "pieces of %zu",
			   whole.msg, r1, split.msg, r2, piece);

	nl = memchr(data, '\n', size);
	first = nl ? (size_t)(nl - data) : size;
	if (first > 1001)
		FUZZ_CHECK(r1 == -EMSGSIZE,
			   "a first line of %zu octets was not refused as too "
			   "long: %s",
			   first, whole.msg);
	{
		bool offered = false;

		for (size_t i = 0; i + 8 <= size && !offered; i++)
			offered = strncasecmp((const char *)data + i, "STARTTLS", 8) == 0;
		if (!offered)
			FUZZ_CHECK(!step_is(&whole, "TLS handshake"),
				   "a handshake without STARTTLS offered: %s", whole.msg);
	}
	return 0;
}
