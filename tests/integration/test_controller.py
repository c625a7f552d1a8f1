"""pdsim-controller against the fake API server: children, status, idleness, drift,
spec changes, an invalid spec, probes and metrics, shutdown."""

import json
import os
import sys
import tempfile
import time
import unittest

import yaml

sys.path.insert(0, os.path.dirname(__file__))
from harness import Proc, http_request  # noqa: E402
from test_fake_apiserver import Fake, eventually  # noqa: E402

CONTROLLER = os.environ.get("PDSIM_CONTROLLER", "build/controller/pdsim-controller")
ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
PD = "/apis/pdsim.io/v1alpha1/namespaces/default/pdsimulations"
DEP = "/apis/apps/v1/namespaces/default/deployments"
SVC = "/api/v1/namespaces/default/services"


def write_kubeconfig(path, port):
    with open(path, "w") as f:
        f.write("current-context: c\nclusters: [{name: f, cluster: {server: "
                "'http://127.0.0.1:%d'}}]\ncontexts: [{name: c, context: {cluster: f}}]\n" % port)


class ControllerTest(unittest.TestCase):
    def setUp(self):
        self.fake = Fake("--bookmark-interval", "0.5")
        self.addCleanup(self.fake.stop)  # also when the controller cannot start
        self.dir = tempfile.mkdtemp()
        kc = os.path.join(self.dir, "kc.yaml")
        write_kubeconfig(kc, self.fake.port)
        self.ctl_args = ["--kubeconfig", kc, "--namespace", "default", "--image",
                         "ghcr.io/pdsim/pdsim:test", "--health-probe-bind-address", "127.0.0.1:0",
                         "--v", "4"]
        self.ctl = Proc(CONTROLLER, self.ctl_args, base=False)

    def tearDown(self):
        rc = self.ctl.stop()
        os.system("rm -rf " + self.dir)
        self.assertEqual(rc, 0, self.ctl.lines[-10:])

    def get(self, path):
        st, obj = self.fake.req("GET", path)
        return obj if st == 200 else None

    def condition(self, name, type_):
        pd = self.get(PD + "/" + name) or {}
        for c in (pd.get("status") or {}).get("conditions", []):
            if c["type"] == type_:
                return c
        return None

    def edit(self, name, change):
        """GET, change, PUT; again on 409 (the controller writes status meanwhile)."""
        for _ in range(20):
            pd = self.get(PD + "/" + name)
            change(pd)
            st, _ = self.fake.req("PUT", PD + "/" + name, pd)
            if st == 200:
                return
            self.assertEqual(st, 409)
        self.fail("could not update %s" % name)

    def events(self, name):
        """{(reason, message): event} of the Events about PDSimulation name."""
        st, lst = self.fake.req("GET", "/api/v1/namespaces/default/events")
        self.assertEqual(st, 200)
        return {(e["reason"], e["message"]): e for e in lst["items"]
                if e["involvedObject"]["name"] == name
                and e["involvedObject"]["kind"] == "PDSimulation"}

    def writes(self):
        return [r for r in self.fake.req("GET", "/fake/requests")[1] if r["method"] != "GET"]

    def test_lifecycle(self):
        f = self.fake
        with open(os.path.join(ROOT, "manifests/examples/vllm-sim.yaml")) as fh:
            cr = yaml.safe_load(fh)
        self.assertEqual(f.req("POST", PD, cr)[0], 201)
        d = eventually(lambda: self.get(DEP + "/vllm-sim-d"), lambda d: d is not None)
        p = eventually(lambda: self.get(DEP + "/vllm-sim-p"), lambda d: d is not None)
        for svc in ("vllm-sim-p-service", "vllm-sim-d-service"):
            eventually(lambda: self.get(SVC + "/" + svc), lambda s: s is not None)
        sidecar = d["spec"]["template"]["spec"]["containers"][0]
        self.assertEqual(sidecar["name"], "sidecar")
        self.assertIn("--default-prefiller=vllm-sim-p-service:8000", sidecar["args"])
        self.assertIn("--prefill-time-per-token=200ms",
                      p["spec"]["template"]["spec"]["containers"][0]["args"])
        self.assertEqual(d["metadata"]["ownerReferences"][0]["uid"],
                         self.get(PD + "/vllm-sim")["metadata"]["uid"])
        # The fake's deployment controller makes them available: Ready.
        eventually(lambda: self.condition("vllm-sim", "Ready"),
                   lambda c: c and c["status"] == "True")
        st = self.get(PD + "/vllm-sim")["status"]
        self.assertEqual((st["phase"], st["prefill"]["summary"], st["decode"]["summary"]),
                         ("Ready", "1/1", "1/1"))
        self.assertEqual(st["endpoint"], "vllm-sim-d-service.default.svc:8000")

        # Idle: no writes at all.
        time.sleep(1.0)
        before = len(self.writes())
        time.sleep(2.0)
        self.assertEqual(len(self.writes()), before, self.writes()[before:])

        # Drift: a deleted Service and an edited Deployment come back.
        f.req("DELETE", SVC + "/vllm-sim-d-service")
        eventually(lambda: self.get(SVC + "/vllm-sim-d-service"), lambda s: s is not None)
        for _ in range(2):  # twice: one Event, count 2
            f.req("PATCH", DEP + "/vllm-sim-d", {"spec": {"replicas": 7}},
                  "application/merge-patch+json")
            eventually(lambda: self.get(DEP + "/vllm-sim-d")["spec"]["replicas"],
                       lambda n: n == 1)

        # Events about the resource: creation, readiness, drift corrected (aggregated).
        events = eventually(lambda: self.events("vllm-sim"),
                            lambda e: ("Updated", "Updated Deployment vllm-sim-d") in e
                            and e[("Updated", "Updated Deployment vllm-sim-d")]["count"] == 2)
        created = events[("Created", "Created Deployment vllm-sim-p, Service vllm-sim-p-service, "
                          "Deployment vllm-sim-d, Service vllm-sim-d-service")]
        self.assertEqual((created["type"], created["count"], created["source"]["component"]),
                         ("Normal", 1, "pdsim-controller"))
        self.assertEqual(created["involvedObject"]["uid"],
                         self.get(PD + "/vllm-sim")["metadata"]["uid"])
        self.assertIn(("Created", "Created Service vllm-sim-d-service"), events)
        ready = events[("Ready", "prefill and decode rollouts are complete")]
        # count >= 1: each drift edit bumps the Deployment's generation, so Ready can
        # drop until the (fake) deployment controller observes it, then come back.
        self.assertEqual(ready["type"], "Normal")
        self.assertGreaterEqual(ready["count"], 1)

        # A spec change rolls the children; status follows the new generation.
        self.edit("vllm-sim", lambda pd: pd["spec"]["decode"].update(replicas=3))
        eventually(lambda: self.get(DEP + "/vllm-sim-d")["spec"]["replicas"], lambda n: n == 3)
        eventually(lambda: self.get(PD + "/vllm-sim")["status"],
                   lambda s: s["observedGeneration"] == 2 and s["decode"]["summary"] == "3/3"
                   and s["phase"] == "Ready")

        # A rollout that cannot finish: Ready False, Progressing True.
        f.req("POST", "/fake/deployments", {"mode": "stuck"})
        self.edit("vllm-sim", lambda pd: pd["spec"]["prefill"].update(replicas=2))
        eventually(lambda: self.condition("vllm-sim", "Ready"),
                   lambda c: c["status"] == "False" and c["reason"] == "ReplicasNotAvailable")
        self.assertEqual(self.condition("vllm-sim", "Progressing")["status"], "True")
        not_ready = eventually(lambda: [e for k, e in self.events("vllm-sim").items()
                                        if k[0] == "NotReady"],
                               lambda l: len(l) >= 1)[0]
        self.assertEqual(not_ready["type"], "Warning")

        # Probes and metrics.
        port = self.ctl.port
        self.assertEqual(http_request(port, "GET", "/healthz")[0], 200)
        self.assertEqual(http_request(port, "GET", "/readyz")[0], 200)
        metrics = http_request(port, "GET", "/metrics")[2].decode()
        self.assertIn('pdsim_controller_reconcile_total{result="success"}', metrics)
        self.assertIn('pdsim_controller_api_requests_total{verb="PATCH",code="201"}', metrics)
        self.assertIn('pdsim_controller_api_requests_total{verb="PUT",code="200"}', metrics)

    def set_replicas(self, name, role, n):
        self.edit(name, lambda pd: pd["spec"].setdefault(role, {}).update(replicas=n))

    def converged(self, name, role, n, seconds=20):
        """The role's Deployment has n replicas and the status says n/n for the newest
        generation."""
        short = {"prefill": "p", "decode": "d"}[role]
        eventually(lambda: (self.get(DEP + "/%s-%s" % (name, short)) or {}).get("spec", {})
                   .get("replicas"), lambda r: r == n, seconds)
        eventually(lambda: self.get(PD + "/" + name),
                   lambda pd: pd.get("status", {}).get("observedGeneration") == pd["metadata"]["generation"]
                   and pd["status"].get(role, {}).get("summary") == "%d/%d" % (n, n), seconds)

    def metric(self, name, label=""):
        """The sum of the samples of name (with label, e.g. 'code="500"', if given)."""
        text = http_request(self.ctl.port, "GET", "/metrics")[2].decode()
        return sum(float(l.split()[-1]) for l in text.splitlines()
                   if (l.startswith(name + " ") or l.startswith(name + "{")) and label in l)

    def fault(self, body):
        """A fault for the controller's requests only (not this test's own)."""
        self.assertEqual(self.fake.req("POST", "/fake/faults",
                                       dict(body, agent="pdsim-controller"))[0], 200)

    def test_faults_are_survived(self):
        """Every fault, then a spec change: nothing is lost."""
        f = self.fake
        f.req("POST", PD, {"metadata": {"name": "a"}, "spec": {"model": "m"}})
        self.converged("a", "decode", 1)
        n = 1
        # Watches dropped: the informers re-watch from their last resourceVersion.
        self.fault({"drop_watches": True})
        n += 1
        self.set_replicas("a", "decode", n)
        self.converged("a", "decode", n)
        # A restarted API server with an empty history: 410 Expired, relist.
        restarts = self.metric("pdsim_controller_watch_restarts_total")
        self.fault({"wipe_history": True})
        n += 1
        self.set_replicas("a", "decode", n)
        self.converged("a", "decode", n)
        self.assertGreater(self.metric("pdsim_controller_watch_restarts_total"), restarts)
        # Watches failing with 500 for a while: backoff, then back.
        errors = self.metric("pdsim_controller_api_requests_total", 'code="500"')
        self.fault({"fail": {"code": 500, "count": 3, "only_watch": True},
                    "drop_watches": True})
        n += 1
        self.set_replicas("a", "decode", n)
        self.converged("a", "decode", n)
        # 429 Too Many Requests on every call: Retry-After is honoured.
        self.fault({"fail": {"code": 429, "count": 3}})
        n += 1
        self.set_replicas("a", "decode", n)
        self.converged("a", "decode", n)
        self.assertGreaterEqual(self.metric("pdsim_controller_api_retries_total"), 1)
        # 500 on every call: the reconcile fails and retries with backoff.
        self.fault({"fail": {"code": 500, "count": 4}})
        n += 1
        self.set_replicas("a", "decode", n)
        self.converged("a", "decode", n)
        self.assertGreaterEqual(self.metric("pdsim_controller_api_requests_total", 'code="500"'),
                                errors + 7)  # every injected 500 reached the controller
        # Another writer between the controller's read and its status write: 409, re-read.
        self.fault({"conflict": 1})
        self.set_replicas("a", "prefill", 2)
        self.converged("a", "prefill", 2)
        eventually(lambda: self.metric("pdsim_controller_status_conflicts_total"),
                   lambda v: v >= 1)
        self.converged("a", "decode", n)

    def test_api_server_killed_mid_reconcile_of_50(self):
        """The API server is SIGKILLed while 50 resources are being reconciled and
        comes back with its objects but no watch history (410 for every old
        resourceVersion): every resource converges, and changes made after the
        restart are applied."""
        state = os.path.join(self.dir, "etcd.json")
        self.ctl.stop()
        self.fake.stop()
        self.fake = Fake("--bookmark-interval", "0.5", "--state", state)
        self.addCleanup(self.fake.stop)
        port = self.fake.port
        kc = os.path.join(self.dir, "kc.yaml")
        write_kubeconfig(kc, port)
        self.ctl = Proc(CONTROLLER, self.ctl_args, base=False)
        # rollouts take a while, so the kill lands before any resource is Ready
        self.fake.req("POST", "/fake/deployments", {"mode": "delayed", "delay": 2})
        names = ["r%02d" % i for i in range(50)]
        for n in names[:30]:
            self.assertEqual(self.fake.req("POST", PD, {"metadata": {"name": n},
                                                        "spec": {"model": "m"}})[0], 201)
        # mid-reconcile: some children exist, most statuses are not written yet
        eventually(lambda: self.get(DEP + "/r00-d"), lambda d: d is not None)
        items = self.get(PD)["items"]
        self.fake.p.kill()
        ready = [pd for pd in items for c in (pd.get("status") or {}).get("conditions", [])
                 if c["type"] == "Ready" and c["status"] == "True"]
        self.assertLess(len(ready), 30)  # the kill did land mid-reconcile
        self.fake.p.wait(10)
        self.fake.p.stdout.close()
        time.sleep(1.5)  # the controller meets refused connections meanwhile
        self.fake = Fake("--bookmark-interval", "0.5", "--state", state, "--port", str(port))
        self.addCleanup(self.fake.stop)
        for n in names[30:]:
            self.assertEqual(self.fake.req("POST", PD, {"metadata": {"name": n},
                                                        "spec": {"model": "m"}})[0], 201)
        for n in names[::7]:
            self.set_replicas(n, "decode", 2)
        for n in names:
            self.converged(n, "decode", 2 if n in names[::7] else 1, seconds=60)
            self.converged(n, "prefill", 1, seconds=60)
            self.assertIsNotNone(self.get(SVC + "/%s-d-service" % n))
        self.assertGreater(self.metric("pdsim_controller_watch_restarts_total"), 0)
        self.assertEqual(self.ctl.p.poll(), None)  # never gave up

    def test_restart_makes_no_writes(self):
        """A new controller over converged children writes nothing: list items without
        kind, and resources the server normalised (cpu: 1 -> "1", 2000m -> "2"), still
        match what it wants."""
        f = self.fake
        f.req("POST", PD, {"metadata": {"name": "r"}, "spec": {
            "model": "m", "prefill": {"resources": {"limits": {"cpu": 1, "memory": "1Gi"}}},
            "decode": {"resources": {"requests": {"cpu": "2000m"}}}}})
        eventually(lambda: self.condition("r", "Ready"), lambda c: c and c["status"] == "True")
        p = self.get(DEP + "/r-p")["spec"]["template"]["spec"]["containers"][0]
        self.assertEqual(p["resources"]["limits"]["cpu"], "1")  # normalised by the server
        self.assertEqual(self.ctl.stop(), 0)
        before = len(self.writes())
        self.ctl = Proc(CONTROLLER, self.ctl_args, base=False)
        eventually(lambda: http_request(self.ctl.port, "GET", "/readyz")[0], lambda s: s == 200)
        time.sleep(2.0)
        self.assertEqual(self.writes()[before:], [])
        self.assertGreater(self.metric("pdsim_controller_reconcile_total", "success"), 0)

    def test_deletion_is_garbage_collected(self):
        f = self.fake
        f.req("POST", PD, {"metadata": {"name": "g"}, "spec": {"model": "m"}})
        eventually(lambda: self.condition("g", "Ready"), lambda c: c and c["status"] == "True")
        self.assertEqual(f.req("DELETE", PD + "/g")[0], 200)
        for path in (DEP + "/g-p", DEP + "/g-d", SVC + "/g-p-service", SVC + "/g-d-service"):
            eventually(lambda: f.req("GET", path)[0], lambda st: st == 404)
        # The controller does not bring them back.
        time.sleep(1.0)
        self.assertEqual(f.req("GET", DEP + "/g-d")[0], 404)

    def test_invalid_spec_is_degraded(self):
        f = self.fake
        bad = {"apiVersion": "pdsim.io/v1alpha1", "kind": "PDSimulation",
               "metadata": {"name": "bad"}, "spec": {"model": "m", "simulator": {"port": 1}}}
        f.req("POST", PD, bad)
        c = eventually(lambda: self.condition("bad", "Degraded"),
                       lambda c: c and c["status"] == "True")
        self.assertEqual(c["reason"], "InvalidSpec")
        self.assertIn("spec.simulator.port", c["message"])
        self.assertIsNone(self.get(DEP + "/bad-d"))
        self.assertEqual(self.get(PD + "/bad")["status"]["phase"], "Degraded")
        # The controller keeps serving other resources.
        good = {"apiVersion": "pdsim.io/v1alpha1", "kind": "PDSimulation",
                "metadata": {"name": "good"}, "spec": {"model": "m"}}
        f.req("POST", PD, good)
        eventually(lambda: self.condition("good", "Ready"),
                   lambda c: c and c["status"] == "True")


class LeaderElectionTest(unittest.TestCase):
    def setUp(self):
        """A fake API server and the arguments of a controller that elects a leader."""
        self.fake = Fake()
        self.addCleanup(self.fake.stop)
        d = tempfile.mkdtemp()
        self.addCleanup(os.system, "rm -rf " + d)
        kc = os.path.join(d, "kc.yaml")
        write_kubeconfig(kc, self.fake.port)
        self.args = ["--kubeconfig", kc, "--namespace", "default", "--image", "img",
                     "--health-probe-bind-address", "127.0.0.1:0", "--leader-elect",
                     "--leader-election-namespace", "default"]

    def test_one_leader_and_handover(self):
        fake, args = self.fake, self.args
        a = Proc(CONTROLLER, args, base=False)
        self.addCleanup(a.stop)
        b = Proc(CONTROLLER, args, base=False)
        self.addCleanup(b.stop)
        try:
            leaders = lambda: [p for p in (a, b)
                               if any(j.get("msg") == "became leader" for j in p.logs())]
            eventually(leaders, lambda l: len(l) == 1)
            time.sleep(2.5)  # a renew period later there is still one leader
            self.assertEqual(len(leaders()), 1)
            first = leaders()[0]
            other = b if first is a else a
            lease = self_get(fake, "/apis/coordination.k8s.io/v1/namespaces/default/leases/"
                             "pdsim-controller")
            self.assertEqual(lease["spec"]["leaseDurationSeconds"], 15)
            # Both are ready (readiness does not depend on leadership).
            for p in (a, b):
                eventually(lambda: http_request(p.port, "GET", "/readyz")[0], lambda s: s == 200)
            fake.req("POST", PD, {"metadata": {"name": "x"}, "spec": {"model": "m"}})
            eventually(lambda: fake.req("GET", DEP + "/x-d")[0], lambda s: s == 200)
            # The leader stops and gives the Lease up: the other takes over at once.
            t0 = time.monotonic()
            self.assertEqual(first.stop(), 0)
            eventually(lambda: any(j.get("msg") == "became leader" for j in other.logs()),
                       lambda ok: ok)
            self.assertLess(time.monotonic() - t0, 8)
            fake.req("POST", PD, {"metadata": {"name": "y"}, "spec": {"model": "m"}})
            eventually(lambda: fake.req("GET", DEP + "/y-d")[0], lambda s: s == 200)
            lease = self_get(fake, "/apis/coordination.k8s.io/v1/namespaces/default/leases/"
                             "pdsim-controller")
            self.assertEqual(lease["spec"]["leaseTransitions"], 1)
        finally:
            self.assertEqual(a.stop(), 0)
            self.assertEqual(b.stop(), 0)

    def test_killed_leader_is_replaced_within_the_lease(self):
        """SIGKILL leaves the Lease held: the standby takes over once it expires
        (15 s), not before, and then reconciles."""
        fake, args = self.fake, self.args
        a = Proc(CONTROLLER, args, base=False)
        self.addCleanup(a.stop)
        leader = lambda p: any(j.get("msg") == "became leader" for j in p.logs())
        eventually(lambda: leader(a), lambda ok: ok)
        b = Proc(CONTROLLER, args, base=False)
        self.addCleanup(b.stop)
        time.sleep(1)
        self.assertFalse(leader(b))
        a.p.kill()
        t0 = time.monotonic()
        fake.req("POST", PD, {"metadata": {"name": "k"}, "spec": {"model": "m"}})
        eventually(lambda: leader(b), lambda ok: ok, seconds=25)
        took = time.monotonic() - t0
        self.assertGreater(took, 10)  # the dead leader's Lease was respected...
        self.assertLess(took, 15 + 2 + 3)  # ...and taken once it expired (plus a retry)
        eventually(lambda: fake.req("GET", DEP + "/k-d")[0], lambda s: s == 200)
        lease = self_get(fake, "/apis/coordination.k8s.io/v1/namespaces/default/leases/"
                         "pdsim-controller")
        self.assertEqual(lease["spec"]["leaseTransitions"], 1)
        self.assertEqual(b.stop(), 0)


def self_get(fake, path):
    st, obj = fake.req("GET", path)
    assert st == 200, (st, obj)
    return obj


class FlagTest(unittest.TestCase):
    def test_bad_flags(self):
        import subprocess
        for args, name in ((["--bogus"], "--bogus"),
                           (["--image-pull-policy", "Sometimes"], "--image-pull-policy"),
                           (["--health-probe-bind-address", "nowhere"],
                            "--health-probe-bind-address"),
                           (["--kubeconfig", "/nonexistent.yaml"], "/nonexistent.yaml"),
                           (["--leader-elect=maybe"], "--leader-elect"),
                           (["--metrics-bind-address", "x"], "--metrics-bind-address"),
                           (["--max-concurrent-reconciles", "0"], "--max-concurrent-reconciles")):
            p = subprocess.run([CONTROLLER] + args, capture_output=True, text=True, timeout=30)
            self.assertNotEqual(p.returncode, 0, args)
            self.assertIn(name, p.stderr, args)
        p = subprocess.run([CONTROLLER, "--help"], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0)
        self.assertIn("--namespace", p.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
