/*
 * sc_tls: the certificate the sidecar serves with --secure-proxy.
 *
 * civetweb wants one PEM file with the private key and the certificate.
 * With --cert-path, that file is tls.key followed by tls.crt from the
 * directory (Kubernetes TLS secret names); without it, a self-signed ECDSA
 * P-256 certificate for localhost/127.0.0.1, valid 10 years, is made at start
 * (upstream makes an RSA-4096 one, which takes seconds). The file is private
 * (0600) and temporary: delete it once the server has started.
 *
 * The rest of TLS: tls_shim.c (why civetweb needs it on Debian 12), httpd
 * (the listener), sc_upstream (https upstream and skipping verification).
 */
#ifndef PDSIM_SC_TLS_H
#define PDSIM_SC_TLS_H

#include <stddef.h>

/* Write the PEM file; its path goes to out. cert_path may be NULL.
 * Returns 0, or a negative errno with err naming the flag or file. */
int sc_tls_pem(const char *cert_path, char *out, size_t outlen, char *err, size_t errlen);

#endif
