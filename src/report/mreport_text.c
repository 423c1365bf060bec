/* SPDX-License-Identifier: MIT */
/* Matrix reports for people and CI, rendered from a validated document: terminal, JUnit, Markdown, diff. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shakedown/mreport.h"
#include "shakedown/report.h"
#include "shakedown/verdict.h"

/* Grids larger than this are summarised instead of drawn: nobody reads a
 * 300 × 300 table in a terminal, and a job summary is capped at 1 MiB. */
#define MAX_GRID_TEXT   100000
#define MAX_GRID_MD     20000
#define MAX_MISSED_MD   500
#define MD_DETAILS_FROM 10
#define MAX_LADDER_ROWS 200
#define LABEL_MAX       28
#define DEFAULT_WIDTH   120

/* ---- reading a validated document ---------------------------------------- */

/* Renderers get valid documents, but read defensively anyway: a missing
 * string reads as "", a missing number as 0. */
static const char *gs(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static long long gi(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

struct rcell {
	const json_t *j;
	const char *id, *profile, *path, *server, *shape, *family, *expected, *text, *breaking;
	enum sd_outcome oc;
	bool pass;
	size_t panel, row, col;
};

struct names {
	const char **v;
	size_t n, cap;
	json_t *map;    /* name → position */
};

struct rpanel {
	const char *server, *shape, *family;
	struct names rows, cols;
	size_t first, count;   /* its run in model.order */
};

struct slot {
	size_t panel, row, col, cell;
};

struct model {
	const json_t *doc;
	struct rcell *cells;
	size_t n;
	struct rpanel *panels;
	size_t npanels, cap;
	struct slot *order;    /* cells sorted by (panel, row, col) */
	size_t counts[SD_OUTCOME_MAX], passed, failed, errors;
};

/* Position of name in l, added at the end if new; -1 when out of memory. */
static long names_add(struct names *l, const char *name)
{
	json_t *pos = json_object_get(l->map, name);

	if (pos)
		return (long)json_integer_value(pos);
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		const char **v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	if (json_object_set_new_nocheck(l->map, name, json_integer((json_int_t)l->n)) < 0)
		return -1;
	l->v[l->n] = name;
	return (long)l->n++;
}

static void model_free(struct model *m)
{
	for (size_t i = 0; i < m->npanels; i++) {
		free(m->panels[i].rows.v);
		free(m->panels[i].cols.v);
		json_decref(m->panels[i].rows.map);
		json_decref(m->panels[i].cols.map);
	}
	free(m->panels);
	free(m->cells);
	free(m->order);
	memset(m, 0, sizeof(*m));
}

static int cmp_slot(const void *a, const void *b)
{
	const struct slot *x = a, *y = b;

	if (x->panel != y->panel)
		return x->panel < y->panel ? -1 : 1;
	if (x->row != y->row)
		return x->row < y->row ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return x->cell < y->cell ? -1 : x->cell > y->cell;
}

static long panel_of(struct model *m, json_t *map, const struct rcell *c)
{
	char *key;
	size_t a = strlen(c->server), b = strlen(c->shape), d = strlen(c->family);
	json_t *pos;
	long ret = -1;

	key = malloc(a + b + d + 3);
	if (!key)
		return -1;
	memcpy(key, c->server, a);
	key[a] = 0x1f;
	memcpy(key + a + 1, c->shape, b);
	key[a + 1 + b] = 0x1f;
	memcpy(key + a + b + 2, c->family, d + 1);
	if ((pos = json_object_get(map, key))) {
		ret = (long)json_integer_value(pos);
		goto out;
	}
	if (m->npanels == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 4;
		struct rpanel *p = realloc(m->panels, cap * sizeof(*p));

		if (!p)
			goto out;
		m->panels = p;
		m->cap = cap;
	}
	memset(&m->panels[m->npanels], 0, sizeof(m->panels[0]));
	m->panels[m->npanels].server = c->server;
	m->panels[m->npanels].shape = c->shape;
	m->panels[m->npanels].family = c->family;
	m->panels[m->npanels].rows.map = json_object();
	m->panels[m->npanels].cols.map = json_object();
	m->npanels++;
	if (!m->panels[m->npanels - 1].rows.map || !m->panels[m->npanels - 1].cols.map ||
	    json_object_set_new_nocheck(map, key, json_integer((json_int_t)(m->npanels - 1))) < 0)
		goto out;
	ret = (long)(m->npanels - 1);
out:
	free(key);
	return ret;
}

/* The cells and their panels, rows and columns in first-appearance order.
 * Views into doc: valid while doc lives and is not changed. */
static int model_build(const json_t *doc, struct model *m)
{
	const json_t *cells = json_object_get(doc, "cells");
	json_t *pmap = NULL;
	int ret = -ENOMEM;

	memset(m, 0, sizeof(*m));
	m->doc = doc;
	m->n = json_array_size(cells);
	m->cells = calloc(m->n ? m->n : 1, sizeof(*m->cells));
	m->order = calloc(m->n ? m->n : 1, sizeof(*m->order));
	pmap = json_object();
	if (!m->cells || !m->order || !pmap)
		goto out;
	for (size_t i = 0; i < m->n; i++) {
		struct rcell *c = &m->cells[i];
		const json_t *d;
		long p, r, k;

		c->j = json_array_get(cells, i);
		d = json_object_get(c->j, "detail");
		c->id = gs(c->j, "id");
		c->profile = gs(c->j, "profile");
		c->path = gs(c->j, "path");
		c->server = gs(c->j, "server");
		c->shape = gs(c->j, "shape");
		c->family = gs(c->j, "family");
		c->expected = gs(c->j, "expected");
		c->text = gs(d, "text");
		c->breaking = json_string_value(json_object_get(d, "breaking"));
		if (sd_outcome_parse(gs(c->j, "outcome"), &c->oc) < 0)
			c->oc = SD_ERROR;
		c->pass = json_is_true(json_object_get(c->j, "pass")) && c->oc != SD_ERROR;
		m->counts[c->oc]++;
		if (c->pass)
			m->passed++;
		else if (c->oc == SD_ERROR)
			m->errors++;
		else
			m->failed++;
		if ((p = panel_of(m, pmap, c)) < 0 ||
		    (r = names_add(&m->panels[p].rows, c->profile)) < 0 ||
		    (k = names_add(&m->panels[p].cols, c->path)) < 0)
			goto out;
		c->panel = (size_t)p;
		c->row = (size_t)r;
		c->col = (size_t)k;
		m->order[i] = (struct slot){ c->panel, c->row, c->col, i };
		m->panels[p].count++;
	}
	qsort(m->order, m->n, sizeof(*m->order), cmp_slot);
	for (size_t i = 0, at = 0; i < m->npanels; i++) {
		m->panels[i].first = at;
		at += m->panels[i].count;
	}
	ret = 0;
out:
	json_decref(pmap);
	if (ret < 0)
		model_free(m);
	return ret;
}

/* ---- terminal text ------------------------------------------------------ */

#define SGR_RESET "\033[0m"

static const struct {
	const char *u8, *ascii, *sgr;
} sym[SD_OUTCOME_MAX] = {
	[SD_OK] = { "\u2713", "+", "32" },            /* ✓ */
	[SD_OK_HRR] = { "\u21bb", "^", "32" },        /* ↻ */
	[SD_ALERT] = { "\u25b2", "A", "33" },         /* ▲ */
	[SD_RESET] = { "\u21af", "R", "33" },         /* ↯ */
	[SD_CLOSED] = { "\u22a3", "C", "33" },        /* ⊣ */
	[SD_STALL] = { "\u22ef", "S", "31" },         /* ⋯ */
	[SD_BLACKHOLE] = { "\u25cf", "B", "31" },     /* ● */
	[SD_TRUNCATED] = { "\u25d0", "T", "31" },     /* ◐ */
	[SD_MANGLED] = { "\u2260", "M", "35" },       /* ≠ */
	[SD_FRAG_LOST] = { "\u25cc", "F", "31" },     /* ◌ */
	[SD_REFUSED] = { "\u2298", "X", "33" },       /* ⊘ */
	[SD_HRR_FAILURE] = { "\u21ba", "H", "35" },   /* ↺ */
	[SD_ERROR] = { "E", "E", "90" },
};

struct tctx {
	struct sd_buf *b;
	bool color, utf8;
	unsigned width;
};

static void sgr(struct tctx *t, const char *code)
{
	if (t->color)
		sd_buf_printf(t->b, "\033[%sm", code);
}

static void sgr_end(struct tctx *t)
{
	if (t->color)
		sd_buf_put(t->b, SGR_RESET, sizeof(SGR_RESET) - 1);
}

static void put(struct tctx *t, const char *s)
{
	sd_buf_put(t->b, s, strlen(s));
}

static void spaces(struct tctx *t, size_t n)
{
	while (n--)
		sd_buf_u8(t->b, ' ');
}

/* Ends a line without trailing blanks. */
static void endline(struct sd_buf *b)
{
	while (!b->err && b->len && b->data[b->len - 1] == ' ')
		b->len--;
	sd_buf_u8(b, '\n');
}

/*
 * Next code point of s at *i (advanced): its bytes are s[start, *i).
 * Returns the code point, or -1 for a byte that starts no valid sequence.
 */
static long next_cp(const unsigned char *s, size_t *i)
{
	unsigned char c = s[*i];
	size_t n, k;
	long cp, min;

	if (c < 0x80) {
		(*i)++;
		return c;
	}
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07, min = 0x10000;
	else
		goto bad;
	for (k = 1; k < n; k++) {
		if ((s[*i + k] & 0xc0) != 0x80)
			goto bad;
		cp = (cp << 6) | (s[*i + k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		goto bad;
	*i += n;
	return cp;
bad:
	(*i)++;
	return -1;
}

/* Characters that would move the cursor, change colours or reorder text. */
static bool unsafe_cp(long cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) || (cp >= 0x200b && cp <= 0x200f) ||
	       (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0xfeff ||
	       (cp & 0xfffe) == 0xfffe;
}

/* Terminal columns of a printable code point: a short wcwidth() that
 * needs no locale (Unicode East Asian Width W/F, emoji, combining marks). */
static size_t cp_width(long cp)
{
	static const long wide[][2] = {
		{ 0x1100, 0x115f }, { 0x2e80, 0x303e }, { 0x3041, 0x33ff }, { 0x3400, 0x4dbf },
		{ 0x4e00, 0x9fff }, { 0xa000, 0xa4cf }, { 0xac00, 0xd7a3 }, { 0xf900, 0xfaff },
		{ 0xfe30, 0xfe4f }, { 0xff00, 0xff60 }, { 0xffe0, 0xffe6 }, { 0x1f300, 0x1f64f },
		{ 0x1f900, 0x1f9ff }, { 0x20000, 0x3fffd },
	};
	static const long zero[][2] = {
		{ 0x0300, 0x036f }, { 0x1ab0, 0x1aff }, { 0x1dc0, 0x1dff }, { 0x20d0, 0x20ff },
		{ 0xfe00, 0xfe0f }, { 0xfe20, 0xfe2f },
	};

	if (cp < 0x300)
		return 1;
	for (size_t i = 0; i < sizeof(zero) / sizeof(zero[0]); i++)
		if (cp >= zero[i][0] && cp <= zero[i][1])
			return 0;
	for (size_t i = 0; i < sizeof(wide) / sizeof(wide[0]); i++)
		if (cp >= wide[i][0] && cp <= wide[i][1])
			return 2;
	return 1;
}

/* The code point at s[*i] as put_clean writes it: its columns, and
 * whether it is replaced by '?'. */
static size_t clean_cp(const struct tctx *t, const unsigned char *s, size_t *i, bool *replace)
{
	long cp = next_cp(s, i);

	*replace = cp < 0 || unsafe_cp(cp) || (!t->utf8 && cp >= 0x80);
	return *replace ? 1 : cp_width(cp);
}

/* Columns s takes when written by put_clean. */
static size_t text_width(const struct tctx *t, const char *s)
{
	size_t w = 0;
	bool replace;

	for (size_t i = 0; s[i];)
		w += clean_cp(t, (const unsigned char *)s, &i, &replace);
	return w;
}

/*
 * Writes untrusted s for a terminal: control, bidi and invalid characters
 * become '?', non-ASCII too without utf8; at most maxw columns, the cut
 * marked with an ellipsis. Returns the columns written.
 */
static size_t put_clean(struct tctx *t, const char *s, size_t maxw)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t w = 0, total = text_width(t, s);

	for (size_t i = 0; u[i];) {
		size_t start = i;
		bool replace;
		size_t cw = clean_cp(t, u, &i, &replace);

		if (total > maxw && w + cw + 1 > maxw) {
			put(t, t->utf8 ? "\u2026" : "~");
			return w + 1;
		}
		if (replace)
			sd_buf_u8(t->b, '?');
		else
			sd_buf_put(t->b, u + start, i - start);
		w += cw;
	}
	return w;
}

static void put_sym(struct tctx *t, enum sd_outcome o, bool missed)
{
	if (t->color) {
		sd_buf_printf(t->b, "\033[%s%sm", missed ? "1;7;" : "", sym[o].sgr);
		put(t, t->utf8 ? sym[o].u8 : sym[o].ascii);
		sgr_end(t);
	} else {
		put(t, t->utf8 ? sym[o].u8 : sym[o].ascii);
	}
	if (missed) {
		sgr(t, "1");
		put(t, "!");
		sgr_end(t);
	} else {
		put(t, " ");
	}
}

static void put_empty(struct tctx *t)
{
	sgr(t, "90");
	put(t, t->utf8 ? "\u00b7" : ".");
	sgr_end(t);
	put(t, " ");
}

static const char *dot(const struct tctx *t)
{
	return t->utf8 ? " \u00b7 " : " - ";
}

static size_t digits(size_t n)
{
	size_t d = 1;

	while (n >= 10)
		n /= 10, d++;
	return d;
}

/* One row of a panel's grid for columns [c0, c1); *p walks the sorted slots. */
static void grid_row(struct tctx *t, const struct model *m, const struct rpanel *p, size_t row,
		     size_t c0, size_t c1, const size_t *colw, size_t colw1, size_t labelw, bool *empty)
{
	const struct slot *s = m->order + p->first, *end = s + p->count;

	/* The row's run in the sorted slots (rows are few per panel in
	 * practice; a binary search keeps hostile shapes linear). */
	size_t lo = 0, hi = p->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s[mid].row < row || (s[mid].row == row && s[mid].col < c0))
			lo = mid + 1;
		else
			hi = mid;
	}
	s += lo;
	spaces(t, 2);
	spaces(t, labelw - put_clean(t, p->rows.v[row], labelw));
	spaces(t, 2);
	for (size_t col = c0; col < c1; col++) {
		size_t w = colw ? colw[col] : colw1;

		if (s < end && s->row == row && s->col == col) {
			const struct rcell *c = &m->cells[s->cell];

			put_sym(t, c->oc, !c->pass);
			s++;
		} else {
			put_empty(t);
			*empty = true;
		}
		if (col + 1 < c1)
			spaces(t, w - 2);
	}
	endline(t->b);
}

static void panel_text(struct tctx *t, const struct model *m, const struct rpanel *p, bool *empty)
{
	size_t labelw = 0, namesw, *colw = NULL;

	sgr(t, "1");
	put(t, "server ");
	put_clean(t, p->server, 64);
	put(t, dot(t));
	put(t, "shape ");
	put_clean(t, p->shape, 64);
	put(t, dot(t));
	put_clean(t, p->family, 8);
	sgr_end(t);
	endline(t->b);
	if (p->rows.n && p->cols.n > MAX_GRID_TEXT / p->rows.n) {
		sd_buf_printf(t->b, "  (%zu profiles \u00d7 %zu paths: too large to draw; missed expectations are "
				    "listed below)\n", p->rows.n, p->cols.n);
		return;
	}
	for (size_t r = 0; r < p->rows.n; r++) {
		size_t w = text_width(t, p->rows.v[r]);

		labelw = w > labelw ? w : labelw;
	}
	labelw = labelw > LABEL_MAX ? LABEL_MAX : labelw;

	/* Paths as column headings when they fit, else numbers and a key. */
	namesw = 2 + labelw + 2;
	colw = calloc(p->cols.n ? p->cols.n : 1, sizeof(*colw));
	if (!colw) {
		t->b->err = t->b->err ? t->b->err : -ENOMEM;
		return;
	}
	for (size_t c = 0; c < p->cols.n; c++) {
		colw[c] = text_width(t, p->cols.v[c]) + 2;
		colw[c] = colw[c] < 3 ? 3 : colw[c];
		namesw += colw[c];
	}
	if (namesw <= t->width + 2) {
		spaces(t, 2 + labelw + 2);
		for (size_t c = 0; c < p->cols.n; c++) {
			size_t w = put_clean(t, p->cols.v[c], SIZE_MAX);

			spaces(t, colw[c] - w);
		}
		endline(t->b);
		for (size_t r = 0; r < p->rows.n; r++)
			grid_row(t, m, p, r, 0, p->cols.n, colw, 0, labelw, empty);
	} else {
		size_t cw = digits(p->cols.n) + 1 < 3 ? 3 : digits(p->cols.n) + 1;
		size_t per = (t->width - 4 - labelw) / cw, at;

		per = per ? per : 1;
		for (size_t c0 = 0; c0 < p->cols.n; c0 += per) {
			size_t c1 = c0 + per < p->cols.n ? c0 + per : p->cols.n;

			spaces(t, 2 + labelw + 2);
			for (size_t c = c0; c < c1; c++)
				sd_buf_printf(t->b, "%-*zu", (int)cw, c + 1);
			endline(t->b);
			for (size_t r = 0; r < p->rows.n; r++)
				grid_row(t, m, p, r, c0, c1, NULL, cw, labelw, empty);
		}
		/* The key, wrapped. */
		put(t, "  paths:");
		at = 8;
		for (size_t c = 0; c < p->cols.n; c++) {
			size_t w = digits(c + 1) + 1 + (text_width(t, p->cols.v[c]) > 60 ? 60 : text_width(t, p->cols.v[c]));

			if (at > 8 && at + 2 + w > t->width) {
				endline(t->b);
				spaces(t, 8);
				at = 8;
			}
			sd_buf_printf(t->b, "%s%zu ", at == 8 ? " " : "  ", c + 1);
			put_clean(t, p->cols.v[c], 60);
			at += 2 + w;
		}
		endline(t->b);
	}
	free(colw);
}

/* "delivered 1460 of 1931 bytes, first missing at 1460: FIELD", or nothing. */
static void trunc_text(struct tctx *t, const json_t *tr)
{
	const json_t *off = json_object_get(tr, "first_missing_offset");
	const char *field = json_string_value(json_object_get(tr, "field"));

	sd_buf_printf(t->b, "delivered %lld of %lld bytes", gi(tr, "delivered"), gi(tr, "sent"));
	if (json_is_integer(off)) {
		sd_buf_printf(t->b, ", first missing at byte %lld", (long long)json_integer_value(off));
		if (field) {
			put(t, ": ");
			put_clean(t, field, 200);
		}
	}
}

static bool truncated(const json_t *tr)
{
	return json_is_integer(json_object_get(tr, "first_missing_offset")) || gi(tr, "delivered") != gi(tr, "sent");
}

static void missed_text(struct tctx *t, const struct rcell *c)
{
	const json_t *tr = json_object_get(c->j, "truncation");

	spaces(t, 2);
	put_sym(t, c->oc, true);
	put(t, " ");
	sgr(t, "1");
	put_clean(t, c->id, 200);
	sgr_end(t);
	put(t, ": ");
	if (c->oc == SD_ERROR) {
		put(t, "error (the harness failed; not a verdict about the path)");
	} else {
		put(t, sd_outcome_name(c->oc));
		put(t, ", expected ");
		put_clean(t, c->expected, 200);
	}
	endline(t->b);
	if (c->text[0]) {
		spaces(t, 6);
		put_clean(t, c->text, 1000);
		endline(t->b);
	}
	if (c->oc != SD_ERROR && (c->breaking || truncated(tr))) {
		spaces(t, 6);
		if (c->breaking) {
			put(t, "breaking hop: ");
			put_clean(t, c->breaking, 64);
			if (truncated(tr))
				put(t, "; ");
		}
		if (truncated(tr))
			trunc_text(t, tr);
		endline(t->b);
	}
}

/* "8 cells: 6 ok, 1 reset, 1 blackhole · 7 met their expectation, 1 missed · 0.8 s" */
static void summary_text(struct tctx *t, const struct model *m)
{
	const json_t *run = json_object_get(m->doc, "run"), *shard = json_object_get(m->doc, "shard");
	long long wall = gi(run, "wall_ms");
	bool first = true;

	sd_buf_printf(t->b, "%zu cell%s", m->n, m->n == 1 ? "" : "s");
	for (int o = 0; o < SD_OUTCOME_MAX; o++) {
		if (!m->counts[o])
			continue;
		sd_buf_printf(t->b, "%s%zu %s", first ? ": " : ", ", m->counts[o], sd_outcome_name((enum sd_outcome)o));
		first = false;
	}
	put(t, dot(t));
	sgr(t, m->failed || m->errors ? "1;31" : "32");
	sd_buf_printf(t->b, "%zu met their expectation", m->passed);
	if (m->failed)
		sd_buf_printf(t->b, ", %zu missed", m->failed);
	if (m->errors)
		sd_buf_printf(t->b, ", %zu harness error%s", m->errors, m->errors == 1 ? "" : "s");
	sgr_end(t);
	if (json_is_object(shard))
		sd_buf_printf(t->b, "%sshard %lld/%lld", dot(t), gi(shard, "index"), gi(shard, "count"));
	sd_buf_printf(t->b, "%s%lld.%lld s\n", dot(t), (wall + 50) / 1000, (wall + 50) / 100 % 10);
}

int sd_mreport_text(const json_t *doc, const struct sd_mreport_text_opts *o, struct sd_buf *out)
{
	struct tctx t = { out, o && o->color, o && o->utf8, o && o->width >= 40 ? o->width : DEFAULT_WIDTH };
	struct model m;
	bool empty = false;
	int ret;

	ret = model_build(doc, &m);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < m.npanels; i++) {
		panel_text(&t, &m, &m.panels[i], &empty);
		put(&t, "\n");
	}
	/* The legend: only what appears above. */
	for (int k = 0; k < SD_OUTCOME_MAX; k++) {
		if (!m.counts[k])
			continue;
		sgr(&t, sym[k].sgr);
		put(&t, t.utf8 ? sym[k].u8 : sym[k].ascii);
		sgr_end(&t);
		sd_buf_printf(out, " %s  ", sd_outcome_name((enum sd_outcome)k));
	}
	if (m.failed || m.errors) {
		sgr(&t, "1;7");
		put(&t, "!");
		sgr_end(&t);
		put(&t, " missed its expectation  ");
	}
	if (empty)
		put(&t, t.utf8 ? "\u00b7 not in the matrix" : ". not in the matrix");
	endline(out);
	if (m.failed || m.errors) {
		put(&t, "\n");
		if (m.failed)
			sd_buf_printf(out, "%zu cell%s missed %s expectation%s", m.failed, m.failed == 1 ? "" : "s",
				      m.failed == 1 ? "its" : "their", m.errors ? ", " : "");
		if (m.errors)
			sd_buf_printf(out, "%zu harness error%s", m.errors, m.errors == 1 ? "" : "s");
		put(&t, ":\n");
		for (size_t i = 0; i < m.n; i++)
			if (!m.cells[i].pass)
				missed_text(&t, &m.cells[i]);
	}
	put(&t, "\n");
	summary_text(&t, &m);
	model_free(&m);
	return sd_buf_error(out);
}

/* ---- JUnit XML ----------------------------------------------------------- */

/* XML 1.0 §2.2 Char; everything else is dropped. Attributes keep their
 * tabs and line breaks as character references (§3.3.3 would fold them). */
static void xml_put(struct sd_buf *b, const char *s, bool attr)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; u[i];) {
		size_t start = i;
		long cp = next_cp(u, &i);

		if (cp < 0 || (cp < 0x20 && cp != 0x9 && cp != 0xa && cp != 0xd) || cp == 0xfffe || cp == 0xffff)
			continue;
		switch (cp) {
		case '&': sd_buf_put(b, "&amp;", 5); break;
		case '<': sd_buf_put(b, "&lt;", 4); break;
		case '>': sd_buf_put(b, "&gt;", 4); break;
		case '"': sd_buf_put(b, attr ? "&quot;" : "\"", attr ? 6 : 1); break;
		case '\t': case '\n': case '\r':
			if (attr)
				sd_buf_printf(b, "&#%ld;", cp);
			else
				sd_buf_u8(b, (uint8_t)cp);
			break;
		default:
			sd_buf_put(b, u + start, i - start);
		}
	}
}

static void xml_attr(struct sd_buf *b, const char *name, const char *value)
{
	sd_buf_printf(b, " %s=\"", name);
	xml_put(b, value, true);
	sd_buf_u8(b, '"');
}

static void xml_property(struct sd_buf *b, const char *name, const char *value)
{
	sd_buf_put(b, "      <property", 15);
	xml_attr(b, "name", name);
	xml_attr(b, "value", value);
	sd_buf_put(b, "/>\n", 3);
}

static void xml_secs(struct sd_buf *b, const char *name, long long ms)
{
	sd_buf_printf(b, " %s=\"%lld.%03lld\"", name, ms / 1000, ms % 1000);
}

/* The ladder as text lines, for a failure body. */
static void ladder_text(struct sd_buf *b, const json_t *l)
{
	const json_t *links = json_object_get(l, "links"), *rows = json_object_get(l, "rows");
	size_t nl = json_array_size(links), nr = json_array_size(rows);
	size_t *w = calloc(nl ? nl : 1, sizeof(*w));

	if (!w) {
		b->err = b->err ? b->err : -ENOMEM;
		return;
	}
	sd_buf_printf(b, "ladder:\n  %10s  dir ", "t_us");
	for (size_t k = 0; k < nl; k++) {
		const char *name = gs(json_array_get(links, k), "name");

		w[k] = strlen(name) > 24 ? 24 : strlen(name);
		w[k] = w[k] < 4 ? 4 : w[k];
		sd_buf_printf(b, " %-*.*s", (int)w[k], (int)w[k], name);
	}
	sd_buf_put(b, "  what\n", 7);
	for (size_t i = 0; i < nr && i < MAX_LADDER_ROWS; i++) {
		const json_t *row = json_array_get(rows, i), *at = json_object_get(row, "at");

		sd_buf_printf(b, "  %10lld  %-3s ", gi(row, "t_us"), gs(row, "dir"));
		for (size_t k = 0; k < nl; k++) {
			const char *s = json_string_value(json_array_get(at, k));

			s = !s || strcmp(s, "none") == 0 ? "-" : strcmp(s, "lost") == 0 ? "LOST" : s;
			sd_buf_printf(b, " %-*s", (int)w[k], s);
		}
		sd_buf_put(b, "  ", 2);
		sd_buf_put(b, gs(row, "what"), strlen(gs(row, "what")));
		sd_buf_u8(b, '\n');
	}
	if (nr > MAX_LADDER_ROWS)
		sd_buf_printf(b, "  (%zu rows more here)\n", nr - MAX_LADDER_ROWS);
	if (gi(l, "more"))
		sd_buf_printf(b, "  (%lld rows more, not recorded)\n", gi(l, "more"));
	free(w);
}

/* The failure body as plain text; the caller escapes it. */
static void failure_body(struct sd_buf *b, const struct rcell *c)
{
	const json_t *tr = json_object_get(c->j, "truncation"), *off;
	const json_t *links = json_object_get(json_object_get(c->j, "ladder"), "links");

	sd_buf_printf(b, "cell %s (index %lld, group %s, rule %s)\n", c->id, gi(c->j, "index"), gs(c->j, "group"),
		      gs(c->j, "rule"));
	if (c->oc == SD_ERROR)
		sd_buf_printf(b, "harness error: %s\n", c->text);
	else
		sd_buf_printf(b, "outcome %s, expected %s\nevidence: %s\n", sd_outcome_name(c->oc), c->expected,
			      c->text);
	sd_buf_printf(b, "breaking hop: %s\n", c->breaking ? c->breaking : "none named");
	sd_buf_printf(b, "truncation: sent %lld, delivered %lld", gi(tr, "sent"), gi(tr, "delivered"));
	off = json_object_get(tr, "first_missing_offset");
	if (json_is_integer(off))
		sd_buf_printf(b, ", first_missing_offset %lld", (long long)json_integer_value(off));
	if (json_string_value(json_object_get(tr, "field")))
		sd_buf_printf(b, ", field %s", gs(tr, "field"));
	sd_buf_u8(b, '\n');
	if (json_array_size(links)) {
		sd_buf_put(b, "links:", 6);
		for (size_t k = 0; k < json_array_size(links); k++)
			sd_buf_printf(b, "%s %s (mtu %lld)", k ? "," : "", gs(json_array_get(links, k), "name"),
				      gi(json_array_get(links, k), "mtu"));
		sd_buf_u8(b, '\n');
	}
	ladder_text(b, json_object_get(c->j, "ladder"));
}

/* "expected ok|ok-hrr, got reset: EVIDENCE" */
static void failure_message(struct sd_buf *b, const struct rcell *c)
{
	if (c->oc == SD_ERROR)
		sd_buf_printf(b, "harness error: %s", c->text);
	else
		sd_buf_printf(b, "expected %s, got %s: %s", c->expected, sd_outcome_name(c->oc), c->text);
}

int sd_mreport_junit(const json_t *doc, struct sd_buf *out)
{
	const char *name = gs(json_object_get(doc, "matrix"), "name");
	struct sd_buf tmp = SD_BUF_INIT;
	struct model m;
	int ret;

	ret = model_build(doc, &m);
	if (ret < 0)
		return ret;
	sd_buf_printf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites");
	sd_buf_put(&tmp, "shakedown ", 10);
	sd_buf_put(&tmp, name, strlen(name));
	sd_buf_u8(&tmp, 0);
	xml_attr(out, "name", tmp.err ? "shakedown" : (const char *)tmp.data);
	sd_buf_printf(out, " tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"0\"", m.n, m.failed, m.errors);
	xml_secs(out, "time", gi(json_object_get(doc, "run"), "wall_ms"));
	sd_buf_put(out, ">\n", 2);

	for (size_t pi = 0; pi < m.npanels; pi++) {
		const struct rpanel *p = &m.panels[pi];
		size_t failed = 0, errors = 0;
		long long ms = 0;

		/* One suite per panel; its cells in document order. */
		for (size_t i = 0; i < m.n; i++) {
			if (m.cells[i].panel != pi)
				continue;
			ms += gi(json_object_get(m.cells[i].j, "timing_ms"), "cell");
			failed += !m.cells[i].pass && m.cells[i].oc != SD_ERROR;
			errors += m.cells[i].oc == SD_ERROR;
		}
		sd_buf_reset(&tmp);
		sd_buf_printf(&tmp, "%s: server %s, shape %s, %s", name, p->server, p->shape, p->family);
		sd_buf_u8(&tmp, 0);
		sd_buf_put(out, "  <testsuite", 12);
		xml_attr(out, "name", tmp.err ? "" : (const char *)tmp.data);
		sd_buf_printf(out, " tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"0\"", p->count, failed,
			      errors);
		xml_secs(out, "time", ms);
		sd_buf_put(out, ">\n    <properties>\n", 19);
		xml_property(out, "server", p->server);
		xml_property(out, "shape", p->shape);
		xml_property(out, "family", p->family);
		sd_buf_put(out, "    </properties>\n", 18);
		for (size_t i = 0; i < m.n; i++) {
			const struct rcell *c = &m.cells[i];

			if (c->panel != pi)
				continue;
			sd_buf_put(out, "    <testcase", 13);
			xml_attr(out, "name", c->id);
			sd_buf_reset(&tmp);
			sd_buf_printf(&tmp, "shakedown.%s.%s", name, c->path);
			sd_buf_u8(&tmp, 0);
			xml_attr(out, "classname", tmp.err ? "" : (const char *)tmp.data);
			xml_secs(out, "time", gi(json_object_get(c->j, "timing_ms"), "cell"));
			sd_buf_put(out, ">\n", 2);
			if (!c->pass) {
				const char *tag = c->oc == SD_ERROR ? "error" : "failure";

				sd_buf_printf(out, "      <%s", tag);
				sd_buf_reset(&tmp);
				failure_message(&tmp, c);
				sd_buf_u8(&tmp, 0);
				xml_attr(out, "message", tmp.err ? "" : (const char *)tmp.data);
				xml_attr(out, "type", sd_outcome_name(c->oc));
				sd_buf_u8(out, '>');
				sd_buf_reset(&tmp);
				failure_body(&tmp, c);
				sd_buf_u8(&tmp, 0);
				xml_put(out, tmp.err ? "" : (const char *)tmp.data, false);
				sd_buf_printf(out, "</%s>\n", tag);
			}
			/* Every cell says what happened, also when that was expected. */
			sd_buf_printf(out, "      <system-out>outcome %s, expected ", sd_outcome_name(c->oc));
			xml_put(out, c->expected, false);
			sd_buf_put(out, ": ", 2);
			xml_put(out, c->text, false);
			sd_buf_put(out, "</system-out>\n    </testcase>\n", 30);
		}
		sd_buf_put(out, "  </testsuite>\n", 15);
	}
	sd_buf_put(out, "</testsuites>\n", 14);
	ret = tmp.err ? tmp.err : sd_buf_error(out);
	sd_buf_free(&tmp);
	model_free(&m);
	return ret;
}

/* ---- Markdown ------------------------------------------------------------ */

/* Untrusted text inside a table cell or list item: punctuation that means
 * something to GFM is backslash-escaped, control characters become spaces. */
static void md_put(struct sd_buf *b, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; u[i];) {
		size_t start = i;
		long cp = next_cp(u, &i);

		if (cp < 0 || unsafe_cp(cp)) {
			sd_buf_u8(b, ' ');
		} else if (cp == '&') {
			sd_buf_put(b, "&amp;", 5);
		} else if (cp == '<') {
			sd_buf_put(b, "&lt;", 4);
		} else if (cp == '>') {
			sd_buf_put(b, "&gt;", 4);
		} else if (cp < 0x80 && strchr("\\`*_[]|~#!", (int)cp)) {
			sd_buf_u8(b, '\\');
			sd_buf_u8(b, (uint8_t)cp);
		} else {
			sd_buf_put(b, u + start, i - start);
		}
	}
}

static void md_cell(struct sd_buf *b, const struct rcell *c)
{
	if (c->oc == SD_ERROR)
		sd_buf_put(b, "\u26a0\ufe0f error", strlen("\u26a0\ufe0f error"));
	else if (c->pass)
		sd_buf_printf(b, "\u2705 %s", sd_outcome_name(c->oc));
	else
		sd_buf_printf(b, "\u274c **%s**", sd_outcome_name(c->oc));
}

static void md_panel(struct sd_buf *b, const struct model *m, const struct rpanel *p, size_t *drawn)
{
	const struct slot *s = m->order + p->first, *end = s + p->count;

	sd_buf_put(b, "#### server ", 12);
	md_put(b, p->server);
	sd_buf_put(b, " \u00b7 shape ", strlen(" \u00b7 shape "));
	md_put(b, p->shape);
	sd_buf_put(b, " \u00b7 ", strlen(" \u00b7 "));
	md_put(b, p->family);
	sd_buf_put(b, "\n\n", 2);
	if (p->rows.n && (p->cols.n > MAX_GRID_MD / p->rows.n || *drawn + p->rows.n * p->cols.n > MAX_GRID_MD)) {
		size_t bad = 0;

		for (const struct slot *q = s; q < end; q++)
			bad += !m->cells[q->cell].pass;
		sd_buf_printf(b, "%zu profiles \u00d7 %zu paths, too large for a table: %zu of %zu cells missed "
				 "their expectation.\n\n", p->rows.n, p->cols.n, bad, p->count);
		return;
	}
	*drawn += p->rows.n * p->cols.n;
	sd_buf_put(b, "| profile |", 11);
	for (size_t c = 0; c < p->cols.n; c++) {
		sd_buf_u8(b, ' ');
		md_put(b, p->cols.v[c]);
		sd_buf_put(b, " |", 2);
	}
	sd_buf_put(b, "\n| --- |", 8);
	for (size_t c = 0; c < p->cols.n; c++)
		sd_buf_put(b, " :-: |", 6);
	sd_buf_u8(b, '\n');
	for (size_t r = 0; r < p->rows.n; r++) {
		sd_buf_put(b, "| ", 2);
		md_put(b, p->rows.v[r]);
		sd_buf_put(b, " |", 2);
		for (size_t c = 0; c < p->cols.n; c++) {
			sd_buf_u8(b, ' ');
			if (s < end && s->row == r && s->col == c) {
				md_cell(b, &m->cells[s->cell]);
				s++;
				sd_buf_u8(b, ' ');
			}
			sd_buf_u8(b, '|');
		}
		sd_buf_u8(b, '\n');
	}
	sd_buf_u8(b, '\n');
}

static void md_missed(struct sd_buf *b, const struct rcell *c)
{
	const json_t *tr = json_object_get(c->j, "truncation"), *off = json_object_get(tr, "first_missing_offset");
	const char *field = json_string_value(json_object_get(tr, "field"));

	sd_buf_put(b, "- **", 4);
	md_put(b, c->id);
	sd_buf_put(b, "**: ", 4);
	if (c->oc == SD_ERROR) {
		sd_buf_put(b, "harness error", 13);
	} else {
		sd_buf_printf(b, "%s, expected ", sd_outcome_name(c->oc));
		md_put(b, c->expected);
	}
	if (c->text[0]) {
		sd_buf_put(b, " \u2014 ", strlen(" \u2014 "));
		md_put(b, c->text);
	}
	if (c->oc != SD_ERROR && (c->breaking || json_is_integer(off))) {
		sd_buf_put(b, " (", 2);
		if (c->breaking) {
			sd_buf_put(b, "breaking hop: ", 14);
			md_put(b, c->breaking);
		}
		if (json_is_integer(off)) {
			sd_buf_printf(b, "%sfirst missing byte %lld", c->breaking ? "; " : "",
				      (long long)json_integer_value(off));
			if (field) {
				sd_buf_put(b, ": ", 2);
				md_put(b, field);
			}
		}
		sd_buf_u8(b, ')');
	}
	sd_buf_u8(b, '\n');
}

int sd_mreport_markdown(const json_t *doc, struct sd_buf *out)
{
	const json_t *run = json_object_get(doc, "run");
	long long wall = gi(run, "wall_ms");
	size_t missed, drawn = 0, listed = 0;
	struct model m;
	bool first = true;
	int ret;

	ret = model_build(doc, &m);
	if (ret < 0)
		return ret;
	missed = m.failed + m.errors;
	sd_buf_printf(out, "### %s shakedown matrix ", missed ? "\u274c" : "\u2705");
	md_put(out, gs(json_object_get(doc, "matrix"), "name"));
	sd_buf_printf(out, ": %zu of %zu cells met their expectation\n\n", m.passed, m.n);
	sd_buf_printf(out, "%zu cells", m.n);
	for (int o = 0; o < SD_OUTCOME_MAX; o++) {
		if (!m.counts[o])
			continue;
		sd_buf_printf(out, "%s%zu %s", first ? ": " : ", ", m.counts[o], sd_outcome_name((enum sd_outcome)o));
		first = false;
	}
	sd_buf_printf(out, " \u00b7 %zu met their expectation", m.passed);
	if (m.failed)
		sd_buf_printf(out, ", %zu missed", m.failed);
	if (m.errors)
		sd_buf_printf(out, ", %zu harness error%s", m.errors, m.errors == 1 ? "" : "s");
	sd_buf_printf(out, " \u00b7 %lld.%lld s\n\n", (wall + 50) / 1000, (wall + 50) / 100 % 10);
	for (size_t i = 0; i < m.npanels; i++)
		md_panel(out, &m, &m.panels[i], &drawn);
	sd_buf_printf(out, "\u2705 met its expectation \u00b7 \u274c missed it \u00b7 \u26a0\ufe0f harness error; "
			   "the word is the outcome.\n");
	if (missed) {
		sd_buf_printf(out, "\n#### Missed expectations (%zu)\n\n", missed);
		if (missed > MD_DETAILS_FROM)
			sd_buf_printf(out, "<details><summary>%zu cells missed their expectation</summary>\n\n", missed);
		for (size_t i = 0; i < m.n; i++) {
			if (m.cells[i].pass)
				continue;
			if (listed++ == MAX_MISSED_MD) {
				sd_buf_printf(out, "- \u2026 and %zu more (see the JSON or HTML report)\n",
					      missed - MAX_MISSED_MD);
				break;
			}
			md_missed(out, &m.cells[i]);
		}
		if (missed > MD_DETAILS_FROM)
			sd_buf_printf(out, "\n</details>\n");
	}
	model_free(&m);
	return sd_buf_error(out);
}

/* ---- diff ---------------------------------------------------------------- */

enum { D_REGRESSION, D_FIX, D_CHANGED, D_REMOVED, D_ADDED, D_MAX };

static const char *const dsection[D_MAX] = {
	"Regressions", "Fixes", "Changed outcomes", "Only in old", "Only in new",
};
static const char *const dkey[D_MAX] = { "regressions", "fixes", "changed", "removed", "added" };
static const char *const dcolor[D_MAX] = { "1;31", "32", "33", "90", "90" };

struct dent {
	const struct rcell *old, *new_;
};

int sd_mreport_diff(const json_t *old_doc, const json_t *new_doc, bool json,
		    const struct sd_mreport_text_opts *o, struct sd_buf *out, size_t *regressions)
{
	struct tctx t = { out, o && o->color, o && o->utf8, DEFAULT_WIDTH };
	struct model mo, mn;
	struct dent *ent[D_MAX] = { NULL };
	size_t cnt[D_MAX] = { 0 };
	json_t *ids = NULL, *res = NULL;
	int ret;

	if (regressions)
		*regressions = 0;
	ret = model_build(old_doc, &mo);
	if (ret < 0)
		return ret;
	ret = model_build(new_doc, &mn);
	if (ret < 0) {
		model_free(&mo);
		return ret;
	}
	ret = -ENOMEM;
	ids = json_object();
	if (!ids)
		goto out;
	for (int k = 0; k < D_MAX; k++) {
		ent[k] = calloc((k == D_REMOVED ? mo.n : mn.n) + 1, sizeof(*ent[k]));
		if (!ent[k])
			goto out;
	}
	for (size_t i = 0; i < mo.n; i++)
		if (json_object_set_new_nocheck(ids, mo.cells[i].id, json_integer((json_int_t)i)) < 0)
			goto out;
	for (size_t i = 0; i < mn.n; i++) {
		const struct rcell *n = &mn.cells[i], *p;
		json_t *at = json_object_get(ids, n->id);
		long long oi;
		int k;

		if (!at) {
			ent[D_ADDED][cnt[D_ADDED]++] = (struct dent){ NULL, n };
			continue;
		}
		oi = json_integer_value(at);
		if (oi < 0 || (size_t)oi >= mo.n)
			continue;
		p = &mo.cells[oi];
		/* Marks the old cell as matched. */
		if (json_object_set_new_nocheck(ids, n->id, json_integer(-1)) < 0)
			goto out;
		if (p->pass && !n->pass)
			k = D_REGRESSION;
		else if (!p->pass && n->pass)
			k = D_FIX;
		else if (p->oc != n->oc)
			k = D_CHANGED;
		else
			continue;
		ent[k][cnt[k]++] = (struct dent){ p, n };
	}
	for (size_t i = 0; i < mo.n; i++)
		if (json_integer_value(json_object_get(ids, mo.cells[i].id)) >= 0)
			ent[D_REMOVED][cnt[D_REMOVED]++] = (struct dent){ &mo.cells[i], NULL };

	if (json) {
		res = json_object();
		if (!res)
			goto out;
		for (int k = 0; k < D_MAX; k++) {
			json_t *arr = json_array();

			if (json_object_set_new(res, dkey[k], arr) < 0)
				goto out;
			for (size_t i = 0; i < cnt[k]; i++) {
				const struct dent *d = &ent[k][i];
				json_t *e;

				if (k == D_REMOVED || k == D_ADDED)
					e = json_string((k == D_REMOVED ? d->old : d->new_)->id);
				else
					e = json_pack("{s:s, s:s, s:s, s:s}", "id", d->new_->id, "old",
						      sd_outcome_name(d->old->oc), "new", sd_outcome_name(d->new_->oc),
						      "detail", d->new_->text);
				if (json_array_append_new(arr, e) < 0)
					goto out;
			}
		}
		ret = sd_mreport_dump(res, out);
		if (ret < 0)
			goto out;
	} else {
		bool any = false;

		for (int k = 0; k < D_MAX; k++) {
			if (!cnt[k])
				continue;
			if (any)
				put(&t, "\n");
			any = true;
			sgr(&t, dcolor[k]);
			sd_buf_printf(out, "%s (%zu):", dsection[k], cnt[k]);
			sgr_end(&t);
			endline(out);
			for (size_t i = 0; i < cnt[k]; i++) {
				const struct dent *d = &ent[k][i];
				const struct rcell *c = d->new_ ? d->new_ : d->old;

				spaces(&t, 2);
				put_clean(&t, c->id, 200);
				put(&t, ": ");
				if (d->old)
					put(&t, sd_outcome_name(d->old->oc));
				if (d->old && d->new_)
					put(&t, t.utf8 ? " \u2192 " : " -> ");
				if (d->new_)
					put(&t, sd_outcome_name(d->new_->oc));
				if (d->new_ && c->text[0]) {
					put(&t, " (");
					put_clean(&t, c->text, 300);
					put(&t, ")");
				}
				endline(out);
			}
		}
		if (any)
			put(&t, "\n");
		if (!any)
			sd_buf_printf(out, "no differences (%zu cells)\n", mn.n);
		else
			sd_buf_printf(out, "%zu regression%s, %zu fix%s, %zu changed, %zu only in old, %zu only in new\n",
				      cnt[D_REGRESSION], cnt[D_REGRESSION] == 1 ? "" : "s", cnt[D_FIX],
				      cnt[D_FIX] == 1 ? "" : "es", cnt[D_CHANGED], cnt[D_REMOVED], cnt[D_ADDED]);
	}
	if (regressions)
		*regressions = cnt[D_REGRESSION];
	ret = sd_buf_error(out);
out:
	for (int k = 0; k < D_MAX; k++)
		free(ent[k]);
	json_decref(res);
	json_decref(ids);
	model_free(&mo);
	model_free(&mn);
	return ret;
}
