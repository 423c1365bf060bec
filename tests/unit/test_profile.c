/* SPDX-License-Identifier: MIT */
/* Profile files: the built-ins, user text, and errors with their lines. */
#include <stdlib.h>

#include "check.h"
#include "shakedown/hello.h"
#include "shakedown/profile.h"
#include "shakedown/rng.h"
#include "shakedown/tls.h"

static struct sd_profile prof;
static struct sd_profile_error perr;

static int parse(const char *text)
{
	return sd_profile_parse(text, strlen(text), "user", &prof, &perr);
}

static void test_builtins(void)
{
	size_t n = 0;

	for (const struct sd_builtin_file *f = sd_builtin_profiles; f->name; f++) {
		int ret = sd_profile_builtin(f->name, &prof, &perr);

		CHECK_INT(ret, 0);
		if (ret < 0)
			fprintf(stderr, "%s:%d: %s\n", f->name, perr.line, perr.msg);
		CHECK_STR(prof.name, f->name);
		CHECK(prof.description[0] != 0);
		CHECK(prof.ciphers.n > 0);
		CHECK(prof.exts.n > 0);
		CHECK(prof.shares.n > 0);
		n++;
	}
	CHECK_INT(n, 9);

	CHECK_INT(sd_profile_builtin("no-such-profile", &prof, &perr), -SD_EUNKNOWN);
	CHECK(strstr(perr.msg, "no-such-profile") != NULL);

	/* A few values from chrome-pq, including its continuation lines. */
	CHECK_INT(sd_profile_builtin("chrome-pq", &prof, &perr), 0);
	CHECK_INT(prof.ciphers.n, 16);
	CHECK_INT(prof.ciphers.v[0], SD_GREASE_SLOT);
	CHECK_INT(prof.ciphers.v[15], 0x0035);
	CHECK_INT(prof.shares.n, 3);
	CHECK_INT(prof.shares.v[1], SD_GROUP_X25519MLKEM768);
	CHECK_INT(prof.sigalgs.v[1], 0x0904);
	CHECK_INT(prof.sigalgs.n, 12);
	CHECK_INT(prof.exts.v[prof.exts.n - 1], SD_GREASE_SLOT);
	CHECK_INT(prof.grease_len[prof.exts.n - 1], 1);
	CHECK_INT(prof.ech_grease_payload, 176);
	CHECK_INT(prof.padding, SD_PAD_BORINGSSL);
	CHECK(prof.shuffle);
	CHECK_INT(prof.nalpn, 2);
	CHECK_STR(prof.alpn[1], "http/1.1");
	CHECK_INT(prof.nraw, 1);
	CHECK_INT(prof.raw[0].type, SD_EXT_TRUST_ANCHORS);
	CHECK_INT(prof.raw[0].len, 186);
	CHECK_INT(prof.raw[0].data[0], 0x00);
	CHECK_INT(prof.raw[0].data[1], 0xb8);
	CHECK_INT(prof.record_version, SD_TLS10);
	CHECK_STR(prof.sni, "");
}

static const char user[] =
	"; a user profile\n"                                     /* 1 */
	"# with both comment styles\n"                           /* 2 */
	"\n"                                                     /* 3 */
	"[profile]\n"                                            /* 4 */
	"description = test profile\n"                           /* 5 */
	"ciphers = TLS_AES_128_GCM_SHA256,\n"                    /* 6 */
	"  TLS_AES_256_GCM_SHA384\n"                             /* 7 */
	"\t; an indented comment between continuation lines\n"   /* 8 */
	"\tTLS_CHACHA20_POLY1305_SHA256\n"                       /* 9 */
	"groups = GREASE, x25519, 0x11ec, 23\n"                  /* 10 */
	"shares = x25519\n"                                      /* 11 */
	"extensions = server_name, supported_groups, key_share,\n" /* 12 */
	"\n"                                                     /* 13 */
	"  supported_versions, GREASE+4\n"                       /* 14 */
	"session_id = 0\n"                                       /* 15 */
	"sni = example.org\n"                                    /* 16 */
	"record_size_limit = 0x4001\r\n"                         /* 17 */
	"raw.0x7777 = 01 02 0a0B\n";                             /* 18 */

static void test_user(void)
{
	struct sd_hello_state *st = calloc(1, sizeof(*st));
	struct sd_hello *h = calloc(1, sizeof(*h));
	struct sd_buf msg = SD_BUF_INIT;
	struct sd_rng rng;

	CHECK_INT(parse(user), 0);
	CHECK_STR(perr.msg, "");
	CHECK_STR(prof.name, "user");
	CHECK_STR(prof.description, "test profile");
	CHECK_INT(prof.ciphers.n, 3);
	CHECK_INT(prof.ciphers.v[0], 0x1301);
	CHECK_INT(prof.ciphers.v[1], 0x1302);
	CHECK_INT(prof.ciphers.v[2], 0x1303);
	CHECK_INT(prof.groups.n, 4);
	CHECK_INT(prof.groups.v[0], SD_GREASE_SLOT);
	CHECK_INT(prof.groups.v[1], SD_GROUP_X25519);
	CHECK_INT(prof.groups.v[2], SD_GROUP_X25519MLKEM768);
	CHECK_INT(prof.groups.v[3], SD_GROUP_SECP256R1);
	CHECK_INT(prof.shares.n, 1);
	CHECK_INT(prof.exts.n, 5);
	CHECK_INT(prof.exts.v[3], SD_EXT_SUPPORTED_VERSIONS);
	CHECK_INT(prof.exts.v[4], SD_GREASE_SLOT);
	CHECK_INT(prof.grease_len[4], 4);
	CHECK_INT(prof.session_id_len, 0);
	CHECK_STR(prof.sni, "example.org");
	CHECK_INT(prof.record_size_limit, 16385);
	CHECK_INT(prof.nraw, 1);
	CHECK_INT(prof.raw[0].type, 0x7777);
	CHECK_INT(prof.raw[0].len, 4);
	CHECK_MEM(prof.raw[0].data, "\x01\x02\x0a\x0b", 4);
	/* Defaults for what the file leaves out. */
	CHECK_INT(prof.record_version, SD_TLS10);
	CHECK_INT(prof.versions.n, 1);
	CHECK_INT(prof.versions.v[0], SD_TLS13);
	CHECK(!prof.shuffle);

	/* ...and it builds into a hello that parses back. */
	if (!st || !h)
		goto out;
	CHECK_INT(sd_rng_seed(&rng, "test"), 0);
	CHECK_INT(sd_hello_build(&prof, NULL, &rng, st, &msg), 0);
	CHECK_INT(sd_hello_parse(msg.data, msg.len, h), 0);
	CHECK_INT(h->sni_len, 11);
	CHECK_INT(h->session_id.len, 0);
	/* server_name, supported_groups, key_share, supported_versions, GREASE;
	 * the raw 0x7777 is not in the order, so it is not sent. */
	CHECK_INT(h->next, 5);
	CHECK_INT(h->ext[4].len, 4);
	CHECK(sd_tls_is_grease(h->ext[4].type));
	CHECK(sd_hello_ext(h, 0x7777) == NULL);
out:
	sd_buf_free(&msg);
	free(st);
	free(h);
}

/* Six lines of preamble (with a continuation, a blank and a comment), so an
 * error on the line after it is line 7 only if the map of lines is right. */
#define PRE \
	"[profile]\n"                               /* 1 */ \
	"ciphers = TLS_AES_128_GCM_SHA256,\n"       /* 2 */ \
	"  TLS_AES_256_GCM_SHA384\n"                /* 3 */ \
	"\n"                                        /* 4 */ \
	"; comment\n"                               /* 5 */ \
	"sigalgs = ed25519\n"                       /* 6 */

#define CHECK_ERR(text, code, lineno) do { \
	CHECK_INT(parse(text), code); \
	CHECK_INT(perr.line, lineno); \
} while (0)
#define CHECK_MSG(s) do { \
	if (!strstr(perr.msg, s)) { \
		check_failed++; \
		fprintf(stderr, "%s:%d: message \"%s\" lacks \"%s\"\n", __FILE__, \
			__LINE__, perr.msg, s); \
	} else { \
		check_passed++; \
	} \
} while (0)

static void test_errors(void)
{
	CHECK_INT(parse(PRE), 0);

	CHECK_ERR(PRE "colour = blue\n", -SD_EUNKNOWN, 7);
	CHECK_MSG("colour");
	CHECK_ERR(PRE "groups = x25519, bogus_group, secp256r1\n", -SD_EUNKNOWN, 7);
	CHECK_MSG("groups");
	CHECK_MSG("bogus_group");
	CHECK_ERR(PRE "ciphers = TLS_AES_128_GCM_SHA256\n", -SD_EDUP, 7);
	CHECK_MSG("ciphers");
	CHECK_ERR(PRE "shares = x25519, X25519MLKEM768, X25519\n", -SD_EDUP, 7);
	CHECK_MSG("shares");
	CHECK_MSG("x25519");
	CHECK_ERR(PRE "session_id = 40\n", -SD_EVALUE, 7);
	CHECK_MSG("session_id");
	CHECK_MSG("40");
	CHECK_ERR(PRE "record_size_limit = 63\n", -SD_EVALUE, 7);
	CHECK_MSG("record_size_limit");
	CHECK_MSG("63");
	CHECK_ERR(PRE "shuffle_extensions = maybe\n", -SD_EVALUE, 7);
	CHECK_MSG("maybe");
	CHECK_ERR(PRE "padding = lots\n", -SD_EVALUE, 7);
	CHECK_MSG("lots");
	CHECK_ERR(PRE "raw.key_share = 0g\n", -SD_EVALUE, 7);
	CHECK_MSG("0g");
	CHECK_ERR(PRE "raw.no_such_ext = 00\n", -SD_EUNKNOWN, 7);
	CHECK_MSG("no_such_ext");
	CHECK_ERR(PRE "extensions = key_share, supported_versions, key_share\n", -SD_EDUP, 7);
	CHECK_MSG("key_share");
	/* Two GREASE extensions at most: the builder has two distinct values. */
	CHECK_ERR(PRE "extensions = GREASE, key_share, GREASE+1, GREASE\n", -SD_EVALUE, 7);
	CHECK_MSG("extensions");
	CHECK_MSG("GREASE");
	CHECK_ERR(PRE "extensions = GREASE+256\n", -SD_EVALUE, 7);
	CHECK_MSG("GREASE+256");
	/* RFC 8446 §4.1.2: at least one cipher suite. */
	CHECK_ERR("[profile]\nciphers =\n", -SD_EVALUE, 2);
	CHECK_ERR("[profile]\nciphers = ,\n", -SD_EVALUE, 2);
	CHECK_MSG("ciphers");
	CHECK_ERR(PRE "cert_compression = brotli, lzma\n", -SD_EUNKNOWN, 7);
	CHECK_MSG("lzma");
	CHECK_ERR(PRE "alpn = h2, " "this-protocol-name-is-longer-than-31\n", -SD_ELIMIT, 7);
	CHECK_MSG("alpn");

	/* Not INI at all. */
	CHECK_ERR(PRE "this line is not a key\n", -SD_ESYNTAX, 7);
	CHECK_ERR(PRE "[profile\n", -SD_ESYNTAX, 7);
	/* A NUL byte: text, not binary. */
	{
		static const char nul[] = PRE "sni = a\0b\n";

		CHECK_INT(sd_profile_parse(nul, sizeof(nul) - 1, "user", &prof, &perr),
			  -SD_ESYNTAX);
		CHECK_INT(perr.line, 7);
		CHECK_MSG("NUL");
	}
	/* Keys outside [profile]: before any section, or in another one. */
	CHECK_ERR("sni = example.com\n[profile]\n", -SD_ESYNTAX, 1);
	CHECK_MSG("sni");
	CHECK_ERR(PRE "[other]\n" "sni = example.com\n", -SD_ESYNTAX, 8);
	CHECK_MSG("sni");
	CHECK_MSG("other");

	/* An error in a continuation line is reported at its key's line. */
	CHECK_ERR("[profile]\n"
		  "groups = x25519,\n"
		  "  bogus_group\n", -SD_EUNKNOWN, 2);
	CHECK_MSG("bogus_group");

	/* Line numbers stay right after many continuation lines. */
	CHECK_ERR("[profile]\n"
		  "ciphers = TLS_AES_128_GCM_SHA256\n"
		  "  TLS_AES_256_GCM_SHA384\n"
		  "  TLS_CHACHA20_POLY1305_SHA256\n"
		  "groups = x25519\n"
		  "  secp256r1\n"
		  "\n"
		  "  secp384r1\n"
		  "session_id = 99\n", -SD_EVALUE, 9);

	/* shares without extensions cannot be built. */
	CHECK_INT(parse("[profile]\nshares = x25519\n"), -SD_EVALUE);
	CHECK_MSG("extensions");
}

/* inih strips a UTF-8 byte order mark and treats any indented line after a
 * key as its continuation; the line map must agree, or keys get the wrong
 * lines and continuations turn into keys given twice. */
static void test_line_map(void)
{
	CHECK_ERR("\xef\xbb\xbf[profile]\n"
		  "ciphers = TLS_AES_128_GCM_SHA256,\n"
		  "  TLS_AES_256_GCM_SHA384\n"
		  "colour = blue\n", -SD_EUNKNOWN, 4);
	CHECK_INT(parse("\xef\xbb\xbf[profile]\n"
			"ciphers = TLS_AES_128_GCM_SHA256,\n"
			"  TLS_AES_256_GCM_SHA384\n"), 0);
	CHECK_INT(prof.ciphers.n, 2);

	/* An indented "[x]" after a key is a continuation to inih. */
	CHECK_ERR("[profile]\n"
		  "ciphers = TLS_AES_128_GCM_SHA256\n"
		  "  [x]\n"
		  "groups = x25519\n", -SD_EUNKNOWN, 2);
	CHECK_MSG("[x]");

	/* Indentation is any white space, as inih sees it. */
	CHECK_INT(parse("[profile]\n"
			"ciphers = TLS_AES_128_GCM_SHA256\n"
			"\v TLS_AES_256_GCM_SHA384\n"
			"groups = x25519\n"), 0);
	CHECK_INT(prof.ciphers.n, 2);
	CHECK_INT(prof.groups.n, 1);

	/* CRLF line ends. */
	CHECK_INT(parse("[profile]\r\n"
			"ciphers = TLS_AES_128_GCM_SHA256,\r\n"
			"  TLS_AES_256_GCM_SHA384\r\n"
			"groups = x25519\r\n"), 0);
	CHECK_INT(prof.ciphers.n, 2);

	/* inih reads lines of at most 198 characters and would cut a longer
	 * one into pieces; that must be an error at that line, not a
	 * silently different parse. */
	{
		char text[1024];
		size_t n;

		n = (size_t)snprintf(text, sizeof(text), "[profile]\nciphers = ");
		while (n < 10 + 210)
			n += (size_t)snprintf(text + n, sizeof(text) - n, "TLS_AES_128_GCM_SHA256, ");
		snprintf(text + n, sizeof(text) - n, "\ngroups = x25519\n");
		CHECK_ERR(text, -SD_ESYNTAX, 2);
		CHECK_MSG("198");
		/* 198 characters exactly are fine. */
		n = (size_t)snprintf(text, sizeof(text), "[profile]\ndescription = ");
		while (n < 10 + 198)
			text[n++] = 'x';
		snprintf(text + n, sizeof(text) - n, "\ngroups = x25519\n");
		CHECK_INT(parse(text), 0);
		CHECK_INT(strlen(prof.description), 198 - 14);
	}
}

static void test_numbers(void)
{
	/* Numbers are decimal or 0x hex; a leading zero is not octal. */
	CHECK_INT(parse("[profile]\nsession_id = 032\n"), 0);
	CHECK_INT(prof.session_id_len, 32);
	CHECK_INT(parse("[profile]\nsession_id = 0x20\n"), 0);
	CHECK_INT(prof.session_id_len, 32);
	CHECK_ERR("[profile]\nsession_id = 0x21\n", -SD_EVALUE, 2);
	CHECK_ERR("[profile]\nsession_id = -1\n", -SD_EVALUE, 2);
	CHECK_ERR("[profile]\nsession_id = 1e1\n", -SD_EVALUE, 2);
	CHECK_ERR("[profile]\nsession_id =\n", -SD_EVALUE, 2);
	CHECK_INT(parse("[profile]\nech_grease = 1024\n"), 0);
	CHECK_ERR("[profile]\nech_grease = 1025\n", -SD_EVALUE, 2);
}

static void test_parse_list(void)
{
	struct sd_u16list l;
	const char *bad = NULL;
	char many[1024];
	size_t n = 0;

	/* Separators: commas, colons, white space, in any mix. */
	CHECK_INT(sd_profile_parse_list("GREASE, x25519:0x11ec  4588,,P-256\tgrease",
					SD_TLS_GROUP, &l, &bad), 0);
	CHECK_INT(l.n, 6);
	CHECK_INT(l.v[0], SD_GREASE_SLOT);
	CHECK_INT(l.v[1], SD_GROUP_X25519);
	CHECK_INT(l.v[2], SD_GROUP_X25519MLKEM768);
	CHECK_INT(l.v[3], SD_GROUP_X25519MLKEM768);
	CHECK_INT(l.v[4], SD_GROUP_SECP256R1);
	CHECK_INT(l.v[5], SD_GREASE_SLOT);
	CHECK_INT(sd_profile_parse_list("", SD_TLS_GROUP, &l, &bad), 0);
	CHECK_INT(l.n, 0);
	CHECK_INT(sd_profile_parse_list("0x1301,TLS_AES_256_GCM_SHA384,0X1303",
					SD_TLS_CIPHER, &l, &bad), 0);
	CHECK_INT(l.n, 3);
	CHECK_INT(l.v[2], 0x1303);
	CHECK_INT(sd_profile_parse_list("TLS1.3 tls1.2 0x7f1c", SD_TLS_VERSION, &l, &bad), 0);
	CHECK_INT(l.n, 3);
	CHECK_INT(l.v[2], 0x7f1c);

	/* The offending word comes back for the message. */
	CHECK_INT(sd_profile_parse_list("x25519, nonsense, secp256r1", SD_TLS_GROUP, &l, &bad),
		  -SD_EUNKNOWN);
	CHECK_STR(bad, "nonsense");
	CHECK_INT(sd_profile_parse_list("0x10000", SD_TLS_GROUP, &l, &bad), -SD_EUNKNOWN);
	CHECK_STR(bad, "0x10000");
	/* A name of one catalogue is not a name of another. */
	CHECK_INT(sd_profile_parse_list("x25519", SD_TLS_CIPHER, &l, &bad), -SD_EUNKNOWN);
	/* Words too long to be names. */
	memset(many, 'a', 100);
	many[100] = 0;
	CHECK_INT(sd_profile_parse_list(many, SD_TLS_GROUP, &l, &bad), -SD_EUNKNOWN);

	/* At most SD_PROFILE_MAX_LIST entries. */
	for (int i = 0; i < SD_PROFILE_MAX_LIST; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n, "%d,", i + 1);
	CHECK_INT(sd_profile_parse_list(many, SD_TLS_GROUP, &l, &bad), 0);
	CHECK_INT(l.n, SD_PROFILE_MAX_LIST);
	snprintf(many + n, sizeof(many) - n, "99");
	CHECK_INT(sd_profile_parse_list(many, SD_TLS_GROUP, &l, &bad), -SD_ELIMIT);
}

int main(void)
{
	test_builtins();
	test_user();
	test_errors();
	test_line_map();
	test_numbers();
	test_parse_list();
	return check_done();
}
