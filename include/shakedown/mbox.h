/* SPDX-License-Identifier: MIT */
/*
 * The user-space middlebox engine: one hop of a topology forwarded by a
 * thread of this process instead of the hop's kernel, so that it can do
 * what the kernel here cannot (no netem): delay, jitter, duplication,
 * reordering, truncation, seeded loss, and the emulated device parsers of
 * shakedown/inspect.h with their verdicts carried out on the wire.
 *
 *        link k-1                      link k
 *   ... ---------- [hNl]  mbox thread  [hNr] ---------- ...
 *   toward the client   (AF_PACKET,      toward the server
 *   ("left", side 0)    both sides)      ("right", side 1)
 *
 * The thread lives in the hop's namespace (sd_netns_thread) and owns one
 * AF_PACKET socket bound to no interface, which sees both of the hop's
 * interfaces (frames it sends itself are not looped back to it). The
 * topology turns the hop's kernel forwarding off (shakedown/topo.h), so
 * each frame crosses once. For every frame addressed to the hop's MAC and
 * not to the hop's own addresses, in this order:
 *  - drop-fragments; loss:P (a seeded draw);
 *  - when the hop has inspector behaviours or truncate-segment, IP
 *    fragments of TCP are held until their datagram is whole (at most 1 s,
 *    16 datagrams, 64 fragments each); the whole datagram goes through the
 *    flow stage below once, and then the fragments on as they came (or the
 *    datagram, when truncate-segment shortened it);
 *  - per TCP flow (5-tuple), when the hop has inspector behaviours or
 *    truncate-segment: the ISN of each direction from the SYN and SYN-ACK,
 *    every later segment shown to the inspector (sd_insp_segment) with its
 *    sequence offset and the time, sd_insp_tick when it asked for one, and
 *    its verdicts executed: DROP (this and every later packet of the flow),
 *    RESET (a RST to each end at the sequence number that end expects,
 *    RFC 5961 §3.2: the candidates the hop knows - the edge of what it
 *    forwarded, the receiver's last ACK - each sent once), CLOSE (FIN|ACK
 *    to each end), ALERT (a TLS alert record, RFC 8446 §6: type 21,
 *    version 0x0303, length 2, fatal, the description, to the client as
 *    the server's next bytes; then RSTs both ways). Forged packets carry
 *    the other end's addresses and ports: the captures see them leave the
 *    hop without having entered it, which is how the verdict attributes
 *    them. Then truncate-segment:N on client-to-server data;
 *  - TTL / hop limit: at 1 or less the packet is dropped with ICMP time
 *    exceeded (RFC 792, RFC 4443 §3.3), else decremented (RFC 1624
 *    incremental IPv4 checksum);
 *  - the next link's MTU: a larger packet is dropped with ICMP
 *    fragmentation needed (RFC 1191) / packet too big (RFC 4443 §3.2)
 *    from the hop's address on the side it came in, quoting as much of it
 *    as Linux does (576 / 1280 bytes in all), or silently with
 *    icmp-filter; an IPv4 packet without DF is fragmented instead
 *    (RFC 791), as a kernel router does;
 *  - mss-clamp:N on SYNs;
 *  - reorder:P, dup:P, then delay:MS and jitter:MS (a FIFO per direction:
 *    jitter never reorders), the MACs rewritten to the topology's static
 *    neighbours, and out on the other side, in sendmmsg batches.
 * ICMP errors of the hop are rate-limited like Linux's (1000/s, burst 50)
 * and never sent about ICMP errors or non-first fragments (RFC 1122).
 *
 * The fast path allocates nothing: frames live in a fixed pool of buffers
 * (a full pool drops what arrives, like a device's buffer); reception is
 * recvmmsg in batches of 64, transmission sendmmsg; the thread sleeps in
 * ppoll until a frame, a control request or its next timer (delay line,
 * reorder hold, inspector tick).
 *
 * Random choices come from a per-hop generator (xoshiro256**) seeded at
 * every sd_mbox_reset from the hop's seed:S, or else the cell's seed, and
 * the hop's name: the same seed and the same packets give the same drops.
 */
#ifndef SHAKEDOWN_MBOX_H
#define SHAKEDOWN_MBOX_H

#include <stddef.h>
#include <stdint.h>

#include "shakedown/err.h"

struct sd_mbox;
struct sd_topo;
struct sd_path_hop;

/* What a hop did since the last sd_mbox_reset. */
struct sd_mbox_stats {
	uint64_t rx;                  /* frames taken in (both sides) */
	uint64_t forwarded;           /* frames sent: copies, fragments and made-up ones included */
	uint64_t ignored;             /* not for forwarding: other MAC, the hop's own, not IP */
	uint64_t drop_loss, drop_fragments, drop_ttl, drop_mtu, drop_inspect, drop_truncate;
	uint64_t drop_pool;           /* no buffer free (the hop's buffer is full) */
	uint64_t drop_tx;             /* the kernel refused to send */
	uint64_t icmp_sent;           /* errors the hop sent: too big, time exceeded */
	uint64_t icmp_filtered;       /* too-big errors icmp-filter kept back */
	uint64_t fragmented;          /* IPv4 packets it fragmented */
	uint64_t clamped, truncated, duplicated, reordered, delayed;
	uint64_t rst_forged, fin_forged, alerts_forged;
	uint64_t flows;               /* TCP flows tracked */
	/* A hop that inspects or truncates TCP reassembles IP fragments
	 * first: datagrams rebuilt, and fragments dropped (incomplete for 1 s,
	 * too many, too long, malformed) */
	uint64_t reassembled, drop_reassembly;
	uint64_t held;                /* frames held at the time of the call (delay, reorder) */
	int insp_kind;                /* the last inspector decision: its kind, -1 none */
	int insp_act;                 /* ... its enum sd_insp_act */
	char insp_why[160];
};

/*
 * Starts the engine for hop node (1..nnodes-2) of topology t, with the
 * behaviours of h (copied). Returns once the thread is in the hop's
 * namespace with its socket open: 0 and *out, or -errno (-EPERM without
 * CAP_NET_RAW, the socket's errors, pthread's), -SD_EVALUE for a node that
 * is not a hop, -ENOMEM. Nothing is left behind on failure. t must outlive
 * the engine (its namespace fd is used at open only; the socket holds the
 * namespace afterwards).
 */
int sd_mbox_open(const struct sd_topo *t, size_t node, const struct sd_path_hop *h,
		 struct sd_mbox **out) SD_WUR;

/*
 * Starts a cell afresh: flows forgotten (inspector states freed), packets
 * still held (delay lines, reorder) dropped, statistics zeroed, and the
 * generator seeded from the hop's seed:S, else from seed (the cell's; NULL:
 * from the kernel's entropy). Synchronous: returns 0 once the thread has
 * done it, -ETIMEDOUT when it did not answer within 2 s, -EIO when it
 * stopped on an error.
 */
int sd_mbox_reset(struct sd_mbox *m, const char *seed) SD_WUR;

/* The statistics since the last reset, read by the thread at the time of
 * the call; errors as sd_mbox_reset. */
int sd_mbox_stats(struct sd_mbox *m, struct sd_mbox_stats *st) SD_WUR;

/*
 * Asks the thread to stop without waiting; its socket close (an RCU grace
 * period) runs meanwhile. Stopping several hops first and then closing
 * them overlaps those waits. NULL is a no-op.
 */
void sd_mbox_stop(struct sd_mbox *m);

/* Stops the thread (if not yet asked), joins it, frees m. NULL is a no-op. */
void sd_mbox_close(struct sd_mbox *m);

#endif
