/* SPDX-License-Identifier: MIT */
/* Packet decode and build: each link type, checksums, errors, fragmentation, address text. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "shakedown/capture.h"
#include "shakedown/flow.h"
#include "shakedown/pkt.h"

static const uint8_t mac_a[6] = { 0x02, 0, 0, 0, 0, 1 };
static const uint8_t mac_b[6] = { 0x02, 0, 0, 0, 0, 2 };

static struct sd_ip_spec ip4(void)
{
	struct sd_ip_spec ip = { .family = 4, .ttl = 61, .id = 0x1234 };

	memcpy(ip.src, (uint8_t[]){ 10, 10, 1, 2 }, 4);
	memcpy(ip.dst, (uint8_t[]){ 10, 10, 2, 2 }, 4);
	return ip;
}

static struct sd_ip_spec ip6(void)
{
	struct sd_ip_spec ip = { .family = 6, .ttl = 63, .flowlabel = 0xabcde };

	CHECK_INT(sd_addr_parse("2001:db8:1::2", ip.src), 6);
	CHECK_INT(sd_addr_parse("2001:db8:2::2", ip.dst), 6);
	return ip;
}

static struct sd_tcp_spec syn_spec(void)
{
	struct sd_tcp_spec t = {
		.sport = 52988, .dport = 4433, .seq = 0xb7be0000, .ack = 0,
		.flags = SD_TCP_SYN, .window = 64240,
		.opt = { .has_mss = true, .mss = 1460, .sack_ok = true,
			 .has_ts = true, .tsval = 3757192185u, .tsecr = 0,
			 .has_wscale = true, .wscale = 10 },
	};
	return t;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + seed + (i >> 8));
}

static void test_tcp4_roundtrip(void)
{
	struct sd_buf b = SD_BUF_INIT;
	struct sd_ip_spec ip = ip4();
	struct sd_tcp_spec t = syn_spec();
	struct sd_pkt p;
	uint8_t pl[100];
	int n;

	fill(pl, sizeof(pl), 1);
	n = sd_build_tcp(&b, &ip, &t, pl, sizeof(pl));
	CHECK_INT(n, 20 + 40 + 100);
	CHECK_INT(b.len, (size_t)n);
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, b.data, b.len, &p), 0);
	CHECK_INT(p.family, 4);
	CHECK_INT(p.ttl, 61);
	CHECK_INT(p.ip_id, 0x1234);
	CHECK(!p.df && !p.mf && !p.frag);
	CHECK_MEM(p.src, ((uint8_t[]){ 10, 10, 1, 2 }), 4);
	CHECK_MEM(p.dst, ((uint8_t[]){ 10, 10, 2, 2 }), 4);
	CHECK_INT(p.proto, SD_IPPROTO_TCP);
	CHECK_INT(p.tcp.sport, 52988);
	CHECK_INT(p.tcp.dport, 4433);
	CHECK_INT(p.tcp.seq, 0xb7be0000);
	CHECK_INT(p.tcp.flags, SD_TCP_SYN);
	CHECK_INT(p.tcp.window, 64240);
	CHECK_INT(p.tcp.hlen, 40);
	CHECK(p.tcp.opt.has_mss && p.tcp.opt.mss == 1460);
	CHECK(p.tcp.opt.sack_ok);
	CHECK(p.tcp.opt.has_ts && p.tcp.opt.tsval == 3757192185u);
	CHECK(p.tcp.opt.has_wscale && p.tcp.opt.wscale == 10);
	CHECK_INT(p.payload_len, 100);
	CHECK_INT(p.payload_wire_len, 100);
	CHECK_MEM(p.payload, pl, 100);
	CHECK_INT(p.flags, 0);
	CHECK_INT(sd_pkt_checksum(&p), 0);
	/* the Linux SYN layout: MSS, SACK-permitted + timestamps, NOP, WS */
	CHECK_MEM(b.data + 40, ((uint8_t[]){ 2, 4, 0x05, 0xb4, 4, 2, 8, 10 }), 8);
	CHECK_MEM(b.data + 56, ((uint8_t[]){ 1, 3, 3, 10 }), 4);

	b.data[b.len - 1] ^= 1;
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, b.data, b.len, &p), 0);
	CHECK_INT(sd_pkt_checksum(&p), SD_CSUM_BAD_L4);
	b.data[b.len - 1] ^= 1;
	b.data[8] ^= 1;     /* TTL */
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, b.data, b.len, &p), 0);
	CHECK_INT(sd_pkt_checksum(&p), SD_CSUM_BAD_IP);
	sd_buf_free(&b);

	/* only timestamps, with SACK blocks: NOP NOP TS, NOP NOP SACK */
	t.opt = (struct sd_tcp_opts){ .has_ts = true, .tsval = 5, .tsecr = 6,
		.nsack = 2, .sack = { { 100, 200 }, { 300, 400 } } };
	t.flags = SD_TCP_ACK;
	CHECK_INT(sd_build_tcp(&b, &ip, &t, NULL, 0), 20 + 20 + 12 + 20);
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_IPV4, b.data, b.len, &p), 0);
	CHECK(p.tcp.opt.has_ts && !p.tcp.opt.has_mss && !p.tcp.opt.sack_ok);
	CHECK_INT(p.tcp.opt.nsack, 2);
	CHECK_INT(p.tcp.opt.sack[1][0], 300);
	CHECK_INT(p.tcp.opt.sack[1][1], 400);
	CHECK_INT(p.payload_len, 0);
	CHECK_INT(sd_pkt_checksum(&p), 0);
	sd_buf_free(&b);

	/* 40 bytes of options at most (RFC 9293 §3.1) */
	t.opt.nsack = 4;
	CHECK_INT(sd_build_tcp(&b, &ip, &t, NULL, 0), -SD_ELENGTH);
	CHECK_INT(b.len, 0);
	t.opt.nsack = 5;
	CHECK_INT(sd_build_tcp(&b, &ip, &t, NULL, 0), -SD_EVALUE);
	ip.family = 5;
	t.opt.nsack = 0;
	CHECK_INT(sd_build_tcp(&b, &ip, &t, NULL, 0), -SD_EVALUE);
	sd_buf_free(&b);
}

static void test_tcp6_udp_icmp(void)
{
	struct sd_buf b = SD_BUF_INIT, inner = SD_BUF_INIT;
	struct sd_ip_spec ip = ip6(), v4 = ip4();
	struct sd_tcp_spec t = syn_spec();
	struct sd_pkt p;
	uint8_t pl[333];
	char text[SD_ADDR_STRLEN];

	fill(pl, sizeof(pl), 9);
	t.flags = SD_TCP_ACK | SD_TCP_PSH;
	t.opt = (struct sd_tcp_opts){ 0 };
	CHECK_INT(sd_build_tcp(&b, &ip, &t, pl, sizeof(pl)), 40 + 20 + 333);
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_IPV6, b.data, b.len, &p), 0);
	CHECK_INT(p.family, 6);
	CHECK_INT(p.ttl, 63);
	CHECK_INT(p.flowlabel, 0xabcde);
	CHECK_INT(sd_addr_format(6, p.src, text, sizeof(text)), 13);
	CHECK_STR(text, "2001:db8:1::2");
	CHECK_INT(p.tcp.flags, SD_TCP_ACK | SD_TCP_PSH);
	CHECK_INT(p.payload_len, 333);
	CHECK_MEM(p.payload, pl, 333);
	CHECK_INT(sd_pkt_checksum(&p), 0);
	b.data[60] ^= 0x80;
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, b.data, b.len, &p), 0);
	CHECK_INT(sd_pkt_checksum(&p), SD_CSUM_BAD_L4);
	sd_buf_reset(&b);

	CHECK_INT(sd_build_udp(&b, &ip, 5353, 53, pl, 21), 40 + 8 + 21);
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, b.data, b.len, &p), 0);
	CHECK_INT(p.proto, SD_IPPROTO_UDP);
	CHECK_INT(p.udp.sport, 5353);
	CHECK_INT(p.udp.dport, 53);
	CHECK_INT(p.udp.len, 29);
	CHECK_INT(p.payload_len, 21);
	CHECK_INT(sd_pkt_checksum(&p), 0);
	sd_buf_reset(&b);

	CHECK_INT(sd_build_udp(&b, &v4, 1, 2, pl, 3), 20 + 8 + 3);
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, b.data, b.len, &p), 0);
	CHECK_INT(sd_pkt_checksum(&p), 0);
	/* RFC 768: a zero UDP checksum over IPv4 means none was computed */
	b.data[26] = b.data[27] = 0;
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, b.data, b.len, &p), 0);
	CHECK_INT(sd_pkt_checksum(&p), 0);
	sd_buf_reset(&b);

	/* ICMP frag-needed quoting the start of a TCP packet (RFC 1191) */
	CHECK(sd_build_tcp(&inner, &v4, &t, pl, 100) > 0);
	CHECK_INT(sd_build_icmp(&b, &v4, 3, 4, 1280, inner.data, 28), 20 + 8 + 28);
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, b.data, b.len, &p), 0);
	CHECK_INT(p.proto, SD_IPPROTO_ICMP);
	CHECK_INT(p.icmp.type, 3);
	CHECK_INT(p.icmp.code, 4);
	CHECK_INT(p.icmp.mtu, 1280);
	CHECK_INT(p.icmp.inner_len, 28);
	CHECK_MEM(p.icmp.inner, inner.data, 28);
	CHECK_INT(sd_pkt_checksum(&p), 0);
	sd_buf_reset(&b);

	/* ICMPv6 packet too big (RFC 4443 §3.2) */
	CHECK_INT(sd_build_icmp(&b, &ip, 2, 0, 1280, inner.data, 48), 40 + 8 + 48);
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, b.data, b.len, &p), 0);
	CHECK_INT(p.proto, SD_IPPROTO_ICMPV6);
	CHECK_INT(p.icmp.type, 2);
	CHECK_INT(p.icmp.mtu, 1280);
	CHECK_INT(p.icmp.inner_len, 48);
	CHECK_INT(sd_pkt_checksum(&p), 0);
	b.data[45] ^= 1;
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, b.data, b.len, &p), 0);
	CHECK_INT(sd_pkt_checksum(&p), SD_CSUM_BAD_L4);
	sd_buf_reset(&b);

	/* the largest datagrams each family's length field allows */
	{
		static uint8_t big[65535];
		size_t before;

		sd_buf_reset(&b);
		CHECK_INT(sd_build_tcp(&b, &v4, &t, big, 65535 - 40), 65535);
		before = b.len;
		CHECK_INT(sd_build_tcp(&b, &v4, &t, big, 65535 - 39), -SD_ELENGTH);
		CHECK_INT(b.len, before);
		CHECK_INT(sd_build_udp(&b, &v4, 1, 2, big, 65535 - 27), -SD_ELENGTH);
		sd_buf_reset(&b);
		CHECK_INT(sd_build_tcp(&b, &ip, &t, big, 65535 - 20), 65575);
		CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, b.data, b.len, &p), 0);
		CHECK_INT(p.flags, 0);
		CHECK_INT(p.payload_len, 65515);
		CHECK_INT(sd_pkt_checksum(&p), 0);
		CHECK_INT(sd_build_tcp(&b, &ip, &t, big, 65535 - 19), -SD_ELENGTH);
		CHECK_INT(sd_build_udp(&b, &ip, 1, 2, big, 65535 - 7), -SD_ELENGTH);
		CHECK_INT(sd_build_ip(&b, &ip, SD_IPPROTO_NONE, big, 65535), 65575);
		sd_buf_reset(&b);
	}

	/* an echo request is not an error: nothing quoted, no MTU */
	CHECK(sd_build_icmp(&b, &v4, 8, 0, 0x00010002, pl, 10) > 0);
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, b.data, b.len, &p), 0);
	CHECK_INT(p.icmp.mtu, 0);
	CHECK(p.icmp.inner == NULL);
	CHECK_INT(p.icmp.rest, 0x00010002);
	CHECK_INT(p.payload_len, 10);
	sd_buf_free(&b);
	sd_buf_free(&inner);
}

/* Builds a datagram, then the frame with the given link header in front. */
static size_t frame(uint8_t *out, const uint8_t *hdr, size_t hlen,
		    const struct sd_buf *dg)
{
	memcpy(out, hdr, hlen);
	memcpy(out + hlen, dg->data, dg->len);
	return hlen + dg->len;
}

static void test_link_types(void)
{
	struct sd_buf b = SD_BUF_INIT, d4 = SD_BUF_INIT, d6 = SD_BUF_INIT;
	struct sd_ip_spec v4 = ip4(), v6 = ip6();
	struct sd_tcp_spec t = syn_spec();
	uint8_t f[512], pl[7] = "payload";
	struct sd_pkt p;
	size_t n;

	CHECK(sd_build_tcp(&d4, &v4, &t, pl, sizeof(pl)) > 0);
	CHECK(sd_build_tcp(&d6, &v6, &t, pl, sizeof(pl)) > 0);

	CHECK_INT(sd_build_eth(&b, mac_b, mac_a, SD_ETHERTYPE_IPV4), 14);
	sd_buf_put(&b, d4.data, d4.len);
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_ETHERNET, b.data, b.len, &p), 0);
	CHECK_INT(p.ethertype, SD_ETHERTYPE_IPV4);
	CHECK_INT(p.family, 4);
	CHECK_INT(p.tcp.sport, 52988);
	CHECK_INT(p.payload_len, 7);
	CHECK_INT(sd_pkt_checksum(&p), 0);
	/* a short frame padded to 60 bytes: the IP length wins */
	sd_buf_zero(&b, 12);
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_ETHERNET, b.data, b.len, &p), 0);
	CHECK_INT(p.flags, SD_PKT_TRAILER);
	CHECK_INT(p.payload_len, 7);
	CHECK_INT(sd_pkt_checksum(&p), 0);
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_ETHERNET, b.data, 13, &p), -SD_ETRUNC);
	sd_buf_reset(&b);

	/* 802.1Q inside 802.1ad (QinQ) */
	{
		const uint8_t h[] = { 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1,
				      0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x20, 0x0a,
				      0x86, 0xdd };

		n = frame(f, h, sizeof(h), &d6);
		CHECK_INT(sd_pkt_decode(SD_LINKTYPE_ETHERNET, f, n, &p), 0);
		CHECK_INT(p.nvlan, 2);
		CHECK_INT(p.vlan_tci[0], 100);
		CHECK_INT(p.vlan_tci[1], 0x200a);
		CHECK_INT(p.ethertype, SD_ETHERTYPE_IPV6);
		CHECK_INT(p.family, 6);
		CHECK_INT(p.payload_len, 7);
		CHECK_INT(sd_pkt_checksum(&p), 0);
	}
	/* nine stacked tags is more than anyone sends */
	{
		uint8_t h[12 + 9 * 4 + 2] = { 0 };

		for (int i = 0; i < 9; i++) {
			h[12 + 4 * i] = 0x81;
			h[13 + 4 * i] = 0x00;
		}
		h[12 + 36] = 0x08;
		n = frame(f, h, sizeof(h), &d4);
		CHECK_INT(sd_pkt_decode(SD_LINKTYPE_ETHERNET, f, n, &p), -SD_ELIMIT);
	}
	/* ARP is not IP: no error, family 0 */
	{
		const uint8_t h[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0,
				      0, 1, 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1 };

		CHECK_INT(sd_pkt_decode(SD_LINKTYPE_ETHERNET, h, sizeof(h), &p), 0);
		CHECK_INT(p.family, 0);
		CHECK_INT(p.ethertype, 0x0806);
	}
	/* BSD loopback, family in the capturing host's order */
	{
		const uint8_t le[] = { 2, 0, 0, 0 }, be[] = { 0, 0, 0, 2 };
		const uint8_t mac6[] = { 30, 0, 0, 0 }, loop6[] = { 0, 0, 0, 24 };

		n = frame(f, le, 4, &d4);
		CHECK_INT(sd_pkt_decode(SD_LINKTYPE_NULL, f, n, &p), 0);
		CHECK_INT(p.family, 4);
		n = frame(f, be, 4, &d4);
		CHECK_INT(sd_pkt_decode(SD_LINKTYPE_NULL, f, n, &p), 0);
		CHECK_INT(p.family, 4);
		n = frame(f, mac6, 4, &d6);
		CHECK_INT(sd_pkt_decode(SD_LINKTYPE_NULL, f, n, &p), 0);
		CHECK_INT(p.family, 6);
		CHECK_INT(p.tcp.dport, 4433);
		n = frame(f, loop6, 4, &d6);
		CHECK_INT(sd_pkt_decode(SD_LINKTYPE_LOOP, f, n, &p), 0);
		CHECK_INT(p.family, 6);
		CHECK_INT(sd_pkt_decode(SD_LINKTYPE_NULL, f, 3, &p), -SD_ETRUNC);
	}
	/* Linux cooked v1 and v2 */
	{
		const uint8_t sll[16] = { 0, 4, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0,
					  0x08, 0x00 };
		const uint8_t sll2[20] = { 0x86, 0xdd, 0, 0, 0, 0, 0, 3, 0, 1, 0,
					   6, 2, 0, 0, 0, 0, 1, 0, 0 };

		n = frame(f, sll, sizeof(sll), &d4);
		CHECK_INT(sd_pkt_decode(SD_LINKTYPE_LINUX_SLL, f, n, &p), 0);
		CHECK_INT(p.family, 4);
		CHECK_INT(p.ethertype, SD_ETHERTYPE_IPV4);
		CHECK_INT(p.payload_len, 7);
		n = frame(f, sll2, sizeof(sll2), &d6);
		CHECK_INT(sd_pkt_decode(SD_LINKTYPE_LINUX_SLL2, f, n, &p), 0);
		CHECK_INT(p.family, 6);
		CHECK_INT(p.payload_len, 7);
		CHECK_INT(sd_pkt_decode(SD_LINKTYPE_LINUX_SLL2, f, 19, &p), -SD_ETRUNC);
	}
	/* bare IP link types insist on their version */
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_IPV4, d4.data, d4.len, &p), 0);
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_IPV6, d6.data, d6.len, &p), 0);
	CHECK_INT(p.family, 6);
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_IPV4, d6.data, d6.len, &p), -SD_EVALUE);
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_IPV6, d4.data, d4.len, &p), -SD_EVALUE);
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, d4.data, 0, &p), -SD_ETRUNC);
	CHECK_INT(sd_pkt_decode(9999, d4.data, d4.len, &p), -SD_EFORMAT);

	sd_buf_free(&b);
	sd_buf_free(&d4);
	sd_buf_free(&d6);
}

static void set16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void fix_ip4_csum(uint8_t *p)
{
	size_t hl = (p[0] & 15) * 4u;

	set16(p + 10, 0);
	set16(p + 10, sd_inet_checksum(p, hl));
}

static void test_malformed(void)
{
	struct sd_buf b = SD_BUF_INIT;
	struct sd_ip_spec v4 = ip4(), v6 = ip6();
	struct sd_tcp_spec t = syn_spec();
	uint8_t pl[200], f[600];
	struct sd_pkt p;
	size_t n;

	fill(pl, sizeof(pl), 3);
	CHECK(sd_build_tcp(&b, &v4, &t, pl, sizeof(pl)) > 0);
	n = b.len;

	/* snaplen cuts: inside the payload is a flag, inside TCP an error */
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, b.data, n - 50, &p), 0);
	CHECK_INT(p.flags, SD_PKT_CUT);
	CHECK_INT(p.payload_len, 150);
	CHECK_INT(p.payload_wire_len, 200);
	CHECK_INT(p.l3_wire_len, n);
	CHECK_INT(sd_pkt_checksum(&p), SD_CSUM_UNCHECKED);
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, b.data, 40, &p), -SD_ESNAPLEN);
	CHECK_INT(p.family, 4);
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, b.data, 30, &p), -SD_ESNAPLEN);
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, b.data, 19, &p), -SD_ETRUNC);

	memcpy(f, b.data, n);
	f[0] = 0x44;    /* IHL 4 */
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, f, n, &p), -SD_EVALUE);
	f[0] = 0x4f;    /* IHL 15: 60 bytes of header; total length still fits */
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, f, 59, &p), -SD_ETRUNC);
	f[0] = 0x55;    /* version 5 */
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, f, n, &p), -SD_EVALUE);
	memcpy(f, b.data, n);
	set16(f + 2, 19);   /* total length below the header */
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, f, n, &p), -SD_ELENGTH);
	set16(f + 2, 30);   /* total length cuts into the TCP header */
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, f, n, &p), -SD_ELENGTH);
	memcpy(f, b.data, n);
	f[32] = 0x40;       /* TCP data offset 4 */
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, f, n, &p), -SD_EVALUE);
	f[32] = 0xf0;       /* a 60-byte TCP header in a 56-byte segment */
	set16(f + 2, 20 + 56);
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, f, n, &p), -SD_ELENGTH);

	/* TSO super-frame: total length 0, the capture is the truth */
	memcpy(f, b.data, n);
	set16(f + 2, 0);
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, f, n, &p), 0);
	CHECK_INT(p.flags, SD_PKT_GSO);
	CHECK_INT(p.payload_len, 200);
	CHECK_INT(sd_pkt_checksum(&p) & SD_CSUM_UNCHECKED, SD_CSUM_UNCHECKED);

	/* a bad TCP option is flagged, the ones before it kept */
	memcpy(f, b.data, n);
	f[57] = 1;          /* NOP where window scale was */
	f[58] = 9;          /* unknown kind whose length runs past the header */
	f[59] = 5;
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, f, n, &p), 0);
	CHECK_INT(p.flags, SD_PKT_BADOPT);
	CHECK(p.tcp.opt.has_mss && p.tcp.opt.has_ts);
	CHECK(!p.tcp.opt.has_wscale);

	/* UDP length that disagrees with the datagram */
	sd_buf_reset(&b);
	CHECK(sd_build_udp(&b, &v4, 1, 2, pl, 10) > 0);
	set16(b.data + 24, 7);
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, b.data, b.len, &p), -SD_ELENGTH);
	set16(b.data + 24, 19);
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, b.data, b.len, &p), -SD_ELENGTH);
	set16(b.data + 24, 12);     /* shorter is allowed: IP carries slack */
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, b.data, b.len, &p), 0);
	CHECK_INT(p.payload_len, 4);

	/* IPv6 header cut, payload length short of the TCP header */
	sd_buf_reset(&b);
	CHECK(sd_build_tcp(&b, &v6, &t, pl, 10) > 0);
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, b.data, 39, &p), -SD_ETRUNC);
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, b.data, 50, &p), -SD_ESNAPLEN);
	memcpy(f, b.data, b.len);
	set16(f + 4, 12);
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, f, b.len, &p), -SD_ELENGTH);
	sd_buf_free(&b);
}

/* Splices IPv6 extension headers between the fixed header and the rest. */
static size_t with_exthdrs(uint8_t *out, const struct sd_buf *dg,
			   const uint8_t *ext, size_t elen, uint8_t first)
{
	uint8_t last_nh = dg->data[6];
	size_t n = 0, plen = dg->len - 40 + elen;

	memcpy(out, dg->data, 40);
	out[6] = first;
	set16(out + 4, (uint16_t)plen);
	memcpy(out + 40, ext, elen);
	/* the caller leaves the last header's next-header byte as 0xee */
	for (size_t i = 0; i < elen; i++)
		if (out[40 + i] == 0xee)
			out[40 + i] = last_nh;
	n = 40 + elen;
	memcpy(out + n, dg->data + 40, dg->len - 40);
	return n + dg->len - 40;
}

static void test_ip6_exthdrs(void)
{
	struct sd_buf b = SD_BUF_INIT;
	struct sd_ip_spec v6 = ip6();
	struct sd_tcp_spec t = syn_spec();
	uint8_t pl[64], f[1200];
	struct sd_pkt p;
	size_t n;
	/* hop-by-hop (8, PadN), routing type 4 with 0 segments left (16), dstopts (8) */
	const uint8_t ext[] = {
		SD_IPPROTO_ROUTING, 0, 1, 4, 0, 0, 0, 0,
		SD_IPPROTO_DSTOPTS, 1, 4, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0,
		0xee, 0, 1, 4, 0, 0, 0, 0,
	};

	fill(pl, sizeof(pl), 5);
	CHECK(sd_build_tcp(&b, &v6, &t, pl, sizeof(pl)) > 0);
	n = with_exthdrs(f, &b, ext, sizeof(ext), SD_IPPROTO_HOPOPTS);
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, f, n, &p), 0);
	CHECK_INT(p.proto, SD_IPPROTO_TCP);
	CHECK_INT(p.ip_hlen, 40 + 32);
	CHECK_INT(p.payload_len, 64);
	CHECK_MEM(p.payload, pl, 64);
	CHECK_INT(sd_pkt_checksum(&p), 0);
	/* the same headers cut by the datagram's length, or by the capture */
	set16(f + 4, 20);
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, f, n, &p), -SD_ELENGTH);
	set16(f + 4, (uint16_t)(n - 40));
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, f, 60, &p), -SD_ESNAPLEN);

	/* seventeen destination options headers */
	{
		uint8_t many[17 * 8];

		for (int i = 0; i < 17; i++) {
			uint8_t h[8] = { SD_IPPROTO_DSTOPTS, 0, 1, 4, 0, 0, 0, 0 };

			if (i == 16)
				h[0] = 0xee;
			memcpy(many + 8 * i, h, 8);
		}
		n = with_exthdrs(f, &b, many, sizeof(many), SD_IPPROTO_DSTOPTS);
		CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, f, n, &p), -SD_ELIMIT);
	}
	/* an atomic fragment (RFC 6946) is a whole packet */
	{
		const uint8_t fh[] = { 0xee, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef };

		n = with_exthdrs(f, &b, fh, sizeof(fh), SD_IPPROTO_FRAGMENT);
		CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, f, n, &p), 0);
		CHECK(!p.frag && p.v6_fraghdr);
		CHECK_INT(p.flags, SD_PKT_ATOMIC_FRAG);
		CHECK_INT(p.frag_id, 0xdeadbeef);
		CHECK_INT(p.ip_hlen, 48);
		CHECK_INT(p.proto, SD_IPPROTO_TCP);
		CHECK_INT(sd_pkt_checksum(&p), 0);
	}
	/* IPv6 with payload length 0 and data: a BIG TCP super-frame */
	memcpy(f, b.data, b.len);
	set16(f + 4, 0);
	CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, f, b.len, &p), 0);
	CHECK_INT(p.flags, SD_PKT_GSO);
	CHECK_INT(p.payload_len, 64);
	sd_buf_free(&b);
}

/* Writes the given frames as a raw-IP pcap and rebuilds flows from it. */
static int flows_of(struct sd_buf *frames, size_t n, struct sd_flowset *set)
{
	struct sd_buf cap = SD_BUF_INIT;
	int ret;

	CHECK_INT(sd_pcap_write_header(&cap, SD_LINKTYPE_RAW, 65535), 0);
	for (size_t i = 0; i < n; i++)
		CHECK_INT(sd_pcap_write_packet(&cap, 1000 * (i + 1), frames[i].data,
					       (uint32_t)frames[i].len), 0);
	ret = sd_flows_from_capture(cap.data, cap.len, set);
	sd_buf_free(&cap);
	return ret;
}

static void split(const struct sd_buf *all, const size_t *ends, int n,
		  struct sd_buf *out)
{
	size_t start = 0;

	for (int i = 0; i < n; i++) {
		sd_buf_init(&out[i]);
		sd_buf_put(&out[i], all->data + start, ends[i] - start);
		start = ends[i];
	}
}

static void test_fragments(void)
{
	struct sd_buf dg = SD_BUF_INIT, all = SD_BUF_INIT, fr[16];
	struct sd_ip_spec v4 = ip4(), v6 = ip6();
	struct sd_tcp_spec t = syn_spec();
	struct sd_flowset set;
	static uint8_t pl[3000];
	size_t ends[16];
	struct sd_pkt p;
	int n;

	fill(pl, sizeof(pl), 11);
	t.flags = SD_TCP_ACK | SD_TCP_PSH;
	t.seq = 1000;
	t.opt = (struct sd_tcp_opts){ 0 };
	CHECK(sd_build_tcp(&dg, &v4, &t, pl, sizeof(pl)) > 0);

	CHECK_INT(sd_ip4_fragment(&all, dg.data, dg.len, 12, ends, 16), -SD_EVALUE);
	CHECK_INT(sd_ip4_fragment(&all, dg.data, dg.len, 1000, ends, 2), -SD_ELIMIT);
	CHECK_INT(sd_ip4_fragment(&all, dg.data, dg.len - 1, 1000, ends, 16), -SD_ETRUNC);
	n = sd_ip4_fragment(&all, dg.data, dg.len, 1000, ends, 16);
	CHECK_INT(n, 4);    /* 3020 bytes of TCP */
	CHECK_INT(all.len, 3020 + 4 * 20);
	split(&all, ends, n, fr);
	for (int i = 0; i < n; i++) {
		CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, fr[i].data, fr[i].len, &p), 0);
		CHECK(p.frag);
		CHECK_INT(p.frag_off, 1000 * i);
		CHECK_INT(p.mf, i < 3);
		CHECK_INT(p.frag_id, 0x1234);
		CHECK_INT(p.proto, SD_IPPROTO_TCP);
		CHECK_INT(p.l4_len, i < 3 ? 1000 : 20);
		CHECK_INT(sd_pkt_checksum(&p), SD_CSUM_UNCHECKED);
	}
	{
		/* out of order, with a duplicate */
		struct sd_buf order[5] = { fr[3], fr[1], fr[1], fr[0], fr[2] };

		CHECK_INT(flows_of(order, 5, &set), 1);
		CHECK_INT(set.fragments, 5);
		CHECK_INT(set.reassembled, 1);
		CHECK_INT(set.flows[0].cli.port, 52988);
		CHECK_INT(set.flows[0].cli.base, 1000);
		CHECK_INT(set.flows[0].cli.len, 3000);
		CHECK_MEM(set.flows[0].cli.stream, pl, 3000);
		CHECK_INT(set.flows[0].cli.nsegs, 1);
		CHECK_INT(set.flows[0].client_by, SD_FLOW_BY_PORT);
		sd_flowset_free(&set);
		/* a fragment missing: nothing comes out */
		CHECK_INT(flows_of(order, 3, &set), 0);
		CHECK_INT(set.fragments, 3);
		CHECK_INT(set.reassembled, 0);
		sd_flowset_free(&set);
	}
	for (int i = 0; i < n; i++)
		sd_buf_free(&fr[i]);

	/* DF forbids fragmenting (RFC 791) */
	v4.df = true;
	sd_buf_reset(&dg);
	CHECK(sd_build_tcp(&dg, &v4, &t, pl, 100) > 0);
	CHECK_INT(sd_ip4_fragment(&all, dg.data, dg.len, 64, ends, 16), -SD_EVALUE);
	v4.df = false;

	/* options: only copied ones (router alert) reach later fragments */
	{
		uint8_t big[200];
		const uint8_t opts[8] = { 0x94, 4, 0, 0, 7, 3, 4, 0 };

		sd_buf_reset(&dg);
		sd_buf_reset(&all);
		CHECK(sd_build_udp(&dg, &v4, 7, 9, pl, 100) > 0);
		memcpy(big, dg.data, 20);
		memcpy(big + 20, opts, 8);
		memcpy(big + 28, dg.data + 20, dg.len - 20);
		big[0] = 0x47;
		set16(big + 2, (uint16_t)(dg.len + 8));
		fix_ip4_csum(big);
		n = sd_ip4_fragment(&all, big, dg.len + 8, 64, ends, 16);
		CHECK_INT(n, 2);
		CHECK_INT(all.data[0], 0x47);
		CHECK_INT(ends[0], 28 + 64);
		CHECK_INT(all.data[ends[0]], 0x46);
		CHECK_MEM(all.data + ends[0] + 20, opts, 4);
		CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, all.data + ends[0],
					ends[1] - ends[0], &p), 0);
		CHECK_INT(p.frag_off, 64);
		CHECK_INT(p.l4_len, 108 - 64);
		CHECK_INT(sd_pkt_checksum(&p) & SD_CSUM_BAD_IP, 0);
	}

	/* IPv6 (RFC 8200 §4.5) */
	sd_buf_reset(&dg);
	sd_buf_reset(&all);
	t.seq = 0xfffff000;     /* the stream wraps past 2^32 */
	CHECK(sd_build_tcp(&dg, &v6, &t, pl, 2500) > 0);
	CHECK_INT(sd_ip6_fragment(&all, dg.data, dg.len, 1001, 0x77, ends, 16), -SD_EVALUE);
	n = sd_ip6_fragment(&all, dg.data, dg.len, 1232, 0x77, ends, 16);
	CHECK_INT(n, 3);    /* 2520 bytes of TCP */
	split(&all, ends, n, fr);
	for (int i = 0; i < n; i++) {
		CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, fr[i].data, fr[i].len, &p), 0);
		CHECK(p.frag && p.v6_fraghdr);
		CHECK_INT(p.frag_off, 1232 * i);
		CHECK_INT(p.mf, i < 2);
		CHECK_INT(p.frag_id, 0x77);
		CHECK_INT(p.proto, SD_IPPROTO_TCP);
		CHECK_INT(p.ip_hlen, 48);
		CHECK_INT(fr[i].len, 48 + (i < 2 ? 1232 : 56));
	}
	{
		struct sd_buf order[3] = { fr[2], fr[0], fr[1] };

		CHECK_INT(flows_of(order, 3, &set), 1);
		CHECK_INT(set.reassembled, 1);
		CHECK_INT(set.flows[0].family, 6);
		CHECK_INT(set.flows[0].cli.len, 2500);
		CHECK_MEM(set.flows[0].cli.stream, pl, 2500);
		sd_flowset_free(&set);
	}
	for (int i = 0; i < n; i++)
		sd_buf_free(&fr[i]);

	/* per-fragment headers: hop-by-hop stays in front of the fragment header */
	{
		const uint8_t hbh[] = { 0xee, 0, 1, 4, 0, 0, 0, 0 };
		uint8_t f[3000];
		size_t fl = with_exthdrs(f, &dg, hbh, sizeof(hbh), SD_IPPROTO_HOPOPTS);

		sd_buf_reset(&all);
		n = sd_ip6_fragment(&all, f, fl, 1024, 9, ends, 16);
		CHECK_INT(n, 3);
		CHECK_INT(all.data[6], SD_IPPROTO_HOPOPTS);
		CHECK_INT(all.data[40], SD_IPPROTO_FRAGMENT);
		CHECK_INT(all.data[48], SD_IPPROTO_TCP);
		split(&all, ends, n, fr);
		CHECK_INT(sd_pkt_decode(SD_LINKTYPE_RAW, fr[1].data, fr[1].len, &p), 0);
		CHECK(p.frag);
		CHECK_INT(p.frag_off, 1024);
		CHECK_INT(p.ip_hlen, 56);
		CHECK_INT(flows_of(fr, 3, &set), 1);
		CHECK_INT(set.flows[0].cli.len, 2500);
		CHECK_MEM(set.flows[0].cli.stream, pl, 2500);
		sd_flowset_free(&set);
		for (int i = 0; i < n; i++)
			sd_buf_free(&fr[i]);
	}
	sd_buf_free(&dg);
	sd_buf_free(&all);
}

static void addr_case(const char *in, int family, const char *out)
{
	uint8_t a[16], a2[16];
	char t[SD_ADDR_STRLEN];
	int ret = sd_addr_parse(in, a);

	CHECK_INT(ret, family);
	if (ret < 0)
		return;
	CHECK_INT(sd_addr_format(ret, a, t, sizeof(t)), (int)strlen(out));
	CHECK_STR(t, out);
	CHECK_INT(sd_addr_parse(t, a2), family);
	CHECK_MEM(a2, a, family == 4 ? 4 : 16);
}

static void test_addr(void)
{
	uint8_t a[16] = { 0 };
	char t[SD_ADDR_STRLEN];

	addr_case("10.10.1.2", 4, "10.10.1.2");
	addr_case("0.0.0.0", 4, "0.0.0.0");
	addr_case("255.255.255.255", 4, "255.255.255.255");
	addr_case("2001:db8::1", 6, "2001:db8::1");
	addr_case("::", 6, "::");
	addr_case("::1", 6, "::1");
	addr_case("1::", 6, "1::");
	/* RFC 5952 §4.1: leading zeros go */
	addr_case("2001:0db8:0000:0000:0000:0000:0000:0001", 6, "2001:db8::1");
	/* §4.2.3: the longest run is compressed */
	addr_case("2001:db8:0:0:1:0:0:0", 6, "2001:db8:0:0:1::");
	/* ... and of equal runs the first */
	addr_case("2001:db8:0:0:1:0:0:1", 6, "2001:db8::1:0:0:1");
	/* §4.2.2: a single zero field is not compressed */
	addr_case("2001:db8:0:1:1:1:1:1", 6, "2001:db8:0:1:1:1:1:1");
	addr_case("1:2:3:4:5:6:7::", 6, "1:2:3:4:5:6:7:0");
	addr_case("::2:3:4:5:6:7:8", 6, "0:2:3:4:5:6:7:8");
	/* §4.3: lower case */
	addr_case("2001:DB8::A:bCd", 6, "2001:db8::a:bcd");
	addr_case("fe80::1:0:0:0:1", 6, "fe80:0:0:1::1");
	/* §5: IPv4-mapped keeps the dotted tail */
	addr_case("::ffff:1.2.3.4", 6, "::ffff:1.2.3.4");
	addr_case("::ffff:0102:0304", 6, "::ffff:1.2.3.4");
	addr_case("64:ff9b::192.0.2.33", 6, "64:ff9b::c000:221");

	const char *bad[] = {
		"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.4 ",
		" 1.2.3.4", "a.b.c.d", "1..2.3", ":::", "1:2:3:4:5:6:7:8:9",
		"1::2::3", "12345::", "1:2:3:4:5:6:7", ":1::", "1::2:", "g::1",
		"fe80::1%eth0", "1:2:3:4:5:6:7:8::", "::1.2.3", "1.2.3.4::",
		"::1.2.3.4:5", "1:2:3:4:5:6:7:1.2.3.4", ":", "1:",
		"0000000000000000000000000000000000000000000000000000000001::",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = sd_addr_parse(bad[i], a);

		if (ret != -SD_ESYNTAX)
			fprintf(stderr, "accepted bad address \"%s\"\n", bad[i]);
		CHECK_INT(ret, -SD_ESYNTAX);
	}
	CHECK_INT(sd_addr_parse(NULL, a), -SD_ESYNTAX);
	CHECK_INT(sd_addr_format(5, a, t, sizeof(t)), -SD_EVALUE);
	a[0] = 192;
	a[1] = 168;
	CHECK_INT(sd_addr_format(4, a, t, 11), -ENOSPC);
	CHECK_INT(sd_addr_format(4, a, t, 12), 11);
	CHECK_STR(t, "192.168.0.0");
}

int main(void)
{
	test_tcp4_roundtrip();
	test_tcp6_udp_icmp();
	test_link_types();
	test_malformed();
	test_ip6_exthdrs();
	test_fragments();
	test_addr();
	return check_done();
}
