#!/usr/bin/python3
"""Full-size check: libsbert against an independent PyTorch reference on full-size models with
random weights:
  - roberta: ko-sroberta-shaped (RoBERTa, 12 layers x 768, 12 heads, FFN 3072, klue vocab, mean
    pooling), on 200 KorSTS sentences;
  - mpnet: all-mpnet-base-v2-shaped (MPNet, 12 layers x 768, 12 heads, FFN 3072, relative-position
    bias, mpnet-style vocab, mean pooling, Normalize), on the 231 texts of
    tests/data/golden/mpnet-tiny.golden.jsonl (3 of them cut at max_seq_length 384, so relative
    distances reach past the last bucket's 128).

    make && /usr/bin/python3 tests/check_fullsize.py            # what `make check-fullsize` runs
    /usr/bin/python3 tests/check_fullsize.py --threads 1,2 --models mpnet

Steps:
  1. Prove the reference first: tests/torch_reference.py must reproduce the golden embeddings
     of the small models (tests/data/golden/*.golden.jsonl, computed by sentence-transformers
     from the ids stored there) to 2e-6.
  2. Make each model (cached under tests/work/fullsize/, tests/work/fullsize-mpnet/):
         python3 tools/make_random_model.py tests/work/fullsize/hf --seed 1 [--model-type mpnet]
         python3 tools/convert_safetensors.py tests/work/fullsize/hf tests/work/fullsize/model.sbert
  3. Token ids from our C tokenizer (checked against HF separately, tests/test_golden.c):
         examples/encode -m MODEL.sbert --jsonl --ids
  4. libsbert's vectors:  examples/encode -m MODEL.sbert --jsonl --format npy --threads N
  5. The reference's vectors from the same ids, in batches of 32 in input order (so each batch
     mixes short and long texts and exercises the padding mask), in fp32 and, to show the fp32
     noise floor, in fp64.
Pass iff, for every model and thread count, max |diff| <= 1e-4 over all components and the
minimum cosine similarity >= 0.99999 (against the fp32 reference).

Needs PyTorch (Debian: apt-get install -y python3-torch python3-numpy). Without it this prints
a SKIP line and exits 0.
"""

import argparse
import csv
import io
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, "tests", "work")
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's python3-torch lives there, not in a pyenv

MAX_ABS_DIFF = 1e-4
MIN_COSINE = 0.99999
GOLDEN_MAX_ABS_DIFF = 2e-6


def import_torch_or_skip():
    try:
        import numpy  # noqa: F401
        import torch  # noqa: F401
        return
    except ImportError:
        pass
    # `python3` may be a pyenv interpreter without torch: retry once under Debian's Python.
    if (os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON)
            and os.path.exists(SYSTEM_PYTHON) and not os.environ.get("CHECK_FULLSIZE_REEXEC")):
        env = dict(os.environ, CHECK_FULLSIZE_REEXEC="1")
        os.execve(SYSTEM_PYTHON, [SYSTEM_PYTHON, os.path.abspath(__file__)] + sys.argv[1:], env)
    print("SKIP: check_fullsize: PyTorch is not installed "
          "(apt-get install -y python3-torch python3-numpy, then run with /usr/bin/python3)")
    sys.exit(0)


def log(msg):
    print(msg, flush=True)


def run(cmd, stdin=None):
    """Runs cmd, returns its stdout bytes; a failure ends the check with the command's stderr."""
    p = subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {p.returncode}:\n{p.stderr.decode(errors='replace')}")
    return p.stdout


def fmt_cos(cos):
    return f"{cos:.9f} (1 - {1 - cos:.1e})"


def compare(got, want):
    """(max |diff| over all components, min cosine over rows) of two [N, dim] tensors."""
    import torch
    diff = (got.double() - want.double()).abs().max().item()
    cos = torch.nn.functional.cosine_similarity(got.double(), want.double(), dim=1).min().item()
    return diff, cos


def prove_reference(ref):
    """The reference must reproduce the golden vectors of every small model it can build."""
    import torch
    ok = True
    for name in ("ko-tiny", "ko-small", "minilm-tiny", "mpnet-tiny"):
        model_dir = os.path.join(ROOT, "tests", "data", "models", name)
        golden = os.path.join(ROOT, "tests", "data", "golden", f"{name}.golden.jsonl")
        if not (os.path.isdir(model_dir) and os.path.exists(golden)):
            continue
        with open(golden, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f]
        model = ref.load(model_dir)
        want = torch.tensor([r["embedding"] for r in rows])
        got = ref.encode_ids(model, [r["ids"] for r in rows], batch_size=32, sort_by_length=False)
        diff, cos = compare(got, want)
        good = diff <= GOLDEN_MAX_ABS_DIFF
        ok &= good
        log(f"  reference vs golden {name:12s} {len(rows)} texts: max |diff| {diff:.2e}, "
            f"min cosine {fmt_cos(cos)}  {'ok' if good else 'FAIL'}")
    return ok


def newer(target, *sources):
    return os.path.exists(target) and all(os.path.getmtime(target) >= os.path.getmtime(s)
                                          for s in sources)


def make_model(work, seed, options):
    """The random full-size HF directory and its .sbert conversion, rebuilt only when stale."""
    hf_dir = os.path.join(work, "hf")
    sbert = os.path.join(work, "model.sbert")
    maker = os.path.join(ROOT, "tools", "make_random_model.py")
    converter = os.path.join(ROOT, "tools", "convert_safetensors.py")
    for tool in (maker, converter):
        if not os.path.exists(tool):
            sys.exit(f"FAIL: {os.path.relpath(tool, ROOT)} is missing")
    stamp = os.path.join(hf_dir, ".seed")
    recipe = " ".join(["--seed", str(seed)] + options)
    if not (os.path.exists(stamp) and open(stamp).read() == recipe and newer(stamp, maker)):
        log(f"  making the random model: tools/make_random_model.py {os.path.relpath(hf_dir, ROOT)} {recipe}")
        run([sys.executable, maker, hf_dir, *recipe.split()])
        with open(stamp, "w") as f:
            f.write(recipe)
    if not newer(sbert, stamp, converter):
        log(f"  converting: tools/convert_safetensors.py {os.path.relpath(hf_dir, ROOT)} {os.path.relpath(sbert, ROOT)}")
        run([sys.executable, converter, hf_dir, sbert, "--quiet"])
    return hf_dir, sbert


def korsts_sentences(n):
    """The first n sentences of the KorSTS test split, sentence1 and sentence2 of each row."""
    path = os.path.join(ROOT, "tests", "data", "korsts", "sts-test.tsv")
    with open(path, encoding="utf-8", newline="") as f:
        rows = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        texts = []
        for row in rows:
            texts += [row["sentence1"], row["sentence2"]]
            if len(texts) >= n:
                return texts[:n]
    return texts


def golden_texts(name):
    """The texts of tests/data/golden/<name>.golden.jsonl."""
    with open(os.path.join(ROOT, "tests", "data", "golden", f"{name}.golden.jsonl"),
              encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f]


# name -> (work directory under tests/work, make_random_model.py options, texts, what they are)
FULLSIZE_MODELS = {
    "roberta": ("fullsize", [], lambda n: korsts_sentences(n), "KorSTS sentences"),
    "mpnet": ("fullsize-mpnet", ["--model-type", "mpnet"], lambda n: golden_texts("mpnet-tiny"),
              "texts of mpnet-tiny.golden.jsonl"),
}


def check_model(name, args, ref):
    """Steps 2-5 for one full-size model; True when every thread count passes."""
    import numpy as np
    import torch
    work, options, texts_of, what = FULLSIZE_MODELS[name]
    log(f"2. the full-size {name} model")
    hf_dir, sbert = make_model(os.path.join(WORK, work), args.seed, options)

    texts = texts_of(args.sentences)
    jsonl = "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts).encode()
    ids_out = run([args.encode, "-m", sbert, "--jsonl", "--ids", "-q"], stdin=jsonl).decode()
    ids = [[int(x) for x in line.split()] for line in ids_out.splitlines()]
    if len(ids) != len(texts):
        log(f"FAIL: check_fullsize: --ids gave {len(ids)} lines for {len(texts)} texts")
        return False
    lengths = sorted(len(x) for x in ids)
    log(f"3. {len(texts)} {what}, {lengths[0]}..{lengths[-1]} tokens "
        f"(median {lengths[len(lengths) // 2]}), ids from the C tokenizer")

    log("4. the reference on the full-size model (batches of 32 in input order, mixed lengths)")
    t = time.perf_counter()
    want = ref.encode_ids(ref.load(hf_dir), ids, batch_size=32, sort_by_length=False)
    log(f"  fp32: {time.perf_counter() - t:.1f} s, largest |component| {want.abs().max().item():.3f}")
    want64 = ref.encode_ids(ref.load(hf_dir, torch.float64), ids, batch_size=32, sort_by_length=False)
    diff, cos = compare(want, want64)
    log(f"  PyTorch fp32 vs fp64 (the fp32 noise floor): max |diff| {diff:.2e}, min cosine {fmt_cos(cos)}")

    log("5. libsbert (examples/encode --format npy)")
    ok = True
    for n in [int(x) for x in args.threads.split(",")]:
        t = time.perf_counter()
        npy = run([args.encode, "-m", sbert, "--jsonl", "--format", "npy", "--threads", str(n), "-q"],
                  stdin=jsonl)
        seconds = time.perf_counter() - t
        got = torch.from_numpy(np.load(io.BytesIO(npy)).astype(np.float32))
        if tuple(got.shape) != tuple(want.shape):
            log(f"FAIL: check_fullsize: libsbert gave shape {tuple(got.shape)}, want {tuple(want.shape)}")
            return False
        diff, cos = compare(got, want)
        diff64, cos64 = compare(got, want64)
        good = diff <= MAX_ABS_DIFF and cos >= MIN_COSINE
        ok &= good
        log(f"  --threads {n}: max |diff| {diff:.2e}, min cosine {fmt_cos(cos)} "
            f"(vs fp64: {diff64:.2e}, {fmt_cos(cos64)}); {seconds:.1f} s  {'ok' if good else 'FAIL'}")
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--encode", default=os.path.join(ROOT, "examples", "encode"),
                        help="the encode example (default: examples/encode)")
    parser.add_argument("--threads", default=f"1,{os.cpu_count()}",
                        help="comma-separated thread counts to check (default: 1 and all cores)")
    parser.add_argument("--sentences", type=int, default=200, help="KorSTS sentences (roberta)")
    parser.add_argument("--models", default=",".join(FULLSIZE_MODELS),
                        help=f"comma-separated, of: {', '.join(FULLSIZE_MODELS)} (default: all)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    unknown = set(args.models.split(",")) - set(FULLSIZE_MODELS)
    if unknown:
        parser.error(f"--models: unknown {', '.join(sorted(unknown))} "
                     f"(known: {', '.join(FULLSIZE_MODELS)})")

    import_torch_or_skip()
    import torch
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    import torch_reference as ref
    # The matmuls run on OpenBLAS's own threads; torch's OpenMP workers, idle but spinning,
    # would only take cores from them.
    torch.set_num_threads(1)

    log(f"check_fullsize: PyTorch {torch.__version__}")
    log("1. the reference against the golden embeddings")
    if not prove_reference(ref):
        log("FAIL: check_fullsize: the PyTorch reference does not reproduce the golden vectors")
        return 1

    if not os.access(args.encode, os.X_OK):
        log(f"FAIL: check_fullsize: {args.encode} is not built (run make first)")
        return 1
    ok = True
    for name in args.models.split(","):
        ok &= check_model(name, args, ref)

    verdict = "PASS" if ok else "FAIL"
    log(f"{verdict}: check_fullsize (limits: max |diff| <= {MAX_ABS_DIFF:g}, min cosine >= {MIN_COSINE})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
