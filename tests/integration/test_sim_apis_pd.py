"""The Responses, Anthropic Messages and generate APIs through the whole P/D path: the
routing sidecar in front of a decode simulator, a prefill simulator as the prefiller. The
prefill leg must end as remote_decode on the prefiller with kv_transfer_params the sidecar
hands to the decoder, whose first token then comes after the KV-transfer latency instead of
its own (long) time to first token."""

import json
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import SIDECAR, SIMULATOR, Proc, collect_stream  # noqa: E402
from named_sse import named_events  # noqa: E402

M = "m"


def success(sim, reason):
    st, _, data = sim.request("GET", "/metrics")
    m = re.search(r'^vllm:request_success_total\{model_name="%s",finish_reason="%s"\} (\S+)$'
                  % (M, reason), data.decode(), re.M)
    return float(m.group(1)) if m else 0.0


class ApisThroughSidecarTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        common = ["--model", M, "--seed", "4"]
        cls.pre = Proc(SIMULATOR, common + ["--prefill-time-per-token", "1ms"])
        cls.dec = Proc(SIMULATOR, common + ["--time-to-first-token", "800ms",
                                            "--kv-cache-transfer-latency", "20ms",
                                            "--inter-token-latency", "5ms"])
        cls.sc = Proc(SIDECAR, ["--secure-proxy=false", "--model-server-port", str(cls.dec.port),
                                "--default-prefiller", "127.0.0.1:%d" % cls.pre.port])

    @classmethod
    def tearDownClass(cls):
        rcs = [cls.sc.stop(), cls.pre.stop(), cls.dec.stop()]
        assert rcs == [0, 0, 0], rcs

    def check_prefilled(self, before):
        self.assertEqual(success(self.pre, "remote_decode"), before + 1)

    def test_responses(self):
        before = success(self.pre, "remote_decode")
        t0 = time.monotonic()
        st, j = self.sc.json("POST", "/v1/responses", {"model": M, "input": "Tell me a story.",
                                                       "max_output_tokens": 5, "ignore_eos": True})
        self.assertEqual(st, 200, j)
        self.assertLess(time.monotonic() - t0, 0.6)  # not the decoder's 800 ms TTFT
        self.assertEqual((j["object"], j["status"], j["usage"]["output_tokens"]),
                         ("response", "completed", 5))
        self.assertNotIn("kv_transfer_params", j)
        self.check_prefilled(before)
        t0 = time.monotonic()
        st, _, ev = named_events(self.sc.port, "/v1/responses", {
            "model": M, "input": "Tell me a story.", "stream": True, "max_output_tokens": 5,
            "ignore_eos": True})
        self.assertEqual(st, 200)
        first = next(e[2] for e in ev if e[0] == "response.output_text.delta")
        self.assertLess(first - t0, 0.6)
        self.assertEqual(ev[-1][0], "response.completed")
        self.check_prefilled(before + 1)

    def test_messages(self):
        before = success(self.pre, "remote_decode")
        body = {"model": M, "max_tokens": 4, "ignore_eos": True,
                "messages": [{"role": "user", "content": "Tell me a story."}]}
        t0 = time.monotonic()
        st, j = self.sc.json("POST", "/v1/messages", body)
        self.assertEqual(st, 200, j)
        self.assertLess(time.monotonic() - t0, 0.6)
        self.assertEqual((j["type"], j["stop_reason"], j["usage"]["output_tokens"]),
                         ("message", "max_tokens", 4))
        self.check_prefilled(before)
        st, _, ev = named_events(self.sc.port, "/v1/messages", dict(body, stream=True))
        self.assertEqual([e[0] for e in ev][-2:], ["message_delta", "message_stop"])
        self.check_prefilled(before + 1)

    def test_generate(self):
        before = success(self.pre, "remote_decode")
        body = {"model": M, "token_ids": list(range(1, 30)), "ignore_eos": True,
                "sampling_params": {"max_tokens": 6}}
        t0 = time.monotonic()
        st, j = self.sc.json("POST", "/inference/v1/generate", body)
        self.assertEqual(st, 200, j)
        self.assertLess(time.monotonic() - t0, 0.6)
        self.assertEqual(len(j["choices"][0]["token_ids"]), 6)
        self.assertEqual(j["choices"][0]["finish_reason"], "length")
        self.check_prefilled(before)
        t0 = time.monotonic()
        st, _, events, _ = collect_stream(self.sc.port, "/inference/v1/generate",
                                          dict(body, stream=True))
        self.assertEqual(st, 200)
        self.assertLess(events[0][0] - t0, 0.6)
        self.assertEqual(events[-1][1], "[DONE]")
        self.assertEqual(json.loads(events[-2][1])["choices"][0]["finish_reason"], "length")
        self.check_prefilled(before + 1)
        # the control: straight to the decoder, no P/D, the 800 ms TTFT
        t0 = time.monotonic()
        st, j = self.dec.json("POST", "/inference/v1/generate", body)
        self.assertGreaterEqual(time.monotonic() - t0, 0.79)


if __name__ == "__main__":
    unittest.main()
