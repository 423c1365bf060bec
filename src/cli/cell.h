/* SPDX-License-Identifier: MIT */
/* One cell as JSON, shared by run and matrix. */
#ifndef SD_CLI_CELL_H
#define SD_CLI_CELL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shakedown/json.h"
#include "shakedown/lab.h"

struct cli_detection;

struct cli_cell_meta {
	const char *profile, *path, *server, *shape;   /* shape: "default" when not shaped */
	bool ipv6;
	const char *expected;     /* "ok|ok-hrr", "blackhole", "any" */
	bool pass;
	const char *pcaps;        /* files written, '\n'-separated, or NULL */
	/* matrix cells only (id NULL for run) */
	size_t index;
	const char *id, *group, *rule;
	/* a real client's name (sd_client_name), or NULL: the engine */
	const char *client;
	/* run --detect: the Radar-style probes (CLI_NDETECT), or NULL */
	const struct cli_detection *detections;
	/* replay: writes the leading keys in place of profile, path, server
	 * and client (a captured connection names its own endpoints) */
	void (*head)(struct sd_json *j, const void *ctx);
	const void *head_ctx;
	/* run: write "rootless" (whether the command ran in rootless mode) */
	bool rootless_key;
};

const char *cli_group_label(uint16_t g, char *tmp, size_t n);
void cli_cell_json(struct sd_json *j, const struct cli_cell_meta *m, const struct sd_cell_result *r);

#endif
