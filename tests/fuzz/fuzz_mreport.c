/* SPDX-License-Identifier: MIT */
/* Fuzz target: any bytes as a matrix document; what loads must dump, reload, render, diff and merge. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shakedown/mreport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A message is one non-empty line. */
static void check_msg(const char *msg)
{
	if (!msg[0] || strchr(msg, '\n') || strchr(msg, '\r'))
		abort();
}

/* JUnit text must hold only XML 1.0 characters (no C0 controls but tab and line breaks). */
static void check_xml_chars(const struct sd_buf *b)
{
	for (size_t i = 0; i < b->len; i++)
		if (b->data[i] < 0x20 && b->data[i] != '\t' && b->data[i] != '\n' && b->data[i] != '\r')
			abort();
}

/* Terminal text carries no control characters but its own colour codes. */
static void check_terminal(const struct sd_buf *b, bool color)
{
	for (size_t i = 0; i < b->len; i++) {
		uint8_t c = b->data[i];

		if (c == 0x1b && color && i + 1 < b->len && b->data[i + 1] == '[')
			continue;
		if ((c < 0x20 && c != '\n') || c == 0x7f)
			abort();
	}
}

static int diff_changed(const json_t *doc)
{
	struct sd_buf b = SD_BUF_INIT;
	json_t *nd = json_deep_copy(doc), *cells, *res = NULL;
	size_t n, want = 0, reg = 0;
	int ret = -1;

	if (!nd)
		return 0;
	cells = json_object_get(nd, "cells");
	n = json_array_size(cells);
	for (size_t i = 0; i + 1 < n; i += 2) {
		json_t *c = json_array_get(cells, i);

		if (!json_is_true(json_object_get(c, "pass")))
			continue;
		json_object_set_new(c, "pass", json_false());
		json_object_set_new(c, "outcome", json_string("mangled"));
		want++;
	}
	if (n)
		json_array_remove(cells, n - 1);
	if (sd_mreport_summarize(nd) < 0)
		goto out;
	if (sd_mreport_diff(doc, nd, false, &(struct sd_mreport_text_opts){ .utf8 = true }, &b, &reg) < 0 ||
	    reg != want)
		goto out;
	sd_buf_reset(&b);
	if (sd_mreport_diff(doc, nd, true, NULL, &b, &reg) < 0 || reg != want)
		goto out;
	res = json_loadb((const char *)b.data, b.len, 0, NULL);
	if (!res || json_array_size(json_object_get(res, "regressions")) != want ||
	    json_array_size(json_object_get(res, "removed")) != (n ? 1 : 0) ||
	    json_array_size(json_object_get(res, "added")) != 0)
		goto out;
	ret = 0;
out:
	json_decref(res);
	json_decref(nd);
	sd_buf_free(&b);
	return ret;
}

static void exercise(json_t *doc)
{
	struct sd_buf b = SD_BUF_INIT;
	json_t *again = NULL, *merged = NULL;
	char msg[256];
	size_t reg = 1;
	int ret;

	/* dump, then load: the same tree. */
	if (sd_mreport_dump(doc, &b) < 0)
		abort();
	if (sd_mreport_load((const char *)b.data, b.len, &again, msg, sizeof(msg)) < 0 || !json_equal(doc, again))
		abort();
	json_decref(again);

	for (int k = 0; k < 4; k++) {
		struct sd_mreport_text_opts o = { .color = k & 1, .utf8 = k & 2, .width = k == 3 ? 40 : 0 };

		sd_buf_reset(&b);
		if (sd_mreport_text(doc, &o, &b) < 0)
			abort();
		check_terminal(&b, o.color);
	}
	sd_buf_reset(&b);
	if (sd_mreport_junit(doc, &b) < 0)
		abort();
	check_xml_chars(&b);
	sd_buf_reset(&b);
	if (sd_mreport_markdown(doc, &b) < 0)
		abort();
	sd_buf_reset(&b);
	if (sd_mreport_diff(doc, doc, false, NULL, &b, &reg) < 0 || reg != 0 ||
	    strncmp((const char *)b.data, "no differences", 14) != 0)
		abort();
	sd_buf_reset(&b);
	if (sd_mreport_diff(doc, doc, true, NULL, &b, &reg) < 0 || reg != 0)
		abort();

	/* Against a copy where every other passing cell fails and the last
	 * cell is gone: exactly those are regressions. */
	if (diff_changed(doc) < 0)
		abort();

	/* A document merges alone exactly when it holds every cell. */
	ret = sd_mreport_merge(&doc, 1, &merged, msg, sizeof(msg));
	if (ret == 0) {
		if (json_array_size(json_object_get(doc, "cells")) !=
			    (size_t)json_integer_value(json_object_get(json_object_get(doc, "matrix"), "cells")) ||
		    !json_equal(json_object_get(doc, "cells"), json_object_get(merged, "cells")) ||
		    !json_equal(json_object_get(doc, "summary"), json_object_get(merged, "summary")))
			abort();
		json_decref(merged);
	} else if (ret != -ENOMEM) {
		check_msg(msg);
	}
	sd_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *doc = NULL;
	char msg[256];
	int ret;

	ret = sd_mreport_load((const char *)data, size, &doc, msg, sizeof(msg));
	if (ret == 0) {
		exercise(doc);
		json_decref(doc);
		return 0;
	}
	if (ret != -SD_ESYNTAX && ret != -SD_EVALUE && ret != -ENOMEM)
		abort();
	if (ret != -ENOMEM)
		check_msg(msg);
	if (doc)
		abort();

	/* A summary that disagrees with its cells is the cheapest thing to
	 * get wrong; recomputing it lets the renderers see more inputs. */
	doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (!doc)
		return 0;
	if (sd_mreport_summarize(doc) == 0 && sd_mreport_validate(doc, msg, sizeof(msg)) == 0)
		exercise(doc);
	json_decref(doc);
	return 0;
}
