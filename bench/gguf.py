#!/usr/bin/env python3
"""GGUF files for make bench: a BERT/RoBERTa sentence-transformers directory as llama.cpp's `bert`
architecture, so that llama.cpp can be timed on the same weights as libsbert (bench/bench_llama.mjs).

    python3 bench/gguf.py HF_DIR OUT.gguf [--type f32|q8_0]   write
    python3 bench/gguf.py --show FILE.gguf                    print the header and tensor table

Written from the GGUF specification (ggml's docs/gguf.md, version 3): a header (magic "GGUF",
version, tensor count, key-value count), typed key-value metadata, a tensor table (name, dims
innermost first, ggml type, offset into the data block), then the data block aligned to
`general.alignment` (32), each tensor starting on an aligned offset. Standard library only.

What llama.cpp's `bert` graph expects, and how this writer meets it:
  - names: token_embd, token_types, position_embd, token_embd_norm; per layer blk.N.attn_q/k/v,
    attn_output, attn_output_norm, ffn_up, ffn_down, layer_output_norm (.weight / .bias).
  - RoBERTa runs as BERT: RoBERTa numbers positions from pad_token_id + 1, BERT from 0, so the
    position table loses its first pad_token_id + 1 rows and context_length shrinks by as much
    (514 -> 512 for ko-sroberta), as llama.cpp's own converter does.
  - the vocabulary in llama.cpp's WordPiece spelling: a continuation loses its "##", every other
    token (special tokens excepted) gains U+2581, the "phantom space" its tokenizer matches.
  - the [CLS] id as BOS and cls id, [SEP] as separator: llama.cpp adds both around every text.
  - Q8_0: blocks of 32 weights along a row, each an f16 scale d = max|x| / 127 and 32 int8
    round(x / d) (half away from zero, as ggml's reference quantizer); 34 bytes per block.
    Only the layers' matrices and the word embeddings are quantized (llama.cpp's converter keeps
    norms, biases, position and token-type tables in f32 too).
"""

import argparse
import json
import os
import struct
import sys
from array import array

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from checkpoint import load_checkpoint, read_json  # noqa: E402  (tools/, standard library)

ALIGNMENT = 32
# ggml tensor types and GGUF metadata value types (the specification's enums).
GGML_F32, GGML_F16, GGML_Q8_0 = 0, 1, 8
Q8_0_BLOCK, Q8_0_BYTES = 32, 34
U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
SCALAR = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f",
          BOOL: "<?", U64: "<Q", I64: "<q", F64: "<d"}
PACKED = {U32: "I", I32: "i", F32: "f"}  # array module codes (4 bytes, little-endian hosts)
FILE_TYPE = {"f32": 0, "q8_0": 7}  # general.file_type: ALL_F32, MOSTLY_Q8_0
TOKEN_NORMAL, TOKEN_CONTROL = 1, 3
POOLING = {"pooling_mode_mean_tokens": 1, "pooling_mode_cls_token": 2}  # llama.cpp's enum


# --- writing -----------------------------------------------------------------------------------

def _string(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _value(vtype, value):
    if vtype == STRING:
        return _string(value)
    if vtype == ARRAY:
        etype, items = value
        head = struct.pack("<IQ", etype, len(items))
        if etype in PACKED:  # a long array of numbers in one call
            return head + array(PACKED[etype], items).tobytes()
        return head + b"".join(_value(etype, v) for v in items)
    return struct.pack(SCALAR[vtype], value)


def _align(n):
    return n + (ALIGNMENT - n % ALIGNMENT) % ALIGNMENT


def write_gguf(path, metadata, tensors):
    """metadata: [(key, value type, value)]; tensors: [(name, dims innermost first, ggml type,
    data bytes)]. The tensors' data follow the table in the same order."""
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(metadata)))
    for key, vtype, value in metadata:
        out += _string(key) + struct.pack("<I", vtype) + _value(vtype, value)
    offset = 0
    for name, dims, ggml_type, data in tensors:
        out += _string(name) + struct.pack("<I", len(dims))
        out += struct.pack(f"<{len(dims)}Q", *dims) + struct.pack("<IQ", ggml_type, offset)
        offset = _align(offset + len(data))
    with open(path, "wb") as f:
        f.write(out + bytes(_align(len(out)) - len(out)))
        for _, _, _, data in tensors:
            f.write(data)
            f.write(bytes(_align(len(data)) - len(data)))


def quantize_q8_0(floats):
    """float32 values (a whole number of rows whose length is a multiple of 32) -> Q8_0 bytes."""
    out = bytearray()
    pack_scale = struct.Struct("<e").pack
    for i in range(0, len(floats), Q8_0_BLOCK):
        block = floats[i:i + Q8_0_BLOCK]
        amax = max(max(block), -min(block))
        d = amax / 127.0
        inv = 1.0 / d if d else 0.0
        out += pack_scale(d)
        out += array("b", [int(x * inv + 0.5) if x >= 0 else int(x * inv - 0.5)
                           for x in block]).tobytes()
    return bytes(out)


def _floats(tensor):
    raw = tensor.read()
    if tensor.dtype == "F32":
        return array("f", bytes(raw))
    if tensor.dtype == "F16":
        return array("f", struct.unpack(f"<{len(raw) // 2}e", raw))
    if tensor.dtype == "BF16":  # the upper half of a float32
        wide = bytearray(len(raw) * 2)
        wide[2::4], wide[3::4] = bytes(raw[0::2]), bytes(raw[1::2])
        return array("f", bytes(wide))
    raise ValueError(f"tensor dtype {tensor.dtype} is not floating point")


def _tokenizer_metadata(hf_dir):
    tok = read_json(os.path.join(hf_dir, "tokenizer.json"))
    model = tok.get("model", {})
    if model.get("type") != "WordPiece":
        raise ValueError(f"{hf_dir}: tokenizer model {model.get('type')}: only WordPiece "
                         "(llama.cpp's `bert` tokenizer) is written")
    vocab = model["vocab"]
    tokens = [None] * (max(vocab.values()) + 1)
    for piece, i in vocab.items():
        tokens[i] = piece
    special = {a["id"] for a in tok.get("added_tokens", []) if a.get("special")}
    types = [TOKEN_CONTROL if i in special else TOKEN_NORMAL for i in range(len(tokens))]
    spelled = [t if i in special else t[2:] if t.startswith("##") else "\u2581" + t
               for i, t in enumerate(tokens)]
    smap = read_json(os.path.join(hf_dir, "special_tokens_map.json"), required=False)

    def special_id(role, default):
        v = smap.get(role, default)
        v = v.get("content") if isinstance(v, dict) else v
        return vocab[v]
    cls, sep = special_id("cls_token", "[CLS]"), special_id("sep_token", "[SEP]")
    return [
        ("tokenizer.ggml.model", STRING, "bert"),
        ("tokenizer.ggml.pre", STRING, "default"),
        ("tokenizer.ggml.tokens", ARRAY, (STRING, spelled)),
        ("tokenizer.ggml.token_type", ARRAY, (I32, types)),
        ("tokenizer.ggml.bos_token_id", U32, cls),
        ("tokenizer.ggml.cls_token_id", U32, cls),
        ("tokenizer.ggml.seperator_token_id", U32, sep),  # llama.cpp's spelling of the key
        ("tokenizer.ggml.unknown_token_id", U32, special_id("unk_token", "[UNK]")),
        ("tokenizer.ggml.padding_token_id", U32, special_id("pad_token", "[PAD]")),
        ("tokenizer.ggml.mask_token_id", U32, special_id("mask_token", "[MASK]")),
        ("tokenizer.ggml.add_bos_token", BOOL, True),
        ("tokenizer.ggml.add_sep_token", BOOL, True),
    ]


def hf_to_gguf(hf_dir, out_path, qtype="f32", log=print):
    cfg = read_json(os.path.join(hf_dir, "config.json"))
    model_type = cfg.get("model_type")
    if model_type not in ("bert", "roberta"):
        raise ValueError(f"{hf_dir}: model_type {model_type!r}: only bert and roberta")
    pooling_cfg = read_json(os.path.join(hf_dir, "1_Pooling", "config.json"), required=False)
    pooling = next((v for k, v in POOLING.items() if pooling_cfg.get(k)), 1)
    # RoBERTa's positions start at pad_token_id + 1: those rows are never used by BERT's numbering.
    skip = cfg["pad_token_id"] + 1 if model_type == "roberta" else 0
    n_ctx = cfg["max_position_embeddings"] - skip
    H, L = cfg["hidden_size"], cfg["num_hidden_layers"]
    ckpt = load_checkpoint(hf_dir)
    prefix = next((p for p in ("", "roberta.", "bert.")
                   if p + "embeddings.word_embeddings.weight" in ckpt.tensors), "")

    def src(name):
        return ckpt.tensors[prefix + name]

    names = [("token_embd.weight", "embeddings.word_embeddings.weight", True),
             ("token_types.weight", "embeddings.token_type_embeddings.weight", False),
             ("position_embd.weight", "embeddings.position_embeddings.weight", False),
             ("token_embd_norm.weight", "embeddings.LayerNorm.weight", False),
             ("token_embd_norm.bias", "embeddings.LayerNorm.bias", False)]
    for i in range(L):
        p = f"encoder.layer.{i}."
        for gg, hf, quant in (("attn_q", "attention.self.query", True),
                              ("attn_k", "attention.self.key", True),
                              ("attn_v", "attention.self.value", True),
                              ("attn_output", "attention.output.dense", True),
                              ("attn_output_norm", "attention.output.LayerNorm", False),
                              ("ffn_up", "intermediate.dense", True),
                              ("ffn_down", "output.dense", True),
                              ("layer_output_norm", "output.LayerNorm", False)):
            names.append((f"blk.{i}.{gg}.weight", p + hf + ".weight", quant))
            names.append((f"blk.{i}.{gg}.bias", p + hf + ".bias", False))
    tensors = []
    for gg, hf, quant in names:
        t = src(hf)
        values = _floats(t)
        shape = list(t.shape)
        if gg == "position_embd.weight":
            values, shape = values[skip * H:], [shape[0] - skip] + shape[1:]
        dims = tuple(reversed(shape))  # GGUF lists the innermost (contiguous) dimension first
        if quant and qtype == "q8_0" and dims[0] % Q8_0_BLOCK == 0:
            tensors.append((gg, dims, GGML_Q8_0, quantize_q8_0(values)))
        else:
            tensors.append((gg, dims, GGML_F32, values.tobytes()))
    metadata = [
        ("general.architecture", STRING, "bert"),
        ("general.name", STRING, os.path.basename(os.path.normpath(hf_dir))),
        ("general.file_type", U32, FILE_TYPE[qtype]),
        ("general.alignment", U32, ALIGNMENT),
        ("bert.context_length", U32, n_ctx),
        ("bert.embedding_length", U32, H),
        ("bert.feed_forward_length", U32, cfg["intermediate_size"]),
        ("bert.block_count", U32, L),
        ("bert.attention.head_count", U32, cfg["num_attention_heads"]),
        ("bert.attention.layer_norm_epsilon", F32, cfg.get("layer_norm_eps", 1e-12)),
        ("bert.attention.causal", BOOL, False),
        ("bert.pooling_type", U32, pooling),
        ("tokenizer.ggml.token_type_count", U32, cfg.get("type_vocab_size", 1)),
    ] + _tokenizer_metadata(hf_dir)
    if qtype == "q8_0":
        metadata.append(("general.quantization_version", U32, 2))
    write_gguf(out_path, metadata, tensors)
    log(f"gguf.py: {out_path}: {qtype}, {len(tensors)} tensors, n_ctx {n_ctx}, "
        f"{os.path.getsize(out_path) / 1e6:.1f} MB")


# --- reading (the header and the tensor table; for tests and --show) --------------------------

class _Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, fmt):
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return values[0] if len(values) == 1 else values

    def string(self):
        n = self.take("<Q")
        s = bytes(self.data[self.pos:self.pos + n]).decode("utf-8")
        self.pos += n
        return s

    def value(self, vtype):
        if vtype == STRING:
            return self.string()
        if vtype == ARRAY:
            etype, n = self.take("<IQ")
            return [self.value(etype) for _ in range(n)]
        return self.take(SCALAR[vtype])


def read_gguf(path):
    """{"version", "metadata": {key: value}, "tensors": [{name, dims, type, offset}],
    "data_start"}: offsets are absolute in the file."""
    with open(path, "rb") as f:
        data = f.read()
    r = _Reader(data)
    if data[:4] != b"GGUF":
        raise ValueError(f"{path}: not a GGUF file (magic {data[:4]!r})")
    r.pos = 4
    version, n_tensors, n_kv = r.take("<IQQ")
    metadata = {}
    for _ in range(n_kv):
        key = r.string()
        metadata[key] = r.value(r.take("<I"))
    tensors = []
    for _ in range(n_tensors):
        name = r.string()
        dims = r.take(f"<{r.take('<I')}Q")
        dims = dims if isinstance(dims, tuple) else (dims,)
        ggml_type, offset = r.take("<IQ")
        tensors.append({"name": name, "dims": dims, "type": ggml_type, "offset": offset})
    alignment = metadata.get("general.alignment", ALIGNMENT)
    start = r.pos + (alignment - r.pos % alignment) % alignment
    for t in tensors:
        t["offset"] += start
    return {"version": version, "metadata": metadata, "tensors": tensors, "data_start": start}


def main():
    parser = argparse.ArgumentParser(prog="gguf.py", description=__doc__.split("\n")[0])
    parser.add_argument("src", metavar="HF_DIR|FILE.gguf")
    parser.add_argument("out", nargs="?", metavar="OUT.gguf")
    parser.add_argument("--type", choices=FILE_TYPE, default="f32")
    parser.add_argument("--show", action="store_true", help="print a GGUF file's header")
    args = parser.parse_args()
    if args.show:
        g = read_gguf(args.src)
        for k, v in g["metadata"].items():
            print(f"{k} = {v[:8] + ['...'] if isinstance(v, list) and len(v) > 8 else v}")
        for t in g["tensors"]:
            print(f"{t['name']} {list(t['dims'])} type {t['type']} at {t['offset']}")
        return
    if not args.out:
        parser.error("OUT.gguf is required (or --show)")
    hf_to_gguf(args.src, args.out, args.type)


if __name__ == "__main__":
    main()
