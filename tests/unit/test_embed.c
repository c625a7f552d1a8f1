#include "simulator/sim_embed.h"
#include "simulator/sim_tokenizer.h"

#include <openssl/evp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Parse and validate; returns the status, err and param filled. */
static int run(const char *body, struct sim_embed_req *r, char *err, const char **param)
{
    int st = sim_embed_parse(body, strlen(body), r, err, 256, param);
    return st ? st : sim_embed_validate(r, 384, err, 256, param);
}

static void test_vector(void **state)
{
    (void)state;
    const uint32_t ids[] = {0, 512, 1023, 1024 + 256, 300};
    float v[8];
    sim_embed_vector(ids, 3, 8, v);
    /* i < n: 2*(id % 1024)/1024 - 1 */
    assert_true(v[0] == -1.0f && v[1] == 0.0f && v[2] == 2.0f * 1023 / 1024 - 1);
    /* past n: 2*(ids[i % n] % 256)/256 - 1 */
    assert_true(v[3] == -1.0f);                /* ids[0] = 0 */
    assert_true(v[4] == -1.0f);                /* ids[1] = 512, % 256 = 0 */
    assert_true(v[5] == 2.0f * 255 / 256 - 1); /* ids[2] = 1023, % 256 = 255 */
    sim_embed_vector(ids + 3, 2, 3, v);
    assert_true(v[0] == 2.0f * 256 / 1024 - 1 && v[1] == 2.0f * 300 / 1024 - 1);
    assert_true(v[2] == -1.0f); /* ids[3] % 256 = 0 */
    sim_embed_vector(NULL, 0, 4, v);
    assert_true(v[0] == 0 && v[3] == 0);
}

static void test_text_and_float_format(void **state)
{
    (void)state;
    struct sim_embed_req r;
    char err[256] = "";
    const char *param;
    assert_int_equal(run("{\"model\":\"m\",\"input\":\"This is a test.\",\"dimensions\":7,"
                         "\"user\":\"u\"}",
                         &r, err, &param),
                     0);
    assert_int_equal(r.nin, 1);
    assert_int_equal(r.in[0].n, 5);
    assert_int_equal(r.prompt_tokens, 5);
    assert_true(r.in[0].ids[0] == sim_fnv1a32("This ", 5));
    struct buf b;
    buf_init(&b, BUF_NOCAP);
    assert_int_equal(sim_embed_response(&b, &r, "m"), 0);
    const char *t = buf_str(&b);
    assert_true(strncmp(t,
                        "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,"
                        "\"embedding\":[",
                        66) == 0);
    assert_non_null(strstr(t, "]}],\"model\":\"m\",\"usage\":{\"prompt_tokens\":5,"
                              "\"total_tokens\":5}}"));
    /* floats read back as the vector's float32 values, with as few digits as Go prints */
    float v[7];
    sim_embed_vector(r.in[0].ids, r.in[0].n, 7, v);
    const char *p = strchr(strstr(t, "\"embedding\":["), '[') + 1;
    for (int i = 0; i < 7; i++) {
        char *end;
        assert_true(strtof(p, &end) == v[i]);
        assert_true(end - p <= 12); /* 9 digits at most, a sign, "0." (the values are >= 2^-9) */
        p = end + 1;
    }
    buf_release(&b);
    sim_embed_release(&r);
}

static void test_forms_and_base64(void **state)
{
    (void)state;
    struct sim_embed_req r;
    char err[256] = "";
    const char *param;
    assert_int_equal(run("{\"input\":[[1,2,3],[4]],\"dimensions\":2,\"encoding_format\":"
                         "\"base64\"}",
                         &r, err, &param),
                     0);
    assert_int_equal(r.nin, 2);
    assert_true(r.base64 && r.dims == 2 && r.prompt_tokens == 4);
    assert_true(r.in[1].n == 1 && r.in[1].ids[0] == 4);
    struct buf b;
    buf_init(&b, BUF_NOCAP);
    assert_int_equal(sim_embed_response(&b, &r, "base"), 0);
    /* [1,2,3] -> -1 + 2/1024, -1 + 4/1024 as little-endian float32 */
    float want[2] = {2.0f * 1 / 1024 - 1, 2.0f * 2 / 1024 - 1};
    unsigned char raw[8], enc[16];
    for (int i = 0; i < 2; i++) {
        uint32_t u;
        memcpy(&u, &want[i], 4);
        for (int k = 0; k < 4; k++)
            raw[i * 4 + k] = (unsigned char)(u >> (8 * k));
    }
    EVP_EncodeBlock(enc, raw, 8);
    char expect[64];
    snprintf(expect, sizeof(expect), "\"index\":0,\"embedding\":\"%s\"}", enc);
    assert_non_null(strstr(buf_str(&b), expect));
    assert_non_null(strstr(buf_str(&b), "\"model\":\"base\""));
    buf_release(&b);
    sim_embed_release(&r);

    assert_int_equal(run("{\"input\":[5,6],\"encoding_format\":\"float\"}", &r, err, &param), 0);
    assert_true(r.nin == 1 && r.in[0].n == 2 && r.dims == 384 && !r.base64);
    assert_string_equal(r.model, "");
    sim_embed_release(&r);
    assert_int_equal(run("{\"input\":[\"a\",\"b c\"]}", &r, err, &param), 0);
    assert_true(r.nin == 2 && r.in[1].n == 2);
    sim_embed_release(&r);
}

static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *body, *want, *param;
        int status;
    } cases[] = {
        {"{", "Failed to read and parse request body", NULL, 400},
        {"[1]", "Failed to read and parse request body", NULL, 400},
        {"{\"model\":1,\"input\":\"a\"}", "field 'model' must be a string", "model", 400},
        {"{}", "input is required and must be a non-empty string or array", "input", 400},
        {"{\"input\":[]}", "input is required", "input", 400},
        {"{\"input\":\"\"}", "input cannot be an empty string", "input", 400},
        {"{\"input\":[\"a\",\"\"]}", "input cannot be an empty string", "input", 400},
        {"{\"input\":[\"a\",1]}", "input must be a string, an array of strings", "input", 400},
        {"{\"input\":[[1],2]}", "input must be a string", "input", 400},
        {"{\"input\":[1,\"a\"]}", "token ids must be integers", "input", 400},
        {"{\"input\":[-1]}", "token ids must be integers", "input", 400},
        {"{\"input\":[4294967296]}", "token ids must be integers", "input", 400},
        {"{\"input\":[1.5]}", "token ids must be integers", "input", 400},
        {"{\"input\":[[1],[]]}", "token id arrays must not be empty", "input", 400},
        {"{\"input\":{}}", "input must be a string", "input", 400},
        {"{\"input\":\"a\",\"dimensions\":0}", "dimensions must be at least 1", "dimensions", 400},
        {"{\"input\":\"a\",\"dimensions\":\"8\"}", "field 'dimensions' must be an integer",
         "dimensions", 400},
        {"{\"input\":\"a\",\"dimensions\":99999999999}", "too large a response", "dimensions", 400},
        {"{\"input\":\"a\",\"encoding_format\":\"int8\"}",
         "encoding_format must be \"float\" or \"base64\"", "encoding_format", 400},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sim_embed_req r;
        char err[256] = "";
        const char *param = NULL;
        int st = run(cases[i].body, &r, err, &param);
        if (st != cases[i].status || !strstr(err, cases[i].want))
            fail_msg("case %zu: %d \"%s\"", i, st, err);
        if (cases[i].param ? !param || strcmp(param, cases[i].param) : param != NULL)
            fail_msg("case %zu: param %s", i, param ? param : "(null)");
        sim_embed_release(&r);
    }
    /* 2049 inputs: more than OpenAI's limit */
    struct buf b;
    buf_init(&b, BUF_NOCAP);
    assert_int_equal(buf_puts(&b, "{\"input\":[\"a\""), 0);
    for (int i = 0; i < SIM_EMBED_MAX_INPUTS; i++)
        assert_int_equal(buf_puts(&b, ",\"a\""), 0);
    assert_int_equal(buf_puts(&b, "]}"), 0);
    struct sim_embed_req r;
    char err[256];
    const char *param;
    assert_int_equal(run(buf_str(&b), &r, err, &param), 400);
    assert_non_null(strstr(err, "at most 2048"));
    sim_embed_release(&r);
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector),
        cmocka_unit_test(test_text_and_float_format),
        cmocka_unit_test(test_forms_and_base64),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
