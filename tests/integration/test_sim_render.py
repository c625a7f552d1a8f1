"""The render endpoints: /v1/completions/render (one {"token_ids"} per prompt, token-id
prompts verbatim) and /v1/chat/completions/render ({"token_ids"} plus synthetic
multimodal features), the same ids /tokenize gives; empty input → 400, unknown model →
404, a LoRA adapter → 400."""

import base64
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import SIMULATOR, Proc  # noqa: E402

M = "renderer"


def fnv32(s):
    h = 2166136261
    for b in s.encode():
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


class RenderTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Proc(SIMULATOR, ["--model", M, "--lora-modules", "ad=/p/ad",
                                   "--enable-request-id-headers"])

    @classmethod
    def tearDownClass(cls):
        assert cls.sim.stop() == 0

    def tokens(self, body):
        st, j = self.sim.json("POST", "/tokenize", body)
        self.assertEqual(st, 200)
        return j["tokens"]

    def test_completions(self):
        st, j = self.sim.json("POST", "/v1/completions/render",
                              {"model": M, "prompt": "This is a test.", "max_tokens": 3})
        self.assertEqual(st, 200, j)
        self.assertEqual(j, [{"token_ids": self.tokens({"prompt": "This is a test."})}])
        self.assertEqual(j[0]["token_ids"][0], fnv32("This "))  # upstream's dummy tokenizer
        st, j = self.sim.json("POST", "/v1/completions/render",
                              {"model": M, "prompt": ["a b", "c"]})
        self.assertEqual(j, [{"token_ids": self.tokens({"prompt": "a b"})},
                             {"token_ids": self.tokens({"prompt": "c"})}])
        st, j = self.sim.json("POST", "/v1/completions/render",
                              {"model": M, "prompt": [[5, 4294967295, 0], [9]]})
        self.assertEqual(j, [{"token_ids": [5, 4294967295, 0]}, {"token_ids": [9]}])
        st, j = self.sim.json("POST", "/v1/completions/render", {"model": M, "prompt": [1, 2]})
        self.assertEqual(j, [{"token_ids": [1, 2]}])

    def test_chat(self):
        msgs = [{"role": "system", "content": "Be brief."},
                {"role": "user", "content": "This is a test."}]
        st, hdrs, data = self.sim.request("POST", "/v1/chat/completions/render",
                                          {"model": M, "messages": msgs},
                                          {"X-Request-Id": "r-1"})
        self.assertEqual((st, hdrs.get("x-request-id")), (200, "r-1"))
        j = json.loads(data)
        self.assertEqual(j, {"token_ids": self.tokens({"messages": msgs})})
        # one user message is 10 tokens, as upstream: #,#,# ,user,: ,This ,is ,a ,test,.\n
        st, j = self.sim.json("POST", "/v1/chat/completions/render",
                              {"model": M, "messages": msgs[1:]})
        self.assertEqual(len(j["token_ids"]), 10)

    def test_chat_features(self):
        msgs = [{"role": "user", "content": [
            {"type": "text", "text": "What is in these?"},
            {"type": "image_url", "image_url": {"url": "https://x/cat.png"}},
            {"type": "video_url", "video_url": {"url": "https://x/clip.mp4"}},
            {"type": "image_url", "image_url": {"url": "https://x/dog.png"}}]}]
        st, j = self.sim.json("POST", "/v1/chat/completions/render", {"model": M, "messages": msgs})
        self.assertEqual(st, 200, j)
        f = j["features"]
        self.assertEqual(list(f), ["mm_hashes", "mm_placeholders", "kwargs_data"])
        self.assertEqual(f["mm_hashes"], {
            "image": ["sim_img_0_%x" % fnv32("https://x/cat.png"),
                      "sim_img_1_%x" % fnv32("https://x/dog.png")],
            "video": ["sim_video_0_%x" % fnv32("https://x/clip.mp4")]})
        self.assertEqual(f["kwargs_data"]["image"],
                         [base64.b64encode(h.encode()).decode() for h in f["mm_hashes"]["image"]])
        n = len(j["token_ids"])
        span = max(n // 3, 1)
        self.assertEqual(f["mm_placeholders"],
                         {"image": [{"offset": 0, "length": span},
                                    {"offset": 2 * span, "length": span}],
                          "video": [{"offset": span, "length": span}]})
        # the same request, the same hashes (a cache can match them)
        st, j2 = self.sim.json("POST", "/v1/chat/completions/render",
                               {"model": M, "messages": msgs})
        self.assertEqual(j2, j)

    def test_errors(self):
        cases = [
            ("/v1/chat/completions/render", {"model": M, "messages": []}, 400, "messages"),
            ("/v1/chat/completions/render", {"model": M}, 400, "messages"),
            ("/v1/completions/render", {"model": M, "prompt": []}, 400, "prompt"),
            ("/v1/completions/render", {"model": M, "prompt": ""}, 400, "prompt"),
            ("/v1/completions/render", {"model": M, "prompt": [[1], []]}, 400, "prompt"),
            ("/v1/completions/render", {"model": M, "prompt": [4294967296]}, 400, "prompt"),
            ("/v1/completions/render", {"model": "nope", "prompt": "x"}, 404, "model"),
            ("/v1/completions/render", {"prompt": "x"}, 404, "model"),
        ]
        for path, body, status, param in cases:
            st, j = self.sim.json("POST", path, body)
            self.assertEqual((st, j["error"]["param"]), (status, param), (path, body, j))
        for path, body in (("/v1/completions/render", {"model": "ad", "prompt": "x"}),
                           ("/v1/chat/completions/render",
                            {"model": "ad", "messages": [{"role": "user", "content": "x"}]})):
            st, j = self.sim.json("POST", path, body)
            self.assertEqual(st, 400)
            self.assertEqual(j["error"]["message"], "The model `ad` is a LoRA adapter and is "
                                                    "not supported by the render endpoints.")
        st, _, data = self.sim.request("POST", "/v1/completions/render", b"[")
        self.assertEqual(st, 400)
        self.assertIn(b"Failed to read and parse request body", data)
        st, _, _ = self.sim.request("GET", "/v1/chat/completions/render")
        self.assertEqual(st, 405)


if __name__ == "__main__":
    unittest.main(verbosity=2)
