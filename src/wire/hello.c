/* SPDX-License-Identifier: MIT */
/* ClientHello and ServerHello dissection, and the ClientHello field map. */
#include <stdio.h>
#include <string.h>

#include "shakedown/cursor.h"
#include "shakedown/hello.h"
#include "shakedown/tls.h"

/* SHA-256("HelloRetryRequest"), RFC 8446 §4.1.3. */
const uint8_t sd_hrr_random[32] = {
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02,
	0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e,
	0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

static int read_u16_list(struct sd_cursor *c, unsigned lenbytes, uint16_t *out,
			 size_t max, size_t *n)
{
	struct sd_cursor v;
	int ret;

	if ((ret = sd_cursor_vec(c, lenbytes, &v)) < 0)
		return ret;
	if (sd_cursor_left(&v) % 2)
		return -SD_ELENGTH;
	*n = 0;
	while (sd_cursor_left(&v)) {
		uint16_t x;

		if (*n == max)
			return -SD_ELIMIT;
		if ((ret = sd_cursor_u16(&v, &x)) < 0)
			return ret;
		out[(*n)++] = x;
	}
	return 0;
}

/* RFC 8446 §4.2.8 KeyShareClientHello: client_shares<0..2^16-1>. */
static int parse_key_share(struct sd_hello *h, struct sd_cursor *body)
{
	struct sd_cursor list;
	int ret;

	if ((ret = sd_cursor_vec(body, 2, &list)) < 0)
		return ret;
	while (sd_cursor_left(&list)) {
		struct sd_share_view *s;
		struct sd_cursor kx;
		uint16_t group;

		if ((ret = sd_cursor_u16(&list, &group)) < 0 ||
		    (ret = sd_cursor_vec(&list, 2, &kx)) < 0)
			return ret;
		/* Clients MUST NOT offer two shares for one group (§4.2.8). */
		for (size_t i = 0; i < h->nshares; i++)
			if (h->shares[i].group == group)
				return -SD_EDUP;
		if (h->nshares == SD_HELLO_MAX_SHARES)
			return -SD_ELIMIT;
		s = &h->shares[h->nshares++];
		s->group = group;
		s->offset = sd_cursor_offset(&kx);
		s->len = kx.len;
		s->data = kx.p;
	}
	h->has_key_share = true;
	return sd_cursor_end(body);
}

/* RFC 6066 §3 ServerNameList; only host_name (0) is defined. */
static int parse_sni(struct sd_hello *h, struct sd_cursor *body)
{
	struct sd_cursor list;
	int ret;

	if (sd_cursor_left(body) == 0)
		return 0; /* a server's empty echo; legal in responses only */
	if ((ret = sd_cursor_vec(body, 2, &list)) < 0)
		return ret;
	while (sd_cursor_left(&list)) {
		struct sd_cursor name;
		uint8_t type;

		if ((ret = sd_cursor_u8(&list, &type)) < 0 ||
		    (ret = sd_cursor_vec(&list, 2, &name)) < 0)
			return ret;
		if (type == 0 && !h->sni) {
			h->sni = name.p;
			h->sni_len = name.len;
		}
	}
	return sd_cursor_end(body);
}

/* RFC 7301 §3.1 ProtocolNameList. */
static int parse_alpn(struct sd_hello *h, struct sd_cursor *body)
{
	struct sd_cursor list;
	int ret;

	if ((ret = sd_cursor_vec(body, 2, &list)) < 0)
		return ret;
	while (sd_cursor_left(&list)) {
		struct sd_cursor name;

		if ((ret = sd_cursor_vec(&list, 1, &name)) < 0)
			return ret;
		if (name.len == 0)
			return -SD_EVALUE; /* ProtocolName<1..2^8-1> */
		if (h->nalpn == SD_HELLO_MAX_ALPN)
			return -SD_ELIMIT;
		h->alpn[h->nalpn] = name.p;
		h->alpn_len[h->nalpn++] = (uint8_t)name.len;
	}
	return sd_cursor_end(body);
}

static int parse_ext_body(struct sd_hello *h, uint16_t type, struct sd_cursor *body)
{
	struct sd_cursor v;
	int ret;

	switch (type) {
	case SD_EXT_SERVER_NAME:
		return parse_sni(h, body);
	case SD_EXT_SUPPORTED_GROUPS:
		if ((ret = read_u16_list(body, 2, h->groups, SD_HELLO_MAX_LIST,
					 &h->ngroups)) < 0)
			return ret;
		return sd_cursor_end(body);
	case SD_EXT_SIGNATURE_ALGORITHMS:
		if ((ret = read_u16_list(body, 2, h->sigalgs, SD_HELLO_MAX_LIST,
					 &h->nsigalgs)) < 0)
			return ret;
		return sd_cursor_end(body);
	case SD_EXT_SUPPORTED_VERSIONS:
		/* §4.2.1: ProtocolVersion versions<2..254> in a ClientHello. */
		if ((ret = read_u16_list(body, 1, h->versions, SD_HELLO_MAX_LIST,
					 &h->nversions)) < 0)
			return ret;
		return sd_cursor_end(body);
	case SD_EXT_KEY_SHARE:
		return parse_key_share(h, body);
	case SD_EXT_ALPN:
		return parse_alpn(h, body);
	case SD_EXT_COOKIE:
		/* §4.2.2 Cookie: opaque cookie<1..2^16-1>. */
		if ((ret = sd_cursor_vec(body, 2, &v)) < 0)
			return ret;
		h->cookie = v.p;
		h->cookie_len = v.len;
		return sd_cursor_end(body);
	}
	return 0;
}

/*
 * Once a message's length fits the input, the input is known to be whole:
 * a field that then runs past its enclosing vector (or past the message)
 * is a length disagreeing with what encloses it, not a cut input. The
 * cursor reports both as -SD_ETRUNC; only the caller knows which it is.
 */
static int within_message(int ret)
{
	return ret == -SD_ETRUNC ? -SD_ELENGTH : ret;
}

static int parse_client_body(struct sd_hello *h, struct sd_cursor *mc)
{
	struct sd_cursor m = *mc, v, exts;
	int ret;

	/* §4.1.2: legacy_version, random, legacy_session_id<0..32>,
	 * cipher_suites<2..2^16-2>, legacy_compression_methods<1..2^8-1>,
	 * extensions<8..2^16-1>. */
	if ((ret = sd_cursor_u16(&m, &h->legacy_version)) < 0)
		return ret;
	h->random_span.offset = sd_cursor_offset(&m);
	h->random_span.len = 32;
	if ((ret = sd_cursor_bytes(&m, 32, &h->random)) < 0)
		return ret;
	if ((ret = sd_cursor_vec(&m, 1, &v)) < 0)
		return ret;
	if (v.len > 32)
		return -SD_ELENGTH;
	h->session_id.offset = v.origin;
	h->session_id.len = v.len;
	h->ciphers_span.offset = sd_cursor_offset(&m);
	if ((ret = read_u16_list(&m, 2, h->ciphers, SD_HELLO_MAX_LIST,
				 &h->nciphers)) < 0)
		return ret;
	h->ciphers_span.len = sd_cursor_offset(&m) - h->ciphers_span.offset;
	if (h->nciphers == 0)
		return -SD_ELENGTH;
	if ((ret = sd_cursor_vec(&m, 1, &v)) < 0)
		return ret;
	if (v.len == 0)
		return -SD_ELENGTH;
	h->compression.offset = v.origin - 1;
	h->compression.len = v.len + 1;
	if (sd_cursor_left(&m) == 0)
		return 0; /* extensions are optional before TLS 1.3 */
	h->exts_span.offset = sd_cursor_offset(&m);
	if ((ret = sd_cursor_vec(&m, 2, &exts)) < 0)
		return ret;
	h->exts_span.len = exts.len + 2;
	if ((ret = sd_cursor_end(&m)) < 0)
		return ret;
	while (sd_cursor_left(&exts)) {
		struct sd_ext_view *e;
		struct sd_cursor body;
		size_t off = sd_cursor_offset(&exts);
		uint16_t et;

		if ((ret = sd_cursor_u16(&exts, &et)) < 0 ||
		    (ret = sd_cursor_vec(&exts, 2, &body)) < 0)
			return ret;
		/* §4.2.11: pre_shared_key MUST be the last extension. */
		if (h->has_psk)
			return -SD_EVALUE;
		/* §4.2: no two extensions of the same type. */
		for (size_t i = 0; i < h->next; i++)
			if (h->ext[i].type == et)
				return -SD_EDUP;
		if (h->next == SD_HELLO_MAX_EXT)
			return -SD_ELIMIT;
		e = &h->ext[h->next++];
		e->type = et;
		e->offset = off;
		e->len = body.len;
		e->body = body.p;
		if (et == SD_EXT_PRE_SHARED_KEY)
			h->has_psk = true;
		if ((ret = parse_ext_body(h, et, &body)) < 0)
			return ret;
	}
	return 0;
}

int sd_hello_parse(const uint8_t *msg, size_t len, struct sd_hello *h)
{
	struct sd_cursor c, m;
	uint8_t type;
	uint32_t mlen;
	int ret;

	memset(h, 0, sizeof(*h));
	sd_cursor_init(&c, msg, len);
	if ((ret = sd_cursor_u8(&c, &type)) < 0)
		return ret;
	if (type != SD_HS_CLIENT_HELLO)
		return -SD_ETYPE;
	if ((ret = sd_cursor_u24(&c, &mlen)) < 0)
		return ret;
	if ((ret = sd_cursor_sub(&c, mlen, &m)) < 0)
		return ret;
	if ((ret = sd_cursor_end(&c)) < 0)
		return ret;
	h->msg = msg;
	h->len = (size_t)mlen + 4;
	return within_message(parse_client_body(h, &m));
}

const struct sd_ext_view *sd_hello_ext(const struct sd_hello *h, uint16_t type)
{
	for (size_t i = 0; i < h->next; i++)
		if (h->ext[i].type == type)
			return &h->ext[i];
	return NULL;
}

static const char *group_label(uint16_t g, char *tmp, size_t n)
{
	const char *name = sd_tls_group_name(g);

	if (name)
		return name;
	snprintf(tmp, n, "0x%04x", g);
	return tmp;
}

static const char *ext_label(uint16_t t, char *tmp, size_t n)
{
	const char *name = sd_tls_ext_name(t);

	if (name && !sd_tls_is_grease(t))
		return name;
	snprintf(tmp, n, "%s0x%04x", name ? "GREASE " : "", t);
	return tmp;
}

size_t sd_hello_field_at(const struct sd_hello *h, size_t off, char *out, size_t n)
{
	char tmp[32];
	int w;

	if (off >= h->len)
		w = snprintf(out, n, "beyond the ClientHello (%zu bytes)", h->len);
	else if (off < 4)
		w = snprintf(out, n, "handshake header, byte %zu of 4", off + 1);
	else if (off < h->random_span.offset)
		w = snprintf(out, n, "legacy_version");
	else if (off < h->random_span.offset + 32)
		w = snprintf(out, n, "random, byte %zu of 32", off - h->random_span.offset + 1);
	else if (off < h->ciphers_span.offset)
		w = snprintf(out, n, "legacy_session_id");
	else if (off < h->ciphers_span.offset + h->ciphers_span.len)
		w = snprintf(out, n, "cipher_suites");
	else if (off < h->compression.offset + h->compression.len)
		w = snprintf(out, n, "legacy_compression_methods");
	else if (off < h->exts_span.offset + 2)
		w = snprintf(out, n, "extensions length");
	else {
		w = snprintf(out, n, "extensions");
		for (size_t i = 0; i < h->next; i++) {
			const struct sd_ext_view *e = &h->ext[i];
			const char *name = ext_label(e->type, tmp, sizeof(tmp));

			if (off < e->offset || off >= e->offset + 4 + e->len)
				continue;
			if (off < e->offset + 4) {
				w = snprintf(out, n, "%s extension header", name);
				break;
			}
			w = snprintf(out, n, "%s, byte %zu of %zu", name,
				     off - e->offset - 4 + 1, e->len);
			if (e->type != SD_EXT_KEY_SHARE)
				break;
			for (size_t k = 0; k < h->nshares; k++) {
				const struct sd_share_view *s = &h->shares[k];

				if (off >= s->offset - 4 && off < s->offset)
					w = snprintf(out, n, "key_share entry %s header",
						     group_label(s->group, tmp, sizeof(tmp)));
				else if (off >= s->offset && off < s->offset + s->len)
					w = snprintf(out, n, "key_share entry %s, byte %zu of %zu",
						     group_label(s->group, tmp, sizeof(tmp)),
						     off - s->offset + 1, s->len);
			}
			break;
		}
	}
	if (w < 0)
		w = 0;
	return (size_t)w < n ? (size_t)w : (n ? n - 1 : 0);
}

void sd_hello_fields(const struct sd_hello *h, sd_field_fn fn, void *ctx)
{
	char name[64], tmp[32];

	fn(ctx, 0, "handshake header", 0, 4);
	fn(ctx, 0, "legacy_version", 4, 2);
	fn(ctx, 0, "random", h->random_span.offset, 32);
	fn(ctx, 0, "legacy_session_id", h->session_id.offset - 1, h->session_id.len + 1);
	fn(ctx, 0, "cipher_suites", h->ciphers_span.offset, h->ciphers_span.len);
	fn(ctx, 0, "legacy_compression_methods", h->compression.offset, h->compression.len);
	if (!h->exts_span.len)
		return;
	fn(ctx, 0, "extensions length", h->exts_span.offset, 2);
	for (size_t i = 0; i < h->next; i++) {
		const struct sd_ext_view *e = &h->ext[i];

		fn(ctx, 0, ext_label(e->type, tmp, sizeof(tmp)), e->offset, e->len + 4);
		if (e->type != SD_EXT_KEY_SHARE)
			continue;
		for (size_t k = 0; k < h->nshares; k++) {
			const struct sd_share_view *s = &h->shares[k];

			snprintf(name, sizeof(name), "key_share entry %s",
				 group_label(s->group, tmp, sizeof(tmp)));
			fn(ctx, 1, name, s->offset - 4, s->len + 4);
		}
	}
}

static int parse_server_body(struct sd_server_hello *s, struct sd_cursor *mc)
{
	struct sd_cursor m = *mc, v, exts;
	uint8_t comp;
	int ret;

	/* §4.1.3 ServerHello: legacy_version, random, legacy_session_id_echo,
	 * cipher_suite, legacy_compression_method, extensions. */
	if ((ret = sd_cursor_u16(&m, &s->legacy_version)) < 0 ||
	    (ret = sd_cursor_bytes(&m, 32, &s->random)) < 0 ||
	    (ret = sd_cursor_vec(&m, 1, &v)) < 0 ||
	    (ret = sd_cursor_u16(&m, &s->cipher)) < 0 ||
	    (ret = sd_cursor_u8(&m, &comp)) < 0)
		return ret;
	if (v.len > 32)
		return -SD_ELENGTH;
	s->version = s->legacy_version;
	s->hrr = memcmp(s->random, sd_hrr_random, 32) == 0;
	if (sd_cursor_left(&m) == 0)
		return 0;
	if ((ret = sd_cursor_vec(&m, 2, &exts)) < 0 || (ret = sd_cursor_end(&m)) < 0)
		return ret;
	while (sd_cursor_left(&exts)) {
		struct sd_cursor body, ck;
		uint16_t et, x;

		if ((ret = sd_cursor_u16(&exts, &et)) < 0 ||
		    (ret = sd_cursor_vec(&exts, 2, &body)) < 0)
			return ret;
		for (size_t i = 0; i < s->next; i++)
			if (s->ext_types[i] == et)
				return -SD_EDUP;
		if (s->next == SD_HELLO_MAX_EXT)
			return -SD_ELIMIT;
		s->ext_types[s->next++] = et;
		switch (et) {
		case SD_EXT_SUPPORTED_VERSIONS:
			if ((ret = sd_cursor_u16(&body, &s->version)) < 0)
				return ret;
			break;
		case SD_EXT_KEY_SHARE:
			/* §4.2.8: an HRR carries selected_group only; a
			 * ServerHello carries one KeyShareEntry. */
			if ((ret = sd_cursor_u16(&body, &x)) < 0)
				return ret;
			s->group = x;
			s->has_group = true;
			if (!s->hrr) {
				if ((ret = sd_cursor_vec(&body, 2, &ck)) < 0)
					return ret;
				s->share = ck.p;
				s->share_len = ck.len;
			}
			break;
		case SD_EXT_COOKIE:
			if ((ret = sd_cursor_vec(&body, 2, &ck)) < 0)
				return ret;
			s->cookie = ck.p;
			s->cookie_len = ck.len;
			break;
		default:
			if ((ret = sd_cursor_skip(&body, sd_cursor_left(&body))) < 0)
				return ret;
		}
		if ((ret = sd_cursor_end(&body)) < 0)
			return ret;
	}
	return 0;
}

int sd_server_hello_parse(const uint8_t *msg, size_t len, struct sd_server_hello *s)
{
	struct sd_cursor c, m;
	uint8_t type;
	uint32_t mlen;
	int ret;

	memset(s, 0, sizeof(*s));
	sd_cursor_init(&c, msg, len);
	if ((ret = sd_cursor_u8(&c, &type)) < 0)
		return ret;
	if (type != SD_HS_SERVER_HELLO)
		return -SD_ETYPE;
	if ((ret = sd_cursor_u24(&c, &mlen)) < 0 ||
	    (ret = sd_cursor_sub(&c, mlen, &m)) < 0 ||
	    (ret = sd_cursor_end(&c)) < 0)
		return ret;
	return within_message(parse_server_body(s, &m));
}

/* ---- building ---------------------------------------------------------- */

#include <openssl/crypto.h>

static uint16_t grease_fill(uint16_t v, uint16_t g)
{
	return v == SD_GREASE_SLOT ? g : v;
}

static int pick_grease(struct sd_rng *rng, uint16_t *out, size_t n)
{
	uint8_t b[8];
	int ret;

	if ((ret = sd_rng_bytes(rng, b, n)) < 0)
		return ret;
	for (size_t i = 0; i < n; i++) {
		uint16_t nib = b[i] & 0x0f;

		out[i] = (uint16_t)(nib << 12 | 0x0a00 | nib << 4 | 0x0a);
	}
	/* Two GREASE extensions of one type would be a duplicate (§4.2). */
	if (out[3] == out[2])
		out[3] ^= 0x1010;
	return 0;
}

static void put_u16list(struct sd_buf *b, unsigned lenbytes, const struct sd_u16list *l,
			uint16_t grease)
{
	size_t m = sd_buf_vec_open(b, lenbytes);

	for (size_t i = 0; i < l->n; i++)
		sd_buf_u16(b, grease_fill(l->v[i], grease));
	sd_buf_vec_close(b, m, lenbytes);
}

static void put_names(struct sd_buf *b, const char (*names)[32], size_t n)
{
	size_t m = sd_buf_vec_open(b, 2);

	for (size_t i = 0; i < n; i++) {
		size_t k = sd_buf_vec_open(b, 1);

		sd_buf_put(b, names[i], strlen(names[i]));
		sd_buf_vec_close(b, k, 1);
	}
	sd_buf_vec_close(b, m, 2);
}

struct build {
	const struct sd_profile *p;
	const struct sd_hello_opts *o;
	struct sd_rng *rng;
	struct sd_hello_state *st;
	bool retry;
	uint16_t retry_group;
	const uint8_t *cookie;
	size_t cookie_len;
	const char *sni;
	const struct sd_u16list *groups, *shares;
};

static int put_key_share(struct build *b, struct sd_buf *e)
{
	size_t m = sd_buf_vec_open(e, 2);
	struct sd_hello_state *st = b->st;
	int ret;

	st->nkeys = 0;
	for (size_t i = 0; i < (b->retry ? 1 : b->shares->n); i++) {
		uint16_t g = b->retry ? b->retry_group :
					grease_fill(b->shares->v[i], st->grease[1]);
		struct sd_kex_priv *priv = NULL;
		size_t k;

		if (!sd_tls_is_grease(g)) {
			if (st->nkeys == SD_HELLO_MAX_KEYS)
				return -SD_ELIMIT;
			priv = &st->keys[st->nkeys++];
		}
		sd_buf_u16(e, g);
		k = sd_buf_vec_open(e, 2);
		if ((ret = sd_keyshare_make(g, b->rng, e, priv)) < 0)
			return ret;
		sd_buf_vec_close(e, k, 2);
	}
	sd_buf_vec_close(e, m, 2);
	return sd_buf_error(e);
}

/* draft-ietf-tls-esni §6.2 GREASE ECH: an outer ECH with random config_id,
 * enc and payload, kept so a retry copies it unchanged. */
static int put_ech_grease(struct build *b, struct sd_buf *e)
{
	struct sd_hello_state *st = b->st;
	size_t plen = b->p->ech_grease_payload ? b->p->ech_grease_payload : 176;
	uint8_t rnd[1 + 32 + 1024];
	struct sd_buf t = SD_BUF_INIT;
	size_t m;
	int ret;

	if (!b->retry) {
		if ((ret = sd_rng_bytes(b->rng, rnd, 1 + 32 + plen)) < 0)
			return ret;
		sd_buf_u8(&t, 0);          /* ECHClientHelloType outer */
		sd_buf_u16(&t, 0x0001);    /* HKDF-SHA256 */
		sd_buf_u16(&t, 0x0001);    /* AES-128-GCM */
		sd_buf_u8(&t, rnd[0]);     /* config_id */
		m = sd_buf_vec_open(&t, 2);
		sd_buf_put(&t, rnd + 1, 32);
		sd_buf_vec_close(&t, m, 2);
		m = sd_buf_vec_open(&t, 2);
		sd_buf_put(&t, rnd + 33, plen);
		sd_buf_vec_close(&t, m, 2);
		if ((ret = sd_buf_error(&t)) < 0 || t.len > sizeof(st->ech)) {
			sd_buf_free(&t);
			return ret < 0 ? ret : -SD_ELENGTH;
		}
		memcpy(st->ech, t.data, t.len);
		st->ech_len = t.len;
		sd_buf_free(&t);
	}
	sd_buf_put(e, st->ech, st->ech_len);
	return sd_buf_error(e);
}

static const struct sd_raw_ext *raw_for(const struct sd_profile *p, uint16_t type)
{
	for (size_t i = 0; i < p->nraw; i++)
		if (p->raw[i].type == type)
			return &p->raw[i];
	return NULL;
}

/* Appends one extension; returns 1 if written, 0 if skipped (nothing to
 * say), or an error. */
static int put_ext(struct build *b, uint16_t type, uint16_t glen, uint16_t grease,
		   struct sd_buf *e)
{
	const struct sd_profile *p = b->p;
	const struct sd_raw_ext *raw = raw_for(p, type);
	size_t m, k;
	int ret = 0;

	if (type == SD_EXT_SERVER_NAME && !*b->sni)
		return 0; /* RFC 6066 §3: no literal IP addresses, so none */
	if (type == SD_EXT_ALPN && !(b->o && b->o->alpn_set ? b->o->nalpn : p->nalpn))
		return 0;
	if (type == SD_EXT_PRE_SHARED_KEY || type == SD_EXT_EARLY_DATA)
		return -SD_EVALUE; /* needs a session this tool never has */
	if (type == SD_EXT_COOKIE)
		return -SD_EVALUE; /* only echoes an HRR's, after key_share (§4.2.2) */
	if (type == SD_EXT_PADDING)
		return 0; /* placed by the caller */
	sd_buf_u16(e, type == SD_GREASE_SLOT ? grease : type);
	m = sd_buf_vec_open(e, 2);
	if (raw) {
		sd_buf_put(e, raw->data, raw->len);
	} else if (type == SD_GREASE_SLOT) {
		sd_buf_zero(e, glen);
	} else {
		switch (type) {
		case SD_EXT_SERVER_NAME:
			/* RFC 6066 §3: ServerNameList with one host_name. */
			k = sd_buf_vec_open(e, 2);
			sd_buf_u8(e, 0);
			{
				size_t h = sd_buf_vec_open(e, 2);

				sd_buf_put(e, b->sni, strlen(b->sni));
				sd_buf_vec_close(e, h, 2);
			}
			sd_buf_vec_close(e, k, 2);
			break;
		case SD_EXT_SUPPORTED_GROUPS:
			put_u16list(e, 2, b->groups, b->st->grease[1]);
			break;
		case SD_EXT_SIGNATURE_ALGORITHMS:
			put_u16list(e, 2, &p->sigalgs, b->st->grease[5]);
			break;
		case SD_EXT_DELEGATED_CREDENTIAL:
			put_u16list(e, 2, &p->delegated_sigalgs, b->st->grease[5]);
			break;
		case SD_EXT_SUPPORTED_VERSIONS:
			put_u16list(e, 1, &p->versions, b->st->grease[4]);
			break;
		case SD_EXT_KEY_SHARE:
			ret = put_key_share(b, e);
			break;
		case SD_EXT_ALPN:
			if (b->o && b->o->alpn_set)
				put_names(e, b->o->alpn, b->o->nalpn);
			else
				put_names(e, p->alpn, p->nalpn);
			break;
		case SD_EXT_APPLICATION_SETTINGS:
		case SD_EXT_APPLICATION_SETTINGS_OLD:
			put_names(e, p->alps, p->nalps);
			break;
		case SD_EXT_EC_POINT_FORMATS:
			k = sd_buf_vec_open(e, 1);
			sd_buf_put(e, p->ec_point_formats, p->nec_point_formats);
			sd_buf_vec_close(e, k, 1);
			break;
		case SD_EXT_PSK_KEY_EXCHANGE_MODES:
			k = sd_buf_vec_open(e, 1);
			sd_buf_put(e, p->psk_modes, p->npsk_modes);
			sd_buf_vec_close(e, k, 1);
			break;
		case SD_EXT_COMPRESS_CERTIFICATE:
			put_u16list(e, 1, &p->cert_compression, 0);
			break;
		case SD_EXT_STATUS_REQUEST:
			/* RFC 6066 §8: ocsp(1), no responder ids, no extensions. */
			sd_buf_u8(e, 1);
			sd_buf_u16(e, 0);
			sd_buf_u16(e, 0);
			break;
		case SD_EXT_RENEGOTIATION_INFO:
			sd_buf_u8(e, 0); /* RFC 5746 §3.4: empty renegotiated_connection */
			break;
		case SD_EXT_RECORD_SIZE_LIMIT:
			sd_buf_u16(e, p->record_size_limit ? p->record_size_limit : 16385);
			break;
		case SD_EXT_ECH:
			ret = put_ech_grease(b, e);
			break;
		default:
			break; /* empty: extended_master_secret, session_ticket, SCT ... */
		}
	}
	if (ret < 0)
		return ret;
	sd_buf_vec_close(e, m, 2);
	if (type == SD_EXT_KEY_SHARE && b->retry && b->cookie) {
		/* §4.2.2: echo the HRR's cookie. */
		sd_buf_u16(e, SD_EXT_COOKIE);
		m = sd_buf_vec_open(e, 2);
		k = sd_buf_vec_open(e, 2);
		sd_buf_put(e, b->cookie, b->cookie_len);
		sd_buf_vec_close(e, k, 2);
		sd_buf_vec_close(e, m, 2);
	}
	return sd_buf_error(e) < 0 ? sd_buf_error(e) : 1;
}

static int shuffle_order(struct build *b)
{
	struct sd_hello_state *st = b->st;
	size_t idx[SD_PROFILE_MAX_LIST], n = 0;
	int ret;

	/* Chrome permutes every extension but GREASE (kept first and last)
	 * and pre_shared_key (must stay last, §4.2.11). */
	for (size_t i = 0; i < st->norder; i++)
		if (st->order[i] != SD_GREASE_SLOT && st->order[i] != SD_EXT_PRE_SHARED_KEY)
			idx[n++] = i;
	for (size_t i = n; i > 1; i--) {
		uint32_t j;
		uint16_t t;

		if ((ret = sd_rng_below(b->rng, (uint32_t)i, &j)) < 0)
			return ret;
		t = st->order[idx[i - 1]];
		st->order[idx[i - 1]] = st->order[idx[j]];
		st->order[idx[j]] = t;
	}
	return 0;
}

static int build(struct build *b, struct sd_buf *msg)
{
	const struct sd_profile *p = b->p;
	struct sd_hello_state *st = b->st;
	struct sd_buf e = SD_BUF_INIT;
	size_t fixed, total, padpos = SIZE_MAX, padlen = 0, m;
	unsigned ngrease = 0;
	int ret;

	b->sni = b->o && b->o->sni ? b->o->sni : p->sni;
	b->groups = b->o && b->o->groups ? b->o->groups : &p->groups;
	b->shares = b->o && b->o->shares ? b->o->shares : &p->shares;
	if (strlen(b->sni) > 255)
		return -SD_EVALUE;
	if (!b->retry) {
		memset(st, 0, sizeof(*st));
		if ((ret = sd_rng_bytes(b->rng, st->random, 32)) < 0 ||
		    (ret = sd_rng_bytes(b->rng, st->session_id, p->session_id_len)) < 0 ||
		    (ret = pick_grease(b->rng, st->grease, 6)) < 0)
			return ret;
		memcpy(st->order, p->exts.v, p->exts.n * sizeof(uint16_t));
		memcpy(st->order_glen, p->grease_len, p->exts.n * sizeof(uint16_t));
		st->norder = p->exts.n;
		if (p->shuffle && (ret = shuffle_order(b)) < 0)
			return ret;
	}

	for (size_t i = 0; i < st->norder; i++) {
		uint16_t t = st->order[i];
		uint16_t g = 0;

		if (t == SD_EXT_PADDING)
			padpos = e.len;
		if (t == SD_GREASE_SLOT)
			g = st->grease[2 + (ngrease++ ? 1 : 0)];
		if ((ret = put_ext(b, t, st->order_glen[i], g, &e)) < 0)
			goto out;
	}
	if ((ret = sd_buf_error(&e)) < 0)
		goto out;

	/* 4 header + 2 version + 32 random + 1+sid + 2+ciphers + 2 compression. */
	fixed = 4 + 2 + 32 + 1 + p->session_id_len + 2 + 2 * p->ciphers.n + 2;
	total = fixed + 2 + e.len;
	st->unpadded_len = total;
	if (b->o && b->o->pad_to) {
		/* RFC 7685 §3: the padding extension's body is zero bytes. */
		if (b->o->pad_to < total + 4 || b->o->pad_to - total - 4 > 0xffff) {
			ret = -SD_EVALUE;
			goto out;
		}
		padlen = b->o->pad_to - total - 4 + 1;
	} else if (p->padding == SD_PAD_BORINGSSL && total - 4 > 0xff && total - 4 < 0x200) {
		/* BoringSSL pads hellos of 256..511 bytes (record payload less
		 * the handshake header) to 512 against the F5 bug. */
		size_t want = 0x200 - (total - 4);

		padlen = (want >= 4 + 1 ? want - 4 : 1) + 1;
	}

	sd_buf_u8(msg, SD_HS_CLIENT_HELLO);
	m = sd_buf_vec_open(msg, 3);
	sd_buf_u16(msg, SD_TLS12); /* §4.1.2 legacy_version */
	sd_buf_put(msg, st->random, 32);
	sd_buf_u8(msg, p->session_id_len);
	sd_buf_put(msg, st->session_id, p->session_id_len);
	put_u16list(msg, 2, &p->ciphers, st->grease[0]);
	sd_buf_u8(msg, 1);
	sd_buf_u8(msg, 0);  /* null compression only (§4.1.2) */
	{
		size_t x = sd_buf_vec_open(msg, 2);

		if (padpos == SIZE_MAX)
			padpos = e.len;
		sd_buf_put(msg, e.data, padpos);
		if (padlen) {
			sd_buf_u16(msg, SD_EXT_PADDING);
			sd_buf_u16(msg, (uint16_t)(padlen - 1));
			sd_buf_zero(msg, padlen - 1);
		}
		/* A profile with no extensions leaves e.data NULL, and
		 * NULL + 0 is undefined behaviour. */
		if (padpos < e.len)
			sd_buf_put(msg, e.data + padpos, e.len - padpos);
		sd_buf_vec_close(msg, x, 2);
	}
	sd_buf_vec_close(msg, m, 3);
	ret = sd_buf_error(msg);
out:
	OPENSSL_cleanse(e.data, e.cap);
	sd_buf_free(&e);
	return ret;
}

int sd_hello_build(const struct sd_profile *p, const struct sd_hello_opts *o,
		   struct sd_rng *rng, struct sd_hello_state *st, struct sd_buf *msg)
{
	struct build b = { .p = p, .o = o, .rng = rng, .st = st };

	return build(&b, msg);
}

int sd_hello_build_retry(const struct sd_profile *p, const struct sd_hello_opts *o,
			 struct sd_rng *rng, struct sd_hello_state *st, uint16_t group,
			 const uint8_t *cookie, size_t cookie_len, struct sd_buf *msg)
{
	struct build b = {
		.p = p, .o = o, .rng = rng, .st = st, .retry = true,
		.retry_group = group, .cookie = cookie, .cookie_len = cookie_len,
	};
	bool has_ks = false;

	for (size_t i = 0; i < st->norder; i++)
		has_ks |= st->order[i] == SD_EXT_KEY_SHARE;
	if (!has_ks || sd_tls_is_grease(group))
		return -SD_EVALUE;
	return build(&b, msg);
}

void sd_hello_state_clear(struct sd_hello_state *st)
{
	OPENSSL_cleanse(st, sizeof(*st));
}
