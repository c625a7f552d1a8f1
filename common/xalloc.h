/*
 * xalloc: allocation that never returns NULL.
 *
 * Out of memory is not recoverable in pdsim (a pod is restarted), so these
 * wrappers print one fatal log line and abort; callers skip NULL checks.
 */
#ifndef PDSIM_COMMON_XALLOC_H
#define PDSIM_COMMON_XALLOC_H

#include <stddef.h>

/* malloc/calloc/realloc/strdup that abort on failure. Caller frees with free(). */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* Copy of the first n bytes of s, NUL-terminated. Caller frees with free(). */
char *xstrndup(const char *s, size_t n);

#endif
