/*
 * tls: the certificate a pdsim server serves HTTPS with.
 *
 * civetweb wants one PEM file with the private key and the certificate.
 * tls_pem writes that file from a key file and a certificate file, or, when
 * both are NULL, from a self-signed ECDSA P-256 certificate for
 * localhost/127.0.0.1, valid 10 years, made at start (upstream makes an
 * RSA-4096 one, which takes seconds). The file is private (0600) and
 * temporary: delete it once the server has started. civetweb reads it once,
 * at start; tls_reload serves renewed files after that.
 *
 * The rest of TLS: tls_shim.c (why civetweb needs it on Debian 12), httpd
 * (the listener).
 */
#ifndef PDSIM_COMMON_TLS_H
#define PDSIM_COMMON_TLS_H

#include <stddef.h>

/* Write the PEM file; its path goes to out. key_file and crt_file are both
 * NULL (self-signed) or both set; what names the flag(s) in errors. Returns
 * 0, or a negative errno with err naming the flag or file. */
int tls_pem(const char *key_file, const char *crt_file, const char *what, char *out, size_t outlen,
            char *err, size_t errlen);

#endif
