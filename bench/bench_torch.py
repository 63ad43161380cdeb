"""The PyTorch peer: Debian's python3-torch (matmuls through the system BLAS, which must be
OpenBLAS) running tests/torch_reference.py, the nn-module reference that check_fullsize.py proves
against sentence-transformers' golden vectors. Token ids are pre-tokenized by bench/workloads.js
(Hugging Face tokenizers), so tokenizing is not timed here; batching is sentence-transformers'
(sorted by text length, longest first, batches of 32, each padded to its longest text).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=N OMP_NUM_THREADS=1 \
        /usr/bin/python3 bench/bench_torch.py HF_DIR WORK_DIR N

Threads: N OpenBLAS threads run the matmuls (nearly all the time); torch's own intra-op pool is
kept at 1 thread, because its idle OpenMP workers spin on the same cores and starve OpenBLAS's
(at 2 threads on 2 cores, torch's default of 2 makes a 16-token text 10x slower).

Prints JSON lines like bench/bench_ort.js ("engine": "torch") and writes the W3 vectors to
WORK_DIR/vectors-torch-tN.f32.
"""

import ctypes
import json
import os
import resource
import statistics
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
import torch_reference as ref  # noqa: E402

BATCH_SIZE = 32


def openblas(threads):
    """Sets the thread count of the BLAS that torch's matmuls really call and describes it:
    OpenBLAS's kernel name and thread count, or a warning when it is not OpenBLAS."""
    for lib in ("libblas.so.3", "libopenblas.so.0"):
        try:
            blas = ctypes.CDLL(lib)  # the library torch already loaded
        except OSError:
            continue
        if hasattr(blas, "openblas_get_corename"):
            blas.openblas_set_num_threads(threads)
            blas.openblas_get_corename.restype = ctypes.c_char_p
            return f"OpenBLAS {blas.openblas_get_corename().decode()} kernels, " \
                   f"{blas.openblas_get_num_threads()} threads"
    return "NOT OpenBLAS (reference BLAS? update-alternatives --display libblas.so.3-x86_64-linux-gnu)"


def sgemm_gflops(n=1024, repeats=10):
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t)
    return 2 * n ** 3 / statistics.median(times) / 1e9


@torch.inference_mode()
def encode(model, texts, ids):
    """sentence-transformers' encode() from token ids: sort, batch, pad, run, unsort."""
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    rows = [None] * len(texts)
    for start in range(0, len(order), BATCH_SIZE):
        chunk = order[start:start + BATCH_SIZE]
        input_ids, attention_mask = ref.pad_batch([ids[i] for i in chunk], model.pad_id)
        vectors = model(input_ids, attention_mask)
        for k, i in enumerate(chunk):
            rows[i] = vectors[k]
    return torch.stack(rows)


def main():
    hf_dir, work_dir, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    torch.set_num_threads(1)
    blas = openblas(threads)
    with open(os.path.join(work_dir, "workloads.json"), encoding="utf-8") as f:
        workloads = json.load(f)

    def emit(**obj):
        print(json.dumps({"engine": "torch", "threads": threads, **obj}), flush=True)

    emit(metric="blas", value=sgemm_gflops(), unit="GFLOP/s (sgemm 1024)", blas=blas)
    t0 = time.perf_counter()
    model = ref.load(hf_dir)
    t1 = time.perf_counter()
    encode(model, workloads["W1"]["texts"], workloads["W1"]["ids"])
    t2 = time.perf_counter()
    emit(metric="open_ms", value=(t2 - t0) * 1e3, load_ms=(t1 - t0) * 1e3, first_encode_ms=(t2 - t1) * 1e3,
         version=torch.__version__)
    if os.environ.get("BENCH_OPEN_ONLY") == "1":  # run.sh's cold-open measurement
        return

    with open(os.path.join(work_dir, "plan.txt"), encoding="utf-8") as f:  # the workloads to time
        plan = [line.split()[0] for line in f if line.strip()]
    for name in plan:
        w = workloads[name]
        r = w["repeat"]
        for _ in range(r["warmup"]):
            encode(model, w["texts"], w["ids"])
        times = []
        start = time.perf_counter()
        while len(times) < r["max_repeats"] and (len(times) < r["min_repeats"]
                                                 or time.perf_counter() - start < r["budget_s"]):
            t = time.perf_counter()
            vectors = encode(model, w["texts"], w["ids"])
            times.append((time.perf_counter() - t) * 1e3)
        emit(workload=name, texts=len(w["texts"]), tokens=w["tokens"], times_ms=times,
             median_ms=statistics.median(times))
        if name == "W3":
            vectors.numpy().astype("<f4").tofile(os.path.join(work_dir, f"vectors-torch-t{threads}.f32"))
    emit(metric="peak_rss_mb", value=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


if __name__ == "__main__":
    main()
