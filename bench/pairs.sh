#!/bin/sh
# Alternating pairs on one workload: libsbert, then ONNX Runtime, then libsbert again, ... each
# pair a fresh process of each engine, so that a slow spell of this shared machine hits both
# engines of a pair alike. Prints every pair and the median, min and max of the per-pair ratios
# (ORT time / libsbert time). A steadier estimate of one ratio than one `make bench` round.
#
#   sh bench/pairs.sh [WORKLOAD (W4)] [PAIRS (8)] [THREADS (2)] [REPEATS per process (5)]
#   BENCH_MODEL=model-int8.sbert BENCH_ORT_MODEL=model-int8.onnx sh bench/pairs.sh ...
#                                        (other model files of bench/work: int8 against int8)
#
# Needs bench/work from `make bench` (model.sbert, model.onnx, workloads.json). Writes
# bench/work/pairs-WORKLOAD/ (its own plan.txt and workloads.json) and pairs.jsonl there.
set -eu
cd "$(dirname "$0")/.."
WL=${1:-W4}
PAIRS=${2:-8}
THREADS=${3:-2}
REPEATS=${4:-5}
WORK=bench/work
MODEL=${BENCH_MODEL:-model.sbert}
ORT_MODEL=${BENCH_ORT_MODEL:-model.onnx}
DIR=$WORK/pairs-$WL
TOKENIZER=tests/data/tokenizers/klue-roberta-base/tokenizer.json
for f in "$MODEL" "$ORT_MODEL" workloads.json; do
    [ -f "$WORK/$f" ] || { echo "pairs.sh: $WORK/$f is missing: run make bench first" >&2; exit 1; }
done
mkdir -p "$DIR"
cp "$WORK/W1.txt" "$WORK/$WL.txt" "$DIR/"
# one warm-up, then exactly REPEATS timed runs, in every engine
python3 - "$WORK/workloads.json" "$DIR" "$WL" "$REPEATS" <<'PY'
import json, sys
src, out, name, repeats = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
w = json.load(open(src, encoding="utf-8"))
w[name]["repeat"] = {"warmup": 1, "min_repeats": repeats, "max_repeats": repeats, "budget_s": 0}
json.dump(w, open(out + "/workloads.json", "w", encoding="utf-8"))
open(out + "/plan.txt", "w").write(f"{name} 1 {repeats} {repeats} 0\n")
PY
make -s build/bench/bench_encode
: >"$DIR/pairs.jsonl"
i=1
while [ "$i" -le "$PAIRS" ]; do
    build/bench/bench_encode "$WORK/$MODEL" "$DIR" "$THREADS" | grep "\"$WL\"" >>"$DIR/pairs.jsonl"
    node bench/bench_ort.js "$WORK/$ORT_MODEL" "$TOKENIZER" "$DIR" "$THREADS" | grep "\"$WL\"" \
        >>"$DIR/pairs.jsonl"
    i=$((i + 1))
done
python3 - "$DIR/pairs.jsonl" "$WL" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
lib = [r["median_ms"] for r in rows if r["engine"] == "libsbert"]
ort = [r["median_ms"] for r in rows if r["engine"] == "ort"]
ratios = [o / l for l, o in zip(lib, ort)]
for i, (l, o, r) in enumerate(zip(lib, ort, ratios), 1):
    print(f"pair {i}: libsbert {l:.1f} ms, ort {o:.1f} ms, ort/libsbert {r:.3f}")
print(f"{sys.argv[2]}: {len(ratios)} pairs; libsbert median {statistics.median(lib):.1f} ms, "
      f"ort median {statistics.median(ort):.1f} ms; ort/libsbert median {statistics.median(ratios):.3f} "
      f"(min {min(ratios):.3f}, max {max(ratios):.3f})")
PY
