/* SPDX-License-Identifier: MIT */
/* The TLS 1.3 client session against a real OpenSSL server over memory BIOs:
 * key schedule, HRR, every cipher suite, Finished both ways. */
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "check.h"
#include "shakedown/record.h"
#include "shakedown/tls.h"
#include "shakedown/tls13.h"

static EVP_PKEY *key;
static X509 *cert;

static void make_cert(void)
{
	X509_NAME *n;

	key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	cert = X509_new();
	X509_set_version(cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
	X509_gmtime_adj(X509_getm_notBefore(cert), 0);
	X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
	X509_set_pubkey(cert, key);
	n = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"t", -1, -1, 0);
	X509_set_issuer_name(cert, n);
	X509_sign(cert, key, EVP_sha256());
}

struct run {
	const char *profile;
	const char *server_groups;   /* NULL: OpenSSL's default */
	const char *suites;          /* NULL: default */
	bool request_cert;
	size_t records;              /* record size for our hellos */
	bool corrupt;                /* flip a byte of the server's encrypted flight */
	/* results */
	enum sd_sess_state state;
	bool hrr, server_done;
	uint16_t group, cipher;
	char why[160];
};

static void pump(SSL *ssl, BIO *to_server, BIO *from_server, struct sd_buf *srv_stream)
{
	uint8_t tmp[16384];
	int n;

	(void)to_server;
	SSL_do_handshake(ssl);
	while ((n = BIO_read(from_server, tmp, sizeof(tmp))) > 0)
		sd_buf_put(srv_stream, tmp, (size_t)n);
}

static void run_one(struct run *r)
{
	static struct sd_profile p;
	static struct sd_hello_state st;
	struct sd_profile_error perr;
	struct sd_rng rng;
	struct sd_buf ch = SD_BUF_INIT, wire = SD_BUF_INIT, srv = SD_BUF_INIT, out = SD_BUF_INIT;
	struct sd_session s;
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	SSL *ssl;
	BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
	size_t rec = r->records ? r->records : SD_RECORD_PLAIN_MAX;

	CHECK_INT(sd_profile_builtin(r->profile, &p, &perr), 0);
	CHECK_INT(sd_rng_seed(&rng, r->profile), 0);
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_use_certificate(ctx, cert);
	SSL_CTX_use_PrivateKey(ctx, key);
	if (r->server_groups)
		CHECK_INT(SSL_CTX_set1_groups_list(ctx, r->server_groups), 1);
	if (r->suites)
		CHECK_INT(SSL_CTX_set_ciphersuites(ctx, r->suites), 1);
	if (r->request_cert)
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	ssl = SSL_new(ctx);
	SSL_set_bio(ssl, rb, wb);
	SSL_set_accept_state(ssl);

	CHECK_INT(sd_hello_build(&p, NULL, &rng, &st, &ch), 0);
	CHECK_INT(sd_record_build(&wire, SD_CT_HANDSHAKE, p.record_version, ch.data, ch.len, &rec, 1), 0);
	BIO_write(rb, wire.data, (int)wire.len);
	pump(ssl, rb, wb, &srv);

	sd_session_init(&s);
	s.profile = &p;
	s.rng = &rng;
	s.hs = &st;
	s.ch1 = ch.data;
	s.ch1_len = ch.len;
	s.records = r->records;
	for (int round = 0; round < 4; round++) {
		if (r->corrupt && srv.len > 200)
			srv.data[srv.len - 20] ^= 1;
		sd_session_feed(&s, srv.data, srv.len, &out);
		if (out.len) {
			BIO_write(rb, out.data, (int)out.len);
			out.len = 0;
			pump(ssl, rb, wb, &srv);
		}
		if (s.state == SD_SESS_DONE || s.state == SD_SESS_FAILED)
			break;
	}
	r->state = s.state;
	r->hrr = s.hrr;
	r->group = s.group;
	r->cipher = s.cipher;
	r->server_done = SSL_is_init_finished(ssl);
	if (!r->server_done && s.state == SD_SESS_DONE) {
		fprintf(stderr, "%s: server not finished:", r->profile);
		ERR_print_errors_fp(stderr);
	}
	snprintf(r->why, sizeof(r->why), "%s", s.why);
	if (s.state != SD_SESS_DONE && !r->corrupt)
		fprintf(stderr, "%s: session failed: %s\n", r->profile, s.why);
	sd_session_free(&s);
	sd_hello_state_clear(&st);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	sd_buf_free(&ch);
	sd_buf_free(&wire);
	sd_buf_free(&srv);
	sd_buf_free(&out);
}

int main(void)
{
	struct run r;

	make_cert();

	/* Chrome-like: OpenSSL 3.0 knows no ML-KEM and takes the X25519 share. */
	r = (struct run){ .profile = "chrome-pq" };
	run_one(&r);
	CHECK_INT(r.state, SD_SESS_DONE);
	CHECK(r.server_done);
	CHECK_INT(r.group, SD_GROUP_X25519);
	CHECK(!r.hrr);

	/* A server that only does P-256: HelloRetryRequest, second hello, done. */
	r = (struct run){ .profile = "classic", .server_groups = "P-256" };
	run_one(&r);
	CHECK_INT(r.state, SD_SESS_DONE);
	CHECK(r.hrr);
	CHECK(r.server_done);
	CHECK_INT(r.group, SD_GROUP_SECP256R1);

	/* P-384 through an HRR, in small records. */
	r = (struct run){ .profile = "chrome-pq", .server_groups = "P-384", .records = 300 };
	run_one(&r);
	CHECK_INT(r.state, SD_SESS_DONE);
	CHECK(r.hrr);
	CHECK(r.server_done);
	CHECK_INT(r.group, SD_GROUP_SECP384R1);

	/* Firefox's P-256 share directly. */
	r = (struct run){ .profile = "firefox-pq", .server_groups = "P-256" };
	run_one(&r);
	CHECK_INT(r.state, SD_SESS_DONE);
	CHECK(!r.hrr);
	CHECK_INT(r.group, SD_GROUP_SECP256R1);
	CHECK(r.server_done);

	/* Every cipher suite: SHA-384 and ChaCha20-Poly1305 paths. */
	r = (struct run){ .profile = "chrome-pq", .suites = "TLS_AES_256_GCM_SHA384" };
	run_one(&r);
	CHECK_INT(r.state, SD_SESS_DONE);
	CHECK_INT(r.cipher, 0x1302);
	CHECK(r.server_done);
	r = (struct run){ .profile = "chrome-pq", .suites = "TLS_CHACHA20_POLY1305_SHA256" };
	run_one(&r);
	CHECK_INT(r.state, SD_SESS_DONE);
	CHECK_INT(r.cipher, 0x1303);
	CHECK(r.server_done);

	/* A server asking for a client certificate gets an empty one. */
	r = (struct run){ .profile = "chrome-pq", .request_cert = true };
	run_one(&r);
	CHECK_INT(r.state, SD_SESS_DONE);
	CHECK(r.server_done);

	/* No common group at all: the server's alert is reported. */
	r = (struct run){ .profile = "classic", .server_groups = "ffdhe2048" };
	run_one(&r);
	CHECK_INT(r.state, SD_SESS_FAILED);
	CHECK(strstr(r.why, "alert") != NULL);

	/* A damaged server flight does not pass as a handshake. */
	r = (struct run){ .profile = "chrome-pq", .corrupt = true };
	run_one(&r);
	CHECK_INT(r.state, SD_SESS_FAILED);
	CHECK(!r.server_done);

	X509_free(cert);
	EVP_PKEY_free(key);
	return check_done();
}
