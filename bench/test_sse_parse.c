#include "sse_parse.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static const char response[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    "1e\r\ndata: {\"a\":1}\n\ndata: {\"b\":2}\n\n\r\n"
    "e\r\ndata: {\"c\":3}\n\r\n"
    "1\r\n\n\r\n"
    "e\r\ndata: [DONE]\n\n\r\n"
    "0\r\n\r\n";

struct seen {
    int n;
    char last[64];
};

static void on_event(void *arg, const char *data, size_t len)
{
    struct seen *s = arg;
    s->n++;
    memcpy(s->last, data, len < 63 ? len : 63);
    s->last[len < 63 ? len : 63] = '\0';
}

static void test_every_split(void **state)
{
    (void)state;
    size_t len = strlen(response);
    for (size_t cut = 0; cut <= len; cut++) {
        for (size_t cut2 = cut; cut2 <= len; cut2 += 7) {
            struct sse_parser p;
            struct seen s = {0, ""};
            sse_parser_init(&p, on_event, &s);
            assert_true(sse_parser_feed(&p, response, cut));
            assert_true(sse_parser_feed(&p, response + cut, cut2 - cut));
            assert_true(sse_parser_feed(&p, response + cut2, len - cut2));
            assert_int_equal(p.status, 200);
            assert_true(sse_parser_done(&p));
            assert_int_equal(s.n, 4);
            assert_string_equal(s.last, "[DONE]");
        }
    }
}

static void test_garbage(void **state)
{
    (void)state;
    struct sse_parser p;
    struct seen s = {0, ""};
    sse_parser_init(&p, on_event, &s);
    assert_false(sse_parser_feed(&p, "NOT HTTP\r\n\r\n", 12));
    sse_parser_init(&p, on_event, &s);
    assert_false(
        sse_parser_feed(&p, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 52));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_split),
        cmocka_unit_test(test_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
