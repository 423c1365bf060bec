/* SPDX-License-Identifier: MIT */
/*
 * The TLS server endpoint against this project's own ClientHellos, an
 * in-process OpenSSL client and a real `openssl s_client`.
 *
 *   host namespace (most cases)           fresh namespace (last case)
 *   +-------------------------------+     +-------------------------------+
 *   | test thread        server     |     | thread after unshare(NEWNET)  |
 *   | client sockets --> thread     |     | lo up (SIOCSIFFLAGS)          |
 *   |      127.0.0.1:port (lo)      |     | client --> server 127.0.0.1   |
 *   | openssl s_client -----^       |     | client --> server [::1]       |
 *   +-------------------------------+     +-------------------------------+
 *
 * Only loopback addresses: 127.0.0.1 and ::1, the latter only inside the
 * namespace the test creates. Needs CAP_NET_ADMIN for that namespace and
 * exits 77 without it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/buffer.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "check.h"
#include "lo_up.h"
#include "shakedown/endpoint.h"
#include "shakedown/hello.h"
#include "shakedown/profile.h"
#include "shakedown/record.h"
#include "shakedown/rng.h"
#include "shakedown/tls.h"

extern char **environ;

static struct sd_profile prof;
static struct sd_hello_state hst;

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* ---- clients ------------------------------------------------------------ */

static int tcp_connect(int family, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct timeval tv = { .tv_sec = 3 };
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		s6->sin6_addr = in6addr_loopback;
		sl = sizeof(*s6);
	}
	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

/* The client's own address and port: the key of its report. */
static void local_key(int fd, uint8_t addr[16], uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	memset(addr, 0, 16);
	*port = 0;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		sd_server_addr_v4((const uint8_t *)&s4->sin_addr, addr);
		*port = ntohs(s4->sin_port);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		memcpy(addr, &s6->sin6_addr, 16);
		*port = ntohs(s6->sin6_port);
	}
}

/* Reads until want bytes, end of stream, an error or the socket timeout.
 * *err: 0 (got them), -1 (EOF), or the errno. */
static size_t read_upto(int fd, uint8_t *buf, size_t want, int *err)
{
	size_t got = 0;

	*err = 0;
	while (got < want) {
		ssize_t n = recv(fd, buf + got, want - got, 0);

		if (n == 0) {
			*err = -1;
			break;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*err = errno;
			break;
		}
		got += (size_t)n;
	}
	return got;
}

/* ClientHello records from a built-in profile (record version as the profile says). */
static int hello_records(const char *name, const char *seed, const struct sd_hello_opts *o,
			 struct sd_rng *rng, struct sd_buf *rec, size_t *msg_len)
{
	struct sd_profile_error perr;
	struct sd_buf msg = SD_BUF_INIT;
	int ret;

	if ((ret = sd_profile_builtin(name, &prof, &perr)) < 0 ||
	    (ret = sd_rng_seed(rng, seed)) < 0 ||
	    (ret = sd_hello_build(&prof, o, rng, &hst, &msg)) < 0)
		goto out;
	*msg_len = msg.len;
	sd_buf_reset(rec);
	ret = sd_record_build(rec, SD_CT_HANDSHAKE, prof.record_version, msg.data, msg.len,
			      NULL, 0);
out:
	sd_buf_free(&msg);
	return ret;
}

typedef bool (*rep_pred)(const struct sd_server_conn *r);

static bool flight_out(const struct sd_server_conn *r)
{
	return r->flight_sent || r->final;
}

static bool hrr_out(const struct sd_server_conn *r)
{
	return (r->hrr_bytes && r->bytes_out == r->hrr_bytes) || r->final;
}

/* Polls the report "so far" (wait 0) until pred holds or timeout_ms passes. */
static int wait_for(struct sd_server *srv, const uint8_t addr[16], uint16_t port, rep_pred pred,
		    unsigned timeout_ms, struct sd_server_conn *r)
{
	uint64_t end = mono_us() + timeout_ms * 1000ull;
	int ret;

	do {
		ret = sd_server_report(srv, addr, port, 0, r);
		if (ret >= 0 && pred(r))
			return 0;
		sleep_ms(1);
	} while (mono_us() < end);
	return ret < 0 ? ret : -ETIMEDOUT;
}

struct exchange {
	size_t sent;
	size_t got;          /* bytes the client received: the server's flight */
	int rd_err;          /* 0, -1 EOF, or errno of the client's read */
	uint8_t reply[64 * 1024];
	struct sd_server_conn rep;   /* final, after the client closed */
	int rep_ret;
};

/*
 * Sends rec over a fresh connection, cut at split (0: whole) with gap_ms
 * between the pieces, reads the server's answer as far as the report says
 * it was written, closes, and takes the final report.
 */
static void exchange(struct sd_server *srv, const struct sd_buf *rec, size_t split,
		     unsigned gap_ms, struct exchange *x)
{
	struct sd_server_conn snap;
	uint8_t addr[16];
	uint16_t port;
	int fd = tcp_connect(AF_INET, sd_server_port(srv));

	memset(x, 0, sizeof(*x));
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	local_key(fd, addr, &port);
	if (split && split < rec->len) {
		x->sent += (size_t)(send(fd, rec->data, split, MSG_NOSIGNAL) > 0 ? split : 0);
		sleep_ms(gap_ms);
		ssize_t n = send(fd, rec->data + split, rec->len - split, MSG_NOSIGNAL);

		x->sent += n > 0 ? (size_t)n : 0;
	} else {
		ssize_t n = send(fd, rec->data, rec->len, MSG_NOSIGNAL);

		x->sent = n > 0 ? (size_t)n : 0;
	}
	if (wait_for(srv, addr, port, flight_out, 3000, &snap) == 0) {
		size_t want = snap.bytes_out ? snap.bytes_out : sizeof(x->reply);

		if (want > sizeof(x->reply))
			want = sizeof(x->reply);
		x->got = read_upto(fd, x->reply, want, &x->rd_err);
		if (snap.final && !snap.bytes_out && x->got == 0 && x->rd_err == 0)
			x->rd_err = -1;
	}
	close(fd);
	x->rep_ret = sd_server_report(srv, addr, port, 3000, &x->rep);
}

static bool has_u16(const uint16_t *v, size_t n, size_t max, uint16_t want)
{
	for (size_t i = 0; i < n && i < max; i++)
		if (v[i] == want)
			return true;
	return false;
}

/* The first message of the reply, as a ServerHello or HRR. */
static int reply_server_hello(const struct exchange *x, struct sd_server_hello *sh,
			      struct sd_flight *f)
{
	int ret = sd_flight_parse(x->reply, x->got, f);

	if (ret <= 0)
		return ret < 0 ? ret : -SD_ENOHELLO;
	return sd_server_hello_parse(sd_flight_msg(f, 0), f->msgs[0].len, sh);
}

static struct sd_server *start(enum sd_server_mode mode, size_t chain, unsigned idle_ms,
			       const char *keylog)
{
	struct sd_server_cfg cfg = {
		.family = AF_INET, .addr = "127.0.0.1", .mode = mode, .chain_size = chain,
		.keylog_path = keylog, .idle_timeout_ms = idle_ms,
	};
	struct sd_server *srv = NULL;
	int ret = sd_server_start(&cfg, &srv);

	CHECK_INT(ret, 0);
	if (ret < 0)
		fprintf(stderr, "sd_server_start: %s\n", sd_strerror(ret));
	return ret < 0 ? NULL : srv;
}

static void print_report(const char *what, const struct sd_server_conn *r)
{
	printf("  %s: reads=%zu [", what, r->nreads);
	for (size_t i = 0; i < r->nreads && i < SD_SERVER_MAX_READS; i++)
		printf("%s%u@%uus", i ? " " : "", r->read_len[i], r->read_us[i]);
	printf("] in=%llu hello=%s len=%u exts=%zu groups=%zu shares=%zu group=0x%04x hrr=%d "
	       "flight=%u out=%llu done=%d alert_sent=%d/%u alert_recv=%d/%u end=%s error=\"%s\"\n",
	       (unsigned long long)r->bytes_in, r->hello_complete ? "yes" : "no", r->hello_len,
	       r->next, r->ngroups, r->nshares, r->group, r->hrr, r->flight_bytes,
	       (unsigned long long)r->bytes_out, r->handshake_done, r->alert_sent,
	       r->alert_sent_desc, r->alert_recv, r->alert_recv_desc,
	       sd_server_end_name(r->end), r->error);
}

/* ---- cases ---------------------------------------------------------------- */

static struct exchange xa, xb;

/* chrome-pq: X25519MLKEM768 + X25519 shares; OpenSSL 3.0 takes X25519. */
static void test_chrome_pq(void)
{
	struct sd_buf rec = SD_BUF_INIT;
	struct sd_server_hello sh;
	struct sd_flight f;
	struct sd_rng rng;
	size_t msg_len = 0;
	struct sd_server *srv = start(SD_SERVER_OPENSSL, 0, 0, NULL);

	if (!srv)
		return;
	CHECK_INT(hello_records("chrome-pq", "server-1", NULL, &rng, &rec, &msg_len), 0);
	exchange(srv, &rec, 0, 0, &xa);
	print_report("chrome-pq", &xa.rep);
	CHECK_INT(xa.rep_ret, 1);
	CHECK(xa.rep.final && xa.rep.closed);
	CHECK(xa.rep.hello_complete);
	CHECK_INT(xa.rep.hello_len, msg_len);
	CHECK_INT(xa.rep.hellos, 1);
	CHECK_INT(xa.rep.bytes_in, rec.len);
	CHECK(xa.rep.nreads >= 1);
	CHECK_INT(xa.rep.legacy_version, SD_TLS12);
	CHECK(has_u16(xa.rep.groups, xa.rep.ngroups, SD_SERVER_MAX_GROUPS,
		      SD_GROUP_X25519MLKEM768));
	CHECK(has_u16(xa.rep.share_groups, xa.rep.nshares, SD_SERVER_MAX_SHARES,
		      SD_GROUP_X25519MLKEM768));
	CHECK(has_u16(xa.rep.share_groups, xa.rep.nshares, SD_SERVER_MAX_SHARES,
		      SD_GROUP_X25519));
	CHECK(has_u16(xa.rep.ext_types, xa.rep.next, SD_SERVER_MAX_EXTS, SD_EXT_KEY_SHARE));
	CHECK_INT(xa.rep.group, SD_GROUP_X25519);
	CHECK(!xa.rep.hrr);
	CHECK(xa.rep.flight_sent);
	CHECK(!xa.rep.handshake_done && !xa.rep.failed);
	CHECK_INT(xa.rep.end, SD_END_CLIENT_FIN);
	CHECK_INT(xa.got, xa.rep.bytes_out);
	CHECK_INT(xa.rep.flight_bytes, xa.rep.bytes_out);
	if (reply_server_hello(&xa, &sh, &f) == 0) {
		CHECK(!sh.hrr);
		CHECK_INT(sh.version, SD_TLS13);
		CHECK_INT(sh.group, SD_GROUP_X25519);
		CHECK_INT(sh.share_len, 32);
		CHECK(f.encrypted);
		sd_flight_free(&f);
	} else {
		CHECK(!"ServerHello parses");
	}
	/* The wire list has what OpenSSL 3.0 drops: GREASE, ECH, ALPS... */
	CHECK(has_u16(xa.rep.ext_types, xa.rep.next, SD_SERVER_MAX_EXTS, SD_EXT_ECH));
	CHECK(!has_u16(xa.rep.ossl_ext_types, xa.rep.nossl_ext, SD_SERVER_MAX_EXTS, SD_EXT_ECH));
	CHECK(sd_tls_is_grease(xa.rep.ext_types[0]) ||
	      sd_tls_is_grease(xa.rep.ext_types[xa.rep.next - 1]) || xa.rep.next > 17);
	CHECK(xa.rep.nossl_ext < xa.rep.next);
	printf("  extensions on the wire:");
	for (size_t i = 0; i < xa.rep.next && i < SD_SERVER_MAX_EXTS; i++)
		printf(" %u", xa.rep.ext_types[i]);
	printf("\n  extensions OpenSSL knows:");
	for (size_t i = 0; i < xa.rep.nossl_ext && i < SD_SERVER_MAX_EXTS; i++)
		printf(" %u", xa.rep.ossl_ext_types[i]);
	printf("\n");
	sd_buf_free(&rec);
	sd_hello_state_clear(&hst);
	sd_server_stop(srv);
}

/* ---- the lab certificate ------------------------------------------------- */

struct lab_peer {
	uint8_t der[2048];       /* the leaf as the client received it */
	int der_len;
	int key_bits, sig_type, sig_md;
	char not_before[32], not_after[32];
	long serial;
};

/* One handshake from an in-process OpenSSL client; what it saw of the leaf. */
static int lab_peer_get(struct sd_server *srv, struct lab_peer *lp)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	int fd = tcp_connect(AF_INET, sd_server_port(srv)), ret = -1;
	SSL *ssl = NULL;
	X509 *peer = NULL;
	unsigned char *p = lp->der;
	BIO *mem = NULL;
	BUF_MEM *bm;

	memset(lp, 0, sizeof(*lp));
	if (!ctx || fd < 0 || !(ssl = SSL_new(ctx)))
		goto out;
	SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1 || !(peer = SSL_get1_peer_certificate(ssl)))
		goto out;
	if (i2d_X509(peer, NULL) > (int)sizeof(lp->der))
		goto out;
	lp->der_len = i2d_X509(peer, &p);
	lp->key_bits = EVP_PKEY_is_a(X509_get0_pubkey(peer), "RSA") ?
		       EVP_PKEY_get_bits(X509_get0_pubkey(peer)) : 0;
	if (SSL_get_peer_signature_type_nid(ssl, &lp->sig_type) != 1 ||
	    SSL_get_peer_signature_nid(ssl, &lp->sig_md) != 1)
		goto out;
	lp->serial = ASN1_INTEGER_get(X509_get0_serialNumber(peer));
	if (!(mem = BIO_new(BIO_s_mem())))
		goto out;
	ASN1_TIME_print(mem, X509_get0_notBefore(peer));
	BIO_get_mem_ptr(mem, &bm);
	snprintf(lp->not_before, sizeof(lp->not_before), "%.*s", (int)bm->length, bm->data);
	(void)BIO_reset(mem);
	ASN1_TIME_print(mem, X509_get0_notAfter(peer));
	BIO_get_mem_ptr(mem, &bm);
	snprintf(lp->not_after, sizeof(lp->not_after), "%.*s", (int)bm->length, bm->data);
	(void)SSL_shutdown(ssl);
	ret = 0;
out:
	BIO_free(mem);
	X509_free(peer);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	if (fd >= 0)
		close(fd);
	return ret;
}

struct par_start {
	pthread_t t;
	struct sd_server *srv;
	int ret;
};

static void *par_start_main(void *arg)
{
	struct par_start *ps = arg;
	struct sd_server_cfg cfg = { .family = AF_INET, .addr = "127.0.0.1" };

	ps->ret = sd_server_start(&cfg, &ps->srv);
	return NULL;
}

/*
 * The lab key: servers started at once in several threads, the first in
 * this process, all make the same flight and send the same leaf (the key
 * and leaf are made once per process): RSA-2048, a fixed serial and fixed
 * dates, so that every run has it byte for byte, and an RSA-PSS
 * CertificateVerify (rsa_pss_rsae_sha256 for a client that prefers it, as
 * OpenSSL's own and every built-in profile do).
 */
static void test_lab_cert(void)
{
	enum { N = 4 };
	struct par_start ps[N];
	struct lab_peer lp[2];

	memset(ps, 0, sizeof(ps));
	for (int i = 0; i < N; i++)
		CHECK_INT(pthread_create(&ps[i].t, NULL, par_start_main, &ps[i]), 0);
	for (int i = 0; i < N; i++)
		pthread_join(ps[i].t, NULL);
	for (int i = 0; i < N; i++) {
		CHECK_INT(ps[i].ret, 0);
		if (ps[i].ret == 0)
			CHECK_INT(sd_server_flight_estimate(ps[i].srv),
				  sd_server_flight_estimate(ps[0].srv));
	}
	for (int i = 0; i < 2; i++) {
		CHECK(ps[i].srv != NULL);
		if (!ps[i].srv)
			continue;
		CHECK_INT(lab_peer_get(ps[i].srv, &lp[i]), 0);
		printf("  leaf %d bytes, RSA-%d, serial 0x%lx, %s .. %s, CertificateVerify %s/%s\n",
		       lp[i].der_len, lp[i].key_bits, lp[i].serial, lp[i].not_before,
		       lp[i].not_after, OBJ_nid2sn(lp[i].sig_type), OBJ_nid2sn(lp[i].sig_md));
		CHECK_INT(lp[i].key_bits, 2048);
		CHECK_INT(lp[i].serial, 0x01000001);
		CHECK_STR(lp[i].not_before, "Jan  1 00:00:00 2025 GMT");
		CHECK_STR(lp[i].not_after, "Dec 31 23:59:59 2049 GMT");
		CHECK_INT(lp[i].sig_type, NID_rsassaPss);
		CHECK_INT(lp[i].sig_md, NID_sha256);
	}
	CHECK(lp[0].der_len > 0 && lp[0].der_len == lp[1].der_len &&
	      memcmp(lp[0].der, lp[1].der, (size_t)lp[0].der_len) == 0);
	for (int i = 0; i < N; i++)
		sd_server_stop(ps[i].srv);

	/* The lab key signs with RSA-PSS only (RFC 8446 §4.2.3): a client
	 * must offer an rsa_pss_rsae scheme. */
	for (const struct sd_builtin_file *f = sd_builtin_profiles; f->name; f++) {
		struct sd_profile p;
		struct sd_profile_error perr;

		CHECK_INT(sd_profile_builtin(f->name, &p, &perr), 0);
		if (!has_u16(p.sigalgs.v, p.sigalgs.n, SD_PROFILE_MAX_LIST, 0x0804)) {
			printf("  profile %s does not offer rsa_pss_rsae_sha256\n", f->name);
			CHECK(!"every built-in profile offers rsa_pss_rsae_sha256");
		}
	}
}

/*
 * chain_size steers the flight; measured sizes as the client received them.
 * Every signature of the lab key has the same length, so each size comes
 * out the same from start to start, and to the byte (a byte or two above
 * where a DER length field grows).
 */
static void test_chain_sizes(void)
{
	static const size_t sizes[] = { 0, 0, 5000, 15000, 15000, 20000, 20000 };
	struct sd_buf rec = SD_BUF_INIT;
	struct sd_rng rng;
	size_t msg_len;
	unsigned prev = 0;

	CHECK_INT(hello_records("chrome-pq", "server-2", NULL, &rng, &rec, &msg_len), 0);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t t0 = mono_us(), t1, t2;
		struct sd_server *srv = start(SD_SERVER_OPENSSL, sizes[i], 0, NULL);
		size_t estimate;

		t1 = mono_us();
		if (!srv)
			continue;
		estimate = sd_server_flight_estimate(srv);
		exchange(srv, &rec, 0, 0, &xa);
		t2 = mono_us();
		sd_server_stop(srv);
		printf("  chain_size %5zu: start %.2f ms, estimate %zu, flight written %u, "
		       "received by client %zu, stop %.2f ms\n", sizes[i], (t1 - t0) / 1000.0,
		       estimate, xa.rep.flight_bytes, xa.got, (mono_us() - t2) / 1000.0);
		CHECK_INT(xa.got, xa.rep.bytes_out);
		CHECK(xa.rep.flight_sent);
		/* chrome-pq gets what the calibration client got. */
		CHECK_INT(xa.rep.flight_bytes, estimate);
		if (sizes[i])
			CHECK(xa.rep.flight_bytes >= sizes[i] && xa.rep.flight_bytes <= sizes[i] + 2);
		if (i > 0 && sizes[i] == sizes[i - 1])
			CHECK_INT(xa.rep.flight_bytes, prev);
		prev = xa.rep.flight_bytes;
	}
	sd_buf_free(&rec);
	sd_hello_state_clear(&hst);
}

/* The hello in two pieces 50 ms apart: single-read gives up, openssl waits. */
static void test_split(void)
{
	struct sd_buf rec = SD_BUF_INIT;
	struct sd_server_hello sh;
	struct sd_flight f;
	struct sd_rng rng;
	char want[160];
	size_t msg_len;
	struct sd_server *one = start(SD_SERVER_SINGLE_READ, 0, 0, NULL);
	struct sd_server *full = start(SD_SERVER_OPENSSL, 0, 0, NULL);

	CHECK_INT(hello_records("chrome-pq", "server-3", NULL, &rng, &rec, &msg_len), 0);
	if (one) {
		exchange(one, &rec, 1000, 50, &xa);
		print_report("single-read split", &xa.rep);
		CHECK_INT(xa.rep_ret, 1);
		CHECK(!xa.rep.hello_complete);
		CHECK(xa.rep.failed);
		CHECK_INT(xa.rep.nreads, 1);
		CHECK_INT(xa.rep.read_len[0], 1000);
		CHECK_INT(xa.rep.hello_got, 1000);
		CHECK_INT(xa.rep.hello_need, rec.len);
		snprintf(want, sizeof(want),
			 "ClientHello incomplete after first read: got 1000 of %zu bytes", rec.len);
		CHECK_STR(xa.rep.error, want);
		CHECK_INT(xa.rep.end, SD_END_SERVER_RST);
		CHECK_INT(xa.rep.bytes_out, 0);
		CHECK(xa.got == 0 && (xa.rd_err == ECONNRESET || xa.rd_err == -1));
		printf("  single-read split: client read ended with %s\n",
		       xa.rd_err == ECONNRESET ? "ECONNRESET" : xa.rd_err == -1 ? "EOF" : "?");

		/* The same server with the hello in one piece is fine. */
		exchange(one, &rec, 0, 0, &xb);
		CHECK(xb.rep.hello_complete && xb.rep.flight_sent && !xb.rep.failed);
		CHECK_INT(xb.got, xb.rep.bytes_out);
		sd_server_stop(one);
	}
	if (full) {
		exchange(full, &rec, 1000, 50, &xa);
		print_report("openssl split", &xa.rep);
		CHECK(xa.rep.hello_complete);
		CHECK_INT(xa.rep.nreads, 2);
		CHECK_INT(xa.rep.read_len[0], 1000);
		CHECK_INT(xa.rep.read_len[1], rec.len - 1000);
		CHECK(xa.rep.read_us[1] - xa.rep.read_us[0] >= 45000);
		CHECK_INT(xa.rep.group, SD_GROUP_X25519);
		CHECK(xa.rep.flight_sent);
		CHECK_INT(xa.got, xa.rep.bytes_out);
		CHECK(reply_server_hello(&xa, &sh, &f) == 0 && sh.group == SD_GROUP_X25519);
		sd_flight_free(&f);
		sd_server_stop(full);
	}
	sd_buf_free(&rec);
	sd_hello_state_clear(&hst);
}

/*
 * Not TLS: the chrome-pq hello with a garbage first byte, and plain HTTP.
 * What OpenSSL 3.0 answers, as observed (and as the report must show it):
 * an unknown content type is unexpected_message; a high bit makes it read
 * an SSLv2 header, whose length is then too short (decode_error) or too
 * long (record_overflow); "GET " gets no alert at all.
 */
static void test_garbage(void)
{
	static const struct {
		uint8_t first;
		bool alert;
		uint8_t desc;
		const char *reason;
	} cases[] = {
		{ 0x00, true, 10, "unexpected message" },
		{ 0x47, true, 10, "unexpected message" },
		{ 0x80, true, 50, "length too short" },
		{ 0xff, true, 22, "packet length too long" },
	};
	static const char http[] = "GET / HTTP/1.1\r\nHost: shakedown.test\r\n\r\n";
	struct sd_buf rec = SD_BUF_INIT;
	struct sd_flight f;
	struct sd_rng rng;
	size_t msg_len;
	struct sd_server *srv = start(SD_SERVER_OPENSSL, 0, 0, NULL);

	if (!srv)
		return;
	CHECK_INT(hello_records("chrome-pq", "server-4", NULL, &rng, &rec, &msg_len), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rec.data[0] = cases[i].first;
		exchange(srv, &rec, 0, 0, &xa);
		printf("  first byte 0x%02x: alert sent %u/%u (%s), error \"%s\", end %s\n",
		       cases[i].first, xa.rep.alert_sent_level, xa.rep.alert_sent_desc,
		       sd_tls_alert_name(xa.rep.alert_sent_desc), xa.rep.error,
		       sd_server_end_name(xa.rep.end));
		CHECK_INT(xa.rep_ret, 1);
		CHECK(xa.rep.failed && !xa.rep.hello_complete && !xa.rep.flight_sent);
		CHECK(strstr(xa.rep.error, cases[i].reason) != NULL);
		CHECK_INT(xa.rep.alert_sent, cases[i].alert);
		CHECK_INT(xa.rep.alert_sent_level, 2);
		CHECK_INT(xa.rep.alert_sent_desc, cases[i].desc);
		CHECK_INT(xa.rep.bytes_out, 7);
		CHECK_INT(xa.rep.end, SD_END_SERVER_FIN);
		/* The client got that alert as a plaintext record. */
		CHECK_INT(xa.got, 7);
		if (sd_flight_parse(xa.reply, xa.got, &f) >= 0) {
			CHECK(f.has_alert);
			CHECK_INT(f.alert_level, 2);
			CHECK_INT(f.alert_desc, cases[i].desc);
			sd_flight_free(&f);
		}
	}
	sd_buf_reset(&rec);
	sd_buf_put(&rec, http, sizeof(http) - 1);
	exchange(srv, &rec, 0, 0, &xa);
	printf("  HTTP request: alert sent %d, error \"%s\", end %s\n", xa.rep.alert_sent,
	       xa.rep.error, sd_server_end_name(xa.rep.end));
	CHECK(xa.rep.failed && !xa.rep.alert_sent);
	CHECK(strstr(xa.rep.error, "http request") != NULL);
	CHECK_INT(xa.rep.bytes_out, 0);
	CHECK_INT(xa.rep.end, SD_END_SERVER_FIN);
	sd_buf_free(&rec);
	sd_hello_state_clear(&hst);
	sd_server_stop(srv);
}

/* Only an X25519MLKEM768 share: HelloRetryRequest for X25519, then the retry. */
static void test_hrr(void)
{
	static const uint8_t ccs[] = { SD_CT_CCS, 0x03, 0x03, 0x00, 0x01, 0x01 };
	struct sd_u16list shares = { .v = { SD_GROUP_X25519MLKEM768 }, .n = 1 };
	struct sd_hello_opts o = { .shares = &shares };
	struct sd_buf rec = SD_BUF_INIT, msg = SD_BUF_INIT, rec2 = SD_BUF_INIT;
	struct sd_server_conn snap;
	struct sd_server_hello sh;
	struct sd_flight f;
	struct sd_rng rng;
	uint8_t addr[16], buf[8192];
	uint16_t port;
	size_t msg_len, got;
	int fd, err;
	struct sd_server *srv = start(SD_SERVER_OPENSSL, 0, 0, NULL);

	if (!srv)
		return;
	CHECK_INT(hello_records("chrome-pq", "server-5", &o, &rng, &rec, &msg_len), 0);
	fd = tcp_connect(AF_INET, sd_server_port(srv));
	CHECK(fd >= 0);
	if (fd < 0)
		goto out;
	local_key(fd, addr, &port);
	CHECK(send(fd, rec.data, rec.len, MSG_NOSIGNAL) == (ssize_t)rec.len);
	CHECK_INT(wait_for(srv, addr, port, hrr_out, 3000, &snap), 0);
	got = read_upto(fd, buf, snap.hrr_bytes, &err);
	CHECK_INT(got, snap.hrr_bytes);
	CHECK(sd_flight_parse(buf, got, &f) > 0);
	if (f.nmsgs > 0 && sd_server_hello_parse(sd_flight_msg(&f, 0), f.msgs[0].len, &sh) == 0) {
		CHECK(sh.hrr);
		CHECK_INT(sh.group, SD_GROUP_X25519);
		CHECK_INT(sd_hello_build_retry(&prof, &o, &rng, &hst, sh.group, sh.cookie,
					       sh.cookie_len, &msg), 0);
		CHECK_INT(sd_record_build(&rec2, SD_CT_HANDSHAKE, SD_TLS12, msg.data, msg.len,
					  NULL, 0), 0);
	} else {
		CHECK(!"HelloRetryRequest parses");
	}
	sd_flight_free(&f);
	/* RFC 8446 Appendix D.4: the compatibility CCS before the second hello. */
	CHECK(send(fd, ccs, sizeof(ccs), MSG_NOSIGNAL) == (ssize_t)sizeof(ccs));
	CHECK(send(fd, rec2.data, rec2.len, MSG_NOSIGNAL) == (ssize_t)rec2.len);
	CHECK_INT(wait_for(srv, addr, port, flight_out, 3000, &snap), 0);
	got = read_upto(fd, buf, sizeof(buf) < snap.flight_bytes ? sizeof(buf) : snap.flight_bytes,
			&err);
	CHECK_INT(got, snap.flight_bytes);
	if (sd_flight_parse(buf, got, &f) > 0 &&
	    sd_server_hello_parse(sd_flight_msg(&f, 0), f.msgs[0].len, &sh) == 0) {
		CHECK(!sh.hrr);
		CHECK_INT(sh.group, SD_GROUP_X25519);
	} else {
		CHECK(!"ServerHello after the retry parses");
	}
	sd_flight_free(&f);
	close(fd);
	CHECK_INT(sd_server_report(srv, addr, port, 3000, &snap), 1);
	print_report("hrr", &snap);
	CHECK(snap.hrr);
	CHECK_INT(snap.hrr_group, SD_GROUP_X25519);
	CHECK_INT(snap.hellos, 2);
	CHECK_INT(snap.hello2_len, msg.len);
	CHECK_INT(snap.group, SD_GROUP_X25519);
	CHECK(snap.hrr_bytes > 0 && snap.flight_bytes > 0);
	CHECK_INT(snap.bytes_out, snap.hrr_bytes + snap.flight_bytes);
	CHECK_INT(snap.nshares, 1);
	CHECK_INT(snap.share_groups[0], SD_GROUP_X25519MLKEM768);
out:
	sd_buf_free(&rec);
	sd_buf_free(&rec2);
	sd_buf_free(&msg);
	sd_hello_state_clear(&hst);
	sd_server_stop(srv);
}

static int ossl_handshakes(struct sd_server *srv, int family, int count, uint64_t *us,
			   uint64_t *srv_us);

/* A client that stalls inside the hello: the idle timeout ends it, and
 * meanwhile other connections are served. */
static void test_idle_timeout(void)
{
	struct sd_buf rec = SD_BUF_INIT;
	struct sd_server_conn r;
	struct sd_rng rng;
	uint8_t addr[16], b;
	uint16_t port;
	uint64_t us[1] = { UINT64_MAX };
	size_t msg_len;
	int fd, err, ret;
	struct sd_server *srv = start(SD_SERVER_OPENSSL, 0, 300, NULL);

	if (!srv)
		return;
	CHECK_INT(hello_records("chrome-pq", "server-6", NULL, &rng, &rec, &msg_len), 0);
	fd = tcp_connect(AF_INET, sd_server_port(srv));
	if (fd >= 0) {
		local_key(fd, addr, &port);
		CHECK(send(fd, rec.data, 100, MSG_NOSIGNAL) == 100);
		/* Not final before the timeout: the report so far, then -ETIMEDOUT. */
		ret = sd_server_report(srv, addr, port, 0, &r);
		CHECK(ret == 0 || ret == -ENOENT);
		CHECK_INT(sd_server_report(srv, addr, port, 50, &r), -ETIMEDOUT);
		CHECK(!r.final && r.end == SD_END_OPEN);
		/* Another client is served at once, not after the stalled one. */
		CHECK_INT(ossl_handshakes(srv, AF_INET, 1, us, NULL), 1);
		CHECK(us[0] < 200000);
		CHECK_INT(sd_server_report(srv, addr, port, 0, &r), 0);
		CHECK_INT(sd_server_report(srv, addr, port, 3000, &r), 1);
		CHECK_INT(r.end, SD_END_TIMEOUT);
		CHECK(r.end_us >= 290000 && r.end_us < 1500000);
		CHECK(!r.hello_complete && !r.failed);
		CHECK_INT(r.bytes_in, 100);
		CHECK_INT(read_upto(fd, &b, 1, &err), 0);
		CHECK_INT(err, -1);
		close(fd);
	}
	/* No such client. */
	memset(addr, 0, sizeof(addr));
	CHECK_INT(sd_server_report(srv, addr, 1, 0, &r), -ENOENT);
	CHECK_INT(sd_server_report(srv, addr, 1, 20, &r), -ENOENT);
	CHECK_INT(sd_server_report_seq(srv, sd_server_next_seq(srv) + 5, 20, &r), -ENOENT);
	sd_buf_free(&rec);
	sd_hello_state_clear(&hst);
	sd_server_stop(srv);
}

/* A real `openssl s_client` completes the handshake; the key log has its secrets. */
static void test_s_client(void)
{
	char keylog[] = "/tmp/sd-test-keylog-XXXXXX", portstr[32], text[4096];
	struct sd_server_conn r;
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status = -1, kfd;
	ssize_t n;
	struct sd_server *srv;

	kfd = mkstemp(keylog);
	CHECK(kfd >= 0);
	if (kfd < 0)
		return;
	srv = start(SD_SERVER_OPENSSL, 15000, 0, keylog);
	if (!srv)
		goto out;
	for (int round = 0; round < 2; round++) {
		uint64_t seq = sd_server_next_seq(srv);
		char a0[] = "timeout", a1[] = "5", a2[] = "openssl", a3[] = "s_client",
		     a4[] = "-tls1_3", a5[] = "-connect";
		char *argv[] = { a0, a1, a2, a3, a4, a5, portstr, NULL };

		snprintf(portstr, sizeof(portstr), "127.0.0.1:%u", sd_server_port(srv));
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
		if (posix_spawnp(&pid, "timeout", &fa, NULL, argv, environ) == 0)
			waitpid(pid, &status, 0);
		else
			status = 127 << 8;
		posix_spawn_file_actions_destroy(&fa);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
			printf("  skip: no timeout(1) or openssl(1) here\n");
			sd_server_stop(srv);
			goto out;
		}
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		CHECK_INT(sd_server_report_seq(srv, seq, 3000, &r), 1);
		print_report("s_client", &r);
		CHECK(r.hello_complete && r.handshake_done && !r.failed);
		CHECK_INT(r.group, SD_GROUP_X25519);
		CHECK(r.cipher == 0x1301 || r.cipher == 0x1302 || r.cipher == 0x1303);
		CHECK(r.flight_bytes >= 14900 && r.flight_bytes <= 15100);
		CHECK(r.alert_recv && r.alert_recv_desc == 0);   /* close_notify */
		/* The NewSessionTicket after the client's Finished is not flight:
		 * a stateful ticket, a 57-byte message (RFC 8446 §4.6.1: a 32-byte
		 * ticket, an 8-byte nonce) in a 79-byte record. */
		CHECK(r.bytes_out >= r.flight_bytes + 79);
		if (round == 0)
			printf("  s_client: cipher 0x%04x, flight %u, handshake %u us after accept, "
			       "end %s\n", r.cipher, r.flight_bytes, r.handshake_us,
			       sd_server_end_name(r.end));
	}
	sd_server_stop(srv);
	n = pread(kfd, text, sizeof(text) - 1, 0);
	text[n > 0 ? n : 0] = 0;
	CHECK(strstr(text, "SERVER_HANDSHAKE_TRAFFIC_SECRET ") != NULL);
	CHECK(strstr(text, "CLIENT_TRAFFIC_SECRET_0 ") != NULL);
	CHECK(n > 0 && text[n - 1] == '\n');
out:
	close(kfd);
	unlink(keylog);
}

/* An in-process OpenSSL client over a socket: handshake timing and many reports. */
static int ossl_handshakes(struct sd_server *srv, int family, int count, uint64_t *us,
			   uint64_t *srv_us)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	int ok = 0;

	if (!ctx)
		return 0;
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_max_cert_list(ctx, 4 * SD_SERVER_MAX_CHAIN);
	for (int i = 0; i < count; i++) {
		struct sd_server_conn r;
		uint8_t addr[16];
		uint16_t port;
		uint64_t t0 = mono_us();
		int fd = tcp_connect(family, sd_server_port(srv));
		SSL *ssl;

		if (fd < 0)
			continue;
		ssl = SSL_new(ctx);
		SSL_set_fd(ssl, fd);
		if (SSL_connect(ssl) == 1) {
			if (us)
				us[i] = mono_us() - t0;
			local_key(fd, addr, &port);
			(void)SSL_shutdown(ssl);
			close(fd);
			if (sd_server_report(srv, addr, port, 3000, &r) == 1 && r.handshake_done &&
			    r.port == port) {
				ok++;
				/* ClientHello in to flight handed to the kernel. */
				if (srv_us)
					srv_us[i] = r.flight_us - r.first_byte_us;
			}
		} else {
			ERR_print_errors_fp(stderr);
			close(fd);
		}
		SSL_free(ssl);
	}
	SSL_CTX_free(ctx);
	return ok;
}

static void test_timing(void)
{
	enum { N = 50 };
	uint64_t us[N], srv_us[N], start_us[5], stop_us[5];
	struct sd_server_conn r;

	for (int i = 0; i < 5; i++) {
		uint64_t t0 = mono_us(), t1;
		struct sd_server *srv = start(SD_SERVER_OPENSSL, i < 3 ? 0 : 20000, 0, NULL);

		t1 = mono_us();
		sd_server_stop(srv);
		start_us[i] = t1 - t0;
		stop_us[i] = mono_us() - t1;
	}
	printf("  start (chain 0): %.2f %.2f %.2f ms; start (chain 20000): %.2f %.2f ms; "
	       "stop: %.2f .. %.2f ms\n", start_us[0] / 1e3, start_us[1] / 1e3, start_us[2] / 1e3,
	       start_us[3] / 1e3, start_us[4] / 1e3, stop_us[0] / 1e3, stop_us[4] / 1e3);

	for (int chain = 0; chain <= 20000; chain += 20000) {
		struct sd_server *srv = start(SD_SERVER_OPENSSL, (size_t)chain, 0, NULL);

		if (!srv)
			continue;
		memset(us, 0, sizeof(us));
		memset(srv_us, 0, sizeof(srv_us));
		CHECK_INT(ossl_handshakes(srv, AF_INET, N, us, srv_us), N);
		qsort(us, N, sizeof(us[0]), cmp_u64);
		qsort(srv_us, N, sizeof(srv_us[0]), cmp_u64);
		/* Every one of them is on record, by accept order too. */
		CHECK_INT(sd_server_next_seq(srv), N);
		CHECK_INT(sd_server_report_seq(srv, 0, 0, &r), 1);
		CHECK_INT(sd_server_report_seq(srv, N - 1, 0, &r), 1);
		CHECK(r.handshake_done);
		printf("  in-process handshakes on 127.0.0.1, chain %d: median %.3f ms, "
		       "min %.3f, max %.3f; server hello-to-flight median %.3f ms, min %.3f\n",
		       chain, us[N / 2] / 1e3, us[0] / 1e3, us[N - 1] / 1e3, srv_us[N / 2] / 1e3,
		       srv_us[0] / 1e3);
		sd_server_stop(srv);
	}
}

/* ---- inside a fresh network namespace --------------------------------------- */

struct ns_result {
	int unshare_err;
	int lo_err;
	uint16_t port;
	int ok4, ok6;
	bool pq_ok;
};

static void *ns_main(void *arg)
{
	struct ns_result *res = arg;
	struct sd_server_cfg c6 = { .family = AF_INET6, .addr = "::1" };
	struct sd_buf rec = SD_BUF_INIT;
	struct sd_server *srv, *srv6 = NULL;
	struct sd_rng rng;
	size_t msg_len;

	if (unshare(CLONE_NEWNET) < 0) {
		res->unshare_err = errno;
		return NULL;
	}
	if ((res->lo_err = lo_up()) < 0)
		return NULL;
	srv = start(SD_SERVER_OPENSSL, 15000, 0, NULL);
	if (!srv)
		return NULL;
	res->port = sd_server_port(srv);
	if (hello_records("chrome-pq", "server-ns", NULL, &rng, &rec, &msg_len) == 0) {
		exchange(srv, &rec, 0, 0, &xa);
		res->pq_ok = xa.rep.hello_complete && xa.rep.group == SD_GROUP_X25519 &&
			     xa.got == xa.rep.bytes_out && xa.rep.flight_bytes > 14900;
		print_report("netns chrome-pq", &xa.rep);
	}
	res->ok4 = ossl_handshakes(srv, AF_INET, 3, NULL, NULL);
	c6.port = 0;
	if (sd_server_start(&c6, &srv6) == 0)
		res->ok6 = ossl_handshakes(srv6, AF_INET6, 3, NULL, NULL);
	sd_server_stop(srv6);
	/* Stopped from the host namespace's thread below: stopping is not
	 * tied to the namespace. Here only the ones this thread owns. */
	sd_server_stop(srv);
	sd_buf_free(&rec);
	sd_hello_state_clear(&hst);
	return NULL;
}

static void test_netns(void)
{
	struct ns_result res = { 0 };
	pthread_t t;
	int fd;

	CHECK_INT(pthread_create(&t, NULL, ns_main, &res), 0);
	pthread_join(t, NULL);
	CHECK_INT(res.unshare_err, 0);
	CHECK_INT(res.lo_err, 0);
	CHECK(res.pq_ok);
	CHECK_INT(res.ok4, 3);
	CHECK_INT(res.ok6, 3);
	/* That server was never reachable from here (it is stopped by now
	 * anyway; the port is simply not ours). */
	if (res.port) {
		fd = tcp_connect(AF_INET, res.port);
		CHECK(fd < 0);
		if (fd >= 0)
			close(fd);
	}
}

/* CAP_NET_ADMIN as this test needs it: can a thread get its own namespace? */
static void *probe_main(void *arg)
{
	*(int *)arg = unshare(CLONE_NEWNET) < 0 ? errno : 0;
	return NULL;
}

static void test_bad_config(void)
{
	struct sd_server_cfg cfg = { .family = AF_INET, .addr = "not-an-address" };
	struct sd_server *srv = (struct sd_server *)&cfg;

	CHECK_INT(sd_server_start(&cfg, &srv), -SD_ESYNTAX);
	CHECK(srv == NULL);
	cfg.addr = "127.0.0.1";
	cfg.chain_size = SD_SERVER_MAX_CHAIN + 1;
	CHECK_INT(sd_server_start(&cfg, &srv), -SD_EVALUE);
	cfg.chain_size = 0;
	cfg.mode = (enum sd_server_mode)7;
	CHECK_INT(sd_server_start(&cfg, &srv), -SD_EVALUE);
	cfg.mode = SD_SERVER_OPENSSL;
	cfg.keylog_path = "/nonexistent-dir/keylog";
	CHECK_INT(sd_server_start(&cfg, &srv), -ENOENT);
	sd_server_stop(NULL);
	enum sd_server_mode m;
	CHECK_INT(sd_server_mode_parse("single-read", &m), 0);
	CHECK_INT(m, SD_SERVER_SINGLE_READ);
	CHECK_INT(sd_server_mode_parse("nginx", &m), 0);
	CHECK_INT(m, SD_SERVER_NGINX);
	CHECK_INT(sd_server_mode_parse("apache", &m), -SD_EUNKNOWN);
	CHECK_STR(sd_server_mode_name(SD_SERVER_OPENSSL), "openssl");
	CHECK_INT(sd_server_group_from_nid(NID_X9_62_prime256v1), SD_GROUP_SECP256R1);
	CHECK_INT(sd_server_group_from_nid(NID_ffdhe8192), SD_GROUP_FFDHE8192);
	CHECK_INT(sd_server_group_from_nid(0x1000000 | 0x11ec), SD_GROUP_X25519MLKEM768);
	CHECK_INT(sd_server_group_from_nid(NID_sha256), 0);
}

int main(void)
{
	pthread_t t;
	int err = -1;

	if (pthread_create(&t, NULL, probe_main, &err) != 0)
		return 77;
	pthread_join(t, NULL);
	if (err) {
		printf("skip: no CAP_NET_ADMIN for a network namespace (%s)\n", strerror(err));
		return 77;
	}
	printf("config\n");
	test_bad_config();
	printf("lab certificate\n");
	test_lab_cert();
	printf("chrome-pq\n");
	test_chrome_pq();
	printf("chain sizes\n");
	test_chain_sizes();
	printf("split hello\n");
	test_split();
	printf("garbage\n");
	test_garbage();
	printf("hello retry\n");
	test_hrr();
	printf("idle timeout\n");
	test_idle_timeout();
	printf("openssl s_client\n");
	test_s_client();
	printf("timing\n");
	test_timing();
	printf("network namespace\n");
	test_netns();
	return check_done();
}
