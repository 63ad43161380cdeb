#!/usr/bin/env python3
"""Write a sentence-transformers model directory with random weights, in the Hugging Face layout.

    python3 tools/make_random_model.py OUT_DIR [--seed N] [shape options]

The default shape is jhgan/ko-sroberta-multitask's (RoBERTa, hidden 768, 12 layers, 12 heads,
FFN 3072, klue/roberta-base vocabulary of 32,000, 514 positions, mean pooling, max_seq_length
128): a 442 MB model.safetensors for measuring the converter and the library at full size. The
tensor names are those of tests/data/models/ko-tiny (no `roberta.` prefix, with the legacy
`embeddings.position_ids` buffer and the unused pooler). Same seed, same bytes. Standard library
only; the weights are random mantissas under a fixed exponent, so no per-element Python runs.

With --cross-encoder N the folder is a sentence-transformers CrossEncoder instead: a Hugging Face
*ForSequenceClassification with N labels (config architectures and id2label, the classification
head's tensors, names under the `roberta.` / `bert.` prefix as the hub's files have them) and no
sentence-transformers module files. bench/ makes its full-size reranker so:

    make_random_model.py DIR --model-type xlm-roberta --vocab 96002 --cross-encoder 1 \
        --tokenizer tests/data/cross-encoders/ce-xlmr

--model-type mpnet writes sentence-transformers/all-mpnet-base-v2's layout instead (MPNetModel
names, no token types, the relative-position bias table [32, heads], the mpnet-style tokenizer
of tests/data/models/mpnet-tiny, vocabulary 30,527, max_seq_length 384, mean pooling and
Normalize): the same shape options apply.
"""

import argparse
import json
import os
import random
import shutil
import sys
from array import array
from math import prod

from checkpoint import write_safetensors

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_TOKENIZER = os.path.join(HERE, "..", "tests", "data", "tokenizers", "klue-roberta-base")
MPNET_TOKENIZER = os.path.join(HERE, "..", "tests", "data", "models", "mpnet-tiny")
MPNET_BUCKETS = 32  # the table size of MPNetConfig's default (relative_attention_num_buckets)
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer_config.json",
                   "special_tokens_map.json")
CLASSIFIERS = {"roberta": "RobertaForSequenceClassification",
               "xlm-roberta": "XLMRobertaForSequenceClassification",
               "bert": "BertForSequenceClassification"}
POOLING_MODES = {"mean": "pooling_mode_mean_tokens", "cls": "pooling_mode_cls_token",
                 "max": "pooling_mode_max_tokens"}

# Tables for the top byte of each little-endian float32 (sign and the exponent's upper 7 bits);
# the random low bit of the exponent then spans two binades.
SMALL = bytes(0x3D | (b & 0x80) for b in range(256))  # random sign, |v| in [1/32, 1/8)
NEAR_ONE = bytes([0x3F]) * 256                          # v in [0.5, 2): LayerNorm scales
# random sign, |v| in [0.5, 2): relative-position biases large enough that a wrong bucket shows
SIGNED_NEAR_ONE = bytes(0x3F | (b & 0x80) for b in range(256))


def random_floats(rng, count, top_bytes):
    # randbytes draws 32-bit words in order, so chunks of whole words give the bytes of one call
    # (which cannot make more than 2**31 bits at once).
    chunk = 1 << 26
    data = bytearray(b"".join(rng.randbytes(min(chunk, 4 * count - i))
                              for i in range(0, 4 * count, chunk)))
    data[3::4] = data[3::4].translate(top_bytes)
    return bytes(data)


# A layer's attention Linears (query, key, value, output) and its LayerNorm, by architecture.
ATTENTION_NAMES = {
    "bert": ("attention.self.query", "attention.self.key", "attention.self.value",
             "attention.output.dense", "attention.output.LayerNorm"),
    "mpnet": ("attention.attn.q", "attention.attn.k", "attention.attn.v", "attention.attn.o",
              "attention.LayerNorm"),
}


def random_tensors(args, rng):
    """name -> (dtype, shape, bytes), with the names and shapes of RobertaModel / BertModel /
    MPNetModel."""
    H, I = args.hidden, args.intermediate
    mpnet = args.model_type == "mpnet"
    shapes = {"embeddings.word_embeddings.weight": (args.vocab, H),
              "embeddings.position_embeddings.weight": (args.max_positions, H),
              "embeddings.LayerNorm.weight": (H,), "embeddings.LayerNorm.bias": (H,),
              "pooler.dense.weight": (H, H), "pooler.dense.bias": (H,)}
    if mpnet:
        shapes["encoder.relative_attention_bias.weight"] = (MPNET_BUCKETS, args.heads)
    else:
        shapes["embeddings.token_type_embeddings.weight"] = (args.type_vocab, H)
    *qkvo, attention_norm = ATTENTION_NAMES["mpnet" if mpnet else "bert"]
    for i in range(args.layers):
        p = f"encoder.layer.{i}."
        for name, out_features, in_features in (
                *((name, H, H) for name in qkvo),
                ("intermediate.dense", I, H), ("output.dense", H, I)):
            shapes[p + name + ".weight"] = (out_features, in_features)
            shapes[p + name + ".bias"] = (out_features,)
        for norm in (attention_norm, "output.LayerNorm"):
            shapes[p + norm + ".weight"] = shapes[p + norm + ".bias"] = (H,)
    if args.cross_encoder:  # the classification head (BERT's is its pooler, kept above)
        head = "classifier" if args.model_type == "bert" else "classifier.out_proj"
        shapes[head + ".weight"] = (args.cross_encoder, H)
        shapes[head + ".bias"] = (args.cross_encoder,)
        if args.model_type != "bert":
            del shapes["pooler.dense.weight"], shapes["pooler.dense.bias"]
            shapes["classifier.dense.weight"], shapes["classifier.dense.bias"] = (H, H), (H,)
    tensors = {}
    for name in sorted(shapes):  # a fixed order, so the seed alone fixes every value
        table = NEAR_ONE if "LayerNorm.weight" in name else \
            SIGNED_NEAR_ONE if "relative_attention_bias" in name else SMALL
        tensors[name] = ("F32", shapes[name], random_floats(rng, prod(shapes[name]), table))
    positions = array("q", range(args.max_positions))
    tensors["embeddings.position_ids"] = ("I64", (1, args.max_positions), positions.tobytes())
    if args.cross_encoder:  # the hub's names: the encoder under the model's prefix
        prefix = ("bert" if args.model_type == "bert" else "roberta") + "."
        tensors = {(n if n.startswith("classifier") else prefix + n): t
                   for n, t in tensors.items()}
    return tensors


def config_json(args):
    if args.model_type == "mpnet":  # all-mpnet-base-v2's config.json
        return {
            "_name_or_path": f"random-mpnet-seed{args.seed}", "architectures": ["MPNetModel"],
            "attention_probs_dropout_prob": 0.1, "bos_token_id": 0, "eos_token_id": 2,
            "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": args.hidden,
            "initializer_range": 0.02, "intermediate_size": args.intermediate,
            "layer_norm_eps": 1e-05, "max_position_embeddings": args.max_positions,
            "model_type": "mpnet", "num_attention_heads": args.heads,
            "num_hidden_layers": args.layers, "pad_token_id": args.pad_token_id,
            "relative_attention_num_buckets": MPNET_BUCKETS, "torch_dtype": "float32",
            "vocab_size": args.vocab,
        }
    roberta = args.model_type != "bert"
    labels = {"id2label": {str(i): f"LABEL_{i}" for i in range(args.cross_encoder)},
              "label2id": {f"LABEL_{i}": i for i in range(args.cross_encoder)}}
    return {
        "_name_or_path": f"random-{args.model_type}-seed{args.seed}",
        "architectures": [CLASSIFIERS[args.model_type] if args.cross_encoder else
                          "RobertaModel" if roberta else "BertModel"],
        **(labels if args.cross_encoder else {}),
        "attention_probs_dropout_prob": 0.1, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
        "hidden_size": args.hidden, "initializer_range": 0.02,
        "intermediate_size": args.intermediate, "layer_norm_eps": 1e-05 if roberta else 1e-12,
        "max_position_embeddings": args.max_positions, "model_type": args.model_type,
        "num_attention_heads": args.heads, "num_hidden_layers": args.layers,
        "pad_token_id": args.pad_token_id, "position_embedding_type": "absolute",
        "torch_dtype": "float32", "type_vocab_size": args.type_vocab, "vocab_size": args.vocab,
    }


def write_json(path, value):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2, ensure_ascii=False)
        f.write("\n")


def make_model(args):
    copied = [name for name in TOKENIZER_FILES
              if os.path.isfile(os.path.join(args.tokenizer, name))]
    if not {"tokenizer.json", "vocab.txt"} & set(copied):
        sys.exit(f"make_random_model: error: {args.tokenizer} has no tokenizer.json or vocab.txt")
    os.makedirs(args.out_dir, exist_ok=True)
    for name in copied:
        shutil.copyfile(os.path.join(args.tokenizer, name), os.path.join(args.out_dir, name))
    def out(*path):
        return os.path.join(args.out_dir, *path)

    write_json(out("config.json"), config_json(args))
    if args.cross_encoder:
        write_safetensors(out("model.safetensors"), random_tensors(args, random.Random(args.seed)))
        return
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling",
         "type": "sentence_transformers.models.Pooling"}]
    if args.normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize",
                        "type": "sentence_transformers.models.Normalize"})
    write_json(out("modules.json"), modules)
    write_json(out("sentence_bert_config.json"),
               {"max_seq_length": args.max_seq_length, "do_lower_case": False})
    write_json(out("1_Pooling", "config.json"),
               {"word_embedding_dimension": args.hidden,
                **{key: mode == args.pooling for mode, key in POOLING_MODES.items()}})
    write_json(out("config_sentence_transformers.json"),
               {"prompts": {}, "default_prompt_name": None, "similarity_fn_name": "cosine"})
    write_safetensors(out("model.safetensors"), random_tensors(args, random.Random(args.seed)))


def main():
    parser = argparse.ArgumentParser(prog="make_random_model", description=__doc__.split("\n")[0])
    parser.add_argument("out_dir", metavar="OUT_DIR")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model-type", choices=("roberta", "xlm-roberta", "bert", "mpnet"),
                        default="roberta")
    parser.add_argument("--cross-encoder", type=int, default=0, metavar="LABELS",
                        help="write a CrossEncoder (*ForSequenceClassification) with LABELS "
                             "labels instead of a SentenceTransformer")
    parser.add_argument("--vocab", type=int, default=None,
                        help="default: 32,000 (klue), 30,527 for mpnet")
    parser.add_argument("--hidden", type=int, default=768)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--heads", type=int, default=12)
    parser.add_argument("--intermediate", type=int, default=3072)
    parser.add_argument("--max-positions", type=int, default=514)
    parser.add_argument("--type-vocab", type=int, default=1)
    parser.add_argument("--pad-token-id", type=int, default=1)
    parser.add_argument("--max-seq-length", type=int, default=None,
                        help="default: 128, 384 for mpnet")
    parser.add_argument("--pooling", choices=POOLING_MODES, default="mean")
    parser.add_argument("--normalize", action=argparse.BooleanOptionalAction, default=None,
                        help="end with a Normalize module (default: only for mpnet)")
    parser.add_argument("--tokenizer", default=None, metavar="DIR",
                        help="directory whose tokenizer files are copied "
                             "(default: tests/data/tokenizers/klue-roberta-base, "
                             "tests/data/models/mpnet-tiny for mpnet)")
    args = parser.parse_args()
    mpnet = args.model_type == "mpnet"
    if mpnet and args.cross_encoder:
        parser.error("--cross-encoder: no MPNet cross-encoder is supported")
    for key, default, mpnet_default in (("vocab", 32000, 30527), ("max_seq_length", 128, 384),
                                        ("normalize", False, True),
                                        ("tokenizer", DEFAULT_TOKENIZER, MPNET_TOKENIZER)):
        if getattr(args, key) is None:
            setattr(args, key, mpnet_default if mpnet else default)
    make_model(args)


if __name__ == "__main__":
    main()
