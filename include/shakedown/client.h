/* SPDX-License-Identifier: MIT */
/*
 * Real TLS clients as lab clients: Chromium (headless, its X25519MLKEM768
 * hello), Node.js 24 (OpenSSL 3.5, tools/peers/node-lab-client.js compiled
 * in), `openssl s_client` and curl (Debian's OpenSSL 3.0: classic hellos).
 * Each runs as a program in the calling thread's network namespace (the
 * client namespace, whose kernel owns the client address: SD_TOPO_CLIENT_KERNEL)
 * through sd_proc (shakedown/peer.h): its own process group, PR_SET_PDEATHSIG,
 * stdin /dev/null. It connects once to the server and is judged from the
 * captures (shakedown/observed.h), then stopped: the whole process group
 * is killed (Chromium forks), and its private directory (Chromium's
 * user-data-dir and HOME) removed.
 */
#ifndef SHAKEDOWN_CLIENT_H
#define SHAKEDOWN_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shakedown/err.h"

enum sd_client_kind {
	SD_CLIENT_CHROMIUM,
	SD_CLIENT_NODE_PQ,
	SD_CLIENT_OPENSSL,
	SD_CLIENT_CURL,
	SD_CLIENT_MAX
};

/* "chromium", "node-pq", "openssl", "curl"; -SD_EUNKNOWN for others. */
int sd_client_parse(const char *name, enum sd_client_kind *k) SD_WUR;
const char *sd_client_name(enum sd_client_kind k);
/* The names, comma-separated, for messages. */
const char *sd_client_names(void);
/* A line for `list`: what the client is and what its hello looks like. */
const char *sd_client_description(enum sd_client_kind k);

/* Whether the client's program can run here: 0, or -ENOENT with why
 * naming what is missing and how to install it. */
int sd_client_check(enum sd_client_kind k, char *why, size_t whylen) SD_WUR;

struct sd_client_cfg {
	enum sd_client_kind kind;
	int family;                  /* 4 or 6 */
	const uint8_t *server_addr;  /* 4 or 16 bytes */
	uint16_t server_port;
	const char *keylog_path;     /* NULL: none; else NSS key log lines are appended */
	const char *sni;             /* NULL: none (the server is addressed by IP); else a
				      * DNS name (sd_client_sni_ok) mapped to the server */
};

/* Whether name is a DNS name a client can be told to send: 1-253 of
 * [A-Za-z0-9.-], not starting with '-' or '.'. */
bool sd_client_sni_ok(const char *name);

struct sd_client;

/*
 * Starts the client in the calling thread's network namespace. Returns
 * once it has been exec'd; *out owns it until sd_client_stop. Errors:
 * -ENOENT (the program is missing), -errno; err gets one line.
 */
int sd_client_start(const struct sd_client_cfg *cfg, struct sd_client **out, char *err,
		    size_t errlen) SD_WUR;
/* Whether it has exited by itself; why gets how, with its last line. */
bool sd_client_exited(struct sd_client *c, char *why, size_t whylen);
/* Kills its process group, reaps it, removes its directory, frees c.
 * NULL is fine. */
void sd_client_stop(struct sd_client *c);

#endif
