/* SPDX-License-Identifier: MIT */
/*
 * A seeded deterministic byte stream, so that the same --seed gives the
 * same ClientHello byte for byte (random, session id, GREASE values, key
 * shares, extension order). Not for keys that must stay secret: the tool
 * only needs handshakes that a real server accepts.
 */
#ifndef SHAKEDOWN_RNG_H
#define SHAKEDOWN_RNG_H

#include <stddef.h>
#include <stdint.h>

#include "shakedown/err.h"

struct sd_rng {
	uint8_t key[32];
	uint64_t counter;
	char seed[80];      /* the text form that reproduces this stream */
};

/* Seeds from text (--seed S): any string of up to 79 bytes, kept in seed so
 * that it can be printed and repeated; longer ones are -SD_EVALUE. */
int sd_rng_seed(struct sd_rng *r, const char *seed) SD_WUR;
/* Seeds from the kernel's entropy and records a hex seed that repeats it. */
int sd_rng_fresh(struct sd_rng *r) SD_WUR;
/* Next n bytes: SHAKE256(key || counter), one counter value per call. */
int sd_rng_bytes(struct sd_rng *r, void *out, size_t n) SD_WUR;
/* Uniform in [0, bound), bound > 0. */
int sd_rng_below(struct sd_rng *r, uint32_t bound, uint32_t *v) SD_WUR;

#endif
