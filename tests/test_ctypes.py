"""The Python ctypes binding (examples/python/sbert.py) against the golden sentence-transformers
vectors, plus its error path and a threaded run. Runs from the repository root; BUILD names the
build directory (default build)."""
import json
import math
import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples", "python"))
import sbert  # noqa: E402

BUILD = os.environ.get("BUILD", "build")
LIBRARY = os.path.join(BUILD, "libsbert.so")
MODEL = os.path.join(BUILD, "models", "ko-tiny.sbert")
GOLDEN = os.path.join("tests", "data", "golden", "ko-tiny.golden.jsonl")


def golden_rows():
    with open(GOLDEN, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@unittest.skipIf(os.environ.get("SBERT_SANITIZED"), "a sanitized .so cannot be loaded by python")
class CtypesBinding(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.model = sbert.Model(MODEL, library=LIBRARY)
        cls.rows = golden_rows()

    def test_matches_sentence_transformers(self):
        texts = [r["text"].encode("utf-8", "surrogatepass").decode("utf-8", "replace")
                 for r in self.rows]
        vectors = self.model.encode(texts)
        worst = max(abs(a - b) for v, r in zip(vectors, self.rows)
                    for a, b in zip(v, r["embedding"]))
        self.assertLessEqual(worst, 1e-5)

    def test_tokenize_matches_hugging_face(self):
        for r in self.rows[:50]:
            self.assertEqual(self.model.tokenize(r["text"]), r["ids"], r["text"])

    def test_normalize(self):
        (v,) = self.model.encode(["한 남자가 음식을 먹고 있다."], normalize=True)
        self.assertAlmostEqual(math.sqrt(sum(x * x for x in v)), 1.0, places=5)

    def test_empty_list(self):
        self.assertEqual(self.model.encode([]), [])

    def test_version_and_system_info(self):
        self.assertRegex(sbert.version(library=LIBRARY), r"^\d+\.\d+\.\d+$")
        self.assertRegex(sbert.system_info(library=LIBRARY),
                         r"^fp32: (avx512|avx2|neon|scalar), int8: (avx512-vnni|avx-vnni|avx2|portable), "
                         r"threads: (yes|no)$")

    def test_missing_file_raises_with_message(self):
        with self.assertRaises(sbert.SbertError) as cm:
            sbert.Model("tests/data/no-such-model.sbert", library=LIBRARY)
        self.assertEqual(cm.exception.code, -2)  # SBERT_ERR_IO
        self.assertIn("no-such-model.sbert", str(cm.exception))

    def test_threads_share_one_model(self):
        texts = [r["text"] for r in self.rows[:40]]
        expected = self.model.encode(texts)
        results, errors = {}, []

        def work(k):
            try:
                results[k] = self.model.encode(texts[k::4])
            except Exception as e:  # reported below, not swallowed
                errors.append(e)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        for k in range(4):
            self.assertEqual(results[k], expected[k::4])


if __name__ == "__main__":
    unittest.main(verbosity=1)
