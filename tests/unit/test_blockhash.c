/* Block keys against vectors computed with the Go code the llm-d router runs:
 * fxamacker/cbor's canonical encoding (Debian's golang-github-fxamacker-cbor-dev)
 * of [parent, tokens, extra], hashed with Go's hash/fnv New64a, chained from
 * hash(FNV-64a(seed), nil, model) as llm-d-kv-cache's ChunkedTokenDatabase. */
#include "simulator/sim_blockhash.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

/* The Go program's tokens: uint32(i*2654435761 + 7), then every CBOR integer
 * width boundary in the first block. */
static void go_tokens(uint32_t *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        t[i] = (uint32_t)((uint64_t)i * 2654435761ULL + 7);
    static const uint32_t edge[] = {0, 23, 24, 255, 256, 65535, 65536, 4294967295u};
    memcpy(t, edge, sizeof(edge));
}

static void test_fnv64a(void **state)
{
    (void)state;
    /* FNV-64a reference values (Fowler, Noll, Vo test suite) */
    assert_true(sim_fnv64a(SIM_FNV64_OFFSET, "", 0) == 0xcbf29ce484222325ULL);
    assert_true(sim_fnv64a(SIM_FNV64_OFFSET, "a", 1) == 0xaf63dc4c8601ec8cULL);
    assert_true(sim_fnv64a(SIM_FNV64_OFFSET, "foobar", 6) == 0x85944171f73967e8ULL);
}

static void test_root_and_chain(void **state)
{
    (void)state;
    uint32_t t[40];
    uint64_t out[8];
    go_tokens(t, 40);
    assert_true(sim_blockhash_root("", "testmodel") == 14134231071176785998ULL);
    static const uint64_t want8[] = {7355544280779203966ULL, 15811133043241209914ULL,
                                     14808332807596663548ULL, 17571912470987261382ULL,
                                     4338715694818061199ULL};
    assert_int_equal(sim_blockhash_chain(sim_blockhash_root("", "testmodel"), t, 40, 8, out), 5);
    for (size_t i = 0; i < 5; i++)
        assert_true(out[i] == want8[i]);
    /* 40 tokens in blocks of 16: the last 8 make no key */
    uint64_t r = sim_blockhash_root("42", "Qwen/Qwen2.5-1.5B-Instruct");
    assert_int_equal(sim_blockhash_chain(r, t, 40, 16, out), 2);
    assert_true(out[0] == 4480956358606627450ULL);
    assert_true(out[1] == 13507206880202801795ULL);
}

static void test_keys_depend_on_everything(void **state)
{
    (void)state;
    uint32_t t[16];
    uint64_t a[2], b[2];
    go_tokens(t, 16);
    uint64_t r = sim_blockhash_root("", "m");
    sim_blockhash_chain(r, t, 16, 8, a);
    assert_true(sim_blockhash_root("", "m2") != r);
    assert_true(sim_blockhash_root("1", "m") != r);
    t[15]++; /* the second block changes, the first does not */
    sim_blockhash_chain(r, t, 16, 8, b);
    assert_true(a[0] == b[0] && a[1] != b[1]);
    /* a partial block has no key, and a block's key is its prefix's link */
    assert_int_equal(sim_blockhash_chain(r, t, 7, 8, b), 0);
    assert_true(sim_blockhash_link(r, t, 8, NULL) == a[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fnv64a),
        cmocka_unit_test(test_root_and_chain),
        cmocka_unit_test(test_keys_depend_on_everything),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
