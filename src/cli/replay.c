/* SPDX-License-Identifier: MIT */
/* shakedown replay: a capture's TLS client flights sent again through a lab path. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cell.h"
#include "cli.h"
#include "rootless.h"
#include "shakedown/json.h"
#include "shakedown/lab.h"
#include "shakedown/path.h"
#include "shakedown/pkt.h"
#include "shakedown/replay.h"
#include "shakedown/report.h"

static const char replay_usage[] =
	"usage: shakedown replay CAPTURE --path PATH [options]\n"
	"\n"
	"Reproduces a field failure from a capture: finds every TLS connection's\n"
	"client flight in CAPTURE (pcap or pcapng: Ethernet, VLAN, Linux cooked\n"
	"SLL/SLL2, raw IP; IPv4 or IPv6), the ClientHello records and, where the\n"
	"server asked for a HelloRetryRequest, the second ClientHello; then sends\n"
	"each one through PATH from the user-space client with the captured TCP\n"
	"segment boundaries and the pauses between them, and judges it like 'run'.\n"
	"A boundary the capture path's MSS made (the segment before it was full:\n"
	"1228+703 under MSS 1228) is re-made at this path's MSS, as the client's TCP\n"
	"stack would cut on it (1460+471 under MSS 1460); --exact keeps it. Every\n"
	"other boundary (a short segment: a separate write, a split hello; a full\n"
	"one followed by a pause of 1 ms or more) is kept.\n"
	"Retransmitted and overlapping segments count once (the first transmission's\n"
	"boundaries), out-of-order ones are put back in order, offload super-frames\n"
	"(GSO/TSO) are cut at the connection's MSS. Pauses longer than 2000 ms are\n"
	"shortened to 2000 ms (and flagged). The harness has no keys for a captured\n"
	"hello: a connection is ok when the server's ServerHello and its whole flight\n"
	"reached the client (the handshake would complete).\n"
	"\n"
	"options:\n"
	"  -P, --path PATH      network path ('shakedown list paths') or .ini file\n"
	"      --server S       TLS server in the lab: openssl (default), single-read,\n"
	"                       node-pq, node-pq-only, node-pq-hrr, nginx, openssl-p256\n"
	"                       (see 'run --help')\n"
	"      --reshape SPEC   replace the captured segmentation with a --shape SPEC\n"
	"                       (mss, split@N, split@FIELD, records:SIZE, gap:MS, ...);\n"
	"                       the JSON's flight.segments says what was sent\n"
	"      --exact          keep every captured boundary, also those the capture\n"
	"                       path's MSS made (the exact bytes of each captured segment)\n"
	"      --ipv6           over IPv6 (automatic when every connection in the\n"
	"                       capture is IPv6 and PATH can carry IPv6)\n"
	"      --expect LIST    outcomes that count as a pass, comma-separated\n"
	"                       (e.g. ok,ok-hrr or blackhole); without it every outcome\n"
	"                       but error passes: the verdicts are the report\n"
	"      --seed S         reproducible sequence numbers and middlebox choices\n"
	"      --pcap-dir DIR   pcaps per interface for each connection, DIR/conn-N/\n"
	"      --keylog FILE    the lab server's NSS key log (Wireshark decrypts its side)\n"
	"      --json           JSON (docs/json.md): capture, path, server, connections\n"
	"  -h, --help           this help\n"
	"\n"
	"exit: 0 every connection met --expect (without --expect: always, unless an\n"
	"outcome is error), 1 one did not, 2 usage or a bad capture (empty, truncated,\n"
	"not pcap, cut by snaplen, no ClientHello: one line, nothing built), 3 no\n"
	"privilege (root or CAP_NET_ADMIN + CAP_SYS_ADMIN), 4 internal error.\n"
	"\n"
	"examples:\n"
	"  shakedown replay user-report.pcapng --path tunnel-1280-blackhole\n"
	"  shakedown replay chrome.pcap --path clean --reshape mss --json\n"
	"  shakedown replay chrome.pcap --path mss-536 --expect ok --pcap-dir /tmp/replay\n";

#define MAX_INPUT (256u << 20)

static void endpoint(uint8_t family, const uint8_t *a, uint16_t port, char *out, size_t n)
{
	char s[SD_ADDR_STRLEN];

	if (sd_addr_format(family, a, s, sizeof(s)) < 0)
		snprintf(s, sizeof(s), "?");
	snprintf(out, n, family == 6 ? "[%s]:%u" : "%s:%u", s, port);
}

static void gaps_text(const struct sd_replay_flight *f, char *out, size_t n)
{
	size_t w = 0;

	out[0] = 0;
	for (size_t i = 1; i < f->nseg && w < n; i++) {
		int k = snprintf(out + w, n - w, "%s%.3g", i > 1 ? "+" : "", f->seg[i].gap_us / 1000.0);

		if (k < 0)
			break;
		w += (size_t)k;
	}
	if (!out[0])
		snprintf(out, n, "-");
}

static void flight_json(struct sd_json *j, const struct sd_replay_flight *f)
{
	sd_json_key(j, "segments");
	sd_json_arr_open(j);
	for (size_t i = 0; i < f->nseg; i++)
		sd_json_int(j, f->seg[i].len);
	sd_json_arr_close(j);
	sd_json_key(j, "gaps_ms");
	sd_json_arr_open(j);
	for (size_t i = 1; i < f->nseg; i++)
		sd_json_milli(j, f->seg[i].gap_us);
	sd_json_arr_close(j);
}

struct conn_head {
	const struct sd_replay_conn *c;
	size_t index;
	size_t mss_cuts;            /* capture-MSS boundaries left to the lab's MSS */
	bool exact;
	const char *path, *server, *reshape;
	const struct sd_cell_result *r;
};

/* The captured connection's own keys, first in its JSON object. */
static void conn_head_json(struct sd_json *j, const void *ctx)
{
	const struct conn_head *h = ctx;
	const struct sd_replay_conn *c = h->c;
	char a[80];

	sd_json_kint(j, "index", (long long)h->index);
	sd_json_kint(j, "flow", (long long)c->flow + 1);
	endpoint(c->family, c->client, c->cport, a, sizeof(a));
	sd_json_kstr(j, "client", a);
	endpoint(c->family, c->server, c->sport, a, sizeof(a));
	sd_json_kstr(j, "server", a);
	sd_json_kstr(j, "sni", c->sni[0] ? c->sni : NULL);
	sd_json_kint(j, "hello_len", c->hello_len >= 4 ? (long long)c->hello_len - 4 : 0);
	sd_json_kint(j, "hello_wire_bytes", (long long)c->first.len);
	sd_json_key(j, "records");
	sd_json_arr_open(j);
	for (size_t i = 0; i < c->nrecords; i++)
		sd_json_int(j, c->record_len[i]);
	sd_json_arr_close(j);
	flight_json(j, &c->first);
	sd_json_kbool(j, "gaps_capped", c->gaps_capped);
	sd_json_kint(j, "mss", c->mss);
	sd_json_kbool(j, "exact", h->exact);
	sd_json_kint(j, "mss_cuts_remade", (long long)h->mss_cuts);
	sd_json_kint(j, "retransmissions", c->retransmissions);
	sd_json_kint(j, "out_of_order", c->out_of_order);
	sd_json_kint(j, "gso_frames", c->gso_frames);
	sd_json_kbool(j, "hrr", c->hrr);
	{
		char tmp[32];

		sd_json_kstr(j, "hrr_group", c->hrr && c->hrr_group ?
			     cli_group_label(c->hrr_group, tmp, sizeof(tmp)) : NULL);
	}
	sd_json_key(j, "retry");
	if (c->has_retry) {
		sd_json_obj_open(j);
		sd_json_kint(j, "hello_len", c->hello2_len >= 4 ? (long long)c->hello2_len - 4 : 0);
		sd_json_kint(j, "wire_bytes", (long long)c->retry.len);
		flight_json(j, &c->retry);
		/* The client's pause between the HelloRetryRequest and its answer. */
		sd_json_key(j, "answer_ms");
		sd_json_milli(j, c->retry.nseg ? c->retry.seg[0].gap_us : 0);
		/* What the engine sent of it, if the lab's server asked too. */
		sd_json_key(j, "sent_segments");
		sd_json_arr_open(j);
		for (size_t i = 0; i < h->r->eng.nseg; i++)
			if (h->r->eng.seg[i].off >= h->r->flight_len &&
			    !(h->r->eng.seg[i].flags & (SD_SEG_RETX | SD_SEG_DUP)) &&
			    h->r->eng.seg[i].off < h->r->flight_len + c->retry.len)
				sd_json_int(j, h->r->eng.seg[i].len);
		sd_json_arr_close(j);
		sd_json_obj_close(j);
	} else {
		sd_json_null(j);
	}
	sd_json_kstr(j, "reshape", h->reshape);
	sd_json_key(j, "sent_segments");
	sd_json_arr_open(j);
	for (size_t i = 0; i < h->r->client.nsegs; i++)
		if (!h->r->client.segs[i].retrans)
			sd_json_int(j, h->r->client.segs[i].len);
	sd_json_arr_close(j);
	sd_json_kstr(j, "path", h->path);
	sd_json_kstr(j, "server_mode", h->server);
	sd_json_kstr(j, "client_kind", "engine");
}

/* Comma-separated outcomes into a set; -1 on a bad name. */
static int parse_expect(const char *s, bool *set)
{
	char buf[256], *save = NULL;
	int n = 0;

	if (strlen(s) >= sizeof(buf))
		return -1;
	snprintf(buf, sizeof(buf), "%s", s);
	for (char *w = strtok_r(buf, ",|", &save); w; w = strtok_r(NULL, ",|", &save)) {
		enum sd_outcome o;

		if (sd_outcome_parse(w, &o) < 0)
			return -1;
		set[o] = true;
		n++;
	}
	return n ? 0 : -1;
}

/* Segments this close together left in one burst (one write cut by TCP). */
#define MSS_CUT_MAX_GAP_US 1000u

/*
 * Whether the cut before segment i of a flight was made by the capture
 * path's MSS: the segment before it was full. Such a cut belongs to the
 * path the capture was taken on, not to the client: on the lab's path the
 * client's TCP stack would fill segments to this path's MSS instead.
 */
static bool mss_cut(const struct sd_replay_conn *c, const struct sd_replay_flight *f, size_t i)
{
	/* A full segment followed by a pause is still the client's own cut:
	 * what came after was not there yet (a later write). */
	return c->mss && i > 0 && f->seg[i - 1].len == c->mss && f->seg[i].gap_us < MSS_CUT_MAX_GAP_US;
}

/*
 * The cut points and pauses of a planned connection, both flights. Unless
 * exact, the capture path's MSS cuts are left out (the engine cuts at the
 * lab's MSS); *dropped counts them.
 */
static size_t plan_cuts(const struct sd_replay_conn *c, bool exact, size_t *cuts, uint32_t *gaps,
			size_t *dropped)
{
	const struct sd_replay_flight *fl[2] = { &c->first, &c->retry };
	size_t n = 0;

	*dropped = 0;
	for (int f = 0; f < (c->has_retry ? 2 : 1); f++)
		for (size_t i = 0; i < fl[f]->nseg; i++) {
			if (!fl[f]->seg[i].off)
				continue;
			if (!exact && mss_cut(c, fl[f], i)) {
				(*dropped)++;
				continue;
			}
			cuts[n] = fl[f]->seg[i].off;
			gaps[n++] = fl[f]->seg[i].gap_us;
		}
	return n;
}

int cmd_replay(int argc, char **argv)
{
	enum { O_SERVER = 256, O_RESHAPE, O_IPV6, O_EXPECT, O_PCAP, O_KEYLOG, O_JSON, O_SEED, O_EXACT };
	static const struct option opts[] = {
		{ "path", required_argument, NULL, 'P' },
		{ "server", required_argument, NULL, O_SERVER },
		{ "reshape", required_argument, NULL, O_RESHAPE },
		{ "ipv6", no_argument, NULL, O_IPV6 },
		{ "exact", no_argument, NULL, O_EXACT },
		{ "expect", required_argument, NULL, O_EXPECT },
		{ "pcap-dir", required_argument, NULL, O_PCAP },
		{ "keylog", required_argument, NULL, O_KEYLOG },
		{ "json", no_argument, NULL, O_JSON },
		{ "seed", required_argument, NULL, O_SEED },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path_name = NULL, *reshape = NULL, *expect = NULL, *pcap_dir = NULL,
		   *server_name = "openssl", *file, *seed = NULL;
	static struct sd_path path;
	static struct sd_cell_result r;
	static struct sd_replay_plan plan;
	struct sd_shape shape;
	struct sd_lab_opts lo = { 0 };
	struct sd_lab *lab = NULL;
	struct sd_buf out = SD_BUF_INIT, rows = SD_BUF_INIT;
	struct sd_json j;
	bool want[SD_OUTCOME_MAX] = { false }, json = false, ipv6 = false, all6 = true, exact = false;
	char err[512] = "";
	uint8_t *data = NULL;
	size_t len, failed = 0, errors = 0;
	int c, ret, rc = SD_EXIT_INTERNAL;

	sd_shape_init(&shape);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "P:h", opts, NULL)) != -1) {
		switch (c) {
		case 'P': path_name = optarg; break;
		case O_SERVER:
			if ((ret = cli_opt_server(optarg, &lo, &server_name)) != 0)
				return ret;
			break;
		case O_RESHAPE:
			reshape = optarg;
			if (sd_shape_parse(optarg, &shape, err, sizeof(err)) < 0)
				return cli_error(SD_EXIT_USAGE, "--reshape: %s", err);
			break;
		case O_IPV6: ipv6 = true; break;
		case O_EXACT: exact = true; break;
		case O_EXPECT:
			if (parse_expect(optarg, want) < 0)
				return cli_error(SD_EXIT_USAGE, "--expect '%s': want outcomes separated by commas (see --help)",
						 optarg);
			expect = optarg;
			break;
		case O_PCAP: pcap_dir = optarg; break;
		case O_KEYLOG: lo.keylog_path = optarg; break;
		case O_JSON: json = true; break;
		case O_SEED:
			if (!*optarg || strlen(optarg) > 64)
				return cli_error(SD_EXIT_USAGE, "--seed: want 1-64 characters");
			seed = optarg;
			break;
		case 'h':
			fputs(replay_usage, stdout);
			return SD_EXIT_OK;
		default:
			return cli_error(SD_EXIT_USAGE, "unknown or incomplete option '%s' (see 'shakedown replay --help')",
					 argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return cli_error(SD_EXIT_USAGE, optind < argc ? "want one CAPTURE, got '%s' too" :
				 "want a CAPTURE file (see 'shakedown replay --help')",
				 optind < argc ? argv[argc - 1] : "");
	file = argv[optind];
	if (!path_name)
		return cli_error(SD_EXIT_USAGE, "--path is required (see 'shakedown replay --help')");
	if (exact && reshape)
		return cli_error(SD_EXIT_USAGE, "--exact keeps the captured segments, --reshape replaces them: not both");
	if (lo.keylog_path && lo.server_mode == SD_SERVER_NGINX)
		return cli_error(SD_EXIT_USAGE, "--keylog: nginx has no hook for a key log (use --server openssl or node-pq)");
	if ((ret = cli_check_output("--keylog", lo.keylog_path)) != 0)
		return ret;

	/* The capture first: a bad one costs nothing. */
	ret = cli_read_file(file, MAX_INPUT, &data, &len);
	if (ret == -EFBIG)
		return cli_error(SD_EXIT_USAGE, "%s: larger than 256 MiB", file);
	if (ret < 0)
		return cli_error(SD_EXIT_USAGE, "cannot read %s: %s", file, sd_strerror(ret));
	ret = sd_replay_plan_build(data, len, &plan, err, sizeof(err));
	free(data);
	if (ret == -ENOMEM)
		return cli_error(SD_EXIT_INTERNAL, "%s: out of memory", file);
	if (ret < 0)
		return cli_error(SD_EXIT_USAGE, "%s: %s", file, err);

	if ((ret = cli_load_path(path_name, &path)) != 0 ||
	    (ret = cli_check_exec_hops(path_name, &path)) != 0)
		goto out_plan;
	for (size_t i = 0; i < plan.n; i++)
		all6 &= plan.conns[i].family == 6;
	if (ipv6 || all6) {
		struct sd_path_error perr;

		if (sd_path_check_ipv6(&path, &perr) < 0) {
			if (ipv6) {
				ret = cli_error(SD_EXIT_USAGE, "--ipv6 with path %s: %s", path.name, perr.msg);
				goto out_plan;
			}
		} else {
			ipv6 = true;
		}
	}
	lo.ipv6 = ipv6;
	if ((ret = cli_lab_ready(&lo, server_name)) != 0)
		goto out_plan;
	if (pcap_dir && mkdir(pcap_dir, 0755) < 0 && errno != EEXIST) {
		ret = cli_error(SD_EXIT_USAGE, "cannot create %s: %s", pcap_dir, strerror(errno));
		goto out_plan;
	}
	if (!expect)
		for (int o = 0; o < SD_OUTCOME_MAX; o++)
			want[o] = o != SD_ERROR;

	ret = sd_lab_open(&path, &lo, &lab, err, sizeof(err));
	if (ret < 0) {
		rc = cli_lab_open_failed(ret, &lo, err);
		goto out;
	}

	sd_json_init(&j, &out, true);
	if (json) {
		sd_json_obj_open(&j);
		sd_json_kstr(&j, "capture", file);
		sd_json_kstr(&j, "path", path.name);
		sd_json_kstr(&j, "server", server_name);
		sd_json_kstr(&j, "family", ipv6 ? "ipv6" : "ipv4");
		sd_json_kstr(&j, "reshape", reshape);
		sd_json_kbool(&j, "rootless", cli_rootless_active());
		sd_json_kstr(&j, "expected", expect ? expect : "any");
		sd_json_kint(&j, "flows", (long long)plan.flows);
		sd_json_kint(&j, "incomplete", (long long)plan.incomplete);
		sd_json_kint(&j, "gap_max_ms", SD_REPLAY_GAP_MAX_US / 1000);
		sd_json_key(&j, "connections");
		sd_json_arr_open(&j);
	} else {
		sd_buf_printf(&out, "%s: %zu TLS connection%s of %zu, replayed through %s to %s%s%s%s\n\n",
			      file, plan.n, plan.n == 1 ? "" : "s", plan.flows, path.name, server_name,
			      ipv6 ? " over IPv6" : "", reshape ? ", reshaped " : "", reshape ? reshape : "");
		sd_buf_printf(&rows, "%-3s %-44s %-20s %6s %-14s %-10s %-4s %-11s %-14s %s\n", "#",
			      "client > server", "sni", "hello", "segments", "gaps ms", "hrr", "outcome", "sent",
			      "breaking");
	}
	for (size_t i = 0; i < plan.n; i++) {
		const struct sd_replay_conn *pc = &plan.conns[i];
		size_t cuts[2 * SD_REPLAY_MAX_SEGS];
		uint32_t gaps[2 * SD_REPLAY_MAX_SEGS];
		struct sd_cell_flight fl = {
			.stream = pc->stream, .first_len = pc->first.len,
			.retry_len = pc->has_retry ? pc->retry.len : 0,
			.hello = pc->hello, .hello_len = pc->hello_len,
			.record_len = pc->record_len, .nrecords = pc->nrecords,
			.hello2_len = pc->hello2_len,
			.cuts = cuts, .gaps_us = gaps,
		};
		struct sd_cell cell = { .shape = shape, .ipv6 = ipv6, .replay = &fl };
		struct sd_buf pcaps = SD_BUF_INIT;
		char cseed[96], sub[4096], a[80], b[80], sizes[256], sent[256], gtxt[128];
		size_t dropped = 0;
		bool pass;

		if (!reshape)
			fl.ncuts = plan_cuts(pc, exact, cuts, gaps, &dropped);
		if (seed) {
			snprintf(cseed, sizeof(cseed), "%s/%zu", seed, i + 1);
			cell.seed = cseed;
		}
		ret = sd_lab_run(lab, &cell, &r, err, sizeof(err));
		if (ret < 0) {
			rc = cli_error(ret == -SD_EUNKNOWN || ret == -SD_EVALUE ? SD_EXIT_USAGE : SD_EXIT_INTERNAL,
				       "connection %zu: %s", i + 1, err);
			goto out;
		}
		if (pcap_dir) {
			snprintf(sub, sizeof(sub), "%s/conn-%zu", pcap_dir, i + 1);
			if ((ret = sd_lab_write_pcaps(lab, &r, sub, &pcaps, err, sizeof(err))) < 0) {
				sd_buf_free(&pcaps);
				rc = cli_error(SD_EXIT_USAGE, "%s", err);
				goto out;
			}
			sd_buf_u8(&pcaps, 0);
		}
		pass = want[r.v.outcome];
		failed += !pass;
		errors += r.v.outcome == SD_ERROR;
		if (json) {
			struct conn_head h = { pc, i + 1, dropped, exact, path.name, server_name, reshape, &r };
			struct cli_cell_meta m = {
				.path = path.name, .server = server_name,
				.shape = reshape ? reshape : "captured", .ipv6 = ipv6,
				.expected = expect ? expect : "any", .pass = pass,
				.pcaps = pcaps.len > 1 ? (const char *)pcaps.data : NULL,
				.head = conn_head_json, .head_ctx = &h,
			};

			cli_cell_json(&j, &m, &r);
		} else {
			endpoint(pc->family, pc->client, pc->cport, a, sizeof(a));
			endpoint(pc->family, pc->server, pc->sport, b, sizeof(b));
			sd_replay_sizes(&pc->first, sizes, sizeof(sizes));
			gaps_text(&pc->first, gtxt, sizeof(gtxt));
			sent[0] = 0;
			for (size_t k = 0, w = 0; k < r.client.nsegs && w < sizeof(sent); k++)
				if (!r.client.segs[k].retrans)
					w += (size_t)snprintf(sent + w, sizeof(sent) - w, "%s%u", w ? "+" : "",
							      r.client.segs[k].len);
			snprintf(sub, sizeof(sub), "%s > %s", a, b);
			sd_buf_printf(&rows, "%-3zu %-44s %-20.20s %6zu %-14s %-10s %-4s %-11s %-14s %s\n", i + 1,
				      sub, pc->sni[0] ? pc->sni : "-", pc->hello_len - 4, sizes, gtxt,
				      pc->hrr ? "yes" : "no",
				      sd_outcome_name(r.v.outcome), sent[0] ? sent : "-",
				      r.v.breaking[0] ? r.v.breaking : "-");
			sd_buf_printf(&out, "connection %zu  %s  %s%s\n", i + 1, sub, pc->sni[0] ? "sni " : "",
				      pc->sni);
			sd_buf_printf(&out, "  captured  ClientHello %zu bytes (%zu on the wire, %zu record%s), segments %s, gaps %s ms%s%s\n",
				      pc->hello_len - 4, pc->first.len, pc->nrecords, pc->nrecords == 1 ? "" : "s",
				      sizes, gtxt, pc->gaps_capped ? " (capped at 2000)" : "",
				      pc->hrr ? (pc->has_retry ? ", HelloRetryRequest answered" :
						 ", HelloRetryRequest without an answer") : "");
			if (pc->retransmissions || pc->out_of_order || pc->gso_frames)
				sd_buf_printf(&out, "  folded    %u retransmission%s, %u out of order, %u super-frame%s cut at MSS %u\n",
					      pc->retransmissions, pc->retransmissions == 1 ? "" : "s",
					      pc->out_of_order, pc->gso_frames, pc->gso_frames == 1 ? "" : "s",
					      pc->mss);
			sd_buf_printf(&out, "  sent      %s%s%s%s\n", sent[0] ? sent : "nothing",
				      reshape ? ", reshaped " : "", reshape ? reshape : "",
				      dropped ? " (the capture path's MSS cuts re-made at this path's MSS; --exact keeps them)" : "");
			if (pc->hrr && pc->has_retry && !r.client.hrr) {
				char tmp[32];

				sd_buf_printf(&out, "  retry     the captured server asked for %s; the lab's %s server did not, so the captured second hello was not sent%s\n",
					      cli_group_label(pc->hrr_group, tmp, sizeof(tmp)), server_name,
					      pc->hrr_group == 23 ? " (--server openssl-p256 asks every client for P-256)" :
					      pc->hrr_group == 4588 ? " (--server node-pq-hrr asks for X25519MLKEM768)" : "");
			}
			sd_buf_printf(&out, "  outcome   %s%s\n", sd_outcome_name(r.v.outcome),
				      pass ? "" : " (expected another)");
			sd_buf_printf(&out, "  evidence  %s\n", r.v.detail);
			if (r.v.breaking[0])
				sd_buf_printf(&out, "  breaking  %s\n", r.v.breaking);
			if (pcap_dir)
				sd_buf_printf(&out, "  pcaps     %s/conn-%zu/\n", pcap_dir, i + 1);
			sd_buf_printf(&out, "\n");
		}
		sd_buf_free(&pcaps);
		sd_cell_result_free(&r);
	}
	if (json) {
		sd_json_arr_close(&j);
		sd_json_obj_close(&j);
		sd_buf_printf(&out, "\n");
	} else {
		sd_buf_put(&out, rows.data, rows.len);
		if (plan.incomplete)
			sd_buf_printf(&out, "(%zu more connection%s began a ClientHello the capture holds only part of: not replayed)\n",
				      plan.incomplete, plan.incomplete == 1 ? "" : "s");
		if (plan.conns_dropped)
			sd_buf_printf(&out, "(%zu more connections not replayed: at most %d)\n", plan.conns_dropped,
				      SD_REPLAY_MAX_CONNS);
	}
	if (sd_buf_error(&out) < 0 || sd_buf_error(&rows) < 0 || cli_stdout(&out) < 0) {
		rc = cli_error(SD_EXIT_INTERNAL, "cannot write the report");
		goto out;
	}
	rc = failed ? (expect || !errors ? SD_EXIT_FAIL : SD_EXIT_INTERNAL) : SD_EXIT_OK;
out:
	sd_cell_result_free(&r);
	sd_lab_close(lab);
	sd_buf_free(&out);
	sd_buf_free(&rows);
	sd_replay_plan_free(&plan);
	return rc;
out_plan:
	sd_replay_plan_free(&plan);
	return ret;
}
