/* SPDX-License-Identifier: MIT */
/*
 * The client side of a TLS 1.3 handshake after the ClientHello: reads the
 * server's flight, answers a HelloRetryRequest with a second ClientHello
 * (RFC 8446 §4.1.2), derives the handshake keys from our own key shares
 * (ECDH, ML-KEM and the hybrids of draft-ietf-tls-ecdhe-mlkem), decrypts
 * and checks the server's flight up to its Finished (§4.4.4), and sends
 * the client Finished so the server completes too. This is how the tool
 * knows a handshake *completed* rather than guessing from packet counts.
 */
#ifndef SHAKEDOWN_TLS13_H
#define SHAKEDOWN_TLS13_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shakedown/buf.h"
#include "shakedown/hello.h"
#include "shakedown/profile.h"
#include "shakedown/rng.h"

enum sd_sess_state {
	SD_SESS_WAIT_SH,       /* waiting for ServerHello or HRR */
	SD_SESS_WAIT_FLIGHT,   /* ServerHello in; reading the encrypted flight */
	SD_SESS_DONE,          /* server Finished verified, client Finished sent */
	SD_SESS_FAILED,        /* alert, bad message, or a key exchange we cannot do */
};

struct sd_session {
	/* set by the caller before the first feed */
	const struct sd_profile *profile;
	const struct sd_hello_opts *opts;
	struct sd_rng *rng;
	struct sd_hello_state *hs;     /* from building the first ClientHello */
	const uint8_t *ch1;            /* first ClientHello message (with header) */
	size_t ch1_len;
	size_t records;                /* record size for a second hello (0: one record) */
	uint16_t record_version;

	/* results */
	enum sd_sess_state state;
	bool hrr;
	uint16_t hrr_group;
	bool server_hello;
	uint16_t group, cipher;
	bool alert;
	uint8_t alert_level, alert_desc;
	bool verified;                 /* the server's Finished checked out */
	bool cannot_verify;            /* key exchange not supported here (reason in why) */
	size_t flight_bytes;           /* server stream bytes consumed */
	size_t cert_bytes;             /* size of the server's Certificate message */
	char why[160];

	/* internal */
	size_t consumed;               /* server stream bytes parsed as records */
	struct sd_buf transcript;      /* handshake messages so far */
	struct sd_buf hs_in;           /* decrypted handshake bytes not yet parsed */
	struct sd_buf ch2;             /* the second ClientHello, if any */
	uint8_t s_key[32], s_iv[12], c_key[32], c_iv[12];
	uint8_t s_secret[48], c_secret[48];
	size_t hash_len, key_len;
	uint64_t s_seq;
	bool cert_requested;
};

void sd_session_init(struct sd_session *s);
void sd_session_free(struct sd_session *s);

/*
 * Feeds the whole server→client stream received so far (it only grows).
 * Appends to out what the client must send next (a second ClientHello,
 * then CCS + Finished). Returns the new state; on SD_SESS_FAILED, why says
 * what went wrong.
 */
enum sd_sess_state sd_session_feed(struct sd_session *s, const uint8_t *stream, size_t len,
				   struct sd_buf *out);

#endif
