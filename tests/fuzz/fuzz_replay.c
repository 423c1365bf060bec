/* SPDX-License-Identifier: MIT */
/* Fuzz target: any bytes as a capture, planned for replay; plans must hold together. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shakedown/replay.h"

static unsigned touch(const uint8_t *p, size_t n)
{
	unsigned s = 0;

	for (size_t i = 0; i < n; i++)
		s += p[i];
	return s;
}

/* A flight's segments tile its range exactly, in order. */
static void check_flight(const struct sd_replay_flight *f, size_t stream_len)
{
	size_t at = f->start;
	char sizes[64];

	if (f->nseg > SD_REPLAY_MAX_SEGS || f->start + f->len > stream_len)
		abort();
	for (size_t i = 0; i < f->nseg; i++) {
		if (f->seg[i].off != at || !f->seg[i].len || f->seg[i].gap_us > SD_REPLAY_GAP_MAX_US)
			abort();
		at += f->seg[i].len;
	}
	if (at != f->start + f->len)
		abort();
	sd_replay_sizes(f, sizes, sizeof(sizes));
	if (strlen(sizes) >= sizeof(sizes))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sd_replay_plan p;
	char err[256];
	int ret = sd_replay_plan_build(data, size, &p, err, sizeof(err));

	if (ret < 0) {
		if (!err[0] || p.n || p.conns)
			abort();
		return 0;
	}
	if ((size_t)ret != p.n || !p.n || p.n > SD_REPLAY_MAX_CONNS)
		abort();
	for (size_t i = 0; i < p.n; i++) {
		const struct sd_replay_conn *c = &p.conns[i];

		if (c->hello_len < 4 || c->first.start || c->first.len > c->stream_len ||
		    c->nrecords > SD_REPLAY_MAX_RECORDS || (c->has_retry && !c->hrr))
			abort();
		(void)touch(c->stream, c->stream_len);
		(void)touch(c->hello, c->hello_len);
		check_flight(&c->first, c->stream_len);
		if (c->has_retry && (c->retry.start != c->first.len ||
				     c->retry.start + c->retry.len != c->stream_len))
			abort();
		if (c->has_retry)
			check_flight(&c->retry, c->stream_len);
	}
	sd_replay_plan_free(&p);
	return 0;
}
