/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: a real client's link captures (shakedown/observed.h). The
 * input is frames, each a flags byte (bit 0: toward the client, bit 1:
 * seen elsewhere on the path), a 2-byte big-endian length and an Ethernet
 * frame; judged as IPv4 and IPv6 connections to port 443.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shakedown/observed.h"

#define MAX_FRAMES 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sd_vd_pkt pkts[MAX_FRAMES];
	static const uint8_t s4[16] = { 10, 0, 1, 2 };
	static const uint8_t s6[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2 };
	struct sd_observed o;
	size_t n = 0;

	for (size_t i = 0; i + 3 <= size && n < MAX_FRAMES;) {
		size_t len = (size_t)data[i + 1] << 8 | data[i + 2];
		struct sd_vd_pkt *p = &pkts[n++];

		memset(p, 0, sizeof(*p));
		p->out = data[i] & 1;
		p->node = (data[i] & 2) ? 1 : 0;
		p->ts_ns = 1000000000ull + n * 1000000ull;
		i += 3;
		if (len > size - i)
			len = size - i;
		p->frame = data + i;
		p->len = len;
		i += len;
	}
	for (int fam = 4; fam <= 6; fam += 2) {
		if (sd_observed_build(pkts, n, fam, fam == 4 ? s4 : s6, 443, 0, 0, &o) < 0)
			continue;
		if (o.flight_len && !o.flight)
			abort();
		if (o.hello && (o.hello_len < 4 || o.hello_len > o.flight_len))
			abort();
		if (o.client.nsegs > SD_VD_MAX_SEGS || o.nrecords > SD_OBSERVED_MAX_RECORDS)
			abort();
		if (o.decided && !o.decided_by[0])
			abort();
		sd_observed_free(&o);
	}
	return 0;
}
