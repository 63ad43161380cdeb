"""The W5 table of bench/long.sh: per text length, each engine's median time, its runs and the
peak resident memory of its process, and libsbert's speed against ONNX Runtime (ORT time /
libsbert time) in fp32 and in int8.

    /usr/bin/python3 bench/report_long.py bench/work/long      -> prints it, writes results.md
"""

import json
import os
import sys

ENGINES = ("libsbert", "ort", "libsbert-int8", "ort-int8")


def main():
    work = sys.argv[1]
    rows = [json.loads(line) for line in open(os.path.join(work, "results.jsonl")) if line.strip()]
    time, runs, rss, load = {}, {}, {}, {}
    for r in rows:
        key = (r.get("engine"), r.get("tokens"))
        if r.get("workload") == "W5":
            time[key] = r["median_ms"]
            runs[key] = len(r["times_ms"])
        elif r.get("metric") == "peak_rss_mb":
            rss[key] = r["value"]
        elif r.get("metric") == "loadavg":
            load[key] = r["value"]

    def cell(engine, n):
        key = (engine, n)
        if key not in time:
            return "failed"
        t = time[key]
        t = f"{t / 1000:.2f} s" if t >= 1000 else f"{t:.0f} ms"
        return f"{t} ({runs[key]} runs), {rss.get(key, 0):,.0f} MB"

    def ratio(a, b, n):
        return f"{time[(b, n)] / time[(a, n)]:.2f}x" if (a, n) in time and (b, n) in time else ""

    lines = ["| tokens | libsbert fp32 | ONNX Runtime fp32 | fp32 vs ORT | libsbert int8 | "
             "ONNX Runtime int8 | int8 vs ORT int8 | load (1 min) |",
             "|---|---|---|---|---|---|---|---|"]
    for n in sorted({k[1] for k in time} | {k[1] for k in load}):
        loads = [load[(e, n)] for e in ENGINES if (e, n) in load]
        lines.append(f"| {n:,} | {cell('libsbert', n)} | {cell('ort', n)} | "
                     f"{ratio('libsbert', 'ort', n)} | {cell('libsbert-int8', n)} | "
                     f"{cell('ort-int8', n)} | {ratio('libsbert-int8', 'ort-int8', n)} | "
                     f"{min(loads):.1f}-{max(loads):.1f} |" if loads else "")
    table = "\n".join(lines) + "\n"
    print(table)
    with open(os.path.join(work, "results.md"), "w") as f:
        f.write(table)


if __name__ == "__main__":
    main()
