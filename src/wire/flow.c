/* SPDX-License-Identifier: MIT */
/* TCP flow reassembly from a capture, with IP fragment reassembly in front of it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shakedown/capture.h"
#include "shakedown/cursor.h"
#include "shakedown/flow.h"

/* Twice SD_FLOW_MAX and a power of two, so linear probing stays short. */
#define HASH_SLOTS 8192
#define FRAG_BLOCKS ((SD_FLOW_MAX_DATAGRAM + 7) / 8 + 1)

/*
 * Stream bytes are kept as views into the capture (or into a reassembled
 * datagram) until the end, so holding out-of-order data costs no more
 * memory than the file itself; only the contiguous prefix is copied out.
 */
struct piece {
	uint32_t rel, len;
	const uint8_t *src;
};

struct dstate {
	bool base_set, base_from_syn;
	struct piece *pc;
	size_t npc, cappc;
	uint32_t contig;            /* first offset not held */
	size_t segcap;
};

struct fstate {
	int syn_from, synack_from, tls_from;    /* direction index, or -1 */
	bool closed;                            /* a FIN or RST was seen */
	struct dstate d[2];                     /* 0: the first packet's sender */
};

struct frag {
	bool used;
	uint8_t family, proto;
	uint32_t id;
	uint64_t stamp;
	struct sd_pkt hdr;          /* IP fields of a fragment, for the rebuilt datagram */
	uint8_t *buf;
	size_t cap;
	uint32_t total, max_end, nblocks;
	bool total_known;
	uint8_t have[(FRAG_BLOCKS + 7) / 8];
};

struct builder {
	struct sd_flowset *set;
	struct fstate *st;
	size_t capflows;
	uint32_t slots[HASH_SLOTS];   /* flow index + 1; 0 is empty */
	struct frag frags[SD_FLOW_MAX_FRAG_PENDING];
	uint64_t clock;
	uint8_t **keep;               /* rebuilt datagrams that pieces point into */
	size_t nkeep, capkeep;
};

static struct sd_flow_dir *fdir(struct sd_flow *f, int i)
{
	return i ? &f->srv : &f->cli;
}

/* A view of n bytes at off inside the view v of vlen bytes, or NULL. */
static const uint8_t *at(const uint8_t *v, size_t vlen, size_t off, size_t n)
{
	struct sd_cursor c;
	const uint8_t *r = NULL;

	sd_cursor_init(&c, v, vlen);
	if (sd_cursor_skip(&c, off) < 0 || sd_cursor_bytes(&c, n, &r) < 0)
		return NULL;
	return r;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t n = *cap ? *cap : 8;
	void *q;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	q = realloc(*p, n * elem);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

static uint32_t hash_tuple(uint8_t family, const uint8_t *a, uint16_t pa,
			   const uint8_t *b, uint16_t pb)
{
	uint8_t k[37];
	uint32_t h = 2166136261u;
	int swap = memcmp(a, b, 16);

	/* order the two ends so both directions land in one slot */
	if (swap > 0 || (swap == 0 && pa > pb)) {
		const uint8_t *t = a;
		uint16_t tp = pa;

		a = b;
		b = t;
		pa = pb;
		pb = tp;
	}
	k[0] = family;
	memcpy(k + 1, a, 16);
	memcpy(k + 17, b, 16);
	k[33] = (uint8_t)(pa >> 8);
	k[34] = (uint8_t)pa;
	k[35] = (uint8_t)(pb >> 8);
	k[36] = (uint8_t)pb;
	for (size_t i = 0; i < sizeof(k); i++)
		h = (h ^ k[i]) * 16777619u;     /* FNV-1a */
	return h;
}

/* Which direction of f a packet from (src, sport) is, or -1 if not f's. */
static int dir_of(const struct sd_flow *f, const struct sd_pkt *p)
{
	if (f->family != p->family)
		return -1;
	if (f->cli.port == p->tcp.sport && f->srv.port == p->tcp.dport &&
	    !memcmp(f->cli.addr, p->src, 16) && !memcmp(f->srv.addr, p->dst, 16))
		return 0;
	if (f->srv.port == p->tcp.sport && f->cli.port == p->tcp.dport &&
	    !memcmp(f->srv.addr, p->src, 16) && !memcmp(f->cli.addr, p->dst, 16))
		return 1;
	return -1;
}

/* The slot for p's 4-tuple: one holding its flow, or the empty one to use. */
static uint32_t *lookup(struct builder *b, const struct sd_pkt *p)
{
	uint32_t h = hash_tuple(p->family, p->src, p->tcp.sport, p->dst,
				p->tcp.dport);

	for (uint32_t i = 0; i < HASH_SLOTS; i++) {
		uint32_t *s = &b->slots[(h + i) & (HASH_SLOTS - 1)];

		if (!*s || dir_of(&b->set->flows[*s - 1], p) >= 0)
			return s;
	}
	return NULL;
}

static int new_flow(struct builder *b, const struct sd_pkt *p, uint64_t ts)
{
	struct sd_flowset *set = b->set;
	size_t cap = b->capflows;
	struct sd_flow *f;
	struct fstate *st;

	if (grow((void **)&set->flows, &cap, set->n + 1, sizeof(*set->flows)) < 0)
		return -ENOMEM;
	cap = b->capflows;
	if (grow((void **)&b->st, &cap, set->n + 1, sizeof(*b->st)) < 0)
		return -ENOMEM;
	b->capflows = cap;
	f = &set->flows[set->n];
	st = &b->st[set->n];
	memset(f, 0, sizeof(*f));
	memset(st, 0, sizeof(*st));
	f->family = p->family;
	memcpy(f->cli.addr, p->src, 16);
	memcpy(f->srv.addr, p->dst, 16);
	f->cli.port = p->tcp.sport;
	f->srv.port = p->tcp.dport;
	f->first_ts = f->last_ts = ts;
	st->syn_from = st->synack_from = st->tls_from = -1;
	return (int)set->n++;
}

/* Keeps [lo, hi) of a segment whose byte 0 is at stream offset s. */
static int insert(struct dstate *ds, int64_t s, const uint8_t *data,
		  size_t dlen, uint32_t lo, uint32_t hi, uint32_t *covered,
		  bool *conflict)
{
	size_t i = 0, n = ds->npc;
	uint32_t cur = lo;

	/* first piece ending after lo */
	while (i < n) {
		size_t mid = i + (n - i) / 2;

		if (ds->pc[mid].rel + ds->pc[mid].len <= lo)
			i = mid + 1;
		else
			n = mid;
	}
	while (cur < hi) {
		struct piece *q = i < ds->npc ? &ds->pc[i] : NULL;

		if (q && q->rel <= cur) {
			uint32_t end = q->rel + q->len < hi ? q->rel + q->len : hi;
			const uint8_t *old = at(q->src, q->len, cur - q->rel, end - cur);
			const uint8_t *neu = at(data, dlen, (size_t)(cur - s), end - cur);

			if (old && neu && memcmp(old, neu, end - cur))
				*conflict = true;
			*covered += end - cur;
			cur = end;
			i++;
			continue;
		}
		{
			uint32_t end = q && q->rel < hi ? q->rel : hi;
			const uint8_t *src = at(data, dlen, (size_t)(cur - s), end - cur);

			if (!src)
				return -SD_EVALUE;
			if (grow((void **)&ds->pc, &ds->cappc, ds->npc + 1,
				 sizeof(*ds->pc)) < 0)
				return -ENOMEM;
			memmove(ds->pc + i + 1, ds->pc + i,
				(ds->npc - i) * sizeof(*ds->pc));
			ds->pc[i] = (struct piece){ cur, end - cur, src };
			ds->npc++;
			i++;
			cur = end;
		}
	}
	/* advance the contiguous end over pieces that now touch it */
	for (;;) {
		size_t a = 0, z = ds->npc;

		while (a < z) {
			size_t mid = a + (z - a) / 2;

			if (ds->pc[mid].rel + ds->pc[mid].len <= ds->contig)
				a = mid + 1;
			else
				z = mid;
		}
		if (a >= ds->npc || ds->pc[a].rel > ds->contig)
			break;
		ds->contig = ds->pc[a].rel + ds->pc[a].len;
	}
	return 0;
}

static int add_data(struct sd_flow *f, struct fstate *st, int dir,
		    uint32_t start, const struct sd_pkt *p, uint64_t ts)
{
	struct sd_flow_dir *d = fdir(f, dir);
	struct dstate *ds = &st->d[dir];
	struct sd_flow_seg seg = { 0 };
	int64_t s = (int32_t)(start - d->base);
	int64_t e = s + (int64_t)p->payload_wire_len;
	int64_t ce = s + (int64_t)p->payload_len;
	int64_t lo = s < 0 ? 0 : s;
	int64_t hi = ce > SD_FLOW_MAX_STREAM ? SD_FLOW_MAX_STREAM : ce;
	uint32_t covered = 0;
	bool conflict = false;
	uint8_t first;
	int ret;

	seg.rel = s;
	seg.len = (uint32_t)p->payload_wire_len;
	seg.caplen = (uint32_t)p->payload_len;
	seg.ts_ns = ts;
	seg.tcp_flags = p->tcp.flags;
	if (s < 0)
		seg.flags |= SD_SEG_EARLY;
	if (e > SD_FLOW_MAX_STREAM) {
		seg.flags |= SD_SEG_BEYOND;
		d->truncated = true;
	}
	if (p->payload_len < p->payload_wire_len) {
		int64_t cs = ce < 0 ? 0 : ce;
		int64_t cend = e > SD_FLOW_MAX_STREAM ? SD_FLOW_MAX_STREAM : e;

		seg.flags |= SD_SEG_CUT;
		if (cs < cend && (!d->cut || (size_t)cs < d->cut_at)) {
			d->cut = true;
			d->cut_at = (size_t)cs;
		}
	}
	if (e > 0) {
		size_t end = e > SD_FLOW_MAX_STREAM ? SD_FLOW_MAX_STREAM : (size_t)e;

		if (end > d->seen_end)
			d->seen_end = end;
	}
	if (st->tls_from < 0 && p->payload_len) {
		struct sd_cursor c;

		sd_cursor_init(&c, p->payload, p->payload_len);
		/* a TLS handshake record (RFC 8446 §5.1) comes from the client first */
		if (sd_cursor_u8(&c, &first) == 0 && first == 0x16)
			st->tls_from = dir;
	}
	if (lo < hi) {
		if ((uint32_t)lo > ds->contig)
			seg.flags |= SD_SEG_OOO;
		ret = insert(ds, s, p->payload, p->payload_len, (uint32_t)lo,
			     (uint32_t)hi, &covered, &conflict);
		if (ret < 0)
			return ret;
		if (covered == hi - lo)
			seg.flags |= SD_SEG_RETRANS;
		else if (covered)
			seg.flags |= SD_SEG_OVERLAP;
		if (conflict)
			seg.flags |= SD_SEG_CONFLICT;
	}
	if (d->nsegs >= SD_FLOW_MAX_SEGS) {
		d->segs_truncated = true;
		return 0;
	}
	if (grow((void **)&d->segs, &ds->segcap, d->nsegs + 1, sizeof(*d->segs)) < 0)
		return -ENOMEM;
	d->segs[d->nsegs++] = seg;
	return 0;
}

static int tcp_packet(struct builder *b, const struct sd_pkt *p, uint64_t ts)
{
	struct sd_flowset *set = b->set;
	uint32_t *slot = lookup(b, p);
	uint8_t fl = p->tcp.flags;
	bool syn = fl & SD_TCP_SYN, syn_only = syn && !(fl & SD_TCP_ACK);
	struct sd_flow *f = NULL;
	struct sd_flow_dir *d;
	struct fstate *st;
	struct dstate *ds;
	uint32_t start;
	int dir, ret;

	if (!slot) {
		set->flows_dropped++;
		return 0;
	}
	if (*slot) {
		f = &set->flows[*slot - 1];
		st = &b->st[*slot - 1];
		dir = dir_of(f, p);
		d = fdir(f, dir);
		/* a new connection on a 4-tuple that was closed or re-synced */
		if (syn_only && (st->closed || (d->syn && d->isn != p->tcp.seq)))
			f = NULL;
	}
	if (!f) {
		if (set->n >= SD_FLOW_MAX) {
			set->flows_dropped++;
			return 0;
		}
		ret = new_flow(b, p, ts);
		if (ret < 0)
			return ret;
		*slot = (uint32_t)ret + 1;
		f = &set->flows[ret];
	}
	st = &b->st[*slot - 1];
	dir = dir_of(f, p);
	d = fdir(f, dir);
	ds = &st->d[dir];
	f->last_ts = ts;
	d->packets++;
	if (fl & SD_TCP_RST) {
		d->rst = true;
		st->closed = true;
	}
	if (syn) {
		if (!d->syn) {
			d->syn = true;
			d->isn = p->tcp.seq;
			d->syn_opts = p->tcp.opt;
			/* RFC 9293 §3.4: the SYN takes ISN, data starts at ISN+1 */
			if (!ds->base_set || (!ds->base_from_syn && !ds->npc && !d->nsegs)) {
				d->base = p->tcp.seq + 1;
				ds->base_set = ds->base_from_syn = true;
			}
		}
		if (syn_only && st->syn_from < 0)
			st->syn_from = dir;
		if (!syn_only && st->synack_from < 0)
			st->synack_from = dir;
	}
	if (!ds->base_set) {
		d->base = p->tcp.seq;
		ds->base_set = true;
	}
	start = p->tcp.seq + (syn ? 1u : 0u);
	if (p->payload_wire_len) {
		ret = add_data(f, st, dir, start, p, ts);
		if (ret < 0)
			return ret;
	}
	if (fl & SD_TCP_FIN) {
		int64_t fe = (int32_t)(start + (uint32_t)p->payload_wire_len - d->base);

		d->fin = true;
		st->closed = true;
		if (fe > 0) {
			size_t end = fe > SD_FLOW_MAX_STREAM ? SD_FLOW_MAX_STREAM : (size_t)fe;

			if (end > d->seen_end)
				d->seen_end = end;
		}
	}
	return 0;
}

static int keep_buf(struct builder *b, uint8_t *buf)
{
	if (grow((void **)&b->keep, &b->capkeep, b->nkeep + 1, sizeof(*b->keep)) < 0)
		return -ENOMEM;
	b->keep[b->nkeep++] = buf;
	return 0;
}

static void frag_drop(struct frag *fr)
{
	free(fr->buf);
	memset(fr, 0, sizeof(*fr));
}

static struct frag *frag_find(struct builder *b, const struct sd_pkt *p)
{
	struct frag *free_fr = NULL, *oldest = NULL;

	for (size_t i = 0; i < SD_FLOW_MAX_FRAG_PENDING; i++) {
		struct frag *fr = &b->frags[i];

		if (!fr->used) {
			if (!free_fr)
				free_fr = fr;
			continue;
		}
		/* RFC 791 §3.2 and RFC 8200 §4.5: the reassembly key */
		if (fr->family == p->family && fr->id == p->frag_id &&
		    fr->proto == p->proto && !memcmp(fr->hdr.src, p->src, 16) &&
		    !memcmp(fr->hdr.dst, p->dst, 16))
			return fr;
		if (!oldest || fr->stamp < oldest->stamp)
			oldest = fr;
	}
	if (!free_fr) {
		b->set->frags_dropped++;
		frag_drop(oldest);
		free_fr = oldest;
	}
	free_fr->used = true;
	free_fr->family = p->family;
	free_fr->proto = p->proto;
	free_fr->id = p->frag_id;
	free_fr->hdr = *p;
	return free_fr;
}

static int frag_complete(struct builder *b, struct frag *fr, uint64_t ts)
{
	struct sd_pkt p = fr->hdr;
	uint8_t *buf = fr->buf;
	uint32_t total = fr->total;
	int ret;

	fr->buf = NULL;
	frag_drop(fr);
	b->set->reassembled++;
	ret = sd_pkt_decode_reassembled(&p, p.proto, buf, total);
	if (ret < 0 || p.proto != SD_IPPROTO_TCP) {
		if (ret < 0)
			b->set->malformed++;
		else
			b->set->not_tcp++;
		free(buf);
		return 0;
	}
	ret = keep_buf(b, buf);
	if (ret < 0) {
		free(buf);
		return ret;
	}
	return tcp_packet(b, &p, ts);
}

static int fragment(struct builder *b, const struct sd_pkt *p, uint64_t ts)
{
	struct sd_flowset *set = b->set;
	size_t off = p->frag_off, len = p->l4_len, end = off + len;
	struct frag *fr;

	set->fragments++;
	/* RFC 791 / RFC 8200 §4.5: all but the last carry multiples of 8 */
	if ((p->flags & SD_PKT_CUT) || end > SD_FLOW_MAX_DATAGRAM ||
	    (p->mf && (len % 8 || !len))) {
		set->frags_dropped++;
		return 0;
	}
	fr = frag_find(b, p);
	fr->stamp = ++b->clock;
	if (!p->mf) {
		if ((fr->total_known && fr->total != end) || fr->max_end > end)
			goto inconsistent;
		fr->total = (uint32_t)end;
		fr->total_known = true;
	} else if (fr->total_known && end > fr->total) {
		goto inconsistent;
	}
	if (end > fr->cap) {
		size_t cap = fr->cap ? fr->cap : 2048;
		uint8_t *nb;

		while (cap < end)
			cap *= 2;
		if (cap > SD_FLOW_MAX_DATAGRAM)
			cap = SD_FLOW_MAX_DATAGRAM;
		nb = realloc(fr->buf, cap);
		if (!nb)
			return -ENOMEM;
		fr->buf = nb;
		fr->cap = cap;
	}
	/* the first copy of each 8-byte block wins, as with stream bytes */
	for (size_t blk = off / 8; blk * 8 < end; blk++) {
		size_t bo = blk * 8, n = end - bo < 8 ? end - bo : 8;
		const uint8_t *src;

		if (fr->have[blk / 8] & (1u << (blk % 8)))
			continue;
		src = at(p->l4, p->l4_len, bo - off, n);
		if (!src)
			goto inconsistent;
		memcpy(fr->buf + bo, src, n);
		fr->have[blk / 8] |= (uint8_t)(1u << (blk % 8));
		fr->nblocks++;
	}
	if (end > fr->max_end)
		fr->max_end = (uint32_t)end;
	if (fr->total_known && fr->nblocks == (fr->total + 7) / 8)
		return frag_complete(b, fr, ts);
	return 0;
inconsistent:
	set->frags_dropped++;
	frag_drop(fr);
	return 0;
}

static int finish_dir(struct sd_flow_dir *d, const struct dstate *ds)
{
	d->len = ds->contig;
	d->hole = d->len < d->seen_end;
	d->stream = malloc(d->len ? d->len : 1);
	if (!d->stream)
		return -ENOMEM;
	for (size_t i = 0; i < ds->npc && ds->pc[i].rel < ds->contig; i++)
		memcpy(d->stream + ds->pc[i].rel, ds->pc[i].src, ds->pc[i].len);
	return 0;
}

static int finish(struct builder *b)
{
	struct sd_flowset *set = b->set;

	for (size_t i = 0; i < set->n; i++) {
		struct sd_flow *f = &set->flows[i];
		struct fstate *st = &b->st[i];
		int client = 0;

		for (int k = 0; k < 2; k++)
			if (finish_dir(fdir(f, k), &st->d[k]) < 0)
				return -ENOMEM;
		if (st->syn_from >= 0) {
			client = st->syn_from;
			f->client_by = SD_FLOW_BY_SYN;
			f->syn_seen = true;
		} else if (st->synack_from >= 0) {
			client = !st->synack_from;
			f->client_by = SD_FLOW_BY_SYNACK;
		} else if (st->tls_from >= 0) {
			client = st->tls_from;
			f->client_by = SD_FLOW_BY_TLS;
		} else {
			/* ephemeral ports are the high ones (RFC 6056) */
			client = f->srv.port > f->cli.port;
			f->client_by = SD_FLOW_BY_PORT;
		}
		if (client) {
			struct sd_flow_dir t = f->cli;

			f->cli = f->srv;
			f->srv = t;
		}
		f->snaplen_cut = f->cli.cut;
	}
	return 0;
}

static void builder_free(struct builder *b)
{
	for (size_t i = 0; b->st && i < b->set->n; i++)
		for (int k = 0; k < 2; k++)
			free(b->st[i].d[k].pc);
	free(b->st);
	for (size_t i = 0; i < SD_FLOW_MAX_FRAG_PENDING; i++)
		free(b->frags[i].buf);
	for (size_t i = 0; i < b->nkeep; i++)
		free(b->keep[i]);
	free(b->keep);
	free(b);
}

static int process(struct builder *b, const struct sd_capture_pkt *cp)
{
	struct sd_flowset *set = b->set;
	struct sd_pkt p;
	int ret;

	set->packets++;
	ret = sd_pkt_decode(cp->linktype, cp->data, cp->caplen, &p);
	if (ret == -SD_ESNAPLEN) {
		set->cut++;
		return 0;
	}
	if (ret < 0) {
		set->malformed++;
		return 0;
	}
	if (!p.family) {
		set->not_ip++;
		return 0;
	}
	/*
	 * A super-frame's IP length says nothing (0, or what it held), so
	 * only the record's original length tells that snaplen cut it: its
	 * payload was longer by what the capture dropped.
	 */
	if ((p.flags & SD_PKT_GSO) && !p.frag && cp->origlen > cp->caplen) {
		p.flags |= SD_PKT_CUT;
		p.l3_wire_len += cp->origlen - cp->caplen;
		p.payload_wire_len += cp->origlen - cp->caplen;
	}
	if (p.flags & SD_PKT_CUT)
		set->cut++;
	if (p.frag)
		return fragment(b, &p, cp->ts_ns);
	if (p.proto != SD_IPPROTO_TCP) {
		set->not_tcp++;
		return 0;
	}
	return tcp_packet(b, &p, cp->ts_ns);
}

int sd_flows_from_capture(const uint8_t *file, size_t len,
			  struct sd_flowset *out)
{
	struct sd_capture *cap;
	struct sd_capture_pkt cp;
	struct builder *b;
	int ret;

	memset(out, 0, sizeof(*out));
	cap = malloc(sizeof(*cap));
	b = calloc(1, sizeof(*b));
	if (!cap || !b) {
		free(cap);
		free(b);
		return -ENOMEM;
	}
	b->set = out;
	ret = sd_capture_open(cap, file, len);
	if (ret < 0)
		goto out;
	while ((ret = sd_capture_next(cap, &cp)) > 0) {
		ret = process(b, &cp);
		if (ret < 0)
			goto out;
	}
	out->read_err = ret;
	ret = finish(b);
out:
	builder_free(b);
	free(cap);
	if (ret < 0) {
		sd_flowset_free(out);
		return ret;
	}
	return (int)out->n;
}

void sd_flowset_free(struct sd_flowset *set)
{
	for (size_t i = 0; set->flows && i < set->n; i++) {
		free(set->flows[i].cli.stream);
		free(set->flows[i].cli.segs);
		free(set->flows[i].srv.stream);
		free(set->flows[i].srv.segs);
	}
	free(set->flows);
	memset(set, 0, sizeof(*set));
}
