/* SPDX-License-Identifier: MIT */
/* Per-namespace capture threads on plain AF_PACKET sockets, kept for a topology's life. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/socket.h>

#include "shakedown/observe.h"

#define MAX_NODES 16
#define ETH_HDR 14
#define BATCH 64
#define SNAP 65535
#define MAX_BYTES (256u << 20)

struct store {
	uint8_t *bytes;
	size_t len, cap;
	struct sd_obs_pkt *pkts;   /* data holds an offset into bytes until merged */
	size_t n, cap_pkts;
	bool full;
};

struct capturer {
	struct sd_observer *o;
	uint32_t node;
	int nsfd;
	pthread_t thread;
	bool started;
	int fd;
	int ret;                    /* open result */
	char err[128];
	uint8_t *rx;                /* BATCH receive buffers of SNAP bytes */
	struct store st;
	uint64_t sync_seen;         /* last sync generation served */
};

struct sd_observer {
	struct capturer cap[MAX_NODES];
	size_t n;
	int wake;                   /* eventfd: sync or stop requests */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned opened;            /* capturers done opening */
	uint64_t sync_gen;          /* bumped by sync; capturers answer */
	bool stop;
	struct sd_obs_pkt *merged;
	size_t nmerged;
};

static void store(struct capturer *c, const struct timespec *ts, const struct sockaddr_ll *sll,
		  const uint8_t *bytes, size_t caplen, size_t wire_len)
{
	struct store *s = &c->st;
	struct sd_obs_pkt *p;

	if (s->full || caplen < ETH_HDR)
		return;
	if (s->len + caplen > MAX_BYTES) {
		s->full = true;
		return;
	}
	if (s->len + caplen > s->cap) {
		size_t cap = s->cap ? s->cap : 1 << 16;
		uint8_t *b;

		while (cap < s->len + caplen)
			cap *= 2;
		if (!(b = realloc(s->bytes, cap))) {
			s->full = true;
			return;
		}
		s->bytes = b;
		s->cap = cap;
	}
	if (s->n == s->cap_pkts) {
		size_t cap = s->cap_pkts ? 2 * s->cap_pkts : 256;
		struct sd_obs_pkt *np = realloc(s->pkts, cap * sizeof(*np));

		if (!np) {
			s->full = true;
			return;
		}
		s->pkts = np;
		s->cap_pkts = cap;
	}
	memcpy(s->bytes + s->len, bytes, caplen);
	p = &s->pkts[s->n++];
	p->ts_ns = (uint64_t)ts->tv_sec * 1000000000ull + (uint64_t)ts->tv_nsec;
	p->node = c->node;
	p->ifindex = (uint32_t)sll->sll_ifindex;
	p->pkttype = sll->sll_pkttype;
	p->len = (uint32_t)caplen;
	p->wire_len = (uint32_t)wire_len;
	p->data = (const uint8_t *)(uintptr_t)s->len;
	s->len += caplen;
}

static int open_handle(struct capturer *c)
{
	struct sockaddr_ll sll;
	int fd, one = 1;

	if (setns(c->nsfd, CLONE_NEWNET) < 0) {
		snprintf(c->err, sizeof(c->err), "setns: %s", strerror(errno));
		return -errno;
	}
	c->rx = malloc((size_t)BATCH * SNAP);
	if (!c->rx)
		return -ENOMEM;
	/* Protocol 0 at creation, ETH_P_ALL at bind: the socket is hooked in
	 * once, without waiting for a grace period. Bound to no interface, it
	 * sees them all, both directions. */
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(c->err, sizeof(c->err), "socket: %s", strerror(errno));
		return -errno;
	}
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	/* FORCE needs CAP_NET_ADMIN in the initial user namespace, which a
	 * rootless run lacks; the plain option caps at net.core.rmem_max. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &(int){ 8 << 20 }, sizeof(int)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &(int){ 8 << 20 }, sizeof(int));
	if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		snprintf(c->err, sizeof(c->err), "AF_PACKET socket: %s", strerror(errno));
		close(fd);
		return -errno;
	}
	c->fd = fd;
	return 0;
}

static void drain(struct capturer *c)
{
	struct mmsghdr msg[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_ll from[BATCH];
	char ctl[BATCH][CMSG_SPACE(sizeof(struct timespec))];

	for (;;) {
		int n;

		for (int i = 0; i < BATCH; i++) {
			iov[i].iov_base = c->rx + (size_t)i * SNAP;
			iov[i].iov_len = SNAP;
			memset(&msg[i], 0, sizeof(msg[i]));
			msg[i].msg_hdr.msg_iov = &iov[i];
			msg[i].msg_hdr.msg_iovlen = 1;
			msg[i].msg_hdr.msg_name = &from[i];
			msg[i].msg_hdr.msg_namelen = sizeof(from[i]);
			msg[i].msg_hdr.msg_control = ctl[i];
			msg[i].msg_hdr.msg_controllen = sizeof(ctl[i]);
		}
		n = recvmmsg(c->fd, msg, BATCH, MSG_DONTWAIT | MSG_TRUNC, NULL);
		if (n <= 0)
			return;
		for (int i = 0; i < n; i++) {
			struct timespec ts = { 0, 0 };
			struct cmsghdr *cm;
			size_t len = msg[i].msg_len;

			for (cm = CMSG_FIRSTHDR(&msg[i].msg_hdr); cm; cm = CMSG_NXTHDR(&msg[i].msg_hdr, cm))
				if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS)
					memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
			if (!ts.tv_sec)
				clock_gettime(CLOCK_REALTIME, &ts);
			store(c, &ts, &from[i], iov[i].iov_base, len < SNAP ? len : SNAP, len);
		}
		if (n < BATCH)
			return;
	}
}

static void *capture_main(void *arg)
{
	struct capturer *c = arg;
	struct sd_observer *o = c->o;

	c->ret = open_handle(c);
	pthread_mutex_lock(&o->lock);
	o->opened++;
	pthread_cond_broadcast(&o->cond);
	pthread_mutex_unlock(&o->lock);
	if (c->ret < 0)
		return NULL;
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = c->fd, .events = POLLIN },
			{ .fd = o->wake, .events = POLLIN },
		};
		uint64_t gen;
		bool stop;

		poll(pfd, 2, 100);
		pthread_mutex_lock(&o->lock);
		drain(c);
		gen = o->sync_gen;
		stop = o->stop;
		if (gen != c->sync_seen) {
			c->sync_seen = gen;
			pthread_cond_broadcast(&o->cond);
		}
		pthread_mutex_unlock(&o->lock);
		if (stop)
			break;
		if (pfd[1].revents & POLLIN) {
			/* The eventfd stays readable until the last sync is
			 * served; yield instead of spinning on it. */
			sched_yield();
		}
	}
	close(c->fd);
	c->fd = -1;
	return NULL;
}

int sd_observer_open(const int *nsfds, size_t n, char *errbuf, size_t errlen,
		     struct sd_observer **out)
{
	struct sd_observer *o;
	int ret = 0;

	if (n == 0 || n > MAX_NODES)
		return -SD_EVALUE;
	o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->n = n;
	pthread_mutex_init(&o->lock, NULL);
	pthread_cond_init(&o->cond, NULL);
	o->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (o->wake < 0) {
		ret = -errno;
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		struct capturer *c = &o->cap[i];

		c->o = o;
		c->node = (uint32_t)i;
		c->nsfd = nsfds[i];
		c->fd = -1;
		if ((ret = -pthread_create(&c->thread, NULL, capture_main, c)) < 0) {
			pthread_mutex_lock(&o->lock);
			o->opened += (unsigned)(n - i);
			pthread_mutex_unlock(&o->lock);
			break;
		}
		c->started = true;
	}
	pthread_mutex_lock(&o->lock);
	while (o->opened < n)
		pthread_cond_wait(&o->cond, &o->lock);
	pthread_mutex_unlock(&o->lock);
	for (size_t i = 0; i < n && !ret; i++) {
		if (o->cap[i].ret < 0) {
			ret = o->cap[i].ret;
			if (errbuf)
				snprintf(errbuf, errlen, "capture in namespace %zu: %s", i, o->cap[i].err);
		}
	}
	if (ret < 0)
		goto fail;
	*out = o;
	return 0;
fail:
	sd_observer_close(o);
	return ret;
}

static int cmp_ts(const void *a, const void *b)
{
	const struct sd_obs_pkt *x = a, *y = b;

	if (x->ts_ns != y->ts_ns)
		return x->ts_ns < y->ts_ns ? -1 : 1;
	return x->node < y->node ? -1 : x->node > y->node;
}

int sd_observer_sync(struct sd_observer *o, const struct sd_obs_pkt **pkts, size_t *n)
{
	uint64_t one = 1, gen;
	size_t total = 0, k = 0;

	pthread_mutex_lock(&o->lock);
	gen = ++o->sync_gen;
	pthread_mutex_unlock(&o->lock);
	if (write(o->wake, &one, sizeof(one)) < 0)
		return -errno;
	pthread_mutex_lock(&o->lock);
	for (size_t i = 0; i < o->n; i++)
		while (o->cap[i].sync_seen < gen)
			pthread_cond_wait(&o->cond, &o->lock);
	{
		uint64_t v;

		if (read(o->wake, &v, sizeof(v)) < 0 && errno != EAGAIN) {
			pthread_mutex_unlock(&o->lock);
			return -errno;
		}
	}
	for (size_t i = 0; i < o->n; i++)
		total += o->cap[i].st.n;
	free(o->merged);
	o->merged = calloc(total ? total : 1, sizeof(*o->merged));
	if (!o->merged) {
		pthread_mutex_unlock(&o->lock);
		return -ENOMEM;
	}
	for (size_t i = 0; i < o->n; i++) {
		struct store *s = &o->cap[i].st;

		for (size_t j = 0; j < s->n; j++) {
			o->merged[k] = s->pkts[j];
			o->merged[k].data = s->bytes + (uintptr_t)s->pkts[j].data;
			k++;
		}
	}
	pthread_mutex_unlock(&o->lock);
	qsort(o->merged, k, sizeof(*o->merged), cmp_ts);
	o->nmerged = k;
	*pkts = o->merged;
	*n = k;
	return 0;
}

void sd_observer_reset(struct sd_observer *o)
{
	pthread_mutex_lock(&o->lock);
	for (size_t i = 0; i < o->n; i++) {
		o->cap[i].st.len = 0;
		o->cap[i].st.n = 0;
		o->cap[i].st.full = false;
	}
	free(o->merged);
	o->merged = NULL;
	o->nmerged = 0;
	pthread_mutex_unlock(&o->lock);
}

void sd_observer_close(struct sd_observer *o)
{
	uint64_t one = 1;

	if (!o)
		return;
	pthread_mutex_lock(&o->lock);
	o->stop = true;
	pthread_mutex_unlock(&o->lock);
	if (o->wake >= 0 && write(o->wake, &one, sizeof(one)) < 0) {
		/* the threads still see stop within their poll timeout */
	}
	/* Joining in parallel: each thread's close() waits out its own
	 * RCU grace period concurrently with the others. */
	for (size_t i = 0; i < o->n; i++)
		if (o->cap[i].started)
			pthread_join(o->cap[i].thread, NULL);
	for (size_t i = 0; i < o->n; i++) {
		free(o->cap[i].st.bytes);
		free(o->cap[i].st.pkts);
		free(o->cap[i].rx);
	}
	if (o->wake >= 0)
		close(o->wake);
	free(o->merged);
	pthread_mutex_destroy(&o->lock);
	pthread_cond_destroy(&o->cond);
	free(o);
}
