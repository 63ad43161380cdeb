#!/bin/sh
# The reranker bench (part of make bench; alone: make bench-rerank): libsbert against ONNX Runtime
# on a full-size cross-encoder in the layout of BAAI/bge-reranker-base (XLM-RoBERTa 12 x 768, 12
# heads, FFN 3072, the xlmr-style vocabulary of 96,002, 1 label, sigmoid), random weights, fp32,
# one query against 100 passages of 64-256 tokens. Alternating pairs of fresh processes, so a
# slow spell of this shared machine hits both engines of a pair alike; libsbert's int8 conversion
# runs in each round too. Then the scores of every query: libsbert's fp32 logits against ONNX
# Runtime's, and how often int8's top 1 and top 10 agree with fp32's.
#
#   sh bench/rerank.sh                    # from the repository root; 20-60 min on 2 shared cores
#   BENCH_RERANK_PAIRS=3                  # alternating rounds (default 3)
#   BENCH_RERANK_THREADS=2                # threads of every engine (default 2)
#   BENCH_RERANK_REPEATS=1                # timed runs per process, after one warm-up (default 1)
#   BENCH_RERANK_QUERIES=10               # queries scored for the agreement figures (default 10)
#
# Steps (outputs in bench/work/, gitignored):
#   python3 tools/make_random_model.py bench/work/rerank-hf --seed 2 --model-type xlm-roberta \
#       --vocab 96002 --cross-encoder 1 --tokenizer tests/data/cross-encoders/ce-xlmr
#   python3 tools/convert_safetensors.py bench/work/rerank-hf bench/work/rerank.sbert [--dtype int8]
#   /usr/bin/python3 bench/export_onnx.py bench/work/rerank-hf bench/work/rerank.onnx
#   node bench/rerank_workload.js TOKENIZER corpus-public.jsonl bench/work       (rerank.txt)
#   per round: build/bench/bench_rerank, node bench/bench_rerank_ort.js, bench_rerank (int8);
#   then each engine once more to write its logits (BENCH_SCORE_QUERIES)
#   python3 bench/rerank_report.py bench/work     -> table, bench/work/rerank.md
set -eu
cd "$(dirname "$0")/.."
WORK=bench/work
PY=/usr/bin/python3
PAIRS=${BENCH_RERANK_PAIRS:-3}
THREADS=${BENCH_RERANK_THREADS:-2}
REPEATS=${BENCH_RERANK_REPEATS:-1}
QUERIES=${BENCH_RERANK_QUERIES:-10}
TOKENIZER=tests/data/cross-encoders/ce-xlmr/tokenizer.json
HF=$WORK/rerank-hf
mkdir -p "$WORK"

sh bench/setup.sh
make -s all build/bench/bench_rerank

newer() {  # TARGET SOURCES...: true when TARGET is missing or older than a source
    target=$1; shift
    [ -f "$target" ] || return 0
    for s in "$@"; do [ "$s" -nt "$target" ] && return 0; done
    return 1
}
if newer "$HF/model.safetensors" tools/make_random_model.py; then
    echo "rerank.sh: making the random full-size reranker"
    $PY tools/make_random_model.py "$HF" --seed 2 --model-type xlm-roberta --vocab 96002 \
        --cross-encoder 1 --tokenizer tests/data/cross-encoders/ce-xlmr
fi
newer "$WORK/rerank.sbert" "$HF/model.safetensors" tools/convert_safetensors.py &&
    $PY tools/convert_safetensors.py "$HF" "$WORK/rerank.sbert" --quiet
newer "$WORK/rerank-int8.sbert" "$HF/model.safetensors" tools/convert_safetensors.py &&
    $PY tools/convert_safetensors.py "$HF" "$WORK/rerank-int8.sbert" --dtype int8 --quiet
newer "$WORK/rerank.onnx" "$HF/model.safetensors" bench/export_onnx.py tests/torch_reference.py &&
    $PY bench/export_onnx.py "$HF" "$WORK/rerank.onnx"
newer "$WORK/rerank.txt" bench/rerank_workload.js &&
    node bench/rerank_workload.js "$TOKENIZER" tests/data/tokenize/corpus-public.jsonl "$WORK"

OUT=$WORK/rerank.jsonl
: >"$OUT"
load() { printf '{"metric":"loadavg","value":%s}\n' "$(cut -d' ' -f1 /proc/loadavg)" >>"$OUT"; }
lib() { BENCH_ENGINE=$1 BENCH_SCORE_QUERIES=$2 build/bench/bench_rerank "$3" "$WORK" "$THREADS" "$REPEATS"; }
ort() { BENCH_SCORE_QUERIES=$1 node bench/bench_rerank_ort.js "$WORK/rerank.onnx" "$TOKENIZER" "$WORK" \
            "$THREADS" "$REPEATS"; }
i=1
while [ "$i" -le "$PAIRS" ]; do
    echo "rerank.sh: round $i/$PAIRS"
    load; lib libsbert 0 "$WORK/rerank.sbert" | tee -a "$OUT"
    load; ort 0 | tee -a "$OUT"
    load; lib libsbert-int8 0 "$WORK/rerank-int8.sbert" | tee -a "$OUT"
    i=$((i + 1))
done
# Then the logits, outside the timed rounds: QUERIES queries for libsbert fp32 and int8 (int8's
# agreement with fp32), one for ONNX Runtime (its logits against libsbert's fp32).
echo "rerank.sh: scoring $QUERIES queries"
REPEATS=0
lib libsbert "$QUERIES" "$WORK/rerank.sbert" >/dev/null
lib libsbert-int8 "$QUERIES" "$WORK/rerank-int8.sbert" >/dev/null
ort 1 >/dev/null
python3 bench/rerank_report.py "$WORK"
