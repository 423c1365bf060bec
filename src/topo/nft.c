/* SPDX-License-Identifier: MIT */
/* The nftables rules behind a hop's kernel behaviours, loaded with libnftables. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <nftables/libnftables.h>

#include "shakedown/netns.h"
#include "shakedown/topo.h"
#include "shakedown/report.h"
#include "topo_int.h"

/*
 * One table per hop, two base chains. Every rule has a counter and a
 * comment naming its behaviour, so `nft list ruleset` in a hop says what
 * the hop did to a cell (drops per behaviour).
 *
 * forward: what a hop does to packets it routes, in both directions.
 *  - drop-fragments: IPv4 MF set or offset non-zero (RFC 791 §3.1, the
 *    13-bit offset and the MF bit: mask 0x3fff); IPv6 any fragment header
 *    (RFC 8200 §4.5), atomic fragments included. No conntrack rule exists
 *    in the namespace, so nf_defrag never reassembles in front of these.
 *  - loss: numgen random mod 10000, so P has two decimals; 100% is a
 *    plain drop (nft refuses "< 10000" as out of the 0..9999 range).
 *  - mss-clamp: only SYNs (with or without ACK) whose MSS option is above
 *    N are rewritten; the checksum is fixed up by the kernel.
 * output: what the hop itself sends.
 *  - icmp-filter: the hop's ICMP frag-needed (RFC 792 type 3 code 4) and
 *    ICMPv6 packet-too-big (RFC 4443 §3.2, type 2). Locally generated
 *    errors pass the output hook (icmp_send -> ip_local_out), forwarded
 *    ones do not: only the hop's own errors vanish, as with a firewall on
 *    the router.
 * A hop of the user-space middlebox engine gets no rules: its kernel
 * forwards nothing and sends no ICMP errors, and the engine does every
 * one of these behaviours itself.
 */
int sd_topo_nft_rules(const struct sd_path_hop *h, char *out, size_t n)
{
	bool fwd = h->drop_fragments || h->loss_bp || h->mss_clamp;
	bool icmp = h->icmp_filter;
	size_t w = 0;

	if (n)
		out[0] = 0;
	if ((!fwd && !icmp) || sd_path_hop_userspace(h))
		return 0;
	sd_put(out, n, &w, "table inet shakedown {\n");
	if (fwd) {
		sd_put(out, n, &w, "\tchain forward {\n"
			"\t\ttype filter hook forward priority 0; policy accept;\n");
		if (h->drop_fragments)
			sd_put(out, n, &w,
			    "\t\tip frag-off & 0x3fff != 0 counter drop comment \"drop-fragments\"\n"
			    "\t\texthdr frag exists counter drop comment \"drop-fragments\"\n");
		if (h->loss_bp >= 10000)
			sd_put(out, n, &w, "\t\tcounter drop comment \"loss\"\n");
		else if (h->loss_bp)
			sd_put(out, n, &w,
			    "\t\tnumgen random mod 10000 < %u counter drop comment \"loss\"\n",
			    h->loss_bp);
		if (h->mss_clamp)
			sd_put(out, n, &w,
			    "\t\ttcp flags & syn == syn tcp option maxseg size > %u counter "
			    "tcp option maxseg size set %u comment \"mss-clamp\"\n",
			    h->mss_clamp, h->mss_clamp);
		sd_put(out, n, &w, "\t}\n");
	}
	if (icmp)
		sd_put(out, n, &w, "\tchain output {\n"
		    "\t\ttype filter hook output priority 0; policy accept;\n"
		    "\t\ticmp type destination-unreachable icmp code frag-needed counter drop comment \"icmp-filter\"\n"
		    "\t\ticmpv6 type packet-too-big counter drop comment \"icmp-filter\"\n"
		    "\t}\n");
	sd_put(out, n, &w, "}\n");
	if (w >= n)
		return -ENOSPC;
	return (int)w;
}

/*
 * libnftables is not safe to call from several threads at once: the first
 * nft_ctx_new() initialises process-wide state (gmp, xtables) behind an
 * unlocked flag. The namespaces of a topology are set up in parallel
 * threads, so every use of the library here holds this lock.
 */
static pthread_mutex_t nft_lock = PTHREAD_MUTEX_INITIALIZER;

static void first_line(const char *s, char *msg, size_t n)
{
	size_t l;

	if (!n)
		return;
	if (!s)
		s = "";
	l = strcspn(s, "\n");
	snprintf(msg, n, "%.*s", (int)l, s);
}

int sd_topo_nft_load(const char *rules, char *msg, size_t n)
{
	struct nft_ctx *ctx;
	int ret = -ENOMEM;

	if (n)
		msg[0] = 0;
	/* The context's netlink socket is opened in the calling thread's
	 * namespace; it lives only for this call. */
	pthread_mutex_lock(&nft_lock);
	ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!ctx) {
		pthread_mutex_unlock(&nft_lock);
		return -ENOMEM;
	}
	if (nft_ctx_buffer_output(ctx) || nft_ctx_buffer_error(ctx))
		goto out;
	ret = 0;
	if (nft_run_cmd_from_buffer(ctx, rules) != 0) {
		first_line(nft_ctx_get_error_buffer(ctx), msg, n);
		ret = -EINVAL;
	}
out:
	nft_ctx_free(ctx);
	pthread_mutex_unlock(&nft_lock);
	return ret;
}

struct list_job {
	char *text;
	int ret;
};

static int list_in_ns(void *arg)
{
	struct list_job *j = arg;
	struct nft_ctx *ctx;
	const char *s;

	j->ret = -ENOMEM;
	pthread_mutex_lock(&nft_lock);
	ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!ctx)
		goto out;
	if (nft_ctx_buffer_output(ctx) || nft_ctx_buffer_error(ctx))
		goto out;
	if (nft_run_cmd_from_buffer(ctx, "list ruleset") != 0) {
		s = nft_ctx_get_error_buffer(ctx);
		j->ret = -EIO;
	} else {
		s = nft_ctx_get_output_buffer(ctx);
		j->ret = 0;
	}
	j->text = strdup(s ? s : "");
	if (!j->text)
		j->ret = -ENOMEM;
	else if (j->ret == 0)
		j->ret = (int)strlen(j->text);
out:
	if (ctx)
		nft_ctx_free(ctx);
	pthread_mutex_unlock(&nft_lock);
	return j->ret;
}

int sd_topo_nft_list(const struct sd_topo *t, size_t node, char **out)
{
	struct list_job j = { NULL, -EINVAL };
	int ret;

	*out = NULL;
	if (node >= t->nnodes)
		return -ERANGE;
	ret = sd_netns_run(t->node[node].nsfd, list_in_ns, &j);
	if (ret < 0 && ret != -EIO) {
		free(j.text);
		return ret;
	}
	*out = j.text;
	return ret;
}

/*
 * The table that keeps a namespace quiet:
 *
 *   table inet shakedown_quiet {
 *     chain output {
 *       type filter hook output priority 0; policy accept;
 *       icmpv6 type mld-listener-report counter drop comment "quiet"
 *       icmpv6 type mld-listener-done counter drop comment "quiet"
 *       icmpv6 type mld2-listener-report counter drop comment "quiet"
 *     }
 *   }
 *
 * The kernel sends MLD listener reports (RFC 2710 §3, RFC 3810 §5.2) for
 * the solicited-node groups of the static addresses, and for all-routers
 * in a hop, twice, at random times up to a second after the build
 * (mldv2_unsolicited_report_interval): noise in every capture, and a path
 * that never looks quiet. Nothing here needs multicast: the neighbours are
 * static. The output hook comes before the capture taps
 * (dev_queue_xmit_nit), so the reports are never seen.
 *
 * Every IPv6 namespace but the client's gets it, so it is written as one
 * nfnetlink batch with libmnl, the same expressions nft(8) would generate
 * for the text above (nft --debug=netlink), rather than parsed by
 * libnftables: that costs about 0.3 ms of CPU per namespace, under a
 * process-wide lock.
 */
static struct nlmsghdr *nft_msg(struct mnl_nlmsg_batch *b, uint16_t type, uint16_t flags,
				uint32_t seq, uint8_t family, uint16_t res_id)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(mnl_nlmsg_batch_current(b));
	struct nfgenmsg *g;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = family;
	g->version = NFNETLINK_V0;
	g->res_id = htons(res_id);
	return nlh;
}

static void expr_meta(struct nlmsghdr *nlh, uint32_t key)
{
	struct nlattr *e = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM), *d;

	mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, "meta");
	d = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
	mnl_attr_put_u32(nlh, NFTA_META_KEY, htonl(key));
	mnl_attr_put_u32(nlh, NFTA_META_DREG, htonl(NFT_REG_1));
	mnl_attr_nest_end(nlh, d);
	mnl_attr_nest_end(nlh, e);
}

static void expr_cmp_u8(struct nlmsghdr *nlh, uint8_t v)
{
	struct nlattr *e = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM), *d, *data;

	mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, "cmp");
	d = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
	mnl_attr_put_u32(nlh, NFTA_CMP_SREG, htonl(NFT_REG_1));
	mnl_attr_put_u32(nlh, NFTA_CMP_OP, htonl(NFT_CMP_EQ));
	data = mnl_attr_nest_start(nlh, NFTA_CMP_DATA);
	mnl_attr_put(nlh, NFTA_DATA_VALUE, 1, &v);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, d);
	mnl_attr_nest_end(nlh, e);
}

static void expr_l4_u8(struct nlmsghdr *nlh, uint32_t offset)
{
	struct nlattr *e = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM), *d;

	mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, "payload");
	d = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
	mnl_attr_put_u32(nlh, NFTA_PAYLOAD_DREG, htonl(NFT_REG_1));
	mnl_attr_put_u32(nlh, NFTA_PAYLOAD_BASE, htonl(NFT_PAYLOAD_TRANSPORT_HEADER));
	mnl_attr_put_u32(nlh, NFTA_PAYLOAD_OFFSET, htonl(offset));
	mnl_attr_put_u32(nlh, NFTA_PAYLOAD_LEN, htonl(1));
	mnl_attr_nest_end(nlh, d);
	mnl_attr_nest_end(nlh, e);
}

static void expr_counter_drop(struct nlmsghdr *nlh)
{
	struct nlattr *e, *d, *data, *v;

	e = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
	mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, "counter");
	d = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
	mnl_attr_put_u64(nlh, NFTA_COUNTER_BYTES, 0);
	mnl_attr_put_u64(nlh, NFTA_COUNTER_PACKETS, 0);
	mnl_attr_nest_end(nlh, d);
	mnl_attr_nest_end(nlh, e);
	e = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
	mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, "immediate");
	d = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
	mnl_attr_put_u32(nlh, NFTA_IMMEDIATE_DREG, htonl(NFT_REG_VERDICT));
	data = mnl_attr_nest_start(nlh, NFTA_IMMEDIATE_DATA);
	v = mnl_attr_nest_start(nlh, NFTA_DATA_VERDICT);
	mnl_attr_put_u32(nlh, NFTA_VERDICT_CODE, htonl(NF_DROP));
	mnl_attr_nest_end(nlh, v);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, d);
	mnl_attr_nest_end(nlh, e);
}

#define QUIET_TABLE "shakedown_quiet"

int sd_topo_nft_quiet(char *msg, size_t n)
{
	/* ICMPv6 types (RFC 4443 §2.1 registry): MLDv1 report and done
	 * (RFC 2710), MLDv2 report (RFC 3810). */
	static const uint8_t mld[] = { 131, 132, 143 };
	/* libnftnl's user data: a comment TLV (type 0, length with NUL). */
	static const uint8_t comment[] = { 0, 6, 'q', 'u', 'i', 'e', 't', 0 };
	char buf[4096] __attribute__((aligned(4)));
	char rbuf[MNL_SOCKET_BUFFER_SIZE] __attribute__((aligned(4)));
	struct mnl_socket *nl;
	struct mnl_nlmsg_batch *b;
	struct nlmsghdr *nlh;
	struct nlattr *nest;
	uint32_t seq = 1, last;
	bool acked = false;
	int ret = -ENOMEM;
	ssize_t len;

	if (n)
		msg[0] = 0;
	/* libmnl 1.0.4 leaves attribute padding as it finds it. */
	memset(buf, 0, sizeof(buf));
	nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto out;
	}
	b = mnl_nlmsg_batch_start(buf, sizeof(buf));
	if (!b)
		goto out;
	nft_msg(b, NFNL_MSG_BATCH_BEGIN, 0, seq++, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
	mnl_nlmsg_batch_next(b);
	nlh = nft_msg(b, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_ACK,
		      seq++, NFPROTO_INET, 0);
	mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, QUIET_TABLE);
	mnl_nlmsg_batch_next(b);
	nlh = nft_msg(b, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWCHAIN, NLM_F_CREATE | NLM_F_ACK,
		      seq++, NFPROTO_INET, 0);
	mnl_attr_put_strz(nlh, NFTA_CHAIN_TABLE, QUIET_TABLE);
	mnl_attr_put_strz(nlh, NFTA_CHAIN_NAME, "output");
	nest = mnl_attr_nest_start(nlh, NFTA_CHAIN_HOOK);
	mnl_attr_put_u32(nlh, NFTA_HOOK_HOOKNUM, htonl(NF_INET_LOCAL_OUT));
	mnl_attr_put_u32(nlh, NFTA_HOOK_PRIORITY, htonl(0));
	mnl_attr_nest_end(nlh, nest);
	mnl_attr_put_u32(nlh, NFTA_CHAIN_POLICY, htonl(NF_ACCEPT));
	mnl_attr_put_strz(nlh, NFTA_CHAIN_TYPE, "filter");
	mnl_nlmsg_batch_next(b);
	for (size_t i = 0; i < sizeof(mld); i++) {
		nlh = nft_msg(b, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE,
			      NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK, seq++, NFPROTO_INET, 0);
		mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, QUIET_TABLE);
		mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, "output");
		nest = mnl_attr_nest_start(nlh, NFTA_RULE_EXPRESSIONS);
		expr_meta(nlh, NFT_META_NFPROTO);
		expr_cmp_u8(nlh, NFPROTO_IPV6);
		expr_meta(nlh, NFT_META_L4PROTO);
		expr_cmp_u8(nlh, IPPROTO_ICMPV6);
		expr_l4_u8(nlh, 0);            /* ICMPv6 type, RFC 4443 §2.1 */
		expr_cmp_u8(nlh, mld[i]);
		expr_counter_drop(nlh);
		mnl_attr_nest_end(nlh, nest);
		mnl_attr_put(nlh, NFTA_RULE_USERDATA, sizeof(comment), comment);
		mnl_nlmsg_batch_next(b);
	}
	last = seq - 1;
	nft_msg(b, NFNL_MSG_BATCH_END, 0, seq++, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
	mnl_nlmsg_batch_next(b);
	if (mnl_socket_sendto(nl, mnl_nlmsg_batch_head(b), mnl_nlmsg_batch_size(b)) < 0) {
		ret = -errno;
		mnl_nlmsg_batch_stop(b);
		goto out;
	}
	mnl_nlmsg_batch_stop(b);
	/* The batch runs inside sendmsg: every answer is queued by now. An
	 * error anywhere aborts the whole batch, and is reported. */
	ret = 0;
	while (ret == 0 && !acked &&
	       (len = recv(mnl_socket_get_fd(nl), rbuf, sizeof(rbuf), MSG_DONTWAIT)) > 0) {
		for (nlh = (struct nlmsghdr *)rbuf; mnl_nlmsg_ok(nlh, (int)len);
		     nlh = mnl_nlmsg_next(nlh, (int *)&len)) {
			const struct nlmsgerr *e;

			if (nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e))) {
				ret = -EBADMSG;
				break;
			}
			e = mnl_nlmsg_get_payload(nlh);
			if (e->error) {
				ret = e->error < 0 ? e->error : -EPROTO;
				snprintf(msg, n, "nfnetlink batch: %s (message %u)", strerror(-ret),
					 nlh->nlmsg_seq);
				break;
			}
			if (nlh->nlmsg_seq == last)
				acked = true;
		}
	}
	if (ret == 0 && !acked) {
		ret = -EPROTO;
		snprintf(msg, n, "nfnetlink batch: no answer");
	}
out:
	mnl_socket_close(nl);
	return ret;
}

struct steer_job {
	const char *rules;
	char *msg;
	size_t n;
};

static int steer_load(void *arg)
{
	struct steer_job *j = arg;
	struct ifreq ifr;
	int fd, ret;

	if ((ret = sd_topo_nft_load(j->rules, j->msg, j->n)) < 0)
		return ret;
	/* A program's own connections to the hop's addresses (the harness
	 * polling its port, a proxy's health checks) go through lo, which a
	 * new namespace has down. */
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	ret = 0;
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		ret = -errno;
	} else if (!(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
			ret = -errno;
	}
	close(fd);
	if (ret < 0)
		snprintf(j->msg, j->n, "bringing lo up: %s", strerror(-ret));
	return ret;
}

int sd_topo_exec_steer(const struct sd_topo *t, size_t node, uint16_t port, char *msg, size_t n)
{
	const struct sd_topo_end *in, *srv;
	char rules[1024], a[INET6_ADDRSTRLEN], s[INET6_ADDRSTRLEN];
	struct steer_job j = { rules, msg, n };
	size_t w = 0;

	if (n)
		msg[0] = 0;
	if (node < 1 || node + 1 >= t->nnodes)
		return -EINVAL;
	/* The hop's left end is the right end of link node-1; the server's
	 * address is the right end of the last link. */
	in = &t->link[node - 1].end[SD_TOPO_RIGHT];
	srv = &t->link[t->nlinks - 1].end[SD_TOPO_RIGHT];
	sd_put(rules, sizeof(rules), &w, "table inet shakedown_exec {\n"
	       "\tchain prerouting {\n"
	       "\t\ttype nat hook prerouting priority dstnat; policy accept;\n");
	inet_ntop(AF_INET, srv->ip4, s, sizeof(s));
	inet_ntop(AF_INET, in->ip4, a, sizeof(a));
	sd_put(rules, sizeof(rules), &w,
	       "\t\tip daddr %s tcp dport 443 counter dnat ip to %s:%u comment \"exec\"\n", s, a, port);
	if (t->ipv6) {
		inet_ntop(AF_INET6, srv->ip6, s, sizeof(s));
		inet_ntop(AF_INET6, in->ip6, a, sizeof(a));
		sd_put(rules, sizeof(rules), &w,
		       "\t\tip6 daddr %s tcp dport 443 counter dnat ip6 to [%s]:%u comment \"exec\"\n",
		       s, a, port);
	}
	sd_put(rules, sizeof(rules), &w, "\t}\n}\n");
	if (w >= sizeof(rules))
		return -ENOSPC;
	return sd_netns_run(t->node[node].nsfd, steer_load, &j);
}
