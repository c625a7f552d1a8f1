"""manifests/: the kustomization's files exist and parse, the ClusterRole grants exactly
what the controller calls, the controller Deployment runs non-root with probes, and every
flag it passes is one pdsim-controller accepts. (No kubectl here: structure only.)"""

import os
import subprocess
import unittest

import yaml

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
CONTROLLER = os.environ.get("PDSIM_CONTROLLER", "build/controller/pdsim-controller")

# (apiGroup, resource, verb) the controller uses: informers (get/list/watch), apply
# (patch; create and update are what server-side apply may need), /status writes.
USED = {("pdsim.io", "pdsimulations", v) for v in ("get", "list", "watch")} | \
    {("pdsim.io", "pdsimulations/status", v) for v in ("get", "update", "patch")} | \
    {("pdsim.io", "pdsimulations/finalizers", "update")} | \
    {(g, r, v) for g, r in (("apps", "deployments"), ("", "services"))
     for v in ("get", "list", "watch", "create", "update", "patch")}


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

    def test_rbac_is_exactly_what_is_used(self):
        docs = load_all("manifests/base/rbac.yaml")
        role = [d for d in docs if d["kind"] == "ClusterRole"][0]
        granted = {(g, r, v) for rule in role["rules"] for g in rule["apiGroups"]
                   for r in rule["resources"] for v in rule["verbs"]}
        self.assertEqual(granted, USED)
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


if __name__ == "__main__":
    unittest.main(verbosity=2)
