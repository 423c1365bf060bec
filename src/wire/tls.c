/* SPDX-License-Identifier: MIT */
/* The TLS name catalogue: code points to names and back. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <strings.h>

#include "shakedown/tls.h"

struct entry {
	uint16_t v;
	const char *name;
};

/* IANA TLS ExtensionType Values; 0xca34 is Chrome's Trust Anchor IDs
 * experiment (draft-ietf-tls-trust-anchor-ids), 0x44cd the ALPS code point
 * Chrome moved to in 2025, 0xfe0d draft-ietf-tls-esni. */
static const struct entry exts[] = {
	{ 0, "server_name" }, { 1, "max_fragment_length" },
	{ 5, "status_request" }, { 10, "supported_groups" },
	{ 11, "ec_point_formats" }, { 13, "signature_algorithms" },
	{ 14, "use_srtp" }, { 15, "heartbeat" },
	{ 16, "application_layer_protocol_negotiation" },
	{ 18, "signed_certificate_timestamp" }, { 19, "client_certificate_type" },
	{ 20, "server_certificate_type" }, { 21, "padding" },
	{ 22, "encrypt_then_mac" }, { 23, "extended_master_secret" },
	{ 27, "compress_certificate" }, { 28, "record_size_limit" },
	{ 34, "delegated_credential" }, { 35, "session_ticket" },
	{ 41, "pre_shared_key" }, { 42, "early_data" },
	{ 43, "supported_versions" }, { 44, "cookie" },
	{ 45, "psk_key_exchange_modes" }, { 47, "certificate_authorities" },
	{ 48, "oid_filters" }, { 49, "post_handshake_auth" },
	{ 50, "signature_algorithms_cert" }, { 51, "key_share" },
	{ 57, "quic_transport_parameters" },
	{ 0x4469, "application_settings_old" },
	{ 0x44cd, "application_settings" },
	{ 0xca34, "trust_anchors" },
	{ 0xfe0d, "encrypted_client_hello" },
	{ 0xff01, "renegotiation_info" },
};

/* IANA TLS Supported Groups; draft-ietf-tls-ecdhe-mlkem (0x11eb-0x11ed),
 * draft-ietf-tls-mlkem (0x0200-0x0202), draft-tls-westerbaan-xyber768d00. */
static const struct entry groups[] = {
	{ 0x0017, "secp256r1" }, { 0x0018, "secp384r1" }, { 0x0019, "secp521r1" },
	{ 0x001d, "x25519" }, { 0x001e, "x448" },
	{ 0x0100, "ffdhe2048" }, { 0x0101, "ffdhe3072" }, { 0x0102, "ffdhe4096" },
	{ 0x0103, "ffdhe6144" }, { 0x0104, "ffdhe8192" },
	{ 0x0200, "MLKEM512" }, { 0x0201, "MLKEM768" }, { 0x0202, "MLKEM1024" },
	{ 0x11eb, "SecP256r1MLKEM768" }, { 0x11ec, "X25519MLKEM768" },
	{ 0x11ed, "SecP384r1MLKEM1024" }, { 0x6399, "X25519Kyber768Draft00" },
};

static const struct entry group_aliases[] = {
	{ 0x0017, "P-256" }, { 0x0018, "P-384" }, { 0x0019, "P-521" },
	{ 0x0017, "prime256v1" }, { 0x001d, "X25519" },
	{ 0x6399, "kyber768" }, { 0x11ec, "mlkem768x25519" },
};

/* IANA TLS Cipher Suites (the ones real clients send). */
static const struct entry ciphers[] = {
	{ 0x1301, "TLS_AES_128_GCM_SHA256" },
	{ 0x1302, "TLS_AES_256_GCM_SHA384" },
	{ 0x1303, "TLS_CHACHA20_POLY1305_SHA256" },
	{ 0x1304, "TLS_AES_128_CCM_SHA256" },
	{ 0x1305, "TLS_AES_128_CCM_8_SHA256" },
	{ 0xc02b, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" },
	{ 0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" },
	{ 0xc02c, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" },
	{ 0xc030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" },
	{ 0xcca9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256" },
	{ 0xcca8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" },
	{ 0xccaa, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256" },
	{ 0xc009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA" },
	{ 0xc00a, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA" },
	{ 0xc013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA" },
	{ 0xc014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA" },
	{ 0xc023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256" },
	{ 0xc024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384" },
	{ 0xc027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256" },
	{ 0xc028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384" },
	{ 0x009c, "TLS_RSA_WITH_AES_128_GCM_SHA256" },
	{ 0x009d, "TLS_RSA_WITH_AES_256_GCM_SHA384" },
	{ 0x009e, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256" },
	{ 0x009f, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384" },
	{ 0x002f, "TLS_RSA_WITH_AES_128_CBC_SHA" },
	{ 0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA" },
	{ 0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA" },
	{ 0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA" },
	{ 0x003c, "TLS_RSA_WITH_AES_128_CBC_SHA256" },
	{ 0x003d, "TLS_RSA_WITH_AES_256_CBC_SHA256" },
	{ 0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256" },
	{ 0x006b, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256" },
	{ 0x000a, "TLS_RSA_WITH_3DES_EDE_CBC_SHA" },
	{ 0x00ff, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV" },
	{ 0x5600, "TLS_FALLBACK_SCSV" },
};

/* IANA TLS SignatureScheme; ML-DSA from draft-ietf-tls-mldsa. */
static const struct entry sigalgs[] = {
	{ 0x0201, "rsa_pkcs1_sha1" }, { 0x0203, "ecdsa_sha1" },
	{ 0x0401, "rsa_pkcs1_sha256" }, { 0x0501, "rsa_pkcs1_sha384" },
	{ 0x0601, "rsa_pkcs1_sha512" },
	{ 0x0403, "ecdsa_secp256r1_sha256" }, { 0x0503, "ecdsa_secp384r1_sha384" },
	{ 0x0603, "ecdsa_secp521r1_sha512" },
	{ 0x0804, "rsa_pss_rsae_sha256" }, { 0x0805, "rsa_pss_rsae_sha384" },
	{ 0x0806, "rsa_pss_rsae_sha512" },
	{ 0x0807, "ed25519" }, { 0x0808, "ed448" },
	{ 0x0809, "rsa_pss_pss_sha256" }, { 0x080a, "rsa_pss_pss_sha384" },
	{ 0x080b, "rsa_pss_pss_sha512" },
	{ 0x081a, "ecdsa_brainpoolP256r1tls13_sha256" },
	{ 0x081b, "ecdsa_brainpoolP384r1tls13_sha384" },
	{ 0x081c, "ecdsa_brainpoolP512r1tls13_sha512" },
	{ 0x0904, "mldsa44" }, { 0x0905, "mldsa65" }, { 0x0906, "mldsa87" },
	{ 0x0303, "ecdsa_sha224" }, { 0x0301, "rsa_sha224" },
	{ 0x0402, "dsa_sha256" }, { 0x0502, "dsa_sha384" }, { 0x0602, "dsa_sha512" },
	{ 0x0302, "dsa_sha224" }, { 0x0202, "dsa_sha1" },
};

static const struct entry versions[] = {
	{ 0x0300, "SSL3.0" }, { 0x0301, "TLS1.0" }, { 0x0302, "TLS1.1" },
	{ 0x0303, "TLS1.2" }, { 0x0304, "TLS1.3" },
};

/* RFC 8446 §6 AlertDescription, with RFC 8446's reserved names and
 * ech_required from draft-ietf-tls-esni. */
static const struct entry alerts[] = {
	{ 0, "close_notify" }, { 10, "unexpected_message" },
	{ 20, "bad_record_mac" }, { 21, "decryption_failed_RESERVED" },
	{ 22, "record_overflow" }, { 30, "decompression_failure_RESERVED" },
	{ 40, "handshake_failure" }, { 41, "no_certificate_RESERVED" },
	{ 42, "bad_certificate" }, { 43, "unsupported_certificate" },
	{ 44, "certificate_revoked" }, { 45, "certificate_expired" },
	{ 46, "certificate_unknown" }, { 47, "illegal_parameter" },
	{ 48, "unknown_ca" }, { 49, "access_denied" }, { 50, "decode_error" },
	{ 51, "decrypt_error" }, { 60, "export_restriction_RESERVED" },
	{ 70, "protocol_version" }, { 71, "insufficient_security" },
	{ 80, "internal_error" }, { 86, "inappropriate_fallback" },
	{ 90, "user_canceled" }, { 100, "no_renegotiation_RESERVED" },
	{ 109, "missing_extension" }, { 110, "unsupported_extension" },
	{ 111, "certificate_unobtainable_RESERVED" }, { 112, "unrecognized_name" },
	{ 113, "bad_certificate_status_response" },
	{ 114, "bad_certificate_hash_value_RESERVED" },
	{ 115, "unknown_psk_identity" }, { 116, "certificate_required" },
	{ 120, "no_application_protocol" }, { 121, "ech_required" },
};

static const struct entry hs_types[] = {
	{ 0, "hello_request" }, { 1, "client_hello" }, { 2, "server_hello" },
	{ 4, "new_session_ticket" }, { 5, "end_of_early_data" },
	{ 8, "encrypted_extensions" }, { 11, "certificate" },
	{ 12, "server_key_exchange" }, { 13, "certificate_request" },
	{ 14, "server_hello_done" }, { 15, "certificate_verify" },
	{ 16, "client_key_exchange" }, { 20, "finished" },
	{ 24, "key_update" }, { 25, "compressed_certificate" },
	{ 254, "message_hash" },
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *find(const struct entry *t, size_t n, uint16_t v)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].v == v)
			return t[i].name;
	return NULL;
}

/* A name from a table; GREASE values (RFC 8701) in the kinds that have them. */
static const char *named(const struct entry *t, size_t n, uint16_t v, bool grease)
{
	if (grease && sd_tls_is_grease(v))
		return "GREASE";
	return find(t, n, v);
}

const char *sd_tls_ext_name(uint16_t type) { return named(exts, N(exts), type, true); }
const char *sd_tls_group_name(uint16_t group) { return named(groups, N(groups), group, true); }
const char *sd_tls_cipher_name(uint16_t suite) { return named(ciphers, N(ciphers), suite, true); }
const char *sd_tls_sigalg_name(uint16_t scheme) { return named(sigalgs, N(sigalgs), scheme, true); }
const char *sd_tls_version_name(uint16_t v) { return named(versions, N(versions), v, true); }
const char *sd_tls_alert_name(uint8_t desc) { return named(alerts, N(alerts), desc, false); }
const char *sd_tls_hs_name(uint8_t type) { return named(hs_types, N(hs_types), type, false); }

const char *sd_tls_name(enum sd_tls_kind kind, uint16_t v)
{
	switch (kind) {
	case SD_TLS_EXT: return sd_tls_ext_name(v);
	case SD_TLS_GROUP: return sd_tls_group_name(v);
	case SD_TLS_CIPHER: return sd_tls_cipher_name(v);
	case SD_TLS_SIGALG: return sd_tls_sigalg_name(v);
	case SD_TLS_VERSION: return sd_tls_version_name(v);
	case SD_TLS_ALERT: return v <= 255 ? sd_tls_alert_name((uint8_t)v) : NULL;
	}
	return NULL;
}

static int parse_number(const char *s, uint16_t *v)
{
	int base = s[0] == '0' && (s[1] == 'x' || s[1] == 'X') ? 16 : 10;
	char *end;
	unsigned long n;

	if (!isdigit((unsigned char)s[0]))
		return -SD_EUNKNOWN;
	errno = 0;
	n = strtoul(s, &end, base);
	if (errno || *end || n > 0xffff)
		return -SD_EUNKNOWN;
	*v = (uint16_t)n;
	return 0;
}

static int find_name(const struct entry *t, size_t n, const char *name, uint16_t *v)
{
	for (size_t i = 0; i < n; i++) {
		if (strcasecmp(t[i].name, name) == 0) {
			*v = t[i].v;
			return 0;
		}
	}
	return -SD_EUNKNOWN;
}

int sd_tls_lookup(enum sd_tls_kind kind, const char *name, uint16_t *v)
{
	if (parse_number(name, v) == 0)
		return kind == SD_TLS_ALERT && *v > 255 ? -SD_EUNKNOWN : 0;
	switch (kind) {
	case SD_TLS_EXT:
		if (strcasecmp(name, "alpn") == 0) {
			*v = SD_EXT_ALPN;
			return 0;
		}
		if (strcasecmp(name, "ech") == 0) {
			*v = SD_EXT_ECH;
			return 0;
		}
		return find_name(exts, N(exts), name, v);
	case SD_TLS_GROUP:
		if (find_name(groups, N(groups), name, v) == 0)
			return 0;
		return find_name(group_aliases, N(group_aliases), name, v);
	case SD_TLS_CIPHER:
		return find_name(ciphers, N(ciphers), name, v);
	case SD_TLS_SIGALG:
		return find_name(sigalgs, N(sigalgs), name, v);
	case SD_TLS_VERSION:
		return find_name(versions, N(versions), name, v);
	case SD_TLS_ALERT:
		return find_name(alerts, N(alerts), name, v);
	}
	return -SD_EUNKNOWN;
}

size_t sd_tls_group_client_share_len(uint16_t group)
{
	switch (group) {
	case SD_GROUP_SECP256R1: return 65;
	case SD_GROUP_SECP384R1: return 97;
	case SD_GROUP_SECP521R1: return 133;
	case SD_GROUP_X25519: return 32;
	case SD_GROUP_X448: return 56;
	case SD_GROUP_MLKEM512: return 800;
	case SD_GROUP_MLKEM768: return 1184;
	case SD_GROUP_MLKEM1024: return 1568;
	case SD_GROUP_SECP256R1MLKEM768: return 65 + 1184;
	case SD_GROUP_X25519MLKEM768: return 1184 + 32;
	case SD_GROUP_SECP384R1MLKEM1024: return 97 + 1568;
	case SD_GROUP_X25519KYBER768D00: return 32 + 1184;
	}
	return 0;
}

size_t sd_tls_group_server_share_len(uint16_t group)
{
	switch (group) {
	case SD_GROUP_SECP256R1: return 65;
	case SD_GROUP_SECP384R1: return 97;
	case SD_GROUP_SECP521R1: return 133;
	case SD_GROUP_X25519: return 32;
	case SD_GROUP_X448: return 56;
	case SD_GROUP_MLKEM512: return 768;
	case SD_GROUP_MLKEM768: return 1088;
	case SD_GROUP_MLKEM1024: return 1568;
	case SD_GROUP_SECP256R1MLKEM768: return 65 + 1088;
	case SD_GROUP_X25519MLKEM768: return 1088 + 32;
	case SD_GROUP_SECP384R1MLKEM1024: return 97 + 1568;
	case SD_GROUP_X25519KYBER768D00: return 32 + 1088;
	}
	return 0;
}

bool sd_tls_group_is_pq(uint16_t group)
{
	switch (group) {
	case SD_GROUP_MLKEM512: case SD_GROUP_MLKEM768: case SD_GROUP_MLKEM1024:
	case SD_GROUP_SECP256R1MLKEM768: case SD_GROUP_X25519MLKEM768:
	case SD_GROUP_SECP384R1MLKEM1024: case SD_GROUP_X25519KYBER768D00:
		return true;
	}
	return false;
}
