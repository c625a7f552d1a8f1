#include "simulator/sim_kvevents.h"

#include <errno.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* msgpack-c writes through this callback into our buf; a failed append makes
 * every later pack call fail too, and the caller sees -E2BIG. */
static int buf_write(void *data, const char *p, size_t n)
{
    return buf_append(data, p, n) == 0 ? 0 : -1;
}

static int pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    int rc = msgpack_pack_str(pk, n);
    return rc ? rc : msgpack_pack_str_body(pk, s, n);
}

static int pack_hashes(msgpack_packer *pk, const struct sim_kvevent *ev)
{
    int rc = msgpack_pack_array(pk, ev->nhashes);
    for (size_t i = 0; i < ev->nhashes && rc == 0; i++)
        rc = msgpack_pack_fix_uint64(pk, ev->hashes[i]);
    return rc;
}

static int pack_tokens(msgpack_packer *pk, const struct sim_kvevent *ev)
{
    int rc = msgpack_pack_array(pk, ev->ntokens);
    for (size_t i = 0; i < ev->ntokens && rc == 0; i++)
        rc = msgpack_pack_fix_uint32(pk, ev->tokens[i]);
    return rc;
}

static const char *tag_of(enum sim_kvevent_type t)
{
    return t == SIM_KVEV_STORED    ? "BlockStored"
           : t == SIM_KVEV_REMOVED ? "BlockRemoved"
                                   : "AllBlocksCleared";
}

/* Upstream's array structs: every field present; the parent is 0 when there is none
 * (a uint64 in upstream's struct), optional fields are nil when unset. */
static int pack_array_event(msgpack_packer *pk, const struct sim_kvevent *ev, long block_size)
{
    int rc;
    switch (ev->type) {
    case SIM_KVEV_STORED:
        rc = msgpack_pack_array(pk, 8);
        rc = rc ? rc : pack_str(pk, tag_of(ev->type));
        rc = rc ? rc : pack_hashes(pk, ev);
        rc = rc ? rc : msgpack_pack_fix_uint64(pk, ev->has_parent ? ev->parent : 0);
        rc = rc ? rc : pack_tokens(pk, ev);
        rc = rc ? rc : msgpack_pack_fix_int64(pk, block_size);
        if (ev->lora_name) {
            rc = rc ? rc : msgpack_pack_fix_int64(pk, ev->lora_id);
            rc = rc ? rc : pack_str(pk, "GPU");
            rc = rc ? rc : pack_str(pk, ev->lora_name);
        } else {
            rc = rc ? rc : msgpack_pack_nil(pk);
            rc = rc ? rc : pack_str(pk, "GPU");
            rc = rc ? rc : msgpack_pack_nil(pk);
        }
        return rc;
    case SIM_KVEV_REMOVED:
        rc = msgpack_pack_array(pk, 3);
        rc = rc ? rc : pack_str(pk, tag_of(ev->type));
        rc = rc ? rc : pack_hashes(pk, ev);
        return rc ? rc : pack_str(pk, "GPU");
    case SIM_KVEV_CLEARED:
        rc = msgpack_pack_array(pk, 1);
        return rc ? rc : pack_str(pk, tag_of(ev->type));
    }
    return -1;
}

/* vLLM's named-field maps (vLLM PR #42892): unset optional fields left out,
 * the parent nil when there is none. */
static int pack_map_event(msgpack_packer *pk, const struct sim_kvevent *ev, long block_size)
{
    int rc;
    switch (ev->type) {
    case SIM_KVEV_STORED:
        rc = msgpack_pack_map(pk, ev->lora_name ? 8 : 6);
        rc = rc ? rc : pack_str(pk, "type");
        rc = rc ? rc : pack_str(pk, tag_of(ev->type));
        rc = rc ? rc : pack_str(pk, "block_hashes");
        rc = rc ? rc : pack_hashes(pk, ev);
        rc = rc ? rc : pack_str(pk, "parent_block_hash");
        if (ev->has_parent)
            rc = rc ? rc : msgpack_pack_fix_uint64(pk, ev->parent);
        else
            rc = rc ? rc : msgpack_pack_nil(pk);
        rc = rc ? rc : pack_str(pk, "token_ids");
        rc = rc ? rc : pack_tokens(pk, ev);
        rc = rc ? rc : pack_str(pk, "block_size");
        rc = rc ? rc : msgpack_pack_fix_int64(pk, block_size);
        if (ev->lora_name) {
            rc = rc ? rc : pack_str(pk, "lora_id");
            rc = rc ? rc : msgpack_pack_fix_int64(pk, ev->lora_id);
        }
        rc = rc ? rc : pack_str(pk, "medium");
        rc = rc ? rc : pack_str(pk, "GPU");
        if (ev->lora_name) {
            rc = rc ? rc : pack_str(pk, "lora_name");
            rc = rc ? rc : pack_str(pk, ev->lora_name);
        }
        return rc;
    case SIM_KVEV_REMOVED:
        rc = msgpack_pack_map(pk, 3);
        rc = rc ? rc : pack_str(pk, "type");
        rc = rc ? rc : pack_str(pk, tag_of(ev->type));
        rc = rc ? rc : pack_str(pk, "block_hashes");
        rc = rc ? rc : pack_hashes(pk, ev);
        rc = rc ? rc : pack_str(pk, "medium");
        return rc ? rc : pack_str(pk, "GPU");
    case SIM_KVEV_CLEARED:
        rc = msgpack_pack_map(pk, 1);
        rc = rc ? rc : pack_str(pk, "type");
        return rc ? rc : pack_str(pk, tag_of(ev->type));
    }
    return -1;
}

int sim_kvevents_encode_event(struct buf *out, const struct sim_kvevent *ev, bool map_format,
                              long block_size)
{
    msgpack_packer pk;
    size_t mark = out->len;
    msgpack_packer_init(&pk, out, buf_write);
    int rc =
        map_format ? pack_map_event(&pk, ev, block_size) : pack_array_event(&pk, ev, block_size);
    if (rc) {
        out->len = mark; /* no half event */
        if (out->data)
            out->data[mark] = '\0';
        return -E2BIG;
    }
    return 0;
}

int sim_kvevents_encode_batch(struct buf *out, double ts, const char *events, size_t len, size_t n,
                              long dp_rank)
{
    msgpack_packer pk;
    size_t mark = out->len;
    msgpack_packer_init(&pk, out, buf_write);
    int rc = msgpack_pack_array(&pk, 3);
    rc = rc ? rc : msgpack_pack_double(&pk, ts);
    rc = rc ? rc : msgpack_pack_array(&pk, n);
    rc = rc ? rc : buf_append(out, events, len);
    rc = rc ? rc : msgpack_pack_fix_int64(&pk, dp_rank);
    if (rc) {
        out->len = mark;
        if (out->data)
            out->data[mark] = '\0';
        return -E2BIG;
    }
    return 0;
}

/* Where the port of a tcp:// endpoint starts (after its last ':'), or NULL. */
static const char *port_start(const char *ep)
{
    if (strncmp(ep, "tcp://", 6) != 0)
        return NULL;
    const char *colon = strrchr(ep + 6, ':');
    if (!colon || !colon[1])
        return NULL;
    for (const char *p = colon + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return NULL;
    return colon + 1;
}

long sim_kvevents_endpoint_port(const char *ep)
{
    const char *p = port_start(ep);
    if (!p || strlen(p) > 5)
        return -1;
    return strtol(p, NULL, 10);
}

int sim_kvevents_rank_endpoint(const char *ep, long offset, char *out, size_t outlen)
{
    long port = sim_kvevents_endpoint_port(ep);
    int n;
    if (port < 0 || offset == 0) {
        n = snprintf(out, outlen, "%s", ep);
    } else {
        if (port + offset > 65535)
            return -EINVAL;
        n = snprintf(out, outlen, "%.*s%ld", (int)(port_start(ep) - ep), ep, port + offset);
    }
    return n < 0 || (size_t)n >= outlen ? -E2BIG : 0;
}

bool sim_kvevents_passive(const char *ep)
{
    if (strncmp(ep, "ipc://", 6) == 0 || strncmp(ep, "inproc://", 9) == 0)
        return true;
    if (strncmp(ep, "tcp://", 6) != 0)
        return false;
    const char *host = ep + 6, *colon = strrchr(host, ':');
    size_t n = colon ? (size_t)(colon - host) : strlen(host);
    return (n == 1 && host[0] == '*') || (n == 2 && strncmp(host, "::", 2) == 0) ||
           (n == 4 && strncmp(host, "[::]", 4) == 0);
}
