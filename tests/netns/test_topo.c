/* SPDX-License-Identifier: MIT */
/*
 * The topology builder, with real packets through real namespaces.
 *
 *             link0 10.0.0.0/24                link1 10.0.1.0/24
 *                   fd00::/64                        fd00:0:0:1::/64
 *   +--------+                    +--------+                    +--------+
 *   | client | c0 ---------- h1l  |  hop1  |  h1r ---------- s0  | server |
 *   +--------+ .1              .2 +--------+  .1             .2  +--------+
 *   AF_PACKET on c0:              nft rules, tbf                UDP 7777, TCP 8443
 *   inject, capture; .1 is        (as the path says)            listeners,
 *   the engine's, not                                           AF_PACKET on s0
 *   configured on c0
 *
 *   tunnel-1300-pmtud has two hops (lan, tunnel) and link2 10.0.2.0/24.
 *
 *   +---------+  w<i> ------ x<i>  in node i, for every node: once the
 *   | witness |                    topology is closed (or its process
 *   +---------+                    killed), w<i> vanishes when the kernel
 *                                  has destroyed node i.
 *
 * Every built-in path is built and checked: interfaces, MTUs, MACs,
 * offloads, addresses (none on c0), neighbours, routes with advmss,
 * sysctls and nftables rules; then packets: echo through the path, UDP
 * from the server's kernel to the engine address, PMTUD (ICMP
 * frag-needed / packet-too-big, or silence when filtered), MSS in the
 * SYN-ACK, IP fragments delivered or dropped. The host's links,
 * addresses, routes, rules, nft ruleset and sysctls must be the same
 * before and after, and every namespace must be gone after close.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/ethtool.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/neighbour.h>
#include <linux/sockios.h>
#include <netinet/in.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/tbf.h>
#include <netlink/route/route.h>
#include <netlink/route/rule.h>
#include <netlink/route/tc.h>
#include <nftables/libnftables.h>

#include "check.h"
#include "shakedown/buf.h"
#include "shakedown/netns.h"
#include "shakedown/path.h"
#include "shakedown/pkt.h"
#include "shakedown/topo.h"

/* IF_OPER_UP of <linux/if.h> (RFC 2863 operStatus up), which cannot be
 * included together with <net/if.h>. */
#define OPER_UP 6

#define UDP_PORT 7777
#define TCP_PORT 8443
#define ENGINE_PORT 40000

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- sockets and netlink inside a namespace --------------------------- */

struct sock_req {
	int domain, type, proto;
};

static int mksock(void *arg)
{
	const struct sock_req *r = arg;
	int fd = socket(r->domain, r->type | SOCK_CLOEXEC, r->proto);

	return fd < 0 ? -errno : fd;
}

static int ns_socket(int nsfd, int domain, int type, int proto)
{
	struct sock_req r = { domain, type, proto };

	return sd_netns_run(nsfd, mksock, &r);
}

static int mknl(void *arg)
{
	struct nl_sock **sk = arg;

	*sk = nl_socket_alloc();
	if (!*sk)
		return -ENOMEM;
	if (nl_connect(*sk, NETLINK_ROUTE) < 0) {
		nl_socket_free(*sk);
		*sk = NULL;
		return -EIO;
	}
	return 0;
}

static struct nl_sock *ns_nl(int nsfd)
{
	struct nl_sock *sk = NULL;

	if (sd_netns_run(nsfd, mknl, &sk) < 0)
		return NULL;
	return sk;
}

struct sysctl_req {
	const char *key;
	char val[64];
};

static int read_sysctl(void *arg)
{
	struct sysctl_req *r = arg;

	return sd_netns_sysctl_read(r->key, r->val, sizeof(r->val));
}

static const char *ns_sysctl(int nsfd, const char *key)
{
	static struct sysctl_req r;

	r.key = key;
	if (sd_netns_run(nsfd, read_sysctl, &r) < 0)
		snprintf(r.val, sizeof(r.val), "(error)");
	return r.val;
}

static int netns_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char path[64], target[64];
		ssize_t l;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", atoi(e->d_name));
		l = readlink(path, target, sizeof(target) - 1);
		if (l > 0) {
			target[l] = 0;
			n += strncmp(target, "net:[", 5) == 0;
		}
	}
	closedir(d);
	return n;
}

/* fds the test was started with: not ours to judge. */
static bool inherited[1024];

static void note_inherited(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.' && atoi(e->d_name) < 1024 && atoi(e->d_name) != dirfd(d))
			inherited[atoi(e->d_name)] = true;
	if (d)
		closedir(d);
}

/* Every fd the test and the library opened must be close-on-exec. */
static void check_cloexec(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);

		if (e->d_name[0] == '.' || fd == dirfd(d) || (fd < 1024 && inherited[fd]))
			continue;
		if (!(fcntl(fd, F_GETFD) & FD_CLOEXEC)) {
			char path[64], target[128] = "";

			snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
			if (readlink(path, target, sizeof(target) - 1) < 0)
				target[0] = 0;
			fprintf(stderr, "fd %d (%s) lacks FD_CLOEXEC\n", fd, target);
			CHECK(0);
		}
	}
	closedir(d);
}

/* ---- the host, before and after ---------------------------------------- */

static void dump_addr(FILE *f, const char *what, struct nl_addr *a)
{
	char buf[128];

	fprintf(f, " %s %s", what, a ? nl_addr2str(a, buf, sizeof(buf)) : "-");
}

static void host_link(struct nl_object *o, void *arg)
{
	struct rtnl_link *l = (struct rtnl_link *)o;

	fprintf(arg, "link %d %s mtu %u up %d", rtnl_link_get_ifindex(l), rtnl_link_get_name(l),
		rtnl_link_get_mtu(l), !!(rtnl_link_get_flags(l) & IFF_UP));
	dump_addr(arg, "mac", rtnl_link_get_addr(l));
	fputc('\n', arg);
}

static void host_addr(struct nl_object *o, void *arg)
{
	struct rtnl_addr *a = (struct rtnl_addr *)o;

	fprintf(arg, "addr %d fam %d", rtnl_addr_get_ifindex(a), rtnl_addr_get_family(a));
	dump_addr(arg, "local", rtnl_addr_get_local(a));
	fputc('\n', arg);
}

static void host_route(struct nl_object *o, void *arg)
{
	struct rtnl_route *r = (struct rtnl_route *)o;

	fprintf(arg, "route fam %d table %u type %u proto %u prio %u", rtnl_route_get_family(r),
		rtnl_route_get_table(r), rtnl_route_get_type(r), rtnl_route_get_protocol(r),
		rtnl_route_get_priority(r));
	dump_addr(arg, "dst", rtnl_route_get_dst(r));
	for (int i = 0; i < rtnl_route_get_nnexthops(r); i++) {
		struct rtnl_nexthop *nh = rtnl_route_nexthop_n(r, i);

		fprintf(arg, " nh oif %d", rtnl_route_nh_get_ifindex(nh));
		dump_addr(arg, "via", rtnl_route_nh_get_gateway(nh));
	}
	fputc('\n', arg);
}

static void host_rule(struct nl_object *o, void *arg)
{
	struct rtnl_rule *r = (struct rtnl_rule *)o;

	fprintf(arg, "rule fam %d prio %u table %u action %u", rtnl_rule_get_family(r),
		rtnl_rule_get_prio(r), rtnl_rule_get_table(r), rtnl_rule_get_action(r));
	dump_addr(arg, "src", rtnl_rule_get_src(r));
	dump_addr(arg, "dst", rtnl_rule_get_dst(r));
	fputc('\n', arg);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The host's network state as text: what the harness must never change.
 * Read from this (the main) thread, which never leaves the host namespace.
 */
static char *host_state(void)
{
	static const char *const keys[] = {
		"net/ipv4/ip_forward", "net/ipv6/conf/all/forwarding",
		"net/ipv4/conf/all/rp_filter", "net/ipv4/conf/default/rp_filter",
		"net/ipv6/conf/default/addr_gen_mode", "net/ipv6/conf/default/accept_dad",
		"net/ipv6/conf/all/disable_ipv6", "net/ipv6/conf/default/disable_ipv6",
		"net/ipv4/tcp_no_metrics_save",
	};
	struct nl_sock *sk = nl_socket_alloc();
	struct nl_cache *c;
	struct nft_ctx *nft;
	char *text = NULL, *names[256];
	size_t len = 0, nn = 0;
	FILE *f = open_memstream(&text, &len);
	DIR *d;
	struct dirent *e;

	if (!f || !sk || nl_connect(sk, NETLINK_ROUTE) < 0)
		goto out;
	if (rtnl_link_alloc_cache(sk, AF_UNSPEC, &c) == 0) {
		nl_cache_foreach(c, host_link, f);
		nl_cache_free(c);
	}
	if (rtnl_addr_alloc_cache(sk, &c) == 0) {
		nl_cache_foreach(c, host_addr, f);
		nl_cache_free(c);
	}
	if (rtnl_route_alloc_cache(sk, AF_UNSPEC, 0, &c) == 0) {
		nl_cache_foreach(c, host_route, f);
		nl_cache_free(c);
	}
	if (rtnl_rule_alloc_cache(sk, AF_UNSPEC, &c) == 0) {
		nl_cache_foreach(c, host_rule, f);
		nl_cache_free(c);
	}
	nft = nft_ctx_new(NFT_CTX_DEFAULT);
	if (nft) {
		/* Stateless: the host's own counters may move meanwhile. */
		nft_ctx_output_set_flags(nft, NFT_CTX_OUTPUT_STATELESS);
		if (nft_ctx_buffer_output(nft) == 0 && nft_ctx_buffer_error(nft) == 0 &&
		    nft_run_cmd_from_buffer(nft, "list ruleset") == 0)
			fprintf(f, "nft:\n%s\n", nft_ctx_get_output_buffer(nft));
		nft_ctx_free(nft);
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char v[64];

		if (sd_netns_sysctl_read(keys[i], v, sizeof(v)) < 0)
			snprintf(v, sizeof(v), "-");
		fprintf(f, "sysctl %s = %s\n", keys[i], v);
	}
	/* ip netns list, as the host sees it (the test runs in a mount
	 * namespace of its own; PID 1 is in the host's). */
	d = opendir("/proc/1/root/run/netns");
	while (d && (e = readdir(d)) && nn < 256)
		if (e->d_name[0] != '.')
			names[nn++] = strdup(e->d_name);
	if (d)
		closedir(d);
	qsort(names, nn, sizeof(names[0]), cmp_str);
	fprintf(f, "netns:");
	for (size_t i = 0; i < nn; i++) {
		fprintf(f, " %s", names[i] ? names[i] : "?");
		free(names[i]);
	}
	fputc('\n', f);
out:
	if (f)
		fclose(f);
	nl_socket_free(sk);
	return text;
}

/* ---- a witness of namespace destruction --------------------------------- */

struct witness {
	int nsfd;
	struct nl_sock *sk;
	int mon;
};

static int witness_init(void *arg)
{
	struct witness *w = arg;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK };

	if (mknl(&w->sk) < 0)
		return -EIO;
	w->mon = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (w->mon < 0)
		return -errno;
	return bind(w->mon, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
}

static int witness_open(struct witness *w)
{
	w->sk = NULL;
	w->mon = -1;
	w->nsfd = sd_netns_open();
	if (w->nsfd < 0)
		return w->nsfd;
	return sd_netns_run(w->nsfd, witness_init, w);
}

static void witness_close(struct witness *w)
{
	if (w->sk)
		nl_socket_free(w->sk);
	if (w->mon >= 0)
		close(w->mon);
	if (w->nsfd >= 0)
		close(w->nsfd);
}

/* A veth w<i> here, its peer x<i> in nsfd. */
static int witness_add(struct witness *w, int nsfd, size_t i)
{
	struct rtnl_link *l = rtnl_link_veth_alloc();
	struct rtnl_link *p = rtnl_link_veth_get_peer(l);
	char name[16];
	int ret;

	snprintf(name, sizeof(name), "w%zu", i);
	rtnl_link_set_name(l, name);
	snprintf(name, sizeof(name), "x%zu", i);
	rtnl_link_set_name(p, name);
	rtnl_link_set_ns_fd(p, nsfd);
	ret = rtnl_link_add(w->sk, l, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_link_put(p);
	rtnl_link_put(l);
	return ret;
}

/* Waits until n witness ends were deleted; returns how many were. */
static int witness_wait(struct witness *w, int n, double ms)
{
	double t0 = now_ms();
	int got = 0;
	static uint8_t buf[16384];

	while (got < n && now_ms() - t0 < ms) {
		struct pollfd pf = { w->mon, POLLIN, 0 };
		struct nlmsghdr *h;
		ssize_t len;
		int rem;

		if (poll(&pf, 1, 20) <= 0)
			continue;
		len = recv(w->mon, buf, sizeof(buf), 0);
		if (len <= 0)
			continue;
		rem = (int)len;
		for (h = (struct nlmsghdr *)buf; nlmsg_ok(h, rem); h = nlmsg_next(h, &rem)) {
			struct nlattr *tb[IFLA_MAX + 1];

			if (h->nlmsg_type != RTM_DELLINK)
				continue;
			if (nlmsg_parse(h, sizeof(struct ifinfomsg), tb, IFLA_MAX, NULL) == 0 &&
			    tb[IFLA_IFNAME] && nla_get_string(tb[IFLA_IFNAME])[0] == 'w')
				got++;
		}
	}
	return got;
}

/* ---- static checks of a built topology ---------------------------------- */

static int ethtool_get(int fd, const char *ifname, uint32_t cmd)
{
	struct ethtool_value ev = { .cmd = cmd };
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (char *)&ev;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0)
		return -errno;
	return (int)ev.data;
}

static bool addr_is(struct nl_addr *a, int family, const uint8_t *want, int plen)
{
	size_t n = family == AF_INET ? 4 : 16;

	return a && nl_addr_get_family(a) == family && nl_addr_get_len(a) == n &&
	       memcmp(nl_addr_get_binary_addr(a), want, n) == 0 &&
	       (plen < 0 || nl_addr_get_prefixlen(a) == (unsigned)plen);
}

static void prefix_of(int family, size_t link, uint8_t out[16])
{
	memset(out, 0, 16);
	if (family == AF_INET) {
		out[0] = 10;
		out[2] = (uint8_t)link;
	} else {
		out[0] = 0xfd;
		out[7] = (uint8_t)link;
	}
}

static void check_links(const struct sd_topo *t, size_t i, struct nl_sock *sk)
{
	struct nl_cache *c = NULL;
	struct nl_object *o;
	size_t want = 0, seen = 0;
	int fd = ns_socket(t->node[i].nsfd, AF_INET, SOCK_DGRAM, 0);

	CHECK(fd >= 0);
	CHECK_INT(rtnl_link_alloc_cache(sk, AF_UNSPEC, &c), 0);
	if (!c)
		goto out;
	for (o = nl_cache_get_first(c); o; o = nl_cache_get_next(o))
		if (strcmp(rtnl_link_get_name((struct rtnl_link *)o), "lo") != 0)
			seen++;
	for (size_t k = 0; k < t->nlinks; k++)
		for (int s = 0; s < 2; s++) {
			const struct sd_topo_end *e = &t->link[k].end[s];
			struct rtnl_link *l;

			if (e->node != i)
				continue;
			want++;
			l = rtnl_link_get(c, e->ifindex);
			CHECK(l != NULL);
			if (!l)
				continue;
			CHECK_STR(rtnl_link_get_name(l), e->ifname);
			CHECK_INT(rtnl_link_get_mtu(l), t->link[k].mtu);
			CHECK(rtnl_link_get_addr(l) &&
			      memcmp(nl_addr_get_binary_addr(rtnl_link_get_addr(l)), e->mac, 6) == 0);
			CHECK(rtnl_link_get_flags(l) & IFF_UP);
			/* Ready the moment sd_topo_open returned. */
			CHECK_INT(rtnl_link_get_operstate(l), OPER_UP);
			CHECK_STR(rtnl_link_get_type(l), "veth");
			rtnl_link_put(l);
			/* Offloads off, read back through ethtool. */
			CHECK_INT(ethtool_get(fd, e->ifname, ETHTOOL_GTXCSUM), 0);
			CHECK_INT(ethtool_get(fd, e->ifname, ETHTOOL_GTSO), 0);
			CHECK_INT(ethtool_get(fd, e->ifname, ETHTOOL_GGSO), 0);
			CHECK_INT(ethtool_get(fd, e->ifname, ETHTOOL_GGRO), 0);
			CHECK_INT(ethtool_get(fd, e->ifname, ETHTOOL_GLINK), 1);
		}
	CHECK_INT(seen, want);
	CHECK_INT(want, t->node[i].role == SD_TOPO_HOP ? 2 : 1);
out:
	if (c)
		nl_cache_free(c);
	if (fd >= 0)
		close(fd);
}

static void check_addrs(const struct sd_topo *t, size_t i, struct nl_sock *sk)
{
	struct nl_cache *c = NULL;
	struct nl_object *o;
	size_t want = 0, seen = 0;

	CHECK_INT(rtnl_addr_alloc_cache(sk, &c), 0);
	if (!c)
		return;
	for (o = nl_cache_get_first(c); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;
		int fam = rtnl_addr_get_family(a);
		bool found = false;

		if (rtnl_addr_get_ifindex(a) == 1)
			continue;   /* lo */
		seen++;
		/* No link-local noise, nothing tentative. */
		CHECK(!(fam == AF_INET6 && ((const uint8_t *)nl_addr_get_binary_addr(rtnl_addr_get_local(a)))[0] == 0xfe));
		CHECK(!(rtnl_addr_get_flags(a) & (IFA_F_TENTATIVE | IFA_F_DADFAILED)));
		for (size_t k = 0; k < t->nlinks; k++)
			for (int s = 0; s < 2; s++) {
				const struct sd_topo_end *e = &t->link[k].end[s];

				if (e->node == i && e->owned && e->ifindex == rtnl_addr_get_ifindex(a) &&
				    addr_is(rtnl_addr_get_local(a), fam, fam == AF_INET ? e->ip4 : e->ip6,
					    fam == AF_INET ? 24 : 64))
					found = true;
			}
		if (!found) {
			char buf[64];

			fprintf(stderr, "%s: unexpected address %s\n", t->node[i].name,
				nl_addr2str(rtnl_addr_get_local(a), buf, sizeof(buf)));
		}
		CHECK(found);
	}
	for (size_t k = 0; k < t->nlinks; k++)
		for (int s = 0; s < 2; s++)
			if (t->link[k].end[s].node == i && t->link[k].end[s].owned)
				want += t->ipv6 ? 2 : 1;
	CHECK_INT(seen, want);
	/* The engine's address belongs to nobody's kernel. */
	if (t->node[i].role == SD_TOPO_CLIENT && !(t->flags & SD_TOPO_CLIENT_KERNEL))
		CHECK_INT(seen, 0);
	nl_cache_free(c);
}

static void check_neighs(const struct sd_topo *t, size_t i, struct nl_sock *sk)
{
	struct nl_cache *c = NULL;

	CHECK_INT(rtnl_neigh_alloc_cache(sk, &c), 0);
	if (!c)
		return;
	for (size_t k = 0; k < t->nlinks; k++)
		for (int s = 0; s < 2; s++) {
			const struct sd_topo_end *e = &t->link[k].end[s], *o = &t->link[k].end[!s];

			if (e->node != i || !e->owned)
				continue;
			for (int f = 0; f < (t->ipv6 ? 2 : 1); f++) {
				int fam = f ? AF_INET6 : AF_INET;
				bool found = false;

				for (struct nl_object *x = nl_cache_get_first(c); x; x = nl_cache_get_next(x)) {
					struct rtnl_neigh *n = (struct rtnl_neigh *)x;

					if (rtnl_neigh_get_ifindex(n) == e->ifindex &&
					    addr_is(rtnl_neigh_get_dst(n), fam, fam == AF_INET ? o->ip4 : o->ip6, -1) &&
					    (rtnl_neigh_get_state(n) & NUD_PERMANENT) && rtnl_neigh_get_lladdr(n) &&
					    memcmp(nl_addr_get_binary_addr(rtnl_neigh_get_lladdr(n)), o->mac, 6) == 0)
						found = true;
				}
				if (!found)
					fprintf(stderr, "%s: no permanent neighbour (family %d) on %s\n",
						t->node[i].name, fam, e->ifname);
				CHECK(found);
			}
		}
	nl_cache_free(c);
}

struct route_want {
	int fam;
	size_t to;                       /* link whose prefix */
	const struct sd_topo_end *dev, *via;
	unsigned advmss;
};

static void check_routes(const struct sd_topo *t, size_t i, struct nl_sock *sk)
{
	struct route_want w[64];
	size_t nw = 0, seen = 0, n = t->nlinks - 1;
	struct nl_cache *c = NULL;

	for (int f = 0; f < (t->ipv6 ? 2 : 1); f++) {
		int fam = f ? AF_INET6 : AF_INET;

		if (t->node[i].role == SD_TOPO_HOP)
			for (size_t j = 0; j <= n; j++) {
				if (j + 1 < i)
					w[nw++] = (struct route_want){ fam, j, &t->link[i - 1].end[1],
								       &t->link[i - 1].end[0], 0 };
				if (j > i)
					w[nw++] = (struct route_want){ fam, j, &t->link[i].end[0],
								       &t->link[i].end[1], 0 };
			}
		if (t->node[i].role == SD_TOPO_CLIENT && (t->flags & SD_TOPO_CLIENT_KERNEL))
			for (size_t j = 1; j <= n; j++)
				w[nw++] = (struct route_want){ fam, j, &t->link[0].end[0], &t->link[0].end[1], 0 };
		if (t->node[i].role == SD_TOPO_SERVER)
			for (size_t j = 0; j < n; j++)
				w[nw++] = (struct route_want){ fam, j, &t->link[n].end[1], &t->link[n].end[0],
							       fam == AF_INET ? t->server_advmss : t->server_advmss6 };
	}
	CHECK_INT(rtnl_route_alloc_cache(sk, AF_UNSPEC, 0, &c), 0);
	if (!c)
		return;
	for (struct nl_object *o = nl_cache_get_first(c); o; o = nl_cache_get_next(o)) {
		struct rtnl_route *r = (struct rtnl_route *)o;
		struct rtnl_nexthop *nh;
		bool ok = false;

		if (rtnl_route_get_table(r) != RT_TABLE_MAIN || rtnl_route_get_protocol(r) != RTPROT_STATIC)
			continue;
		seen++;
		nh = rtnl_route_get_nnexthops(r) == 1 ? rtnl_route_nexthop_n(r, 0) : NULL;
		for (size_t k = 0; k < nw && nh; k++) {
			uint8_t pfx[16];
			uint32_t mss = 0;

			prefix_of(w[k].fam, w[k].to, pfx);
			if (addr_is(rtnl_route_get_dst(r), w[k].fam, pfx, w[k].fam == AF_INET ? 24 : 64) &&
			    rtnl_route_nh_get_ifindex(nh) == w[k].dev->ifindex &&
			    addr_is(rtnl_route_nh_get_gateway(nh), w[k].fam,
				    w[k].fam == AF_INET ? w[k].via->ip4 : w[k].via->ip6, -1)) {
				ok = true;
				if (w[k].advmss) {
					CHECK_INT(rtnl_route_get_metric(r, RTAX_ADVMSS, &mss), 0);
					CHECK_INT(mss, w[k].advmss);
				}
			}
		}
		CHECK(ok);
	}
	/* The client needs no route (unless it has a kernel of its own): the
	 * engine does its own layer 2. */
	CHECK_INT(seen, nw);
	nl_cache_free(c);
}

static void check_nft(const struct sd_topo *t, const struct sd_path *p)
{
	for (size_t i = 0; i < t->nnodes; i++) {
		const struct sd_path_hop *h = t->node[i].role == SD_TOPO_HOP ? &p->hop[i - 1] : NULL;
		char *text = NULL, want[64];
		int ret = sd_topo_nft_list(t, i, &text);

		CHECK(ret >= 0);
		if (!text)
			continue;
		/* Kept quiet wherever the kernel speaks IPv6. */
		CHECK((strstr(text, "table inet shakedown_quiet") != NULL) ==
		      (t->ipv6 && (t->node[i].role != SD_TOPO_CLIENT || (t->flags & SD_TOPO_CLIENT_KERNEL))));
		if (t->ipv6 && t->node[i].role != SD_TOPO_CLIENT) {
			CHECK(strstr(text, "icmpv6 type mld-listener-report counter packets") != NULL);
			CHECK(strstr(text, "icmpv6 type mld-listener-done counter packets") != NULL);
			CHECK(strstr(text, "icmpv6 type mld2-listener-report counter packets") != NULL);
		}
		if (h && (h->icmp_filter || h->mss_clamp || h->drop_fragments || h->loss_bp)) {
			CHECK(strstr(text, "table inet shakedown") != NULL);
			CHECK((strstr(text, "\"icmp-filter\"") != NULL) == h->icmp_filter);
			CHECK((strstr(text, "\"drop-fragments\"") != NULL) == h->drop_fragments);
			CHECK((strstr(text, "\"loss\"") != NULL) == !!h->loss_bp);
			snprintf(want, sizeof(want), "maxseg size set %u", h->mss_clamp);
			CHECK((strstr(text, want) != NULL) == !!h->mss_clamp);
		} else {
			CHECK(strstr(text, "table inet shakedown {") == NULL);
		}
		free(text);
	}
}

/* Packets counted by the rules with this comment in node i. */
static long nft_count(const struct sd_topo *t, size_t i, const char *comment)
{
	char *text = NULL, *line, *save = NULL, tag[64];
	long total = 0;

	if (sd_topo_nft_list(t, i, &text) < 0 || !text) {
		free(text);
		return -1;
	}
	snprintf(tag, sizeof(tag), "comment \"%s\"", comment);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *c = strstr(line, "counter packets ");

		if (c && strstr(line, tag))
			total += strtol(c + 16, NULL, 10);
	}
	free(text);
	return total;
}

static void check_sysctls(const struct sd_topo *t)
{
	for (size_t i = 0; i < t->nnodes; i++) {
		int fd = t->node[i].nsfd;

		switch (t->node[i].role) {
		case SD_TOPO_HOP:
			CHECK_STR(ns_sysctl(fd, "net/ipv4/ip_forward"), "1");
			if (t->ipv6)
				CHECK_STR(ns_sysctl(fd, "net/ipv6/conf/all/forwarding"), "1");
			break;
		case SD_TOPO_SERVER:
			CHECK_STR(ns_sysctl(fd, "net/ipv4/tcp_no_metrics_save"), "1");
			CHECK_STR(ns_sysctl(fd, "net/ipv4/ip_forward"), "0");
			break;
		case SD_TOPO_CLIENT:
			CHECK_STR(ns_sysctl(fd, "net/ipv4/ip_forward"), "0");
			if (!(t->flags & SD_TOPO_CLIENT_KERNEL))
				CHECK_STR(ns_sysctl(fd, "net/ipv6/conf/c0/disable_ipv6"), "1");
			break;
		}
		if (t->ipv6 && t->node[i].role != SD_TOPO_CLIENT) {
			CHECK_STR(ns_sysctl(fd, "net/ipv6/conf/default/addr_gen_mode"), "1");
			CHECK_STR(ns_sysctl(fd, "net/ipv6/conf/default/accept_dad"), "0");
		}
	}
}

static void check_static(const struct sd_topo *t, const struct sd_path *p)
{
	struct stat st;

	CHECK(fstat(t->node[0].nsfd, &st) == 0);
	CHECK_INT(t->nnodes, p->nhops + 2);
	CHECK_INT(t->nlinks, p->nhops + 1);
	CHECK_STR(t->node[0].name, "client");
	CHECK_STR(t->node[t->nnodes - 1].name, "server");
	CHECK_STR(t->client_ifname, "c0");
	CHECK_INT(t->client_ns, t->node[0].nsfd);
	CHECK_INT(t->server_ns, t->node[t->nnodes - 1].nsfd);
	CHECK_MEM(t->engine4, "\x0a\x00\x00\x01", 4);
	CHECK_MEM(t->gateway_mac, t->link[0].end[SD_TOPO_RIGHT].mac, 6);
	CHECK_INT(t->server4[2], p->nhops);
	CHECK_INT(t->server4[3], 2);
	CHECK_INT(sd_topo_node_find(t, "server"), (int)t->nnodes - 1);
	CHECK_INT(sd_topo_node_find(t, "nobody"), -SD_EUNKNOWN);
	for (size_t i = 0; i < t->nnodes; i++) {
		struct nl_sock *sk = ns_nl(t->node[i].nsfd);

		for (size_t k = 0; k < i; k++)
			CHECK(t->node[k].ns_ino != t->node[i].ns_ino);
		CHECK(sk != NULL);
		if (!sk)
			continue;
		check_links(t, i, sk);
		check_addrs(t, i, sk);
		check_neighs(t, i, sk);
		check_routes(t, i, sk);
		nl_socket_free(sk);
	}
	for (size_t k = 0; k < t->nlinks; k++)
		CHECK_INT(t->link[k].mtu, sd_path_link_mtu(p, k));
	check_sysctls(t);
	check_nft(t, p);
}

/* ---- packets ------------------------------------------------------------ */

struct env {
	const struct sd_topo *t;
	int cap;           /* AF_PACKET on c0, in the client namespace */
	int udp4, udp6;    /* UDP_PORT in the server namespace */
	int tcp4, tcp6;    /* TCP_PORT listeners */
	int scap;          /* AF_PACKET on s0 */
	uint16_t ip_id;
	unsigned arp, nd;  /* unexpected frames seen on c0 */
};

static int open_cap(int nsfd, int ifindex)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				   .sll_ifindex = ifindex };
	int fd = ns_socket(nsfd, AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

static int open_listener(int nsfd, int family, int type, uint16_t port)
{
	int fd = ns_socket(nsfd, family, type, 0), one = 1;
	struct sockaddr_storage ss;
	socklen_t sl;

	if (fd < 0)
		return fd;
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		sl = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		sl = sizeof(*s6);
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	}
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || (type == SOCK_STREAM && listen(fd, 8) < 0)) {
		close(fd);
		return -errno;
	}
	return fd;
}

static void ip_spec(const struct env *v, int family, bool df, struct sd_ip_spec *ip)
{
	memset(ip, 0, sizeof(*ip));
	ip->family = (uint8_t)(family == AF_INET ? 4 : 6);
	ip->ttl = 64;
	ip->df = df;
	ip->id = v->ip_id;
	if (family == AF_INET) {
		memcpy(ip->src, v->t->engine4, 4);
		memcpy(ip->dst, v->t->server4, 4);
	} else {
		memcpy(ip->src, v->t->engine6, 16);
		memcpy(ip->dst, v->t->server6, 16);
	}
}

/* Sends one IP datagram from the engine's address out of c0, to hop1. */
static void inject(struct env *v, const uint8_t *dgram, size_t len)
{
	struct sd_buf b = SD_BUF_INIT;
	uint16_t type = (dgram[0] >> 4) == 4 ? SD_ETHERTYPE_IPV4 : SD_ETHERTYPE_IPV6;

	CHECK_INT(sd_build_eth(&b, v->t->gateway_mac, v->t->client_mac, type), 14);
	sd_buf_put(&b, dgram, len);
	CHECK_INT(sd_buf_error(&b), 0);
	CHECK_INT(send(v->cap, b.data, b.len, 0), (long long)b.len);
	sd_buf_free(&b);
	v->ip_id++;
}

static void send_udp(struct env *v, int family, bool df, size_t payload, uint16_t dport)
{
	static uint8_t data[9000];
	struct sd_buf b = SD_BUF_INIT;
	struct sd_ip_spec ip;

	ip_spec(v, family, df, &ip);
	memset(data, 'u', payload);
	CHECK(sd_build_udp(&b, &ip, ENGINE_PORT, dport, data, payload) > 0);
	inject(v, b.data, b.len);
	sd_buf_free(&b);
}

static void send_echo(struct env *v, int family, uint16_t seq)
{
	struct sd_buf b = SD_BUF_INIT;
	struct sd_ip_spec ip;

	ip_spec(v, family, true, &ip);
	CHECK(sd_build_icmp(&b, &ip, family == AF_INET ? 8 : 128, 0, 0x5d000000u | seq,
			    (const uint8_t *)"shakedown-echo", 14) > 0);
	inject(v, b.data, b.len);
	sd_buf_free(&b);
}

static void send_tcp(struct env *v, int family, uint8_t flags, uint32_t seq, uint16_t mss)
{
	struct sd_buf b = SD_BUF_INIT;
	struct sd_ip_spec ip;
	struct sd_tcp_spec tcp;

	ip_spec(v, family, true, &ip);
	memset(&tcp, 0, sizeof(tcp));
	tcp.sport = ENGINE_PORT;
	tcp.dport = TCP_PORT;
	tcp.seq = seq;
	tcp.flags = flags;
	tcp.window = 64240;
	tcp.opt.has_mss = mss != 0;
	tcp.opt.mss = mss;
	CHECK(sd_build_tcp(&b, &ip, &tcp, (const uint8_t *)"", 0) > 0);
	inject(v, b.data, b.len);
	sd_buf_free(&b);
}

/*
 * Receives one frame that came *into* c0 (not our own), decoded into p
 * with views into buf. 1, or 0 on timeout.
 */
static int recv_in(struct env *v, int fd, uint8_t *buf, size_t n, struct sd_pkt *p, int ms)
{
	double t0 = now_ms();

	for (;;) {
		struct pollfd pf = { fd, POLLIN, 0 };
		struct sockaddr_ll sll;
		socklen_t sl = sizeof(sll);
		double left = ms - (now_ms() - t0);
		ssize_t len;

		if (left <= 0 || poll(&pf, 1, (int)left + 1) <= 0)
			return 0;
		len = recvfrom(fd, buf, n, 0, (struct sockaddr *)&sll, &sl);
		if (len <= 0 || sll.sll_pkttype == PACKET_OUTGOING)
			continue;
		if (sd_pkt_decode(SD_LINKTYPE_ETHERNET, buf, (size_t)len, p) < 0)
			continue;
		if (fd == v->cap && p->ethertype == 0x0806)
			v->arp++;
		if (fd == v->cap && p->family == 6 && p->proto == SD_IPPROTO_ICMPV6 &&
		    !p->frag && (p->icmp.type == 135 || p->icmp.type == 136))
			v->nd++;
		return 1;
	}
}

static bool is_icmp_error(const struct sd_pkt *p)
{
	return !p->frag && ((p->family == 4 && p->proto == SD_IPPROTO_ICMP && p->icmp.type == 3) ||
			    (p->family == 6 && p->proto == SD_IPPROTO_ICMPV6 && p->icmp.type < 128));
}

static bool is_echo_reply(const struct sd_pkt *p, int family, uint16_t seq)
{
	return !p->frag && ((family == AF_INET && p->family == 4 && p->proto == SD_IPPROTO_ICMP &&
			     p->icmp.type == 0) ||
			    (family == AF_INET6 && p->family == 6 && p->proto == SD_IPPROTO_ICMPV6 &&
			     p->icmp.type == 129)) &&
	       (p->icmp.rest & 0xffff) == seq;
}

/*
 * Echo through the whole path and back. When errors is not NULL, ICMP
 * errors that arrive before the reply are stored there (at most one).
 */
static bool echo(struct env *v, int family, uint16_t seq, struct sd_pkt *err, uint8_t *errbuf, int ms)
{
	static uint8_t buf[2048];
	struct sd_pkt p;
	double t0 = now_ms();

	send_echo(v, family, seq);
	while (now_ms() - t0 < ms) {
		if (!recv_in(v, v->cap, buf, sizeof(buf), &p, ms))
			return false;
		if (is_echo_reply(&p, family, seq)) {
			CHECK_MEM(p.dst, family == AF_INET ? v->t->engine4 : v->t->engine6,
				  family == AF_INET ? 4 : 16);
			CHECK_MEM(buf, v->t->client_mac, 6);
			CHECK_MEM(buf + 6, v->t->gateway_mac, 6);
			return true;
		}
		if (err && is_icmp_error(&p)) {
			memcpy(errbuf, buf, sizeof(buf));
			CHECK_INT(sd_pkt_decode(SD_LINKTYPE_ETHERNET, errbuf, sizeof(buf), err), 0);
			err = NULL;
		}
	}
	return false;
}

/* One datagram from the server socket, its length, or -1 on timeout. */
static long server_recv(int fd, int ms)
{
	static uint8_t buf[65536];
	struct pollfd pf = { fd, POLLIN, 0 };
	ssize_t n;

	if (poll(&pf, 1, ms) <= 0)
		return -1;
	n = recv(fd, buf, sizeof(buf), 0);
	return n < 0 ? -1 : (long)n;
}

static void drain(int fd)
{
	uint8_t buf[2048];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

struct expect {
	const char *path;
	unsigned small;       /* smallest link MTU, 0 when 1500 everywhere */
	size_t small_hop;     /* the hop in front of that link (1-based) */
	bool icmp;            /* frag-needed / packet-too-big comes back */
	unsigned mss4;        /* MSS of the SYN-ACK at the client */
	bool frags_dropped;
};

static const struct expect expects[] = {
	{ "clean", 0, 0, true, 1460, false },
	{ "ipsec-1400", 1400, 1, true, 1360, false },
	{ "ipv6-1280", 1280, 1, true, 1460, false },
	{ "mss-536", 0, 0, true, 536, false },
	{ "pppoe-1492", 1492, 1, true, 1460, false },
	{ "tunnel-1280-blackhole", 1280, 1, false, 1460, false },
	{ "tunnel-1300-pmtud", 1300, 2, true, 1460, false },
	{ "v6-frag-drop", 0, 0, true, 1460, true },
	{ "wireguard-1420", 1420, 1, true, 1460, false },
};

/* Forwarding both ways: echo from the engine, UDP from the server's kernel. */
static void test_forwarding(struct env *v, int family)
{
	static uint8_t buf[2048];
	struct sockaddr_storage ss;
	struct sd_pkt p;
	socklen_t sl;
	int fd = family == AF_INET ? v->udp4 : v->udp6;
	bool got = false;

	CHECK(echo(v, family, 1, NULL, NULL, 2000));
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(9);
		memcpy(&s4->sin_addr, v->t->engine4, 4);
		sl = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(9);
		memcpy(&s6->sin6_addr, v->t->engine6, 16);
		sl = sizeof(*s6);
	}
	CHECK_INT(sendto(fd, "from-the-server", 15, 0, (struct sockaddr *)&ss, sl), 15);
	while (!got && recv_in(v, v->cap, buf, sizeof(buf), &p, 2000))
		got = !p.frag && p.proto == SD_IPPROTO_UDP && p.udp.dport == 9 &&
		      p.payload_len == 15 && memcmp(p.src, family == AF_INET ? v->t->server4 : v->t->server6,
						    family == AF_INET ? 4 : 16) == 0;
	CHECK(got);
}

/*
 * PMTUD with real packets: a full-sized DF datagram toward the server must
 * bring back ICMP frag-needed / packet-too-big naming the small MTU from
 * the hop in front of the small link, or nothing at all when that hop
 * filters its ICMP (checked against an echo sent after it, on the same CPU,
 * so it cannot overtake). A datagram of exactly the small MTU arrives.
 */
static void test_pmtud(struct env *v, const struct expect *x, int family)
{
	static uint8_t ebuf[2048];
	size_t hdr = family == AF_INET ? 28 : 48;
	unsigned small = x->small ? x->small : 1500;
	struct sd_pkt err;
	bool got;
	long n;

	memset(&err, 0, sizeof(err));
	drain(family == AF_INET ? v->udp4 : v->udp6);
	send_udp(v, family, true, 1500 - hdr, UDP_PORT);
	got = echo(v, family, 2, &err, ebuf, 2000);
	CHECK(got);
	if (x->small && x->icmp) {
		const struct sd_topo_end *from = &v->t->link[x->small_hop - 1].end[SD_TOPO_RIGHT];

		CHECK(err.family != 0);
		if (family == AF_INET) {
			CHECK_INT(err.icmp.type, 3);
			CHECK_INT(err.icmp.code, 4);
			CHECK_MEM(err.src, from->ip4, 4);
		} else {
			CHECK_INT(err.icmp.type, 2);
			CHECK_MEM(err.src, from->ip6, 16);
		}
		CHECK_INT(err.icmp.mtu, x->small);
		/* It quotes our datagram. */
		CHECK(err.icmp.inner_len >= 20);
		if (err.icmp.inner_len >= 40)
			CHECK_MEM(err.icmp.inner + (family == AF_INET ? 16 : 24),
				  family == AF_INET ? v->t->server4 : v->t->server6, family == AF_INET ? 4 : 16);
	} else {
		if (err.family)
			fprintf(stderr, "%s: unexpected ICMP type %u code %u\n", x->path, err.icmp.type,
				err.icmp.code);
		CHECK_INT(err.family, 0);
	}
	n = server_recv(family == AF_INET ? v->udp4 : v->udp6, x->small ? 0 : 1000);
	CHECK_INT(n, x->small ? -1 : (long)(1500 - hdr));
	if (x->small) {
		/* What fits goes through. */
		send_udp(v, family, true, small - hdr, UDP_PORT);
		CHECK_INT(server_recv(family == AF_INET ? v->udp4 : v->udp6, 2000), (long)(small - hdr));
	}
}

/* The MSS the client sees in the SYN-ACK, and the one the server saw. */
static void test_mss(struct env *v, const struct expect *x, int family, unsigned want)
{
	static uint8_t buf[2048];
	struct sd_pkt p;
	bool got = false;
	uint32_t isn = 0x5d000000u + v->ip_id;

	drain(v->scap);
	send_tcp(v, family, SD_TCP_SYN, isn, 1460);
	while (!got && recv_in(v, v->cap, buf, sizeof(buf), &p, 2000))
		if (!p.frag && p.proto == SD_IPPROTO_TCP && p.tcp.dport == ENGINE_PORT &&
		    (p.tcp.flags & (SD_TCP_SYN | SD_TCP_ACK)) == (SD_TCP_SYN | SD_TCP_ACK)) {
			got = true;
			CHECK(p.tcp.opt.has_mss);
			if (p.tcp.opt.mss != want)
				fprintf(stderr, "%s: SYN-ACK MSS %u, want %u\n", x->path, p.tcp.opt.mss, want);
			CHECK_INT(p.tcp.opt.mss, want);
			CHECK_INT(p.tcp.ack, isn + 1);
			/* Valid checksums: offloads are off. */
			CHECK_INT(sd_pkt_checksum(&p), 0);
		}
	CHECK(got);
	/* The SYN as the server received it. */
	got = false;
	while (!got && recv_in(v, v->scap, buf, sizeof(buf), &p, 1000))
		if (!p.frag && p.proto == SD_IPPROTO_TCP && p.tcp.flags == SD_TCP_SYN) {
			got = true;
			CHECK_INT(p.tcp.opt.mss, x->mss4 < 1460 ? x->mss4 : 1460);
		}
	CHECK(got);
	send_tcp(v, family, SD_TCP_RST, isn + 1, 0);
}

/* IP fragments toward the server: reassembled and delivered, or dropped. */
static void test_frags(struct env *v, const struct expect *x, int family)
{
	static uint8_t data[1400];
	struct sd_buf d = SD_BUF_INIT, f = SD_BUF_INIT;
	struct sd_ip_spec ip;
	size_t ends[8], off = 0;
	int fd = family == AF_INET ? v->udp4 : v->udp6, nf;
	long before = nft_count(v->t, 1, "drop-fragments");

	drain(fd);
	ip_spec(v, family, false, &ip);
	memset(data, 'f', sizeof(data));
	CHECK(sd_build_udp(&d, &ip, ENGINE_PORT, UDP_PORT, data, 1200) > 0);
	if (family == AF_INET)
		nf = sd_ip4_fragment(&f, d.data, d.len, 800, ends, 8);
	else
		nf = sd_ip6_fragment(&f, d.data, d.len, 800, 0x5d5d, ends, 8);
	CHECK_INT(nf, 2);
	for (int i = 0; i < nf; i++) {
		inject(v, f.data + off, ends[i] - off);
		off = ends[i];
	}
	/* A small datagram after them, as a marker. */
	send_udp(v, family, true, 1, UDP_PORT);
	if (x->frags_dropped) {
		CHECK_INT(server_recv(fd, 2000), 1);
		CHECK_INT(server_recv(fd, 50), -1);
		CHECK_INT(nft_count(v->t, 1, "drop-fragments"), before + 2);
	} else {
		CHECK_INT(server_recv(fd, 2000), 1200);
		CHECK_INT(server_recv(fd, 2000), 1);
	}
	sd_buf_free(&d);
	sd_buf_free(&f);
}

static void traffic(const struct sd_topo *t, const struct expect *x)
{
	struct env v = { .t = t, .cap = -1, .udp4 = -1, .udp6 = -1, .tcp4 = -1, .tcp6 = -1, .scap = -1,
			 .ip_id = 1 };
	cpu_set_t old, one;
	int cpu = sched_getcpu();

	/* Everything injected from one CPU crosses the hops in order. */
	CHECK(pthread_getaffinity_np(pthread_self(), sizeof(old), &old) == 0);
	CPU_ZERO(&one);
	CPU_SET(cpu < 0 ? 0 : cpu, &one);
	CHECK(pthread_setaffinity_np(pthread_self(), sizeof(one), &one) == 0);

	v.cap = open_cap(t->client_ns, t->client_ifindex);
	v.scap = open_cap(t->server_ns, t->link[t->nlinks - 1].end[SD_TOPO_RIGHT].ifindex);
	v.udp4 = open_listener(t->server_ns, AF_INET, SOCK_DGRAM, UDP_PORT);
	v.tcp4 = open_listener(t->server_ns, AF_INET, SOCK_STREAM, TCP_PORT);
	if (t->ipv6) {
		v.udp6 = open_listener(t->server_ns, AF_INET6, SOCK_DGRAM, UDP_PORT);
		v.tcp6 = open_listener(t->server_ns, AF_INET6, SOCK_STREAM, TCP_PORT);
		CHECK(v.udp6 >= 0 && v.tcp6 >= 0);
	}
	CHECK(v.cap >= 0 && v.scap >= 0 && v.udp4 >= 0 && v.tcp4 >= 0);
	if (v.cap < 0 || v.scap < 0 || v.udp4 < 0 || v.tcp4 < 0)
		goto out;
	check_cloexec();

	for (int f = 0; f < (t->ipv6 ? 2 : 1); f++) {
		int fam = f ? AF_INET6 : AF_INET;

		test_forwarding(&v, fam);
		test_pmtud(&v, x, fam);
		test_mss(&v, x, fam, fam == AF_INET ? x->mss4 : (x->mss4 == 1460 ? 1440 : x->mss4));
		test_frags(&v, x, fam);
	}
	if (x->small && !x->icmp) {
		/* The silence was the filter's doing. */
		CHECK(nft_count(t, x->small_hop, "icmp-filter") >= (t->ipv6 ? 2 : 1));
	}
	/* Static neighbours everywhere: nobody asked for an address. */
	CHECK_INT(v.arp, 0);
	CHECK_INT(v.nd, 0);
out:
	if (v.cap >= 0)
		close(v.cap);
	if (v.scap >= 0)
		close(v.scap);
	if (v.udp4 >= 0)
		close(v.udp4);
	if (v.udp6 >= 0)
		close(v.udp6);
	if (v.tcp4 >= 0)
		close(v.tcp4);
	if (v.tcp6 >= 0)
		close(v.tcp6);
	pthread_setaffinity_np(pthread_self(), sizeof(old), &old);
}

/* ---- the tests ---------------------------------------------------------- */

static struct witness wit;

/* Closes t and waits until the kernel has destroyed every namespace of it. */
static void close_and_watch(struct sd_topo *t)
{
	int n = (int)t->nnodes;

	for (size_t i = 0; i < t->nnodes; i++)
		CHECK_INT(witness_add(&wit, t->node[i].nsfd, i), 0);
	sd_topo_close(t);
	CHECK_INT(witness_wait(&wit, n, 10000), n);
}

static void test_builtins(void)
{
	for (size_t k = 0; k < sizeof(expects) / sizeof(expects[0]); k++) {
		const struct expect *x = &expects[k];
		struct sd_path p;
		struct sd_path_error pe;
		struct sd_topo *t = NULL;
		struct sd_topo_error te;
		int base = netns_fds(), ret;

		CHECK_INT(sd_path_builtin(x->path, &p, &pe), 0);
		ret = sd_topo_open(&p, 0, &t, &te);
		CHECK_INT(ret, 0);
		if (ret < 0) {
			fprintf(stderr, "%s: %s: %s\n", x->path, te.step, sd_strerror(ret));
			continue;
		}
		CHECK_STR(t->path, x->path);
		CHECK_INT(netns_fds(), base + (int)t->nnodes);
		check_static(t, &p);
		traffic(t, x);
		close_and_watch(t);
		CHECK_INT(netns_fds(), base);
		printf("ok %s\n", x->path);
	}
}

/* Custom paths: loss and rate, IPv4 only below 1280, a client kernel. */
static void test_custom(void)
{
	struct sd_path p;
	struct sd_path_error pe;
	struct sd_topo *t = NULL;
	struct sd_topo_error te;
	static const char lossy[] = "[hop lossy]\nbehaviours = loss:100\n";
	static const char slow[] = "[hop slow]\nbehaviours = rate:1mbit\n";
	static const char old[] = "[hop old]\nbehaviours = mtu:576\n";
	int base = netns_fds();

	/* loss:100 drops everything forwarded. */
	CHECK_INT(sd_path_parse(lossy, strlen(lossy), "lossy", &p, &pe), 0);
	CHECK_INT(sd_topo_open(&p, 0, &t, &te), 0);
	if (t) {
		struct env v = { .t = t, .ip_id = 1 };

		check_static(t, &p);
		v.cap = open_cap(t->client_ns, t->client_ifindex);
		CHECK(!echo(&v, AF_INET, 7, NULL, NULL, 200));
		CHECK(!echo(&v, AF_INET6, 8, NULL, NULL, 200));
		CHECK_INT(nft_count(t, 1, "loss"), 2);
		close(v.cap);
		close_and_watch(t);
	}

	/* rate:1mbit: tbf on both egresses, and it paces: eight 1400-byte
	 * datagrams (11.2 ms each at 1 Mbit/s) fit the queue but not the
	 * bucket of two frames, so the last arrives some 60 ms after the
	 * first. */
	CHECK_INT(sd_path_parse(slow, strlen(slow), "slow", &p, &pe), 0);
	CHECK_INT(sd_topo_open(&p, 0, &t, &te), 0);
	if (t) {
		struct env v = { .t = t, .ip_id = 1 };
		struct nl_sock *sk = ns_nl(t->node[1].nsfd);
		struct nl_cache *c = NULL;
		double first = 0, last = 0;
		int tbf = 0, got = 0;

		check_static(t, &p);
		v.cap = open_cap(t->client_ns, t->client_ifindex);
		v.udp4 = open_listener(t->server_ns, AF_INET, SOCK_DGRAM, UDP_PORT);
		CHECK(echo(&v, AF_INET, 9, NULL, NULL, 2000));
		for (int i = 0; i < 8; i++)
			send_udp(&v, AF_INET, true, 1400 - 28, UDP_PORT);
		for (int i = 0; i < 8; i++)
			if (server_recv(v.udp4, 2000) == 1400 - 28) {
				last = now_ms();
				if (!got++)
					first = last;
			}
		CHECK_INT(got, 8);
		printf("rate:1mbit: 8 x 1400 bytes arrived over %.1f ms\n", last - first);
		CHECK(last - first > 50 && last - first < 1000);
		close(v.cap);
		close(v.udp4);
		if (sk && rtnl_qdisc_alloc_cache(sk, &c) == 0) {
			for (struct nl_object *o = nl_cache_get_first(c); o; o = nl_cache_get_next(o)) {
				struct rtnl_qdisc *q = (struct rtnl_qdisc *)o;

				if (strcmp(rtnl_tc_get_kind(TC_CAST(q)), "tbf") == 0) {
					tbf++;
					CHECK_INT(rtnl_qdisc_tbf_get_rate(q), 1000000 / 8);
				}
			}
			nl_cache_free(c);
		}
		CHECK_INT(tbf, 2);
		if (sk)
			nl_socket_free(sk);
		close_and_watch(t);
	}

	/* Below 1280: refused for IPv6 before anything is built... */
	CHECK_INT(sd_path_parse(old, strlen(old), "old", &p, &pe), 0);
	CHECK_INT(sd_topo_open(&p, 0, &t, &te), -SD_EVALUE);
	CHECK(t == NULL);
	CHECK(strstr(te.step, "1280") != NULL);
	CHECK_INT(netns_fds(), base);
	/* ...built IPv4 only on request, with PMTUD at 576. */
	CHECK_INT(sd_topo_open(&p, SD_TOPO_NO_IPV6, &t, &te), 0);
	if (t) {
		const struct expect x = { "old", 576, 1, true, 1460, false };
		struct env v = { .t = t, .ip_id = 1, .udp4 = -1 };

		CHECK(!t->ipv6);
		check_static(t, &p);
		v.cap = open_cap(t->client_ns, t->client_ifindex);
		v.udp4 = open_listener(t->server_ns, AF_INET, SOCK_DGRAM, UDP_PORT);
		test_pmtud(&v, &x, AF_INET);
		close(v.cap);
		close(v.udp4);
		CHECK_STR(ns_sysctl(t->server_ns, "net/ipv6/conf/all/disable_ipv6"), "1");
		close_and_watch(t);
	}
	CHECK_INT(sd_topo_open(&p, 0x80, &t, &te), -SD_EVALUE);
	CHECK(strstr(te.step, "flags") != NULL);

	/* A client kernel that owns the engine's address, for real clients. */
	CHECK_INT(sd_path_builtin("clean", &p, &pe), 0);
	CHECK_INT(sd_topo_open(&p, SD_TOPO_CLIENT_KERNEL, &t, &te), 0);
	if (t) {
		int cli = ns_socket(t->client_ns, AF_INET, SOCK_DGRAM, 0);
		int cli6 = ns_socket(t->client_ns, AF_INET6, SOCK_DGRAM, 0);
		int srv = open_listener(t->server_ns, AF_INET, SOCK_DGRAM, UDP_PORT);
		int srv6 = open_listener(t->server_ns, AF_INET6, SOCK_DGRAM, UDP_PORT);
		struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(UDP_PORT) };
		struct sockaddr_in6 to6 = { .sin6_family = AF_INET6, .sin6_port = htons(UDP_PORT) };

		check_static(t, &p);
		memcpy(&to.sin_addr, t->server4, 4);
		memcpy(&to6.sin6_addr, t->server6, 16);
		CHECK_INT(sendto(cli, "hi", 2, 0, (struct sockaddr *)&to, sizeof(to)), 2);
		CHECK_INT(server_recv(srv, 2000), 2);
		CHECK_INT(sendto(cli6, "hi6", 3, 0, (struct sockaddr *)&to6, sizeof(to6)), 3);
		CHECK_INT(server_recv(srv6, 2000), 3);
		close(cli);
		close(cli6);
		close(srv);
		close(srv6);
		close_and_watch(t);
	}

	/* A failure half-way leaves nothing behind and says where it was. */
	CHECK_INT(sd_path_parse(lossy, strlen(lossy), "broken", &p, &pe), 0);
	p.hop[0].mss_clamp = 70000;    /* past what nft takes */
	CHECK(sd_topo_open(&p, 0, &t, &te) < 0);
	CHECK(t == NULL);
	CHECK(strstr(te.step, "hop1 'lossy'") != NULL);
	CHECK(strstr(te.step, "nftables") != NULL);
	printf("failure reported as: %s\n", te.step);
	CHECK_INT(netns_fds(), base);
}

/* Keep mode, in this test's private mount namespace. */
static void test_names(bool private_mounts)
{
	struct sd_path p;
	struct sd_path_error pe;
	struct sd_topo *t = NULL;
	struct sd_topo_error te;
	char prefix[32], path[128];

	if (!private_mounts) {
		printf("skip: names (no private mount namespace)\n");
		return;
	}
	snprintf(prefix, sizeof(prefix), "sdtest%d", (int)getpid());
	CHECK_INT(sd_path_builtin("tunnel-1300-pmtud", &p, &pe), 0);
	CHECK_INT(sd_topo_open(&p, 0, &t, &te), 0);
	if (!t)
		return;
	CHECK_INT(sd_topo_name(t, "bad-prefix"), -SD_EVALUE);
	CHECK_INT(sd_topo_unname("bad/prefix"), -SD_EVALUE);
	CHECK_INT(sd_topo_name(t, prefix), 0);
	for (size_t i = 0; i < t->nnodes; i++) {
		struct stat st;

		snprintf(path, sizeof(path), "/run/netns/%s-%s", prefix, t->node[i].name);
		CHECK(stat(path, &st) == 0);
		CHECK_INT(st.st_ino, t->node[i].ns_ino);
	}
	CHECK_INT(sd_topo_name(t, prefix), -EEXIST);
	CHECK_INT(sd_topo_unname(prefix), (int)t->nnodes);
	CHECK_INT(sd_topo_unname(prefix), 0);
	snprintf(path, sizeof(path), "/run/netns/%s-client", prefix);
	CHECK(access(path, F_OK) < 0);
	close_and_watch(t);
}

/*
 * SIGKILL leaves nothing behind: a child builds a path and is killed; the
 * witness sees every namespace of it destroyed. The witness veths are
 * made through /proc/<child>/fd, with references dropped right after.
 */
static void test_sigkill(void)
{
	int pipefd[2], fds[SD_TOPO_MAX_NODES], n = 0, status = 0;
	pid_t pid;

	CHECK(pipe2(pipefd, O_CLOEXEC) == 0);
	pid = fork();
	if (pid == 0) {
		struct sd_path p;
		struct sd_path_error pe;
		struct sd_topo *t = NULL;
		struct sd_topo_error te;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(pipefd[0]);
		if (sd_path_builtin("tunnel-1300-pmtud", &p, &pe) == 0 && sd_topo_open(&p, 0, &t, &te) == 0) {
			int msg[SD_TOPO_MAX_NODES + 1];

			msg[0] = (int)t->nnodes;
			for (size_t i = 0; i < t->nnodes; i++)
				msg[i + 1] = t->node[i].nsfd;
			if (write(pipefd[1], msg, sizeof(msg)) != (ssize_t)sizeof(msg))
				_exit(1);
		}
		close(pipefd[1]);
		for (;;)
			pause();
	}
	CHECK(pid > 0);
	close(pipefd[1]);
	if (pid > 0) {
		int msg[SD_TOPO_MAX_NODES + 1];

		if (read(pipefd[0], msg, sizeof(msg)) == (ssize_t)sizeof(msg) && msg[0] > 0 &&
		    msg[0] <= SD_TOPO_MAX_NODES) {
			n = msg[0];
			for (int i = 0; i < n; i++) {
				char path[64];

				snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, msg[i + 1]);
				fds[i] = open(path, O_RDONLY | O_CLOEXEC);
				CHECK(fds[i] >= 0);
				if (fds[i] >= 0) {
					CHECK_INT(witness_add(&wit, fds[i], (size_t)i), 0);
					close(fds[i]);
				}
			}
		}
		CHECK_INT(n, 4);
		CHECK(kill(pid, SIGKILL) == 0);
		CHECK(waitpid(pid, &status, 0) == pid);
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		CHECK_INT(witness_wait(&wit, n, 10000), n);
	}
	close(pipefd[0]);
}

struct where {
	unsigned long ino;
	int sock;
};

static void *where_main(void *arg)
{
	struct where *w = arg;
	struct stat st;

	if (stat("/proc/thread-self/ns/net", &st) == 0)
		w->ino = (unsigned long)st.st_ino;
	w->sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	return NULL;
}

static int where_run(void *arg)
{
	where_main(arg);
	return 42;
}

/* The helpers other modules use: threads inside a namespace, sysctls. */
static void test_helpers(void)
{
	struct sd_path p;
	struct sd_path_error pe;
	struct sd_topo *t = NULL;
	struct sd_topo_error te;
	struct where w = { 0, -1 };
	struct stat self;
	pthread_t th;
	char v[16];
	int fd;

	CHECK(stat("/proc/thread-self/ns/net", &self) == 0);
	CHECK_INT(sd_path_builtin("clean", &p, &pe), 0);
	CHECK_INT(sd_topo_open(&p, 0, &t, &te), 0);
	if (!t)
		return;
	/* A long-lived thread in the server namespace... */
	CHECK_INT(sd_netns_thread(t->server_ns, where_main, &w, &th), 0);
	pthread_join(th, NULL);
	CHECK_INT(w.ino, t->node[t->nnodes - 1].ns_ino);
	CHECK(w.sock >= 0);
	if (w.sock >= 0)
		close(w.sock);
	/* ...a synchronous one in the hop's, and this thread never moved. */
	CHECK_INT(sd_netns_run(t->node[1].nsfd, where_run, &w), 42);
	CHECK_INT(w.ino, t->node[1].ns_ino);
	if (w.sock >= 0)
		close(w.sock);
	CHECK(stat("/proc/thread-self/ns/net", &self) == 0);
	CHECK(self.st_ino != t->node[1].ns_ino);
	/* Not a namespace: refused, nothing runs, no thread is left. */
	w.ino = 0;
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	CHECK_INT(sd_netns_thread(fd, where_main, &w, &th), -EINVAL);
	close(fd);
	CHECK_INT(sd_netns_run(-1, where_run, &w), -EBADF);
	CHECK_INT(w.ino, 0);
	CHECK_INT(sd_netns_sysctl_write("../etc/passwd", "x"), -EINVAL);
	CHECK_INT(sd_netns_sysctl_write("net/ipv4/no_such_key", "1"), -ENOENT);
	CHECK_INT(sd_netns_sysctl_read("net/ipv4/ip_forward", v, 1), -ENOSPC);
	close_and_watch(t);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * Build and close times, each run on a kernel done with the one before:
 * the namespaces of a closed topology are destroyed by the kernel's
 * cleanup worker some tens of milliseconds later, and a build that
 * overlaps it is slower (it competes for the RTNL lock and the CPUs). The
 * witness says when that is over, and how long it took.
 */
static void bench(const char *name)
{
	enum { RUNS = 21 };
	double up[RUNS], down[RUNS], both[RUNS], gone[RUNS];
	struct sd_path p;
	struct sd_path_error pe;
	struct sd_topo_error te;

	CHECK_INT(sd_path_builtin(name, &p, &pe), 0);
	for (int i = 0; i < RUNS; i++) {
		struct sd_topo *t = NULL;
		double t0, t1, t2;
		int n;

		t0 = now_ms();
		CHECK_INT(sd_topo_open(&p, 0, &t, &te), 0);
		t1 = now_ms();
		if (!t)
			return;
		n = (int)t->nnodes;
		for (size_t k = 0; k < t->nnodes; k++)
			CHECK_INT(witness_add(&wit, t->node[k].nsfd, k), 0);
		t2 = now_ms();
		sd_topo_close(t);
		down[i] = now_ms() - t2;
		CHECK_INT(witness_wait(&wit, n, 10000), n);
		gone[i] = now_ms() - t2;
		up[i] = t1 - t0;
		both[i] = up[i] + down[i];
		usleep(5000);
	}
	qsort(up, RUNS, sizeof(double), cmp_double);
	qsort(down, RUNS, sizeof(double), cmp_double);
	qsort(both, RUNS, sizeof(double), cmp_double);
	qsort(gone, RUNS, sizeof(double), cmp_double);
	printf("bench %s: build+close median %.2f ms (min %.2f, max %.2f); build %.2f ms, close %.3f ms; "
	       "close until the kernel destroyed it %.1f ms\n",
	       name, both[RUNS / 2], both[0], both[RUNS - 1], up[RUNS / 2], down[RUNS / 2], gone[RUNS / 2]);
}

/*
 * A mount namespace of our own, with a tmpfs on /run: keep mode's bind
 * mounts land there and die with the process, whatever happens. Must run
 * before any thread exists.
 */
static bool private_run(void)
{
	if (unshare(CLONE_NEWNS) < 0)
		return false;
	if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0)
		return false;
	return mount("sdtest", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") == 0;
}

int main(void)
{
	char *before, *after;
	bool priv;
	int fd, base;

	if (geteuid() != 0) {
		printf("skip: needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN)\n");
		return 77;
	}
	note_inherited();
	priv = private_run();
	fd = sd_netns_open();
	if (fd == -EPERM) {
		printf("skip: cannot create network namespaces\n");
		return 77;
	}
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	base = netns_fds();
	before = host_state();
	CHECK(before != NULL);
	CHECK_INT(witness_open(&wit), 0);

	test_builtins();
	test_custom();
	test_names(priv);
	test_helpers();
	test_sigkill();
	bench("clean");
	bench("tunnel-1280-blackhole");

	witness_close(&wit);
	CHECK_INT(netns_fds(), base);
	after = host_state();
	CHECK(after != NULL);
	if (before && after && strcmp(before, after) != 0) {
		fprintf(stderr, "host state changed:\n--- before\n%s--- after\n%s", before, after);
		CHECK(0);
	} else {
		check_passed++;
	}
	free(before);
	free(after);
	return check_done();
}
