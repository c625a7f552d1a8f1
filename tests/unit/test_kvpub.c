/* The publisher over real ZMQ sockets on ipc:// addresses: batching, the
 * partial-batch flush, sequence numbers, the topic, replay and the sentinel. */
#include "simulator/sim_kvpub.h"

#include "simulator/sim_kvevents.h"

#include <msgpack.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include <cmocka.h>

struct msg {
    char part[6][256];
    size_t len[6];
    int n;
};

/* One multipart message within ms, or n = 0. */
static void recv_msg(void *sock, int ms, struct msg *m)
{
    memset(m, 0, sizeof(*m));
    zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, ms) <= 0)
        return;
    int more = 1;
    while (more && m->n < 6) {
        int r = zmq_recv(sock, m->part[m->n], sizeof(m->part[0]), 0);
        assert_true(r >= 0);
        m->len[m->n++] = (size_t)r;
        size_t sz = sizeof(more);
        zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz);
    }
}

static uint64_t be64(const char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | (unsigned char)p[i];
    return v;
}

/* The number of events in a batch payload. */
static size_t batch_events(const char *p, size_t n)
{
    msgpack_unpacked u;
    size_t off = 0;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, p, n, &off), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(u.data.via.array.size, 3);
    size_t k = u.data.via.array.ptr[1].via.array.size;
    assert_true(u.data.via.array.ptr[2].via.u64 == 2); /* the rank */
    msgpack_unpacked_destroy(&u);
    return k;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void test_publish_and_replay(void **state)
{
    (void)state;
    char ep[128], rep[128], err[256];
    snprintf(ep, sizeof(ep), "ipc:///tmp/pdsim-kvpub-%d", (int)getpid());
    snprintf(rep, sizeof(rep), "ipc:///tmp/pdsim-kvreplay-%d", (int)getpid());
    struct sim_kvpub_opts o = {.endpoint = ep, /* ipc: the publisher binds */
                               .replay_endpoint = rep,
                               .replay_queue = 2,
                               .batch_size = 3,
                               .block_size = 16,
                               .dp_rank = 2,
                               .topic = "kv@1.2.3.4:80@m",
                               .max_pending = 100,
                               .flush_ns = 300000000LL};
    struct sim_kvpub *p = sim_kvpub_start(&o, err, sizeof(err));
    assert_non_null(p);
    void *ctx = zmq_ctx_new();
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    assert_int_equal(zmq_connect(sub, ep), 0);
    assert_int_equal(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "kv@", 3), 0);
    usleep(200000); /* let the subscription reach the publisher */
    uint64_t h = 42;
    struct sim_kvevent ev = {.type = SIM_KVEV_REMOVED, .hashes = &h, .nhashes = 1};
    struct msg m;
    /* a full batch goes at once */
    double t0 = now_s();
    for (int i = 0; i < 3; i++)
        sim_kvpub_push(p, &ev);
    recv_msg(sub, 2000, &m);
    assert_int_equal(m.n, 3);
    assert_true(now_s() - t0 < 0.25);
    assert_memory_equal(m.part[0], "kv@1.2.3.4:80@m", m.len[0]);
    assert_int_equal(m.len[1], 8);
    assert_true(be64(m.part[1]) == 1);
    assert_int_equal(batch_events(m.part[2], m.len[2]), 3);
    /* a partial batch waits for the flush interval */
    t0 = now_s();
    sim_kvpub_push(p, &ev);
    recv_msg(sub, 2000, &m);
    assert_int_equal(m.n, 3);
    assert_true(now_s() - t0 > 0.1);
    assert_true(be64(m.part[1]) == 2);
    assert_int_equal(batch_events(m.part[2], m.len[2]), 1);
    sim_kvpub_set_topic(p, "kv@5.6.7.8:81@m");
    sim_kvpub_push(p, &ev);
    recv_msg(sub, 2000, &m);
    assert_true(be64(m.part[1]) == 3);
    assert_memory_equal(m.part[0], "kv@5.6.7.8:81@m", m.len[0]);

    /* replay from seq 1: the ring keeps the last 2 (seq 2 and 3), then the sentinel */
    void *dealer = zmq_socket(ctx, ZMQ_DEALER);
    assert_int_equal(zmq_connect(dealer, rep), 0);
    unsigned char start[8] = {0, 0, 0, 0, 0, 0, 0, 1};
    assert_true(zmq_send(dealer, "", 0, ZMQ_SNDMORE) == 0);
    assert_true(zmq_send(dealer, start, 8, 0) == 8);
    for (uint64_t want = 2; want <= 3; want++) {
        recv_msg(dealer, 2000, &m);
        assert_int_equal(m.n, 4); /* "", topic, seq, batch */
        assert_int_equal(m.len[0], 0);
        assert_memory_equal(m.part[1], "kv@5.6.7.8:81@m", m.len[1]);
        assert_true(be64(m.part[2]) == want);
        assert_int_equal(batch_events(m.part[3], m.len[3]), 1);
    }
    recv_msg(dealer, 2000, &m);
    assert_int_equal(m.n, 4);
    assert_int_equal(m.len[1], 0);
    assert_true(be64(m.part[2]) == SIM_KVEVENTS_END_SEQ);
    assert_int_equal(m.len[3], 0);
    /* a malformed request is ignored; a start past the end gets the sentinel only */
    assert_true(zmq_send(dealer, "x", 1, 0) == 1);
    unsigned char later[8] = {0, 0, 0, 0, 0, 0, 0, 9};
    assert_true(zmq_send(dealer, "", 0, ZMQ_SNDMORE) == 0);
    assert_true(zmq_send(dealer, later, 8, 0) == 8);
    recv_msg(dealer, 2000, &m);
    assert_true(m.n == 4 && be64(m.part[2]) == SIM_KVEVENTS_END_SEQ);
    recv_msg(dealer, 200, &m);
    assert_int_equal(m.n, 0);

    /* what is queued at stop is still published */
    sim_kvpub_push(p, &ev);
    sim_kvpub_stop(p);
    recv_msg(sub, 2000, &m);
    assert_true(m.n == 3 && be64(m.part[1]) == 4);
    zmq_close(dealer);
    zmq_close(sub);
    zmq_ctx_term(ctx);
}

static void test_errors(void **state)
{
    (void)state;
    char err[256] = "";
    struct sim_kvpub_opts o = {.endpoint = "bogus://x", .batch_size = 1, .max_pending = 1};
    assert_null(sim_kvpub_start(&o, err, sizeof(err)));
    assert_non_null(strstr(err, "--zmq-endpoint bogus://x: cannot connect"));
    o.endpoint = "tcp://127.0.0.1:1";
    o.replay_endpoint = "tcp://256.0.0.1:5";
    o.replay_queue = 1;
    assert_null(sim_kvpub_start(&o, err, sizeof(err)));
    assert_non_null(strstr(err, "--kv-events-replay-endpoint tcp://256.0.0.1:5: cannot bind"));
    sim_kvpub_stop(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publish_and_replay),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
