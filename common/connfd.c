#define _GNU_SOURCE /* POLLRDHUP, ppoll, RTLD_NEXT */
#include "common/connfd.h"

#include <civetweb.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

typedef ssize_t (*recv_fn)(int, void *, size_t, int);

static _Thread_local int last_recv_fd = -1;
static _Atomic(recv_fn) real_recv_ptr;

/* Interposes libc's recv for every caller in the process (civetweb and
 * libcurl alike); it only remembers the descriptor. */
ssize_t recv(int fd, void *b, size_t n, int flags)
{
    recv_fn real = atomic_load_explicit(&real_recv_ptr, memory_order_acquire);
    if (!real) {
        void *sym = dlsym(RTLD_NEXT, "recv");
        memcpy(&real, &sym, sizeof(real)); /* ISO C has no object-to-function cast */
        atomic_store_explicit(&real_recv_ptr, real, memory_order_release);
    }
    last_recv_fd = fd;
    return real(fd, b, n, flags);
}

int connfd_current(const struct mg_connection *conn)
{
    return connfd_verify(conn, last_recv_fd);
}

int connfd_candidate(void)
{
    return last_recv_fd;
}

int connfd_verify(const struct mg_connection *conn, int fd)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    if (fd < 0 || !ri)
        return -1;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    int port = -1;
    if (ss.ss_family == AF_INET)
        port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    else if (ss.ss_family == AF_INET6)
        port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return port == ri->remote_port ? fd : -1;
}

bool connfd_peer_gone(int sockfd)
{
    if (sockfd < 0)
        return false;
    struct pollfd p = {.fd = sockfd, .events = POLLRDHUP};
    if (poll(&p, 1, 0) <= 0)
        return false;
    return (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

static void drain(int evfd)
{
    uint64_t v;
    ssize_t rc = read(evfd, &v, sizeof(v));
    (void)rc;
}

static int64_t until_ns(const struct timespec *deadline)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)(deadline->tv_sec - now.tv_sec) * 1000000000LL +
           (deadline->tv_nsec - now.tv_nsec);
}

enum connfd_wake connfd_wait(int sockfd, int evfd, int abortfd, const struct timespec *deadline)
{
    struct pollfd p[3];
    int n = 0, ev_idx = -1, sock_idx = -1, ab_idx = -1;
    if (abortfd >= 0) {
        ab_idx = n;
        p[n++] = (struct pollfd){.fd = abortfd, .events = POLLIN};
    }
    if (evfd >= 0) {
        ev_idx = n;
        p[n++] = (struct pollfd){.fd = evfd, .events = POLLIN};
    }
    if (sockfd >= 0) {
        sock_idx = n;
        p[n++] = (struct pollfd){.fd = sockfd, .events = POLLRDHUP};
    }
    for (;;) {
        struct timespec rel, *relp = NULL;
        if (deadline) {
            int64_t left = until_ns(deadline);
            if (left <= 0)
                return CONNFD_DEADLINE;
            rel.tv_sec = (time_t)(left / 1000000000LL);
            rel.tv_nsec = (long)(left % 1000000000LL);
            relp = &rel;
        }
        if (n == 0) {
            if (!deadline)
                return CONNFD_EVENT; /* nothing could ever wake us */
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, deadline, NULL);
            continue;
        }
        int rc = ppoll(p, (nfds_t)n, relp, NULL);
        if (rc < 0 && errno != EINTR)
            return CONNFD_GONE;
        if (rc <= 0)
            continue;
        if (ab_idx >= 0 && (p[ab_idx].revents & POLLIN))
            return CONNFD_ABORT;
        if (ev_idx >= 0 && (p[ev_idx].revents & POLLIN)) {
            drain(evfd);
            return CONNFD_EVENT;
        }
        if (sock_idx >= 0 && p[sock_idx].revents) {
            if (p[sock_idx].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL))
                return CONNFD_GONE;
            /* Pipelined request bytes, not a hang-up: stop watching the socket. */
            n = sock_idx; /* sock is always last */
            sock_idx = -1;
        }
    }
}
