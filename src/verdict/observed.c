/* SPDX-License-Identifier: MIT */
/* A real client's connection rebuilt from its link's captures, as verdict facts. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shakedown/buf.h"
#include "shakedown/capture.h"
#include "shakedown/cursor.h"
#include "shakedown/flow.h"
#include "shakedown/hello.h"
#include "shakedown/observed.h"
#include "shakedown/pkt.h"
#include "shakedown/record.h"
#include "shakedown/tls.h"

static bool same(const uint8_t *a, const uint8_t *b, int family)
{
	return memcmp(a, b, family == 6 ? 16 : 4) == 0;
}

static void decided(struct sd_observed *o, const char *by)
{
	if (o->decided)
		return;
	o->decided = true;
	strncpy(o->decided_by, by, sizeof(o->decided_by) - 1);
}

/* Frames of the client's link: hop 1's interface toward the client. */
static bool on_client_link(const struct sd_vd_pkt *p)
{
	return p->node == 0 && p->side == 0;
}

/*
 * The client stream's records: the first ClientHello (RFC 8446 §4.1.2; it
 * may span records, §5.1), the flight through its last record, a second
 * ClientHello after a HelloRetryRequest (§4.1.4), and whether an encrypted
 * record followed (the client's Finished, §4.4.4, goes in one).
 */
static int client_records(const uint8_t *s, size_t len, struct sd_observed *o, bool *encrypted,
			  size_t *enc_off)
{
	struct sd_buf hs = SD_BUF_INIT;
	struct sd_cursor c;
	struct sd_record r;
	size_t msgs = 0, msg_end = 0;
	int ret = 0;

	*encrypted = false;
	sd_cursor_init(&c, s, len);
	while (sd_record_parse(&c, &r) == 0) {
		size_t end = r.offset + SD_RECORD_HDR + r.len;

		if (r.type == SD_CT_APPDATA) {
			*encrypted = true;
			*enc_off = r.offset;
			break;
		}
		if (r.type != SD_CT_HANDSHAKE)
			continue;
		sd_buf_put(&hs, r.frag, r.len);
		if (sd_buf_error(&hs) < 0) {
			ret = -ENOMEM;
			goto out;
		}
		if (!o->hello && o->nrecords < SD_OBSERVED_MAX_RECORDS)
			o->record_lengths[o->nrecords++] = r.len;
		/* Whole messages so far. */
		while (hs.len >= msg_end + 4) {
			const uint8_t *m = hs.data + msg_end;
			size_t ml = 4 + ((size_t)m[1] << 16 | (size_t)m[2] << 8 | m[3]);

			if (hs.len < msg_end + ml)
				break;
			if (m[0] == SD_HS_CLIENT_HELLO && msgs == 0) {
				if (!(o->hello = malloc(ml))) {
					ret = -ENOMEM;
					goto out;
				}
				memcpy(o->hello, m, ml);
				o->hello_len = ml;
				o->flight_len = end;
			} else if (m[0] == SD_HS_CLIENT_HELLO && msgs == 1) {
				o->hello2_len = ml;
			}
			msgs++;
			msg_end += ml;
		}
	}
	if (!o->hello)
		o->flight_len = len;
out:
	sd_buf_free(&hs);
	return ret;
}

/* The server stream's plaintext: ServerHello or HelloRetryRequest
 * (RFC 8446 §4.1.3, §4.1.4) and alerts (§6) sent before encryption. */
static void server_records(const uint8_t *s, size_t len, struct sd_vd_client *cl)
{
	struct sd_buf hs = SD_BUF_INIT;
	struct sd_cursor c;
	struct sd_record r;
	size_t msg_end = 0;

	sd_cursor_init(&c, s, len);
	while (sd_record_parse(&c, &r) == 0) {
		if (r.type == SD_CT_ALERT && r.len == 2 && !cl->alert) {
			cl->alert = true;
			cl->alert_level = r.frag[0];
			cl->alert_desc = r.frag[1];
		}
		if (r.type != SD_CT_HANDSHAKE || cl->server_hello)
			continue;
		sd_buf_put(&hs, r.frag, r.len);
		if (sd_buf_error(&hs) < 0)
			break;
		while (hs.len >= msg_end + 4 && !cl->server_hello) {
			const uint8_t *m = hs.data + msg_end;
			size_t ml = 4 + ((size_t)m[1] << 16 | (size_t)m[2] << 8 | m[3]);
			struct sd_server_hello sh;

			if (hs.len < msg_end + ml)
				break;
			if (m[0] == SD_HS_SERVER_HELLO && sd_server_hello_parse(m, ml, &sh) == 0) {
				if (sh.hrr) {
					cl->hrr = true;
				} else {
					cl->server_hello = true;
					cl->group = sh.has_group ? sh.group : 0;
				}
			}
			msg_end += ml;
		}
	}
	sd_buf_free(&hs);
}

/*
 * The server's flight as the client answered it: server stream bytes that
 * had reached the client when it sent the record at client stream offset
 * fin (its Finished), so tickets and data sent later do not count.
 */
static size_t flight_answered(const struct sd_flow *fl, size_t fin)
{
	uint64_t t_fin = 0;
	size_t end = 0;

	for (uint32_t i = 0; i < fl->cli.nsegs && !t_fin; i++) {
		const struct sd_flow_seg *g = &fl->cli.segs[i];

		if (g->rel >= 0 && (size_t)g->rel <= fin && fin < (size_t)g->rel + g->len)
			t_fin = g->ts_ns;
	}
	if (!t_fin)
		return fl->srv.len;
	for (uint32_t i = 0; i < fl->srv.nsegs; i++) {
		const struct sd_flow_seg *g = &fl->srv.segs[i];

		if (g->ts_ns <= t_fin && g->rel >= 0 && (size_t)g->rel + g->len > end)
			end = (size_t)g->rel + g->len;
	}
	return end < fl->srv.len ? end : fl->srv.len;
}

/* The connection's frames on the client's link, as a pcap, rebuilt. */
static int rebuild(const struct sd_vd_pkt *pkts, size_t n, struct sd_flowset *set)
{
	struct sd_buf b = SD_BUF_INIT;
	int ret;

	if ((ret = sd_pcap_write_header(&b, SD_LINKTYPE_ETHERNET, 65535)) < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (on_client_link(&pkts[i]) &&
		    (ret = sd_pcap_write_packet(&b, pkts[i].ts_ns, pkts[i].frame, (uint32_t)pkts[i].len)) < 0)
			goto out;
	ret = sd_flows_from_capture(b.data, b.len, set);
out:
	sd_buf_free(&b);
	return ret < 0 ? ret : 0;
}

/* One connection's facts (fl: its streams); *o zeroed by the caller. */
static int one_flow(const struct sd_vd_pkt *pkts, size_t n, int family, const uint8_t *server_addr,
		    uint16_t server_port, uint64_t now_ns, unsigned extra_ms, const struct sd_flow *fl,
		    struct sd_observed *o)
{
	struct sd_vd_client *cl = &o->client;
	uint64_t t0 = 0, last_retx = 0, last_ts = 0;
	uint32_t base = 0, acked_abs = 0, max_end = 0;
	bool synack = false, srv_rst = false, cli_rst = false, srv_fin = false, cli_fin = false,
	     have_ack = false, encrypted = false;
	size_t enc_off = 0;
	int ret;

	cl->end = SD_VD_END_STALL;
	o->found = true;
	o->sport = fl->cli.port;
	base = fl->cli.base;
	if (fl->srv.syn && fl->srv.syn_opts.has_mss)
		cl->server_mss = fl->srv.syn_opts.mss;

	/* Segments, acknowledgements, ends and ICMP errors, frame by frame. */
	for (size_t i = 0; i < n; i++) {
		const struct sd_vd_pkt *r = &pkts[i];
		struct sd_pkt p;
		bool from_client;

		if (!on_client_link(r) || sd_pkt_decode(SD_LINKTYPE_ETHERNET, r->frame, r->len, &p) < 0 ||
		    p.family != family)
			continue;
		if (!t0)
			t0 = r->ts_ns;
		if (r->ts_ns > last_ts)
			last_ts = r->ts_ns;
		if ((p.proto == SD_IPPROTO_ICMP || p.proto == SD_IPPROTO_ICMPV6) && !p.frag && r->out &&
		    p.icmp.mtu) {
			if (!o->icmp_to_client && cl->npmtu < 8) {
				struct sd_vd_pmtu *pm = &cl->pmtu[cl->npmtu++];

				pm->mtu = p.icmp.mtu;
				memcpy(pm->from, p.src, family == 6 ? 16 : 4);
				pm->t_us = (uint32_t)((r->ts_ns - t0) / 1000);
			}
			o->icmp_to_client = true;
			continue;
		}
		if (p.proto != SD_IPPROTO_TCP || p.frag)
			continue;
		from_client = !r->out && p.tcp.sport == o->sport && p.tcp.dport == server_port &&
			      same(p.dst, server_addr, family);
		if (!from_client && !(r->out && p.tcp.dport == o->sport && p.tcp.sport == server_port &&
				      same(p.src, server_addr, family)))
			continue;
		if (from_client) {
			uint32_t off = p.tcp.seq - base, len = (uint32_t)p.payload_wire_len;

			if (p.tcp.flags & SD_TCP_RST)
				cli_rst = true;
			if (p.tcp.flags & SD_TCP_FIN)
				cli_fin = true;
			if (!len || (p.tcp.flags & SD_TCP_SYN) || off > (1u << 30))
				continue;
			if (off + len <= max_end) {
				o->retransmits++;
				if (off + len > acked_abs - base || !have_ack)
					last_retx = r->ts_ns;
			}
			if (off < o->flight_len || !o->flight_len) {
				if (cl->nsegs < SD_VD_MAX_SEGS) {
					struct sd_vd_seg *s = &cl->segs[cl->nsegs++];

					s->offset = off;
					s->len = len;
					s->ip_len = (uint32_t)p.l3_wire_len;
					s->frags = 1;
					s->retrans = off + len <= max_end;
					s->t_us = (uint32_t)((r->ts_ns - t0) / 1000);
				}
			}
			if (off + len > max_end)
				max_end = off + len;
		} else {
			if ((p.tcp.flags & (SD_TCP_SYN | SD_TCP_ACK)) == (SD_TCP_SYN | SD_TCP_ACK))
				synack = true;
			/* A FIN or RST answering the client's own is not the
			 * server ending the connection. */
			if ((p.tcp.flags & SD_TCP_RST) && !cli_rst && !cli_fin)
				srv_rst = true;
			if ((p.tcp.flags & SD_TCP_FIN) && !cli_rst && !cli_fin)
				srv_fin = true;
			if ((p.tcp.flags & SD_TCP_ACK) && !(p.tcp.flags & SD_TCP_SYN) &&
			    (!have_ack || (int32_t)(p.tcp.ack - acked_abs) > 0)) {
				acked_abs = p.tcp.ack;
				have_ack = true;
			}
		}
	}

	/* The streams: the client's first flight and what came back. */
	if ((ret = client_records(fl->cli.stream, fl->cli.len, o, &encrypted, &enc_off)) < 0)
		goto out;
	/* Segments listed before the hello's end was known: the first flight only. */
	{
		size_t k = 0;

		for (size_t i = 0; i < cl->nsegs; i++)
			if (cl->segs[i].offset < o->flight_len)
				cl->segs[k++] = cl->segs[i];
		cl->nsegs = k;
	}
	if (o->flight_len && !(o->flight = malloc(o->flight_len))) {
		ret = -ENOMEM;
		goto out;
	}
	if (o->flight_len)
		memcpy(o->flight, fl->cli.stream, o->flight_len);
	server_records(fl->srv.stream, fl->srv.len, cl);
	cl->server_bytes = fl->srv.len;
	if (have_ack) {
		uint32_t a = acked_abs - base;

		cl->acked = a < o->flight_len ? a : (uint32_t)o->flight_len;
	}
	cl->handshake_done = encrypted && cl->server_hello;
	if (cl->handshake_done)
		cl->server_bytes = flight_answered(fl, enc_off);
	cl->t_end_us = last_ts > t0 ? (uint32_t)((last_ts - t0) / 1000) : 0;

	if (cl->handshake_done) {
		cl->end = SD_VD_END_DONE;
		decided(o, "handshake completed");
	} else if (srv_rst && !synack) {
		cl->end = SD_VD_END_REFUSED;
		decided(o, "refused");
	} else if (srv_rst) {
		cl->end = SD_VD_END_RESET;
		decided(o, "reset");
	} else if (srv_fin) {
		cl->end = SD_VD_END_CLOSED;
		decided(o, "closed");
	}
	/* The program giving up on a connection decides nothing: it may try
	 * again on another (Chromium does); its exit or the deadline ends the
	 * cell then. */
	o->client_gave_up = cli_rst || cli_fin;
	if (cl->alert)
		decided(o, "alert");
	if (!now_ns)
		now_ns = last_ts;
	/* A retransmitted segment still beyond the acknowledged bytes, left
	 * unanswered for a while, and no ICMP error to explain it. */
	if (last_retx && !o->icmp_to_client && (!have_ack || acked_abs - base < max_end) &&
	    now_ns >= last_retx + (uint64_t)(SD_OBSERVED_STUCK_MS + extra_ms) * 1000000u) {
		o->stuck = true;
		decided(o, "stuck");
	}
	/* Everything acknowledged, nothing more coming: the path is quiet. */
	if (!cl->handshake_done && have_ack && max_end && acked_abs - base >= max_end &&
	    !cli_rst && !cli_fin && now_ns >= last_ts + (uint64_t)(SD_OBSERVED_QUIET_MS + extra_ms) * 1000000u)
		decided(o, "quiet");
	ret = 0;
out:
	return ret;
}

/* How far a connection got: completed, ended by the path or server, or not yet. */
static int rank(const struct sd_observed *o)
{
	return o->client.handshake_done ? 3 : o->decided ? 2 : 1;
}

int sd_observed_build(const struct sd_vd_pkt *pkts, size_t n, int family,
		      const uint8_t *server_addr, uint16_t server_port, uint64_t now_ns,
		      unsigned extra_ms, struct sd_observed *o)
{
	struct sd_flowset set = { 0 };
	struct sd_observed *tmp = NULL;
	int ret;

	memset(o, 0, sizeof(*o));
	o->client.end = SD_VD_END_STALL;
	if ((ret = rebuild(pkts, n, &set)) < 0)
		goto out;
	/*
	 * The client's connections to the server whose SYN was captured (a
	 * packet of an earlier cell's connection may still trickle in); the
	 * one that got furthest, the first of those, stands for the client.
	 */
	for (size_t i = 0; i < set.n; i++) {
		const struct sd_flow *f = &set.flows[i];

		if (f->family != family || f->srv.port != server_port ||
		    !same(f->srv.addr, server_addr, family) || !f->cli.syn)
			continue;
		if (!tmp && !(tmp = calloc(1, sizeof(*tmp)))) {
			ret = -ENOMEM;
			goto out;
		}
		memset(tmp, 0, sizeof(*tmp));
		if ((ret = one_flow(pkts, n, family, server_addr, server_port, now_ns, extra_ms, f, tmp)) < 0) {
			sd_observed_free(tmp);
			goto out;
		}
		tmp->connections = o->connections + 1;
		if (!o->found || rank(tmp) > rank(o)) {
			sd_observed_free(o);
			*o = *tmp;
			memset(tmp, 0, sizeof(*tmp));
		} else {
			o->connections = tmp->connections;
			sd_observed_free(tmp);
		}
	}
	ret = 0;
out:
	free(tmp);
	sd_flowset_free(&set);
	if (ret < 0)
		sd_observed_free(o);
	return ret;
}

void sd_observed_free(struct sd_observed *o)
{
	free(o->flight);
	free(o->hello);
	o->flight = o->hello = NULL;
	o->flight_len = o->hello_len = 0;
}
