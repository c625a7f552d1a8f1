"""crds/pdsimulation.yaml: its shape, that the examples and the controller's golden
resource validate against its schema (a subset of the API server's OpenAPI checks,
defaults and the CEL rules, re-implemented here), and that it agrees with the binaries:
every simulator property is a pdsim-simulator flag, the connectors are the sidecar's."""

import copy
import json
import os
import re
import subprocess
import sys
import unittest

import yaml

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
SIMULATOR = os.environ.get("PDSIM_SIMULATOR", "build/simulator/pdsim-simulator")
SIDECAR = os.environ.get("PDSIM_SIDECAR", "build/sidecar/pdsim-sidecar")


def load_yaml(rel):
    with open(os.path.join(ROOT, rel)) as f:
        return yaml.safe_load(f)


class Invalid(Exception):
    pass


def validate(schema, value, path="", defaults=True):
    """Check value against schema (types, enums, bounds, patterns, required, unknown
    fields), applying defaults in place like the API server. Raises Invalid."""
    if schema.get("x-kubernetes-int-or-string"):
        if not isinstance(value, (int, str)) or isinstance(value, bool):
            raise Invalid("%s: must be an integer or a string" % path)
        if isinstance(value, str):
            if "pattern" in schema and not re.search(schema["pattern"], value):
                raise Invalid("%s: %r does not match %s" % (path, value, schema["pattern"]))
            if len(value) > schema.get("maxLength", 1 << 30):
                raise Invalid("%s: too long" % path)
        return
    t = schema.get("type")
    types = {"object": dict, "array": list, "string": str, "boolean": bool}
    if t in types and not isinstance(value, types[t]):
        raise Invalid("%s: must be %s" % (path, t))
    if t == "integer" and (not isinstance(value, int) or isinstance(value, bool)):
        raise Invalid("%s: must be an integer" % path)
    if t == "number" and (not isinstance(value, (int, float)) or isinstance(value, bool)):
        raise Invalid("%s: must be a number" % path)
    if "enum" in schema and value not in schema["enum"]:
        raise Invalid("%s: %r not in %s" % (path, value, schema["enum"]))
    if "minimum" in schema and value < schema["minimum"]:
        raise Invalid("%s: below %s" % (path, schema["minimum"]))
    if "maximum" in schema and value > schema["maximum"]:
        raise Invalid("%s: above %s" % (path, schema["maximum"]))
    if t == "string":
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", 1 << 30):
            raise Invalid("%s: bad length" % path)
        if "pattern" in schema and not re.search(schema["pattern"], value):
            raise Invalid("%s: %r does not match" % (path, value))
    if t == "array":
        for i, item in enumerate(value):
            validate(schema.get("items", {}), item, "%s[%d]" % (path, i), defaults)
    if t == "object":
        props = schema.get("properties", {})
        if defaults:
            for k, sub in props.items():
                if k not in value and "default" in sub:
                    value[k] = copy.deepcopy(sub["default"])
        for k in schema.get("required", []):
            if k not in value:
                raise Invalid("%s.%s: required" % (path, k))
        for k, v in value.items():
            if k in props:
                validate(props[k], v, "%s.%s" % (path, k), defaults)
            elif not schema.get("x-kubernetes-preserve-unknown-fields") and path != ".metadata":
                raise Invalid("%s.%s: unknown field" % (path, k))


UNITS = {"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4, "h": 3.6e6}


def go_duration_ms(s):
    return sum(float(n) * UNITS[u] for n, u in re.findall(r"([0-9.]+)(ns|us|µs|ms|s|m|h)", s))


def cel_rules(spec, name):
    """The CRD's CEL rules, in Python."""
    if len(name) > 53:
        raise Invalid("metadata.name longer than 53")
    if spec.get("service", {}).get("port") == 8200:
        raise Invalid("spec.service.port 8200")
    sims = [spec.get("simulator") or {}] + [
        (spec.get(r) or {}).get("simulator") or {} for r in ("prefill", "decode")]
    unit = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"
    for sim in sims:
        for sd, mean in (("timeToFirstTokenStdDev", "timeToFirstToken"),
                         ("interTokenLatencyStdDev", "interTokenLatency"),
                         ("kvCacheTransferLatencyStdDev", "kvCacheTransferLatency")):
            a, b = sim.get(sd), sim.get(mean)
            if isinstance(a, str) and isinstance(b, str) and re.match(unit, a) and re.match(unit, b):
                if int(go_duration_ms(a)) * 10 > int(go_duration_ms(b)) * 3:
                    raise Invalid("%s > 0.3 x %s" % (sd, mean))


class CrdTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.crd = load_yaml("crds/pdsimulation.yaml")
        cls.version = cls.crd["spec"]["versions"][0]
        cls.schema = cls.version["schema"]["openAPIV3Schema"]

    def check(self, obj):
        obj = copy.deepcopy(obj)
        validate(self.schema, obj)
        cel_rules(obj["spec"], obj["metadata"]["name"])
        return obj

    def test_shape(self):
        c = self.crd
        self.assertEqual(c["apiVersion"], "apiextensions.k8s.io/v1")
        self.assertEqual(c["metadata"]["name"], "pdsimulations.pdsim.io")
        self.assertEqual(c["spec"]["group"], "pdsim.io")
        self.assertEqual(c["spec"]["scope"], "Namespaced")
        n = c["spec"]["names"]
        self.assertEqual((n["kind"], n["plural"], n["shortNames"]),
                         ("PDSimulation", "pdsimulations", ["pdsim"]))
        v = self.version
        self.assertEqual((v["name"], v["served"], v["storage"]), ("v1alpha1", True, True))
        self.assertEqual(v["subresources"], {"status": {}})
        self.assertEqual([col["name"] for col in v["additionalPrinterColumns"]],
                         ["Model", "Prefill", "Decode", "Ready", "Age"])

    def test_examples_and_defaults(self):
        for rel in ("manifests/examples/vllm-sim.yaml", "manifests/examples/llama-8b-h100.yaml"):
            obj = self.check(load_yaml(rel))
            self.assertEqual(obj["apiVersion"], "pdsim.io/v1alpha1")
            self.assertEqual(obj["spec"]["service"], {"port": 8000, "type": "ClusterIP"})
            self.assertEqual(obj["spec"]["decode"]["sidecar"]["connector"], "nixlv2")
            self.assertIs(obj["spec"]["decode"]["sidecar"]["defaultPrefiller"], True)
        seed = self.check(load_yaml("manifests/examples/vllm-sim.yaml"))
        self.assertEqual(seed["spec"]["prefill"]["simulator"],
                         {"prefillTimePerToken": "200ms", "prefillTimeStdDev": "3ms"})
        # The resource the controller's golden test uses is valid too.
        with open(os.path.join(ROOT, "tests/unit/golden/pdsim-vllm-sim.cr.json")) as f:
            self.check(json.load(f))

    def test_rejections(self):
        base = load_yaml("manifests/examples/vllm-sim.yaml")
        bad = [
            (["spec", "model"], None),
            (["spec", "prefill", "replicas"], -1),
            (["spec", "decode", "replicas"], "two"),
            (["spec", "service", "port"], 8200),
            (["spec", "service", "port"], 70000),
            (["spec", "service", "type"], "Ingress"),
            (["spec", "decode", "sidecar"], {"connector": "carrier-pigeon"}),
            (["spec", "simulator"], {"mode": "loud"}),
            (["spec", "simulator"], {"interTokenLatency": "20 ms"}),
            (["spec", "simulator"], {"interTokenLatency": "20ms", "interTokenLatencyStdDev": "7ms"}),
            (["spec", "decode", "simulator"], {"kvCacheTransferLatency": "1s",
                                              "kvCacheTransferLatencyStdDev": "301ms"}),
            (["spec", "typo"], 1),
            (["metadata", "name"], "x" * 54),
        ]
        for path, value in bad:
            obj = copy.deepcopy(base)
            node = obj
            for k in path[:-1]:
                node = node.setdefault(k, {})
            if value is None:
                del node[path[-1]]
            else:
                node[path[-1]] = value
            with self.assertRaises(Invalid, msg="%s=%r was accepted" % (".".join(path), value)):
                self.check(obj)
        ok = copy.deepcopy(base)
        ok["spec"]["simulator"] = {"interTokenLatency": 20, "interTokenLatencyStdDev": "6ms",
                                   "anyOtherFlag": "x"}
        self.check(ok)  # bare numbers mean ms; unknown simulator flags pass to the binary

    def test_agrees_with_the_binaries(self):
        sim_help = subprocess.run([SIMULATOR, "--help"], capture_output=True, text=True,
                                  timeout=30).stdout
        sims = self.schema["properties"]["spec"]["properties"]["simulator"]["properties"]
        for key in sims:
            flag = re.sub(r"(?<=[a-z0-9])([A-Z])", r"-\1", key).lower()
            self.assertIn("--" + flag, sim_help, "%s is not a simulator flag" % key)
        roles = self.schema["properties"]["spec"]["properties"]
        for role in ("prefill", "decode"):
            self.assertEqual(roles[role]["properties"]["simulator"]["properties"].keys(),
                             sims.keys())
        sc_help = subprocess.run([SIDECAR, "--help"], capture_output=True, text=True,
                                 timeout=30).stdout
        line = [l for l in sc_help.splitlines() if l.strip().startswith("--kv-connector")][0]
        enum = roles["decode"]["properties"]["sidecar"]["properties"]["connector"]["enum"]
        for conn in enum:
            self.assertIn(conn, line)


if __name__ == "__main__":
    unittest.main(verbosity=2)
