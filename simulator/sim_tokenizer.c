#include "simulator/sim_tokenizer.h"

#include "common/xalloc.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* The single-character alternatives of upstream's regex, in its order. */
static const char punct[] = "{}:,-.?!;@#$%^&*()+_~/\\><[]=\"'";

/* RE2's \w (ASCII) plus, unlike upstream, every byte of a UTF-8 sequence. */
static bool is_word(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c >= 0x80;
}

/* RE2's \s: [\t\n\f\r ]. */
static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

/* Find the next token at or after *pos; returns false at the end. Leftmost-
 * first like RE2: a punctuation character (including '_') wins over \w+, so
 * "_x" is "_" then "x", while "a_b" is one word. Unmatched bytes are skipped. */
static bool next_token(const char *t, size_t len, size_t *pos, size_t *start, size_t *end)
{
    size_t i = *pos;
    bool found = false;
    while (i < len && !found) {
        unsigned char c = (unsigned char)t[i];
        if (c != '\0' && strchr(punct, c)) {
            *start = i++;
            found = true;
        } else if (is_word(c)) {
            *start = i;
            while (i < len && is_word((unsigned char)t[i]))
                i++;
            found = true;
        } else {
            i++;
        }
    }
    if (!found) {
        *pos = len;
        return false;
    }
    while (i < len && is_space((unsigned char)t[i]))
        i++;
    *end = i;
    *pos = i;
    return true;
}

void sim_toklist_init(struct sim_toklist *l)
{
    memset(l, 0, sizeof(*l));
}

void sim_toklist_release(struct sim_toklist *l)
{
    if (!l)
        return;
    free(l->v);
    memset(l, 0, sizeof(*l));
}

uint32_t sim_fnv1a32(const void *p, size_t n)
{
    const unsigned char *c = p;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= c[i];
        h *= 16777619u;
    }
    return h;
}

void sim_toklist_push(struct sim_toklist *l, const char *text, size_t off, size_t len)
{
    if (l->n == l->alloc) {
        l->alloc = l->alloc ? l->alloc * 2 : 32;
        l->v = xrealloc(l->v, l->alloc * sizeof(*l->v));
    }
    l->v[l->n++] = (struct sim_tok){(uint32_t)off, (uint32_t)len, sim_fnv1a32(text + off, len)};
}

void sim_tokenize(const char *text, size_t len, struct sim_toklist *out)
{
    size_t pos = 0, s = 0, e = 0;
    while (next_token(text, len, &pos, &s, &e))
        sim_toklist_push(out, text, s, e - s);
}

size_t sim_token_count(const char *text, size_t len)
{
    size_t pos = 0, s = 0, e = 0, n = 0;
    while (next_token(text, len, &pos, &s, &e))
        n++;
    return n;
}
