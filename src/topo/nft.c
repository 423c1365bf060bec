/* SPDX-License-Identifier: MIT */
/* The nftables rules behind a hop's kernel behaviours, loaded with libnftables. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nftables/libnftables.h>

#include "shakedown/netns.h"
#include "shakedown/topo.h"
#include "topo_int.h"

__attribute__((format(printf, 4, 5)))
static void put(char *out, size_t n, size_t *w, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(*w < n ? out + *w : NULL, *w < n ? n - *w : 0, fmt, ap);
	va_end(ap);
	if (r > 0)
		*w += (size_t)r;
}

/*
 * One table per hop namespace, two base chains. Every rule has a counter
 * and a comment naming its behaviour, so `nft list ruleset` in the hop
 * says what the hop did to a cell (drops per behaviour).
 *
 * forward: what the hop does to packets it routes, in both directions.
 *  - drop-fragments: IPv4 MF set or offset non-zero (RFC 791 §3.1, the
 *    13-bit offset and the MF bit: mask 0x3fff); IPv6 any fragment header
 *    (RFC 8200 §4.5), atomic fragments included. No conntrack rule exists
 *    in the namespace, so nf_defrag never reassembles in front of these.
 *  - loss: numgen random mod 10000, so P has two decimals.
 *  - mss-clamp: only SYNs (with or without ACK) whose MSS option is above
 *    N are rewritten; the checksum is fixed up by the kernel.
 * output: what the hop itself sends.
 *  - icmp-filter: its ICMP frag-needed (RFC 792 type 3 code 4) and ICMPv6
 *    packet-too-big (RFC 4443 §3.2, type 2). Locally generated errors pass
 *    the output hook (icmp_send -> ip_local_out), forwarded ones do not:
 *    only the hop's own errors vanish, as with a firewall on the router.
 */
int sd_topo_nft_rules(const struct sd_path_hop *h, char *out, size_t n)
{
	bool fwd = h->drop_fragments || h->loss_bp || h->mss_clamp;
	size_t w = 0;

	if (n)
		out[0] = 0;
	if (!fwd && !h->icmp_filter)
		return 0;
	put(out, n, &w, "table inet shakedown {\n");
	if (fwd) {
		put(out, n, &w, "\tchain forward {\n"
			"\t\ttype filter hook forward priority 0; policy accept;\n");
		if (h->drop_fragments)
			put(out, n, &w,
			    "\t\tip frag-off & 0x3fff != 0 counter drop comment \"drop-fragments\"\n"
			    "\t\texthdr frag exists counter drop comment \"drop-fragments\"\n");
		if (h->loss_bp)
			put(out, n, &w,
			    "\t\tnumgen random mod 10000 < %u counter drop comment \"loss\"\n",
			    h->loss_bp);
		if (h->mss_clamp)
			put(out, n, &w,
			    "\t\ttcp flags & syn == syn tcp option maxseg size > %u counter "
			    "tcp option maxseg size set %u comment \"mss-clamp\"\n",
			    h->mss_clamp, h->mss_clamp);
		put(out, n, &w, "\t}\n");
	}
	if (h->icmp_filter)
		put(out, n, &w, "\tchain output {\n"
			"\t\ttype filter hook output priority 0; policy accept;\n"
			"\t\ticmp type destination-unreachable icmp code frag-needed counter drop comment \"icmp-filter\"\n"
			"\t\ticmpv6 type packet-too-big counter drop comment \"icmp-filter\"\n"
			"\t}\n");
	put(out, n, &w, "}\n");
	if (w >= n)
		return -ENOSPC;
	return (int)w;
}

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
	ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!ctx)
		return -ENOMEM;
	if (nft_ctx_buffer_output(ctx) || nft_ctx_buffer_error(ctx))
		goto out;
	ret = 0;
	if (nft_run_cmd_from_buffer(ctx, rules) != 0) {
		first_line(nft_ctx_get_error_buffer(ctx), msg, n);
		ret = -EINVAL;
	}
out:
	nft_ctx_free(ctx);
	return ret;
}

struct list_job {
	char *text;
	int ret;
};

static int list_in_ns(void *arg)
{
	struct list_job *j = arg;
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	const char *s;

	j->ret = -ENOMEM;
	if (!ctx)
		return j->ret;
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
	nft_ctx_free(ctx);
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
