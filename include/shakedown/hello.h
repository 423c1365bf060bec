/* SPDX-License-Identifier: MIT */
/*
 * ClientHello and ServerHello / HelloRetryRequest dissection (RFC 8446
 * §4.1.2, §4.1.3, §4.2). Parsing fills a struct of views into the caller's
 * message bytes: they live as long as those bytes. Offsets are from the
 * first byte of the handshake header, so "byte 702 of the message" means
 * the same thing everywhere in the tool.
 */
#ifndef SHAKEDOWN_HELLO_H
#define SHAKEDOWN_HELLO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shakedown/err.h"

#define SD_HELLO_MAX_EXT 128
#define SD_HELLO_MAX_SHARES 16
#define SD_HELLO_MAX_LIST 128
#define SD_HELLO_MAX_ALPN 16

struct sd_span {
	size_t offset;
	size_t len;
};

struct sd_ext_view {
	uint16_t type;
	size_t offset;           /* of the 2-byte type field */
	size_t len;              /* of the body */
	const uint8_t *body;
};

struct sd_share_view {
	uint16_t group;
	size_t offset;           /* of the key_exchange bytes */
	size_t len;
	const uint8_t *data;
};

struct sd_hello {
	const uint8_t *msg;      /* whole message, 4-byte header included */
	size_t len;
	uint16_t legacy_version;
	const uint8_t *random;   /* 32 bytes */
	struct sd_span random_span, session_id, ciphers_span, compression, exts_span;
	uint16_t ciphers[SD_HELLO_MAX_LIST];
	size_t nciphers;
	struct sd_ext_view ext[SD_HELLO_MAX_EXT];
	size_t next;
	struct sd_share_view shares[SD_HELLO_MAX_SHARES];
	size_t nshares;
	uint16_t groups[SD_HELLO_MAX_LIST];
	size_t ngroups;
	uint16_t versions[SD_HELLO_MAX_LIST];
	size_t nversions;
	uint16_t sigalgs[SD_HELLO_MAX_LIST];
	size_t nsigalgs;
	const uint8_t *sni;      /* host_name, not NUL-terminated */
	size_t sni_len;
	const uint8_t *alpn[SD_HELLO_MAX_ALPN];
	uint8_t alpn_len[SD_HELLO_MAX_ALPN];
	size_t nalpn;
	const uint8_t *cookie;
	size_t cookie_len;
	bool has_key_share, has_psk;
};

/*
 * Dissects one ClientHello message (header included). Unknown extensions
 * are kept by number. Errors: -SD_ETRUNC (the input ends before the
 * message does), -SD_ETYPE (not a ClientHello), -SD_ELENGTH (a length that
 * disagrees with its contents: a field running past its enclosing vector
 * or the message, bytes left over in one, bytes after the message),
 * -SD_EDUP (an extension type twice, §4.2; a key share group twice,
 * §4.2.8), -SD_EVALUE (pre_shared_key not last, §4.2.11), -SD_ELIMIT
 * (more items than the SD_HELLO_MAX_* above).
 */
int sd_hello_parse(const uint8_t *msg, size_t len, struct sd_hello *h) SD_WUR;

/* The extension of a type, or NULL. */
const struct sd_ext_view *sd_hello_ext(const struct sd_hello *h, uint16_t type);

/*
 * Describes the field holding byte off of the message, most specific first,
 * e.g. "key_share entry X25519MLKEM768, byte 702 of 1216". Writes a
 * NUL-terminated string into out; returns its length.
 */
size_t sd_hello_field_at(const struct sd_hello *h, size_t off, char *out, size_t n);

/* A visitor over the ClientHello's field map (for reports): one call per
 * field, depth 0 for top-level fields, 1 inside an extension. */
typedef void (*sd_field_fn)(void *ctx, int depth, const char *name, size_t offset,
			    size_t len);
void sd_hello_fields(const struct sd_hello *h, sd_field_fn fn, void *ctx);

/* RFC 8446 §4.1.3: a HelloRetryRequest is a ServerHello whose random is
 * SHA-256("HelloRetryRequest"). */
extern const uint8_t sd_hrr_random[32];

struct sd_server_hello {
	uint16_t legacy_version;
	uint16_t version;        /* from supported_versions, else legacy_version */
	uint16_t cipher;
	bool hrr;
	bool has_group;
	uint16_t group;          /* key_share: selected group (HRR) or the share's group */
	size_t share_len;        /* 0 for an HRR */
	const uint8_t *share;
	const uint8_t *cookie;   /* HRR cookie extension body (without its length) */
	size_t cookie_len;
	const uint8_t *random;
	size_t next;
	uint16_t ext_types[SD_HELLO_MAX_EXT];
};

/* Parses a ServerHello or HelloRetryRequest message (header included).
 * Errors as sd_hello_parse. */
int sd_server_hello_parse(const uint8_t *msg, size_t len, struct sd_server_hello *s) SD_WUR;


/* ---- building ---------------------------------------------------------- */

#include "shakedown/buf.h"
#include "shakedown/keyshare.h"
#include "shakedown/profile.h"
#include "shakedown/rng.h"

/* Per-hello overrides of a profile (the hello subcommand's flags). */
struct sd_hello_opts {
	const char *sni;                    /* NULL: the profile's; "": none */
	const struct sd_u16list *groups;    /* NULL: the profile's */
	const struct sd_u16list *shares;    /* NULL: the profile's */
	const char (*alpn)[32];             /* with nalpn, when alpn_set */
	size_t nalpn;
	bool alpn_set;
	size_t pad_to;                      /* whole message size; 0: the profile's rule */
};

#define SD_HELLO_MAX_KEYS 8

/*
 * What a ClientHello was built from, so that the second ClientHello after a
 * HelloRetryRequest is the same except where RFC 8446 §4.1.2 allows, and
 * so that the key exchange can be finished later. Holds private keys:
 * clear with sd_hello_state_clear.
 */
struct sd_hello_state {
	uint8_t random[32];
	uint8_t session_id[32];
	uint16_t grease[6];                 /* cipher, group, ext1, ext2, version, sigalg */
	uint16_t order[SD_PROFILE_MAX_LIST];
	uint16_t order_glen[SD_PROFILE_MAX_LIST];
	size_t norder;
	uint8_t ech[1200];                  /* GREASE ECH body, copied into a retry */
	size_t ech_len;
	struct sd_kex_priv keys[SD_HELLO_MAX_KEYS];
	size_t nkeys;
	size_t unpadded_len;                /* message size before padding */
};

/*
 * Builds a ClientHello handshake message (4-byte header included) from a
 * profile into msg, with every random choice drawn from rng. Errors:
 * -SD_EVALUE (pad_to smaller than the hello plus a padding extension, or
 * an extension this tool cannot produce), -SD_EUNKNOWN (a share group
 * without key generation), -SD_ELENGTH (a field outgrew its length
 * prefix), -SD_ECRYPTO, -ENOMEM.
 */
int sd_hello_build(const struct sd_profile *p, const struct sd_hello_opts *o,
		   struct sd_rng *rng, struct sd_hello_state *st, struct sd_buf *msg) SD_WUR;

/*
 * The second ClientHello answering a HelloRetryRequest (RFC 8446 §4.1.2):
 * st from the first; key_share holds one share for group; cookie echoed
 * when the HRR had one (§4.2.2).
 */
int sd_hello_build_retry(const struct sd_profile *p, const struct sd_hello_opts *o,
			 struct sd_rng *rng, struct sd_hello_state *st, uint16_t group,
			 const uint8_t *cookie, size_t cookie_len, struct sd_buf *msg) SD_WUR;

void sd_hello_state_clear(struct sd_hello_state *st);

#endif
