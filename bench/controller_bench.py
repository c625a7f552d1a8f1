#!/usr/bin/python3
"""pdsim-controller at scale against the fake API server (tests/support/fake_apiserver.py).

Creates N PDSimulations at once and measures, from the first create:
  - the time until every resource is converged: its 4 children exist and its status is
    Ready for the current generation (the fake's deployment controller makes
    Deployments available at once);
  - the controller's API calls per resource to get there, writes split by what they
    write (child applies, status, events, lease), from the fake's request log (only
    requests whose User-Agent is pdsim-controller);
  - the calls it makes while idle, over --idle seconds after convergence;
  - its peak and current RSS (/proc/PID/status VmHWM, VmRSS).
Prints one JSON object.

Usage: controller_bench.py --controller BIN [--count 200] [--idle 60] [--workers 1]
"""

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FAKE = os.path.join(ROOT, "tests", "support", "fake_apiserver.py")
PD = "/apis/pdsim.io/v1alpha1/namespaces/default/pdsimulations"


def req(port, method, path, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers={"Content-Type": "application/json"} if body is not None else {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, json.loads(data) if data else None


def rss_kib(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmHWM", "VmRSS"):
                out[k] = int(v.split()[0])
    return out


def classify(r):
    """What a controller request was: read, watch, apply, status, event, lease."""
    path, m = r["path"], r["method"]
    if "/leases" in path:
        return "lease"
    if "/events" in path:
        return "event" if m != "GET" else "read"
    if m == "GET":
        return "watch" if "watch=1" in r["query"] or "watch=true" in r["query"] else "read"
    if path.endswith("/status"):
        return "status"
    if m == "PATCH":
        return "apply"
    return "other-write"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--controller", required=True)
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--idle", type=float, default=60)
    ap.add_argument("--workers", type=int, default=1)
    a = ap.parse_args()

    fake = subprocess.Popen([sys.executable, FAKE, "--history", "1000000",
                             "--bookmark-interval", "1"], stdout=subprocess.PIPE)
    port = json.loads(fake.stdout.readline())["port"]
    work = tempfile.mkdtemp()
    kc = os.path.join(work, "kc.yaml")
    with open(kc, "w") as f:
        f.write("current-context: c\nclusters: [{name: f, cluster: {server: "
                "'http://127.0.0.1:%d'}}]\ncontexts: [{name: c, context: {cluster: f}}]\n" % port)
    log = open(os.path.join(work, "controller.log"), "w+")
    ctl = None
    try:
        ctl = subprocess.Popen([a.controller, "--kubeconfig", kc, "--namespace", "default",
                                "--image", "ghcr.io/pdsim/pdsim:bench", "--v", "1",
                                "--health-probe-bind-address", "127.0.0.1:0",
                                "--max-concurrent-reconciles", str(a.workers)],
                               stderr=log)
        time.sleep(0.5)  # informers list the empty namespace
        names = ["sim-%03d" % i for i in range(a.count)]

        def create(name):
            body = {"apiVersion": "pdsim.io/v1alpha1", "kind": "PDSimulation",
                    "metadata": {"name": name},
                    "spec": {"model": "m", "prefill": {"replicas": 1},
                             "decode": {"replicas": 1}}}
            st, _ = req(port, "POST", PD, body)
            assert st == 201, st

        t0 = time.monotonic()
        with ThreadPoolExecutor(16) as ex:
            list(ex.map(create, names))
        t_created = time.monotonic() - t0

        def converged():
            st, lst = req(port, "GET", PD)
            done = 0
            for pd in lst["items"]:
                s = pd.get("status") or {}
                if s.get("phase") == "Ready" and \
                        s.get("observedGeneration") == pd["metadata"]["generation"]:
                    done += 1
            return done

        deadline = t0 + 300
        done = 0
        while time.monotonic() < deadline:
            done = converged()
            if done == a.count:
                break
            time.sleep(0.05)
        t_conv = time.monotonic() - t0
        children = 0
        for path in ("/apis/apps/v1/namespaces/default/deployments",
                     "/api/v1/namespaces/default/services"):
            children += len(req(port, "GET", path)[1]["items"])

        _, log_reqs = req(port, "GET", "/fake/requests")
        mine = [r for r in log_reqs if r["agent"].startswith("pdsim-controller")]
        by = {}
        for r in mine:
            k = classify(r)
            by[k] = by.get(k, 0) + 1
        mem_busy = rss_kib(ctl.pid)

        # Idle: nothing changes; count every controller request in the window.
        n_before = len(mine)
        time.sleep(a.idle)
        _, log_reqs = req(port, "GET", "/fake/requests")
        idle = [r for r in log_reqs if r["agent"].startswith("pdsim-controller")][n_before:]
        idle_by = {}
        for r in idle:
            k = classify(r)
            idle_by[k] = idle_by.get(k, 0) + 1
        mem = rss_kib(ctl.pid)
        writes = sum(v for k, v in by.items() if k in ("apply", "status", "event", "other-write"))
        out = {
            "count": a.count, "workers": a.workers, "converged": done, "children": children,
            "create_seconds": round(t_created, 3), "converge_seconds": round(t_conv, 3),
            "calls_by_kind": by,
            "writes_per_cr": round(writes / a.count, 2),
            "writes_per_cr_without_events": round((writes - by.get("event", 0)) / a.count, 2),
            "calls_per_cr": round(len(mine) / a.count, 2),
            "idle_seconds": a.idle, "idle_calls": len(idle), "idle_calls_by_kind": idle_by,
            "idle_writes": sum(v for k, v in idle_by.items()
                               if k in ("apply", "status", "event", "other-write")),
            "rss_peak_kib": mem["VmHWM"], "rss_kib": mem["VmRSS"],
            "rss_after_converge_kib": mem_busy["VmRSS"],
        }
        print(json.dumps(out))
        return 0 if done == a.count else 1
    finally:
        if ctl:
            ctl.terminate()
            try:
                ctl.wait(15)
            except subprocess.TimeoutExpired:
                ctl.kill()
        fake.terminate()
        fake.wait(10)
        log.close()
        os.system("rm -rf " + work)


if __name__ == "__main__":
    sys.exit(main())
