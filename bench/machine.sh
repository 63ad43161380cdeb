#!/bin/sh
# The CPU a bench run measured, as one JSON line for results.jsonl (bench/run.sh) and for
# bench/report.py's heading: /proc/cpuinfo's model name, family and model (decimal, as lscpu
# prints them), the SIMD flags that decide libsbert's and its peers' kernels, the logical CPUs,
# the load average, and the kernels libsbert picks here (`encode --version`), also with
# SBERT_ISA=avx2 (the cap the AVX2 tables of docs/bench/ are measured with).
#
#   sh bench/machine.sh [ENCODE (examples/encode)]
cd "$(dirname "$0")/.."
ENCODE=${1:-examples/encode}
kernels() { [ -x "$ENCODE" ] && "$@" "$ENCODE" --version 2>/dev/null | sed -n 's/^libsbert [^(]*(\(.*\))$/\1/p'; }
python3 - "$(kernels env)" "$(kernels env SBERT_ISA=avx2)" <<'PY'
import json, os, sys
info = {}
with open("/proc/cpuinfo", encoding="utf-8") as f:
    for line in f:
        key, _, value = line.partition(":")
        key = key.strip()
        if key in ("model name", "cpu family", "model", "flags", "vendor_id") and key not in info:
            info[key] = value.strip()
wanted = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl",
          "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8")
flags = set(info.get("flags", "").split())
print(json.dumps({
    "engine": "machine", "threads": 0, "metric": "cpu", "value": os.cpu_count(),
    "model_name": info.get("model name", "?"), "vendor": info.get("vendor_id", "?"),
    "family": info.get("cpu family", "?"), "model": info.get("model", "?"),
    "isa": " ".join(f for f in wanted if f in flags),
    "loadavg": open("/proc/loadavg").read().split()[:3],
    "kernels": sys.argv[1] or "?", "kernels_avx2": sys.argv[2] or "?",
}))
PY
