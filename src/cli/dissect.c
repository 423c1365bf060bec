/* SPDX-License-Identifier: MIT */
/* shakedown dissect: ClientHellos (and ServerHellos) from a record stream or a capture. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "shakedown/flow.h"
#include "shakedown/json.h"
#include "shakedown/pkt.h"
#include "shakedown/record.h"
#include "shakedown/report.h"
#include "shakedown/tls.h"

static const char dissect_usage[] =
	"usage: shakedown dissect FILE [--json]\n"
	"\n"
	"Prints the field map of every ClientHello in FILE: its extensions with\n"
	"offsets, key shares with their groups and sizes, and the TLS records that\n"
	"carried it. FILE is a raw TLS record stream (as 'shakedown hello --out'\n"
	"writes) or a pcap/pcapng capture; in a capture every TCP connection is\n"
	"reassembled and the TCP segments the client cut its hello into are shown.\n"
	"ServerHellos and HelloRetryRequests found are reported too. '-' reads stdin.\n"
	"\n"
	"options:\n"
	"      --json     JSON: {\"hellos\": [...], \"server_hellos\": [...]} (docs/json.md)\n"
	"  -h, --help     this help\n"
	"\n"
	"exit codes: 0 at least one ClientHello or ServerHello found; 2 unreadable,\n"
	"not TLS or a capture, truncated, or holding no hello.\n";

#define MAX_INPUT (256u << 20)

struct out {
	struct sd_json j;
	struct sd_buf hellos, servers;   /* JSON fragments or text */
	struct sd_json jh, js;
	bool json;
	size_t nhellos, nservers;
	const char *file;
};

static void stream_label(const struct sd_flow *f, bool from_client, char *out, size_t n)
{
	const struct sd_flow_dir *a = from_client ? &f->cli : &f->srv;
	const struct sd_flow_dir *b = from_client ? &f->srv : &f->cli;
	char sa[SD_ADDR_STRLEN], sb[SD_ADDR_STRLEN];

	if (sd_addr_format(f->family, a->addr, sa, sizeof(sa)) < 0)
		snprintf(sa, sizeof(sa), "?");
	if (sd_addr_format(f->family, b->addr, sb, sizeof(sb)) < 0)
		snprintf(sb, sizeof(sb), "?");
	if (f->family == 6)
		snprintf(out, n, "[%s]:%u > [%s]:%u", sa, a->port, sb, b->port);
	else
		snprintf(out, n, "%s:%u > %s:%u", sa, a->port, sb, b->port);
}

/* Message offset of stream offset x, through the records' headers; -1 if
 * x falls in a header. */
static long long msg_offset(const struct sd_flight *fl, const struct sd_hs_msg *m, size_t x)
{
	for (size_t k = 0; k < fl->nrecords; k++) {
		const struct sd_flight_record *r = &fl->records[k];

		if (r->type != SD_CT_HANDSHAKE || x < r->offset + SD_RECORD_HDR ||
		    x >= r->offset + SD_RECORD_HDR + r->len)
			continue;
		return (long long)(r->hs_offset + (x - r->offset - SD_RECORD_HDR)) -
		       (long long)m->hs_offset;
	}
	return -1;
}

/* Where each segment boundary fell inside the hello: the field a middlebox
 * that reads only the first segment never saw. */
static void report_cuts(struct out *o, const struct sd_flight *fl, const struct sd_hs_msg *m,
			const struct sd_hello *h, const struct sd_flow_dir *dir, size_t start,
			size_t end)
{
	for (uint32_t k = 0; k < dir->nsegs; k++) {
		const struct sd_flow_seg *s = &dir->segs[k];
		size_t cut = (size_t)(s->rel + s->len);
		long long off;
		char field[128];

		if (s->flags & SD_SEG_RETRANS || s->rel < 0 || cut <= start || cut >= end)
			continue;
		off = msg_offset(fl, m, cut);
		if (off < 0) {
			sd_buf_printf(&o->hellos, "  cut after byte %zu of the flight: in a record header\n",
				      cut - start);
			continue;
		}
		sd_hello_field_at(h, (size_t)off, field, sizeof(field));
		sd_buf_printf(&o->hellos, "  cut at message byte %lld: next segment starts in %s\n",
			      off, field);
	}
}

/*
 * Reports the hellos of one direction's plaintext flight. stream is the
 * direction's bytes; dir (captures only) gives the segments. Returns 0, or
 * an exit code after printing the error.
 */
static int report_flight(struct out *o, const uint8_t *stream, size_t len,
			 const char *label, const struct sd_flow_dir *dir, bool client_side)
{
	struct sd_flight fl;
	int n, index = 0;

	n = sd_flight_parse(stream, len, &fl);
	if (n < 0) {
		/* A capture's stream that is not TLS (HTTP, SSH...) is skipped. */
		if (dir)
			return 0;
		return cli_error(SD_EXIT_USAGE, "%s: not a TLS record stream or a capture (%s at byte %zu)",
				 o->file, sd_strerror(n), fl.consumed);
	}
	for (size_t i = 0; i < fl.nmsgs; i++) {
		const struct sd_hs_msg *m = &fl.msgs[i];
		const uint8_t *msg = sd_flight_msg(&fl, i);

		if (client_side && m->type == SD_HS_CLIENT_HELLO) {
			static struct sd_hello h;
			uint16_t recs[SD_FLIGHT_MAX_RECORDS];
			uint32_t *segs = NULL;
			struct sd_hello_report r = { .stream = label, .records = recs };
			size_t start, end;
			int ret;

			ret = sd_hello_parse(msg, m->len, &h);
			if (ret < 0) {
				sd_flight_free(&fl);
				return cli_error(SD_EXIT_USAGE, "%s%s%s: malformed ClientHello: %s",
						 o->file, label ? " " : "", label ? label : "",
						 sd_strerror(ret));
			}
			r.nrecords = sd_flight_msg_records(&fl, i, recs, SD_FLIGHT_MAX_RECORDS);
			r.index = ++index;
			start = fl.records[m->rec_first].offset;
			end = start;
			for (size_t k = m->rec_first; k < fl.nrecords && k < m->rec_first + m->rec_count + 8; k++) {
				if (fl.records[k].type != SD_CT_HANDSHAKE)
					continue;
				if (fl.records[k].hs_offset >= m->hs_offset + m->len)
					break;
				end = fl.records[k].offset + SD_RECORD_HDR + fl.records[k].len;
			}
			r.wire_length = end - start;
			if (dir) {
				segs = calloc(dir->nsegs ? dir->nsegs : 1, sizeof(*segs));
				if (!segs) {
					sd_flight_free(&fl);
					return cli_error(SD_EXIT_INTERNAL, "out of memory");
				}
				r.segments = segs;
				/* The cuts the client made: original sends that carry
				 * bytes of this hello's records, in capture order. */
				for (uint32_t k = 0; k < dir->nsegs; k++) {
					const struct sd_flow_seg *s = &dir->segs[k];

					if (s->flags & SD_SEG_RETRANS)
						continue;
					if (s->rel < (int64_t)end && s->rel + s->len > (int64_t)start)
						segs[r.nsegments++] = s->len;
				}
			}
			if (o->json)
				sd_report_hello_json(&o->jh, &h, &r);
			else
				sd_report_hello_text(&o->hellos, &h, &r);
			if (dir && !o->json)
				report_cuts(o, &fl, m, &h, dir, start, end);
			free(segs);
			o->nhellos++;
		} else if (!client_side && m->type == SD_HS_SERVER_HELLO) {
			struct sd_server_hello s;

			if (sd_server_hello_parse(msg, m->len, &s) < 0)
				continue;
			if (o->json)
				sd_report_server_hello_json(&o->js, &s, label);
			else
				sd_report_server_hello_text(&o->servers, &s, label);
			o->nservers++;
		}
	}
	if (client_side && fl.has_alert && !o->json)
		sd_buf_printf(&o->hellos, "  alert from client: %s\n",
			      sd_tls_alert_name(fl.alert_desc) ? sd_tls_alert_name(fl.alert_desc) : "?");
	if (!client_side && fl.has_alert && !o->json)
		sd_buf_printf(&o->servers, "Alert %s%s%s (%u)\n", label ? label : "", label ? " " : "",
			      sd_tls_alert_name(fl.alert_desc) ? sd_tls_alert_name(fl.alert_desc) : "?",
			      fl.alert_desc);
	sd_flight_free(&fl);
	return 0;
}

static int dissect_capture(struct out *o, const struct sd_flowset *set)
{
	for (size_t i = 0; i < set->n; i++) {
		const struct sd_flow *f = &set->flows[i];
		char lc[128], ls[128];
		size_t before = o->nhellos;
		int ret;

		stream_label(f, true, lc, sizeof(lc));
		stream_label(f, false, ls, sizeof(ls));
		if ((ret = report_flight(o, f->cli.stream, f->cli.len, lc, &f->cli, true)) != 0)
			return ret;
		if (o->nhellos > before && f->cli.cut) {
			/* A hello whose bytes the capture did not keep would be
			 * reported wrong; say so rather than guess. */
			return cli_error(SD_EXIT_USAGE,
					 "%s: %s: capture truncated by snaplen at stream byte %zu; recapture with -s 0",
					 o->file, lc, f->cli.cut_at);
		}
		if (f->cli.len == 0 && f->cli.cut)
			return cli_error(SD_EXIT_USAGE,
					 "%s: %s: capture truncated by snaplen; recapture with -s 0",
					 o->file, lc);
		if ((ret = report_flight(o, f->srv.stream, f->srv.len, ls, &f->srv, false)) != 0)
			return ret;
	}
	return 0;
}

int cmd_dissect(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct out o = { 0 };
	struct sd_flowset set = { 0 };
	struct sd_buf final = SD_BUF_INIT;
	uint8_t *data = NULL;
	size_t len;
	int c, ret, rc = SD_EXIT_INTERNAL;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j': o.json = true; break;
		case 'h':
			fputs(dissect_usage, stdout);
			return SD_EXIT_OK;
		default:
			return cli_error(SD_EXIT_USAGE,
					 "unknown option '%s' (see 'shakedown dissect --help')",
					 argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return cli_error(SD_EXIT_USAGE, "want exactly one FILE (see --help)");
	o.file = argv[optind];
	ret = cli_read_file(o.file, MAX_INPUT, &data, &len);
	if (ret == -EFBIG)
		return cli_error(SD_EXIT_USAGE, "%s: larger than 256 MiB", o.file);
	if (ret < 0)
		return cli_error(SD_EXIT_USAGE, "cannot read %s: %s", o.file, sd_strerror(ret));
	if (len == 0) {
		rc = cli_error(SD_EXIT_USAGE, "%s: empty file", o.file);
		goto out;
	}
	sd_json_init(&o.jh, &o.hellos, true);
	sd_json_init(&o.js, &o.servers, true);
	/* Fragments nest two levels deep in the final object. */
	o.jh.depth = o.js.depth = 2;
	o.jh.first[2] = o.js.first[2] = true;

	ret = sd_flows_from_capture(data, len, &set);
	if (ret == -SD_EFORMAT) {
		if ((rc = report_flight(&o, data, len, NULL, NULL, true)) != 0)
			goto out;
		if ((rc = report_flight(&o, data, len, NULL, NULL, false)) != 0)
			goto out;
	} else if (ret < 0) {
		rc = cli_error(SD_EXIT_USAGE, "%s: unreadable capture: %s", o.file, sd_strerror(ret));
		goto out;
	} else {
		if (set.read_err) {
			rc = cli_error(SD_EXIT_USAGE,
				       "%s: capture is damaged or truncated after %llu packets (%s)",
				       o.file, (unsigned long long)set.packets, sd_strerror(set.read_err));
			goto out;
		}
		if ((rc = dissect_capture(&o, &set)) != 0)
			goto out;
	}
	if (o.nhellos == 0 && o.nservers == 0) {
		rc = cli_error(SD_EXIT_USAGE, "%s: no complete ClientHello or ServerHello found%s", o.file,
			       ret == -SD_EFORMAT ? " (the record stream ends early or holds none)" :
			       set.n ? " in any TCP connection" : " (no TCP connections in the capture)");
		goto out;
	}
	if (o.json) {
		sd_buf_printf(&final, "{\n  \"file\": ");
		{
			struct sd_json t;

			sd_json_init(&t, &final, false);
			sd_json_str(&t, o.file);
		}
		sd_buf_printf(&final, ",\n  \"source\": \"%s\",\n  \"hellos\": [",
			      ret == -SD_EFORMAT ? "records" : "capture");
		sd_buf_put(&final, o.hellos.data, o.hellos.len);
		sd_buf_printf(&final, "\n  ],\n  \"server_hellos\": [");
		sd_buf_put(&final, o.servers.data, o.servers.len);
		sd_buf_printf(&final, "%s],\n  \"connections\": %zu\n}\n", o.nservers ? "\n  " : "",
			      ret == -SD_EFORMAT ? (size_t)0 : set.n);
	} else {
		sd_buf_put(&final, o.hellos.data, o.hellos.len);
		if (o.servers.len) {
			sd_buf_printf(&final, "\n");
			sd_buf_put(&final, o.servers.data, o.servers.len);
		}
	}
	if (sd_buf_error(&final) < 0 || sd_buf_error(&o.hellos) < 0 || cli_stdout(&final) < 0) {
		rc = cli_error(SD_EXIT_INTERNAL, "cannot write the report");
		goto out;
	}
	rc = SD_EXIT_OK;
out:
	sd_flowset_free(&set);
	sd_buf_free(&o.hellos);
	sd_buf_free(&o.servers);
	sd_buf_free(&final);
	free(data);
	return rc;
}
