#!/bin/sh
# W5, long texts: one text of 512, 2,048 and 8,192 tokens through a full-size XLM-RoBERTa large
# shape (BAAI/bge-m3's: 24 layers x 1024, 16 heads, FFN 4096, 8,194 positions, CLS pooling; random
# weights; the 96,002-piece xlmr-style vocabulary of tests/data/models/xlmr-tiny instead of the real
# 250,002, to keep the file small), libsbert and ONNX Runtime, fp32 and int8, in one run. Each
# (engine, length) is a fresh process, so its peak resident memory is that length's. Never part of
# make test.
#
#   sh bench/long.sh            # from the repository root, after bench/setup.sh (run.sh runs it)
#   BENCH_THREADS=2             # threads (default 2)
#   BENCH_ENGINES="libsbert ort libsbert-int8 ort-int8"
#
# Steps (outputs in bench/work/long/, gitignored):
#   python3 tools/make_random_model.py bench/work/long/hf --seed 1 --vocab 96002 --hidden 1024 \
#       --layers 24 --heads 16 --intermediate 4096 --max-positions 8194 --max-seq-length 8192 \
#       --pooling cls --tokenizer tests/data/models/xlmr-tiny
#   python3 tools/convert_safetensors.py ... model.sbert / model-int8.sbert (--dtype int8)
#   /usr/bin/python3 bench/export_onnx.py; node bench/quantize_onnx.js   (as bench/run.sh)
#   node bench/workloads_long.js TOKENIZER tests/data/korsts/sts-test.tsv bench/work/long
#   per length, engines in alternating order: bench_encode / bench_ort.js on W5-N/
#   /usr/bin/python3 bench/report_long.py bench/work/long     -> the table (results.md)
set -eu
cd "$(dirname "$0")/.."
WORK=bench/work/long
PY=/usr/bin/python3
THREADS=${BENCH_THREADS:-2}
BUILD=${BUILD:-build}
ENGINES=${BENCH_ENGINES:-libsbert ort libsbert-int8 ort-int8}
TOKENIZER=tests/data/models/xlmr-tiny/tokenizer.json
mkdir -p "$WORK"

sh bench/setup.sh
make -s BUILD="$BUILD" EXDIR="$BUILD/examples" "$BUILD/bench/bench_encode"

if [ ! -f "$WORK/hf/model.safetensors" ] || [ tools/make_random_model.py -nt "$WORK/hf/model.safetensors" ]; then
    echo "long.sh: making the random XLM-R large model (1.6 GB)"
    python3 tools/make_random_model.py "$WORK/hf" --seed 1 --vocab 96002 --hidden 1024 \
        --layers 24 --heads 16 --intermediate 4096 --max-positions 8194 --max-seq-length 8192 \
        --pooling cls --tokenizer tests/data/models/xlmr-tiny
fi
[ -f "$WORK/model.sbert" ] || python3 tools/convert_safetensors.py "$WORK/hf" "$WORK/model.sbert" --quiet
[ -f "$WORK/model-int8.sbert" ] || \
    python3 tools/convert_safetensors.py "$WORK/hf" "$WORK/model-int8.sbert" --dtype int8 --quiet
[ -f "$WORK/model.onnx" ] || $PY bench/export_onnx.py "$WORK/hf" "$WORK/model.onnx"
[ -f "$WORK/model-int8.onnx" ] || \
    node --max-old-space-size=8000 bench/quantize_onnx.js "$WORK/model.onnx" "$WORK/model-int8.onnx"
node bench/workloads_long.js "$TOKENIZER" tests/data/korsts/sts-test.tsv "$WORK"

run_engine() {  # ENGINE DIR
    case $1 in
        libsbert) "$BUILD/bench/bench_encode" "$WORK/model.sbert" "$2" "$THREADS" ;;
        libsbert-int8) BENCH_ENGINE=$1 "$BUILD/bench/bench_encode" "$WORK/model-int8.sbert" "$2" "$THREADS" ;;
        ort) node bench/bench_ort.js "$WORK/model.onnx" "$TOKENIZER" "$2" "$THREADS" ;;
        ort-int8) BENCH_ENGINE=$1 node bench/bench_ort.js "$WORK/model-int8.onnx" "$TOKENIZER" "$2" "$THREADS" ;;
    esac
}

[ -f "$WORK/results.jsonl" ] && mv "$WORK/results.jsonl" "$WORK/results.prev.jsonl"
: >"$WORK/results.jsonl"
order=$ENGINES
for n in 512 2048 8192; do
    for e in $order; do
        # The machine is shared: the 1-minute load average and the memory available before each run.
        printf '{"engine":"%s","tokens":%s,"metric":"loadavg","value":%s,"mem_available_mb":%s}\n' \
            "$e" "$n" "$(cut -d' ' -f1 /proc/loadavg)" \
            "$(awk '/MemAvailable/ {print int($2 / 1024)}' /proc/meminfo)" >>"$WORK/results.jsonl"
        echo "long.sh: $e, $n tokens, $THREADS thread(s)"
        if run_engine "$e" "$WORK/W5-$n" >"$WORK/last.jsonl"; then
            sed "s/^{/{\"tokens\":$n,/" "$WORK/last.jsonl" >>"$WORK/results.jsonl"
            cut -c1-160 "$WORK/last.jsonl"
        else
            echo "long.sh: $e failed at $n tokens"
        fi
    done
    order=$(echo "$order" | tr ' ' '\n' | sed '/^$/d' | tac | tr '\n' ' ')  # alternate the order
done
$PY bench/report_long.py "$WORK"
