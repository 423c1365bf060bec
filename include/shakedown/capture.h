/* SPDX-License-Identifier: MIT */
/* Reading pcap and pcapng files held in memory, and writing classic pcap. */
#ifndef SHAKEDOWN_CAPTURE_H
#define SHAKEDOWN_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shakedown/buf.h"
#include "shakedown/cursor.h"
#include "shakedown/err.h"

/* Interfaces kept per pcapng section; one more is -SD_ELIMIT. */
#define SD_CAPTURE_MAX_IFS 256
/* Largest record accepted, libpcap's own limit (MAXIMUM_SNAPLEN, 256 KiB).
 * -SD_ELENGTH above. */
#define SD_CAPTURE_MAX_CAPLEN (256u << 10)

enum {
	SD_CAPTURE_PCAP = 1,
	SD_CAPTURE_PCAPNG = 2,
};

struct sd_capture_if {
	uint32_t linktype;
	uint32_t snaplen;           /* 0: unlimited */
	uint8_t tsresol;            /* if_tsresol as stored (pcapng §4.2) */
	int64_t tsoffset;           /* if_tsoffset, seconds */
};

/* A reader; it borrows the file, which must outlive it and its packets. */
struct sd_capture {
	struct sd_cursor c;
	int format;                 /* SD_CAPTURE_* */
	bool le;                    /* this file / section is little-endian */
	bool nsec;                  /* classic pcap with nanosecond stamps */
	/* Classic pcap before version 2.3 stored the lengths the other way
	 * round: 2 always swapped, 1 swapped when caplen > len (2.3). */
	uint8_t lens_swapped;
	uint32_t sections;          /* pcapng sections begun */
	uint32_t nifs;
	struct sd_capture_if ifs[SD_CAPTURE_MAX_IFS];  /* classic pcap: ifs[0] */
};

struct sd_capture_pkt {
	uint32_t linktype;
	uint64_t ts_ns;             /* since the epoch; 0 for pcapng SPBs */
	const uint8_t *data;        /* points into the file */
	uint32_t caplen;
	uint32_t origlen;           /* as recorded; may be below caplen in odd files */
	uint32_t ifindex;           /* pcapng interface id in its section; 0 for pcap */
};

/*
 * Opens a pcap or pcapng file. -SD_EFORMAT when it is neither (including
 * empty input), -SD_ETRUNC when it ends inside the file header.
 */
int sd_capture_open(struct sd_capture *cap, const uint8_t *file,
		    size_t len) SD_WUR;

/*
 * The next packet: 1 and *pkt filled, 0 at a clean end of file, or
 * -SD_ETRUNC (file ends inside a record or block), -SD_ELENGTH (a block
 * or record length that is inconsistent or over SD_CAPTURE_MAX_CAPLEN),
 * -SD_EVALUE (a packet on an interface not described), -SD_EFORMAT (a
 * new pcapng section that is not well formed), -SD_ELIMIT (too many
 * interfaces). After an error the reader stays at the failed record.
 */
int sd_capture_next(struct sd_capture *cap, struct sd_capture_pkt *pkt) SD_WUR;

/*
 * Classic pcap writer with nanosecond stamps (magic 0xa1b23c4d), in
 * big-endian byte order, which every reader accepts. Each returns the
 * buffer's error state (0 or negative).
 */
int sd_pcap_write_header(struct sd_buf *b, uint32_t linktype,
			 uint32_t snaplen) SD_WUR;
int sd_pcap_write_packet(struct sd_buf *b, uint64_t ts_ns,
			 const uint8_t *data, uint32_t len) SD_WUR;
/* A record holding caplen of the origlen bytes a packet had (a snaplen cut). */
int sd_pcap_write_record(struct sd_buf *b, uint64_t ts_ns, const uint8_t *data,
			 uint32_t caplen, uint32_t origlen) SD_WUR;

#endif
