/* SPDX-License-Identifier: MIT */
/*
 * A real client judged from the wire: what a program (Chromium, node, curl,
 * openssl s_client) did on its link, rebuilt from the frames the first hop
 * captured on its client-side interface (struct sd_vd_pkt with node 0,
 * side 0; in and out), as the facts the verdict takes from the user-space
 * engine otherwise (struct sd_vd_client), plus its ClientHello and first
 * flight. Also says when the outcome is known, so the harness can stop the
 * program instead of letting it retry for tens of seconds. Pure logic over
 * captured bytes: no sockets, testable and fuzzable without root.
 */
#ifndef SHAKEDOWN_OBSERVED_H
#define SHAKEDOWN_OBSERVED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shakedown/err.h"
#include "shakedown/verdict.h"

/* How long a retransmitted, still unacknowledged segment waits before the
 * connection counts as stuck (the lab's round trips are well under 1 ms;
 * a lossy hop's retransmission is acknowledged within one), plus any
 * delay the path adds (sd_observed_build's extra_ms). */
#define SD_OBSERVED_STUCK_MS 150

/* How long a connection whose data is all acknowledged may stay silent
 * before it counts as stalled (the server read the hello and says
 * nothing), plus extra_ms; the engine's own idle time is 150 ms. */
#define SD_OBSERVED_QUIET_MS 500

#define SD_OBSERVED_MAX_RECORDS 64

struct sd_observed {
	bool found;                   /* a connection to the server's port was seen */
	uint16_t sport;               /* the client's port (the kernel chose it) */
	/* The client stream through the record that completes its first
	 * ClientHello (all of the stream when the hello is incomplete): the
	 * first flight, as the verdict compares it with what was delivered. */
	uint8_t *flight;              /* owned */
	size_t flight_len;
	uint8_t *hello;               /* the first ClientHello message, header included; owned, NULL if incomplete */
	size_t hello_len;
	size_t hello2_len;            /* a second ClientHello (after a HelloRetryRequest) */
	size_t record_lengths[SD_OBSERVED_MAX_RECORDS];   /* fragment lengths of the hello's records */
	size_t nrecords;
	/* The verdict's client facts: end (done, reset, closed, refused or
	 * stall), server_hello, hrr, group, plaintext alert, handshake_done (the
	 * client sent an encrypted record after its hello: its Finished),
	 * segments of the first flight with retransmissions, acked, server_mss,
	 * server_bytes (server stream bytes that reached the client). */
	struct sd_vd_client client;
	uint32_t retransmits;         /* client data segments sent again */
	bool icmp_to_client;          /* an ICMP too-big left hop 1 toward the client */
	/* The outcome is known: done, reset, closed, refused, an alert,
	 * stuck (a retransmitted segment unacknowledged SD_OBSERVED_STUCK_MS
	 * after, with no ICMP too-big toward the client), or quiet (all the
	 * client sent acknowledged, then SD_OBSERVED_QUIET_MS of silence
	 * before a completed handshake). */
	bool decided;
	bool stuck;
	bool client_gave_up;          /* the client sent a FIN or RST on it first */
	size_t connections;           /* the client's connections seen (SYN captured) */
	char decided_by[64];          /* "handshake completed", "reset", "stuck" ... */
};

/*
 * Rebuilds the client's TCP connections to server_addr (4 or 16 bytes by
 * family 4 / 6) port server_port out of pkts (only node 0, side 0 frames
 * are used; a connection counts when its SYN was captured), as of now_ns
 * (CLOCK_REALTIME, the frames' clock; 0: the last frame's time; a round
 * trip may take extra_ms more than the lab's own, for delaying hops), and
 * describes the one that got furthest (completed, then ended by the path
 * or server, then the first). *o is zeroed first and owns its
 * buffers until sd_observed_free. Returns 0 (found false when no such
 * connection was captured), -ENOMEM.
 */
int sd_observed_build(const struct sd_vd_pkt *pkts, size_t n, int family,
		      const uint8_t *server_addr, uint16_t server_port, uint64_t now_ns,
		      unsigned extra_ms, struct sd_observed *o) SD_WUR;
void sd_observed_free(struct sd_observed *o);

#endif
