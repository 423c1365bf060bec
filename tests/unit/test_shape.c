/* SPDX-License-Identifier: MIT */
/* The --shape flag: every item, its limits and messages, the canonical text, the cut plan. */
#include <errno.h>

#include "check.h"
#include "shakedown/shape.h"

static struct sd_shape s;
static char err[256];

static void test_default(void)
{
	char txt[64];

	CHECK_INT(sd_shape_parse(NULL, &s, err, sizeof(err)), 0);
	CHECK_INT(s.nsplit, 0);
	CHECK_INT(sd_shape_parse("", &s, err, sizeof(err)), 0);
	/* a matrix's name for it, accepted by run --shape as well */
	CHECK_INT(sd_shape_parse("default", &s, err, sizeof(err)), 0);
	CHECK_INT(s.nsplit + s.records + s.ipfrag + s.gap_ms + s.dup + s.no_pmtud, 0);
	CHECK_INT(sd_shape_parse("default,gap:5", &s, err, sizeof(err)), -SD_ESYNTAX);
	CHECK_INT(sd_shape_parse("mss", &s, err, sizeof(err)), 0);
	CHECK_INT(s.nsplit + s.records + s.ipfrag + s.gap_ms + s.dup + s.no_pmtud, 0);
	CHECK_INT(s.order, SD_SHAPE_ORDER_NORMAL);
	CHECK_INT(sd_shape_format(&s, txt, sizeof(txt)), 3);
	CHECK_STR(txt, "mss");
	CHECK_STR(err, "");
}

static void test_items(void)
{
	char txt[256];

	CHECK_INT(sd_shape_parse(" split@100+600 , records:512,ipfrag:603,gap:20,"
				 "order:reverse,dup,no-pmtud,mss", &s, err, sizeof(err)), 0);
	CHECK_INT(s.nsplit, 2);
	CHECK_INT(s.split[0].offset, 100);
	CHECK_STR(s.split[0].field, "");
	CHECK_INT(s.split[1].offset, 600);
	CHECK_INT(s.records, 512);
	CHECK_INT(s.ipfrag, 600);     /* rounded down to a multiple of 8 */
	CHECK_INT(s.gap_ms, 20);
	CHECK_INT(s.order, SD_SHAPE_ORDER_REVERSE);
	CHECK(s.dup);
	CHECK(s.no_pmtud);
	CHECK(!sd_shape_has_fields(&s));
	CHECK_INT(sd_shape_format(&s, txt, sizeof(txt)),
		  (int)strlen("split@100+600,records:512,ipfrag:600,gap:20,order:reverse,dup,no-pmtud"));
	CHECK_STR(txt, "split@100+600,records:512,ipfrag:600,gap:20,order:reverse,dup,no-pmtud");

	/* Field names are kept as written; several split items add up. */
	CHECK_INT(sd_shape_parse("split@key_share.X25519MLKEM768,split@7+key_share,order:swap",
				 &s, err, sizeof(err)), 0);
	CHECK_INT(s.nsplit, 3);
	CHECK_STR(s.split[0].field, "key_share.X25519MLKEM768");
	CHECK_INT(s.split[1].offset, 7);
	CHECK_STR(s.split[2].field, "key_share");
	CHECK(sd_shape_has_fields(&s));
	CHECK_INT(s.order, SD_SHAPE_ORDER_SWAP);
	CHECK(sd_shape_format(&s, txt, sizeof(txt)) > 0);
	CHECK_STR(txt, "split@key_share.X25519MLKEM768+7+key_share,order:swap");

	/* Limits that are allowed. */
	CHECK_INT(sd_shape_parse("gap:0", &s, err, sizeof(err)), 0);
	CHECK_INT(sd_shape_parse("gap:10000,ipfrag:8,records:16384,split@1048576", &s, err,
				 sizeof(err)), 0);
	CHECK_INT(s.ipfrag, 8);
	CHECK_INT(s.records, 16384);
	CHECK_INT(sd_shape_parse("ipfrag:65535", &s, err, sizeof(err)), 0);
	CHECK_INT(s.ipfrag, 65528);
}

#define BAD(spec, code, msg) do { \
	CHECK_INT(sd_shape_parse(spec, &s, err, sizeof(err)), code); \
	CHECK_STR(err, msg); \
	CHECK_INT(s.nsplit + s.records + s.gap_ms, 0); \
} while (0)

static void test_errors(void)
{
	BAD("bogus", -SD_ESYNTAX, "shape item \"bogus\": unknown item (expected mss, split@, "
	    "records:, ipfrag:, gap:, order:, dup or no-pmtud)");
	BAD("gap:20000", -SD_EVALUE, "shape item \"gap:20000\": gap must be 0..10000");
	BAD("gap:", -SD_ESYNTAX, "shape item \"gap:\": gap needs a decimal number");
	BAD("gap:-1", -SD_ESYNTAX, "shape item \"gap:-1\": gap needs a decimal number");
	BAD("gap:1x", -SD_ESYNTAX, "shape item \"gap:1x\": gap needs a decimal number");
	BAD("gap:99999999999", -SD_ESYNTAX, "shape item \"gap:99999999999\": gap needs a decimal number");
	BAD("records:0", -SD_EVALUE, "shape item \"records:0\": records must be 1..16384");
	BAD("records:16385", -SD_EVALUE, "shape item \"records:16385\": records must be 1..16384");
	BAD("ipfrag:7", -SD_EVALUE, "shape item \"ipfrag:7\": ipfrag must be 8..65535");
	BAD("ipfrag:65536", -SD_EVALUE, "shape item \"ipfrag:65536\": ipfrag must be 8..65535");
	BAD("order:random", -SD_ESYNTAX, "shape item \"order:random\": order must be reverse or swap");
	BAD("gap:1,gap:2", -SD_EVALUE, "shape item \"gap:2\": given twice");
	BAD("dup,dup", -SD_EVALUE, "shape item \"dup\": given twice");
	BAD("mss,,dup", -SD_ESYNTAX, "shape: item 2 is empty");
	BAD("dup,", -SD_ESYNTAX, "shape: item 2 is empty");
	BAD(",", -SD_ESYNTAX, "shape: item 1 is empty");
	BAD("split@", -SD_ESYNTAX,
	    "shape item \"split@\": expected split@OFFSET[+OFFSET...] or split@FIELD");
	BAD("split@100+", -SD_ESYNTAX, "shape item \"split@100+\": empty split point");
	BAD("split@+5", -SD_ESYNTAX, "shape item \"split@+5\": empty split point");
	BAD("split@0", -SD_EVALUE, "shape item \"split@0\": split offset 0 out of range 1..1048576");
	BAD("split@1048577", -SD_EVALUE,
	    "shape item \"split@1048577\": split offset 1048577 out of range 1..1048576");
	BAD("split@12ab", -SD_ESYNTAX, "shape item \"split@12ab\": split point \"12ab\" is not a decimal offset");
	BAD("split@key share", -SD_ESYNTAX, "shape item \"split@key share\": bad character ' ' in field name");
	BAD("split@_x/y", -SD_ESYNTAX, "shape item \"split@_x/y\": bad character '/' in field name");
	BAD("split@a0123456789012345678901234567890123456789012345678901234567890123", -SD_ESYNTAX,
	    "shape item \"split@a01234567890123456789012345678901234567890...\": "
	    "field name longer than 63 bytes");
	BAD("MSS", -SD_ESYNTAX, "shape item \"MSS\": unknown item (expected mss, split@, "
	    "records:, ipfrag:, gap:, order:, dup or no-pmtud)");

	/* 32 split points fit, the 33rd does not. */
	{
		char spec[400] = "split@1";
		size_t n = strlen(spec);

		for (int i = 2; i <= 32; i++)
			n += (size_t)snprintf(spec + n, sizeof(spec) - n, "+%d", i);
		CHECK_INT(sd_shape_parse(spec, &s, err, sizeof(err)), 0);
		CHECK_INT(s.nsplit, 32);
		snprintf(spec + n, sizeof(spec) - n, "+33");
		CHECK_INT(sd_shape_parse(spec, &s, err, sizeof(err)), -SD_EVALUE);
		CHECK(strstr(err, "more than 32 split points") != NULL);
	}
	/* No room for a message is not a crash. */
	CHECK_INT(sd_shape_parse("bogus", &s, NULL, 0), -SD_ESYNTAX);
	CHECK_INT(sd_shape_parse("bogus", &s, err, 1), -SD_ESYNTAX);
	CHECK_STR(err, "");
}

static void test_format_space(void)
{
	char small[8];

	CHECK_INT(sd_shape_parse("split@100+600", &s, err, sizeof(err)), 0);
	CHECK_INT(sd_shape_format(&s, small, sizeof(small)), -ENOSPC);
	CHECK_INT(strlen(small), 7);
	CHECK_INT(sd_shape_format(&s, small, 0), -ENOSPC);
}

static void test_cut(void)
{
	struct sd_shape_piece p[16];
	size_t cuts[] = { 600, 100, 100, 0, 5000 };
	size_t idx[5];

	/* A 1931-byte flight at MSS 1460: the kernel's 1460 + 471. */
	CHECK_INT(sd_shape_cut(0, 1931, NULL, 0, 1460, p, 16), 2);
	CHECK_INT(p[0].off, 0);
	CHECK_INT(p[0].len, 1460);
	CHECK_INT(p[1].off, 1460);
	CHECK_INT(p[1].len, 471);
	/* Split points first, then the MSS; duplicates and outsiders ignored. */
	CHECK_INT(sd_shape_cut(0, 1931, cuts, 5, 1460, p, 16), 3);
	CHECK_INT(p[0].len, 100);
	CHECK_INT(p[1].off, 100);
	CHECK_INT(p[1].len, 500);
	CHECK_INT(p[2].off, 600);
	CHECK_INT(p[2].len, 1331);
	CHECK_INT(sd_shape_cut(0, 1931, cuts, 5, 500, p, 16), 5);
	CHECK_INT(p[2].off, 600);
	CHECK_INT(p[2].len, 500);
	CHECK_INT(p[4].off, 1600);
	CHECK_INT(p[4].len, 331);
	/* A range further down the stream (a second flight). */
	CHECK_INT(sd_shape_cut(1931, 2500, (size_t[]){ 2000 }, 1, 1460, p, 16), 2);
	CHECK_INT(p[0].off, 1931);
	CHECK_INT(p[0].len, 69);
	CHECK_INT(p[1].len, 500);
	CHECK_INT(sd_shape_cut(5, 5, NULL, 0, 1460, p, 16), 0);
	CHECK_INT(sd_shape_cut(0, 10, NULL, 0, 0, p, 16), -SD_EVALUE);
	CHECK_INT(sd_shape_cut(10, 0, NULL, 0, 1, p, 16), -SD_EVALUE);
	CHECK_INT(sd_shape_cut(0, 100, NULL, 0, 1, p, 16), -SD_ELIMIT);

	sd_shape_order_apply(SD_SHAPE_ORDER_NORMAL, idx, 3);
	CHECK(idx[0] == 0 && idx[1] == 1 && idx[2] == 2);
	sd_shape_order_apply(SD_SHAPE_ORDER_REVERSE, idx, 3);
	CHECK(idx[0] == 2 && idx[1] == 1 && idx[2] == 0);
	sd_shape_order_apply(SD_SHAPE_ORDER_SWAP, idx, 3);
	CHECK(idx[0] == 1 && idx[1] == 0 && idx[2] == 2);
	sd_shape_order_apply(SD_SHAPE_ORDER_SWAP, idx, 1);
	CHECK(idx[0] == 0);
}

int main(void)
{
	test_default();
	test_items();
	test_errors();
	test_format_space();
	test_cut();
	return check_done();
}
