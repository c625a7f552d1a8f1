#include "simulator/sim_kvcache.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define BS 4

struct rec {
    enum sim_kvevent_type type;
    uint64_t hashes[16];
    size_t n;
    bool has_parent;
    uint64_t parent;
    uint32_t tokens[64];
    size_t ntokens;
    char lora[32];
    long lora_id;
};

static struct rec ev[64];
static size_t nev;

static void record(void *arg, const struct sim_kvevent *e)
{
    (void)arg;
    struct rec *r = &ev[nev < 64 ? nev : 63]; /* the growth test only counts */
    nev++;
    memset(r, 0, sizeof(*r));
    r->type = e->type;
    r->n = e->nhashes;
    if (e->nhashes)
        memcpy(r->hashes, e->hashes, e->nhashes * sizeof(uint64_t));
    r->has_parent = e->has_parent;
    r->parent = e->parent;
    r->ntokens = e->ntokens;
    if (e->ntokens)
        memcpy(r->tokens, e->tokens, e->ntokens * sizeof(uint32_t));
    if (e->lora_name)
        strncpy(r->lora, e->lora_name, sizeof(r->lora) - 1);
    r->lora_id = e->lora_id;
}

static struct sim_kvcache *new_cache(long capacity)
{
    nev = 0;
    struct sim_kvcache_opts o = {
        .capacity = capacity, .block_size = BS, .hash_seed = "", .on_event = record};
    struct sim_kvcache *c = sim_kvcache_new(&o);
    sim_kvcache_set_loaded(c, "m", true, false);
    return c;
}

/* n blocks with keys base, base+1, ... and tokens base*100 + i. */
static size_t acquire(struct sim_kvcache *c, const char *model, uint64_t base, size_t n,
                      struct sim_kvalloc *a, int *rc)
{
    uint64_t h[16];
    uint32_t t[16 * BS];
    for (size_t i = 0; i < n; i++)
        h[i] = base + i;
    for (size_t i = 0; i < n * BS; i++)
        t[i] = (uint32_t)(base * 100 + i);
    size_t cached = 99;
    *rc = sim_kvcache_acquire(c, model, h, t, n, a, &cached);
    return cached;
}

static void stats(struct sim_kvcache *c, long used, long total)
{
    struct sim_kvcache_stats s;
    sim_kvcache_stats(c, &s);
    assert_int_equal(s.used, used);
    assert_int_equal(s.total, total);
    assert_int_equal(s.unused, total - used);
}

static void test_store_and_reuse(void **state)
{
    (void)state;
    struct sim_kvcache *c = new_cache(10);
    struct sim_kvalloc a, b, d;
    int rc;
    assert_int_equal(acquire(c, "m", 10, 3, &a, &rc), 0);
    assert_int_equal(rc, 0);
    assert_int_equal(nev, 1);
    assert_int_equal(ev[0].type, SIM_KVEV_STORED);
    assert_int_equal(ev[0].n, 3);
    assert_true(ev[0].hashes[0] == 10 && ev[0].hashes[2] == 12);
    assert_false(ev[0].has_parent);
    assert_int_equal(ev[0].ntokens, 3 * BS);
    assert_int_equal(ev[0].tokens[5], 1005);
    assert_string_equal(ev[0].lora, "");
    stats(c, 3, 3);
    assert_true(sim_kvcache_usage(c) == 0.3);
    /* the same prefix while the first still runs: shared, nothing stored */
    assert_int_equal(acquire(c, "m", 10, 3, &b, &rc), 3);
    assert_int_equal(nev, 1);
    stats(c, 3, 3);
    /* a longer prompt: its 3 known blocks are reused, 2 more stored with the
     * last known block as their parent */
    uint64_t h[5] = {10, 11, 12, 40, 41};
    uint32_t t[5 * BS] = {0};
    size_t cached;
    assert_int_equal(sim_kvcache_acquire(c, "m", h, t, 5, &d, &cached), 0);
    assert_int_equal(cached, 3);
    assert_int_equal(nev, 2);
    assert_int_equal(ev[1].n, 2);
    assert_true(ev[1].hashes[0] == 40 && ev[1].has_parent && ev[1].parent == 12);
    stats(c, 5, 5);
    sim_kvcache_release(c, &a);
    sim_kvcache_release(c, &b);
    stats(c, 5, 5); /* d still holds all five */
    sim_kvcache_release(c, &d);
    stats(c, 0, 5);
    assert_true(sim_kvcache_usage(c) == 0);
    assert_null(d.blocks);
    sim_kvcache_release(c, &d); /* twice is a no-op */
    /* the same model under another name is another cache entry */
    assert_int_equal(acquire(c, "other", 10, 3, &a, &rc), 0);
    sim_kvcache_release(c, &a);
    sim_kvcache_free(c);
}

static void test_lru_evicts_unused_only(void **state)
{
    (void)state;
    struct sim_kvcache *c = new_cache(4);
    struct sim_kvalloc a, b, d;
    int rc;
    acquire(c, "m", 10, 2, &a, &rc); /* 10, 11 */
    acquire(c, "m", 20, 2, &b, &rc); /* 20, 21 */
    sim_kvcache_release(c, &a);      /* unused: 11 then 10 (the tail first) */
    nev = 0;
    /* full; 30 needs one slot: the oldest unused is 11, the prompt's tail */
    assert_int_equal(acquire(c, "m", 30, 1, &d, &rc), 0);
    assert_int_equal(rc, 0);
    assert_int_equal(nev, 2);
    assert_int_equal(ev[0].type, SIM_KVEV_REMOVED);
    assert_true(ev[0].n == 1 && ev[0].hashes[0] == 11);
    assert_int_equal(ev[1].type, SIM_KVEV_STORED);
    stats(c, 3, 4);
    /* 10 is still there and reused */
    struct sim_kvalloc e;
    assert_int_equal(acquire(c, "m", 10, 1, &e, &rc), 1);
    stats(c, 4, 4);
    /* every block used: nothing can be evicted, the request is refused and
     * nothing changes */
    nev = 0;
    struct sim_kvalloc f;
    assert_int_equal(acquire(c, "m", 50, 1, &f, &rc), 0);
    assert_int_equal(rc, -ENOSPC);
    assert_null(f.blocks);
    assert_int_equal(nev, 0);
    stats(c, 4, 4);
    /* released blocks become evictable, least recently released first */
    sim_kvcache_release(c, &d); /* 30 */
    sim_kvcache_release(c, &e); /* 10 */
    assert_int_equal(acquire(c, "m", 60, 2, &f, &rc), 0);
    assert_int_equal(rc, 0);
    assert_int_equal(nev, 3);
    assert_true(ev[0].hashes[0] == 30 && ev[1].hashes[0] == 10);
    sim_kvcache_release(c, &b);
    sim_kvcache_release(c, &f);
    sim_kvcache_free(c);
}

static void test_capacity(void **state)
{
    (void)state;
    struct sim_kvcache *c = new_cache(3);
    struct sim_kvalloc a, b;
    int rc;
    /* more blocks than the cache holds at all */
    acquire(c, "m", 10, 4, &a, &rc);
    assert_int_equal(rc, -ENOSPC);
    /* used + new + revived unused must fit */
    acquire(c, "m", 10, 2, &a, &rc);
    sim_kvcache_release(c, &a);
    acquire(c, "m", 20, 2, &b, &rc); /* evicts one of 10, 11 */
    assert_int_equal(rc, 0);
    acquire(c, "m", 10, 2, &a, &rc); /* 2 more while 2 are used: 4 > 3 */
    assert_int_equal(rc, -ENOSPC);
    sim_kvcache_release(c, &b);
    assert_int_equal(acquire(c, "m", 10, 2, &a, &rc), 1); /* 10 survived (11 went first) */
    assert_int_equal(rc, 0);
    sim_kvcache_release(c, &a);
    sim_kvcache_free(c);
    /* a cache of size 0 takes only empty prompts */
    c = new_cache(0);
    acquire(c, "m", 10, 1, &a, &rc);
    assert_int_equal(rc, -ENOSPC);
    assert_int_equal(acquire(c, "m", 10, 0, &a, &rc), 0);
    assert_int_equal(rc, 0);
    assert_true(sim_kvcache_usage(c) == 0);
    sim_kvcache_release(c, &a);
    sim_kvcache_free(c);
}

static void test_unloaded_lora_evicted_first(void **state)
{
    (void)state;
    struct sim_kvcache *c = new_cache(3);
    struct sim_kvalloc a, b, d;
    int rc;
    sim_kvcache_set_loaded(c, "lora1", true, true);
    sim_kvcache_set_loaded(c, "lora2", true, true);
    acquire(c, "lora2", 10, 1, &a, &rc);
    assert_string_equal(ev[0].lora, "lora2");
    assert_int_equal(ev[0].lora_id, 2);
    acquire(c, "m", 20, 1, &b, &rc);
    assert_int_equal(ev[1].lora_id, 0);
    sim_kvcache_release(c, &b); /* base model block: released first (older) */
    sim_kvcache_release(c, &a);
    acquire(c, "m", 30, 1, &d, &rc);
    nev = 0;
    sim_kvcache_set_loaded(c, "lora2", false, true);
    struct sim_kvalloc e;
    acquire(c, "m", 40, 1, &e, &rc);
    /* the unloaded adapter's block goes although the base model's is older */
    assert_int_equal(ev[0].type, SIM_KVEV_REMOVED);
    assert_true(ev[0].hashes[0] == 10);
    /* ids stay with their adapter across unload and load */
    sim_kvcache_set_loaded(c, "lora2", true, true);
    sim_kvcache_set_loaded(c, "lora3", true, true);
    struct sim_kvalloc f;
    sim_kvcache_release(c, &d);
    acquire(c, "lora3", 50, 1, &f, &rc);
    assert_int_equal(ev[nev - 1].lora_id, 3);
    sim_kvcache_release(c, &e);
    sim_kvcache_release(c, &f);
    sim_kvcache_free(c);
}

static void test_clear_and_enable(void **state)
{
    (void)state;
    struct sim_kvcache *c = new_cache(4);
    struct sim_kvalloc a, b;
    int rc;
    acquire(c, "m", 10, 2, &a, &rc);
    nev = 0;
    sim_kvcache_clear(c);
    assert_int_equal(nev, 1);
    assert_int_equal(ev[0].type, SIM_KVEV_CLEARED);
    stats(c, 0, 0);
    /* disabled: nothing is cached, stored or counted */
    assert_int_equal(acquire(c, "m", 10, 2, &b, &rc), 0);
    assert_int_equal(rc, 0);
    assert_int_equal(nev, 1);
    stats(c, 0, 0);
    sim_kvcache_release(c, &b);
    /* a request from before the clear releases nothing (its blocks are gone) */
    sim_kvcache_release(c, &a);
    stats(c, 0, 0);
    sim_kvcache_enable(c);
    assert_int_equal(acquire(c, "m", 10, 2, &b, &rc), 0);
    assert_int_equal(nev, 2);
    stats(c, 2, 2);
    sim_kvcache_release(c, &b);
    sim_kvcache_free(c);
}

static void test_keys_and_growth(void **state)
{
    (void)state;
    struct sim_kvcache *c = new_cache(1000);
    uint32_t t[2 * BS] = {1, 2, 3, 4, 5, 6, 7, 8};
    uint64_t k[3];
    assert_int_equal(sim_kvcache_keys(c, "m", t, 2 * BS + 0, k), 2);
    assert_int_equal(sim_kvcache_keys(c, "m", t, 2 * BS - 1, k), 1);
    assert_int_equal(sim_kvcache_block_size(c), BS);
    /* many blocks: the table grows and every block is still found */
    struct sim_kvalloc a[100];
    int rc;
    for (uint64_t i = 0; i < 100; i++)
        acquire(c, "m", i * 1000, 5, &a[i], &rc);
    stats(c, 500, 500);
    for (uint64_t i = 0; i < 100; i++)
        sim_kvcache_release(c, &a[i]);
    for (uint64_t i = 0; i < 100; i++) {
        assert_int_equal(acquire(c, "m", i * 1000, 5, &a[i], &rc), 5);
        sim_kvcache_release(c, &a[i]);
    }
    sim_kvcache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_and_reuse),  cmocka_unit_test(test_lru_evicts_unused_only),
        cmocka_unit_test(test_capacity),         cmocka_unit_test(test_unloaded_lora_evicted_first),
        cmocka_unit_test(test_clear_and_enable), cmocka_unit_test(test_keys_and_growth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
