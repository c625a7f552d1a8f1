/* pdsim-controller's PDSimulation handling: the input is a CR as JSON (the
 * API server's form) or, failing that, YAML (local mode's). Its children are
 * rendered as the reconciler does (no validation: the API server did it),
 * then it is validated against the compiled-in CRD as local mode does, and
 * a valid one rendered again with its defaults. */
#include "common/yamljson.h"
#include "controller/crd_check.h"
#include "controller/pd_desired.h"
#include "fuzz_util.h"

#include <stdlib.h>

static void render(const cJSON *cr, const struct pd_opts *o)
{
    char err[512];
    cJSON *children = pd_desired_children(cr, o, err, sizeof(err));
    if (children && cJSON_GetArraySize(children) != 4)
        abort(); /* two Deployments and two Services */
    char *text = cJSON_PrintUnformatted(children);
    cJSON_free(text);
    cJSON_Delete(children);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char err[512];
    if (crd_check_init(err, sizeof(err)) < 0)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    cJSON *cr = cJSON_ParseWithLength((const char *)data, size);
    if (!cr)
        cr = yaml_to_json((const char *)data, size, err, sizeof(err));
    if (!cr)
        return 0;
    const struct pd_opts controller = {.image = "ghcr.io/pdsim/pdsim:latest",
                                       .pull_policy = "IfNotPresent"};
    const struct pd_opts local = {.image = "local"};
    render(cr, &controller);
    if (crd_validate(cr, err, sizeof(err)) == 0)
        render(cr, &local);
    cJSON_Delete(cr);
    return 0;
}
