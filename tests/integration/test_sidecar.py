"""pdsim-sidecar against recording upstreams and real simulators on loopback: what each
leg receives, streaming pass-through, the error table, retries, timeouts, SSRF, the
cached-token rewrite, client cancellation, keep-alive, legacy flags."""

import http.client
import json
import os
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import (SIDECAR, SIMULATOR, Proc, Upstream, collect_stream,  # noqa: E402
                     free_port, free_port_pair, http_json, http_request, run_binary)

KV = {"remote_engine_id": "eng-1", "remote_block_ids": [3, 4], "remote_host": "10.0.0.9",
      "remote_port": 5600, "tp_size": 1}


def prefill_ok(cached=7):
    def script(req, n):
        return {"body": {"id": "p", "object": "chat.completion", "kv_transfer_params": KV,
                         "usage": {"prompt_tokens": 50, "completion_tokens": 1,
                                   "prompt_tokens_details": {"cached_tokens": cached}},
                         "choices": []}}
    return script


def decode_json(req, n):
    return {"body": {"id": "d", "object": "chat.completion",
                     "usage": {"prompt_tokens": 50, "completion_tokens": 2, "total_tokens": 52,
                               "prompt_tokens_details": {"cached_tokens": 49}},
                     "choices": [{"index": 0, "message": {"role": "assistant",
                                                          "content": "hi"}}]},
            "headers": {"X-Decoder": "yes"}}


def sidecar(decoder_port, *extra, **kw):
    return Proc(SIDECAR, ["--secure-proxy=false", "--model-server-port", str(decoder_port)]
                + list(extra), **kw)


def metric(text, name):
    for line in text.splitlines():
        if line.split(" ")[0] == name:
            return float(line.split()[-1])
    raise KeyError(name)


class Base(unittest.TestCase):
    def setUp(self):
        self.cleanup = []

    def tearDown(self):
        for c in reversed(self.cleanup):
            c()

    def upstream(self, script, port=0):
        u = Upstream(script, port)
        self.cleanup.append(u.stop)
        return u

    def start(self, decoder_port, *extra, **kw):
        s = sidecar(decoder_port, *extra, **kw)

        def stop():
            rc = s.stop()
            self.assertEqual(rc, 0, "sidecar exit code %s: %s" % (rc, s.lines[-5:]))
        self.cleanup.append(stop)
        return s

    def metrics(self, sc):
        st, _, data = sc.request("GET", "/metrics")
        self.assertEqual(st, 200)
        return data.decode()


class FlowTest(Base):
    """Exact bodies and headers on both legs, with recording upstreams."""

    def test_nixlv2_legs_and_headers(self):
        pre = self.upstream(prefill_ok(7))
        dec = self.upstream(decode_json)
        sc = self.start(dec.port)
        client = {"model": "m", "messages": [{"role": "user", "content": "hi"}],
                  "stream": False, "max_tokens": 9, "temperature": 0.5}
        st, hdrs, data = sc.request(
            "POST", "/v1/chat/completions", client,
            {"x-prefiller-host-port": pre.hostport + ",10.9.9.9:1", "x-request-id": "rid-42",
             "X-Forwarded-For": "1.2.3.4", "Connection": "keep-alive, X-Hop",
             "X-Hop": "secret", "X-Keep": "kept"})
        self.assertEqual(st, 200, data)
        j = json.loads(data)
        # The prefiller's cached tokens replace the decoder's.
        self.assertEqual(j["usage"]["prompt_tokens_details"]["cached_tokens"], 7)
        self.assertEqual(j["usage"]["prompt_tokens"], 50)
        self.assertEqual(hdrs["x-decoder"], "yes")
        self.assertEqual(hdrs["x-request-id"], "rid-42")
        # Re-framed: the rewritten body has its own length.
        self.assertEqual(int(hdrs["content-length"]), len(data))
        self.assertEqual(len(pre.reqs), 1)
        self.assertEqual(len(dec.reqs), 1)
        p, d = pre.reqs[0], dec.reqs[0]
        self.assertEqual(p["path"], "/v1/chat/completions")
        self.assertEqual(p["json"], {
            "model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": False,
            "max_tokens": 1, "temperature": 0.5,
            "kv_transfer_params": {"do_remote_decode": True, "do_remote_prefill": False,
                                   "remote_engine_id": None, "remote_block_ids": None,
                                   "remote_host": None, "remote_port": None},
            "max_completion_tokens": 1, "min_tokens": 1})
        expect = dict(client)
        expect["kv_transfer_params"] = KV
        self.assertEqual(d["json"], expect)
        self.assertEqual(list(d["json"].keys()), list(expect.keys()))
        for leg in (p, d):
            names = [k for k, _ in leg["headers"]]
            self.assertNotIn("x-prefiller-host-port", names)
            self.assertNotIn("x-hop", names)
            self.assertEqual(pre.header(leg, "x-request-id"), ["rid-42"])
            self.assertEqual(pre.header(leg, "x-keep"), ["kept"])
            self.assertEqual(pre.header(leg, "x-forwarded-for"), ["1.2.3.4, 127.0.0.1"])

    def test_generated_request_id_is_shared(self):
        pre = self.upstream(prefill_ok())
        dec = self.upstream(decode_json)
        sc = self.start(dec.port)
        st, hdrs, _ = sc.request("POST", "/v1/completions", {"model": "m", "prompt": "x"},
                                 {"x-prefiller-host-port": pre.hostport})
        self.assertEqual(st, 200)
        rid = pre.header(pre.reqs[0], "x-request-id")
        self.assertEqual(len(rid), 1)
        self.assertEqual(rid, dec.header(dec.reqs[0], "x-request-id"))
        self.assertEqual(hdrs["x-request-id"], rid[0])

    def test_stream_fields_restored_absent_stays_absent(self):
        pre = self.upstream(prefill_ok())
        dec = self.upstream(decode_json)
        sc = self.start(dec.port)
        client = {"model": "m", "prompt": "x", "stream": True,
                  "stream_options": {"include_usage": True}, "min_tokens": 5}
        sc.request("POST", "/v1/completions", client, {"x-prefiller-host-port": pre.hostport})
        p, d = pre.reqs[0]["json"], dec.reqs[0]["json"]
        self.assertIs(p["stream"], False)
        self.assertNotIn("stream_options", p)
        self.assertEqual((p["max_tokens"], p["max_completion_tokens"], p["min_tokens"]),
                         (1, 1, 1))
        self.assertEqual(d["stream_options"], {"include_usage": True})
        self.assertIs(d["stream"], True)
        self.assertEqual(d["min_tokens"], 5)
        self.assertNotIn("max_tokens", d)
        self.assertNotIn("max_completion_tokens", d)

    def test_responses_and_generate_token_fields(self):
        pre = self.upstream(prefill_ok())
        dec = self.upstream(decode_json)
        sc = self.start(dec.port)
        h = {"x-prefiller-host-port": pre.hostport}
        sc.request("POST", "/v1/responses", {"model": "m", "input": "x", "stream": True,
                                             "max_output_tokens": 100}, h)
        self.assertEqual(pre.reqs[0]["json"]["max_output_tokens"], 1)
        self.assertNotIn("max_tokens", pre.reqs[0]["json"])
        self.assertEqual(dec.reqs[0]["json"]["max_output_tokens"], 100)
        self.assertIs(dec.reqs[0]["json"]["stream"], True)
        sc.request("POST", "/v1/responses", {"model": "m", "input": "x"}, h)
        self.assertEqual(pre.reqs[1]["json"]["max_output_tokens"], 1)
        self.assertNotIn("max_output_tokens", dec.reqs[1]["json"])
        sc.request("POST", "/inference/v1/generate", {"model": "m", "prompt": "x"}, h)
        self.assertEqual(pre.reqs[2]["json"]["sampling_params"],
                         {"max_tokens": 1, "min_tokens": 1})
        self.assertNotIn("sampling_params", dec.reqs[2]["json"])
        sc.request("POST", "/inference/v1/generate",
                   {"model": "m", "prompt": "x", "sampling_params": {"max_tokens": 30}}, h)
        self.assertEqual(pre.reqs[3]["json"]["sampling_params"],
                         {"max_tokens": 1, "min_tokens": 1})
        self.assertEqual(dec.reqs[3]["json"]["sampling_params"], {"max_tokens": 30})
        sc.request("POST", "/v1/messages", {"model": "m", "max_tokens": 64,
                                            "messages": [{"role": "user", "content": "x"}]}, h)
        self.assertEqual(pre.reqs[4]["json"]["max_tokens"], 1)
        self.assertEqual(dec.reqs[4]["json"]["max_tokens"], 64)

    def test_header_forms_and_pass_through(self):
        pre = self.upstream(prefill_ok())
        dec = self.upstream(decode_json)
        sc = self.start(dec.port)
        body = {"model": "m", "prompt": "x"}
        # Several header lines: the first wins.
        c = sc.conn()
        c.putrequest("POST", "/v1/completions")
        data = json.dumps(body).encode()
        c.putheader("Content-Type", "application/json")
        c.putheader("Content-Length", str(len(data)))
        c.putheader("x-prefiller-host-port", pre.hostport)
        c.putheader("x-prefiller-host-port", "10.255.255.1:9")
        c.endheaders(data)
        r = c.getresponse()
        r.read()
        c.close()
        self.assertEqual(r.status, 200)
        self.assertEqual(len(pre.reqs), 1)
        # Empty header, or none: plain pass-through, body untouched.
        for h in ({"x-prefiller-host-port": ""}, {"x-prefiller-host-port": " , "}, {}):
            st, _, _ = sc.request("POST", "/v1/completions", body, h)
            self.assertEqual(st, 200)
        self.assertEqual(len(pre.reqs), 1)
        self.assertEqual([d["json"] for d in dec.reqs[1:]], [body] * 3)
        for d in dec.reqs:
            self.assertEqual(dec.header(d, "x-prefiller-host-port"), [])
        # A header that names no valid target is a client error.
        st, j = sc.json("POST", "/v1/completions", body, {"x-prefiller-host-port": "nohost"})
        self.assertEqual(st, 400)
        self.assertIn("error", j)

    def test_other_paths_are_proxied(self):
        dec = self.upstream(lambda req, n: {"status": 201 if req["method"] == "PUT" else 200,
                                            "body": {"path": req["path"]}})
        pre = self.upstream(prefill_ok())
        sc = self.start(dec.port, "--default-prefiller", pre.hostport)
        st, j = sc.json("GET", "/v1/models?x=1")
        self.assertEqual((st, j), (200, {"path": "/v1/models?x=1"}))
        st, j = sc.json("PUT", "/anything/else", {"a": 1})
        self.assertEqual((st, j), (201, {"path": "/anything/else"}))
        self.assertEqual(dec.reqs[1]["json"], {"a": 1})
        # A GET on a generation path is not intercepted either.
        st, _ = sc.json("GET", "/v1/completions")
        self.assertEqual(len(pre.reqs), 0)

    def test_default_prefiller(self):
        pre = self.upstream(prefill_ok(3))
        dec = self.upstream(decode_json)
        sc = self.start(dec.port, "--default-prefiller", pre.hostport)
        st, j = sc.json("POST", "/v1/chat/completions",
                        {"model": "m", "messages": [{"role": "user", "content": "x"}]})
        self.assertEqual(st, 200)
        self.assertEqual(len(pre.reqs), 1)
        self.assertEqual(j["usage"]["prompt_tokens_details"]["cached_tokens"], 3)
        self.assertEqual(dec.reqs[0]["json"]["kv_transfer_params"], KV)

    def test_keep_alive_pool(self):
        pre = self.upstream(prefill_ok())
        dec = self.upstream(decode_json)
        sc = self.start(dec.port)
        for _ in range(20):
            st, _, _ = sc.request("POST", "/v1/completions", {"model": "m", "prompt": "x"},
                                  {"x-prefiller-host-port": pre.hostport})
            self.assertEqual(st, 200)
        # Sequential requests reuse one connection per upstream.
        self.assertEqual(len(pre.peers), 1, pre.peers)
        self.assertEqual(len(dec.peers), 1, dec.peers)


class RewriteTest(Base):
    def test_sse_split_lines_rewritten(self):
        ev1 = b'data: {"choices":[{"delta":{"content":"a"}}],"usage":null}\n\n'
        ev2 = (b'data: {"choices":[],"usage":{"prompt_tokens":50,"completion_tokens":1,'
               b'"prompt_tokens_details":{"cached_tokens":49}}}\n\n')
        ev3 = b'data: {"choices":[],"usage":{"prompt_tokens":50}}\n\ndata: [DONE]\n\n'
        stream = ev1 + ev2 + ev3
        # Split before "data:", inside the JSON and inside the number.
        cuts = [3, len(ev1) + 2, len(ev1) + 40, len(ev1) + len(ev2) - 6, len(stream) - 5]
        pieces, last = [], 0
        for c in cuts + [len(stream)]:
            pieces.append((0.02, stream[last:c]))
            last = c
        pre = self.upstream(prefill_ok(7))
        dec = self.upstream(lambda req, n: {"chunks": pieces})
        sc = self.start(dec.port)
        st, hdrs, events, _ = collect_stream(
            sc.port, "/v1/chat/completions",
            {"model": "m", "messages": [], "stream": True}, {"x-prefiller-host-port": pre.hostport})
        self.assertEqual(st, 200)
        self.assertTrue(hdrs["content-type"].startswith("text/event-stream"))
        data = [e[1] for e in events]
        self.assertEqual(data[-1], "[DONE]")
        self.assertEqual(json.loads(data[0])["usage"], None)
        self.assertEqual(json.loads(data[1])["usage"]["prompt_tokens_details"],
                         {"cached_tokens": 7})
        self.assertEqual(json.loads(data[2])["usage"]["prompt_tokens_details"],
                         {"cached_tokens": 7})
        self.assertNotIn("49", "".join(data))

    def test_prefiller_without_cached_tokens_gives_zero(self):
        pre = self.upstream(lambda req, n: {"body": {"kv_transfer_params": KV}})
        dec = self.upstream(decode_json)
        sc = self.start(dec.port)
        st, j = sc.json("POST", "/v1/completions", {"model": "m", "prompt": "x"},
                        {"x-prefiller-host-port": pre.hostport})
        self.assertEqual(j["usage"]["prompt_tokens_details"]["cached_tokens"], 0)

    def test_missing_kv_params_sends_null(self):
        pre = self.upstream(lambda req, n: {"body": {"id": "x"}})
        dec = self.upstream(decode_json)
        sc = self.start(dec.port)
        st, _ = sc.json("POST", "/v1/completions", {"model": "m", "prompt": "x"},
                        {"x-prefiller-host-port": pre.hostport})
        self.assertEqual(st, 200)
        self.assertIn("kv_transfer_params", dec.reqs[0]["json"])
        self.assertIsNone(dec.reqs[0]["json"]["kv_transfer_params"])


class ErrorTest(Base):
    BODY = {"model": "m", "prompt": "x"}

    def test_decoder_refused_is_503(self):
        pre = self.upstream(prefill_ok())
        sc = self.start(free_port())
        st, j = sc.json("POST", "/v1/completions", self.BODY,
                        {"x-prefiller-host-port": pre.hostport})
        self.assertEqual(st, 503)
        self.assertEqual(j["error"]["message"], "decode server not ready")
        st, j = sc.json("GET", "/v1/models")
        self.assertEqual(st, 503)
        # /health is local; /ready checks the decoder.
        self.assertEqual(sc.request("GET", "/health")[0], 200)
        self.assertEqual(sc.request("GET", "/ready")[0], 503)

    def test_decoder_broken_is_502(self):
        pre = self.upstream(prefill_ok())
        dec = self.upstream(lambda req, n: {"close": True})
        sc = self.start(dec.port)
        st, hdrs, data = sc.request("POST", "/v1/completions", self.BODY,
                                    {"x-prefiller-host-port": pre.hostport})
        self.assertEqual(st, 502)
        self.assertEqual(hdrs["content-type"], "application/json")
        self.assertEqual(json.loads(data)["error"]["type"], "BadGateway")

    def test_invalid_and_oversized_bodies(self):
        pre = self.upstream(prefill_ok())
        dec = self.upstream(decode_json)
        sc = self.start(dec.port, "--max-request-body-size-mb", "1")
        h = {"x-prefiller-host-port": pre.hostport}
        for bad in ("{", "[1,2]", "", "null"):
            st, hdrs, data = sc.request("POST", "/v1/chat/completions", bad, h)
            self.assertEqual(st, 400, bad)
            self.assertEqual(hdrs["content-type"], "application/json")
            self.assertEqual(json.loads(data)["error"]["code"], 400)
        big = json.dumps({"model": "m", "prompt": "x" * (1 << 20)})
        st, _, data = sc.request("POST", "/v1/completions", big, h)
        self.assertEqual(st, 413)
        self.assertEqual(len(pre.reqs) + len(dec.reqs), 0)
        # The sidecar still serves.
        self.assertEqual(sc.request("POST", "/v1/completions", self.BODY, h)[0], 200)

    def test_prefiller_refused_is_502_and_fallback(self):
        dec = self.upstream(decode_json)
        sc = self.start(dec.port)
        h = {"x-prefiller-host-port": "127.0.0.1:%d" % free_port()}
        st, j = sc.json("POST", "/v1/completions", self.BODY, h)
        self.assertEqual(st, 502)
        self.assertIn("prefill server", j["error"]["message"])
        self.assertEqual(len(dec.reqs), 0)
        sc2 = self.start(dec.port, "--prefill-fallback-local")
        st, j = sc2.json("POST", "/v1/completions", self.BODY, h)
        self.assertEqual(st, 200)
        self.assertEqual(dec.reqs[0]["json"], self.BODY)  # local prefill: no KV params
        m = self.metrics(sc2)
        self.assertIn('pdsim_sidecar_requests_total{outcome="prefill_fallback"} 1', m)
        self.assertEqual(metric(m, "pdsim_sidecar_prefill_fallbacks_total"), 1)

    def test_prefill_error_passes_through(self):
        pre = self.upstream(lambda req, n: {"status": 400, "body": {"error": {"message": "bad"}},
                                            "headers": {"X-From": "prefill"}})
        dec = self.upstream(decode_json)
        sc = self.start(dec.port)
        st, hdrs, data = sc.request("POST", "/v1/completions", self.BODY,
                                    {"x-prefiller-host-port": pre.hostport})
        self.assertEqual(st, 400)
        self.assertEqual(json.loads(data), {"error": {"message": "bad"}})
        self.assertEqual(hdrs["x-from"], "prefill")
        self.assertEqual(len(dec.reqs), 0)

    def test_prefill_not_json_is_502(self):
        pre = self.upstream(lambda req, n: {"body": b"<html>oops</html>",
                                            "headers": {"Content-Type": "text/html"}})
        dec = self.upstream(decode_json)
        sc = self.start(dec.port)
        st, j = sc.json("POST", "/v1/completions", self.BODY,
                        {"x-prefiller-host-port": pre.hostport})
        self.assertEqual(st, 502)
        self.assertIn("not a JSON object", j["error"]["message"])
        self.assertEqual(len(dec.reqs), 0)


class RetryTimeoutTest(Base):
    BODY = {"model": "m", "prompt": "x"}

    def run_retry(self, statuses, retries, expect_status, expect_prefills, expect_decodes):
        def script(req, n):
            if n < len(statuses) and statuses[n] != 200:
                return {"status": statuses[n], "body": {"error": {"message": "busy"}}}
            return prefill_ok()(req, n)
        pre = self.upstream(script)
        dec = self.upstream(decode_json)
        sc = self.start(dec.port, "--prefill-max-retries", str(retries),
                        "--prefill-retry-backoff", "50ms")
        t0 = time.monotonic()
        st, _, _ = sc.request("POST", "/v1/completions", self.BODY,
                              {"x-prefiller-host-port": pre.hostport})
        took = time.monotonic() - t0
        self.assertEqual((st, len(pre.reqs), len(dec.reqs)),
                         (expect_status, expect_prefills, expect_decodes))
        m = self.metrics(sc)
        self.assertEqual(metric(m, "pdsim_sidecar_prefill_retries_total"), expect_prefills - 1)
        return took

    def test_one_503_then_ok(self):
        took = self.run_retry([503], 2, 200, 2, 1)
        self.assertGreaterEqual(took, 0.05)  # the backoff was waited

    def test_no_retries(self):
        self.run_retry([502], 0, 502, 1, 0)

    def test_always_failing(self):
        self.run_retry([504, 502, 503, 503], 2, 503, 3, 0)

    def test_500_not_retried(self):
        self.run_retry([500], 2, 500, 1, 0)

    def test_transport_errors_retried(self):
        def script(req, n):
            return {"close": True} if n == 0 else prefill_ok()(req, n)
        pre = self.upstream(script)
        dec = self.upstream(decode_json)
        sc = self.start(dec.port, "--prefill-max-retries", "1", "--prefill-retry-backoff", "1ms")
        st, _, _ = sc.request("POST", "/v1/completions", self.BODY,
                              {"x-prefiller-host-port": pre.hostport})
        self.assertEqual((st, len(pre.reqs), len(dec.reqs)), (200, 2, 1))

    def test_hung_prefiller_gives_504(self):
        pre = self.upstream(lambda req, n: {"hang": 10})
        dec = self.upstream(decode_json)
        sc = self.start(dec.port, "--prefill-timeout", "300ms")
        t0 = time.monotonic()
        st, j = sc.json("POST", "/v1/completions", self.BODY,
                        {"x-prefiller-host-port": pre.hostport})
        took = time.monotonic() - t0
        self.assertEqual(st, 504)
        self.assertEqual(j["error"]["type"], "GatewayTimeout")
        self.assertGreaterEqual(took, 0.29)
        self.assertLess(took, 3.0)
        self.assertEqual(len(dec.reqs), 0)
        m = self.metrics(sc)
        self.assertIn('pdsim_sidecar_timeouts_total{stage="prefill"} 1', m)

    def test_hung_decoder_with_decode_timeout(self):
        pre = self.upstream(prefill_ok())
        dec = self.upstream(lambda req, n: {"hang": 10})
        sc = self.start(dec.port, "--decode-timeout", "300ms")
        st, j = sc.json("POST", "/v1/completions", self.BODY,
                        {"x-prefiller-host-port": pre.hostport})
        self.assertEqual(st, 504)
        self.assertIn('pdsim_sidecar_timeouts_total{stage="decode"} 1', self.metrics(sc))


class SsrfTest(Base):
    def test_allow_list(self):
        pre = self.upstream(prefill_ok())
        other = self.upstream(prefill_ok())
        dec = self.upstream(decode_json)
        body = {"model": "m", "prompt": "x"}
        sc = self.start(dec.port, "--enable-ssrf-protection", "--ssrf-allow", pre.hostport)
        st, _ = sc.json("POST", "/v1/completions", body, {"x-prefiller-host-port": pre.hostport})
        self.assertEqual(st, 200)
        st, j = sc.json("POST", "/v1/completions", body,
                        {"x-prefiller-host-port": other.hostport})
        self.assertEqual(st, 403)  # same host, other port: denied
        self.assertIn("allow-list", j["error"]["message"])
        self.assertEqual(len(other.reqs), 0)
        self.assertEqual(metric(self.metrics(sc), "pdsim_sidecar_ssrf_denied_total"), 1)
        sc2 = self.start(dec.port, "--enable-ssrf-protection", "--ssrf-allow",
                         "10.0.0.0/8,127.0.0.0/8")
        st, _ = sc2.json("POST", "/v1/completions", body,
                         {"x-prefiller-host-port": other.hostport})
        self.assertEqual(st, 200)
        sc3 = self.start(dec.port, "--enable-ssrf-protection", "--ssrf-allow", "localhost")
        st, _ = sc3.json("POST", "/v1/completions", body,
                         {"x-prefiller-host-port": other.hostport})
        self.assertEqual(st, 403)
        import tempfile
        with tempfile.NamedTemporaryFile("w", delete=False) as f:
            f.write("# prefill pods\n10.1.2.3:8000\n\n%s  # this one\n" % other.hostport)
        self.cleanup.append(lambda: os.unlink(f.name))
        sc4 = self.start(dec.port, "--enable-ssrf-protection", "--ssrf-allow-file", f.name)
        st, _ = sc4.json("POST", "/v1/completions", body,
                         {"x-prefiller-host-port": other.hostport})
        self.assertEqual(st, 200)
        st, _ = sc4.json("POST", "/v1/completions", body,
                         {"x-prefiller-host-port": pre.hostport})
        self.assertEqual(st, 403)


class SsrfBypassTest(Base):
    def test_other_spellings_of_an_address_are_denied(self):
        """Every spelling that could reach the upstream some other way is refused
        (400 malformed, or 403 not on the allow-list) and sends it nothing: IPv6
        literals, other schemes, userinfo, paths, decimal, hex, octal and short IPv4
        forms. Surrounding white space and an http:// prefix are trimmed, as upstream,
        so those spellings are the canonical address and are checked as it is."""
        up = self.upstream(prefill_ok())
        dec = self.upstream(decode_json)
        body = {"model": "m", "prompt": "x"}
        p = up.port
        tricks = ["[::1]:%d" % p, "[::ffff:127.0.0.1]:%d" % p, "https://127.0.0.1:%d" % p,
                  "//127.0.0.1:%d" % p, "evil@127.0.0.1:%d" % p, "127.0.0.1:%d@evil:80" % p,
                  "http://evil@127.0.0.1:%d" % p, "127.0.0.1:%d#x" % p, "127.0.0.1:%d/x" % p,
                  "2130706433:%d" % p, "0x7f000001:%d" % p, "0177.0.0.1:%d" % p,
                  "0177.0.0.01:%d" % p, "127.1:%d" % p, "127.0.0.1.:%d" % p,
                  "127.0.0.1:0%d" % p, "127.0.0.1:+%d" % p, "localhost:%d" % p,
                  "127.0.0.1:%d:%d" % (p, p), "127.0.0.1%%00:%d" % p]
        same = [" 127.0.0.1:%d " % p, "http://127.0.0.1:%d" % p, "HTTP://127.0.0.1:%d" % p,
                "127.0.0.1:%d, 10.9.9.9:80" % p]
        for allow in ("127.0.0.1:%d" % p, "127.0.0.0/8", "10.0.0.0/8"):
            sc = self.start(dec.port, "--enable-ssrf-protection", "--ssrf-allow", allow)
            for t in tricks:
                st, j = sc.json("POST", "/v1/completions", body, {"x-prefiller-host-port": t})
                self.assertIn(st, (400, 403), (allow, t, j))
                self.assertEqual(j["error"]["code"], st)
            self.assertEqual(len(up.reqs), 0, up.reqs[:1])
            # the canonical spelling passes exactly where the list allows it
            for t in same:
                st, _ = sc.json("POST", "/v1/completions", body, {"x-prefiller-host-port": t})
                self.assertEqual(st, 403 if allow == "10.0.0.0/8" else 200, (allow, t))
            self.assertEqual(len(up.reqs), 0 if allow == "10.0.0.0/8" else len(same))
            up.reqs.clear()


class ConnectorTest(Base):
    def client(self, **kw):
        c = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 9}
        c.update(kw)
        return c

    def test_nixl_legacy(self):
        resp = {"remote_block_ids": [1, 2], "remote_engine_id": "e", "remote_host": "h",
                "remote_port": 5, "usage": {"prompt_tokens_details": {"cached_tokens": 7}}}
        pre = self.upstream(lambda req, n: {"body": resp})
        dec = self.upstream(decode_json)
        sc = self.start(dec.port, "--connector=nixl")
        client = self.client(stream=True, stream_options={"include_usage": True})
        st, j = sc.json("POST", "/v1/chat/completions", client,
                        {"x-prefiller-host-port": pre.hostport})
        self.assertEqual(st, 200)
        p = dict(client)
        p.update(do_remote_decode=True, stream=False)
        del p["stream_options"]
        self.assertEqual(pre.reqs[0]["json"], p)  # no token cap in v1
        d = dict(client)
        d.update({k: resp[k] for k in ("remote_block_ids", "remote_engine_id", "remote_host",
                                       "remote_port")}, do_remote_prefill=True)
        self.assertEqual(dec.reqs[0]["json"], d)
        # No cached-token rewrite outside nixlv2 (as upstream).
        self.assertEqual(j["usage"]["prompt_tokens_details"]["cached_tokens"], 49)

    def test_lmcache_decodes_the_original_body(self):
        pre = self.upstream(lambda req, n: {"body": b"not even json"})
        dec = self.upstream(decode_json)
        sc = self.start(dec.port, "--kv-connector", "lmcache")
        raw = b'{"model":"m",  "messages":[{"role":"user","content":"hi"}], "min_tokens":2}'
        st, _, _ = sc.request("POST", "/v1/chat/completions", raw,
                              {"x-prefiller-host-port": pre.hostport})
        self.assertEqual(st, 200)
        self.assertEqual(pre.reqs[0]["json"], {
            "model": "m", "messages": [{"role": "user", "content": "hi"}], "min_tokens": 2,
            "max_tokens": 1, "max_completion_tokens": 1})
        self.assertEqual(dec.reqs[0]["body"], raw)  # byte for byte

    def test_shared_storage_without_threshold(self):
        pre = self.upstream(prefill_ok())
        dec = self.upstream(decode_json)
        sc = self.start(dec.port, "--kv-connector=shared-storage")
        client = self.client(stream=True, kv_transfer_params={"x": 1})
        st, _, _ = sc.request("POST", "/v1/chat/completions", client,
                              {"x-prefiller-host-port": pre.hostport})
        self.assertEqual(st, 200)
        p = dict(client)
        p.update(max_tokens=1, max_completion_tokens=1, cache_hit_threshold=0)
        self.assertEqual(pre.reqs[0]["json"], p)  # stream is left as sent
        d = dict(client)
        del d["kv_transfer_params"]
        d["cache_hit_threshold"] = 0
        self.assertEqual(dec.reqs[0]["json"], d)

    def decoder_with_threshold(self, stream):
        """A decoder that lacks the KV cache whenever cache_hit_threshold > 0."""
        def script(req, n):
            miss = (req["json"].get("cache_hit_threshold") or 0) > 0 and \
                req["json"].get("messages")[0]["content"] == "miss"
            fr = "cache_threshold" if miss else "stop"
            if stream:
                ev = [b'data: {"choices":[{"delta":{"content":"a"},"finish_reason":null}]}\n\n',
                      b'data: {"choices":[{"delta":{},"finish_reason":"%s"}]}\n\n' % fr.encode(),
                      b"data: [DONE]\n\n"]
                return {"chunks": [(0.01, e) for e in ev]}
            return {"body": {"choices": [{"index": 0, "finish_reason": fr,
                                          "message": {"content": "n%d" % n}}]}}
        return script

    def test_shared_storage_decode_first(self):
        for stream in (False, True):
            pre = self.upstream(prefill_ok())
            dec = self.upstream(self.decoder_with_threshold(stream))
            sc = self.start(dec.port, "--kv-connector=shared-storage")
            h = {"x-prefiller-host-port": pre.hostport}
            # The decoder has the cache: its answer, no prefill.
            hit = self.client(cache_hit_threshold=0.5, stream=stream)
            hit["messages"][0]["content"] = "hit"
            st, _, data = sc.request("POST", "/v1/chat/completions", hit, h)
            self.assertEqual(st, 200)
            self.assertEqual((len(pre.reqs), len(dec.reqs)), (0, 1), stream)
            self.assertEqual(dec.reqs[0]["json"], hit)
            if stream:
                self.assertIn(b'"finish_reason":"stop"', data)
                self.assertTrue(data.endswith(b"data: [DONE]\n\n"))
            else:
                self.assertEqual(json.loads(data)["choices"][0]["message"]["content"], "n0")
            # It does not: prefill, then decode with cache_hit_threshold 0.
            miss = self.client(cache_hit_threshold=0.5, stream=stream)
            miss["messages"][0]["content"] = "miss"
            st, _, data = sc.request("POST", "/v1/chat/completions", miss, h)
            self.assertEqual(st, 200)
            self.assertEqual((len(pre.reqs), len(dec.reqs)), (1, 3), stream)
            self.assertEqual(pre.reqs[0]["json"]["cache_hit_threshold"], 0)
            self.assertEqual(dec.reqs[2]["json"]["cache_hit_threshold"], 0)
            self.assertNotIn(b"cache_threshold", data)  # the first answer never leaks

    def test_sglang_concurrent_legs(self):
        pre = self.upstream(lambda req, n: {"hang": 1.0})
        dec = self.upstream(decode_json)
        sc = self.start(dec.port, "--kv-connector", "sglang", "--prefill-timeout", "3s",
                        env={"SGLANG_BOOTSTRAP_PORT": "9123"})
        client = self.client()
        t0 = time.monotonic()
        st, _ = sc.json("POST", "/v1/chat/completions", client,
                        {"x-prefiller-host-port": pre.hostport})
        took = time.monotonic() - t0
        self.assertEqual(st, 200)  # a slow (here: failing) prefill is invisible to the client
        self.assertLess(took, 0.9)  # the decode did not wait for the prefill
        # The legs run at once: the prefill may reach its server after the answer.
        deadline = time.monotonic() + 5
        while not pre.reqs and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(len(pre.reqs), 1)
        p, d = pre.reqs[0]["json"], dec.reqs[0]["json"]
        self.assertEqual(p, d)  # identical bodies on both legs
        self.assertEqual((d["bootstrap_host"], d["bootstrap_port"]), ("127.0.0.1", 9123))
        self.assertIsInstance(d["bootstrap_room"], int)
        self.assertGreater(d["bootstrap_room"], 10 ** 18)
        self.assertEqual({k: d[k] for k in client}, client)


class TlsTest(Base):
    """--secure-proxy serving, and https upstream per --enable-tls."""

    def tls_sidecar(self, decoder_port, *extra):
        # The default is TLS: no --secure-proxy=false here.
        s = Proc(SIDECAR, ["--model-server-port", str(decoder_port)] + list(extra))
        self.cleanup.append(lambda: self.assertEqual(s.stop(), 0, s.lines[-5:]))
        listening = [j for j in s.logs() if j.get("msg") == "listening"][0]
        self.assertEqual(listening["scheme"], "https")
        return s

    def test_self_signed_and_plain_refused(self):
        import ssl
        dec = self.upstream(decode_json)
        sc = self.tls_sidecar(dec.port)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        st, j = http_json(sc.port, "POST", "/v1/completions", {"model": "m", "prompt": "x"},
                          tls=ctx)
        self.assertEqual((st, j["id"]), (200, "d"))
        with ctx.wrap_socket(socket.create_connection(("127.0.0.1", sc.port))) as t:
            cert = ssl.DER_cert_to_PEM_cert(t.getpeercert(binary_form=True))
            self.assertGreaterEqual(t.version(), "TLSv1.2")
        # The self-signed certificate names localhost and 127.0.0.1.
        strict = ssl.create_default_context(cadata=cert)
        self.assertEqual(http_json(sc.port, "GET", "/health", tls=strict)[0], 200)
        with self.assertRaises((http.client.HTTPException, ConnectionError, OSError)):
            http_request(sc.port, "GET", "/health", timeout=5)

    def test_cert_path(self):
        import ssl
        import tempfile
        d = tempfile.mkdtemp()
        self.cleanup.append(lambda: subprocess.run(["rm", "-rf", d]))
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
                        "/CN=pdsim-test", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", d + "/tls.key", "-out", d + "/tls.crt"],
                       check=True, capture_output=True)
        dec = self.upstream(decode_json)
        sc = self.tls_sidecar(dec.port, "--cert-path", d)
        ctx = ssl.create_default_context(cafile=d + "/tls.crt")
        self.assertEqual(http_json(sc.port, "GET", "/health", tls=ctx)[0], 200)
        # a renewed secret (a new self-signed pair, swapped in by rename) is served
        # without a restart
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
                        "/CN=pdsim-test-2", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", d + "/new.key", "-out", d + "/new.crt"],
                       check=True, capture_output=True)
        os.replace(d + "/new.key", d + "/tls.key")
        os.replace(d + "/new.crt", d + "/tls.crt")
        ctx2 = ssl.create_default_context(cafile=d + "/tls.crt")
        deadline = time.monotonic() + 10
        while True:
            try:
                st = http_json(sc.port, "GET", "/health", tls=ctx2)[0]
                break
            except ssl.SSLError:  # still the old certificate: checked once a second
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.2)
        self.assertEqual(st, 200)
        with self.assertRaises(ssl.SSLError):  # the old one is no longer served
            http_json(sc.port, "GET", "/health", tls=ctx)
        rc = run_binary([SIDECAR, "--host", "127.0.0.1", "--port", "0",
                         "--cert-path", "/nonexistent"], capture_output=True, timeout=30)
        self.assertNotEqual(rc.returncode, 0)
        self.assertIn(b"--cert-path", rc.stderr)

    def test_https_upstream(self):
        # TLS sidecars in front of plain recording servers act as https decoder and prefiller.
        dec = self.upstream(decode_json)
        pre = self.upstream(prefill_ok(7))
        tls_dec = self.tls_sidecar(dec.port)
        tls_pre = self.tls_sidecar(pre.port)
        body = {"model": "m", "prompt": "x"}
        h = {"x-prefiller-host-port": "127.0.0.1:%d" % tls_pre.port}
        for flags in (["--enable-tls=decoder,prefiller",
                       "--tls-insecure-skip-verify", "prefiller,decoder"],
                      ["-decoder-use-tls", "-prefiller-use-tls", "-decoder-tls-insecure-skip-verify",
                       "-prefiller-tls-insecure-skip-verify"]):
            sc = self.start(tls_dec.port, *flags)
            st, j = sc.json("POST", "/v1/completions", body, h)
            self.assertEqual(st, 200, j)
            self.assertEqual(j["usage"]["prompt_tokens_details"]["cached_tokens"], 7)
            self.assertEqual(sc.request("GET", "/ready")[0], 200)
        self.assertEqual((len(pre.reqs), len(dec.reqs)), (2, 2))
        self.assertEqual(dec.reqs[0]["json"]["kv_transfer_params"], KV)
        # Verification is on unless skipped: the self-signed certificates fail it.
        sc = self.start(tls_dec.port, "--enable-tls", "decoder")
        st, j = sc.json("POST", "/v1/completions", body)
        self.assertEqual(st, 502)
        self.assertIn("certificate", j["error"]["message"].lower())
        sc = self.start(tls_dec.port, "--enable-tls", "prefiller,decoder",
                        "--tls-insecure-skip-verify", "decoder")
        st, j = sc.json("POST", "/v1/completions", body, h)
        self.assertEqual(st, 502)  # the prefiller's certificate is checked
        self.assertIn("prefill server", j["error"]["message"])


class DataParallelTest(Base):
    def test_ranks(self):
        base = free_port_pair()
        decs = [self.upstream(lambda req, n, r=r: {"body": {"rank": r}}, port=base + r)
                for r in range(2)]
        pre = self.upstream(prefill_ok())
        sc = self.start(base, "--data-parallel-size", "2")
        rank1 = [j for j in sc.logs() if j.get("msg") == "rank listening"]
        deadline = time.monotonic() + 5
        while not rank1 and time.monotonic() < deadline:
            time.sleep(0.02)
            rank1 = [j for j in sc.logs() if j.get("msg") == "rank listening"]
        self.assertEqual(rank1[0]["rank"], 1)
        self.assertEqual(rank1[0]["model_server_port"], base + 1)
        p1 = rank1[0]["port"]
        body = {"model": "m", "prompt": "x"}
        # Rank 0 without the header, rank 1 on its own port.
        self.assertEqual(sc.json("POST", "/v1/completions", body)[1], {"rank": 0})
        self.assertEqual(http_json(p1, "POST", "/v1/completions", body)[1], {"rank": 1})
        # The main port routes by x-data-parallel-host-port.
        st, j = sc.json("POST", "/v1/completions", body,
                        {"x-data-parallel-host-port": "127.0.0.1:%d" % p1})
        self.assertEqual((st, j), (200, {"rank": 1}))
        st, j = sc.json("POST", "/v1/completions", body,
                        {"x-data-parallel-host-port": "10.9.9.9:%d" % p1})
        self.assertEqual(st, 400)
        self.assertIn("x-data-parallel-host-port", j["error"]["message"])
        # P/D: the prefill goes to the named prefiller, the decode to the rank's decoder.
        st, j = sc.json("POST", "/v1/completions", body,
                        {"x-data-parallel-host-port": "localhost:%d" % p1,
                         "x-prefiller-host-port": pre.hostport})
        self.assertEqual((st, j["rank"]), (200, 1))
        self.assertEqual(decs[1].reqs[-1]["json"]["kv_transfer_params"], KV)
        self.assertEqual(len(decs[0].reqs), 1)


class CancelTest(Base):
    def test_client_disconnect_cancels_decode(self):
        pieces = [(0.0, b'data: {"choices":[]}\n\n')] + [(0.1, b'data: {"choices":[]}\n\n')] * 100
        pre = self.upstream(prefill_ok())
        dec = self.upstream(lambda req, n: {"chunks": pieces})
        sc = self.start(dec.port)
        c = http.client.HTTPConnection("127.0.0.1", sc.port, timeout=10)
        c.request("POST", "/v1/completions", json.dumps({"model": "m", "prompt": "x",
                                                          "stream": True}),
                  {"x-prefiller-host-port": pre.hostport})
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        r.read1(100)
        t_close = time.monotonic()
        c.sock.shutdown(socket.SHUT_RDWR)
        c.close()
        deadline = time.monotonic() + 5
        while not dec.closed_at and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertTrue(dec.closed_at, "the decode transfer was not cancelled")
        self.assertLess(dec.closed_at[0] - t_close, 1.0)

    def test_client_disconnect_cancels_prefill(self):
        pre = self.upstream(lambda req, n: {"hang": 10})
        dec = self.upstream(decode_json)
        sc = self.start(dec.port)
        s = socket.create_connection(("127.0.0.1", sc.port))
        body = json.dumps({"model": "m", "prompt": "x"}).encode()
        s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                  b"\r\nx-prefiller-host-port: %s\r\nContent-Length: %d\r\n\r\n%s"
                  % (pre.hostport.encode(), len(body), body))
        deadline = time.monotonic() + 5
        while not pre.reqs and time.monotonic() < deadline:
            time.sleep(0.01)
        t_close = time.monotonic()
        s.close()
        while not pre.closed_at and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertTrue(pre.closed_at, "the prefill transfer was not cancelled")
        self.assertLess(pre.closed_at[0] - t_close, 1.0)
        self.assertEqual(len(dec.reqs), 0)
        self.assertIn('outcome="client_gone"} 1', self.metrics(sc))


class RealSimulatorTest(Base):
    """Real pdsim-simulator processes as prefiller and decoder."""

    @classmethod
    def setUpClass(cls):
        common = ["--model", "m", "--mode", "random", "--seed", "3"]
        cls.pre = Proc(SIMULATOR, common + ["--prefill-time-per-token", "1ms"])
        cls.dec = Proc(SIMULATOR, common + ["--inter-token-latency", "100ms",
                                            "--kv-cache-transfer-latency", "20ms"])

    @classmethod
    def tearDownClass(cls):
        cls.pre.stop()
        cls.dec.stop()

    def test_streaming_is_token_by_token(self):
        sc = self.start(self.dec.port, "--default-prefiller", "127.0.0.1:%d" % self.pre.port)
        st, hdrs, events, t0 = collect_stream(
            sc.port, "/v1/chat/completions",
            {"model": "m", "messages": [{"role": "user", "content": "tell me a story"}],
             "stream": True, "max_tokens": 10, "ignore_eos": True,
             "stream_options": {"include_usage": True}})
        self.assertEqual(st, 200)
        self.assertEqual(events[-1][1], "[DONE]")
        content = [e for e in events if '"content"' in e[1]]
        self.assertGreaterEqual(len(content), 10)
        # Nine inter-token gaps of 100 ms: the first token arrives long before the last.
        self.assertGreater(content[-1][0] - content[0][0], 0.6)
        usage = json.loads(events[-2][1])["usage"]
        self.assertEqual(usage["completion_tokens"], 10)

    def test_pd_non_stream_and_metrics(self):
        sc = self.start(self.dec.port)
        h = {"x-prefiller-host-port": "127.0.0.1:%d" % self.pre.port}
        st, j = sc.json("POST", "/v1/completions", {"model": "m", "prompt": "a b c d",
                                                     "max_tokens": 3, "ignore_eos": True}, h)
        self.assertEqual(st, 200, j)
        self.assertEqual(j["usage"]["completion_tokens"], 3)
        self.assertEqual(self.dec.request("GET", "/health")[0], 200)
        m = self.metrics(sc)
        self.assertIn("vllm:", m)  # the decoder's own metrics come first
        self.assertIn('pdsim_sidecar_requests_total{outcome="pd_ok"} 1', m)
        self.assertIn("pdsim_sidecar_prefill_duration_seconds_count 1", m)
        self.assertIn("pdsim_sidecar_decode_ttfb_seconds_count 1", m)
        self.assertEqual(sc.request("GET", "/ready")[0], 200)
        st, j = sc.json("GET", "/v1/models")
        self.assertEqual(j["data"][0]["id"], "m")


class FlagTest(unittest.TestCase):
    def run_sc(self, *args):
        p = run_binary([SIDECAR] + list(args), capture_output=True, timeout=30)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def test_seed_and_legacy_flags_start(self):
        dec_port = free_port()
        # The seed manifest's args, unchanged; the port is overridden for the test.
        for args in (["--v=4", "--port=8000", "--vllm-port=%d" % dec_port,
                      "--connector=nixlv2", "--secure-proxy=false", "-port=0"],
                     ["-port=0", "-vllm-port", str(dec_port), "-connector", "nixlv2", "-v", "4",
                      "-prefiller-use-tls=false", "-decoder-use-tls=false",
                      "-prefiller-tls-insecure-skip-verify", "-decoder-tls-insecure-skip-verify",
                      "--secure-proxy=false"],
                     ["--port", "0", "--model-server-port", str(dec_port), "--kv-connector",
                      "nixlv2", "--secure-proxy=false", "--enable-ssrf-protection=false",
                      "--prefill-max-retries", "2", "--prefill-retry-backoff", "100ms"]):
            sc = Proc(SIDECAR, args + ["--host", "127.0.0.1", "--http-threads", "16"],
                      base=False)
            try:
                self.assertEqual(sc.request("GET", "/health")[0], 200)
                listening = [j for j in sc.logs() if j.get("msg") == "listening"][0]
                self.assertEqual(listening["model_server_port"], dec_port)
            finally:
                self.assertEqual(sc.stop(), 0)

    def test_bad_flags_exit_naming_them(self):
        for args, name in ((["--bogus"], "--bogus"), (["--port", "x"], "--port"),
                           (["--prefill-retry-backoff", "soon"], "--prefill-retry-backoff"),
                           (["--kv-connector", "carrier-pigeon"], "--kv-connector"),
                           (["--kv-connector", "mooncake"], "--kv-connector"),
                           (["--model-server-port", "70000"], "--model-server-port"),
                           (["--ssrf-allow", "1.2.3.4/99"], "--ssrf-allow"),
                           (["--ssrf-allow", "a b"], "--ssrf-allow"),
                           (["--ssrf-allow-file", "/nonexistent"], "--ssrf-allow-file"),
                           (["--enable-ssrf-protection"], "--enable-ssrf-protection"),
                           (["--enable-tls", "decoder,gpu"], "--enable-tls"),
                           (["--tls-insecure-skip-verify=x"], "--tls-insecure-skip-verify"),
                           (["--default-prefiller", "x"], "--default-prefiller"),
                           (["--model-server-port", "65535", "--data-parallel-size", "2"],
                            "--data-parallel-size")):
            extra = ["--host", "127.0.0.1", "--port", "0", "--secure-proxy=false"]
            rc, out, err = self.run_sc(*(extra + args))
            self.assertNotEqual(rc, 0, args)
            self.assertIn(name, err, args)
            self.assertEqual(len(err.strip().splitlines()), 1, err)

    def test_configuration_file(self):
        import tempfile
        dec_port = free_port()
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write("model-server-port: %d\nsecure-proxy: false\nprefill-max-retries: 3\n"
                    % dec_port)
            path = f.name
        try:
            sc = Proc(SIDECAR, ["--configuration-file", path, "--http-threads", "16"])
            try:
                listening = [j for j in sc.logs() if j.get("msg") == "listening"][0]
                self.assertEqual(listening["model_server_port"], dec_port)
            finally:
                self.assertEqual(sc.stop(), 0)
            with open(path, "w") as f:
                f.write("no-such-key: 1\n")
            rc, _, err = self.run_sc("--configuration-file", path)
            self.assertNotEqual(rc, 0)
            self.assertIn("no-such-key", err)
        finally:
            os.unlink(path)


if __name__ == "__main__":
    unittest.main(verbosity=2)
