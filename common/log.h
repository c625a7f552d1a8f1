/*
 * log: structured JSON-lines logging on stderr.
 *
 * One JSON object per line: ts, level, component, msg, then typed fields.
 * msg is constant text; variable values go in fields, e.g.
 *   log_warn("upstream failed", LOG_STR("upstream", u), LOG_INT("status", s));
 * Each line is formatted on the stack and written with one write(2), so
 * threads never interleave. This is the only module in common/ that logs.
 *
 * Levels: error (a request or the process failed), warn (something is off
 * but handled), info (lifecycle and access lines), debug (per-step detail).
 */
#ifndef PDSIM_COMMON_LOG_H
#define PDSIM_COMMON_LOG_H

#include <stdbool.h>

enum log_level {
    LOG_LEVEL_ERROR = 0,
    LOG_LEVEL_WARN = 1,
    LOG_LEVEL_INFO = 2,
    LOG_LEVEL_DEBUG = 3,
};

enum log_field_type { LOG_F_END, LOG_F_STR, LOG_F_INT, LOG_F_DBL, LOG_F_BOOL };

struct log_field {
    const char *key;
    enum log_field_type type;
    union {
        const char *s;
        long long i;
        double d;
    } v;
};

#define LOG_STR(k, x)  ((struct log_field){.key = (k), .type = LOG_F_STR, .v.s = (x)})
#define LOG_INT(k, x)  ((struct log_field){.key = (k), .type = LOG_F_INT, .v.i = (long long)(x)})
#define LOG_DBL(k, x)  ((struct log_field){.key = (k), .type = LOG_F_DBL, .v.d = (double)(x)})
#define LOG_BOOL(k, x) ((struct log_field){.key = (k), .type = LOG_F_BOOL, .v.i = !!(x)})
#define LOG_END        ((struct log_field){.key = 0, .type = LOG_F_END})

/* Set the component name shown on every line (a static string, borrowed). */
void log_set_component(const char *component);
/* Set the threshold; lines above it are dropped before any formatting. */
void log_set_level(enum log_level level);
/* Map a klog verbosity (--v) to a level: <=0 error, 1 warn, 2-3 info, >=4 debug. */
enum log_level log_level_from_v(int v);
/* Parse "error", "warn", "info", "debug". Returns 0 or -EINVAL. */
int log_level_parse(const char *s, enum log_level *out);
bool log_enabled(enum log_level level);
/* Redirect output to fd (default 2). For tests. */
void log_set_fd(int fd);

/* Write one line. The variadic part is struct log_field values ending with
 * LOG_END; use the log_* macros, which add LOG_END. Thread-safe. */
void log_msg(enum log_level level, const char *msg, ...);

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__, LOG_END)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__, LOG_END)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__, LOG_END)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__, LOG_END)

/* Format one line into out (at most outlen bytes, NUL-terminated, ending
 * with '\n'); returns its length. Pure; used by log_msg and the unit tests. */
int log_format(char *out, int outlen, const char *ts, enum log_level level, const char *component,
               const char *msg, const struct log_field *fields, int nfields);

#endif
