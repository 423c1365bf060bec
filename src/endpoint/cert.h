/* SPDX-License-Identifier: MIT */
/*
 * Internal to src/endpoint: the server's key and certificates, made in
 * memory at start. Clients of this tool do not verify them, so the only
 * thing that matters about the chain is its size on the wire.
 */
#ifndef SD_ENDPOINT_CERT_H
#define SD_ENDPOINT_CERT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "shakedown/err.h"

#define SD_CERT_CN "shakedown.test"
/* Padding certificates are kept at most this long, like the larger
 * post-quantum certificates (an ML-DSA-87 one is about 7.5 KB). */
#define SD_CERT_PAD_MAX 8192
/* About the size of a padding certificate with no filler (P-256 key,
 * ECDSA-SHA256 signature, the names and extensions cert.c puts in). */
#define SD_CERT_PAD_MIN 350

/* A fresh ECDSA P-256 key. The caller frees it. -SD_ECRYPTO. */
int sd_cert_key_new(EVP_PKEY **key) SD_WUR;

/*
 * The self-signed leaf: CN and subjectAltName shakedown.test, signed with
 * key (ECDSA-SHA256). The caller frees *out. -SD_ECRYPTO, -ENOMEM.
 */
int sd_cert_leaf_new(EVP_PKEY *key, X509 **out) SD_WUR;

/*
 * A padding "intermediate" whose DER encoding is der_len bytes long, or
 * as near as the encoding allows (never below the size of the certificate
 * without filler): a CA certificate carrying one non-critical extension of
 * an unregistered OID whose value is der_len-ish bytes of incompressible
 * filler drawn from serial. Returns the DER length reached, or
 * -SD_ECRYPTO / -ENOMEM. The caller frees *out.
 */
int sd_cert_pad_new(EVP_PKEY *key, uint32_t serial, size_t der_len, X509 **out) SD_WUR;

/* Re-sizes a certificate from sd_cert_pad_new towards der_len (and
 * re-signs it with key). Returns the DER length reached, or -SD_ECRYPTO /
 * -ENOMEM (x is then unusable). */
int sd_cert_pad_resize(X509 *x, EVP_PKEY *key, size_t der_len) SD_WUR;

/* The DER length of a certificate, 0 if it cannot be encoded. */
size_t sd_cert_der_len(X509 *x);

#endif
