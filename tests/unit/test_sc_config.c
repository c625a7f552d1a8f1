#include "sidecar/sc_config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static enum sc_config_result load(struct sc_config *c, char *err, size_t errlen, int argc,
                                  char **argv)
{
    return sc_config_load(c, argc, argv, err, errlen);
}

#define LOAD(c, err, ...)                                                                          \
    do {                                                                                           \
        char *argv_[] = {"pdsim-sidecar", __VA_ARGS__};                                            \
        rc = load(c, err, sizeof(err), (int)(sizeof(argv_) / sizeof(argv_[0])), argv_);            \
    } while (0)

static void test_defaults_and_seed_args(void **state)
{
    (void)state;
    struct sc_config c;
    char err[512] = "";
    enum sc_config_result rc;
    LOAD(&c, err, "--secure-proxy=false");
    assert_int_equal(rc, SC_CONFIG_OK);
    assert_int_equal(c.port, 8000);
    assert_int_equal(c.model_server_port, 8200);
    assert_int_equal(c.prefill_max_retries, 0);
    assert_int_equal(c.prefill_retry_backoff, 200000000);
    assert_int_equal(c.prefill_timeout, 60000000000LL);
    assert_int_equal(c.decode_timeout, 0);
    assert_int_equal(c.max_body_mb, 16);
    assert_null(c.default_prefiller);
    sc_config_release(&c);

    LOAD(&c, err, "--v=4", "--port=8000", "--vllm-port=8200", "--connector=nixlv2",
         "--secure-proxy=false");
    assert_int_equal(rc, SC_CONFIG_OK);
    assert_int_equal(c.v, 4);
    assert_int_equal(c.connector, SC_CONN_NIXLV2);
    assert_false(c.secure_proxy);
    sc_config_release(&c);
}

static void test_legacy_spellings(void **state)
{
    (void)state;
    struct sc_config c;
    char err[512] = "";
    enum sc_config_result rc;
    LOAD(&c, err, "-port=9000", "-vllm-port", "9100", "-connector", "nixlv2", "-v", "5",
         "-prefiller-use-tls=false", "-decoder-use-tls=false", "-decoder-tls-insecure-skip-verify",
         "-secure-proxy=false", "--enable-ssrf-protection", "--ssrf-allow", "a:1, 10.0.0.0/8",
         "--ssrf-allow=b");
    assert_int_equal(rc, SC_CONFIG_OK);
    assert_int_equal(c.port, 9000);
    assert_int_equal(c.model_server_port, 9100);
    assert_int_equal(c.v, 5);
    assert_true(c.enable_ssrf);
    assert_int_equal(c.nallow, 3);
    assert_string_equal(c.allow[0], "a:1");
    assert_string_equal(c.allow[1], "10.0.0.0/8");
    assert_string_equal(c.allow[2], "b");
    sc_config_release(&c);
}

static void test_model_server_port_beats_vllm_port(void **state)
{
    (void)state;
    struct sc_config c;
    char err[512] = "";
    enum sc_config_result rc;
    LOAD(&c, err, "--model-server-port", "7000", "--vllm-port", "7100", "--secure-proxy=false");
    assert_int_equal(rc, SC_CONFIG_OK);
    assert_int_equal(c.model_server_port, 7000);
    sc_config_release(&c);
}

static void test_yaml_and_precedence(void **state)
{
    (void)state;
    char path[] = "/tmp/pdsim-sc-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("vllm-port: 7300\nprefill-max-retries: 4\nsecure-proxy: false\n"
          "prefill-timeout: 2s\n",
          f);
    fclose(f);
    struct sc_config c;
    char err[512] = "";
    enum sc_config_result rc;
    LOAD(&c, err, "--configuration-file", path, "--prefill-max-retries", "1");
    assert_int_equal(rc, SC_CONFIG_OK);
    assert_int_equal(c.model_server_port, 7300); /* YAML beats the default */
    assert_int_equal(c.prefill_max_retries, 1);  /* the flag beats YAML */
    assert_int_equal(c.prefill_timeout, 2000000000LL);
    sc_config_release(&c);

    f = fopen(path, "w");
    fputs("unknown-key: 3\n", f);
    fclose(f);
    LOAD(&c, err, "--configuration-file", path);
    assert_int_equal(rc, SC_CONFIG_ERROR);
    assert_non_null(strstr(err, "unknown-key"));
    sc_config_release(&c);
    unlink(path);
}

static void test_errors_name_the_flag(void **state)
{
    (void)state;
    static const struct {
        const char *a, *b, *want;
    } cases[] = {
        {"--nope", NULL, "--nope"},
        {"--port", "abc", "--port"},
        {"--port=70000", NULL, "--port"},
        {"--prefill-retry-backoff", "-1s", "--prefill-retry-backoff"},
        {"--kv-connector", "mooncake2", "--kv-connector"},
        {"--secure-proxy=maybe", NULL, "--secure-proxy"},
        {"--ssrf-allow", "1.2.3.4/40", "--ssrf-allow"},
        {"--port", NULL, "--port"}, /* missing value */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sc_config c;
        char err[512] = "";
        char *argv[] = {"pdsim-sidecar", "--secure-proxy=false", (char *)cases[i].a,
                        (char *)cases[i].b};
        int argc = cases[i].b ? 4 : 3;
        enum sc_config_result rc = sc_config_load(&c, argc, argv, err, sizeof(err));
        if (rc != SC_CONFIG_ERROR || !strstr(err, cases[i].want))
            fail_msg("case %zu: rc %d err \"%s\"", i, rc, err);
        assert_null(strchr(err, '\n'));
        sc_config_release(&c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_seed_args),
        cmocka_unit_test(test_legacy_spellings),
        cmocka_unit_test(test_model_server_port_beats_vllm_port),
        cmocka_unit_test(test_yaml_and_precedence),
        cmocka_unit_test(test_errors_name_the_flag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
