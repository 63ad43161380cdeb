"""sbert.CrossEncoder (bindings/python): predict and rank with sentence-transformers' CrossEncoder
names and results, against the golden CrossEncoder outputs of tests/data/cross-encoders, and its
refusals. Runs from the repository root; BUILD names the build directory. Works with or without
NumPy (lists without)."""
import json
import math
import os
import sys
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
import sbert  # noqa: E402
from sbert import _capi  # noqa: E402

try:
    import numpy
except ImportError:
    numpy = None

BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))
LIBRARY = os.path.join(BUILD, "libsbert.so")
DATA = os.path.join(ROOT, "tests", "data", "cross-encoders")


def model_path(name):
    return os.path.join(BUILD, "models", name + ".sbert")


def golden(name):
    with open(os.path.join(DATA, name + ".golden.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def rows_of(x):
    return x.tolist() if hasattr(x, "tolist") else x


def tanh_of_each(logits):
    return [[math.tanh(x) for x in row] for row in rows_of(logits)]


class Predict(unittest.TestCase):
    def check(self, name):
        rows = golden(name)
        with sbert.CrossEncoder(model_path(name), library=LIBRARY) as model:
            pairs = [(r["a"], r["b"]) for r in rows]
            scores = rows_of(model.predict(pairs, batch_size=8))
            logits = rows_of(model.predict(pairs, activation_fn=lambda x: x))
        flat = (lambda v: [v]) if model.num_labels == 1 else (lambda v: v)
        worst = max(abs(x - y) for s, l, r in zip(scores, logits, rows)
                    for got, want in ((flat(s), r["scores"]), (flat(l), r["logits"]))
                    for x, y in zip(got, want))
        self.assertEqual(len(scores), len(rows))
        self.assertLessEqual(worst, 1e-5)

    def test_bert_reranker_identity_activation(self):
        self.check("ce-minilm")

    def test_xlmr_reranker_sigmoid(self):
        self.check("ce-xlmr")

    def test_nli_three_labels(self):
        self.check("ce-ko-nli")

    def test_shapes_and_single_pair(self):
        with sbert.CrossEncoder(model_path("ce-ko-nli"), library=LIBRARY) as nli, \
                sbert.CrossEncoder(model_path("ce-xlmr"), library=LIBRARY) as reranker:
            self.assertEqual((nli.num_labels, nli.id2label[1], nli.activation_fn_name),
                             (3, "entailment", "identity"))
            self.assertEqual((reranker.num_labels, reranker.activation_fn_name), (1, "sigmoid"))
            self.assertIsInstance(reranker.predict(["a query", "a passage"]),
                                  float if numpy is None else numpy.float32)
            self.assertEqual(len(nli.predict(("premise", "hypothesis"))), 3)
            probs = rows_of(nli.predict([("a", "b"), ("c", "d")], apply_softmax=True))
            for row in probs:
                self.assertAlmostEqual(sum(row), 1.0, places=5)
            self.assertEqual(rows_of(nli.predict([])), [])
            if numpy is not None:
                self.assertEqual(nli.predict([("a", "b")] * 4).shape, (4, 3))
                self.assertEqual(reranker.predict([("a", "b")] * 4).shape, (4,))
                self.assertEqual(reranker.predict([("a", "b")] * 4).dtype, numpy.float32)

    def test_activation_fn_gets_the_logits_matrix(self):
        """CrossEncoder.predict calls activation_fn once on the logits [n, num_labels] (a torch
        tensor there). Seen: it was called on each logit, so torch.nn.Sigmoid() raised."""
        pairs = [("한 남자가 먹는다", "남자가 음식을 먹는다"), ("a", "b"), ("x", "y z")]
        seen = []
        def record(logits):
            seen.append((type(logits).__name__, len(logits), len(logits[0])))
            return logits
        with sbert.CrossEncoder(model_path("ce-ko-nli"), library=LIBRARY) as nli, \
                sbert.CrossEncoder(model_path("ce-minilm"), library=LIBRARY) as reranker:
            nli.predict(pairs, activation_fn=record)
            reranker.predict(pairs, activation_fn=record)
            self.assertEqual([s[1:] for s in seen], [(3, 3), (3, 1)])
            with self.assertRaises(ValueError) as cm:
                nli.predict(pairs, activation_fn=lambda m: [0.0])
            self.assertIn("[3, 3]", str(cm.exception))
            try:
                import torch
            except ImportError:
                return
            sig = rows_of(reranker.predict(pairs, activation_fn=torch.nn.Sigmoid()))
            self.assertEqual(len(sig), 3)
            logits = rows_of(reranker.predict(pairs, activation_fn=lambda m: m))
            for got, logit in zip(sig, logits):
                self.assertAlmostEqual(got, 1 / (1 + math.exp(-logit)), places=6)
            soft = rows_of(nli.predict(pairs, activation_fn=torch.nn.Softmax(dim=1)))
            for got, want in zip(soft, rows_of(nli.predict(pairs, apply_softmax=True))):
                for x, y in zip(got, want):
                    self.assertAlmostEqual(x, y, places=6)

    def test_single_pair_is_the_first_row(self):
        # Seen: predict(("a", "b")) gave a list (a float for one label) where [("a", "b")] gave an
        # array: CrossEncoder.predict gives the first row of its result, a NumPy row or scalar.
        pair = ("한 남자가 먹는다", "남자가 음식을 먹는다")
        for name, labels in (("ce-ko-nli", 3), ("ce-minilm", 1)):
            with sbert.CrossEncoder(model_path(name), library=LIBRARY) as model:
                for kwargs in ({}, {"convert_to_numpy": False}, {"apply_softmax": True},
                               {"activation_fn": tanh_of_each}):
                    one, many = model.predict(pair, **kwargs), model.predict([pair], **kwargs)
                    self.assertIs(type(one), type(many[0]), (name, kwargs))
                    self.assertEqual(rows_of(one), rows_of(many[0]), (name, kwargs))
                one = model.predict(pair)
                if numpy is None:
                    self.assertIsInstance(one, float if labels == 1 else list)
                elif labels == 1:
                    self.assertIsInstance(one, numpy.float32)
                else:
                    self.assertIsInstance(one, numpy.ndarray)
                    self.assertEqual((one.shape, one.dtype), ((labels,), numpy.float32))
                plain = model.predict(pair, convert_to_numpy=False)
                self.assertIsInstance(plain, float if labels == 1 else list)
                self.assertEqual(plain, rows_of(one))

    def test_max_length_cuts_the_pair(self):
        rows = [r for r in golden("ce-xlmr") if len(r["ids"]) > 40][:3]
        with sbert.CrossEncoder(model_path("ce-xlmr"), max_length=40, library=LIBRARY) as m, \
                sbert.CrossEncoder(model_path("ce-xlmr"), library=LIBRARY) as full:
            cut = rows_of(m.predict([(r["a"], r["b"]) for r in rows]))
            whole = rows_of(full.predict([(r["a"], r["b"]) for r in rows]))
        self.assertNotEqual(cut, whole)


class Rank(unittest.TestCase):
    def test_rank_is_predict_sorted(self):
        rows = golden("ce-minilm")
        query, docs = rows[0]["a"], [r["b"] for r in rows[:40]]
        with sbert.CrossEncoder(model_path("ce-minilm"), library=LIBRARY) as model:
            scores = rows_of(model.predict([(query, d) for d in docs]))
            hits = model.rank(query, docs, top_k=5, return_documents=True)
            every = model.rank(query, docs)
        order = sorted(range(len(docs)), key=lambda i: -scores[i])
        self.assertEqual([h["corpus_id"] for h in every], order)
        self.assertEqual([h["corpus_id"] for h in hits], order[:5])
        for h in hits:
            self.assertEqual(h["text"], docs[h["corpus_id"]])
            self.assertAlmostEqual(h["score"], scores[h["corpus_id"]], places=6)
        self.assertNotIn("text", every[0])

    def test_query_with_a_nul_is_scored_whole(self):
        # sbert_rerank reads the query up to a NUL: "a\0b" was ranked as "a". A NUL in a text is
        # text (documents and predict's pairs carry their lengths), so the query is too.
        docs = ["a b", "a", "b c", "ab"]
        with sbert.CrossEncoder(model_path("ce-minilm"), library=LIBRARY) as model:
            scores = rows_of(model.predict([("a\0b", d) for d in docs]))
            hits = model.rank("a\0b", docs)
            cut = rows_of(model.predict([("a", d) for d in docs]))
        self.assertNotEqual(scores, cut)
        self.assertEqual(len(hits), len(docs))
        for h in hits:
            self.assertAlmostEqual(h["score"], scores[h["corpus_id"]], places=6)


class Refusals(unittest.TestCase):
    def test_wrong_kind_both_ways(self):
        with self.assertRaises(sbert.SbertError) as e:
            sbert.CrossEncoder(model_path("ko-tiny"), library=LIBRARY)
        self.assertEqual(e.exception.code, _capi.SBERT_ERR_MODEL_KIND)
        self.assertIn("embedding model", str(e.exception))
        with self.assertRaises(sbert.SbertError) as e:
            sbert.Model(model_path("ce-xlmr"), library=LIBRARY)
        self.assertEqual(e.exception.code, _capi.SBERT_ERR_MODEL_KIND)
        self.assertIn("cross-encoder", str(e.exception))

    def test_bad_constructor_arguments(self):
        for kwargs, named in (({"n_threads": -1}, "from 0"), ({"n_threads": 513}, "to 512"),
                              ({"max_contexts": 0}, "max_contexts"),
                              ({"invalid_utf8": "ignore"}, "invalid_utf8")):
            with self.assertRaises(ValueError, msg=repr(kwargs)) as e:
                sbert.CrossEncoder(model_path("ce-minilm"), library=LIBRARY, **kwargs)
            self.assertIn(named, str(e.exception))

    def test_embedded_null_byte_in_path(self):
        # Seen: sbert.CrossEncoder(".../ce-minilm.sbert\0junk") loaded ce-minilm.sbert.
        with self.assertRaises(ValueError) as e:
            sbert.CrossEncoder(model_path("ce-minilm") + "\0junk", library=LIBRARY)
        self.assertIn("embedded null byte in path", str(e.exception))

    def test_flags_need_a_bool(self):
        # Seen: use_mmap="no" was accepted as true.
        for kwargs in ({"use_mmap": "no"}, {"prefault": "no"}):
            with self.assertRaises(TypeError, msg=repr(kwargs)) as e:
                sbert.CrossEncoder(model_path("ce-minilm"), library=LIBRARY, **kwargs)
            self.assertIn("%s must be a bool" % next(iter(kwargs)), str(e.exception))
        with sbert.CrossEncoder(model_path("ce-minilm"), library=LIBRARY) as model:
            for kwargs in ({"apply_softmax": "no"}, {"convert_to_numpy": "no"},
                           {"convert_to_numpy": 0}, {"show_progress_bar": "no"}):
                with self.assertRaises(TypeError, msg=repr(kwargs)) as e:
                    model.predict([("a", "b")], **kwargs)
                self.assertIn("%s must be a bool" % next(iter(kwargs)), str(e.exception))
            for kwargs in ({"return_documents": "no"}, {"show_progress_bar": 1}):
                with self.assertRaises(TypeError, msg=repr(kwargs)) as e:
                    model.rank("q", ["a"], **kwargs)
                self.assertIn("%s must be a bool" % next(iter(kwargs)), str(e.exception))

    def test_context_failure_raises_sbert_error(self):
        # was an AttributeError: the shared context code called a method only Model had
        with sbert.CrossEncoder(model_path("ce-minilm"), library=LIBRARY) as model:
            model._n_threads = 2**31 - 1
            with self.assertRaises(sbert.SbertError) as e:
                model.predict([("a", "b")])
            self.assertEqual(e.exception.code, _capi.SBERT_ERR_INVALID_ARGUMENT)
            self.assertIn("cannot create a context: n_threads is 2147483647", str(e.exception))

    def test_bad_arguments(self):
        with sbert.CrossEncoder(model_path("ce-ko-nli"), library=LIBRARY) as model:
            for bad in ("one string", [("a", 1)], [("a", "b", "c")], 42, [["a"]]):
                with self.assertRaises(TypeError):
                    model.predict(bad)
            with self.assertRaises(ValueError):
                model.rank("q", ["a", "b"])          # three labels
            for batch_size in (0, 4097):
                with self.assertRaises(ValueError):
                    model.predict([("a", "b")], batch_size=batch_size)
            with self.assertRaises(TypeError):
                model.predict([("a", "b")], activation_fn="sigmoid")
            with self.assertRaises(sbert.SbertError) as e:
                model.predict([("fine", "lone \ud800 surrogate")])
            self.assertEqual(e.exception.code, _capi.SBERT_ERR_INVALID_UTF8)
            self.assertIn("b[0]", str(e.exception))
            model.max_length = 10_000
            with self.assertRaises(sbert.SbertError) as e:
                model.predict([("a", "b")])
            self.assertEqual(e.exception.code, _capi.SBERT_ERR_INVALID_ARGUMENT)
        with sbert.CrossEncoder(model_path("ce-xlmr"), library=LIBRARY) as model:
            for bad in (dict(top_k=0), dict(top_k="3")):
                with self.assertRaises((TypeError, ValueError)):
                    model.rank("q", ["a"], **bad)
            with self.assertRaises(TypeError):
                model.rank("q", "not a list")
            with self.assertRaises(TypeError):
                model.rank(b"q", ["a"])
        with self.assertRaises(sbert.ClosedError):
            model.predict([("a", "b")])


if __name__ == "__main__":
    unittest.main()
