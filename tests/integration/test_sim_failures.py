"""pdsim-simulator: failure injection (--failure-injection-rate, --failure-types),
X-Return-Error, and --enable-request-id-headers with X-Request-Id, as upstream, with
their error paths."""

import collections
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import SIMULATOR, Proc, http_json, run_binary  # noqa: E402

M = "m"
CHAT = {"model": M, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
TEXT = {"model": M, "prompt": "hi", "max_tokens": 2}

CANNED = {  # type: (status, OpenAI error type, param, start of the message)
    "rate_limit": (429, "RateLimitError", None, "Rate limit reached for m in organization"),
    "invalid_api_key": (401, "AuthenticationError", None, "Incorrect API key provided."),
    "context_length": (400, "BadRequestError", "messages",
                       "This model's maximum context length is 4096 tokens."),
    "server_error": (503, "InternalServerError", None, "The server is overloaded"),
    "invalid_request": (400, "BadRequestError", "model", "Invalid request: missing required"),
    "model_not_found": (404, "NotFoundError", "model", "The model 'm-nonexistent' does not exist"),
}


def start(*args):
    return Proc(SIMULATOR, ["--model", M, "--seed", "7"] + list(args))


class FailureInjectionTest(unittest.TestCase):
    def test_each_type_has_upstreams_canned_error(self):
        for ftype, (code, etype, param, msg) in CANNED.items():
            sim = start("--failure-injection-rate", "100", "--failure-types", ftype)
            try:
                for path, body in (("/v1/chat/completions", CHAT), ("/v1/completions", TEXT)):
                    st, j = sim.json("POST", path, body)
                    self.assertEqual(st, code, (ftype, j))
                    e = j["error"]
                    self.assertEqual((e["type"], e["param"], e["code"]), (etype, param, code))
                    self.assertTrue(e["message"].startswith(msg), e["message"])
                # other endpoints are not affected
                self.assertEqual(sim.request("GET", "/v1/models")[0], 200)
            finally:
                self.assertEqual(sim.stop(), 0)

    def test_rate_mixes_types_and_is_deterministic_per_seed(self):
        def outcomes(sim):
            return [sim.json("POST", "/v1/completions", TEXT)[0] for _ in range(60)]
        a = start("--failure-injection-rate", "50", "--failure-types", "rate_limit",
                  "server_error")
        b = start("--failure-injection-rate", "50", "--failure-types=rate_limit,server_error")
        try:
            oa, ob = outcomes(a), outcomes(b)
        finally:
            a.stop()
            b.stop()
        self.assertEqual(oa, ob)  # same seed: same draws
        c = collections.Counter(oa)
        self.assertEqual(set(c), {200, 429, 503}, c)
        self.assertTrue(15 <= c[200] <= 45, c)  # about half

    def test_rate_zero_never_fails_and_bad_flags_exit(self):
        sim = start("--failure-injection-rate", "0")
        try:
            for _ in range(20):
                self.assertEqual(sim.json("POST", "/v1/completions", TEXT)[0], 200)
        finally:
            sim.stop()
        for args, want in ((["--failure-injection-rate", "101"], "--failure-injection-rate"),
                           (["--failure-types", "oops"], "\"oops\" is not a failure type"),
                           (["--enable-request-id-headers=maybe"], "is not true or false")):
            p = run_binary([SIMULATOR, "--model", M] + args, capture_output=True, text=True,
                           timeout=30)
            self.assertNotEqual(p.returncode, 0, args)
            self.assertIn(want, p.stderr, args)


class CheckOrderTest(unittest.TestCase):
    def test_headers_and_injection_come_before_value_checks(self):
        """Upstream checks X-Return-Error and failure injection before the request's
        values (n, max_tokens...) and before the model."""
        sim = start("--failure-injection-rate", "100", "--failure-types", "server_error")
        try:
            st, _ = sim.json("POST", "/v1/completions", dict(TEXT, max_tokens=-1),
                             {"X-Return-Error": "418"})
            self.assertEqual(st, 418)
            st, _ = sim.json("POST", "/v1/completions", dict(TEXT, n=0, model="nope"))
            self.assertEqual(st, 503)  # injected, before the model and value checks
            st, j = sim.json("POST", "/v1/completions", {"model": M, "prompt": 5})
            self.assertEqual(st, 400)  # a type error is a parse error: it comes first
        finally:
            sim.stop()


class ReturnErrorHeaderTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = start()

    @classmethod
    def tearDownClass(cls):
        assert cls.sim.stop() == 0

    def test_x_return_error(self):
        for code, etype in ((429, "RateLimitError"), (500, "InternalServerError"),
                            (404, "NotFoundError")):
            st, j = self.sim.json("POST", "/v1/chat/completions", CHAT,
                                  {"X-Return-Error": str(code)})
            self.assertEqual(st, code)
            self.assertEqual(j["error"]["type"], etype)
            self.assertEqual(j["error"]["message"],
                             "Simulated error triggered by X-Return-Error header (code %d)" % code)
        for bad, want in (("abc", "is not an integer"), ("200", "is not an HTTP error status")):
            st, j = self.sim.json("POST", "/v1/completions", TEXT, {"X-Return-Error": bad})
            self.assertEqual(st, 400)
            self.assertIn(want, j["error"]["message"])
        # the server keeps serving
        self.assertEqual(self.sim.json("POST", "/v1/completions", TEXT)[0], 200)


class CacheThresholdHeaderTest(unittest.TestCase):
    def test_finish_reason_cache_threshold_at_once(self):
        sim = start("--time-to-first-token", "500ms", "--inter-token-latency", "100ms")
        try:
            import time
            for path, body in (("/v1/chat/completions", CHAT), ("/v1/completions", TEXT)):
                t0 = time.monotonic()
                st, j = sim.json("POST", path, dict(body, n=2),
                                 {"X-Cache-Threshold-Finish-Reason": "true"})
                self.assertEqual(st, 200, j)
                self.assertLess(time.monotonic() - t0, 0.4)  # no TTFT
                self.assertEqual([c["finish_reason"] for c in j["choices"]],
                                 ["cache_threshold"] * 2)
                self.assertEqual(j["usage"]["completion_tokens"], 0)
                self.assertIsNone(j["usage"]["prompt_tokens_details"])
            # streaming: a finish chunk per choice, usage, [DONE]
            st, h, data = sim.request("POST", "/v1/chat/completions",
                                      dict(CHAT, stream=True,
                                           stream_options={"include_usage": True}),
                                      {"X-Cache-Threshold-Finish-Reason": "1"})
            text = data.decode()
            self.assertEqual(st, 200)
            events = [l[6:] for l in text.split("\n") if l.startswith("data: ")]
            # one chunk (no role, no tokens), the usage chunk, [DONE]: as upstream
            self.assertEqual(len(events), 3, events)
            first = json.loads(events[0])
            self.assertEqual(first["choices"][0]["finish_reason"], "cache_threshold")
            self.assertEqual(first["choices"][0]["delta"], {})
            usage = json.loads(events[1])
            self.assertEqual((usage["choices"], usage["usage"]["prompt_tokens_details"]), ([], None))
            self.assertEqual(events[2], "[DONE]")
            # false is an ordinary request; garbage is a 400
            st, j = sim.json("POST", "/v1/completions", TEXT,
                             {"X-Cache-Threshold-Finish-Reason": "false"})
            self.assertEqual(st, 200)
            self.assertNotEqual(j["choices"][0]["finish_reason"], "cache_threshold")
            st, j = sim.json("POST", "/v1/completions", TEXT,
                             {"X-Cache-Threshold-Finish-Reason": "maybe"})
            self.assertEqual(st, 400)
            m = sim.request("GET", "/metrics")[2].decode()
            self.assertIn('finish_reason="cache_threshold"} 5', m)
        finally:
            self.assertEqual(sim.stop(), 0)


class RequestIdTest(unittest.TestCase):
    def test_echo_when_enabled(self):
        sim = start("--enable-request-id-headers")
        try:
            st, h, body = sim.request("POST", "/v1/chat/completions", CHAT,
                                      {"X-Request-Id": "req-abc.123"})
            self.assertEqual(st, 200)
            self.assertEqual(h["x-request-id"], "req-abc.123")
            import json
            self.assertEqual(json.loads(body)["id"], "chatcmpl-req-abc.123")  # as upstream
            # without the header, the generated request id is echoed
            st, h, body = sim.request("POST", "/v1/completions", TEXT)
            self.assertEqual("cmpl-" + h["x-request-id"], json.loads(body)["id"])
            self.assertRegex(h["x-request-id"], r"^[0-9a-f]{8}-[0-9a-f]{4}-4")
            # errors carry it too
            st, h, _ = sim.request("POST", "/v1/completions", TEXT,
                                   {"X-Request-Id": "r2", "X-Return-Error": "503"})
            self.assertEqual((st, h["x-request-id"]), (503, "r2"))
            # a value error (checked after the headers, as upstream) carries it too
            st, h, _ = sim.request("POST", "/v1/completions", dict(TEXT, n=0),
                                   {"X-Request-Id": "r3"})
            self.assertEqual((st, h["x-request-id"]), (400, "r3"))
            st, j = sim.json("POST", "/v1/completions", TEXT, {"X-Request-Id": 'a"b'})
            self.assertEqual(st, 400)
            self.assertIn("X-Request-Id", j["error"]["message"])
        finally:
            self.assertEqual(sim.stop(), 0)

    def test_ignored_when_disabled_or_false(self):
        for args in ((), ("--enable-request-id-headers=false",)):
            sim = start(*args)
            try:
                st, h, body = sim.request("POST", "/v1/completions", TEXT,
                                          {"X-Request-Id": "mine"})
                self.assertEqual(st, 200)
                self.assertNotIn("x-request-id", h)
                self.assertIn('"id":"cmpl-', body.decode())
            finally:
                sim.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
