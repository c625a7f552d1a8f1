/*
 * connfd: the socket behind the civetweb connection that this thread serves,
 * and waits that end early when that client goes away.
 *
 * civetweb 1.15's API exposes no socket descriptor, but each worker thread
 * reads its connection with recv(2). This module defines recv() so that the
 * executable's definition takes precedence for libcivetweb (ELF symbol
 * interposition) and records, per thread, the last descriptor read; then it
 * calls the real recv. connfd_current() double-checks the descriptor against
 * the peer port civetweb reports, so a wrong guess is never used.
 * With it, a handler that is waiting (queue, time to first token, a
 * non-streaming response) notices a client that disconnected at once.
 */
#ifndef PDSIM_COMMON_CONNFD_H
#define PDSIM_COMMON_CONNFD_H

#include <stdbool.h>
#include <time.h>

struct mg_connection;

/* The socket of conn when it can be proved (the peer port matches), else -1.
 * Call from the handler thread that serves conn. */
int connfd_current(const struct mg_connection *conn);

/* The two halves of connfd_current, for callers that may never need the
 * descriptor: connfd_candidate (no system call) right when the handler
 * starts, connfd_verify (one getpeername) later, from any thread. */
int connfd_candidate(void);
int connfd_verify(const struct mg_connection *conn, int fd);

enum connfd_wake {
    CONNFD_DEADLINE, /* the deadline passed */
    CONNFD_EVENT,    /* evfd became readable (it is drained) */
    CONNFD_GONE,     /* the client closed or reset the connection */
    CONNFD_ABORT,    /* abortfd became readable (it is left as it is) */
};

/* Sleep until the absolute CLOCK_MONOTONIC deadline (NULL: no deadline),
 * returning early when evfd (an eventfd, or -1) is signalled, when abortfd
 * (or -1) is readable, or when the peer of sockfd (or -1) hangs up.
 * Thread-safe. */
enum connfd_wake connfd_wait(int sockfd, int evfd, int abortfd, const struct timespec *deadline);

/* True when the peer of sockfd has closed or reset the connection (no wait). */
bool connfd_peer_gone(int sockfd);

#endif
