/*
 * buf: a growable byte buffer with a hard size cap (curl's dynbuf, git's strbuf).
 *
 * The content is always NUL-terminated, so it can be used as a C string when
 * it holds text. Appending past the cap fails with -E2BIG and leaves the
 * buffer unchanged; it never aborts. Not thread-safe: one owner at a time.
 */
#ifndef PDSIM_COMMON_BUF_H
#define PDSIM_COMMON_BUF_H

#include <stdarg.h>
#include <stddef.h>

#define WARN_UNUSED __attribute__((warn_unused_result))

struct buf {
    char *data; /* NUL-terminated; NULL until the first append */
    size_t len; /* bytes used, not counting the NUL */
    size_t alloc;
    size_t cap; /* maximum len; appends beyond it fail with -E2BIG */
};

/* No cap beyond what memory allows. */
#define BUF_NOCAP ((size_t)-1)

/* Set up an empty buffer limited to cap bytes. */
void buf_init(struct buf *b, size_t cap);
/* Free the contents; the buffer may be reused after buf_init. Accepts NULL. */
void buf_release(struct buf *b);
/* Forget the content but keep the allocation. */
void buf_reset(struct buf *b);
/* Append bytes. Returns 0 or -E2BIG (buffer unchanged). */
int buf_append(struct buf *b, const void *p, size_t n) WARN_UNUSED;
int buf_puts(struct buf *b, const char *s) WARN_UNUSED;
int buf_putc(struct buf *b, char c) WARN_UNUSED;
/* Append a decimal integer without going through printf. */
int buf_put_long(struct buf *b, long long v) WARN_UNUSED;
/* Append the shortest decimal that reads back as v (as Go's encoding/json
 * writes numbers). v must be finite: JSON has no NaN or infinity. */
int buf_put_double(struct buf *b, double v) WARN_UNUSED;
/* Make room for n more bytes up front (a hint; appends still check the cap). */
void buf_reserve(struct buf *b, size_t n);
/* printf-style append. Returns 0 or -E2BIG (buffer unchanged). */
int buf_appendf(struct buf *b, const char *fmt, ...) WARN_UNUSED
    __attribute__((format(printf, 2, 3)));
int buf_vappendf(struct buf *b, const char *fmt, va_list ap) WARN_UNUSED
    __attribute__((format(printf, 2, 0)));
/* Append s as a JSON string literal, quotes included (RFC 8259 escaping). */
int buf_json_str(struct buf *b, const char *s) WARN_UNUSED;
int buf_json_strn(struct buf *b, const char *s, size_t n) WARN_UNUSED;
/* Hand the content over: returns a malloc'd NUL-terminated string (never NULL)
 * that the caller frees with free(); the buffer is left empty. */
char *buf_take(struct buf *b, size_t *len);
/* Content as a C string; "" when empty. Borrowed: valid until the next change. */
const char *buf_str(const struct buf *b);

#endif
