#include "fake_k8s.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef FAKE_APISERVER
#error FAKE_APISERVER must name tests/support/fake_apiserver.py
#endif

int fake_k8s_write(struct fake_k8s *f, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", f->dir, name);
    FILE *fp = fopen(path, "w");
    if (!fp)
        return -1;
    fputs(text, fp);
    return fclose(fp) == 0 ? 0 : -1;
}

int fake_k8s_start(struct fake_k8s *f, const char *args, const char *token)
{
    char cmd[1024], kc[1024], path[256], err[512];
    memset(f, 0, sizeof(*f));
    snprintf(cmd, sizeof(cmd), "echo $$; exec /usr/bin/python3 %s %s%s%s", FAKE_APISERVER,
             args ? args : "", token ? " --token " : "", token ? token : "");
    f->out = popen(cmd, "r");
    if (!f->out || fscanf(f->out, "%d {\"port\": %d}", &f->pid, &f->port) != 2)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/pdsim-fake-k8s-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(kc, sizeof(kc),
             "current-context: fake\n"
             "clusters: [{name: f, cluster: {server: 'http://127.0.0.1:%d'}}]\n"
             "contexts: [{name: fake, context: {cluster: f, user: u, namespace: default}}]\n"
             "users: [{name: u, user: {%s}}]\n",
             f->port, token ? "tokenFile: token" : "");
    char tok[256];
    snprintf(tok, sizeof(tok), "%s\n", token ? token : "");
    if (fake_k8s_write(f, "kc.yaml", kc) < 0 || (token && fake_k8s_write(f, "token", tok) < 0))
        return -1;
    snprintf(path, sizeof(path), "%s/kc.yaml", f->dir);
    if (k8s_config_load(&f->cfg, path, NULL, err, sizeof(err)) < 0) {
        fprintf(stderr, "fake_k8s: %s\n", err);
        return -1;
    }
    f->client = k8s_client_new(&f->cfg, err, sizeof(err));
    return f->client ? 0 : -1;
}

void fake_k8s_kill(struct fake_k8s *f)
{
    if (f->pid > 0)
        kill(f->pid, SIGTERM);
    if (f->out)
        pclose(f->out);
    f->pid = 0;
    f->out = NULL;
}

int fake_k8s_stop(struct fake_k8s *f)
{
    k8s_client_free(f->client);
    k8s_config_release(&f->cfg);
    fake_k8s_kill(f);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    return f->dir[0] && system(cmd) != 0 ? -1 : 0;
}
