/* SPDX-License-Identifier: MIT */
/* Reports of what the wire core found: ClientHello and ServerHello views as
 * JSON (the stable schema in docs/json.md) and as text for people. */
#ifndef SHAKEDOWN_REPORT_H
#define SHAKEDOWN_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shakedown/buf.h"
#include "shakedown/hello.h"
#include "shakedown/json.h"

/* Context that is not in the ClientHello itself. Unset fields are omitted. */
struct sd_hello_report {
	const char *profile;
	const char *seed;
	const char *stream;          /* "src:port > dst:port" for captures */
	const uint32_t *segments;    /* TCP payload sizes, in order */
	size_t nsegments;
	const uint16_t *records;     /* record fragment lengths */
	size_t nrecords;
	size_t wire_length;          /* bytes on the wire incl. record headers */
	int index;                   /* 1 for the first ClientHello of a stream, 2 after an HRR */
};

void sd_report_hello_json(struct sd_json *j, const struct sd_hello *h,
			  const struct sd_hello_report *r);
void sd_report_hello_text(struct sd_buf *out, const struct sd_hello *h,
			  const struct sd_hello_report *r);

void sd_report_server_hello_json(struct sd_json *j, const struct sd_server_hello *s,
				 const char *stream);
void sd_report_server_hello_text(struct sd_buf *out, const struct sd_server_hello *s,
				 const char *stream);

/* printf into a buffer. */
void sd_buf_printf(struct sd_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* printf appended at out + *w (out holds n bytes), always NUL-terminated;
 * *w counts what would have been written, so *w >= n means cut short. */
void sd_put(char *out, size_t n, size_t *w, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
