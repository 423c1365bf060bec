/* SPDX-License-Identifier: MIT */
/* Link, IP and transport header decoding and building, written without OS network headers. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "shakedown/cursor.h"
#include "shakedown/pkt.h"

/* Bounds on what a frame may stack up before we give up on it. */
#define MAX_VLAN 8
#define MAX_EXTHDR 16

/* Address family values seen in BSD loopback headers (DLT_NULL / DLT_LOOP). */
#define BSD_AF_INET 2
#define LINUX_AF_INET6 10
#define NETBSD_AF_INET6 24
#define FREEBSD_AF_INET6 28
#define DARWIN_AF_INET6 30

#define IP4_DF 0x4000
#define IP4_MF 0x2000
#define IP4_OFFMASK 0x1fff

/*
 * A window over a datagram: c holds the captured bytes, wire is how long
 * the headers say the window is. A header missing from the capture but
 * inside wire is a snaplen cut; beyond wire it is a length error.
 */
struct dgram {
	struct sd_cursor c;
	size_t wire;
};

static int need(const struct dgram *d, size_t n)
{
	if (sd_cursor_left(&d->c) >= n)
		return 0;
	if (d->wire >= d->c.pos && d->wire - d->c.pos >= n)
		return -SD_ESNAPLEN;
	return -SD_ELENGTH;
}

static size_t wire_left(const struct dgram *d)
{
	return d->wire > d->c.pos ? d->wire - d->c.pos : 0;
}

/* A view of what is left in c, without consuming it. */
static const uint8_t *peek_rest(const struct sd_cursor *c, size_t *len)
{
	struct sd_cursor t = *c;
	const uint8_t *v = NULL;

	*len = sd_cursor_left(&t);
	if (sd_cursor_bytes(&t, *len, &v) < 0)
		*len = 0;
	return v;
}

static int vlan_tags(struct sd_cursor *c, struct sd_pkt *p, uint16_t *type)
{
	while (*type == SD_ETHERTYPE_VLAN || *type == SD_ETHERTYPE_QINQ ||
	       *type == SD_ETHERTYPE_QINQ_OLD) {
		uint16_t tci;

		if (p->nvlan >= MAX_VLAN)
			return -SD_ELIMIT;
		if (sd_cursor_u16(c, &tci) < 0 || sd_cursor_u16(c, type) < 0)
			return -SD_ETRUNC;
		if (p->nvlan < 2)
			p->vlan_tci[p->nvlan] = tci;
		p->nvlan++;
	}
	return 0;
}

static uint8_t family_of_ethertype(uint16_t type)
{
	if (type == SD_ETHERTYPE_IPV4)
		return 4;
	if (type == SD_ETHERTYPE_IPV6)
		return 6;
	return 0;
}

static uint8_t family_of_bsd_af(uint32_t af)
{
	switch (af) {
	case BSD_AF_INET:
		return 4;
	case LINUX_AF_INET6:
	case NETBSD_AF_INET6:
	case FREEBSD_AF_INET6:
	case DARWIN_AF_INET6:
		return 6;
	}
	return 0;
}

/* Sets *family to 4, 6, 0 (not IP) or 255 (look at the version nibble). */
static int decode_link(uint32_t linktype, struct sd_cursor *c,
		       struct sd_pkt *p, uint8_t *family)
{
	uint16_t type;
	uint32_t af;
	int ret;

	switch (linktype) {
	case SD_LINKTYPE_ETHERNET:
		if (sd_cursor_skip(c, 12) < 0 || sd_cursor_u16(c, &type) < 0)
			return -SD_ETRUNC;
		break;
	case SD_LINKTYPE_LINUX_SLL:
		/* packet type, ARPHRD, address length, 8 address bytes */
		if (sd_cursor_skip(c, 14) < 0 || sd_cursor_u16(c, &type) < 0)
			return -SD_ETRUNC;
		break;
	case SD_LINKTYPE_LINUX_SLL2:
		/* protocol, reserved, ifindex, ARPHRD, type, addr len, addr */
		if (sd_cursor_u16(c, &type) < 0 || sd_cursor_skip(c, 18) < 0)
			return -SD_ETRUNC;
		break;
	case SD_LINKTYPE_NULL:
	case SD_LINKTYPE_LOOP:
		if (sd_cursor_u32(c, &af) < 0)
			return -SD_ETRUNC;
		/* DLT_NULL is in the capturing host's order; families are small. */
		if (linktype == SD_LINKTYPE_NULL && af > 0xffff)
			af = __builtin_bswap32(af);
		p->ethertype = 0;
		*family = family_of_bsd_af(af);
		return 0;
	case SD_LINKTYPE_RAW:
		*family = 255;
		return 0;
	case SD_LINKTYPE_IPV4:
		*family = 4;
		return 0;
	case SD_LINKTYPE_IPV6:
		*family = 6;
		return 0;
	default:
		return -SD_EFORMAT;
	}
	ret = vlan_tags(c, p, &type);
	if (ret < 0)
		return ret;
	p->ethertype = type;
	*family = family_of_ethertype(type);
	return 0;
}

static void parse_tcp_opts(struct sd_cursor *c, struct sd_pkt *p)
{
	struct sd_tcp_opts *o = &p->tcp.opt;
	uint8_t kind, len;

	while (sd_cursor_left(c)) {
		struct sd_cursor b;

		if (sd_cursor_u8(c, &kind) < 0 || kind == 0)
			return;
		if (kind == 1)
			continue;
		if (sd_cursor_u8(c, &len) < 0 || len < 2 ||
		    sd_cursor_sub(c, len - 2u, &b) < 0)
			goto bad;
		switch (kind) {
		case 2:
			if (len != 4 || sd_cursor_u16(&b, &o->mss) < 0)
				goto bad;
			o->has_mss = true;
			break;
		case 3:
			if (len != 3 || sd_cursor_u8(&b, &o->wscale) < 0)
				goto bad;
			o->has_wscale = true;
			break;
		case 4:
			if (len != 2)
				goto bad;
			o->sack_ok = true;
			break;
		case 5:
			if (len < 10 || (len - 2) % 8)
				goto bad;
			while (sd_cursor_left(&b) && o->nsack < SD_TCP_MAX_SACK) {
				uint32_t *e = o->sack[o->nsack];

				if (sd_cursor_u32(&b, &e[0]) < 0 ||
				    sd_cursor_u32(&b, &e[1]) < 0)
					goto bad;
				o->nsack++;
			}
			break;
		case 8:
			if (len != 10 || sd_cursor_u32(&b, &o->tsval) < 0 ||
			    sd_cursor_u32(&b, &o->tsecr) < 0)
				goto bad;
			o->has_ts = true;
			break;
		}
	}
	return;
bad:
	p->flags |= SD_PKT_BADOPT;
}

static int decode_tcp(struct dgram *d, struct sd_pkt *p)
{
	struct sd_cursor opts;
	uint16_t offflags;
	int ret;

	ret = need(d, 20);
	if (ret < 0)
		return ret;
	if (sd_cursor_u16(&d->c, &p->tcp.sport) < 0 ||
	    sd_cursor_u16(&d->c, &p->tcp.dport) < 0 ||
	    sd_cursor_u32(&d->c, &p->tcp.seq) < 0 ||
	    sd_cursor_u32(&d->c, &p->tcp.ack) < 0 ||
	    sd_cursor_u16(&d->c, &offflags) < 0 ||
	    sd_cursor_u16(&d->c, &p->tcp.window) < 0 ||
	    sd_cursor_u16(&d->c, &p->tcp.csum) < 0 ||
	    sd_cursor_u16(&d->c, &p->tcp.urgent) < 0)
		return -SD_ETRUNC;
	p->tcp.flags = (uint8_t)offflags;
	p->tcp.hlen = (uint8_t)((offflags >> 12) * 4);
	/* RFC 9293 §3.1: the data offset counts the 20 fixed bytes. */
	if (p->tcp.hlen < 20)
		return -SD_EVALUE;
	ret = need(d, p->tcp.hlen - 20u);
	if (ret < 0)
		return ret;
	if (sd_cursor_sub(&d->c, p->tcp.hlen - 20u, &opts) < 0)
		return -SD_ETRUNC;
	parse_tcp_opts(&opts, p);
	p->payload_wire_len = wire_left(d);
	p->payload = peek_rest(&d->c, &p->payload_len);
	return 0;
}

static int decode_udp(struct dgram *d, struct sd_pkt *p)
{
	size_t plen;
	int ret;

	ret = need(d, 8);
	if (ret < 0)
		return ret;
	if (sd_cursor_u16(&d->c, &p->udp.sport) < 0 ||
	    sd_cursor_u16(&d->c, &p->udp.dport) < 0 ||
	    sd_cursor_u16(&d->c, &p->udp.len) < 0 ||
	    sd_cursor_u16(&d->c, &p->udp.csum) < 0)
		return -SD_ETRUNC;
	plen = wire_left(d);
	if (p->udp.len == 0 && (p->flags & SD_PKT_GSO)) {
		/* segmentation offload and RFC 2675 jumbograms leave it 0 */
	} else if (p->udp.len < 8 || p->udp.len - 8u > plen) {
		return -SD_ELENGTH;
	} else if (!(p->flags & SD_PKT_GSO)) {
		/* RFC 768: the UDP length wins over what IP carries */
		plen = p->udp.len - 8u;
	}
	p->payload_wire_len = plen;
	p->payload = peek_rest(&d->c, &p->payload_len);
	if (p->payload_len > plen)
		p->payload_len = plen;
	return 0;
}

static bool icmp_is_error(uint8_t family, uint8_t type)
{
	if (family == 6)
		return type < 128;     /* RFC 4443 §2.1 */
	return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

static int decode_icmp(struct dgram *d, struct sd_pkt *p)
{
	int ret;

	ret = need(d, 8);
	if (ret < 0)
		return ret;
	if (sd_cursor_u8(&d->c, &p->icmp.type) < 0 ||
	    sd_cursor_u8(&d->c, &p->icmp.code) < 0 ||
	    sd_cursor_u16(&d->c, &p->icmp.csum) < 0 ||
	    sd_cursor_u32(&d->c, &p->icmp.rest) < 0)
		return -SD_ETRUNC;
	p->icmp.mtu = 0;
	if (p->family == 4 && p->icmp.type == 3 && p->icmp.code == 4)
		p->icmp.mtu = p->icmp.rest & 0xffff;    /* RFC 1191 §4 */
	else if (p->family == 6 && p->icmp.type == 2)
		p->icmp.mtu = p->icmp.rest;             /* RFC 4443 §3.2 */
	p->payload_wire_len = wire_left(d);
	p->payload = peek_rest(&d->c, &p->payload_len);
	if (icmp_is_error(p->family, p->icmp.type)) {
		p->icmp.inner = p->payload;
		p->icmp.inner_len = p->payload_len;
	}
	return 0;
}

static int decode_l4(struct dgram *d, struct sd_pkt *p, uint8_t proto)
{
	p->proto = proto;
	p->l4_wire_len = wire_left(d);
	p->l4 = peek_rest(&d->c, &p->l4_len);
	switch (proto) {
	case SD_IPPROTO_TCP:
		return decode_tcp(d, p);
	case SD_IPPROTO_UDP:
		return decode_udp(d, p);
	case SD_IPPROTO_ICMP:
		if (p->family == 4)
			return decode_icmp(d, p);
		break;
	case SD_IPPROTO_ICMPV6:
		if (p->family == 6)
			return decode_icmp(d, p);
		break;
	}
	p->payload = p->l4;
	p->payload_len = p->l4_len;
	p->payload_wire_len = p->l4_wire_len;
	return 0;
}

static void set_fragment(struct dgram *d, struct sd_pkt *p, uint8_t proto)
{
	p->frag = true;
	p->proto = proto;
	p->l4_wire_len = wire_left(d);
	p->l4 = peek_rest(&d->c, &p->l4_len);
	p->payload = p->l4;
	p->payload_len = p->l4_len;
	p->payload_wire_len = p->l4_wire_len;
}

/* IPv6 extension headers that share the RFC 8200 §4.2 length format. */
static bool generic_exthdr(uint8_t nh)
{
	switch (nh) {
	case SD_IPPROTO_HOPOPTS:
	case SD_IPPROTO_ROUTING:
	case SD_IPPROTO_DSTOPTS:
	case 135:   /* mobility, RFC 6275 */
	case 139:   /* HIP, RFC 7401 */
	case 140:   /* shim6, RFC 5533 */
	case 253:   /* experiments, RFC 3692 */
	case 254:
		return true;
	}
	return false;
}

/*
 * Whatever follows the fixed IP header: extension headers (IPv6), then the
 * transport. in_l3 says d still covers the whole datagram, so offsets in it
 * are header lengths (not so for a reassembled fragmentable part).
 */
static int decode_upper(struct dgram *d, struct sd_pkt *p, uint8_t nh,
			bool in_l3)
{
	int ret;

	for (unsigned n = 0; p->family == 6; n++) {
		uint8_t next, hlen;
		uint16_t offword;

		if (n >= MAX_EXTHDR)
			return -SD_ELIMIT;
		if (generic_exthdr(nh) || nh == SD_IPPROTO_AH) {
			size_t total;

			ret = need(d, 2);
			if (ret < 0)
				return ret;
			if (sd_cursor_u8(&d->c, &next) < 0 ||
			    sd_cursor_u8(&d->c, &hlen) < 0)
				return -SD_ETRUNC;
			/* AH counts 4-octet units minus 2 (RFC 4302 §2.2) */
			total = nh == SD_IPPROTO_AH ? (hlen + 2u) * 4 : (hlen + 1u) * 8;
			ret = need(d, total - 2);
			if (ret < 0)
				return ret;
			if (sd_cursor_skip(&d->c, total - 2) < 0)
				return -SD_ETRUNC;
			nh = next;
			continue;
		}
		if (nh != SD_IPPROTO_FRAGMENT)
			break;
		/* one fragment header per packet: reassembly does not nest */
		if (p->v6_fraghdr)
			return -SD_EVALUE;
		ret = need(d, 8);
		if (ret < 0)
			return ret;
		if (sd_cursor_u8(&d->c, &next) < 0 ||
		    sd_cursor_u8(&d->c, &hlen) < 0 ||
		    sd_cursor_u16(&d->c, &offword) < 0 ||
		    sd_cursor_u32(&d->c, &p->frag_id) < 0)
			return -SD_ETRUNC;
		p->v6_fraghdr = true;
		p->frag_off = offword & 0xfff8;
		p->mf = offword & 1;
		if (in_l3)
			p->ip_hlen = (uint16_t)d->c.pos;
		if (p->frag_off || p->mf) {
			set_fragment(d, p, next);
			return 0;
		}
		/* RFC 6946: an atomic fragment is processed as a whole packet */
		p->flags |= SD_PKT_ATOMIC_FRAG;
		nh = next;
	}
	if (p->family == 6 && in_l3)
		p->ip_hlen = (uint16_t)d->c.pos;
	return decode_l4(d, p, nh);
}

/*
 * Takes the datagram window from c: the captured bytes up to the IP length
 * (less when the capture cut it, the captured length for a super-frame).
 */
static int window(struct sd_cursor *c, struct sd_pkt *p, size_t claimed,
		  size_t hdr, struct dgram *d)
{
	size_t cap = sd_cursor_left(c);
	size_t wire = claimed;

	/* A super-frame: the field is 0, or cannot express what we hold. */
	if (claimed == 0 || (cap > 65535 && cap > claimed)) {
		p->flags |= SD_PKT_GSO;
		wire = cap;
	}
	if (wire < hdr)
		return -SD_ELENGTH;
	if (cap > wire) {
		p->flags |= SD_PKT_TRAILER;
		cap = wire;
	} else if (cap < wire) {
		p->flags |= SD_PKT_CUT;
	}
	if (sd_cursor_sub(c, cap, &d->c) < 0)
		return -SD_ETRUNC;
	d->wire = wire;
	p->l3 = peek_rest(&d->c, &p->l3_len);
	p->l3_wire_len = wire;
	return 0;
}

static int decode_ip4(struct sd_cursor *c, struct sd_pkt *p)
{
	struct sd_cursor h = *c;
	uint8_t vihl, proto;
	uint16_t totlen, fragword, csum;
	const uint8_t *a;
	struct dgram d;
	size_t hlen;
	int ret;

	if (sd_cursor_u8(&h, &vihl) < 0)
		return -SD_ETRUNC;
	if (vihl >> 4 != 4 || (vihl & 15) < 5)
		return -SD_EVALUE;
	hlen = (vihl & 15) * 4u;
	if (sd_cursor_left(c) < hlen)
		return -SD_ETRUNC;
	if (sd_cursor_u8(&h, &p->tos) < 0 || sd_cursor_u16(&h, &totlen) < 0)
		return -SD_ETRUNC;
	ret = window(c, p, totlen, hlen, &d);
	if (ret < 0)
		return ret;
	p->family = 4;
	if (sd_cursor_skip(&d.c, 4) < 0 ||
	    sd_cursor_u16(&d.c, &p->ip_id) < 0 ||
	    sd_cursor_u16(&d.c, &fragword) < 0 ||
	    sd_cursor_u8(&d.c, &p->ttl) < 0 ||
	    sd_cursor_u8(&d.c, &proto) < 0 ||
	    sd_cursor_u16(&d.c, &csum) < 0 ||
	    sd_cursor_bytes(&d.c, 4, &a) < 0)
		return -SD_ETRUNC;
	memcpy(p->src, a, 4);
	if (sd_cursor_bytes(&d.c, 4, &a) < 0)
		return -SD_ETRUNC;
	memcpy(p->dst, a, 4);
	if (sd_cursor_skip(&d.c, hlen - 20) < 0)
		return -SD_ETRUNC;
	p->ip_hlen = (uint16_t)hlen;
	p->proto = proto;
	p->frag_id = p->ip_id;
	p->df = fragword & IP4_DF;
	p->mf = fragword & IP4_MF;
	p->frag_off = (uint16_t)((fragword & IP4_OFFMASK) * 8);
	if (p->mf || p->frag_off) {
		set_fragment(&d, p, proto);
		return 0;
	}
	return decode_l4(&d, p, proto);
}

static int decode_ip6(struct sd_cursor *c, struct sd_pkt *p)
{
	struct sd_cursor h = *c;
	uint32_t w;
	uint16_t plen;
	uint8_t nh, v;
	const uint8_t *a;
	struct dgram d;
	size_t claimed;
	int ret;

	if (sd_cursor_u8(&h, &v) < 0)
		return -SD_ETRUNC;
	if (v >> 4 != 6)
		return -SD_EVALUE;
	h = *c;
	if (sd_cursor_u32(&h, &w) < 0 || sd_cursor_u16(&h, &plen) < 0 ||
	    sd_cursor_u8(&h, &nh) < 0 || sd_cursor_left(c) < 40)
		return -SD_ETRUNC;
	/*
	 * Payload length 0 with data behind it is a jumbogram (RFC 2675) or
	 * a BIG TCP / GSO super-frame: window() takes the captured length.
	 * With no next header the rest is link padding.
	 */
	claimed = 40u + plen;
	if (!plen && nh != SD_IPPROTO_NONE && sd_cursor_left(c) > 40)
		claimed = 0;
	ret = window(c, p, claimed, 40, &d);
	if (ret < 0)
		return ret;
	p->family = 6;
	p->tos = (uint8_t)(w >> 20);
	p->flowlabel = w & 0xfffff;
	if (sd_cursor_skip(&d.c, 6) < 0 || sd_cursor_u8(&d.c, &nh) < 0 ||
	    sd_cursor_u8(&d.c, &p->ttl) < 0 ||
	    sd_cursor_bytes(&d.c, 16, &a) < 0)
		return -SD_ETRUNC;
	memcpy(p->src, a, 16);
	if (sd_cursor_bytes(&d.c, 16, &a) < 0)
		return -SD_ETRUNC;
	memcpy(p->dst, a, 16);
	p->ip_hlen = 40;
	return decode_upper(&d, p, nh, true);
}

int sd_pkt_decode(uint32_t linktype, const uint8_t *data, size_t len,
		  struct sd_pkt *pkt)
{
	struct sd_cursor c;
	uint8_t family = 0, v;
	int ret;

	memset(pkt, 0, sizeof(*pkt));
	pkt->linktype = linktype;
	sd_cursor_init(&c, data, len);
	ret = decode_link(linktype, &c, pkt, &family);
	if (ret < 0)
		return ret;
	if (family == 255) {
		struct sd_cursor t = c;

		if (sd_cursor_u8(&t, &v) < 0)
			return -SD_ETRUNC;
		family = v >> 4;
		if (family != 4 && family != 6)
			return -SD_EVALUE;
	}
	if (family == 4)
		return decode_ip4(&c, pkt);
	if (family == 6)
		return decode_ip6(&c, pkt);
	return 0;
}

int sd_pkt_decode_reassembled(struct sd_pkt *pkt, uint8_t proto,
			      const uint8_t *data, size_t len)
{
	struct dgram d;

	if (pkt->family != 4 && pkt->family != 6)
		return -SD_EVALUE;
	sd_cursor_init(&d.c, data, len);
	d.wire = len;
	pkt->frag = false;
	pkt->flags &= ~(uint32_t)(SD_PKT_CUT | SD_PKT_TRAILER | SD_PKT_BADOPT);
	memset(&pkt->tcp, 0, sizeof(pkt->tcp));
	memset(&pkt->icmp, 0, sizeof(pkt->icmp));
	pkt->payload = NULL;
	pkt->payload_len = pkt->payload_wire_len = 0;
	if (pkt->family == 4)
		return decode_l4(&d, pkt, proto);
	return decode_upper(&d, pkt, proto, false);
}

/* One's-complement sum of a byte string, unfolded; odd tails pad with zero. */
static uint64_t csum_add(uint64_t sum, const uint8_t *data, size_t len)
{
	struct sd_cursor c;
	uint16_t w;
	uint8_t b;

	sd_cursor_init(&c, data, len);
	while (sd_cursor_u16(&c, &w) == 0)
		sum += w;
	if (sd_cursor_u8(&c, &b) == 0)
		sum += (uint32_t)b << 8;
	return sum;
}

static uint16_t csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint16_t sd_inet_checksum(const uint8_t *data, size_t len)
{
	return csum_fold(csum_add(0, data, len));
}

/* RFC 9293 §3.1 (IPv4) and RFC 8200 §8.1 (IPv6) pseudo-headers. */
static uint64_t pseudo_sum(uint8_t family, const uint8_t *src,
			   const uint8_t *dst, uint8_t proto, size_t len)
{
	uint8_t ph[40];
	size_t n;

	if (family == 4) {
		memcpy(ph, src, 4);
		memcpy(ph + 4, dst, 4);
		ph[8] = 0;
		ph[9] = proto;
		ph[10] = (uint8_t)(len >> 8);
		ph[11] = (uint8_t)len;
		n = 12;
	} else {
		memcpy(ph, src, 16);
		memcpy(ph + 16, dst, 16);
		ph[32] = (uint8_t)(len >> 24);
		ph[33] = (uint8_t)(len >> 16);
		ph[34] = (uint8_t)(len >> 8);
		ph[35] = (uint8_t)len;
		ph[36] = ph[37] = ph[38] = 0;
		ph[39] = proto;
		n = 40;
	}
	return csum_add(0, ph, n);
}

unsigned sd_pkt_checksum(const struct sd_pkt *pkt)
{
	unsigned r = 0;
	size_t len;
	uint64_t sum;

	if (pkt->family == 4 && pkt->l3_len >= pkt->ip_hlen &&
	    sd_inet_checksum(pkt->l3, pkt->ip_hlen) != 0)
		r |= SD_CSUM_BAD_IP;
	switch (pkt->proto) {
	case SD_IPPROTO_TCP:
	case SD_IPPROTO_UDP:
		break;
	case SD_IPPROTO_ICMP:
		if (pkt->family == 4)
			break;
		return r;
	case SD_IPPROTO_ICMPV6:
		if (pkt->family == 6)
			break;
		return r;
	default:
		return r;
	}
	if (!pkt->family || pkt->frag ||
	    (pkt->flags & (SD_PKT_CUT | SD_PKT_GSO)) ||
	    pkt->l4_len != pkt->l4_wire_len)
		return r | SD_CSUM_UNCHECKED;
	len = pkt->l4_len;
	if (pkt->proto == SD_IPPROTO_UDP) {
		/* RFC 768: zero means "not computed", allowed for IPv4 only */
		if (pkt->udp.csum == 0)
			return pkt->family == 4 ? r : r | SD_CSUM_BAD_L4;
		len = pkt->udp.len;
	}
	if (len > pkt->l4_len)
		return r | SD_CSUM_UNCHECKED;
	sum = pkt->proto == SD_IPPROTO_ICMP ? 0 :
	      pseudo_sum(pkt->family, pkt->src, pkt->dst, pkt->proto, len);
	if (csum_fold(csum_add(sum, pkt->l4, len)) != 0)
		r |= SD_CSUM_BAD_L4;
	return r;
}

/* --- building --- */

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static int put_ip_hdr(struct sd_buf *b, const struct sd_ip_spec *ip,
		      uint8_t proto, size_t l4len)
{
	uint8_t ttl = ip->ttl ? ip->ttl : 64;
	size_t mark = b->len;

	if (ip->family == 4) {
		if (l4len > 65535 - 20)
			return -SD_ELENGTH;
		sd_buf_u8(b, 0x45);
		sd_buf_u8(b, ip->tos);
		sd_buf_u16(b, (uint16_t)(20 + l4len));
		sd_buf_u16(b, ip->id);
		sd_buf_u16(b, ip->df ? IP4_DF : 0);
		sd_buf_u8(b, ttl);
		sd_buf_u8(b, proto);
		sd_buf_u16(b, 0);
		sd_buf_put(b, ip->src, 4);
		sd_buf_put(b, ip->dst, 4);
		if (sd_buf_error(b))
			return sd_buf_error(b);
		put_be16(b->data + mark + 10, sd_inet_checksum(b->data + mark, 20));
		return 0;
	}
	if (ip->family != 6)
		return -SD_EVALUE;
	if (l4len > 65535)
		return -SD_ELENGTH;
	sd_buf_u32(b, 6u << 28 | (uint32_t)ip->tos << 20 | (ip->flowlabel & 0xfffff));
	sd_buf_u16(b, (uint16_t)l4len);
	sd_buf_u8(b, proto);
	sd_buf_u8(b, ttl);
	sd_buf_put(b, ip->src, 16);
	sd_buf_put(b, ip->dst, 16);
	return sd_buf_error(b);
}

/* Patches the transport checksum at csum_at, summing l4 from l4_at to the end. */
static int finish_l4(struct sd_buf *b, const struct sd_ip_spec *ip,
		     uint8_t proto, size_t start, size_t l4_at, size_t csum_at)
{
	size_t l4len = b->len - l4_at;
	uint64_t sum = 0;
	uint16_t cs;
	int ret = sd_buf_error(b);

	if (ret)
		return ret;
	if (proto != SD_IPPROTO_ICMP)
		sum = pseudo_sum(ip->family, ip->src, ip->dst, proto, l4len);
	cs = csum_fold(csum_add(sum, b->data + l4_at, l4len));
	/* RFC 768: a computed zero is sent as all ones */
	if (proto == SD_IPPROTO_UDP && cs == 0)
		cs = 0xffff;
	put_be16(b->data + csum_at, cs);
	return (int)(b->len - start);
}

static int tcp_options(const struct sd_tcp_opts *o, uint8_t *out)
{
	size_t n = 0;
	uint8_t t[64];

	if (o->nsack > SD_TCP_MAX_SACK)
		return -SD_EVALUE;
	if (o->has_mss) {
		t[n++] = 2;
		t[n++] = 4;
		put_be16(t + n, o->mss);
		n += 2;
	}
	/* the SYN layout Linux uses, so built SYNs look like real ones */
	if (o->sack_ok && o->has_ts) {
		t[n++] = 4;
		t[n++] = 2;
	} else if (o->sack_ok) {
		t[n++] = 1;
		t[n++] = 1;
		t[n++] = 4;
		t[n++] = 2;
	} else if (o->has_ts) {
		t[n++] = 1;
		t[n++] = 1;
	}
	if (o->has_ts) {
		t[n++] = 8;
		t[n++] = 10;
		for (int i = 24; i >= 0; i -= 8)
			t[n++] = (uint8_t)(o->tsval >> i);
		for (int i = 24; i >= 0; i -= 8)
			t[n++] = (uint8_t)(o->tsecr >> i);
	}
	if (o->has_wscale) {
		t[n++] = 1;
		t[n++] = 3;
		t[n++] = 3;
		t[n++] = o->wscale;
	}
	if (o->nsack) {
		t[n++] = 1;
		t[n++] = 1;
		t[n++] = 5;
		t[n++] = (uint8_t)(2 + 8 * o->nsack);
		if (n + 8u * o->nsack > sizeof(t))
			return -SD_ELENGTH;
		for (unsigned k = 0; k < o->nsack; k++)
			for (unsigned e = 0; e < 2; e++)
				for (int i = 24; i >= 0; i -= 8)
					t[n++] = (uint8_t)(o->sack[k][e] >> i);
	}
	while (n % 4)
		t[n++] = 0;
	/* RFC 9293 §3.1: the data offset caps options at 40 bytes */
	if (n > 40)
		return -SD_ELENGTH;
	memcpy(out, t, n);
	return (int)n;
}

int sd_build_tcp(struct sd_buf *b, const struct sd_ip_spec *ip,
		 const struct sd_tcp_spec *tcp, const uint8_t *payload,
		 size_t len)
{
	uint8_t opts[40];
	size_t start = b->len, l4_at;
	int olen, ret;

	if (sd_buf_error(b))
		return sd_buf_error(b);
	olen = tcp_options(&tcp->opt, opts);
	if (olen < 0)
		return olen;
	/* put_ip_hdr checks the exact limit; this keeps the sum from wrapping */
	if (len > 65535)
		return -SD_ELENGTH;
	ret = put_ip_hdr(b, ip, SD_IPPROTO_TCP, 20 + (size_t)olen + len);
	if (ret < 0)
		goto fail;
	l4_at = b->len;
	sd_buf_u16(b, tcp->sport);
	sd_buf_u16(b, tcp->dport);
	sd_buf_u32(b, tcp->seq);
	sd_buf_u32(b, tcp->ack);
	sd_buf_u16(b, (uint16_t)((20 + olen) / 4) << 12 | tcp->flags);
	sd_buf_u16(b, tcp->window);
	sd_buf_u16(b, 0);
	sd_buf_u16(b, tcp->urgent);
	sd_buf_put(b, opts, (size_t)olen);
	sd_buf_put(b, payload, len);
	ret = finish_l4(b, ip, SD_IPPROTO_TCP, start, l4_at, l4_at + 16);
	if (ret < 0)
		goto fail;
	return ret;
fail:
	/* leave nothing half-built behind unless the buffer itself failed */
	if (!sd_buf_error(b))
		b->len = start;
	return ret;
}

int sd_build_udp(struct sd_buf *b, const struct sd_ip_spec *ip,
		 uint16_t sport, uint16_t dport, const uint8_t *payload,
		 size_t len)
{
	size_t start = b->len, l4_at;
	int ret;

	if (sd_buf_error(b))
		return sd_buf_error(b);
	if (len > 65535)
		return -SD_ELENGTH;
	ret = put_ip_hdr(b, ip, SD_IPPROTO_UDP, 8 + len);
	if (ret < 0)
		goto fail;
	l4_at = b->len;
	sd_buf_u16(b, sport);
	sd_buf_u16(b, dport);
	sd_buf_u16(b, (uint16_t)(8 + len));
	sd_buf_u16(b, 0);
	sd_buf_put(b, payload, len);
	ret = finish_l4(b, ip, SD_IPPROTO_UDP, start, l4_at, l4_at + 6);
	if (ret < 0)
		goto fail;
	return ret;
fail:
	if (!sd_buf_error(b))
		b->len = start;
	return ret;
}

int sd_build_icmp(struct sd_buf *b, const struct sd_ip_spec *ip, uint8_t type,
		  uint8_t code, uint32_t rest, const uint8_t *payload,
		  size_t len)
{
	uint8_t proto = ip->family == 6 ? SD_IPPROTO_ICMPV6 : SD_IPPROTO_ICMP;
	size_t start = b->len, l4_at;
	int ret;

	if (sd_buf_error(b))
		return sd_buf_error(b);
	if (len > 65535)
		return -SD_ELENGTH;
	ret = put_ip_hdr(b, ip, proto, 8 + len);
	if (ret < 0)
		goto fail;
	l4_at = b->len;
	sd_buf_u8(b, type);
	sd_buf_u8(b, code);
	sd_buf_u16(b, 0);
	sd_buf_u32(b, rest);
	sd_buf_put(b, payload, len);
	ret = finish_l4(b, ip, proto, start, l4_at, l4_at + 2);
	if (ret < 0)
		goto fail;
	return ret;
fail:
	if (!sd_buf_error(b))
		b->len = start;
	return ret;
}

int sd_build_ip(struct sd_buf *b, const struct sd_ip_spec *ip, uint8_t proto,
		const uint8_t *l4, size_t len)
{
	size_t start = b->len;
	int ret;

	if (sd_buf_error(b))
		return sd_buf_error(b);
	ret = put_ip_hdr(b, ip, proto, len);
	if (ret < 0) {
		if (!sd_buf_error(b))
			b->len = start;
		return ret;
	}
	sd_buf_put(b, l4, len);
	ret = sd_buf_error(b);
	return ret ? ret : (int)(b->len - start);
}

int sd_build_eth(struct sd_buf *b, const uint8_t dst[6], const uint8_t src[6],
		 uint16_t ethertype)
{
	sd_buf_put(b, dst, 6);
	sd_buf_put(b, src, 6);
	sd_buf_u16(b, ethertype);
	return sd_buf_error(b) ? sd_buf_error(b) : 14;
}

/* --- fragmentation --- */

/*
 * RFC 791 §3.1: options with the copied flag go in every fragment; the
 * rest only in the first. Writes the copied ones, padded, to out.
 */
static int ip4_copied_options(const uint8_t *opts, size_t len, uint8_t *out)
{
	struct sd_cursor c;
	size_t n = 0;
	uint8_t kind, olen;
	const uint8_t *body;

	sd_cursor_init(&c, opts, len);
	while (sd_cursor_u8(&c, &kind) == 0) {
		if (kind == 0)
			break;
		if (kind == 1)
			continue;
		if (sd_cursor_u8(&c, &olen) < 0 || olen < 2 ||
		    sd_cursor_bytes(&c, olen - 2u, &body) < 0)
			return -SD_EVALUE;
		if (!(kind & 0x80))
			continue;
		out[n++] = kind;
		out[n++] = olen;
		if (olen > 2)
			memcpy(out + n, body, olen - 2u);
		n += olen - 2u;
	}
	while (n % 4)
		out[n++] = 0;
	return (int)n;
}

int sd_ip4_fragment(struct sd_buf *out, const uint8_t *pkt, size_t len,
		    size_t frag_payload, size_t *ends, size_t max)
{
	struct sd_cursor c, t, data;
	const uint8_t *hdr, *opts, *chunk;
	uint8_t vihl, copied[40];
	uint16_t totlen, fragword;
	size_t hlen, dlen, nfrag, base_off;
	int clen, ret;

	if (!frag_payload || frag_payload % 8 || frag_payload > 65528)
		return -SD_EVALUE;
	sd_cursor_init(&c, pkt, len);
	t = c;
	if (sd_cursor_u8(&t, &vihl) < 0)
		return -SD_ETRUNC;
	if (vihl >> 4 != 4 || (vihl & 15) < 5)
		return -SD_EVALUE;
	hlen = (vihl & 15) * 4u;
	t = c;
	if (sd_cursor_bytes(&t, 20, &hdr) < 0 ||
	    sd_cursor_skip(&c, 2) < 0 || sd_cursor_u16(&c, &totlen) < 0 ||
	    sd_cursor_skip(&c, 2) < 0 || sd_cursor_u16(&c, &fragword) < 0 ||
	    sd_cursor_skip(&c, 12) < 0 ||
	    sd_cursor_bytes(&c, hlen - 20, &opts) < 0)
		return -SD_ETRUNC;
	if (totlen < hlen || totlen != len)
		return totlen > len ? -SD_ETRUNC : -SD_ELENGTH;
	/* RFC 791: a DF datagram must not be fragmented */
	if (fragword & IP4_DF)
		return -SD_EVALUE;
	dlen = totlen - hlen;
	if (sd_cursor_sub(&c, dlen, &data) < 0)
		return -SD_ETRUNC;
	clen = ip4_copied_options(opts, hlen - 20, copied);
	if (clen < 0)
		return clen;
	base_off = (fragword & IP4_OFFMASK) * 8u;
	nfrag = dlen ? (dlen + frag_payload - 1) / frag_payload : 1;
	if (nfrag > max)
		return -SD_ELIMIT;
	if (base_off + (nfrag - 1) * frag_payload > 65528)
		return -SD_ELENGTH;
	for (size_t i = 0; i < nfrag; i++) {
		size_t off = i * frag_payload;
		size_t n = dlen - off < frag_payload ? dlen - off : frag_payload;
		size_t ohl = i ? 20 + (size_t)clen : hlen;
		bool more = i + 1 < nfrag || (fragword & IP4_MF);
		uint8_t *h;

		if (sd_cursor_bytes(&data, n, &chunk) < 0)
			return -SD_ETRUNC;
		h = sd_buf_reserve(out, ohl);
		if (!h)
			break;
		memcpy(h, hdr, 20);
		if (i)
			memcpy(h + 20, copied, (size_t)clen);
		else if (hlen > 20)
			memcpy(h + 20, opts, hlen - 20);
		h[0] = (uint8_t)(0x40 | ohl / 4);
		put_be16(h + 2, (uint16_t)(ohl + n));
		put_be16(h + 6, (uint16_t)((more ? IP4_MF : 0) | (base_off + off) / 8));
		put_be16(h + 10, 0);
		put_be16(h + 10, sd_inet_checksum(h, ohl));
		sd_buf_put(out, chunk, n);
		ends[i] = out->len;
	}
	ret = sd_buf_error(out);
	return ret ? ret : (int)nfrag;
}

int sd_ip6_fragment(struct sd_buf *out, const uint8_t *pkt, size_t len,
		    size_t frag_payload, uint32_t id, size_t *ends, size_t max)
{
	struct sd_cursor c, data;
	const uint8_t *unfrag, *chunk;
	uint8_t v, nh, next, hl, frag_nh;
	uint16_t plen;
	size_t pos = 40, unfrag_len = 40, nh_at = 6, dlen, nfrag;
	bool hbh_ok = true;
	int ret;

	if (!frag_payload || frag_payload % 8 || frag_payload > 65528)
		return -SD_EVALUE;
	sd_cursor_init(&c, pkt, len);
	if (sd_cursor_u8(&c, &v) < 0)
		return -SD_ETRUNC;
	if (v >> 4 != 6)
		return -SD_EVALUE;
	if (sd_cursor_skip(&c, 3) < 0 || sd_cursor_u16(&c, &plen) < 0 ||
	    sd_cursor_u8(&c, &nh) < 0 || sd_cursor_skip(&c, 33) < 0)
		return -SD_ETRUNC;
	if (40u + plen != len)
		return 40u + plen > len ? -SD_ETRUNC : -SD_ELENGTH;
	frag_nh = nh;
	/*
	 * RFC 8200 §4.5: the per-fragment headers run up to and including
	 * the Routing header if there is one, else the Hop-by-Hop header.
	 */
	while (nh == SD_IPPROTO_DSTOPTS || nh == SD_IPPROTO_ROUTING ||
	       (nh == SD_IPPROTO_HOPOPTS && hbh_ok)) {
		size_t at = pos;

		if (sd_cursor_u8(&c, &next) < 0 || sd_cursor_u8(&c, &hl) < 0 ||
		    sd_cursor_skip(&c, (hl + 1u) * 8 - 2) < 0)
			return -SD_ETRUNC;
		pos += (hl + 1u) * 8;
		if (nh != SD_IPPROTO_DSTOPTS) {
			unfrag_len = pos;
			nh_at = at;
			frag_nh = next;
		}
		hbh_ok = false;
		nh = next;
	}
	sd_cursor_init(&c, pkt, len);
	if (sd_cursor_bytes(&c, unfrag_len, &unfrag) < 0)
		return -SD_ETRUNC;
	dlen = len - unfrag_len;
	if (sd_cursor_sub(&c, dlen, &data) < 0)
		return -SD_ETRUNC;
	nfrag = dlen ? (dlen + frag_payload - 1) / frag_payload : 1;
	if (nfrag > max)
		return -SD_ELIMIT;
	if ((nfrag - 1) * frag_payload > 65528 ||
	    unfrag_len - 40 + 8 + frag_payload > 65535)
		return -SD_ELENGTH;
	for (size_t i = 0; i < nfrag; i++) {
		size_t off = i * frag_payload;
		size_t n = dlen - off < frag_payload ? dlen - off : frag_payload;
		bool more = i + 1 < nfrag;
		uint8_t *h;

		if (sd_cursor_bytes(&data, n, &chunk) < 0)
			return -SD_ETRUNC;
		h = sd_buf_reserve(out, unfrag_len + 8);
		if (!h)
			break;
		memcpy(h, unfrag, unfrag_len);
		put_be16(h + 4, (uint16_t)(unfrag_len - 40 + 8 + n));
		h[nh_at] = SD_IPPROTO_FRAGMENT;
		h[unfrag_len] = frag_nh;
		h[unfrag_len + 1] = 0;
		put_be16(h + unfrag_len + 2, (uint16_t)(off | (more ? 1 : 0)));
		h[unfrag_len + 4] = (uint8_t)(id >> 24);
		h[unfrag_len + 5] = (uint8_t)(id >> 16);
		h[unfrag_len + 6] = (uint8_t)(id >> 8);
		h[unfrag_len + 7] = (uint8_t)id;
		sd_buf_put(out, chunk, n);
		ends[i] = out->len;
	}
	ret = sd_buf_error(out);
	return ret ? ret : (int)nfrag;
}

/* --- address text --- */

int sd_addr_format(int family, const uint8_t addr[16], char *out, size_t n)
{
	char t[SD_ADDR_STRLEN];
	uint16_t w[8];
	int best = -1, bestlen = 0, len = 0;

	if (family == 4) {
		len = snprintf(t, sizeof(t), "%u.%u.%u.%u", addr[0], addr[1],
			       addr[2], addr[3]);
	} else if (family == 6) {
		for (int i = 0; i < 8; i++)
			w[i] = (uint16_t)(addr[2 * i] << 8 | addr[2 * i + 1]);
		/* RFC 5952 §5: IPv4-mapped addresses keep the dotted tail */
		if (!w[0] && !w[1] && !w[2] && !w[3] && !w[4] && w[5] == 0xffff) {
			len = snprintf(t, sizeof(t), "::ffff:%u.%u.%u.%u",
				       addr[12], addr[13], addr[14], addr[15]);
			goto done;
		}
		/* RFC 5952 §4.2: the longest run of two or more, the first on ties */
		for (int i = 0; i < 8;) {
			int j = i;

			while (j < 8 && !w[j])
				j++;
			if (j - i > bestlen && j - i >= 2) {
				best = i;
				bestlen = j - i;
			}
			i = j > i ? j : i + 1;
		}
		for (int i = 0; i < 8; i++) {
			if (i == best) {
				len += snprintf(t + len, sizeof(t) - (size_t)len, "::");
				i += bestlen - 1;
				continue;
			}
			len += snprintf(t + len, sizeof(t) - (size_t)len, "%s%x",
					i && i != best + bestlen ? ":" : "", w[i]);
		}
	} else {
		return -SD_EVALUE;
	}
done:
	if (len < 0 || (size_t)len >= n)
		return -ENOSPC;
	memcpy(out, t, (size_t)len + 1);
	return len;
}

static int hexval(uint8_t ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static bool peek_is(const struct sd_cursor *c, uint8_t want)
{
	struct sd_cursor t = *c;
	uint8_t ch;

	return sd_cursor_u8(&t, &ch) == 0 && ch == want;
}

/* Four decimal octets without leading zeros, up to the cursor's end. */
static int parse_quad(struct sd_cursor *c, uint8_t *a)
{
	for (int i = 0; i < 4; i++) {
		unsigned v = 0, digits = 0;
		uint8_t ch;

		if (i && (sd_cursor_u8(c, &ch) < 0 || ch != '.'))
			return -SD_ESYNTAX;
		while (sd_cursor_left(c)) {
			struct sd_cursor t = *c;

			if (sd_cursor_u8(&t, &ch) < 0 || ch < '0' || ch > '9')
				break;
			if (digits && v == 0)
				return -SD_ESYNTAX;
			v = v * 10 + (ch - '0');
			if (++digits > 3 || v > 255)
				return -SD_ESYNTAX;
			*c = t;
		}
		if (!digits)
			return -SD_ESYNTAX;
		a[i] = (uint8_t)v;
	}
	return sd_cursor_left(c) ? -SD_ESYNTAX : 0;
}

/* Whether the group at c is a dotted quad: a '.' before the next ':'. */
static bool group_is_quad(const struct sd_cursor *c)
{
	struct sd_cursor t = *c;
	uint8_t ch;

	while (sd_cursor_u8(&t, &ch) == 0 && ch != ':')
		if (ch == '.')
			return true;
	return false;
}

static int parse_ip6(struct sd_cursor *c, uint8_t *addr)
{
	uint16_t w[8] = { 0 };
	int n = 0, gap = -1;
	uint8_t ch;

	if (peek_is(c, ':')) {
		if (sd_cursor_skip(c, 1) < 0 || !peek_is(c, ':'))
			return -SD_ESYNTAX;
		if (sd_cursor_skip(c, 1) < 0)
			return -SD_ESYNTAX;
		gap = 0;
	}
	while (sd_cursor_left(c)) {
		unsigned v = 0, digits = 0;

		if (n >= 8)
			return -SD_ESYNTAX;
		if (group_is_quad(c)) {
			uint8_t q[4];

			if (n > 6 || parse_quad(c, q) < 0)
				return -SD_ESYNTAX;
			w[n++] = (uint16_t)(q[0] << 8 | q[1]);
			w[n++] = (uint16_t)(q[2] << 8 | q[3]);
			break;
		}
		while (sd_cursor_left(c)) {
			struct sd_cursor t = *c;
			int h;

			if (sd_cursor_u8(&t, &ch) < 0 || (h = hexval(ch)) < 0)
				break;
			if (++digits > 4)
				return -SD_ESYNTAX;
			v = v << 4 | (unsigned)h;
			*c = t;
		}
		if (!digits)
			return -SD_ESYNTAX;
		w[n++] = (uint16_t)v;
		if (!sd_cursor_left(c))
			break;
		if (sd_cursor_u8(c, &ch) < 0 || ch != ':')
			return -SD_ESYNTAX;
		if (peek_is(c, ':')) {
			if (gap >= 0 || sd_cursor_skip(c, 1) < 0)
				return -SD_ESYNTAX;
			gap = n;
			continue;
		}
		/* a single colon must be followed by another group */
		if (!sd_cursor_left(c))
			return -SD_ESYNTAX;
	}
	if (gap < 0 ? n != 8 : n > 7)
		return -SD_ESYNTAX;
	if (gap >= 0) {
		int tail = n - gap;

		memmove(w + 8 - tail, w + gap, (size_t)tail * sizeof(w[0]));
		memset(w + gap, 0, (size_t)(8 - tail - gap) * sizeof(w[0]));
	}
	for (int i = 0; i < 8; i++) {
		addr[2 * i] = (uint8_t)(w[i] >> 8);
		addr[2 * i + 1] = (uint8_t)w[i];
	}
	return 0;
}

int sd_addr_parse(const char *text, uint8_t addr[16])
{
	struct sd_cursor c;
	uint8_t a[16] = { 0 };
	size_t len;

	if (!text)
		return -SD_ESYNTAX;
	len = strlen(text);
	if (!len || len >= SD_ADDR_STRLEN)
		return -SD_ESYNTAX;
	sd_cursor_init(&c, text, len);
	if (!memchr(text, ':', len)) {
		if (parse_quad(&c, a) < 0)
			return -SD_ESYNTAX;
		memcpy(addr, a, 16);
		return 4;
	}
	if (parse_ip6(&c, a) < 0)
		return -SD_ESYNTAX;
	memcpy(addr, a, 16);
	return 6;
}
