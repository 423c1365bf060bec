/* SPDX-License-Identifier: MIT */
/*
 * The verdict: one outcome code per cell (DESIGN.md's table) and the
 * evidence for it — fragmentation, truncation, attribution to a hop. Pure
 * logic over plain structs: what the engine did, what the server saw, and
 * the packets captured in every namespace, so it is unit-testable.
 */
#ifndef SHAKEDOWN_VERDICT_H
#define SHAKEDOWN_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shakedown/err.h"
#include "shakedown/hello.h"
#include "shakedown/json.h"

enum sd_outcome {
	SD_OK, SD_OK_HRR, SD_ALERT, SD_RESET, SD_CLOSED, SD_STALL, SD_BLACKHOLE,
	SD_TRUNCATED, SD_MANGLED, SD_FRAG_LOST, SD_REFUSED, SD_HRR_FAILURE, SD_ERROR,
	SD_OUTCOME_MAX
};

/* "ok", "ok-hrr", ...: the stable lower-case strings of the JSON. */
const char *sd_outcome_name(enum sd_outcome o);
/* Parses an outcome name; -SD_EUNKNOWN if none. */
int sd_outcome_parse(const char *s, enum sd_outcome *o) SD_WUR;

#define SD_VD_MAX_HOPS 8
#define SD_VD_MAX_SEGS 256
#define SD_VD_MAX_RECV 64

/* How the client engine's exchange ended. */
enum sd_vd_end {
	SD_VD_END_DONE,       /* the TLS logic reached its goal */
	SD_VD_END_RESET,
	SD_VD_END_CLOSED,
	SD_VD_END_STALL,
	SD_VD_END_REFUSED,
	SD_VD_END_APP_FAIL,   /* a TLS-level failure (alert, bad message) */
	SD_VD_END_ERROR,
};

/* A segment the client engine sent. */
struct sd_vd_seg {
	uint32_t offset;      /* in the client stream */
	uint32_t len;
	uint32_t ip_len;      /* IP packet length (largest fragment when fragmented) */
	uint16_t frags;       /* IP fragments it was sent as (1 = not fragmented) */
	bool retrans;
	uint32_t t_us;        /* from the start of the exchange */
};

struct sd_vd_pmtu {
	uint32_t mtu;         /* as reported by the ICMP error */
	uint8_t from[16];     /* who sent it */
	bool ignored;         /* no-pmtud */
	uint32_t t_us;
};

struct sd_vd_client {
	enum sd_vd_end end;
	char why[400];                /* engine/TLS words for errors and app failures */
	bool hrr;                     /* a HelloRetryRequest was answered */
	bool server_hello;            /* a ServerHello (not HRR) arrived intact */
	bool handshake_done;          /* the server flight arrived and verified (or would complete) */
	uint16_t group;               /* negotiated group, if server_hello */
	bool alert;                   /* an alert record arrived */
	uint8_t alert_level, alert_desc;
	uint16_t server_mss;
	uint32_t acked;               /* client stream bytes the server acknowledged */
	struct sd_vd_seg segs[SD_VD_MAX_SEGS];
	size_t nsegs;
	struct sd_vd_pmtu pmtu[8];
	size_t npmtu;
	size_t server_bytes;          /* server stream bytes received in order */
	uint32_t t_end_us;
};

struct sd_vd_server {
	bool present;                 /* a report exists for this connection */
	uint32_t recvs[SD_VD_MAX_RECV];
	size_t nrecvs;
	size_t bytes_in;
	bool hello_complete;
	bool handshake_done;
	uint16_t group;
	bool hrr_sent;
	bool alert_sent;
	uint8_t alert_desc;
	bool rst_sent;                /* the server reset the connection itself */
	bool fin_sent;
	size_t bytes_out;
	char error[256];
};

/* A captured frame, decoded by the caller's choice of node and side. */
struct sd_vd_pkt {
	uint64_t ts_ns;
	int node;                     /* 0..nhops-1: hops; nhops: the server */
	int side;                     /* 0: toward the client, 1: toward the server */
	bool out;                     /* leaving the node (else arriving) */
	const uint8_t *frame;         /* an Ethernet frame (LINKTYPE_ETHERNET) */
	size_t len;
};

struct sd_vd_input {
	/* the path */
	size_t nhops;
	char hop_names[SD_VD_MAX_HOPS][32];
	unsigned link_mtu[SD_VD_MAX_HOPS + 1];   /* link i joins node i-1 (or client) and node i */
	/* the connection */
	int family;
	uint8_t client_addr[16], server_addr[16];
	uint16_t client_port, server_port;
	/* the client flight as sent, and its ClientHello for field names */
	const uint8_t *flight;
	size_t flight_len;
	const struct sd_hello *hello;     /* may be NULL */
	size_t hello_stream_offset;       /* offset of the hello message in the handshake stream (0: the first) */
	bool ipfrag;                      /* the client sent IP fragments on purpose */
	const struct sd_vd_client *client;
	const struct sd_vd_server *server;
	const struct sd_vd_pkt *pkts;
	size_t npkts;
	/* ICMP errors each hop's own filter dropped during the cell (nft
	 * counters of icmp-filter), which no capture can see. */
	uint32_t icmp_filtered[SD_VD_MAX_HOPS];
	/*
	 * 1-based hop whose program (an exec hop: a real proxy) terminates
	 * the client's TCP connection; 0 when the connection runs end to
	 * end. The client's packets end there (consumed, not dropped), what
	 * it sends the client is its own, hops beyond it carry another
	 * connection, and "delivered" counts what reached it. server is then
	 * expected not present.
	 */
	size_t proxy_hop;
};

struct sd_vd_hop {
	char name[32];
	unsigned mtu_in, mtu_out;         /* MTU of the links on its client and server side */
	/* client→server, then server→client */
	uint32_t pkts_in[2], pkts_out[2];
	uint64_t bytes_in[2], bytes_out[2];
	uint32_t drops[2];                /* packets in that never left */
	uint32_t oversize_drops;          /* client→server drops above mtu_out */
	uint32_t icmp_sent;               /* frag-needed / packet-too-big it emitted */
	uint32_t icmp_filtered;           /* of its own, dropped by its filter before leaving */
	uint32_t icmp_out;                /* of those, leaving toward the client */
	uint32_t frags_in, frags_out;
	uint32_t rst_injected, alerts_injected;
};

struct sd_verdict {
	enum sd_outcome outcome;
	char detail[512];                 /* one line of evidence for people */
	char breaking[48];                /* the hop, "server", "client" or "" */
	/* fragmentation */
	size_t segments, records, ip_fragments;
	/* truncation */
	size_t sent, delivered;           /* client stream bytes sent / delivered to the server */
	long long first_missing;          /* stream offset, -1 if none */
	char field[128];                  /* ClientHello field at first_missing */
	struct sd_vd_hop hops[SD_VD_MAX_HOPS];
	size_t nhops;
	size_t server_flight;             /* server→client stream bytes seen reaching the client */
	bool icmp_reached_client;
};

/* Judges one cell. Never fails: a harness failure becomes SD_ERROR with why. */
void sd_verdict_judge(const struct sd_vd_input *in, struct sd_verdict *v);

/* A ladder: one row per packet of the connection (a retransmission or a
 * duplicate is a row of its own), a column per link, showing where it was
 * seen and where it vanished. */
enum sd_ladder_at { SD_LADDER_NONE, SD_LADDER_SEEN, SD_LADDER_LOST };

#define SD_LADDER_MAX_ROWS 200

struct sd_ladder_row {
	uint64_t t_us;                            /* from the first packet */
	uint8_t dir;                              /* 0 client→server, 1 back */
	uint8_t at[SD_VD_MAX_HOPS + 1];           /* per link: enum sd_ladder_at */
	char what[120];
};

struct sd_ladder {
	size_t nlinks;                            /* link i enters node i: the hops, then the server */
	char link_name[SD_VD_MAX_HOPS + 1][32];
	unsigned link_mtu[SD_VD_MAX_HOPS + 1];
	struct sd_ladder_row *rows;               /* owned */
	size_t nrows;
	size_t more;                              /* rows beyond SD_LADDER_MAX_ROWS, left out */
};

/* Builds the ladder. -ENOMEM; an empty ladder when nothing was captured. */
int sd_verdict_ladder_build(const struct sd_vd_input *in, struct sd_ladder *l) SD_WUR;
void sd_ladder_free(struct sd_ladder *l);
/* For people: a header of link names and MTUs, then a line per row (at most
 * max_rows, then "... N more packets"). */
void sd_ladder_text(const struct sd_ladder *l, size_t max_rows, char *out, size_t n);
/* docs/matrix.md's "ladder" object. */
void sd_ladder_json(struct sd_json *j, const struct sd_ladder *l);
/* build + text (80 rows) + free. */
void sd_verdict_ladder(const struct sd_vd_input *in, char *out, size_t n);

/* The cell's verdict object fields (outcome, detail, hops, truncation ...)
 * into an open JSON object. */
void sd_verdict_json(struct sd_json *j, const struct sd_verdict *v);

#endif
