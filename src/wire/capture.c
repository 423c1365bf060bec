/* SPDX-License-Identifier: MIT */
/* pcap and pcapng readers over an in-memory file, and a classic pcap writer. */
#include <string.h>

#include "shakedown/capture.h"

/* draft-ietf-opsawg-pcap §4 */
#define PCAP_MAGIC_USEC 0xa1b2c3d4u
#define PCAP_MAGIC_NSEC 0xa1b23c4du
#define PCAP_HDR_LEN 24
#define PCAP_REC_LEN 16

/* draft-ietf-opsawg-pcapng §4, §11.1 */
#define PCAPNG_SHB 0x0a0d0d0au
#define PCAPNG_BOM 0x1a2b3c4du
#define PCAPNG_IDB 1u
#define PCAPNG_PB 2u        /* obsolete Packet Block (Appendix A) */
#define PCAPNG_SPB 3u
#define PCAPNG_EPB 6u
#define PCAPNG_OPT_END 0
#define PCAPNG_IF_TSRESOL 9
#define PCAPNG_IF_TSOFFSET 14
#define PCAPNG_DEFAULT_TSRESOL 6    /* microseconds */

static int rd16(const struct sd_capture *cap, struct sd_cursor *c, uint16_t *v)
{
	int ret = sd_cursor_u16(c, v);

	if (ret == 0 && cap->le)
		*v = __builtin_bswap16(*v);
	return ret;
}

static int rd32(const struct sd_capture *cap, struct sd_cursor *c, uint32_t *v)
{
	int ret = sd_cursor_u32(c, v);

	if (ret == 0 && cap->le)
		*v = __builtin_bswap32(*v);
	return ret;
}

static int rd64(const struct sd_capture *cap, struct sd_cursor *c, uint64_t *v)
{
	uint32_t a, b;

	if (rd32(cap, c, &a) < 0 || rd32(cap, c, &b) < 0)
		return -SD_ETRUNC;
	*v = cap->le ? (uint64_t)b << 32 | a : (uint64_t)a << 32 | b;
	return 0;
}

/* Units of if_tsresol (a power of 10, or of 2 with the top bit) to ns. */
static uint64_t ts_to_ns(uint64_t units, uint8_t resol)
{
	unsigned e = resol & 0x7f;
	uint64_t p = 1;

	if (resol & 0x80)
		return (uint64_t)(((unsigned __int128)units * 1000000000u) >> e);
	if (e <= 9) {
		for (unsigned i = e; i < 9; i++)
			p *= 10;
		return units * p;
	}
	if (e - 9 > 19)
		return 0;
	for (unsigned i = 9; i < e; i++)
		p *= 10;
	return units / p;
}

/* A Section Header Block at cap->c: sets the byte order, forgets interfaces. */
static int read_shb(struct sd_capture *cap)
{
	struct sd_cursor t = cap->c, blk;
	struct sd_capture probe = { .le = false };
	uint32_t bom, len, tail;
	uint16_t major;

	if (sd_cursor_skip(&t, 4) < 0 || sd_cursor_u32(&t, &len) < 0 ||
	    sd_cursor_u32(&t, &bom) < 0)
		return -SD_ETRUNC;
	if (bom == PCAPNG_BOM)
		probe.le = false;
	else if (bom == __builtin_bswap32(PCAPNG_BOM))
		probe.le = true;
	else
		return -SD_EFORMAT;
	if (probe.le)
		len = __builtin_bswap32(len);
	if (rd16(&probe, &t, &major) < 0)
		return -SD_ETRUNC;
	if (major != 1)
		return -SD_EFORMAT;
	if (len < 28 || len % 4)
		return -SD_ELENGTH;
	t = cap->c;
	if (sd_cursor_sub(&t, len, &blk) < 0)
		return -SD_ETRUNC;
	if (sd_cursor_skip(&blk, len - 4) < 0 || rd32(&probe, &blk, &tail) < 0)
		return -SD_ETRUNC;
	if (tail != len)
		return -SD_ELENGTH;
	cap->le = probe.le;
	cap->nifs = 0;
	cap->sections++;
	cap->c = t;
	return 0;
}

int sd_capture_open(struct sd_capture *cap, const uint8_t *file, size_t len)
{
	struct sd_cursor t;
	uint32_t magic, snaplen, linktype;
	uint16_t major, minor;

	memset(cap, 0, sizeof(*cap));
	sd_cursor_init(&cap->c, file, len);
	t = cap->c;
	if (sd_cursor_u32(&t, &magic) < 0)
		return -SD_EFORMAT;
	switch (magic) {
	case PCAPNG_SHB:
		cap->format = SD_CAPTURE_PCAPNG;
		return read_shb(cap);
	case PCAP_MAGIC_USEC:
	case PCAP_MAGIC_NSEC:
		break;
	case __builtin_bswap32(PCAP_MAGIC_USEC):
	case __builtin_bswap32(PCAP_MAGIC_NSEC):
		cap->le = true;
		magic = __builtin_bswap32(magic);
		break;
	default:
		return -SD_EFORMAT;
	}
	cap->format = SD_CAPTURE_PCAP;
	cap->nsec = magic == PCAP_MAGIC_NSEC;
	/* version, thiszone, sigfigs, snaplen, link type */
	if (rd16(cap, &t, &major) < 0 || rd16(cap, &t, &minor) < 0 || sd_cursor_skip(&t, 8) < 0 ||
	    rd32(cap, &t, &snaplen) < 0 || rd32(cap, &t, &linktype) < 0)
		return -SD_ETRUNC;
	if (major != 2)
		return -SD_EFORMAT;
	/* As libpcap reads them: files before 2.3 have len before caplen,
	 * and some 2.3 writers did the same. */
	cap->lens_swapped = minor < 3 ? 2 : minor == 3 ? 1 : 0;
	/* the top bits of the link type field carry FCS information */
	cap->ifs[0].linktype = linktype & 0xffff;
	cap->ifs[0].snaplen = snaplen;
	cap->nifs = 1;
	cap->c = t;
	return 0;
}

static int pcap_next(struct sd_capture *cap, struct sd_capture_pkt *pkt)
{
	struct sd_cursor t = cap->c;
	uint32_t sec, frac, caplen, origlen;
	const uint8_t *data;

	if (!sd_cursor_left(&t))
		return 0;
	if (rd32(cap, &t, &sec) < 0 || rd32(cap, &t, &frac) < 0 ||
	    rd32(cap, &t, &caplen) < 0 || rd32(cap, &t, &origlen) < 0)
		return -SD_ETRUNC;
	if (cap->lens_swapped == 2 || (cap->lens_swapped == 1 && caplen > origlen)) {
		uint32_t l = caplen;

		caplen = origlen;
		origlen = l;
	}
	if (caplen > SD_CAPTURE_MAX_CAPLEN)
		return -SD_ELENGTH;
	if (sd_cursor_bytes(&t, caplen, &data) < 0)
		return -SD_ETRUNC;
	pkt->linktype = cap->ifs[0].linktype;
	pkt->ts_ns = (uint64_t)sec * 1000000000u + (uint64_t)frac * (cap->nsec ? 1 : 1000);
	pkt->data = data;
	pkt->caplen = caplen;
	pkt->origlen = origlen;
	pkt->ifindex = 0;
	cap->c = t;
	return 1;
}

static int read_idb(struct sd_capture *cap, struct sd_cursor *b)
{
	struct sd_capture_if ifc = { .tsresol = PCAPNG_DEFAULT_TSRESOL };
	uint16_t linktype, code, olen;

	if (rd16(cap, b, &linktype) < 0 || sd_cursor_skip(b, 2) < 0 ||
	    rd32(cap, b, &ifc.snaplen) < 0)
		return -SD_ELENGTH;
	ifc.linktype = linktype;
	while (sd_cursor_left(b) >= 4) {
		struct sd_cursor v;
		uint64_t off;
		bool last;

		if (rd16(cap, b, &code) < 0 || rd16(cap, b, &olen) < 0)
			return -SD_ELENGTH;
		if (code == PCAPNG_OPT_END)
			break;
		if (sd_cursor_sub(b, olen, &v) < 0)
			return -SD_ELENGTH;
		/* values are padded to 32 bits; a missing final pad is tolerated */
		last = sd_cursor_skip(b, (4 - olen % 4) % 4) < 0;
		if (code == PCAPNG_IF_TSRESOL && olen == 1) {
			if (sd_cursor_u8(&v, &ifc.tsresol) < 0)
				return -SD_ELENGTH;
		} else if (code == PCAPNG_IF_TSOFFSET && olen == 8) {
			if (rd64(cap, &v, &off) < 0)
				return -SD_ELENGTH;
			ifc.tsoffset = (int64_t)off;
		}
		if (last)
			break;
	}
	if (cap->nifs >= SD_CAPTURE_MAX_IFS)
		return -SD_ELIMIT;
	cap->ifs[cap->nifs++] = ifc;
	return 0;
}

static void set_pkt(const struct sd_capture *cap, struct sd_capture_pkt *pkt,
		    uint32_t ifid, uint32_t tsh, uint32_t tsl)
{
	const struct sd_capture_if *ifc = &cap->ifs[ifid];

	pkt->ifindex = ifid;
	pkt->linktype = ifc->linktype;
	pkt->ts_ns = ts_to_ns((uint64_t)tsh << 32 | tsl, ifc->tsresol) +
		     (uint64_t)ifc->tsoffset * 1000000000u;
}

/* Enhanced Packet Block (§4.3) or the obsolete Packet Block (Appendix A). */
static int read_epb(struct sd_capture *cap, struct sd_cursor *b, bool old,
		    struct sd_capture_pkt *pkt)
{
	uint32_t ifid, tsh, tsl, caplen, origlen;
	uint16_t ifid16;

	if (old) {
		if (rd16(cap, b, &ifid16) < 0 || sd_cursor_skip(b, 2) < 0)
			return -SD_ELENGTH;
		ifid = ifid16;
	} else if (rd32(cap, b, &ifid) < 0) {
		return -SD_ELENGTH;
	}
	if (rd32(cap, b, &tsh) < 0 || rd32(cap, b, &tsl) < 0 ||
	    rd32(cap, b, &caplen) < 0 || rd32(cap, b, &origlen) < 0)
		return -SD_ELENGTH;
	if (ifid >= cap->nifs)
		return -SD_EVALUE;
	if (caplen > SD_CAPTURE_MAX_CAPLEN ||
	    sd_cursor_bytes(b, caplen, &pkt->data) < 0)
		return -SD_ELENGTH;
	pkt->caplen = caplen;
	pkt->origlen = origlen;
	set_pkt(cap, pkt, ifid, tsh, tsl);
	return 1;
}

/* Simple Packet Block (§4.4): interface 0, length from its snaplen. */
static int read_spb(struct sd_capture *cap, struct sd_cursor *b,
		    struct sd_capture_pkt *pkt)
{
	uint32_t origlen, caplen;

	if (rd32(cap, b, &origlen) < 0)
		return -SD_ELENGTH;
	if (!cap->nifs)
		return -SD_EVALUE;
	caplen = origlen;
	if (cap->ifs[0].snaplen && cap->ifs[0].snaplen < caplen)
		caplen = cap->ifs[0].snaplen;
	if (caplen > SD_CAPTURE_MAX_CAPLEN ||
	    sd_cursor_bytes(b, caplen, &pkt->data) < 0)
		return -SD_ELENGTH;
	pkt->caplen = caplen;
	pkt->origlen = origlen;
	pkt->ifindex = 0;
	pkt->linktype = cap->ifs[0].linktype;
	pkt->ts_ns = 0;
	return 1;
}

static int pcapng_next(struct sd_capture *cap, struct sd_capture_pkt *pkt)
{
	for (;;) {
		struct sd_cursor t = cap->c, blk, body;
		uint32_t type, len, tail;
		int ret;

		if (!sd_cursor_left(&t))
			return 0;
		if (rd32(cap, &t, &type) < 0)
			return -SD_ETRUNC;
		if (type == PCAPNG_SHB) {
			ret = read_shb(cap);
			if (ret < 0)
				return ret;
			continue;
		}
		if (rd32(cap, &t, &len) < 0)
			return -SD_ETRUNC;
		if (len < 12 || len % 4)
			return -SD_ELENGTH;
		t = cap->c;
		if (sd_cursor_sub(&t, len, &blk) < 0)
			return -SD_ETRUNC;
		if (sd_cursor_skip(&blk, 8) < 0 ||
		    sd_cursor_sub(&blk, len - 12, &body) < 0 ||
		    rd32(cap, &blk, &tail) < 0)
			return -SD_ETRUNC;
		if (tail != len)
			return -SD_ELENGTH;
		switch (type) {
		case PCAPNG_IDB:
			ret = read_idb(cap, &body);
			break;
		case PCAPNG_EPB:
			ret = read_epb(cap, &body, false, pkt);
			break;
		case PCAPNG_PB:
			ret = read_epb(cap, &body, true, pkt);
			break;
		case PCAPNG_SPB:
			ret = read_spb(cap, &body, pkt);
			break;
		default:
			/* name resolution, statistics, custom blocks: not ours */
			ret = 0;
			break;
		}
		if (ret < 0)
			return ret;
		cap->c = t;
		if (ret > 0)
			return 1;
	}
}

int sd_capture_next(struct sd_capture *cap, struct sd_capture_pkt *pkt)
{
	if (cap->format == SD_CAPTURE_PCAP)
		return pcap_next(cap, pkt);
	if (cap->format == SD_CAPTURE_PCAPNG)
		return pcapng_next(cap, pkt);
	return -SD_EFORMAT;
}

int sd_pcap_write_header(struct sd_buf *b, uint32_t linktype, uint32_t snaplen)
{
	sd_buf_u32(b, PCAP_MAGIC_NSEC);
	sd_buf_u16(b, 2);
	sd_buf_u16(b, 4);
	sd_buf_u32(b, 0);
	sd_buf_u32(b, 0);
	sd_buf_u32(b, snaplen);
	sd_buf_u32(b, linktype);
	return sd_buf_error(b);
}

int sd_pcap_write_record(struct sd_buf *b, uint64_t ts_ns, const uint8_t *data,
			 uint32_t caplen, uint32_t origlen)
{
	/* 32-bit seconds: the classic format runs out in 2106 */
	sd_buf_u32(b, (uint32_t)(ts_ns / 1000000000u));
	sd_buf_u32(b, (uint32_t)(ts_ns % 1000000000u));
	sd_buf_u32(b, caplen);
	sd_buf_u32(b, origlen);
	sd_buf_put(b, data, caplen);
	return sd_buf_error(b);
}

int sd_pcap_write_packet(struct sd_buf *b, uint64_t ts_ns, const uint8_t *data,
			 uint32_t len)
{
	return sd_pcap_write_record(b, ts_ns, data, len, len);
}
