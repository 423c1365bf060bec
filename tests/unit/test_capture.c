/* SPDX-License-Identifier: MIT */
/* pcap and pcapng reading and writing, and TCP flow reassembly from captures. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "shakedown/capture.h"
#include "shakedown/flow.h"
#include "shakedown/pkt.h"

/* A byte-order-aware writer for hand-made files. */
struct w {
	struct sd_buf b;
	bool le;
};

static void w8(struct w *w, uint8_t v)
{
	sd_buf_u8(&w->b, v);
}

static void w16(struct w *w, uint16_t v)
{
	sd_buf_u16(&w->b, w->le ? __builtin_bswap16(v) : v);
}

static void w32(struct w *w, uint32_t v)
{
	sd_buf_u32(&w->b, w->le ? __builtin_bswap32(v) : v);
}

static void pcap_hdr(struct w *w, uint32_t magic, uint32_t snaplen, uint32_t lt)
{
	w32(w, magic);
	w16(w, 2);
	w16(w, 4);
	w32(w, 0);
	w32(w, 0);
	w32(w, snaplen);
	w32(w, lt);
}

static void pcap_rec(struct w *w, uint32_t sec, uint32_t frac,
		     const uint8_t *d, uint32_t caplen, uint32_t origlen)
{
	w32(w, sec);
	w32(w, frac);
	w32(w, caplen);
	w32(w, origlen);
	sd_buf_put(&w->b, d, caplen);
}

static const uint8_t pkt_a[] = { 0xaa, 0xbb, 0xcc };
static const uint8_t pkt_b[] = { 1, 2, 3, 4, 5, 6, 7 };

static void test_pcap_orders(void)
{
	for (int le = 0; le < 2; le++) {
		for (int ns = 0; ns < 2; ns++) {
			struct w w = { SD_BUF_INIT, le };
			struct sd_capture cap;
			struct sd_capture_pkt p;

			pcap_hdr(&w, ns ? 0xa1b23c4d : 0xa1b2c3d4, 262144, 1);
			pcap_rec(&w, 1700000000, ns ? 123456789 : 123456, pkt_a, 3, 60);
			pcap_rec(&w, 1700000001, 5, pkt_b, 7, 7);
			CHECK_INT(sd_capture_open(&cap, w.b.data, w.b.len), 0);
			CHECK_INT(cap.format, SD_CAPTURE_PCAP);
			CHECK_INT(cap.le, le);
			CHECK_INT(sd_capture_next(&cap, &p), 1);
			CHECK_INT(p.linktype, 1);
			CHECK_INT(p.ts_ns, 1700000000ull * 1000000000u +
					   (ns ? 123456789u : 123456000u));
			CHECK_INT(p.caplen, 3);
			CHECK_INT(p.origlen, 60);
			CHECK_MEM(p.data, pkt_a, 3);
			CHECK_INT(sd_capture_next(&cap, &p), 1);
			CHECK_INT(p.ts_ns, 1700000001ull * 1000000000u + (ns ? 5 : 5000));
			CHECK_MEM(p.data, pkt_b, 7);
			CHECK_INT(sd_capture_next(&cap, &p), 0);
			CHECK_INT(sd_capture_next(&cap, &p), 0);

			/* cut inside the last record, then inside its header */
			CHECK_INT(sd_capture_open(&cap, w.b.data, w.b.len - 1), 0);
			CHECK_INT(sd_capture_next(&cap, &p), 1);
			CHECK_INT(sd_capture_next(&cap, &p), -SD_ETRUNC);
			CHECK_INT(sd_capture_next(&cap, &p), -SD_ETRUNC);
			CHECK_INT(sd_capture_open(&cap, w.b.data, w.b.len - 7 - 5), 0);
			CHECK_INT(sd_capture_next(&cap, &p), 1);
			CHECK_INT(sd_capture_next(&cap, &p), -SD_ETRUNC);
			CHECK_INT(sd_capture_open(&cap, w.b.data, 23), -SD_ETRUNC);
			CHECK_INT(sd_capture_open(&cap, w.b.data, 24), 0);
			CHECK_INT(sd_capture_next(&cap, &p), 0);
			sd_buf_free(&w.b);
		}
	}
}

static void test_pcap_errors(void)
{
	struct sd_capture cap;
	struct sd_capture_pkt p;
	struct w w = { SD_BUF_INIT, true };
	const uint8_t garbage[] = "hello, world: not a capture";

	CHECK_INT(sd_capture_open(&cap, NULL, 0), -SD_EFORMAT);
	CHECK_INT(sd_capture_open(&cap, garbage, 0), -SD_EFORMAT);
	CHECK_INT(sd_capture_open(&cap, garbage, 3), -SD_EFORMAT);
	CHECK_INT(sd_capture_open(&cap, garbage, sizeof(garbage)), -SD_EFORMAT);
	/* version 3 is not a format we know */
	w32(&w, 0xa1b2c3d4);
	w16(&w, 3);
	sd_buf_zero(&w.b, 18);
	CHECK_INT(sd_capture_open(&cap, w.b.data, w.b.len), -SD_EFORMAT);
	sd_buf_reset(&w.b);
	/* a record bigger than any snaplen */
	pcap_hdr(&w, 0xa1b2c3d4, 65535, 1);
	w32(&w, 0);
	w32(&w, 0);
	w32(&w, SD_CAPTURE_MAX_CAPLEN + 1);
	w32(&w, 10);
	CHECK_INT(sd_capture_open(&cap, w.b.data, w.b.len), 0);
	CHECK_INT(sd_capture_next(&cap, &p), -SD_ELENGTH);
	sd_buf_free(&w.b);
}

static void test_pcap_writer(void)
{
	struct sd_buf b = SD_BUF_INIT;
	struct sd_capture cap;
	struct sd_capture_pkt p;

	CHECK_INT(sd_pcap_write_header(&b, 276, 96), 0);
	CHECK_MEM(b.data, ((uint8_t[]){ 0xa1, 0xb2, 0x3c, 0x4d, 0, 2, 0, 4 }), 8);
	CHECK_INT(sd_pcap_write_packet(&b, 1234567890123456789ull, pkt_b, 7), 0);
	CHECK_INT(sd_pcap_write_record(&b, 5, pkt_a, 2, 1500), 0);
	CHECK_INT(b.len, 24 + 16 + 7 + 16 + 2);
	CHECK_INT(sd_capture_open(&cap, b.data, b.len), 0);
	CHECK(cap.nsec);
	CHECK_INT(cap.ifs[0].snaplen, 96);
	CHECK_INT(sd_capture_next(&cap, &p), 1);
	CHECK_INT(p.linktype, 276);
	CHECK_INT(p.ts_ns, 1234567890123456789ull);
	CHECK_INT(p.caplen, 7);
	CHECK_MEM(p.data, pkt_b, 7);
	CHECK_INT(sd_capture_next(&cap, &p), 1);
	CHECK_INT(p.ts_ns, 5);
	CHECK_INT(p.caplen, 2);
	CHECK_INT(p.origlen, 1500);
	CHECK_INT(sd_capture_next(&cap, &p), 0);
	sd_buf_free(&b);
}

/* pcapng blocks (draft-ietf-opsawg-pcapng) */
static size_t blk_open(struct w *w, uint32_t type)
{
	size_t mark = w->b.len;

	w32(w, type);
	w32(w, 0);
	return mark;
}

static void blk_close(struct w *w, size_t mark)
{
	uint32_t len;

	while ((w->b.len - mark) % 4)
		w8(w, 0);
	len = (uint32_t)(w->b.len - mark + 4);
	w32(w, len);
	if (!w->b.err) {
		uint32_t v = w->le ? __builtin_bswap32(len) : len;

		for (int i = 0; i < 4; i++)
			w->b.data[mark + 4 + i] = (uint8_t)(v >> (24 - 8 * i));
	}
}

static void shb(struct w *w)
{
	size_t m = blk_open(w, 0x0a0d0d0a);

	w32(w, 0x1a2b3c4d);
	w16(w, 1);
	w16(w, 0);
	w32(w, 0xffffffff);
	w32(w, 0xffffffff);
	/* shb_userappl, to have an option to skip */
	w16(w, 4);
	w16(w, 4);
	sd_buf_put(&w->b, "test", 4);
	w16(w, 0);
	w16(w, 0);
	blk_close(w, m);
}

static void idb(struct w *w, uint16_t lt, uint32_t snaplen, int tsresol)
{
	size_t m = blk_open(w, 1);

	w16(w, lt);
	w16(w, 0);
	w32(w, snaplen);
	w16(w, 2);      /* if_name, padded */
	w16(w, 3);
	sd_buf_put(&w->b, "lo\0\0", 4);
	if (tsresol >= 0) {
		w16(w, 9);
		w16(w, 1);
		w8(w, (uint8_t)tsresol);
		sd_buf_zero(&w->b, 3);
	}
	w16(w, 0);
	w16(w, 0);
	blk_close(w, m);
}

static void epb(struct w *w, uint32_t ifid, uint64_t ts, const uint8_t *d,
		uint32_t caplen, uint32_t origlen)
{
	size_t m = blk_open(w, 6);

	w32(w, ifid);
	w32(w, (uint32_t)(ts >> 32));
	w32(w, (uint32_t)ts);
	w32(w, caplen);
	w32(w, origlen);
	sd_buf_put(&w->b, d, caplen);
	blk_close(w, m);
}

static void test_pcapng(void)
{
	struct w w = { SD_BUF_INIT, true };
	struct sd_capture cap;
	struct sd_capture_pkt p;
	size_t m, good_len;

	shb(&w);
	idb(&w, 1, 65535, 9);           /* nanoseconds */
	epb(&w, 0, 1700000000123456789ull, pkt_a, 3, 3);
	m = blk_open(&w, 3);            /* SPB: length from the block */
	w32(&w, 7);
	sd_buf_put(&w.b, pkt_b, 7);
	blk_close(&w, m);
	m = blk_open(&w, 0x00000bad);   /* unknown: skipped */
	w32(&w, 42);
	blk_close(&w, m);
	idb(&w, 101, 0, -1);            /* default: microseconds */
	m = blk_open(&w, 2);            /* obsolete Packet Block */
	w16(&w, 1);
	w16(&w, 0);
	w32(&w, 0);
	w32(&w, 1000001);
	w32(&w, 3);
	w32(&w, 3);
	sd_buf_put(&w.b, pkt_a, 3);
	blk_close(&w, m);
	idb(&w, 228, 0, 0x80 | 10);     /* 2^-10 s */
	epb(&w, 2, 1024 * 3 + 512, pkt_b, 5, 7);
	/* a second section, other byte order: interfaces start over */
	w.le = false;
	shb(&w);
	idb(&w, 229, 128, 3);           /* milliseconds */
	epb(&w, 0, 1500, pkt_b, 7, 7);
	good_len = w.b.len;

	CHECK_INT(sd_capture_open(&cap, w.b.data, w.b.len), 0);
	CHECK_INT(cap.format, SD_CAPTURE_PCAPNG);
	CHECK_INT(sd_capture_next(&cap, &p), 1);
	CHECK_INT(p.linktype, 1);
	CHECK_INT(p.ifindex, 0);
	CHECK_INT(p.ts_ns, 1700000000123456789ull);
	CHECK_MEM(p.data, pkt_a, 3);
	CHECK_INT(sd_capture_next(&cap, &p), 1);
	CHECK_INT(p.caplen, 7);
	CHECK_INT(p.origlen, 7);
	CHECK_MEM(p.data, pkt_b, 7);
	CHECK_INT(sd_capture_next(&cap, &p), 1);
	CHECK_INT(p.linktype, 101);
	CHECK_INT(p.ifindex, 1);
	CHECK_INT(p.ts_ns, 1000001000ull);
	CHECK_INT(sd_capture_next(&cap, &p), 1);
	CHECK_INT(p.linktype, 228);
	CHECK_INT(p.ifindex, 2);
	CHECK_INT(p.ts_ns, 3500000000ull);
	CHECK_INT(p.caplen, 5);
	CHECK_INT(p.origlen, 7);
	CHECK_INT(sd_capture_next(&cap, &p), 1);
	CHECK_INT(cap.sections, 2);
	CHECK_INT(cap.le, 0);
	CHECK_INT(p.linktype, 229);
	CHECK_INT(p.ifindex, 0);
	CHECK_INT(p.ts_ns, 1500000000ull);
	CHECK_INT(sd_capture_next(&cap, &p), 0);

	/* the file ends inside the last block */
	for (size_t cut = good_len - 1; cut > good_len - 40; cut -= 3) {
		int ret;

		CHECK_INT(sd_capture_open(&cap, w.b.data, cut), 0);
		while ((ret = sd_capture_next(&cap, &p)) > 0)
			;
		CHECK_INT(ret, -SD_ETRUNC);
	}
	CHECK_INT(sd_capture_open(&cap, w.b.data, 20), -SD_ETRUNC);

	/* an EPB on an interface of the first section, after the second began */
	epb(&w, 1, 0, pkt_a, 3, 3);
	CHECK_INT(sd_capture_open(&cap, w.b.data, w.b.len), 0);
	for (int i = 0; i < 5; i++)
		CHECK_INT(sd_capture_next(&cap, &p), 1);
	CHECK_INT(sd_capture_next(&cap, &p), -SD_EVALUE);
	sd_buf_free(&w.b);

	/* lengths that do not add up */
	w = (struct w){ SD_BUF_INIT, false };
	shb(&w);
	idb(&w, 1, 0, -1);
	m = w.b.len;
	epb(&w, 0, 0, pkt_a, 3, 3);
	w.b.data[m + 7] = 30;       /* not a multiple of 4 */
	CHECK_INT(sd_capture_open(&cap, w.b.data, w.b.len), 0);
	CHECK_INT(sd_capture_next(&cap, &p), -SD_ELENGTH);
	w.b.data[m + 7] = 40;       /* the trailing copy says 36 */
	w32(&w, 0);
	CHECK_INT(sd_capture_open(&cap, w.b.data, w.b.len), 0);
	CHECK_INT(sd_capture_next(&cap, &p), -SD_ELENGTH);
	w.b.data[m + 7] = 8;        /* shorter than a block can be */
	CHECK_INT(sd_capture_open(&cap, w.b.data, w.b.len), 0);
	CHECK_INT(sd_capture_next(&cap, &p), -SD_ELENGTH);
	w.b.data[m + 7] = 36;
	w.b.len -= 4;
	CHECK_INT(sd_capture_open(&cap, w.b.data, w.b.len), 0);
	CHECK_INT(sd_capture_next(&cap, &p), 1);
	w.b.data[m + 8 + 15] = 200; /* caplen beyond the block */
	CHECK_INT(sd_capture_open(&cap, w.b.data, w.b.len), 0);
	CHECK_INT(sd_capture_next(&cap, &p), -SD_ELENGTH);
	/* a byte-order mark that is neither */
	w.b.data[8] = 0x55;
	CHECK_INT(sd_capture_open(&cap, w.b.data, w.b.len), -SD_EFORMAT);
	sd_buf_free(&w.b);
}

/* --- flows --- */

struct cap {
	struct sd_buf b;
	uint64_t ts;
};

static const uint8_t cli4[4] = { 192, 0, 2, 1 }, srv4[4] = { 198, 51, 100, 7 };

static void seg(struct cap *c, bool from_cli, uint16_t cport, uint16_t sport,
		uint32_t seq, uint32_t ack, uint8_t flags, const uint8_t *pl,
		size_t len)
{
	struct sd_ip_spec ip = { .family = 4 };
	struct sd_tcp_spec t = { .seq = seq, .ack = ack, .flags = flags,
				 .window = 1000 };
	struct sd_buf p = SD_BUF_INIT;

	memcpy(ip.src, from_cli ? cli4 : srv4, 4);
	memcpy(ip.dst, from_cli ? srv4 : cli4, 4);
	t.sport = from_cli ? cport : sport;
	t.dport = from_cli ? sport : cport;
	if (flags & SD_TCP_SYN)
		t.opt = (struct sd_tcp_opts){ .has_mss = true,
			.mss = from_cli ? 1460 : 1380 };
	CHECK(sd_build_tcp(&p, &ip, &t, pl, len) > 0);
	c->ts += 1000;
	CHECK_INT(sd_pcap_write_packet(&c->b, c->ts, p.data, (uint32_t)p.len), 0);
	sd_buf_free(&p);
}

static void cap_init(struct cap *c, uint32_t snaplen)
{
	sd_buf_init(&c->b);
	c->ts = 0;
	CHECK_INT(sd_pcap_write_header(&c->b, SD_LINKTYPE_RAW, snaplen), 0);
}

static void test_flow_reassembly(void)
{
	struct cap c;
	struct sd_flowset set;
	uint8_t data[500], other[10];
	const uint32_t isn = 0xffffff80, sisn = 1000;   /* the client wraps */
	const uint32_t b0 = isn + 1;
	struct sd_flow *f;

	for (int i = 0; i < 500; i++)
		data[i] = (uint8_t)(i ^ 0x5a);
	memset(other, 0xee, sizeof(other));
	cap_init(&c, 65535);
	seg(&c, true, 40000, 443, isn, 0, SD_TCP_SYN, NULL, 0);
	seg(&c, false, 40000, 443, sisn, b0, SD_TCP_SYN | SD_TCP_ACK, NULL, 0);
	seg(&c, true, 40000, 443, b0, sisn + 1, SD_TCP_ACK, NULL, 0);
	seg(&c, true, 40000, 443, b0, sisn + 1, SD_TCP_ACK, data, 100);           /* 0 */
	seg(&c, true, 40000, 443, b0 + 200, sisn + 1, SD_TCP_ACK, data + 200, 100); /* 1: OOO */
	seg(&c, true, 40000, 443, b0 + 100, sisn + 1, SD_TCP_ACK, data + 100, 100); /* 2: fills */
	seg(&c, true, 40000, 443, b0, sisn + 1, SD_TCP_ACK, data, 100);           /* 3: retrans */
	seg(&c, true, 40000, 443, b0 + 50, sisn + 1, SD_TCP_ACK, data + 50, 100); /* 4: retrans */
	seg(&c, true, 40000, 443, b0 + 250, sisn + 1, SD_TCP_ACK, data + 250, 100); /* 5: overlap */
	seg(&c, true, 40000, 443, b0, sisn + 1, SD_TCP_ACK, other, 10);           /* 6: conflict */
	seg(&c, true, 40000, 443, b0 + 400, sisn + 1, SD_TCP_ACK, data + 400, 50); /* 7: OOO, hole */
	seg(&c, false, 40000, 443, sisn + 1, b0 + 350, SD_TCP_ACK | SD_TCP_PSH, data, 20);
	seg(&c, false, 40000, 443, sisn + 21, b0 + 350, SD_TCP_RST, NULL, 0);
	CHECK_INT(sd_flows_from_capture(c.b.data, c.b.len, &set), 1);
	f = &set.flows[0];
	CHECK_INT(f->family, 4);
	CHECK_INT(f->client_by, SD_FLOW_BY_SYN);
	CHECK(f->syn_seen);
	CHECK_MEM(f->cli.addr, cli4, 4);
	CHECK_INT(f->cli.port, 40000);
	CHECK_INT(f->srv.port, 443);
	CHECK_INT(f->cli.isn, isn);
	CHECK_INT(f->srv.isn, sisn);
	CHECK_INT(f->cli.base, b0);
	CHECK(f->cli.syn_opts.has_mss && f->cli.syn_opts.mss == 1460);
	CHECK(f->srv.syn_opts.has_mss && f->srv.syn_opts.mss == 1380);
	CHECK_INT(f->cli.len, 350);
	CHECK_MEM(f->cli.stream, data, 350);
	CHECK(f->cli.hole);
	CHECK_INT(f->cli.seen_end, 450);
	CHECK_INT(f->cli.packets, 10);
	CHECK_INT(f->cli.nsegs, 8);
	CHECK_INT(f->cli.segs[0].rel, 0);
	CHECK_INT(f->cli.segs[0].flags, 0);
	CHECK_INT(f->cli.segs[1].rel, 200);
	CHECK_INT(f->cli.segs[1].flags, SD_SEG_OOO);
	CHECK_INT(f->cli.segs[2].flags, 0);
	CHECK_INT(f->cli.segs[3].flags, SD_SEG_RETRANS);
	CHECK_INT(f->cli.segs[4].flags, SD_SEG_RETRANS);
	CHECK_INT(f->cli.segs[5].flags, SD_SEG_OVERLAP);
	CHECK_INT(f->cli.segs[6].flags, SD_SEG_RETRANS | SD_SEG_CONFLICT);
	CHECK_INT(f->cli.segs[7].flags, SD_SEG_OOO);
	CHECK_INT(f->cli.segs[7].rel, 400);
	CHECK_INT(f->cli.segs[2].ts_ns, 6000);
	CHECK(!f->cli.rst && f->srv.rst);
	CHECK(!f->cli.fin && !f->srv.fin);
	CHECK_INT(f->srv.len, 20);
	CHECK(!f->srv.hole);
	CHECK_INT(f->srv.packets, 3);
	CHECK(!f->snaplen_cut);
	sd_flowset_free(&set);
	sd_buf_free(&c.b);
}

static void test_flow_sides(void)
{
	struct cap c;
	struct sd_flowset set;
	const uint8_t hello[] = { 0x16, 0x03, 0x01, 0x00, 0x01, 0x01 };
	const uint8_t appdata[] = { 0x17, 0x03, 0x03, 0x00, 0x01, 0x00 };

	/* no handshake captured: the server speaks first, the client sends 0x16 */
	cap_init(&c, 65535);
	seg(&c, false, 50000, 8443, 7000, 9000, SD_TCP_ACK, appdata, 6);
	seg(&c, true, 50000, 8443, 9000, 7006, SD_TCP_ACK, hello, 6);
	/* nothing to go by but ports: the higher one is the client */
	seg(&c, false, 1000, 2000, 1, 1, SD_TCP_ACK, appdata, 6);
	/* a SYN-ACK names the server */
	seg(&c, false, 3000, 2000, 77, 5, SD_TCP_SYN | SD_TCP_ACK, NULL, 0);
	seg(&c, true, 3000, 2000, 5, 78, SD_TCP_ACK, appdata, 6);
	CHECK_INT(sd_flows_from_capture(c.b.data, c.b.len, &set), 3);
	CHECK_INT(set.flows[0].client_by, SD_FLOW_BY_TLS);
	CHECK_INT(set.flows[0].cli.port, 50000);
	CHECK_MEM(set.flows[0].cli.addr, cli4, 4);
	CHECK_INT(set.flows[0].cli.base, 9000);
	CHECK_INT(set.flows[0].cli.len, 6);
	CHECK_INT(set.flows[0].srv.base, 7000);
	CHECK(!set.flows[0].syn_seen);
	CHECK_INT(set.flows[1].client_by, SD_FLOW_BY_PORT);
	CHECK_INT(set.flows[1].cli.port, 2000);
	CHECK_MEM(set.flows[1].cli.addr, srv4, 4);
	CHECK_INT(set.flows[2].client_by, SD_FLOW_BY_SYNACK);
	CHECK_INT(set.flows[2].cli.port, 3000);
	CHECK_INT(set.flows[2].srv.isn, 77);
	CHECK_INT(set.flows[2].srv.base, 78);
	CHECK_INT(set.flows[2].cli.base, 5);
	CHECK_INT(set.flows[2].cli.len, 6);
	sd_flowset_free(&set);
	sd_buf_free(&c.b);

	/* a 4-tuple used again after FIN: two flows */
	cap_init(&c, 65535);
	for (int k = 0; k < 2; k++) {
		uint32_t s = 100 + 1000000 * (uint32_t)k;

		seg(&c, true, 40001, 443, s, 0, SD_TCP_SYN, NULL, 0);
		seg(&c, false, 40001, 443, 9, s + 1, SD_TCP_SYN | SD_TCP_ACK, NULL, 0);
		seg(&c, true, 40001, 443, s + 1, 10, SD_TCP_ACK | SD_TCP_PSH, hello, 6);
		seg(&c, true, 40001, 443, s + 7, 10, SD_TCP_ACK | SD_TCP_FIN, NULL, 0);
		seg(&c, false, 40001, 443, 10, s + 8, SD_TCP_ACK | SD_TCP_FIN, NULL, 0);
	}
	/* and a retransmitted SYN that starts nothing new */
	seg(&c, true, 40002, 443, 5, 0, SD_TCP_SYN, NULL, 0);
	seg(&c, true, 40002, 443, 5, 0, SD_TCP_SYN, NULL, 0);
	CHECK_INT(sd_flows_from_capture(c.b.data, c.b.len, &set), 3);
	for (int k = 0; k < 2; k++) {
		CHECK_INT(set.flows[k].cli.isn, 100 + 1000000 * k);
		CHECK_INT(set.flows[k].cli.len, 6);
		CHECK(set.flows[k].cli.fin && set.flows[k].srv.fin);
		CHECK(!set.flows[k].cli.hole);
		CHECK_INT(set.flows[k].cli.seen_end, 6);
		CHECK_INT(set.flows[k].srv.packets, 2);
	}
	CHECK_INT(set.flows[2].cli.packets, 2);
	sd_flowset_free(&set);
	sd_buf_free(&c.b);
}

static void test_flow_snaplen(void)
{
	struct cap c;
	struct sd_flowset set;
	uint8_t big[1000];
	struct sd_buf p = SD_BUF_INIT;
	struct sd_ip_spec ip = { .family = 4 };
	struct sd_tcp_spec t = { .sport = 40000, .dport = 443, .seq = 1,
				 .flags = SD_TCP_ACK };

	memset(big, 0x16, sizeof(big));
	memcpy(ip.src, cli4, 4);
	memcpy(ip.dst, srv4, 4);
	cap_init(&c, 200);
	seg(&c, true, 40000, 443, 0, 0, SD_TCP_SYN, NULL, 0);
	CHECK(sd_build_tcp(&p, &ip, &t, big, sizeof(big)) > 0);
	CHECK_INT(sd_pcap_write_record(&c.b, 5000, p.data, 200, (uint32_t)p.len), 0);
	/* cut inside the TCP header: counted, not attributed */
	CHECK_INT(sd_pcap_write_record(&c.b, 6000, p.data, 30, (uint32_t)p.len), 0);
	CHECK_INT(sd_flows_from_capture(c.b.data, c.b.len, &set), 1);
	CHECK_INT(set.cut, 2);
	CHECK(set.flows[0].snaplen_cut);
	CHECK(set.flows[0].cli.cut);
	CHECK_INT(set.flows[0].cli.cut_at, 160);
	CHECK_INT(set.flows[0].cli.len, 160);
	CHECK(set.flows[0].cli.hole);
	CHECK_INT(set.flows[0].cli.seen_end, 1000);
	CHECK_INT(set.flows[0].cli.segs[0].flags, SD_SEG_CUT);
	CHECK_INT(set.flows[0].cli.segs[0].len, 1000);
	CHECK_INT(set.flows[0].cli.segs[0].caplen, 160);
	sd_flowset_free(&set);
	sd_buf_free(&c.b);
	sd_buf_free(&p);
}

static void test_flow_limits(void)
{
	struct cap c;
	struct sd_flowset set;
	struct sd_buf p = SD_BUF_INIT;
	struct sd_ip_spec ip = { .family = 4, .id = 1 };
	uint8_t junk[64] = { 0 };
	int i;

	/* one flow more than kept */
	cap_init(&c, 65535);
	for (i = 0; i <= SD_FLOW_MAX; i++)
		seg(&c, true, (uint16_t)(1024 + i), 443, 1, 0, SD_TCP_SYN, NULL, 0);
	CHECK_INT(sd_flows_from_capture(c.b.data, c.b.len, &set), SD_FLOW_MAX);
	CHECK_INT(set.flows_dropped, 1);
	CHECK_INT(set.flows[SD_FLOW_MAX - 1].cli.port, 1024 + SD_FLOW_MAX - 1);
	sd_flowset_free(&set);
	sd_buf_free(&c.b);

	/* more pending reassemblies than kept: the oldest go */
	cap_init(&c, 65535);
	memcpy(ip.src, cli4, 4);
	memcpy(ip.dst, srv4, 4);
	for (i = 0; i < SD_FLOW_MAX_FRAG_PENDING + 6; i++) {
		ip.id = (uint16_t)i;
		sd_buf_reset(&p);
		CHECK(sd_build_ip(&p, &ip, SD_IPPROTO_TCP, junk, sizeof(junk)) > 0);
		p.data[6] = 0x20;       /* MF */
		CHECK_INT(sd_pcap_write_packet(&c.b, 1, p.data, (uint32_t)p.len), 0);
	}
	/* a non-final fragment that is not a multiple of 8 */
	p.data[3] -= 1;
	CHECK_INT(sd_pcap_write_packet(&c.b, 1, p.data, (uint32_t)p.len - 1), 0);
	CHECK_INT(sd_flows_from_capture(c.b.data, c.b.len, &set), 0);
	CHECK_INT(set.fragments, SD_FLOW_MAX_FRAG_PENDING + 7);
	CHECK_INT(set.frags_dropped, 7);
	CHECK_INT(set.malformed, 0);
	sd_flowset_free(&set);

	/* non-TCP and non-IP frames are counted and skipped */
	sd_buf_reset(&c.b);
	CHECK_INT(sd_pcap_write_header(&c.b, SD_LINKTYPE_ETHERNET, 65535), 0);
	{
		const uint8_t arp[42] = { [12] = 0x08, [13] = 0x06 };
		struct sd_buf e = SD_BUF_INIT;
		static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 1 };

		CHECK_INT(sd_pcap_write_packet(&c.b, 1, arp, sizeof(arp)), 0);
		CHECK_INT(sd_build_eth(&e, mac, mac, SD_ETHERTYPE_IPV4), 14);
		CHECK(sd_build_udp(&e, &ip, 53, 53, junk, 4) > 0);
		CHECK_INT(sd_pcap_write_packet(&c.b, 2, e.data, (uint32_t)e.len), 0);
		CHECK_INT(sd_pcap_write_packet(&c.b, 3, e.data, 20), 0);
		sd_buf_free(&e);
	}
	/* and a record cut off at the end of the file */
	CHECK_INT(sd_pcap_write_packet(&c.b, 4, junk, 40), 0);
	CHECK_INT(sd_flows_from_capture(c.b.data, c.b.len - 5, &set), 0);
	CHECK_INT(set.packets, 3);
	CHECK_INT(set.not_ip, 1);
	CHECK_INT(set.not_tcp, 1);
	CHECK_INT(set.malformed, 1);
	CHECK_INT(set.read_err, -SD_ETRUNC);
	sd_flowset_free(&set);
	CHECK_INT(sd_flows_from_capture(c.b.data, 10, &set), -SD_ETRUNC);
	CHECK_INT(sd_flows_from_capture(junk, sizeof(junk), &set), -SD_EFORMAT);
	CHECK(set.flows == NULL && set.n == 0);
	sd_buf_free(&c.b);
	sd_buf_free(&p);
}

static void test_flow_ip6(void)
{
	struct sd_buf f = SD_BUF_INIT, cap = SD_BUF_INIT;
	struct sd_ip_spec ip = { .family = 6 };
	struct sd_tcp_spec t = { .sport = 33333, .dport = 443, .seq = 42,
				 .flags = SD_TCP_SYN,
				 .opt = { .has_mss = true, .mss = 1220 } };
	struct sd_flowset set;
	char a[SD_ADDR_STRLEN];

	CHECK_INT(sd_addr_parse("fd00::1", ip.src), 6);
	CHECK_INT(sd_addr_parse("fd00::2", ip.dst), 6);
	CHECK_INT(sd_pcap_write_header(&cap, SD_LINKTYPE_RAW, 65535), 0);
	CHECK(sd_build_tcp(&f, &ip, &t, NULL, 0) > 0);
	CHECK_INT(sd_pcap_write_packet(&cap, 1, f.data, (uint32_t)f.len), 0);
	sd_buf_reset(&f);
	t.seq = 43;
	t.flags = SD_TCP_ACK;
	t.opt.has_mss = false;
	CHECK(sd_build_tcp(&f, &ip, &t, (const uint8_t *)"\x16\x03\x01", 3) > 0);
	CHECK_INT(sd_pcap_write_packet(&cap, 2, f.data, (uint32_t)f.len), 0);
	CHECK_INT(sd_flows_from_capture(cap.data, cap.len, &set), 1);
	CHECK_INT(set.flows[0].family, 6);
	CHECK_INT(sd_addr_format(6, set.flows[0].cli.addr, a, sizeof(a)), 7);
	CHECK_STR(a, "fd00::1");
	CHECK_INT(set.flows[0].cli.syn_opts.mss, 1220);
	CHECK_INT(set.flows[0].cli.len, 3);
	CHECK_INT(set.flows[0].cli.segs[0].rel, 0);
	CHECK_INT(set.flows[0].srv.packets, 0);
	CHECK_INT(set.flows[0].first_ts, 1);
	CHECK_INT(set.flows[0].last_ts, 2);
	sd_flowset_free(&set);
	sd_buf_free(&f);
	sd_buf_free(&cap);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		fclose(f);
		return NULL;
	}
	buf = malloc(n ? (size_t)n : 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static int test_fixture(void)
{
	const char *path = SD_SHARED_DIR "/fixtures/chromium-156-clienthello.pcap";
	const uint8_t cli[4] = { 10, 10, 1, 2 }, srv[4] = { 10, 10, 2, 2 };
	struct sd_flowset set;
	struct sd_capture cap;
	struct sd_capture_pkt cp;
	size_t len;
	uint8_t *file = slurp(path, &len);
	int n = 0, bad = 0, ret;

	if (!file) {
		fprintf(stderr, "skip: %s missing\n", path);
		return 77;
	}
	/*
	 * Every packet decodes. The client's checksums hold; the server's
	 * were left to offload where the capture was taken (tshark agrees).
	 */
	CHECK_INT(sd_capture_open(&cap, file, len), 0);
	CHECK_INT(cap.le, 1);
	CHECK(!cap.nsec);
	while ((ret = sd_capture_next(&cap, &cp)) > 0) {
		struct sd_pkt p;

		n++;
		CHECK_INT(cp.linktype, SD_LINKTYPE_ETHERNET);
		CHECK_INT(sd_pkt_decode(cp.linktype, cp.data, cp.caplen, &p), 0);
		CHECK_INT(p.proto, SD_IPPROTO_TCP);
		if (!memcmp(p.src, cli, 4))
			CHECK_INT(sd_pkt_checksum(&p), 0);
		else
			bad += sd_pkt_checksum(&p) == SD_CSUM_BAD_L4;
	}
	CHECK_INT(ret, 0);
	CHECK_INT(n, 40);
	CHECK_INT(bad, 18);

	CHECK_INT(sd_flows_from_capture(file, len, &set), 2);
	free(file);
	CHECK_INT(set.packets, 40);
	for (size_t i = 0; i < set.n; i++) {
		const struct sd_flow *f = &set.flows[i];
		const uint8_t *s = f->cli.stream;

		CHECK_INT(f->family, 4);
		CHECK_INT(f->client_by, SD_FLOW_BY_SYN);
		CHECK(f->syn_seen);
		CHECK_MEM(f->cli.addr, cli, 4);
		CHECK_MEM(f->srv.addr, srv, 4);
		CHECK_INT(f->srv.port, 4433);
		CHECK_INT(f->cli.port, i ? 52996 : 52988);
		CHECK(f->cli.syn_opts.has_mss && f->cli.syn_opts.mss == 1460);
		/* 1280 - 40 on the server's link; 12 bytes of timestamps leave 1228 */
		CHECK(f->srv.syn_opts.has_mss && f->srv.syn_opts.mss == 1240);
		CHECK(f->cli.syn_opts.has_ts && f->cli.syn_opts.sack_ok);
		CHECK_INT(f->cli.base, f->cli.isn + 1);
		CHECK(!f->cli.hole && !f->srv.hole);
		CHECK(!f->snaplen_cut);
		CHECK(f->cli.fin && f->srv.fin);
		CHECK(!f->cli.rst && !f->srv.rst);
		CHECK(f->cli.len > 1931);
		if (f->cli.len < 1931)
			continue;
		/* one handshake record: 5 + 4 + 1922 = 1931 bytes = 1228 + 703 */
		CHECK_MEM(s, ((uint8_t[]){ 0x16, 0x03 }), 2);
		CHECK_INT(s[3] << 8 | s[4], 4 + 1922);
		CHECK_INT(s[5], 1);     /* ClientHello */
		CHECK_INT(s[6] << 16 | s[7] << 8 | s[8], 1922);
		CHECK(f->cli.nsegs >= 2);
		CHECK_INT(f->cli.segs[0].rel, 0);
		CHECK_INT(f->cli.segs[0].len, 1228);
		CHECK_INT(f->cli.segs[1].rel, 1228);
		CHECK_INT(f->cli.segs[1].len, 703);
		CHECK_INT(f->cli.segs[0].flags | f->cli.segs[1].flags, 0);
		/* the next client record is a ChangeCipherSpec */
		CHECK_INT(s[1931], 0x14);
		/* the server answers with a handshake record too */
		CHECK_INT(f->srv.stream[0], 0x16);
	}
	sd_flowset_free(&set);
	return 0;
}

int main(void)
{
	int skip;

	test_pcap_orders();
	test_pcap_errors();
	test_pcap_writer();
	test_pcapng();
	test_flow_reassembly();
	test_flow_sides();
	test_flow_snaplen();
	test_flow_limits();
	test_flow_ip6();
	skip = test_fixture();
	if (skip == 77 && !check_failed) {
		check_done();
		return 77;
	}
	return check_done();
}
