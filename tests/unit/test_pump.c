#define _GNU_SOURCE
#include "common/pump.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* A stream of ntok tokens, one every itl_ns from start, each "tok<i>\n";
 * then result 7. With wait_ev, the first token waits for the eventfd. */
struct stream {
    struct pump_task task; /* first: the step finds the stream from the task */
    struct buf out;
    int ntok, emitted;
    int64_t start, itl_ns;
    int64_t due[64]; /* when each token was due, for the reader's check */
    bool wait_ev;
    int calls;
    int evfd;
    struct pump *pump;
    int rc;
    size_t pad; /* bytes of filler after each token, for the slow-reader test */
};

static enum pump_next stream_step(struct pump_task *t, const struct timespec *now,
                                  struct timespec *next)
{
    struct stream *s = (struct stream *)t;
    int64_t n = (int64_t)now->tv_sec * 1000000000LL + now->tv_nsec;
    if (s->wait_ev && s->calls++ == 0) /* the first call, at intake: wait for the fd */
        return PUMP_WAIT;
    if (s->wait_ev && s->calls == 2) /* the event: start now */
        s->start = n;
    while (s->emitted < s->ntok && s->start + s->emitted * s->itl_ns <= n) {
        s->due[s->emitted] = s->start + s->emitted * s->itl_ns;
        char tok[32];
        int k = snprintf(tok, sizeof(tok), "tok%d\n", s->emitted);
        assert_int_equal(buf_append(&s->out, tok, (size_t)k), 0);
        for (size_t i = 0; i < s->pad; i++)
            assert_int_equal(buf_append(&s->out, "x", 1), 0);
        s->emitted++;
    }
    if (s->emitted == s->ntok) {
        t->result = 7;
        return PUMP_END;
    }
    int64_t at = s->start + s->emitted * s->itl_ns;
    next->tv_sec = (time_t)(at / 1000000000LL);
    next->tv_nsec = (long)(at % 1000000000LL);
    return PUMP_AT;
}

static void *runner(void *arg)
{
    struct stream *s = arg;
    s->rc = pump_run(s->pump, &s->task);
    return NULL;
}

static void stream_init(struct stream *s, struct pump *p, int sock, int ntok, int64_t itl_ns)
{
    memset(s, 0, sizeof(*s));
    buf_init(&s->out, BUF_NOCAP);
    s->pump = p;
    s->ntok = ntok;
    s->itl_ns = itl_ns;
    s->start = now_ns() + itl_ns;
    s->evfd = -1;
    s->task.sockfd = sock;
    s->task.evfd = -1;
    s->task.step = stream_step;
    s->task.out = &s->out;
}

static struct pump *start_pump(int threads, int abortfd, int64_t stall_ns)
{
    char err[256];
    struct pump *p = pump_start(threads, abortfd, stall_ns, err, sizeof(err));
    assert_non_null(p);
    return p;
}

/* A connected socket pair; small: with 4 KiB buffers. */
static void new_pair(int sv[2], bool small)
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    int sz = 4096;
    if (small) {
        setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
        setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    }
}

static void end_pair(int sv[2], struct stream *s)
{
    close(sv[0]);
    close(sv[1]);
    buf_release(&s->out);
}

/* A reader of HTTP chunks of "tok<i>\n" lines (each followed by pad filler
 * bytes), recording when each token arrived. */
struct reader {
    int fd;
    size_t pad;
    char *buf;
    size_t len;
    int got;
    int64_t arrived[64];
};

static void reader_init(struct reader *r, int fd, size_t pad)
{
    memset(r, 0, sizeof(*r));
    r->fd = fd;
    r->pad = pad;
    r->buf = malloc(1 << 21);
    assert_non_null(r->buf);
}

/* One read. Returns the bytes read (0: the peer closed). */
static ssize_t reader_read(struct reader *r)
{
    ssize_t n = read(r->fd, r->buf + r->len, (1 << 21) - r->len);
    if (n <= 0)
        return n;
    int64_t t = now_ns();
    r->len += (size_t)n;
    for (;;) { /* every whole chunk in buf */
        char *crlf = memmem(r->buf, r->len, "\r\n", 2);
        if (!crlf)
            break;
        size_t sz = strtoul(r->buf, NULL, 16), hl = (size_t)(crlf - r->buf) + 2;
        if (r->len < hl + sz + 2)
            break;
        assert_memory_equal(r->buf + hl + sz, "\r\n", 2);
        for (size_t off = 0; off < sz;) { /* the tokens in this chunk, in order */
            char expect[32];
            int k = snprintf(expect, sizeof(expect), "tok%d\n", r->got);
            assert_memory_equal(r->buf + hl + off, expect, (size_t)k);
            off += (size_t)k + r->pad;
            r->arrived[r->got++] = t;
        }
        memmove(r->buf, r->buf + hl + sz + 2, r->len - hl - sz - 2);
        r->len -= hl + sz + 2;
    }
    return n;
}

/* Read until want tokens arrived or the peer closed. Returns the tokens read. */
static int read_chunks(int fd, int want, size_t pad)
{
    struct reader r;
    reader_init(&r, fd, pad);
    while (r.got < want && reader_read(&r) > 0)
        ;
    free(r.buf);
    return r.got;
}

/* Tokens go out on time, framed as one chunk each, from one thread for many streams. */
static void test_timed_streams(void **state)
{
    (void)state;
    struct pump *p = start_pump(1, -1, 5000000000LL);
    enum { N = 50, TOK = 20 };
    static struct stream s[N];
    int sv[N][2];
    pthread_t th[N];
    int64_t base = now_ns() + 300000000LL; /* the reader below is polling by then */
    for (int i = 0; i < N; i++) {
        new_pair(sv[i], false);
        stream_init(&s[i], p, sv[i][0], TOK, 5000000 + i * 10000); /* 5 ms + i * 10 us */
        s[i].start = base + i * 100000;
        assert_int_equal(pthread_create(&th[i], NULL, runner, &s[i]), 0);
    }
    static struct reader rd[N];
    struct pollfd pf[N];
    for (int i = 0; i < N; i++) {
        reader_init(&rd[i], sv[i][1], 0);
        pf[i] = (struct pollfd){.fd = sv[i][1], .events = POLLIN};
    }
    for (int left = N; left > 0;) { /* every socket at once: arrival times are real */
        assert_true(poll(pf, N, 5000) > 0);
        for (int i = 0; i < N; i++) {
            if (!(pf[i].revents & POLLIN))
                continue;
            assert_true(reader_read(&rd[i]) > 0);
            if (rd[i].got == TOK) {
                pf[i].fd = -1;
                left--;
            }
        }
    }
    double worst_ms = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(s[i].rc, 7);
        for (int k = 0; k < TOK; k++) {
            double late = (double)(rd[i].arrived[k] - s[i].due[k]) / 1e6;
            assert_true(late >= 0); /* never early */
            if (late > worst_ms)
                worst_ms = late;
        }
        free(rd[i].buf);
        end_pair(sv[i], &s[i]);
    }
    print_message("latest token: %.3f ms after its deadline\n", worst_ms);
    assert_true(worst_ms < 50); /* generous: a loaded CI machine under ASan */
    assert_int_equal(pump_tasks(p), 0);
    pump_stop(p);
}

/* A client that hangs up ends its task at once with PUMP_GONE. */
static void test_hangup(void **state)
{
    (void)state;
    struct pump *p = start_pump(2, -1, 5000000000LL);
    int sv[2];
    new_pair(sv, false);
    struct stream s;
    stream_init(&s, p, sv[0], 10, 1000000000LL); /* one token a second */
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, runner, &s), 0);
    usleep(50000);
    int64_t t0 = now_ns();
    close(sv[1]);
    pthread_join(th, NULL);
    assert_int_equal(s.rc, PUMP_GONE);
    assert_true(now_ns() - t0 < 500000000LL); /* not at the next token, a second away */
    close(sv[0]);
    buf_release(&s.out);
    pump_stop(p);
}

/* The abort fd ends every task with PUMP_ABORT, and tasks that arrive after. */
static void test_abort(void **state)
{
    (void)state;
    int abortfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct pump *p = start_pump(1, abortfd, 5000000000LL);
    int sv[2][2];
    struct stream s[2];
    pthread_t th[2];
    new_pair(sv[0], false);
    new_pair(sv[1], false);
    stream_init(&s[0], p, sv[0][0], 10, 1000000000LL);
    assert_int_equal(pthread_create(&th[0], NULL, runner, &s[0]), 0);
    usleep(50000);
    uint64_t one = 1;
    assert_int_equal(write(abortfd, &one, sizeof(one)), sizeof(one));
    pthread_join(th[0], NULL);
    assert_int_equal(s[0].rc, PUMP_ABORT);
    stream_init(&s[1], p, sv[1][0], 10, 1000000000LL);
    assert_int_equal(pthread_create(&th[1], NULL, runner, &s[1]), 0);
    pthread_join(th[1], NULL);
    assert_int_equal(s[1].rc, PUMP_ABORT);
    for (int i = 0; i < 2; i++) {
        end_pair(sv[i], &s[i]);
    }
    pump_stop(p);
    close(abortfd);
}

/* A task with no deadline runs when its event fd is signalled. */
static void test_event_fd(void **state)
{
    (void)state;
    struct pump *p = start_pump(1, -1, 5000000000LL);
    int sv[2];
    new_pair(sv, false);
    struct stream s;
    stream_init(&s, p, sv[0], 3, 1000000);
    s.start = INT64_MAX / 2; /* not before the event */
    s.wait_ev = true;
    s.evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    s.task.evfd = s.evfd;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, runner, &s), 0);
    usleep(100000);
    assert_int_equal(s.emitted, 0);
    uint64_t one = 1;
    assert_int_equal(write(s.evfd, &one, sizeof(one)), sizeof(one));
    assert_int_equal(read_chunks(sv[1], 3, 0), 3);
    pthread_join(th, NULL);
    assert_int_equal(s.rc, 7);
    close(s.evfd);
    end_pair(sv, &s);
    pump_stop(p);
}

/* A reader slower than the stream gets every byte in order, with the task
 * waiting for it; a reader that stops altogether is dropped after the stall
 * limit. */
static void test_slow_and_stalled_reader(void **state)
{
    (void)state;
    struct pump *p = start_pump(1, -1, 300000000LL); /* 300 ms stall limit */
    int sv[2];
    new_pair(sv, true);
    struct stream s;
    stream_init(&s, p, sv[0], 40, 100000); /* 40 tokens of 20 KB, 0.1 ms apart */
    s.pad = 20000;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, runner, &s), 0);
    usleep(100000); /* the socket is full well before this */
    assert_int_equal(read_chunks(sv[1], 40, 20000), 40);
    pthread_join(th, NULL);
    assert_int_equal(s.rc, 7);
    end_pair(sv, &s);

    new_pair(sv, true);
    stream_init(&s, p, sv[0], 40, 100000);
    s.pad = 20000;
    int64_t t0 = now_ns();
    assert_int_equal(pthread_create(&th, NULL, runner, &s), 0);
    pthread_join(th, NULL); /* nobody reads */
    assert_int_equal(s.rc, PUMP_GONE);
    int64_t took = now_ns() - t0;
    assert_true(took >= 250000000LL && took < 5000000000LL);
    end_pair(sv, &s);
    pump_stop(p);
}

/* A descriptor epoll cannot watch (a regular file) is handed back untouched. */
static void test_refused(void **state)
{
    (void)state;
    struct pump *p = start_pump(1, -1, 5000000000LL);
    char path[] = "/tmp/pdsim-pump-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    struct stream s;
    stream_init(&s, p, fd, 3, 1000000);
    assert_int_equal(pump_run(p, &s.task), PUMP_REFUSED);
    assert_int_equal(s.emitted, 0);
    close(fd);
    buf_release(&s.out);
    pump_stop(p);
}

/* Stopping the pump ends the tasks it still runs. */
static void test_stop_with_tasks(void **state)
{
    (void)state;
    struct pump *p = start_pump(1, -1, 5000000000LL);
    int sv[2];
    new_pair(sv, false);
    struct stream s;
    stream_init(&s, p, sv[0], 10, 1000000000LL);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, runner, &s), 0);
    while (pump_tasks(p) == 0)
        usleep(1000);
    usleep(20000);
    pump_stop(p);
    pthread_join(th, NULL);
    assert_int_equal(s.rc, PUMP_ABORT);
    end_pair(sv, &s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timed_streams),
        cmocka_unit_test(test_hangup),
        cmocka_unit_test(test_abort),
        cmocka_unit_test(test_event_fd),
        cmocka_unit_test(test_slow_and_stalled_reader),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_stop_with_tasks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
