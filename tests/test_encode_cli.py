"""examples/encode, the command-line tool: input modes, output formats and error messages.
Vectors are checked against the golden sentence-transformers output (ko-tiny), so the formats are
tested for content, not just shape. ENCODE names the binary, BUILD the build directory."""
import json
import os
import struct
import subprocess
import sys
import tempfile
import unittest

BUILD = os.environ.get("BUILD", "build")
ENCODE = os.environ.get("ENCODE", "examples/encode")
MODEL = os.path.join(BUILD, "models", "ko-tiny.sbert")
GOLDEN = os.path.join("tests", "data", "golden", "ko-tiny.golden.jsonl")


def run(args, stdin=b""):
    return subprocess.run([ENCODE, "-m", MODEL, "-q"] + args, input=stdin, capture_output=True)


def golden(n):
    with open(GOLDEN, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    # texts safe on a command line and as lines: no NUL, no newline
    return [r for r in rows if r["text"] and "\x00" not in r["text"] and "\n" not in r["text"]
            and "\r" not in r["text"]][:n]


def max_diff(vectors, rows):
    return max(abs(a - b) for v, r in zip(vectors, rows) for a, b in zip(v, r["embedding"]))


class EncodeCommand(unittest.TestCase):
    rows = golden(12)

    def test_tsv_from_arguments(self):
        out = run([r["text"] for r in self.rows])
        self.assertEqual(out.returncode, 0, out.stderr)
        vectors = [[float(x) for x in line.split("\t")] for line in out.stdout.decode().splitlines()]
        self.assertEqual(len(vectors), len(self.rows))
        self.assertLessEqual(max_diff(vectors, self.rows), 1e-5)

    def test_json_from_stdin_lines(self):
        stdin = "".join(r["text"] + "\n" for r in self.rows).encode()
        out = run(["--format", "json"], stdin)
        self.assertEqual(out.returncode, 0, out.stderr)
        vectors = [json.loads(line) for line in out.stdout.decode().splitlines()]
        self.assertLessEqual(max_diff(vectors, self.rows), 1e-5)

    def test_jsonl_keeps_newlines_and_empty_texts(self):
        with open(GOLDEN, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f][:40]  # includes "", whitespace, "\n" texts
        stdin = "".join(json.dumps({"text": r["text"]}) + "\n" for r in rows).encode()
        out = run(["--jsonl", "--format", "json"], stdin)
        self.assertEqual(out.returncode, 0, out.stderr)
        vectors = [json.loads(line) for line in out.stdout.decode().splitlines()]
        self.assertEqual(len(vectors), len(rows))
        self.assertLessEqual(max_diff(vectors, rows), 1e-5)

    def test_ids_are_the_golden_ids(self):
        stdin = "".join(json.dumps({"text": r["text"]}) + "\n" for r in self.rows).encode()
        out = run(["--jsonl", "--ids"], stdin)
        self.assertEqual(out.returncode, 0, out.stderr)
        ids = [[int(x) for x in line.split()] for line in out.stdout.decode().splitlines()]
        self.assertEqual(ids, [r["ids"] for r in self.rows])

    def _read_npy(self, data):
        self.assertEqual(data[:6], b"\x93NUMPY")
        header_len = struct.unpack("<H", data[8:10])[0]
        header = data[10:10 + header_len].decode()
        shape = eval(header[header.index("(") - 0: header.index(")") + 1])  # noqa: S307 (test)
        body = data[10 + header_len:]
        floats = struct.unpack("<%df" % (len(body) // 4), body)
        return shape, [list(floats[i * shape[1]:(i + 1) * shape[1]]) for i in range(shape[0])]

    def test_npy_to_file_and_to_pipe(self):
        texts = [r["text"] for r in self.rows]
        with tempfile.TemporaryFile() as f:
            subprocess.run([ENCODE, "-m", MODEL, "-q", "--format", "npy"] + texts, stdout=f,
                           check=True)
            f.seek(0)
            shape, vectors = self._read_npy(f.read())
        self.assertEqual(shape, (len(texts), 64))
        self.assertLessEqual(max_diff(vectors, self.rows), 1e-5)
        piped = run(["--format", "npy"] + texts)  # stdout is a pipe: cannot seek back
        self.assertEqual(self._read_npy(piped.stdout), (shape, vectors))

    def test_similarity_matrix(self):
        out = run(["--similarity"] + [r["text"] for r in self.rows[:4]])
        self.assertEqual(out.returncode, 0, out.stderr)
        m = [[float(x) for x in line.split("\t")] for line in out.stdout.decode().splitlines()]
        self.assertEqual(len(m), 4)
        for i in range(4):
            self.assertAlmostEqual(m[i][i], 1.0, places=4)
            for j in range(4):
                self.assertAlmostEqual(m[i][j], m[j][i], places=4)

    def test_version_names_the_kernels(self):
        out = subprocess.run([ENCODE, "--version"], capture_output=True)
        self.assertEqual(out.returncode, 0)
        self.assertRegex(out.stdout.decode(), r"^libsbert \d+\.\d+\.\d+ \(fp32: \w+, int8: [\w-]+, "
                                              r"threads: (yes|no)\)\n$")

    def test_zero_texts(self):
        out = run([], b"")
        self.assertEqual((out.returncode, out.stdout), (0, b""))

    def test_errors_say_what_to_do(self):
        out = subprocess.run([ENCODE, "-m", "no/such/model.sbert", "x"], capture_output=True)
        self.assertEqual(out.returncode, 1)
        self.assertIn(b"no/such/model.sbert", out.stderr)
        out = subprocess.run([ENCODE, "x"], capture_output=True)
        self.assertEqual(out.returncode, 2)
        self.assertIn(b"-m MODEL", out.stderr)
        out = run(["--format", "xml", "x"])
        self.assertEqual(out.returncode, 2)
        out = run(["--jsonl"], b'{"text": "ok"}\n{"txt": 1}\n')
        self.assertEqual(out.returncode, 1)
        self.assertIn(b"line 2", out.stderr)
        out = run(["--prompt-name", "nope", "x"])
        self.assertEqual(out.returncode, 1)
        self.assertIn(b"nope", out.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=1)
