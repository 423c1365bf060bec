/* SPDX-License-Identifier: MIT */
/*
 * sd_observed: real clients' connections rebuilt from the captures of
 * their link (pcaps that `run --client ... --pcap-dir` wrote: hop 1's
 * interface toward the client), and the point at which the outcome is known.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "shakedown/capture.h"
#include "shakedown/observed.h"
#include "shakedown/pkt.h"
#include "shakedown/tls.h"

static const uint8_t server4[4] = { 10, 0, 1, 2 };
#define SERVER_FLIGHT 2379   /* in chromium-node-pq-clean.pcap; 2 tickets came after */

struct frames {
	uint8_t *file;
	struct sd_vd_pkt pkts[512];
	size_t n;
};

/* A c0 pcap as the verdict's frames: node 0, side 0, out when from the server. */
static int load(const char *name, struct frames *f)
{
	char fn[512];
	struct sd_capture cap;
	struct sd_capture_pkt cp;
	FILE *fp;
	long len;

	memset(f, 0, sizeof(*f));
	snprintf(fn, sizeof(fn), "%s/clients/%s", SD_TEST_DATA, name);
	if (!(fp = fopen(fn, "rb")))
		return -1;
	fseek(fp, 0, SEEK_END);
	len = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	f->file = malloc((size_t)len);
	if (!f->file || fread(f->file, 1, (size_t)len, fp) != (size_t)len) {
		fclose(fp);
		return -1;
	}
	fclose(fp);
	if (sd_capture_open(&cap, f->file, (size_t)len) < 0)
		return -1;
	while (f->n < 512 && sd_capture_next(&cap, &cp) == 1) {
		struct sd_vd_pkt *v = &f->pkts[f->n++];
		struct sd_pkt p;

		v->ts_ns = cp.ts_ns;
		v->frame = cp.data;
		v->len = cp.caplen;
		v->out = sd_pkt_decode(SD_LINKTYPE_ETHERNET, cp.data, cp.caplen, &p) == 0 &&
			 memcmp(p.src, server4, 4) == 0;
	}
	return 0;
}

/* Chromium against the node-pq server: two connections, the first completes. */
static void chromium_ok(void)
{
	struct frames f;
	struct sd_observed o;

	CHECK_INT(load("chromium-node-pq-clean.pcap", &f), 0);
	CHECK_INT(sd_observed_build(f.pkts, f.n, 4, server4, 443, 0, 0, &o), 0);
	CHECK(o.found);
	CHECK_INT(o.connections, 2);
	CHECK(o.decided);
	CHECK_STR(o.decided_by, "handshake completed");
	CHECK_INT(o.client.end, SD_VD_END_DONE);
	CHECK(o.client.server_hello);
	CHECK(o.client.handshake_done);
	CHECK(!o.client.hrr);
	CHECK_INT(o.client.group, SD_GROUP_X25519MLKEM768);
	CHECK_INT(o.client.server_mss, 1460);
	/* One record: its header and the 1926-byte message. */
	CHECK_INT(o.hello_len, 1926);
	CHECK_INT(o.flight_len, 1931);
	CHECK_INT(o.nrecords, 1);
	CHECK_INT(o.record_lengths[0], 1926);
	CHECK(o.hello && o.hello[0] == SD_HS_CLIENT_HELLO);
	CHECK_INT(o.client.nsegs, 2);
	CHECK_INT(o.client.segs[0].len, 1448);
	CHECK_INT(o.client.segs[0].ip_len, 1500);
	CHECK_INT(o.client.segs[1].offset, 1448);
	CHECK_INT(o.client.segs[1].len, 483);
	CHECK_INT(o.client.acked, 1931);
	CHECK(!o.stuck);
	CHECK(!o.icmp_to_client);
	/* Through the server's Finished (node-pq: ServerHello with the ML-KEM
	 * ciphertext, then the encrypted flight), not the tickets after it. */
	CHECK_INT(o.client.server_bytes, SERVER_FLIGHT);
	sd_observed_free(&o);
	CHECK(o.flight == NULL && o.hello == NULL);
	/* The server's address or port wrong: nothing of the client's. */
	CHECK_INT(sd_observed_build(f.pkts, f.n, 4, server4, 444, 0, 0, &o), 0);
	CHECK(!o.found && !o.decided);
	sd_observed_free(&o);
	/* Cut where the server has acknowledged the whole hello and not yet
	 * answered: undecided at once, quiet (a stall) half a second on. */
	{
		size_t k = 1;

		for (; k <= f.n; k++) {
			CHECK_INT(sd_observed_build(f.pkts, k, 4, server4, 443, 0, 0, &o), 0);
			if (o.found && o.flight_len && o.client.acked == o.flight_len && !o.client.server_hello)
				break;
			sd_observed_free(&o);
		}
		CHECK(k < f.n);
		CHECK(!o.decided);
		sd_observed_free(&o);
		CHECK_INT(sd_observed_build(f.pkts, k, 4, server4, 443,
					    f.pkts[k - 1].ts_ns + (SD_OBSERVED_QUIET_MS + 1) * 1000000ull, 0, &o), 0);
		CHECK(o.decided && !o.stuck);
		CHECK_STR(o.decided_by, "quiet");
		CHECK_INT(o.client.end, SD_VD_END_STALL);
		sd_observed_free(&o);
	}
	/* Only the first frames (SYN, SYN-ACK, ACK): not decided yet. */
	CHECK_INT(sd_observed_build(f.pkts, 3, 4, server4, 443, 0, 0, &o), 0);
	CHECK(o.found && !o.decided);
	CHECK_INT(o.client.end, SD_VD_END_STALL);
	sd_observed_free(&o);
	free(f.file);
}

/* Chromium into the black hole: the big segment retransmitted, never acked. */
static void chromium_blackhole(void)
{
	struct frames f;
	struct sd_observed o;

	CHECK_INT(load("chromium-tunnel-1280-blackhole.pcap", &f), 0);
	/* Right after the retransmission: not yet. */
	CHECK_INT(sd_observed_build(f.pkts, f.n, 4, server4, 443, 1, 0, &o), 0);
	CHECK(o.found);
	CHECK(!o.decided);
	CHECK(o.retransmits >= 1);
	sd_observed_free(&o);
	/* SD_OBSERVED_STUCK_MS later: stuck. */
	CHECK_INT(sd_observed_build(f.pkts, f.n, 4, server4, 443, UINT64_MAX / 2, 0, &o), 0);
	CHECK(o.decided && o.stuck);
	CHECK_STR(o.decided_by, "stuck");
	CHECK_INT(o.client.end, SD_VD_END_STALL);
	CHECK(!o.client.server_hello);
	CHECK_INT(o.client.acked, 0);
	CHECK_INT(o.hello_len, 1926);
	CHECK(o.client.nsegs >= 3);
	CHECK(!o.client.segs[0].retrans && !o.client.segs[1].retrans);
	CHECK(o.client.segs[2].retrans && o.client.segs[2].offset == 0 && o.client.segs[2].len == 1448);
	{
		/* 200 ms after the last retransmission: stuck, unless a round
		 * trip on this path can take 100 ms more. */
		uint64_t last = 0, now;

		for (size_t i = 0; i < o.client.nsegs; i++)
			if (o.client.segs[i].retrans && o.client.segs[i].t_us > last)
				last = o.client.segs[i].t_us;
		now = f.pkts[0].ts_ns + last * 1000 + 200 * 1000000ull;
		sd_observed_free(&o);
		CHECK_INT(sd_observed_build(f.pkts, f.n, 4, server4, 443, now, 0, &o), 0);
		CHECK(o.stuck);
		sd_observed_free(&o);
		CHECK_INT(sd_observed_build(f.pkts, f.n, 4, server4, 443, now, 100, &o), 0);
		CHECK(!o.stuck && !o.decided);
	}
	sd_observed_free(&o);
	free(f.file);
}

/* curl: a classic hello in one segment; IPv6 asked for: nothing. */
static void curl_ok(void)
{
	struct frames f;
	struct sd_observed o;
	uint8_t server6[16] = { 0xfd };

	CHECK_INT(load("curl-clean.pcap", &f), 0);
	CHECK_INT(sd_observed_build(f.pkts, f.n, 4, server4, 443, 0, 0, &o), 0);
	CHECK(o.decided && o.client.handshake_done);
	CHECK_INT(o.client.group, SD_GROUP_X25519);
	CHECK_INT(o.client.nsegs, 1);
	CHECK_INT(o.hello_len, 512);
	CHECK_INT(o.connections, 1);
	sd_observed_free(&o);
	CHECK_INT(sd_observed_build(f.pkts, f.n, 6, server6, 443, 0, 0, &o), 0);
	CHECK(!o.found);
	sd_observed_free(&o);
	/* Frames seen elsewhere on the path do not count. */
	for (size_t i = 0; i < f.n; i++)
		f.pkts[i].node = 1;
	CHECK_INT(sd_observed_build(f.pkts, f.n, 4, server4, 443, 0, 0, &o), 0);
	CHECK(!o.found);
	sd_observed_free(&o);
	free(f.file);
}

int main(void)
{
	chromium_ok();
	chromium_blackhole();
	curl_ok();
	return check_done();
}
