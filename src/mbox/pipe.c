/* SPDX-License-Identifier: MIT */
/* One frame through a user-space hop: the router's stages, its ICMP errors, reordering and duplication. */
#define _GNU_SOURCE
#include <string.h>

#include "shakedown/cursor.h"
#include "mbox_int.h"

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

uint64_t sd_mbox_csum_add(uint64_t sum, const uint8_t *d, size_t len)
{
	size_t i = 0;

	for (; i + 1 < len; i += 2)
		sum += rd16(d + i);
	if (i < len)
		sum += (uint32_t)d[i] << 8;
	return sum;
}

uint16_t sd_mbox_csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for one changed 16-bit word. */
static void csum_replace(uint8_t *csum, uint16_t old, uint16_t now)
{
	uint64_t sum = (uint16_t)~rd16(csum);

	sum += (uint16_t)~old;
	sum += now;
	wr16(csum, sd_mbox_csum_fold(sum));
}

void sd_mbox_ip4_csum(uint8_t *ip, size_t hlen)
{
	wr16(ip + 10, 0);
	wr16(ip + 10, sd_mbox_csum_fold(sd_mbox_csum_add(0, ip, hlen)));
}

void sd_mbox_tcp_csum(uint8_t *ip, int family, size_t hlen, size_t len)
{
	size_t l4len = len - hlen;
	uint64_t sum;

	/* The pseudo-header: RFC 9293 §3.1 (IPv4), RFC 8200 §8.1 (IPv6). */
	if (family == 4)
		sum = sd_mbox_csum_add(0, ip + 12, 8);
	else
		sum = sd_mbox_csum_add(0, ip + 8, 32);
	sum += SD_IPPROTO_TCP + (uint64_t)l4len;
	wr16(ip + hlen + 16, 0);
	wr16(ip + hlen + 16, sd_mbox_csum_fold(sd_mbox_csum_add(sum, ip + hlen, l4len)));
}

/* Addressed to the hop itself, or to a group: the hop's kernel's business. */
static bool for_kernel(const struct sd_mbox *m, const struct sd_pkt *p)
{
	for (int s = 0; s < 2; s++)
		if (p->family == 4 ? memcmp(p->dst, m->side[s].ip4, 4) == 0 :
				     memcmp(p->dst, m->side[s].ip6, 16) == 0)
			return true;
	if (p->family == 4)
		return (p->dst[0] & 0xf0) == 0xe0 || memcmp(p->dst, "\xff\xff\xff\xff", 4) == 0;
	return p->dst[0] == 0xff;
}

static bool is_icmp_error(const struct sd_pkt *p)
{
	if (p->frag)
		return false;
	/* RFC 792: unreachable, source quench, redirect, time exceeded,
	 * parameter problem; RFC 4443 §2.1: types below 128. */
	if (p->proto == SD_IPPROTO_ICMP)
		return p->icmp.type == 3 || p->icmp.type == 4 || p->icmp.type == 5 ||
		       p->icmp.type == 11 || p->icmp.type == 12;
	return p->proto == SD_IPPROTO_ICMPV6 && p->icmp.type < 128;
}

/*
 * The hop's own ICMP error about p, which came in on side in, sent back
 * out of it from the hop's address there: too big (RFC 1191 frag-needed,
 * RFC 4443 §3.2 packet-too-big with the next link's mtu) or time exceeded
 * (RFC 792, RFC 4443 §3.3). As Linux: the error quotes as much of the
 * packet as fits in 576 (IPv4) or 1280 (IPv6) bytes and the link, none is
 * sent about an ICMP error or a non-first fragment (RFC 1122 §3.2.2,
 * RFC 4443 §2.4 (e)), and at most 1000 a second go, in bursts of 50.
 */
static void icmp_error(struct sd_mbox *m, const struct sd_pkt *p, int in, bool too_big, unsigned mtu)
{
	const struct mb_side *s = &m->side[in];
	struct sd_ip_spec ip;
	size_t room, quote;
	uint8_t type, code;
	uint32_t slot;
	int n;

	if (p->frag_off || is_icmp_error(p))
		return;
	m->icmp_tokens += m->now - m->icmp_last;
	m->icmp_last = m->now;
	if (m->icmp_tokens > 50 * 1000000ull)
		m->icmp_tokens = 50 * 1000000ull;
	if (m->icmp_tokens < 1000000ull)
		return;
	m->icmp_tokens -= 1000000ull;
	memset(&ip, 0, sizeof(ip));
	ip.family = p->family;
	ip.ttl = 64;
	ip.id = ++m->ip_id;
	memcpy(ip.dst, p->src, 16);
	if (p->family == 4) {
		memcpy(ip.src, s->ip4, 4);
		ip.tos = 0xc0;   /* IPTOS_PREC_INTERNETCONTROL, as Linux sends errors */
		room = (s->mtu < 576 ? s->mtu : 576) - 28;
		type = too_big ? 3 : 11;
		code = too_big ? 4 : 0;
	} else {
		memcpy(ip.src, s->ip6, 16);
		room = (s->mtu < 1280 ? s->mtu : 1280) - 48;
		type = too_big ? 2 : 3;
		code = 0;
	}
	quote = p->l3_len < room ? p->l3_len : room;
	sd_buf_reset(&m->scratch);
	n = sd_build_icmp(&m->scratch, &ip, type, code, too_big ? mtu : 0, p->l3, quote);
	if (n < 0)
		return;
	slot = sd_mbox_slot_ip(m, in, m->scratch.data, (size_t)n);
	if (slot == MB_NONE)
		return;
	m->st.icmp_sent++;
	sd_mbox_emit(m, slot, in);
}

static void dec_ttl(uint8_t *ip, int family)
{
	uint16_t old;

	if (family == 6) {
		ip[7]--;
		return;
	}
	old = rd16(ip + 8);
	ip[8]--;
	csum_replace(ip + 10, old, rd16(ip + 8));
}

/* mss-clamp:N on a SYN: the MSS option (RFC 9293 §3.2) lowered in place. */
static void clamp_mss(struct sd_mbox *m, uint8_t *frame, const struct sd_pkt *p)
{
	size_t l4 = (size_t)(p->l4 - frame);
	uint16_t want = (uint16_t)m->hop.mss_clamp;
	struct sd_cursor c;
	uint8_t kind, len;

	if (!p->tcp.opt.has_mss || p->tcp.opt.mss <= want || p->tcp.hlen < 20 ||
	    p->l4_len < p->tcp.hlen)
		return;
	sd_cursor_init(&c, frame + l4 + 20, p->tcp.hlen - 20u);
	while (sd_cursor_u8(&c, &kind) == 0 && kind != 0) {
		size_t at;

		if (kind == 1)
			continue;
		if (sd_cursor_u8(&c, &len) < 0 || len < 2)
			return;
		at = sd_cursor_offset(&c);
		if (sd_cursor_skip(&c, len - 2u) < 0)
			return;
		if (kind == 2 && len == 4) {
			uint8_t *o = frame + l4 + 20 + at;
			uint16_t old = rd16(o);

			wr16(o, want);
			csum_replace(frame + l4 + 16, old, want);
			m->st.clamped++;
			return;
		}
	}
}

/* An IPv4 packet without DF, too big for the next link: fragments, as a
 * kernel router sends them (RFC 791 §3.2), the TTL already lowered. */
static void fragment(struct sd_mbox *m, const uint8_t *ip, size_t len, size_t hlen, int out)
{
	size_t ends[MB_FRAG_MAX], start = 0;
	size_t payload = (m->side[out].mtu - hlen) / 8 * 8;
	int n;

	sd_buf_reset(&m->scratch);
	n = sd_ip4_fragment(&m->scratch, ip, len, payload, ends, MB_FRAG_MAX);
	if (n <= 0) {
		m->st.drop_mtu++;
		return;
	}
	m->st.fragmented++;
	for (int i = 0; i < n; i++) {
		uint32_t slot = sd_mbox_slot_ip(m, out, m->scratch.data + start, ends[i] - start);

		start = ends[i];
		if (slot != MB_NONE)
			sd_mbox_forward(m, slot, out);
	}
}

void sd_mbox_pass(struct sd_mbox *m, uint32_t slot, int out)
{
	uint32_t copy = MB_NONE;

	if (m->hop.dup_bp && sd_mbox_chance(m, m->hop.dup_bp)) {
		copy = sd_mbox_slot_get(m);
		if (copy == MB_NONE) {
			m->st.drop_pool++;
		} else {
			memcpy(sd_mbox_data(m, copy), sd_mbox_data(m, slot), m->len[slot]);
			m->len[copy] = m->len[slot];
			m->st.duplicated++;
		}
	}
	sd_mbox_emit(m, slot, out);
	if (copy != MB_NONE)
		sd_mbox_emit(m, copy, out);
}

void sd_mbox_forward(struct sd_mbox *m, uint32_t slot, int out)
{
	/* One draw per packet whether or not a frame is already held. */
	if (m->hop.reorder_bp && sd_mbox_chance(m, m->hop.reorder_bp) && m->held[out] == MB_NONE) {
		m->held[out] = slot;
		m->held_until[out] = m->now + MB_HOLD_NS;
		m->st.reordered++;
		return;
	}
	sd_mbox_pass(m, slot, out);
	if (m->held[out] != MB_NONE) {
		uint32_t held = m->held[out];

		m->held[out] = MB_NONE;
		sd_mbox_pass(m, held, out);
	}
}

/*
 * The router, in the order a kernel router goes (ip_forward: TTL, then
 * MTU, then the TTL written; netfilter's forward hook after) with the
 * flow stage in front, unless staged (a fragment or datagram whose
 * reassembled whole went through it). p is decoded from slot's frame and
 * points into it: the slot is given back last.
 */
static void route(struct sd_mbox *m, uint32_t slot, int in, struct sd_pkt *p, bool staged)
{
	uint8_t *d = sd_mbox_data(m, slot), *ip = d + (p->l3 - d);
	int out = !in, dir = in;   /* what enters on the left goes to the server: dir 0 */
	bool flow = m->want_flows && p->proto == SD_IPPROTO_TCP && !p->frag && !staged;
	size_t ip_len = p->l3_wire_len;

	if (flow) {
		if (!sd_mbox_flow_stage(m, d, p, dir, &ip_len))
			goto drop;
		m->len[slot] = (uint32_t)((size_t)(ip - d) + ip_len);
	}
	if (p->ttl <= 1) {
		icmp_error(m, p, in, false, 0);
		m->st.drop_ttl++;
		goto drop;
	}
	if (ip_len > m->side[out].mtu) {
		if (p->family == 4 && !p->df) {
			dec_ttl(ip, 4);
			if (flow)
				sd_mbox_flow_forwarded(m, p, dir);
			fragment(m, ip, ip_len, p->ip_hlen, out);
			goto drop;
		}
		if (m->hop.icmp_filter)
			m->st.icmp_filtered++;
		else
			icmp_error(m, p, in, true, m->side[out].mtu);
		m->st.drop_mtu++;
		goto drop;
	}
	dec_ttl(ip, p->family);
	if (m->hop.mss_clamp && p->proto == SD_IPPROTO_TCP && !p->frag && (p->tcp.flags & SD_TCP_SYN))
		clamp_mss(m, d, p);
	if (flow)
		sd_mbox_flow_forwarded(m, p, dir);
	sd_mbox_forward(m, slot, out);
	return;
drop:
	sd_mbox_slot_put(m, slot);
}

/* Decodes slot's frame: false (the slot given back, counted) when it is
 * not for forwarding. The datagram's Ethernet padding is cut off. */
static bool decode(struct sd_mbox *m, uint32_t slot, struct sd_pkt *p)
{
	uint8_t *d = sd_mbox_data(m, slot);

	if (sd_pkt_decode(SD_LINKTYPE_ETHERNET, d, m->len[slot], p) < 0 || !p->family || p->nvlan ||
	    (p->flags & SD_PKT_CUT) || for_kernel(m, p)) {
		m->st.ignored++;
		sd_mbox_slot_put(m, slot);
		return false;
	}
	m->len[slot] = (uint32_t)((size_t)(p->l3 - d) + p->l3_wire_len);
	return true;
}

void sd_mbox_route(struct sd_mbox *m, uint32_t slot, int in, bool staged)
{
	struct sd_pkt p;

	if (decode(m, slot, &p))
		route(m, slot, in, &p, staged);
}

/*
 * A frame in: decoded, then the hop's stages in order: fragment filter,
 * loss, reassembly (for a hop that looks into TCP), the rest (route).
 * The decoded views point into the slot: the slot is given back last.
 */
void sd_mbox_frame(struct sd_mbox *m, uint32_t slot, int in)
{
	struct sd_pkt p;

	if (!decode(m, slot, &p))
		return;
	if (m->hop.drop_fragments && (p.frag || p.v6_fraghdr)) {
		m->st.drop_fragments++;
		goto drop;
	}
	if (m->hop.loss_bp && sd_mbox_chance(m, m->hop.loss_bp)) {
		m->st.drop_loss++;
		goto drop;
	}
	if (m->want_flows && p.proto == SD_IPPROTO_TCP && p.frag) {
		sd_mbox_defrag(m, slot, &p, in);
		return;
	}
	route(m, slot, in, &p, false);
	return;
drop:
	sd_mbox_slot_put(m, slot);
}
