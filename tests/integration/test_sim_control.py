"""pdsim-simulator runtime control as upstream: --startup-duration, sleep mode (/sleep,
/wake_up, /is_sleeping) and GET /query."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import SIMULATOR, Proc  # noqa: E402

M = "m"
TEXT = {"model": M, "prompt": "hi", "max_tokens": 2}


class StartupTest(unittest.TestCase):
    def test_ready_after_startup_duration(self):
        t0 = time.monotonic()
        sim = Proc(SIMULATOR, ["--model", M, "--startup-duration", "1500ms"])
        try:
            self.assertEqual(sim.request("GET", "/health")[0], 200)  # alive at once
            self.assertEqual(sim.request("GET", "/health/ready")[0], 503)
            self.assertEqual(sim.json("POST", "/v1/completions", TEXT)[0], 200)  # serves anyway
            while sim.request("GET", "/health/ready")[0] != 200:
                self.assertLess(time.monotonic() - t0, 10)
                time.sleep(0.05)
            self.assertGreaterEqual(time.monotonic() - t0, 1.5)
            self.assertEqual(sim.request("GET", "/ready")[0], 200)
        finally:
            self.assertEqual(sim.stop(), 0)


class SleepTest(unittest.TestCase):
    def sleeping(self, sim):
        st, j = sim.json("GET", "/is_sleeping")
        self.assertEqual(st, 200)
        return j["is_sleeping"]

    def test_sleep_and_wake(self):
        sim = Proc(SIMULATOR, ["--model", M, "--enable-sleep-mode"],
                   env={"VLLM_SERVER_DEV_MODE": "1"})
        try:
            self.assertFalse(self.sleeping(sim))
            self.assertEqual(sim.request("POST", "/sleep")[0], 200)
            self.assertTrue(self.sleeping(sim))
            self.assertEqual(sim.json("POST", "/v1/completions", TEXT)[0], 200)  # still serves
            self.assertEqual(sim.request("POST", "/wake_up?tags=weights")[0], 200)
            self.assertTrue(self.sleeping(sim))
            self.assertEqual(sim.request("POST", "/wake_up?tags=kv_cache")[0], 200)
            self.assertFalse(self.sleeping(sim))
            sim.request("POST", "/sleep")
            sim.request("POST", "/wake_up")
            self.assertFalse(self.sleeping(sim))
            self.assertEqual(sim.request("GET", "/sleep")[0], 405)
            self.assertEqual(sim.request("POST", "/is_sleeping")[0], 405)
        finally:
            self.assertEqual(sim.stop(), 0)

    def test_sleep_needs_the_flag_and_the_env(self):
        for args, env in ((["--enable-sleep-mode"], {}),
                          (["--enable-sleep-mode=false"], {"VLLM_SERVER_DEV_MODE": "1"}),
                          (["--enable-sleep-mode", "--no-enable-sleep-mode"],
                           {"VLLM_SERVER_DEV_MODE": "1"}),
                          ([], {"VLLM_SERVER_DEV_MODE": "1"})):
            env = dict(env)
            if "VLLM_SERVER_DEV_MODE" not in env:
                env["VLLM_SERVER_DEV_MODE"] = ""
            sim = Proc(SIMULATOR, ["--model", M] + args, env=env)
            try:
                self.assertEqual(sim.request("POST", "/sleep")[0], 200)  # 200 either way
                self.assertFalse(self.sleeping(sim), args)
            finally:
                sim.stop()


class AdminConfigTest(unittest.TestCase):
    def test_get_update_and_rejections(self):
        sim = Proc(SIMULATOR, ["--model", M, "--time-to-first-token", "100ms"])
        try:
            st, cfg = sim.json("GET", "/admin/config")
            self.assertEqual(st, 200)
            self.assertEqual((cfg["time-to-first-token"], cfg["inter-token-latency"],
                              cfg["failure-injection-rate"], cfg["model"]), ("100ms", "0s", 0, M))
            self.assertEqual(len(cfg["failure-types"]), 6)
            # a partial update: strings or integer nanoseconds
            st, new = sim.json("POST", "/admin/config",
                               {"inter-token-latency": "40ms", "time-to-first-token": 20000000})
            self.assertEqual(st, 200, new)
            self.assertEqual((new["inter-token-latency"], new["time-to-first-token"]),
                             ("40ms", "20ms"))
            self.assertEqual(sim.json("GET", "/admin/config")[1], new)
            t0 = time.monotonic()
            st, j = sim.json("POST", "/v1/completions", dict(TEXT, max_tokens=6, ignore_eos=True))
            took = time.monotonic() - t0
            self.assertEqual(st, 200)
            self.assertGreater(took, 0.02 + 5 * 0.04 * 0.9)  # the new latencies apply
            # rejected as a whole: nothing changes
            for bad, want in (({"inter-token-latency": "fast"}, "inter-token-latency"),
                              ({"port": 1}, "not a setting that can change"),
                              ({"inter-token-latency": "1ms", "inter-token-latency-std-dev": "1ms"},
                               "at most 0.3x"),
                              ({"failure-types": ["nope"]}, "is not a failure type"),
                              ({"failure-injection-rate": 101}, "out of range"),
                              ({"time-factor-under-load": 0.5}, ">= 1.0"),
                              ([1], "JSON object")):
                st, j = sim.json("POST", "/admin/config", bad)
                self.assertEqual(st, 400, bad)
                self.assertIn(want, j["error"]["message"], bad)
                self.assertEqual(sim.json("GET", "/admin/config")[1], new)
            st, _, _ = sim.request("POST", "/admin/config", b"{not json", {})
            self.assertEqual(st, 400)
            self.assertEqual(sim.request("PUT", "/admin/config")[0], 405)
            # failure injection switched on and off at run time
            st, _ = sim.json("POST", "/admin/config", {"failure-injection-rate": 100,
                                                        "failure-types": ["server_error"]})
            self.assertEqual(st, 200)
            self.assertEqual(sim.json("POST", "/v1/completions", TEXT)[0], 503)
            sim.json("POST", "/admin/config", {"failure-injection-rate": 0})
            self.assertEqual(sim.json("POST", "/v1/completions", TEXT)[0], 200)
        finally:
            self.assertEqual(sim.stop(), 0)


class QueryTest(unittest.TestCase):
    def test_query_engine_id_is_stable(self):
        sim = Proc(SIMULATOR, ["--model", M])
        try:
            st, a = sim.json("GET", "/query")
            self.assertEqual(st, 200)
            self.assertEqual(list(a), ["0"])
            self.assertRegex(a["0"]["engine_id"],
                             r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
            self.assertEqual(sim.json("GET", "/query")[1], a)
            self.assertEqual(sim.request("POST", "/query")[0], 405)
            # the same engine id as the P/D handshake's remote_engine_id
            st, j = sim.json("POST", "/v1/completions", dict(
                TEXT, kv_transfer_params={"do_remote_decode": True}))
            self.assertEqual(j["kv_transfer_params"]["remote_engine_id"], a["0"]["engine_id"])
        finally:
            self.assertEqual(sim.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
