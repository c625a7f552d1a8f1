/*
 * sim_hooks: upstream's test hooks on chat and completions requests, as pure
 * functions of a header value or a draw: the client's X-Request-Id,
 * X-Return-Error and failure injection with upstream's canned errors.
 * sim_generate.c applies them in upstream's order. Pure; thread-safe.
 */
#ifndef PDSIM_SIM_HOOKS_H
#define PDSIM_SIM_HOOKS_H

#include "simulator/sim_rng.h"

#include <stddef.h>

/* Check a client's X-Request-Id (non-empty) and copy it into out. Returns 0,
 * or 400 with err set when it is not printable ASCII without quotes and
 * backslashes, or does not fit in out. */
int sim_hooks_request_id(const char *hdr, char *out, size_t outlen, char *err, size_t errlen);

/* X-Return-Error: CODE. Returns CODE (400..599) with upstream's message in
 * err, or 400 when the value is not an integer error status. */
int sim_hooks_return_error(const char *hdr, char *err, size_t errlen);

/* Failure injection: with rate percent (0..100) drawn from r, one of the
 * types in the mask (bit 1 << enum sim_failure, non-zero) also drawn from r.
 * Returns 0 (no failure) or the canned error's status with err and *param
 * (a static string or NULL) set. model is the requested model. */
int sim_hooks_failure(struct sim_rng *r, long rate, unsigned types, const char *model, char *err,
                      size_t errlen, const char **param);

#endif
