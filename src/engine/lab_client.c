/* SPDX-License-Identifier: MIT */
/*
 * A real client's cell: the program started in the client namespace,
 * watched through the captures until its outcome is known, stopped, then
 * judged like an engine cell from what its link and every hop captured.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lab_int.h"
#include "shakedown/client.h"
#include "shakedown/endpoint.h"
#include "shakedown/netns.h"
#include "shakedown/observed.h"
#include "shakedown/topo.h"

/* How often the captures are looked at while the program runs. */
#define POLL_MS 10
/* Longest wait for a finished client to write its key log lines. */
#define KEYLOG_WAIT_MS 1000

static double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct client_start {
	struct sd_client_cfg cfg;
	struct sd_client *c;
	char err[400];
};

/* In the client namespace: the program's supervising thread starts here,
 * so the program runs here too. */
static int start_client(void *arg)
{
	struct client_start *cs = arg;

	return sd_client_start(&cs->cfg, &cs->c, cs->err, sizeof(cs->err));
}

/* The facts the captures give, copied into the cell's result. */
static void take_observed(struct sd_observed *o, struct sd_cell_result *r)
{
	r->client = o->client;
	r->sport = o->sport;
	r->flight = o->flight;
	r->flight_len = o->flight_len;
	r->hello = o->hello;
	r->hello_len = o->hello_len;
	r->hello2_len = o->hello2_len;
	r->nrecords = o->nrecords < 64 ? o->nrecords : 64;
	memcpy(r->record_lengths, o->record_lengths, r->nrecords * sizeof(r->record_lengths[0]));
	o->flight = o->hello = NULL;
}

/*
 * A client that finished its handshake has its secrets, but may not have
 * written them yet (Chromium logs them from a background task): before it
 * is stopped, wait (at most KEYLOG_WAIT_MS) until the key log holds want
 * CLIENT_HANDSHAKE_TRAFFIC_SECRET lines for its hello's random (the
 * server's, when it logs to the same file, and the client's).
 */
static void wait_keylog(const char *path, const uint8_t *hello, size_t hello_len, size_t want)
{
	char needle[32 + 1 + 64 + 1];
	double until = mono_ms() + KEYLOG_WAIT_MS;
	int k;

	/* handshake header 4, legacy_version 2, then the 32-byte random */
	if (hello_len < 4 + 2 + 32)
		return;
	k = snprintf(needle, sizeof(needle), "CLIENT_HANDSHAKE_TRAFFIC_SECRET ");
	for (size_t i = 0; i < 32; i++)
		k += snprintf(needle + k, sizeof(needle) - (size_t)k, "%02x", hello[6 + i]);
	for (;;) {
		struct timespec ts = { 0, POLL_MS * 1000000L };
		FILE *f = fopen(path, "re");
		char *line = NULL;
		size_t cap = 0, n = 0;

		while (f && getline(&line, &cap, f) > 0)
			n += strncmp(line, needle, (size_t)k) == 0;
		free(line);
		if (f)
			fclose(f);
		if (n >= want || mono_ms() >= until)
			return;
		nanosleep(&ts, NULL);
	}
}

int sd_lab_run_client(struct sd_lab *lab, const struct sd_cell *cell, struct sd_cell_result *r,
		      char *err, size_t errlen)
{
	struct sd_lab_parts lp;
	const struct sd_topo *t;
	struct client_start cs;
	struct sd_observed o;
	struct sd_hello *hello = NULL;
	struct sd_vd_input in;
	const uint8_t *saddr;
	uint8_t caddr[16] = { 0 };
	unsigned deadline = cell->client_deadline_ms ? cell->client_deadline_ms : SD_LAB_CLIENT_DEADLINE_MS;
	double t0 = mono_ms(), t_run, until;
	bool exited = false;
	int family = cell->ipv6 ? 6 : 4, ret;

	memset(&cs, 0, sizeof(cs));
	memset(&o, 0, sizeof(o));
	sd_lab_parts(lab, &lp);
	t = lp.topo;
	if (!sd_lab_client_kernel(lab)) {
		snprintf(err, errlen, "the lab was not built for real clients (sd_lab_opts.client_kernel)");
		return -SD_EVALUE;
	}
	saddr = cell->ipv6 ? t->server6 : t->server4;
	if (cell->ipv6)
		memcpy(caddr, t->engine6, 16);
	else
		memcpy(caddr, t->engine4, 4);
	snprintf(r->seed, sizeof(r->seed), "%s", cell->seed ? cell->seed : "");
	if ((ret = sd_lab_cell_reset(lab, cell->seed, err, errlen)) < 0)
		return ret;

	cs.cfg.kind = cell->client;
	cs.cfg.family = family;
	cs.cfg.server_addr = saddr;
	cs.cfg.server_port = lp.server_port;
	cs.cfg.keylog_path = lp.keylog_path;
	cs.cfg.sni = cell->hello_opts ? cell->hello_opts->sni : NULL;
	ret = sd_netns_run(t->client_ns, start_client, &cs);
	if (ret < 0) {
		snprintf(err, errlen, "starting %s: %s", sd_client_name(cell->client),
			 cs.err[0] ? cs.err : sd_strerror(ret));
		return ret;
	}
	t_run = mono_ms();
	r->t_client_start_ms = t_run - t0;

	/* Watch until the outcome is known, the program gives up, or the deadline. */
	until = t_run + deadline;
	for (;;) {
		struct timespec ts = { 0, POLL_MS * 1000000L };
		char why[300];

		if (!exited && sd_client_exited(cs.c, why, sizeof(why))) {
			exited = true;
			snprintf(r->client_end, sizeof(r->client_end), "%.230s", why);
		}
		if ((ret = sd_lab_cell_packets(lab, r, false, err, errlen)) < 0)
			goto out;
		sd_observed_free(&o);
		if ((ret = sd_observed_build(r->pkts, r->npkts, family, saddr, lp.server_port, real_ns(),
					     2 * lp.added_delay_ms, &o)) < 0) {
			snprintf(err, errlen, "rebuilding the client's connection: %s", sd_strerror(ret));
			goto out;
		}
		if (o.decided) {
			snprintf(r->client_end, sizeof(r->client_end), "stopped: %s", o.decided_by);
			break;
		}
		/* Exited: this last look had all it sent. */
		if (exited)
			break;
		if (mono_ms() >= until) {
			snprintf(r->client_end, sizeof(r->client_end), "stopped at the %u ms deadline", deadline);
			break;
		}
		nanosleep(&ts, NULL);
	}
	r->t_exchange_ms = mono_ms() - t_run;
	if (lp.keylog_path && o.client.handshake_done && o.hello)
		wait_keylog(lp.keylog_path, o.hello, o.hello_len, lp.server_keylog ? 2 : 1);
	sd_client_stop(cs.c);
	cs.c = NULL;
	/* The last look, with the user-space hops' statistics: what the
	 * verdict judges (the outcome was known from the one before). */
	if ((ret = sd_lab_cell_packets(lab, r, true, err, errlen)) < 0)
		goto out;
	{
		struct sd_observed last;

		if ((ret = sd_observed_build(r->pkts, r->npkts, family, saddr, lp.server_port, real_ns(),
					     2 * lp.added_delay_ms, &last)) < 0) {
			snprintf(err, errlen, "rebuilding the client's connection: %s", sd_strerror(ret));
			goto out;
		}
		/* Packets after the decision (the stop's FIN or RST) may not
		 * change what was decided. */
		if (last.found && last.sport == o.sport && last.decided == o.decided) {
			sd_observed_free(&o);
			o = last;
		} else {
			sd_observed_free(&last);
		}
	}

	/* The verdict's client side, from the last look. */
	if (!o.found) {
		r->client.end = SD_VD_END_ERROR;
		snprintf(r->client.why, sizeof(r->client.why), "%s never connected to the server (%s)",
			 sd_client_name(cell->client), r->client_end);
	} else {
		take_observed(&o, r);
	}
	/* What the server saw of it (its report is final once the program's
	 * socket is gone, closed by the stop). Behind an exec hop the
	 * server's connection is the proxy's own: left out, as for engine cells. */
	if (o.found && !lp.proxy_hop) {
		uint8_t a[16];

		if (cell->ipv6)
			memcpy(a, caddr, 16);
		else
			sd_server_addr_v4(caddr, a);
		ret = sd_server_report(lp.server, a, r->sport, 200, &r->conn);
		r->conn_present = ret >= 0 || ret == -ETIMEDOUT;
		sd_lab_cell_server_facts(r);
	}

	memset(&in, 0, sizeof(in));
	in.family = family;
	memcpy(in.client_addr, caddr, 16);
	memcpy(in.server_addr, saddr, cell->ipv6 ? 16 : 4);
	in.client_port = r->sport;
	in.flight = r->flight;
	in.flight_len = r->flight_len;
	if (r->hello && (hello = calloc(1, sizeof(*hello))) && sd_hello_parse(r->hello, r->hello_len, hello) == 0)
		in.hello = hello;
	if ((ret = sd_lab_cell_judge(lab, &in, r, true, err, errlen)) < 0)
		goto out;
	r->t_total_ms = mono_ms() - t0;
	ret = 0;
out:
	sd_client_stop(cs.c);
	sd_observed_free(&o);
	free(hello);
	return ret;
}
