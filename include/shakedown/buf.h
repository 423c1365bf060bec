/* SPDX-License-Identifier: MIT */
/*
 * A growable byte buffer for building wire formats. Writes never fail on
 * the spot: the first failure (out of memory, a vector longer than its
 * length prefix allows) is kept in err, later writes are ignored, and the
 * builder reports it once through sd_buf_error, which cannot be ignored.
 */
#ifndef SHAKEDOWN_BUF_H
#define SHAKEDOWN_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "shakedown/err.h"

struct sd_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	int err;    /* 0, or the first failure as -errno / -SD_E* */
};

#define SD_BUF_INIT { NULL, 0, 0, 0 }

void sd_buf_init(struct sd_buf *b);
void sd_buf_free(struct sd_buf *b);
void sd_buf_reset(struct sd_buf *b);
void sd_buf_u8(struct sd_buf *b, uint8_t v);
void sd_buf_u16(struct sd_buf *b, uint16_t v);
void sd_buf_u24(struct sd_buf *b, uint32_t v);
void sd_buf_u32(struct sd_buf *b, uint32_t v);
void sd_buf_put(struct sd_buf *b, const void *p, size_t n);
void sd_buf_zero(struct sd_buf *b, size_t n);
/* Room for n bytes the caller fills; NULL after an error. */
uint8_t *sd_buf_reserve(struct sd_buf *b, size_t n);
/* Opens a vector with a lenbytes-byte length prefix; returns a mark. */
size_t sd_buf_vec_open(struct sd_buf *b, unsigned lenbytes);
/* Fills the prefix opened at mark; too long for the prefix sets -SD_ELENGTH. */
void sd_buf_vec_close(struct sd_buf *b, size_t mark, unsigned lenbytes);
int sd_buf_error(const struct sd_buf *b) SD_WUR;
/* Hands the bytes to the caller (free() them); the buffer is left empty. */
uint8_t *sd_buf_steal(struct sd_buf *b, size_t *len);

#endif
