#!/bin/sh
# Installs and checks the peers of make bench; bench/run.sh calls it, and it does nothing that is
# already done. What it runs:
#
#   apt-get update && apt-get install -y python3-torch python3-numpy python3-matplotlib \
#       libopenblas0-pthread                        # PyTorch 1.13 links the system BLAS
#   update-alternatives --set libblas.so.3-x86_64-linux-gnu \
#       /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3
#                                                   # not the reference BLAS (15-30x slower)
#   cd bench && npm ci --ignore-scripts             # onnxruntime-node (its CPU binary ships in
#                                                   # the package), tokenizers (HF's binding),
#                                                   # onnx-proto, node-llama-cpp (llama.cpp's
#                                                   # prebuilt CPU backends for every x64 CPU
#                                                   # class ship in @node-llama-cpp/linux-x64;
#                                                   # about 730 MB with all platforms' variants)
set -eu
cd "$(dirname "$0")"
PY=/usr/bin/python3  # Debian's interpreter: python3 on PATH may be a pyenv without torch

missing=""
$PY -c 'import torch, numpy' 2>/dev/null || missing="$missing python3-torch python3-numpy"
$PY -c 'import matplotlib' 2>/dev/null || missing="$missing python3-matplotlib"
arch=$(uname -m)-linux-gnu
openblas=/usr/lib/$arch/openblas-pthread/libblas.so.3
[ -e "$openblas" ] || missing="$missing libopenblas0-pthread"
if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "bench/setup.sh: as root, run: apt-get install -y$missing" >&2
        exit 1
    fi
    echo "bench/setup.sh: apt-get install -y$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

blas=$(readlink -f "/usr/lib/$arch/libblas.so.3")
case "$blas" in
    */openblas*) ;;
    *)
        echo "bench/setup.sh: libblas.so.3 is $blas; switching the alternative to OpenBLAS"
        update-alternatives --set "libblas.so.3-$arch" "$openblas"
        ;;
esac

if [ ! -d node_modules/onnxruntime-node ] || [ ! -d node_modules/tokenizers ] \
   || [ ! -d node_modules/onnx-proto ] || [ ! -d node_modules/node-llama-cpp ] \
   || [ package-lock.json -nt node_modules ]; then
    echo "bench/setup.sh: npm ci --ignore-scripts (onnxruntime-node, tokenizers, onnx-proto, node-llama-cpp)"
    npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
    touch node_modules
fi
node -e "const ort = require('onnxruntime-node'); require('tokenizers');
         console.log('bench/setup.sh: onnxruntime-node ' + ort.env.versions.node + ', tokenizers ok')"
