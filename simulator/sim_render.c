#include "simulator/sim_render.h"

#include "common/xalloc.h"
#include "simulator/sim_tokenizer.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

uint32_t *sim_render_prompt_ids(const struct sim_prompt *p, size_t *n)
{
    uint32_t *ids = NULL;
    *n = 0;
    if (p->token_ids) { /* "1,2,3", checked by sim_request */
        ids = p->ntokens ? xcalloc((size_t)p->ntokens, sizeof(*ids)) : NULL;
        for (const char *s = p->text; *s && *n < (size_t)p->ntokens; s += *s == ',') {
            char *end;
            ids[(*n)++] = (uint32_t)strtoul(s, &end, 10);
            s = end;
        }
        return ids;
    }
    struct sim_toklist t;
    sim_toklist_init(&t);
    sim_tokenize(p->text, p->text_len, &t);
    if (t.n) {
        ids = xcalloc(t.n, sizeof(*ids));
        for (size_t i = 0; i < t.n; i++)
            ids[i] = t.v[i].id;
    }
    *n = t.n;
    sim_toklist_release(&t);
    return ids;
}

/* {"token_ids":[...] (without the closing brace). */
static int token_ids(struct buf *b, const struct sim_prompt *p, size_t *ntok)
{
    size_t n;
    uint32_t *ids = sim_render_prompt_ids(p, &n);
    int rc = buf_puts(b, "{\"token_ids\":[");
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = i ? buf_putc(b, ',') : 0;
        rc = rc ? rc : buf_put_long(b, ids[i]);
    }
    free(ids);
    if (ntok)
        *ntok = n;
    return rc ? rc : buf_putc(b, ']');
}

int sim_render_completions(struct buf *b, const struct sim_request *req)
{
    int rc = buf_putc(b, '[');
    for (size_t i = 0; i < req->nprompts && rc == 0; i++) {
        rc = i ? buf_putc(b, ',') : 0;
        rc = rc ? rc : token_ids(b, &req->prompts[i], NULL);
        rc = rc ? rc : buf_putc(b, '}');
    }
    return rc ? rc : buf_putc(b, ']');
}

/* One multimodal part of a chat message, as upstream's stub features see it. */
struct mm_item {
    int modality; /* index into modalities[] */
    int index;    /* per modality */
    const char *id;
};

static const char *const modalities[] = {"audio", "image", "video"}; /* Go's sorted map keys */
static const char *const prefixes[] = {"audio", "img", "video"};

/* The URL (or audio data) a content part carries for a modality, or NULL. */
static const char *mm_part(const cJSON *part, int *modality)
{
    static const struct {
        const char *type, *obj, *field;
        int modality;
    } kinds[] = {{"image_url", "image_url", "url", 1},
                 {"input_audio", "input_audio", "data", 0},
                 {"audio_url", "audio_url", "url", 0},
                 {"video_url", "video_url", "url", 2}};
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
    for (size_t k = 0; cJSON_IsString(type) && k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        if (strcmp(type->valuestring, kinds[k].type) != 0)
            continue;
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(part, kinds[k].obj);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, kinds[k].field);
        *modality = kinds[k].modality;
        return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
    }
    return NULL;
}

/* Every multimodal part of the request's messages, in order. */
static struct mm_item *mm_items(const struct sim_request *req, size_t *n)
{
    struct mm_item *v = NULL;
    int count[3] = {0, 0, 0};
    const cJSON *m, *part;
    *n = 0;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(req->root, "messages"))
    {
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        if (!cJSON_IsArray(content))
            continue;
        cJSON_ArrayForEach(part, content)
        {
            int mod = 0;
            const char *id = mm_part(part, &mod);
            if (!id)
                continue;
            v = xrealloc(v, (*n + 1) * sizeof(*v));
            v[(*n)++] = (struct mm_item){mod, count[mod]++, id};
        }
    }
    return v;
}

/* "sim_img_0_1a2b3c": deterministic, so a repeated image hits a cache. */
static void mm_hash(const struct mm_item *it, char *out, size_t len)
{
    snprintf(out, len, "sim_%s_%d_%x", prefixes[it->modality], it->index,
             sim_fnv1a32(it->id, strlen(it->id)));
}

/* "key":{"audio":[...],"image":[...]} with one element per item, written by fn. */
static int mm_map(struct buf *b, const char *key, const struct mm_item *v, size_t n, size_t ntok,
                  int (*fn)(struct buf *, const struct mm_item *, size_t, size_t, size_t))
{
    int rc = buf_appendf(b, "\"%s\":{", key), first_mod = 1;
    for (int mod = 0; mod < 3 && rc == 0; mod++) {
        int first = 1;
        for (size_t i = 0; i < n && rc == 0; i++) {
            if (v[i].modality != mod)
                continue;
            if (first)
                rc = buf_appendf(b, "%s\"%s\":[", first_mod ? "" : ",", modalities[mod]);
            else
                rc = buf_putc(b, ',');
            rc = rc ? rc : fn(b, &v[i], i, n, ntok);
            first = first_mod = 0;
        }
        if (!first)
            rc = rc ? rc : buf_putc(b, ']');
    }
    return rc ? rc : buf_putc(b, '}');
}

static int put_hash(struct buf *b, const struct mm_item *it, size_t i, size_t n, size_t ntok)
{
    char h[64];
    (void)i, (void)n, (void)ntok;
    mm_hash(it, h, sizeof(h));
    return buf_json_str(b, h);
}

static int put_kwargs(struct buf *b, const struct mm_item *it, size_t i, size_t n, size_t ntok)
{
    char h[64];
    unsigned char enc[96];
    (void)i, (void)n, (void)ntok;
    mm_hash(it, h, sizeof(h));
    EVP_EncodeBlock(enc, (const unsigned char *)h, (int)strlen(h));
    return buf_json_str(b, (const char *)enc);
}

/* Upstream's stub placeholders: the prompt split evenly among the items. */
static int put_placeholder(struct buf *b, const struct mm_item *it, size_t i, size_t n, size_t ntok)
{
    long total = (long)ntok, span = total / (long)n > 1 ? total / (long)n : 1;
    long off = (long)i * span, len = span;
    (void)it;
    if (off >= total)
        off = total - 1;
    if (off < 0)
        off = 0;
    if (off + len > total)
        len = total - off;
    if (len < 1)
        len = 1;
    return buf_appendf(b, "{\"offset\":%ld,\"length\":%ld}", off, len);
}

int sim_render_chat(struct buf *b, const struct sim_request *req)
{
    size_t ntok, n;
    int rc = token_ids(b, &req->prompts[0], &ntok);
    struct mm_item *items = mm_items(req, &n);
    if (n && rc == 0) {
        rc = buf_puts(b, ",\"features\":{");
        rc = rc ? rc : mm_map(b, "mm_hashes", items, n, ntok, put_hash);
        rc = rc ? rc : buf_putc(b, ',');
        rc = rc ? rc : mm_map(b, "mm_placeholders", items, n, ntok, put_placeholder);
        rc = rc ? rc : buf_putc(b, ',');
        rc = rc ? rc : mm_map(b, "kwargs_data", items, n, ntok, put_kwargs);
        rc = rc ? rc : buf_putc(b, '}');
    }
    free(items);
    return rc ? rc : buf_putc(b, '}');
}
