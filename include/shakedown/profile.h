/* SPDX-License-Identifier: MIT */
/*
 * Handshake profiles: what a client puts in its ClientHello. Built-in
 * profiles are the INI files under netns/profiles/, compiled in; users add
 * their own files in the same format (documented in netns/profiles/README.md).
 */
#ifndef SHAKEDOWN_PROFILE_H
#define SHAKEDOWN_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shakedown/builtin.h"
#include "shakedown/err.h"

#define SD_PROFILE_MAX_LIST 64
#define SD_PROFILE_MAX_RAW 8
#define SD_PROFILE_MAX_ALPN 8
/* In lists, this value marks a GREASE slot filled at build time (RFC 8701). */
#define SD_GREASE_SLOT 0x0a0a

struct sd_u16list {
	uint16_t v[SD_PROFILE_MAX_LIST];
	size_t n;
};

struct sd_raw_ext {
	uint16_t type;
	uint8_t data[512];
	size_t len;
};

enum sd_padding_rule {
	SD_PAD_NONE,
	SD_PAD_BORINGSSL,  /* pad 256..511-byte hellos to 512 (the F5 bug) */
};

struct sd_profile {
	char name[64];
	char description[256];
	uint16_t record_version;       /* legacy_record_version, RFC 8446 §5.1 */
	uint8_t session_id_len;        /* 0 or 32 (middlebox compatibility mode) */
	struct sd_u16list ciphers;
	struct sd_u16list groups;      /* supported_groups */
	struct sd_u16list shares;      /* key_share entries, in order */
	struct sd_u16list sigalgs;
	struct sd_u16list versions;    /* supported_versions */
	struct sd_u16list exts;        /* extension order */
	uint16_t grease_len[SD_PROFILE_MAX_LIST]; /* body length of GREASE exts */
	bool shuffle;                  /* permute extensions as Chrome does */
	char sni[256];                 /* empty: no server_name (as for an IP) */
	char alpn[SD_PROFILE_MAX_ALPN][32];
	size_t nalpn;
	char alps[SD_PROFILE_MAX_ALPN][32];  /* application_settings protocols */
	size_t nalps;
	struct sd_u16list cert_compression;
	uint8_t psk_modes[4];
	size_t npsk_modes;
	uint8_t ec_point_formats[4];
	size_t nec_point_formats;
	uint16_t ech_grease_payload;   /* GREASE ECH payload length */
	uint16_t record_size_limit;
	struct sd_u16list delegated_sigalgs;
	enum sd_padding_rule padding;
	struct sd_raw_ext raw[SD_PROFILE_MAX_RAW];
	size_t nraw;
};

struct sd_profile_error {
	int line;          /* 1-based; 0 when not tied to a line */
	char msg[200];
};

/*
 * Parses a profile from INI text. origin names it in errors. Returns 0, or
 * -SD_ESYNTAX / -SD_EUNKNOWN / -SD_EVALUE / -SD_ELIMIT with err filled in
 * (line and a message naming the key and value).
 */
int sd_profile_parse(const char *text, size_t len, const char *name,
		     struct sd_profile *p, struct sd_profile_error *err) SD_WUR;

/* A built-in profile by name; -SD_EUNKNOWN if there is none. */
int sd_profile_builtin(const char *name, struct sd_profile *p,
		       struct sd_profile_error *err) SD_WUR;


/*
 * Parses a list of names or numbers separated by commas, colons or spaces
 * into out, for kind (a value of enum sd_tls_kind). The word GREASE becomes
 * SD_GREASE_SLOT. On error, *bad points at the offending word (a static
 * copy) for the message.
 */
int sd_profile_parse_list(const char *s, int kind, struct sd_u16list *out,
			  const char **bad) SD_WUR;

#endif
