#include "common/tls.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A private temporary file; its path goes to out. */
static FILE *temp_pem(char *out, size_t outlen, char *err, size_t errlen)
{
    const char *dir = getenv("TMPDIR");
    snprintf(out, outlen, "%s/pdsim-tls-XXXXXX.pem", dir && *dir ? dir : "/tmp");
    int fd = mkstemps(out, 4);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        snprintf(err, errlen, "cannot create a temporary certificate file: %s", strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(out);
        }
    }
    return f;
}

static int copy_file(FILE *to, const char *path, const char *what, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot read %s: %s", what, path, strerror(errno));
        return -EINVAL;
    }
    char buf[8192];
    size_t n;
    int last = '\n', rc = 0;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0 && rc == 0) {
        if (fwrite(buf, 1, n, to) != n)
            rc = -EIO;
        last = buf[n - 1];
    }
    if (ferror(f))
        rc = -EIO;
    fclose(f);
    if (rc == 0 && last != '\n' && fputc('\n', to) == EOF) /* keep PEM blocks apart */
        rc = -EIO;
    if (rc < 0)
        snprintf(err, errlen, "%s: cannot copy %s: %s", what, path, strerror(errno));
    return rc;
}

/* A self-signed ECDSA P-256 certificate for "localhost", valid 10 years. */
static int self_signed(FILE *to, const char *what, char *err, size_t errlen)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    int ok = key && x;
    if (ok) {
        X509_set_version(x, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(x), (long)time(NULL));
        X509_gmtime_adj(X509_getm_notBefore(x), -3600);
        X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 24 * 3600);
        X509_set_pubkey(x, key);
        X509_NAME *name = X509_get_subject_name(x);
        X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"pdsim", -1, -1,
                                   0);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1,
                                   -1, 0);
        X509_set_issuer_name(x, name);
        X509V3_CTX ctx;
        X509V3_set_ctx_nodb(&ctx);
        X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
        X509_EXTENSION *san =
            X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
        ok = san && X509_add_ext(x, san, -1) && X509_sign(x, key, EVP_sha256()) &&
             PEM_write_PrivateKey(to, key, NULL, NULL, 0, NULL, NULL) && PEM_write_X509(to, x);
        X509_EXTENSION_free(san);
    }
    X509_free(x);
    EVP_PKEY_free(key);
    if (!ok)
        snprintf(err, errlen, "%s: cannot make a self-signed certificate", what);
    return ok ? 0 : -EINVAL;
}

int tls_pem(const char *key_file, const char *crt_file, const char *what, char *out, size_t outlen,
            char *err, size_t errlen)
{
    FILE *f = temp_pem(out, outlen, err, errlen);
    if (!f)
        return -EIO;
    int rc;
    if (key_file && crt_file) {
        rc = copy_file(f, key_file, what, err, errlen);
        rc = rc ? rc : copy_file(f, crt_file, what, err, errlen);
    } else {
        rc = self_signed(f, what, err, errlen);
    }
    if (fclose(f) != 0 && rc == 0) {
        snprintf(err, errlen, "cannot write %s: %s", out, strerror(errno));
        rc = -EIO;
    }
    if (rc < 0)
        unlink(out);
    return rc;
}
