/* SPDX-License-Identifier: MIT */
/* ML-KEM against on-disk FIPS 203 vectors, plus round trips, implicit rejection and input checks. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "check.h"
#include "shakedown/mlkem.h"

#define FIXDIR SD_SHARED_DIR "/fixtures/ml-kem"

struct field {
	char key[32];
	uint8_t *val;
	size_t len;
};

/* One blank-line-separated block of "key = hex" lines, in file order. */
struct record {
	struct field f[48];
	unsigned n;
};

#define MAX_RECORDS 16

struct vecfile {
	struct record r[MAX_RECORDS];
	unsigned n;
};

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes n hex digits into a fresh buffer; NULL if malformed. */
static uint8_t *hex_decode(const char *s, size_t n, size_t *len)
{
	uint8_t *out;
	size_t i;

	if (n % 2)
		return NULL;
	out = malloc(n / 2 + 1);
	if (!out)
		return NULL;
	for (i = 0; i < n / 2; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			free(out);
			return NULL;
		}
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	*len = n / 2;
	return out;
}

static void vecfile_free(struct vecfile *vf)
{
	unsigned i, j;

	for (i = 0; i < vf->n; i++)
		for (j = 0; j < vf->r[i].n; j++)
			free(vf->r[i].f[j].val);
	vf->n = 0;
}

/*
 * Reads "key = value" lines; the key is the text before the first " = " and
 * the value the text after the last (one intermediate line is written
 * "dkPKE = NTT(s) = ..."). Values in braces are decimal coefficient lists,
 * which we skip: the same data is there in hex on the next line.
 */
static int vecfile_load(struct vecfile *vf, const char *name)
{
	char path[512], line[16384];
	FILE *fp;
	int blank = 1;

	vf->n = 0;
	snprintf(path, sizeof(path), "%s/%s", FIXDIR, name);
	fp = fopen(path, "r");
	if (!fp) {
		fprintf(stderr, "cannot open %s\n", path);
		return -errno;
	}
	while (fgets(line, sizeof(line), fp)) {
		size_t n = strcspn(line, "\r\n");
		const char *eq, *last, *v;
		struct record *r;
		struct field *f;

		if (line[n] == '\0' && !feof(fp)) {
			fprintf(stderr, "%s: line too long\n", path);
			break;
		}
		line[n] = '\0';
		if (n == 0) {
			blank = 1;
			continue;
		}
		eq = strstr(line, " = ");
		if (!eq)
			continue;
		for (last = eq; (v = strstr(last + 3, " = ")); last = v)
			;
		v = last + 3;
		if (*v == '{')
			continue;
		if (blank) {
			if (vf->n == MAX_RECORDS)
				break;
			vf->r[vf->n++].n = 0;
			blank = 0;
		}
		r = &vf->r[vf->n - 1];
		if (r->n == sizeof(r->f) / sizeof(r->f[0]))
			continue;
		f = &r->f[r->n];
		snprintf(f->key, sizeof(f->key), "%.*s", (int)(eq - line), line);
		f->val = hex_decode(v, strlen(v), &f->len);
		if (!f->val) {
			fprintf(stderr, "%s: bad hex for %s\n", path, f->key);
			continue;
		}
		r->n++;
	}
	fclose(fp);
	return 0;
}

/* First field named key with exactly len bytes, else NULL (and a failed check). */
static const uint8_t *get(const struct record *r, const char *key, size_t len)
{
	unsigned i;

	for (i = 0; i < r->n; i++) {
		if (strcmp(r->f[i].key, key) == 0) {
			CHECK_INT(r->f[i].len, len);
			return r->f[i].len == len ? r->f[i].val : NULL;
		}
	}
	fprintf(stderr, "vector has no field %s\n", key);
	CHECK(0);
	return NULL;
}

/* J(z || c) = SHAKE256(z || c, 32 bytes), computed here independently of the module. */
static void j_reject(const uint8_t z[32], const uint8_t *c, size_t clen, uint8_t out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestInit_ex(ctx, EVP_shake256(), NULL) &&
		 EVP_DigestUpdate(ctx, z, 32) && EVP_DigestUpdate(ctx, c, clen) &&
		 EVP_DigestFinalXOF(ctx, out, 32);

	CHECK(ok);
	EVP_MD_CTX_free(ctx);
}

/* Overwrites 12-bit value idx of a ByteEncode_12 string. */
static void set_coeff12(uint8_t *p, unsigned idx, unsigned val)
{
	size_t bit = 12 * (size_t)idx;
	uint8_t *b = p + bit / 8;

	if (bit % 8 == 0) {
		b[0] = (uint8_t)val;
		b[1] = (uint8_t)((b[1] & 0xf0) | (val >> 8));
	} else {
		b[0] = (uint8_t)((b[0] & 0x0f) | (val & 0x0f) << 4);
		b[1] = (uint8_t)(val >> 4);
	}
}

struct set {
	enum sd_mlkem_param p;
	const char *name;
	unsigned k;
	size_t eklen, dklen, ctlen;
};

static const struct set sets[] = {
	{ SD_MLKEM512, "512", 2, 800, 1632, 768 },
	{ SD_MLKEM768, "768", 3, 1184, 2400, 1088 },
	{ SD_MLKEM1024, "1024", 4, 1568, 3168, 1568 },
};

/* Encaps then decaps with the key pair; a corrupted ct must give J(z || c'). */
static void check_round_trip(const struct set *s, const uint8_t *ek, const uint8_t *dk, const uint8_t m[32],
			     size_t flip)
{
	uint8_t ct[SD_MLKEM_CT_MAX], ss1[32], ss2[32], ss3[32], want[32];
	const uint8_t *z = dk + s->dklen - 32;

	CHECK_INT(sd_mlkem_encaps(s->p, ek, m, ct, ss1), 0);
	CHECK_INT(sd_mlkem_decaps(s->p, dk, ct, ss2), 0);
	CHECK_MEM(ss2, ss1, 32);

	ct[flip % s->ctlen] ^= 0x01;
	CHECK_INT(sd_mlkem_decaps(s->p, dk, ct, ss3), 0);
	CHECK(memcmp(ss3, ss1, 32) != 0);
	j_reject(z, ct, s->ctlen, want);
	CHECK_MEM(ss3, want, 32);
}

static void test_lengths(void)
{
	unsigned i;

	for (i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		CHECK_INT(sd_mlkem_ek_len(sets[i].p), sets[i].eklen);
		CHECK_INT(sd_mlkem_dk_len(sets[i].p), sets[i].dklen);
		CHECK_INT(sd_mlkem_ct_len(sets[i].p), sets[i].ctlen);
	}
}

static void test_final_keygen(const struct set *s)
{
	uint8_t ek[SD_MLKEM_EK_MAX], dk[SD_MLKEM_DK_MAX], m[32];
	struct vecfile *vf = calloc(1, sizeof(*vf));
	char name[64];
	unsigned i, j;

	CHECK(vf != NULL);
	if (!vf)
		return;
	snprintf(name, sizeof(name), "keygen-ML-KEM-%s.txt", s->name);
	CHECK_INT(vecfile_load(vf, name), 0);
	CHECK_INT(vf->n, 8);
	for (i = 0; i < vf->n; i++) {
		const uint8_t *d = get(&vf->r[i], "d", 32), *z = get(&vf->r[i], "z", 32);
		const uint8_t *wek = get(&vf->r[i], "ek", s->eklen), *wh = get(&vf->r[i], "H(ek)", 32);

		if (!d || !z || !wek || !wh)
			continue;
		CHECK_INT(sd_mlkem_keygen(s->p, SD_MLKEM_FINAL, d, z, ek, dk), 0);
		CHECK_MEM(ek, wek, s->eklen);
		CHECK_MEM(dk + 384 * s->k, wek, s->eklen);
		CHECK_MEM(dk + 768 * s->k + 32, wh, 32);
		CHECK_MEM(dk + 768 * s->k + 64, z, 32);

		for (j = 0; j < 32; j++)
			m[j] = (uint8_t)(d[j] ^ z[31 - j] ^ i);
		check_round_trip(s, ek, dk, m, 131 * i + 7);
	}
	vecfile_free(vf);
	free(vf);
}

/*
 * The intermediate files follow the FIPS 203 draft: checks our DRAFT
 * key generation byte for byte, and Encaps/Decaps, which the final
 * standard left unchanged apart from the input checks.
 */
static void test_intermediate(const struct set *s)
{
	uint8_t ek[SD_MLKEM_EK_MAX], dk[SD_MLKEM_DK_MAX], ek2[SD_MLKEM_EK_MAX], dk2[SD_MLKEM_DK_MAX];
	uint8_t ct[SD_MLKEM_CT_MAX], ss[32], want[32];
	struct vecfile *vf = calloc(1, sizeof(*vf));
	const uint8_t *d, *z, *wek, *wdk, *wh, *m, *K, *c, *kbar;
	const struct record *r;
	char name[64];

	CHECK(vf != NULL);
	if (!vf)
		return;
	snprintf(name, sizeof(name), "intermediate-ML-KEM-%s.txt", s->name);
	CHECK_INT(vecfile_load(vf, name), 0);
	CHECK_INT(vf->n, 1);
	if (vf->n < 1)
		goto out;
	r = &vf->r[0];
	d = get(r, "d", 32);
	z = get(r, "z", 32);
	wek = get(r, "ek", s->eklen);
	wdk = get(r, "dk", s->dklen);
	wh = get(r, "H(ek)", 32);
	m = get(r, "m", 32);
	K = get(r, "K", 32);
	c = get(r, "c", s->ctlen);
	kbar = get(r, "KBar", 32);
	if (!d || !z || !wek || !wdk || !wh || !m || !K || !c || !kbar)
		goto out;

	CHECK_INT(sd_mlkem_keygen(s->p, SD_MLKEM_DRAFT, d, z, ek, dk), 0);
	CHECK_MEM(ek, wek, s->eklen);
	CHECK_MEM(dk, wdk, s->dklen);
	CHECK_MEM(dk + 768 * s->k + 32, wh, 32);

	/* the k byte in G changes everything, rho included */
	CHECK_INT(sd_mlkem_keygen(s->p, SD_MLKEM_FINAL, d, z, ek2, dk2), 0);
	CHECK(memcmp(ek2, ek, s->eklen - 32) != 0);
	CHECK(memcmp(ek2 + s->eklen - 32, ek + s->eklen - 32, 32) != 0);

	CHECK_INT(sd_mlkem_encaps(s->p, wek, m, ct, ss), 0);
	CHECK_MEM(ct, c, s->ctlen);
	CHECK_MEM(ss, K, 32);
	CHECK_INT(sd_mlkem_decaps(s->p, wdk, c, ss), 0);
	CHECK_MEM(ss, K, 32);

	/* the file's KBar is the rejection value for c itself */
	j_reject(z, c, s->ctlen, want);
	CHECK_MEM(want, kbar, 32);

	/* corrupt c1 and then c2: both must be rejected implicitly */
	memcpy(ct, c, s->ctlen);
	ct[0] ^= 0x80;
	CHECK_INT(sd_mlkem_decaps(s->p, wdk, ct, ss), 0);
	j_reject(z, ct, s->ctlen, want);
	CHECK_MEM(ss, want, 32);
	CHECK(memcmp(ss, K, 32) != 0);
	memcpy(ct, c, s->ctlen);
	ct[s->ctlen - 1] ^= 0x01;
	CHECK_INT(sd_mlkem_decaps(s->p, wdk, ct, ss), 0);
	j_reject(z, ct, s->ctlen, want);
	CHECK_MEM(ss, want, 32);
	CHECK(memcmp(ss, K, 32) != 0);

	check_round_trip(s, ek, dk, m, 5);
out:
	vecfile_free(vf);
	free(vf);
}

static void test_errors(void)
{
	static const int bad[] = { 0, 1, 5, 8, -1 };
	uint8_t ek[SD_MLKEM_EK_MAX], dk[SD_MLKEM_DK_MAX], ct[SD_MLKEM_CT_MAX], ss[32];
	uint8_t d[32], z[32], m[32];
	const struct set *s = &sets[1];
	unsigned i;

	for (i = 0; i < 32; i++) {
		d[i] = (uint8_t)i;
		z[i] = (uint8_t)(0x80 + i);
		m[i] = (uint8_t)(0x40 + i);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum sd_mlkem_param p = (enum sd_mlkem_param)bad[i];

		CHECK_INT(sd_mlkem_ek_len(p), 0);
		CHECK_INT(sd_mlkem_dk_len(p), 0);
		CHECK_INT(sd_mlkem_ct_len(p), 0);
		CHECK_INT(sd_mlkem_keygen(p, SD_MLKEM_FINAL, d, z, ek, dk), -SD_EVALUE);
		CHECK_INT(sd_mlkem_encaps(p, ek, m, ct, ss), -SD_EVALUE);
		CHECK_INT(sd_mlkem_decaps(p, dk, ct, ss), -SD_EVALUE);
	}
	CHECK_INT(sd_mlkem_keygen(s->p, (enum sd_mlkem_variant)7, d, z, ek, dk), -SD_EVALUE);

	/* §7.2 modulus check, at both ends of ek's t and right at the boundary */
	CHECK_INT(sd_mlkem_keygen(s->p, SD_MLKEM_FINAL, d, z, ek, dk), 0);
	CHECK_INT(sd_mlkem_encaps(s->p, ek, m, ct, ss), 0);
	set_coeff12(ek, 0, 0xfff);
	CHECK_INT(sd_mlkem_encaps(s->p, ek, m, ct, ss), -SD_EVALUE);
	memcpy(ek, dk + 384 * s->k, s->eklen);
	set_coeff12(ek, 256 * s->k - 1, 3329);
	CHECK_INT(sd_mlkem_encaps(s->p, ek, m, ct, ss), -SD_EVALUE);
	set_coeff12(ek, 256 * s->k - 1, 3328);
	CHECK_INT(sd_mlkem_encaps(s->p, ek, m, ct, ss), 0);
	set_coeff12(ek, 1, 3329);
	CHECK_INT(sd_mlkem_encaps(s->p, ek, m, ct, ss), -SD_EVALUE);

	/* §7.3 hash check: a dk whose stored H(ek) is wrong */
	memcpy(ek, dk + 384 * s->k, s->eklen);
	CHECK_INT(sd_mlkem_encaps(s->p, ek, m, ct, ss), 0);
	dk[768 * s->k + 32] ^= 1;
	CHECK_INT(sd_mlkem_decaps(s->p, dk, ct, ss), -SD_EVALUE);
}

int main(void)
{
	struct stat st;
	unsigned i;

	if (stat(FIXDIR, &st) != 0 || !S_ISDIR(st.st_mode)) {
		printf("skip: no ML-KEM vectors at %s\n", FIXDIR);
		return 77;
	}
	test_lengths();
	for (i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		test_final_keygen(&sets[i]);
		test_intermediate(&sets[i]);
	}
	test_errors();
	return check_done();
}
