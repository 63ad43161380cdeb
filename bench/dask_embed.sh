#!/bin/sh
# Throughput of examples/dask_embed.py on one machine: 1 worker against 2 workers (each worker one
# library thread), and 1 worker with 2 library threads, in alternating rounds (the machine may be
# shared: compare within a round), then a run with a worker killed mid-partition; every output is
# compared with the single-process run byte for byte.
#
#   sh bench/dask_embed.sh MODEL.sbert CORPUS.txt [ROUNDS]      (needs python3-distributed)
#
# A 10,000-sentence KorSTS/KorNLI corpus as used in docs/bench (5,000 unique sentences of each):
#   { tail -n +2 sts-train.tsv | cut -f6,7 | tr '\t' '\n' | awk 'length && !seen[$0]++' | head -5000
#     tail -n +2 xnli.test.ko.tsv | cut -f1,2 | tr '\t' '\n' | awk 'length && !seen[$0]++' | head -5000
#   } > corpus10k.txt
set -eu
MODEL=$1; CORPUS=$2; ROUNDS=${3:-3}
PY=${PYTHON_DASK:-/usr/bin/python3}
OUT=${OUT:-bench/work/dask}
SCRIPT=examples/dask_embed.py
mkdir -p "$OUT"
echo "# $(date -u) $(uname -m), $(nproc) cores, load: $(uptime | sed 's/.*load average: //')"
echo "# $(SBERT_LIBRARY=${SBERT_LIBRARY:-build/libsbert.so} $PY -c 'import sys; sys.path.insert(0, "bindings/python"); import sbert; print("libsbert", sbert.version(), sbert.system_info())')"
$PY $SCRIPT "$MODEL" "$CORPUS" "$OUT/single" --partition-size 500 --single-process --threads-per-worker 2
same() {
    for f in "$OUT/single"/part-*.npy; do cmp -s "$f" "$1/$(basename "$f")" || { echo "DIFFERENT: $1"; return 1; }; done
    echo "  $1: bit for bit equal to the single-process run"
}
for round in $(seq "$ROUNDS"); do
    echo "round $round"
    $PY $SCRIPT "$MODEL" "$CORPUS" "$OUT/w1" --partition-size 500 --workers 1 --threads-per-worker 1
    same "$OUT/w1"
    $PY $SCRIPT "$MODEL" "$CORPUS" "$OUT/w2" --partition-size 500 --workers 2 --threads-per-worker 1
    same "$OUT/w2"
    $PY $SCRIPT "$MODEL" "$CORPUS" "$OUT/w1t2" --partition-size 500 --workers 1 --threads-per-worker 2
    same "$OUT/w1t2"
done
echo "killed worker: the worker that takes partition 5 first dies (SIGKILL) in it"
$PY $SCRIPT "$MODEL" "$CORPUS" "$OUT/killed" --partition-size 500 --workers 2 --threads-per-worker 1 --kill-once 5
same "$OUT/killed"
$PY -c "import json, sys; m = json.load(open(sys.argv[1])); print('  partition 5 written by pid', m['partitions'][5]['pid'], '; killed pid', open(sys.argv[2]).read().strip(), '; partitions', len(m['partitions']))" "$OUT/killed/manifest.json" "$OUT/killed/killed-worker.pid"
