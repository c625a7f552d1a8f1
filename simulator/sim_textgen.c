#include "simulator/sim_textgen.h"

#include "common/buf.h"
#include "common/xalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Upstream's completionFakeResponses (pkg/dataset/dataset.go at HEAD), in its
 * order. Each ends in a space, so concatenating token strings never merges
 * two sentences into one token. Sentence 0 holds two backslashes: upstream
 * writes it as a Go raw string, where `\\` is two characters. */
const char *const sim_textgen_sentences[] = {
    "Testing@, #testing 1$ ,2%,3^, [4&*5], 6~, 7-_ + (8 : 9) / \\\\ < > . ",
    "Testing, testing 1,2,3. ",
    "I am fine, how are you today? ",
    "I am your AI assistant, how can I help you today? ",
    "Today is a nice sunny day. ",
    "The temperature here is twenty-five degrees centigrade. ",
    "Today it is partially cloudy and raining. ",
    "To be or not to be that is the question. ",
    "Alas, poor Yorick! I knew him, Horatio: A fellow of infinite jest ",
    "The rest is silence. ",
    "Give a man a fish and you feed him for a day; teach a man to fish and you feed him for a "
    "lifetime ",
    NULL,
};

#define NSENTENCES 11

/* Upstream's response-length histogram (pkg/dataset/histogram_helper.go):
 * five buckets over [1, M-1], then a last one (15%) that is exactly M. */
static const double bucket_prob[] = {0.2, 0.3, 0.2, 0.05, 0.1, 0.15};
#define NBUCKETS     6
#define FIXED_BUCKET 20 /* maxFixedBucketSize */
#define FLEX_BUCKET  3  /* flexBucketIndex */
#define LEN_MEAN     40 /* responseLenMean */
#define LEN_STDDEV   20 /* responseLenStddev */

const char *sim_finish_name(enum sim_finish f)
{
    switch (f) {
    case SIM_FINISH_STOP:
        return "stop";
    case SIM_FINISH_LENGTH:
        return "length";
    case SIM_FINISH_REMOTE_DECODE:
        return "remote_decode";
    case SIM_FINISH_TOOL_CALLS:
        return "tool_calls";
    case SIM_FINISH_CACHE_THRESHOLD:
        return "cache_threshold";
    }
    return "stop";
}

void sim_gen_init(struct sim_gen *g)
{
    memset(g, 0, sizeof(*g));
}

void sim_gen_release(struct sim_gen *g)
{
    if (!g)
        return;
    free(g->text);
    sim_toklist_release(&g->toks);
    memset(g, 0, sizeof(*g));
}

void sim_textgen_echo(const char *text, size_t len, long max_tokens, struct sim_gen *out)
{
    out->text = xstrndup(text, len);
    out->text_len = len;
    sim_tokenize(out->text, len, &out->toks);
    out->finish =
        max_tokens >= 0 && (long)out->toks.n >= max_tokens ? SIM_FINISH_LENGTH : SIM_FINISH_STOP;
}

/* calcBucketBoundaries with minTokens = 1: equal buckets up to M = 101,
 * else 20-wide buckets with bucket 3 stretched over the middle. */
static void bucket_bounds(long m, int idx, long *start, long *end)
{
    if (m <= FIXED_BUCKET * (NBUCKETS - 1) + 1) {
        double size = (double)(m - 1) / (double)(NBUCKETS - 1);
        *start = (long)(size * idx) + 1;
        *end = (long)(size * (idx + 1));
    } else if (idx < FLEX_BUCKET) {
        *start = FIXED_BUCKET * idx + 1;
        *end = FIXED_BUCKET * (idx + 1);
    } else {
        long flex = m - FIXED_BUCKET * (NBUCKETS - 2);
        if (idx == FLEX_BUCKET) {
            *start = FIXED_BUCKET * idx + 1;
            *end = FIXED_BUCKET * idx + flex;
        } else {
            *start = FIXED_BUCKET * (idx - 1) + flex + 1;
            *end = FIXED_BUCKET * idx + flex;
        }
    }
    if (*end >= m) /* rounding can reach M, which is the last bucket's */
        *end = m - 1;
}

/* getResponseLengthByHistogram. The cumulative probabilities are summed in
 * the same order as upstream so the bucket edges are the same doubles. */
static long length_by_histogram(struct sim_rng *r, long m)
{
    if (m <= 1)
        return m;
    if (m <= NBUCKETS)
        return (long)sim_rng_range(r, 1, m);
    double cum[NBUCKETS], sum = 0.0;
    for (int i = 0; i < NBUCKETS; i++) {
        sum += bucket_prob[i];
        cum[i] = sum;
    }
    double x = sim_rng_double(r);
    if (x > cum[NBUCKETS - 2])
        return m;
    int idx = NBUCKETS - 1;
    for (int i = 0; i < NBUCKETS; i++) {
        if (x <= cum[i]) {
            idx = i;
            break;
        }
    }
    long start, end;
    bucket_bounds(m, idx, &start, &end);
    return (long)sim_rng_range(r, start, end);
}

/* getRandomResponseLen with minLen = 1: uniform below mean - stddev, else a
 * Normal(40, 20) draw, rejected unless within [1, bound] before rounding. */
static long length_without_max(struct sim_rng *r, long bound)
{
    if (bound <= 1)
        return bound;
    if (bound < LEN_MEAN - LEN_STDDEV)
        return (long)sim_rng_range(r, 1, bound);
    for (;;) {
        double v = LEN_MEAN + LEN_STDDEV * sim_rng_normal(r);
        if (v >= 1.0 && v <= (double)bound)
            return (long)round(v);
    }
}

long sim_textgen_random_length(struct sim_rng *r, long max_tokens, bool ignore_eos,
                               long max_model_len, long prompt_tokens, bool *is_max)
{
    long room = max_model_len - prompt_tokens;
    long bound = max_tokens;
    long k;
    /* As upstream's calculateResponseMaxLen: max_tokens never exceeds the room
     * left in the context window (the request layer normally rejects that). */
    if (max_tokens < 0 || (max_model_len > 0 && room < max_tokens))
        bound = room;
    if (bound < 1) {
        *is_max = true;
        return 0;
    }
    if (ignore_eos) /* upstream: the bound, even without max_tokens */
        k = bound;
    else if (max_tokens >= 0)
        k = length_by_histogram(r, bound);
    else
        k = length_without_max(r, bound);
    *is_max = k == bound;
    return k;
}

/* generatePresetRandomTokens: whole random sentences, already tokenized,
 * appended token by token; the last one is cut so exactly k tokens remain. */
void sim_textgen_random(struct sim_rng *r, long k, struct sim_gen *out)
{
    struct buf text;
    struct sim_toklist st;
    buf_init(&text, BUF_NOCAP);
    buf_reserve(&text, (size_t)k * 6 + 16);
    sim_toklist_init(&st);
    while ((long)out->toks.n < k) {
        const char *s = sim_textgen_sentences[sim_rng_range(r, 0, NSENTENCES - 1)];
        st.n = 0;
        sim_tokenize(s, strlen(s), &st);
        for (size_t i = 0; i < st.n && (long)out->toks.n < k; i++) {
            size_t off = text.len;
            int rc = buf_append(&text, s + st.v[i].off, st.v[i].len);
            (void)rc; /* BUF_NOCAP: cannot fail */
            sim_toklist_push(&out->toks, text.data, off, st.v[i].len);
        }
    }
    sim_toklist_release(&st);
    out->text = buf_take(&text, &out->text_len);
}
