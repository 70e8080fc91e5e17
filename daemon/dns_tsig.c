/*
 * dns_tsig.c - TSIG (RFC 8945) on DNS wire messages: the algorithm table,
 * signing a message, finding and verifying the TSIG record of a reply, with
 * OpenSSL's HMAC.  Keys and their file are in dns_tsig_key.c; see dns_tsig.h
 * for what this module promises about the secret.
 */
#include "dns_tsig.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "macro.h"

#define TYPE_TSIG 250
#define CLASS_ANY 255

static const struct alg_info {
	const char *name;
	size_t mac_len;
	const EVP_MD *(*md)(void);
} algs[] = {
	[DNS_HMAC_SHA1] = {"hmac-sha1", 20, EVP_sha1},
	[DNS_HMAC_SHA224] = {"hmac-sha224", 28, EVP_sha224},
	[DNS_HMAC_SHA256] = {"hmac-sha256", 32, EVP_sha256},
	[DNS_HMAC_SHA384] = {"hmac-sha384", 48, EVP_sha384},
	[DNS_HMAC_SHA512] = {"hmac-sha512", 64, EVP_sha512},
};

const char *dns_tsig_alg_name(enum dns_tsig_alg alg, size_t *ret_mac_len)
{
	if ((unsigned)alg >= PF_ELEMENTSOF(algs))
		return NULL;
	if (ret_mac_len)
		*ret_mac_len = algs[alg].mac_len;
	return algs[alg].name;
}

int dns_tsig_alg_from_name(const char *s, size_t len)
{
	for (size_t i = 0; i < PF_ELEMENTSOF(algs); i++)
		if (len == strlen(algs[i].name) && strncasecmp(s, algs[i].name, len) == 0)
			return (int)i;
	return -1;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint64_t get48(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 6; i++)
		v = v << 8 | p[i];
	return v;
}

static void put48(uint8_t *p, uint64_t v)
{
	for (int i = 5; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

/*
 * Read the name at *pos, following compression pointers (backwards only,
 * bounded), into out in canonical (lowercase, uncompressed) form.  *pos moves
 * past the name as it appears at *pos.  Returns its length, or 0 when the
 * name is malformed.
 */
static size_t read_name(const uint8_t *w, size_t len, size_t *pos, uint8_t *out)
{
	size_t p = *pos, n = 0, after = 0;
	int jumps = 0;

	for (;;) {
		if (p >= len)
			return 0;
		uint8_t l = w[p];
		if ((l & 0xc0) == 0xc0) {
			if (p + 1 >= len || ++jumps > 64)
				return 0;
			size_t target = (size_t)(l & 0x3f) << 8 | w[p + 1];
			if (!after)
				after = p + 2;
			if (target >= p)
				return 0;
			p = target;
			continue;
		}
		if (l & 0xc0)
			return 0;
		if (p + 1 + l > len || n + 1 + l > PF_DNS_NAME_MAX)
			return 0;
		out[n++] = l;
		for (size_t i = 0; i < l; i++)
			out[n++] = (uint8_t)tolower(w[p + 1 + i]);
		p += 1 + l;
		if (l == 0)
			break;
	}
	*pos = after ? after : p;
	return n;
}

static bool skip_name(const uint8_t *w, size_t len, size_t *pos)
{
	uint8_t tmp[PF_DNS_NAME_BUF];

	return read_name(w, len, pos, tmp) > 0;
}

/* Wire form of an algorithm name ("hmac-sha256." as labels). */
static size_t alg_wire(enum dns_tsig_alg alg, uint8_t *out)
{
	size_t l = strlen(algs[alg].name);

	out[0] = (uint8_t)l;
	memcpy(out + 1, algs[alg].name, l);
	out[l + 1] = 0;
	return l + 2;
}

/*
 * The TSIG input (RFC 8945 section 4.3.3): the request MAC when there is
 * one, the message with the original ID and without the TSIG RR, then the
 * TSIG variables.  Returns it, newly allocated, its length in *ret_len.
 */
static uint8_t *mac_input(const dns_tsig_key *k, const uint8_t *req_mac, size_t req_mac_len,
			  const uint8_t *msg, size_t msg_len, uint16_t orig_id, uint16_t arcount,
			  uint64_t time_signed, uint16_t fudge, uint16_t error,
			  const uint8_t *other, size_t other_len, size_t *ret_len)
{
	size_t cap = 2 + req_mac_len + msg_len + 2 * PF_DNS_NAME_BUF + 16 + other_len, n = 0;
	uint8_t *buf = pf_malloc(cap), aw[32];
	size_t awl = alg_wire(k->alg, aw);

	if (req_mac) {
		put16(buf, (uint16_t)req_mac_len);
		memcpy(buf + 2, req_mac, req_mac_len);
		n = 2 + req_mac_len;
	}
	memcpy(buf + n, msg, msg_len);
	put16(buf + n, orig_id);
	put16(buf + n + 10, arcount);
	n += msg_len;
	memcpy(buf + n, k->name_wire, k->name_wire_len);
	n += k->name_wire_len;
	put16(buf + n, CLASS_ANY);
	memset(buf + n + 2, 0, 4); /* TTL */
	n += 6;
	memcpy(buf + n, aw, awl);
	n += awl;
	put48(buf + n, time_signed);
	put16(buf + n + 6, fudge);
	put16(buf + n + 8, error);
	put16(buf + n + 10, (uint16_t)other_len);
	n += 12;
	if (other_len) {
		memcpy(buf + n, other, other_len);
		n += other_len;
	}
	*ret_len = n;
	return buf;
}

/* The HMAC of input[0..len) with k's secret.  Returns the MAC length, or 0
 * on failure (also for a key without a secret). */
static size_t hmac(const dns_tsig_key *k, const uint8_t *input, size_t len, uint8_t *mac)
{
	unsigned int maclen = 0;

	if (!k->secret ||
	    !HMAC(algs[k->alg].md(), k->secret, (int)k->secret_len, input, len, mac, &maclen))
		return 0;
	return maclen;
}

/* The MAC of a message, from its TSIG input.  Returns the MAC length, or 0
 * on failure. */
static size_t compute_mac(const dns_tsig_key *k, const uint8_t *req_mac, size_t req_mac_len,
			  const uint8_t *msg, size_t msg_len, uint16_t orig_id, uint16_t arcount,
			  uint64_t time_signed, uint16_t fudge, uint16_t error,
			  const uint8_t *other, size_t other_len, uint8_t *mac)
{
	size_t n, maclen;
	uint8_t *buf = mac_input(k, req_mac, req_mac_len, msg, msg_len, orig_id, arcount,
				 time_signed, fudge, error, other, other_len, &n);

	maclen = hmac(k, buf, n, mac);
	free(buf);
	return maclen;
}

bool dns_tsig_mac_matches(const dns_tsig_key *k, const uint8_t *input, size_t len,
			  const uint8_t *mac, size_t mac_len)
{
	uint8_t want[EVP_MAX_MD_SIZE];
	size_t n;
	bool same;

	if (mac_len != k->mac_len || (n = hmac(k, input, len, want)) != mac_len)
		return false;
	same = CRYPTO_memcmp(want, mac, mac_len) == 0;
	explicit_bzero(want, sizeof(want));
	return same;
}

int dns_tsig_sign(const dns_tsig_key *k, uint8_t **wire, size_t *len, int64_t now,
		  const uint8_t *req_mac, size_t req_mac_len, uint16_t error, const uint8_t *other,
		  size_t other_len, uint8_t *ret_mac, size_t *ret_mac_len)
{
	uint8_t mac[EVP_MAX_MD_SIZE], aw[32], *w;
	size_t awl = alg_wire(k->alg, aw), maclen, n = *len;
	uint16_t id, arcount;

	if (n < 12 || other_len > 64)
		return -EINVAL;
	if (k->signer) {
		/* The secret is with the signer, which signs requests only. */
		if (req_mac || error || other_len)
			return -EPERM;
		return k->signer->sign(k->signer->ctx, wire, len, ret_mac ? ret_mac : mac,
				       ret_mac_len ? ret_mac_len : &maclen);
	}
	id = get16(*wire);
	arcount = get16(*wire + 10);
	maclen = compute_mac(k, req_mac, req_mac_len, *wire, n, id, arcount, (uint64_t)now,
			     DNS_TSIG_FUDGE, error, other, other_len, mac);
	if (maclen == 0)
		return -EIO;
	size_t rdlen = awl + 6 + 2 + 2 + maclen + 2 + 2 + 2 + other_len;
	size_t total = n + k->name_wire_len + 10 + rdlen;
	if (total > 65535)
		return -EMSGSIZE;
	w = pf_realloc(*wire, total);
	size_t p = n;
	memcpy(w + p, k->name_wire, k->name_wire_len);
	p += k->name_wire_len;
	put16(w + p, TYPE_TSIG);
	put16(w + p + 2, CLASS_ANY);
	memset(w + p + 4, 0, 4);
	put16(w + p + 8, (uint16_t)rdlen);
	p += 10;
	memcpy(w + p, aw, awl);
	p += awl;
	put48(w + p, (uint64_t)now);
	put16(w + p + 6, DNS_TSIG_FUDGE);
	put16(w + p + 8, (uint16_t)maclen);
	p += 10;
	memcpy(w + p, mac, maclen);
	p += maclen;
	put16(w + p, id);
	put16(w + p + 2, error);
	put16(w + p + 4, (uint16_t)other_len);
	p += 6;
	if (other_len)
		memcpy(w + p, other, other_len);
	put16(w + 10, (uint16_t)(arcount + 1));
	*wire = w;
	*len = total;
	if (ret_mac) {
		memcpy(ret_mac, mac, maclen);
		*ret_mac_len = maclen;
	}
	return 0;
}

void dns_tsig_sign_many(const dns_tsig_key *k, dns_sign_job *jobs, size_t n, int64_t now)
{
	if (k->signer && k->signer->sign_many) {
		for (size_t i = 0; i < n; i++)
			jobs[i].rc = jobs[i].len < 12 ? -EINVAL : 0;
		k->signer->sign_many(k->signer->ctx, jobs, n);
		return;
	}
	for (size_t i = 0; i < n; i++)
		jobs[i].rc = dns_tsig_sign(k, &jobs[i].wire, &jobs[i].len, now, NULL, 0, 0, NULL, 0,
					   jobs[i].mac, &jobs[i].mac_len);
}

int dns_tsig_find(const uint8_t *wire, size_t len, size_t *tsig_at)
{
	uint8_t owner[PF_DNS_NAME_BUF];
	size_t pos = 12, total, at = 0;
	uint16_t counts[4];

	if (len < 12)
		return -1;
	for (int i = 0; i < 4; i++)
		counts[i] = get16(wire + 4 + 2 * i);
	for (unsigned i = 0; i < counts[0]; i++) {
		if (!skip_name(wire, len, &pos) || pos + 4 > len)
			return -1;
		pos += 4;
	}
	total = (size_t)counts[1] + counts[2] + counts[3];
	for (size_t i = 0; i < total; i++) {
		size_t start = pos;
		uint16_t type, rdlen;

		if (read_name(wire, len, &pos, owner) == 0 || pos + 10 > len)
			return -1;
		type = get16(wire + pos);
		rdlen = get16(wire + pos + 8);
		if (pos + 10 + rdlen > len)
			return -1;
		if (type == TYPE_TSIG) {
			/* Only the last record of the additional section may be one. */
			if (i != total - 1 || counts[3] == 0)
				return -1;
			at = start;
		}
		pos += 10 + rdlen;
	}
	if (pos != len)
		return -1;
	*tsig_at = at;
	return at ? 1 : 0;
}

/*
 * Everything of dns_tsig_verify before the MAC is judged: *info filled, and
 * either a verdict other than DNS_TSIG_OK (nothing more to judge) or
 * DNS_TSIG_OK with *input (free it) the octets the MAC covers and *rmac the
 * reply's MAC of the key's length.
 */
static enum dns_tsig_verdict verify_parse(const dns_tsig_key *k, const uint8_t *wire, size_t len,
					  const uint8_t *req_mac, size_t req_mac_len,
					  dns_tsig_info *info, uint8_t **input, size_t *in_len,
					  const uint8_t **rmac)
{
	uint8_t owner[PF_DNS_NAME_BUF], alg[PF_DNS_NAME_BUF], aw[32];
	size_t pos, tsig_at = 0, ownerlen;
	int found;

	memset(info, 0, sizeof(*info));
	*input = NULL;
	found = dns_tsig_find(wire, len, &tsig_at);
	if (found < 0)
		return DNS_TSIG_MALFORMED;
	if (found == 0)
		return DNS_TSIG_ABSENT;

	/* Parse the TSIG RR again, field by field. */
	pos = tsig_at;
	ownerlen = read_name(wire, len, &pos, owner);
	if (get16(wire + pos + 2) != CLASS_ANY)
		return DNS_TSIG_MALFORMED;
	size_t rdend = pos + 10 + get16(wire + pos + 8);
	pos += 10;
	size_t alglen = read_name(wire, rdend, &pos, alg);
	if (alglen == 0 || pos + 10 > rdend)
		return DNS_TSIG_MALFORMED;
	info->present = true;
	info->tsig_offset = tsig_at;
	info->time_signed = get48(wire + pos);
	info->fudge = get16(wire + pos + 6);
	size_t maclen = get16(wire + pos + 8);
	pos += 10;
	if (pos + maclen + 6 > rdend)
		return DNS_TSIG_MALFORMED;
	*rmac = wire + pos;
	pos += maclen;
	info->orig_id = get16(wire + pos);
	info->error = get16(wire + pos + 2);
	size_t other_len = get16(wire + pos + 4);
	pos += 6;
	if (pos + other_len != rdend)
		return DNS_TSIG_MALFORMED;
	const uint8_t *other = wire + pos;
	if (info->error == DNS_TSIG_BADTIME && other_len == 6) {
		info->has_server_time = true;
		info->server_time = get48(other);
	}

	if (ownerlen != k->name_wire_len || memcmp(owner, k->name_wire, ownerlen) != 0)
		return DNS_TSIG_WRONG_KEY;
	size_t awl = alg_wire(k->alg, aw);
	if (alglen != awl || memcmp(alg, aw, awl) != 0)
		return DNS_TSIG_WRONG_ALG;
	/* RFC 8945 5.3.2: BADSIG and BADKEY replies come unsigned. */
	if (maclen == 0 && info->error != 0)
		return DNS_TSIG_UNSIGNED_ERROR;
	/* Truncated MACs (RFC 8945 5.2.2.1) are not accepted: we never ask
	 * for them, so a short one is someone else's doing. */
	if (maclen != k->mac_len)
		return DNS_TSIG_BAD_MAC;
	*input = mac_input(k, req_mac, req_mac_len, wire, tsig_at, info->orig_id,
			   (uint16_t)(get16(wire + 10) - 1), info->time_signed, info->fudge,
			   info->error, other, other_len, in_len);
	return DNS_TSIG_OK;
}

enum dns_tsig_verdict dns_tsig_verify(const dns_tsig_key *k, const uint8_t *wire, size_t len,
				      const uint8_t *req_mac, size_t req_mac_len, int64_t now,
				      dns_tsig_info *info)
{
	uint8_t mac[EVP_MAX_MD_SIZE], *input;
	const uint8_t *rmac = NULL;
	size_t in_len = 0, maclen = k->mac_len;
	enum dns_tsig_verdict v =
		verify_parse(k, wire, len, req_mac, req_mac_len, info, &input, &in_len, &rmac);
	bool good;

	if (v != DNS_TSIG_OK)
		return v;
	if (k->signer) /* the signer says yes or no, never what the MAC is */
		good = k->signer->check(k->signer->ctx, input, in_len, rmac, maclen) == 1;
	else
		good = hmac(k, input, in_len, mac) == maclen &&
		       CRYPTO_memcmp(mac, rmac, maclen) == 0;
	free(input);
	if (!good)
		return DNS_TSIG_BAD_MAC;
	/* The MAC covers the fudge too, but a server's generous fudge does not
	 * widen ours: the window is the smaller of the two. */
	uint64_t window = info->fudge < DNS_TSIG_FUDGE ? info->fudge : DNS_TSIG_FUDGE;
	uint64_t t = (uint64_t)now;
	uint64_t skew = t > info->time_signed ? t - info->time_signed : info->time_signed - t;
	if (skew > window)
		return DNS_TSIG_BAD_TIME;
	return DNS_TSIG_OK;
}

void dns_tsig_check_ahead(const dns_tsig_key *k, const dns_tsig_ahead *items, size_t n)
{
	dns_mac_job *jobs;
	size_t m = 0;

	if (!k->signer || !k->signer->check_ahead || n == 0)
		return;
	jobs = pf_calloc(n, sizeof(*jobs));
	for (size_t i = 0; i < n; i++) {
		dns_tsig_info info;
		const uint8_t *rmac = NULL;

		if (verify_parse(k, items[i].wire, items[i].len, items[i].req_mac,
				 items[i].req_mac_len, &info, &jobs[m].input, &jobs[m].len,
				 &rmac) != DNS_TSIG_OK)
			continue;
		memcpy(jobs[m].mac, rmac, k->mac_len);
		jobs[m].mac_len = k->mac_len;
		m++;
	}
	if (m)
		k->signer->check_ahead(k->signer->ctx, jobs, m);
	for (size_t i = 0; i < m; i++)
		free(jobs[i].input);
	free(jobs);
}

const char *dns_tsig_verdict_str(enum dns_tsig_verdict v)
{
	switch (v) {
	case DNS_TSIG_OK:
		return "TSIG verified";
	case DNS_TSIG_ABSENT:
		return "the reply is not TSIG-signed";
	case DNS_TSIG_MALFORMED:
		return "the reply's TSIG record is malformed or misplaced";
	case DNS_TSIG_WRONG_KEY:
		return "the reply is signed with another TSIG key name";
	case DNS_TSIG_WRONG_ALG:
		return "the reply is signed with another TSIG algorithm";
	case DNS_TSIG_UNSIGNED_ERROR:
		return "the reply carries a TSIG error and no MAC";
	case DNS_TSIG_BAD_MAC:
		return "the reply's TSIG MAC does not verify";
	case DNS_TSIG_BAD_TIME:
		return "the reply's TSIG signing time is outside the fudge";
	}
	return "?";
}

const char *dns_tsig_error_name(uint16_t error)
{
	switch (error) {
	case 0:
		return "NOERROR";
	case DNS_TSIG_BADSIG:
		return "BADSIG";
	case DNS_TSIG_BADKEY:
		return "BADKEY";
	case DNS_TSIG_BADTIME:
		return "BADTIME";
	case DNS_TSIG_BADTRUNC:
		return "BADTRUNC";
	}
	return NULL;
}
