/* SPDX-License-Identifier: MIT */
/* TCP flows through a user-space hop: the emulated device parser, its forged packets, truncate-segment. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "mbox_int.h"


/* RFC 9293 §3.4: sequence space arithmetic, modulo 2^32. */
static bool seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static bool seq_le(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) <= 0;
}

/* ---- the inspector (shakedown/inspect.h) ------------------------------------ */

/* The verdict starts as "forward", whatever the inspector leaves unwritten. */
static void insp_segment(struct sd_insp *s, int dir, uint32_t off, const uint8_t *payload, size_t len,
			 uint64_t t_us, struct sd_insp_verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->act = SD_INSP_FORWARD;
	v->kind = -1;
	sd_insp_segment(s, dir, off, payload, len, t_us, v);
}

static uint64_t insp_tick(struct sd_insp *s, uint64_t t_us, struct sd_insp_verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->act = SD_INSP_FORWARD;
	v->kind = -1;
	return sd_insp_tick(s, t_us, v);
}

/* ---- the flow table ---------------------------------------------------------- */

static void flow_forget(struct mb_flow *f)
{
	if (f->insp)
		sd_insp_free(f->insp);
	memset(f, 0, sizeof(*f));
}

void sd_mbox_flows_clear(struct sd_mbox *m)
{
	for (size_t i = 0; i < MB_FLOWS; i++)
		if (m->flows[i].used)
			flow_forget(&m->flows[i]);
	m->tick_min = 0;
	m->cur = NULL;
}

static void flow_init(struct sd_mbox *m, struct mb_flow *f, int family, const uint8_t *cli,
		      const uint8_t *srv, uint16_t cport, uint16_t sport)
{
	size_t alen = family == 4 ? 4 : 16;

	flow_forget(f);
	f->used = true;
	f->family = (uint8_t)family;
	memcpy(f->cli, cli, alen);
	memcpy(f->srv, srv, alen);
	f->cport = cport;
	f->sport = sport;
	f->last_ns = m->now;
	/* Without its state (no memory) the flow is forwarded uninspected. */
	if (m->hop.insp.kinds && sd_insp_new(&m->hop.insp, &f->insp) < 0)
		f->insp = NULL;
	m->st.flows++;
}

/*
 * The flow of a segment entering in direction dir, made if new. Open
 * addressing: a flow is never removed alone (the least recently used one
 * is replaced in place when the table is full), so a probe stops at the
 * first empty entry.
 */
static struct mb_flow *flow_get(struct sd_mbox *m, const struct sd_pkt *p, int dir)
{
	const uint8_t *cli = dir == 0 ? p->src : p->dst, *srv = dir == 0 ? p->dst : p->src;
	uint16_t cport = dir == 0 ? p->tcp.sport : p->tcp.dport;
	uint16_t sport = dir == 0 ? p->tcp.dport : p->tcp.sport;
	size_t alen = p->family == 4 ? 4 : 16;
	struct mb_flow *lru = NULL, *f;
	uint32_t h = 2166136261u;   /* FNV-1a */

	for (size_t i = 0; i < alen; i++)
		h = (h ^ cli[i] ^ (uint32_t)srv[i] << 8) * 16777619u;
	h = (h ^ cport ^ (uint32_t)sport << 16) * 16777619u;
	for (size_t k = 0; k < MB_FLOWS; k++) {
		f = &m->flows[(h + k) % MB_FLOWS];
		if (!f->used) {
			lru = f;
			break;
		}
		if (f->family == p->family && f->cport == cport && f->sport == sport &&
		    memcmp(f->cli, cli, alen) == 0 && memcmp(f->srv, srv, alen) == 0) {
			f->last_ns = m->now;
			return f;
		}
		if (!lru || f->last_ns < lru->last_ns)
			lru = f;
	}
	flow_init(m, lru, p->family, cli, srv, cport, sport);
	return lru;
}

/* ---- forged packets ------------------------------------------------------------- */

/*
 * What the receiver of direction d (0: the server, 1: the client) takes as
 * its next sequence number (RCV.NXT), best guess first: the later of the
 * edge of what the hop forwarded it and its own last ACK, then the other
 * one, then the highest byte forwarded (out-of-order data). RFC 5961 §3.2:
 * a RST in the window but not exactly there only draws a challenge ACK,
 * so each candidate is worth a RST. Returns how many.
 */
static size_t expected(const struct mb_flow *f, int d, uint32_t out[3])
{
	uint32_t c[3];
	size_t n = 0, k = 0;

	if (f->edge_known[d] && f->ack_known[!d]) {
		bool edge_later = seq_lt(f->ack[!d], f->contig[d]);

		c[n++] = edge_later ? f->contig[d] : f->ack[!d];
		c[n++] = edge_later ? f->ack[!d] : f->contig[d];
	} else if (f->edge_known[d]) {
		c[n++] = f->contig[d];
	} else if (f->ack_known[!d]) {
		c[n++] = f->ack[!d];
	}
	if (f->edge_known[d])
		c[n++] = f->maxend[d];
	for (size_t i = 0; i < n; i++) {
		bool dup = false;

		for (size_t j = 0; j < k; j++)
			dup |= out[j] == c[i];
		if (!dup)
			out[k++] = c[i];
	}
	return k;
}

/*
 * A TCP segment in direction d as if its sender had sent it (addresses
 * and ports of that end), out of the side it travels to, through the
 * delay line like the hop's other output. Returns true when it left.
 */
static bool forge(struct sd_mbox *m, const struct mb_flow *f, int d, uint8_t flags, uint32_t seq,
		  const uint8_t *payload, size_t len)
{
	struct sd_ip_spec ip;
	struct sd_tcp_spec t;
	uint32_t ack[3], slot;
	int out = d == 0 ? MB_RIGHT : MB_LEFT, n;

	memset(&ip, 0, sizeof(ip));
	memset(&t, 0, sizeof(t));
	ip.family = f->family;
	ip.ttl = 64;
	ip.df = true;
	ip.id = ++m->ip_id;
	memcpy(ip.src, d == 0 ? f->cli : f->srv, 16);
	memcpy(ip.dst, d == 0 ? f->srv : f->cli, 16);
	t.sport = d == 0 ? f->cport : f->sport;
	t.dport = d == 0 ? f->sport : f->cport;
	t.seq = seq;
	t.flags = flags;
	/* Acknowledging what the impersonated end would: the other way's edge. */
	if (expected(f, !d, ack) > 0) {
		t.ack = ack[0];
		t.flags |= SD_TCP_ACK;
	}
	t.window = flags & SD_TCP_RST ? 0 : 64240;
	sd_buf_reset(&m->scratch);
	n = sd_build_tcp(&m->scratch, &ip, &t, payload, len);
	if (n < 0)
		return false;
	slot = sd_mbox_slot_ip(m, out, m->scratch.data, (size_t)n);
	if (slot == MB_NONE)
		return false;
	sd_mbox_emit(m, slot, out);
	return true;
}

static void forge_rsts(struct sd_mbox *m, const struct mb_flow *f, int d)
{
	uint32_t seq[3];
	size_t n = expected(f, d, seq);

	for (size_t i = 0; i < n; i++)
		if (forge(m, f, d, SD_TCP_RST, seq[i], NULL, 0))
			m->st.rst_forged++;
}

/*
 * Carries a decision out: the flow is over (every later packet of it is
 * dropped); RESET sends RSTs both ways, the client's first; CLOSE a FIN to
 * each end; ALERT a fatal alert record to the client (RFC 8446 §6:
 * content type 21, legacy version 0x0303, length 2, level 2, the
 * description) as the server's next bytes, a RST after it, and RSTs to
 * the server.
 */
static void execute(struct sd_mbox *m, struct mb_flow *f, const struct sd_insp_verdict *v)
{
	uint32_t seq[3];

	m->st.insp_kind = v->kind;
	m->st.insp_act = (int)v->act;
	snprintf(m->st.insp_why, sizeof(m->st.insp_why), "%s", v->why);
	f->killed = true;
	f->tick_us = 0;
	switch (v->act) {
	case SD_INSP_FORWARD:
	case SD_INSP_DROP:
		break;
	case SD_INSP_RESET:
		forge_rsts(m, f, 1);
		forge_rsts(m, f, 0);
		break;
	case SD_INSP_CLOSE:
		for (int d = 1; d >= 0; d--)
			if (expected(f, d, seq) > 0 &&
			    forge(m, f, d, SD_TCP_FIN, seq[0], NULL, 0))
				m->st.fin_forged++;
		break;
	case SD_INSP_ALERT:
		if (expected(f, 1, seq) > 0) {
			const uint8_t rec[7] = { 21, 0x03, 0x03, 0x00, 0x02, 2, v->alert_desc };

			if (forge(m, f, 1, SD_TCP_PSH, seq[0], rec, sizeof(rec)))
				m->st.alerts_forged++;
			if (forge(m, f, 1, SD_TCP_RST, seq[0] + (uint32_t)sizeof(rec), NULL, 0))
				m->st.rst_forged++;
		}
		forge_rsts(m, f, 0);
		break;
	}
	if (f->insp) {
		sd_insp_free(f->insp);
		f->insp = NULL;
	}
}

/* Asks the inspector when it wants its next tick (it may decide at once). */
static void schedule(struct sd_mbox *m, struct mb_flow *f)
{
	struct sd_insp_verdict v;
	uint64_t now = m->now / 1000, next = insp_tick(f->insp, now, &v);

	if (v.act != SD_INSP_FORWARD) {
		if (v.fresh)
			execute(m, f, &v);
		f->killed = true;
		return;
	}
	/* A time not in the future would spin the thread. */
	if (next && next <= now)
		next = now + 1000;
	f->tick_us = next;
	if (next && (!m->tick_min || next < m->tick_min))
		m->tick_min = next;
}

void sd_mbox_flow_ticks(struct sd_mbox *m)
{
	uint64_t now = m->now / 1000, min = 0;

	for (size_t i = 0; i < MB_FLOWS; i++) {
		struct mb_flow *f = &m->flows[i];

		if (!f->used || !f->insp || f->killed || !f->tick_us)
			continue;
		if (f->tick_us <= now) {
			struct sd_insp_verdict v;
			uint64_t next = insp_tick(f->insp, now, &v);

			if (v.act != SD_INSP_FORWARD) {
				if (v.fresh)
					execute(m, f, &v);
				f->killed = true;
				continue;
			}
			f->tick_us = next && next <= now ? now + 1000 : next;
		}
		if (f->tick_us && (!min || f->tick_us < min))
			min = f->tick_us;
	}
	m->tick_min = min;
}

/* ---- truncate-segment ------------------------------------------------------------- */

/*
 * A client-to-server segment: the first one with more than N payload
 * bytes is cut to N, and from that byte on nothing of the flow passes
 * (what was cut off is gone); a segment left with no payload is dropped.
 * Lengths (RFC 791 total length, RFC 8200 payload length) and checksums
 * are rewritten; a FIN cut off goes with its bytes.
 */
static bool truncate_segment(struct sd_mbox *m, uint8_t *frame, struct sd_pkt *p, struct mb_flow *f,
			     size_t *ip_len)
{
	uint8_t *ip = frame + (p->l3 - frame);
	uint32_t seq = p->tcp.seq, len = (uint32_t)p->payload_len, keep;
	size_t now_len;

	if (!f->cut) {
		if (len <= m->hop.truncate_len)
			return true;
		f->cut = true;
		f->cut_seq = seq + m->hop.truncate_len;
	}
	keep = seq_le(f->cut_seq, seq) ? 0 : f->cut_seq - seq;
	if (keep >= len)
		return true;
	if (keep == 0) {
		m->st.drop_truncate++;
		return false;
	}
	now_len = p->ip_hlen + p->tcp.hlen + keep;
	if (p->family == 4) {
		ip[2] = (uint8_t)(now_len >> 8);
		ip[3] = (uint8_t)now_len;
		sd_mbox_ip4_csum(ip, p->ip_hlen);
	} else {
		ip[4] = (uint8_t)((now_len - 40) >> 8);
		ip[5] = (uint8_t)(now_len - 40);
	}
	ip[p->ip_hlen + 13] &= (uint8_t)~SD_TCP_FIN;
	sd_mbox_tcp_csum(ip, p->family, p->ip_hlen, now_len);
	p->tcp.flags &= (uint8_t)~SD_TCP_FIN;
	p->payload_len = p->payload_wire_len = keep;
	p->l4_len = p->l4_wire_len = now_len - p->ip_hlen;
	p->l3_len = p->l3_wire_len = now_len;
	*ip_len = now_len;
	m->st.truncated++;
	return true;
}

/* ---- the stage ---------------------------------------------------------------------- */

bool sd_mbox_flow_stage(struct sd_mbox *m, uint8_t *frame, struct sd_pkt *p, int dir, size_t *ip_len)
{
	struct mb_flow *f = flow_get(m, p, dir);
	uint8_t fl = p->tcp.flags;

	m->cur = f;
	/* The ISNs; a SYN with a new one is a new connection on old ports. */
	if ((fl & (SD_TCP_SYN | SD_TCP_ACK)) == SD_TCP_SYN && dir == 0) {
		if (f->isn_known[0] && f->isn[0] != p->tcp.seq)
			flow_init(m, f, f->family, f->cli, f->srv, f->cport, f->sport);
		f->isn_known[0] = true;
		f->isn[0] = p->tcp.seq;
	} else if ((fl & (SD_TCP_SYN | SD_TCP_ACK)) == (SD_TCP_SYN | SD_TCP_ACK) && dir == 1) {
		f->isn_known[1] = true;
		f->isn[1] = p->tcp.seq;
	}
	if (f->killed) {
		m->st.drop_inspect++;
		return false;
	}
	if (f->insp && !(fl & SD_TCP_SYN) && f->isn_known[dir]) {
		struct sd_insp_verdict v;

		insp_segment(f->insp, dir, p->tcp.seq - f->isn[dir] - 1, p->payload, p->payload_len,
			     m->now / 1000, &v);
		if (v.act == SD_INSP_FORWARD)
			schedule(m, f);
		else if (v.fresh)
			execute(m, f, &v);
		else
			f->killed = true;   /* a decision repeated: forge nothing again */
		if (f->killed) {
			m->st.drop_inspect++;
			return false;
		}
	}
	if (dir == 0 && m->hop.truncate_len && p->payload_len)
		return truncate_segment(m, frame, p, f, ip_len);
	return true;
}

void sd_mbox_flow_forwarded(struct sd_mbox *m, const struct sd_pkt *p, int dir)
{
	struct mb_flow *f = m->cur;
	uint8_t fl = p->tcp.flags;
	uint32_t end = p->tcp.seq + (uint32_t)p->payload_len + !!(fl & SD_TCP_SYN) + !!(fl & SD_TCP_FIN);

	if (!f)
		return;
	m->cur = NULL;
	if (!(fl & SD_TCP_RST)) {
		if (!f->edge_known[dir] || (fl & SD_TCP_SYN)) {
			f->edge_known[dir] = true;
			f->contig[dir] = f->maxend[dir] = end;
		} else {
			if (seq_le(p->tcp.seq, f->contig[dir]) && seq_lt(f->contig[dir], end))
				f->contig[dir] = end;
			if (seq_lt(f->maxend[dir], end))
				f->maxend[dir] = end;
		}
	}
	if (fl & SD_TCP_ACK) {
		f->ack_known[dir] = true;
		f->ack[dir] = p->tcp.ack;
	}
}
