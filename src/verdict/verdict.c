/* SPDX-License-Identifier: MIT */
/* One outcome per cell, with evidence and attribution, from what every hop saw. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shakedown/capture.h"
#include "shakedown/flow.h"
#include "shakedown/pkt.h"
#include "shakedown/record.h"
#include "shakedown/tls.h"
#include "shakedown/verdict.h"

static const char *const names[SD_OUTCOME_MAX] = {
	[SD_OK] = "ok", [SD_OK_HRR] = "ok-hrr", [SD_ALERT] = "alert",
	[SD_RESET] = "reset", [SD_CLOSED] = "closed", [SD_STALL] = "stall",
	[SD_BLACKHOLE] = "blackhole", [SD_TRUNCATED] = "truncated",
	[SD_MANGLED] = "mangled", [SD_FRAG_LOST] = "frag-lost",
	[SD_REFUSED] = "refused", [SD_HRR_FAILURE] = "hrr-failure",
	[SD_ERROR] = "error",
};

const char *sd_outcome_name(enum sd_outcome o)
{
	return (unsigned)o < SD_OUTCOME_MAX ? names[o] : "error";
}

int sd_outcome_parse(const char *s, enum sd_outcome *o)
{
	for (int i = 0; i < SD_OUTCOME_MAX; i++) {
		if (strcmp(names[i], s) == 0) {
			*o = (enum sd_outcome)i;
			return 0;
		}
	}
	return -SD_EUNKNOWN;
}

/* A decoded frame of this connection with its direction. */
struct fpkt {
	const struct sd_vd_pkt *raw;
	struct sd_pkt p;
	int dir;          /* 0 client→server, 1 server→client, -1 not ours */
	bool icmp_err;    /* an ICMP error quoting one of our packets */
	bool toobig;      /* ... frag-needed or packet-too-big */
	bool matched;
};

static bool same_addr(const uint8_t *a, const uint8_t *b, int family)
{
	return memcmp(a, b, family == 4 ? 4 : 16) == 0;
}

/* Which direction a packet of this connection travels, or -1. */
static int classify(const struct sd_vd_input *in, struct fpkt *f)
{
	const struct sd_pkt *p = &f->p;
	bool c2s, s2c;

	if (p->family != in->family)
		return -1;
	c2s = same_addr(p->src, in->client_addr, in->family) &&
	      same_addr(p->dst, in->server_addr, in->family);
	s2c = same_addr(p->src, in->server_addr, in->family) &&
	      same_addr(p->dst, in->client_addr, in->family);
	if (p->frag && p->proto == SD_IPPROTO_TCP)
		return c2s ? 0 : s2c ? 1 : -1;
	if (p->proto == SD_IPPROTO_TCP && !p->frag) {
		if (c2s && p->tcp.sport == in->client_port && p->tcp.dport == in->server_port)
			return 0;
		if (s2c && p->tcp.sport == in->server_port && p->tcp.dport == in->client_port)
			return 1;
		return -1;
	}
	if ((p->proto == SD_IPPROTO_ICMP || p->proto == SD_IPPROTO_ICMPV6) && !p->frag &&
	    p->icmp.inner && same_addr(p->dst, in->client_addr, in->family)) {
		struct sd_pkt inner;
		uint32_t lt = in->family == 4 ? SD_LINKTYPE_IPV4 : SD_LINKTYPE_IPV6;

		/* The quoted packet is usually cut after 8 bytes of TCP; a
		 * decode error past the IP header still leaves the addresses. */
		memset(&inner, 0, sizeof(inner));
		(void)!sd_pkt_decode(lt, p->icmp.inner, p->icmp.inner_len, &inner);
		if (inner.family == in->family &&
		    same_addr(inner.src, in->client_addr, in->family) &&
		    same_addr(inner.dst, in->server_addr, in->family)) {
			f->icmp_err = true;
			f->toobig = p->icmp.mtu != 0;
			return 1;
		}
	}
	return -1;
}

/* Identity of a packet as it crosses a router: TTL and checksums change,
 * these do not (unless something rewrites the packet). */
static bool same_packet(const struct fpkt *a, const struct fpkt *b)
{
	const struct sd_pkt *x = &a->p, *y = &b->p;

	if (a->dir != b->dir || x->proto != y->proto || x->frag != y->frag ||
	    x->l3_wire_len != y->l3_wire_len)
		return false;
	if (x->frag)
		return x->frag_id == y->frag_id && x->frag_off == y->frag_off;
	if (x->proto == SD_IPPROTO_TCP)
		return x->tcp.seq == y->tcp.seq && x->tcp.ack == y->tcp.ack &&
		       x->tcp.flags == y->tcp.flags && x->ip_id == y->ip_id;
	return x->ip_id == y->ip_id;
}

/*
 * Whether client fragment a, not seen leaving hop h as it came, left it
 * reassembled: a whole client TCP packet that left h and matches nothing
 * that entered, with the fragment's IP id (IPv4 keeps the first
 * fragment's header; IPv6 has no id in a whole datagram, so any).
 */
static bool left_reassembled(const struct fpkt *f, size_t n, const struct fpkt *a, int h)
{
	for (size_t k = 0; k < n; k++) {
		const struct fpkt *b = &f[k];

		if (b->matched || b->raw->node != h || !b->raw->out || b->raw->side != 1 || b->dir != 0 ||
		    b->p.frag || b->p.proto != SD_IPPROTO_TCP || !b->p.payload_len)
			continue;
		if (a->p.family == 6 || b->p.ip_id == (uint16_t)a->p.frag_id)
			return true;
	}
	return false;
}

static bool carries_alert(const struct sd_pkt *p)
{
	return p->proto == SD_IPPROTO_TCP && p->payload_len >= 7 && p->payload[0] == SD_CT_ALERT &&
	       p->payload[1] == 3;
}

/* Builds an in-memory pcap of some frames and rebuilds the connection. */
static int stream_of(struct fpkt *f, size_t n, bool (*pick)(const struct fpkt *, int),
		     int arg, const struct sd_vd_input *in, struct sd_flowset *set,
		     const struct sd_flow **flow)
{
	struct sd_buf b = SD_BUF_INIT;
	int ret;

	*flow = NULL;
	if ((ret = sd_pcap_write_header(&b, SD_LINKTYPE_ETHERNET, 65535)) < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (f[i].dir >= 0 && !f[i].icmp_err && pick(&f[i], arg))
			if ((ret = sd_pcap_write_packet(&b, f[i].raw->ts_ns, f[i].raw->frame,
							(uint32_t)f[i].raw->len)) < 0)
				goto out;
	ret = sd_flows_from_capture(b.data, b.len, set);
	if (ret < 0)
		goto out;
	for (size_t i = 0; i < set->n; i++) {
		const struct sd_flow *fl = &set->flows[i];
		uint16_t cport = fl->cli.port;

		if (cport == in->client_port || fl->srv.port == in->client_port) {
			*flow = fl;
			break;
		}
		(void)cport;
	}
	ret = 0;
out:
	sd_buf_free(&b);
	return ret;
}

/* Frames arriving at the server from its hop. */
static bool at_server_in(const struct fpkt *f, int nhops)
{
	return f->raw->node == nhops && !f->raw->out;
}

/* Frames arriving at an exec hop (node arg) from the client's side: what
 * reached the program that ends the client's connection. */
static bool at_proxy_in(const struct fpkt *f, int node)
{
	return f->raw->node == node && !f->raw->out && f->raw->side == 0;
}

/* Frames leaving the first hop toward the client. */
static bool to_client(const struct fpkt *f, int unused)
{
	(void)unused;
	return f->raw->node == 0 && f->raw->side == 0 && f->raw->out;
}

/* Client-side bytes of a flow whichever way the flow module named them. */
static const struct sd_flow_dir *client_dir(const struct sd_flow *fl, const struct sd_vd_input *in)
{
	return fl->cli.port == in->client_port ? &fl->cli : &fl->srv;
}

static const struct sd_flow_dir *server_dir(const struct sd_flow *fl, const struct sd_vd_input *in)
{
	return fl->cli.port == in->client_port ? &fl->srv : &fl->cli;
}

static void field_at(const struct sd_vd_input *in, long long off, char *out, size_t n)
{
	long long m = -1;

	out[0] = 0;
	if (!in->hello || off < 0)
		return;
	/* Map a stream offset to a message offset through the record
	 * headers (5 bytes each) in front of it. */
	{
		struct sd_cursor c;
		size_t msg_seen = 0;

		sd_cursor_init(&c, in->flight, in->flight_len);
		while (sd_cursor_left(&c) >= 5) {
			size_t start = sd_cursor_offset(&c);
			uint16_t len;

			if (sd_cursor_skip(&c, 3) < 0 || sd_cursor_u16(&c, &len) < 0)
				break;
			if ((size_t)off < start + 5) {
				snprintf(out, n, "TLS record header");
				return;
			}
			if ((size_t)off < start + 5 + len) {
				m = (long long)(msg_seen + ((size_t)off - start - 5)) -
				    (long long)in->hello_stream_offset;
				break;
			}
			msg_seen += len;
			if (sd_cursor_skip(&c, len) < 0)
				break;
		}
	}
	if (m < 0)
		return;
	sd_hello_field_at(in->hello, (size_t)m, out, n);
}

static void name_node(const struct sd_vd_input *in, int node, char *out, size_t n)
{
	if (node < 0)
		snprintf(out, n, "client");
	else if ((size_t)node >= in->nhops)
		snprintf(out, n, "server");
	else
		snprintf(out, n, "%s", in->hop_names[node]);
}

void sd_verdict_judge(const struct sd_vd_input *in, struct sd_verdict *v)
{
	const struct sd_vd_client *cl = in->client;
	const struct sd_vd_server *sv = in->server;
	struct sd_flowset srvset = { 0 }, cliset = { 0 };
	const struct sd_flow *sflow = NULL, *cflow = NULL;
	struct fpkt *f = NULL;
	size_t delivered = 0;
	long long mismatch = -1;
	int oversize_hop = -1, drop_hop = -1, frag_hop = -1, rst_hop = -1, alert_hop = -1,
	    fin_hop = -1;
	bool icmp_ignored = false, reassembled = false;
	char tmp[64], dest[64];

	memset(v, 0, sizeof(*v));
	v->first_missing = -1;
	v->nhops = in->nhops < SD_VD_MAX_HOPS ? in->nhops : SD_VD_MAX_HOPS;
	v->sent = in->flight_len;
	for (size_t i = 0; i < v->nhops; i++) {
		snprintf(v->hops[i].name, sizeof(v->hops[i].name), "%s", in->hop_names[i]);
		v->hops[i].icmp_filtered = in->icmp_filtered[i];
		v->hops[i].mtu_in = in->link_mtu[i];
		v->hops[i].mtu_out = in->link_mtu[i + 1];
	}
	for (size_t i = 0; i < cl->nsegs; i++) {
		if (!cl->segs[i].retrans) {
			v->segments++;
			if (cl->segs[i].frags > 1)
				v->ip_fragments += cl->segs[i].frags;
		}
	}
	{
		struct sd_cursor c;
		struct sd_record r;

		sd_cursor_init(&c, in->flight, in->flight_len);
		while (sd_record_parse(&c, &r) == 0)
			v->records++;
	}

	if (in->npkts) {
		f = calloc(in->npkts, sizeof(*f));
		if (!f) {
			v->outcome = SD_ERROR;
			snprintf(v->detail, sizeof(v->detail), "out of memory judging the cell");
			return;
		}
	}
	for (size_t i = 0; i < in->npkts; i++) {
		f[i].raw = &in->pkts[i];
		f[i].dir = -1;
		if (sd_pkt_decode(SD_LINKTYPE_ETHERNET, in->pkts[i].frame, in->pkts[i].len,
				  &f[i].p) < 0)
			continue;
		f[i].dir = classify(in, &f[i]);
	}

	/* Per hop: what came in, what went out, what was dropped or made up. */
	for (size_t h = 0; h < v->nhops; h++) {
		struct sd_vd_hop *hop = &v->hops[h];

		for (size_t i = 0; i < in->npkts; i++) {
			const struct sd_vd_pkt *r = f[i].raw;
			int d = f[i].dir;

			if (d < 0 || r->node != (int)h)
				continue;
			/* c2s enters on side 0 and leaves on side 1; s2c the reverse. */
			if (!r->out && r->side == (d == 0 ? 0 : 1)) {
				hop->pkts_in[d]++;
				hop->bytes_in[d] += f[i].p.l3_wire_len;
				if (f[i].p.frag)
					hop->frags_in++;
			} else if (r->out && r->side == (d == 0 ? 1 : 0)) {
				hop->pkts_out[d]++;
				hop->bytes_out[d] += f[i].p.l3_wire_len;
				if (f[i].p.frag)
					hop->frags_out++;
			}
		}
		for (size_t i = 0; i < in->npkts; i++) {
			const struct sd_vd_pkt *r = f[i].raw;
			int d = f[i].dir;
			bool found = false;

			/* A proxy's socket takes the client's packets in: they
			 * end there, they are not dropped. */
			if (in->proxy_hop == h + 1)
				break;
			if (d < 0 || r->node != (int)h || f[i].icmp_err)
				continue;
			if (r->out || r->side != (d == 0 ? 0 : 1))
				continue;
			for (size_t k = 0; k < in->npkts && !found; k++) {
				if (f[k].matched || f[k].raw->node != (int)h || !f[k].raw->out ||
				    f[k].raw->side != (d == 0 ? 1 : 0))
					continue;
				if (same_packet(&f[i], &f[k])) {
					f[k].matched = true;
					found = true;
				}
			}
			/* A hop that reassembles (an inspecting one) may send
			 * the whole datagram on instead of the fragments. */
			if (!found && d == 0 && f[i].p.frag &&
			    left_reassembled(f, in->npkts, &f[i], (int)h))
				found = reassembled = true;
			if (!found) {
				hop->drops[d]++;
				if (d == 0 && f[i].p.l3_wire_len > hop->mtu_out &&
				    (f[i].p.df || in->family == 6)) {
					hop->oversize_drops++;
					if (oversize_hop < 0)
						oversize_hop = (int)h;
				}
				if (d == 0 && f[i].p.frag && frag_hop < 0)
					frag_hop = (int)h;
				if (d == 0 && drop_hop < 0)
					drop_hop = (int)h;
			}
		}
		/* Leaving without having entered: generated here. */
		for (size_t i = 0; i < in->npkts; i++) {
			const struct sd_vd_pkt *r = f[i].raw;

			if (f[i].dir < 0 || r->node != (int)h || !r->out)
				continue;
			if (f[i].icmp_err) {
				if (f[i].toobig) {
					hop->icmp_sent++;
					if (r->side == 0)
						hop->icmp_out++;
				}
				continue;
			}
			if (f[i].matched)
				continue;
			if (f[i].p.proto == SD_IPPROTO_TCP && (f[i].p.tcp.flags & SD_TCP_RST)) {
				hop->rst_injected++;
				if (rst_hop < 0)
					rst_hop = (int)h;
			} else if (carries_alert(&f[i].p)) {
				hop->alerts_injected++;
				if (alert_hop < 0)
					alert_hop = (int)h;
			} else if (f[i].p.proto == SD_IPPROTO_TCP && (f[i].p.tcp.flags & SD_TCP_FIN) &&
				   fin_hop < 0) {
				fin_hop = (int)h;
			}
		}
	}
	/* An ICMP error reached the client if it left the first hop toward it. */
	for (size_t i = 0; i < in->npkts; i++)
		if (f[i].icmp_err && f[i].toobig && f[i].raw->node == 0 && f[i].raw->out &&
		    f[i].raw->side == 0)
			v->icmp_reached_client = true;
	for (size_t i = 0; i < cl->npmtu; i++) {
		v->icmp_reached_client = true;
		icmp_ignored |= cl->pmtu[i].ignored;
	}

	/* What the server's side of the path delivered, byte for byte; behind
	 * a proxy, what reached the proxy (the end of the client's TCP). */
	if (stream_of(f, in->npkts, in->proxy_hop ? at_proxy_in : at_server_in,
		      in->proxy_hop ? (int)in->proxy_hop - 1 : (int)in->nhops, in, &srvset,
		      &sflow) == 0 && sflow) {
		const struct sd_flow_dir *cd = client_dir(sflow, in);
		size_t n = cd->len < in->flight_len ? cd->len : in->flight_len;

		delivered = cd->len;
		for (size_t i = 0; i < n; i++) {
			if (cd->stream[i] != in->flight[i]) {
				mismatch = (long long)i;
				break;
			}
		}
	}
	if (sv && sv->present && sv->bytes_in > delivered)
		delivered = sv->bytes_in;
	v->delivered = delivered < in->flight_len ? delivered : in->flight_len;
	if (stream_of(f, in->npkts, to_client, 0, in, &cliset, &cflow) == 0 && cflow)
		v->server_flight = server_dir(cflow, in)->len;
	if (v->delivered < in->flight_len) {
		v->first_missing = (long long)v->delivered;
		field_at(in, v->first_missing, v->field, sizeof(v->field));
	}

	/* Where the client's bytes go: the server, or the program of an exec
	 * hop (which a RST, FIN or alert leaving it toward the client names,
	 * having entered it from no one: see "generated here" above). */
	if (in->proxy_hop && in->proxy_hop <= v->nhops)
		snprintf(dest, sizeof(dest), "the proxy at hop '%s'", in->hop_names[in->proxy_hop - 1]);
	else
		snprintf(dest, sizeof(dest), "the server");

	/* The outcome, most specific first. */
	if (cl->end == SD_VD_END_ERROR) {
		v->outcome = SD_ERROR;
		snprintf(v->detail, sizeof(v->detail), "harness error: %s", cl->why);
	} else if (mismatch >= 0) {
		char fld[128];

		v->outcome = SD_MANGLED;
		field_at(in, mismatch, fld, sizeof(fld));
		snprintf(v->detail, sizeof(v->detail),
			 "bytes delivered to the server differ from those sent, first at stream byte %lld (%s)",
			 mismatch, fld[0] ? fld : "?");
		if (drop_hop >= 0)
			name_node(in, drop_hop, v->breaking, sizeof(v->breaking));
		else
			snprintf(v->breaking, sizeof(v->breaking), "path");
	} else if (cl->end == SD_VD_END_REFUSED) {
		v->outcome = SD_REFUSED;
		snprintf(v->detail, sizeof(v->detail), "the SYN was answered with a RST or ICMP unreachable");
		snprintf(v->breaking, sizeof(v->breaking), "%s", rst_hop >= 0 ? in->hop_names[rst_hop] : "server");
	} else if (cl->alert) {
		const char *an = sd_tls_alert_name(cl->alert_desc);

		v->outcome = cl->hrr && !cl->handshake_done ? SD_HRR_FAILURE : SD_ALERT;
		if (sv && sv->present && sv->alert_sent && sv->alert_desc == cl->alert_desc)
			snprintf(v->breaking, sizeof(v->breaking), "server");
		else if (alert_hop >= 0)
			name_node(in, alert_hop, v->breaking, sizeof(v->breaking));
		else
			snprintf(v->breaking, sizeof(v->breaking), "unknown");
		snprintf(v->detail, sizeof(v->detail), "%s alert %s (%u) from %s%s",
			 cl->alert_level == 1 ? "warning" : "fatal", an ? an : "?", cl->alert_desc,
			 v->breaking, cl->hrr ? " after a HelloRetryRequest" : "");
	} else if (cl->end == SD_VD_END_DONE && cl->server_hello) {
		v->outcome = cl->hrr ? SD_OK_HRR : SD_OK;
		snprintf(v->detail, sizeof(v->detail), "%s%s negotiated %s; %zu bytes of server flight reached the client",
			 cl->hrr ? "after a HelloRetryRequest, " : "",
			 cl->handshake_done ? "handshake completed," : "ServerHello received,",
			 sd_tls_group_name(cl->group) ? sd_tls_group_name(cl->group) : "?",
			 cl->handshake_done ? cl->server_bytes : v->server_flight);
	} else if (cl->hrr) {
		int who = cl->end == SD_VD_END_RESET ? rst_hop : cl->end == SD_VD_END_CLOSED ? fin_hop : drop_hop;

		v->outcome = SD_HRR_FAILURE;
		if (who >= 0)
			name_node(in, who, v->breaking, sizeof(v->breaking));
		else if (cl->end == SD_VD_END_RESET || cl->end == SD_VD_END_CLOSED)
			snprintf(v->breaking, sizeof(v->breaking), "server");
		snprintf(v->detail, sizeof(v->detail),
			 "the server sent a HelloRetryRequest and the retry did not complete: %s%s%s",
			 cl->end == SD_VD_END_RESET ? "RST from " : cl->end == SD_VD_END_CLOSED ? "FIN from " :
			 who >= 0 ? "no progress, the second ClientHello dropped at " : "no progress",
			 v->breaking, who >= 0 && v->hops[who].oversize_drops ?
			 " (packets larger than its next-hop MTU, no ICMP back)" : "");
	} else if (cl->end == SD_VD_END_RESET) {
		v->outcome = SD_RESET;
		if (rst_hop >= 0)
			name_node(in, rst_hop, v->breaking, sizeof(v->breaking));
		else
			snprintf(v->breaking, sizeof(v->breaking), "server");
		snprintf(v->detail, sizeof(v->detail), "RST from %s after %zu of %zu client bytes reached %s%s%s",
			 v->breaking, v->delivered, v->sent, dest,
			 sv && sv->present && sv->error[0] ? "; server: " : "",
			 sv && sv->present ? sv->error : "");
	} else if (cl->end == SD_VD_END_CLOSED) {
		v->outcome = SD_CLOSED;
		if (fin_hop >= 0)
			name_node(in, fin_hop, v->breaking, sizeof(v->breaking));
		else
			snprintf(v->breaking, sizeof(v->breaking), "server");
		snprintf(v->detail, sizeof(v->detail), "FIN from %s before the handshake completed, no alert; %zu of %zu client bytes reached %s%s%s",
			 v->breaking, v->delivered, v->sent, dest,
			 sv && sv->present && sv->error[0] ? "; server: " : "",
			 sv && sv->present ? sv->error : "");
	} else if (frag_hop >= 0 || (in->ipfrag && v->delivered < v->sent && !reassembled)) {
		v->outcome = SD_FRAG_LOST;
		name_node(in, frag_hop >= 0 ? frag_hop : drop_hop, v->breaking, sizeof(v->breaking));
		snprintf(v->detail, sizeof(v->detail), "IP fragments sent (%zu) did not all arrive: dropped at %s",
			 v->ip_fragments, v->breaking);
	} else if (oversize_hop >= 0 && (!v->icmp_reached_client || icmp_ignored)) {
		struct sd_vd_hop *hop = &v->hops[oversize_hop];

		v->outcome = SD_BLACKHOLE;
		name_node(in, oversize_hop, v->breaking, sizeof(v->breaking));
		snprintf(v->detail, sizeof(v->detail),
			 "%u packet%s larger than %s's next-hop MTU %u dropped there; %s; %zu of %zu client bytes reached the server",
			 hop->oversize_drops, hop->oversize_drops == 1 ? "" : "s", v->breaking,
			 hop->mtu_out,
			 icmp_ignored ? "its ICMP errors reached the client, which ignored them (no-pmtud)" :
			 hop->icmp_filtered ? "its own filter dropped the ICMP frag-needed it generated" :
			 hop->icmp_sent ? "its ICMP errors were filtered before reaching the client" :
			 "no ICMP error was sent back",
			 v->delivered, v->sent);
	} else if (v->delivered < v->sent && v->delivered > 0) {
		v->outcome = SD_TRUNCATED;
		name_node(in, drop_hop, v->breaking, sizeof(v->breaking));
		snprintf(v->detail, sizeof(v->detail),
			 "%s received %zu of %zu bytes; the rest never arrived (first missing byte %lld: %s)",
			 dest, v->delivered, v->sent, v->first_missing, v->field[0] ? v->field : "?");
	} else {
		v->outcome = SD_STALL;
		if (drop_hop >= 0) {
			name_node(in, drop_hop, v->breaking, sizeof(v->breaking));
			snprintf(v->detail, sizeof(v->detail),
				 "no progress: client data last seen entering %s; %zu of %zu bytes reached %s",
				 v->breaking, v->delivered, v->sent, dest);
		} else if (v->delivered >= v->sent) {
			if (in->proxy_hop)
				name_node(in, (int)in->proxy_hop - 1, v->breaking, sizeof(v->breaking));
			else
				snprintf(v->breaking, sizeof(v->breaking), "server");
			snprintf(v->detail, sizeof(v->detail),
				 "no progress: the whole client flight (%zu bytes) reached %s, which %s",
				 v->sent, dest, cl->server_bytes ? "stopped before a ServerHello" : "never answered");
		} else {
			snprintf(v->detail, sizeof(v->detail), "no progress: %zu of %zu bytes reached %s",
				 v->delivered, v->sent, dest);
		}
	}
	if (cl->end == SD_VD_END_APP_FAIL && v->outcome == SD_STALL) {
		snprintf(tmp, sizeof(tmp), "%s", "client");
		snprintf(v->detail, sizeof(v->detail), "the TLS exchange failed: %s", cl->why);
		v->outcome = SD_ERROR;
		(void)tmp;
	}
	sd_flowset_free(&srvset);
	sd_flowset_free(&cliset);
	free(f);
}

void sd_verdict_json(struct sd_json *j, const struct sd_verdict *v)
{
	sd_json_kstr(j, "outcome", sd_outcome_name(v->outcome));
	sd_json_key(j, "detail");
	sd_json_obj_open(j);
	sd_json_kstr(j, "text", v->detail);
	sd_json_kstr(j, "breaking", v->breaking[0] ? v->breaking : NULL);
	sd_json_kbool(j, "icmp_reached_client", v->icmp_reached_client);
	sd_json_obj_close(j);
	sd_json_key(j, "truncation");
	sd_json_obj_open(j);
	sd_json_kint(j, "sent", (long long)v->sent);
	sd_json_kint(j, "delivered", (long long)v->delivered);
	sd_json_key(j, "first_missing_offset");
	if (v->first_missing >= 0)
		sd_json_int(j, v->first_missing);
	else
		sd_json_null(j);
	sd_json_kstr(j, "field", v->field[0] ? v->field : NULL);
	sd_json_obj_close(j);
	sd_json_key(j, "hops");
	sd_json_arr_open(j);
	for (size_t i = 0; i < v->nhops; i++) {
		const struct sd_vd_hop *h = &v->hops[i];

		sd_json_obj_open(j);
		sd_json_kstr(j, "name", h->name);
		sd_json_kint(j, "mtu", h->mtu_out);
		sd_json_kint(j, "mtu_in", h->mtu_in);
		for (int d = 0; d < 2; d++) {
			sd_json_key(j, d == 0 ? "client_to_server" : "server_to_client");
			sd_json_obj_open(j);
			sd_json_kint(j, "packets_in", h->pkts_in[d]);
			sd_json_kint(j, "bytes_in", (long long)h->bytes_in[d]);
			sd_json_kint(j, "packets_out", h->pkts_out[d]);
			sd_json_kint(j, "bytes_out", (long long)h->bytes_out[d]);
			sd_json_kint(j, "drops", h->drops[d]);
			sd_json_obj_close(j);
		}
		sd_json_kint(j, "oversize_drops", h->oversize_drops);
		sd_json_kint(j, "icmp_too_big_sent", h->icmp_sent);
		sd_json_kint(j, "icmp_filtered", h->icmp_filtered);
		sd_json_kint(j, "fragments_in", h->frags_in);
		sd_json_kint(j, "fragments_out", h->frags_out);
		sd_json_kint(j, "rst_injected", h->rst_injected);
		sd_json_kint(j, "alerts_injected", h->alerts_injected);
		sd_json_obj_close(j);
	}
	sd_json_arr_close(j);
}

/* ---- the ladder ---------------------------------------------------------- */

struct row {
	size_t first;             /* index of its first sighting in f[] */
	uint32_t seen;            /* bit per link */
	uint64_t points;          /* bit per observation point (node, side, direction) */
};

static int point_of(const struct fpkt *f)
{
	return (f->raw->node * 4 + f->raw->side * 2 + (f->raw->out ? 1 : 0)) & 63;
}

/* The link a sighting observes, or -1. */
static int link_of(const struct sd_vd_input *in, const struct fpkt *f)
{
	const struct sd_vd_pkt *r = f->raw;
	int n = (int)in->nhops;

	if (r->node == n)
		return n;     /* the server's s0 is link N */
	return r->side == 0 ? r->node : r->node + 1;
}

static void describe(const struct sd_vd_input *in, const struct fpkt *f, uint32_t cisn,
		     uint32_t sisn, char *out, size_t n)
{
	const struct sd_pkt *p = &f->p;
	char a[SD_ADDR_STRLEN];
	int w = 0;

	if (f->icmp_err) {
		if (sd_addr_format(in->family, p->src, a, sizeof(a)) < 0)
			snprintf(a, sizeof(a), "?");
		if (f->toobig)
			snprintf(out, n, "ICMP %s mtu %u from %s",
				 in->family == 4 ? "frag-needed" : "packet-too-big", p->icmp.mtu, a);
		else
			snprintf(out, n, "ICMP type %u code %u from %s", p->icmp.type, p->icmp.code, a);
		return;
	}
	if (p->frag) {
		snprintf(out, n, "IP fragment id %u offset %u, %zu bytes%s", p->frag_id, p->frag_off,
			 p->l4_wire_len, p->mf ? ", more" : "");
		return;
	}
	{
		uint8_t fl = p->tcp.flags;
		uint32_t base = f->dir == 0 ? cisn : sisn;

		w = snprintf(out, n, "%s%s%s%s%s", fl & SD_TCP_SYN ? "SYN " : "", fl & SD_TCP_RST ? "RST " : "",
			     fl & SD_TCP_FIN ? "FIN " : "", fl & SD_TCP_PSH ? "PSH " : "",
			     fl & SD_TCP_ACK ? "ACK" : "");
		if (w < 0 || (size_t)w >= n)
			return;
		if (w > 0 && out[w - 1] == ' ')
			out[--w] = 0;
		if (fl & SD_TCP_SYN && p->tcp.opt.has_mss)
			w += snprintf(out + w, n - (size_t)w, " mss %u", p->tcp.opt.mss);
		if (p->payload_wire_len && (size_t)w < n)
			w += snprintf(out + w, n - (size_t)w, " %zu bytes at %u", p->payload_wire_len,
				      p->tcp.seq - base - 1);
		if (p->payload_len >= 1 && p->tcp.seq - base - 1 == 0 && (size_t)w < n && p->payload[0] == 22)
			snprintf(out + w, n - (size_t)w, " (TLS handshake)");
		else if (carries_alert(p) && (size_t)w < n)
			snprintf(out + w, n - (size_t)w, " (TLS alert)");
	}
}

int sd_verdict_ladder_build(const struct sd_vd_input *in, struct sd_ladder *l)
{
	struct fpkt *f = NULL;
	struct row *rows = NULL;
	size_t nrows = 0;
	uint32_t cisn = 0, sisn = 0;
	uint64_t t0;
	int nlinks = (int)in->nhops + 1, ret = 0;

	memset(l, 0, sizeof(*l));
	if (nlinks > SD_VD_MAX_HOPS + 1)
		nlinks = SD_VD_MAX_HOPS + 1;
	l->nlinks = (size_t)nlinks;
	for (int k = 0; k < nlinks; k++) {
		snprintf(l->link_name[k], sizeof(l->link_name[k]), "%s",
			 k < (int)in->nhops ? in->hop_names[k] : "server");
		l->link_mtu[k] = in->link_mtu[k];
	}
	if (!in->npkts)
		return 0;
	f = calloc(in->npkts, sizeof(*f));
	rows = calloc(in->npkts, sizeof(*rows));
	if (!f || !rows) {
		ret = -ENOMEM;
		goto done;
	}
	for (size_t i = 0; i < in->npkts; i++) {
		f[i].raw = &in->pkts[i];
		f[i].dir = -1;
		if (sd_pkt_decode(SD_LINKTYPE_ETHERNET, in->pkts[i].frame, in->pkts[i].len, &f[i].p) < 0)
			continue;
		f[i].dir = classify(in, &f[i]);
		if (f[i].dir < 0 || f[i].icmp_err || f[i].p.frag || !(f[i].p.tcp.flags & SD_TCP_SYN))
			continue;
		if (f[i].dir == 0)
			cisn = f[i].p.tcp.seq;
		else
			sisn = f[i].p.tcp.seq;
	}
	for (size_t i = 0; i < in->npkts; i++) {
		int lk;
		size_t k;

		if (f[i].dir < 0)
			continue;
		lk = link_of(in, &f[i]);
		if (lk < 0 || lk >= nlinks || lk >= 32)
			continue;
		for (k = 0; k < nrows; k++) {
			const struct fpkt *g = &f[rows[k].first];

			/* A second sighting at the same point is another
			 * transmission (a retransmission or a duplicate). */
			if (g->icmp_err == f[i].icmp_err && same_packet(g, &f[i]) &&
			    !(rows[k].points & (1ull << point_of(&f[i]))))
				break;
		}
		if (k == nrows) {
			rows[nrows].first = i;
			nrows++;
		}
		rows[k].seen |= 1u << lk;
		rows[k].points |= 1ull << point_of(&f[i]);
	}
	if (!nrows)
		goto done;
	l->more = nrows > SD_LADDER_MAX_ROWS ? nrows - SD_LADDER_MAX_ROWS : 0;
	l->rows = calloc(nrows - l->more, sizeof(*l->rows));
	if (!l->rows) {
		ret = -ENOMEM;
		goto done;
	}
	t0 = in->pkts[rows[0].first].ts_ns;
	for (size_t k = 0; k < nrows - l->more; k++) {
		const struct fpkt *g = &f[rows[k].first];
		struct sd_ladder_row *lr = &l->rows[l->nrows++];
		bool started = false;

		lr->t_us = (g->raw->ts_ns - t0) / 1000;
		lr->dir = g->dir == 0 ? 0 : 1;
		describe(in, g, cisn, sisn, lr->what, sizeof(lr->what));
		/* Per link: seen, lost after being seen (the first link it
		 * never reached, in its direction), or not on that stretch. */
		for (int c = 0; c < nlinks; c++) {
			bool s = rows[k].seen & (1u << c);

			if (s) {
				lr->at[c] = SD_LADDER_SEEN;
				started = true;
			} else if (g->dir == 0 && started) {
				lr->at[c] = SD_LADDER_LOST;
				started = false;
			} else if (g->dir == 1 && !started && c > 0 && (rows[k].seen >> c)) {
				lr->at[c] = SD_LADDER_LOST;
			} else {
				lr->at[c] = SD_LADDER_NONE;
			}
		}
	}
done:
	free(f);
	free(rows);
	if (ret < 0)
		sd_ladder_free(l);
	return ret;
}

void sd_ladder_free(struct sd_ladder *l)
{
	free(l->rows);
	l->rows = NULL;
	l->nrows = 0;
}

void sd_ladder_text(const struct sd_ladder *l, size_t max_rows, char *out, size_t n)
{
	static const char *const mark[] = { "          ", "    ●     ", "    ✗     " };
	size_t w = 0;

#define OUT(...) do { \
	int k_ = snprintf(out + w, n > w ? n - w : 0, __VA_ARGS__); \
	if (k_ > 0) w += (size_t)k_; \
	if (w >= n) { w = n ? n - 1 : 0; } \
} while (0)

	if (!n)
		return;
	out[0] = 0;
	if (!l->nrows)
		return;
	OUT("      ms      ");
	OUT(" client");
	for (size_t k = 0; k < l->nlinks; k++)
		OUT(" %-9s", l->link_name[k]);
	OUT("\n              ");
	for (size_t k = 0; k < l->nlinks; k++)
		OUT("  ─%-4u─▶ ", l->link_mtu[k]);
	OUT("\n");
	for (size_t i = 0; i < l->nrows; i++) {
		const struct sd_ladder_row *r = &l->rows[i];

		if (i == max_rows) {
			OUT("  ... %zu more packets\n", l->nrows - i + l->more);
			return;
		}
		OUT("  %9.3f  %s ", (double)r->t_us / 1e3, r->dir == 0 ? "→" : "←");
		for (size_t k = 0; k < l->nlinks; k++)
			OUT("%s", mark[r->at[k] <= SD_LADDER_LOST ? r->at[k] : 0]);
		OUT(" %s\n", r->what);
	}
	if (l->more)
		OUT("  ... %zu more packets\n", l->more);
#undef OUT
}

void sd_ladder_json(struct sd_json *j, const struct sd_ladder *l)
{
	static const char *const at[] = { "none", "seen", "lost" };

	sd_json_obj_open(j);
	sd_json_key(j, "links");
	sd_json_arr_open(j);
	for (size_t k = 0; k < l->nlinks; k++) {
		sd_json_obj_open(j);
		sd_json_kstr(j, "name", l->link_name[k]);
		sd_json_kint(j, "mtu", l->link_mtu[k]);
		sd_json_obj_close(j);
	}
	sd_json_arr_close(j);
	sd_json_key(j, "rows");
	sd_json_arr_open(j);
	for (size_t i = 0; i < l->nrows; i++) {
		const struct sd_ladder_row *r = &l->rows[i];

		sd_json_obj_open(j);
		sd_json_kint(j, "t_us", (long long)r->t_us);
		sd_json_kstr(j, "dir", r->dir == 0 ? "c2s" : "s2c");
		sd_json_key(j, "at");
		sd_json_arr_open(j);
		for (size_t k = 0; k < l->nlinks; k++)
			sd_json_str(j, at[r->at[k] <= SD_LADDER_LOST ? r->at[k] : 0]);
		sd_json_arr_close(j);
		sd_json_kstr(j, "what", r->what);
		sd_json_obj_close(j);
	}
	sd_json_arr_close(j);
	sd_json_kint(j, "more", (long long)l->more);
	sd_json_obj_close(j);
}

void sd_verdict_ladder(const struct sd_vd_input *in, char *out, size_t n)
{
	struct sd_ladder l;

	if (n)
		out[0] = 0;
	if (sd_verdict_ladder_build(in, &l) < 0)
		return;
	sd_ladder_text(&l, 80, out, n);
	sd_ladder_free(&l);
}
