/*
 * test_dns_update.c - the pause dns_update takes before reading an RRset
 * again after another writer won (dns_update_backoff_ms): one table row per
 * failure count with the window it must fall in, the extremes of the random
 * input, and that the pauses of a whole apply stay bounded and spread.
 * The updates themselves are tested against BIND and Knot (dns_*.sh).
 */
#include <stdint.h>

#include "../../daemon/dns_update.h"
#include "t.h"
#include "../../daemon/macro.h"

static const struct bcase {
	unsigned failures;
	unsigned lo, hi; /* the pause must lie in [lo, hi] ms */
} cases[] = {
	{1, 50, 100},    {2, 100, 200},      {3, 200, 400},   {4, 400, 800},
	{5, 800, 1600},  {6, 1000, 2000},    {7, 1000, 2000}, {12, 1000, 2000},
	{0, 1000, 2000}, {1000, 1000, 2000}, /* out of range: the cap, no overflow */
};

/* A small deterministic generator, so the test is reproducible. */
static uint32_t next_rnd(uint32_t *s)
{
	*s = *s * 1664525u + 1013904223u;
	return *s >> 8;
}

int main(void)
{
	uint32_t seed = 12345;

	for (size_t i = 0; i < PF_ELEMENTSOF(cases); i++) {
		const struct bcase *c = &cases[i];
		unsigned lo = dns_update_backoff_ms(c->failures, 0);
		unsigned hi = dns_update_backoff_ms(c->failures, UINT32_MAX);
		unsigned min = UINT32_MAX, max = 0;

		for (int k = 0; k < 2000; k++) {
			unsigned p = dns_update_backoff_ms(c->failures, next_rnd(&seed));
			min = p < min ? p : min;
			max = p > max ? p : max;
		}
		T_CHECK(lo >= c->lo && lo <= c->hi && hi >= c->lo && hi <= c->hi,
			"backoff after failure %u: pauses with random input 0 and UINT32_MAX (%u, "
			"%u) in "
			"[%u, %u] ms",
			c->failures, lo, hi, c->lo, c->hi);
		/* Randomised: 2000 draws cover most of the window, so two writers
		 * that failed together rarely pause alike. */
		T_CHECK(min >= c->lo && max <= c->hi && max - min >= (c->hi - c->lo) * 9 / 10,
			"backoff after failure %u: 2000 random pauses span %u..%u ms of [%u, %u]",
			c->failures, min, max, c->lo, c->hi);
	}
	unsigned total = 0;
	for (unsigned f = 1; f < DNS_UPDATE_MAX_ROUNDS; f++)
		total += dns_update_backoff_ms(f, UINT32_MAX);
	T_CHECK(total <= 20000 && DNS_UPDATE_MAX_ROUNDS >= 6 && DNS_UPDATE_MAX_ROUNDS <= 20,
		"backoff: %u reads at most, pausing %u ms in all at worst", DNS_UPDATE_MAX_ROUNDS,
		total);
	T_DONE();
}
