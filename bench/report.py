"""Summarizes a make-bench run: a table of medians and ratios against ONNX Runtime, the open /
memory figures, the agreement of the engines' W3 vectors, and a PNG chart.

    /usr/bin/python3 bench/report.py WORK_DIR

Reads WORK_DIR/results.jsonl (the JSON lines of bench_encode, bench_ort.js and bench_torch.py;
the timings of several rounds are pooled before taking medians) and WORK_DIR/workloads.json;
writes WORK_DIR/results.md (the tables printed) and WORK_DIR/bench.png.
"""

import collections
import json
import os
import statistics
import sys

import numpy as np

# libsbert-bf16: the same weights converted with --dtype bf16 (Linear weights and word embeddings
# stored as bfloat16, computed in fp32); libsbert-int8: --dtype int8 (int8 Linear weights, each
# layer's input quantized per row, exact int32 sums): not fp32 engines, reported beside the fp32
# comparison.
ENGINES = [("libsbert", "libsbert"), ("libsbert-bf16", "libsbert, bf16 weights"),
           ("libsbert-int8", "libsbert, int8"), ("ort", "ONNX Runtime"),
           ("ort-int8", "ONNX Runtime, int8"), ("llama-f32", "llama.cpp f32"),
           ("llama-q8_0", "llama.cpp Q8_0"), ("torch", "PyTorch")]
LABEL = dict(ENGINES)
# llama.cpp's W3 vectors through its own WordPiece (bench_llama.mjs), for the agreement table
LABEL.update({"llama-f32-own": "llama.cpp f32, its own tokenizer",
              "llama-q8_0-own": "llama.cpp Q8_0, its own tokenizer"})
# libsbert against llama.cpp at the same precision (the "at least 1.5x" pairs)
VS_LLAMA = [("libsbert", "llama-f32"), ("libsbert-int8", "llama-q8_0")]


def load(work):
    times = collections.defaultdict(list)  # (engine, threads, workload) -> [ms]
    metrics = collections.defaultdict(list)  # (engine, threads, metric) -> [record]
    with open(os.path.join(work, "results.jsonl"), encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            if "workload" in r:
                times[r["engine"], r["threads"], r["workload"]] += r["times_ms"]
            else:
                metrics[r["engine"], r["threads"], r["metric"]].append(r)
    return times, metrics


def fmt_ms(ms):
    return f"{ms / 1e3:.2f} s" if ms >= 1e4 else f"{ms:.1f} ms" if ms >= 10 else f"{ms:.2f} ms"


def table(rows, header):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda r: "| " + " | ".join(str(x).ljust(w) for x, w in zip(r, widths)) + " |"
    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
                     + [line(r) for r in rows])


def agreement(work, threads_list, dim, ran):
    """max |diff| and min cosine of each engine's W3 vectors against PyTorch's (same thread count),
    for the engines of this run (`ran`: a vectors file left by an earlier run is not reported)."""
    rows = []
    for t in threads_list:
        path = os.path.join(work, f"vectors-torch-t{t}.f32")
        if not os.path.exists(path):
            continue
        ref = np.fromfile(path, dtype="<f4").reshape(-1, dim).astype(np.float64)
        for engine in ("libsbert", "libsbert-bf16", "libsbert-int8", "ort", "ort-int8",
                       "llama-f32", "llama-f32-own", "llama-q8_0", "llama-q8_0-own"):
            path = os.path.join(work, f"vectors-{engine}-t{t}.f32")
            if engine.removesuffix("-own") not in ran or not os.path.exists(path):
                continue
            got = np.fromfile(path, dtype="<f4").reshape(-1, dim).astype(np.float64)
            if got.shape != ref.shape:
                rows.append([LABEL[engine], t, f"shape {got.shape} != {ref.shape}", ""])
                continue
            cos = (got * ref).sum(1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(ref, axis=1))
            rows.append([LABEL[engine], t, f"{np.abs(got - ref).max():.2e}",
                         f"{cos.min():.9f} (1 - {1 - cos.min():.1e})"])
    return rows


def useful_gflop(texts_ids, config):
    """The multiply-adds x 2 a workload needs, without padding: per text of n tokens and per layer,
    the Linear layers' n (4 H^2 + 2 H I) and attention's scores and weighted sum, 2 n^2 H."""
    H, I, L = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    return sum(2 * L * (len(ids) * (4 * H * H + 2 * H * I) + 2 * len(ids) ** 2 * H)
               for ids in texts_ids) / 1e9


def compute_rate(work, workloads, threads_list, med, metrics):
    """GFLOP/s of each fp32 engine on each workload and its fraction of the FMA peak that
    fma_peak measured in the same run (median over the rounds). Useful work only: the peers'
    padding in W3 is work they chose to do."""
    config_path = os.path.join(work, "hf", "config.json")
    if not os.path.exists(config_path):
        return []
    with open(config_path, encoding="utf-8") as f:
        config = json.load(f)
    peaks = {t: statistics.median(r["value"] for r in metrics.get(("machine", t, "fma_peak_gflops"), []))
             for t in threads_list if metrics.get(("machine", t, "fma_peak_gflops"))}
    fp32 = [e for e in ("libsbert", "libsbert-bf16", "ort", "llama-f32", "torch")
            if any(k[0] == e for k in med)]
    rows = []
    for w, info in workloads.items():
        gflop = useful_gflop(info["ids"], config)
        for t in threads_list:
            row = [w, f"{gflop:.1f}", t, f"{peaks[t]:.0f}" if t in peaks else "-"]
            for engine in fp32:
                ms = med.get((engine, t, w))
                rate = gflop / ms * 1e3 if ms else None
                row.append(f"{rate:.0f} ({rate / peaks[t]:.0%})" if rate and t in peaks
                           else f"{rate:.0f}" if rate else "-")
            rows.append(row)
    header = ["workload", "GFLOP", "threads", "FMA peak GFLOP/s"] + [LABEL[e] for e in fp32]
    return ["## Compute rate: GFLOP/s (fraction of the fp32 FMA peak measured in this run)", "",
            "GFLOP: the workload's useful floating-point operations (2 per multiply-add, no "
            "padding); FMA peak: bench/fma_peak.c before each round (AVX-512, median of the "
            "rounds).", "", table(rows, header), ""]


def machine_lines(metrics):
    """The CPU of this run (bench/machine.sh), named above every table."""
    cpu = metrics.get(("machine", 0, "cpu"))
    if not cpu:
        return []
    c = cpu[0]
    return [f"CPU: {c['model_name']} ({c['vendor']} family {c['family']} model {c['model']}), "
            f"{c['value']} logical CPUs; ISA: {c['isa']}",
            f"libsbert kernels: {c['kernels']}; with SBERT_ISA=avx2: {c['kernels_avx2']}",
            f"load average when the run started: {' '.join(c['loadavg'])}", ""]


def vs_llama(workloads, threads_list, med):
    rows = []
    for w in workloads:
        for t in threads_list:
            row = [w, t]
            for lib, llama in VS_LLAMA:
                a, b = med.get((lib, t, w)), med.get((llama, t, w))
                row += [fmt_ms(a) if a else "-", fmt_ms(b) if b else "-",
                        f"{b / a:.2f}x" if a and b else "-"]
            rows.append(row)
    if not any(r[4] != "-" or r[7] != "-" for r in rows):
        return []
    header = ["workload", "threads", "libsbert fp32", "llama.cpp f32", "speed-up",
              "libsbert int8", "llama.cpp Q8_0", "speed-up"]
    return ["## libsbert against llama.cpp at the same precision (speed-up = llama.cpp time / "
            "libsbert time)", "",
            "llama.cpp: node-llama-cpp's createEmbeddingContext(), one text per call (it has no "
            "batched embedding call), fed Hugging Face's ids (its own WordPiece would give Korean "
            "text far fewer tokens, nearly all [UNK]); tokenizing not timed for it.", "",
            table(rows, header), ""]


def bounds(work, workloads, threads_list, med, metrics):
    """W1 against the time to stream the Linear weights once (fma_peak's read at the same thread
    count), and libsbert int8's rate against the int8 peak of the instructions it uses."""
    cpu = (metrics.get(("machine", 0, "cpu")) or [{}])[0]
    config_path = os.path.join(work, "hf", "config.json")
    if not os.path.exists(config_path):
        return []
    with open(config_path, encoding="utf-8") as f:
        config = json.load(f)
    rows = []
    for t in threads_list:
        streams = {round(r["mb"]): r["value"] for r in metrics.get(("machine", t, "stream_ms"), [])}
        streams = {mb: statistics.median(r["value"] for r in metrics[("machine", t, "stream_ms")]
                                         if round(r["mb"]) == mb) for mb in streams}
        sizes = sorted(streams, reverse=True)  # fp32 bytes first, then int8
        for engine, size in zip(("libsbert", "libsbert-int8"), sizes):
            ms = med.get((engine, t, "W1"))
            if ms:
                rows.append([LABEL[engine], t, fmt_ms(ms), f"{size} MB in {fmt_ms(streams[size])}",
                             f"{ms / streams[size]:.2f}x"])
    out = []
    if rows:
        out += ["## W1 against streaming the weights once (bench/fma_peak.c: each thread reads "
                "its share of a buffer the size of the Linear weights)", "",
                table(rows, ["engine", "threads", "W1 median", "stream", "W1 / stream"]), ""]
    kernels = cpu.get("kernels", "")
    q8 = "avx2" if "int8: avx2" in kernels else "amx" if "int8: amx" in kernels else "value"
    rows = []
    for w, info in workloads.items():
        gop = useful_gflop(info["ids"], config)
        for t in threads_list:
            peaks = metrics.get(("machine", t, "int8_peak_gops"))
            ms = med.get(("libsbert-int8", t, w))
            if peaks and ms and peaks[0].get(q8):
                peak = statistics.median(r[q8] for r in peaks)
                rows.append([w, t, f"{gop / ms * 1e3:.0f}", f"{peak:.0f}",
                             f"{gop / ms * 1e3 / peak:.0%}"])
    if rows:
        out += [f"## libsbert int8 against the int8 peak of its instructions "
                f"({ {'avx2': 'vpmaddubsw + vpmaddwd + vpaddd', 'amx': 'AMX tdpbusd'}.get(q8, 'vpdpbusd')}; "
                "bench/fma_peak.c, GOP = 2 per multiply-add, useful work only)", "",
                table(rows, ["workload", "threads", "GOP/s", "int8 peak GOP/s", "fraction"]), ""]
    return out


def chart(path, workloads, threads_list, med):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("no chart: matplotlib is missing (apt-get install -y python3-matplotlib)")
        return
    fig, axes = plt.subplots(1, len(threads_list), figsize=(6 * len(threads_list), 4.5),
                             squeeze=False, sharey=True)
    colors = {"libsbert": "#d62728", "libsbert-bf16": "#f4a6a6", "libsbert-int8": "#8c564b",
              "ort": "#1f77b4", "ort-int8": "#17becf", "torch": "#ff7f0e",
              "llama-f32": "#2ca02c", "llama-q8_0": "#98df8a"}
    engines = [e for e in ENGINES if any(k[0] == e[0] for k in med)]  # those that ran
    width = 0.8 / len(engines)
    for ax, t in zip(axes[0], threads_list):
        for k, (engine, label) in enumerate(engines):
            xs, ys, texts = [], [], []
            for i, w in enumerate(workloads):
                ms, ort = med.get((engine, t, w)), med.get(("ort", t, w))
                if ms and ort:
                    xs.append(i + (k - (len(engines) - 1) / 2) * width)
                    ys.append(ort / ms)
                    texts.append(fmt_ms(ms))
            bars = ax.bar(xs, ys, width, label=label, color=colors[engine])
            for bar, text in zip(bars, texts):
                ax.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                            ha="center", va="bottom", fontsize=7, rotation=90,
                            xytext=(0, 2), textcoords="offset points")
        ax.axhline(1.0, color="gray", linewidth=0.8)
        ax.set_xticks(range(len(workloads)))
        ax.set_xticklabels([f"{w}\n{workloads[w]['description']}" for w in workloads], fontsize=8)
        ax.set_title(f"{t} thread{'s' if t > 1 else ''}")
        ax.margins(y=0.25)
    axes[0][0].set_ylabel("speed relative to ONNX Runtime (higher is faster)")
    axes[0][0].legend(fontsize=8, loc="upper right")
    fig.suptitle("ko-sroberta-shaped model (12 x 768, random weights), fp32 compute, median times on "
                 "bars\n(bf16 weights: the same model stored as bfloat16; int8: its int8 conversion, "
                 "int8 arithmetic)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"chart: {path}")


def main():
    work = sys.argv[1]
    with open(os.path.join(work, "workloads.json"), encoding="utf-8") as f:
        workloads = json.load(f)
    n_w3 = len(workloads["W3"]["texts"])
    times, metrics = load(work)
    med = {k: statistics.median(v) for k, v in times.items()}
    threads_list = sorted({k[1] for k in med})
    out = machine_lines(metrics)

    # Speed: medians and speed against ONNX Runtime (ORT time / engine time: >1 is faster).
    engines = [e for e in ENGINES if any(k[0] == e[0] for k in med)]  # those that ran
    rows = []
    for w, info in workloads.items():
        for t in threads_list:
            row = [w, info["description"], t]
            ort = med.get(("ort", t, w))
            for engine, _ in engines:
                ms = med.get((engine, t, w))
                n = len(times.get((engine, t, w), []))
                row.append(f"{fmt_ms(ms)} (n={n})" if ms else "-")
                if engine != "ort":
                    row.append(f"{ort / ms:.2f}x" if ms and ort else "-")
            lib = med.get(("libsbert", t, w))
            row.append(f"{info['tokens'] / lib * 1e3:,.0f}" if lib else "-")
            rows.append(row)
    header = ["workload", "", "threads"]
    for engine, label in engines:
        header += [label] + (["vs ORT"] if engine != "ort" else [])
    header += ["libsbert tokens/s"]
    out += ["## Median time per workload (vs ORT = ORT time / engine time; > 1 is faster than ORT)",
            "", table(rows, header), ""]

    out += vs_llama(workloads, threads_list, med)
    out += compute_rate(work, workloads, threads_list, med, metrics)
    out += bounds(work, workloads, threads_list, med, metrics)

    rows = []
    for engine, label in ENGINES:
        for t in threads_list:
            o = metrics.get((engine, t, "open_ms"))
            m = metrics.get((engine, t, "peak_rss_mb"))
            loadavg = metrics.get((engine, t, "loadavg"), [])
            if not (o or m):
                continue
            detail = {"libsbert": "load {:.0f} ms + first W1 {:.0f} ms",
                      "libsbert-bf16": "load {:.0f} ms + first W1 {:.0f} ms",
                      "libsbert-int8": "load {:.0f} ms + first W1 {:.0f} ms",
                      "ort": "session create {:.0f} ms + first W1 {:.0f} ms",
                      "ort-int8": "session create {:.0f} ms + first W1 {:.0f} ms",
                      "llama-f32": "load {:.0f} ms + first W1 {:.0f} ms",
                      "llama-q8_0": "load {:.0f} ms + first W1 {:.0f} ms",
                      "torch": "load {:.0f} ms + first W1 {:.0f} ms"}[engine]

            def describe(o):  # one round's open: total, its parts, the page cache before it
                parts = [o.get(k) for k in ("load_ms", "session_create_ms", "first_encode_ms")
                         if k in o]
                if "gb_s" in o:  # page_cache.py read: the file alone, no engine
                    return fmt_ms(o["value"]), f"{o['bytes'] / 1e6:.0f} MB at {o['gb_s']:.1f} GB/s"
                cached = f", file {o['cached_pct']:.0f}% cached" if "cached_pct" in o else ""
                return fmt_ms(o["value"]), (detail.format(*parts) if len(parts) == 2 else "") + cached

            states = [("cold", metrics.get((engine, t, "open_cold_ms"), [])),
                      ("cold, the file alone", metrics.get((engine, t, "disk_read_ms"), [])),
                      ("warm", o or []),
                      ("again in-process", metrics.get((engine, t, "open_warm_ms"), []))]
            first = True
            for state, opens in states:
                if not opens and not first:
                    continue
                rounds = [describe(x) for x in opens]
                rows.append([label if first else "", t, state,
                             " / ".join(r[0] for r in rounds) or "-",
                             " / ".join(r[1] for r in rounds),
                             (f"{m[0]['value']:.0f} MB" if m else "-") if first else "",
                             (" ".join(f"{x['value']:.1f}" for x in loadavg) or "-") if first else ""])
                first = False
    out += ["## Open to first embedding (each round), peak RSS (load: 1-minute load average before "
            "the engine ran)", "",
            "cold: the model file evicted from the page cache just before (read from disk); "
            "cold, the file alone: the same file evicted and read back by 4 threads, no engine "
            "(bench/page_cache.py read: what no cold open can beat); warm: "
            "the file read through just before (bench/page_cache.py); again in-process: libsbert "
            "loading the model a second time at the end of its run.", "",
            table(rows, ["engine", "threads", "page cache", "open to first vector", "of which",
                         "peak RSS", "load"]), ""]

    versions = [f"{LABEL[e]} {metrics[e, t, 'open_ms'][0].get('version')}" for e, _ in ENGINES
                for t in threads_list[:1] if metrics.get((e, t, "open_ms"))]
    if versions:
        out += ["versions: " + ", ".join(versions)]
    for t in threads_list:
        b = metrics.get(("torch", t, "blas"))
        if b:
            out += [f"PyTorch BLAS at {t} thread(s): {b[0]['blas']}, sgemm {b[0]['value']:.0f} GFLOP/s"]
    out += [""]

    dim = None
    for name in os.listdir(work):
        if name.startswith("vectors-torch-"):
            dim = os.path.getsize(os.path.join(work, name)) // 4 // n_w3
            break
    if dim:
        rows = agreement(work, threads_list, dim, {k[0] for k in med})
        own = {t: metrics.get(("llama-f32", t, "own_tokens_w3")) for t in threads_list}
        own = next((o[0] for o in own.values() if o), None)
        out += ["## Agreement of the W3 vectors with PyTorch's", ""]
        if own:
            out += [f"llama.cpp's own tokenizer gives the W3 texts {own['value']:,} tokens "
                    f"(Hugging Face: {own['hf_tokens']:,}).", ""]
        out += [
                table(rows, ["engine", "threads", "max |diff|", "min cosine"]), ""]

    text = "\n".join(out)
    print(text)
    with open(os.path.join(work, "results.md"), "w", encoding="utf-8") as f:
        f.write(text + "\n")
    chart(os.path.join(work, "bench.png"), workloads, threads_list, med)


if __name__ == "__main__":
    main()
