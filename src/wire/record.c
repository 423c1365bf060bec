/* SPDX-License-Identifier: MIT */
/* TLS records in and out, and handshake messages reassembled across them. */
#include <string.h>

#include "shakedown/record.h"
#include "shakedown/tls.h"

int sd_record_parse(struct sd_cursor *c, struct sd_record *r)
{
	struct sd_cursor save = *c;
	uint8_t type;
	uint16_t version, len;
	int ret;

	r->offset = sd_cursor_offset(c);
	if ((ret = sd_cursor_u8(c, &type)) < 0 ||
	    (ret = sd_cursor_u16(c, &version)) < 0 ||
	    (ret = sd_cursor_u16(c, &len)) < 0)
		goto fail;
	/* RFC 8446 §5.1 ContentType; 24 is heartbeat (RFC 6520). */
	if (type < SD_CT_CCS || type > 24) {
		ret = -SD_ETYPE;
		goto fail;
	}
	/* Every TLS/SSL3 record version has major 3. */
	if (version >> 8 != 3) {
		ret = -SD_ETYPE;
		goto fail;
	}
	if (len > SD_RECORD_ANY_MAX) {
		ret = -SD_ELENGTH;
		goto fail;
	}
	if ((ret = sd_cursor_bytes(c, len, &r->frag)) < 0)
		goto fail;
	r->type = type;
	r->version = version;
	r->len = len;
	return 0;
fail:
	*c = save;
	return ret;
}

int sd_record_build(struct sd_buf *out, uint8_t type, uint16_t version,
		    const uint8_t *data, size_t len, const size_t *sizes,
		    size_t nsizes)
{
	size_t done = 0, i = 0;

	for (size_t k = 0; k < nsizes; k++)
		if (sizes[k] == 0 || sizes[k] > SD_RECORD_PLAIN_MAX)
			return -SD_EVALUE;
	do {
		size_t want = nsizes ? sizes[i < nsizes ? i : nsizes - 1] :
				       SD_RECORD_PLAIN_MAX;
		size_t n = len - done < want ? len - done : want;

		sd_buf_u8(out, type);
		sd_buf_u16(out, version);
		sd_buf_u16(out, (uint16_t)n);
		if (n)  /* len == 0 may come with data == NULL; NULL + 0 is UB */
			sd_buf_put(out, data + done, n);
		done += n;
		i++;
	} while (done < len);
	return sd_buf_error(out);
}

int sd_alert_parse(const uint8_t *frag, size_t len, uint8_t *level, uint8_t *desc)
{
	struct sd_cursor c;
	int ret;

	sd_cursor_init(&c, frag, len);
	if ((ret = sd_cursor_u8(&c, level)) < 0 || (ret = sd_cursor_u8(&c, desc)) < 0)
		return ret;
	/* RFC 8446 §6: AlertLevel is warning(1) or fatal(2). */
	if (*level != 1 && *level != 2)
		return -SD_EVALUE;
	return sd_cursor_end(&c);
}

/* Splits the joined handshake bytes into messages (RFC 8446 §4). */
static int split_messages(struct sd_flight *f)
{
	struct sd_cursor c;

	sd_cursor_init(&c, f->hs.data, f->hs.len);
	while (sd_cursor_left(&c) >= 4) {
		struct sd_hs_msg *m;
		size_t start = sd_cursor_offset(&c), end;
		uint8_t type;
		uint32_t len;

		if (sd_cursor_u8(&c, &type) < 0 || sd_cursor_u24(&c, &len) < 0)
			break;
		if (sd_cursor_left(&c) < len) {
			f->partial = true;
			break;
		}
		if (f->nmsgs == SD_FLIGHT_MAX_MSGS)
			return -SD_ELIMIT;
		if (sd_cursor_skip(&c, len) < 0)
			break;
		m = &f->msgs[f->nmsgs++];
		m->type = type;
		m->hs_offset = start;
		m->len = (size_t)len + 4;
		end = start + m->len;
		m->rec_first = 0;
		m->rec_count = 0;
		for (size_t i = 0; i < f->nrecords; i++) {
			const struct sd_flight_record *r = &f->records[i];

			if (r->type != SD_CT_HANDSHAKE)
				continue;
			if (r->hs_offset < end && r->hs_offset + r->len > start) {
				if (!m->rec_count)
					m->rec_first = i;
				m->rec_count++;
			}
		}
	}
	if (sd_cursor_left(&c))
		f->partial = true;
	return 0;
}

int sd_flight_parse(const uint8_t *stream, size_t len, struct sd_flight *f)
{
	struct sd_cursor c;
	int ret;

	memset(f, 0, sizeof(*f));
	sd_buf_init(&f->hs);
	sd_cursor_init(&c, stream, len);
	while (sd_cursor_left(&c)) {
		struct sd_record r;
		struct sd_flight_record *fr;

		ret = sd_record_parse(&c, &r);
		if (ret == -SD_ETRUNC) {
			f->partial = true;
			break;
		}
		if (ret < 0)
			goto fail;
		if (f->nrecords == SD_FLIGHT_MAX_RECORDS) {
			ret = -SD_ELIMIT;
			goto fail;
		}
		fr = &f->records[f->nrecords++];
		fr->type = r.type;
		fr->version = r.version;
		fr->len = r.len;
		fr->offset = r.offset;
		fr->hs_offset = f->hs.len;
		f->consumed = sd_cursor_offset(&c);
		if (r.type == SD_CT_HANDSHAKE) {
			/* §5.1: plaintext records are at most 2^14, never empty
			 * for handshake content. */
			if (r.len == 0 || r.len > SD_RECORD_PLAIN_MAX) {
				ret = -SD_ELENGTH;
				goto fail;
			}
			sd_buf_put(&f->hs, r.frag, r.len);
			if ((ret = sd_buf_error(&f->hs)) < 0)
				goto fail;
		} else if (r.type == SD_CT_ALERT) {
			if (sd_alert_parse(r.frag, r.len, &f->alert_level,
					   &f->alert_desc) == 0) {
				f->has_alert = true;
				f->alert_offset = r.offset;
			}
			break;
		} else if (r.type == SD_CT_APPDATA) {
			f->encrypted = true;
			break;
		}
		/* change_cipher_spec (middlebox compatibility, RFC 8446
		 * Appendix D.4) and heartbeat carry no handshake bytes. */
	}
	ret = split_messages(f);
	if (ret < 0)
		goto fail;
	return (int)f->nmsgs;
fail:
	sd_flight_free(f);
	return ret;
}

void sd_flight_free(struct sd_flight *f)
{
	sd_buf_free(&f->hs);
	f->nrecords = 0;
	f->nmsgs = 0;
}

const uint8_t *sd_flight_msg(const struct sd_flight *f, size_t i)
{
	if (i >= f->nmsgs)
		return NULL;
	return f->hs.data + f->msgs[i].hs_offset;
}

size_t sd_flight_msg_records(const struct sd_flight *f, size_t i, uint16_t *lens,
			     size_t max)
{
	const struct sd_hs_msg *m;
	size_t n = 0;

	if (i >= f->nmsgs)
		return 0;
	m = &f->msgs[i];
	for (size_t k = m->rec_first; k < f->nrecords && n < m->rec_count; k++) {
		if (f->records[k].type != SD_CT_HANDSHAKE)
			continue;
		if (n < max)
			lens[n] = f->records[k].len;
		n++;
	}
	return n;
}
