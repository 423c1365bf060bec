/* SPDX-License-Identifier: MIT */
/* Fuzz target: any bytes as path text; what parses is in range and reads back from its own text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shakedown/path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void in_range(const struct sd_path *p)
{
	if (p->nhops < 1 || p->nhops > SD_PATH_MAX_HOPS)
		abort();
	if (p->client_mtu < SD_PATH_MTU_MIN || p->client_mtu > SD_PATH_MTU_MAX)
		abort();
	if (p->server_advmss < SD_PATH_ADVMSS_MIN || p->server_advmss > SD_PATH_MTU_MAX)
		abort();
	for (size_t i = 0; i < p->nhops; i++) {
		const struct sd_path_hop *h = &p->hop[i];

		if (!h->name[0] || memchr(h->name, 0, sizeof(h->name)) == NULL)
			abort();
		if (h->mtu < SD_PATH_MTU_MIN || h->mtu > SD_PATH_MTU_MAX)
			abort();
		if (h->mss_clamp && (h->mss_clamp < SD_PATH_MSS_MIN || h->mss_clamp > SD_PATH_MTU_MAX))
			abort();
		if (h->loss_bp > 10000)
			abort();
		if (h->rate_bps && (h->rate_bps < 8000 || h->rate_bps > 10000000000ull))
			abort();
		if (h->delay_ms > SD_PATH_DELAY_MAX || h->jitter_ms > SD_PATH_DELAY_MAX ||
		    h->dup_bp > 10000 || h->reorder_bp > 10000 || h->truncate_len > SD_PATH_TRUNCATE_MAX)
			abort();
		if (memchr(h->seed, 0, sizeof(h->seed)) == NULL || !!(h->given & SD_BEH_SEED) != !!h->seed[0])
			abort();
		if (((h->given & SD_BEH_USERSPACE_ONLY) || h->insp.kinds) != sd_path_hop_userspace(h))
			abort();
		for (size_t k = 0; k < i; k++)
			if (strcmp(p->hop[k].name, h->name) == 0)
				abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sd_path p, again;
	static char text[16384];
	struct sd_path_error err;
	int ret;

	ret = sd_path_parse((const char *)data, size, "fuzz", &p, &err);
	if (memchr(err.msg, 0, sizeof(err.msg)) == NULL || err.line < 0)
		abort();
	if (ret < 0) {
		/* Every failure says why, with one of the documented codes. */
		if (!err.msg[0])
			abort();
		if (ret != -SD_ESYNTAX && ret != -SD_EUNKNOWN && ret != -SD_EVALUE &&
		    ret != -SD_EDUP && ret != -SD_ELIMIT)
			abort();
		return 0;
	}
	in_range(&p);
	if (sd_path_check_ipv6(&p, &err) < 0 && (!err.msg[0] || !strstr(err.msg, "1280")))
		abort();
	/* Its own text parses back into the same path, lines aside. */
	if (sd_path_format(&p, text, sizeof(text)) < 0)
		abort();
	if (sd_path_parse(text, strlen(text), "fuzz", &again, &err) != 0)
		abort();
	again.client_mtu_line = p.client_mtu_line;
	for (size_t i = 0; i < SD_PATH_MAX_HOPS; i++) {
		again.hop[i].line = p.hop[i].line;
		again.hop[i].behaviours_line = p.hop[i].behaviours_line;
	}
	if (memcmp(&again, &p, sizeof(p)) != 0)
		abort();
	return 0;
}
