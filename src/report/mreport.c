/* SPDX-License-Identifier: MIT */
/* Matrix documents (docs/matrix.md): load and validate untrusted ones, summarise, dump, merge shards. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shakedown/mreport.h"
#include "shakedown/verdict.h"

/* Limits on untrusted documents. Real ones are far below: the built-in
 * matrix is 144 cells of about 8 KB each. */
#define MAX_DOC_BYTES  (256u << 20)
#define MAX_CELLS      1000000
#define MAX_DEPTH      32            /* our documents nest 6 deep */
#define MAX_NAME       4096          /* names, ids, file paths */
#define MAX_TEXT       65536         /* one line of evidence */
#define MAX_STRING     (1u << 20)    /* any other string */
#define MAX_KEY        1024
#define MAX_LINKS      64
#define MAX_ROWS       100000
#define MAX_FIELDS     65536
#define MAX_INT        9007199254740991LL  /* 2^53 - 1: exact in every JSON reader */

/* jansson's iterators take a json_t * but do not change the object. */
static json_t *mut(const json_t *j)
{
	union { const json_t *c; json_t *m; } u = { j };

	return u.m;
}

/* ---- messages ---------------------------------------------------------- */

struct vctx {
	char *msg;
	size_t msglen;
};

/* Messages are one line even when they quote hostile bytes. */
static void one_line(char *s)
{
	for (unsigned char *p = (unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
}

__attribute__((format(printf, 2, 3)))
static int fail(struct vctx *v, const char *fmt, ...)
{
	va_list ap;

	if (v->msg && v->msglen) {
		va_start(ap, fmt);
		vsnprintf(v->msg, v->msglen, fmt, ap);
		va_end(ap);
		one_line(v->msg);
	}
	return -SD_EVALUE;
}

/* A value quoted in a message: at most 40 bytes, cut on a UTF-8 boundary. */
static const char *quote(const char *s, char *buf, size_t n)
{
	size_t len = strlen(s), max = n - 4;

	if (len <= 40 && len < n) {
		memcpy(buf, s, len + 1);
		return buf;
	}
	if (max > 40)
		max = 40;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	memcpy(buf, s, max);
	memcpy(buf + max, "...", 4);
	return buf;
}

/* "path.key", or "key" at the top. Long paths are cut (messages only). */
static void join(char *dst, size_t n, const char *path, const char *key)
{
	char q[48];

	snprintf(dst, n, "%s%s%s", path, path[0] ? "." : "", quote(key, q, sizeof(q)));
}

static void joini(char *dst, size_t n, const char *path, size_t i)
{
	snprintf(dst, n, "%s[%zu]", path, i);
}

static const char *type_name(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a real number";
	case JSON_TRUE: case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "?";
}

/* ---- the generic walk: depth, numbers, string sizes --------------------- */

static int walk(struct vctx *v, const json_t *j, char *path, size_t cap, int depth)
{
	size_t len = strlen(path);
	int ret = 0;

	if (depth > MAX_DEPTH)
		return fail(v, "%s: nested deeper than %d levels", path[0] ? path : "document", MAX_DEPTH);
	switch (json_typeof(j)) {
	case JSON_REAL:
		return fail(v, "%s: a real number; matrix documents hold integers only", path);
	case JSON_STRING:
		if (json_string_length(j) > MAX_STRING)
			return fail(v, "%s: string of %zu bytes, over the limit of %u", path,
				    json_string_length(j), MAX_STRING);
		return 0;
	case JSON_OBJECT: {
		const char *key;
		json_t *m;

		json_object_foreach(mut(j), key, m) {
			char q[48];

			if (strlen(key) > MAX_KEY) {
				path[len] = 0;
				return fail(v, "%s%skey '%s': longer than %d bytes", path, path[0] ? "." : "",
					    quote(key, q, sizeof(q)), MAX_KEY);
			}
			snprintf(path + len, cap - len, "%s%s", len ? "." : "", quote(key, q, sizeof(q)));
			ret = walk(v, m, path, cap, depth + 1);
			path[len] = 0;
			if (ret < 0)
				return ret;
		}
		return 0;
	}
	case JSON_ARRAY:
		for (size_t i = 0; i < json_array_size(j); i++) {
			snprintf(path + len, cap - len, "[%zu]", i);
			ret = walk(v, json_array_get(j, i), path, cap, depth + 1);
			path[len] = 0;
			if (ret < 0)
				return ret;
		}
		return 0;
	default:
		return 0;
	}
}

/* ---- typed members ------------------------------------------------------ */

enum vkind {
	K_INT,      /* integer in [0, 2^53) */
	K_BOOL,
	K_NAME,     /* non-empty string up to MAX_NAME */
	K_STR,      /* string up to MAX_NAME, may be empty */
	K_TEXT,     /* string up to MAX_TEXT */
	K_OBJ,
	K_ARR,
	K_INTS,     /* array of integers in [0, 2^53) */
};

enum { F_REQ = 1, F_NULL = 2 };

struct vspec {
	const char *key;
	unsigned char kind;
	unsigned char flags;
};

static int check_kind(struct vctx *v, const json_t *m, const char *where, enum vkind kind)
{
	switch (kind) {
	case K_INT:
		if (!json_is_integer(m))
			return fail(v, "%s: expected an integer, got %s", where, type_name(m));
		if (json_integer_value(m) < 0 || json_integer_value(m) > MAX_INT)
			return fail(v, "%s: %lld is out of range", where, (long long)json_integer_value(m));
		return 0;
	case K_BOOL:
		if (!json_is_boolean(m))
			return fail(v, "%s: expected a boolean, got %s", where, type_name(m));
		return 0;
	case K_NAME:
	case K_STR:
	case K_TEXT: {
		size_t max = kind == K_TEXT ? MAX_TEXT : MAX_NAME;

		if (!json_is_string(m))
			return fail(v, "%s: expected a string, got %s", where, type_name(m));
		if (kind == K_NAME && json_string_length(m) == 0)
			return fail(v, "%s: empty", where);
		if (json_string_length(m) > max)
			return fail(v, "%s: %zu bytes, over the limit of %zu", where, json_string_length(m), max);
		return 0;
	}
	case K_OBJ:
		if (!json_is_object(m))
			return fail(v, "%s: expected an object, got %s", where, type_name(m));
		return 0;
	case K_ARR:
		if (!json_is_array(m))
			return fail(v, "%s: expected an array, got %s", where, type_name(m));
		return 0;
	case K_INTS:
		if (!json_is_array(m))
			return fail(v, "%s: expected an array, got %s", where, type_name(m));
		for (size_t i = 0; i < json_array_size(m); i++) {
			char w[256];
			int ret;

			joini(w, sizeof(w), where, i);
			ret = check_kind(v, json_array_get(m, i), w, K_INT);
			if (ret < 0)
				return ret;
		}
		return 0;
	}
	return fail(v, "%s: internal error", where);
}

/* Checks the members of o named in spec: present when F_REQ, null only with F_NULL. */
static int check_members(struct vctx *v, const json_t *o, const char *path,
			 const struct vspec *spec, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const json_t *m = json_object_get(o, spec[i].key);
		char where[256];
		int ret;

		join(where, sizeof(where), path, spec[i].key);
		if (!m) {
			if (spec[i].flags & F_REQ)
				return fail(v, "%s: missing", where);
			continue;
		}
		if (json_is_null(m)) {
			if (spec[i].flags & F_NULL)
				continue;
			return fail(v, "%s: null where a value is required", where);
		}
		ret = check_kind(v, m, where, (enum vkind)spec[i].kind);
		if (ret < 0)
			return ret;
	}
	return 0;
}

#define CHECK_MEMBERS(v, o, path, spec) check_members(v, o, path, spec, sizeof(spec) / sizeof(spec[0]))

/* A required object member (already type-checked) or NULL. */
static const json_t *obj(const json_t *o, const char *key)
{
	const json_t *m = json_object_get(o, key);

	return json_is_object(m) ? m : NULL;
}

static const char *str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* ---- outcomes ----------------------------------------------------------- */

static int outcome_of(const char *s, enum sd_outcome *o)
{
	return s ? sd_outcome_parse(s, o) : -SD_EUNKNOWN;
}

/* "any", or outcome names joined by '|'. */
static int check_expected(struct vctx *v, const char *s, const char *where)
{
	char q[48];

	if (strcmp(s, "any") == 0)
		return 0;
	for (const char *p = s;;) {
		const char *bar = strchr(p, '|');
		size_t n = bar ? (size_t)(bar - p) : strlen(p);
		char name[32];
		enum sd_outcome o;

		if (n == 0)
			return fail(v, "%s: empty outcome in '%s'", where, quote(s, q, sizeof(q)));
		if (n >= sizeof(name))
			return fail(v, "%s: unknown outcome in '%s'", where, quote(s, q, sizeof(q)));
		memcpy(name, p, n);
		name[n] = 0;
		if (sd_outcome_parse(name, &o) < 0)
			return fail(v, "%s: unknown outcome '%s'", where, quote(name, q, sizeof(q)));
		if (!bar)
			return 0;
		p = bar + 1;
	}
}

/* ---- the document ------------------------------------------------------- */

static const struct vspec top_spec[] = {
	{ "schema", K_NAME, F_REQ }, { "version", K_NAME, F_REQ }, { "matrix", K_OBJ, F_REQ },
	{ "shard", K_OBJ, F_REQ | F_NULL }, { "summary", K_OBJ, F_REQ }, { "run", K_OBJ, F_REQ },
	{ "cells", K_ARR, F_REQ },
};
static const struct vspec matrix_spec[] = {
	{ "name", K_NAME, F_REQ }, { "source", K_NAME, F_REQ }, { "description", K_TEXT, F_NULL },
	{ "cells", K_INT, F_REQ },
};
static const struct vspec shard_spec[] = { { "index", K_INT, F_REQ }, { "count", K_INT, F_REQ } };
static const struct vspec summary_spec[] = {
	{ "cells", K_INT, F_REQ }, { "passed", K_INT, F_REQ }, { "failed", K_INT, F_REQ },
	{ "errors", K_INT, F_REQ }, { "outcomes", K_OBJ, F_REQ },
};
static const struct vspec run_spec[] = {
	{ "jobs", K_INT, 0 }, { "labs", K_INT, 0 }, { "shards", K_INT, 0 },
	{ "wall_ms", K_INT, F_REQ }, { "started", K_STR, F_NULL }, { "rootless", K_BOOL, 0 },
};
static const struct vspec cell_spec[] = {
	{ "profile", K_NAME, F_REQ }, { "path", K_NAME, F_REQ }, { "server", K_NAME, F_REQ },
	{ "client", K_NAME, 0 }, { "shape", K_NAME, F_REQ }, { "family", K_NAME, F_REQ },
	{ "seed", K_STR, F_NULL }, { "outcome", K_NAME, F_REQ }, { "detail", K_OBJ, F_REQ },
	{ "truncation", K_OBJ, F_REQ }, { "hops", K_ARR, F_REQ }, { "expected", K_NAME, F_REQ },
	{ "pass", K_BOOL, F_REQ }, { "negotiated", K_OBJ, 0 }, { "flight", K_OBJ, 0 },
	{ "server_report", K_OBJ, 0 }, { "server_flight_bytes", K_INT, 0 },
	{ "timing_ms", K_OBJ, F_REQ }, { "engine_end", K_NAME, F_NULL }, { "pcaps", K_ARR, F_NULL },
	{ "index", K_INT, F_REQ }, { "id", K_NAME, F_REQ }, { "group", K_NAME, F_REQ },
	{ "rule", K_NAME, F_REQ }, { "ladder", K_OBJ, F_REQ }, { "hello_fields", K_ARR, F_REQ },
};
static const struct vspec detail_spec[] = {
	{ "text", K_TEXT, F_REQ }, { "breaking", K_NAME, F_REQ | F_NULL },
	{ "icmp_reached_client", K_BOOL, 0 },
};
static const struct vspec trunc_spec[] = {
	{ "sent", K_INT, F_REQ }, { "delivered", K_INT, F_REQ },
	{ "first_missing_offset", K_INT, F_REQ | F_NULL }, { "field", K_TEXT, F_REQ | F_NULL },
};
static const struct vspec timing_spec[] = {
	{ "cell", K_INT, F_REQ }, { "exchange", K_INT, 0 }, { "held", K_INT, 0 },
};
static const struct vspec negotiated_spec[] = {
	{ "group", K_NAME, F_NULL }, { "group_id", K_INT, F_NULL }, { "hrr", K_BOOL, 0 },
	{ "handshake_completed", K_BOOL, 0 },
};
static const struct vspec flight_spec[] = {
	{ "clienthello_bytes", K_INT, 0 }, { "handshake_length", K_INT, 0 }, { "wire_bytes", K_INT, 0 },
	{ "random", K_NAME, F_NULL }, { "client_port", K_INT, F_NULL }, { "records", K_INT, 0 }, { "record_lengths", K_INTS, 0 }, { "segments", K_INTS, 0 },
	{ "retransmissions", K_ARR, 0 }, { "ip_fragments", K_INT, 0 }, { "server_mss", K_INT, 0 },
	{ "pmtu", K_ARR, 0 },
};
static const struct vspec retrans_spec[] = { { "offset", K_INT, F_REQ }, { "length", K_INT, F_REQ } };
static const struct vspec pmtu_spec[] = { { "mtu", K_INT, F_REQ }, { "ignored", K_BOOL, 0 } };
static const struct vspec server_spec[] = {
	{ "present", K_BOOL, 0 }, { "reads", K_INTS, 0 }, { "bytes_in", K_INT, 0 },
	{ "hello_complete", K_BOOL, 0 }, { "handshake_completed", K_BOOL, 0 },
	{ "group", K_NAME, F_NULL }, { "alert_sent", K_NAME, F_NULL }, { "bytes_out", K_INT, 0 },
	{ "error", K_TEXT, F_NULL }, { "end", K_NAME, F_NULL }, { "via", K_NAME, F_NULL },
};
static const struct vspec hop_spec[] = {
	{ "name", K_NAME, F_REQ }, { "mtu", K_INT, 0 }, { "mtu_in", K_INT, 0 },
	{ "client_to_server", K_OBJ, 0 }, { "server_to_client", K_OBJ, 0 },
	{ "oversize_drops", K_INT, 0 }, { "icmp_too_big_sent", K_INT, 0 }, { "icmp_filtered", K_INT, 0 },
	{ "fragments_in", K_INT, 0 }, { "fragments_out", K_INT, 0 }, { "rst_injected", K_INT, 0 },
	{ "alerts_injected", K_INT, 0 },
};
static const struct vspec dir_spec[] = {
	{ "packets_in", K_INT, 0 }, { "bytes_in", K_INT, 0 }, { "packets_out", K_INT, 0 },
	{ "bytes_out", K_INT, 0 }, { "drops", K_INT, 0 },
};
static const struct vspec ladder_spec[] = {
	{ "links", K_ARR, F_REQ }, { "rows", K_ARR, F_REQ }, { "more", K_INT, F_REQ },
};
static const struct vspec link_spec[] = { { "name", K_NAME, F_REQ }, { "mtu", K_INT, F_REQ } };
static const struct vspec row_spec[] = {
	{ "t_us", K_INT, F_REQ }, { "dir", K_NAME, F_REQ }, { "at", K_ARR, F_REQ }, { "what", K_TEXT, F_REQ },
};
static const struct vspec field_spec[] = {
	{ "name", K_TEXT, F_REQ }, { "offset", K_INT, F_REQ }, { "length", K_INT, F_REQ },
	{ "depth", K_INT, F_REQ },
};

/* Every element of an array member is an object checked against spec. */
static int check_objects(struct vctx *v, const json_t *arr, const char *path, size_t max,
			 const struct vspec *spec, size_t n)
{
	if (json_array_size(arr) > max)
		return fail(v, "%s: %zu entries, over the limit of %zu", path, json_array_size(arr), max);
	for (size_t i = 0; i < json_array_size(arr); i++) {
		const json_t *e = json_array_get(arr, i);
		char where[256];
		int ret;

		joini(where, sizeof(where), path, i);
		if (!json_is_object(e))
			return fail(v, "%s: expected an object, got %s", where, type_name(e));
		ret = check_members(v, e, where, spec, n);
		if (ret < 0)
			return ret;
	}
	return 0;
}

#define CHECK_OBJECTS(v, arr, path, max, spec) \
	check_objects(v, arr, path, max, spec, sizeof(spec) / sizeof(spec[0]))

static int check_ladder(struct vctx *v, const json_t *l, const char *cp)
{
	const json_t *links = json_object_get(l, "links"), *rows = json_object_get(l, "rows");
	char path[128], where[256];
	size_t nlinks;
	int ret;

	join(path, sizeof(path), cp, "ladder");
	ret = CHECK_MEMBERS(v, l, path, ladder_spec);
	if (ret < 0)
		return ret;
	join(where, sizeof(where), path, "links");
	ret = CHECK_OBJECTS(v, links, where, MAX_LINKS, link_spec);
	if (ret < 0)
		return ret;
	nlinks = json_array_size(links);
	join(where, sizeof(where), path, "rows");
	ret = CHECK_OBJECTS(v, rows, where, MAX_ROWS, row_spec);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < json_array_size(rows); i++) {
		const json_t *row = json_array_get(rows, i), *at = json_object_get(row, "at");
		const char *dir = str(row, "dir");
		char rp[192];

		snprintf(rp, sizeof(rp), "%s.rows[%zu]", path, i);
		if (strcmp(dir, "c2s") != 0 && strcmp(dir, "s2c") != 0) {
			char q[48];

			return fail(v, "%s.dir: '%s' is neither c2s nor s2c", rp, quote(dir, q, sizeof(q)));
		}
		if (json_array_size(at) != nlinks)
			return fail(v, "%s.at: %zu entries for %zu links", rp, json_array_size(at), nlinks);
		for (size_t k = 0; k < nlinks; k++) {
			const char *s = json_string_value(json_array_get(at, k));

			if (!s || (strcmp(s, "seen") != 0 && strcmp(s, "lost") != 0 && strcmp(s, "none") != 0))
				return fail(v, "%s.at[%zu]: expected \"seen\", \"lost\" or \"none\"", rp, k);
		}
	}
	return 0;
}

static int check_cell(struct vctx *v, const json_t *c, const char *cp, long long total)
{
	const json_t *m;
	const char *family, *outcome;
	enum sd_outcome o;
	char where[256], q[48];
	int ret;

	if (!json_is_object(c))
		return fail(v, "%s: expected an object, got %s", cp, type_name(c));
	ret = CHECK_MEMBERS(v, c, cp, cell_spec);
	if (ret < 0)
		return ret;
	if (json_integer_value(json_object_get(c, "index")) >= total)
		return fail(v, "%s.index: %lld is not below matrix.cells (%lld)", cp,
			    (long long)json_integer_value(json_object_get(c, "index")), total);
	outcome = str(c, "outcome");
	if (outcome_of(outcome, &o) < 0)
		return fail(v, "%s.outcome: unknown outcome '%s'", cp, quote(outcome, q, sizeof(q)));
	join(where, sizeof(where), cp, "expected");
	ret = check_expected(v, str(c, "expected"), where);
	if (ret < 0)
		return ret;
	if (o == SD_ERROR && json_is_true(json_object_get(c, "pass")))
		return fail(v, "%s.pass: true, but an error cell never passes", cp);
	family = str(c, "family");
	if (strcmp(family, "ipv4") != 0 && strcmp(family, "ipv6") != 0)
		return fail(v, "%s.family: '%s' is neither ipv4 nor ipv6", cp, quote(family, q, sizeof(q)));

	join(where, sizeof(where), cp, "detail");
	ret = CHECK_MEMBERS(v, obj(c, "detail"), where, detail_spec);
	if (ret < 0)
		return ret;
	join(where, sizeof(where), cp, "truncation");
	ret = CHECK_MEMBERS(v, obj(c, "truncation"), where, trunc_spec);
	if (ret < 0)
		return ret;
	join(where, sizeof(where), cp, "timing_ms");
	ret = CHECK_MEMBERS(v, obj(c, "timing_ms"), where, timing_spec);
	if (ret < 0)
		return ret;
	if ((m = obj(c, "negotiated"))) {
		join(where, sizeof(where), cp, "negotiated");
		ret = CHECK_MEMBERS(v, m, where, negotiated_spec);
		if (ret < 0)
			return ret;
	}
	if ((m = obj(c, "flight"))) {
		char fp[128];

		join(fp, sizeof(fp), cp, "flight");
		ret = CHECK_MEMBERS(v, m, fp, flight_spec);
		if (ret < 0)
			return ret;
		if (json_object_get(m, "retransmissions")) {
			join(where, sizeof(where), fp, "retransmissions");
			ret = CHECK_OBJECTS(v, json_object_get(m, "retransmissions"), where, MAX_FIELDS, retrans_spec);
			if (ret < 0)
				return ret;
		}
		if (json_object_get(m, "pmtu")) {
			join(where, sizeof(where), fp, "pmtu");
			ret = CHECK_OBJECTS(v, json_object_get(m, "pmtu"), where, MAX_FIELDS, pmtu_spec);
			if (ret < 0)
				return ret;
		}
	}
	if ((m = obj(c, "server_report"))) {
		join(where, sizeof(where), cp, "server_report");
		ret = CHECK_MEMBERS(v, m, where, server_spec);
		if (ret < 0)
			return ret;
	}
	join(where, sizeof(where), cp, "hops");
	ret = CHECK_OBJECTS(v, json_object_get(c, "hops"), where, MAX_LINKS, hop_spec);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < json_array_size(json_object_get(c, "hops")); i++) {
		const json_t *h = json_array_get(json_object_get(c, "hops"), i);
		static const char *const dirs[] = { "client_to_server", "server_to_client" };

		for (size_t k = 0; k < 2; k++) {
			char hp[192];

			if (!(m = obj(h, dirs[k])))
				continue;
			snprintf(hp, sizeof(hp), "%s.hops[%zu].%s", cp, i, dirs[k]);
			ret = CHECK_MEMBERS(v, m, hp, dir_spec);
			if (ret < 0)
				return ret;
		}
	}
	ret = check_ladder(v, obj(c, "ladder"), cp);
	if (ret < 0)
		return ret;
	join(where, sizeof(where), cp, "hello_fields");
	ret = CHECK_OBJECTS(v, json_object_get(c, "hello_fields"), where, MAX_FIELDS, field_spec);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < json_array_size(json_object_get(c, "hello_fields")); i++)
		if (json_integer_value(json_object_get(json_array_get(json_object_get(c, "hello_fields"), i),
							"depth")) > 16)
			return fail(v, "%s.hello_fields[%zu].depth: deeper than 16", cp, i);
	if (json_is_array(m = json_object_get(c, "pcaps"))) {
		for (size_t i = 0; i < json_array_size(m); i++) {
			const json_t *p = json_array_get(m, i);

			if (!json_is_string(p) || json_string_length(p) == 0 || json_string_length(p) > MAX_NAME)
				return fail(v, "%s.pcaps[%zu]: expected a file name", cp, i);
		}
	}
	return 0;
}

/* summary must say what the cells say. */
static int check_summary(struct vctx *v, const json_t *doc)
{
	const json_t *s = obj(doc, "summary"), *cells = json_object_get(doc, "cells"), *outs, *m;
	size_t counts[SD_OUTCOME_MAX] = { 0 }, passed = 0, failed = 0, errors = 0, n = json_array_size(cells);
	const char *key;
	char q[48];

	for (size_t i = 0; i < n; i++) {
		const json_t *c = json_array_get(cells, i);
		enum sd_outcome o = SD_ERROR;

		(void)outcome_of(str(c, "outcome"), &o);
		counts[o]++;
		if (json_is_true(json_object_get(c, "pass")))
			passed++;
		else if (o == SD_ERROR)
			errors++;
		else
			failed++;
	}
#define SUMMARY_FIELD(name, want)                                                                  \
	if ((size_t)json_integer_value(json_object_get(s, name)) != (want))                           \
		return fail(v, "summary.%s: %lld, but the cells say %zu", name,                          \
			    (long long)json_integer_value(json_object_get(s, name)), (size_t)(want));
	SUMMARY_FIELD("cells", n)
	SUMMARY_FIELD("passed", passed)
	SUMMARY_FIELD("failed", failed)
	SUMMARY_FIELD("errors", errors)
#undef SUMMARY_FIELD
	outs = obj(s, "outcomes");
	json_object_foreach(mut(outs), key, m) {
		enum sd_outcome o;

		if (sd_outcome_parse(key, &o) < 0)
			return fail(v, "summary.outcomes: unknown outcome '%s'", quote(key, q, sizeof(q)));
		if (!json_is_integer(m) || json_integer_value(m) < 0 ||
		    (size_t)json_integer_value(m) != counts[o] || counts[o] == 0)
			return fail(v, "summary.outcomes.%s: expected %zu (the number of %s cells)", key,
				    counts[o], key);
	}
	for (int o = 0; o < SD_OUTCOME_MAX; o++)
		if (counts[o] && !json_object_get(outs, sd_outcome_name((enum sd_outcome)o)))
			return fail(v, "summary.outcomes.%s: missing (%zu cells)", sd_outcome_name((enum sd_outcome)o),
				    counts[o]);
	return 0;
}

/* "profile\x1fpath\x1fserver\x1fshape\x1ffamily" (malloc'd), the key of a grid slot. */
static char *slot_key(const json_t *c)
{
	static const char *const keys[] = { "profile", "path", "server", "shape", "family" };
	size_t len = 0, at = 0;
	char *s;

	for (size_t k = 0; k < 5; k++)
		len += strlen(str(c, keys[k])) + 1;
	s = malloc(len);
	if (!s)
		return NULL;
	for (size_t k = 0; k < 5; k++) {
		size_t n = strlen(str(c, keys[k]));

		memcpy(s + at, str(c, keys[k]), n);
		at += n;
		s[at++] = k < 4 ? '\x1f' : 0;
	}
	return s;
}

static int validate(const json_t *doc, struct vctx *v)
{
	const json_t *matrix, *shard, *cells;
	json_t *ids = NULL, *slots = NULL;
	char path[320] = "", q[48];
	long long total, last = -1;
	size_t n;
	int ret;

	if (!json_is_object(doc))
		return fail(v, "document: expected an object, got %s", doc ? type_name(doc) : "nothing");
	/* Depth first: the checks below recurse no deeper, and dump is safe. */
	ret = walk(v, doc, path, sizeof(path), 0);
	if (ret < 0)
		return ret;
	ret = CHECK_MEMBERS(v, doc, "", top_spec);
	if (ret < 0)
		return ret;
	if (strcmp(str(doc, "schema"), SD_MREPORT_SCHEMA) != 0)
		return fail(v, "schema: '%s' is not %s", quote(str(doc, "schema"), q, sizeof(q)), SD_MREPORT_SCHEMA);
	matrix = obj(doc, "matrix");
	ret = CHECK_MEMBERS(v, matrix, "matrix", matrix_spec);
	if (ret < 0)
		return ret;
	total = json_integer_value(json_object_get(matrix, "cells"));
	if (total > MAX_CELLS)
		return fail(v, "matrix.cells: %lld, over the limit of %d", total, MAX_CELLS);
	if ((shard = obj(doc, "shard"))) {
		ret = CHECK_MEMBERS(v, shard, "shard", shard_spec);
		if (ret < 0)
			return ret;
		if (json_integer_value(json_object_get(shard, "count")) > MAX_CELLS ||
		    json_integer_value(json_object_get(shard, "index")) < 1 ||
		    json_integer_value(json_object_get(shard, "index")) >
			    json_integer_value(json_object_get(shard, "count")))
			return fail(v, "shard: index %lld of %lld is out of range",
				    (long long)json_integer_value(json_object_get(shard, "index")),
				    (long long)json_integer_value(json_object_get(shard, "count")));
	}
	ret = CHECK_MEMBERS(v, obj(doc, "summary"), "summary", summary_spec);
	if (ret < 0)
		return ret;
	ret = CHECK_MEMBERS(v, obj(doc, "run"), "run", run_spec);
	if (ret < 0)
		return ret;
	cells = json_object_get(doc, "cells");
	n = json_array_size(cells);
	if (n > (size_t)total)
		return fail(v, "cells: %zu cells, but matrix.cells is %lld", n, total);

	ids = json_object();
	slots = json_object();
	if (!ids || !slots) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const json_t *c = json_array_get(cells, i), *prev;
		char cp[32], *slot = NULL;
		long long index;

		snprintf(cp, sizeof(cp), "cells[%zu]", i);
		ret = check_cell(v, c, cp, total);
		if (ret < 0)
			goto out;
		index = json_integer_value(json_object_get(c, "index"));
		if (index == last) {
			ret = fail(v, "%s.index: %lld appears twice", cp, index);
			goto out;
		}
		if (index < last) {
			ret = fail(v, "%s.index: %lld after %lld (cells are sorted by index)", cp, index, last);
			goto out;
		}
		last = index;
		if ((prev = json_object_get(ids, str(c, "id")))) {
			ret = fail(v, "%s.id: '%s' is also cells[%lld]", cp, quote(str(c, "id"), q, sizeof(q)),
				   (long long)json_integer_value(prev));
			goto out;
		}
		if (json_object_set_new_nocheck(ids, str(c, "id"), json_integer((json_int_t)i)) < 0) {
			ret = -ENOMEM;
			goto out;
		}
		/* One cell per (profile, path, server, shape, family): the
		 * renderers' grids rely on it. */
		slot = slot_key(c);
		if (!slot) {
			ret = -ENOMEM;
			goto out;
		}
		prev = json_object_get(slots, slot);
		if (prev) {
			free(slot);
			ret = fail(v, "%s: same profile, path, server, shape and family as cells[%lld]", cp,
				   (long long)json_integer_value(prev));
			goto out;
		}
		ret = json_object_set_new_nocheck(slots, slot, json_integer((json_int_t)i));
		free(slot);
		if (ret < 0) {
			ret = -ENOMEM;
			goto out;
		}
	}
	ret = check_summary(v, doc);
out:
	json_decref(ids);
	json_decref(slots);
	return ret;
}

int sd_mreport_validate(const json_t *doc, char *msg, size_t msglen)
{
	struct vctx v = { msg, msglen };

	if (msg && msglen)
		msg[0] = 0;
	return validate(doc, &v);
}

int sd_mreport_load(const char *text, size_t len, json_t **out, char *msg, size_t msglen)
{
	struct vctx v = { msg, msglen };
	json_error_t e;
	json_t *doc;
	int ret;

	*out = NULL;
	if (msg && msglen)
		msg[0] = 0;
	if (len > MAX_DOC_BYTES)
		return fail(&v, "document: %zu MiB, over the limit of %u MiB", len >> 20, MAX_DOC_BYTES >> 20);
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);
	if (!doc) {
		if (json_error_code(&e) == json_error_out_of_memory)
			return -ENOMEM;
		fail(&v, "line %d column %d: %s", e.line, e.column, e.text);
		return -SD_ESYNTAX;
	}
	ret = validate(doc, &v);
	if (ret < 0) {
		json_decref(doc);
		return ret;
	}
	*out = doc;
	return 0;
}

/* ---- summary ------------------------------------------------------------ */

/* A new summary object for cells, or NULL (-SD_EVALUE or -ENOMEM in *err). */
static json_t *summary_new(const json_t *cells, int *err)
{
	size_t counts[SD_OUTCOME_MAX] = { 0 }, passed = 0, failed = 0, errors = 0;
	json_t *s = NULL, *outs = NULL;

	*err = -SD_EVALUE;
	if (!json_is_array(cells))
		return NULL;
	for (size_t i = 0; i < json_array_size(cells); i++) {
		const json_t *c = json_array_get(cells, i);
		enum sd_outcome o;

		if (outcome_of(str(c, "outcome"), &o) < 0 || !json_is_boolean(json_object_get(c, "pass")))
			return NULL;
		counts[o]++;
		if (json_is_true(json_object_get(c, "pass")))
			passed++;
		else if (o == SD_ERROR)
			errors++;
		else
			failed++;
	}
	*err = -ENOMEM;
	outs = json_object();
	if (!outs)
		return NULL;
	for (int o = 0; o < SD_OUTCOME_MAX; o++)
		if (counts[o] && json_object_set_new(outs, sd_outcome_name((enum sd_outcome)o),
						     json_integer((json_int_t)counts[o])) < 0)
			goto fail;
	s = json_pack("{s:I, s:I, s:I, s:I, s:O}", "cells", (json_int_t)json_array_size(cells),
		      "passed", (json_int_t)passed, "failed", (json_int_t)failed, "errors", (json_int_t)errors,
		      "outcomes", outs);
fail:
	json_decref(outs);
	if (s)
		*err = 0;
	return s;
}

int sd_mreport_summarize(json_t *doc)
{
	json_t *s, *copy = NULL, *m;
	const char *key, *after;
	bool anchor;
	int ret;

	if (!json_is_object(doc))
		return -SD_EVALUE;
	s = summary_new(json_object_get(doc, "cells"), &ret);
	if (!s)
		return ret;
	if (json_object_get(doc, "summary"))
		return json_object_set_new(doc, "summary", s) < 0 ? -ENOMEM : 0;
	/* Not there yet: rebuild the object so it sits where the schema has
	 * it, after "shard" (or "matrix"), not at the end. */
	anchor = json_object_get(doc, "shard") || json_object_get(doc, "matrix");
	after = json_object_get(doc, "shard") ? "shard" : "matrix";
	copy = json_copy(doc);
	if (!copy) {
		json_decref(s);
		return -ENOMEM;
	}
	json_object_clear(doc);
	ret = 0;
	json_object_foreach(copy, key, m) {
		if (json_object_set(doc, key, m) < 0)
			ret = -ENOMEM;
		if (anchor && strcmp(key, after) == 0 && json_object_set(doc, "summary", s) < 0)
			ret = -ENOMEM;
	}
	if (!anchor && json_object_set(doc, "summary", s) < 0)
		ret = -ENOMEM;
	json_decref(s);
	json_decref(copy);
	return ret;
}

/* ---- dump --------------------------------------------------------------- */

static int dump_cb(const char *p, size_t n, void *data)
{
	struct sd_buf *b = data;

	sd_buf_put(b, p, n);
	return b->err ? -1 : 0;
}

int sd_mreport_dump(const json_t *doc, struct sd_buf *out)
{
	size_t start = out->len;

	if (!doc)
		return -SD_EVALUE;
	if (json_dump_callback(doc, dump_cb, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0) {
		int err = sd_buf_error(out);

		if (!out->err)
			out->len = start;
		return err ? err : -SD_EVALUE;
	}
	sd_buf_u8(out, '\n');
	return sd_buf_error(out);
}

/* ---- merge -------------------------------------------------------------- */

struct mcell {
	const json_t *cell;
	long long index;
	size_t doc;
};

static int cmp_mcell(const void *a, const void *b)
{
	const struct mcell *x = a, *y = b;

	if (x->index != y->index)
		return x->index < y->index ? -1 : 1;
	return x->doc < y->doc ? -1 : x->doc > y->doc;
}

/* Same matrix: name, source, size, then everything else about it. */
static int same_matrix(struct vctx *v, json_t *const *docs, size_t i)
{
	const json_t *a = obj(docs[0], "matrix"), *b = obj(docs[i], "matrix");
	static const char *const keys[] = { "name", "source" };
	char q1[48], q2[48];

	for (size_t k = 0; k < 2; k++)
		if (strcmp(str(a, keys[k]), str(b, keys[k])) != 0)
			return fail(v, "documents 1 and %zu are different matrices (matrix.%s '%s' and '%s')", i + 1,
				    keys[k], quote(str(a, keys[k]), q1, sizeof(q1)),
				    quote(str(b, keys[k]), q2, sizeof(q2)));
	if (!json_equal(json_object_get(a, "cells"), json_object_get(b, "cells")))
		return fail(v, "documents 1 and %zu are different matrices (matrix.cells %lld and %lld)", i + 1,
			    (long long)json_integer_value(json_object_get(a, "cells")),
			    (long long)json_integer_value(json_object_get(b, "cells")));
	if (!json_equal(a, b))
		return fail(v, "documents 1 and %zu describe matrix '%s' differently", i + 1,
			    quote(str(a, "name"), q1, sizeof(q1)));
	if (strcmp(str(docs[0], "version"), str(docs[i], "version")) != 0)
		return fail(v, "documents 1 and %zu come from different shakedown versions (%s and %s)", i + 1,
			    quote(str(docs[0], "version"), q1, sizeof(q1)),
			    quote(str(docs[i], "version"), q2, sizeof(q2)));
	return 0;
}

/* run: largest wall_ms, jobs and labs summed, shards counted, earliest start. */
static json_t *merge_run(json_t *const *docs, size_t n)
{
	const json_t *first = obj(docs[0], "run");
	json_t *run = json_object(), *m;
	long long wall = 0, jobs = 0, labs = 0, shards = 0;
	const char *started = NULL, *key;
	bool has_labs = false, has_jobs = false, rootless = false;

	if (!run)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const json_t *r = obj(docs[i], "run"), *s;
		long long w = json_integer_value(json_object_get(r, "wall_ms"));

		wall = w > wall ? w : wall;
		jobs += json_integer_value(json_object_get(r, "jobs"));
		labs += json_integer_value(json_object_get(r, "labs"));
		has_jobs |= json_object_get(r, "jobs") != NULL;
		has_labs |= json_object_get(r, "labs") != NULL;
		rootless |= json_is_true(json_object_get(r, "rootless"));
		s = json_object_get(r, "shards");
		shards += s ? json_integer_value(s) : 1;
		if (json_is_string(json_object_get(r, "started")) &&
		    (!started || strcmp(str(r, "started"), started) < 0))
			started = str(r, "started");
	}
	json_object_foreach(mut(first), key, m) {
		json_t *val;

		if (strcmp(key, "wall_ms") == 0)
			val = json_integer(wall);
		else if (strcmp(key, "jobs") == 0)
			val = json_integer(jobs);
		else if (strcmp(key, "labs") == 0)
			val = json_integer(labs);
		else if (strcmp(key, "shards") == 0)
			val = json_integer(shards);
		else if (strcmp(key, "started") == 0 && started)
			val = json_string(started);
		else if (strcmp(key, "rootless") == 0)
			val = json_boolean(rootless);     /* any shard */
		else
			val = json_deep_copy(m);
		if (json_object_set_new(run, key, val) < 0)
			goto fail;
	}
	if ((!json_object_get(run, "jobs") && has_jobs && json_object_set_new(run, "jobs", json_integer(jobs)) < 0) ||
	    (!json_object_get(run, "labs") && has_labs && json_object_set_new(run, "labs", json_integer(labs)) < 0) ||
	    (!json_object_get(run, "shards") && json_object_set_new(run, "shards", json_integer(shards)) < 0))
		goto fail;
	return run;
fail:
	json_decref(run);
	return NULL;
}

int sd_mreport_merge(json_t *const *docs, size_t n, json_t **out, char *msg, size_t msglen)
{
	struct vctx v = { msg, msglen };
	struct mcell *all = NULL;
	json_t *doc = NULL, *cells = NULL, *m;
	size_t total = 0, k = 0;
	long long want;
	const char *key;
	int ret = -SD_EVALUE;

	*out = NULL;
	if (msg && msglen)
		msg[0] = 0;
	if (n == 0)
		return fail(&v, "no documents to merge");
	for (size_t i = 0; i < n; i++) {
		char sub[256];

		ret = validate(docs[i], &(struct vctx){ sub, sizeof(sub) });
		if (ret == -ENOMEM)
			return ret;
		if (ret < 0)
			return fail(&v, "document %zu: %s", i + 1, sub);
		if (i > 0 && (ret = same_matrix(&v, docs, i)) < 0)
			return ret;
		total += json_array_size(json_object_get(docs[i], "cells"));
	}
	want = json_integer_value(json_object_get(obj(docs[0], "matrix"), "cells"));
	all = calloc(total ? total : 1, sizeof(*all));
	if (!all)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const json_t *cs = json_object_get(docs[i], "cells");

		for (size_t j = 0; j < json_array_size(cs); j++, k++) {
			all[k].cell = json_array_get(cs, j);
			all[k].index = json_integer_value(json_object_get(all[k].cell, "index"));
			all[k].doc = i;
		}
	}
	qsort(all, total, sizeof(*all), cmp_mcell);
	for (size_t i = 1; i < total; i++) {
		if (all[i].index == all[i - 1].index) {
			char q[48];

			ret = fail(&v, "cell %lld (%s) is in documents %zu and %zu", all[i].index,
				   quote(str(all[i].cell, "id"), q, sizeof(q)), all[i - 1].doc + 1, all[i].doc + 1);
			goto out;
		}
	}
	/* Sorted and distinct, all below want: complete iff as many as want. */
	if ((long long)total != want) {
		long long missing = 0;

		while ((size_t)missing < total && all[missing].index == missing)
			missing++;
		ret = fail(&v, "cells missing: cell %lld is in none of the %zu documents (%zu of %lld cells present)",
			   missing, n, total, want);
		goto out;
	}

	ret = -ENOMEM;
	cells = json_array();
	doc = json_object();
	if (!cells || !doc)
		goto out;
	for (size_t i = 0; i < total; i++)
		if (json_array_append_new(cells, json_deep_copy(all[i].cell)) < 0)
			goto out;
	/* The first document's key order, which is every document's. */
	json_object_foreach(docs[0], key, m) {
		json_t *val;

		if (strcmp(key, "shard") == 0)
			val = json_null();
		else if (strcmp(key, "run") == 0)
			val = merge_run(docs, n);
		else if (strcmp(key, "cells") == 0)
			val = json_incref(cells);
		else
			val = json_deep_copy(m);
		if (json_object_set_new(doc, key, val) < 0)
			goto out;
	}
	ret = sd_mreport_summarize(doc);
	if (ret < 0)
		goto out;
	ret = validate(doc, &v);
	if (ret < 0)
		goto out;
	*out = doc;
	doc = NULL;
out:
	json_decref(doc);
	json_decref(cells);
	free(all);
	return ret;
}
