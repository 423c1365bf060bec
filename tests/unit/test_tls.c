/* SPDX-License-Identifier: MIT */
/* The TLS name catalogue: names both ways, aliases, numbers, GREASE, sizes. */
#include "check.h"
#include "shakedown/tls.h"

static uint16_t lookup(enum sd_tls_kind kind, const char *name, int want_ret)
{
	uint16_t v = 0xdead;

	CHECK_INT(sd_tls_lookup(kind, name, &v), want_ret);
	return v;
}

static void test_names(void)
{
	CHECK_STR(sd_tls_ext_name(SD_EXT_KEY_SHARE), "key_share");
	CHECK_STR(sd_tls_ext_name(SD_EXT_SERVER_NAME), "server_name");
	CHECK_STR(sd_tls_ext_name(SD_EXT_ECH), "encrypted_client_hello");
	CHECK_STR(sd_tls_ext_name(SD_EXT_APPLICATION_SETTINGS), "application_settings");
	CHECK_STR(sd_tls_ext_name(SD_EXT_TRUST_ANCHORS), "trust_anchors");
	CHECK(sd_tls_ext_name(0x1234) == NULL);
	CHECK_STR(sd_tls_group_name(SD_GROUP_X25519MLKEM768), "X25519MLKEM768");
	CHECK_STR(sd_tls_group_name(SD_GROUP_SECP256R1MLKEM768), "SecP256r1MLKEM768");
	CHECK_STR(sd_tls_group_name(SD_GROUP_SECP384R1MLKEM1024), "SecP384r1MLKEM1024");
	CHECK_STR(sd_tls_group_name(SD_GROUP_X25519KYBER768D00), "X25519Kyber768Draft00");
	CHECK_STR(sd_tls_group_name(SD_GROUP_MLKEM1024), "MLKEM1024");
	CHECK_STR(sd_tls_group_name(SD_GROUP_X25519), "x25519");
	CHECK_STR(sd_tls_group_name(SD_GROUP_SECP256R1), "secp256r1");
	CHECK(sd_tls_group_name(0x0abc) == NULL);
	CHECK_STR(sd_tls_cipher_name(0x1301), "TLS_AES_128_GCM_SHA256");
	CHECK_STR(sd_tls_cipher_name(0xc02f), "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
	CHECK(sd_tls_cipher_name(0x1399) == NULL);
	CHECK_STR(sd_tls_sigalg_name(0x0804), "rsa_pss_rsae_sha256");
	CHECK_STR(sd_tls_sigalg_name(0x0905), "mldsa65");
	CHECK(sd_tls_sigalg_name(0x0999) == NULL);
	CHECK_STR(sd_tls_version_name(SD_TLS13), "TLS1.3");
	CHECK_STR(sd_tls_version_name(SD_TLS10), "TLS1.0");
	CHECK(sd_tls_version_name(0x7f1c) == NULL);
	CHECK_STR(sd_tls_hs_name(SD_HS_CLIENT_HELLO), "client_hello");
	CHECK_STR(sd_tls_hs_name(SD_HS_SERVER_HELLO), "server_hello");
	CHECK_STR(sd_tls_hs_name(SD_HS_MESSAGE_HASH), "message_hash");
	CHECK(sd_tls_hs_name(99) == NULL);
	CHECK_STR(sd_tls_alert_name(40), "handshake_failure");
	CHECK(sd_tls_alert_name(255) == NULL);

	/* GREASE is named as such in every catalogue where it occurs. */
	CHECK_STR(sd_tls_ext_name(0x1a1a), "GREASE");
	CHECK_STR(sd_tls_group_name(0x2a2a), "GREASE");
	CHECK_STR(sd_tls_cipher_name(0x3a3a), "GREASE");
	CHECK_STR(sd_tls_sigalg_name(0x4a4a), "GREASE");
	CHECK_STR(sd_tls_version_name(0xfafa), "GREASE");

	/* By kind. */
	CHECK_STR(sd_tls_name(SD_TLS_EXT, 43), "supported_versions");
	CHECK_STR(sd_tls_name(SD_TLS_GROUP, 0x11ec), "X25519MLKEM768");
	CHECK_STR(sd_tls_name(SD_TLS_CIPHER, 0x1303), "TLS_CHACHA20_POLY1305_SHA256");
	CHECK_STR(sd_tls_name(SD_TLS_SIGALG, 0x0403), "ecdsa_secp256r1_sha256");
	CHECK_STR(sd_tls_name(SD_TLS_VERSION, 0x0303), "TLS1.2");
	CHECK_STR(sd_tls_name(SD_TLS_ALERT, 70), "protocol_version");
	/* An alert description is one byte: 256 + 40 is not handshake_failure. */
	CHECK(sd_tls_name(SD_TLS_ALERT, 256 + 40) == NULL);
}

static void test_lookup(void)
{
	/* Names, case-insensitively, and the aliases people type. */
	CHECK_INT(lookup(SD_TLS_GROUP, "X25519MLKEM768", 0), 0x11ec);
	CHECK_INT(lookup(SD_TLS_GROUP, "x25519mlkem768", 0), 0x11ec);
	CHECK_INT(lookup(SD_TLS_GROUP, "mlkem768x25519", 0), 0x11ec);
	CHECK_INT(lookup(SD_TLS_GROUP, "x25519", 0), SD_GROUP_X25519);
	CHECK_INT(lookup(SD_TLS_GROUP, "X25519", 0), SD_GROUP_X25519);
	CHECK_INT(lookup(SD_TLS_GROUP, "P-256", 0), SD_GROUP_SECP256R1);
	CHECK_INT(lookup(SD_TLS_GROUP, "p-256", 0), SD_GROUP_SECP256R1);
	CHECK_INT(lookup(SD_TLS_GROUP, "prime256v1", 0), SD_GROUP_SECP256R1);
	CHECK_INT(lookup(SD_TLS_GROUP, "P-384", 0), SD_GROUP_SECP384R1);
	CHECK_INT(lookup(SD_TLS_GROUP, "P-521", 0), SD_GROUP_SECP521R1);
	CHECK_INT(lookup(SD_TLS_GROUP, "kyber768", 0), SD_GROUP_X25519KYBER768D00);
	CHECK_INT(lookup(SD_TLS_GROUP, "secp256r1mlkem768", 0), SD_GROUP_SECP256R1MLKEM768);
	CHECK_INT(lookup(SD_TLS_EXT, "alpn", 0), SD_EXT_ALPN);
	CHECK_INT(lookup(SD_TLS_EXT, "ALPN", 0), SD_EXT_ALPN);
	CHECK_INT(lookup(SD_TLS_EXT, "application_layer_protocol_negotiation", 0), SD_EXT_ALPN);
	CHECK_INT(lookup(SD_TLS_EXT, "ech", 0), SD_EXT_ECH);
	CHECK_INT(lookup(SD_TLS_EXT, "Key_Share", 0), SD_EXT_KEY_SHARE);
	CHECK_INT(lookup(SD_TLS_CIPHER, "tls_aes_256_gcm_sha384", 0), 0x1302);
	CHECK_INT(lookup(SD_TLS_SIGALG, "ED25519", 0), 0x0807);
	CHECK_INT(lookup(SD_TLS_VERSION, "tls1.3", 0), SD_TLS13);
	CHECK_INT(lookup(SD_TLS_ALERT, "Decode_Error", 0), 50);

	/* Numbers: hex with 0x, or decimal; a leading zero is not octal. */
	CHECK_INT(lookup(SD_TLS_GROUP, "0x11ec", 0), 0x11ec);
	CHECK_INT(lookup(SD_TLS_GROUP, "0X11EC", 0), 0x11ec);
	CHECK_INT(lookup(SD_TLS_GROUP, "4588", 0), 0x11ec);
	CHECK_INT(lookup(SD_TLS_GROUP, "023", 0), 23);
	CHECK_INT(lookup(SD_TLS_GROUP, "0", 0), 0);
	CHECK_INT(lookup(SD_TLS_GROUP, "65535", 0), 0xffff);
	CHECK_INT(lookup(SD_TLS_GROUP, "0xffff", 0), 0xffff);
	CHECK_INT(lookup(SD_TLS_EXT, "0xfe0d", 0), SD_EXT_ECH);
	CHECK_INT(lookup(SD_TLS_ALERT, "255", 0), 255);
	/* Numbers for unnamed code points are fine: this is a test tool. */
	CHECK_INT(lookup(SD_TLS_GROUP, "0x0abc", 0), 0x0abc);

	/* What is not a name or a number. */
	lookup(SD_TLS_GROUP, "65536", -SD_EUNKNOWN);
	lookup(SD_TLS_GROUP, "0x10000", -SD_EUNKNOWN);
	lookup(SD_TLS_GROUP, "0x", -SD_EUNKNOWN);
	lookup(SD_TLS_GROUP, "12abc", -SD_EUNKNOWN);
	lookup(SD_TLS_GROUP, "-1", -SD_EUNKNOWN);
	lookup(SD_TLS_GROUP, " 29", -SD_EUNKNOWN);
	lookup(SD_TLS_GROUP, "29 ", -SD_EUNKNOWN);
	lookup(SD_TLS_GROUP, "99999999999999999999999", -SD_EUNKNOWN);
	lookup(SD_TLS_GROUP, "", -SD_EUNKNOWN);
	lookup(SD_TLS_GROUP, "curve25519x", -SD_EUNKNOWN);
	lookup(SD_TLS_ALERT, "256", -SD_EUNKNOWN);
	/* Callers resolve GREASE themselves. */
	lookup(SD_TLS_GROUP, "GREASE", -SD_EUNKNOWN);
	/* A name is only a name in its own catalogue. */
	lookup(SD_TLS_CIPHER, "x25519", -SD_EUNKNOWN);
	lookup(SD_TLS_GROUP, "key_share", -SD_EUNKNOWN);
	lookup(SD_TLS_EXT, "P-256", -SD_EUNKNOWN);
	/* An alias is not an extension name: "alpn" is for extensions only. */
	lookup(SD_TLS_GROUP, "alpn", -SD_EUNKNOWN);
	/* An out-of-range kind. */
	lookup((enum sd_tls_kind)99, "x25519", -SD_EUNKNOWN);
}

/* Every name in a catalogue looks up to its own code point. */
static void test_round_trip(void)
{
	static const struct {
		enum sd_tls_kind kind;
		unsigned lo, hi;
	} ranges[] = {
		{ SD_TLS_EXT, 0, 0x10000 }, { SD_TLS_GROUP, 0, 0x10000 },
		{ SD_TLS_CIPHER, 0, 0x10000 }, { SD_TLS_SIGALG, 0, 0x10000 },
		{ SD_TLS_VERSION, 0, 0x10000 }, { SD_TLS_ALERT, 0, 256 },
	};
	size_t named = 0;

	for (size_t r = 0; r < sizeof(ranges) / sizeof(ranges[0]); r++) {
		for (unsigned v = ranges[r].lo; v < ranges[r].hi; v++) {
			const char *name = sd_tls_name(ranges[r].kind, (uint16_t)v);
			uint16_t back = 0;

			if (!name || strcmp(name, "GREASE") == 0)
				continue;
			named++;
			if (sd_tls_lookup(ranges[r].kind, name, &back) != 0 || back != v) {
				CHECK(!"name does not look up to its code point");
				fprintf(stderr, "  kind %d: 0x%04x %s -> 0x%04x\n",
					ranges[r].kind, v, name, back);
			}
		}
	}
	CHECK(named > 100);
}

static void test_grease(void)
{
	/* RFC 8701 §2: the sixteen values 0x0A0A, 0x1A1A, ... 0xFAFA. */
	unsigned n = 0;

	for (unsigned i = 0; i < 16; i++) {
		uint16_t v = (uint16_t)((i << 12) | 0x0a00 | (i << 4) | 0x0a);

		CHECK(sd_tls_is_grease(v));
	}
	for (unsigned v = 0; v < 0x10000; v++)
		n += sd_tls_is_grease((uint16_t)v);
	CHECK_INT(n, 16);
	CHECK(sd_tls_is_grease(0xaaaa));
	CHECK(!sd_tls_is_grease(0x0a0b));
	CHECK(!sd_tls_is_grease(0x0a1a));
	CHECK(!sd_tls_is_grease(0x1a0a));
	CHECK(!sd_tls_is_grease(0x0a00));
	CHECK(!sd_tls_is_grease(0x000a));
	CHECK(!sd_tls_is_grease(0x0000));
	CHECK(!sd_tls_is_grease(SD_GROUP_X25519MLKEM768));
}

static void test_alerts(void)
{
	/* RFC 8446 §6 AlertDescription, every value it lists. */
	static const struct {
		uint8_t v;
		const char *name;
	} rfc8446[] = {
		{ 0, "close_notify" }, { 10, "unexpected_message" }, { 20, "bad_record_mac" },
		{ 21, "decryption_failed_RESERVED" }, { 22, "record_overflow" },
		{ 30, "decompression_failure_RESERVED" }, { 40, "handshake_failure" },
		{ 41, "no_certificate_RESERVED" }, { 42, "bad_certificate" },
		{ 43, "unsupported_certificate" }, { 44, "certificate_revoked" },
		{ 45, "certificate_expired" }, { 46, "certificate_unknown" },
		{ 47, "illegal_parameter" }, { 48, "unknown_ca" }, { 49, "access_denied" },
		{ 50, "decode_error" }, { 51, "decrypt_error" },
		{ 60, "export_restriction_RESERVED" }, { 70, "protocol_version" },
		{ 71, "insufficient_security" }, { 80, "internal_error" },
		{ 86, "inappropriate_fallback" }, { 90, "user_canceled" },
		{ 100, "no_renegotiation_RESERVED" }, { 109, "missing_extension" },
		{ 110, "unsupported_extension" }, { 111, "certificate_unobtainable_RESERVED" },
		{ 112, "unrecognized_name" }, { 113, "bad_certificate_status_response" },
		{ 114, "bad_certificate_hash_value_RESERVED" }, { 115, "unknown_psk_identity" },
		{ 116, "certificate_required" }, { 120, "no_application_protocol" },
	};

	for (size_t i = 0; i < sizeof(rfc8446) / sizeof(rfc8446[0]); i++) {
		CHECK_STR(sd_tls_alert_name(rfc8446[i].v), rfc8446[i].name);
		CHECK_INT(lookup(SD_TLS_ALERT, rfc8446[i].name, 0), rfc8446[i].v);
	}
	/* draft-ietf-tls-esni */
	CHECK_STR(sd_tls_alert_name(121), "ech_required");
	CHECK(sd_tls_alert_name(1) == NULL);
	CHECK(sd_tls_alert_name(119) == NULL);
}

static void test_share_lengths(void)
{
	static const struct {
		uint16_t g;
		size_t client, server;
		bool pq;
	} t[] = {
		/* RFC 8446 §4.2.8.2, RFC 7748 */
		{ SD_GROUP_SECP256R1, 65, 65, false },
		{ SD_GROUP_SECP384R1, 97, 97, false },
		{ SD_GROUP_SECP521R1, 133, 133, false },
		{ SD_GROUP_X25519, 32, 32, false },
		{ SD_GROUP_X448, 56, 56, false },
		/* FIPS 203 §8 Table 3: ek and ciphertext sizes */
		{ SD_GROUP_MLKEM512, 800, 768, true },
		{ SD_GROUP_MLKEM768, 1184, 1088, true },
		{ SD_GROUP_MLKEM1024, 1568, 1568, true },
		/* draft-ietf-tls-ecdhe-mlkem */
		{ SD_GROUP_SECP256R1MLKEM768, 1249, 1153, true },
		{ SD_GROUP_X25519MLKEM768, 1216, 1120, true },
		{ SD_GROUP_SECP384R1MLKEM1024, 1665, 1665, true },
		/* draft-tls-westerbaan-xyber768d00 */
		{ SD_GROUP_X25519KYBER768D00, 1216, 1120, true },
		/* FFDHE shares are the prime's size, not tabulated here */
		{ SD_GROUP_FFDHE2048, 0, 0, false },
		{ 0x0a0a, 0, 0, false },
		{ 0x1234, 0, 0, false },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		CHECK_INT(sd_tls_group_client_share_len(t[i].g), t[i].client);
		CHECK_INT(sd_tls_group_server_share_len(t[i].g), t[i].server);
		CHECK_INT(sd_tls_group_is_pq(t[i].g), t[i].pq);
	}
}

int main(void)
{
	test_names();
	test_lookup();
	test_round_trip();
	test_grease();
	test_alerts();
	test_share_lengths();
	return check_done();
}
