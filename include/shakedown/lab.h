/* SPDX-License-Identifier: MIT */
/*
 * A lab is one built path kept ready for cells: the topology, a capture
 * thread in every hop and in the server, the client engine's libpcap
 * handle on c0, the TLS server, and a user-space middlebox engine
 * (shakedown/mbox.h) for every hop that needs one, reset before each
 * cell. Opening costs a few milliseconds of netlink and the RCU grace
 * periods of the AF_PACKET sockets, paid once
 * (in parallel); each cell afterwards is a handshake on the wire plus the
 * verdict. A cell is: build the ClientHello, shape it, send it with the
 * user-space engine, finish the TLS 1.3 handshake, then judge from what
 * every hop captured and what the server saw.
 */
#ifndef SHAKEDOWN_LAB_H
#define SHAKEDOWN_LAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shakedown/client.h"
#include "shakedown/endpoint.h"
#include "shakedown/engine.h"
#include "shakedown/hello.h"
#include "shakedown/mbox.h"
#include "shakedown/path.h"
#include "shakedown/profile.h"
#include "shakedown/shape.h"
#include "shakedown/tls13.h"
#include "shakedown/verdict.h"

struct sd_lab;

struct sd_lab_opts {
	bool ipv6;                   /* cells over IPv6 (paths ≥ 1280), else IPv4 */
	enum sd_server_mode server_mode;
	size_t chain_size;
	const char *keylog_path;     /* the server's key log; real clients append to it too */
	/* For real client programs (sd_cell.real_client): the client kernel
	 * owns the client address (SD_TOPO_CLIENT_KERNEL), so engine cells
	 * cannot run on this lab. */
	bool client_kernel;
};

/*
 * Builds the path and starts everything. Errors: those of sd_topo_open,
 * sd_observer_open, sd_server_start; err gets one line naming the step.
 */
int sd_lab_open(const struct sd_path *p, const struct sd_lab_opts *o, struct sd_lab **out,
		char *err, size_t errlen) SD_WUR;
void sd_lab_close(struct sd_lab *lab);

/*
 * A captured client flight to send instead of a ClientHello built from a
 * profile (a replay; shakedown/replay.h plans it). The harness holds no
 * keys for a captured hello, so the handshake cannot be finished: the cell
 * reads the server's records unencrypted up to its ServerHello, answers a
 * HelloRetryRequest with the captured second flight, then lets the server
 * send the rest, and judges the handshake as one that would complete when
 * a ServerHello came and the server's flight arrived as whole records
 * (as many bytes as the server reports it sent) before the path went quiet.
 * Everything is borrowed for the cell.
 */
struct sd_cell_flight {
	const uint8_t *stream;           /* first flight, then the retry flight */
	size_t first_len;                /* [0, first_len): the first ClientHello's records */
	size_t retry_len;                /* [first_len, +retry_len): sent after an HRR; 0 none */
	const uint8_t *hello;            /* the first ClientHello message */
	size_t hello_len;
	const uint16_t *record_len;      /* its records' fragment lengths */
	size_t nrecords;
	size_t hello2_len;               /* the second ClientHello message, if any */
	/* Segment boundaries (stream offsets, both flights) and the pause before
	 * the piece starting at each; ncuts 0: the shape alone cuts. */
	const size_t *cuts;
	const uint32_t *gaps_us;
	size_t ncuts;
};

struct sd_cell {
	const struct sd_profile *profile;
	const struct sd_hello_opts *hello_opts;   /* NULL: the profile as is */
	const char *seed;                          /* NULL: fresh */
	struct sd_shape shape;
	bool ipv6;
	/* A captured flight to replay (profile, hello_opts, seed's hello then
	 * unused); NULL: the profile's ClientHello. */
	const struct sd_cell_flight *replay;
	/*
	 * A real client program instead of the engine (profile, seed and
	 * shape unused, of hello_opts only the SNI; the lab opened with
	 * client_kernel). It runs
	 * in the client namespace, is judged from what its link captured, and
	 * is stopped as soon as the outcome is known or at the deadline.
	 */
	bool real_client;
	enum sd_client_kind client;
	unsigned client_deadline_ms;               /* 0: SD_LAB_CLIENT_DEADLINE_MS */
};

#define SD_LAB_CLIENT_DEADLINE_MS 10000

#define SD_CELL_MAX_PKTS 4096

struct sd_cell_result {
	struct sd_verdict v;
	struct sd_vd_client client;
	struct sd_vd_server server;
	struct sd_engine_result eng;           /* owned; freed by sd_cell_result_free */
	struct sd_server_conn conn;
	bool conn_present;
	/* Behind an exec hop: the hop whose own connection conn is (what the
	 * server saw of the proxied exchange; the verdict does not use it). */
	char server_via[64];
	char seed[80];
	uint8_t *flight;                        /* the client stream as sent (owned) */
	size_t flight_len;
	uint8_t *hello;                         /* the first ClientHello message (owned) */
	size_t hello_len;
	size_t hello2_len;                      /* second ClientHello after HRR */
	size_t record_lengths[64];
	size_t nrecords;
	uint16_t sport;
	double t_total_ms;                      /* the cell, build to verdict */
	double t_exchange_ms;                   /* on the wire */
	/* Captured frames of this cell (copies), for ladders and pcaps. */
	struct sd_vd_pkt *pkts;
	size_t npkts;
	uint8_t *pkt_bytes;
	struct sd_ladder lad;                   /* what crossed each hop (owned) */
	char ladder[8192];                      /* the same as text, 80 rows */
	/* A real client's cell: what stopped it ("handshake completed",
	 * "stuck", "deadline", "exited: ..."), and the time from its start to
	 * that moment (t_exchange_ms is the same for engine cells). */
	char client_end[240];
	double t_client_start_ms;               /* lab cell start to the program running */
	/* What each user-space hop did during the cell (mbox_present[h]). */
	struct sd_mbox_stats mbox[SD_PATH_MAX_HOPS];
	bool mbox_present[SD_PATH_MAX_HOPS];
};

/* Runs one cell. Returns 0 (whatever the outcome) or a harness error. */
int sd_lab_run(struct sd_lab *lab, const struct sd_cell *cell, struct sd_cell_result *r,
	       char *err, size_t errlen) SD_WUR;
void sd_cell_result_free(struct sd_cell_result *r);

/* Writes the last cell's frames as one pcap per observed interface into
 * dir (created if missing): <node>-<ifname>.pcap, Ethernet frames as they
 * crossed the veth. names (may be NULL) gets each file's path, '\n'-separated. */
int sd_lab_write_pcaps(const struct sd_lab *lab, const struct sd_cell_result *r,
		       const char *dir, struct sd_buf *names, char *err, size_t errlen) SD_WUR;

/* The path the lab was built from, and names for verdict hops. */
const struct sd_path *sd_lab_path(const struct sd_lab *lab);
/* Whether the lab was built for IPv6 cells (else IPv4). */
bool sd_lab_ipv6(const struct sd_lab *lab);

#endif
