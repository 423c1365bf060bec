/* SPDX-License-Identifier: MIT */
/* The only place that does pointer arithmetic on untrusted input. */
#include "shakedown/cursor.h"

void sd_cursor_init(struct sd_cursor *c, const void *p, size_t len)
{
	c->p = p;
	c->len = p ? len : 0;
	c->pos = 0;
	c->origin = 0;
}

int sd_cursor_u8(struct sd_cursor *c, uint8_t *v)
{
	if (sd_cursor_left(c) < 1)
		return -SD_ETRUNC;
	*v = c->p[c->pos++];
	return 0;
}

int sd_cursor_u16(struct sd_cursor *c, uint16_t *v)
{
	if (sd_cursor_left(c) < 2)
		return -SD_ETRUNC;
	*v = (uint16_t)(c->p[c->pos] << 8 | c->p[c->pos + 1]);
	c->pos += 2;
	return 0;
}

int sd_cursor_u24(struct sd_cursor *c, uint32_t *v)
{
	if (sd_cursor_left(c) < 3)
		return -SD_ETRUNC;
	*v = (uint32_t)c->p[c->pos] << 16 | (uint32_t)c->p[c->pos + 1] << 8 |
	     c->p[c->pos + 2];
	c->pos += 3;
	return 0;
}

int sd_cursor_u32(struct sd_cursor *c, uint32_t *v)
{
	if (sd_cursor_left(c) < 4)
		return -SD_ETRUNC;
	*v = (uint32_t)c->p[c->pos] << 24 | (uint32_t)c->p[c->pos + 1] << 16 |
	     (uint32_t)c->p[c->pos + 2] << 8 | c->p[c->pos + 3];
	c->pos += 4;
	return 0;
}

int sd_cursor_bytes(struct sd_cursor *c, size_t n, const uint8_t **view)
{
	if (sd_cursor_left(c) < n)
		return -SD_ETRUNC;
	*view = n ? c->p + c->pos : NULL;
	c->pos += n;
	return 0;
}

int sd_cursor_skip(struct sd_cursor *c, size_t n)
{
	if (sd_cursor_left(c) < n)
		return -SD_ETRUNC;
	c->pos += n;
	return 0;
}

int sd_cursor_sub(struct sd_cursor *c, size_t n, struct sd_cursor *sub)
{
	if (sd_cursor_left(c) < n)
		return -SD_ETRUNC;
	sub->p = c->p + c->pos;
	sub->len = n;
	sub->pos = 0;
	sub->origin = c->origin + c->pos;
	c->pos += n;
	return 0;
}

int sd_cursor_vec(struct sd_cursor *c, unsigned lenbytes, struct sd_cursor *sub)
{
	struct sd_cursor save = *c;
	uint32_t n = 0;
	uint8_t b;
	int ret;

	if (lenbytes < 1 || lenbytes > 3)
		return -SD_EVALUE;
	for (unsigned i = 0; i < lenbytes; i++) {
		ret = sd_cursor_u8(c, &b);
		if (ret < 0)
			goto fail;
		n = n << 8 | b;
	}
	ret = sd_cursor_sub(c, n, sub);
	if (ret < 0)
		goto fail;
	return 0;
fail:
	*c = save;
	return ret;
}

int sd_cursor_end(const struct sd_cursor *c)
{
	return sd_cursor_left(c) ? -SD_ELENGTH : 0;
}
