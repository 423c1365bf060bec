/* SPDX-License-Identifier: MIT */
/* Profile files (INI, parsed with inih) into struct sd_profile. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


#include "shakedown/ini.h"
#include "shakedown/profile.h"
#include "shakedown/tls.h"

struct parse_ctx {
	struct sd_profile *p;
	struct sd_profile_error *err;
	int ret;
	int line;
	char seen[48][48];    /* keys so far: a key given twice is an error */
	size_t nseen;
};

static char badword[64];

/* Splits s into words at commas, colons and white space. */
static const char *next_word(const char *s, char *w, size_t n, size_t *wl)
{
	size_t i = 0;

	while (*s && (isspace((unsigned char)*s) || *s == ',' || *s == ':'))
		s++;
	while (*s && !isspace((unsigned char)*s) && *s != ',' && *s != ':') {
		if (i + 1 < n)
			w[i] = *s;
		i++;
		s++;
	}
	w[i < n ? i : n - 1] = 0;
	*wl = i;
	return s;
}

int sd_profile_parse_list(const char *s, int kind, struct sd_u16list *out,
			  const char **bad)
{
	char w[64];
	size_t wl;

	out->n = 0;
	for (s = next_word(s, w, sizeof(w), &wl); wl; s = next_word(s, w, sizeof(w), &wl)) {
		uint16_t v;

		snprintf(badword, sizeof(badword), "%s", w);
		*bad = badword;
		if (wl >= sizeof(w))
			return -SD_EUNKNOWN;
		if (strcasecmp(w, "GREASE") == 0)
			v = SD_GREASE_SLOT;
		else if (sd_tls_lookup((enum sd_tls_kind)kind, w, &v) < 0)
			return -SD_EUNKNOWN;
		if (out->n == SD_PROFILE_MAX_LIST)
			return -SD_ELIMIT;
		out->v[out->n++] = v;
	}
	return 0;
}

__attribute__((format(printf, 3, 4)))
static int fail(struct parse_ctx *c, int ret, const char *fmt, ...)
{
	va_list ap;

	c->ret = ret;
	c->err->line = c->line;
	va_start(ap, fmt);
	vsnprintf(c->err->msg, sizeof(c->err->msg), fmt, ap);
	va_end(ap);
	return 0;
}

/* Decimal, or hex after 0x; never octal: "032" means 32 to whoever wrote it. */
static int parse_uint(const char *s, unsigned long max, unsigned long *v)
{
	int base = s[0] == '0' && (s[1] == 'x' || s[1] == 'X') ? 16 : 10;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -SD_EVALUE;
	errno = 0;
	*v = strtoul(s, &end, base);
	if (errno || *end || *v > max)
		return -SD_EVALUE;
	return 0;
}

static int parse_bool(const char *s, bool *b)
{
	if (!strcasecmp(s, "yes") || !strcasecmp(s, "true") || !strcmp(s, "1")) {
		*b = true;
		return 0;
	}
	if (!strcasecmp(s, "no") || !strcasecmp(s, "false") || !strcmp(s, "0")) {
		*b = false;
		return 0;
	}
	return -SD_EVALUE;
}

/* "h2, http/1.1" into fixed slots. */
static int parse_strings(const char *s, char out[][32], size_t max, size_t *n)
{
	*n = 0;
	while (*s) {
		size_t len;

		while (*s == ',' || isspace((unsigned char)*s))
			s++;
		if (!*s)
			break;
		len = strcspn(s, ", \t");
		if (len >= 32 || *n == max)
			return -SD_ELIMIT;
		memcpy(out[*n], s, len);
		out[(*n)++][len] = 0;
		s += len;
	}
	return 0;
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = tolower(ch);
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

static int parse_hex(const char *s, uint8_t *out, size_t max, size_t *n)
{
	*n = 0;
	while (*s) {
		int hi, lo;

		if (isspace((unsigned char)*s)) {
			s++;
			continue;
		}
		hi = hexval(s[0]);
		lo = s[1] ? hexval(s[1]) : -1;
		if (hi < 0 || lo < 0)
			return -SD_EVALUE;
		if (*n == max)
			return -SD_ELIMIT;
		out[(*n)++] = (uint8_t)(hi << 4 | lo);
		s += 2;
	}
	return 0;
}

/* "GREASE" or "GREASE+N" (a GREASE extension with an N-byte body), or a
 * name or number, in the extension order list. At most two GREASE
 * entries: the builder has two distinct values for them, and a third would
 * repeat one, an extension type twice (RFC 8446 §4.2). */
static int parse_ext_order(struct sd_profile *p, const char *s, const char **bad)
{
	char w[64];
	size_t wl, ngrease = 0;

	p->exts.n = 0;
	for (s = next_word(s, w, sizeof(w), &wl); wl; s = next_word(s, w, sizeof(w), &wl)) {
		uint16_t v, glen = 0;

		snprintf(badword, sizeof(badword), "%s", w);
		*bad = badword;
		if (wl >= sizeof(w))
			return -SD_EUNKNOWN;
		if (strncasecmp(w, "GREASE", 6) == 0 && (w[6] == 0 || w[6] == '+')) {
			unsigned long x = 0;

			if ((w[6] == '+' && parse_uint(w + 7, 255, &x) < 0) || ++ngrease > 2)
				return -SD_EVALUE;
			v = SD_GREASE_SLOT;
			glen = (uint16_t)x;
		} else if (sd_tls_lookup(SD_TLS_EXT, w, &v) < 0) {
			return -SD_EUNKNOWN;
		}
		for (size_t i = 0; i < p->exts.n; i++)
			if (v != SD_GREASE_SLOT && p->exts.v[i] == v)
				return -SD_EDUP;
		if (p->exts.n == SD_PROFILE_MAX_LIST)
			return -SD_ELIMIT;
		p->grease_len[p->exts.n] = glen;
		p->exts.v[p->exts.n++] = v;
	}
	return 0;
}

/* RFC 8446 §4.2.8: clients MUST NOT offer two shares for one group. The
 * first group listed again, or -1. */
static int dup_share(const struct sd_u16list *l)
{
	for (size_t i = 0; i < l->n; i++)
		for (size_t k = 0; k < i; k++)
			if (l->v[k] == l->v[i])
				return l->v[i];
	return -1;
}

static const char *group_word(uint16_t g, char *tmp, size_t n)
{
	const char *name = g == SD_GREASE_SLOT ? "GREASE" : sd_tls_group_name(g);

	if (name)
		return name;
	snprintf(tmp, n, "0x%04x", g);
	return tmp;
}

static int on_key(void *user, const char *section, const char *key, const char *val)
{
	struct parse_ctx *c = user;
	struct sd_profile *p = c->p;
	const char *bad = val;
	unsigned long x;
	char tmp[16];
	int ret = 0, dup;

	if (c->ret)
		return 0;
	for (size_t i = 0; i < c->nseen; i++)
		if (strcmp(c->seen[i], key) == 0)
			return fail(c, -SD_EDUP, "key '%s' given twice", key);
	if (c->nseen < sizeof(c->seen) / sizeof(c->seen[0]) && strlen(key) < sizeof(c->seen[0]))
		snprintf(c->seen[c->nseen++], sizeof(c->seen[0]), "%s", key);
	if (strcmp(section, "profile") != 0)
		return fail(c, -SD_ESYNTAX, "key '%s' outside the [profile] section (in [%s])",
			    key, section);
#define IS(k) (strcmp(key, (k)) == 0)
	if (IS("description")) {
		snprintf(p->description, sizeof(p->description), "%s", val);
	} else if (IS("record_version")) {
		if (sd_tls_lookup(SD_TLS_VERSION, val, &p->record_version) < 0)
			return fail(c, -SD_EVALUE, "%s: '%s' is not a TLS version", key, val);
	} else if (IS("session_id")) {
		if (parse_uint(val, 32, &x) < 0)
			return fail(c, -SD_EVALUE, "%s: '%s' is not a length 0..32", key, val);
		p->session_id_len = (uint8_t)x;
	} else if (IS("ciphers")) {
		ret = sd_profile_parse_list(val, SD_TLS_CIPHER, &p->ciphers, &bad);
		/* RFC 8446 §4.1.2: cipher_suites<2..2^16-2>. */
		if (ret == 0 && p->ciphers.n == 0)
			return fail(c, -SD_EVALUE, "%s: '%s' names no cipher suite", key, val);
	} else if (IS("groups")) {
		ret = sd_profile_parse_list(val, SD_TLS_GROUP, &p->groups, &bad);
	} else if (IS("shares")) {
		ret = sd_profile_parse_list(val, SD_TLS_GROUP, &p->shares, &bad);
		/* Checked here rather than after the file, so the error has
		 * the line. */
		if (ret == 0 && (dup = dup_share(&p->shares)) >= 0)
			return fail(c, -SD_EDUP, "%s: '%s' listed twice in '%s' (RFC 8446 §4.2.8)",
				    key, group_word((uint16_t)dup, tmp, sizeof(tmp)), val);
	} else if (IS("sigalgs")) {
		ret = sd_profile_parse_list(val, SD_TLS_SIGALG, &p->sigalgs, &bad);
	} else if (IS("versions")) {
		ret = sd_profile_parse_list(val, SD_TLS_VERSION, &p->versions, &bad);
	} else if (IS("delegated_credentials")) {
		ret = sd_profile_parse_list(val, SD_TLS_SIGALG, &p->delegated_sigalgs, &bad);
	} else if (IS("extensions")) {
		ret = parse_ext_order(p, val, &bad);
		if (ret == -SD_EDUP)
			return fail(c, ret, "%s: '%s' listed twice", key, bad);
		if (ret == -SD_EVALUE)
			return fail(c, ret, "%s: '%s': GREASE or GREASE+N (N up to 255), at most twice",
				    key, bad);
	} else if (IS("shuffle_extensions")) {
		if (parse_bool(val, &p->shuffle) < 0)
			return fail(c, -SD_EVALUE, "%s: '%s' is not yes or no", key, val);
	} else if (IS("sni")) {
		if (strlen(val) >= sizeof(p->sni))
			return fail(c, -SD_EVALUE, "%s: '%s' is longer than 255 bytes", key, val);
		snprintf(p->sni, sizeof(p->sni), "%s", val);
	} else if (IS("alpn")) {
		if (parse_strings(val, p->alpn, SD_PROFILE_MAX_ALPN, &p->nalpn) < 0)
			return fail(c, -SD_ELIMIT, "%s: '%s' has too many or too long names", key, val);
	} else if (IS("alps")) {
		if (parse_strings(val, p->alps, SD_PROFILE_MAX_ALPN, &p->nalps) < 0)
			return fail(c, -SD_ELIMIT, "%s: '%s' has too many or too long names", key, val);
	} else if (IS("cert_compression")) {
		/* RFC 8879 §3 CertificateCompressionAlgorithm. */
		char w[32];
		size_t wl;
		const char *s = val;

		p->cert_compression.n = 0;
		for (s = next_word(s, w, sizeof(w), &wl); wl; s = next_word(s, w, sizeof(w), &wl)) {
			uint16_t v;

			if (!strcasecmp(w, "zlib"))
				v = 1;
			else if (!strcasecmp(w, "brotli"))
				v = 2;
			else if (!strcasecmp(w, "zstd"))
				v = 3;
			else
				return fail(c, -SD_EUNKNOWN, "%s: unknown algorithm '%s' (zlib, brotli, zstd)", key, w);
			if (p->cert_compression.n == SD_PROFILE_MAX_LIST)
				return fail(c, -SD_ELIMIT, "%s: too many in '%s'", key, val);
			p->cert_compression.v[p->cert_compression.n++] = v;
		}
	} else if (IS("psk_modes")) {
		/* RFC 8446 §4.2.9: psk_ke(0), psk_dhe_ke(1). */
		char w[32];
		size_t wl;
		const char *s = val;

		p->npsk_modes = 0;
		for (s = next_word(s, w, sizeof(w), &wl); wl; s = next_word(s, w, sizeof(w), &wl)) {
			if (p->npsk_modes == sizeof(p->psk_modes))
				return fail(c, -SD_ELIMIT, "%s: too many in '%s'", key, val);
			if (!strcasecmp(w, "psk_ke"))
				p->psk_modes[p->npsk_modes++] = 0;
			else if (!strcasecmp(w, "psk_dhe_ke"))
				p->psk_modes[p->npsk_modes++] = 1;
			else
				return fail(c, -SD_EUNKNOWN, "%s: unknown mode '%s' (psk_ke, psk_dhe_ke)", key, w);
		}
	} else if (IS("ec_point_formats")) {
		/* RFC 8422 §5.1.2: uncompressed(0). */
		char w[40];
		size_t wl;
		const char *s = val;

		p->nec_point_formats = 0;
		for (s = next_word(s, w, sizeof(w), &wl); wl; s = next_word(s, w, sizeof(w), &wl)) {
			if (p->nec_point_formats == sizeof(p->ec_point_formats))
				return fail(c, -SD_ELIMIT, "%s: too many in '%s'", key, val);
			if (!strcasecmp(w, "uncompressed"))
				p->ec_point_formats[p->nec_point_formats++] = 0;
			else if (!strcasecmp(w, "ansiX962_compressed_prime"))
				p->ec_point_formats[p->nec_point_formats++] = 1;
			else if (!strcasecmp(w, "ansiX962_compressed_char2"))
				p->ec_point_formats[p->nec_point_formats++] = 2;
			else
				return fail(c, -SD_EUNKNOWN, "%s: unknown format '%s'", key, w);
		}
	} else if (IS("ech_grease")) {
		if (parse_uint(val, 1024, &x) < 0)
			return fail(c, -SD_EVALUE, "%s: '%s' is not a payload length 0..1024", key, val);
		p->ech_grease_payload = (uint16_t)x;
	} else if (IS("record_size_limit")) {
		/* RFC 8449 §4: at least 64, at most 2^14 + 1 in TLS 1.3. */
		if (parse_uint(val, 16385, &x) < 0 || x < 64)
			return fail(c, -SD_EVALUE, "%s: '%s' is not 64..16385", key, val);
		p->record_size_limit = (uint16_t)x;
	} else if (IS("padding")) {
		if (!strcasecmp(val, "none"))
			p->padding = SD_PAD_NONE;
		else if (!strcasecmp(val, "boringssl"))
			p->padding = SD_PAD_BORINGSSL;
		else
			return fail(c, -SD_EVALUE, "%s: '%s' is not none or boringssl", key, val);
	} else if (strncmp(key, "raw.", 4) == 0) {
		struct sd_raw_ext *r;
		uint16_t t;

		if (sd_tls_lookup(SD_TLS_EXT, key + 4, &t) < 0)
			return fail(c, -SD_EUNKNOWN, "%s: '%s' is not an extension name or number", key, key + 4);
		if (p->nraw == SD_PROFILE_MAX_RAW)
			return fail(c, -SD_ELIMIT, "%s: more than 8 raw extensions", key);
		r = &p->raw[p->nraw];
		r->type = t;
		if (parse_hex(val, r->data, sizeof(r->data), &r->len) < 0)
			return fail(c, -SD_EVALUE, "%s: '%s' is not hex bytes (at most 512)", key, val);
		p->nraw++;
	} else {
		return fail(c, -SD_EUNKNOWN, "unknown key '%s'", key);
	}
#undef IS
	if (ret == -SD_ELIMIT)
		return fail(c, ret, "%s: too many entries (at most 64) in '%s'", key, val);
	if (ret < 0)
		return fail(c, ret, "%s: unknown name '%s'", key, bad);
	return 1;
}

static void defaults(struct sd_profile *p, const char *name)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->record_version = SD_TLS10;
	p->session_id_len = 32;
	p->ciphers.v[0] = 0x1301;
	p->ciphers.v[1] = 0x1302;
	p->ciphers.v[2] = 0x1303;
	p->ciphers.n = 3;
	p->versions.v[0] = SD_TLS13;
	p->versions.n = 1;
}

int sd_profile_parse(const char *text, size_t len, const char *name,
		     struct sd_profile *p, struct sd_profile_error *err)
{
	struct parse_ctx ctx = { .p = p, .err = err };
	struct sd_ini ini;
	const char *section = "";
	int ret;

	memset(err, 0, sizeof(*err));
	defaults(p, name);
	ret = sd_ini_read(text, len, &ini, &err->line, err->msg, sizeof(err->msg));
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < ini.n; i++) {
		const struct sd_ini_item *it = &ini.item[i];

		if (it->section) {
			section = it->name_long ? "?" : it->name;
			continue;
		}
		ctx.line = it->line;
		on_key(&ctx, section, it->name, it->value);
		if (ctx.ret) {
			ret = ctx.ret;
			goto out;
		}
	}
	ret = -SD_EVALUE;
	if (p->shares.n && !p->exts.n) {
		snprintf(err->msg, sizeof(err->msg), "no 'extensions' list");
		goto out;
	}
	ret = 0;
out:
	sd_ini_free(&ini);
	return ret;
}

int sd_profile_builtin(const char *name, struct sd_profile *p,
		       struct sd_profile_error *err)
{
	for (const struct sd_builtin_file *f = sd_builtin_profiles; f->name; f++)
		if (strcmp(f->name, name) == 0)
			return sd_profile_parse(f->text, f->len, f->name, p, err);
	memset(err, 0, sizeof(*err));
	snprintf(err->msg, sizeof(err->msg), "no built-in profile '%.100s'", name);
	return -SD_EUNKNOWN;
}
