/*
 * fuzz_control.c - the daemon's control socket server (control.h) on
 * arbitrary requests: any bytes up to the limit and past it, arriving in
 * pieces of any size, then the client's end of the connection.
 *
 * The server runs as the daemon runs it, on an sd-event loop with a real
 * listening Unix socket (in a private temporary directory) and a real
 * client connection; only the handler is the harness's own, and it records
 * what it was asked.  Besides no crash, leak or out-of-bounds access, the
 * properties are:
 *   - the client gets one answer: an "OK" line, or one "ERR CODE MESSAGE"
 *     line with an exit code of SPEC.md 2.3, without control characters -
 *     or, never otherwise, a closed connection with nothing;
 *   - the handler runs at most once, and only for a request that is one:
 *     a line of printable ASCII, shorter than PF_CONTROL_REQUEST_MAX, ended
 *     by a newline; it is given exactly that line's first word and the rest
 *     (so nothing that is not a request can change the daemon's state);
 *   - a request that is not one is answered with ERR 2 (usage);
 *   - whatever arrived, the connection is gone once answered, and the
 *     server holds no client afterwards.
 *
 * The input: the first octet is the size of the pieces it is sent in (0:
 * all at once), the rest is what the client sends.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "../../daemon/control.h"
#include "fuzz.h"

#define FUZZ_MAX_LEN 600 /* past PF_CONTROL_REQUEST_MAX, both ways */

static sd_event *event;
static pf_control *server;
static char sock_dir[64], sock_path[108];

static void remove_socket(void)
{
	unlink(sock_path);
	rmdir(sock_dir);
}

static struct {
	int calls;
	char verb[PF_CONTROL_REQUEST_MAX + 1], arg[PF_CONTROL_REQUEST_MAX + 1];
} seen;

/* The harness's handler: "status" answers a body, "fail" fails with exit
 * 3, anything else is unknown (exit 2), as the daemon's handler does. */
static int handler(void *userdata, const char *verb, const char *arg, FILE *out, pf_err *e)
{
	(void)userdata;
	seen.calls++;
	snprintf(seen.verb, sizeof(seen.verb), "%s", verb);
	snprintf(seen.arg, sizeof(seen.arg), "%s", arg);
	if (strcmp(verb, "status") == 0) {
		fputs("phase: idle\n", out);
		return 0;
	}
	if (strcmp(verb, "fail") == 0)
		return pf_err_refuse(e, "refused as asked");
	pf_err_usage(e, "unknown control request");
	return -EINVAL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	pf_err e = {0};
	int lfd;

	(void)argc;
	(void)argv;
	snprintf(sock_dir, sizeof(sock_dir), "/tmp/fuzz-control-XXXXXX");
	if (!mkdtemp(sock_dir))
		abort();
	snprintf(sock_path, sizeof(sock_path), "%s/control", sock_dir);
	atexit(remove_socket);
	if (sd_event_new(&event) < 0 || (lfd = control_listen(sock_path, &e)) < 0 ||
	    control_server_new(event, lfd, handler, NULL, NULL, &server, &e) < 0) {
		fprintf(stderr, "fuzz_control: set-up failed: %s\n", e.msg);
		abort();
	}
	return 0;
}

/* The expected verdict for request bytes p[0..n) followed by the end. */
static bool is_request(const uint8_t *p, size_t n, size_t *ret_len)
{
	for (size_t i = 0; i < n && i < PF_CONTROL_REQUEST_MAX; i++) {
		if (p[i] == '\n') {
			*ret_len = i;
			return true;
		}
		if (p[i] < 0x20 || p[i] >= 0x7f)
			return false;
	}
	return false;
}

static void turn(int ms)
{
	for (int i = 0; i < 8; i++)
		if (sd_event_run(event, i == 0 ? (uint64_t)ms * 1000 : 0) <= 0)
			break;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char reply[4096];
	size_t piece, sent = 0, got = 0, req_len = 0;
	bool want, eof = false;
	int fd;

	if (size < 1 || !event)
		return 0;
	piece = data[0] ? data[0] : size;
	data++;
	size--;
	memset(&seen, 0, sizeof(seen));
	want = is_request(data, size, &req_len);

	/* A client as pftls-roll is one: the server sees our uid (root or
	 * its own), so the request is read. */
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		FUZZ_CHECK(0, "cannot connect to the control socket: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return 0;
	}
	/* Send in pieces, the loop turning between them, then end. */
	while (sent < size && !eof) {
		size_t n = size - sent < piece ? size - sent : piece;
		ssize_t w = send(fd, data + sent, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EAGAIN) {
			turn(10);
			continue;
		}
		if (w < 0)
			break; /* the server answered and closed early: fine */
		sent += (size_t)w;
		turn(0);
	}
	shutdown(fd, SHUT_WR);
	/* Read the answer until the server closes. */
	for (int i = 0; i < 200 && !eof; i++) {
		ssize_t r = recv(fd, reply + got, sizeof(reply) - 1 - got, 0);

		if (r > 0) {
			got += (size_t)r;
			if (got == sizeof(reply) - 1)
				break;
			continue;
		}
		if (r == 0 || (r < 0 && errno != EAGAIN)) {
			eof = true;
			break;
		}
		turn(10);
	}
	close(fd);
	turn(0);
	reply[got] = '\0';

	FUZZ_CHECK(eof, "the server did not close the connection after %zu octets of answer", got);
	FUZZ_CHECK(got > 0, "closed without an answer (%zu of %zu octets sent)", sent, size);
	FUZZ_CHECK(seen.calls <= 1, "the handler ran %d times for one connection", seen.calls);
	if (want) {
		char line[PF_CONTROL_REQUEST_MAX + 1];
		const char *sp;

		memcpy(line, data, req_len);
		line[req_len] = '\0';
		sp = strchr(line, ' ');
		FUZZ_CHECK(seen.calls == 1, "a request line \"%.60s\" did not reach the handler",
			   line);
		if (sp)
			FUZZ_CHECK(strncmp(seen.verb, line, (size_t)(sp - line)) == 0 &&
					   seen.verb[sp - line] == '\0' &&
					   strcmp(seen.arg, sp + 1) == 0,
				   "\"%.60s\" reached the handler as \"%s\" \"%s\"", line,
				   seen.verb, seen.arg);
		else
			FUZZ_CHECK(strcmp(seen.verb, line) == 0 && seen.arg[0] == '\0',
				   "\"%.60s\" reached the handler as \"%s\" \"%s\"", line,
				   seen.verb, seen.arg);
	} else {
		FUZZ_CHECK(seen.calls == 0, "not a request, yet the handler ran with \"%.60s\"",
			   seen.verb);
		FUZZ_CHECK(strncmp(reply, "ERR 2 ", 6) == 0, "not a request, answered \"%.60s\"",
			   reply);
	}
	{
		const char *nl = strchr(reply, '\n');
		int code = -1;

		FUZZ_CHECK(nl != NULL, "the answer \"%.60s\" is not a line", reply);
		if (!nl)
			return 0;
		if (strncmp(reply, "OK\n", 3) != 0) {
			FUZZ_CHECK(sscanf(reply, "ERR %d ", &code) == 1 && code >= 1 && code <= 3,
				   "the answer \"%.60s\" is neither OK nor ERR 1-3", reply);
			for (const char *c = reply; c < nl; c++)
				FUZZ_CHECK((unsigned char)*c >= 0x20 && *c != 0x7f,
					   "control character 0x%02x in the answer",
					   (unsigned char)*c);
		} else {
			FUZZ_CHECK(want && strcmp(seen.verb, "status") == 0,
				   "OK for something that is not a status request");
		}
	}
	return 0;
}
