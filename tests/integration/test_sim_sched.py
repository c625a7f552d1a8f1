"""Scheduling, queueing, disconnects, timing and shutdown of pdsim-simulator."""

import http.client
import json
import os
import re
import signal
import socket
import statistics
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import SIMULATOR, Proc, collect_stream  # noqa: E402

M = "testmodel"


def chat(content="This is a test.", **kw):
    b = {"model": M, "messages": [{"role": "user", "content": content}]}
    b.update(kw)
    return b


def metric(sim, name):
    st, _, data = sim.request("GET", "/metrics")
    m = re.search(r'^%s\{model_name="%s"\} (\S+)$' % (re.escape(name), M), data.decode(), re.M)
    return float(m.group(1)) if m else None


class QueueTest(unittest.TestCase):
    def test_queue_full_429(self):
        """Upstream's case: seqs 1, queue 1, ttft 1s, 5 requests 200 ms apart."""
        sim = Proc(SIMULATOR, ["--model", M, "--max-num-seqs", "1",
                               "--max-waiting-queue-length", "1", "--time-to-first-token", "1s"])
        try:
            results = [None] * 5

            def go(i):
                results[i] = sim.json("POST", "/v1/chat/completions", chat(max_tokens=2))

            threads = []
            for i in range(5):
                t = threading.Thread(target=go, args=(i,))
                t.start()
                threads.append(t)
                time.sleep(0.2)
            for t in threads:
                t.join(30)
            self.assertEqual([r[0] for r in results], [200, 200, 429, 429, 429])
            for st, j in results[2:]:
                self.assertEqual(j["error"]["type"], "RateLimitError")
                self.assertIn("waiting requests queue is full", j["error"]["message"])
                self.assertEqual(j["error"]["code"], 429)
            st, hdrs, events, _ = collect_stream(sim.port, "/v1/chat/completions",
                                                 chat(stream=True))
            self.assertEqual(st, 200)
        finally:
            self.assertEqual(sim.stop(), 0)

    def test_gauges(self):
        """3 concurrent requests, seqs 2, ttft 3s: running 2 and waiting 1."""
        sim = Proc(SIMULATOR, ["--model", M, "--max-num-seqs", "2", "--time-to-first-token", "3s"])
        try:
            threads = [threading.Thread(target=sim.json, args=("POST", "/v1/chat/completions",
                                                                 chat())) for _ in range(3)]
            for t in threads:
                t.start()
            time.sleep(0.5)
            self.assertEqual(metric(sim, "vllm:num_requests_running"), 2)
            self.assertEqual(metric(sim, "vllm:num_requests_waiting"), 1)
            for t in threads:
                t.join(30)
            self.assertEqual(metric(sim, "vllm:num_requests_running"), 0)
            st, _, data = sim.request("GET", "/metrics")
            text = data.decode()
            self.assertRegex(text, r'vllm:request_queue_time_seconds_count\{model_name="%s"\} 3' % M)
            self.assertRegex(text, r'vllm:request_success_total\{model_name="%s",'
                                   r'finish_reason="(stop|length)"\} \d' % M)
        finally:
            self.assertEqual(sim.stop(), 0)

    def disconnect_frees_slot(self, stream):
        sim = Proc(SIMULATOR, ["--model", M, "--max-num-seqs", "1", "--time-to-first-token",
                               "10s"])
        try:
            s = socket.create_connection(("127.0.0.1", sim.port))
            body = json.dumps(chat(stream=stream)).encode()
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                      b"application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            deadline = time.monotonic() + 5
            while metric(sim, "vllm:num_requests_running") != 1 and time.monotonic() < deadline:
                time.sleep(0.02)
            self.assertEqual(metric(sim, "vllm:num_requests_running"), 1)
            # a second request waits behind it
            waiter = socket.create_connection(("127.0.0.1", sim.port))
            waiter.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                           b"application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body),
                                                                                  body))
            time.sleep(0.2)
            self.assertEqual(metric(sim, "vllm:num_requests_waiting"), 1)
            waiter.close()  # a waiting client leaves: its place is freed
            time.sleep(0.2)
            self.assertEqual(metric(sim, "vllm:num_requests_waiting"), 0)
            t0 = time.monotonic()
            s.close()  # the running client leaves: its slot is freed at once
            while metric(sim, "vllm:num_requests_running") != 0 and time.monotonic() - t0 < 5:
                time.sleep(0.01)
            freed = time.monotonic() - t0
            self.assertEqual(metric(sim, "vllm:num_requests_running"), 0)
            self.assertLess(freed, 1.0)
            self.assertTrue(any(l.get("msg") == "client disconnected" for l in sim.logs()))
        finally:
            self.assertEqual(sim.stop(), 0)

    def test_disconnect_frees_slot_nonstream(self):
        self.disconnect_frees_slot(False)

    def test_disconnect_frees_slot_stream(self):
        self.disconnect_frees_slot(True)


class TimingTest(unittest.TestCase):
    def test_stream_ttft_itl(self):
        sim = Proc(SIMULATOR, ["--model", M, "--time-to-first-token", "150ms",
                               "--inter-token-latency", "30ms", "--mode", "random"])
        try:
            st, _, events, t0 = collect_stream(sim.port, "/v1/chat/completions", chat(
                max_tokens=20, ignore_eos=True, stream=True))
            toks = [t for t, d in events if '"content"' in d]
            self.assertEqual(len(toks), 20)
            ttft = toks[0] - t0
            self.assertGreater(ttft, 0.145)
            self.assertLess(ttft, 0.250)
            gaps = [b - a for a, b in zip(toks, toks[1:])]
            self.assertLess(abs(statistics.mean(gaps) - 0.030), 0.005)
            total = toks[-1] - t0
            self.assertGreater(total, 0.150 + 19 * 0.030 - 0.005)
            # non-streaming takes the same total time
            t1 = time.monotonic()
            st, j = sim.json("POST", "/v1/chat/completions", chat(max_tokens=20, ignore_eos=True))
            nonstream = time.monotonic() - t1
            self.assertEqual(j["usage"]["completion_tokens"], 20)
            self.assertLess(abs(nonstream - total), 0.08)
        finally:
            self.assertEqual(sim.stop(), 0)

    def test_submillisecond_itl(self):
        sim = Proc(SIMULATOR, ["--model", M, "--inter-token-latency", "500us"])
        try:
            t1 = time.monotonic()
            st, j = sim.json("POST", "/v1/completions", {"model": M, "prompt": "x",
                                                          "max_tokens": 201, "ignore_eos": True})
            el = time.monotonic() - t1
            self.assertGreater(el, 0.095)  # 200 x 0.5 ms; upstream would sleep 0
            self.assertLess(el, 0.5)
        finally:
            self.assertEqual(sim.stop(), 0)

    def test_per_token_and_pd_decode(self):
        sim = Proc(SIMULATOR, ["--model", M, "--mode", "echo", "--prefill-overhead", "100ms",
                               "--prefill-time-per-token", "20ms", "--kv-cache-transfer-latency",
                               "30ms", "--time-to-first-token-std-dev", "0"])
        try:
            t1 = time.monotonic()
            sim.json("POST", "/v1/completions", {"model": M, "prompt": "This is a test."})
            el = time.monotonic() - t1
            self.assertGreater(el, 0.195)  # 100 + 5 x 20 ms
            self.assertLess(el, 0.35)
            t1 = time.monotonic()
            sim.json("POST", "/v1/completions", {"model": M, "prompt": "This is a test.",
                                                 "kv_transfer_params": {"do_remote_prefill": True}})
            el = time.monotonic() - t1
            self.assertGreater(el, 0.028)  # KV transfer replaces prefill
            self.assertLess(el, 0.15)
        finally:
            self.assertEqual(sim.stop(), 0)


class ShutdownTest(unittest.TestCase):
    def test_sigterm_drains(self):
        sim = Proc(SIMULATOR, ["--model", M, "--time-to-first-token", "300ms",
                               "--inter-token-latency", "20ms"])
        results = []

        def go():
            results.append(sim.json("POST", "/v1/chat/completions",
                                    chat(max_tokens=10, ignore_eos=True)))

        threads = [threading.Thread(target=go) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.1)
        sim.terminate()
        time.sleep(0.05)
        try:
            st, j = sim.json("POST", "/v1/chat/completions", chat())
            self.assertEqual(st, 503)
            self.assertIn("shutting down", j["error"]["message"])
        except (ConnectionError, http.client.HTTPException):
            pass  # the listener may already be closed: also refuses new work
        for t in threads:
            t.join(30)
        self.assertEqual(sim.wait(30), 0)
        self.assertEqual([r[0] for r in results], [200] * 4)
        self.assertTrue(all(r[1]["usage"]["completion_tokens"] == 10 for r in results))

    def test_sigterm_timeout_ends_streams_cleanly(self):
        sim = Proc(SIMULATOR, ["--model", M, "--inter-token-latency", "100ms",
                               "--shutdown-timeout", "300ms"])
        out = {}

        def go():
            out["r"] = collect_stream(sim.port, "/v1/chat/completions",
                                      chat(max_tokens=100, ignore_eos=True, stream=True))

        t = threading.Thread(target=go)
        t.start()
        time.sleep(0.3)
        sim.terminate()
        t.join(20)
        self.assertEqual(sim.wait(20), 0)
        st, _, events, _ = out["r"]
        self.assertEqual(st, 200)
        self.assertEqual(events[-1][1], "[DONE]")
        self.assertIn("shutting down", events[-2][1])


if __name__ == "__main__":
    unittest.main(verbosity=2)
