/* KV events encoded, then decoded back with msgpack-c's own unpacker. */
#define _GNU_SOURCE /* memmem */
#include "simulator/sim_kvevents.h"

#include <errno.h>
#include <msgpack.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static const uint64_t hashes[] = {1, 0xfedcba9876543210ULL};
static const uint32_t tokens[] = {5, 4000000000u, 7, 8};

static void unpack(const struct buf *b, msgpack_unpacked *u)
{
    size_t off = 0;
    msgpack_unpacked_init(u);
    assert_int_equal(msgpack_unpack_next(u, b->data, b->len, &off), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, b->len); /* exactly one object */
}

static void assert_str(const msgpack_object *o, const char *s)
{
    assert_int_equal(o->type, MSGPACK_OBJECT_STR);
    assert_int_equal(o->via.str.size, strlen(s));
    assert_memory_equal(o->via.str.ptr, s, strlen(s));
}

static void assert_u64s(const msgpack_object *o, const uint64_t *v, size_t n)
{
    assert_int_equal(o->type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal(o->via.array.size, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(o->via.array.ptr[i].type, MSGPACK_OBJECT_POSITIVE_INTEGER);
        assert_true(o->via.array.ptr[i].via.u64 == v[i]);
    }
}

/* The value under key in map o, or NULL. */
static const msgpack_object *get(const msgpack_object *o, const char *key)
{
    assert_int_equal(o->type, MSGPACK_OBJECT_MAP);
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(key) &&
            memcmp(k->via.str.ptr, key, k->via.str.size) == 0)
            return &o->via.map.ptr[i].val;
    }
    return NULL;
}

static void test_array_format(void **state)
{
    (void)state;
    struct buf b;
    msgpack_unpacked u;
    buf_init(&b, BUF_NOCAP);
    struct sim_kvevent st = {
        .type = SIM_KVEV_STORED, .hashes = hashes, .nhashes = 2, .tokens = tokens, .ntokens = 4};
    assert_int_equal(sim_kvevents_encode_event(&b, &st, false, 2), 0);
    unpack(&b, &u);
    const msgpack_object *a = u.data.via.array.ptr;
    assert_int_equal(u.data.via.array.size, 8);
    assert_str(&a[0], "BlockStored");
    assert_u64s(&a[1], hashes, 2);
    assert_true(a[2].type == MSGPACK_OBJECT_POSITIVE_INTEGER && a[2].via.u64 == 0); /* no parent */
    assert_int_equal(a[3].via.array.size, 4);
    assert_true(a[3].via.array.ptr[1].via.u64 == 4000000000u);
    assert_true(a[4].via.u64 == 2);
    assert_int_equal(a[5].type, MSGPACK_OBJECT_NIL);
    assert_str(&a[6], "GPU");
    assert_int_equal(a[7].type, MSGPACK_OBJECT_NIL);
    msgpack_unpacked_destroy(&u);
    /* Go's msgpack writes fixed-width integers: block_size 2 as int64 */
    assert_non_null(memmem(b.data, b.len, "\xd3\0\0\0\0\0\0\0\x02", 9));

    buf_reset(&b);
    st.has_parent = true;
    st.parent = 77;
    st.lora_name = "sql-lora";
    st.lora_id = 3;
    assert_int_equal(sim_kvevents_encode_event(&b, &st, false, 16), 0);
    unpack(&b, &u);
    a = u.data.via.array.ptr;
    assert_true(a[2].via.u64 == 77);
    assert_true(a[5].type == MSGPACK_OBJECT_POSITIVE_INTEGER && a[5].via.u64 == 3);
    assert_str(&a[7], "sql-lora");
    msgpack_unpacked_destroy(&u);

    buf_reset(&b);
    struct sim_kvevent rm = {.type = SIM_KVEV_REMOVED, .hashes = hashes, .nhashes = 1};
    assert_int_equal(sim_kvevents_encode_event(&b, &rm, false, 16), 0);
    unpack(&b, &u);
    assert_int_equal(u.data.via.array.size, 3);
    assert_str(&u.data.via.array.ptr[0], "BlockRemoved");
    assert_u64s(&u.data.via.array.ptr[1], hashes, 1);
    assert_str(&u.data.via.array.ptr[2], "GPU");
    msgpack_unpacked_destroy(&u);

    buf_reset(&b);
    struct sim_kvevent cl = {.type = SIM_KVEV_CLEARED};
    assert_int_equal(sim_kvevents_encode_event(&b, &cl, false, 16), 0);
    unpack(&b, &u);
    assert_int_equal(u.data.via.array.size, 1);
    assert_str(&u.data.via.array.ptr[0], "AllBlocksCleared");
    msgpack_unpacked_destroy(&u);
    buf_release(&b);
}

static void test_map_format(void **state)
{
    (void)state;
    struct buf b;
    msgpack_unpacked u;
    buf_init(&b, BUF_NOCAP);
    struct sim_kvevent st = {
        .type = SIM_KVEV_STORED, .hashes = hashes, .nhashes = 2, .tokens = tokens, .ntokens = 4};
    assert_int_equal(sim_kvevents_encode_event(&b, &st, true, 2), 0);
    unpack(&b, &u);
    assert_int_equal(u.data.via.map.size, 6); /* no lora fields for the base model */
    assert_str(get(&u.data, "type"), "BlockStored");
    assert_u64s(get(&u.data, "block_hashes"), hashes, 2);
    assert_int_equal(get(&u.data, "parent_block_hash")->type, MSGPACK_OBJECT_NIL);
    assert_int_equal(get(&u.data, "token_ids")->via.array.size, 4);
    assert_true(get(&u.data, "block_size")->via.u64 == 2);
    assert_str(get(&u.data, "medium"), "GPU");
    assert_null(get(&u.data, "lora_id"));
    assert_null(get(&u.data, "lora_name"));
    msgpack_unpacked_destroy(&u);

    buf_reset(&b);
    st.has_parent = true;
    st.parent = 0; /* a real parent whose key is 0 is not "none" */
    st.lora_name = "a";
    st.lora_id = 1;
    assert_int_equal(sim_kvevents_encode_event(&b, &st, true, 2), 0);
    unpack(&b, &u);
    assert_int_equal(u.data.via.map.size, 8);
    assert_int_equal(get(&u.data, "parent_block_hash")->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    assert_true(get(&u.data, "lora_id")->via.u64 == 1);
    assert_str(get(&u.data, "lora_name"), "a");
    msgpack_unpacked_destroy(&u);

    buf_reset(&b);
    struct sim_kvevent rm = {.type = SIM_KVEV_REMOVED, .hashes = hashes, .nhashes = 2};
    assert_int_equal(sim_kvevents_encode_event(&b, &rm, true, 16), 0);
    unpack(&b, &u);
    assert_int_equal(u.data.via.map.size, 3);
    assert_str(get(&u.data, "type"), "BlockRemoved");
    assert_u64s(get(&u.data, "block_hashes"), hashes, 2);
    msgpack_unpacked_destroy(&u);

    buf_reset(&b);
    struct sim_kvevent cl = {.type = SIM_KVEV_CLEARED};
    assert_int_equal(sim_kvevents_encode_event(&b, &cl, true, 16), 0);
    unpack(&b, &u);
    assert_int_equal(u.data.via.map.size, 1);
    assert_str(get(&u.data, "type"), "AllBlocksCleared");
    msgpack_unpacked_destroy(&u);
    buf_release(&b);
}

static void test_batch(void **state)
{
    (void)state;
    struct buf ev, b;
    msgpack_unpacked u;
    buf_init(&ev, BUF_NOCAP);
    buf_init(&b, BUF_NOCAP);
    struct sim_kvevent rm = {.type = SIM_KVEV_REMOVED, .hashes = hashes, .nhashes = 1};
    struct sim_kvevent cl = {.type = SIM_KVEV_CLEARED};
    assert_int_equal(sim_kvevents_encode_event(&ev, &rm, false, 16), 0);
    assert_int_equal(sim_kvevents_encode_event(&ev, &cl, false, 16), 0);
    assert_int_equal(sim_kvevents_encode_batch(&b, 1700000000.25, ev.data, ev.len, 2, 3), 0);
    unpack(&b, &u);
    const msgpack_object *a = u.data.via.array.ptr;
    assert_int_equal(u.data.via.array.size, 3);
    assert_int_equal(a[0].type, MSGPACK_OBJECT_FLOAT64);
    assert_true(a[0].via.f64 == 1700000000.25);
    assert_int_equal(a[1].via.array.size, 2);
    assert_str(&a[1].via.array.ptr[0].via.array.ptr[0], "BlockRemoved");
    assert_str(&a[1].via.array.ptr[1].via.array.ptr[0], "AllBlocksCleared");
    assert_true(a[2].via.u64 == 3);
    msgpack_unpacked_destroy(&u);
    /* a capped buffer fails whole, and is left as it was */
    struct buf small;
    buf_init(&small, 8);
    assert_int_equal(sim_kvevents_encode_batch(&small, 1, ev.data, ev.len, 2, 0), -E2BIG);
    assert_int_equal(small.len, 0);
    assert_int_equal(sim_kvevents_encode_event(&small, &rm, false, 16), -E2BIG);
    assert_int_equal(small.len, 0);
    buf_release(&small);
    buf_release(&ev);
    buf_release(&b);
}

static void test_endpoints(void **state)
{
    (void)state;
    static const struct {
        const char *ep;
        long off;
        const char *want;
        int rc;
    } cases[] = {
        {"tcp://127.0.0.1:5557", 0, "tcp://127.0.0.1:5557", 0},
        {"tcp://127.0.0.1:5557", 2, "tcp://127.0.0.1:5559", 0},
        {"tcp://[::1]:5557", 1, "tcp://[::1]:5558", 0},
        {"tcp://zmq-listener-service:5557", 7, "tcp://zmq-listener-service:5564", 0},
        {"ipc:///tmp/kv", 3, "ipc:///tmp/kv", 0},
        {"tcp://*:*", 3, "tcp://*:*", 0},
        {"", 3, "", 0},
        {"tcp://h:65535", 1, "", -EINVAL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[64] = "";
        assert_int_equal(sim_kvevents_rank_endpoint(cases[i].ep, cases[i].off, out, sizeof(out)),
                         cases[i].rc);
        if (cases[i].rc == 0)
            assert_string_equal(out, cases[i].want);
    }
    char tiny[8];
    assert_int_equal(sim_kvevents_rank_endpoint("tcp://127.0.0.1:1", 1, tiny, sizeof(tiny)),
                     -E2BIG);
    assert_int_equal(sim_kvevents_endpoint_port("tcp://a:6000"), 6000);
    assert_int_equal(sim_kvevents_endpoint_port("tcp://a:x"), -1);
    assert_int_equal(sim_kvevents_endpoint_port("ipc://a:1"), -1);
    assert_true(sim_kvevents_passive("tcp://*:5557"));
    assert_true(sim_kvevents_passive("tcp://[::]:5557"));
    assert_true(sim_kvevents_passive("ipc:///tmp/x"));
    assert_true(sim_kvevents_passive("inproc://x"));
    assert_false(sim_kvevents_passive("tcp://127.0.0.1:5557"));
    assert_false(sim_kvevents_passive("tcp://[::1]:5557"));
    assert_false(sim_kvevents_passive("tcp://host:5557"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_array_format),
        cmocka_unit_test(test_map_format),
        cmocka_unit_test(test_batch),
        cmocka_unit_test(test_endpoints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
