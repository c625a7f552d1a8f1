"""The fake Kubernetes API server (tests/support/fake_apiserver.py) behaves as the
reference says the real one does, so controller tests against it mean something."""

import http.client
import json
import os
import subprocess
import sys
import threading
import time
import unittest

FAKE = os.path.join(os.path.dirname(__file__), "..", "support", "fake_apiserver.py")
PD = "/apis/pdsim.io/v1alpha1/namespaces/default/pdsimulations"
DEP = "/apis/apps/v1/namespaces/default/deployments"


class Fake:
    def __init__(self, *args):
        self.p = subprocess.Popen([sys.executable, FAKE] + list(args), stdout=subprocess.PIPE)
        self.port = json.loads(self.p.stdout.readline())["port"]

    def req(self, method, path, body=None, ctype="application/json", timeout=10):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        data = json.dumps(body) if body is not None else None
        c.request(method, path, body=data, headers={"Content-Type": ctype} if data else {})
        r = c.getresponse()
        out = r.read()
        c.close()
        return r.status, json.loads(out) if out else None

    def watch(self, path, seconds=3):
        """Events of a watch until it ends (or seconds pass), as [(type, object)]."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=seconds + 5)
        c.request("GET", path)
        r = c.getresponse()
        events, buf, end = [], b"", time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                chunk = r.read1(65536)
            except (http.client.IncompleteRead, ValueError):
                break  # the server dropped the watch (a fault, or a restart)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                ev = json.loads(line)
                events.append((ev["type"], ev["object"]))
        c.close()
        return events

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
        self.p.wait(10)
        self.p.stdout.close()


def eventually(get, ok, seconds=10):
    """Poll get() until ok(value); fail after seconds."""
    end = time.monotonic() + seconds
    while True:
        v = get()
        if ok(v):
            return v
        if time.monotonic() > end:
            raise AssertionError("never reached: last value %r" % (v,))
        time.sleep(0.05)


def pdsim(name, **spec):
    spec.setdefault("model", "m")
    return {"apiVersion": "pdsim.io/v1alpha1", "kind": "PDSimulation",
            "metadata": {"name": name, "labels": {"team": "a"}}, "spec": spec}


class FakeApiServerTest(unittest.TestCase):
    def setUp(self):
        self.f = Fake("--history", "20", "--bookmark-interval", "0.2", "--gc-delay", "0.3")

    def tearDown(self):
        self.f.stop()

    def test_create_get_conflicts_and_generation(self):
        f = self.f
        st, a = f.req("POST", PD, pdsim("a", status={"phase": "Ready"}))
        self.assertEqual(st, 201)
        md = a["metadata"]
        self.assertEqual(md["generation"], 1)
        self.assertTrue(md["uid"] and md["creationTimestamp"])
        self.assertNotIn("status", a)  # ignored on the main endpoint
        self.assertEqual(f.req("POST", PD, pdsim("a"))[1]["reason"], "AlreadyExists")
        # A metadata-only change: new resourceVersion, same generation.
        a["metadata"]["labels"]["x"] = "y"
        st, b = f.req("PUT", PD + "/a", a)
        self.assertEqual(st, 200)
        self.assertGreater(int(b["metadata"]["resourceVersion"]),
                           int(a["metadata"]["resourceVersion"]))
        self.assertEqual(b["metadata"]["generation"], 1)
        # A stale resourceVersion is a 409 Conflict; none on a custom resource is 422.
        st, err = f.req("PUT", PD + "/a", a)
        self.assertEqual((st, err["reason"], err["code"]), (409, "Conflict", 409))
        no_rv = json.loads(json.dumps(b))
        del no_rv["metadata"]["resourceVersion"]
        self.assertEqual(f.req("PUT", PD + "/a", no_rv)[0], 422)
        # A spec change bumps generation; the status subresource does not.
        b["spec"]["model"] = "m2"
        st, c = f.req("PUT", PD + "/a", b)
        self.assertEqual(c["metadata"]["generation"], 2)
        c["status"] = {"phase": "Ready", "observedGeneration": 2}
        c["spec"]["model"] = "ignored on /status"
        st, d = f.req("PUT", PD + "/a/status", c)
        self.assertEqual((d["metadata"]["generation"], d["spec"]["model"], d["status"]["phase"]),
                         (2, "m2", "Ready"))
        st, e = f.req("GET", PD + "/a")
        self.assertEqual(e, d)
        self.assertEqual(f.req("GET", PD + "/nope")[1]["reason"], "NotFound")

    def test_list_selectors_and_rv(self):
        f = self.f
        f.req("POST", PD, pdsim("a"))
        b = pdsim("b")
        b["metadata"]["labels"] = {"team": "b", "tier": "gold"}
        f.req("POST", PD, b)
        st, lst = f.req("GET", PD)
        self.assertEqual([o["metadata"]["name"] for o in lst["items"]], ["a", "b"])
        self.assertEqual(lst["kind"], "PDSimulationList")
        self.assertEqual(lst["metadata"]["resourceVersion"],
                         lst["items"][1]["metadata"]["resourceVersion"])
        for sel, want in (("team=a", ["a"]), ("team!=a", ["b"]), ("tier", ["b"]),
                          ("!tier", ["a"]), ("team in (a,b),tier", ["b"]),
                          ("team notin (b)", ["a"])):
            st, lst = f.req("GET", PD + "?labelSelector=" + sel.replace(" ", "%20"))
            self.assertEqual([o["metadata"]["name"] for o in lst["items"]], want, sel)
        st, all_ns = f.req("GET", "/apis/pdsim.io/v1alpha1/pdsimulations")
        self.assertEqual(len(all_ns["items"]), 2)

    def test_watch_replay_resume_bookmarks_timeout_410(self):
        f = self.f
        f.req("POST", PD, pdsim("a"))
        st, lst = f.req("GET", PD)
        rv = lst["metadata"]["resourceVersion"]
        # RV "0" replays the state as ADDED; timeoutSeconds ends the stream cleanly.
        ev = f.watch(PD + "?watch=1&resourceVersion=0&timeoutSeconds=1")
        self.assertEqual([(t, o["metadata"]["name"]) for t, o in ev], [("ADDED", "a")])
        # From a resourceVersion: only newer events, with bookmarks when asked.
        threading.Timer(0.3, lambda: f.req("POST", PD, pdsim("b"))).start()
        threading.Timer(0.6, lambda: f.req("DELETE", PD + "/a")).start()
        ev = f.watch(PD + "?watch=1&resourceVersion=%s&timeoutSeconds=2&allowWatchBookmarks=true"
                     % rv)
        kinds = [(t, o["metadata"].get("name")) for t, o in ev if t != "BOOKMARK"]
        self.assertEqual(kinds, [("ADDED", "b"), ("DELETED", "a")])
        bms = [o for t, o in ev if t == "BOOKMARK"]
        self.assertTrue(bms)
        self.assertGreaterEqual(int(bms[-1]["metadata"]["resourceVersion"]),
                                int(ev[-1][1]["metadata"]["resourceVersion"]) if
                                ev[-1][0] == "BOOKMARK" else 0)
        # Past the bounded history: ERROR 410 Expired.
        for i in range(30):
            f.req("POST", PD, pdsim("n%d" % i))
        ev = f.watch(PD + "?watch=1&resourceVersion=%s&timeoutSeconds=1" % rv)
        self.assertEqual(ev[0][0], "ERROR")
        self.assertEqual((ev[0][1]["code"], ev[0][1]["reason"]), (410, "Expired"))

    def test_apply_merge_patch_and_noop(self):
        f = self.f
        apply = "application/apply-patch+yaml"
        dep = {"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "d"}, "spec": {"replicas": 2, "template": {"x": 1}}}
        self.assertEqual(f.req("PATCH", DEP + "/d", dep, apply)[0], 422)  # fieldManager
        q = "?fieldManager=pdsim-controller&force=true"
        st, a = f.req("PATCH", DEP + "/d" + q, dep, apply)
        self.assertEqual(st, 201)  # created when absent
        st, a = f.req("GET", DEP + "/d")  # (the deployment controller wrote its status)
        st, b = f.req("PATCH", DEP + "/d" + q, dep, apply)
        self.assertEqual(b["metadata"]["resourceVersion"], a["metadata"]["resourceVersion"])
        dep["spec"]["replicas"] = 3
        st, c = f.req("PATCH", DEP + "/d" + q, dep, apply)
        self.assertEqual((c["spec"]["replicas"], c["metadata"]["generation"]), (3, 2))
        st, d = f.req("PATCH", DEP + "/d", {"spec": {"template": None}},
                      "application/merge-patch+json")
        self.assertNotIn("template", d["spec"])
        writes = [r for r in f.req("GET", "/fake/requests")[1] if r["method"] != "GET"]
        self.assertEqual(len(writes), 5)  # every request is logged, no-ops included

    def test_deployment_status_modes(self):
        f = self.f
        apply = "application/apply-patch+yaml"
        q = "?fieldManager=t"
        dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
               "spec": {"replicas": 2}}
        st, d = f.req("PATCH", DEP + "/d" + q, dep, apply)
        st, d = f.req("GET", DEP + "/d")
        self.assertEqual((d["status"]["availableReplicas"], d["status"]["observedGeneration"]),
                         (2, 1))
        f.req("POST", "/fake/deployments", {"mode": "stuck"})
        dep["spec"]["replicas"] = 3
        f.req("PATCH", DEP + "/d" + q, dep, apply)
        st, d = f.req("GET", DEP + "/d")
        self.assertEqual(d["status"]["unavailableReplicas"], 3)
        self.assertNotIn("availableReplicas", d["status"])
        avail = [c for c in d["status"]["conditions"] if c["type"] == "Available"][0]
        self.assertEqual(avail["status"], "False")
        f.req("POST", "/fake/deployments", {"mode": "delayed", "delay": 1.0})
        dep["spec"]["replicas"] = 4
        f.req("PATCH", DEP + "/d" + q, dep, apply)
        st, d = f.req("GET", DEP + "/d")
        self.assertEqual(d["status"]["observedGeneration"], 2)  # not yet rolled
        d = eventually(lambda: f.req("GET", DEP + "/d")[1],
                       lambda d: d["status"]["observedGeneration"] == 3)
        self.assertEqual((d["status"]["observedGeneration"], d["status"]["availableReplicas"]),
                         (3, 4))

    def test_finalizers_and_garbage_collection(self):
        f = self.f
        st, owner = f.req("POST", PD, pdsim("o"))
        ref = {"apiVersion": "pdsim.io/v1alpha1", "kind": "PDSimulation", "name": "o",
               "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}
        child = {"metadata": {"name": "o-d", "ownerReferences": [ref]}, "spec": {"replicas": 1}}
        f.req("POST", DEP, child)
        fin = pdsim("held")
        fin["metadata"]["finalizers"] = ["pdsim.io/cleanup"]
        f.req("POST", PD, fin)
        st, held = f.req("DELETE", PD + "/held")
        self.assertTrue(held["metadata"]["deletionTimestamp"])
        self.assertEqual(held["metadata"]["generation"], 2)
        self.assertEqual(f.req("GET", PD + "/held")[0], 200)  # held by its finalizer
        held["metadata"]["finalizers"] = []
        f.req("PUT", PD + "/held", held)
        self.assertEqual(f.req("GET", PD + "/held")[0], 404)  # gone once released
        f.req("DELETE", PD + "/o")
        self.assertEqual(f.req("GET", DEP + "/o-d")[0], 200)  # GC is asynchronous
        eventually(lambda: f.req("GET", DEP + "/o-d")[0], lambda st: st == 404)

    def test_faults(self):
        f = self.f
        f.req("POST", "/fake/faults", {"fail": {"code": 429, "count": 2}})
        self.assertEqual(f.req("GET", PD)[0], 429)
        self.assertEqual(f.req("GET", PD)[1]["reason"], "TooManyRequests")
        self.assertEqual(f.req("GET", PD)[0], 200)
        f.req("POST", "/fake/faults", {"fail": {"code": 500, "count": 1}})
        self.assertEqual(f.req("GET", PD)[0], 500)
        # Dropped watches end without the terminating chunk; a restart wipes history.
        st, lst = f.req("GET", PD)
        rv = lst["metadata"]["resourceVersion"]
        threading.Timer(0.3, lambda: f.req("POST", "/fake/faults",
                                           {"wipe_history": True})).start()
        t0 = time.monotonic()
        f.watch(PD + "?watch=1&resourceVersion=%s&timeoutSeconds=30" % rv, seconds=10)
        self.assertLess(time.monotonic() - t0, 5)
        ev = f.watch(PD + "?watch=1&resourceVersion=%s&timeoutSeconds=1" % rv)
        self.assertEqual(ev[0][1]["code"], 410)

    def test_targeted_faults_and_conflicts(self):
        f = self.f
        st, obj = f.req("POST", PD, pdsim("c"))
        self.assertEqual(st, 201)
        # Aimed at another User-Agent: this client is not hit.
        f.req("POST", "/fake/faults", {"fail": {"code": 500, "count": 1}, "conflict": 1,
                                       "agent": "pdsim-controller"})
        self.assertEqual(f.req("GET", PD)[0], 200)
        self.assertEqual(f.req("PUT", PD + "/c", obj)[0], 200)
        f.req("POST", "/fake/faults", {"fail": {"count": 0}, "conflict": 0})
        # Aimed at everyone: another writer touches the object first, so the PUT's
        # resourceVersion is stale; the touch is not a spec change.
        f.req("POST", "/fake/faults", {"conflict": 1})
        st, obj = f.req("GET", PD + "/c")
        st, body = f.req("PUT", PD + "/c/status", dict(obj, status={"phase": "x"}))
        self.assertEqual((st, body.get("reason")), (409, "Conflict"), body)
        st, now = f.req("GET", PD + "/c")
        self.assertEqual(now["metadata"]["annotations"]["fake.pdsim.io/touched"], "1")
        self.assertEqual(now["metadata"]["generation"], obj["metadata"]["generation"])
        self.assertEqual(f.req("PUT", PD + "/c/status", dict(now, status={"phase": "x"}))[0], 200)


if __name__ == "__main__":
    unittest.main(verbosity=2)
