/*
 * test_probe.c - the STARTTLS probe against a scripted SMTP peer in a child
 * process: DANE match and mismatch, key choice by algorithm, and the ways a
 * server can misbehave (no STARTTLS, refusal, silence, garbage, bytes
 * trickled into the greeting or the TLS handshake to outlast the deadline).  The probe
 * against a real Postfix is covered by the rollover integration tests.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "../../daemon/keystore.h"
#include "../../daemon/macro.h"
#include "../../daemon/smtp_probe.h"
#include "../../daemon/tlsa.h"
#include "t.h"

enum behaviour {
	GOOD,
	NO_STARTTLS,
	REFUSE,
	SILENT,
	GARBAGE,
	LONG_GREETING,
	MULTILINE,
	TRICKLE_GREETING,
	TRICKLE_TLS
};

/* A trickling server's pace: each byte well inside any per-read timeout. */
#define TRICKLE_USEC (700 * 1000)

/* Send s one byte at a time, TRICKLE_USEC apart, until the peer goes. */
static void trickle(int fd, const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (write(fd, s + i, 1) != 1)
			_exit(0);
		usleep(TRICKLE_USEC);
	}
}

typedef struct server {
	EVP_PKEY *rsa, *ec;
	X509 *rsa_cert, *ec_cert;
} server;

static void say(int fd, const char *s)
{
	(void)!write(fd, s, strlen(s));
}

static void expect_line(int fd)
{
	char c;
	while (read(fd, &c, 1) == 1 && c != '\n')
		;
}

static void serve(int lfd, const server *s, enum behaviour b)
{
	int fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		_exit(1);
	switch (b) {
	case SILENT:
		sleep(5);
		_exit(0);
	case GARBAGE:
		say(fd, "hello there\r\n");
		_exit(0);
	case REFUSE:
		say(fd, "554 go away\r\n");
		_exit(0);
	case LONG_GREETING: {
		/* 1,002 octets with its CRLF, in one write: over RFC 5321's 1,000
		 * whether the probe reads it at once or in pieces (fuzz_smtp_reply
		 * found the whole line accepted, the same in pieces refused). */
		char line[1003];

		memcpy(line, "220 ", 4);
		memset(line + 4, 'x', 996);
		memcpy(line + 1000, "\r\n", 3);
		say(fd, line);
		expect_line(fd);
		_exit(0);
	}
	case MULTILINE:
		say(fd, "220-first line\r\n220-second line\r\n220 ready\r\n");
		break;
	case TRICKLE_GREETING:
		trickle(fd, (const unsigned char *)"220 a greeting that never ends", 30);
		_exit(0);
	default:
		say(fd, "220 test ESMTP\r\n");
	}
	expect_line(fd);
	if (b == NO_STARTTLS) {
		say(fd, "250-test\r\n250 PIPELINING\r\n");
		expect_line(fd);
		_exit(0);
	}
	say(fd, "250-test\r\n250-PIPELINING\r\n250 STARTTLS\r\n");
	expect_line(fd);
	say(fd, "220 go ahead\r\n");
	if (b == TRICKLE_TLS) {
		/* The start of a ServerHello record, one byte at a time: each
		 * read the client makes gets a byte before any socket timeout. */
		static const unsigned char hello[] = {0x16, 0x03, 0x03, 0x00, 0x7a, 0x02, 0x00,
						      0x00, 0x76, 0x03, 0x03, 0x11, 0x22, 0x33,
						      0x44, 0x55, 0x66, 0x77, 0x88, 0x99};

		unsigned char client_hello[512];

		if (read(fd, client_hello, sizeof(client_hello)) <= 0)
			_exit(1);
		trickle(fd, hello, sizeof(hello));
		_exit(0);
	}
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX_use_certificate(ctx, s->rsa_cert);
	SSL_CTX_use_PrivateKey(ctx, s->rsa);
	if (s->ec) {
		SSL_CTX_use_certificate(ctx, s->ec_cert);
		SSL_CTX_use_PrivateKey(ctx, s->ec);
	}
	SSL *ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	SSL_accept(ssl);
	SSL_shutdown(ssl);
	_exit(0);
}

/* Start a one-connection server; returns its pid and port. */
static pid_t start(const server *s, enum behaviour b, uint16_t *port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	pid_t pid;

	bind(lfd, (struct sockaddr *)&sin, sizeof(sin));
	listen(lfd, 1);
	getsockname(lfd, (struct sockaddr *)&sin, &len);
	*port = ntohs(sin.sin_port);
	pid = fork();
	if (pid == 0) {
		alarm(10);
		serve(lfd, s, b);
	}
	close(lfd);
	return pid;
}

static void finish(pid_t pid)
{
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

static void make_key(pf_keyspec spec, EVP_PKEY **key, X509 **cert)
{
	pf_strv names = {0};
	pf_err e;

	pf_strv_push(&names, "mx.example.test");
	if (keystore_generate(&spec, key, &e) < 0 ||
	    keystore_self_signed(*key, &names, cert, &e) < 0)
		abort();
	pf_strv_clear(&names);
}

static void record_for(EVP_PKEY *key, pf_tlsa_rdata *rd)
{
	pf_pubkey pk;
	pf_tlsa_param p = {3, 1, 1};
	pf_err e;

	keystore_pubkey_of_key(key, &pk, &e);
	tlsa_compute(&p, pk.spki, pk.spki_len, NULL, 0, rd, &e);
	pf_pubkey_free(&pk);
}

int main(void)
{
	server s = {0}, other = {0};
	pf_tlsa_rdata rsa_rec, ec_rec, other_rec;
	pf_pubkey rsa_pk, ec_pk;
	pf_hostport ep = {"127.0.0.1", 0};
	pf_probe_result res;
	pf_err e;
	pid_t pid;

	signal(SIGPIPE, SIG_IGN);
	make_key((pf_keyspec){PF_ALG_RSA, 2048, NULL}, &s.rsa, &s.rsa_cert);
	make_key((pf_keyspec){PF_ALG_ECDSA, 0, "secp256r1"}, &s.ec, &s.ec_cert);
	make_key((pf_keyspec){PF_ALG_RSA, 2048, NULL}, &other.rsa, &other.rsa_cert);
	record_for(s.rsa, &rsa_rec);
	record_for(s.ec, &ec_rec);
	record_for(other.rsa, &other_rec);
	keystore_pubkey_of_key(s.rsa, &rsa_pk, &e);
	keystore_pubkey_of_key(s.ec, &ec_pk, &e);

	pf_tlsa_rdata both[] = {rsa_rec, ec_rec};
	pid = start(&s, GOOD, &ep.port);
	memset(&e, 0, sizeof(e));
	T_CHECK(smtp_probe(&ep, "mx.example.test", both, 2, PF_PROBE_RSA, 3000, &res, &e) == 0,
		"RSA probe completes: %s", e.msg);
	T_STREQ(res.spki_sha256, rsa_pk.spki_sha256, "RSA key presented when RSA is asked for");
	T_CHECK(res.dane_checked && res.dane_ok && res.dane_depth == 0, "RSA key DANE-validates");
	{
		/* The presented chain comes back whole, as DER. */
		unsigned char *der = NULL;
		int n = i2d_X509(s.rsa_cert, &der);

		T_CHECK(res.chain_len == 1 && n > 0 && res.chain_der_len == (size_t)n &&
				memcmp(res.chain_der, der, (size_t)n) == 0,
			"the presented chain is carried: %d certificate, %zu octets", res.chain_len,
			res.chain_der_len);
		OPENSSL_free(der);
	}
	finish(pid);

	/* RFC 7672 3.1.1: a DANE-EE match does not look at the names (the
	 * certificate names mx.example.test; OpenSSL checks names unless
	 * told not to, and this failed with "hostname mismatch"). */
	pid = start(&s, GOOD, &ep.port);
	T_CHECK(smtp_probe(&ep, "other.example.test", both, 2, PF_PROBE_RSA, 3000, &res, &e) == 0,
		"probe for another TLSA host name completes: %s", e.msg);
	T_CHECK(res.dane_checked && res.dane_ok,
		"DANE-EE validates whatever names the certificate carries (%s)", res.verify_error);
	finish(pid);

	pid = start(&s, GOOD, &ep.port);
	T_CHECK(smtp_probe(&ep, "mx.example.test", both, 2, PF_PROBE_ECDSA, 3000, &res, &e) == 0,
		"ECDSA probe completes: %s", e.msg);
	T_STREQ(res.spki_sha256, ec_pk.spki_sha256, "ECDSA key presented when ECDSA is asked for");
	T_CHECK(res.dane_ok, "ECDSA key DANE-validates");
	finish(pid);

	pid = start(&s, MULTILINE, &ep.port);
	T_CHECK(smtp_probe(&ep, "mx.example.test", &other_rec, 1, PF_PROBE_RSA, 3000, &res, &e) ==
			0,
		"multi-line greeting handled: %s", e.msg);
	T_CHECK(res.dane_checked && !res.dane_ok && res.verify_error[0],
		"record of another key does not validate (%s)", res.verify_error);
	T_STREQ(res.spki_sha256, rsa_pk.spki_sha256, "mismatch still reports the presented key");
	finish(pid);

	pid = start(&s, GOOD, &ep.port);
	T_CHECK(smtp_probe(&ep, "mx.example.test", NULL, 0, PF_PROBE_ANY, 3000, &res, &e) == 0 &&
			!res.dane_checked && res.spki_sha256[0],
		"probe without records reports the key only");
	finish(pid);

	static const struct {
		enum behaviour b;
		const char *want;
	} bad[] = {
		{NO_STARTTLS, "STARTTLS is not offered"},
		{REFUSE, "greeting refused: \"554 go away\""},
		{SILENT, "greeting: timed out"},
		{GARBAGE, "malformed SMTP reply"},
		{LONG_GREETING, "greeting: Message too long"},
	};
	for (size_t i = 0; i < PF_ELEMENTSOF(bad); i++) {
		memset(&e, 0, sizeof(e));
		pid = start(&s, bad[i].b, &ep.port);
		T_CHECK(smtp_probe(&ep, "mx.example.test", &rsa_rec, 1, PF_PROBE_ANY, 700, &res,
				   &e) < 0 &&
				strstr(e.msg, bad[i].want) && strstr(e.msg, "127.0.0.1:"),
			"misbehaving server reported: %s", e.msg);
		finish(pid);
	}
	/* A server trickling bytes must not stretch the exchange past its
	 * deadline: 2 s, whatever the pace (the old per-read socket timeouts
	 * let a byte every 0.7 s hold the TLS handshake until the server's own
	 * 10 s alarm). */
	static const struct {
		enum behaviour b;
		const char *want;
	} slow[] = {
		{TRICKLE_GREETING, "greeting: timed out"},
		{TRICKLE_TLS, "TLS handshake: timed out"},
	};
	for (size_t i = 0; i < PF_ELEMENTSOF(slow); i++) {
		uint64_t t0, ms;
		int r;

		memset(&e, 0, sizeof(e));
		pid = start(&s, slow[i].b, &ep.port);
		t0 = pf_mono_usec();
		r = smtp_probe(&ep, "mx.example.test", &rsa_rec, 1, PF_PROBE_ANY, 2000, &res, &e);
		ms = (pf_mono_usec() - t0) / 1000;
		T_CHECK(r < 0 && strstr(e.msg, slow[i].want) && ms >= 1900 && ms < 3000,
			"trickling server given up on at the 2 s deadline (%llu ms): %s",
			(unsigned long long)ms, e.msg);
		finish(pid);
	}
	{
		/* Nothing listens on this port: a refused connection. */
		uint16_t port;
		pid = start(&s, GOOD, &port);
		finish(pid);
		pf_hostport closed = {"127.0.0.1", port};
		T_CHECK(smtp_probe(&closed, "mx.example.test", NULL, 0, PF_PROBE_ANY, 700, &res,
				   &e) < 0 &&
				strstr(e.msg, "cannot connect"),
			"closed port reported: %s", e.msg);
	}
	pf_pubkey_free(&rsa_pk);
	pf_pubkey_free(&ec_pk);
	EVP_PKEY_free(s.rsa);
	EVP_PKEY_free(s.ec);
	EVP_PKEY_free(other.rsa);
	X509_free(s.rsa_cert);
	X509_free(s.ec_cert);
	X509_free(other.rsa_cert);
	T_DONE();
}
