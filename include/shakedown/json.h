/* SPDX-License-Identifier: MIT */
/*
 * A small streaming JSON writer into an sd_buf: objects, arrays, strings
 * escaped per RFC 8259 §7 (invalid UTF-8 replaced by U+FFFD), integers.
 * Pretty-printed with two-space indents, so diffs of reports stay readable.
 */
#ifndef SHAKEDOWN_JSON_H
#define SHAKEDOWN_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shakedown/buf.h"

#define SD_JSON_MAX_DEPTH 32

struct sd_json {
	struct sd_buf *out;
	int depth;
	bool first[SD_JSON_MAX_DEPTH];
	bool after_key;
	bool pretty;
};

void sd_json_init(struct sd_json *j, struct sd_buf *out, bool pretty);
void sd_json_obj_open(struct sd_json *j);
void sd_json_obj_close(struct sd_json *j);
void sd_json_arr_open(struct sd_json *j);
void sd_json_arr_close(struct sd_json *j);
void sd_json_key(struct sd_json *j, const char *key);
void sd_json_str(struct sd_json *j, const char *s);
void sd_json_strn(struct sd_json *j, const void *s, size_t n);
void sd_json_int(struct sd_json *j, long long v);
void sd_json_uint(struct sd_json *j, unsigned long long v);
/* v / 1000 as a decimal number with three places: 12 -> 0.012 (µs as ms). */
void sd_json_milli(struct sd_json *j, long long v);
void sd_json_bool(struct sd_json *j, bool v);
void sd_json_null(struct sd_json *j);
/* key + value in one call */
void sd_json_kstr(struct sd_json *j, const char *key, const char *s);
void sd_json_kint(struct sd_json *j, const char *key, long long v);
void sd_json_kbool(struct sd_json *j, const char *key, bool v);

#endif
