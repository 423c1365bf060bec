/* SPDX-License-Identifier: MIT */
/* Fuzz target: any bytes as a capture file, through the reader and flow reassembly. */
#include <stdint.h>
#include <stdlib.h>

#include "shakedown/capture.h"
#include "shakedown/flow.h"
#include "shakedown/pkt.h"

/* Reads every byte handed out, so a bad length shows up under ASan. */
static unsigned touch(const uint8_t *p, size_t n)
{
	unsigned s = 0;

	for (size_t i = 0; i < n; i++)
		s += p[i];
	return s;
}

static void check_dir(const struct sd_flow_dir *d)
{
	if (d->len > SD_FLOW_MAX_STREAM || d->hole != (d->len < d->seen_end) ||
	    d->nsegs > SD_FLOW_MAX_SEGS || (d->cut && d->cut_at > SD_FLOW_MAX_STREAM))
		abort();
	(void)touch(d->stream, d->len);
	for (uint32_t i = 0; i < d->nsegs; i++)
		if (d->segs[i].caplen > d->segs[i].len)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sd_flowset set;
	struct sd_capture *cap = malloc(sizeof(*cap));
	struct sd_capture_pkt cp;
	int ret;

	if (cap && sd_capture_open(cap, data, size) == 0) {
		while ((ret = sd_capture_next(cap, &cp)) > 0) {
			struct sd_pkt p;

			(void)touch(cp.data, cp.caplen);
			if (sd_pkt_decode(cp.linktype, cp.data, cp.caplen, &p) == 0) {
				(void)sd_pkt_checksum(&p);
				(void)touch(p.payload, p.payload_len);
			}
		}
	}
	free(cap);
	ret = sd_flows_from_capture(data, size, &set);
	if (ret < 0)
		return 0;
	if ((size_t)ret != set.n || set.n > SD_FLOW_MAX)
		abort();
	for (size_t i = 0; i < set.n; i++) {
		check_dir(&set.flows[i].cli);
		check_dir(&set.flows[i].srv);
	}
	sd_flowset_free(&set);
	return 0;
}
