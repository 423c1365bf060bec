/* SPDX-License-Identifier: MIT */
/*
 * The client engine: a user-space TCP sender on raw Ethernet frames (kernel
 * bypass through a libpcap handle), so that a client flight can leave with
 * any segmentation, IP fragmentation, order and timing, and with or without
 * path MTU discovery.
 *
 * It runs in the calling thread, which the caller has moved into the client
 * namespace, over a pcap handle the caller opened on the client's link and
 * keeps for the life of the topology (immediate mode, non-blocking, snaplen
 * 65535). The source address must not belong to the client namespace's
 * kernel, else that kernel answers the SYN-ACK with a RST; the next hop
 * needs a static neighbour entry for it.
 *
 * The TCP is deliberately small and deterministic, and kernel-like where
 * a path's verdict depends on it:
 *  - SYN with the MSS option only (no SACK, timestamps or window scale),
 *    window 64240, retransmitted with exponential backoff;
 *  - the flight goes out at once (the shape, not congestion control,
 *    decides the first transmission): split points first, then MSS cuts,
 *    where MSS = min(server MSS, path MTU - 40 / 60), the path MTU
 *    starting at the link MTU for every run (no shared cache); order, dup
 *    and gap apply to first transmissions, ipfrag to every data segment;
 *    while a gapped flight is still going out the RTO does not run (it
 *    restarts at each send);
 *  - every server data segment is ACKed at once (cumulative; out-of-order
 *    data is buffered, at most SD_ENGINE_MAX_OOO segments);
 *  - on RTO the head segment is retransmitted re-cut at the current MSS,
 *    then the rest as ACKs come back (slow start from one segment);
 *    backoff x2, at most max_retries times; no fast retransmit;
 *  - ICMP frag-needed / packet-too-big quoting one of our packets lowers
 *    the path MTU (floors 552 for IPv4 like Linux's min_pmtu, 1280 for
 *    IPv6), and every unacknowledged segment that no longer fits is
 *    retransmitted at once, re-cut (unless the shape says no-pmtud);
 *  - a stall is decided without a long sleep: when the retransmissions
 *    are spent (or nothing is left to send and the server owes us bytes)
 *    and the path has been quiet for the quiet (idle) period. With the
 *    defaults a blackholed flight is declared at about 190 ms after the
 *    SYN (RTO 20 ms; tries at 20, 60, 140 ms; 50 ms of quiet).
 *
 * Limits worth knowing when reading a result: without SACK the server's
 * Linux cannot use tail loss probes or RACK, so a lost server segment is
 * repaired by its RTO (200 ms minimum): keep idle_ms above that on lossy
 * paths. Server IP fragments are not reassembled (counted in rx_ignored).
 * Frames of other connections on the handle are ignored, so give every
 * exchange its own source port.
 */
#ifndef SHAKEDOWN_ENGINE_H
#define SHAKEDOWN_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shakedown/buf.h"
#include "shakedown/err.h"
#include "shakedown/shape.h"

struct pcap;    /* libpcap's pcap_t */

/* What the application callback returns. */
enum {
	SD_APP_MORE = 0,    /* keep going */
	SD_APP_DONE = 1,    /* the exchange reached its goal: stop cleanly */
	SD_APP_FAIL = 2,    /* stop: the application gave up */
};

/*
 * Called whenever new in-order server bytes arrive, with the whole server
 * stream so far (a view valid during the call). It may append bytes to out
 * to send (a second ClientHello after a HelloRetryRequest, a client
 * Finished); they are cut like the flight (split offsets are stream
 * offsets, so they apply to later bytes too) and sent at once.
 */
typedef int (*sd_engine_data_fn)(void *ctx, const uint8_t *stream, size_t len,
				 struct sd_buf *out);

/* How the engine leaves a connection that is still open when it stops. */
enum sd_engine_close {
	SD_ENGINE_CLOSE_RST = 0,   /* RST|ACK at the acknowledged edge (RFC 5961
				    * exact match): the server's socket dies at once */
	SD_ENGINE_CLOSE_FIN,       /* FIN|ACK, not waited for */
	SD_ENGINE_CLOSE_NONE,      /* nothing: the server's socket lingers */
};

struct sd_engine_config {
	uint8_t family;                 /* 4 or 6 */
	uint8_t src_mac[6], dst_mac[6]; /* ours, and the next hop's */
	uint8_t src[16], dst[16];       /* IPv4 in the first 4 bytes */
	uint16_t sport, dport;
	uint8_t ttl;                    /* 0: 64 */
	uint16_t mtu;                   /* client link MTU; 0: 1500 */
	uint16_t mss;                   /* MSS to advertise; 0: mtu-40 / mtu-60 */
	uint32_t isn;                   /* initial sequence number (from the seed) */

	/* The client's byte stream after the handshake (TLS records); borrowed
	 * for the run. May be empty. */
	const uint8_t *flight;
	size_t flight_len;
	struct sd_shape shape;          /* copied in; sd_shape_init for "mss" */
	/* Split points resolved to stream offsets (the field names of the
	 * shape, through the dissector); borrowed; any order. The shape's own
	 * numeric offsets are used as well, so passing them again is harmless. */
	const size_t *splits;
	size_t nsplits;
	/* Per-piece pacing (replays of a capture): a first transmission that
	 * starts at stream offset gap_offs[k] leaves gaps_us[k] after the one
	 * sent before it, on top of the shape's gap; when it is the first of
	 * bytes on_data wrote, gaps_us[k] after the server bytes that made
	 * on_data write them (a client's answer time). Borrowed; NULL: none. */
	const size_t *gap_offs;
	const uint32_t *gaps_us;
	size_t ngaps;

	/* Timing. */
	uint32_t syn_rto_ms;            /* first SYN retransmission timeout */
	uint32_t syn_retries;           /* SYN retransmissions before giving up */
	uint32_t rto_ms;                /* data RTO; 0: max(4 x SYN RTT, rto_min_ms) */
	uint32_t rto_min_ms;
	uint32_t rto_max_ms;            /* backoff ceiling */
	uint32_t max_retries;           /* data retransmissions (RTO expiries) */
	uint32_t quiet_ms;              /* quiet after the last retry: stall;
					 * at least 2 x the SYN RTT is used */
	uint32_t idle_ms;               /* nothing to send, server silent: stall */
	uint32_t deadline_ms;           /* hard cap on the whole exchange */

	size_t stream_max;              /* server bytes kept; the window closes there */
	enum sd_engine_close close;
	/* On SD_APP_DONE, send what the callback wrote and close only once the
	 * server has acknowledged every byte (or the retries ran out; a RST or
	 * FIN meanwhile is noted, the state stays DONE). Else close at once. */
	bool drain_on_done;
	bool accept_bad_csum;           /* take segments with bad checksums */

	sd_engine_data_fn on_data;      /* NULL: keep reading until FIN/idle */
	void *ctx;

	/*
	 * A pause (the shape's gap, a replayed one) is there so that the
	 * server reads what came before it on its own. On a loaded machine
	 * the server's thread may wake only after the next piece arrived,
	 * and read both at once. With hold set, a piece that follows a pause
	 * and is due while every byte sent before it is acknowledged waits
	 * as long as hold(hold_ctx, acked) says the server has not yet read
	 * those acked bytes, at most hold_max_ms per pause; the pieces after
	 * it move back by as much. NULL: no hold (a blackholed piece is never
	 * acknowledged, so it never waits).
	 */
	bool (*hold)(void *hold_ctx, size_t acked);
	void *hold_ctx;
	uint32_t hold_max_ms;           /* 0: 1000 */
};

/*
 * Fills in the defaults: MTU 1500, SYN RTO 100 ms x 3 retries, data RTO
 * derived (floor 20 ms, ceiling 2 s) x 3 retries, quiet 50 ms, idle
 * 500 ms, deadline 20 s, stream_max 1 MiB, close with RST, shape "mss".
 * Addresses, ports, ISN, flight and callback are left zero for the caller.
 */
void sd_engine_config_init(struct sd_engine_config *c);

/* Final state of an exchange. */
enum sd_engine_state {
	SD_ENGINE_DONE = 0,     /* the callback said SD_APP_DONE */
	SD_ENGINE_RESET,        /* a RST ended the established connection */
	SD_ENGINE_CLOSED,       /* the server sent FIN (acknowledged) */
	SD_ENGINE_STALL,        /* retries spent / nothing came, path quiet */
	SD_ENGINE_REFUSED,      /* RST or ICMP unreachable answered the SYN */
	SD_ENGINE_APP_FAIL,     /* the callback said SD_APP_FAIL */
	SD_ENGINE_ERROR,        /* the engine itself failed (err) */
};

/* Lower-case name: "done", "reset", "closed", "stall", "refused", "app-fail", "error". */
const char *sd_engine_state_name(enum sd_engine_state s);

#define SD_ENGINE_MAX_SEGS 256      /* segment log entries kept */
#define SD_ENGINE_MAX_PMTU 16       /* path MTU events kept */
#define SD_ENGINE_MAX_OOO 64        /* out-of-order server segments buffered */

/* sd_engine_seg.flags */
enum {
	SD_SEG_RETX = 1 << 0,   /* a retransmission (RTO or PMTU) */
	SD_SEG_DUP = 1 << 1,    /* the second copy of a dup shape */
	SD_SEG_PMTU = 1 << 2,   /* sent because of a path MTU drop */
};

/* A data segment as it left, one per transmission (dup copies included). */
struct sd_engine_seg {
	uint32_t off;           /* stream offset of its first byte (0: first flight byte) */
	uint32_t len;           /* TCP payload bytes */
	uint16_t ip_len;        /* the IP datagram before fragmentation */
	uint16_t nfrags;        /* IP fragments it left as; 1: whole */
	uint8_t flags;          /* SD_SEG_* */
	double t_ms;
};

/* An ICMP frag-needed / packet-too-big that quoted one of our packets. */
struct sd_engine_pmtu {
	double t_ms;
	uint8_t from[16];       /* the ICMP's source: the router that sent it */
	uint32_t reported;      /* the MTU field of the ICMP */
	uint16_t old_mtu, new_mtu;
	bool applied;           /* false: no-pmtud, not lower, or outside the window */
};

/*
 * What happened; the verdict builds its evidence from it. Times are ms
 * since sd_engine_run began, -1 when the event did not happen. Sequence
 * numbers in rst_* are the raw ones from the wire; isn / server_isn give
 * the base.
 */
struct sd_engine_result {
	enum sd_engine_state state;
	int err;                        /* SD_ENGINE_ERROR: -errno / -SD_E* */
	const char *reason;             /* static text: why it stopped */

	double t_synack, t_first_data, t_last_progress, t_end;
	double rtt_ms;                  /* SYN to SYN-ACK (Karn: last SYN) */
	double rto_ms;                  /* initial data RTO used */
	uint32_t syn_sent;              /* SYN transmissions */

	uint32_t isn, server_isn;
	uint16_t mss_sent;              /* what our SYN advertised */
	uint16_t server_mss;            /* SYN-ACK's option; 0 if absent */
	uint16_t server_window;         /* last window the server advertised */
	uint8_t synack_ttl;             /* hop counts, to tell injected RSTs apart */

	/* RST that ended the exchange (state RESET or REFUSED by RST) */
	bool rst_seen;
	uint8_t rst_from[16];
	uint32_t rst_seq, rst_ack;
	uint8_t rst_ttl;
	bool rst_exact;                 /* its seq was exactly the next expected */

	/* ICMP that refused the SYN (state REFUSED, rst_seen false) */
	uint8_t icmp_type, icmp_code;
	uint8_t icmp_from[16];

	/* Path MTU */
	uint16_t path_mtu;              /* at the end */
	struct sd_engine_pmtu pmtu[SD_ENGINE_MAX_PMTU];
	size_t npmtu;                   /* kept; more are counted in pmtu_lost */
	size_t pmtu_lost;

	/* Client side */
	struct sd_engine_seg seg[SD_ENGINE_MAX_SEGS];
	size_t nseg;                    /* kept; more are counted in seg_lost */
	size_t seg_lost;
	uint32_t retransmits;           /* data segments retransmitted */
	size_t client_len;              /* bytes queued: flight + callback output */
	size_t acked;                   /* highest cumulative ACK - ISN - 1 */
	enum sd_engine_close close_sent;/* what ended our side; NONE if nothing */

	/* Server side */
	uint8_t *server;                /* owned: the in-order server stream */
	size_t server_len;
	bool server_fin;

	/* Counts */
	uint32_t pkts_sent;             /* IP datagrams built (before fragmentation) */
	uint32_t frames_sent;           /* frames injected (fragments count) */
	uint32_t pkts_recv;             /* packets of this connection, and ICMP about it */
	uint32_t icmp_recv;
	uint32_t rx_bad_csum;           /* segments dropped (or taken) with bad checksums */
	uint32_t rx_ignored;            /* ours but unusable: out of window, fragments */
	uint32_t rx_ooo;                /* server data segments ahead of the stream */
	uint32_t stale_frames;          /* drained from the handle before starting */
	double held_ms;                 /* pieces waited for hold() in all */
	uint32_t holds;                 /* pauses that hold() stretched */
	bool rx_after_last_send;        /* anything of ours arrived after our last send */
};

/*
 * Runs one exchange: handshake, flight, server stream, close. Everything
 * about the path goes into res, which the caller frees with
 * sd_engine_result_free (also after an error). Returns 0 when the exchange
 * ran, whatever its state; on SD_ENGINE_ERROR the negative res->err:
 * -SD_EVALUE for a bad config (nothing was sent), -EIO when pcap fails,
 * -ENOMEM.
 */
int sd_engine_run(struct pcap *p, const struct sd_engine_config *cfg,
		  struct sd_engine_result *res) SD_WUR;

void sd_engine_result_free(struct sd_engine_result *res);

/*
 * The same over a plain AF_PACKET socket instead of a libpcap handle (see
 * sd_engine_socket_open). Frames are identical on the wire; the socket is
 * cheaper to keep: no ring, so opening costs no RCU grace period and
 * closing one instead of libpcap's two (~14 ms each here).
 */
int sd_engine_run_fd(int fd, const struct sd_engine_config *cfg,
		     struct sd_engine_result *res) SD_WUR;

/*
 * Opens a SOCK_RAW AF_PACKET socket bound to ifindex in the calling
 * thread's namespace, non-blocking, O_CLOEXEC, not looping back what this
 * namespace sends. Returns the fd or -errno.
 */
int sd_engine_socket_open(int ifindex) SD_WUR;

#endif
