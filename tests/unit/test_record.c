/* SPDX-License-Identifier: MIT */
/* The record layer: single records, record building, flight reassembly, alerts. */
#include <stdlib.h>

#include "check.h"
#include "shakedown/record.h"
#include "shakedown/tls.h"

static struct sd_flight flight;

/* A fake handshake message of len bytes in total (header included), its
 * body a counting pattern so that misplaced bytes show. */
static void make_msg(struct sd_buf *b, uint8_t type, size_t len)
{
	sd_buf_u8(b, type);
	sd_buf_u24(b, (uint32_t)(len - 4));
	for (size_t i = 0; i < len - 4; i++)
		sd_buf_u8(b, (uint8_t)(i * 7 + type));
}

static void put_record(struct sd_buf *b, uint8_t type, uint16_t version,
		       const void *frag, size_t n)
{
	sd_buf_u8(b, type);
	sd_buf_u16(b, version);
	sd_buf_u16(b, (uint16_t)n);
	sd_buf_put(b, frag, n);
}

static void test_record_parse(void)
{
	static const uint8_t ok[] = { 22, 3, 1, 0, 3, 'a', 'b', 'c', 23, 3, 3, 0, 0 };
	static const uint8_t bad_type_lo[] = { 19, 3, 3, 0, 1, 0 };
	static const uint8_t bad_type_hi[] = { 25, 3, 3, 0, 1, 0 };
	static const uint8_t http[] = "GET / HTTP/1.1\r\n";
	static const uint8_t bad_major[] = { 22, 2, 0, 0, 1, 0 };
	static const uint8_t bad_major4[] = { 22, 4, 1, 0, 1, 0 };
	static const uint8_t too_long[] = { 22, 3, 3, 0x48, 0x01 };  /* 18433 */
	static const uint8_t cut_hdr[] = { 22, 3, 1, 0 };
	static const uint8_t cut_frag[] = { 22, 3, 1, 0, 4, 'a', 'b', 'c' };
	struct sd_cursor c, save;
	struct sd_record r;
	uint8_t *big;

	sd_cursor_init(&c, ok, sizeof(ok));
	CHECK_INT(sd_record_parse(&c, &r), 0);
	CHECK_INT(r.type, SD_CT_HANDSHAKE);
	CHECK_INT(r.version, SD_TLS10);
	CHECK_INT(r.len, 3);
	CHECK(r.frag == ok + 5);
	CHECK_INT(r.offset, 0);
	CHECK_INT(sd_record_parse(&c, &r), 0);
	CHECK_INT(r.type, SD_CT_APPDATA);
	CHECK_INT(r.len, 0);
	CHECK_INT(r.offset, 8);
	CHECK_INT(sd_cursor_end(&c), 0);
	/* Nothing left: -SD_ETRUNC, not a record. */
	CHECK_INT(sd_record_parse(&c, &r), -SD_ETRUNC);

#define BAD(buf, want) do { \
	sd_cursor_init(&c, buf, sizeof(buf)); \
	save = c; \
	CHECK_INT(sd_record_parse(&c, &r), want); \
	CHECK_INT(c.pos, save.pos); \
} while (0)
	BAD(bad_type_lo, -SD_ETYPE);
	BAD(bad_type_hi, -SD_ETYPE);
	BAD(http, -SD_ETYPE);
	BAD(bad_major, -SD_ETYPE);
	BAD(bad_major4, -SD_ETYPE);
	BAD(too_long, -SD_ELENGTH);
	BAD(cut_hdr, -SD_ETRUNC);
	BAD(cut_frag, -SD_ETRUNC);
#undef BAD

	/* The longest record any TLS version allows (2^14 + 2048) parses;
	 * heartbeat (24) is a content type. */
	big = calloc(1, SD_RECORD_HDR + SD_RECORD_ANY_MAX);
	if (!big)
		return;
	big[0] = 24;
	big[1] = 3;
	big[2] = 3;
	big[3] = SD_RECORD_ANY_MAX >> 8;
	big[4] = SD_RECORD_ANY_MAX & 0xff;
	sd_cursor_init(&c, big, SD_RECORD_HDR + SD_RECORD_ANY_MAX);
	CHECK_INT(sd_record_parse(&c, &r), 0);
	CHECK_INT(r.len, SD_RECORD_ANY_MAX);
	CHECK_INT(r.type, 24);
	free(big);

	/* Offsets are absolute when the cursor is a window of a larger input. */
	{
		static const uint8_t in[] = { 0xee, 0xee, 21, 3, 3, 0, 2, 2, 40 };
		struct sd_cursor outer, sub;

		sd_cursor_init(&outer, in, sizeof(in));
		CHECK_INT(sd_cursor_skip(&outer, 2), 0);
		CHECK_INT(sd_cursor_sub(&outer, 7, &sub), 0);
		CHECK_INT(sd_record_parse(&sub, &r), 0);
		CHECK_INT(r.offset, 2);
		CHECK_INT(r.type, SD_CT_ALERT);
	}
}

/* Parses what sd_record_build wrote and compares fragment sizes. */
static void check_records(const struct sd_buf *b, const uint8_t *data, size_t len,
			  const size_t *want, size_t nwant)
{
	struct sd_cursor c;
	struct sd_record r;
	size_t n = 0, done = 0;

	sd_cursor_init(&c, b->data, b->len);
	while (sd_cursor_left(&c)) {
		if (sd_record_parse(&c, &r) < 0) {
			CHECK(!"record_build wrote an unparsable record");
			return;
		}
		CHECK_INT(r.type, SD_CT_HANDSHAKE);
		CHECK_INT(r.version, SD_TLS10);
		if (n < nwant)
			CHECK_INT(r.len, want[n]);
		CHECK(done + r.len <= len);
		if (done + r.len <= len)
			CHECK_MEM(r.frag, data + done, r.len);
		done += r.len;
		n++;
	}
	CHECK_INT(n, nwant);
	CHECK_INT(done, len);
}

static void test_record_build(void)
{
	struct sd_buf msg = SD_BUF_INIT, out = SD_BUF_INIT;
	static const size_t s512[] = { 512 };
	static const size_t s5_100[] = { 5, 100 };
	static const size_t s_zero[] = { 512, 0 };
	static const size_t s_big[] = { 16385 };
	static const size_t s_max[] = { 16384 };
	static const size_t s_exact[] = { 1926 };
	static const size_t s_one[] = { 1 };

	make_msg(&msg, SD_HS_CLIENT_HELLO, 1926);
	CHECK_INT(sd_buf_error(&msg), 0);

	CHECK_INT(sd_record_build(&out, SD_CT_HANDSHAKE, SD_TLS10, msg.data, msg.len,
				  s512, 1), 0);
	{
		static const size_t want[] = { 512, 512, 512, 390 };

		check_records(&out, msg.data, msg.len, want, 4);
		CHECK_INT(out.len, 1926 + 4 * SD_RECORD_HDR);
	}

	/* sizes {5, 100}: 5 first, then 100 repeating; 1926 = 5 + 19 * 100 + 21. */
	sd_buf_reset(&out);
	CHECK_INT(sd_record_build(&out, SD_CT_HANDSHAKE, SD_TLS10, msg.data, msg.len,
				  s5_100, 2), 0);
	{
		size_t want[21];

		want[0] = 5;
		for (int i = 1; i <= 19; i++)
			want[i] = 100;
		want[20] = 21;
		check_records(&out, msg.data, msg.len, want, 21);
	}

	/* No sizes: records of 2^14. */
	sd_buf_reset(&out);
	CHECK_INT(sd_record_build(&out, SD_CT_HANDSHAKE, SD_TLS10, msg.data, msg.len,
				  NULL, 0), 0);
	{
		static const size_t want[] = { 1926 };

		check_records(&out, msg.data, msg.len, want, 1);
	}
	/* A size equal to the message: one record; 1 byte: one per byte. */
	sd_buf_reset(&out);
	CHECK_INT(sd_record_build(&out, SD_CT_HANDSHAKE, SD_TLS10, msg.data, msg.len,
				  s_exact, 1), 0);
	CHECK_INT(out.len, 1926 + SD_RECORD_HDR);
	sd_buf_reset(&out);
	CHECK_INT(sd_record_build(&out, SD_CT_HANDSHAKE, SD_TLS10, msg.data, 10,
				  s_one, 1), 0);
	CHECK_INT(out.len, 10 * (SD_RECORD_HDR + 1));

	/* A 40000-byte message with the default: 16384, 16384, 7232. */
	{
		struct sd_buf large = SD_BUF_INIT;
		static const size_t want[] = { 16384, 16384, 7232 };

		make_msg(&large, SD_HS_CERTIFICATE, 40000);
		sd_buf_reset(&out);
		CHECK_INT(sd_record_build(&out, SD_CT_HANDSHAKE, SD_TLS12, large.data,
					  large.len, s_max, 1), 0);
		sd_buf_reset(&out);
		CHECK_INT(sd_record_build(&out, SD_CT_HANDSHAKE, SD_TLS10, large.data,
					  large.len, NULL, 0), 0);
		check_records(&out, large.data, large.len, want, 3);
		sd_buf_free(&large);
	}

	/* §5.1: no empty handshake fragments, none above 2^14. */
	sd_buf_reset(&out);
	CHECK_INT(sd_record_build(&out, SD_CT_HANDSHAKE, SD_TLS10, msg.data, msg.len,
				  s_zero, 2), -SD_EVALUE);
	CHECK_INT(sd_record_build(&out, SD_CT_HANDSHAKE, SD_TLS10, msg.data, msg.len,
				  s_big, 1), -SD_EVALUE);
	CHECK_INT(out.len, 0);

	sd_buf_free(&out);
	sd_buf_free(&msg);
}

static void test_flight_split(void)
{
	struct sd_buf msg = SD_BUF_INIT, out = SD_BUF_INIT;
	static const size_t s512[] = { 512 };
	uint16_t lens[8];
	int ret;

	/* One ClientHello over four records. */
	make_msg(&msg, SD_HS_CLIENT_HELLO, 1926);
	CHECK_INT(sd_record_build(&out, SD_CT_HANDSHAKE, SD_TLS10, msg.data, msg.len,
				  s512, 1), 0);
	ret = sd_flight_parse(out.data, out.len, &flight);
	CHECK_INT(ret, 1);
	CHECK_INT(flight.nrecords, 4);
	CHECK_INT(flight.nmsgs, 1);
	CHECK(!flight.partial);
	CHECK(!flight.encrypted);
	CHECK(!flight.has_alert);
	CHECK_INT(flight.consumed, out.len);
	CHECK_INT(flight.msgs[0].type, SD_HS_CLIENT_HELLO);
	CHECK_INT(flight.msgs[0].len, 1926);
	CHECK_INT(flight.msgs[0].hs_offset, 0);
	CHECK_INT(flight.msgs[0].rec_first, 0);
	CHECK_INT(flight.msgs[0].rec_count, 4);
	CHECK_INT(flight.records[2].offset, 2 * (512 + SD_RECORD_HDR));
	CHECK_INT(flight.records[2].hs_offset, 1024);
	CHECK(sd_flight_msg(&flight, 0) != NULL);
	if (sd_flight_msg(&flight, 0))
		CHECK_MEM(sd_flight_msg(&flight, 0), msg.data, 1926);
	CHECK(sd_flight_msg(&flight, 1) == NULL);
	CHECK_INT(sd_flight_msg_records(&flight, 0, lens, 8), 4);
	CHECK_INT(lens[0], 512);
	CHECK_INT(lens[1], 512);
	CHECK_INT(lens[2], 512);
	CHECK_INT(lens[3], 390);
	/* A short lens[] still gets the count. */
	lens[1] = 0;
	CHECK_INT(sd_flight_msg_records(&flight, 0, lens, 1), 4);
	CHECK_INT(lens[1], 0);
	CHECK_INT(sd_flight_msg_records(&flight, 1, lens, 8), 0);
	sd_flight_free(&flight);

	/* The same stream cut one byte short: the message is incomplete. */
	ret = sd_flight_parse(out.data, out.len - 1, &flight);
	CHECK_INT(ret, 0);
	CHECK(flight.partial);
	CHECK_INT(flight.nrecords, 3);
	CHECK_INT(flight.consumed, 3 * (512 + SD_RECORD_HDR));
	sd_flight_free(&flight);

	/* Cut inside the fourth record's header. */
	ret = sd_flight_parse(out.data, 3 * (512 + SD_RECORD_HDR) + 3, &flight);
	CHECK_INT(ret, 0);
	CHECK(flight.partial);
	CHECK_INT(flight.nrecords, 3);
	sd_flight_free(&flight);

	/* Whole records but the message continues past them. */
	ret = sd_flight_parse(out.data, 2 * (512 + SD_RECORD_HDR), &flight);
	CHECK_INT(ret, 0);
	CHECK(flight.partial);
	CHECK_INT(flight.nrecords, 2);
	CHECK_INT(flight.consumed, 2 * (512 + SD_RECORD_HDR));
	sd_flight_free(&flight);

	/* A record holding only part of a 4-byte handshake header. */
	sd_buf_reset(&out);
	put_record(&out, SD_CT_HANDSHAKE, SD_TLS12, "\x02\x00", 2);
	ret = sd_flight_parse(out.data, out.len, &flight);
	CHECK_INT(ret, 0);
	CHECK(flight.partial);
	CHECK_INT(flight.nrecords, 1);
	sd_flight_free(&flight);

	/* Empty input: no messages, nothing partial. */
	ret = sd_flight_parse(NULL, 0, &flight);
	CHECK_INT(ret, 0);
	CHECK(!flight.partial);
	CHECK_INT(flight.nrecords, 0);
	sd_flight_free(&flight);

	sd_buf_free(&out);
	sd_buf_free(&msg);
}

static void test_flight_two_in_one(void)
{
	struct sd_buf msgs = SD_BUF_INIT, out = SD_BUF_INIT;
	uint16_t lens[4];
	const uint8_t *m;

	/* A ServerHello and a second message coalesced into one record. */
	make_msg(&msgs, SD_HS_SERVER_HELLO, 90);
	make_msg(&msgs, SD_HS_ENCRYPTED_EXTENSIONS, 20);
	put_record(&out, SD_CT_HANDSHAKE, SD_TLS12, msgs.data, msgs.len);
	CHECK_INT(sd_flight_parse(out.data, out.len, &flight), 2);
	CHECK_INT(flight.nrecords, 1);
	CHECK_INT(flight.msgs[0].type, SD_HS_SERVER_HELLO);
	CHECK_INT(flight.msgs[0].len, 90);
	CHECK_INT(flight.msgs[1].type, SD_HS_ENCRYPTED_EXTENSIONS);
	CHECK_INT(flight.msgs[1].hs_offset, 90);
	CHECK_INT(flight.msgs[1].len, 20);
	CHECK_INT(flight.msgs[0].rec_first, 0);
	CHECK_INT(flight.msgs[0].rec_count, 1);
	CHECK_INT(flight.msgs[1].rec_first, 0);
	CHECK_INT(flight.msgs[1].rec_count, 1);
	m = sd_flight_msg(&flight, 1);
	CHECK(m != NULL);
	if (m)
		CHECK_MEM(m, msgs.data + 90, 20);
	CHECK_INT(sd_flight_msg_records(&flight, 1, lens, 4), 1);
	CHECK_INT(lens[0], 110);
	CHECK(!flight.partial);
	sd_flight_free(&flight);

	/* Two messages, the second straddling a record boundary. */
	sd_buf_reset(&out);
	put_record(&out, SD_CT_HANDSHAKE, SD_TLS12, msgs.data, 100);
	put_record(&out, SD_CT_HANDSHAKE, SD_TLS12, msgs.data + 100, 10);
	CHECK_INT(sd_flight_parse(out.data, out.len, &flight), 2);
	CHECK_INT(flight.msgs[0].rec_count, 1);
	CHECK_INT(flight.msgs[1].rec_first, 0);
	CHECK_INT(flight.msgs[1].rec_count, 2);
	CHECK_INT(sd_flight_msg_records(&flight, 1, lens, 4), 2);
	CHECK_INT(lens[0], 100);
	CHECK_INT(lens[1], 10);
	sd_flight_free(&flight);

	sd_buf_free(&out);
	sd_buf_free(&msgs);
}

static void test_flight_hrr(void)
{
	struct sd_buf ch1 = SD_BUF_INIT, ch2 = SD_BUF_INIT, out = SD_BUF_INIT;
	static const size_t s1000[] = { 1000 };
	uint16_t lens[4];

	/* ClientHello, change_cipher_spec (middlebox compatibility, RFC 8446
	 * Appendix D.4), the second ClientHello after a HelloRetryRequest. */
	make_msg(&ch1, SD_HS_CLIENT_HELLO, 600);
	make_msg(&ch2, SD_HS_CLIENT_HELLO, 1800);
	put_record(&out, SD_CT_HANDSHAKE, SD_TLS10, ch1.data, ch1.len);
	put_record(&out, SD_CT_CCS, SD_TLS12, "\x01", 1);
	CHECK_INT(sd_record_build(&out, SD_CT_HANDSHAKE, SD_TLS12, ch2.data, ch2.len,
				  s1000, 1), 0);
	CHECK_INT(sd_flight_parse(out.data, out.len, &flight), 2);
	CHECK_INT(flight.nrecords, 4);
	CHECK_INT(flight.records[1].type, SD_CT_CCS);
	CHECK_INT(flight.records[1].offset, 605);
	CHECK_INT(flight.msgs[0].rec_first, 0);
	CHECK_INT(flight.msgs[0].rec_count, 1);
	CHECK_INT(flight.msgs[1].type, SD_HS_CLIENT_HELLO);
	CHECK_INT(flight.msgs[1].hs_offset, 600);
	CHECK_INT(flight.msgs[1].rec_first, 2);
	CHECK_INT(flight.msgs[1].rec_count, 2);
	CHECK_INT(sd_flight_msg_records(&flight, 1, lens, 4), 2);
	CHECK_INT(lens[0], 1000);
	CHECK_INT(lens[1], 800);
	if (sd_flight_msg(&flight, 1))
		CHECK_MEM(sd_flight_msg(&flight, 1), ch2.data, ch2.len);
	CHECK(!flight.partial);
	CHECK_INT(flight.consumed, out.len);
	sd_flight_free(&flight);

	sd_buf_free(&out);
	sd_buf_free(&ch1);
	sd_buf_free(&ch2);
}

static void test_flight_stops(void)
{
	struct sd_buf msg = SD_BUF_INIT, out = SD_BUF_INIT;
	size_t alert_at;

	make_msg(&msg, SD_HS_SERVER_HELLO, 80);

	/* An alert is recorded and ends the flight: the record after it is
	 * not read. */
	put_record(&out, SD_CT_HANDSHAKE, SD_TLS12, msg.data, msg.len);
	alert_at = out.len;
	put_record(&out, SD_CT_ALERT, SD_TLS12, "\x02\x28", 2);   /* fatal, handshake_failure */
	put_record(&out, SD_CT_HANDSHAKE, SD_TLS12, msg.data, msg.len);
	CHECK_INT(sd_flight_parse(out.data, out.len, &flight), 1);
	CHECK(flight.has_alert);
	CHECK_INT(flight.alert_level, 2);
	CHECK_INT(flight.alert_desc, 40);
	CHECK_INT(flight.alert_offset, alert_at);
	CHECK_INT(flight.nrecords, 2);
	CHECK_INT(flight.consumed, alert_at + 7);
	CHECK(!flight.encrypted);
	sd_flight_free(&flight);

	/* An alert record that is not a valid alert still ends the flight,
	 * but is not reported as one. */
	sd_buf_reset(&out);
	put_record(&out, SD_CT_ALERT, SD_TLS12, "\x07\x28", 2);
	CHECK_INT(sd_flight_parse(out.data, out.len, &flight), 0);
	CHECK(!flight.has_alert);
	CHECK_INT(flight.nrecords, 1);
	sd_flight_free(&flight);

	/* application_data: the rest is encrypted, parsing stops there. */
	sd_buf_reset(&out);
	put_record(&out, SD_CT_HANDSHAKE, SD_TLS12, msg.data, msg.len);
	put_record(&out, SD_CT_CCS, SD_TLS12, "\x01", 1);
	put_record(&out, SD_CT_APPDATA, SD_TLS12, "0123456789", 10);
	put_record(&out, SD_CT_HANDSHAKE, SD_TLS12, msg.data, msg.len);
	CHECK_INT(sd_flight_parse(out.data, out.len, &flight), 1);
	CHECK(flight.encrypted);
	CHECK_INT(flight.nrecords, 3);
	CHECK_INT(flight.records[2].type, SD_CT_APPDATA);
	CHECK_INT(flight.consumed, 85 + 6 + 15);
	CHECK(!flight.partial);
	sd_flight_free(&flight);

	sd_buf_free(&out);
	sd_buf_free(&msg);
}

static void test_flight_errors(void)
{
	struct sd_buf out = SD_BUF_INIT, big = SD_BUF_INIT;
	static const uint8_t http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

	/* §5.1: zero-length handshake fragments MUST NOT be sent. */
	put_record(&out, SD_CT_HANDSHAKE, SD_TLS12, "\x02\x00\x00\x00", 4);
	put_record(&out, SD_CT_HANDSHAKE, SD_TLS12, NULL, 0);
	CHECK_INT(sd_flight_parse(out.data, out.len, &flight), -SD_ELENGTH);
	/* The failed parse left nothing to free (and freeing is harmless). */
	CHECK(flight.hs.data == NULL);
	CHECK_INT(flight.nmsgs, 0);
	sd_flight_free(&flight);

	/* A plaintext handshake record above 2^14 bytes. */
	sd_buf_reset(&out);
	sd_buf_u8(&out, SD_CT_HANDSHAKE);
	sd_buf_u16(&out, SD_TLS12);
	sd_buf_u16(&out, 16385);
	sd_buf_zero(&out, 16385);
	CHECK_INT(sd_flight_parse(out.data, out.len, &flight), -SD_ELENGTH);
	sd_flight_free(&flight);

	/* Not TLS at all. */
	CHECK_INT(sd_flight_parse(http, sizeof(http) - 1, &flight), -SD_ETYPE);
	sd_flight_free(&flight);
	/* TLS, then garbage: the garbage record is an error, not a tail. */
	sd_buf_reset(&out);
	put_record(&out, SD_CT_HANDSHAKE, SD_TLS12, "\x02\x00\x00\x00", 4);
	sd_buf_put(&out, http, sizeof(http) - 1);
	CHECK_INT(sd_flight_parse(out.data, out.len, &flight), -SD_ETYPE);
	sd_flight_free(&flight);

	/* More messages than a flight keeps. */
	sd_buf_reset(&out);
	for (int i = 0; i <= SD_FLIGHT_MAX_MSGS; i++)
		sd_buf_put(&big, "\x0b\x00\x00\x00", 4);
	put_record(&out, SD_CT_HANDSHAKE, SD_TLS12, big.data, big.len);
	CHECK_INT(sd_flight_parse(out.data, out.len, &flight), -SD_ELIMIT);
	sd_flight_free(&flight);
	/* Exactly the maximum is fine. */
	sd_buf_reset(&out);
	put_record(&out, SD_CT_HANDSHAKE, SD_TLS12, big.data, big.len - 4);
	CHECK_INT(sd_flight_parse(out.data, out.len, &flight), SD_FLIGHT_MAX_MSGS);
	sd_flight_free(&flight);

	/* More records than a flight keeps. */
	sd_buf_reset(&out);
	for (int i = 0; i <= SD_FLIGHT_MAX_RECORDS; i++)
		put_record(&out, SD_CT_CCS, SD_TLS12, "\x01", 1);
	CHECK_INT(sd_flight_parse(out.data, out.len, &flight), -SD_ELIMIT);
	sd_flight_free(&flight);

	sd_buf_free(&big);
	sd_buf_free(&out);
}

static void test_alert_parse(void)
{
	uint8_t level = 0, desc = 0;

	CHECK_INT(sd_alert_parse((const uint8_t *)"\x02\x28", 2, &level, &desc), 0);
	CHECK_INT(level, 2);
	CHECK_INT(desc, 40);
	CHECK_INT(sd_alert_parse((const uint8_t *)"\x01\x00", 2, &level, &desc), 0);
	CHECK_INT(level, 1);
	CHECK_INT(desc, 0);
	/* §6: the level is warning(1) or fatal(2). */
	CHECK_INT(sd_alert_parse((const uint8_t *)"\x03\x28", 2, &level, &desc), -SD_EVALUE);
	CHECK_INT(sd_alert_parse((const uint8_t *)"\x00\x28", 2, &level, &desc), -SD_EVALUE);
	CHECK_INT(sd_alert_parse((const uint8_t *)"\x02", 1, &level, &desc), -SD_ETRUNC);
	CHECK_INT(sd_alert_parse(NULL, 0, &level, &desc), -SD_ETRUNC);
	CHECK_INT(sd_alert_parse((const uint8_t *)"\x02\x28\x00", 3, &level, &desc),
		  -SD_ELENGTH);
}

int main(void)
{
	test_record_parse();
	test_record_build();
	test_flight_split();
	test_flight_two_in_one();
	test_flight_hrr();
	test_flight_stops();
	test_flight_errors();
	test_alert_parse();
	return check_done();
}
