/* SPDX-License-Identifier: MIT */
/*
 * Replay plans from captures of the same Chromium ClientHello written in
 * every link layer and TCP variant the plan must see through: Ethernet +
 * VLAN, Linux cooked SLL and SLL2, raw IPv4, IPv6, an offload super-frame,
 * out-of-order and retransmitted segments, an HRR with a second hello;
 * and the bad captures that must fail with one clear error.
 *
 * `test_replay --write DIR` writes the variant captures to DIR instead, for
 * tests/netns/replay.sh to replay through real namespaces.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "shakedown/buf.h"
#include "shakedown/capture.h"
#include "shakedown/pkt.h"
#include "shakedown/record.h"
#include "shakedown/replay.h"
#include "shakedown/tls.h"

#define FIXTURE SD_SHARED_DIR "/fixtures/chromium-156-clienthello.pcap"

enum { GSO_NONE, GSO_LEN0, GSO_LONG };

struct gen {
	const char *name;
	uint32_t linktype;
	int family;
	bool vlan;
	int gso;
	bool ooo, retrans, overlap, hrr, snapcut, missing, http;
	uint32_t gap_us;        /* between the two data segments; 0: 12 */
	uint16_t cport;         /* the client's port; 0: 52988 */
};

static const uint8_t cmac[6] = { 2, 0, 0, 0, 0, 1 }, smac[6] = { 2, 0, 0, 0, 0, 2 };

/* The link-layer header of a frame carrying an IP datagram of family f. */
static void link_hdr(struct sd_buf *b, const struct gen *g, bool from_client)
{
	uint16_t et = g->family == 6 ? 0x86dd : 0x0800;

	switch (g->linktype) {
	case SD_LINKTYPE_ETHERNET:
		sd_buf_put(b, from_client ? smac : cmac, 6);
		sd_buf_put(b, from_client ? cmac : smac, 6);
		if (g->vlan) {
			sd_buf_u16(b, 0x8100);
			sd_buf_u16(b, 42);          /* VID 42 */
		}
		sd_buf_u16(b, et);
		break;
	case SD_LINKTYPE_LINUX_SLL:
		sd_buf_u16(b, from_client ? 4 : 0);  /* outgoing / to us */
		sd_buf_u16(b, 1);                    /* ARPHRD_ETHER */
		sd_buf_u16(b, 6);
		sd_buf_put(b, from_client ? cmac : smac, 6);
		sd_buf_u16(b, 0);
		sd_buf_u16(b, et);
		break;
	case SD_LINKTYPE_LINUX_SLL2:
		sd_buf_u16(b, et);
		sd_buf_u16(b, 0);
		sd_buf_u32(b, 3);                    /* ifindex */
		sd_buf_u16(b, 1);
		sd_buf_u8(b, from_client ? 4 : 0);
		sd_buf_u8(b, 6);
		sd_buf_put(b, from_client ? cmac : smac, 6);
		sd_buf_u16(b, 0);
		break;
	default:                                     /* raw IP */
		break;
	}
}

struct writer {
	const struct gen *g;
	struct sd_buf *file;
	struct sd_ip_spec cip, sip;
	uint32_t cseq, sseq;
};

/* One TCP segment as a capture record at time us. */
static int seg(struct writer *w, bool from_client, uint8_t flags, uint32_t seq, uint32_t ack,
	       const uint8_t *data, size_t len, const struct sd_tcp_opts *opt, uint64_t us)
{
	struct sd_buf fr = SD_BUF_INIT;
	struct sd_tcp_spec t = { 0 };
	size_t l3;
	int ret;

	uint16_t cport = w->g->cport ? w->g->cport : 52988;

	t.sport = from_client ? cport : 4433;
	t.dport = from_client ? 4433 : cport;
	t.seq = seq;
	t.ack = ack;
	t.flags = flags;
	t.window = 64240;
	if (opt)
		t.opt = *opt;
	link_hdr(&fr, w->g, from_client);
	l3 = fr.len;
	ret = sd_build_tcp(&fr, from_client ? &w->cip : &w->sip, &t, data, len);
	if (ret < 0)
		goto out;
	/* An offload super-frame as Linux captures it: length 0, or all of it. */
	if (w->g->gso == GSO_LEN0 && len > 1500) {
		fr.data[l3 + (w->g->family == 6 ? 4 : 2)] = 0;
		fr.data[l3 + (w->g->family == 6 ? 5 : 3)] = 0;
	}
	if (w->g->snapcut && len > 1000)
		ret = sd_pcap_write_record(w->file, 1700000000000000000ull + us * 1000, fr.data,
					   (uint32_t)(fr.len - 500), (uint32_t)fr.len);
	else
		ret = sd_pcap_write_packet(w->file, 1700000000000000000ull + us * 1000, fr.data,
					   (uint32_t)fr.len);
out:
	sd_buf_free(&fr);
	return ret;
}

/* RFC 8446 §4.1.3: the HelloRetryRequest's fixed random. */
static const uint8_t hrr_random[32] = {
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

/* A HelloRetryRequest record asking for x25519. */
static void hrr_record(struct sd_buf *b)
{
	struct sd_buf m = SD_BUF_INIT;
	size_t sizes = 0;

	sd_buf_u8(&m, SD_HS_SERVER_HELLO);
	sd_buf_u24(&m, 2 + 32 + 1 + 2 + 1 + 2 + 6 + 6);
	sd_buf_u16(&m, 0x0303);
	sd_buf_put(&m, hrr_random, 32);
	sd_buf_u8(&m, 0);                 /* legacy_session_id_echo */
	sd_buf_u16(&m, 0x1301);
	sd_buf_u8(&m, 0);
	sd_buf_u16(&m, 12);
	sd_buf_u16(&m, 43);               /* supported_versions: TLS 1.3 */
	sd_buf_u16(&m, 2);
	sd_buf_u16(&m, 0x0304);
	sd_buf_u16(&m, 51);               /* key_share: selected group x25519 */
	sd_buf_u16(&m, 2);
	sd_buf_u16(&m, 0x001d);
	(void)!sd_record_build(b, SD_CT_HANDSHAKE, 0x0303, m.data, m.len, &sizes, 0);
	sd_buf_free(&m);
}

/*
 * A capture of one connection sending stream (the ClientHello records) as
 * the variant g says: handshake with MSS 1460 / 1240 and timestamps (so
 * the effective MSS is 1228), the hello in 1228 + the rest, ACKs.
 */
static int gen_capture(const struct gen *g, const uint8_t *stream, size_t len, struct sd_buf *file)
{
	struct writer w = { .g = g, .file = file, .cseq = 1000, .sseq = 5000000 };
	struct sd_tcp_opts syn = { .has_mss = true, .mss = 1460, .has_ts = true, .sack_ok = true,
				   .has_wscale = true, .wscale = 7, .tsval = 1 };
	struct sd_tcp_opts synack = syn, ts = { .has_ts = true, .tsval = 2, .tsecr = 1 };
	uint32_t c0 = w.cseq + 1, s0 = w.sseq + 1;
	size_t a = 1228 < len ? 1228 : len;
	struct sd_buf srv = SD_BUF_INIT;
	int ret = 0;

	synack.mss = 1240;
	w.cip.family = w.sip.family = (uint8_t)g->family;
	w.cip.df = w.sip.df = true;
	if (g->family == 6) {
		(void)!sd_addr_parse("fd00:10:1::2", w.cip.src);
		(void)!sd_addr_parse("fd00:10:2::2", w.cip.dst);
	} else {
		(void)!sd_addr_parse("10.10.1.2", w.cip.src);
		(void)!sd_addr_parse("10.10.2.2", w.cip.dst);
	}
	memcpy(w.sip.src, w.cip.dst, 16);
	memcpy(w.sip.dst, w.cip.src, 16);
	if ((ret = sd_pcap_write_header(file, g->linktype, 65535)) < 0)
		return ret;
	ret = seg(&w, true, SD_TCP_SYN, w.cseq, 0, NULL, 0, &syn, 0);
	ret = ret ?: seg(&w, false, SD_TCP_SYN | SD_TCP_ACK, w.sseq, c0, NULL, 0, &synack, 300);
	ret = ret ?: seg(&w, true, SD_TCP_ACK, c0, s0, NULL, 0, &ts, 400);
	if (ret)
		return ret;
	if (g->http) {
		static const char req[] = "GET / HTTP/1.1\r\nHost: example\r\n\r\n";

		return seg(&w, true, SD_TCP_PSH | SD_TCP_ACK, c0, s0, (const uint8_t *)req,
			   sizeof(req) - 1, &ts, 1000);
	}
	if (g->gso)
		ret = seg(&w, true, SD_TCP_PSH | SD_TCP_ACK, c0, s0, stream, len, &ts, 1000);
	else if (g->ooo) {
		ret = seg(&w, true, SD_TCP_PSH | SD_TCP_ACK, c0 + (uint32_t)a, s0, stream + a, len - a, &ts, 1000);
		ret = ret ?: seg(&w, true, SD_TCP_ACK, c0, s0, stream, a, &ts, 1012);
	} else {
		ret = seg(&w, true, SD_TCP_ACK, c0, s0, stream, a, &ts, 1000);
		if (!g->missing)
			ret = ret ?: seg(&w, true, SD_TCP_PSH | SD_TCP_ACK, c0 + (uint32_t)a, s0, stream + a,
					 len - a, &ts, 1000 + (g->gap_us ? g->gap_us : 12));
	}
	if (g->retrans)      /* the first segment again, after an RTO */
		ret = ret ?: seg(&w, true, SD_TCP_ACK, c0, s0, stream, a, &ts, 201000);
	if (g->overlap)      /* a re-cut retransmission reaching past what was sent */
		ret = ret ?: seg(&w, true, SD_TCP_PSH | SD_TCP_ACK, c0 + 1000, s0, stream + 1000, len - 1000,
				 &ts, 202000);
	ret = ret ?: seg(&w, false, SD_TCP_ACK, s0, c0 + (uint32_t)len, NULL, 0, &ts, 1300);
	if (ret || !g->hrr)
		return ret;
	/* The server asks again; the client answers with CCS and a second hello. */
	hrr_record(&srv);
	ret = seg(&w, false, SD_TCP_PSH | SD_TCP_ACK, s0, c0 + (uint32_t)len, srv.data, srv.len, &ts, 1500);
	{
		static const uint8_t ccs[6] = { SD_CT_CCS, 3, 3, 0, 1, 1 };
		uint8_t *two = malloc(len + 6);
		uint32_t c1 = c0 + (uint32_t)len, s1 = s0 + (uint32_t)srv.len;

		if (!two)
			return -ENOMEM;
		memcpy(two, ccs, 6);
		memcpy(two + 6, stream, len);
		ret = ret ?: seg(&w, true, SD_TCP_ACK, c1, s1, two, 1228, &ts, 1700);
		ret = ret ?: seg(&w, true, SD_TCP_PSH | SD_TCP_ACK, c1 + 1228, s1, two + 1228, len + 6 - 1228,
				 &ts, 1750);
		free(two);
	}
	sd_buf_free(&srv);
	return ret;
}

#define ETH SD_LINKTYPE_ETHERNET
static const struct gen variants[] = {
	{ .name = "eth-vlan", .linktype = ETH, .family = 4, .vlan = true },
	{ .name = "sll", .linktype = SD_LINKTYPE_LINUX_SLL, .family = 4 },
	{ .name = "sll2", .linktype = SD_LINKTYPE_LINUX_SLL2, .family = 4 },
	{ .name = "raw4", .linktype = SD_LINKTYPE_RAW, .family = 4 },
	{ .name = "ipv6", .linktype = ETH, .family = 6 },
	{ .name = "gso-len0", .linktype = ETH, .family = 4, .gso = GSO_LEN0 },
	{ .name = "gso-long", .linktype = ETH, .family = 4, .gso = GSO_LONG },
	{ .name = "gso-v6", .linktype = SD_LINKTYPE_LINUX_SLL2, .family = 6, .gso = GSO_LEN0 },
	{ .name = "ooo", .linktype = ETH, .family = 4, .ooo = true },
	{ .name = "retrans", .linktype = ETH, .family = 4, .retrans = true, .overlap = true },
	{ .name = "hrr", .linktype = ETH, .family = 4, .hrr = true },
	{ .name = "slow", .linktype = ETH, .family = 4, .gap_us = 250000 },
	{ .name = "stalled", .linktype = ETH, .family = 4, .gap_us = 5000000 },
};

static const struct gen bad_snap = { .name = "snaplen", .linktype = ETH, .family = 4, .snapcut = true };
static const struct gen bad_missing = { .name = "missing", .linktype = ETH, .family = 4, .missing = true };
static const struct gen bad_gsosnap = { .name = "gso-snaplen", .linktype = ETH, .family = 4, .gso = GSO_LEN0,
					  .snapcut = true };
static const struct gen bad_http = { .name = "http", .linktype = ETH, .family = 4, .http = true };

static int read_all(const char *path, uint8_t **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	long n;

	*data = NULL;
	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) ||
	    !(*data = malloc((size_t)n + 1)) || fread(*data, 1, (size_t)n, f) != (size_t)n) {
		free(*data);
		*data = NULL;
		fclose(f);
		return -EIO;
	}
	fclose(f);
	*len = (size_t)n;
	return 0;
}

/* The fixture's first connection's hello records: the bytes every variant carries. */
static int fixture_stream(uint8_t **stream, size_t *len)
{
	struct sd_replay_plan p;
	uint8_t *file = NULL;
	size_t flen = 0;
	char err[256];
	int ret = read_all(FIXTURE, &file, &flen);

	if (ret < 0)
		return ret;
	ret = sd_replay_plan_build(file, flen, &p, err, sizeof(err));
	free(file);
	CHECK_INT(ret, 2);
	if (ret < 0)
		return ret;
	/* The fixture itself: two connections, 1922-byte hellos in 1228 + 703. */
	for (size_t i = 0; i < p.n; i++) {
		CHECK_INT(p.conns[i].hello_len, 1926);
		CHECK_INT(p.conns[i].first.len, 1931);
		CHECK_INT(p.conns[i].first.nseg, 2);
		CHECK_INT(p.conns[i].first.seg[0].len, 1228);
		CHECK_INT(p.conns[i].first.seg[1].len, 703);
		CHECK_INT(p.conns[i].mss, 1228);
		CHECK(!p.conns[i].hrr);
	}
	*len = p.conns[0].first.len;
	*stream = malloc(*len);
	if (*stream)
		memcpy(*stream, p.conns[0].stream, *len);
	sd_replay_plan_free(&p);
	return *stream ? 0 : -ENOMEM;
}

static int plan_of(const struct gen *g, const uint8_t *stream, size_t len, struct sd_replay_plan *p,
		   char *err, size_t errlen)
{
	struct sd_buf file = SD_BUF_INIT;
	int ret = gen_capture(g, stream, len, &file);

	CHECK_INT(ret, 0);
	ret = sd_replay_plan_build(file.data, file.len, p, err, errlen);
	sd_buf_free(&file);
	return ret;
}

static void test_variants(const uint8_t *stream, size_t len)
{
	for (size_t v = 0; v < sizeof(variants) / sizeof(variants[0]); v++) {
		const struct gen *g = &variants[v];
		struct sd_replay_plan p;
		const struct sd_replay_conn *c;
		char err[256] = "";
		int ret = plan_of(g, stream, len, &p, err, sizeof(err));

		CHECK_INT(ret, 1);
		if (ret != 1) {
			fprintf(stderr, "  variant %s: %s\n", g->name, err);
			continue;
		}
		c = &p.conns[0];
		CHECK_INT(p.incomplete, 0);
		CHECK_INT(p.flows, 1);
		CHECK_INT(c->family, g->family);
		CHECK_INT(c->cport, 52988);
		CHECK_INT(c->sport, 4433);
		CHECK_INT(c->mss, 1228);
		CHECK_INT(c->first.len, len);
		CHECK_MEM(c->stream, stream, len);
		CHECK_INT(c->hello_len, 1926);
		CHECK_INT(c->first.nseg, 2);
		CHECK_INT(c->first.seg[0].off, 0);
		CHECK_INT(c->first.seg[0].len, 1228);
		CHECK_INT(c->first.seg[1].off, 1228);
		CHECK_INT(c->first.seg[1].len, 703);
		CHECK_INT(c->first.seg[1].gap_us, g->gso || g->ooo ? 0 :
			  g->gap_us > SD_REPLAY_GAP_MAX_US ? SD_REPLAY_GAP_MAX_US : g->gap_us ? g->gap_us : 12);
		CHECK_INT(c->gaps_capped, g->gap_us > SD_REPLAY_GAP_MAX_US);
		CHECK_INT(c->gso_frames, g->gso ? 1 : 0);
		CHECK_INT(c->out_of_order, g->ooo ? 1 : 0);
		CHECK_INT(!!(c->first.seg[1].flags & SD_REPLAY_SEG_GSO), g->gso != 0);
		CHECK_INT(c->retransmissions, g->retrans ? 2 : 0);
		CHECK_INT(!!(c->first.seg[0].flags & SD_REPLAY_SEG_RETRANS), g->retrans);
		CHECK_INT(c->hrr, g->hrr);
		CHECK_INT(c->has_retry, g->hrr);
		if (g->hrr) {
			CHECK_INT(c->retry.start, len);
			CHECK_INT(c->retry.len, len + 6);
			CHECK_INT(c->retry.nseg, 2);
			CHECK_INT(c->retry.seg[0].len, 1228);
			CHECK_INT(c->retry.seg[1].len, len + 6 - 1228);
			CHECK_INT(c->retry.seg[1].gap_us, 50);
			/* the answer: HRR captured at 1500 µs, the second hello at 1700 */
			CHECK_INT(c->retry.seg[0].gap_us, 200);
			CHECK_INT(c->hello2_len, 1926);
			CHECK_INT(c->stream_len, 2 * len + 6);
		}
		{
			char sizes[64];

			sd_replay_sizes(&c->first, sizes, sizeof(sizes));
			CHECK_STR(sizes, "1228+703");
		}
		sd_replay_plan_free(&p);
	}
}

static void expect_fail(const uint8_t *file, size_t len, int want, const char *words)
{
	struct sd_replay_plan p;
	char err[256] = "";
	int ret = sd_replay_plan_build(file, len, &p, err, sizeof(err));

	CHECK_INT(ret, want);
	CHECK(strstr(err, words) != NULL);
	if (!strstr(err, words))
		fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", err, words);
	CHECK(p.conns == NULL && p.n == 0);
}

static void test_bad(const uint8_t *stream, size_t len)
{
	struct sd_buf file = SD_BUF_INIT;

	expect_fail((const uint8_t *)"", 0, -SD_EFORMAT, "empty");
	expect_fail((const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18, -SD_EFORMAT, "not a pcap");
	/* The good capture cut in the middle of its first data record. */
	CHECK_INT(gen_capture(&variants[0], stream, len, &file), 0);
	expect_fail(file.data, 24 + 3 * 16 + 66 * 3 + 300, -SD_ETRUNC, "truncated");
	expect_fail(file.data, 10, -SD_ETRUNC, "unreadable");
	sd_buf_reset(&file);
	CHECK_INT(gen_capture(&bad_http, stream, len, &file), 0);
	expect_fail(file.data, file.len, -SD_ENOHELLO, "no TLS ClientHello");
	sd_buf_reset(&file);
	CHECK_INT(gen_capture(&bad_snap, stream, len, &file), 0);
	expect_fail(file.data, file.len, -SD_ESNAPLEN, "snaplen");
	/* A super-frame's IP length cannot show the cut; the record's length does. */
	sd_buf_reset(&file);
	CHECK_INT(gen_capture(&bad_gsosnap, stream, len, &file), 0);
	expect_fail(file.data, file.len, -SD_ESNAPLEN, "cut it (snaplen)");
	sd_buf_reset(&file);
	CHECK_INT(gen_capture(&bad_missing, stream, len, &file), 0);
	expect_fail(file.data, file.len, -SD_ENOHELLO, "ends inside it");
	/* Only the handshake, no data at all. */
	sd_buf_reset(&file);
	CHECK_INT(sd_pcap_write_header(&file, SD_LINKTYPE_ETHERNET, 65535), 0);
	expect_fail(file.data, file.len, -SD_ENOHELLO, "no TCP connections");
	sd_buf_free(&file);
}

/* Two connections in one file: a whole hello is replayed, a broken one counted. */
static void test_mixed(const uint8_t *stream, size_t len)
{
	static const struct gen other = { .name = "missing-2", .linktype = ETH, .family = 4,
					  .missing = true, .cport = 40001 };
	struct sd_buf a = SD_BUF_INIT, b = SD_BUF_INIT;
	struct sd_replay_plan p;
	char err[256];

	CHECK_INT(gen_capture(&other, stream, len, &a), 0);
	CHECK_INT(gen_capture(&variants[11], stream, len, &b), 0);   /* slow */
	sd_buf_put(&a, b.data + 24, b.len - 24);                      /* its records after a's */
	CHECK_INT(sd_replay_plan_build(a.data, a.len, &p, err, sizeof(err)), 1);
	CHECK_INT(p.flows, 2);
	CHECK_INT(p.incomplete, 1);
	if (p.n == 1) {
		CHECK_INT(p.conns[0].flow, 1);
		CHECK_INT(p.conns[0].cport, 52988);
		CHECK_INT(p.conns[0].first.seg[1].gap_us, 250000);
	}
	sd_replay_plan_free(&p);
	sd_buf_free(&a);
	sd_buf_free(&b);
}

/* Writes every variant and the bad captures into dir (for the netns test). */
static int write_all(const char *dir, const uint8_t *stream, size_t len)
{
	const struct gen *all[sizeof(variants) / sizeof(variants[0]) + 4];
	size_t n = 0;

	for (size_t v = 0; v < sizeof(variants) / sizeof(variants[0]); v++)
		all[n++] = &variants[v];
	all[n++] = &bad_snap;
	all[n++] = &bad_missing;
	all[n++] = &bad_http;
	all[n++] = &bad_gsosnap;
	mkdir(dir, 0755);
	for (size_t i = 0; i < n; i++) {
		struct sd_buf file = SD_BUF_INIT;
		char path[4096];
		FILE *f;
		int ret = gen_capture(all[i], stream, len, &file);

		snprintf(path, sizeof(path), "%s/%s.pcap", dir, all[i]->name);
		if (ret < 0 || !(f = fopen(path, "wb"))) {
			sd_buf_free(&file);
			fprintf(stderr, "cannot write %s\n", path);
			return 1;
		}
		if (fwrite(file.data, 1, file.len, f) != file.len)
			ret = -EIO;
		fclose(f);
		sd_buf_free(&file);
		if (ret < 0)
			return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	uint8_t *stream = NULL;
	size_t len = 0;
	int ret = fixture_stream(&stream, &len);

	if (ret < 0) {
		fprintf(stderr, "skip: no fixture %s: %s\n", FIXTURE, sd_strerror(ret));
		return 77;
	}
	if (argc == 3 && !strcmp(argv[1], "--write")) {
		ret = write_all(argv[2], stream, len);
		free(stream);
		return ret;
	}
	test_variants(stream, len);
	test_bad(stream, len);
	test_mixed(stream, len);
	free(stream);
	return check_done();
}
