/* SPDX-License-Identifier: MIT */
/* Replay plans: a capture's TLS client flights with their segments and gaps. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shakedown/flow.h"
#include "shakedown/hello.h"
#include "shakedown/record.h"
#include "shakedown/replay.h"
#include "shakedown/tls.h"

/* RFC 7323 §3: the timestamps option, padded to 12 bytes on every segment. */
#define TS_OPT_LEN 12

/* A captured data segment clipped to a flight, for sorting. */
struct piece {
	int64_t start, end;
	uint64_t ts_ns;
	uint32_t idx;           /* capture order, the tie-break */
	uint8_t flags;          /* SD_SEG_* of the capture */
};

static int cmp_piece(const void *a, const void *b)
{
	const struct piece *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int add_seg(struct sd_replay_flight *f, size_t off, size_t len, uint32_t gap_us,
		   uint8_t flags)
{
	if (f->nseg == SD_REPLAY_MAX_SEGS)
		return -SD_ELIMIT;
	f->seg[f->nseg++] = (struct sd_replay_seg){ (uint32_t)off, (uint32_t)len, gap_us, flags };
	return 0;
}

/*
 * The client's answer time: from the server's last data segment captured
 * before ts (the HelloRetryRequest) to ts (the second flight's first
 * transmission), capped like every gap; 0 when the capture has none.
 */
static uint32_t answer_us(const struct sd_flow_dir *srv, uint64_t ts, struct sd_replay_conn *rc)
{
	uint64_t last = 0, us;

	for (uint32_t i = 0; i < srv->nsegs; i++)
		if (srv->segs[i].len && srv->segs[i].ts_ns <= ts && srv->segs[i].ts_ns > last)
			last = srv->segs[i].ts_ns;
	if (!last)
		return 0;
	us = (ts - last) / 1000;
	if (us > SD_REPLAY_GAP_MAX_US) {
		us = SD_REPLAY_GAP_MAX_US;
		rc->gaps_capped = true;
	}
	return (uint32_t)us;
}

/*
 * The segments of stream range [f->start, f->start + f->len) from the
 * client's captured data segments: first transmissions in stream order,
 * each new byte once, super-frames cut at mss.
 */
static int plan_segments(const struct sd_flow_dir *d, uint16_t mss, struct sd_replay_flight *f,
			 struct sd_replay_conn *rc, uint64_t *first_ts)
{
	int64_t a = (int64_t)f->start, b = (int64_t)(f->start + f->len), covered = a;
	struct piece *p = NULL;
	size_t np = 0;
	uint64_t prev_ts = 0;
	bool have_prev = false;
	int ret = 0;

	f->nseg = 0;
	p = calloc(d->nsegs ? d->nsegs : 1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	for (uint32_t i = 0; i < d->nsegs; i++) {
		const struct sd_flow_seg *s = &d->segs[i];
		int64_t s0 = s->rel, s1 = s->rel + (int64_t)s->len;

		if (s1 <= a || s0 >= b)
			continue;
		if (s->flags & SD_SEG_RETRANS) {
			rc->retransmissions++;
			continue;
		}
		if (s->flags & SD_SEG_OOO)
			rc->out_of_order++;
		p[np++] = (struct piece){ s0 < a ? a : s0, s1 > b ? b : s1, s->ts_ns, i, s->flags };
	}
	qsort(p, np, sizeof(*p), cmp_piece);
	for (size_t i = 0; i < np && covered < b; i++) {
		/* A hole the capture never showed joins the next piece. */
		int64_t s0 = p[i].start > covered ? covered : p[i].start, s1 = p[i].end;
		uint32_t gap = 0;
		uint8_t fl = 0;

		if (s1 <= covered)
			continue;
		if (s0 < covered)
			s0 = covered;
		if (p[i].flags & (SD_SEG_OVERLAP | SD_SEG_CONFLICT))
			fl |= SD_REPLAY_SEG_OVERLAP;
		if (p[i].flags & SD_SEG_OOO)
			fl |= SD_REPLAY_SEG_OOO;
		/* Captured later than its predecessor in the stream: a gap.
		 * Earlier (it was out of order): none. */
		if (have_prev && p[i].ts_ns > prev_ts) {
			uint64_t us = (p[i].ts_ns - prev_ts) / 1000;

			if (us > SD_REPLAY_GAP_MAX_US) {
				us = SD_REPLAY_GAP_MAX_US;
				rc->gaps_capped = true;
			}
			gap = (uint32_t)us;
		}
		if (!have_prev)
			*first_ts = p[i].ts_ns;
		if (!have_prev || p[i].ts_ns > prev_ts)
			prev_ts = p[i].ts_ns;
		have_prev = true;
		if (mss && s1 - s0 > mss) {
			rc->gso_frames++;
			for (int64_t o = s0; o < s1 && ret == 0; o += mss) {
				int64_t e = o + mss < s1 ? o + mss : s1;

				ret = add_seg(f, (size_t)o, (size_t)(e - o), o == s0 ? gap : 0,
					      fl | SD_REPLAY_SEG_GSO);
			}
		} else {
			ret = add_seg(f, (size_t)s0, (size_t)(s1 - s0), gap, fl);
		}
		if (ret < 0)
			goto out;
		covered = s1;
	}
	/* Bytes no captured segment carried (a listing cut short): one more. */
	if (covered < b)
		ret = add_seg(f, (size_t)covered, (size_t)(b - covered), 0, 0);
	if (ret < 0)
		goto out;
	/* Which first transmissions were sent again later. */
	for (uint32_t i = 0; i < d->nsegs; i++) {
		const struct sd_flow_seg *s = &d->segs[i];

		if (!(s->flags & (SD_SEG_RETRANS | SD_SEG_OVERLAP)))
			continue;
		for (size_t k = 0; k < f->nseg; k++) {
			int64_t k0 = f->seg[k].off, k1 = k0 + f->seg[k].len;

			if (s->rel < k1 && s->rel + (int64_t)s->len > k0 && (s->flags & SD_SEG_RETRANS))
				f->seg[k].flags |= SD_REPLAY_SEG_RETRANS;
		}
	}
out:
	free(p);
	return ret;
}

/* Stream end of the last record carrying message m. */
static size_t msg_end(const struct sd_flight *fl, const struct sd_hs_msg *m)
{
	const struct sd_flight_record *r = &fl->records[m->rec_first + m->rec_count - 1];

	return r->offset + SD_RECORD_HDR + r->len;
}

/* Whether the server's first handshake message is a HelloRetryRequest. */
static bool server_hrr(const struct sd_flow_dir *srv, struct sd_flight *fl, uint16_t *group)
{
	struct sd_server_hello sh;
	bool hrr = false;

	*group = 0;
	if (!srv->len || sd_flight_parse(srv->stream, srv->len, fl) < 0)
		return false;
	if (fl->nmsgs && fl->msgs[0].type == SD_HS_SERVER_HELLO &&
	    sd_server_hello_parse(sd_flight_msg(fl, 0), fl->msgs[0].len, &sh) == 0)
		hrr = sh.hrr;
	if (hrr)
		*group = sh.group;
	sd_flight_free(fl);
	return hrr;
}

/* "client:port > server:port" of a flow, for messages. */
static void flow_label(const struct sd_flow *f, char *out, size_t n)
{
	char a[SD_ADDR_STRLEN], b[SD_ADDR_STRLEN];

	if (sd_addr_format(f->family, f->cli.addr, a, sizeof(a)) < 0)
		snprintf(a, sizeof(a), "?");
	if (sd_addr_format(f->family, f->srv.addr, b, sizeof(b)) < 0)
		snprintf(b, sizeof(b), "?");
	snprintf(out, n, f->family == 6 ? "[%s]:%u > [%s]:%u" : "%s:%u > %s:%u", a, f->cli.port, b,
		 f->srv.port);
}

/* Whether a client stream begins with the header of a ClientHello record. */
static bool begins_hello(const struct sd_flow_dir *d)
{
	return d->len >= 6 && d->stream[0] == SD_CT_HANDSHAKE && d->stream[1] == 3 &&
	       d->stream[5] == SD_HS_CLIENT_HELLO;
}

enum { SKIP = 1 };

/*
 * Plans flow i into rc. Returns 0, SKIP for a connection that does not
 * begin with a whole ClientHello, or an error with err filled in.
 */
static int plan_conn(const struct sd_flow *f, size_t i, struct sd_replay_conn *rc,
		     struct sd_flight *fl, struct sd_flight *sfl, char *err, size_t errlen)
{
	const struct sd_flow_dir *d = &f->cli;
	static _Thread_local struct sd_hello h;
	const struct sd_hs_msg *m0;
	size_t end;
	uint64_t ts = 0;
	char label[128];
	int n, ret;

	memset(rc, 0, sizeof(*rc));
	flow_label(f, label, sizeof(label));
	if (!d->len)
		return SKIP;
	n = sd_flight_parse(d->stream, d->len, fl);
	if (n < 0)
		return SKIP;                  /* not TLS: HTTP, SSH, ... */
	if (n == 0 || fl->msgs[0].type != SD_HS_CLIENT_HELLO || fl->records[0].offset != 0) {
		ret = SKIP;
		goto out;
	}
	m0 = &fl->msgs[0];
	end = msg_end(fl, m0);
	if (d->cut && d->cut_at < end) {
		snprintf(err, errlen, "connection %zu (%s): capture truncated by snaplen at stream byte %zu, inside the ClientHello; recapture with -s 0",
			 i + 1, label, d->cut_at);
		ret = -SD_ESNAPLEN;
		goto out;
	}
	rc->flow = i;
	rc->family = f->family;
	memcpy(rc->client, d->addr, 16);
	memcpy(rc->server, f->srv.addr, 16);
	rc->cport = d->port;
	rc->sport = f->srv.port;
	rc->hello_len = m0->len;
	rc->nrecords = sd_flight_msg_records(fl, 0, rc->record_len, SD_REPLAY_MAX_RECORDS);
	if (m0->rec_count > SD_REPLAY_MAX_RECORDS) {
		snprintf(err, errlen, "connection %zu (%s): the ClientHello spans %zu records; at most %d are replayed",
			 i + 1, label, m0->rec_count, SD_REPLAY_MAX_RECORDS);
		ret = -SD_ELIMIT;
		goto out;
	}
	if (sd_hello_parse(sd_flight_msg(fl, 0), m0->len, &h) == 0 && h.sni_len)
		snprintf(rc->sni, sizeof(rc->sni), "%.*s", (int)h.sni_len, (const char *)h.sni);
	if (f->srv.syn && f->srv.syn_opts.has_mss && f->srv.syn_opts.mss > TS_OPT_LEN) {
		rc->mss = f->srv.syn_opts.mss;
		if (d->syn && d->syn_opts.has_ts && f->srv.syn_opts.has_ts)
			rc->mss -= TS_OPT_LEN;
	}
	rc->first.start = 0;
	rc->first.len = end;
	rc->stream_len = end;
	rc->hrr = server_hrr(&f->srv, sfl, &rc->hrr_group);
	if (rc->hrr && n >= 2 && fl->msgs[1].type == SD_HS_CLIENT_HELLO) {
		size_t end2 = msg_end(fl, &fl->msgs[1]);

		if (d->cut && d->cut_at < end2) {
			snprintf(err, errlen, "connection %zu (%s): capture truncated by snaplen at stream byte %zu, inside the second ClientHello; recapture with -s 0",
				 i + 1, label, d->cut_at);
			ret = -SD_ESNAPLEN;
			goto out;
		}
		rc->has_retry = true;
		rc->retry.start = end;
		rc->retry.len = end2 - end;
		rc->stream_len = end2;
		rc->hello2_len = fl->msgs[1].len;
	}
	rc->stream = malloc(rc->stream_len);
	rc->hello = malloc(rc->hello_len);
	if (!rc->stream || !rc->hello) {
		ret = -ENOMEM;
		goto out;
	}
	memcpy(rc->stream, d->stream, rc->stream_len);
	memcpy(rc->hello, sd_flight_msg(fl, 0), rc->hello_len);
	ret = plan_segments(d, rc->mss, &rc->first, rc, &ts);
	if (ret == 0 && rc->has_retry) {
		ts = 0;
		ret = plan_segments(d, rc->mss, &rc->retry, rc, &ts);
		if (ret == 0 && rc->retry.nseg && ts)
			rc->retry.seg[0].gap_us = answer_us(&f->srv, ts, rc);
	}
	if (ret == -SD_ELIMIT)
		snprintf(err, errlen, "connection %zu (%s): the client flight was sent in more than %d segments",
			 i + 1, label, SD_REPLAY_MAX_SEGS);
	else if (ret < 0)
		snprintf(err, errlen, "%s", sd_strerror(ret));
out:
	if (ret != 0) {
		free(rc->stream);
		free(rc->hello);
		rc->stream = rc->hello = NULL;
	}
	sd_flight_free(fl);
	return ret;
}

int sd_replay_plan_build(const uint8_t *file, size_t len, struct sd_replay_plan *out,
			 char *err, size_t errlen)
{
	struct sd_flowset set = { 0 };
	struct sd_flight *fl = NULL, *sfl = NULL;
	long long begun = -1;
	int ret;

	memset(out, 0, sizeof(*out));
	if (!len) {
		snprintf(err, errlen, "empty file, not a capture");
		return -SD_EFORMAT;
	}
	ret = sd_flows_from_capture(file, len, &set);
	if (ret == -SD_EFORMAT) {
		snprintf(err, errlen, "not a pcap or pcapng capture");
		return ret;
	}
	if (ret < 0) {
		snprintf(err, errlen, "unreadable capture: %s", sd_strerror(ret));
		return ret;
	}
	if (set.read_err) {
		ret = set.read_err;
		snprintf(err, errlen, "capture is damaged or truncated after %llu packets (%s)",
			 (unsigned long long)set.packets, sd_strerror(ret));
		goto out;
	}
	out->flows = set.n;
	fl = malloc(sizeof(*fl));
	sfl = malloc(sizeof(*sfl));
	out->conns = calloc(set.n < SD_REPLAY_MAX_CONNS ? (set.n ? set.n : 1) : SD_REPLAY_MAX_CONNS,
			    sizeof(*out->conns));
	if (!fl || !sfl || !out->conns) {
		ret = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < set.n; i++) {
		const struct sd_flow *f = &set.flows[i];

		if (out->n == SD_REPLAY_MAX_CONNS) {
			out->conns_dropped += begins_hello(&f->cli);
			continue;
		}
		ret = plan_conn(f, i, &out->conns[out->n], fl, sfl, err, errlen);
		if (ret < 0)
			goto out;
		if (ret == 0) {
			out->n++;
			continue;
		}
		if (begins_hello(&f->cli)) {
			out->incomplete++;
			if (begun < 0)
				begun = (long long)i;
		}
	}
	if (!out->n) {
		ret = -SD_ENOHELLO;
		if (begun >= 0) {
			char label[128];
			const struct sd_flow *f = &set.flows[begun];

			flow_label(f, label, sizeof(label));
			if (f->cli.cut)
				ret = -SD_ESNAPLEN;
			snprintf(err, errlen, "connection %lld (%s) begins a ClientHello but the capture %s",
				 begun + 1, label,
				 f->cli.cut ? "cut it (snaplen); recapture with -s 0" :
				 f->cli.hole ? "misses some of its segments" : "ends inside it");
		} else {
			snprintf(err, errlen, "no TLS ClientHello in %s",
				 set.n ? "any TCP connection of the capture" : "the capture (no TCP connections)");
		}
		goto out;
	}
	ret = (int)out->n;
out:
	if (ret < 0)
		sd_replay_plan_free(out);
	free(fl);
	free(sfl);
	sd_flowset_free(&set);
	return ret;
}

void sd_replay_plan_free(struct sd_replay_plan *p)
{
	for (size_t i = 0; p->conns && i < p->n; i++) {
		free(p->conns[i].stream);
		free(p->conns[i].hello);
	}
	free(p->conns);
	memset(p, 0, sizeof(*p));
}

void sd_replay_sizes(const struct sd_replay_flight *f, char *out, size_t n)
{
	size_t w = 0;

	if (n)
		out[0] = 0;
	for (size_t i = 0; i < f->nseg && w < n; i++) {
		int k = snprintf(out + w, n - w, "%s%u", i ? "+" : "", f->seg[i].len);

		if (k < 0)
			break;
		w += (size_t)k;
	}
}
