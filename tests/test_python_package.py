"""The Python package (bindings/python, `import sbert`): its SentenceTransformer interface against
sentence-transformers' golden vectors and definitions, its safety (types, errors, close, threads)
and its installation. Runs from the repository root; BUILD names the build directory.

It runs with or without NumPy: without, the results are lists and the NumPy-only checks are
skipped (tests/run.sh runs the suite a second time under an interpreter that has NumPy)."""
import ctypes
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
import sbert  # noqa: E402
from sbert import _capi, _quantize  # noqa: E402

try:
    import numpy
except ImportError:
    numpy = None

BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))
LIBRARY = os.path.join(BUILD, "libsbert.so")
MODEL = os.path.join(BUILD, "models", "ko-tiny.sbert")
GOLDEN = os.path.join(ROOT, "tests", "data", "golden", "ko-tiny.golden.jsonl")


def golden_rows():
    with open(GOLDEN, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    # Rows whose text is valid UTF-8 (the file also holds invalid byte sequences as surrogates).
    return [r for r in rows if not re.search("[\ud800-\udfff]", r["text"])]


def max_abs_diff(a, b):
    return max(abs(x - y) for ra, rb in zip(a, b) for x, y in zip(ra, rb))


def rows_of(x):
    return x.tolist() if hasattr(x, "tolist") else x


def st_quantize_embeddings(embeddings, precision):
    """sentence_transformers.quantization.quantize_embeddings (v3), written out from its
    definition for a float32 matrix with no ranges or calibration set given: the test's
    independent reference."""
    if precision == "float32":
        return embeddings.astype(numpy.float32)
    if precision.endswith("int8"):
        ranges = numpy.vstack((numpy.min(embeddings, axis=0), numpy.max(embeddings, axis=0)))
        starts = ranges[0, :]
        steps = (ranges[1, :] - ranges[0, :]) / 255
        if precision == "uint8":
            return ((embeddings - starts) / steps).astype(numpy.uint8)
        return ((embeddings - starts) / steps - 128).astype(numpy.int8)
    if precision == "binary":
        return (numpy.packbits(embeddings > 0).reshape(embeddings.shape[0], -1) - 128) \
            .astype(numpy.int8)
    return numpy.packbits(embeddings > 0).reshape(embeddings.shape[0], -1)


def run_python(code, env=None, cwd=None, **kw):
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-c", code], env=full_env, cwd=cwd or tempfile.gettempdir(),
                          capture_output=True, text=True, timeout=120, **kw)


class Encode(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.model = sbert.Model(MODEL, library=LIBRARY)
        cls.rows = golden_rows()
        cls.texts = [r["text"] for r in cls.rows]

    @classmethod
    def tearDownClass(cls):
        cls.model.close()

    def test_matches_sentence_transformers(self):
        vectors = self.model.encode(self.texts, batch_size=7)
        self.assertEqual(len(vectors), len(self.texts))
        self.assertLessEqual(max_abs_diff(rows_of(vectors), [r["embedding"] for r in self.rows]),
                             1e-5)

    def test_chunk(self):
        # texts that fit the window: exactly the unchunked vectors (ko-tiny: max_seq_length 128)
        plain = rows_of(self.model.encode(self.texts[:20]))
        lengths = [len(ids) for ids in self.model.tokenize(self.texts[:20])["input_ids"]]
        for chunk, window in ((128, 128), ((128, 60), 128), ((30, 0), 30)):
            fits = [i for i in range(20) if lengths[i] <= window]
            self.assertGreater(len(fits), 3)
            self.assertEqual(rows_of(self.model.encode([self.texts[i] for i in fits], chunk=chunk)),
                             [plain[i] for i in fits])
        # a text past max_seq_length is embedded whole, not cut
        long_text = " ".join(self.texts[:40])
        chunked = rows_of(self.model.encode([long_text], chunk=(64, 32)))[0]
        self.assertNotEqual(chunked, rows_of(self.model.encode([long_text]))[0])
        self.assertEqual(rows_of(self.model.encode([long_text], chunk=(64, 32)))[0], chunked)
        for bad, error in (("64", TypeError), (64.0, TypeError), ((64, 32, 1), ValueError),
                           (-1, ValueError), ((64, 100), sbert.SbertError),
                           (1000, sbert.SbertError)):
            with self.assertRaises(error, msg=repr(bad)):
                self.model.encode([long_text], chunk=bad)
        with self.assertRaises(ValueError):
            self.model.encode(long_text, chunk=64, output_value="token_embeddings")

    def test_tokenize_matches_hugging_face(self):
        batch = self.model.tokenize(self.texts[:50])
        self.assertEqual(batch["input_ids"], [r["ids"] for r in self.rows[:50]])
        self.assertEqual(batch["attention_mask"], [[1] * len(r["ids"]) for r in self.rows[:50]])
        one = self.model.tokenize(self.texts[0])
        self.assertEqual(one["input_ids"], self.rows[0]["ids"])

    def test_a_str_gives_one_vector(self):
        # Seen: 14 vectors, one per character, for model.encode("a plain string").
        v = rows_of(self.model.encode("a plain string"))
        self.assertEqual(len(v), self.model.get_sentence_embedding_dimension())
        self.assertIsInstance(v[0], float)
        m = rows_of(self.model.encode(["a plain string"]))
        self.assertEqual(len(m), 1)
        self.assertEqual(m[0], v)

    @unittest.skipIf(numpy is None, "NumPy is not installed: results are lists")
    def test_numpy_shapes(self):
        dim = self.model.get_sentence_embedding_dimension()
        self.assertEqual(self.model.encode("x").shape, (dim,))
        self.assertEqual(self.model.encode(["x", "y z"]).shape, (2, dim))
        self.assertEqual(self.model.encode(["x", "y z"]).dtype, numpy.float32)
        self.assertEqual(self.model.encode([]).shape, (0, dim))
        self.assertIsInstance(self.model.encode(["x"], convert_to_numpy=False), list)
        self.assertEqual(self.model.similarity(self.model.encode("x"), self.model.encode("x")).shape,
                         (1, 1))

    def test_empty_list(self):
        self.assertEqual(len(self.model.encode([])), 0)

    def test_normalize(self):
        for v in rows_of(self.model.encode(self.texts[:5], normalize_embeddings=True)):
            self.assertAlmostEqual(math.sqrt(sum(x * x for x in v)), 1.0, places=5)

    def test_similarity_is_the_models_cosine(self):
        # Seen: README documented a model.similarity() that did not exist.
        self.assertEqual(self.model.similarity_fn_name, "cosine")
        e = rows_of(self.model.encode(self.texts[:4]))
        sim = rows_of(self.model.similarity(e, e[:3]))
        self.assertEqual((len(sim), len(sim[0])), (4, 3))
        for i in range(4):
            for j in range(3):
                dot = sum(a * b for a, b in zip(e[i], e[j]))
                cos = dot / math.sqrt(sum(a * a for a in e[i]) * sum(b * b for b in e[j]))
                self.assertAlmostEqual(sim[i][j], cos, places=5)

    def test_prompt_is_prepended(self):
        a = rows_of(self.model.encode("남자가 먹는다", prompt="질문: "))
        b = rows_of(self.model.encode("질문: 남자가 먹는다"))
        self.assertLessEqual(max(abs(x - y) for x, y in zip(a, b)), 1e-6)
        self.assertEqual(self.model.tokenize("남자가 먹는다", prompt="질문: ")["input_ids"],
                         self.model.tokenize("질문: 남자가 먹는다")["input_ids"])

    def test_token_embeddings(self):
        text = self.texts[3]
        tokens = rows_of(self.model.encode(text, output_value="token_embeddings"))
        n = len(self.model.tokenize(text)["input_ids"])
        self.assertEqual(len(tokens), n)
        self.assertEqual(len(tokens[0]), 64)
        both = self.model.encode([text, self.texts[4]], output_value="token_embeddings")
        self.assertEqual(len(both), 2)
        self.assertEqual(rows_of(both[0]), tokens)
        # Mean pooling of the token embeddings is the sentence embedding (ko-tiny pools by mean).
        mean = [sum(col) / n for col in zip(*tokens)]
        self.assertLessEqual(max(abs(x - y) for x, y in
                                 zip(mean, rows_of(self.model.encode(text)))), 1e-5)

    def test_max_seq_length(self):
        self.assertEqual(self.model.max_seq_length, 128)
        long_text = " ".join(["한 남자가 음식을 먹고 있다."] * 10)
        full = self.model.tokenize(long_text)["input_ids"]
        model = sbert.Model(MODEL, library=LIBRARY)
        try:
            model.max_seq_length = 8
            ids = model.tokenize(long_text)["input_ids"]
            self.assertEqual(ids, full[:7] + full[-1:])
            tokens = rows_of(model.encode(long_text, output_value="token_embeddings"))
            self.assertEqual(len(tokens), 8)
            self.assertRaises(TypeError, setattr, model, "max_seq_length", "8")
            model.max_seq_length = 100000  # beyond the position table: the library says so
            with self.assertRaises(sbert.SbertError) as cm:
                model.encode(long_text)
            self.assertEqual(cm.exception.code, _capi.SBERT_ERR_INVALID_ARGUMENT)
        finally:
            model.close()

    def test_wrong_types_raise_type_error(self):
        # Seen: AttributeError for encode([1, 2]).
        for bad in ([1, 2], ["ok", None], b"bytes", None, 3.5, {"a": 1}):
            with self.assertRaises(TypeError, msg=repr(bad)):
                self.model.encode(bad)
        with self.assertRaises(TypeError):
            self.model.encode("x", batch_size="32")
        with self.assertRaises(TypeError):
            self.model.encode("x", prompt=3)
        with self.assertRaises(TypeError):
            self.model.encode("x", truncate_dim=2.5)
        with self.assertRaises(TypeError):
            self.model.encode("x", precision=8)
        with self.assertRaises(TypeError):
            self.model.tokenize(5)
        with self.assertRaises(TypeError):
            self.model.similarity("a", "b")
        with self.assertRaises(TypeError):
            sbert.Model(42, library=LIBRARY)

    def test_flags_need_a_bool(self):
        # Seen: sbert.Model(path, use_mmap="no") was accepted and mapped the file: "no" is true.
        for kwargs in ({"use_mmap": "no"}, {"prefault": "no"}, {"use_mmap": 0}, {"prefault": None}):
            name = next(iter(kwargs))
            with self.assertRaises(TypeError, msg=repr(kwargs)) as cm:
                sbert.Model(MODEL, library=LIBRARY, **kwargs)
            self.assertIn("%s must be a bool" % name, str(cm.exception))
        for kwargs in ({"normalize_embeddings": "no"}, {"normalize_embeddings": 1},
                       {"convert_to_numpy": "no"}, {"convert_to_numpy": 0},
                       {"show_progress_bar": "no"}, {"show_progress_bar": 0}):
            name = next(iter(kwargs))
            with self.assertRaises(TypeError, msg=repr(kwargs)) as cm:
                self.model.encode("x", **kwargs)
            self.assertIn("%s must be a bool" % name, str(cm.exception))
        with sbert.Model(MODEL, library=LIBRARY, use_mmap=False, prefault=False) as model:
            self.assertEqual(rows_of(model.encode("x")), rows_of(self.model.encode("x")))
        if numpy is not None:  # NumPy's bool (what comparing arrays gives) is a bool too
            self.assertEqual(
                rows_of(self.model.encode("x", normalize_embeddings=numpy.bool_(True))),
                rows_of(self.model.encode("x", normalize_embeddings=True)))

    def test_embedded_null_byte_is_refused(self):
        # Seen: sbert.Model(".../ko-small.sbert\0junk") loaded ko-small.sbert: C stops at the NUL.
        for path in (MODEL + "\0junk", os.fsencode(MODEL) + b"\0junk"):
            with self.assertRaises(ValueError, msg=repr(path)) as cm:
                sbert.Model(path, library=LIBRARY)
            self.assertIn("embedded null byte in path", str(cm.exception))
        # prompt_name and prompt go NUL-terminated too: "query\0x" would have named "query"
        for name, value in (("prompt_name", "query\0junk"), ("prompt", "질문: \0junk")):
            for call in (self.model.encode, self.model.tokenize):
                with self.assertRaises(ValueError, msg=name) as cm:
                    call("x", **{name: value})
                self.assertIn("embedded null byte in %s" % name, str(cm.exception))
        # A sentence goes with its length: a NUL in it is text (a control character the
        # normalizer drops), not its end.
        self.assertEqual(self.model.tokenize("a\0b")["input_ids"],
                         self.model.tokenize("ab")["input_ids"])
        self.assertNotEqual(self.model.tokenize("a\0b")["input_ids"],
                            self.model.tokenize("a")["input_ids"])

    def test_prompt_with_a_lone_surrogate(self):
        # Seen: encode("x", prompt_name="\ud800") raised a raw UnicodeEncodeError. The library
        # needs prompts in valid UTF-8 whatever invalid_utf8 says: a ValueError naming the argument.
        for policy in ("reject", "replace"):
            with sbert.Model(MODEL, library=LIBRARY, invalid_utf8=policy) as model:
                for name in ("prompt_name", "prompt"):
                    for call in (model.encode, model.tokenize):
                        with self.assertRaises(ValueError, msg=(policy, name)) as cm:
                            call("x", **{name: "a\ud800"})
                        self.assertNotIsInstance(cm.exception, UnicodeError)
                        self.assertEqual(str(cm.exception), "%s is not valid UTF-8: lone surrogate "
                                         "'\\ud800' at index 1" % name)

    def test_bad_values_raise_value_error(self):
        with self.assertRaises(ValueError) as cm:
            self.model.encode("x", batch_size=4097)
        self.assertIn("from 1 to 4096", str(cm.exception))
        for kwargs in ({"batch_size": 0}, {"precision": "fp16"}, {"output_value": None},
                       {"output_value": "cls"}, {"truncate_dim": 0}):
            with self.assertRaises(ValueError, msg=repr(kwargs)):
                self.model.encode("x", **kwargs)
        with self.assertRaises(ValueError):
            self.model.similarity([[1.0, 2.0]], [[1.0, 2.0, 3.0]])
        for kwargs, named in (({"n_threads": -1}, "from 0"), ({"n_threads": 513}, "to 512"),
                              ({"max_contexts": 0}, "max_contexts"),
                              ({"invalid_utf8": "ignore"}, "invalid_utf8")):
            with self.assertRaises(ValueError, msg=repr(kwargs)) as cm:
                sbert.Model(MODEL, library=LIBRARY, **kwargs)
            self.assertIn(named, str(cm.exception))

    def test_context_failure_raises_sbert_error(self):
        # what the library refuses when a context is made (past the package's own checks)
        with sbert.Model(MODEL, library=LIBRARY) as model:
            model._n_threads = 2**31 - 1
            with self.assertRaises(sbert.SbertError) as cm:
                model.encode("x")
            self.assertEqual(cm.exception.code, _capi.SBERT_ERR_INVALID_ARGUMENT)
            self.assertIn("cannot create a context: n_threads is 2147483647", str(cm.exception))

    def test_library_errors_raise_sbert_error(self):
        with self.assertRaises(sbert.SbertError) as cm:
            sbert.Model(os.path.join(ROOT, "tests", "data", "no-such-model.sbert"), library=LIBRARY)
        self.assertEqual(cm.exception.code, _capi.SBERT_ERR_IO)
        self.assertIn("no-such-model.sbert", str(cm.exception))
        with tempfile.NamedTemporaryFile(suffix=".sbert") as f:
            f.write(b"not a model at all, just text" * 10)
            f.flush()
            with self.assertRaises(sbert.SbertError) as cm:
                sbert.Model(f.name, library=LIBRARY)
            self.assertEqual(cm.exception.code, _capi.SBERT_ERR_NOT_A_MODEL)
        with self.assertRaises(sbert.SbertError) as cm:
            self.model.encode(["fine", "bad \ud800 text"])
        self.assertEqual(cm.exception.code, _capi.SBERT_ERR_INVALID_UTF8)
        lib, _ = sbert._library.load(LIBRARY)
        self.assertEqual(cm.exception.name, lib.sbert_strerror(_capi.SBERT_ERR_INVALID_UTF8).decode())
        self.assertIn("UTF-8", str(cm.exception))
        with self.assertRaises(sbert.SbertError) as cm:
            self.model.encode("x", prompt_name="no-such-prompt")
        self.assertEqual(cm.exception.code, _capi.SBERT_ERR_NOT_FOUND)
        self.assertIn("no-such-prompt", str(cm.exception))
        with self.assertRaises(sbert.SbertError) as cm:
            sbert.Model(os.path.join(BUILD, "models", "ce-minilm.sbert"), library=LIBRARY)
        self.assertEqual(cm.exception.code, _capi.SBERT_ERR_MODEL_KIND)
        self.assertIn("cross-encoder", str(cm.exception))
        # The model is still usable after a failed call.
        self.assertEqual(len(rows_of(self.model.encode("x"))), 64)

    def test_invalid_utf8_replace_policy(self):
        with sbert.Model(MODEL, library=LIBRARY, invalid_utf8="replace") as model:
            self.assertEqual(len(rows_of(model.encode("bad \ud800 text"))), 64)

    def test_use_after_close_raises(self):
        # Seen: a segfault when encode was called after close().
        model = sbert.Model(MODEL, library=LIBRARY)
        model.encode("warm a context up")
        model.close()
        self.assertTrue(model.closed)
        for call in (lambda: model.encode("x"), lambda: model.tokenize("x"),
                     lambda: model.similarity([[1.0]], [[1.0]]), lambda: model.__enter__()):
            self.assertRaises(sbert.ClosedError, call)
        self.assertTrue(issubclass(sbert.ClosedError, ValueError))
        model.close()  # a second close is harmless
        self.assertEqual(model.contexts_alive, 0)

    def test_with_closes(self):
        with sbert.Model(MODEL, library=LIBRARY) as model:
            model.encode("x")
            self.assertGreaterEqual(model.contexts_alive, 1)
        self.assertTrue(model.closed)
        self.assertRaises(sbert.ClosedError, model.encode, "x")

    def test_close_waits_for_calls_in_flight(self):
        model = sbert.Model(MODEL, library=LIBRARY, max_contexts=2)
        errors, done = [], []

        def work():
            try:
                for _ in range(20):
                    model.encode(self.texts[:20])
                    done.append(1)
            except sbert.ClosedError:
                pass  # the close came first: refused cleanly
            except Exception as e:  # anything else is a failure
                errors.append(e)

        threads = [threading.Thread(target=work) for _ in range(3)]
        for t in threads:
            t.start()
        model.close()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(model.contexts_alive, 0)

    def test_version_and_system_info(self):
        self.assertEqual(sbert.version(library=LIBRARY), _capi.VERSION_STRING)
        self.assertEqual(sbert.__version__, _capi.VERSION_STRING)
        self.assertRegex(sbert.system_info(library=LIBRARY),
                         r"^fp32: (avx512|avx2|neon|scalar), int8: (amx|avx512-vnni|avx-vnni|avx2|"
                         r"portable), threads: (yes|no)$")


def os_threads():
    return len(os.listdir("/proc/self/task"))


class Threads(unittest.TestCase):
    def test_1000_short_lived_threads_leave_a_bounded_pool(self):
        # Seen: one context (and its worker threads) per thread that ever called, until close():
        # 50 short-lived threads left 59 contexts and 60 OS threads.
        limit, n_threads = 3, 2
        model = sbert.Model(MODEL, library=LIBRARY, max_contexts=limit, n_threads=n_threads)
        texts = ["한 남자가 음식을 먹고 있다.", "짧은 문장", "고양이가 잔다"]
        expected = [rows_of(model.encode(t)) for t in texts]
        base_threads = os_threads()
        results, errors, peak = {}, [], [0]

        def work(k):
            try:
                results[k] = rows_of(model.encode(texts[k % 3]))
                peak[0] = max(peak[0], model.contexts_alive)
            except Exception as e:  # reported below
                errors.append(e)

        for wave in range(10):  # 1,000 threads, 100 alive at a time
            threads = [threading.Thread(target=work, args=(wave * 100 + i,)) for i in range(100)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        self.assertEqual(errors, [])
        self.assertEqual(len(results), 1000)
        for k, v in results.items():
            self.assertEqual(v, expected[k % 3])
        self.assertLessEqual(peak[0], limit)
        self.assertLessEqual(model.contexts_alive, limit)
        # Each context owns n_threads - 1 workers; nothing else may stay behind.
        self.assertLessEqual(os_threads(), base_threads + limit * (n_threads - 1))
        model.close()
        self.assertEqual(model.contexts_alive, 0)
        self.assertLessEqual(os_threads(), base_threads)

    def test_threads_share_one_model(self):
        model = sbert.Model(MODEL, library=LIBRARY)
        texts = [r["text"] for r in golden_rows()[:40]]
        expected = rows_of(model.encode(texts))
        results, errors = {}, []

        def work(k):
            try:
                results[k] = rows_of(model.encode(texts[k::4]))
            except Exception as e:
                errors.append(e)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        model.close()
        self.assertEqual(errors, [])
        for k in range(4):
            self.assertEqual(results[k], expected[k::4])


@unittest.skipIf(numpy is None, "NumPy is not installed: the reference definitions need it")
class PrecisionAndTruncation(unittest.TestCase):
    """precision and truncate_dim against sentence-transformers' definitions, on golden vectors."""

    @classmethod
    def setUpClass(cls):
        cls.model = sbert.Model(MODEL, library=LIBRARY)
        rows = golden_rows()
        cls.texts = [r["text"] for r in rows]
        cls.golden = numpy.array([r["embedding"] for r in rows], dtype=numpy.float32)

    @classmethod
    def tearDownClass(cls):
        cls.model.close()

    def test_quantize_embeddings_on_golden_vectors(self):
        for precision in sbert.PRECISIONS:
            expected = st_quantize_embeddings(self.golden, precision)
            got = sbert.quantize_embeddings(self.golden, precision)
            self.assertEqual(got.dtype, expected.dtype, precision)
            self.assertTrue(numpy.array_equal(got, expected), precision)
            plain = _quantize.quantize_lists(self.golden.tolist(), precision)
            self.assertEqual(plain, expected.tolist(), precision)

    def test_encode_precision(self):
        vectors = self.model.encode(self.texts)
        for precision in sbert.PRECISIONS:
            expected = st_quantize_embeddings(vectors, precision)
            got = self.model.encode(self.texts, precision=precision)
            self.assertEqual(got.dtype, expected.dtype, precision)
            self.assertTrue(numpy.array_equal(got, expected), precision)
            # Against the golden vectors themselves: libsbert's vectors differ by < 1e-5, so a
            # level moves by at most one step, and a sign bit only for a value that close to 0.
            golden_q = st_quantize_embeddings(self.golden, precision)
            if precision in ("int8", "uint8"):
                self.assertLessEqual(numpy.abs(got.astype(int) - golden_q.astype(int)).max(), 1)
            elif precision != "float32":
                flips = numpy.unpackbits(got.view(numpy.uint8) ^ golden_q.view(numpy.uint8))
                self.assertTrue(numpy.all(numpy.abs(self.golden.ravel()[flips == 1]) < 1e-5))

    def test_quantize_ranges_and_calibration(self):
        ranges = numpy.vstack((self.golden.min(axis=0) - 1, self.golden.max(axis=0) + 1))
        steps = (ranges[1] - ranges[0]) / 255
        expected = ((self.golden - ranges[0]) / steps).astype(numpy.uint8)
        self.assertTrue(numpy.array_equal(
            sbert.quantize_embeddings(self.golden, "uint8", ranges=ranges), expected))
        self.assertEqual(_quantize.quantize_lists(self.golden.tolist(), "uint8",
                                                  ranges=ranges.tolist()), expected.tolist())
        calibrated = sbert.quantize_embeddings(self.golden[:3], "int8",
                                               calibration_embeddings=self.golden)
        self.assertTrue(numpy.array_equal(calibrated, st_quantize_embeddings(self.golden,
                                                                             "int8")[:3]))
        self.assertRaises(TypeError, sbert.quantize_embeddings,
                          st_quantize_embeddings(self.golden, "int8"), "int8")

    def test_truncate_dim(self):
        for k in (1, 16, 63, 64, 100):
            got = self.model.encode(self.texts, truncate_dim=k)
            self.assertEqual(got.shape, (len(self.texts), min(k, 64)))
            self.assertLessEqual(numpy.abs(got - self.golden[:, :k]).max(), 1e-5)
            normalized = self.model.encode(self.texts, truncate_dim=k, normalize_embeddings=True)
            cut = self.golden[:, :k].astype(numpy.float64)
            reference = cut / numpy.maximum(numpy.linalg.norm(cut, axis=1, keepdims=True), 1e-12)
            self.assertLessEqual(numpy.abs(normalized - reference).max(), 2e-5)
        # Truncated first, then quantized, as SentenceTransformer.encode does.
        got = self.model.encode(self.texts, truncate_dim=16, precision="ubinary")
        self.assertTrue(numpy.array_equal(
            got, st_quantize_embeddings(self.model.encode(self.texts)[:, :16], "ubinary")))

    def test_model_truncate_dim(self):
        with sbert.Model(MODEL, library=LIBRARY, truncate_dim=32) as model:
            self.assertEqual(model.get_sentence_embedding_dimension(), 32)
            self.assertEqual(model.encode("x").shape, (32,))
            self.assertEqual(model.encode("x", truncate_dim=8).shape, (8,))


def converted_ko_tiny(tmp, name, st_config, **pooling):
    """tmp/name.sbert: ko-tiny with config_sentence_transformers.json = st_config and the keys
    `pooling` set in its 1_Pooling/config.json, converted."""
    hf = os.path.join(tmp, name)
    shutil.copytree(os.path.join(ROOT, "tests", "data", "models", "ko-tiny"), hf,
                    ignore=shutil.ignore_patterns("pytorch_model.bin"))
    with open(os.path.join(hf, "config_sentence_transformers.json"), "w") as f:
        json.dump(st_config, f)
    pooling_path = os.path.join(hf, "1_Pooling", "config.json")
    with open(pooling_path) as f:
        config = json.load(f)
    with open(pooling_path, "w") as f:
        json.dump({**config, **pooling}, f)
    path = os.path.join(tmp, name + ".sbert")
    subprocess.run([sys.executable, os.path.join(ROOT, "tools", "convert_safetensors.py"), hf,
                    path, "--quiet"], check=True)
    return path


class ModelFileSettings(unittest.TestCase):
    """The similarity function and the prompts come from the model file."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp()
        cls.path = converted_ko_tiny(cls.tmp, "ko-tiny-dot", {"similarity_fn_name": "dot",
                                                              "prompts": {"query": "질문: "}})

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def test_dot_similarity_and_prompt(self):
        with sbert.Model(self.path, library=LIBRARY) as model:
            self.assertEqual(model.similarity_fn_name, "dot")
            self.assertEqual(model.prompts, {"query": "질문: "})
            e = rows_of(model.encode(["한 남자가 먹는다", "여자가 말한다"]))
            sim = rows_of(model.similarity(e, e))
            for i in range(2):
                for j in range(2):
                    dot = sum(a * b for a, b in zip(e[i], e[j]))
                    self.assertAlmostEqual(sim[i][j], dot, delta=1e-4 * abs(dot))
            by_name = rows_of(model.encode("남자", prompt_name="query"))
            literal = rows_of(model.encode("남자", prompt="질문: "))
            self.assertEqual(by_name, literal)
            model.similarity_fn_name = "manhattan"
            d = rows_of(model.similarity(e[0], e[1]))[0][0]
            self.assertAlmostEqual(d, -sum(abs(a - b) for a, b in zip(e[0], e[1])), places=3)
            self.assertRaises(ValueError, setattr, model, "similarity_fn_name", "jaccard")


class PromptLeftOutOfPooling(unittest.TestCase):
    """A model whose Pooling has include_prompt false and whose default prompt is "query" (as
    INSTRUCTOR-style and some e5 fine-tunes have): sentence-transformers pools only the tokens after
    the prompt's (attention_mask[:, :prompt_length] = 0, prompt_length = the prompt's ids less the
    closing special token). The expectation is computed here from the token embeddings."""

    PROMPT = "질문: "

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp()
        cls.path = converted_ko_tiny(
            cls.tmp, "ko-tiny-prompt", {"prompts": {"query": cls.PROMPT},
                                        "default_prompt_name": "query"}, include_prompt=False)
        cls.model = sbert.Model(cls.path, library=LIBRARY)

    @classmethod
    def tearDownClass(cls):
        cls.model.close()
        shutil.rmtree(cls.tmp)

    def test_mean_of_the_tokens_after_the_prompt(self):
        model = self.model
        skip = len(model.tokenize(self.PROMPT, prompt="")["input_ids"]) - 1
        self.assertGreater(skip, 1)
        for text in ("한 남자가 음식을 먹는다.", "x"):
            tokens = rows_of(model.encode(text, output_value="token_embeddings"))
            self.assertEqual(len(tokens), len(model.tokenize(text)["input_ids"]))  # prompt's too
            kept = tokens[skip:]
            want = [sum(col) / len(kept) for col in zip(*kept)]
            got = rows_of(model.encode(text))
            self.assertLess(max(abs(a - b) for a, b in zip(got, want)), 1e-6, text)
            # an explicit prompt "" pools every token
            every = rows_of(model.encode(text, prompt=""))
            tokens = rows_of(model.encode(text, prompt="", output_value="token_embeddings"))
            want = [sum(col) / len(tokens) for col in zip(*tokens)]
            self.assertLess(max(abs(a - b) for a, b in zip(every, want)), 1e-6, text)

    def test_prompt_longer_than_max_seq_length(self):
        """The prompt's count is truncated as any text is: sentence-transformers then pools the
        last token alone (libsbert gave a vector of zeros)."""
        model = self.model
        prompt_ids = len(model.tokenize(self.PROMPT, prompt="")["input_ids"])
        before = model.max_seq_length
        model.max_seq_length = prompt_ids - 1
        try:
            tokens = rows_of(model.encode("한 남자가", output_value="token_embeddings"))
            self.assertEqual(len(tokens), prompt_ids - 1)
            got = rows_of(model.encode("한 남자가"))
        finally:
            model.max_seq_length = before
        self.assertLess(max(abs(a - b) for a, b in zip(got, tokens[-1])), 1e-6)

    def test_from_ids_equals_encode_and_no_stale_message(self):
        """sbert.h: sbert_encode of a text equals sbert_encode_from_ids of sbert_encode_ids's ids
        (with the same options); seen: from_ids pooled the prompt too (max diff 0.098), and a
        successful sbert_encode left "4 ids do not fit in a buffer of 0" as the context's message."""
        model, lib = self.model, self.model._lib
        dim = model.get_sentence_embedding_dimension()
        with model._open_pool().context(32) as ctx:
            for prompt in (None, self.PROMPT, ""):
                opts = model._options(None, prompt, False)
                text = "한 남자가 음식을 먹는다.".encode()
                texts = (ctypes.c_char_p * 1)(text)
                lens = (ctypes.c_size_t * 1)(len(text))
                a, b = (ctypes.c_float * dim)(), (ctypes.c_float * dim)()
                rc = lib.sbert_encode(ctx, texts, lens, 1, ctypes.byref(opts), a, dim)
                self.assertEqual(rc, 0)
                self.assertEqual(lib.sbert_context_errmsg(ctx), b"")
                ids = model._encode_ids(ctx, text, opts)
                rc = lib.sbert_encode_from_ids(ctx, (ctypes.c_int32 * len(ids))(*ids), len(ids),
                                               ctypes.byref(opts), b, dim)
                self.assertEqual(rc, 0)
                self.assertEqual(list(a), list(b), prompt)


class ApiConstants(unittest.TestCase):
    """_capi.py against include/sbert.h: values, struct fields, every SBERT_API function."""

    @classmethod
    def setUpClass(cls):
        with open(os.path.join(ROOT, "include", "sbert.h"), encoding="utf-8") as f:
            cls.header = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)

    def test_enum_values(self):
        names = re.findall(r"^\s*(SBERT_[A-Z0-9_]+)\s*=\s*(-?\d+)\s*,", self.header, re.M)
        self.assertGreater(len(names), 20)
        for name, value in names:
            self.assertEqual(getattr(_capi, name), int(value), name)

    def test_defines(self):
        for name in ("SBERT_MAX_BATCH_SIZE", "SBERT_MAX_THREADS"):
            value = re.search(r"#define %s (\d+)" % name, self.header).group(1)
            self.assertEqual(getattr(_capi, name), int(value), name)

    def test_version(self):
        for part in ("MAJOR", "MINOR", "PATCH"):
            value = re.search(r"#define SBERT_VERSION_%s (\d+)" % part, self.header).group(1)
            self.assertEqual(getattr(_capi, "VERSION_" + part), int(value))

    def test_struct_fields(self):
        for c_name, py in (("sbert_model_params", _capi.ModelParams),
                           ("sbert_context_params", _capi.ContextParams),
                           ("sbert_encode_options", _capi.EncodeOptions),
                           ("sbert_rerank_options", _capi.RerankOptions)):
            body = re.search(r"typedef struct %s \{(.*?)\} %s;" % (c_name, c_name), self.header,
                             re.S).group(1)
            fields = re.findall(r"(\w+)\s*;", body)
            self.assertEqual([f[0] for f in py._fields_], fields, c_name)

    def test_every_function_is_bound(self):
        functions = set(re.findall(r"SBERT_API[^;(]*?\b(sbert_\w+)\s*\(", self.header))
        self.assertEqual(functions, set(_capi.SIGNATURES))

    def test_struct_defaults_come_from_the_library(self):
        lib, _ = sbert._library.load(LIBRARY)
        self.assertEqual(lib.sbert_context_default_params().batch_size, 32)
        self.assertEqual(lib.sbert_model_default_params().use_mmap, 1)
        self.assertEqual(lib.sbert_encode_default_options().max_length, 0)


class LibraryLookup(unittest.TestCase):
    def test_import_needs_no_library_and_a_miss_says_what_to_run(self):
        # Seen: import failed with a bare OSError naming build/libsbert.so.
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copytree(os.path.join(ROOT, "bindings", "python", "sbert"),
                            os.path.join(tmp, "sbert"),
                            ignore=shutil.ignore_patterns("*.so", "__pycache__"))
            r = run_python("import sbert\ntry:\n    sbert.Model('m.sbert')\n"
                           "except sbert.LibraryNotFoundError as e:\n    print(e)\n",
                           env={"PYTHONPATH": tmp, "SBERT_LIBRARY": "", "LD_LIBRARY_PATH": ""})
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("package folder", r.stdout)
            self.assertIn("build folder", r.stdout)
            self.assertIn("make", r.stdout)
            self.assertIn("SBERT_LIBRARY", r.stdout)

    def test_sbert_library_variable(self):
        r = run_python("import sbert; print(sbert.library_path())",
                       env={"PYTHONPATH": os.path.join(ROOT, "bindings", "python"),
                            "SBERT_LIBRARY": LIBRARY})
        self.assertEqual(r.stdout.strip(), LIBRARY, r.stderr)
        r = run_python("import sbert\ntry:\n    sbert.Model('m.sbert')\n"
                       "except sbert.LibraryNotFoundError as e:\n    print(e)\n",
                       env={"PYTHONPATH": os.path.join(ROOT, "bindings", "python"),
                            "SBERT_LIBRARY": "/nonexistent/libsbert.so"})
        self.assertIn("SBERT_LIBRARY: /nonexistent/libsbert.so (no such file)", r.stdout, r.stderr)

    @unittest.skipUnless(os.path.exists(os.path.join(ROOT, "build", "libsbert.so")),
                         "no build/libsbert.so: this run tests another build folder (make first)")
    def test_build_folder_is_found(self):
        r = run_python("import sbert; print(sbert.library_path())",
                       env={"PYTHONPATH": os.path.join(ROOT, "bindings", "python"),
                            "SBERT_LIBRARY": ""})
        self.assertEqual(os.path.realpath(r.stdout.strip()),
                         os.path.realpath(os.path.join(ROOT, "build", "libsbert.so")), r.stderr)

    @unittest.skipIf(shutil.which(os.environ.get("CC", "cc")) is None, "no C compiler")
    def test_version_mismatch_is_refused(self):
        # another major version; before 1.0 also another minor, older or newer (its API differs)
        versions = ["9.0.0"]
        if _capi.VERSION_MAJOR == 0:
            versions += ["0.%d.0" % (_capi.VERSION_MINOR + 1)]
            versions += ["0.%d.0" % (_capi.VERSION_MINOR - 1)] if _capi.VERSION_MINOR else []
        for version in versions:
            with tempfile.TemporaryDirectory() as tmp:
                src, lib = os.path.join(tmp, "v.c"), os.path.join(tmp, "libsbert.so")
                with open(src, "w") as f:
                    f.write('const char *sbert_version(void) { return "%s"; }\n' % version)
                subprocess.run([os.environ.get("CC", "cc"), "-shared", "-fPIC", src, "-o", lib],
                               check=True)
                with self.assertRaises(sbert.LibraryNotFoundError, msg=version) as cm:
                    sbert.Model(MODEL, library=lib)
                self.assertIn(version, str(cm.exception))
                self.assertIn("needs %d.%d" % (_capi.VERSION_MAJOR, _capi.VERSION_MINOR),
                              str(cm.exception))


class Progress(unittest.TestCase):
    CODE = ("import sbert; m = sbert.Model(%r); m.encode(['문장 %%d' %% i for i in range(100)], "
            "batch_size=10); print('done')" % MODEL)

    def test_no_progress_when_not_a_terminal(self):
        r = run_python(self.CODE, env={"PYTHONPATH": os.path.join(ROOT, "bindings", "python"),
                                       "SBERT_LIBRARY": LIBRARY})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")

    def test_progress_on_a_terminal(self):
        import pty
        master, slave = pty.openpty()
        try:
            r = subprocess.run(
                [sys.executable, "-c", self.CODE], stdout=subprocess.PIPE, stderr=slave,
                env=dict(os.environ, PYTHONPATH=os.path.join(ROOT, "bindings", "python"),
                         SBERT_LIBRARY=LIBRARY),
                timeout=120)
            os.close(slave)
            slave = None
            out = b""
            while True:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
        finally:
            if slave is not None:
                os.close(slave)
            os.close(master)
        self.assertEqual(r.returncode, 0)
        self.assertIn(b"100/100 texts", out)


class PipInstall(unittest.TestCase):
    def test_pip_install_then_encode_outside_the_tree(self):
        probe = run_python("import setuptools, wheel, pip")
        if probe.returncode != 0:
            self.skipTest("%s has no pip/setuptools/wheel (Debian: apt-get install python3-pip "
                          "python3-setuptools python3-wheel)" % sys.executable)
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "src")
            # A copy, so that the checkout gets no build/ or .egg-info from setuptools.
            shutil.copytree(os.path.join(ROOT, "bindings", "python"), src,
                            ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__",
                                                          "*.so"))
            target = os.path.join(tmp, "site")
            r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation",
                                "--no-index", "--no-deps", "--target", target, src],
                               env=dict(os.environ, SBERT_LIBRARY=LIBRARY,
                                        PIP_DISABLE_PIP_VERSION_CHECK="1"),
                               capture_output=True, text=True, timeout=300)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertTrue(os.path.exists(os.path.join(target, "sbert", "libsbert.so")))
            code = ("import sbert, json; m = sbert.Model(%r); v = m.encode('한 남자가 음식을 먹고 있다.');"
                    "print(json.dumps([sbert.library_path(), [float(x) for x in v]]))" % MODEL)
            run = run_python(code, env={"PYTHONPATH": target, "SBERT_LIBRARY": ""}, cwd=tmp)
            self.assertEqual(run.returncode, 0, run.stderr)
            path, vector = json.loads(run.stdout)
            self.assertEqual(os.path.dirname(path), os.path.join(target, "sbert"))
            with sbert.Model(MODEL, library=LIBRARY) as model:
                self.assertEqual(vector, [float(x) for x in model.encode("한 남자가 음식을 먹고 있다.")])


if __name__ == "__main__":
    unittest.main(verbosity=1)
