#include "simulator/sim_textgen.h"
#include "simulator/sim_tokenizer.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define MAXTOK 48

/* One input and its expected token strings (NULL-terminated). The inputs
 * and expectations for ASCII come from upstream's Go regex, checked against
 * an independent leftmost-first regex engine. */
struct tok_case {
    const char *in;
    size_t len; /* 0: strlen(in) */
    const char *want[MAXTOK];
};

static const struct tok_case tok_cases[] = {
    /* upstream's documented examples */
    {"This is a test.", 0, {"This ", "is ", "a ", "test", ".", NULL}},
    {"### user: This is a test.\n",
     0,
     {"#", "#", "# ", "user", ": ", "This ", "is ", "a ", "test", ".\n", NULL}},
    /* upstream tokenizer_test.go: "'" is its own token */
    {"I hear it's very cold.", 0, {"I ", "hear ", "it", "'", "s ", "very ", "cold", ".", NULL}},
    /* leading whitespace is not part of any token */
    {"  \t\nleading", 0, {"leading", NULL}},
    /* '_' precedes \w+ in the alternation: alone at a token start, inside a word otherwise */
    {"foo_bar", 0, {"foo_bar", NULL}},
    {"_foo", 0, {"_", "foo", NULL}},
    {"a_b _c", 0, {"a_b ", "_", "c", NULL}},
    {"__init__", 0, {"_", "_", "init__", NULL}},
    {"x__ _y", 0, {"x__ ", "_", "y", NULL}},
    {"-_-", 0, {"-", "_", "-", NULL}},
    {"x=1,y-2", 0, {"x", "=", "1", ",", "y", "-", "2", NULL}},
    {"{\"k\": [1]}", 0, {"{", "\"", "k", "\"", ": ", "[", "1", "]", "}", NULL}},
    {"\\\\ <", 0, {"\\", "\\ ", "<", NULL}},
    /* RE2's \s is [\t\n\f\r ]: \v is not whitespace and matches nothing */
    {"tab\tand\r\nnew\f\vx", 0, {"tab\t", "and\r\n", "new\f", "x", NULL}},
    /* bytes that start no token are skipped: '`', '|', control characters */
    {"back`tick|pipe", 0, {"back", "tick", "pipe", NULL}},
    {"a\x01 b", 0, {"a", "b", NULL}},
    {"a\0b", 3, {"a", "b", NULL}},
    {"", 0, {NULL}},
    {"   \n", 0, {NULL}},
    {"`|`", 0, {NULL}},
    /* our extension: UTF-8 is kept as word characters */
    {"h\xc3\xa9llo w\xc3\xb6rld \xe6\x97\xa5\xe6\x9c\xac",
     0,
     {"h\xc3\xa9llo ", "w\xc3\xb6rld ", "\xe6\x97\xa5\xe6\x9c\xac", NULL}},
    {"caf\xc3\xa9.", 0, {"caf\xc3\xa9", ".", NULL}},
    {"\xe2\x80\x94_x", 0, {"\xe2\x80\x94_x", NULL}},
    {"_\xc3\xa9", 0, {"_", "\xc3\xa9", NULL}},
};

static void check_case(size_t ci, const struct tok_case *c)
{
    size_t len = c->len ? c->len : strlen(c->in);
    struct sim_toklist l;
    size_t nwant = 0;
    while (c->want[nwant])
        nwant++;
    sim_toklist_init(&l);
    sim_tokenize(c->in, len, &l);
    if (l.n != nwant)
        fail_msg("case %zu: %zu tokens, want %zu", ci, l.n, nwant);
    assert_int_equal(sim_token_count(c->in, len), nwant);
    size_t prev_end = 0;
    for (size_t i = 0; i < l.n; i++) {
        const struct sim_tok *t = &l.v[i];
        size_t wl = strlen(c->want[i]);
        if (t->len != wl || memcmp(c->in + t->off, c->want[i], wl) != 0)
            fail_msg("case %zu token %zu: got \"%.*s\" want \"%s\"", ci, i, (int)t->len,
                     c->in + t->off, c->want[i]);
        assert_true(t->off >= prev_end && t->off + t->len <= len);
        assert_int_equal(t->id, sim_fnv1a32(c->want[i], wl));
        prev_end = t->off + t->len;
    }
    sim_toklist_release(&l);
}

static void test_token_strings(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(tok_cases) / sizeof(tok_cases[0]); i++)
        check_case(i, &tok_cases[i]);
}

static void test_fnv(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        uint32_t h;
    } cases[] = {
        {"", 0x811c9dc5u},      {"a", 0xe40c292cu},   {"foobar", 0xbf9cf968u},
        {"This ", 0xbc326e13u}, {"is ", 0x5809706fu}, {"test", 0xafd071e5u},
        {".\n", 0xbfd4d321u},   {"# ", 0x17c891b6u},  {"user", 0x60785ef2u},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (sim_fnv1a32(cases[i].s, strlen(cases[i].s)) != cases[i].h)
            fail_msg("fnv(\"%s\") = %08x want %08x", cases[i].s,
                     sim_fnv1a32(cases[i].s, strlen(cases[i].s)), cases[i].h);
    /* the ids of the chat example are the hashes of its token strings */
    struct sim_toklist l;
    sim_toklist_init(&l);
    sim_tokenize("### user: This is a test.\n", 26, &l);
    assert_int_equal(l.n, 10);
    assert_true(l.v[2].id == 0x17c891b6u && l.v[3].id == 0x60785ef2u);
    assert_true(l.v[5].id == 0xbc326e13u && l.v[9].id == 0xbfd4d321u);
    sim_toklist_release(&l);
}

/* Appending to a non-empty list keeps the old tokens; offsets are per text. */
static void test_append_and_grow(void **state)
{
    (void)state;
    struct sim_toklist l;
    sim_toklist_init(&l);
    sim_tokenize("a b", 3, &l);
    for (int i = 0; i < 100; i++)
        sim_tokenize("x, y. ", 6, &l);
    assert_int_equal(l.n, 2 + 400);
    assert_true(l.alloc >= l.n);
    assert_int_equal(l.v[1].off, 2);
    assert_int_equal(l.v[401].off, 4);
    assert_int_equal(l.v[401].len, 2); /* ". " */
    sim_toklist_push(&l, "zz", 1, 1);
    assert_int_equal(l.v[402].id, sim_fnv1a32("z", 1));
    sim_toklist_release(&l);
    assert_null(l.v);
    assert_int_equal(l.n, 0);
    sim_toklist_release(NULL);
}

/* Token counts of the built-in sentences, from upstream's regex. */
static void test_sentences(void **state)
{
    (void)state;
    static const size_t want[] = {39, 9, 9, 13, 7, 10, 8, 11, 16, 5, 25};
    size_t n = 0;
    for (; sim_textgen_sentences[n]; n++) {
        const char *s = sim_textgen_sentences[n];
        size_t len = strlen(s);
        assert_true(n < 11);
        assert_true(len > 0 && s[len - 1] == ' ');
        if (sim_token_count(s, len) != want[n])
            fail_msg("sentence %zu: %zu tokens want %zu", n, sim_token_count(s, len), want[n]);
    }
    assert_int_equal(n, 11);
    assert_string_equal(sim_textgen_sentences[1], "Testing, testing 1,2,3. ");
    assert_non_null(strstr(sim_textgen_sentences[0], "/ \\\\ < > . "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_strings),
        cmocka_unit_test(test_fnv),
        cmocka_unit_test(test_append_and_grow),
        cmocka_unit_test(test_sentences),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
