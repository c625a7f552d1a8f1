"""docs/flags.md is what the binaries under test print for --help (regenerate with
scripts/gen-flags-doc), and the README points at documents that exist."""

import importlib.machinery
import importlib.util
import os
import re
import unittest

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def load_generator():
    path = os.path.join(ROOT, "scripts", "gen-flags-doc")
    loader = importlib.machinery.SourceFileLoader("gen_flags_doc", path)
    spec = importlib.util.spec_from_loader("gen_flags_doc", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


class DocsTest(unittest.TestCase):
    def test_flags_reference_matches_the_binaries(self):
        gen = load_generator()
        bins = {"pdsim-simulator": os.environ.get("PDSIM_SIMULATOR",
                                                  "build/simulator/pdsim-simulator"),
                "pdsim-sidecar": os.environ.get("PDSIM_SIDECAR", "build/sidecar/pdsim-sidecar"),
                "pdsim-controller": os.environ.get("PDSIM_CONTROLLER",
                                                   "build/controller/pdsim-controller")}
        with open(os.path.join(ROOT, "docs", "flags.md")) as f:
            have = f.read()
        self.assertEqual(have, gen.render(bins),
                         "docs/flags.md is stale: run scripts/gen-flags-doc")
        for flag in ("--local", "--leader-elect", "--kv-connector", "--prefill-time-per-token"):
            self.assertIn(flag, have)

    def test_readme_links_exist(self):
        with open(os.path.join(ROOT, "README.md")) as f:
            readme = f.read()
        for link in re.findall(r"\]\(([^)#]+)\)", readme):
            self.assertTrue(os.path.exists(os.path.join(ROOT, link)), link)


if __name__ == "__main__":
    unittest.main(verbosity=2)
