/* SPDX-License-Identifier: MIT */
/*
 * ML-KEM (FIPS 203) from explicit seeds, so a handshake can be replayed and
 * a key share checked against known vectors. The "_internal" algorithms are
 * exposed on purpose: the caller supplies d, z and m (32 bytes each) and is
 * responsible for drawing them from a proper random source in real use.
 * Hashing is OpenSSL's SHA-3; all lattice arithmetic is our own.
 */
#ifndef SHAKEDOWN_MLKEM_H
#define SHAKEDOWN_MLKEM_H

#include <stddef.h>
#include <stdint.h>

#include "shakedown/err.h"

/* The value is k, the module rank. */
enum sd_mlkem_param { SD_MLKEM512 = 2, SD_MLKEM768 = 3, SD_MLKEM1024 = 4 };

/*
 * How key generation derives (rho, sigma). DRAFT is FIPS 203 ipd / Kyber
 * round 3: G(d). FINAL is FIPS 203 Algorithm 13: G(d || k), which binds the
 * seed to the parameter set. Encaps/Decaps are the same in both.
 */
enum sd_mlkem_variant { SD_MLKEM_FINAL, SD_MLKEM_DRAFT };

#define SD_MLKEM_SEED_LEN 32
#define SD_MLKEM_SS_LEN 32
#define SD_MLKEM_EK_MAX 1568
#define SD_MLKEM_DK_MAX 3168
#define SD_MLKEM_CT_MAX 1568

/* Sizes in bytes; 0 for an invalid parameter set. */
size_t sd_mlkem_ek_len(enum sd_mlkem_param p);  /* 800 / 1184 / 1568 */
size_t sd_mlkem_dk_len(enum sd_mlkem_param p);  /* 1632 / 2400 / 3168 */
size_t sd_mlkem_ct_len(enum sd_mlkem_param p);  /* 768 / 1088 / 1568 */

/*
 * ML-KEM.KeyGen_internal(d, z), FIPS 203 Algorithm 16: writes ek
 * (sd_mlkem_ek_len bytes) and dk = dk_pke || ek || H(ek) || z
 * (sd_mlkem_dk_len bytes). Returns 0, -SD_EVALUE for a bad parameter set or
 * variant, -SD_ECRYPTO if OpenSSL fails, or -ENOMEM (only if SHAKE128 output
 * must be re-requested and that allocation fails; practically never).
 */
int sd_mlkem_keygen(enum sd_mlkem_param p, enum sd_mlkem_variant v, const uint8_t d[32], const uint8_t z[32],
		    uint8_t *ek, uint8_t *dk) SD_WUR;

/*
 * ML-KEM.Encaps_internal(ek, m), FIPS 203 Algorithm 17, preceded by the
 * §7.2 modulus check on ek. Writes ct (sd_mlkem_ct_len bytes) and the
 * 32-byte shared secret. Returns 0, -SD_EVALUE for a bad parameter set or
 * an ek that fails the modulus check, -SD_ECRYPTO, or -ENOMEM.
 */
int sd_mlkem_encaps(enum sd_mlkem_param p, const uint8_t *ek, const uint8_t m[32], uint8_t *ct,
		    uint8_t ss[32]) SD_WUR;

/*
 * ML-KEM.Decaps_internal(dk, c), FIPS 203 Algorithm 18, preceded by the
 * §7.3 hash check on dk (H of its embedded ek must equal its stored h). A
 * ciphertext that does not re-encrypt identically is not an error: the
 * secret is then the implicit-rejection value J(z || c), as the standard
 * requires. Returns 0, -SD_EVALUE for a bad parameter set or a dk failing
 * the hash check, -SD_ECRYPTO, or -ENOMEM.
 */
int sd_mlkem_decaps(enum sd_mlkem_param p, const uint8_t *dk, const uint8_t *ct, uint8_t ss[32]) SD_WUR;

#endif
