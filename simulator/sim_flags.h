/*
 * sim_flags: pdsim-simulator's flag table (names, types, ranges, defaults,
 * help) and the parsing of one value, shared by sim_config.c (flags, env,
 * YAML) and sim_config_runtime.c (POST /admin/config, GET /admin/config).
 * Internal to the simulator; not a public API. Pure; thread-safe.
 */
#ifndef PDSIM_SIM_FLAGS_H
#define PDSIM_SIM_FLAGS_H

#include "simulator/sim_config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ftype {
    F_INT,
    F_STR,
    F_LIST,
    F_DUR,
    F_FLOAT,
    F_MODE,
    F_CALC,
    F_SEED,
    F_IGNORED,
    F_CONFIG,
    F_BOOL,     /* --flag alone is true; --flag=false works (unlike upstream) */
    F_FAILURES, /* a list of failure type names */
    F_NOBOOL,   /* --no-X: sets the bool X to false */
    F_LORAS,    /* a list of LoRA module specs */
    F_FAKE,     /* a JSON object (or, in YAML, a mapping): struct sim_fake */
};

struct flagdef {
    const char *name;
    enum ftype type;
    size_t off;
    long min, max;   /* F_INT range */
    const char *def; /* default as shown in --help */
    const char *help;
};

/* Every flag, in --help order. */
extern const struct flagdef sim_flags[];
extern const size_t sim_nflags;

/* The flag called name (without "--"), or NULL. */
const struct flagdef *sim_flag_find(const char *name);
/* name is an upstream flag pdsim-simulator rejects by name (not implemented). */
bool sim_flag_unsupported(const char *name);
/* Parse val into the field of c that f describes; where names the source in
 * errors ("flag --port"). Lists are not handled here. Returns 0 or -EINVAL
 * with err set. */
int sim_flag_apply_scalar(struct sim_config *c, const struct flagdef *f, const char *val,
                          const char *where, char *err, size_t errlen);
/* A fake-metrics object (from YAML, or parsed JSON text) into c->fake_metrics,
 * replacing any. Returns 0 or -EINVAL with err set. */
int sim_flag_apply_fake(struct sim_config *c, const struct cJSON *obj, const char *where, char *err,
                        size_t errlen);
/* Failure type names (each value may also be comma-separated) as a mask.
 * Returns 0 or -EINVAL with err set. */
int sim_flag_parse_failures(char **vals, size_t n, unsigned *mask, const char *where, char *err,
                            size_t errlen);
/* std-dev at most 0.3x mean, as upstream. Returns 0 or -EINVAL naming --NAME-std-dev. */
int sim_flag_check_sd(const char *name, int64_t mean, int64_t sd, char *err, size_t errlen);

#endif
