"""pdsim-simulator's command line: errors exit non-zero naming the flag; --help; seed args."""

import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import SIMULATOR, Proc, run_binary  # noqa: E402


def run(*args, env=None):
    e = dict(os.environ)
    e.pop("SIM_MODEL", None)
    e.update(env or {})
    p = run_binary([SIMULATOR] + list(args), capture_output=True, text=True, timeout=20,
                   env=e)
    return p.returncode, p.stdout, p.stderr


class CliTest(unittest.TestCase):
    def test_errors_name_the_flag(self):
        cases = [
            (["--model", "m", "--port", "x"], "flag --port"),
            (["--model", "m", "--no-such-flag"], "--no-such-flag"),
            (["--model", "m", "--enable-kvcache"], "--enable-kvcache"),  # without POD_IP
            (["--model", "m", "--time-to-first-token", "10 parsecs"], "--time-to-first-token"),
            (["--port", "8000"], "--model is required"),
        ]
        for args, needle in cases:
            rc, out, err = run(*args, env={"POD_IP": ""})
            self.assertNotEqual(rc, 0, args)
            lines = err.strip().splitlines()
            self.assertEqual(len(lines), 1, err)
            self.assertIn(needle, lines[0])

    def test_bad_yaml(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write("model: m\nmax-num-seqs: many\n")
        try:
            rc, out, err = run("--config", f.name)
            self.assertNotEqual(rc, 0)
            self.assertIn('line 2: key "max-num-seqs"', err)
        finally:
            os.unlink(f.name)

    def test_help(self):
        rc, out, err = run("--help")
        self.assertEqual(rc, 0)
        for flag in ("--port", "--model", "--served-model-name", "--mode", "--seed",
                     "--max-num-seqs", "--max-waiting-queue-length", "--max-model-len",
                     "--time-to-first-token-std-dev", "--inter-token-latency-std-dev",
                     "--prefill-overhead", "--prefill-time-per-token", "--prefill-time-std-dev",
                     "--kv-cache-transfer-latency-std-dev", "--kv-cache-transfer-time-per-token",
                     "--kv-cache-transfer-time-std-dev", "--latency-calculator",
                     "--time-factor-under-load", "--max-request-body-size-mb", "--config", "--v"):
            self.assertIn(flag, out)
        self.assertIn("(default 1000)", out)

    def test_seed_manifest_args_and_env_model(self):
        # the prefill container's args from the seed manifest vllm-sim-pd.yaml
        sim = Proc(SIMULATOR, ["--v=4", "--model=Qwen/Qwen2.5-0.5B-Instruct",
                               "--data-parallel-size=1", "--prefill-time-per-token=200",
                               "--prefill-time-std-dev=3", "--render-url=http://localhost:8082"])
        try:
            st, j = sim.json("GET", "/v1/models")
            self.assertEqual(j["data"][0]["id"], "Qwen/Qwen2.5-0.5B-Instruct")
            self.assertTrue(any(l.get("msg") == "flag ignored" for l in sim.logs()))
        finally:
            self.assertEqual(sim.stop(), 0)
        sim = Proc(SIMULATOR, [], env={"SIM_MODEL": "from-env"})
        try:
            st, j = sim.json("GET", "/v1/models")
            self.assertEqual(j["data"][0]["id"], "from-env")
        finally:
            self.assertEqual(sim.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
