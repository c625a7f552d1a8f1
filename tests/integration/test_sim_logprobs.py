"""pdsim-simulator logprobs: chat (logprobs + top_logprobs) and completions (logprobs:int),
upstream's deterministic values and shapes, streamed and not, and their errors."""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import SIMULATOR, Proc  # noqa: E402

M = "m"


def lp(pos, alt):
    return -1.0 - (pos % 3) * 0.1 - alt * 0.5


class LogprobsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Proc(SIMULATOR, ["--model", M, "--mode", "echo"])

    @classmethod
    def tearDownClass(cls):
        assert cls.sim.stop() == 0

    def test_chat(self):
        st, j = self.sim.json("POST", "/v1/chat/completions", {
            "model": M, "messages": [{"role": "user", "content": "one two three four"}],
            "logprobs": True, "top_logprobs": 3})
        self.assertEqual(st, 200, j)
        content = j["choices"][0]["logprobs"]["content"]
        self.assertEqual("".join(c["token"] for c in content), "one two three four")
        for pos, c in enumerate(content):
            self.assertAlmostEqual(c["logprob"], lp(pos, 0))
            self.assertEqual(c["bytes"], list(c["token"].encode()))
            self.assertEqual([t["token"] for t in c["top_logprobs"]],
                             [c["token"], c["token"] + "_1", c["token"] + "_2"])
            self.assertEqual([t["logprob"] for t in c["top_logprobs"]],
                             [lp(pos, a) for a in range(3)])
        # logprobs without top_logprobs: one alternative, the token (as upstream)
        st, j = self.sim.json("POST", "/v1/chat/completions", {
            "model": M, "messages": [{"role": "user", "content": "a b"}], "logprobs": True})
        self.assertEqual(len(j["choices"][0]["logprobs"]["content"][0]["top_logprobs"]), 1)
        # without logprobs: no field
        st, j = self.sim.json("POST", "/v1/chat/completions", {
            "model": M, "messages": [{"role": "user", "content": "a b"}]})
        self.assertNotIn("logprobs", j["choices"][0])

    def test_chat_stream_positions(self):
        st, h, data = self.sim.request("POST", "/v1/chat/completions", {
            "model": M, "messages": [{"role": "user", "content": "one two three four"}],
            "logprobs": True, "stream": True})
        chunks = [json.loads(l[6:]) for l in data.decode().split("\n")
                  if l.startswith("data: {")]
        items = [c["choices"][0]["logprobs"]["content"][0] for c in chunks
                 if c["choices"] and "logprobs" in c["choices"][0]]
        self.assertEqual(len(items), 4)
        self.assertEqual([i["logprob"] for i in items], [lp(p, 0) for p in range(4)])

    def test_completions(self):
        st, j = self.sim.json("POST", "/v1/completions", {"model": M, "prompt": "alpha beta",
                                                          "logprobs": 2})
        self.assertEqual(st, 200, j)
        l = j["choices"][0]["logprobs"]
        self.assertEqual(l["tokens"], ["alpha ", "beta"])
        self.assertEqual(l["token_logprobs"], [lp(0, 0), lp(1, 0)])
        self.assertEqual(l["top_logprobs"], [{"alpha ": lp(0, 0), "alpha _1": lp(0, 1)},
                                             {"beta": lp(1, 0), "beta_1": lp(1, 1)}])
        self.assertEqual(l["text_offset"], [0, 6])
        st, j = self.sim.json("POST", "/v1/completions", {"model": M, "prompt": "x",
                                                          "logprobs": None})
        self.assertNotIn("logprobs", j["choices"][0])
        st, j = self.sim.json("POST", "/v1/completions", {"model": M, "prompt": "x",
                                                          "logprobs": 0})
        self.assertEqual(len(j["choices"][0]["logprobs"]["top_logprobs"][0]), 1)

    def test_offsets_follow_the_text(self):
        # echo keeps "a | b" exactly; the tokenizer skips "| ": offsets point into the text
        st, j = self.sim.json("POST", "/v1/completions", {"model": M, "prompt": "a | b",
                                                          "logprobs": 1})
        c = j["choices"][0]
        self.assertEqual(c["text"], "a | b")
        for tok, off in zip(c["logprobs"]["tokens"], c["logprobs"]["text_offset"]):
            self.assertEqual(c["text"][off:off + len(tok)], tok)
        # a long token keeps all its bytes (and valid UTF-8) in its name
        word = "x" * 300 + "é"
        st, j = self.sim.json("POST", "/v1/chat/completions", {
            "model": M, "messages": [{"role": "user", "content": word}], "logprobs": True,
            "top_logprobs": 2})
        item = j["choices"][0]["logprobs"]["content"][0]
        self.assertEqual(item["token"], word)
        self.assertEqual(bytes(item["bytes"]).decode(), word)
        self.assertEqual(item["top_logprobs"][1]["token"], word + "_1")

    def test_completions_stream(self):
        st, h, data = self.sim.request("POST", "/v1/completions", {
            "model": M, "prompt": "one two three", "logprobs": 2, "stream": True})
        chunks = [json.loads(l[6:]) for l in data.decode().split("\n")
                  if l.startswith("data: {")]
        lps = [c["choices"][0]["logprobs"] for c in chunks
               if c["choices"] and "logprobs" in c["choices"][0]]
        self.assertEqual([l["tokens"][0] for l in lps], ["one ", "two ", "three"])
        self.assertEqual([l["token_logprobs"][0] for l in lps], [lp(p, 0) for p in range(3)])
        self.assertEqual(len(lps[0]["top_logprobs"][0]), 2)

    def test_errors(self):
        for path, body, want in (
                ("/v1/chat/completions", {"top_logprobs": 2}, "requires logprobs"),
                ("/v1/chat/completions", {"logprobs": True, "top_logprobs": 21}, "between 0"),
                ("/v1/chat/completions", {"logprobs": 1}, "field 'logprobs' must be"),
                ("/v1/completions", {"logprobs": -1}, "between 0"),
                ("/v1/completions", {"logprobs": True}, "field 'logprobs' must be")):
            base = ({"model": M, "messages": [{"role": "user", "content": "x"}]}
                    if "chat" in path else {"model": M, "prompt": "x"})
            st, j = self.sim.json("POST", path, dict(base, **body))
            self.assertEqual(st, 400, (path, body, j))
            self.assertIn(want, j["error"]["message"], body)


if __name__ == "__main__":
    unittest.main(verbosity=2)
