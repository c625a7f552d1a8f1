"""pdsim-simulator data parallelism as upstream: --data-parallel-size N serves ranks on
port..port+N-1 from one process, each rank with its own scheduler, metrics and
adapters; --data-parallel-rank R serves that one rank on --port itself."""

import json
import os
import re
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import SIMULATOR, Proc, free_port_run, http_json, http_request  # noqa: E402

M = "m"
TEXT = {"model": M, "prompt": "hi", "max_tokens": 2}


def successes(port):
    body = http_request(port, "GET", "/metrics")[2].decode()
    return sum(float(v) for v in
               re.findall(r'^vllm:request_success_total\{[^}]*\} (\S+)$', body, re.M))


def listening(sim, n):
    """The first n 'listening' log lines (one per rank), waiting for them."""
    deadline = time.monotonic() + 30
    while True:
        lines = [j for j in sim.logs() if j.get("msg") == "listening"]
        if len(lines) >= n or time.monotonic() > deadline:
            return lines
        time.sleep(0.02)


class DataParallelTest(unittest.TestCase):
    def test_three_ranks(self):
        p = free_port_run(3)
        sim = Proc(SIMULATOR, ["--model", M, "--port", str(p), "--data-parallel-size", "3",
                               "--max-num-seqs", "1", "--time-to-first-token", "600ms",
                               "--seed", "7"])
        try:
            ranks = sorted((j["rank"], j["port"]) for j in listening(sim, 3))
            self.assertEqual(ranks, [(0, p), (1, p + 1), (2, p + 2)])
            # /query lists every rank of the process, the same on each
            st, q = http_json(p, "GET", "/query")
            self.assertEqual(st, 200)
            self.assertEqual(list(q), ["0", "1", "2"])
            self.assertEqual(len({v["engine_id"] for v in q.values()}), 3)
            for k in (1, 2):
                self.assertEqual(http_json(p + k, "GET", "/query")[1], q)
            # each rank is its own engine in the P/D handshake
            st, j = http_json(p + 1, "POST", "/v1/completions",
                              dict(TEXT, kv_transfer_params={"do_remote_decode": True}))
            self.assertEqual(st, 200, j)
            self.assertEqual(j["kv_transfer_params"]["remote_engine_id"], q["1"]["engine_id"])
            self.assertEqual(j["kv_transfer_params"]["remote_port"], p + 1)
            # own metrics: rank 1 counted one request, the others none
            self.assertEqual([successes(p + k) for k in range(3)], [0, 1, 0])
            # each rank its own id sequence: the first ids of ranks 0 and 2 differ
            ids = [http_json(p + k, "POST", "/v1/completions", TEXT)[1]["id"] for k in (0, 2)]
            self.assertNotEqual(ids[0], ids[1])
            # own schedulers: one request per rank runs at once with max-num-seqs 1
            t0 = time.monotonic()
            res = []
            ts = [threading.Thread(target=lambda k=k: res.append(
                http_json(p + k, "POST", "/v1/completions", TEXT)[0])) for k in range(3)]
            for t in ts:
                t.start()
            for t in ts:
                t.join(30)
            self.assertEqual(res, [200, 200, 200])
            self.assertLess(time.monotonic() - t0, 1.15)  # 3 x 600 ms if they had queued
            # own adapters and own runtime config
            st, _, _ = http_request(p + 2, "POST", "/v1/load_lora_adapter",
                                    json.dumps({"lora_name": "x", "lora_path": "/x"}))
            self.assertEqual(st, 200)
            self.assertEqual([m["id"] for m in http_json(p + 2, "GET", "/v1/models")[1]["data"]],
                             [M, "x"])
            self.assertEqual(http_json(p, "POST", "/v1/completions", dict(TEXT, model="x"))[0], 404)
            st, cfg = http_json(p, "POST", "/admin/config", {"time-to-first-token": "1ms"})
            self.assertEqual((st, cfg["port"]), (200, p))
            self.assertEqual(http_json(p + 1, "GET", "/admin/config")[1]["time-to-first-token"],
                             "600ms")
        finally:
            self.assertEqual(sim.stop(), 0)

    def test_one_rank_of_many(self):
        p = free_port_run(2)
        sim = Proc(SIMULATOR, ["--model", M, "--port", str(p), "--data-parallel-size", "4",
                               "--data-parallel-rank", "2"])
        try:
            time.sleep(2)  # a second rank would have started by now, even under ASan
            self.assertEqual([(j["rank"], j["port"]) for j in listening(sim, 1)], [(2, p)])
            st, q = http_json(p, "GET", "/query")
            self.assertEqual((st, list(q)), (200, ["2"]))
            with self.assertRaises(OSError):
                socket.create_connection(("127.0.0.1", p + 1), timeout=2).close()
        finally:
            self.assertEqual(sim.stop(), 0)

    def test_free_ports_with_port_zero(self):
        sim = Proc(SIMULATOR, ["--model", M, "--data-parallel-size", "2"])
        try:
            ports = [j["port"] for j in listening(sim, 2)]
            self.assertEqual(len(ports), 2)
            self.assertNotEqual(ports[0], ports[1])
            for port in ports:
                self.assertEqual(http_json(port, "POST", "/v1/completions", TEXT)[0], 200)
        finally:
            self.assertEqual(sim.stop(), 0)

    def test_a_taken_rank_port_fails_the_start(self):
        p = free_port_run(2)
        s = socket.socket()
        s.bind(("127.0.0.1", p + 1))
        s.listen(1)
        try:
            sim = Proc(SIMULATOR, ["--model", M, "--port", str(p), "--data-parallel-size", "2"],
                       wait_listen=False)
            self.assertEqual(sim.wait(20), 1)
            sim.stop()
            self.assertTrue(any(str(p + 1) in line for line in sim.lines), sim.lines)
            # rank 0 was closed again
            with self.assertRaises(OSError):
                socket.create_connection(("127.0.0.1", p), timeout=2).close()
        finally:
            s.close()

    def test_bad_sizes(self):
        for args, want in ((["--data-parallel-size", "9"], "--data-parallel-size: 9 is out of range"),
                           (["--data-parallel-rank", "8"], "--data-parallel-rank: 8 is out of range"),
                           (["--port", "65535", "--data-parallel-size", "2"], "out of range")):
            sim = Proc(SIMULATOR, ["--model", M] + args, wait_listen=False)
            self.assertNotEqual(sim.wait(20), 0)
            sim.stop()
            self.assertTrue(any(want in line for line in sim.lines), (args, sim.lines))


if __name__ == "__main__":
    unittest.main()
