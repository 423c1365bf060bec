/* SPDX-License-Identifier: MIT */
/* The emulated middlebox inspector: behaviour items, and each behaviour against real ClientHellos cut as the engine cuts them. */
#include <errno.h>
#include <stdlib.h>

#include "check.h"
#include "shakedown/hello.h"
#include "shakedown/inspect.h"
#include "shakedown/profile.h"
#include "shakedown/record.h"
#include "shakedown/rng.h"
#include "shakedown/tls.h"

#define CHECK_HAS(s, sub) do { \
	const char *s_ = (s), *u_ = (sub); \
	if (s_ && strstr(s_, u_)) { check_passed++; } else { check_failed++; \
		fprintf(stderr, "%s:%d: \"%s\" lacks \"%s\"\n", __FILE__, __LINE__, s_ ? s_ : "(null)", u_); } \
} while (0)

#define MS 1000ull   /* microseconds */

/* Large: keep them off the stack. */
static struct sd_profile prof;
static struct sd_hello_state hst;
static struct sd_buf chrome, chrome512, classic, firefox, twopq, hrr, hrr_cookie, sh;

/* The client's TCP stream: a profile's ClientHello in records of rec
 * bytes (0: one record), from a fixed seed. */
static int flight(const char *name, const struct sd_hello_opts *o, size_t rec, struct sd_buf *out)
{
	struct sd_profile_error err;
	struct sd_buf msg = SD_BUF_INIT;
	struct sd_rng rng;
	size_t sizes[1] = { rec };
	int ret;

	if ((ret = sd_profile_builtin(name, &prof, &err)) < 0 ||
	    (ret = sd_rng_seed(&rng, "inspect")) < 0 ||
	    (ret = sd_hello_build(&prof, o, &rng, &hst, &msg)) < 0)
		goto out;
	sd_buf_reset(out);
	ret = sd_record_build(out, SD_CT_HANDSHAKE, prof.record_version, msg.data, msg.len,
			      sizes, rec ? 1 : 0);
out:
	sd_hello_state_clear(&hst);
	sd_buf_free(&msg);
	return ret;
}

/* A ServerHello (or, with the RFC 8446 §4.1.3 random, a HelloRetryRequest)
 * selecting group, with a cookie of cookie bytes (§4.2.2), in one record. */
static int server_hello(bool retry, uint16_t group, size_t cookie, struct sd_buf *out)
{
	struct sd_buf m = SD_BUF_INIT;
	uint8_t random[32];
	size_t v, x;
	int ret;

	memset(random, 0x5a, sizeof(random));
	sd_buf_u8(&m, SD_HS_SERVER_HELLO);
	v = sd_buf_vec_open(&m, 3);
	sd_buf_u16(&m, SD_TLS12);
	sd_buf_put(&m, retry ? sd_hrr_random : random, 32);
	sd_buf_u8(&m, 32);
	sd_buf_zero(&m, 32);
	sd_buf_u16(&m, 0x1301);
	sd_buf_u8(&m, 0);
	x = sd_buf_vec_open(&m, 2);
	sd_buf_put(&m, "\x00\x2b\x00\x02\x03\x04", 6);          /* supported_versions: TLS 1.3 */
	sd_buf_u16(&m, SD_EXT_KEY_SHARE);
	if (retry) {
		sd_buf_u16(&m, 2);                              /* §4.2.8: selected_group */
		sd_buf_u16(&m, group);
	} else {
		sd_buf_u16(&m, 4 + 32);
		sd_buf_u16(&m, group);
		sd_buf_u16(&m, 32);
		sd_buf_zero(&m, 32);
	}
	if (cookie) {
		sd_buf_u16(&m, SD_EXT_COOKIE);
		sd_buf_u16(&m, (uint16_t)(cookie + 2));
		sd_buf_u16(&m, (uint16_t)cookie);
		sd_buf_zero(&m, cookie);
	}
	sd_buf_vec_close(&m, x, 2);
	sd_buf_vec_close(&m, v, 3);
	if ((ret = sd_buf_error(&m)) == 0) {
		sd_buf_reset(out);
		ret = sd_record_build(out, SD_CT_HANDSHAKE, SD_TLS12, m.data, m.len, NULL, 0);
	}
	sd_buf_free(&m);
	return ret;
}

static struct sd_insp_config cfg;
static char msg[200];

/* A config from space-separated items; every item must be ours. */
static int config(const char *items)
{
	char buf[512], *save = NULL;

	memset(&cfg, 0, sizeof(cfg));
	snprintf(buf, sizeof(buf), "%s", items);
	for (char *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		int ret = sd_insp_parse(w, &cfg, msg, sizeof(msg));

		if (ret != 1) {
			fprintf(stderr, "config item %s: %d %s\n", w, ret, msg);
			return -1;
		}
	}
	return 0;
}

/* One data segment as the middlebox sees it. */
struct seg {
	int dir;
	size_t off, len;
	uint64_t t_us;
	const struct sd_buf *from;   /* NULL: the client stream given to run() */
	size_t at;                   /* seq_off when from is set */
};

struct result {
	int idx;                     /* segment that decided, -1: none */
	struct sd_insp_verdict v;    /* its verdict */
	uint64_t next;               /* sd_insp_tick after the last segment */
};

/*
 * Feeds segments through an inspector of cfg, checking on the way that a
 * decision is final (every later call repeats it, not fresh) and that
 * forwarding says nothing. tick_at, when not 0, is a tick after the last
 * segment; its verdict counts as index n.
 */
static struct result run(const struct sd_buf *stream, const struct seg *segs, size_t n, uint64_t tick_at)
{
	struct result r = { -1, { 0 }, 0 };
	struct sd_insp *s = NULL;
	struct sd_insp_verdict v;

	CHECK_INT(sd_insp_new(&cfg, &s), 0);
	if (!s)
		return r;
	for (size_t i = 0; i < n; i++) {
		const struct sd_buf *b = segs[i].from ? segs[i].from : stream;
		uint32_t seq = (uint32_t)(segs[i].from ? segs[i].at + segs[i].off : segs[i].off);

		sd_insp_segment(s, segs[i].dir, seq, b->data + segs[i].off, segs[i].len, segs[i].t_us, &v);
		if (r.idx < 0 && v.act != SD_INSP_FORWARD) {
			CHECK(v.fresh);
			r.idx = (int)i;
			r.v = v;
		} else if (r.idx >= 0) {
			CHECK(!v.fresh);
			CHECK_INT(v.act, r.v.act);
			CHECK_STR(v.why, r.v.why);
		} else {
			CHECK_INT(v.kind, -1);
			CHECK_STR(v.why, "");
		}
	}
	r.next = sd_insp_tick(s, tick_at ? tick_at : (n ? segs[n - 1].t_us : 0), &v);
	if (r.idx < 0 && v.act != SD_INSP_FORWARD) {
		CHECK(v.fresh);
		CHECK_INT(r.next, 0);
		r.idx = (int)n;
		r.v = v;
	}
	sd_insp_free(s);
	return r;
}

/* The engine's default cut: MSS-sized segments, back to back (dt apart). */
static size_t mss_cut(const struct sd_buf *b, size_t mss, uint64_t dt, struct seg *segs, size_t max)
{
	size_t n = 0;

	for (size_t off = 0; off < b->len && n < max; off += mss, n++) {
		segs[n] = (struct seg){ 0, off, b->len - off < mss ? b->len - off : mss, n * dt, NULL, 0 };
	}
	return n;
}

static struct result run_mss(const char *items, const struct sd_buf *b, size_t mss, uint64_t dt)
{
	static struct seg segs[4096];
	struct result bad = { -2, { 0 }, 0 };

	if (config(items) < 0)
		return bad;
	return run(b, segs, mss_cut(b, mss, dt, segs, 4096), 0);
}

#define CHECK_PASS(r) do { struct result r_ = (r); CHECK_INT(r_.idx, -1); \
	if (r_.idx >= 0) fprintf(stderr, "  decided: %s\n", r_.v.why); } while (0)
#define CHECK_DECIDE(r, i, a, k, w) do { struct result r_ = (r); CHECK_INT(r_.idx, (i)); \
	CHECK_INT(r_.v.act, (a)); CHECK_INT(r_.v.kind, (k)); CHECK_STR(r_.v.why, (w)); } while (0)

static void test_table(void)
{
	int n = 0;

	for (const struct sd_insp_info *b = sd_insp_behaviours; b->name; b++, n++) {
		CHECK_INT(b->kind, n);
		CHECK(b->help && b->help[0]);
		CHECK_STR(sd_insp_kind_name(n), b->name);
	}
	CHECK_INT(n, SD_INSP_KIND_MAX);
	CHECK_STR(sd_insp_kind_name(-1), "none");
	CHECK_STR(sd_insp_kind_name(SD_INSP_KIND_MAX), "?");
	CHECK_STR(sd_insp_act_name(SD_INSP_ALERT), "alert");
	CHECK_STR(sd_insp_act_name(SD_INSP_FORWARD), "forward");
	CHECK_STR(sd_insp_act_name((enum sd_insp_act)9), "?");
	CHECK_STR(sd_insp_behaviours[SD_INSP_BUFFER_LIMIT].arg, "N");
	CHECK(sd_insp_behaviours[SD_INSP_HRR_INTOLERANT].arg == NULL);
}

/* parse(format(c)) == c, item by item. */
static void round_trip(const char *items, const char *want)
{
	struct sd_insp_config a, b;
	char txt[1024], buf[1024], *save = NULL;

	CHECK_INT(config(items), 0);
	a = cfg;
	CHECK_INT(sd_insp_format(&a, txt, sizeof(txt)), (int)strlen(want));
	CHECK_STR(txt, want);
	memset(&b, 0, sizeof(b));
	snprintf(buf, sizeof(buf), "%s", txt);
	for (char *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save))
		CHECK_INT(sd_insp_parse(w, &b, msg, sizeof(msg)), 1);
	CHECK_MEM(&a, &b, sizeof(a));
}

static void test_parse(void)
{
	struct sd_insp_config c;
	char txt[64];

	memset(&c, 0, sizeof(c));
	/* Not ours: the path parser's, or nobody's. c and msg untouched. */
	snprintf(msg, sizeof(msg), "untouched");
	CHECK_INT(sd_insp_parse("mtu:1280", &c, msg, sizeof(msg)), 0);
	CHECK_INT(sd_insp_parse("icmp-filter", &c, msg, sizeof(msg)), 0);
	CHECK_INT(sd_insp_parse("delay:5", &c, msg, sizeof(msg)), 0);
	CHECK_INT(sd_insp_parse("", &c, msg, sizeof(msg)), 0);
	CHECK_INT(sd_insp_parse(":", &c, msg, sizeof(msg)), 0);
	CHECK_INT(sd_insp_parse("Buffer-Limit:1024", &c, msg, sizeof(msg)), 0);
	CHECK_INT(sd_insp_parse("buffer-limits:1024", &c, msg, sizeof(msg)), 0);
	CHECK_INT(sd_insp_parse(NULL, &c, msg, sizeof(msg)), 0);
	CHECK_STR(msg, "untouched");
	CHECK_INT(c.kinds, 0);

	/* Every item, its value. */
	CHECK_INT(sd_insp_parse("buffer-limit:1024", &c, msg, sizeof(msg)), 1);
	CHECK_INT(c.buffer_limit, 1024);
	CHECK_INT(c.kinds, 1u << SD_INSP_BUFFER_LIMIT);
	CHECK_INT(sd_insp_parse("segment-gap-break", &c, msg, sizeof(msg)), 1);
	CHECK_INT(c.gap_ms, SD_INSP_GAP_DEFAULT_MS);
	CHECK_INT(sd_insp_parse("peek-timeout:60000", &c, msg, sizeof(msg)), 1);
	CHECK_INT(c.peek_ms, 60000);
	CHECK_INT(sd_insp_parse("size-window:256-511", &c, msg, sizeof(msg)), 1);
	CHECK_INT(c.size_lo, 256);
	CHECK_INT(c.size_hi, 511);
	CHECK_INT(sd_insp_parse("reset-on:hello>1500", &c, msg, sizeof(msg)), 1);
	CHECK_INT(c.reset_on.type, SD_INSP_COND_HELLO_GT);
	CHECK_INT(c.reset_on.arg, 1500);
	CHECK_INT(sd_insp_parse("alert-on:group:X25519MLKEM768:illegal_parameter", &c, msg, sizeof(msg)), 1);
	CHECK_INT(c.alert_on.type, SD_INSP_COND_GROUP);
	CHECK_INT(c.alert_on.arg, SD_GROUP_X25519MLKEM768);
	CHECK_INT(c.alert_code, 47);
	CHECK_INT(sd_insp_format(&c, txt, sizeof(txt)), -ENOSPC);
	CHECK_INT(strlen(txt), sizeof(txt) - 1);

	/* Round trips: canonical text parses back to the same config. */
	round_trip("", "");
	round_trip("first-segment-parse partial-hello-drop first-record-in-segment unknown-group-alert "
		   "hrr-intolerant multi-share-intolerant no-reassembly-ooo record-fragmentation-blind "
		   "grease-intolerant",
		   "first-segment-parse partial-hello-drop first-record-in-segment unknown-group-alert "
		   "hrr-intolerant multi-share-intolerant no-reassembly-ooo record-fragmentation-blind "
		   "grease-intolerant");
	round_trip("alert-on:hello:40 buffer-limit:01024 segment-gap-break peek-timeout:200 size-window:0-0",
		   "buffer-limit:1024 segment-gap-break:10 peek-timeout:200 size-window:0-0 alert-on:hello:40");
	round_trip("reset-on:hello-split alert-on:records>3:decode_error",
		   "reset-on:hello-split alert-on:records>3:50");
	round_trip("reset-on:group:p-256 alert-on:group:0x11ec:0x2f",
		   "reset-on:group:secp256r1 alert-on:group:X25519MLKEM768:47");
	round_trip("reset-on:group:grease alert-on:group:0x1a1a:255",
		   "reset-on:group:GREASE alert-on:group:0x1a1a:255");
	round_trip("reset-on:group:0x1234 alert-on:hrr:40", "reset-on:group:0x1234 alert-on:hrr:40");
	round_trip("reset-on:sni:Example.COM alert-on:sni:a_b-c.d:0", "reset-on:sni:Example.COM alert-on:sni:a_b-c.d:0");
	round_trip("reset-on:hrr segment-gap-break:60000 size-window:16777215-16777215 buffer-limit:1048576",
		   "buffer-limit:1048576 segment-gap-break:60000 size-window:16777215-16777215 reset-on:hrr");
	round_trip("reset-on:hello buffer-limit:64 peek-timeout:1 segment-gap-break:1",
		   "buffer-limit:64 segment-gap-break:1 peek-timeout:1 reset-on:hello");
}

/* An error: its code, its one line, and c left as it was. */
static void bad(const char *item, int want, const char *want_msg)
{
	struct sd_insp_config c, before;

	memset(&c, 0, sizeof(c));
	CHECK_INT(sd_insp_parse("hrr-intolerant", &c, msg, sizeof(msg)), 1);
	before = c;
	msg[0] = 0;
	CHECK_INT(sd_insp_parse(item, &c, msg, sizeof(msg)), want);
	CHECK_STR(msg, want_msg);
	CHECK_MEM(&c, &before, sizeof(c));
}

static void test_parse_errors(void)
{
	struct sd_insp_config c;

	bad("buffer-limit:abc", -SD_ESYNTAX, "buffer-limit:abc: want a byte count 64..1048576");
	bad("buffer-limit:63", -SD_EVALUE, "buffer-limit:63: want a byte count 64..1048576");
	bad("buffer-limit:1048577", -SD_EVALUE, "buffer-limit:1048577: want a byte count 64..1048576");
	bad("buffer-limit:9999999999", -SD_ESYNTAX, "buffer-limit:9999999999: want a byte count 64..1048576");
	bad("buffer-limit:-5", -SD_ESYNTAX, "buffer-limit:-5: want a byte count 64..1048576");
	bad("buffer-limit:+5", -SD_ESYNTAX, "buffer-limit:+5: want a byte count 64..1048576");
	bad("buffer-limit", -SD_ESYNTAX, "buffer-limit: want a byte count 64..1048576");
	bad("buffer-limit:", -SD_ESYNTAX, "buffer-limit:: want a byte count 64..1048576");
	bad("segment-gap-break:0", -SD_EVALUE, "segment-gap-break:0: want milliseconds 1..60000");
	bad("segment-gap-break:", -SD_ESYNTAX, "segment-gap-break:: want milliseconds 1..60000");
	bad("peek-timeout", -SD_ESYNTAX, "peek-timeout: want milliseconds 1..60000");
	bad("peek-timeout:60001", -SD_EVALUE, "peek-timeout:60001: want milliseconds 1..60000");
	bad("first-segment-parse:1", -SD_ESYNTAX, "first-segment-parse:1: first-segment-parse takes no argument");
	bad("grease-intolerant:", -SD_ESYNTAX, "grease-intolerant:: grease-intolerant takes no argument");
	bad("hrr-intolerant", -SD_EDUP, "hrr-intolerant: hrr-intolerant given twice for one hop");
	bad("size-window:511-256", -SD_EVALUE, "size-window:511-256: want LO-HI with 0 <= LO <= HI <= 16777215");
	bad("size-window:256", -SD_ESYNTAX, "size-window:256: want LO-HI, handshake lengths 0..16777215");
	bad("size-window:256-", -SD_ESYNTAX, "size-window:256-: want LO-HI, handshake lengths 0..16777215");
	bad("size-window:1-16777216", -SD_EVALUE, "size-window:1-16777216: want LO-HI with 0 <= LO <= HI <= 16777215");
	bad("reset-on", -SD_ESYNTAX,
	    "reset-on: want a condition: hello, hello>N, hello-split, records>N, group:NAME, sni:HOST or hrr");
	bad("reset-on:helo", -SD_ESYNTAX,
	    "reset-on:helo: unknown condition 'helo' (hello, hello>N, hello-split, records>N, group:NAME, sni:HOST, hrr)");
	bad("reset-on:hello>", -SD_ESYNTAX, "reset-on:hello>: want a count 0..16777215 after '>'");
	bad("reset-on:records>x", -SD_ESYNTAX, "reset-on:records>x: want a count 0..16777215 after '>'");
	bad("reset-on:group:nosuch", -SD_EVALUE,
	    "reset-on:group:nosuch: unknown group 'nosuch' (names as in `shakedown list groups`, or 0x1234)");
	bad("reset-on:group:", -SD_ESYNTAX, "reset-on:group:: want group:NAME, a named group such as X25519MLKEM768");
	bad("reset-on:sni:", -SD_ESYNTAX, "reset-on:sni:: want sni:HOST, 1..253 characters");
	bad("reset-on:sni:a/b", -SD_ESYNTAX, "reset-on:sni:a/b: bad character '/' in host name");
	bad("alert-on:hello", -SD_ESYNTAX, "alert-on:hello: want alert-on:COND:CODE");
	bad("alert-on:hello:", -SD_ESYNTAX, "alert-on:hello:: want alert-on:COND:CODE");
	bad("alert-on::40", -SD_ESYNTAX, "alert-on::40: want alert-on:COND:CODE");
	bad("alert-on:hello:256", -SD_EVALUE,
	    "alert-on:hello:256: want an alert code 0..255 or a name such as illegal_parameter");
	bad("alert-on:hello:no_such_alert", -SD_EVALUE,
	    "alert-on:hello:no_such_alert: want an alert code 0..255 or a name such as illegal_parameter");
	bad("alert-on:group:nosuch:40", -SD_EVALUE,
	    "alert-on:group:nosuch:40: unknown group 'nosuch' (names as in `shakedown list groups`, or 0x1234)");
	/* Long items are echoed cut short. */
	bad("reset-on:sni:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", -SD_ESYNTAX,
	    "reset-on:sni:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...: bad character '!' in host name");

	/* sd_insp_new and sd_insp_format refuse what parse would not produce. */
	{
		struct sd_insp *s = (struct sd_insp *)&c;
		char txt[64];

		memset(&c, 0, sizeof(c));
		c.kinds = 1u << SD_INSP_BUFFER_LIMIT;
		c.buffer_limit = 10;
		CHECK_INT(sd_insp_new(&c, &s), -SD_EVALUE);
		CHECK(s == NULL);
		CHECK_INT(sd_insp_format(&c, txt, sizeof(txt)), -SD_EVALUE);
		c.kinds = 1u << SD_INSP_KIND_MAX;
		CHECK_INT(sd_insp_new(&c, &s), -SD_EVALUE);
		c.kinds = 1u << SD_INSP_RESET_ON;
		CHECK_INT(sd_insp_new(&c, &s), -SD_EVALUE);   /* no condition */
		c.reset_on.type = SD_INSP_COND_SNI;
		CHECK_INT(sd_insp_new(&c, &s), -SD_EVALUE);   /* no host */
		c.kinds = 1u << SD_INSP_SIZE_WINDOW;
		c.size_lo = 2;
		c.size_hi = 1;
		CHECK_INT(sd_insp_new(&c, &s), -SD_EVALUE);
		c.kinds = 1u << SD_INSP_PEEK_TIMEOUT;
		CHECK_INT(sd_insp_new(&c, &s), -SD_EVALUE);   /* 0 ms */
		memset(&c, 0, sizeof(c));
		CHECK_INT(sd_insp_new(&c, &s), 0);
		sd_insp_free(s);
		sd_insp_free(NULL);
	}
}

static const char *const all_hello_kinds =
	"first-segment-parse partial-hello-drop first-record-in-segment buffer-limit:1024 "
	"segment-gap-break peek-timeout:100 unknown-group-alert hrr-intolerant multi-share-intolerant "
	"size-window:256-511 no-reassembly-ooo record-fragmentation-blind grease-intolerant "
	"reset-on:hello>1500 alert-on:hello-split:40";

/* The 1931-byte Chrome hello in one record: 1460 + 471 at the MSS. */
static void test_first_segment(void)
{
	struct seg rev[2] = { { 0, 1460, 471, 0, NULL, 0 }, { 0, 0, 1460, 100, NULL, 0 } };

	CHECK_INT(chrome.len, 1931);
	CHECK_INT(classic.len, 521);
	CHECK_DECIDE(run_mss("first-segment-parse", &chrome, 1460, 100), 0, SD_INSP_RESET,
		     SD_INSP_FIRST_SEGMENT_PARSE, "ClientHello incomplete in the first segment: 1460 of 1931 bytes");
	CHECK_PASS(run_mss("first-segment-parse", &classic, 1460, 100));
	CHECK_PASS(run_mss("first-segment-parse", &chrome, 1931, 100));
	/* In 512-byte records the device cannot know the total from one record. */
	CHECK_DECIDE(run_mss("first-segment-parse", &chrome512, 1460, 100), 0, SD_INSP_RESET,
		     SD_INSP_FIRST_SEGMENT_PARSE,
		     "ClientHello incomplete in the first segment: 1460 of at least 1946 bytes");
	/* A cut inside the record header: the length is not known. */
	CHECK_DECIDE(run_mss("first-segment-parse", &chrome, 3, 100), 0, SD_INSP_RESET,
		     SD_INSP_FIRST_SEGMENT_PARSE,
		     "ClientHello incomplete in the first segment: 3 bytes, its length not yet readable");
	/* Reordered: the tail waits in the reassembly queue; the first read
	 * (when byte 0 arrives) holds all of it, as a proxy's read() would. */
	CHECK_INT(config("first-segment-parse"), 0);
	CHECK_PASS(run(&chrome, rev, 2, 0));
	/* MSS clamped to 536: four segments. */
	CHECK_DECIDE(run_mss("first-segment-parse", &classic, 300, 100), 0, SD_INSP_RESET,
		     SD_INSP_FIRST_SEGMENT_PARSE, "ClientHello incomplete in the first segment: 300 of 521 bytes");

	CHECK_DECIDE(run_mss("partial-hello-drop", &chrome, 1460, 100), 0, SD_INSP_DROP,
		     SD_INSP_PARTIAL_HELLO_DROP,
		     "first segment holds a partial ClientHello (1460 of 1931 bytes): discarded");
	CHECK_PASS(run_mss("partial-hello-drop", &classic, 1460, 100));
	CHECK_PASS(run_mss("partial-hello-drop", &firefox, 1900, 100));

	CHECK_DECIDE(run_mss("first-record-in-segment", &chrome, 1460, 100), 0, SD_INSP_RESET,
		     SD_INSP_FIRST_RECORD_IN_SEGMENT,
		     "first TLS record incomplete in the first segment: 1460 of its 1931 bytes");
	/* 512-byte records: the first is whole in the first segment. */
	CHECK_PASS(run_mss("first-record-in-segment", &chrome512, 1460, 100));
	CHECK_PASS(run_mss("first-record-in-segment", &classic, 1460, 100));
	CHECK_DECIDE(run_mss("first-record-in-segment", &chrome512, 4, 100), 0, SD_INSP_RESET,
		     SD_INSP_FIRST_RECORD_IN_SEGMENT,
		     "first segment of 4 bytes ends inside the first TLS record header");
	CHECK_DECIDE(run_mss("first-record-in-segment", &chrome512, 500, 100), 0, SD_INSP_RESET,
		     SD_INSP_FIRST_RECORD_IN_SEGMENT,
		     "first TLS record incomplete in the first segment: 500 of its 517 bytes");
}

static void test_buffer_limit(void)
{
	CHECK_DECIDE(run_mss("buffer-limit:1024", &chrome, 1460, 100), 0, SD_INSP_RESET, SD_INSP_BUFFER_LIMIT,
		     "ClientHello of 1931 bytes (records included) does not fit the 1024-byte inspection buffer");
	CHECK_PASS(run_mss("buffer-limit:1024", &classic, 1460, 100));
	CHECK_PASS(run_mss("buffer-limit:16384", &chrome, 1460, 100));
	CHECK_PASS(run_mss("buffer-limit:8192", &firefox, 1460, 100));
	/* N counts the record header: 1931, not the 1926-byte message. */
	CHECK_PASS(run_mss("buffer-limit:1931", &chrome, 1460, 100));
	CHECK_DECIDE(run_mss("buffer-limit:1930", &chrome, 1460, 100), 0, SD_INSP_RESET, SD_INSP_BUFFER_LIMIT,
		     "ClientHello of 1931 bytes (records included) does not fit the 1930-byte inspection buffer");
	CHECK_DECIDE(run_mss("buffer-limit:1926", &chrome, 536, 100), 0, SD_INSP_RESET, SD_INSP_BUFFER_LIMIT,
		     "ClientHello of 1931 bytes (records included) does not fit the 1926-byte inspection buffer");
	/* Four records: 1946 stream bytes; known only as "at least" at first. */
	CHECK_PASS(run_mss("buffer-limit:1946", &chrome512, 1460, 100));
	CHECK_DECIDE(run_mss("buffer-limit:1945", &chrome512, 1460, 100), 0, SD_INSP_RESET,
		     SD_INSP_BUFFER_LIMIT,
		     "ClientHello of at least 1946 bytes (records included) does not fit the 1945-byte inspection buffer");
	/* A length not yet readable, and the buffer already full. */
	CHECK_DECIDE(run_mss("buffer-limit:64", &chrome, 64, 100), 0, SD_INSP_RESET, SD_INSP_BUFFER_LIMIT,
		     "ClientHello of 1931 bytes (records included) does not fit the 64-byte inspection buffer");
	CHECK_DECIDE(run_mss("buffer-limit:64", &classic, 2, 100), 2, SD_INSP_RESET, SD_INSP_BUFFER_LIMIT,
		     "ClientHello of at least 521 bytes (records included) does not fit the 64-byte inspection buffer");
	CHECK_DECIDE(run_mss("buffer-limit:1024", &chrome, 1024, 100), 0, SD_INSP_RESET, SD_INSP_BUFFER_LIMIT,
		     "ClientHello of 1931 bytes (records included) does not fit the 1024-byte inspection buffer");
}

static void test_timers(void)
{
	struct seg segs[2] = { { 0, 0, 1460, 1000, NULL, 0 }, { 0, 1460, 471, 26000, NULL, 0 } };
	struct result r;

	/* Back to back: passes. 25 ms apart: the tunnel closes. */
	CHECK_PASS(run_mss("segment-gap-break", &chrome, 1460, 100));
	CHECK_PASS(run_mss("segment-gap-break:30", &chrome, 1460, 25 * MS));
	CHECK_DECIDE(run_mss("segment-gap-break", &chrome, 1460, 25 * MS), 1, SD_INSP_CLOSE,
		     SD_INSP_SEGMENT_GAP_BREAK,
		     "ClientHello not in one burst: 25.0 ms without data (limit 10 ms) after 1460 of 1931 bytes");
	CHECK_PASS(run_mss("segment-gap-break", &classic, 1460, 25 * MS));
	/* Exactly the limit is no gap "more than" it. */
	CHECK_PASS(run_mss("segment-gap-break", &chrome, 1460, 10 * MS));
	/* Ticks: after the first segment the device waits 10 ms, then closes. */
	CHECK_INT(config("segment-gap-break"), 0);
	r = run(&chrome, segs, 1, 5 * MS);
	CHECK_INT(r.idx, -1);
	CHECK_INT(r.next, 1000 + 10 * MS + 1);
	r = run(&chrome, segs, 1, 11001);
	CHECK_DECIDE(r, 1, SD_INSP_CLOSE, SD_INSP_SEGMENT_GAP_BREAK,
		     "ClientHello not in one burst: more than 10 ms without data after 1460 of 1931 bytes");
	/* Once the hello is whole, no timer runs. */
	r = run(&chrome, segs, 2, 100 * MS);
	CHECK_DECIDE(r, 1, SD_INSP_CLOSE, SD_INSP_SEGMENT_GAP_BREAK,
		     "ClientHello not in one burst: 25.0 ms without data (limit 10 ms) after 1460 of 1931 bytes");
	segs[1].t_us = 2000;
	r = run(&chrome, segs, 2, 100 * MS);
	CHECK_INT(r.idx, -1);
	CHECK_INT(r.next, 0);

	CHECK_PASS(run_mss("peek-timeout:100", &chrome, 1460, 99 * MS));
	CHECK_DECIDE(run_mss("peek-timeout:100", &chrome, 1460, 100 * MS), 1, SD_INSP_RESET, SD_INSP_PEEK_TIMEOUT,
		     "ClientHello incomplete 100 ms after its first byte (peek timeout): 1460 of 1931 bytes");
	CHECK_PASS(run_mss("peek-timeout:1", &classic, 1460, 100 * MS));
	CHECK_INT(config("peek-timeout:200"), 0);
	segs[1].t_us = 26000;
	r = run(&chrome, segs, 1, 0);
	CHECK_INT(r.next, 1000 + 200 * MS);
	r = run(&chrome, segs, 1, 1000 + 200 * MS);
	CHECK_DECIDE(r, 1, SD_INSP_RESET, SD_INSP_PEEK_TIMEOUT,
		     "ClientHello incomplete 200 ms after its first byte (peek timeout): 1460 of 1931 bytes");
	/* Both: the earlier deadline decides; the tick asks again at it. */
	CHECK_INT(config("segment-gap-break:50 peek-timeout:20"), 0);
	r = run(&chrome, segs, 1, 2000);
	CHECK_INT(r.next, 1000 + 20 * MS);
	r = run(&chrome, segs, 1, 60 * MS);
	CHECK_INT(r.v.kind, SD_INSP_PEEK_TIMEOUT);
	CHECK_INT(config("segment-gap-break:5 peek-timeout:20"), 0);
	r = run(&chrome, segs, 1, 60 * MS);
	CHECK_INT(r.v.kind, SD_INSP_SEGMENT_GAP_BREAK);
	/* A clock that runs backwards is no time passing. */
	segs[1].t_us = 0;
	CHECK_PASS(run(&chrome, segs, 2, 0));
}

static void test_fields(void)
{
	struct result r;

	CHECK_DECIDE(run_mss("unknown-group-alert", &chrome, 1460, 100), 1, SD_INSP_ALERT, SD_INSP_UNKNOWN_GROUP_ALERT,
		     "key_share carries X25519MLKEM768 (0x11ec), unknown to this device");
	r = run_mss("unknown-group-alert", &chrome, 1460, 100);
	CHECK_INT(r.v.alert_desc, 47);
	CHECK_PASS(run_mss("unknown-group-alert", &classic, 1460, 100));
	CHECK_DECIDE(run_mss("unknown-group-alert", &firefox, 1460, 100), 1, SD_INSP_ALERT,
		     SD_INSP_UNKNOWN_GROUP_ALERT, "key_share carries X25519MLKEM768 (0x11ec), unknown to this device");
	/* Same in 512-byte records, decided when the last one is in. */
	CHECK_DECIDE(run_mss("unknown-group-alert", &chrome512, 1460, 100), 1, SD_INSP_ALERT,
		     SD_INSP_UNKNOWN_GROUP_ALERT, "key_share carries X25519MLKEM768 (0x11ec), unknown to this device");

	CHECK_PASS(run_mss("multi-share-intolerant", &chrome, 1460, 100));
	CHECK_PASS(run_mss("multi-share-intolerant", &firefox, 1460, 100));
	CHECK_PASS(run_mss("multi-share-intolerant", &classic, 1460, 100));
	r = run_mss("multi-share-intolerant", &twopq, 1460, 100);
	CHECK_DECIDE(r, 2, SD_INSP_ALERT, SD_INSP_MULTI_SHARE_INTOLERANT,
		     "key_share carries 2 hybrid/post-quantum shares (X25519MLKEM768, SecP256r1MLKEM768)");
	CHECK_INT(r.v.alert_desc, 40);

	r = run_mss("grease-intolerant", &chrome, 1460, 100);
	CHECK_INT(r.idx, 1);
	CHECK_INT(r.v.act, SD_INSP_CLOSE);
	CHECK_INT(r.v.kind, SD_INSP_GREASE_INTOLERANT);
	CHECK_HAS(r.v.why, "GREASE 0x");
	CHECK_HAS(r.v.why, " in supported_versions");
	/* Chrome before ML-KEM sent GREASE as well; Firefox never did. */
	r = run_mss("grease-intolerant", &classic, 1460, 100);
	CHECK_INT(r.idx, 0);
	CHECK_INT(r.v.kind, SD_INSP_GREASE_INTOLERANT);
	CHECK_PASS(run_mss("grease-intolerant", &firefox, 1460, 100));

	/* F5's window: classic's 508 bytes are padded to 512 (BoringSSL). */
	CHECK_PASS(run_mss("size-window:256-511", &classic, 1460, 100));
	CHECK_PASS(run_mss("size-window:256-511", &chrome, 1460, 100));
	CHECK_DECIDE(run_mss("size-window:1900-2000", &chrome, 1460, 100), 0, SD_INSP_DROP, SD_INSP_SIZE_WINDOW,
		     "ClientHello handshake length 1922 is within 1900-2000");
	CHECK_DECIDE(run_mss("size-window:512-512", &classic, 1460, 100), 0, SD_INSP_DROP, SD_INSP_SIZE_WINDOW,
		     "ClientHello handshake length 512 is within 512-512");
	/* Decided as soon as the handshake header is in: byte 9. */
	CHECK_DECIDE(run_mss("size-window:1922-1922", &chrome, 9, 100), 0, SD_INSP_DROP, SD_INSP_SIZE_WINDOW,
		     "ClientHello handshake length 1922 is within 1922-1922");
	CHECK_DECIDE(run_mss("size-window:1922-1922", &chrome, 8, 100), 1, SD_INSP_DROP, SD_INSP_SIZE_WINDOW,
		     "ClientHello handshake length 1922 is within 1922-1922");

	CHECK_DECIDE(run_mss("record-fragmentation-blind", &chrome512, 1460, 100), 0, SD_INSP_DROP,
		     SD_INSP_RECORD_FRAG_BLIND, "ClientHello of 1926 bytes spans several TLS records (the first carries 512)");
	CHECK_PASS(run_mss("record-fragmentation-blind", &chrome, 1460, 100));
	CHECK_PASS(run_mss("record-fragmentation-blind", &classic, 1460, 100));
}

static void test_ooo(void)
{
	struct seg swap[2] = { { 0, 1460, 471, 0, NULL, 0 }, { 0, 0, 1460, 100, NULL, 0 } };
	struct seg hole[3] = { { 0, 0, 1000, 0, NULL, 0 }, { 0, 1460, 471, 100, NULL, 0 },
			       { 0, 1000, 460, 200, NULL, 0 } };
	struct seg dup[4] = { { 0, 0, 1460, 0, NULL, 0 }, { 0, 0, 1460, 100, NULL, 0 },
			      { 0, 0, 1000, 150, NULL, 0 }, { 0, 1000, 931, 200, NULL, 0 } };

	CHECK_INT(config("no-reassembly-ooo"), 0);
	CHECK_DECIDE(run(&chrome, swap, 2, 0), 0, SD_INSP_DROP, SD_INSP_NO_REASSEMBLY_OOO,
		     "ClientHello segment out of order: stream byte 1460 arrived while byte 0 was expected");
	CHECK_DECIDE(run(&chrome, hole, 3, 0), 1, SD_INSP_DROP, SD_INSP_NO_REASSEMBLY_OOO,
		     "ClientHello segment out of order: stream byte 1460 arrived while byte 1000 was expected");
	CHECK_PASS(run(&chrome, dup, 4, 0));
	CHECK_PASS(run_mss("no-reassembly-ooo", &chrome, 1460, 100));
	CHECK_PASS(run_mss("no-reassembly-ooo", &classic, 1460, 100));

	/* Reassembly out of order and through retransmissions, for the rest. */
	CHECK_INT(config("unknown-group-alert"), 0);
	CHECK_DECIDE(run(&chrome, swap, 2, 0), 1, SD_INSP_ALERT, SD_INSP_UNKNOWN_GROUP_ALERT,
		     "key_share carries X25519MLKEM768 (0x11ec), unknown to this device");
	CHECK_DECIDE(run(&chrome, hole, 3, 0), 2, SD_INSP_ALERT, SD_INSP_UNKNOWN_GROUP_ALERT,
		     "key_share carries X25519MLKEM768 (0x11ec), unknown to this device");
	CHECK_DECIDE(run(&chrome, dup, 4, 0), 3, SD_INSP_ALERT, SD_INSP_UNKNOWN_GROUP_ALERT,
		     "key_share carries X25519MLKEM768 (0x11ec), unknown to this device");
	/* hello-split counts segments that brought new bytes. */
	CHECK_INT(config("reset-on:hello-split"), 0);
	CHECK_DECIDE(run(&chrome, dup, 4, 0), 3, SD_INSP_RESET, SD_INSP_RESET_ON,
		     "reset-on matched: ClientHello came in 2 segments");
}

static void test_hrr(void)
{
	struct seg segs[5] = {
		{ 0, 0, 1460, 0, NULL, 0 },
		{ 0, 1460, 471, 100, NULL, 0 },
		{ 1, 0, 0, 1000, &hrr, 0 },            /* len set below */
		{ 0, 1460, 471, 1100, NULL, 0 },       /* a retransmission: not the retry */
		{ 0, 0, 100, 2000, &chrome, 1931 },    /* the retry's first bytes */
	};
	struct result r;

	segs[2].len = hrr.len;
	CHECK_INT(config("hrr-intolerant"), 0);
	r = run(&chrome, segs, 5, 0);
	CHECK_DECIDE(r, 4, SD_INSP_RESET, SD_INSP_HRR_INTOLERANT,
		     "server sent a HelloRetryRequest selecting X25519MLKEM768 (0x11ec); the client's retry is refused");
	/* The HelloRetryRequest cut in two records' worth of segments. */
	{
		struct seg cut[6] = { segs[0], segs[1], { 1, 0, 20, 900, &hrr, 0 },
				      { 1, 20, 0, 1000, &hrr, 0 }, segs[3], segs[4] };

		cut[3].len = hrr.len - 20;
		CHECK_DECIDE(run(&chrome, cut, 6, 0), 5, SD_INSP_RESET, SD_INSP_HRR_INTOLERANT,
			     "server sent a HelloRetryRequest selecting X25519MLKEM768 (0x11ec); the client's retry is refused");
	}
	/* An HRR too long to read whole (a 2000-byte cookie): the group goes unnamed. */
	segs[2].from = &hrr_cookie;
	segs[2].len = hrr_cookie.len;
	CHECK_DECIDE(run(&chrome, segs, 5, 0), 4, SD_INSP_RESET, SD_INSP_HRR_INTOLERANT,
		     "server sent a HelloRetryRequest; the client's retry is refused");
	/* A plain ServerHello: the handshake goes on. */
	segs[2].from = &sh;
	segs[2].len = sh.len;
	CHECK_PASS(run(&chrome, segs, 5, 0));
	segs[2].from = &hrr;
	segs[2].len = hrr.len;
	/* Without the behaviour nobody watches. */
	CHECK_INT(config("multi-share-intolerant"), 0);
	CHECK_PASS(run(&chrome, segs, 5, 0));
	CHECK_INT(config("reset-on:hrr"), 0);
	CHECK_DECIDE(run(&chrome, segs, 5, 0), 4, SD_INSP_RESET, SD_INSP_RESET_ON,
		     "reset-on matched: the client answered a HelloRetryRequest selecting X25519MLKEM768 (0x11ec)");
	CHECK_INT(config("alert-on:hrr:handshake_failure"), 0);
	r = run(&chrome, segs, 5, 0);
	CHECK_DECIDE(r, 4, SD_INSP_ALERT, SD_INSP_ALERT_ON,
		     "alert-on matched: the client answered a HelloRetryRequest selecting X25519MLKEM768 (0x11ec)");
	CHECK_INT(r.v.alert_desc, 40);
	/* hrr-intolerant with the hello checks: classic passes them all, then the retry dies. */
	CHECK_INT(config("hrr-intolerant first-segment-parse buffer-limit:1024"), 0);
	{
		struct seg c[3] = { { 0, 0, 521, 0, NULL, 0 }, { 1, 0, 0, 1000, &hrr, 0 },
				    { 0, 0, 6, 2000, &classic, 521 } };

		c[1].len = hrr.len;
		CHECK_DECIDE(run(&classic, c, 3, 0), 2, SD_INSP_RESET, SD_INSP_HRR_INTOLERANT,
			     "server sent a HelloRetryRequest selecting X25519MLKEM768 (0x11ec); the client's retry is refused");
	}
}

static void test_conditions(void)
{
	struct sd_hello_opts o = { 0 };
	struct sd_buf named = SD_BUF_INIT;
	struct result r;

	CHECK_DECIDE(run_mss("reset-on:hello", &classic, 1460, 100), 0, SD_INSP_RESET, SD_INSP_RESET_ON,
		     "reset-on matched: a ClientHello of 516 bytes");
	CHECK_DECIDE(run_mss("reset-on:hello>1500", &chrome, 1460, 100), 1, SD_INSP_RESET, SD_INSP_RESET_ON,
		     "reset-on matched: ClientHello of 1926 bytes, more than 1500");
	CHECK_PASS(run_mss("reset-on:hello>1500", &classic, 1460, 100));
	CHECK_PASS(run_mss("reset-on:hello>1926", &chrome, 1460, 100));
	CHECK_DECIDE(run_mss("reset-on:hello-split", &chrome, 1460, 100), 1, SD_INSP_RESET, SD_INSP_RESET_ON,
		     "reset-on matched: ClientHello came in 2 segments");
	CHECK_PASS(run_mss("reset-on:hello-split", &classic, 1460, 100));
	CHECK_DECIDE(run_mss("reset-on:records>1", &chrome512, 1460, 100), 1, SD_INSP_RESET, SD_INSP_RESET_ON,
		     "reset-on matched: ClientHello spans 4 TLS records, more than 1");
	CHECK_PASS(run_mss("reset-on:records>1", &chrome, 1460, 100));
	CHECK_DECIDE(run_mss("reset-on:group:X25519MLKEM768", &chrome, 1460, 100), 1, SD_INSP_RESET,
		     SD_INSP_RESET_ON, "reset-on matched: key_share carries X25519MLKEM768 (0x11ec)");
	CHECK_PASS(run_mss("reset-on:group:X25519MLKEM768", &classic, 1460, 100));
	r = run_mss("reset-on:group:GREASE", &classic, 1460, 100);
	CHECK_INT(r.idx, 0);
	CHECK_HAS(r.v.why, "reset-on matched: key_share carries GREASE 0x");
	CHECK_PASS(run_mss("reset-on:group:GREASE", &firefox, 1460, 100));
	r = run_mss("alert-on:group:x25519:illegal_parameter", &chrome, 1460, 100);
	CHECK_DECIDE(r, 1, SD_INSP_ALERT, SD_INSP_ALERT_ON, "alert-on matched: key_share carries x25519 (0x001d)");
	CHECK_INT(r.v.alert_desc, 47);
	r = run_mss("alert-on:hello:0", &classic, 1460, 100);
	CHECK_INT(r.v.act, SD_INSP_ALERT);
	CHECK_INT(r.v.alert_desc, 0);

	o.sni = "www.Example.com";
	CHECK_INT(flight("classic", &o, 0, &named), 0);
	CHECK_DECIDE(run_mss("reset-on:sni:www.example.COM", &named, 1460, 100), 0, SD_INSP_RESET, SD_INSP_RESET_ON,
		     "reset-on matched: server_name is www.example.COM");
	CHECK_PASS(run_mss("reset-on:sni:example.com", &named, 1460, 100));
	CHECK_PASS(run_mss("reset-on:sni:www.example.com", &classic, 1460, 100));
	sd_buf_free(&named);

	/* Both: reset-on comes first in kind order. */
	CHECK_INT(run_mss("reset-on:hello alert-on:hello:40", &classic, 1460, 100).v.kind, SD_INSP_RESET_ON);
}

/* Several behaviours on one hop: the first in kind order decides. */
static void test_order(void)
{
	struct result r;

	CHECK_INT(run_mss("buffer-limit:1024 first-segment-parse", &chrome, 1460, 100).v.kind,
		  SD_INSP_FIRST_SEGMENT_PARSE);
	CHECK_INT(run_mss("grease-intolerant unknown-group-alert", &chrome, 1460, 100).v.kind,
		  SD_INSP_UNKNOWN_GROUP_ALERT);
	CHECK_INT(run_mss("record-fragmentation-blind size-window:0-5000", &chrome512, 1460, 100).v.kind,
		  SD_INSP_SIZE_WINDOW);
	CHECK_INT(run_mss("record-fragmentation-blind first-record-in-segment", &chrome512, 1460, 100).v.kind,
		  SD_INSP_RECORD_FRAG_BLIND);
	/* A timer that ran out before a segment came decides first. */
	CHECK_INT(run_mss("unknown-group-alert peek-timeout:10", &chrome, 1460, 20 * MS).v.kind,
		  SD_INSP_PEEK_TIMEOUT);
	/* Every hello behaviour at once: classic trips only GREASE. */
	r = run_mss(all_hello_kinds, &classic, 1460, 100);
	CHECK_INT(r.idx, 0);
	CHECK_INT(r.v.kind, SD_INSP_GREASE_INTOLERANT);
	r = run_mss(all_hello_kinds, &chrome, 1460, 100);
	CHECK_INT(r.v.kind, SD_INSP_FIRST_SEGMENT_PARSE);
}

/* Bytes that are not a ClientHello: the device cannot parse them and forwards. */
static void test_not_tls(void)
{
	static const char http[] = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
	static const uint8_t alert[] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28 };
	static const uint8_t sslv2[] = { 0x80, 0x2e, 0x01, 0x00, 0x02 };
	static const uint8_t empty_rec[] = { 0x16, 0x03, 0x01, 0x00, 0x00, 0x16 };
	static const uint8_t big_rec[] = { 0x16, 0x03, 0x01, 0x40, 0x01, 0x01 };
	static const uint8_t sh_first[] = { 0x16, 0x03, 0x01, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00 };
	static const uint8_t v4[] = { 0x16, 0x04 };
	const char *most = "first-segment-parse partial-hello-drop first-record-in-segment buffer-limit:64 "
			   "unknown-group-alert size-window:0-100000 record-fragmentation-blind "
			   "grease-intolerant reset-on:hello";
	struct { const void *p; size_t len; } cases[] = {
		{ http, sizeof(http) - 1 }, { alert, sizeof(alert) }, { sslv2, sizeof(sslv2) },
		{ empty_rec, sizeof(empty_rec) }, { big_rec, sizeof(big_rec) }, { sh_first, sizeof(sh_first) },
		{ v4, sizeof(v4) },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sd_buf b = SD_BUF_INIT;
		struct seg s[2] = { { 0, 0, cases[i].len, 0, NULL, 0 }, { 0, 0, 0, 50 * MS, NULL, 0 } };

		sd_buf_put(&b, cases[i].p, cases[i].len);
		CHECK_INT(config(most), 0);
		CHECK_PASS(run(&b, s, 1, 0));
		/* Timers stop too: it is not a hello being awaited. */
		CHECK_INT(config("segment-gap-break peek-timeout:5"), 0);
		s[1].off = 0;
		s[1].len = cases[i].len;
		CHECK_PASS(run(&b, s, 2, 100 * MS));
		sd_buf_free(&b);
	}
	/* An alert after the first record of a split hello: no hello to
	 * wait for; but its length was seen, in one segment or two. */
	{
		struct sd_buf b = SD_BUF_INIT;

		sd_buf_put(&b, chrome512.data, 517);
		sd_buf_put(&b, alert, sizeof(alert));
		CHECK_PASS(run_mss("reset-on:hello peek-timeout:1", &b, 517, 0));
		CHECK_PASS(run_mss("reset-on:hello peek-timeout:1", &b, 1460, 0));
		CHECK_DECIDE(run_mss("record-fragmentation-blind", &b, 1460, 0), 0, SD_INSP_DROP,
			     SD_INSP_RECORD_FRAG_BLIND,
			     "ClientHello of 1926 bytes spans several TLS records (the first carries 512)");
		CHECK_DECIDE(run_mss("record-fragmentation-blind", &b, 517, 0), 0, SD_INSP_DROP,
			     SD_INSP_RECORD_FRAG_BLIND,
			     "ClientHello of 1926 bytes spans several TLS records (the first carries 512)");
		sd_buf_free(&b);
	}
}

/* Odd but legal cuts: one-byte records and segments, data before the
 * stream's start, empty and unknown-direction segments. */
static void test_edges(void)
{
	struct sd_buf tiny = SD_BUF_INIT;
	struct sd_insp *s = NULL;
	struct sd_insp_verdict v;
	uint8_t junk[64];
	struct result r;

	CHECK_INT(flight("classic", NULL, 1, &tiny), 0);
	CHECK_INT(tiny.len, 516 * 6);
	r = run_mss("reset-on:records>515", &tiny, 1460, 100);
	CHECK_DECIDE(r, 2, SD_INSP_RESET, SD_INSP_RESET_ON,
		     "reset-on matched: ClientHello spans 516 TLS records, more than 515");
	CHECK_PASS(run_mss("reset-on:records>516", &tiny, 1, 0));
	CHECK_DECIDE(run_mss("record-fragmentation-blind", &tiny, 1460, 100), 0, SD_INSP_DROP,
		     SD_INSP_RECORD_FRAG_BLIND, "ClientHello of 516 bytes spans several TLS records (the first carries 1)");
	CHECK_DECIDE(run_mss("record-fragmentation-blind", &tiny, 6, 100), 0, SD_INSP_DROP,
		     SD_INSP_RECORD_FRAG_BLIND, "ClientHello spans several TLS records (the first carries 1 bytes)");
	CHECK_DECIDE(run_mss("buffer-limit:3000", &tiny, 100, 100), 29, SD_INSP_RESET, SD_INSP_BUFFER_LIMIT,
		     "ClientHello of at least 3021 bytes (records included) does not fit the 3000-byte inspection buffer");
	CHECK_PASS(run_mss("buffer-limit:3096 unknown-group-alert", &tiny, 7, 0));
	sd_buf_free(&tiny);

	memset(junk, 0xee, sizeof(junk));
	CHECK_INT(config("unknown-group-alert hrr-intolerant no-reassembly-ooo"), 0);
	CHECK_INT(sd_insp_new(&cfg, &s), 0);
	/* A keep-alive probe: one byte before the start. */
	sd_insp_segment(s, 0, 0xffffffffu, junk, 1, 0, &v);
	CHECK_INT(v.act, SD_INSP_FORWARD);
	sd_insp_segment(s, 0, 0xfffffff0u, chrome.data, 16, 0, &v);   /* ends at byte 0 */
	CHECK_INT(v.act, SD_INSP_FORWARD);
	sd_insp_segment(s, 0, 0, chrome.data, 0, 0, &v);
	sd_insp_segment(s, 0, 0, NULL, 5, 0, &v);
	sd_insp_segment(s, 2, 0, junk, 64, 0, &v);
	sd_insp_segment(s, -1, 0, junk, 64, 0, &v);
	CHECK_INT(v.act, SD_INSP_FORWARD);
	/* Reaching back before the start with the first bytes of the hello. */
	sd_insp_segment(s, 0, 0xfffffffeu, junk, 2, 0, &v);
	sd_insp_segment(s, 0, 0, chrome.data, 1000, 0, &v);
	CHECK_INT(v.act, SD_INSP_FORWARD);
	/* Server bytes while the hello is awaited: not a ServerHello yet. */
	sd_insp_segment(s, 1, 0, junk, 3, 0, &v);
	CHECK_INT(v.act, SD_INSP_FORWARD);
	sd_insp_segment(s, 0, 1000, chrome.data + 1000, chrome.len - 1000, 0, &v);
	CHECK_INT(v.act, SD_INSP_ALERT);
	CHECK(v.fresh);
	/* Final: later calls and ticks repeat it. */
	CHECK_INT(sd_insp_tick(s, 1000 * MS, &v), 0);
	CHECK_INT(v.act, SD_INSP_ALERT);
	CHECK(!v.fresh);
	sd_insp_segment(s, 1, 0, junk, 10, 0, &v);
	CHECK_INT(v.act, SD_INSP_ALERT);
	CHECK(!v.fresh);
	CHECK_INT(v.alert_desc, 47);
	sd_insp_free(s);

	/* No behaviours: nothing is kept, everything forwarded, no timers. */
	memset(&cfg, 0, sizeof(cfg));
	r = run_mss("", &chrome, 100, 100 * MS);
	CHECK_INT(r.idx, -1);
	CHECK_INT(r.next, 0);
	/* Huge times do not wrap. */
	CHECK_INT(config("segment-gap-break:60000 peek-timeout:60000"), 0);
	{
		struct seg late[1] = { { 0, 0, 100, UINT64_MAX - 5, NULL, 0 } };

		r = run(&chrome, late, 1, UINT64_MAX - 4);
		CHECK_INT(r.idx, -1);
		CHECK_INT(r.next, UINT64_MAX);
	}
}

int main(void)
{
	struct sd_hello_opts two = { 0 };
	struct sd_u16list shares = { { SD_GROUP_X25519MLKEM768, SD_GROUP_SECP256R1MLKEM768, SD_GROUP_X25519 }, 3 };

	two.shares = &shares;
	if (flight("chrome-pq", NULL, 0, &chrome) < 0 || flight("chrome-pq", NULL, 512, &chrome512) < 0 ||
	    flight("classic", NULL, 0, &classic) < 0 || flight("firefox-pq", NULL, 0, &firefox) < 0 ||
	    flight("chrome-pq", &two, 0, &twopq) < 0 ||
	    server_hello(true, SD_GROUP_X25519MLKEM768, 0, &hrr) < 0 ||
	    server_hello(true, SD_GROUP_X25519MLKEM768, 2000, &hrr_cookie) < 0 ||
	    server_hello(false, SD_GROUP_X25519, 0, &sh) < 0) {
		fprintf(stderr, "cannot build the test flights\n");
		return 1;
	}
	test_table();
	test_parse();
	test_parse_errors();
	test_first_segment();
	test_buffer_limit();
	test_timers();
	test_fields();
	test_ooo();
	test_hrr();
	test_conditions();
	test_order();
	test_not_tls();
	test_edges();
	sd_buf_free(&chrome);
	sd_buf_free(&chrome512);
	sd_buf_free(&classic);
	sd_buf_free(&firefox);
	sd_buf_free(&twopq);
	sd_buf_free(&hrr);
	sd_buf_free(&hrr_cookie);
	sd_buf_free(&sh);
	return check_done();
}
