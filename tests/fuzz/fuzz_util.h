/*
 * fuzz_util: what the libFuzzer targets of tests/fuzz share: the entry
 * points' prototypes, an argv split from the input, and input cut into
 * pieces for the streaming decoders. Test code only; not thread-safe.
 */
#ifndef PDSIM_FUZZ_UTIL_H
#define PDSIM_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* libFuzzer's entry points (declared here for -Wmissing-prototypes). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

struct fuzz_argv {
    int argc;
    char **argv; /* argv[0] is the program name; argv[argc] is NULL */
    char *text;  /* owned: the input with NUL separators */
};

/* Split data on NUL and newline into arguments after argv0 (empty pieces are
 * kept, as a shell passes ""). Free with fuzz_argv_release. */
void fuzz_argv_split(struct fuzz_argv *a, const char *argv0, const uint8_t *data, size_t size);
void fuzz_argv_release(struct fuzz_argv *a);

/* True when an argument names one of the flags (one or two dashes, with or
 * without "=value"): the targets refuse flags that would read files. */
int fuzz_argv_has_flag(const struct fuzz_argv *a, const char *const *names);

/* Piece sizes for feeding size bytes in random-sized pieces, drawn from a
 * PRNG seeded with a hash of the data, so a given input always splits the
 * same way. fuzz_piece returns the next piece's length (1..left). */
struct fuzz_pieces {
    uint64_t state;
};
void fuzz_pieces_init(struct fuzz_pieces *p, const uint8_t *data, size_t size);
size_t fuzz_piece(struct fuzz_pieces *p, size_t left);

#endif
