/* SPDX-License-Identifier: MIT */
/* shakedown hello: build a ClientHello from a profile. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "shakedown/hello.h"
#include "shakedown/json.h"
#include "shakedown/profile.h"
#include "shakedown/record.h"
#include "shakedown/report.h"
#include "shakedown/tls.h"

static const char hello_usage[] =
	"usage: shakedown hello --profile NAME [options]\n"
	"\n"
	"Builds a ClientHello with real key shares (X25519, P-256/P-384 and\n"
	"ML-KEM per FIPS 203) and prints its field map, or writes it as TLS records.\n"
	"\n"
	"options:\n"
	"  -p, --profile NAME   built-in profile (see 'shakedown list profiles') or a\n"
	"                       profile file (a path containing '/' or ending in .ini)\n"
	"      --sni HOST       server_name to send ('' for none; default: the profile's)\n"
	"      --alpn LIST      ALPN protocols, comma-separated ('' for none)\n"
	"      --groups LIST    supported_groups, e.g. X25519MLKEM768,x25519,GREASE\n"
	"      --shares LIST    groups that get a key share, in order\n"
	"      --pad-to N       make the handshake message exactly N bytes, its 4-byte\n"
	"                       header included, with the padding extension (RFC 7685)\n"
	"      --records SIZES  cut the message into TLS records of these fragment sizes,\n"
	"                       comma-separated; the last size repeats (RFC 8446 §5.1)\n"
	"      --seed S         derive every random byte from S: same seed, same bytes\n"
	"                       (without it, fresh randomness; the seed is printed)\n"
	"  -o, --out FILE       write the record stream exactly as sent on the wire\n"
	"                       ('-' for standard output)\n"
	"      --json           print the field map as JSON (see docs/json.md)\n"
	"  -h, --help           this help\n"
	"\n"
	"examples:\n"
	"  shakedown hello --profile chrome-pq --sni example.com --json\n"
	"  shakedown hello --profile classic --pad-to 1500 --out hello.bin\n"
	"  shakedown hello --profile chrome-pq --records 512 --seed 1 --out - | xxd | head\n";

int cli_load_profile(const char *name, struct sd_profile *p)
{
	struct sd_profile_error err;
	uint8_t *data = NULL;
	size_t len;
	int ret;

	char pname[64];

	ret = cli_read_spec(name, "profile", &data, &len, pname, sizeof(pname));
	if (ret < 0)
		return -ret;
	if (ret == 1) {
		ret = sd_profile_parse((const char *)data, len, pname, p, &err);
		free(data);
		return ret < 0 ? cli_spec_error(name, err.line, err.msg) : 0;
	}
	ret = sd_profile_builtin(name, p, &err);
	if (ret == -SD_EUNKNOWN)
		return cli_error(SD_EXIT_USAGE,
				 "unknown profile '%s' (see 'shakedown list profiles', or give a .ini file)",
				 name);
	if (ret < 0)
		return cli_error(SD_EXIT_INTERNAL, "built-in profile %s:%d: %s", name, err.line, err.msg);
	return 0;
}

static int parse_sizes(const char *s, size_t *out, size_t max, size_t *n)
{
	*n = 0;
	while (*s) {
		char *end;
		unsigned long v;

		if (*s < '0' || *s > '9')
			return -1;
		errno = 0;
		v = strtoul(s, &end, 10);
		if (errno || v == 0 || v > SD_RECORD_PLAIN_MAX || *n == max)
			return -1;
		out[(*n)++] = v;
		s = end;
		if (*s == ',')
			s++;
		else if (*s)
			return -1;
	}
	return *n ? 0 : -1;
}

static int parse_alpn(const char *s, char (*out)[32], size_t max, size_t *n)
{
	*n = 0;
	while (*s) {
		size_t len = strcspn(s, ",");

		if (len == 0 || len > 31 || *n == max)
			return -1;
		memcpy(out[*n], s, len);
		out[(*n)++][len] = 0;
		s += len;
		if (*s == ',')
			s++;
	}
	return 0;
}

int cmd_hello(int argc, char **argv)
{
	enum { O_SNI = 256, O_ALPN, O_GROUPS, O_SHARES, O_PAD, O_RECORDS, O_SEED, O_JSON };
	static const struct option opts[] = {
		{ "profile", required_argument, NULL, 'p' },
		{ "sni", required_argument, NULL, O_SNI },
		{ "alpn", required_argument, NULL, O_ALPN },
		{ "groups", required_argument, NULL, O_GROUPS },
		{ "shares", required_argument, NULL, O_SHARES },
		{ "pad-to", required_argument, NULL, O_PAD },
		{ "records", required_argument, NULL, O_RECORDS },
		{ "seed", required_argument, NULL, O_SEED },
		{ "out", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *profile = NULL, *seed = NULL, *out = NULL, *bad;
	struct sd_hello_opts ho = { 0 };
	struct sd_u16list groups, shares;
	static struct sd_profile p;
	static struct sd_hello_state st;
	static struct sd_hello h;
	char alpn[8][32];
	size_t sizes[64], nsizes = 0;
	struct sd_buf msg = SD_BUF_INIT, wire = SD_BUF_INIT, text = SD_BUF_INIT;
	struct sd_rng rng;
	bool json = false;
	long long v;
	int c, ret, rc = SD_EXIT_INTERNAL;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "p:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': profile = optarg; break;
		case 'o': out = optarg; break;
		case O_SNI:
			if (strlen(optarg) > 255)
				return cli_error(SD_EXIT_USAGE, "--sni: host name longer than 255 bytes");
			ho.sni = optarg;
			break;
		case O_ALPN:
			if (parse_alpn(optarg, alpn, 8, &ho.nalpn) < 0)
				return cli_error(SD_EXIT_USAGE,
						 "--alpn '%s': want up to 8 comma-separated names of 1-31 bytes",
						 optarg);
			ho.alpn = (const char (*)[32])alpn;
			ho.alpn_set = true;
			break;
		case O_GROUPS:
			if (sd_profile_parse_list(optarg, SD_TLS_GROUP, &groups, &bad) < 0)
				return cli_error(SD_EXIT_USAGE, "--groups: unknown group '%s' (see 'shakedown list groups')", bad);
			ho.groups = &groups;
			break;
		case O_SHARES:
			if (sd_profile_parse_list(optarg, SD_TLS_GROUP, &shares, &bad) < 0)
				return cli_error(SD_EXIT_USAGE, "--shares: unknown group '%s' (see 'shakedown list groups')", bad);
			for (size_t i = 0; i < shares.n; i++)
				for (size_t k = 0; k < i; k++)
					if (shares.v[i] == shares.v[k])
						return cli_error(SD_EXIT_USAGE, "--shares: a group listed twice (RFC 8446 §4.2.8 forbids it)");
			ho.shares = &shares;
			break;
		case O_PAD:
			v = cli_parse_num(optarg, 1, 65535 + 4);
			if (v < 0)
				return cli_error(SD_EXIT_USAGE, "--pad-to '%s': want a size in bytes, 1-65539", optarg);
			ho.pad_to = (size_t)v;
			break;
		case O_RECORDS:
			if (parse_sizes(optarg, sizes, 64, &nsizes) < 0)
				return cli_error(SD_EXIT_USAGE,
						 "--records '%s': want comma-separated sizes of 1-16384 bytes",
						 optarg);
			break;
		case O_SEED:
			if (!*optarg || strlen(optarg) > 79)
				return cli_error(SD_EXIT_USAGE, "--seed: want 1-79 characters");
			seed = optarg;
			break;
		case O_JSON: json = true; break;
		case 'h':
			fputs(hello_usage, stdout);
			return SD_EXIT_OK;
		default:
			return cli_error(SD_EXIT_USAGE,
					 "unknown or incomplete option '%s' (see 'shakedown hello --help')",
					 argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_error(SD_EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
	if (!profile)
		return cli_error(SD_EXIT_USAGE, "--profile is required (see 'shakedown list profiles')");
	if ((ret = cli_load_profile(profile, &p)) != 0)
		return ret;
	if (out && !strcmp(out, "-") && isatty(1))
		return cli_error(SD_EXIT_USAGE, "refusing to write binary records to a terminal; use --out FILE or a pipe");
	if (out && !strcmp(out, "-") && json)
		return cli_error(SD_EXIT_USAGE, "--out - and --json both want standard output");

	ret = seed ? sd_rng_seed(&rng, seed) : sd_rng_fresh(&rng);
	if (ret < 0)
		return cli_error(SD_EXIT_ENV, "cannot seed the random generator: %s", sd_strerror(ret));
	ret = sd_hello_build(&p, &ho, &rng, &st, &msg);
	if (ret == -SD_EVALUE && ho.pad_to)
		ret = cli_error(SD_EXIT_USAGE,
				"--pad-to %zu: the ClientHello is already %zu bytes; padding needs at least %zu",
				ho.pad_to, st.unpadded_len, st.unpadded_len + 4);
	else if (ret == -SD_EUNKNOWN)
		ret = cli_error(SD_EXIT_USAGE, "a key share group has no key generation here (%s)",
				sd_strerror(ret));
	else if (ret == -SD_ELENGTH || ret == -SD_EVALUE)
		ret = cli_error(SD_EXIT_USAGE, "cannot build this ClientHello: %s", sd_strerror(ret));
	else if (ret < 0)
		ret = cli_error(SD_EXIT_INTERNAL, "building the ClientHello failed: %s", sd_strerror(ret));
	if (ret) {
		rc = ret;
		goto out;
	}
	ret = sd_record_build(&wire, SD_CT_HANDSHAKE, p.record_version, msg.data, msg.len,
			      sizes, nsizes);
	if (ret < 0) {
		rc = cli_error(SD_EXIT_INTERNAL, "building records failed: %s", sd_strerror(ret));
		goto out;
	}
	/* Report from what went on the wire, parsed back: the dissector and
	 * the builder then have to agree on every byte. */
	ret = sd_hello_parse(msg.data, msg.len, &h);
	if (ret < 0) {
		rc = cli_error(SD_EXIT_INTERNAL, "built a ClientHello that does not parse: %s",
			       sd_strerror(ret));
		goto out;
	}
	if (out && (ret = cli_write_file(out, wire.data, wire.len)) < 0) {
		rc = cli_error(SD_EXIT_USAGE, "cannot write %s: %s", out, sd_strerror(ret));
		goto out;
	}
	if (!out || strcmp(out, "-")) {
		uint16_t recs[1024];
		struct sd_hello_report r = {
			.profile = p.name, .seed = rng.seed, .records = recs,
			.wire_length = wire.len,
		};
		size_t left = msg.len;

		for (size_t i = 0; left && r.nrecords < 1024; i++) {
			size_t want = nsizes ? sizes[i < nsizes ? i : nsizes - 1] : SD_RECORD_PLAIN_MAX;
			size_t n = left < want ? left : want;

			recs[r.nrecords++] = (uint16_t)n;
			left -= n;
		}
		if (json) {
			struct sd_json j;

			sd_json_init(&j, &text, true);
			sd_report_hello_json(&j, &h, &r);
		} else {
			sd_report_hello_text(&text, &h, &r);
			if (out)
				sd_buf_printf(&text, "  written to         %s\n", out);
		}
		if (sd_buf_error(&text) < 0 || cli_stdout(&text) < 0) {
			rc = cli_error(SD_EXIT_INTERNAL, "cannot write the report");
			goto out;
		}
	}
	rc = SD_EXIT_OK;
out:
	sd_hello_state_clear(&st);
	sd_buf_free(&msg);
	sd_buf_free(&wire);
	sd_buf_free(&text);
	return rc;
}
