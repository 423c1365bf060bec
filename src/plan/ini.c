/* SPDX-License-Identifier: MIT */
/* INI text into sections and keys with their lines, continuations joined (inih underneath). */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "shakedown/ini.h"

/*
 * inih does not say on which line a key is, nor which handler call
 * continues the previous key, and it does not report sections without
 * keys. This scan of the text follows inih's rules (ini.c,
 * ini_parse_stream, release 55) to tell: a UTF-8 byte order mark is
 * skipped; a line whose first non-blank is ';' or '#' is a comment; a line
 * indented by any white space (isspace) after a key continues it, even one
 * starting with '['; "[name]" starts a section, the name being everything
 * up to the first ']' unless an inline comment (';' after white space)
 * comes first; anything else is a key. inih stops at 198 characters a line
 * (INI_MAX_LINE 200), so longer lines are refused rather than misread.
 * Inline comments (';' after white space) end key lines and, unlike in
 * inih, continuation lines too.
 */

enum ev_type { EV_SECTION, EV_KEY, EV_CONT };

struct event {
	enum ev_type type;
	int line;
	char name[40];             /* EV_SECTION: the text between the brackets */
	bool name_long;            /* ... which did not fit in name */
};

struct scan {
	struct event *ev;
	size_t nev;
	int long_line;             /* first line inih would split, or 0 */
};

static int scan_lines(const char *text, size_t len, struct scan *sc)
{
	size_t i = 0;
	int line = 1;
	bool have_key = false;

	/* At most one event per line, and a line takes at least one byte. */
	sc->ev = calloc(len + 1, sizeof(*sc->ev));
	sc->nev = 0;
	sc->long_line = 0;
	if (!sc->ev)
		return -ENOMEM;
	while (i < len) {
		size_t b = i, s, e;
		struct event *ev = &sc->ev[sc->nev];

		while (i < len && text[i] != '\n')
			i++;
		e = i;
		if (e - b > SD_INI_LINE_CHARS && !sc->long_line)
			sc->long_line = line;
		if (line == 1 && e - b >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
			b += 3;
		s = b;
		while (s < e && isspace((unsigned char)text[s]))
			s++;
		if (s < e && text[s] != ';' && text[s] != '#') {
			ev->line = line;
			if (have_key && s > b) {
				ev->type = EV_CONT;
				sc->nev++;
			} else if (text[s] == '[') {
				size_t k = s + 1, n;
				bool was_space = false;

				while (k < e && text[k] != ']' && !(was_space && text[k] == ';')) {
					was_space = isspace((unsigned char)text[k]);
					k++;
				}
				/* Without its ']' inih fails on this line. */
				have_key = false;
				if (k < e && text[k] == ']') {
					ev->type = EV_SECTION;
					n = k - (s + 1);
					ev->name_long = n >= sizeof(ev->name);
					if (ev->name_long)
						n = sizeof(ev->name) - 1;
					memcpy(ev->name, text + s + 1, n);
					ev->name[n] = 0;
					sc->nev++;
				}
			} else {
				ev->type = EV_KEY;
				sc->nev++;
				have_key = true;
			}
		}
		i++;
		line++;
	}
	return 0;
}

struct entry {
	char key[48];
	char *val;
};

struct collect {
	size_t *keyev;             /* event index of the k-th handler call */
	size_t nkeyev;
	const struct scan *sc;
	struct entry *e;
	size_t n, cap, calls;
	size_t *entry_of;          /* entry index of each EV_KEY event */
	int err;
};

static int on_raw(void *user, const char *section, const char *key, const char *val)
{
	struct collect *c = user;
	size_t k = c->calls++;
	const struct event *ev;

	(void)section;
	if (c->err)
		return 0;
	/* Only when inih and the scan disagree, and inih then reports an
	 * error of its own; keep going quietly until it does. */
	if (k >= c->nkeyev)
		return 1;
	ev = &c->sc->ev[c->keyev[k]];
	if (ev->type == EV_CONT) {
		struct entry *e;
		size_t a, b;
		char *v;

		if (!c->n)
			return 1;
		e = &c->e[c->n - 1];
		a = strlen(e->val);
		/* inih (release 55) strips inline comments on key lines only;
		 * here they go on continuation lines as well, by the same
		 * rule: ';' after white space. */
		for (b = 0; val[b]; b++)
			if (val[b] == ';' && b && isspace((unsigned char)val[b - 1]))
				break;
		while (b && isspace((unsigned char)val[b - 1]))
			b--;
		if (!b)
			return 1;
		v = realloc(e->val, a + b + 2);
		if (!v)
			goto nomem;
		/* An empty first line adds no separator: "key =" followed by
		 * indented lines is the value of those lines alone. */
		if (a)
			v[a++] = ' ';
		memcpy(v + a, val, b);
		v[a + b] = 0;
		e->val = v;
		return 1;
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 16;
		struct entry *e = realloc(c->e, cap * sizeof(*e));

		if (!e)
			goto nomem;
		c->e = e;
		c->cap = cap;
	}
	snprintf(c->e[c->n].key, sizeof(c->e[c->n].key), "%s", key);
	if (!(c->e[c->n].val = strdup(val)))
		goto nomem;
	c->entry_of[c->keyev[k]] = c->n;
	c->n++;
	return 1;
nomem:
	c->err = -ENOMEM;
	return 0;
}

int sd_ini_read(const char *text, size_t len, struct sd_ini *ini, int *line, char *msg,
		size_t msglen)
{
	struct collect col = { 0 };
	struct scan sc = { 0 };
	const char *nul;
	char *copy = NULL;
	int ret, iline;

	ini->item = NULL;
	ini->n = 0;
	*line = 0;
	nul = memchr(text, 0, len);
	if (nul) {
		*line = 1;
		for (const char *t = text; t < nul; t++)
			*line += *t == '\n';
		snprintf(msg, msglen, "a NUL byte: not a text file");
		return -SD_ESYNTAX;
	}
	ret = -ENOMEM;
	if (scan_lines(text, len, &sc) < 0)
		goto out;
	if (sc.long_line) {
		ret = -SD_ESYNTAX;
		*line = sc.long_line;
		snprintf(msg, msglen, "line longer than %d characters (continue a value on indented lines)",
			 SD_INI_LINE_CHARS);
		goto out;
	}
	col.sc = &sc;
	col.keyev = malloc((sc.nev + 1) * sizeof(size_t));
	col.entry_of = malloc((sc.nev + 1) * sizeof(size_t));
	if (!col.keyev || !col.entry_of || !(copy = malloc(len + 1)))
		goto out;
	for (size_t i = 0; i < sc.nev; i++) {
		col.entry_of[i] = SIZE_MAX;
		if (sc.ev[i].type != EV_SECTION)
			col.keyev[col.nkeyev++] = i;
	}
	memcpy(copy, text, len);
	copy[len] = 0;
	iline = ini_parse_string(copy, on_raw, &col);
	if (col.err) {
		ret = col.err;
		goto out;
	}
	if (iline != 0) {
		ret = -SD_ESYNTAX;
		*line = iline > 0 ? iline : 0;
		snprintf(msg, msglen, "not 'key = value', a comment or a [section]");
		goto out;
	}
	/* Sections and keys in file order, so callers report the first error. */
	ini->item = calloc(sc.nev + 1, sizeof(*ini->item));
	if (!ini->item)
		goto out;
	for (size_t i = 0; i < sc.nev; i++) {
		const struct event *ev = &sc.ev[i];
		struct sd_ini_item *it = &ini->item[ini->n];

		if (ev->type == EV_SECTION) {
			it->section = true;
			snprintf(it->name, sizeof(it->name), "%s", ev->name);
			it->name_long = ev->name_long;
		} else if (ev->type == EV_KEY && col.entry_of[i] != SIZE_MAX) {
			struct entry *e = &col.e[col.entry_of[i]];

			/* Keys longer than the name are no key anyone knows. */
			memcpy(it->name, e->key, sizeof(it->name));
			it->value = e->val;
			e->val = NULL;
		} else {
			continue;
		}
		it->line = ev->line;
		ini->n++;
	}
	ret = 0;
out:
	for (size_t i = 0; i < col.n; i++)
		free(col.e[i].val);
	free(col.e);
	free(col.keyev);
	free(col.entry_of);
	free(sc.ev);
	free(copy);
	if (ret < 0)
		sd_ini_free(ini);
	return ret;
}

void sd_ini_free(struct sd_ini *ini)
{
	for (size_t i = 0; i < ini->n; i++)
		free(ini->item[i].value);
	free(ini->item);
	ini->item = NULL;
	ini->n = 0;
}
