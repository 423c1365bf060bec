/* SPDX-License-Identifier: MIT */
/* The client engine: a small, deterministic TCP sender on raw frames through libpcap. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/socket.h>

#include <pcap/pcap.h>

#include "shakedown/cursor.h"
#include "shakedown/engine.h"
#include "shakedown/pkt.h"

#define TXQ_MAX 1024        /* first transmissions waiting for their time */
#define RTX_MAX 1024        /* sent segments not yet acknowledged */
#define PIECES_MAX 512      /* segments one burst may be cut into */
#define RX_BATCH 256        /* frames read per wake-up */
#define STALE_MAX 100000    /* frames drained before the start */
#define LOOP_MAX 2000000    /* wake-ups per exchange */
#define HOLD_POLL_US 1000   /* how often a held piece asks config.hold again */
#define OUR_WINDOW 64240    /* what Linux offers before window scaling */
#define IP4_MIN_PMTU 552    /* Linux net.ipv4.route.min_pmtu */
#define IP6_MIN_MTU 1280    /* RFC 8200 §5 */

enum tcp_state { ST_SYN_SENT, ST_ESTABLISHED, ST_STOPPED };

/* A first transmission waiting in the shaped queue. */
struct txent {
	uint32_t off, len;
	uint64_t due;               /* µs, monotonic */
	uint8_t flags;              /* SD_SEG_DUP for the second copy; TX_PAUSED */
};

/* txent.flags: a pause comes before this piece (config.hold applies). */
#define TX_PAUSED 0x80

/* A sent, unacknowledged segment: the retransmission queue. */
struct rtxent {
	uint32_t off, len;
	uint16_t ip_len;
};

/* An out-of-order server segment. */
struct oooseg {
	uint32_t off, len;          /* in the server stream */
	bool fin;
	uint8_t *data;
};

struct eng {
	pcap_t *pcap;               /* NULL: a plain AF_PACKET socket in fd */
	int fd;
	uint8_t rxbuf[65536 + 64];  /* frames read from a plain socket */
	const struct sd_engine_config *cfg;
	struct sd_engine_result *res;
	enum tcp_state st;
	int err;
	uint64_t t0, now;
	unsigned alen, hdr;         /* address bytes; IP + TCP header bytes */

	size_t cuts[SD_SHAPE_MAX_SPLITS + 256];
	size_t ncuts;
	struct sd_shape_piece pieces[PIECES_MAX];
	size_t order[PIECES_MAX];

	/* send side: offsets in the client stream (sequence isn + 1 + off) */
	struct sd_buf snd;
	uint32_t snd_una, snd_max, snd_wnd;
	uint16_t our_mss, peer_mss, pmtu, mss;
	struct txent txq[TXQ_MAX];
	size_t ntxq;
	uint64_t hold_since;        /* µs: the head waits for config.hold; 0: not */
	struct rtxent rtx[RTX_MAX];
	size_t nrtx;

	/* SYN timer */
	uint64_t syn_due, syn_rto, syn_last;
	uint32_t syn_retx;
	bool syn_exhausted;

	/* retransmission timer */
	bool rto_armed, exhausted, recovery;
	uint64_t rto_due, rto_base, rto_cur;
	uint32_t retries, cwnd, recover_hi, retx_nxt;

	uint64_t quiet_us, last_activity, last_send, last_rx;
	bool draining;              /* the goal is reached; waiting for our last ACK */
	bool peer_reset;            /* a RST ended the connection: nothing to close */

	/* receive side: offsets in the server stream (sequence irs + 1 + off) */
	uint32_t irs, rcv_nxt;
	struct sd_buf rcv;
	struct oooseg ooo[SD_ENGINE_MAX_OOO];
	size_t nooo;
	bool fin_seen;

	uint16_t ip_id;
	uint32_t frag_id;
	struct sd_buf frame, frags, out;
	size_t ends[SD_FRAG_MAX_OUT];
};

const char *sd_engine_state_name(enum sd_engine_state s)
{
	switch (s) {
	case SD_ENGINE_DONE: return "done";
	case SD_ENGINE_RESET: return "reset";
	case SD_ENGINE_CLOSED: return "closed";
	case SD_ENGINE_STALL: return "stall";
	case SD_ENGINE_REFUSED: return "refused";
	case SD_ENGINE_APP_FAIL: return "app-fail";
	case SD_ENGINE_ERROR: return "error";
	}
	return "error";
}

void sd_engine_config_init(struct sd_engine_config *c)
{
	memset(c, 0, sizeof(*c));
	c->family = 4;
	c->mtu = 1500;
	sd_shape_init(&c->shape);
	c->syn_rto_ms = 100;
	c->syn_retries = 3;
	c->rto_min_ms = 20;
	c->rto_max_ms = 2000;
	c->max_retries = 3;
	c->quiet_ms = 50;
	c->idle_ms = 500;
	c->deadline_ms = 20000;
	c->stream_max = 1u << 20;
	c->close = SD_ENGINE_CLOSE_RST;
}

void sd_engine_result_free(struct sd_engine_result *res)
{
	free(res->server);
	res->server = NULL;
	res->server_len = 0;
}

/* ---- time ---------------------------------------------------------------- */

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static double ms_since(const struct eng *e, uint64_t t)
{
	return (double)(t - e->t0) / 1000.0;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* ---- frames out ------------------------------------------------------------ */

static int inject(struct eng *e, const uint8_t *frame, size_t len)
{
	if (e->pcap ? pcap_inject(e->pcap, frame, len) < 0 :
		      send(e->fd, frame, len, MSG_DONTWAIT) != (ssize_t)len)
		return -EIO;
	e->res->frames_sent++;
	return 0;
}

static void ip_spec(struct eng *e, struct sd_ip_spec *ip, bool df)
{
	memset(ip, 0, sizeof(*ip));
	ip->family = e->cfg->family;
	ip->ttl = e->cfg->ttl;
	ip->df = df;
	ip->id = e->ip_id++;
	memcpy(ip->src, e->cfg->src, e->alen);
	memcpy(ip->dst, e->cfg->dst, e->alen);
}

/*
 * Largest fragment payload the path takes: the shape's, lowered to fit the
 * path MTU (RFC 8200 §4.5: the fragment header costs 8 bytes in IPv6).
 */
static size_t frag_payload(const struct eng *e)
{
	size_t fit = e->cfg->family == 4 ? e->pmtu - 20u : e->pmtu - 48u;
	size_t fp = e->cfg->shape.ipfrag;

	if (fp > fit)
		fp = fit;
	return fp & ~(size_t)7;
}

/*
 * Builds and sends one TCP segment. Data segments are fragmented when the
 * shape asks; *ip_len and *nfrags tell what left. Returns 0 or -errno.
 */
static int xmit(struct eng *e, uint32_t seq, uint8_t flags, const uint8_t *data,
		size_t len, bool syn, uint16_t *ip_len, uint16_t *nfrags)
{
	const struct sd_engine_config *c = e->cfg;
	uint16_t ethertype = c->family == 4 ? SD_ETHERTYPE_IPV4 : SD_ETHERTYPE_IPV6;
	bool frag = len && c->shape.ipfrag;
	struct sd_tcp_spec t;
	struct sd_ip_spec ip;
	size_t fp, hl, start;
	int dlen, n, ret;

	memset(&t, 0, sizeof(t));
	t.sport = c->sport;
	t.dport = c->dport;
	t.seq = seq;
	t.flags = flags;
	if (flags & SD_TCP_ACK)
		t.ack = e->irs + 1 + e->rcv_nxt + (e->fin_seen ? 1 : 0);
	t.window = (uint16_t)(c->stream_max - e->rcv.len < OUR_WINDOW ?
			      c->stream_max - e->rcv.len : OUR_WINDOW);
	if (syn) {
		t.window = OUR_WINDOW;
		t.opt.has_mss = true;
		t.opt.mss = e->our_mss;
	}
	/* IPv4 PMTUD (RFC 1191) needs DF; the ipfrag shape sends DF clear. */
	ip_spec(e, &ip, !frag);
	sd_buf_reset(&e->frame);
	ret = sd_build_eth(&e->frame, c->dst_mac, c->src_mac, ethertype);
	if (ret < 0)
		return ret;
	dlen = sd_build_tcp(&e->frame, &ip, &t, data, len);
	if (dlen < 0)
		return dlen;
	e->res->pkts_sent++;
	e->last_send = e->now;
	e->last_activity = e->now;
	if (ip_len)
		*ip_len = (uint16_t)dlen;
	if (nfrags)
		*nfrags = 1;
	hl = c->family == 4 ? 20 : 40;
	fp = frag ? frag_payload(e) : 0;
	if (!frag || fp < 8 || (size_t)dlen - hl <= fp)
		return inject(e, e->frame.data, e->frame.len);

	sd_buf_reset(&e->frags);
	if (c->family == 4)
		n = sd_ip4_fragment(&e->frags, e->frame.data + 14, (size_t)dlen, fp,
				    e->ends, SD_FRAG_MAX_OUT);
	else
		n = sd_ip6_fragment(&e->frags, e->frame.data + 14, (size_t)dlen, fp,
				    e->frag_id++, e->ends, SD_FRAG_MAX_OUT);
	if (n < 0)
		return n;
	if (nfrags)
		*nfrags = (uint16_t)n;
	start = 0;
	for (int i = 0; i < n; i++) {
		size_t flen = e->ends[i] - start;

		/* reuse the frame buffer: Ethernet header, then the fragment */
		sd_buf_reset(&e->frame);
		ret = sd_build_eth(&e->frame, c->dst_mac, c->src_mac, ethertype);
		if (ret < 0)
			return ret;
		sd_buf_put(&e->frame, e->frags.data + start, flen);
		ret = sd_buf_error(&e->frame);
		if (ret < 0)
			return ret;
		ret = inject(e, e->frame.data, e->frame.len);
		if (ret < 0)
			return ret;
		start = e->ends[i];
	}
	return 0;
}

static int send_ctl(struct eng *e, uint8_t flags)
{
	return xmit(e, e->cfg->isn + 1 + e->snd_max, flags, NULL, 0, false, NULL, NULL);
}

/*
 * RFC 5961 §3.2: the server takes a RST only when its seq is exactly the
 * next byte it expects, else it answers with a challenge ACK and lives on.
 * That byte is our snd_una. Linux puts its own resets at snd_nxt and gets
 * away with it through SACK (a RST at the highest SACKed byte is taken
 * too); without SACK, a RST at snd_nxt behind a lost segment is ignored.
 */
static int send_rst(struct eng *e)
{
	return xmit(e, e->cfg->isn + 1 + e->snd_una, SD_TCP_RST | SD_TCP_ACK, NULL, 0, false,
		    NULL, NULL);
}

static int send_syn(struct eng *e)
{
	int ret = xmit(e, e->cfg->isn, SD_TCP_SYN, NULL, 0, true, NULL, NULL);

	if (ret < 0)
		return ret;
	e->res->syn_sent++;
	e->syn_last = e->now;
	e->syn_due = e->now + e->syn_rto;
	return 0;
}

static void log_seg(struct eng *e, uint32_t off, uint32_t len, uint16_t ip_len,
		    uint16_t nfrags, uint8_t flags)
{
	struct sd_engine_result *r = e->res;

	if (r->t_first_data < 0)
		r->t_first_data = ms_since(e, e->now);
	if (r->nseg == SD_ENGINE_MAX_SEGS) {
		r->seg_lost++;
		return;
	}
	r->seg[r->nseg++] = (struct sd_engine_seg){
		.off = off, .len = len, .ip_len = ip_len, .nfrags = nfrags,
		.flags = flags, .t_ms = ms_since(e, e->now),
	};
}

/* Sends stream bytes [off, off + len) as one segment. */
static int send_data(struct eng *e, uint32_t off, uint32_t len, uint8_t flags,
		     uint16_t *ip_len)
{
	uint16_t il = 0, nf = 0;
	int ret;

	ret = xmit(e, e->cfg->isn + 1 + off, SD_TCP_ACK | SD_TCP_PSH,
		   e->snd.data + off, len, false, &il, &nf);
	if (ret < 0)
		return ret;
	if (flags & SD_SEG_RETX)
		e->res->retransmits++;
	log_seg(e, off, len, il, nf, flags);
	if (ip_len)
		*ip_len = il;
	return 0;
}

/* ---- the retransmission queue ------------------------------------------------ */

static int rtx_add(struct eng *e, uint32_t off, uint32_t len, uint16_t ip_len)
{
	size_t i = e->nrtx;

	if (e->nrtx == RTX_MAX)
		return -SD_ELIMIT;
	while (i > 0 && e->rtx[i - 1].off > off)
		i--;
	memmove(&e->rtx[i + 1], &e->rtx[i], (e->nrtx - i) * sizeof(e->rtx[0]));
	e->rtx[i] = (struct rtxent){ off, len, ip_len };
	e->nrtx++;
	return 0;
}

/* Drops what snd_una covers; trims a partly acknowledged head. */
static void rtx_ack(struct eng *e)
{
	size_t k = 0;

	for (size_t i = 0; i < e->nrtx; i++) {
		struct rtxent r = e->rtx[i];

		if (r.off + r.len <= e->snd_una)
			continue;
		if (r.off < e->snd_una) {
			uint32_t cut = e->snd_una - r.off;

			r.off += cut;
			r.len -= cut;
			if (r.ip_len > e->hdr + r.len)
				r.ip_len = (uint16_t)(e->hdr + r.len);
		}
		e->rtx[k++] = r;
	}
	e->nrtx = k;
}

/*
 * The RTO is suspended while a shaped (gapped) burst is still going out,
 * so that pacing is not mistaken for loss; it runs when the queue is
 * empty, waits for the server's window, or loss recovery is under way.
 */
static bool txq_blocked(const struct eng *e);

static bool rto_running(const struct eng *e)
{
	return e->rto_armed && (!e->ntxq || e->recovery || txq_blocked(e));
}

static void arm_rto(struct eng *e)
{
	if (e->snd_una < e->snd_max) {
		e->rto_armed = true;
		e->rto_due = e->now + e->rto_cur;
	} else {
		e->rto_armed = false;
	}
}

/*
 * Retransmits in loss recovery: from retx_nxt up to recover_hi, at most
 * cwnd segments beyond snd_una, each queued segment re-cut at the current
 * MSS (Linux splits an skb that outgrew the MSS; it never merges ours).
 */
static int send_recovery(struct eng *e)
{
	size_t guard = 0;

	if (e->retx_nxt < e->snd_una)
		e->retx_nxt = e->snd_una;
	while (e->retx_nxt < e->recover_hi && guard++ < RTX_MAX * 4) {
		uint32_t in_flight = e->retx_nxt - e->snd_una, len = 0;
		size_t i;
		int ret;

		if (in_flight >= (uint64_t)e->cwnd * e->mss)
			break;
		for (i = 0; i < e->nrtx; i++)
			if (e->rtx[i].off + e->rtx[i].len > e->retx_nxt)
				break;
		if (i == e->nrtx)
			break;
		if (e->rtx[i].off > e->retx_nxt)
			e->retx_nxt = e->rtx[i].off;      /* a hole: never sent */
		len = e->rtx[i].off + e->rtx[i].len - e->retx_nxt;
		if (len > e->mss)
			len = e->mss;
		if (e->retx_nxt + len > e->recover_hi)
			len = e->recover_hi - e->retx_nxt;
		if (!len)
			break;
		ret = send_data(e, e->retx_nxt, len, SD_SEG_RETX, NULL);
		if (ret < 0)
			return ret;
		e->retx_nxt += len;
	}
	return 0;
}

/* ---- shaping and first transmissions ----------------------------------------- */

static int txq_push(struct eng *e, uint32_t off, uint32_t len, uint64_t due, uint8_t flags)
{
	if (e->ntxq == TXQ_MAX)
		return -SD_ELIMIT;
	e->txq[e->ntxq++] = (struct txent){ off, len, due, flags };
	return 0;
}

/* Cuts stream bytes [start, end) per the shape and queues them. */
static int queue_burst(struct eng *e, size_t start, size_t end)
{
	const struct sd_shape *s = &e->cfg->shape;
	uint64_t gap = (uint64_t)s->gap_ms * 1000u, base = e->now, extra = 0;
	int n, ret;

	n = sd_shape_cut(start, end, e->cuts, e->ncuts, e->mss, e->pieces, PIECES_MAX);
	if (n <= 0)
		return n;
	sd_shape_order_apply(s->order, e->order, (size_t)n);
	if (e->ntxq)
		base = max_u64(base, e->txq[e->ntxq - 1].due + gap);
	for (int i = 0; i < n; i++) {
		const struct sd_shape_piece *p = &e->pieces[e->order[i]];
		uint64_t due = base + (uint64_t)i * gap, own = 0;
		uint8_t flags;

		/* A replayed capture's own pauses add up before each piece; the
		 * first piece of a later burst (the callback's answer) waits its
		 * own from the server bytes that prompted it. */
		for (size_t k = 0; k < e->cfg->ngaps; k++)
			if ((i || p->off) && e->cfg->gap_offs[k] == p->off)
				own += e->cfg->gaps_us[k];
		extra += own;
		due += extra;
		flags = (gap && (i || e->ntxq)) || own ? TX_PAUSED : 0;

		ret = txq_push(e, (uint32_t)p->off, (uint32_t)p->len, due, flags);
		if (ret == 0 && s->dup)
			ret = txq_push(e, (uint32_t)p->off, (uint32_t)p->len, due, SD_SEG_DUP);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static void txq_pop(struct eng *e)
{
	e->hold_since = 0;
	memmove(&e->txq[0], &e->txq[1], (e->ntxq - 1) * sizeof(e->txq[0]));
	e->ntxq--;
}

/* True when the head of the queue waits for the peer's window. */
static bool txq_blocked(const struct eng *e)
{
	const struct txent *t = &e->txq[0];

	return e->ntxq && !(t->flags & SD_SEG_DUP) &&
	       (uint64_t)t->off + t->len > (uint64_t)e->snd_una + e->snd_wnd;
}

/*
 * Whether the due head of the queue waits for config.hold: it follows a
 * pause, everything sent before it is acknowledged, and the server has
 * not yet read it all (hold_max_ms at most). On release, the queue moves
 * back by the time held, so the pauses after it keep their length.
 */
static bool held(struct eng *e)
{
	const struct sd_engine_config *c = e->cfg;
	uint64_t max = (uint64_t)(c->hold_max_ms ? c->hold_max_ms : 1000) * 1000u, d;

	if (!c->hold || !(e->txq[0].flags & TX_PAUSED) || e->snd_una != e->snd_max)
		return false;
	if (!e->hold_since)
		e->hold_since = e->now;
	if (e->now - e->hold_since < max && c->hold(c->hold_ctx, e->snd_una))
		return true;
	d = e->now - e->hold_since;
	e->hold_since = 0;
	e->txq[0].flags &= (uint8_t)~TX_PAUSED;
	if (d) {
		for (size_t i = 0; i < e->ntxq; i++)
			e->txq[i].due += d;
		e->res->held_ms += (double)d / 1000.0;
		e->res->holds++;
	}
	return e->txq[0].due > e->now;
}

/*
 * Sends what is due. flush sends everything at once, window or not (the
 * application's last words before a close).
 */
static int service_txq(struct eng *e, bool flush)
{
	bool sent = false;
	int ret;

	if (e->st != ST_ESTABLISHED || (e->recovery && !flush))
		return 0;
	while (e->ntxq && (flush || (e->txq[0].due <= e->now && !txq_blocked(e)))) {
		struct txent t;

		if (!flush && held(e))
			break;
		t = e->txq[0];
		txq_pop(e);
		if (t.off + t.len <= e->snd_una)
			continue;                   /* covered by a retransmission */
		/* the path MTU fell since the burst was cut: re-cut */
		while (t.len) {
			uint32_t len = t.len < e->mss ? t.len : e->mss;
			uint16_t ip_len;

			ret = send_data(e, t.off, len, t.flags, &ip_len);
			if (ret < 0)
				return ret;
			if (!(t.flags & SD_SEG_DUP) && t.off + len > e->snd_max) {
				ret = rtx_add(e, t.off, len, ip_len);
				if (ret < 0)
					return ret;
				e->snd_max = t.off + len;
			} else if (!(t.flags & SD_SEG_DUP)) {
				/* below snd_max: a reordered piece, still to track */
				bool known = false;

				for (size_t i = 0; i < e->nrtx; i++)
					known |= e->rtx[i].off == t.off;
				if (!known) {
					ret = rtx_add(e, t.off, len, ip_len);
					if (ret < 0)
						return ret;
				}
			}
			t.off += len;
			t.len -= len;
		}
		sent = true;
	}
	/* The RTO runs from the latest first transmission. */
	if (sent)
		arm_rto(e);
	return 0;
}

/* ---- stopping ------------------------------------------------------------------ */

static void stop(struct eng *e, enum sd_engine_state state, const char *reason)
{
	struct sd_engine_result *r = e->res;

	if (e->st == ST_STOPPED)
		return;
	r->rx_after_last_send = e->last_rx > e->last_send;
	if (e->st == ST_ESTABLISHED && state != SD_ENGINE_RESET && !e->peer_reset) {
		int ret = 0;

		if (state == SD_ENGINE_DONE)
			ret = service_txq(e, true);
		if (ret == 0 && e->cfg->close == SD_ENGINE_CLOSE_RST)
			ret = send_rst(e);
		else if (ret == 0 && e->cfg->close == SD_ENGINE_CLOSE_FIN)
			ret = send_ctl(e, SD_TCP_FIN | SD_TCP_ACK);
		if (ret == 0)
			r->close_sent = e->cfg->close;
		else if (state != SD_ENGINE_ERROR) {
			state = SD_ENGINE_ERROR;
			reason = "sending the close failed";
			e->err = ret;
		}
	}
	e->st = ST_STOPPED;
	r->state = state;
	r->reason = reason;
}

static void fail(struct eng *e, int err, const char *reason)
{
	if (!e->err)
		e->err = err;
	stop(e, SD_ENGINE_ERROR, reason);
}

/* ---- receiving ----------------------------------------------------------------- */

static bool same_addr(const struct eng *e, const uint8_t *a, const uint8_t *b)
{
	return memcmp(a, b, e->alen) == 0;
}

static void progress(struct eng *e)
{
	e->res->t_last_progress = ms_since(e, e->now);
}

/*
 * The sending MSS: the server's, capped by the path MTU (which starts at
 * our link MTU). The MSS we advertise only limits what the server sends.
 */
static uint16_t mss_for(const struct eng *e)
{
	uint32_t m = e->peer_mss;

	if (e->pmtu - e->hdr < m)
		m = e->pmtu - e->hdr;
	return (uint16_t)(m ? m : 1);
}

static int on_ack(struct eng *e, uint32_t ack, uint16_t window)
{
	uint32_t off = ack - e->cfg->isn - 1;
	int ret = 0;

	if (off > e->snd_max) {
		e->res->rx_ignored++;       /* acks what we never sent, or old */
		return 0;
	}
	e->snd_wnd = window;
	e->res->server_window = window;
	if (off <= e->snd_una)
		return 0;
	e->snd_una = off;
	e->res->acked = off;
	rtx_ack(e);
	progress(e);
	/* As in Linux: new data acknowledged clears the retry count and backoff. */
	e->retries = 0;
	e->exhausted = false;
	e->rto_cur = e->rto_base;
	if (e->recovery) {
		if (e->snd_una >= e->recover_hi) {
			e->recovery = false;
		} else {
			e->cwnd++;
			ret = send_recovery(e);
		}
	}
	arm_rto(e);
	return ret;
}

/* Takes in-order server bytes from a segment starting at stream offset off. */
static bool take(struct eng *e, uint32_t off, const uint8_t *p, size_t len)
{
	size_t skip = e->rcv_nxt - off, room, n;

	if (skip >= len)
		return false;
	room = e->cfg->stream_max - e->rcv.len;
	n = len - skip < room ? len - skip : room;
	if (!n)
		return false;
	sd_buf_put(&e->rcv, p + skip, n);
	e->rcv_nxt += (uint32_t)n;
	return true;
}

static void ooo_drop(struct eng *e, size_t i)
{
	free(e->ooo[i].data);
	e->ooo[i] = e->ooo[--e->nooo];
}

/* Moves buffered segments that became in order into the stream. */
static bool ooo_merge(struct eng *e)
{
	bool any = false, again = true;

	while (again) {
		again = false;
		for (size_t i = 0; i < e->nooo; i++) {
			struct oooseg *o = &e->ooo[i];

			if ((int32_t)(o->off - e->rcv_nxt) > 0)
				continue;
			any |= take(e, o->off, o->data, o->len);
			if (o->fin && o->off + o->len == e->rcv_nxt)
				e->fin_seen = true;
			ooo_drop(e, i);
			again = true;
			break;
		}
	}
	return any;
}

static void ooo_add(struct eng *e, uint32_t off, const uint8_t *p, size_t len, bool fin)
{
	struct oooseg *o;

	for (size_t i = 0; i < e->nooo; i++)
		if (e->ooo[i].off == off && e->ooo[i].len >= len)
			return;             /* a duplicate */
	if (e->nooo == SD_ENGINE_MAX_OOO) {
		e->res->rx_ignored++;
		return;
	}
	o = &e->ooo[e->nooo];
	o->data = malloc(len ? len : 1);
	if (!o->data) {
		e->res->rx_ignored++;
		return;
	}
	if (len)
		memcpy(o->data, p, len);
	o->off = off;
	o->len = (uint32_t)len;
	o->fin = fin;
	e->nooo++;
}

static int call_app(struct eng *e)
{
	const struct sd_engine_config *c = e->cfg;
	size_t before = e->snd.len;
	int ret, app;

	if (!c->on_data)
		return SD_APP_MORE;
	sd_buf_reset(&e->out);
	app = c->on_data(c->ctx, e->rcv.data, e->rcv.len, &e->out);
	ret = sd_buf_error(&e->out);
	if (ret < 0)
		return ret;
	if (e->out.len) {
		if (e->snd.len + e->out.len > INT32_MAX)
			return -SD_ELIMIT;
		sd_buf_put(&e->snd, e->out.data, e->out.len);
		ret = sd_buf_error(&e->snd);
		if (ret < 0)
			return ret;
		ret = queue_burst(e, before, e->snd.len);
		if (ret < 0)
			return ret;
	}
	return app;
}

static void note_rst(struct eng *e, const struct sd_pkt *p)
{
	struct sd_engine_result *r = e->res;

	r->rst_seen = true;
	memcpy(r->rst_from, p->src, e->alen);
	r->rst_seq = p->tcp.seq;
	r->rst_ack = p->tcp.ack;
	r->rst_ttl = p->ttl;
}

static int on_synack(struct eng *e, const struct sd_pkt *p)
{
	const struct sd_engine_config *c = e->cfg;
	struct sd_engine_result *r = e->res;
	uint64_t rtt = e->now - e->syn_last;
	int ret;

	e->irs = p->tcp.seq;
	r->server_isn = p->tcp.seq;
	r->server_mss = p->tcp.opt.has_mss ? p->tcp.opt.mss : 0;
	/* RFC 9293 §3.7.1 (IPv4) and RFC 8200 §8.3 (IPv6) default MSS */
	e->peer_mss = p->tcp.opt.has_mss ? p->tcp.opt.mss : (c->family == 4 ? 536 : 1220);
	e->snd_wnd = p->tcp.window;
	r->server_window = p->tcp.window;
	r->synack_ttl = p->ttl;
	r->t_synack = ms_since(e, e->now);
	r->rtt_ms = (double)rtt / 1000.0;
	progress(e);
	if (c->rto_ms) {
		e->rto_base = (uint64_t)c->rto_ms * 1000u;
	} else {
		e->rto_base = max_u64(4 * rtt, (uint64_t)c->rto_min_ms * 1000u);
		/* Karn: after a SYN retransmission the sample is doubtful */
		if (e->syn_retx)
			e->rto_base = max_u64(e->rto_base, (uint64_t)c->syn_rto_ms * 1000u);
	}
	e->rto_base = min_u64(e->rto_base, max_u64((uint64_t)c->rto_max_ms * 1000u, 1000));
	e->rto_cur = e->rto_base;
	r->rto_ms = (double)e->rto_base / 1000.0;
	e->quiet_us = max_u64((uint64_t)c->quiet_ms * 1000u, 2 * rtt);
	e->mss = mss_for(e);
	e->st = ST_ESTABLISHED;
	ret = send_ctl(e, SD_TCP_ACK);
	if (ret < 0)
		return ret;
	if (e->snd.len)
		ret = queue_burst(e, 0, e->snd.len);
	return ret;
}

static int rx_established(struct eng *e, const struct sd_pkt *p)
{
	uint8_t fl = p->tcp.flags;
	uint32_t off = p->tcp.seq - e->irs - 1;
	uint32_t wnd = OUR_WINDOW;
	size_t len = p->payload_len;
	bool fin = fl & SD_TCP_FIN, fresh = false, was_fin = e->fin_seen;
	int32_t d = (int32_t)(off - e->rcv_nxt);
	int ret, app;

	if (fl & SD_TCP_RST) {
		/* RFC 9293 §3.10.7.4: a RST is taken when its seq is in the window */
		if (d >= 0 && (uint32_t)d < wnd) {
			note_rst(e, p);
			e->res->rst_exact = d == 0;
			e->peer_reset = true;
			if (e->draining)
				stop(e, SD_ENGINE_DONE, "the application reached its goal, then a RST came");
			else
				stop(e, SD_ENGINE_RESET, "the connection was reset");
		} else {
			e->res->rx_ignored++;
		}
		return 0;
	}
	if (fl & SD_TCP_SYN) {
		/* the SYN-ACK again: our ACK was lost */
		return send_ctl(e, SD_TCP_ACK);
	}
	if (fl & SD_TCP_ACK) {
		ret = on_ack(e, p->tcp.ack, p->tcp.window);
		if (ret < 0)
			return ret;
		if (e->draining && e->snd_una == e->snd_max && !e->ntxq) {
			stop(e, SD_ENGINE_DONE, "the application reached its goal");
			return 0;
		}
	}
	if (!len && !fin)
		return 0;
	if (!e->fin_seen) {
		if (d <= 0) {
			fresh = take(e, off, p->payload, len);
			if (fin && off + len == e->rcv_nxt)
				e->fin_seen = true;
			fresh |= ooo_merge(e);
		} else if ((uint32_t)d < wnd) {
			e->res->rx_ooo++;
			ooo_add(e, off, p->payload, len, fin);
		} else {
			e->res->rx_ignored++;
		}
	}
	/* Every data segment is answered at once, in order or not. */
	ret = send_ctl(e, SD_TCP_ACK);
	if (ret < 0)
		return ret;
	if (e->fin_seen && !was_fin)
		e->res->server_fin = true;
	if (fresh)
		progress(e);
	if (fresh && !e->draining) {
		app = call_app(e);
		if (app < 0)
			return app;
		if (app == SD_APP_DONE && e->cfg->drain_on_done) {
			/* send the last words now, close once they are acknowledged */
			e->draining = true;
			ret = service_txq(e, true);
			if (ret < 0)
				return ret;
			if (e->snd_una == e->snd_max)
				stop(e, SD_ENGINE_DONE, "the application reached its goal");
			return 0;
		}
		if (app == SD_APP_DONE) {
			stop(e, SD_ENGINE_DONE, "the application reached its goal");
			return 0;
		}
		if (app == SD_APP_FAIL) {
			stop(e, SD_ENGINE_APP_FAIL, "the application gave up");
			return 0;
		}
		ret = service_txq(e, false);
		if (ret < 0)
			return ret;
	}
	if (e->fin_seen && !was_fin && !e->draining)
		stop(e, SD_ENGINE_CLOSED, "the server closed the connection");
	return 0;
}

static int rx_tcp(struct eng *e, const struct sd_pkt *p)
{
	uint8_t fl = p->tcp.flags;

	if (e->st == ST_SYN_SENT) {
		if ((fl & SD_TCP_RST) && (fl & SD_TCP_ACK) && p->tcp.ack == e->cfg->isn + 1) {
			note_rst(e, p);
			e->res->rst_exact = true;
			stop(e, SD_ENGINE_REFUSED, "a RST answered the SYN");
			return 0;
		}
		if ((fl & (SD_TCP_SYN | SD_TCP_ACK | SD_TCP_RST)) == (SD_TCP_SYN | SD_TCP_ACK) &&
		    p->tcp.ack == e->cfg->isn + 1)
			return on_synack(e, p);
		e->res->rx_ignored++;
		return 0;
	}
	return rx_established(e, p);
}

/* Lowers the path MTU after a frag-needed / packet-too-big, like tcp_mtu_reduced(). */
static int on_pmtu(struct eng *e, const struct sd_pkt *p, bool have_seq, uint32_t seq)
{
	struct sd_engine_result *r = e->res;
	struct sd_engine_pmtu ev;
	uint32_t mtu = p->icmp.mtu;
	size_t n = 0;
	int ret;

	memset(&ev, 0, sizeof(ev));
	ev.t_ms = ms_since(e, e->now);
	memcpy(ev.from, p->src, e->alen);
	ev.reported = mtu;
	ev.old_mtu = ev.new_mtu = e->pmtu;
	if (e->cfg->family == 4 && mtu < 68)
		mtu = 0;                         /* RFC 1191 §5: an old router; no guess */
	else if (e->cfg->family == 4 && mtu < IP4_MIN_PMTU)
		mtu = IP4_MIN_PMTU;
	else if (e->cfg->family == 6 && mtu < IP6_MIN_MTU)
		mtu = IP6_MIN_MTU;
	/* Linux ignores an error quoting a sequence outside snd_una..snd_nxt */
	if (have_seq && e->st == ST_ESTABLISHED) {
		uint32_t off = seq - e->cfg->isn - 1;

		if (off < e->snd_una || off >= e->snd_max)
			mtu = 0;
	}
	if (!e->cfg->shape.no_pmtud && mtu && mtu < e->pmtu) {
		ev.applied = true;
		ev.new_mtu = (uint16_t)mtu;
		e->pmtu = (uint16_t)mtu;
		r->path_mtu = e->pmtu;
	}
	if (r->npmtu < SD_ENGINE_MAX_PMTU)
		r->pmtu[r->npmtu++] = ev;
	else
		r->pmtu_lost++;
	if (!ev.applied || e->st != ST_ESTABLISHED)
		return 0;
	e->mss = mss_for(e);
	/*
	 * tcp_simple_retransmit(): every sent segment that no longer fits is
	 * lost; send it again now, re-cut, without waiting for the RTO.
	 */
	for (size_t i = 0; i < e->nrtx; i++) {
		struct rtxent t = e->rtx[i];

		if (t.ip_len <= e->pmtu)
			continue;
		while (t.len) {
			uint32_t len = t.len < e->mss ? t.len : e->mss;
			uint16_t il;

			ret = send_data(e, t.off, len, SD_SEG_RETX | SD_SEG_PMTU, &il);
			if (ret < 0)
				return ret;
			t.off += len;
			t.len -= len;
			n++;
		}
		e->rtx[i].ip_len = (uint16_t)(e->mss + e->hdr);
	}
	if (n)
		arm_rto(e);
	return 0;
}

static int rx_icmp(struct eng *e, const struct sd_pkt *p)
{
	const struct sd_engine_config *c = e->cfg;
	struct sd_engine_result *r = e->res;
	struct sd_cursor cur;
	struct sd_pkt in;
	uint16_t sport = 0, dport = 0;
	uint32_t seq = 0;
	bool have_ports = false, have_seq = false, unreach;
	int ret;

	if (!p->icmp.inner || !p->icmp.inner_len)
		return 0;
	ret = sd_pkt_decode(SD_LINKTYPE_RAW, p->icmp.inner, p->icmp.inner_len, &in);
	if (ret < 0 && ret != -SD_ESNAPLEN)
		return 0;
	if (in.family != c->family || !same_addr(e, in.src, c->src) ||
	    !same_addr(e, in.dst, c->dst) || in.proto != SD_IPPROTO_TCP)
		return 0;
	/* the quoted TCP header: ports, then the sequence number */
	if ((!in.frag || in.frag_off == 0) && in.l4) {
		sd_cursor_init(&cur, in.l4, in.l4_len);
		have_ports = sd_cursor_u16(&cur, &sport) == 0 && sd_cursor_u16(&cur, &dport) == 0;
		have_seq = have_ports && sd_cursor_u32(&cur, &seq) == 0;
	}
	if (have_ports && (sport != c->sport || dport != c->dport))
		return 0;
	if (!have_ports && !in.frag)
		return 0;
	r->icmp_recv++;
	r->pkts_recv++;
	e->last_activity = e->now;
	e->last_rx = e->now;
	if (p->icmp.mtu || (c->family == 4 && p->icmp.type == 3 && p->icmp.code == 4) ||
	    (c->family == 6 && p->icmp.type == 2))
		return on_pmtu(e, p, have_seq, seq);
	unreach = (c->family == 4 && p->icmp.type == 3) || (c->family == 6 && p->icmp.type == 1);
	if (unreach && e->st == ST_SYN_SENT) {
		r->icmp_type = p->icmp.type;
		r->icmp_code = p->icmp.code;
		memcpy(r->icmp_from, p->src, e->alen);
		stop(e, SD_ENGINE_REFUSED, "an ICMP unreachable answered the SYN");
		return 0;
	}
	r->rx_ignored++;
	return 0;
}

static int rx_frame(struct eng *e, const uint8_t *data, size_t len)
{
	const struct sd_engine_config *c = e->cfg;
	struct sd_pkt p;
	unsigned bad;

	if (sd_pkt_decode(SD_LINKTYPE_ETHERNET, data, len, &p) < 0)
		return 0;
	if (p.family != c->family || !same_addr(e, p.dst, c->src))
		return 0;
	if (p.proto == SD_IPPROTO_TCP && same_addr(e, p.src, c->dst)) {
		if (p.frag) {
			e->res->rx_ignored++;       /* no reassembly of server fragments */
			return 0;
		}
		if (p.tcp.sport != c->dport || p.tcp.dport != c->sport)
			return 0;
		e->res->pkts_recv++;
		bad = sd_pkt_checksum(&p);
		if (bad & (SD_CSUM_BAD_IP | SD_CSUM_BAD_L4)) {
			e->res->rx_bad_csum++;
			if (!c->accept_bad_csum)
				return 0;
		}
		e->last_activity = e->now;
		e->last_rx = e->now;
		return rx_tcp(e, &p);
	}
	if (!p.frag && ((c->family == 4 && p.proto == SD_IPPROTO_ICMP) ||
			(c->family == 6 && p.proto == SD_IPPROTO_ICMPV6)))
		return rx_icmp(e, &p);
	return 0;
}

/*
 * The next frame that arrived: 1 with *data and *len set, 0 when nothing is
 * waiting, -EIO. A plain socket also hands us what this socket's own
 * namespace sends (never our own frames): only incoming ones count.
 */
static int next_frame(struct eng *e, const uint8_t **data, size_t *len)
{
	struct pcap_pkthdr *h;
	const u_char *d;
	int r;

	if (e->pcap) {
		r = pcap_next_ex(e->pcap, &h, &d);
		if (r <= 0)
			return r < 0 ? -EIO : 0;
		*data = d;
		*len = h->caplen;
		return 1;
	}
	for (;;) {
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(e->fd, e->rxbuf, sizeof(e->rxbuf), MSG_DONTWAIT | MSG_TRUNC,
				     (struct sockaddr *)&from, &fl);

		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -EIO;
		if (from.sll_pkttype == PACKET_OUTGOING)
			continue;
		*data = e->rxbuf;
		*len = (size_t)n < sizeof(e->rxbuf) ? (size_t)n : sizeof(e->rxbuf);
		return 1;
	}
}

/* Reads what the handle holds, at most RX_BATCH frames. */
static int drain(struct eng *e)
{
	for (int i = 0; i < RX_BATCH && e->st != ST_STOPPED; i++) {
		const uint8_t *data;
		size_t len;
		int r = next_frame(e, &data, &len);
		int ret;

		if (r == 0)
			return 0;
		if (r < 0)
			return -EIO;
		ret = rx_frame(e, data, len);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* ---- timers --------------------------------------------------------------------- */

static int on_rto(struct eng *e)
{
	int ret;

	e->rto_armed = false;
	if (e->retries >= e->cfg->max_retries) {
		e->exhausted = true;
		return 0;
	}
	e->retries++;
	/* RFC 6298 §5.4-5.6; Linux tcp_enter_loss(): all outstanding is lost, cwnd 1 */
	e->recovery = true;
	e->recover_hi = e->snd_max;
	e->retx_nxt = e->snd_una;
	e->cwnd = 1;
	ret = send_recovery(e);
	if (ret < 0)
		return ret;
	e->rto_cur = min_u64(e->rto_cur * 2, max_u64((uint64_t)e->cfg->rto_max_ms * 1000u,
						    e->rto_base));
	if (e->retries >= e->cfg->max_retries)
		e->exhausted = true;        /* the last try is out: wait for quiet */
	else
		arm_rto(e);
	return 0;
}

static int timers(struct eng *e)
{
	const struct sd_engine_config *c = e->cfg;
	uint64_t quiet = e->now - e->last_activity;
	int ret;

	if (e->now - e->t0 >= (uint64_t)c->deadline_ms * 1000u) {
		stop(e, SD_ENGINE_STALL, "the deadline passed");
		return 0;
	}
	if (e->st == ST_SYN_SENT) {
		if (e->syn_exhausted) {
			if (quiet >= e->quiet_us)
				stop(e, SD_ENGINE_STALL, "no answer to the SYN");
			return 0;
		}
		if (e->now < e->syn_due)
			return 0;
		if (e->syn_retx >= c->syn_retries) {
			e->syn_exhausted = true;
			return 0;
		}
		e->syn_rto *= 2;
		e->syn_retx++;
		ret = send_syn(e);
		if (ret < 0)
			return ret;
		if (e->syn_retx >= c->syn_retries)
			e->syn_exhausted = true;
		return 0;
	}
	if (e->st != ST_ESTABLISHED)
		return 0;
	if (rto_running(e) && e->now >= e->rto_due) {
		ret = on_rto(e);
		if (ret < 0)
			return ret;
	}
	if (e->exhausted && e->now - e->last_activity >= e->quiet_us) {
		if (e->draining)
			stop(e, SD_ENGINE_DONE, "the application reached its goal; "
			     "its last bytes were never acknowledged");
		else
			stop(e, SD_ENGINE_STALL, "retransmissions exhausted and the path is quiet");
		return 0;
	}
	if (e->snd_una == e->snd_max && (!e->ntxq || txq_blocked(e)) && !e->exhausted &&
	    quiet >= (uint64_t)c->idle_ms * 1000u)
		stop(e, SD_ENGINE_STALL, e->ntxq ? "the server's window stayed closed" :
		     "nothing left to send and the server is silent");
	return 0;
}

/* µs until the next timer, at most 1 s. */
static uint64_t next_wake(const struct eng *e)
{
	const struct sd_engine_config *c = e->cfg;
	uint64_t t = e->now + 1000000u;

	t = min_u64(t, e->t0 + (uint64_t)c->deadline_ms * 1000u);
	if (e->st == ST_SYN_SENT) {
		t = min_u64(t, e->syn_exhausted ? e->last_activity + e->quiet_us : e->syn_due);
	} else {
		if (e->ntxq && !txq_blocked(e) && !e->recovery)
			t = min_u64(t, e->hold_since ? e->now + HOLD_POLL_US : e->txq[0].due);
		if (rto_running(e))
			t = min_u64(t, e->rto_due);
		if (e->exhausted)
			t = min_u64(t, e->last_activity + e->quiet_us);
		else if (e->snd_una == e->snd_max && (!e->ntxq || txq_blocked(e)))
			/* The idle stop (timers) only applies with nothing due to
			 * send: a segment held back by a pause must not wake us
			 * at once, over and over, until it is due. */
			t = min_u64(t, e->last_activity + (uint64_t)c->idle_ms * 1000u);
	}
	return t > e->now ? t - e->now : 0;
}

static int wait_rx(struct eng *e, uint64_t us)
{
	struct timespec ts = { (time_t)(us / 1000000u), (long)(us % 1000000u) * 1000 };
	struct pollfd pfd = { .fd = e->fd, .events = POLLIN };

	if (e->fd < 0) {
		/* no selectable descriptor: look again within a millisecond */
		if (ts.tv_sec || ts.tv_nsec > 1000000)
			ts = (struct timespec){ 0, 1000000 };
		nanosleep(&ts, NULL);
		return 0;
	}
	if (ppoll(&pfd, 1, &ts, NULL) < 0 && errno != EINTR)
		return -errno;
	return 0;
}

/* ---- the run ------------------------------------------------------------------- */

static int check_config(const struct sd_engine_config *c)
{
	unsigned hdr = c->family == 4 ? 40 : 60;

	if (c->family != 4 && c->family != 6)
		return -SD_EVALUE;
	if (c->mtu && (c->mtu < (c->family == 4 ? 68 : IP6_MIN_MTU)))
		return -SD_EVALUE;
	if (c->mss && (c->mss > (c->mtu ? c->mtu : 1500) - hdr))
		return -SD_EVALUE;
	if (!c->sport || !c->dport || c->flight_len > INT32_MAX ||
	    (c->flight_len && !c->flight) || (c->nsplits && !c->splits) ||
	    (c->ngaps && (!c->gap_offs || !c->gaps_us)) ||
	    c->nsplits > 256 || c->shape.ipfrag % 8 || c->stream_max > INT32_MAX ||
	    c->shape.nsplit > SD_SHAPE_MAX_SPLITS || !c->deadline_ms)
		return -SD_EVALUE;
	return 0;
}

static void setup(struct eng *e, struct pcap *p, int fd, const struct sd_engine_config *c,
		  struct sd_engine_result *r)
{
	e->pcap = p;
	e->cfg = c;
	e->res = r;
	e->fd = p ? pcap_get_selectable_fd(p) : fd;
	e->alen = c->family == 4 ? 4 : 16;
	e->hdr = c->family == 4 ? 40 : 60;
	e->pmtu = c->mtu ? c->mtu : 1500;
	e->our_mss = c->mss ? c->mss : (uint16_t)(e->pmtu - e->hdr);
	e->peer_mss = e->our_mss;
	e->mss = mss_for(e);
	e->syn_rto = (uint64_t)(c->syn_rto_ms ? c->syn_rto_ms : 1) * 1000u;
	e->quiet_us = max_u64((uint64_t)c->quiet_ms * 1000u, e->syn_rto);
	e->ip_id = (uint16_t)(c->isn ^ (c->isn >> 16));
	e->frag_id = c->isn * 2654435761u;
	for (size_t i = 0; i < c->shape.nsplit; i++)
		if (!c->shape.split[i].field[0])
			e->cuts[e->ncuts++] = c->shape.split[i].offset;
	for (size_t i = 0; i < c->nsplits; i++)
		e->cuts[e->ncuts++] = c->splits[i];
	r->isn = c->isn;
	r->mss_sent = e->our_mss;
	r->path_mtu = e->pmtu;
	r->t_synack = r->t_first_data = r->t_last_progress = r->t_end = -1;
	r->rtt_ms = r->rto_ms = -1;
	r->close_sent = SD_ENGINE_CLOSE_NONE;
}

static int run(struct pcap *p, int fd, const struct sd_engine_config *cfg,
	       struct sd_engine_result *res)
{
	struct eng *e;
	int ret;

	memset(res, 0, sizeof(*res));
	res->state = SD_ENGINE_ERROR;
	res->reason = "bad configuration";
	res->close_sent = SD_ENGINE_CLOSE_NONE;
	res->t_synack = res->t_first_data = res->t_last_progress = res->t_end = -1;
	ret = check_config(cfg);
	if (ret == 0 && p && pcap_datalink(p) != DLT_EN10MB)
		ret = -SD_EFORMAT;
	if (ret == 0 && !p && fd < 0)
		ret = -SD_EVALUE;
	if (ret < 0) {
		res->err = ret;
		return ret;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		res->err = -ENOMEM;
		res->reason = "out of memory";
		return -ENOMEM;
	}
	setup(e, p, fd, cfg, res);
	sd_buf_put(&e->snd, cfg->flight, cfg->flight_len);
	ret = sd_buf_error(&e->snd);
	if (ret < 0) {
		fail(e, ret, "out of memory");
		goto out;
	}

	/* Frames left over from earlier cells on this handle are not ours. */
	for (int i = 0; i < STALE_MAX; i++) {
		const uint8_t *data;
		size_t len;

		if (next_frame(e, &data, &len) <= 0)
			break;
		res->stale_frames++;
	}

	e->t0 = e->now = mono_us();
	e->last_activity = e->now;
	ret = send_syn(e);
	if (ret < 0) {
		fail(e, ret, "sending the SYN failed");
		goto out;
	}
	for (long iter = 0; e->st != ST_STOPPED; iter++) {
		if (iter == LOOP_MAX) {
			fail(e, -SD_ELIMIT, "too many wake-ups");
			break;
		}
		e->now = mono_us();
		ret = timers(e);
		if (ret == 0 && e->st == ST_ESTABLISHED)
			ret = service_txq(e, false);
		if (ret < 0) {
			fail(e, ret, "sending failed");
			break;
		}
		if (e->st == ST_STOPPED)
			break;
		ret = wait_rx(e, next_wake(e));
		e->now = mono_us();
		if (ret == 0)
			ret = drain(e);
		if (ret < 0) {
			fail(e, ret, "receiving failed");
			break;
		}
	}
out:
	e->now = mono_us();
	if (e->hold_since) {            /* stopped while a piece was held */
		res->held_ms += (double)(e->now - e->hold_since) / 1000.0;
		res->holds++;
	}
	res->t_end = ms_since(e, e->now);
	res->client_len = e->snd.len;
	res->path_mtu = e->pmtu;
	res->err = e->err;
	if (res->state == SD_ENGINE_ERROR && !res->err)
		res->err = -EIO;
	res->server_len = e->rcv.len;
	res->server = sd_buf_steal(&e->rcv, &res->server_len);
	for (size_t i = 0; i < e->nooo; i++)
		free(e->ooo[i].data);
	sd_buf_free(&e->snd);
	sd_buf_free(&e->rcv);
	sd_buf_free(&e->frame);
	sd_buf_free(&e->frags);
	sd_buf_free(&e->out);
	free(e);
	return res->state == SD_ENGINE_ERROR ? res->err : 0;
}

int sd_engine_run(struct pcap *p, const struct sd_engine_config *cfg,
		  struct sd_engine_result *res)
{
	if (!p) {
		memset(res, 0, sizeof(*res));
		res->state = SD_ENGINE_ERROR;
		res->reason = "no capture handle";
		res->err = -SD_EVALUE;
		return res->err;
	}
	return run(p, -1, cfg, res);
}

int sd_engine_run_fd(int fd, const struct sd_engine_config *cfg, struct sd_engine_result *res)
{
	return run(NULL, fd, cfg, res);
}

int sd_engine_socket_open(int ifindex)
{
	struct sockaddr_ll sll;
	int fd, one = 1;

	/* Protocol 0 at creation: the socket is not hooked in yet, so the bind
	 * that hooks it to one interface need not wait for a grace period. */
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = ifindex;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}
