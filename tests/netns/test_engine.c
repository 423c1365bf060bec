/* SPDX-License-Identifier: MIT */
/*
 * The client engine with real packets through real namespaces: handshake,
 * segmentation and split points, reordering, duplication, pacing, IP
 * fragmentation, PMTUD with and without ICMP, RST, refusal, and a second
 * flight written by the application callback.
 *
 *  sdtest-eng-PID-c         sdtest-eng-PID-r                 sdtest-eng-PID-s
 * +-----------------+      +--------------------------+      +--------------------+
 * | engine (pcap)   |      | ip_forward, forwarding=1 |      | kernel TCP         |
 * | 10.77.1.2       |      | static neighbours        |      | listener thread    |
 * | fd77:1::2       |      | nft: drop ICMP errors    |      | (setns), port 4433 |
 * | (not assigned:  |      |   (blackhole cases only) |      | capture on s0      |
 * |  kernel ignores)|      |                          |      |                    |
 * |            c0 --+------+-- r0            r1 ------+------+-- s0 10.77.2.2     |
 * | mtu 1500        |      | 10.77.1.1    10.77.2.1   |      |    fd77:2::2       |
 * | no IPv6         |      | fd77:1::1    fd77:2::1   |      | default via r1     |
 * +-----------------+      | mtu 1500     mtu 1500 or |      | advmss 1460 / 1440 |
 *                          |              1280 (PMTU) |      | mtu = r1's         |
 *                          +--------------------------+      +--------------------+
 *
 * Offloads (tso, gso, tx checksum) are off on every veth, so captures see
 * wire-sized frames with real checksums. The namespaces are named (built
 * with `ip`, test code only), deleted at the end, and also by a watchdog
 * child if this process dies in any way.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <pcap/pcap.h>

#include "check.h"
#include "shakedown/engine.h"
#include "shakedown/hello.h"
#include "shakedown/pkt.h"
#include "shakedown/profile.h"
#include "shakedown/record.h"
#include "shakedown/rng.h"
#include "shakedown/shape.h"
#include "shakedown/tls.h"

#define PORT 4433
#define REPLY_LEN 3000
#define REPLY2_LEN 700
#define EXTRA_LEN 517

static char ns_c[64], ns_r[64], ns_s[64];
static int watchdog_fd = -1;
static pid_t watchdog_pid = -1;

static const uint8_t mac_c0[6] = { 0x02, 0x5d, 0, 0, 1, 2 };
static const uint8_t mac_r0[6] = { 0x02, 0x5d, 0, 0, 1, 1 };

static uint8_t flight[4096];
static size_t flight_len;

/* ---- the fixture (test code only: production code never forks) ------------ */

__attribute__((format(printf, 1, 2)))
static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	if (st != 0)
		fprintf(stderr, "command failed (%d): %s\n", st, cmd);
	return st;
}

static void teardown(void)
{
	const char *names[] = { ns_c, ns_r, ns_s };

	for (int i = 0; i < 3; i++) {
		char path[128];

		if (!names[i][0])
			continue;
		snprintf(path, sizeof(path), "/run/netns/%s", names[i]);
		if (access(path, F_OK) == 0) {
			char cmd[160];

			snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null", names[i]);
			if (system(cmd) != 0)
				fprintf(stderr, "could not delete %s\n", names[i]);
		}
	}
}

static void on_signal(int sig)
{
	/* the watchdog deletes the namespaces when we are gone */
	_exit(128 + sig);
}

/* A child that outlives us only to delete the namespaces, however we die. */
static void start_watchdog(void)
{
	int p[2];
	char b;

	if (pipe2(p, O_CLOEXEC) < 0)
		return;
	watchdog_pid = fork();
	if (watchdog_pid < 0) {
		close(p[0]);
		close(p[1]);
		return;
	}
	if (watchdog_pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		close(p[1]);
		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		setpgid(0, 0);
		signal(SIGINT, SIG_IGN);
		while (read(p[0], &b, 1) < 0 && errno == EINTR)
			;
		teardown();
		_exit(0);
	}
	close(p[0]);
	watchdog_fd = p[1];
}

static int build_topology(void)
{
	const char *all[] = { ns_c, ns_r, ns_s };
	int bad = 0;

	for (int i = 0; i < 3; i++) {
		bad |= sh("ip netns add %s", all[i]);
		bad |= sh("ip netns exec %s sysctl -qw net.ipv6.conf.all.accept_dad=0 "
			  "net.ipv6.conf.default.accept_dad=0", all[i]);
		bad |= sh("ip -n %s link set lo up", all[i]);
	}
	if (bad)
		return -1;
	bad |= sh("ip netns exec %s sysctl -qw net.ipv4.ip_forward=1 "
		  "net.ipv6.conf.all.forwarding=1", ns_r);
	bad |= sh("ip -n %s link add c0 address 02:5d:00:00:01:02 type veth peer name r0 "
		  "address 02:5d:00:00:01:01 netns %s", ns_c, ns_r);
	bad |= sh("ip -n %s link add r1 address 02:5d:00:00:02:01 type veth peer name s0 "
		  "address 02:5d:00:00:02:02 netns %s", ns_r, ns_s);
	bad |= sh("ip netns exec %s sysctl -qw net.ipv6.conf.c0.disable_ipv6=1", ns_c);
	bad |= sh("ip netns exec %s ethtool -K c0 tso off gso off tx off >/dev/null", ns_c);
	bad |= sh("ip netns exec %s ethtool -K r0 tso off gso off tx off >/dev/null", ns_r);
	bad |= sh("ip netns exec %s ethtool -K r1 tso off gso off tx off >/dev/null", ns_r);
	bad |= sh("ip netns exec %s ethtool -K s0 tso off gso off tx off >/dev/null", ns_s);
	bad |= sh("ip -n %s link set c0 up", ns_c);
	bad |= sh("ip -n %s addr add 10.77.1.1/24 dev r0", ns_r);
	bad |= sh("ip -n %s addr add fd77:1::1/64 dev r0 nodad", ns_r);
	bad |= sh("ip -n %s addr add 10.77.2.1/24 dev r1", ns_r);
	bad |= sh("ip -n %s addr add fd77:2::1/64 dev r1 nodad", ns_r);
	bad |= sh("ip -n %s link set r0 up", ns_r);
	bad |= sh("ip -n %s link set r1 up", ns_r);
	bad |= sh("ip -n %s addr add 10.77.2.2/24 dev s0", ns_s);
	bad |= sh("ip -n %s addr add fd77:2::2/64 dev s0 nodad", ns_s);
	bad |= sh("ip -n %s link set s0 up", ns_s);
	/* DESIGN: without advmss a server on a 1280 link offers MSS 1240 and
	 * the oversized-segment case never happens. */
	bad |= sh("ip -n %s route add default via 10.77.2.1 dev s0 advmss 1460", ns_s);
	bad |= sh("ip -n %s -6 route add default via fd77:2::1 dev s0 advmss 1440", ns_s);
	bad |= sh("ip -n %s neigh add 10.77.1.2 lladdr 02:5d:00:00:01:02 dev r0 nud permanent", ns_r);
	bad |= sh("ip -n %s neigh add fd77:1::2 lladdr 02:5d:00:00:01:02 dev r0 nud permanent", ns_r);
	bad |= sh("ip -n %s neigh add 10.77.2.2 lladdr 02:5d:00:00:02:02 dev r1 nud permanent", ns_r);
	bad |= sh("ip -n %s neigh add fd77:2::2 lladdr 02:5d:00:00:02:02 dev r1 nud permanent", ns_r);
	bad |= sh("ip -n %s neigh add 10.77.2.1 lladdr 02:5d:00:00:02:01 dev s0 nud permanent", ns_s);
	bad |= sh("ip -n %s neigh add fd77:2::1 lladdr 02:5d:00:00:02:01 dev s0 nud permanent", ns_s);
	return bad ? -1 : 0;
}

static int set_next_mtu(unsigned mtu)
{
	return sh("ip -n %s link set r1 mtu %u", ns_r, mtu) |
	       sh("ip -n %s link set s0 mtu %u", ns_s, mtu);
}

static int icmp_drop(bool on)
{
	if (on)
		return sh("ip netns exec %s nft 'add table inet sdt; "
			  "add chain inet sdt out { type filter hook output priority 0 ; }; "
			  "add rule inet sdt out icmp type destination-unreachable drop; "
			  "add rule inet sdt out icmpv6 type packet-too-big drop'", ns_r);
	return sh("ip netns exec %s nft delete table inet sdt", ns_r);
}

static int enter_ns(const char *name)
{
	char path[128];
	int fd, ret;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = setns(fd, CLONE_NEWNET) < 0 ? -errno : 0;
	close(fd);
	return ret;
}

static pcap_t *open_capture(const char *dev)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_create(dev, errbuf);

	if (!p) {
		fprintf(stderr, "pcap_create %s: %s\n", dev, errbuf);
		return NULL;
	}
	if (pcap_set_snaplen(p, 65535) || pcap_set_immediate_mode(p, 1) ||
	    pcap_set_timeout(p, 1) || pcap_activate(p) < 0 ||
	    pcap_setnonblock(p, 1, errbuf) < 0) {
		fprintf(stderr, "pcap %s: %s\n", dev, pcap_geterr(p));
		pcap_close(p);
		return NULL;
	}
	return p;
}

/* ---- the server: a kernel TCP socket in the server namespace -------------- */

enum srv_mode { SRV_REPLY, SRV_RST, SRV_TWO, SRV_FIN };

struct srv {
	int family;
	enum srv_mode mode;
	size_t expect, expect2;
	uint8_t got[8192];
	size_t got_len;
	int reads;
	bool reset_seen;        /* the connection ended with ECONNRESET */
	int err;
	sem_t ready;
	pthread_t th;
};

static uint8_t pattern(size_t i, unsigned k)
{
	return (uint8_t)(i * 13 + 7 + k * 101);
}

static int wait_fd(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms);
}

static int read_until(struct srv *s, int fd, size_t want)
{
	while (s->got_len < want) {
		ssize_t n;

		if (wait_fd(fd, 2000) <= 0)
			return -ETIMEDOUT;
		n = read(fd, s->got + s->got_len, sizeof(s->got) - s->got_len);
		if (n < 0)
			return errno == ECONNRESET ? (s->reset_seen = true, -ECONNRESET) : -errno;
		if (n == 0)
			return -EPIPE;
		s->got_len += (size_t)n;
		s->reads++;
	}
	return 0;
}

static int write_pattern(int fd, size_t len, unsigned k)
{
	uint8_t buf[4096];

	for (size_t i = 0; i < len; i++)
		buf[i] = pattern(i, k);
	return write(fd, buf, len) == (ssize_t)len ? 0 : -EIO;
}

static void *srv_main(void *arg)
{
	struct srv *s = arg;
	struct sockaddr_storage ss;
	socklen_t sl;
	int ls = -1, fd = -1, one = 1;

	s->err = enter_ns(ns_s);
	if (s->err)
		goto out;
	memset(&ss, 0, sizeof(ss));
	if (s->family == 4) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(PORT);
		sl = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(PORT);
		sl = sizeof(*a);
	}
	ls = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (s->family == 6 && setsockopt(ls, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(ls, (struct sockaddr *)&ss, sl) < 0 || listen(ls, 4) < 0) {
		s->err = -errno;
		goto out;
	}
	sem_post(&s->ready);
	if (wait_fd(ls, 3000) <= 0) {
		s->err = -ETIMEDOUT;
		goto out;
	}
	fd = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) {
		s->err = -errno;
		goto out;
	}
	s->err = read_until(s, fd, s->expect);
	if (s->err)
		goto out;
	if (s->mode == SRV_RST) {
		struct linger lg = { 1, 0 };

		/* SO_LINGER 0: close() sends a RST instead of a FIN */
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		goto out;
	}
	s->err = write_pattern(fd, REPLY_LEN, 0);
	if (!s->err && s->mode == SRV_FIN) {
		/* FIN after the reply; then wait for the engine's close */
		if (shutdown(fd, SHUT_WR) < 0)
			s->err = -errno;
	}
	if (!s->err && s->mode == SRV_TWO) {
		s->err = read_until(s, fd, s->expect + s->expect2);
		if (!s->err)
			s->err = write_pattern(fd, REPLY2_LEN, 1);
	}
	/* wait for the engine's close */
	for (int i = 0; i < 20 && wait_fd(fd, 100) >= 0; i++) {
		uint8_t b[256];
		ssize_t n = read(fd, b, sizeof(b));

		if (n < 0 && errno == ECONNRESET) {
			s->reset_seen = true;
			break;
		}
		if (n == 0)
			break;
	}
out:
	if (fd >= 0)
		close(fd);
	if (ls >= 0)
		close(ls);
	if (s->err && s->mode != SRV_RST)
		sem_post(&s->ready);
	return NULL;
}

static int srv_start(struct srv *s, int family, enum srv_mode mode, size_t expect)
{
	memset(s, 0, sizeof(*s));
	s->family = family;
	s->mode = mode;
	s->expect = expect;
	s->expect2 = EXTRA_LEN;
	sem_init(&s->ready, 0, 0);
	if (pthread_create(&s->th, NULL, srv_main, s) != 0)
		return -1;
	sem_wait(&s->ready);
	return s->err;
}

static void srv_join(struct srv *s)
{
	pthread_join(s->th, NULL);
	sem_destroy(&s->ready);
}

/* ---- what reached the server's link ------------------------------------------ */

struct seen {
	size_t seg[64];         /* TCP payload lengths, client to server, in order */
	size_t nseg;
	size_t frags;           /* IP fragments, client to server */
};

static void capture_server(pcap_t *p, int family, uint16_t sport, struct seen *sn)
{
	struct pcap_pkthdr *h;
	const u_char *data;

	memset(sn, 0, sizeof(*sn));
	for (int i = 0; i < 10000 && pcap_next_ex(p, &h, &data) == 1; i++) {
		struct sd_pkt k;

		if (sd_pkt_decode(SD_LINKTYPE_ETHERNET, data, h->caplen, &k) < 0 ||
		    k.family != family || k.proto != SD_IPPROTO_TCP)
			continue;
		if (k.frag) {
			/* client to server: the server's own packets are never fragments here */
			sn->frags++;
			continue;
		}
		if (k.tcp.sport == sport && k.tcp.dport == PORT && k.payload_len && sn->nseg < 64)
			sn->seg[sn->nseg++] = k.payload_len;
	}
}

/* ---- the application side ------------------------------------------------------ */

struct app {
	size_t want;            /* server bytes that make the exchange done */
	bool two;               /* send a second flight after the first reply */
	bool last_words;        /* ... and say done in the same breath */
	bool sent2;
	int calls;
};

static int on_data(void *ctx, const uint8_t *stream, size_t len, struct sd_buf *out)
{
	struct app *a = ctx;

	a->calls++;
	if (a->two && !a->sent2 && len >= REPLY_LEN) {
		for (size_t i = 0; i < EXTRA_LEN; i++)
			sd_buf_u8(out, pattern(i, 7));
		a->sent2 = true;
		if (a->last_words)
			return SD_APP_DONE;
	}
	(void)stream;
	return len >= a->want ? SD_APP_DONE : SD_APP_MORE;
}

/* ---- one exchange ---------------------------------------------------------------- */

static pcap_t *cap_c, *cap_s;
static unsigned cell;
static uint32_t syn_rto_ms;     /* 0: the default */
static bool want_more;          /* the application never says done */
static bool last_words;         /* done together with the second flight, drain_on_done */
static bool (*hold_fn)(void *ctx, size_t acked);   /* config.hold for the next cell */
static const size_t *pace_offs;  /* config.gap_offs / gaps_us / ngaps for the next cell */
static const uint32_t *pace_us;
static size_t npace;

struct cell_opts {
	const char *name;
	int family;
	const char *shape;
	uint16_t dport;
	bool server;            /* start a listener */
	enum srv_mode mode;
	bool two;
};

static struct sd_engine_result res;
static struct srv srv;
static struct seen seen;
static double exchange_ms[64];
static size_t nexchange;

static int run_cell(const struct cell_opts *o)
{
	struct sd_engine_config c;
	struct app app = { .want = REPLY_LEN, .two = o->two };
	char err[200];
	int ret;

	cell++;
	sd_engine_config_init(&c);
	c.family = (uint8_t)o->family;
	memcpy(c.src_mac, mac_c0, 6);
	memcpy(c.dst_mac, mac_r0, 6);
	if (o->family == 4) {
		CHECK_INT(sd_addr_parse("10.77.1.2", c.src), 4);
		CHECK_INT(sd_addr_parse("10.77.2.2", c.dst), 4);
	} else {
		CHECK_INT(sd_addr_parse("fd77:1::2", c.src), 6);
		CHECK_INT(sd_addr_parse("fd77:2::2", c.dst), 6);
	}
	c.sport = (uint16_t)(41000 + cell);
	c.dport = o->dport ? o->dport : PORT;
	c.isn = 0x10000000u * cell + 12345;
	c.flight = flight;
	c.flight_len = flight_len;
	ret = sd_shape_parse(o->shape, &c.shape, err, sizeof(err));
	CHECK_INT(ret, 0);
	if (ret)
		fprintf(stderr, "%s\n", err);
	if (o->two)
		app.want = REPLY_LEN + REPLY2_LEN;
	if (want_more)
		app.want = SIZE_MAX;
	if (last_words) {
		app.last_words = true;
		c.drain_on_done = true;
	}
	c.on_data = on_data;
	c.ctx = &app;
	if (syn_rto_ms)
		c.syn_rto_ms = syn_rto_ms;
	c.hold = hold_fn;
	c.gap_offs = pace_offs;
	c.gaps_us = pace_us;
	c.ngaps = npace;
	if (o->server && srv_start(&srv, o->family, o->mode, flight_len) != 0) {
		fprintf(stderr, "%s: server failed: %s\n", o->name, strerror(-srv.err));
		CHECK(0);
		return -1;
	}
	ret = sd_engine_run(cap_c, &c, &res);
	CHECK_INT(ret, 0);
	if (o->server)
		srv_join(&srv);
	capture_server(cap_s, o->family, c.sport, &seen);

	printf("%-22s %-8s synack %6.3f ms  first data %6.3f  last progress %7.3f  end %7.3f ms"
	       "  (rtt %.3f, rto %.1f)\n", o->name, sd_engine_state_name(res.state), res.t_synack,
	       res.t_first_data, res.t_last_progress, res.t_end, res.rtt_ms, res.rto_ms);
	printf("%-22s segments:", "");
	for (size_t i = 0; i < res.nseg; i++)
		printf(" %u@%u%s%s%s%s", res.seg[i].len, res.seg[i].off,
		       res.seg[i].nfrags > 1 ? "/frags" : "",
		       res.seg[i].flags & SD_SEG_RETX ? "/retx" : "",
		       res.seg[i].flags & SD_SEG_PMTU ? "/pmtu" : "",
		       res.seg[i].flags & SD_SEG_DUP ? "/dup" : "");
	printf("  | at s0:");
	for (size_t i = 0; i < seen.nseg; i++)
		printf(" %zu", seen.seg[i]);
	if (seen.frags)
		printf(" + %zu fragments", seen.frags);
	printf("  | server read %zu B in %d reads; got %zu B back; %s\n", srv.got_len, srv.reads,
	       res.server_len, res.reason);
	for (size_t i = 0; i < res.npmtu; i++) {
		char from[SD_ADDR_STRLEN];

		if (sd_addr_format(o->family, res.pmtu[i].from, from, sizeof(from)) < 0)
			strcpy(from, "?");
		printf("%-22s pmtu: %s says %u at %.3f ms: %u -> %u%s\n", "", from,
		       res.pmtu[i].reported, res.pmtu[i].t_ms, res.pmtu[i].old_mtu,
		       res.pmtu[i].new_mtu, res.pmtu[i].applied ? "" : " (ignored)");
	}
	if (nexchange < 64 && res.state == SD_ENGINE_DONE)
		exchange_ms[nexchange++] = res.t_end;
	return 0;
}

/* The original (not retransmitted, not duplicate) segments, in send order. */
static size_t originals(uint32_t *len, uint32_t *off, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < res.nseg && n < max; i++) {
		if (res.seg[i].flags & (SD_SEG_RETX | SD_SEG_DUP))
			continue;
		len[n] = res.seg[i].len;
		off[n] = res.seg[i].off;
		n++;
	}
	return n;
}

static void check_delivered(size_t extra)
{
	CHECK_INT(srv.err, 0);
	CHECK_INT(srv.got_len, flight_len + extra);
	CHECK_MEM(srv.got, flight, flight_len);
	if (extra)
		for (size_t i = 0; i < extra; i++)
			if (srv.got[flight_len + i] != pattern(i, 7)) {
				CHECK(0);
				break;
			}
	CHECK_INT(res.acked, flight_len + extra);
	CHECK_INT(res.client_len, flight_len + extra);
}

static void check_reply(size_t len)
{
	bool same = res.server_len == len;

	for (size_t i = 0; same && i < len; i++)
		same = res.server[i] == pattern(i < REPLY_LEN ? i : i - REPLY_LEN, i < REPLY_LEN ? 0 : 1);
	CHECK(same);
}

/* ---- the cases ------------------------------------------------------------------- */

static void case_mss(int family)
{
	struct cell_opts o = { family == 4 ? "v4 mss" : "v6 mss", family, "mss", 0, true,
			       SRV_REPLY, false };
	uint32_t len[8], off[8];
	size_t mss = family == 4 ? 1460 : 1440;

	if (run_cell(&o) < 0)
		return;
	CHECK_INT(res.state, SD_ENGINE_DONE);
	CHECK_INT(res.syn_sent, 1);
	CHECK(res.t_synack >= 0 && res.t_synack < 50);
	CHECK_INT(res.server_mss, mss);
	CHECK_INT(res.mss_sent, mss);
	CHECK_INT(originals(len, off, 8), 2);
	CHECK_INT(len[0], mss);
	CHECK_INT(len[1], flight_len - mss);
	CHECK_INT(off[1], mss);
	CHECK_INT(res.retransmits, 0);
	CHECK_INT(seen.nseg, 2);
	CHECK_INT(seen.seg[0], mss);
	CHECK_INT(seen.seg[1], flight_len - mss);
	check_delivered(0);
	check_reply(REPLY_LEN);
	CHECK_INT(res.close_sent, SD_ENGINE_CLOSE_RST);
	CHECK(srv.reset_seen);
	sd_engine_result_free(&res);
}

static void case_split(void)
{
	struct cell_opts o = { "v4 split@100+600", 4, "split@100+600", 0, true, SRV_REPLY, false };
	uint32_t len[8], off[8];

	if (run_cell(&o) < 0)
		return;
	CHECK_INT(res.state, SD_ENGINE_DONE);
	CHECK_INT(originals(len, off, 8), 3);
	CHECK_INT(len[0], 100);
	CHECK_INT(len[1], 500);
	CHECK_INT(len[2], 1331);
	CHECK_INT(seen.nseg, 3);
	CHECK_INT(seen.seg[0], 100);
	CHECK_INT(seen.seg[1], 500);
	CHECK_INT(seen.seg[2], 1331);
	check_delivered(0);
	sd_engine_result_free(&res);
}

static void case_reverse(void)
{
	struct cell_opts o = { "v4 order:reverse", 4, "order:reverse", 0, true, SRV_REPLY, false };
	uint32_t len[8], off[8];

	if (run_cell(&o) < 0)
		return;
	CHECK_INT(res.state, SD_ENGINE_DONE);
	CHECK_INT(originals(len, off, 8), 2);
	CHECK_INT(off[0], 1460);
	CHECK_INT(len[0], 471);
	CHECK_INT(off[1], 0);
	CHECK_INT(res.retransmits, 0);
	CHECK_INT(seen.nseg, 2);
	CHECK_INT(seen.seg[0], 471);
	check_delivered(0);
	sd_engine_result_free(&res);
}

static void case_dup_gap(void)
{
	struct cell_opts o = { "v4 dup,gap:30", 4, "dup,gap:30", 0, true, SRV_REPLY, false };

	if (run_cell(&o) < 0)
		return;
	CHECK_INT(res.state, SD_ENGINE_DONE);
	CHECK_INT(res.nseg, 4);
	CHECK(res.nseg == 4 && (res.seg[1].flags & SD_SEG_DUP) && (res.seg[3].flags & SD_SEG_DUP));
	CHECK(res.nseg == 4 && res.seg[2].t_ms - res.seg[0].t_ms >= 29.5);
	CHECK_INT(res.retransmits, 0);
	CHECK_INT(seen.nseg, 4);
	check_delivered(0);
	sd_engine_result_free(&res);
}

/* Holds the piece after the first pause 40 ms, not the one after the second. */
static size_t hold_acked[8];
static size_t nhold_acked;
static double hold_first_ms;

static bool hold_40(void *ctx, size_t acked)
{
	struct timespec ts;
	double now;

	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
	if (!nhold_acked || hold_acked[nhold_acked - 1] != acked) {
		if (nhold_acked < 8)
			hold_acked[nhold_acked++] = acked;
		hold_first_ms = now;
	}
	return acked == 600 && now - hold_first_ms < 40.0;
}

/*
 * config.hold: asked once a paused piece is due and all before it is
 * acknowledged (acked = the bytes sent); the pieces after a held one move
 * back, so the second pause keeps its 30 ms.
 */
static void case_hold(void)
{
	struct cell_opts o = { "v4 split,gap:30 held", 4, "split@600+1200,gap:30", 0, true, SRV_REPLY, false };

	hold_fn = hold_40;
	nhold_acked = 0;
	if (run_cell(&o) < 0) {
		hold_fn = NULL;
		return;
	}
	hold_fn = NULL;
	CHECK_INT(res.state, SD_ENGINE_DONE);
	CHECK_INT(res.nseg, 3);
	CHECK_INT(nhold_acked, 2);
	CHECK(nhold_acked == 2 && hold_acked[0] == 600 && hold_acked[1] == 1200);
	CHECK_INT(res.holds, 1);
	CHECK(res.held_ms >= 39.0 && res.held_ms < 80.0);
	/* 30 ms pause + 40 ms held, then the second pause whole */
	CHECK(res.nseg == 3 && res.seg[1].t_ms - res.seg[0].t_ms >= 69.0);
	CHECK(res.nseg == 3 && res.seg[2].t_ms - res.seg[1].t_ms >= 29.5);
	printf("%-22s held %.1f ms; pieces at %.1f, %.1f, %.1f ms\n", "", res.held_ms,
	       res.nseg == 3 ? res.seg[0].t_ms : 0, res.nseg == 3 ? res.seg[1].t_ms : 0,
	       res.nseg == 3 ? res.seg[2].t_ms : 0);
	CHECK_INT(res.retransmits, 0);
	check_delivered(0);
	sd_engine_result_free(&res);
}

static void case_ipfrag(int family)
{
	struct cell_opts o = { family == 4 ? "v4 ipfrag:600" : "v6 ipfrag:600", family,
			       "ipfrag:600", 0, true, SRV_REPLY, false };

	if (run_cell(&o) < 0)
		return;
	CHECK_INT(res.state, SD_ENGINE_DONE);
	CHECK(res.nseg >= 2);
	/* 20 + 1460 (v4) or 20 + 1440 (v6) bytes of IP payload: 600 + 600 + rest */
	CHECK(res.nseg >= 2 && res.seg[0].nfrags == 3);
	/* the tail segment fits one fragment: sent whole */
	CHECK(res.nseg >= 2 && res.seg[1].nfrags == 1);
	CHECK_INT(seen.frags, 3);
	CHECK_INT(res.frames_sent - res.pkts_sent, 2);
	check_delivered(0);
	sd_engine_result_free(&res);
}

static void case_pmtu(int family)
{
	struct cell_opts o = { family == 4 ? "v4 pmtu 1280" : "v6 pmtu 1280", family, "mss", 0,
			       true, SRV_REPLY, false };
	size_t mss = family == 4 ? 1460 : 1440, small = family == 4 ? 1240 : 1220;
	size_t pm = 0;

	if (run_cell(&o) < 0)
		return;
	CHECK_INT(res.state, SD_ENGINE_DONE);
	CHECK_INT(res.server_mss, mss);
	CHECK_INT(res.npmtu, 1);
	CHECK(res.npmtu >= 1 && res.pmtu[0].applied && res.pmtu[0].reported == 1280 &&
	      res.pmtu[0].new_mtu == 1280);
	CHECK_INT(res.path_mtu, 1280);
	for (size_t i = 0; i < res.nseg; i++)
		if (res.seg[i].flags & SD_SEG_PMTU) {
			CHECK(res.seg[i].len <= small);
			pm++;
		}
	CHECK_INT(pm, 2);
	check_delivered(0);
	check_reply(REPLY_LEN);
	sd_engine_result_free(&res);
}

static void case_blackhole(int family)
{
	struct cell_opts o = { family == 4 ? "v4 blackhole 1280" : "v6 blackhole 1280", family,
			       "mss", 0, true, SRV_REPLY, false };

	if (run_cell(&o) < 0)
		return;
	CHECK_INT(res.state, SD_ENGINE_STALL);
	CHECK(res.t_end < 300);
	CHECK_INT(res.npmtu, 0);
	CHECK_INT(res.retransmits, 3);
	CHECK_INT(res.acked, 0);
	CHECK(!res.rx_after_last_send);
	/* the small tail got through; the big head never did */
	CHECK_INT(seen.nseg, 1);
	CHECK_INT(srv.got_len, 0);
	/* our RST sits at the server's rcv_nxt, so RFC 5961 lets it through */
	CHECK(srv.reset_seen);
	sd_engine_result_free(&res);
}

static void case_fin(void)
{
	struct cell_opts o = { "v4 server FIN", 4, "mss", 0, true, SRV_FIN, false };

	want_more = true;
	if (run_cell(&o) < 0)
		return;
	want_more = false;
	CHECK_INT(res.state, SD_ENGINE_CLOSED);
	CHECK(res.server_fin);
	check_delivered(0);
	check_reply(REPLY_LEN);
	CHECK_INT(res.close_sent, SD_ENGINE_CLOSE_RST);
	sd_engine_result_free(&res);
}

/*
 * The router drops the server's first full-sized data segment once (an nft
 * quota): the rest arrives ahead of the stream, is buffered and ACKed as
 * duplicates until the server's fast retransmit fills the hole.
 */
static void case_server_loss(void)
{
	struct cell_opts o = { "v4 server data loss", 4, "mss", 0, true, SRV_REPLY, false };

	if (sh("ip netns exec %s nft 'add table inet sdl; "
	       "add chain inet sdl fw { type filter hook forward priority 0 ; }; "
	       "add rule inet sdl fw ip saddr 10.77.2.2 tcp sport %d meta length > 1000 "
	       "quota until 2000 bytes drop'", ns_r, PORT) != 0) {
		CHECK(0);
		return;
	}
	if (run_cell(&o) == 0) {
		CHECK_INT(res.state, SD_ENGINE_DONE);
		CHECK(res.rx_ooo >= 1);
		check_delivered(0);
		check_reply(REPLY_LEN);
		printf("%-22s server segments out of order: %u\n", "", res.rx_ooo);
		sd_engine_result_free(&res);
	}
	CHECK_INT(sh("ip netns exec %s nft delete table inet sdl", ns_r), 0);
}

static void case_no_pmtud(void)
{
	struct cell_opts o = { "v4 no-pmtud 1280", 4, "no-pmtud", 0, true, SRV_REPLY, false };

	if (run_cell(&o) < 0)
		return;
	CHECK_INT(res.state, SD_ENGINE_STALL);
	CHECK(res.t_end < 300);
	/* every try drew a frag-needed, and every one was ignored */
	CHECK_INT(res.npmtu, 4);
	for (size_t i = 0; i < res.npmtu; i++)
		CHECK(!res.pmtu[i].applied && res.pmtu[i].reported == 1280);
	CHECK_INT(res.path_mtu, 1500);
	CHECK(res.rx_after_last_send);
	sd_engine_result_free(&res);
}

/* The router rejects port 4435 with ICMP admin-prohibited, drops SYNs to 4436. */
static int router_filter(bool on)
{
	if (on)
		return sh("ip netns exec %s nft 'add table inet sdf; "
			  "add chain inet sdf fw { type filter hook forward priority 0 ; }; "
			  "add rule inet sdf fw tcp dport 4435 reject with icmpx type admin-prohibited; "
			  "add rule inet sdf fw tcp dport 4436 drop'", ns_r);
	return sh("ip netns exec %s nft delete table inet sdf", ns_r);
}

static void case_icmp_refused(int family)
{
	struct cell_opts o = { family == 4 ? "v4 ICMP unreachable" : "v6 ICMP unreachable", family,
			       "mss", 4435, false, SRV_REPLY, false };
	uint8_t r0[16];

	memset(&srv, 0, sizeof(srv));
	if (run_cell(&o) < 0)
		return;
	CHECK_INT(res.state, SD_ENGINE_REFUSED);
	CHECK(!res.rst_seen);
	/* RFC 792 type 3 code 13 / RFC 4443 type 1 code 1: administratively prohibited */
	CHECK_INT(res.icmp_type, family == 4 ? 3 : 1);
	CHECK_INT(res.icmp_code, family == 4 ? 13 : 1);
	CHECK_INT(sd_addr_parse(family == 4 ? "10.77.1.1" : "fd77:1::1", r0), family);
	CHECK_MEM(res.icmp_from, r0, family == 4 ? 4 : 16);
	sd_engine_result_free(&res);
}

static void case_syn_dropped(void)
{
	struct cell_opts o = { "v4 SYN dropped", 4, "mss", 4436, false, SRV_REPLY, false };

	memset(&srv, 0, sizeof(srv));
	syn_rto_ms = 20;
	if (run_cell(&o) < 0)
		return;
	syn_rto_ms = 0;
	CHECK_INT(res.state, SD_ENGINE_STALL);
	CHECK_INT(res.syn_sent, 4);
	CHECK(res.t_synack < 0);
	/* 20 + 40 + 80 ms of backoff, then 50 ms of quiet */
	CHECK(res.t_end >= 180 && res.t_end < 300);
	CHECK_STR(res.reason, "no answer to the SYN");
	sd_engine_result_free(&res);
}

static void case_rst(void)
{
	struct cell_opts o = { "v4 server RST", 4, "mss", 0, true, SRV_RST, false };
	uint8_t server[16];

	if (run_cell(&o) < 0)
		return;
	CHECK_INT(res.state, SD_ENGINE_RESET);
	CHECK(res.rst_seen);
	CHECK_INT(sd_addr_parse("10.77.2.2", server), 4);
	CHECK_MEM(res.rst_from, server, 4);
	CHECK(res.rst_exact);
	CHECK_INT(res.rst_ttl, res.synack_ttl);
	CHECK_INT(res.acked, flight_len);
	CHECK_INT(res.close_sent, SD_ENGINE_CLOSE_NONE);
	sd_engine_result_free(&res);
}

static void case_refused(int family)
{
	struct cell_opts o = { family == 4 ? "v4 closed port" : "v6 closed port", family, "mss",
			       4434, false, SRV_REPLY, false };

	memset(&srv, 0, sizeof(srv));
	if (run_cell(&o) < 0)
		return;
	CHECK_INT(res.state, SD_ENGINE_REFUSED);
	CHECK(res.rst_seen);
	CHECK(res.t_end < 50);
	CHECK_INT(res.nseg, 0);
	sd_engine_result_free(&res);
}

static void case_second_flight(void)
{
	struct cell_opts o = { "v4 second flight", 4, "split@2000", 0, true, SRV_TWO, true };
	uint32_t len[8], off[8];

	if (run_cell(&o) < 0)
		return;
	CHECK_INT(res.state, SD_ENGINE_DONE);
	/* split offsets are stream offsets: 2000 falls in the second flight */
	CHECK_INT(originals(len, off, 8), 4);
	CHECK_INT(off[2], flight_len);
	CHECK_INT(len[2], 2000 - flight_len);
	CHECK_INT(len[3], EXTRA_LEN - (2000 - flight_len));
	check_delivered(EXTRA_LEN);
	check_reply(REPLY_LEN + REPLY2_LEN);
	sd_engine_result_free(&res);
}

/*
 * Per-piece pacing on the callback's bytes (a replayed HelloRetryRequest
 * answer): the second flight's first piece waits its pause from the reply
 * that prompted it, the next one its pause after that.
 */
static void case_answer_pause(void)
{
	struct cell_opts o = { "v4 second flight, paced", 4, "split@2000", 0, true, SRV_TWO, true };
	size_t offs[2] = { flight_len, 2000 };
	uint32_t us[2] = { 50000, 20000 };
	uint32_t len[8], off[8];

	pace_offs = offs;
	pace_us = us;
	npace = 2;
	if (run_cell(&o) < 0) {
		npace = 0;
		return;
	}
	npace = 0;
	CHECK_INT(res.state, SD_ENGINE_DONE);
	CHECK_INT(originals(len, off, 8), 4);
	CHECK_INT(off[2], flight_len);
	/* the reply came back within a few ms of the first flight */
	CHECK(res.nseg >= 4 && res.seg[2].t_ms - res.seg[1].t_ms >= 50.0);
	CHECK(res.nseg >= 4 && res.seg[2].t_ms - res.seg[1].t_ms < 150.0);
	CHECK(res.nseg >= 4 && res.seg[3].t_ms - res.seg[2].t_ms >= 19.5);
	printf("%-22s second flight at %.1f ms, then %.1f ms\n", "", res.nseg >= 4 ? res.seg[2].t_ms : 0,
	       res.nseg >= 4 ? res.seg[3].t_ms : 0);
	check_delivered(EXTRA_LEN);
	check_reply(REPLY_LEN + REPLY2_LEN);
	sd_engine_result_free(&res);
}

/*
 * The callback writes its last bytes and says done at once (a client
 * Finished): with drain_on_done the RST waits for their ACK.
 */
static void case_last_words(void)
{
	struct cell_opts o = { "v4 last words, drain", 4, "mss", 0, true, SRV_TWO, true };

	last_words = true;
	if (run_cell(&o) < 0)
		return;
	last_words = false;
	CHECK_INT(res.state, SD_ENGINE_DONE);
	CHECK_STR(res.reason, "the application reached its goal");
	check_delivered(EXTRA_LEN);
	CHECK_INT(res.close_sent, SD_ENGINE_CLOSE_RST);
	sd_engine_result_free(&res);
}

/* ---- main ------------------------------------------------------------------------ */

static int make_flight(void)
{
	struct sd_profile p;
	struct sd_profile_error pe;
	struct sd_rng rng;
	static struct sd_hello_state st;
	struct sd_buf msg = SD_BUF_INIT, rec = SD_BUF_INIT;
	int ret;

	ret = sd_profile_builtin("chrome-pq", &p, &pe);
	if (!ret)
		ret = sd_rng_seed(&rng, "test_engine");
	if (!ret)
		ret = sd_hello_build(&p, NULL, &rng, &st, &msg);
	if (!ret)
		ret = sd_record_build(&rec, SD_CT_HANDSHAKE, p.record_version, msg.data, msg.len,
				      NULL, 0);
	if (!ret && rec.len <= sizeof(flight)) {
		memcpy(flight, rec.data, rec.len);
		flight_len = rec.len;
	}
	sd_hello_state_clear(&st);
	sd_buf_free(&msg);
	sd_buf_free(&rec);
	return ret < 0 ? ret : (flight_len ? 0 : -1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(void)
{
	int host = -1;
	bool have_nft;

	if (geteuid() != 0) {
		printf("skip: needs root (CAP_NET_ADMIN)\n");
		return 77;
	}
	if (system("ip -V >/dev/null 2>&1") != 0 || system("ethtool --version >/dev/null 2>&1") != 0) {
		printf("skip: needs ip and ethtool\n");
		return 77;
	}
	have_nft = system("nft --version >/dev/null 2>&1") == 0;
	snprintf(ns_c, sizeof(ns_c), "sdtest-eng-%d-c", (int)getpid());
	snprintf(ns_r, sizeof(ns_r), "sdtest-eng-%d-r", (int)getpid());
	snprintf(ns_s, sizeof(ns_s), "sdtest-eng-%d-s", (int)getpid());
	start_watchdog();
	atexit(teardown);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);

	CHECK_INT(make_flight(), 0);
	CHECK_INT(flight_len, 1931);
	host = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	CHECK(host >= 0);
	if (build_topology() < 0) {
		CHECK(0);
		goto out;
	}
	/* one handle per link for the whole test, as the harness keeps them */
	CHECK_INT(enter_ns(ns_s), 0);
	cap_s = open_capture("s0");
	CHECK_INT(enter_ns(ns_c), 0);
	cap_c = open_capture("c0");
	if (!cap_c || !cap_s) {
		CHECK(0);
		goto out;
	}

	case_mss(4);
	case_mss(6);
	case_split();
	case_reverse();
	case_dup_gap();
	case_hold();
	case_ipfrag(4);
	case_ipfrag(6);
	case_second_flight();
	case_answer_pause();
	case_last_words();
	case_rst();
	case_fin();
	case_refused(4);
	case_refused(6);
	if (have_nft) {
		CHECK_INT(router_filter(true), 0);
		case_icmp_refused(4);
		case_icmp_refused(6);
		case_syn_dropped();
		CHECK_INT(router_filter(false), 0);
		case_server_loss();
	}
	CHECK_INT(set_next_mtu(1280), 0);
	case_pmtu(4);
	case_pmtu(6);
	case_no_pmtud();
	if (have_nft) {
		CHECK_INT(icmp_drop(true), 0);
		case_blackhole(4);
		case_blackhole(6);
		CHECK_INT(icmp_drop(false), 0);
	} else {
		printf("nft missing: ICMP-refusal, SYN-drop and blackhole cases skipped\n");
	}
	CHECK_INT(set_next_mtu(1500), 0);

	if (nexchange) {
		qsort(exchange_ms, nexchange, sizeof(exchange_ms[0]), cmp_double);
		printf("completed exchanges: %zu, median %.3f ms, max %.3f ms (SYN to done)\n",
		       nexchange, exchange_ms[nexchange / 2], exchange_ms[nexchange - 1]);
	}
out:
	if (cap_c)
		pcap_close(cap_c);
	if (cap_s)
		pcap_close(cap_s);
	if (host >= 0) {
		if (setns(host, CLONE_NEWNET) < 0)
			CHECK(0);
		close(host);
	}
	teardown();
	{
		char path[128];
		const char *names[] = { ns_c, ns_r, ns_s };

		for (int i = 0; i < 3; i++) {
			snprintf(path, sizeof(path), "/run/netns/%s", names[i]);
			CHECK(access(path, F_OK) != 0);
		}
	}
	if (watchdog_fd >= 0) {
		close(watchdog_fd);
		if (watchdog_pid > 0)
			waitpid(watchdog_pid, NULL, 0);
	}
	return check_done();
}
