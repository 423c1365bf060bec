/* SPDX-License-Identifier: MIT */
/* The --shape flag: parsing, canonical text, and the segment plan it implies. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "shakedown/shape.h"

/* Longest item echoed back in an error message. */
#define ITEM_ECHO 48

void sd_shape_init(struct sd_shape *s)
{
	memset(s, 0, sizeof(*s));
}

struct item {
	const char *p;      /* not NUL-terminated */
	size_t len;
};

__attribute__((format(printf, 5, 6)))
static int fail(char *err, size_t errlen, int ret, const struct item *it,
		const char *fmt, ...)
{
	char why[160];
	va_list ap;

	if (!err || !errlen)
		return ret;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (it)
		snprintf(err, errlen, "shape item \"%.*s%s\": %s",
			 (int)(it->len > ITEM_ECHO ? ITEM_ECHO : it->len), it->p,
			 it->len > ITEM_ECHO ? "..." : "", why);
	else
		snprintf(err, errlen, "shape: %s", why);
	return ret;
}

static bool has_prefix(const struct item *it, const char *pfx, struct item *rest)
{
	size_t n = strlen(pfx);

	if (it->len < n || memcmp(it->p, pfx, n) != 0)
		return false;
	rest->p = it->p + n;
	rest->len = it->len - n;
	return true;
}

static bool is_word(const struct item *it, const char *w)
{
	return it->len == strlen(w) && memcmp(it->p, w, it->len) == 0;
}

/* A decimal number of at most 9 digits (no sign): 0, or -SD_ESYNTAX. */
static int number(const struct item *s, unsigned long *v)
{
	unsigned long x = 0;

	if (s->len == 0 || s->len > 9)
		return -SD_ESYNTAX;
	for (size_t i = 0; i < s->len; i++) {
		if (s->p[i] < '0' || s->p[i] > '9')
			return -SD_ESYNTAX;
		x = x * 10 + (unsigned long)(s->p[i] - '0');
	}
	*v = x;
	return 0;
}

static bool field_char(char c, bool first)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
		return true;
	return !first && ((c >= '0' && c <= '9') || c == '.' || c == '-');
}

static int parse_split(const struct item *it, const struct item *arg,
		       struct sd_shape *s, char *err, size_t errlen)
{
	size_t i = 0;

	if (arg->len == 0)
		return fail(err, errlen, -SD_ESYNTAX, it,
			    "expected split@OFFSET[+OFFSET...] or split@FIELD");
	while (i <= arg->len) {
		struct item t = { arg->p + i, 0 };
		struct sd_shape_split *sp;

		while (i + t.len < arg->len && arg->p[i + t.len] != '+')
			t.len++;
		if (t.len == 0)
			return fail(err, errlen, -SD_ESYNTAX, it, "empty split point");
		if (s->nsplit == SD_SHAPE_MAX_SPLITS)
			return fail(err, errlen, -SD_EVALUE, it,
				    "more than %d split points", SD_SHAPE_MAX_SPLITS);
		sp = &s->split[s->nsplit];
		if (t.p[0] >= '0' && t.p[0] <= '9') {
			unsigned long v;

			if (number(&t, &v) < 0)
				return fail(err, errlen, -SD_ESYNTAX, it,
					    "split point \"%.*s\" is not a decimal offset",
					    (int)(t.len > ITEM_ECHO ? ITEM_ECHO : t.len), t.p);
			if (v < 1 || v > SD_SHAPE_OFFSET_MAX)
				return fail(err, errlen, -SD_EVALUE, it,
					    "split offset %lu out of range 1..%u", v,
					    SD_SHAPE_OFFSET_MAX);
			sp->offset = v;
			sp->field[0] = 0;
		} else {
			for (size_t k = 0; k < t.len; k++)
				if (!field_char(t.p[k], k == 0))
					return fail(err, errlen, -SD_ESYNTAX, it,
						    "bad character '%c' in field name", t.p[k]);
			if (t.len >= SD_SHAPE_FIELD_MAX)
				return fail(err, errlen, -SD_ESYNTAX, it,
					    "field name longer than %d bytes",
					    SD_SHAPE_FIELD_MAX - 1);
			memcpy(sp->field, t.p, t.len);
			sp->field[t.len] = 0;
			sp->offset = 0;
		}
		s->nsplit++;
		i += t.len + 1;
	}
	return 0;
}

/* NAME:N with lo <= N <= hi. */
static int parse_num(const struct item *it, const struct item *arg,
		     const char *what, unsigned long lo, unsigned long hi,
		     unsigned long *v, char *err, size_t errlen)
{
	if (number(arg, v) < 0)
		return fail(err, errlen, -SD_ESYNTAX, it, "%s needs a decimal number", what);
	if (*v < lo || *v > hi)
		return fail(err, errlen, -SD_EVALUE, it, "%s must be %lu..%lu", what, lo, hi);
	return 0;
}

enum {
	SEEN_MSS = 1 << 0,
	SEEN_RECORDS = 1 << 1,
	SEEN_IPFRAG = 1 << 2,
	SEEN_GAP = 1 << 3,
	SEEN_ORDER = 1 << 4,
	SEEN_DUP = 1 << 5,
	SEEN_NOPMTUD = 1 << 6,
};

static int once(unsigned *seen, unsigned bit, const struct item *it, char *err,
		size_t errlen)
{
	if (*seen & bit)
		return fail(err, errlen, -SD_EVALUE, it, "given twice");
	*seen |= bit;
	return 0;
}

static int parse_item(const struct item *it, struct sd_shape *s, unsigned *seen,
		      char *err, size_t errlen)
{
	struct item arg;
	unsigned long v;
	int ret;

	if (is_word(it, "mss"))
		return once(seen, SEEN_MSS, it, err, errlen);
	if (is_word(it, "dup")) {
		s->dup = true;
		return once(seen, SEEN_DUP, it, err, errlen);
	}
	if (is_word(it, "no-pmtud")) {
		s->no_pmtud = true;
		return once(seen, SEEN_NOPMTUD, it, err, errlen);
	}
	if (has_prefix(it, "split@", &arg))
		return parse_split(it, &arg, s, err, errlen);
	if (has_prefix(it, "records:", &arg)) {
		ret = once(seen, SEEN_RECORDS, it, err, errlen);
		if (!ret)
			ret = parse_num(it, &arg, "records", 1, SD_SHAPE_RECORD_MAX, &v,
					err, errlen);
		if (!ret)
			s->records = (uint16_t)v;
		return ret;
	}
	if (has_prefix(it, "ipfrag:", &arg)) {
		ret = once(seen, SEEN_IPFRAG, it, err, errlen);
		if (!ret)
			ret = parse_num(it, &arg, "ipfrag", 8, 65535, &v, err, errlen);
		/* RFC 791 §3.1 / RFC 8200 §4.5: offsets count 8-byte units */
		if (!ret)
			s->ipfrag = (uint16_t)(v & ~7ul);
		return ret;
	}
	if (has_prefix(it, "gap:", &arg)) {
		ret = once(seen, SEEN_GAP, it, err, errlen);
		if (!ret)
			ret = parse_num(it, &arg, "gap", 0, SD_SHAPE_GAP_MAX_MS, &v, err,
					errlen);
		if (!ret)
			s->gap_ms = (uint16_t)v;
		return ret;
	}
	if (has_prefix(it, "order:", &arg)) {
		ret = once(seen, SEEN_ORDER, it, err, errlen);
		if (ret)
			return ret;
		if (is_word(&arg, "reverse"))
			s->order = SD_SHAPE_ORDER_REVERSE;
		else if (is_word(&arg, "swap"))
			s->order = SD_SHAPE_ORDER_SWAP;
		else
			return fail(err, errlen, -SD_ESYNTAX, it,
				    "order must be reverse or swap");
		return 0;
	}
	return fail(err, errlen, -SD_ESYNTAX, it,
		    "unknown item (expected mss, split@, records:, ipfrag:, gap:, "
		    "order:, dup or no-pmtud)");
}

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

int sd_shape_parse(const char *spec, struct sd_shape *out, char *err, size_t errlen)
{
	struct sd_shape s;
	unsigned seen = 0;
	size_t pos = 0, len, n = 0;
	int ret;

	sd_shape_init(out);
	if (err && errlen)
		err[0] = 0;
	if (!spec)
		return 0;
	len = strlen(spec);
	/* "default" alone: no shaping, as a matrix's shapes list names it */
	if (len == 0 || strcmp(spec, "default") == 0)
		return 0;
	sd_shape_init(&s);
	while (pos <= len) {
		struct item it = { spec + pos, 0 };
		size_t next;

		while (pos + it.len < len && spec[pos + it.len] != ',')
			it.len++;
		next = pos + it.len + 1;
		while (it.len && blank(it.p[0])) {
			it.p++;
			it.len--;
		}
		while (it.len && blank(it.p[it.len - 1]))
			it.len--;
		n++;
		if (it.len == 0)
			return fail(err, errlen, -SD_ESYNTAX, NULL, "item %zu is empty", n);
		ret = parse_item(&it, &s, &seen, err, errlen);
		if (ret < 0)
			return ret;
		pos = next;
	}
	*out = s;
	return 0;
}

/* Appends to out like snprintf, remembering an overflow in *over. */
__attribute__((format(printf, 5, 6)))
static void put(char *out, size_t n, size_t *at, bool *over, const char *fmt, ...)
{
	va_list ap;
	int w;

	va_start(ap, fmt);
	w = vsnprintf(out + (*at < n ? *at : n), *at < n ? n - *at : 0, fmt, ap);
	va_end(ap);
	if (w < 0) {
		*over = true;
		return;
	}
	*at += (size_t)w;
	if (*at >= n)
		*over = true;
}

int sd_shape_format(const struct sd_shape *s, char *out, size_t n)
{
	static const char *const order[] = { "", "reverse", "swap" };
	size_t at = 0, items = 0;
	bool over = false;

	if (n)
		out[0] = 0;
	if (s->nsplit) {
		put(out, n, &at, &over, "split@");
		for (size_t i = 0; i < s->nsplit && i < SD_SHAPE_MAX_SPLITS; i++) {
			if (s->split[i].field[0])
				put(out, n, &at, &over, "%s%.*s", i ? "+" : "",
				    SD_SHAPE_FIELD_MAX - 1, s->split[i].field);
			else
				put(out, n, &at, &over, "%s%zu", i ? "+" : "",
				    s->split[i].offset);
		}
		items++;
	}
#define SEP (items++ ? "," : "")
	if (s->records)
		put(out, n, &at, &over, "%srecords:%u", SEP, s->records);
	if (s->ipfrag)
		put(out, n, &at, &over, "%sipfrag:%u", SEP, s->ipfrag);
	if (s->gap_ms)
		put(out, n, &at, &over, "%sgap:%u", SEP, s->gap_ms);
	if (s->order == SD_SHAPE_ORDER_REVERSE || s->order == SD_SHAPE_ORDER_SWAP)
		put(out, n, &at, &over, "%sorder:%s", SEP, order[s->order]);
	if (s->dup)
		put(out, n, &at, &over, "%sdup", SEP);
	if (s->no_pmtud)
		put(out, n, &at, &over, "%sno-pmtud", SEP);
	if (!items)
		put(out, n, &at, &over, "mss");
#undef SEP
	if (over)
		return -ENOSPC;
	return (int)at;
}

bool sd_shape_has_fields(const struct sd_shape *s)
{
	for (size_t i = 0; i < s->nsplit && i < SD_SHAPE_MAX_SPLITS; i++)
		if (s->split[i].field[0])
			return true;
	return false;
}

int sd_shape_cut(size_t start, size_t end, const size_t *cuts, size_t ncuts,
		 size_t mss, struct sd_shape_piece *out, size_t max)
{
	size_t at = start, n = 0;

	if (!mss || end < start)
		return -SD_EVALUE;
	while (at < end) {
		/* the next piece ends at the nearest cut after at, else at end */
		size_t stop = end;

		for (size_t i = 0; i < ncuts; i++)
			if (cuts[i] > at && cuts[i] < stop)
				stop = cuts[i];
		while (at < stop) {
			size_t len = stop - at < mss ? stop - at : mss;

			if (n == max)
				return -SD_ELIMIT;
			out[n].off = at;
			out[n].len = len;
			n++;
			at += len;
		}
	}
	return (int)n;
}

void sd_shape_order_apply(enum sd_shape_order order, size_t *idx, size_t n)
{
	for (size_t i = 0; i < n; i++)
		idx[i] = order == SD_SHAPE_ORDER_REVERSE ? n - 1 - i : i;
	if (order == SD_SHAPE_ORDER_SWAP && n >= 2) {
		idx[0] = 1;
		idx[1] = 0;
	}
}
