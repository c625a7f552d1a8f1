/*
 * tls_reload: serve renewed certificate files without a restart and without
 * dropping a connection (a Kubernetes Secret update, cert-manager renewal).
 *
 * civetweb loads the certificate once, but hands its SSL_CTX to the
 * init_ssl callback. tls_reload_install puts a certificate callback on it:
 * at each new TLS handshake, at most once a second, it compares the key and
 * certificate files' identity (device, inode, size, modification time) with
 * the last loaded pair; when they changed and hold a matching key and
 * certificate (plus chain), that pair serves every later handshake.
 * Connections already open keep the certificate they started with. A pair
 * that does not load (half-written, key and certificate not matching) is
 * ignored and retried; the previous one stays. Thread-safe.
 */
#ifndef PDSIM_COMMON_TLS_RELOAD_H
#define PDSIM_COMMON_TLS_RELOAD_H

struct tls_reload;

/* Watch key_file and crt_file (copied), the files the server started with.
 * Caller frees with tls_reload_free after the server stopped. */
struct tls_reload *tls_reload_new(const char *key_file, const char *crt_file);
void tls_reload_free(struct tls_reload *r);

/* For civetweb's init_ssl callback: install the certificate callback on
 * ssl_ctx (an SSL_CTX *). Returns 0, which tells civetweb to load the
 * configured certificate itself, as without reloading. */
int tls_reload_install(struct tls_reload *r, void *ssl_ctx);

/* Pairs loaded since the start (for logs and tests). */
unsigned long tls_reload_count(const struct tls_reload *r);

#endif
