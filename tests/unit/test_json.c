/* SPDX-License-Identifier: MIT */
/* The JSON writer: structure, separators, string escaping, UTF-8 repair. */
#include "check.h"
#include "shakedown/json.h"

static struct sd_buf out;
static char text[4096];

/* The buffer as a C string, for CHECK_STR. */
static const char *str(void)
{
	size_t n = out.len < sizeof(text) - 1 ? out.len : sizeof(text) - 1;

	if (n)
		memcpy(text, out.data, n);
	text[n] = 0;
	return text;
}

/* One string value written compactly. */
static const char *esc(const void *s, size_t n)
{
	struct sd_json j;

	sd_buf_reset(&out);
	sd_json_init(&j, &out, false);
	sd_json_strn(&j, s, n);
	return str();
}

#define ESC(lit) esc(lit, sizeof(lit) - 1)

static void test_compact(void)
{
	struct sd_json j;

	sd_buf_reset(&out);
	sd_json_init(&j, &out, false);
	sd_json_obj_open(&j);
	sd_json_kstr(&j, "a", "x");
	sd_json_key(&j, "b");
	sd_json_arr_open(&j);
	sd_json_int(&j, 1);
	sd_json_int(&j, -2);
	sd_json_uint(&j, 18446744073709551615ull);
	sd_json_bool(&j, true);
	sd_json_bool(&j, false);
	sd_json_null(&j);
	sd_json_str(&j, NULL);
	sd_json_arr_close(&j);
	sd_json_key(&j, "c");
	sd_json_obj_open(&j);
	sd_json_obj_close(&j);
	sd_json_key(&j, "d");
	sd_json_arr_open(&j);
	sd_json_arr_close(&j);
	sd_json_key(&j, "e");
	sd_json_arr_open(&j);
	sd_json_obj_open(&j);
	sd_json_kint(&j, "n", -9223372036854775807ll - 1);
	sd_json_kbool(&j, "t", true);
	sd_json_obj_close(&j);
	sd_json_obj_open(&j);
	sd_json_obj_close(&j);
	sd_json_arr_open(&j);
	sd_json_arr_open(&j);
	sd_json_arr_close(&j);
	sd_json_arr_close(&j);
	sd_json_arr_close(&j);
	sd_json_obj_close(&j);
	CHECK_INT(sd_buf_error(&out), 0);
	CHECK_STR(str(), "{\"a\":\"x\",\"b\":[1,-2,18446744073709551615,true,false,null,null],"
		  "\"c\":{},\"d\":[],\"e\":[{\"n\":-9223372036854775808,\"t\":true},{},[[]]]}");

	/* Top-level scalars and an empty top-level array. */
	sd_buf_reset(&out);
	sd_json_init(&j, &out, false);
	sd_json_arr_open(&j);
	sd_json_arr_close(&j);
	CHECK_STR(str(), "[]");
	sd_buf_reset(&out);
	sd_json_init(&j, &out, false);
	sd_json_obj_open(&j);
	sd_json_obj_close(&j);
	CHECK_STR(str(), "{}");
}

static void test_pretty(void)
{
	struct sd_json j;

	sd_buf_reset(&out);
	sd_json_init(&j, &out, true);
	sd_json_obj_open(&j);
	sd_json_kint(&j, "a", 1);
	sd_json_key(&j, "b");
	sd_json_arr_open(&j);
	sd_json_str(&j, "x");
	sd_json_obj_open(&j);
	sd_json_kstr(&j, "k", "v");
	sd_json_obj_close(&j);
	sd_json_arr_close(&j);
	sd_json_key(&j, "c");
	sd_json_obj_open(&j);
	sd_json_obj_close(&j);
	sd_json_key(&j, "d");
	sd_json_arr_open(&j);
	sd_json_arr_close(&j);
	sd_json_obj_close(&j);
	CHECK_INT(sd_buf_error(&out), 0);
	CHECK_STR(str(),
		  "{\n"
		  "  \"a\": 1,\n"
		  "  \"b\": [\n"
		  "    \"x\",\n"
		  "    {\n"
		  "      \"k\": \"v\"\n"
		  "    }\n"
		  "  ],\n"
		  "  \"c\": {},\n"
		  "  \"d\": []\n"
		  "}\n");
}

static void test_escaping(void)
{
	/* RFC 8259 §7: quote, backslash and control characters escaped. */
	CHECK_STR(ESC("plain"), "\"plain\"");
	CHECK_STR(ESC(""), "\"\"");
	CHECK_STR(ESC("a\"b\\c/d"), "\"a\\\"b\\\\c/d\"");
	CHECK_STR(ESC("\n\r\t\b\f"), "\"\\u000a\\u000d\\u0009\\u0008\\u000c\"");
	CHECK_STR(ESC("\x01\x1f\x7f"), "\"\\u0001\\u001f\\u007f\"");
	/* An embedded NUL is data, not the end (strn). */
	CHECK_STR(ESC("a\0b"), "\"a\\u0000b\"");
	/* Keys are escaped too. */
	{
		struct sd_json j;

		sd_buf_reset(&out);
		sd_json_init(&j, &out, false);
		sd_json_obj_open(&j);
		sd_json_kstr(&j, "k\"ey", "v\\");
		sd_json_obj_close(&j);
		CHECK_STR(str(), "{\"k\\\"ey\":\"v\\\\\"}");
	}
}

static void test_utf8(void)
{
	/* Valid multibyte sequences are kept as they are. */
	CHECK_STR(ESC("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
	CHECK_STR(ESC("\xe2\x82\xac 5"), "\"\xe2\x82\xac 5\"");
	CHECK_STR(ESC("\xf0\x9f\x98\x80"), "\"\xf0\x9f\x98\x80\"");
	CHECK_STR(ESC("\xf4\x8f\xbf\xbf"), "\"\xf4\x8f\xbf\xbf\"");            /* U+10FFFF */
	CHECK_STR(ESC("\xef\xbf\xbd"), "\"\xef\xbf\xbd\"");                    /* U+FFFD itself */

	/* Invalid bytes each become U+FFFD, and the rest survives. */
	CHECK_STR(ESC("\xff"), "\"\\ufffd\"");
	CHECK_STR(ESC("a\x80z"), "\"a\\ufffdz\"");
	CHECK_STR(ESC("\xc3\x28"), "\"\\ufffd(\"");                           /* bad continuation */
	CHECK_STR(ESC("\xc0\xaf"), "\"\\ufffd\\ufffd\"");                     /* overlong '/' */
	CHECK_STR(ESC("\xe0\x80\xaf"), "\"\\ufffd\\ufffd\\ufffd\"");          /* overlong, 3 bytes */
	CHECK_STR(ESC("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");          /* surrogate */
	CHECK_STR(ESC("\xf4\x90\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* > U+10FFFF */
	CHECK_STR(ESC("\xf8\x88\x80\x80\x80"),
		  "\"\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"");                   /* 5-byte form */
	/* A sequence cut by the end of the string. */
	CHECK_STR(ESC("ok\xe2\x82"), "\"ok\\ufffd\\ufffd\"");
	CHECK_STR(ESC("\xf0\x9f\x98"), "\"\\ufffd\\ufffd\\ufffd\"");
	/* strn stops at n even inside a valid sequence. */
	CHECK_STR(esc("\xc3\xa9", 1), "\"\\ufffd\"");
}

static void test_depth(void)
{
	struct sd_json j;

	/* SD_JSON_MAX_DEPTH - 1 levels fit. */
	sd_buf_reset(&out);
	sd_json_init(&j, &out, false);
	for (int i = 0; i < SD_JSON_MAX_DEPTH - 1; i++)
		sd_json_arr_open(&j);
	for (int i = 0; i < SD_JSON_MAX_DEPTH - 1; i++)
		sd_json_arr_close(&j);
	CHECK_INT(sd_buf_error(&out), 0);
	CHECK_INT(out.len, 2 * (SD_JSON_MAX_DEPTH - 1));
	/* One more is an error the builder reports, not a write out of bounds. */
	sd_buf_reset(&out);
	sd_json_init(&j, &out, true);
	for (int i = 0; i < SD_JSON_MAX_DEPTH + 5; i++)
		sd_json_obj_open(&j);
	for (int i = 0; i < SD_JSON_MAX_DEPTH + 5; i++)
		sd_json_obj_close(&j);
	CHECK_INT(sd_buf_error(&out), -SD_ELIMIT);
}

int main(void)
{
	test_compact();
	test_pretty();
	test_escaping();
	test_utf8();
	test_depth();
	sd_buf_free(&out);
	return check_done();
}
