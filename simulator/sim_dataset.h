/*
 * sim_dataset: upstream's response dataset (--dataset-path): an SQLite
 * table of recorded responses, each keyed by the SHA-256 of its prompt's
 * token ids (uint32 little-endian), so random mode can answer a known prompt
 * with its recorded text and any other prompt with a random record.
 *
 * Opening validates the file and the table schema (id INTEGER, prompt_hash
 * BLOB, gen_tokens JSON, n_gen_tokens INTEGER); --dataset-in-memory copies it
 * into memory and indexes it. Lookups are thread-safe (one connection behind
 * a mutex). It never downloads: --dataset-url is refused when the file is
 * missing.
 */
#ifndef PDSIM_SIM_DATASET_H
#define PDSIM_SIM_DATASET_H

#include "simulator/sim_request.h"
#include "simulator/sim_rng.h"
#include "simulator/sim_textgen.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sim_dataset;

struct sim_dataset_opts {
    const char *path;  /* --dataset-path */
    const char *url;   /* --dataset-url, or NULL/"" */
    const char *table; /* --dataset-table-name: a plain SQL name (checked by sim_config) */
    bool in_memory;    /* --dataset-in-memory */
};

/* Open and validate. Returns 0 with *out (free with sim_dataset_free), or
 * -1 with one line in err naming the flag ("--dataset-path x.db: table
 * \"llmd\": column gen_tokens has type TEXT, expected JSON"). */
int sim_dataset_open(const struct sim_dataset_opts *o, struct sim_dataset **out, char *err,
                     size_t errlen);
void sim_dataset_free(struct sim_dataset *d);
/* Records in the table. */
long sim_dataset_records(const struct sim_dataset *d);

/* SHA-256 of the ids as uint32 little-endian: a record's prompt_hash. */
void sim_dataset_hash(const uint32_t *ids, size_t n, unsigned char out[32]);

/* The response for a prompt, as upstream picks it. The bound is max_tokens
 * (< 0: not set) capped at the room left in the context window
 * (max_model_len - the prompt's tokens). The prompt's records, if any: one
 * no longer than the bound, else one cut to it (with ignore_eos: one of
 * exactly the bound, else one cut, else one padded with built-in sentences).
 * Otherwise a random record no longer than the bound (exactly the bound with
 * ignore_eos), else any record, cut to the bound (padded with ignore_eos).
 * finish is "length" when the response reaches the bound, else "stop".
 * Random choices come from r. Thread-safe. Returns 0 with out filled, or -1
 * (a bad record or an SQLite error, logged) with out untouched: the caller
 * falls back to the built-in sentences. */
int sim_dataset_generate(struct sim_dataset *d, struct sim_rng *r, const struct sim_prompt *p,
                         long max_tokens, bool ignore_eos, long max_model_len, struct sim_gen *out);

#endif
