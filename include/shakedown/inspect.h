/* SPDX-License-Identifier: MIT */
/*
 * A middlebox's parser, emulated: what a firewall, IPS, proxy or load
 * balancer that inspects the ClientHello does with one TCP flow
 * (../shared/FIELD-FAILURES.md). The user-space middlebox engine
 * (src/mbox/) feeds it every data segment of a flow in both directions as
 * it forwards them, and asks it for a decision; the engine carries the
 * decision out on the wire (drop, forged RST, forged alert, FIN). Pure
 * logic over bytes and times: no sockets, so it is unit-tested and fuzzed.
 *
 * What the emulated device sees. Each direction is reassembled into its
 * own bounded buffer, in order and out of order (a bitmap of the bytes
 * that arrived; first copy wins, as in Linux): the client's holds
 * SD_INSP_BUF_DEFAULT bytes, or N with buffer-limit:N; the server's
 * SD_INSP_SERVER_BUF, enough for the first handshake message's header and
 * random. Only the first handshake message of the client stream is
 * inspected (the first ClientHello; a second one after a
 * HelloRetryRequest is not), and only the first of the server stream (is
 * it a HelloRetryRequest?). The client's hello is "complete" when every
 * TLS record carrying a byte of it has arrived whole (RFC 8446 §5.1: a
 * handshake message may span records; no other record type may come in
 * between).
 *
 * A stream that does not start like a ClientHello (a first record not of
 * type handshake(22) with major version 3, a length of 0 or above 2^14, a
 * first handshake message of another type, an alert or change_cipher_spec
 * before the hello is whole) is not TLS to the device: it stops inspecting
 * and forwards, whatever the behaviours. So does it when the hello cannot
 * fit its buffer (without buffer-limit: more than 64 KiB), when its memory
 * runs out, and when a complete hello does not parse (then the checks that
 * need its fields do not fire; those on sizes, records and segments do).
 *
 * Sizes, stated once: "stream bytes" are bytes of the client's TCP stream,
 * TLS record headers included (what buffer-limit and the first-segment
 * checks count: 1931 for a Chrome hello in one record); "message bytes"
 * are the handshake message with its 4-byte header (hello>N: 1926);
 * "handshake length" is the message's 24-bit length field, the header
 * excluded (size-window: 1922), the number BoringSSL's padding rule uses.
 */
#ifndef SHAKEDOWN_INSPECT_H
#define SHAKEDOWN_INSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shakedown/err.h"

#define SD_INSP_BUF_DEFAULT 65536     /* client reassembly without buffer-limit */
#define SD_INSP_SERVER_BUF 4096       /* server reassembly (the first message's start) */
#define SD_INSP_LIMIT_MIN 64          /* buffer-limit:N range */
#define SD_INSP_LIMIT_MAX 1048576
#define SD_INSP_MS_MAX 60000          /* segment-gap-break / peek-timeout range, from 1 */
#define SD_INSP_GAP_DEFAULT_MS 10
#define SD_INSP_SIZE_MAX 16777215     /* size-window bounds, hello>N, records>N: 0..2^24-1 */
#define SD_INSP_HOST_MAX 254          /* sni:HOST, 1..253 characters and a NUL */

/*
 * The emulated device behaviours (FIELD-FAILURES.md's `behaviour` column),
 * in the order they are checked: when several fire on one packet, the
 * first in this order decides. A timer that expired before a packet
 * arrived decides before anything in that packet.
 *
 *   first-segment-parse       the first read must hold the whole ClientHello
 *                             (all its records), else RESET. The first read
 *                             is the bytes at the head of the stream once the
 *                             segment carrying stream byte 0 arrives: that
 *                             segment and any out-of-order bytes already
 *                             buffered right after it, as a TCP-terminating
 *                             proxy's first read() returns them; in order it
 *                             is the first data segment.
 *   partial-hello-drop        the first read holds a truncated ClientHello:
 *                             DROP (PAN-OS "discard partial client hello").
 *   first-record-in-segment   the first read must hold the first TLS record
 *                             whole (header and fragment), else RESET.
 *   buffer-limit:N            the device buffers N stream bytes (record
 *                             headers included) waiting for the whole hello;
 *                             RESET as soon as the record and handshake
 *                             lengths show it needs more, or N bytes are
 *                             buffered without it. 64..1048576.
 *   segment-gap-break[:MS]    the hello must come in one burst: more than MS
 *                             (default 10, 1..60000) between two client data
 *                             segments, or after the last one, before it is
 *                             complete: CLOSE.
 *   peek-timeout:MS           the hello must be complete MS (1..60000) after
 *                             the first client data, else RESET.
 *   unknown-group-alert       the complete hello has a key_share entry of a
 *                             group other than x25519, x448,
 *                             secp256r1/384/521, ffdhe2048..8192 or GREASE:
 *                             ALERT 47 illegal_parameter.
 *   hrr-intolerant            the server's first message is a
 *                             HelloRetryRequest (RFC 8446 §4.1.3 random):
 *                             it is forwarded, and the client's retry (its
 *                             first segment reaching beyond what it had sent
 *                             when the HRR passed; retransmissions do not
 *                             count) is RESET, so the client sees
 *                             hrr-failure.
 *   multi-share-intolerant    the complete hello has more than one
 *                             post-quantum or hybrid key_share entry (tls.h
 *                             sd_tls_group_is_pq): ALERT 40 handshake_failure.
 *   size-window:LO-HI         handshake length in [LO, HI] (0..2^24-1): DROP,
 *                             as soon as the handshake header is seen.
 *   no-reassembly-ooo         a client data segment starts beyond the next
 *                             expected byte (a hole) before the hello is
 *                             complete: DROP.
 *   record-fragmentation-blind  the hello spans more than one TLS record
 *                             (known from the first record's length and the
 *                             handshake header): DROP.
 *   grease-intolerant         the complete hello has a GREASE value (RFC 8701)
 *                             in supported_versions or supported_groups: CLOSE.
 *   reset-on:COND             COND holds: RESET.
 *   alert-on:COND:CODE        COND holds: ALERT CODE (0..255 or a name such as
 *                             illegal_parameter).
 *
 * COND, checked on the complete ClientHello (hrr: on the client's retry):
 *   hello             any ClientHello
 *   hello>N           more than N message bytes (4-byte header included)
 *   hello-split       the hello came in more than one segment (segments that
 *                     brought new stream bytes, up to the one completing it)
 *   records>N         the hello spans more than N TLS records
 *   group:NAME        a key_share entry of that group (a name or number as
 *                     tls.h sd_tls_lookup reads them; GREASE for any GREASE)
 *   sni:HOST          server_name is HOST (ASCII case-insensitive; letters,
 *                     digits, '.', '-', '_')
 *   hrr               the server sent a HelloRetryRequest (as hrr-intolerant)
 */
enum sd_insp_kind {
	SD_INSP_FIRST_SEGMENT_PARSE,      /* first-segment-parse */
	SD_INSP_PARTIAL_HELLO_DROP,       /* partial-hello-drop */
	SD_INSP_FIRST_RECORD_IN_SEGMENT,  /* first-record-in-segment */
	SD_INSP_BUFFER_LIMIT,             /* buffer-limit:N */
	SD_INSP_SEGMENT_GAP_BREAK,        /* segment-gap-break[:MS] */
	SD_INSP_PEEK_TIMEOUT,             /* peek-timeout:MS */
	SD_INSP_UNKNOWN_GROUP_ALERT,      /* unknown-group-alert */
	SD_INSP_HRR_INTOLERANT,           /* hrr-intolerant */
	SD_INSP_MULTI_SHARE_INTOLERANT,   /* multi-share-intolerant */
	SD_INSP_SIZE_WINDOW,              /* size-window:LO-HI */
	SD_INSP_NO_REASSEMBLY_OOO,        /* no-reassembly-ooo */
	SD_INSP_RECORD_FRAG_BLIND,        /* record-fragmentation-blind */
	SD_INSP_GREASE_INTOLERANT,        /* grease-intolerant */
	SD_INSP_RESET_ON,                 /* reset-on:COND */
	SD_INSP_ALERT_ON,                 /* alert-on:COND:CODE */
	SD_INSP_KIND_MAX
};

/* What the device does with the packet it was just shown (and the flow). */
enum sd_insp_act {
	SD_INSP_FORWARD,      /* pass it on; keep watching */
	SD_INSP_DROP,         /* drop it and every later packet of the flow (a stall) */
	SD_INSP_RESET,        /* drop it; forge a RST to each end */
	SD_INSP_CLOSE,        /* drop it; forge a FIN to each end */
	SD_INSP_ALERT,        /* drop it; forge a fatal TLS alert (alert_desc) to the client, then RST both ends */
};

struct sd_insp_verdict {
	enum sd_insp_act act;
	uint8_t alert_desc;   /* SD_INSP_ALERT: e.g. 47 illegal_parameter */
	int kind;             /* the behaviour that decided, -1 for none */
	bool fresh;           /* this call made the decision: carry it out now; false when
			       * an earlier decision is repeated (drop the packet, forge nothing) */
	char why[160];        /* for people, NUL-terminated; "" when forwarding, e.g.
			       * "ClientHello incomplete in the first segment: 1460 of 1931 bytes" */
};

/* The conditions of reset-on / alert-on (grammar above). */
enum sd_insp_cond_type {
	SD_INSP_COND_NONE,
	SD_INSP_COND_HELLO,        /* hello */
	SD_INSP_COND_HELLO_GT,     /* hello>arg */
	SD_INSP_COND_HELLO_SPLIT,  /* hello-split */
	SD_INSP_COND_RECORDS_GT,   /* records>arg */
	SD_INSP_COND_GROUP,        /* group:arg (0x0a0a: any GREASE) */
	SD_INSP_COND_SNI,          /* sni:host */
	SD_INSP_COND_HRR,          /* hrr */
};

struct sd_insp_cond {
	int type;                        /* enum sd_insp_cond_type */
	uint32_t arg;
	char host[SD_INSP_HOST_MAX];     /* sni: as written; zero-filled otherwise */
};

/*
 * One hop's inspector behaviours, as parsed from its path file. All zero is
 * "no behaviour" (every packet forwarded); start from a zeroed struct and
 * add items with sd_insp_parse. Fields of kinds not in `kinds` are zero.
 */
struct sd_insp_config {
	uint32_t kinds;                  /* bit (1u << enum sd_insp_kind) per behaviour */
	uint32_t buffer_limit;           /* buffer-limit:N, stream bytes */
	uint32_t gap_ms;                 /* segment-gap-break[:MS] */
	uint32_t peek_ms;                /* peek-timeout:MS */
	uint32_t size_lo, size_hi;       /* size-window:LO-HI, handshake length */
	struct sd_insp_cond reset_on, alert_on;
	uint8_t alert_code;              /* alert-on's CODE */
};

/* For `shakedown list behaviours` and path file errors: one entry per
 * kind, in enum order (sd_insp_behaviours[k].kind == k), name NULL at the
 * end. arg is NULL for behaviours without an argument. */
struct sd_insp_info {
	enum sd_insp_kind kind;
	const char *name, *arg, *help;
};
extern const struct sd_insp_info sd_insp_behaviours[];

/* "first-segment-parse" for a kind, "none" for -1, "?" out of range. */
const char *sd_insp_kind_name(int kind);
/* "forward", "drop", "reset", "close", "alert"; "?" out of range. */
const char *sd_insp_act_name(enum sd_insp_act act);

/*
 * Parses one path-file behaviour item ("buffer-limit:1024") into c, which
 * keeps what earlier items set. Names are case-sensitive. Returns 1 when
 * it is an inspector behaviour, 0 when the name is not one (the caller
 * tries its own), or, with c unchanged and one line in msg naming the
 * item and what is wanted (e.g. "buffer-limit:abc: want a byte count
 * 64..1048576"): -SD_ESYNTAX (an argument missing, extra or not a
 * number), -SD_EVALUE (out of range, an unknown group or alert name, LO
 * above HI), -SD_EDUP (the behaviour is already in c). msg is written
 * only on error.
 */
int sd_insp_parse(const char *item, struct sd_insp_config *c, char *msg, size_t msglen) SD_WUR;
/*
 * c as behaviour items, space-separated, in enum order, each parseable by
 * sd_insp_parse back into the same config ("" for none; arguments in
 * canonical form: decimal numbers, group names as tls.h spells them,
 * alert codes as numbers). Returns the length, -ENOSPC when n is too
 * small (out then holds a truncated, NUL-terminated string), or
 * -SD_EVALUE for a config sd_insp_parse would not produce.
 */
int sd_insp_format(const struct sd_insp_config *c, char *out, size_t n) SD_WUR;

/* One flow's state. */
struct sd_insp;
/*
 * A flow's inspector for config c (copied; c need not outlive it).
 * Returns 0, -SD_EVALUE for a config sd_insp_parse would not produce (an
 * argument out of range), -ENOMEM. Buffers grow with the data, up to the
 * sizes above. Free with sd_insp_free (NULL is fine).
 */
int sd_insp_new(const struct sd_insp_config *c, struct sd_insp **out) SD_WUR;
void sd_insp_free(struct sd_insp *s);

/*
 * Shows the inspector a TCP segment as the device receives it: direction
 * dir (0 client to server, 1 back; anything else is ignored), seq_off its
 * sequence number minus that direction's ISN + 1 (SYN and FIN take none;
 * values from 2^31 up count as before the stream's start), its payload
 * (len 0 for a bare ACK), at t_us (any monotonic clock; a time earlier
 * than the last one counts as no time passing). The decision is in *v.
 * After a decision other than FORWARD the flow is over for the inspector:
 * every later call repeats it with fresh false.
 */
void sd_insp_segment(struct sd_insp *s, int dir, uint32_t seq_off, const uint8_t *payload, size_t len,
		     uint64_t t_us, struct sd_insp_verdict *v);

/* Time passes with no packet: a decision due by t_us (peek-timeout,
 * segment-gap-break) in *v; returns when to ask again (a time after
 * t_us), 0 for never (nothing pending, or the flow already decided). */
uint64_t sd_insp_tick(struct sd_insp *s, uint64_t t_us, struct sd_insp_verdict *v);

#endif
