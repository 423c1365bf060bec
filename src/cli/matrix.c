/* SPDX-License-Identifier: MIT */
/*
 * shakedown matrix: many cells at once, and shakedown merge.
 *
 * The plan is the matrix file's cells in order. Neighbouring cells that
 * share a built path (path, server, chain size) form a unit; a unit that
 * would keep one worker busy much longer than the others (black holes wait
 * out retransmissions) is cut into chunks, each with its own lab. Workers
 * (--jobs) take chunks longest first. Every cell's JSON goes into one
 * document (docs/matrix.md), and every report is rendered from that
 * document, which is also what `merge` rebuilds from shards.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cell.h"
#include "cli.h"
#include "rootless.h"
#include "shakedown/builtin.h"
#include "shakedown/json.h"
#include "shakedown/lab.h"
#include "shakedown/matrix.h"
#include "shakedown/mreport.h"
#include "shakedown/peer.h"
#include "shakedown/report.h"

static const char matrix_usage[] =
	"usage: shakedown matrix [MATRIX] [options]\n"
	"       shakedown matrix --diff OLD.json NEW.json\n"
	"\n"
	"Runs every cell of MATRIX (a built-in name, see 'shakedown list matrices', or\n"
	"an .ini file; default: the built-in 'default') — profiles x paths x servers x\n"
	"shapes x families — on paths built once and reused, --jobs cells at a time,\n"
	"and prints a matrix: profiles as rows, paths as columns, one symbol per cell.\n"
	"\n"
	"options:\n"
	"  -j, --jobs N         cells run at once (default: the number of CPUs)\n"
	"      --shard I/N      run only slice I of N (1-based): cells are cut into N\n"
	"                       contiguous slices; 'shakedown merge' joins the JSON\n"
	"      --json FILE      the whole run as JSON (docs/matrix.md); '-' for stdout\n"
	"      --junit FILE     JUnit XML, one testcase per cell\n"
	"      --markdown FILE  Markdown summary (e.g. $GITHUB_STEP_SUMMARY)\n"
	"      --html FILE      one self-contained HTML page: heatmap, filters, drill-down\n"
	"      --pcap-dir DIR   one directory of pcaps per cell (DIR/CELL-ID/)\n"
	"      --keylog FILE    NSS key log of every server (not nginx) and real client,\n"
	"                       appended to FILE, so Wireshark decrypts those pcaps\n"
	"      --only GLOB      run only cells whose id matches (e.g. 'chrome-pq/*')\n"
	"      --list           print the cells and their expectations; run nothing\n"
	"  -q, --quiet          no terminal matrix (files only); no progress bar\n"
	"      --diff OLD NEW   compare two JSON runs: regressions first (exit 1 if any)\n"
	"  -h, --help           this help\n"
	"\n"
	"Colour and the progress bar appear on a terminal only; NO_COLOR=1 turns\n"
	"colour off. A cell's id is profile/path/server[/shape][/ipv6].\n"
	"exit: 0 every cell met its expectation, 1 some did not (or --diff found a\n"
	"regression), 2 usage or matrix file error, 3 no privilege, 4 harness error.\n"
	"\n"
	"examples:\n"
	"  shakedown matrix\n"
	"  shakedown matrix netns/matrices/default.ini --junit junit.xml --html report.html\n"
	"  shakedown matrix --shard 2/3 --json shard2.json && shakedown merge shard*.json\n"
	"  shakedown matrix --diff before.json after.json\n";

static const char merge_usage[] =
	"usage: shakedown merge [options] SHARD.json...\n"
	"\n"
	"Joins the JSON of 'shakedown matrix --shard I/N' runs into the report one\n"
	"run of the whole matrix gives, and prints its terminal matrix. The shards\n"
	"must come from the same matrix and together hold every cell once.\n"
	"\n"
	"options:\n"
	"      --json FILE      the merged document; '-' for stdout\n"
	"      --junit FILE     --markdown FILE  --html FILE   as for 'matrix'\n"
	"  -q, --quiet          no terminal matrix\n"
	"  -h, --help           this help\n"
	"\n"
	"exit: 0 every cell met its expectation, 1 some did not, 2 bad input.\n";

#define MAX_DOC (256u << 20)

struct outputs {
	const char *json, *junit, *markdown, *html;
	bool quiet;
};

struct mcell {
	const struct sd_matrix_cell *c;
	struct sd_buf json;              /* the cell's object */
	enum sd_outcome outcome;
	bool pass;
};

struct chunk {
	size_t first, n;                 /* into the run's cells */
	double cost;
};

struct run {
	struct sd_matrix m;
	const char *source;              /* "built-in" or the file */
	char where[160];                 /* for FILE:LINE: the file, or netns/matrices/NAME.ini */
	char name[128];
	char dir[4096];                  /* of the matrix file, for relative names */
	struct sd_profile *profiles;
	enum sd_client_kind *clients;    /* by profile index, where m.client[] */
	struct sd_path *paths;
	enum sd_server_mode *servers;
	struct sd_shape *shapes;
	struct mcell *cells;             /* the cells this run runs */
	size_t ncells;
	struct chunk *chunks;
	size_t nchunks;
	atomic_size_t next_chunk, done;
	atomic_size_t labs;
	const char *pcap_dir;
	const char *keylog;              /* --keylog: every lab's server and client append */
	double t0;
};

static double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static bool is_file_name(const char *name)
{
	size_t l = strlen(name);

	return strchr(name, '/') || (l > 4 && strcmp(name + l - 4, ".ini") == 0);
}

/* A file name in the matrix, relative to the matrix file's directory. */
static void rel_path(const struct run *r, const char *name, char *out, size_t n)
{
	if (name[0] == '/' || !r->dir[0])
		snprintf(out, n, "%s", name);
	else
		snprintf(out, n, "%.2000s/%.1000s", r->dir, name);
}

static int spec_fail(const struct run *r, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int spec_fail(const struct run *r, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return cli_spec_error(r->where, line, msg);
}

/* A profile or path file named in the matrix: its text, its path as read
 * and its base name (the profile's or path's name). */
static int read_named(const struct run *r, const struct sd_matrix_name *nm, const char *what,
		      char *file, size_t fn, char *base, size_t bn, uint8_t **data, size_t *len)
{
	const char *b;
	int ret;

	rel_path(r, nm->name, file, fn);
	if ((ret = cli_read_file(file, 1 << 20, data, len)) < 0)
		return spec_fail(r, nm->line, "%s %s: %s", what, file, sd_strerror(ret));
	b = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	snprintf(base, bn, "%.*s", (int)strcspn(b, "."), b);
	return 0;
}

/* Resolves every profile, path, server and shape the cells use. */
static int resolve(struct run *r)
{
	struct sd_matrix *m = &r->m;

	r->profiles = calloc(m->nprofiles ? m->nprofiles : 1, sizeof(*r->profiles));
	r->clients = calloc(m->nprofiles ? m->nprofiles : 1, sizeof(*r->clients));
	r->paths = calloc(m->npaths ? m->npaths : 1, sizeof(*r->paths));
	r->servers = calloc(m->nservers ? m->nservers : 1, sizeof(*r->servers));
	r->shapes = calloc(m->nshapes ? m->nshapes : 1, sizeof(*r->shapes));
	if (!r->profiles || !r->clients || !r->paths || !r->servers || !r->shapes)
		return cli_error(SD_EXIT_INTERNAL, "out of memory");
	for (size_t i = 0; i < m->nprofiles; i++) {
		const struct sd_matrix_name *nm = &m->profiles[i];
		struct sd_profile_error e;
		int ret;

		if (m->client[i]) {
			char why[600];

			if (sd_client_parse(nm->name, &r->clients[i]) < 0)
				return spec_fail(r, nm->line, "unknown client '%s' (%s)", nm->name,
						 sd_client_names());
			if (sd_client_check(r->clients[i], why, sizeof(why)) < 0)
				return cli_error(SD_EXIT_ENV, "%s:%d: client %s: %s", r->where, nm->line,
						 nm->name, why);
			snprintf(r->profiles[i].name, sizeof(r->profiles[i].name), "%s", sd_client_name(r->clients[i]));
		} else if (is_file_name(nm->name)) {
			char file[4096], base[64];
			uint8_t *data;
			size_t len;

			if ((ret = read_named(r, nm, "profile", file, sizeof(file), base, sizeof(base), &data, &len)) != 0)
				return ret;
			ret = sd_profile_parse((const char *)data, len, base, &r->profiles[i], &e);
			free(data);
			if (ret < 0)
				return cli_spec_error(file, e.line, e.msg);
		} else if ((ret = sd_profile_builtin(nm->name, &r->profiles[i], &e)) < 0) {
			return spec_fail(r, nm->line, "unknown profile '%s' (see 'shakedown list profiles')",
					 nm->name);
		}
	}
	for (size_t i = 0; i < m->npaths; i++) {
		const struct sd_matrix_name *nm = &m->paths[i];
		struct sd_path_error e;
		int ret;

		if (is_file_name(nm->name)) {
			char file[4096], base[64];
			uint8_t *data;
			size_t len;

			if ((ret = read_named(r, nm, "path", file, sizeof(file), base, sizeof(base), &data, &len)) != 0)
				return ret;
			ret = sd_path_parse((const char *)data, len, base, &r->paths[i], &e);
			free(data);
			if (ret < 0)
				return cli_spec_error(file, e.line, e.msg);
			sd_path_set_dir(&r->paths[i], file);
			if ((ret = cli_check_exec_hops(file, &r->paths[i])) != 0)
				return ret;
		} else if ((ret = sd_path_builtin(nm->name, &r->paths[i], &e)) < 0) {
			return spec_fail(r, nm->line, "unknown path '%s' (see 'shakedown list paths')", nm->name);
		} else if ((ret = cli_check_exec_hops(nm->name, &r->paths[i])) != 0) {
			/* a built-in path's program (haproxy) not installed: exit 3 up front */
			return ret;
		}
	}
	for (size_t i = 0; i < m->nservers; i++)
		if (sd_server_mode_parse(m->servers[i].name, &r->servers[i]) < 0)
			return spec_fail(r, m->servers[i].line, "unknown server '%s' (%s)",
					 m->servers[i].name, sd_server_mode_names());
	for (size_t i = 0; i < m->nshapes; i++) {
		char err[256];

		sd_shape_init(&r->shapes[i]);
		if (strcmp(m->shapes[i].name, "default") != 0 &&
		    sd_shape_parse(m->shapes[i].name, &r->shapes[i], err, sizeof(err)) < 0)
			return spec_fail(r, m->shapes[i].line, "shape '%s': %s", m->shapes[i].name, err);
	}
	for (size_t i = 0; i < m->ncells; i++) {
		const struct sd_matrix_cell *c = &m->cells[i];
		struct sd_path_error e;

		if (c->ipv6 && sd_path_check_ipv6(&r->paths[c->path], &e) < 0)
			return spec_fail(r, m->paths[c->path].line, "IPv6 through path %s: %s",
					 m->paths[c->path].name, e.msg);
		if (c->chain_size > SD_SERVER_MAX_CHAIN)
			return spec_fail(r, 0, "chain_size above %u", SD_SERVER_MAX_CHAIN);
	}
	return 0;
}

static bool same_lab(const struct sd_matrix_cell *a, const struct sd_matrix_cell *b)
{
	return a->path == b->path && a->server == b->server && a->chain_size == b->chain_size &&
	       a->ipv6 == b->ipv6 && a->client == b->client;
}

/* What a cell will cost, in ms, from what it is expected to do. */
static double cell_cost(const struct run *r, const struct sd_matrix_cell *c)
{
	const uint32_t slow = 1u << SD_BLACKHOLE | 1u << SD_STALL | 1u << SD_FRAG_LOST |
			      1u << SD_TRUNCATED;
	double ms = 3 + r->shapes[c->shape].gap_ms;

	/* A real program: its start, then its own pace (Chromium ~1.5 s). */
	if (c->client)
		return r->clients[c->profile] == SD_CLIENT_CHROMIUM ? 1500 : 300;
	if (c->expect && !(c->expect & ~slow))
		ms += 200;
	return ms;
}

static int cmp_chunk(const void *a, const void *b)
{
	const struct chunk *x = a, *y = b;

	if (x->cost != y->cost)
		return x->cost < y->cost ? 1 : -1;
	return (x->first > y->first) - (x->first < y->first);
}

/*
 * What opening a lab costs, in ms: a few for the path and captures, ~80 more
 * to start Node.js for the node-pq servers (measured: node itself takes
 * 60-100 ms to load node:tls and listen).
 */
static double lab_cost(const struct run *r, const struct sd_matrix_cell *c)
{
	return sd_server_mode_is_node(r->servers[c->server]) ? 120 : 30;
}

/* Units of neighbouring cells on one lab, cut to balance the workers. */
static int plan_chunks(struct run *r, unsigned jobs)
{
	double total = 0, target;

	for (size_t i = 0; i < r->ncells; i++)
		total += cell_cost(r, r->cells[i].c);
	target = total / (jobs * 3.0);
	if (target < 150)
		target = 150;
	r->chunks = calloc(r->ncells ? r->ncells : 1, sizeof(*r->chunks));
	if (!r->chunks)
		return -ENOMEM;
	for (size_t i = 0; i < r->ncells;) {
		size_t j = i + 1;
		double cost = cell_cost(r, r->cells[i].c), acc = 0;
		double lab_ms = lab_cost(r, r->cells[i].c), unit_target = target;
		size_t pieces, per, start;

		while (j < r->ncells && same_lab(r->cells[j].c, r->cells[i].c)) {
			cost += cell_cost(r, r->cells[j].c);
			j++;
		}
		/* Another lab is worth it only for more work than it costs to open. */
		if (unit_target < 2 * lab_ms)
			unit_target = 2 * lab_ms;
		pieces = (size_t)(cost / unit_target) + 1;
		if (pieces > j - i)
			pieces = j - i;
		per = (j - i + pieces - 1) / pieces;
		for (start = i; start < j; start += per) {
			struct chunk *ch = &r->chunks[r->nchunks++];

			ch->first = start;
			ch->n = start + per <= j ? per : j - start;
			acc = lab_ms;
			for (size_t k = 0; k < ch->n; k++)
				acc += cell_cost(r, r->cells[start + k].c);
			ch->cost = acc;
		}
		i = j;
	}
	qsort(r->chunks, r->nchunks, sizeof(*r->chunks), cmp_chunk);
	return 0;
}

/* A cell id as a directory name: '/' and odd characters become '_'. */
static void id_dir(const char *id, char *out, size_t n)
{
	size_t i = 0;

	for (; id[i] && i + 1 < n; i++) {
		char ch = id[i];

		out[i] = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
			 ch == '-' || ch == '.' || ch == '+' ? ch : '_';
	}
	out[i] = 0;
}

static void cell_meta(const struct run *r, const struct sd_matrix_cell *c, char *expect, size_t n,
		      char *rule, size_t rn, struct cli_cell_meta *meta)
{
	const struct sd_matrix *m = &r->m;

	sd_matrix_expect_str(c->expect, expect, n);
	if (c->rule_line)
		snprintf(rule, rn, "%s:%d", r->where, c->rule_line);
	else
		snprintf(rule, rn, "default");
	memset(meta, 0, sizeof(*meta));
	meta->profile = r->profiles[c->profile].name;
	meta->path = r->paths[c->path].name;
	meta->server = m->servers[c->server].name;
	meta->shape = m->shapes[c->shape].name;
	meta->ipv6 = c->ipv6;
	meta->expected = expect;
	meta->index = c->index;
	meta->id = c->id;
	meta->group = m->groups[c->group].name;
	meta->rule = rule;
}

/*
 * A cell's seed: the matrix seed and the cell id, so a cell keeps its hello
 * when the file around it changes; ids too long for a seed are hashed
 * (FNV-1a). `run --seed` with it reproduces the cell.
 */
static void cell_seed(const struct run *r, const struct sd_matrix_cell *c, char *out, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	char tmp[1024];
	int k = snprintf(tmp, sizeof(tmp), "%s/%s", r->m.seed, c->id);

	if (k > 0 && k < 72 && (size_t)k < n) {
		memcpy(out, tmp, (size_t)k + 1);
		return;
	}
	for (const char *p = c->id; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
	snprintf(out, n, "%.50s/%016llx", r->m.seed, (unsigned long long)h);
}

/* One cell on an open lab (or, with lab NULL, a harness error). */
static void run_cell(struct run *r, struct sd_lab *lab, struct mcell *mc, const char *lab_err,
		     struct sd_cell_result *res)
{
	const struct sd_matrix_cell *c = mc->c;
	struct sd_hello_opts ho = { 0 };
	struct sd_cell cell = { 0 };
	struct cli_cell_meta meta;
	struct sd_buf pcaps = SD_BUF_INIT;
	struct sd_json j;
	char seed[80], expect[160], rule[4200], err[512] = "";
	int ret = -1;

	cell_seed(r, c, seed, sizeof(seed));
	cell.profile = &r->profiles[c->profile];
	cell.real_client = c->client;
	cell.client = r->clients[c->profile];
	cell.hello_opts = &ho;
	cell.seed = seed;
	cell.shape = r->shapes[c->shape];
	cell.ipv6 = c->ipv6;
	memset(res, 0, sizeof(*res));
	if (lab)
		ret = sd_lab_run(lab, &cell, res, err, sizeof(err));
	else
		snprintf(err, sizeof(err), "%s", lab_err);
	if (ret < 0) {
		sd_cell_result_free(res);
		memset(res, 0, sizeof(*res));
		res->v.outcome = SD_ERROR;
		res->v.first_missing = -1;
		snprintf(res->v.detail, sizeof(res->v.detail), "harness: %.480s", err);
		snprintf(res->seed, sizeof(res->seed), "%s", seed);
	} else if (r->pcap_dir) {
		char dir[4096], sub[600];

		id_dir(c->id, sub, sizeof(sub));
		snprintf(dir, sizeof(dir), "%s/%s", r->pcap_dir, sub);
		if (sd_lab_write_pcaps(lab, res, dir, &pcaps, err, sizeof(err)) < 0)
			fprintf(stderr, "shakedown matrix: %s: %s\n", c->id, err);
		sd_buf_u8(&pcaps, 0);
	}
	mc->outcome = res->v.outcome;
	mc->pass = sd_matrix_expect_met(c->expect, res->v.outcome);
	cell_meta(r, c, expect, sizeof(expect), rule, sizeof(rule), &meta);
	meta.pass = mc->pass;
	meta.client = c->client ? sd_client_name(r->clients[c->profile]) : NULL;
	meta.pcaps = pcaps.len > 1 ? (const char *)pcaps.data : NULL;
	sd_json_init(&j, &mc->json, false);
	cli_cell_json(&j, &meta, res);
	sd_cell_result_free(res);
	sd_buf_free(&pcaps);
}

static void *worker(void *arg)
{
	struct run *r = arg;
	struct sd_cell_result *res = calloc(1, sizeof(*res));

	if (!res)
		return NULL;
	for (;;) {
		size_t k = atomic_fetch_add(&r->next_chunk, 1);
		const struct chunk *ch;
		const struct sd_matrix_cell *c0;
		struct sd_lab_opts lo = { 0 };
		struct sd_lab *lab = NULL;
		char err[512] = "";

		if (k >= r->nchunks)
			break;
		ch = &r->chunks[k];
		c0 = r->cells[ch->first].c;
		lo.server_mode = r->servers[c0->server];
		lo.chain_size = c0->chain_size;
		lo.ipv6 = c0->ipv6;
		lo.client_kernel = c0->client;
		/* nginx has no key log hook: its cells' keys are the clients' only. */
		lo.keylog_path = lo.server_mode == SD_SERVER_NGINX && !c0->client ? NULL : r->keylog;
		if (sd_lab_open(&r->paths[c0->path], &lo, &lab, err, sizeof(err)) < 0)
			lab = NULL;
		else
			atomic_fetch_add(&r->labs, 1);
		for (size_t i = 0; i < ch->n; i++) {
			run_cell(r, lab, &r->cells[ch->first + i], err, res);
			atomic_fetch_add(&r->done, 1);
		}
		sd_lab_close(lab);
	}
	free(res);
	return NULL;
}

/* mkdir -p: every missing directory of path. */
static int mkdir_p(const char *path)
{
	char buf[4096];
	size_t n = strlen(path);

	if (!n || n >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

static void progress(const struct run *r, size_t done, bool final)
{
	double el = (mono_ms() - r->t0) / 1e3;
	size_t width = 30, fill = r->ncells ? done * width / r->ncells : width;
	char bar[64];

	for (size_t i = 0; i < width; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[width] = 0;
	if (final) {
		fprintf(stderr, "\r\033[K");
		return;
	}
	if (done && done < r->ncells)
		fprintf(stderr, "\r\033[K[%s] %zu/%zu cells  %.1f s  ETA %.1f s", bar, done, r->ncells, el,
			el / (double)done * (double)(r->ncells - done));
	else
		fprintf(stderr, "\r\033[K[%s] %zu/%zu cells  %.1f s", bar, done, r->ncells, el);
}

static int load_doc(const char *file, json_t **doc)
{
	uint8_t *data;
	size_t len;
	char msg[512];
	int ret = cli_read_file(file, MAX_DOC, &data, &len);

	if (ret < 0)
		return cli_error(SD_EXIT_USAGE, "cannot read %s: %s", file, sd_strerror(ret));
	ret = sd_mreport_load((const char *)data, len, doc, msg, sizeof(msg));
	free(data);
	if (ret < 0)
		return cli_error(SD_EXIT_USAGE, "%s: %s", file, msg);
	return 0;
}

static bool want_color(int fd)
{
	const char *nc = getenv("NO_COLOR");

	return isatty(fd) && !(nc && *nc) && !(getenv("TERM") && !strcmp(getenv("TERM"), "dumb"));
}

/* Writes every report asked for; the terminal matrix unless quiet. */
static int emit(const json_t *doc, const struct outputs *o)
{
	struct {
		const char *file;
		int (*fn)(const json_t *, struct sd_buf *);
		const char *what;
	} files[] = {
		{ o->json, sd_mreport_dump, "JSON" },
		{ o->junit, sd_mreport_junit, "JUnit" },
		{ o->markdown, sd_mreport_markdown, "Markdown" },
		{ o->html, sd_mreport_html, "HTML" },
	};
	bool json_stdout = o->json && strcmp(o->json, "-") == 0;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct sd_buf b = SD_BUF_INIT;
		int ret;

		if (!files[i].file)
			continue;
		ret = files[i].fn(doc, &b);
		if (ret == 0)
			ret = sd_buf_error(&b);
		if (ret == 0)
			ret = cli_write_file(files[i].file, b.data, b.len);
		sd_buf_free(&b);
		if (ret < 0)
			return cli_error(ret == -ENOMEM || ret == -ENOSYS ? SD_EXIT_INTERNAL : SD_EXIT_USAGE,
					 "cannot write the %s report to %s: %s", files[i].what, files[i].file,
					 sd_strerror(ret));
	}
	if (!o->quiet && !json_stdout) {
		struct sd_mreport_text_opts to = { .color = want_color(1), .utf8 = true };
		struct sd_buf b = SD_BUF_INIT;
		int ret = sd_mreport_text(doc, &to, &b);

		if (ret == 0)
			ret = sd_buf_error(&b);
		if (ret == 0)
			ret = cli_stdout(&b);
		sd_buf_free(&b);
		if (ret < 0)
			return cli_error(SD_EXIT_INTERNAL, "cannot print the matrix: %s", sd_strerror(ret));
	}
	return 0;
}

/* 0 all passed, 1 some failed, 4 a harness error. */
static int doc_exit(const json_t *doc)
{
	const json_t *s = json_object_get(doc, "summary");

	if (json_integer_value(json_object_get(s, "errors")) > 0)
		return SD_EXIT_INTERNAL;
	return json_integer_value(json_object_get(s, "failed")) > 0 ? SD_EXIT_FAIL : SD_EXIT_OK;
}

static int do_diff(const char *a, const char *b)
{
	struct sd_mreport_text_opts to = { .color = want_color(1), .utf8 = true };
	json_t *old = NULL, *new = NULL;
	struct sd_buf out = SD_BUF_INIT;
	size_t regressions = 0;
	int rc;

	if ((rc = load_doc(a, &old)) != 0 || (rc = load_doc(b, &new)) != 0)
		goto out;
	rc = sd_mreport_diff(old, new, false, &to, &out, &regressions);
	if (rc == 0)
		rc = sd_buf_error(&out);
	if (rc < 0 || cli_stdout(&out) < 0) {
		rc = cli_error(SD_EXIT_INTERNAL, "cannot compare: %s", sd_strerror(rc));
		goto out;
	}
	rc = regressions ? SD_EXIT_FAIL : SD_EXIT_OK;
out:
	json_decref(old);
	json_decref(new);
	sd_buf_free(&out);
	return rc;
}

static int load_matrix(struct run *r, const char *name)
{
	struct sd_matrix_error e;
	uint8_t *data = NULL;
	size_t len;
	int ret;

	if (is_file_name(name)) {
		const char *slash = strrchr(name, '/'), *b = slash ? slash + 1 : name;

		if ((ret = cli_read_file(name, 1 << 20, &data, &len)) < 0)
			return cli_error(SD_EXIT_USAGE, "cannot read matrix file %s: %s", name, sd_strerror(ret));
		r->source = name;
		snprintf(r->where, sizeof(r->where), "%.150s", name);
		snprintf(r->name, sizeof(r->name), "%.*s", (int)strcspn(b, "."), b);
		if (slash)
			snprintf(r->dir, sizeof(r->dir), "%.*s", (int)(slash - name), name);
		ret = sd_matrix_parse((const char *)data, len, &r->m, &e);
		free(data);
	} else {
		const struct sd_builtin_file *f = sd_builtin_matrices;

		while (f->name && strcmp(f->name, name) != 0)
			f++;
		if (!f->name)
			return cli_error(SD_EXIT_USAGE, "unknown matrix '%s' (see 'shakedown list matrices', or give an .ini file)",
					 name);
		r->source = "built-in";
		snprintf(r->name, sizeof(r->name), "%s", name);
		snprintf(r->where, sizeof(r->where), "netns/matrices/%.100s.ini", name);
		ret = sd_matrix_parse(f->text, f->len, &r->m, &e);
	}
	if (ret < 0)
		return cli_spec_error(r->where, e.line, e.msg);
	return 0;
}

static int parse_shard(const char *s, unsigned *i, unsigned *n)
{
	char *end;
	unsigned long a, b;

	errno = 0;
	a = strtoul(s, &end, 10);
	if (errno || end == s || *end != '/')
		return -1;
	s = end + 1;
	b = strtoul(s, &end, 10);
	if (errno || end == s || *end || b < 1 || b > 10000 || a < 1 || a > b)
		return -1;
	*i = (unsigned)a;
	*n = (unsigned)b;
	return 0;
}

static void list_cells(const struct run *r)
{
	for (size_t i = 0; i < r->ncells; i++) {
		char ex[160];

		sd_matrix_expect_str(r->cells[i].c->expect, ex, sizeof(ex));
		printf("%4zu  %-60s %s\n", r->cells[i].c->index, r->cells[i].c->id, ex);
	}
}

static void now_iso(char *out, size_t n)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int build_doc(struct run *r, unsigned jobs, unsigned shard_i, unsigned shard_n, json_t **out)
{
	json_t *doc = json_object(), *cells = json_array(), *o;
	char started[32];
	json_error_t je;

	if (!doc || !cells)
		goto oom;
	now_iso(started, sizeof(started));
	json_object_set_new(doc, "schema", json_string(SD_MREPORT_SCHEMA));
	json_object_set_new(doc, "version", json_string(SD_VERSION));
	o = json_object();
	json_object_set_new(o, "name", json_string(r->name));
	json_object_set_new(o, "source", json_string(r->source));
	json_object_set_new(o, "description", json_string(r->m.description));
	json_object_set_new(o, "cells", json_integer((json_int_t)r->m.ncells));
	json_object_set_new(doc, "matrix", o);
	if (shard_n > 1) {
		o = json_object();
		json_object_set_new(o, "index", json_integer(shard_i));
		json_object_set_new(o, "count", json_integer(shard_n));
		json_object_set_new(doc, "shard", o);
	} else {
		json_object_set_new(doc, "shard", json_null());
	}
	json_object_set_new(doc, "summary", json_object());
	o = json_object();
	json_object_set_new(o, "jobs", json_integer(jobs));
	json_object_set_new(o, "labs", json_integer((json_int_t)atomic_load(&r->labs)));
	json_object_set_new(o, "shards", json_integer(1));
	json_object_set_new(o, "rootless", json_boolean(cli_rootless_active()));
	json_object_set_new(o, "wall_ms", json_integer((json_int_t)(mono_ms() - r->t0 + 0.5)));
	json_object_set_new(o, "started", json_string(started));
	json_object_set_new(doc, "run", o);
	for (size_t i = 0; i < r->ncells; i++) {
		json_t *c = json_loadb((const char *)r->cells[i].json.data, r->cells[i].json.len, 0, &je);

		if (!c) {
			json_decref(doc);
			json_decref(cells);
			return cli_error(SD_EXIT_INTERNAL, "cell %s: bad JSON: %s", r->cells[i].c->id, je.text);
		}
		json_array_append_new(cells, c);
	}
	json_object_set_new(doc, "cells", cells);
	if (sd_mreport_summarize(doc) < 0) {
		json_decref(doc);
		return cli_error(SD_EXIT_INTERNAL, "cannot summarise the run");
	}
	*out = doc;
	return 0;
oom:
	json_decref(doc);
	json_decref(cells);
	return cli_error(SD_EXIT_INTERNAL, "out of memory");
}

static void run_free(struct run *r)
{
	for (size_t i = 0; i < r->ncells; i++)
		sd_buf_free(&r->cells[i].json);
	free(r->cells);
	free(r->chunks);
	free(r->profiles);
	free(r->clients);
	free(r->paths);
	free(r->servers);
	free(r->shapes);
	sd_matrix_free(&r->m);
}

int cmd_matrix(int argc, char **argv)
{
	enum { O_SHARD = 256, O_JSON, O_JUNIT, O_MD, O_HTML, O_PCAP, O_ONLY, O_LIST, O_DIFF, O_KEYLOG };
	static const struct option opts[] = {
		{ "jobs", required_argument, NULL, 'j' },
		{ "shard", required_argument, NULL, O_SHARD },
		{ "json", required_argument, NULL, O_JSON },
		{ "junit", required_argument, NULL, O_JUNIT },
		{ "markdown", required_argument, NULL, O_MD },
		{ "html", required_argument, NULL, O_HTML },
		{ "pcap-dir", required_argument, NULL, O_PCAP },
		{ "keylog", required_argument, NULL, O_KEYLOG },
		{ "only", required_argument, NULL, O_ONLY },
		{ "list", no_argument, NULL, O_LIST },
		{ "quiet", no_argument, NULL, 'q' },
		{ "diff", no_argument, NULL, O_DIFF },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct run r;
	struct outputs out = { 0 };
	const char *only = NULL, *name = "default";
	unsigned jobs = 0, shard_i = 1, shard_n = 1;
	bool list = false, diff = false, tty;
	pthread_t *th = NULL;
	json_t *doc = NULL;
	long long v;
	size_t lo, hi, nth = 0;
	int c, rc;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "j:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			v = cli_parse_num(optarg, 1, 256);
			if (v < 0)
				return cli_error(SD_EXIT_USAGE, "--jobs '%s': want 1-256", optarg);
			jobs = (unsigned)v;
			break;
		case O_SHARD:
			if (parse_shard(optarg, &shard_i, &shard_n) < 0)
				return cli_error(SD_EXIT_USAGE, "--shard '%s': want I/N with 1 <= I <= N", optarg);
			break;
		case O_JSON: out.json = optarg; break;
		case O_JUNIT: out.junit = optarg; break;
		case O_MD: out.markdown = optarg; break;
		case O_HTML: out.html = optarg; break;
		case O_PCAP: r.pcap_dir = optarg; break;
		case O_KEYLOG: r.keylog = optarg; break;
		case O_ONLY: only = optarg; break;
		case O_LIST: list = true; break;
		case 'q': out.quiet = true; break;
		case O_DIFF: diff = true; break;
		case 'h':
			fputs(matrix_usage, stdout);
			return SD_EXIT_OK;
		default:
			return cli_error(SD_EXIT_USAGE, "unknown or incomplete option '%s' (see 'shakedown matrix --help')",
					 argv[optind - 1]);
		}
	}
	if (diff) {
		if (argc - optind != 2)
			return cli_error(SD_EXIT_USAGE, "--diff takes two JSON files: OLD NEW");
		return do_diff(argv[optind], argv[optind + 1]);
	}
	if (argc - optind > 1)
		return cli_error(SD_EXIT_USAGE, "unexpected argument '%s'", argv[optind + 1]);
	if (optind < argc)
		name = argv[optind];
	if ((rc = load_matrix(&r, name)) != 0)
		return rc;
	if ((rc = resolve(&r)) != 0)
		goto out;
	/* The slice: cells [lo, hi) of the whole matrix, then --only. */
	lo = r.m.ncells * (shard_i - 1) / shard_n;
	hi = r.m.ncells * shard_i / shard_n;
	r.cells = calloc(hi - lo + 1, sizeof(*r.cells));
	if (!r.cells) {
		rc = cli_error(SD_EXIT_INTERNAL, "out of memory");
		goto out;
	}
	for (size_t i = lo; i < hi; i++) {
		if (only && fnmatch(only, r.m.cells[i].id, 0) != 0)
			continue;
		r.cells[r.ncells++].c = &r.m.cells[i];
	}
	if (list) {
		list_cells(&r);
		rc = SD_EXIT_OK;
		goto out;
	}
	/* Where the reports go, before hours of cells rather than after. */
	if ((rc = cli_check_output("--json", out.json)) != 0 ||
	    (rc = cli_check_output("--junit", out.junit)) != 0 ||
	    (rc = cli_check_output("--markdown", out.markdown)) != 0 ||
	    (rc = cli_check_output("--html", out.html)) != 0)
		goto out;
	for (size_t i = 0; i < r.ncells; i++) {
		char node[4096], why[600];
		const struct sd_matrix_cell *mc = r.cells[i].c;

		if (!sd_server_mode_is_node(r.servers[mc->server]))
			continue;
		if (sd_peer_node_find(node, sizeof(node), why, sizeof(why)) < 0) {
			rc = cli_error(SD_EXIT_ENV, "server %s: %s; install it with 'bash tools/setup-peers.sh'",
				       r.m.servers[mc->server].name, why);
			goto out;
		}
		break;
	}
	if (geteuid() != 0) {
		rc = cli_no_privilege();
		goto out;
	}
	/* A Node.js server in the plan and no Node: say so once, up front. */
	for (size_t i = 0; i < r.ncells; i++) {
		char node[4096], why[600];

		if (!sd_server_mode_is_node(r.servers[r.cells[i].c->server]))
			continue;
		if (sd_peer_node_find(node, sizeof(node), why, sizeof(why)) < 0) {
			rc = cli_error(SD_EXIT_ENV, "server %s needs Node.js 24 (run 'bash tools/setup-peers.sh'): %s",
				       r.m.servers[r.cells[i].c->server].name, why);
			goto out;
		}
		break;
	}
	if (!jobs) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		jobs = n > 0 ? (unsigned)n : 1;
	}
	if (r.pcap_dir && mkdir_p(r.pcap_dir) < 0) {
		rc = cli_error(SD_EXIT_USAGE, "--pcap-dir %s: %s", r.pcap_dir, strerror(errno));
		goto out;
	}
	if (plan_chunks(&r, jobs) < 0) {
		rc = cli_error(SD_EXIT_INTERNAL, "out of memory");
		goto out;
	}
	nth = jobs < r.nchunks ? jobs : r.nchunks;
	th = calloc(nth ? nth : 1, sizeof(*th));
	if (!th) {
		rc = cli_error(SD_EXIT_INTERNAL, "out of memory");
		goto out;
	}
	r.t0 = mono_ms();
	tty = isatty(2) && !out.quiet;
	for (size_t i = 0; i < nth; i++) {
		if (pthread_create(&th[i], NULL, worker, &r) != 0) {
			rc = cli_error(SD_EXIT_INTERNAL, "cannot start a worker thread");
			/* Those started finish the plan alone. */
			nth = i;
			break;
		}
	}
	if (!nth) {
		rc = SD_EXIT_INTERNAL;
		goto out;
	}
	while (tty && atomic_load(&r.done) < r.ncells) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };

		progress(&r, atomic_load(&r.done), false);
		nanosleep(&ts, NULL);
	}
	for (size_t i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	if (tty)
		progress(&r, r.ncells, true);
	if ((rc = build_doc(&r, jobs, shard_i, shard_n, &doc)) != 0)
		goto out;
	if ((rc = emit(doc, &out)) != 0)
		goto out;
	rc = doc_exit(doc);
out:
	json_decref(doc);
	free(th);
	run_free(&r);
	return rc;
}

int cmd_merge(int argc, char **argv)
{
	enum { O_JSON = 256, O_JUNIT, O_MD, O_HTML };
	static const struct option opts[] = {
		{ "json", required_argument, NULL, O_JSON },
		{ "junit", required_argument, NULL, O_JUNIT },
		{ "markdown", required_argument, NULL, O_MD },
		{ "html", required_argument, NULL, O_HTML },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct outputs out = { 0 };
	json_t **docs = NULL, *merged = NULL;
	char msg[512];
	size_t n = 0;
	int c, rc;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		switch (c) {
		case O_JSON: out.json = optarg; break;
		case O_JUNIT: out.junit = optarg; break;
		case O_MD: out.markdown = optarg; break;
		case O_HTML: out.html = optarg; break;
		case 'q': out.quiet = true; break;
		case 'h':
			fputs(merge_usage, stdout);
			return SD_EXIT_OK;
		default:
			return cli_error(SD_EXIT_USAGE, "unknown or incomplete option '%s' (see 'shakedown merge --help')",
					 argv[optind - 1]);
		}
	}
	if (optind == argc)
		return cli_error(SD_EXIT_USAGE, "no shard files (see 'shakedown merge --help')");
	docs = calloc((size_t)(argc - optind), sizeof(*docs));
	if (!docs)
		return cli_error(SD_EXIT_INTERNAL, "out of memory");
	for (int i = optind; i < argc; i++) {
		if ((rc = load_doc(argv[i], &docs[n])) != 0)
			goto out;
		n++;
	}
	if (sd_mreport_merge(docs, n, &merged, msg, sizeof(msg)) < 0) {
		rc = cli_error(SD_EXIT_USAGE, "%s", msg);
		goto out;
	}
	if ((rc = emit(merged, &out)) != 0)
		goto out;
	rc = doc_exit(merged);
out:
	for (size_t i = 0; i < n; i++)
		json_decref(docs[i]);
	free(docs);
	json_decref(merged);
	return rc;
}
