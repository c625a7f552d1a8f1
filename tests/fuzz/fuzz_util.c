#include "fuzz_util.h"

#include <stdlib.h>
#include <string.h>

void fuzz_argv_split(struct fuzz_argv *a, const char *argv0, const uint8_t *data, size_t size)
{
    a->text = malloc(size + 1);
    if (size)
        memcpy(a->text, data, size);
    a->text[size] = '\0';
    size_t n = 2; /* argv0, and the last piece */
    for (size_t i = 0; i < size; i++)
        n += data[i] == '\0' || data[i] == '\n';
    a->argv = calloc(n + 1, sizeof(char *));
    a->argv[0] = (char *)argv0;
    a->argc = 1;
    if (size == 0)
        return;
    char *start = a->text;
    for (size_t i = 0; i <= size; i++) {
        if (i == size || a->text[i] == '\0' || a->text[i] == '\n') {
            a->text[i] = '\0';
            a->argv[a->argc++] = start;
            start = a->text + i + 1;
        }
    }
    a->argv[a->argc] = NULL;
}

void fuzz_argv_release(struct fuzz_argv *a)
{
    free(a->argv);
    free(a->text);
    memset(a, 0, sizeof(*a));
}

int fuzz_argv_has_flag(const struct fuzz_argv *a, const char *const *names)
{
    for (int i = 1; i < a->argc; i++) {
        const char *s = a->argv[i];
        if (s[0] != '-')
            continue;
        s += s[1] == '-' ? 2 : 1;
        size_t len = strcspn(s, "=");
        for (size_t k = 0; names[k]; k++)
            if (strlen(names[k]) == len && memcmp(s, names[k], len) == 0)
                return 1;
    }
    return 0;
}

void fuzz_pieces_init(struct fuzz_pieces *p, const uint8_t *data, size_t size)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a-64 */
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 1099511628211ULL;
    p->state = h;
}

size_t fuzz_piece(struct fuzz_pieces *p, size_t left)
{
    /* splitmix64; mostly short pieces, sometimes long ones */
    uint64_t z = (p->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    size_t max = (z & 3) == 0 ? 256 : 8;
    size_t n = 1 + (size_t)((z >> 8) % max);
    return n < left ? n : left;
}
