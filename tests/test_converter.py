#!/usr/bin/env python3
"""Tests of tools/convert_safetensors.py. Run from the repository root:

    python3 tests/test_converter.py

The converter runs as a subprocess, as the Makefile runs it, and its output is read back with the
small .sbert reader below, written from docs/FORMAT.md and sharing no code with the converter.
Only the element conversions (f16/bf16 widening and rounding) are imported, to check them bit
by bit.
"""

import base64
import json
import math
import os
import pickle
import random
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import unittest
import zipfile
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONVERTER = os.path.join(ROOT, "tools", "convert_safetensors.py")
MODELS = os.path.join(ROOT, "tests", "data", "models")
CROSS_ENCODERS = os.path.join(ROOT, "tests", "data", "cross-encoders")

sys.path.insert(0, os.path.join(ROOT, "tools"))
from convert_safetensors import bf16_to_f32, f16_to_f32, f32_to_bf16, f32_to_f16  # noqa: E402


# --- an independent reader of .sbert files --------------------------------------------------

HEADER = struct.Struct("<8sII9QII")
ELEMENT = {0: ("f", 4), 1: ("e", 2), 2: ("H", 2), 3: ("b", 1)}  # dtype -> struct code, size
# (bf16 as u16, I8 as signed bytes)


class Sbert:
    def __init__(self, path):
        with open(path, "rb") as f:
            self.raw = f.read()
        (self.magic, self.version, self.header_size, self.file_size, self.kv_offset, self.kv_size,
         self.n_kv, self.table_offset, self.table_size, self.n_tensors, self.data_offset,
         self.data_size, self.checksum, self.reserved) = HEADER.unpack_from(self.raw)
        self.kv, pos = {}, self.kv_offset
        for _ in range(self.n_kv):
            key, pos = self._str(pos)
            (kind,), pos = struct.unpack_from("<I", self.raw, pos), pos + 4
            self.kv[key], pos = self._value(kind, pos)
        assert pos == self.kv_offset + self.kv_size
        self.tensors, pos = {}, self.table_offset
        for _ in range(self.n_tensors):
            name, pos = self._str(pos)
            dtype, layout, n_dims = struct.unpack_from("<III", self.raw, pos)
            fields = struct.unpack_from(f"<{n_dims + 2}Q", self.raw, pos + 12)
            pos += 12 + 8 * (n_dims + 2)
            self.tensors[name] = {"dtype": dtype, "layout": layout, "shape": list(fields[:-2]),
                                  "offset": fields[-2], "nbytes": fields[-1]}
        assert pos == self.table_offset + self.table_size

    def _str(self, pos):
        (n,) = struct.unpack_from("<I", self.raw, pos)
        return self.raw[pos + 4:pos + 4 + n].decode(), pos + 4 + n

    def _value(self, kind, pos):
        scalar = {1: "I", 2: "i", 3: "f", 4: "I"}  # U32, I32, F32, BOOL
        if kind in scalar:
            (v,) = struct.unpack_from("<" + scalar[kind], self.raw, pos)
            return (kind, bool(v) if kind == 4 else v), pos + 4
        (n,) = struct.unpack_from("<I", self.raw, pos)
        pos += 4
        if kind == 5:
            return (kind, self.raw[pos:pos + n].decode()), pos + n
        if kind == 9:
            return (kind, self.raw[pos:pos + n]), pos + n
        if kind in (6, 7):
            return (kind, list(struct.unpack_from(f"<{n}{'if'[kind - 6]}", self.raw, pos))), \
                pos + 4 * n
        assert kind == 8
        items = []
        for _ in range(n):
            s, pos = self._str(pos)
            items.append(s)
        return (kind, items), pos

    def value(self, key):
        return self.kv[key][1]

    def stored(self, name):
        """The tensor's values in stored order (PANEL16 padding included), as floats."""
        t = self.tensors[name]
        code, size = ELEMENT[t["dtype"]]
        start = self.data_offset + t["offset"]
        flat = struct.unpack_from(f"<{t['nbytes'] // size}{code}", self.raw, start)
        if t["dtype"] == 2:
            flat = struct.unpack(f"<{len(flat)}f", struct.pack(f"<{len(flat)}I",
                                                               *(h << 16 for h in flat)))
        return flat

    def matrix(self, name):
        """The tensor's values as a list of rows (a vector is one row), in its logical order."""
        t, flat = self.tensors[name], self.stored(name)
        rows, cols = t["shape"] if len(t["shape"]) == 2 else (1, t["shape"][0])
        if t["layout"] == 1:  # PANEL16: (n, k) at ((n // 16) * cols + k) * 16 + n % 16
            return [[flat[((n // 16) * cols + k) * 16 + n % 16] for k in range(cols)]
                    for n in range(rows)]
        if t["layout"] == 2:  # PANEL16_Q4: (n, k) at ((n // 16) * K4 // 4 + k // 4) * 64 + ...
            k4 = -(-cols // 4) * 4
            return [[flat[((n // 16) * k4 // 4 + k // 4) * 64 + (n % 16) * 4 + k % 4]
                     for k in range(cols)] for n in range(rows)]
        return [list(flat[n * cols:(n + 1) * cols]) for n in range(rows)]


def to_f32(rows):
    """Python floats rounded to float32, as written to a file."""
    return [list(struct.unpack(f"<{len(r)}f", struct.pack(f"<{len(r)}f", *r))) for r in rows]


def first_difference(a, b):
    """Where two matrices (lists of rows) differ, or None; cheap where assertEqual's diff of
    thousands of floats would take minutes."""
    if [len(row) for row in a] != [len(row) for row in b]:
        return "shapes differ"
    return next(((n, k, x, y) for n, (row_a, row_b) in enumerate(zip(a, b))
                 for k, (x, y) in enumerate(zip(row_a, row_b)) if x != y), None)


def safetensors_header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(n)), 8 + n


def safetensors_rows(path, name):
    header, start = safetensors_header(path)
    entry = header[name]
    begin, end = entry["data_offsets"]
    with open(path, "rb") as f:
        f.seek(start + begin)
        flat = struct.unpack(f"<{(end - begin) // 4}f", f.read(end - begin))
    cols = entry["shape"][-1]
    return [list(flat[i:i + cols]) for i in range(0, len(flat), cols)]


def write_safetensors(path, tensors):
    """F32 tensors {name: rows} in the safetensors layout (one row: a vector)."""
    header, blobs, offset = {}, [], 0
    for name, rows in tensors.items():
        data = struct.pack(f"<{sum(map(len, rows))}f", *(v for row in rows for v in row))
        shape = [len(rows), len(rows[0])] if len(rows) > 1 else [len(rows[0])]
        header[name] = {"dtype": "F32", "shape": shape,
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def edit_safetensors_header(path, edit):
    """Rewrite the header of a safetensors file with edit(header), which changes the dict; the
    data block stays."""
    header, start = safetensors_header(path)
    with open(path, "rb") as f:
        data = f.read()[start:]
    edit(header)
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def split_safetensors(path, directory):
    """Store a safetensors file as two shards and a model.safetensors.index.json in directory."""
    header, start = safetensors_header(path)
    with open(path, "rb") as f:
        data = f.read()[start:]
    names = sorted(k for k in header if k != "__metadata__")
    weight_map = {}
    for shard, part in (("model-00001-of-00002.safetensors", names[::2]),
                        ("model-00002-of-00002.safetensors", names[1::2])):
        shard_header, blobs, offset = {}, [], 0
        for name in part:
            begin, end = header[name]["data_offsets"]
            shard_header[name] = dict(header[name], data_offsets=[offset, offset + end - begin])
            blobs.append(data[begin:end])
            offset += end - begin
            weight_map[name] = shard
        text = json.dumps(shard_header).encode()
        with open(os.path.join(directory, shard), "wb") as f:
            f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    with open(os.path.join(directory, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": weight_map}, f)


def add_roberta_prefix(header):
    for name in [name for name in header if name != "__metadata__"]:
        header["roberta." + name] = header.pop(name)


def to_16_bit(path, dtype):
    """Rewrite a float32 safetensors file as F16 (rounded by struct) or BF16 (truncated)."""
    header, start = safetensors_header(path)
    with open(path, "rb") as f:
        data = f.read()[start:]
    blobs, offset = [], 0
    for name, entry in sorted(header.items()):
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        blob = data[begin:end]
        if entry["dtype"] == "F32":
            n = len(blob) // 4
            if dtype == "F16":
                blob = struct.pack(f"<{n}e", *struct.unpack(f"<{n}f", blob))
            else:
                halves = bytearray(2 * n)
                halves[0::2], halves[1::2] = blob[2::4], blob[3::4]
                blob = bytes(halves)
            entry["dtype"] = dtype
        entry["data_offsets"] = [offset, offset + len(blob)]
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def edit_json(path, edit):
    """Rewrite a JSON file with edit(value), which changes the value."""
    with open(path) as f:
        value = json.load(f)
    edit(value)
    with open(path, "w") as f:
        json.dump(value, f)


# --- references for the element conversions: exact arithmetic on Python floats ---------------

def round_bits(x, mantissa_bits, exponent_bits):
    """IEEE binary encoding of float x with the given field widths, round half to even."""
    bias = (1 << (exponent_bits - 1)) - 1
    sign = (1 << (mantissa_bits + exponent_bits)) if math.copysign(1, x) < 0 else 0
    inf = ((1 << exponent_bits) - 1) << mantissa_bits
    x = abs(x)
    if math.isinf(x):
        return sign | inf
    _, e = math.frexp(x)  # x = m * 2**e, 0.5 <= m < 1
    exponent = max(e - 1 + bias, 1)  # biased exponent of the result, subnormals use 1
    q = round(x * 2.0 ** (mantissa_bits - (exponent - bias)))  # Python's round(): half to even
    if exponent == 1 and q < (1 << mantissa_bits):
        return sign | q  # subnormal (or zero)
    if q == 2 << mantissa_bits:
        exponent, q = exponent + 1, 1 << mantissa_bits
    if exponent >= (1 << exponent_bits) - 1:
        return sign | inf
    return sign | (exponent << mantissa_bits) | (q - (1 << mantissa_bits))


def f16_value(h):
    """The value of float16 bits h, from the IEEE definition."""
    sign, exponent, mantissa = -1.0 if h >> 15 else 1.0, (h >> 10) & 0x1F, h & 0x3FF
    if exponent == 0x1F:
        return sign * math.inf if mantissa == 0 else math.nan
    if exponent == 0:
        return sign * mantissa * 2.0 ** -24
    return sign * (1024 + mantissa) * 2.0 ** (exponent - 25)


# --- helpers ----------------------------------------------------------------------------------

def run_converter(model_dir, out, *options):
    proc = subprocess.run([sys.executable, CONVERTER, model_dir, out, *options],
                          capture_output=True, text=True)
    return proc.returncode, proc.stdout, proc.stderr


class ConverterTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="test_converter.")
        self.addCleanup(shutil.rmtree, self.tmp)

    def model(self, name="ko-tiny", drop=("pytorch_model.bin",)):
        """A private copy of a test model directory, without the files in `drop`."""
        path = os.path.join(self.tmp, f"{name}-{len(os.listdir(self.tmp))}")
        shutil.copytree(os.path.join(MODELS, name), path)
        for file in drop:
            os.remove(os.path.join(path, file))
        return path

    def convert(self, model_dir, *options):
        out = os.path.join(self.tmp, f"out-{len(os.listdir(self.tmp))}.sbert")
        code, stdout, stderr = run_converter(model_dir, out, "--quiet", *options)
        self.assertEqual((code, stdout, stderr), (0, "", ""))
        return out

    def assertSameBytes(self, path_a, path_b):
        with open(path_a, "rb") as a, open(path_b, "rb") as b:
            a, b = a.read(), b.read()
        if a != b:
            first = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            self.fail(f"{path_a} and {path_b} differ from byte {first}")

    def assertRefused(self, model_dir, *expected):
        """The conversion fails cleanly: exit 1, one line on stderr naming the problem."""
        out = os.path.join(self.tmp, "refused.sbert")
        code, stdout, stderr = run_converter(model_dir, out)
        self.assertEqual(code, 1, stderr)
        self.assertEqual(stdout, "")
        self.assertRegex(stderr, r"^convert_safetensors: error: [^\n]+\n$")
        for text in expected:
            self.assertIn(text, stderr)
        self.assertFalse(os.path.exists(out) or os.path.exists(out + ".partial"))


class TestIdentity(ConverterTest):
    def test_safetensors_and_pytorch_bin_give_identical_files(self):
        for name in ("ko-tiny", "minilm-tiny"):
            with self.subTest(name):
                from_safetensors = self.convert(self.model(name, drop=["pytorch_model.bin"]))
                from_bin = self.convert(self.model(name, drop=["model.safetensors"]))
                self.assertSameBytes(from_safetensors, from_bin)

    def test_vocab_txt_gives_the_same_tokenizer_as_tokenizer_json(self):
        for name in ("ko-tiny", "minilm-tiny"):
            with self.subTest(name):
                with_json = self.convert(self.model(name))
                without = self.convert(self.model(name, drop=["pytorch_model.bin",
                                                              "tokenizer.json"]))
                self.assertSameBytes(with_json, without)


    def test_prefixed_and_sharded_safetensors_give_identical_files(self):
        reference = self.convert(self.model())
        prefixed = self.model()
        edit_safetensors_header(os.path.join(prefixed, "model.safetensors"), add_roberta_prefix)
        self.assertIn("roberta.pooler.dense.weight",
                      safetensors_header(os.path.join(prefixed, "model.safetensors"))[0])
        self.assertSameBytes(reference, self.convert(prefixed))
        sharded = self.model(drop=["pytorch_model.bin", "model.safetensors"])
        split_safetensors(os.path.join(MODELS, "ko-tiny", "model.safetensors"), sharded)
        self.assertSameBytes(reference, self.convert(sharded))


    def test_16_bit_sources_convert_exactly(self):
        """F16 and BF16 checkpoints widen exactly, so converting them to their own type gives
        back their bits, and to f32 their values."""
        for dtype in ("F16", "BF16"):
            with self.subTest(dtype):
                model = self.model()
                source = os.path.join(model, "model.safetensors")
                to_16_bit(source, dtype)
                header, start = safetensors_header(source)
                with open(source, "rb") as f:
                    f.seek(start)
                    data = f.read()
                same = Sbert(self.convert(model, "--dtype", dtype.lower()))
                f32 = Sbert(self.convert(model))
                for name in ("embeddings.word_embeddings.weight",
                             "encoder.layer.1.intermediate.dense.weight"):
                    begin, end = header[name]["data_offsets"]
                    t = same.tensors[name]
                    if t["layout"] == 0:
                        start = same.data_offset + t["offset"]
                        self.assertEqual(same.raw[start:start + t["nbytes"]], data[begin:end])
                    self.assertIsNone(first_difference(same.matrix(name), f32.matrix(name)))


class TestLayout(ConverterTest):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="test_converter.")
        for name, dtype in (("ko-tiny", "f32"), ("ko-tiny", "f16"), ("ko-tiny", "bf16"),
                            ("ko-tiny", "int8"), ("minilm-tiny", "f32")):
            code, _, stderr = run_converter(os.path.join(MODELS, name),
                                            os.path.join(cls.dir, f"{name}-{dtype}.sbert"),
                                            "--quiet", "--dtype", dtype)
            assert code == 0, stderr

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def sbert(self, name, dtype="f32"):
        return Sbert(os.path.join(self.dir, f"{name}-{dtype}.sbert"))

    def test_header_and_sections(self):
        f = self.sbert("ko-tiny")
        self.assertEqual((f.magic, f.version, f.header_size, f.kv_offset, f.reserved),
                         (b"SBERTMF\0", 1, 96, 96, 0))
        self.assertEqual(f.file_size, len(f.raw))
        self.assertEqual(f.table_offset, f.kv_offset + f.kv_size)
        self.assertEqual(f.data_offset % 64, 0)
        self.assertGreaterEqual(f.data_offset, f.table_offset + f.table_size)
        self.assertEqual(f.raw[f.table_offset + f.table_size:f.data_offset],
                         bytes(f.data_offset - f.table_offset - f.table_size))
        self.assertEqual(f.data_size, f.file_size - f.data_offset)
        end = 0
        for t in f.tensors.values():
            self.assertEqual(t["offset"] % 64, 0)
            self.assertGreaterEqual(t["offset"], end)
            end = t["offset"] + t["nbytes"]
        self.assertLessEqual(end, f.data_size)

    def test_checksum_covers_header_and_key_values(self):
        f = self.sbert("ko-tiny")
        head = bytearray(f.raw[:f.data_offset])
        head[88:92] = bytes(4)
        self.assertEqual(zlib.crc32(head), f.checksum)
        head[f.kv_offset + f.kv_size // 2] ^= 0x01
        self.assertNotEqual(zlib.crc32(head), f.checksum)

    def test_key_values_of_ko_tiny(self):
        f = self.sbert("ko-tiny")
        expected = {
            "general.architecture": "roberta", "general.name": "random-ko-sroberta-seed11",
            "encoder.vocab_size": 32000, "encoder.hidden_size": 64, "encoder.num_layers": 2,
            "encoder.num_heads": 4, "encoder.intermediate_size": 128,
            "encoder.max_position_embeddings": 514, "encoder.type_vocab_size": 1,
            "encoder.hidden_act": "gelu", "encoder.pad_token_id": 1,
            "encoder.position_offset": 2, "tokenizer.model": "wordpiece",
            "tokenizer.unk_id": 3, "tokenizer.pad_id": 1, "tokenizer.prefix_ids": [0],
            "tokenizer.suffix_ids": [2], "tokenizer.added.id": [0, 1, 2, 3, 4],
            "tokenizer.added.special": [1] * 5, "tokenizer.added.normalized": [0] * 5,
            "tokenizer.normalizer": "bert", "tokenizer.pretokenizer": "bert",
            "tokenizer.bert.lowercase": False, "tokenizer.bert.strip_accents": False,
            "tokenizer.bert.clean_text": True, "tokenizer.bert.handle_chinese_chars": True,
            "tokenizer.wordpiece.prefix": "##",
            "tokenizer.wordpiece.max_input_chars_per_word": 100,
            "pipeline.max_seq_length": 128, "pipeline.do_lower_case": False,
            "pooling.mean": True, "pooling.cls": False, "pooling.max": False,
            "pooling.include_prompt": True, "dense.count": 0, "normalize": False,
            "similarity": "cosine", "prompts.names": [], "prompts.default": "",
        }
        for key, value in expected.items():
            self.assertEqual(f.value(key), value, key)
        self.assertAlmostEqual(f.value("encoder.layer_norm_eps"), 1e-5)
        vocab = f.value("tokenizer.vocab")
        self.assertEqual((len(vocab), vocab[:5]), (32000, ["[CLS]", "[PAD]", "[SEP]", "[UNK]",
                                                          "[MASK]"]))

    def test_key_values_of_minilm_tiny(self):
        f = self.sbert("minilm-tiny")
        for key, value in {"general.architecture": "bert", "encoder.position_offset": 0,
                           "encoder.type_vocab_size": 2, "tokenizer.prefix_ids": [101],
                           "tokenizer.suffix_ids": [102], "tokenizer.pad_id": 0,
                           "tokenizer.unk_id": 100, "tokenizer.bert.lowercase": True,
                           "tokenizer.bert.strip_accents": True, "normalize": True,
                           "pipeline.max_seq_length": 256}.items():
            self.assertEqual(f.value(key), value, key)

    def test_tensor_table(self):
        f = self.sbert("ko-tiny", "f16")
        per_layer = ["attention.qkv.weight", "attention.qkv.bias",
                     "attention.output.dense.weight", "attention.output.dense.bias",
                     "attention.output.LayerNorm.weight", "attention.output.LayerNorm.bias",
                     "intermediate.dense.weight", "intermediate.dense.bias",
                     "output.dense.weight", "output.dense.bias",
                     "output.LayerNorm.weight", "output.LayerNorm.bias"]
        self.assertEqual(list(f.tensors), [
            "embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
            "embeddings.token_type_embeddings.weight", "embeddings.LayerNorm.weight",
            "embeddings.LayerNorm.bias"] + [f"encoder.layer.{i}.{n}" for i in range(2)
                                            for n in per_layer])
        for name, t in f.tensors.items():
            matrix = name.endswith(".weight") and "LayerNorm" not in name
            self.assertEqual(t["dtype"], 1 if matrix else 0, name)
            paneled = matrix and "embeddings" not in name
            self.assertEqual(t["layout"], int(paneled), name)
        self.assertEqual(f.tensors["encoder.layer.1.attention.qkv.weight"]["shape"], [192, 64])
        self.assertEqual(f.tensors["encoder.layer.1.attention.qkv.bias"]["shape"], [192])
        self.assertEqual(f.tensors["encoder.layer.0.output.dense.weight"]["shape"], [64, 128])

    def test_panel16_round_trips_to_the_original_weights(self):
        f = self.sbert("ko-tiny")
        source = os.path.join(MODELS, "ko-tiny", "model.safetensors")
        p = "encoder.layer.1."
        qkv = [row for x in ("query", "key", "value")
               for row in safetensors_rows(source, f"{p}attention.self.{x}.weight")]
        self.assertIsNone(first_difference(f.matrix(p + "attention.qkv.weight"), qkv))
        bias = [v for x in ("query", "key", "value")
                for v in safetensors_rows(source, f"{p}attention.self.{x}.bias")[0]]
        self.assertIsNone(first_difference(f.matrix(p + "attention.qkv.bias"), [bias]))
        for name in ("intermediate.dense.weight", "output.dense.weight",
                     "output.LayerNorm.weight"):
            self.assertIsNone(first_difference(f.matrix(p + name),
                                               safetensors_rows(source, p + name)), name)

    def test_f16_and_bf16_are_within_rounding_of_f32(self):
        # Half an ulp is at most |a| * 2**-(mantissa bits + 1); below the normal range, half the
        # smallest subnormal.
        for dtype, mantissa_bits, tiny in (("f16", 10, 2.0 ** -25), ("bf16", 7, 2.0 ** -134)):
            exact, rounded = self.sbert("ko-tiny"), self.sbert("ko-tiny", dtype)
            relative = 2.0 ** -(mantissa_bits + 1)
            for name, t in rounded.tensors.items():  # same layouts: compare as stored
                pairs = zip(exact.stored(name), rounded.stored(name))
                if t["dtype"] == 0:  # LayerNorm parameters and biases stay f32
                    bad = [(a, b) for a, b in pairs if a != b]
                else:
                    bad = [(a, b) for a, b in pairs if abs(a - b) > abs(a) * relative + tiny]
                self.assertEqual(bad[:3], [], f"{dtype} {name}")


    def test_int8_is_within_half_a_step_of_f32(self):
        # Every Linear weight I8 in PANEL16_Q4 with its F32 scales (max |row| / 127, so each row
        # reaches +-127); dequantized, each weight within half a step (scale / 2) of the f32 one.
        # The other matrices are f16, LayerNorm parameters and biases f32.
        exact, q8 = self.sbert("ko-tiny"), self.sbert("ko-tiny", "int8")
        linears = [n for n, t in exact.tensors.items() if t["layout"] == 1]
        self.assertTrue(linears)
        for name in linears:
            t, scale = q8.tensors[name], q8.tensors[name + "_scale"]
            self.assertEqual((t["dtype"], t["layout"]), (3, 2), name)
            self.assertEqual((scale["dtype"], scale["layout"], scale["shape"]),
                             (0, 0, t["shape"][:1]), name)
            scales = q8.matrix(name + "_scale")[0]
            for w_row, q_row, s in zip(exact.matrix(name), q8.matrix(name), scales):
                self.assertAlmostEqual(s, max(map(abs, w_row)) / 127, delta=1e-6 * s, msg=name)
                self.assertEqual(max(map(abs, q_row)), 127, name)
                worst = max(abs(w - q * s) for w, q in zip(w_row, q_row))
                self.assertLessEqual(worst, s / 2 * (1 + 1e-6), name)
        for name, t in q8.tensors.items():
            if name not in linears and not name.endswith("_scale"):
                self.assertEqual(t["dtype"], 1 if len(t["shape"]) == 2 else 0, name)


class TestElementConversions(unittest.TestCase):
    """Widening of every f16 / bf16 value, and f32 -> f16 / bf16 bit patterns against an exact
    round-half-to-even reference."""

    def test_widening_is_exact(self):
        halves = struct.pack("<65536H", *range(65536))
        for h, f in zip(range(65536), struct.unpack("<65536f", f16_to_f32(halves))):
            expected = f16_value(h)
            self.assertTrue(f == expected and math.copysign(1, f) == math.copysign(1, expected)
                            or math.isnan(f) and math.isnan(expected), hex(h))
        widened = struct.unpack("<65536I", bf16_to_f32(halves))
        self.assertEqual(widened, tuple(h << 16 for h in range(65536)))

    def patterns(self):
        rng = random.Random(7)
        ties = [0x3F801000, 0x3F803000, 0x3F808000, 0x3F818000, 0x33000000, 0x33800000,
                0x387FE000, 0x387FF000, 0x477FE000, 0x7F7FFFFF, 0x7F800000, 0x00000001]
        near_f16 = [rng.randrange(0x32000000, 0x477FF000) for _ in range(20000)]
        return [p | s for p in ties + near_f16 + [rng.getrandbits(31) for _ in range(20000)]
                for s in (0, 0x80000000)]

    def test_bf16_rounds_to_nearest_even(self):
        bits = [p for p in self.patterns() if (p & 0x7FFFFFFF) <= 0x7F800000]  # NaN: below
        floats = struct.unpack(f"<{len(bits)}f", struct.pack(f"<{len(bits)}I", *bits))
        got = struct.unpack(f"<{len(bits)}H", f32_to_bf16(struct.pack(f"<{len(bits)}I", *bits)))
        for b, x, h in zip(bits, floats, got):
            self.assertEqual(h, round_bits(x, 7, 8), hex(b))
        nans = struct.pack("<2I", 0x7FC00001, 0xFFFFFFFF)
        self.assertEqual(struct.unpack("<2H", f32_to_bf16(nans)), (0x7FC0, 0x7FC0))

    def test_f16_rounds_to_nearest_even(self):
        bits = [p for p in self.patterns() if (p & 0x7FFFFFFF) < 0x477FF000]  # f16 range
        floats = struct.unpack(f"<{len(bits)}f", struct.pack(f"<{len(bits)}I", *bits))
        got = struct.unpack(f"<{len(bits)}H", f32_to_f16(struct.pack(f"<{len(bits)}I", *bits)))
        for b, x, h in zip(bits, floats, got):
            self.assertEqual(h, round_bits(x, 10, 5), hex(b))

    def test_f16_overflow_is_an_error(self):
        with self.assertRaises(OverflowError):
            f32_to_f16(struct.pack("<f", 65520.0))


class TestPickleSafety(ConverterTest):
    """pytorch_model.bin pickles may name any global; only tensor rebuilding is allowed."""

    def bin_model(self, pickle_bytes):
        model = self.model(drop=["model.safetensors", "pytorch_model.bin"])
        with zipfile.ZipFile(os.path.join(model, "pytorch_model.bin"), "w") as z:
            z.writestr("archive/data.pkl", pickle_bytes)
            z.writestr("archive/version", "3\n")
        return model

    def payloads(self, marker):
        """Pickles that create `marker` when unpickled: os.system via GLOBAL (protocol 2) and
        builtins.exec via STACK_GLOBAL (protocol 4)."""
        def text(s):  # SHORT_BINUNICODE
            return b"\x8c" + bytes([len(s)]) + s.encode()
        command = f"touch {marker}"
        code = f"open({marker!r}, 'w').close()"
        return {
            "os.system": b"\x80\x02cos\nsystem\n" + text(command) + b"\x85R.",
            "builtins.exec": b"\x80\x04" + text("builtins") + text("exec") + b"\x93" +
                             text(code) + b"\x85R.",
        }

    def test_payloads_are_live(self):
        """The payloads do run under a plain unpickler, so the test below means something."""
        for name, payload in self.payloads(os.path.join(self.tmp, "live")).items():
            with self.subTest(name):
                pickle.loads(payload)
                self.assertTrue(os.path.exists(os.path.join(self.tmp, "live")))
                os.remove(os.path.join(self.tmp, "live"))

    def test_foreign_globals_are_refused_without_running(self):
        marker = os.path.join(self.tmp, "pwned")
        for name, payload in self.payloads(marker).items():
            with self.subTest(name):
                self.assertRefused(self.bin_model(payload), f"global {name}", "refusing")
                self.assertFalse(os.path.exists(marker))

    def test_legacy_non_zip_bin_is_refused(self):
        model = self.model(drop=["model.safetensors", "pytorch_model.bin"])
        with open(os.path.join(model, "pytorch_model.bin"), "wb") as f:
            f.write(pickle.dumps({"a": 1}))
        self.assertRefused(model, "not a zip archive")


class TestMalformedInputs(ConverterTest):
    def st(self, model):
        return os.path.join(model, "model.safetensors")

    def test_truncated_safetensors_header(self):
        model = self.model()
        with open(self.st(model), "wb") as f:
            f.write(b"\x10\x00\x00")
        self.assertRefused(model, "truncated")

    def test_header_length_past_the_end(self):
        model = self.model()
        with open(self.st(model), "r+b") as f:
            f.write(struct.pack("<Q", 1 << 40))
        self.assertRefused(model, "runs past the end")

    def test_header_json_garbage(self):
        model = self.model()
        with open(self.st(model), "r+b") as f:
            f.seek(8)
            f.write(b"{garbage")
        self.assertRefused(model, "not valid JSON")

    def test_data_offsets_out_of_range(self):
        model = self.model()
        name = "encoder.layer.1.output.dense.weight"
        edit_safetensors_header(self.st(model), lambda h: h[name].update(
            data_offsets=[h[name]["data_offsets"][0] + 10**9, h[name]["data_offsets"][1] + 10**9]))
        self.assertRefused(model, name, "outside the data block")

    def test_wrong_dtype(self):
        model = self.model()
        name = "embeddings.word_embeddings.weight"
        edit_safetensors_header(self.st(model), lambda h: h[name].update(dtype="I32"))
        self.assertRefused(model, name, "dtype I32")

    def test_missing_tensor(self):
        model = self.model()
        name = "encoder.layer.0.attention.self.key.bias"
        edit_safetensors_header(self.st(model), lambda h: h.pop(name))
        self.assertRefused(model, name, "missing")

    def test_misshaped_tensor(self):
        model = self.model()
        name = "encoder.layer.1.intermediate.dense.weight"
        edit_safetensors_header(self.st(model), lambda h: h[name].update(shape=[64, 128]))
        self.assertRefused(model, name, "shape [64,128], expected [128,64]")

    def test_unsupported_config(self):
        for key, value, message in (("model_type", "deberta-v2", "model_type 'deberta-v2'"),
                                    ("hidden_act", "silu", "hidden_act 'silu'"),
                                    ("position_embedding_type", "relative_key",
                                     "position_embedding_type 'relative_key'"),
                                    ("num_attention_heads", 5, "not a multiple")):
            with self.subTest(key):
                model = self.model()
                edit_json(os.path.join(model, "config.json"), lambda c: c.update({key: value}))
                self.assertRefused(model, message)

    def test_unknown_module_type(self):
        model = self.model()
        edit_json(os.path.join(model, "modules.json"), lambda m: m.append(
            {"idx": 2, "name": "2", "path": "2_LayerNorm",
             "type": "sentence_transformers.models.LayerNorm"}))
        self.assertRefused(model, "module type sentence_transformers.models.LayerNorm")

    def test_unsupported_pooling_mode(self):
        model = self.model()
        edit_json(os.path.join(model, "1_Pooling", "config.json"),
                  lambda c: c.update(pooling_mode_attention=True))
        self.assertRefused(model, "pooling_mode_attention")

    def test_missing_config_json(self):
        model = self.model(drop=["pytorch_model.bin", "config.json"])
        self.assertRefused(model, "config.json: not found")

    def test_no_weights(self):
        self.assertRefused(self.model(drop=["pytorch_model.bin", "model.safetensors"]),
                           "no weights found")

    def test_usage_error_exits_2(self):
        self.assertEqual(run_converter(MODELS, "x.sbert", "--dtype", "f64")[0], 2)


class TestOutputPath(ConverterTest):
    """OUT.partial is renamed onto OUT: a symlink must be written through, and a FIFO, device or
    directory, which the rename would replace by a regular file, refused."""

    def assertWrittenThrough(self, link, target):
        direct = self.convert(self.model())
        code, stdout, stderr = run_converter(self.model(), link, "--quiet")
        self.assertEqual((code, stdout, stderr), (0, "", ""))
        self.assertTrue(os.path.islink(link))
        self.assertEqual(os.path.realpath(link), os.path.realpath(target))
        self.assertSameBytes(target, direct)
        got, want = Sbert(link), Sbert(direct)  # read through the link
        self.assertEqual((got.checksum, got.kv, got.tensors),
                         (want.checksum, want.kv, want.tensors))
        leftovers = [f for d in (self.tmp, os.path.dirname(target)) for f in os.listdir(d)
                     if f.endswith(".partial")]
        self.assertEqual(leftovers, [])

    def test_symlink_is_written_through(self):
        os.mkdir(os.path.join(self.tmp, "real"))
        target = os.path.join(self.tmp, "real", "target.sbert")
        with open(target, "wb") as f:
            f.write(b"an older model")
        link = os.path.join(self.tmp, "link.sbert")
        os.symlink(os.path.join("real", "target.sbert"), link)  # relative to the link's folder
        self.assertWrittenThrough(link, target)

    def test_dangling_symlink_is_written_through(self):
        os.mkdir(os.path.join(self.tmp, "real"))
        target = os.path.join(self.tmp, "real", "new.sbert")
        link = os.path.join(self.tmp, "link.sbert")
        os.symlink(target, link)
        self.assertWrittenThrough(link, target)

    def assertOutputRefused(self, out, *expected):
        """Exit 1 with the message, before any tensor is read (the weights are truncated, and
        the complaint must still be about OUT), nothing created or replaced."""
        model = self.model()
        with open(os.path.join(model, "model.safetensors"), "wb") as f:
            f.write(b"\x10\x00\x00")
        before = sorted(os.listdir(self.tmp))
        proc = subprocess.run([sys.executable, CONVERTER, model, out], capture_output=True,
                              text=True, timeout=120)  # a FIFO opened for writing would block
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertEqual(proc.stdout, "")
        self.assertRegex(proc.stderr, r"^convert_safetensors: error: [^\n]+\n$")
        for text in (out, "not a regular file", "give the path of a .sbert file", *expected):
            self.assertIn(text, proc.stderr)
        self.assertEqual(sorted(os.listdir(self.tmp)), before)

    def test_fifo_is_refused(self):
        fifo = os.path.join(self.tmp, "fifo.sbert")
        os.mkfifo(fifo)
        link = os.path.join(self.tmp, "link.sbert")
        os.symlink(fifo, link)
        for out in (fifo, link):
            with self.subTest(out):
                self.assertOutputRefused(out, "is a FIFO")
                self.assertTrue(stat.S_ISFIFO(os.lstat(fifo).st_mode))
                self.assertTrue(os.path.islink(link))

    def test_directory_is_refused(self):
        directory = os.path.join(self.tmp, "out.sbert")
        os.mkdir(directory)
        self.assertOutputRefused(directory, "is a directory")
        self.assertTrue(os.path.isdir(directory))
        self.assertEqual(os.listdir(directory), [])

    def test_missing_directory_is_still_refused(self):
        link = os.path.join(self.tmp, "dangling.sbert")
        os.symlink(os.path.join(self.tmp, "nowhere", "target.sbert"), link)
        for out in (os.path.join(self.tmp, "nowhere", "out.sbert"), link):
            with self.subTest(out):
                code, stdout, stderr = run_converter(self.model(), out)
                self.assertEqual(code, 1, stderr)
                self.assertIn("its directory does not exist", stderr)
                self.assertFalse(os.path.exists(os.path.join(self.tmp, "nowhere")))
        self.assertTrue(os.path.islink(link))


class TestSentenceTransformersDefaults(ConverterTest):
    """Settings read as sentence-transformers and transformers read them where the files leave
    them implicit or disagree (found converting hand-edited and older model folders)."""

    def test_bert_normalizer_follows_tokenizer_config(self):
        """BertTokenizerFast / MPNetTokenizerFast rebuild tokenizer.json's BertNormalizer from
        tokenizer_config.json, do_lower_case defaulting to true."""
        cases = [("minilm-tiny", {"do_lower_case": False}, {"lowercase": False}),
                 ("minilm-tiny", {"strip_accents": False}, {"lowercase": True,
                                                            "strip_accents": False}),
                 ("minilm-tiny", {"tokenize_chinese_chars": False},
                  {"handle_chinese_chars": False}),
                 ("ko-tiny", {"do_lower_case": None}, {"lowercase": True}),  # None: key removed
                 ("mpnet-tiny", {"do_lower_case": False}, {"lowercase": False})]
        for name, edit, want in cases:
            model = self.model(name, drop=())
            def change(config):
                for key, value in edit.items():
                    if value is None:
                        del config[key]
                    else:
                        config[key] = value
            edit_json(os.path.join(model, "tokenizer_config.json"), change)
            f = Sbert(self.convert(model))
            for key, value in want.items():
                self.assertEqual(f.value("tokenizer.bert." + key), value, (name, edit, key))
        # a RoBERTa-class tokenizer keeps tokenizer.json's normalizer (XLM-R's has none to redo)
        model = self.model("xlmr-tiny", drop=())
        edit_json(os.path.join(model, "tokenizer_config.json"),
                  lambda c: c.update(do_lower_case=True))
        self.assertSameBytes(self.convert(model), self.convert(self.model("xlmr-tiny", drop=())))

    def test_pooling_as_sentence_transformers_builds_it(self):
        def pooling_of(config):
            model = self.model("minilm-tiny", drop=())
            with open(os.path.join(model, "1_Pooling", "config.json"), "w") as f:
                json.dump({"word_embedding_dimension": 64, **config}, f)
            f = Sbert(self.convert(model))
            return {m for m in ("cls", "mean", "max", "mean_sqrt_len", "weightedmean",
                                "lasttoken") if f.value("pooling." + m)}
        self.assertEqual(pooling_of({}), {"mean"})  # Pooling's default
        self.assertEqual(pooling_of({"pooling_mode_cls_token": True}), {"cls", "mean"})
        self.assertEqual(pooling_of({"pooling_mode": "max", "pooling_mode_mean_tokens": True}),
                         {"max"})
        self.assertEqual(pooling_of({"pooling_mode": "CLS"}), {"cls"})
        self.assertEqual(pooling_of({"pooling_mode": "mean_sqrt_len_tokens"}), {"mean_sqrt_len"})
        model = self.model("minilm-tiny", drop=())
        edit_json(os.path.join(model, "1_Pooling", "config.json"),
                  lambda c: c.update(pooling_mode="median"))
        self.assertRefused(model, "pooling_mode 'median' is not supported")

    def test_older_names_of_sentence_bert_config(self):
        model = self.model("minilm-tiny", drop=())
        os.remove(os.path.join(model, "sentence_bert_config.json"))
        with open(os.path.join(model, "sentence_roberta_config.json"), "w") as f:
            json.dump({"max_seq_length": 16, "do_lower_case": True}, f)
        f = Sbert(self.convert(model))
        self.assertEqual(f.value("pipeline.max_seq_length"), 16)
        self.assertEqual(f.value("pipeline.do_lower_case"), True)


class TestPipeline(ConverterTest):
    def test_dense_normalize_and_prompts(self):
        model = self.model()
        rng = random.Random(3)
        weight = [[rng.uniform(-1, 1) for _ in range(64)] for _ in range(40)]
        bias = [rng.uniform(-1, 1) for _ in range(40)]
        os.mkdir(os.path.join(model, "2_Dense"))
        write_safetensors(os.path.join(model, "2_Dense", "model.safetensors"),
                          {"linear.weight": weight, "linear.bias": [bias]})
        with open(os.path.join(model, "2_Dense", "config.json"), "w") as f:
            json.dump({"in_features": 64, "out_features": 40, "bias": True,
                       "activation_function": "torch.nn.modules.activation.Tanh"}, f)
        edit_json(os.path.join(model, "modules.json"), lambda m: m.extend([
            {"idx": 2, "name": "2", "path": "2_Dense",
             "type": "sentence_transformers.models.Dense"},
            {"idx": 3, "name": "3", "path": "3_Normalize",
             "type": "sentence_transformers.models.Normalize"}]))
        edit_json(os.path.join(model, "config_sentence_transformers.json"), lambda c: c.update(
            prompts={"query": "질문: ", "passage": ""}, default_prompt_name="query",
            similarity_fn_name="dot"))
        f = Sbert(self.convert(model))
        for key, value in {"dense.count": 1, "dense.0.in_features": 64,
                           "dense.0.out_features": 40, "dense.0.activation": "tanh",
                           "dense.0.has_bias": True, "normalize": True, "similarity": "dot",
                           "prompts.names": ["query", "passage"],
                           "prompts.texts": ["질문: ", ""], "prompts.default": "query"}.items():
            self.assertEqual(f.value(key), value, key)
        t = f.tensors["dense.0.weight"]
        self.assertEqual((t["layout"], t["shape"], t["nbytes"]), (1, [40, 64], 48 * 64 * 4))
        self.assertIsNone(first_difference(f.matrix("dense.0.weight"), to_f32(weight)))
        self.assertIsNone(first_difference(f.matrix("dense.0.bias"), to_f32([bias])))
        start = f.data_offset + t["offset"]
        padding = [f.raw[start + 4 * (((n // 16) * 64 + k) * 16 + n % 16):][:4]
                   for n in range(40, 48) for k in range(64)]
        self.assertEqual(set(padding), {bytes(4)})

    def test_unigram_tokenizers(self):
        """XLM-R style (Precompiled + Replace, Metaspace) and the older Pegasus / XLM-R style
        (Precompiled, WhitespaceSplit + Metaspace with add_prefix_space)."""
        pieces = [["<s>", 0.0], ["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0], ["\u2581a", -1.5],
                  ["b", -2.25]]
        charsmap = bytes(range(7))
        precompiled = {"type": "Precompiled",
                       "precompiled_charsmap": base64.b64encode(charsmap).decode()}
        xlmr = {
            "added_tokens": [{"id": 6, "content": "<mask>", "single_word": False, "lstrip": True,
                              "rstrip": False, "normalized": False, "special": True}],
            "normalizer": {"type": "Sequence", "normalizers": [
                precompiled, {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]},
            "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581",
                              "prepend_scheme": "always", "split": True},
            "post_processor": {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0]},
            "model": {"type": "Unigram", "unk_id": 3, "vocab": pieces},
        }
        pegasus = dict(xlmr, normalizer=precompiled, pre_tokenizer={
            "type": "Sequence", "pretokenizers": [
                {"type": "WhitespaceSplit"},
                {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": True}]},
            post_processor={"type": "TemplateProcessing", "single": [
                {"Sequence": {"id": "A", "type_id": 0}},
                {"SpecialToken": {"id": "</s>", "type_id": 0}}],
                "special_tokens": {"</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}}})
        for name, tokenizer, expected in (
                ("xlmr", xlmr, {"tokenizer.replace.patterns": ["  +"],
                                "tokenizer.replace.contents": [" "],
                                "tokenizer.pretokenizer": "metaspace",
                                "tokenizer.prefix_ids": [0]}),
                ("pegasus", pegasus, {"tokenizer.replace.patterns": [],
                                      "tokenizer.pretokenizer": "whitespace",
                                      "tokenizer.prefix_ids": []})):
            with self.subTest(name):
                model = self.model()
                with open(os.path.join(model, "tokenizer.json"), "w") as f:
                    json.dump(tokenizer, f)
                f = Sbert(self.convert(model))
                expected.update({
                    "tokenizer.model": "unigram", "tokenizer.unk_id": 3,
                    "tokenizer.vocab": [p for p, _ in pieces] + ["<mask>"],
                    "tokenizer.scores": [s for _, s in pieces], "tokenizer.suffix_ids": [2],
                    "tokenizer.normalizer": "precompiled",
                    "tokenizer.precompiled_charsmap": charsmap,
                    "tokenizer.metaspace.replacement": "\u2581",
                    "tokenizer.metaspace.prepend_scheme": "always",
                    "tokenizer.metaspace.split": True, "tokenizer.added.lstrip": [1]})
                for key, value in expected.items():
                    self.assertEqual(f.value(key), value, key)

    def test_camembert_is_written_as_roberta(self):
        model = self.model()
        edit_json(os.path.join(model, "config.json"),
                  lambda c: c.update(model_type="camembert", pad_token_id=3))
        f = Sbert(self.convert(model))
        self.assertEqual((f.value("general.architecture"), f.value("encoder.position_offset")),
                         ("roberta", 4))

    def test_progress_summary_line(self):
        out = os.path.join(self.tmp, "summary.sbert")
        code, stdout, stderr = run_converter(os.path.join(MODELS, "ko-tiny"), out)
        self.assertEqual((code, stdout), (0, ""))
        self.assertRegex(stderr, r"^convert_safetensors: wrote .*summary\.sbert \(roberta, "
                                 r"29 tensors, [\d.]+ MB, f32\) in [\d.]+ s\n$")


class TestCrossEncoder(ConverterTest):
    """CrossEncoder folders (*ForSequenceClassification, no modules.json)."""

    def cross_encoder(self, name):
        path = os.path.join(self.tmp, f"{name}-{len(os.listdir(self.tmp))}")
        shutil.copytree(os.path.join(CROSS_ENCODERS, name), path)
        return path

    def test_keys_of_the_three_layouts(self):
        bert_pair = {"tokenizer.pair.prefix_ids": [101], "tokenizer.pair.middle_ids": [102],
                     "tokenizer.pair.suffix_ids": [102], "tokenizer.pair.prefix_type_ids": [0],
                     "tokenizer.pair.middle_type_ids": [0], "tokenizer.pair.suffix_type_ids": [1],
                     "tokenizer.pair.a_type_id": 0, "tokenizer.pair.b_type_id": 1}
        xlmr_pair = {"tokenizer.pair.prefix_ids": [0], "tokenizer.pair.middle_ids": [2, 2],
                     "tokenizer.pair.suffix_ids": [2], "tokenizer.pair.middle_type_ids": [0, 0],
                     "tokenizer.pair.suffix_type_ids": [0], "tokenizer.pair.b_type_id": 0}
        klue_pair = {"tokenizer.pair.prefix_ids": [0], "tokenizer.pair.middle_ids": [2],
                     "tokenizer.pair.suffix_ids": [2], "tokenizer.pair.suffix_type_ids": [0],
                     "tokenizer.pair.b_type_id": 0}
        for name, arch, labels, activation, pair in (
                ("ce-minilm", "bert", ["LABEL_0"], "identity", bert_pair),
                ("ce-xlmr", "xlm-roberta", ["LABEL_0"], "sigmoid", xlmr_pair),
                ("ce-ko-nli", "roberta", ["contradiction", "entailment", "neutral"], "identity",
                 klue_pair)):
            with self.subTest(name):
                f = Sbert(self.convert(os.path.join(CROSS_ENCODERS, name)))
                expected = {"general.kind": "cross-encoder", "general.architecture": arch,
                            "classifier.num_labels": len(labels), "classifier.labels": labels,
                            "classifier.activation": activation, "pipeline.max_seq_length": 512,
                            "pipeline.do_lower_case": False, **pair}
                for key, value in expected.items():
                    self.assertEqual(f.value(key), value, key)
                for key in ("pooling.cls", "dense.count", "normalize", "similarity"):
                    self.assertNotIn(key, f.kv)

    def test_heads_are_stored_in_f32_under_one_pair_of_names(self):
        for name, dense, out_proj in (("ce-minilm", "bert.pooler.dense", "classifier"),
                                      ("ce-ko-nli", "classifier.dense", "classifier.out_proj")):
            for dtype in ("f32", "int8"):
                with self.subTest(name=name, dtype=dtype):
                    source = os.path.join(CROSS_ENCODERS, name, "model.safetensors")
                    f = Sbert(self.convert(os.path.join(CROSS_ENCODERS, name), "--dtype", dtype))
                    for stored, original in (("classifier.dense", dense),
                                             ("classifier.out_proj", out_proj)):
                        weight = f.tensors[stored + ".weight"]
                        self.assertEqual((weight["dtype"], weight["layout"]), (0, 1))
                        self.assertIsNone(first_difference(
                            f.matrix(stored + ".weight"),
                            safetensors_rows(source, original + ".weight")))
                        self.assertIsNone(first_difference(
                            f.matrix(stored + ".bias"),
                            safetensors_rows(source, original + ".bias")))

    def test_activation_rules(self):
        """sentence-transformers' default: the class config.json names (the >= 4 key first),
        else Sigmoid for one label, Identity for more."""
        for edit, expected in (
                (lambda c: c.pop("sbert_ce_default_activation_function"), "sigmoid"),
                (lambda c: c.update(sbert_ce_default_activation_function=
                                    "torch.nn.modules.activation.Tanh"), "tanh"),
                (lambda c: c.update(sentence_transformers={
                    "activation_fn": "torch.nn.modules.activation.Sigmoid"}), "sigmoid"),
                (lambda c: (c.pop("sbert_ce_default_activation_function"),
                            c.update(id2label={"0": "a", "1": "b"})), "identity")):
            with self.subTest(expected):
                model = self.cross_encoder("ce-minilm")
                edit_json(os.path.join(model, "config.json"), edit)
                if expected == "identity":  # two labels need a two-row classifier
                    path = os.path.join(model, "model.safetensors")
                    header, _ = safetensors_header(path)
                    tensors = {n: safetensors_rows(path, n) for n in header
                               if n != "__metadata__" and header[n]["dtype"] == "F32"}
                    tensors["classifier.weight"] = tensors["classifier.weight"] * 2
                    tensors["classifier.bias"] = [tensors["classifier.bias"][0] * 2]
                    write_safetensors(path, tensors)
                f = Sbert(self.convert(model))
                self.assertEqual(f.value("classifier.activation"), expected)

    def test_xlmr_tokenizer_feeds_no_token_types(self):
        """A BERT-style template with type 1 for b, under a tokenizer class without
        token_type_ids (XLMRobertaTokenizer): the model is fed zeros."""
        model = self.cross_encoder("ce-minilm")
        edit_json(os.path.join(model, "tokenizer_config.json"),
                  lambda c: c.update(tokenizer_class="XLMRobertaTokenizerFast"))
        f = Sbert(self.convert(model))
        self.assertEqual((f.value("tokenizer.pair.suffix_type_ids"),
                          f.value("tokenizer.pair.b_type_id")), ([0], 0))

    def test_refusals(self):
        for name, file, edit, message in (
                ("ce-minilm", "config.json",
                 lambda c: c.update(architectures=["ElectraForSequenceClassification"]),
                 "ElectraForSequenceClassification is not supported"),
                ("ce-minilm", "config.json", lambda c: c.update(model_type="roberta"),
                 "BertForSequenceClassification with model_type 'roberta'"),
                ("ce-minilm", "config.json", lambda c: c.update(
                    sbert_ce_default_activation_function="my.module.Softplus"),
                 "activation function 'my.module.Softplus'"),
                ("ce-ko-nli", "config.json", lambda c: c.update(id2label={"0": "a", "2": "b"}),
                 "id2label ids must be 0..1"),
                ("ce-minilm", "config.json", lambda c: c.update(architectures=["BertModel"]),
                 "modules.json: not found"),
                ("ce-ko-nli", "tokenizer.json", lambda t: t["post_processor"].update(
                    pair=[{"Sequence": {"id": "A", "type_id": 0}}]), "pair template")):
            with self.subTest(message):
                model = self.cross_encoder(name)
                edit_json(os.path.join(model, file), edit)
                self.assertRefused(model, message)

    def test_missing_head_tensor(self):
        model = self.cross_encoder("ce-minilm")
        path = os.path.join(model, "model.safetensors")
        header, _ = safetensors_header(path)
        write_safetensors(path, {n: safetensors_rows(path, n) for n in header
                                 if n != "__metadata__" and header[n]["dtype"] == "F32"
                                 and not n.startswith("bert.pooler")})
        self.assertRefused(model, "pooler.dense.weight is missing")


class TestMPNet(ConverterTest):
    """sentence-transformers/all-mpnet-base-v2's layout (tests/data/models/mpnet-tiny)."""

    def source(self, name):
        return safetensors_rows(os.path.join(MODELS, "mpnet-tiny", "model.safetensors"), name)

    def test_keys_and_tensors(self):
        f = Sbert(self.convert(self.model("mpnet-tiny", drop=())))
        for key, value in {"general.architecture": "mpnet", "encoder.type_vocab_size": 0,
                           "encoder.pad_token_id": 1, "encoder.position_offset": 2,
                           "encoder.relative_attention_num_buckets": 32,
                           "encoder.relative_attention_max_distance": 128,
                           "tokenizer.model": "wordpiece", "tokenizer.unk_id": 104,
                           "tokenizer.pad_id": 1, "tokenizer.prefix_ids": [0],
                           "tokenizer.suffix_ids": [2], "tokenizer.bert.lowercase": True,
                           "tokenizer.added.id": [0, 1, 2, 3, 104, 30526],
                           "tokenizer.added.lstrip": [0, 0, 0, 0, 0, 1],
                           "pipeline.max_seq_length": 384, "normalize": True}.items():
            self.assertEqual(f.value(key), value, key)
        self.assertNotIn("embeddings.token_type_embeddings.weight", f.tensors)
        bias = f.tensors["encoder.relative_attention_bias.weight"]
        self.assertEqual((bias["dtype"], bias["layout"], bias["shape"]), (0, 0, [32, 2]))
        self.assertIsNone(first_difference(
            f.matrix("encoder.relative_attention_bias.weight"),
            self.source("encoder.relative_attention_bias.weight")))
        p = "encoder.layer.1.attention."
        qkv = sum((self.source(p + f"attn.{x}.weight") for x in "qkv"), [])
        self.assertIsNone(first_difference(f.matrix(p + "qkv.weight"), qkv))
        self.assertIsNone(first_difference(f.matrix(p + "output.dense.weight"),
                                           self.source(p + "attn.o.weight")))
        self.assertIsNone(first_difference(f.matrix(p + "output.LayerNorm.weight"),
                                           self.source(p + "LayerNorm.weight")))

    def test_relative_bias_stays_f32_in_every_dtype(self):
        for dtype in ("f16", "int8"):
            with self.subTest(dtype):
                f = Sbert(self.convert(self.model("mpnet-tiny", drop=()), "--dtype", dtype))
                self.assertEqual(f.tensors["encoder.relative_attention_bias.weight"]["dtype"], 0)

    def test_mpnet_prefix_gives_the_same_file(self):
        model = self.model("mpnet-tiny", drop=())
        reference = self.convert(model)
        edit_safetensors_header(os.path.join(model, "model.safetensors"), lambda h: [
            h.update({"mpnet." + n: h.pop(n)}) for n in list(h) if n != "__metadata__"])
        self.assertSameBytes(reference, self.convert(model))

    def test_settings_transformers_would_not_follow_are_refused(self):
        for key, value, message in (
                ("relative_attention_num_buckets", 64, "relative_attention_num_buckets 64"),
                ("pad_token_id", 0, "pad_token_id 0 is not supported for mpnet")):
            with self.subTest(key):
                model = self.model("mpnet-tiny", drop=())
                edit_json(os.path.join(model, "config.json"), lambda c: c.update({key: value}))
                self.assertRefused(model, message)

    def test_missing_or_misshaped_relative_bias(self):
        name = "encoder.relative_attention_bias.weight"
        for edit, message in ((lambda h: h.pop(name), "missing"),
                              (lambda h: h[name].update(shape=[2, 32]),
                               "shape [2,32], expected [32,2]")):
            with self.subTest(message):
                model = self.model("mpnet-tiny", drop=())
                edit_safetensors_header(os.path.join(model, "model.safetensors"), edit)
                self.assertRefused(model, name, message)

    def test_mpnet_tokenizer_needs_tokenizer_json(self):
        model = self.model("mpnet-tiny", drop=("tokenizer.json",))
        self.assertRefused(model, "MPNetTokenizer cannot be rebuilt from vocab.txt")


if __name__ == "__main__":
    unittest.main()
