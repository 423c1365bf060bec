/* SPDX-License-Identifier: MIT */
/* Radar-style detections for `run --detect`: split ClientHello, HRR failure, unknown key share. */
#ifndef SD_CLI_DETECT_H
#define SD_CLI_DETECT_H

#include <stdbool.h>
#include <stddef.h>

#include "shakedown/json.h"
#include "shakedown/lab.h"
#include "shakedown/report.h"

#define CLI_NDETECT 3

struct cli_detection {
	const char *key, *name, *means;
	bool exhibited;                 /* the server/path shows this failure */
	bool undetermined;              /* masked by another failure */
	struct sd_profile profile;
	struct sd_cell_result r;
};

/* Runs the three probes on lab (seeded from seed when not NULL). */
int cli_detect_run(struct sd_lab *lab, const char *seed, struct cli_detection *out, char *err, size_t errlen);
void cli_detect_free(struct cli_detection *d);
void cli_detect_json(struct sd_json *j, const struct cli_detection *d);
void cli_detect_text(struct sd_buf *b, const struct cli_detection *d);
size_t cli_detect_count(const struct cli_detection *d);

#endif
