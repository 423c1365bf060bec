/* SPDX-License-Identifier: MIT */
/* Streaming JSON writer. */
#include <stdio.h>
#include <string.h>

#include "shakedown/json.h"

void sd_json_init(struct sd_json *j, struct sd_buf *out, bool pretty)
{
	memset(j, 0, sizeof(*j));
	j->out = out;
	j->pretty = pretty;
	j->first[0] = true;
}

static void newline(struct sd_json *j)
{
	if (!j->pretty)
		return;
	sd_buf_u8(j->out, '\n');
	for (int i = 0; i < j->depth; i++)
		sd_buf_put(j->out, "  ", 2);
}

/* Separator and indentation before a value or key. */
static void before(struct sd_json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (!j->first[j->depth])
		sd_buf_u8(j->out, ',');
	j->first[j->depth] = false;
	if (j->depth > 0)
		newline(j);
}

static void open(struct sd_json *j, char c)
{
	before(j);
	sd_buf_u8(j->out, (uint8_t)c);
	if (j->depth + 1 < SD_JSON_MAX_DEPTH)
		j->depth++;
	else if (!j->out->err)
		j->out->err = -SD_ELIMIT;
	j->first[j->depth] = true;
}

static void close_(struct sd_json *j, char c)
{
	bool empty = j->first[j->depth];

	if (j->depth > 0)
		j->depth--;
	if (!empty)
		newline(j);
	sd_buf_u8(j->out, (uint8_t)c);
	if (j->depth == 0 && j->pretty)
		sd_buf_u8(j->out, '\n');
}

void sd_json_obj_open(struct sd_json *j) { open(j, '{'); }
void sd_json_obj_close(struct sd_json *j) { close_(j, '}'); }
void sd_json_arr_open(struct sd_json *j) { open(j, '['); }
void sd_json_arr_close(struct sd_json *j) { close_(j, ']'); }

/* Length of a valid UTF-8 sequence at s (RFC 3629 §4), or 0. */
static size_t utf8_len(const uint8_t *s, size_t n)
{
	uint32_t cp;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

void sd_json_strn(struct sd_json *j, const void *str, size_t n)
{
	const uint8_t *s = str;

	before(j);
	sd_buf_u8(j->out, '"');
	for (size_t i = 0; i < n;) {
		uint8_t c = s[i];
		size_t l;
		char esc[8];

		if (c == '"' || c == '\\') {
			sd_buf_u8(j->out, '\\');
			sd_buf_u8(j->out, c);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			sd_buf_put(j->out, esc, 6);
			i++;
		} else if ((l = utf8_len(s + i, n - i)) > 0) {
			sd_buf_put(j->out, s + i, l);
			i += l;
		} else {
			sd_buf_put(j->out, "\\ufffd", 6);
			i++;
		}
	}
	sd_buf_u8(j->out, '"');
}

void sd_json_str(struct sd_json *j, const char *s)
{
	if (!s) {
		sd_json_null(j);
		return;
	}
	sd_json_strn(j, s, strlen(s));
}

void sd_json_key(struct sd_json *j, const char *key)
{
	sd_json_str(j, key);
	sd_buf_put(j->out, j->pretty ? ": " : ":", j->pretty ? 2 : 1);
	j->after_key = true;
}

void sd_json_int(struct sd_json *j, long long v)
{
	char t[32];
	int n = snprintf(t, sizeof(t), "%lld", v);

	before(j);
	sd_buf_put(j->out, t, (size_t)n);
}

void sd_json_milli(struct sd_json *j, long long v)
{
	char t[40];
	unsigned long long a = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	int n = snprintf(t, sizeof(t), "%s%llu.%03llu", v < 0 ? "-" : "", a / 1000, a % 1000);

	before(j);
	sd_buf_put(j->out, t, (size_t)n);
}

void sd_json_uint(struct sd_json *j, unsigned long long v)
{
	char t[32];
	int n = snprintf(t, sizeof(t), "%llu", v);

	before(j);
	sd_buf_put(j->out, t, (size_t)n);
}

void sd_json_bool(struct sd_json *j, bool v)
{
	before(j);
	sd_buf_put(j->out, v ? "true" : "false", v ? 4 : 5);
}

void sd_json_null(struct sd_json *j)
{
	before(j);
	sd_buf_put(j->out, "null", 4);
}

void sd_json_kstr(struct sd_json *j, const char *key, const char *s)
{
	sd_json_key(j, key);
	sd_json_str(j, s);
}

void sd_json_kint(struct sd_json *j, const char *key, long long v)
{
	sd_json_key(j, key);
	sd_json_int(j, v);
}

void sd_json_kbool(struct sd_json *j, const char *key, bool v)
{
	sd_json_key(j, key);
	sd_json_bool(j, v);
}
