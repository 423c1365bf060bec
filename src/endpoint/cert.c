/* SPDX-License-Identifier: MIT */
/* The server's fixed lab RSA key, its self-signed leaf and the size-padding certificates. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/asn1.h>
#include <openssl/asn1t.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cert.h"

/*
 * LAB-ONLY KEY, PUBLIC ON PURPOSE. Made once with `openssl genpkey
 * -algorithm RSA -pkeyopt rsa_keygen_bits:2048` and published with this
 * source, it protects nothing: it exists so that the harness's own TLS
 * server, inside the throwaway network namespaces the harness builds,
 * sends the same certificate bytes and the same signature lengths on
 * every run. Never use it, or anything signed with it, anywhere else.
 *
 * Why RSA: its signatures are exactly as long as the modulus (RFC 8017
 * §8.1.1, §8.2.1), where a DER ECDSA signature (RFC 3279 §2.2.3, as TLS
 * 1.3 sends it, RFC 8446 §4.2.3) gains or loses a byte with the leading
 * bits of r and s. The server flight then varies by 1-2 bytes from one
 * run to the next, and a matrix's JSON would not be reproducible.
 */
static const char lab_key_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIIEugIBADANBgkqhkiG9w0BAQEFAASCBKQwggSgAgEAAoIBAQCV8ddFzPEz2XuX\n"
	"2Bsd+nC/GUq5FOWQymdFmBr5Q/eYHjW8Ssw+ezWWqEMo0mOlBlaZebW629Zfw93s\n"
	"yd1PoymktRYY46r+3vTJ+NzEfqEjfIp0Q/7U9JFOUw0augsqNs7FeqCM1vYs8nj6\n"
	"J2XvncnCKH7JvzF79MFy6g/lKatVfRuP+JbQCW7L4fTMRUNu8MMdIWZBn2N0+et/\n"
	"L6tlUJeXwnLJ0EeZvxNYErc7KRJHHsBaTu46T22iqUpr/0RsWdEiUYkLrpne79f8\n"
	"Hzig+e+whw+stUxTHyaMRFOCdOYPcN8DtEN0KSNgFiS+iVGuhyRC3JkuKpl9tNkM\n"
	"qGIN7EzhAgMBAAECgf84uovngedU5oM2qjFti21R32UV1izENXoSKmnfbzIiqyCe\n"
	"tu3ESyO1zBMcmVHPAtw1/zDHcUS5wTDFKoTrDEqaYKiWN2G065qmjzDMZobbFiiL\n"
	"tENFQ6zLJUC1S+Mi0CQ1MnUWKShvTjfW7Jue/DjI7D6LtXoom4D/fkO6lPlCw24e\n"
	"VEk0I5mPqKXt+yvA/W9dBSvC8tjZxs+oyw6/7EmDKg0zVPuV0I8WbQ4XwbmnswIr\n"
	"5FNc6hAdwP61xR+eO4JLcGSFRkvjW6P+6/2deKShv+ylQWTWa+NB/wqhv7cWBq2P\n"
	"XSiLBX6nzlbfxja4C5QwT5BURx943FTimj3fnYECgYEAyehHweywDk7qO/Qgz9GN\n"
	"TzkA49QBaHROYDeTF5ku/uilLgZZrX2FjAO0aD45L/Wba5rM3bzi7LmO3HCzjfLt\n"
	"TWHj6J0vY0NxV8ccsCrrnuK/DtAkk6fjDWbB5pdqpPDnvNLpqi5nejD21BM0Frl2\n"
	"a0cPyBU+gK13M6bSa2P9CaECgYEAvh26AT0xsscQKyWp1IPMWVoH3AvVwA/tQAJW\n"
	"rR/TvxIHygyfeMtRbnpZMiOYUK7GBhIYLlKcADJUOt2vmepp688aXi8rgGfgAEpu\n"
	"ONlGS6+A0fKAbYilZNQZSPO+ZJPLHsTq1zEgjJPsZJ9b04HKDqcuOKLW99RNzbeB\n"
	"0YC8+0ECgYB/SXSTiQekvZNloI5e9ZjEbQdmme0ZUNloRyDwK545Dam0zkQS36Ml\n"
	"leBSJ4gd+BS3TawBzmaxHno19sb7oj6AHkp0B0QsrAP0do5bcXOBgyk3yXiFrb2y\n"
	"YSm0mZidy1IM9Fpi80ZA/kVdhY29FcbV8sK8PMhejv0rDuxwz2RigQKBgEh/zY7r\n"
	"ZyhmASRzGHCSUjtAuf6QBNNZP4BJZARhPr5+gbnrVmUaI9OdlKYqLMuX2qw1+kKv\n"
	"/g2VI8nPAEgRvJLQR53jHxO4iROTTrUfJk92fgmSEKe0lF3/BCVtzg1MzwjMz0GA\n"
	"2ojBYER/AOWHeSZdWqL+djvMGl94u2jJT0gBAoGAbH/2HthiPg77TnZeJ0CfIzs8\n"
	"uJ/AfqN+GOqFzcDhZhxWaepjvXQDdth5ylK+v9qzW9Qdyzl5lQceMH+wqbxdA+5v\n"
	"9HTXC1RRAfRGVpxQ2TRh7lK9j1gGdOkDwlRHWI+fYWXILjXG/R/SQEz2FLtLDggj\n"
	"8EdZis6yTNT0oiZ23V8=\n"
	"-----END PRIVATE KEY-----\n";
#define LAB_KEY_BITS 2048

/*
 * Fixed validity, so that every run writes the same bytes. Both dates are
 * UTCTime, 13 bytes each (RFC 5280 §4.1.2.5: UTCTime through 2049); the
 * clients do not check them, but the certificate is valid anyway until
 * the end of 2049.
 */
static const char not_before[] = "20250101000000Z";
static const char not_after[] = "20491231235959Z";

/* Serial numbers are this base plus a number below it: always 4 content
 * bytes, positive (RFC 5280 §4.1.2.2), whatever the number. */
#define SERIAL_BASE 0x01000000u
#define LEAF_SERIAL 1u

/*
 * The filler extension's OID: an arc under 2.25 (ITU-T X.667, UUID-based
 * OIDs need no registration), here the UUID X.667 itself uses as its
 * example. Nobody knows it, so every TLS stack carries it as opaque bytes
 * (RFC 5280 §4.2: a non-critical unknown extension MAY be ignored).
 */
static const char filler_oid[] = "2.25.329800735698586629295641978511506172918";

size_t sd_cert_der_len(X509 *x)
{
	int n = i2d_X509(x, NULL);

	return n > 0 ? (size_t)n : 0;
}

/* ---- the lab key, once per process ---------------------------------------- */

static pthread_once_t lab_once = PTHREAD_ONCE_INIT;
static EVP_PKEY *lab_key;   /* the key pair, for signing */
static EVP_PKEY *lab_pub;   /* its public half, for certificates */
static X509 *lab_leaf;
static int lab_ret = -SD_ECRYPTO;

/*
 * RSAPrivateKey, two primes (RFC 8017 Appendix A.1.2), and RSAPublicKey
 * (A.1.1) over the same numbers. OpenSSL 3.0's own ways from PEM to a key
 * and from a key to a certificate's SubjectPublicKeyInfo go through its
 * decoder and encoder frameworks: a millisecond or more the first time in
 * a process, and half a millisecond every time after. These templates,
 * and d2i_PublicKey's direct RSA path, take microseconds.
 */
struct lab_rsa {
	int32_t version;
	BIGNUM *n, *e, *d, *p, *q, *dp, *dq, *qinv;
};

ASN1_SEQUENCE(lab_rsa) = {
	ASN1_EMBED(struct lab_rsa, version, INT32),
	ASN1_SIMPLE(struct lab_rsa, n, BIGNUM),
	ASN1_SIMPLE(struct lab_rsa, e, BIGNUM),
	ASN1_SIMPLE(struct lab_rsa, d, CBIGNUM),
	ASN1_SIMPLE(struct lab_rsa, p, CBIGNUM),
	ASN1_SIMPLE(struct lab_rsa, q, CBIGNUM),
	ASN1_SIMPLE(struct lab_rsa, dp, CBIGNUM),
	ASN1_SIMPLE(struct lab_rsa, dq, CBIGNUM),
	ASN1_SIMPLE(struct lab_rsa, qinv, CBIGNUM),
} static_ASN1_SEQUENCE_END_name(struct lab_rsa, lab_rsa)

struct lab_rsa_pub {
	BIGNUM *n, *e;
};

ASN1_SEQUENCE(lab_rsa_pub) = {
	ASN1_SIMPLE(struct lab_rsa_pub, n, BIGNUM),
	ASN1_SIMPLE(struct lab_rsa_pub, e, BIGNUM),
} static_ASN1_SEQUENCE_END_name(struct lab_rsa_pub, lab_rsa_pub)

/* The lab key's numbers, from its PEM: a PrivateKeyInfo (RFC 5208 §5)
 * for rsaEncryption holding an RSAPrivateKey. Free with lab_rsa_free. */
static struct lab_rsa *lab_rsa_parse(void)
{
	BIO *bio = BIO_new_mem_buf(lab_key_pem, sizeof(lab_key_pem) - 1);
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	const ASN1_OBJECT *alg = NULL;
	const unsigned char *der;
	struct lab_rsa *rsa = NULL;
	int len;

	if (bio)
		p8 = PEM_read_bio_PKCS8_PRIV_KEY_INFO(bio, NULL, NULL, NULL);
	if (p8 && PKCS8_pkey_get0(&alg, &der, &len, NULL, p8) == 1 &&
	    OBJ_obj2nid(alg) == NID_rsaEncryption)
		rsa = (struct lab_rsa *)ASN1_item_d2i(NULL, &der, len, ASN1_ITEM_rptr(lab_rsa));
	PKCS8_PRIV_KEY_INFO_free(p8);
	BIO_free(bio);
	return rsa;
}

static void lab_rsa_free(struct lab_rsa *rsa)
{
	ASN1_item_free((ASN1_VALUE *)rsa, ASN1_ITEM_rptr(lab_rsa));
}

static EVP_PKEY *lab_key_new(const struct lab_rsa *rsa)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_PKEY *key = NULL;

	if (!bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, rsa->n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, rsa->e) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, rsa->d) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, rsa->p) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, rsa->q) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, rsa->dp) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, rsa->dq) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, rsa->qinv) ||
	    !(params = OSSL_PARAM_BLD_to_param(bld)) ||
	    !(pctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) ||
	    EVP_PKEY_fromdata_init(pctx) != 1 ||
	    EVP_PKEY_fromdata(pctx, &key, EVP_PKEY_KEYPAIR, params) != 1)
		key = NULL;
	EVP_PKEY_CTX_free(pctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return key;
}

/*
 * The public half, made by d2i_PublicKey's direct RSA path: a key that
 * X509_set_pubkey encodes itself as rsaEncryption with NULL parameters
 * around the RSAPublicKey (RFC 3279 §2.3.1), and that every certificate
 * made here shares (X509_set_pubkey takes a reference).
 */
static EVP_PKEY *lab_pub_new(const struct lab_rsa *rsa)
{
	struct lab_rsa_pub pub = { .n = rsa->n, .e = rsa->e };
	unsigned char *der = NULL;
	const unsigned char *p;
	int len = ASN1_item_i2d((ASN1_VALUE *)&pub, &der, ASN1_ITEM_rptr(lab_rsa_pub));
	EVP_PKEY *key = NULL;

	if (len > 0) {
		p = der;
		key = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, len);
	}
	OPENSSL_free(der);
	return key;
}

static int set_cn(X509_NAME *name, const char *cn)
{
	return X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
					  (const unsigned char *)cn, -1, -1, 0) == 1 ? 0 : -SD_ECRYPTO;
}

/* An extension from its OpenSSL config text (basicConstraints, SAN...). */
static int add_conf_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ret = -SD_ECRYPTO;

	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (ext && X509_add_ext(x, ext, -1) == 1)
		ret = 0;
	X509_EXTENSION_free(ext);
	return ret;
}

/*
 * An unsigned certificate for the lab key with the fixed dates, serial
 * SERIAL_BASE + serial, the two names and basicConstraints (CA or not).
 * The caller frees *out.
 */
static int cert_new(uint32_t serial, const char *subject, const char *issuer, bool ca, X509 **out)
{
	X509 *x = NULL;
	int ret = -SD_ECRYPTO;

	*out = NULL;
	if (serial >= SERIAL_BASE)
		return -SD_EVALUE;
	x = X509_new();
	if (!x || X509_set_version(x, X509_VERSION_3) != 1 ||
	    ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(SERIAL_BASE + serial)) != 1 ||
	    ASN1_TIME_set_string_X509(X509_getm_notBefore(x), not_before) != 1 ||
	    ASN1_TIME_set_string_X509(X509_getm_notAfter(x), not_after) != 1 ||
	    X509_set_pubkey(x, lab_pub) != 1)
		goto out;
	if ((ret = set_cn(X509_get_subject_name(x), subject)) < 0 ||
	    (ret = set_cn(X509_get_issuer_name(x), issuer)) < 0 ||
	    (ret = add_conf_ext(x, NID_basic_constraints,
				ca ? "critical,CA:TRUE" : "critical,CA:FALSE")) < 0)
		goto out;
	*out = x;
	x = NULL;
	ret = 0;
out:
	X509_free(x);
	return ret;
}

/* The leaf: self-signed, CA:FALSE, subjectAltName shakedown.test. */
static int make_leaf(X509 **out)
{
	X509 *x = NULL;
	int ret;

	if ((ret = cert_new(LEAF_SERIAL, SD_CERT_CN, SD_CERT_CN, false, &x)) < 0 ||
	    (ret = add_conf_ext(x, NID_subject_alt_name, "DNS:" SD_CERT_CN)) < 0)
		goto out;
	ret = -SD_ECRYPTO;
	/* Its extension flags computed now, so that threads only read it. */
	if (X509_sign(x, lab_key, EVP_sha256()) <= 0 || X509_check_purpose(x, -1, 0) != 1)
		goto out;
	*out = x;
	x = NULL;
	ret = 0;
out:
	X509_free(x);
	return ret;
}

static void lab_init(void)
{
	struct lab_rsa *rsa = lab_rsa_parse();
	int ret = -SD_ECRYPTO;

	if (!rsa || rsa->version != 0 || BN_num_bits(rsa->n) != LAB_KEY_BITS ||
	    !(lab_key = lab_key_new(rsa)) || !(lab_pub = lab_pub_new(rsa)))
		goto out;
	ret = make_leaf(&lab_leaf);
out:
	if (ret < 0) {
		EVP_PKEY_free(lab_key);
		EVP_PKEY_free(lab_pub);
		lab_key = lab_pub = NULL;
	}
	lab_rsa_free(rsa);
	ERR_clear_error();
	lab_ret = ret;
}

int sd_cert_lab(EVP_PKEY **key, X509 **leaf)
{
	int ret = pthread_once(&lab_once, lab_init);

	if (ret != 0)
		return -ret;
	if (lab_ret < 0)
		return lab_ret;
	*key = lab_key;
	*leaf = lab_leaf;
	return 0;
}

/* ---- padding certificates ------------------------------------------------- */

/*
 * The filler extension: extnValue holds the DER of an OCTET STRING of n
 * bytes (RFC 5280 §4.1: extnValue is the DER of the extension's own type,
 * here simply an OCTET STRING). The bytes come from xorshift64* seeded by
 * seed: incompressible enough that no certificate compression or
 * middlebox shortcut changes their size, and the same on every run.
 */
static int add_filler_ext(X509 *x, size_t n, uint64_t seed)
{
	ASN1_OBJECT *obj = NULL;
	ASN1_OCTET_STRING *inner = NULL, *value = NULL;
	X509_EXTENSION *ext = NULL;
	unsigned char *fill = NULL, *der = NULL;
	uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
	int der_len, ret = -SD_ECRYPTO;

	if (n > INT_MAX / 2) {
		ret = -SD_EVALUE;
		goto out;
	}
	fill = malloc(n ? n : 1);
	if (!fill) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		s ^= s >> 12;
		s ^= s << 25;
		s ^= s >> 27;
		fill[i] = (unsigned char)((s * 0x2545f4914f6cdd1dull) >> 56);
	}
	obj = OBJ_txt2obj(filler_oid, 1);
	inner = ASN1_OCTET_STRING_new();
	value = ASN1_OCTET_STRING_new();
	if (!obj || !inner || !value || !ASN1_OCTET_STRING_set(inner, fill, (int)n))
		goto out;
	der_len = i2d_ASN1_OCTET_STRING(inner, &der);
	if (der_len <= 0 || !ASN1_OCTET_STRING_set(value, der, der_len))
		goto out;
	ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, value);
	if (!ext || X509_add_ext(x, ext, -1) != 1)
		goto out;
	ret = 0;
out:
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(value);
	ASN1_OCTET_STRING_free(inner);
	ASN1_OBJECT_free(obj);
	OPENSSL_free(der);
	free(fill);
	return ret;
}

/* The filler's length in a padding certificate, from its OCTET STRING. */
static int filler_len(X509 *x, const ASN1_OBJECT *obj, size_t *n)
{
	int loc = X509_get_ext_by_OBJ(x, obj, -1);
	ASN1_OCTET_STRING *value, *inner;
	const unsigned char *p;

	if (loc < 0)
		return -SD_ECRYPTO;
	value = X509_EXTENSION_get_data(X509_get_ext(x, loc));
	p = ASN1_STRING_get0_data(value);
	inner = d2i_ASN1_OCTET_STRING(NULL, &p, ASN1_STRING_length(value));
	if (!inner)
		return -SD_ECRYPTO;
	*n = (size_t)ASN1_STRING_length(inner);
	ASN1_OCTET_STRING_free(inner);
	return 0;
}

/*
 * A padding certificate's DER length minus its filler's, for fillers of
 * FILLER_STEADY bytes or more: from there to 64 KB every DER length field
 * in it is 2 bytes long, so the difference is the same for every padding
 * certificate (their names all have the same length). Learnt from the
 * first one of the process, so later ones are signed once; 0: not yet.
 */
#define FILLER_STEADY 256
static size_t pad_extra;

/*
 * The DER length of x as it will be once signed again. Editing the
 * extensions does not tell OpenSSL that its cached encoding of the
 * TBSCertificate is stale, i2d_re_X509_tbs does. The signature in place
 * is an old one, but every signature with the lab key has its length.
 */
static size_t resigned_len(X509 *x)
{
	if (i2d_re_X509_tbs(x, NULL) <= 0)
		return 0;
	return sd_cert_der_len(x);
}

/*
 * Moves the filler of a signed x until its DER length is der_len, and
 * signs it again if the filler changed. The length follows the filler one
 * for one except where a length field grows a byte: there der_len may be
 * out of reach, and a few rounds end within a byte of it, the same way on
 * every run. Returns the DER length reached.
 */
static int fit(X509 *x, const ASN1_OBJECT *obj, size_t der_len)
{
	uint64_t seed = (uint64_t)ASN1_INTEGER_get(X509_get_serialNumber(x));
	size_t filler, got = sd_cert_der_len(x);
	bool changed = false;
	int ret;

	if (!got)
		return -SD_ECRYPTO;
	if ((ret = filler_len(x, obj, &filler)) < 0)
		return ret;
	for (int round = 0; round < 4 && got != der_len; round++) {
		int loc = X509_get_ext_by_OBJ(x, obj, -1);

		if (got < der_len)
			filler += der_len - got;
		else if (filler > got - der_len)
			filler -= got - der_len;
		else if (filler == 0)
			break; /* as small as it gets */
		else
			filler = 0;
		if (loc < 0)
			return -SD_ECRYPTO;
		X509_EXTENSION_free(X509_delete_ext(x, loc));
		if ((ret = add_filler_ext(x, filler, seed)) < 0)
			return ret;
		changed = true;
		if (!(got = resigned_len(x)))
			return -SD_ECRYPTO;
	}
	if (changed && (X509_sign(x, lab_key, EVP_sha256()) <= 0 || !(got = sd_cert_der_len(x))))
		return -SD_ECRYPTO;
	if (filler >= FILLER_STEADY && got > filler)
		__atomic_store_n(&pad_extra, got - filler, __ATOMIC_RELAXED);
	return got > INT_MAX ? INT_MAX : (int)got;
}

int sd_cert_pad_resize(X509 *x, size_t der_len)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(filler_oid, 1);
	EVP_PKEY *key = NULL;
	X509 *leaf = NULL;
	int ret = -SD_ECRYPTO;

	if (obj && (ret = sd_cert_lab(&key, &leaf)) == 0)
		ret = fit(x, obj, der_len);
	ASN1_OBJECT_free(obj);
	ERR_clear_error();
	return ret;
}

int sd_cert_pad_new(uint32_t serial, size_t der_len, X509 **out)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(filler_oid, 1);
	size_t extra = __atomic_load_n(&pad_extra, __ATOMIC_RELAXED), filler;
	char subject[64], issuer[64];
	EVP_PKEY *key = NULL;
	X509 *leaf = NULL, *x = NULL;
	int ret = -SD_ECRYPTO;

	*out = NULL;
	if (!obj || (ret = sd_cert_lab(&key, &leaf)) < 0)
		goto out;
	/* The first guess is exact once pad_extra is known and in its range. */
	if (extra && der_len >= extra + FILLER_STEADY)
		filler = der_len - extra;
	else
		filler = der_len > SD_CERT_PAD_MIN ? der_len - SD_CERT_PAD_MIN : 0;
	/* Fixed width: every padding certificate's names are as long. */
	snprintf(subject, sizeof(subject), "shakedown padding %03u", (unsigned)serial % 1000);
	snprintf(issuer, sizeof(issuer), "shakedown padding %03u", (unsigned)(serial + 1) % 1000);
	if ((ret = cert_new(serial, subject, issuer, true, &x)) < 0 ||
	    (ret = add_filler_ext(x, filler, SERIAL_BASE + (uint64_t)serial)) < 0)
		goto out;
	ret = -SD_ECRYPTO;
	if (X509_sign(x, key, EVP_sha256()) <= 0 || (ret = fit(x, obj, der_len)) < 0)
		goto out;
	*out = x;
	x = NULL;
out:
	X509_free(x);
	ASN1_OBJECT_free(obj);
	ERR_clear_error();
	return ret;
}
