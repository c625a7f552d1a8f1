"""pdsim-simulator's KV cache and KV events, checked from the outside as a cache-aware
router sees them: a real ZMQ SUB socket (python3-zmq) on a loopback port receives the
simulator's [topic, sequence, msgpack batch] messages, and the test decodes them
(python3-msgpack) and recomputes every block key from the prompts it sent, with its own
implementation of the llm-d router's hash (FNV-64a over canonical CBOR). Run with
Debian's /usr/bin/python3."""

import json
import os
import queue
import re
import socket
import sys
import tempfile
import threading
import time
import unittest

import msgpack
import zmq

sys.path.insert(0, os.path.dirname(__file__))
from harness import (SIMULATOR, Proc, collect_stream, free_port, free_port_pair,  # noqa: E402
                     http_json, http_request, run_binary)

M = "kv-model"
CAPACITY_MSG = "the kv cache does not have sufficient capacity to store this request"
END_SEQ = 0xFFFFFFFFFFFFFFFF

# --- the llm-d router's block keys (kvblock.ChunkedTokenDatabase, cbor-fnv) ---

MASK = (1 << 64) - 1


def fnv64a(data):
    h = 0xcbf29ce484222325
    for c in data:
        h = ((h ^ c) * 0x100000001b3) & MASK
    return h


def cbor_head(major, v):
    if v < 24:
        return bytes([major << 5 | v])
    for code, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if v < 1 << (8 * size):
            return bytes([major << 5 | code]) + v.to_bytes(size, "big")
    raise ValueError(v)


def link(parent, tokens, extra):
    """FNV-64a of the canonical CBOR of [parent, tokens or null, extra or null]."""
    b = cbor_head(4, 3) + cbor_head(0, parent)
    b += b"\xf6" if tokens is None else cbor_head(4, len(tokens)) + b"".join(
        cbor_head(0, t) for t in tokens)
    if extra is None:
        b += b"\xf6"
    else:
        e = extra.encode()
        b += cbor_head(3, len(e)) + e
    return fnv64a(b)


def block_keys(tokens, bs, model=M, seed=""):
    prev = link(fnv64a(seed.encode()), None, model)
    keys = []
    for i in range(len(tokens) // bs):
        prev = link(prev, tokens[i * bs:(i + 1) * bs], None)
        keys.append(prev)
    return keys


def words(prefix, n):
    return " ".join("%s%d" % (prefix, i) for i in range(n))


# --- a ZMQ subscriber that reads all the time (a binding SUB's subscription only
# reaches a connecting PUB while the SUB's own thread uses the socket) ---

class Sub:
    def __init__(self, port=None):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.SUBSCRIBE, b"")
        if port is None:
            self.port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        else:
            self.sock.bind("tcp://127.0.0.1:%d" % port)
            self.port = port
        self.q = queue.Queue()
        self.stopping = threading.Event()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        while not self.stopping.is_set():
            if self.sock.poll(50):
                self.q.put((time.monotonic(), self.sock.recv_multipart()))

    def get(self, timeout=5):
        """(arrival time, topic, seq, ts, events, dp_rank), or None after timeout."""
        try:
            t, frames = self.q.get(timeout=timeout)
        except queue.Empty:
            return None
        assert len(frames) == 3, frames
        topic, seq, payload = frames
        assert len(seq) == 8
        batch = msgpack.unpackb(payload, raw=False)
        assert isinstance(batch, list) and len(batch) == 3, batch
        return (t, topic.decode(), int.from_bytes(seq, "big"), batch[0], batch[1], batch[2])

    def events(self, n, timeout=5):
        """The next n events (across batches)."""
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < n:
            m = self.get(max(0.01, deadline - time.monotonic()))
            if m is None:
                raise AssertionError("got %d of %d events: %r" % (len(out), n, out))
            out += m[4]
        return out

    def quiet(self, wait=0.3):
        m = self.get(wait)
        assert m is None, "unexpected batch %r" % (m,)

    def close(self):
        self.stopping.set()
        self.t.join(5)
        self.sock.close(0)
        self.ctx.term()


class KvTest(unittest.TestCase):
    BS = 8

    def start(self, *args, env=None, sync=True, sub_port=None):
        self.sub = Sub(sub_port)
        e = {"POD_IP": "127.0.0.1", "VLLM_SERVER_DEV_MODE": "1"}
        e.update(env or {})
        base = ["--model", M, "--enable-kvcache", "--enable-sleep-mode", "--zmq-endpoint",
                "tcp://127.0.0.1:%d" % self.sub.port, "--block-size", str(self.BS),
                "--event-batch-size", "1"]
        self.sim = Proc(SIMULATOR, base + list(args), env=e)
        if sync:
            self.sync()

    def tearDown(self):
        if getattr(self, "sim", None):
            self.assertEqual(self.sim.stop(), 0)
        if getattr(self, "sub", None):
            self.sub.close()

    def sync(self, sim=None, sub=None):
        """Wait until the simulator's PUB has our subscription: /sleep (an empty cache
        cleared) until its AllBlocksCleared arrives, then /wake_up."""
        sim, sub = sim or self.sim, sub or self.sub
        for _ in range(10):
            self.assertEqual(sim.request("POST", "/sleep")[0], 200)
            m = sub.get(3)
            if m:
                self.assertIn(m[4], ([["AllBlocksCleared"]], [{"type": "AllBlocksCleared"}]))
                break
        else:
            self.fail("no KV event reached the subscriber")
        self.assertEqual(sim.request("POST", "/wake_up")[0], 200)
        while sub.get(1.2):  # a retried /sleep may still be on its way
            pass

    def tokens(self, prompt=None, messages=None):
        body = {"model": M, "prompt": prompt} if messages is None else {
            "model": M, "messages": messages}
        st, j = self.sim.json("POST", "/tokenize", body)
        self.assertEqual(st, 200, j)
        return j["tokens"]

    def complete(self, prompt, sim=None, **kw):
        body = dict({"model": M, "prompt": prompt, "max_tokens": 2}, **kw)
        return (sim or self.sim).json("POST", "/v1/completions", body)

    def metric(self, name):
        body = self.sim.request("GET", "/metrics")[2].decode()
        m = re.search(r"^%s\{[^}]*\} (\S+)$" % re.escape(name), body, re.M)
        return float(m.group(1)) if m else None


class EventsTest(KvTest):
    def test_reference_hash_matches_go(self):
        # the Go vectors of tests/unit/test_blockhash.c: this file's hash is the router's
        toks = [(i * 2654435761 + 7) & 0xffffffff for i in range(40)]
        toks[:8] = [0, 23, 24, 255, 256, 65535, 65536, 4294967295]
        self.assertEqual(block_keys(toks, 8, "testmodel")[:2],
                         [7355544280779203966, 15811133043241209914])
        self.assertEqual(block_keys(toks, 16, "Qwen/Qwen2.5-1.5B-Instruct", "42"),
                         [4480956358606627450, 13507206880202801795])

    def test_block_stored_matches_prompts(self):
        self.start()
        prompt = words("w", 20)  # 20 tokens: 2 full blocks of 8
        toks = self.tokens(prompt)
        self.assertEqual(len(toks), 20)
        st, j = self.complete(prompt)
        self.assertEqual(st, 200, j)
        self.assertEqual(j["usage"]["prompt_tokens_details"], {"cached_tokens": 0})
        t, topic, seq, ts, events, rank = self.sub.get()
        self.assertEqual(topic, "kv@127.0.0.1:%d@%s" % (self.sim.port, M))
        self.assertEqual(rank, 0)
        self.assertLess(abs(ts - time.time()), 30)
        keys = block_keys(toks, 8)
        self.assertEqual(events, [["BlockStored", keys, 0, toks[:16], 8, None, "GPU", None]])
        # the same prompt, longer: the first two blocks are reused (cached), one more is
        # stored with the last cached block as its parent
        longer = prompt + " " + words("x", 10)
        toks2 = self.tokens(longer)
        st, j = self.complete(longer)
        self.assertEqual(j["usage"]["prompt_tokens_details"], {"cached_tokens": 16})
        t2, _, seq2, _, events, _ = self.sub.get()
        self.assertEqual(seq2, seq + 1)
        keys2 = block_keys(toks2, 8)
        self.assertEqual(keys2[:2], keys)
        self.assertEqual(events, [["BlockStored", keys2[2:3], keys[1], toks2[16:24], 8, None,
                                   "GPU", None]])
        # a chat request: the flattened messages' tokens (as /tokenize counts them)
        msgs = [{"role": "system", "content": words("s", 6)},
                {"role": "user", "content": words("u", 12)}]
        ctoks = self.tokens(messages=msgs)
        st, j = self.sim.json("POST", "/v1/chat/completions",
                              {"model": M, "messages": msgs, "max_tokens": 1})
        self.assertEqual(st, 200, j)
        events = self.sub.events(1)
        n = len(ctoks) // 8
        self.assertEqual(events[0][1], block_keys(ctoks, 8))
        self.assertEqual(events[0][3], ctoks[:8 * n])
        # token-id prompts are hashed as they are; a prompt under a block stores nothing
        ids = list(range(1000, 1017))
        st, j = self.complete(ids)
        self.assertEqual(st, 200, j)
        self.assertEqual(self.sub.events(1)[0][1:4], [block_keys(ids, 8), 0, ids[:16]])
        # the decode side of P/D stores its prompt's blocks too
        pd = words("pd", 8) + " "
        st, j = self.complete(pd, kv_transfer_params={"do_remote_prefill": True})
        self.assertEqual(st, 200, j)
        self.assertEqual(self.sub.events(1)[0][1], block_keys(self.tokens(pd), 8))
        st, j = self.complete("short prompt")
        self.assertEqual(st, 200, j)
        self.sub.quiet(1.3)

    def test_hash_seed_and_lora(self):
        self.start("--lora-modules", "lora1=/p/l1", "--served-model-name", "alias", M,
                   env={"PYTHONHASHSEED": "1234"})
        prompt = words("h", 8)
        toks = self.tokens(prompt)
        # the base model's requests hash under the first served name (as upstream)
        st, j = self.sim.json("POST", "/v1/completions",
                              {"model": M, "prompt": prompt, "max_tokens": 1})
        self.assertEqual(st, 200, j)
        ev = self.sub.events(1)[0]
        self.assertEqual(ev[1], block_keys(toks, 8, "alias", "1234"))
        self.assertEqual(ev[5:], [None, "GPU", None])
        # an adapter: its own keys, its id and name in the event
        st, j = self.sim.json("POST", "/v1/completions",
                              {"model": "lora1", "prompt": prompt, "max_tokens": 1})
        self.assertEqual(st, 200, j)
        self.assertEqual(j["usage"]["prompt_tokens_details"], {"cached_tokens": 0})
        ev = self.sub.events(1)[0]
        self.assertEqual(ev[1], block_keys(toks, 8, "lora1", "1234"))
        self.assertEqual(ev[5:], [1, "GPU", "lora1"])
        # an adapter loaded later gets the next id
        st, _, _ = self.sim.request("POST", "/v1/load_lora_adapter",
                                    json.dumps({"lora_name": "lora2", "lora_path": "/p"}))
        self.assertEqual(st, 200)
        st, j = self.sim.json("POST", "/v1/completions",
                              {"model": "lora2", "prompt": prompt, "max_tokens": 1})
        self.assertEqual(self.sub.events(1)[0][5:], [2, "GPU", "lora2"])

    def test_map_format(self):
        self.start("--use-vllm-map-event-format", "--kv-cache-size", "2")
        prompt = words("m", 8) + " "  # a token keeps its trailing space: "m7 " as in longer
        toks = self.tokens(prompt)
        self.complete(prompt)
        ev = self.sub.events(1)[0]
        self.assertEqual(ev, {"type": "BlockStored", "block_hashes": block_keys(toks, 8),
                              "parent_block_hash": None, "token_ids": toks, "block_size": 8,
                              "medium": "GPU"})
        longer = prompt + words("n", 8)
        toks2 = self.tokens(longer)
        self.assertEqual(toks2[:8], toks)
        self.complete(longer)
        ev = self.sub.events(1)[0]
        self.assertEqual(ev["parent_block_hash"], block_keys(toks, 8)[0])
        self.assertEqual(ev["block_hashes"], block_keys(toks2, 8)[1:])
        self.complete(words("o", 8))  # evicts the oldest unused block: the tail first
        ev = self.sub.events(2)
        self.assertEqual(ev[0], {"type": "BlockRemoved", "block_hashes": block_keys(toks2, 8)[1:],
                                 "medium": "GPU"})
        self.assertEqual(ev[1]["type"], "BlockStored")
        self.sim.request("POST", "/sleep")
        self.assertEqual(self.sub.events(1), [{"type": "AllBlocksCleared"}])


class CacheTest(KvTest):
    def test_cached_tokens_and_metrics(self):
        self.start("--kv-cache-size", "10", "--time-to-first-token", "800ms")
        self.assertEqual(self.metric("vllm:kv_cache_usage_perc"), 0)
        self.assertIsNone(self.metric("vllm:prefix_cache_queries_total"))
        body = self.sim.request("GET", "/metrics")[2].decode()
        self.assertIn('vllm:cache_config_info{model_name="%s",block_size="8",'
                      'num_gpu_blocks="10"} 1' % M, body)
        prompt = words("c", 30)  # 3 blocks
        res = []
        t = threading.Thread(target=lambda: res.append(self.complete(prompt)))
        t.start()
        time.sleep(0.4)  # the request holds its 3 blocks during its time to first token
        self.assertAlmostEqual(self.metric("vllm:kv_cache_usage_perc"), 0.3)
        t.join(10)
        self.assertEqual(res[0][1]["usage"]["prompt_tokens_details"], {"cached_tokens": 0})
        self.assertEqual(self.metric("vllm:kv_cache_usage_perc"), 0)
        st, j = self.complete(prompt)
        self.assertEqual(j["usage"]["prompt_tokens_details"], {"cached_tokens": 24})
        self.assertEqual(j["usage"]["prompt_tokens"], 30)
        self.assertEqual(self.metric("vllm:prefix_cache_queries_total"), 60)
        self.assertEqual(self.metric("vllm:prefix_cache_hits_total"), 24)
        # streaming: the usage chunk carries the cached tokens too
        st, _, evs, _ = collect_stream(self.sim.port, "/v1/completions", {
            "model": M, "prompt": prompt, "max_tokens": 2, "stream": True,
            "stream_options": {"include_usage": True}})
        usage = json.loads(evs[-2][1])["usage"]
        self.assertEqual(usage["prompt_tokens_details"], {"cached_tokens": 24})
        # n copies of a prompt count its cached tokens once
        st, j = self.complete(prompt, n=3)
        self.assertEqual(st, 200, j)
        self.assertEqual(j["usage"]["prompt_tokens_details"], {"cached_tokens": 24})

    def test_cached_tokens_shorten_ttft(self):
        self.start("--prefill-time-per-token", "40ms")
        prompt = words("p", 24)  # 3 blocks: 960 ms to prefill, 0 once cached
        t0 = time.monotonic()
        self.complete(prompt)
        first = time.monotonic() - t0
        t0 = time.monotonic()
        st, j = self.complete(prompt)
        second = time.monotonic() - t0
        self.assertEqual(j["usage"]["prompt_tokens_details"], {"cached_tokens": 24})
        self.assertGreater(first, 0.9)
        self.assertLess(second, 0.5)

    def test_capacity_is_a_500(self):
        self.start("--kv-cache-size", "2", "--max-num-seqs", "2", "--time-to-first-token",
                   "700ms")
        for stream in (False, True):
            st, hdrs, body = self.sim.request("POST", "/v1/completions", {
                "model": M, "prompt": words("big", 24), "max_tokens": 2, "stream": stream})
            self.assertEqual(st, 500, body)
            err = json.loads(body)["error"]
            self.assertEqual(err, {"message": CAPACITY_MSG, "type": "InternalServerError",
                                   "param": None, "code": 500})
        # used blocks count: a second prompt does not fit while the first runs ...
        res = []
        t = threading.Thread(target=lambda: res.append(self.complete(words("a", 16))))
        t.start()
        time.sleep(0.3)
        st, j = self.complete(words("b", 8))
        self.assertEqual((st, j["error"]["message"]), (500, CAPACITY_MSG))
        t.join(10)
        self.assertEqual(res[0][0], 200)
        # ... and fits once it is done (its unused blocks are evicted)
        st, j = self.complete(words("b", 8))
        self.assertEqual(st, 200, j)
        self.assertEqual(self.sub.events(3)[1][0], "BlockRemoved")
        # the server is fine afterwards: failures counted nothing
        self.assertEqual(self.sim.request("GET", "/health")[0], 200)

    def test_capacity_when_a_waiting_stream_starts(self):
        # A (2 blocks) runs long, C (1 block) short; B (2 blocks) waits for C's slot, and
        # when it starts A's used blocks leave no room: 200 was sent, so an error event
        self.start("--kv-cache-size", "3", "--max-num-seqs", "2", "--inter-token-latency",
                   "100ms")
        res = {}

        def run(name, prompt, n):
            res[name] = self.complete(prompt, max_tokens=n, ignore_eos=True)
        ta = threading.Thread(target=run, args=("a", words("a", 16), 25))
        tc = threading.Thread(target=run, args=("c", words("c", 8), 8))
        ta.start()
        tc.start()
        time.sleep(0.3)
        st, hdrs, evs, _ = collect_stream(self.sim.port, "/v1/completions", {
            "model": M, "prompt": words("b", 16), "max_tokens": 2, "stream": True})
        ta.join(10)
        tc.join(10)
        self.assertEqual(st, 200)
        self.assertEqual([e[1] for e in evs][-1], "[DONE]")
        err = json.loads(evs[-2][1])["error"]
        self.assertEqual((err["message"], err["code"]), (CAPACITY_MSG, 500))
        self.assertEqual((res["a"][0], res["c"][0]), (200, 200))
        self.assertEqual(self.metric("vllm:kv_cache_usage_perc"), 0)

    def test_blocks_released_when_the_client_leaves(self):
        self.start("--kv-cache-size", "4", "--inter-token-latency", "200ms")
        c = self.sim.conn()
        c.request("POST", "/v1/completions", json.dumps({
            "model": M, "prompt": words("d", 16), "max_tokens": 50, "ignore_eos": True,
            "stream": True}), {"Content-Type": "application/json"})
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        r.read1(100)
        self.assertEqual(self.metric("vllm:kv_cache_usage_perc"), 0.5)
        c.close()
        deadline = time.monotonic() + 5
        while self.metric("vllm:kv_cache_usage_perc") != 0:
            self.assertLess(time.monotonic(), deadline, "blocks still held")
            time.sleep(0.05)

    def test_eviction_is_lru_over_unused_blocks(self):
        self.start("--kv-cache-size", "4")
        a, b, c = words("a", 16), words("b", 16), words("c", 16)
        ka, kb, kc = (block_keys(self.tokens(p), 8) for p in (a, b, c))
        self.complete(a)
        self.complete(b)
        self.assertEqual([e[0] for e in self.sub.events(2)], ["BlockStored"] * 2)
        self.complete(a)  # reused: a is now more recent than b
        self.sub.quiet(0.3)
        self.complete(c)  # evicts b, the least recently used, its tail first
        self.assertEqual(self.sub.events(3), [["BlockRemoved", [kb[1]], "GPU"],
                                              ["BlockRemoved", [kb[0]], "GPU"],
                                              ["BlockStored", kc, 0, self.tokens(c), 8, None,
                                               "GPU", None]])
        st, j = self.complete(a)
        self.assertEqual(j["usage"]["prompt_tokens_details"], {"cached_tokens": 16})
        st, j = self.complete(b)
        self.assertEqual(j["usage"]["prompt_tokens_details"], {"cached_tokens": 0})
        self.assertEqual(ka, block_keys(self.tokens(a), 8))

    def test_sleep_clears_and_wake_up_restarts(self):
        self.start()
        prompt = words("z", 8)
        self.complete(prompt)
        self.sub.events(1)
        self.assertEqual(self.sim.request("POST", "/sleep")[0], 200)
        self.assertEqual(self.sub.events(1), [["AllBlocksCleared"]])
        self.assertEqual(self.metric("vllm:kv_cache_usage_perc"), 0)
        st, j = self.complete(prompt)  # sleeping: served, nothing cached or published
        self.assertEqual((st, j["usage"]["prompt_tokens_details"]), (200, {"cached_tokens": 0}))
        self.sub.quiet(0.5)
        self.assertEqual(self.sim.request("POST", "/wake_up?tags=weights")[0], 200)
        self.complete(prompt)
        self.sub.quiet(0.5)  # still asleep for the KV cache
        self.assertEqual(self.sim.request("POST", "/wake_up?tags=kv_cache")[0], 200)
        st, j = self.complete(prompt)
        self.assertEqual(j["usage"]["prompt_tokens_details"], {"cached_tokens": 0})
        self.assertEqual(self.sub.events(1)[0][0], "BlockStored")


class ThresholdTest(KvTest):
    def test_request_threshold(self):
        self.start("--time-to-first-token", "2s")
        prompt = words("t", 16)
        for path, body in (("/v1/completions", {"prompt": prompt}),
                           ("/v1/chat/completions",
                            {"messages": [{"role": "user", "content": prompt}]})):
            t0 = time.monotonic()
            st, j = self.sim.json("POST", path, dict(body, model=M, cache_hit_threshold=0.5))
            self.assertEqual(st, 200, j)
            self.assertLess(time.monotonic() - t0, 1.5)  # at once, no time to first token
            self.assertEqual(j["choices"][0]["finish_reason"], "cache_threshold")
            self.assertEqual(j["usage"]["completion_tokens"], 0)
            self.assertIsNone(j["usage"]["prompt_tokens_details"])
        # the prompt is cached now (as upstream, its blocks were stored): above threshold
        st, j = self.complete(prompt, cache_hit_threshold=0.5)
        self.assertNotEqual(j["choices"][0]["finish_reason"], "cache_threshold")
        self.assertEqual(j["usage"]["prompt_tokens_details"], {"cached_tokens": 16})
        # streaming: one chunk with the finish reason, no role or token chunk
        st, hdrs, evs, _ = collect_stream(self.sim.port, "/v1/chat/completions", {
            "model": M, "messages": [{"role": "user", "content": words("q", 8)}],
            "stream": True, "cache_hit_threshold": 1})
        self.assertEqual(st, 200)
        chunks = [json.loads(d) for _, d in evs if d != "[DONE]"]
        self.assertEqual(len(chunks), 1)
        self.assertEqual(chunks[0]["choices"][0]["finish_reason"], "cache_threshold")
        self.assertEqual(chunks[0]["choices"][0]["delta"], {})
        self.assertEqual(evs[-1][1], "[DONE]")
        st, j = self.complete(prompt, cache_hit_threshold=2)
        self.assertEqual((st, j["error"]["param"]), (400, "cache_hit_threshold"))
        body = self.sim.request("GET", "/metrics")[2].decode()
        self.assertRegex(body, r'vllm:request_success_total\{[^}]*finish_reason="cache_threshold"'
                               r'\} 3')

    def test_global_threshold_from_yaml(self):
        # upstream's flag default overwrites the YAML value; pdsim honours it
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write("global-cache-hit-threshold: 0.75\n")
        try:
            self.start("--config", f.name)
        finally:
            os.unlink(f.name)
        st, cfg = self.sim.json("GET", "/admin/config")
        self.assertEqual(cfg["global-cache-hit-threshold"], 0.75)
        prompt = words("g", 16)
        st, j = self.complete(prompt)
        self.assertEqual(j["choices"][0]["finish_reason"], "cache_threshold")
        st, j = self.complete(prompt)  # fully cached now: hit rate 1
        self.assertNotEqual(j["choices"][0]["finish_reason"], "cache_threshold")
        st, j = self.complete(words("g2", 16), cache_hit_threshold=0)  # the request's wins
        self.assertNotEqual(j["choices"][0]["finish_reason"], "cache_threshold")
        # n=2 of a new prompt: both choices are below the threshold
        st, j = self.complete(words("g3", 16), n=2)
        self.assertEqual([c["finish_reason"] for c in j["choices"]], ["cache_threshold"] * 2)


class BatchingTest(KvTest):
    def test_batch_size_and_flush(self):
        # Batches go out when full, else on a one-second tick (as upstream's timer).
        self.start("--event-batch-size", "3", sync=False)
        for _ in range(5):  # until a /sleep's AllBlocksCleared comes through
            self.sim.request("POST", "/sleep")
            first = self.sub.get(2.5)  # a lost one was published (ticks are 1 s apart)
            if first:
                break
        self.assertIsNotNone(first, "no KV event reached the subscriber")
        self.assertEqual(first[4], [["AllBlocksCleared"]])
        self.sim.request("POST", "/wake_up")
        # right after a tick: two events (one request, two prompts: stored back to back)
        # wait for the next tick, about a second later
        st, j = self.complete([words("a", 8), words("b", 8)])
        self.assertEqual(st, 200, j)
        t, topic, seq, ts, events, rank = self.sub.get(5)
        self.assertEqual([e[0] for e in events], ["BlockStored"] * 2)
        self.assertGreater(t - first[0], 0.5)
        self.assertLess(t - first[0], 2.5)
        # three events make a full batch, sent at once
        t0 = time.monotonic()
        st, j = self.complete([words("c", 8), words("d", 8), words("e", 8)])
        self.assertEqual(st, 200, j)
        t, _, seq2, _, events, _ = self.sub.get(5)
        self.assertEqual(len(events), 3)
        self.assertLess(t - t0, 0.9)
        self.assertEqual(seq2, seq + 1)
        self.sub.quiet(1.3)

    def test_replay(self):
        rport = free_port()
        self.start("--kv-events-replay-endpoint", "tcp://127.0.0.1:%d" % rport,
                   "--kv-events-replay-queue-size", "3")
        live = {}
        for p in ("a", "b", "c", "d"):
            self.complete(words(p, 8))
            m = self.sub.get()
            live[m[2]] = m
        seqs = sorted(live)
        ctx = zmq.Context()
        dealer = ctx.socket(zmq.DEALER)
        dealer.connect("tcp://127.0.0.1:%d" % rport)
        try:
            dealer.send_multipart([b"", seqs[1].to_bytes(8, "big")])
            got = []
            while True:
                self.assertTrue(dealer.poll(5000), got)
                frames = dealer.recv_multipart()
                self.assertEqual(len(frames), 4)
                self.assertEqual(frames[0], b"")
                seq = int.from_bytes(frames[2], "big")
                if seq == END_SEQ:
                    self.assertEqual((frames[1], frames[3]), (b"", b""))
                    break
                self.assertEqual(frames[1].decode(), live[seq][1])
                self.assertEqual(msgpack.unpackb(frames[3], raw=False)[1], live[seq][4])
                got.append(seq)
            # the queue keeps the last 3 batches: seqs[1:] (the sync's and seqs[0] are gone)
            self.assertEqual(got, seqs[1:])
            dealer.send_multipart([b"", (0).to_bytes(8, "big")])
            n = 0
            while int.from_bytes(dealer.recv_multipart()[2], "big") != END_SEQ:
                n += 1
            self.assertEqual(n, 3)
        finally:
            dealer.close(0)
            ctx.term()


class RankTest(KvTest):
    def test_data_parallel_ports_and_ranks(self):
        zp = free_port_pair()
        hp = free_port_pair()
        subs = [Sub(zp), Sub(zp + 1)]
        self.sub = subs[0]
        try:
            self.sim = Proc(SIMULATOR, [
                "--model", M, "--enable-kvcache", "--enable-sleep-mode", "--port", str(hp),
                "--data-parallel-size", "2", "--zmq-endpoint", "tcp://127.0.0.1:%d" % zp,
                "--block-size", "8", "--event-batch-size", "1"],
                env={"POD_IP": "10.9.8.7", "VLLM_SERVER_DEV_MODE": "1"})
            deadline = time.monotonic() + 20
            while len([j for j in self.sim.logs() if j.get("msg") == "listening"]) < 2:
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.02)
            prompt = words("r", 8)
            for rank in (0, 1):
                port = hp + rank
                self.sync(_Rank(port), subs[rank])
                st, j = self.complete(prompt, sim=_Rank(port))
                self.assertEqual(st, 200, j)
                m = subs[rank].get()
                self.assertEqual(m[1], "kv@10.9.8.7:%d@%s" % (port, M))
                self.assertEqual(m[5], rank)
            subs[0].quiet(0.2)
        finally:
            subs[1].close()

    def test_startup_errors_name_the_flag(self):
        env = dict(os.environ, POD_IP="127.0.0.1")
        env.pop("SIM_MODEL", None)
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        try:
            for args, needle in (
                    (["--zmq-endpoint", "nope://x"], "--zmq-endpoint nope://x"),
                    (["--kv-events-replay-endpoint",
                      "tcp://127.0.0.1:%d" % busy.getsockname()[1]],
                     "--kv-events-replay-endpoint")):
                p = run_binary([SIMULATOR, "--model", M, "--port", "0", "--enable-kvcache"] + args,
                               capture_output=True, text=True, timeout=20, env=env)
                self.assertNotEqual(p.returncode, 0)
                self.assertIn(needle, p.stderr)
            env.pop("POD_IP")
            p = run_binary([SIMULATOR, "--model", M, "--enable-kvcache"], capture_output=True,
                           text=True, timeout=20, env=env)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("POD_IP", p.stderr)
        finally:
            busy.close()


class _Rank:
    """The HTTP methods of Proc for one data-parallel rank's port."""

    def __init__(self, port):
        self.port = port

    def request(self, *a, **kw):
        return http_request(self.port, *a, **kw)

    def json(self, *a, **kw):
        return http_json(self.port, *a, **kw)


if __name__ == "__main__":
    unittest.main(verbosity=2)
