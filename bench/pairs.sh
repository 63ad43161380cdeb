#!/bin/sh
# Alternating rounds on one workload: libsbert, then each peer (ONNX Runtime by default), then
# libsbert again, ... each a fresh process, so that a slow spell of this shared machine hits all
# engines of a round alike. Prints every round and, per peer, the median, min and max of the
# per-round ratios (peer time / libsbert time: > 1 means libsbert is faster). A steadier estimate
# of one ratio than one `make bench` round.
#
#   sh bench/pairs.sh [WORKLOAD (W4)] [ROUNDS (8)] [THREADS (2)] [REPEATS per process (5)]
#   BENCH_MODEL=model-int8.sbert BENCH_ORT_MODEL=model-int8.onnx sh bench/pairs.sh ...
#                                        (other model files of bench/work: int8 against int8)
#   BENCH_PEERS="ort llama avx2"         the peers (default: ort); llama is llama.cpp through
#                                        bench/bench_llama.mjs on BENCH_LLAMA_MODEL (default
#                                        model-f32.gguf; model-q8_0.gguf against int8); avx2 is
#                                        libsbert itself under SBERT_ISA=avx2; base is
#                                        another build of libsbert, BENCH_BASE (a bench_encode
#                                        built from an older commit: before against after)
#   SBERT_ISA=avx2 sh bench/pairs.sh ... libsbert capped to AVX2 (the peers pick their own)
#   BENCH_MODEL_TYPE=mpnet sh bench/pairs.sh ...  the MPNet model of bench/work-mpnet
#                                        (bench/model_type.sh; after BENCH_MODEL_TYPE=mpnet make bench)
#
# Needs bench/work from `make bench` (model.sbert, model.onnx, the GGUFs, workloads.json). Writes
# bench/work/pairs-WORKLOAD/ (its own plan.txt and workloads.json) and pairs.jsonl there.
set -eu
cd "$(dirname "$0")/.."
WL=${1:-W4}
ROUNDS=${2:-8}
THREADS=${3:-2}
REPEATS=${4:-5}
. bench/model_type.sh
MODEL=${BENCH_MODEL:-model.sbert}
ORT_MODEL=${BENCH_ORT_MODEL:-model.onnx}
LLAMA_MODEL=${BENCH_LLAMA_MODEL:-model-f32.gguf}
PEERS=${BENCH_PEERS:-ort}
DIR=$WORK/pairs-$WL
needed="$MODEL workloads.json"
for p in $PEERS; do
    case $p in
        ort) needed="$needed $ORT_MODEL" ;;
        llama) needed="$needed $LLAMA_MODEL" ;;
        avx2) ;;
        base) [ -x "${BENCH_BASE:-}" ] || {
                  echo "pairs.sh: the base peer needs BENCH_BASE=path/to/bench_encode of another build" >&2
                  exit 2; } ;;
        *) echo "pairs.sh: unknown peer $p (ort, llama, avx2, base)" >&2; exit 2 ;;
    esac
done
for f in $needed; do
    [ -f "$WORK/$f" ] || { echo "pairs.sh: $WORK/$f is missing: run make bench first" >&2; exit 1; }
done
mkdir -p "$DIR"
cp "$WORK/W1.txt" "$DIR/"  # every engine's open ends with one W1 text
[ "$WL" = W1 ] || cp "$WORK/$WL.txt" "$DIR/"
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
make -s examples/encode
echo "pairs.sh: $WL, $ROUNDS rounds, $THREADS threads; $MODEL on $(examples/encode --version); peers: $PEERS"
echo "pairs.sh: CPU $(awk -F'\t*: ' '/^model name/ {n = $2} /^cpu family/ {f = $2} /^model\t/ {m = $2}
    END {print n ", family " f " model " m}' /proc/cpuinfo); load $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$DIR/pairs.jsonl"
i=1
while [ "$i" -le "$ROUNDS" ]; do
    BENCH_ENGINE=libsbert build/bench/bench_encode "$WORK/$MODEL" "$DIR" "$THREADS" | grep "\"$WL\"" >>"$DIR/pairs.jsonl"
    for p in $PEERS; do
        case $p in
            ort) env -u SBERT_ISA BENCH_ENGINE=ort node bench/bench_ort.js "$WORK/$ORT_MODEL" "$TOKENIZER" \
                     "$DIR" "$THREADS" ;;
            llama) env -u SBERT_ISA BENCH_ENGINE=llama node bench/bench_llama.mjs "$WORK/$LLAMA_MODEL" \
                       "$DIR" "$THREADS" ;;
            avx2) SBERT_ISA=avx2 BENCH_ENGINE=avx2 build/bench/bench_encode "$WORK/$MODEL" "$DIR" "$THREADS" ;;
            base) BENCH_ENGINE=base "$BENCH_BASE" "$WORK/$MODEL" "$DIR" "$THREADS" ;;
        esac | grep "\"$WL\"" >>"$DIR/pairs.jsonl"
    done
    i=$((i + 1))
done
python3 - "$DIR/pairs.jsonl" "$WL" "$PEERS" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
peers = sys.argv[3].split()
lib = [r["median_ms"] for r in rows if r["engine"] == "libsbert"]
times = {p: [r["median_ms"] for r in rows if r["engine"] == p] for p in peers}
for i, l in enumerate(lib):
    print(f"round {i + 1}: libsbert {l:.1f} ms" + "".join(
        f", {p} {times[p][i]:.1f} ms ({times[p][i] / l:.3f})" for p in peers if i < len(times[p])))
for p in peers:
    ratios = [o / l for l, o in zip(lib, times[p])]
    print(f"{sys.argv[2]}: {len(ratios)} rounds; libsbert median {statistics.median(lib):.1f} ms, "
          f"{p} median {statistics.median(times[p]):.1f} ms; {p}/libsbert median "
          f"{statistics.median(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f})")
PY
