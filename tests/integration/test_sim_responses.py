"""pdsim-simulator's OpenAI Responses API (POST /v1/responses) against the real binary: the
response object and its items, the event stream (order, sequence numbers, pacing), function
calls, the P/D prefill side, and errors."""

import json
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import SIMULATOR, Proc  # noqa: E402
from named_sse import named_events  # noqa: E402

M = "resp-model"
PATH = "/v1/responses"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
WEATHER = {"type": "function", "name": "get_weather", "description": "Weather in a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                          "required": ["city"]}}
TEMP = {"type": "function", "name": "get_temperature",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]}}
TEXT_EVENTS = ["response.created", "response.in_progress", "response.output_item.added",
               "response.content_part.added"]
TEXT_DONE = ["response.output_text.done", "response.content_part.done",
             "response.output_item.done", "response.completed"]


def usage(inp, out, cached=0):
    return {"input_tokens": inp, "input_tokens_details": {"cached_tokens": cached},
            "output_tokens": out, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": inp + out}


class EchoTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Proc(SIMULATOR, ["--model", M, "--mode", "echo", "--seed", "3",
                                   "--time-to-first-token", "150ms", "--inter-token-latency",
                                   "20ms", "--enable-request-id-headers"],
                       env={"POD_IP": "10.9.8.7"})

    @classmethod
    def tearDownClass(cls):
        assert cls.sim.stop() == 0

    def post(self, body, headers=None):
        return self.sim.json("POST", PATH, dict({"model": M}, **body), headers=headers)

    def test_text_response_shape(self):
        t0 = time.time()
        st, j = self.post({"input": "This is a test.", "instructions": "be brief"})
        self.assertEqual(st, 200)
        self.assertEqual(list(j.keys()), ["id", "model", "object", "created_at", "status",
                                          "instructions", "output", "text", "usage"])
        self.assertRegex(j["id"], "^resp_" + UUID + "$")
        self.assertEqual(j["model"], M)
        self.assertEqual(j["object"], "response")
        self.assertLessEqual(abs(j["created_at"] - t0), 5)
        self.assertEqual(j["status"], "completed")
        self.assertEqual(j["instructions"], "be brief")
        self.assertEqual(j["output"], [{
            "type": "message", "id": "msg_" + j["id"][len("resp_"):], "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "This is a test.", "annotations": []}]}])
        self.assertEqual(j["text"], {"format": {"type": "text"}})
        # "### system: be brief\n### user: This is a test.\n": 17 tokens, as chat counts them
        self.assertEqual(j["usage"], usage(17, 5))
        st, j = self.post({"input": "This is a test."})
        self.assertNotIn("instructions", j)
        self.assertEqual(j["usage"], usage(10, 5))

    def test_items_and_echo(self):
        items = [{"role": "user", "content": [{"type": "input_text", "text": "What is the"},
                                              {"type": "input_text", "text": "weather?"}]},
                 {"type": "function_call", "call_id": "call_1", "name": "get_weather",
                  "arguments": "{\"city\":\"Paris\"}"},
                 {"type": "function_call_output", "call_id": "call_1", "output": "sunny, 22C"}]
        st, j = self.post({"input": items, "tools": [WEATHER]})
        self.assertEqual(st, 200)
        # a tool's result is in: the answer is text (echo: the last item), not another call
        self.assertEqual(j["output"][0]["type"], "message")
        self.assertEqual(j["output"][0]["content"][0]["text"], "sunny, 22C")
        st, tok = self.sim.json("POST", "/tokenize", {"messages": [
            {"role": "user", "content": "What is the\nweather?"},
            {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 22C"}]})
        self.assertEqual(j["usage"]["input_tokens"], tok["count"])
        # the last item a call: echo gives name(arguments)
        st, j = self.post({"input": items[:2]})
        self.assertEqual(j["output"][0]["content"][0]["text"], "get_weather({\"city\":\"Paris\"})")

    def test_non_ascii(self):
        text = "héllo wörld ✓ 日本語"
        st, j = self.post({"input": text})
        self.assertEqual(j["output"][0]["content"][0]["text"], text)
        st, _, ev = named_events(self.sim.port, PATH, {"model": M, "input": text, "stream": True})
        self.assertEqual("".join(e[1]["delta"] for e in ev
                                 if e[0] == "response.output_text.delta"), text)

    def test_stream_text(self):
        t0 = time.monotonic()
        st, hdrs, ev = named_events(self.sim.port, PATH, {"model": M, "input": "This is a test.",
                                                          "stream": True})
        self.assertEqual(st, 200)
        self.assertTrue(hdrs["content-type"].startswith("text/event-stream"))
        names = [e[0] for e in ev]
        self.assertEqual(names, TEXT_EVENTS + ["response.output_text.delta"] * 5 + TEXT_DONE)
        self.assertEqual([e[1]["sequence_number"] for e in ev], list(range(len(ev))))
        created, completed = ev[0][1]["response"], ev[-1][1]["response"]
        self.assertEqual(created["status"], "in_progress")
        self.assertEqual(created["output"], [])
        self.assertNotIn("usage", created)
        self.assertEqual(ev[1][1]["response"], created)
        rid = created["id"][len("resp_"):]
        self.assertEqual(completed["id"], created["id"])
        self.assertEqual(completed["created_at"], created["created_at"])
        self.assertEqual(ev[2][1], {"type": "response.output_item.added", "output_index": 0,
                                    "item": {"type": "message", "id": "msg_" + rid,
                                             "role": "assistant", "status": "in_progress",
                                             "content": []}, "sequence_number": 2})
        self.assertEqual(ev[3][1], {"type": "response.content_part.added", "output_index": 0,
                                    "content_index": 0, "item_id": "msg_" + rid,
                                    "part": {"type": "output_text", "text": "",
                                             "annotations": []}, "sequence_number": 3})
        deltas = [e[1] for e in ev if e[0] == "response.output_text.delta"]
        for d in deltas:
            self.assertEqual((d["output_index"], d["content_index"], d["item_id"]),
                             (0, 0, "msg_" + rid))
        text = "".join(d["delta"] for d in deltas)
        self.assertEqual(text, "This is a test.")
        self.assertEqual(ev[-4][1]["text"], text)
        self.assertEqual(ev[-3][1]["part"]["text"], text)
        item = ev[-2][1]["item"]
        self.assertEqual(item["status"], "completed")
        self.assertEqual(completed["status"], "completed")
        self.assertEqual(completed["output"], [item])
        self.assertEqual(completed["usage"], usage(10, 5))
        # pacing: the opening events at once, the first delta after the TTFT, then ITL apart
        first = next(e[2] for e in ev if e[0] == "response.output_text.delta")
        self.assertLess(ev[0][2] - t0, 0.12)
        self.assertGreaterEqual(first - t0, 0.14)
        self.assertGreaterEqual(ev[-1][2] - first, 4 * 0.02 * 0.8)

    def test_request_id_header(self):
        st, j = self.post({"input": "x"}, headers={"X-Request-Id": "abc-123"})
        self.assertEqual(j["id"], "resp_abc-123")
        self.assertEqual(j["output"][0]["id"], "msg_abc-123")

    def test_pd_prefill_and_decode(self):
        st, j = self.post({"input": "Hello from P/D!", "max_output_tokens": 1,
                           "kv_transfer_params": {"do_remote_decode": True,
                                                  "do_remote_prefill": False,
                                                  "remote_engine_id": None}})
        self.assertEqual(st, 200)
        self.assertEqual(list(j.keys())[:4], ["id", "model", "object", "kv_transfer_params"])
        kv = j["kv_transfer_params"]
        self.assertEqual((kv["do_remote_decode"], kv["do_remote_prefill"]), (False, True))
        self.assertEqual((kv["remote_host"], kv["remote_port"]), ("10.9.8.7", self.sim.port))
        st, q = self.sim.json("GET", "/query")
        self.assertEqual(kv["remote_engine_id"], q["0"]["engine_id"])
        self.assertTrue(kv["remote_block_ids"])
        # the decode side streams as usual and returns no kv_transfer_params
        st, _, ev = named_events(self.sim.port, PATH, {
            "model": M, "input": "Hello from P/D!", "stream": True,
            "kv_transfer_params": dict(kv, do_remote_prefill=True)})
        self.assertEqual(st, 200)
        self.assertNotIn("kv_transfer_params", ev[-1][1]["response"])
        st, j = self.post({"input": "x", "stream": True,
                           "kv_transfer_params": {"do_remote_decode": True}})
        self.assertEqual((st, j["error"]["param"]), (400, "stream"))
        self.assertEqual(j["error"]["message"], "Prefill does not support streaming")

    def test_errors(self):
        cases = [
            (b"{\"model\":", 400, None, "Failed to read and parse request body"),
            ({"model": M}, 400, "input", "field 'input' is required"),
            ({"model": M, "input": 3}, 400, "input", "must be a string or an array"),
            ({"model": M, "input": "x", "max_output_tokens": "9"}, 400, "max_output_tokens",
             "field 'max_output_tokens' must be an integer"),
            ({"model": M, "input": "x", "max_output_tokens": 0}, 400, "max_output_tokens",
             "should be positive"),
            ({"model": M, "input": "x", "instructions": ["a"]}, 400, "instructions",
             "must be a string"),
            ({"model": M, "input": [{"type": "reasoning"}]}, 400, "input",
             "unsupported input item type \"reasoning\""),
            ({"model": M, "input": "x", "tools": [{"type": "web_search"}]}, 400, "tools",
             "unsupported tool type"),
            ({"model": M, "input": "x", "tools": [dict(WEATHER, parameters={
                "type": "object", "properties": {"city": {"type": "strin"}}})]}, 400, "tools",
             "Tool validation failed: tools[0].parameters.properties.city"),
            ({"model": M, "input": "x", "tools": [WEATHER],
              "tool_choice": {"type": "function", "name": "nope"}}, 400, "tool_choice",
             "names the function \"nope\""),
            ({"model": "other", "input": "x"}, 404, "model", "The model `other` does not exist."),
        ]
        for body, status, param, msg in cases:
            data = body if isinstance(body, bytes) else json.dumps(body)
            st, j = self.sim.json("POST", PATH, data)
            self.assertEqual(st, status, body)
            self.assertEqual(j["error"]["code"], status)
            self.assertEqual(j["error"]["param"], param, body)
            self.assertIn(msg, j["error"]["message"])
        st, j = self.post({"input": "x"}, headers={"X-Return-Error": "429"})
        self.assertEqual((st, j["error"]["type"]), (429, "RateLimitError"))
        # Responses requests have no cache threshold (as upstream): the header changes nothing
        st, j = self.post({"input": "x"}, headers={"X-Cache-Threshold-Finish-Reason": "true"})
        self.assertEqual((st, j["status"], j["usage"]["output_tokens"]), (200, "completed", 1))
        st, _, _ = self.sim.request("GET", PATH)
        self.assertEqual(st, 405)


class ToolsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Proc(SIMULATOR, ["--model", M, "--seed", "11", "--inter-token-latency", "1ms",
                                   "--tool-call-extra-call-probability", "100"])

    @classmethod
    def tearDownClass(cls):
        assert cls.sim.stop() == 0

    def post(self, body):
        return self.sim.json("POST", PATH, dict({"model": M}, **body))

    def check_call(self, item, names):
        self.assertEqual(list(item.keys()), ["type", "id", "call_id", "name", "arguments",
                                             "status"])
        self.assertEqual(item["type"], "function_call")
        m = re.fullmatch(r"fc_(\d{10})", item["id"])
        self.assertTrue(m, item["id"])
        self.assertEqual(item["call_id"], "call_" + m.group(1))
        self.assertIn(item["name"], names)
        self.assertEqual(item["status"], "completed")
        self.assertIsInstance(json.loads(item["arguments"])["city"], str)

    def test_one_call(self):
        # auto (the default) calls on the first turn, exactly once even when every extra
        # call would be drawn, as upstream's Responses path
        for _ in range(5):
            st, j = self.post({"input": "weather and temperature?", "tools": [WEATHER, TEMP]})
            self.assertEqual(st, 200)
            self.assertEqual(len(j["output"]), 1)
            self.check_call(j["output"][0], ("get_weather", "get_temperature"))
        st, j = self.post({"input": "x", "tools": [WEATHER, TEMP],
                           "tool_choice": {"type": "function", "name": "get_temperature"}})
        self.check_call(j["output"][0], ("get_temperature",))

    def test_text_when_no_call(self):
        for extra in ({"tool_choice": "none"},
                      {"input": [{"role": "user", "content": "w?"},
                                 {"type": "function_call_output", "call_id": "c", "output": "ok"}],
                       "tool_choice": "required"}):
            body = dict({"input": "weather?", "tools": [WEATHER]}, **extra)
            st, j = self.post(body)
            self.assertEqual(st, 200)
            self.assertEqual([o["type"] for o in j["output"]], ["message"])

    def test_stream_call(self):
        st, _, ev = named_events(self.sim.port, PATH, {"model": M, "input": "weather?",
                                                       "tools": [WEATHER], "stream": True})
        self.assertEqual(st, 200)
        names = [e[0] for e in ev]
        n = names.count("response.function_call_arguments.delta")
        self.assertGreater(n, 0)
        self.assertEqual(names, ["response.created", "response.in_progress",
                                 "response.output_item.added"]
                         + ["response.function_call_arguments.delta"] * n
                         + ["response.function_call_arguments.done", "response.output_item.done",
                            "response.completed"])
        self.assertEqual([e[1]["sequence_number"] for e in ev], list(range(len(ev))))
        added = ev[2][1]["item"]
        self.assertEqual((added["status"], added["arguments"], added["name"]),
                         ("in_progress", "", "get_weather"))
        args = "".join(e[1]["delta"] for e in ev if e[0] == "response.function_call_arguments.delta")
        for e in ev[3:-1]:
            self.assertEqual((e[1]["output_index"], e[1]["item"]["id"] if "item" in e[1]
                              else e[1]["item_id"]), (0, added["id"]))
        done = ev[-3][1]
        self.assertEqual((done["name"], done["arguments"]), ("get_weather", args))
        item = ev[-2][1]["item"]
        self.check_call(item, ("get_weather",))
        self.assertEqual(item["arguments"], args)
        completed = ev[-1][1]["response"]
        self.assertEqual(completed["output"], [item])
        # upstream's count for a call: 3 + the argument tokens (one per delta)
        self.assertEqual(completed["usage"]["output_tokens"], 3 + n)
        self.assertNotIn("response.output_text.delta", names)

    def test_random_text_length(self):
        st, j = self.post({"input": "x", "max_output_tokens": 6, "ignore_eos": True})
        self.assertEqual(j["usage"]["output_tokens"], 6)
        st, j = self.post({"input": "x", "ignore_eos": True})
        self.assertEqual((st, j["error"]["param"]), (400, "ignore_eos"))


if __name__ == "__main__":
    unittest.main()
