/* SPDX-License-Identifier: MIT */
/* Matrix files: expansion order, de-duplication, expectation rules, errors with lines. */
#include <stdlib.h>

#include "check.h"
#include "shakedown/builtin.h"
#include "shakedown/matrix.h"

static struct sd_matrix m;
static struct sd_matrix_error merr;

static int parse(const char *text)
{
	sd_matrix_free(&m);
	return sd_matrix_parse(text, strlen(text), &m, &merr);
}

#define CHECK_ERR(text, code, lineno, words) do { \
	CHECK_INT(parse(text), code); \
	CHECK_INT(merr.line, lineno); \
	if (!strstr(merr.msg, words)) { \
		check_failed++; \
		fprintf(stderr, "%s:%d: message \"%s\" lacks \"%s\"\n", __FILE__, __LINE__, merr.msg, words); \
	} else { \
		check_passed++; \
	} \
} while (0)

static const struct sd_matrix_cell *cell(const char *id)
{
	for (size_t i = 0; i < m.ncells; i++)
		if (strcmp(m.cells[i].id, id) == 0)
			return &m.cells[i];
	return NULL;
}

static void test_expansion(void)
{
	const struct sd_matrix_cell *c;
	char ex[64];

	CHECK_INT(parse("[cells a]\n"
			"profiles = classic chrome-pq\n"
			"paths = clean mss-536\n"
			"servers = openssl single-read\n"
			"shapes = default records:512\n"
			"families = both\n"), 0);
	CHECK_INT(m.ncells, 2 * 2 * 2 * 2 * 2);
	/* path, server, family, profile, shape: neighbours share a lab */
	CHECK_STR(m.cells[0].id, "classic/clean/openssl");
	CHECK_STR(m.cells[1].id, "classic/clean/openssl/records:512");
	CHECK_STR(m.cells[2].id, "chrome-pq/clean/openssl");
	CHECK_STR(m.cells[4].id, "classic/clean/openssl/ipv6");
	CHECK_STR(m.cells[8].id, "classic/clean/single-read");
	CHECK_STR(m.cells[16].id, "classic/mss-536/openssl");
	for (size_t i = 0; i < m.ncells; i++)
		CHECK_INT(m.cells[i].index, i);
	c = cell("chrome-pq/mss-536/single-read/records:512/ipv6");
	CHECK(c != NULL);
	if (c) {
		CHECK(c->ipv6);
		CHECK_STR(m.shapes[c->shape].name, "records:512");
		sd_matrix_expect_str(c->expect, ex, sizeof(ex));
		CHECK_STR(ex, "ok|ok-hrr");
		CHECK_INT(c->rule_line, 0);
	}
	CHECK_STR(m.seed, "matrix");
}

static void test_rules(void)
{
	const struct sd_matrix_cell *c;
	char ex[64];

	CHECK_INT(parse("[matrix]\nseed = s1\n"
			"[cells a]\n"
			"profiles = classic chrome-pq\n"
			"  firefox-pq\n"
			"paths = clean tunnel-1280-blackhole\n"
			"shapes = default gap:50\n"
			"expect = ok\n"
			"[expect]\n"
			"blackhole = * tunnel-1280-blackhole\n"
			"ok|ok-hrr = classic tunnel-*\n"
			"reset | closed = *-pq clean openssl gap:50\n"
			"any = firefox-pq clean * gap:50 ipv4\n"), 0);
	CHECK_STR(m.seed, "s1");
	CHECK_INT(m.ncells, 12);
	c = cell("chrome-pq/tunnel-1280-blackhole/openssl");
	CHECK(c && c->expect == 1u << SD_BLACKHOLE && c->rule_line == 10);
	c = cell("classic/tunnel-1280-blackhole/openssl/gap:50");
	CHECK(c && c->rule_line == 11);
	sd_matrix_expect_str(c ? c->expect : 0, ex, sizeof(ex));
	CHECK_STR(ex, "ok|ok-hrr");
	c = cell("chrome-pq/clean/openssl/gap:50");
	sd_matrix_expect_str(c ? c->expect : 0, ex, sizeof(ex));
	CHECK_STR(ex, "reset|closed");
	c = cell("firefox-pq/clean/openssl/gap:50");
	CHECK(c && c->expect == 0 && c->rule_line == 13);
	c = cell("classic/clean/openssl");
	CHECK(c && c->expect == 1u << SD_OK && c->rule_line == 8);
	CHECK(sd_matrix_expect_met(0, SD_BLACKHOLE));
	CHECK(!sd_matrix_expect_met(0, SD_ERROR));
	CHECK(sd_matrix_expect_met(1u << SD_OK | 1u << SD_OK_HRR, SD_OK_HRR));
	CHECK(!sd_matrix_expect_met(1u << SD_OK, SD_OK_HRR));
}

static void test_dedup(void)
{
	CHECK_INT(parse("[cells a]\nprofiles = classic chrome-pq\npaths = clean\n"
			"[cells b]\nprofiles = chrome-pq firefox-pq\npaths = clean\nexpect = blackhole\n"), 0);
	CHECK_INT(m.ncells, 3);
	CHECK_STR(m.cells[1].id, "chrome-pq/clean/openssl");
	CHECK_INT(m.cells[1].group, 0);      /* where it first appears */
	CHECK_INT(m.cells[1].expect, 1u << SD_OK | 1u << SD_OK_HRR);
	CHECK_STR(m.cells[2].id, "firefox-pq/clean/openssl");
	CHECK_INT(m.cells[2].index, 2);
	CHECK_STR(m.groups[m.cells[2].group].name, "b");
}

/* Real clients take the profile slot: rows after the profiles, ids, rules. */
static void test_clients(void)
{
	CHECK_INT(parse("[cells a]\nprofiles = classic\nclients = chromium curl\n"
			"paths = clean tunnel-1280-blackhole\n"
			"[expect]\nblackhole = * tunnel-1280-blackhole\nok = curl tunnel-1280-blackhole\n"), 0);
	CHECK_INT(m.ncells, 6);
	CHECK_STR(m.cells[0].id, "classic/clean/openssl");
	CHECK(!m.cells[0].client);
	CHECK_STR(m.cells[1].id, "chromium/clean/openssl");
	CHECK(m.cells[1].client);
	CHECK(m.client[m.cells[1].profile]);
	CHECK_STR(m.cells[2].id, "curl/clean/openssl");
	CHECK(m.cells[2].client);
	CHECK_STR(m.cells[4].id, "chromium/tunnel-1280-blackhole/openssl");
	CHECK_INT(m.cells[4].expect, 1u << SD_BLACKHOLE);
	CHECK_STR(m.cells[5].id, "curl/tunnel-1280-blackhole/openssl");
	CHECK_INT(m.cells[5].expect, 1u << SD_OK);
	/* Clients alone are rows enough. */
	CHECK_INT(parse("[cells a]\nclients = node-pq\npaths = clean\n"), 0);
	CHECK_INT(m.ncells, 1);
	CHECK(m.cells[0].client);
	CHECK_ERR("[cells a]\nprofiles = curl\n[cells b]\nclients = curl\n", -SD_EVALUE, 4,
		  "'curl' is listed as a profile and as a client");
	CHECK_ERR("[cells a]\nclients = Chrom/ium\n", -SD_EVALUE, 2, "not a client name");
	CHECK_ERR("[cells a]\nclients = curl curl\n", -SD_EDUP, 2, "'curl' twice");
}

static void test_errors(void)
{
	CHECK_ERR("", -SD_EVALUE, 0, "no [cells NAME] section");
	CHECK_ERR("[cells a]\npaths = clean\n", -SD_EVALUE, 1, "profiles and paths are required");
	CHECK_ERR("[cells a]\nprofiles = x\npaths = clean\nfoo = 1\n", -SD_EUNKNOWN, 4, "unknown key 'foo'");
	CHECK_ERR("[cellz]\n", -SD_EUNKNOWN, 1, "unknown section [cellz]");
	CHECK_ERR("profiles = x\n", -SD_ESYNTAX, 1, "outside a section");
	CHECK_ERR("[cells a]\nprofiles = a a\n", -SD_EDUP, 2, "'a' twice");
	CHECK_ERR("[cells a]\nprofiles = a\nprofiles = b\n", -SD_EDUP, 3, "first on line 2");
	CHECK_ERR("[cells a]\nprofiles = x\npaths = y\nshapes = split@\n", -SD_EVALUE, 4, "shapes: 'split@'");
	CHECK_ERR("[cells a]\nservers = Open_SSL\n", -SD_EVALUE, 2, "not a server name");
	CHECK_ERR("[cells a]\nfamilies = ipv5\n", -SD_EVALUE, 2, "ipv5");
	CHECK_ERR("[cells a]\nexpect = okay\n", -SD_EUNKNOWN, 2, "'okay' is not an outcome");
	CHECK_ERR("[cells a]\nexpect = any|ok\n", -SD_EVALUE, 2, "'any' cannot be combined");
	CHECK_ERR("[cells a]\nchain_size = -1\n", -SD_EVALUE, 2, "chain_size");
	CHECK_ERR("[cells a]\nchain_size = 99999999\n", -SD_EVALUE, 2, "chain_size");
	CHECK_ERR("[cells a]\n[cells a]\n", -SD_EDUP, 2, "[cells a] twice");
	CHECK_ERR("[expect]\nok = clean\n", -SD_EVALUE, 2, "at least PROFILE and PATH");
	CHECK_ERR("[expect]\nok = a b c d e f\n", -SD_EVALUE, 2, "at most 5 patterns");
	CHECK_ERR("[expect]\nbroken = * *\n", -SD_EUNKNOWN, 2, "'broken' is not an outcome");
	CHECK_ERR("[matrix]\nseed = \n", -SD_EVALUE, 2, "seed");
	CHECK_ERR("[matrix]\ncolour = red\n", -SD_EUNKNOWN, 2, "unknown key 'colour'");
	CHECK_ERR("[cells a]\nprofiles = x\npaths = y\n[cells b]\nprofiles =\npaths = y\n", -SD_EVALUE, 5,
		  "empty list");
	/* Too many cells: 64 x 64 x 64 */
	{
		static char big[65536];
		size_t w = 0;

		w += (size_t)snprintf(big + w, sizeof(big) - w, "[cells a]\nprofiles = ");
		for (int i = 0; i < 60; i++)
			w += (size_t)snprintf(big + w, sizeof(big) - w, "\n  p%d", i);
		w += (size_t)snprintf(big + w, sizeof(big) - w, "\npaths = ");
		for (int i = 0; i < 60; i++)
			w += (size_t)snprintf(big + w, sizeof(big) - w, "\n  q%d", i);
		w += (size_t)snprintf(big + w, sizeof(big) - w, "\nshapes = ");
		for (int i = 0; i < 10; i++)
			w += (size_t)snprintf(big + w, sizeof(big) - w, "\n  gap:%d", i);
		CHECK_INT(parse(big), -SD_ELIMIT);
		CHECK(strstr(merr.msg, "more than") != NULL);
	}
}

static void test_builtin(void)
{
	size_t n = 0;

	for (const struct sd_builtin_file *f = sd_builtin_matrices; f->name; f++, n++) {
		CHECK_INT(sd_matrix_parse(f->text, f->len, &m, &merr), 0);
		if (strcmp(f->name, "default") == 0) {
			/* Issue 5: at least 120 cells, every built-in profile. */
			CHECK(m.ncells >= 120);
			CHECK(m.nprofiles >= 9);
		}
		sd_matrix_free(&m);
	}
	CHECK(n >= 1);
}

int main(void)
{
	test_expansion();
	test_rules();
	test_dedup();
	test_clients();
	test_errors();
	test_builtin();
	sd_matrix_free(&m);
	return check_done();
}
