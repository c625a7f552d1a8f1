"""pdsim-controller --local: PDSimulations as local processes. Bad documents exit 2 with
the field; the seed's scenario runs and answers the seed's curl with and without the
prefill header; the P/D legs show in /metrics; a killed child comes back; fronts spread
requests over replicas; Ctrl-C, SIGTERM and even SIGKILL of the parent leave no child."""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import free_port, http_json, http_request  # noqa: E402
from test_fake_apiserver import eventually  # noqa: E402

CONTROLLER = os.environ.get("PDSIM_CONTROLLER", "build/controller/pdsim-controller")
ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
EXAMPLE = os.path.join(ROOT, "manifests", "examples", "vllm-sim.yaml")
MODEL = "meta-llama/Llama-3.1-8B-Instruct"
SEED_BODY = {"model": MODEL, "messages": [{"role": "user",
                                           "content": "Hello from P/D architecture!"}],
             "max_tokens": 32}

FAST = """apiVersion: pdsim.io/v1alpha1
kind: PDSimulation
metadata: {name: fast}
spec:
  model: m
  simulator: {mode: echo, interTokenLatency: 2ms}
  prefill: {replicas: %d, simulator: {prefillTimePerToken: 1ms}}
  decode: {replicas: %d}
"""


def alive(pid):
    """pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


class Local:
    """pdsim-controller --local FILE, its stdout table, its stderr (JSON logs and the
    children's prefixed lines) and its status file."""

    def __init__(self, text=None, path=None, extra=()):
        self.dir = tempfile.mkdtemp()
        if path is None:
            path = os.path.join(self.dir, "sim.yaml")
            with open(path, "w") as f:
                f.write(text)
        self.status_file = os.path.join(self.dir, "status.json")
        self.p = subprocess.Popen([CONTROLLER, "--local", path, "--local-port", "0",
                                   "--local-status-file", self.status_file] + list(extra),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.err, self.out = [], []
        self._t = [threading.Thread(target=self._read, args=(s, l), daemon=True)
                   for s, l in ((self.p.stderr, self.err), (self.p.stdout, self.out))]
        for t in self._t:
            t.start()

    def _read(self, stream, lines):
        for line in stream:
            lines.append(line.rstrip("\n"))

    def logs(self, prefix=None):
        """JSON log lines: the controller's own (prefix None) or a child's."""
        out = []
        for line in list(self.err):
            if prefix is not None:
                if not line.startswith(prefix + " | "):
                    continue
                line = line[len(prefix) + 3:]
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def status(self, i=0):
        try:
            with open(self.status_file) as f:
                return json.load(f)["items"][i]["status"]
        except (OSError, ValueError, KeyError, IndexError):
            return {}

    def ready(self, seconds=30):
        return eventually(self.status, lambda s: s.get("phase") == "Ready", seconds)

    def pids(self):
        return {j["process"]: j["pid"] for j in self.logs() if j.get("msg") == "started"}

    def port(self, process):
        """The port a child reported in its 'listening' log line (the latest start)."""
        ls = [j for j in self.logs(process) if j.get("msg") == "listening"]
        return ls[-1]["port"]

    def stop(self, sig=signal.SIGINT, timeout=30):
        if self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)
        for t in self._t:
            t.join(5)
        for f in (self.p.stdout, self.p.stderr):
            f.close()
        return self.p.returncode

    def cleanup(self):
        pids = list(self.pids().values())
        self.stop(signal.SIGKILL)
        for pid in pids:  # never leave a child behind, whatever the test did
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        os.system("rm -rf " + self.dir)


class BadInputTest(unittest.TestCase):
    def run_local(self, text):
        d = tempfile.mkdtemp()
        path = os.path.join(d, "sim.yaml")
        with open(path, "w") as f:
            f.write(text)
        try:
            return subprocess.run([CONTROLLER, "--local", path], capture_output=True,
                                  text=True, timeout=30)
        finally:
            os.system("rm -rf " + d)

    def test_bad_documents_exit_2_with_the_field(self):
        head = "apiVersion: pdsim.io/v1alpha1\nkind: PDSimulation\nmetadata: {name: x}\n"
        cases = (
            (head + "spec: {model: m, prefill: {replicas: -1}}\n",
             "document 1 (x): spec.prefill.replicas: must be greater than or equal to 0"),
            (head + "spec: {model: m, decode: {replicaz: 2}}\n",
             "spec.decode.replicaz: unknown field"),
            (head + "spec: {model: m, simulator: {timeToFirstToken: 10ms, "
                    "timeToFirstTokenStdDev: 5ms}}\n", "at most 0.3 x timeToFirstToken"),
            (head + "spec: {}\n", "spec.model: Required value"),
            (head + "spec: {model: m}\n---\n" + head.replace("{name: x}", "{name: Y}")
             + "spec: {model: m}\n", "document 2 (Y): metadata.name"),
            ("kind: Service\n", "apiVersion: must be pdsim.io/v1alpha1"),
            ("spec: [unclosed\n", "sim.yaml: line 2"),
            ("", "no PDSimulation"),
        )
        for text, want in cases:
            p = self.run_local(text)
            self.assertEqual(p.returncode, 2, (text, p.stderr))
            self.assertIn(want, p.stderr, text)
        p = subprocess.run([CONTROLLER, "--local", "/nonexistent.yaml"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn("/nonexistent.yaml", p.stderr)
        p = subprocess.run([CONTROLLER, "--local-port", "9"], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn("need --local FILE", p.stderr)

    def test_stdin(self):
        text = FAST % (1, 1)
        p = subprocess.Popen([CONTROLLER, "--local", "-", "--local-port", "0"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
        try:
            p.stdin.write(text)
            p.stdin.close()
            header = p.stdout.readline() + p.stdout.readline() + p.stdout.readline()
            self.assertIn("PREFILL-ENDPOINT", header)
            self.assertIn("fast", p.stdout.readline())
        finally:
            p.send_signal(signal.SIGINT)
            self.assertEqual(p.wait(30), 0)
            p.stdout.close()


class SeedScenarioTest(unittest.TestCase):
    """manifests/examples/vllm-sim.yaml, the README's main job."""

    def test_seed_curl_with_and_without_the_header(self):
        run = Local(path=EXAMPLE)
        self.addCleanup(run.cleanup)
        st = run.ready()
        self.assertEqual((st["prefill"]["summary"], st["decode"]["summary"]), ("1/1", "1/1"))
        dport = int(st["endpoint"].split(":")[1])
        pport = int(st["prefillEndpoint"].split(":")[1])
        # The table is printed on start and on every change, just before the status file
        # is written; the thread reading stdout may not have caught up yet.
        out = eventually(lambda: list(run.out),
                         lambda o: any(l.startswith("vllm-sim ") and " Ready " in l for l in o), 10)
        self.assertIn("PREFILL-ENDPOINT", "\n".join(out))
        # The seed's curl: header with localhost:PORT of the prefill address.
        t0 = time.monotonic()
        status, body = http_json(dport, "POST", "/v1/chat/completions", SEED_BODY,
                                 {"x-prefiller-host-port": "localhost:%d" % pport}, timeout=60)
        took = time.monotonic() - t0
        self.assertEqual(status, 200, body)
        self.assertEqual(body["model"], MODEL)
        prompt = body["usage"]["prompt_tokens"]
        self.assertGreater(took, prompt * 0.2 * 0.8)  # 200 ms per prompt token, on prefill
        # Without the header: the sidecar's default prefiller is the prefill address.
        status, body = http_json(dport, "POST", "/v1/chat/completions", SEED_BODY, timeout=60)
        self.assertEqual(status, 200, body)
        # Both P/D legs ran: the prefill simulator ended 2 requests with remote_decode
        # (the KV cache handed over), the decode simulator generated 2 answers, the
        # sidecar counted 2 P/D requests.
        def successes(port):
            text = http_request(port, "GET", "/metrics")[2].decode()
            return {l.split('finish_reason="')[1].split('"')[0]: float(l.split()[-1])
                    for l in text.splitlines() if l.startswith("vllm:request_success_total{")}
        self.assertEqual(successes(pport), {"remote_decode": 2})
        dec = successes(run.port("vllm-sim-d-0/simulator"))
        self.assertEqual(sum(dec.values()), 2, dec)
        self.assertNotIn("remote_decode", dec)
        sm = http_request(dport, "GET", "/metrics")[2].decode()
        pd = [l for l in sm.splitlines()
              if l.startswith("pdsim_sidecar_requests_total{") and 'outcome="pd_ok"' in l]
        self.assertTrue(pd and float(pd[0].split()[-1]) == 2, sm)
        self.assertEqual(run.stop(signal.SIGINT), 0)


class SupervisionTest(unittest.TestCase):
    def test_killed_child_restarts_and_nothing_survives(self):
        run = Local(FAST % (1, 1))
        self.addCleanup(run.cleanup)
        st = run.ready()
        dport = int(st["endpoint"].split(":")[1])
        pids = run.pids()
        self.assertEqual(sorted(pids), ["fast-d-0/sidecar", "fast-d-0/simulator",
                                        "fast-p-0/simulator"])
        # The downward-API variables a pod's containers get.
        with open("/proc/%d/environ" % pids["fast-d-0/sidecar"], "rb") as f:
            env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
        self.assertEqual((env[b"POD_NAME"], env[b"POD_NAMESPACE"], env[b"POD_IP"]),
                         (b"fast-d-0", b"default", b"127.0.0.1"))
        # kill -9 the decode simulator: logged, restarted with the same args, Ready again.
        os.kill(pids["fast-d-0/simulator"], signal.SIGKILL)
        exited = eventually(lambda: [j for j in run.logs() if j.get("msg", "").startswith(
            "exited")], lambda l: len(l) == 1)[0]
        self.assertEqual((exited["process"], exited["signal"]), ("fast-d-0/simulator", 9))
        eventually(lambda: run.pids()["fast-d-0/simulator"],
                   lambda p: p != pids["fast-d-0/simulator"], 15)
        eventually(run.status, lambda s: s.get("phase") == "Ready", 30)
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}
        status, _ = eventually(lambda: http_json(dport, "POST", "/v1/chat/completions", body),
                               lambda r: r[0] == 200, 30)
        self.assertTrue(any(" 1\n" in l + "\n" for l in run.out if l.startswith("fast ")))
        # Ctrl-C: every child stopped and waited for; exit 0.
        pids = run.pids()
        self.assertEqual(run.stop(signal.SIGINT), 0)
        for name, pid in pids.items():
            self.assertFalse(alive(pid), name)

    def test_sigkill_of_the_parent_takes_the_children(self):
        """Even with a request in flight (a sidecar would drain it for up to a minute
        on SIGTERM), every child is gone at once and the decode port is free again."""
        run = Local(FAST.replace("interTokenLatency: 2ms", "interTokenLatency: 100ms") % (1, 1))
        self.addCleanup(run.cleanup)
        st = run.ready()
        dport = int(st["endpoint"].split(":")[1])
        pids = run.pids()
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}],
                "max_tokens": 100, "ignore_eos": True}
        threading.Thread(target=lambda: http_request(dport, "POST", "/v1/chat/completions",
                                                     body, timeout=30), daemon=True).start()
        time.sleep(0.5)
        run.stop(signal.SIGKILL)
        t0 = time.monotonic()
        for name, pid in pids.items():
            eventually(lambda: alive(pid), lambda a: not a, 5)
        self.assertLess(time.monotonic() - t0, 5)
        # The role's port is soon free to bind again (SO_REUSEADDR, as servers bind;
        # the killed connection's socket may linger in the kernel for a moment).
        def bindable():
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", dport))
                return True
            except OSError:
                return False
            finally:
                s.close()
        eventually(bindable, lambda ok: ok, 5)

    def test_two_resources_in_one_file(self):
        two = (FAST % (1, 1)).replace("name: fast", "name: one") + \
            "  service: {port: %d}\n---\n" % free_port() + \
            (FAST % (1, 1)).replace("name: fast", "name: two") + \
            "  service: {port: %d}\n" % free_port()
        d = tempfile.mkdtemp()
        self.addCleanup(lambda: os.system("rm -rf " + d))
        path = os.path.join(d, "two.yaml")
        with open(path, "w") as f:
            f.write(two)
        p = subprocess.Popen([CONTROLLER, "--local", path, "--local-status-file",
                              os.path.join(d, "st.json")], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        try:
            def statuses():
                try:
                    with open(os.path.join(d, "st.json")) as f:
                        return [i["status"] for i in json.load(f)["items"]]
                except (OSError, ValueError):
                    return []
            sts = eventually(statuses, lambda l: len(l) == 2
                             and all(s["phase"] == "Ready" for s in l), 45)
            body = {"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 1}
            for st in sts:
                port = int(st["endpoint"].split(":")[1])
                self.assertEqual(http_json(port, "POST", "/v1/chat/completions", body)[0], 200)
            self.assertNotEqual(sts[0]["prefillEndpoint"], sts[1]["prefillEndpoint"])
        finally:
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(30), 0)

    def test_fronts_spread_requests_over_replicas(self):
        run = Local(FAST % (2, 2))
        self.addCleanup(run.cleanup)
        st = run.ready(45)
        self.assertEqual((st["prefill"]["summary"], st["decode"]["summary"]), ("2/2", "2/2"))
        dport = int(st["endpoint"].split(":")[1])
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
        for _ in range(8):  # a new connection each: the front picks per connection
            status, resp = http_json(dport, "POST", "/v1/chat/completions", body)
            self.assertEqual(status, 200, resp)
        for role in ("d", "p"):
            counts = []
            for r in range(2):
                port = run.port("fast-%s-%d/simulator" % (role, r))
                m = http_request(port, "GET", "/metrics")[2].decode()
                counts.append(sum(float(l.split()[-1]) for l in m.splitlines()
                                  if l.startswith("vllm:request_success_total{")))
            self.assertEqual(sum(counts), 8, (role, counts))
            self.assertEqual(counts, [4, 4], (role, counts))  # round robin
        self.assertEqual(run.stop(signal.SIGTERM), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
