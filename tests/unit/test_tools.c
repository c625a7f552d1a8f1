/* sim_tools: tools / tool_choice checks and the schema whitelist, table-driven. */
#include "simulator/sim_tools.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* A schema and the message expected ("" for a good one). */
static const struct {
    const char *schema, *want;
} schemas[] = {
    {"{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\",\"description\":\"c\"}},"
     "\"required\":[\"city\"],\"additionalProperties\":false}",
     ""},
    {"{\"type\":\"object\"}", ""},
    {"{\"type\":\"integer\",\"enum\":[1,2],\"minimum\":0,\"maximum\":3}", ""},
    {"{\"type\":\"number\",\"minimum\":0.5,\"maximum\":0.75}", ""},
    {"{\"type\":\"array\",\"items\":{\"type\":\"boolean\"},\"minItems\":0,\"maxItems\":0}", ""},
    {"{\"type\":\"array\",\"items\":[{\"type\":\"string\"},{\"type\":\"null\"}]}", ""},
    {"{\"type\":\"string\",\"title\":\"t\",\"default\":\"x\",\"enum\":[\"a\"]}", ""},
    {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"object\",\"properties\":{\"b\":{"
     "\"type\":\"strin\"}}}}}",
     "P.properties.a.properties.b: unknown type \"strin\""},
    {"{\"type\":\"object\",\"oneOf\":[]}", "P: unknown keyword \"oneOf\""},
    {"{\"type\":\"string\",\"format\":\"date-time\",\"pattern\":\"^a\",\"minLength\":1,"
     "\"maxLength\":9}",
     ""},
    {"{\"type\":\"integer\",\"exclusiveMinimum\":0,\"exclusiveMaximum\":2}", ""},
    {"{\"type\":\"string\",\"format\":3}", "P: \"format\" must be a string"},
    {"{\"type\":\"string\",\"minLength\":-1}", "P: \"minLength\" must be a non-negative integer"},
    {"{\"type\":\"string\",\"minLength\":3,\"maxLength\":2}",
     "P: \"minLength\" is greater than \"maxLength\""},
    {"{\"type\":\"number\",\"exclusiveMaximum\":\"1\"}",
     "P: \"exclusiveMaximum\" must be a number"},
    {"{\"type\":\"integer\",\"exclusiveMinimum\":1,\"exclusiveMaximum\":2}",
     "P: no value lies between the lower and the upper bound"},
    {"{\"properties\":{}}", "P: \"type\" is required"},
    {"{\"type\":[\"string\",\"null\"]}", "P: \"type\" must be a string"},
    {"[]", "P: must be an object (a JSON schema)"},
    {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}},\"required\":[\"b\"]}",
     "P: \"required\" names \"b\", which is not in \"properties\""},
    {"{\"type\":\"object\",\"properties\":{},\"required\":[1]}",
     "P: \"required\" must be an array of property names"},
    {"{\"type\":\"object\",\"properties\":[]}", "P: \"properties\" must be an object of schemas"},
    {"{\"type\":\"string\",\"enum\":[]}", "P: \"enum\" must be a non-empty array"},
    {"{\"type\":\"string\",\"enum\":[\"a\",2]}", "P: enum[1] is not of type \"string\""},
    {"{\"type\":\"integer\",\"enum\":[1.5]}", "P: enum[0] is not of type \"integer\""},
    {"{\"type\":\"object\",\"enum\":[1]}", "P: \"enum\" is not allowed with type \"object\""},
    {"{\"type\":\"array\"}", "P: type \"array\" needs \"items\""},
    {"{\"type\":\"array\",\"items\":3}", "P: \"items\" must be a schema or an array of schemas"},
    {"{\"type\":\"array\",\"items\":{\"type\":\"x\"}}", "P.items: unknown type \"x\""},
    {"{\"type\":\"array\",\"items\":[{\"type\":\"string\"},{}]}",
     "P.items[1]: \"type\" is required"},
    {"{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"minItems\":-1}",
     "P: \"minItems\" must be a non-negative integer"},
    {"{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"maxItems\":1.5}",
     "P: \"maxItems\" must be a non-negative integer"},
    {"{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"minItems\":3,\"maxItems\":2}",
     "P: \"minItems\" is greater than \"maxItems\""},
    {"{\"type\":\"number\",\"minimum\":\"1\"}", "P: \"minimum\" must be a number"},
    {"{\"type\":\"number\",\"minimum\":2,\"maximum\":1}",
     "P: \"minimum\" is greater than \"maximum\""},
    {"{\"type\":\"integer\",\"minimum\":1.2,\"maximum\":1.8}",
     "P: no integer lies between \"minimum\" and \"maximum\""},
    {"{\"type\":\"string\",\"description\":3}", "P: \"description\" must be a string"},
    {"{\"type\":\"object\",\"additionalProperties\":{}}",
     "P: \"additionalProperties\" must be true or false"},
};

static void test_schema_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(schemas) / sizeof(schemas[0]); i++) {
        cJSON *s = cJSON_Parse(schemas[i].schema);
        char err[512] = "";
        assert_non_null(s);
        int rc = sim_tools_check_schema(s, "P", err, sizeof(err));
        if (!schemas[i].want[0]) {
            if (rc != 0)
                fail_msg("schema %zu: unexpected error %s", i, err);
        } else {
            assert_int_equal(rc, -EINVAL);
            if (strcmp(err, schemas[i].want) != 0)
                fail_msg("schema %zu: got \"%s\", want \"%s\"", i, err, schemas[i].want);
        }
        cJSON_Delete(s);
    }
}

static void test_deep_schema(void **state)
{
    (void)state;
    char buf[8192] = "";
    for (int i = 0; i < 40; i++)
        strcat(buf, "{\"type\":\"array\",\"items\":");
    strcat(buf, "{\"type\":\"string\"}");
    for (int i = 0; i < 40; i++)
        strcat(buf, "}");
    cJSON *s = cJSON_Parse(buf);
    char err[512];
    assert_int_equal(sim_tools_check_schema(s, "P", err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "nested deeper than 32"));
    cJSON_Delete(s);
}

/* Members are bounded (1024) so checking and generating stay linear. */
static void test_member_limits(void **state)
{
    (void)state;
    static const char *const head[] = {"{\"type\":\"integer\",\"enum\":[",
                                       "{\"type\":\"array\",\"items\":["};
    static const char *const item[] = {"1", "{\"type\":\"null\"}"};
    static const char *const want[] = {"P: \"enum\" has more than 1024 members",
                                       "P: \"items\" has more than 1024 schemas"};
    for (int k = 0; k < 2; k++) {
        for (int n = 1024; n <= 1025; n++) {
            char *list = calloc((size_t)n, 24), *buf = calloc((size_t)n + 1, 48);
            for (int i = 0; i < n; i++) {
                if (i)
                    strcat(list, ",");
                strcat(list, item[k]);
            }
            strcat(strcat(strcat(buf, head[k]), list), "]}");
            cJSON *s = cJSON_Parse(buf);
            char err[512] = "";
            int rc = sim_tools_check_schema(s, "P", err, sizeof(err));
            if (n == 1024)
                assert_int_equal(rc, 0);
            else
                assert_string_equal(err, want[k]);
            cJSON_Delete(s);
            free(list);
            free(buf);
        }
    }
}

#define WEATHER                                                                                    \
    "{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"d\","         \
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}}"
#define TIME "{\"type\":\"function\",\"function\":{\"name\":\"get-time_2\"}}"

/* tools JSON, tool_choice JSON (NULL: absent), skip, status, param, message part. */
static const struct {
    const char *tools, *choice;
    bool skip;
    int status;
    const char *param, *want;
    enum sim_tool_choice choice_out;
    size_t ntools, named;
} checks[] = {
    {"[" WEATHER "," TIME "]", NULL, false, 0, "", "", SIM_TOOL_AUTO, 2, 0},
    {"[" WEATHER "," TIME "]", "\"none\"", false, 0, "", "", SIM_TOOL_NONE, 2, 0},
    {"[" WEATHER "]", "\"required\"", false, 0, "", "", SIM_TOOL_REQUIRED, 1, 0},
    {"[" WEATHER "," TIME "]", "{\"type\":\"function\",\"function\":{\"name\":\"get-time_2\"}}",
     false, 0, "", "", SIM_TOOL_NAMED, 2, 1},
    {NULL, "\"auto\"", false, 0, "", "", SIM_TOOL_AUTO, 0, 0},
    {NULL, "\"none\"", false, 0, "", "", SIM_TOOL_NONE, 0, 0},
    {"[]", NULL, false, 0, "", "", SIM_TOOL_AUTO, 0, 0},
    {NULL, "\"required\"", false, 400, "tool_choice", "`tools` must be set", 0, 0, 0},
    {"[]", "{\"type\":\"function\",\"function\":{\"name\":\"x\"}}", false, 400, "tool_choice",
     "`tools` must be set", 0, 0, 0},
    {"[" WEATHER "]", "{\"type\":\"function\",\"function\":{\"name\":\"nope\"}}", false, 400,
     "tool_choice", "names the function \"nope\", which is not in tools", 0, 0, 0},
    {"[" WEATHER "]", "\"sometimes\"", false, 400, "tool_choice", "not \"sometimes\"", 0, 0, 0},
    {"[" WEATHER "]", "{\"type\":\"custom\"}", false, 400, "tool_choice", "tool_choice must be", 0,
     0, 0},
    {"[" WEATHER "]", "3", false, 400, "tool_choice", "must be a string or an object", 0, 0, 0},
    {"{}", NULL, false, 400, "tools", "field 'tools' must be an array", 0, 0, 0},
    {"[3]", NULL, false, 400, "tools", "Tool validation failed: tools[0]: must be an object", 0, 0,
     0},
    {"[" WEATHER ",{\"type\":\"fn\",\"function\":{\"name\":\"a\"}}]", NULL, false, 400, "tools",
     "Tool validation failed: tools[1]: \"type\" must be \"function\"", 0, 0, 0},
    {"[{\"type\":\"function\"}]", NULL, false, 400, "tools", "\"function\" must be an object", 0, 0,
     0},
    {"[{\"type\":\"function\",\"function\":{\"name\":\"\"}}]", NULL, true, 400, "tools",
     "tools[0].function.name: \"\" is not 1 to 64", 0, 0, 0},
    {"[{\"type\":\"function\",\"function\":{\"name\":\"a b\"}}]", NULL, false, 400, "tools",
     "tools[0].function.name: \"a b\" is not", 0, 0, 0},
    {"[{\"type\":\"function\",\"function\":{\"description\":\"x\"}}]", NULL, false, 400, "tools",
     "tools[0].function.name: is required", 0, 0, 0},
    {"[{\"type\":\"function\",\"function\":{\"name\":\"a\",\"parameters\":{\"type\":\"strin\"}}}]",
     NULL, false, 400, "tools",
     "Tool validation failed: tools[0].function.parameters: unknown type \"strin\"", 0, 0, 0},
    {"[{\"type\":\"function\",\"function\":{\"name\":\"a\",\"parameters\":{\"type\":\"string\"}}}]",
     NULL, false, 400, "tools", "tools[0].function.parameters: type must be \"object\"", 0, 0, 0},
    {"[{\"type\":\"function\",\"function\":{\"name\":\"a\",\"extra\":1}}]", NULL, false, 400,
     "tools", "tools[0].function: unknown key \"extra\"", 0, 0, 0},
    {"[{\"type\":\"function\",\"x\":1,\"function\":{\"name\":\"a\"}}]", NULL, false, 400, "tools",
     "tools[0]: unknown key \"x\"", 0, 0, 0},
    {"[{\"type\":\"function\",\"function\":{\"name\":\"a\",\"strict\":true,\"description\":null}}]",
     NULL, false, 0, "", "", SIM_TOOL_AUTO, 1, 0},
    /* --skip-tool-validation: the schema is not checked, the shape and name are */
    {"[{\"type\":\"function\",\"function\":{\"name\":\"a\",\"extra\":1,\"parameters\":{\"type\":"
     "\"strin\",\"format\":3}}}]",
     NULL, true, 0, "", "", SIM_TOOL_AUTO, 1, 0},
};

static void test_checks(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
        cJSON *tools = checks[i].tools ? cJSON_Parse(checks[i].tools) : NULL;
        cJSON *choice = checks[i].choice ? cJSON_Parse(checks[i].choice) : NULL;
        struct sim_tools t;
        char err[512] = "";
        const char *param = NULL;
        int rc = sim_tools_check(tools, choice, checks[i].skip, &t, err, sizeof(err), &param);
        if (rc != checks[i].status)
            fail_msg("check %zu: status %d (%s), want %d", i, rc, err, checks[i].status);
        assert_string_equal(param, checks[i].param);
        if (rc) {
            if (!strstr(err, checks[i].want))
                fail_msg("check %zu: got \"%s\", want \"%s\"", i, err, checks[i].want);
        } else {
            assert_int_equal(t.choice, checks[i].choice_out);
            assert_int_equal(t.ntools, checks[i].ntools);
            assert_int_equal(t.named, checks[i].named);
            assert_true((t.tools != NULL) == (checks[i].ntools > 0));
        }
        cJSON_Delete(tools);
        cJSON_Delete(choice);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_table),
        cmocka_unit_test(test_deep_schema),
        cmocka_unit_test(test_member_limits),
        cmocka_unit_test(test_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
