/* SPDX-License-Identifier: MIT */
/*
 * Measures the user-space middlebox engine against kernel forwarding on the
 * same one-hop topology, in one invocation (tools/bench_mbox.sh runs it):
 *
 *   client ns                 hop ns                        server ns
 *   generator  c0 ──────── h1l [kernel | mbox] h1r ──────── s0  UDP :9000 (never read)
 *   (AF_PACKET)                                                  sink (AF_PACKET, timestamps)
 *
 *  - rate: the generator floods UDP frames from c0 (sendmmsg, 64 at a
 *    time) for --seconds; the forwarding rate is what reached the server's
 *    UDP layer (InDatagrams + RcvbufErrors of its namespace) per second,
 *    between a warm-up mark and the end of the flood;
 *  - latency: --latency-packets frames, one every --interval-us, each with
 *    its send time (CLOCK_REALTIME) in the payload; the sink's kernel
 *    timestamp when it reached s0 minus that is the one-way time. The
 *    added latency is the engine's median minus the kernel's.
 * Prints one line per mode ("mode=... pps=... lat_med_us=... lat_p99_us=...")
 * and a summary. Exit 0, 2 for bad flags, 3 for an environment failure
 * (77 without root).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "shakedown/engine.h"
#include "shakedown/mbox.h"
#include "shakedown/netns.h"
#include "shakedown/path.h"
#include "shakedown/pkt.h"
#include "shakedown/topo.h"

#define PORT 9000
#define GEN_BATCH 64
#define MAX_LAT 100000
#define MAGIC 0x5344424du   /* "SDBM" */

struct opts {
	double seconds;
	size_t payload;
	size_t lat_n;
	unsigned interval_us;
};

struct result {
	double pps;
	double sent_pps;
	double lat_med_us, lat_p99_us;
	size_t lat_got;
};

static uint64_t now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- sockets opened inside the namespaces ------------------------------- */

struct opener {
	int ifindex;
	int fd;
	int snmp;
};

static int open_gen(void *arg)
{
	struct opener *o = arg;

	o->fd = sd_engine_socket_open(o->ifindex);
	return o->fd < 0 ? o->fd : 0;
}

/* The server side: a UDP socket on the port (so the kernel sends no port
 * unreachable back through the hop) and the namespace's UDP counters. */
static int open_udp(void *arg)
{
	struct opener *o = arg;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(PORT) };
	int one = 1;

	o->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (o->fd < 0)
		return -errno;
	(void)setsockopt(o->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(o->fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -errno;
	o->snmp = open("/proc/thread-self/net/snmp", O_RDONLY | O_CLOEXEC);
	return o->snmp < 0 ? -errno : 0;
}

static int open_sink(void *arg)
{
	struct opener *o = arg;
	struct sockaddr_ll sll;
	int one = 1;

	o->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (o->fd < 0)
		return -errno;
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_IP);
	sll.sll_ifindex = o->ifindex;
	if (setsockopt(o->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0 ||
	    bind(o->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		return -errno;
	return 0;
}

/* UDP datagrams that reached the server's UDP layer: delivered to the
 * socket or dropped at its full buffer. */
static long long udp_arrived(int snmp)
{
	char buf[4096], *l, *save = NULL;
	ssize_t n = pread(snmp, buf, sizeof(buf) - 1, 0);
	long long in = -1, rcvbuf = 0;
	int line = 0;

	if (n <= 0)
		return -1;
	buf[n] = 0;
	/* Two "Udp:" lines: names, then values. InDatagrams is the 1st
	 * value, RcvbufErrors the 5th. */
	for (l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (strncmp(l, "Udp: ", 5) != 0)
			continue;
		if (line++ == 1) {
			long long v[6] = { 0 };

			if (sscanf(l + 5, "%lld %lld %lld %lld %lld", &v[0], &v[1], &v[2], &v[3], &v[4]) == 5) {
				in = v[0];
				rcvbuf = v[4];
			}
		}
	}
	return in < 0 ? -1 : in + rcvbuf;
}

/* ---- the frames ---------------------------------------------------------- */

static int build_frame(const struct sd_topo *t, size_t payload, uint8_t *out, size_t cap)
{
	struct sd_buf b = SD_BUF_INIT;
	struct sd_ip_spec ip;
	uint8_t pl[2048];
	int ret;

	memset(&ip, 0, sizeof(ip));
	memset(pl, 0, sizeof(pl));
	ip.family = 4;
	ip.ttl = 64;
	ip.df = true;
	memcpy(ip.src, t->engine4, 4);
	memcpy(ip.dst, t->server4, 4);
	if ((ret = sd_build_eth(&b, t->gateway_mac, t->client_mac, SD_ETHERTYPE_IPV4)) < 0 ||
	    (ret = sd_build_udp(&b, &ip, 40000, PORT, pl, payload)) < 0)
		goto out;
	ret = -ENOSPC;
	if (b.len > cap)
		goto out;
	memcpy(out, b.data, b.len);
	ret = (int)b.len;
out:
	sd_buf_free(&b);
	return ret;
}

/* ---- the rate ------------------------------------------------------------ */

static int flood(int gen, int snmp, const uint8_t *frame, size_t len, double seconds, struct result *r)
{
	struct mmsghdr msg[GEN_BATCH];
	struct iovec iov = { .iov_base = (void *)(uintptr_t)frame, .iov_len = len };
	uint64_t t0 = now_ns(CLOCK_MONOTONIC), warm = t0 + (uint64_t)(seconds * 0.2e9),
		 end = t0 + (uint64_t)(seconds * 1e9), t1 = 0, t2 = 0;
	long long c1 = -1, c2 = -1, sent = 0, sent1 = 0;

	memset(msg, 0, sizeof(msg));
	for (int i = 0; i < GEN_BATCH; i++) {
		msg[i].msg_hdr.msg_iov = &iov;
		msg[i].msg_hdr.msg_iovlen = 1;
	}
	for (uint64_t now = t0; now < end; now = now_ns(CLOCK_MONOTONIC)) {
		int n = sendmmsg(gen, msg, GEN_BATCH, 0);

		if (n > 0)
			sent += n;
		else if (errno == EAGAIN || errno == ENOBUFS) {
			struct pollfd p = { .fd = gen, .events = POLLOUT };

			(void)poll(&p, 1, 1);
		} else if (errno != EINTR) {
			return -errno;
		}
		if (!t1 && now >= warm) {
			t1 = now_ns(CLOCK_MONOTONIC);
			c1 = udp_arrived(snmp);
			sent1 = sent;
		}
	}
	t2 = now_ns(CLOCK_MONOTONIC);
	c2 = udp_arrived(snmp);
	if (c1 < 0 || c2 < 0 || t2 <= t1)
		return -EIO;
	r->pps = (double)(c2 - c1) / ((double)(t2 - t1) / 1e9);
	r->sent_pps = (double)(sent - sent1) / ((double)(t2 - t1) / 1e9);
	return 0;
}

/* ---- the latency ----------------------------------------------------------- */

struct sink {
	int fd;
	size_t want;
	uint64_t deadline;              /* CLOCK_MONOTONIC ns */
	double *lat_us;
	size_t got;
};

static void *sink_main(void *arg)
{
	struct sink *s = arg;
	uint8_t buf[2048];
	char ctl[CMSG_SPACE(sizeof(struct timespec))];

	while (s->got < s->want && now_ns(CLOCK_MONOTONIC) < s->deadline) {
		struct pollfd p = { .fd = s->fd, .events = POLLIN };
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
				     .msg_controllen = sizeof(ctl) };
		struct timespec ts = { 0, 0 };
		struct sd_pkt pk;
		uint32_t magic;
		uint64_t sent;
		ssize_t n;

		if (poll(&p, 1, 50) <= 0)
			continue;
		n = recvmsg(s->fd, &mh, MSG_DONTWAIT);
		if (n <= 0)
			continue;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS)
				memcpy(&ts, CMSG_DATA(c), sizeof(ts));
		if (sd_pkt_decode(SD_LINKTYPE_ETHERNET, buf, (size_t)n, &pk) < 0 ||
		    pk.proto != SD_IPPROTO_UDP || pk.payload_len < 12 || !ts.tv_sec)
			continue;
		memcpy(&magic, pk.payload, 4);
		memcpy(&sent, pk.payload + 4, 8);
		if (magic != MAGIC)
			continue;
		s->lat_us[s->got++] =
			((double)((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec) - (double)sent) / 1e3;
	}
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int latency(const struct sd_topo *t, int gen, const struct opts *o, struct result *r)
{
	struct opener so = { .ifindex = t->link[t->nlinks - 1].end[SD_TOPO_RIGHT].ifindex, .fd = -1 };
	struct sink s = { .want = o->lat_n };
	uint8_t frame[2048];
	size_t off;
	pthread_t th;
	int ret, len;
	uint64_t next;

	len = build_frame(t, o->payload < 12 ? 12 : o->payload, frame, sizeof(frame));
	if (len < 0)
		return len;
	s.lat_us = calloc(o->lat_n, sizeof(double));
	if (!s.lat_us)
		return -ENOMEM;
	ret = sd_netns_run(t->server_ns, open_sink, &so);
	if (ret < 0)
		goto out;
	s.fd = so.fd;
	s.deadline = now_ns(CLOCK_MONOTONIC) + (uint64_t)o->lat_n * o->interval_us * 1000u + 2000000000ull;
	if ((ret = -pthread_create(&th, NULL, sink_main, &s)) < 0)
		goto out;
	off = (size_t)len - (o->payload < 12 ? 12 : o->payload);
	next = now_ns(CLOCK_MONOTONIC) + 20000000ull;
	for (size_t i = 0; i < o->lat_n; i++) {
		struct timespec ts = { (time_t)(next / 1000000000u), (long)(next % 1000000000u) };
		uint32_t magic = MAGIC;
		uint64_t sent;

		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		next += (uint64_t)o->interval_us * 1000u;
		/* The UDP checksum stays as built: 0 would be as good, and the
		 * receiver drops a bad one after the timestamp is taken. */
		memcpy(frame + off, &magic, 4);
		sent = now_ns(CLOCK_REALTIME);
		memcpy(frame + off + 4, &sent, 8);
		if (send(gen, frame, (size_t)len, 0) < 0 && errno != EAGAIN && errno != ENOBUFS) {
			ret = -errno;
			break;
		}
	}
	pthread_join(th, NULL);
	r->lat_got = s.got;
	if (s.got) {
		qsort(s.lat_us, s.got, sizeof(double), cmp_double);
		r->lat_med_us = s.lat_us[s.got / 2];
		r->lat_p99_us = s.lat_us[s.got * 99 / 100];
	}
out:
	if (so.fd >= 0)
		close(so.fd);
	free(s.lat_us);
	return ret;
}

/* ---- one mode --------------------------------------------------------------- */

static int run_mode(bool userspace, const struct opts *o, struct result *r, char *err, size_t errlen)
{
	static const char kernel_path[] = "[path]\ndescription = bench\n[hop r]\n";
	static const char user_path[] = "[path]\ndescription = bench\n[hop r]\nbehaviours = userspace\n";
	const char *text = userspace ? user_path : kernel_path;
	struct sd_path p;
	struct sd_path_error perr;
	struct sd_topo_error terr;
	struct sd_topo *t = NULL;
	struct sd_mbox *m = NULL;
	struct opener g = { .fd = -1 }, u = { .fd = -1, .snmp = -1 };
	uint8_t frame[2048];
	int ret, len;

	memset(r, 0, sizeof(*r));
	if ((ret = sd_path_parse(text, strlen(text), "bench", &p, &perr)) < 0) {
		snprintf(err, errlen, "path: %s", perr.msg);
		return ret;
	}
	if ((ret = sd_topo_open(&p, SD_TOPO_NO_IPV6, &t, &terr)) < 0) {
		snprintf(err, errlen, "topology: %s: %s", terr.step, sd_strerror(ret));
		return ret;
	}
	if (userspace) {
		if ((ret = sd_mbox_open(t, 1, &p.hop[0], &m)) < 0 ||
		    (ret = sd_mbox_reset(m, "bench")) < 0) {
			snprintf(err, errlen, "middlebox engine: %s", sd_strerror(ret));
			goto out;
		}
	}
	g.ifindex = t->client_ifindex;
	if ((ret = sd_netns_run(t->client_ns, open_gen, &g)) < 0 ||
	    (ret = sd_netns_run(t->server_ns, open_udp, &u)) < 0) {
		snprintf(err, errlen, "sockets: %s", sd_strerror(ret));
		goto out;
	}
	len = build_frame(t, o->payload, frame, sizeof(frame));
	if (len < 0) {
		ret = len;
		snprintf(err, errlen, "frame: %s", sd_strerror(ret));
		goto out;
	}
	if ((ret = latency(t, g.fd, o, r)) < 0) {
		snprintf(err, errlen, "latency: %s", sd_strerror(ret));
		goto out;
	}
	if ((ret = flood(g.fd, u.snmp, frame, (size_t)len, o->seconds, r)) < 0) {
		snprintf(err, errlen, "flood: %s", sd_strerror(ret));
		goto out;
	}
	if (m) {
		struct sd_mbox_stats st;

		if (sd_mbox_stats(m, &st) == 0 && getenv("BENCH_VERBOSE"))
			fprintf(stderr, "mbox: rx %llu forwarded %llu ignored %llu drop_pool %llu drop_tx %llu\n",
				(unsigned long long)st.rx, (unsigned long long)st.forwarded,
				(unsigned long long)st.ignored, (unsigned long long)st.drop_pool,
				(unsigned long long)st.drop_tx);
	}
out:
	if (g.fd >= 0)
		close(g.fd);
	if (u.fd >= 0)
		close(u.fd);
	if (u.snmp >= 0)
		close(u.snmp);
	sd_mbox_close(m);
	sd_topo_close(t);
	return ret;
}

static int usage(void)
{
	fputs("usage: mbox_bench [--seconds S] [--payload BYTES] [--latency-packets N] [--interval-us US]\n",
	      stderr);
	return 2;
}

int main(int argc, char **argv)
{
	struct opts o = { .seconds = 1.0, .payload = 64, .lat_n = 2000, .interval_us = 200 };
	struct result k, u;
	char err[400];

	for (int i = 1; i < argc; i++) {
		char *end = NULL;
		double v;

		if (i + 1 >= argc)
			return usage();
		v = strtod(argv[i + 1], &end);
		if (!end || *end || v <= 0)
			return usage();
		if (!strcmp(argv[i], "--seconds") && v <= 60)
			o.seconds = v;
		else if (!strcmp(argv[i], "--payload") && v >= 12 && v <= 1400)
			o.payload = (size_t)v;
		else if (!strcmp(argv[i], "--latency-packets") && v <= MAX_LAT)
			o.lat_n = (size_t)v;
		else if (!strcmp(argv[i], "--interval-us") && v >= 10 && v <= 1000000)
			o.interval_us = (unsigned)v;
		else
			return usage();
		i++;
	}
	if (geteuid() != 0) {
		fputs("mbox_bench: needs root\n", stderr);
		return 77;
	}
	if (run_mode(false, &o, &k, err, sizeof(err)) < 0) {
		fprintf(stderr, "mbox_bench: kernel forwarding: %s\n", err);
		return 3;
	}
	if (run_mode(true, &o, &u, err, sizeof(err)) < 0) {
		fprintf(stderr, "mbox_bench: user-space engine: %s\n", err);
		return 3;
	}
	printf("mode=kernel pps=%.0f offered_pps=%.0f lat_med_us=%.1f lat_p99_us=%.1f lat_n=%zu\n",
	       k.pps, k.sent_pps, k.lat_med_us, k.lat_p99_us, k.lat_got);
	printf("mode=userspace pps=%.0f offered_pps=%.0f lat_med_us=%.1f lat_p99_us=%.1f lat_n=%zu\n",
	       u.pps, u.sent_pps, u.lat_med_us, u.lat_p99_us, u.lat_got);
	printf("ratio_pps=%.2f added_lat_med_us=%.1f\n", k.pps > 0 ? u.pps / k.pps : 0,
	       u.lat_med_us - k.lat_med_us);
	return 0;
}
