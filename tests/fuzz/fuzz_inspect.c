/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: behaviour items, then a flow of segments through the
 * inspector. Input: one byte P (a preset config, below), one byte K, K
 * bytes of behaviour items (split at spaces, commas, newlines), then
 * operations, each a 6-byte header and a payload:
 *   flags  bit0 direction (1: server to client), bit1 a tick instead of a
 *          segment, bit2 an explicit sequence offset, bit3 time in seconds
 *   len    big-endian, the payload's length (cut to what is left)
 *   dt     time since the last operation, in half milliseconds (seconds
 *          with bit3)
 *   seq    big-endian signed offset from the direction's next byte (bit2)
 * Invariants: items parse back from their canonical text; decisions are
 * final and fresh once; verdicts are well formed; ticks ask again later.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shakedown/inspect.h"

static const char *const presets[] = {
	"first-segment-parse unknown-group-alert hrr-intolerant",
	"partial-hello-drop multi-share-intolerant grease-intolerant",
	"first-record-in-segment buffer-limit:1024 reset-on:hello-split",
	"buffer-limit:64 segment-gap-break peek-timeout:200 alert-on:group:X25519MLKEM768:47",
	"segment-gap-break:1 size-window:256-511 record-fragmentation-blind reset-on:hrr",
	"no-reassembly-ooo alert-on:hrr:40 reset-on:records>2",
	"peek-timeout:1 reset-on:sni:example.com alert-on:hello>1500:decode_error",
	"unknown-group-alert multi-share-intolerant grease-intolerant alert-on:group:GREASE:0",
};

static int items(const char *text, size_t len, struct sd_insp_config *c)
{
	char buf[1024], msg[200];
	size_t i = 0;

	memset(c, 0, sizeof(*c));
	while (i < len) {
		size_t n = 0;
		struct sd_insp_config before;
		int ret;

		while (i + n < len && !strchr(" ,\n", text[i + n]) && text[i + n])
			n++;
		if (n >= sizeof(buf))
			n = sizeof(buf) - 1;
		memcpy(buf, text + i, n);
		buf[n] = 0;
		i += n + 1;
		before = *c;
		msg[0] = 0;
		ret = sd_insp_parse(buf, c, msg, sizeof(msg));
		if (!memchr(msg, 0, sizeof(msg)))
			abort();
		if (ret == 1)
			continue;
		if (ret != 0 && ret != -SD_ESYNTAX && ret != -SD_EVALUE && ret != -SD_EDUP)
			abort();
		/* An error says why; nothing changes on error or for a foreign item. */
		if ((ret < 0 && !msg[0]) || (ret == 0 && msg[0]) || memcmp(c, &before, sizeof(*c)))
			abort();
	}
	return 0;
}

/* parse(format(c)) == c */
static void round_trip(const struct sd_insp_config *c)
{
	struct sd_insp_config b;
	char txt[2048];
	int n = sd_insp_format(c, txt, sizeof(txt));

	if (n < 0 || (size_t)n != strlen(txt))
		abort();
	items(txt, (size_t)n, &b);
	if (memcmp(c, &b, sizeof(b)))
		abort();
}

static enum sd_insp_act act_of(const struct sd_insp_config *c, int kind, uint8_t *alert)
{
	*alert = 0;
	switch (kind) {
	case SD_INSP_PARTIAL_HELLO_DROP: case SD_INSP_SIZE_WINDOW:
	case SD_INSP_NO_REASSEMBLY_OOO: case SD_INSP_RECORD_FRAG_BLIND:
		return SD_INSP_DROP;
	case SD_INSP_SEGMENT_GAP_BREAK: case SD_INSP_GREASE_INTOLERANT:
		return SD_INSP_CLOSE;
	case SD_INSP_UNKNOWN_GROUP_ALERT:
		*alert = 47;
		return SD_INSP_ALERT;
	case SD_INSP_MULTI_SHARE_INTOLERANT:
		*alert = 40;
		return SD_INSP_ALERT;
	case SD_INSP_ALERT_ON:
		*alert = c->alert_code;
		return SD_INSP_ALERT;
	}
	return SD_INSP_RESET;
}

struct flow {
	const struct sd_insp_config *c;
	struct sd_insp *s;
	bool decided;
	struct sd_insp_verdict final;
};

static void verdict(struct flow *f, const struct sd_insp_verdict *v)
{
	uint8_t alert;

	if (!memchr(v->why, 0, sizeof(v->why)) || (unsigned)v->act > SD_INSP_ALERT)
		abort();
	if (f->decided) {
		if (v->fresh || v->act != f->final.act || v->kind != f->final.kind ||
		    v->alert_desc != f->final.alert_desc || strcmp(v->why, f->final.why))
			abort();
		return;
	}
	if (v->act == SD_INSP_FORWARD) {
		if (v->kind != -1 || v->why[0] || v->fresh || v->alert_desc)
			abort();
		return;
	}
	if (!v->fresh || v->kind < 0 || v->kind >= SD_INSP_KIND_MAX || !(f->c->kinds & (1u << v->kind)) ||
	    !v->why[0] || act_of(f->c, v->kind, &alert) != v->act || alert != v->alert_desc)
		abort();
	f->decided = true;
	f->final = *v;
}

static void flow(const struct sd_insp_config *c, const uint8_t *data, size_t size)
{
	struct flow f = { c, NULL, false, { 0 } };
	uint32_t next[2] = { 0, 0 };
	uint64_t t = 0;

	if (sd_insp_new(c, &f.s) != 0)
		abort();
	while (size >= 6) {
		uint8_t flags = data[0];
		size_t len = (size_t)data[1] << 8 | data[2];
		uint64_t dt = flags & 8 ? data[3] * 1000000ull : data[3] * 500ull;
		int16_t delta = (int16_t)(data[4] << 8 | data[5]);
		int dir = flags & 1;
		struct sd_insp_verdict v;
		uint32_t seq;

		data += 6;
		size -= 6;
		if (len > size)
			len = size;
		t += dt;
		if (flags & 2) {
			uint64_t again = sd_insp_tick(f.s, t, &v);

			verdict(&f, &v);
			if ((again && again <= t) || ((f.decided) && again))
				abort();
			continue;
		}
		seq = flags & 4 ? next[dir] + (uint32_t)(int32_t)delta : next[dir];
		sd_insp_segment(f.s, dir, seq, data, len, t, &v);
		verdict(&f, &v);
		if (seq + len > next[dir] && seq - next[dir] < 0x80000000u)
			next[dir] = seq + (uint32_t)len;
		data += len;
		size -= len;
	}
	sd_insp_free(f.s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sd_insp_config c, p;
	const char *pre;
	size_t k;

	if (size < 2)
		return 0;
	pre = presets[data[0] % (sizeof(presets) / sizeof(presets[0]))];
	items(pre, strlen(pre), &p);
	k = data[1];
	if (k > size - 2)
		k = size - 2;
	items((const char *)data + 2, k, &c);
	round_trip(&c);
	round_trip(&p);
	flow(&c, data + 2 + k, size - 2 - k);
	flow(&p, data + 2 + k, size - 2 - k);
	return 0;
}
