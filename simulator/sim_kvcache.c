#include "simulator/sim_kvcache.h"

#include "common/xalloc.h"
#include "simulator/sim_blockhash.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* A model's blocks: keys are (hash, model) as upstream's blockKey, and each
 * model keeps its own list of unused blocks so that eviction finds the
 * oldest block of an unloaded adapter without scanning every block. */
struct kvmodel {
    char *name;
    bool loaded;
    long lora_id;
    struct sim_kvblock *head, *tail; /* its unused blocks, least recently released first */
    struct kvmodel *next;
};

struct sim_kvblock {
    uint64_t hash;
    struct kvmodel *model;
    long ref;                 /* requests holding it; 0: unused */
    unsigned long long stamp; /* when it became unused */
    struct sim_kvblock *bucket_next;
    struct sim_kvblock *prev, *next;   /* the global unused list */
    struct sim_kvblock *mprev, *mnext; /* the model's unused list */
    uint32_t tokens[];
};

struct sim_kvcache {
    pthread_mutex_t mu;
    long capacity, block_size;
    char *seed;
    sim_kvevent_fn on_event;
    void *event_arg;
    struct kvmodel *models;
    long lora_ids;
    struct sim_kvblock **buckets;
    size_t nbuckets, nblocks;
    long used;
    struct sim_kvblock *head, *tail; /* every unused block, least recently released first */
    unsigned long long clock;
    unsigned long epoch;
    bool disabled;
};

struct sim_kvcache *sim_kvcache_new(const struct sim_kvcache_opts *o)
{
    struct sim_kvcache *c = xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->mu, NULL);
    c->capacity = o->capacity;
    c->block_size = o->block_size > 0 ? o->block_size : 16;
    c->seed = xstrdup(o->hash_seed ? o->hash_seed : "");
    c->on_event = o->on_event;
    c->event_arg = o->event_arg;
    c->nbuckets = 64;
    c->buckets = xcalloc(c->nbuckets, sizeof(*c->buckets));
    return c;
}

static void free_blocks(struct sim_kvcache *c)
{
    for (size_t i = 0; i < c->nbuckets; i++) {
        for (struct sim_kvblock *b = c->buckets[i], *next; b; b = next) {
            next = b->bucket_next;
            free(b);
        }
        c->buckets[i] = NULL;
    }
    for (struct kvmodel *m = c->models; m; m = m->next)
        m->head = m->tail = NULL;
    c->head = c->tail = NULL;
    c->nblocks = 0;
    c->used = 0;
}

void sim_kvcache_free(struct sim_kvcache *c)
{
    if (!c)
        return;
    free_blocks(c);
    free(c->buckets);
    for (struct kvmodel *m = c->models, *next; m; m = next) {
        next = m->next;
        free(m->name);
        free(m);
    }
    free(c->seed);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

long sim_kvcache_block_size(const struct sim_kvcache *c)
{
    return c->block_size;
}

size_t sim_kvcache_keys(const struct sim_kvcache *c, const char *model, const uint32_t *tokens,
                        size_t ntokens, uint64_t *out)
{
    return sim_blockhash_chain(sim_blockhash_root(c->seed, model), tokens, ntokens,
                               (size_t)c->block_size, out);
}

/* The entry of name, made (not loaded) when new. Caller holds the lock. */
static struct kvmodel *model_get(struct sim_kvcache *c, const char *name)
{
    for (struct kvmodel *m = c->models; m; m = m->next)
        if (strcmp(m->name, name) == 0)
            return m;
    struct kvmodel *m = xcalloc(1, sizeof(*m));
    m->name = xstrdup(name);
    m->next = c->models;
    c->models = m;
    return m;
}

void sim_kvcache_set_loaded(struct sim_kvcache *c, const char *model, bool loaded, bool lora)
{
    pthread_mutex_lock(&c->mu);
    struct kvmodel *m = model_get(c, model);
    m->loaded = loaded;
    if (lora && m->lora_id == 0)
        m->lora_id = ++c->lora_ids;
    pthread_mutex_unlock(&c->mu);
}

static size_t bucket_of(const struct sim_kvcache *c, uint64_t hash)
{
    return (size_t)(hash ^ (hash >> 32)) & (c->nbuckets - 1);
}

static struct sim_kvblock *find(const struct sim_kvcache *c, const struct kvmodel *m, uint64_t hash)
{
    for (struct sim_kvblock *b = c->buckets[bucket_of(c, hash)]; b; b = b->bucket_next)
        if (b->hash == hash && b->model == m)
            return b;
    return NULL;
}

static void grow(struct sim_kvcache *c)
{
    size_t n = c->nbuckets * 2;
    struct sim_kvblock **old = c->buckets;
    size_t oldn = c->nbuckets;
    c->buckets = xcalloc(n, sizeof(*c->buckets));
    c->nbuckets = n;
    for (size_t i = 0; i < oldn; i++) {
        for (struct sim_kvblock *b = old[i], *next; b; b = next) {
            next = b->bucket_next;
            size_t k = bucket_of(c, b->hash);
            b->bucket_next = c->buckets[k];
            c->buckets[k] = b;
        }
    }
    free(old);
}

static void unlink_bucket(struct sim_kvcache *c, struct sim_kvblock *b)
{
    struct sim_kvblock **p = &c->buckets[bucket_of(c, b->hash)];
    while (*p != b)
        p = &(*p)->bucket_next;
    *p = b->bucket_next;
    c->nblocks--;
}

/* Append b (now unused) to both unused lists. */
static void lru_push(struct sim_kvcache *c, struct sim_kvblock *b)
{
    struct kvmodel *m = b->model;
    b->stamp = ++c->clock;
    b->next = NULL;
    b->prev = c->tail;
    if (c->tail)
        c->tail->next = b;
    else
        c->head = b;
    c->tail = b;
    b->mnext = NULL;
    b->mprev = m->tail;
    if (m->tail)
        m->tail->mnext = b;
    else
        m->head = b;
    m->tail = b;
}

static void lru_remove(struct sim_kvcache *c, struct sim_kvblock *b)
{
    struct kvmodel *m = b->model;
    if (b->prev)
        b->prev->next = b->next;
    else
        c->head = b->next;
    if (b->next)
        b->next->prev = b->prev;
    else
        c->tail = b->prev;
    if (b->mprev)
        b->mprev->mnext = b->mnext;
    else
        m->head = b->mnext;
    if (b->mnext)
        b->mnext->mprev = b->mprev;
    else
        m->tail = b->mprev;
    b->prev = b->next = b->mprev = b->mnext = NULL;
}

static void emit(struct sim_kvcache *c, const struct sim_kvevent *ev)
{
    if (c->on_event)
        c->on_event(c->event_arg, ev);
}

/* Evict one unused block: the least recently released one of a model that is
 * not loaded, else the least recently released of all. Caller holds the lock
 * and knows there is an unused block. */
static void evict_one(struct sim_kvcache *c)
{
    struct sim_kvblock *victim = NULL;
    for (struct kvmodel *m = c->models; m; m = m->next)
        if (!m->loaded && m->head && (!victim || m->head->stamp < victim->stamp))
            victim = m->head;
    if (!victim)
        victim = c->head;
    assert(victim && victim->ref == 0);
    lru_remove(c, victim);
    unlink_bucket(c, victim);
    struct sim_kvevent ev = {.type = SIM_KVEV_REMOVED, .hashes = &victim->hash, .nhashes = 1};
    emit(c, &ev);
    free(victim);
}

static struct sim_kvblock *store(struct sim_kvcache *c, struct kvmodel *m, uint64_t hash,
                                 const uint32_t *tokens)
{
    if ((long)c->nblocks >= c->capacity)
        evict_one(c);
    if (c->nblocks + 1 > c->nbuckets)
        grow(c);
    size_t bs = (size_t)c->block_size;
    struct sim_kvblock *b = xcalloc(1, sizeof(*b) + bs * sizeof(uint32_t));
    b->hash = hash;
    b->model = m;
    b->ref = 1;
    memcpy(b->tokens, tokens, bs * sizeof(uint32_t));
    size_t k = bucket_of(c, hash);
    b->bucket_next = c->buckets[k];
    c->buckets[k] = b;
    c->nblocks++;
    c->used++;
    return b;
}

/* Store the blocks acquire found missing (out->blocks[i] NULL), in prompt
 * order, and announce them in one BlockStored event whose parent is the last
 * present block, as upstream. */
static void store_new(struct sim_kvcache *c, struct kvmodel *m, const uint64_t *hashes,
                      const uint32_t *tokens, size_t n, long last_found, struct sim_kvalloc *out)
{
    size_t bs = (size_t)c->block_size, k = 0;
    uint64_t *h = xmalloc(n * sizeof(*h));
    uint32_t *t = xmalloc(n * bs * sizeof(*t));
    for (size_t i = 0; i < n; i++) {
        if (out->blocks[i])
            continue;
        struct sim_kvblock *b = find(c, m, hashes[i]); /* a key twice in one prompt */
        if (b) {
            b->ref++;
        } else {
            b = store(c, m, hashes[i], tokens + i * bs);
            memcpy(t + k * bs, b->tokens, bs * sizeof(*t));
            h[k++] = hashes[i];
        }
        out->blocks[i] = b;
    }
    if (k) {
        struct sim_kvevent ev = {.type = SIM_KVEV_STORED,
                                 .hashes = h,
                                 .nhashes = k,
                                 .has_parent = last_found >= 0,
                                 .parent = last_found >= 0 ? hashes[last_found] : 0,
                                 .tokens = t,
                                 .ntokens = k * bs,
                                 .lora_name = m->lora_id > 0 ? m->name : NULL,
                                 .lora_id = m->lora_id};
        emit(c, &ev);
    }
    free(h);
    free(t);
}

int sim_kvcache_acquire(struct sim_kvcache *c, const char *model, const uint64_t *hashes,
                        const uint32_t *tokens, size_t nblocks, struct sim_kvalloc *out,
                        size_t *cached)
{
    memset(out, 0, sizeof(*out));
    *cached = 0;
    pthread_mutex_lock(&c->mu);
    if (c->disabled) {
        pthread_mutex_unlock(&c->mu);
        return 0;
    }
    struct kvmodel *m = model_get(c, model);
    /* First count, changing nothing, so a refused request leaves no trace. */
    size_t found = 0, revived = 0;
    long last_found = -1;
    for (size_t i = 0; i < nblocks; i++) {
        struct sim_kvblock *b = find(c, m, hashes[i]);
        if (b) {
            found++;
            revived += b->ref == 0;
            last_found = (long)i;
        }
    }
    if (c->used + (long)(nblocks - found) + (long)revived > c->capacity) {
        pthread_mutex_unlock(&c->mu);
        return -ENOSPC;
    }
    out->blocks = xcalloc(nblocks ? nblocks : 1, sizeof(*out->blocks));
    out->n = nblocks;
    out->epoch = c->epoch;
    /* The present blocks become used before any eviction, so none of them is
     * evicted to make room for the new ones. */
    for (size_t i = 0; i < nblocks; i++) {
        struct sim_kvblock *b = find(c, m, hashes[i]);
        if (!b)
            continue;
        if (b->ref++ == 0) {
            lru_remove(c, b);
            c->used++;
        }
        out->blocks[i] = b;
    }
    if (found < nblocks)
        store_new(c, m, hashes, tokens, nblocks, last_found, out);
    *cached = found;
    pthread_mutex_unlock(&c->mu);
    return 0;
}

void sim_kvcache_release(struct sim_kvcache *c, struct sim_kvalloc *a)
{
    if (!a->blocks)
        return;
    pthread_mutex_lock(&c->mu);
    if (a->epoch == c->epoch) {
        /* The tail first: it becomes the older unused block, so a prompt's
         * end is evicted before its start, as vLLM frees blocks. */
        for (size_t i = a->n; i-- > 0;) {
            struct sim_kvblock *b = a->blocks[i];
            if (b && --b->ref == 0) {
                c->used--;
                lru_push(c, b);
            }
        }
    }
    pthread_mutex_unlock(&c->mu);
    free(a->blocks);
    memset(a, 0, sizeof(*a));
}

void sim_kvcache_clear(struct sim_kvcache *c)
{
    pthread_mutex_lock(&c->mu);
    free_blocks(c);
    c->epoch++;
    c->disabled = true;
    struct sim_kvevent ev = {.type = SIM_KVEV_CLEARED};
    emit(c, &ev);
    pthread_mutex_unlock(&c->mu);
}

void sim_kvcache_enable(struct sim_kvcache *c)
{
    pthread_mutex_lock(&c->mu);
    c->disabled = false;
    pthread_mutex_unlock(&c->mu);
}

void sim_kvcache_stats(struct sim_kvcache *c, struct sim_kvcache_stats *out)
{
    pthread_mutex_lock(&c->mu);
    out->capacity = c->capacity;
    out->used = c->used;
    out->total = (long)c->nblocks;
    out->unused = (long)c->nblocks - c->used;
    pthread_mutex_unlock(&c->mu);
}

double sim_kvcache_usage(struct sim_kvcache *c)
{
    struct sim_kvcache_stats s;
    sim_kvcache_stats(c, &s);
    return s.capacity > 0 ? (double)s.used / (double)s.capacity : 0.0;
}
