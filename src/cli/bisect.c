/* SPDX-License-Identifier: MIT */
/*
 * shakedown bisect: where a cell's outcome flips along one dimension
 * (ClientHello size, a link's MTU, the first segment's length, the gap
 * between segments), by running both ends of a range and then halving it.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cell.h"
#include "cli.h"
#include "rootless.h"
#include "shakedown/json.h"
#include "shakedown/lab.h"
#include "shakedown/path.h"
#include "shakedown/peer.h"
#include "shakedown/record.h"
#include "shakedown/report.h"
#include "shakedown/rng.h"
#include "shakedown/tls.h"

static const char bisect_usage[] =
	"usage: shakedown bisect --path PATH --over size|mtu|split|gap [options]\n"
	"\n"
	"Finds where a cell's outcome flips along one dimension: runs the two ends\n"
	"of a range, then halves it until two neighbouring values give different\n"
	"outcomes, in at most ceil(log2(HI-LO)) + 2 cells. Prints the threshold,\n"
	"the cells on either side of it (outcome, breaking hop, evidence) and every\n"
	"probe in order.\n"
	"\n"
	"dimensions (--over):\n"
	"  size    the ClientHello handshake message, in bytes, its 4-byte handshake\n"
	"          header included and the 5-byte TLS record header(s) NOT included\n"
	"          (what 'run --pad-to' takes), grown with the padding extension\n"
	"          (RFC 7685). The output also gives the handshake length field\n"
	"          (4 less) and the record-stream bytes (record headers included)\n"
	"          on both sides. Default range: the profile's smallest hello with\n"
	"          a padding extension .. 16384. Default profile: classic (small\n"
	"          enough to start below 1 KiB).\n"
	"  mtu     one link's MTU, in bytes: the path's narrowest link (ties: the\n"
	"          first hop's), or --link; a new lab per probe. Default range\n"
	"          576..1500 over IPv4, 1280..1500 over IPv6.\n"
	"  split   the first TCP segment's length in bytes (shape split@N; N = the\n"
	"          whole record stream means no cut). Default range 1..the stream.\n"
	"  gap     the delay between the flight's segments in ms (shape gap:MS).\n"
	"          Default range 0..500.\n"
	"\n"
	"options:\n"
	"  -P, --path PATH      network path ('shakedown list paths') or .ini file\n"
	"  -p, --profile P      handshake profile (default classic for size, else\n"
	"                       chrome-pq)\n"
	"      --over DIM       size, mtu, split or gap\n"
	"      --range LO:HI    the values to search, LO < HI\n"
	"      --link NAME      mtu: the link to vary: a hop's name (its link toward\n"
	"                       the server) or 'client' (the client's link)\n"
	"      --server S       as in 'shakedown run' (default openssl)\n"
	"      --shape BASE     the shape every probe starts from (see 'run --help');\n"
	"                       split adds its point to BASE's; gap must not be in it\n"
	"      --ipv6           over IPv6\n"
	"      --seed S         the same ClientHello bytes in every probe (default: a\n"
	"                       fresh seed, printed)\n"
	"      --confirm N      run both neighbouring cells N more times (1-10): a flip\n"
	"                       that does not repeat (a timer, loss) is reported and\n"
	"                       exits 1; these cells are not in the cells-run count\n"
	"      --json           print the search as JSON (docs/json.md)\n"
	"  -h, --help           this help\n"
	"\n"
	"Outcomes are compared by code (ok, reset, blackhole, ...): the low end's\n"
	"outcome A against anything else. Real paths need not be monotonic: the\n"
	"search finds A flip, where a value with outcome A neighbours one without;\n"
	"other flips may exist inside the range.\n"
	"\n"
	"exit: 0 a flip was found, 1 both ends gave the same outcome (no flip in the\n"
	"range) or --confirm did not reproduce it, 2 usage, 3 no privilege or a\n"
	"missing peer, 4 internal error (also when a probe's outcome is 'error').\n"
	"\n"
	"examples:\n"
	"  shakedown bisect --path sslsplit-1k --over size\n"
	"  shakedown bisect --path tunnel-1280-blackhole --over mtu --profile chrome-pq\n"
	"  shakedown bisect --path censor-first-record --over split --shape records:1000\n"
	"  shakedown bisect --path ats-blind-tunnel --over gap --range 0:100 --json\n";

enum dim { DIM_SIZE, DIM_MTU, DIM_SPLIT, DIM_GAP };

static const struct {
	const char *name, *unit, *what;
} dims[] = {
	[DIM_SIZE] = { "size", "bytes", "ClientHello message" },
	[DIM_MTU] = { "mtu", "bytes", "MTU" },
	[DIM_SPLIT] = { "split", "bytes", "first segment" },
	[DIM_GAP] = { "gap", "ms", "gap" },
};

#define MAX_PROBES 64
#define MAX_CONFIRM 10

struct probe {
	long long value;
	enum sd_outcome outcome;
	char breaking[48];
	char detail[512];
	size_t hello_len, stream_len;
};

struct bisect {
	enum dim dim;
	const struct sd_profile *profile;
	const struct sd_path *path;
	struct sd_lab_opts lo;
	size_t link;                    /* mtu: the link varied */
	struct sd_shape shape;          /* the base shape */
	const char *seed;
	struct sd_lab *lab;             /* shared by probes, except for mtu */
	struct probe probes[MAX_PROBES];
	size_t nprobes;
	/* --confirm: the neighbouring cells again, apart from the search */
	bool confirming;
	struct probe conf[2 * MAX_CONFIRM];
	size_t nconf;
	char err[512];
};

/* Runs the cell for value v into r (freed by the caller, also on error).
 * Returns 0 or an exit code after printing why. */
static int probe(struct bisect *b, long long v, struct sd_cell_result *r)
{
	static struct sd_path path;
	struct sd_hello_opts ho = { 0 };
	struct sd_cell cell = { .profile = b->profile, .hello_opts = &ho, .seed = b->seed,
				.shape = b->shape, .ipv6 = b->lo.ipv6 };
	struct sd_lab *lab = b->lab;
	struct probe *p;
	int ret, rc = SD_EXIT_INTERNAL;

	switch (b->dim) {
	case DIM_SIZE:
		ho.pad_to = (size_t)v;
		break;
	case DIM_SPLIT:
		cell.shape.split[cell.shape.nsplit].offset = (size_t)v;
		cell.shape.split[cell.shape.nsplit].field[0] = '\0';
		cell.shape.nsplit++;
		break;
	case DIM_GAP:
		cell.shape.gap_ms = (uint16_t)v;
		break;
	case DIM_MTU:
		path = *b->path;
		if (b->link == 0) {
			path.client_mtu = (unsigned)v;
		} else {
			path.hop[b->link - 1].mtu = (unsigned)v;
			path.hop[b->link - 1].given |= SD_BEH_MTU;
		}
		ret = sd_lab_open(&path, &b->lo, &lab, b->err, sizeof(b->err));
		if (ret < 0) {
			char msg[600];

			snprintf(msg, sizeof(msg), "mtu %lld: %s", v, b->err);
			return cli_lab_open_failed(ret, &b->lo, msg);
		}
		break;
	}
	ret = sd_lab_run(lab, &cell, r, b->err, sizeof(b->err));
	if (ret < 0) {
		rc = cli_error(ret == -SD_EVALUE ? SD_EXIT_USAGE : SD_EXIT_INTERNAL, "%s %lld: %s",
			       dims[b->dim].name, v, b->err);
		goto out;
	}
	if (r->v.outcome == SD_ERROR) {
		rc = cli_error(SD_EXIT_INTERNAL, "%s %lld: the harness failed: %s", dims[b->dim].name, v,
			       r->v.detail);
		goto out;
	}
	if (b->confirming && b->nconf < 2 * MAX_CONFIRM) {
		p = &b->conf[b->nconf++];
	} else if (!b->confirming && b->nprobes < MAX_PROBES) {
		p = &b->probes[b->nprobes++];
	} else {
		rc = cli_error(SD_EXIT_INTERNAL, "more than %d probes", MAX_PROBES);
		goto out;
	}
	p->value = v;
	p->outcome = r->v.outcome;
	snprintf(p->breaking, sizeof(p->breaking), "%s", r->v.breaking);
	snprintf(p->detail, sizeof(p->detail), "%s", r->v.detail);
	p->hello_len = r->hello_len;
	p->stream_len = r->flight_len;
	rc = SD_EXIT_OK;
out:
	if (b->dim == DIM_MTU)
		sd_lab_close(lab);
	return rc;
}

/* The hello as every probe builds it before padding: its unpadded message
 * size and its record stream with the base shape's records. */
static int hello_sizes(const struct sd_profile *prof, const char *seed, const struct sd_shape *s,
		       size_t *unpadded, size_t *stream)
{
	static struct sd_hello_state st;
	struct sd_buf msg = SD_BUF_INIT;
	struct sd_rng rng;
	size_t rec = s->records ? s->records : SD_RECORD_PLAIN_MAX;
	int ret;

	if ((ret = sd_rng_seed(&rng, seed)) < 0)
		return ret;
	ret = sd_hello_build(prof, NULL, &rng, &st, &msg);
	if (ret == 0) {
		*unpadded = st.unpadded_len;
		*stream = msg.len + SD_RECORD_HDR * ((msg.len + rec - 1) / rec);
	}
	sd_hello_state_clear(&st);
	sd_buf_free(&msg);
	return ret;
}

/* The largest first transmission of the client flight (TCP payload). */
static unsigned max_segment(const struct sd_cell_result *r)
{
	unsigned m = 0;

	for (size_t i = 0; i < r->client.nsegs; i++)
		if (!r->client.segs[i].retrans && r->client.segs[i].len > m)
			m = r->client.segs[i].len;
	return m;
}

static int ceil_log2(long long n)
{
	int k = 0;

	while ((1LL << k) < n)
		k++;
	return k;
}

static void size_text(struct sd_buf *out, const char *label, const struct probe *p)
{
	sd_buf_printf(out, "  %-6s %s: handshake message %zu bytes (header included; length field %zu), "
		      "record stream %zu bytes\n", label, sd_outcome_name(p->outcome), p->hello_len,
		      p->hello_len - 4, p->stream_len);
}

static void cell_text(struct sd_buf *out, const char *label, const struct probe *p,
		      const struct sd_cell_result *r, const char *unit)
{
	sd_buf_printf(out, "  %s %lld %s: %s", label, p->value, unit, sd_outcome_name(p->outcome));
	if (p->breaking[0])
		sd_buf_printf(out, " at %s", p->breaking);
	sd_buf_printf(out, "\n    evidence  %s\n    segments ", p->detail);
	for (size_t i = 0; i < r->client.nsegs; i++)
		if (!r->client.segs[i].retrans)
			sd_buf_printf(out, " %u", r->client.segs[i].len);
	sd_buf_printf(out, " (ClientHello %zu bytes, %zu on the wire)\n", r->hello_len, r->flight_len);
}

static void cell_json(struct sd_json *j, const struct bisect *b, const char *server,
		      const char *shape, const struct probe *p, const struct sd_cell_result *r)
{
	char sh[512] = "";

	/* The shape each probe really had, in run's words. */
	if (b->dim == DIM_SPLIT || b->dim == DIM_GAP) {
		struct sd_shape s = b->shape;

		if (b->dim == DIM_SPLIT) {
			s.split[s.nsplit].offset = (size_t)p->value;
			s.split[s.nsplit++].field[0] = '\0';
		} else {
			s.gap_ms = (uint16_t)p->value;
		}
		if (sd_shape_format(&s, sh, sizeof(sh)) < 0)
			sh[0] = '\0';
	}
	struct cli_cell_meta m = {
		.profile = b->profile->name, .path = b->path->name, .server = server,
		.shape = sh[0] ? sh : shape, .ipv6 = b->lo.ipv6, .expected = "any", .pass = true,
	};

	sd_json_obj_open(j);
	sd_json_kint(j, "value", p->value);
	sd_json_key(j, "cell");
	cli_cell_json(j, &m, r);
	sd_json_obj_close(j);
}

static int parse_range(const char *s, long long *lo, long long *hi)
{
	const char *colon = strchr(s, ':');
	char a[32];

	if (!colon || (size_t)(colon - s) >= sizeof(a))
		return -1;
	snprintf(a, sizeof(a), "%.*s", (int)(colon - s), s);
	*lo = cli_parse_num(a, 0, 1LL << 40);
	*hi = cli_parse_num(colon + 1, 0, 1LL << 40);
	return *lo < 0 || *hi < 0 ? -1 : 0;
}

/* mtu: the link to vary, by --link or the narrowest (ties: the first hop's). */
static int pick_link(const struct sd_path *p, const char *name, size_t *link)
{
	size_t best = SIZE_MAX;

	if (name) {
		if (!strcmp(name, "client")) {
			*link = 0;
			return 0;
		}
		for (size_t h = 0; h < p->nhops; h++)
			if (!strcmp(p->hop[h].name, name)) {
				*link = h + 1;
				return 0;
			}
		return -1;
	}
	for (size_t i = 1; i <= p->nhops; i++)
		if (best == SIZE_MAX || sd_path_link_mtu(p, i) < sd_path_link_mtu(p, best))
			best = i;
	if (sd_path_link_mtu(p, 0) < sd_path_link_mtu(p, best))
		best = 0;
	*link = best;
	return 0;
}

int cmd_bisect(int argc, char **argv)
{
	enum { O_OVER = 256, O_RANGE, O_LINK, O_SERVER, O_SHAPE, O_IPV6, O_SEED, O_JSON, O_CONFIRM };
	static const struct option opts[] = {
		{ "profile", required_argument, NULL, 'p' },
		{ "path", required_argument, NULL, 'P' },
		{ "over", required_argument, NULL, O_OVER },
		{ "range", required_argument, NULL, O_RANGE },
		{ "link", required_argument, NULL, O_LINK },
		{ "server", required_argument, NULL, O_SERVER },
		{ "shape", required_argument, NULL, O_SHAPE },
		{ "ipv6", no_argument, NULL, O_IPV6 },
		{ "seed", required_argument, NULL, O_SEED },
		{ "json", no_argument, NULL, O_JSON },
		{ "confirm", required_argument, NULL, O_CONFIRM },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct bisect b;
	static struct sd_profile profile;
	static struct sd_path path;
	/* Three results: the current low end, the current high end, the probe. */
	static struct sd_cell_result res[3];
	const char *profile_name = NULL, *path_name = NULL, *range = NULL, *link_name = NULL,
		   *server_name = "openssl", *shape_spec = "";
	struct sd_cell_result *rlo = &res[0], *rhi = &res[1], *rmid = &res[2];
	struct sd_buf out = SD_BUF_INIT;
	struct sd_rng rng;
	char seed[80] = "";
	long long lo = -1, hi = -1, min, max, dlo, dhi, confirm = 0;
	size_t unpadded = 0, stream = 0, ilo, ihi;
	bool json = false, over_set = false, flip, stable = true;
	int c, ret, rc = SD_EXIT_INTERNAL;

	memset(&b, 0, sizeof(b));
	memset(res, 0, sizeof(res));
	sd_shape_init(&b.shape);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "p:P:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': profile_name = optarg; break;
		case 'P': path_name = optarg; break;
		case O_OVER: {
			size_t d;

			for (d = 0; d < sizeof(dims) / sizeof(dims[0]); d++)
				if (!strcmp(optarg, dims[d].name))
					break;
			if (d == sizeof(dims) / sizeof(dims[0]))
				return cli_error(SD_EXIT_USAGE, "--over '%s': one of size, mtu, split, gap", optarg);
			b.dim = (enum dim)d;
			over_set = true;
			break;
		}
		case O_RANGE:
			range = optarg;
			if (parse_range(optarg, &lo, &hi) < 0)
				return cli_error(SD_EXIT_USAGE, "--range '%s': want LO:HI, two whole numbers", optarg);
			break;
		case O_LINK: link_name = optarg; break;
		case O_SERVER:
			if ((ret = cli_opt_server(optarg, &b.lo, &server_name)) != 0)
				return ret;
			break;
		case O_SHAPE:
			shape_spec = optarg;
			if (sd_shape_parse(optarg, &b.shape, b.err, sizeof(b.err)) < 0)
				return cli_error(SD_EXIT_USAGE, "--shape: %s", b.err);
			break;
		case O_IPV6: b.lo.ipv6 = true; break;
		case O_SEED:
			if (!*optarg || strlen(optarg) > 72)
				return cli_error(SD_EXIT_USAGE, "--seed: want 1-72 characters");
			snprintf(seed, sizeof(seed), "%s", optarg);
			break;
		case O_JSON: json = true; break;
		case O_CONFIRM:
			confirm = cli_parse_num(optarg, 1, MAX_CONFIRM);
			if (confirm < 0)
				return cli_error(SD_EXIT_USAGE, "--confirm '%s': want 1-%d runs of each side", optarg,
						 MAX_CONFIRM);
			break;
		case 'h':
			fputs(bisect_usage, stdout);
			return SD_EXIT_OK;
		default:
			return cli_error(SD_EXIT_USAGE, "unknown or incomplete option '%s' (see 'shakedown bisect --help')",
					 argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_error(SD_EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
	if (!path_name)
		return cli_error(SD_EXIT_USAGE, "--path is required (see 'shakedown bisect --help')");
	if (!over_set)
		return cli_error(SD_EXIT_USAGE, "--over is required: size, mtu, split or gap");
	if (link_name && b.dim != DIM_MTU)
		return cli_error(SD_EXIT_USAGE, "--link goes with --over mtu only");
	if (b.dim == DIM_GAP && b.shape.gap_ms)
		return cli_error(SD_EXIT_USAGE, "--shape: gap is what --over gap varies; leave it out");
	if (b.dim == DIM_SPLIT && b.shape.nsplit == SD_SHAPE_MAX_SPLITS)
		return cli_error(SD_EXIT_USAGE, "--shape: no room for one more split point");
	if (!profile_name)
		profile_name = b.dim == DIM_SIZE ? "classic" : "chrome-pq";
	if ((ret = cli_load_profile(profile_name, &profile)) != 0)
		return ret;
	if ((ret = cli_load_path(path_name, &path)) != 0 ||
	    (ret = cli_check_exec_hops(path_name, &path)) != 0)
		return ret;
	if (b.lo.ipv6) {
		struct sd_path_error perr;

		if (sd_path_check_ipv6(&path, &perr) < 0)
			return cli_error(SD_EXIT_USAGE, "--ipv6 with path %s: %s", path.name, perr.msg);
	}
	/* One seed for every probe: only the dimension changes between them. */
	ret = seed[0] ? sd_rng_seed(&rng, seed) : sd_rng_fresh(&rng);
	if (ret < 0)
		return cli_error(SD_EXIT_INTERNAL, "seeding: %s", sd_strerror(ret));
	snprintf(seed, sizeof(seed), "%s", rng.seed);
	if ((ret = hello_sizes(&profile, seed, &b.shape, &unpadded, &stream)) < 0)
		return cli_error(SD_EXIT_USAGE, "profile %s: building its ClientHello: %s", profile.name,
				 sd_strerror(ret));

	/* Each dimension's bounds and default range. */
	switch (b.dim) {
	case DIM_SIZE:
		/* RFC 7685 §3: the padding extension costs 4 bytes at least. */
		min = (long long)unpadded + 4, max = 65535;
		dlo = min, dhi = 16384;
		break;
	case DIM_MTU:
		if (pick_link(&path, link_name, &b.link) < 0)
			return cli_error(SD_EXIT_USAGE, "--link '%s': not a hop of path %s, nor 'client'",
					 link_name, path.name);
		min = b.lo.ipv6 ? SD_PATH_MTU_IPV6 : SD_PATH_MTU_MIN, max = SD_PATH_MTU_MAX;
		dlo = b.lo.ipv6 ? SD_PATH_MTU_IPV6 : 576;
		dhi = sd_path_link_mtu(&path, b.link) > 1500 ? sd_path_link_mtu(&path, b.link) : 1500;
		break;
	case DIM_SPLIT:
		min = 1, max = (long long)stream;
		dlo = min, dhi = max;
		break;
	case DIM_GAP:
	default:
		min = 0, max = SD_SHAPE_GAP_MAX_MS;
		dlo = 0, dhi = 500;
		break;
	}
	if (!range)
		lo = dlo, hi = dhi;
	if (lo >= hi)
		return cli_error(SD_EXIT_USAGE, "--range %lld:%lld: want LO < HI", lo, hi);
	if (lo < min || hi > max) {
		char msg[200];

		if (b.dim == DIM_SIZE)
			snprintf(msg, sizeof(msg), "ClientHello sizes of profile %s run from %lld (its smallest "
				 "with a padding extension) to %lld bytes", profile.name, min, max);
		else if (b.dim == DIM_SPLIT)
			snprintf(msg, sizeof(msg), "split points of profile %s's hello run from %lld to %lld bytes "
				 "(its record stream)", profile.name, min, max);
		else if (b.dim == DIM_MTU)
			snprintf(msg, sizeof(msg), "link MTUs run from %lld to %lld bytes", min, max);
		else
			snprintf(msg, sizeof(msg), "gaps run from %lld to %lld ms", min, max);
		return cli_error(SD_EXIT_USAGE, "--range %lld:%lld: %s%s", lo, hi, msg,
				 b.dim == DIM_MTU && b.lo.ipv6 ? " over IPv6" : "");
	}
	if ((ret = cli_lab_ready(&b.lo, server_name)) != 0)
		return ret;

	b.profile = &profile;
	b.path = &path;
	b.seed = seed;
	if (b.dim != DIM_MTU) {
		ret = sd_lab_open(&path, &b.lo, &b.lab, b.err, sizeof(b.err));
		if (ret < 0) {
			rc = cli_lab_open_failed(ret, &b.lo, b.err);
			goto out;
		}
	}

	/* The two ends first, then halve: outcome A at lo, anything else at hi. */
	if ((rc = probe(&b, lo, rlo)) != 0 || (rc = probe(&b, hi, rhi)) != 0)
		goto out;
	ilo = 0, ihi = 1;
	flip = b.probes[0].outcome != b.probes[1].outcome;
	while (flip && hi - lo > 1) {
		long long mid = lo + (hi - lo) / 2;
		struct sd_cell_result *t;

		sd_cell_result_free(rmid);
		memset(rmid, 0, sizeof(*rmid));
		if ((rc = probe(&b, mid, rmid)) != 0)
			goto out;
		if (b.probes[b.nprobes - 1].outcome == b.probes[ilo].outcome) {
			lo = mid, ilo = b.nprobes - 1;
			t = rlo, rlo = rmid, rmid = t;
		} else {
			hi = mid, ihi = b.nprobes - 1;
			t = rhi, rhi = rmid, rmid = t;
		}
	}

	/* The neighbours again: a flip that does not repeat is not one. */
	b.confirming = true;
	for (long long k = 0; flip && k < confirm; k++) {
		for (int side = 0; side < 2; side++) {
			const struct probe *want = &b.probes[side ? ihi : ilo];

			sd_cell_result_free(rmid);
			memset(rmid, 0, sizeof(*rmid));
			if ((rc = probe(&b, want->value, rmid)) != 0)
				goto out;
			if (b.conf[b.nconf - 1].outcome != want->outcome)
				stable = false;
		}
	}

	const struct probe *plo = &b.probes[ilo], *phi = &b.probes[ihi];
	const char *unit = dims[b.dim].unit;
	long long range_lo = b.probes[0].value, range_hi = b.probes[1].value;
	int bound = ceil_log2(range_hi - range_lo) + 2;

	if (json) {
		struct sd_json j;

		sd_json_init(&j, &out, true);
		sd_json_obj_open(&j);
		sd_json_kstr(&j, "dimension", dims[b.dim].name);
		sd_json_kstr(&j, "unit", unit);
		sd_json_kstr(&j, "profile", profile.name);
		sd_json_kstr(&j, "path", path.name);
		sd_json_kstr(&j, "server", server_name);
		sd_json_kbool(&j, "rootless", cli_rootless_active());
		sd_json_kstr(&j, "shape", shape_spec[0] ? shape_spec : "default");
		sd_json_kstr(&j, "family", b.lo.ipv6 ? "ipv6" : "ipv4");
		sd_json_kstr(&j, "seed", seed);
		if (b.dim == DIM_MTU) {
			sd_json_kstr(&j, "link", b.link ? path.hop[b.link - 1].name : "client");
			sd_json_kint(&j, "link_index", (long long)b.link);
		}
		sd_json_key(&j, "range");
		sd_json_arr_open(&j);
		sd_json_int(&j, range_lo);
		sd_json_int(&j, range_hi);
		sd_json_arr_close(&j);
		sd_json_kbool(&j, "flip", flip);
		sd_json_key(&j, "threshold");
		if (flip)
			sd_json_int(&j, phi->value);
		else
			sd_json_null(&j);
		if (b.dim == DIM_SIZE && flip) {
			sd_json_key(&j, "threshold_sizes");
			sd_json_obj_open(&j);
			sd_json_kint(&j, "handshake_message_bytes", (long long)phi->hello_len);
			sd_json_kint(&j, "handshake_length", (long long)phi->hello_len - 4);
			sd_json_kint(&j, "stream_bytes", (long long)phi->stream_len);
			sd_json_kint(&j, "below_stream_bytes", (long long)plo->stream_len);
			sd_json_obj_close(&j);
		}
		if (b.dim == DIM_MTU && flip) {
			unsigned seg = max_segment(rhi), hdr = b.lo.ipv6 ? 60 : 40;

			sd_json_key(&j, "threshold_packet");
			sd_json_obj_open(&j);
			sd_json_kint(&j, "largest_segment", seg);
			sd_json_kint(&j, "header_bytes", hdr);
			sd_json_kint(&j, "largest_packet", seg + hdr);
			sd_json_obj_close(&j);
		}
		sd_json_kstr(&j, "lo_outcome", sd_outcome_name(plo->outcome));
		sd_json_kstr(&j, "hi_outcome", sd_outcome_name(phi->outcome));
		sd_json_key(&j, "lo");
		cell_json(&j, &b, server_name, shape_spec[0] ? shape_spec : "default", plo, rlo);
		sd_json_key(&j, "hi");
		cell_json(&j, &b, server_name, shape_spec[0] ? shape_spec : "default", phi, rhi);
		sd_json_kint(&j, "cells_run", (long long)b.nprobes);
		if (confirm && flip) {
			sd_json_key(&j, "confirm");
			sd_json_obj_open(&j);
			sd_json_kint(&j, "runs", confirm);
			sd_json_kbool(&j, "stable", stable);
			for (int side = 0; side < 2; side++) {
				sd_json_key(&j, side ? "hi_outcomes" : "lo_outcomes");
				sd_json_arr_open(&j);
				for (size_t i = (size_t)side; i < b.nconf; i += 2)
					sd_json_str(&j, sd_outcome_name(b.conf[i].outcome));
				sd_json_arr_close(&j);
			}
			sd_json_obj_close(&j);
		}
		sd_json_kint(&j, "max_cells", bound);
		sd_json_key(&j, "probes");
		sd_json_arr_open(&j);
		for (size_t i = 0; i < b.nprobes; i++) {
			const struct probe *p = &b.probes[i];

			sd_json_obj_open(&j);
			sd_json_kint(&j, "value", p->value);
			sd_json_kstr(&j, "outcome", sd_outcome_name(p->outcome));
			sd_json_kstr(&j, "breaking", p->breaking[0] ? p->breaking : NULL);
			sd_json_kstr(&j, "detail", p->detail);
			sd_json_kint(&j, "clienthello_bytes", (long long)p->hello_len);
			sd_json_kint(&j, "stream_bytes", (long long)p->stream_len);
			sd_json_obj_close(&j);
		}
		sd_json_arr_close(&j);
		sd_json_obj_close(&j);
	} else {
		sd_buf_printf(&out, "bisect %s: %s through %s to %s%s%s%s (seed %s)\n", dims[b.dim].name,
			      profile.name, path.name, server_name, b.lo.ipv6 ? " over IPv6" : "",
			      shape_spec[0] ? ", shape " : "", shape_spec, seed);
		if (b.dim == DIM_SIZE)
			sd_buf_printf(&out, "  size = the ClientHello handshake message with its 4-byte header, "
				      "without the 5-byte TLS record header(s)\n");
		if (b.dim == DIM_MTU)
			sd_buf_printf(&out, "  mtu of link %zu (%s)\n", b.link,
				      b.link ? path.hop[b.link - 1].name : "the client's");
		for (size_t i = 0; i < b.nprobes; i++) {
			const struct probe *p = &b.probes[i];

			sd_buf_printf(&out, "  probe %2zu  %s %-6lld %s%s%s\n", i + 1, dims[b.dim].name, p->value,
				      sd_outcome_name(p->outcome), p->breaking[0] ? " at " : "", p->breaking);
		}
		if (!flip) {
			sd_buf_printf(&out, "no flip in %lld..%lld %s: both ends %s\n", range_lo, range_hi, unit,
				      sd_outcome_name(plo->outcome));
		} else {
			sd_buf_printf(&out, "threshold: %s %lld %s: %s at %lld, %s from %lld\n", dims[b.dim].what,
				      phi->value, unit, sd_outcome_name(plo->outcome), plo->value,
				      sd_outcome_name(phi->outcome), phi->value);
			if (b.dim == DIM_SIZE) {
				size_text(&out, "below", plo);
				size_text(&out, "at", phi);
			}
			if (b.dim == DIM_MTU) {
				unsigned seg = max_segment(rhi), hdr = b.lo.ipv6 ? 60 : 40;

				sd_buf_printf(&out, "  the client's largest packet: a %u-byte segment + %u bytes of IP and TCP "
					      "headers = %u bytes\n", seg, hdr, seg + hdr);
			}
		}
		cell_text(&out, "low ", plo, rlo, unit);
		cell_text(&out, "high", phi, rhi, unit);
		sd_buf_printf(&out, "%zu cells run (at most ceil(log2(%lld)) + 2 = %d)\n", b.nprobes,
			      range_hi - range_lo, bound);
		if (confirm && flip) {
			sd_buf_printf(&out, "%s: each side run %lld more time%s:", stable ? "confirmed" :
				      "NOT reproduced", confirm, confirm == 1 ? "" : "s");
			for (size_t i = 0; i < b.nconf; i++)
				sd_buf_printf(&out, " %lld %s%s", b.conf[i].value, sd_outcome_name(b.conf[i].outcome),
					      i + 1 < b.nconf ? "," : "\n");
		}
	}
	if (sd_buf_error(&out) < 0 || cli_stdout(&out) < 0) {
		rc = cli_error(SD_EXIT_INTERNAL, "cannot write the report");
		goto out;
	}
	rc = flip && stable ? SD_EXIT_OK : SD_EXIT_FAIL;
out:
	for (size_t i = 0; i < 3; i++)
		sd_cell_result_free(&res[i]);
	sd_lab_close(b.lab);
	sd_buf_free(&out);
	return rc;
}
