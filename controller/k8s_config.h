/*
 * k8s_config: where the API server is and how to authenticate to it.
 *
 * Resolution, as controller-runtime's GetConfig: the --kubeconfig path, else
 * $KUBECONFIG (its first existing file), else in-cluster (the service account
 * under sa_dir and KUBERNETES_SERVICE_HOST/PORT), else ~/.kube/config.
 *
 * From a kubeconfig it takes the current context: the cluster's server,
 * certificate-authority(-data) and insecure-skip-tls-verify; the user's
 * token or tokenFile and client-certificate(-data)/client-key(-data); the
 * context's namespace. Relative paths are relative to the kubeconfig file.
 * exec and auth-provider plugins are refused by name. In-cluster, the token is
 * a file that is re-read (k8s_config_token) at least every minute and on
 * demand after a 401, since projected tokens rotate.
 */
#ifndef PDSIM_K8S_CONFIG_H
#define PDSIM_K8S_CONFIG_H

#include "common/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define K8S_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

struct k8s_config {
    char *server;         /* "https://host:port" */
    struct buf ca;        /* PEM of the CA bundle; empty: system CAs */
    struct buf cert, key; /* client certificate and key PEM; empty: none */
    bool insecure;        /* insecure-skip-tls-verify */
    char *token;          /* bearer token, or NULL */
    char *token_file;     /* re-read by k8s_config_token when set */
    time_t token_read;    /* when token_file was last read */
    char *namespace;      /* the context's or the service account's; NULL if none */
    char *source;         /* where it came from, for logs ("in-cluster", a path) */
};

/* Load. kubeconfig may be NULL; sa_dir NULL means K8S_SA_DIR. Returns 0, or
 * -1 with err naming the file and field. Release with k8s_config_release
 * also on error. */
int k8s_config_load(struct k8s_config *c, const char *kubeconfig, const char *sa_dir, char *err,
                    size_t errlen);
void k8s_config_release(struct k8s_config *c);

/* The bearer token to send now (NULL if none): re-reads token_file when it
 * is older than 60 s or force is set (after a 401). */
const char *k8s_config_token(struct k8s_config *c, bool force);

/* Base64 (RFC 4648, padding optional, whitespace ignored) into out. Returns 0
 * or -1 on a bad character. */
int k8s_base64_decode(const char *in, struct buf *out);

#endif
