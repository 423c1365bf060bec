/* SPDX-License-Identifier: MIT */
/* shakedown topo up|down: a path kept for manual poking. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "rootless.h"
#include "shakedown/mbox.h"
#include "shakedown/path.h"
#include "shakedown/pkt.h"
#include "shakedown/topo.h"

static const char topo_usage[] =
	"usage: shakedown topo up PATH [--keep] [--name PREFIX] [--ipv6]\n"
	"       shakedown topo down [PREFIX]\n"
	"\n"
	"'up' builds PATH (a built-in name or a .ini file) for you to poke at with\n"
	"your own tools. The client namespace's kernel owns 10.0.0.1 (and fd00::1),\n"
	"so ordinary programs work there; the server is at 10.0.N.2.\n"
	"Without --keep the namespaces live until you press Ctrl-C (or send\n"
	"SIGTERM); with --keep they are named PREFIX-client, PREFIX-<hop>...,\n"
	"PREFIX-server under /run/netns and stay after the command exits, for\n"
	"'ip netns exec'. 'down' removes the kept namespaces of PREFIX.\n"
	"A hop forwarded by the user-space middlebox engine (delay, dup, an\n"
	"emulated device parser...) forwards only while 'up' runs: no --keep.\n"
	"\n"
	"options:\n"
	"      --keep          name the namespaces and exit, leaving them up\n"
	"      --name PREFIX   name prefix for --keep (default: sd)\n"
	"      --ipv6          configure IPv6 as well (links >= 1280 bytes)\n"
	"  -h, --help          this help\n"
	"\n"
	"example:\n"
	"  shakedown topo up tunnel-1280-blackhole --keep --name lab\n"
	"  ip netns exec lab-server openssl s_server -accept 443 -www &\n"
	"  ip netns exec lab-client curl -k https://10.0.1.2/\n"
	"  shakedown topo down lab\n";

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void describe(const struct sd_topo *t, const char *prefix)
{
	char a4[SD_ADDR_STRLEN], a6[SD_ADDR_STRLEN];

	printf("path %s: %zu namespaces\n", t->path, t->nnodes);
	for (size_t i = 0; i < t->nlinks; i++) {
		const struct sd_topo_link *l = &t->link[i];

		uint8_t x[16] = { 0 }, y[16] = { 0 };

		memcpy(x, l->end[0].ip4, 4);
		memcpy(y, l->end[1].ip4, 4);
		if (sd_addr_format(4, x, a4, sizeof(a4)) < 0)
			a4[0] = 0;
		if (sd_addr_format(4, y, a6, sizeof(a6)) < 0)
			a6[0] = 0;
		printf("  link%zu mtu %-5u %s %s (%s)  <->  %s %s (%s)\n", i, l->mtu,
		       t->node[l->end[0].node].name, l->end[0].ifname, a4,
		       t->node[l->end[1].node].name, l->end[1].ifname, a6);
	}
	if (prefix) {
		printf("namespaces:");
		for (size_t i = 0; i < t->nnodes; i++)
			printf(" %s-%s", prefix, t->node[i].name);
		printf("\n");
	}
}

static int topo_up(int argc, char **argv)
{
	enum { O_KEEP = 256, O_NAME, O_IPV6 };
	static const struct option opts[] = {
		{ "keep", no_argument, NULL, O_KEEP },
		{ "name", required_argument, NULL, O_NAME },
		{ "ipv6", no_argument, NULL, O_IPV6 },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct sd_path path;
	struct sd_topo_error terr = { { 0 } };
	struct sd_topo *t = NULL;
	struct sd_mbox *mbox[SD_PATH_MAX_HOPS] = { NULL };
	const char *prefix = "sd";
	bool keep = false, ipv6 = false;
	unsigned flags = SD_TOPO_CLIENT_KERNEL;
	int c, ret;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_KEEP: keep = true; break;
		case O_NAME: prefix = optarg; break;
		case O_IPV6: ipv6 = true; break;
		case 'h':
			fputs(topo_usage, stdout);
			return SD_EXIT_OK;
		default:
			return cli_error(SD_EXIT_USAGE, "unknown option '%s' (see 'shakedown topo --help')",
					 argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return cli_error(SD_EXIT_USAGE, "topo up wants one PATH (see 'shakedown topo --help')");
	if ((ret = cli_load_path(argv[optind], &path)) != 0)
		return ret;
	/* Refused before anything is built, not after. */
	if (keep && !sd_topo_prefix_valid(prefix))
		return cli_error(SD_EXIT_USAGE, "bad prefix '%.40s': 1..31 characters of A-Z a-z 0-9 . _",
				 prefix);
	if (ipv6) {
		struct sd_path_error perr;

		if (sd_path_check_ipv6(&path, &perr) < 0)
			return cli_error(SD_EXIT_USAGE, "--ipv6 with path %s: %s", path.name, perr.msg);
	} else {
		flags |= SD_TOPO_NO_IPV6;
	}
	for (size_t h = 0; keep && h < path.nhops; h++)
		if (sd_path_hop_userspace(&path.hop[h]))
			return cli_error(SD_EXIT_USAGE,
					 "hop '%s' needs the user-space middlebox engine, which runs only while 'topo up' does: drop --keep",
					 path.hop[h].name);
	if (geteuid() != 0)
		return cli_no_privilege();
	ret = sd_topo_open(&path, flags, &t, &terr);
	if (ret < 0)
		return cli_error(ret == -EPERM ? SD_EXIT_ENV : SD_EXIT_INTERNAL, "building %s: %s: %s",
				 path.name, terr.step, sd_strerror(ret));
	if (keep) {
		ret = sd_topo_name(t, prefix);
		if (ret < 0) {
			sd_topo_close(t);
			return cli_error(ret == -SD_EVALUE || ret == -EEXIST ? SD_EXIT_USAGE : SD_EXIT_INTERNAL,
					 "naming namespaces %s-*: %s%s", prefix, sd_strerror(ret),
					 ret == -EEXIST ? " (run 'shakedown topo down' first)" : "");
		}
		describe(t, prefix);
		printf("kept; remove with: shakedown topo down %s\n", prefix);
		sd_topo_close(t);
		return SD_EXIT_OK;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	for (size_t h = 0; h < path.nhops; h++) {
		if (!sd_path_hop_userspace(&path.hop[h]))
			continue;
		ret = sd_mbox_open(t, h + 1, &path.hop[h], &mbox[h]);
		if (ret == 0)
			ret = sd_mbox_reset(mbox[h], NULL);
		if (ret < 0) {
			cli_error(SD_EXIT_INTERNAL, "starting the middlebox engine of hop '%s': %s",
				  path.hop[h].name, sd_strerror(ret));
			stop = 1;
			break;
		}
	}
	if (!stop) {
		describe(t, NULL);
		printf("up; press Ctrl-C to tear it down\n");
		fflush(stdout);
	}
	while (!stop)
		pause();
	for (size_t h = 0; h < path.nhops; h++)
		sd_mbox_stop(mbox[h]);
	for (size_t h = 0; h < path.nhops; h++)
		sd_mbox_close(mbox[h]);
	sd_topo_close(t);
	return ret < 0 ? SD_EXIT_INTERNAL : SD_EXIT_OK;
}

int cmd_topo(int argc, char **argv)
{
	if (argc < 2)
		return cli_error(SD_EXIT_USAGE, "up or down? (see 'shakedown topo --help')");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(topo_usage, stdout);
		return SD_EXIT_OK;
	}
	if (!strcmp(argv[1], "up"))
		return topo_up(argc - 1, argv + 1);
	if (!strcmp(argv[1], "down")) {
		const char *prefix = argc > 2 ? argv[2] : "sd";
		int ret;

		if (argc > 3)
			return cli_error(SD_EXIT_USAGE, "topo down wants at most one PREFIX");
		ret = sd_topo_unname(prefix);
		if (ret == -SD_EVALUE)
			return cli_error(SD_EXIT_USAGE, "bad prefix '%s'", prefix);
		if (ret < 0)
			return cli_error(ret == -EPERM ? SD_EXIT_ENV : SD_EXIT_INTERNAL,
					 "removing %s-*: %s", prefix, sd_strerror(ret));
		if (ret == 0)
			return cli_error(SD_EXIT_USAGE, "no kept namespaces named %s-*", prefix);
		printf("removed %d namespaces %s-*\n", ret, prefix);
		return SD_EXIT_OK;
	}
	return cli_error(SD_EXIT_USAGE, "topo %s: want up or down", argv[1]);
}
