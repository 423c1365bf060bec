/* SPDX-License-Identifier: MIT */
/* Fuzz target: any bytes as a TLS record stream, and every hello reassembled from it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shakedown/hello.h"
#include "shakedown/record.h"
#include "shakedown/tls.h"

static volatile unsigned sink;

static void touch(const uint8_t *p, size_t n)
{
	unsigned s = 0;

	for (size_t i = 0; i < n; i++)
		s += p[i];
	sink += s;
}

static void flight(const uint8_t *data, size_t size)
{
	static struct sd_flight f;
	static struct sd_hello h;
	struct sd_server_hello s;
	uint16_t lens[SD_FLIGHT_MAX_RECORDS];
	int n = sd_flight_parse(data, size, &f);

	if (n < 0) {
		/* A failed parse owns nothing. */
		if (f.hs.data || f.nmsgs)
			abort();
		return;
	}
	if ((size_t)n != f.nmsgs || f.consumed > size || f.nrecords > SD_FLIGHT_MAX_RECORDS)
		abort();
	for (size_t i = 0; i < f.nrecords; i++)
		if (f.records[i].offset + SD_RECORD_HDR + f.records[i].len > f.consumed)
			abort();
	for (size_t i = 0; i < f.nmsgs; i++) {
		const struct sd_hs_msg *m = &f.msgs[i];
		const uint8_t *p = sd_flight_msg(&f, i);
		size_t k, nrec, covered = 0;

		if (!p || m->hs_offset + m->len > f.hs.len || m->len < 4 || p[0] != m->type)
			abort();
		touch(p, m->len);
		/* The records said to carry the message do carry all of it. */
		nrec = sd_flight_msg_records(&f, i, lens, SD_FLIGHT_MAX_RECORDS);
		if (nrec != m->rec_count || nrec == 0)
			abort();
		for (k = 0; k < nrec; k++)
			covered += lens[k];
		if (covered < m->len)
			abort();
		if (f.records[m->rec_first].hs_offset > m->hs_offset)
			abort();
		if (m->type == SD_HS_CLIENT_HELLO && sd_hello_parse(p, m->len, &h) == 0)
			touch(h.random, 32);
		if (m->type == SD_HS_SERVER_HELLO && sd_server_hello_parse(p, m->len, &s) == 0)
			touch(s.random, 32);
	}
	if (sd_flight_msg(&f, f.nmsgs) != NULL)
		abort();
	sd_flight_free(&f);
}

/* Whatever bytes go into sd_record_build come back out of sd_record_parse,
 * cut at the sizes asked for. */
static void round_trip(const uint8_t *data, size_t size)
{
	struct sd_buf out = SD_BUF_INIT;
	struct sd_cursor c;
	size_t sizes[2], done = 0;

	if (size < 3)
		return;
	sizes[0] = 1 + data[0] * 16u;
	sizes[1] = 1 + (size_t)data[1] * 61u;
	data += 2;
	size -= 2;
	if (sd_record_build(&out, SD_CT_HANDSHAKE, SD_TLS10, data, size, sizes, 2) < 0)
		abort();
	sd_cursor_init(&c, out.data, out.len);
	for (size_t i = 0; sd_cursor_left(&c); i++) {
		struct sd_record r;
		size_t want = sizes[i < 2 ? i : 1];

		if (sd_record_parse(&c, &r) < 0 || r.type != SD_CT_HANDSHAKE)
			abort();
		if (r.len != (size - done < want ? size - done : want))
			abort();
		if (memcmp(r.frag, data + done, r.len) != 0)
			abort();
		done += r.len;
	}
	if (done != size)
		abort();
	sd_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	flight(data, size);
	round_trip(data, size);
	return 0;
}
