"""pdsim-simulator's token-in, token-out API (POST /inference/v1/generate) against the real
binary: the body and the stream, the P/D handshake through sampling_params.extra_args (vLLM's
placement) and the top level, the decode side's timing, cancellation, and errors."""

import json
import os
import re
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import SIMULATOR, Proc, collect_stream  # noqa: E402

M = "gen-model"
PATH = "/inference/v1/generate"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


def gen(ids, **kw):
    body = {"model": M, "token_ids": ids, "sampling_params": kw.pop("sp", {"max_tokens": 50})}
    body.update(kw)
    return body


def metric(sim, name):
    st, _, data = sim.request("GET", "/metrics")
    m = re.search(r'^%s\{model_name="%s"\} (\S+)$' % (re.escape(name), M), data.decode(), re.M)
    return float(m.group(1))


class GenerateEchoTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Proc(SIMULATOR, ["--model", M, "--mode", "echo", "--seed", "1",
                                   "--time-to-first-token", "200ms", "--inter-token-latency", "5ms",
                                   "--kv-cache-transfer-latency", "20ms"],
                       env={"POD_IP": "10.0.0.5"})

    @classmethod
    def tearDownClass(cls):
        assert cls.sim.stop() == 0

    def test_body(self):
        st, hdrs, data = self.sim.request("POST", PATH, gen([101, 7, 4294967295]))
        self.assertEqual(st, 200)
        self.assertEqual(hdrs["content-type"], "application/json")
        j = json.loads(data)
        self.assertEqual(list(j.keys()), ["choices", "request_id", "ec_transfer_params"])
        self.assertEqual(j["choices"], [{"index": 0, "finish_reason": "stop",
                                         "token_ids": [101, 7, 4294967295]}])
        self.assertRegex(j["request_id"], "^" + UUID + "$")
        self.assertIsNone(j["ec_transfer_params"])
        # echo never cuts, but reaching max_tokens makes it "length"
        st, j = self.sim.json("POST", PATH, gen([1, 2, 3], sp={"max_tokens": 2}))
        self.assertEqual(j["choices"][0], {"index": 0, "finish_reason": "length",
                                           "token_ids": [1, 2, 3]})

    def test_stream(self):
        t0 = time.monotonic()
        st, hdrs, events, _ = collect_stream(self.sim.port, PATH, gen(
            [5, 6, 7, 8], stream=True, stream_options={"include_usage": True}))
        self.assertEqual(st, 200)
        self.assertTrue(hdrs["content-type"].startswith("text/event-stream"))
        self.assertEqual(events[-1][1], "[DONE]")
        chunks = [json.loads(e[1]) for e in events[:-1]]
        rid = chunks[0]["request_id"]
        self.assertRegex(rid, "^" + UUID + "$")
        for i, c in enumerate(chunks[:4]):
            self.assertEqual(list(c.keys()), ["request_id", "choices"])
            self.assertEqual(c["request_id"], rid)
            self.assertEqual(c["choices"], [{"index": 0,
                                             "finish_reason": "stop" if i == 3 else None,
                                             "token_ids": [5 + i]}])
        self.assertEqual(chunks[4], {"request_id": rid, "choices": [], "usage": {
            "prompt_tokens": 4, "completion_tokens": 4, "total_tokens": 8,
            "prompt_tokens_details": {"cached_tokens": 0}}})
        self.assertEqual(len(chunks), 5)
        self.assertGreaterEqual(events[0][0] - t0, 0.19)  # the TTFT
        st, _, events, _ = collect_stream(self.sim.port, PATH, gen([5], stream=True))
        self.assertEqual([e[1] for e in events][-1], "[DONE]")
        self.assertEqual(len(events), 2)  # no usage chunk without include_usage

    def test_pd(self):
        # the prefill leg, as vLLM sends it: kv_transfer_params in sampling_params.extra_args
        body = gen(list(range(40)), sp={"max_tokens": 1, "extra_args": {"kv_transfer_params": {
            "do_remote_decode": True, "do_remote_prefill": False, "remote_engine_id": None}}})
        st, j = self.sim.json("POST", PATH, body)
        self.assertEqual(st, 200)
        self.assertEqual(list(j.keys()), ["kv_transfer_params", "choices", "request_id",
                                          "ec_transfer_params"])
        self.assertEqual(j["choices"][0]["finish_reason"], "remote_decode")
        kv = j["kv_transfer_params"]
        self.assertEqual((kv["do_remote_decode"], kv["do_remote_prefill"], kv["remote_host"],
                          kv["remote_port"], kv["tp_size"]),
                         (False, True, "10.0.0.5", self.sim.port, 1))
        st, q = self.sim.json("GET", "/query")
        self.assertEqual(kv["remote_engine_id"], q["0"]["engine_id"])
        self.assertTrue(kv["remote_block_ids"])
        # the same at the top level; and the same prompt gives the same blocks
        st, j2 = self.sim.json("POST", PATH, gen(list(range(40)), sp={"max_tokens": 1},
                                                 kv_transfer_params={"do_remote_decode": True}))
        self.assertEqual(j2["kv_transfer_params"], kv)
        # the decode leg: the KV transfer latency (20ms) instead of the prefill's TTFT (200ms)
        for kw in ({"kv_transfer_params": dict(kv, do_remote_prefill=True)},
                   {"sp": {"max_tokens": 5, "extra_args": {
                       "kv_transfer_params": dict(kv, do_remote_prefill=True)}}}):
            t0 = time.monotonic()
            st, _, events, _ = collect_stream(self.sim.port, PATH,
                                              gen(list(range(40)), stream=True, **kw))
            self.assertEqual(st, 200)
            self.assertLess(events[0][0] - t0, 0.15)
            self.assertEqual(events[-1][1], "[DONE]")
        t0 = time.monotonic()
        st, j = self.sim.json("POST", PATH, gen([1]))
        self.assertGreaterEqual(time.monotonic() - t0, 0.19)
        st, j = self.sim.json("POST", PATH, gen([1], stream=True,
                                                kv_transfer_params={"do_remote_decode": True}))
        self.assertEqual((st, j["error"]["message"]), (400, "Prefill does not support streaming"))

    def test_errors(self):
        cases = [
            (b"[1,2", 400, None, "Failed to read and parse request body"),
            ({"model": M, "sampling_params": {}}, 400, "token_ids", "Missing input token_ids"),
            ({"model": M, "token_ids": [1]}, 400, "sampling_params",
             "Missing sampling_params field"),
            (gen("1 2"), 400, "token_ids", "must be an array of token ids"),
            (gen([]), 400, "token_ids", "must not be empty"),
            (gen([1, -1]), 400, "token_ids", "(item 1 is not one)"),
            (gen([1], sp=[]), 400, "sampling_params", "must be an object"),
            (gen([1], sp={"max_tokens": 1.5}), 400, "sampling_params.max_tokens",
             "must be an integer"),
            (gen([1], sp={"max_tokens": 0}), 400, "sampling_params.max_tokens",
             "should be positive"),
            (gen([1], stream=1), 400, "stream", "must be a boolean"),
            (gen([1], sp={}, ignore_eos=True), 400, "ignore_eos", "Ignore_eos is true"),
            (gen(list(range(1100))), 400, None, "maximum context length is 1024 tokens"),
            (dict(gen([1]), model="x"), 404, "model", "The model `x` does not exist."),
        ]
        for body, status, param, msg in cases:
            data = body if isinstance(body, bytes) else json.dumps(body)
            st, j = self.sim.json("POST", PATH, data)
            self.assertEqual((st, j["error"]["code"]), (status, status), body)
            self.assertEqual(j["error"]["param"], param, body)
            self.assertIn(msg, j["error"]["message"])
        st, j = self.sim.json("POST", PATH, gen([1]), headers={"X-Return-Error": "503"})
        self.assertEqual((st, j["error"]["type"]), (503, "InternalServerError"))
        st, j = self.sim.json("POST", PATH, gen([1]),
                              headers={"X-Cache-Threshold-Finish-Reason": "true"})
        self.assertEqual(j["choices"][0]["finish_reason"], "stop")  # not a generate hook


class GenerateRandomTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Proc(SIMULATOR, ["--model", M, "--seed", "2", "--inter-token-latency", "20ms",
                                   "--max-num-seqs", "1"])

    @classmethod
    def tearDownClass(cls):
        assert cls.sim.stop() == 0

    def test_random_ids(self):
        st, j = self.sim.json("POST", PATH, gen([1, 2], sp={"max_tokens": 12}, ignore_eos=True))
        ids = j["choices"][0]["token_ids"]
        self.assertEqual((len(ids), j["choices"][0]["finish_reason"]), (12, "length"))
        self.assertTrue(all(isinstance(i, int) and 0 <= i < 2 ** 32 for i in ids))
        # the ids are the dummy tokenizer's ids of the generated text's tokens
        st, tok = self.sim.json("POST", "/tokenize", {"prompt": "Testing, testing 1,2,3. "})
        vocab = set(tok["tokens"])
        for s in ("I am fine, how are you today? ", "Today is a nice sunny day. "):
            vocab |= set(self.sim.json("POST", "/tokenize", {"prompt": s})[1]["tokens"])
        self.assertTrue(set(ids) & vocab)

    def test_disconnect_frees_the_slot(self):
        s = socket.create_connection(("127.0.0.1", self.sim.port), timeout=10)
        body = json.dumps(gen([1], sp={"max_tokens": 500}, ignore_eos=True, stream=True))
        s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   "Content-Length: %d\r\n\r\n%s" % (PATH, len(body), body)).encode())
        got = b""
        while got.count(b"token_ids") < 3:
            got += s.recv(4096)
        self.assertEqual(metric(self.sim, "vllm:num_requests_running"), 1)
        s.close()
        deadline = time.monotonic() + 5
        while metric(self.sim, "vllm:num_requests_running") != 0:
            self.assertLess(time.monotonic(), deadline, "the slot was not freed")
            time.sleep(0.05)
        # the only slot (--max-num-seqs 1) serves the next request at once
        t0 = time.monotonic()
        st, j = self.sim.json("POST", PATH, gen([1], sp={"max_tokens": 2}, ignore_eos=True))
        self.assertEqual(st, 200)
        self.assertLess(time.monotonic() - t0, 2)


if __name__ == "__main__":
    unittest.main()
