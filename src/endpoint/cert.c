/* SPDX-License-Identifier: MIT */
/* The server's in-memory ECDSA key, self-signed leaf and size-padding certificates. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "cert.h"

/*
 * The filler extension's OID: an arc under 2.25 (ITU-T X.667, UUID-based
 * OIDs need no registration), here the UUID X.667 itself uses as its
 * example. Nobody knows it, so every TLS stack carries it as opaque bytes
 * (RFC 5280 §4.2: a non-critical unknown extension MAY be ignored).
 */
static const char filler_oid[] = "2.25.329800735698586629295641978511506172918";

int sd_cert_key_new(EVP_PKEY **key)
{
	*key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	return *key ? 0 : -SD_ECRYPTO;
}

size_t sd_cert_der_len(X509 *x)
{
	int n = i2d_X509(x, NULL);

	return n > 0 ? (size_t)n : 0;
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

/* A certificate for key named subject, issued by issuer, signed with key. */
static int make_cert(EVP_PKEY *key, const char *subject, const char *issuer, uint32_t serial,
		     bool ca, size_t filler, bool padding, X509 **out)
{
	X509 *x = NULL;
	int ret = -SD_ECRYPTO;

	*out = NULL;
	x = X509_new();
	if (!x)
		goto out;
	if (X509_set_version(x, X509_VERSION_3) != 1 ||
	    ASN1_INTEGER_set(X509_get_serialNumber(x), (long)serial) != 1 ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), 365L * 24 * 3600))
		goto out;
	/* OpenSSL 3.0 makes this the costly step (a DER round trip through its
	 * encoder and decoder), so padding certificates are built few times. */
	if (X509_set_pubkey(x, key) != 1)
		goto out;
	if ((ret = set_cn(X509_get_subject_name(x), subject)) < 0 ||
	    (ret = set_cn(X509_get_issuer_name(x), issuer)) < 0)
		goto out;
	if (ca)
		ret = add_conf_ext(x, NID_basic_constraints, "critical,CA:TRUE");
	else if ((ret = add_conf_ext(x, NID_basic_constraints, "critical,CA:FALSE")) == 0)
		ret = add_conf_ext(x, NID_subject_alt_name, "DNS:" SD_CERT_CN);
	if (ret < 0)
		goto out;
	if (padding && (ret = add_filler_ext(x, filler, serial)) < 0)
		goto out;
	ret = -SD_ECRYPTO;
	if (X509_sign(x, key, EVP_sha256()) <= 0)
		goto out;
	*out = x;
	x = NULL;
	ret = 0;
out:
	X509_free(x);
	return ret;
}

int sd_cert_leaf_new(EVP_PKEY *key, X509 **out)
{
	return make_cert(key, SD_CERT_CN, SD_CERT_CN, 1, false, 0, false, out);
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

int sd_cert_pad_resize(X509 *x, EVP_PKEY *key, size_t der_len)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(filler_oid, 1);
	uint64_t seed = (uint64_t)ASN1_INTEGER_get(X509_get_serialNumber(x));
	size_t filler, got = sd_cert_der_len(x);
	int ret = -SD_ECRYPTO;

	if (!obj || !got || (ret = filler_len(x, obj, &filler)) < 0)
		goto out;
	/*
	 * The DER length follows the filler one for one except where a length
	 * field grows a byte, and the ECDSA signature varies by a byte or two:
	 * a few rounds of correcting by the difference land within a byte of
	 * it, which is close enough. The key stays in place: re-signing is
	 * cheap, X509_set_pubkey is not (OpenSSL 3.0).
	 */
	for (int round = 0; round < 4 && (got + 1 < der_len || got > der_len + 1); round++) {
		int loc = X509_get_ext_by_OBJ(x, obj, -1);

		if (got < der_len)
			filler += der_len - got;
		else if (filler > got - der_len)
			filler -= got - der_len;
		else if (filler == 0)
			break; /* as small as it gets */
		else
			filler = 0;
		ret = -SD_ECRYPTO;
		if (loc < 0)
			goto out;
		X509_EXTENSION_free(X509_delete_ext(x, loc));
		if ((ret = add_filler_ext(x, filler, seed)) < 0)
			goto out;
		ret = -SD_ECRYPTO;
		if (X509_sign(x, key, EVP_sha256()) <= 0 || !(got = sd_cert_der_len(x)))
			goto out;
	}
	ret = got > INT_MAX ? INT_MAX : (int)got;
out:
	ASN1_OBJECT_free(obj);
	return ret;
}

int sd_cert_pad_new(EVP_PKEY *key, uint32_t serial, size_t der_len, X509 **out)
{
	char subject[64], issuer[64];
	size_t guess = der_len > SD_CERT_PAD_MIN + 16 ? der_len - SD_CERT_PAD_MIN - 16 : 0;
	X509 *x = NULL;
	int ret;

	*out = NULL;
	snprintf(subject, sizeof(subject), "shakedown padding %u", (unsigned)serial);
	snprintf(issuer, sizeof(issuer), "shakedown padding %u", (unsigned)serial + 1);
	if ((ret = make_cert(key, subject, issuer, serial, true, guess, true, &x)) < 0 ||
	    (ret = sd_cert_pad_resize(x, key, der_len)) < 0) {
		X509_free(x);
		return ret;
	}
	*out = x;
	return ret;
}
