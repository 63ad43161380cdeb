#!/usr/bin/env python3
"""Write the tiny, valid .sbert files that seed the loader fuzzer and the loader's damage tests.

    python3 tests/fuzz/make_seed.py [OUT_DIR]      (default: tests/fuzz/corpus/loader)

A second, independent writer of docs/FORMAT.md (the first is tools/convert_safetensors.py), kept
minimal: random weights, a vocabulary of a few dozen tokens, a few kilobytes per file, so that a
test can damage every byte of one and the fuzzer starts from files that reach every validator.

  bert-wordpiece-f32.sbert   bert, WordPiece + BERT normalizer, cls+mean pooling, a Dense module
                             (8 outputs: one partly filled PANEL16 panel), Normalize, a prompt
  xlmr-unigram-f16.sbert     xlm-roberta, Unigram + Metaspace, max pooling, F16 weights
  xlmr-unigram-int8.sbert    the same with int8 Linear weights (I8, PANEL16_Q4, F32 scales) and
                             F16 embeddings, as --dtype int8 writes them

Same output on every run (fixed seeds). Standard library only.
"""

import os
import random
import struct
import sys
import zlib

MAGIC, VERSION, HEADER_SIZE, ALIGN, PANEL = b"SBERTMF\0", 1, 96, 64, 16
U32, I32, F32, BOOL, STR, ARR_I32, ARR_F32, ARR_STR, BYTES = range(1, 10)
DT_F32, DT_F16, DT_I8 = 0, 1, 3
ROW_MAJOR, PANEL16, PANEL16_Q4 = 0, 1, 2


def u32(v):
    return struct.pack("<I", v)


def encode_value(kind, value):
    if kind == U32 or kind == BOOL:
        return u32(int(value))
    if kind == I32:
        return struct.pack("<i", value)
    if kind == F32:
        return struct.pack("<f", value)
    if kind in (STR, BYTES):
        data = value.encode() if kind == STR else value
        return u32(len(data)) + data
    if kind == ARR_I32:
        return u32(len(value)) + struct.pack(f"<{len(value)}i", *value)
    if kind == ARR_F32:
        return u32(len(value)) + struct.pack(f"<{len(value)}f", *value)
    if kind == ARR_STR:
        return u32(len(value)) + b"".join(u32(len(s.encode())) + s.encode() for s in value)
    raise ValueError(kind)


def pack_tensor(values, shape, dtype, layout):
    """values: the logical row-major elements. Returns the bytes in the stored layout."""
    if layout == PANEL16_Q4:  # (n, k) at ((n / 16) * K4 / 4 + k / 4) * 64 + (n % 16) * 4 + k % 4
        n_rows, k_cols = shape
        k4 = -(-k_cols // 4) * 4
        stored = [0] * (-(-n_rows // PANEL) * PANEL * k4)
        for n in range(n_rows):
            for k in range(k_cols):
                stored[((n // PANEL) * k4 // 4 + k // 4) * 64 + (n % PANEL) * 4 + k % 4] = \
                    values[n * k_cols + k]
        return struct.pack(f"<{len(stored)}b", *stored)
    if layout == PANEL16:  # element (n, k) at ((n / 16) * K + k) * 16 + n % 16, rows past N zero
        n_rows, k_cols = shape
        panels = (n_rows + PANEL - 1) // PANEL
        stored = [0.0] * (panels * PANEL * k_cols)
        for n in range(n_rows):
            for k in range(k_cols):
                stored[((n // PANEL) * k_cols + k) * PANEL + n % PANEL] = values[n * k_cols + k]
        values = stored
    return struct.pack(f"<{len(values)}{'f' if dtype == DT_F32 else 'e'}", *values)


def write_sbert(path, kv, tensors):
    """kv: [(key, type, value)]; tensors: [(name, dtype, layout, shape, values)]."""
    kv_bytes = b"".join(u32(len(k)) + k.encode() + u32(t) + encode_value(t, v) for k, t, v in kv)
    table, data = b"", b""
    for name, dtype, layout, shape, values in tensors:
        blob = pack_tensor(values, shape, dtype, layout)
        data += b"\0" * (-len(data) % ALIGN)
        table += (u32(len(name)) + name.encode() + u32(dtype) + u32(layout) + u32(len(shape)) +
                  struct.pack(f"<{len(shape)}Q", *shape) + struct.pack("<QQ", len(data), len(blob)))
        data += blob
    table_offset = HEADER_SIZE + len(kv_bytes)
    data_offset = -(-(table_offset + len(table)) // ALIGN) * ALIGN
    padding = b"\0" * (data_offset - table_offset - len(table))
    file_size = data_offset + len(data)

    def header(checksum):
        return struct.pack("<8sII9QII", MAGIC, VERSION, HEADER_SIZE, file_size, HEADER_SIZE,
                           len(kv_bytes), len(kv), table_offset, len(table), len(tensors),
                           data_offset, len(data), checksum, 0)

    body = kv_bytes + table + padding
    checksum = zlib.crc32(header(0) + body)
    with open(path, "wb") as f:
        f.write(header(checksum) + body + data)


def random_values(rng, count, center=0.0, spread=0.1):
    return [center + rng.uniform(-spread, spread) for _ in range(count)]


def encoder_tensors(rng, V, H, L, I, P, T, dtype):
    """The tensors of docs/FORMAT.md, "Tensors", for the encoder; LayerNorm and biases in F32.
    DT_I8: int8 Linear weights with their scales, the embeddings F16."""
    def weight(name, shape, layout):
        if dtype == DT_I8 and layout == PANEL16:
            return [(name, DT_I8, PANEL16_Q4, shape,
                     [rng.randint(-127, 127) for _ in range(shape[0] * shape[1])]),
                    (name + "_scale", DT_F32, ROW_MAJOR, [shape[0]],
                     random_values(rng, shape[0], 0.001, 0.0005))]
        stored = DT_F16 if dtype == DT_I8 else dtype
        return [(name, stored, layout, shape, random_values(rng, shape[0] * shape[1]))]

    def vector(name, n, center=0.0):
        return (name, DT_F32, ROW_MAJOR, [n], random_values(rng, n, center))

    out = (weight("embeddings.word_embeddings.weight", [V, H], ROW_MAJOR) +
           weight("embeddings.position_embeddings.weight", [P, H], ROW_MAJOR) +
           weight("embeddings.token_type_embeddings.weight", [T, H], ROW_MAJOR) +
           [vector("embeddings.LayerNorm.weight", H, 1.0), vector("embeddings.LayerNorm.bias", H)])
    for i in range(L):
        p = f"encoder.layer.{i}."
        out += (weight(p + "attention.qkv.weight", [3 * H, H], PANEL16) +
                [vector(p + "attention.qkv.bias", 3 * H)] +
                weight(p + "attention.output.dense.weight", [H, H], PANEL16) +
                [vector(p + "attention.output.dense.bias", H),
                 vector(p + "attention.output.LayerNorm.weight", H, 1.0),
                 vector(p + "attention.output.LayerNorm.bias", H)] +
                weight(p + "intermediate.dense.weight", [I, H], PANEL16) +
                [vector(p + "intermediate.dense.bias", I)] +
                weight(p + "output.dense.weight", [H, I], PANEL16) +
                [vector(p + "output.dense.bias", H),
                 vector(p + "output.LayerNorm.weight", H, 1.0),
                 vector(p + "output.LayerNorm.bias", H)])
    return out


def encoder_keys(arch, V, H, L, heads, I, P, T, pad, offset):
    return [("general.architecture", STR, arch), ("general.name", STR, f"seed-{arch}"),
            ("encoder.vocab_size", U32, V), ("encoder.hidden_size", U32, H),
            ("encoder.num_layers", U32, L), ("encoder.num_heads", U32, heads),
            ("encoder.intermediate_size", U32, I), ("encoder.max_position_embeddings", U32, P),
            ("encoder.type_vocab_size", U32, T), ("encoder.layer_norm_eps", F32, 1e-12),
            ("encoder.hidden_act", STR, "gelu"), ("encoder.pad_token_id", I32, pad),
            ("encoder.position_offset", U32, offset)]


def added_keys(added):
    """added: [(content, id)] special tokens, matched as they are."""
    flags = {"lstrip": 0, "rstrip": 0, "single_word": 0, "normalized": 0, "special": 1}
    return ([("tokenizer.added.content", ARR_STR, [c for c, _ in added]),
             ("tokenizer.added.id", ARR_I32, [i for _, i in added])] +
            [(f"tokenizer.added.{flag}", ARR_I32, [v] * len(added)) for flag, v in flags.items()])


def pipeline_keys(max_seq_length, pooling, normalize, prompts, default_prompt):
    modes = ("cls", "mean", "max", "mean_sqrt_len", "weightedmean", "lasttoken")
    return ([("pipeline.max_seq_length", U32, max_seq_length),
             ("pipeline.do_lower_case", BOOL, 0)] +
            [(f"pooling.{mode}", BOOL, mode in pooling) for mode in modes] +
            [("pooling.include_prompt", BOOL, 1), ("normalize", BOOL, normalize),
             ("similarity", STR, "cosine"),
             ("prompts.names", ARR_STR, list(prompts)),
             ("prompts.texts", ARR_STR, list(prompts.values())),
             ("prompts.default", STR, default_prompt)])


def bert_wordpiece_f32(path):
    rng = random.Random(1)
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = specials + list("abcdefghijklmnopqrstuvwxyz") + ["##s", "the", "한", "##국"]
    V, H, L, heads, I, P, T = len(vocab), 16, 1, 2, 32, 24, 2
    kv = encoder_keys("bert", V, H, L, heads, I, P, T, pad=0, offset=0)
    kv += [("tokenizer.model", STR, "wordpiece"), ("tokenizer.vocab", ARR_STR, vocab),
           ("tokenizer.unk_id", I32, 1), ("tokenizer.pad_id", I32, 0),
           ("tokenizer.prefix_ids", ARR_I32, [2]), ("tokenizer.suffix_ids", ARR_I32, [3])]
    kv += added_keys([(s, i) for i, s in enumerate(specials)])
    kv += [("tokenizer.normalizer", STR, "bert"), ("tokenizer.pretokenizer", STR, "bert"),
           ("tokenizer.wordpiece.prefix", STR, "##"),
           ("tokenizer.wordpiece.max_input_chars_per_word", U32, 100),
           ("tokenizer.bert.clean_text", BOOL, 1), ("tokenizer.bert.handle_chinese_chars", BOOL, 1),
           ("tokenizer.bert.strip_accents", BOOL, 1), ("tokenizer.bert.lowercase", BOOL, 1)]
    kv += pipeline_keys(20, ("cls", "mean"), 1, {"query": "query: "}, "query")
    kv += [("dense.count", U32, 1), ("dense.0.in_features", U32, 2 * H),
           ("dense.0.out_features", U32, 8), ("dense.0.activation", STR, "tanh"),
           ("dense.0.has_bias", BOOL, 1)]
    tensors = encoder_tensors(rng, V, H, L, I, P, T, DT_F32)
    tensors += [("dense.0.weight", DT_F32, PANEL16, [8, 2 * H], random_values(rng, 8 * 2 * H)),
                ("dense.0.bias", DT_F32, ROW_MAJOR, [8], random_values(rng, 8))]
    write_sbert(path, kv, tensors)


def xlmr_unigram(path, seed, dtype):
    rng = random.Random(seed)
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    pieces = ["\u2581", "\u2581a", "\u2581the", "b", "c", "s", "\u2581한", "국", "어", "<mask>"]
    vocab = specials + pieces
    scores = [0.0] * len(specials) + [-1.0 - 0.5 * i for i in range(len(pieces))]
    V, H, L, heads, I, P, T = len(vocab), 16, 1, 4, 32, 20, 1
    kv = encoder_keys("xlm-roberta", V, H, L, heads, I, P, T, pad=1, offset=2)
    kv += [("tokenizer.model", STR, "unigram"), ("tokenizer.vocab", ARR_STR, vocab),
           ("tokenizer.scores", ARR_F32, scores),
           ("tokenizer.unk_id", I32, 3), ("tokenizer.pad_id", I32, 1),
           ("tokenizer.prefix_ids", ARR_I32, [0]), ("tokenizer.suffix_ids", ARR_I32, [2])]
    kv += added_keys([(s, i) for i, s in enumerate(specials)] + [("<mask>", V - 1)])
    kv += [("tokenizer.normalizer", STR, "none"), ("tokenizer.pretokenizer", STR, "metaspace"),
           ("tokenizer.metaspace.replacement", STR, "\u2581"),
           ("tokenizer.metaspace.prepend_scheme", STR, "always"),
           ("tokenizer.metaspace.split", BOOL, 1)]
    kv += pipeline_keys(16, ("max",), 0, {}, "")
    kv += [("dense.count", U32, 0)]
    write_sbert(path, kv, encoder_tensors(rng, V, H, L, I, P, T, dtype))


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "corpus", "loader")
    os.makedirs(out_dir, exist_ok=True)
    bert_wordpiece_f32(os.path.join(out_dir, "bert-wordpiece-f32.sbert"))
    xlmr_unigram(os.path.join(out_dir, "xlmr-unigram-f16.sbert"), 2, DT_F16)
    xlmr_unigram(os.path.join(out_dir, "xlmr-unigram-int8.sbert"), 3, DT_I8)


if __name__ == "__main__":
    main()
