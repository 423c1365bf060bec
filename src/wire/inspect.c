/* SPDX-License-Identifier: MIT */
/* Emulated middlebox ClientHello inspection: behaviour items, per-flow reassembly and decisions. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shakedown/cursor.h"
#include "shakedown/hello.h"
#include "shakedown/inspect.h"
#include "shakedown/record.h"
#include "shakedown/tls.h"
#include "shakedown/report.h"

#define BIT(k) (1u << (k))
#define ALL_KINDS (BIT(SD_INSP_KIND_MAX) - 1)
/* Longest item echoed back in an error message. */
#define ITEM_ECHO 48
/* A ServerHello's first bytes that tell a HelloRetryRequest (RFC 8446
 * §4.1.3): type, length, legacy_version, random. */
#define SH_RANDOM_END (4 + 2 + 32)
/* Most HelloRetryRequest bytes read to name its selected group. */
#define SRV_MSG_MAX 1024
/* group:GREASE, any GREASE value (RFC 8701). */
#define GREASE_ANY 0x0a0a

const struct sd_insp_info sd_insp_behaviours[] = {
	{ SD_INSP_FIRST_SEGMENT_PARSE, "first-segment-parse", NULL,
	  "reset unless the first segment holds the whole ClientHello (ingress-nginx, Traefik, Zscaler)" },
	{ SD_INSP_PARTIAL_HELLO_DROP, "partial-hello-drop", NULL,
	  "drop the flow when the first segment holds a partial ClientHello (PAN-OS)" },
	{ SD_INSP_FIRST_RECORD_IN_SEGMENT, "first-record-in-segment", NULL,
	  "reset unless the first segment holds the first TLS record whole" },
	{ SD_INSP_BUFFER_LIMIT, "buffer-limit", "N",
	  "reset when the ClientHello needs more than N stream bytes, record headers included, 64..1048576 (sslsplit 1024, Envoy 16384)" },
	{ SD_INSP_SEGMENT_GAP_BREAK, "segment-gap-break", "[MS]",
	  "close when the ClientHello's segments are more than MS apart, 1..60000, default 10 (ATS blind tunnel)" },
	{ SD_INSP_PEEK_TIMEOUT, "peek-timeout", "MS",
	  "reset when the ClientHello is not complete MS after its first byte, 1..60000 (HAProxy req.ssl_sni, Envoy tls_inspector)" },
	{ SD_INSP_UNKNOWN_GROUP_ALERT, "unknown-group-alert", NULL,
	  "alert 47 on a key_share group other than x25519, x448, P-256/384/521, ffdhe, GREASE (FortiGate IPS)" },
	{ SD_INSP_HRR_INTOLERANT, "hrr-intolerant", NULL,
	  "pass a HelloRetryRequest, then reset the client's retry" },
	{ SD_INSP_MULTI_SHARE_INTOLERANT, "multi-share-intolerant", NULL,
	  "alert 40 on more than one hybrid/post-quantum key share (wolfSSL)" },
	{ SD_INSP_SIZE_WINDOW, "size-window", "LO-HI",
	  "drop ClientHellos whose handshake length (header excluded) is in LO..HI (F5: 256-511)" },
	{ SD_INSP_NO_REASSEMBLY_OOO, "no-reassembly-ooo", NULL,
	  "drop when a ClientHello segment arrives out of order (nDPI)" },
	{ SD_INSP_RECORD_FRAG_BLIND, "record-fragmentation-blind", NULL,
	  "drop a ClientHello spread over several TLS records (nDPI)" },
	{ SD_INSP_GREASE_INTOLERANT, "grease-intolerant", NULL,
	  "close on GREASE in supported_versions or supported_groups (Squid peek/stare)" },
	{ SD_INSP_RESET_ON, "reset-on", "COND",
	  "reset when COND holds: hello, hello>N, hello-split, records>N, group:NAME, sni:HOST, hrr" },
	{ SD_INSP_ALERT_ON, "alert-on", "COND:CODE",
	  "send the fatal alert CODE (0..255 or a name) when COND holds" },
	{ SD_INSP_KIND_MAX, NULL, NULL, NULL },
};

const char *sd_insp_kind_name(int kind)
{
	if (kind == -1)
		return "none";
	if (kind < 0 || kind >= SD_INSP_KIND_MAX)
		return "?";
	return sd_insp_behaviours[kind].name;
}

const char *sd_insp_act_name(enum sd_insp_act act)
{
	static const char *const names[] = { "forward", "drop", "reset", "close", "alert" };

	if ((unsigned)act >= sizeof(names) / sizeof(names[0]))
		return "?";
	return names[act];
}

/* ---- behaviour items --------------------------------------------------- */

__attribute__((format(printf, 5, 6)))
static int fail(char *msg, size_t msglen, int ret, const char *item, const char *fmt, ...)
{
	char why[160];
	size_t n = strlen(item);
	va_list ap;

	if (!msg || !msglen)
		return ret;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(msg, msglen, "%.*s%s: %s", (int)(n > ITEM_ECHO ? ITEM_ECHO : n), item,
		 n > ITEM_ECHO ? "..." : "", why);
	return ret;
}

/* A decimal number of 1..9 digits, no sign: 0 or -SD_ESYNTAX. */
static int number(const char *s, size_t len, uint32_t *v)
{
	uint32_t x = 0;

	if (len == 0 || len > 9)
		return -SD_ESYNTAX;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -SD_ESYNTAX;
		x = x * 10 + (uint32_t)(s[i] - '0');
	}
	*v = x;
	return 0;
}

/* A bounded number: -SD_ESYNTAX when not a number, -SD_EVALUE out of range. */
static int ranged(const char *s, size_t len, uint32_t lo, uint32_t hi, uint32_t *v)
{
	int ret = number(s, len, v);

	if (ret < 0)
		return ret;
	return *v < lo || *v > hi ? -SD_EVALUE : 0;
}

static bool host_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '-' || ch == '_';
}

static bool starts(const char *s, size_t len, const char *pfx, const char **rest, size_t *rlen)
{
	size_t n = strlen(pfx);

	if (len < n || memcmp(s, pfx, n) != 0)
		return false;
	*rest = s + n;
	*rlen = len - n;
	return true;
}

static bool is(const char *s, size_t len, const char *w)
{
	return len == strlen(w) && memcmp(s, w, len) == 0;
}

/* COND of reset-on / alert-on (grammar in inspect.h). */
static int parse_cond(const char *s, size_t len, struct sd_insp_cond *cond, char *why, size_t wn)
{
	const char *r;
	size_t rl;
	int ret;

	memset(cond, 0, sizeof(*cond));
	if (len == 0) {
		snprintf(why, wn, "want a condition: hello, hello>N, hello-split, records>N, group:NAME, sni:HOST or hrr");
		return -SD_ESYNTAX;
	} else if (is(s, len, "hello")) {
		cond->type = SD_INSP_COND_HELLO;
	} else if (is(s, len, "hello-split")) {
		cond->type = SD_INSP_COND_HELLO_SPLIT;
	} else if (is(s, len, "hrr")) {
		cond->type = SD_INSP_COND_HRR;
	} else if (starts(s, len, "hello>", &r, &rl) || starts(s, len, "records>", &r, &rl)) {
		cond->type = s[0] == 'h' ? SD_INSP_COND_HELLO_GT : SD_INSP_COND_RECORDS_GT;
		if ((ret = ranged(r, rl, 0, SD_INSP_SIZE_MAX, &cond->arg)) < 0) {
			snprintf(why, wn, "want a count 0..%u after '>'", SD_INSP_SIZE_MAX);
			return ret;
		}
	} else if (starts(s, len, "group:", &r, &rl)) {
		char name[64];
		uint16_t g;

		cond->type = SD_INSP_COND_GROUP;
		if (rl == 0 || rl >= sizeof(name)) {
			snprintf(why, wn, "want group:NAME, a named group such as X25519MLKEM768");
			return rl ? -SD_EVALUE : -SD_ESYNTAX;
		}
		memcpy(name, r, rl);
		name[rl] = 0;
		if (strcasecmp(name, "GREASE") == 0) {
			g = GREASE_ANY;
		} else if (sd_tls_lookup(SD_TLS_GROUP, name, &g) < 0) {
			snprintf(why, wn, "unknown group '%s' (names as in `shakedown list groups`, or 0x1234)", name);
			return -SD_EVALUE;
		}
		cond->arg = g;
	} else if (starts(s, len, "sni:", &r, &rl)) {
		cond->type = SD_INSP_COND_SNI;
		if (rl == 0 || rl >= SD_INSP_HOST_MAX) {
			snprintf(why, wn, "want sni:HOST, 1..%d characters", SD_INSP_HOST_MAX - 1);
			return rl ? -SD_EVALUE : -SD_ESYNTAX;
		}
		for (size_t i = 0; i < rl; i++) {
			if (!host_char(r[i])) {
				snprintf(why, wn, "bad character '%c' in host name", r[i]);
				return -SD_ESYNTAX;
			}
		}
		memcpy(cond->host, r, rl);
	} else {
		snprintf(why, wn, "unknown condition '%.*s' (hello, hello>N, hello-split, records>N, group:NAME, sni:HOST, hrr)",
			 (int)(len > 32 ? 32 : len), s);
		return -SD_ESYNTAX;
	}
	return 0;
}

static const struct sd_insp_info *find_kind(const char *name, size_t len)
{
	for (const struct sd_insp_info *b = sd_insp_behaviours; b->name; b++)
		if (is(name, len, b->name))
			return b;
	return NULL;
}

int sd_insp_parse(const char *item, struct sd_insp_config *c, char *msg, size_t msglen)
{
	const struct sd_insp_info *b;
	struct sd_insp_config n;
	const char *colon, *arg;
	size_t nlen, alen;
	char why[160];
	uint32_t v;
	int ret;

	if (!item)
		return 0;
	colon = strchr(item, ':');
	nlen = colon ? (size_t)(colon - item) : strlen(item);
	b = find_kind(item, nlen);
	if (!b)
		return 0;
	arg = colon ? colon + 1 : NULL;
	alen = arg ? strlen(arg) : 0;
	if (c->kinds & BIT(b->kind))
		return fail(msg, msglen, -SD_EDUP, item, "%s given twice for one hop", b->name);
	if (!b->arg && arg)
		return fail(msg, msglen, -SD_ESYNTAX, item, "%s takes no argument", b->name);
	if (!arg && b->kind != SD_INSP_SEGMENT_GAP_BREAK)
		arg = "";   /* a missing argument gets the same message as a bad one */
	n = *c;
	n.kinds |= BIT(b->kind);
	switch (b->kind) {
	case SD_INSP_BUFFER_LIMIT:
		if ((ret = ranged(arg, alen, SD_INSP_LIMIT_MIN, SD_INSP_LIMIT_MAX, &v)) < 0)
			return fail(msg, msglen, ret, item, "want a byte count %u..%u",
				    SD_INSP_LIMIT_MIN, SD_INSP_LIMIT_MAX);
		n.buffer_limit = v;
		break;
	case SD_INSP_SEGMENT_GAP_BREAK:
	case SD_INSP_PEEK_TIMEOUT:
		v = SD_INSP_GAP_DEFAULT_MS;
		if (arg && (ret = ranged(arg, alen, 1, SD_INSP_MS_MAX, &v)) < 0)
			return fail(msg, msglen, ret, item, "want milliseconds 1..%u", SD_INSP_MS_MAX);
		if (b->kind == SD_INSP_PEEK_TIMEOUT)
			n.peek_ms = v;
		else
			n.gap_ms = v;
		break;
	case SD_INSP_SIZE_WINDOW: {
		const char *dash = memchr(arg, '-', alen);
		uint32_t lo, hi;
		int r2;

		if (!dash)
			return fail(msg, msglen, -SD_ESYNTAX, item,
				    "want LO-HI, handshake lengths 0..%u", SD_INSP_SIZE_MAX);
		ret = ranged(arg, (size_t)(dash - arg), 0, SD_INSP_SIZE_MAX, &lo);
		r2 = ranged(dash + 1, alen - (size_t)(dash - arg) - 1, 0, SD_INSP_SIZE_MAX, &hi);
		if (ret == -SD_ESYNTAX || r2 == -SD_ESYNTAX)
			return fail(msg, msglen, -SD_ESYNTAX, item,
				    "want LO-HI, handshake lengths 0..%u", SD_INSP_SIZE_MAX);
		if (ret < 0 || r2 < 0 || lo > hi)
			return fail(msg, msglen, -SD_EVALUE, item,
				    "want LO-HI with 0 <= LO <= HI <= %u", SD_INSP_SIZE_MAX);
		n.size_lo = lo;
		n.size_hi = hi;
		break;
	}
	case SD_INSP_RESET_ON:
		if ((ret = parse_cond(arg, alen, &n.reset_on, why, sizeof(why))) < 0)
			return fail(msg, msglen, ret, item, "%s", why);
		break;
	case SD_INSP_ALERT_ON: {
		const char *code = strrchr(arg, ':');
		char cbuf[64];
		uint16_t a;

		if (!code || code == arg || !code[1])
			return fail(msg, msglen, -SD_ESYNTAX, item, "want alert-on:COND:CODE");
		if ((ret = parse_cond(arg, (size_t)(code - arg), &n.alert_on, why, sizeof(why))) < 0)
			return fail(msg, msglen, ret, item, "%s", why);
		snprintf(cbuf, sizeof(cbuf), "%s", code + 1);
		if (strlen(code + 1) >= sizeof(cbuf) || sd_tls_lookup(SD_TLS_ALERT, cbuf, &a) < 0)
			return fail(msg, msglen, -SD_EVALUE, item,
				    "want an alert code 0..255 or a name such as illegal_parameter");
		n.alert_code = (uint8_t)a;
		break;
	}
	default:
		break;
	}
	*c = n;
	return 1;
}

/* Would sd_insp_parse produce these arguments? */
static bool cond_ok(const struct sd_insp_cond *cond)
{
	size_t len;

	switch (cond->type) {
	case SD_INSP_COND_HELLO:
	case SD_INSP_COND_HELLO_SPLIT:
	case SD_INSP_COND_HRR:
		return true;
	case SD_INSP_COND_HELLO_GT:
	case SD_INSP_COND_RECORDS_GT:
		return cond->arg <= SD_INSP_SIZE_MAX;
	case SD_INSP_COND_GROUP:
		return cond->arg <= 0xffff;
	case SD_INSP_COND_SNI:
		len = strnlen(cond->host, sizeof(cond->host));
		if (len == 0 || len == sizeof(cond->host))
			return false;
		for (size_t i = 0; i < len; i++)
			if (!host_char(cond->host[i]))
				return false;
		return true;
	}
	return false;
}

static int check_config(const struct sd_insp_config *c)
{
	uint32_t k = c->kinds;

	if (k & ~ALL_KINDS)
		return -SD_EVALUE;
	if ((k & BIT(SD_INSP_BUFFER_LIMIT)) &&
	    (c->buffer_limit < SD_INSP_LIMIT_MIN || c->buffer_limit > SD_INSP_LIMIT_MAX))
		return -SD_EVALUE;
	if ((k & BIT(SD_INSP_SEGMENT_GAP_BREAK)) && (c->gap_ms < 1 || c->gap_ms > SD_INSP_MS_MAX))
		return -SD_EVALUE;
	if ((k & BIT(SD_INSP_PEEK_TIMEOUT)) && (c->peek_ms < 1 || c->peek_ms > SD_INSP_MS_MAX))
		return -SD_EVALUE;
	if ((k & BIT(SD_INSP_SIZE_WINDOW)) && (c->size_lo > c->size_hi || c->size_hi > SD_INSP_SIZE_MAX))
		return -SD_EVALUE;
	if ((k & BIT(SD_INSP_RESET_ON)) && !cond_ok(&c->reset_on))
		return -SD_EVALUE;
	if ((k & BIT(SD_INSP_ALERT_ON)) && !cond_ok(&c->alert_on))
		return -SD_EVALUE;
	return 0;
}

static void put_cond(char *out, size_t n, size_t *w, const struct sd_insp_cond *cond)
{
	const char *name;

	switch (cond->type) {
	case SD_INSP_COND_HELLO:
		sd_put(out, n, w, "hello");
		break;
	case SD_INSP_COND_HELLO_SPLIT:
		sd_put(out, n, w, "hello-split");
		break;
	case SD_INSP_COND_HRR:
		sd_put(out, n, w, "hrr");
		break;
	case SD_INSP_COND_HELLO_GT:
		sd_put(out, n, w, "hello>%" PRIu32, cond->arg);
		break;
	case SD_INSP_COND_RECORDS_GT:
		sd_put(out, n, w, "records>%" PRIu32, cond->arg);
		break;
	case SD_INSP_COND_GROUP:
		/* GREASE names every GREASE value: only 0x0a0a round-trips by name. */
		name = sd_tls_is_grease((uint16_t)cond->arg) ? NULL : sd_tls_group_name((uint16_t)cond->arg);
		if (cond->arg == GREASE_ANY)
			sd_put(out, n, w, "group:GREASE");
		else if (name)
			sd_put(out, n, w, "group:%s", name);
		else
			sd_put(out, n, w, "group:0x%04" PRIx32, cond->arg);
		break;
	case SD_INSP_COND_SNI:
		sd_put(out, n, w, "sni:%s", cond->host);
		break;
	}
}

int sd_insp_format(const struct sd_insp_config *c, char *out, size_t n)
{
	size_t w = 0;
	int ret;

	if (n)
		out[0] = 0;
	if ((ret = check_config(c)) < 0)
		return ret;
	for (int k = 0; k < SD_INSP_KIND_MAX; k++) {
		if (!(c->kinds & BIT(k)))
			continue;
		if (w)
			sd_put(out, n, &w, " ");
		sd_put(out, n, &w, "%s", sd_insp_behaviours[k].name);
		switch (k) {
		case SD_INSP_BUFFER_LIMIT:
			sd_put(out, n, &w, ":%" PRIu32, c->buffer_limit);
			break;
		case SD_INSP_SEGMENT_GAP_BREAK:
			sd_put(out, n, &w, ":%" PRIu32, c->gap_ms);
			break;
		case SD_INSP_PEEK_TIMEOUT:
			sd_put(out, n, &w, ":%" PRIu32, c->peek_ms);
			break;
		case SD_INSP_SIZE_WINDOW:
			sd_put(out, n, &w, ":%" PRIu32 "-%" PRIu32, c->size_lo, c->size_hi);
			break;
		case SD_INSP_RESET_ON:
			sd_put(out, n, &w, ":");
			put_cond(out, n, &w, &c->reset_on);
			break;
		case SD_INSP_ALERT_ON:
			sd_put(out, n, &w, ":");
			put_cond(out, n, &w, &c->alert_on);
			sd_put(out, n, &w, ":%u", c->alert_code);
			break;
		}
	}
	if (w >= n)
		return -ENOSPC;
	return (int)w;
}

/* ---- reassembly ------------------------------------------------------- */

/*
 * One direction's bytes from the start of its stream, as far as the
 * device keeps them: [0, cap), filled in any order, each byte once.
 */
struct stream {
	uint8_t *buf;
	uint8_t *map;        /* a bit per byte of buf: arrived */
	size_t alloc;        /* bytes of buf; map holds alloc / 8 rounded up */
	size_t cap;
	size_t contig;       /* [0, contig) all arrived */
	bool failed;         /* out of memory: the device gave up on the flow */
};

static bool arrived(const struct stream *st, size_t i)
{
	return st->map[i / 8] & (1u << (i % 8));
}

static int grow(struct stream *st, size_t upto)
{
	size_t want = st->alloc ? st->alloc : 4096;
	uint8_t *b, *m;

	if (upto <= st->alloc)
		return 0;
	while (want < upto)
		want *= 2;
	if (want > st->cap)
		want = st->cap;
	b = realloc(st->buf, want);
	if (!b)
		return -ENOMEM;
	st->buf = b;
	m = realloc(st->map, (want + 7) / 8);
	if (!m)
		return -ENOMEM;
	memset(m + (st->alloc + 7) / 8, 0, (want + 7) / 8 - (st->alloc + 7) / 8);
	st->map = m;
	st->alloc = want;
	return 0;
}

/*
 * Files payload, the stream's bytes [start, start + len), where they fall
 * inside [0, cap). Returns whether a byte was new. A segment reaching back
 * before the start is cut; retransmitted bytes keep their first copy.
 */
static bool stream_add(struct stream *st, int64_t start, const uint8_t *payload, size_t len)
{
	int64_t end = start + (int64_t)len;
	size_t lo, hi;
	bool fresh = false;

	if (end <= 0 || start >= (int64_t)st->cap)
		return false;
	lo = start < 0 ? 0 : (size_t)start;
	hi = end > (int64_t)st->cap ? st->cap : (size_t)end;
	if (grow(st, hi) < 0) {
		st->failed = true;
		return false;
	}
	for (size_t i = lo; i < hi; i++) {
		if (arrived(st, i))
			continue;
		st->buf[i] = payload[(size_t)((int64_t)i - start)];
		st->map[i / 8] |= (uint8_t)(1u << (i % 8));
		fresh = true;
	}
	while (st->contig < st->alloc && arrived(st, st->contig))
		st->contig++;
	return fresh;
}

/* ---- the first handshake message of a stream ---------------------------- */

enum { MSG_PENDING, MSG_COMPLETE, MSG_OTHER };

/* Progress over the whole records at the head of a stream; resumed as the
 * stream grows (its bytes never change once there). */
struct walk {
	int state;
	size_t pos;          /* stream offset of the next record header */
	size_t nrec;         /* whole records carrying message bytes */
	size_t hs;           /* message bytes in them (at most total once known) */
	uint8_t hdr[4];      /* the message's first bytes, hs of them up to 4 */
	size_t total;        /* message bytes with the header; 0 until known */
	uint16_t rec1_len;   /* the first record's length, once nrec > 0 */
	size_t end;          /* MSG_COMPLETE: stream offset after its last record */
};

/* The walk plus what a record cut by the end of the stream adds. */
struct look {
	int state;
	size_t n;            /* stream bytes looked at */
	size_t nrec;         /* records begun (header read) */
	size_t hs;           /* message bytes at hand */
	size_t total;        /* 0: not known yet */
	bool rec1_known;     /* first record header read */
	uint16_t rec1_len;
	bool rec1_whole;     /* first record in [0, n) */
	size_t need;         /* stream bytes the message needs, a lower bound */
	bool need_exact;
	size_t end;          /* MSG_COMPLETE */
};

/* The stream is something else: the device stops looking. */
static void other(struct walk *w)
{
	w->state = MSG_OTHER;
}

/*
 * Adds a record fragment's bytes at hand (a cursor over them) to the
 * message. Bytes after the message (another message in the same record)
 * are not its.
 */
static void take_fragment(struct walk *t, struct sd_cursor *frag, uint8_t want)
{
	while (t->hs < 4 && sd_cursor_left(frag)) {
		if (sd_cursor_u8(frag, &t->hdr[t->hs]) < 0)
			return;
		t->hs++;
		if (t->hs == 1 && t->hdr[0] != want) {
			other(t);
			return;
		}
		if (t->hs == 4)   /* RFC 8446 §4: type, uint24 length */
			t->total = 4 + ((size_t)t->hdr[1] << 16 | (size_t)t->hdr[2] << 8 | t->hdr[3]);
	}
	if (t->total) {
		size_t k = sd_cursor_left(frag);

		if (k > t->total - t->hs)
			k = t->total - t->hs;
		t->hs += k;
	}
}

/*
 * Walks the records at the head of buf[0, n) toward the first handshake
 * message, which must be of type want, resuming w, and describes what is
 * at hand in lk.
 */
static void walk(struct walk *w, const uint8_t *buf, size_t n, uint8_t want, struct look *lk)
{
	struct walk t = *w;
	size_t rec_end = 0, hs_before = 0;
	bool cut = false;
	uint16_t len = 0;

	memset(lk, 0, sizeof(*lk));
	while (w->state == MSG_PENDING) {
		struct sd_cursor c, frag;
		uint8_t type = 0, major = 0;
		uint16_t version = 0;
		size_t avail;

		t = *w;
		sd_cursor_init(&c, buf, n);
		if (sd_cursor_skip(&c, t.pos) < 0)
			break;
		/* RFC 8446 §5.1 TLSPlaintext: type, legacy_record_version, length. */
		if (sd_cursor_left(&c) < SD_RECORD_HDR) {
			if (sd_cursor_u8(&c, &type) == 0 && type != SD_CT_HANDSHAKE)
				other(w);
			else if (sd_cursor_u8(&c, &major) == 0 && major != 3)
				other(w);
			t = *w;
			break;
		}
		if (sd_cursor_u8(&c, &type) < 0 || sd_cursor_u16(&c, &version) < 0 ||
		    sd_cursor_u16(&c, &len) < 0)
			break;
		/* §5.1: handshake messages are not interleaved with other
		 * types; every TLS version has major 3; a record holds at
		 * most 2^14 bytes and no handshake fragment is empty. */
		if (type != SD_CT_HANDSHAKE || version >> 8 != 3 || len == 0 ||
		    len > SD_RECORD_PLAIN_MAX) {
			other(w);
			t = *w;
			break;
		}
		if (t.nrec == 0)
			t.rec1_len = len;
		avail = sd_cursor_left(&c) < len ? sd_cursor_left(&c) : len;
		if (sd_cursor_sub(&c, avail, &frag) < 0)
			break;
		hs_before = t.hs;
		take_fragment(&t, &frag, want);
		if (t.state == MSG_OTHER) {
			*w = t;
			break;
		}
		rec_end = t.pos + SD_RECORD_HDR + len;
		t.nrec++;
		if (avail < len) {
			cut = true;   /* t has the cut record; w stays before it */
			break;
		}
		t.pos = rec_end;
		if (t.total && t.hs >= t.total) {
			t.state = MSG_COMPLETE;
			t.end = rec_end;
		}
		*w = t;
	}
	lk->state = w->state;
	lk->n = n;
	lk->nrec = t.nrec;
	lk->hs = t.hs;
	lk->total = t.total;
	lk->rec1_known = t.nrec > 0;
	lk->rec1_len = t.rec1_len;
	lk->rec1_whole = lk->rec1_known && n >= SD_RECORD_HDR + (size_t)lk->rec1_len;
	if (w->state == MSG_COMPLETE) {
		lk->need = lk->end = w->end;
		lk->need_exact = true;
		return;
	}
	if (w->state != MSG_PENDING)
		return;
	if (cut && t.total) {
		size_t carried = t.total - hs_before < len ? t.total - hs_before : len;
		size_t rem = t.total - hs_before - carried;

		lk->need = rec_end + (rem ? SD_RECORD_HDR + rem : 0);
		lk->need_exact = rem == 0;
	} else if (cut) {
		lk->need = rec_end;
	} else if (t.total) {
		lk->need = t.pos + SD_RECORD_HDR + (t.total - t.hs);
	}
	if (lk->need <= n)
		lk->need = n + 1;
}

/*
 * Copies the first max bytes of the handshake stream at the head of
 * buf[0, n) (records as walk checked them) into out; returns how many.
 */
static size_t gather(const uint8_t *buf, size_t n, uint8_t *out, size_t max)
{
	struct sd_cursor c;
	size_t got = 0;

	sd_cursor_init(&c, buf, n);
	while (got < max && sd_cursor_left(&c) > SD_RECORD_HDR) {
		const uint8_t *frag;
		uint16_t len;
		size_t k;

		if (sd_cursor_skip(&c, 3) < 0 || sd_cursor_u16(&c, &len) < 0)
			break;
		k = sd_cursor_left(&c) < len ? sd_cursor_left(&c) : len;
		if (k > max - got)
			k = max - got;
		if (sd_cursor_bytes(&c, k, &frag) < 0)
			break;
		if (k)
			memcpy(out + got, frag, k);
		got += k;
		if (k < len)
			break;
	}
	return got;
}

/* ---- a flow ----------------------------------------------------------- */

enum { SRV_OFF, SRV_WATCH, SRV_HRR_GROUP, SRV_DONE };

struct sd_insp {
	struct sd_insp_config c;
	struct sd_insp_verdict final;
	bool decided;
	struct stream st[2];
	struct walk w[2];
	struct look cl;           /* the client's, as of the last growth */
	bool cli_watch;           /* the client's hello still matters */
	bool first_read;          /* the first read has happened */
	bool any_data;
	uint64_t first_t, last_t; /* client data while watching */
	size_t segs;              /* client segments that brought new bytes while watching */
	int64_t cli_max_end;      /* furthest client byte seen */
	int srv_state;
	bool hrr, hrr_has_group;
	uint16_t hrr_group;
	int64_t hrr_mark;         /* cli_max_end when the HRR arrived */
	bool parsed;              /* h holds the complete hello (during the checks) */
	struct sd_hello h;
	uint8_t srv_msg[SRV_MSG_MAX];
};

static bool has(const struct sd_insp *s, int kind)
{
	return s->c.kinds & BIT(kind);
}

static bool wants_hrr(const struct sd_insp *s)
{
	return has(s, SD_INSP_HRR_INTOLERANT) ||
	       (has(s, SD_INSP_RESET_ON) && s->c.reset_on.type == SD_INSP_COND_HRR) ||
	       (has(s, SD_INSP_ALERT_ON) && s->c.alert_on.type == SD_INSP_COND_HRR);
}

/* Does any behaviour look at the client's hello? */
static bool wants_hello(const struct sd_insp *s)
{
	uint32_t k = s->c.kinds & ~BIT(SD_INSP_HRR_INTOLERANT);

	if (has(s, SD_INSP_RESET_ON) && s->c.reset_on.type == SD_INSP_COND_HRR)
		k &= ~BIT(SD_INSP_RESET_ON);
	if (has(s, SD_INSP_ALERT_ON) && s->c.alert_on.type == SD_INSP_COND_HRR)
		k &= ~BIT(SD_INSP_ALERT_ON);
	return k != 0;
}

int sd_insp_new(const struct sd_insp_config *c, struct sd_insp **out)
{
	struct sd_insp *s;
	int ret;

	*out = NULL;
	if ((ret = check_config(c)) < 0)
		return ret;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->c = *c;
	s->st[0].cap = has(s, SD_INSP_BUFFER_LIMIT) ? c->buffer_limit : SD_INSP_BUF_DEFAULT;
	s->st[1].cap = SD_INSP_SERVER_BUF;
	s->cli_watch = wants_hello(s);
	s->srv_state = wants_hrr(s) ? SRV_WATCH : SRV_OFF;
	s->cl.state = MSG_PENDING;
	s->cl.need = 1;
	*out = s;
	return 0;
}

void sd_insp_free(struct sd_insp *s)
{
	if (!s)
		return;
	for (int d = 0; d < 2; d++) {
		free(s->st[d].buf);
		free(s->st[d].map);
	}
	free(s);
}

static void forward(struct sd_insp_verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->act = SD_INSP_FORWARD;
	v->kind = -1;
}

__attribute__((format(printf, 6, 7)))
static bool decide(struct sd_insp *s, struct sd_insp_verdict *v, int kind, enum sd_insp_act act,
		   uint8_t alert, const char *fmt, ...)
{
	va_list ap;

	forward(&s->final);
	s->final.act = act;
	s->final.kind = kind;
	s->final.alert_desc = act == SD_INSP_ALERT ? alert : 0;
	va_start(ap, fmt);
	vsnprintf(s->final.why, sizeof(s->final.why), fmt, ap);
	va_end(ap);
	s->decided = true;
	*v = s->final;
	v->fresh = true;
	return true;
}

/* "1460 of 1931 bytes": how far the awaited hello has come. */
static const char *progress(const struct sd_insp *s, char *out, size_t n)
{
	const struct look *lk = &s->cl;

	if (lk->total)
		snprintf(out, n, "%zu of %s%zu bytes", lk->n, lk->need_exact ? "" : "at least ",
			 lk->need);
	else
		snprintf(out, n, "%zu bytes, its length not yet readable", lk->n);
	return out;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Deadlines of the timers that run while the hello is awaited (0: none). */
static void deadlines(const struct sd_insp *s, uint64_t *gap, uint64_t *peek)
{
	*gap = *peek = 0;
	if (!s->cli_watch || !s->any_data)
		return;
	/* A gap of more than gap_ms; the whole hello by peek_ms. */
	if (has(s, SD_INSP_SEGMENT_GAP_BREAK))
		*gap = add_sat(s->last_t, (uint64_t)s->c.gap_ms * 1000 + 1);
	if (has(s, SD_INSP_PEEK_TIMEOUT))
		*peek = add_sat(s->first_t, (uint64_t)s->c.peek_ms * 1000);
}

/* A timer that expired by t decides (the earlier one; gap first on a tie). */
static bool timers(struct sd_insp *s, uint64_t t, bool on_segment, struct sd_insp_verdict *v)
{
	uint64_t gap, peek;
	char pr[64];

	deadlines(s, &gap, &peek);
	if (gap && gap <= t && (!peek || gap <= peek)) {
		uint64_t d = t - s->last_t;

		if (on_segment)
			return decide(s, v, SD_INSP_SEGMENT_GAP_BREAK, SD_INSP_CLOSE, 0,
				      "ClientHello not in one burst: %" PRIu64 ".%" PRIu64 " ms without data (limit %" PRIu32 " ms) after %s",
				      d / 1000, d % 1000 / 100, s->c.gap_ms, progress(s, pr, sizeof(pr)));
		return decide(s, v, SD_INSP_SEGMENT_GAP_BREAK, SD_INSP_CLOSE, 0,
			      "ClientHello not in one burst: more than %" PRIu32 " ms without data after %s",
			      s->c.gap_ms, progress(s, pr, sizeof(pr)));
	}
	if (peek && peek <= t)
		return decide(s, v, SD_INSP_PEEK_TIMEOUT, SD_INSP_RESET, 0,
			      "ClientHello incomplete %" PRIu32 " ms after its first byte (peek timeout): %s",
			      s->c.peek_ms, progress(s, pr, sizeof(pr)));
	return false;
}

/* RFC 8446 §4.2.7 groups a classical-only device knows (FortiGate KB 357555). */
static bool known_group(uint16_t g)
{
	switch (g) {
	case SD_GROUP_SECP256R1: case SD_GROUP_SECP384R1: case SD_GROUP_SECP521R1:
	case SD_GROUP_X25519: case SD_GROUP_X448:
	case SD_GROUP_FFDHE2048: case SD_GROUP_FFDHE3072: case SD_GROUP_FFDHE4096:
	case SD_GROUP_FFDHE6144: case SD_GROUP_FFDHE8192:
		return true;
	}
	return sd_tls_is_grease(g);
}

static const char *group_label(uint16_t g, char *tmp, size_t n)
{
	const char *name = sd_tls_group_name(g);

	if (name && !sd_tls_is_grease(g))
		snprintf(tmp, n, "%s (0x%04x)", name, g);
	else if (name)
		snprintf(tmp, n, "GREASE 0x%04x", g);
	else
		snprintf(tmp, n, "group 0x%04x", g);
	return tmp;
}

static bool group_matches(uint32_t want, uint16_t g)
{
	if (want == GREASE_ANY)
		return sd_tls_is_grease(g);
	return g == want;
}

/* Does cond hold for the complete hello? Says why in out. */
static bool cond_holds(const struct sd_insp *s, const struct sd_insp_cond *cond, char *out, size_t n)
{
	const struct look *lk = &s->cl;
	const struct sd_hello *h = &s->h;
	char tmp[48];

	switch (cond->type) {
	case SD_INSP_COND_HELLO:
		snprintf(out, n, "a ClientHello of %zu bytes", lk->total);
		return true;
	case SD_INSP_COND_HELLO_GT:
		snprintf(out, n, "ClientHello of %zu bytes, more than %" PRIu32, lk->total, cond->arg);
		return lk->total > cond->arg;
	case SD_INSP_COND_HELLO_SPLIT:
		snprintf(out, n, "ClientHello came in %zu segments", s->segs);
		return s->segs > 1;
	case SD_INSP_COND_RECORDS_GT:
		snprintf(out, n, "ClientHello spans %zu TLS records, more than %" PRIu32, lk->nrec, cond->arg);
		return lk->nrec > cond->arg;
	case SD_INSP_COND_GROUP:
		if (!s->parsed)
			return false;
		for (size_t i = 0; i < h->nshares; i++) {
			if (group_matches(cond->arg, h->shares[i].group)) {
				snprintf(out, n, "key_share carries %s",
					 group_label(h->shares[i].group, tmp, sizeof(tmp)));
				return true;
			}
		}
		return false;
	case SD_INSP_COND_SNI:
		if (!s->parsed || !h->sni || h->sni_len != strlen(cond->host) ||
		    strncasecmp((const char *)h->sni, cond->host, h->sni_len) != 0)
			return false;
		snprintf(out, n, "server_name is %.96s", cond->host);
		return true;
	}
	return false;
}

/* The checks on the complete hello's fields, in kind order. */
static bool check_fields(struct sd_insp *s, int kind, struct sd_insp_verdict *v)
{
	const struct sd_hello *h = &s->h;
	char tmp[48], names[96];
	size_t npq = 0;

	switch (kind) {
	case SD_INSP_UNKNOWN_GROUP_ALERT:
		for (size_t i = 0; i < h->nshares; i++)
			if (!known_group(h->shares[i].group))
				return decide(s, v, kind, SD_INSP_ALERT, 47,
					      "key_share carries %s, unknown to this device",
					      group_label(h->shares[i].group, tmp, sizeof(tmp)));
		return false;
	case SD_INSP_MULTI_SHARE_INTOLERANT:
		names[0] = 0;
		for (size_t i = 0; i < h->nshares; i++) {
			const char *gn = sd_tls_group_name(h->shares[i].group);
			size_t w = strlen(names);

			if (!sd_tls_group_is_pq(h->shares[i].group))
				continue;
			if (npq++ < 3)
				snprintf(names + w, sizeof(names) - w, "%s%s", w ? ", " : "", gn ? gn : "?");
		}
		if (npq > 1)
			return decide(s, v, kind, SD_INSP_ALERT, 40,
				      "key_share carries %zu hybrid/post-quantum shares (%s%s)", npq, names,
				      npq > 3 ? ", ..." : "");
		return false;
	case SD_INSP_GREASE_INTOLERANT:
		for (size_t i = 0; i < h->nversions; i++)
			if (sd_tls_is_grease(h->versions[i]))
				return decide(s, v, kind, SD_INSP_CLOSE, 0,
					      "GREASE 0x%04x in supported_versions", h->versions[i]);
		for (size_t i = 0; i < h->ngroups; i++)
			if (sd_tls_is_grease(h->groups[i]))
				return decide(s, v, kind, SD_INSP_CLOSE, 0,
					      "GREASE 0x%04x in supported_groups", h->groups[i]);
		return false;
	}
	return false;
}

/*
 * Parses the complete hello into s->h. Its views point into the stream
 * buffer (one record) or into *copy (several; the caller frees it).
 */
static void parse_hello(struct sd_insp *s, uint8_t **copy)
{
	const struct stream *st = &s->st[0];
	const struct look *lk = &s->cl;
	const uint8_t *msg = NULL;
	struct sd_cursor c;

	*copy = NULL;
	s->parsed = false;
	if (lk->nrec == 1) {
		sd_cursor_init(&c, st->buf, lk->end);
		if (sd_cursor_skip(&c, SD_RECORD_HDR) < 0 || sd_cursor_bytes(&c, lk->total, &msg) < 0)
			return;
	} else {
		*copy = malloc(lk->total);
		if (!*copy || gather(st->buf, lk->end, *copy, lk->total) != lk->total)
			return;
		msg = *copy;
	}
	s->parsed = sd_hello_parse(msg, lk->total, &s->h) == 0;
}

/* Everything the client's bytes at hand decide, in kind order. */
static bool check_client(struct sd_insp *s, bool first_read, struct sd_insp_verdict *v)
{
	const struct look *lk = &s->cl;
	bool pending = lk->state == MSG_PENDING, complete = lk->state == MSG_COMPLETE;
	uint8_t *copy = NULL;
	bool fired = false;
	char pr[64], why[120];

	if (complete)
		parse_hello(s, &copy);
	for (int k = 0; k < SD_INSP_KIND_MAX && !fired; k++) {
		if (!has(s, k))
			continue;
		switch (k) {
		case SD_INSP_FIRST_SEGMENT_PARSE:
			if (first_read && pending)
				fired = decide(s, v, k, SD_INSP_RESET, 0,
					       "ClientHello incomplete in the first segment: %s",
					       progress(s, pr, sizeof(pr)));
			break;
		case SD_INSP_PARTIAL_HELLO_DROP:
			if (first_read && pending)
				fired = decide(s, v, k, SD_INSP_DROP, 0,
					       "first segment holds a partial ClientHello (%s): discarded",
					       progress(s, pr, sizeof(pr)));
			break;
		case SD_INSP_FIRST_RECORD_IN_SEGMENT:
			if (!first_read || lk->state == MSG_OTHER || lk->rec1_whole)
				break;
			if (lk->rec1_known)
				fired = decide(s, v, k, SD_INSP_RESET, 0,
					       "first TLS record incomplete in the first segment: %zu of its %u bytes",
					       lk->n, SD_RECORD_HDR + lk->rec1_len);
			else
				fired = decide(s, v, k, SD_INSP_RESET, 0,
					       "first segment of %zu bytes ends inside the first TLS record header",
					       lk->n);
			break;
		case SD_INSP_BUFFER_LIMIT:
			/* The buffer holds N bytes, so a hello that completed
			 * fits: only one still awaited can outgrow it. */
			if (pending && lk->need > s->c.buffer_limit)
				fired = decide(s, v, k, SD_INSP_RESET, 0,
					       "ClientHello of %s%zu bytes (records included) does not fit the %" PRIu32 "-byte inspection buffer",
					       lk->need_exact ? "" : "at least ", lk->need, s->c.buffer_limit);
			break;
		case SD_INSP_UNKNOWN_GROUP_ALERT:
		case SD_INSP_MULTI_SHARE_INTOLERANT:
		case SD_INSP_GREASE_INTOLERANT:
			if (complete && s->parsed)
				fired = check_fields(s, k, v);
			break;
		case SD_INSP_SIZE_WINDOW:
			if (lk->total && lk->total - 4 >= s->c.size_lo && lk->total - 4 <= s->c.size_hi)
				fired = decide(s, v, k, SD_INSP_DROP, 0,
					       "ClientHello handshake length %zu is within %" PRIu32 "-%" PRIu32,
					       lk->total - 4, s->c.size_lo, s->c.size_hi);
			break;
		case SD_INSP_RECORD_FRAG_BLIND:
			/* A ClientHello's length seen is enough, whatever follows. */
			if (!lk->rec1_known || (lk->state == MSG_OTHER && !lk->total))
				break;
			if (lk->total && lk->total > lk->rec1_len)
				fired = decide(s, v, k, SD_INSP_DROP, 0,
					       "ClientHello of %zu bytes spans several TLS records (the first carries %u)",
					       lk->total, lk->rec1_len);
			else if (lk->rec1_len < 4)
				fired = decide(s, v, k, SD_INSP_DROP, 0,
					       "ClientHello spans several TLS records (the first carries %u bytes)",
					       lk->rec1_len);
			break;
		case SD_INSP_RESET_ON:
			if (complete && s->c.reset_on.type != SD_INSP_COND_HRR &&
			    cond_holds(s, &s->c.reset_on, why, sizeof(why)))
				fired = decide(s, v, k, SD_INSP_RESET, 0, "reset-on matched: %s", why);
			break;
		case SD_INSP_ALERT_ON:
			if (complete && s->c.alert_on.type != SD_INSP_COND_HRR &&
			    cond_holds(s, &s->c.alert_on, why, sizeof(why)))
				fired = decide(s, v, k, SD_INSP_ALERT, s->c.alert_code,
					       "alert-on matched: %s", why);
			break;
		}
	}
	/* The views die with the copy. */
	free(copy);
	s->parsed = false;
	return fired;
}

/* The client's first data after the HelloRetryRequest: its retry. */
static bool check_retry(struct sd_insp *s, struct sd_insp_verdict *v)
{
	char sel[64] = "";
	char tmp[48];

	if (s->hrr_has_group)
		snprintf(sel, sizeof(sel), " selecting %s", group_label(s->hrr_group, tmp, sizeof(tmp)));
	if (has(s, SD_INSP_HRR_INTOLERANT))
		return decide(s, v, SD_INSP_HRR_INTOLERANT, SD_INSP_RESET, 0,
			      "server sent a HelloRetryRequest%s; the client's retry is refused", sel);
	if (has(s, SD_INSP_RESET_ON) && s->c.reset_on.type == SD_INSP_COND_HRR)
		return decide(s, v, SD_INSP_RESET_ON, SD_INSP_RESET, 0,
			      "reset-on matched: the client answered a HelloRetryRequest%s", sel);
	if (has(s, SD_INSP_ALERT_ON) && s->c.alert_on.type == SD_INSP_COND_HRR)
		return decide(s, v, SD_INSP_ALERT_ON, SD_INSP_ALERT, s->c.alert_code,
			      "alert-on matched: the client answered a HelloRetryRequest%s", sel);
	return false;
}

static void client(struct sd_insp *s, int64_t start, const uint8_t *payload, size_t len, uint64_t t,
		   struct sd_insp_verdict *v)
{
	struct stream *st = &s->st[0];
	int64_t end = start + (int64_t)len;
	size_t before = st->contig;
	bool first_read = false;

	if (s->hrr && end > s->hrr_mark && check_retry(s, v))
		return;
	if (end > s->cli_max_end)
		s->cli_max_end = end;
	if (!s->cli_watch)
		return;
	if (timers(s, t, true, v))
		return;
	if (start > (int64_t)st->contig && has(s, SD_INSP_NO_REASSEMBLY_OOO))
		return (void)decide(s, v, SD_INSP_NO_REASSEMBLY_OOO, SD_INSP_DROP, 0,
				    "ClientHello segment out of order: stream byte %" PRId64 " arrived while byte %zu was expected",
				    start, st->contig);
	if (!s->any_data)
		s->first_t = t;
	s->any_data = true;
	if (t > s->last_t)
		s->last_t = t;
	if (stream_add(st, start, payload, len))
		s->segs++;
	if (st->failed) {
		s->cli_watch = false;
		return;
	}
	if (st->contig == before)
		return;
	walk(&s->w[0], st->buf, st->contig, SD_HS_CLIENT_HELLO, &s->cl);
	if (!s->first_read)
		s->first_read = first_read = true;
	if (check_client(s, first_read, v))
		return;
	/* Nothing more to learn: a hello that passed, bytes that are not
	 * one, or a hello too big for the device's buffer. */
	if (s->cl.state != MSG_PENDING || s->cl.need > st->cap)
		s->cli_watch = false;
}

static void server(struct sd_insp *s, int64_t start, const uint8_t *payload, size_t len)
{
	struct stream *st = &s->st[1];
	struct sd_server_hello sh;
	size_t before = st->contig, got;
	struct look lk;

	if (s->srv_state != SRV_WATCH && s->srv_state != SRV_HRR_GROUP)
		return;
	stream_add(st, start, payload, len);
	if (st->failed) {
		s->srv_state = SRV_DONE;
		return;
	}
	if (st->contig == before)
		return;
	walk(&s->w[1], st->buf, st->contig, SD_HS_SERVER_HELLO, &lk);
	if (lk.state == MSG_OTHER) {
		s->srv_state = SRV_DONE;
		return;
	}
	if (s->srv_state == SRV_WATCH) {
		if (lk.hs >= SH_RANDOM_END) {
			struct sd_cursor c;
			const uint8_t *random;

			/* RFC 8446 §4.1.3: the HelloRetryRequest random. */
			got = gather(st->buf, st->contig, s->srv_msg, SH_RANDOM_END);
			sd_cursor_init(&c, s->srv_msg, got);
			if (sd_cursor_skip(&c, 6) == 0 && sd_cursor_bytes(&c, 32, &random) == 0 &&
			    memcmp(random, sd_hrr_random, 32) == 0) {
				s->hrr = true;
				s->hrr_mark = s->cli_max_end;
				s->srv_state = SRV_HRR_GROUP;
			} else {
				s->srv_state = SRV_DONE;
			}
		} else if (lk.state == MSG_COMPLETE || st->contig == st->cap) {
			s->srv_state = SRV_DONE;
		}
	}
	if (s->srv_state == SRV_HRR_GROUP) {
		/* Name the selected group when the whole message is at hand. */
		if (lk.state == MSG_COMPLETE && lk.total <= SRV_MSG_MAX) {
			got = gather(st->buf, st->contig, s->srv_msg, lk.total);
			if (got == lk.total && sd_server_hello_parse(s->srv_msg, got, &sh) == 0 &&
			    sh.has_group) {
				s->hrr_has_group = true;
				s->hrr_group = sh.group;
			}
			s->srv_state = SRV_DONE;
		} else if (lk.state == MSG_COMPLETE || st->contig == st->cap) {
			s->srv_state = SRV_DONE;
		}
	}
}

void sd_insp_segment(struct sd_insp *s, int dir, uint32_t seq_off, const uint8_t *payload, size_t len,
		     uint64_t t_us, struct sd_insp_verdict *v)
{
	/* seq_off is modulo 2^32: the upper half is before the stream's start. */
	int64_t start = seq_off < 0x80000000u ? (int64_t)seq_off : (int64_t)seq_off - 0x100000000LL;

	forward(v);
	if (!s)
		return;
	if (s->decided) {
		*v = s->final;
		v->fresh = false;
		return;
	}
	if (len == 0 || !payload || (dir != 0 && dir != 1))
		return;
	/* No TCP segment is this long; keeps the offsets far from overflow. */
	if (len > UINT32_MAX)
		len = UINT32_MAX;
	if (dir == 0)
		client(s, start, payload, len, t_us, v);
	else
		server(s, start, payload, len);
}

uint64_t sd_insp_tick(struct sd_insp *s, uint64_t t_us, struct sd_insp_verdict *v)
{
	uint64_t gap, peek, next;

	forward(v);
	if (!s)
		return 0;
	if (s->decided) {
		*v = s->final;
		v->fresh = false;
		return 0;
	}
	if (timers(s, t_us, false, v))
		return 0;
	deadlines(s, &gap, &peek);
	next = gap && (!peek || gap < peek) ? gap : peek;
	return next > t_us ? next : 0;
}
