#!/usr/bin/env python3
"""Golden data for the parts of the pipeline that Python itself does, from CPython's own str:

    python3 tools/golden_python.py tests/data/tokenize

writes into that directory
  python-prepare.jsonl   {"text", "strip", "lower"}: sentence-transformers' text.strip() and
                         text.strip().lower(), for every text of corpus-public.jsonl and
                         corpus-edge.jsonl plus the final-sigma cases below
  python-utf8.jsonl      {"hex", "text"}: byte strings (fixed cases, then random ones from a
                         fixed seed) and bytes.decode("utf-8", errors="replace") of each, the
                         U+FFFD substitution of maximal subparts libsbert's SB_UTF8_REPLACE follows
The Unicode version is the running Python's (unicodedata.unidata_version goes into the README).
"""
import json
import os
import random
import sys

SIGMA_CASES = ["Σ", "ΑΣ", "ΑΣ.", "ΑΣΑ", "Α.Σ", "Α'Σ", "Α\u0345Σ", "ΑΣ\u0345", "ΑΣ'Α", "ΟΔΟΣ ΟΔΟΣ",
               "\u00adΣ", "aΣ", "aΣb", "1Σ", "ΣΣ", "ΑΣΣ", "ΑΣ\u200dΑ", "  ΑΣ  ", "ΑΣ\u3000",
               "İstanbul", "\u1e9e", "ǅ", "Ω K Å", "\u0130\u0307"]

UTF8_CASES = ["", "41", "c0af", "c1bf", "e080af", "e09f80", "eda080", "edbfbf", "ed9fbf", "f08f8080",
              "f4908080", "f5", "ff", "fe", "80", "bf", "c2", "e2", "e282", "f0", "f09f", "f09f98",
              "f09f9880", "e282ac", "e282ac41", "e28241", "f09f9841", "c2c2", "e0a0", "e0a080",
              "f48fbfbf", "f4bfbfbf", "61f180808062", "efbbbf", "eda0bdedb880", "c3a9c3", "41c3",
              "f1", "f18080", "f1808080", "e1", "e180", "e18080"]


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


def random_bytes(rng):
    """Short strings biased towards lead bytes, continuation bytes and their edges."""
    pool = [0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1,
            0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF]
    return bytes(rng.choice(pool) if rng.random() < 0.8 else rng.randrange(256)
                 for _ in range(rng.randrange(1, 9)))


def main():
    out = sys.argv[1]
    texts = []
    for name in ("corpus-public.jsonl", "corpus-edge.jsonl"):
        with open(os.path.join(out, name), encoding="utf-8") as f:
            texts += [json.loads(line)["text"] for line in f]
    texts += SIGMA_CASES
    write_jsonl(os.path.join(out, "python-prepare.jsonl"),
                [{"text": t, "strip": t.strip(), "lower": t.strip().lower()} for t in texts])
    rng = random.Random(1234)
    cases = [bytes.fromhex(h) for h in UTF8_CASES] + [random_bytes(rng) for _ in range(5000)]
    write_jsonl(os.path.join(out, "python-utf8.jsonl"),
                [{"hex": b.hex(), "text": b.decode("utf-8", errors="replace")} for b in cases])


if __name__ == "__main__":
    main()
