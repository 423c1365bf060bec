/* SPDX-License-Identifier: MIT */
/* TCP connections rebuilt from a capture: endpoints, handshake facts, byte streams, segments. */
#ifndef SHAKEDOWN_FLOW_H
#define SHAKEDOWN_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shakedown/err.h"
#include "shakedown/pkt.h"

/*
 * Bounds. Past each, the capture is still read; what is dropped is counted
 * or flagged where noted, never silently lost.
 */
#define SD_FLOW_MAX 4096                /* flows; later ones: flows_dropped */
#define SD_FLOW_MAX_STREAM (16u << 20)  /* bytes per direction; past it: truncated */
#define SD_FLOW_MAX_SEGS 65536          /* data segments listed per direction; segs_truncated */
#define SD_FLOW_MAX_FRAG_PENDING 64     /* datagrams in reassembly; the oldest is evicted */
#define SD_FLOW_MAX_DATAGRAM 65535      /* bytes of one reassembled datagram */

/* What happened to a data segment (sd_flow_seg.flags). */
enum {
	SD_SEG_RETRANS = 1 << 0,   /* every captured byte had been seen before */
	SD_SEG_OVERLAP = 1 << 1,   /* some, not all, of its bytes had been seen */
	SD_SEG_OOO = 1 << 2,       /* arrived while bytes before it were missing */
	SD_SEG_CONFLICT = 1 << 3,  /* bytes seen before differ; the first copy is kept */
	SD_SEG_CUT = 1 << 4,       /* snaplen cut part of its payload */
	SD_SEG_EARLY = 1 << 5,     /* begins before stream byte 0; that part is dropped */
	SD_SEG_BEYOND = 1 << 6,    /* reaches past SD_FLOW_MAX_STREAM; that part is dropped */
};

struct sd_flow_seg {
	int64_t rel;                /* offset of its first byte from stream byte 0 */
	uint32_t len;               /* payload bytes on the wire */
	uint32_t caplen;            /* of which captured */
	uint64_t ts_ns;
	uint8_t tcp_flags;          /* SD_TCP_* */
	uint8_t flags;              /* SD_SEG_* */
};

/* One direction of a connection, named by its sender. */
struct sd_flow_dir {
	uint8_t addr[16];
	uint16_t port;
	bool syn;                   /* sent a SYN (or SYN-ACK) that was captured */
	uint32_t isn;
	struct sd_tcp_opts syn_opts;    /* that SYN's options: MSS, window scale... */
	uint32_t base;              /* sequence number of byte 0: ISN+1, else first seen */
	uint8_t *stream;            /* bytes from base up to the first hole */
	size_t len;
	bool hole;                  /* bytes at len are missing, later ones were seen */
	size_t seen_end;            /* end of the furthest data or FIN seen */
	bool truncated;             /* bytes past SD_FLOW_MAX_STREAM were dropped */
	bool cut;                   /* snaplen cut bytes out of this stream */
	size_t cut_at;              /* the lowest offset it cut */
	bool fin, rst;              /* sent a FIN / a RST */
	uint32_t packets;           /* TCP segments sent, with or without data */
	struct sd_flow_seg *segs;   /* data segments in capture order */
	uint32_t nsegs;
	bool segs_truncated;        /* more than SD_FLOW_MAX_SEGS */
};

/* How the client side was told apart (sd_flow.client_by). */
enum {
	SD_FLOW_BY_SYN = 1,         /* it sent the SYN without ACK */
	SD_FLOW_BY_SYNACK,          /* the other side sent a SYN-ACK */
	SD_FLOW_BY_TLS,             /* it sent the first payload starting 0x16 */
	SD_FLOW_BY_PORT,            /* it has the higher port */
};

struct sd_flow {
	uint8_t family;             /* 4 or 6 */
	uint8_t client_by;          /* SD_FLOW_BY_* */
	bool syn_seen;              /* the client's SYN was captured */
	bool snaplen_cut;           /* snaplen cut bytes out of the client stream */
	uint64_t first_ts, last_ts;
	struct sd_flow_dir cli, srv;
};

struct sd_flowset {
	struct sd_flow *flows;      /* in order of each flow's first packet */
	size_t n;
	uint64_t packets;           /* capture records read */
	uint64_t not_ip;            /* frames that carry no IP */
	uint64_t not_tcp;           /* IP datagrams of other protocols */
	uint64_t malformed;         /* frames sd_pkt_decode rejected */
	/*
	 * Datagrams cut short by the capture's snaplen. One cut inside its
	 * TCP header cannot be placed in a stream and is only counted here.
	 */
	uint64_t cut;
	uint64_t fragments;         /* IP fragments seen */
	uint64_t reassembled;       /* datagrams rebuilt from fragments */
	uint64_t frags_dropped;     /* fragments given up: cut, evicted, inconsistent */
	uint64_t flows_dropped;     /* packets of flows past SD_FLOW_MAX */
	int read_err;               /* 0, or the reader error that ended the file early */
};

/*
 * Reads a pcap or pcapng file and rebuilds its TCP connections into *out,
 * which owns everything (the file may be freed afterwards). Returns the
 * number of flows. A file that goes bad part way is not an error: what
 * came before is kept and read_err says why reading stopped. Errors: those
 * of sd_capture_open, -ENOMEM. On error *out is empty.
 */
int sd_flows_from_capture(const uint8_t *file, size_t len,
			  struct sd_flowset *out) SD_WUR;

void sd_flowset_free(struct sd_flowset *set);

#endif
