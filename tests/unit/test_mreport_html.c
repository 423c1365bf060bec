/* SPDX-License-Identifier: MIT */
/*
 * The HTML matrix report: structure and hooks on the sample document,
 * escaping of hostile strings (markup and inline JSON), and the error
 * contract. Also a driver until the CLI can render pages:
 * `test_mreport_html DOC.json OUT.html` writes DOC's page to OUT.
 */
#include <errno.h>
#include <stdlib.h>

#include "check.h"
#include "shakedown/mreport.h"
#include "shakedown/verdict.h"

static struct sd_buf out;
static char *page;

/* Renders doc into page (a C string); returns sd_mreport_html's result. */
static int render(const json_t *doc)
{
	int ret;

	free(page);
	page = NULL;
	sd_buf_reset(&out);
	ret = sd_mreport_html(doc, &out);
	page = malloc(out.len + 1);
	if (!page)
		abort();
	if (out.len)
		memcpy(page, out.data, out.len);
	page[out.len] = 0;
	return ret;
}

static size_t count(const char *needle)
{
	size_t n = 0;

	for (const char *p = page; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

#define HAS(s) CHECK(strstr(page, (s)) != NULL)
#define LACKS(s) CHECK(strstr(page, (s)) == NULL)

/* Whether the markup (the page before its first script) holds s. */
static bool in_markup(const char *s)
{
	const char *end = strstr(page, "<script");
	const char *at = strstr(page, s);

	return at && (!end || at < end);
}

static void test_sample(void)
{
	json_error_t jerr;
	json_t *doc = json_load_file(SD_TEST_DATA "/matrix/sample.json", 0, &jerr);

	CHECK(doc != NULL);
	if (!doc)
		return;
	CHECK_INT(render(doc), 0);
	CHECK(strncmp(page, "<!DOCTYPE html>", 15) == 0);
	/* One heatmap element per cell, with its hooks in a fixed order. */
	CHECK_INT(count("data-cell-id=\""), 8);
	CHECK_INT(count("data-pass=\"false\""), 1);
	CHECK_INT(count("data-pass=\"true\""), 7);
	CHECK_INT(count("data-outcome=\"ok\" data-pass"), 6);
	HAS("<a class=\"cell o-reset miss\" href=\"#cell=chrome-pq/clean/single-read/gap:50\" "
	    "data-cell-id=\"chrome-pq/clean/single-read/gap:50\" data-outcome=\"reset\" data-pass=\"false\"");
	HAS("data-cell-id=\"chrome-pq/tunnel-1280-blackhole/openssl\" data-outcome=\"blackhole\" data-pass=\"true\"");
	/* Panels: openssl/mss/ipv4 and single-read/gap:50/ipv4. */
	CHECK_INT(count("<section class=\"panel\""), 2);
	HAS("data-server=\"single-read\" data-shape=\"gap:50\" data-family=\"ipv4\"");
	/* Summary and tooltip. */
	HAS("id=\"s-cells\"><span class=\"v\">8</span>");
	HAS("id=\"s-failed\"><span class=\"v\">1</span>");
	HAS("<span class=\"v\">812 ms</span>");
	HAS("title=\"chrome-pq/clean/single-read/gap:50&#10;outcome: reset&#10;expected: ok|ok-hrr \xe2\x80\x94 MISSED&#10;RST from server");
	/* The legend names every outcome; the missed list holds the one miss. */
	for (int i = 0; i < SD_OUTCOME_MAX; i++) {
		char want[64];

		snprintf(want, sizeof(want), "<dt class=\"badge o-%s\">", sd_outcome_name((enum sd_outcome)i));
		HAS(want);
	}
	HAS("<h2>Missed expectations (1)</h2>");
	/* Self-contained: nothing fetched, and the data and script inline. */
	LACKS("http://");
	LACKS("https://");
	LACKS(" src=");
	LACKS("<link");
	HAS("id=\"drilldown\"");
	HAS("<script type=\"application/json\" id=\"sd-data\">{\"schema\":\"shakedown-matrix/1\"");
	HAS("function openCell(");
	HAS("--o-blackhole:");
	/* Three scripts (outcomes, data, code): the assets cannot close them early. */
	CHECK_INT(count("<script"), 3);
	CHECK_INT(count("</script>"), 3);
	CHECK_INT(count("</style>"), 1);
	LACKS("<!--");
	json_decref(doc);
}

static void test_escaping(void)
{
	json_t *doc = json_pack(
		"{s:s, s:{s:s, s:s}, s:[{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:{s:s}}]}",
		"schema", SD_MREPORT_SCHEMA,
		"matrix", "name", "<b>m</b>", "description", "a & b",
		"cells",
		"id", "</script><script>alert(1)</script>",
		"profile", "<img src=x onerror=alert(1)>",
		"path", "a\"b'c&d",
		"server", "s\n1",
		"shape", "x",
		"family", "ipv4",
		"outcome", "okay<b>",
		"expected", "ok",
		"pass", 0,
		"detail", "text", "<!--<script>");

	CHECK(doc != NULL);
	if (!doc)
		return;
	/* No "summary": the page counts the cells itself. */
	CHECK_INT(render(doc), 0);
	CHECK(!in_markup("<img"));
	CHECK(!in_markup("<b>m"));
	CHECK(!in_markup("okay<b>"));
	LACKS("alert(1)</script>");
	HAS("<h1>&lt;b&gt;m&lt;/b&gt;</h1>");
	HAS("<p class=\"desc\">a &amp; b</p>");
	HAS("<th scope=\"row\">&lt;img src=x onerror=alert(1)&gt;</th>");
	HAS("<th scope=\"col\">a&quot;b&#39;c&amp;d</th>");
	HAS("data-server=\"s&#10;1\"");
	HAS("<a class=\"cell o-unknown miss\" href=\"#cell=%3C/script%3E%3Cscript%3Ealert%281%29%3C/script%3E\" "
	    "data-cell-id=\"&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;\" data-outcome=\"okay&lt;b&gt;\"");
	/* The inline JSON keeps the strings but cannot end its script or open a comment. */
	HAS("\"id\":\"<\\/script><script>alert(1)<\\/script>\"");
	HAS("\"text\":\"\\u003c!--<script>\"");
	CHECK_INT(count("</script>"), 3);
	LACKS("<!--");
	HAS("id=\"s-failed\"><span class=\"v\">1</span>");
	HAS("id=\"s-cells\"><span class=\"v\">1</span>");
	json_decref(doc);
}

static void test_errors(void)
{
	json_t *doc = json_array();

	CHECK_INT(render(doc), -SD_EVALUE);
	json_decref(doc);
	doc = json_pack("{s:s}", "schema", SD_MREPORT_SCHEMA);
	CHECK_INT(render(doc), -SD_EVALUE);
	json_decref(doc);
	CHECK_INT(render(NULL), -SD_EVALUE);

	/* No cells is a page that says so. */
	doc = json_pack("{s:s, s:[]}", "schema", SD_MREPORT_SCHEMA, "cells");
	CHECK_INT(render(doc), 0);
	HAS("This document holds no cells.");
	HAS("Every cell met its expectation.");
	CHECK_INT(count("data-cell-id="), 0);
	json_decref(doc);
}

/* The driver: renders a document file to a page file. */
static int render_file(const char *in, const char *outpath)
{
	json_error_t jerr;
	json_t *doc = json_load_file(in, 0, &jerr);
	FILE *f;
	int ret;

	if (!doc) {
		fprintf(stderr, "%s:%d: %s\n", in, jerr.line, jerr.text);
		return 2;
	}
	ret = render(doc);
	json_decref(doc);
	if (ret < 0) {
		fprintf(stderr, "rendering %s: %s\n", in, sd_strerror(ret));
		return 1;
	}
	f = fopen(outpath, "w");
	if (!f || fwrite(out.data, 1, out.len, f) != out.len || fclose(f) != 0) {
		perror(outpath);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int ret;

	if (argc == 3) {
		ret = render_file(argv[1], argv[2]);
	} else {
		test_sample();
		test_escaping();
		test_errors();
		ret = check_done();
	}
	free(page);
	sd_buf_free(&out);
	return ret;
}
