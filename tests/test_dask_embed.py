"""examples/dask_embed.py on a local Dask cluster of 2 worker processes, one of which is killed in
the middle of a partition: every partition is still written, and the output equals the
single-process run bit for bit. Needs an interpreter with Dask distributed and NumPy (Debian:
python3-distributed, python3-numpy): $PYTHON if it has them, else /usr/bin/python3; without one
it prints SKIP and exits 77 (tests/run.sh lists it as skipped)."""
import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))
MODEL = os.path.join(BUILD, "models", "ko-tiny.sbert")
SCRIPT = os.path.join(ROOT, "examples", "dask_embed.py")
PROBE = "import distributed, numpy"


def interpreter():
    for candidate in (sys.executable, "/usr/bin/python3"):
        if shutil.which(candidate) and subprocess.run([candidate, "-c", PROBE],
                                                      capture_output=True).returncode == 0:
            return candidate
    return None


PYTHON = interpreter()


def embed(corpus, out, *args):
    env = dict(os.environ, SBERT_LIBRARY=os.path.join(BUILD, "libsbert.so"))
    return subprocess.run([PYTHON, SCRIPT, MODEL, corpus, out] + list(args), capture_output=True,
                          text=True, timeout=600, env=env, cwd=tempfile.gettempdir())


def parts(folder):
    return sorted(n for n in os.listdir(folder) if n.startswith("part-"))


class DaskEmbed(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp()
        cls.corpus = os.path.join(cls.tmp, "corpus.txt")
        with open(os.path.join(ROOT, "tests", "data", "korsts", "sts-dev.tsv"),
                  encoding="utf-8") as f:
            rows = [line.split("\t") for line in f.read().splitlines()[1:121]]
        with open(cls.corpus, "w", encoding="utf-8") as f:
            f.write("".join("%s\n%s\n" % (r[5], r[6]) for r in rows))  # 240 sentences
        cls.single = os.path.join(cls.tmp, "single")
        r = embed(cls.corpus, cls.single, "--partition-size", "60", "--single-process")
        assert r.returncode == 0, r.stderr

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def test_single_process_output(self):
        with open(os.path.join(self.single, "manifest.json"), encoding="utf-8") as f:
            manifest = json.load(f)
        self.assertEqual(manifest["sentences"], 240)
        self.assertEqual([p["file"] for p in manifest["partitions"]], parts(self.single))
        self.assertEqual(len(manifest["partitions"]), 4)
        with open(os.path.join(self.single, "part-00000.npy"), "rb") as f:
            data = f.read()
        self.assertEqual(data[:8], b"\x93NUMPY\x01\x00")
        header_len = int.from_bytes(data[8:10], "little")
        header = ast.literal_eval(data[10:10 + header_len].decode("latin-1"))
        self.assertEqual(header, {"descr": "<f4", "fortran_order": False, "shape": (60, 64)})
        self.assertEqual(len(data), 10 + header_len + 60 * 64 * 4)

    def test_killed_worker_loses_nothing_and_output_is_bit_for_bit(self):
        out = os.path.join(self.tmp, "dask")
        r = embed(self.corpus, out, "--partition-size", "60", "--workers", "2",
                  "--kill-once", "1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("kills itself in partition 1", r.stderr)
        with open(os.path.join(out, "killed-worker.pid")) as f:
            killed = int(f.read())
        with self.assertRaises(ProcessLookupError):
            os.kill(killed, 0)  # the worker really died
        with open(os.path.join(out, "manifest.json"), encoding="utf-8") as f:
            manifest = json.load(f)
        self.assertEqual(manifest["run"]["mode"], "dask")
        self.assertEqual(manifest["run"]["workers"], 2)
        self.assertNotEqual(manifest["partitions"][1]["pid"], killed)
        self.assertEqual(parts(out), parts(self.single))
        for name in parts(out):
            with open(os.path.join(out, name), "rb") as a, \
                    open(os.path.join(self.single, name), "rb") as b:
                self.assertEqual(a.read(), b.read(), name)
        with open(os.path.join(self.single, "manifest.json"), encoding="utf-8") as f:
            single = json.load(f)
        self.assertEqual([p["sha256"] for p in manifest["partitions"]],
                         [p["sha256"] for p in single["partitions"]])
        self.assertFalse([n for n in os.listdir(out) if ".tmp." in n])

    def test_invalid_utf8_names_the_file_and_line(self):
        # Seen: a corpus with a byte 0xFF ended in a UnicodeDecodeError traceback.
        bad = os.path.join(self.tmp, "bad.txt")
        with open(bad, "wb") as f:
            f.write(b"a\n\xff\n")
        out = os.path.join(self.tmp, "bad-out")
        for mode in (["--single-process"], ["--workers", "1"]):
            r = embed(bad, out, *mode)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("dask_embed: %s: line 2: text is not valid UTF-8: invalid UTF-8 at byte "
                          "offset 0 (byte 0xFF)" % bad, r.stderr)  # examples/encode's words
            self.assertNotIn("Traceback", r.stderr)
            self.assertFalse(os.path.exists(out))  # refused before any work

    def test_bad_arguments(self):
        r = embed(self.corpus, os.path.join(self.tmp, "x"), "--partition-size", "0")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--partition-size must be >= 1", r.stderr)
        env = dict(os.environ)
        r = subprocess.run([PYTHON, SCRIPT, os.path.join(self.tmp, "missing.sbert"), self.corpus,
                            os.path.join(self.tmp, "x")], capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 2)
        self.assertIn("model file not found", r.stderr)
        missing = os.path.join(self.tmp, "missing.txt")
        r = embed(missing, os.path.join(self.tmp, "x"), "--single-process")
        self.assertEqual(r.returncode, 1)
        self.assertIn("dask_embed: [Errno 2] No such file or directory: %r" % missing, r.stderr)
        self.assertNotIn("Traceback", r.stderr)


if __name__ == "__main__":
    if PYTHON is None:
        print("SKIP test_dask_embed.py: no interpreter with Dask distributed and NumPy "
              "(apt-get install python3-distributed python3-numpy)")
        sys.exit(77)
    unittest.main(verbosity=1)
