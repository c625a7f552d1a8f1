#include "sidecar/sc_headers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_prefiller_pick(void **state)
{
    (void)state;
    static const struct {
        const char *v[3];
        size_t n;
        int rc; /* >0: want */
        const char *want;
    } cases[] = {
        {{"a:1,b:2"}, 1, 1, "a:1"},
        {{" a:1 , b:2"}, 1, 1, "a:1"},
        {{"a:1", "b:2"}, 2, 1, "a:1"},
        {{"", "b:2"}, 2, 1, "b:2"},
        {{" , c:3"}, 1, 1, "c:3"},
        {{"http://h:8000"}, 1, 1, "h:8000"},
        {{"[::1]:8000"}, 1, 1, "[::1]:8000"},
        {{"vllm-sim-p-service:8000"}, 1, 1, "vllm-sim-p-service:8000"},
        {{""}, 1, 0, ""},
        {{"", ""}, 2, 0, ""},
        {{"nohost"}, 1, -1, ""},
        {{"h:0"}, 1, -1, ""},
        {{"h:99999"}, 1, -1, ""},
        {{"h:80/x"}, 1, -1, ""},
        {{"a b:80"}, 1, -1, ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[128], err[256] = "";
        int rc = sc_prefiller_pick(cases[i].v, cases[i].n, out, sizeof(out), err, sizeof(err));
        if (cases[i].rc > 0 && (rc <= 0 || strcmp(out, cases[i].want) != 0))
            fail_msg("case %zu: rc %d out \"%s\"", i, rc, out);
        if (cases[i].rc == 0 && rc != 0)
            fail_msg("case %zu: rc %d, want pass-through", i, rc);
        if (cases[i].rc < 0 && (rc >= 0 || !strstr(err, "x-prefiller-host-port")))
            fail_msg("case %zu: rc %d err \"%s\", want an error", i, rc, err);
    }
}

static void test_split(void **state)
{
    (void)state;
    char host[64];
    int port;
    assert_int_equal(sc_split_host_port("10.0.0.1:8000", host, sizeof(host), &port), 0);
    assert_string_equal(host, "10.0.0.1");
    assert_int_equal(port, 8000);
    assert_int_equal(sc_split_host_port("[::1]:9", host, sizeof(host), &port), 0);
    assert_string_equal(host, "::1");
    assert_true(sc_split_host_port("::1:9", host, sizeof(host), &port) < 0);
    assert_true(sc_split_host_port(":9", host, sizeof(host), &port) < 0);
}

static void test_hop_by_hop(void **state)
{
    (void)state;
    static const char *const dropped[] = {"connection",
                                          "Keep-Alive",
                                          "TE",
                                          "transfer-encoding",
                                          "Upgrade",
                                          "Proxy-Authorization",
                                          "X-Prefiller-Host-Port",
                                          "host",
                                          "content-length"};
    for (size_t i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++)
        assert_true(sc_header_is_dropped(dropped[i], NULL));
    assert_false(sc_header_is_dropped("Authorization", NULL));
    assert_false(sc_header_is_dropped("x-request-id", NULL));
    assert_true(sc_header_is_dropped("X-Custom", "keep-alive, x-custom"));
    assert_false(sc_header_is_dropped("X-Custom-2", "keep-alive, x-custom"));
}

static void test_forwarded_for(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, BUF_NOCAP);
    assert_int_equal(sc_forwarded_for(&b, "1.2.3.4", "127.0.0.1"), 0);
    assert_string_equal(buf_str(&b), "1.2.3.4, 127.0.0.1");
    buf_reset(&b);
    assert_int_equal(sc_forwarded_for(&b, NULL, "127.0.0.1"), 0);
    assert_string_equal(buf_str(&b), "127.0.0.1");
    buf_release(&b);
}

static void test_allow_match(void **state)
{
    (void)state;
    char *list[] = {"10.0.0.5:8000", "prefill-svc", "192.168.0.0/16", "[::1]:9000"};
    size_t n = sizeof(list) / sizeof(list[0]);
    static const struct {
        const char *target;
        bool want;
    } cases[] = {
        {"10.0.0.5:8000", true},    /* host:port entry, same port */
        {"10.0.0.5:8001", false},   /* ... any other port is denied */
        {"PREFILL-SVC:1234", true}, /* host entry: any port, any case */
        {"prefill-svc2:1234", false}, {"192.168.200.7:80", true}, /* CIDR */
        {"192.169.0.1:80", false},    {"[::1]:9000", true},
        {"[::1]:9001", false},        {"garbage", false}, /* not host:port: never allowed */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (sc_allow_match(list, n, cases[i].target) != cases[i].want)
            fail_msg("case %zu: %s", i, cases[i].target);
    char *all[] = {"0.0.0.0/0"};
    assert_true(sc_allow_match(all, 1, "8.8.8.8:53"));
    assert_false(sc_allow_match(all, 1, "name:53")); /* CIDRs match addresses only */
    assert_false(sc_allow_match(NULL, 0, "10.0.0.5:8000"));
}

static void test_allow_entry_check(void **state)
{
    (void)state;
    static const char *const good[] = {"h",          "h:1",           "10.0.0.0/8", "0.0.0.0/0",
                                       "1.2.3.4/32", "svc.ns.svc:80", "[::1]:80"};
    static const char *const bad[] = {"1.2.3.4/33", "1.2.3.4/", "1.2.3/8", "a b",
                                      "h:0",        "h:x",      "x/8",     "1.2.3.4/-1"};
    char err[256];
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (sc_allow_entry_check(good[i], err, sizeof(err)) != 0)
            fail_msg("good %s: %s", good[i], err);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        if (sc_allow_entry_check(bad[i], err, sizeof(err)) == 0)
            fail_msg("bad %s accepted", bad[i]);
        assert_non_null(strstr(err, bad[i]));
    }
}

static void test_header_next(void **state)
{
    (void)state;
    const char *p = "Content-Type: text/event-stream\r\nno colon here\r\nX-Empty:\r\n"
                    "X-Last:   v  ";
    struct sc_hline l;
    assert_true(sc_header_next(&p, &l));
    assert_string_equal(l.name, "Content-Type");
    assert_int_equal(l.namelen, 12);
    assert_int_equal(l.len, 31);
    assert_memory_equal(l.value, "text/event-stream", l.vlen);
    assert_true(sc_header_next(&p, &l)); /* the line without a colon is skipped */
    assert_string_equal(l.name, "X-Empty");
    assert_int_equal(l.vlen, 0);
    assert_true(sc_header_next(&p, &l)); /* the last line needs no CRLF */
    assert_string_equal(l.name, "X-Last");
    assert_int_equal(l.vlen, 3);
    assert_memory_equal(l.value, "v  ", 3);
    assert_false(sc_header_next(&p, &l));

    char longname[300];
    memset(longname, 'a', 200);
    memcpy(longname + 200, ": x\r\n", 6);
    p = longname;
    assert_true(sc_header_next(&p, &l));
    assert_int_equal(l.namelen, 200);
    assert_int_equal(strlen(l.name), 127); /* cut, and the caller can tell */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefiller_pick), cmocka_unit_test(test_split),
        cmocka_unit_test(test_hop_by_hop),     cmocka_unit_test(test_forwarded_for),
        cmocka_unit_test(test_allow_match),    cmocka_unit_test(test_allow_entry_check),
        cmocka_unit_test(test_header_next),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
