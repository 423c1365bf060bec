/* SPDX-License-Identifier: MIT */
/* Key shares: ECDH from OpenSSL EVP, ML-KEM from mlkem.c, hybrids laid out per draft. */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>

#include "shakedown/keyshare.h"
#include "shakedown/tls.h"

static int x25519_share(struct sd_rng *rng, struct sd_buf *out, uint8_t *priv)
{
	EVP_PKEY *pk = NULL;
	uint8_t sk[32], pub[32];
	size_t publen = sizeof(pub);
	int ret;

	if ((ret = sd_rng_bytes(rng, sk, sizeof(sk))) < 0)
		return ret;
	ret = -SD_ECRYPTO;
	/* RFC 7748 §5: any 32 bytes are a scalar; clamping happens inside. */
	pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, sk, sizeof(sk));
	if (!pk || EVP_PKEY_get_raw_public_key(pk, pub, &publen) != 1 || publen != 32)
		goto out;
	sd_buf_put(out, pub, publen);
	if (priv)
		memcpy(priv, sk, sizeof(sk));
	ret = sd_buf_error(out);
out:
	EVP_PKEY_free(pk);
	OPENSSL_cleanse(sk, sizeof(sk));
	return ret;
}

/* An uncompressed SEC1 point k·G (RFC 8446 §4.2.8.2) with k drawn from rng
 * by rejection until 0 < k < n. The bits of the top byte above the order's
 * length are cleared first: P-521's order has 521 bits in 66 bytes, and
 * without the mask 127 of 128 draws would be rejected, so 64 tries failed
 * for about half of all seeds. P-256 and P-384 fill their bytes exactly and
 * draw the same scalars as before. */
static int ec_share(int nid, size_t flen, struct sd_rng *rng, struct sd_buf *out,
		    uint8_t *priv)
{
	EC_GROUP *g = EC_GROUP_new_by_curve_name(nid);
	EC_POINT *p = NULL;
	BIGNUM *k = NULL;
	BN_CTX *bn = BN_CTX_new();
	uint8_t sk[66], pub[133];
	size_t publen;
	int excess, ret = -SD_ECRYPTO;

	if (!g || !bn || !(p = EC_POINT_new(g)) || !(k = BN_new()))
		goto out;
	excess = 8 * (int)flen - EC_GROUP_order_bits(g);
	if (excess < 0 || excess > 7)
		goto out;
	for (int tries = 0;; tries++) {
		if (tries == 64)
			goto out;
		if ((ret = sd_rng_bytes(rng, sk, flen)) < 0)
			goto out;
		sk[0] &= (uint8_t)(0xff >> excess);
		ret = -SD_ECRYPTO;
		if (!BN_bin2bn(sk, (int)flen, k))
			goto out;
		if (!BN_is_zero(k) && BN_cmp(k, EC_GROUP_get0_order(g)) < 0)
			break;
	}
	if (EC_POINT_mul(g, p, k, NULL, NULL, bn) != 1)
		goto out;
	publen = EC_POINT_point2oct(g, p, POINT_CONVERSION_UNCOMPRESSED, pub,
				    sizeof(pub), bn);
	if (publen != 2 * flen + 1)
		goto out;
	sd_buf_put(out, pub, publen);
	if (priv)
		memcpy(priv, sk, flen);
	ret = sd_buf_error(out);
out:
	OPENSSL_cleanse(sk, sizeof(sk));
	BN_clear_free(k);
	EC_POINT_free(p);
	EC_GROUP_free(g);
	BN_CTX_free(bn);
	return ret;
}

static int mlkem_share(enum sd_mlkem_param param, enum sd_mlkem_variant var,
		       struct sd_rng *rng, struct sd_buf *out, struct sd_kex_priv *priv)
{
	uint8_t dz[64], ek[SD_MLKEM_EK_MAX];
	uint8_t *dk = priv ? priv->mlkem_dk : NULL;
	uint8_t scratch[SD_MLKEM_DK_MAX];
	int ret;

	if ((ret = sd_rng_bytes(rng, dz, sizeof(dz))) < 0)
		return ret;
	ret = sd_mlkem_keygen(param, var, dz, dz + 32, ek, dk ? dk : scratch);
	OPENSSL_cleanse(dz, sizeof(dz));
	OPENSSL_cleanse(scratch, sizeof(scratch));
	if (ret < 0)
		return ret;
	if (priv)
		priv->mlkem_dk_len = sd_mlkem_dk_len(param);
	sd_buf_put(out, ek, sd_mlkem_ek_len(param));
	return sd_buf_error(out);
}

int sd_keyshare_make(uint16_t group, struct sd_rng *rng, struct sd_buf *out,
		     struct sd_kex_priv *priv)
{
	uint8_t *ecdh = priv ? priv->ecdh : NULL;
	int ret;

	if (priv) {
		memset(priv, 0, sizeof(*priv));
		priv->group = group;
	}
	if (sd_tls_is_grease(group)) {
		sd_buf_u8(out, 0);
		return sd_buf_error(out);
	}
	switch (group) {
	case SD_GROUP_X25519:
		ret = x25519_share(rng, out, ecdh);
		if (priv)
			priv->ecdh_len = 32;
		return ret;
	case SD_GROUP_SECP256R1:
		if (priv)
			priv->ecdh_len = 32;
		return ec_share(NID_X9_62_prime256v1, 32, rng, out, ecdh);
	case SD_GROUP_SECP384R1:
		if (priv)
			priv->ecdh_len = 48;
		return ec_share(NID_secp384r1, 48, rng, out, ecdh);
	case SD_GROUP_SECP521R1:
		if (priv)
			priv->ecdh_len = 66;
		return ec_share(NID_secp521r1, 66, rng, out, ecdh);
	case SD_GROUP_MLKEM512:
		return mlkem_share(SD_MLKEM512, SD_MLKEM_FINAL, rng, out, priv);
	case SD_GROUP_MLKEM768:
		return mlkem_share(SD_MLKEM768, SD_MLKEM_FINAL, rng, out, priv);
	case SD_GROUP_MLKEM1024:
		return mlkem_share(SD_MLKEM1024, SD_MLKEM_FINAL, rng, out, priv);
	case SD_GROUP_X25519MLKEM768:
		/* draft-ietf-tls-ecdhe-mlkem §4.1: the ML-KEM encapsulation key
		 * comes first, then the X25519 share (1184 + 32). */
		if ((ret = mlkem_share(SD_MLKEM768, SD_MLKEM_FINAL, rng, out, priv)) < 0)
			return ret;
		if (priv)
			priv->ecdh_len = 32;
		return x25519_share(rng, out, ecdh);
	case SD_GROUP_SECP256R1MLKEM768:
		/* ECDH part first for the NIST-curve hybrids (65 + 1184). */
		if (priv)
			priv->ecdh_len = 32;
		if ((ret = ec_share(NID_X9_62_prime256v1, 32, rng, out, ecdh)) < 0)
			return ret;
		return mlkem_share(SD_MLKEM768, SD_MLKEM_FINAL, rng, out, priv);
	case SD_GROUP_SECP384R1MLKEM1024:
		if (priv)
			priv->ecdh_len = 48;
		if ((ret = ec_share(NID_secp384r1, 48, rng, out, ecdh)) < 0)
			return ret;
		return mlkem_share(SD_MLKEM1024, SD_MLKEM_FINAL, rng, out, priv);
	case SD_GROUP_X25519KYBER768D00:
		/* draft-tls-westerbaan-xyber768d00 §3: X25519 first, then a
		 * Kyber768 round-3 public key, whose key generation is the
		 * FIPS 203 draft's. */
		if (priv)
			priv->ecdh_len = 32;
		if ((ret = x25519_share(rng, out, ecdh)) < 0)
			return ret;
		return mlkem_share(SD_MLKEM768, SD_MLKEM_DRAFT, rng, out, priv);
	}
	return -SD_EUNKNOWN;
}

void sd_kex_priv_clear(struct sd_kex_priv *priv)
{
	OPENSSL_cleanse(priv, sizeof(*priv));
}
