/* SPDX-License-Identifier: MIT */
/*
 * Matrix files: read with the shared INI reader (inih underneath), checked
 * completely, then expanded into cells in a fixed order — section, path,
 * server, chain size, family, profile, shape — so that cells sharing a
 * built path are neighbours and a shard is a contiguous slice.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shakedown/ini.h"
#include "shakedown/matrix.h"
#include "shakedown/shape.h"

#define MAX_LIST 64                  /* items in one list of one section */
#define CHAIN_MAX (1u << 20)

struct list {
	uint16_t item[MAX_LIST];
	size_t n;
	int line;
};

struct section {
	uint16_t group;
	struct list profiles, paths, servers, shapes;
	struct list clients;             /* real clients: names in the profiles table */
	bool fam[2];                     /* ipv4, ipv6 */
	uint32_t expect;
	int expect_line;
	size_t chain_size;
	int line;
};

struct rule {
	char pat[5][SD_MATRIX_NAME_MAX];
	size_t npat;
	uint32_t expect;
	int line;
};

struct ctx {
	struct sd_matrix *m;
	struct sd_matrix_error *err;
	struct section *sec;
	size_t nsec;
	struct rule *rules;
	size_t nrules;
	int where;                       /* 0 none, 1 [matrix], 2 [cells], 3 [expect] */
	bool as_profile[SD_MATRIX_MAX_NAMES];   /* a profiles name listed under profiles */
	int line;
};

static int fail(struct ctx *c, int ret, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(struct ctx *c, int ret, const char *fmt, ...)
{
	va_list ap;

	c->err->line = c->line;
	va_start(ap, fmt);
	vsnprintf(c->err->msg, sizeof(c->err->msg), fmt, ap);
	va_end(ap);
	return ret;
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s == 0x7f)
			return false;
	return true;
}

/* The index of name in a table, added on first sight. */
static int intern(struct ctx *c, struct sd_matrix_name *tab, size_t *n, const char *name, const char *what)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp(tab[i].name, name) == 0)
			return (int)i;
	if (*n == SD_MATRIX_MAX_NAMES)
		return fail(c, -SD_ELIMIT, "more than %d distinct %s", SD_MATRIX_MAX_NAMES, what);
	snprintf(tab[*n].name, sizeof(tab[*n].name), "%s", name);
	tab[*n].line = c->line;
	return (int)(*n)++;
}

/* Splits a value on whitespace into words; calls fn for each. */
static int words(struct ctx *c, const char *value, const char *key,
		 int (*fn)(struct ctx *, const char *, void *), void *arg)
{
	const char *p = value;
	size_t count = 0;
	int ret;

	for (;;) {
		char w[SD_MATRIX_NAME_MAX];
		size_t n;

		p += strspn(p, " \t");
		if (!*p)
			break;
		n = strcspn(p, " \t");
		if (n >= sizeof(w))
			return fail(c, -SD_EVALUE, "%s: item longer than %d characters", key,
				    SD_MATRIX_NAME_MAX - 1);
		memcpy(w, p, n);
		w[n] = 0;
		p += n;
		if (!printable(w))
			return fail(c, -SD_EVALUE, "%s: control character in '%.40s'", key, w);
		if ((ret = fn(c, w, arg)) < 0)
			return ret;
		count++;
	}
	if (!count)
		return fail(c, -SD_EVALUE, "%s: empty list", key);
	return 0;
}

struct list_arg {
	struct list *l;
	struct sd_matrix_name *tab;
	size_t *n;
	const char *what;
	int kind;                        /* 0 name, 1 server or client, 2 shape */
};

static int add_item(struct ctx *c, const char *w, void *arg)
{
	struct list_arg *a = arg;
	int k;

	if (a->kind == 1) {
		for (const char *s = w; *s; s++)
			if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
				return fail(c, -SD_EVALUE, "%s: '%.60s' is not a %s name", a->what, w,
					    strcmp(a->what, "clients") == 0 ? "client" : "server");
	} else if (a->kind == 2 && strcmp(w, "default") != 0) {
		struct sd_shape sh;
		char e[200];

		sd_shape_init(&sh);
		if (sd_shape_parse(w, &sh, e, sizeof(e)) < 0)
			return fail(c, -SD_EVALUE, "shapes: '%.60s': %s", w, e);
	}
	if (a->l->n == MAX_LIST)
		return fail(c, -SD_ELIMIT, "%s: more than %d items", a->what, MAX_LIST);
	k = intern(c, a->tab, a->n, w, a->what);
	if (k < 0)
		return k;
	for (size_t i = 0; i < a->l->n; i++)
		if (a->l->item[i] == k)
			return fail(c, -SD_EDUP, "%s: '%.60s' twice", a->what, w);
	a->l->item[a->l->n++] = (uint16_t)k;
	return 0;
}

static int parse_list(struct ctx *c, struct list *l, struct sd_matrix_name *tab, size_t *n,
		      const char *what, int kind, const char *value)
{
	struct list_arg a = { l, tab, n, what, kind };

	if (l->line)
		return fail(c, -SD_EDUP, "%s given twice in this section (first on line %d)", what, l->line);
	l->line = c->line;
	return words(c, value, what, add_item, &a);
}

static int add_outcome(struct ctx *c, const char *w, void *arg)
{
	uint32_t *mask = arg;
	enum sd_outcome o;

	if (strcmp(w, "any") == 0) {
		*mask = 0;
		return 1;
	}
	if (sd_outcome_parse(w, &o) < 0)
		return fail(c, -SD_EUNKNOWN, "'%.40s' is not an outcome (ok ok-hrr alert reset closed "
			    "stall blackhole truncated mangled frag-lost refused hrr-failure error, or any)", w);
	*mask |= 1u << o;
	return 0;
}

/* "ok|ok-hrr", "ok ok-hrr" or "any": a mask, 0 for any. */
static int parse_outcomes(struct ctx *c, const char *text, uint32_t *mask)
{
	char buf[512];
	bool any = false;
	size_t n = 0;

	*mask = 0;
	snprintf(buf, sizeof(buf), "%s", text);
	for (char *p = buf; *p; p++)
		if (*p == '|' || *p == ',')
			*p = ' ';
	for (char *p = buf;;) {
		char w[64];
		size_t k;
		int ret;

		p += strspn(p, " \t");
		if (!*p)
			break;
		k = strcspn(p, " \t");
		snprintf(w, sizeof(w), "%.*s", (int)(k < 63 ? k : 63), p);
		p += k;
		n++;
		ret = add_outcome(c, w, mask);
		if (ret < 0)
			return ret;
		if (ret == 1)
			any = true;
	}
	if (!n)
		return fail(c, -SD_EVALUE, "no outcome given");
	if (any && n > 1)
		return fail(c, -SD_EVALUE, "'any' cannot be combined with outcomes");
	if (any)
		*mask = 0;
	return 0;
}

static int on_matrix_key(struct ctx *c, const char *key, const char *value)
{
	if (strcmp(key, "description") == 0) {
		snprintf(c->m->description, sizeof(c->m->description), "%s", value);
		return 0;
	}
	if (strcmp(key, "seed") == 0) {
		if (!*value || strlen(value) >= sizeof(c->m->seed) || !printable(value))
			return fail(c, -SD_EVALUE, "seed: want 1-%zu characters without spaces",
				    sizeof(c->m->seed) - 1);
		snprintf(c->m->seed, sizeof(c->m->seed), "%s", value);
		return 0;
	}
	return fail(c, -SD_EUNKNOWN, "unknown key '%.40s' in [matrix] (description, seed)", key);
}

static int on_cells_key(struct ctx *c, const char *key, const char *value)
{
	struct sd_matrix *m = c->m;
	struct section *s = &c->sec[c->nsec - 1];

	if (strcmp(key, "profiles") == 0 || strcmp(key, "clients") == 0) {
		bool cl = key[0] == 'c';
		struct list *l = cl ? &s->clients : &s->profiles;
		int ret = parse_list(c, l, m->profiles, &m->nprofiles, key, cl, value);

		/* A real client's cells take the profile slot (ids, rules, rows). */
		for (size_t i = 0; ret == 0 && i < l->n; i++) {
			uint16_t k = l->item[i];

			if (cl)
				m->client[k] = true;
			else
				c->as_profile[k] = true;
			if (m->client[k] && c->as_profile[k])
				return fail(c, -SD_EVALUE, "'%.60s' is listed as a profile and as a client",
					    m->profiles[k].name);
		}
		return ret;
	}
	if (strcmp(key, "paths") == 0)
		return parse_list(c, &s->paths, m->paths, &m->npaths, "paths", 0, value);
	if (strcmp(key, "servers") == 0)
		return parse_list(c, &s->servers, m->servers, &m->nservers, "servers", 1, value);
	if (strcmp(key, "shapes") == 0)
		return parse_list(c, &s->shapes, m->shapes, &m->nshapes, "shapes", 2, value);
	if (strcmp(key, "families") == 0) {
		char buf[128];

		s->fam[0] = s->fam[1] = false;
		snprintf(buf, sizeof(buf), "%s", value);
		for (char *save = NULL, *w = strtok_r(buf, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
			if (strcmp(w, "ipv4") == 0)
				s->fam[0] = true;
			else if (strcmp(w, "ipv6") == 0)
				s->fam[1] = true;
			else if (strcmp(w, "both") == 0)
				s->fam[0] = s->fam[1] = true;
			else
				return fail(c, -SD_EVALUE, "families: '%.20s': want ipv4, ipv6 or both", w);
		}
		if (!s->fam[0] && !s->fam[1])
			return fail(c, -SD_EVALUE, "families: empty list");
		return 0;
	}
	if (strcmp(key, "expect") == 0) {
		s->expect_line = c->line;
		return parse_outcomes(c, value, &s->expect);
	}
	if (strcmp(key, "chain_size") == 0) {
		char *end;
		unsigned long long v;

		errno = 0;
		v = strtoull(value, &end, 10);
		if (errno || end == value || *end || value[0] == '-' || v > CHAIN_MAX)
			return fail(c, -SD_EVALUE, "chain_size: want 0-%u bytes", CHAIN_MAX);
		s->chain_size = (size_t)v;
		return 0;
	}
	return fail(c, -SD_EUNKNOWN, "unknown key '%.40s' in [cells] (profiles, clients, paths, servers, "
		    "shapes, families, expect, chain_size)", key);
}

static int add_pattern(struct ctx *c, const char *w, void *arg)
{
	struct rule *r = arg;

	if (r->npat == 5)
		return fail(c, -SD_EVALUE, "a rule has at most 5 patterns: PROFILE PATH SERVER SHAPE FAMILY");
	snprintf(r->pat[r->npat++], sizeof(r->pat[0]), "%s", w);
	return 0;
}

/* [expect]: OUTCOMES = PROFILE PATH [SERVER [SHAPE [FAMILY]]] */
static int on_expect_key(struct ctx *c, const char *key, const char *value)
{
	struct rule *r;
	int ret;

	if (c->nrules == SD_MATRIX_MAX_RULES)
		return fail(c, -SD_ELIMIT, "more than %d rules", SD_MATRIX_MAX_RULES);
	r = &c->rules[c->nrules];
	memset(r, 0, sizeof(*r));
	r->line = c->line;
	if ((ret = parse_outcomes(c, key, &r->expect)) < 0 ||
	    (ret = words(c, value, "rule", add_pattern, r)) < 0)
		return ret;
	if (r->npat < 2)
		return fail(c, -SD_EVALUE, "a rule names at least PROFILE and PATH patterns ('*' for all)");
	c->nrules++;
	return 0;
}

static int on_section(struct ctx *c, const struct sd_ini_item *it)
{
	const char *n = it->name;

	if (it->name_long)
		return fail(c, -SD_EVALUE, "section name too long");
	if (strcmp(n, "matrix") == 0) {
		c->where = 1;
		return 0;
	}
	if (strcmp(n, "expect") == 0) {
		c->where = 3;
		return 0;
	}
	if (strncmp(n, "cells", 5) == 0 && (n[5] == ' ' || n[5] == 0)) {
		const char *name = n[5] ? n + 6 : "cells";
		struct section *s;
		int g;

		name += strspn(name, " \t");
		if (!*name || !printable(name))
			return fail(c, -SD_EVALUE, "[cells NAME]: NAME is one word");
		for (size_t i = 0; i < c->m->ngroups; i++)
			if (strcmp(c->m->groups[i].name, name) == 0)
				return fail(c, -SD_EDUP, "[cells %s] twice (first on line %d)", name,
					    c->m->groups[i].line);
		if ((g = intern(c, c->m->groups, &c->m->ngroups, name, "[cells] sections")) < 0)
			return g;
		s = &c->sec[c->nsec++];
		memset(s, 0, sizeof(*s));
		s->group = (uint16_t)g;
		s->fam[0] = true;
		s->expect = 1u << SD_OK | 1u << SD_OK_HRR;
		s->line = c->line;
		c->where = 2;
		return 0;
	}
	return fail(c, -SD_EUNKNOWN, "unknown section [%.40s] ([matrix], [cells NAME], [expect])", n);
}

static bool rule_matches(const struct sd_matrix *m, const struct rule *r, const struct sd_matrix_cell *cell)
{
	const char *v[5] = {
		m->profiles[cell->profile].name, m->paths[cell->path].name, m->servers[cell->server].name,
		m->shapes[cell->shape].name, cell->ipv6 ? "ipv6" : "ipv4",
	};

	for (size_t i = 0; i < r->npat; i++)
		if (fnmatch(r->pat[i], v[i], 0) != 0)
			return false;
	return true;
}

static void make_id(const struct sd_matrix *m, struct sd_matrix_cell *cell)
{
	int w = snprintf(cell->id, sizeof(cell->id), "%s/%s/%s", m->profiles[cell->profile].name,
			 m->paths[cell->path].name, m->servers[cell->server].name);

	if (strcmp(m->shapes[cell->shape].name, "default") != 0)
		w += snprintf(cell->id + w, sizeof(cell->id) - (size_t)w, "/%s", m->shapes[cell->shape].name);
	if (cell->ipv6)
		w += snprintf(cell->id + w, sizeof(cell->id) - (size_t)w, "/ipv6");
	if (cell->chain_size)
		snprintf(cell->id + w, sizeof(cell->id) - (size_t)w, "/chain:%zu", cell->chain_size);
}

static int cmp_id(const void *a, const void *b)
{
	const struct sd_matrix_cell *x = *(const struct sd_matrix_cell *const *)a,
				    *y = *(const struct sd_matrix_cell *const *)b;
	int d = strcmp(x->id, y->id);

	return d ? d : (x->index > y->index) - (x->index < y->index);
}

static int expand(struct ctx *c)
{
	struct sd_matrix *m = c->m;
	struct sd_matrix_cell **byid = NULL;
	bool *dup = NULL;
	size_t total = 0, k = 0;
	uint16_t def_server, def_shape;
	int ret;

	for (size_t i = 0; i < c->nsec; i++) {
		struct section *s = &c->sec[i];
		size_t n;

		c->line = s->line;
		if ((!s->profiles.n && !s->clients.n) || !s->paths.n)
			return fail(c, -SD_EVALUE, "[cells %s]: profiles and paths are required (clients may stand for profiles)",
				    m->groups[s->group].name);
		if (s->profiles.n + s->clients.n > MAX_LIST)
			return fail(c, -SD_ELIMIT, "[cells %s]: more than %d profiles and clients",
				    m->groups[s->group].name, MAX_LIST);
		n = (s->profiles.n + s->clients.n) * s->paths.n * (s->servers.n ? s->servers.n : 1) *
		    (s->shapes.n ? s->shapes.n : 1) * (size_t)(s->fam[0] + s->fam[1]);
		total += n;
		if (total > SD_MATRIX_MAX_CELLS)
			return fail(c, -SD_ELIMIT, "more than %d cells", SD_MATRIX_MAX_CELLS);
	}
	if (!c->nsec) {
		c->line = 0;
		return fail(c, -SD_EVALUE, "no [cells NAME] section: nothing to run");
	}
	c->line = 0;
	if ((ret = intern(c, m->servers, &m->nservers, "openssl", "servers")) < 0)
		return ret;
	def_server = (uint16_t)ret;
	if ((ret = intern(c, m->shapes, &m->nshapes, "default", "shapes")) < 0)
		return ret;
	def_shape = (uint16_t)ret;
	m->cells = calloc(total, sizeof(*m->cells));
	byid = calloc(total, sizeof(*byid));
	dup = calloc(total, sizeof(*dup));
	if (!m->cells || !byid || !dup) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < c->nsec; i++) {
		const struct section *s = &c->sec[i];
		struct list servers = s->servers, shapes = s->shapes, rows = s->profiles;

		/* Rows: the profiles, then the real clients. */
		for (size_t q = 0; q < s->clients.n; q++)
			rows.item[rows.n++] = s->clients.item[q];
		if (!servers.n)
			servers.item[servers.n++] = def_server;
		if (!shapes.n)
			shapes.item[shapes.n++] = def_shape;
		for (size_t pa = 0; pa < s->paths.n; pa++)
			for (size_t sv = 0; sv < servers.n; sv++)
				for (int f = 0; f < 2; f++)
					for (size_t pr = 0; s->fam[f] && pr < rows.n; pr++)
						for (size_t sh = 0; sh < shapes.n; sh++) {
							struct sd_matrix_cell *cell = &m->cells[k];

							cell->index = k;
							cell->profile = rows.item[pr];
							cell->client = m->client[cell->profile];
							cell->path = s->paths.item[pa];
							cell->server = servers.item[sv];
							cell->shape = shapes.item[sh];
							cell->ipv6 = f == 1;
							cell->chain_size = s->chain_size;
							cell->group = s->group;
							cell->expect = s->expect;
							cell->rule_line = s->expect_line;
							for (size_t r = 0; r < c->nrules; r++)
								if (rule_matches(m, &c->rules[r], cell)) {
									cell->expect = c->rules[r].expect;
									cell->rule_line = c->rules[r].line;
								}
							make_id(m, cell);
							k++;
						}
	}
	/* A cell two sections both produce runs once, where it first appears. */
	for (size_t i = 0; i < k; i++)
		byid[i] = &m->cells[i];
	qsort(byid, k, sizeof(*byid), cmp_id);
	for (size_t i = 1; i < k; i++)
		if (strcmp(byid[i]->id, byid[i - 1]->id) == 0)
			dup[byid[i]->index] = true;
	m->ncells = 0;
	for (size_t i = 0; i < k; i++) {
		if (dup[i])
			continue;
		m->cells[m->ncells] = m->cells[i];
		m->cells[m->ncells].index = m->ncells;
		m->ncells++;
	}
	ret = 0;
out:
	free(byid);
	free(dup);
	return ret;
}

int sd_matrix_parse(const char *text, size_t len, struct sd_matrix *m, struct sd_matrix_error *err)
{
	struct sd_ini ini = { 0 };
	struct ctx c = { .m = m, .err = err };
	int ret;

	memset(m, 0, sizeof(*m));
	memset(err, 0, sizeof(*err));
	snprintf(m->seed, sizeof(m->seed), "matrix");
	c.sec = calloc(SD_MATRIX_MAX_NAMES, sizeof(*c.sec));
	c.rules = calloc(SD_MATRIX_MAX_RULES, sizeof(*c.rules));
	if (!c.sec || !c.rules) {
		ret = -ENOMEM;
		goto out;
	}
	ret = sd_ini_read(text, len, &ini, &err->line, err->msg, sizeof(err->msg));
	if (ret < 0)
		goto out;
	for (size_t i = 0; i < ini.n; i++) {
		const struct sd_ini_item *it = &ini.item[i];

		c.line = it->line;
		if (it->section) {
			ret = on_section(&c, it);
		} else {
			const char *v = it->value ? it->value : "";

			switch (c.where) {
			case 1: ret = on_matrix_key(&c, it->name, v); break;
			case 2: ret = on_cells_key(&c, it->name, v); break;
			case 3: ret = on_expect_key(&c, it->name, v); break;
			default:
				ret = fail(&c, -SD_ESYNTAX, "'%.40s' outside a section", it->name);
			}
		}
		if (ret < 0)
			goto out;
	}
	ret = expand(&c);
out:
	sd_ini_free(&ini);
	free(c.sec);
	free(c.rules);
	if (ret < 0)
		sd_matrix_free(m);
	return ret;
}

void sd_matrix_free(struct sd_matrix *m)
{
	free(m->cells);
	m->cells = NULL;
	m->ncells = 0;
}

void sd_matrix_expect_str(uint32_t expect, char *out, size_t n)
{
	size_t w = 0;

	if (!n)
		return;
	out[0] = 0;
	if (!expect) {
		snprintf(out, n, "any");
		return;
	}
	for (int o = 0; o < SD_OUTCOME_MAX; o++) {
		int k;

		if (!(expect & (1u << o)))
			continue;
		k = snprintf(out + w, n - w, "%s%s", w ? "|" : "", sd_outcome_name((enum sd_outcome)o));
		if (k < 0 || (size_t)k >= n - w)
			return;
		w += (size_t)k;
	}
}

bool sd_matrix_expect_met(uint32_t expect, enum sd_outcome o)
{
	if (o == SD_ERROR || o >= SD_OUTCOME_MAX)
		return false;
	return !expect || (expect & (1u << o));
}
