/* SPDX-License-Identifier: MIT */
/*
 * The topology: a path (shakedown/path.h) built out of anonymous network
 * namespaces joined by veth pairs, over netlink.
 *
 *        link0             link1                    linkN
 *  client ----- hop1 ------------- hop2 ... hopN ------------- server
 *   c0      h1l    h1r       h2l    h2r       hNl  hNr         s0
 *
 * Nodes: node 0 is the client, nodes 1..N the hops (named as in the path
 * file), node N+1 the server. Link i joins node i (its left end, client
 * side) and node i+1 (its right end, server side). Interface names, each
 * inside its own namespace: c0 in the client, h<k>l and h<k>r in hop k
 * (toward the client / toward the server), s0 in the server.
 *
 * Addresses: link i is 10.0.i.0/24 and fd00:0:0:i::/64 (the fourth group is
 * i); its left end is .1 / ::1, its right end .2 / ::2. The exception is
 * c0: 10.0.0.1 and fd00::1 belong to the user-space client engine, which
 * sends and receives on c0 through AF_PACKET, and are NOT configured on c0,
 * so the client kernel never answers the server (no RST to a SYN-ACK). The
 * client namespace has no routes, no neighbours and IPv6 disabled, unless
 * SD_TOPO_CLIENT_KERNEL asks for a client kernel that owns the address (for
 * real client programs). The server kernel owns 10.0.N.2 and fd00:0:0:N::2.
 *
 * MACs are fixed and locally administered: 02:73:64:<node>:<link>:00 for
 * the end of link <link> in node <node>. Every end has a permanent
 * neighbour entry for the other end (IPv4 and IPv6; hop1 has one for the
 * engine's addresses -> c0's MAC); IPv6 has no link-local addresses, no
 * DAD, no router solicitations (addr_gen_mode none, accept_dad 0).
 * Offloads are off on every veth end (tso, gso, tx checksum, gro), so
 * captures see wire-sized frames with real checksums.
 *
 * Routes: each hop routes every link's prefix via its neighbour on that
 * side; the server routes the client-side prefixes via hopN with advmss set
 * to the path's server_advmss for IPv4 and 20 less for IPv6 (1460 / 1440
 * by default), so a server behind a small MTU still advertises the MSS of
 * the 1500 LAN it sits on, and the oversized-segment case happens.
 * Sysctls: forwarding in hops only; tcp_no_metrics_save in the server.
 * Behaviours: nftables (table inet shakedown) in the hop's namespace for
 * icmp-filter, mss-clamp, drop-fragments and loss, each rule with a
 * counter; a tbf qdisc on both of the hop's interfaces for rate. A hop that
 * needs the user-space middlebox engine (sd_path_hop_userspace) gets its
 * kernel forwarding off (ip_forward 0, IPv6 forwarding 0) and no nftables
 * rules: the engine (shakedown/mbox.h, started by the caller) forwards and
 * does those behaviours; its links keep their MTUs and rate its tbf. Hops and
 * the server also drop their own MLD reports (table inet shakedown_quiet),
 * so the path is silent until the cell speaks: no ARP, no neighbour
 * discovery, no MLD.
 */
#ifndef SHAKEDOWN_TOPO_H
#define SHAKEDOWN_TOPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shakedown/err.h"
#include "shakedown/path.h"

#define SD_TOPO_MAX_NODES (SD_PATH_MAX_HOPS + 2)
#define SD_TOPO_MAX_LINKS (SD_PATH_MAX_HOPS + 1)
#define SD_TOPO_IFNAMSIZ 16

/* sd_topo_open flags. */
enum {
	/* IPv4 only: IPv6 disabled in every namespace. Needed for paths
	 * with a link below 1280 bytes. */
	SD_TOPO_NO_IPV6 = 1 << 0,
	/* The client kernel owns 10.0.0.1/24 and fd00::1/64 on c0, with
	 * routes via hop1, for real client programs (curl, Chromium). The
	 * user-space engine must not be used then. */
	SD_TOPO_CLIENT_KERNEL = 1 << 1,
};

enum sd_topo_role { SD_TOPO_CLIENT, SD_TOPO_HOP, SD_TOPO_SERVER };

struct sd_topo_node {
	char name[SD_PATH_NAME_LEN];   /* "client", the hop's name, "server" */
	enum sd_topo_role role;
	int nsfd;                      /* owned by the topology: do not close */
	unsigned long ns_ino;          /* the namespace's inode, as ip netns identify shows */
};

enum { SD_TOPO_LEFT = 0, SD_TOPO_RIGHT = 1 };

struct sd_topo_end {
	size_t node;                   /* index in sd_topo.node */
	char ifname[SD_TOPO_IFNAMSIZ];
	int ifindex;                   /* in that node's namespace */
	uint8_t mac[6];
	uint8_t ip4[4];                /* this end's address */
	uint8_t ip6[16];
	bool owned;                    /* configured on the interface (false for c0) */
};

struct sd_topo_link {
	unsigned mtu;
	struct sd_topo_end end[2];     /* [SD_TOPO_LEFT] client side, [SD_TOPO_RIGHT] server side */
};

struct sd_topo {
	char path[64];                 /* the path's name */
	unsigned flags;                /* SD_TOPO_* as opened */
	bool ipv6;                     /* IPv6 configured */
	unsigned server_advmss;        /* RTAX_ADVMSS of the server's IPv4 routes */
	unsigned server_advmss6;       /* ... and IPv6 routes: server_advmss - 20 */
	size_t nnodes;                 /* nhops + 2 */
	size_t nlinks;                 /* nhops + 1 */
	struct sd_topo_node node[SD_TOPO_MAX_NODES];
	struct sd_topo_link link[SD_TOPO_MAX_LINKS];

	/* Copies of the above, for the client engine and the endpoints. */
	int client_ns, server_ns;      /* node[0].nsfd, node[nnodes - 1].nsfd */
	int client_ifindex;            /* c0 */
	char client_ifname[SD_TOPO_IFNAMSIZ];
	uint8_t client_mac[6];
	uint8_t gateway_mac[6];        /* hop1's h1l: the engine's next hop */
	uint8_t engine4[4], engine6[16];   /* 10.0.0.1, fd00::1 */
	uint8_t server4[4], server6[16];   /* 10.0.N.2, fd00:0:0:N::2 */
};

/* What failed, for the one line the CLI prints. */
struct sd_topo_error {
	/* "hop1 'wg': add IPv4 route 10.0.0.0/24 via 10.0.0.1 dev h1l", and
	 * the kernel's extended ack message when it sent one. */
	char step[240];
};

/*
 * Builds path p. On success *out owns every namespace, socket and fd of the
 * topology until sd_topo_close(); p is not referenced afterwards. Nothing
 * is ever created in the caller's namespace, and no thread is left behind.
 * Returns 0, or with *out NULL, nothing left behind and err->step naming
 * the step that failed:
 *   -SD_EVALUE  the path does not fit (a link below 1280 without
 *               SD_TOPO_NO_IPV6, bad flags, no hop); err says which
 *   -EPERM      no CAP_SYS_ADMIN / CAP_NET_ADMIN
 *   -EINVAL     nftables refused a hop's rules (err has nft's message)
 *   -errno      what the kernel said for the failed step (-EOPNOTSUPP
 *               for a missing feature: veth, tbf, nf_tables, ...), with
 *               its extended ack message in err when it sent one
 * Not thread-safe on one sd_topo; distinct topologies are independent.
 */
int sd_topo_open(const struct sd_path *p, unsigned flags, struct sd_topo **out,
		 struct sd_topo_error *err) SD_WUR;

/*
 * Closes every fd and socket the topology holds and frees it; NULL is a
 * no-op. The kernel then destroys the namespaces (asynchronously, in its
 * cleanup worker) unless something else still holds them: a thread that
 * entered one (sd_netns_thread), a socket opened in one, an fd dup()ed by
 * the caller, or a name from sd_topo_name(). Stop those first.
 */
void sd_topo_close(struct sd_topo *t);

/*
 * Keep mode: bind-mounts each node's namespace on /run/netns/<prefix>-<node>
 * (creating /run/netns if needed), so `ip netns exec <prefix>-hop1 ...`
 * works and the namespaces outlive the process. prefix is 1..31 characters
 * of [A-Za-z0-9_.] (no '-', which separates it from the node name).
 * Returns 0, -SD_EVALUE for a bad prefix, -EEXIST when a name is taken, or
 * -errno; on failure the names made so far are removed again.
 */
int sd_topo_name(const struct sd_topo *t, const char *prefix) SD_WUR;
/* Whether prefix is one sd_topo_name takes (checked before building). */
bool sd_topo_prefix_valid(const char *prefix);

/*
 * Removes /run/netns/<prefix>-* (umount2 MNT_DETACH, then unlink), from
 * this or an earlier process. Returns how many were removed (0 when none),
 * -SD_EVALUE for a bad prefix, or -errno.
 */
int sd_topo_unname(const char *prefix) SD_WUR;

/* Index of the node called name, or -SD_EUNKNOWN. */
int sd_topo_node_find(const struct sd_topo *t, const char *name) SD_WUR;

/*
 * The nftables rules (table inet shakedown) a hop gets for its behaviours,
 * as nft(8) text, into out (NUL-terminated). Returns the length (0 when
 * the hop needs no rules, as a hop of the user-space engine), or -ENOSPC. The MLD rules of table
 * shakedown_quiet are not part of it.
 */
int sd_topo_nft_rules(const struct sd_path_hop *h, char *out, size_t n) SD_WUR;

/*
 * Steers the client's TCP connections to the server's port 443 into a
 * program listening in hop node (1..nhops) on its client-side address,
 * port port: table inet shakedown_exec, a DNAT rule per family in the
 * prerouting nat hook (conntrack then undoes it on the replies, so the
 * client still talks to the server's address). Over IPv6 too when the
 * topology has it. Returns 0, -EINVAL with nft's message in msg, -errno.
 */
int sd_topo_exec_steer(const struct sd_topo *t, size_t node, uint16_t port, char *msg,
		       size_t n) SD_WUR;

/*
 * Lists the ruleset of node's namespace with its counters (`nft list
 * ruleset`) into *out, a malloc()ed string the caller frees. Returns its
 * length, -ERANGE for a bad node, -ENOMEM, or -EIO with *out holding
 * nft's error text.
 */
int sd_topo_nft_list(const struct sd_topo *t, size_t node, char **out) SD_WUR;

#endif
