#!/usr/bin/env python3
"""Writes the tokenizer.json variants whose goldens are tests/data/tokenize/<variant>.metaspace.jsonl:
xlmr-style with Metaspace(prepend_scheme, split) changed, and pegasus-autonlp-reuters with its
Metaspace (after WhitespaceSplit) changed to prepend_scheme "first".

    python3 tools/metaspace_variants.py XLMR_TOKENIZER_JSON PEGASUS_TOKENIZER_JSON OUT_DIR

writes OUT_DIR/<variant>.json for xlmr-first-split, xlmr-first-nosplit, xlmr-never-split,
xlmr-never-nosplit and pegasus-first-split (see tests/data/tokenize/README.md).
"""
import copy
import json
import os
import sys


def metaspace(scheme, split):
    return {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": scheme, "split": split}


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__.split("\n\n")[1])
    with open(sys.argv[1], encoding="utf-8") as f:
        xlmr = json.load(f)
    with open(sys.argv[2], encoding="utf-8") as f:
        pegasus = json.load(f)
    out_dir = sys.argv[3]
    os.makedirs(out_dir, exist_ok=True)
    variants = {}
    for scheme in ("first", "never"):
        for split in (True, False):
            v = copy.deepcopy(xlmr)
            v["pre_tokenizer"] = metaspace(scheme, split)
            variants["xlmr-%s-%s" % (scheme, "split" if split else "nosplit")] = v
    v = copy.deepcopy(pegasus)
    v["pre_tokenizer"]["pretokenizers"][1] = metaspace("first", True)
    variants["pegasus-first-split"] = v
    for name, spec in variants.items():
        with open(os.path.join(out_dir, name + ".json"), "w", encoding="utf-8") as f:
            json.dump(spec, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
