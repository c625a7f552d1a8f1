#include "simulator/sim_hooks.h"

#include "simulator/sim_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sim_hooks_request_id(const char *hdr, char *out, size_t outlen, char *err, size_t errlen)
{
    size_t len = strlen(hdr);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)hdr[i];
        if (ch < 0x20 || ch > 0x7e || ch == '"' || ch == '\\') {
            snprintf(err, errlen,
                     "X-Request-Id must be printable ASCII without quotes or backslashes");
            return 400;
        }
    }
    if (len >= outlen) {
        snprintf(err, errlen, "X-Request-Id is longer than %zu characters", outlen - 1);
        return 400;
    }
    memcpy(out, hdr, len + 1);
    return 0;
}

int sim_hooks_return_error(const char *hdr, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    long code = strtol(hdr, &end, 10);
    if (errno || end == hdr || *end) {
        snprintf(err, errlen, "X-Return-Error: \"%.60s\" is not an integer status code", hdr);
        return 400;
    }
    if (code < 400 || code > 599) {
        snprintf(err, errlen, "X-Return-Error: %ld is not an HTTP error status (400-599)", code);
        return 400;
    }
    snprintf(err, errlen, "Simulated error triggered by X-Return-Error header (code %ld)", code);
    return (int)code;
}

/* Upstream's canned error of one failure type. */
static int canned(int type, const char *model, char *err, size_t errlen, const char **param)
{
    switch (type) {
    case SIM_FAIL_RATE_LIMIT:
        snprintf(err, errlen,
                 "Rate limit reached for %s in organization org-xxx on requests per min "
                 "(RPM): Limit 3, Used 3, Requested 1.",
                 model);
        return 429;
    case SIM_FAIL_INVALID_API_KEY:
        snprintf(err, errlen, "Incorrect API key provided.");
        return 401;
    case SIM_FAIL_CONTEXT_LENGTH:
        snprintf(err, errlen,
                 "This model's maximum context length is 4096 tokens. However, your "
                 "messages resulted in 4500 tokens.");
        *param = "messages";
        return 400;
    case SIM_FAIL_SERVER_ERROR:
        snprintf(err, errlen, "The server is overloaded or not ready yet.");
        return 503;
    case SIM_FAIL_INVALID_REQUEST:
        snprintf(err, errlen, "Invalid request: missing required parameter 'model'.");
        *param = "model";
        return 400;
    default:
        snprintf(err, errlen, "The model '%s-nonexistent' does not exist", model);
        *param = "model";
        return 404;
    }
}

int sim_hooks_failure(struct sim_rng *r, long rate, unsigned types, const char *model, char *err,
                      size_t errlen, const char **param)
{
    *param = NULL;
    if (rate <= 0 || sim_rng_range(r, 1, 100) > rate)
        return 0;
    int allowed[SIM_FAIL_N], n = 0;
    for (int k = 0; k < SIM_FAIL_N; k++)
        if (types & (1u << k))
            allowed[n++] = k;
    if (n == 0)
        return 0;
    return canned(allowed[sim_rng_range(r, 0, n - 1)], model, err, errlen, param);
}
