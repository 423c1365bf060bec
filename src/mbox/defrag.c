/* SPDX-License-Identifier: MIT */
/*
 * IP reassembly in front of the flow stage. A device that inspects TCP
 * (a firewall with conntrack, an IPS, a TLS proxy's kernel) sees whole
 * datagrams: fragments are held until the payload is complete (RFC 791
 * §3.2, RFC 8200 §4.5), the rebuilt datagram is inspected once, and the
 * held fragments then leave as they came, as a Linux router that
 * defragmented for netfilter refragments to the largest size it received.
 *
 * Held frames stay in the hop's slots; a datagram still incomplete after
 * MB_DEFRAG_NS, one with too many fragments or too long, or the oldest when
 * every entry is taken, is dropped (drop_reassembly). IPv6 extension
 * headers before the fragment header are not kept in the rebuilt datagram
 * (the engine's fragments have none).
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "mbox_int.h"

static void entry_drop(struct sd_mbox *m, struct mb_defrag *e, bool count)
{
	for (uint32_t i = 0; i < e->nslot; i++)
		sd_mbox_slot_put(m, e->slot[i]);
	if (count && e->nslot)
		m->st.drop_reassembly += e->nslot;
	e->nslot = 0;
	e->used = false;
}

static struct mb_defrag *entry_get(struct sd_mbox *m, const struct sd_pkt *p, int in)
{
	struct mb_defrag *free_e = NULL, *oldest = NULL;
	size_t alen = p->family == 4 ? 4 : 16;

	for (size_t i = 0; i < MB_DEFRAG; i++) {
		struct mb_defrag *e = &m->defrag[i];

		if (!e->used) {
			if (!free_e)
				free_e = e;
			continue;
		}
		if (e->family == p->family && e->id == p->frag_id && e->proto == p->proto && e->in == in &&
		    !memcmp(e->src, p->src, alen) && !memcmp(e->dst, p->dst, alen))
			return e;
		if (!oldest || e->first_ns < oldest->first_ns)
			oldest = e;
	}
	if (!free_e) {
		entry_drop(m, oldest, true);
		free_e = oldest;
	}
	if (!free_e->buf && !(free_e->buf = malloc(MB_DEFRAG_MAX)))
		return NULL;
	free_e->used = true;
	free_e->family = p->family;
	free_e->proto = p->proto;
	free_e->id = p->frag_id;
	free_e->in = in;
	memset(free_e->src, 0, 16);
	memset(free_e->dst, 0, 16);
	memcpy(free_e->src, p->src, alen);
	memcpy(free_e->dst, p->dst, alen);
	free_e->first_ns = m->now;
	free_e->nslot = 0;
	free_e->have_first = free_e->have_last = false;
	free_e->total = 0;
	free_e->hlen = 0;
	memset(free_e->map, 0, sizeof(free_e->map));
	return free_e;
}

static bool complete(const struct mb_defrag *e)
{
	if (!e->have_first || !e->have_last)
		return false;
	for (uint32_t b = 0; b < (e->total + 7) / 8; b++)
		if (!(e->map[b / 8] & (1u << (b % 8))))
			return false;
	return true;
}

/* The whole datagram behind an Ethernet header in m->dgram; its IP length. */
static size_t rebuild(struct sd_mbox *m, const struct mb_defrag *e)
{
	uint8_t *d = m->dgram, *ip = d + MB_ETH;
	size_t len;

	memcpy(d, sd_mbox_data(m, e->slot[0]), MB_ETH);
	memcpy(ip, e->hdr, e->hlen);
	memcpy(ip + e->hlen, e->buf, e->total);
	len = e->hlen + e->total;
	if (e->family == 4) {
		ip[2] = (uint8_t)(len >> 8);
		ip[3] = (uint8_t)len;
		ip[6] = 0;          /* no MF, offset 0; DF was clear on a fragment */
		ip[7] = 0;
		sd_mbox_ip4_csum(ip, e->hlen);
	} else {
		d[12] = 0x86;
		d[13] = 0xdd;
		ip[4] = (uint8_t)(e->total >> 8);
		ip[5] = (uint8_t)e->total;
		ip[6] = e->proto;
	}
	return len;
}

/* The whole datagram of e: inspected once, then its fragments (or, when
 * the stage shortened it, the datagram itself) on their way. */
static void release(struct sd_mbox *m, struct mb_defrag *e)
{
	struct sd_pkt dp;
	size_t len = rebuild(m, e), before;
	int dir = e->in, out = !e->in;

	m->st.reassembled++;
	if (sd_pkt_decode(SD_LINKTYPE_ETHERNET, m->dgram, MB_ETH + len, &dp) < 0 ||
	    dp.proto != SD_IPPROTO_TCP || dp.frag) {
		m->st.drop_reassembly += e->nslot;
		entry_drop(m, e, false);
		return;
	}
	before = len;
	if (!sd_mbox_flow_stage(m, m->dgram, &dp, dir, &len)) {
		entry_drop(m, e, false);          /* counted by the stage */
		return;
	}
	if (len == before) {
		uint32_t n = e->nslot;

		e->nslot = 0;
		for (uint32_t i = 0; i < n; i++)
			sd_mbox_route(m, e->slot[i], e->in, true);
	} else {
		/* truncate-segment shortened it: the datagram leaves whole
		 * (fragmented again on the way out if it must be) */
		uint32_t slot = sd_mbox_slot_ip(m, out, m->dgram + MB_ETH, len);

		if (slot != MB_NONE)
			sd_mbox_route(m, slot, e->in, true);
	}
	sd_mbox_flow_forwarded(m, &dp, dir);
	entry_drop(m, e, false);
}

void sd_mbox_defrag(struct sd_mbox *m, uint32_t slot, const struct sd_pkt *p, int in)
{
	struct mb_defrag *e;
	size_t off = p->frag_off, len = p->l4_len;

	if (!m->dgram && !(m->dgram = malloc(MB_ETH + 60 + MB_DEFRAG_MAX))) {
		m->st.drop_reassembly++;
		sd_mbox_slot_put(m, slot);
		return;
	}
	e = entry_get(m, p, in);
	if (!e) {
		m->st.drop_reassembly++;
		sd_mbox_slot_put(m, slot);
		return;
	}
	if (off + len > MB_DEFRAG_MAX || e->nslot == MB_DEFRAG_FRAGS || (p->mf && len % 8) ||
	    (e->have_last && (p->mf ? off + len > e->total : off + len != e->total))) {
		entry_drop(m, e, true);
		m->st.drop_reassembly++;
		sd_mbox_slot_put(m, slot);
		return;
	}
	e->slot[e->nslot++] = slot;
	memcpy(e->buf + off, p->l4, len);
	for (size_t b = off / 8; b < (off + len + 7) / 8; b++)
		e->map[b / 8] |= (uint8_t)(1u << (b % 8));
	if (!p->mf) {
		e->have_last = true;
		e->total = (uint32_t)(off + len);
	}
	if (off == 0) {
		e->have_first = true;
		e->hlen = p->family == 4 ? p->ip_hlen : 40;
		memcpy(e->hdr, p->l3, e->hlen);
	}
	if (complete(e))
		release(m, e);
}

void sd_mbox_defrag_expire(struct sd_mbox *m)
{
	for (size_t i = 0; i < MB_DEFRAG; i++)
		if (m->defrag[i].used && m->now - m->defrag[i].first_ns >= MB_DEFRAG_NS)
			entry_drop(m, &m->defrag[i], true);
}

uint64_t sd_mbox_defrag_deadline(const struct sd_mbox *m)
{
	uint64_t t = 0;

	for (size_t i = 0; i < MB_DEFRAG; i++)
		if (m->defrag[i].used && (!t || m->defrag[i].first_ns + MB_DEFRAG_NS < t))
			t = m->defrag[i].first_ns + MB_DEFRAG_NS;
	return t;
}

void sd_mbox_defrag_clear(struct sd_mbox *m, bool all)
{
	for (size_t i = 0; i < MB_DEFRAG; i++) {
		if (m->defrag[i].used)
			entry_drop(m, &m->defrag[i], false);
		if (all) {
			free(m->defrag[i].buf);
			m->defrag[i].buf = NULL;
		}
	}
	if (all) {
		free(m->dgram);
		m->dgram = NULL;
	}
}
