/* SPDX-License-Identifier: MIT */
/* shakedown run: one cell — a profile through a path to a server — built, watched, judged. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cell.h"
#include "cli.h"
#include "detect.h"
#include "rootless.h"
#include "shakedown/builtin.h"
#include "shakedown/json.h"
#include "shakedown/lab.h"
#include "shakedown/path.h"
#include "shakedown/peer.h"
#include "shakedown/report.h"
#include "shakedown/tls.h"

static const char run_usage[] =
	"usage: shakedown run --profile P --path PATH [options]\n"
	"       shakedown run --client NAME --path PATH [options]\n"
	"\n"
	"Builds PATH out of network namespaces, sends profile P's ClientHello from a\n"
	"user-space TCP client (raw packets: exact segmentation, fragmentation and\n"
	"timing) to a real OpenSSL TLS 1.3 server, finishes the handshake, captures\n"
	"every hop, and prints a ladder of what crossed each link and the verdict.\n"
	"With --client, a real client program sends its own hello instead, over the\n"
	"client namespace's kernel TCP, and is judged from the captures alone.\n"
	"\n"
	"options:\n"
	"  -p, --profile P      handshake profile ('shakedown list profiles') or .ini file\n"
	"  -P, --path PATH      network path ('shakedown list paths') or .ini file\n"
	"  -c, --client NAME    a real client instead of a profile, stopped as soon as\n"
	"                       its outcome is known ('shakedown list clients'):\n"
	"                         chromium  headless Chromium: X25519MLKEM768 hello\n"
	"                         node-pq   Node.js 24 / OpenSSL 3.5: X25519MLKEM768\n"
	"                         openssl   openssl s_client (OpenSSL 3.0): classic\n"
	"                         curl      curl (OpenSSL 3.0): classic\n"
	"      --deadline MS    with --client: stop it after MS ms at the latest\n"
	"                       (default 10000); the outcome is then stall\n"
	"      --server S       openssl (default), single-read (reads the hello once), or\n"
	"                       a real post-quantum server, Node.js 24 / OpenSSL 3.5:\n"
	"                         node-pq       X25519MLKEM768 first, then X25519\n"
	"                         node-pq-only  X25519MLKEM768 only\n"
	"                         node-pq-hrr   X25519MLKEM768 / X25519: a HelloRetryRequest\n"
	"                                       to a client that sent only an X25519 share\n"
	"                       or nginx (Debian's, OpenSSL 3.0: a real web server's TLS),\n"
	"                       or openssl-p256 (P-256 only: a HelloRetryRequest to any\n"
	"                       client that sent no P-256 share, real clients included)\n"
	"                       (node: $SHAKEDOWN_NODE, .peers/ here or beside the binary's\n"
	"                       directory, or node >= 24 in PATH; 'shakedown list servers')\n"
	"      --shape SPEC     how the flight goes on the wire, comma-separated:\n"
	"                         split@OFFSET[+OFFSET..]  split@FIELD (e.g. split@key_share)\n"
	"                         records:SIZE  ipfrag:SIZE  gap:MS  order:reverse|swap\n"
	"                         dup  no-pmtud\n"
	"      --ipv6           over IPv6 (paths whose links are all >= 1280)\n"
	"      --chain-size N   pad the server's certificate chain so its flight is ~N bytes\n"
	"      --sni HOST       server_name to send (a real client is told the server's\n"
	"                       address goes by that name; default: none, by IP)\n"
	"      --pad-to N       pad the ClientHello message (header included) to N bytes\n"
	"                       with the padding extension: find the size a box breaks at\n"
	"      --seed S         reproducible ClientHello and sequence numbers\n"
	"      --expect OUTCOME outcome that counts as a pass (default: ok or ok-hrr)\n"
	"      --pcap-dir DIR   write one pcap per interface (Wireshark reads them)\n"
	"      --keylog FILE    NSS key log of the server (every mode) and of a --client,\n"
	"                       so Wireshark decrypts the pcaps\n"
	"      --detect         also probe the server and path for Cloudflare Radar's three\n"
	"                       post-quantum failures: split ClientHello, HRR failure,\n"
	"                       unknown key share (exit 1 if one shows)\n"
	"      --repeat N       run the cell N times on the same built path and report\n"
	"                       the outcomes and cell times (a flake and speed check)\n"
	"      --json           print the cell as JSON (docs/json.md)\n"
	"  -h, --help           this help\n"
	"\n"
	"outcomes: ok ok-hrr alert reset closed stall blackhole truncated mangled\n"
	"          frag-lost refused hrr-failure error\n"
	"exit: 0 the outcome met the expectation, 1 it did not, 2 usage, 3 no privilege\n"
	"(needs root or CAP_NET_ADMIN + CAP_SYS_ADMIN) or a program missing (nginx, node,\n"
	"an exec hop's), 4 internal error (also: a server or hop program died mid-cell).\n"
	"\n"
	"examples:\n"
	"  shakedown run --profile chrome-pq --path tunnel-1280-blackhole\n"
	"  shakedown run --client chromium --path tunnel-1280-blackhole\n"
	"  shakedown run --profile chrome-pq --path clean --server single-read --shape gap:50\n"
	"  shakedown run --profile pq-advertise-only --path clean --server node-pq-hrr\n"
	"  shakedown run --profile chrome-pq --path mss-536 --pcap-dir /tmp/pcaps --json\n";

int cli_check_exec_hops(const char *name, const struct sd_path *p)
{
	/* Programs that would leave the hop's namespace for another one (the
	 * host's, say): a hop's program runs where the lab put it. */
	static const char *const escapes[] = { "nsenter", "unshare", "ip", "chroot", "setsid", NULL };

	for (size_t h = 0; h < p->nhops; h++) {
		const struct sd_path_hop *hop = &p->hop[h];
		char word[256], exe[PATH_MAX], fn[PATH_MAX];
		size_t n = strcspn(hop->exec, " \t");
		const char *base;
		bool found = false;

		if (!(hop->given & SD_BEH_EXEC))
			continue;
		snprintf(word, sizeof(word), "%.*s", (int)n, hop->exec);
		base = strrchr(word, '/') ? strrchr(word, '/') + 1 : word;
		for (size_t i = 0; escapes[i]; i++)
			if (!strcmp(base, escapes[i]))
				return cli_spec_error(name, hop->line, "exec: the hop's program must run in the hop's "
						      "namespace; 'nsenter', 'unshare', 'ip', 'chroot' and 'setsid' are refused");
		/* A template in argv[0] is only known once the lab exists. A
		 * path that is not there is the file's error; a program not
		 * installed is the machine's (exit 3). */
		if (!strchr(word, '{') && sd_proc_find_exe(word, exe, sizeof(exe)) < 0) {
			if (strchr(word, '/'))
				return cli_error(SD_EXIT_USAGE, "%s:%d: exec: '%.200s' is not an executable file",
						 name, hop->line, word);
			return cli_error(SD_EXIT_ENV, "path %s, hop '%s': '%.200s' is not an executable file "
					 "in PATH (install it; bash tools/setup-deps.sh has the usual ones)",
					 name, hop->name, word);
		}
		if (!hop->config[0])
			continue;
		if (p->dir[0] && (size_t)snprintf(fn, sizeof(fn), "%s/%s", p->dir, hop->config) < sizeof(fn) &&
		    access(fn, R_OK) == 0)
			continue;
		for (const struct sd_builtin_file *b = sd_builtin_mbox; b->name && !found; b++)
			found = !strcmp(b->name, hop->config);
		if (!found)
			return cli_error(SD_EXIT_USAGE, "%s:%d: config %s: not found %s", name, hop->line,
					 hop->config, p->dir[0] ? "next to the path file nor built in" :
					 "among the built-in configs (netns/mbox/)");
	}
	return 0;
}

int cli_load_path(const char *name, struct sd_path *p)
{
	struct sd_path_error err;
	uint8_t *data = NULL;
	size_t len;
	int ret;

	char pname[64];

	ret = cli_read_spec(name, "path", &data, &len, pname, sizeof(pname));
	if (ret < 0)
		return -ret;
	if (ret == 1) {
		ret = sd_path_parse((const char *)data, len, pname, p, &err);
		free(data);
		if (ret < 0)
			return cli_spec_error(name, err.line, err.msg);
		sd_path_set_dir(p, name);
		return 0;
	}
	ret = sd_path_builtin(name, p, &err);
	if (ret == -SD_EUNKNOWN)
		return cli_error(SD_EXIT_USAGE, "unknown path '%s' (see 'shakedown list paths', or give a .ini file)",
				 name);
	if (ret < 0)
		return cli_error(SD_EXIT_INTERNAL, "built-in path %s:%d: %s", name, err.line, err.msg);
	return 0;
}

int cli_opt_server(const char *arg, struct sd_lab_opts *lo, const char **name)
{
	if (sd_server_mode_parse(arg, &lo->server_mode) < 0)
		return cli_error(SD_EXIT_USAGE, "--server '%s': one of %s", arg, sd_server_mode_names());
	*name = arg;
	return 0;
}

int cli_lab_ready(const struct sd_lab_opts *lo, const char *server_name)
{
	if (lo->server_mode == SD_SERVER_NGINX) {
		char exe[PATH_MAX];

		if (sd_proc_find_exe("nginx", exe, sizeof(exe)) < 0)
			return cli_error(SD_EXIT_ENV, "--server nginx: no nginx in PATH (apt-get install nginx, "
					 "or bash tools/setup-deps.sh)");
	}
	if (sd_server_mode_is_node(lo->server_mode)) {
		char node[4096], why[600];

		if (sd_peer_node_find(node, sizeof(node), why, sizeof(why)) < 0)
			return cli_error(SD_EXIT_ENV, "--server %s: %s; install it with 'bash tools/setup-peers.sh'",
					 server_name, why);
	}
	if (geteuid() != 0)
		return cli_no_privilege();
	return 0;
}

int cli_lab_open_failed(int ret, const struct sd_lab_opts *lo, const char *err)
{
	/* A node that will not start is a dependency missing, like privilege. */
	bool env = ret == -EPERM || (sd_server_mode_is_node(lo->server_mode) &&
				     (ret == -ECHILD || ret == -ENOENT || ret == -EACCES));

	return cli_error(env ? SD_EXIT_ENV : SD_EXIT_INTERNAL, "%s", err);
}

static double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The same cell again and again on one built path: outcomes and times. */
static int run_repeat(struct sd_lab *lab, const struct sd_cell *cell, size_t n, bool any_ok,
		      enum sd_outcome want, bool json, struct sd_buf *out)
{
	static struct sd_cell_result r;
	size_t counts[SD_OUTCOME_MAX] = { 0 }, failed = 0;
	double *cell_ms = calloc(n, sizeof(double)), *wire_ms = calloc(n, sizeof(double));
	char err[512];
	int rc = SD_EXIT_OK;

	if (!cell_ms || !wire_ms) {
		free(cell_ms);
		free(wire_ms);
		return cli_error(SD_EXIT_INTERNAL, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		struct sd_cell c = *cell;
		char seed[96];
		bool pass;

		/* Each repetition is a distinct, reproducible hello. */
		if (cell->seed) {
			snprintf(seed, sizeof(seed), "%s/%zu", cell->seed, i);
			c.seed = seed;
		}
		if (sd_lab_run(lab, &c, &r, err, sizeof(err)) < 0) {
			sd_cell_result_free(&r);
			rc = cli_error(SD_EXIT_INTERNAL, "cell %zu: %s", i + 1, err);
			goto out;
		}
		counts[r.v.outcome]++;
		cell_ms[i] = r.t_total_ms;
		wire_ms[i] = r.t_exchange_ms;
		pass = any_ok ? (r.v.outcome == SD_OK || r.v.outcome == SD_OK_HRR) : r.v.outcome == want;
		if (!pass) {
			failed++;
			if (!json && failed <= 3)
				sd_buf_printf(out, "cell %zu: %s: %s\n", i + 1, sd_outcome_name(r.v.outcome),
					      r.v.detail);
		}
		sd_cell_result_free(&r);
	}
	qsort(cell_ms, n, sizeof(double), cmp_double);
	qsort(wire_ms, n, sizeof(double), cmp_double);
	if (json) {
		struct sd_json j;

		sd_json_init(&j, out, true);
		sd_json_obj_open(&j);
		sd_json_kint(&j, "cells", (long long)n);
		sd_json_kint(&j, "failed", (long long)failed);
		sd_json_key(&j, "outcomes");
		sd_json_obj_open(&j);
		for (int o = 0; o < SD_OUTCOME_MAX; o++)
			if (counts[o])
				sd_json_kint(&j, sd_outcome_name((enum sd_outcome)o), (long long)counts[o]);
		sd_json_obj_close(&j);
		sd_json_key(&j, "cell_us");
		sd_json_obj_open(&j);
		sd_json_kint(&j, "median", (long long)(cell_ms[n / 2] * 1000));
		sd_json_kint(&j, "p90", (long long)(cell_ms[n * 9 / 10] * 1000));
		sd_json_kint(&j, "max", (long long)(cell_ms[n - 1] * 1000));
		sd_json_obj_close(&j);
		sd_json_key(&j, "exchange_us");
		sd_json_obj_open(&j);
		sd_json_kint(&j, "median", (long long)(wire_ms[n / 2] * 1000));
		sd_json_kint(&j, "p90", (long long)(wire_ms[n * 9 / 10] * 1000));
		sd_json_obj_close(&j);
		sd_json_obj_close(&j);
	} else {
		sd_buf_printf(out, "%zu cells:", n);
		for (int o = 0; o < SD_OUTCOME_MAX; o++)
			if (counts[o])
				sd_buf_printf(out, " %s %zu", sd_outcome_name((enum sd_outcome)o), counts[o]);
		sd_buf_printf(out, "; %zu missed the expectation\n", failed);
		sd_buf_printf(out, "cell time median %.2f ms, p90 %.2f ms, max %.2f ms (on the wire median %.2f ms)\n",
			      cell_ms[n / 2], cell_ms[n * 9 / 10], cell_ms[n - 1], wire_ms[n / 2]);
	}
	rc = failed ? SD_EXIT_FAIL : SD_EXIT_OK;
out:
	free(cell_ms);
	free(wire_ms);
	return rc;
}

int cmd_run(int argc, char **argv)
{
	enum { O_SERVER = 256, O_SHAPE, O_IPV6, O_CHAIN, O_SNI, O_PADTO, O_SEED, O_EXPECT, O_PCAP, O_KEYLOG,
	       O_JSON, O_REPEAT, O_DETECT, O_DEADLINE };
	static const struct option opts[] = {
		{ "profile", required_argument, NULL, 'p' },
		{ "path", required_argument, NULL, 'P' },
		{ "client", required_argument, NULL, 'c' },
		{ "deadline", required_argument, NULL, O_DEADLINE },
		{ "server", required_argument, NULL, O_SERVER },
		{ "shape", required_argument, NULL, O_SHAPE },
		{ "ipv6", no_argument, NULL, O_IPV6 },
		{ "chain-size", required_argument, NULL, O_CHAIN },
		{ "sni", required_argument, NULL, O_SNI },
		{ "pad-to", required_argument, NULL, O_PADTO },
		{ "seed", required_argument, NULL, O_SEED },
		{ "expect", required_argument, NULL, O_EXPECT },
		{ "pcap-dir", required_argument, NULL, O_PCAP },
		{ "keylog", required_argument, NULL, O_KEYLOG },
		{ "json", no_argument, NULL, O_JSON },
		{ "repeat", required_argument, NULL, O_REPEAT },
		{ "detect", no_argument, NULL, O_DETECT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *profile_name = NULL, *path_name = NULL, *shape_spec = "", *expect = NULL,
		   *pcap_dir = NULL, *server_name = "openssl";
	static struct sd_profile profile;
	static struct sd_path path;
	static struct sd_cell_result r;
	struct sd_hello_opts ho = { 0 };
	struct sd_lab_opts lo = { 0 };
	struct sd_cell cell = { 0 };
	struct sd_lab *lab = NULL;
	struct sd_buf out = SD_BUF_INIT, pcaps = SD_BUF_INIT;
	enum sd_outcome want = SD_OK;
	bool json = false, want_any_ok = true, pass;
	char err[512] = "";
	long long v, repeat = 1;
	static struct cli_detection det[CLI_NDETECT];
	bool detect = false, detected = false;
	double t_open = 0, t_close = 0, t_start = mono_ms();
	int c, ret, rc = SD_EXIT_INTERNAL;

	sd_shape_init(&cell.shape);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "p:P:c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': profile_name = optarg; break;
		case 'c':
			if (sd_client_parse(optarg, &cell.client) < 0)
				return cli_error(SD_EXIT_USAGE, "--client '%s': one of %s", optarg,
						 sd_client_names());
			cell.real_client = lo.client_kernel = true;
			break;
		case O_DEADLINE:
			v = cli_parse_num(optarg, 100, 600000);
			if (v < 0)
				return cli_error(SD_EXIT_USAGE, "--deadline '%s': want 100-600000 ms", optarg);
			cell.client_deadline_ms = (unsigned)v;
			break;
		case 'P': path_name = optarg; break;
		case O_SERVER:
			if ((ret = cli_opt_server(optarg, &lo, &server_name)) != 0)
				return ret;
			break;
		case O_SHAPE:
			shape_spec = optarg;
			if (sd_shape_parse(optarg, &cell.shape, err, sizeof(err)) < 0)
				return cli_error(SD_EXIT_USAGE, "--shape: %s", err);
			break;
		case O_IPV6: cell.ipv6 = lo.ipv6 = true; break;
		case O_CHAIN:
			v = cli_parse_num(optarg, 0, SD_SERVER_MAX_CHAIN);
			if (v < 0)
				return cli_error(SD_EXIT_USAGE, "--chain-size '%s': want 0-%u bytes", optarg,
						 SD_SERVER_MAX_CHAIN);
			lo.chain_size = (size_t)v;
			break;
		case O_PADTO:
			v = cli_parse_num(optarg, 1, 65535);
			if (v < 0)
				return cli_error(SD_EXIT_USAGE, "--pad-to '%s': want a ClientHello size, 1-65535 bytes", optarg);
			ho.pad_to = (size_t)v;
			break;
		case O_SNI:
			if (strlen(optarg) > 255)
				return cli_error(SD_EXIT_USAGE, "--sni: longer than 255 bytes");
			ho.sni = optarg;
			break;
		case O_SEED:
			/* --repeat adds "/N" to it: keep room. */
			if (!*optarg || strlen(optarg) > 72)
				return cli_error(SD_EXIT_USAGE, "--seed: want 1-72 characters");
			cell.seed = optarg;
			break;
		case O_EXPECT:
			if (sd_outcome_parse(optarg, &want) < 0)
				return cli_error(SD_EXIT_USAGE, "--expect '%s': not an outcome (see --help)", optarg);
			want_any_ok = false;
			expect = optarg;
			break;
		case O_PCAP: pcap_dir = optarg; break;
		case O_KEYLOG: lo.keylog_path = optarg; break;
		case O_JSON: json = true; break;
		case O_DETECT: detect = true; break;
		case O_REPEAT:
			repeat = cli_parse_num(optarg, 1, 100000);
			if (repeat < 0)
				return cli_error(SD_EXIT_USAGE, "--repeat '%s': want 1-100000", optarg);
			break;
		case 'h':
			fputs(run_usage, stdout);
			return SD_EXIT_OK;
		default:
			return cli_error(SD_EXIT_USAGE, "unknown or incomplete option '%s' (see 'shakedown run --help')",
					 argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_error(SD_EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
	if (lo.keylog_path && lo.server_mode == SD_SERVER_NGINX && !cell.real_client)
		return cli_error(SD_EXIT_USAGE, "--keylog: nginx has no hook for a key log (use --server openssl or node-pq)");
	if ((ret = cli_check_output("--keylog", lo.keylog_path)) != 0)
		return ret;
	if (cell.real_client && (profile_name || shape_spec[0] || ho.pad_to || detect))
		return cli_error(SD_EXIT_USAGE, "--client sends its own hello: no --profile, --shape, --pad-to or --detect");
	if (cell.real_client && ho.sni && !sd_client_sni_ok(ho.sni))
		return cli_error(SD_EXIT_USAGE, "--sni '%s': a real client takes a DNS name (letters, digits, '-', '.')",
				 ho.sni);
	if (cell.client_deadline_ms && !cell.real_client)
		return cli_error(SD_EXIT_USAGE, "--deadline is for --client");
	if ((!profile_name && !cell.real_client) || !path_name)
		return cli_error(SD_EXIT_USAGE, "--profile (or --client) and --path are required (see 'shakedown run --help')");
	if (profile_name && (ret = cli_load_profile(profile_name, &profile)) != 0)
		return ret;
	if (cell.real_client)
		snprintf(profile.name, sizeof(profile.name), "%s", sd_client_name(cell.client));
	if ((ret = cli_load_path(path_name, &path)) != 0 ||
	    (ret = cli_check_exec_hops(path_name, &path)) != 0)
		return ret;
	if (cell.ipv6) {
		struct sd_path_error perr;

		if (sd_path_check_ipv6(&path, &perr) < 0)
			return cli_error(SD_EXIT_USAGE, "--ipv6 with path %s: %s", path.name, perr.msg);
	}
	if ((ret = cli_lab_ready(&lo, server_name)) != 0)
		return ret;
	if (cell.real_client) {
		char why[600];

		if (sd_client_check(cell.client, why, sizeof(why)) < 0)
			return cli_error(SD_EXIT_ENV, "--client %s: %s", sd_client_name(cell.client), why);
	}
	cell.profile = &profile;
	cell.hello_opts = &ho;

	t_open = mono_ms();
	ret = sd_lab_open(&path, &lo, &lab, err, sizeof(err));
	t_open = mono_ms() - t_open;
	if (ret < 0) {
		rc = cli_lab_open_failed(ret, &lo, err);
		goto out;
	}
	if (repeat > 1) {
		rc = run_repeat(lab, &cell, (size_t)repeat, want_any_ok, want, json, &out);
		if (sd_buf_error(&out) < 0 || cli_stdout(&out) < 0)
			rc = cli_error(SD_EXIT_INTERNAL, "cannot write the report");
		goto out;
	}
	ret = sd_lab_run(lab, &cell, &r, err, sizeof(err));
	if (ret < 0) {
		rc = cli_error(ret == -SD_EUNKNOWN || ret == -SD_EVALUE ? SD_EXIT_USAGE : SD_EXIT_INTERNAL,
			       "%s", err);
		goto out;
	}
	if (detect) {
		if ((ret = cli_detect_run(lab, cell.seed, det, err, sizeof(err))) < 0) {
			rc = cli_error(SD_EXIT_INTERNAL, "detections: %s", err);
			goto out;
		}
		detected = true;
	}
	if (pcap_dir && (ret = sd_lab_write_pcaps(lab, &r, pcap_dir, &pcaps, err, sizeof(err))) < 0) {
		rc = cli_error(SD_EXIT_USAGE, "%s", err);
		goto out;
	}
	pass = want_any_ok ? (r.v.outcome == SD_OK || r.v.outcome == SD_OK_HRR) : r.v.outcome == want;
	if (r.v.outcome == SD_ERROR)
		pass = false;
	if (json) {
		struct sd_json j;

		sd_json_init(&j, &out, true);
		struct cli_cell_meta m = {
			.profile = profile.name, .path = path.name, .server = server_name,
			.shape = shape_spec[0] ? shape_spec : "default", .ipv6 = cell.ipv6,
			.expected = expect ? expect : "ok|ok-hrr", .pass = pass,
			.pcaps = pcaps.len ? (const char *)pcaps.data : NULL,
			.detections = detected ? det : NULL,
			.client = cell.real_client ? sd_client_name(cell.client) : NULL,
			.rootless_key = true,
		};

		sd_buf_u8(&pcaps, 0);
		cli_cell_json(&j, &m, &r);
	} else {
		char tmp[32];

		sd_buf_printf(&out, "%s through %s to %s%s%s%s\n", profile.name, path.name, server_name,
			      cell.ipv6 ? " over IPv6" : "", shape_spec[0] ? ", shape " : "", shape_spec);
		sd_buf_printf(&out, "  ClientHello %zu bytes in %zu record%s, %zu segment%s:", r.hello_len,
			      r.v.records, r.v.records == 1 ? "" : "s", r.v.segments,
			      r.v.segments == 1 ? "" : "s");
		for (size_t i = 0; i < r.client.nsegs; i++)
			if (!r.client.segs[i].retrans)
				sd_buf_printf(&out, " %u", r.client.segs[i].len);
		if (r.v.ip_fragments)
			sd_buf_printf(&out, " (%zu IP fragments)", r.v.ip_fragments);
		sd_buf_printf(&out, "\n\n%s\n", r.ladder);
		sd_buf_printf(&out, "  outcome   %s%s\n", sd_outcome_name(r.v.outcome),
			      pass ? "" : expect ? " (expected another)" : " (not ok)");
		sd_buf_printf(&out, "  evidence  %s\n", r.v.detail);
		if (r.v.breaking[0])
			sd_buf_printf(&out, "  breaking  %s\n", r.v.breaking);
		if (r.client.server_hello)
			sd_buf_printf(&out, "  group     %s%s%s\n", cli_group_label(r.client.group, tmp, sizeof(tmp)),
				      r.client.hrr ? " after HelloRetryRequest" : "",
				      r.client.handshake_done ? ", handshake completed" : "");
		if (r.client.npmtu)
			sd_buf_printf(&out, "  pmtu      ICMP said MTU %u%s; %u retransmission%s\n",
				      r.client.pmtu[0].mtu, r.client.pmtu[0].ignored ? " (ignored: no-pmtud)" : "",
				      r.eng.retransmits, r.eng.retransmits == 1 ? "" : "s");
		if (r.server.present) {
			sd_buf_printf(&out, "  server    read");
			for (size_t i = 0; i < r.server.nrecvs; i++)
				sd_buf_printf(&out, " %u", r.server.recvs[i]);
			sd_buf_printf(&out, "%s%s%s%s\n", r.server.nrecvs ? " bytes" : " nothing",
				      r.server.error[0] ? "; " : "", r.server.error,
				      r.server.handshake_done ? "; handshake completed" : "");
		} else {
			sd_buf_printf(&out, "  server    never saw the connection\n");
		}
		if (r.v.server_flight)
			sd_buf_printf(&out, "  flight    %zu bytes from the server reached the client\n",
				      r.v.server_flight);
		if (cell.real_client)
			sd_buf_printf(&out, "  client    %s; started in %.1f ms, ran %.1f ms\n", r.client_end,
				      r.t_client_start_ms, r.t_exchange_ms);
		sd_buf_printf(&out, "  time      %.1f ms (on the wire %.1f ms)\n", r.t_total_ms, r.t_exchange_ms);
		if (pcap_dir)
			sd_buf_printf(&out, "  pcaps     %s/\n", pcap_dir);
		if (detected)
			cli_detect_text(&out, det);
	}
	if (sd_buf_error(&out) < 0 || cli_stdout(&out) < 0) {
		rc = cli_error(SD_EXIT_INTERNAL, "cannot write the report");
		goto out;
	}
	rc = pass && !(detected && cli_detect_count(det)) ? SD_EXIT_OK : SD_EXIT_FAIL;
out:
	if (detected)
		cli_detect_free(det);
	sd_cell_result_free(&r);
	t_close = mono_ms();
	sd_lab_close(lab);
	t_close = mono_ms() - t_close;
	if (getenv("SHAKEDOWN_TIMING"))
		fprintf(stderr, "timing: lab open %.1f ms, cell %.1f ms, lab close %.1f ms, command %.1f ms\n",
			t_open, r.t_total_ms, t_close, mono_ms() - t_start);
	sd_buf_free(&out);
	sd_buf_free(&pcaps);
	return rc;
}
