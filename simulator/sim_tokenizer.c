#include "simulator/sim_tokenizer.h"

#include "common/xalloc.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/*
 * Upstream tokenizes with the Go RE2 regex
 *   (\{|\}|:|,|-|\.|\?|\!|;|@|#|\$|%|\^|&|\*|\(|\)|\+|\-|_|~|/|\\|>|<|\[|\]|=|"|'|\w+)(\s*)
 * taken as find-all. RE2 is leftmost-first, so at any position a listed
 * punctuation character wins over \w+; only '_' is in both, which makes
 * "_x" two tokens ("_", "x") while "a_b" stays one word (\w+ started at 'a'
 * is greedy). A byte class table reproduces that without a regex engine.
 */
enum tok_class {
    TC_NONE = 0, /* matches nothing: skipped, as upstream */
    TC_PUNCT,    /* one-character token */
    TC_WORD,     /* part of a \w+ run */
    TC_SPACE,    /* RE2's \s: [\t\n\f\r ]; also skipped between tokens */
};

/* The single-character alternatives of upstream's regex, in its order. */
static const bool is_punct[128] = {
    ['{'] = true, ['}'] = true, [':'] = true, [','] = true, ['-'] = true,  ['.'] = true,
    ['?'] = true, ['!'] = true, [';'] = true, ['@'] = true, ['#'] = true,  ['$'] = true,
    ['%'] = true, ['^'] = true, ['&'] = true, ['*'] = true, ['('] = true,  [')'] = true,
    ['+'] = true, ['_'] = true, ['~'] = true, ['/'] = true, ['\\'] = true, ['>'] = true,
    ['<'] = true, ['['] = true, [']'] = true, ['='] = true, ['"'] = true,  ['\''] = true,
};

static unsigned char tok_class_of(unsigned char c)
{
    if (c >= 0x80) /* our extension: UTF-8 bytes are word characters */
        return TC_WORD;
    if (is_punct[c])
        return TC_PUNCT; /* before \w: '_' is a token of its own at a start */
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return TC_WORD;
    if (c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r')
        return TC_SPACE;
    return TC_NONE;
}

/* '_' is TC_PUNCT when a token starts on it but continues a \w+ run. */
static bool is_word_cont(unsigned char c)
{
    return c == '_' || tok_class_of(c) == TC_WORD;
}

/* Find the next token at or after *pos. Returns false at the end. Bytes that
 * start no token (whitespace, control characters, '`', '|', ...) are not
 * part of any token, exactly as with FindAllString. */
static bool next_token(const char *t, size_t len, size_t *pos, size_t *start, size_t *end)
{
    size_t i = *pos;
    unsigned char cls = TC_NONE;
    while (i < len && (cls = tok_class_of((unsigned char)t[i])) != TC_PUNCT && cls != TC_WORD)
        i++;
    if (i >= len) {
        *pos = len;
        return false;
    }
    *start = i++;
    if (cls == TC_WORD)
        while (i < len && is_word_cont((unsigned char)t[i]))
            i++;
    while (i < len && tok_class_of((unsigned char)t[i]) == TC_SPACE)
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
