/* SPDX-License-Identifier: MIT */
/* ClientHello / ServerHello reports in JSON and text. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "shakedown/report.h"
#include "shakedown/tls.h"

void sd_put(char *out, size_t n, size_t *w, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(*w < n ? out + *w : NULL, *w < n ? n - *w : 0, fmt, ap);
	va_end(ap);
	if (r > 0)
		*w += (size_t)r;
}

void sd_buf_printf(struct sd_buf *b, const char *fmt, ...)
{
	va_list ap;
	char tmp[512];
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(tmp)) {
		sd_buf_put(b, tmp, (size_t)n);
		return;
	}
	{
		uint8_t *d = sd_buf_reserve(b, (size_t)n + 1);

		if (!d)
			return;
		va_start(ap, fmt);
		vsnprintf((char *)d, (size_t)n + 1, fmt, ap);
		va_end(ap);
		b->len--; /* drop the NUL */
	}
}

static void json_code(struct sd_json *j, const char *key, uint16_t v, const char *name)
{
	sd_json_obj_open(j);
	sd_json_kint(j, key, v);
	sd_json_kstr(j, "name", name);
	sd_json_obj_close(j);
}

static void json_list(struct sd_json *j, const char *key, const uint16_t *v, size_t n,
		      enum sd_tls_kind kind)
{
	sd_json_key(j, key);
	sd_json_arr_open(j);
	for (size_t i = 0; i < n; i++)
		json_code(j, "id", v[i], sd_tls_name(kind, v[i]));
	sd_json_arr_close(j);
}

void sd_report_hello_json(struct sd_json *j, const struct sd_hello *h,
			  const struct sd_hello_report *r)
{
	sd_json_obj_open(j);
	if (r->profile)
		sd_json_kstr(j, "profile", r->profile);
	if (r->seed)
		sd_json_kstr(j, "seed", r->seed);
	if (r->stream)
		sd_json_kstr(j, "stream", r->stream);
	if (r->index)
		sd_json_kint(j, "index", r->index);
	sd_json_kint(j, "handshake_length", (long long)h->len - 4);
	if (r->wire_length)
		sd_json_kint(j, "wire_length", (long long)r->wire_length);
	sd_json_key(j, "record_lengths");
	sd_json_arr_open(j);
	for (size_t i = 0; i < r->nrecords; i++)
		sd_json_int(j, r->records[i]);
	sd_json_arr_close(j);
	if (r->segments) {
		sd_json_key(j, "segments");
		sd_json_arr_open(j);
		for (size_t i = 0; i < r->nsegments; i++)
			sd_json_int(j, r->segments[i]);
		sd_json_arr_close(j);
	}
	if (h->random) {
		static const char hx[] = "0123456789abcdef";
		char rnd[65];

		/* What NSS key logs name a connection by (CLIENT_RANDOM). */
		for (int i = 0; i < 32; i++) {
			rnd[2 * i] = hx[h->random[i] >> 4];
			rnd[2 * i + 1] = hx[h->random[i] & 15];
		}
		rnd[64] = 0;
		sd_json_kstr(j, "random", rnd);
	}
	sd_json_key(j, "sni");
	if (h->sni)
		sd_json_strn(j, h->sni, h->sni_len);
	else
		sd_json_null(j);
	sd_json_key(j, "alpn");
	sd_json_arr_open(j);
	for (size_t i = 0; i < h->nalpn; i++)
		sd_json_strn(j, h->alpn[i], h->alpn_len[i]);
	sd_json_arr_close(j);
	json_list(j, "cipher_suites", h->ciphers, h->nciphers, SD_TLS_CIPHER);
	json_list(j, "supported_groups", h->groups, h->ngroups, SD_TLS_GROUP);
	json_list(j, "supported_versions", h->versions, h->nversions, SD_TLS_VERSION);
	json_list(j, "signature_algorithms", h->sigalgs, h->nsigalgs, SD_TLS_SIGALG);
	sd_json_key(j, "extensions");
	sd_json_arr_open(j);
	for (size_t i = 0; i < h->next; i++) {
		const struct sd_ext_view *e = &h->ext[i];

		sd_json_obj_open(j);
		sd_json_kint(j, "type", e->type);
		sd_json_kstr(j, "name", sd_tls_ext_name(e->type));
		sd_json_kint(j, "offset", (long long)e->offset);
		sd_json_kint(j, "length", (long long)e->len);
		sd_json_obj_close(j);
	}
	sd_json_arr_close(j);
	sd_json_key(j, "key_shares");
	sd_json_arr_open(j);
	for (size_t i = 0; i < h->nshares; i++) {
		const struct sd_share_view *s = &h->shares[i];

		sd_json_obj_open(j);
		sd_json_kint(j, "group", s->group);
		sd_json_kstr(j, "name", sd_tls_group_name(s->group));
		sd_json_kint(j, "offset", (long long)s->offset);
		sd_json_kint(j, "length", (long long)s->len);
		sd_json_obj_close(j);
	}
	sd_json_arr_close(j);
	sd_json_obj_close(j);
}

static const char *label(enum sd_tls_kind kind, uint16_t v, char *tmp, size_t n)
{
	const char *name = sd_tls_name(kind, v);

	if (name && !sd_tls_is_grease(v))
		return name;
	snprintf(tmp, n, "%s0x%04x", name ? "GREASE " : "", v);
	return tmp;
}

/* Bytes from the wire on a terminal: anything but printable ASCII as \xNN,
 * so a crafted hello cannot send escape sequences to the user's terminal. */
static void put_printable(struct sd_buf *o, const char *label, const uint8_t *p, size_t n)
{
	sd_buf_printf(o, "%s", label);
	for (size_t i = 0; i < n; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
			sd_buf_u8(o, p[i]);
		else
			sd_buf_printf(o, "\\x%02x", p[i]);
	}
	sd_buf_u8(o, '\n');
}

void sd_report_hello_text(struct sd_buf *o, const struct sd_hello *h,
			  const struct sd_hello_report *r)
{
	char tmp[40];

	sd_buf_printf(o, "ClientHello");
	if (r->index > 1)
		sd_buf_printf(o, " #%d (after HelloRetryRequest)", r->index);
	if (r->stream)
		sd_buf_printf(o, " %s", r->stream);
	if (r->profile)
		sd_buf_printf(o, " profile %s", r->profile);
	sd_buf_printf(o, "\n  handshake message  %zu bytes (4-byte header + %zu)\n", h->len, h->len - 4);
	if (r->wire_length)
		sd_buf_printf(o, "  on the wire        %zu bytes in %zu record%s:", r->wire_length,
			      r->nrecords, r->nrecords == 1 ? "" : "s");
	else
		sd_buf_printf(o, "  records           ");
	for (size_t i = 0; i < r->nrecords; i++)
		sd_buf_printf(o, " %u", r->records[i]);
	sd_buf_printf(o, "\n");
	if (r->segments) {
		sd_buf_printf(o, "  TCP segments       %zu:", r->nsegments);
		for (size_t i = 0; i < r->nsegments; i++)
			sd_buf_printf(o, " %u", r->segments[i]);
		sd_buf_printf(o, "\n");
	}
	if (h->sni)
		put_printable(o, "  server_name        ", h->sni, h->sni_len);
	for (size_t i = 0; i < h->nshares; i++)
		sd_buf_printf(o, "  key_share          %-22s %5zu bytes at offset %zu\n",
			      label(SD_TLS_GROUP, h->shares[i].group, tmp, sizeof(tmp)),
			      h->shares[i].len, h->shares[i].offset);
	sd_buf_printf(o, "  extensions         %zu\n", h->next);
	for (size_t i = 0; i < h->next; i++)
		sd_buf_printf(o, "    %5zu  %-40s %5zu bytes\n", h->ext[i].offset,
			      label(SD_TLS_EXT, h->ext[i].type, tmp, sizeof(tmp)), h->ext[i].len);
	if (r->seed)
		sd_buf_printf(o, "  seed               %s\n", r->seed);
}

void sd_report_server_hello_json(struct sd_json *j, const struct sd_server_hello *s,
				 const char *stream)
{
	sd_json_obj_open(j);
	if (stream)
		sd_json_kstr(j, "stream", stream);
	sd_json_kbool(j, "hrr", s->hrr);
	sd_json_kint(j, "version", s->version);
	sd_json_kstr(j, "version_name", sd_tls_version_name(s->version));
	sd_json_kint(j, "cipher_suite", s->cipher);
	sd_json_kstr(j, "cipher_suite_name", sd_tls_cipher_name(s->cipher));
	sd_json_key(j, "group");
	if (s->has_group)
		sd_json_int(j, s->group);
	else
		sd_json_null(j);
	sd_json_kstr(j, "group_name", s->has_group ? sd_tls_group_name(s->group) : NULL);
	sd_json_kint(j, "key_share_length", (long long)s->share_len);
	sd_json_kint(j, "cookie_length", (long long)s->cookie_len);
	sd_json_obj_close(j);
}

void sd_report_server_hello_text(struct sd_buf *o, const struct sd_server_hello *s,
				 const char *stream)
{
	char tmp[40];

	sd_buf_printf(o, "%s", s->hrr ? "HelloRetryRequest" : "ServerHello");
	if (stream)
		sd_buf_printf(o, " %s", stream);
	sd_buf_printf(o, "\n  version            %s\n  cipher_suite       %s\n",
		      label(SD_TLS_VERSION, s->version, tmp, sizeof(tmp)),
		      sd_tls_cipher_name(s->cipher) ? sd_tls_cipher_name(s->cipher) : "unknown");
	if (s->has_group)
		sd_buf_printf(o, "  %-18s %s%s\n", s->hrr ? "requested group" : "selected group",
			      label(SD_TLS_GROUP, s->group, tmp, sizeof(tmp)),
			      s->share_len ? "" : "");
	if (s->share_len)
		sd_buf_printf(o, "  key_share          %zu bytes\n", s->share_len);
	if (s->cookie_len)
		sd_buf_printf(o, "  cookie             %zu bytes\n", s->cookie_len);
}
