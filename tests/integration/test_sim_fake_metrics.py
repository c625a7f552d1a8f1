"""--fake-metrics: /metrics reports the given values instead of the real ones: fixed
gauges, generator functions that move over time within their bounds (once per
--fake-metrics-refresh-interval), LoRA series, histogram buckets, counters; partial
updates through POST /admin/config and the deprecated POST /fake_metrics; the YAML form;
bad specs exit non-zero naming the flag; the output passes `promtool check metrics`."""

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import SIMULATOR, Proc, run_binary  # noqa: E402

M = "fake"
L = 'model_name="%s"' % M


def metrics(sim):
    st, _, data = sim.request("GET", "/metrics")
    assert st == 200
    return data.decode()


def value(text, name, labels=L):
    m = re.search(r"^%s\{%s\} (\S+)$" % (re.escape(name), re.escape(labels)), text, re.M)
    return float(m.group(1)) if m else None


def promtool_problems(text):
    p = subprocess.run([os.environ.get("PROMTOOL", "promtool"), "check", "metrics"],
                       input=text.encode(), capture_output=True, timeout=30)
    out = (p.stdout + p.stderr).decode()
    # as test_sim_promtool: only the ':' in vLLM's metric names may be reported
    bad = [l for l in out.splitlines()
           if l.strip() and not l.endswith("metric names should not contain ':'")]
    return p.returncode, bad


SPEC = {"running-requests": 3, "waiting-requests": 30, "kv-cache-usage": 0.4,
        "loras": [{"running": "l1,l2", "waiting": "l3", "timestamp": 1257894567},
                  {"running": "l4", "waiting": "", "timestamp": 1257894569}],
        "ttft-buckets-values": [1, 2, 3],
        "tpot-buckets-values": [0, 4],
        "e2erl-buckets-values": [0, 0, 5],
        "request-prompt-tokens": [1, 0, 2],
        "request-generation-tokens": [0, 3],
        "request-success-total": {"stop": 20, "length": 2},
        "total-prompt-tokens": 123,
        "prefix-cache-hits": 10, "prefix-cache-queries": 40}


class FixedTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Proc(SIMULATOR, ["--model", M, "--fake-metrics", json.dumps(SPEC),
                                   "--max-loras", "2"])

    @classmethod
    def tearDownClass(cls):
        assert cls.sim.stop() == 0

    def test_values(self):
        t = metrics(self.sim)
        self.assertEqual(value(t, "vllm:num_requests_running"), 3)
        self.assertEqual(value(t, "vllm:num_requests_waiting"), 30)
        self.assertEqual(value(t, "vllm:kv_cache_usage_perc"), 0.4)
        self.assertEqual(value(t, "vllm:lora_requests_info", L + ',max_lora="2",running_lora_'
                               'adapters="l1,l2",waiting_lora_adapters="l3"'), 1257894567)
        self.assertEqual(value(t, "vllm:lora_requests_info", L + ',max_lora="2",running_lora_'
                               'adapters="l4",waiting_lora_adapters=""'), 1257894569)
        # per-bucket counts, cumulative in the exposition
        b = lambda n, le: value(t, n + "_bucket", L + ',le="%s"' % le)  # noqa: E731
        self.assertEqual([b("vllm:time_to_first_token_seconds", le)
                          for le in ("0.001", "0.005", "0.01", "0.02", "+Inf")], [1, 3, 6, 6, 6])
        self.assertEqual(value(t, "vllm:time_to_first_token_seconds_count"), 6)
        self.assertAlmostEqual(value(t, "vllm:time_to_first_token_seconds_sum"),
                               0.001 + 2 * 0.005 + 3 * 0.01)
        self.assertEqual(b("vllm:time_per_output_token_seconds", "0.025"), 4)
        self.assertEqual(b("vllm:inter_token_latency_seconds", "0.025"), 4)
        self.assertEqual(b("vllm:e2e_request_latency_seconds", "0.5"), 0)
        self.assertEqual(b("vllm:e2e_request_latency_seconds", "0.8"), 5)
        self.assertEqual(b("vllm:request_prompt_tokens", "5"), 3)
        self.assertIsNone(value(t, "vllm:request_queue_time_seconds_count"))  # not given
        # counters: explicit total, else derived from the histogram (count x bound)
        self.assertEqual(value(t, "vllm:prompt_tokens_total"), 123)
        self.assertEqual(value(t, "vllm:generation_tokens_total"), 6)
        reasons = dict(re.findall(r'^vllm:request_success_total\{%s,finish_reason="(\w+)"\} (\S+)$'
                                  % re.escape(L), t, re.M))
        self.assertEqual(reasons, {"stop": "20", "length": "2", "tool_calls": "0",
                                   "remote_decode": "0", "cache_threshold": "0"})
        self.assertEqual(value(t, "vllm:prefix_cache_hits_total"), 10)
        self.assertEqual(value(t, "vllm:prefix_cache_queries_total"), 40)
        rc, bad = promtool_problems(t)
        self.assertIn(rc, (0, 3))
        self.assertEqual(bad, [])

    def test_real_traffic_is_not_shown(self):
        before = metrics(self.sim)
        for _ in range(3):
            st, _ = self.sim.json("POST", "/v1/completions",
                                  {"model": M, "prompt": "hi", "max_tokens": 3})
            self.assertEqual(st, 200)
        self.assertEqual(metrics(self.sim), before)


class FunctionsTest(unittest.TestCase):
    def test_generators_move_within_bounds(self):
        spec = {"running-requests": "ramp:0:20:2s", "waiting-requests": "squarewave:2:9:400ms",
                "kv-cache-usage": "oscillate:0.2:0.8:600ms"}
        sim = Proc(SIMULATOR, ["--model", M, "--fake-metrics", json.dumps(spec),
                               "--fake-metrics-refresh-interval", "50ms"])
        try:
            run, wait, kv = [], [], []
            t_end = time.monotonic() + 1.6
            while time.monotonic() < t_end:
                t = metrics(sim)
                run.append(value(t, "vllm:num_requests_running"))
                wait.append(value(t, "vllm:num_requests_waiting"))
                kv.append(value(t, "vllm:kv_cache_usage_perc"))
                time.sleep(0.05)
            time.sleep(max(0.0, 2.2 - 1.6))
            final = value(metrics(sim), "vllm:num_requests_running")
        finally:
            self.assertEqual(sim.stop(), 0)
        # ramp: whole requests, never down, from 0 towards 20, then 20
        self.assertEqual(run, sorted(run))
        self.assertTrue(all(0 <= v <= 20 and v == int(v) for v in run), run)
        self.assertLess(run[0], 5)
        self.assertGreater(run[-1], 8)
        self.assertEqual(final, 20)
        # squarewave: only its two levels, both seen
        self.assertEqual(set(wait), {2, 9})
        # oscillate: inside its bounds, and moving
        self.assertTrue(all(0.2 - 1e-9 <= v <= 0.8 + 1e-9 for v in kv), kv)
        self.assertGreater(max(kv) - min(kv), 0.3)

    def test_refresh_interval(self):
        # a ramp whose value may change only every 10 s stays at its start meanwhile
        sim = Proc(SIMULATOR, ["--model", M, "--fake-metrics",
                               '{"running-requests":"ramp:1:50:1s"}',
                               "--fake-metrics-refresh-interval", "10s"])
        try:
            seen = set()
            for _ in range(6):
                seen.add(value(metrics(sim), "vllm:num_requests_running"))
                time.sleep(0.25)
        finally:
            self.assertEqual(sim.stop(), 0)
        self.assertEqual(seen, {1})


class UpdatesTest(unittest.TestCase):
    def test_admin_config_and_deprecated_endpoint(self):
        sim = Proc(SIMULATOR, ["--model", M, "--fake-metrics", json.dumps(SPEC)])
        try:
            st, cfg = sim.json("POST", "/admin/config", {"fake-metrics": {
                "running-requests": 7, "ttft-buckets-values": [], "waiting-requests": None,
                "request-success-total": {}}})
            self.assertEqual(st, 200, cfg)
            fm = cfg["fake-metrics"]
            self.assertEqual((fm["running-requests"], fm["waiting-requests"]), (7, 30))
            t = metrics(sim)
            self.assertEqual(value(t, "vllm:num_requests_running"), 7)
            self.assertEqual(value(t, "vllm:num_requests_waiting"), 30)  # null: unchanged
            self.assertNotIn("time_to_first_token", t)  # []: cleared
            self.assertEqual(value(t, "vllm:request_success_total",
                                   L + ',finish_reason="stop"'), 0)  # {}: every reason 0
            self.assertEqual(value(t, "vllm:prefix_cache_hits_total"), 10)  # absent: unchanged
            # a bad update: 400, nothing changes
            for bad, why in (
                    ({"fake-metrics": {"running-requests": 1, "kv-cache-usage": 2}},
                     'key "fake-metrics": kv-cache-usage: must be between 0 and 1'),
                    ({"fake-metrics": {"runing-requests": 1}}, 'unknown key "runing-requests"'),
                    ({"fake-metrics": {"running-requests": 1}, "time-factor-under-load": 0.5},
                     "time-factor-under-load must be >= 1.0"),
                    ({"fake-metrics": [1]}, 'key "fake-metrics": must be an object')):
                st, j = sim.json("POST", "/admin/config", bad)
                self.assertEqual(st, 400, bad)
                self.assertIn(why, j["error"]["message"])
            self.assertEqual(value(metrics(sim), "vllm:num_requests_running"), 7)
            st, cfg = sim.json("GET", "/admin/config")
            self.assertEqual(cfg["fake-metrics"]["running-requests"], 7)
            # deprecated upstream, kept: the body is the partial itself
            st, _, body = sim.request("POST", "/fake_metrics",
                                      {"running-requests": "ramp:4:4:1s", "kv-cache-usage": 0.9})
            self.assertEqual((st, body), (204, b""))
            t = metrics(sim)
            self.assertEqual(value(t, "vllm:num_requests_running"), 4)
            self.assertEqual(value(t, "vllm:kv_cache_usage_perc"), 0.9)
            st, j = sim.json("POST", "/fake_metrics", {"kv-cache-usage": -1})
            self.assertEqual(st, 400)
            self.assertIn("kv-cache-usage", j["error"]["message"])
        finally:
            self.assertEqual(sim.stop(), 0)

    def test_not_when_started_with_real_metrics(self):
        sim = Proc(SIMULATOR, ["--model", M])
        try:
            st, j = sim.json("POST", "/admin/config", {"fake-metrics": {"running-requests": 1}})
            self.assertEqual(st, 400)
            self.assertIn("reporting real metrics", j["error"]["message"])
            st, j = sim.json("POST", "/fake_metrics", {"running-requests": 1})
            self.assertEqual(st, 400)
            st, cfg = sim.json("GET", "/admin/config")
            self.assertIsNone(cfg["fake-metrics"])
            self.assertEqual(cfg["fake-metrics-refresh-interval"], "100ms")
        finally:
            self.assertEqual(sim.stop(), 0)


class ConfigTest(unittest.TestCase):
    def test_yaml(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write("model: %s\nfake-metrics:\n  running-requests: 5\n"
                    "  kv-cache-usage: \"rampreset:0:0.5:1h\"\n  loras:\n"
                    "    - '{\"running\":\"y1\",\"waiting\":\"\",\"timestamp\":3}'\n"
                    "  queue-time-buckets-values: [0, 1]\n" % M)
        sim = Proc(SIMULATOR, ["--config", f.name])
        try:
            t = metrics(sim)
        finally:
            self.assertEqual(sim.stop(), 0)
            os.unlink(f.name)
        self.assertEqual(value(t, "vllm:num_requests_running"), 5)
        self.assertLess(value(t, "vllm:kv_cache_usage_perc"), 0.001)  # an hour-long ramp
        self.assertEqual(value(t, "vllm:lora_requests_info", L + ',max_lora="1",running_lora_'
                               'adapters="y1",waiting_lora_adapters=""'), 3)
        self.assertEqual(value(t, "vllm:request_queue_time_seconds_count"), 1)

    def test_bad_specs_exit_naming_the_flag(self):
        cases = [
            (["--fake-metrics", "{"], "flag --fake-metrics: not JSON"),
            (["--fake-metrics", '{"kv-cache-usage":1.5}'],
             "flag --fake-metrics: kv-cache-usage: must be between 0 and 1"),
            (["--fake-metrics", '{"running-requests":"sine:0:1:1s"}'],
             'flag --fake-metrics: running-requests: unknown generator "sine"'),
            (["--fake-metrics", '{"running-requests":"ramp:0:1:0s"}'], "positive duration"),
            (["--fake-metrics", '{"ttft-buckets-values":[-1]}'], "ttft-buckets-values"),
            (["--fake-metrics", '{"request-success-total":{"done":1}}'], '"done" is not a finish'),
            (["--fake-metrics", '{"prefix-cache-hits":1}'], "go together"),
            (["--fake-metrics-refresh-interval", "0s"],
             "--fake-metrics-refresh-interval must be greater than 0"),
        ]
        for args, want in cases:
            p = run_binary([SIMULATOR, "--model", M, "--port", "0"] + args,
                           capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertIn(want, p.stderr, args)


if __name__ == "__main__":
    unittest.main(verbosity=2)
