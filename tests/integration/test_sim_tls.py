"""pdsim-simulator over HTTPS: --ssl-certfile/--ssl-keyfile with a CA the client trusts,
--self-signed-certs, and the flag errors."""

import http.client
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import SIMULATOR, Proc, http_json, run_binary  # noqa: E402

M = "m"


def make_ca_and_cert(d, name="tls"):
    """A CA and a server certificate for 127.0.0.1/localhost signed by it (openssl CLI);
    called again with another name, a second certificate from the same CA."""
    def run(*args):
        subprocess.run(["openssl"] + list(args), check=True, capture_output=True, cwd=d)
    if not os.path.exists(os.path.join(d, "ca.crt")):
        run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=pdsim test CA")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=localhost")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", name + ".crt", "-days", "2", "-extfile", "ext.cnf")


def der(path):
    with open(path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def replace(src, dst):
    """Swap dst for a copy of src in one rename, as a Secret volume update does."""
    shutil.copyfile(src, dst + ".new")
    os.replace(dst + ".new", dst)


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

    def test_renewed_files_are_served_without_a_restart(self):
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d)
        make_ca_and_cert(self.dir, "renewed")
        crt, key = os.path.join(d, "tls.crt"), os.path.join(d, "tls.key")
        shutil.copyfile(os.path.join(self.dir, "tls.crt"), crt)
        shutil.copyfile(os.path.join(self.dir, "tls.key"), key)
        old, new = der(crt), der(os.path.join(self.dir, "renewed.crt"))
        sim = Proc(SIMULATOR, ["--model", M, "--ssl-certfile", crt, "--ssl-keyfile", key])
        ctx = ssl.create_default_context(cafile=os.path.join(self.dir, "ca.crt"))

        def served():
            c = http.client.HTTPSConnection("127.0.0.1", sim.port, context=ctx, timeout=10)
            c.request("GET", "/v1/models")
            r = c.getresponse()
            r.read()
            cert = c.sock.getpeercert(binary_form=True)
            return r.status, cert, c

        try:
            st, cert, live = served()
            self.assertEqual((st, cert), (200, old))
            # a key that does not match the certificate (half a rotation) is not served
            replace(os.path.join(self.dir, "renewed.key"), key)
            time.sleep(1.2)
            st, cert, c = served()
            c.close()
            self.assertEqual((st, cert), (200, old))
            replace(os.path.join(self.dir, "renewed.crt"), crt)
            deadline = time.monotonic() + 10
            while True:  # checked at most once a second
                st, cert, c = served()
                c.close()
                if cert == new or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            self.assertEqual((st, cert), (200, new))
            # the connection opened before keeps its certificate and keeps working
            live.request("GET", "/v1/models")
            r = live.getresponse()
            r.read()
            self.assertEqual((r.status, live.sock.getpeercert(binary_form=True)), (200, old))
            live.close()
            # garbage in the files: the last good pair stays
            with open(crt, "w") as f:
                f.write("not a certificate\n")
            time.sleep(1.2)
            st, cert, c = served()
            c.close()
            self.assertEqual((st, cert), (200, new))
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
            p = run_binary([SIMULATOR, "--model", M, "--host", "127.0.0.1", "--port", "0"]
                           + args, capture_output=True, text=True, timeout=30)
            self.assertNotEqual(p.returncode, 0, args)
            self.assertIn(want, p.stderr, args)


if __name__ == "__main__":
    unittest.main(verbosity=2)
