/* SPDX-License-Identifier: MIT */
/*
 * The server endpoint: a real OpenSSL TLS 1.3 server on kernel TCP, run as
 * one thread of the harness inside whatever network namespace the thread
 * that starts it is in. It serves connection after connection for the life
 * of a topology and keeps one report per connection — what the kernel
 * handed it, what OpenSSL parsed, what it negotiated and sent, how the
 * connection ended — keyed by the client's address and port, for the
 * verdict stage. Whether the server's flight reached the client is judged
 * from captures elsewhere; this says what the server saw and did.
 *
 * The node-pq modes put a real post-quantum server behind the same calls:
 * Node.js 24 (OpenSSL 3.5) as a child process in the namespace (peer.h),
 * whose reports say what node can tell and flag the rest as unknown.
 */
#ifndef SHAKEDOWN_ENDPOINT_H
#define SHAKEDOWN_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "shakedown/err.h"

struct sd_server;

enum sd_server_mode {
	/* Reads until the ClientHello is complete, as TLS requires. */
	SD_SERVER_OPENSSL,
	/*
	 * The server bug on tldr.fail's list: ONE recv() into a 16 KB buffer,
	 * those bytes to OpenSSL, and if the ClientHello is not complete the
	 * connection is reset (SO_LINGER 0). A complete hello goes on normally.
	 */
	SD_SERVER_SINGLE_READ,
	/*
	 * Node.js 24 / OpenSSL 3.5, groups "X25519MLKEM768:X25519:
	 * SecP256r1MLKEM768:SecP384r1MLKEM1024:MLKEM1024:P-256:P-384", one
	 * preference list in the server's order: of the groups the client
	 * sent a share for, the first in that list wins, without a
	 * HelloRetryRequest whenever the client sent a share for any of them
	 * (so pq-advertise-only gets X25519, no HRR). HRR only for a client
	 * with no usable share.
	 */
	SD_SERVER_NODE_PQ,
	/* Node.js, X25519MLKEM768 alone: a client that does not offer it gets
	 * a handshake_failure alert; one that offers it without a share, an HRR. */
	SD_SERVER_NODE_PQ_ONLY,
	/*
	 * Node.js, "X25519MLKEM768 / X25519:P-256:P-384": the hybrid in a tuple
	 * of its own ahead of the classical groups, the shape of OpenSSL 3.5's
	 * (and Node 24's) default list. A client that offers X25519MLKEM768
	 * but sent only a classical share first (pq-advertise-only) is sent a
	 * HelloRetryRequest for X25519MLKEM768; one that sent the hybrid share
	 * (chrome-pq) gets it at once; a classical client gets X25519.
	 */
	SD_SERVER_NODE_PQ_HRR,
	/*
	 * nginx (Debian's, on OpenSSL 3.0) serving TLS 1.3 with the lab
	 * certificate: a real web server's reads and buffering. It reports
	 * nothing per connection: the verdict works from the captures and the
	 * client's own TLS session. No key log (nginx has no hook for one).
	 */
	SD_SERVER_NGINX,
	/*
	 * The OpenSSL server with P-256 as its only group: every client that
	 * sent no P-256 key share but offers P-256 (Chromium, Firefox, curl,
	 * Node.js, the built-in profiles) is sent a HelloRetryRequest for it;
	 * one that does not offer P-256 gets a handshake_failure alert. The
	 * way to put real clients through a retry (hrr-intolerant paths).
	 */
	SD_SERVER_OPENSSL_P256,
};

/* True for the modes run by Node.js (peer.h). */
bool sd_server_mode_is_node(enum sd_server_mode mode);

/* The modes by name, for parsers, lists and help: NULL-terminated. */
struct sd_server_mode_info {
	const char *name;
	enum sd_server_mode mode;
	const char *help;          /* one line */
};
extern const struct sd_server_mode_info sd_server_modes[];

/* Largest chain_size accepted: the Certificate message must stay well
 * under its 2^24 limit (RFC 8446 §4.4.2) and under what clients accept. */
#define SD_SERVER_MAX_CHAIN (1u << 20)
/* Connections served at the same time; more wait in the listen backlog. */
#define SD_SERVER_MAX_CONNS 64

struct sd_server_cfg {
	int family;               /* AF_INET or AF_INET6; 0: from addr */
	const char *addr;         /* numeric bind address; NULL: the loopback
				   * of family (pass "0.0.0.0" / "::" for any) */
	uint16_t port;            /* 0: the kernel picks (see sd_server_port) */
	enum sd_server_mode mode;
	size_t chain_size;        /* target bytes of the server flight, ServerHello
				   * to Finished: padding certificates make it
				   * chain_size to chain_size + 8 for a client like
				   * the built-in profiles (see
				   * sd_server_flight_estimate); 0: a lone leaf */
	const char *keylog_path;  /* NULL: none; else NSS key log lines appended */
	unsigned idle_timeout_ms; /* per connection; 0: 5000 */
	unsigned max_reports;     /* reports kept, oldest dropped; 0: 1024 */
	/* Fault injection (in-process modes): the thread sleeps this long
	 * before each connection's first read, as a thread descheduled on a
	 * loaded machine would. 0: none; at most 5000. */
	unsigned stall_first_read_ms;
	/* node-pq modes only: */
	const char *node_path;    /* NULL: sd_peer_node_find() */
	char *err;                /* NULL, or one line on failure (errlen bytes) */
	size_t errlen;
};

/* How a connection ended: the first of these events wins. */
enum sd_conn_end {
	SD_END_OPEN = 0,     /* not ended yet */
	SD_END_CLIENT_FIN,   /* recv() saw end of stream first */
	SD_END_CLIENT_RST,   /* ECONNRESET (or EPIPE on send) first */
	SD_END_SERVER_FIN,   /* we shut our side first (after a failed handshake,
			      * the alert sent, we half-close and drain) */
	SD_END_SERVER_RST,   /* we reset (single-read gave up) */
	SD_END_TIMEOUT,      /* idle_timeout_ms without progress; we closed */
	SD_END_STOPPED,      /* sd_server_stop with the connection open */
	SD_END_ERROR,        /* another socket error, in end_errno */
};

#define SD_SERVER_MAX_READS 64
#define SD_SERVER_MAX_EXTS 64
#define SD_SERVER_MAX_GROUPS 32
#define SD_SERVER_MAX_SHARES 16

/*
 * One connection's report. Times are microseconds since the accept, 0 when
 * the event has not happened. Lists that overflow keep their first entries
 * and the full count (so n may exceed the array).
 */
struct sd_server_conn {
	uint64_t seq;             /* 0, 1, 2... in order of accept */
	int family;               /* of the listening socket */
	uint8_t addr[16];         /* client; IPv4 as ::ffff:a.b.c.d (RFC 4291 §2.5.5.2) */
	uint16_t port;            /* client, host order */
	struct timespec accepted; /* CLOCK_REALTIME, comparable with pcap stamps */

	/* Bytes as the kernel handed them: one entry per recv() that returned data. */
	uint32_t read_len[SD_SERVER_MAX_READS];
	uint32_t read_us[SD_SERVER_MAX_READS];
	size_t nreads;
	uint64_t bytes_in;

	/* The ClientHello, as OpenSSL parsed it (client_hello callback). */
	bool hello_complete;      /* OpenSSL had the whole first ClientHello */
	uint32_t hello_len;       /* that message, 4-byte header included */
	uint32_t hello2_len;      /* the second ClientHello after an HRR */
	unsigned hellos;          /* ClientHellos received (2 after an HRR) */
	uint16_t legacy_version;
	/* Extension types in wire order, GREASE and unknown ones included,
	 * from the bytes of the message OpenSSL received. */
	uint16_t ext_types[SD_SERVER_MAX_EXTS];
	size_t next;
	/* The ones OpenSSL 3.0 recognised (SSL_client_hello_get1_extensions_present),
	 * wire order: GREASE, ECH, ALPS, compress_certificate... are not among them. */
	uint16_t ossl_ext_types[SD_SERVER_MAX_EXTS];
	size_t nossl_ext;
	uint16_t groups[SD_SERVER_MAX_GROUPS];    /* supported_groups, wire order */
	size_t ngroups;
	uint16_t share_groups[SD_SERVER_MAX_SHARES]; /* key_share entries, wire order */
	size_t nshares;
	/* Single-read give-up: the first read had hello_got of the hello_need
	 * stream bytes the ClientHello takes (0: its length was not yet known;
	 * a lower bound when the rest spans several records). */
	uint32_t hello_got, hello_need;

	/* What the server did. */
	bool hrr;                 /* a HelloRetryRequest was sent */
	uint16_t hrr_group;       /* the group it asked for (IANA) */
	uint16_t group;           /* negotiated, IANA code point; 0: none yet */
	uint16_t cipher;          /* IANA code point; 0: none yet */
	bool flight_sent;         /* ServerHello..Finished all handed to the kernel */
	bool handshake_done;
	bool failed;              /* the handshake failed (see error, alert_sent) */
	bool alert_sent, alert_recv;  /* the first one each way */
	uint8_t alert_sent_level, alert_sent_desc;
	uint8_t alert_recv_level, alert_recv_desc;
	char error[256];          /* OpenSSL's error string, or the give-up reason */
	uint64_t bytes_out;       /* everything written to the socket: flights,
				   * alerts, the NewSessionTicket after the
				   * client's Finished, close_notify */
	uint32_t hrr_bytes;       /* of which the HelloRetryRequest flight */
	uint32_t flight_bytes;    /* of which ServerHello..Finished */
	uint64_t app_bytes_in;    /* application data decrypted after the handshake */

	uint32_t first_byte_us, hello_us, flight_us, handshake_us, end_us;
	enum sd_conn_end end;
	int end_errno;            /* for SD_END_ERROR */
	/*
	 * The server will not change the TLS outcome any more: the handshake
	 * completed or failed and everything it wrote is with the kernel, or
	 * the connection is over. end may still move from SD_END_OPEN later
	 * (the client closes after a completed handshake); closed says when
	 * the socket is gone and nothing will change.
	 */
	bool final;
	bool closed;
	/* What this endpoint could not observe (SD_CONN_UNKNOWN_*): those
	 * fields are 0 or empty, not "none". */
	uint32_t unknown;
};

/* ossl_ext_types: only OpenSSL 3.0's own callback knows them. */
#define SD_CONN_UNKNOWN_OSSL_EXTS  0x1u
/* Alerts under handshake or application keys: alert_sent and alert_recv
 * hold only cleartext ones (those before the ServerHello). */
#define SD_CONN_UNKNOWN_ENC_ALERTS 0x2u
/* addr and port: reset before node could ask for them (Node.js learns its
 * peer from getpeername(), which fails on a reset socket). sd_server_report
 * then attributes it to the query it must belong to, filling both in. */
#define SD_CONN_UNKNOWN_PEER       0x4u

/*
 * Creates the key, the certificate and the padded chain, binds and listens
 * (so the caller may connect as soon as this returns) in the calling
 * thread's network namespace, and starts the server thread. On success
 * *out owns everything until sd_server_stop. Errors: -SD_EVALUE (bad mode,
 * family, or chain_size above SD_SERVER_MAX_CHAIN), -SD_ESYNTAX (addr is
 * not a numeric address of family), -SD_ECRYPTO, -errno (bind, keylog
 * open, thread creation, ...). node-pq modes also: -ENOENT (no node
 * binary), -ECHILD (node failed to start), -ETIMEDOUT; cfg->err says more.
 */
int sd_server_start(const struct sd_server_cfg *cfg, struct sd_server **out) SD_WUR;

/* Wakes the server thread, joins it, closes every socket and frees srv. NULL is fine. */
void sd_server_stop(struct sd_server *srv);

/* The port it listens on (host order): useful with cfg.port 0. */
uint16_t sd_server_port(const struct sd_server *srv);

/*
 * Server flight size measured at start with an in-memory client like the
 * built-in profiles (X25519, TLS_AES_128_GCM_SHA256, legacy session id):
 * what chain_size was steered to. Real clients differ by a few bytes.
 */
size_t sd_server_flight_estimate(const struct sd_server *srv);

/*
 * Copies the latest connection from client_addr (16 bytes as in
 * sd_server_conn.addr; NULL: any) and client_port (0: any) into *out.
 * wait_ms 0 takes the report as it stands: returns 1 when final, 0 when
 * not. Otherwise waits up to wait_ms for it to exist and be final: returns
 * 1, or -ETIMEDOUT with *out holding the report so far. -ENOENT when no
 * such connection was seen (*out untouched); -ESRCH when it is not final
 * and will never be: a node-pq server process exited. Thread-safe.
 *
 * node-pq modes: a query (address and port given) that matches no report
 * takes the newest report with SD_CONN_UNKNOWN_PEER newer than every
 * report a query has matched so far, and names it with the query's address
 * and port. Right when connections are asked for one at a time, each once
 * it is over, as the lab's cells do.
 */
int sd_server_report(struct sd_server *srv, const uint8_t client_addr[16],
		     uint16_t client_port, unsigned wait_ms,
		     struct sd_server_conn *out) SD_WUR;

/* Whether the server's own process (nginx, node) has died by itself; an
 * in-process server never does. Reports then answer -ESRCH. */
bool sd_server_exited(struct sd_server *srv);

/*
 * The same by accept order: take seq = sd_server_next_seq() before a cell,
 * then ask for that seq to get the cell's connection whatever its port
 * (real clients pick their own). -ENOENT also when its report was dropped.
 */
uint64_t sd_server_next_seq(struct sd_server *srv);
int sd_server_report_seq(struct sd_server *srv, uint64_t seq, unsigned wait_ms,
			 struct sd_server_conn *out) SD_WUR;

/* IPv4 address (network order bytes) as the 16-byte key the reports use. */
void sd_server_addr_v4(const uint8_t v4[4], uint8_t out[16]);

/* "openssl", "single-read", "node-pq", "node-pq-only", "node-pq-hrr";
 * -SD_EUNKNOWN for another name. */
int sd_server_mode_parse(const char *name, enum sd_server_mode *mode) SD_WUR;
const char *sd_server_mode_name(enum sd_server_mode mode);
/* "openssl, single-read, node-pq, node-pq-only, node-pq-hrr": for messages. */
const char *sd_server_mode_names(void);
/* "open", "client-fin", "client-rst", "server-fin", "server-rst", "timeout",
 * "stopped", "error". */
const char *sd_server_end_name(enum sd_conn_end end);

/*
 * OpenSSL 3.0's SSL_get_negotiated_group() value (a NID for groups it
 * knows, TLSEXT_nid_unknown | id for others) as the IANA code point; 0
 * when it cannot be mapped.
 */
uint16_t sd_server_group_from_nid(int nid);

#endif
