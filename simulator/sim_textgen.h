/*
 * sim_textgen: the response text of one choice, as upstream builds it.
 *
 * Echo mode returns the prompt's tokens; random mode picks a length from
 * upstream's histogram (or a clamped normal without max_tokens) and fills it
 * with tokens of the built-in sentences. The output is a string plus the
 * token boundaries in it, so streaming can send one token per event.
 * Pure given the rng; thread-safe with one rng per caller.
 */
#ifndef PDSIM_SIM_TEXTGEN_H
#define PDSIM_SIM_TEXTGEN_H

#include "simulator/sim_rng.h"
#include "simulator/sim_tokenizer.h"

#include <stdbool.h>
#include <stddef.h>

enum sim_finish {
    SIM_FINISH_STOP,
    SIM_FINISH_LENGTH,
    SIM_FINISH_REMOTE_DECODE,
    SIM_FINISH_TOOL_CALLS,
    SIM_FINISH_CACHE_THRESHOLD,
};

/* "stop", "length", "remote_decode", "tool_calls", "cache_threshold". */
const char *sim_finish_name(enum sim_finish f);

struct sim_gen {
    char *text; /* owned, NUL-terminated: all tokens concatenated */
    size_t text_len;
    struct sim_toklist toks; /* token boundaries into text */
    enum sim_finish finish;
};

void sim_gen_init(struct sim_gen *g);
void sim_gen_release(struct sim_gen *g);

/* Echo: the tokens of text[0..len). max_tokens < 0 means "not set"; it never
 * truncates (as upstream) but gives finish "length" when count >= max_tokens. */
void sim_textgen_echo(const char *text, size_t len, long max_tokens, struct sim_gen *out);

/* Random mode's target length (upstream's histogram, see the .c file).
 * The bound is max_tokens, capped (when max_model_len > 0) at the room left,
 * max_model_len - prompt_tokens, as upstream; max_tokens < 0 means not set,
 * and then the room bounds a Normal(40, 20) draw. ignore_eos gives the bound.
 * *is_max is set when the length equals the bound (finish "length").
 * Returns >= 1 when the bound is >= 1; 0 otherwise. */
long sim_textgen_random_length(struct sim_rng *r, long max_tokens, bool ignore_eos,
                               long max_model_len, long prompt_tokens, bool *is_max);

/* Random: exactly k tokens drawn from the built-in sentences. */
void sim_textgen_random(struct sim_rng *r, long k, struct sim_gen *out);

/* The built-in sentence list (NULL-terminated), exposed for tests. */
extern const char *const sim_textgen_sentences[];

#endif
