/*
 * sim_kvevents: the wire format of KV-cache events, as upstream and vLLM
 * publish them: msgpack events, the batch [ts, [events...], dp_rank] that a
 * ZMQ message carries after its topic and 8-byte big-endian sequence number,
 * and the ZMQ endpoints of data-parallel ranks. Pure; thread-safe. The
 * sockets and batching are sim_kvpub's.
 */
#ifndef PDSIM_SIM_KVEVENTS_H
#define PDSIM_SIM_KVEVENTS_H

#include "common/buf.h"
#include "simulator/sim_kvcache.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The replay end sentinel's sequence number (with an empty topic and payload). */
#define SIM_KVEVENTS_END_SEQ UINT64_MAX

/* Append one event, msgpack-encoded as upstream: an array [tag, ...] (BlockStored
 * [tag, hashes, parent or 0, token_ids, block_size, lora_id or nil, "GPU",
 * lora_name or nil], BlockRemoved [tag, hashes, "GPU"], AllBlocksCleared
 * [tag]), or with map_format a map keyed "type", "block_hashes", ... (the
 * parent nil when there is none; lora fields only for an adapter). Integers
 * are fixed-width, as Go's msgpack writes them. Returns 0 or -E2BIG. */
int sim_kvevents_encode_event(struct buf *out, const struct sim_kvevent *ev, bool map_format,
                              long block_size);

/* Append a batch [ts, [n events already encoded back to back in events[0..len)],
 * dp_rank]. Returns 0 or -E2BIG. */
int sim_kvevents_encode_batch(struct buf *out, double ts, const char *events, size_t len, size_t n,
                              long dp_rank);

/* ep with its TCP port moved up by offset (a data-parallel rank's endpoint):
 * "tcp://host:5557" + 2 -> "tcp://host:5559". An endpoint without a numeric
 * port (ipc, inproc, a wildcard port) is copied as it is. Returns 0, or
 * -EINVAL when the port would pass 65535, -E2BIG when out is too small. */
int sim_kvevents_rank_endpoint(const char *ep, long offset, char *out, size_t outlen);

/* The numeric TCP port of ep, or -1 when it has none. */
long sim_kvevents_endpoint_port(const char *ep);

/* True when the PUB socket binds ep instead of connecting to it: a wildcard
 * host ("*", "::" or "[::]") or an ipc or inproc address, as
 * upstream. */
bool sim_kvevents_passive(const char *ep);

#endif
