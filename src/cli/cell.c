/* SPDX-License-Identifier: MIT */
/*
 * One cell as JSON (docs/json.md, docs/matrix.md): what `run --json` prints
 * and what a matrix document holds per cell, from one writer.
 */
#include <stdio.h>
#include <string.h>

#include "cell.h"
#include "detect.h"
#include "rootless.h"
#include "shakedown/hello.h"
#include "shakedown/inspect.h"
#include "shakedown/record.h"
#include "shakedown/tls.h"

const char *cli_group_label(uint16_t g, char *tmp, size_t n)
{
	const char *name = sd_tls_group_name(g);

	if (name)
		return name;
	snprintf(tmp, n, "0x%04x", g);
	return tmp;
}

/* Stream offset (record headers included) of message byte m. */
static size_t stream_of(const struct sd_cell_result *r, size_t m)
{
	size_t start = 0;

	for (size_t k = 0; k < r->nrecords; k++) {
		if (m < start + r->record_lengths[k])
			return m + SD_RECORD_HDR * (k + 1);
		start += r->record_lengths[k];
	}
	return m + SD_RECORD_HDR * (r->nrecords ? r->nrecords : 1);
}

struct field_ctx {
	struct sd_json *j;
	const struct sd_cell_result *r;
};

static void field(struct sd_json *j, const char *name, size_t off, size_t len, int depth)
{
	sd_json_obj_open(j);
	sd_json_kstr(j, "name", name);
	sd_json_kint(j, "offset", (long long)off);
	sd_json_kint(j, "length", (long long)len);
	sd_json_kint(j, "depth", depth);
	sd_json_obj_close(j);
}

static void on_field(void *ctx, int depth, const char *name, size_t offset, size_t len)
{
	struct field_ctx *c = ctx;
	size_t a = stream_of(c->r, offset), b = len ? stream_of(c->r, offset + len - 1) + 1 : a;

	field(c->j, name, a, b - a, depth);
}

/* The ClientHello's fields at their stream offsets, record headers included. */
static void hello_fields(struct sd_json *j, const struct sd_cell_result *r)
{
	static _Thread_local struct sd_hello h;
	struct field_ctx c = { j, r };
	size_t start = 0;

	sd_json_arr_open(j);
	if (r->hello && sd_hello_parse(r->hello, r->hello_len, &h) == 0) {
		for (size_t k = 0; k < r->nrecords; k++) {
			field(j, "TLS record header", start + k * SD_RECORD_HDR, SD_RECORD_HDR, 0);
			start += r->record_lengths[k];
		}
		sd_hello_fields(&h, on_field, &c);
	}
	sd_json_arr_close(j);
}

/* The ClientHello's key shares as sent: group and key_exchange length. */
static void key_shares(struct sd_json *j, const struct sd_cell_result *r)
{
	static _Thread_local struct sd_hello h;
	char tmp[32];

	sd_json_arr_open(j);
	if (r->hello && sd_hello_parse(r->hello, r->hello_len, &h) == 0) {
		for (size_t k = 0; k < h.nshares; k++) {
			sd_json_obj_open(j);
			sd_json_kint(j, "group", h.shares[k].group);
			sd_json_kstr(j, "name", cli_group_label(h.shares[k].group, tmp, sizeof(tmp)));
			sd_json_kint(j, "length", (long long)h.shares[k].len);
			sd_json_obj_close(j);
		}
	}
	sd_json_arr_close(j);
}

/*
 * The user-space hops' own counters: why they dropped, what they made up,
 * and the emulated device's decision; the hops array counts packets from
 * the captures, this says what the hop meant by them.
 */
static void hop_stats(struct sd_json *j, const struct sd_cell_result *r)
{
	sd_json_key(j, "hop_stats");
	sd_json_arr_open(j);
	for (size_t h = 0; h < SD_PATH_MAX_HOPS; h++) {
		const struct sd_mbox_stats *s = &r->mbox[h];

		if (!r->mbox_present[h])
			continue;
		sd_json_obj_open(j);
		sd_json_kstr(j, "hop", h < r->v.nhops ? r->v.hops[h].name : NULL);
		sd_json_kint(j, "frames_in", (long long)s->rx);
		sd_json_kint(j, "forwarded", (long long)s->forwarded);
		sd_json_kint(j, "ignored", (long long)s->ignored);
		sd_json_key(j, "drops");
		sd_json_obj_open(j);
		sd_json_kint(j, "loss", (long long)s->drop_loss);
		sd_json_kint(j, "fragments", (long long)s->drop_fragments);
		sd_json_kint(j, "ttl", (long long)s->drop_ttl);
		sd_json_kint(j, "mtu", (long long)s->drop_mtu);
		sd_json_kint(j, "inspect", (long long)s->drop_inspect);
		sd_json_kint(j, "truncate", (long long)s->drop_truncate);
		sd_json_kint(j, "buffer_full", (long long)s->drop_pool);
		sd_json_kint(j, "send_failed", (long long)s->drop_tx);
		sd_json_kint(j, "reassembly", (long long)s->drop_reassembly);
		sd_json_obj_close(j);
		sd_json_kint(j, "icmp_sent", (long long)s->icmp_sent);
		sd_json_kint(j, "icmp_filtered", (long long)s->icmp_filtered);
		sd_json_kint(j, "fragmented", (long long)s->fragmented);
		sd_json_kint(j, "mss_clamped", (long long)s->clamped);
		sd_json_kint(j, "truncated", (long long)s->truncated);
		sd_json_kint(j, "duplicated", (long long)s->duplicated);
		sd_json_kint(j, "reordered", (long long)s->reordered);
		sd_json_kint(j, "delayed", (long long)s->delayed);
		sd_json_key(j, "forged");
		sd_json_obj_open(j);
		sd_json_kint(j, "rst", (long long)s->rst_forged);
		sd_json_kint(j, "fin", (long long)s->fin_forged);
		sd_json_kint(j, "alert", (long long)s->alerts_forged);
		sd_json_obj_close(j);
		sd_json_kint(j, "flows", (long long)s->flows);
		sd_json_kint(j, "reassembled", (long long)s->reassembled);
		sd_json_key(j, "inspector");
		if (s->insp_kind >= 0) {
			sd_json_obj_open(j);
			sd_json_kstr(j, "behaviour", sd_insp_kind_name(s->insp_kind));
			sd_json_kstr(j, "action", sd_insp_act_name((enum sd_insp_act)s->insp_act));
			sd_json_kstr(j, "why", s->insp_why[0] ? s->insp_why : NULL);
			sd_json_obj_close(j);
		} else {
			sd_json_null(j);
		}
		sd_json_obj_close(j);
	}
	sd_json_arr_close(j);
}

void cli_cell_json(struct sd_json *j, const struct cli_cell_meta *m, const struct sd_cell_result *r)
{
	char tmp[32];

	sd_json_obj_open(j);
	if (m->id) {
		sd_json_kint(j, "index", (long long)m->index);
		sd_json_kstr(j, "id", m->id);
		sd_json_kstr(j, "group", m->group);
	}
	if (m->head) {
		m->head(j, m->head_ctx);
	} else {
		sd_json_kstr(j, "profile", m->profile);
		sd_json_kstr(j, "path", m->path);
		sd_json_kstr(j, "server", m->server);
		sd_json_kstr(j, "client", m->client ? m->client : "engine");
		if (m->rootless_key)
			sd_json_kbool(j, "rootless", cli_rootless_active());
	}
	sd_json_kstr(j, "shape", m->shape);
	sd_json_kstr(j, "family", m->ipv6 ? "ipv6" : "ipv4");
	sd_json_kstr(j, "seed", r->seed);
	sd_verdict_json(j, &r->v);
	sd_json_kstr(j, "expected", m->expected);
	if (m->rule)
		sd_json_kstr(j, "rule", m->rule);
	sd_json_kbool(j, "pass", m->pass);
	sd_json_key(j, "negotiated");
	sd_json_obj_open(j);
	sd_json_kstr(j, "group", r->client.server_hello ? cli_group_label(r->client.group, tmp, sizeof(tmp)) : NULL);
	sd_json_key(j, "group_id");
	if (r->client.server_hello)
		sd_json_int(j, r->client.group);
	else
		sd_json_null(j);
	sd_json_kbool(j, "hrr", r->client.hrr);
	sd_json_kbool(j, "handshake_completed", r->client.handshake_done);
	sd_json_obj_close(j);
	sd_json_key(j, "flight");
	sd_json_obj_open(j);
	sd_json_kint(j, "clienthello_bytes", (long long)r->hello_len);
	sd_json_kint(j, "handshake_length", r->hello_len >= 4 ? (long long)r->hello_len - 4 : 0);
	sd_json_kint(j, "wire_bytes", (long long)r->flight_len);
	/* The hello's random: what its NSS key-log lines are keyed by. */
	sd_json_key(j, "random");
	if (r->hello && r->hello_len >= 4 + 2 + 32) {
		char hex[65];

		for (size_t i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", r->hello[6 + i]);
		sd_json_str(j, hex);
	} else {
		sd_json_null(j);
	}
	sd_json_key(j, "client_port");
	if (r->sport)
		sd_json_int(j, r->sport);
	else
		sd_json_null(j);
	sd_json_kint(j, "records", (long long)r->v.records);
	sd_json_key(j, "record_lengths");
	sd_json_arr_open(j);
	for (size_t i = 0; i < r->nrecords; i++)
		sd_json_int(j, (long long)r->record_lengths[i]);
	sd_json_arr_close(j);
	sd_json_key(j, "segments");
	sd_json_arr_open(j);
	for (size_t i = 0; i < r->client.nsegs; i++)
		if (!r->client.segs[i].retrans)
			sd_json_int(j, r->client.segs[i].len);
	sd_json_arr_close(j);
	sd_json_key(j, "retransmissions");
	sd_json_arr_open(j);
	for (size_t i = 0; i < r->client.nsegs; i++) {
		const struct sd_vd_seg *s = &r->client.segs[i];

		if (!s->retrans)
			continue;
		sd_json_obj_open(j);
		sd_json_kint(j, "offset", s->offset);
		sd_json_kint(j, "length", s->len);
		sd_json_obj_close(j);
	}
	sd_json_arr_close(j);
	sd_json_key(j, "key_shares");
	key_shares(j, r);
	sd_json_kint(j, "ip_fragments", (long long)r->v.ip_fragments);
	sd_json_kint(j, "server_mss", r->client.server_mss);
	sd_json_key(j, "pmtu");
	sd_json_arr_open(j);
	for (size_t i = 0; i < r->client.npmtu; i++) {
		sd_json_obj_open(j);
		sd_json_kint(j, "mtu", r->client.pmtu[i].mtu);
		sd_json_kbool(j, "ignored", r->client.pmtu[i].ignored);
		sd_json_obj_close(j);
	}
	sd_json_arr_close(j);
	sd_json_obj_close(j);
	sd_json_key(j, "server_report");
	sd_json_obj_open(j);
	sd_json_kbool(j, "present", r->server.present);
	sd_json_key(j, "reads");
	sd_json_arr_open(j);
	for (size_t i = 0; i < r->server.nrecvs; i++)
		sd_json_int(j, r->server.recvs[i]);
	sd_json_arr_close(j);
	sd_json_kint(j, "bytes_in", (long long)r->server.bytes_in);
	sd_json_kbool(j, "hello_complete", r->server.hello_complete);
	sd_json_kbool(j, "handshake_completed", r->server.handshake_done);
	sd_json_kstr(j, "group", r->server.group ? cli_group_label(r->server.group, tmp, sizeof(tmp)) : NULL);
	sd_json_kstr(j, "alert_sent", r->server.alert_sent ? sd_tls_alert_name(r->server.alert_desc) : NULL);
	sd_json_kint(j, "bytes_out", (long long)r->server.bytes_out);
	sd_json_kstr(j, "error", r->server.error[0] ? r->server.error : NULL);
	sd_json_kstr(j, "end", r->conn_present ? sd_server_end_name(r->conn.end) : NULL);
	sd_json_kstr(j, "via", r->server_via[0] ? r->server_via : NULL);
	sd_json_obj_close(j);
	sd_json_kint(j, "server_flight_bytes", (long long)r->v.server_flight);
	hop_stats(j, r);
	sd_json_key(j, "timing_ms");
	sd_json_obj_open(j);
	sd_json_key(j, "cell");
	sd_json_int(j, (long long)(r->t_total_ms + 0.5));
	sd_json_key(j, "exchange");
	sd_json_int(j, (long long)(r->t_exchange_ms + 0.5));
	if (!m->client)
		sd_json_kint(j, "held", (long long)(r->eng.held_ms + 0.5));
	sd_json_obj_close(j);
	sd_json_kstr(j, "engine_end", m->client ? NULL : sd_engine_state_name(r->eng.state));
	if (m->client) {
		sd_json_kstr(j, "client_end", r->client_end);
		sd_json_key(j, "client_start_ms");
		sd_json_int(j, (long long)(r->t_client_start_ms + 0.5));
	}
	sd_json_key(j, "ladder");
	sd_ladder_json(j, &r->lad);
	sd_json_key(j, "hello_fields");
	hello_fields(j, r);
	sd_json_key(j, "pcaps");
	sd_json_arr_open(j);
	for (const char *p = m->pcaps; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char name[4096];

		snprintf(name, sizeof(name), "%.*s", (int)n, p);
		sd_json_str(j, name);
		p += n + (nl ? 1 : 0);
	}
	sd_json_arr_close(j);
	if (m->detections) {
		sd_json_key(j, "detections");
		cli_detect_json(j, m->detections);
	}
	sd_json_obj_close(j);
}
