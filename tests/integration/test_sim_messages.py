"""pdsim-simulator's Anthropic Messages API (POST /v1/messages) against the real binary: the
message field by field, stop_reason (end_turn, max_tokens, tool_use), the named-event stream,
tool_use blocks, the cache-threshold hook, and errors in Anthropic's envelope."""

import json
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import SIMULATOR, Proc  # noqa: E402
from named_sse import named_events  # noqa: E402

M = "claude-sim"
PATH = "/v1/messages"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
WEATHER = {"name": "get_weather", "description": "Weather in a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                            "required": ["city"]}}
TIME = {"name": "get_time", "input_schema": {"type": "object", "properties": {
    "zone": {"type": "string", "enum": ["UTC", "CET"]}}, "required": ["zone"]}}


def msg(text, **kw):
    body = {"model": M, "max_tokens": 100, "messages": [{"role": "user", "content": text}]}
    body.update(kw)
    return body


class MessagesEchoTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Proc(SIMULATOR, ["--model", M, "--mode", "echo", "--seed", "5",
                                   "--time-to-first-token", "120ms", "--inter-token-latency",
                                   "15ms"])

    @classmethod
    def tearDownClass(cls):
        assert cls.sim.stop() == 0

    def post(self, body, headers=None):
        return self.sim.json("POST", PATH, body, headers=headers)

    def check_message(self, j, content, stop_reason, input_tokens, output_tokens):
        """The Anthropic message, every field."""
        self.assertEqual(list(j.keys()), ["id", "type", "role", "content", "model", "stop_reason",
                                          "stop_sequence", "usage"])
        self.assertRegex(j["id"], "^msg_" + UUID + "$")
        self.assertEqual(j["type"], "message")
        self.assertEqual(j["role"], "assistant")
        self.assertEqual(j["content"], content)
        self.assertEqual(j["model"], M)
        self.assertEqual(j["stop_reason"], stop_reason)
        self.assertIsNone(j["stop_sequence"])
        self.assertEqual(j["usage"], {"input_tokens": input_tokens,
                                      "cache_creation_input_tokens": 0,
                                      "cache_read_input_tokens": 0,
                                      "output_tokens": output_tokens})

    def test_end_turn(self):
        st, hdrs, data = self.sim.request("POST", PATH, msg("This is a test."))
        self.assertEqual(st, 200)
        self.assertEqual(hdrs["content-type"], "application/json")
        self.check_message(json.loads(data), [{"type": "text", "text": "This is a test."}],
                           "end_turn", 10, 5)

    def test_max_tokens_stop_reason(self):
        # echo never cuts the text, but reaching max_tokens makes it "length": max_tokens
        st, j = self.post(msg("This is a test.", max_tokens=3))
        self.check_message(j, [{"type": "text", "text": "This is a test."}], "max_tokens", 10, 5)

    def test_system_and_blocks_count_as_chat(self):
        body = {"model": M, "max_tokens": 50, "system": "You are terse.", "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                 "input": {"city": "Paris"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}]}]}
        st, j = self.post(body)
        self.assertEqual(st, 200)
        st, tok = self.sim.json("POST", "/tokenize", {"messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": "Checking.", "tool_calls": [{
                "id": "toolu_1", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
            {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"}]})
        self.check_message(j, [{"type": "text", "text": "sunny"}], "end_turn", tok["count"], 1)

    def test_non_ascii(self):
        text = "Grüße aus Köln — 東京 ✓"
        st, j = self.post(msg(text))
        self.assertEqual(j["content"][0]["text"], text)

    def test_stream(self):
        t0 = time.monotonic()
        st, hdrs, ev = named_events(self.sim.port, PATH, msg("This is a test.", stream=True))
        self.assertEqual(st, 200)
        self.assertTrue(hdrs["content-type"].startswith("text/event-stream"))
        self.assertEqual([e[0] for e in ev],
                         ["message_start", "content_block_start", "ping"]
                         + ["content_block_delta"] * 5
                         + ["content_block_stop", "message_delta", "message_stop"])
        start = ev[0][1]["message"]
        self.assertEqual(list(start.keys()), ["id", "type", "role", "content", "model",
                                              "stop_reason", "stop_sequence", "usage"])
        self.assertRegex(start["id"], "^msg_" + UUID + "$")
        self.assertEqual((start["type"], start["role"], start["content"], start["model"]),
                         ("message", "assistant", [], M))
        self.assertIsNone(start["stop_reason"])
        self.assertEqual(start["usage"]["input_tokens"], 10)
        self.assertEqual(ev[1][1], {"type": "content_block_start", "index": 0,
                                    "content_block": {"type": "text", "text": ""}})
        deltas = [e[1] for e in ev if e[0] == "content_block_delta"]
        for d in deltas:
            self.assertEqual((d["index"], d["delta"]["type"]), (0, "text_delta"))
        self.assertEqual("".join(d["delta"]["text"] for d in deltas), "This is a test.")
        self.assertEqual(ev[-3][1], {"type": "content_block_stop", "index": 0})
        self.assertEqual(ev[-2][1], {"type": "message_delta",
                                     "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                     "usage": {"output_tokens": 5}})
        self.assertEqual(ev[-1][1], {"type": "message_stop"})
        # message_start at once; the first delta after the TTFT
        self.assertLess(ev[0][2] - t0, 0.1)
        self.assertGreaterEqual(ev[3][2] - t0, 0.11)

    def test_cache_threshold(self):
        h = {"X-Cache-Threshold-Finish-Reason": "true"}
        st, j = self.post(msg("This is a test."), headers=h)
        self.check_message(j, [{"type": "text", "text": ""}], "max_tokens", 10, 0)
        st, _, ev = named_events(self.sim.port, PATH, msg("This is a test.", stream=True),
                                 headers=h)
        self.assertEqual([e[0] for e in ev], ["message_start", "content_block_start", "ping",
                                              "content_block_stop", "message_delta",
                                              "message_stop"])
        self.assertEqual(ev[-2][1]["delta"]["stop_reason"], "max_tokens")
        self.assertEqual(ev[-2][1]["usage"], {"output_tokens": 0})

    def test_pd_prefill(self):
        st, j = self.post(msg("Hello from P/D!", max_tokens=1,
                              kv_transfer_params={"do_remote_decode": True}))
        self.assertEqual(st, 200)
        self.assertEqual(j["stop_reason"], "end_turn")
        kv = j["kv_transfer_params"]  # for the routing sidecar, after the message's fields
        self.assertEqual((kv["do_remote_prefill"], kv["remote_port"]), (True, self.sim.port))

    def test_errors(self):
        cases = [
            (b"{\"model\":", 400, "invalid_request_error", "Failed to read and parse"),
            (msg("x", max_tokens="5"), 400, "invalid_request_error",
             "field 'max_tokens' must be an integer"),
            ({"model": M, "messages": [{"role": "user", "content": "x"}]}, 400,
             "invalid_request_error", "max_tokens is required"),
            ({"model": M, "max_tokens": 5, "messages": []}, 400, "invalid_request_error",
             "messages must not be empty"),
            (msg("x", max_tokens=0), 400, "invalid_request_error",
             "should be positive (field 'max_tokens')"),
            (msg("x", stream="yes"), 400, "invalid_request_error",
             "field 'stream' must be a boolean"),
            (msg("x", system=3), 400, "invalid_request_error", "field 'system'"),
            (msg("x", tools=[dict(WEATHER, input_schema={
                "type": "object", "properties": {"city": {"type": "strin"}}})]), 400,
             "invalid_request_error", "tools[0].input_schema.properties.city: unknown type"),
            (msg("x", tools=[WEATHER], tool_choice={"type": "tool"}), 400,
             "invalid_request_error", "requires a non-empty 'name'"),
            (msg("x", tools=[WEATHER], tool_choice={"type": "tool", "name": "nope"}), 400,
             "invalid_request_error", "names the function \"nope\""),
            (dict(msg("x"), model="gpt-4"), 404, "not_found_error",
             "The model `gpt-4` does not exist."),
        ]
        for body, status, etype, text in cases:
            data = body if isinstance(body, bytes) else json.dumps(body)
            st, j = self.sim.json("POST", PATH, data)
            self.assertEqual(st, status, body)
            self.assertEqual(list(j.keys()), ["type", "error"])
            self.assertEqual(j["type"], "error")
            self.assertEqual(list(j["error"].keys()), ["type", "message"])
            self.assertEqual(j["error"]["type"], etype, body)
            self.assertIn(text, j["error"]["message"])
        for code, etype in ((429, "rate_limit_error"), (503, "overloaded_error"),
                            (500, "api_error"), (401, "authentication_error")):
            st, j = self.post(msg("x"), headers={"X-Return-Error": str(code)})
            self.assertEqual((st, j["error"]["type"]), (code, etype))


class MessagesToolsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Proc(SIMULATOR, ["--model", M, "--seed", "9", "--inter-token-latency", "1ms",
                                   "--tool-call-extra-call-probability", "100"])

    @classmethod
    def tearDownClass(cls):
        assert cls.sim.stop() == 0

    def check_block(self, b, names):
        self.assertEqual(list(b.keys()), ["type", "id", "name", "input"])
        self.assertEqual(b["type"], "tool_use")
        self.assertRegex(b["id"], r"^toolu_\d{10}$")
        self.assertIn(b["name"], names)
        self.assertIsInstance(b["input"], dict)
        if b["name"] == "get_weather":
            self.assertIsInstance(b["input"]["city"], str)
        else:
            self.assertIn(b["input"]["zone"], ("UTC", "CET"))

    def test_tool_use(self):
        st, j = self.sim.json("POST", PATH, msg("weather?", tools=[WEATHER, TIME],
                                                tool_choice={"type": "any"}))
        self.assertEqual(st, 200)
        self.assertEqual(j["stop_reason"], "tool_use")
        self.assertEqual(len(j["content"]), 2)  # every extra call drawn, up to the tools
        for b in j["content"]:
            self.check_block(b, ("get_weather", "get_time"))
        st, j = self.sim.json("POST", PATH, msg("x", tools=[WEATHER, TIME],
                                                tool_choice={"type": "tool", "name": "get_time"}))
        self.assertEqual([b["name"] for b in j["content"]], ["get_time"])
        st, j = self.sim.json("POST", PATH, msg("x", tools=[WEATHER],
                                                tool_choice={"type": "none"}))
        self.assertEqual((j["content"][0]["type"], j["stop_reason"]), ("text", "end_turn"))

    def test_stream_tool_use(self):
        st, _, ev = named_events(self.sim.port, PATH, msg(
            "x", stream=True, tools=[WEATHER, TIME], tool_choice={"type": "any"}))
        self.assertEqual(st, 200)
        names = [e[0] for e in ev]
        self.assertEqual(names[:2], ["message_start", "ping"])
        self.assertEqual(names[-2:], ["message_delta", "message_stop"])
        blocks, cur, n_deltas = [], None, 0
        for name, j, _ in ev[2:-2]:
            if name == "content_block_start":
                self.assertIsNone(cur)
                self.assertEqual(j["index"], len(blocks))
                self.assertEqual(j["content_block"]["input"], {})
                cur = dict(j["content_block"], partial="")
            elif name == "content_block_delta":
                self.assertEqual((j["index"], j["delta"]["type"]),
                                 (len(blocks), "input_json_delta"))
                cur["partial"] += j["delta"]["partial_json"]
                n_deltas += 1
            else:
                self.assertEqual((name, j["index"]), ("content_block_stop", len(blocks)))
                blocks.append(dict(cur, input=json.loads(cur.pop("partial"))))
                cur = None
        self.assertIsNone(cur)
        self.assertEqual(len(blocks), 2)
        for b in blocks:
            self.check_block(b, ("get_weather", "get_time"))
        delta = ev[-2][1]
        self.assertEqual(delta["delta"], {"stop_reason": "tool_use", "stop_sequence": None})
        # upstream's count: 3 per call plus its argument tokens (one per delta)
        self.assertEqual(delta["usage"]["output_tokens"], 3 * 2 + n_deltas)

    def test_random_stop_reasons(self):
        st, j = self.sim.json("POST", PATH, msg("x", max_tokens=4, ignore_eos=True))
        self.assertEqual((j["stop_reason"], j["usage"]["output_tokens"]), ("max_tokens", 4))
        seen = set()
        for _ in range(30):
            st, j = self.sim.json("POST", PATH, msg("x", max_tokens=10))
            n = j["usage"]["output_tokens"]
            self.assertEqual(j["stop_reason"], "max_tokens" if n == 10 else "end_turn")
            seen.add(j["stop_reason"])
        self.assertEqual(seen, {"max_tokens", "end_turn"})


if __name__ == "__main__":
    unittest.main()
