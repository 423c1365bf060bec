/* SPDX-License-Identifier: MIT */
/*
 * The shape of a client flight on the wire (the --shape flag): where the
 * byte stream is cut into TCP segments, how the TLS records are sized, IP
 * fragmentation, pacing, send order, duplication and PMTUD. This module
 * only parses and plans; the client engine carries the plan out.
 *
 * Syntax: comma-separated items, white space around an item ignored.
 *
 *   mss                    segment at the MSS (the default; may be omitted)
 *   split@A[+B...]         cut the stream at these points; each point is a
 *                          byte offset (decimal, 1..SD_SHAPE_OFFSET_MAX) or
 *                          a ClientHello field name such as key_share or
 *                          key_share.X25519MLKEM768 (kept as text: the
 *                          caller resolves it with the dissector). Several
 *                          split items add up.
 *   records:SIZE           TLS record fragment size, 1..16384 (the caller
 *                          rebuilds the records; carried here as a number)
 *   ipfrag:SIZE            send every data segment as IP fragments of SIZE
 *                          bytes of IP payload each, rounded down to a
 *                          multiple of 8 (8..65535 before rounding); IPv4
 *                          with DF clear, IPv6 with fragment headers
 *   gap:MS                 delay between consecutive segments, 0..10000 ms
 *   order:reverse|swap     send the flight's segments last first, or with
 *                          the first two swapped
 *   dup                    send every segment twice
 *   no-pmtud               ignore ICMP frag-needed / packet-too-big
 *
 * Offsets count from the first byte of the client's TCP byte stream, which
 * is the first byte of the first TLS record header: split@5 cuts right
 * after the 5-byte record header, and a ClientHello field at handshake
 * offset N in a single record sits at stream offset N + 5.
 */
#ifndef SHAKEDOWN_SHAPE_H
#define SHAKEDOWN_SHAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shakedown/err.h"

#define SD_SHAPE_MAX_SPLITS 32
#define SD_SHAPE_FIELD_MAX 64          /* a field name's bytes, NUL included */
#define SD_SHAPE_OFFSET_MAX (1u << 20)
#define SD_SHAPE_RECORD_MAX 16384      /* RFC 8446 §5.1: 2^14 */
#define SD_SHAPE_GAP_MAX_MS 10000
#define SD_SHAPE_IPFRAG_MAX 65528      /* the largest multiple of 8 below 2^16 */

enum sd_shape_order {
	SD_SHAPE_ORDER_NORMAL = 0,
	SD_SHAPE_ORDER_REVERSE,
	SD_SHAPE_ORDER_SWAP,
};

/* One split point: a byte offset when field[0] is NUL, else a field name. */
struct sd_shape_split {
	size_t offset;
	char field[SD_SHAPE_FIELD_MAX];
};

/* A parsed shape. All zero (sd_shape_init) is the default: "mss". */
struct sd_shape {
	struct sd_shape_split split[SD_SHAPE_MAX_SPLITS];   /* as written, in order */
	size_t nsplit;
	uint16_t records;           /* record fragment size; 0: not set */
	uint16_t ipfrag;            /* fragment payload, a multiple of 8; 0: off */
	uint16_t gap_ms;
	enum sd_shape_order order;
	bool dup;
	bool no_pmtud;
};

void sd_shape_init(struct sd_shape *s);

/*
 * Parses spec (NULL, "" or "default" is the default shape) into out. On error out is
 * left as the default and err receives one line naming the offending item,
 * e.g. `shape item "gap:20000": gap must be 0..10000 ms`. Errors:
 * -SD_ESYNTAX (an unknown item, an empty item, a malformed number or field
 * name) and -SD_EVALUE (a number out of range, an item other than split
 * given twice, more than SD_SHAPE_MAX_SPLITS split points).
 */
int sd_shape_parse(const char *spec, struct sd_shape *out, char *err,
		   size_t errlen) SD_WUR;

/*
 * Writes the canonical text of s (items in the order listed above; "mss"
 * for the default), which parses back to the same struct. Returns the
 * length, or -ENOSPC when n is too small (out then holds a cut string).
 */
int sd_shape_format(const struct sd_shape *s, char *out, size_t n) SD_WUR;

/* True when s has split points that are field names still to resolve. */
bool sd_shape_has_fields(const struct sd_shape *s);

/* A piece of the stream: [off, off + len). */
struct sd_shape_piece {
	size_t off;
	size_t len;
};

/*
 * Plans the segments of the stream range [start, end): cut first at each of
 * cuts[] (stream offsets, any order; duplicates and offsets outside the
 * open range are ignored), then each piece into chunks of at most mss
 * bytes, as a kernel would. Writes the pieces in stream order; returns
 * their number (0 for an empty range), -SD_EVALUE for mss 0 or end <
 * start, -SD_ELIMIT when more than max pieces are needed.
 */
int sd_shape_cut(size_t start, size_t end, const size_t *cuts, size_t ncuts,
		 size_t mss, struct sd_shape_piece *out, size_t max) SD_WUR;

/* The send order of n pieces: idx[i] is the piece sent i-th. */
void sd_shape_order_apply(enum sd_shape_order order, size_t *idx, size_t n);

#endif
