/* SPDX-License-Identifier: MIT */
/*
 * The three failures Cloudflare Radar's post-quantum checker reports for a
 * server, probed on a built path: a ClientHello split over several
 * packets, a HelloRetryRequest round, and a key share the server does not
 * know. Each probe is one cell on the lab `run` built; a probe that does
 * not complete its handshake shows the failure.
 */
#include <stdio.h>
#include <string.h>

#include "detect.h"
#include "shakedown/profile.h"

struct probe {
	const char *key, *name, *profile;
	const char *shape;              /* NULL: none */
	bool grease_share_only;         /* no usable share: the server must ask */
	const char *means;              /* what a failure means */
};

static const struct probe probes[CLI_NDETECT] = {
	{ "split_clienthello", "split ClientHello", "chrome-pq", "split@key_share,gap:20", false,
	  "the server (or the path) cannot take a ClientHello that arrives in several packets" },
	{ "hrr_failure", "HRR failure", "chrome-pq", NULL, true,
	  "the handshake does not survive a HelloRetryRequest round" },
	{ "unknown_key_share", "unknown key share", "kyber-draft", NULL, false,
	  "a key share for a group the server does not know (X25519Kyber768Draft00, 0x6399) breaks the handshake" },
};

/* A probe passes when its handshake completes; the HRR probe must also
 * have gone through a HelloRetryRequest. */
static bool probe_ok(const struct probe *p, const struct sd_cell_result *r)
{
	if (r->v.outcome == SD_OK_HRR)
		return true;
	return r->v.outcome == SD_OK && !p->grease_share_only;
}

int cli_detect_run(struct sd_lab *lab, const char *seed, struct cli_detection *out, char *err, size_t errlen)
{
	static const uint16_t grease_only[] = { SD_GREASE_SLOT };
	struct sd_u16list shares;

	memset(&shares, 0, sizeof(shares));
	shares.v[0] = grease_only[0];
	shares.n = 1;
	for (size_t i = 0; i < CLI_NDETECT; i++) {
		const struct probe *p = &probes[i];
		struct cli_detection *d = &out[i];
		struct sd_hello_opts ho = { 0 };
		struct sd_cell cell = { 0 };
		struct sd_cell_result *r = &d->r;
		struct sd_profile_error perr;
		char pseed[96];
		int ret;

		memset(d, 0, sizeof(*d));
		d->key = p->key;
		d->name = p->name;
		d->means = p->means;
		if (sd_profile_builtin(p->profile, &d->profile, &perr) < 0) {
			snprintf(err, errlen, "built-in profile %s missing", p->profile);
			return -SD_EUNKNOWN;
		}
		sd_shape_init(&cell.shape);
		if (p->shape && sd_shape_parse(p->shape, &cell.shape, err, errlen) < 0)
			return -SD_EVALUE;
		if (p->grease_share_only)
			ho.shares = &shares;
		cell.profile = &d->profile;
		cell.hello_opts = &ho;
		if (seed) {
			snprintf(pseed, sizeof(pseed), "%.60s/%s", seed, p->key);
			cell.seed = pseed;
		}
		cell.ipv6 = sd_lab_ipv6(lab);
		ret = sd_lab_run(lab, &cell, r, err, errlen);
		if (ret < 0)
			return ret;
		d->exhibited = !probe_ok(p, r);
	}
	/*
	 * The unknown-key-share hello (1.7 KB) cannot help arriving in
	 * several packets; when the split probe failed too, its failure says
	 * nothing about the key share.
	 */
	if (out[0].exhibited && out[2].exhibited && out[2].r.v.segments > 1) {
		out[2].exhibited = false;
		out[2].undetermined = true;
	}
	return 0;
}

void cli_detect_free(struct cli_detection *d)
{
	for (size_t i = 0; i < CLI_NDETECT; i++)
		sd_cell_result_free(&d[i].r);
}

void cli_detect_json(struct sd_json *j, const struct cli_detection *d)
{
	sd_json_obj_open(j);
	for (size_t i = 0; i < CLI_NDETECT; i++) {
		sd_json_key(j, d[i].key);
		sd_json_obj_open(j);
		sd_json_kstr(j, "name", d[i].name);
		sd_json_kbool(j, "exhibited", d[i].exhibited);
		sd_json_kbool(j, "determined", !d[i].undetermined);
		sd_json_kstr(j, "outcome", sd_outcome_name(d[i].r.v.outcome));
		sd_json_kstr(j, "detail", d[i].r.v.detail);
		sd_json_kstr(j, "breaking", d[i].r.v.breaking[0] ? d[i].r.v.breaking : NULL);
		sd_json_kbool(j, "hrr", d[i].r.client.hrr);
		sd_json_kstr(j, "seed", d[i].r.seed);
		sd_json_obj_close(j);
	}
	sd_json_obj_close(j);
}

void cli_detect_text(struct sd_buf *b, const struct cli_detection *d)
{
	sd_buf_printf(b, "  detections (Cloudflare Radar's post-quantum checks):\n");
	for (size_t i = 0; i < CLI_NDETECT; i++) {
		sd_buf_printf(b, "    %-18s %s (%s%s)\n", d[i].name,
			      d[i].exhibited ? "FAILS" : d[i].undetermined ? "undetermined: its hello is split too" : "passes",
			      sd_outcome_name(d[i].r.v.outcome), d[i].r.client.hrr ? " after HRR" : "");
		if (d[i].exhibited)
			sd_buf_printf(b, "    %-18s %s: %s\n", "", d[i].means, d[i].r.v.detail);
	}
}

size_t cli_detect_count(const struct cli_detection *d)
{
	size_t n = 0;

	for (size_t i = 0; i < CLI_NDETECT; i++)
		n += d[i].exhibited;
	return n;
}
