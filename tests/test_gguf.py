#!/usr/bin/env python3
"""bench/gguf.py (the GGUF writer of make bench's llama.cpp peer): a tiny file written and read
back (header, metadata, tensor table, alignment, Q8_0 blocks), and the ko-tiny model's GGUF
(RoBERTa's position table trimmed by pad_token_id + 1, llama.cpp's WordPiece spelling of the
vocabulary). Standard library only; well under a second."""

import os
import struct
import sys
import tempfile
from array import array

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "bench"))
import gguf  # noqa: E402

failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print(f"FAIL {what}")


def tiny_file(tmp):
    path = os.path.join(tmp, "tiny.gguf")
    weights = array("f", [(i % 64 - 31.5) / 8 for i in range(2 * 64)])  # 2 rows of 64
    bias = array("f", [0.5, -1.0, 2.0])
    gguf.write_gguf(path, [
        ("general.architecture", gguf.STRING, "bert"),
        ("bert.block_count", gguf.U32, 1),
        ("bert.attention.layer_norm_epsilon", gguf.F32, 0.25),
        ("bert.attention.causal", gguf.BOOL, False),
        ("tokenizer.ggml.tokens", gguf.ARRAY, (gguf.STRING, ["[CLS]", "\u2581한국", "어"])),
        ("tokenizer.ggml.token_type", gguf.ARRAY, (gguf.I32, [3, 1, 1])),
    ], [("w", (64, 2), gguf.GGML_Q8_0, gguf.quantize_q8_0(weights)),
        ("b", (3,), gguf.GGML_F32, bias.tobytes())])
    g = gguf.read_gguf(path)
    check(g["version"] == 3, "version 3")
    m = g["metadata"]
    check(m["general.architecture"] == "bert" and m["bert.block_count"] == 1, "scalars")
    check(m["bert.attention.layer_norm_epsilon"] == 0.25 and m["bert.attention.causal"] is False,
          "f32 and bool")
    check(m["tokenizer.ggml.tokens"] == ["[CLS]", "\u2581한국", "어"], "string array (UTF-8)")
    check(m["tokenizer.ggml.token_type"] == [3, 1, 1], "int32 array")
    names = [(t["name"], t["dims"], t["type"]) for t in g["tensors"]]
    check(names == [("w", (64, 2), 8), ("b", (3,), 0)], f"tensor table {names}")
    with open(path, "rb") as f:
        data = f.read()
    for t in g["tensors"]:
        check(t["offset"] % gguf.ALIGNMENT == 0, f"{t['name']} aligned")
    w, b = g["tensors"]
    check(len(data) >= b["offset"] + 12, "file holds the last tensor")
    check(array("f", data[b["offset"]:b["offset"] + 12]) == bias, "f32 data read back")
    # Q8_0: 4 blocks of 34 bytes (f16 scale, 32 int8); dequantized within half a step.
    blocks = data[w["offset"]:w["offset"] + 4 * gguf.Q8_0_BYTES]
    worst = 0.0
    for k in range(4):
        block = blocks[k * 34:(k + 1) * 34]
        (d,) = struct.unpack("<e", block[:2])
        q = array("b", block[2:])
        check(max(abs(v) for v in q) == 127, f"block {k}: the largest |x| maps to 127")
        for j in range(32):
            worst = max(worst, abs(q[j] * d - weights[k * 32 + j]) / d)
    check(worst <= 0.5 + 1e-3, f"Q8_0 error {worst:.3f} steps (<= 0.5)")


def ko_tiny(tmp):
    model = os.path.join(HERE, "data", "models", "ko-tiny")
    path = os.path.join(tmp, "ko-tiny.gguf")
    gguf.hf_to_gguf(model, path, "f32", log=lambda *_: None)
    g = gguf.read_gguf(path)
    m, t = g["metadata"], {x["name"]: x for x in g["tensors"]}
    check(m["general.architecture"] == "bert", "arch")
    # config: 514 positions, pad_token_id 1 -> rows 2.. kept
    check(m["bert.context_length"] == 512 and t["position_embd.weight"]["dims"] == (64, 512),
          f"positions trimmed: {m['bert.context_length']}, {t['position_embd.weight']['dims']}")
    check(t["token_embd.weight"]["dims"] == (64, 32000), "word embeddings [64, 32000]")
    check(len(t) == 5 + 2 * 16, f"{len(t)} tensors")
    tokens = m["tokenizer.ggml.tokens"]
    check(tokens[0] == "[CLS]" and m["tokenizer.ggml.token_type"][0] == 3, "[CLS] kept, control")
    check(m["tokenizer.ggml.bos_token_id"] == 0 and m["tokenizer.ggml.seperator_token_id"] == 2,
          "klue's [CLS] 0 and [SEP] 2")
    check(all(not s.startswith("##") for s in tokens), "no ## left")
    check(sum(s.startswith("\u2581") for s in tokens) > 10000, "phantom spaces")
    with open(path, "rb") as f:  # the trimmed table starts at the source's row pad_token_id + 1
        f.seek(t["position_embd.weight"]["offset"])
        first = array("f", f.read(64 * 4))
    from checkpoint import load_checkpoint
    src = load_checkpoint(model).tensors["embeddings.position_embeddings.weight"].read()
    check(first == array("f", bytes(src[2 * 64 * 4:3 * 64 * 4])), "position row 0 = source row 2")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        tiny_file(tmp)
        ko_tiny(tmp)
    print(f"test_gguf: {'ok' if not failures else f'{failures} failed'}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
