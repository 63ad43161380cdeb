"""examples/encode, the command-line tool: input modes, output formats, error messages, option
parsing and the JSON Lines reader (Python's json module as the oracle).
Vectors are checked against the golden sentence-transformers output (ko-tiny), so the formats are
tested for content, not just shape. ENCODE names the binary, BUILD the build directory."""
import json
import math
import os
import re
import shutil
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

    def test_npy_appended_or_after_other_bytes(self):
        """`>> file` (O_APPEND) and a file already written to: the header cannot be patched in
        place there, so the vectors are written after their header at the end, each .npy whole."""
        texts = [r["text"] for r in self.rows]
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "out.npy")
            for _ in range(2):
                with open(path, "ab") as f:
                    subprocess.run([ENCODE, "-m", MODEL, "-q", "--format", "npy"] + texts[:3],
                                   stdout=f, check=True)
            with open(path, "rb") as f:
                data = f.read()
            with open(path, "wb") as f:  # a shell's `{ echo x; encode ...; } > file`
                f.write(b"x\n")
                f.flush()
                subprocess.run([ENCODE, "-m", MODEL, "-q", "--format", "npy"] + texts[:2],
                               stdout=f, check=True)
            with open(path, "rb") as f:
                after_text = f.read()
        half = len(data) // 2
        self.assertEqual(data[:half], data[half:])
        shape, vectors = self._read_npy(data[:half])
        self.assertEqual(shape, (3, 64))
        self.assertLessEqual(max_diff(vectors, self.rows[:3]), 1e-5)
        self.assertEqual(after_text[:2], b"x\n")
        self.assertEqual(self._read_npy(after_text[2:]), ((2, 64), vectors[:2]))

    def test_unreadable_input_is_an_error(self):
        """stdin a directory, or closed: an error and exit 1, not an empty result"""
        fd = os.open(".", os.O_RDONLY)
        try:
            out = subprocess.run([ENCODE, "-m", MODEL, "-q"], stdin=fd, capture_output=True)
        finally:
            os.close(fd)
        self.assertEqual(out.returncode, 1)
        self.assertIn(b"cannot read the input: Is a directory", out.stderr)
        self.assertEqual(out.stdout, b"")
        closed = subprocess.run("exec %s -m %s -q --jsonl <&-" % (ENCODE, MODEL), shell=True,
                                capture_output=True)
        self.assertEqual(closed.returncode, 1)
        self.assertIn(b"cannot read the input: Bad file descriptor", closed.stderr)

    @unittest.skipUnless(os.path.exists("/dev/full"), "no /dev/full here")
    def test_unwritable_output_is_an_error(self):
        for args in (["x"], ["--version"], ["--help"], ["--format", "npy", "x"]):
            with open("/dev/full", "wb") as full:
                out = subprocess.run([ENCODE, "-m", MODEL, "-q"] + args, stdout=full,
                                     stderr=subprocess.PIPE)
            self.assertEqual(out.returncode, 1, args)
            self.assertIn(b"cannot write the output: No space left on device", out.stderr)

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

    def test_isa_caps(self):
        def kernels(isa):
            env = {k: v for k, v in os.environ.items() if k != "SBERT_ISA"}
            if isa:
                env["SBERT_ISA"] = isa
            out = subprocess.run([ENCODE, "--version"], capture_output=True, env=env)
            return re.search(r"fp32: ([\w-]+), int8: ([\w-]+)", out.stdout.decode()).groups()
        best = kernels(None)
        self.assertEqual(kernels("scalar"), ("scalar", "portable"))
        if best[0] not in ("avx2", "avx512"):
            self.skipTest("not an x86 CPU with AVX2: the x86 caps do not apply")
        # avx2 is a CPU with AVX2 + FMA and no VNNI of either width, whatever this one has
        self.assertEqual(kernels("avx2"), ("avx2", "avx2"))
        fp32, int8 = kernels("avx-vnni")
        self.assertEqual(fp32, "avx2")
        self.assertIn(int8, ("avx2", "avx-vnni"))
        self.assertNotEqual(int8, "avx512-vnni")
        # amx names no cap; avx512 leaves out AMX alone (the VNNI kernels replace it)
        self.assertEqual(kernels("amx"), best)
        self.assertEqual(kernels("avx512"),
                         (best[0], "avx512-vnni" if best[1] == "amx" else best[1]))

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


def ids_of(lines, *options):
    """--ids for texts given as stdin lines."""
    out = run(["--ids"] + list(options), "".join(t + "\n" for t in lines).encode())
    assert out.returncode == 0, out.stderr
    return [[int(x) for x in line.split()] for line in out.stdout.decode().splitlines()]


def vectors_of(out):
    assert out.returncode == 0, out.stderr
    return [[float(x) for x in line.split("\t")] for line in out.stdout.decode().splitlines()]


class CommandLine(unittest.TestCase):
    """Options anywhere, -- ends them, nothing ignored or misread (issue 17)."""
    text = golden(1)[0]["text"]

    def test_options_after_texts_apply(self):
        plain = vectors_of(run([self.text]))
        after = vectors_of(run([self.text, "--normalize"]))
        self.assertEqual(len(after), 1)  # "--normalize" is not encoded as a second text
        norm = math.sqrt(sum(x * x for x in plain[0]))
        self.assertTrue(all(abs(a - b / norm) < 1e-6 for a, b in zip(after[0], plain[0])))
        self.assertAlmostEqual(sum(x * x for x in after[0]), 1.0, places=5)

    def test_model_after_the_text(self):
        out = subprocess.run([ENCODE, self.text, "-q", "-m", MODEL], capture_output=True)
        self.assertEqual(vectors_of(out), vectors_of(run([self.text])))
        out = subprocess.run([ENCODE, self.text, "--model=" + MODEL], capture_output=True)
        self.assertEqual(vectors_of(out), vectors_of(run([self.text])))

    def test_double_dash_ends_options(self):
        out = vectors_of(run(["--", "--normalize", "-m"]))
        self.assertEqual(out, vectors_of(run([], b"--normalize\n-m\n")))
        self.assertEqual(len(out), 2)

    def test_unknown_option_is_named(self):
        for args in (["x", "--bogus"], ["--bogus", "x"], ["x", "-z"]):
            out = run(args)
            self.assertEqual(out.returncode, 2)
            self.assertIn(b"unknown option " + args[-1 if args[0] == "x" else 0].encode(), out.stderr)
        out = run(["x", "--format"])
        self.assertEqual(out.returncode, 2)
        self.assertIn(b"--format needs a value", out.stderr)

    def test_an_option_given_twice_is_refused(self):
        out = run(["--format", "json", "x", "--format", "npy"])
        self.assertEqual(out.returncode, 2)
        self.assertIn(b"--format is given twice", out.stderr)

    def test_contradictory_options_are_refused(self):
        cases = [(["--similarity", "--format", "npy"], b"--similarity"),
                 (["--similarity", "--format", "json"], b"--similarity"),
                 (["--ids", "--similarity"], b"--similarity does not apply"),
                 (["--ids", "--format", "json"], b"--format does not apply"),
                 (["--ids", "--normalize"], b"--normalize does not apply"),
                 (["--ids", "--batch-size", "8"], b"--batch-size does not apply"),
                 (["--ids", "--threads", "1"], b"--threads does not apply"),
                 (["--prompt", "a", "--prompt-name", "query"], b"not both"),
                 (["--jsonl"], b"--jsonl reads standard input")]
        for args, message in cases:
            out = run(args + ["x"])
            self.assertEqual((out.returncode, out.stdout), (2, b""), args)
            self.assertIn(message, out.stderr, args)
        # --similarity in its own format is no contradiction
        self.assertEqual(run(["--similarity", "--format", "tsv", "a", "b"]).returncode, 0)

    def test_zero_means_the_default_and_limits_are_stated(self):
        default = vectors_of(run([self.text, "b"]))
        for option in ("--threads", "--batch-size", "--max-length"):
            self.assertEqual(vectors_of(run([option, "0", self.text, "b"])), default, option)
        self.assertEqual(vectors_of(run(["--batch-size", "4096", self.text, "b"])), default)
        self.assertEqual(vectors_of(run(["--threads", "512", self.text, "b"])), default)
        for option, bad, limit in (("--threads", "-1", b"512"), ("--threads", "513", b"512"),
                                   ("--batch-size", "-1", b"4096"),
                                   ("--batch-size", "100000", b"4096"),
                                   ("--max-length", "x", None), ("--threads", "", None)):
            out = run([option, bad, "x"])
            self.assertEqual(out.returncode, 2, (option, bad))
            self.assertIn(b"whole number from 0 (the default)", out.stderr)
            if limit:
                self.assertIn(limit, out.stderr)
        usage = subprocess.run([ENCODE, "--help"], capture_output=True).stdout
        for stated in (b"1 to 512", b"1 to 4096", b"0 means the default", b"2 up to"):
            self.assertIn(stated, usage)

    def test_errors_not_about_a_text_name_none(self):
        for args, message in ((["--max-length", "1"], b"max_length 1 is too small"),
                              (["--max-length", "100000"], b"positions"),
                              (["--prompt-name", "query"], b"query")):
            for stdin_mode in (False, True):
                out = run(args, b"a\n") if stdin_mode else run(args + ["a"])
                self.assertEqual(out.returncode, 1, args)
                self.assertIn(message, out.stderr)
                self.assertNotRegex(out.stderr, rb"line|text \d|input text", args)

    def test_errors_about_a_text_name_it(self):
        out = run([], b"good\nalso good\nbad \xff\n")
        self.assertEqual(out.returncode, 1)
        self.assertRegex(out.stderr, rb"^encode: line 3: .*UTF-8")
        out = subprocess.run([ENCODE, "-q", "good", b"bad \xff", "-m", MODEL], capture_output=True)
        self.assertEqual(out.returncode, 1)
        self.assertRegex(out.stderr, rb"^encode: text 2: .*UTF-8")
        out = run(["--ids"], b"good\nbad \xff\n")
        self.assertRegex(out.stderr, rb"^encode: line 2: .*UTF-8")


class IdsAreWhatTheModelIsFed(unittest.TestCase):
    """--ids with --max-length, --prompt and --prompt-name: the ids sbert_encode uses."""
    rows = golden(12)

    def test_max_length(self):
        texts = [r["text"] for r in self.rows]
        for m in (3, 5, 8):
            # Hugging Face truncation: the first m - 2 tokens of the text between the specials
            want = [r["ids"][:m - 1] + r["ids"][-1:] if len(r["ids"]) > m else r["ids"]
                    for r in self.rows]
            self.assertEqual(ids_of(texts, "--max-length", str(m)), want)
        self.assertTrue(any(len(r["ids"]) > 3 for r in self.rows))

    def test_chunk(self):
        # windows of at most max_seq_length 128; a text that fits keeps its unchunked vector
        short = [r["text"] for r in self.rows]
        plain = run(short)
        for chunk in ("0", "128", "128:50"):
            self.assertEqual(run(["--chunk", chunk] + short).stdout, plain.stdout, chunk)
        long_text = " ".join(short * 4)
        self.assertGreater(len(ids_of([long_text], "--max-length", "0")[0]), 127)
        truncated = vectors_of(run([long_text]))
        chunked = vectors_of(run(["--chunk=64:32", long_text]))
        self.assertEqual(len(chunked), 1)
        self.assertNotEqual(chunked, truncated)
        # options the model cannot take fail before any text is read; malformed ones are usage
        for bad, code, word in (("64:100", 1, b"stride"), ("200", 1, b"max_length"),
                                ("2", 1, b"room"), ("x", 2, b"--chunk"), ("64:", 2, b"--chunk"),
                                ("-1", 2, b"--chunk")):
            out = run(["--chunk", bad], b"never read\n")
            self.assertEqual(out.returncode, code, (bad, out.stderr))
            self.assertIn(word, out.stderr, bad)
        out = run(["--ids", "--chunk", "64", "x"])
        self.assertEqual(out.returncode, 2)

    def test_prompt(self):
        texts = [r["text"] for r in self.rows]
        # sentence-transformers prepends the prompt to the text
        self.assertEqual(ids_of(texts, "--prompt", "query: "), ids_of(["query: " + t for t in texts]))
        self.assertNotEqual(ids_of(texts, "--prompt", "query: "), ids_of(texts))

    def test_prompt_name(self):
        work = tempfile.mkdtemp()
        try:
            src = os.path.join(work, "ko-tiny-prompts")
            shutil.copytree(os.path.join("tests", "data", "models", "ko-tiny"), src)
            with open(os.path.join(src, "config_sentence_transformers.json"), "w") as f:
                json.dump({"prompts": {"query": "query: ", "doc": "passage: "},
                           "default_prompt_name": None}, f)
            model = os.path.join(work, "prompts.sbert")
            subprocess.run([sys.executable, "tools/convert_safetensors.py", src, model, "--quiet"],
                           check=True)
            texts = "".join(r["text"] + "\n" for r in self.rows).encode()

            def ids(args, stdin):
                out = subprocess.run([ENCODE, "-m", model, "--ids"] + args, input=stdin,
                                     capture_output=True)
                self.assertEqual(out.returncode, 0, out.stderr)
                return out.stdout
            self.assertEqual(ids(["--prompt-name", "doc"], texts),
                             ids([], "".join("passage: " + r["text"] + "\n"
                                             for r in self.rows).encode()))
            self.assertEqual(ids(["--prompt-name", "query", "--max-length", "4"], texts),
                             ids(["--max-length", "4"], "".join("query: " + r["text"] + "\n"
                                                                for r in self.rows).encode()))
        finally:
            shutil.rmtree(work)


class JsonLines(unittest.TestCase):
    """--jsonl reads JSON as RFC 8259 defines it, with Python's json's choices where the RFC leaves
    one open; Python's json is the oracle for every line below."""
    LINES = [
        '{"text": "a"}', ' {"text": "a"} ', '{"text": "a"}\r', '{"text": "a"} x', '{"text": "a",}',
        '{"text": "a"', '{"text": "a\tb"}', '{"text": "a\\tb"}', '{"text": "a", "text": "b"}',
        '{"text": "\\ud800"}', '{"text": "\\udc00x"}', '{"text": "\\ud83d\\ude00"}',
        '{"text": "\\ud83d\\u0041"}', '{"text": "x", "other": "\\ud800"}',
        '{"\\ud800": 1, "text": "ok"}', '{"text": "\\u00e9\\/\\"\\\\\\b\\f\\n\\r"}',
        '{"text": "a", "n": [1, -0.5e+3, {"x": [true, false, null]}]}', '{"text": "a", "n": 01}',
        '{"text": "a", "n": 1.}', '{"text": "a", "n": .5}', '{"text": "a", "n": -}',
        '{"text": "a", "n": +1}', '{"text": "a", "n": 1e}', '{"text": "a", "n": NaN}',
        '{"text": "a", "n": Infinity}', '{"text": "a", "n": tru}', '{"text": "a", "n": [1,]}',
        '{"text": "a" "n": 1}', '{"text" "a"}', "{'text': 'a'}", '{text: "a"}', '["text"]',
        '"text"', '{"text": 5}', '{"txt": "a"}', '{"text": "\\x41"}', '{"text": "\\u12"}',
        '{"text": "a"}{"text": "b"}', '{"text": "é"}', '\ufeff{"text": "a"}',
        '{"text": "a", "deep": ' + "[" * 100 + "]" * 100 + '}',
    ]

    @staticmethod
    def python_text(line):
        """What Python gives: the UTF-8 text, or None when it refuses the line."""
        def refuse(_):
            raise ValueError("not JSON")
        try:
            value = json.loads(line, parse_constant=refuse)  # NaN, Infinity: not RFC 8259
            return value["text"].encode("utf-8") if isinstance(value["text"], str) else None
        except (ValueError, KeyError, TypeError, UnicodeEncodeError):
            return None

    def test_each_line_as_python_reads_it(self):
        for line in self.LINES:
            want = self.python_text(line)
            out = run(["--jsonl", "--ids"], line.encode("utf-8") + b"\n")
            if want is None:
                self.assertEqual(out.returncode, 1, line)
                self.assertIn(b"line 1:", out.stderr, line)
            else:
                self.assertEqual(out.returncode, 0, (line, out.stderr))
                self.assertEqual(out.stdout, run(["--ids", "--", want]).stdout, line)

    def test_errors_name_the_line(self):
        stdin = b'{"text": "a"}\n\n{"text": "b"}\n{"text": "\\ud800"}\n'
        out = run(["--jsonl"], stdin)
        self.assertEqual(out.returncode, 1)
        self.assertRegex(out.stderr, rb"^encode: line 4: .*surrogate")
        out = run(["--jsonl"], b'{"text": "a"}\n{"text": "a",}\n')
        self.assertRegex(out.stderr, rb"^encode: line 2: not JSON")

    def test_bytes_that_are_not_json(self):
        # a raw NUL after the object, and a string that is not UTF-8 (RFC 8259 8.1; Python's
        # json.loads(bytes) refuses it too)
        for line in (b'{"text": "a"}\x00x', b'{"text": "\xff"}', b'{"text": "\xed\xa0\x80"}'):
            out = run(["--jsonl"], b'{"text": "ok"}\n' + line + b"\n")
            self.assertEqual(out.returncode, 1, line)
            self.assertRegex(out.stderr, rb"^encode: line 2: not JSON", line)
            self.assertIsNone(self.python_text(line))


if __name__ == "__main__":
    unittest.main(verbosity=1)
