/* SPDX-License-Identifier: MIT */
/* Fuzz target: any bytes as a frame of every link type, a datagram to fragment, an address. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shakedown/buf.h"
#include "shakedown/pkt.h"

static const uint32_t linktypes[] = {
	SD_LINKTYPE_NULL, SD_LINKTYPE_ETHERNET, SD_LINKTYPE_RAW, SD_LINKTYPE_LOOP,
	SD_LINKTYPE_LINUX_SLL, SD_LINKTYPE_IPV4, SD_LINKTYPE_IPV6,
	SD_LINKTYPE_LINUX_SLL2,
};

static unsigned touch(const uint8_t *p, size_t n)
{
	unsigned s = 0;

	for (size_t i = 0; i < n; i++)
		s += p[i];
	return s;
}

static void decode_all(const uint8_t *data, size_t size)
{
	for (size_t i = 0; i < sizeof(linktypes) / sizeof(linktypes[0]); i++) {
		struct sd_pkt p;

		if (sd_pkt_decode(linktypes[i], data, size, &p) < 0)
			continue;
		(void)sd_pkt_checksum(&p);
		(void)touch(p.l3, p.l3_len);
		(void)touch(p.l4, p.l4_len);
		(void)touch(p.payload, p.payload_len);
		if (p.payload_len > p.payload_wire_len || p.l4_len > p.l4_wire_len)
			abort();
		if (p.frag && sd_pkt_decode_reassembled(&p, p.proto, p.l4, p.l4_len) == 0) {
			(void)sd_pkt_checksum(&p);
			(void)touch(p.payload, p.payload_len);
		}
	}
}

static void fragment(const uint8_t *data, size_t size)
{
	struct sd_buf out = SD_BUF_INIT;
	static size_t ends[SD_FRAG_MAX_OUT];
	int n;

	n = sd_ip4_fragment(&out, data, size, 64, ends, SD_FRAG_MAX_OUT);
	for (int i = 0; i < n; i++) {
		struct sd_pkt p;
		size_t start = i ? ends[i - 1] : 0;

		if (sd_pkt_decode(SD_LINKTYPE_IPV4, out.data + start,
				  ends[i] - start, &p) == 0 &&
		    (sd_pkt_checksum(&p) & SD_CSUM_BAD_IP))
			abort();
	}
	sd_buf_reset(&out);
	n = sd_ip6_fragment(&out, data, size, 64, 1, ends, SD_FRAG_MAX_OUT);
	for (int i = 0; i < n; i++) {
		struct sd_pkt p;
		size_t start = i ? ends[i - 1] : 0;

		if (sd_pkt_decode(SD_LINKTYPE_IPV6, out.data + start,
				  ends[i] - start, &p) == 0)
			(void)sd_pkt_checksum(&p);
	}
	sd_buf_free(&out);
}

/* Whatever parses must print, and parse back to the same address. */
static void address(const uint8_t *data, size_t size)
{
	char text[64], again[SD_ADDR_STRLEN];
	uint8_t a[16], b[16];
	int fam;

	if (size >= sizeof(text))
		size = sizeof(text) - 1;
	memcpy(text, data, size);
	text[size] = 0;
	fam = sd_addr_parse(text, a);
	if (fam < 0)
		return;
	if (sd_addr_format(fam, a, again, sizeof(again)) < 0 ||
	    sd_addr_parse(again, b) != fam || memcmp(a, b, fam == 4 ? 4 : 16))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	decode_all(data, size);
	fragment(data, size);
	address(data, size);
	return 0;
}
