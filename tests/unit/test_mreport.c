/* SPDX-License-Identifier: MIT */
/* Matrix documents: validation messages, dump, summary, merge, diff and every text renderer. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "shakedown/mreport.h"

static char *sample_text;
static size_t sample_len;
static json_t *sample;

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
			buf[n] = 0;
			*len = (size_t)n;
		} else {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

/* A renderer's output as a NUL-terminated string (the caller frees it). */
static char *cstr(struct sd_buf *b)
{
	char *s;

	sd_buf_u8(b, 0);
	s = (char *)sd_buf_steal(b, &(size_t){ 0 });
	return s ? s : calloc(1, 1);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static json_t *load_file(const char *name)
{
	char path[512], msg[256];
	size_t len = 0;
	char *text;
	json_t *doc = NULL;

	snprintf(path, sizeof(path), "%s/matrix/%s", SD_TEST_DATA, name);
	text = slurp(path, &len);
	CHECK(text != NULL);
	if (!text)
		return NULL;
	CHECK_INT(sd_mreport_load(text, len, &doc, msg, sizeof(msg)), 0);
	if (!doc)
		fprintf(stderr, "%s: %s\n", name, msg);
	free(text);
	return doc;
}

static json_t *cell(json_t *doc, size_t i)
{
	return json_array_get(json_object_get(doc, "cells"), i);
}

/* ---- load and validate --------------------------------------------------- */

static void test_load_sample(void)
{
	char msg[256];
	struct sd_buf b = SD_BUF_INIT;
	char *s;

	CHECK(sample != NULL);
	CHECK_INT(json_array_size(json_object_get(sample, "cells")), 8);
	CHECK_INT(sd_mreport_validate(sample, msg, sizeof(msg)), 0);
	CHECK_STR(msg, "");

	/* dump: the way the file itself is written, plus a final newline. */
	CHECK_INT(sd_mreport_dump(sample, &b), 0);
	CHECK_INT(b.len, sample_len + 1);
	s = cstr(&b);
	CHECK(strncmp(s, sample_text, sample_len) == 0);
	CHECK(s[sample_len] == '\n');
	free(s);
}

/* Dumps doc, then loads the text: the message and code it must fail with. */
static void expect_reject(json_t *doc, int code, const char *want, int line)
{
	struct sd_buf b = SD_BUF_INIT;
	char msg[512] = "unset";
	json_t *out = (json_t *)1;
	int ret;

	CHECK_INT(sd_mreport_dump(doc, &b), 0);
	ret = sd_mreport_load((const char *)b.data, b.len, &out, msg, sizeof(msg));
	if (ret != code || strcmp(msg, want) != 0)
		fprintf(stderr, "  (case at line %d)\n", line);
	CHECK_INT(ret, code);
	CHECK_STR(msg, want);
	CHECK(out == NULL);
	/* validate says the same about the tree. */
	if (code == -SD_EVALUE) {
		CHECK_INT(sd_mreport_validate(doc, msg, sizeof(msg)), code);
		CHECK_STR(msg, want);
	}
	sd_buf_free(&b);
	json_decref(doc);
}

#define REJECT(doc, want) expect_reject(doc, -SD_EVALUE, want, __LINE__)

static json_t *copy(void)
{
	return json_deep_copy(sample);
}

static void test_reject(void)
{
	json_t *d, *deep, *inner;
	char msg[256];
	json_t *out = NULL;
	char *big;

	/* Not JSON, or JSON that jansson refuses. */
	CHECK_INT(sd_mreport_load("{\"schema\": ", 11, &out, msg, sizeof(msg)), -SD_ESYNTAX);
	CHECK(strncmp(msg, "line 1 column 11: ", 18) == 0);
	CHECK_INT(sd_mreport_load("{\"a\":1,\"a\":2}", 13, &out, msg, sizeof(msg)), -SD_ESYNTAX);
	CHECK(strstr(msg, "duplicate object key") != NULL);
	CHECK_INT(sd_mreport_load("{\"a\":\"\\u0000\"}", 14, &out, msg, sizeof(msg)), -SD_ESYNTAX);
	CHECK_INT(sd_mreport_load("[]", 2, &out, msg, sizeof(msg)), -SD_EVALUE);
	CHECK_STR(msg, "document: expected an object, got an array");
	CHECK(out == NULL);

	d = copy();
	json_object_set_new(d, "schema", json_string("shakedown-matrix/2"));
	REJECT(d, "schema: 'shakedown-matrix/2' is not shakedown-matrix/1");

	d = copy();
	json_object_del(d, "cells");
	REJECT(d, "cells: missing");

	d = copy();
	json_object_set_new(cell(d, 3), "outcome", json_string("okay"));
	REJECT(d, "cells[3].outcome: unknown outcome 'okay'");

	/* Hostile bytes in a message are made harmless. */
	d = copy();
	json_object_set_new(cell(d, 0), "outcome", json_string("ok\033[31m\n"));
	REJECT(d, "cells[0].outcome: unknown outcome 'ok?[31m?'");

	d = copy();
	json_object_set_new(cell(d, 1), "expected", json_string("ok|nope"));
	REJECT(d, "cells[1].expected: unknown outcome 'nope'");

	d = copy();
	json_object_set_new(cell(d, 1), "expected", json_string("ok||blackhole"));
	REJECT(d, "cells[1].expected: empty outcome in 'ok||blackhole'");

	d = copy();
	json_array_append_new(json_object_get(json_array_get(json_object_get(json_object_get(cell(d, 2), "ladder"),
										  "rows"), 1), "at"),
			      json_string("seen"));
	REJECT(d, "cells[2].ladder.rows[1].at: 3 entries for 2 links");

	d = copy();
	json_array_set_new(json_object_get(json_array_get(json_object_get(json_object_get(cell(d, 2), "ladder"),
									   "rows"), 0), "at"),
			   0, json_string("gone"));
	REJECT(d, "cells[2].ladder.rows[0].at[0]: expected \"seen\", \"lost\" or \"none\"");

	d = copy();
	json_object_set_new(json_array_get(json_object_get(json_object_get(cell(d, 0), "ladder"), "rows"), 0), "dir",
			    json_string("up"));
	REJECT(d, "cells[0].ladder.rows[0].dir: 'up' is neither c2s nor s2c");

	d = copy();
	json_object_set_new(cell(d, 1), "id", json_string("chrome-pq/clean/openssl"));
	REJECT(d, "cells[1].id: 'chrome-pq/clean/openssl' is also cells[0]");

	d = copy();
	json_object_set_new(cell(d, 1), "profile", json_string("chrome-pq"));
	REJECT(d, "cells[1]: same profile, path, server, shape and family as cells[0]");

	d = copy();
	json_object_set_new(cell(d, 7), "index", json_integer(8));
	REJECT(d, "cells[7].index: 8 is not below matrix.cells (8)");

	d = copy();
	json_object_set_new(cell(d, 2), "index", json_integer(1));
	REJECT(d, "cells[2].index: 1 appears twice");

	d = copy();
	json_object_set_new(cell(d, 1), "index", json_integer(2));
	json_object_set_new(cell(d, 2), "index", json_integer(1));
	REJECT(d, "cells[2].index: 1 after 2 (cells are sorted by index)");

	d = copy();
	json_object_set_new(json_object_get(cell(d, 0), "timing_ms"), "cell", json_real(2.5));
	REJECT(d, "cells[0].timing_ms.cell: a real number; matrix documents hold integers only");

	d = copy();
	json_object_del(cell(d, 4), "detail");
	REJECT(d, "cells[4].detail: missing");

	d = copy();
	json_object_set_new(cell(d, 0), "pass", json_string("yes"));
	REJECT(d, "cells[0].pass: expected a boolean, got a string");

	d = copy();
	json_object_set_new(json_object_get(cell(d, 0), "truncation"), "sent", json_integer(-1));
	REJECT(d, "cells[0].truncation.sent: -1 is out of range");

	d = copy();
	json_object_set_new(json_object_get(cell(d, 6), "detail"), "breaking", json_integer(3));
	REJECT(d, "cells[6].detail.breaking: expected a string, got an integer");

	d = copy();
	json_object_set_new(cell(d, 0), "family", json_string("ipv5"));
	REJECT(d, "cells[0].family: 'ipv5' is neither ipv4 nor ipv6");

	d = copy();
	json_object_set_new(cell(d, 5), "outcome", json_string("error"));
	json_object_set_new(cell(d, 5), "pass", json_true());
	REJECT(d, "cells[5].pass: true, but an error cell never passes");

	d = copy();
	json_object_set_new(json_object_get(d, "summary"), "passed", json_integer(8));
	REJECT(d, "summary.passed: 8, but the cells say 7");

	d = copy();
	json_object_set_new(json_object_get(json_object_get(d, "summary"), "outcomes"), "stall", json_integer(1));
	REJECT(d, "summary.outcomes.stall: expected 0 (the number of stall cells)");

	d = copy();
	json_object_set_new(d, "shard", json_pack("{s:i, s:i}", "index", 0, "count", 3));
	REJECT(d, "shard: index 0 of 3 is out of range");

	d = copy();
	json_object_set_new(json_object_get(d, "matrix"), "cells", json_integer(7));
	REJECT(d, "cells: 8 cells, but matrix.cells is 7");

	d = copy();
	big = calloc(5001, 1);
	memset(big, 'x', 5000);
	json_object_set_new(cell(d, 0), "id", json_string(big));
	free(big);
	REJECT(d, "cells[0].id: 5000 bytes, over the limit of 4096");

	/* Nesting is bounded before anything recurses over the tree. */
	d = copy();
	deep = json_array();
	inner = deep;
	for (int i = 0; i < 40; i++) {
		json_t *next = json_array();

		json_array_append_new(inner, next);
		inner = next;
	}
	json_object_set_new(cell(d, 0), "extra", deep);
	CHECK_INT(sd_mreport_validate(d, msg, sizeof(msg)), -SD_EVALUE);
	CHECK(strstr(msg, "cells[0].extra[0][0]") == msg && strstr(msg, ": nested deeper than 32 levels"));
	json_decref(d);

	/* Size is checked before parsing (the pages are never touched). */
	big = calloc((256u << 20) + 1, 1);
	CHECK(big != NULL);
	if (big) {
		CHECK_INT(sd_mreport_load(big, (256u << 20) + 1, &out, msg, sizeof(msg)), -SD_EVALUE);
		CHECK_STR(msg, "document: 256 MiB, over the limit of 256 MiB");
		free(big);
	}
}

/* ---- summary ------------------------------------------------------------- */

static void test_summarize(void)
{
	json_t *d = copy(), *s;
	const char *key;
	json_t *v;
	static const char *const order[] = { "ok", "reset", "blackhole" };
	size_t i = 0;
	char msg[256];

	CHECK_INT(sd_mreport_summarize(d), 0);
	s = json_object_get(d, "summary");
	CHECK_INT(json_integer_value(json_object_get(s, "cells")), 8);
	CHECK_INT(json_integer_value(json_object_get(s, "passed")), 7);
	CHECK_INT(json_integer_value(json_object_get(s, "failed")), 1);
	CHECK_INT(json_integer_value(json_object_get(s, "errors")), 0);
	/* DESIGN.md's table order, not the order of appearance. */
	json_object_foreach(json_object_get(s, "outcomes"), key, v) {
		CHECK(i < 3 && strcmp(key, order[i]) == 0);
		i++;
	}
	CHECK_INT(i, 3);
	CHECK(json_equal(s, json_object_get(sample, "summary")));

	/* A document without one gets it where the schema has it. */
	json_object_del(d, "summary");
	CHECK_INT(sd_mreport_summarize(d), 0);
	{
		void *it = json_object_iter(d);
		const char *want[] = { "schema", "version", "matrix", "shard", "summary", "run", "cells" };

		for (size_t k = 0; k < 7; k++, it = json_object_iter_next(d, it))
			CHECK_STR(it ? json_object_iter_key(it) : "(end)", want[k]);
	}
	CHECK_INT(sd_mreport_validate(d, msg, sizeof(msg)), 0);

	json_object_set_new(cell(d, 2), "outcome", json_string("okay"));
	CHECK_INT(sd_mreport_summarize(d), -SD_EVALUE);
	CHECK_INT(sd_mreport_summarize(NULL), -SD_EVALUE);
	json_decref(d);
}

/* ---- the terminal matrix ------------------------------------------------- */

/* Display columns of a line: escape sequences take none, a code point one. */
static size_t columns(const char *s, size_t n)
{
	size_t w = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\033') {
			while (i < n && s[i] != 'm')
				i++;
			continue;
		}
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			w++;
	}
	return w;
}

static size_t widest_line(const char *s)
{
	size_t max = 0;

	for (const char *p = s; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p), w = columns(p, n);

		max = w > max ? w : max;
		p += n + (nl != NULL);
	}
	return max;
}

static void test_text(void)
{
	struct sd_mreport_text_opts o = { .utf8 = true };
	struct sd_buf b = SD_BUF_INIT;
	char *s;

	CHECK_INT(sd_mreport_text(sample, &o, &b), 0);
	s = cstr(&b);
	/* Panels, rows, columns. */
	CHECK(strstr(s, "server openssl \u00b7 shape default \u00b7 ipv4\n") != NULL);
	CHECK(strstr(s, "server single-read \u00b7 shape gap:50 \u00b7 ipv4\n") != NULL);
	CHECK(strstr(s, "  chrome-pq ") != NULL);
	CHECK(strstr(s, "  classic ") != NULL);
	CHECK(strstr(s, "  pq-advertise-only ") != NULL);
	CHECK(strstr(s, "  firefox-pq ") != NULL);
	CHECK(strstr(s, "clean  tunnel-1280-blackhole  mss-536\n") != NULL);
	/* The expected blackhole is a pass with its outcome: no mark. */
	CHECK(strstr(s, "  chrome-pq          \u2713      \u25cf                      \u00b7\n") != NULL);
	/* The reset that missed ok|ok-hrr is marked, and listed with its evidence. */
	CHECK(strstr(s, "  chrome-pq  \u21af!\n") != NULL);
	CHECK(strstr(s, "1 cell missed its expectation:\n"
			"  \u21af! chrome-pq/clean/single-read/gap:50: reset, expected ok|ok-hrr\n"
			"      RST from server after 1460 of 1931 client bytes reached the server; server: "
			"ClientHello incomplete after first read: got 1460 of 1931 bytes\n"
			"      breaking hop: server; delivered 1460 of 1931 bytes, first missing at byte 1460: "
			"key_share entry X25519MLKEM768, byte 1072 of 1216\n") != NULL);
	CHECK_INT(count(s, "!"), 3); /* grid, legend, list */
	CHECK(strstr(s, "\u2713 ok  \u21af reset  \u25cf blackhole  ! missed its expectation") != NULL);
	CHECK(strstr(s, "\n8 cells: 6 ok, 1 reset, 1 blackhole \u00b7 7 met their expectation, 1 missed \u00b7 0.8 s\n") !=
	      NULL);
	CHECK(strchr(s, '\033') == NULL);
	CHECK(strstr(s, " \n") == NULL);
	free(s);

	/* Colour only when asked: green ok, the miss in inverse video. */
	o.color = true;
	CHECK_INT(sd_mreport_text(sample, &o, &b), 0);
	s = cstr(&b);
	CHECK(strstr(s, "\033[32m\u2713\033[0m") != NULL);
	CHECK(strstr(s, "\033[31m\u25cf\033[0m ") != NULL);
	CHECK(strstr(s, "\033[1;7;33m\u21af\033[0m\033[1m!\033[0m") != NULL);
	free(s);

	/* ASCII only. */
	o.color = false;
	o.utf8 = false;
	CHECK_INT(sd_mreport_text(sample, &o, &b), 0);
	s = cstr(&b);
	for (const char *p = s; *p; p++)
		CHECK((unsigned char)*p < 0x80);
	CHECK(strstr(s, "  chrome-pq          +      B                      .\n") != NULL);
	CHECK(strstr(s, "  chrome-pq  R!\n") != NULL);
	CHECK(strstr(s, "8 cells: 6 ok, 1 reset, 1 blackhole - 7 met their expectation, 1 missed - 0.8 s\n") != NULL);
	free(s);

	/* A narrow terminal: numbered columns and a key. */
	o.utf8 = true;
	o.width = 40;
	CHECK_INT(sd_mreport_text(sample, &o, &b), 0);
	s = cstr(&b);
	CHECK(strstr(s, "                     1  2  3\n") != NULL);
	CHECK(strstr(s, "  paths: 1 clean\n         2 tunnel-1280-blackhole\n         3 mss-536\n") != NULL);
	free(s);
}

/* 9 profiles × 8 paths of long names, built from the sample's first cell. */
static json_t *wide_doc(void)
{
	static const char *const profiles[] = { "classic", "chrome-pq", "firefox-pq", "openssl35", "kyber-draft",
						"p256-mlkem768", "p384-mlkem1024", "mlkem1024", "pq-advertise-only" };
	static const char *const paths[] = { "clean", "tunnel-1280-blackhole", "tunnel-1280-icmp", "mss-536",
					     "ipsec-1400-blackhole", "ids-reassembly-drop", "lb-single-read",
					     "frag-filter" };
	json_t *d = copy(), *cells = json_array(), *tmpl = cell(sample, 0);
	size_t i = 0;

	for (size_t p = 0; p < 9; p++) {
		for (size_t q = 0; q < 8; q++, i++) {
			json_t *c = json_deep_copy(tmpl);
			char id[128];
			bool pq = p != 0, hole = strstr(paths[q], "blackhole") != NULL;

			snprintf(id, sizeof(id), "%s/%s/openssl", profiles[p], paths[q]);
			json_object_set_new(c, "profile", json_string(profiles[p]));
			json_object_set_new(c, "path", json_string(paths[q]));
			json_object_set_new(c, "id", json_string(id));
			json_object_set_new(c, "index", json_integer((json_int_t)i));
			json_object_set_new(c, "outcome", json_string(pq && hole ? "blackhole" : "ok"));
			json_object_set_new(c, "expected", json_string(pq && hole ? "blackhole" : "ok|ok-hrr"));
			json_array_append_new(cells, c);
		}
	}
	/* One surprise. */
	json_object_set_new(json_array_get(cells, 21), "outcome", json_string("stall"));
	json_object_set_new(json_array_get(cells, 21), "pass", json_false());
	json_object_set_new(d, "cells", cells);
	json_object_set_new(json_object_get(d, "matrix"), "cells", json_integer(72));
	json_object_set_new(json_object_get(d, "run"), "wall_ms", json_integer(2949));
	CHECK_INT(sd_mreport_summarize(d), 0);
	return d;
}

static void test_text_wide(void)
{
	struct sd_mreport_text_opts o = { .utf8 = true, .color = true };
	struct sd_buf b = SD_BUF_INIT;
	json_t *d = wide_doc();
	char msg[256], *s;

	CHECK_INT(sd_mreport_validate(d, msg, sizeof(msg)), 0);
	CHECK_INT(sd_mreport_text(d, &o, &b), 0);
	s = cstr(&b);
	/* Eight long path names do not fit in 120 columns as headings. */
	CHECK(widest_line(s) <= 120);
	CHECK(strstr(s, "  1  2  3  4  5  6  7  8\n") != NULL);
	CHECK(strstr(s, "  paths: 1 clean  2 tunnel-1280-blackhole  3 tunnel-1280-icmp  4 mss-536  "
			"5 ipsec-1400-blackhole  6 ids-reassembly-drop\n         7 lb-single-read  8 frag-filter\n") !=
	      NULL);
	CHECK(strstr(s, "  firefox-pq         \033[32m\u2713\033[0m  \033[31m\u25cf\033[0m  ") != NULL);
	CHECK(strstr(s, "72 cells: 55 ok, 1 stall, 16 blackhole \u00b7 \033[1;31m71 met their expectation, 1 missed"
			"\033[0m \u00b7 2.9 s\n") != NULL);
	free(s);

	/* A wide terminal takes the names. */
	o.width = 200;
	o.color = false;
	CHECK_INT(sd_mreport_text(d, &o, &b), 0);
	s = cstr(&b);
	CHECK(strstr(s, "clean  tunnel-1280-blackhole  tunnel-1280-icmp  mss-536  ipsec-1400-blackhole  ") != NULL);
	CHECK(strstr(s, "paths:") == NULL);
	CHECK(widest_line(s) <= 200);
	free(s);
	json_decref(d);
}

static void test_text_hostile(void)
{
	struct sd_mreport_text_opts o = { .utf8 = true };
	struct sd_buf b = SD_BUF_INIT;
	json_t *d = copy();
	char *s;

	json_object_set_new(cell(d, 5), "profile", json_string("evil\033]0;owned\007\u202e"));
	json_object_set_new(json_object_get(cell(d, 5), "detail"), "text", json_string("line\nbreak\r\033[2J"));
	/* Wide characters take two columns: the grid stays aligned. */
	json_object_set_new(cell(d, 6), "profile", json_string("\u4e2d\u6587"));
	json_object_set_new(cell(d, 6), "id", json_string("zh/clean/single-read/gap:50"));
	CHECK_INT(sd_mreport_text(d, &o, &b), 0);
	s = cstr(&b);
	CHECK(strchr(s, '\033') == NULL);
	CHECK(strchr(s, '\007') == NULL);
	CHECK(strchr(s, '\r') == NULL);
	CHECK(strstr(s, "\u202e") == NULL);
	CHECK(strstr(s, "  evil?]0;owned?? ") != NULL);
	CHECK(strstr(s, "      line?break??[2J\n") != NULL);
	CHECK(strstr(s, "  evil?]0;owned??  \u21af!\n  \u4e2d\u6587             \u2713\n") != NULL);
	free(s);
	json_decref(d);
}

/* ---- JUnit --------------------------------------------------------------- */

/* 1 when xmllint accepts the text, 0 when it does not, -1 without xmllint. */
static int xmllint_ok(const char *xml)
{
	char path[] = "/tmp/test_mreport_XXXXXX";
	int fd = mkstemp(path), st;
	FILE *f;
	char cmd[128];

	if (fd < 0)
		return -1;
	f = fdopen(fd, "w");
	fputs(xml, f);
	fclose(f);
	if (system("command -v xmllint >/dev/null 2>&1") != 0) {
		unlink(path);
		return -1;
	}
	snprintf(cmd, sizeof(cmd), "xmllint --noout %s", path);
	st = system(cmd);
	unlink(path);
	return st == 0;
}

static void test_junit(void)
{
	struct sd_buf b = SD_BUF_INIT;
	json_t *d;
	char *s;
	int lint;

	CHECK_INT(sd_mreport_junit(sample, &b), 0);
	s = cstr(&b);
	CHECK(strncmp(s, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"shakedown sample\" tests=\"8\" "
			 "failures=\"1\" errors=\"0\" skipped=\"0\" time=\"0.812\">\n", 135) == 0);
	CHECK_INT(count(s, "<testsuite "), 2);
	CHECK_INT(count(s, "<testcase "), 8);
	CHECK_INT(count(s, "<failure "), 1);
	CHECK_INT(count(s, "<error "), 0);
	CHECK(strstr(s, "<testcase name=\"chrome-pq/clean/single-read/gap:50\" classname=\"shakedown.sample.clean\" "
			"time=\"0.002\">\n      <failure message=\"expected ok|ok-hrr, got reset: RST from server after "
			"1460 of 1931 client bytes reached the server; server: ClientHello incomplete after first read: "
			"got 1460 of 1931 bytes\" type=\"reset\">") != NULL);
	CHECK(strstr(s, "breaking hop: server\ntruncation: sent 1931, delivered 1460, first_missing_offset 1460, "
			"field key_share entry X25519MLKEM768, byte 1072 of 1216\n") != NULL);
	CHECK(strstr(s, "           0  c2s  seen   seen    SYN  mss 1460\n") != NULL);
	CHECK(strstr(s, "<testsuite name=\"sample: server openssl, shape default, ipv4\" tests=\"6\" failures=\"0\"") != NULL);
	CHECK(strstr(s, "classname=\"shakedown.sample.tunnel-1280-blackhole\" time=\"0.192\">\n      <system-out>"
			"outcome blackhole, expected blackhole: ") != NULL);
	lint = xmllint_ok(s);
	if (lint < 0)
		printf("xmllint not installed: JUnit not checked by a parser\n");
	CHECK(lint != 0);
	free(s);

	/* Error cells are <error>; hostile text stays well-formed XML. */
	d = load_file("errors.json");
	if (d) {
		json_object_set_new(json_object_get(cell(d, 2), "detail"), "text",
				    json_string("]]> <x a=\"1\"> & \001\002\033 \ufffe \U0001F600 \t tab"));
		json_object_set_new(json_object_get(d, "matrix"), "name", json_string("m\"<&>'"));
		CHECK_INT(sd_mreport_junit(d, &b), 0);
		s = cstr(&b);
		CHECK_INT(count(s, "<testcase "), 4);
		CHECK_INT(count(s, "<error message=\"harness error: server endpoint did not start"), 1);
		CHECK_INT(count(s, "<failure "), 1);
		CHECK(strstr(s, "tests=\"4\" failures=\"1\" errors=\"1\"") != NULL);
		CHECK(strstr(s, "message=\"expected ok|ok-hrr, got truncated: ]]&gt; &lt;x a=&quot;1&quot;&gt; &amp;  "
				" \U0001F600 &#9; tab\"") != NULL);
		CHECK(strstr(s, "classname=\"shakedown.m&quot;&lt;&amp;&gt;'.clean\"") != NULL);
		CHECK(strchr(s, '\001') == NULL && strchr(s, '\033') == NULL);
		lint = xmllint_ok(s);
		CHECK(lint != 0);
		free(s);
		json_decref(d);
	}
}

/* ---- Markdown ------------------------------------------------------------ */

static void test_markdown(void)
{
	struct sd_buf b = SD_BUF_INIT;
	json_t *d;
	char *s;

	CHECK_INT(sd_mreport_markdown(sample, &b), 0);
	s = cstr(&b);
	CHECK(strncmp(s, "### \u274c shakedown matrix sample: 7 of 8 cells met their expectation\n\n"
			 "8 cells: 6 ok, 1 reset, 1 blackhole \u00b7 7 met their expectation, 1 missed \u00b7 0.8 s\n\n"
			 "#### server openssl \u00b7 shape default \u00b7 ipv4\n\n"
			 "| profile | clean | tunnel-1280-blackhole | mss-536 |\n"
			 "| --- | :-: | :-: | :-: |\n"
			 "| chrome-pq | \u2705 ok | \u2705 blackhole | |\n", 300) == 0);
	CHECK(strstr(s, "| chrome-pq | \u274c **reset** |\n") != NULL);
	CHECK(strstr(s, "#### Missed expectations (1)\n\n- **chrome-pq/clean/single-read/gap:50**: reset, expected "
			"ok\\|ok-hrr \u2014 RST from server after 1460") != NULL);
	CHECK(strstr(s, "(breaking hop: server; first missing byte 1460: key\\_share entry X25519MLKEM768, byte 1072 "
			"of 1216)\n") != NULL);
	CHECK(strstr(s, "<details>") == NULL);
	free(s);

	/* Many misses fold into <details>. */
	d = wide_doc();
	for (size_t i = 0; i < 20; i++)
		json_object_set_new(cell(d, i), "pass", json_false());
	CHECK_INT(sd_mreport_summarize(d), 0);
	CHECK_INT(sd_mreport_markdown(d, &b), 0);
	s = cstr(&b);
	CHECK(strstr(s, "#### Missed expectations (21)\n\n<details><summary>21 cells missed their expectation"
			"</summary>\n\n- **") != NULL);
	CHECK(strstr(s, "\n</details>\n") != NULL);
	free(s);
	json_decref(d);
}

/* ---- merge ---------------------------------------------------------------- */

/* Shard k of n of doc: every n-th cell, its own summary and run. */
static json_t *shard(const json_t *doc, size_t k, size_t n, long long wall, const char *started)
{
	json_t *d = json_deep_copy(doc), *cells = json_array();
	const json_t *all = json_object_get(doc, "cells");

	for (size_t i = k; i < json_array_size(all); i += n)
		json_array_append_new(cells, json_deep_copy(json_array_get(all, i)));
	json_object_set_new(d, "cells", cells);
	json_object_set_new(d, "shard", json_pack("{s:I, s:I}", "index", (json_int_t)k + 1, "count", (json_int_t)n));
	json_object_set_new(d, "run", json_pack("{s:i, s:i, s:i, s:I, s:s}", "jobs", 2, "labs", 3, "shards", 1,
						"wall_ms", (json_int_t)wall, "started", started));
	CHECK_INT(sd_mreport_summarize(d), 0);
	return d;
}

static char *dump_without_run(json_t *doc)
{
	struct sd_buf b = SD_BUF_INIT;
	json_t *d = json_deep_copy(doc);

	json_object_del(d, "run");
	CHECK_INT(sd_mreport_dump(d, &b), 0);
	json_decref(d);
	return cstr(&b);
}

static void test_merge(void)
{
	json_t *parts[3], *in[3], *merged = NULL, *want, *run;
	char msg[256], *a, *b;

	parts[0] = shard(sample, 0, 3, 700, "2026-11-21T23:50:02Z");
	parts[1] = shard(sample, 1, 3, 812, "2026-11-21T23:50:00Z");
	parts[2] = shard(sample, 2, 3, 650, "2026-11-21T23:50:01Z");
	for (int i = 0; i < 3; i++)
		CHECK_INT(sd_mreport_validate(parts[i], msg, sizeof(msg)), 0);

	/* In any order. */
	in[0] = parts[2], in[1] = parts[0], in[2] = parts[1];
	CHECK_INT(sd_mreport_merge(in, 3, &merged, msg, sizeof(msg)), 0);
	CHECK(merged != NULL);
	if (!merged)
		return;
	/* Byte for byte what one run writes, but for "run". The sample's own
	 * summary lists outcomes in appearance order, so compare against it
	 * summarised the way every command writes it. */
	want = copy();
	CHECK_INT(sd_mreport_summarize(want), 0);
	a = dump_without_run(merged);
	b = dump_without_run(want);
	CHECK_STR(a, b);
	free(a);
	free(b);
	CHECK(json_equal(json_object_get(merged, "summary"), json_object_get(sample, "summary")));
	CHECK(json_is_null(json_object_get(merged, "shard")));
	run = json_object_get(merged, "run");
	CHECK_INT(json_integer_value(json_object_get(run, "wall_ms")), 812);
	CHECK_INT(json_integer_value(json_object_get(run, "jobs")), 6);
	CHECK_INT(json_integer_value(json_object_get(run, "labs")), 9);
	CHECK_INT(json_integer_value(json_object_get(run, "shards")), 3);
	CHECK_STR(json_string_value(json_object_get(run, "started")), "2026-11-21T23:50:00Z");
	CHECK_INT(sd_mreport_validate(merged, msg, sizeof(msg)), 0);
	json_decref(merged);
	json_decref(want);

	/* Overlap: a cell in two shards. */
	json_array_insert_new(json_object_get(parts[1], "cells"), 0, json_deep_copy(cell(sample, 0)));
	CHECK_INT(sd_mreport_summarize(parts[1]), 0);
	CHECK_INT(sd_mreport_merge(parts, 3, &merged, msg, sizeof(msg)), -SD_EVALUE);
	CHECK_STR(msg, "cell 0 (chrome-pq/clean/openssl) is in documents 1 and 2");
	CHECK(merged == NULL);
	json_array_remove(json_object_get(parts[1], "cells"), 0);
	CHECK_INT(sd_mreport_summarize(parts[1]), 0);

	/* Missing: cell 3 (in shard 1) dropped. */
	json_array_remove(json_object_get(parts[0], "cells"), 1);
	CHECK_INT(sd_mreport_summarize(parts[0]), 0);
	CHECK_INT(sd_mreport_merge(parts, 3, &merged, msg, sizeof(msg)), -SD_EVALUE);
	CHECK_STR(msg, "cells missing: cell 3 is in none of the 3 documents (7 of 8 cells present)");
	CHECK_INT(sd_mreport_merge(parts, 2, &merged, msg, sizeof(msg)), -SD_EVALUE);
	CHECK_STR(msg, "cells missing: cell 2 is in none of the 2 documents (5 of 8 cells present)");
	json_array_insert_new(json_object_get(parts[0], "cells"), 1, json_deep_copy(cell(sample, 3)));
	CHECK_INT(sd_mreport_summarize(parts[0]), 0);
	CHECK_INT(sd_mreport_merge(parts, 3, &merged, msg, sizeof(msg)), 0);
	json_decref(merged);
	merged = NULL;

	/* Different matrices. */
	json_object_set_new(json_object_get(parts[2], "matrix"), "name", json_string("other"));
	CHECK_INT(sd_mreport_merge(parts, 3, &merged, msg, sizeof(msg)), -SD_EVALUE);
	CHECK_STR(msg, "documents 1 and 3 are different matrices (matrix.name 'sample' and 'other')");
	json_object_set_new(json_object_get(parts[2], "matrix"), "name", json_string("sample"));
	json_object_set_new(json_object_get(parts[2], "matrix"), "source", json_string("elsewhere.ini"));
	CHECK_INT(sd_mreport_merge(parts, 3, &merged, msg, sizeof(msg)), -SD_EVALUE);
	CHECK_STR(msg, "documents 1 and 3 are different matrices (matrix.source 'tests/data/matrix/sample.ini' and "
		       "'elsewhere.ini')");
	json_object_set_new(json_object_get(parts[2], "matrix"), "source", json_string("tests/data/matrix/sample.ini"));
	json_object_set_new(json_object_get(parts[2], "matrix"), "cells", json_integer(9));
	CHECK_INT(sd_mreport_merge(parts, 3, &merged, msg, sizeof(msg)), -SD_EVALUE);
	CHECK_STR(msg, "documents 1 and 3 are different matrices (matrix.cells 8 and 9)");
	json_object_set_new(json_object_get(parts[2], "matrix"), "cells", json_integer(8));
	json_object_set_new(parts[2], "version", json_string("9.9.9"));
	CHECK_INT(sd_mreport_merge(parts, 3, &merged, msg, sizeof(msg)), -SD_EVALUE);
	CHECK_STR(msg, "documents 1 and 3 come from different shakedown versions (0.2.0 and 9.9.9)");
	json_object_set_new(parts[2], "version", json_string("0.2.0"));

	/* An invalid document is named. */
	json_object_set_new(cell(parts[1], 0), "outcome", json_string("okay"));
	CHECK_INT(sd_mreport_merge(parts, 3, &merged, msg, sizeof(msg)), -SD_EVALUE);
	CHECK_STR(msg, "document 2: cells[0].outcome: unknown outcome 'okay'");
	CHECK_INT(sd_mreport_merge(parts, 0, &merged, msg, sizeof(msg)), -SD_EVALUE);
	CHECK_STR(msg, "no documents to merge");

	/* One whole document merges into itself. */
	in[0] = sample;
	CHECK_INT(sd_mreport_merge(in, 1, &merged, msg, sizeof(msg)), 0);
	CHECK(merged && json_equal(json_object_get(merged, "cells"), json_object_get(sample, "cells")));
	json_decref(merged);
	for (int i = 0; i < 3; i++)
		json_decref(parts[i]);
}

/* ---- diff ----------------------------------------------------------------- */

static void test_diff(void)
{
	struct sd_mreport_text_opts o = { .utf8 = true };
	struct sd_buf b = SD_BUF_INIT;
	json_t *nd = copy(), *c, *j, *want;
	size_t reg = 99;
	char *s, msg[256];

	/* Identical. */
	CHECK_INT(sd_mreport_diff(sample, sample, false, &o, &b, &reg), 0);
	s = cstr(&b);
	CHECK_STR(s, "no differences (8 cells)\n");
	CHECK_INT(reg, 0);
	free(s);

	/* A passing cell now fails; the failing one is fixed; the expected
	 * blackhole turns into another accepted outcome; one cell gone, one new. */
	c = cell(nd, 0);
	json_object_set_new(c, "outcome", json_string("blackhole"));
	json_object_set_new(c, "pass", json_false());
	json_object_set_new(json_object_get(c, "detail"), "text", json_string("4 packets dropped at router"));
	c = cell(nd, 5);
	json_object_set_new(c, "outcome", json_string("ok"));
	json_object_set_new(c, "pass", json_true());
	c = cell(nd, 3);
	json_object_set_new(c, "outcome", json_string("stall"));
	json_object_set_new(c, "expected", json_string("blackhole|stall"));
	json_object_set_new(cell(nd, 7), "id", json_string("firefox-pq/mss-536/openssl/ipv6"));
	json_object_set_new(cell(nd, 7), "family", json_string("ipv6"));
	CHECK_INT(sd_mreport_summarize(nd), 0);
	CHECK_INT(sd_mreport_validate(nd, msg, sizeof(msg)), 0);

	CHECK_INT(sd_mreport_diff(sample, nd, false, &o, &b, &reg), 0);
	s = cstr(&b);
	CHECK_INT(reg, 1);
	CHECK_STR(s, "Regressions (1):\n"
		     "  chrome-pq/clean/openssl: ok \u2192 blackhole (4 packets dropped at router)\n"
		     "\n"
		     "Fixes (1):\n"
		     "  chrome-pq/clean/single-read/gap:50: reset \u2192 ok (RST from server after 1460 of 1931 client "
		     "bytes reached the server; server: ClientHello incomplete after first read: got 1460 of 1931 "
		     "bytes)\n"
		     "\n"
		     "Changed outcomes (1):\n"
		     "  chrome-pq/tunnel-1280-blackhole/openssl: blackhole \u2192 stall (4 packets larger than tunnel's "
		     "next-hop MTU 1280 dropped there; no ICMP error was sent back; 0 of 1931 client bytes reached the "
		     "server)\n"
		     "\n"
		     "Only in old (1):\n"
		     "  firefox-pq/mss-536/openssl: ok\n"
		     "\n"
		     "Only in new (1):\n"
		     "  firefox-pq/mss-536/openssl/ipv6: ok (handshake completed, negotiated x25519; 691 bytes of "
		     "server flight reached the client)\n"
		     "\n"
		     "1 regression, 1 fix, 1 changed, 1 only in old, 1 only in new\n");
	free(s);

	CHECK_INT(sd_mreport_diff(sample, nd, true, NULL, &b, &reg), 0);
	CHECK_INT(reg, 1);
	s = cstr(&b);
	j = json_loads(s, 0, NULL);
	CHECK(j != NULL);
	want = json_pack("{s:[{s:s, s:s, s:s, s:s}], s:[s], s:[s]}", "regressions", "id", "chrome-pq/clean/openssl",
			 "old", "ok", "new", "blackhole", "detail", "4 packets dropped at router", "removed",
			 "firefox-pq/mss-536/openssl", "added", "firefox-pq/mss-536/openssl/ipv6");
	CHECK(json_equal(json_object_get(j, "regressions"), json_object_get(want, "regressions")));
	CHECK_INT(json_array_size(json_object_get(j, "fixes")), 1);
	CHECK_INT(json_array_size(json_object_get(j, "changed")), 1);
	CHECK(json_equal(json_object_get(j, "removed"), json_object_get(want, "removed")));
	CHECK(json_equal(json_object_get(j, "added"), json_object_get(want, "added")));
	json_decref(want);
	CHECK(strncmp(s, "{\n  \"regressions\": [\n", 21) == 0);
	free(s);
	json_decref(j);

	/* Reversed, the regression is a fix and the other way round. */
	CHECK_INT(sd_mreport_diff(nd, sample, false, &o, &b, &reg), 0);
	CHECK_INT(reg, 1);
	s = cstr(&b);
	CHECK(strncmp(s, "Regressions (1):\n  chrome-pq/clean/single-read/gap:50: ok \u2192 reset (RST", 70) == 0);
	free(s);
	json_decref(nd);
}

int main(void)
{
	char path[512];
	char msg[256];

	snprintf(path, sizeof(path), "%s/matrix/sample.json", SD_TEST_DATA);
	sample_text = slurp(path, &sample_len);
	CHECK(sample_text != NULL);
	if (!sample_text)
		return check_done();
	CHECK_INT(sd_mreport_load(sample_text, sample_len, &sample, msg, sizeof(msg)), 0);
	if (!sample) {
		fprintf(stderr, "sample.json: %s\n", msg);
		return check_done();
	}
	test_load_sample();
	test_reject();
	test_summarize();
	test_text();
	test_text_wide();
	test_text_hostile();
	test_junit();
	test_markdown();
	test_merge();
	test_diff();
	json_decref(sample);
	free(sample_text);
	return check_done();
}
