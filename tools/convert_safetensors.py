#!/usr/bin/env python3
"""Convert a sentence-transformers model directory into one libsbert `.sbert` file.

    python3 tools/convert_safetensors.py MODEL_DIR OUT.sbert [--dtype f32|f16|bf16|int8] [--quiet]

MODEL_DIR is a SentenceTransformer (modules.json: Transformer, Pooling, Dense, Normalize) or a
CrossEncoder (a Hugging Face *ForSequenceClassification folder: BERT, RoBERTa, XLM-RoBERTa); the
file records which (general.kind).

The `.sbert` file (specified in docs/FORMAT.md, the contract with libsbert/model/model_file.c) is a
96-byte header, a typed key/value section (hyper-parameters, the tokenizer, the pooling / Dense /
Normalize pipeline, prompts), a tensor table, then 64-byte aligned tensor data. The CRC-32 of the
header covers everything before the data. Linear weights are stored in the PANEL16 order that
the GEMM kernel reads, and the query/key/value weights of each layer are fused into one matrix.
With --dtype int8 the Linear weights are quantized to int8 with one scale per output row
(PANEL16_Q4 order) and the other large tensors are stored as f16.

Everything is read from the directory the way sentence-transformers reads it: config.json, the
weights (model.safetensors, sharded safetensors, or pytorch_model.bin unpickled without running
code), tokenizer.json (or vocab.txt + tokenizer_config.json), modules.json and the module
folders. Anything the C library does not implement is refused with a message naming it. The
output depends only on the tensor values, so safetensors and .bin copies of a model give
byte-identical files. Standard library only.
"""

import argparse
import base64
import os
import stat
import struct
import sys
import time
import zlib
from array import array
from dataclasses import dataclass
from functools import lru_cache
from math import isfinite, prod
from typing import Callable

from checkpoint import InputError, load_checkpoint, read_json

# --- the file format (docs/FORMAT.md) ---------------------------------------------------------

MAGIC, VERSION, HEADER_SIZE, ALIGN = b"SBERTMF\0", 1, 96, 64
HEADER = struct.Struct("<8sII9QII")  # magic, version, header_size, 9 x u64, checksum, reserved
U32, I32, F32, BOOL, STR, ARR_I32, ARR_F32, ARR_STR, BYTES = range(1, 10)  # value types
DTYPE_F32, DTYPE_F16, DTYPE_BF16, DTYPE_I8 = 0, 1, 2, 3
DTYPES = {"f32": DTYPE_F32, "f16": DTYPE_F16, "bf16": DTYPE_BF16, "int8": DTYPE_I8}
ITEM_SIZE = {DTYPE_F32: 4, DTYPE_F16: 2, DTYPE_BF16: 2, DTYPE_I8: 1}
ROW_MAJOR, PANEL16, PANEL16_Q4 = 0, 1, 2
PANEL, QUAD = 16, 4

# --- what the C library implements ----------------------------------------------------------

ARCHITECTURES = {"bert": "bert", "roberta": "roberta", "xlm-roberta": "xlm-roberta",
                 "camembert": "roberta",  # CamemBERT is the RoBERTa network
                 "mpnet": "mpnet"}
ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "relu")
# Class defaults of transformers' BertConfig / RobertaConfig, for keys old config.json files omit.
CONFIG_DEFAULTS = {"hidden_act": "gelu", "layer_norm_eps": 1e-12, "type_vocab_size": 2,
                   "position_embedding_type": "absolute"}
MODULES = {"sentence_transformers.models.Transformer": "Transformer",
           "sentence_transformers.models.Pooling": "Pooling",
           "sentence_transformers.models.Dense": "Dense",
           "sentence_transformers.models.Normalize": "Normalize"}
# FORMAT.md key suffix -> 1_Pooling/config.json key, in the order the keys are written.
POOLING_MODES = {"cls": "pooling_mode_cls_token", "mean": "pooling_mode_mean_tokens",
                 "max": "pooling_mode_max_tokens",
                 "mean_sqrt_len": "pooling_mode_mean_sqrt_len_tokens",
                 "weightedmean": "pooling_mode_weightedmean_tokens",
                 "lasttoken": "pooling_mode_lasttoken"}
DENSE_ACTIVATIONS = {"Tanh": "tanh", "Identity": "identity", "ReLU": "relu", "GELU": "gelu",
                     "Sigmoid": "sigmoid"}  # torch.nn class name -> FORMAT.md name
SIMILARITIES = ("cosine", "dot", "euclidean", "manhattan")
MODEL_PREFIXES = ("roberta.", "bert.", "mpnet.", "model.")
# The Hugging Face names of a layer's attention tensors (under `encoder.layer.i.`): the query, key
# and value Linears, the output Linear and the LayerNorm after the residual. An MPNet file stores
# them under the BERT names (docs/FORMAT.md), so the engine reads every architecture alike.
ATTENTION_NAMES = {
    "bert": (("attention.self.query", "attention.self.key", "attention.self.value"),
             "attention.output.dense", "attention.output.LayerNorm"),
    "mpnet": (("attention.attn.q", "attention.attn.k", "attention.attn.v"),
              "attention.attn.o", "attention.LayerNorm"),
}
# transformers' MPNetModel buckets relative positions with MPNetEncoder.relative_position_bucket
# called with its default arguments, num_buckets=32 and max_distance=128, whatever config.json
# says (relative_attention_num_buckets only sizes the table; no config key sets the distance).
# These are the values the .sbert file records for the engine.
MPNET_BUCKETS, MPNET_MAX_DISTANCE = 32, 128
# MPNetEmbeddings numbers positions from its padding_idx, fixed at 1, plus 1.
MPNET_PADDING_IDX = 1
# CrossEncoder architectures -> (model types, the classification head's two Linear layers as
# Hugging Face names them). Both heads compute out_proj(tanh(dense(h[first token]))): BERT's
# pooler then classifier, RoBERTa's classifier.dense then classifier.out_proj; the file stores
# either as classifier.dense / classifier.out_proj.
CROSS_ENCODERS = {
    "BertForSequenceClassification": (("bert",), ("pooler.dense", "classifier")),
    "RobertaForSequenceClassification": (("roberta", "camembert"),
                                         ("classifier.dense", "classifier.out_proj")),
    "XLMRobertaForSequenceClassification": (("xlm-roberta",),
                                            ("classifier.dense", "classifier.out_proj")),
}
# Tokenizer classes whose model_input_names leave out token_type_ids: their models are fed
# zeros whatever the post-processor's type ids say.
NO_TOKEN_TYPES = {"RobertaTokenizer", "XLMRobertaTokenizer", "CamembertTokenizer"}
DEFAULT_TOKENIZER = {"bert": "BertTokenizer", "roberta": "RobertaTokenizer",
                     "camembert": "CamembertTokenizer", "xlm-roberta": "XLMRobertaTokenizer",
                     "mpnet": "MPNetTokenizer"}
# transformers' tokenizer classes whose fast __init__ rebuilds tokenizer.json's BertNormalizer
# from tokenizer_config.json: do_lower_case (default true), strip_accents, tokenize_chinese_chars.
CONFIGURED_NORMALIZER = ("BertTokenizer", "MPNetTokenizer", "DistilBertTokenizer",
                         "ElectraTokenizer")
# The file names sentence-transformers' Transformer module looks for its settings under, in order.
TRANSFORMER_CONFIGS = ("sentence_bert_config.json", "sentence_roberta_config.json",
                       "sentence_distilbert_config.json", "sentence_camembert_config.json",
                       "sentence_albert_config.json", "sentence_xlm-roberta_config.json",
                       "sentence_xlnet_config.json")


# --- key/value section ------------------------------------------------------------------------

class KeyValues:
    """The key/value section: entries are encoded as they are added, in a fixed order."""

    def __init__(self):
        self.entries = {}

    def add(self, key, kind, value):
        assert key not in self.entries, key
        self.entries[key] = struct.pack("<I", len(key)) + key.encode() + \
            struct.pack("<I", kind) + _encode_value(kind, value)

    def encode(self):
        return b"".join(self.entries.values())


def _encode_value(kind, value):
    if kind == BOOL:
        return struct.pack("<I", bool(value))
    if kind == U32:
        return struct.pack("<I", value)
    if kind == I32:
        return struct.pack("<i", value)
    if kind == F32:
        return struct.pack("<f", value)
    if kind in (STR, BYTES):
        data = _utf8(value) if kind == STR else bytes(value)
        return struct.pack("<I", len(data)) + data
    if kind == ARR_I32:
        return struct.pack(f"<I{len(value)}i", len(value), *value)
    if kind == ARR_F32:
        return struct.pack(f"<I{len(value)}f", len(value), *value)
    assert kind == ARR_STR
    return struct.pack("<I", len(value)) + b"".join(_encode_value(STR, s) for s in value)


def _utf8(text):
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"string {text!r} is not valid Unicode") from None


# --- element conversions ----------------------------------------------------------------------

# Floats per f16/bf16 conversion step: small enough that the big-integer temporaries below reuse
# freed heap memory; with megabyte chunks, fresh pages made the conversion several times slower.
CHUNK = 1 << 16


def as_f32(tensor):
    """The tensor's values as little-endian float32 bytes (F16 and BF16 widen exactly)."""
    raw = tensor.read()
    if tensor.dtype == "F32":
        return raw
    widen = f16_to_f32 if tensor.dtype == "F16" else bf16_to_f32
    return b"".join(widen(bytes(raw[i:i + 2 * CHUNK])) for i in range(0, len(raw), 2 * CHUNK))


def from_f32(data, dtype, name):
    """float32 bytes -> bytes of `dtype`, rounded to nearest even as torch's .half() and
    .bfloat16() do, CHUNK floats at a time."""
    convert = {DTYPE_F16: f32_to_f16, DTYPE_BF16: f32_to_bf16}.get(dtype)
    if convert is None:
        return data
    try:
        return b"".join(convert(data[i:i + 4 * CHUNK]) for i in range(0, len(data), 4 * CHUNK))
    except OverflowError:
        raise InputError(f"tensor {name} has values beyond the f16 range (65504): "
                         "convert with --dtype bf16 or f32") from None


# The two conversions below treat a buffer of n float32s as one Python integer with a float in
# each 32-bit lane, so every step is a single big-integer operation, done in C. Each step is
# chosen so that no lane carries or borrows into its neighbour.

@lru_cache(maxsize=16)
def _lanes(pattern, n):
    """An integer holding `pattern` in each of n 32-bit lanes."""
    return int.from_bytes(struct.pack("<I", pattern) * n, "little")


def _at_least(x, bound, n):
    """1 in each lane of x (values below 2**31) that is >= bound, else 0."""
    return ((x + _lanes(0x80000000 - bound, n)) >> 31) & _lanes(1, n)


def _low_halves(x, n):
    """The low 16 bits of each lane, as n little-endian u16."""
    lanes, out = x.to_bytes(4 * n, "little"), bytearray(2 * n)
    out[0::2], out[1::2] = lanes[0::4], lanes[1::4]
    return out


def _in_lanes(data, high=False):
    """Each little-endian u16 of data in the low (or high) half of a 32-bit lane."""
    out, at = bytearray(2 * len(data)), 2 if high else 0
    out[at::4], out[at + 1::4] = data[0::2], data[1::2]
    return out


def bf16_to_f32(data):
    return _in_lanes(data, high=True)  # a bfloat16 is the upper half of a float32


def f32_to_bf16(data):
    """float32 -> bfloat16, nearest even like torch. NaNs become 0x7FC0, as in c10::BFloat16's
    scalar rounding (torch's vectorised CPU path writes 0xFFFF: any NaN bits will do)."""
    n = len(data) // 4
    x = int.from_bytes(data, "little")
    nan = _at_least(x & _lanes(0x7FFFFFFF, n), 0x7F800001, n)
    if nan:
        mask = nan * 0xFFFFFFFF
        x = (x & ~mask) | (_lanes(0x7FC00000, n) & mask)
    # Round half to even on bit 16. The largest lane left, -inf 0xFF800000, does not overflow.
    x += _lanes(0x7FFF, n) + ((x >> 16) & _lanes(1, n))
    return _low_halves(x >> 16, n)


def f32_to_f16(data):
    """float32 -> float16, nearest even. Lanes whose result is f16-normal are done as big-integer
    steps; the rare others (f16 subnormals, overflow, inf, NaN) one by one with struct, whose "e"
    format also rounds to nearest even and raises OverflowError past the f16 range."""
    n = len(data) // 4
    x = int.from_bytes(data, "little")
    magnitude = x & _lanes(0x7FFFFFFF, n)
    # 2**-14 <= |f| < 65520 (which would round to 65536): the f16-normal results.
    normal = _at_least(magnitude, 0x38800000, n) & ~_at_least(magnitude, 0x477FF000, n)
    m = magnitude & (normal * 0xFFFFFFFF)
    # Rebias the exponent from 127 to 15 and round half to even on bit 13; tiny lanes stay 0.
    h = (m - normal * 0x38000000 + normal * 0xFFF + ((m >> 13) & _lanes(1, n))) >> 13
    # Keep the 15 bits of exponent and mantissa (the shift brought in bits of the next lane above
    # them) and add the sign.
    out = _low_halves((h & _lanes(0x7FFF, n)) | ((x >> 16) & _lanes(0x8000, n)), n)
    # |f| <= 2**-25 rounds to zero; every other lane that is not normal is done one by one.
    others = (_at_least(magnitude, 0x33000001, n) & ~normal).to_bytes(4 * n, "little")
    values = memoryview(data).cast("f")
    lane = others.find(1)
    while lane >= 0:
        out[lane // 2:lane // 2 + 2] = struct.pack("<e", values[lane // 4])
        lane = others.find(1, lane + 4)
    return out


def f16_to_f32(data):
    """float16 -> float32, exact. Zero and normal lanes as big-integer steps, the rare others
    (subnormals, inf, NaN) one by one with struct."""
    n = len(data) // 2
    x = int.from_bytes(_in_lanes(data), "little")
    magnitude = x & _lanes(0x7FFF, n)
    normal = _at_least(magnitude, 0x0400, n) & ~_at_least(magnitude, 0x7C00, n)
    # Rebias the exponent from 15 to 127 and move exponent and mantissa up by 13 bits.
    f = ((magnitude + normal * (112 << 10)) << 13) & (normal * 0xFFFFFFFF)
    out = bytearray((f | ((x & _lanes(0x8000, n)) << 16)).to_bytes(4 * n, "little"))
    others = (_at_least(magnitude, 1, n) & ~normal).to_bytes(4 * n, "little")
    lane = others.find(1)
    while lane >= 0:
        (value,) = struct.unpack_from("<e", data, lane // 2)
        out[lane:lane + 4] = struct.pack("<f", value)
        lane = others.find(1, lane + 4)
    return out


def panel16(data, rows, cols, item_size):
    """Row-major [rows, cols] -> PANEL16: element (n, k) at ((n // 16) * cols + k) * 16 + n % 16,
    rows past `rows` zero. Each source row lands in one strided slice, copied in C."""
    typecode = {2: "H", 4: "I"}[item_size]
    src, dst = array(typecode), array(typecode, bytes(panel_bytes(rows, cols, item_size)))
    src.frombytes(data)
    for n in range(rows):
        start = (n // PANEL) * PANEL * cols + n % PANEL
        dst[start:start + PANEL * cols:PANEL] = src[n * cols:(n + 1) * cols]
    return dst.tobytes()


def panel_bytes(rows, cols, item_size):
    return -(-rows // PANEL) * PANEL * cols * item_size


def padded_quads(cols):
    return -(-cols // QUAD) * QUAD


def quantize_rows(data, rows, cols, name):
    """float32 [rows, cols] -> (int8 [rows, cols padded to whole quads], float32 scales [rows]):
    q = round(w * 127 / max|w_row|) (half to even), so that w ~ scale * q with scale =
    max|w_row| / 127; an all-zero row gets scale 0."""
    src = array("f")
    src.frombytes(data)
    k4 = padded_quads(cols)
    q, scales = bytearray(rows * k4), array("f")
    for n in range(rows):
        row = src[n * cols:(n + 1) * cols]
        amax = max(map(abs, row), default=0.0)
        if not isfinite(amax):
            raise InputError(f"tensor {name} has a value that is not finite: it cannot be "
                             "quantized to int8")
        inv = 127.0 / amax if amax > 0 else 0.0
        q[n * k4:n * k4 + cols] = array("b", [max(-127, min(127, round(x * inv)))
                                              for x in row]).tobytes()
        scales.append(amax / 127.0)
    return bytes(q), scales.tobytes()


# --- output tensors ---------------------------------------------------------------------------

@dataclass
class OutTensor:
    name: str
    dtype: int
    layout: int
    shape: tuple
    produce: Callable[[], bytes]  # reads and converts the source tensors when written

    @property
    def nbytes(self):
        if self.layout == PANEL16_Q4:
            return panel_bytes(self.shape[0], padded_quads(self.shape[1]), 1)
        if self.layout == PANEL16:
            return panel_bytes(*self.shape, ITEM_SIZE[self.dtype])
        return prod(self.shape) * ITEM_SIZE[self.dtype]


def stored_dtype(dtype):
    """The dtype of the tensors other than Linear weights: int8 files keep them in f16."""
    return DTYPE_F16 if dtype == DTYPE_I8 else dtype


def stacked(name, sources, dtype, layout=ROW_MAJOR):
    """An output tensor made of `sources` stacked along their first dimension."""
    shape = (sum(s.shape[0] for s in sources),) + sources[0].shape[1:]

    def produce():
        data = from_f32(b"".join(as_f32(s) for s in sources), dtype, name)
        return panel16(data, *shape, ITEM_SIZE[dtype]) if layout == PANEL16 else data
    return OutTensor(name, dtype, layout, shape, produce)


def linear_weight(name, sources, dtype):
    """A Linear weight made of `sources` stacked: PANEL16 in `dtype`, or, for int8, the quantized
    weight in PANEL16_Q4 followed by its scales `<name>_scale` (both from one quantization)."""
    if dtype != DTYPE_I8:
        return [stacked(name, sources, dtype, PANEL16)]
    shape = (sum(s.shape[0] for s in sources),) + sources[0].shape[1:]
    quantized = lru_cache(maxsize=1)(lambda: quantize_rows(
        b"".join(as_f32(s) for s in sources), shape[0], shape[1], name))

    def weight():  # a quad of 4 int8 is one uint32 of the PANEL16 order
        return panel16(quantized()[0], shape[0], padded_quads(shape[1]) // QUAD, 4)

    def scales():  # written right after the weight: the quantization is not kept past it
        data = quantized()[1]
        quantized.cache_clear()
        return data
    return [OutTensor(name, DTYPE_I8, PANEL16_Q4, shape, weight),
            OutTensor(name + "_scale", DTYPE_F32, ROW_MAJOR, shape[:1], scales)]


def linear(ckpt, name, out_features, in_features, dtype, bias=True, stored_as=None):
    """A Linear layer: the weight in PANEL16 and `dtype`, the bias in F32; `stored_as` renames."""
    dst = stored_as or name
    weight = ckpt.tensor(name + ".weight", (out_features, in_features))
    tensors = linear_weight(dst + ".weight", [weight], dtype)
    if bias:
        tensors.append(stacked(dst + ".bias", [ckpt.tensor(name + ".bias", (out_features,))],
                               DTYPE_F32))
    return tensors


def layer_norm(ckpt, name, hidden, stored_as=None):
    return [stacked(f"{stored_as or name}.{p}", [ckpt.tensor(f"{name}.{p}", (hidden,))], DTYPE_F32)
            for p in ("weight", "bias")]


def encoder_tensors(ckpt, enc, dtype):
    """The transformer's tensors in FORMAT.md order, each checked against the config."""
    H, I = enc["hidden_size"], enc["intermediate_size"]
    mpnet = enc["architecture"] == "mpnet"
    tables = [("word", enc["vocab_size"]), ("position", enc["max_position_embeddings"])]
    if enc["type_vocab_size"]:  # MPNet has no token types
        tables.append(("token_type", enc["type_vocab_size"]))
    out = [stacked(f"embeddings.{name}_embeddings.weight",
                   [ckpt.tensor(f"embeddings.{name}_embeddings.weight", (rows, H))],
                   stored_dtype(dtype))
           for name, rows in tables]
    out += layer_norm(ckpt, "embeddings.LayerNorm", H)
    if mpnet:  # [buckets, heads]: tiny and added to every score, so kept in F32
        name = "encoder.relative_attention_bias.weight"
        out.append(stacked(name, [ckpt.tensor(name, (enc["relative_attention_num_buckets"],
                                                     enc["num_attention_heads"]))], DTYPE_F32))
    qkv_names, out_name, norm_name = ATTENTION_NAMES["mpnet" if mpnet else "bert"]
    for i in range(enc["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        qkv = [p + x for x in qkv_names]
        out += linear_weight(p + "attention.qkv.weight",
                             [ckpt.tensor(x + ".weight", (H, H)) for x in qkv], dtype)
        out.append(stacked(p + "attention.qkv.bias",
                           [ckpt.tensor(x + ".bias", (H,)) for x in qkv], DTYPE_F32))
        out += linear(ckpt, p + out_name, H, H, dtype,
                      stored_as=p + "attention.output.dense")
        out += layer_norm(ckpt, p + norm_name, H, stored_as=p + "attention.output.LayerNorm")
        out += linear(ckpt, p + "intermediate.dense", I, H, dtype)
        out += linear(ckpt, p + "output.dense", H, I, dtype)
        out += layer_norm(ckpt, p + "output.LayerNorm", H)
    return out


def strip_model_prefix(ckpt):
    """Hugging Face names without the `roberta.` / `bert.` / `model.` prefix of some checkpoints."""
    tensors = {}
    for name, tensor in ckpt.tensors.items():
        short = next((name[len(p):] for p in MODEL_PREFIXES if name.startswith(p)), name)
        if short in tensors:
            raise InputError(f"{ckpt.origin}: tensor {short} appears twice (with and without "
                             "a model prefix)")
        tensors[short] = tensor
    ckpt.tensors = tensors
    return ckpt


# --- the transformer's config.json ------------------------------------------------------------

def read_encoder_config(path):
    cfg = read_json(path, hint=": the Transformer module needs its Hugging Face config")
    model_type = cfg.get("model_type")
    if model_type not in ARCHITECTURES:
        raise InputError(f"{path}: model_type {model_type!r} is not supported "
                         f"(supported: {', '.join(ARCHITECTURES)})")
    mpnet = model_type == "mpnet"
    cfg = {**CONFIG_DEFAULTS, "pad_token_id": 0 if model_type == "bert" else 1,  # class defaults
           "relative_attention_num_buckets": MPNET_BUCKETS,
           **{k: v for k, v in cfg.items() if v is not None}}
    enc = {key: _count(path, cfg, key, minimum=1) for key in (
        "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
        "intermediate_size", "max_position_embeddings") + (() if mpnet else ("type_vocab_size",))}
    enc["type_vocab_size"] = 0 if mpnet else enc["type_vocab_size"]
    if enc["hidden_size"] % enc["num_attention_heads"]:
        raise InputError(f"{path}: hidden_size {enc['hidden_size']} is not a multiple of "
                         f"num_attention_heads {enc['num_attention_heads']}")
    if cfg["hidden_act"] not in ACTIVATIONS:
        raise InputError(f"{path}: hidden_act {cfg['hidden_act']!r} is not supported "
                         f"(supported: {', '.join(ACTIVATIONS)})")
    if cfg["position_embedding_type"] != "absolute":
        raise InputError(f"{path}: position_embedding_type "
                         f"{cfg['position_embedding_type']!r} is not supported (only absolute)")
    if not isinstance(cfg["layer_norm_eps"], (int, float)):
        raise InputError(f"{path}: layer_norm_eps must be a number")
    pad = _count(path, cfg, "pad_token_id")
    enc.update(architecture=ARCHITECTURES[model_type], name=str(cfg.get("_name_or_path", "")),
               tokenizer_class=cfg.get("tokenizer_class") or DEFAULT_TOKENIZER[model_type],
               hidden_act=cfg["hidden_act"], layer_norm_eps=cfg["layer_norm_eps"],
               pad_token_id=pad,
               # RoBERTa numbers positions from pad + 1 (create_position_ids_from_input_ids).
               position_offset=0 if model_type == "bert" else pad + 1)
    if mpnet:
        enc.update(_mpnet_config(path, cfg, pad))
    return enc


def _mpnet_config(path, cfg, pad):
    """MPNet's relative-position settings; configs that transformers would not follow are refused
    rather than converted into a model that computes something else."""
    buckets = _count(path, cfg, "relative_attention_num_buckets", minimum=1)
    if buckets != MPNET_BUCKETS:
        raise InputError(f"{path}: relative_attention_num_buckets {buckets} is not supported: "
                         f"transformers' MPNetModel buckets relative positions into "
                         f"{MPNET_BUCKETS} whatever the config says")
    if pad != MPNET_PADDING_IDX:
        raise InputError(f"{path}: pad_token_id {pad} is not supported for mpnet: transformers' "
                         f"MPNetModel numbers positions from its fixed padding index "
                         f"{MPNET_PADDING_IDX}")
    return {"relative_attention_num_buckets": buckets,
            "relative_attention_max_distance": MPNET_MAX_DISTANCE}


def _count(path, cfg, key, minimum=0):
    value = cfg.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value < 2**31:
        raise InputError(f"{path}: {key} must be an integer >= {minimum}, found {value!r}")
    return value


def encoder_keys(kv, enc):
    kv.add("general.architecture", STR, enc["architecture"])
    kv.add("general.name", STR, enc["name"])
    for key, cfg_key in (("vocab_size", "vocab_size"), ("hidden_size", "hidden_size"),
                         ("num_layers", "num_hidden_layers"), ("num_heads", "num_attention_heads"),
                         ("intermediate_size", "intermediate_size"),
                         ("max_position_embeddings", "max_position_embeddings"),
                         ("type_vocab_size", "type_vocab_size")):
        kv.add("encoder." + key, U32, enc[cfg_key])
    kv.add("encoder.layer_norm_eps", F32, enc["layer_norm_eps"])
    kv.add("encoder.hidden_act", STR, enc["hidden_act"])
    kv.add("encoder.pad_token_id", I32, enc["pad_token_id"])
    kv.add("encoder.position_offset", U32, enc["position_offset"])
    if enc["architecture"] == "mpnet":
        kv.add("encoder.relative_attention_num_buckets", U32,
               enc["relative_attention_num_buckets"])
        kv.add("encoder.relative_attention_max_distance", U32,
               enc["relative_attention_max_distance"])


# --- the tokenizer ----------------------------------------------------------------------------

def tokenizer_keys(kv, directory, tok_config, enc, pair_types=None):
    """The tokenizer.* keys, from tokenizer.json or, without one, from a BERT vocab.txt. With
    pair_types (a cross-encoder's: True when its tokenizer feeds token types), the pair template
    too."""
    # Special tokens as tokenizer_config.json names them, overridden by special_tokens_map.json.
    special = {**tok_config, **read_json(os.path.join(directory, "special_tokens_map.json"),
                                         required=False)}
    path = os.path.join(directory, "tokenizer.json")
    if os.path.isfile(path):
        spec = read_json(path)
        configure_normalizer(spec, tok_config, enc)
    else:
        path = os.path.join(directory, "vocab.txt")
        spec = bert_tokenizer_json(path, tok_config, special)
    try:
        _tokenizer_json_keys(kv, spec, special, enc)
        if pair_types is not None:
            _pair_keys(kv, spec.get("post_processor"), pair_types, enc["vocab_size"])
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, struct.error) as e:
        raise InputError(f"{path}: unexpected structure ({type(e).__name__}: {e})") from None
    except InputError as e:
        raise InputError(f"{path}: {e}") from None


def configure_normalizer(spec, tok_config, enc):
    """tokenizer.json's BertNormalizer as a BERT or MPNet tokenizer class of transformers sets it
    up at load time: from tokenizer_config.json's do_lower_case (true when absent),
    strip_accents and tokenize_chinese_chars, whatever tokenizer.json says."""
    name = str(tok_config.get("tokenizer_class") or enc["tokenizer_class"]).removesuffix("Fast")
    normalizer = spec.get("normalizer")
    if name in CONFIGURED_NORMALIZER and isinstance(normalizer, dict) and \
            normalizer.get("type") == "BertNormalizer":
        normalizer.update(lowercase=tok_config.get("do_lower_case", True),
                          strip_accents=tok_config.get("strip_accents"),
                          handle_chinese_chars=tok_config.get("tokenize_chinese_chars", True))


def bert_tokenizer_json(vocab_path, tok_config, special):
    """The tokenizer.json that transformers' BertConverter makes from vocab.txt and
    tokenizer_config.json, reduced to the parts the converter reads."""
    if tok_config.get("tokenizer_class", "BertTokenizer") not in ("BertTokenizer",
                                                                  "BertTokenizerFast"):
        raise InputError(f"{os.path.dirname(vocab_path)}: no tokenizer.json, and a "
                         f"{tok_config['tokenizer_class']} cannot be rebuilt from vocab.txt: "
                         "save the tokenizer with a fast tokenizer to get tokenizer.json")
    try:
        with open(vocab_path, encoding="utf-8") as f:
            vocab = {token.rstrip("\n"): i for i, token in enumerate(f)}
    except FileNotFoundError:
        raise InputError(f"{os.path.dirname(vocab_path)}: neither tokenizer.json nor vocab.txt "
                         "found") from None
    tokens = {role: _content(special.get(f"{role}_token")) or default for role, default in
              (("unk", "[UNK]"), ("sep", "[SEP]"), ("pad", "[PAD]"), ("cls", "[CLS]"),
               ("mask", "[MASK]"))}
    lowercase = tok_config.get("do_lower_case", True)
    return {
        "added_tokens": sorted(({"id": vocab[t], "content": t, "single_word": False,
                                 "lstrip": False, "rstrip": False, "normalized": False,
                                 "special": True} for t in set(tokens.values()) if t in vocab),
                               key=lambda a: a["id"]),
        "normalizer": {"type": "BertNormalizer", "clean_text": True,
                       "handle_chinese_chars": tok_config.get("tokenize_chinese_chars", True),
                       "strip_accents": tok_config.get("strip_accents"), "lowercase": lowercase},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "BertProcessing",
                           "cls": [tokens["cls"], vocab.get(tokens["cls"])],
                           "sep": [tokens["sep"], vocab.get(tokens["sep"])]},
        "model": {"type": "WordPiece", "vocab": vocab, "unk_token": tokens["unk"]},
    }


def _content(token):
    """A special token as tokenizer_config / special_tokens_map write it: a string or a dict."""
    return token.get("content") if isinstance(token, dict) else token


def _tokenizer_json_keys(kv, spec, special, enc):
    model = spec["model"]
    if model["type"] == "WordPiece":
        vocab, scores, unk_id = _wordpiece_vocab(model)
    elif model["type"] == "Unigram":
        vocab, scores, unk_id = _unigram_vocab(model)
    else:
        raise InputError(f"tokenizer model {model['type']} is not supported (WordPiece, Unigram)")
    added = spec.get("added_tokens") or []
    _append_added_tokens(vocab, added)
    if len(vocab) > enc["vocab_size"]:
        raise InputError(f"{len(vocab)} tokens but the model has only {enc['vocab_size']} "
                         "word embeddings")
    token_to_id = {token: i for i, token in enumerate(vocab)}
    prefix, suffix = _special_ids(spec.get("post_processor"))
    padding = spec.get("padding") or {}
    pad_id = padding.get("pad_id", token_to_id.get(_content(special.get("pad_token")),
                                                   enc["pad_token_id"]))
    named_ids = [("unk", unk_id), ("pad", pad_id)] + \
        [("post-processor", i) for i in prefix + suffix] + \
        [(f"added token {a['content']!r}", a["id"]) for a in added]
    for what, i in named_ids:
        if not isinstance(i, int) or not 0 <= i < len(vocab):
            raise InputError(f"the {what} id {i!r} is outside the vocabulary (0..{len(vocab) - 1})")

    kv.add("tokenizer.model", STR, model["type"].lower())
    kv.add("tokenizer.vocab", ARR_STR, vocab)
    kv.add("tokenizer.unk_id", I32, unk_id)
    kv.add("tokenizer.pad_id", I32, pad_id)
    kv.add("tokenizer.prefix_ids", ARR_I32, prefix)
    kv.add("tokenizer.suffix_ids", ARR_I32, suffix)
    kv.add("tokenizer.added.content", ARR_STR, [a["content"] for a in added])
    kv.add("tokenizer.added.id", ARR_I32, [a["id"] for a in added])
    for flag in ("lstrip", "rstrip", "single_word", "normalized", "special"):
        kv.add("tokenizer.added." + flag, ARR_I32, [int(bool(a[flag])) for a in added])
    if model["type"] == "WordPiece":
        kv.add("tokenizer.wordpiece.prefix", STR, model.get("continuing_subword_prefix", "##"))
        kv.add("tokenizer.wordpiece.max_input_chars_per_word", U32,
               model.get("max_input_chars_per_word", 100))
    else:
        kv.add("tokenizer.scores", ARR_F32, scores)
    _normalizer_keys(kv, spec.get("normalizer"))
    _pretokenizer_keys(kv, spec.get("pre_tokenizer"))


def _wordpiece_vocab(model):
    vocab_map = model["vocab"]
    vocab = [None] * len(vocab_map)
    for token, i in vocab_map.items():
        if not 0 <= i < len(vocab) or vocab[i] is not None:
            raise InputError(f"WordPiece vocab ids are not 0..{len(vocab) - 1} (token {token!r} "
                             f"has id {i})")
        vocab[i] = token
    unk = model.get("unk_token", "[UNK]")
    if unk not in vocab_map:
        raise InputError(f"the unk_token {unk!r} is not in the vocabulary")
    return vocab, None, vocab_map[unk]


def _unigram_vocab(model):
    if model.get("byte_fallback"):
        raise InputError("Unigram byte_fallback is not supported")
    if model.get("unk_id") is None:
        raise InputError("a Unigram model without unk_id is not supported")
    return [p for p, _ in model["vocab"]], [float(s) for _, s in model["vocab"]], model["unk_id"]


def _append_added_tokens(vocab, added):
    """Added tokens may extend the vocabulary: give their ids strings too."""
    for token in sorted(added, key=lambda a: a["id"]):
        if token["id"] == len(vocab):
            vocab.append(token["content"])
        elif token["id"] > len(vocab):
            raise InputError(f"added token {token['content']!r} has id {token['id']}, leaving a "
                             f"gap after the vocabulary ({len(vocab)} tokens)")


def _special_ids(post):
    """The ids the post-processor puts before and after a single sequence."""
    if post is None:
        return [], []
    if post["type"] in ("BertProcessing", "RobertaProcessing"):
        return [post["cls"][1]], [post["sep"][1]]
    if post["type"] != "TemplateProcessing":
        raise InputError(f"post_processor {post['type']} is not supported")
    prefix, suffix, text_seen = [], [], False
    for piece in post["single"]:
        if "SpecialToken" in piece:
            ids = post["special_tokens"][piece["SpecialToken"]["id"]]["ids"]
            (suffix if text_seen else prefix).extend(ids)
        elif piece["Sequence"]["id"] == "A" and not text_seen:
            text_seen = True
        else:
            raise InputError(f"post_processor template {post['single']} is not supported")
    if not text_seen:
        raise InputError(f"post_processor template {post['single']} has no sequence A")
    return prefix, suffix


def _pair_template(post):
    """The post-processor's template for a pair: [(ids, type ids)] for the special tokens before
    A, between A and B and after B, and the type ids of A and B."""
    if post is None:
        raise InputError("a cross-encoder's tokenizer needs a post_processor (it has none)")
    if post["type"] == "BertProcessing":  # [CLS] A [SEP] B [SEP], B and its [SEP] of type 1
        cls, sep = post["cls"][1], post["sep"][1]
        return [([cls], [0]), ([sep], [0]), ([sep], [1])], 0, 1
    if post["type"] == "RobertaProcessing":  # <s> A </s> </s> B </s>, every type 0
        cls, sep = post["cls"][1], post["sep"][1]
        return [([cls], [0]), ([sep, sep], [0, 0]), ([sep], [0])], 0, 0
    if post["type"] != "TemplateProcessing":
        raise InputError(f"post_processor {post['type']} is not supported")
    pieces, segment, sequences = [([], [])], 0, []
    for piece in post["pair"]:
        if "SpecialToken" in piece:
            ids = post["special_tokens"][piece["SpecialToken"]["id"]]["ids"]
            pieces[-1][0].extend(ids)
            pieces[-1][1].extend([piece["SpecialToken"]["type_id"]] * len(ids))
        else:
            sequences.append((piece["Sequence"]["id"], piece["Sequence"]["type_id"]))
            pieces.append(([], []))
    if [name for name, _ in sequences] != ["A", "B"]:
        raise InputError(f"post_processor pair template {post['pair']} is not supported "
                         "(special tokens, A, special tokens, B, special tokens)")
    return pieces, sequences[0][1], sequences[1][1]


def _pair_keys(kv, post, feeds_types, vocab_size):
    pieces, a_type, b_type = _pair_template(post)
    if not feeds_types:  # the model is fed zeros (NO_TOKEN_TYPES)
        pieces, a_type, b_type = [(ids, [0] * len(ids)) for ids, _ in pieces], 0, 0
    for ids, types in pieces:
        for i in ids:
            if not isinstance(i, int) or not 0 <= i < vocab_size:
                raise InputError(f"the pair template's id {i!r} is outside the vocabulary")
        if any(not isinstance(t, int) or t < 0 for t in types + [a_type, b_type]):
            raise InputError("the pair template's type ids must be integers >= 0")
    for name, (ids, types) in zip(("prefix", "middle", "suffix"), pieces):
        kv.add(f"tokenizer.pair.{name}_ids", ARR_I32, ids)
        kv.add(f"tokenizer.pair.{name}_type_ids", ARR_I32, types)
    kv.add("tokenizer.pair.a_type_id", U32, a_type)
    kv.add("tokenizer.pair.b_type_id", U32, b_type)


def _normalizer_keys(kv, normalizer):
    kind = "none" if normalizer is None else normalizer["type"]
    if kind == "BertNormalizer":
        lowercase = bool(normalizer.get("lowercase", True))
        strip = normalizer.get("strip_accents")
        kv.add("tokenizer.normalizer", STR, "bert")
        kv.add("tokenizer.bert.clean_text", BOOL, normalizer.get("clean_text", True))
        kv.add("tokenizer.bert.handle_chinese_chars", BOOL,
               normalizer.get("handle_chinese_chars", True))
        kv.add("tokenizer.bert.strip_accents", BOOL, lowercase if strip is None else bool(strip))
        kv.add("tokenizer.bert.lowercase", BOOL, lowercase)
    elif kind in ("Precompiled", "Sequence"):
        steps = normalizer["normalizers"] if kind == "Sequence" else [normalizer]
        if [s["type"] for s in steps[:1]] != ["Precompiled"] or \
                any(s["type"] != "Replace" for s in steps[1:]):
            raise InputError("normalizer Sequence[" + ", ".join(s["type"] for s in steps) +
                             "] is not supported (Precompiled, then any Replace)")
        kv.add("tokenizer.normalizer", STR, "precompiled")
        kv.add("tokenizer.precompiled_charsmap", BYTES,
               base64.b64decode(steps[0]["precompiled_charsmap"], validate=True))
        kv.add("tokenizer.replace.patterns", ARR_STR, [_replace_pattern(s) for s in steps[1:]])
        kv.add("tokenizer.replace.contents", ARR_STR, [s["content"] for s in steps[1:]])
    elif kind == "none":
        kv.add("tokenizer.normalizer", STR, "none")
    else:
        raise InputError(f"normalizer {kind} is not supported")


def _replace_pattern(step):
    pattern = step["pattern"]
    if "String" in pattern:
        return pattern["String"]
    if pattern.get("Regex") == " {2,}":  # the one regex XLM-R conversions use
        return "  +"
    raise InputError(f"Replace pattern {pattern} is not supported "
                     "(a string, or the regex ' {2,}')")


def _pretokenizer_keys(kv, pre):
    kinds = [] if pre is None else [p["type"] for p in pre.get("pretokenizers", [pre])]
    if kinds == ["BertPreTokenizer"]:
        kv.add("tokenizer.pretokenizer", STR, "bert")
    elif kinds in (["Metaspace"], ["WhitespaceSplit", "Metaspace"]):
        metaspace = pre["pretokenizers"][-1] if pre["type"] == "Sequence" else pre
        kv.add("tokenizer.pretokenizer", STR, "metaspace" if len(kinds) == 1 else "whitespace")
        _metaspace_keys(kv, metaspace)
    else:
        raise InputError(f"pre_tokenizer {' + '.join(kinds) or 'null'} is not supported "
                         "(BertPreTokenizer, Metaspace, WhitespaceSplit + Metaspace)")


def _metaspace_keys(kv, metaspace):
    # tokenizers < 0.14 wrote add_prefix_space instead of prepend_scheme and always split.
    scheme = metaspace.get("prepend_scheme",
                           "always" if metaspace.get("add_prefix_space", True) else "never")
    if scheme not in ("always", "first", "never"):
        raise InputError(f"Metaspace prepend_scheme {scheme!r} is not supported")
    kv.add("tokenizer.metaspace.replacement", STR, metaspace.get("replacement", "\u2581"))
    kv.add("tokenizer.metaspace.prepend_scheme", STR, scheme)
    kv.add("tokenizer.metaspace.split", BOOL, metaspace.get("split", True))


# --- the sentence-transformers pipeline ---------------------------------------------------------

def read_modules(model_dir):
    """modules.json -> (Transformer dir, Pooling dir, Dense dirs, Normalize present)."""
    path = os.path.join(model_dir, "modules.json")
    modules = read_json(path, expected=list,
                        hint=f": {model_dir} must be a SentenceTransformer directory, or a "
                        "CrossEncoder one (config.json naming a *ForSequenceClassification)")
    try:
        kinds = [MODULES.get(m["type"], m["type"]) for m in modules]
        dirs = [os.path.join(model_dir, m.get("path", "")) for m in modules]
    except (KeyError, TypeError, AttributeError):
        raise InputError(f"{path}: expected a list of {{\"type\", \"path\"}} objects") from None
    for kind in kinds:
        if kind not in MODULES.values():
            raise InputError(f"{path}: module type {kind} is not supported "
                             f"(supported: {', '.join(MODULES.values())})")
    normalize = kinds[-1:] == ["Normalize"]
    if kinds[:2] != ["Transformer", "Pooling"] or \
            any(k != "Dense" for k in kinds[2:len(kinds) - normalize]):
        raise InputError(f"{path}: the pipeline {' -> '.join(kinds)} is not supported "
                         "(Transformer, Pooling, any number of Dense, then optionally Normalize)")
    return dirs[0], dirs[1], dirs[2:len(dirs) - normalize], normalize


def input_keys(kv, transformer_dir, tok_config, enc):
    """pipeline.* from sentence_bert_config.json (or an older name of it, TRANSFORMER_CONFIGS):
    how texts are cut and cased before encoding."""
    names = [name for name in TRANSFORMER_CONFIGS
             if os.path.isfile(os.path.join(transformer_dir, name))]
    path = os.path.join(transformer_dir, (names or TRANSFORMER_CONFIGS)[0])
    cfg = read_json(path, required=False)
    if cfg.get("max_seq_length") is None:
        max_len = tokenizer_max_length(tok_config, enc)
    else:
        max_len = _count(path, cfg, "max_seq_length", minimum=1)
    kv.add("pipeline.max_seq_length", U32, max_len)
    kv.add("pipeline.do_lower_case", BOOL, cfg.get("do_lower_case", False))


def tokenizer_max_length(tok_config, enc):
    """The length sentence-transformers truncates to when nothing sets it: the tokenizer's
    model_max_length, at most the position table (the loader lowers a length the table cannot
    hold, as FORMAT.md says)."""
    limit = tok_config.get("model_max_length")
    max_len = enc["max_position_embeddings"]
    if isinstance(limit, (int, float)) and limit >= 1:
        max_len = min(max_len, int(limit))
    return max_len


def pooling_keys(kv, directory, hidden):
    """pooling.* from 1_Pooling/config.json; returns the width of the pooled vector."""
    path = os.path.join(directory, "config.json")
    cfg = read_json(path)
    if cfg.get("word_embedding_dimension", hidden) != hidden:
        raise InputError(f"{path}: word_embedding_dimension {cfg['word_embedding_dimension']} "
                         f"differs from the model's hidden_size {hidden}")
    for key, value in cfg.items():
        if key.startswith("pooling_mode_") and key not in POOLING_MODES.values() and value:
            raise InputError(f"{path}: {key} is not supported")
    # sentence-transformers' Pooling(**config): mean unless the config turns it off, and a
    # "pooling_mode" string, when given, in place of every boolean
    modes = {mode: bool(cfg.get(key, mode == "mean")) for mode, key in POOLING_MODES.items()}
    if cfg.get("pooling_mode") is not None:
        chosen = str(cfg["pooling_mode"]).lower()
        chosen = "mean_sqrt_len" if chosen == "mean_sqrt_len_tokens" else chosen
        if chosen not in POOLING_MODES:
            raise InputError(f"{path}: pooling_mode {cfg['pooling_mode']!r} is not supported "
                             "(mean, max, cls, weightedmean, lasttoken, mean_sqrt_len_tokens)")
        modes = {mode: mode == chosen for mode in POOLING_MODES}
    if not any(modes.values()):
        raise InputError(f"{path}: no pooling mode is enabled")
    for mode, enabled in modes.items():
        kv.add("pooling." + mode, BOOL, enabled)
    kv.add("pooling.include_prompt", BOOL, cfg.get("include_prompt", True))
    return hidden * sum(modes.values())


def dense_modules(kv, directories, in_features, dtype):
    """dense.* keys and the Dense modules' tensors (linear.weight / linear.bias of each folder)."""
    kv.add("dense.count", U32, len(directories))
    tensors = []
    for j, directory in enumerate(directories):
        path = os.path.join(directory, "config.json")
        cfg = read_json(path)
        n_in, n_out = _count(path, cfg, "in_features", 1), _count(path, cfg, "out_features", 1)
        if n_in != in_features:
            raise InputError(f"{path}: in_features {n_in}, but the module before outputs "
                             f"{in_features} values")
        function = cfg.get("activation_function", "torch.nn.modules.activation.Tanh")
        activation = DENSE_ACTIVATIONS.get(str(function).rsplit(".", 1)[-1]) \
            if str(function).startswith("torch.nn.") else None
        if activation is None:
            raise InputError(f"{path}: activation_function {function!r} is not supported "
                             f"(torch.nn {', '.join(DENSE_ACTIVATIONS)})")
        bias = bool(cfg.get("bias", True))
        kv.add(f"dense.{j}.in_features", U32, n_in)
        kv.add(f"dense.{j}.out_features", U32, n_out)
        kv.add(f"dense.{j}.activation", STR, activation)
        kv.add(f"dense.{j}.has_bias", BOOL, bias)
        tensors += linear(load_checkpoint(directory), "linear", n_out, n_in, dtype, bias,
                          stored_as=f"dense.{j}")
        in_features = n_out
    return tensors


def sentence_transformers_keys(kv, model_dir):
    """similarity and prompts.* from config_sentence_transformers.json (optional)."""
    path = os.path.join(model_dir, "config_sentence_transformers.json")
    cfg = read_json(path, required=False)
    similarity = cfg.get("similarity_fn_name") or "cosine"
    if similarity not in SIMILARITIES:
        raise InputError(f"{path}: similarity_fn_name {similarity!r} is not supported "
                         f"(supported: {', '.join(SIMILARITIES)})")
    prompts = cfg.get("prompts") or {}
    if not isinstance(prompts, dict) or \
            not all(isinstance(text, str) for text in prompts.values()):
        raise InputError(f"{path}: prompts must map names to texts")
    default = cfg.get("default_prompt_name") or ""
    if default and default not in prompts:
        raise InputError(f"{path}: default_prompt_name {default!r} is not one of the prompts")
    kv.add("similarity", STR, similarity)
    kv.add("prompts.names", ARR_STR, list(prompts))
    kv.add("prompts.texts", ARR_STR, list(prompts.values()))
    kv.add("prompts.default", STR, default)


# --- cross-encoders -----------------------------------------------------------------------------

def cross_encoder_architecture(model_dir):
    """The *ForSequenceClassification architecture of a CrossEncoder folder (one without
    modules.json), or None for a SentenceTransformer folder."""
    if os.path.isfile(os.path.join(model_dir, "modules.json")):
        return None
    path = os.path.join(model_dir, "config.json")
    cfg = read_json(path, required=False)
    names = cfg.get("architectures") or []
    classifiers = [n for n in names if isinstance(n, str) and n.endswith("ForSequenceClassification")]
    if not classifiers:
        return None  # read_modules then says what is missing
    if classifiers[0] not in CROSS_ENCODERS:
        raise InputError(f"{path}: cross-encoder architecture {classifiers[0]} is not supported "
                         f"(supported: {', '.join(CROSS_ENCODERS)})")
    return classifiers[0]


def classifier_labels(path, cfg):
    """The labels in id order, as transformers' PretrainedConfig reads them: id2label, else
    num_labels of LABEL_i, else 2."""
    id2label = cfg.get("id2label")
    if isinstance(id2label, dict) and id2label:
        try:
            labels = {int(k): str(v) for k, v in id2label.items()}
        except ValueError:
            raise InputError(f"{path}: id2label keys must be integers") from None
        if sorted(labels) != list(range(len(labels))):
            raise InputError(f"{path}: id2label ids must be 0..{len(labels) - 1}")
        return [labels[i] for i in range(len(labels))]
    n = _count(path, cfg, "num_labels", minimum=1) if "num_labels" in cfg else 2
    return [f"LABEL_{i}" for i in range(n)]


def classifier_activation(path, cfg, n_labels):
    """The activation CrossEncoder.predict applies by default: the torch.nn class config.json
    names (sentence-transformers >= 4: sentence_transformers.activation_fn; before:
    sbert_ce_default_activation_function), else Sigmoid for one label and Identity otherwise."""
    st = cfg.get("sentence_transformers")
    function = (st.get("activation_fn") if isinstance(st, dict) else None) or \
        cfg.get("sbert_ce_default_activation_function")
    if function is None:
        return "sigmoid" if n_labels == 1 else "identity"
    activation = DENSE_ACTIVATIONS.get(str(function).rsplit(".", 1)[-1]) \
        if str(function).startswith("torch.nn.") else None
    if activation is None:
        raise InputError(f"{path}: activation function {function!r} is not supported "
                         f"(torch.nn {', '.join(DENSE_ACTIVATIONS)})")
    return activation


def feeds_token_types(tok_config, cfg, model_type):
    """Whether transformers feeds the model token_type_ids: the tokenizer class's
    model_input_names (RoBERTa-like tokenizers leave them out)."""
    name = tok_config.get("tokenizer_class") or cfg.get("tokenizer_class") or \
        DEFAULT_TOKENIZER[model_type]
    return str(name).removesuffix("Fast") not in NO_TOKEN_TYPES


def cross_encoder(model_dir, architecture, dtype):
    """(key/values, tensors, encoder config) of a CrossEncoder folder. The classification head
    is stored in F32 whatever dtype: it runs on one row per pair, and rounding the last layer
    would move every score."""
    path = os.path.join(model_dir, "config.json")
    enc = read_encoder_config(path)
    cfg = read_json(path)
    model_types, (dense, out_proj) = CROSS_ENCODERS[architecture]
    if cfg["model_type"] not in model_types:
        raise InputError(f"{path}: {architecture} with model_type {cfg['model_type']!r}")
    tok_config = read_json(os.path.join(model_dir, "tokenizer_config.json"), required=False)
    labels = classifier_labels(path, cfg)

    kv = KeyValues()
    kv.add("general.kind", STR, "cross-encoder")
    encoder_keys(kv, enc)
    tokenizer_keys(kv, model_dir, tok_config, enc,
                   pair_types=feeds_token_types(tok_config, cfg, cfg["model_type"]))
    # CrossEncoder.predict only strips the texts; it truncates to its max_length, which
    # defaults to the tokenizer's model_max_length.
    kv.add("pipeline.max_seq_length", U32, tokenizer_max_length(tok_config, enc))
    kv.add("pipeline.do_lower_case", BOOL, False)
    kv.add("classifier.num_labels", U32, len(labels))
    kv.add("classifier.labels", ARR_STR, labels)
    kv.add("classifier.activation", STR, classifier_activation(path, cfg, len(labels)))

    H = enc["hidden_size"]
    ckpt = strip_model_prefix(load_checkpoint(model_dir))
    tensors = encoder_tensors(ckpt, enc, dtype)
    tensors += linear(ckpt, dense, H, H, DTYPE_F32, stored_as="classifier.dense")
    tensors += linear(ckpt, out_proj, len(labels), H, DTYPE_F32, stored_as="classifier.out_proj")
    return kv, tensors, enc


def sentence_transformer(model_dir, dtype):
    """(key/values, tensors, encoder config) of a SentenceTransformer folder."""
    transformer_dir, pooling_dir, dense_dirs, normalize = read_modules(model_dir)
    enc = read_encoder_config(os.path.join(transformer_dir, "config.json"))
    tok_config = read_json(os.path.join(transformer_dir, "tokenizer_config.json"), required=False)

    kv = KeyValues()
    kv.add("general.kind", STR, "sentence-transformer")
    encoder_keys(kv, enc)
    tokenizer_keys(kv, transformer_dir, tok_config, enc)
    input_keys(kv, transformer_dir, tok_config, enc)
    pooled = pooling_keys(kv, pooling_dir, enc["hidden_size"])
    tensors = encoder_tensors(strip_model_prefix(load_checkpoint(transformer_dir)), enc, dtype)
    tensors += dense_modules(kv, dense_dirs, pooled, dtype)
    kv.add("normalize", BOOL, normalize)
    sentence_transformers_keys(kv, model_dir)
    return kv, tensors, enc


# --- writing the file -------------------------------------------------------------------------

def _align(offset):
    return -(-offset // ALIGN) * ALIGN


def drop_from_page_cache(f):
    """Writes the file out and drops it from the page cache, so that the first load reads it back
    through libsbert's huge-page mapping: the kernel then caches it in 2 MB folios and maps it 2 MB
    at a time, and touching all of a 440 MB model takes ~7 ms instead of ~150 ms of 4 KB page
    faults (include/sbert.h, sbert_model_params.prefault). A hint: skipped where unsupported."""
    if not hasattr(os, "posix_fadvise"):
        return
    f.flush()
    os.fsync(f.fileno())
    os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def write_sbert(path, kv, tensors, progress):
    """Header, key/value section and tensor table first (their CRC needs only sizes), then each
    tensor's data, converted as it is written so that memory stays at one tensor."""
    table, offset = [], 0
    for t in tensors:
        offset = _align(offset)
        name = t.name.encode()
        table.append(struct.pack(f"<I{len(name)}sIII{len(t.shape)}QQQ", len(name), name, t.dtype,
                                 t.layout, len(t.shape), *t.shape, offset, t.nbytes))
        offset += t.nbytes
    kv_bytes, table_bytes = kv.encode(), b"".join(table)
    table_offset = HEADER_SIZE + len(kv_bytes)
    data_offset = _align(table_offset + len(table_bytes))
    fields = (MAGIC, VERSION, HEADER_SIZE, data_offset + offset, HEADER_SIZE, len(kv_bytes),
              len(kv.entries), table_offset, len(table_bytes), len(tensors), data_offset, offset)
    head = HEADER.pack(*fields, 0, 0) + kv_bytes + table_bytes
    head += bytes(data_offset - len(head))
    head = HEADER.pack(*fields, zlib.crc32(head), 0) + head[HEADER_SIZE:]

    partial = path + ".partial"  # never leave a half-written OUT.sbert behind
    try:
        with open(partial, "wb") as f:
            f.write(head)
            for i, t in enumerate(tensors):
                f.write(bytes(-f.tell() % ALIGN))
                data = t.produce()
                assert len(data) == t.nbytes, t.name
                f.write(data)
                progress.update(i + 1, len(tensors), f.tell())
            drop_from_page_cache(f)
        os.replace(partial, path)
    except BaseException:
        if os.path.exists(partial):
            os.remove(partial)
        raise
    return data_offset + offset


FILE_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
              (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
              (stat.S_ISSOCK, "a socket"))


def output_target(out_path):
    """The file that OUT.partial is renamed onto. A symlink is resolved so that the link stays a
    link and its target gets the model, as cp does. A FIFO, device, socket or directory is
    refused: the rename would replace it by a regular file instead of writing to it."""
    target = os.path.realpath(out_path)
    name = f"{out_path} (a symlink to {target})" if os.path.islink(out_path) else out_path
    if not os.path.isdir(os.path.dirname(target)):
        raise InputError(f"{name}: its directory does not exist")
    try:
        mode = os.stat(target).st_mode  # a symlink loop fails here (ELOOP)
    except FileNotFoundError:
        return target
    if not stat.S_ISREG(mode):
        kind = next((kind for test, kind in FILE_KINDS if test(mode)), "a special file")
        raise InputError(f"{name}: is {kind}, not a regular file; give the path of "
                         "a .sbert file to create or overwrite")
    return target


def convert(model_dir, out_path, dtype, progress):
    """Read MODEL_DIR, validate everything, write OUT; returns a one-line description."""
    if not os.path.isdir(model_dir):
        raise InputError(f"{model_dir}: not a directory")
    target = output_target(out_path)
    architecture = cross_encoder_architecture(model_dir)
    if architecture:
        kv, tensors, enc = cross_encoder(model_dir, architecture, dtype)
    else:
        kv, tensors, enc = sentence_transformer(model_dir, dtype)

    size = write_sbert(target, kv, tensors, progress)
    kind = f"{architecture} cross-encoder" if architecture else enc["architecture"]
    return f"{kind}, {len(tensors)} tensors, {size / 1e6:.1f} MB"


class Progress:
    """Tensor count and megabytes written, live on a terminal; a summary line at the end."""

    def __init__(self, quiet):
        self.quiet, self.live = quiet, not quiet and sys.stderr.isatty()
        self.start, self.line_open = time.monotonic(), False

    def update(self, done, total, nbytes):
        if self.live:
            print(f"\rconvert_safetensors: tensor {done}/{total}, {nbytes / 1e6:.0f} MB written",
                  end="", file=sys.stderr, flush=True)
            self.line_open = True

    def end_line(self):
        if self.line_open:
            print(file=sys.stderr)
            self.line_open = False

    def summary(self, text):
        self.end_line()
        if not self.quiet:
            print(f"convert_safetensors: {text} in {time.monotonic() - self.start:.1f} s",
                  file=sys.stderr)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="convert_safetensors",
        description="Convert a sentence-transformers model directory to a libsbert .sbert file.")
    parser.add_argument("model_dir", metavar="MODEL_DIR")
    parser.add_argument("output", metavar="OUT.sbert")
    parser.add_argument("--dtype", choices=DTYPES, default="f32",
                        help="type of the weight matrices (LayerNorm and biases stay f32)")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    args = parser.parse_args(argv)
    progress = Progress(args.quiet)
    try:
        if sys.byteorder != "little":
            raise InputError("big-endian hosts are not supported")
        description = convert(args.model_dir, args.output, DTYPES[args.dtype], progress)
    except (InputError, OSError) as e:
        progress.end_line()
        message = f"{e.filename}: {e.strerror}" if getattr(e, "filename", None) else e
        print(f"convert_safetensors: error: {message}", file=sys.stderr)
        return 1
    progress.summary(f"wrote {args.output} ({description}, {args.dtype})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
