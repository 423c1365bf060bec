/* SPDX-License-Identifier: MIT */
/* Growable build buffer with a sticky error. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shakedown/buf.h"

void sd_buf_init(struct sd_buf *b)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->err = 0;
}

void sd_buf_free(struct sd_buf *b)
{
	free(b->data);
	sd_buf_init(b);
}

void sd_buf_reset(struct sd_buf *b)
{
	b->len = 0;
	b->err = 0;
}

uint8_t *sd_buf_reserve(struct sd_buf *b, size_t n)
{
	uint8_t *p;

	if (b->err)
		return NULL;
	if (n > SIZE_MAX / 2 - b->len) {
		b->err = -ENOMEM;
		return NULL;
	}
	/* Allocate even for n == 0, so that the pointer below is never
	 * NULL + 0 (undefined behaviour). */
	if (!b->data || b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap < b->len + n)
			cap *= 2;
		p = realloc(b->data, cap);
		if (!p) {
			b->err = -ENOMEM;
			return NULL;
		}
		b->data = p;
		b->cap = cap;
	}
	p = b->data + b->len;
	b->len += n;
	return p;
}

void sd_buf_put(struct sd_buf *b, const void *p, size_t n)
{
	uint8_t *d = sd_buf_reserve(b, n);

	if (d && n)
		memcpy(d, p, n);
}

void sd_buf_zero(struct sd_buf *b, size_t n)
{
	uint8_t *d = sd_buf_reserve(b, n);

	if (d && n)
		memset(d, 0, n);
}

void sd_buf_u8(struct sd_buf *b, uint8_t v)
{
	sd_buf_put(b, &v, 1);
}

void sd_buf_u16(struct sd_buf *b, uint16_t v)
{
	uint8_t x[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	sd_buf_put(b, x, sizeof(x));
}

void sd_buf_u24(struct sd_buf *b, uint32_t v)
{
	uint8_t x[3] = { (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

	if (v > 0xffffff && !b->err)
		b->err = -SD_ELENGTH;
	sd_buf_put(b, x, sizeof(x));
}

void sd_buf_u32(struct sd_buf *b, uint32_t v)
{
	uint8_t x[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16),
			 (uint8_t)(v >> 8), (uint8_t)v };

	sd_buf_put(b, x, sizeof(x));
}

size_t sd_buf_vec_open(struct sd_buf *b, unsigned lenbytes)
{
	size_t mark = b->len;

	sd_buf_zero(b, lenbytes);
	return mark;
}

void sd_buf_vec_close(struct sd_buf *b, size_t mark, unsigned lenbytes)
{
	size_t n;

	if (b->err)
		return;
	if (lenbytes < 1 || lenbytes > 3 || mark + lenbytes > b->len) {
		b->err = -SD_EVALUE;
		return;
	}
	n = b->len - mark - lenbytes;
	if (n >> (8 * lenbytes)) {
		b->err = -SD_ELENGTH;
		return;
	}
	for (unsigned i = 0; i < lenbytes; i++)
		b->data[mark + i] = (uint8_t)(n >> (8 * (lenbytes - 1 - i)));
}

int sd_buf_error(const struct sd_buf *b)
{
	return b->err;
}

uint8_t *sd_buf_steal(struct sd_buf *b, size_t *len)
{
	uint8_t *p = b->data;

	*len = b->len;
	sd_buf_init(b);
	return p;
}
