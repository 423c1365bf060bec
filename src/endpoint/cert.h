/* SPDX-License-Identifier: MIT */
/*
 * Internal to src/endpoint: the server's key and certificates. Clients of
 * this tool do not verify them, so what matters about the chain is its
 * size on the wire, and that this size is the same on every run: one
 * fixed RSA-2048 lab key (PKCS#1 v1.5 certificate signatures and RSA-PSS
 * CertificateVerify signatures, RFC 8017 §8.2 and §8.1, are always as long
 * as the modulus), fixed validity dates and fixed-width serials.
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
/* The size of a padding certificate with no filler (RSA-2048 key and
 * signature, the names and extensions cert.c puts in). */
#define SD_CERT_PAD_MIN 753

/*
 * The lab key and its self-signed leaf (CN and subjectAltName
 * shakedown.test, sha256WithRSAEncryption), made once per process, the
 * first time any thread asks, and the same bytes in every process. Both
 * are borrowed: they live until the process exits, callers must not free
 * or modify them (SSL_CTX_use_* take their own references), and any
 * thread may use them. Returns 0, or -SD_ECRYPTO on every call once the
 * first one failed.
 */
int sd_cert_lab(EVP_PKEY **key, X509 **leaf) SD_WUR;

/*
 * A padding "intermediate" whose DER encoding is der_len bytes long, or
 * as near as the encoding allows (never below SD_CERT_PAD_MIN): a CA
 * certificate for the lab key, signed with it, carrying one non-critical
 * extension of an unregistered OID whose value is der_len-ish bytes of
 * incompressible filler drawn from serial. The same arguments give the
 * same bytes. Returns the DER length reached, or -SD_ECRYPTO / -ENOMEM /
 * -SD_EVALUE. The caller frees *out.
 */
int sd_cert_pad_new(uint32_t serial, size_t der_len, X509 **out) SD_WUR;

/* Re-sizes a certificate from sd_cert_pad_new towards der_len, as near
 * as sd_cert_pad_new would, and signs it again if it changed. Returns the
 * DER length reached, or -SD_ECRYPTO / -ENOMEM / -SD_EVALUE (x is then
 * unusable). */
int sd_cert_pad_resize(X509 *x, size_t der_len) SD_WUR;

/* The DER length of a certificate, 0 if it cannot be encoded. */
size_t sd_cert_der_len(X509 *x);

#endif
