/* SPDX-License-Identifier: MIT */
/* Key shares: sizes per group, determinism, and EC scalars for every curve. */
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include "check.h"
#include "shakedown/keyshare.h"
#include "shakedown/rng.h"
#include "shakedown/tls.h"

static struct sd_kex_priv priv;

static void test_sizes(void)
{
	static const uint16_t groups[] = {
		SD_GROUP_SECP256R1, SD_GROUP_SECP384R1, SD_GROUP_SECP521R1, SD_GROUP_X25519,
		SD_GROUP_MLKEM512, SD_GROUP_MLKEM768, SD_GROUP_MLKEM1024,
		SD_GROUP_SECP256R1MLKEM768, SD_GROUP_X25519MLKEM768,
		SD_GROUP_SECP384R1MLKEM1024, SD_GROUP_X25519KYBER768D00,
	};
	struct sd_buf b = SD_BUF_INIT;
	struct sd_rng rng;

	CHECK_INT(sd_rng_seed(&rng, "test"), 0);
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		sd_buf_reset(&b);
		CHECK_INT(sd_keyshare_make(groups[i], &rng, &b, &priv), 0);
		CHECK_INT(b.len, sd_tls_group_client_share_len(groups[i]));
		CHECK_INT(priv.group, groups[i]);
		/* Without priv too. */
		sd_buf_reset(&b);
		CHECK_INT(sd_keyshare_make(groups[i], &rng, &b, NULL), 0);
		CHECK_INT(b.len, sd_tls_group_client_share_len(groups[i]));
	}
	/* RFC 8701 §3: a GREASE share is one byte. */
	sd_buf_reset(&b);
	CHECK_INT(sd_keyshare_make(0x5a5a, &rng, &b, &priv), 0);
	CHECK_INT(b.len, 1);
	CHECK_INT(priv.ecdh_len, 0);
	/* Groups without key generation here. */
	sd_buf_reset(&b);
	CHECK_INT(sd_keyshare_make(SD_GROUP_X448, &rng, &b, &priv), -SD_EUNKNOWN);
	CHECK_INT(sd_keyshare_make(SD_GROUP_FFDHE2048, &rng, &b, &priv), -SD_EUNKNOWN);
	CHECK_INT(sd_keyshare_make(0x1234, &rng, &b, &priv), -SD_EUNKNOWN);
	CHECK_INT(b.len, 0);
	sd_kex_priv_clear(&priv);
	CHECK_INT(priv.ecdh_len, 0);
	sd_buf_free(&b);
}

/* The share is k·G for the kept k, 0 < k < n, for many seeds: the scalar
 * draw must not give up on a curve whose order is shorter than its bytes. */
static void check_curve(uint16_t group, int nid, size_t flen)
{
	EC_GROUP *g = EC_GROUP_new_by_curve_name(nid);
	EC_POINT *p = g ? EC_POINT_new(g) : NULL, *q = g ? EC_POINT_new(g) : NULL;
	BN_CTX *bn = BN_CTX_new();
	struct sd_buf b = SD_BUF_INIT;
	int ok = 0;

	CHECK(g && p && q && bn);
	if (!g || !p || !q || !bn)
		goto out;
	for (int i = 0; i < 64; i++) {
		struct sd_rng rng;
		char seed[16];
		BIGNUM *k;

		snprintf(seed, sizeof(seed), "%d", i);
		if (sd_rng_seed(&rng, seed) < 0)
			break;
		sd_buf_reset(&b);
		if (sd_keyshare_make(group, &rng, &b, &priv) < 0)
			continue;
		k = BN_bin2bn(priv.ecdh, (int)priv.ecdh_len, NULL);
		if (b.len == 2 * flen + 1 && priv.ecdh_len == flen && k && !BN_is_zero(k) &&
		    BN_cmp(k, EC_GROUP_get0_order(g)) < 0 &&
		    EC_POINT_oct2point(g, p, b.data, b.len, bn) == 1 &&
		    EC_POINT_mul(g, q, k, NULL, NULL, bn) == 1 &&
		    EC_POINT_cmp(g, p, q, bn) == 0)
			ok++;
		BN_free(k);
	}
	CHECK_INT(ok, 64);
out:
	sd_kex_priv_clear(&priv);
	sd_buf_free(&b);
	EC_POINT_free(p);
	EC_POINT_free(q);
	EC_GROUP_free(g);
	BN_CTX_free(bn);
}

static void test_determinism(void)
{
	struct sd_buf a = SD_BUF_INIT, b = SD_BUF_INIT;
	struct sd_rng r1, r2;

	CHECK_INT(sd_rng_seed(&r1, "same"), 0);
	CHECK_INT(sd_rng_seed(&r2, "same"), 0);
	CHECK_INT(sd_keyshare_make(SD_GROUP_X25519MLKEM768, &r1, &a, NULL), 0);
	CHECK_INT(sd_keyshare_make(SD_GROUP_X25519MLKEM768, &r2, &b, NULL), 0);
	CHECK_INT(a.len, b.len);
	if (a.len == b.len)
		CHECK_MEM(a.data, b.data, a.len);
	/* The next draw from the same stream is another key. */
	sd_buf_reset(&b);
	CHECK_INT(sd_keyshare_make(SD_GROUP_X25519MLKEM768, &r2, &b, NULL), 0);
	CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) != 0);
	sd_buf_free(&a);
	sd_buf_free(&b);
}

int main(void)
{
	test_sizes();
	check_curve(SD_GROUP_SECP256R1, NID_X9_62_prime256v1, 32);
	check_curve(SD_GROUP_SECP384R1, NID_secp384r1, 48);
	check_curve(SD_GROUP_SECP521R1, NID_secp521r1, 66);
	test_determinism();
	return check_done();
}
