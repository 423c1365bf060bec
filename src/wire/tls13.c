/* SPDX-License-Identifier: MIT */
/* TLS 1.3 client after the ClientHello: HRR, key schedule, server flight check, Finished. */
#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/obj_mac.h>

#include "shakedown/cursor.h"
#include "shakedown/mlkem.h"
#include "shakedown/record.h"
#include "shakedown/tls.h"
#include "shakedown/tls13.h"

#define fail(s, ...) do { \
	snprintf((s)->why, sizeof((s)->why), __VA_ARGS__); \
	(s)->state = SD_SESS_FAILED; \
	return (s)->state; \
} while (0)

void sd_session_init(struct sd_session *s)
{
	memset(s, 0, sizeof(*s));
	s->record_version = SD_TLS12;
}

void sd_session_free(struct sd_session *s)
{
	sd_buf_free(&s->transcript);
	sd_buf_free(&s->hs_in);
	sd_buf_free(&s->ch2);
	OPENSSL_cleanse(s->s_key, sizeof(s->s_key));
	OPENSSL_cleanse(s->c_key, sizeof(s->c_key));
	OPENSSL_cleanse(s->s_secret, sizeof(s->s_secret));
	OPENSSL_cleanse(s->c_secret, sizeof(s->c_secret));
}

static const EVP_MD *suite_md(uint16_t cipher)
{
	return cipher == 0x1302 ? EVP_sha384() : EVP_sha256();
}

static const EVP_CIPHER *suite_aead(uint16_t cipher)
{
	switch (cipher) {
	case 0x1301: return EVP_aes_128_gcm();
	case 0x1302: return EVP_aes_256_gcm();
	case 0x1303: return EVP_chacha20_poly1305();
	}
	return NULL;
}

/* RFC 5869 HKDF-Extract. */
static int hkdf_extract(const EVP_MD *md, const uint8_t *salt, size_t slen,
			const uint8_t *ikm, size_t ilen, uint8_t *out)
{
	unsigned int n = 0;

	return HMAC(md, salt, (int)slen, ikm, ilen, out, &n) ? 0 : -SD_ECRYPTO;
}

/* RFC 8446 §7.1 HKDF-Expand-Label. */
static int expand_label(const EVP_MD *md, const uint8_t *secret, const char *label,
			const uint8_t *ctx, size_t clen, uint8_t *out, size_t olen)
{
	uint8_t info[2 + 1 + 255 + 1 + 64], t[64], c = 1;
	size_t hl = (size_t)EVP_MD_get_size(md), ilen = 0, done = 0, llen = strlen(label) + 6;
	unsigned int n;

	if (llen > 255 || clen > 64)
		return -SD_EVALUE;
	info[ilen++] = (uint8_t)(olen >> 8);
	info[ilen++] = (uint8_t)olen;
	info[ilen++] = (uint8_t)llen;
	memcpy(info + ilen, "tls13 ", 6);
	memcpy(info + ilen + 6, label, llen - 6);
	ilen += llen;
	info[ilen++] = (uint8_t)clen;
	if (clen)
		memcpy(info + ilen, ctx, clen);
	ilen += clen;
	/* RFC 5869 §2.3: T(i) = HMAC(PRK, T(i-1) | info | i). */
	while (done < olen) {
		uint8_t in[64 + sizeof(info) + 1];
		size_t inlen = 0, k;

		if (c > 1) {
			memcpy(in, t, hl);
			inlen = hl;
		}
		memcpy(in + inlen, info, ilen);
		inlen += ilen;
		in[inlen++] = c;
		if (!HMAC(md, secret, (int)hl, in, inlen, t, &n))
			return -SD_ECRYPTO;
		k = olen - done < hl ? olen - done : hl;
		memcpy(out + done, t, k);
		done += k;
		c++;
	}
	OPENSSL_cleanse(t, sizeof(t));
	return 0;
}

static int transcript_hash(struct sd_session *s, const EVP_MD *md, uint8_t *out)
{
	unsigned int n;

	return EVP_Digest(s->transcript.data ? s->transcript.data : (const uint8_t *)"",
			  s->transcript.len, out, &n, md, NULL) ? 0 : -SD_ECRYPTO;
}

static int derive_secret(const EVP_MD *md, const uint8_t *secret, const char *label,
			 const uint8_t *hash, uint8_t *out)
{
	size_t hl = (size_t)EVP_MD_get_size(md);

	return expand_label(md, secret, label, hash, hl, out, hl);
}

static int x25519_shared(const uint8_t *priv, const uint8_t *peer, uint8_t *out)
{
	EVP_PKEY *a = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, 32);
	EVP_PKEY *b = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer, 32);
	EVP_PKEY_CTX *ctx = a ? EVP_PKEY_CTX_new(a, NULL) : NULL;
	size_t n = 32;
	int ret = -SD_ECRYPTO;

	if (ctx && b && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, b) == 1 &&
	    EVP_PKEY_derive(ctx, out, &n) == 1 && n == 32)
		ret = 0;
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	return ret;
}

/* RFC 8446 §7.4.2: the ECDHE secret is the x-coordinate of k·P. */
static int ec_shared(int nid, const uint8_t *priv, size_t flen, const uint8_t *peer,
		     size_t plen, uint8_t *out)
{
	EC_GROUP *g = EC_GROUP_new_by_curve_name(nid);
	EC_POINT *p = g ? EC_POINT_new(g) : NULL, *r = g ? EC_POINT_new(g) : NULL;
	BIGNUM *k = BN_bin2bn(priv, (int)flen, NULL), *x = BN_new();
	BN_CTX *bn = BN_CTX_new();
	int ret = -SD_ECRYPTO;

	if (!g || !p || !r || !k || !x || !bn)
		goto out;
	if (EC_POINT_oct2point(g, p, peer, plen, bn) != 1 || EC_POINT_is_on_curve(g, p, bn) != 1)
		goto out;
	if (EC_POINT_mul(g, r, NULL, p, k, bn) != 1 ||
	    EC_POINT_get_affine_coordinates(g, r, x, NULL, bn) != 1 ||
	    BN_bn2binpad(x, out, (int)flen) != (int)flen)
		goto out;
	ret = 0;
out:
	BN_clear_free(k);
	BN_free(x);
	EC_POINT_free(p);
	EC_POINT_free(r);
	EC_GROUP_free(g);
	BN_CTX_free(bn);
	return ret;
}

/*
 * The (EC)DHE / KEM shared secret for the server's share. Hybrids per
 * draft-ietf-tls-ecdhe-mlkem §3: X25519MLKEM768's server share is the
 * ML-KEM ciphertext then the X25519 share, and its secret the ML-KEM
 * secret then the X25519 one; the NIST-curve hybrids put ECDH first in both.
 */
static int shared_secret(struct sd_session *s, uint16_t group, const uint8_t *share,
			 size_t slen, uint8_t *out, size_t *olen)
{
	const struct sd_kex_priv *k = NULL;
	int ret;

	for (size_t i = 0; i < s->hs->nkeys; i++)
		if (s->hs->keys[i].group == group)
			k = &s->hs->keys[i];
	if (!k)
		return -SD_EVALUE;
	if (slen != sd_tls_group_server_share_len(group))
		return -SD_ELENGTH;
	switch (group) {
	case SD_GROUP_X25519:
		*olen = 32;
		return x25519_shared(k->ecdh, share, out);
	case SD_GROUP_SECP256R1:
		*olen = 32;
		return ec_shared(NID_X9_62_prime256v1, k->ecdh, 32, share, slen, out);
	case SD_GROUP_SECP384R1:
		*olen = 48;
		return ec_shared(NID_secp384r1, k->ecdh, 48, share, slen, out);
	case SD_GROUP_SECP521R1:
		*olen = 66;
		return ec_shared(NID_secp521r1, k->ecdh, 66, share, slen, out);
	case SD_GROUP_MLKEM512:
		*olen = 32;
		return sd_mlkem_decaps(SD_MLKEM512, k->mlkem_dk, share, out);
	case SD_GROUP_MLKEM768:
		*olen = 32;
		return sd_mlkem_decaps(SD_MLKEM768, k->mlkem_dk, share, out);
	case SD_GROUP_MLKEM1024:
		*olen = 32;
		return sd_mlkem_decaps(SD_MLKEM1024, k->mlkem_dk, share, out);
	case SD_GROUP_X25519MLKEM768:
		*olen = 64;
		if ((ret = sd_mlkem_decaps(SD_MLKEM768, k->mlkem_dk, share, out)) < 0)
			return ret;
		return x25519_shared(k->ecdh, share + 1088, out + 32);
	case SD_GROUP_SECP256R1MLKEM768:
		*olen = 64;
		if ((ret = ec_shared(NID_X9_62_prime256v1, k->ecdh, 32, share, 65, out)) < 0)
			return ret;
		return sd_mlkem_decaps(SD_MLKEM768, k->mlkem_dk, share + 65, out + 32);
	case SD_GROUP_SECP384R1MLKEM1024:
		*olen = 80;
		if ((ret = ec_shared(NID_secp384r1, k->ecdh, 48, share, 97, out)) < 0)
			return ret;
		return sd_mlkem_decaps(SD_MLKEM1024, k->mlkem_dk, share + 97, out + 48);
	}
	return -SD_EUNKNOWN;
}

/* §7.1 up to the handshake traffic secrets, §7.3 their keys. */
static int handshake_keys(struct sd_session *s, const uint8_t *ss, size_t sslen)
{
	const EVP_MD *md = suite_md(s->cipher);
	const EVP_CIPHER *aead = suite_aead(s->cipher);
	uint8_t zero[48] = { 0 }, early[48], derived[48], hsec[48], h[48], empty[48];
	size_t hl = (size_t)EVP_MD_get_size(md);
	unsigned int n;
	int ret;

	if (!aead)
		return -SD_EUNKNOWN;
	s->hash_len = hl;
	s->key_len = (size_t)EVP_CIPHER_get_key_length(aead);
	if (!EVP_Digest("", 0, empty, &n, md, NULL))
		return -SD_ECRYPTO;
	if ((ret = hkdf_extract(md, zero, hl, zero, hl, early)) < 0 ||
	    (ret = derive_secret(md, early, "derived", empty, derived)) < 0 ||
	    (ret = hkdf_extract(md, derived, hl, ss, sslen, hsec)) < 0 ||
	    (ret = transcript_hash(s, md, h)) < 0 ||
	    (ret = derive_secret(md, hsec, "s hs traffic", h, s->s_secret)) < 0 ||
	    (ret = derive_secret(md, hsec, "c hs traffic", h, s->c_secret)) < 0 ||
	    (ret = expand_label(md, s->s_secret, "key", NULL, 0, s->s_key, s->key_len)) < 0 ||
	    (ret = expand_label(md, s->s_secret, "iv", NULL, 0, s->s_iv, 12)) < 0 ||
	    (ret = expand_label(md, s->c_secret, "key", NULL, 0, s->c_key, s->key_len)) < 0 ||
	    (ret = expand_label(md, s->c_secret, "iv", NULL, 0, s->c_iv, 12)) < 0)
		goto out;
out:
	OPENSSL_cleanse(early, sizeof(early));
	OPENSSL_cleanse(derived, sizeof(derived));
	OPENSSL_cleanse(hsec, sizeof(hsec));
	return ret;
}

/* §5.3 per-record nonce; §5.2 AEAD with the record header as AAD. */
static int aead(struct sd_session *s, bool enc, const uint8_t *key, const uint8_t *iv,
		uint64_t seq, const uint8_t *hdr, const uint8_t *in, size_t len, uint8_t *out,
		uint8_t *tag)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	uint8_t nonce[12];
	int n, ret = -SD_ECRYPTO;

	memcpy(nonce, iv, 12);
	for (int i = 0; i < 8; i++)
		nonce[11 - i] ^= (uint8_t)(seq >> (8 * i));
	if (!c || EVP_CipherInit_ex(c, suite_aead(s->cipher), NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) != 1 ||
	    EVP_CipherInit_ex(c, NULL, NULL, key, nonce, enc) != 1 ||
	    EVP_CipherUpdate(c, NULL, &n, hdr, 5) != 1 ||
	    EVP_CipherUpdate(c, out, &n, in, (int)len) != 1)
		goto out;
	if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, 16, tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(c, out + n, &n) != 1)
		goto out;
	if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, tag) != 1)
		goto out;
	ret = 0;
out:
	EVP_CIPHER_CTX_free(c);
	return ret;
}

static void put_records(struct sd_session *s, struct sd_buf *out, const uint8_t *msg, size_t len)
{
	size_t size = s->records ? s->records : SD_RECORD_PLAIN_MAX;

	if (sd_record_build(out, SD_CT_HANDSHAKE, s->record_version, msg, len, &size, 1) < 0 &&
	    !out->err)
		out->err = -SD_EVALUE;
}

/* §4.1.4: answer a HelloRetryRequest with the requested share and cookie. */
static enum sd_sess_state on_hrr(struct sd_session *s, const struct sd_server_hello *sh,
				 const uint8_t *msg, size_t len, struct sd_buf *out)
{
	const EVP_MD *md = suite_md(sh->cipher);
	uint8_t h[64];
	unsigned int n;
	int ret;

	if (s->hrr)
		fail(s, "a second HelloRetryRequest (RFC 8446 §4.1.4 forbids it)");
	if (!sh->has_group)
		fail(s, "HelloRetryRequest without a key_share group");
	s->hrr = true;
	s->hrr_group = sh->group;
	/* §4.4.1: ClientHello1 is replaced by message_hash(Hash(ClientHello1)). */
	if (!EVP_Digest(s->ch1, s->ch1_len, h, &n, md, NULL))
		fail(s, "hash failed");
	sd_buf_reset(&s->transcript);
	sd_buf_u8(&s->transcript, SD_HS_MESSAGE_HASH);
	sd_buf_u24(&s->transcript, n);
	sd_buf_put(&s->transcript, h, n);
	sd_buf_put(&s->transcript, msg, len);
	ret = sd_hello_build_retry(s->profile, s->opts, s->rng, s->hs, sh->group, sh->cookie,
				   sh->cookie_len, &s->ch2);
	if (ret < 0)
		fail(s, "cannot build the second ClientHello for group 0x%04x: %s", sh->group,
		     sd_strerror(ret));
	sd_buf_put(&s->transcript, s->ch2.data, s->ch2.len);
	/* Appendix D.4: in compatibility mode the client sends a dummy
	 * change_cipher_spec before its second flight. */
	if (s->profile->session_id_len) {
		static const uint8_t ccs[6] = { SD_CT_CCS, 3, 3, 0, 1, 1 };

		sd_buf_put(out, ccs, sizeof(ccs));
	}
	s->record_version = SD_TLS12;  /* §5.1: 0x0303 on every record but the first hello */
	put_records(s, out, s->ch2.data, s->ch2.len);
	return s->state;
}

static enum sd_sess_state on_server_hello(struct sd_session *s, const uint8_t *msg, size_t len,
					  struct sd_buf *out)
{
	struct sd_server_hello sh;
	uint8_t ss[160];
	size_t sslen = 0;
	int ret;

	ret = sd_server_hello_parse(msg, len, &sh);
	if (ret < 0)
		fail(s, "malformed ServerHello: %s", sd_strerror(ret));
	s->cipher = sh.cipher;
	if (sh.hrr)
		return on_hrr(s, &sh, msg, len, out);
	if (sh.version != SD_TLS13)
		fail(s, "the server chose version 0x%04x, not TLS 1.3", sh.version);
	if (!sh.has_group || !sh.share)
		fail(s, "ServerHello without a key share");
	s->server_hello = true;
	s->group = sh.group;
	if (s->hrr && sh.group != s->hrr_group)
		fail(s, "ServerHello group 0x%04x differs from the HelloRetryRequest's 0x%04x",
		     sh.group, s->hrr_group);
	if (!s->hrr)
		sd_buf_put(&s->transcript, s->ch1, s->ch1_len);
	sd_buf_put(&s->transcript, msg, len);
	if (!suite_aead(sh.cipher)) {
		s->cannot_verify = true;
		fail(s, "cipher suite 0x%04x is not one this tool decrypts", sh.cipher);
	}
	ret = shared_secret(s, sh.group, sh.share, sh.share_len, ss, &sslen);
	if (ret == -SD_EUNKNOWN) {
		s->cannot_verify = true;
		fail(s, "no key agreement here for group 0x%04x", sh.group);
	}
	if (ret < 0)
		fail(s, "key agreement for group 0x%04x failed: %s", sh.group, sd_strerror(ret));
	ret = handshake_keys(s, ss, sslen);
	OPENSSL_cleanse(ss, sizeof(ss));
	if (ret < 0)
		fail(s, "key schedule failed: %s", sd_strerror(ret));
	s->state = SD_SESS_WAIT_FLIGHT;
	return s->state;
}

/* The client's last flight: an empty Certificate if one was requested,
 * then Finished (§4.4.4), under the client handshake keys. */
static int client_finished(struct sd_session *s, bool cert_requested, struct sd_buf *out)
{
	const EVP_MD *md = suite_md(s->cipher);
	uint8_t fk[48], h[48], vd[64], plain[128], ct[128], tag[16], hdr[5];
	size_t plen = 0;
	unsigned int n;
	int ret;

	if (cert_requested) {
		static const uint8_t empty_cert[8] = { SD_HS_CERTIFICATE, 0, 0, 4, 0, 0, 0, 0 };

		memcpy(plain, empty_cert, sizeof(empty_cert));
		plen = sizeof(empty_cert);
		sd_buf_put(&s->transcript, empty_cert, sizeof(empty_cert));
	}
	if ((ret = expand_label(md, s->c_secret, "finished", NULL, 0, fk, s->hash_len)) < 0 ||
	    (ret = transcript_hash(s, md, h)) < 0)
		return ret;
	if (!HMAC(md, fk, (int)s->hash_len, h, s->hash_len, vd, &n))
		return -SD_ECRYPTO;
	plain[plen++] = SD_HS_FINISHED;
	plain[plen++] = 0;
	plain[plen++] = 0;
	plain[plen++] = (uint8_t)n;
	memcpy(plain + plen, vd, n);
	plen += n;
	plain[plen++] = SD_CT_HANDSHAKE;  /* TLSInnerPlaintext.type */
	hdr[0] = SD_CT_APPDATA;
	hdr[1] = 3;
	hdr[2] = 3;
	hdr[3] = (uint8_t)((plen + 16) >> 8);
	hdr[4] = (uint8_t)(plen + 16);
	if ((ret = aead(s, true, s->c_key, s->c_iv, 0, hdr, plain, plen, ct, tag)) < 0)
		return ret;
	if (s->profile->session_id_len && !s->hrr) {
		static const uint8_t ccs[6] = { SD_CT_CCS, 3, 3, 0, 1, 1 };

		sd_buf_put(out, ccs, sizeof(ccs));
	}
	sd_buf_put(out, hdr, 5);
	sd_buf_put(out, ct, plen);
	sd_buf_put(out, tag, 16);
	OPENSSL_cleanse(fk, sizeof(fk));
	return sd_buf_error(out);
}

/* Handshake messages of the encrypted flight, as they complete. */
static enum sd_sess_state on_flight_messages(struct sd_session *s, struct sd_buf *out)
{
	struct sd_cursor c;
	sd_cursor_init(&c, s->hs_in.data, s->hs_in.len);
	while (sd_cursor_left(&c) >= 4) {
		const uint8_t *msg;
		uint8_t type;
		uint32_t len;
		size_t start = sd_cursor_offset(&c);

		if (sd_cursor_u8(&c, &type) < 0 || sd_cursor_u24(&c, &len) < 0)
			break;
		if (sd_cursor_left(&c) < len) {
			c.pos = start;
			break;
		}
		msg = s->hs_in.data + start;
		if (sd_cursor_skip(&c, len) < 0)
			break;
		switch (type) {
		case SD_HS_ENCRYPTED_EXTENSIONS:
		case SD_HS_CERTIFICATE_VERIFY:
			break;
		case SD_HS_CERTIFICATE_REQUEST:
			s->cert_requested = true;
			break;
		case SD_HS_CERTIFICATE:
			s->cert_bytes = len + 4;
			break;
		case SD_HS_FINISHED: {
			const EVP_MD *md = suite_md(s->cipher);
			uint8_t fk[48], h[48], vd[64];
			unsigned int n;

			if (expand_label(md, s->s_secret, "finished", NULL, 0, fk, s->hash_len) < 0 ||
			    transcript_hash(s, md, h) < 0 ||
			    !HMAC(md, fk, (int)s->hash_len, h, s->hash_len, vd, &n))
				fail(s, "cannot compute the server Finished");
			if (len != n || CRYPTO_memcmp(vd, msg + 4, n) != 0)
				fail(s, "the server's Finished does not verify (transcript or keys differ)");
			s->verified = true;
			sd_buf_put(&s->transcript, msg, len + 4);
			if (client_finished(s, s->cert_requested, out) < 0)
				fail(s, "cannot build the client Finished");
			s->state = SD_SESS_DONE;
			return s->state;
		}
		default:
			fail(s, "unexpected %s in the server's encrypted flight",
			     sd_tls_hs_name(type) ? sd_tls_hs_name(type) : "message");
		}
		sd_buf_put(&s->transcript, msg, len + 4);
	}
	/* Keep the unparsed tail. */
	if (c.pos) {
		memmove(s->hs_in.data, s->hs_in.data + c.pos, s->hs_in.len - c.pos);
		s->hs_in.len -= c.pos;
	}
	return s->state;
}

enum sd_sess_state sd_session_feed(struct sd_session *s, const uint8_t *stream, size_t len,
				   struct sd_buf *out)
{
	struct sd_cursor c;

	if (s->state == SD_SESS_DONE || s->state == SD_SESS_FAILED)
		return s->state;
	if (len < s->consumed)
		fail(s, "server stream shrank");
	sd_cursor_init(&c, stream + s->consumed, len - s->consumed);
	while (sd_cursor_left(&c)) {
		struct sd_record r;
		int ret = sd_record_parse(&c, &r);

		if (ret == -SD_ETRUNC)
			break;
		if (ret < 0)
			fail(s, "the server sent bytes that are not TLS records: %s", sd_strerror(ret));
		s->consumed += SD_RECORD_HDR + r.len;
		s->flight_bytes = s->consumed;
		if (r.type == SD_CT_CCS)
			continue;
		if (r.type == SD_CT_ALERT) {
			if (r.len >= 2) {
				s->alert = true;
				s->alert_level = r.frag[0];
				s->alert_desc = r.frag[1];
			}
			fail(s, "alert %s", sd_tls_alert_name(s->alert_desc) ?
					       sd_tls_alert_name(s->alert_desc) : "?");
		}
		if (s->state == SD_SESS_WAIT_SH) {
			struct sd_cursor m;

			if (r.type != SD_CT_HANDSHAKE)
				fail(s, "record type %u before the ServerHello", r.type);
			sd_buf_put(&s->hs_in, r.frag, r.len);
			sd_cursor_init(&m, s->hs_in.data, s->hs_in.len);
			while (s->state == SD_SESS_WAIT_SH && sd_cursor_left(&m) >= 4) {
				size_t start = sd_cursor_offset(&m);
				uint8_t type;
				uint32_t mlen;
				uint8_t tmp[SD_RECORD_PLAIN_MAX + 4];

				if (sd_cursor_u8(&m, &type) < 0 || sd_cursor_u24(&m, &mlen) < 0 ||
				    sd_cursor_left(&m) < mlen || mlen + 4 > sizeof(tmp)) {
					m.pos = start;
					break;
				}
				if (type != SD_HS_SERVER_HELLO)
					fail(s, "%s before the ServerHello",
					     sd_tls_hs_name(type) ? sd_tls_hs_name(type) : "message");
				memcpy(tmp, s->hs_in.data + start, mlen + 4);
				if (sd_cursor_skip(&m, mlen) < 0)
					break;
				/* Drop the message before acting on it. */
				memmove(s->hs_in.data, s->hs_in.data + m.pos, s->hs_in.len - m.pos);
				s->hs_in.len -= m.pos;
				m.pos = 0;
				m.len = s->hs_in.len;
				if (on_server_hello(s, tmp, mlen + 4, out) == SD_SESS_FAILED)
					return s->state;
				if (s->state == SD_SESS_WAIT_FLIGHT && s->hs_in.len)
					fail(s, "handshake bytes after the ServerHello in a plaintext record (RFC 8446 §5.1)");
			}
			continue;
		}
		if (s->state == SD_SESS_WAIT_FLIGHT) {
			uint8_t plain[SD_RECORD_ANY_MAX];
			size_t n;
			uint8_t type;

			if (r.type != SD_CT_APPDATA)
				fail(s, "plaintext record type %u inside the encrypted flight", r.type);
			if (r.len < 17 || r.len > SD_RECORD_PLAIN_MAX + 256)
				fail(s, "encrypted record of %u bytes", r.len);
			if (aead(s, false, s->s_key, s->s_iv, s->s_seq++, stream + s->consumed - r.len - 5,
				 r.frag, r.len - 16u, plain, (uint8_t *)(uintptr_t)(r.frag + r.len - 16)) < 0)
				fail(s, "record %llu of the server's flight does not decrypt",
				     (unsigned long long)s->s_seq - 1);
			/* §5.4: strip the padding zeros; the last non-zero byte is the type. */
			n = r.len - 16u;
			while (n && plain[n - 1] == 0)
				n--;
			if (!n)
				fail(s, "encrypted record without a content type");
			type = plain[--n];
			if (type == SD_CT_ALERT) {
				s->alert = true;
				s->alert_level = n >= 1 ? plain[0] : 0;
				s->alert_desc = n >= 2 ? plain[1] : 0;
				fail(s, "encrypted alert %s", sd_tls_alert_name(s->alert_desc) ?
							      sd_tls_alert_name(s->alert_desc) : "?");
			}
			if (type != SD_CT_HANDSHAKE)
				fail(s, "encrypted record of type %u before the server's Finished", type);
			sd_buf_put(&s->hs_in, plain, n);
			if (on_flight_messages(s, out) != SD_SESS_WAIT_FLIGHT)
				return s->state;
		}
	}
	return s->state;
}
