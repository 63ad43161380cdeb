#!/usr/bin/env python3
"""Write the seed corpora of the text fuzzers (fuzz_tokenizer.c, fuzz_encode.c), and the odd
model they (and tests/test_limits.c) run besides the converted test models.

    python3 tests/fuzz/make_text_seeds.py
        tests/fuzz/corpus/{tokenizer,encode}/   the seeds
        tests/fuzz/bert-no-specials.sbert       a 10 KB BERT without special tokens (an empty text
                                                has no tokens at all), every pooling mode, and a
                                                prompt that pooling leaves out

Seeds are a few dozen short texts from tests/data/tokenize (scripts, whitespace, controls,
special-token literals, added-token edge cases) and ill-formed UTF-8 byte strings, each behind
the option bytes the target reads first (see the comment at the top of each target), so that
every model, both UTF-8 policies and every flag start covered. Same output on every run.
Standard library only; the model is written with tests/fuzz/make_seed.py's writer.
"""

import json
import os
import random
import shutil

import make_seed as seed

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "tokenize")
MAX_TEXT_BYTES = 160


def jsonl(name):
    with open(os.path.join(DATA, name), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def texts():
    """Well-formed texts: the first of corpus-public.jsonl (its hand-written cases come first),
    then every 20th added-token edge case."""
    public = [r["text"].encode() for r in jsonl("corpus-public.jsonl")]
    public = [t for t in public if len(t) <= MAX_TEXT_BYTES][:36]
    edge = [r["text"].encode() for r in jsonl("corpus-edge.jsonl")][::20]
    extra = [b"[CLS][SEP][PAD]", b"[CLS]", b"<s></s><pad>", b"\t \n\r\x0b\x0c", b"a" * 150]
    return public + edge + extra


def ill_formed():
    """Ill-formed UTF-8 from python-utf8.jsonl: overlongs, surrogates, truncated sequences."""
    bad = []
    for row in jsonl("python-utf8.jsonl"):
        data = bytes.fromhex(row["hex"])
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            bad.append(b"x" + data + "가".encode())
    return bad[:12]


def write(directory, seeds):
    if os.path.isdir(directory):
        shutil.rmtree(directory)
    os.makedirs(directory)
    for i, (label, data) in enumerate(seeds):
        with open(os.path.join(directory, f"{i:03d}-{label}"), "wb") as f:
            f.write(data)


def tokenizer_seeds():
    # option byte: bits 0-1 model, bit 2 policy (REPLACE), bits 3-5 flags
    seeds = []
    for i, t in enumerate(texts()):
        option = (i & 1) | ((i >> 1) % 8) << 3
        seeds.append((f"text-m{i & 1}-f{(i >> 1) % 8}", bytes([option]) + t))
    for i, t in enumerate(ill_formed()):
        option = (i & 1) | (i >> 1 & 1) << 2
        seeds.append((f"bad-utf8-m{i & 1}-{'replace' if option & 4 else 'reject'}", bytes([option]) + t))
    return seeds


def encode_seeds():
    # option bytes: [0] bits 0-1 model, 2 policy, 3 normalize, 4-5 prompt, 6 NUL-terminated;
    # [1] bits 0-6 max_length, bit 7 batch size 2. Pieces separated by 0xFF.
    all_texts = texts()
    seeds = []
    for i in range(32):
        model, prompt, normalize, small_batch = i % 4, i // 4 % 4, i // 16, i // 2 % 2
        group = all_texts[(3 * i) % len(all_texts):][: 1 + i % 5]
        pieces = ([b"query: "] if prompt == 1 else []) + group
        option0 = model | normalize << 3 | prompt << 4 | (i // 8 % 2) << 6
        option1 = [0, 8, 2, 127][i // 2 % 4] | small_batch << 7
        seeds.append((f"texts{len(group)}-m{model}-p{prompt}",
                      bytes([option0, option1]) + b"\xff".join(pieces)))
    for i, t in enumerate(ill_formed()[:8]):
        seeds.append((f"bad-utf8-m{i % 4}", bytes([i % 4 | (i // 4) << 2, 0]) + b"ok\xff" + t))
    seeds.append(("no-texts", bytes([0, 0])))
    seeds.append(("empty-texts-m3", bytes([3, 0]) + b"\xff\xff"))
    return seeds


def no_specials_model(path):
    """A BERT whose post-processor adds nothing, pooling with all six modes, include_prompt off."""
    rng = random.Random(3)
    vocab = ["[PAD]", "[UNK]", "[MASK]"] + list("abcdefghijklmnopqrstuvwxyz") + ["##s", "한"]
    V, H, L, heads, I, P, T = len(vocab), 16, 1, 2, 32, 24, 2
    kv = seed.encoder_keys("bert", V, H, L, heads, I, P, T, pad=0, offset=0)
    kv += [("tokenizer.model", seed.STR, "wordpiece"), ("tokenizer.vocab", seed.ARR_STR, vocab),
           ("tokenizer.unk_id", seed.I32, 1), ("tokenizer.pad_id", seed.I32, 0),
           ("tokenizer.prefix_ids", seed.ARR_I32, []), ("tokenizer.suffix_ids", seed.ARR_I32, [])]
    kv += seed.added_keys([("[MASK]", 2)])
    kv += [("tokenizer.normalizer", seed.STR, "bert"), ("tokenizer.pretokenizer", seed.STR, "bert"),
           ("tokenizer.wordpiece.prefix", seed.STR, "##"),
           ("tokenizer.wordpiece.max_input_chars_per_word", seed.U32, 100),
           ("tokenizer.bert.clean_text", seed.BOOL, 1),
           ("tokenizer.bert.handle_chinese_chars", seed.BOOL, 1),
           ("tokenizer.bert.strip_accents", seed.BOOL, 1), ("tokenizer.bert.lowercase", seed.BOOL, 1)]
    modes = ("cls", "mean", "max", "mean_sqrt_len", "weightedmean", "lasttoken")
    pipeline = seed.pipeline_keys(20, modes, 0, {"query": "query: "}, "")
    kv += [(k, t, 0 if k == "pooling.include_prompt" else v) for k, t, v in pipeline]
    kv += [("dense.count", seed.U32, 0)]
    seed.write_sbert(path, kv, seed.encoder_tensors(rng, V, H, L, I, P, T, seed.DT_F32))


if __name__ == "__main__":
    write(os.path.join(HERE, "corpus", "tokenizer"), tokenizer_seeds())
    write(os.path.join(HERE, "corpus", "encode"), encode_seeds())
    no_specials_model(os.path.join(HERE, "bert-no-specials.sbert"))
