/*
 * tls_shim: a "libssl.so" that makes Debian 12's civetweb serve TLS.
 *
 * Debian's libcivetweb 1.15 loads OpenSSL at run time: it dlopen()s
 * "libssl.so" and looks up the OpenSSL 1.1 function names. OpenSSL 3 has
 * every one of them but SSL_get_peer_certificate, which became a macro for
 * SSL_get1_peer_certificate, so mg_init_library(MG_FEATURES_TLS) fails.
 *
 * This library is named libssl.so, depends on the real libssl.so.3 (so a
 * lookup through its handle finds every other function there) and defines
 * the missing name. pdsim-sidecar carries an RPATH (not RUNPATH) to its
 * directory, which glibc searches for a dlopen() from a library without
 * RUNPATH before the system paths. libcurl links libssl.so.3 by soname and
 * is not affected.
 */
#include <openssl/ssl.h>

#undef SSL_get_peer_certificate
X509 *SSL_get_peer_certificate(const SSL *s);

X509 *SSL_get_peer_certificate(const SSL *s)
{
    return SSL_get1_peer_certificate(s);
}
