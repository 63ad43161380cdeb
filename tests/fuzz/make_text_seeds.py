#!/usr/bin/env python3
"""Write the seed corpora of the text fuzzers (fuzz_tokenizer.c, fuzz_encode.c).

    python3 tests/fuzz/make_text_seeds.py        (writes tests/fuzz/corpus/{tokenizer,encode}/)

Seeds are a few dozen short texts from tests/data/tokenize (scripts, whitespace, controls,
special-token literals, added-token edge cases) and ill-formed UTF-8 byte strings, each behind
the option bytes the target reads first (see the comment at the top of each target), so that
both models, both UTF-8 policies and every flag start covered. Same output on every run.
Standard library only.
"""

import json
import os
import shutil

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
    for i in range(0, 24):
        group = all_texts[(3 * i) % len(all_texts):][: 1 + i % 4]
        prompt = [b"query: "] if (i >> 2) % 4 == 1 else []
        option0 = (i & 1) | (i >> 1 & 1) << 3 | ((i >> 2) % 4) << 4 | (i >> 4 & 1) << 6
        option1 = [0, 8, 2, 127][i % 4] | (i >> 3 & 1) << 7
        body = b"\xff".join(prompt + group)
        seeds.append((f"texts{len(group)}-m{i & 1}-p{(i >> 2) % 4}", bytes([option0, option1]) + body))
    for i, t in enumerate(ill_formed()[:6]):
        option0 = (i & 1) | (i >> 1 & 1) << 2
        seeds.append((f"bad-utf8-m{i & 1}", bytes([option0, 0]) + b"ok\xff" + t))
    seeds.append(("no-texts", bytes([0, 0])))
    return seeds


if __name__ == "__main__":
    write(os.path.join(HERE, "corpus", "tokenizer"), tokenizer_seeds())
    write(os.path.join(HERE, "corpus", "encode"), encode_seeds())
