"""manifests/grafana/pdsim-dashboard.json: valid JSON with the panels the guide needs,
every query parses (promtool check rules) and names only metrics that a live simulator
and sidecar export."""

import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

import yaml

sys.path.insert(0, os.path.dirname(__file__))
from harness import SIDECAR, SIMULATOR, Proc  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def queries(dash):
    return [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]


class DashboardTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(ROOT, "manifests", "grafana", "pdsim-dashboard.json")) as f:
            cls.dash = json.load(f)

    def test_panels(self):
        titles = " | ".join(p["title"] for p in self.dash["panels"])
        for want in ("Time to first token", "Inter-token latency", "Requests running and waiting",
                     "KV cache usage", "P/D outcomes"):
            self.assertIn(want, titles)
        ids = [p["id"] for p in self.dash["panels"]]
        self.assertEqual(len(ids), len(set(ids)))

    def test_queries_parse(self):
        rules = {"groups": [{"name": "dashboard", "rules": [
            {"record": "pdsim:q%d" % i,
             "expr": q.replace("$__rate_interval", "1m").replace("$model", ".*")
                      .replace("$pod", ".*")}
            for i, q in enumerate(queries(self.dash))]}]}
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            yaml.safe_dump(rules, f)
        try:
            p = subprocess.run([os.environ.get("PROMTOOL", "promtool"), "check", "rules", f.name],
                               capture_output=True, text=True, timeout=30)
        finally:
            os.unlink(f.name)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_metrics_exist(self):
        sim = Proc(SIMULATOR, ["--model", "m"])
        self.addCleanup(sim.stop)
        sc = Proc(SIDECAR, ["--secure-proxy=false", "--model-server-port", str(sim.port)])
        self.addCleanup(sc.stop)
        # labelled series appear once traffic has touched them
        st, _ = sc.json("POST", "/v1/chat/completions", {
            "model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4,
            "ignore_eos": True})  # several tokens: the inter-token histogram is touched
        self.assertEqual(st, 200)
        exported = set()
        for proc in (sim, sc):
            text = proc.request("GET", "/metrics")[2].decode()
            for line in text.splitlines():
                if line.startswith("# TYPE "):
                    name, kind = line.split()[2:4]
                    exported.add(name)
                    if kind == "histogram":
                        exported |= {name + s for s in ("_bucket", "_sum", "_count")}
        for q in queries(self.dash):
            for name in re.findall(r"(vllm:[a-z_]+|pdsim_[a-z_]+)", q):
                self.assertIn(name, exported, q)


if __name__ == "__main__":
    unittest.main(verbosity=2)
