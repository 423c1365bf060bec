/* SPDX-License-Identifier: MIT */
/*
 * Observation: packet capture in every watched namespace for the life of a
 * topology. One AF_PACKET socket bound to no interface per namespace sees
 * every interface there, in and out, so a router namespace shows what
 * entered and left it. Plain sockets rather than libpcap handles: without
 * a ring, opening needs no RCU grace period and closing one instead of two
 * (~14 ms each here); they are opened in parallel threads once and kept.
 */
#ifndef SHAKEDOWN_OBSERVE_H
#define SHAKEDOWN_OBSERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shakedown/err.h"

/* Linux packet types (sockaddr_ll.sll_pkttype; if_packet.h PACKET_*). */
enum {
	SD_PKTTYPE_HOST = 0,
	SD_PKTTYPE_BROADCAST = 1,
	SD_PKTTYPE_MULTICAST = 2,
	SD_PKTTYPE_OTHERHOST = 3,
	SD_PKTTYPE_OUTGOING = 4,
};

/* One captured frame: data is the Ethernet frame as it crossed the veth. */
struct sd_obs_pkt {
	uint64_t ts_ns;        /* CLOCK_REALTIME, from the kernel */
	uint32_t node;         /* index into the namespaces given to sd_observer_open */
	uint32_t ifindex;      /* in that namespace */
	uint8_t pkttype;       /* SD_PKTTYPE_* */
	uint32_t len;          /* captured bytes */
	uint32_t wire_len;
	const uint8_t *data;
};

struct sd_observer;

/*
 * Starts one capture thread per namespace fd (n ≤ 16), each with its own
 * socket, opened in parallel. Returns once every socket is hooked in, so
 * nothing sent afterwards is missed. -errno or -SD_E* (errbuf, which may
 * be NULL, names the namespace).
 */
int sd_observer_open(const int *nsfds, size_t n, char *errbuf, size_t errlen,
		     struct sd_observer **out) SD_WUR;

/*
 * Waits until every capture thread has read all that its socket held at
 * the time of the call, then returns the packets captured since the last
 * sd_observer_reset, in per-namespace arrival order merged by timestamp.
 * The array and the frames stay valid until the next reset or close.
 */
int sd_observer_sync(struct sd_observer *o, const struct sd_obs_pkt **pkts,
		     size_t *n) SD_WUR;

/* Forgets the packets captured so far (between cells). */
void sd_observer_reset(struct sd_observer *o);

/* Stops the threads and closes the handles, in parallel. */
void sd_observer_close(struct sd_observer *o);

#endif
