/* pdsim-simulator's POST /tokenize: a body with prompt or messages, parsed as
 * handle_tokenize (sim_server.c) does, then tokenized and counted. */
#include "common/json.h"
#include "fuzz_util.h"
#include "simulator/sim_request.h"
#include "simulator/sim_tokenizer.h"

#include <stdbool.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    char err[256];
    const char *param;
    cJSON *root = json_parse(body, size, err, sizeof(err));
    bool has_prompt = root && cJSON_GetObjectItemCaseSensitive(root, "prompt");
    bool has_msgs = root && cJSON_GetObjectItemCaseSensitive(root, "messages");
    cJSON_Delete(root);
    if (has_prompt == has_msgs)
        return 0;
    struct sim_request req;
    int rc = sim_request_parse(has_msgs ? SIM_API_CHAT : SIM_API_COMPLETIONS, body, size, &req, err,
                               sizeof(err), &param);
    if (rc == 0) {
        /* /tokenize answers for the first prompt, as the server does */
        const struct sim_prompt *p = &req.prompts[0];
        struct sim_toklist t;
        sim_toklist_init(&t);
        sim_tokenize(p->text, p->text_len, &t);
        if (t.n != sim_token_count(p->text, p->text_len))
            abort(); /* the two counts disagree */
        for (size_t i = 0; i < t.n; i++)
            if (t.v[i].off + (size_t)t.v[i].len > p->text_len)
                abort(); /* a token outside the text */
        sim_toklist_release(&t);
    }
    sim_request_release(&req);
    return 0;
}
