#include "simulator/sim_resp_generate.h"

#include "common/httpd.h"

static int begin(struct buf *b, struct sim_resp_stream *s, const struct sim_resp_usage *u)
{
    (void)b;
    (void)s;
    (void)u;
    return 0;
}

/* data: {"request_id":R,"choices":[{"index":I,"finish_reason":F|null,"token_ids":[ */
static int chunk_open(struct buf *b, const struct sim_resp_stream *s, long index, bool last,
                      enum sim_finish f)
{
    int rc = buf_puts(b, "data: {\"request_id\":");
    rc = rc ? rc : buf_json_str(b, s->reqid);
    rc = rc ? rc : buf_puts(b, ",\"choices\":[{\"index\":");
    rc = rc ? rc : buf_put_long(b, index);
    rc = rc ? rc : buf_puts(b, ",\"finish_reason\":");
    if (last) {
        rc = rc ? rc : buf_putc(b, '"');
        rc = rc ? rc : buf_puts(b, sim_finish_name(f));
        rc = rc ? rc : buf_putc(b, '"');
    } else {
        rc = rc ? rc : buf_puts(b, "null");
    }
    return rc ? rc : buf_puts(b, ",\"token_ids\":[");
}

/* One token per chunk; the finish reason rides on the last one, as upstream. */
static int token(struct buf *b, struct sim_resp_stream *s, const struct sim_resp_choice *ch,
                 size_t i)
{
    int rc = chunk_open(b, s, ch->index, i + 1 == ch->ntoks, ch->finish);
    rc = rc ? rc : buf_put_long(b, ch->toks[i].id);
    return rc ? rc : buf_puts(b, "]}]}\n\n");
}

static int tool(struct buf *b, struct sim_resp_stream *s, const struct sim_resp_choice *ch,
                size_t k, size_t j)
{
    (void)b; /* generate has no tools: sim_req_ext never checks any in */
    (void)s;
    (void)ch;
    (void)k;
    (void)j;
    return 0;
}

/* A choice with no token still says how it ended. */
static int finish(struct buf *b, struct sim_resp_stream *s, const struct sim_resp_choice *ch)
{
    if (ch->ntoks)
        return 0;
    int rc = chunk_open(b, s, ch->index, true, ch->finish);
    return rc ? rc : buf_puts(b, "]}]}\n\n");
}

static int tail(struct buf *b, struct sim_resp_stream *s, const struct sim_resp_choice *ch,
                size_t n, const struct sim_resp_usage *u)
{
    (void)ch;
    (void)n;
    int rc = 0;
    if (s->include_usage) {
        rc = buf_puts(b, "data: {\"request_id\":");
        rc = rc ? rc : buf_json_str(b, s->reqid);
        rc = rc ? rc : buf_puts(b, ",\"choices\":[],\"usage\":");
        rc = rc ? rc : sim_resp_usage_json(b, u);
        rc = rc ? rc : buf_puts(b, "}\n\n");
    }
    return rc ? rc : sim_resp_sse_done(b);
}

static int full(struct buf *b, struct sim_resp_stream *s, const struct sim_resp_choice *ch,
                size_t n, const struct sim_resp_usage *u, const char *kv_params)
{
    (void)u;
    int rc = buf_putc(b, '{');
    if (kv_params) {
        rc = rc ? rc : buf_puts(b, "\"kv_transfer_params\":");
        rc = rc ? rc : buf_puts(b, kv_params);
        rc = rc ? rc : buf_putc(b, ',');
    }
    rc = rc ? rc : buf_puts(b, "\"choices\":[");
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = i ? buf_putc(b, ',') : 0;
        rc = rc ? rc : buf_puts(b, "{\"index\":");
        rc = rc ? rc : buf_put_long(b, ch[i].index);
        rc = rc ? rc : buf_puts(b, ",\"finish_reason\":\"");
        rc = rc ? rc : buf_puts(b, sim_finish_name(ch[i].finish));
        rc = rc ? rc : buf_puts(b, "\",\"token_ids\":[");
        for (size_t t = 0; t < ch[i].ntoks && rc == 0; t++) {
            rc = t ? buf_putc(b, ',') : 0;
            rc = rc ? rc : buf_put_long(b, ch[i].toks[t].id);
        }
        rc = rc ? rc : buf_puts(b, "]}");
    }
    rc = rc ? rc : buf_puts(b, "],\"request_id\":");
    rc = rc ? rc : buf_json_str(b, s->reqid);
    return rc ? rc : buf_puts(b, ",\"ec_transfer_params\":null}");
}

const struct sim_resp_ops sim_resp_generate_ops = {
    .begin = begin,
    .token = token,
    .tool = tool,
    .finish = finish,
    .tail = tail,
    .stream_error = sim_resp_openai_stream_error,
    .full = full,
    .error_body = httpd_error_body,
    .id_prefix = "",
    .cache_threshold = false, /* upstream's generate requests ignore the header */
};
