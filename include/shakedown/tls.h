/* SPDX-License-Identifier: MIT */
/*
 * TLS code points and their names: content types, handshake types, alerts,
 * extensions, named groups, cipher suites, signature schemes, versions.
 * Numbers are from the IANA TLS registries, RFC 8446 and the drafts cited.
 */
#ifndef SHAKEDOWN_TLS_H
#define SHAKEDOWN_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shakedown/err.h"

/* RFC 8446 §5.1 ContentType */
enum {
	SD_CT_CCS = 20,
	SD_CT_ALERT = 21,
	SD_CT_HANDSHAKE = 22,
	SD_CT_APPDATA = 23,
};

/* RFC 8446 §4 HandshakeType */
enum {
	SD_HS_CLIENT_HELLO = 1,
	SD_HS_SERVER_HELLO = 2,
	SD_HS_NEW_SESSION_TICKET = 4,
	SD_HS_END_OF_EARLY_DATA = 5,
	SD_HS_ENCRYPTED_EXTENSIONS = 8,
	SD_HS_CERTIFICATE = 11,
	SD_HS_CERTIFICATE_REQUEST = 13,
	SD_HS_CERTIFICATE_VERIFY = 15,
	SD_HS_FINISHED = 20,
	SD_HS_KEY_UPDATE = 24,
	SD_HS_MESSAGE_HASH = 254,
};

/* Extension types (IANA "TLS ExtensionType Values"). */
enum {
	SD_EXT_SERVER_NAME = 0,
	SD_EXT_STATUS_REQUEST = 5,
	SD_EXT_SUPPORTED_GROUPS = 10,
	SD_EXT_EC_POINT_FORMATS = 11,
	SD_EXT_SIGNATURE_ALGORITHMS = 13,
	SD_EXT_ALPN = 16,
	SD_EXT_SCT = 18,
	SD_EXT_PADDING = 21,
	SD_EXT_ENCRYPT_THEN_MAC = 22,
	SD_EXT_EXTENDED_MASTER_SECRET = 23,
	SD_EXT_COMPRESS_CERTIFICATE = 27,
	SD_EXT_RECORD_SIZE_LIMIT = 28,
	SD_EXT_DELEGATED_CREDENTIAL = 34,
	SD_EXT_SESSION_TICKET = 35,
	SD_EXT_PRE_SHARED_KEY = 41,
	SD_EXT_EARLY_DATA = 42,
	SD_EXT_SUPPORTED_VERSIONS = 43,
	SD_EXT_COOKIE = 44,
	SD_EXT_PSK_KEY_EXCHANGE_MODES = 45,
	SD_EXT_CERTIFICATE_AUTHORITIES = 47,
	SD_EXT_POST_HANDSHAKE_AUTH = 49,
	SD_EXT_SIGNATURE_ALGORITHMS_CERT = 50,
	SD_EXT_KEY_SHARE = 51,
	SD_EXT_APPLICATION_SETTINGS_OLD = 0x4469,
	SD_EXT_APPLICATION_SETTINGS = 0x44cd,
	SD_EXT_TRUST_ANCHORS = 0xca34,
	SD_EXT_ECH = 0xfe0d,
	SD_EXT_RENEGOTIATION_INFO = 0xff01,
};

/* Named groups (IANA "TLS Supported Groups"; draft-ietf-tls-ecdhe-mlkem; draft-ietf-tls-mlkem). */
enum {
	SD_GROUP_SECP256R1 = 0x0017,
	SD_GROUP_SECP384R1 = 0x0018,
	SD_GROUP_SECP521R1 = 0x0019,
	SD_GROUP_X25519 = 0x001d,
	SD_GROUP_X448 = 0x001e,
	SD_GROUP_FFDHE2048 = 0x0100,
	SD_GROUP_FFDHE3072 = 0x0101,
	SD_GROUP_FFDHE4096 = 0x0102,
	SD_GROUP_FFDHE6144 = 0x0103,
	SD_GROUP_FFDHE8192 = 0x0104,
	SD_GROUP_MLKEM512 = 0x0200,
	SD_GROUP_MLKEM768 = 0x0201,
	SD_GROUP_MLKEM1024 = 0x0202,
	SD_GROUP_SECP256R1MLKEM768 = 0x11eb,
	SD_GROUP_X25519MLKEM768 = 0x11ec,
	SD_GROUP_SECP384R1MLKEM1024 = 0x11ed,
	SD_GROUP_X25519KYBER768D00 = 0x6399,
};

/* Versions (RFC 8446 §4.2.1). */
enum {
	SD_TLS10 = 0x0301,
	SD_TLS11 = 0x0302,
	SD_TLS12 = 0x0303,
	SD_TLS13 = 0x0304,
};

/* RFC 8701: GREASE values are 0x?A?A with both bytes equal. */
static inline bool sd_tls_is_grease(uint16_t v)
{
	return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

/* Catalogue look-ups. Names are static strings; NULL when unknown. */
const char *sd_tls_ext_name(uint16_t type);
const char *sd_tls_group_name(uint16_t group);
const char *sd_tls_cipher_name(uint16_t suite);
const char *sd_tls_sigalg_name(uint16_t scheme);
const char *sd_tls_alert_name(uint8_t desc);
const char *sd_tls_hs_name(uint8_t type);
const char *sd_tls_version_name(uint16_t version);

/* Which catalogue a name belongs to, for sd_tls_lookup. */
enum sd_tls_kind {
	SD_TLS_EXT, SD_TLS_GROUP, SD_TLS_CIPHER, SD_TLS_SIGALG, SD_TLS_VERSION,
	SD_TLS_ALERT,
};

/*
 * Name (case-insensitive, also common aliases such as "P-256") or number
 * ("0x11ec", "4588") to code point. Returns 0 and sets *v, or -SD_EUNKNOWN.
 * GREASE is not resolved here: callers treat the word GREASE themselves.
 */
int sd_tls_lookup(enum sd_tls_kind kind, const char *name, uint16_t *v) SD_WUR;

/* Same as the name functions but by kind; for listings. */
const char *sd_tls_name(enum sd_tls_kind kind, uint16_t v);

/* Key-exchange sizes from draft-ietf-tls-ecdhe-mlkem and FIPS 203: 0 if unknown. */
size_t sd_tls_group_client_share_len(uint16_t group);
size_t sd_tls_group_server_share_len(uint16_t group);
bool sd_tls_group_is_pq(uint16_t group);

#endif
