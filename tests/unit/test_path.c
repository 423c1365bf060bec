/* SPDX-License-Identifier: MIT */
/* Path files: the built-ins, user text, errors with exact codes and lines. */
#include <errno.h>
#include <stdlib.h>

#include "check.h"
#include "shakedown/path.h"

static struct sd_path path;
static struct sd_path_error perr;

static int parse(const char *text)
{
	return sd_path_parse(text, strlen(text), "user", &path, &perr);
}

#define CHECK_ERR(text, code, lineno) do { \
	CHECK_INT(parse(text), code); \
	CHECK_INT(perr.line, lineno); \
} while (0)
#define CHECK_MSG(s) do { \
	if (!strstr(perr.msg, s)) { \
		check_failed++; \
		fprintf(stderr, "%s:%d: message \"%s\" lacks \"%s\"\n", __FILE__, \
			__LINE__, perr.msg, s); \
	} else { \
		check_passed++; \
	} \
} while (0)

static const struct sd_path_hop *hop(const char *name)
{
	for (size_t i = 0; i < path.nhops; i++)
		if (strcmp(path.hop[i].name, name) == 0)
			return &path.hop[i];
	return NULL;
}

static void test_builtins(void)
{
	static const struct {
		const char *name;
		size_t nhops;
		unsigned mtu_last;         /* MTU of the server-side link */
	} want[] = {
		{ "ats-blind-tunnel", 1, 1500 },
		{ "censor-first-record", 1, 1500 },
		{ "clean", 1, 1500 },
		{ "envoy-16k", 1, 1500 },
		{ "f5-size-window", 1, 1500 },
		{ "fortigate-flow-ips", 1, 1500 },
		{ "haproxy-3148", 1, 1500 },
		{ "haproxy-peek", 1, 1500 },
		{ "haproxy-sni", 1, 1500 },
		{ "hrr-intolerant", 1, 1500 },
		{ "ingress-nginx-passthrough", 1, 1500 },
		{ "ipsec-1400", 1, 1400 },
		{ "ipv6-1280", 1, 1280 },
		{ "mss-536", 1, 1500 },
		{ "nat64-jool", 1, 1280 },
		{ "nDPI-ooo", 1, 1500 },
		{ "ndpi-records", 1, 1500 },
		{ "nginx-preread", 1, 1500 },
		{ "panos-partial-hello", 1, 1500 },
		{ "pppoe-1492", 1, 1492 },
		{ "squid-peek", 1, 1500 },
		{ "sslsplit-1k", 1, 1500 },
		{ "tunnel-1280-blackhole", 1, 1280 },
		{ "tunnel-1300-pmtud", 2, 1300 },
		{ "v6-frag-drop", 1, 1500 },
		{ "wireguard-1300-nomss", 1, 1300 },
		{ "wireguard-1420", 1, 1420 },
		{ "wolfssl-multishare", 1, 1500 },
	};
	size_t n = 0;
	char text[4096];
	struct sd_path again;

	for (const struct sd_builtin_file *f = sd_builtin_paths; f->name; f++) {
		int ret = sd_path_builtin(f->name, &path, &perr);

		CHECK_INT(ret, 0);
		if (ret < 0)
			fprintf(stderr, "%s:%d: %s\n", f->name, perr.line, perr.msg);
		CHECK_STR(path.name, f->name);
		CHECK(path.description[0] != 0);
		CHECK(path.nhops >= 1);
		for (size_t i = 0; i < path.nhops; i++)
			CHECK(path.hop[i].description[0] != 0);
		/* Every built-in carries IPv6 as well. */
		CHECK_INT(sd_path_check_ipv6(&path, &perr), 0);
		/* What it writes reads back the same. */
		CHECK(sd_path_format(&path, text, sizeof(text)) > 0);
		CHECK_INT(sd_path_parse(text, strlen(text), f->name, &again, &perr), 0);
		CHECK_INT(again.nhops, path.nhops);
		for (size_t i = 0; i < path.nhops; i++) {
			again.hop[i].line = path.hop[i].line;
			again.hop[i].behaviours_line = path.hop[i].behaviours_line;
		}
		again.client_mtu_line = path.client_mtu_line;
		CHECK(memcmp(&again, &path, sizeof(path)) == 0);
		n++;
	}
	CHECK_INT(n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		CHECK_INT(sd_path_builtin(want[i].name, &path, &perr), 0);
		CHECK_INT(path.nhops, want[i].nhops);
		CHECK_INT(sd_path_link_mtu(&path, path.nhops), want[i].mtu_last);
		CHECK_INT(sd_path_link_mtu(&path, 0), 1500);
		CHECK_INT(sd_path_link_mtu(&path, path.nhops + 1), 0);
		CHECK_INT(path.server_advmss, 1460);
	}

	CHECK_INT(sd_path_builtin("no-such-path", &path, &perr), -SD_EUNKNOWN);
	CHECK_MSG("no-such-path");

	/* The behaviours the built-ins are about. */
	CHECK_INT(sd_path_builtin("tunnel-1280-blackhole", &path, &perr), 0);
	CHECK(hop("tunnel") && hop("tunnel")->icmp_filter && hop("tunnel")->mtu == 1280);
	CHECK_INT(hop("tunnel")->given, SD_BEH_MTU | SD_BEH_ICMP_FILTER);
	CHECK_INT(sd_path_builtin("mss-536", &path, &perr), 0);
	CHECK(hop("clamp") && hop("clamp")->mss_clamp == 536 && hop("clamp")->mtu == 1500);
	CHECK_INT(sd_path_builtin("v6-frag-drop", &path, &perr), 0);
	CHECK(hop("firewall") && hop("firewall")->drop_fragments);
	CHECK_INT(sd_path_builtin("ipsec-1400", &path, &perr), 0);
	CHECK(hop("ipsec-gw") && hop("ipsec-gw")->mss_clamp == 1360);
	CHECK_INT(sd_path_builtin("tunnel-1300-pmtud", &path, &perr), 0);
	CHECK_STR(path.hop[0].name, "lan");
	CHECK_STR(path.hop[1].name, "tunnel");
	CHECK(!path.hop[1].icmp_filter);
	CHECK_INT(sd_path_builtin("wireguard-1420", &path, &perr), 0);
	CHECK_STR(path.description, "WireGuard tunnel with a 1420-byte inner MTU, ICMP works");
}

static const char user[] =
	"; a user path\n"                                           /* 1 */
	"[path]\n"                                                  /* 2 */
	"description = two hops,\n"                                 /* 3 */
	"  the second one slow   ; inline comment\n"                /* 4 */
	"client_mtu = 1492\n"                                       /* 5 */
	"server_advmss = 1400\n"                                    /* 6 */
	"\n"                                                        /* 7 */
	"[hop  edge ]\n"                                            /* 8 */
	"# no behaviours at all\n"                                  /* 9 */
	"[hop core_2]\n"                                            /* 10 */
	"behaviours = mtu:1280, loss:2.5 rate:1.5mbit\n"            /* 11 */
	"\tmss-clamp:1200,icmp-filter\n"                            /* 12 */
	"  drop-fragments\r\n";                                     /* 13 */

static void test_user(void)
{
	char beh[200], text[2048];

	CHECK_INT(parse(user), 0);
	CHECK_STR(perr.msg, "");
	CHECK_STR(path.name, "user");
	CHECK_STR(path.description, "two hops, the second one slow");
	CHECK_INT(path.client_mtu, 1492);
	CHECK_INT(path.client_mtu_line, 5);
	CHECK_INT(path.server_advmss, 1400);
	CHECK_INT(path.nhops, 2);
	CHECK_STR(path.hop[0].name, "edge");
	CHECK_INT(path.hop[0].line, 8);
	CHECK_INT(path.hop[0].given, 0);
	CHECK_INT(path.hop[0].mtu, 1500);
	CHECK_INT(path.hop[0].behaviours_line, 0);
	CHECK_STR(path.hop[1].name, "core_2");
	CHECK_INT(path.hop[1].line, 10);
	CHECK_INT(path.hop[1].behaviours_line, 11);
	CHECK_INT(path.hop[1].mtu, 1280);
	CHECK_INT(path.hop[1].loss_bp, 250);
	CHECK_INT(path.hop[1].rate_bps, 1500000);
	CHECK_INT(path.hop[1].mss_clamp, 1200);
	CHECK(path.hop[1].icmp_filter);
	CHECK(path.hop[1].drop_fragments);
	CHECK_INT(path.hop[1].given, SD_BEH_MTU | SD_BEH_LOSS | SD_BEH_RATE | SD_BEH_MSS_CLAMP |
		  SD_BEH_ICMP_FILTER | SD_BEH_DROP_FRAGMENTS);
	CHECK_INT(sd_path_link_mtu(&path, 0), 1492);
	CHECK_INT(sd_path_link_mtu(&path, 1), 1500);
	CHECK_INT(sd_path_link_mtu(&path, 2), 1280);

	/* Canonical text, and its size limit. */
	CHECK_INT(sd_path_hop_format(&path.hop[1], beh, sizeof(beh)),
		  (int)strlen("mtu:1280 icmp-filter mss-clamp:1200 drop-fragments loss:2.50 rate:1500kbit"));
	CHECK_STR(beh, "mtu:1280 icmp-filter mss-clamp:1200 drop-fragments loss:2.50 rate:1500kbit");
	CHECK_INT(sd_path_hop_format(&path.hop[1], beh, 10), -ENOSPC);
	CHECK_INT(strlen(beh), 9);
	CHECK_INT(sd_path_hop_format(&path.hop[0], beh, sizeof(beh)), 0);
	CHECK_STR(beh, "");
	CHECK(sd_path_format(&path, text, sizeof(text)) > 0);
	CHECK_INT(sd_path_format(&path, text, 20), -ENOSPC);

	/* Rates and losses in all their spellings. */
	CHECK_INT(parse("[hop a]\nbehaviours = rate:64000\n"), 0);
	CHECK_INT(path.hop[0].rate_bps, 64000);
	CHECK_INT(parse("[hop a]\nbehaviours = rate:8kbit\n"), 0);
	CHECK_INT(path.hop[0].rate_bps, 8000);
	CHECK_INT(parse("[hop a]\nbehaviours = rate:10GBit\n"), 0);
	CHECK_INT(path.hop[0].rate_bps, 10000000000ull);
	CHECK_INT(parse("[hop a]\nbehaviours = rate:2.125mbit\n"), 0);
	CHECK_INT(path.hop[0].rate_bps, 2125000);
	CHECK_INT(parse("[hop a]\nbehaviours = loss:100\n"), 0);
	CHECK_INT(path.hop[0].loss_bp, 10000);
	CHECK_INT(parse("[hop a]\nbehaviours = loss:0.01\n"), 0);
	CHECK_INT(path.hop[0].loss_bp, 1);
	CHECK_INT(parse("[hop a]\nbehaviours = loss:0\n"), 0);
	CHECK_INT(path.hop[0].loss_bp, 0);
	CHECK_INT(path.hop[0].given, SD_BEH_LOSS);
	/* The extremes of each range. */
	CHECK_INT(parse("[path]\nclient_mtu = 68\n[hop a]\nbehaviours = mtu:9000 mss-clamp:88\n"), 0);
	CHECK_INT(parse("[path]\nclient_mtu = 9000\nserver_advmss = 108\n[hop a]\nbehaviours = mtu:68 mss-clamp:9000\n"), 0);
	/* Empty values, a key-less hop, eight hops. */
	CHECK_INT(parse("[path]\ndescription =\n[hop a]\nbehaviours =\n"), 0);
	CHECK_INT(path.hop[0].given, 0);
	CHECK_INT(parse("[hop a]\n[hop b]\n[hop c]\n[hop d]\n[hop e]\n[hop f]\n[hop g]\n[hop h]\n"), 0);
	CHECK_INT(path.nhops, 8);
	CHECK_STR(path.hop[7].name, "h");
	CHECK_INT(path.hop[7].line, 8);
	/* ':' separates a key from its value too, as in inih. */
	CHECK_INT(parse("[hop a]\nbehaviours: mtu:1400\n"), 0);
	CHECK_INT(path.hop[0].mtu, 1400);
}

/* Five lines of preamble (a continuation, a blank, a comment), so an error
 * on the line after it is line 6 only if the map of lines is right. */
#define PRE \
	"[path]\n"                                  /* 1 */ \
	"description = a path\n"                    /* 2 */ \
	"  over two lines\n"                        /* 3 */ \
	"\n"                                        /* 4 */ \
	"; comment\n"                               /* 5 */
#define HOP "[hop a]\n"                          /* 6 */

static void test_errors(void)
{
	CHECK_INT(parse(PRE HOP), 0);

	/* Names neither the router nor the inspector knows. */
	CHECK_ERR(PRE HOP "behaviours = mtu:1400 teleport:20\n", -SD_EUNKNOWN, 7);
	CHECK_MSG("unknown behaviour 'teleport:20'");
	CHECK_MSG("shakedown list behaviours");
	CHECK_ERR(PRE HOP "behaviours = MTU:1400\n", -SD_EUNKNOWN, 7);
	CHECK_ERR(PRE HOP "behaviours = delay20\n", -SD_EUNKNOWN, 7);
	CHECK_ERR(PRE HOP "behaviours = First-Segment-Parse\n", -SD_EUNKNOWN, 7);

	/* The user-space engine's behaviours, out of range. */
	CHECK_ERR(PRE HOP "behaviours = delay:5001\n", -SD_EVALUE, 7);
	CHECK_MSG("delay:5001");
	CHECK_MSG("0..5000");
	CHECK_ERR(PRE HOP "behaviours = delay:ten\n", -SD_EVALUE, 7);
	CHECK_ERR(PRE HOP "behaviours = delay\n", -SD_EVALUE, 7);
	CHECK_MSG("needs a value");
	CHECK_ERR(PRE HOP "behaviours = jitter:-1\n", -SD_EVALUE, 7);
	CHECK_ERR(PRE HOP "behaviours = dup:100.01\n", -SD_EVALUE, 7);
	CHECK_MSG("dup:100.01");
	CHECK_ERR(PRE HOP "behaviours = reorder:5%\n", -SD_EVALUE, 7);
	CHECK_ERR(PRE HOP "behaviours = truncate-segment:0\n", -SD_EVALUE, 7);
	CHECK_MSG("1..65535");
	CHECK_ERR(PRE HOP "behaviours = truncate-segment:65536\n", -SD_EVALUE, 7);
	CHECK_ERR(PRE HOP "behaviours = seed:\n", -SD_EVALUE, 7);
	CHECK_ERR(PRE HOP "behaviours = seed:a/b\n", -SD_EVALUE, 7);
	CHECK_MSG("seed:a/b");
	CHECK_ERR(PRE HOP "behaviours = seed:0123456789abcdef0123456789abcdef\n", -SD_EVALUE, 7);
	CHECK_ERR(PRE HOP "behaviours = userspace:yes\n", -SD_EVALUE, 7);
	CHECK_MSG("takes no value");
	CHECK_ERR(PRE HOP "behaviours = delay:10 delay:20\n", -SD_EDUP, 7);
	/* The inspector's errors, with its message, at the key's line. */
	CHECK_ERR(PRE HOP "behaviours = mtu:1400\n  buffer-limit:10\n", -SD_EVALUE, 7);
	CHECK_MSG("behaviours");
	CHECK_MSG("buffer-limit:10");
	CHECK_ERR(PRE HOP "behaviours = buffer-limit:abc\n", -SD_ESYNTAX, 7);
	CHECK_ERR(PRE HOP "behaviours = buffer-limit:1024 buffer-limit:2048\n", -SD_EDUP, 7);
	CHECK_ERR(PRE HOP "behaviours = first-segment-parse:1\n", -SD_ESYNTAX, 7);

	/* Values out of range: the key, the value, the line. */
	CHECK_ERR(PRE HOP "behaviours = mtu:67\n", -SD_EVALUE, 7);
	CHECK_MSG("behaviours");
	CHECK_MSG("mtu:67");
	CHECK_MSG("68..9000");
	CHECK_ERR(PRE HOP "behaviours = mtu:9001\n", -SD_EVALUE, 7);
	CHECK_MSG("mtu:9001");
	CHECK_ERR(PRE HOP "behaviours = mtu:99999999999999999999\n", -SD_EVALUE, 7);
	CHECK_ERR(PRE HOP "behaviours = mtu:1400x\n", -SD_EVALUE, 7);
	CHECK_ERR(PRE HOP "behaviours = mtu:-1\n", -SD_EVALUE, 7);
	CHECK_ERR(PRE HOP "behaviours = mtu:\n", -SD_EVALUE, 7);
	CHECK_ERR(PRE HOP "behaviours = mtu\n", -SD_EVALUE, 7);
	CHECK_MSG("needs a value");
	CHECK_ERR(PRE HOP "behaviours = mss-clamp:87\n", -SD_EVALUE, 7);
	CHECK_MSG("mss-clamp:87");
	CHECK_ERR(PRE HOP "behaviours = mss-clamp:0\n", -SD_EVALUE, 7);
	CHECK_ERR(PRE HOP "behaviours = loss:100.01\n", -SD_EVALUE, 7);
	CHECK_MSG("loss:100.01");
	CHECK_ERR(PRE HOP "behaviours = loss:0.001\n", -SD_EVALUE, 7);
	CHECK_ERR(PRE HOP "behaviours = loss:5%\n", -SD_EVALUE, 7);
	CHECK_ERR(PRE HOP "behaviours = loss:.\n", -SD_EVALUE, 7);
	CHECK_ERR(PRE HOP "behaviours = rate:7999\n", -SD_EVALUE, 7);
	CHECK_MSG("rate:7999");
	CHECK_ERR(PRE HOP "behaviours = rate:11gbit\n", -SD_EVALUE, 7);
	CHECK_ERR(PRE HOP "behaviours = rate:10mbps\n", -SD_EVALUE, 7);
	CHECK_ERR(PRE HOP "behaviours = rate:0.0001mbit\n", -SD_EVALUE, 7);
	CHECK_ERR(PRE HOP "behaviours = rate:1.0005kbit\n", -SD_EVALUE, 7);
	CHECK_ERR(PRE HOP "behaviours = rate:99999999999999999gbit\n", -SD_EVALUE, 7);
	CHECK_ERR(PRE HOP "behaviours = icmp-filter:yes\n", -SD_EVALUE, 7);
	CHECK_MSG("takes no value");
	CHECK_ERR(PRE HOP "behaviours = drop-fragments:\n", -SD_EVALUE, 7);
	CHECK_ERR(PRE "client_mtu = 67\n", -SD_EVALUE, 6);
	CHECK_MSG("client_mtu");
	CHECK_MSG("67");
	CHECK_ERR(PRE "client_mtu = 0x5dc\n", -SD_EVALUE, 6);
	CHECK_ERR(PRE "server_advmss = 107\n", -SD_EVALUE, 6);
	CHECK_MSG("server_advmss");
	CHECK_ERR(PRE "server_advmss = lots\n", -SD_EVALUE, 6);

	/* Twice is an error: behaviours, keys, hop names, [path]. */
	CHECK_ERR(PRE HOP "behaviours = mtu:1400 icmp-filter mtu:1300\n", -SD_EDUP, 7);
	CHECK_MSG("mtu");
	CHECK_ERR(PRE HOP "behaviours = icmp-filter\nbehaviours = mtu:1400\n", -SD_EDUP, 8);
	CHECK_ERR(PRE "client_mtu = 1500\nclient_mtu = 1500\n", -SD_EDUP, 7);
	CHECK_ERR(PRE HOP "[hop b]\n[hop a]\n", -SD_EDUP, 8);
	CHECK_MSG("'a'");
	CHECK_MSG("line 6");
	CHECK_ERR(PRE HOP "[path]\n", -SD_EDUP, 7);
	/* The same key in two sections is fine. */
	CHECK_INT(parse(PRE HOP "description = x\n[hop b]\ndescription = y\n"), 0);

	/* Keys and sections that do not exist, or are out of place. */
	CHECK_ERR(PRE "colour = blue\n", -SD_EUNKNOWN, 6);
	CHECK_MSG("colour");
	CHECK_ERR(PRE "behaviours = mtu:1400\n", -SD_EUNKNOWN, 6);
	CHECK_ERR(PRE HOP "client_mtu = 1400\n", -SD_EUNKNOWN, 7);
	CHECK_ERR(PRE "[profile]\n", -SD_EUNKNOWN, 6);
	CHECK_MSG("[profile]");
	CHECK_ERR(PRE "[hops a]\n", -SD_EUNKNOWN, 6);
	CHECK_ERR("client_mtu = 1500\n[path]\n", -SD_ESYNTAX, 1);
	CHECK_MSG("client_mtu");

	/* Hop names. */
	CHECK_ERR(PRE "[hop]\n", -SD_ESYNTAX, 6);
	CHECK_MSG("[hop NAME]");
	CHECK_ERR(PRE "[hop client]\n", -SD_EVALUE, 6);
	CHECK_ERR(PRE "[hop server]\n", -SD_EVALUE, 6);
	CHECK_ERR(PRE "[hop a/b]\n", -SD_EVALUE, 6);
	CHECK_ERR(PRE "[hop a b]\n", -SD_EVALUE, 6);
	CHECK_ERR(PRE "[hop abcdefghijklmnop]\n", -SD_EVALUE, 6);
	CHECK_INT(parse(PRE "[hop abcdefghijklmno]\n"), 0);

	/* Not INI at all. */
	CHECK_ERR(PRE "this line is not a key\n", -SD_ESYNTAX, 6);
	CHECK_ERR(PRE "[hop a\n", -SD_ESYNTAX, 6);
	{
		static const char nul[] = PRE HOP "description = a\0b\n";

		CHECK_INT(sd_path_parse(nul, sizeof(nul) - 1, "user", &path, &perr), -SD_ESYNTAX);
		CHECK_INT(perr.line, 7);
		CHECK_MSG("NUL");
	}
	{
		char text[512];

		snprintf(text, sizeof(text), PRE HOP "description = %0199d\n", 0);
		CHECK_ERR(text, -SD_ESYNTAX, 7);
		CHECK_MSG("longer than 198");
	}

	/* No hop, nine hops. */
	CHECK_ERR(PRE, -SD_EVALUE, 0);
	CHECK_MSG("[hop NAME]");
	CHECK_ERR("", -SD_EVALUE, 0);
	CHECK_ERR("[hop a]\n[hop b]\n[hop c]\n[hop d]\n[hop e]\n[hop f]\n[hop g]\n[hop h]\n[hop i]\n",
		  -SD_ELIMIT, 9);

	/* An error in a continuation line is reported at its key's line,
	 * and the lines after many continuations stay right. */
	CHECK_ERR(PRE HOP "behaviours = mtu:1400,\n  icmp-filter\n  mtu:1300\n", -SD_EDUP, 7);
	CHECK_ERR(PRE HOP "behaviours = mtu:1400,\n  icmp-filter\n\n  ; c\n  loss:1\n"
		  "description = x\n[bad]\n", -SD_EUNKNOWN, 13);
	/* An indented '[' after a key continues it, as inih has it. */
	CHECK_ERR(PRE HOP "behaviours = icmp-filter\n  [hop b]\n", -SD_EUNKNOWN, 7);
	CHECK_MSG("[hop");
	/* A byte order mark is skipped. */
	CHECK_INT(parse("\xef\xbb\xbf[hop a]\nbehaviours = mtu:1400\n"), 0);
	CHECK_INT(path.hop[0].line, 1);
}

/* The user-space engine's behaviours and the inspector's, in and out. */
static void test_userspace(void)
{
	char beh[600], text[4096];
	struct sd_path again;

	CHECK_INT(parse("[hop a]\nbehaviours = delay:50 jitter:5 dup:1.5 reorder:2 truncate-segment:1000\n"
			"  seed:Abc.1_x-y userspace buffer-limit:1024 first-segment-parse mtu:1400\n"), 0);
	CHECK_INT(path.hop[0].delay_ms, 50);
	CHECK_INT(path.hop[0].jitter_ms, 5);
	CHECK_INT(path.hop[0].dup_bp, 150);
	CHECK_INT(path.hop[0].reorder_bp, 200);
	CHECK_INT(path.hop[0].truncate_len, 1000);
	CHECK_STR(path.hop[0].seed, "Abc.1_x-y");
	CHECK_INT(path.hop[0].given, SD_BEH_USERSPACE_ONLY | SD_BEH_MTU);
	CHECK_INT(path.hop[0].insp.kinds,
		  1u << SD_INSP_FIRST_SEGMENT_PARSE | 1u << SD_INSP_BUFFER_LIMIT);
	CHECK_INT(path.hop[0].insp.buffer_limit, 1024);
	CHECK(sd_path_hop_userspace(&path.hop[0]));
	/* Canonical order: the catalogue's, then the inspector's. */
	CHECK(sd_path_hop_format(&path.hop[0], beh, sizeof(beh)) > 0);
	CHECK_STR(beh, "mtu:1400 delay:50 jitter:5 dup:1.50 reorder:2 truncate-segment:1000 seed:Abc.1_x-y "
		       "userspace first-segment-parse buffer-limit:1024");
	CHECK(sd_path_format(&path, text, sizeof(text)) > 0);
	CHECK_INT(sd_path_parse(text, strlen(text), "user", &again, &perr), 0);
	again.hop[0].line = path.hop[0].line;
	again.hop[0].behaviours_line = path.hop[0].behaviours_line;
	again.client_mtu_line = path.client_mtu_line;
	CHECK(memcmp(&again, &path, sizeof(path)) == 0);

	/* What needs the engine, and what the kernel does alone. */
	CHECK_INT(parse("[hop a]\nbehaviours = mtu:1400 icmp-filter mss-clamp:1000 drop-fragments loss:5 rate:1mbit\n"
			"[hop b]\nbehaviours = seed:x\n[hop c]\nbehaviours = peek-timeout:100\n"
			"[hop d]\nbehaviours = delay:0\n[hop e]\n"), 0);
	CHECK(!sd_path_hop_userspace(&path.hop[0]));
	CHECK(sd_path_hop_userspace(&path.hop[1]));
	CHECK(sd_path_hop_userspace(&path.hop[2]));
	CHECK(sd_path_hop_userspace(&path.hop[3]));
	CHECK(!sd_path_hop_userspace(&path.hop[4]));

	/* More behaviours than fit a line: the text is cut at spaces and
	 * reads back the same. */
	CHECK_INT(parse("[hop a]\nbehaviours = mtu:1400 icmp-filter mss-clamp:1000 drop-fragments loss:5\n"
			"  rate:1mbit delay:10 jitter:10 dup:1 reorder:1 truncate-segment:2000 seed:s userspace\n"
			"  first-segment-parse partial-hello-drop first-record-in-segment buffer-limit:4096\n"
			"  segment-gap-break:20 peek-timeout:300 unknown-group-alert hrr-intolerant\n"
			"  multi-share-intolerant size-window:256-511 no-reassembly-ooo\n"
			"  record-fragmentation-blind grease-intolerant reset-on:hello>1500\n"
			"  alert-on:group:X25519MLKEM768:illegal_parameter\n"), 0);
	CHECK_INT(sd_path_format(&path, text, sizeof(text)) > 0, 1);
	for (const char *l = text; *l;) {
		const char *nl = strchr(l, '\n');

		CHECK(nl && nl - l <= 198);
		l = nl ? nl + 1 : l + strlen(l);
	}
	CHECK_INT(sd_path_parse(text, strlen(text), "user", &again, &perr), 0);
	again.hop[0].line = path.hop[0].line;
	again.hop[0].behaviours_line = path.hop[0].behaviours_line;
	again.client_mtu_line = path.client_mtu_line;
	CHECK(memcmp(&again, &path, sizeof(path)) == 0);

	/* A word too long for the key's own line (190 characters, read from
	 * a continuation line) goes on the next one. */
	{
		char in[512], host[181];

		memset(host, 'h', 180);
		host[180] = 0;
		snprintf(in, sizeof(in), "[hop a]\nbehaviours =\n  reset-on:sni:%s\n", host);
		CHECK_INT(parse(in), 0);
		CHECK_INT(path.hop[0].insp.kinds, 1u << SD_INSP_RESET_ON);
		CHECK(sd_path_format(&path, text, sizeof(text)) > 0);
		CHECK(strstr(text, "behaviours=\n reset-on:sni:") != NULL);
		CHECK_INT(sd_path_parse(text, strlen(text), "user", &again, &perr), 0);
		again.hop[0].line = path.hop[0].line;
		again.hop[0].behaviours_line = path.hop[0].behaviours_line;
		again.client_mtu_line = path.client_mtu_line;
		CHECK(memcmp(&again, &path, sizeof(path)) == 0);
	}
}

static void test_ipv6(void)
{
	CHECK_INT(parse("[hop a]\nbehaviours = mtu:1280\n"), 0);
	CHECK_INT(sd_path_check_ipv6(&path, &perr), 0);
	CHECK_INT(parse("[hop a]\n[hop b]\n# small\nbehaviours = icmp-filter mtu:1279\n"), 0);
	CHECK_INT(sd_path_check_ipv6(&path, &perr), -SD_EVALUE);
	CHECK_INT(perr.line, 4);
	CHECK_MSG("'b'");
	CHECK_MSG("1279");
	CHECK_MSG("1280");
	CHECK_INT(parse("[path]\nclient_mtu = 576\n[hop a]\n"), 0);
	CHECK_INT(sd_path_check_ipv6(&path, &perr), -SD_EVALUE);
	CHECK_INT(perr.line, 2);
	CHECK_MSG("client_mtu 576");
}

/* Long descriptions survive the trip to text and back. */
static void test_format(void)
{
	char text[4096], in[1024];
	struct sd_path again;

	char e[121], f[151];

	/* A first line of 180 characters, a continuation of 156 with a '#'
	 * inside, comments between: 323 characters, cut to 255. */
	memset(e, 'e', 120);
	e[120] = 0;
	memset(f, 'f', 150);
	f[150] = 0;
	snprintf(in, sizeof(in),
		 "[path]\ndescription=a;b c  d%40s%s\n  ;x\n  #y\n  x#y %s\n[hop a]\ndescription =%s\n",
		 "", e, f, ";starts-with-semicolon");
	CHECK_INT(parse(in), 0);
	CHECK_INT(strlen(path.description), 255);
	CHECK_STR(path.hop[0].description, ";starts-with-semicolon");
	CHECK(sd_path_format(&path, text, sizeof(text)) > 0);
	CHECK_INT(sd_path_parse(text, strlen(text), "user", &again, &perr), 0);
	CHECK_STR(again.description, path.description);
	CHECK_STR(again.hop[0].description, path.hop[0].description);
}

static void test_catalogue(void)
{
	size_t n = 0;
	unsigned bits = 0, engine = 0;

	for (const struct sd_behaviour_info *b = sd_path_behaviours; b->name; b++) {
		CHECK(b->help && b->help[0]);
		bits |= b->bit;
		if (b->userspace)
			engine |= b->bit;
		n++;
	}
	CHECK_INT(n, 14);
	CHECK_INT(bits, 0x3fff);
	CHECK_INT(engine, SD_BEH_USERSPACE_ONLY);
}

/* exec hops: the keys, their checks, and a round trip through the format. */
static void test_exec(void)
{
	struct sd_path again;
	char text[4096];

	CHECK_INT(parse("[hop lb]\nbehaviours = exec mss-clamp:1200\n"
			"exec = haproxy -f {config} -db\nconfig = haproxy.cfg\nlisten = 9443\n"), 0);
	CHECK(path.hop[0].given & SD_BEH_EXEC);
	CHECK(!sd_path_hop_userspace(&path.hop[0]));
	CHECK_STR(path.hop[0].exec, "haproxy -f {config} -db");
	CHECK_STR(path.hop[0].config, "haproxy.cfg");
	CHECK_INT(path.hop[0].listen_port, 9443);
	CHECK(sd_path_format(&path, text, sizeof(text)) > 0);
	CHECK_INT(sd_path_parse(text, strlen(text), "user", &again, &perr), 0);
	CHECK_STR(again.hop[0].exec, path.hop[0].exec);
	CHECK_STR(again.hop[0].config, "haproxy.cfg");
	CHECK_INT(again.hop[0].listen_port, 9443);
	CHECK_INT(parse("[hop lb]\nbehaviours = exec\nexec = nginx\n"), 0);
	CHECK_INT(path.hop[0].listen_port, SD_PATH_LISTEN_DEFAULT);

	CHECK_ERR("[hop lb]\nbehaviours = exec\n", -SD_EVALUE, 1);
	CHECK_MSG("needs an 'exec = COMMAND' key");
	CHECK_ERR("[hop lb]\nexec = haproxy\n", -SD_EVALUE, 1);
	CHECK_MSG("needs the behaviour exec");
	CHECK_ERR("[hop lb]\nconfig = a.cfg\n", -SD_EVALUE, 1);
	CHECK_ERR("[hop lb]\nbehaviours = exec delay:5\nexec = haproxy\n", -SD_EVALUE, 1);
	CHECK_MSG("user-space");
	CHECK_ERR("[hop lb]\nbehaviours = exec\nexec = x\nconfig = ../etc/passwd\n", -SD_EVALUE, 4);
	CHECK_ERR("[hop lb]\nbehaviours = exec\nexec = x\nlisten = 0\n", -SD_EVALUE, 4);
	CHECK_ERR("[hop lb]\nbehaviours = exec\nexec = x\nexec = y\n", -SD_EDUP, 4);
	CHECK_ERR("[path]\nexec = x\n[hop lb]\n", -SD_EUNKNOWN, 2);

	/* start_timeout: how long the program has to listen. */
	CHECK_INT(parse("[hop lb]\nbehaviours = exec\nexec = x\nstart_timeout = 1500\n"), 0);
	CHECK_INT(path.hop[0].start_ms, 1500);
	CHECK(sd_path_format(&path, text, sizeof(text)) > 0);
	CHECK_INT(sd_path_parse(text, strlen(text), "user", &again, &perr), 0);
	CHECK_INT(again.hop[0].start_ms, 1500);
	CHECK_INT(parse("[hop lb]\nbehaviours = exec\nexec = x\n"), 0);
	CHECK_INT(path.hop[0].start_ms, 0);
	CHECK_ERR("[hop lb]\nbehaviours = exec\nexec = x\nstart_timeout = 99\n", -SD_EVALUE, 4);
	CHECK_ERR("[hop lb]\nbehaviours = exec\nexec = x\nstart_timeout = 60001\n", -SD_EVALUE, 4);
	CHECK_ERR("[hop lb]\nstart_timeout = 1000\n", -SD_EVALUE, 1);
	CHECK_MSG("need the behaviour exec");
}

int main(void)
{
	test_builtins();
	test_user();
	test_errors();
	test_userspace();
	test_ipv6();
	test_format();
	test_catalogue();
	test_exec();
	return check_done();
}
