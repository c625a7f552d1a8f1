"""Integration-test helpers: start pdsim binaries on 127.0.0.1:0, talk HTTP,
always stop what was started. Standard library only (Debian's /usr/bin/python3)."""

import http.client
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import threading
import time

SIMULATOR = os.environ.get("PDSIM_SIMULATOR", "build/simulator/pdsim-simulator")
SIDECAR = os.environ.get("PDSIM_SIDECAR", "build/sidecar/pdsim-sidecar")

# PDSIM_VALGRIND set (to "1", or to extra valgrind options such as "--gen-suppressions=all"):
# every binary started through Proc or run_binary runs under memcheck (tests/VALGRIND.md).
# A memcheck error or a definite leak makes valgrind exit with VALGRIND_EXIT, which
# Proc.stop, Proc.wait and run_binary turn into an AssertionError carrying the report.
VALGRIND = os.environ.get("PDSIM_VALGRIND", "") not in ("", "0")
VALGRIND_EXIT = 99
# How much longer bounded waits on the binaries (startup, exit) are under valgrind.
SLOW = 10 if VALGRIND else 1
_SUPP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "valgrind.supp")


def valgrind_prefix():
    """The argv prefix that runs a binary under memcheck; [] when PDSIM_VALGRIND is unset."""
    if not VALGRIND:
        return []
    argv = ["valgrind", "--tool=memcheck", "--error-exitcode=%d" % VALGRIND_EXIT,
            "--leak-check=full", "--errors-for-leak-kinds=definite",
            "--show-leak-kinds=definite", "--num-callers=30", "--trace-children=no", "-q",
            "--suppressions=" + os.path.normpath(_SUPP)]
    extra = os.environ["PDSIM_VALGRIND"]
    if extra != "1":
        argv += shlex.split(extra)
    return argv


def valgrind_report(lines):
    """valgrind's own lines (==PID== ...) among a process's stderr lines."""
    return [ln for ln in lines if re.match(r"==\d+==", ln)]


def check_valgrind(rc, lines, what):
    """Raise AssertionError with the memcheck report when valgrind found errors or leaks."""
    if VALGRIND and rc == VALGRIND_EXIT:
        raise AssertionError("valgrind memcheck errors in %s:\n%s"
                             % (what, "\n".join(valgrind_report(lines))))


def run_binary(argv, **kw):
    """subprocess.run(argv, **kw), under memcheck when PDSIM_VALGRIND is set (the timeout
    scaled by SLOW); a memcheck error raises AssertionError with the report."""
    if "timeout" in kw:
        kw["timeout"] *= SLOW
    p = subprocess.run(valgrind_prefix() + list(argv), **kw)
    if VALGRIND and p.returncode == VALGRIND_EXIT:
        err = p.stderr if isinstance(p.stderr, str) else (p.stderr or b"").decode("utf-8",
                                                                                  "replace")
        check_valgrind(p.returncode, err.splitlines(), argv[0])
    return p


class Proc:
    """A pdsim server process; the real port is read from its 'listening' log line."""

    def __init__(self, binary, args, env=None, wait_listen=True, http_threads=64, base=True):
        full_env = dict(os.environ)
        full_env.pop("SIM_MODEL", None)
        if env:
            full_env.update(env)
        argv = [binary, "--host", "127.0.0.1", "--port", "0"] if base else [binary]
        if http_threads and base:
            argv += ["--http-threads", str(http_threads)]
        self.argv = argv + list(args)
        self.p = subprocess.Popen(valgrind_prefix() + self.argv, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=full_env)
        self.lines = []
        self.port = None
        self._ready = threading.Event()
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()
        if wait_listen and not self._ready.wait(20 * SLOW):
            self.stop()
            raise RuntimeError("server did not report its port: %s" % self.lines[-5:])
        if wait_listen and self.port is None:
            self.stop()
            raise RuntimeError("server exited: %s" % self.lines[-5:])

    def _read(self):
        for raw in self.p.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(line)
            if self.port is None:
                try:
                    j = json.loads(line)
                except ValueError:
                    continue
                if j.get("msg") == "listening":
                    self.port = int(j["port"])
                    self._ready.set()
        self._ready.set()

    def logs(self):
        out = []
        for line in self.lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def conn(self, timeout=30):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=30):
        return http_request(self.port, method, path, body, headers, timeout)

    def json(self, method, path, body=None, headers=None, timeout=30):
        return http_json(self.port, method, path, body, headers, timeout)

    def terminate(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)

    def wait(self, timeout=30):
        """The exit code (timeout scaled by SLOW); a memcheck error raises AssertionError."""
        try:
            rc = self.p.wait(timeout * SLOW)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait(5)
            raise
        if VALGRIND and rc == VALGRIND_EXIT:
            self._t.join(5)  # every stderr line, valgrind's report included
            check_valgrind(rc, self.lines, self.argv)
        return rc

    def stop(self):
        """SIGTERM, wait (then SIGKILL), return the exit code. Under valgrind, a memcheck
        error or definite leak raises AssertionError with the report, so a test that
        ignores the exit code still fails."""
        if self.p.poll() is None:
            self.terminate()
            try:
                self.p.wait(15 * SLOW)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)
        self._t.join(5)
        for f in (self.p.stdout, self.p.stderr):
            if f:
                f.close()
        check_valgrind(self.p.returncode, self.lines, self.argv)
        return self.p.returncode


def http_request(port, method, path, body=None, headers=None, timeout=30, tls=None):
    """One request on a new connection: (status, lower-case headers, body bytes).
    tls: an ssl.SSLContext for https."""
    if tls is not None:
        c = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=tls)
    else:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data


def http_json(port, method, path, body=None, headers=None, timeout=30, tls=None):
    """http_request with the body parsed as JSON (None when empty)."""
    status, hdrs, data = http_request(port, method, path, body, headers, timeout, tls)
    return status, json.loads(data) if data else None


def sse_stream(port, path, body, headers=None, timeout=30):
    """POST a streaming request; yield (monotonic time, event data string) per SSE event
    as it arrives, plus the response status and headers through the first yield."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    c.request("POST", path, body=json.dumps(body), headers=h)
    r = c.getresponse()
    yield ("status", r.status, dict((k.lower(), v) for k, v in r.getheaders()))
    buf = b""
    while True:
        chunk = r.read1(65536) if hasattr(r, "read1") else r.read(1)
        if not chunk:
            break
        now = time.monotonic()
        buf += chunk
        while b"\n\n" in buf:
            ev, buf = buf.split(b"\n\n", 1)
            ev = ev.decode("utf-8")
            if ev.startswith("data: "):
                yield ("event", now, ev[6:])
    c.close()


def collect_stream(port, path, body, headers=None, timeout=30):
    """Return (status, headers, [(time, data)], t_sent) for a streaming request."""
    events = []
    t0 = time.monotonic()
    status = hdrs = None
    for item in sse_stream(port, path, body, headers, timeout):
        if item[0] == "status":
            status, hdrs = item[1], item[2]
        else:
            events.append((item[1], item[2]))
    return status, hdrs, events, t0


def raw_request(port, data, read_timeout=5):
    """Send raw bytes, return whatever comes back before close/timeout."""
    s = socket.create_connection(("127.0.0.1", port), timeout=read_timeout)
    s.sendall(data)
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except socket.timeout:
        pass
    s.close()
    return out


class Upstream:
    """A recording HTTP/1.1 upstream on 127.0.0.1:0 (keep-alive). Every request is
    recorded as a dict (method, path, headers (lower-case names), body, json, peer).
    script(req, n) decides the answer, n counting requests from 0:
      {"status": 200, "headers": {...}, "body": bytes or obj}   a whole response
      {"chunks": [(delay_s, bytes), ...], "headers": {...}}      chunked, paced
      {"hang": seconds}                                          no answer, then close
      {"close": True}                                            close without answering
    closed_at records when a client connection ended (monotonic), for cancel tests."""

    def __init__(self, script, port=0):
        import http.server
        up = self
        self.script = script
        self.reqs = []
        self.peers = set()
        self.closed_at = []
        self.lock = threading.Lock()

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _serve(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                try:
                    js = json.loads(body) if body else None
                except ValueError:
                    js = None
                req = {"method": self.command, "path": self.path, "body": body, "json": js,
                       "headers": [(k.lower(), v) for k, v in self.headers.items()],
                       "peer": self.client_address, "t": time.monotonic()}
                with up.lock:
                    idx = len(up.reqs)
                    up.reqs.append(req)
                    up.peers.add(self.client_address)
                spec = up.script(req, idx)
                try:
                    self._answer(spec)
                except (BrokenPipeError, ConnectionResetError):
                    with up.lock:
                        up.closed_at.append(time.monotonic())
                    self.close_connection = True

            def _answer(self, spec):
                if "hang" in spec:
                    # Wait for the client to go away (or the time to pass).
                    self.connection.settimeout(spec["hang"])
                    try:
                        gone = self.connection.recv(1) == b""
                    except socket.timeout:
                        gone = False
                    if gone:
                        with up.lock:
                            up.closed_at.append(time.monotonic())
                    self.close_connection = True
                    return
                if spec.get("close"):
                    self.close_connection = True
                    return
                hdrs = dict(spec.get("headers") or {})
                if "chunks" in spec:
                    self.send_response(spec.get("status", 200))
                    hdrs.setdefault("Content-Type", "text/event-stream")
                    for k, v in hdrs.items():
                        self.send_header(k, v)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    self.wfile.flush()
                    for delay, piece in spec["chunks"]:
                        time.sleep(delay)
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                    return
                body = spec.get("body", b"")
                if not isinstance(body, (bytes, str)):
                    body = json.dumps(body)
                if isinstance(body, str):
                    body = body.encode()
                self.send_response(spec.get("status", 200))
                hdrs.setdefault("Content-Type", "application/json")
                for k, v in hdrs.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        self.hostport = "127.0.0.1:%d" % self.port
        self._t = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self._t.start()

    def header(self, req, name):
        vals = [v for k, v in req["headers"] if k == name.lower()]
        return vals

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()
        self._t.join(5)


def free_port_pair():
    """A port p with p and p+1 both free on loopback."""
    return free_port_run(2)


def free_port_run(n):
    """A port p with p..p+n-1 all free on loopback (for data-parallel ranks)."""
    for _ in range(100):
        p = free_port()
        if p + n - 1 > 65535:
            continue
        socks = []
        try:
            for k in range(1, n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p + k))
            return p
        except OSError:
            pass
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no %d consecutive free ports" % n)


def free_port():
    """A loopback port nothing listens on (bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
