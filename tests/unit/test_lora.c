#include "simulator/sim_lora.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static void test_parse_module(void **st)
{
    (void)st;
    static const struct {
        const char *spec, *name, *path, *err;
    } cases[] = {
        {"{\"name\":\"a\",\"path\":\"/p\",\"base_model_name\":\"base\"}", "a", "/p", NULL},
        {"  {\"name\":\"a\"}", "a", "", NULL},
        {"{\"name\":\"a\",\"base_model_name\":\"\"}", "a", "", NULL},
        {"b=/q", "b", "/q", NULL},
        {"b=", "b", "", NULL},
        {"{\"name\":\"a\",\"base_model_name\":\"other\"}", NULL, NULL,
         "base_model_name \"other\" is not the base model \"base\""},
        {"{\"path\":\"/p\"}", NULL, NULL, "\"name\" is required"},
        {"{\"name\":\"\"}", NULL, NULL, "1 to 256 characters"},
        {"{\"name\":1}", NULL, NULL, "field 'name' must be a string"},
        {"{\"name\":\"a\"", NULL, NULL, "not a JSON object"},
        {"[1]", NULL, NULL, "or name=path"},
        {"=p", NULL, NULL, "1 to 256 characters"},
        {"a,b=p", NULL, NULL, "comma"},
        {"a\nb=p", NULL, NULL, "control character"},
        {"plain", NULL, NULL, "or name=path"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sim_lora_module m;
        char err[256] = "";
        int rc = sim_lora_parse_module(cases[i].spec, "base", &m, err, sizeof(err));
        if (cases[i].name) {
            if (rc != 0)
                fail_msg("case %zu: %s", i, err);
            assert_string_equal(m.name, cases[i].name);
            assert_string_equal(m.path, cases[i].path);
        } else {
            assert_int_equal(rc, -EINVAL);
            if (!strstr(err, cases[i].err))
                fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].err);
            assert_null(m.name);
        }
        sim_lora_module_release(&m);
    }
}

static void test_parse_request(void **st)
{
    (void)st;
    static const struct {
        const char *body;
        bool load;
        const char *name, *param, *err;
    } cases[] = {
        {"{\"lora_name\":\"x\",\"lora_path\":\"/x\"}", true, "x", NULL, NULL},
        {"{\"lora_name\":\"x\"}", true, "x", NULL, NULL},
        {"{\"lora_name\":\"x\",\"lora_path\":7}", false, "x", NULL, NULL}, /* unload ignores it */
        {"{\"lora_name\":\"x\",\"lora_path\":7}", true, NULL, "lora_path", "must be a string"},
        {"{}", true, NULL, "lora_name", "'lora_name' is required"},
        {"{\"lora_name\":null}", false, NULL, "lora_name", "'lora_name' is required"},
        {"{\"lora_name\":[]}", true, NULL, "lora_name", "must be a string"},
        {"", true, NULL, NULL, "failed to read and parse load lora request body"},
        {"[]", false, NULL, NULL, "unload lora request body: not a JSON object"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sim_lora_module m;
        char err[256] = "";
        const char *param = "unset";
        int rc = sim_lora_parse_request(cases[i].body, strlen(cases[i].body), cases[i].load, &m,
                                        err, sizeof(err), &param);
        if (cases[i].name) {
            if (rc != 0)
                fail_msg("case %zu: %s", i, err);
            assert_string_equal(m.name, cases[i].name);
        } else {
            assert_int_equal(rc, -EINVAL);
            if (!strstr(err, cases[i].err))
                fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].err);
            if (cases[i].param)
                assert_string_equal(param, cases[i].param);
            else
                assert_null(param);
        }
        sim_lora_module_release(&m);
    }
}

static int collect(void *arg, const char *name, const char *path)
{
    char *out = arg;
    strcat(out, name);
    strcat(out, "=");
    strcat(out, path);
    strcat(out, ";");
    return strcmp(name, "stop") == 0 ? 7 : 0;
}

static void test_registry(void **st)
{
    (void)st;
    struct sim_lora *l = sim_lora_new();
    char out[256] = "";
    sim_lora_put(l, "a", "/a");
    sim_lora_put(l, "b", "");
    sim_lora_put(l, "a", "/a2"); /* a replaced path keeps its place */
    assert_true(sim_lora_has(l, "a") && sim_lora_has(l, "b") && !sim_lora_has(l, "c"));
    assert_int_equal(sim_lora_each(l, collect, out), 0);
    assert_string_equal(out, "a=/a2;b=;");
    assert_int_equal(sim_lora_remove(l, "a"), 0);
    assert_int_equal(sim_lora_remove(l, "a"), -ENOENT);
    for (int i = 0; i < 20; i++) { /* grows past the first allocation */
        char name[16];
        snprintf(name, sizeof(name), "n%d", i);
        sim_lora_put(l, name, "/n");
    }
    sim_lora_put(l, "stop", "/s");
    sim_lora_put(l, "after", "/z");
    out[0] = '\0';
    assert_int_equal(sim_lora_each(l, collect, out), 7); /* stops at the first non-zero */
    assert_null(strstr(out, "after"));
    assert_non_null(strstr(out, "b=;n0=/n;"));
    sim_lora_free(l);
    sim_lora_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_module),
        cmocka_unit_test(test_parse_request),
        cmocka_unit_test(test_registry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
