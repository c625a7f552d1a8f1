/* pdsim-controller's kubeconfig loading: the input is written to a file in a
 * private temporary directory and loaded with k8s_config_load. The files a
 * kubeconfig may name (certificate-authority, client-certificate,
 * client-key, tokenFile) are only followed inside that directory: inputs
 * whose YAML holds an absolute path or ".." are skipped, so the target never
 * reads the machine's files (or blocks on /dev/stdin). */
#include "common/yamljson.h"
#include "controller/k8s_config.h"
#include "fuzz_util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64], path[96];

static void cleanup(void)
{
    unlink(path);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(dir, sizeof(dir), "/tmp/pdsim-fuzz-kubeconfig.XXXXXX");
    if (!mkdtemp(dir))
        abort();
    snprintf(path, sizeof(path), "%s/config", dir);
    atexit(cleanup);
    return 0;
}

/* Any string (key or value) that could name a file outside dir. */
static bool outside(const cJSON *j)
{
    if (j->string && (j->string[0] == '/' || strstr(j->string, "..")))
        return true;
    if (cJSON_IsString(j) && (j->valuestring[0] == '/' || strstr(j->valuestring, "..")))
        return true;
    const cJSON *c;
    cJSON_ArrayForEach(c, j)
    {
        if (outside(c))
            return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024];
    cJSON *j = yaml_to_json((const char *)data, size, err, sizeof(err));
    bool skip = j && outside(j);
    cJSON_Delete(j);
    if (skip)
        return 0;
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
    struct k8s_config c;
    if (k8s_config_load(&c, path, dir, err, sizeof(err)) == 0) {
        if (!c.server)
            abort(); /* a loaded config has a server */
        (void)k8s_config_token(&c, false);
    }
    k8s_config_release(&c);
    return 0;
}
