/* SPDX-License-Identifier: MIT */
/* Fuzz target: any bytes as a --shape spec; what parses formats back to itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shakedown/shape.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sd_shape a, b;
	struct sd_shape_piece pieces[64];
	size_t cuts[SD_SHAPE_MAX_SPLITS], idx[64];
	char spec[1024], err[200], txt[4096];
	int ret, n, m;

	if (size >= sizeof(spec))
		size = sizeof(spec) - 1;
	memcpy(spec, data, size);
	spec[size] = 0;
	ret = sd_shape_parse(spec, &a, err, sizeof(err));
	if (memchr(err, 0, sizeof(err)) == NULL)
		abort();
	if (ret < 0) {
		if (ret != -SD_ESYNTAX && ret != -SD_EVALUE)
			abort();
		if (err[0] == 0 || a.nsplit || a.records || a.gap_ms)
			abort();
		return 0;
	}
	if (a.nsplit > SD_SHAPE_MAX_SPLITS || a.ipfrag % 8 || a.gap_ms > SD_SHAPE_GAP_MAX_MS ||
	    a.records > SD_SHAPE_RECORD_MAX)
		abort();
	/* The canonical text parses back to the same shape. */
	n = sd_shape_format(&a, txt, sizeof(txt));
	if (n < 0 || (size_t)n != strlen(txt))
		abort();
	if (sd_shape_parse(txt, &b, err, sizeof(err)) != 0 || memcmp(&a, &b, sizeof(a)) != 0)
		abort();
	/* The plan covers a flight exactly, in order, and never exceeds the MSS. */
	for (size_t i = 0; i < a.nsplit; i++)
		cuts[i] = a.split[i].offset;
	m = sd_shape_cut(0, 1931, cuts, a.nsplit, 536, pieces, 64);
	if (m < 0)
		abort();
	for (int i = 0, at = 0; i < m; i++) {
		if (pieces[i].off != (size_t)at || !pieces[i].len || pieces[i].len > 536)
			abort();
		at += (int)pieces[i].len;
		if (i == m - 1 && at != 1931)
			abort();
	}
	sd_shape_order_apply(a.order, idx, (size_t)m);
	for (int i = 0; i < m; i++) {
		size_t seen = 0;

		for (int k = 0; k < m; k++)
			seen += idx[k] == (size_t)i;
		if (seen != 1)
			abort();
	}
	return 0;
}
