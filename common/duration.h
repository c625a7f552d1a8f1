/*
 * duration: parse and format time durations as nanoseconds.
 *
 * Accepts Go duration strings ("200ms", "1.5s", "750us", "1m30s", "2h") and,
 * because the seed manifest writes --prefill-time-per-token=200, a bare
 * number, which means milliseconds ("200" = 200ms, "0.5" = 500us).
 * Pure; thread-safe.
 */
#ifndef PDSIM_COMMON_DURATION_H
#define PDSIM_COMMON_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* Parse s into *ns. Returns 0, or -EINVAL with a reason in err (may be NULL)
 * such as "unknown unit \"sec\"". Negative durations parse ("-1s"); callers
 * validate ranges. Overflow of int64 nanoseconds is -ERANGE. */
int duration_parse(const char *s, int64_t *ns, char *err, size_t errlen);

/* Format like Go's time.Duration.String(): "0s", "1.5s", "200ms", "750µs"
 * is written "750us", "1m30s". Returns the length written (always NUL-terminated). */
int duration_format(int64_t ns, char *out, size_t outlen);

#endif
