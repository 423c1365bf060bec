/* SPDX-License-Identifier: MIT */
/*
 * The user-space middlebox engine with real packets through real
 * namespaces: whole cells through sd_lab_open / sd_lab_run (a real OpenSSL
 * server, the verdict from every hop's captures), and raw UDP frames
 * through a bare topology for what a cell cannot pin down (TTL, MACs,
 * checksums, fragmentation, ICMP, the same drops from the same seed).
 *
 *          link0 10.0.0.0/24                   link1 10.0.1.0/24
 *                fd00::/64                           fd00:0:0:1::/64
 *  +------------------+           +----------------------+          +-------------------+
 *  | client           | c0 -- h1l | hop "us"             | h1r -- s0 | server            |
 *  | engine (AF_PACKET)|  .1   .2 | ip_forward 0         | .1     .2 | OpenSSL TLS 1.3   |
 *  | or UDP generator |           | forwarding 0 (IPv6)  |           | (cells), or UDP   |
 *  | + capture        |           | no nft table         |           | :9000 + AF_PACKET |
 *  |                  |           | mbox thread: one     |           | sink (frames)     |
 *  |                  |           | AF_PACKET socket on  |           |                   |
 *  |                  |           | both sides           |           |                   |
 *  +------------------+           +----------------------+          +-------------------+
 *
 * The kernel-forwarded twin of a path (no user-space behaviour) is the
 * baseline a clean user-space hop must match.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "check.h"
#include "shakedown/engine.h"
#include "shakedown/lab.h"
#include "shakedown/mbox.h"
#include "shakedown/netns.h"
#include "shakedown/path.h"
#include "shakedown/pkt.h"
#include "shakedown/profile.h"
#include "shakedown/topo.h"

#define UDP_PORT 9000

static struct sd_profile chrome;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int parse_path(const char *name, const char *behaviours, struct sd_path *p)
{
	char text[512];
	struct sd_path_error err;
	int ret;

	snprintf(text, sizeof(text), "[path]\ndescription = %s\n[hop us]\nbehaviours = %s\n", name,
		 behaviours);
	ret = sd_path_parse(text, strlen(text), name, p, &err);
	if (ret < 0)
		fprintf(stderr, "path %s: line %d: %s\n", name, err.line, err.msg);
	return ret;
}

/* ---- cells ------------------------------------------------------------------ */

struct lab_run {
	struct sd_lab *lab;
	struct sd_path path;
	bool ipv6;
};

static int lab_up(struct lab_run *l, const char *name, const char *behaviours, bool ipv6)
{
	struct sd_lab_opts o = { .ipv6 = ipv6 };
	char err[400] = "";
	int ret;

	l->lab = NULL;
	l->ipv6 = ipv6;
	if ((ret = parse_path(name, behaviours, &l->path)) < 0)
		return ret;
	ret = sd_lab_open(&l->path, &o, &l->lab, err, sizeof(err));
	if (ret < 0)
		fprintf(stderr, "lab %s: %s\n", name, err);
	return ret;
}

static int cell_shaped(struct lab_run *l, const struct sd_profile *prof, const char *shape,
		       const char *seed, struct sd_cell_result *r)
{
	struct sd_cell c = { .profile = prof, .seed = seed, .ipv6 = l->ipv6 };
	char err[400] = "";
	int ret;

	if ((ret = sd_shape_parse(shape, &c.shape, err, sizeof(err))) < 0) {
		fprintf(stderr, "shape %s: %s\n", shape, err);
		return ret;
	}
	ret = sd_lab_run(l->lab, &c, r, err, sizeof(err));
	if (ret < 0)
		fprintf(stderr, "cell %s/%s: %s\n", l->path.name, seed, err);
	else if (getenv("TEST_VERBOSE"))
		fprintf(stderr, "%s/%s: %s (%s) %s\n%s\n", l->path.name, seed, sd_outcome_name(r->v.outcome),
			r->v.breaking, r->v.detail, r->ladder);
	return ret;
}

static int cell(struct lab_run *l, const char *seed, struct sd_cell_result *r)
{
	return cell_shaped(l, &chrome, NULL, seed, r);
}

/* A clean user-space hop: ok, and the client's segments are the kernel's. */
static void test_clean(void)
{
	static struct sd_cell_result k, u, u6;
	struct lab_run kl, ul, ul6;

	CHECK_INT(lab_up(&kl, "kernel", "mtu:1500", false), 0);
	if (!kl.lab)
		return;
	CHECK_INT(cell(&kl, "same", &k), 0);
	sd_lab_close(kl.lab);
	CHECK_INT(lab_up(&ul, "user", "userspace", false), 0);
	if (!ul.lab)
		return;
	CHECK_INT(cell(&ul, "same", &u), 0);
	CHECK_INT(k.v.outcome, SD_OK);
	CHECK_INT(u.v.outcome, SD_OK);
	CHECK(!k.mbox_present[0]);
	CHECK(u.mbox_present[0]);
	CHECK_INT(u.client.nsegs, k.client.nsegs);
	for (size_t i = 0; i < u.client.nsegs && i < k.client.nsegs; i++) {
		CHECK_INT(u.client.segs[i].offset, k.client.segs[i].offset);
		CHECK_INT(u.client.segs[i].len, k.client.segs[i].len);
	}
	/* Everything in came out, in both directions, as through the kernel. */
	for (int d = 0; d < 2; d++) {
		CHECK_INT(u.v.hops[0].drops[d], 0);
		CHECK_INT(u.v.hops[0].pkts_in[d], u.v.hops[0].pkts_out[d]);
		CHECK(u.v.hops[0].pkts_in[d] > 0);
		CHECK_INT(k.v.hops[0].drops[d], 0);
	}
	CHECK_INT(u.v.hops[0].rst_injected, 0);
	CHECK(u.mbox[0].forwarded >= u.v.hops[0].pkts_out[0] + u.v.hops[0].pkts_out[1]);
	CHECK_INT(u.mbox[0].drop_mtu + u.mbox[0].drop_loss + u.mbox[0].drop_pool + u.mbox[0].drop_tx, 0);
	/* A second cell on the same lab starts clean. */
	sd_cell_result_free(&u);
	CHECK_INT(cell(&ul, "again", &u), 0);
	CHECK_INT(u.v.outcome, SD_OK);
	CHECK_INT(u.mbox[0].flows, 0);   /* no flow state without behaviours that need it */
	sd_lab_close(ul.lab);
	sd_cell_result_free(&k);
	sd_cell_result_free(&u);

	CHECK_INT(lab_up(&ul6, "user6", "userspace", true), 0);
	if (!ul6.lab)
		return;
	CHECK_INT(cell(&ul6, "v6", &u6), 0);
	CHECK_INT(u6.v.outcome, SD_OK);
	CHECK_INT(u6.v.hops[0].drops[0] + u6.v.hops[0].drops[1], 0);
	sd_lab_close(ul6.lab);
	sd_cell_result_free(&u6);
}

/* MTU enforcement: a black hole with icmp-filter, PMTUD without. */
static void test_mtu(void)
{
	static struct sd_cell_result r;
	struct lab_run l;

	CHECK_INT(lab_up(&l, "bh", "userspace mtu:1280 icmp-filter", false), 0);
	if (!l.lab)
		return;
	CHECK_INT(cell(&l, "bh", &r), 0);
	CHECK_INT(r.v.outcome, SD_BLACKHOLE);
	CHECK_STR(r.v.breaking, "us");
	CHECK(r.v.hops[0].oversize_drops > 0);
	CHECK(r.v.hops[0].icmp_filtered > 0);
	CHECK(!r.v.icmp_reached_client);
	CHECK(r.mbox[0].drop_mtu > 0);
	CHECK_INT(r.mbox[0].icmp_sent, 0);
	sd_lab_close(l.lab);
	sd_cell_result_free(&r);

	for (int v6 = 0; v6 < 2; v6++) {
		CHECK_INT(lab_up(&l, v6 ? "pmtud6" : "pmtud", "userspace mtu:1300", v6), 0);
		if (!l.lab)
			return;
		CHECK_INT(cell(&l, "pmtud", &r), 0);
		CHECK_INT(r.v.outcome, SD_OK);
		CHECK(r.v.icmp_reached_client);
		CHECK(r.client.npmtu >= 1);
		if (r.client.npmtu >= 1) {
			uint8_t hop_addr[16] = { 10, 0, 0, 2 };

			if (v6) {
				memset(hop_addr, 0, 16);
				hop_addr[0] = 0xfd;
				hop_addr[15] = 2;
			}
			CHECK_INT(r.client.pmtu[0].mtu, 1300);
			CHECK_MEM(r.client.pmtu[0].from, hop_addr, v6 ? 16 : 4);
		}
		CHECK(r.v.hops[0].icmp_sent > 0);
		CHECK(r.mbox[0].icmp_sent > 0);
		sd_lab_close(l.lab);
		sd_cell_result_free(&r);
	}
}

/* delay shows in the exchange time; loss:100 stalls at the hop. */
static void test_delay_loss(void)
{
	static struct sd_cell_result r;
	struct lab_run l;

	CHECK_INT(lab_up(&l, "slow", "delay:50", false), 0);
	if (!l.lab)
		return;
	CHECK_INT(cell(&l, "slow", &r), 0);
	CHECK_INT(r.v.outcome, SD_OK);
	/* Two round trips at least (SYN, then the flight), 100 ms each. */
	CHECK(r.t_exchange_ms >= 200);
	CHECK(r.t_exchange_ms < 2000);
	CHECK(r.mbox[0].delayed > 0);
	CHECK_INT(r.mbox[0].held, 0);
	sd_lab_close(l.lab);
	sd_cell_result_free(&r);

	CHECK_INT(lab_up(&l, "lossy", "userspace loss:100", false), 0);
	if (!l.lab)
		return;
	CHECK_INT(cell(&l, "lossy", &r), 0);
	CHECK(r.v.outcome == SD_STALL || r.v.outcome == SD_BLACKHOLE);
	CHECK_STR(r.v.breaking, "us");
	CHECK_INT(r.v.delivered, 0);
	CHECK(r.mbox_present[0]);
	CHECK(r.mbox[0].drop_loss > 0);
	CHECK_INT(r.mbox[0].forwarded, 0);
	sd_lab_close(l.lab);
	sd_cell_result_free(&r);
}

/* truncate-segment: the server gets a strict prefix, the hop is named. */
static void test_truncate(void)
{
	static struct sd_cell_result r;
	struct lab_run l;

	CHECK_INT(lab_up(&l, "cut", "truncate-segment:1000", false), 0);
	if (!l.lab)
		return;
	CHECK_INT(cell(&l, "cut", &r), 0);
	CHECK(r.v.outcome == SD_TRUNCATED || r.v.outcome == SD_MANGLED);
	CHECK_STR(r.v.breaking, "us");
	CHECK_INT(r.v.delivered, 1000);
	CHECK_INT(r.v.first_missing, 1000);
	CHECK_INT(r.mbox[0].truncated, 1);
	CHECK(r.mbox[0].drop_truncate > 0);
	CHECK_INT(r.mbox[0].flows, 1);
	sd_cell_result_free(&r);
	/* The same cut when the segment comes in IP fragments: reassembled,
	 * cut, and sent on as one shorter datagram. */
	CHECK_INT(cell_shaped(&l, &chrome, "ipfrag:600", "cut-frag", &r), 0);
	CHECK(r.v.outcome == SD_TRUNCATED || r.v.outcome == SD_MANGLED);
	CHECK_INT(r.v.delivered, 1000);
	CHECK_INT(r.mbox[0].truncated, 1);
	CHECK(r.mbox[0].reassembled >= 1);
	sd_lab_close(l.lab);
	sd_cell_result_free(&r);
}

/* Duplication and reordering: TCP copes, the verdict stays ok. */
static void test_dup_reorder(void)
{
	static struct sd_cell_result r;
	struct lab_run l;

	CHECK_INT(lab_up(&l, "messy", "dup:50 reorder:50 jitter:2", false), 0);
	if (!l.lab)
		return;
	for (int i = 0; i < 3; i++) {
		char seed[16];

		snprintf(seed, sizeof(seed), "messy%d", i);
		CHECK_INT(cell(&l, seed, &r), 0);
		CHECK(r.v.outcome == SD_OK || r.v.outcome == SD_OK_HRR);
		CHECK(r.mbox[0].duplicated > 0);
		CHECK(r.mbox[0].reordered > 0);
		sd_cell_result_free(&r);
	}
	sd_lab_close(l.lab);
}

/* One cell through an emulated device: its outcome, attributed to the hop. */
static bool device(const char *behaviours, const struct sd_profile *prof, const char *shape,
		   enum sd_outcome want, int kind, struct sd_cell_result *r)
{
	struct lab_run l;
	int ret;

	CHECK_INT(lab_up(&l, "device", behaviours, false), 0);
	if (!l.lab)
		return false;
	ret = cell_shaped(&l, prof, shape, behaviours, r);
	sd_lab_close(l.lab);
	CHECK_INT(ret, 0);
	if (ret < 0)
		return false;
	if (r->v.outcome != want)
		fprintf(stderr, "%s: %s, want %s: %s\n", behaviours, sd_outcome_name(r->v.outcome),
			sd_outcome_name(want), r->v.detail);
	CHECK_INT(r->v.outcome, want);
	CHECK_INT(r->mbox[0].insp_kind, kind);
	if (want != SD_OK)
		CHECK_STR(r->v.breaking, "us");
	return true;
}

/*
 * The inspector's verdicts carried out on the wire: forged RSTs, FINs and
 * alerts that each end accepts (the server's socket says how it ended),
 * seen by the captures leaving the hop without having entered it.
 */
static void test_inspect(void)
{
	static struct sd_cell_result r;
	struct sd_profile classic;
	struct sd_profile_error perr;

	CHECK_INT(sd_profile_builtin("classic", &classic, &perr), 0);
	if (device("first-segment-parse", &chrome, NULL, SD_RESET, SD_INSP_FIRST_SEGMENT_PARSE, &r)) {
		CHECK_INT(r.mbox[0].insp_act, SD_INSP_RESET);
		CHECK(r.mbox[0].rst_forged >= 2);
		CHECK(r.v.hops[0].rst_injected >= 2);
		CHECK(r.eng.rst_seen && r.eng.rst_exact);
		CHECK(r.conn_present && r.conn.end == SD_END_CLIENT_RST);
		CHECK_INT(r.v.delivered, 0);
		sd_cell_result_free(&r);
	}
	if (device("buffer-limit:1024", &chrome, NULL, SD_RESET, SD_INSP_BUFFER_LIMIT, &r)) {
		CHECK(r.v.hops[0].rst_injected >= 2);
		CHECK(r.conn_present && r.conn.end == SD_END_CLIENT_RST);
		sd_cell_result_free(&r);
	}
	/* A hello that fits: the device parses it and lets it through. */
	if (device("buffer-limit:1024 first-segment-parse", &classic, NULL, SD_OK, -1, &r)) {
		CHECK_INT(r.v.hops[0].rst_injected, 0);
		CHECK_INT(r.mbox[0].flows, 1);
		sd_cell_result_free(&r);
	}
	if (device("unknown-group-alert", &chrome, NULL, SD_ALERT, SD_INSP_UNKNOWN_GROUP_ALERT, &r)) {
		CHECK_INT(r.client.alert_desc, 47);
		CHECK_INT(r.v.hops[0].alerts_injected, 1);
		CHECK_INT(r.mbox[0].alerts_forged, 1);
		CHECK(r.conn_present && r.conn.end == SD_END_CLIENT_RST);
		sd_cell_result_free(&r);
	}
	if (device("grease-intolerant", &chrome, NULL, SD_CLOSED, SD_INSP_GREASE_INTOLERANT, &r)) {
		CHECK_INT(r.mbox[0].fin_forged, 2);
		CHECK(r.conn_present && r.conn.end == SD_END_CLIENT_FIN);
		sd_cell_result_free(&r);
	}
	if (device("partial-hello-drop", &chrome, NULL, SD_STALL, SD_INSP_PARTIAL_HELLO_DROP, &r)) {
		CHECK_INT(r.v.hops[0].rst_injected, 0);
		CHECK(r.mbox[0].drop_inspect > 0);
		sd_cell_result_free(&r);
	}
	/* IP fragments are reassembled first: the device judges the segment
	 * they carry, as a firewall with conntrack does. */
	if (device("first-segment-parse", &chrome, "ipfrag:600", SD_RESET, SD_INSP_FIRST_SEGMENT_PARSE, &r)) {
		CHECK(r.mbox[0].reassembled >= 1);
		CHECK_INT(r.mbox[0].drop_reassembly, 0);
		CHECK(r.v.hops[0].frags_in >= 3);
		CHECK_INT(r.v.hops[0].frags_out, 0);      /* the datagram that failed never left */
		sd_cell_result_free(&r);
	}
	/* A fragmented hello that passes leaves as it came: the same fragments. */
	if (device("buffer-limit:1024 first-segment-parse", &classic, "ipfrag:200", SD_OK, -1, &r)) {
		CHECK_INT(r.mbox[0].reassembled, 1);
		CHECK_INT(r.v.hops[0].frags_in, 3);
		CHECK_INT(r.v.hops[0].frags_out, 3);
		CHECK_INT(r.v.delivered, r.v.sent);
		sd_cell_result_free(&r);
	}
	/* Decided by a timer, between two segments 60 ms apart. */
	if (device("peek-timeout:20", &chrome, "gap:60", SD_RESET, SD_INSP_PEEK_TIMEOUT, &r)) {
		CHECK(r.conn_present && r.conn.end == SD_END_CLIENT_RST);
		sd_cell_result_free(&r);
	}
}

/* ---- raw frames through a bare topology ------------------------------------------ */

struct rig {
	struct sd_path path;
	struct sd_topo *t;
	struct sd_mbox *m;
	int gen;           /* AF_PACKET on c0, in the client namespace: sends, and sees what comes back */
	int sink;          /* AF_PACKET on s0 */
	int udp;           /* the server's UDP socket: no port-unreachable back */
};

struct fd_req {
	int ifindex;
	int fd;
};

static int open_gen(void *arg)
{
	struct fd_req *r = arg;

	r->fd = sd_engine_socket_open(r->ifindex);
	return r->fd < 0 ? r->fd : 0;
}

static int open_server(void *arg)
{
	struct fd_req *r = arg;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(UDP_PORT) };

	r->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (r->fd < 0)
		return -errno;
	return bind(r->fd, (struct sockaddr *)&a, sizeof(a)) < 0 ? -errno : 0;
}

static int rig_open(struct rig *g, const char *behaviours)
{
	struct sd_topo_error terr;
	struct fd_req gr = { .fd = -1 }, sr = { .fd = -1 }, ur = { .fd = -1 };
	int ret;

	memset(g, 0, sizeof(*g));
	g->gen = g->sink = g->udp = -1;
	if ((ret = parse_path("rig", behaviours, &g->path)) < 0)
		return ret;
	ret = sd_topo_open(&g->path, SD_TOPO_NO_IPV6, &g->t, &terr);
	if (ret < 0) {
		fprintf(stderr, "rig: %s\n", terr.step);
		return ret;
	}
	gr.ifindex = g->t->client_ifindex;
	sr.ifindex = g->t->link[1].end[SD_TOPO_RIGHT].ifindex;
	if ((ret = sd_mbox_open(g->t, 1, &g->path.hop[0], &g->m)) < 0 ||
	    (ret = sd_netns_run(g->t->client_ns, open_gen, &gr)) < 0 ||
	    (ret = sd_netns_run(g->t->server_ns, open_gen, &sr)) < 0 ||
	    (ret = sd_netns_run(g->t->server_ns, open_server, &ur)) < 0) {
		if (gr.fd >= 0)
			close(gr.fd);
		if (sr.fd >= 0)
			close(sr.fd);
		if (ur.fd >= 0)
			close(ur.fd);
		return ret;
	}
	g->gen = gr.fd;
	g->sink = sr.fd;
	g->udp = ur.fd;
	return 0;
}

static void rig_close(struct rig *g)
{
	if (g->gen >= 0)
		close(g->gen);
	if (g->sink >= 0)
		close(g->sink);
	if (g->udp >= 0)
		close(g->udp);
	sd_mbox_close(g->m);
	sd_topo_close(g->t);
}

/* A UDP frame from the engine's address to the server, payload = its number. */
static int send_udp(struct rig *g, uint32_t n, size_t len, uint8_t ttl, bool df)
{
	struct sd_buf b = SD_BUF_INIT;
	struct sd_ip_spec ip;
	uint8_t pl[2000];
	int ret;

	memset(&ip, 0, sizeof(ip));
	memset(pl, 0xab, sizeof(pl));
	ip.family = 4;
	ip.ttl = ttl;
	ip.df = df;
	ip.id = (uint16_t)n;
	memcpy(ip.src, g->t->engine4, 4);
	memcpy(ip.dst, g->t->server4, 4);
	memcpy(pl, &n, 4);
	if ((ret = sd_build_eth(&b, g->t->gateway_mac, g->t->client_mac, SD_ETHERTYPE_IPV4)) >= 0 &&
	    (ret = sd_build_udp(&b, &ip, 40000, UDP_PORT, pl, len)) >= 0)
		ret = send(g->gen, b.data, b.len, 0) < 0 ? -errno : 0;
	sd_buf_free(&b);
	return ret;
}

/*
 * Fragments of one TCP datagram (engine to server, 1000 payload bytes, IP
 * id), cut into 200-byte pieces; sends those whose bit is set in which.
 * Returns the number of fragments, or an error.
 */
static int send_tcp_frags(struct rig *g, uint16_t id, uint32_t which)
{
	struct sd_buf b = SD_BUF_INIT, fr = SD_BUF_INIT, eth = SD_BUF_INIT;
	struct sd_ip_spec ip;
	struct sd_tcp_spec tcp = { .sport = 40001, .dport = 443, .seq = 1000, .ack = 1,
				   .flags = SD_TCP_ACK | SD_TCP_PSH, .window = 64240 };
	uint8_t pl[1000];
	size_t ends[16], start = 0;
	int n, ret = 0;

	memset(&ip, 0, sizeof(ip));
	memset(pl, 0x16, sizeof(pl));
	ip.family = 4;
	ip.id = id;
	memcpy(ip.src, g->t->engine4, 4);
	memcpy(ip.dst, g->t->server4, 4);
	if ((n = sd_build_tcp(&b, &ip, &tcp, pl, sizeof(pl))) < 0 ||
	    (n = sd_ip4_fragment(&fr, b.data, b.len, 200, ends, 16)) < 0)
		goto out;
	for (int i = 0; i < n && ret == 0; i++) {
		sd_buf_reset(&eth);
		if ((which >> i) & 1) {
			if ((ret = sd_build_eth(&eth, g->t->gateway_mac, g->t->client_mac, SD_ETHERTYPE_IPV4)) < 0)
				break;
			sd_buf_put(&eth, fr.data + start, ends[i] - start);
			ret = send(g->gen, eth.data, eth.len, 0) < 0 ? -errno : 0;
		}
		start = ends[i];
	}
out:
	sd_buf_free(&b);
	sd_buf_free(&fr);
	sd_buf_free(&eth);
	return ret < 0 ? ret : n;
}

/* Frames on fd until it has been quiet for quiet_ms (at most 2 s). */
static size_t collect(int fd, uint8_t (*frames)[2048], size_t *lens, size_t max, int quiet_ms)
{
	double end = now_ms() + 2000;
	size_t n = 0;

	while (n < max && now_ms() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, quiet_ms) <= 0)
			break;
		r = recv(fd, frames[n], sizeof(frames[n]), MSG_DONTWAIT);
		if (r > 0)
			lens[n++] = (size_t)r;
	}
	return n;
}

static uint8_t frames[512][2048];
static size_t lens[512];

/* The numbers of the test frames that reached s0, in arrival order. */
static size_t arrived(struct rig *g, uint32_t *nums, size_t max)
{
	size_t n = collect(g->sink, frames, lens, 512, 60), k = 0;

	for (size_t i = 0; i < n && k < max; i++) {
		struct sd_pkt p;

		if (sd_pkt_decode(SD_LINKTYPE_ETHERNET, frames[i], lens[i], &p) == 0 &&
		    p.proto == SD_IPPROTO_UDP && p.udp.dport == UDP_PORT && p.payload_len >= 4)
			memcpy(&nums[k++], p.payload, 4);
	}
	return k;
}

/* The router's part: TTL, checksum, MACs, fragments, ICMP, time exceeded. */
static void test_router(void)
{
	struct rig g;
	uint8_t s0_mac[6], h1r_mac[6];
	size_t n;

	CHECK_INT(rig_open(&g, "userspace mtu:1300"), 0);
	if (!g.t) {
		rig_close(&g);
		return;
	}
	/* Kernel forwarding is off in the hop, and no nft table is there. */
	{
		char *text = NULL;

		CHECK(sd_topo_nft_list(g.t, 1, &text) >= 0);
		CHECK(text && !strstr(text, "table inet shakedown "));
		free(text);
		CHECK_INT(sd_topo_nft_rules(&g.path.hop[0], (char[64]){ 0 }, 64), 0);
	}
	memcpy(s0_mac, g.t->link[1].end[SD_TOPO_RIGHT].mac, 6);
	memcpy(h1r_mac, g.t->link[1].end[SD_TOPO_LEFT].mac, 6);
	CHECK_INT(sd_mbox_reset(g.m, "router"), 0);

	/* One small frame: TTL one less, checksums right, MACs of link1. */
	CHECK_INT(send_udp(&g, 1, 100, 64, true), 0);
	n = collect(g.sink, frames, lens, 8, 60);
	CHECK_INT(n, 1);
	if (n == 1) {
		struct sd_pkt p;

		CHECK_INT(sd_pkt_decode(SD_LINKTYPE_ETHERNET, frames[0], lens[0], &p), 0);
		CHECK_INT(p.ttl, 63);
		CHECK_INT(sd_pkt_checksum(&p), 0);
		CHECK_MEM(frames[0], s0_mac, 6);
		CHECK_MEM(frames[0] + 6, h1r_mac, 6);
	}
	/* Too big with DF: frag-needed from 10.0.0.2 with the next MTU. */
	CHECK_INT(send_udp(&g, 2, 1400, 64, true), 0);
	CHECK_INT(collect(g.sink, frames, lens, 8, 60), 0);
	n = collect(g.gen, frames, lens, 8, 60);
	CHECK_INT(n, 1);
	if (n == 1) {
		struct sd_pkt p;
		const uint8_t hop[4] = { 10, 0, 0, 2 };

		CHECK_INT(sd_pkt_decode(SD_LINKTYPE_ETHERNET, frames[0], lens[0], &p), 0);
		CHECK_INT(p.proto, SD_IPPROTO_ICMP);
		CHECK_INT(p.icmp.type, 3);
		CHECK_INT(p.icmp.code, 4);
		CHECK_INT(p.icmp.mtu, 1300);
		CHECK_MEM(p.src, hop, 4);
		CHECK_INT(sd_pkt_checksum(&p), 0);
		CHECK_INT(p.l3_wire_len, 576);
	}
	/* Too big without DF: fragments, as a kernel router. */
	CHECK_INT(send_udp(&g, 3, 1400, 64, false), 0);
	n = collect(g.sink, frames, lens, 8, 60);
	CHECK_INT(n, 2);
	for (size_t i = 0; i < n; i++) {
		struct sd_pkt p;

		CHECK_INT(sd_pkt_decode(SD_LINKTYPE_ETHERNET, frames[i], lens[i], &p), 0);
		CHECK(p.frag);
		CHECK(p.l3_wire_len <= 1300);
		CHECK_INT(p.ttl, 63);
	}
	/* TTL 1: time exceeded. */
	CHECK_INT(send_udp(&g, 4, 100, 1, true), 0);
	CHECK_INT(collect(g.sink, frames, lens, 8, 60), 0);
	n = collect(g.gen, frames, lens, 8, 60);
	CHECK_INT(n, 1);
	if (n == 1) {
		struct sd_pkt p;

		CHECK_INT(sd_pkt_decode(SD_LINKTYPE_ETHERNET, frames[0], lens[0], &p), 0);
		CHECK_INT(p.proto, SD_IPPROTO_ICMP);
		CHECK_INT(p.icmp.type, 11);
	}
	{
		struct sd_mbox_stats st;

		CHECK_INT(sd_mbox_stats(g.m, &st), 0);
		CHECK_INT(st.drop_mtu, 1);
		CHECK_INT(st.drop_ttl, 1);
		CHECK_INT(st.icmp_sent, 2);
		CHECK_INT(st.fragmented, 1);
	}
	rig_close(&g);
}

/* 200 frames through loss, dup and reorder; the numbers that arrive, in order. */
static size_t pattern(struct rig *g, const char *seed, uint32_t *nums, size_t max)
{
	if (sd_mbox_reset(g->m, seed) < 0)
		return 0;
	for (uint32_t i = 0; i < 200; i++) {
		struct timespec ts = { 0, 20 * 1000 };

		if (send_udp(g, i, 64, 64, true) < 0)
			return 0;
		/* Paced, so no frame is lost to a full queue: only to the dice. */
		nanosleep(&ts, NULL);
	}
	return arrived(g, nums, max);
}

/* The same seed, the same drops, copies and swaps; another seed, others. */
/*
 * Reassembly on raw frames: an inspecting hop holds a datagram's
 * fragments until it is whole, then sends them on as they came (in any
 * arrival order); one that never completes is dropped after 1 s.
 */
static void test_defrag(void)
{
	struct rig g;
	struct sd_mbox_stats st;
	size_t n;
	int nf;

	CHECK_INT(rig_open(&g, "first-segment-parse"), 0);
	if (!g.m) {
		rig_close(&g);
		return;
	}
	/* all six fragments, last first: held, then all six out */
	nf = send_tcp_frags(&g, 7001, 0x20);
	CHECK_INT(nf, 6);
	n = collect(g.sink, frames, lens, 64, 100);
	CHECK_INT(n, 0);
	CHECK_INT(send_tcp_frags(&g, 7001, 0x1f), 6);
	n = collect(g.sink, frames, lens, 64, 100);
	CHECK_INT(n, 6);
	/* the first five of another: held, never complete */
	CHECK_INT(send_tcp_frags(&g, 7002, 0x1f), 6);
	n = collect(g.sink, frames, lens, 64, 100);
	CHECK_INT(n, 0);
	CHECK_INT(sd_mbox_stats(g.m, &st), 0);
	CHECK_INT(st.reassembled, 1);
	CHECK_INT(st.drop_reassembly, 0);
	usleep(1200 * 1000);
	CHECK_INT(sd_mbox_stats(g.m, &st), 0);
	CHECK_INT(st.drop_reassembly, 5);
	/* its last fragment now starts a datagram of its own, never whole */
	CHECK_INT(send_tcp_frags(&g, 7002, 0x20), 6);
	n = collect(g.sink, frames, lens, 64, 100);
	CHECK_INT(n, 0);
	rig_close(&g);
}

static void test_seed(void)
{
	static uint32_t a[512], b[512], c[512];
	struct rig g;
	size_t na, nb, nc;

	CHECK_INT(rig_open(&g, "loss:30 dup:20 reorder:20"), 0);
	if (!g.t) {
		rig_close(&g);
		return;
	}
	na = pattern(&g, "one", a, 512);
	nb = pattern(&g, "one", b, 512);
	nc = pattern(&g, "two", c, 512);
	CHECK(na > 100 && na < 200);
	CHECK_INT(nb, na);
	CHECK(na == nb && memcmp(a, b, na * sizeof(a[0])) == 0);
	CHECK(na != nc || memcmp(a, c, na * sizeof(a[0])) != 0);
	{
		bool swapped = false, twice = false;

		for (size_t i = 1; i < na; i++) {
			swapped |= a[i] < a[i - 1];
			twice |= a[i] == a[i - 1];
		}
		CHECK(swapped);
		CHECK(twice);
	}
	rig_close(&g);

	/* seed:S: the hop's own, whatever the cell's. */
	CHECK_INT(rig_open(&g, "loss:30 seed:fixed"), 0);
	if (!g.t) {
		rig_close(&g);
		return;
	}
	na = pattern(&g, "one", a, 512);
	nb = pattern(&g, "two", b, 512);
	CHECK(na > 100 && na < 200);
	CHECK(na == nb && memcmp(a, b, na * sizeof(a[0])) == 0);
	rig_close(&g);
}

int main(void)
{
	struct sd_profile_error perr;
	int fd;

	if (geteuid() != 0) {
		printf("skip: needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN)\n");
		return 77;
	}
	fd = sd_netns_open();
	if (fd == -EPERM) {
		printf("skip: cannot create network namespaces\n");
		return 77;
	}
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	CHECK_INT(sd_profile_builtin("chrome-pq", &chrome, &perr), 0);

	test_router();
	test_defrag();
	test_seed();
	test_clean();
	test_mtu();
	test_delay_loss();
	test_truncate();
	test_dup_reorder();
	test_inspect();
	return check_done();
}
