/* SPDX-License-Identifier: MIT */
/* Fuzz target: any bytes as a ClientHello (with its field map and reports) and as a ServerHello. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shakedown/buf.h"
#include "shakedown/hello.h"
#include "shakedown/json.h"
#include "shakedown/report.h"

/* Reads every byte of a view so that ASan sees a view outside the input. */
static volatile unsigned sink;

static void touch(const uint8_t *p, size_t n)
{
	unsigned s = 0;

	for (size_t i = 0; i < n; i++)
		s += p[i];
	sink += s;
}

/* A view must lie inside the message: the parser promises it. */
static void inside(const struct sd_hello *h, const uint8_t *p, size_t n)
{
	if (n == 0)
		return;
	if (p < h->msg || p + n > h->msg + h->len)
		abort();
	touch(p, n);
}

struct walk {
	const struct sd_hello *h;
	size_t next;
};

/* Top-level fields tile the message with no gap and no overlap. */
static void on_field(void *ctx, int depth, const char *name, size_t offset, size_t len)
{
	struct walk *w = ctx;

	if (!name || offset + len > w->h->len)
		abort();
	if (depth == 0) {
		if (offset != w->next)
			abort();
		w->next = offset + len;
	}
}

static void client_hello(const uint8_t *data, size_t size)
{
	static struct sd_hello h;
	struct sd_hello_report r = { .profile = "fuzz", .index = 1 };
	struct sd_buf out = SD_BUF_INIT;
	struct walk w = { &h, 0 };
	struct sd_json j;
	char name[96];

	if (sd_hello_parse(data, size, &h) < 0)
		return;
	if (h.msg != data || h.len != size)
		abort();
	inside(&h, h.random, 32);
	for (size_t i = 0; i < h.next; i++) {
		if (h.ext[i].offset + 4 + h.ext[i].len > h.len)
			abort();
		inside(&h, h.ext[i].body, h.ext[i].len);
		if (h.ext[i].len && h.ext[i].body != h.msg + h.ext[i].offset + 4)
			abort();
	}
	for (size_t i = 0; i < h.nshares; i++) {
		inside(&h, h.shares[i].data, h.shares[i].len);
		if (h.shares[i].len && h.shares[i].data != h.msg + h.shares[i].offset)
			abort();
	}
	for (size_t i = 0; i < h.nalpn; i++)
		inside(&h, h.alpn[i], h.alpn_len[i]);
	inside(&h, h.sni, h.sni_len);
	inside(&h, h.cookie, h.cookie_len);

	/* Every offset, and one past the end, names something. */
	for (size_t off = 0; off <= h.len; off++) {
		size_t n = sd_hello_field_at(&h, off, name, sizeof(name));

		if (n >= sizeof(name) || strlen(name) != n || n == 0)
			abort();
	}
	/* Short buffers truncate and still terminate. */
	if (sd_hello_field_at(&h, h.len / 2, name, 1) != 0 || name[0])
		abort();
	sd_hello_fields(&h, on_field, &w);
	if (w.next != h.len)
		abort();

	sd_json_init(&j, &out, true);
	sd_report_hello_json(&j, &h, &r);
	if (sd_buf_error(&out) < 0)
		abort();
	sd_report_hello_text(&out, &h, &r);
	sd_buf_free(&out);
}

static void server_hello(const uint8_t *data, size_t size)
{
	struct sd_server_hello s;
	struct sd_buf out = SD_BUF_INIT;
	struct sd_json j;

	if (sd_server_hello_parse(data, size, &s) < 0)
		return;
	touch(s.random, 32);
	touch(s.share, s.share_len);
	touch(s.cookie, s.cookie_len);
	if (s.hrr && s.share_len)
		abort();
	sd_json_init(&j, &out, false);
	sd_report_server_hello_json(&j, &s, "fuzz");
	sd_report_server_hello_text(&out, &s, NULL);
	if (sd_buf_error(&out) < 0)
		abort();
	sd_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	client_hello(data, size);
	server_hello(data, size);
	return 0;
}
