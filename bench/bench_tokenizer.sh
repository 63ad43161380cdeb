#!/bin/sh
# Tokenizer speed, libsbert against Hugging Face tokenizers, one thread each, in the same run:
# every KorSTS sentence (train + dev + test) with the klue/roberta-base tokenizer, the median of
# REPEATS passes (default 9).
#
#   sh bench/bench_tokenizer.sh [REPEATS]
#
# Installs the Node peers into bench/node_modules (npm ci, from bench/package.json) when absent.
set -e
cd "$(dirname "$0")/.."
REPEATS=${1:-9}
KORSTS="tests/data/korsts/sts-train.tsv tests/data/korsts/sts-dev.tsv tests/data/korsts/sts-test.tsv"
TOKENIZER_JSON=tests/data/models/ko-tiny/tokenizer.json   # klue/roberta-base's

make -s build/libsbert.a build/models/ko-tiny.sbert
${CC:-cc} -std=c11 -O2 -Iinclude bench/bench_tokenizer.c -o build/bench_tokenizer build/libsbert.a -lm -lpthread
[ -d bench/node_modules/tokenizers ] || npm ci --ignore-scripts --prefix bench

./build/bench_tokenizer build/models/ko-tiny.sbert "$REPEATS" $KORSTS
RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false node bench/bench_tokenizer_hf.js "$TOKENIZER_JSON" "$REPEATS" $KORSTS
