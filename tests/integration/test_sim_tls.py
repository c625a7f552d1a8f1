"""pdsim-simulator over HTTPS: --ssl-certfile/--ssl-keyfile with a CA the client trusts,
--self-signed-certs, and the flag errors."""

import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import SIMULATOR, Proc, http_json  # noqa: E402

M = "m"


def make_ca_and_cert(d):
    """A CA and a server certificate for 127.0.0.1/localhost signed by it (openssl CLI)."""
    def run(*args):
        subprocess.run(["openssl"] + list(args), check=True, capture_output=True, cwd=d)
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=pdsim test CA")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "tls.key", "-out", "tls.csr", "-subj", "/CN=localhost")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "tls.crt", "-days", "2", "-extfile", "ext.cnf")


class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp()
        make_ca_and_cert(cls.dir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def test_cert_files_verified_by_the_ca(self):
        sim = Proc(SIMULATOR, ["--model", M, "--ssl-certfile", os.path.join(self.dir, "tls.crt"),
                               "--ssl-keyfile", os.path.join(self.dir, "tls.key")])
        try:
            self.assertEqual([j.get("scheme") for j in sim.logs() if j.get("msg") == "listening"],
                             ["https"])
            ctx = ssl.create_default_context(cafile=os.path.join(self.dir, "ca.crt"))
            st, j = http_json(sim.port, "POST", "/v1/chat/completions", {
                "model": M, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2},
                tls=ctx)
            self.assertEqual(st, 200, j)
            # a client that does not trust the CA refuses the server
            with self.assertRaises(ssl.SSLError):
                http_json(sim.port, "GET", "/v1/models", tls=ssl.create_default_context())
        finally:
            self.assertEqual(sim.stop(), 0)

    def test_self_signed(self):
        sim = Proc(SIMULATOR, ["--model", M, "--self-signed-certs"])
        try:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self.assertEqual(http_json(sim.port, "GET", "/v1/models", tls=ctx)[0], 200)
            # the certificate names 127.0.0.1 and localhost
            pem = ssl.get_server_certificate(("127.0.0.1", sim.port))
            p = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName"],
                               input=pem, capture_output=True, text=True, timeout=30)
            self.assertIn("DNS:localhost", p.stdout)
            self.assertIn("IP Address:127.0.0.1", p.stdout)
        finally:
            self.assertEqual(sim.stop(), 0)

    def test_key_file_without_final_newline(self):
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d)
        with open(os.path.join(self.dir, "tls.key")) as f:
            key = f.read().rstrip("\n")
        with open(os.path.join(d, "k.pem"), "w") as f:
            f.write(key)  # no trailing newline
        sim = Proc(SIMULATOR, ["--model", M, "--ssl-certfile", os.path.join(self.dir, "tls.crt"),
                               "--ssl-keyfile", os.path.join(d, "k.pem")])
        try:
            ctx = ssl.create_default_context(cafile=os.path.join(self.dir, "ca.crt"))
            self.assertEqual(http_json(sim.port, "GET", "/v1/models", tls=ctx)[0], 200)
        finally:
            self.assertEqual(sim.stop(), 0)

    def test_flag_errors(self):
        crt, key = os.path.join(self.dir, "tls.crt"), os.path.join(self.dir, "tls.key")
        for args, want in ((["--ssl-certfile", crt], "go together"),
                           (["--ssl-keyfile", key], "go together"),
                           (["--ssl-certfile", crt, "--ssl-keyfile", key, "--self-signed-certs"],
                            "choose one"),
                           (["--ssl-certfile", "/nonexistent.crt", "--ssl-keyfile", key],
                            "/nonexistent.crt")):
            p = subprocess.run([SIMULATOR, "--model", M, "--host", "127.0.0.1", "--port", "0"]
                               + args, capture_output=True, text=True, timeout=30)
            self.assertNotEqual(p.returncode, 0, args)
            self.assertIn(want, p.stderr, args)


if __name__ == "__main__":
    unittest.main(verbosity=2)
