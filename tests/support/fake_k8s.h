/*
 * fake_k8s: for C tests, the fake API server (fake_apiserver.py) as a child
 * process, a kubeconfig pointing at it (with a tokenFile "token" when a token
 * is given), and a k8s_config + k8s_client loaded from that kubeconfig.
 */
#ifndef PDSIM_FAKE_K8S_H
#define PDSIM_FAKE_K8S_H

#include "controller/k8s_client.h"

#include <stdio.h>

struct fake_k8s {
    FILE *out; /* the server's stdout (popen) */
    int pid, port;
    char dir[64]; /* temporary directory with kc.yaml and token */
    struct k8s_config cfg;
    struct k8s_client *client;
};

/* args are extra fake_apiserver.py flags; token (may be NULL) is required by
 * the server and written to the token file. Returns 0 or -1. */
int fake_k8s_start(struct fake_k8s *f, const char *args, const char *token);
/* Stop the server process only (the client stays, for unreachable tests). */
void fake_k8s_kill(struct fake_k8s *f);
/* Stop everything and remove the directory. Returns 0 or -1. */
int fake_k8s_stop(struct fake_k8s *f);
/* Write text to dir/name. Returns 0 or -1. */
int fake_k8s_write(struct fake_k8s *f, const char *name, const char *text);

#endif
