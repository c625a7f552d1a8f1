"""--dataset-path: a small SQLite dataset (table llmd, as upstream) built here with
Python's sqlite3 and hashlib. A prompt whose token ids hash to a record gets that record
(cut to max_tokens); any other prompt gets some record; --dataset-in-memory answers the
same; a bad file, table or schema exits non-zero naming the flag."""

import hashlib
import json
import os
import shutil
import sqlite3
import struct
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import SIMULATOR, Proc, collect_stream, run_binary  # noqa: E402

M = "ds-model"
SCHEMA = ("CREATE TABLE {} (id INTEGER PRIMARY KEY, prompt_hash BLOB NOT NULL, "
          "gen_tokens JSON NOT NULL, n_gen_tokens INTEGER NOT NULL)")
STORY = ["Once ", "upon ", "a ", "time ", "there ", "was ", "a ", "simulator."]
CHAT = ["Hello ", "from ", "the ", "dataset!"]
IDS = ["Token ", "ids ", "matched."]
OTHER = [["Random ", "record ", "one."], ["Random ", "record ", "two ", "here."]]
CHAT_MSGS = [{"role": "user", "content": "What is new?"}]


def prompt_hash(ids):
    """The record key: SHA-256 of the prompt's token ids as uint32 little-endian."""
    return hashlib.sha256(b"".join(struct.pack("<I", i) for i in ids)).digest()


def render_ids():
    """The token ids of the test prompts, from a plain simulator's render endpoints."""
    sim = Proc(SIMULATOR, ["--model", M])
    try:
        st, j = sim.json("POST", "/v1/completions/render",
                         {"model": M, "prompt": "Tell me a story"})
        assert st == 200, j
        story = j[0]["token_ids"]
        st, j = sim.json("POST", "/v1/chat/completions/render",
                         {"model": M, "messages": CHAT_MSGS})
        assert st == 200, j
        chat = j["token_ids"]
    finally:
        assert sim.stop() == 0
    return story, chat


def fnv32(s):
    h = 2166136261
    for b in s.encode():
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def build_db(path, table="llmd"):
    story, chat = render_ids()
    build_db.chat_ids = chat
    db = sqlite3.connect(path)
    db.execute(SCHEMA.format(table))
    rows = [(prompt_hash(story), json.dumps(STORY), len(STORY)),
            # the current format: strings and their token ids
            (prompt_hash(chat), json.dumps({"strings": CHAT, "numbers": [11, 12, 13, 14]}),
             len(CHAT)),
            (prompt_hash([5, 6, 7]), json.dumps(IDS), len(IDS))]
    rows += [(os.urandom(32), json.dumps(o), len(o)) for o in OTHER]
    db.executemany("INSERT INTO %s (prompt_hash, gen_tokens, n_gen_tokens) VALUES (?, ?, ?)"
                   % table, rows)
    db.commit()
    db.close()


class DatasetTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="pdsim-ds-")
        cls.db = os.path.join(cls.dir, "ds.sqlite3")
        build_db(cls.db)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def check_answers(self, sim):
        st, j = sim.json("POST", "/v1/completions", {"model": M, "prompt": "Tell me a story"})
        self.assertEqual(st, 200, j)
        self.assertEqual(j["choices"][0]["text"], "".join(STORY))
        self.assertEqual(j["choices"][0]["finish_reason"], "stop")
        self.assertEqual(j["usage"]["completion_tokens"], len(STORY))
        st, j = sim.json("POST", "/v1/chat/completions", {"model": M, "messages": CHAT_MSGS})
        self.assertEqual(j["choices"][0]["message"]["content"], "".join(CHAT))
        st, j = sim.json("POST", "/v1/completions", {"model": M, "prompt": [5, 6, 7]})
        self.assertEqual(j["choices"][0]["text"], "".join(IDS))
        # /inference/v1/generate: ids in, the record's ids out ("numbers" when it has them,
        # else its strings' ids); the chat prompt's ids find the chat record
        gen = {"model": M, "sampling_params": {"max_tokens": 20}}
        st, j = sim.json("POST", "/inference/v1/generate", dict(gen, token_ids=[5, 6, 7]))
        self.assertEqual(st, 200, j)
        self.assertEqual(j["choices"][0]["token_ids"], [fnv32(t) for t in IDS])
        st, j = sim.json("POST", "/inference/v1/generate",
                         dict(gen, token_ids=build_db.chat_ids))
        self.assertEqual(j["choices"][0]["token_ids"], [11, 12, 13, 14])
        # max_tokens cuts the record: finish "length"
        st, j = sim.json("POST", "/v1/completions",
                         {"model": M, "prompt": "Tell me a story", "max_tokens": 3})
        self.assertEqual(j["choices"][0]["text"], "Once upon a ")
        self.assertEqual(j["choices"][0]["finish_reason"], "length")
        # ignore_eos pads with the built-in sentences to exactly max_tokens
        st, j = sim.json("POST", "/v1/completions", {"model": M, "prompt": "Tell me a story",
                                                     "max_tokens": 12, "ignore_eos": True})
        self.assertTrue(j["choices"][0]["text"].startswith("".join(STORY)), j)
        self.assertEqual(j["usage"]["completion_tokens"], 12)
        # streamed, the same text token by token
        st, _, events, _ = collect_stream(sim.port, "/v1/chat/completions",
                                          {"model": M, "messages": CHAT_MSGS, "stream": True})
        deltas = [json.loads(d)["choices"][0]["delta"].get("content", "")
                  for _, d in events if d != "[DONE]"]
        self.assertEqual([d for d in deltas if d], CHAT)
        # any other prompt: some record of the dataset, n of them for n choices
        records = ["".join(r) for r in [STORY, CHAT, IDS] + OTHER]
        st, j = sim.json("POST", "/v1/completions",
                         {"model": M, "prompt": "Something unrelated", "n": 8})
        self.assertEqual(st, 200, j)
        texts = [c["text"] for c in j["choices"]]
        for t in texts:
            self.assertIn(t, records)
        self.assertGreater(len(set(texts)), 1)
        # a record no longer than max_tokens when there is one
        st, j = sim.json("POST", "/v1/completions",
                         {"model": M, "prompt": "Something unrelated", "max_tokens": 3})
        self.assertIn(j["choices"][0]["text"], ["".join(IDS), "".join(OTHER[0])])

    def test_file(self):
        sim = Proc(SIMULATOR, ["--model", M, "--dataset-path", self.db, "--seed", "3"])
        try:
            self.check_answers(sim)
            logs = [l for l in sim.logs() if l.get("msg") == "dataset loaded"]
            self.assertEqual((logs[0]["records"], logs[0]["in_memory"]), (5, False))
        finally:
            self.assertEqual(sim.stop(), 0)

    def test_in_memory_and_url_of_an_existing_file(self):
        # the file exists, so --dataset-url is not needed (upstream does not download then)
        sim = Proc(SIMULATOR, ["--model", M, "--dataset-path", self.db, "--dataset-in-memory", "--seed", "4",
                               "--dataset-url", "https://example.invalid/ds.sqlite3"])
        try:
            self.check_answers(sim)
            st, cfg = sim.json("GET", "/admin/config")
            self.assertEqual((cfg["dataset-path"], cfg["dataset-in-memory"]), (self.db, True))
        finally:
            self.assertEqual(sim.stop(), 0)

    def test_table_name(self):
        path = os.path.join(self.dir, "named.sqlite3")
        build_db(path, "answers")
        sim = Proc(SIMULATOR, ["--model", M, "--dataset-path", path,
                               "--dataset-table-name", "answers"])
        try:
            st, j = sim.json("POST", "/v1/completions", {"model": M, "prompt": "Tell me a story"})
            self.assertEqual(j["choices"][0]["text"], "".join(STORY))
        finally:
            self.assertEqual(sim.stop(), 0)

    def test_bad_datasets_exit_naming_the_flag(self):
        def db_with(name, create, rows=()):
            path = os.path.join(self.dir, name)
            db = sqlite3.connect(path)
            db.execute(create)
            for r in rows:
                db.execute("INSERT INTO llmd VALUES (?, ?, ?, ?)", r)
            db.commit()
            db.close()
            return path

        text = os.path.join(self.dir, "text.sqlite3")
        with open(text, "w") as f:
            f.write("this is not an SQLite database, only some text in a file\n" * 4)
        cases = [
            (["--dataset-path", os.path.join(self.dir, "missing.db")],
             "--dataset-path %s: No such file" % os.path.join(self.dir, "missing.db")),
            (["--dataset-path", os.path.join(self.dir, "missing.db"), "--dataset-url",
              "https://h/d.db"], "--dataset-url https://h/d.db: pdsim-simulator does not download"),
            (["--dataset-url", "https://h/d.db"], "--dataset-url needs --dataset-path"),
            (["--dataset-path", text], "file is not a database"),
            (["--dataset-path", self.db, "--dataset-table-name", "nope"],
             'no table "nope" (--dataset-table-name)'),
            (["--dataset-path", self.db, "--dataset-table-name", "llmd; drop"],
             "--dataset-table-name"),
            (["--dataset-path", db_with("type.db", "CREATE TABLE llmd (id INTEGER, prompt_hash "
                                        "TEXT, gen_tokens JSON, n_gen_tokens INTEGER)")],
             "column prompt_hash has type TEXT, expected BLOB"),
            (["--dataset-path", db_with("cols.db", "CREATE TABLE llmd (id INTEGER, prompt_hash "
                                        "BLOB, gen_tokens JSON)")],
             'table "llmd" has no column n_gen_tokens'),
            (["--dataset-path", db_with("empty.db", SCHEMA.format("llmd"))], "has no records"),
            (["--dataset-path", self.db, "--mode", "echo"],
             "--dataset-path cannot be used with --mode echo"),
        ]
        for args, want in cases:
            for extra in ([], ["--dataset-in-memory"]):
                p = run_binary([SIMULATOR, "--model", M, "--port", "0"] + args + extra,
                               capture_output=True, text=True, timeout=30)
                self.assertEqual(p.returncode, 2, (args, p.stderr))
                self.assertIn(want, p.stderr, args)
                self.assertNotIn("listening", p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
