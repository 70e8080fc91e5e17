/*
 * fuzz_pem_key.c - keystore_load_key on arbitrary file contents.
 *
 * keystore_load_key reads a path, so each input is written to one memfd
 * (memory only, never the disk) and loaded as /proc/self/fd/N.  Besides no
 * crash, leak or out-of-bounds access, the properties checked are:
 *   - a refused file gets one line naming the file, exit code 1, and no key;
 *   - no message quotes the file's content: it never holds a run of 20 or
 *     more base64 characters (a piece of a PEM body: key material);
 *   - an accepted key is RSA or EC and its public half can be derived, as
 *     every later step (TLSA records, deploy checks) needs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../daemon/keystore.h"
#include "fuzz.h"

#define FUZZ_MAX_LEN 8192

static int memfd = -1;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	memfd = memfd_create("fuzz-pem-key", MFD_CLOEXEC);
	if (memfd < 0)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	return 0;
}

/* Length of the longest run of base64 alphabet characters in s. */
static size_t longest_base64_run(const char *s)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				       "0123456789+/=";
	size_t best = 0, run = 0;

	for (; *s; s++) {
		run = strchr(alphabet, *s) ? run + 1 : 0;
		if (run > best)
			best = run;
	}
	return best;
}

static void put_input(const uint8_t *data, size_t size)
{
	const uint8_t *p = data;
	size_t left = size;

	if (ftruncate(memfd, 0) < 0 || lseek(memfd, 0, SEEK_SET) < 0)
		abort();
	while (left > 0) {
		ssize_t n = write(memfd, p, left);

		if (n <= 0)
			abort();
		p += n;
		left -= (size_t)n;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	EVP_PKEY *key = NULL;
	pf_pubkey pk = {0};
	pf_err e = {0};
	int r;

	if (memfd < 0)
		LLVMFuzzerInitialize(NULL, NULL);
	put_input(data, size);
	r = keystore_load_key(path, &key, &e);
	if (r < 0) {
		FUZZ_CHECK(key == NULL, "a key was returned with an error");
		FUZZ_CHECK(e.exit_code == PF_EXIT_FAIL, "exit code %d, expected 1 (%s)",
			   e.exit_code, e.msg);
		FUZZ_CHECK(strstr(e.msg, path) != NULL, "message does not name the file: %s",
			   e.msg);
		FUZZ_CHECK(!strchr(e.msg, '\n'), "message is not one line: %s", e.msg);
		FUZZ_CHECK(longest_base64_run(e.msg) < 20, "message may quote key material: %.200s",
			   e.msg);
		return 0;
	}
	FUZZ_CHECK(r == 0 && key != NULL, "success without a key (r=%d)", r);
	if (!key)
		return 0;
	FUZZ_CHECK(EVP_PKEY_is_a(key, "RSA") || EVP_PKEY_is_a(key, "EC"),
		   "accepted a key that is neither RSA nor EC: %s", EVP_PKEY_get0_type_name(key));
	r = keystore_pubkey_of_key(key, &pk, &e);
	FUZZ_CHECK(r == 0, "accepted key has no usable public half: %s", e.msg);
	if (r == 0) {
		FUZZ_CHECK(pk.spki_len > 0 && strlen(pk.spki_sha256) == 64,
			   "public half without SPKI or digest");
		FUZZ_CHECK(pk.alg == (EVP_PKEY_is_a(key, "EC") ? PF_ALG_ECDSA : PF_ALG_RSA),
			   "algorithm of the public half differs from the key's");
		pf_pubkey_free(&pk);
	}
	EVP_PKEY_free(key);
	return 0;
}
