#include "simulator/sim_textgen.h"
#include "simulator/sim_tokenizer.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

/* Tokens as "|"-joined strings, for readable expectations. */
static void join(const char *text, char *out, size_t outlen)
{
    struct sim_toklist l;
    sim_toklist_init(&l);
    sim_tokenize(text, strlen(text), &l);
    out[0] = '\0';
    for (size_t i = 0; i < l.n; i++) {
        strncat(out, i ? "|" : "", outlen - strlen(out) - 1);
        strncat(out, text + l.v[i].off, l.v[i].len < outlen - strlen(out) - 1 ? l.v[i].len : 0);
        assert_int_equal(l.v[i].id, sim_fnv1a32(text + l.v[i].off, l.v[i].len));
    }
    assert_int_equal(l.n, sim_token_count(text, strlen(text)));
    sim_toklist_release(&l);
}

static void test_upstream_examples(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"This is a test.", "This |is |a |test|."},
        {"### user: This is a test.\n", "#|#|# |user|: |This |is |a |test|.\n"},
        {"  leading", "leading"},
        {"a_b _c", "a_b |_|c"},
        {"x=1,y-2", "x|=|1|,|y|-|2"},
        {"tab\tand\r\nnew", "tab\t|and\r\n|new"},
        {"back`tick|pipe", "back|tick|pipe"},
        {"", ""},
        {"   ", ""},
        {"h\xc3\xa9llo w\xc3\xb6rld \xe6\x97\xa5\xe6\x9c\xac",
         "h\xc3\xa9llo |w\xc3\xb6rld |\xe6\x97\xa5\xe6\x9c\xac"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[256];
        join(cases[i].in, out, sizeof(out));
        if (strcmp(out, cases[i].out) != 0)
            fail_msg("case %zu: got \"%s\" want \"%s\"", i, out, cases[i].out);
    }
    assert_int_equal(sim_token_count("This is a test.", 15), 5);
}

static void test_fnv(void **state)
{
    (void)state;
    /* FNV-1a-32 reference values */
    assert_true(sim_fnv1a32("", 0) == 0x811c9dc5u);
    assert_true(sim_fnv1a32("a", 1) == 0xe40c292cu);
    assert_true(sim_fnv1a32("foobar", 6) == 0xbf9cf968u);
}

static void test_sentences_tokenize(void **state)
{
    (void)state;
    size_t n = 0;
    for (; sim_textgen_sentences[n]; n++)
        assert_true(sim_token_count(sim_textgen_sentences[n], strlen(sim_textgen_sentences[n])) >
                    3);
    assert_int_equal(n, 11);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upstream_examples),
        cmocka_unit_test(test_fnv),
        cmocka_unit_test(test_sentences_tokenize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
