/* SPDX-License-Identifier: MIT */
/*
 * The HTML matrix report: one self-contained page from a matrix document.
 *
 * Everything a reader needs without JavaScript (summary, legend, one heatmap table per panel, the cells
 * that missed their expectation) is rendered here as static markup; the
 * document itself rides along as inline JSON for report.js, which adds the
 * filters, the #cell=ID deep links and the per-cell drill-down. The
 * stylesheet and script live in src/report/html/ and are compiled in by
 * cmake/embed_assets.cmake, so the page never fetches anything.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shakedown/builtin.h"
#include "shakedown/mreport.h"
#include "shakedown/report.h"
#include "shakedown/verdict.h"

/* The files of src/report/html/ by name, generated into the build tree. */
extern const struct sd_builtin_file sd_report_assets[];

/*
 * What the page shows for each outcome. Symbols come from blocks every
 * desktop font has (DejaVu, Segoe UI Symbol, Apple Symbols), so they read
 * without colour; colours are set by report.css per "o-NAME" class.
 */
static const struct {
	const char *sym;
	const char *what;
} outcome_meta[SD_OUTCOME_MAX] = {
	[SD_OK]          = { "\u2713", "the server's flight reached the client; the handshake completed" },
	[SD_OK_HRR]      = { "\u21bb", "as ok, after a HelloRetryRequest round" },
	[SD_ALERT]       = { "\u26a0", "a TLS alert arrived before completion" },
	[SD_RESET]       = { "\u21af", "a TCP RST ended the connection" },
	[SD_CLOSED]      = { "\u22a3", "FIN before completion, no alert" },
	[SD_STALL]       = { "\u2225", "no progress until the path went quiet" },
	[SD_BLACKHOLE]   = { "\u25cf", "packets above a hop's MTU dropped, no ICMP error reached the sender" },
	[SD_TRUNCATED]   = { "\u2702", "the server received a strict prefix of the client flight" },
	[SD_MANGLED]     = { "\u2260", "bytes delivered differ from bytes sent" },
	[SD_FRAG_LOST]   = { "\u00f7", "IP fragments sent, not all delivered" },
	[SD_REFUSED]     = { "\u2298", "RST or ICMP unreachable in answer to the SYN" },
	[SD_HRR_FAILURE] = { "\u21c4", "the server asked for a HelloRetryRequest and the retry did not complete" },
	[SD_ERROR]       = { "\u2699", "the harness itself failed; not a verdict about the path" },
};

#define MISS_SYM "\u2717"

/* An outcome's index in outcome_meta, or -1 for a name the page does not know. */
static int outcome_index(const char *name)
{
	enum sd_outcome o;

	if (sd_outcome_parse(name, &o) < 0)
		return -1;
	return (int)o;
}

/* A string member, or "" when it is absent or not a string. */
static const char *sget(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* An integer member, or def. */
static json_int_t iget(const json_t *o, const char *key, json_int_t def)
{
	const json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? json_integer_value(v) : def;
}

static bool passed(const json_t *cell)
{
	return json_is_true(json_object_get(cell, "pass"));
}

static void put(struct sd_buf *b, const char *s)
{
	sd_buf_put(b, s, strlen(s));
}

/*
 * HTML-escapes s for text and for double- or single-quoted attribute
 * values. Newlines become &#10; so a title attribute keeps its lines; other
 * C0 controls (not allowed in HTML) become U+FFFD.
 */
static void esc(struct sd_buf *b, const char *s)
{
	const char *run = s;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		const char *rep;

		switch (c) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		case '\n': rep = "&#10;"; break;
		case '\t': continue;
		default:
			if (c >= 0x20 && c != 0x7f)
				continue;
			rep = "\xef\xbf\xbd";
		}
		sd_buf_put(b, run, (size_t)(s - run));
		put(b, rep);
		run = s + 1;
	}
	sd_buf_put(b, run, (size_t)(s - run));
}

/*
 * Percent-encodes a cell id for "#cell=ID" (report.js decodes it). What is
 * left unencoded needs no HTML escaping either.
 */
static void urlenc(struct sd_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("-._~/:@", c)) {
			sd_buf_u8(b, c);
		} else {
			sd_buf_u8(b, '%');
			sd_buf_u8(b, (uint8_t)hex[c >> 4]);
			sd_buf_u8(b, (uint8_t)hex[c & 15]);
		}
	}
}

/*
 * Inline JSON in a data block. The HTML parser ends a script at "</" +
 * "script" and enters its escaped states at "<!--", so both are made
 * harmless: "</" becomes "<\/" and "<!" becomes "\u003c!". Either can only
 * occur inside a JSON string, where those escapes mean the same text.
 */
static SD_WUR int put_json(struct sd_buf *b, const char *id, const json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	const char *p, *run;

	if (!s)
		return -ENOMEM;
	sd_buf_printf(b, "<script type=\"application/json\" id=\"%s\">", id);
	for (p = run = s; *p; p++) {
		if (p[0] != '<' || (p[1] != '/' && p[1] != '!'))
			continue;
		sd_buf_put(b, run, (size_t)(p - run));
		put(b, p[1] == '/' ? "<\\/" : "\\u003c!");
		run = p + 2;
		p++;
	}
	sd_buf_put(b, run, (size_t)(p - run));
	put(b, "</script>\n");
	free(s);
	return 0;
}

/* One embedded asset by file name; "" if the build left it out. */
static const char *asset(const char *name)
{
	for (const struct sd_builtin_file *f = sd_report_assets; f->name; f++)
		if (strcmp(f->name, name) == 0)
			return f->text;
	return "";
}

/* The outcomes table for report.js: {name: {sym, what}} in canonical order. */
static json_t *outcomes_json(void)
{
	json_t *o = json_object();

	for (int i = 0; o && i < SD_OUTCOME_MAX; i++) {
		json_t *m = json_pack("{s:s, s:s}", "sym", outcome_meta[i].sym,
				      "what", outcome_meta[i].what);

		if (!m || json_object_set_new(o, sd_outcome_name((enum sd_outcome)i), m) < 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* "812 ms", "3.1 s", "2 min 05 s". */
static void put_duration(struct sd_buf *b, json_int_t ms)
{
	if (ms < 0)
		put(b, "\u2014");
	else if (ms < 1000)
		sd_buf_printf(b, "%lld ms", (long long)ms);
	else if (ms < 120000)
		sd_buf_printf(b, "%.1f s", (double)ms / 1000.0);
	else
		sd_buf_printf(b, "%lld min %02lld s", (long long)(ms / 60000), (long long)(ms / 1000 % 60));
}

/* A badge: symbol and name, coloured by outcome. */
static void put_badge(struct sd_buf *b, const char *outcome, const char *tag)
{
	int i = outcome_index(outcome);

	sd_buf_printf(b, "<%s class=\"badge o-%s\">", tag, i >= 0 ? outcome : "unknown");
	sd_buf_printf(b, "<span class=\"sym\" aria-hidden=\"true\">%s</span> ",
		      i >= 0 ? outcome_meta[i].sym : "?");
	esc(b, outcome);
	sd_buf_printf(b, "</%s>", tag);
}

static void put_head(struct sd_buf *b, const json_t *doc, const json_t *sum)
{
	const json_t *m = json_object_get(doc, "matrix");

	put(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	       "<meta name=\"color-scheme\" content=\"light dark\">\n"
	       "<meta name=\"generator\" content=\"shakedown\">\n<title>");
	sd_buf_printf(b, "%lld/%lld passed \u2014 shakedown matrix ",
		      (long long)iget(sum, "passed", 0), (long long)iget(sum, "cells", 0));
	esc(b, sget(m, "name"));
	put(b, "</title>\n<style>\n");
	put(b, asset("report.css"));
	put(b, "</style>\n</head>\n");
}

static void put_header(struct sd_buf *b, const json_t *doc, const json_t *sum)
{
	const json_t *m = json_object_get(doc, "matrix");
	const json_t *run = json_object_get(doc, "run");
	const json_t *shard = json_object_get(doc, "shard");
	json_int_t total = iget(m, "cells", -1), cells = iget(sum, "cells", 0);
	json_int_t failed = iget(sum, "failed", 0), errors = iget(sum, "errors", 0);

	put(b, "<header class=\"top\">\n<p class=\"brand\">shakedown \u00b7 matrix report</p>\n<h1>");
	esc(b, sget(m, "name"));
	put(b, "</h1>\n");
	if (*sget(m, "description")) {
		put(b, "<p class=\"desc\">");
		esc(b, sget(m, "description"));
		put(b, "</p>\n");
	}
	put(b, "<p class=\"meta\">");
	if (*sget(m, "source")) {
		put(b, "<span>source <code>");
		esc(b, sget(m, "source"));
		put(b, "</code></span>");
	}
	if (*sget(run, "started")) {
		put(b, "<span>started <time>");
		esc(b, sget(run, "started"));
		put(b, "</time></span>");
	}
	if (json_is_object(shard))
		sd_buf_printf(b, "<span>shard %lld of %lld</span>", (long long)iget(shard, "index", 0),
			      (long long)iget(shard, "count", 0));
	else if (iget(run, "shards", 1) > 1)
		sd_buf_printf(b, "<span>merged from %lld shards</span>", (long long)iget(run, "shards", 1));
	if (json_is_object(run))
		sd_buf_printf(b, "<span>%lld jobs, %lld labs</span>", (long long)iget(run, "jobs", 0),
			      (long long)iget(run, "labs", 0));
	if (*sget(doc, "version")) {
		put(b, "<span>shakedown ");
		esc(b, sget(doc, "version"));
		put(b, "</span>");
	}
	put(b, "</p>\n</header>\n");

	put(b, "<section class=\"summary\" aria-label=\"summary\">\n");
	sd_buf_printf(b, "<div class=\"stat\" id=\"s-cells\"><span class=\"v\">%lld</span>"
		      "<span class=\"l\">cells", (long long)cells);
	if (total >= 0 && total != cells)
		sd_buf_printf(b, " of %lld", (long long)total);
	put(b, "</span></div>\n");
	sd_buf_printf(b, "<div class=\"stat good\" id=\"s-passed\"><span class=\"v\">%lld</span>"
		      "<span class=\"l\">passed</span></div>\n", (long long)iget(sum, "passed", 0));
	sd_buf_printf(b, "<div class=\"stat%s\" id=\"s-failed\"><span class=\"v\">%lld</span>"
		      "<span class=\"l\">missed expectation</span></div>\n",
		      failed ? " bad" : "", (long long)failed);
	sd_buf_printf(b, "<div class=\"stat%s\" id=\"s-errors\"><span class=\"v\">%lld</span>"
		      "<span class=\"l\">harness errors</span></div>\n",
		      errors ? " bad" : "", (long long)errors);
	put(b, "<div class=\"stat\" id=\"s-wall\"><span class=\"v\">");
	put_duration(b, iget(run, "wall_ms", -1));
	put(b, "</span><span class=\"l\">wall time</span></div>\n");
	put(b, "</section>\n");
}

/* Outcome counts, canonical outcomes first, then any others the document names. */
static void put_counts(struct sd_buf *b, const json_t *sum)
{
	json_t *oc = json_object_get(sum, "outcomes"); /* not modified: jansson's iterators take no const */
	const char *k;
	json_t *v;

	put(b, "<ul class=\"counts\" id=\"s-outcomes\" aria-label=\"outcomes\">\n");
	for (int i = 0; i < SD_OUTCOME_MAX; i++) {
		const char *name = sd_outcome_name((enum sd_outcome)i);
		json_int_t n = iget(oc, name, 0);

		if (n <= 0)
			continue;
		sd_buf_printf(b, "<li class=\"count\" data-outcome=\"%s\">", name);
		put_badge(b, name, "span");
		sd_buf_printf(b, " <b>%lld</b></li>\n", (long long)n);
	}
	json_object_foreach(oc, k, v) {
		if (outcome_index(k) >= 0 || !json_is_integer(v))
			continue;
		put(b, "<li class=\"count\" data-outcome=\"");
		esc(b, k);
		put(b, "\">");
		put_badge(b, k, "span");
		sd_buf_printf(b, " <b>%lld</b></li>\n", (long long)json_integer_value(v));
	}
	put(b, "</ul>\n");
}

static void put_legend(struct sd_buf *b)
{
	put(b, "<details class=\"legend\" id=\"legend\" open>\n<summary>Legend</summary>\n<dl>\n");
	for (int i = 0; i < SD_OUTCOME_MAX; i++) {
		put(b, "<div>");
		put_badge(b, sd_outcome_name((enum sd_outcome)i), "dt");
		sd_buf_printf(b, "<dd>%s</dd></div>\n", outcome_meta[i].what);
	}
	put(b, "<div><dt><span class=\"badge o-reset miss legend-miss\"><span class=\"sym\" "
	       "aria-hidden=\"true\">\u21af</span> reset<span class=\"miss-mark\">" MISS_SYM
	       "</span></span></dt><dd>ringed and marked " MISS_SYM ": the cell missed its "
	       "expectation</dd></div>\n");
	put(b, "<div><dt><span class=\"badge empty\">\u00b7</span></dt>"
	       "<dd>not part of this matrix</dd></div>\n");
	put(b, "</dl>\n</details>\n");
}

/* The tooltip: id, outcome, expectation, evidence. */
static void put_title(struct sd_buf *b, const json_t *c)
{
	const json_t *d = json_object_get(c, "detail");
	const json_t *t = json_object_get(c, "truncation");

	esc(b, sget(c, "id"));
	put(b, "&#10;outcome: ");
	esc(b, sget(c, "outcome"));
	put(b, "&#10;expected: ");
	esc(b, sget(c, "expected"));
	put(b, passed(c) ? " (met)" : " \u2014 MISSED");
	if (*sget(d, "text")) {
		put(b, "&#10;");
		esc(b, sget(d, "text"));
	}
	if (*sget(d, "breaking")) {
		put(b, "&#10;breaking: ");
		esc(b, sget(d, "breaking"));
	}
	if (*sget(t, "field")) {
		put(b, "&#10;first missing byte in: ");
		esc(b, sget(t, "field"));
	}
}

static void put_cell(struct sd_buf *b, const json_t *c)
{
	const char *outcome = sget(c, "outcome");
	int i = outcome_index(outcome);
	bool ok = passed(c);

	sd_buf_printf(b, "<a class=\"cell o-%s%s\" href=\"#cell=", i >= 0 ? outcome : "unknown",
		      ok ? "" : " miss");
	urlenc(b, sget(c, "id"));
	put(b, "\" data-cell-id=\"");
	esc(b, sget(c, "id"));
	put(b, "\" data-outcome=\"");
	esc(b, outcome);
	sd_buf_printf(b, "\" data-pass=\"%s\" title=\"", ok ? "true" : "false");
	put_title(b, c);
	sd_buf_printf(b, "\"><span class=\"sym\" aria-hidden=\"true\">%s</span> <span class=\"nm\">",
		      i >= 0 ? outcome_meta[i].sym : "?");
	esc(b, outcome);
	put(b, "</span>");
	if (!ok)
		put(b, "<span class=\"miss-mark\" aria-label=\"missed its expectation\">" MISS_SYM "</span>");
	put(b, "</a>");
}

static bool same(const json_t *a, const json_t *b, const char *key)
{
	return strcmp(sget(a, key), sget(b, key)) == 0;
}

/*
 * One heatmap: the panel's cells (mem, n of them, indexes into cells) with
 * profiles as rows and paths as columns, both in order of first appearance.
 * rows and cols are scratch arrays of n entries.
 */
static void put_panel(struct sd_buf *b, const json_t *cells, const size_t *mem, size_t n,
		      size_t *rows, size_t *cols)
{
	const json_t *first = json_array_get(cells, mem[0]);
	size_t nrows = 0, ncols = 0, missed = 0;

	for (size_t i = 0; i < n; i++) {
		const json_t *c = json_array_get(cells, mem[i]);
		size_t r, k;

		for (r = 0; r < nrows && !same(json_array_get(cells, rows[r]), c, "profile"); r++)
			;
		if (r == nrows)
			rows[nrows++] = mem[i];
		for (k = 0; k < ncols && !same(json_array_get(cells, cols[k]), c, "path"); k++)
			;
		if (k == ncols)
			cols[ncols++] = mem[i];
		missed += !passed(c);
	}

	put(b, "<section class=\"panel\" data-server=\"");
	esc(b, sget(first, "server"));
	put(b, "\" data-shape=\"");
	esc(b, sget(first, "shape"));
	put(b, "\" data-family=\"");
	esc(b, sget(first, "family"));
	put(b, "\">\n<header><h2><span class=\"k\">server</span> ");
	esc(b, sget(first, "server"));
	put(b, " <span class=\"k\">shape</span> ");
	esc(b, sget(first, "shape"));
	put(b, " <span class=\"k\">family</span> ");
	esc(b, sget(first, "family"));
	sd_buf_printf(b, "</h2><p class=\"pstat\">%zu cell%s", n, n == 1 ? "" : "s");
	if (missed)
		sd_buf_printf(b, " \u00b7 <strong>%zu missed</strong>", missed);
	put(b, "</p></header>\n<div class=\"scroll\"><table class=\"heat\">\n<thead><tr>"
	       "<th class=\"corner\" scope=\"col\">profile \\ path</th>");
	for (size_t k = 0; k < ncols; k++) {
		put(b, "<th scope=\"col\">");
		esc(b, sget(json_array_get(cells, cols[k]), "path"));
		put(b, "</th>");
	}
	put(b, "</tr></thead>\n<tbody>\n");
	for (size_t r = 0; r < nrows; r++) {
		const json_t *rc = json_array_get(cells, rows[r]);

		put(b, "<tr><th scope=\"row\">");
		esc(b, sget(rc, "profile"));
		put(b, "</th>");
		for (size_t k = 0; k < ncols; k++) {
			const json_t *kc = json_array_get(cells, cols[k]);
			bool any = false;

			put(b, "<td>");
			for (size_t i = 0; i < n; i++) {
				const json_t *c = json_array_get(cells, mem[i]);

				if (!same(c, rc, "profile") || !same(c, kc, "path"))
					continue;
				put_cell(b, c);
				any = true;
			}
			if (!any)
				put(b, "<span class=\"empty\" title=\"not in this matrix\">\u00b7</span>");
			put(b, "</td>");
		}
		put(b, "</tr>\n");
	}
	put(b, "</tbody></table></div>\n</section>\n");
}

/* Panels: one per distinct server x shape x family, in order of first appearance. */
static SD_WUR int put_panels(struct sd_buf *b, const json_t *cells)
{
	size_t n = json_array_size(cells), npanels = 0;
	size_t *panel = NULL, *first = NULL, *mem = NULL, *rows = NULL, *cols = NULL;
	int ret = -ENOMEM;

	put(b, "<div id=\"heatmaps\">\n");
	if (n == 0) {
		put(b, "<p class=\"none\">This document holds no cells.</p>\n</div>\n");
		return 0;
	}
	panel = calloc(n, sizeof(*panel));
	first = calloc(n, sizeof(*first));
	mem = calloc(n, sizeof(*mem));
	rows = calloc(n, sizeof(*rows));
	cols = calloc(n, sizeof(*cols));
	if (!panel || !first || !mem || !rows || !cols)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const json_t *c = json_array_get(cells, i);
		size_t p;

		for (p = 0; p < npanels; p++) {
			const json_t *f = json_array_get(cells, first[p]);

			if (same(f, c, "server") && same(f, c, "shape") && same(f, c, "family"))
				break;
		}
		if (p == npanels)
			first[npanels++] = i;
		panel[i] = p;
	}
	for (size_t p = 0; p < npanels; p++) {
		size_t m = 0;

		for (size_t i = first[p]; i < n; i++)
			if (panel[i] == p)
				mem[m++] = i;
		put_panel(b, cells, mem, m, rows, cols);
	}
	put(b, "</div>\n");
	ret = 0;
out:
	free(panel);
	free(first);
	free(mem);
	free(rows);
	free(cols);
	return ret;
}

/* The cells that missed their expectation, readable without JavaScript. */
static void put_misses(struct sd_buf *b, const json_t *cells)
{
	size_t i, n = 0;
	const json_t *c;

	json_array_foreach(cells, i, c)
		n += !passed(c);
	sd_buf_printf(b, "<section class=\"misses\" id=\"misses\">\n<h2>Missed expectations (%zu)</h2>\n", n);
	if (n == 0) {
		put(b, "<p class=\"allgood\">Every cell met its expectation.</p>\n</section>\n");
		return;
	}
	put(b, "<ol>\n");
	json_array_foreach(cells, i, c) {
		const json_t *d = json_object_get(c, "detail");

		if (passed(c))
			continue;
		put(b, "<li><a class=\"mid\" href=\"#cell=");
		urlenc(b, sget(c, "id"));
		put(b, "\">");
		esc(b, sget(c, "id"));
		put(b, "</a> ");
		put_badge(b, sget(c, "outcome"), "span");
		put(b, " <span class=\"exp\">expected <code>");
		esc(b, sget(c, "expected"));
		put(b, "</code></span>");
		if (*sget(c, "rule")) {
			put(b, " <span class=\"rule\">(");
			esc(b, sget(c, "rule"));
			put(b, ")</span>");
		}
		if (*sget(d, "text")) {
			put(b, "<p class=\"ev\">");
			esc(b, sget(d, "text"));
			put(b, "</p>");
		}
		put(b, "</li>\n");
	}
	put(b, "</ol>\n</section>\n");
}

/*
 * Counts for a document without a summary (the renderer does not require
 * one): cells, passed, failed, errors and outcomes from the cells.
 */
static json_t *summary_of(const json_t *cells)
{
	json_t *s = json_object(), *oc = json_object();
	json_int_t ncells = 0, npass = 0, nerr = 0;
	size_t i;
	const json_t *c;

	if (!s) {
		json_decref(oc);
		return NULL;
	}
	/* s owns oc from here on, also when this fails (jansson steals it). */
	if (json_object_set_new(s, "outcomes", oc) < 0)
		goto fail;
	json_array_foreach(cells, i, c) {
		const char *o = sget(c, "outcome");

		ncells++;
		npass += passed(c);
		nerr += strcmp(o, "error") == 0;
		if (json_object_set_new(oc, o, json_integer(iget(oc, o, 0) + 1)) < 0)
			goto fail;
	}
	if (json_object_set_new(s, "cells", json_integer(ncells)) < 0 ||
	    json_object_set_new(s, "passed", json_integer(npass)) < 0 ||
	    json_object_set_new(s, "failed", json_integer(ncells - npass)) < 0 ||
	    json_object_set_new(s, "errors", json_integer(nerr)) < 0)
		goto fail;
	return s;
fail:
	json_decref(s);
	return NULL;
}

/*
 * Appends the page to out; doc is only read. The document should have
 * passed sd_mreport_validate, but a missing or mistyped field renders as
 * empty rather than failing. Errors: -SD_EVALUE when doc is not an object
 * with a "cells" array, -ENOMEM; out may then hold part of a page.
 */
int sd_mreport_html(const json_t *doc, struct sd_buf *out)
{
	const json_t *cells = json_object_get(doc, "cells");
	const json_t *sum = json_object_get(doc, "summary");
	json_t *own_sum = NULL, *meta = NULL;
	int ret = -SD_EVALUE;

	if (!json_is_object(doc) || !json_is_array(cells))
		goto out;
	ret = -ENOMEM;
	if (!json_is_object(sum)) {
		own_sum = summary_of(cells);
		if (!own_sum)
			goto out;
		sum = own_sum;
	}
	meta = outcomes_json();
	if (!meta)
		goto out;

	put_head(out, doc, sum);
	put(out, "<body>\n<main id=\"main\">\n");
	put_header(out, doc, sum);
	put_counts(out, sum);
	put(out, "<noscript><p class=\"noscript\">Filters and the per-cell drill-down need "
		 "JavaScript; the heatmaps, the legend and the list of missed expectations "
		 "work without it.</p></noscript>\n");
	put(out, "<div id=\"filters\" class=\"filters\" role=\"search\" hidden></div>\n");
	ret = put_panels(out, cells);
	if (ret < 0)
		goto out;
	put_legend(out);
	put_misses(out, cells);
	put(out, "<footer>Generated by shakedown from a <code>" SD_MREPORT_SCHEMA "</code> document; "
		 "the data is embedded in this page (<code>#sd-data</code>).</footer>\n");
	put(out, "</main>\n<aside id=\"drilldown\" class=\"drilldown\" aria-label=\"cell details\" "
		 "tabindex=\"-1\" hidden></aside>\n");
	ret = put_json(out, "sd-outcomes", meta);
	if (ret < 0)
		goto out;
	ret = put_json(out, "sd-data", doc);
	if (ret < 0)
		goto out;
	put(out, "<script>\n");
	put(out, asset("report.js"));
	put(out, "</script>\n</body>\n</html>\n");
	ret = sd_buf_error(out);
out:
	json_decref(own_sum);
	json_decref(meta);
	return ret;
}
