#include "controller/k8s_config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char dir[64];

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *path_of(const char *name)
{
    static char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return path;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/pdsim-kc-XXXXXX");
    assert_non_null(mkdtemp(dir));
    unsetenv("KUBECONFIG");
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    setenv("HOME", dir, 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* "-----BEGIN CERTIFICATE-----\nCA\n" etc. in base64 */
static const char KUBECONFIG[] = "apiVersion: v1\n"
                                 "kind: Config\n"
                                 "current-context: kind-pd\n"
                                 "clusters:\n"
                                 "- name: other\n"
                                 "  cluster: {server: https://10.9.9.9:6443}\n"
                                 "- name: kind-pd\n"
                                 "  cluster:\n"
                                 "    server: https://127.0.0.1:6443\n"
                                 "    certificate-authority-data: Q0EtUEVNCg==\n"
                                 "contexts:\n"
                                 "- name: kind-pd\n"
                                 "  context: {cluster: kind-pd, user: admin, namespace: team-a}\n"
                                 "users:\n"
                                 "- name: admin\n"
                                 "  user:\n"
                                 "    client-certificate: certs/client.crt\n"
                                 "    client-key-data: S0VZLVBFTQo=\n";

static void test_kubeconfig_current_context(void **state)
{
    (void)state;
    mkdir(path_of("certs"), 0700);
    write_file("certs/client.crt", "CERT-PEM\n");
    write_file("kc.yaml", KUBECONFIG);
    struct k8s_config c;
    char err[512] = "";
    assert_int_equal(k8s_config_load(&c, path_of("kc.yaml"), NULL, err, sizeof(err)), 0);
    assert_string_equal(c.server, "https://127.0.0.1:6443");
    assert_string_equal(buf_str(&c.ca), "CA-PEM\n");
    assert_string_equal(buf_str(&c.cert), "CERT-PEM\n"); /* relative to the kubeconfig */
    assert_string_equal(buf_str(&c.key), "KEY-PEM\n");
    assert_string_equal(c.namespace, "team-a");
    assert_false(c.insecure);
    assert_null(k8s_config_token(&c, false));
    k8s_config_release(&c);
}

static void test_precedence_and_tokens(void **state)
{
    (void)state;
    write_file("env.yaml", "current-context: x\n"
                           "clusters: [{name: c, cluster: {server: 'https://env:1', "
                           "insecure-skip-tls-verify: true}}]\n"
                           "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
                           "users: [{name: u, user: {tokenFile: tok}}]\n");
    write_file("tok", "first-token\n");
    mkdir(path_of(".kube"), 0700);
    write_file(".kube/config", "current-context: h\n"
                               "clusters: [{name: c, cluster: {server: 'https://home:1'}}]\n"
                               "contexts: [{name: h, context: {cluster: c, user: u}}]\n"
                               "users: [{name: u, user: {token: home-token}}]\n");
    struct k8s_config c;
    char err[512] = "", env[300];
    /* ~/.kube/config when nothing else is given */
    assert_int_equal(k8s_config_load(&c, NULL, path_of("no-sa"), err, sizeof(err)), 0);
    assert_string_equal(c.server, "https://home:1");
    assert_string_equal(k8s_config_token(&c, false), "home-token");
    k8s_config_release(&c);
    /* $KUBECONFIG (its first existing file) wins over it */
    char missing[256];
    snprintf(missing, sizeof(missing), "%s", path_of("missing.yaml"));
    snprintf(env, sizeof(env), "%s:%s", missing, path_of("env.yaml"));
    setenv("KUBECONFIG", env, 1);
    assert_int_equal(k8s_config_load(&c, NULL, path_of("no-sa"), err, sizeof(err)), 0);
    assert_string_equal(c.server, "https://env:1");
    assert_true(c.insecure);
    assert_string_equal(k8s_config_token(&c, false), "first-token");
    write_file("tok", "rotated-token\n");
    assert_string_equal(k8s_config_token(&c, false), "first-token");  /* read < 60 s ago */
    assert_string_equal(k8s_config_token(&c, true), "rotated-token"); /* after a 401 */
    /* a minute later the file is read again without a 401 */
    write_file("tok", "third-token\n");
    assert_string_equal(k8s_config_token(&c, false), "rotated-token");
    c.token_read -= 59;
    assert_string_equal(k8s_config_token(&c, false), "rotated-token");
    c.token_read -= 2;
    assert_string_equal(k8s_config_token(&c, false), "third-token");
    k8s_config_release(&c);
    unsetenv("KUBECONFIG");
}

static void test_in_cluster(void **state)
{
    (void)state;
    mkdir(path_of("sa"), 0700);
    write_file("sa/ca.crt", "SA-CA\n");
    write_file("sa/token", "sa-token\n");
    write_file("sa/namespace", "pdsim-system\n");
    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
    struct k8s_config c;
    char err[512] = "";
    assert_int_equal(k8s_config_load(&c, NULL, path_of("sa"), err, sizeof(err)), 0);
    assert_string_equal(c.server, "https://[fd00::1]:6443");
    assert_string_equal(buf_str(&c.ca), "SA-CA\n");
    assert_string_equal(k8s_config_token(&c, false), "sa-token");
    assert_string_equal(c.namespace, "pdsim-system");
    assert_string_equal(c.source, "in-cluster");
    k8s_config_release(&c);
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
}

static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *yaml, *want;
    } cases[] = {
        {"clusters: []\n", "current-context is not set"},
        {"current-context: a\ncontexts: []\n", "context \"a\" is not in contexts"},
        {"current-context: a\ncontexts: [{name: a, context: {cluster: c}}]\n", "has no server"},
        {"current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\n"
         "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
         "users: [{name: u, user: {exec: {command: aws}}}]\n",
         "exec or auth-provider"},
        {"current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\n"
         "clusters: [{name: c, cluster: {server: 'https://x', certificate-authority-data: '!!'}}]\n"
         "users: [{name: u, user: {}}]\n",
         "certificate-authority-data is not base64"},
        {"current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\n"
         "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
         "users: [{name: u, user: {client-certificate-data: Q0VSVAo=}}]\n",
         "without its key"},
        {"a: [1\n", "line "},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        write_file("bad.yaml", cases[i].yaml);
        struct k8s_config c;
        char err[512] = "";
        int rc = k8s_config_load(&c, path_of("bad.yaml"), NULL, err, sizeof(err));
        if (rc == 0 || !strstr(err, cases[i].want) || !strstr(err, "bad.yaml"))
            fail_msg("case %zu: want \"%s\", got rc %d \"%s\"", i, cases[i].want, rc, err);
        k8s_config_release(&c);
    }
    struct k8s_config c;
    char err[512] = "";
    setenv("HOME", "/nonexistent", 1);
    assert_int_equal(k8s_config_load(&c, NULL, path_of("no-sa"), err, sizeof(err)), -1);
    assert_non_null(strstr(err, "--kubeconfig"));
    k8s_config_release(&c);
}

static void test_base64(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1024);
    assert_int_equal(k8s_base64_decode("aGVs\nbG8=", &b), 0);
    assert_string_equal(buf_str(&b), "hello");
    buf_reset(&b);
    assert_int_equal(k8s_base64_decode("aGVsbG8", &b), 0); /* padding optional */
    assert_string_equal(buf_str(&b), "hello");
    buf_reset(&b);
    assert_int_equal(k8s_base64_decode("a*b", &b), -1);
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kubeconfig_current_context, setup, teardown),
        cmocka_unit_test_setup_teardown(test_precedence_and_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_in_cluster, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test(test_base64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
