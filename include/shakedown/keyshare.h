/* SPDX-License-Identifier: MIT */
/*
 * Real key shares for the groups a ClientHello offers: X25519, P-256,
 * P-384 (OpenSSL EVP), ML-KEM (our FIPS 203 key generation) and the hybrids
 * of draft-ietf-tls-ecdhe-mlkem. Valid enough for a real server to
 * encapsulate or agree against them.
 */
#ifndef SHAKEDOWN_KEYSHARE_H
#define SHAKEDOWN_KEYSHARE_H

#include <stddef.h>
#include <stdint.h>

#include "shakedown/buf.h"
#include "shakedown/mlkem.h"
#include "shakedown/rng.h"

/* The private half, kept so a later stage can finish the key exchange. */
struct sd_kex_priv {
	uint16_t group;
	uint8_t ecdh[66];          /* X25519 scalar or EC private key, big-endian */
	size_t ecdh_len;
	uint8_t mlkem_dk[SD_MLKEM_DK_MAX];
	size_t mlkem_dk_len;
};

/*
 * Appends the client key_exchange bytes for group to out, drawing all
 * randomness from rng. GREASE groups get the one-byte share Chrome sends
 * (RFC 8701 §3). priv may be NULL. -SD_EUNKNOWN for a group this tool
 * cannot make a share for; -SD_ECRYPTO if OpenSSL fails.
 */
int sd_keyshare_make(uint16_t group, struct sd_rng *rng, struct sd_buf *out,
		     struct sd_kex_priv *priv) SD_WUR;

/* Wipes the private keys. */
void sd_kex_priv_clear(struct sd_kex_priv *priv);

#endif
