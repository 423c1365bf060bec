/* SPDX-License-Identifier: MIT */
/* The seeded byte stream: reproducible, seed kept for reports, bounded draws. */
#include "check.h"
#include "shakedown/rng.h"

static void test_seed(void)
{
	struct sd_rng a, b;
	uint8_t x[64], y[64];
	char seed[100];

	/* Same seed, same stream; each call is a new block of it. */
	CHECK_INT(sd_rng_seed(&a, "test"), 0);
	CHECK_INT(sd_rng_seed(&b, "test"), 0);
	CHECK_STR(a.seed, "test");
	CHECK_INT(sd_rng_bytes(&a, x, sizeof(x)), 0);
	CHECK_INT(sd_rng_bytes(&b, y, sizeof(y)), 0);
	CHECK_MEM(x, y, sizeof(x));
	CHECK_INT(sd_rng_bytes(&b, y, sizeof(y)), 0);
	CHECK(memcmp(x, y, sizeof(x)) != 0);
	/* Another seed, another stream; the empty seed is a seed. */
	CHECK_INT(sd_rng_seed(&b, "test2"), 0);
	CHECK_INT(sd_rng_bytes(&b, y, sizeof(y)), 0);
	CHECK(memcmp(x, y, sizeof(x)) != 0);
	CHECK_INT(sd_rng_seed(&b, ""), 0);
	CHECK_STR(b.seed, "");
	/* Zero bytes draw nothing and do not advance the stream. */
	CHECK_INT(sd_rng_seed(&a, "test"), 0);
	CHECK_INT(sd_rng_bytes(&a, NULL, 0), 0);
	CHECK_INT(sd_rng_bytes(&a, y, sizeof(y)), 0);
	CHECK_MEM(x, y, sizeof(x));

	/* The longest seed that the seed field can hold, and one byte more:
	 * a cut copy would print a seed that repeats another stream. */
	memset(seed, 'a', sizeof(seed));
	seed[sizeof(a.seed) - 1] = 0;
	CHECK_INT(sd_rng_seed(&a, seed), 0);
	CHECK_STR(a.seed, seed);
	CHECK_INT(sd_rng_seed(&b, a.seed), 0);
	CHECK_MEM(a.key, b.key, sizeof(a.key));
	seed[sizeof(a.seed) - 1] = 'a';
	seed[sizeof(a.seed)] = 0;
	CHECK_INT(sd_rng_seed(&a, seed), -SD_EVALUE);

	/* A fresh seed is printable and repeats its stream. */
	CHECK_INT(sd_rng_fresh(&a), 0);
	CHECK_INT(strlen(a.seed), 32);
	CHECK_INT(sd_rng_seed(&b, a.seed), 0);
	CHECK_INT(sd_rng_bytes(&a, x, sizeof(x)), 0);
	CHECK_INT(sd_rng_bytes(&b, y, sizeof(y)), 0);
	CHECK_MEM(x, y, sizeof(x));
}

static void test_below(void)
{
	struct sd_rng r;
	unsigned seen[6] = { 0 };
	uint32_t v;

	CHECK_INT(sd_rng_seed(&r, "below"), 0);
	CHECK_INT(sd_rng_below(&r, 0, &v), -SD_EVALUE);
	CHECK_INT(sd_rng_below(&r, 1, &v), 0);
	CHECK_INT(v, 0);
	for (int i = 0; i < 600; i++) {
		v = 99;
		if (sd_rng_below(&r, 6, &v) < 0 || v >= 6) {
			CHECK(!"sd_rng_below out of range");
			return;
		}
		seen[v]++;
	}
	/* Every value turns up (each with probability 1 - (5/6)^600). */
	for (int i = 0; i < 6; i++)
		CHECK(seen[i] > 0);
	CHECK_INT(sd_rng_below(&r, UINT32_MAX, &v), 0);
	CHECK(v < UINT32_MAX);
}

int main(void)
{
	test_seed();
	test_below();
	return check_done();
}
