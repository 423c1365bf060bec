/* SPDX-License-Identifier: MIT */
/* The bounds-checked reader (sd_cursor) and the sticky-error builder (sd_buf). */
#include <stdlib.h>

#include "check.h"
#include "shakedown/buf.h"
#include "shakedown/cursor.h"

/* A failed read must leave every field as it was, so callers can retry or
 * report the position of the field that did not fit. */
#define CHECK_SAME(a, b) do { \
	CHECK((a).p == (b).p); CHECK_INT((a).len, (b).len); \
	CHECK_INT((a).pos, (b).pos); CHECK_INT((a).origin, (b).origin); \
} while (0)

static void test_readers(void)
{
	static const uint8_t in[] = {
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0xff,
	};
	struct sd_cursor c, save;
	const uint8_t *view;
	uint8_t u8 = 0;
	uint16_t u16 = 0;
	uint32_t u32 = 0;

	sd_cursor_init(&c, in, sizeof(in));
	CHECK_INT(sd_cursor_left(&c), 11);
	CHECK_INT(sd_cursor_offset(&c), 0);
	CHECK_INT(sd_cursor_u8(&c, &u8), 0);
	CHECK_INT(u8, 0x01);
	CHECK_INT(sd_cursor_u16(&c, &u16), 0);
	CHECK_INT(u16, 0x0203);
	CHECK_INT(sd_cursor_u24(&c, &u32), 0);
	CHECK_INT(u32, 0x040506);
	CHECK_INT(sd_cursor_u32(&c, &u32), 0);
	CHECK_INT(u32, 0x0708090a);
	CHECK_INT(sd_cursor_offset(&c), 10);
	CHECK_INT(sd_cursor_left(&c), 1);

	/* One byte left: every wider read fails and moves nothing. */
	save = c;
	u16 = 0x1234;
	CHECK_INT(sd_cursor_u16(&c, &u16), -SD_ETRUNC);
	CHECK_SAME(c, save);
	CHECK_INT(u16, 0x1234);
	CHECK_INT(sd_cursor_u24(&c, &u32), -SD_ETRUNC);
	CHECK_SAME(c, save);
	CHECK_INT(sd_cursor_u32(&c, &u32), -SD_ETRUNC);
	CHECK_SAME(c, save);
	CHECK_INT(sd_cursor_bytes(&c, 2, &view), -SD_ETRUNC);
	CHECK_SAME(c, save);
	CHECK_INT(sd_cursor_skip(&c, 2), -SD_ETRUNC);
	CHECK_SAME(c, save);
	CHECK_INT(sd_cursor_end(&c), -SD_ELENGTH);

	CHECK_INT(sd_cursor_u8(&c, &u8), 0);
	CHECK_INT(u8, 0xff);
	CHECK_INT(sd_cursor_end(&c), 0);
	save = c;
	CHECK_INT(sd_cursor_u8(&c, &u8), -SD_ETRUNC);
	CHECK_SAME(c, save);
	CHECK_INT(u8, 0xff);

	/* Zero-length reads always succeed, even at the end. */
	view = in;
	CHECK_INT(sd_cursor_bytes(&c, 0, &view), 0);
	CHECK(view == NULL);
	CHECK_INT(sd_cursor_skip(&c, 0), 0);
	CHECK_SAME(c, save);

	/* bytes and skip in the middle */
	sd_cursor_init(&c, in, sizeof(in));
	CHECK_INT(sd_cursor_skip(&c, 3), 0);
	CHECK_INT(sd_cursor_bytes(&c, 4, &view), 0);
	CHECK(view == in + 3);
	CHECK_INT(sd_cursor_offset(&c), 7);
	/* A huge n must not wrap around the bounds check. */
	save = c;
	CHECK_INT(sd_cursor_bytes(&c, SIZE_MAX, &view), -SD_ETRUNC);
	CHECK_SAME(c, save);
	CHECK_INT(sd_cursor_skip(&c, SIZE_MAX), -SD_ETRUNC);
	CHECK_SAME(c, save);
}

static void test_empty(void)
{
	struct sd_cursor c;
	uint8_t u8;

	/* A NULL buffer is an empty input, whatever length comes with it. */
	sd_cursor_init(&c, NULL, 100);
	CHECK_INT(sd_cursor_left(&c), 0);
	CHECK_INT(sd_cursor_end(&c), 0);
	CHECK_INT(sd_cursor_u8(&c, &u8), -SD_ETRUNC);
	CHECK_INT(c.pos, 0);
}

static void test_sub(void)
{
	static const uint8_t in[] = { 0xaa, 0xbb, 0x10, 0x11, 0x12, 0x13, 0x14, 0xcc };
	struct sd_cursor c, sub, subsub, save;
	uint8_t u8;
	uint16_t u16;

	sd_cursor_init(&c, in, sizeof(in));
	CHECK_INT(sd_cursor_skip(&c, 2), 0);
	CHECK_INT(sd_cursor_sub(&c, 5, &sub), 0);
	CHECK_INT(sd_cursor_offset(&c), 7);
	CHECK(sub.p == in + 2);
	CHECK_INT(sub.len, 5);
	CHECK_INT(sub.pos, 0);
	CHECK_INT(sub.origin, 2);
	CHECK_INT(sd_cursor_offset(&sub), 2);
	CHECK_INT(sd_cursor_u8(&sub, &u8), 0);
	CHECK_INT(u8, 0x10);
	CHECK_INT(sd_cursor_offset(&sub), 3);

	/* Offsets stay absolute however deep the nesting. */
	CHECK_INT(sd_cursor_sub(&sub, 3, &subsub), 0);
	CHECK_INT(subsub.origin, 3);
	CHECK_INT(sd_cursor_u16(&subsub, &u16), 0);
	CHECK_INT(u16, 0x1112);
	CHECK_INT(sd_cursor_offset(&subsub), 5);
	/* A sub-cursor never reads past its own window, even though the
	 * parent's bytes go on. */
	save = subsub;
	CHECK_INT(sd_cursor_u16(&subsub, &u16), -SD_ETRUNC);
	CHECK_SAME(subsub, save);
	CHECK_INT(sd_cursor_u8(&subsub, &u8), 0);
	CHECK_INT(u8, 0x13);
	CHECK_INT(sd_cursor_end(&subsub), 0);
	CHECK_INT(sd_cursor_end(&sub), -SD_ELENGTH);

	/* A sub longer than what is left fails and moves nothing. */
	save = c;
	CHECK_INT(sd_cursor_sub(&c, 2, &sub), -SD_ETRUNC);
	CHECK_SAME(c, save);
	CHECK_INT(sd_cursor_sub(&c, 1, &sub), 0);
	CHECK_INT(sub.origin, 7);
	CHECK_INT(sd_cursor_u8(&sub, &u8), 0);
	CHECK_INT(u8, 0xcc);
	CHECK_INT(sd_cursor_end(&c), 0);
}

static void test_vec(void)
{
	/* 1-byte prefix 3, 2-byte prefix 2, 3-byte prefix 1. */
	static const uint8_t in[] = {
		0x03, 'a', 'b', 'c',
		0x00, 0x02, 'd', 'e',
		0x00, 0x00, 0x01, 'f',
		0x00,
	};
	static const uint8_t too_long1[] = { 0x05, 'a', 'b' };
	static const uint8_t too_long2[] = { 0x01, 0x00, 'a', 'b' };
	static const uint8_t too_long3[] = { 0x00, 0x01, 0x00, 'a' };
	static const uint8_t cut_prefix[] = { 0x00, 0x00 };
	struct sd_cursor c, v, save;

	sd_cursor_init(&c, in, sizeof(in));
	CHECK_INT(sd_cursor_vec(&c, 1, &v), 0);
	CHECK_INT(v.len, 3);
	CHECK_INT(v.origin, 1);
	CHECK_MEM(v.p, "abc", 3);
	CHECK_INT(sd_cursor_vec(&c, 2, &v), 0);
	CHECK_INT(v.len, 2);
	CHECK_INT(v.origin, 6);
	CHECK_MEM(v.p, "de", 2);
	CHECK_INT(sd_cursor_vec(&c, 3, &v), 0);
	CHECK_INT(v.len, 1);
	CHECK_INT(v.origin, 11);
	CHECK_MEM(v.p, "f", 1);
	/* An empty vector is fine. */
	CHECK_INT(sd_cursor_vec(&c, 1, &v), 0);
	CHECK_INT(v.len, 0);
	CHECK_INT(sd_cursor_end(&v), 0);
	CHECK_INT(sd_cursor_end(&c), 0);

	/* A prefix announcing more than the input holds: -SD_ETRUNC, and the
	 * prefix itself is not consumed either. */
	sd_cursor_init(&c, too_long1, sizeof(too_long1));
	save = c;
	CHECK_INT(sd_cursor_vec(&c, 1, &v), -SD_ETRUNC);
	CHECK_SAME(c, save);
	sd_cursor_init(&c, too_long2, sizeof(too_long2));
	save = c;
	CHECK_INT(sd_cursor_vec(&c, 2, &v), -SD_ETRUNC);
	CHECK_SAME(c, save);
	sd_cursor_init(&c, too_long3, sizeof(too_long3));
	save = c;
	CHECK_INT(sd_cursor_vec(&c, 3, &v), -SD_ETRUNC);
	CHECK_SAME(c, save);
	/* The prefix itself cut short. */
	sd_cursor_init(&c, cut_prefix, sizeof(cut_prefix));
	save = c;
	CHECK_INT(sd_cursor_vec(&c, 3, &v), -SD_ETRUNC);
	CHECK_SAME(c, save);
	/* Only 1, 2 and 3-byte prefixes exist in TLS. */
	CHECK_INT(sd_cursor_vec(&c, 0, &v), -SD_EVALUE);
	CHECK_INT(sd_cursor_vec(&c, 4, &v), -SD_EVALUE);
	CHECK_SAME(c, save);

	/* A vector inside a sub-cursor cannot reach past the sub's end. */
	sd_cursor_init(&c, in, sizeof(in));
	CHECK_INT(sd_cursor_sub(&c, 3, &v), 0);
	save = v;
	{
		struct sd_cursor w;

		CHECK_INT(sd_cursor_vec(&v, 1, &w), -SD_ETRUNC);
		CHECK_SAME(v, save);
	}
}

static void test_buf(void)
{
	struct sd_buf b = SD_BUF_INIT, b2;
	uint8_t *p;
	size_t len, m, m2;

	sd_buf_u8(&b, 0x01);
	sd_buf_u16(&b, 0x0203);
	sd_buf_u24(&b, 0x040506);
	sd_buf_u32(&b, 0x0708090a);
	sd_buf_put(&b, "xy", 2);
	sd_buf_zero(&b, 2);
	sd_buf_put(&b, NULL, 0);
	CHECK_INT(sd_buf_error(&b), 0);
	CHECK_INT(b.len, 14);
	CHECK_MEM(b.data, "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0axy\0\0", 14);

	/* Nested vectors get their prefixes filled in on close. */
	sd_buf_reset(&b);
	CHECK_INT(b.len, 0);
	m = sd_buf_vec_open(&b, 2);
	sd_buf_u8(&b, 0xaa);
	m2 = sd_buf_vec_open(&b, 1);
	sd_buf_put(&b, "abc", 3);
	sd_buf_vec_close(&b, m2, 1);
	sd_buf_vec_close(&b, m, 2);
	m = sd_buf_vec_open(&b, 3);
	sd_buf_vec_close(&b, m, 3);
	CHECK_INT(sd_buf_error(&b), 0);
	CHECK_INT(b.len, 2 + 1 + 1 + 3 + 3);
	CHECK_MEM(b.data, "\x00\x05\xaa\x03" "abc" "\x00\x00\x00", 10);

	/* reserve hands out room in place */
	p = sd_buf_reserve(&b, 2);
	CHECK(p != NULL);
	if (p)
		p[0] = 'Q', p[1] = 'R';
	CHECK_INT(b.len, 12);
	CHECK_MEM(b.data + 10, "QR", 2);

	/* Growth well past the first allocation keeps the bytes. */
	sd_buf_reset(&b);
	for (unsigned i = 0; i < 5000; i++)
		sd_buf_u8(&b, (uint8_t)i);
	CHECK_INT(sd_buf_error(&b), 0);
	CHECK_INT(b.len, 5000);
	CHECK_INT(b.data[4999], (uint8_t)4999);
	CHECK_INT(b.data[256], 0);

	/* A vector of 256 bytes does not fit a 1-byte prefix: -SD_ELENGTH,
	 * and the error sticks: later writes are ignored. */
	sd_buf_reset(&b);
	m = sd_buf_vec_open(&b, 1);
	sd_buf_zero(&b, 256);
	sd_buf_vec_close(&b, m, 1);
	CHECK_INT(sd_buf_error(&b), -SD_ELENGTH);
	len = b.len;
	sd_buf_u8(&b, 1);
	sd_buf_u16(&b, 1);
	sd_buf_put(&b, "zz", 2);
	CHECK(sd_buf_reserve(&b, 1) == NULL);
	CHECK_INT(b.len, len);
	CHECK_INT(sd_buf_error(&b), -SD_ELENGTH);
	/* The first error is the one kept. */
	sd_buf_u24(&b, 0x1000000);
	CHECK_INT(sd_buf_error(&b), -SD_ELENGTH);
	/* reset clears it */
	sd_buf_reset(&b);
	CHECK_INT(sd_buf_error(&b), 0);

	/* 255 fits exactly; 65536 does not fit two bytes. */
	m = sd_buf_vec_open(&b, 1);
	sd_buf_zero(&b, 255);
	sd_buf_vec_close(&b, m, 1);
	CHECK_INT(sd_buf_error(&b), 0);
	CHECK_INT(b.data[0], 255);
	sd_buf_reset(&b);
	m = sd_buf_vec_open(&b, 2);
	sd_buf_zero(&b, 65535);
	sd_buf_vec_close(&b, m, 2);
	CHECK_INT(sd_buf_error(&b), 0);
	CHECK_INT(b.data[0], 0xff);
	CHECK_INT(b.data[1], 0xff);
	sd_buf_reset(&b);
	m = sd_buf_vec_open(&b, 2);
	sd_buf_zero(&b, 65536);
	sd_buf_vec_close(&b, m, 2);
	CHECK_INT(sd_buf_error(&b), -SD_ELENGTH);

	/* A u24 over 2^24 - 1 cannot be written. */
	sd_buf_reset(&b);
	sd_buf_u24(&b, 0x1000000);
	CHECK_INT(sd_buf_error(&b), -SD_ELENGTH);

	/* A bad prefix width or a mark past the end is a caller bug. */
	sd_buf_reset(&b);
	sd_buf_u8(&b, 0);
	sd_buf_vec_close(&b, 0, 4);
	CHECK_INT(sd_buf_error(&b), -SD_EVALUE);
	sd_buf_reset(&b);
	sd_buf_vec_close(&b, 5, 1);
	CHECK_INT(sd_buf_error(&b), -SD_EVALUE);

	/* steal hands over the bytes and leaves the buffer empty and usable. */
	sd_buf_reset(&b);
	sd_buf_put(&b, "hello", 5);
	p = sd_buf_steal(&b, &len);
	CHECK(p != NULL);
	CHECK_INT(len, 5);
	if (p)
		CHECK_MEM(p, "hello", 5);
	free(p);
	CHECK(b.data == NULL);
	CHECK_INT(b.len, 0);
	CHECK_INT(b.cap, 0);
	CHECK_INT(sd_buf_error(&b), 0);
	sd_buf_u8(&b, 7);
	CHECK_INT(b.len, 1);
	sd_buf_free(&b);
	CHECK(b.data == NULL);
	CHECK_INT(b.len, 0);

	/* steal of an empty buffer */
	sd_buf_init(&b2);
	p = sd_buf_steal(&b2, &len);
	CHECK(p == NULL);
	CHECK_INT(len, 0);
}

int main(void)
{
	test_readers();
	test_empty();
	test_sub();
	test_vec();
	test_buf();
	return check_done();
}
