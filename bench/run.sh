#!/bin/sh
# make bench: libsbert against ONNX Runtime, llama.cpp and PyTorch on a full-size
# ko-sroberta-shaped model (RoBERTa 12 x 768, klue vocab, mean pooling, random weights, fp32), all
# in one run so the ratios share the machine's conditions. Never part of make test.
#
#   sh bench/run.sh                      # from the repository root; ~25 min on 2 cores
#   BENCH_THREADS="1 2"                  # thread counts (default: 1 and 2)
#   BENCH_ROUNDS=2                       # run every engine N times, alternating the order;
#                                        # medians pool all rounds (default 1)
#   BENCH_SENTENCES=1024                 # W3 size (default 1024)
#   BENCH_MODEL_TYPE=mpnet               # the same on a full-size all-mpnet-base-v2-shaped model
#                                        # in bench/work-mpnet (bench/model_type.sh; without the
#                                        # llama engines: llama.cpp has no MPNet)
#   BENCH_ENGINES="libsbert libsbert-bf16 libsbert-int8 ort ort-int8 llama-f32 llama-q8_0 torch"
#                                        # which engines (libsbert-bf16: the same weights converted
#                                        # with --dtype bf16, computed in fp32; libsbert-int8:
#                                        # --dtype int8, int8 weights and activations, int32 sums;
#                                        # ort-int8: the ONNX model quantized as quantize_dynamic
#                                        # does it; llama-f32 / llama-q8_0: llama.cpp through npm
#                                        # node-llama-cpp on bench/gguf.py's GGUF, f32 and Q8_0)
#
# Steps (all outputs in bench/work/, gitignored):
#   sh bench/setup.sh                                   peers: apt python3-torch + OpenBLAS,
#                                                       npm onnxruntime-node, tokenizers,
#                                                       node-llama-cpp
#   make all build/bench/bench_encode build/bench/fma_peak
#   the CPU (/proc/cpuinfo: model name, family/model, ISA flags; examples/encode --version: the
#   kernels libsbert picks, also under SBERT_ISA=avx2)                  -> results.jsonl
#   per round: build/bench/fma_peak BYTES (fp32 FMA and int8 peaks at that moment, for "% of
#   peak", and the time to stream the Linear weights once: fp32 and int8 bytes)
#   python3 tools/make_random_model.py bench/work/hf --seed 1
#   python3 tools/convert_safetensors.py bench/work/hf bench/work/model.sbert
#   /usr/bin/python3 bench/export_onnx.py bench/work/hf bench/work/model.onnx
#   python3 bench/gguf.py bench/work/hf bench/work/model-f32.gguf [--type q8_0 -> model-q8_0.gguf]
#   node bench/workloads.js TOKENIZER_JSON tests/data/korsts/sts-test.tsv bench/work 1024
#   per engine and round: python3 bench/page_cache.py drop MODEL; BENCH_OPEN_ONLY=1 ENGINE (cold
#   open, kept as open_cold_ms); python3 bench/page_cache.py warm MODEL; then the full run;
#   then python3 bench/page_cache.py read MODEL (the disk alone: evict, read back, timed):
#   build/bench/bench_encode bench/work/model.sbert bench/work N            >> results.jsonl
#   node bench/bench_ort.js bench/work/model.onnx TOKENIZER_JSON bench/work N  >> results.jsonl
#   node bench/bench_llama.mjs bench/work/model-f32.gguf bench/work N       >> results.jsonl
#   /usr/bin/python3 bench/bench_torch.py bench/work/hf bench/work N        >> results.jsonl
#   /usr/bin/python3 bench/report.py bench/work     -> table, bench/work/results.md, bench.png
#
# PyTorch runs with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (this machine's environment
# pins an older kernel for correctness elsewhere; bench_torch.py prints the kernel it then uses,
# and report.py checks its vectors), N OpenBLAS threads and 1 torch intra-op thread (see
# bench_torch.py: torch's spinning OpenMP workers would starve OpenBLAS's threads).
set -eu
cd "$(dirname "$0")/.."
. bench/model_type.sh
PY=/usr/bin/python3
THREADS=${BENCH_THREADS:-1 2}
ROUNDS=${BENCH_ROUNDS:-1}
SENTENCES=${BENCH_SENTENCES:-1024}
LLAMA=$([ "${BENCH_MODEL_TYPE:-roberta}" = roberta ] && echo "llama-f32 llama-q8_0" || true)
ENGINES=${BENCH_ENGINES:-libsbert libsbert-bf16 libsbert-int8 ort ort-int8 $LLAMA torch}
mkdir -p "$WORK" build/bench

sh bench/setup.sh

# libsbert: the library and the in-process bench program. A build failure skips libsbert only.
if make -s all build/bench/bench_encode build/bench/fma_peak >"$WORK/build.log" 2>&1; then
    :
else
    echo "run.sh: libsbert does not build (see $WORK/build.log); benchmarking the peers only"
    ENGINES=$(echo "$ENGINES" | sed 's/libsbert[a-z0-9-]*//g')
fi

# The model: same seed, same bytes; rebuilt only when a tool changed.
if [ ! -f "$WORK/hf/model.safetensors" ] || [ tools/make_random_model.py -nt "$WORK/hf/model.safetensors" ]; then
    echo "run.sh: making the random full-size model"
    $PY tools/make_random_model.py "$WORK/hf" --seed 1 $MAKE_MODEL_OPTIONS
fi
if [ "$TOKENIZER" = "$WORK/tokenizer.json" ]; then
    # The model's tokenizer.json as the peers use it: truncated to max_seq_length, batches padded
    # to their longest text with the model's pad token.
    $PY - "$WORK/hf" "$TOKENIZER" <<'PY'
import json, sys
hf, out = sys.argv[1], sys.argv[2]
tok = json.load(open(f"{hf}/tokenizer.json", encoding="utf-8"))
limit = json.load(open(f"{hf}/sentence_bert_config.json"))["max_seq_length"]
pad = json.load(open(f"{hf}/special_tokens_map.json"))["pad_token"]
tok["truncation"] = {"direction": "Right", "max_length": limit, "strategy": "LongestFirst",
                     "stride": 0}
tok["padding"] = {"strategy": "BatchLongest", "direction": "Right", "pad_to_multiple_of": None,
                  "pad_id": tok["model"]["vocab"][pad], "pad_type_id": 0, "pad_token": pad}
json.dump(tok, open(out, "w", encoding="utf-8"), ensure_ascii=False)
PY
fi
if [ ! -f "$WORK/model.sbert" ] || [ "$WORK/hf/model.safetensors" -nt "$WORK/model.sbert" ] \
   || [ tools/convert_safetensors.py -nt "$WORK/model.sbert" ]; then
    $PY tools/convert_safetensors.py "$WORK/hf" "$WORK/model.sbert" --quiet
fi
for dtype in bf16 int8; do
    if [ ! -f "$WORK/model-$dtype.sbert" ] || [ "$WORK/hf/model.safetensors" -nt "$WORK/model-$dtype.sbert" ] \
       || [ tools/convert_safetensors.py -nt "$WORK/model-$dtype.sbert" ]; then
        $PY tools/convert_safetensors.py "$WORK/hf" "$WORK/model-$dtype.sbert" --dtype $dtype --quiet
    fi
done
if [ ! -f "$WORK/model.onnx" ] || [ "$WORK/hf/model.safetensors" -nt "$WORK/model.onnx" ] \
   || [ tests/torch_reference.py -nt "$WORK/model.onnx" ] || [ bench/export_onnx.py -nt "$WORK/model.onnx" ]; then
    echo "run.sh: exporting to ONNX"
    $PY bench/export_onnx.py "$WORK/hf" "$WORK/model.onnx"
fi
if [ ! -f "$WORK/model-int8.onnx" ] || [ "$WORK/model.onnx" -nt "$WORK/model-int8.onnx" ] \
   || [ bench/quantize_onnx.js -nt "$WORK/model-int8.onnx" ]; then
    node --max-old-space-size=8000 bench/quantize_onnx.js "$WORK/model.onnx" "$WORK/model-int8.onnx"
fi
for q in f32 q8_0; do
    case " $ENGINES " in *" llama-"*) ;; *) break ;; esac  # only for the llama engines
    if [ ! -f "$WORK/model-$q.gguf" ] || [ "$WORK/hf/model.safetensors" -nt "$WORK/model-$q.gguf" ] \
       || [ bench/gguf.py -nt "$WORK/model-$q.gguf" ]; then
        echo "run.sh: writing the GGUF ($q) for llama.cpp"
        $PY bench/gguf.py "$WORK/hf" "$WORK/model-$q.gguf" --type $q
    fi
done
node bench/workloads.js "$TOKENIZER" tests/data/korsts/sts-test.tsv "$WORK" "$SENTENCES"

model_files() {  # ENGINE: the files the engine reads at open
    case $1 in
        libsbert) echo "$WORK/model.sbert" ;;
        libsbert-bf16) echo "$WORK/model-bf16.sbert" ;;
        libsbert-int8) echo "$WORK/model-int8.sbert" ;;
        ort) echo "$WORK/model.onnx" ;;
        ort-int8) echo "$WORK/model-int8.onnx" ;;
        torch) echo "$WORK/hf/model.safetensors" ;;
        llama-f32|llama-q8_0) echo "$WORK/model-${1#llama-}.gguf" ;;
    esac
}

run_engine() {  # ENGINE THREADS
    case $1 in
        libsbert) build/bench/bench_encode "$WORK/model.sbert" "$WORK" "$2" ;;
        libsbert-bf16|libsbert-int8)
            BENCH_ENGINE=$1 build/bench/bench_encode "$WORK/model-${1#libsbert-}.sbert" "$WORK" "$2" ;;
        ort) node bench/bench_ort.js "$WORK/model.onnx" "$TOKENIZER" "$WORK" "$2" ;;
        ort-int8) BENCH_ENGINE=ort-int8 node bench/bench_ort.js "$WORK/model-int8.onnx" "$TOKENIZER" \
                      "$WORK" "$2" ;;
        llama-f32|llama-q8_0) BENCH_ENGINE=$1 node bench/bench_llama.mjs "$WORK/model-${1#llama-}.gguf" \
                      "$WORK" "$2" ;;
        torch) env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS="$2" \
                   OMP_NUM_THREADS=1 $PY bench/bench_torch.py "$WORK/hf" "$WORK" "$2" ;;
    esac
}

[ -f "$WORK/results.jsonl" ] && mv "$WORK/results.jsonl" "$WORK/results.prev.jsonl"
: >"$WORK/results.jsonl"
sh bench/machine.sh >>"$WORK/results.jsonl"
# The bytes of the Linear weights (what one text reads once, whatever its length): fp32, int8.
WEIGHT_BYTES=$($PY -c 'import json, sys
c = json.load(open(sys.argv[1]))
n = c["num_hidden_layers"] * (4 * c["hidden_size"] ** 2 + 2 * c["hidden_size"] * c["intermediate_size"])
print(4 * n, n)' "$WORK/hf/config.json")
round=1
order=$ENGINES
while [ "$round" -le "$ROUNDS" ]; do
    # The machine's fp32 FMA and int8 peaks and read bandwidth at this moment (1 and 2 threads),
    # for report.py's "% of peak" and "W1 against streaming the weights".
    if [ -x build/bench/fma_peak ]; then
        build/bench/fma_peak $WEIGHT_BYTES | sed -n \
            -e 's/^threads \([0-9]*\): avx2 \([0-9.]*\) GFLOP\/s, avx512 \([0-9.]*\).*/{"engine":"machine","threads":\1,"metric":"fma_peak_gflops","avx2":\2,"value":\3}/p' \
            -e 's/^threads \([0-9]*\): int8 avx2 \([0-9.]*\) GOP\/s, int8 avx512vnni \([0-9.]*\) GOP\/s, int8 amx \([0-9.]*\).*/{"engine":"machine","threads":\1,"metric":"int8_peak_gops","avx2":\2,"value":\3,"amx":\4}/p' \
            -e 's/^threads \([0-9]*\): int8 avx2 \([0-9.]*\) GOP\/s, int8 avx512vnni \([0-9.]*\) GOP\/s$/{"engine":"machine","threads":\1,"metric":"int8_peak_gops","avx2":\2,"value":\3}/p' \
            -e 's/^threads \([0-9]*\): int8 avx2 \([0-9.]*\) GOP\/s$/{"engine":"machine","threads":\1,"metric":"int8_peak_gops","avx2":\2,"value":0}/p' \
            -e 's/^threads \([0-9]*\): read \([0-9.]*\) MB in \([0-9.]*\) ms, \([0-9.]*\) GB\/s/{"engine":"machine","threads":\1,"metric":"stream_ms","mb":\2,"value":\3,"gb_s":\4}/p' \
            >>"$WORK/results.jsonl"
    fi
    for t in $THREADS; do
        for e in $order; do
            echo "run.sh: round $round/$ROUNDS, $e, $t thread(s)"
            # The 1-minute load average before each engine: a busy machine shows here.
            printf '{"engine":"%s","threads":%s,"metric":"loadavg","value":%s}\n' \
                "$e" "$t" "$(cut -d' ' -f1 /proc/loadavg)" >>"$WORK/results.jsonl"
            # Open to first embedding, cold: the model file evicted first, so read from disk.
            $PY bench/page_cache.py drop $(model_files "$e")
            BENCH_OPEN_ONLY=1 run_engine "$e" "$t" | grep '"open_ms"' \
                | sed 's/"open_ms"/"open_cold_ms"/' >>"$WORK/results.jsonl" || true
            # Then warm (the file read through once): the engine's open_ms, and the workloads.
            $PY bench/page_cache.py warm $(model_files "$e")
            if run_engine "$e" "$t" >"$WORK/last.jsonl"; then
                cat "$WORK/last.jsonl" >>"$WORK/results.jsonl"
                cut -c1-150 "$WORK/last.jsonl"
            else
                echo "run.sh: $e failed at $t thread(s)"
            fi
            # What no cold open can beat: the same file evicted and read back, nothing else
            # (after the run: pages just read by read() made the next open slower).
            $PY bench/page_cache.py read $(model_files "$e") \
                | sed "s/^{/{\"engine\":\"$e\",\"threads\":$t,/" >>"$WORK/results.jsonl"
        done
    done
    order=$(echo "$order" | tr ' ' '\n' | sed '/^$/d' | tac | tr '\n' ' ')  # alternate the order
    round=$((round + 1))
done

$PY bench/report.py "$WORK"
