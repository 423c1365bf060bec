/* SPDX-License-Identifier: MIT */
/* Shared between the files of src/mbox/; not part of the public API. */
#ifndef SD_MBOX_INT_H
#define SD_MBOX_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <linux/if_packet.h>

#include "shakedown/buf.h"
#include "shakedown/inspect.h"
#include "shakedown/mbox.h"
#include "shakedown/path.h"
#include "shakedown/pkt.h"

#define MB_BATCH 64                      /* frames per recvmmsg */
#define MB_RX_ROUNDS 8                   /* recvmmsg calls per wake-up before timers and a flush */
#define MB_TXQ 256                       /* frames per sendmmsg */
#define MB_SLOTS 4096                    /* frame buffers: all the hop can hold */
#define MB_FLOWS 256                     /* TCP flows tracked at once (least recent goes) */
#define MB_HOLD_NS (10 * 1000000ull)     /* reorder: the longest hold */
#define MB_WAIT_NS (100 * 1000000ull)    /* the longest sleep: a stop is seen even so */
#define MB_FRAG_MAX 64                   /* fragments of one forwarded IPv4 packet */
#define MB_DEFRAG 16                     /* datagrams in reassembly at once (the oldest goes) */
#define MB_DEFRAG_FRAGS 64               /* fragments held for one datagram */
#define MB_DEFRAG_NS (1000 * 1000000ull) /* an incomplete datagram is dropped after this */
#define MB_DEFRAG_MAX 65535              /* payload bytes of one reassembled datagram */
#define MB_NONE UINT32_MAX
#define MB_ETH 14

enum { MB_LEFT = 0, MB_RIGHT = 1 };

/* Control requests (sd_mbox.req). */
enum { MB_REQ_RESET = 1 << 0, MB_REQ_STATS = 1 << 1 };

/* One side of the hop: its interface and the neighbour beyond it. */
struct mb_side {
	int ifindex;
	uint8_t mac[6];                  /* the hop's interface */
	uint8_t peer_mac[6];             /* the other end of the link */
	uint8_t ip4[4], ip6[16];         /* the hop's addresses there */
	unsigned mtu;                    /* of the link */
	struct sockaddr_ll to;           /* sendmmsg destination: this interface */
};

/* A delay line: the frames leaving on one side, in order, with the time
 * each may go. A ring over MB_SLOTS entries: it can hold every slot. */
struct mb_line {
	uint32_t slot[MB_SLOTS];
	uint64_t due[MB_SLOTS];
	uint32_t head, n;
};

/*
 * A TCP flow, keyed by addresses and ports with the client first (the
 * sender of what enters on the left). Directions: 0 client to server,
 * 1 back. Sequence numbers are raw; the edges are of what this hop
 * forwarded.
 */
struct mb_flow {
	bool used;
	uint8_t family;
	uint8_t cli[16], srv[16];
	uint16_t cport, sport;
	bool killed;                     /* a verdict ended it: everything is dropped */
	bool isn_known[2];
	uint32_t isn[2];
	bool edge_known[2];
	uint32_t contig[2];              /* end of the in-order run forwarded */
	uint32_t maxend[2];              /* highest end forwarded */
	bool ack_known[2];
	uint32_t ack[2];                 /* last ACK field forwarded in direction d */
	bool cut;                        /* truncate-segment: nothing from cut_seq on */
	uint32_t cut_seq;
	struct sd_insp *insp;
	uint64_t tick_us;                /* when sd_insp_tick is due; 0: never */
	uint64_t last_ns;
};

/*
 * An IP datagram of TCP being reassembled (RFC 791 §3.2, RFC 8200 §4.5)
 * in front of the flow stage: its fragments' frames are held until the
 * payload is whole, so the inspector judges the segment they carry.
 */
struct mb_defrag {
	bool used;
	uint8_t family, proto;           /* proto: IPv4's, or the fragment header's next header */
	uint8_t src[16], dst[16];
	uint32_t id;
	int in;                          /* the side they came in on */
	uint64_t first_ns;
	uint32_t slot[MB_DEFRAG_FRAGS];  /* held, in arrival order */
	uint32_t nslot;
	bool have_first, have_last;
	uint32_t total;                  /* payload bytes, once the last fragment came */
	uint8_t hdr[60];                 /* IPv4: the first fragment's header; IPv6: the base header */
	size_t hlen;
	uint8_t map[(MB_DEFRAG_MAX / 8 + 8) / 8];   /* 8-byte blocks received */
	uint8_t *buf;                    /* MB_DEFRAG_MAX payload bytes, allocated on first use */
};

struct sd_mbox {
	/* Set by sd_mbox_open, read-only afterwards. */
	struct sd_path_hop hop;
	struct mb_side side[2];
	int nsfd;
	bool want_flows;                 /* inspector or truncate-segment */
	uint32_t slot_size;
	uint64_t delay_ns, jitter_ns;

	/* Control, under lock. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool started;
	int wake;                        /* eventfd: a request or stop */
	bool opened, dead, stop;
	int open_ret;
	unsigned req;
	uint64_t req_gen, done_gen;
	char req_seed[80];
	bool req_seed_null;
	struct sd_mbox_stats snap;

	/* The thread's own. */
	int fd;
	uint64_t now;                    /* CLOCK_MONOTONIC, ns, per batch */
	uint8_t *arena;                  /* MB_SLOTS x slot_size */
	uint32_t len[MB_SLOTS];
	uint32_t freel[MB_SLOTS];
	uint32_t nfree;
	struct mb_line line[2];          /* by the side the frames leave on */
	uint64_t last_due[2];
	uint32_t held[2];                /* reorder: the frame held back, per out side */
	uint64_t held_until[2];
	uint32_t tx_slot[MB_TXQ];
	uint8_t tx_side[MB_TXQ];
	uint32_t ntx;
	struct mmsghdr rxm[MB_BATCH];
	struct iovec rxv[MB_BATCH];
	struct sockaddr_ll rxa[MB_BATCH];
	uint32_t rxs[MB_BATCH];
	struct mmsghdr txm[MB_TXQ];
	struct iovec txv[MB_TXQ];
	struct mb_flow flows[MB_FLOWS];
	uint64_t tick_min;               /* earliest tick_us of any flow; 0: none */
	struct mb_flow *cur;             /* the flow of the frame in hand */
	uint64_t rng[4];                 /* xoshiro256** */
	uint64_t icmp_tokens;            /* ICMP rate limit, in ns of credit */
	uint64_t icmp_last;
	uint16_t ip_id;
	struct sd_buf scratch;           /* forged packets and fragments (grows once) */
	struct mb_defrag defrag[MB_DEFRAG];
	uint8_t *dgram;                  /* a reassembled datagram behind an Ethernet header */
	struct sd_mbox_stats st;
};

/* mbox.c: buffers, output, the generator. */
uint8_t *sd_mbox_data(struct sd_mbox *m, uint32_t slot);
uint32_t sd_mbox_slot_get(struct sd_mbox *m);
void sd_mbox_slot_put(struct sd_mbox *m, uint32_t slot);
/* A new slot holding an Ethernet header for side out and the datagram
 * ip[0..len); MB_NONE when the pool is empty or it does not fit. */
uint32_t sd_mbox_slot_ip(struct sd_mbox *m, int out, const uint8_t *ip, size_t len);
/* Sends slot out of side out through the delay line (MACs set here); the
 * slot is the engine's from then on. */
void sd_mbox_emit(struct sd_mbox *m, uint32_t slot, int out);
/* True with probability bp / 10000. */
bool sd_mbox_chance(struct sd_mbox *m, unsigned bp);
uint64_t sd_mbox_random(struct sd_mbox *m);

/* pipe.c: one received frame, start to finish (the slot is consumed). */
void sd_mbox_frame(struct sd_mbox *m, uint32_t slot, int in);
/* Reorder (may hold the frame back), then sd_mbox_pass. */
void sd_mbox_forward(struct sd_mbox *m, uint32_t slot, int out);
/* Duplication, then sd_mbox_emit. */
void sd_mbox_pass(struct sd_mbox *m, uint32_t slot, int out);
/* Ones' complement sum (RFC 1071) of data, added to sum, not folded. */
uint64_t sd_mbox_csum_add(uint64_t sum, const uint8_t *data, size_t len);
/* Folded and complemented: the checksum field. */
uint16_t sd_mbox_csum_fold(uint64_t sum);
/* Recomputes the IPv4 header checksum (header of hlen bytes at ip). */
void sd_mbox_ip4_csum(uint8_t *ip, size_t hlen);
/* Recomputes the TCP checksum of the datagram at ip (family, IP header
 * and extension headers hlen, total len). */
void sd_mbox_tcp_csum(uint8_t *ip, int family, size_t hlen, size_t len);

/* flows.c: TCP flows, the inspector, truncation, forged packets. */
/*
 * Runs the flow stage for a decoded TCP segment in frame entering in
 * direction dir: the inspector, then truncate-segment, which may shorten
 * the datagram in place (p and *ip_len follow). Returns true when the
 * packet goes on, false when it is to be dropped (counted).
 */
bool sd_mbox_flow_stage(struct sd_mbox *m, uint8_t *frame, struct sd_pkt *p, int dir, size_t *ip_len);
/* Notes that the segment of the last sd_mbox_flow_stage leaves the hop. */
void sd_mbox_flow_forwarded(struct sd_mbox *m, const struct sd_pkt *p, int dir);
/* Inspector ticks that are due. */
void sd_mbox_flow_ticks(struct sd_mbox *m);
/* Forgets every flow (frees the inspector states). */
void sd_mbox_flows_clear(struct sd_mbox *m);

/* pipe.c: the stages after the flow stage (TTL, MTU, clamp, out). */
void sd_mbox_route(struct sd_mbox *m, uint32_t slot, int in, bool staged);

/*
 * defrag.c: takes a TCP fragment (p decoded from slot, entering on side
 * in) for an inspecting or truncating hop. Its frame is held until its
 * datagram is whole; the datagram then goes through the flow stage once,
 * and if it goes on, each held fragment through sd_mbox_route (a datagram
 * the stage shortened leaves whole instead, fragmented again as needed).
 */
void sd_mbox_defrag(struct sd_mbox *m, uint32_t slot, const struct sd_pkt *p, int in);
/* Drops datagrams incomplete for MB_DEFRAG_NS; their earliest deadline (0: none). */
void sd_mbox_defrag_expire(struct sd_mbox *m);
uint64_t sd_mbox_defrag_deadline(const struct sd_mbox *m);
/* Gives back every held frame; with all, frees the buffers too. */
void sd_mbox_defrag_clear(struct sd_mbox *m, bool all);

#endif
