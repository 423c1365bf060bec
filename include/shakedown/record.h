/* SPDX-License-Identifier: MIT */
/*
 * The TLS record layer (RFC 8446 §5.1) and the handshake stream above it:
 * records in and out, handshake messages reassembled across records.
 */
#ifndef SHAKEDOWN_RECORD_H
#define SHAKEDOWN_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shakedown/buf.h"
#include "shakedown/cursor.h"

/* RFC 8446 §5.1: TLSPlaintext.length MUST NOT exceed 2^14. */
#define SD_RECORD_PLAIN_MAX 16384
/* RFC 5246 §6.2.3 allows 2^14 + 2048 of ciphertext; anything longer is not TLS. */
#define SD_RECORD_ANY_MAX (16384 + 2048)
#define SD_RECORD_HDR 5

struct sd_record {
	uint8_t type;
	uint16_t version;
	uint16_t len;
	const uint8_t *frag;   /* view into the caller's buffer */
	size_t offset;         /* of the record header, absolute */
};

/*
 * One record from c. -SD_ETRUNC (cursor unchanged) when the input ends
 * inside it, -SD_ETYPE for a content type TLS does not define (the bytes
 * are not TLS), -SD_ELENGTH for a length no TLS version allows.
 */
int sd_record_parse(struct sd_cursor *c, struct sd_record *r) SD_WUR;

/*
 * Wraps len bytes of type into records. sizes[] gives each record's
 * fragment length in turn; the last size repeats; nsizes == 0 means
 * SD_RECORD_PLAIN_MAX. A handshake message MAY be fragmented across records
 * but zero-length handshake fragments MUST NOT be sent (§5.1), so sizes of 0
 * or above 2^14 are -SD_EVALUE.
 */
int sd_record_build(struct sd_buf *out, uint8_t type, uint16_t version,
		    const uint8_t *data, size_t len, const size_t *sizes,
		    size_t nsizes) SD_WUR;

#define SD_FLIGHT_MAX_RECORDS 512
#define SD_FLIGHT_MAX_MSGS 32

struct sd_flight_record {
	uint8_t type;
	uint16_t version;
	uint16_t len;
	size_t offset;      /* of the header in the stream */
	size_t hs_offset;   /* handshake records: where the fragment starts in hs */
};

struct sd_hs_msg {
	uint8_t type;
	size_t hs_offset;   /* of the 4-byte header in the handshake stream */
	size_t len;         /* message length including the header */
	size_t rec_first;   /* records[] index of the first record carrying it */
	size_t rec_count;
};

struct sd_flight {
	struct sd_buf hs;                 /* owned: handshake-record payloads joined */
	struct sd_flight_record records[SD_FLIGHT_MAX_RECORDS];
	size_t nrecords;
	struct sd_hs_msg msgs[SD_FLIGHT_MAX_MSGS];
	size_t nmsgs;
	size_t consumed;      /* stream bytes that formed whole records */
	bool partial;         /* stream ends inside a record or a message */
	bool encrypted;       /* parsing stopped at application_data */
	bool has_alert;
	uint8_t alert_level, alert_desc;
	size_t alert_offset;
};

/*
 * Parses a plaintext flight: records until the stream ends or turns into
 * application_data, handshake messages reassembled from them. An alert is
 * recorded and ends the flight. Views of messages are taken with
 * sd_flight_msg and live until sd_flight_free. Returns the number of
 * messages, -SD_ETYPE / -SD_ELENGTH when the bytes are not TLS records, or
 * -SD_ELIMIT. An incomplete tail is not an error: partial is set.
 */
int sd_flight_parse(const uint8_t *stream, size_t len, struct sd_flight *f) SD_WUR;
void sd_flight_free(struct sd_flight *f);
const uint8_t *sd_flight_msg(const struct sd_flight *f, size_t i);

/* Record lengths (fragment sizes) of the records that carried message i. */
size_t sd_flight_msg_records(const struct sd_flight *f, size_t i, uint16_t *lens,
			     size_t max);

/* RFC 8446 §6: an alert is two bytes, level then description. */
int sd_alert_parse(const uint8_t *frag, size_t len, uint8_t *level, uint8_t *desc) SD_WUR;

#endif
