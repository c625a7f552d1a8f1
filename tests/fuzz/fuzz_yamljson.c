/* YAML to JSON (common/yamljson.h): one document and a multi-document
 * stream, as the controller reads kubeconfigs and local-mode files. A single
 * document that parses must also parse as a stream of one. */
#include "common/yamljson.h"
#include "fuzz_util.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    cJSON *one = yaml_to_json((const char *)data, size, err, sizeof(err));
    cJSON *all = yaml_to_json_all((const char *)data, size, err, sizeof(err));
    if (one && !all)
        abort();
    char *a = one ? cJSON_PrintUnformatted(one) : NULL;
    char *b = cJSON_GetArraySize(all) == 1 ? cJSON_PrintUnformatted(all->child) : NULL;
    /* the same document read two ways (compared as text: .nan is not equal to itself) */
    if (a && b && strcmp(a, b) != 0)
        abort();
    cJSON_free(a);
    cJSON_free(b);
    cJSON_Delete(one);
    cJSON_Delete(all);
    return 0;
}
