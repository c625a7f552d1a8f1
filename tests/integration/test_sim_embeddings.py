"""POST /v1/embeddings as upstream's deterministic stub: shapes, the vector formula over
the dummy tokenizer's ids, dimensions, float and base64 encodings (the same float32
values), input forms and errors. X-Return-Error and failure injection do not apply."""

import base64
import os
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import SIMULATOR, Proc  # noqa: E402

M = "embedder"


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def expected(ids, dims):
    """Upstream's BuildStubEmbedding, in float32."""
    out = []
    for i in range(dims):
        if i < len(ids):
            out.append(f32(2 * (ids[i] % 1024) / 1024 - 1))
        elif ids:
            out.append(f32(2 * (ids[i % len(ids)] % 256) / 256 - 1))
        else:
            out.append(0.0)
    return out


class EmbeddingsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Proc(SIMULATOR, ["--model", M, "--served-model-name", M, "alias",
                                   "--lora-modules", "ad=/p/ad", "--failure-injection-rate",
                                   "100", "--enable-request-id-headers", "--seed", "1"],
                       env={"POD_NAME": "pod-e"})

    @classmethod
    def tearDownClass(cls):
        assert cls.sim.stop() == 0

    def post(self, body, headers=None):
        return self.sim.json("POST", "/v1/embeddings", body, headers)

    def ids(self, text):
        st, j = self.sim.json("POST", "/tokenize", {"prompt": text})
        self.assertEqual(st, 200)
        return j["tokens"]

    def test_shape_and_values(self):
        st, j = self.post({"model": M, "input": ["This is a test.", "hello world"]})
        self.assertEqual(st, 200, j)
        self.assertEqual(list(j), ["object", "data", "model", "usage"])  # upstream's order
        self.assertEqual((j["object"], j["model"]), ("list", M))
        self.assertEqual([list(d) for d in j["data"]], [["object", "index", "embedding"]] * 2)
        self.assertEqual([d["index"] for d in j["data"]], [0, 1])
        self.assertEqual({d["object"] for d in j["data"]}, {"embedding"})
        a, b = self.ids("This is a test."), self.ids("hello world")
        self.assertEqual(j["usage"], {"prompt_tokens": len(a) + len(b),
                                      "total_tokens": len(a) + len(b)})
        self.assertEqual(len(j["data"][0]["embedding"]), 384)  # --default-embedding-dimensions
        for d, ids in zip(j["data"], (a, b)):
            got = [f32(x) for x in d["embedding"]]
            self.assertEqual(got, expected(ids, 384))
            self.assertTrue(all(-1 <= x < 1 for x in got))

    def test_deterministic_and_dimensions(self):
        body = {"model": M, "input": "The rest is silence.", "dimensions": 12}
        st, j1 = self.post(body)
        st2, j2 = self.post(body)
        self.assertEqual((st, st2), (200, 200))
        self.assertEqual(j1, j2)
        self.assertEqual(len(j1["data"][0]["embedding"]), 12)
        self.assertEqual([f32(x) for x in j1["data"][0]["embedding"]],
                         expected(self.ids("The rest is silence."), 12))
        # another process, another seed: the same vectors
        other = Proc(SIMULATOR, ["--model", M, "--seed", "999"])
        try:
            st, j3 = other.json("POST", "/v1/embeddings", body)
        finally:
            self.assertEqual(other.stop(), 0)
        self.assertEqual(j3["data"], j1["data"])

    def test_base64_decodes_to_the_same_floats(self):
        body = {"model": M, "input": ["a b c", "To be or not to be"], "dimensions": 40}
        st, jf = self.post(body)
        st2, jb = self.post(dict(body, encoding_format="base64"))
        self.assertEqual((st, st2), (200, 200))
        self.assertEqual(jb["usage"], jf["usage"])
        for f, b in zip(jf["data"], jb["data"]):
            self.assertIsInstance(b["embedding"], str)
            raw = base64.b64decode(b["embedding"], validate=True)
            self.assertEqual(len(raw), 40 * 4)
            decoded = list(struct.unpack("<40f", raw))  # little-endian float32
            self.assertEqual(decoded, [f32(x) for x in f["embedding"]])
        st, j = self.post(dict(body, encoding_format="float"))
        self.assertEqual(j["data"], jf["data"])

    def test_token_inputs(self):
        st, j = self.post({"model": M, "input": [1, 2, 3], "dimensions": 6})
        self.assertEqual(st, 200, j)
        self.assertEqual(len(j["data"]), 1)
        self.assertEqual([f32(x) for x in j["data"][0]["embedding"]], expected([1, 2, 3], 6))
        self.assertEqual(j["usage"]["prompt_tokens"], 3)
        st, j = self.post({"model": M, "input": [[1024, 7], [300]], "dimensions": 3})
        self.assertEqual(st, 200, j)
        self.assertEqual([[f32(x) for x in d["embedding"]] for d in j["data"]],
                         [expected([1024, 7], 3), expected([300], 3)])
        self.assertEqual(j["usage"]["prompt_tokens"], 3)

    def test_models(self):
        # an alias shows the first served name, an adapter itself, no model the served one
        for model, shown in (("alias", M), ("ad", "ad"), (None, M)):
            body = {"input": "x"}
            if model:
                body["model"] = model
            st, j = self.post(body)
            self.assertEqual((st, j["model"]), (200, shown))
        st, j = self.post({"model": "nope", "input": "x"})
        self.assertEqual(st, 404)
        self.assertEqual(j["error"], {"message": "The model `nope` does not exist.",
                                      "type": "NotFoundError", "param": "model", "code": 404})

    def test_hooks_do_not_apply_but_headers_do(self):
        # --failure-injection-rate 100 and X-Return-Error: not for embeddings (as upstream)
        st, hdrs, _ = self.sim.request("POST", "/v1/embeddings", {"model": M, "input": "x"},
                                       {"X-Return-Error": "429", "X-Request-Id": "emb-1"})
        self.assertEqual(st, 200)
        self.assertEqual(hdrs.get("x-request-id"), "emb-1")
        self.assertEqual(hdrs.get("x-inference-pod"), "pod-e")
        st, hdrs, _ = self.sim.request("POST", "/v1/embeddings", {"model": M, "input": "x"})
        self.assertRegex(hdrs.get("x-request-id", ""), r"^[0-9a-f-]{36}$")
        # the generation endpoints do fail here, so the hooks are really on
        st, _ = self.sim.json("POST", "/v1/completions", {"model": M, "prompt": "x"})
        self.assertNotEqual(st, 200)

    def test_errors(self):
        cases = [
            ({"model": M}, "input is required and must be a non-empty string or array", "input"),
            ({"model": M, "input": []}, "input is required", "input"),
            ({"model": M, "input": ""}, "input cannot be an empty string", "input"),
            ({"model": M, "input": ["a", ""]}, "input cannot be an empty string", "input"),
            ({"model": M, "input": ["a", 1]}, "input must be a string, an array of strings",
             "input"),
            ({"model": M, "input": [1, -2]}, "token ids must be integers", "input"),
            ({"model": M, "input": [[1], []]}, "token id arrays must not be empty", "input"),
            ({"model": M, "input": 5}, "input must be a string", "input"),
            ({"model": M, "input": "a", "dimensions": 0}, "dimensions must be at least 1",
             "dimensions"),
            ({"model": M, "input": "a", "dimensions": "3"}, "must be an integer", "dimensions"),
            ({"model": M, "input": "a", "dimensions": 10 ** 9}, "too large a response",
             "dimensions"),
            ({"model": M, "input": "a", "encoding_format": "int8"},
             'encoding_format must be "float" or "base64"', "encoding_format"),
            ({"model": 7, "input": "a"}, "field 'model' must be a string", "model"),
        ]
        for body, msg, param in cases:
            st, j = self.post(body)
            self.assertEqual(st, 400, body)
            self.assertIn(msg, j["error"]["message"], body)
            self.assertEqual((j["error"]["param"], j["error"]["type"], j["error"]["code"]),
                             (param, "BadRequestError", 400), body)
        st, _, data = self.sim.request("POST", "/v1/embeddings", b"{not json")
        self.assertEqual(st, 400)
        self.assertIn(b"Failed to read and parse request body", data)
        st, _, _ = self.sim.request("GET", "/v1/embeddings")
        self.assertEqual(st, 405)
        st, _, data = self.sim.request("POST", "/v1/embeddings", b'{"input":"' + b"a" * (5 << 20)
                                       + b'"}')
        self.assertEqual(st, 413)


class DefaultDimensionsTest(unittest.TestCase):
    def test_flag(self):
        sim = Proc(SIMULATOR, ["--model", M, "--default-embedding-dimensions", "16"])
        try:
            st, j = sim.json("POST", "/v1/embeddings", {"model": M, "input": "x y"})
            self.assertEqual(st, 200)
            self.assertEqual(len(j["data"][0]["embedding"]), 16)
            st, j = sim.json("POST", "/v1/embeddings", {"model": M, "input": "x", "dimensions": 2})
            self.assertEqual(len(j["data"][0]["embedding"]), 2)
            st, cfg = sim.json("GET", "/admin/config")
            self.assertEqual(cfg["default-embedding-dimensions"], 16)
        finally:
            self.assertEqual(sim.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
