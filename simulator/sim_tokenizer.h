/*
 * sim_tokenizer: upstream llm-d-inference-sim's dummy tokenizer, in C.
 *
 * A token is one punctuation character or one run of word characters, plus
 * the whitespace that follows it; its id is FNV-1a-32 of that text. Counts
 * match upstream for ASCII text ("This is a test." is 5 tokens). Unlike
 * upstream, bytes >= 0x80 (UTF-8) count as word characters, so non-ASCII
 * text is kept instead of vanishing. Pure functions; thread-safe.
 */
#ifndef PDSIM_SIM_TOKENIZER_H
#define PDSIM_SIM_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

struct sim_tok {
    uint32_t off; /* byte offset of the token text in the tokenized string */
    uint32_t len; /* byte length, trailing whitespace included */
    uint32_t id;  /* FNV-1a-32 of the token text */
};

struct sim_toklist {
    struct sim_tok *v; /* owned; free with sim_toklist_release */
    size_t n;
    size_t alloc;
};

void sim_toklist_init(struct sim_toklist *l);
void sim_toklist_release(struct sim_toklist *l);
/* Append one token whose text is text[off..off+len); its id is computed. */
void sim_toklist_push(struct sim_toklist *l, const char *text, size_t off, size_t len);

/* Append the tokens of text[0..len) to out; offsets are relative to text.
 * Text that produces no token (only whitespace) appends nothing. */
void sim_tokenize(const char *text, size_t len, struct sim_toklist *out);

/* Number of tokens in text[0..len), without allocating. */
size_t sim_token_count(const char *text, size_t len);

/* FNV-1a-32 of bytes. */
uint32_t sim_fnv1a32(const void *p, size_t n);

#endif
