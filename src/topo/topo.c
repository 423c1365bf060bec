/* SPDX-License-Identifier: MIT */
/* Builds a path as anonymous network namespaces joined by veth pairs, over netlink. */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/ethtool.h>
#include <linux/neighbour.h>
#include <linux/sockios.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/tbf.h>
#include <netlink/route/route.h>
#include <netlink/route/tc.h>

#include "shakedown/netns.h"
#include "shakedown/topo.h"
#include "topo_int.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

/* The kernel's answer to the last request on a socket: errno and the
 * extended ack text, captured by on_nlerr. */
struct ack {
	int err;
	char msg[120];
};

struct topo_impl {
	struct sd_topo pub;                   /* first: sd_topo * casts back */
	struct nl_sock *nl[SD_TOPO_MAX_NODES];  /* rtnetlink, one per namespace, opened in it */
	struct ack ack[SD_TOPO_MAX_NODES];
};

struct build {
	struct topo_impl *t;
	const struct sd_path *p;
	struct sd_topo_error *err;
	char step[160];
	int ret;
};

__attribute__((format(printf, 2, 3)))
static void step(struct build *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b->step, sizeof(b->step), fmt, ap);
	va_end(ap);
}

static void append(char *dst, size_t n, size_t *w, const char *src)
{
	/* A cut message is still the right message. */
	while (*src && *w + 1 < n)
		dst[(*w)++] = *src++;
	dst[*w] = 0;
}

/* Records the failure of the current step, and why; returns ret. */
static int failed(struct build *b, int ret, const char *why)
{
	size_t w = 0;

	append(b->err->step, sizeof(b->err->step), &w, b->step);
	if (why && why[0]) {
		append(b->err->step, sizeof(b->err->step), &w, ": ");
		append(b->err->step, sizeof(b->err->step), &w, why);
	}
	return ret;
}

static const char *node_label(const struct sd_topo *t, size_t i, char *buf, size_t n)
{
	if (t->node[i].role == SD_TOPO_HOP)
		snprintf(buf, n, "hop%zu '%s'", i, t->node[i].name);
	else
		snprintf(buf, n, "%s", t->node[i].name);
	return buf;
}

/* libnl folds kernel errnos into its own codes; this unfolds the usual
 * ones, for the cases where the kernel's own errno was not seen. */
static int nle_errno(int nle)
{
	switch (nle < 0 ? -nle : nle) {
	case 0: return 0;
	case NLE_INTR: return -EINTR;
	case NLE_BAD_SOCK: return -EBADF;
	case NLE_AGAIN: return -EAGAIN;
	case NLE_NOMEM: return -ENOMEM;
	case NLE_EXIST: return -EEXIST;
	case NLE_INVAL: return -EINVAL;
	case NLE_RANGE: return -ERANGE;
	case NLE_MSGSIZE: return -EMSGSIZE;
	case NLE_OPNOTSUPP: return -EOPNOTSUPP;
	case NLE_AF_NOSUPPORT: return -EAFNOSUPPORT;
	case NLE_OBJ_NOTFOUND: return -ENOENT;
	case NLE_NOATTR: return -ENOENT;
	case NLE_PERM: return -EPERM;
	case NLE_BUSY: return -EBUSY;
	case NLE_NODEV: return -ENODEV;
	case NLE_NOADDR: return -EADDRNOTAVAIL;
	case NLE_NOACCESS: return -EACCES;
	case NLE_PROTO_MISMATCH: return -EPROTONOSUPPORT;
	case NLE_SEQ_MISMATCH: return -EPROTO;
	default: return -EIO;
	}
}

/*
 * Error callback: keeps the kernel's errno and, with NETLINK_EXT_ACK, its
 * message. The NLMSG_ERROR message is a reply of the kernel, but still
 * bytes to check: the attributes are walked within nlmsg_len only.
 */
static int on_nlerr(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	struct ack *a = arg;
	struct nlmsghdr *h = (struct nlmsghdr *)((char *)e - NLMSG_HDRLEN);
	size_t off = NLMSG_HDRLEN + sizeof(*e);
	const struct nlattr *nla_it;
	int rem;

	(void)nla;
	a->err = e->error;
	a->msg[0] = 0;
	if (!(h->nlmsg_flags & NLM_F_ACK_TLVS))
		return NL_STOP;
	/* Without NLM_F_CAPPED the whole request is echoed first. */
	if (!(h->nlmsg_flags & NLM_F_CAPPED)) {
		if (e->msg.nlmsg_len < NLMSG_HDRLEN)
			return NL_STOP;
		off += NLMSG_ALIGN(e->msg.nlmsg_len) - NLMSG_HDRLEN;
	}
	if (h->nlmsg_len < off)
		return NL_STOP;
	nla_for_each_attr(nla_it, (struct nlattr *)((char *)h + off), (int)(h->nlmsg_len - off), rem) {
		if (nla_type(nla_it) == NLMSGERR_ATTR_MSG && nla_len(nla_it) > 0) {
			const char *s = nla_data(nla_it);
			size_t l = strnlen(s, (size_t)nla_len(nla_it));

			snprintf(a->msg, sizeof(a->msg), "%.*s", (int)l, s);
		}
	}
	return NL_STOP;
}

/* Sends msg (and frees it) on node's socket, waits for the kernel's ack. */
static int nl_exec(struct build *b, size_t node, struct nl_msg *msg)
{
	struct topo_impl *t = b->t;
	struct ack *a = &t->ack[node];
	int ret;

	a->err = 0;
	a->msg[0] = 0;
	ret = nl_send_auto(t->nl[node], msg);
	nlmsg_free(msg);
	if (ret < 0)
		return failed(b, nle_errno(ret), "cannot send the request");
	ret = nl_wait_for_ack(t->nl[node]);
	if (ret < 0) {
		ret = a->err < 0 ? a->err : nle_errno(ret);
		return failed(b, ret, a->msg[0] ? a->msg : strerror(-ret));
	}
	return 0;
}

static int open_socket(struct build *b, size_t i)
{
	struct topo_impl *t = b->t;
	struct nl_sock *sk;
	int one = 1, ret, fd;

	sk = nl_socket_alloc();
	if (!sk)
		return failed(b, -ENOMEM, NULL);
	t->nl[i] = sk;
	ret = nl_connect(sk, NETLINK_ROUTE);
	if (ret < 0)
		return failed(b, nle_errno(ret), "cannot open a netlink socket");
	fd = nl_socket_get_fd(sk);
	/* Ask for the kernel's reason on errors, without the request echoed
	 * back; both are hints, an older kernel without them is fine. */
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	ret = nl_socket_modify_err_cb(sk, NL_CB_CUSTOM, on_nlerr, &t->ack[i]);
	if (ret < 0)
		return failed(b, nle_errno(ret), NULL);
	return 0;
}

static int sysctl(struct build *b, const char *key, const char *val)
{
	int ret = sd_netns_sysctl_write(key, val);

	if (ret < 0) {
		char why[200];

		snprintf(why, sizeof(why), "sysctl %s = %s: %s", key, val, strerror(-ret));
		return failed(b, ret, why);
	}
	return 0;
}

/*
 * Sysctls of node i, written from inside its namespace before any
 * interface exists, so the "default" values reach the interfaces made
 * later. IPv4 settings of a new namespace are copied from the host's
 * (net.core.devconf_inherit_init_net 0), IPv6 ones are the kernel's: the
 * IPv4 ones that matter are set, not assumed.
 */
static int node_sysctls(struct build *b, size_t i)
{
	const struct sd_topo *t = &b->t->pub;
	enum sd_topo_role role = t->node[i].role;
	bool client_kernel = t->flags & SD_TOPO_CLIENT_KERNEL;
	bool v6 = t->ipv6 && (role != SD_TOPO_CLIENT || client_kernel);
	int ret = 0;

	/* A hop sees the engine's address only on its client side, where
	 * it belongs; no reverse-path filter is ever wanted here. */
	ret = ret ?: sysctl(b, "net/ipv4/conf/all/rp_filter", "0");
	ret = ret ?: sysctl(b, "net/ipv4/conf/default/rp_filter", "0");
	if (!v6) {
		/* The client kernel is deaf to IPv6: no MLD, no ICMPv6
		 * errors, nothing in the engine's way. AF_PACKET still
		 * sends and sees every frame. */
		ret = ret ?: sysctl(b, "net/ipv6/conf/all/disable_ipv6", "1");
		ret = ret ?: sysctl(b, "net/ipv6/conf/default/disable_ipv6", "1");
	} else {
		/* Static addresses only: no link-local address, hence no
		 * router solicitation; no DAD (also IFA_F_NODAD). */
		ret = ret ?: sysctl(b, "net/ipv6/conf/default/addr_gen_mode", "1");
		ret = ret ?: sysctl(b, "net/ipv6/conf/default/accept_dad", "0");
		ret = ret ?: sysctl(b, "net/ipv6/conf/default/accept_ra", "0");
	}
	if (role == SD_TOPO_HOP) {
		/* A hop of the user-space engine forwards nothing in its
		 * kernel, or every packet would cross twice. With forwarding
		 * off the kernel drops what is not its own without an ICMP
		 * error (ip_error, ip6_forward). Written either way: IPv4's
		 * value is inherited from the host's. */
		const char *fwd = sd_path_hop_userspace(&b->p->hop[i - 1]) ? "0" : "1";

		ret = ret ?: sysctl(b, "net/ipv4/ip_forward", fwd);
		if (v6)
			ret = ret ?: sysctl(b, "net/ipv6/conf/all/forwarding", fwd);
	}
	if (role == SD_TOPO_SERVER) {
		/* Each connection starts from the route, not from what an
		 * earlier cell left in the TCP metrics cache. */
		ret = ret ?: sysctl(b, "net/ipv4/tcp_no_metrics_save", "1");
	}
	return ret;
}

static int link_up(struct build *b, size_t i, int ifindex)
{
	struct ifinfomsg ifi = {
		.ifi_family = AF_UNSPEC, .ifi_index = ifindex, .ifi_flags = IFF_UP, .ifi_change = IFF_UP,
	};
	struct nl_msg *msg;

	msg = nlmsg_alloc_simple(RTM_NEWLINK, 0);
	if (!msg)
		return failed(b, -ENOMEM, NULL);
	if (nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0) {
		nlmsg_free(msg);
		return failed(b, -ENOMEM, NULL);
	}
	return nl_exec(b, i, msg);
}

/*
 * Node i, in a thread of its own that unshares into a new namespace and
 * sets it up from inside: sysctls, the rtnetlink socket the rest of the
 * build uses, nftables rules, lo. The thread then exits, dropping its hold
 * on the namespace; the fd and the socket keep it.
 */
static int build_node(struct build *b, size_t i)
{
	struct topo_impl *ti = b->t;
	struct sd_topo *t = &ti->pub;
	char label[40], rules[2048], why[160];
	struct stat st;
	int ret, fd;

	node_label(t, i, label, sizeof(label));
	step(b, "%s: create the network namespace", label);
	if (unshare(CLONE_NEWNET) < 0)
		return failed(b, -errno, strerror(errno));
	fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return failed(b, -errno, strerror(errno));
	t->node[i].nsfd = fd;
	if (fstat(fd, &st) == 0)
		t->node[i].ns_ino = (unsigned long)st.st_ino;
	step(b, "%s", label);
	ret = node_sysctls(b, i);
	if (ret < 0)
		return ret;
	step(b, "%s: open a netlink socket", label);
	ret = open_socket(b, i);
	if (ret < 0)
		return ret;
	if (t->node[i].role == SD_TOPO_HOP) {
		ret = sd_topo_nft_rules(&b->p->hop[i - 1], rules, sizeof(rules));
		step(b, "%s: load nftables rules", label);
		if (ret < 0)
			return failed(b, ret, "rules too long");
		if (ret > 0 && (ret = sd_topo_nft_load(rules, why, sizeof(why))) < 0)
			return failed(b, ret, why);
	}
	if (t->ipv6 && (t->node[i].role != SD_TOPO_CLIENT || (t->flags & SD_TOPO_CLIENT_KERNEL))) {
		step(b, "%s: load the nftables table shakedown_quiet", label);
		ret = sd_topo_nft_quiet(why, sizeof(why));
		if (ret < 0)
			return failed(b, ret, why);
	}
	if (t->node[i].role == SD_TOPO_SERVER ||
	    (t->node[i].role == SD_TOPO_CLIENT && (t->flags & SD_TOPO_CLIENT_KERNEL))) {
		step(b, "%s: set lo up", label);
		ret = link_up(b, i, 1);
		if (ret < 0)
			return ret;
	}
	return 0;
}

struct node_job {
	struct build b;              /* a copy with its own error and step */
	struct sd_topo_error err;
	size_t i;
};

static void *node_main(void *arg)
{
	struct node_job *j = arg;

	j->b.ret = build_node(&j->b, j->i);
	return NULL;
}

/*
 * The namespaces are made in parallel: most of the cost of a namespace is
 * the kernel's per-subsystem set-up (setup_net), which runs concurrently
 * for distinct namespaces, and each node's set-up touches only its own
 * slots of the topology. The first failing node, in path order, is
 * reported.
 */
static int build_nodes(struct build *b)
{
	struct sd_topo *t = &b->t->pub;
	struct node_job job[SD_TOPO_MAX_NODES];
	pthread_t th[SD_TOPO_MAX_NODES];
	bool started[SD_TOPO_MAX_NODES];
	int err;

	for (size_t i = 0; i < t->nnodes; i++) {
		job[i].b = *b;
		job[i].b.err = &job[i].err;
		memset(&job[i].err, 0, sizeof(job[i].err));
		job[i].i = i;
		err = pthread_create(&th[i], NULL, node_main, &job[i]);
		started[i] = err == 0;
		if (err) {
			step(&job[i].b, "start a thread for node %zu", i);
			job[i].b.ret = failed(&job[i].b, -err, strerror(err));
		}
	}
	for (size_t i = 0; i < t->nnodes; i++)
		if (started[i])
			pthread_join(th[i], NULL);
	for (size_t i = 0; i < t->nnodes; i++)
		if (job[i].b.ret < 0) {
			*b->err = job[i].err;
			return job[i].b.ret;
		}
	return 0;
}

static struct nl_addr *mac_addr(const uint8_t mac[6])
{
	return nl_addr_build(AF_LLC, mac, 6);
}

static int create_veth(struct build *b, size_t i)
{
	struct sd_topo *t = &b->t->pub;
	const struct sd_topo_link *l = &t->link[i];
	struct rtnl_link *link, *peer;
	struct nl_addr *ma = NULL, *mb = NULL;
	struct nl_msg *msg = NULL;
	int ret = -ENOMEM;

	link = rtnl_link_veth_alloc();
	if (!link)
		return failed(b, -ENOMEM, NULL);
	peer = rtnl_link_veth_get_peer(link);
	ma = mac_addr(l->end[SD_TOPO_LEFT].mac);
	mb = mac_addr(l->end[SD_TOPO_RIGHT].mac);
	if (!peer || !ma || !mb)
		goto out;
	rtnl_link_set_name(link, l->end[SD_TOPO_LEFT].ifname);
	rtnl_link_set_mtu(link, l->mtu);
	rtnl_link_set_addr(link, ma);
	rtnl_link_set_flags(link, IFF_UP);
	rtnl_link_set_name(peer, l->end[SD_TOPO_RIGHT].ifname);
	rtnl_link_set_mtu(peer, l->mtu);
	rtnl_link_set_addr(peer, mb);
	/* The peer is born in the right-hand namespace: it never exists in
	 * this one, let alone in the caller's. Not IFF_UP: the kernel opens
	 * the peer before it pairs the two (veth_newlink), and a veth
	 * without its peer refuses to open (-ENOTCONN); it goes up in
	 * setup_end. */
	rtnl_link_set_ns_fd(peer, t->node[i + 1].nsfd);
	ret = rtnl_link_build_add_request(link, NLM_F_CREATE | NLM_F_EXCL, &msg);
	if (ret < 0) {
		ret = failed(b, nle_errno(ret), "cannot build the request");
		goto out;
	}
	ret = nl_exec(b, i, msg);
out:
	if (ret < 0 && !b->err->step[0])
		failed(b, ret, NULL);
	nl_addr_put(ma);
	nl_addr_put(mb);
	if (peer)
		rtnl_link_put(peer);
	rtnl_link_put(link);
	return ret;
}

static int ethtool_set(int fd, const char *ifname, __u32 cmd, __u32 value)
{
	struct ethtool_value ev = { .cmd = cmd, .data = value };
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (char *)&ev;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0)
		return -errno;
	return (int)ev.data;
}

/*
 * One veth end, after the pair exists: its ifindex, offloads off, link
 * state settled.
 *
 * Offloads go through the legacy ethtool ioctl rather than ethtool
 * netlink: SIOCETHTOOL acts on the namespace of whatever socket carries
 * it, so the namespace's rtnetlink socket serves (no generic netlink
 * socket and family lookup per namespace), and the four calls per end are
 * a few microseconds each. Checksum first: TSO depends on it.
 *
 * ETHTOOL_GLINK last: whichever end came up first got its carrier when the
 * other one came up, and the activation of its transmit queue (which
 * until then drops everything) waits for the kernel's linkwatch worker.
 * ETHTOOL_GLINK runs that pending work synchronously (linkwatch_sync_dev)
 * - the topology is ready when sd_topo_open returns, with no sleep.
 */
static int setup_end(struct build *b, size_t i, int side)
{
	struct sd_topo *t = &b->t->pub;
	struct sd_topo_end *e = &t->link[i].end[side];
	static const struct {
		__u32 cmd;
		const char *name;
	} off[] = {
		{ ETHTOOL_STXCSUM, "tx-checksumming" },
		{ ETHTOOL_STSO, "tcp-segmentation-offload" },
		{ ETHTOOL_SGSO, "generic-segmentation-offload" },
		{ ETHTOOL_SGRO, "generic-receive-offload" },
	};
	char label[40];
	int fd = nl_socket_get_fd(b->t->nl[e->node]);
	struct ifreq ifr;
	int ret;

	node_label(t, e->node, label, sizeof(label));
	step(b, "%s: find %s", label, e->ifname);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", e->ifname);
	if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0)
		return failed(b, -errno, strerror(errno));
	e->ifindex = ifr.ifr_ifindex;
	if (side == SD_TOPO_RIGHT) {
		step(b, "%s: set %s up", label, e->ifname);
		ret = link_up(b, e->node, e->ifindex);
		if (ret < 0)
			return ret;
	}
	for (size_t k = 0; k < sizeof(off) / sizeof(off[0]); k++) {
		step(b, "%s: turn %s off on %s", label, off[k].name, e->ifname);
		ret = ethtool_set(fd, e->ifname, off[k].cmd, 0);
		if (ret < 0)
			return failed(b, ret, strerror(-ret));
	}
	step(b, "%s: link state of %s", label, e->ifname);
	ret = ethtool_set(fd, e->ifname, ETHTOOL_GLINK, 0);
	if (ret < 0)
		return failed(b, ret, strerror(-ret));
	if (ret != 1)
		return failed(b, -ENOLINK, "no carrier after both ends came up");
	return 0;
}

static int build_links(struct build *b)
{
	struct sd_topo *t = &b->t->pub;
	char label[40];
	int ret;

	for (size_t i = 0; i < t->nlinks; i++) {
		const struct sd_topo_link *l = &t->link[i];

		step(b, "%s: create veth %s <-> %s in %s (mtu %u)",
		     node_label(t, i, label, sizeof(label)), l->end[0].ifname,
		     l->end[1].ifname, t->node[i + 1].name, l->mtu);
		ret = create_veth(b, i);
		if (ret < 0)
			return ret;
		/* Right end first: it goes up there, and the left end's
		 * carrier depends on it. */
		ret = setup_end(b, i, SD_TOPO_RIGHT);
		if (ret < 0)
			return ret;
		ret = setup_end(b, i, SD_TOPO_LEFT);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static const char *fmt_addr(int family, const uint8_t *a, char *buf, size_t n)
{
	if (family == AF_INET)
		snprintf(buf, n, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
	else if (!inet_ntop(AF_INET6, a, buf, (socklen_t)n))
		snprintf(buf, n, "?");
	return buf;
}

static size_t alen(int family)
{
	return family == AF_INET ? 4 : 16;
}

static int add_addr(struct build *b, const struct sd_topo_end *e, int family)
{
	const uint8_t *a = family == AF_INET ? e->ip4 : e->ip6;
	int plen = family == AF_INET ? 24 : 64;
	struct rtnl_addr *ad = rtnl_addr_alloc();
	struct nl_addr *local = nl_addr_build(family, a, alen(family));
	struct nl_msg *msg = NULL;
	char label[40], buf[64];
	int ret = -ENOMEM;

	step(b, "%s: add address %s/%d to %s", node_label(&b->t->pub, e->node, label, sizeof(label)),
	     fmt_addr(family, a, buf, sizeof(buf)), plen, e->ifname);
	if (!ad || !local)
		goto out;
	nl_addr_set_prefixlen(local, plen);
	rtnl_addr_set_family(ad, family);
	rtnl_addr_set_ifindex(ad, e->ifindex);
	rtnl_addr_set_prefixlen(ad, plen);
	if (rtnl_addr_set_local(ad, local) < 0)
		goto out;
	if (family == AF_INET6)
		rtnl_addr_set_flags(ad, IFA_F_NODAD);
	ret = nle_errno(rtnl_addr_build_add_request(ad, NLM_F_CREATE | NLM_F_EXCL, &msg));
	if (ret == 0)
		ret = nl_exec(b, e->node, msg);
out:
	if (ret < 0 && !b->err->step[0])
		failed(b, ret, NULL);
	nl_addr_put(local);
	if (ad)
		rtnl_addr_put(ad);
	return ret;
}

/* A permanent entry on end e for the address of `other` (its MAC). */
static int add_neigh(struct build *b, const struct sd_topo_end *e,
		     const struct sd_topo_end *other, int family)
{
	const uint8_t *a = family == AF_INET ? other->ip4 : other->ip6;
	struct rtnl_neigh *n = rtnl_neigh_alloc();
	struct nl_addr *dst = nl_addr_build(family, a, alen(family));
	struct nl_addr *ll = mac_addr(other->mac);
	struct nl_msg *msg = NULL;
	char label[40], buf[64];
	int ret = -ENOMEM;

	step(b, "%s: add neighbour %s on %s", node_label(&b->t->pub, e->node, label, sizeof(label)),
	     fmt_addr(family, a, buf, sizeof(buf)), e->ifname);
	if (!n || !dst || !ll)
		goto out;
	rtnl_neigh_set_family(n, family);
	rtnl_neigh_set_ifindex(n, e->ifindex);
	if (rtnl_neigh_set_dst(n, dst) < 0)
		goto out;
	rtnl_neigh_set_lladdr(n, ll);
	rtnl_neigh_set_state(n, NUD_PERMANENT);
	ret = nle_errno(rtnl_neigh_build_add_request(n, NLM_F_CREATE | NLM_F_REPLACE, &msg));
	if (ret == 0)
		ret = nl_exec(b, e->node, msg);
out:
	if (ret < 0 && !b->err->step[0])
		failed(b, ret, NULL);
	nl_addr_put(dst);
	nl_addr_put(ll);
	if (n)
		rtnl_neigh_put(n);
	return ret;
}

static void link_prefix(int family, size_t link, uint8_t a[16])
{
	memset(a, 0, 16);
	if (family == AF_INET) {
		a[0] = 10;
		a[2] = (uint8_t)link;
	} else {
		a[0] = 0xfd;
		a[7] = (uint8_t)link;
	}
}

/* On end e: a route to link `to`'s prefix via the other end of e's link. */
static int add_route(struct build *b, const struct sd_topo_end *e, const struct sd_topo_end *gw,
		     size_t to, int family, unsigned advmss)
{
	int plen = family == AF_INET ? 24 : 64;
	uint8_t pfx[16];
	struct rtnl_route *r = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	struct nl_addr *dst, *via;
	struct nl_msg *msg = NULL;
	char label[40], buf[64], gbuf[64];
	int ret = -ENOMEM;

	link_prefix(family, to, pfx);
	dst = nl_addr_build(family, pfx, alen(family));
	via = nl_addr_build(family, family == AF_INET ? gw->ip4 : gw->ip6, alen(family));
	step(b, "%s: add route %s/%d via %s dev %s%s",
	     node_label(&b->t->pub, e->node, label, sizeof(label)),
	     fmt_addr(family, pfx, buf, sizeof(buf)), plen,
	     fmt_addr(family, family == AF_INET ? gw->ip4 : gw->ip6, gbuf, sizeof(gbuf)),
	     e->ifname, advmss ? " advmss" : "");
	if (!r || !nh || !dst || !via)
		goto out;
	nl_addr_set_prefixlen(dst, plen);
	if (rtnl_route_set_family(r, (uint8_t)family) < 0 || rtnl_route_set_dst(r, dst) < 0)
		goto out;
	rtnl_route_set_table(r, RT_TABLE_MAIN);
	rtnl_route_set_protocol(r, RTPROT_STATIC);
	rtnl_route_set_scope(r, RT_SCOPE_UNIVERSE);
	rtnl_route_set_type(r, RTN_UNICAST);
	if (advmss)
		rtnl_route_set_metric(r, RTAX_ADVMSS, advmss);
	rtnl_route_nh_set_ifindex(nh, e->ifindex);
	rtnl_route_nh_set_gateway(nh, via);
	rtnl_route_add_nexthop(r, nh);   /* the route owns nh now */
	nh = NULL;
	ret = nle_errno(rtnl_route_build_add_request(r, NLM_F_CREATE | NLM_F_EXCL, &msg));
	if (ret == 0)
		ret = nl_exec(b, e->node, msg);
out:
	if (ret < 0 && !b->err->step[0])
		failed(b, ret, NULL);
	if (nh)
		rtnl_route_nh_free(nh);
	nl_addr_put(dst);
	nl_addr_put(via);
	if (r)
		rtnl_route_put(r);
	return ret;
}

/*
 * tbf on one egress: a bucket of 10 ms at the rate, but at least two
 * full-sized frames (a bucket smaller than a frame drops it), and a queue
 * of 100 ms at the rate on top of the bucket.
 */
static int add_tbf(struct build *b, const struct sd_topo_end *e, unsigned mtu, uint64_t bps)
{
	struct rtnl_qdisc *q = rtnl_qdisc_alloc();
	struct nl_msg *msg = NULL;
	uint64_t rate = bps / 8, bucket = rate / 100, limit;
	char label[40];
	int ret = -ENOMEM;

	step(b, "%s: add tbf qdisc rate %llu bit/s on %s",
	     node_label(&b->t->pub, e->node, label, sizeof(label)),
	     (unsigned long long)bps, e->ifname);
	if (!q)
		goto out;
	if (bucket < 2 * (mtu + 14))
		bucket = 2 * (mtu + 14);
	limit = bucket + rate / 10;
	rtnl_tc_set_ifindex(TC_CAST(q), e->ifindex);
	rtnl_tc_set_parent(TC_CAST(q), TC_H_ROOT);
	rtnl_tc_set_handle(TC_CAST(q), TC_HANDLE(1, 0));
	rtnl_tc_set_mtu(TC_CAST(q), mtu + 14);
	ret = nle_errno(rtnl_tc_set_kind(TC_CAST(q), "tbf"));
	if (ret < 0)
		goto out;
	rtnl_qdisc_tbf_set_rate(q, (int)rate, (int)bucket, 0);
	rtnl_qdisc_tbf_set_limit(q, (int)limit);
	ret = nle_errno(rtnl_qdisc_build_add_request(q, NLM_F_CREATE | NLM_F_REPLACE, &msg));
	if (ret == 0)
		ret = nl_exec(b, e->node, msg);
out:
	if (ret < 0 && !b->err->step[0])
		failed(b, ret, NULL);
	if (q)
		rtnl_qdisc_put(q);
	return ret;
}

static int build_l3(struct build *b)
{
	struct sd_topo *t = &b->t->pub;
	int fams[2] = { AF_INET, AF_INET6 };
	size_t nfam = t->ipv6 ? 2 : 1, n = t->nlinks - 1;
	int ret;

	/* Addresses on every end the kernel owns (not c0, unless asked). */
	for (size_t i = 0; i < t->nlinks; i++)
		for (int s = 0; s < 2; s++)
			for (size_t f = 0; f < nfam; f++)
				if (t->link[i].end[s].owned &&
				    (ret = add_addr(b, &t->link[i].end[s], fams[f])) < 0)
					return ret;
	/* Neighbours: each owned end knows the other end of its link. */
	for (size_t i = 0; i < t->nlinks; i++)
		for (int s = 0; s < 2; s++)
			for (size_t f = 0; f < nfam; f++)
				if (t->link[i].end[s].owned &&
				    (ret = add_neigh(b, &t->link[i].end[s], &t->link[i].end[!s], fams[f])) < 0)
					return ret;
	/* Routes: hop k (node k) reaches links below k-1 via its left
	 * neighbour and links above k via its right one. */
	for (size_t k = 1; k <= n; k++)
		for (size_t f = 0; f < nfam; f++) {
			for (size_t j = 0; j + 1 < k; j++)
				if ((ret = add_route(b, &t->link[k - 1].end[SD_TOPO_RIGHT],
						     &t->link[k - 1].end[SD_TOPO_LEFT], j, fams[f], 0)) < 0)
					return ret;
			for (size_t j = k + 1; j <= n; j++)
				if ((ret = add_route(b, &t->link[k].end[SD_TOPO_LEFT],
						     &t->link[k].end[SD_TOPO_RIGHT], j, fams[f], 0)) < 0)
					return ret;
		}
	/* The server: every client-side prefix via hopN, with advmss: the
	 * path's value for IPv4, 20 less for IPv6's longer header, as a
	 * server on one LAN would advertise (1460 and 1440 on Ethernet). */
	for (size_t f = 0; f < nfam; f++)
		for (size_t j = 0; j < n; j++)
			if ((ret = add_route(b, &t->link[n].end[SD_TOPO_RIGHT], &t->link[n].end[SD_TOPO_LEFT],
					     j, fams[f], fams[f] == AF_INET ? t->server_advmss :
					     t->server_advmss6)) < 0)
				return ret;
	/* A client kernel: everything beyond link0 via hop1. */
	if (t->flags & SD_TOPO_CLIENT_KERNEL)
		for (size_t f = 0; f < nfam; f++)
			for (size_t j = 1; j <= n; j++)
				if ((ret = add_route(b, &t->link[0].end[SD_TOPO_LEFT], &t->link[0].end[SD_TOPO_RIGHT],
						     j, fams[f], 0)) < 0)
					return ret;
	/* Rate limits, on both of the hop's egresses. */
	for (size_t k = 1; k <= n; k++) {
		uint64_t bps = b->p->hop[k - 1].rate_bps;

		if (!bps)
			continue;
		if ((ret = add_tbf(b, &t->link[k - 1].end[SD_TOPO_RIGHT], t->link[k - 1].mtu, bps)) < 0 ||
		    (ret = add_tbf(b, &t->link[k].end[SD_TOPO_LEFT], t->link[k].mtu, bps)) < 0)
			return ret;
	}
	return 0;
}

static void mac_of(uint8_t mac[6], size_t node, size_t link)
{
	mac[0] = 0x02;   /* locally administered, unicast (IEEE 802 U/L bit) */
	mac[1] = 0x73;   /* 's' */
	mac[2] = 0x64;   /* 'd' */
	mac[3] = (uint8_t)node;
	mac[4] = (uint8_t)link;
	mac[5] = 0;
}

static void end_addrs(struct sd_topo_end *e, size_t link, int side)
{
	e->ip4[0] = 10;
	e->ip4[1] = 0;
	e->ip4[2] = (uint8_t)link;
	e->ip4[3] = (uint8_t)(side + 1);
	link_prefix(AF_INET6, link, e->ip6);
	e->ip6[15] = (uint8_t)(side + 1);
}

/* Names, addresses and MACs: everything decided before the kernel is asked. */
static void layout(struct sd_topo *t, const struct sd_path *p, unsigned flags)
{
	size_t n = p->nhops;

	snprintf(t->path, sizeof(t->path), "%s", p->name);
	t->flags = flags;
	t->ipv6 = !(flags & SD_TOPO_NO_IPV6);
	t->server_advmss = p->server_advmss;
	t->server_advmss6 = p->server_advmss - 20;
	t->nnodes = n + 2;
	t->nlinks = n + 1;
	for (size_t i = 0; i < t->nnodes; i++) {
		struct sd_topo_node *nd = &t->node[i];

		nd->nsfd = -1;
		if (i == 0) {
			nd->role = SD_TOPO_CLIENT;
			snprintf(nd->name, sizeof(nd->name), "client");
		} else if (i == n + 1) {
			nd->role = SD_TOPO_SERVER;
			snprintf(nd->name, sizeof(nd->name), "server");
		} else {
			nd->role = SD_TOPO_HOP;
			snprintf(nd->name, sizeof(nd->name), "%s", p->hop[i - 1].name);
		}
	}
	for (size_t i = 0; i < t->nlinks; i++) {
		struct sd_topo_link *l = &t->link[i];
		struct sd_topo_end *a = &l->end[SD_TOPO_LEFT], *z = &l->end[SD_TOPO_RIGHT];

		l->mtu = sd_path_link_mtu(p, i);
		a->node = i;
		z->node = i + 1;
		if (i == 0)
			snprintf(a->ifname, sizeof(a->ifname), "c0");
		else
			snprintf(a->ifname, sizeof(a->ifname), "h%ur", (unsigned)i);
		if (i == n)
			snprintf(z->ifname, sizeof(z->ifname), "s0");
		else
			snprintf(z->ifname, sizeof(z->ifname), "h%ul", (unsigned)(i + 1));
		mac_of(a->mac, i, i);
		mac_of(z->mac, i + 1, i);
		end_addrs(a, i, SD_TOPO_LEFT);
		end_addrs(z, i, SD_TOPO_RIGHT);
		a->owned = i != 0 || (flags & SD_TOPO_CLIENT_KERNEL);
		z->owned = true;
	}
}

static void impl_close(struct topo_impl *ti)
{
	/* Sockets first: each holds its namespace too. */
	for (size_t i = 0; i < SD_TOPO_MAX_NODES; i++) {
		if (ti->nl[i])
			nl_socket_free(ti->nl[i]);
		ti->nl[i] = NULL;
	}
	for (size_t i = 0; i < ti->pub.nnodes; i++)
		if (ti->pub.node[i].nsfd >= 0)
			close(ti->pub.node[i].nsfd);
	free(ti);
}

void sd_topo_close(struct sd_topo *t)
{
	if (t)
		impl_close((struct topo_impl *)t);
}

static int check_path(const struct sd_path *p, unsigned flags, struct sd_topo_error *err)
{
	struct sd_path_error perr;

	if (flags & ~(unsigned)(SD_TOPO_NO_IPV6 | SD_TOPO_CLIENT_KERNEL)) {
		snprintf(err->step, sizeof(err->step), "check the path: unknown flags 0x%x", flags);
		return -SD_EVALUE;
	}
	if (p->nhops < 1 || p->nhops > SD_PATH_MAX_HOPS) {
		snprintf(err->step, sizeof(err->step), "check the path: %zu hops (1..%d)",
			 p->nhops, SD_PATH_MAX_HOPS);
		return -SD_EVALUE;
	}
	for (size_t i = 0; i <= p->nhops; i++) {
		unsigned mtu = sd_path_link_mtu(p, i);

		if (mtu < SD_PATH_MTU_MIN || mtu > SD_PATH_MTU_MAX) {
			snprintf(err->step, sizeof(err->step), "check the path: link %zu mtu %u (68..9000)",
				 i, mtu);
			return -SD_EVALUE;
		}
	}
	if (p->server_advmss < SD_PATH_ADVMSS_MIN || p->server_advmss > SD_PATH_MTU_MAX) {
		snprintf(err->step, sizeof(err->step), "check the path: server_advmss %u (108..9000)",
			 p->server_advmss);
		return -SD_EVALUE;
	}
	if (!(flags & SD_TOPO_NO_IPV6) && sd_path_check_ipv6(p, &perr) < 0) {
		snprintf(err->step, sizeof(err->step), "check the path: %s; build it IPv4 only",
			 perr.msg);
		return -SD_EVALUE;
	}
	return 0;
}

int sd_topo_open(const struct sd_path *p, unsigned flags, struct sd_topo **out,
		 struct sd_topo_error *err)
{
	struct topo_impl *ti;
	struct sd_topo *t;
	struct build b;
	size_t n;
	int ret;

	*out = NULL;
	memset(err, 0, sizeof(*err));
	ret = check_path(p, flags, err);
	if (ret < 0)
		return ret;
	ti = calloc(1, sizeof(*ti));
	if (!ti) {
		snprintf(err->step, sizeof(err->step), "allocate the topology");
		return -ENOMEM;
	}
	t = &ti->pub;
	layout(t, p, flags);
	memset(&b, 0, sizeof(b));
	b.t = ti;
	b.p = p;
	b.err = err;
	/* Short-lived threads make the namespaces; links, addresses and
	 * routes then go through the per-namespace sockets from this
	 * thread, which never leaves the caller's namespace. */
	ret = build_nodes(&b);
	if (ret == 0)
		ret = build_links(&b);
	if (ret == 0)
		ret = build_l3(&b);
	if (ret < 0) {
		impl_close(ti);
		return ret;
	}
	n = t->nnodes;
	t->client_ns = t->node[0].nsfd;
	t->server_ns = t->node[n - 1].nsfd;
	t->client_ifindex = t->link[0].end[SD_TOPO_LEFT].ifindex;
	memcpy(t->client_ifname, t->link[0].end[SD_TOPO_LEFT].ifname, sizeof(t->client_ifname));
	memcpy(t->client_mac, t->link[0].end[SD_TOPO_LEFT].mac, 6);
	memcpy(t->gateway_mac, t->link[0].end[SD_TOPO_RIGHT].mac, 6);
	memcpy(t->engine4, t->link[0].end[SD_TOPO_LEFT].ip4, 4);
	memcpy(t->engine6, t->link[0].end[SD_TOPO_LEFT].ip6, 16);
	memcpy(t->server4, t->link[t->nlinks - 1].end[SD_TOPO_RIGHT].ip4, 4);
	memcpy(t->server6, t->link[t->nlinks - 1].end[SD_TOPO_RIGHT].ip6, 16);
	*out = t;
	return 0;
}

int sd_topo_node_find(const struct sd_topo *t, const char *name)
{
	for (size_t i = 0; i < t->nnodes; i++)
		if (strcmp(t->node[i].name, name) == 0)
			return (int)i;
	return -SD_EUNKNOWN;
}

#define NETNS_RUN_DIR "/run/netns"

bool sd_topo_prefix_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 31 || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

static void unname_one(const char *path)
{
	/* Detach: a shell sitting in the namespace does not keep the name. */
	(void)umount2(path, MNT_DETACH);
	(void)unlink(path);
}

int sd_topo_name(const struct sd_topo *t, const char *prefix)
{
	char path[SD_TOPO_MAX_NODES][128], src[64];
	size_t done = 0;
	int ret = 0, fd;

	if (!sd_topo_prefix_valid(prefix))
		return -SD_EVALUE;
	/* As ip-netns(8) does, minus making the directory a shared mount:
	 * the names are for ip netns exec and friends in this mount
	 * namespace. */
	if (mkdir(NETNS_RUN_DIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	for (size_t i = 0; i < t->nnodes; i++) {
		snprintf(path[i], sizeof(path[i]), NETNS_RUN_DIR "/%s-%s", prefix, t->node[i].name);
		fd = open(path[i], O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
		if (fd < 0) {
			ret = -errno;
			goto undo;
		}
		close(fd);
		snprintf(src, sizeof(src), "/proc/self/fd/%d", t->node[i].nsfd);
		if (mount(src, path[i], "none", MS_BIND, NULL) < 0) {
			ret = -errno;
			(void)unlink(path[i]);
			goto undo;
		}
		done++;
	}
	return 0;
undo:
	while (done--)
		unname_one(path[done]);
	return ret;
}

int sd_topo_unname(const char *prefix)
{
	char names[64][NAME_MAX + 1], path[sizeof(NETNS_RUN_DIR) + NAME_MAX + 2];
	size_t plen, n = 0;
	struct dirent *de;
	DIR *d;

	if (!sd_topo_prefix_valid(prefix))
		return -SD_EVALUE;
	d = opendir(NETNS_RUN_DIR);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	plen = strlen(prefix);
	/* Collect first, remove after: the directory is not changed under
	 * readdir. */
	while ((de = readdir(d)) && n < sizeof(names) / sizeof(names[0])) {
		if (strncmp(de->d_name, prefix, plen) != 0 || de->d_name[plen] != '-' ||
		    !de->d_name[plen + 1])
			continue;
		snprintf(names[n++], sizeof(names[0]), "%s", de->d_name);
	}
	closedir(d);
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), NETNS_RUN_DIR "/%.*s", NAME_MAX, names[i]);
		unname_one(path);
	}
	return (int)n;
}
