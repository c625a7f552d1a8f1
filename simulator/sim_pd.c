#include "simulator/sim_pd.h"

#include "simulator/sim_tokenizer.h"

#include <stdio.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

void sim_pd_new_engine_id(char out[37])
{
    unsigned char b[16];
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
        /* Fall back to time and pid: still unique enough per process. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid();
        for (int i = 0; i < 16; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            b[i] = (unsigned char)(x >> 56);
        }
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

int sim_pd_params_json(struct buf *b, const char *engine_id, const char *host, long port,
                       const char *prompt, size_t len)
{
    struct sim_toklist toks;
    sim_toklist_init(&toks);
    sim_tokenize(prompt, len, &toks);
    int rc = buf_puts(b, "{\"do_remote_decode\":false,\"do_remote_prefill\":true,"
                         "\"remote_engine_id\":");
    rc = rc ? rc : buf_json_str(b, engine_id);
    rc = rc ? rc : buf_puts(b, ",\"remote_block_ids\":[");
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a-64, chained over blocks */
    size_t nblocks = (toks.n + SIM_PD_BLOCK_TOKENS - 1) / SIM_PD_BLOCK_TOKENS;
    for (size_t blk = 0; blk < nblocks && rc == 0; blk++) {
        for (size_t i = blk * SIM_PD_BLOCK_TOKENS;
             i < toks.n && i < (blk + 1) * SIM_PD_BLOCK_TOKENS; i++) {
            for (int k = 0; k < 4; k++) {
                h ^= (toks.v[i].id >> (8 * k)) & 0xff;
                h *= 0x100000001b3ULL;
            }
        }
        rc = buf_appendf(b, blk ? ",%lu" : "%lu", (unsigned long)(h & 0x7fffffffUL));
    }
    rc = rc ? rc : buf_puts(b, "],\"remote_host\":");
    rc = rc ? rc : buf_json_str(b, host);
    rc = rc ? rc : buf_appendf(b, ",\"remote_port\":%ld,\"tp_size\":1}", port);
    sim_toklist_release(&toks);
    return rc;
}
