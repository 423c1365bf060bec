/* SPDX-License-Identifier: MIT */
/* Seeded SHAKE256 byte stream for reproducible ClientHellos. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/evp.h>

#include "shakedown/rng.h"

static int shake(const void *a, size_t alen, const void *b, size_t blen,
		 void *out, size_t n, const char *alg)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ret = -SD_ECRYPTO;

	if (!ctx)
		return -ENOMEM;
	if (EVP_DigestInit_ex(ctx, EVP_get_digestbyname(alg), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, a, alen) != 1 ||
	    (blen && EVP_DigestUpdate(ctx, b, blen) != 1))
		goto out;
	if (strcmp(alg, "SHAKE256") == 0) {
		if (EVP_DigestFinalXOF(ctx, out, n) != 1)
			goto out;
	} else if (EVP_DigestFinal_ex(ctx, out, NULL) != 1) {
		goto out;
	}
	ret = 0;
out:
	EVP_MD_CTX_free(ctx);
	return ret;
}

int sd_rng_seed(struct sd_rng *r, const char *seed)
{
	static const char label[] = "shakedown rng v1";
	size_t n = strlen(seed);

	memset(r, 0, sizeof(*r));
	/* r->seed is what reports print to repeat a run; a cut copy would
	 * name another stream. */
	if (n >= sizeof(r->seed))
		return -SD_EVALUE;
	memcpy(r->seed, seed, n + 1);
	return shake(label, sizeof(label), seed, n, r->key, sizeof(r->key), "SHA3-256");
}

int sd_rng_fresh(struct sd_rng *r)
{
	uint8_t b[16];
	char hex[33];

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return -errno;
	for (size_t i = 0; i < sizeof(b); i++)
		snprintf(hex + 2 * i, 3, "%02x", b[i]);
	return sd_rng_seed(r, hex);
}

int sd_rng_bytes(struct sd_rng *r, void *out, size_t n)
{
	uint8_t ctr[8];

	if (n == 0)
		return 0;
	for (int i = 0; i < 8; i++)
		ctr[i] = (uint8_t)(r->counter >> (56 - 8 * i));
	r->counter++;
	return shake(r->key, sizeof(r->key), ctr, sizeof(ctr), out, n, "SHAKE256");
}

int sd_rng_below(struct sd_rng *r, uint32_t bound, uint32_t *v)
{
	uint32_t x, lim;
	int ret;

	if (bound == 0)
		return -SD_EVALUE;
	/* Rejection keeps it uniform: drop values in the short last cycle. */
	lim = UINT32_MAX - UINT32_MAX % bound;
	do {
		uint8_t b[4];

		if ((ret = sd_rng_bytes(r, b, sizeof(b))) < 0)
			return ret;
		x = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	} while (x >= lim);
	*v = x % bound;
	return 0;
}
