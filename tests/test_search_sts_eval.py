"""examples/search and examples/sts_eval: answers and correlations checked against the same
computation done independently through the Python package, the index reused and rebuilt when it
should be, the bundled model's known KorSTS score, and bad command lines. Runs from the
repository root; BUILD names the build directory, EXDIR the examples' (default examples)."""
import math
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
import sbert  # noqa: E402

BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))
EXDIR = os.path.join(ROOT, os.environ.get("EXDIR", "examples"))
SEARCH, STS_EVAL = os.path.join(EXDIR, "search"), os.path.join(EXDIR, "sts_eval")
LIBRARY = os.path.join(BUILD, "libsbert.so")
TINY = os.path.join(BUILD, "models", "ko-tiny.sbert")
TINY_F16 = os.path.join(BUILD, "models", "ko-tiny-f16.sbert")
BUNDLED = os.path.join(ROOT, "models", "ko-small-f16.sbert")
KORSTS_TEST = os.path.join(ROOT, "tests", "data", "korsts", "sts-test.tsv")
SANITIZED = os.environ.get("SBERT_SANITIZED")


def run(*args, stdin=None):
    return subprocess.run(list(args), input=stdin, capture_output=True, text=True, timeout=600)


def parse_hits(stdout):
    """{query: [(score, id, sentence), ...]} from search's output."""
    out, query = {}, None
    for line in stdout.splitlines():
        if line.startswith("query: "):
            query = line[len("query: "):]
            out[query] = []
        else:
            rank, score, rest = line.split(None, 2)
            cid, sentence = rest.split("] ", 1)
            out[query].append((float(score), int(cid.lstrip("[")), sentence))
    return out


def ranks(x):
    order = sorted(range(len(x)), key=lambda i: x[i])
    r = [0.0] * len(x)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and x[order[j + 1]] == x[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return r


def pearson(a, b):
    ma, mb = sum(a) / len(a), sum(b) / len(b)
    ab = sum((x - ma) * (y - mb) for x, y in zip(a, b))
    return ab / math.sqrt(sum((x - ma) ** 2 for x in a) * sum((y - mb) ** 2 for y in b))


def cosine(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def rows(x):
    return x.tolist() if hasattr(x, "tolist") else x


def sts_rows(path, limit=None):
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()[1:]
    out = []
    for line in lines[:limit]:
        field = line.split("\t")
        if len(field) >= 7:
            out.append((float(field[4]), field[5], field[6]))
    return out


class Search(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        # A corpus of lines: the first 300 KorSTS test sentences, each once.
        seen = []
        for _, s1, s2 in sts_rows(KORSTS_TEST, 150):
            for s in (s1, s2):
                if s not in seen:
                    seen.append(s)
        self.sentences = seen
        self.corpus = os.path.join(self.tmp, "corpus.txt")
        with open(self.corpus, "w", encoding="utf-8") as f:
            f.write("\n".join(seen) + "\n")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def test_top_k_as_semantic_search(self):
        queries = ["한 남자가 기타를 치고 있다.", "여자가 양파를 썰고 있다.", "개가 공을 쫓고 있다."]
        r = run(SEARCH, "-m", TINY, "-c", self.corpus, "-k", "5", *queries)
        self.assertEqual(r.returncode, 0, r.stderr)
        hits = parse_hits(r.stdout)
        with sbert.Model(TINY, library=LIBRARY) as model:
            corpus = rows(model.encode(self.sentences))
            for q in queries:
                v = rows(model.encode(q))
                scores = [cosine(v, c) for c in corpus]
                expected = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:5]
                got = hits[q]
                self.assertEqual(len(got), 5)
                for (score, cid, sentence), want in zip(got, expected):
                    self.assertAlmostEqual(score, scores[want], places=4)
                    self.assertAlmostEqual(scores[cid], scores[want], places=5)
                    self.assertEqual(sentence, self.sentences[cid])

    def test_options_in_any_order(self):
        q = "한 남자가 기타를 치고 있다."
        first = run(SEARCH, "-m", TINY, "-c", self.corpus, "-k", "3", "--threads", "1", q, "-x")
        self.assertEqual(first.returncode, 2)          # "-x" is an unknown option, not a query
        before = run(SEARCH, "-m", TINY, "-c", self.corpus, "-k", "3", "--threads", "1", q)
        after = run(SEARCH, q, "-k", "3", "-m", TINY, "--threads", "1", "-c", self.corpus)
        self.assertEqual(before.returncode, 0, before.stderr)
        self.assertEqual(after.stdout, before.stdout)
        self.assertEqual(list(parse_hits(after.stdout)), [q])   # the options were not queries
        dashed = run(SEARCH, "-m", TINY, "-c", self.corpus, "-k", "1", "--", "-k", q)
        self.assertEqual(list(parse_hits(dashed.stdout)), ["-k", q])  # after --, texts

    def test_index_is_reused_and_rebuilt(self):
        index = self.corpus + ".sbidx"
        q = "한 남자가 기타를 치고 있다."
        first = run(SEARCH, "-m", TINY, "-c", self.corpus, q)
        self.assertIn("embedding %d sentences" % len(self.sentences), first.stderr)
        self.assertEqual(os.path.getsize(index), 4096 + 4 * 64 * len(self.sentences))
        stamp = os.stat(index).st_mtime_ns
        again = run(SEARCH, "-m", TINY, "-c", self.corpus, q)
        self.assertIn("reused", again.stderr)
        self.assertEqual(again.stdout, first.stdout)
        self.assertEqual(os.stat(index).st_mtime_ns, stamp)
        # Another model (the same weights in f16: other vectors, same shape) -> rebuilt.
        other = run(SEARCH, "-m", TINY_F16, "-c", self.corpus, q)
        self.assertIn("embedding", other.stderr)
        # The corpus changed -> rebuilt, and the new sentence can be found.
        with open(self.corpus, "a", encoding="utf-8") as f:
            f.write("비행기가 활주로에서 이륙하고 있다.\n")
        changed = run(SEARCH, "-m", TINY_F16, "-c", self.corpus, "-k", "1",
                      "비행기가 활주로에서 이륙하고 있다.")
        self.assertIn("embedding %d sentences" % (len(self.sentences) + 1), changed.stderr)
        self.assertIn("[%d] 비행기가" % len(self.sentences), changed.stdout)
        # A damaged index (cut short) -> rebuilt, not read.
        with open(index, "r+b") as f:
            f.truncate(5000)
        damaged = run(SEARCH, "-m", TINY_F16, "-c", self.corpus, q)
        self.assertIn("embedding", damaged.stderr)
        self.assertEqual(damaged.returncode, 0)

    def test_queries_from_standard_input(self):
        r = run(SEARCH, "-m", TINY, "-c", self.corpus, "-k", "2",
                stdin="한 남자가 기타를 치고 있다.\n\n여자가 춤을 춘다.\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(parse_hits(r.stdout)), 2)

    @unittest.skipIf(SANITIZED, "the sanitized build is checked on the tiny model (minutes saved)")
    def test_korean_query_over_korsts_with_the_bundled_model(self):
        corpus = os.path.join(self.tmp, "sts-test.tsv")
        shutil.copy(KORSTS_TEST, corpus)
        r = run(SEARCH, "-m", BUNDLED, "-c", corpus, "-k", "3", "한 남자가 기타를 치고 있다.")
        self.assertEqual(r.returncode, 0, r.stderr)
        (hits,) = parse_hits(r.stdout).values()
        self.assertEqual(hits[0][2], "한 남자가 기타를 치고 있다.")
        self.assertAlmostEqual(hits[0][0], 1.0, places=4)
        self.assertTrue(all("기타" in h[2] for h in hits), hits)

    def test_bad_command_lines(self):
        cases = [
            ([SEARCH], "usage"),
            ([SEARCH, "-m", TINY], "usage"),
            ([SEARCH, "-m", TINY, "-c", self.corpus, "-k", "0", "q"], "-k"),
            ([SEARCH, "-m", TINY, "-c", self.corpus, "--bogus", "q"], "unknown option"),
            ([SEARCH, "-m", TINY, "-c", os.path.join(self.tmp, "missing.txt"), "q"], "missing.txt"),
            ([SEARCH, "-m", os.path.join(self.tmp, "missing.sbert"), "-c", self.corpus, "q"],
             "missing.sbert"),
            ([SEARCH, "-m", self.corpus, "-c", self.corpus, "q"], "search:"),
        ]
        empty = os.path.join(self.tmp, "empty.txt")
        open(empty, "w").close()
        cases.append(([SEARCH, "-m", TINY, "-c", empty, "q"], "no sentences"))
        for args, message in cases:
            r = run(*args)
            self.assertIn(r.returncode, (1, 2), args)
            self.assertIn(message, r.stderr, args)

    def corpus_of(self, data):
        path = os.path.join(self.tmp, "bad.txt")
        with open(path, "wb") as f:
            f.write(data)
        return path

    def test_bad_corpus_lines_are_named_by_line(self):
        """A corpus line the tokenizer refuses is named by its line (blank lines counted); a NUL
        byte is refused, not taken as the end of the file"""
        bad = self.corpus_of(b"ok\n\nalso ok\r\n\xff\n")
        r = run(SEARCH, "-m", TINY, "-c", bad, "q")
        self.assertEqual(r.returncode, 1)
        self.assertIn("bad.txt line 4: text is not valid UTF-8", r.stderr)
        nul = self.corpus_of(b"apple pie\nx\0hidden\nbanana bread\n")
        r = run(SEARCH, "-m", TINY, "-c", nul, "q")
        self.assertEqual(r.returncode, 1)
        self.assertIn("bad.txt: line 2 has a NUL byte", r.stderr)
        self.assertFalse(os.path.exists(nul + ".sbidx"))

    def test_unreadable_queries_and_unwritable_output(self):
        fd = os.open(self.tmp, os.O_RDONLY)  # a directory as standard input
        try:
            r = subprocess.run([SEARCH, "-m", TINY, "-c", self.corpus], stdin=fd,
                               capture_output=True, text=True)
        finally:
            os.close(fd)
        self.assertEqual(r.returncode, 1)
        self.assertIn("search: cannot read the queries: Is a directory", r.stderr)
        if not os.path.exists("/dev/full"):
            return
        for args in ([SEARCH, "-m", TINY, "-c", self.corpus, "q"], [SEARCH, "--help"],
                     [STS_EVAL, "-m", TINY, KORSTS_TEST], [STS_EVAL, "--help"]):
            with open("/dev/full", "w") as full:
                r = subprocess.run(args, stdout=full, stderr=subprocess.PIPE, text=True)
            self.assertEqual(r.returncode, 1, args)
            self.assertIn("cannot write the output: No space left on device", r.stderr, args)


class StsEval(unittest.TestCase):
    @unittest.skipIf(SANITIZED, "the sanitized build is checked on the tiny model (minutes saved)")
    def test_bundled_model_known_score(self):
        # models/ko-small-f16.sbert: KorSTS test Spearman 65.84 (tests/data/models/ko-small).
        r = run(STS_EVAL, "-m", BUNDLED, KORSTS_TEST)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("1379 pairs", r.stdout)
        self.assertIn("cosine similarity", r.stdout)
        self.assertIn("Spearman x 100: 65.84\n", r.stdout)
        self.assertEqual(r.stderr, "")  # no progress when standard error is not a terminal

    def test_correlations_against_an_independent_computation(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "sts.tsv")
            with open(KORSTS_TEST, encoding="utf-8") as f:
                lines = f.read().splitlines()[:201]
            with open(path, "w", encoding="utf-8") as f:
                f.write("\n".join(lines) + "\n")
            r = run(STS_EVAL, "-m", TINY, path)
        self.assertEqual(r.returncode, 0, r.stderr)
        data = sts_rows(KORSTS_TEST, 200)
        with sbert.Model(TINY, library=LIBRARY) as model:
            a = rows(model.encode([d[1] for d in data]))
            b = rows(model.encode([d[2] for d in data]))
        gold = [d[0] for d in data]
        sims = [cosine(x, y) for x, y in zip(a, b)]
        spearman = pearson(ranks(gold), ranks(sims))
        self.assertIn("Spearman x 100: %.2f\n" % (100 * spearman), r.stdout)
        self.assertIn("Pearson  x 100: %.2f\n" % (100 * pearson(gold, sims)), r.stdout)

    def test_bad_command_lines(self):
        with tempfile.TemporaryDirectory() as tmp:
            not_sts = os.path.join(tmp, "lines.txt")
            with open(not_sts, "w") as f:
                f.write("just\nlines\n")
            cases = [
                ([STS_EVAL], "usage"),
                ([STS_EVAL, "-m", TINY], "usage"),
                ([STS_EVAL, "-m", TINY, not_sts], "is it an STS file"),
                ([STS_EVAL, "-m", TINY, os.path.join(tmp, "missing.tsv")], "missing.tsv"),
                ([STS_EVAL, "-m", os.path.join(tmp, "missing.sbert"), KORSTS_TEST], "missing.sbert"),
                ([STS_EVAL, "-m", TINY, "--threads", "x", KORSTS_TEST], "--threads"),
                ([STS_EVAL, "-m", TINY, "--threads", "513", KORSTS_TEST],
                 "n_threads is 513: give 1 to 512"),
                ([SEARCH, "-m", TINY, "-c", KORSTS_TEST, "--threads", "513", "q"], "from 1 to 512"),
                ([STS_EVAL, "-m", TINY, "--nope", KORSTS_TEST], "unknown option"),
                ([STS_EVAL, "-m", TINY, KORSTS_TEST, KORSTS_TEST], "one STS file"),
            ]
            for args, message in cases:
                r = run(*args)
                self.assertIn(r.returncode, (1, 2), args)
                self.assertIn(message, r.stderr, args)

    def test_bad_rows_are_named_by_line(self):
        with open(KORSTS_TEST, "rb") as f:
            lines = f.read().split(b"\n")[:6]
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "sts.tsv")
            def with_sentence1_prefixed(line, prefix):
                field = line.split(b"\t")
                return b"\t".join(field[:5] + [prefix + field[5]] + field[6:])
            with open(path, "wb") as f:  # row 4 (line 5) with a sentence that is not UTF-8
                f.write(b"\n".join(lines[:4] + [with_sentence1_prefixed(lines[4], b"\xff")] +
                                   lines[5:]))
            r = run(STS_EVAL, "-m", TINY, path)
            self.assertEqual(r.returncode, 1)
            self.assertIn("sts.tsv line 5: text is not valid UTF-8", r.stderr)
            with open(path, "wb") as f:  # a NUL: everything after it was silently dropped
                f.write(b"\n".join(lines[:3] + [with_sentence1_prefixed(lines[3], b"\0")] +
                                   lines[4:]))
            r = run(STS_EVAL, "-m", TINY, path)
            self.assertEqual(r.returncode, 1)
            self.assertIn("sts.tsv: line 4 has a NUL byte", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=1)
