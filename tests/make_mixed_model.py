#!/usr/bin/env python3
"""Convert ko-small with each Linear weight in its own dtype, for tests/test_golden.c.

    python3 tests/make_mixed_model.py tests/data/models/ko-small OUT.sbert

The .sbert format lets every tensor have its own dtype, and the engine decides per weight
whether the activations feeding it are quantized (and by whom: the LayerNorm before an int8
Linear layer quantizes the rows it writes). The converter writes one dtype for all Linear
weights, so this runs it with the choice made per layer and weight below, which puts an int8
weight after each kind of neighbour: the embeddings before an int8 Wqkv, an int8 W1 in a layer
whose Wqkv is f32 and the reverse, a layer ending before an int8 Wqkv and before an f32 one.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tools"))
import convert_safetensors as convert  # noqa: E402

# (Wqkv, Wo, W1, W2) of each of ko-small's 4 layers; the other tensors are stored as for int8
LAYER_DTYPES = (("int8", "f32", "int8", "f32"),
                ("f16", "int8", "int8", "int8"),
                ("int8", "int8", "bf16", "int8"),
                ("f32", "f32", "f32", "f16"))
WEIGHTS = ("attention.qkv.weight", "attention.output.dense.weight", "intermediate.dense.weight",
           "output.dense.weight")


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    chosen = {f"encoder.layer.{layer}.{weight}": convert.DTYPES[dtype]
              for layer, dtypes in enumerate(LAYER_DTYPES) for weight, dtype in zip(WEIGHTS, dtypes)}
    used = set()
    linear_weight = convert.linear_weight

    def linear_weight_as_chosen(name, sources, dtype):
        used.add(name)
        return linear_weight(name, sources, chosen[name])
    convert.linear_weight = linear_weight_as_chosen
    rc = convert.main([argv[0], argv[1], "--dtype", "int8", "--quiet"])
    if rc == 0 and used != set(chosen):
        print(f"make_mixed_model: weights not seen: {sorted(set(chosen) ^ used)}", file=sys.stderr)
        return 1
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
