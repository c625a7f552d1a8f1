#include "simulator/sim_embed.h"

#include "common/json.h"
#include "common/xalloc.h"
#include "simulator/sim_tokenizer.h"

#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INPUT_FORMS                                                                                \
    "input must be a string, an array of strings, an array of token ids or an array of token "     \
    "id arrays"

void sim_embed_release(struct sim_embed_req *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nin; i++)
        free(r->in[i].ids);
    free(r->in);
    cJSON_Delete(r->root);
    memset(r, 0, sizeof(*r));
}

int sim_embed_parse(const char *body, size_t len, struct sim_embed_req *r, char *err, size_t errlen,
                    const char **param)
{
    char jerr[128];
    bool present;
    memset(r, 0, sizeof(*r));
    *param = NULL;
    r->root = json_parse(body, len, jerr, sizeof(jerr));
    if (!r->root || !cJSON_IsObject(r->root)) {
        snprintf(err, errlen, "Failed to read and parse request body, %s",
                 r->root ? "expected a JSON object" : jerr);
        return 400;
    }
    if (json_opt_str(r->root, "model", &r->model, &present, err, errlen) < 0) {
        *param = "model";
        return 400;
    }
    if (!present)
        r->model = "";
    return 0;
}

static struct sim_embed_input *add_input(struct sim_embed_req *r)
{
    r->in = xrealloc(r->in, (r->nin + 1) * sizeof(*r->in));
    struct sim_embed_input *in = &r->in[r->nin++];
    memset(in, 0, sizeof(*in));
    return in;
}

static int text_input(struct sim_embed_req *r, const char *s, char *err, size_t errlen)
{
    if (!*s) {
        snprintf(err, errlen, "input cannot be an empty string");
        return -1;
    }
    struct sim_toklist t;
    struct sim_embed_input *in = add_input(r);
    sim_toklist_init(&t);
    sim_tokenize(s, strlen(s), &t);
    in->ids = t.n ? xcalloc(t.n, sizeof(*in->ids)) : NULL;
    for (size_t i = 0; i < t.n; i++)
        in->ids[i] = t.v[i].id;
    in->n = t.n;
    sim_toklist_release(&t);
    return 0;
}

/* One array of token ids: uint32 integers, not empty. */
static int id_input(struct sim_embed_req *r, const cJSON *a, char *err, size_t errlen)
{
    size_t n = (size_t)cJSON_GetArraySize(a), i = 0;
    if (n == 0) {
        snprintf(err, errlen, "input token id arrays must not be empty");
        return -1;
    }
    struct sim_embed_input *in = add_input(r);
    in->ids = xcalloc(n, sizeof(*in->ids));
    const cJSON *t;
    cJSON_ArrayForEach(t, a)
    {
        if (!cJSON_IsNumber(t) || !(t->valuedouble >= 0 && t->valuedouble <= 4294967295.0) ||
            t->valuedouble != floor(t->valuedouble)) {
            snprintf(err, errlen, "input token ids must be integers from 0 to 4294967295");
            return -1;
        }
        in->ids[i++] = (uint32_t)t->valuedouble;
    }
    in->n = n;
    return 0;
}

/* The input's shape follows its first element, as upstream. */
static int parse_input(struct sim_embed_req *r, const cJSON *input, char *err, size_t errlen)
{
    if (cJSON_IsString(input))
        return text_input(r, input->valuestring, err, errlen);
    if (!cJSON_IsArray(input) || cJSON_GetArraySize(input) == 0) {
        snprintf(err, errlen, "%s",
                 !input || cJSON_IsNull(input) || cJSON_IsArray(input)
                     ? "input is required and must be a non-empty string or "
                       "array"
                     : INPUT_FORMS);
        return -1;
    }
    if (cJSON_GetArraySize(input) > SIM_EMBED_MAX_INPUTS) {
        snprintf(err, errlen, "input has %d items; at most %d are allowed",
                 cJSON_GetArraySize(input), SIM_EMBED_MAX_INPUTS);
        return -1;
    }
    const cJSON *first = cJSON_GetArrayItem(input, 0), *it;
    if (cJSON_IsNumber(first))
        return id_input(r, input, err, errlen);
    cJSON_ArrayForEach(it, input)
    {
        int rc = -1;
        if (cJSON_IsString(first) && cJSON_IsString(it))
            rc = text_input(r, it->valuestring, err, errlen);
        else if (cJSON_IsArray(first) && cJSON_IsArray(it))
            rc = id_input(r, it, err, errlen);
        else
            snprintf(err, errlen, INPUT_FORMS);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int parse_options(struct sim_embed_req *r, long default_dims, char *err, size_t errlen,
                         const char **param)
{
    long long dims;
    bool present;
    const char *fmt;
    *param = "dimensions";
    if (json_opt_int(r->root, "dimensions", &dims, &present, err, errlen) < 0)
        return -1;
    if (present && dims < 1) {
        snprintf(err, errlen, "dimensions must be at least 1");
        return -1;
    }
    r->dims = present ? (dims > SIM_EMBED_MAX_FLOATS ? SIM_EMBED_MAX_FLOATS + 1 : (long)dims)
                      : default_dims;
    *param = "encoding_format";
    if (json_opt_str(r->root, "encoding_format", &fmt, &present, err, errlen) < 0)
        return -1;
    if (present && strcmp(fmt, "float") != 0 && strcmp(fmt, "base64") != 0) {
        snprintf(err, errlen, "encoding_format must be \"float\" or \"base64\"");
        return -1;
    }
    r->base64 = present && strcmp(fmt, "base64") == 0;
    return 0;
}

int sim_embed_validate(struct sim_embed_req *r, long default_dims, char *err, size_t errlen,
                       const char **param)
{
    if (parse_options(r, default_dims, err, errlen, param) < 0)
        return 400;
    *param = "input";
    if (parse_input(r, cJSON_GetObjectItemCaseSensitive(r->root, "input"), err, errlen) < 0)
        return 400;
    if ((double)r->dims * (double)r->nin > (double)SIM_EMBED_MAX_FLOATS) {
        snprintf(err, errlen,
                 "%zu inputs of %ld dimensions is too large a response (at most %ld values)",
                 r->nin, r->dims, SIM_EMBED_MAX_FLOATS);
        *param = "dimensions";
        return 400;
    }
    r->prompt_tokens = 0;
    for (size_t i = 0; i < r->nin; i++)
        r->prompt_tokens += (long)r->in[i].n;
    *param = NULL;
    return 0;
}

void sim_embed_vector(const uint32_t *ids, size_t n, long dims, float *out)
{
    for (long i = 0; i < dims; i++) {
        float v = 0;
        if ((size_t)i < n)
            v = 2 * (float)(ids[i] % 1024) / 1024 - 1;
        else if (n > 0)
            v = 2 * (float)(ids[(size_t)i % n] % 256) / 256 - 1;
        out[i] = v;
    }
}

/* v as Go's encoding/json writes a float32: the fewest digits that read
 * back as the same float32, plain decimals from 1e-6 to 1e21. */
static int put_float32(struct buf *b, float v)
{
    char s[48];
    int prec = 1;
    if (v == 0)
        return buf_putc(b, '0');
    for (; prec < 9; prec++) {
        snprintf(s, sizeof(s), "%.*e", prec - 1, (double)v);
        if (strtof(s, NULL) == v)
            break;
    }
    snprintf(s, sizeof(s), "%.*e", prec - 1, (double)v);
    int exp10 = atoi(strchr(s, 'e') + 1);
    if (fabsf(v) >= 1e-6f && fabsf(v) < 1e21f) {
        int decimals = prec - 1 - exp10;
        return buf_appendf(b, "%.*f", decimals > 0 ? decimals : 0, (double)v);
    }
    char *e = strchr(s, 'e'); /* Go writes e-07 as e-7 */
    *e = '\0';
    return buf_appendf(b, "%se%c%d", s, exp10 < 0 ? '-' : '+', abs(exp10));
}

static int put_embedding(struct buf *b, const float *v, long dims, bool base64)
{
    int rc = 0;
    if (!base64) {
        rc = buf_putc(b, '[');
        for (long i = 0; i < dims && rc == 0; i++) {
            rc = i ? buf_putc(b, ',') : 0;
            rc = rc ? rc : put_float32(b, v[i]);
        }
        return rc ? rc : buf_putc(b, ']');
    }
    size_t n = (size_t)dims * 4;
    unsigned char *raw = xmalloc(n), *enc = xmalloc(4 * ((n + 2) / 3) + 1);
    for (long i = 0; i < dims; i++) {
        uint32_t u;
        memcpy(&u, &v[i], sizeof(u));
        for (int k = 0; k < 4; k++)
            raw[i * 4 + k] = (unsigned char)(u >> (8 * k)); /* little-endian */
    }
    EVP_EncodeBlock(enc, raw, (int)n);
    rc = buf_putc(b, '"');
    rc = rc ? rc : buf_puts(b, (const char *)enc);
    rc = rc ? rc : buf_putc(b, '"');
    free(raw);
    free(enc);
    return rc;
}

int sim_embed_response(struct buf *b, const struct sim_embed_req *r, const char *model)
{
    float *v = xcalloc((size_t)r->dims, sizeof(*v));
    int rc = buf_puts(b, "{\"object\":\"list\",\"data\":[");
    for (size_t i = 0; i < r->nin && rc == 0; i++) {
        sim_embed_vector(r->in[i].ids, r->in[i].n, r->dims, v);
        rc = buf_appendf(
            b, "%s{\"object\":\"embedding\",\"index\":%zu,\"embedding\":", i ? "," : "", i);
        rc = rc ? rc : put_embedding(b, v, r->dims, r->base64);
        rc = rc ? rc : buf_putc(b, '}');
    }
    free(v);
    rc = rc ? rc : buf_puts(b, "],\"model\":");
    rc = rc ? rc : buf_json_str(b, model);
    return rc ? rc
              : buf_appendf(b, ",\"usage\":{\"prompt_tokens\":%ld,\"total_tokens\":%ld}}",
                            r->prompt_tokens, r->prompt_tokens);
}
