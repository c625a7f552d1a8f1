#include "simulator/sim_sched.h"

#include "common/buf.h"
#include "simulator/sim_metrics.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static int state_of(struct sim_sched_item *it)
{
    return atomic_load(&it->state);
}

static void test_fifo_and_queue_limit(void **st)
{
    (void)st;
    struct sim_sched *s = sim_sched_new(2, 2, 1, NULL);
    struct sim_sched_item it[6];
    int fds[6];
    memset(it, 0, sizeof(it));
    for (int i = 0; i < 6; i++)
        fds[i] = -1;
    for (int i = 0; i < 4; i++) {
        struct sim_sched_item *p = &it[i];
        assert_int_equal(sim_sched_submit(s, &p, 1, NULL, &fds[i]), i < 2 ? 0 : 1);
    }
    assert_int_equal(state_of(&it[0]), SIM_ITEM_RUNNING);
    assert_int_equal(state_of(&it[2]), SIM_ITEM_QUEUED);
    assert_true(fds[0] < 0 && fds[2] >= 0);
    struct sim_sched_item *p = &it[4];
    assert_int_equal(sim_sched_submit(s, &p, 1, NULL, &fds[4]), -EAGAIN); /* queue full: 429 */
    assert_int_equal(sim_sched_running(s), 2);
    assert_int_equal(sim_sched_active(s), 4);
    /* finishing a running item starts the head of the queue and signals it */
    sim_sched_finish(s, &it[0]);
    assert_int_equal(state_of(&it[2]), SIM_ITEM_RUNNING);
    assert_int_equal(state_of(&it[3]), SIM_ITEM_QUEUED);
    uint64_t v = 0;
    assert_int_equal(read(fds[2], &v, sizeof(v)), 8);
    assert_true(v == 1);
    /* a queued item that is abandoned (client left) gives its place up */
    sim_sched_finish(s, &it[3]);
    assert_int_equal(state_of(&it[3]), SIM_ITEM_DONE);
    assert_int_equal(sim_sched_active(s), 2);
    sim_sched_finish(s, &it[3]); /* twice is a no-op */
    assert_int_equal(sim_sched_active(s), 2);
    sim_sched_finish(s, &it[1]);
    sim_sched_finish(s, &it[2]);
    assert_int_equal(sim_sched_active(s), 0);
    sim_sched_close(s);
    p = &it[5];
    assert_int_equal(sim_sched_submit(s, &p, 1, NULL, &fds[5]), -ESHUTDOWN);
    for (int i = 0; i < 6; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    sim_sched_free(s);
}

static void test_all_or_nothing(void **st)
{
    (void)st;
    struct sim_sched *s = sim_sched_new(1, 2, 1, NULL);
    struct sim_sched_item it[4];
    struct sim_sched_item *ptr[4] = {&it[0], &it[1], &it[2], &it[3]};
    int fd = -1;
    memset(it, 0, sizeof(it));
    /* 4 choices: 1 runs, 3 would wait, but only 2 places: nothing is admitted */
    assert_int_equal(sim_sched_submit(s, ptr, 4, NULL, &fd), -EAGAIN);
    assert_int_equal(sim_sched_active(s), 0);
    assert_int_equal(sim_sched_submit(s, ptr, 3, NULL, &fd), 2);
    assert_int_equal(state_of(&it[0]), SIM_ITEM_RUNNING);
    /* FIFO: a newcomer waits even though it could be admitted after the queue */
    sim_sched_finish(s, &it[0]);
    assert_int_equal(state_of(&it[1]), SIM_ITEM_RUNNING);
    sim_sched_finish(s, &it[1]);
    sim_sched_finish(s, &it[2]);
    assert_int_equal(sim_sched_active(s), 0);
    close(fd);
    sim_sched_free(s);
}

static int submit1(struct sim_sched *s, struct sim_sched_item *it, const char *lora, int *fd)
{
    return sim_sched_submit(s, &it, 1, lora, fd);
}

/* One slot, one LoRA slot: a freed slot goes to the first waiting request
 * whose adapter is loaded, then to the first whose adapter can be loaded
 * (evicting the idle one); otherwise FIFO. */
static void test_lora_skipping(void **st)
{
    (void)st;
    struct sim_sched *s = sim_sched_new(1, 10, 1, NULL);
    struct sim_sched_item a, b, c, d;
    int fd = -1;
    memset(&a, 0, sizeof(a));
    b = c = d = a;
    assert_int_equal(submit1(s, &a, NULL, &fd), 0);
    assert_int_equal(submit1(s, &b, "lora1", &fd), 1);
    assert_int_equal(submit1(s, &c, "lora2", &fd), 1);
    assert_int_equal(submit1(s, &d, "lora1", &fd), 1);
    sim_sched_finish(s, &a);
    assert_int_equal(state_of(&b), SIM_ITEM_RUNNING);
    sim_sched_finish(s, &b);
    /* lora1 is still loaded: d jumps ahead of c */
    assert_int_equal(state_of(&d), SIM_ITEM_RUNNING);
    assert_int_equal(state_of(&c), SIM_ITEM_QUEUED);
    sim_sched_finish(s, &d);
    /* lora1 is idle now: it is evicted for lora2 */
    assert_int_equal(state_of(&c), SIM_ITEM_RUNNING);
    sim_sched_finish(s, &c);
    assert_int_equal(sim_sched_active(s), 0);
    close(fd);
    sim_sched_free(s);
}

static bool metrics_have(struct sim_metrics *m, const char *needle)
{
    struct buf b;
    buf_init(&b, BUF_NOCAP);
    assert_int_equal(sim_metrics_format(m, &b), 0);
    bool r = strstr(buf_str(&b), needle) != NULL;
    buf_release(&b);
    return r;
}

static size_t count_of(struct sim_metrics *m, const char *needle)
{
    struct buf b;
    size_t n = 0;
    buf_init(&b, BUF_NOCAP);
    assert_int_equal(sim_metrics_format(m, &b), 0);
    for (const char *p = buf_str(&b); (p = strstr(p, needle)); p++)
        n++;
    buf_release(&b);
    return n;
}

/* A free slot does not help a request whose adapter cannot get a LoRA slot
 * (the only one is busy), but a base-model request behind it runs at once.
 * lora_requests_info follows, with one series only. */
static void test_lora_slots_and_info(void **st)
{
    (void)st;
    struct sim_metrics_opts mo = {"m", 1024, 1, 16, 1024};
    struct sim_metrics *m = sim_metrics_new(&mo);
    struct sim_sched *s = sim_sched_new(3, 10, 1, m);
    struct sim_sched_item a, b, c;
    int fd = -1;
    memset(&a, 0, sizeof(a));
    b = c = a;
    assert_true(
        metrics_have(m, "max_lora=\"1\",running_lora_adapters=\"\",waiting_lora_adapters=\"\"}"));
    assert_int_equal(submit1(s, &a, "lora1", &fd), 0);
    assert_int_equal(submit1(s, &b, "lora2", &fd), 1);
    assert_int_equal(submit1(s, &c, NULL, &fd), 0);
    assert_int_equal(sim_sched_running(s), 2);
    assert_true(
        metrics_have(m, "running_lora_adapters=\"lora1\",waiting_lora_adapters=\"lora2\"}"));
    assert_int_equal(count_of(m, "vllm:lora_requests_info{"), 1);
    sim_sched_finish(s, &a);
    assert_int_equal(state_of(&b), SIM_ITEM_RUNNING);
    assert_true(metrics_have(m, "running_lora_adapters=\"lora2\",waiting_lora_adapters=\"\"}"));
    assert_int_equal(count_of(m, "vllm:lora_requests_info{"), 1);
    sim_sched_finish(s, &b);
    sim_sched_finish(s, &c);
    assert_true(metrics_have(m, "running_lora_adapters=\"\",waiting_lora_adapters=\"\"}"));
    close(fd);
    sim_sched_free(s);
    sim_metrics_free(m);
}

/* Two LoRA slots: two adapters run side by side; a waiting request that
 * leaves gives its place up and its adapter leaves the waiting list. */
static void test_lora_two_slots_and_cancel(void **st)
{
    (void)st;
    struct sim_sched *s = sim_sched_new(2, 10, 2, NULL);
    struct sim_sched_item a, b, c;
    int fd = -1;
    memset(&a, 0, sizeof(a));
    b = c = a;
    assert_int_equal(submit1(s, &a, "x", &fd), 0);
    assert_int_equal(submit1(s, &b, "y", &fd), 0);
    assert_int_equal(submit1(s, &c, "z", &fd), 1);
    sim_sched_finish(s, &c); /* the client left */
    assert_int_equal(state_of(&c), SIM_ITEM_DONE);
    assert_int_equal(sim_sched_active(s), 2);
    sim_sched_finish(s, &a);
    sim_sched_finish(s, &b);
    assert_int_equal(sim_sched_active(s), 0);
    close(fd);
    sim_sched_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lora_skipping),
        cmocka_unit_test(test_lora_slots_and_info),
        cmocka_unit_test(test_lora_two_slots_and_cancel),
        cmocka_unit_test(test_fifo_and_queue_limit),
        cmocka_unit_test(test_all_or_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
