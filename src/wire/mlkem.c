/* SPDX-License-Identifier: MIT */
/* ML-KEM per FIPS 203: our own NTT-domain arithmetic over OpenSSL 3.0's SHA-3 and SHAKE. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "shakedown/mlkem.h"

#define N 256
#define Q 3329
#define ETA2 2        /* the same for all three parameter sets (FIPS 203 Table 2) */
#define POLY_BYTES 384 /* ByteEncode_12 of one polynomial */

/*
 * First SHAKE128 request in SampleNTT. OpenSSL 3.0 cannot squeeze a
 * context a second time, so ask for plenty up front: 840 bytes give 560
 * candidates where 256 are needed and about 455 are expected to pass, so a
 * second request is astronomically unlikely. Overridable so a test build can
 * force the retry path on every call.
 */
#ifndef SD_MLKEM_XOF_BYTES
#define SD_MLKEM_XOF_BYTES 840
#endif
_Static_assert(SD_MLKEM_XOF_BYTES % 3 == 0 && SD_MLKEM_XOF_BYTES >= 3, "SampleNTT reads 3 bytes at a time");

/*
 * zeta = 17 is a primitive 256th root of unity mod q (FIPS 203 §4.3). The
 * NTT needs zeta^BitRev7(i); build it at compile time from the squares
 * 17^(2^b), multiplying in the square for each bit b of BitRev7(i), which
 * is bit 6 - b of i.
 */
enum {
	ZP0 = 17,
	ZP1 = ZP0 * ZP0 % Q,
	ZP2 = ZP1 * ZP1 % Q,
	ZP3 = ZP2 * ZP2 % Q,
	ZP4 = ZP3 * ZP3 % Q,
	ZP5 = ZP4 * ZP4 % Q,
	ZP6 = ZP5 * ZP5 % Q,
};
_Static_assert(ZP6 * ZP6 % Q == Q - 1, "17^128 = -1 mod q, so 17 has order 256");
_Static_assert(128 * 3303 % Q == 1, "3303 = 128^-1 mod q (FIPS 203 Algorithm 10 line 14)");

#define ZBIT(i, m, p) (((i) & (m)) ? (p) : 1)
#define ZETA(i) (ZBIT(i, 64, ZP0) * ZBIT(i, 32, ZP1) % Q * ZBIT(i, 16, ZP2) % Q * ZBIT(i, 8, ZP3) % Q * \
		 ZBIT(i, 4, ZP4) % Q * ZBIT(i, 2, ZP5) % Q * ZBIT(i, 1, ZP6) % Q)
/* zeta^(2 BitRev7(i) + 1), the moduli of the degree-2 factors (Algorithm 11). */
#define GAMMA(i) (ZETA(i) * ZETA(i) % Q * ZP0 % Q)

#define ZETA8(i) ZETA(i), ZETA(i + 1), ZETA(i + 2), ZETA(i + 3), ZETA(i + 4), ZETA(i + 5), ZETA(i + 6), ZETA(i + 7)
#define GAMMA8(i) GAMMA(i), GAMMA(i + 1), GAMMA(i + 2), GAMMA(i + 3), \
		  GAMMA(i + 4), GAMMA(i + 5), GAMMA(i + 6), GAMMA(i + 7)

static const uint16_t zetas[128] = {
	ZETA8(0), ZETA8(8), ZETA8(16), ZETA8(24), ZETA8(32), ZETA8(40), ZETA8(48), ZETA8(56),
	ZETA8(64), ZETA8(72), ZETA8(80), ZETA8(88), ZETA8(96), ZETA8(104), ZETA8(112), ZETA8(120),
};

static const uint16_t gammas[128] = {
	GAMMA8(0), GAMMA8(8), GAMMA8(16), GAMMA8(24), GAMMA8(32), GAMMA8(40), GAMMA8(48), GAMMA8(56),
	GAMMA8(64), GAMMA8(72), GAMMA8(80), GAMMA8(88), GAMMA8(96), GAMMA8(104), GAMMA8(112), GAMMA8(120),
};

struct poly {
	uint16_t c[N];   /* coefficients, always reduced to [0, q) */
};

struct params {
	unsigned k, eta1, du, dv;
};

static int get_params(enum sd_mlkem_param p, struct params *out)
{
	/* FIPS 203 Table 2 */
	switch (p) {
	case SD_MLKEM512:
		*out = (struct params){ 2, 3, 10, 4 };
		return 0;
	case SD_MLKEM768:
		*out = (struct params){ 3, 2, 10, 4 };
		return 0;
	case SD_MLKEM1024:
		*out = (struct params){ 4, 2, 11, 5 };
		return 0;
	}
	return -SD_EVALUE;
}

size_t sd_mlkem_ek_len(enum sd_mlkem_param p)
{
	struct params P;

	return get_params(p, &P) ? 0 : POLY_BYTES * P.k + 32;
}

size_t sd_mlkem_dk_len(enum sd_mlkem_param p)
{
	struct params P;

	return get_params(p, &P) ? 0 : 2 * POLY_BYTES * P.k + 96;
}

size_t sd_mlkem_ct_len(enum sd_mlkem_param p)
{
	struct params P;

	return get_params(p, &P) ? 0 : 32 * (P.du * P.k + P.dv);
}

/*
 * Modular arithmetic. Division by q is done as a multiply and shift so no
 * secret-dependent divide instruction appears even in unoptimised builds
 * (the KyberSlash timing leak). With m = ceil(2^40 / q) the error is below
 * x / 2^40, which stays under 1/q for every x < 2^28.
 */
#define DIVQ_M (((1ULL << 40) + Q - 1) / Q)

static inline uint32_t div_q(uint32_t x)
{
	return (uint32_t)(((uint64_t)x * DIVQ_M) >> 40);
}

/* x mod q for x < 2^28 */
static inline uint16_t red(uint32_t x)
{
	return (uint16_t)(x - div_q(x) * Q);
}

/* x mod q for x < 2q, without a branch */
static inline uint16_t csubq(uint32_t x)
{
	uint32_t t = x - Q;

	return (uint16_t)(t + (Q & (0u - (t >> 31))));
}

static inline uint16_t mulq(uint16_t a, uint16_t b)
{
	return red((uint32_t)a * b);
}

static inline uint16_t addq(uint16_t a, uint16_t b)
{
	return csubq((uint32_t)a + b);
}

static inline uint16_t subq(uint16_t a, uint16_t b)
{
	return csubq((uint32_t)a + Q - b);
}

/* FIPS 203 Algorithm 9: NTT, in place. */
static void ntt(struct poly *f)
{
	unsigned i = 1, len, start, j;

	for (len = 128; len >= 2; len >>= 1) {
		for (start = 0; start < N; start += 2 * len) {
			uint16_t zeta = zetas[i++];

			for (j = start; j < start + len; j++) {
				uint16_t t = mulq(zeta, f->c[j + len]);

				f->c[j + len] = subq(f->c[j], t);
				f->c[j] = addq(f->c[j], t);
			}
		}
	}
}

/* FIPS 203 Algorithm 10: NTT^-1, in place. */
static void ntt_inv(struct poly *f)
{
	unsigned i = 127, len, start, j;

	for (len = 2; len <= 128; len <<= 1) {
		for (start = 0; start < N; start += 2 * len) {
			uint16_t zeta = zetas[i--];

			for (j = start; j < start + len; j++) {
				uint16_t t = f->c[j];

				f->c[j] = addq(t, f->c[j + len]);
				f->c[j + len] = mulq(zeta, subq(f->c[j + len], t));
			}
		}
	}
	for (j = 0; j < N; j++)
		f->c[j] = mulq(f->c[j], 3303);
}

/*
 * acc += a * b in the NTT domain: FIPS 203 Algorithm 11 (MultiplyNTTs) with
 * Algorithm 12 (BaseCaseMultiply) inlined. Summing before one reduction is
 * safe: every sum below is < 3q^2 + q < 2^28.
 */
static void poly_basemul_acc(struct poly *acc, const struct poly *a, const struct poly *b)
{
	unsigned i;

	for (i = 0; i < N / 2; i++) {
		uint32_t a0 = a->c[2 * i], a1 = a->c[2 * i + 1];
		uint32_t b0 = b->c[2 * i], b1 = b->c[2 * i + 1];

		acc->c[2 * i] = red(acc->c[2 * i] + a0 * b0 + (uint32_t)mulq((uint16_t)a1, (uint16_t)b1) * gammas[i]);
		acc->c[2 * i + 1] = red(acc->c[2 * i + 1] + a0 * b1 + a1 * b0);
	}
}

static void poly_add(struct poly *r, const struct poly *a)
{
	unsigned i;

	for (i = 0; i < N; i++)
		r->c[i] = addq(r->c[i], a->c[i]);
}

/* FIPS 203 Algorithm 5: ByteEncode_d, little-endian bit packing. */
static void byte_encode(uint8_t *out, const struct poly *f, unsigned d)
{
	uint32_t acc = 0;
	unsigned bits = 0, i;

	for (i = 0; i < N; i++) {
		acc |= (uint32_t)f->c[i] << bits;
		bits += d;
		while (bits >= 8) {
			*out++ = (uint8_t)acc;
			acc >>= 8;
			bits -= 8;
		}
	}
}

/* FIPS 203 Algorithm 6: ByteDecode_d, raw d-bit values (not yet reduced mod q). */
static void byte_decode(struct poly *f, const uint8_t *in, unsigned d)
{
	uint32_t acc = 0, mask = (1u << d) - 1;
	unsigned bits = 0, i;

	for (i = 0; i < N; i++) {
		while (bits < d) {
			acc |= (uint32_t)*in++ << bits;
			bits += 8;
		}
		f->c[i] = (uint16_t)(acc & mask);
		acc >>= d;
		bits -= d;
	}
}

/* ByteDecode_12 as the standard defines it: values taken mod q (all are < 2q). */
static void byte_decode12(struct poly *f, const uint8_t *in)
{
	unsigned i;

	byte_decode(f, in, 12);
	for (i = 0; i < N; i++)
		f->c[i] = csubq(f->c[i]);
}

/* FIPS 203 §4.2.1 Compress_d: round(2^d x / q) mod 2^d; q is odd, so there are no ties. */
static void poly_compress(struct poly *f, unsigned d)
{
	unsigned i;

	for (i = 0; i < N; i++)
		f->c[i] = (uint16_t)(div_q(((uint32_t)f->c[i] << d) + (Q - 1) / 2) & ((1u << d) - 1));
}

/* FIPS 203 §4.2.1 Decompress_d: round(q y / 2^d), halves rounded up. */
static void poly_decompress(struct poly *f, unsigned d)
{
	unsigned i;

	for (i = 0; i < N; i++)
		f->c[i] = (uint16_t)(((uint32_t)f->c[i] * Q + (1u << (d - 1))) >> d);
}

/*
 * The four SHA-3 functions of FIPS 203 §4.1, fetched once per operation
 * rather than implicitly on every digest (a method-store lookup each time).
 */
struct hashes {
	EVP_MD_CTX *ctx;
	EVP_MD *h;      /* SHA3-256 */
	EVP_MD *g;      /* SHA3-512 */
	EVP_MD *xof;    /* SHAKE128 */
	EVP_MD *prf;    /* SHAKE256, also J */
};

static void hashes_close(struct hashes *hs)
{
	EVP_MD_CTX_free(hs->ctx);
	EVP_MD_free(hs->h);
	EVP_MD_free(hs->g);
	EVP_MD_free(hs->xof);
	EVP_MD_free(hs->prf);
}

static int SD_WUR hashes_open(struct hashes *hs)
{
	hs->ctx = EVP_MD_CTX_new();
	hs->h = EVP_MD_fetch(NULL, "SHA3-256", NULL);
	hs->g = EVP_MD_fetch(NULL, "SHA3-512", NULL);
	hs->xof = EVP_MD_fetch(NULL, "SHAKE128", NULL);
	hs->prf = EVP_MD_fetch(NULL, "SHAKE256", NULL);
	if (hs->ctx && hs->h && hs->g && hs->xof && hs->prf)
		return 0;
	hashes_close(hs);
	return -SD_ECRYPTO;
}

/* out = md(a || b), outlen bytes; outlen is fixed by the digest unless md is a XOF. */
static int SD_WUR hash2(struct hashes *hs, const EVP_MD *md, const uint8_t *a, size_t alen, const uint8_t *b,
			size_t blen, uint8_t *out, size_t outlen)
{
	int ok = EVP_DigestInit_ex(hs->ctx, md, NULL) &&
		 EVP_DigestUpdate(hs->ctx, a, alen) &&
		 (!blen || EVP_DigestUpdate(hs->ctx, b, blen));

	if (ok && (md == hs->xof || md == hs->prf))
		ok = EVP_DigestFinalXOF(hs->ctx, out, outlen);
	else if (ok)
		ok = EVP_DigestFinal_ex(hs->ctx, out, NULL);
	return ok ? 0 : -SD_ECRYPTO;
}

/*
 * FIPS 203 Algorithm 7: SampleNTT(rho || j || i). Rejection sampling of
 * 12-bit candidates from SHAKE128. If the first output runs out, ask for a
 * longer one: a XOF's longer output starts with the same bytes, so we can
 * carry on from where we stopped instead of starting over.
 */
static int SD_WUR sample_ntt(struct hashes *hs, struct poly *a, const uint8_t rho[32], uint8_t j, uint8_t i)
{
	uint8_t seed[34], first[SD_MLKEM_XOF_BYTES];
	uint8_t *buf = first, *bigger;
	size_t len = sizeof(first), pos = 0;
	unsigned n = 0;
	int err;

	memcpy(seed, rho, 32);
	seed[32] = j;   /* Algorithm 13 line 6 / Algorithm 14 line 6: B = rho || j || i */
	seed[33] = i;
	err = hash2(hs, hs->xof, seed, sizeof(seed), NULL, 0, buf, len);
	while (!err && n < N) {
		uint16_t d1, d2;

		if (pos + 3 > len) {
			bigger = malloc(2 * len);
			if (!bigger) {
				err = -ENOMEM;
				break;
			}
			if (buf != first)
				free(buf);
			buf = bigger;
			len *= 2;
			err = hash2(hs, hs->xof, seed, sizeof(seed), NULL, 0, buf, len);
			continue;
		}
		/* Algorithm 7 lines 5-6: two 12-bit candidates from three bytes */
		d1 = (uint16_t)(buf[pos] | (buf[pos + 1] & 0x0f) << 8);
		d2 = (uint16_t)(buf[pos + 1] >> 4 | buf[pos + 2] << 4);
		pos += 3;
		if (d1 < Q)                     /* lines 7-9 */
			a->c[n++] = d1;
		if (d2 < Q && n < N)            /* lines 10-12 */
			a->c[n++] = d2;
	}
	if (buf != first)
		free(buf);
	return err;
}

/*
 * FIPS 203 Algorithm 8: SamplePolyCBD_eta(PRF_eta(s, nonce)), where PRF is
 * SHAKE256(s || nonce) truncated to 64 eta bytes (§4.1, eq. 4.3).
 */
static int SD_WUR sample_cbd(struct hashes *hs, struct poly *f, const uint8_t s[32], uint8_t nonce, unsigned eta)
{
	uint8_t b[64 * 3];
	unsigned i, j;
	int err;

	err = hash2(hs, hs->prf, s, 32, &nonce, 1, b, 64 * eta);
	if (err)
		return err;
	for (i = 0; i < N; i++) {
		unsigned x = 0, y = 0, base = 2 * i * eta;

		for (j = 0; j < eta; j++) {
			x += (b[(base + j) / 8] >> ((base + j) % 8)) & 1;             /* line 4 */
			y += (b[(base + eta + j) / 8] >> ((base + eta + j) % 8)) & 1; /* line 5 */
		}
		f->c[i] = csubq(Q + x - y);                                        /* line 6 */
	}
	OPENSSL_cleanse(b, sizeof(b));
	return 0;
}

/* FIPS 203 Algorithm 13: K-PKE.KeyGen(d); ek gets 384k + 32 bytes, dk_pke 384k. */
static int SD_WUR kpke_keygen(struct hashes *hs, const struct params *P, enum sd_mlkem_variant v,
			      const uint8_t d[32], uint8_t *ek, uint8_t *dk_pke)
{
	struct {
		uint8_t in[33];
		uint8_t rho_sigma[64];
		struct poly s[4], e[4], a, t;
	} w;
	const uint8_t *rho = w.rho_sigma, *sigma = w.rho_sigma + 32;
	uint8_t nonce = 0;
	unsigned i, j;
	int err;

	/* line 1: (rho, sigma) = G(d || k); the draft omitted the k byte */
	memcpy(w.in, d, 32);
	w.in[32] = (uint8_t)P->k;
	err = hash2(hs, hs->g, w.in, v == SD_MLKEM_FINAL ? 33 : 32, NULL, 0, w.rho_sigma, 64);
	/* lines 8-11: s; lines 12-15: e; nonce N runs on from s into e */
	for (i = 0; !err && i < P->k; i++)
		err = sample_cbd(hs, &w.s[i], sigma, nonce++, P->eta1);
	for (i = 0; !err && i < P->k; i++)
		err = sample_cbd(hs, &w.e[i], sigma, nonce++, P->eta1);
	if (err)
		goto out;
	for (i = 0; i < P->k; i++) {
		ntt(&w.s[i]);   /* line 16 */
		ntt(&w.e[i]);   /* line 17 */
	}
	/*
	 * line 18: t = A s + e, generating A[i][j] = SampleNTT(rho || j || i)
	 * (lines 3-7) one entry at a time instead of holding all k^2.
	 */
	for (i = 0; i < P->k; i++) {
		w.t = w.e[i];
		for (j = 0; j < P->k; j++) {
			err = sample_ntt(hs, &w.a, rho, (uint8_t)j, (uint8_t)i);
			if (err)
				goto out;
			poly_basemul_acc(&w.t, &w.a, &w.s[j]);
		}
		byte_encode(ek + POLY_BYTES * i, &w.t, 12);   /* line 19 */
	}
	memcpy(ek + POLY_BYTES * P->k, rho, 32);            /* line 19 */
	for (i = 0; i < P->k; i++)
		byte_encode(dk_pke + POLY_BYTES * i, &w.s[i], 12);   /* line 20 */
out:
	OPENSSL_cleanse(&w, sizeof(w));
	return err;
}

/* FIPS 203 Algorithm 14: K-PKE.Encrypt(ek, m, r); c gets 32 (du k + dv) bytes. */
static int SD_WUR kpke_encrypt(struct hashes *hs, const struct params *P, const uint8_t *ek, const uint8_t m[32],
			       const uint8_t r[32], uint8_t *c)
{
	struct {
		struct poly y[4], a, u, v, t;
	} w;
	const uint8_t *rho = ek + POLY_BYTES * P->k;   /* line 3 */
	unsigned i, j;
	int err = 0;

	/* lines 9-12: y with nonces 0..k-1; e1 and e2 follow at k..2k */
	for (i = 0; !err && i < P->k; i++)
		err = sample_cbd(hs, &w.y[i], r, (uint8_t)i, P->eta1);
	if (err)
		goto out;
	for (i = 0; i < P->k; i++)
		ntt(&w.y[i]);   /* line 18 */

	/* line 19: u = NTT^-1(A^T y) + e1, where A^T[i][j] = A[j][i] = SampleNTT(rho || i || j) */
	for (i = 0; i < P->k; i++) {
		memset(&w.u, 0, sizeof(w.u));
		for (j = 0; j < P->k; j++) {
			err = sample_ntt(hs, &w.a, rho, (uint8_t)i, (uint8_t)j);
			if (err)
				goto out;
			poly_basemul_acc(&w.u, &w.a, &w.y[j]);
		}
		ntt_inv(&w.u);
		err = sample_cbd(hs, &w.a, r, (uint8_t)(P->k + i), ETA2);   /* lines 13-16: e1[i] */
		if (err)
			goto out;
		poly_add(&w.u, &w.a);
		poly_compress(&w.u, P->du);                                 /* line 22 */
		byte_encode(c + 32 * P->du * i, &w.u, P->du);
	}

	/* line 21: v = NTT^-1(t^T y) + e2 + mu, t decoded from ek (line 2) */
	memset(&w.v, 0, sizeof(w.v));
	for (j = 0; j < P->k; j++) {
		byte_decode12(&w.t, ek + POLY_BYTES * j);
		poly_basemul_acc(&w.v, &w.t, &w.y[j]);
	}
	ntt_inv(&w.v);
	err = sample_cbd(hs, &w.a, r, (uint8_t)(2 * P->k), ETA2);   /* line 17: e2 */
	if (err)
		goto out;
	poly_add(&w.v, &w.a);
	for (i = 0; i < N; i++)   /* line 20: mu = Decompress_1(ByteDecode_1(m)) */
		w.a.c[i] = (uint16_t)((m[i / 8] >> (i % 8)) & 1);
	poly_decompress(&w.a, 1);
	poly_add(&w.v, &w.a);
	poly_compress(&w.v, P->dv);                                 /* line 23 */
	byte_encode(c + 32 * P->du * P->k, &w.v, P->dv);
out:
	OPENSSL_cleanse(&w, sizeof(w));
	return err;
}

/* FIPS 203 Algorithm 15: K-PKE.Decrypt(dk_pke, c). */
static void kpke_decrypt(const struct params *P, const uint8_t *dk_pke, const uint8_t *c, uint8_t m[32])
{
	struct {
		struct poly u, s, acc, v;
	} w;
	unsigned i;

	memset(&w.acc, 0, sizeof(w.acc));
	for (i = 0; i < P->k; i++) {
		byte_decode(&w.u, c + 32 * P->du * i, P->du);   /* lines 1, 3 */
		poly_decompress(&w.u, P->du);
		ntt(&w.u);
		byte_decode12(&w.s, dk_pke + POLY_BYTES * i);  /* line 5 */
		poly_basemul_acc(&w.acc, &w.s, &w.u);          /* line 6: s^T NTT(u) */
	}
	ntt_inv(&w.acc);
	byte_decode(&w.v, c + 32 * P->du * P->k, P->dv);  /* lines 2, 4 */
	poly_decompress(&w.v, P->dv);
	for (i = 0; i < N; i++)                            /* line 6: w = v - ... */
		w.v.c[i] = subq(w.v.c[i], w.acc.c[i]);
	poly_compress(&w.v, 1);                            /* line 7 */
	memset(m, 0, 32);
	for (i = 0; i < N; i++)
		m[i / 8] |= (uint8_t)(w.v.c[i] << (i % 8));
	OPENSSL_cleanse(&w, sizeof(w));
}

int sd_mlkem_keygen(enum sd_mlkem_param p, enum sd_mlkem_variant v, const uint8_t d[32], const uint8_t z[32],
		    uint8_t *ek, uint8_t *dk)
{
	struct hashes hs;
	struct params P;
	size_t eklen;
	int err;

	if (get_params(p, &P) || (v != SD_MLKEM_FINAL && v != SD_MLKEM_DRAFT))
		return -SD_EVALUE;
	err = hashes_open(&hs);
	if (err)
		return err;
	eklen = POLY_BYTES * P.k + 32;
	/* FIPS 203 Algorithm 16 line 1 */
	err = kpke_keygen(&hs, &P, v, d, ek, dk);
	if (err)
		goto out;
	/* line 3: dk = dk_pke || ek || H(ek) || z */
	memcpy(dk + POLY_BYTES * P.k, ek, eklen);
	err = hash2(&hs, hs.h, ek, eklen, NULL, 0, dk + POLY_BYTES * P.k + eklen, 32);
	if (err)
		goto out;
	memcpy(dk + POLY_BYTES * P.k + eklen + 32, z, 32);
out:
	hashes_close(&hs);
	return err;
}

/* FIPS 203 §7.2 modulus check: every 12-bit value in ek's t must already be reduced. */
static int ek_modulus_ok(const struct params *P, const uint8_t *ek)
{
	struct poly t;
	unsigned i, j;

	for (i = 0; i < P->k; i++) {
		byte_decode(&t, ek + POLY_BYTES * i, 12);
		for (j = 0; j < N; j++)
			if (t.c[j] >= Q)
				return 0;
	}
	return 1;
}

int sd_mlkem_encaps(enum sd_mlkem_param p, const uint8_t *ek, const uint8_t m[32], uint8_t *ct, uint8_t ss[32])
{
	struct hashes hs;
	struct params P;
	struct {
		uint8_t in[64];   /* m || H(ek) */
		uint8_t kr[64];   /* K || r */
	} w;
	int err;

	if (get_params(p, &P) || !ek_modulus_ok(&P, ek))
		return -SD_EVALUE;
	err = hashes_open(&hs);
	if (err)
		return err;
	/* FIPS 203 Algorithm 17 line 1: (K, r) = G(m || H(ek)) */
	memcpy(w.in, m, 32);
	err = hash2(&hs, hs.h, ek, POLY_BYTES * P.k + 32, NULL, 0, w.in + 32, 32);
	if (!err)
		err = hash2(&hs, hs.g, w.in, 64, NULL, 0, w.kr, 64);
	if (!err)   /* line 2 */
		err = kpke_encrypt(&hs, &P, ek, m, w.kr + 32, ct);
	if (!err)
		memcpy(ss, w.kr, 32);
	OPENSSL_cleanse(&w, sizeof(w));
	hashes_close(&hs);
	return err;
}

int sd_mlkem_decaps(enum sd_mlkem_param p, const uint8_t *dk, const uint8_t *ct, uint8_t ss[32])
{
	struct hashes hs;
	struct params P;
	struct {
		uint8_t in[64];       /* m' || h */
		uint8_t kr[64];       /* K' || r' */
		uint8_t kbar[32];
		uint8_t h[32];
		uint8_t ct2[SD_MLKEM_CT_MAX];
	} w;
	const uint8_t *dk_pke, *ek, *h, *z;
	size_t ctlen, i;
	uint8_t diff = 0, keep;
	int err;

	if (get_params(p, &P))
		return -SD_EVALUE;
	/* FIPS 203 Algorithm 18 lines 1-4 */
	dk_pke = dk;
	ek = dk + POLY_BYTES * P.k;
	h = ek + POLY_BYTES * P.k + 32;
	z = h + 32;
	ctlen = 32 * (P.du * P.k + P.dv);
	err = hashes_open(&hs);
	if (err)
		return err;
	/* §7.3 hash check: a dk whose parts disagree would decapsulate to nonsense */
	err = hash2(&hs, hs.h, ek, POLY_BYTES * P.k + 32, NULL, 0, w.h, 32);
	if (err)
		goto out;
	if (memcmp(w.h, h, 32) != 0) {
		err = -SD_EVALUE;
		goto out;
	}
	kpke_decrypt(&P, dk_pke, ct, w.in);              /* line 5 */
	memcpy(w.in + 32, h, 32);
	err = hash2(&hs, hs.g, w.in, 64, NULL, 0, w.kr, 64);   /* line 6 */
	if (!err)                                                /* line 7: J(z || c) */
		err = hash2(&hs, hs.prf, z, 32, ct, ctlen, w.kbar, 32);
	if (!err)                                                /* line 8 */
		err = kpke_encrypt(&hs, &P, ek, w.in, w.kr + 32, w.ct2);
	if (err)
		goto out;
	/*
	 * lines 9-11: K' if c == c', else Kbar. Whether the ciphertext was
	 * rejected is secret (it is the decryption-failure oracle), so both the
	 * comparison and the choice run without branches.
	 */
	for (i = 0; i < ctlen; i++)
		diff |= ct[i] ^ w.ct2[i];
	keep = (uint8_t)(((uint32_t)diff - 1) >> 8);   /* 0xff iff diff == 0 */
	for (i = 0; i < 32; i++)
		ss[i] = (uint8_t)((w.kr[i] & keep) | (w.kbar[i] & (uint8_t)~keep));
out:
	OPENSSL_cleanse(&w, sizeof(w));
	hashes_close(&hs);
	return err;
}
