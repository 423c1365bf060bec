/* SPDX-License-Identifier: MIT */
/* ClientHello building and dissection, ServerHello/HRR parsing, the field map. */
#include <stdlib.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>

#include "check.h"
#include "shakedown/hello.h"
#include "shakedown/mlkem.h"
#include "shakedown/profile.h"
#include "shakedown/rng.h"
#include "shakedown/tls.h"

/* Large: keep them off the stack. */
static struct sd_profile prof;
static struct sd_hello_state st, st2;
static struct sd_hello h, h2;

static int load(const char *name)
{
	struct sd_profile_error err;
	int ret = sd_profile_builtin(name, &prof, &err);

	if (ret < 0)
		fprintf(stderr, "profile %s:%d: %s\n", name, err.line, err.msg);
	return ret;
}

/* Builds the named built-in profile with seed into msg and parses it into hp. */
static int build_parse(const char *name, const char *seed, const struct sd_hello_opts *o,
		       struct sd_hello_state *s, struct sd_buf *msg, struct sd_hello *hp)
{
	struct sd_rng rng;
	int ret;

	if ((ret = load(name)) < 0)
		return ret;
	if ((ret = sd_rng_seed(&rng, seed)) < 0)
		return ret;
	sd_buf_reset(msg);
	if ((ret = sd_hello_build(&prof, o, &rng, s, msg)) < 0)
		return ret;
	return sd_hello_parse(msg->data, msg->len, hp);
}

static const struct sd_share_view *share(const struct sd_hello *hp, uint16_t group)
{
	for (size_t i = 0; i < hp->nshares; i++)
		if (hp->shares[i].group == group)
			return &hp->shares[i];
	return NULL;
}

static const struct sd_kex_priv *key_for(const struct sd_hello_state *s, uint16_t group)
{
	for (size_t i = 0; i < s->nkeys; i++)
		if (s->keys[i].group == group)
			return &s->keys[i];
	return NULL;
}

static bool has_group(const struct sd_hello *hp, uint16_t group)
{
	for (size_t i = 0; i < hp->ngroups; i++)
		if (hp->groups[i] == group)
			return true;
	return false;
}

static size_t real_shares(const struct sd_hello *hp)
{
	size_t n = 0;

	for (size_t i = 0; i < hp->nshares; i++)
		n += !sd_tls_is_grease(hp->shares[i].group);
	return n;
}

/* An ML-KEM encapsulation key in a share must be one a server can
 * encapsulate to, and the kept decapsulation key must open the result. */
static void check_mlkem(enum sd_mlkem_param param, const uint8_t *ek,
			const struct sd_kex_priv *k)
{
	uint8_t m[32], ct[SD_MLKEM_CT_MAX], ss1[32], ss2[32];
	size_t eklen = sd_mlkem_ek_len(param);

	memset(m, 0x5a, sizeof(m));
	CHECK(k != NULL);
	if (!k)
		return;
	CHECK_INT(k->mlkem_dk_len, sd_mlkem_dk_len(param));
	/* FIPS 203 dk = dk_pke || ek || H(ek) || z: the ek inside is the one sent. */
	CHECK_MEM(k->mlkem_dk + 384 * (size_t)param, ek, eklen);
	CHECK_INT(sd_mlkem_encaps(param, ek, m, ct, ss1), 0);
	CHECK_INT(sd_mlkem_decaps(param, k->mlkem_dk, ct, ss2), 0);
	CHECK_MEM(ss1, ss2, 32);
}

/* The X25519 public key must be the one of the kept private scalar. */
static void check_x25519(const uint8_t *pub, const struct sd_kex_priv *k)
{
	EVP_PKEY *pk;
	uint8_t want[32];
	size_t len = sizeof(want);

	CHECK(k != NULL);
	if (!k)
		return;
	CHECK_INT(k->ecdh_len, 32);
	pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, k->ecdh, 32);
	CHECK(pk != NULL);
	if (!pk)
		return;
	CHECK_INT(EVP_PKEY_get_raw_public_key(pk, want, &len), 1);
	CHECK_INT(len, 32);
	CHECK_MEM(pub, want, 32);
	EVP_PKEY_free(pk);
}

/* An uncompressed SEC1 point on the curve, equal to k·G. */
static void check_ec(int nid, const uint8_t *pt, size_t len, const struct sd_kex_priv *k)
{
	EC_GROUP *g = EC_GROUP_new_by_curve_name(nid);
	EC_POINT *p = g ? EC_POINT_new(g) : NULL, *q = g ? EC_POINT_new(g) : NULL;
	BN_CTX *bn = BN_CTX_new();
	BIGNUM *d = NULL;

	CHECK(g && p && q && bn);
	if (!g || !p || !q || !bn)
		goto out;
	CHECK_INT(pt[0], 0x04);
	CHECK_INT(EC_POINT_oct2point(g, p, pt, len, bn), 1);
	CHECK_INT(EC_POINT_is_on_curve(g, p, bn), 1);
	CHECK(k != NULL);
	if (!k)
		goto out;
	d = BN_bin2bn(k->ecdh, (int)k->ecdh_len, NULL);
	CHECK(d != NULL);
	if (!d)
		goto out;
	CHECK_INT(EC_POINT_mul(g, q, d, NULL, NULL, bn), 1);
	CHECK_INT(EC_POINT_cmp(g, p, q, bn), 0);
out:
	BN_free(d);
	EC_POINT_free(p);
	EC_POINT_free(q);
	EC_GROUP_free(g);
	BN_CTX_free(bn);
}

struct field_walk {
	size_t next;       /* where the next top-level field should start */
	bool contiguous;
	size_t nshare_fields;
	size_t mlkem_field_len;
};

static void on_field(void *ctx, int depth, const char *name, size_t offset, size_t len)
{
	struct field_walk *w = ctx;

	if (depth == 0) {
		if (offset != w->next)
			w->contiguous = false;
		w->next = offset + len;
		return;
	}
	w->nshare_fields++;
	if (strcmp(name, "key_share entry X25519MLKEM768") == 0)
		w->mlkem_field_len = len;
}

static void test_builtins(void)
{
	struct sd_buf msg = SD_BUF_INIT;
	const struct sd_share_view *s;
	size_t nprofiles = 0;

	/* Every built-in builds and parses back. */
	for (const struct sd_builtin_file *f = sd_builtin_profiles; f->name; f++) {
		nprofiles++;
		CHECK_INT(build_parse(f->name, "test", NULL, &st, &msg, &h), 0);
		CHECK_INT(h.len, msg.len);
		CHECK(h.has_key_share);
		CHECK(h.nversions > 0);
		/* Every real share has the length its group defines. */
		for (size_t i = 0; i < h.nshares; i++) {
			uint16_t g = h.shares[i].group;

			if (sd_tls_is_grease(g))
				CHECK_INT(h.shares[i].len, 1);
			else
				CHECK_INT(h.shares[i].len, sd_tls_group_client_share_len(g));
		}
		CHECK_INT(st.nkeys, real_shares(&h));
	}
	CHECK_INT(nprofiles, 9);

	/* chrome-pq: GREASE share, X25519MLKEM768, X25519 — exactly the
	 * Chromium 156 capture's 1922-byte handshake body (no SNI there). */
	CHECK_INT(build_parse("chrome-pq", "test", NULL, &st, &msg, &h), 0);
	CHECK_INT(h.nshares, 3);
	CHECK(sd_tls_is_grease(h.shares[0].group));
	CHECK_INT(h.shares[0].len, 1);
	CHECK_INT(h.shares[1].group, SD_GROUP_X25519MLKEM768);
	CHECK_INT(h.shares[1].len, 1216);
	CHECK_INT(h.shares[2].group, SD_GROUP_X25519);
	CHECK_INT(h.shares[2].len, 32);
	CHECK(h.len - 4 >= 1700 && h.len - 4 <= 2100);
	CHECK_INT(h.len - 4, 1922);
	CHECK(h.sni == NULL);
	CHECK(sd_hello_ext(&h, SD_EXT_SERVER_NAME) == NULL);
	CHECK(sd_tls_is_grease(h.ciphers[0]));
	CHECK(sd_tls_is_grease(h.groups[0]));
	CHECK(sd_tls_is_grease(h.versions[0]));
	CHECK(sd_tls_is_grease(h.ext[0].type));
	CHECK(sd_tls_is_grease(h.ext[h.next - 1].type));
	/* GREASE group in supported_groups and key_share is one value (RFC 8701 §3.1). */
	CHECK_INT(h.shares[0].group, h.groups[0]);
	CHECK_INT(h.session_id.len, 32);
	CHECK(sd_hello_ext(&h, SD_EXT_ECH) != NULL);
	CHECK(sd_hello_ext(&h, SD_EXT_PADDING) == NULL);
	CHECK_INT(h.nalpn, 2);
	s = share(&h, SD_GROUP_X25519MLKEM768);
	if (s) {
		/* draft-ietf-tls-ecdhe-mlkem: ML-KEM-768 ek, then X25519. */
		check_mlkem(SD_MLKEM768, s->data, key_for(&st, SD_GROUP_X25519MLKEM768));
		check_x25519(s->data + 1184, key_for(&st, SD_GROUP_X25519MLKEM768));
	}
	s = share(&h, SD_GROUP_X25519);
	if (s)
		check_x25519(s->data, key_for(&st, SD_GROUP_X25519));
	{
		struct field_walk w = { .next = 0, .contiguous = true };

		sd_hello_fields(&h, on_field, &w);
		CHECK(w.contiguous);
		CHECK_INT(w.next, h.len);
		CHECK_INT(w.nshare_fields, 3);
		CHECK_INT(w.mlkem_field_len, 4 + 1216);
	}

	/* classic: one X25519 share, padded BoringSSL-style, under 600 bytes. */
	CHECK_INT(build_parse("classic", "test", NULL, &st, &msg, &h), 0);
	CHECK(h.len < 600);
	CHECK_INT(real_shares(&h), 1);
	CHECK(share(&h, SD_GROUP_X25519) != NULL);
	CHECK(!has_group(&h, SD_GROUP_X25519MLKEM768));
	CHECK(sd_hello_ext(&h, SD_EXT_APPLICATION_SETTINGS_OLD) != NULL);
	/* BoringSSL pads 256..511-byte bodies to 512. */
	if (sd_hello_ext(&h, SD_EXT_PADDING))
		CHECK_INT(h.len - 4, 512);
	CHECK(h.len - 4 < 256 || h.len - 4 >= 512);

	/* kyber-draft: X25519Kyber768Draft00, X25519 first then Kyber768. */
	CHECK_INT(build_parse("kyber-draft", "test", NULL, &st, &msg, &h), 0);
	s = share(&h, SD_GROUP_X25519KYBER768D00);
	CHECK(s != NULL);
	if (s) {
		CHECK_INT(s->len, 1216);
		check_x25519(s->data, key_for(&st, SD_GROUP_X25519KYBER768D00));
		check_mlkem(SD_MLKEM768, s->data + 32, key_for(&st, SD_GROUP_X25519KYBER768D00));
	}

	/* p256-mlkem768: SecP256r1MLKEM768, the P-256 point first (65 + 1184). */
	CHECK_INT(build_parse("p256-mlkem768", "test", NULL, &st, &msg, &h), 0);
	CHECK_INT(h.nshares, 1);
	s = share(&h, SD_GROUP_SECP256R1MLKEM768);
	CHECK(s != NULL);
	if (s) {
		CHECK_INT(s->len, 1249);
		check_ec(NID_X9_62_prime256v1, s->data, 65, key_for(&st, SD_GROUP_SECP256R1MLKEM768));
		check_mlkem(SD_MLKEM768, s->data + 65, key_for(&st, SD_GROUP_SECP256R1MLKEM768));
	}

	/* p384-mlkem1024: SecP384r1MLKEM1024 (97 + 1568). */
	CHECK_INT(build_parse("p384-mlkem1024", "test", NULL, &st, &msg, &h), 0);
	CHECK_INT(h.nshares, 1);
	s = share(&h, SD_GROUP_SECP384R1MLKEM1024);
	CHECK(s != NULL);
	if (s) {
		CHECK_INT(s->len, 1665);
		check_ec(NID_secp384r1, s->data, 97, key_for(&st, SD_GROUP_SECP384R1MLKEM1024));
		check_mlkem(SD_MLKEM1024, s->data + 97, key_for(&st, SD_GROUP_SECP384R1MLKEM1024));
	}

	/* mlkem1024: a pure ML-KEM-1024 share. */
	CHECK_INT(build_parse("mlkem1024", "test", NULL, &st, &msg, &h), 0);
	CHECK_INT(h.nshares, 1);
	s = share(&h, SD_GROUP_MLKEM1024);
	CHECK(s != NULL);
	if (s) {
		CHECK_INT(s->len, 1568);
		check_mlkem(SD_MLKEM1024, s->data, key_for(&st, SD_GROUP_MLKEM1024));
	}

	/* firefox-pq: three shares, the third a 65-byte P-256 point; no GREASE. */
	CHECK_INT(build_parse("firefox-pq", "test", NULL, &st, &msg, &h), 0);
	CHECK_INT(h.nshares, 3);
	CHECK_INT(h.shares[0].group, SD_GROUP_X25519MLKEM768);
	CHECK_INT(h.shares[1].group, SD_GROUP_X25519);
	CHECK_INT(h.shares[2].group, SD_GROUP_SECP256R1);
	CHECK_INT(h.shares[2].len, 65);
	check_ec(NID_X9_62_prime256v1, h.shares[2].data, 65, key_for(&st, SD_GROUP_SECP256R1));
	for (size_t i = 0; i < h.nciphers; i++)
		CHECK(!sd_tls_is_grease(h.ciphers[i]));
	CHECK(sd_hello_ext(&h, SD_EXT_RECORD_SIZE_LIMIT) != NULL);
	CHECK(sd_hello_ext(&h, SD_EXT_DELEGATED_CREDENTIAL) != NULL);

	/* pq-advertise-only: X25519MLKEM768 offered, only an X25519 share. */
	CHECK_INT(build_parse("pq-advertise-only", "test", NULL, &st, &msg, &h), 0);
	CHECK_INT(real_shares(&h), 1);
	CHECK(share(&h, SD_GROUP_X25519) != NULL);
	CHECK(share(&h, SD_GROUP_X25519MLKEM768) == NULL);
	CHECK(has_group(&h, SD_GROUP_X25519MLKEM768));

	/* openssl35: X25519MLKEM768 + X25519, no GREASE anywhere. */
	CHECK_INT(build_parse("openssl35", "test", NULL, &st, &msg, &h), 0);
	CHECK_INT(h.nshares, 2);
	CHECK_INT(h.shares[0].group, SD_GROUP_X25519MLKEM768);
	CHECK_INT(h.shares[1].group, SD_GROUP_X25519);
	for (size_t i = 0; i < h.next; i++)
		CHECK(!sd_tls_is_grease(h.ext[i].type));

	sd_buf_free(&msg);
}

static void test_seeds(void)
{
	struct sd_buf a = SD_BUF_INIT, b = SD_BUF_INIT;

	/* Same seed, same bytes: random, GREASE, key shares, shuffled order. */
	CHECK_INT(build_parse("chrome-pq", "test", NULL, &st, &a, &h), 0);
	CHECK_INT(build_parse("chrome-pq", "test", NULL, &st2, &b, &h2), 0);
	CHECK_INT(a.len, b.len);
	if (a.len == b.len)
		CHECK_MEM(a.data, b.data, a.len);
	CHECK_MEM(st.random, st2.random, 32);

	/* Another seed: other random, other session id, other shares. */
	CHECK_INT(build_parse("chrome-pq", "test2", NULL, &st2, &b, &h2), 0);
	CHECK(a.len != b.len || memcmp(a.data, b.data, a.len) != 0);
	CHECK(memcmp(h.random, h2.random, 32) != 0);
	CHECK(memcmp(h.msg + h.session_id.offset, h2.msg + h2.session_id.offset, 32) != 0);
	{
		const struct sd_share_view *x = share(&h, SD_GROUP_X25519MLKEM768);
		const struct sd_share_view *y = share(&h2, SD_GROUP_X25519MLKEM768);

		CHECK(x && y);
		if (x && y)
			CHECK(memcmp(x->data, y->data, x->len) != 0);
	}
	/* Chrome-style shuffling still keeps GREASE at both ends. */
	CHECK(sd_tls_is_grease(h2.ext[0].type));
	CHECK(sd_tls_is_grease(h2.ext[h2.next - 1].type));

	sd_buf_free(&a);
	sd_buf_free(&b);
}

static void test_opts(void)
{
	struct sd_buf msg = SD_BUF_INIT;
	struct sd_hello_opts o = { 0 };
	const struct sd_ext_view *e;
	struct sd_rng rng;
	size_t unpadded;

	/* pad_to: the message is exactly that long, with a padding extension
	 * of zero bytes (RFC 7685 §3). */
	o.pad_to = 1500;
	CHECK_INT(build_parse("classic", "test", &o, &st, &msg, &h), 0);
	CHECK_INT(msg.len, 1500);
	CHECK_INT(h.len, 1500);
	e = sd_hello_ext(&h, SD_EXT_PADDING);
	CHECK(e != NULL);
	if (e) {
		CHECK_INT(e->len, 1500 - st.unpadded_len - 4);
		for (size_t i = 0; i < e->len; i++)
			if (e->body[i]) {
				CHECK(!"padding byte not zero");
				break;
			}
	}
	unpadded = st.unpadded_len;

	/* The smallest pad_to is the hello plus an empty padding extension. */
	o.pad_to = unpadded + 4;
	CHECK_INT(build_parse("classic", "test", &o, &st, &msg, &h), 0);
	CHECK_INT(h.len, unpadded + 4);
	e = sd_hello_ext(&h, SD_EXT_PADDING);
	CHECK(e != NULL);
	if (e)
		CHECK_INT(e->len, 0);
	o.pad_to = unpadded + 3;
	CHECK_INT(build_parse("classic", "test", &o, &st, &msg, &h), -SD_EVALUE);
	o.pad_to = 100;
	CHECK_INT(build_parse("chrome-pq", "test", &o, &st, &msg, &h), -SD_EVALUE);
	/* The padding body has a 2-byte length. */
	o.pad_to = unpadded + 4 + 0x10000;
	CHECK_INT(build_parse("classic", "test", &o, &st, &msg, &h), -SD_EVALUE);

	/* SNI override appears in the parsed server_name. */
	memset(&o, 0, sizeof(o));
	o.sni = "example.com";
	CHECK_INT(build_parse("chrome-pq", "test", &o, &st, &msg, &h), 0);
	CHECK_INT(h.sni_len, 11);
	if (h.sni && h.sni_len == 11)
		CHECK_MEM(h.sni, "example.com", 11);
	/* server_name adds 4 + 2 + 1 + 2 + 11 bytes to the 1922. */
	CHECK_INT(h.len - 4, 1922 + 20);
	/* A name over 255 bytes cannot be sent (RFC 6066 §3 HostName). */
	{
		char longname[300];

		memset(longname, 'a', sizeof(longname) - 1);
		longname[sizeof(longname) - 1] = 0;
		o.sni = longname;
		CHECK_INT(build_parse("chrome-pq", "test", &o, &st, &msg, &h), -SD_EVALUE);
	}

	/* Group and share overrides. */
	{
		struct sd_u16list groups = { { SD_GROUP_MLKEM768, SD_GROUP_X25519 }, 2 };
		struct sd_u16list shares = { { SD_GROUP_MLKEM768 }, 1 };

		memset(&o, 0, sizeof(o));
		o.groups = &groups;
		o.shares = &shares;
		CHECK_INT(build_parse("openssl35", "test", &o, &st, &msg, &h), 0);
		CHECK_INT(h.ngroups, 2);
		CHECK_INT(h.nshares, 1);
		CHECK_INT(h.shares[0].group, SD_GROUP_MLKEM768);
		CHECK_INT(h.shares[0].len, 1184);
		check_mlkem(SD_MLKEM768, h.shares[0].data, key_for(&st, SD_GROUP_MLKEM768));

		/* x448 has no key generation here. */
		shares.v[0] = SD_GROUP_X448;
		CHECK_INT(build_parse("openssl35", "test", &o, &st, &msg, &h), -SD_EUNKNOWN);
	}

	/* ALPN override, including none at all. */
	{
		static const char alpn[][32] = { "h3" };

		memset(&o, 0, sizeof(o));
		o.alpn = alpn;
		o.nalpn = 1;
		o.alpn_set = true;
		CHECK_INT(build_parse("chrome-pq", "test", &o, &st, &msg, &h), 0);
		CHECK_INT(h.nalpn, 1);
		CHECK_INT(h.alpn_len[0], 2);
		CHECK_MEM(h.alpn[0], "h3", 2);
		o.nalpn = 0;
		CHECK_INT(build_parse("chrome-pq", "test", &o, &st, &msg, &h), 0);
		CHECK(sd_hello_ext(&h, SD_EXT_ALPN) == NULL);
	}

	/* A profile demanding pre_shared_key cannot be built, nor one with a
	 * cookie in a first hello (it only echoes an HRR's, §4.2.2). */
	CHECK_INT(load("openssl35"), 0);
	prof.exts.v[prof.exts.n++] = SD_EXT_PRE_SHARED_KEY;
	CHECK_INT(sd_rng_seed(&rng, "test"), 0);
	sd_buf_reset(&msg);
	CHECK_INT(sd_hello_build(&prof, NULL, &rng, &st, &msg), -SD_EVALUE);
	CHECK_INT(load("openssl35"), 0);
	prof.exts.v[prof.exts.n++] = SD_EXT_COOKIE;
	sd_buf_reset(&msg);
	CHECK_INT(sd_hello_build(&prof, NULL, &rng, &st, &msg), -SD_EVALUE);

	/* A profile without extensions builds a bare hello (TLS 1.2 style). */
	CHECK_INT(load("openssl35"), 0);
	prof.exts.n = 0;
	sd_buf_reset(&msg);
	CHECK_INT(sd_hello_build(&prof, NULL, &rng, &st, &msg), 0);
	CHECK_INT(sd_hello_parse(msg.data, msg.len, &h), 0);
	CHECK_INT(h.next, 0);
	CHECK_INT(h.exts_span.len, 2);

	sd_hello_state_clear(&st);
	sd_buf_free(&msg);
}

static void test_retry(void)
{
	static const uint8_t cookie[] = "a cookie from the HelloRetryRequest, opaque";
	struct sd_buf m1 = SD_BUF_INIT, m2 = SD_BUF_INIT;
	struct sd_rng rng;
	size_t i1 = 0, i2 = 0;

	/* The case pq-advertise-only exists for: the server wants the hybrid. */
	CHECK_INT(load("pq-advertise-only"), 0);
	CHECK_INT(sd_rng_seed(&rng, "test"), 0);
	CHECK_INT(sd_hello_build(&prof, NULL, &rng, &st, &m1), 0);
	CHECK_INT(sd_hello_parse(m1.data, m1.len, &h), 0);
	CHECK_INT(sd_hello_build_retry(&prof, NULL, &rng, &st, SD_GROUP_X25519MLKEM768,
				       cookie, sizeof(cookie) - 1, &m2), 0);
	CHECK_INT(sd_hello_parse(m2.data, m2.len, &h2), 0);

	/* §4.1.2: the same random and session id... */
	CHECK_MEM(h2.random, h.random, 32);
	CHECK_INT(h2.session_id.len, h.session_id.len);
	CHECK_MEM(h2.msg + h2.session_id.offset, h.msg + h.session_id.offset, 32);
	CHECK_INT(h2.nciphers, h.nciphers);
	CHECK_MEM(h2.ciphers, h.ciphers, h.nciphers * sizeof(uint16_t));
	CHECK_INT(h2.ngroups, h.ngroups);
	CHECK_MEM(h2.groups, h.groups, h.ngroups * sizeof(uint16_t));
	/* ...one share for the group asked for, no GREASE share... */
	CHECK_INT(h2.nshares, 1);
	CHECK_INT(h2.shares[0].group, SD_GROUP_X25519MLKEM768);
	CHECK_INT(h2.shares[0].len, 1216);
	CHECK_INT(st.nkeys, 1);
	check_mlkem(SD_MLKEM768, h2.shares[0].data, key_for(&st, SD_GROUP_X25519MLKEM768));
	check_x25519(h2.shares[0].data + 1184, key_for(&st, SD_GROUP_X25519MLKEM768));
	/* ...and the cookie echoed byte for byte (§4.2.2). */
	CHECK_INT(h2.cookie_len, sizeof(cookie) - 1);
	if (h2.cookie && h2.cookie_len == sizeof(cookie) - 1)
		CHECK_MEM(h2.cookie, cookie, sizeof(cookie) - 1);
	CHECK(h.cookie == NULL);
	/* Extensions in the same order, GREASE values unchanged, the cookie
	 * added; padding may come and go with the size. */
	while (i1 < h.next && i2 < h2.next) {
		if (h.ext[i1].type == SD_EXT_PADDING) {
			i1++;
			continue;
		}
		if (h2.ext[i2].type == SD_EXT_PADDING || h2.ext[i2].type == SD_EXT_COOKIE) {
			i2++;
			continue;
		}
		CHECK_INT(h2.ext[i2].type, h.ext[i1].type);
		i1++;
		i2++;
	}
	CHECK(sd_hello_ext(&h2, SD_EXT_COOKIE) != NULL);
	/* The GREASE ECH is copied, not redrawn. */
	{
		const struct sd_ext_view *a = sd_hello_ext(&h, SD_EXT_ECH);
		const struct sd_ext_view *b = sd_hello_ext(&h2, SD_EXT_ECH);

		CHECK(a && b);
		if (a && b && a->len == b->len)
			CHECK_MEM(a->body, b->body, a->len);
	}

	/* Without a cookie there is no cookie extension. */
	sd_buf_reset(&m1);
	CHECK_INT(sd_hello_build(&prof, NULL, &rng, &st, &m1), 0);
	sd_buf_reset(&m2);
	CHECK_INT(sd_hello_build_retry(&prof, NULL, &rng, &st, SD_GROUP_SECP256R1,
				       NULL, 0, &m2), 0);
	CHECK_INT(sd_hello_parse(m2.data, m2.len, &h2), 0);
	CHECK(sd_hello_ext(&h2, SD_EXT_COOKIE) == NULL);
	CHECK_INT(h2.nshares, 1);
	CHECK_INT(h2.shares[0].group, SD_GROUP_SECP256R1);
	check_ec(NID_X9_62_prime256v1, h2.shares[0].data, 65, key_for(&st, SD_GROUP_SECP256R1));

	/* A server cannot ask for GREASE. */
	sd_buf_reset(&m2);
	CHECK_INT(sd_hello_build_retry(&prof, NULL, &rng, &st, 0x3a3a, NULL, 0, &m2),
		  -SD_EVALUE);

	sd_hello_state_clear(&st);
	sd_buf_free(&m1);
	sd_buf_free(&m2);
}

/* ---- hand-made ClientHellos for the parser's error paths --------------- */

/* A ClientHello with sid_len session id bytes and the given extensions
 * block contents (exts == NULL: no extensions block at all). */
static void make_ch(struct sd_buf *b, size_t sid_len, const void *exts, size_t exts_len)
{
	size_t m, x;

	sd_buf_reset(b);
	sd_buf_u8(b, SD_HS_CLIENT_HELLO);
	m = sd_buf_vec_open(b, 3);
	sd_buf_u16(b, SD_TLS12);
	for (int i = 0; i < 32; i++)
		sd_buf_u8(b, (uint8_t)(0xa0 + i));
	sd_buf_u8(b, (uint8_t)sid_len);
	for (size_t i = 0; i < sid_len; i++)
		sd_buf_u8(b, (uint8_t)i);
	sd_buf_put(b, "\x00\x04\x13\x01\x13\x02", 6);
	sd_buf_put(b, "\x01\x00", 2);
	if (exts) {
		x = sd_buf_vec_open(b, 2);
		sd_buf_put(b, exts, exts_len);
		sd_buf_vec_close(b, x, 2);
	}
	sd_buf_vec_close(b, m, 3);
}

#define SV  "\x00\x2b\x00\x03\x02\x03\x04"                 /* supported_versions: TLS1.3 */
#define SG  "\x00\x0a\x00\x04\x00\x02\x00\x1d"             /* supported_groups: x25519 */
#define KS1 "\x00\x1d\x00\x04" "abcd"                       /* one (short) x25519 entry */
#define KS  "\x00\x33\x00\x0a\x00\x08" KS1                  /* key_share with it */
#define PSK "\x00\x29\x00\x02" "zz"                         /* pre_shared_key (opaque here) */
#define EMS "\x00\x17\x00\x00"                              /* extended_master_secret */

/* The parsed views point into the message, so it lives until the next call. */
static struct sd_buf parsed = SD_BUF_INIT;

static int parse_exts(const char *exts, size_t len)
{
	int ret;

	sd_buf_free(&parsed);
	make_ch(&parsed, 32, exts, len);
	ret = sd_buf_error(&parsed);
	if (ret == 0)
		ret = sd_hello_parse(parsed.data, parsed.len, &h);
	return ret;
}

#define PARSE(lit) parse_exts(lit, sizeof(lit) - 1)

static void test_parse_errors(void)
{
	struct sd_buf b = SD_BUF_INIT;
	uint8_t *cp;

	/* The baseline parses, and its views land where they should. */
	CHECK_INT(PARSE(SV SG KS EMS), 0);
	CHECK_INT(h.next, 4);
	CHECK_INT(h.nshares, 1);
	CHECK_INT(h.shares[0].len, 4);
	CHECK_MEM(h.shares[0].data, "abcd", 4);
	CHECK_INT(h.nciphers, 2);
	CHECK_INT(h.ciphers[1], 0x1302);
	CHECK_INT(h.random_span.offset, 6);
	CHECK_INT(h.session_id.offset, 39);
	CHECK_INT(h.session_id.len, 32);
	CHECK_INT(h.ciphers_span.offset, 71);
	CHECK_INT(h.ciphers_span.len, 6);
	CHECK_INT(h.compression.offset, 77);
	CHECK_INT(h.compression.len, 2);
	CHECK_INT(h.exts_span.offset, 79);
	CHECK_INT(h.ngroups, 1);
	CHECK_INT(h.nversions, 1);
	CHECK_INT(h.versions[0], SD_TLS13);
	/* pre_shared_key last is fine. */
	CHECK_INT(PARSE(SV KS PSK), 0);
	CHECK(h.has_psk);
	/* No extensions at all (TLS 1.2 and older). */
	make_ch(&b, 0, NULL, 0);
	CHECK_INT(sd_hello_parse(b.data, b.len, &h), 0);
	CHECK_INT(h.next, 0);
	CHECK_INT(h.session_id.len, 0);
	{
		char name[64];

		/* The field map of a hello without extensions ends at the
		 * compression methods. */
		sd_hello_field_at(&h, h.len - 1, name, sizeof(name));
		CHECK_STR(name, "legacy_compression_methods");
	}

	/* Not a ClientHello. */
	make_ch(&b, 32, SV, 7);
	b.data[0] = SD_HS_SERVER_HELLO;
	CHECK_INT(sd_hello_parse(b.data, b.len, &h), -SD_ETYPE);
	CHECK_INT(sd_hello_parse(b.data, 0, &h), -SD_ETRUNC);

	/* §4.2: an extension type twice. */
	CHECK_INT(PARSE(SV SG SV), -SD_EDUP);
	CHECK_INT(PARSE(EMS KS EMS), -SD_EDUP);
	/* §4.2.8: a key share group twice. */
	CHECK_INT(PARSE(SV "\x00\x33\x00\x12\x00\x10" KS1 KS1), -SD_EDUP);
	/* §4.2.11: pre_shared_key not last. */
	CHECK_INT(PARSE(SV PSK KS), -SD_EVALUE);
	CHECK_INT(PARSE(PSK EMS), -SD_EVALUE);

	/* An extension whose length runs past the end of the extensions
	 * block. The message itself is whole (its length fits the input), so
	 * this is a length that disagrees with what encloses it, not a cut
	 * input: -SD_ELENGTH. */
	CHECK_INT(PARSE(SV "\x00\x17\x00\x05" "ab"), -SD_ELENGTH);
	/* Same for a vector inside an extension body. */
	CHECK_INT(PARSE(SV "\x00\x0a\x00\x04\x00\x08\x00\x1d"), -SD_ELENGTH);
	CHECK_INT(PARSE(SV "\x00\x33\x00\x08\x00\x06\x00\x1d\x00\x09" "ab"), -SD_ELENGTH);
	/* An extension type cut in half at the end of the block. */
	CHECK_INT(PARSE(SV "\x00"), -SD_ELENGTH);
	/* Bytes left over inside an extension body. */
	CHECK_INT(PARSE(SV "\x00\x0a\x00\x05\x00\x02\x00\x1d\x00"), -SD_ELENGTH);
	CHECK_INT(PARSE(SV "\x00\x33\x00\x0b\x00\x08" KS1 "x"), -SD_ELENGTH);
	/* An odd-length u16 list. */
	CHECK_INT(PARSE(SV "\x00\x0a\x00\x05\x00\x03\x00\x1d\x00"), -SD_ELENGTH);
	/* RFC 7301 §3.1: empty protocol names are not allowed. */
	CHECK_INT(PARSE(SV "\x00\x10\x00\x06\x00\x04\x02h2\x00"), -SD_EVALUE);
	CHECK_INT(PARSE(SV "\x00\x10\x00\x03\x00\x01\x00"), -SD_EVALUE);

	/* The whole message cut short: now the input did end: -SD_ETRUNC. */
	make_ch(&b, 32, SV SG KS, sizeof(SV SG KS) - 1);
	CHECK_INT(sd_hello_parse(b.data, b.len - 1, &h), -SD_ETRUNC);
	CHECK_INT(sd_hello_parse(b.data, 3, &h), -SD_ETRUNC);
	CHECK_INT(sd_hello_parse(b.data, 4, &h), -SD_ETRUNC);
	/* A body too short for its fixed fields: the handshake length
	 * disagrees with what a ClientHello needs. */
	{
		static const uint8_t tiny[] = { 1, 0, 0, 3, 3, 3, 0 };

		CHECK_INT(sd_hello_parse(tiny, sizeof(tiny), &h), -SD_ELENGTH);
	}

	/* legacy_session_id<0..32>: 33 bytes is too long. */
	make_ch(&b, 33, SV, 7);
	CHECK_INT(sd_hello_parse(b.data, b.len, &h), -SD_ELENGTH);
	make_ch(&b, 32, SV, 7);
	CHECK_INT(sd_hello_parse(b.data, b.len, &h), 0);

	/* Trailing bytes after the message. */
	sd_buf_u8(&b, 0);
	CHECK_INT(sd_hello_parse(b.data, b.len, &h), -SD_ELENGTH);
	/* Bytes inside the message after the extensions block. */
	make_ch(&b, 32, SV, 7);
	sd_buf_u8(&b, 0);
	cp = b.data;
	cp[3]++;   /* handshake length covers the extra byte */
	CHECK_INT(sd_hello_parse(b.data, b.len, &h), -SD_ELENGTH);

	/* cipher_suites<2..2^16-2> and compression<1..2^8-1> cannot be empty. */
	sd_buf_reset(&b);
	sd_buf_put(&b, "\x01\x00\x00\x27\x03\x03", 6);
	sd_buf_zero(&b, 32);
	sd_buf_put(&b, "\x00\x00\x00\x01\x00", 5);
	CHECK_INT(sd_hello_parse(b.data, b.len, &h), -SD_ELENGTH);
	sd_buf_reset(&b);
	sd_buf_put(&b, "\x01\x00\x00\x28\x03\x03", 6);
	sd_buf_zero(&b, 32);
	sd_buf_put(&b, "\x00\x00\x02\x13\x01\x00", 6);
	CHECK_INT(sd_hello_parse(b.data, b.len, &h), -SD_ELENGTH);

	/* More shares than this tool keeps. */
	{
		struct sd_buf e = SD_BUF_INIT;
		size_t m, k;

		sd_buf_put(&e, SV, 7);
		sd_buf_u16(&e, SD_EXT_KEY_SHARE);
		m = sd_buf_vec_open(&e, 2);
		k = sd_buf_vec_open(&e, 2);
		for (uint16_t g = 1; g <= SD_HELLO_MAX_SHARES + 1; g++) {
			sd_buf_u16(&e, g);
			sd_buf_u16(&e, 1);
			sd_buf_u8(&e, 0);
		}
		sd_buf_vec_close(&e, k, 2);
		sd_buf_vec_close(&e, m, 2);
		CHECK_INT(parse_exts((const char *)e.data, e.len), -SD_ELIMIT);
		sd_buf_free(&e);
	}

	sd_buf_free(&b);
}

static void test_field_at(void)
{
	struct sd_buf msg = SD_BUF_INIT;
	const struct sd_share_view *s;
	const struct sd_ext_view *e;
	char name[128], want[128];

	CHECK_INT(build_parse("chrome-pq", "test", NULL, &st, &msg, &h), 0);
	s = share(&h, SD_GROUP_X25519MLKEM768);
	CHECK(s != NULL);
	if (!s)
		goto out;
	/* Byte 702 of the share, whatever its place in the message. */
	sd_hello_field_at(&h, s->offset + 701, name, sizeof(name));
	CHECK_STR(name, "key_share entry X25519MLKEM768, byte 702 of 1216");
	sd_hello_field_at(&h, s->offset, name, sizeof(name));
	CHECK_STR(name, "key_share entry X25519MLKEM768, byte 1 of 1216");
	sd_hello_field_at(&h, s->offset + 1215, name, sizeof(name));
	CHECK_STR(name, "key_share entry X25519MLKEM768, byte 1216 of 1216");
	sd_hello_field_at(&h, s->offset - 1, name, sizeof(name));
	CHECK_STR(name, "key_share entry X25519MLKEM768 header");
	sd_hello_field_at(&h, s->offset + 1216 + 4, name, sizeof(name));
	CHECK_STR(name, "key_share entry x25519, byte 1 of 32");

	sd_hello_field_at(&h, 0, name, sizeof(name));
	CHECK_STR(name, "handshake header, byte 1 of 4");
	sd_hello_field_at(&h, 4, name, sizeof(name));
	CHECK_STR(name, "legacy_version");
	sd_hello_field_at(&h, h.random_span.offset + 9, name, sizeof(name));
	CHECK_STR(name, "random, byte 10 of 32");
	sd_hello_field_at(&h, h.session_id.offset, name, sizeof(name));
	CHECK_STR(name, "legacy_session_id");
	sd_hello_field_at(&h, h.ciphers_span.offset + 3, name, sizeof(name));
	CHECK_STR(name, "cipher_suites");
	sd_hello_field_at(&h, h.compression.offset, name, sizeof(name));
	CHECK_STR(name, "legacy_compression_methods");
	sd_hello_field_at(&h, h.exts_span.offset + 1, name, sizeof(name));
	CHECK_STR(name, "extensions length");

	e = sd_hello_ext(&h, SD_EXT_SUPPORTED_VERSIONS);
	CHECK(e != NULL);
	if (e) {
		sd_hello_field_at(&h, e->offset + 4 + 2, name, sizeof(name));
		snprintf(want, sizeof(want), "supported_versions, byte 3 of %zu", e->len);
		CHECK_STR(name, want);
		sd_hello_field_at(&h, e->offset + 1, name, sizeof(name));
		CHECK_STR(name, "supported_versions extension header");
	}
	/* GREASE extensions are named with their value. */
	snprintf(want, sizeof(want), "GREASE 0x%04x extension header", h.ext[0].type);
	sd_hello_field_at(&h, h.ext[0].offset, name, sizeof(name));
	CHECK_STR(name, want);

	snprintf(want, sizeof(want), "beyond the ClientHello (%zu bytes)", h.len);
	sd_hello_field_at(&h, h.len, name, sizeof(name));
	CHECK_STR(name, want);

	/* A short buffer gets a terminated prefix and the length written. */
	CHECK_INT(sd_hello_field_at(&h, h.random_span.offset, name, 7), 6);
	CHECK_STR(name, "random");
	CHECK_INT(sd_hello_field_at(&h, 0, name, 0), 0);
out:
	sd_buf_free(&msg);
}

/* ---- ServerHello and HelloRetryRequest -------------------------------- */

static void make_sh(struct sd_buf *b, const uint8_t random[32], const void *exts, size_t len)
{
	size_t m, x;

	sd_buf_reset(b);
	sd_buf_u8(b, SD_HS_SERVER_HELLO);
	m = sd_buf_vec_open(b, 3);
	sd_buf_u16(b, SD_TLS12);
	sd_buf_put(b, random, 32);
	sd_buf_u8(b, 32);
	sd_buf_zero(b, 32);
	sd_buf_u16(b, 0x1301);
	sd_buf_u8(b, 0);
	x = sd_buf_vec_open(b, 2);
	sd_buf_put(b, exts, len);
	sd_buf_vec_close(b, x, 2);
	sd_buf_vec_close(b, m, 3);
}

static void test_server_hello(void)
{
	static struct sd_server_hello s;
	struct sd_buf e = SD_BUF_INIT, b = SD_BUF_INIT;
	uint8_t random[32], ct[1120];
	static const uint8_t cookie[] = { 0xc0, 0x0c, 0x1e, 0x00, 0x01, 0x02, 0x03 };
	size_t m, k;

	for (int i = 0; i < 32; i++)
		random[i] = (uint8_t)(i + 1);
	for (size_t i = 0; i < sizeof(ct); i++)
		ct[i] = (uint8_t)(i * 13);

	/* A ServerHello choosing X25519MLKEM768: 1088-byte ciphertext + 32. */
	/* supported_versions: a ServerHello carries the one it chose (§4.2.1) */
	sd_buf_put(&e, "\x00\x2b\x00\x02\x03\x04", 6);
	sd_buf_u16(&e, SD_EXT_KEY_SHARE);
	m = sd_buf_vec_open(&e, 2);
	sd_buf_u16(&e, SD_GROUP_X25519MLKEM768);
	k = sd_buf_vec_open(&e, 2);
	sd_buf_put(&e, ct, sizeof(ct));
	sd_buf_vec_close(&e, k, 2);
	sd_buf_vec_close(&e, m, 2);
	CHECK_INT(sd_buf_error(&e), 0);
	make_sh(&b, random, e.data, e.len);
	CHECK_INT(sd_server_hello_parse(b.data, b.len, &s), 0);
	CHECK(!s.hrr);
	CHECK_INT(s.legacy_version, SD_TLS12);
	CHECK_INT(s.version, SD_TLS13);
	CHECK_INT(s.cipher, 0x1301);
	CHECK(s.has_group);
	CHECK_INT(s.group, SD_GROUP_X25519MLKEM768);
	CHECK_INT(s.share_len, 1120);
	CHECK_INT(s.share_len, sd_tls_group_server_share_len(SD_GROUP_X25519MLKEM768));
	CHECK(s.share == b.data + b.len - 1120);
	CHECK_MEM(s.share, ct, 1120);
	CHECK_MEM(s.random, random, 32);
	CHECK_INT(s.next, 2);
	CHECK_INT(s.ext_types[1], SD_EXT_KEY_SHARE);
	CHECK(s.cookie == NULL);
	/* As a ClientHello it is the wrong type. */
	CHECK_INT(sd_hello_parse(b.data, b.len, &h), -SD_ETYPE);
	/* Cut short: -SD_ETRUNC. */
	CHECK_INT(sd_server_hello_parse(b.data, b.len - 1, &s), -SD_ETRUNC);

	/* A HelloRetryRequest: the special random, selected_group only, and a
	 * cookie (§4.1.3, §4.2.8, §4.2.2). */
	sd_buf_reset(&e);
	sd_buf_put(&e, "\x00\x2b\x00\x02\x03\x04", 6);
	sd_buf_put(&e, "\x00\x33\x00\x02\x11\xec", 6);
	sd_buf_u16(&e, SD_EXT_COOKIE);
	sd_buf_u16(&e, (uint16_t)(2 + sizeof(cookie)));
	sd_buf_u16(&e, (uint16_t)sizeof(cookie));
	sd_buf_put(&e, cookie, sizeof(cookie));
	make_sh(&b, sd_hrr_random, e.data, e.len);
	CHECK_INT(sd_server_hello_parse(b.data, b.len, &s), 0);
	CHECK(s.hrr);
	CHECK(s.has_group);
	CHECK_INT(s.group, SD_GROUP_X25519MLKEM768);
	CHECK_INT(s.share_len, 0);
	CHECK(s.share == NULL);
	CHECK_INT(s.version, SD_TLS13);
	CHECK_INT(s.cookie_len, sizeof(cookie));
	CHECK(s.cookie == b.data + b.len - sizeof(cookie));
	if (s.cookie)
		CHECK_MEM(s.cookie, cookie, sizeof(cookie));

	/* An HRR's key_share with more than the selected group. */
	sd_buf_reset(&e);
	sd_buf_put(&e, "\x00\x33\x00\x03\x11\xec\x00", 7);
	make_sh(&b, sd_hrr_random, e.data, e.len);
	CHECK_INT(sd_server_hello_parse(b.data, b.len, &s), -SD_ELENGTH);
	/* A duplicate extension. */
	sd_buf_reset(&e);
	sd_buf_put(&e, "\x00\x2b\x00\x02\x03\x04\x00\x2b\x00\x02\x03\x04", 12);
	make_sh(&b, random, e.data, e.len);
	CHECK_INT(sd_server_hello_parse(b.data, b.len, &s), -SD_EDUP);
	/* An extension running past the block. */
	sd_buf_reset(&e);
	sd_buf_put(&e, "\x00\x2b\x00\x09\x03\x04", 6);
	make_sh(&b, random, e.data, e.len);
	CHECK_INT(sd_server_hello_parse(b.data, b.len, &s), -SD_ELENGTH);
	/* A ServerHello without extensions (TLS 1.2). */
	make_sh(&b, random, NULL, 0);
	b.len -= 2;
	b.data[3] -= 2;
	CHECK_INT(sd_server_hello_parse(b.data, b.len, &s), 0);
	CHECK_INT(s.version, SD_TLS12);
	CHECK(!s.has_group);
	/* legacy_session_id_echo of 33 bytes. */
	{
		static const uint8_t bad[4 + 2 + 32 + 1 + 33 + 3] = {
			2, 0, 0, 2 + 32 + 1 + 33 + 3, 3, 3, [38] = 33,
		};

		CHECK_INT(sd_server_hello_parse(bad, sizeof(bad), &s), -SD_ELENGTH);
	}
	/* A ClientHello is not a ServerHello. */
	make_ch(&b, 0, NULL, 0);
	CHECK_INT(sd_server_hello_parse(b.data, b.len, &s), -SD_ETYPE);

	sd_buf_free(&e);
	sd_buf_free(&b);
}

int main(void)
{
	test_builtins();
	test_seeds();
	test_opts();
	test_retry();
	test_parse_errors();
	test_field_at();
	test_server_hello();
	sd_buf_free(&parsed);
	return check_done();
}
