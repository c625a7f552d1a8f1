"""Secrets stay out of the logs, at debug level too, and turning TLS verification off is
said in a warning.

Each program runs at its most verbose level (--v 5 = debug) while it handles the
secrets a deployment gives it (the controller's bearer token and client key, the
sidecar's and the simulator's TLS keys, a client's Authorization header) on the success
and the failure paths; then every line it wrote is searched for them."""

import base64
import http.client
import json
import os
import shutil
import ssl
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import SIDECAR, SIMULATOR, Proc, http_request  # noqa: E402
from test_fake_apiserver import Fake  # noqa: E402
from test_sim_tls import make_ca_and_cert  # noqa: E402

CONTROLLER = os.environ.get("PDSIM_CONTROLLER", "build/controller/pdsim-controller")
PD = "/apis/pdsim.io/v1alpha1/namespaces/default/pdsimulations"
TOKEN = "pdsim-test-bearer-Zq8vK2mN5xR7"
CLIENT_KEY = "sk-client-secret-Hw3jT9pL4cV6"
BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}


def key_fragments(path):
    """Pieces of a PEM private key that a log line must never hold: each base64 line of
    its body, and the start of the base64 of the whole file (as in client-key-data)."""
    with open(path) as f:
        pem = f.read()
    body = [ln for ln in pem.splitlines() if ln and not ln.startswith("-----")]
    whole = base64.b64encode(pem.encode()).decode()
    return [ln[:40] for ln in body if len(ln) >= 24] + [whole[:40], whole[40:80]]


def leaked(lines, secrets):
    return [(s, ln) for ln in lines for s in secrets if s in ln]


def tls_client(d):
    ctx = ssl.create_default_context(cafile=os.path.join(d, "ca.crt"))
    return ctx


class SecretsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp()
        make_ca_and_cert(cls.dir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def kubeconfig(self, port, token, extra_cluster=""):
        key = os.path.join(self.dir, "tls.key")
        crt = os.path.join(self.dir, "tls.crt")
        def b64(p):
            with open(p, "rb") as f:
                return base64.b64encode(f.read()).decode()
        path = os.path.join(self.dir, "kc-%d.yaml" % port)
        with open(path, "w") as f:
            f.write("current-context: c\n"
                    "clusters: [{name: f, cluster: {server: 'http://127.0.0.1:%d'%s}}]\n"
                    "users: [{name: u, user: {token: '%s', client-certificate-data: '%s', "
                    "client-key-data: '%s'}}]\n"
                    "contexts: [{name: c, context: {cluster: f, user: u}}]\n"
                    % (port, extra_cluster, token, b64(crt), b64(key)))
        return path

    def run_controller(self, kc, seconds_or_ready):
        ctl = Proc(CONTROLLER, ["--kubeconfig", kc, "--namespace", "default", "--image",
                                "ghcr.io/pdsim/pdsim:test", "--health-probe-bind-address",
                                "127.0.0.1:0", "--v", "5"], base=False)
        try:
            seconds_or_ready()
        finally:
            ctl.stop()
        return ctl.lines

    def fake_req(self, fake, method, path, body=None):
        c = http.client.HTTPConnection("127.0.0.1", fake.port, timeout=10)
        c.request(method, path, body=json.dumps(body) if body is not None else None,
                  headers={"Authorization": "Bearer " + TOKEN,
                           "Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, json.loads(data) if data else None

    def test_controller_token_and_client_key(self):
        fake = Fake("--token", TOKEN)
        self.addCleanup(fake.stop)
        secrets = [TOKEN, "wrong-" + TOKEN] + key_fragments(os.path.join(self.dir, "tls.key"))

        def ready():
            st, _ = self.fake_req(fake, "POST", PD, {
                "apiVersion": "pdsim.io/v1alpha1", "kind": "PDSimulation",
                "metadata": {"name": "s"}, "spec": {"model": "m"}})
            self.assertEqual(st, 201)
            end = time.monotonic() + 30
            while time.monotonic() < end:
                _, pd = self.fake_req(fake, "GET", PD + "/s")
                if (pd.get("status") or {}).get("phase") == "Ready":
                    return
                time.sleep(0.1)
            self.fail("the resource did not become Ready")

        lines = self.run_controller(self.kubeconfig(fake.port, TOKEN), ready)
        self.assertGreater(len([ln for ln in lines if '"level":"debug"' in ln]), 5,
                           "the controller logged nothing at debug level: the test saw nothing")
        # the failure path: every call is refused (401) with a wrong token
        bad = self.run_controller(self.kubeconfig(fake.port, "wrong-" + TOKEN),
                                  lambda: time.sleep(2))
        self.assertTrue(any("401" in ln for ln in bad), bad[-5:])
        self.assertEqual(leaked(lines + bad, secrets), [])

    def test_controller_warns_when_verification_is_off(self):
        fake = Fake("--token", TOKEN)
        self.addCleanup(fake.stop)
        warn = "TLS certificate verification of the API server is off"
        plain = self.run_controller(self.kubeconfig(fake.port, TOKEN), lambda: time.sleep(1))
        self.assertFalse(any(warn in ln for ln in plain))
        off = self.run_controller(
            self.kubeconfig(fake.port, TOKEN, ", insecure-skip-tls-verify: true"),
            lambda: time.sleep(1))
        hits = [json.loads(ln) for ln in off if warn in ln]
        self.assertEqual(len(hits), 1, off[-5:])
        self.assertEqual(hits[0]["level"], "warn")

    def test_sidecar_and_simulator_keys_and_client_authorization(self):
        key = os.path.join(self.dir, "tls.key")
        secrets = [CLIENT_KEY] + key_fragments(key)
        tls = ["--ssl-certfile", os.path.join(self.dir, "tls.crt"), "--ssl-keyfile", key]
        pre = Proc(SIMULATOR, ["--model", "m", "--v", "5"] + tls)
        dec = Proc(SIMULATOR, ["--model", "m", "--v", "5"] + tls)
        sc = None
        try:
            sc = Proc(SIDECAR, ["--v=5", "--model-server-port", str(dec.port), "--secure-proxy",
                                "--cert-path", self.dir, "--enable-tls", "prefiller,decoder",
                                "--tls-insecure-skip-verify", "prefiller,decoder"])
            client = tls_client(self.dir)
            auth = {"Authorization": "Bearer " + CLIENT_KEY}
            for hdr in ({}, {"x-prefiller-host-port": "127.0.0.1:%d" % pre.port},
                        {"x-prefiller-host-port": "127.0.0.1:1"}):
                st, _, _ = http_request(sc.port, "POST", "/v1/chat/completions", BODY,
                                        dict(auth, **hdr), tls=client)
                self.assertIn(st, (200, 502, 503), hdr)
            st, _, _ = http_request(dec.port, "POST", "/v1/chat/completions", {"model": 1},
                                    auth, tls=client)
            self.assertEqual(st, 400)
        finally:
            for p in (sc, pre, dec):
                if p:
                    p.stop()
        lines = sc.lines + pre.lines + dec.lines
        self.assertGreater(len([ln for ln in lines if '"level":"debug"' in ln]), 3,
                           "nothing was logged at debug level: the test saw nothing")
        self.assertEqual(leaked(lines, secrets), [])
        warns = [json.loads(ln) for ln in sc.lines
                 if "TLS certificate verification is off" in ln]
        self.assertEqual(sorted(w["stage"] for w in warns), ["decoder", "prefiller"])
        self.assertTrue(all(w["level"] == "warn" for w in warns))

    def test_sidecar_without_the_flag_does_not_warn(self):
        sim = Proc(SIMULATOR, ["--model", "m"])
        try:
            sc = Proc(SIDECAR, ["--secure-proxy=false", "--model-server-port", str(sim.port)])
            sc.stop()
        finally:
            sim.stop()
        self.assertFalse(any("verification is off" in ln for ln in sc.lines))


if __name__ == "__main__":
    unittest.main()
