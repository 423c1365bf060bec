/* SPDX-License-Identifier: MIT */
/*
 * Replay plans: a capture's TLS client flights, ready to be sent again
 * through a lab path with the captured segmentation and timing (the
 * `replay` subcommand). This module only reads the capture (through
 * sd_flows_from_capture) and plans; the lab sends.
 *
 * A connection's plan holds its first client flight (the TLS records that
 * carry the first ClientHello, from stream byte 0), the segments the client
 * cut it into, in stream order, and the gaps between them; and, when the
 * server answered with a HelloRetryRequest and the capture holds the
 * client's answer, the second flight (any change_cipher_spec and the
 * records of the second ClientHello) with its segments.
 *
 * Segments are the first transmissions: a retransmission is dropped, an
 * overlapping one keeps only its new bytes, out-of-order ones are put in
 * stream order, so each boundary is one the client made. A captured
 * segment longer than the connection's effective MSS (the peer's SYN MSS,
 * less 12 bytes when both SYNs carried timestamps, RFC 7323 §3) is an
 * offload super-frame (GSO/TSO: the capture saw it before the NIC cut it)
 * and is cut at that MSS, as the NIC did. Gaps come from the capture
 * timestamps of first transmissions, capped at SD_REPLAY_GAP_MAX_US.
 */
#ifndef SHAKEDOWN_REPLAY_H
#define SHAKEDOWN_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shakedown/err.h"

#define SD_REPLAY_MAX_CONNS 64          /* connections planned; more: conns_dropped */
#define SD_REPLAY_MAX_SEGS 64           /* segments of one flight; more: -SD_ELIMIT */
#define SD_REPLAY_MAX_RECORDS 64        /* records of one ClientHello */
/*
 * Longest gap replayed: a longer pause in the capture is shortened to this
 * (gaps_capped). Below the lab server's 3 s idle timeout, so a replayed
 * pause never ends the connection by itself.
 */
#define SD_REPLAY_GAP_MAX_US 2000000u

/* sd_replay_seg.flags: what the capture did to a segment's bytes. */
enum {
	SD_REPLAY_SEG_OOO = 1 << 0,        /* captured before a segment it follows */
	SD_REPLAY_SEG_RETRANS = 1 << 1,    /* was retransmitted later (copies folded) */
	SD_REPLAY_SEG_OVERLAP = 1 << 2,    /* part of an overlapping segment (new bytes only) */
	SD_REPLAY_SEG_GSO = 1 << 3,        /* cut out of an offload super-frame */
};

struct sd_replay_seg {
	uint32_t off;                      /* stream offset of its first byte */
	uint32_t len;
	uint32_t gap_us;                   /* since the previous segment (0 for the first);
					    * the retry flight's first: since the server's
					    * last data segment before it (the HelloRetryRequest),
					    * the client's answer time */
	uint8_t flags;                     /* SD_REPLAY_SEG_* */
};

/* One flight: bytes and segments, offsets relative to the client stream. */
struct sd_replay_flight {
	size_t start, len;                 /* stream range [start, start + len) */
	struct sd_replay_seg seg[SD_REPLAY_MAX_SEGS];
	size_t nseg;
};

struct sd_replay_conn {
	size_t flow;                       /* 0-based TCP connection in the capture */
	uint8_t family;                    /* 4 or 6 */
	uint8_t client[16], server[16];    /* IPv4 in the first 4 bytes */
	uint16_t cport, sport;
	char sni[256];                     /* "" when the hello has none */
	uint8_t *stream;                   /* owned: client bytes [0, stream_len) */
	size_t stream_len;                 /* both flights */
	uint8_t *hello;                    /* owned: the first ClientHello message */
	size_t hello_len;                  /* with its 4-byte header */
	uint16_t record_len[SD_REPLAY_MAX_RECORDS];  /* its records' fragment lengths */
	size_t nrecords;
	struct sd_replay_flight first;     /* start 0 */
	bool hrr;                          /* the captured server sent a HelloRetryRequest */
	uint16_t hrr_group;                /* the group it asked for (IANA); 0 unknown */
	bool has_retry;                    /* and the client's second flight is here */
	struct sd_replay_flight retry;
	size_t hello2_len;                 /* the second ClientHello message */
	uint16_t mss;                      /* effective MSS cutting super-frames; 0 unknown */
	bool gaps_capped;                  /* a gap was longer than SD_REPLAY_GAP_MAX_US */
	uint32_t retransmissions;          /* captured copies folded away */
	uint32_t out_of_order;             /* segments put back in order */
	uint32_t gso_frames;               /* super-frames cut at the MSS */
};

struct sd_replay_plan {
	struct sd_replay_conn *conns;      /* in the order of the connections' first packets */
	size_t n;
	size_t flows;                      /* TCP connections in the capture */
	size_t conns_dropped;              /* ClientHellos past SD_REPLAY_MAX_CONNS */
	size_t incomplete;                 /* connections whose hello the capture lacks part of */
};

/*
 * Reads a pcap or pcapng file (borrowed for the call) and plans every TCP
 * connection whose client stream begins with a ClientHello. Returns the
 * number of connections planned (at least 1); *out owns everything. On
 * error *out is empty and err gets one line saying what is wrong with the
 * file (no file name). Errors: -SD_EFORMAT (empty, or not pcap/pcapng),
 * -SD_ETRUNC (the file ends inside its header, a record or a block),
 * -SD_ELENGTH / -SD_EVALUE / -SD_ELIMIT (a damaged capture),
 * -SD_ESNAPLEN (snaplen cut bytes of a ClientHello), -SD_ENOHELLO (no
 * TCP connection starts with a whole ClientHello; err says whether one
 * was begun), -SD_ELIMIT (a flight of more than SD_REPLAY_MAX_SEGS
 * segments or SD_REPLAY_MAX_RECORDS records), -ENOMEM.
 */
int sd_replay_plan_build(const uint8_t *file, size_t len, struct sd_replay_plan *out,
			 char *err, size_t errlen) SD_WUR;

void sd_replay_plan_free(struct sd_replay_plan *p);

/* The segment sizes of a flight as text, "1228+703" (cut when n is too small). */
void sd_replay_sizes(const struct sd_replay_flight *f, char *out, size_t n);

#endif
