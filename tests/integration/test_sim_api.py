"""pdsim-simulator HTTP surface: shapes, framing, errors, P/D, against the real binary."""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import SIMULATOR, Proc, collect_stream, raw_request  # noqa: E402

MODEL = "meta-llama/Llama-3.1-8B-Instruct"


class ApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Proc(SIMULATOR, ["--model", MODEL, "--served-model-name", MODEL, "alias2",
                                   "--mode", "echo", "--max-model-len", "64", "--seed", "7",
                                   "--max-request-body-size-mb", "1"],
                       env={"POD_NAME": "pod-a", "POD_NAMESPACE": "ns-b", "POD_IP": "10.1.2.3"})

    @classmethod
    def tearDownClass(cls):
        rc = cls.sim.stop()
        assert rc == 0, "simulator exit code %s" % rc

    def chat(self, content, **kw):
        body = {"model": MODEL, "messages": [{"role": "user", "content": content}]}
        body.update(kw)
        return body

    def test_chat_nonstream_shape(self):
        st, hdrs, data = self.sim.request("POST", "/v1/chat/completions",
                                          self.chat("This is a test."))
        self.assertEqual(st, 200)
        self.assertEqual(hdrs["content-type"], "application/json")
        self.assertEqual(hdrs["x-inference-pod"], "pod-a")
        self.assertEqual(hdrs["x-inference-namespace"], "ns-b")
        self.assertEqual(hdrs["x-inference-port"], str(self.sim.port))
        j = json.loads(data)
        self.assertEqual(list(j.keys()), ["id", "model", "object", "created", "usage", "choices"])
        self.assertTrue(j["id"].startswith("chatcmpl-"))
        self.assertEqual(j["object"], "chat.completion")
        self.assertEqual(j["model"], MODEL)
        self.assertEqual(j["usage"], {"prompt_tokens": 10, "completion_tokens": 5,
                                      "total_tokens": 15,
                                      "prompt_tokens_details": {"cached_tokens": 0}})
        ch = j["choices"][0]
        self.assertEqual(list(ch.keys()), ["index", "finish_reason", "message"])
        self.assertEqual(ch["message"], {"role": "assistant", "content": "This is a test."})
        self.assertEqual(ch["finish_reason"], "stop")

    def test_alias_shows_first_name(self):
        body = self.chat("hi")
        body["model"] = "alias2"
        st, j = self.sim.json("POST", "/v1/chat/completions", body)
        self.assertEqual(st, 200)
        self.assertEqual(j["model"], MODEL)

    def test_chat_stream_framing(self):
        body = self.chat("This is a test.", stream=True, stream_options={"include_usage": True})
        st, hdrs, events, _ = collect_stream(self.sim.port, "/v1/chat/completions", body)
        self.assertEqual(st, 200)
        self.assertTrue(hdrs["content-type"].startswith("text/event-stream"))
        self.assertEqual(hdrs.get("transfer-encoding"), "chunked")
        self.assertEqual(events[-1][1], "[DONE]")
        chunks = [json.loads(e[1]) for e in events[:-1]]
        self.assertEqual(chunks[0]["choices"][0]["delta"], {"role": "assistant"})
        self.assertEqual(list(chunks[0].keys()),
                         ["id", "model", "object", "created", "usage", "choices"])
        content = "".join(c["choices"][0]["delta"].get("content", "")
                          for c in chunks if c["choices"])
        self.assertEqual(content, "This is a test.")
        self.assertEqual(len({c["id"] for c in chunks}), 1)
        self.assertEqual(len({c["created"] for c in chunks}), 1)
        for c in chunks:
            self.assertEqual(c["object"], "chat.completion.chunk")
        fin = chunks[-2]["choices"][0]
        self.assertEqual(fin["delta"], {})
        self.assertEqual(fin["finish_reason"], "stop")
        usage = [c for c in chunks if c["usage"]]
        self.assertEqual(len(usage), 1)
        self.assertEqual(usage[0]["choices"], [])
        self.assertEqual(usage[0]["usage"]["prompt_tokens"], 10)
        self.assertEqual(usage[0]["usage"]["completion_tokens"], 5)

    def test_stream_without_usage(self):
        st, _, events, _ = collect_stream(self.sim.port, "/v1/chat/completions",
                                          self.chat("a b", stream=True))
        self.assertEqual(st, 200)
        chunks = [json.loads(e[1]) for e in events[:-1]]
        self.assertTrue(all(c["usage"] is None for c in chunks))

    def test_n_choices(self):
        st, j = self.sim.json("POST", "/v1/chat/completions", self.chat("one two", n=3))
        self.assertEqual(st, 200)
        self.assertEqual([c["index"] for c in j["choices"]], [0, 1, 2])
        self.assertEqual(j["usage"]["prompt_tokens"], 7)
        self.assertEqual(j["usage"]["completion_tokens"], 6)
        st, _, events, _ = collect_stream(self.sim.port, "/v1/chat/completions",
                                          self.chat("one two", n=3, stream=True))
        idx = {json.loads(e[1])["choices"][0]["index"] for e in events[:-1]}
        self.assertEqual(idx, {0, 1, 2})

    def test_echo_finish_length(self):
        st, j = self.sim.json("POST", "/v1/chat/completions",
                              self.chat("This is a test.", max_tokens=2))
        self.assertEqual(j["choices"][0]["message"]["content"], "This is a test.")
        self.assertEqual(j["choices"][0]["finish_reason"], "length")

    def test_non_ascii_kept(self):
        st, j = self.sim.json("POST", "/v1/chat/completions", self.chat("héllo wörld 日本"))
        self.assertEqual(j["choices"][0]["message"]["content"], "héllo wörld 日本")

    def test_completions(self):
        st, j = self.sim.json("POST", "/v1/completions", {"model": MODEL,
                                                           "prompt": "This is a test."})
        self.assertEqual(st, 200)
        self.assertEqual(list(j.keys()), ["id", "model", "object", "created", "usage", "choices"])
        self.assertTrue(j["id"].startswith("cmpl-"))
        self.assertEqual(j["object"], "text_completion")
        self.assertEqual(j["choices"][0], {"index": 0, "finish_reason": "stop",
                                           "text": "This is a test."})
        self.assertEqual(j["usage"]["prompt_tokens"], 5)
        st, j = self.sim.json("POST", "/v1/completions",
                              {"model": MODEL, "prompt": ["a b", "c"], "n": 2})
        self.assertEqual([c["text"] for c in j["choices"]], ["a b", "a b", "c", "c"])
        self.assertEqual(j["usage"]["prompt_tokens"], 3)
        st, j = self.sim.json("POST", "/v1/completions", {"model": MODEL, "prompt": [1, 2, 3]})
        self.assertEqual(j["choices"][0]["text"], "1,2,3")
        self.assertEqual(j["usage"]["prompt_tokens"], 3)
        st, j = self.sim.json("POST", "/v1/completions", {"model": MODEL, "prompt": [[1], [2, 3]]})
        self.assertEqual(len(j["choices"]), 2)

    def test_completions_stream(self):
        st, _, events, _ = collect_stream(
            self.sim.port, "/v1/completions",
            {"model": MODEL, "prompt": "x y", "stream": True,
             "stream_options": {"include_usage": True}})
        chunks = [json.loads(e[1]) for e in events[:-1]]
        self.assertEqual("".join(c["choices"][0]["text"] for c in chunks if c["choices"]), "x y")
        self.assertEqual(chunks[-2]["choices"][0], {"index": 0, "finish_reason": "stop",
                                                     "text": ""})
        self.assertEqual(chunks[0]["object"], "text_completion")

    def test_models(self):
        st, j = self.sim.json("GET", "/v1/models")
        self.assertEqual(st, 200)
        self.assertEqual([m["id"] for m in j["data"]], [MODEL, "alias2"])
        self.assertEqual(j["data"][0]["root"], MODEL)
        self.assertEqual(j["data"][0]["max_model_len"], 64)
        self.assertEqual(j["data"][0]["owned_by"], "vllm")

    def test_health_and_tokenize(self):
        for path in ("/health", "/health/ready", "/ready"):
            st, _, _ = self.sim.request("GET", path)
            self.assertEqual(st, 200, path)
        st, j = self.sim.json("POST", "/tokenize", {"model": MODEL, "prompt": "This is a test."})
        self.assertEqual(st, 200)
        self.assertEqual(j["count"], 5)
        self.assertEqual(len(j["tokens"]), 5)
        self.assertEqual(j["max_model_len"], 64)
        self.assertIsNone(j["token_strs"])
        st, j = self.sim.json("POST", "/tokenize", {"messages": [{"role": "user",
                                                                  "content": "This is a test."}]})
        self.assertEqual(j["count"], 10)
        st, j = self.sim.json("POST", "/tokenize", {"prompt": "a", "messages": []})
        self.assertEqual(st, 400)

    def test_metrics_endpoint(self):
        st, hdrs, data = self.sim.request("GET", "/metrics")
        self.assertEqual(st, 200)
        self.assertTrue(hdrs["content-type"].startswith("text/plain"))
        text = data.decode()
        self.assertIn('vllm:num_requests_running{model_name="%s"}' % MODEL, text)

    def err(self, status, j, needle=None, param=None):
        self.assertEqual(set(j.keys()), {"error"})
        e = j["error"]
        self.assertEqual(list(e.keys()), ["message", "type", "param", "code"])
        self.assertEqual(e["code"], status)
        if needle:
            self.assertIn(needle, e["message"])
        if param:
            self.assertEqual(e["param"], param)

    def test_bad_input(self):
        cases = [
            ("{not json", 400, "Failed to read and parse request body", None),
            ("[1,2]", 400, "expected a JSON object", None),
            (json.dumps(self.chat("x", max_tokens="ten")), 400, "'max_tokens' must be an integer",
             "max_tokens"),
            (json.dumps(self.chat("x", stream="yes")), 400, "'stream' must be a boolean",
             "stream"),
            (json.dumps({"model": MODEL, "messages": "hi"}), 400, "'messages' must be an array",
             "messages"),
            (json.dumps({"model": MODEL}), 400, "'messages' is required", "messages"),
            (json.dumps(self.chat("x", n=0)), 400, "n must be at least 1", "n"),
            (json.dumps(self.chat("x", max_tokens=-1)), 400,
             "Max completion tokens and max tokens should be positive", None),
            (json.dumps(self.chat("x", ignore_eos=True)), 400, "Ignore_eos is true", None),
            (json.dumps(self.chat("x", stream=True,
                                  kv_transfer_params={"do_remote_decode": True})), 400,
             "Prefill does not support streaming", None),
            (json.dumps(dict(self.chat("x"), model="nope")), 404,
             "The model `nope` does not exist.", "model"),
        ]
        for body, status, needle, param in cases:
            st, hdrs, data = self.sim.request("POST", "/v1/chat/completions", body)
            self.assertEqual(st, status, body)
            self.assertEqual(hdrs["content-type"], "application/json")
            self.err(status, json.loads(data), needle, param)
            ty = json.loads(data)["error"]["type"]
            self.assertEqual(ty, {400: "BadRequestError", 404: "NotFoundError"}[status])
        for body in ({"model": MODEL, "prompt": []}, {"model": MODEL, "prompt": ""},
                     {"model": MODEL, "prompt": [[]]}, {"model": MODEL, "prompt": [1, "a"]},
                     {"model": MODEL, "prompt": {"a": 1}}, {"model": MODEL}):
            st, j = self.sim.json("POST", "/v1/completions", body)
            self.assertEqual(st, 400, body)
            self.err(400, j)

    def test_context_window(self):
        st, j = self.sim.json("POST", "/v1/chat/completions",
                              self.chat("This is a test message", max_tokens=60))
        self.assertEqual(st, 400)
        self.err(400, j, "This model's maximum context length is 64 tokens. However, you "
                         "requested 70 tokens (10 in the messages, 60 in the completion)")
        self.assertEqual(j["error"]["type"], "BadRequestError")

    def test_body_too_large(self):
        big = json.dumps(self.chat("x" * (2 << 20)))
        st, hdrs, data = self.sim.request("POST", "/v1/chat/completions", big)
        self.assertEqual(st, 413)
        self.err(413, json.loads(data), "larger than the limit")
        st, _, _ = self.sim.request("GET", "/health")  # still serving
        self.assertEqual(st, 200)

    def test_wrong_method_and_route(self):
        st, hdrs, data = self.sim.request("GET", "/v1/chat/completions")
        self.assertEqual(st, 405)
        self.assertEqual(hdrs["allow"], "POST")
        self.err(405, json.loads(data))
        st, _, data = self.sim.request("POST", "/v1/models", "{}")
        self.assertEqual(st, 405)
        st, _, data = self.sim.request("GET", "/v1/nothing")
        self.assertEqual(st, 404)
        self.err(404, json.loads(data))

    def test_garbage_never_kills_server(self):
        for raw in (b"GARBAGE\r\n\r\n", b"POST /v1/completions HTTP/1.1\r\nContent-Length: 5\r\n"
                    b"\r\n\x00\xff\x00\xff\x00", b"\x16\x03\x01\x00\xa5\x01\x00\x00"):
            raw_request(self.sim.port, raw, read_timeout=2)
        st, _, _ = self.sim.request("GET", "/health")
        self.assertEqual(st, 200)

    def test_pd_prefill_side(self):
        body = self.chat("Hello from P/D architecture!", max_tokens=1,
                         kv_transfer_params={"do_remote_decode": True, "do_remote_prefill": False,
                                             "remote_engine_id": None, "remote_block_ids": None,
                                             "remote_host": None, "remote_port": None})
        st, j = self.sim.json("POST", "/v1/chat/completions", body)
        self.assertEqual(st, 200)
        self.assertEqual(list(j.keys()), ["id", "model", "object", "kv_transfer_params", "created",
                                          "usage", "choices"])
        self.assertEqual(j["choices"][0]["finish_reason"], "remote_decode")
        kv = j["kv_transfer_params"]
        self.assertEqual(kv["do_remote_decode"], False)
        self.assertEqual(kv["do_remote_prefill"], True)
        self.assertEqual(kv["remote_host"], "10.1.2.3")
        self.assertEqual(kv["remote_port"], self.sim.port)
        self.assertEqual(kv["tp_size"], 1)
        self.assertEqual(len(kv["remote_engine_id"]), 36)
        self.assertTrue(kv["remote_block_ids"])
        st, j2 = self.sim.json("POST", "/v1/chat/completions", body)
        self.assertEqual(j2["kv_transfer_params"], kv)  # stable engine id, same prompt blocks
        st, j3 = self.sim.json("POST", "/v1/completions", {
            "model": MODEL, "prompt": "p", "max_tokens": 1,
            "kv_transfer_params": {"do_remote_decode": True}})
        self.assertEqual(j3["choices"][0]["finish_reason"], "remote_decode")
        self.assertIn("kv_transfer_params", j3)
        # the decode side: allowed to stream, no kv_transfer_params returned
        st, _, events, _ = collect_stream(self.sim.port, "/v1/chat/completions", self.chat(
            "hi", stream=True, kv_transfer_params=dict(kv, do_remote_prefill=True)))
        self.assertEqual(st, 200)
        self.assertEqual(events[-1][1], "[DONE]")
        st, j4 = self.sim.json("POST", "/v1/chat/completions",
                               self.chat("hi", kv_transfer_params={"do_remote_prefill": True}))
        self.assertNotIn("kv_transfer_params", j4)
        self.assertEqual(j4["choices"][0]["finish_reason"], "stop")


class RandomModeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Proc(SIMULATOR, ["--model", "testmodel", "--seed", "42"])

    @classmethod
    def tearDownClass(cls):
        assert cls.sim.stop() == 0

    def test_max_tokens_bounds(self):
        for m in (1, 3, 7, 50):
            for _ in range(5):
                st, j = self.sim.json("POST", "/v1/completions",
                                      {"model": "testmodel", "prompt": "hello", "max_tokens": m})
                k = j["usage"]["completion_tokens"]
                self.assertTrue(1 <= k <= m, (m, k))
                self.assertEqual(j["choices"][0]["finish_reason"], "length" if k == m else "stop")
        st, j = self.sim.json("POST", "/v1/chat/completions", {
            "model": "testmodel", "messages": [{"role": "user", "content": "x"}], "max_tokens": 1,
            "stream": False})
        self.assertEqual(j["choices"][0]["finish_reason"], "length")

    def test_ignore_eos(self):
        st, j = self.sim.json("POST", "/v1/completions", {"model": "testmodel", "prompt": "x",
                                                           "max_tokens": 40, "ignore_eos": True})
        self.assertEqual(j["usage"]["completion_tokens"], 40)
        self.assertEqual(j["choices"][0]["finish_reason"], "length")

    def test_same_seed_same_output(self):
        other = Proc(SIMULATOR, ["--model", "testmodel", "--seed", "42"])
        try:
            body = {"model": "testmodel", "prompt": "x", "max_tokens": 30}
            a = self.sim_fresh_text(other, body)
            third = Proc(SIMULATOR, ["--model", "testmodel", "--seed", "42"])
            try:
                b = self.sim_fresh_text(third, body)
            finally:
                third.stop()
            self.assertEqual(a, b)  # same text and same id after a restart
            fourth = Proc(SIMULATOR, ["--model", "testmodel", "--seed", "43"])
            try:
                c = self.sim_fresh_text(fourth, body)
            finally:
                fourth.stop()
            self.assertNotEqual(a[0], c[0])  # another seed: other text
            self.assertNotEqual(a[1], c[1])  # and other ids
        finally:
            other.stop()

    def sim_fresh_text(self, p, body):
        st, j = p.json("POST", "/v1/completions", body)
        return j["choices"][0]["text"], j["id"]


if __name__ == "__main__":
    unittest.main(verbosity=2)
