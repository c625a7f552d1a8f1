"""Bad input, abuse and faults against the real pdsim-simulator and pdsim-sidecar: slow
clients, huge heads and bodies, deep JSON, 10,000 malformed requests with flat RSS and fd
counts, clients that vanish mid-stream, SIGTERM under 100 streams, a decoder that
restarts. Each server must keep answering, and lose nothing."""

import json
import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import (SIDECAR, SIMULATOR, Proc, Upstream, collect_stream,  # noqa: E402
                     free_port, http_json)

M = "m"
CHAT = "/v1/chat/completions"


def chat(**kw):
    return dict({"model": M, "messages": [{"role": "user", "content": "hi"}]}, **kw)


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def nfds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def raw(port, data, timeout=10):
    """Send raw bytes; return everything the server answers until it closes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        out = b""
        while True:
            try:
                d = s.recv(65536)
            except ConnectionResetError:
                break
            if not d:
                break
            out += d
        return out
    finally:
        s.close()


def status_and_json(resp):
    head, _, body = resp.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body)


def eventually(fn, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(0.05)


# ASan holds freed memory in a quarantine (256 MB by default), which would look like
# growth; the RSS checks run with a small one so they see the program's own memory.
SMALL_QUARANTINE = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=1"}


class Servers:
    """A simulator, or a sidecar in front of one, both with a 1 s request timeout."""

    @staticmethod
    def sim(*extra):
        return Proc(SIMULATOR, ["--model", M, "--http-request-timeout", "1s"] + list(extra),
                    http_threads=16, env=SMALL_QUARANTINE)

    @staticmethod
    def sidecar(decoder_port, *extra):
        return Proc(SIDECAR, ["--secure-proxy=false", "--model-server-port", str(decoder_port),
                              "--http-request-timeout", "1s"] + list(extra), http_threads=16,
                    env=SMALL_QUARANTINE)


class AbuseTest(unittest.TestCase):
    """Each case runs against the simulator and against a sidecar in front of it."""

    def setUp(self):
        self.sim = Servers.sim()
        self.sc = Servers.sidecar(self.sim.port)

    def tearDown(self):
        self.assertEqual(self.sc.stop(), 0)
        self.assertEqual(self.sim.stop(), 0)

    def servers(self):
        return (("simulator", self.sim), ("sidecar", self.sc))

    def test_slow_clients_are_dropped(self):
        for name, srv in self.servers():
            # 16 slowloris clients take every worker, dribbling header lines
            socks = []
            for _ in range(16):
                s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
                socks.append(s)
            t0 = time.monotonic()
            answers = []

            def dribble(s):
                try:
                    while time.monotonic() - t0 < 8:
                        s.sendall(b"X-Slow: 1\r\n")
                        s.settimeout(0.2)
                        try:
                            d = s.recv(4096)
                            answers.append((time.monotonic() - t0, d))
                            return
                        except socket.timeout:
                            pass
                except OSError as e:
                    answers.append((time.monotonic() - t0, repr(e).encode()))

            ts = [threading.Thread(target=dribble, args=(s,)) for s in socks]
            for t in ts:
                t.start()
            # a normal client is served once the stalled ones are dropped
            st, _ = http_json(srv.port, "GET", "/v1/models", timeout=10)
            served = time.monotonic() - t0
            for t in ts:
                t.join(10)
            for s in socks:
                s.close()
            self.assertEqual(len(answers), 16, name)
            for at, d in answers:
                self.assertLess(at, 3.0, (name, d))  # 1 s timeout, generous slack
                if d.startswith(b"HTTP/"):
                    self.assertIn(b" 400 ", d.split(b"\r\n")[0], (name, d))
                    self.assertIn(b'"type":"BadRequestError"', d, (name, d))
            self.assertIn(st, (200, 503), name)  # the sidecar's decoder answers 200 too
            self.assertLess(served, 4.0, name)

    def test_huge_heads_bodies_and_deep_json(self):
        for name, srv in self.servers():
            resp = raw(srv.port, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200000 +
                       b"\r\n\r\n")
            st, j = status_and_json(resp)
            self.assertEqual((st, j["error"]["type"]), (400, "BadRequestError"), name)
            many = b"".join(b"X-H%d: v\r\n" % i for i in range(2000))
            st, j = status_and_json(raw(srv.port, b"GET /health HTTP/1.1\r\nHost: x\r\n" + many +
                                        b"\r\n"))
            self.assertEqual(st, 400, name)
            # a body over the limit (the sidecar's is 16 MB, the simulator's 4 MB); the
            # sidecar reads it itself when the request is a P/D one
            mb = 17 if srv is self.sc else 5
            big = b'{"model":"m","prompt":"' + b"a" * (mb << 20) + b'"}'
            st, j = http_json(srv.port, "POST", "/v1/completions", big,
                              {"x-prefiller-host-port": "127.0.0.1:%d" % self.sim.port},
                              timeout=60)
            self.assertEqual(st, 413, (name, j))
            self.assertIn("larger than", j["error"]["message"], name)
            for deep in (b"[" * 200000, b'{"a":' * 100000, b'{"model":"m","messages":' +
                         b"[" * 50000):
                st, j = http_json(srv.port, "POST", CHAT, deep,
                                  {"x-prefiller-host-port": "127.0.0.1:%d" % self.sim.port})
                self.assertEqual((st, j["error"]["type"]), (400, "BadRequestError"), name)
            st, j = http_json(srv.port, "POST", CHAT, chat(max_tokens=2))
            self.assertEqual(st, 200, (name, j))

    def test_ten_thousand_malformed_requests(self):
        bad = [b"{", b"[]", b'{"model":3}', b'{"model":"m","messages":"x"}',
               b'{"model":"nope","messages":[]}', b'{"model":"m","prompt":[[[]]]}',
               b'{"model":"m","messages":[{"role":"user","content":"x"}],"n":-1}',
               b"\xff\xfe\x00garbage", b'{"model":"m","messages":[{"role":7}]}', b"null"]
        for name, srv in self.servers():
            conn = srv.conn(timeout=30)
            hdrs = {"Content-Type": "application/json",
                    "x-prefiller-host-port": "127.0.0.1:%d" % self.sim.port}

            def burst(n):
                codes = {}
                for i in range(n):
                    conn.request("POST", CHAT if i % 2 else "/v1/completions",
                                 bad[i % len(bad)], hdrs)
                    r = conn.getresponse()
                    body = r.read()
                    codes[r.status] = codes.get(r.status, 0) + 1
                    if not 400 <= r.status < 500:
                        self.fail("%s: %d %r" % (name, r.status, body[:200]))
                return codes

            burst(4000)  # warm up: allocator arenas, thread stacks
            rss0, fds0 = rss_kb(srv.p.pid), nfds(srv.p.pid)
            burst(10000)
            rss1, fds1 = rss_kb(srv.p.pid), nfds(srv.p.pid)
            conn.close()
            self.assertLessEqual(rss1, rss0 * 1.10, "%s: RSS %d kB -> %d kB" % (name, rss0, rss1))
            self.assertLessEqual(fds1, fds0 + 2, name)
            st, j = http_json(srv.port, "POST", CHAT, chat(max_tokens=2))
            self.assertEqual(st, 200, (name, j))

    def test_clients_vanishing_mid_stream(self):
        slow = Servers.sim("--inter-token-latency", "20ms", "--max-num-seqs", "4")
        sc = Servers.sidecar(slow.port)
        try:
            for name, srv in (("simulator", slow), ("sidecar", sc)):
                body = json.dumps(chat(max_tokens=500, ignore_eos=True, stream=True)).encode()
                req = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                       b"application/json\r\nx-prefiller-host-port: 127.0.0.1:%d\r\n"
                       b"Content-Length: %d\r\n\r\n" % (slow.port, len(body)) + body)
                fds = []
                for _ in range(10):  # 10 x 4 streams through 4 slots: each leaves after a chunk
                    socks = []
                    for _ in range(4):
                        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
                        s.sendall(req)
                        self.assertIn(b"200", s.recv(4096).split(b"\r\n")[0])
                        socks.append(s)
                    for s in socks:
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
                        s.close()  # RST: gone without a goodbye
                    running = lambda: "vllm:num_requests_running{model_name=\"m\"} 0" in \
                        slow.request("GET", "/metrics")[2].decode()
                    self.assertTrue(eventually(running), name)  # every slot freed
                    time.sleep(0.3)
                    fds.append(nfds(srv.p.pid))
                # the sidecar keeps pooled upstream connections (at most a prefill and a
                # decode one per worker thread, 16 here), but nothing grows past that
                self.assertLessEqual(fds[-1], fds[-4] + 1, (name, fds))
                self.assertLessEqual(fds[-1], fds[0] + 2 * 16 + 2, (name, fds))
                t0 = time.monotonic()
                st, j = http_json(srv.port, "POST", CHAT, chat(max_tokens=2),
                                  {"x-prefiller-host-port": "127.0.0.1:%d" % slow.port})
                self.assertEqual(st, 200, (name, j))
                self.assertLess(time.monotonic() - t0, 2, name)  # no slot was kept busy
        finally:
            self.assertEqual(sc.stop(), 0)
            self.assertEqual(slow.stop(), 0)


class StalledReaderTest(unittest.TestCase):
    def test_a_client_that_stops_reading_holds_back_only_itself(self):
        """The stream pump sends every plain-HTTP stream from one thread without blocking:
        a client that stops reading must not delay the others, and is dropped after
        --http-request-timeout (1 s here), freeing its slot."""
        sim = Servers.sim("--inter-token-latency", "1us", "--max-model-len", "300000")
        try:
            body = json.dumps(chat(max_tokens=200000, ignore_eos=True, stream=True)).encode()
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.settimeout(10)
            s.connect(("127.0.0.1", sim.port))
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                      b"application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            self.assertIn(b"200", s.recv(4096).split(b"\r\n")[0])
            t_stop = time.monotonic()  # from here on nobody reads s

            def running(n):
                return ("vllm:num_requests_running{model_name=\"m\"} %d" % n) in \
                    sim.request("GET", "/metrics")[2].decode()
            time.sleep(0.3)
            self.assertTrue(running(1))  # stalled, not finished: 200,000 tokens are many MB
            for _ in range(3):  # meanwhile other streams run on time
                t0 = time.monotonic()
                st, _, events, _ = collect_stream(sim.port, CHAT,
                                                  chat(max_tokens=50, stream=True))
                self.assertEqual(st, 200)
                self.assertEqual(events[-1][1], "[DONE]")
                self.assertLess(time.monotonic() - t0, 0.9)
            self.assertTrue(eventually(lambda: running(0)))  # dropped, its slot freed
            self.assertGreater(time.monotonic() - t_stop, 0.9)  # not before the timeout
            s.close()
            st, j = http_json(sim.port, "POST", CHAT, chat(max_tokens=2))
            self.assertEqual(st, 200, j)
        finally:
            self.assertEqual(sim.stop(), 0)


class FaultTest(unittest.TestCase):
    def test_sigterm_during_100_streams(self):
        # drain: 50 tokens (1 s) each finish; timeout: 500 tokens (10 s) each cut short
        for timeout, finish, ntok in (("30s", True, 50), ("300ms", False, 500)):
            sim = Proc(SIMULATOR, ["--model", M, "--inter-token-latency", "20ms",
                                   "--max-num-seqs", "200", "--shutdown-timeout", timeout],
                       http_threads=256)
            out = [None] * 100

            def go(i):
                out[i] = collect_stream(sim.port, CHAT, chat(max_tokens=ntok, ignore_eos=True,
                                                             stream=True), timeout=60)

            ts = [threading.Thread(target=go, args=(i,)) for i in range(100)]
            for t in ts:
                t.start()
            eventually(lambda: "vllm:num_requests_running{model_name=\"m\"} 100" in
                       sim.request("GET", "/metrics")[2].decode())
            sim.terminate()
            for t in ts:
                t.join(60)
            self.assertEqual(sim.wait(30), 0)
            sim.stop()
            for r in out:
                st, _, events, _ = r
                self.assertEqual(st, 200)
                self.assertEqual(events[-1][1], "[DONE]")
                if finish:  # all 50 tokens, then the usage-less finish chunk
                    content = [json.loads(e[1]) for e in events[:-1]]
                    self.assertEqual(content[-1]["choices"][0]["finish_reason"], "length")
                    toks = [c for c in content if c["choices"] and
                            c["choices"][0]["delta"].get("content")]
                    self.assertEqual(len(toks), ntok)
                else:  # a clean error event, then [DONE]
                    self.assertIn("shutting down", events[-2][1])

    def test_sidecar_with_a_restarting_decoder(self):
        port = free_port()
        pre = Upstream(lambda req, n: {"body": {"id": "p", "choices": [], "kv_transfer_params":
                                                {"remote_engine_id": "e"}}})
        sc = Servers.sidecar(port, "--prefill-timeout", "2s")
        hdr = {"x-prefiller-host-port": pre.hostport}
        try:
            st, j = http_json(sc.port, "POST", CHAT, chat(max_tokens=2), hdr)
            self.assertEqual((st, j["error"]["message"]), (503, "decode server not ready"))
            dec = Proc(SIMULATOR, ["--model", M, "--port", str(port)])
            self.assertEqual(http_json(sc.port, "POST", CHAT, chat(max_tokens=2), hdr)[0], 200)
            dec.stop()
            self.assertEqual(http_json(sc.port, "POST", CHAT, chat(max_tokens=2), hdr)[0], 503)
            dec = Proc(SIMULATOR, ["--model", M, "--port", str(port)])
            self.assertEqual(http_json(sc.port, "POST", CHAT, chat(max_tokens=2), hdr)[0], 200)
            dec.stop()
        finally:
            self.assertEqual(sc.stop(), 0)
            pre.stop()

    def test_sidecar_fds_and_memory_over_10000_failing_requests(self):
        dead = free_port()
        garbage = Upstream(lambda req, n: {"body": b"{x"})  # 200 with a body that is not JSON
        sc = Servers.sidecar(dead, "--prefill-max-retries", "0")
        try:
            conn = sc.conn(timeout=30)
            body = json.dumps(chat(max_tokens=2))
            cases = [({"x-prefiller-host-port": "127.0.0.1:%d" % free_port()}, 502),
                     ({"x-prefiller-host-port": garbage.hostport}, 502),
                     ({}, 503)]

            def burst(n):
                for i in range(n):
                    h, want = cases[i % len(cases)]
                    conn.request("POST", CHAT, body, dict(h, **{"Content-Type":
                                                                "application/json"}))
                    r = conn.getresponse()
                    r.read()
                    self.assertEqual(r.status, want)

            burst(3999)
            rss0, fds0 = rss_kb(sc.p.pid), nfds(sc.p.pid)
            burst(9999)
            rss1, fds1 = rss_kb(sc.p.pid), nfds(sc.p.pid)
            conn.close()
            self.assertLessEqual(rss1, rss0 * 1.10, "RSS %d kB -> %d kB" % (rss0, rss1))
            self.assertLessEqual(fds1, fds0 + 2)
        finally:
            self.assertEqual(sc.stop(), 0)
            garbage.stop()


if __name__ == "__main__":
    unittest.main()
