/* SPDX-License-Identifier: MIT */
/*
 * Inside the lab: the steps of a cell that engine cells (lab.c) and real
 * client cells (lab_client.c) share, and the parts of a lab the latter
 * needs. Not a public interface.
 */
#ifndef SD_LAB_INT_H
#define SD_LAB_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shakedown/lab.h"

struct sd_topo;
struct sd_server;

struct sd_lab_parts {
	const struct sd_topo *topo;
	struct sd_server *server;
	size_t proxy_hop;             /* 1-based exec hop the client's TCP ends at; 0 none */
	uint16_t server_port;
	const char *keylog_path;      /* the lab's key log (sd_lab_opts), or NULL */
	bool server_keylog;           /* the lab's server writes to it too */
	unsigned added_delay_ms;      /* the longest the user-space hops hold a packet, summed */
};

void sd_lab_parts(struct sd_lab *lab, struct sd_lab_parts *out);

/* Before a cell: forgets the captures, resets the user-space hops (their
 * random choices from seed; NULL: fresh). 0, or an error with err set. */
int sd_lab_cell_reset(struct sd_lab *lab, const char *seed, char *err, size_t errlen) SD_WUR;

/* The cell's captured frames so far, placed on the path (node, side), into
 * r->pkts / r->pkt_bytes (replacing earlier ones): callable repeatedly
 * while a cell runs. With settle, first waits for the user-space hops to
 * let go of what they hold and takes their statistics (the cell's end).
 * 0, -ENOMEM, or an error with err set. */
int sd_lab_cell_packets(struct sd_lab *lab, struct sd_cell_result *r, bool settle, char *err,
			size_t errlen) SD_WUR;

/* r->server from r->conn when r->conn_present. */
void sd_lab_cell_server_facts(struct sd_cell_result *r);

/*
 * Completes in (the path's hops and MTUs, server port, r's client and
 * server facts and frames, the icmp-filter counters when icmp_counters)
 * and judges: r->v, r->lad, r->ladder. The caller sets family, addresses,
 * client_port, flight and hello. 0, or an error with err set.
 */
int sd_lab_cell_judge(struct sd_lab *lab, struct sd_vd_input *in, struct sd_cell_result *r,
		      bool icmp_counters, char *err, size_t errlen) SD_WUR;

/* A real client's cell (sd_lab_run with cell->real_client): lab_client.c. */
int sd_lab_run_client(struct sd_lab *lab, const struct sd_cell *cell, struct sd_cell_result *r,
		      char *err, size_t errlen) SD_WUR;

/* Whether the lab was opened for real clients. */
bool sd_lab_client_kernel(const struct sd_lab *lab);

#endif
