"""pdsim-simulator tool calls: tools / tool_choice on /v1/chat/completions against the real
binary. Shapes (streamed and not), arguments that follow the schema, counts per tool_choice,
usage, pacing, errors, metrics, and determinism across restarts with the same --seed."""

import json
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import SIMULATOR, Proc, collect_stream  # noqa: E402

M = "m"
CHAT = "/v1/chat/completions"
WORDS = {"testing", "hello", "Boston", "sunny", "temperature", "cloudy", "question", "Yorick",
         "silence", "lifetime"}

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 7},
        "hours": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 4},
        "where": {"type": "object", "properties": {
            "lat": {"type": "number", "minimum": -90, "maximum": 90},
            "exact": {"type": "boolean"}}, "required": ["lat"]}},
        "required": ["city", "days", "where"]}}}
TIME = {"type": "function", "function": {"name": "get-time", "parameters": {
    "type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}}}
TOOLS = [WEATHER, TIME]
SCHEMAS = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}


def check(value, schema, path="args"):
    """Assert that value follows schema (the subset the simulator generates)."""
    if "enum" in schema:
        assert value in schema["enum"], (path, value)
        return
    t = schema["type"]
    if t == "string":
        assert value in WORDS, (path, value)
    elif t == "integer":
        assert isinstance(value, int) and not isinstance(value, bool), (path, value)
        assert schema.get("minimum", 0) <= value <= schema.get("maximum", 100), (path, value)
    elif t == "number":
        assert isinstance(value, (int, float)) and not isinstance(value, bool), (path, value)
        assert schema.get("minimum", 0) <= value <= schema.get("maximum", 100), (path, value)
    elif t == "boolean":
        assert isinstance(value, bool), (path, value)
    elif t == "array":
        assert isinstance(value, list), (path, value)
        assert schema.get("minItems", 1) <= len(value) <= schema.get("maxItems", 5), (path, value)
        for i, v in enumerate(value):
            check(v, schema["items"], "%s[%d]" % (path, i))
    elif t == "object":
        assert isinstance(value, dict), (path, value)
        props = schema.get("properties", {})
        assert set(value) <= set(props), (path, value)
        for r in schema.get("required", []):
            assert r in value, (path, r, value)
        for k, v in value.items():
            check(v, props[k], path + "." + k)
    else:
        raise AssertionError((path, t))


def body(**kw):
    b = {"model": M, "messages": [{"role": "user", "content": "What is the weather?"}],
         "tools": TOOLS}
    b.update(kw)
    return b


def sse_chunks(events):
    """The JSON chunks of a stream; asserts it ends with [DONE]."""
    assert events and events[-1][1] == "[DONE]", events[-3:]
    return [json.loads(d) for _, d in events[:-1]]


def reassemble(chunks):
    """Per choice index: the tool calls rebuilt from the stream, with chunk counts and the
    finish reasons seen. Checks the per-chunk shape on the way."""
    out = {}
    for c in chunks:
        for ch in c["choices"]:
            calls = out.setdefault(ch["index"], {"calls": {}, "finish": [], "role": 0})
            d = ch["delta"]
            if d.get("role") == "assistant":
                calls["role"] += 1
                continue
            assert "content" not in d, d
            (tc,) = d["tool_calls"]
            assert tc["type"] == "function"
            k = tc["index"]
            call = calls["calls"].setdefault(k, {"id": tc["id"], "name": tc["function"]["name"],
                                                 "args": "", "chunks": 0})
            if call["chunks"] > 0:
                assert tc["function"]["name"] is None, tc
            assert tc["id"] == call["id"]
            call["args"] += tc["function"]["arguments"]
            call["chunks"] += 1
            if ch["finish_reason"] is not None:
                calls["finish"].append((k, ch["finish_reason"]))
    return out


class ToolsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Proc(SIMULATOR, ["--model", M, "--seed", "7"])

    @classmethod
    def tearDownClass(cls):
        assert cls.sim.stop() == 0

    def tokens(self, text):
        st, j = self.sim.json("POST", "/tokenize", {"model": M, "prompt": text})
        self.assertEqual(st, 200, j)
        return j["count"]

    def check_call(self, tc, name=None):
        self.assertRegex(tc["id"], r"^chatcmpl-tool-[0-9]{10}$")
        self.assertEqual(tc["type"], "function")
        if name:
            self.assertEqual(tc["function"]["name"], name)
        args = json.loads(tc["function"]["arguments"])
        check(args, SCHEMAS[tc["function"]["name"]])
        return args

    def test_named_non_stream(self):
        for _ in range(10):
            st, j = self.sim.json("POST", CHAT, body(tool_choice={
                "type": "function", "function": {"name": "get_weather"}}))
            self.assertEqual(st, 200, j)
            ch = j["choices"][0]
            self.assertEqual(ch["finish_reason"], "tool_calls")
            self.assertNotIn("content", ch["message"])
            self.assertEqual(ch["message"]["role"], "assistant")
            (tc,) = ch["message"]["tool_calls"]
            self.check_call(tc, "get_weather")
            want = 3 + self.tokens(tc["function"]["arguments"])
            self.assertEqual(j["usage"]["completion_tokens"], want)
            self.assertEqual(j["usage"]["total_tokens"],
                             j["usage"]["prompt_tokens"] + want)

    def test_stream_shape(self):
        seen_multi = False
        for i in range(12):
            st, h, events, _ = collect_stream(self.sim.port, CHAT, body(
                tool_choice="required", n=2, stream=True,
                stream_options={"include_usage": True}))
            self.assertEqual(st, 200)
            chunks = sse_chunks(events)
            usage = chunks[-1]
            self.assertEqual(usage["choices"], [])
            per = reassemble(chunks[:-1])
            self.assertEqual(sorted(per), [0, 1])
            total = 0
            for idx, p in per.items():
                self.assertEqual(p["role"], 1)
                ks = sorted(p["calls"])
                self.assertEqual(ks, list(range(len(ks))))
                self.assertGreaterEqual(len(ks), 1)
                seen_multi = seen_multi or len(ks) > 1
                # the finish reason rides on the last chunk of each call, no finish chunk
                self.assertEqual(p["finish"], [(k, "tool_calls") for k in ks])
                for k in ks:
                    call = p["calls"][k]
                    self.assertIn(call["name"], SCHEMAS)
                    self.assertRegex(call["id"], r"^chatcmpl-tool-[0-9]{10}$")
                    check(json.loads(call["args"]), SCHEMAS[call["name"]])
                    self.assertEqual(call["chunks"], self.tokens(call["args"]))
                    total += 3 + call["chunks"]
            self.assertEqual(usage["usage"]["completion_tokens"], total)
        self.assertTrue(seen_multi, "45% extra calls never gave two calls in 24 choices")

    def test_choice_none_and_auto(self):
        st, j = self.sim.json("POST", CHAT, body(tool_choice="none", max_tokens=5))
        self.assertEqual(st, 200, j)
        ch = j["choices"][0]
        self.assertIn(ch["finish_reason"], ("stop", "length"))
        self.assertNotIn("tool_calls", ch["message"])
        self.assertTrue(ch["message"]["content"])
        outcomes = set()
        for _ in range(30):
            st, j = self.sim.json("POST", CHAT, body(max_tokens=5))  # auto by default
            self.assertEqual(st, 200, j)
            ch = j["choices"][0]
            if "tool_calls" in ch["message"]:
                self.assertEqual(ch["finish_reason"], "tool_calls")
                for tc in ch["message"]["tool_calls"]:
                    self.check_call(tc)
                outcomes.add("tools")
            else:
                self.assertIn(ch["finish_reason"], ("stop", "length"))
                outcomes.add("text")
        self.assertEqual(outcomes, {"tools", "text"})
        # "none"/"auto" without tools are accepted
        for choice in ("none", "auto"):
            b = body(tool_choice=choice)
            del b["tools"]
            st, j = self.sim.json("POST", CHAT, b)
            self.assertEqual(st, 200, j)

    def test_tool_messages_in_prompt(self):
        msgs = [{"role": "user", "content": "weather?"},
                {"role": "assistant", "content": None, "tool_calls": [{
                    "id": "c1", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"city\":\"Boston\"}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "sunny"}]
        st, j = self.sim.json("POST", CHAT, body(messages=msgs, tool_choice="none"))
        self.assertEqual(st, 200, j)
        flat = ("### user: weather?\n### assistant: [get_weather({\"city\":\"Boston\"})]\n"
                "### tool(c1): sunny\n")
        self.assertEqual(j["usage"]["prompt_tokens"], self.tokens(flat))

    def test_no_logprobs_for_tools(self):
        st, j = self.sim.json("POST", CHAT, body(tool_choice="required", logprobs=True))
        self.assertEqual(st, 200, j)
        self.assertNotIn("logprobs", j["choices"][0])

    def test_errors(self):
        bad = {"type": "function", "function": {"name": "f", "parameters": {
            "type": "object", "properties": {"city": {"type": "strin"}}}}}
        cases = (
            (body(tools=[bad]), "tools",
             "Tool validation failed: tools[0].function.parameters.properties.city: "
             "unknown type \"strin\""),
            (body(tools=[{"type": "function", "function": {"name": "f", "parameters": {
                "type": "object", "properties": {"a": {"type": "string"}}, "required": ["b"]}}}]),
             "tools", "\"required\" names \"b\", which is not in \"properties\""),
            (body(tools=[{"type": "function", "function": {"name": "bad name"}}]), "tools",
             "tools[0].function.name"),
            (body(tool_choice={"type": "function", "function": {"name": "nope"}}),
             "tool_choice", "tool_choice names the function \"nope\", which is not in tools"),
            (body(tool_choice="sometimes"), "tool_choice", "tool_choice must be"),
            (body(tools={"a": 1}), "tools", "field 'tools' must be an array"),
            (body(tool_choice=3), "tool_choice", "field 'tool_choice' must be"),
            ({"model": M, "messages": [{"role": "user", "content": "x"}],
              "tool_choice": "required"}, "tool_choice",
             "When using `tool_choice`, `tools` must be set."),
        )
        for b, param, want in cases:
            st, j = self.sim.json("POST", CHAT, b)
            self.assertEqual(st, 400, (b, j))
            self.assertEqual(j["error"]["param"], param)
            self.assertEqual(j["error"]["type"], "BadRequestError")
            self.assertIn(want, j["error"]["message"])
        # the model is checked before the tools, as upstream
        st, j = self.sim.json("POST", CHAT, body(model="other", tools=[bad]))
        self.assertEqual(st, 404, j)

    def test_metrics(self):
        st, j = self.sim.json("POST", CHAT, body(tool_choice="required"))
        self.assertEqual(st, 200)
        st, h, data = self.sim.request("GET", "/metrics")
        m = re.search(r'vllm:request_success_total\{[^}]*finish_reason="tool_calls"\} (\d+)',
                      data.decode())
        self.assertIsNotNone(m)
        self.assertGreaterEqual(int(m.group(1)), 1)


class ToolsConfigTest(unittest.TestCase):
    def run_sequence(self, seed):
        """The tool calls of a fixed request sequence on a fresh server."""
        sim = Proc(SIMULATOR, ["--model", M, "--seed", str(seed)])
        try:
            out = []
            for b in (body(tool_choice="required", n=3), body(), body(n=2),
                      body(tool_choice={"type": "function", "function": {"name": "get-time"}})):
                st, j = sim.json("POST", CHAT, b)
                self.assertEqual(st, 200, j)
                out.append([c["message"].get("tool_calls") or c["message"]["content"]
                            for c in j["choices"]])
            return out
        finally:
            self.assertEqual(sim.stop(), 0)

    def test_determinism_across_restarts(self):
        a, b, c = self.run_sequence(42), self.run_sequence(42), self.run_sequence(43)
        self.assertEqual(a, b)
        self.assertNotEqual(a, c)
        ids = [tc["id"] for r in a for ch in r if isinstance(ch, list) for tc in ch]
        self.assertTrue(ids)

    def test_flags(self):
        sim = Proc(SIMULATOR, ["--model", M, "--seed", "1", "--skip-tool-validation",
                               "--tool-call-extra-call-probability", "100",
                               "--min-tool-call-integer-param", "500",
                               "--max-tool-call-integer-param", "502",
                               "--min-tool-call-array-param-length", "3",
                               "--max-tool-call-array-param-length", "3",
                               "--tool-call-not-required-param-probability", "100",
                               "--inter-token-latency", "20ms", "--time-to-first-token", "50ms"])
        try:
            tool = {"type": "function", "function": {"name": "f", "parameters": {
                "type": "object", "properties": {
                    "i": {"type": "integer"}, "a": {"type": "array", "items": {"type": "string"}},
                    "x": {"type": "strin", "format": "odd"}}}}}
            st, j = sim.json("POST", CHAT, body(tools=[tool, TIME], tool_choice="auto"))
            self.assertEqual(st, 200, j)
            calls = j["choices"][0]["message"]["tool_calls"]
            self.assertEqual(len(calls), 2)  # 100%: every tool
            for tc in calls:
                args = json.loads(tc["function"]["arguments"])
                if tc["function"]["name"] == "f":
                    self.assertTrue(500 <= args["i"] <= 502, args)
                    self.assertEqual(len(args["a"]), 3)
                    self.assertIsNone(args["x"])  # an unknown type generates null
            # argument tokens are paced like text: TTFT, then one ITL per token
            st, h, events, t0 = collect_stream(sim.port, CHAT, body(stream=True, tool_choice={
                "type": "function", "function": {"name": "get-time"}}))
            self.assertEqual(st, 200)
            times = [t for t, d in events if d != "[DONE]" and "tool_calls" in d]
            self.assertGreater(len(times), 3)
            self.assertGreaterEqual(times[0] - t0, 0.04)
            self.assertGreaterEqual(times[-1] - times[0], 0.02 * (len(times) - 1) * 0.8)
        finally:
            self.assertEqual(sim.stop(), 0)

    def test_bad_flags(self):
        for args, want in ((["--min-tool-call-number-param", "5",
                             "--max-tool-call-number-param", "1"],
                            "--min-tool-call-number-param must be at most"),
                           (["--tool-call-extra-call-probability", "150"], "out of range")):
            sim = Proc(SIMULATOR, ["--model", M] + args, wait_listen=False)
            rc = sim.wait(20)
            sim.stop()
            self.assertNotEqual(rc, 0)
            self.assertTrue(any(want in l for l in sim.lines), sim.lines)


if __name__ == "__main__":
    unittest.main(verbosity=2)
