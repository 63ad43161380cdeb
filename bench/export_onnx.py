"""Exports the PyTorch reference (tests/torch_reference.py) of a model directory to ONNX, for the
ONNX Runtime peer of make bench:

    /usr/bin/python3 bench/export_onnx.py HF_DIR OUT.onnx

Inputs input_ids and attention_mask (int64, [batch, sequence], both axes dynamic); output
sentence_embedding ([batch, dim]: the transformer, mean pooling over the mask, and Normalize
when the model has it), so ONNX Runtime runs the whole sentence-transformers pipeline. A
CrossEncoder directory (no modules.json: the reranker of bench/rerank.sh) gives output `logits`
([batch, labels]: the transformer and the classification head) from the same inputs (a BERT
one also takes token_type_ids).
torch.onnx.export at opset 17 (LayerNormalization is a single op from opset 17 on), constants
folded. The export is then checked against PyTorch on a padded batch by bench/bench_ort.js's
agreement numbers (bench/report.py), not here: this script needs no ONNX Runtime.
"""

import os
import sys
import time
import warnings

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
import torch_reference as ref  # noqa: E402

OPSET = 17


def main():
    hf_dir, out = sys.argv[1], sys.argv[2]
    cross_encoder = not os.path.isfile(os.path.join(hf_dir, "modules.json"))
    model = ref.load_cross_encoder(hf_dir) if cross_encoder else ref.load(hf_dir)
    # A padded batch of two, so the traced graph keeps the mask arithmetic general.
    input_ids, attention_mask = ref.pad_batch([[0] + list(range(100, 114)) + [2], [0, 5, 6, 2]],
                                              model.pad_id)
    inputs, names = (input_ids, attention_mask), ["input_ids", "attention_mask"]
    if cross_encoder and model.transformer.embeddings.token_type_embeddings.num_embeddings > 1:
        inputs, names = inputs + (torch.zeros_like(input_ids),), names + ["token_type_ids"]
    output = "logits" if cross_encoder else "sentence_embedding"
    t = time.perf_counter()
    tmp = out + ".tmp"
    warnings.filterwarnings("ignore", category=UserWarning)  # torch 1.13's shape-inference chatter
    with torch.no_grad():
        torch.onnx.export(
            model, inputs, tmp, input_names=names, output_names=[output],
            dynamic_axes={**{name: {0: "batch", 1: "sequence"} for name in names},
                          output: {0: "batch"}},
            opset_version=OPSET, do_constant_folding=True)
    os.replace(tmp, out)
    print(f"exported {out} (opset {OPSET}) in {time.perf_counter() - t:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
