"""pdsim-simulator LoRA adapters as upstream: --lora-modules, --max-loras, load and
unload, /v1/models, LoRA-aware scheduling and vllm:lora_requests_info (with stale
label sets removed, unlike upstream)."""

import json
import os
import re
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import SIMULATOR, Proc  # noqa: E402

M = "base"


def text(model, **kw):
    return dict({"model": model, "prompt": "hi", "max_tokens": 2}, **kw)


def lora_info(sim):
    st, _, body = sim.request("GET", "/metrics")
    return re.findall(r'^vllm:lora_requests_info\{([^}]*)\} (\S+)$', body.decode(), re.M)


class LoadUnloadTest(unittest.TestCase):
    def setUp(self):
        self.sim = Proc(SIMULATOR, ["--model", M, "--lora-modules",
                                    '{"name":"lora3","path":"/models/lora3","base_model_name":"base"}',
                                    "lora4=/models/lora4"])

    def tearDown(self):
        self.assertEqual(self.sim.stop(), 0)

    def models(self):
        st, j = self.sim.json("GET", "/v1/models")
        self.assertEqual(st, 200)
        return j["data"]

    def test_upstream_lora_flow(self):
        sim = self.sim
        st, j = sim.json("POST", "/v1/completions", text("lora1"))
        self.assertEqual(st, 404)
        self.assertEqual(j["error"]["message"], "The model `lora1` does not exist.")
        self.assertEqual(j["error"]["type"], "NotFoundError")
        st, _, body = sim.request("POST", "/v1/load_lora_adapter",
                                  json.dumps({"lora_name": "lora1", "lora_path": "/p/lora1"}))
        self.assertEqual((st, body), (200, b""))
        data = self.models()
        self.assertEqual([m["id"] for m in data], [M, "lora3", "lora4", "lora1"])
        self.assertEqual(data[0]["root"], M)
        self.assertIsNone(data[0]["parent"])
        for m, root in zip(data[1:], ["/models/lora3", "/models/lora4", "/p/lora1"]):
            self.assertEqual((m["root"], m["parent"], m["object"]), (root, M, "model"))
        # a request for an adapter runs and shows the adapter's name
        for api, body in (("/v1/completions", text("lora1")),
                          ("/v1/chat/completions", {"model": "lora4", "max_tokens": 2,
                                                    "messages": [{"role": "user",
                                                                  "content": "hi"}]})):
            st, j = sim.json("POST", api, body)
            self.assertEqual(st, 200, j)
            self.assertEqual(j["model"], body["model"])
        st, _, body = sim.request("POST", "/v1/unload_lora_adapter",
                                  json.dumps({"lora_name": "lora3"}))
        self.assertEqual((st, body), (200, b""))
        self.assertEqual(sim.json("POST", "/v1/completions", text("lora3"))[0], 404)
        self.assertEqual([m["id"] for m in self.models()], [M, "lora4", "lora1"])
        # loading again replaces the path
        sim.request("POST", "/v1/load_lora_adapter",
                    json.dumps({"lora_name": "lora1", "lora_path": "/new"}))
        self.assertEqual(self.models()[-1]["root"], "/new")
        # metrics keep the base model's name on every series, as upstream
        body = sim.request("GET", "/metrics")[2].decode()
        self.assertIn('vllm:request_success_total{model_name="base",finish_reason=', body)
        self.assertNotIn('model_name="lora', body)

    def test_errors(self):
        sim = self.sim
        st, j = sim.json("POST", "/v1/unload_lora_adapter", {"lora_name": "nope"})
        self.assertEqual(st, 404)
        self.assertIn("'nope' cannot be found", j["error"]["message"])
        cases = [
            ("/v1/load_lora_adapter", b"{not json", None, "failed to read and parse load lora"),
            ("/v1/load_lora_adapter", b'{"lora_path":"/p"}', "lora_name", "'lora_name' is required"),
            ("/v1/load_lora_adapter", b'{"lora_name":7}', "lora_name", "must be a string"),
            ("/v1/load_lora_adapter", b'{"lora_name":"x","lora_path":[]}', "lora_path",
             "must be a string"),
            ("/v1/load_lora_adapter", b'{"lora_name":""}', "lora_name", "1 to 256 characters"),
            ("/v1/load_lora_adapter", b'{"lora_name":"base"}', "lora_name",
             "has a served model name"),
            ("/v1/load_lora_adapter", b'[1]', None, "not a JSON object"),
            ("/v1/unload_lora_adapter", b"", None, "failed to read and parse unload lora"),
        ]
        for path, body, param, msg in cases:
            st, _, raw = sim.request("POST", path, body)
            self.assertEqual(st, 400, (path, body))
            err = json.loads(raw)["error"]
            self.assertIn(msg, err["message"], (path, body))
            self.assertEqual(err["param"], param, (path, body))
            self.assertEqual(err["type"], "BadRequestError")
        self.assertEqual(sim.request("GET", "/v1/load_lora_adapter")[0], 405)
        big = json.dumps({"lora_name": "x", "lora_path": "p" * (2 << 20)})
        st, _, raw = sim.request("POST", "/v1/load_lora_adapter", big)
        self.assertEqual(st, 413)
        self.assertIn("larger than the limit of 1 MB", json.loads(raw)["error"]["message"])
        # nothing changed, and the server still serves
        self.assertEqual([m["id"] for m in self.models()], [M, "lora3", "lora4"])
        self.assertEqual(sim.json("POST", "/v1/completions", text("lora3"))[0], 200)

    def test_bad_lora_modules_flag_exits_non_zero(self):
        bad = Proc(SIMULATOR, ["--model", M, "--lora-modules", '{"name":"x","base_model_name":"y"}'],
                   wait_listen=False)
        self.assertEqual(bad.wait(20), 2)
        bad.stop()
        self.assertTrue(any('base_model_name "y" is not the base model "base"' in line
                            for line in bad.lines), bad.lines)


class SchedulingTest(unittest.TestCase):
    def run_all(self, sim, models, spacing=0.08):
        """Send one request per model, spacing apart; return the models in finishing order."""
        done, lock, threads = [], threading.Lock(), []

        def one(m):
            st, j = sim.json("POST", "/v1/completions", text(m, max_tokens=1), timeout=60)
            self.assertEqual(st, 200, j)
            with lock:
                done.append((time.monotonic(), m))

        for m in models:
            t = threading.Thread(target=one, args=(m,))
            t.start()
            threads.append(t)
            time.sleep(spacing)
        return threads, done

    def test_loaded_adapters_go_first(self):
        sim = Proc(SIMULATOR, ["--model", M, "--max-num-seqs", "1", "--max-loras", "1",
                               "--time-to-first-token", "800ms", "--lora-modules", "a=/a", "b=/b"])
        try:
            t0 = time.monotonic()
            threads, done = self.run_all(sim, [M, "a", "b", "a"])
            # base runs; a, b, a wait: the label set shows them, and only one series exists
            info = lora_info(sim)
            self.assertEqual(len(info), 1, info)
            self.assertIn('running_lora_adapters="",waiting_lora_adapters="a,b"', info[0][0])
            self.assertIn('max_lora="1"', info[0][0])
            self.assertGreater(float(info[0][1]), time.time() - 60)  # time of the last change
            time.sleep(max(0, t0 + 1.2 - time.monotonic()))  # base done, the first "a" runs
            info = lora_info(sim)
            self.assertEqual(len(info), 1, info)
            self.assertIn('running_lora_adapters="a",waiting_lora_adapters="a,b"', info[0][0])
            for t in threads:
                t.join(30)
            # the second "a" went before "b": a was loaded, b needed a slot
            self.assertEqual([m for _, m in sorted(done)], [M, "a", "a", "b"])
            info = lora_info(sim)
            self.assertEqual(len(info), 1, info)
            self.assertIn('running_lora_adapters="",waiting_lora_adapters=""', info[0][0])
        finally:
            self.assertEqual(sim.stop(), 0)

    def test_adapter_waits_for_a_lora_slot_not_for_base(self):
        # two slots, one LoRA slot: "b" cannot run beside "a", the base request can
        sim = Proc(SIMULATOR, ["--model", M, "--max-num-seqs", "2", "--max-loras", "1",
                               "--time-to-first-token", "500ms", "--lora-modules", "a=/a", "b=/b"])
        try:
            t0 = time.monotonic()
            threads, done = self.run_all(sim, ["a", "b", M], spacing=0.05)
            for t in threads:
                t.join(30)
            at = {m: t - t0 for t, m in done}
            self.assertLess(at[M], 0.9)  # ran beside "a"
            self.assertLess(at["a"], 0.9)
            self.assertGreater(at["b"], 0.95)  # after "a" freed the LoRA slot
        finally:
            self.assertEqual(sim.stop(), 0)

    def test_two_lora_slots_run_side_by_side(self):
        sim = Proc(SIMULATOR, ["--model", M, "--max-num-seqs", "2", "--max-loras", "2",
                               "--time-to-first-token", "500ms", "--lora-modules", "a=/a", "b=/b"])
        try:
            t0 = time.monotonic()
            threads, done = self.run_all(sim, ["a", "b"], spacing=0.02)
            time.sleep(0.2)
            info = lora_info(sim)
            self.assertEqual(len(info), 1, info)
            self.assertIn('max_lora="2",running_lora_adapters="a,b"', info[0][0])
            for t in threads:
                t.join(30)
            self.assertLess(max(t for t, _ in done) - t0, 0.9)
        finally:
            self.assertEqual(sim.stop(), 0)


if __name__ == "__main__":
    unittest.main()
