#!/usr/bin/env python3
"""The report of bench/rerank.sh: speed in alternating pairs, agreement of the scores.

    python3 bench/rerank_report.py bench/work        -> prints the tables, writes rerank.md

Reads rerank.jsonl (timings, load averages), rerank.txt (the workload's size) and the logits
files rerank-logits-ENGINE.f32 (queries x passages, float32). Standard library only.
"""
import json
import os
import platform
import statistics
import struct
import sys


def logits(work, engine, passages):
    path = os.path.join(work, f"rerank-logits-{engine}.f32")
    with open(path, "rb") as f:
        data = f.read()
    flat = struct.unpack(f"<{len(data) // 4}f", data)
    return [flat[i:i + passages] for i in range(0, len(flat), passages)]


def ranking(scores):
    """Indices by descending score, ties by index (as CrossEncoder.rank's stable sort)."""
    return sorted(range(len(scores)), key=lambda i: (-scores[i], i))


def agreement(reference, other):
    """(top-1 agree, top-10 same order, mean top-10 overlap) over the queries both scored."""
    n = min(len(reference), len(other))
    top1 = order10 = overlap = 0
    for r, o in zip(reference[:n], other[:n]):
        a, b = ranking(r), ranking(o)
        top1 += a[0] == b[0]
        order10 += a[:10] == b[:10]
        overlap += len(set(a[:10]) & set(b[:10])) / 10
    return n, top1, order10, overlap / n


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            return next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def main():
    work = sys.argv[1]
    rows = [json.loads(l) for l in open(os.path.join(work, "rerank.jsonl")) if l.strip()]
    with open(os.path.join(work, "rerank.txt")) as f:
        n_queries, n_passages = map(int, f.readline().split())
    timed = [r for r in rows if r.get("workload") == "rerank"]
    engines = list(dict.fromkeys(r["engine"] for r in timed))
    by_engine = {e: [r["median_ms"] for r in timed if r["engine"] == e] for e in engines}
    # rounds: each starts with libsbert fp32 (a failed process leaves its engine's slot empty)
    rounds = []
    for r in timed:
        if r["engine"] == "libsbert" or not rounds:
            rounds.append({})
        rounds[-1][r["engine"]] = r["median_ms"]
    loads = [r["value"] for r in rows if r.get("metric") == "loadavg"]
    threads = timed[0]["threads"]
    out = [f"# Reranking: one query against {n_passages} passages of 64-256 tokens",
           "",
           f"{cpu_name()}, {threads} threads, fp32 unless named; {len(rounds)} "
           f"alternating rounds of fresh processes; 1-minute load average "
           f"{min(loads):.2f}-{max(loads):.2f} (a machine shared with other work). Model: "
           "XLM-RoBERTa 12 x 768 reranker (bge-reranker-base layout), random weights.",
           "",
           "| engine | median of the rounds (ms) | per round (ms) | pairs/s |",
           "|---|---|---|---|"]
    for e in engines:
        m = statistics.median(by_engine[e])
        out.append(f"| {e} | {m:.0f} | {', '.join(f'{t:.0f}' for t in by_engine[e])} | "
                   f"{n_passages / m * 1e3:.1f} |")
    out.append("")
    for e in engines:
        ratios = [r["ort"] / r[e] for r in rounds if "ort" in r and e in r]
        if e == "ort" or not ratios:
            continue
        out.append(f"ONNX Runtime time / {e} time, in the {len(ratios)} rounds with both: "
                   f"{', '.join(f'{r:.2f}' for r in ratios)}; median {statistics.median(ratios):.2f}")
    out.append("")
    fp32 = logits(work, "libsbert", n_passages)
    ort = logits(work, "ort", n_passages)
    n = min(len(fp32), len(ort))
    diff = max(abs(a - b) for q in range(n) for a, b in zip(fp32[q], ort[q]))
    _, top1, order10, overlap = agreement(ort, fp32)
    out.append(f"libsbert fp32 against ONNX Runtime, {n} queries x {n_passages} passages: max "
               f"|logit difference| {diff:.2e}; top 1 equal in {top1}/{n}, top 10 in the same "
               f"order in {order10}/{n}.")
    int8 = logits(work, "libsbert-int8", n_passages)
    n, top1, order10, overlap = agreement(fp32, int8)
    diff = max(abs(a - b) for q in range(n) for a, b in zip(fp32[q], int8[q]))
    out.append(f"libsbert int8 against libsbert fp32, {n} queries x {n_passages} passages: top 1 "
               f"equal in {top1}/{n} queries, top 10 in the same order in {order10}/{n}, top-10 "
               f"sets overlap {overlap:.1%} on average; max |logit difference| {diff:.3f}. Random "
               "weights make this a weak proxy for a trained reranker, whose scores spread "
               "differently.")
    text = "\n".join(out) + "\n"
    print(text)
    with open(os.path.join(work, "rerank.md"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
