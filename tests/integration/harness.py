"""Integration-test helpers: start pdsim binaries on 127.0.0.1:0, talk HTTP,
always stop what was started. Standard library only (Debian's /usr/bin/python3)."""

import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time

SIMULATOR = os.environ.get("PDSIM_SIMULATOR", "build/simulator/pdsim-simulator")


class Proc:
    """A pdsim server process; the real port is read from its 'listening' log line."""

    def __init__(self, binary, args, env=None, wait_listen=True, http_threads=64):
        full_env = dict(os.environ)
        full_env.pop("SIM_MODEL", None)
        if env:
            full_env.update(env)
        argv = [binary, "--host", "127.0.0.1", "--port", "0"]
        if http_threads:
            argv += ["--http-threads", str(http_threads)]
        self.p = subprocess.Popen(argv + list(args), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=full_env)
        self.lines = []
        self.port = None
        self._ready = threading.Event()
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()
        if wait_listen and not self._ready.wait(20):
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
        c = self.conn(timeout)
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data

    def json(self, method, path, body=None, headers=None, timeout=30):
        status, hdrs, data = self.request(method, path, body, headers, timeout)
        return status, json.loads(data) if data else None

    def terminate(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)

    def wait(self, timeout=30):
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait(5)
            raise

    def stop(self):
        if self.p.poll() is None:
            self.terminate()
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)
        self._t.join(5)
        return self.p.returncode


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
