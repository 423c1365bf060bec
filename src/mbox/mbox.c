/* SPDX-License-Identifier: MIT */
/* The user-space middlebox engine's thread: its socket, frame buffers, delay lines, timers and control. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>

#include "shakedown/netns.h"
#include "shakedown/rng.h"
#include "shakedown/topo.h"
#include "mbox_int.h"

#define SOCK_BUF (4 << 20)
#define REQ_TIMEOUT_S 2

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- frame buffers ---------------------------------------------------------- */

uint8_t *sd_mbox_data(struct sd_mbox *m, uint32_t slot)
{
	return m->arena + (size_t)slot * m->slot_size;
}

uint32_t sd_mbox_slot_get(struct sd_mbox *m)
{
	return m->nfree ? m->freel[--m->nfree] : MB_NONE;
}

void sd_mbox_slot_put(struct sd_mbox *m, uint32_t slot)
{
	m->freel[m->nfree++] = slot;
}

uint32_t sd_mbox_slot_ip(struct sd_mbox *m, int out, const uint8_t *ip, size_t len)
{
	uint32_t slot;
	uint8_t *d;

	if (len < 1 || MB_ETH + len > m->slot_size)
		return MB_NONE;
	slot = sd_mbox_slot_get(m);
	if (slot == MB_NONE) {
		m->st.drop_pool++;
		return MB_NONE;
	}
	d = sd_mbox_data(m, slot);
	memcpy(d, m->side[out].peer_mac, 6);
	memcpy(d + 6, m->side[out].mac, 6);
	d[12] = (ip[0] >> 4) == 6 ? 0x86 : 0x08;
	d[13] = (ip[0] >> 4) == 6 ? 0xdd : 0x00;
	memcpy(d + MB_ETH, ip, len);
	m->len[slot] = (uint32_t)(MB_ETH + len);
	return slot;
}

/* ---- the generator ------------------------------------------------------------ */

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256** (Blackman and Vigna): fast, and plenty for coin flips. */
uint64_t sd_mbox_random(struct sd_mbox *m)
{
	uint64_t *s = m->rng;
	uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

bool sd_mbox_chance(struct sd_mbox *m, unsigned bp)
{
	/* Always one draw, so a hop's choices depend on its packets only. */
	uint64_t r = sd_mbox_random(m) >> 32;

	return ((r * 10000) >> 32) < bp;
}

/* splitmix64: spreads the hop name's hash over the state. */
static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/*
 * The hop's seed:S wins over the cell's; the hop's name is mixed in, so two
 * hops of one path draw differently. sd_rng (SHAKE256) turns the text into
 * the state; a failure (a seed too long for it) falls back to entropy.
 */
static void seed_rng(struct sd_mbox *m, const char *seed)
{
	const char *s = m->hop.seed[0] ? m->hop.seed : seed;
	struct sd_rng r;
	uint8_t k[32];
	uint64_t h = 0xcbf29ce484222325ull;   /* FNV-1a */

	if ((s ? sd_rng_seed(&r, s) : sd_rng_fresh(&r)) < 0 && sd_rng_fresh(&r) < 0)
		memset(&r, 0, sizeof(r));
	if (sd_rng_bytes(&r, k, sizeof(k)) < 0)
		memset(k, 0x5a, sizeof(k));
	for (const char *c = m->hop.name; *c; c++)
		h = (h ^ (uint8_t)*c) * 0x100000001b3ull;
	for (int i = 0; i < 4; i++) {
		uint64_t w;

		memcpy(&w, k + 8 * i, 8);
		m->rng[i] = w ^ splitmix(&h);
	}
	if (!(m->rng[0] | m->rng[1] | m->rng[2] | m->rng[3]))
		m->rng[0] = 1;
}

/* ---- output ------------------------------------------------------------------ */

static void tx_flush(struct sd_mbox *m)
{
	uint32_t i = 0;

	for (uint32_t k = 0; k < m->ntx; k++) {
		m->txv[k].iov_base = sd_mbox_data(m, m->tx_slot[k]);
		m->txv[k].iov_len = m->len[m->tx_slot[k]];
		memset(&m->txm[k], 0, sizeof(m->txm[k]));
		m->txm[k].msg_hdr.msg_name = &m->side[m->tx_side[k]].to;
		m->txm[k].msg_hdr.msg_namelen = sizeof(m->side[0].to);
		m->txm[k].msg_hdr.msg_iov = &m->txv[k];
		m->txm[k].msg_hdr.msg_iovlen = 1;
	}
	/* Each round sends at least one frame or gives one up. */
	while (i < m->ntx) {
		int r = sendmmsg(m->fd, m->txm + i, m->ntx - i, MSG_DONTWAIT);

		if (r > 0) {
			m->st.forwarded += (uint64_t)r;
			i += (uint32_t)r;
		} else if (r < 0 && errno == EINTR) {
			continue;
		} else {
			/* A full queue on a veth (ENOBUFS) or our send buffer
			 * (EAGAIN): the frame is lost, as on a congested port. */
			m->st.drop_tx++;
			i++;
		}
	}
	for (uint32_t k = 0; k < m->ntx; k++)
		sd_mbox_slot_put(m, m->tx_slot[k]);
	m->ntx = 0;
}

static void tx_push(struct sd_mbox *m, uint32_t slot, int out)
{
	if (m->ntx == MB_TXQ)
		tx_flush(m);
	m->tx_slot[m->ntx] = slot;
	m->tx_side[m->ntx++] = (uint8_t)out;
}

void sd_mbox_emit(struct sd_mbox *m, uint32_t slot, int out)
{
	struct mb_line *l = &m->line[out];
	uint8_t *d = sd_mbox_data(m, slot);
	uint64_t due;

	memcpy(d, m->side[out].peer_mac, 6);
	memcpy(d + 6, m->side[out].mac, 6);
	if (!m->delay_ns && !m->jitter_ns) {
		tx_push(m, slot, out);
		return;
	}
	/* A FIFO per side: jitter stretches the gaps, never swaps packets. */
	due = m->now + m->delay_ns + (m->jitter_ns ? sd_mbox_random(m) % (m->jitter_ns + 1) : 0);
	if (due < m->last_due[out])
		due = m->last_due[out];
	m->last_due[out] = due;
	/* Every slot is in one place at a time: the ring has room. */
	l->slot[(l->head + l->n) % MB_SLOTS] = slot;
	l->due[(l->head + l->n) % MB_SLOTS] = due;
	l->n++;
	m->st.delayed++;
}

/* ---- timers ------------------------------------------------------------------- */

static void timers(struct sd_mbox *m)
{
	for (int s = 0; s < 2; s++) {
		struct mb_line *l = &m->line[s];

		while (l->n && l->due[l->head] <= m->now) {
			tx_push(m, l->slot[l->head], s);
			l->head = (l->head + 1) % MB_SLOTS;
			l->n--;
		}
		if (m->held[s] != MB_NONE && m->now >= m->held_until[s]) {
			uint32_t slot = m->held[s];

			m->held[s] = MB_NONE;
			sd_mbox_pass(m, slot, s);
		}
	}
	if (m->tick_min && m->now / 1000 >= m->tick_min)
		sd_mbox_flow_ticks(m);
	sd_mbox_defrag_expire(m);
}

static uint64_t next_deadline(const struct sd_mbox *m)
{
	uint64_t t = m->now + MB_WAIT_NS;

	for (int s = 0; s < 2; s++) {
		if (m->line[s].n && m->line[s].due[m->line[s].head] < t)
			t = m->line[s].due[m->line[s].head];
		if (m->held[s] != MB_NONE && m->held_until[s] < t)
			t = m->held_until[s];
	}
	if (m->tick_min && m->tick_min * 1000 < t)
		t = m->tick_min * 1000;
	if (sd_mbox_defrag_deadline(m) && sd_mbox_defrag_deadline(m) < t)
		t = sd_mbox_defrag_deadline(m);
	return t;
}

/* ---- input ---------------------------------------------------------------------- */

static int side_of(const struct sd_mbox *m, int ifindex)
{
	if (ifindex == m->side[MB_LEFT].ifindex)
		return MB_LEFT;
	if (ifindex == m->side[MB_RIGHT].ifindex)
		return MB_RIGHT;
	return -1;
}

/* Up to MB_RX_ROUNDS batches, straight into free buffers. */
static int rx(struct sd_mbox *m)
{
	for (int round = 0; round < MB_RX_ROUNDS; round++) {
		uint32_t n = m->nfree < MB_BATCH ? m->nfree : MB_BATCH;
		int r;

		if (!n)
			return 0;
		for (uint32_t i = 0; i < n; i++) {
			m->rxs[i] = m->freel[--m->nfree];
			m->rxv[i].iov_base = sd_mbox_data(m, m->rxs[i]);
			m->rxv[i].iov_len = m->slot_size;
			memset(&m->rxm[i], 0, sizeof(m->rxm[i]));
			m->rxm[i].msg_hdr.msg_iov = &m->rxv[i];
			m->rxm[i].msg_hdr.msg_iovlen = 1;
			m->rxm[i].msg_hdr.msg_name = &m->rxa[i];
			m->rxm[i].msg_hdr.msg_namelen = sizeof(m->rxa[i]);
		}
		r = recvmmsg(m->fd, m->rxm, n, MSG_DONTWAIT, NULL);
		if (r < 0) {
			int err = errno;

			for (uint32_t i = 0; i < n; i++)
				sd_mbox_slot_put(m, m->rxs[i]);
			if (err == EAGAIN || err == EINTR)
				return 0;
			return -err;
		}
		m->now = mono_ns();
		for (uint32_t i = (uint32_t)r; i < n; i++)
			sd_mbox_slot_put(m, m->rxs[i]);
		for (int i = 0; i < r; i++) {
			uint32_t slot = m->rxs[i];
			int in = side_of(m, m->rxa[i].sll_ifindex);

			m->st.rx++;
			/* Only what is addressed to the hop's MAC is routed;
			 * a frame longer than a buffer is not a frame of these
			 * links. */
			if (in < 0 || m->rxa[i].sll_pkttype != PACKET_HOST ||
			    (m->rxm[i].msg_hdr.msg_flags & MSG_TRUNC)) {
				m->st.ignored++;
				sd_mbox_slot_put(m, slot);
				continue;
			}
			m->len[slot] = m->rxm[i].msg_len;
			sd_mbox_frame(m, slot, in);
		}
		if ((uint32_t)r < n)
			return 0;
	}
	return 0;
}

/* ---- control ------------------------------------------------------------------- */

static void reset(struct sd_mbox *m, const char *seed)
{
	sd_mbox_flows_clear(m);
	sd_mbox_defrag_clear(m, false);
	for (int s = 0; s < 2; s++) {
		struct mb_line *l = &m->line[s];

		while (l->n) {
			sd_mbox_slot_put(m, l->slot[l->head]);
			l->head = (l->head + 1) % MB_SLOTS;
			l->n--;
		}
		l->head = 0;
		m->last_due[s] = 0;
		if (m->held[s] != MB_NONE)
			sd_mbox_slot_put(m, m->held[s]);
		m->held[s] = MB_NONE;
	}
	memset(&m->st, 0, sizeof(m->st));
	m->st.insp_kind = -1;
	m->icmp_tokens = 50 * 1000000ull;
	m->icmp_last = m->now;
	seed_rng(m, seed);
}

/* Serves the pending requests; true when the thread is to stop. */
static bool control(struct sd_mbox *m)
{
	char seed[sizeof(m->req_seed)];
	uint64_t v, gen;
	unsigned req;
	bool stop, null_seed;

	if (read(m->wake, &v, sizeof(v)) < 0 && errno != EAGAIN) {
		/* the requests below are still served */
	}
	pthread_mutex_lock(&m->lock);
	stop = m->stop;
	req = m->req;
	m->req = 0;
	gen = m->req_gen;
	memcpy(seed, m->req_seed, sizeof(seed));
	null_seed = m->req_seed_null;
	pthread_mutex_unlock(&m->lock);
	if (stop)
		return true;
	if (req & MB_REQ_RESET)
		reset(m, null_seed ? NULL : seed);
	pthread_mutex_lock(&m->lock);
	if (req & MB_REQ_STATS) {
		m->snap = m->st;
		m->snap.held = m->line[0].n + m->line[1].n + (m->held[0] != MB_NONE) +
			       (m->held[1] != MB_NONE);
	}
	m->done_gen = gen;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	return false;
}

/* ---- the thread ------------------------------------------------------------------ */

/*
 * One socket for both interfaces: bound to no interface it sees them all
 * (sll_ifindex says which), and sendmmsg names the interface per frame.
 * One socket also means one RCU grace period at close, not two. Protocol
 * 0 at creation: it is hooked in once, at bind, with no grace period.
 * Outgoing frames are not looped back to it (its own sends, the kernel's).
 */
static int open_socket(struct sd_mbox *m)
{
	struct sockaddr_ll sll;
	int fd, one = 1, sz = SOCK_BUF;

	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0)
		goto fail;
	/* FORCE needs CAP_NET_ADMIN in the initial user namespace (a rootless
	 * run lacks it); the plain options cap at the sysctl limits. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		goto fail;
	m->fd = fd;
	return 0;
fail:
	{
		int err = -errno;

		close(fd);
		return err;
	}
}

static int run(struct sd_mbox *m)
{
	for (;;) {
		struct pollfd pfd[2] = {
			/* A full pool reads nothing: the socket's own buffer
			 * then fills and drops, like a device's. */
			{ .fd = m->fd, .events = m->nfree ? POLLIN : 0 },
			{ .fd = m->wake, .events = POLLIN },
		};
		struct timespec ts;
		uint64_t wait;
		int ret, n;

		m->now = mono_ns();
		timers(m);
		tx_flush(m);
		wait = next_deadline(m);
		wait = wait > m->now ? wait - m->now : 0;
		ts.tv_sec = (time_t)(wait / 1000000000u);
		ts.tv_nsec = (long)(wait % 1000000000u);
		n = ppoll(pfd, 2, &ts, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		/* On a timeout too: a stop whose eventfd write failed. */
		if ((n == 0 || (pfd[1].revents & POLLIN)) && control(m))
			return 0;
		if (pfd[0].revents & (POLLIN | POLLERR)) {
			ret = rx(m);
			if (ret < 0)
				return ret;
		}
	}
}

static void *mbox_main(void *arg)
{
	struct sd_mbox *m = arg;
	sigset_t all;
	int ret;

	/* Signals are the process's business (the CLI waits for them in its
	 * main thread), never this thread's. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	/* For top and perf: "mbox:<hop>". */
	{
		char name[16];

		snprintf(name, sizeof(name), "mbox:%.10s", m->hop.name);
		(void)pthread_setname_np(pthread_self(), name);
	}
	ret = open_socket(m);

	pthread_mutex_lock(&m->lock);
	m->open_ret = ret;
	m->opened = true;
	m->dead = ret < 0;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	if (ret < 0)
		return NULL;
	m->now = mono_ns();
	reset(m, NULL);
	ret = run(m);
	for (int s = 0; s < 2; s++)
		m->held[s] = MB_NONE;
	sd_mbox_flows_clear(m);
	sd_mbox_defrag_clear(m, true);
	sd_buf_free(&m->scratch);
	close(m->fd);
	m->fd = -1;
	pthread_mutex_lock(&m->lock);
	m->dead = true;
	m->open_ret = ret;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

/* ---- the API ----------------------------------------------------------------------- */

static void side_from(struct mb_side *s, const struct sd_topo_end *mine,
		      const struct sd_topo_end *peer, unsigned mtu)
{
	s->ifindex = mine->ifindex;
	memcpy(s->mac, mine->mac, 6);
	memcpy(s->peer_mac, peer->mac, 6);
	memcpy(s->ip4, mine->ip4, 4);
	memcpy(s->ip6, mine->ip6, 16);
	s->mtu = mtu;
	memset(&s->to, 0, sizeof(s->to));
	s->to.sll_family = AF_PACKET;
	s->to.sll_ifindex = mine->ifindex;
	s->to.sll_halen = 6;
	memcpy(s->to.sll_addr, peer->mac, 6);
}

static void mbox_free(struct sd_mbox *m)
{
	if (m->wake >= 0)
		close(m->wake);
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->cond);
	free(m->arena);
	free(m);
}

int sd_mbox_open(const struct sd_topo *t, size_t node, const struct sd_path_hop *h,
		 struct sd_mbox **out)
{
	pthread_condattr_t ca;
	struct sd_mbox *m;
	unsigned big;
	int ret;

	*out = NULL;
	if (node < 1 || node + 1 >= t->nnodes || t->node[node].role != SD_TOPO_HOP)
		return -SD_EVALUE;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->fd = -1;
	m->wake = -1;
	m->hop = *h;
	m->nsfd = t->node[node].nsfd;
	side_from(&m->side[MB_LEFT], &t->link[node - 1].end[SD_TOPO_RIGHT],
		  &t->link[node - 1].end[SD_TOPO_LEFT], t->link[node - 1].mtu);
	side_from(&m->side[MB_RIGHT], &t->link[node].end[SD_TOPO_LEFT],
		  &t->link[node].end[SD_TOPO_RIGHT], t->link[node].mtu);
	m->want_flows = h->insp.kinds || h->truncate_len;
	m->delay_ns = (uint64_t)h->delay_ms * 1000000u;
	m->jitter_ns = (uint64_t)h->jitter_ms * 1000000u;
	m->held[0] = m->held[1] = MB_NONE;
	/* Room for the largest frame of either link (a VLAN tag included),
	 * and for the ICMPv6 errors the hop writes (1280 bytes). */
	big = m->side[0].mtu > m->side[1].mtu ? m->side[0].mtu : m->side[1].mtu;
	if (big < 1280)
		big = 1280;
	m->slot_size = (uint32_t)((big + MB_ETH + 4 + 63) & ~63u);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->cond, &ca);
	pthread_condattr_destroy(&ca);
	/* Untouched pages cost nothing: a pool of 1500-byte links is 6.5 MB
	 * of address space, resident only as far as the delay lines reach. */
	m->arena = malloc((size_t)MB_SLOTS * m->slot_size);
	m->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!m->arena || m->wake < 0) {
		ret = m->arena ? -errno : -ENOMEM;
		mbox_free(m);
		return ret;
	}
	for (uint32_t i = 0; i < MB_SLOTS; i++)
		m->freel[i] = MB_SLOTS - 1 - i;
	m->nfree = MB_SLOTS;
	ret = sd_netns_thread(m->nsfd, mbox_main, m, &m->thread);
	if (ret < 0) {
		mbox_free(m);
		return ret;
	}
	m->started = true;
	pthread_mutex_lock(&m->lock);
	while (!m->opened)
		pthread_cond_wait(&m->cond, &m->lock);
	ret = m->open_ret;
	pthread_mutex_unlock(&m->lock);
	if (ret < 0) {
		pthread_join(m->thread, NULL);
		mbox_free(m);
		return ret;
	}
	*out = m;
	return 0;
}

static int request(struct sd_mbox *m, unsigned bits, const char *seed)
{
	struct timespec dl;
	uint64_t one = 1, gen;
	int ret = 0;

	pthread_mutex_lock(&m->lock);
	if (m->dead) {
		pthread_mutex_unlock(&m->lock);
		return -EIO;
	}
	m->req |= bits;
	if (bits & MB_REQ_RESET) {
		m->req_seed_null = !seed;
		snprintf(m->req_seed, sizeof(m->req_seed), "%s", seed ? seed : "");
	}
	gen = ++m->req_gen;
	pthread_mutex_unlock(&m->lock);
	if (write(m->wake, &one, sizeof(one)) < 0)
		return -errno;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += REQ_TIMEOUT_S;
	pthread_mutex_lock(&m->lock);
	while (m->done_gen < gen && !m->dead && ret == 0)
		ret = pthread_cond_timedwait(&m->cond, &m->lock, &dl);
	if (m->done_gen >= gen)
		ret = 0;
	else
		ret = m->dead ? -EIO : -ETIMEDOUT;
	pthread_mutex_unlock(&m->lock);
	return ret;
}

int sd_mbox_reset(struct sd_mbox *m, const char *seed)
{
	return request(m, MB_REQ_RESET, seed);
}

int sd_mbox_stats(struct sd_mbox *m, struct sd_mbox_stats *st)
{
	int ret = request(m, MB_REQ_STATS, NULL);

	if (ret < 0)
		return ret;
	pthread_mutex_lock(&m->lock);
	*st = m->snap;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

void sd_mbox_stop(struct sd_mbox *m)
{
	uint64_t one = 1;

	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->stop = true;
	pthread_mutex_unlock(&m->lock);
	/* Without the eventfd the thread still sees stop within MB_WAIT_NS. */
	(void)!write(m->wake, &one, sizeof(one));
}

void sd_mbox_close(struct sd_mbox *m)
{
	if (!m)
		return;
	sd_mbox_stop(m);
	if (m->started)
		pthread_join(m->thread, NULL);
	mbox_free(m);
}
