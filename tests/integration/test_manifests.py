"""manifests/: the kustomization's files exist and parse, the ClusterRole grants exactly
what the controller calls, the controller Deployment runs non-root with probes, and every
flag it passes is one pdsim-controller accepts. (No kubectl here: structure only.)"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

import yaml

sys.path.insert(0, os.path.dirname(__file__))
from harness import SIDECAR, SIMULATOR, Proc, http_json  # noqa: E402
from test_fake_apiserver import Fake, eventually  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
CONTROLLER = os.environ.get("PDSIM_CONTROLLER", "build/controller/pdsim-controller")

# Granted but never seen as such in a run, and why: server-side apply is a PATCH, and
# when the object does not exist the API server also checks create; setting
# blockOwnerDeletion on a child needs update on the owner's finalizers.
ALLOWED_UNSEEN = {("apps", "deployments", "create"), ("", "services", "create"),
                  ("pdsim.io", "pdsimulations/finalizers", "update")}


def rbac_of(req):
    """(apiGroup, resource[/subresource], verb) of one request the fake recorded."""
    parts = [p for p in req["path"].split("/") if p]
    group, rest = ("", parts[2:]) if parts[0] == "api" else (parts[1], parts[3:])
    if rest and rest[0] == "namespaces" and len(rest) >= 3:
        rest = rest[2:]
    resource = rest[0] + ("/" + rest[2] if len(rest) > 2 else "")
    verb = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(
        req["method"])
    if verb is None:
        q = req["query"]
        verb = "get" if len(rest) > 1 else ("watch" if "watch=1" in q or "watch=true" in q
                                            else "list")
    return group, resource, verb


def load_all(rel):
    with open(os.path.join(ROOT, rel)) as f:
        return [d for d in yaml.safe_load_all(f) if d]


class ManifestTest(unittest.TestCase):
    def test_kustomization(self):
        k = load_all("manifests/kustomization.yaml")[0]
        self.assertEqual(k["kind"], "Kustomization")
        kinds = []
        for rel in k["resources"]:
            kinds += [d["kind"] for d in load_all(os.path.join("manifests", rel))]
        self.assertEqual(sorted(kinds), ["ClusterRole", "ClusterRoleBinding", "Deployment",
                                         "Namespace", "ServiceAccount"])

    def test_kubectl_kustomize_builds(self):
        """kubectl kustomize manifests/ (kubectl from Debian's kubernetes-client, which
        scripts/deps.sh test installs)."""
        p = subprocess.run(["kubectl", "kustomize", os.path.join(ROOT, "manifests")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        docs = [d for d in yaml.safe_load_all(p.stdout) if d]
        self.assertEqual(sorted((d["kind"], d["metadata"]["name"]) for d in docs),
                         [("ClusterRole", "pdsim-controller"),
                          ("ClusterRoleBinding", "pdsim-controller"),
                          ("Deployment", "pdsim-controller"), ("Namespace", "pdsim-system"),
                          ("ServiceAccount", "pdsim-controller")])

    def test_rbac_is_exactly_what_is_used(self):
        """Run the controller (leader election, events, a conflict, a child deleted
        twice) and compare its requests with the ClusterRole."""
        docs = load_all("manifests/base/rbac.yaml")
        role = [d for d in docs if d["kind"] == "ClusterRole"][0]
        granted = {(g, r, v) for rule in role["rules"] for g in rule["apiGroups"]
                   for r in rule["resources"] for v in rule["verbs"]}
        fake = Fake()
        self.addCleanup(fake.stop)
        d = tempfile.mkdtemp()
        self.addCleanup(lambda: os.system("rm -rf " + d))
        kc = os.path.join(d, "kc.yaml")
        with open(kc, "w") as f:
            f.write("current-context: c\nclusters: [{name: f, cluster: {server: "
                    "'http://127.0.0.1:%d'}}]\ncontexts: [{name: c, context: {cluster: f}}]\n"
                    % fake.port)
        ctl = Proc(CONTROLLER, ["--kubeconfig", kc, "--image", "img", "--leader-elect",
                                "--health-probe-bind-address", "127.0.0.1:0"], base=False)
        self.addCleanup(ctl.stop)
        pd = "/apis/pdsim.io/v1alpha1/namespaces/default/pdsimulations"
        fake.req("POST", "/fake/faults", {"conflict": 1, "agent": "pdsim-controller"})
        fake.req("POST", pd, {"metadata": {"name": "r"}, "spec": {"model": "m"}})
        eventually(lambda: fake.req("GET", pd + "/r")[1].get("status", {}).get("phase"),
                   lambda ph: ph == "Ready")
        svc = "/api/v1/namespaces/default/services/r-d-service"
        for _ in range(2):  # twice: the second "Created" event is a count (a patch)
            uid = fake.req("GET", svc)[1]["metadata"]["uid"]
            fake.req("DELETE", svc)
            eventually(lambda: fake.req("GET", svc),
                       lambda r: r[0] == 200 and r[1]["metadata"]["uid"] != uid)
        self.assertEqual(ctl.stop(), 0)
        mine = {rbac_of(r) for r in fake.req("GET", "/fake/requests")[1]
                if r["agent"].startswith("pdsim-controller")}
        self.assertEqual(mine - granted, set(), "used but not granted")
        self.assertEqual(granted - mine - ALLOWED_UNSEEN, set(), "granted but never used")
        binding = [d for d in docs if d["kind"] == "ClusterRoleBinding"][0]
        self.assertEqual(binding["subjects"][0]["name"], "pdsim-controller")

    def test_controller_deployment(self):
        d = load_all("manifests/base/controller.yaml")[0]
        pod = d["spec"]["template"]["spec"]
        self.assertTrue(pod["securityContext"]["runAsNonRoot"])
        c = pod["containers"][0]
        self.assertTrue(c["securityContext"]["readOnlyRootFilesystem"])
        self.assertFalse(c["securityContext"]["allowPrivilegeEscalation"])
        self.assertEqual(c["livenessProbe"]["httpGet"]["path"], "/healthz")
        self.assertEqual(c["readinessProbe"]["httpGet"]["path"], "/readyz")
        helptext = subprocess.run([CONTROLLER, "--help"], capture_output=True, text=True,
                                  timeout=30).stdout
        for arg in c["args"]:
            self.assertIn(arg.split("=")[0], helptext)


def assert_hardened(test, pod, where):
    """Pod Security "restricted": non-root, RuntimeDefault seccomp, no privilege
    escalation, a read-only root file system and every capability dropped."""
    psec = pod.get("securityContext") or {}
    test.assertTrue(psec.get("runAsNonRoot"), where)
    test.assertEqual((psec.get("seccompProfile") or {}).get("type"), "RuntimeDefault", where)
    for c in pod["containers"]:
        sec = c.get("securityContext") or {}
        test.assertIs(sec.get("allowPrivilegeEscalation"), False, (where, c["name"]))
        test.assertIs(sec.get("readOnlyRootFilesystem"), True, (where, c["name"]))
        test.assertEqual(sec.get("capabilities"), {"drop": ["ALL"]}, (where, c["name"]))


class HardeningTest(unittest.TestCase):
    def test_every_pod_is_hardened(self):
        pods = [("controller.yaml", load_all("manifests/base/controller.yaml")[0])]
        pods += [("vllm-sim-pd.yaml " + d["metadata"]["name"], d)
                 for d in load_all("manifests/vllm-sim-pd.yaml") if d["kind"] == "Deployment"]
        with open(os.path.join(ROOT, "tests/unit/golden/pdsim-vllm-sim.children.json")) as f:
            children = json.load(f)
        pods += [("controller child " + d["metadata"]["name"], d)
                 for d in (children if isinstance(children, list) else children.get("items", []))
                 if d.get("kind") == "Deployment"]
        self.assertGreaterEqual(len(pods), 5)
        for where, d in pods:
            assert_hardened(self, d["spec"]["template"]["spec"], where)
        # the image runs as that non-root user
        with open(os.path.join(ROOT, "Dockerfile")) as f:
            self.assertIn("USER 65532:65532", f.read())


class StandaloneManifestTest(unittest.TestCase):
    """manifests/vllm-sim-pd.yaml: the seed's objects, and its containers' exact
    arguments run here (ports swapped for free loopback ones) serve the seed's curl."""

    def test_objects(self):
        docs = {(d["kind"], d["metadata"]["name"]): d for d in load_all("manifests/vllm-sim-pd.yaml")}
        self.assertEqual(sorted(docs), [("Deployment", "vllm-sim-d"), ("Deployment", "vllm-sim-p"),
                                        ("Service", "vllm-sim-d-service"),
                                        ("Service", "vllm-sim-p-service")])
        for role, short in (("prefill", "p"), ("decode", "d")):
            dep = docs[("Deployment", "vllm-sim-" + short)]
            self.assertEqual(dep["spec"]["selector"]["matchLabels"], {"llm-d.ai/role": role})
            self.assertEqual(dep["spec"]["template"]["metadata"]["labels"]["llm-d.ai/role"], role)
            svc = docs[("Service", "vllm-sim-%s-service" % short)]
            self.assertEqual(svc["spec"]["selector"], {"llm-d.ai/role": role})
            self.assertEqual(svc["spec"]["ports"][0]["port"], 8000)
            self.assertEqual(svc["spec"]["ports"][0]["targetPort"], 8000)
        d = docs[("Deployment", "vllm-sim-d")]["spec"]["template"]["spec"]["containers"]
        self.assertEqual([c["name"] for c in d], ["routing-sidecar", "vllm-decode"])  # READY 2/2

    def test_containers_serve_the_seed_request(self):
        docs = {d["metadata"]["name"]: d for d in load_all("manifests/vllm-sim-pd.yaml")}
        cont = lambda dep, i: docs[dep]["spec"]["template"]["spec"]["containers"][i]
        binary = {"pdsim-simulator": SIMULATOR, "pdsim-sidecar": SIDECAR}

        def start(c, **ports):
            args = []
            for a in c["args"]:
                flag = a.split("=")[0].lstrip("-")
                args.append("--%s=%d" % (flag, ports[flag]) if flag in ports else a)
            proc = Proc(binary[c["command"][0]], args + ["--host=127.0.0.1"], base=False)
            self.addCleanup(proc.stop)
            return proc

        prefill = start(cont("vllm-sim-p", 0), port=0)
        decode = start(cont("vllm-sim-d", 1), port=0)
        sidecar = start(cont("vllm-sim-d", 0), port=0, **{"vllm-port": decode.port})
        # The seed guide's curl, with the prefill Service's address swapped for loopback.
        st, body = http_json(sidecar.port, "POST", "/v1/chat/completions", {
            "model": "meta-llama/Llama-3.1-8B-Instruct",
            "messages": [{"role": "user", "content": "Hello from P/D architecture!"}],
            "max_tokens": 32}, {"x-prefiller-host-port": "127.0.0.1:%d" % prefill.port})
        self.assertEqual(st, 200, body)
        self.assertEqual(body["model"], "meta-llama/Llama-3.1-8B-Instruct")
        self.assertGreater(body["usage"]["completion_tokens"], 0)
        # The prefill leg ran on the prefill simulator (its request counter moved).
        metrics = prefill.request("GET", "/metrics")[2].decode()
        self.assertRegex(metrics, r'vllm:request_success_total\{[^}]*\} [1-9]')


if __name__ == "__main__":
    unittest.main(verbosity=2)
