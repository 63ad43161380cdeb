"""examples/rerank, the reranker on the command line: query mode (input order, --top-k, tsv and
json), --pairs mode, options in any order, and the errors of bad input. Scores are checked
against the golden sentence-transformers CrossEncoder output (tests/data/cross-encoders), so the
formats are tested for content. RERANK names the binary, BUILD the build directory."""
import json
import os
import subprocess
import unittest

BUILD = os.environ.get("BUILD", "build")
RERANK = os.environ.get("RERANK", "examples/rerank")
DATA = os.path.join("tests", "data", "cross-encoders")


def model(name):
    return os.path.join(BUILD, "models", name + ".sbert")


def golden(name):
    with open(os.path.join(DATA, name + ".golden.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def run(args, stdin=b""):
    return subprocess.run([RERANK] + args, input=stdin, capture_output=True)


class QueryMode(unittest.TestCase):
    rows = golden("ce-xlmr")

    def setUp(self):
        # the golden rows pair different texts: the expected scores of (a0, b_i) come from
        # --pairs, which PairsMode holds to the golden rows
        self.query = self.rows[0]["a"]
        self.docs = [r["b"] for r in self.rows[:30] if "\n" not in r["b"] and "\r" not in r["b"]]
        pairs = "".join(json.dumps({"a": self.query, "b": d}) + "\n" for d in self.docs)
        out = run(["-m", model("ce-xlmr"), "--pairs"], pairs.encode())
        self.assertEqual(out.returncode, 0, out.stderr)
        self.expected = [json.loads(line)["scores"][0] for line in out.stdout.decode().splitlines()]

    def test_tsv_in_input_order(self):
        stdin = "".join(d + "\n" for d in self.docs).encode()
        out = run(["-m", model("ce-xlmr"), self.query], stdin)
        self.assertEqual(out.returncode, 0, out.stderr)
        lines = out.stdout.decode().split("\n")[:-1]
        self.assertEqual([int(l.split("\t")[0]) for l in lines], list(range(len(self.docs))))
        self.assertEqual([l.split("\t", 2)[2] for l in lines], self.docs)
        for line, want in zip(lines, self.expected):
            self.assertAlmostEqual(float(line.split("\t")[1]), want, delta=1e-6)

    def test_top_k_json_any_option_order(self):
        stdin = "".join(d + "\n" for d in self.docs).encode()
        out = run(["--format", "json", self.query, "--top-k", "5", "-m", model("ce-xlmr")], stdin)
        self.assertEqual(out.returncode, 0, out.stderr)
        got = [json.loads(line) for line in out.stdout.decode().splitlines()]
        best = sorted(range(len(self.docs)), key=lambda i: -self.expected[i])[:5]
        self.assertEqual([g["corpus_id"] for g in got], best)
        self.assertEqual([g["text"] for g in got], [self.docs[i] for i in best])
        scores = [g["score"] for g in got]
        self.assertEqual(scores, sorted(scores, reverse=True))


class PairsMode(unittest.TestCase):
    def check(self, name):
        rows = golden(name)
        stdin = "".join(json.dumps({"a": r["a"], "b": r["b"]}) + "\n" for r in rows).encode()
        out = run(["-m", model(name), "--pairs"], stdin)
        self.assertEqual(out.returncode, 0, out.stderr)
        got = [json.loads(line) for line in out.stdout.decode().splitlines()]
        self.assertEqual(len(got), len(rows))
        worst = max(abs(x - y) for g, r in zip(got, rows)
                    for key in ("logits", "scores") for x, y in zip(g[key], r[key]))
        self.assertLessEqual(worst, 1e-5)

    def test_every_golden_row_of_the_nli_model(self):
        self.check("ce-ko-nli")

    def test_every_golden_row_of_the_bert_reranker(self):
        self.check("ce-minilm")


class Errors(unittest.TestCase):
    def refused(self, args, stdin, code, *words):
        out = run(args, stdin)
        self.assertEqual(out.returncode, code, out.stderr)
        self.assertEqual(out.stdout, b"")
        err = out.stderr.decode()
        self.assertTrue(err.startswith("rerank: ") and err.count("\n") == 1, err)
        for w in words:
            self.assertIn(w, err)

    def test_usage_errors(self):
        m = model("ce-xlmr")
        self.refused([m], b"", 2, "no model given")
        self.refused(["-m", m], b"", 2, "exactly one QUERY")
        self.refused(["-m", m, "a", "b"], b"", 2, "exactly one QUERY")
        self.refused(["-m", m, "--top-k", "0", "q"], b"", 2, "positive whole number")
        self.refused(["-m", m, "--top-k", "-3", "q"], b"", 2, "positive whole number")
        self.refused(["-m", m, "--format", "xml", "q"], b"", 2, "tsv or json")
        self.refused(["-m", m, "--pairs", "q"], b"", 2, "takes no QUERY")
        self.refused(["-m", m, "--pairs", "--top-k", "3"], b"", 2, "not to --pairs")
        self.refused(["-m", m, "--bogus", "q"], b"", 2, "unknown option --bogus")
        self.refused(["-m", m, "q", "--threads"], b"", 2, "needs a value")
        self.refused(["-m", m, "q", "--threads", "513"], b"", 2, "at most 512")
        self.refused(["-m", m, "q", "--bogus"], b"", 2, "unknown option --bogus")
        self.refused(["-m", m, "--top-k", "2", "q", "--top-k", "1"], b"", 2, "--top-k is given twice")
        self.refused(["-m", m, "q", "--model", m], b"", 2, "--model is given twice")
        self.refused(["-m", m, "--pairs", "--pairs"], b"", 2, "--pairs is given twice")

    def test_crlf_documents(self):
        """Windows line ends: the \r is not part of a document (as in encode and search)"""
        m = model("ce-xlmr")
        lf = run(["-m", m, "--format", "json", "q"], b"alpha\nbeta\n")
        crlf = run(["-m", m, "--format", "json", "q"], b"alpha\r\nbeta\r\n")
        self.assertEqual(crlf.returncode, 0, crlf.stderr)
        self.assertEqual(crlf.stdout, lf.stdout)
        self.assertEqual([json.loads(line)["text"] for line in crlf.stdout.decode().splitlines()],
                         ["alpha", "beta"])

    def test_unreadable_input_is_an_error(self):
        m = model("ce-xlmr")
        for args in (["-m", m, "q"], ["-m", m, "--pairs"]):
            fd = os.open(".", os.O_RDONLY)  # a directory as standard input
            try:
                out = subprocess.run([RERANK] + args, stdin=fd, capture_output=True)
            finally:
                os.close(fd)
            self.assertEqual((out.returncode, out.stdout), (1, b""), args)
            self.assertIn(b"rerank: cannot read the input: Is a directory", out.stderr)

    @unittest.skipUnless(os.path.exists("/dev/full"), "no /dev/full here")
    def test_unwritable_output_is_an_error(self):
        m = model("ce-xlmr")
        for args, stdin in ((["-m", m, "q"], b"x\n"), (["-m", m, "--pairs"], b'{"a": "x", "b": "y"}\n'),
                            (["--version"], b""), (["--help"], b"")):
            with open("/dev/full", "wb") as full:
                out = subprocess.run([RERANK] + args, input=stdin, stdout=full, stderr=subprocess.PIPE)
            self.assertEqual(out.returncode, 1, args)
            self.assertIn(b"rerank: cannot write the output: No space left on device", out.stderr)

    def test_wrong_models(self):
        self.refused(["-m", model("ko-tiny"), "q"], b"x\n", 1, "embedding model")
        self.refused(["-m", model("ce-ko-nli"), "q"], b"x\n", 1, "3 labels", "--pairs")
        self.refused(["-m", "/nonexistent.sbert", "q"], b"x\n", 1, "cannot load")

    def test_bad_input(self):
        m = model("ce-xlmr")
        self.refused(["-m", m, "q"], b"fine\ncaf\xc3\n", 1, "docs[1]", "UTF-8")
        self.refused(["-m", m, b"caf\xc3"], b"x\n", 1, "the query", "UTF-8")
        self.refused(["-m", m, "--pairs"], b'{"a": "x", "b": "y"}\n{"a": 1, "b": "y"}\n', 1,
                     "line 2", '"a" and "b"')
        self.refused(["-m", m, "--pairs"], b'{"a": "x"}\n', 1, "line 1")
        self.refused(["-m", m, "--pairs"], b'not json\n', 1, "line 1", "not JSON")
        self.refused(["-m", m, "--pairs"], b'{"a": "x", "b": "y"} extra\n', 1, "line 1", "not JSON")
        self.refused(["-m", m, "--pairs"], b'{"a": "\\ud800", "b": "y"}\n', 1, "line 1", "surrogate")
        self.refused(["-m", m, "--max-length", "600", "q"], b"x\n", 1, "max_length 600")

    def test_no_documents_is_no_output(self):
        out = run(["-m", model("ce-xlmr"), "q"], b"")
        self.assertEqual((out.returncode, out.stdout, out.stderr), (0, b"", b""))


if __name__ == "__main__":
    unittest.main()
