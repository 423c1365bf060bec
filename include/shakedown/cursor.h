/* SPDX-License-Identifier: MIT */
/*
 * Bounds-checked reading of untrusted bytes. Every read checks before it
 * reads; a failed read returns -SD_ETRUNC and leaves the cursor unchanged.
 * A cursor borrows its bytes: views it hands out live as long as the
 * caller's buffer. Offsets are absolute from the outermost cursor's start,
 * so fields found deep inside can be reported by their place in the message.
 */
#ifndef SHAKEDOWN_CURSOR_H
#define SHAKEDOWN_CURSOR_H

#include <stddef.h>
#include <stdint.h>

#include "shakedown/err.h"

struct sd_cursor {
	const uint8_t *p;   /* start of this cursor's window */
	size_t len;         /* window length */
	size_t pos;         /* read position inside the window */
	size_t origin;      /* absolute offset of p in the outermost input */
};

void sd_cursor_init(struct sd_cursor *c, const void *p, size_t len);

static inline size_t sd_cursor_left(const struct sd_cursor *c)
{
	return c->len - c->pos;
}

/* Absolute offset of the next byte to be read. */
static inline size_t sd_cursor_offset(const struct sd_cursor *c)
{
	return c->origin + c->pos;
}

int sd_cursor_u8(struct sd_cursor *c, uint8_t *v) SD_WUR;
int sd_cursor_u16(struct sd_cursor *c, uint16_t *v) SD_WUR;
int sd_cursor_u24(struct sd_cursor *c, uint32_t *v) SD_WUR;
int sd_cursor_u32(struct sd_cursor *c, uint32_t *v) SD_WUR;
/* A view of the next n bytes; *view may be NULL when n == 0. */
int sd_cursor_bytes(struct sd_cursor *c, size_t n, const uint8_t **view) SD_WUR;
int sd_cursor_skip(struct sd_cursor *c, size_t n) SD_WUR;
/* Next n bytes as a sub-cursor (no length prefix). */
int sd_cursor_sub(struct sd_cursor *c, size_t n, struct sd_cursor *sub) SD_WUR;
/*
 * A vector with a lenbytes-byte (1, 2 or 3) big-endian length prefix, as in
 * RFC 8446 §3.4, opened as a sub-cursor the caller must consume exactly
 * (check with sd_cursor_end). On failure c is unchanged.
 */
int sd_cursor_vec(struct sd_cursor *c, unsigned lenbytes, struct sd_cursor *sub) SD_WUR;
/* 0 when every byte was read, else -SD_ELENGTH. */
int sd_cursor_end(const struct sd_cursor *c) SD_WUR;

#endif
