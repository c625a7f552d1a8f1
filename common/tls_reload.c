#include "common/tls_reload.h"

#include "common/xalloc.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

struct file_id {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
};

struct tls_reload {
    char *key_file, *crt_file;
    pthread_mutex_t mu;            /* guards everything below */
    struct file_id key_id, crt_id; /* of the pair now served */
    time_t checked;                /* CLOCK_MONOTONIC second of the last look */
    X509 *crt;                     /* NULL: civetweb's own (the start's) pair */
    EVP_PKEY *key;
    STACK_OF(X509) * chain;
    _Atomic unsigned long loads;
};

static bool file_id_of(const char *path, struct file_id *id)
{
    struct stat st; /* stat follows symlinks: a Secret volume swaps ..data */
    if (stat(path, &st) != 0)
        return false;
    id->dev = st.st_dev;
    id->ino = st.st_ino;
    id->size = st.st_size;
    id->mtime = st.st_mtim;
    return true;
}

static bool same_id(const struct file_id *a, const struct file_id *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

struct tls_reload *tls_reload_new(const char *key_file, const char *crt_file)
{
    struct tls_reload *r = xcalloc(1, sizeof(*r));
    r->key_file = xstrdup(key_file);
    r->crt_file = xstrdup(crt_file);
    pthread_mutex_init(&r->mu, NULL);
    file_id_of(key_file, &r->key_id);
    file_id_of(crt_file, &r->crt_id);
    return r;
}

static void drop_pair(struct tls_reload *r)
{
    X509_free(r->crt);
    EVP_PKEY_free(r->key);
    sk_X509_pop_free(r->chain, X509_free);
    r->crt = NULL;
    r->key = NULL;
    r->chain = NULL;
}

void tls_reload_free(struct tls_reload *r)
{
    if (!r)
        return;
    drop_pair(r);
    pthread_mutex_destroy(&r->mu);
    free(r->key_file);
    free(r->crt_file);
    free(r);
}

/* Read a key and a certificate with its chain; true when they match. */
static bool load_pair(const char *key_file, const char *crt_file, EVP_PKEY **key, X509 **crt,
                      STACK_OF(X509) * *chain)
{
    *key = NULL;
    *crt = NULL;
    *chain = sk_X509_new_null();
    FILE *kf = fopen(key_file, "r"), *cf = fopen(crt_file, "r");
    if (kf)
        *key = PEM_read_PrivateKey(kf, NULL, NULL, NULL);
    if (cf) {
        *crt = PEM_read_X509(cf, NULL, NULL, NULL);
        X509 *extra;
        while (*crt && *chain && (extra = PEM_read_X509(cf, NULL, NULL, NULL)))
            sk_X509_push(*chain, extra);
    }
    if (kf)
        fclose(kf);
    if (cf)
        fclose(cf);
    bool ok = *key && *crt && *chain && X509_check_private_key(*crt, *key) == 1;
    /* A failed read leaves errors on this thread's OpenSSL queue, where the
     * handshake that runs this would find them and fail. */
    ERR_clear_error();
    if (ok)
        return true;
    X509_free(*crt);
    EVP_PKEY_free(*key);
    sk_X509_pop_free(*chain, X509_free);
    *key = NULL;
    *crt = NULL;
    *chain = NULL;
    return false;
}

/* Look at the files at most once a second; load a changed, valid pair.
 * Caller holds the lock. */
static void maybe_reload(struct tls_reload *r)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec == r->checked)
        return;
    r->checked = now.tv_sec;
    struct file_id k, c;
    if (!file_id_of(r->key_file, &k) || !file_id_of(r->crt_file, &c))
        return;
    if (same_id(&k, &r->key_id) && same_id(&c, &r->crt_id))
        return;
    EVP_PKEY *key;
    X509 *crt;
    STACK_OF(X509) * chain;
    if (!load_pair(r->key_file, r->crt_file, &key, &crt, &chain))
        return; /* half-written or mismatched: keep serving the old pair, retry */
    drop_pair(r);
    r->key = key;
    r->crt = crt;
    r->chain = chain;
    r->key_id = k;
    r->crt_id = c;
    atomic_fetch_add(&r->loads, 1);
}

/* SSL_CTX_set_cert_cb: runs in the handshake of each new connection. */
static int cert_cb(SSL *ssl, void *arg)
{
    struct tls_reload *r = arg;
    int ok = 1;
    pthread_mutex_lock(&r->mu);
    maybe_reload(r);
    if (r->crt) /* the connection holds its own references from here on */
        ok = SSL_use_cert_and_key(ssl, r->crt, r->key, r->chain, 1) == 1;
    pthread_mutex_unlock(&r->mu);
    return ok;
}

int tls_reload_install(struct tls_reload *r, void *ssl_ctx)
{
    SSL_CTX_set_cert_cb(ssl_ctx, cert_cb, r);
    return 0;
}

unsigned long tls_reload_count(const struct tls_reload *r)
{
    return atomic_load(&r->loads);
}
