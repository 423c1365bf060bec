/* SPDX-License-Identifier: MIT */
/*
 * The TLS 1.3 server endpoint: OpenSSL driven through memory BIOs over
 * non-blocking kernel TCP, one thread, one report per connection.
 *
 * The socket I/O is ours, not OpenSSL's, so that every recv() is one
 * kernel hand-off recorded as it came (its size is what the path and the
 * client's segmentation made of the ClientHello), so that the single-read
 * bug can be reproduced byte for byte, and so that every byte the server
 * writes is counted. Connections are multiplexed in one poll() loop: a
 * cell whose client stalls never delays the next cell's connection.
 *
 * The node-pq modes keep only the report ring and the lab certificate from
 * here: a Node.js process (peer.c) serves instead of the thread, and its
 * reports land in the same ring.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <net/if.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <jansson.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/tls1.h>

#include "shakedown/buf.h"
#include "shakedown/cursor.h"
#include "shakedown/endpoint.h"
#include "shakedown/hello.h"
#include "shakedown/peer.h"
#include "shakedown/record.h"
#include "shakedown/tls.h"
#include "shakedown/tmpdir.h"

#include "cert.h"

#define READ_BUF (64 * 1024)
/* The buggy servers' buffer (tldr.fail): one read of at most 16 KB. */
#define SINGLE_READ_BUF 16384
#define DEFAULT_IDLE_MS 5000
#define DEFAULT_REPORTS 1024
#define ACCEPT_BACKOFF_NS (100 * 1000000ull)
/* RFC 8446 §5.2: each protected record costs its 5-byte header, the inner
 * content type byte and a 16-byte AEAD tag (all TLS 1.3 suites). */
#define RECORD_OVERHEAD 22
/* In the Certificate message each CertificateEntry adds a 3-byte length
 * and a 2-byte (empty) extensions vector to the DER (RFC 8446 §4.4.2). */
#define CERT_ENTRY_OVERHEAD 5
#define MAX_PADS ((SD_SERVER_MAX_CHAIN / SD_CERT_PAD_MAX) + 2)
#define NO_SEQ UINT64_MAX

struct conn {
	struct sd_server *srv;
	int fd;
	SSL *ssl;
	BIO *rbio, *wbio;        /* owned by ssl */
	struct sd_buf outq;      /* written by OpenSSL, not yet by the kernel */
	size_t out_off;
	uint64_t t0_ns, last_ns; /* CLOCK_MONOTONIC: accept, last progress */
	bool hello_parsed;       /* client_hello callback ran once */
	bool sh_written;         /* the real ServerHello (not an HRR) is out */
	bool want_shut, wr_shut, rd_eof, dead;
	bool stalled;            /* stall_first_read_ms done */
	struct sd_server_conn rep;
};

struct sd_server {
	enum sd_server_mode mode;
	unsigned idle_ms;
	unsigned stall_ms;          /* cfg.stall_first_read_ms */
	int lfd, evfd, keylog_fd;
	uint16_t port;
	SSL_CTX *ctx;
	size_t flight_estimate;

	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool locks_ready;
	/* Under lock: the report ring (slot seq % cap) and the thread's state. */
	struct sd_server_conn *ring;
	size_t cap;
	uint64_t next_seq;
	bool done;
	bool stopping;           /* sd_server_stop has begun */
	bool peer_dead;          /* the node process exited on its own */
	bool matched_any;        /* a query matched a report by address and port, */
	uint64_t matched_max;    /* the newest so far */

	struct sd_peer *peer;    /* node-pq modes: the process, instead of the thread */
	struct sd_proc *nginx;   /* nginx mode: the process */
	char nginx_dir[64];      /* its temporary prefix (config, certificate, logs) */

	/* The server thread's own. */
	struct conn *conns[SD_SERVER_MAX_CONNS];
	size_t nconns;
	uint64_t accept_after_ns;
	uint8_t rbuf[READ_BUF];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Microseconds since the accept; never 0, which means "not yet". */
static uint32_t since_us(const struct conn *c)
{
	uint64_t us = (now_ns() - c->t0_ns) / 1000;

	if (us == 0)
		return 1;
	return us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

uint16_t sd_server_group_from_nid(int nid)
{
	/* OpenSSL 3.0 tls1_group_id2nid(): groups outside its table come back
	 * as TLSEXT_nid_unknown | code point. */
	if (nid & TLSEXT_nid_unknown)
		return (uint16_t)(nid & 0xffff);
	switch (nid) {
	case NID_X9_62_prime192v1: return 0x0013;
	case NID_secp224r1: return 0x0015;
	case NID_secp256k1: return 0x0016;
	case NID_X9_62_prime256v1: return SD_GROUP_SECP256R1;
	case NID_secp384r1: return SD_GROUP_SECP384R1;
	case NID_secp521r1: return SD_GROUP_SECP521R1;
	case NID_brainpoolP256r1: return 0x001a;
	case NID_brainpoolP384r1: return 0x001b;
	case NID_brainpoolP512r1: return 0x001c;
	case NID_X25519: return SD_GROUP_X25519;
	case NID_X448: return SD_GROUP_X448;
	case NID_ffdhe2048: return SD_GROUP_FFDHE2048;
	case NID_ffdhe3072: return SD_GROUP_FFDHE3072;
	case NID_ffdhe4096: return SD_GROUP_FFDHE4096;
	case NID_ffdhe6144: return SD_GROUP_FFDHE6144;
	case NID_ffdhe8192: return SD_GROUP_FFDHE8192;
	default: return 0;
	}
}

void sd_server_addr_v4(const uint8_t v4[4], uint8_t out[16])
{
	memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	memcpy(out + 12, v4, 4);
}

const struct sd_server_mode_info sd_server_modes[] = {
	{ "openssl", SD_SERVER_OPENSSL, "OpenSSL 3.0 TLS 1.3 server on kernel TCP (default)" },
	{ "single-read", SD_SERVER_SINGLE_READ,
	  "parses the ClientHello from its first recv() only, then resets (tldr.fail's server bug)" },
	{ "node-pq", SD_SERVER_NODE_PQ,
	  "Node.js 24 / OpenSSL 3.5: X25519MLKEM768 first, then X25519 (one list: no HRR when a share fits)" },
	{ "node-pq-only", SD_SERVER_NODE_PQ_ONLY,
	  "Node.js 24 / OpenSSL 3.5: X25519MLKEM768 only (a classical client gets handshake_failure)" },
	{ "node-pq-hrr", SD_SERVER_NODE_PQ_HRR,
	  "Node.js 24 / OpenSSL 3.5: X25519MLKEM768 / X25519 tuples (HRR to a client that sent only X25519)" },
	{ "nginx", SD_SERVER_NGINX,
	  "nginx (Debian, OpenSSL 3.0) TLS 1.3 web server with the lab certificate; no per-connection report" },
	{ "openssl-p256", SD_SERVER_OPENSSL_P256,
	  "OpenSSL 3.0 with P-256 only: a HelloRetryRequest to every client that sent no P-256 share" },
	{ NULL, SD_SERVER_OPENSSL, NULL },
};

int sd_server_mode_parse(const char *name, enum sd_server_mode *mode)
{
	for (const struct sd_server_mode_info *m = sd_server_modes; m->name; m++) {
		if (strcmp(name, m->name) == 0) {
			*mode = m->mode;
			return 0;
		}
	}
	return -SD_EUNKNOWN;
}

const char *sd_server_mode_name(enum sd_server_mode mode)
{
	for (const struct sd_server_mode_info *m = sd_server_modes; m->name; m++)
		if (m->mode == mode)
			return m->name;
	return "?";
}

const char *sd_server_mode_names(void)
{
	return "openssl, single-read, node-pq, node-pq-only, node-pq-hrr, nginx, openssl-p256";
}

bool sd_server_mode_is_node(enum sd_server_mode mode)
{
	return mode == SD_SERVER_NODE_PQ || mode == SD_SERVER_NODE_PQ_ONLY ||
	       mode == SD_SERVER_NODE_PQ_HRR;
}

/*
 * OpenSSL 3.5 group lists for the node modes (SSL_CTX_set1_groups_list
 * syntax through node's ecdhCurve): "/" separates tuples. With server
 * preference on, OpenSSL takes the first tuple holding a group the client
 * sent a share for, and in it the first such group in this order; only
 * when no tuple has one does it send a HelloRetryRequest, for the first
 * mutually supported group (verified with node v24.21.0 / OpenSSL 3.5.8).
 */
static const char *node_groups(enum sd_server_mode mode)
{
	switch (mode) {
	case SD_SERVER_NODE_PQ:
		return "X25519MLKEM768:X25519:SecP256r1MLKEM768:SecP384r1MLKEM1024:MLKEM1024:P-256:P-384";
	case SD_SERVER_NODE_PQ_ONLY:
		return "X25519MLKEM768";
	case SD_SERVER_NODE_PQ_HRR:
		return "X25519MLKEM768/X25519:P-256:P-384";
	default:
		return NULL;
	}
}

const char *sd_server_end_name(enum sd_conn_end end)
{
	switch (end) {
	case SD_END_OPEN: return "open";
	case SD_END_CLIENT_FIN: return "client-fin";
	case SD_END_CLIENT_RST: return "client-rst";
	case SD_END_SERVER_FIN: return "server-fin";
	case SD_END_SERVER_RST: return "server-rst";
	case SD_END_TIMEOUT: return "timeout";
	case SD_END_STOPPED: return "stopped";
	case SD_END_ERROR: return "error";
	}
	return "?";
}

/* ---- reports ------------------------------------------------------------ */

static bool outq_empty(const struct conn *c)
{
	return c->out_off == c->outq.len;
}

/* Copies the connection's report into the ring for readers. */
static void publish(struct conn *c)
{
	struct sd_server *srv = c->srv;
	struct sd_server_conn *slot;

	c->rep.final = c->rep.closed ||
		       ((c->rep.handshake_done || c->rep.failed) && outq_empty(c));
	pthread_mutex_lock(&srv->lock);
	slot = &srv->ring[c->rep.seq % srv->cap];
	if (slot->seq == c->rep.seq)
		*slot = c->rep;
	pthread_cond_broadcast(&srv->cond);
	pthread_mutex_unlock(&srv->lock);
}

static void set_end(struct conn *c, enum sd_conn_end end, int err)
{
	if (c->rep.end != SD_END_OPEN)
		return;
	c->rep.end = end;
	c->rep.end_errno = err;
	c->rep.end_us = since_us(c);
}

/* Closes the socket; with rst, abortively (SO_LINGER 0 sends a RST). */
static void conn_close(struct conn *c, bool rst)
{
	if (c->dead)
		return;
	if (rst) {
		struct linger l = { .l_onoff = 1, .l_linger = 0 };

		(void)setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	}
	close(c->fd);
	c->fd = -1;
	c->dead = true;
	c->rep.closed = true;
	if (!c->rep.end_us)
		c->rep.end_us = since_us(c);
}

static void conn_free(struct conn *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	SSL_free(c->ssl);
	sd_buf_free(&c->outq);
	free(c);
}

/* ---- OpenSSL callbacks --------------------------------------------------- */

static struct conn *conn_of(const SSL *ssl)
{
	return SSL_get_app_data(ssl);
}

/* RFC 8446 §4.2.7: NamedGroup named_group_list<2..2^16-1>. */
static void parse_groups(const unsigned char *p, size_t len, struct sd_server_conn *r)
{
	struct sd_cursor c, v;
	uint16_t g;

	sd_cursor_init(&c, p, len);
	if (sd_cursor_vec(&c, 2, &v) < 0)
		return;
	while (sd_cursor_u16(&v, &g) == 0) {
		if (r->ngroups < SD_SERVER_MAX_GROUPS)
			r->groups[r->ngroups] = g;
		r->ngroups++;
	}
}

/* RFC 8446 §4.2.8: KeyShareEntry client_shares<0..2^16-1>, each a group
 * and opaque key_exchange<1..2^16-1>. */
static void parse_shares(const unsigned char *p, size_t len, struct sd_server_conn *r)
{
	struct sd_cursor c, v, k;
	uint16_t g;

	sd_cursor_init(&c, p, len);
	if (sd_cursor_vec(&c, 2, &v) < 0)
		return;
	while (sd_cursor_u16(&v, &g) == 0 && sd_cursor_vec(&v, 2, &k) == 0) {
		if (r->nshares < SD_SERVER_MAX_SHARES)
			r->share_groups[r->nshares] = g;
		r->nshares++;
	}
}

/*
 * Extension types of a ClientHello message (header included) in wire
 * order, RFC 8446 §4.1.2: legacy_version, random, legacy_session_id<0..32>,
 * cipher_suites<2..2^16-2>, legacy_compression_methods<1..2^8-1>,
 * extensions<8..2^16-1> of type and extension_data<0..2^16-1>. Only the
 * types are wanted, so nothing else is judged: OpenSSL has done that.
 */
static void parse_ext_types(const uint8_t *msg, size_t len, struct sd_server_conn *r)
{
	struct sd_cursor c, body, v, exts;
	uint32_t body_len;
	uint16_t type;

	sd_cursor_init(&c, msg, len);
	if (sd_cursor_skip(&c, 1) < 0 || sd_cursor_u24(&c, &body_len) < 0 ||
	    sd_cursor_sub(&c, body_len, &body) < 0 || sd_cursor_skip(&body, 2 + 32) < 0 ||
	    sd_cursor_vec(&body, 1, &v) < 0 || sd_cursor_vec(&body, 2, &v) < 0 ||
	    sd_cursor_vec(&body, 1, &v) < 0 || sd_cursor_vec(&body, 2, &exts) < 0)
		return;
	r->next = 0;
	while (sd_cursor_u16(&exts, &type) == 0 && sd_cursor_vec(&exts, 2, &v) == 0) {
		if (r->next < SD_SERVER_MAX_EXTS)
			r->ext_types[r->next] = type;
		r->next++;
	}
}

/* Runs once OpenSSL holds a whole ClientHello, before it acts on it. */
static int hello_cb(SSL *ssl, int *alert, void *arg)
{
	struct conn *c = conn_of(ssl);
	struct sd_server_conn *r;
	const unsigned char *p;
	size_t len, n = 0;
	int *exts = NULL;

	(void)alert;
	(void)arg;
	if (!c || c->hello_parsed)
		return SSL_CLIENT_HELLO_SUCCESS;
	r = &c->rep;
	c->hello_parsed = true;
	r->hello_complete = true;
	r->hello_us = since_us(c);
	r->legacy_version = (uint16_t)SSL_client_hello_get0_legacy_version(ssl);
	if (SSL_client_hello_get1_extensions_present(ssl, &exts, &n) == 1) {
		for (size_t i = 0; i < n && i < SD_SERVER_MAX_EXTS; i++)
			r->ossl_ext_types[i] = (uint16_t)exts[i];
		r->nossl_ext = n;
		OPENSSL_free(exts);
	}
	if (SSL_client_hello_get0_ext(ssl, SD_EXT_SUPPORTED_GROUPS, &p, &len) == 1)
		parse_groups(p, len, r);
	if (SSL_client_hello_get0_ext(ssl, SD_EXT_KEY_SHARE, &p, &len) == 1)
		parse_shares(p, len, r);
	return SSL_CLIENT_HELLO_SUCCESS;
}

/* Handshake messages in and out, whole, header included. */
static void msg_cb(int write_p, int version, int content_type, const void *buf, size_t len,
		   SSL *ssl, void *arg)
{
	struct conn *c = conn_of(ssl);
	const uint8_t *m = buf;

	(void)version;
	(void)arg;
	if (!c || content_type != SSL3_RT_HANDSHAKE || len < 4)
		return;
	if (!write_p && m[0] == SD_HS_CLIENT_HELLO) {
		c->rep.hellos++;
		if (c->rep.hellos == 1) {
			c->rep.hello_len = (uint32_t)len;
			parse_ext_types(m, len, &c->rep);
		} else if (c->rep.hellos == 2)
			c->rep.hello2_len = (uint32_t)len;
	} else if (write_p && m[0] == SD_HS_SERVER_HELLO) {
		/* RFC 8446 §4.1.3: an HRR is a ServerHello with the special
		 * random, after the header (4) and legacy_version (2). */
		if (len >= 38 && memcmp(m + 6, sd_hrr_random, 32) == 0) {
			struct sd_server_hello sh;

			c->rep.hrr = true;
			if (sd_server_hello_parse(m, len, &sh) == 0 && sh.has_group)
				c->rep.hrr_group = sh.group;
		} else {
			c->sh_written = true;
			c->rep.group = sd_server_group_from_nid(SSL_get_negotiated_group(ssl));
		}
	}
}

/* RFC 8446 §6: alerts are level then description; OpenSSL passes them as
 * (level << 8) | description. */
static void info_cb(const SSL *ssl, int where, int ret)
{
	struct conn *c = conn_of(ssl);
	uint8_t level = (uint8_t)(ret >> 8), desc = (uint8_t)ret;

	if (!c || !(where & SSL_CB_ALERT))
		return;
	if (where & SSL_CB_WRITE) {
		if (!c->rep.alert_sent) {
			c->rep.alert_sent = true;
			c->rep.alert_sent_level = level;
			c->rep.alert_sent_desc = desc;
		}
	} else if (!c->rep.alert_recv) {
		c->rep.alert_recv = true;
		c->rep.alert_recv_level = level;
		c->rep.alert_recv_desc = desc;
	}
}

/* NSS key log lines: one writev() per line on an O_APPEND file, so lines
 * from several servers or threads never interleave. */
static void keylog_cb(const SSL *ssl, const char *line)
{
	struct sd_server *srv = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	struct iovec iov[2] = {
		{ .iov_base = (void *)(uintptr_t)line, .iov_len = strlen(line) },
		{ .iov_base = (void *)(uintptr_t)"\n", .iov_len = 1 },
	};
	ssize_t n;

	if (!srv || srv->keylog_fd < 0)
		return;
	n = writev(srv->keylog_fd, iov, 2);
	(void)n;
}

/* ---- one connection ------------------------------------------------------ */

/* Moves what OpenSSL wrote into the send queue, attributing the bytes. */
static int drain_wbio(struct conn *c)
{
	size_t pending;

	while ((pending = BIO_ctrl_pending(c->wbio)) > 0) {
		uint8_t *p;
		int n;

		if (pending > INT_MAX)
			pending = INT_MAX;
		p = sd_buf_reserve(&c->outq, pending);
		if (!p)
			return sd_buf_error(&c->outq);
		n = BIO_read(c->wbio, p, (int)pending);
		if (n <= 0) {
			c->outq.len -= pending;
			return -SD_ECRYPTO;
		}
		c->outq.len -= pending - (size_t)n;
		if (c->rep.handshake_done || c->rep.failed)
			continue;
		if (c->sh_written)
			c->rep.flight_bytes += (uint32_t)n;
		else if (c->rep.hrr)
			c->rep.hrr_bytes += (uint32_t)n;
	}
	return 0;
}

/* Hands the send queue to the kernel as far as it takes it. */
static void flush(struct conn *c)
{
	while (!c->dead && !outq_empty(c)) {
		ssize_t n = send(c->fd, c->outq.data + c->out_off, c->outq.len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			set_end(c, errno == EPIPE || errno == ECONNRESET ? SD_END_CLIENT_RST :
					SD_END_ERROR, errno);
			conn_close(c, false);
			return;
		}
		c->out_off += (size_t)n;
		c->rep.bytes_out += (uint64_t)n;
		c->last_ns = now_ns();
	}
	if (c->dead)
		return;
	sd_buf_reset(&c->outq);
	c->out_off = 0;
	if (c->sh_written && !c->rep.flight_sent) {
		c->rep.flight_sent = true;
		c->rep.flight_us = since_us(c);
	}
}

static void set_error(struct conn *c, const char *fallback)
{
	unsigned long e = ERR_get_error();

	if (c->rep.error[0])
		return;
	if (e)
		ERR_error_string_n(e, c->rep.error, sizeof(c->rep.error));
	else
		snprintf(c->rep.error, sizeof(c->rep.error), "%s", fallback);
}

/*
 * How far a stream prefix gets into the first ClientHello (RFC 8446 §5.1
 * records carrying a §4 handshake message): the stream length the whole
 * message takes, 0 while the prefix does not show the message length yet.
 * Exact when the rest fits the record already begun; otherwise a lower
 * bound that assumes full 2^14-byte records for the rest.
 */
static uint32_t hello_need(const uint8_t *p, size_t n)
{
	struct sd_cursor c;
	uint8_t hdr[4];
	size_t have = 0, rec_left = 0, hdr_part = 0, total, missing, records, need;

	sd_cursor_init(&c, p, n);
	while (sd_cursor_left(&c) > 0) {
		const uint8_t *frag;
		uint16_t version, len;
		uint8_t type;
		size_t avail;

		if (sd_cursor_left(&c) < SD_RECORD_HDR) {
			hdr_part = sd_cursor_left(&c);
			break;
		}
		if (sd_cursor_u8(&c, &type) < 0 || sd_cursor_u16(&c, &version) < 0 ||
		    sd_cursor_u16(&c, &len) < 0 || type != SD_CT_HANDSHAKE)
			return 0;
		avail = len < sd_cursor_left(&c) ? len : sd_cursor_left(&c);
		if (sd_cursor_bytes(&c, avail, &frag) < 0)
			return 0;
		for (size_t i = 0; i < avail && have + i < sizeof(hdr); i++)
			hdr[have + i] = frag[i];
		have += avail;
		if (avail < len) {
			rec_left = len - avail;
			break;
		}
	}
	if (have < sizeof(hdr))
		return 0;
	total = 4 + ((size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3]);
	if (have >= total)
		return (uint32_t)n;
	missing = total - have;
	if (rec_left >= missing) {
		need = n + missing;
	} else {
		missing -= rec_left;
		records = (missing + SD_RECORD_PLAIN_MAX - 1) / SD_RECORD_PLAIN_MAX;
		need = n + rec_left + missing + records * SD_RECORD_HDR - hdr_part;
	}
	return need > UINT32_MAX ? UINT32_MAX : (uint32_t)need;
}

/* The single-read server's give-up: the first read did not hold the hello. */
static void give_up(struct conn *c, const uint8_t *p, size_t n)
{
	struct sd_server_conn *r = &c->rep;

	r->hello_got = (uint32_t)n;
	r->hello_need = hello_need(p, n);
	r->failed = true;
	if (r->hello_need)
		snprintf(r->error, sizeof(r->error),
			 "ClientHello incomplete after first read: got %u of %u bytes",
			 r->hello_got, r->hello_need);
	else
		snprintf(r->error, sizeof(r->error),
			 "ClientHello incomplete after first read: got %u bytes, length unknown",
			 r->hello_got);
	set_end(c, SD_END_SERVER_RST, 0);
	conn_close(c, true);
}

/* Application data after the handshake is read and counted, nothing more. */
static void app_read(struct conn *c)
{
	for (;;) {
		int n = SSL_read(c->ssl, c->srv->rbuf, sizeof(c->srv->rbuf));

		if (n > 0) {
			c->rep.app_bytes_in += (uint64_t)n;
			continue;
		}
		switch (SSL_get_error(c->ssl, n)) {
		case SSL_ERROR_WANT_READ:
			return;
		case SSL_ERROR_ZERO_RETURN:
			/* close_notify (RFC 8446 §6.1): answer in kind, and leave
			 * the TCP close to the client, whose move it is. */
			if (!(SSL_get_shutdown(c->ssl) & SSL_SENT_SHUTDOWN))
				(void)SSL_shutdown(c->ssl);
			return;
		default:
			set_error(c, "SSL_read failed");
			c->want_shut = true;
			return;
		}
	}
}

/* Feeds n received bytes to OpenSSL and lets it act on them. */
static void feed(struct conn *c, const uint8_t *p, size_t n, bool single_first)
{
	int ret;

	ERR_clear_error();
	if (BIO_write(c->rbio, p, (int)n) != (int)n) {
		set_error(c, "out of memory feeding OpenSSL");
		c->rep.failed = !c->rep.handshake_done;
		c->want_shut = true;
		return;
	}
	if (!c->rep.handshake_done) {
		ret = SSL_do_handshake(c->ssl);
		if (ret == 1) {
			c->rep.handshake_done = true;
			c->rep.handshake_us = since_us(c);
			c->rep.cipher = SSL_CIPHER_get_protocol_id(SSL_get_current_cipher(c->ssl));
			c->rep.group = sd_server_group_from_nid(SSL_get_negotiated_group(c->ssl));
		} else if (SSL_get_error(c->ssl, ret) == SSL_ERROR_WANT_READ) {
			if (single_first && !c->rep.hello_complete) {
				give_up(c, p, n);
				return;
			}
		} else {
			/* Whatever alert OpenSSL chose is in wbio now. */
			c->rep.failed = true;
			set_error(c, "handshake failed");
			c->want_shut = true;
		}
	}
	if (c->rep.handshake_done && !c->want_shut)
		app_read(c);
	if (drain_wbio(c) < 0) {
		set_error(c, "out of memory queueing output");
		c->want_shut = true;
	}
	ERR_clear_error();
}

static void conn_read(struct conn *c)
{
	struct sd_server_conn *r = &c->rep;
	bool single_first = c->srv->mode == SD_SERVER_SINGLE_READ && r->nreads == 0 &&
			    !r->hello_complete;
	size_t size = single_first ? SINGLE_READ_BUF : sizeof(c->srv->rbuf);
	ssize_t n;

	if (c->srv->stall_ms && r->nreads == 0 && !c->stalled) {
		struct timespec ts = { c->srv->stall_ms / 1000, (long)(c->srv->stall_ms % 1000) * 1000000L };

		c->stalled = true;      /* once: then read what came meanwhile */
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}

	do
		n = recv(c->fd, c->srv->rbuf, size, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		set_end(c, errno == ECONNRESET ? SD_END_CLIENT_RST : SD_END_ERROR, errno);
		conn_close(c, false);
		return;
	}
	if (n == 0) {
		c->rd_eof = true;
		set_end(c, SD_END_CLIENT_FIN, 0);
		return;
	}
	c->last_ns = now_ns();
	if (r->nreads < SD_SERVER_MAX_READS) {
		r->read_len[r->nreads] = (uint32_t)n;
		r->read_us[r->nreads] = since_us(c);
	}
	if (!r->first_byte_us)
		r->first_byte_us = since_us(c);
	r->nreads++;
	r->bytes_in += (uint64_t)n;
	if (c->want_shut)
		return; /* draining after a failure: counted, not parsed */
	feed(c, c->srv->rbuf, (size_t)n, single_first);
}

/* After any event: send what is queued, then shut or close as due. */
static void conn_step(struct conn *c)
{
	if (!c->dead)
		flush(c);
	if (!c->dead && outq_empty(c)) {
		if (c->want_shut && !c->wr_shut) {
			set_end(c, SD_END_SERVER_FIN, 0);
			(void)shutdown(c->fd, SHUT_WR);
			c->wr_shut = true;
		}
		if (c->rd_eof)
			conn_close(c, false);
	}
	publish(c);
}

static int conn_new(struct sd_server *srv, int fd, const struct sockaddr_storage *ss)
{
	struct conn *c = calloc(1, sizeof(*c));
	int one = 1, ret = -ENOMEM;

	if (!c)
		goto fail;
	c->srv = srv;
	c->fd = fd;
	c->t0_ns = c->last_ns = now_ns();
	sd_buf_init(&c->outq);
	/* The flight is one write; do not hold its last segment back for an ACK. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ret = -SD_ECRYPTO;
	c->ssl = SSL_new(srv->ctx);
	c->rbio = BIO_new(BIO_s_mem());
	c->wbio = BIO_new(BIO_s_mem());
	if (!c->ssl || !c->rbio || !c->wbio) {
		BIO_free(c->rbio);
		BIO_free(c->wbio);
		goto fail;
	}
	/* An empty rbio means "wait for more", not end of stream. */
	BIO_set_mem_eof_return(c->rbio, -1);
	SSL_set_bio(c->ssl, c->rbio, c->wbio);
	SSL_set_accept_state(c->ssl);
	SSL_set_app_data(c->ssl, c);

	clock_gettime(CLOCK_REALTIME, &c->rep.accepted);
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		memcpy(c->rep.addr, &s6->sin6_addr, 16);
		c->rep.port = ntohs(s6->sin6_port);
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		sd_server_addr_v4((const uint8_t *)&s4->sin_addr, c->rep.addr);
		c->rep.port = ntohs(s4->sin_port);
	}
	c->rep.family = ss->ss_family;

	pthread_mutex_lock(&srv->lock);
	c->rep.seq = srv->next_seq++;
	srv->ring[c->rep.seq % srv->cap] = c->rep;
	pthread_cond_broadcast(&srv->cond);
	pthread_mutex_unlock(&srv->lock);
	srv->conns[srv->nconns++] = c;
	return 0;
fail:
	if (c) {
		c->fd = -1;
		conn_free(c);
	}
	return ret;
}

static void accept_all(struct sd_server *srv)
{
	while (srv->nconns < SD_SERVER_MAX_CONNS) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(srv->lfd, (struct sockaddr *)&ss, &sl,
				 SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM)
				srv->accept_after_ns = now_ns() + ACCEPT_BACKOFF_NS;
			return;
		}
		if (conn_new(srv, fd, &ss) < 0)
			close(fd);
	}
}

/* ---- the thread ---------------------------------------------------------- */

static void *server_main(void *arg)
{
	struct sd_server *srv = arg;
	struct pollfd pfd[2 + SD_SERVER_MAX_CONNS];
	uint64_t idle_ns = (uint64_t)srv->idle_ms * 1000000ull;

	/* Named for top -H, perf and tests that load this thread alone. */
	(void)pthread_setname_np(pthread_self(), "sd-server");
	for (;;) {
		uint64_t now = now_ns(), wake = UINT64_MAX;
		bool listening = srv->nconns < SD_SERVER_MAX_CONNS && now >= srv->accept_after_ns;
		int timeout = -1, n;

		pfd[0] = (struct pollfd){ .fd = srv->evfd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = listening ? srv->lfd : -1, .events = POLLIN };
		if (!listening && srv->nconns < SD_SERVER_MAX_CONNS)
			wake = srv->accept_after_ns;
		for (size_t i = 0; i < srv->nconns; i++) {
			struct conn *c = srv->conns[i];

			pfd[2 + i] = (struct pollfd){
				.fd = c->fd,
				.events = (short)((c->rd_eof ? 0 : POLLIN) |
						  (outq_empty(c) ? 0 : POLLOUT)),
			};
			if (c->last_ns + idle_ns < wake)
				wake = c->last_ns + idle_ns;
		}
		if (wake != UINT64_MAX) {
			uint64_t ms = wake <= now ? 0 : (wake - now + 999999) / 1000000;

			timeout = ms > 60000 ? 60000 : (int)ms;
		}
		n = poll(pfd, 2 + srv->nconns, timeout);
		if (n < 0 && errno != EINTR)
			break;
		if (n > 0 && (pfd[0].revents & POLLIN))
			break;
		now = now_ns();
		for (size_t i = 0; i < srv->nconns; i++) {
			struct conn *c = srv->conns[i];
			short rev = n > 0 ? pfd[2 + i].revents : 0;

			if (rev & (POLLIN | POLLHUP | POLLERR)) {
				if (!c->rd_eof)
					conn_read(c);
				else
					flush(c); /* surfaces the error */
			}
			if (!c->dead && now >= c->last_ns + idle_ns) {
				set_end(c, SD_END_TIMEOUT, 0);
				conn_close(c, false);
			}
			if (rev || c->dead)
				conn_step(c);
		}
		if (n > 0 && (pfd[1].revents & POLLIN))
			accept_all(srv);
		for (size_t i = 0; i < srv->nconns;) {
			if (srv->conns[i]->dead) {
				conn_free(srv->conns[i]);
				srv->conns[i] = srv->conns[--srv->nconns];
			} else {
				i++;
			}
		}
	}
	for (size_t i = 0; i < srv->nconns; i++) {
		struct conn *c = srv->conns[i];

		set_end(c, SD_END_STOPPED, 0);
		conn_close(c, false);
		publish(c);
		conn_free(c);
	}
	srv->nconns = 0;
	pthread_mutex_lock(&srv->lock);
	srv->done = true;
	pthread_cond_broadcast(&srv->cond);
	pthread_mutex_unlock(&srv->lock);
	return NULL;
}

/* ---- set-up: context, chain, calibration ---------------------------------- */

static size_t pump(BIO *from, BIO *to)
{
	uint8_t tmp[4096];
	size_t total = 0;
	int n;

	while ((n = BIO_read(from, tmp, sizeof(tmp))) > 0) {
		if (BIO_write(to, tmp, n) != n)
			break;
		total += (size_t)n;
	}
	return total;
}

/*
 * Measures the server flight by a handshake in memory against an OpenSSL
 * client shaped like the built-in profiles: X25519 share, AES-128-GCM
 * first, a legacy session id (so a CCS is sent, RFC 8446 Appendix D.4).
 */
static SSL_CTX *calibration_client(bool p256)
{
	/* Not const: SSL_CTX_set1_groups_list casts to char *. */
	static char x25519[] = "X25519", p256_only[] = "P-256";
	char *groups = p256 ? p256_only : x25519;
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());

	if (!cctx || !SSL_CTX_set_min_proto_version(cctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(cctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set1_groups_list(cctx, groups) ||
	    !SSL_CTX_set_ciphersuites(cctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
					    "TLS_CHACHA20_POLY1305_SHA256")) {
		SSL_CTX_free(cctx);
		return NULL;
	}
	SSL_CTX_set_max_cert_list(cctx, 4 * SD_SERVER_MAX_CHAIN);
	SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, NULL);
	return cctx;
}

static int calibrate(SSL_CTX *cctx, SSL_CTX *sctx, size_t *flight)
{
	SSL *cl = NULL, *sv = NULL;
	BIO *c_in, *c_out, *s_in, *s_out;
	bool cdone = false, sdone = false;
	size_t sent = 0;
	int ret = -SD_ECRYPTO;

	cl = SSL_new(cctx);
	sv = SSL_new(sctx);
	if (!cl || !sv)
		goto out;
	c_in = BIO_new(BIO_s_mem());
	c_out = BIO_new(BIO_s_mem());
	s_in = BIO_new(BIO_s_mem());
	s_out = BIO_new(BIO_s_mem());
	if (!c_in || !c_out || !s_in || !s_out) {
		BIO_free(c_in);
		BIO_free(c_out);
		BIO_free(s_in);
		BIO_free(s_out);
		goto out;
	}
	BIO_set_mem_eof_return(c_in, -1);
	BIO_set_mem_eof_return(s_in, -1);
	SSL_set_bio(cl, c_in, c_out);
	SSL_set_bio(sv, s_in, s_out);
	SSL_set_connect_state(cl);
	SSL_set_accept_state(sv);
	for (int round = 0; round < 8 && !(cdone && sdone); round++) {
		size_t n;
		int r;

		if (!cdone) {
			r = SSL_do_handshake(cl);
			if (r == 1)
				cdone = true;
			else if (SSL_get_error(cl, r) != SSL_ERROR_WANT_READ)
				goto out;
		}
		pump(c_out, s_in);
		if (!sdone) {
			r = SSL_do_handshake(sv);
			if (r == 1)
				sdone = true;
			else if (SSL_get_error(sv, r) != SSL_ERROR_WANT_READ)
				goto out;
		}
		/* What the server writes once it has the client's Finished
		 * (its NewSessionTicket) is not part of the flight. */
		n = pump(s_out, c_in);
		if (!sdone)
			sent += n;
	}
	if (!cdone || !sdone)
		goto out;
	*flight = sent;
	ret = 0;
out:
	SSL_free(cl);
	SSL_free(sv);
	ERR_clear_error();
	return ret;
}

static int install_chain(SSL_CTX *ctx, X509 **pads, size_t npads)
{
	if (!SSL_CTX_clear_chain_certs(ctx))
		return -SD_ECRYPTO;
	for (size_t i = 0; i < npads; i++)
		if (!SSL_CTX_add1_chain_cert(ctx, pads[i]))
			return -SD_ECRYPTO;
	return 0;
}

/*
 * The calibrated flight minus the leaf's DER length: the same for every
 * server of this process (same OpenSSL, same calibration client, the same
 * lab leaf and key), so measured once. 0: not yet.
 */
static size_t flight_overhead;

/*
 * Pads the chain so the calibrated flight is chain_size bytes: padding
 * certificates of at most SD_CERT_PAD_MAX, sized from the arithmetic of
 * the Certificate message and its records, then the last one corrected by
 * what a measured handshake says is still missing.
 */
static int pad_chain(struct sd_server *srv, size_t leaf_len, size_t target)
{
	X509 *pads[MAX_PADS] = { NULL };
	/*
	 * The goal is target itself: every signature of the lab key, in the
	 * certificates and in CertificateVerify, has the same length, so the
	 * flight is the same on every handshake and every run (cert.h). Only
	 * where a DER length field grows may it end a byte or two above.
	 */
	size_t goal = target, npads = 0, base, flight, overhead, extra, sum, k;
	SSL_CTX *cctx = NULL;
	int ret = -SD_ECRYPTO;

	overhead = __atomic_load_n(&flight_overhead, __ATOMIC_RELAXED);
	if (!overhead || target) {
		cctx = calibration_client(srv->mode == SD_SERVER_OPENSSL_P256);
		if (!cctx)
			goto out;
	}
	if (!overhead) {
		if ((ret = calibrate(cctx, srv->ctx, &base)) < 0)
			goto out;
		overhead = base > leaf_len ? base - leaf_len : 1;
		__atomic_store_n(&flight_overhead, overhead, __ATOMIC_RELAXED);
	}
	base = flight = overhead + leaf_len;
	/* Below half the smallest padding certificate, no padding is nearest. */
	if (target <= base + SD_CERT_PAD_MIN / 2)
		goto done;
	/*
	 * Certificate message: header 4, context 1, list length 3, then each
	 * entry (§4.4.2); each further record of 2^14 adds RECORD_OVERHEAD.
	 */
	sum = goal - base;
	for (int i = 0; i < 4; i++) {
		size_t msg = 4 + 1 + 3 + leaf_len + CERT_ENTRY_OVERHEAD + sum;

		extra = (msg + SD_RECORD_PLAIN_MAX - 1) / SD_RECORD_PLAIN_MAX - 1;
		sum = goal - base;
		sum -= extra * RECORD_OVERHEAD < sum ? extra * RECORD_OVERHEAD : 0;
	}
	k = (sum + SD_CERT_PAD_MAX + CERT_ENTRY_OVERHEAD - 1) /
	    (SD_CERT_PAD_MAX + CERT_ENTRY_OVERHEAD);
	if (k == 0)
		k = 1;
	if (k > MAX_PADS) {
		ret = -SD_EVALUE;
		goto out;
	}
	for (size_t i = 0; i < k; i++) {
		size_t share = sum / k + (i == k - 1 ? sum % k : 0);
		size_t der = share > CERT_ENTRY_OVERHEAD ? share - CERT_ENTRY_OVERHEAD : 0;

		if ((ret = sd_cert_pad_new(2 + (uint32_t)i, der, &pads[i])) < 0)
			goto out;
		npads++;
	}
	if ((ret = install_chain(srv->ctx, pads, npads)) < 0 ||
	    (ret = calibrate(cctx, srv->ctx, &flight)) < 0)
		goto out;
	/* Correct the last certificate by what is still off. */
	for (int round = 0; round < 3 && (flight < target || flight > target + 2); round++) {
		size_t last = sd_cert_der_len(pads[npads - 1]);
		size_t want = flight < goal ? last + (goal - flight) :
			      last > flight - goal ? last - (flight - goal) : 0;

		if ((ret = sd_cert_pad_resize(pads[npads - 1], want)) < 0)
			goto out;
		if ((size_t)ret == last)
			break;
		if ((ret = install_chain(srv->ctx, pads, npads)) < 0 ||
		    (ret = calibrate(cctx, srv->ctx, &flight)) < 0)
			goto out;
	}
done:
	srv->flight_estimate = flight;
	ret = 0;
out:
	SSL_CTX_free(cctx);
	for (size_t i = 0; i < npads; i++)
		X509_free(pads[i]);
	return ret;
}

/* Every group OpenSSL 3.0 implements for TLS 1.3 (RFC 8446 §4.2.7, RFC 7919).
 * Not const: SSL_CTX_set1_groups_list casts to char *. */
static char server_groups[] =
	"X25519:P-256:P-384:P-521:X448:ffdhe2048:ffdhe3072:ffdhe4096:ffdhe6144:ffdhe8192";
static char p256_groups[] = "P-256";

static int make_ctx(struct sd_server *srv, size_t chain_size)
{
	EVP_PKEY *key = NULL; /* both borrowed from cert.c, made once per process */
	X509 *leaf = NULL;
	int ret;

	if ((ret = sd_cert_lab(&key, &leaf)) < 0)
		goto out;
	ret = -SD_ECRYPTO;
	srv->ctx = SSL_CTX_new(TLS_server_method());
	if (!srv->ctx ||
	    !SSL_CTX_set_min_proto_version(srv->ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(srv->ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set1_groups_list(srv->ctx, srv->mode == SD_SERVER_OPENSSL_P256 ? p256_groups : server_groups) ||
	    SSL_CTX_use_certificate(srv->ctx, leaf) != 1 ||
	    SSL_CTX_use_PrivateKey(srv->ctx, key) != 1 ||
	    SSL_CTX_check_private_key(srv->ctx) != 1)
		goto out;
	/*
	 * One ticket, sent once the client's Finished is read, as most
	 * servers do: it tells the client at once that its Finished arrived
	 * (else the client must wait out an idle period before it may close).
	 * It follows the server flight, so flight sizes are unaffected. It is
	 * a stateful one (SSL_OP_NO_TICKET in TLS 1.3): its ticket is the
	 * 32-byte session id, where a stateless one is the encrypted session,
	 * whose length moves by a 16-byte cipher block now and then with what
	 * is encoded in it (the random ticket_age_add of RFC 8446 §4.6.1, the
	 * time); so the bytes a server sends are the same on every run too.
	 * No cache, so no ticket resumes anything: every connection is a full
	 * handshake.
	 */
	if (!SSL_CTX_set_num_tickets(srv->ctx, 1))
		goto out;
	SSL_CTX_set_options(srv->ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(srv->ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_verify(srv->ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_client_hello_cb(srv->ctx, hello_cb, NULL);
	SSL_CTX_set_msg_callback(srv->ctx, msg_cb);
	SSL_CTX_set_info_callback(srv->ctx, info_cb);
	SSL_CTX_set_app_data(srv->ctx, srv);
	if ((ret = pad_chain(srv, sd_cert_der_len(leaf), chain_size)) < 0)
		goto out;
	/* Only now: the calibration handshakes have no place in the key log. */
	if (srv->keylog_fd >= 0)
		SSL_CTX_set_keylog_callback(srv->ctx, keylog_cb);
	ret = 0;
out:
	ERR_clear_error();
	return ret;
}

static int open_listener(struct sd_server *srv, const struct sd_server_cfg *cfg)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int family = cfg->family, one = 1;
	const char *addr = cfg->addr;

	memset(&ss, 0, sizeof(ss));
	if (family == 0)
		family = addr && strchr(addr, ':') ? AF_INET6 : AF_INET;
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(cfg->port);
		if (inet_pton(AF_INET, addr ? addr : "127.0.0.1", &s4->sin_addr) != 1)
			return -SD_ESYNTAX;
		sl = sizeof(*s4);
	} else if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(cfg->port);
		if (inet_pton(AF_INET6, addr ? addr : "::1", &s6->sin6_addr) != 1)
			return -SD_ESYNTAX;
		sl = sizeof(*s6);
	} else {
		return -SD_EVALUE;
	}
	srv->lfd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (srv->lfd < 0)
		return -errno;
	if (setsockopt(srv->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (family == AF_INET6 &&
	     setsockopt(srv->lfd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(srv->lfd, (struct sockaddr *)&ss, sl) < 0 ||
	    listen(srv->lfd, 128) < 0)
		return -errno;
	sl = sizeof(ss);
	if (getsockname(srv->lfd, (struct sockaddr *)&ss, &sl) < 0)
		return -errno;
	srv->port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
					      ((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

/* ---- the node-pq modes: a Node.js process in place of the thread -------- */

/* Reports from the peer's thread into the ring; NULL: the process is gone. */
static void peer_report(void *ctx, const struct sd_server_conn *rep)
{
	struct sd_server *srv = ctx;

	pthread_mutex_lock(&srv->lock);
	if (!rep) {
		srv->done = true;
		srv->peer_dead = !srv->stopping;
	} else {
		struct sd_server_conn *slot = &srv->ring[rep->seq % srv->cap];

		if (slot->seq == NO_SEQ || slot->seq <= rep->seq) {
			/* Keep the name a query gave an unnamed connection. */
			bool named = slot->seq == rep->seq && !rep->port && slot->port;
			uint16_t port = slot->port;
			uint8_t addr[16];

			memcpy(addr, slot->addr, 16);
			*slot = *rep;
			if (named) {
				memcpy(slot->addr, addr, 16);
				slot->port = port;
			}
		}
		if (rep->seq >= srv->next_seq)
			srv->next_seq = rep->seq + 1;
	}
	pthread_cond_broadcast(&srv->cond);
	pthread_mutex_unlock(&srv->lock);
}

static char *bio_string(BIO *b)
{
	char *data = NULL;
	long n = BIO_get_mem_data(b, &data);

	return n > 0 ? strndup(data, (size_t)n) : NULL;
}

/*
 * The lab key and the (padded) chain of srv->ctx as PEM, for node: the
 * same certificates as the OpenSSL modes, so chain_size pads node's flight
 * the same way (the estimate is still OpenSSL 3.0's, with X25519).
 */
static int ctx_pem(SSL_CTX *ctx, char **cert, char **key)
{
	BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());
	STACK_OF(X509) *chain = NULL;
	int ret = -SD_ECRYPTO;

	*cert = *key = NULL;
	if (!cb || !kb || !PEM_write_bio_X509(cb, SSL_CTX_get0_certificate(ctx)) ||
	    !SSL_CTX_get0_chain_certs(ctx, &chain) ||
	    !PEM_write_bio_PrivateKey(kb, SSL_CTX_get0_privatekey(ctx), NULL, NULL, 0, NULL, NULL))
		goto out;
	for (int i = 0; chain && i < sk_X509_num(chain); i++)
		if (!PEM_write_bio_X509(cb, sk_X509_value(chain, i)))
			goto out;
	*cert = bio_string(cb);
	*key = bio_string(kb);
	ret = *cert && *key ? 0 : -ENOMEM;
out:
	if (ret < 0) {
		free(*cert);
		free(*key);
		*cert = *key = NULL;
	}
	BIO_free(cb);
	BIO_free(kb);
	ERR_clear_error();
	return ret;
}

static int node_start(struct sd_server *srv, const struct sd_server_cfg *cfg, int family)
{
	struct sd_peer_cfg pc = { 0 };
	char *cert = NULL, *key = NULL, *conf = NULL, msg[320] = "";
	json_t *o = NULL;
	int ret;

	if ((ret = make_ctx(srv, cfg->chain_size)) < 0 ||
	    (ret = ctx_pem(srv->ctx, &cert, &key)) < 0) {
		snprintf(msg, sizeof(msg), "preparing the certificate for node: %s", sd_strerror(ret));
		goto out;
	}
	ret = -ENOMEM;
	o = json_pack("{s:s, s:i, s:b, s:s, s:s, s:s, s:i}",
		      "host", cfg->addr ? cfg->addr : family == AF_INET6 ? "::1" : "127.0.0.1",
		      "port", (int)cfg->port,
		      "ipv6_only", family == AF_INET6,
		      "groups", node_groups(cfg->mode),
		      "cert", cert, "key", key,
		      "idle_ms", (int)srv->idle_ms);
	if (!o || json_object_set_new(o, "keylog_fd", srv->keylog_fd >= 0 ? json_integer(4) :
						       json_null()) < 0 ||
	    !(conf = json_dumps(o, JSON_COMPACT)))
		goto out;
	pc.node = cfg->node_path;
	pc.family = family;
	pc.config = conf;
	pc.keylog_fd = srv->keylog_fd;
	pc.on_report = peer_report;
	pc.ctx = srv;
	ret = sd_peer_start(&pc, &srv->peer, msg, sizeof(msg));
	if (ret == 0)
		srv->port = sd_peer_port(srv->peer);
out:
	if (ret < 0 && cfg->err && cfg->errlen)
		snprintf(cfg->err, cfg->errlen, "%s: %s", sd_server_mode_name(cfg->mode),
			 msg[0] ? msg : sd_strerror(ret));
	json_decref(o);
	if (key)
		OPENSSL_cleanse(key, strlen(key));
	free(cert);
	free(key);
	free(conf);
	return ret;
}

static void server_free(struct sd_server *srv)
{
	if (srv->lfd >= 0)
		close(srv->lfd);
	if (srv->evfd >= 0)
		close(srv->evfd);
	if (srv->keylog_fd >= 0)
		close(srv->keylog_fd);
	SSL_CTX_free(srv->ctx);
	if (srv->locks_ready) {
		pthread_mutex_destroy(&srv->lock);
		pthread_cond_destroy(&srv->cond);
	}
	free(srv->ring);
	free(srv);
}

/* ---- the nginx mode: Debian's nginx as the TLS server -------------------- */

static int write_text(const char *dir, const char *name, const char *text)
{
	char path[128];
	size_t n = strlen(text);
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, text, n) != (ssize_t)n)
		ret = -EIO;
	if (close(fd) < 0 && !ret)
		ret = -errno;
	return ret;
}

/* The server namespace's loopback, up: nginx's readiness is polled on it. */
static void loopback_up(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && !(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		(void)ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
}

/*
 * nginx in the foreground, one process, everything under a private
 * prefix: the lab key and (padded) chain, a TLS 1.3-only server block
 * that answers any request, logs on stderr (its last line names a start
 * failure). Groups: OpenSSL 3.0's, X25519 first. "user root root":
 * without it nginx, started as root, chowns its temp paths to "nobody",
 * which a rootless run's user namespace does not map (EINVAL); with no
 * worker process there is no one to drop privileges to anyway.
 */
static int nginx_start(struct sd_server *srv, const struct sd_server_cfg *cfg, int family)
{
	static const uint8_t lo4[4] = { 127, 0, 0, 1 };
	static const uint8_t lo6[16] = { [15] = 1 };
	char *cert = NULL, *key = NULL, conf[1536], confpath[96], msg[320] = "";
	/* exec's argv is char *const[]: writable copies of the words. */
	char a0[] = "nginx", a1[] = "-e", a2[] = "stderr", a3[] = "-p", a5[] = "-c";
	char *argv[] = { a0, a1, a2, a3, srv->nginx_dir, a5, confpath, NULL };
	struct sd_proc_cfg pc = { 0 };
	int ret;

	if (cfg->keylog_path) {
		ret = -SD_EVALUE;
		snprintf(msg, sizeof(msg), "nginx cannot write a key log (no hook for one); use node-pq or openssl");
		goto out;
	}
	if ((ret = make_ctx(srv, cfg->chain_size)) < 0 || (ret = ctx_pem(srv->ctx, &cert, &key)) < 0) {
		snprintf(msg, sizeof(msg), "preparing the certificate for nginx: %s", sd_strerror(ret));
		goto out;
	}
	/* Swept even when we are SIGKILLed (shakedown/tmpdir.h). */
	if ((ret = sd_tmpdir_make("nginx", srv->nginx_dir, sizeof(srv->nginx_dir))) < 0) {
		snprintf(msg, sizeof(msg), "creating a directory for nginx: %s", strerror(-ret));
		goto out;
	}
	snprintf(confpath, sizeof(confpath), "%s/nginx.conf", srv->nginx_dir);
	snprintf(conf, sizeof(conf),
		 "daemon off;\nmaster_process off;\nworker_processes 1;\nuser root root;\n"
		 "pid %s/nginx.pid;\n"
		 "error_log stderr warn;\nevents { worker_connections 256; }\n"
		 "http {\n  access_log off;\n"
		 "  client_body_temp_path %s; proxy_temp_path %s; fastcgi_temp_path %s;\n"
		 "  uwsgi_temp_path %s; scgi_temp_path %s;\n"
		 "  server {\n    listen %s%s:%u ssl%s;\n"
		 "    ssl_certificate %s/cert.pem;\n    ssl_certificate_key %s/key.pem;\n"
		 "    ssl_protocols TLSv1.3;\n    ssl_ecdh_curve X25519:prime256v1:secp384r1;\n"
		 "    ssl_session_tickets off;\n"
		 "    location / { return 200 \"shakedown\\n\"; }\n  }\n}\n",
		 srv->nginx_dir, srv->nginx_dir, srv->nginx_dir, srv->nginx_dir, srv->nginx_dir,
		 srv->nginx_dir, family == AF_INET6 ? "[::]" : "0.0.0.0", "", (unsigned)cfg->port,
		 family == AF_INET6 ? " ipv6only=on" : "", srv->nginx_dir, srv->nginx_dir);
	if ((ret = write_text(srv->nginx_dir, "cert.pem", cert)) < 0 ||
	    (ret = write_text(srv->nginx_dir, "key.pem", key)) < 0 ||
	    (ret = write_text(srv->nginx_dir, "nginx.conf", conf)) < 0) {
		snprintf(msg, sizeof(msg), "writing nginx's files: %s", strerror(-ret));
		goto out;
	}
	loopback_up();
	pc.argv = argv;
	pc.family = family;
	pc.listen_addr = family == AF_INET6 ? lo6 : lo4;
	pc.listen_port = cfg->port;
	ret = sd_proc_start(&pc, &srv->nginx, msg, sizeof(msg));
	if (ret == 0)
		srv->port = cfg->port;
	else if (ret == -ENOENT)
		snprintf(msg, sizeof(msg), "no nginx binary (apt-get install nginx, or bash tools/setup-deps.sh)");
out:
	if (ret < 0) {
		sd_rm_tree(srv->nginx_dir);
		srv->nginx_dir[0] = 0;
		if (cfg->err && cfg->errlen)
			snprintf(cfg->err, cfg->errlen, "nginx: %s", msg[0] ? msg : sd_strerror(ret));
	}
	if (key)
		OPENSSL_cleanse(key, strlen(key));
	free(cert);
	free(key);
	return ret;
}

int sd_server_start(const struct sd_server_cfg *cfg, struct sd_server **out)
{
	struct sd_server *srv = NULL;
	pthread_condattr_t ca;
	sigset_t all, old;
	int ret = -SD_EVALUE;

	*out = NULL;
	if (cfg->err && cfg->errlen)
		cfg->err[0] = 0;
	if ((cfg->mode != SD_SERVER_OPENSSL && cfg->mode != SD_SERVER_SINGLE_READ &&
	     cfg->mode != SD_SERVER_OPENSSL_P256 &&
	     cfg->mode != SD_SERVER_NGINX && !sd_server_mode_is_node(cfg->mode)) ||
	    cfg->chain_size > SD_SERVER_MAX_CHAIN ||
	    (cfg->family != 0 && cfg->family != AF_INET && cfg->family != AF_INET6))
		goto out;
	ret = -ENOMEM;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		goto out;
	srv->lfd = srv->evfd = srv->keylog_fd = -1;
	srv->mode = cfg->mode;
	srv->idle_ms = cfg->idle_timeout_ms ? cfg->idle_timeout_ms : DEFAULT_IDLE_MS;
	srv->stall_ms = cfg->stall_first_read_ms > 5000 ? 5000 : cfg->stall_first_read_ms;
	srv->cap = cfg->max_reports ? cfg->max_reports : DEFAULT_REPORTS;
	srv->ring = calloc(srv->cap, sizeof(*srv->ring));
	if (!srv->ring)
		goto out;
	for (size_t i = 0; i < srv->cap; i++)
		srv->ring[i].seq = NO_SEQ;
	if (pthread_condattr_init(&ca) != 0)
		goto out;
	ret = -pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (ret == 0 && (ret = -pthread_mutex_init(&srv->lock, NULL)) == 0) {
		ret = -pthread_cond_init(&srv->cond, &ca);
		if (ret == 0)
			srv->locks_ready = true;
		else
			pthread_mutex_destroy(&srv->lock);
	}
	pthread_condattr_destroy(&ca);
	if (ret < 0)
		goto out;

	if (cfg->keylog_path) {
		srv->keylog_fd = open(cfg->keylog_path,
				      O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (srv->keylog_fd < 0) {
			ret = -errno;
			goto out;
		}
	}
	if (cfg->mode == SD_SERVER_NGINX) {
		int family = cfg->family ? cfg->family :
			     cfg->addr && strchr(cfg->addr, ':') ? AF_INET6 : AF_INET;

		if ((ret = nginx_start(srv, cfg, family)) < 0)
			goto out;
		*out = srv;
		srv = NULL;
		goto out;
	}
	if (sd_server_mode_is_node(cfg->mode)) {
		int family = cfg->family ? cfg->family :
			     cfg->addr && strchr(cfg->addr, ':') ? AF_INET6 : AF_INET;

		if ((ret = node_start(srv, cfg, family)) < 0)
			goto out;
		*out = srv;
		srv = NULL;
		goto out;
	}
	if ((ret = open_listener(srv, cfg)) < 0)
		goto out;
	if ((ret = make_ctx(srv, cfg->chain_size)) < 0)
		goto out;
	srv->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (srv->evfd < 0) {
		ret = -errno;
		goto out;
	}
	/* Signals are the harness's main thread's business. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(&srv->thread, NULL, server_main, srv);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret < 0)
		goto out;
	srv->thread_started = true;
	*out = srv;
	srv = NULL;
out:
	if (srv)
		server_free(srv);
	return ret;
}

void sd_server_stop(struct sd_server *srv)
{
	uint64_t one = 1;

	if (!srv)
		return;
	if (srv->peer) {
		pthread_mutex_lock(&srv->lock);
		srv->stopping = true;
		pthread_mutex_unlock(&srv->lock);
		sd_peer_stop(srv->peer);
		srv->peer = NULL;
	}
	if (srv->nginx) {
		sd_proc_stop(srv->nginx);
		srv->nginx = NULL;
		sd_rm_tree(srv->nginx_dir);
	}
	if (srv->thread_started) {
		while (write(srv->evfd, &one, sizeof(one)) < 0 && errno == EINTR)
			;
		pthread_join(srv->thread, NULL);
	}
	server_free(srv);
}

uint16_t sd_server_port(const struct sd_server *srv)
{
	return srv->port;
}

size_t sd_server_flight_estimate(const struct sd_server *srv)
{
	return srv->flight_estimate;
}

uint64_t sd_server_next_seq(struct sd_server *srv)
{
	uint64_t seq;

	pthread_mutex_lock(&srv->lock);
	seq = srv->next_seq;
	pthread_mutex_unlock(&srv->lock);
	return seq;
}

/* ---- reading reports ----------------------------------------------------- */

struct query {
	bool by_seq;
	uint64_t seq;
	const uint8_t *addr;
	uint16_t port;
};

/* The newest matching report; call with the lock held. */
static const struct sd_server_conn *find(const struct sd_server *srv, const struct query *q)
{
	const struct sd_server_conn *best = NULL;

	if (q->by_seq) {
		const struct sd_server_conn *r = &srv->ring[q->seq % srv->cap];

		return r->seq == q->seq ? r : NULL;
	}
	for (size_t i = 0; i < srv->cap; i++) {
		const struct sd_server_conn *r = &srv->ring[i];

		if (r->seq == NO_SEQ || (q->port && r->port != q->port) ||
		    (q->addr && memcmp(r->addr, q->addr, 16) != 0))
			continue;
		if (!best || r->seq > best->seq)
			best = r;
	}
	return best;
}

/*
 * node-pq: the newest report of a connection node could not name
 * (SD_CONN_UNKNOWN_PEER) newer than any report a query matched, named
 * after the query (endpoint.h). Call with the lock held.
 */
static const struct sd_server_conn *claim_unnamed(struct sd_server *srv, const struct query *q)
{
	struct sd_server_conn *best = NULL;

	if (!srv->peer || q->by_seq || !q->addr || !q->port)
		return NULL;
	for (size_t i = 0; i < srv->cap; i++) {
		struct sd_server_conn *r = &srv->ring[i];

		if (r->seq == NO_SEQ || !(r->unknown & SD_CONN_UNKNOWN_PEER) || r->port ||
		    (srv->matched_any && r->seq <= srv->matched_max))
			continue;
		if (!best || r->seq > best->seq)
			best = r;
	}
	if (best) {
		memcpy(best->addr, q->addr, 16);
		best->port = q->port;
	}
	return best;
}

bool sd_server_exited(struct sd_server *srv)
{
	bool dead;

	if (srv->nginx)
		return sd_proc_exited(srv->nginx, NULL, 0);
	pthread_mutex_lock(&srv->lock);
	dead = srv->peer_dead;
	pthread_mutex_unlock(&srv->lock);
	return dead;
}

static int report(struct sd_server *srv, const struct query *q, unsigned wait_ms,
		  struct sd_server_conn *out)
{
	struct timespec deadline;
	uint64_t end = now_ns() + (uint64_t)wait_ms * 1000000ull;
	int ret;

	/* nginx reports nothing per connection, but its death is news. */
	if (srv->nginx)
		return sd_proc_exited(srv->nginx, NULL, 0) ? -ESRCH : -ENOENT;
	deadline.tv_sec = (time_t)(end / 1000000000ull);
	deadline.tv_nsec = (long)(end % 1000000000ull);
	pthread_mutex_lock(&srv->lock);
	for (;;) {
		const struct sd_server_conn *r = find(srv, q);

		if (!r)
			r = claim_unnamed(srv, q);
		if (r && !q->by_seq && q->port &&
		    (!srv->matched_any || r->seq > srv->matched_max)) {
			srv->matched_any = true;
			srv->matched_max = r->seq;
		}
		/* A seq not handed out yet may still come; a smaller one whose
		 * slot holds another report has been dropped. */
		bool may_come = !srv->done && (!q->by_seq || q->seq >= srv->next_seq);

		if (r) {
			*out = *r;
			if (r->final) {
				ret = 1;
				break;
			}
			if (!wait_ms) {
				ret = 0;
				break;
			}
		} else if (!wait_ms || !may_come) {
			ret = srv->peer_dead ? -ESRCH : -ENOENT;
			break;
		}
		if (now_ns() >= end || srv->done) {
			ret = srv->peer_dead ? -ESRCH : r ? -ETIMEDOUT : -ENOENT;
			break;
		}
		pthread_cond_timedwait(&srv->cond, &srv->lock, &deadline);
	}
	pthread_mutex_unlock(&srv->lock);
	return ret;
}

int sd_server_report(struct sd_server *srv, const uint8_t client_addr[16],
		     uint16_t client_port, unsigned wait_ms, struct sd_server_conn *out)
{
	struct query q = { .addr = client_addr, .port = client_port };

	return report(srv, &q, wait_ms, out);
}

int sd_server_report_seq(struct sd_server *srv, uint64_t seq, unsigned wait_ms,
			 struct sd_server_conn *out)
{
	struct query q = { .by_seq = true, .seq = seq };

	return report(srv, &q, wait_ms, out);
}
