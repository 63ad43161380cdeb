"""An independent PyTorch reference for sentence-transformers BERT / RoBERTa / MPNet encoders.

Built from torch.nn modules only (nn.Embedding, nn.Linear, nn.LayerNorm, F.gelu, F.softmax):
no `transformers`, no `sentence-transformers`, no code shared with libsbert or its converter.
The forward pass mirrors Hugging Face's eager `RobertaModel` / `BertModel` / `MPNetModel` line
for line:

  - embeddings: word + position + token type (always type 0; MPNet has none), then LayerNorm;
    RoBERTa position ids are HF's `create_position_ids_from_input_ids`:
    cumsum of the non-pad mask, times the mask, plus pad_token_id, so token t of an unpadded
    text gets pad_token_id + 1 + t and every pad gets pad_token_id; BERT uses 0..T-1; MPNet
    numbers them as RoBERTa does from its fixed padding index 1;
  - self-attention per head, scores / sqrt(d) plus the additive mask (1 - mask) * finfo.min,
    softmax, post-LN residual blocks, exact erf GELU (or the tanh form / ReLU when the config
    says so); MPNet adds, before the mask, a learned bias per head and relative position
    (`MPNetEncoder.compute_position_bias`: 32 log-spaced buckets up to distance 128, one table
    [32, heads] shared by all layers);
  - sentence-transformers' Pooling (mean / cls / max over the attention mask) and Normalize.

Weights are read from the model directory's model.safetensors with the stdlib (json, struct)
and torch.frombuffer. Used by tests/check_fullsize.py (the judge of the C forward pass) and by
bench/ (the PyTorch peer and the ONNX export).

Needs Debian's PyTorch:  apt-get install -y python3-torch python3-numpy; run with /usr/bin/python3.
"""

import json
import math
import os
import struct

import torch
import torch.nn.functional as F
from torch import nn

SAFETENSORS_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
    "U8": torch.uint8, "BOOL": torch.bool,
}


def read_safetensors(path):
    """Returns {name: tensor} for every tensor of a .safetensors file (format: u64 header
    length, JSON header {name: {dtype, shape, data_offsets}}, then the raw little-endian data)."""
    with open(path, "rb") as f:
        data = bytearray(f.read())  # bytearray: torch.frombuffer wants a writable buffer
    (header_len,) = struct.unpack_from("<Q", data, 0)
    header = json.loads(data[8:8 + header_len].decode("utf-8"))
    base = 8 + header_len
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = SAFETENSORS_DTYPES[info["dtype"]]
        begin, end = info["data_offsets"]
        count = math.prod(info["shape"])
        if count == 0:
            tensors[name] = torch.empty(info["shape"], dtype=dtype)
            continue
        t = torch.frombuffer(data, dtype=dtype, count=count, offset=base + begin)
        assert t.numel() * t.element_size() == end - begin, name
        tensors[name] = t.reshape(info["shape"])
    return tensors


def _activation(name):
    if name == "gelu":
        return lambda x: F.gelu(x)                              # exact: x * Phi(x), erf form
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        return lambda x: F.gelu(x, approximate="tanh")
    if name == "relu":
        return F.relu
    raise ValueError(f"unsupported hidden_act {name!r}")


# Module and attribute names follow Hugging Face's, so the checkpoint's state dict loads as is.

MPNET = "mpnet"


def pad_token_id(cfg):
    """config.json's pad_token_id, else the config class's default: BertConfig's 0, 1 for
    RobertaConfig, XLMRobertaConfig and MPNetConfig."""
    return cfg.get("pad_token_id", 0 if cfg["model_type"] == "bert" else 1)


class Embeddings(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        h = cfg["hidden_size"]
        mpnet = cfg["model_type"] == MPNET
        self.is_roberta = mpnet or cfg["model_type"] in ("roberta", "xlm-roberta", "camembert")
        # MPNetEmbeddings fixes padding_idx to 1 whatever the config says.
        self.pad_id = 1 if mpnet else pad_token_id(cfg)
        self.word_embeddings = nn.Embedding(cfg["vocab_size"], h)
        self.position_embeddings = nn.Embedding(cfg["max_position_embeddings"], h)
        self.token_type_embeddings = None if mpnet else \
            nn.Embedding(cfg.get("type_vocab_size", 2), h)
        self.LayerNorm = nn.LayerNorm(h, eps=cfg.get("layer_norm_eps", 1e-12))

    def forward(self, input_ids, token_type_ids=None):
        if self.is_roberta:
            # transformers' create_position_ids_from_input_ids
            mask = input_ids.ne(self.pad_id).int()
            position_ids = (torch.cumsum(mask, dim=1).type_as(mask) * mask).long() + self.pad_id
        else:
            position_ids = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
        if self.token_type_embeddings is None:  # MPNet
            x = self.word_embeddings(input_ids) + self.position_embeddings(position_ids)
        else:
            if token_type_ids is None:
                token_type_ids = torch.zeros_like(input_ids)
            x = (self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
                 + self.position_embeddings(position_ids))
        return self.LayerNorm(x)


class SelfAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        h = cfg["hidden_size"]
        self.n_heads = cfg["num_attention_heads"]
        self.head_dim = h // self.n_heads
        self.query = nn.Linear(h, h)
        self.key = nn.Linear(h, h)
        self.value = nn.Linear(h, h)

    def forward(self, x, additive_mask):
        return attend(self.query(x), self.key(x), self.value(x), self.n_heads, additive_mask)


def attend(q, k, v, n_heads, additive_mask, position_bias=None):
    """softmax(q k^T / sqrt(d) [+ position_bias] + mask) v per head; [B, T, H] in and out."""
    b, t, h = q.shape

    def heads(y):  # [B, T, H] -> [B, heads, T, d]
        return y.view(b, t, n_heads, h // n_heads).transpose(1, 2)

    q, k, v = heads(q), heads(k), heads(v)
    scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(h // n_heads)
    if position_bias is not None:
        scores = scores + position_bias
    probs = F.softmax(scores + additive_mask, dim=-1)
    return torch.matmul(probs, v).transpose(1, 2).reshape(b, t, h)


class DenseLayerNorm(nn.Module):
    """HF's *SelfOutput / *Output: LayerNorm(dense(x) + residual)."""

    def __init__(self, n_in, cfg):
        super().__init__()
        self.dense = nn.Linear(n_in, cfg["hidden_size"])
        self.LayerNorm = nn.LayerNorm(cfg["hidden_size"], eps=cfg.get("layer_norm_eps", 1e-12))

    def forward(self, x, residual):
        return self.LayerNorm(self.dense(x) + residual)


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.self = SelfAttention(cfg)
        self.output = DenseLayerNorm(cfg["hidden_size"], cfg)

    def forward(self, x, additive_mask):
        return self.output(self.self(x, additive_mask), x)


class MPNetSelfAttention(nn.Module):
    """HF's MPNetSelfAttention: q, k, v and the output projection o in one module."""

    def __init__(self, cfg):
        super().__init__()
        h = cfg["hidden_size"]
        self.n_heads = cfg["num_attention_heads"]
        self.q, self.k, self.v, self.o = (nn.Linear(h, h) for _ in range(4))

    def forward(self, x, additive_mask, position_bias):
        return self.o(attend(self.q(x), self.k(x), self.v(x), self.n_heads, additive_mask,
                             position_bias))


class MPNetAttention(nn.Module):
    """HF's MPNetAttention: LayerNorm(attn(x) + x)."""

    def __init__(self, cfg):
        super().__init__()
        self.attn = MPNetSelfAttention(cfg)
        self.LayerNorm = nn.LayerNorm(cfg["hidden_size"], eps=cfg.get("layer_norm_eps", 1e-12))

    def forward(self, x, additive_mask, position_bias):
        return self.LayerNorm(self.attn(x, additive_mask, position_bias) + x)


class Intermediate(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.dense = nn.Linear(cfg["hidden_size"], cfg["intermediate_size"])
        self.act = _activation(cfg.get("hidden_act", "gelu"))

    def forward(self, x):
        return self.act(self.dense(x))


class Layer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.attention = MPNetAttention(cfg) if cfg["model_type"] == MPNET else Attention(cfg)
        self.intermediate = Intermediate(cfg)
        self.output = DenseLayerNorm(cfg["intermediate_size"], cfg)

    def forward(self, x, additive_mask, *position_bias):
        a = self.attention(x, additive_mask, *position_bias)
        return self.output(self.intermediate(a), a)


class Encoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.layer = nn.ModuleList(Layer(cfg) for _ in range(cfg["num_hidden_layers"]))

    def forward(self, x, additive_mask):
        for layer in self.layer:
            x = layer(x, additive_mask)
        return x


def relative_position_bucket(relative_position, num_buckets=32, max_distance=128):
    """HF's MPNetEncoder.relative_position_bucket, which MPNetModel calls with these defaults:
    key j seen from query i (relative_position = j - i) falls into one of num_buckets / 2 buckets
    per direction (keys after the query in the upper half); distances below num_buckets / 4 get
    a bucket each, longer ones log-spaced buckets up to max_distance, beyond it the last one.
    The float32 steps are torch's, as HF does them."""
    half = num_buckets // 2
    n = -relative_position
    ret = (n < 0).to(torch.long) * half
    n = torch.abs(n)
    exact = half // 2
    large = exact + (torch.log(n.float() / exact) / math.log(max_distance / exact)
                     * (half - exact)).to(torch.long)
    large = torch.clamp(large, max=half - 1)
    return ret + torch.where(n < exact, n, large)


class MPNetEncoder(Encoder):
    """The layers plus the relative-position bias table [32, heads] they all share."""

    def __init__(self, cfg):
        super().__init__(cfg)
        self.relative_attention_bias = nn.Embedding(
            cfg.get("relative_attention_num_buckets", 32), cfg["num_attention_heads"])

    def forward(self, x, additive_mask):
        t = x.shape[1]
        position = torch.arange(t, dtype=torch.long)
        bucket = relative_position_bucket(position[None, :] - position[:, None])  # [T, T]
        position_bias = self.relative_attention_bias(bucket).permute(2, 0, 1).unsqueeze(0)
        for layer in self.layer:  # position_bias: [1, heads, T, T]
            x = layer(x, additive_mask, position_bias)
        return x


class Transformer(nn.Module):
    """RobertaModel / BertModel / MPNetModel without the pooler: input ids -> last hidden state."""

    def __init__(self, cfg):
        super().__init__()
        self.embeddings = Embeddings(cfg)
        self.encoder = MPNetEncoder(cfg) if cfg["model_type"] == MPNET else Encoder(cfg)

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        # HF's get_extended_attention_mask: 0 where attended, the dtype's minimum elsewhere.
        m = attention_mask[:, None, None, :].to(self.embeddings.LayerNorm.weight.dtype)
        additive_mask = (1.0 - m) * torch.finfo(m.dtype).min
        return self.encoder(self.embeddings(input_ids, token_type_ids), additive_mask)


class ClassificationHead(nn.Module):
    """RobertaClassificationHead: out_proj(tanh(dense(h[first token]))) (dropout is off in eval).
    BertForSequenceClassification computes the same with its pooler and classifier."""

    def __init__(self, cfg, n_labels):
        super().__init__()
        self.dense = nn.Linear(cfg["hidden_size"], cfg["hidden_size"])
        self.out_proj = nn.Linear(cfg["hidden_size"], n_labels)

    def forward(self, tokens):
        return self.out_proj(torch.tanh(self.dense(tokens[:, 0])))


class CrossEncoder(nn.Module):
    """*ForSequenceClassification: ids of a pair in, logits out (no activation)."""

    def __init__(self, cfg, n_labels):
        super().__init__()
        self.transformer = Transformer(cfg)
        self.head = ClassificationHead(cfg, n_labels)

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        return self.head(self.transformer(input_ids, attention_mask, token_type_ids))


class SentenceEncoder(nn.Module):
    """Transformer -> Pooling -> (Normalize): sentence-transformers' pipeline, ids in, vectors out."""

    def __init__(self, cfg, pooling, normalize):
        super().__init__()
        self.transformer = Transformer(cfg)
        self.pooling = pooling
        self.normalize = normalize

    def forward(self, input_ids, attention_mask):
        tokens = self.transformer(input_ids, attention_mask)
        mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
        if self.pooling == "mean":
            v = (tokens * mask).sum(1) / torch.clamp(mask.sum(1), min=1e-9)
        elif self.pooling == "cls":
            v = tokens[:, 0]
        elif self.pooling == "max":
            v = (tokens + (1.0 - mask) * -1e9).max(1).values  # sentence-transformers' max pooling
        else:
            raise ValueError(self.pooling)
        if self.normalize:
            v = F.normalize(v, p=2, dim=1)
        return v


def _read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def load(model_dir, dtype=torch.float32):
    """Builds the SentenceEncoder of a sentence-transformers model directory (Transformer,
    Pooling and optional Normalize modules; Dense modules are not supported) in eval mode."""
    cfg = _read_json(os.path.join(model_dir, "config.json"))
    modules = _read_json(os.path.join(model_dir, "modules.json"))
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    if kinds[:2] != ["Transformer", "Pooling"] or set(kinds[2:]) - {"Normalize"}:
        raise ValueError(f"unsupported pipeline {kinds}")
    pool_cfg = _read_json(os.path.join(model_dir, modules[1]["path"], "config.json"))
    modes = [m for m in ("mean", "cls", "max")
             if pool_cfg.get(f"pooling_mode_{m}_tokens" if m != "cls" else "pooling_mode_cls_token")]
    other = [k for k, v in pool_cfg.items() if k.startswith("pooling_mode_") and v
             and k not in ("pooling_mode_mean_tokens", "pooling_mode_cls_token", "pooling_mode_max_tokens")]
    if len(modes) != 1 or other:
        raise ValueError(f"unsupported pooling {pool_cfg}")

    model = SentenceEncoder(cfg, modes[0], "Normalize" in kinds)
    weights = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    prefix = cfg["model_type"].replace("-", "_") + "."  # "roberta." / "bert." / "mpnet." in some
    state = {}
    for name, t in weights.items():
        name = name[len(prefix):] if name.startswith(prefix) else name
        if name.startswith("pooler.") or name.endswith("position_ids"):
            continue  # the HF pooler is not part of a sentence-transformers pipeline
        state[name] = t.to(torch.float32)
    model.transformer.load_state_dict(state, strict=True)
    model.max_seq_length = _read_json(os.path.join(model_dir, "sentence_bert_config.json"))["max_seq_length"]
    model.pad_id = pad_token_id(cfg)
    return model.to(dtype).eval()


def load_cross_encoder(model_dir, dtype=torch.float32):
    """Builds the CrossEncoder of a Hugging Face *ForSequenceClassification directory (BERT's
    pooler + classifier, RoBERTa's classifier.dense + classifier.out_proj) in eval mode."""
    cfg = _read_json(os.path.join(model_dir, "config.json"))
    n_labels = len(cfg.get("id2label") or {0: 0, 1: 1})
    model = CrossEncoder(cfg, n_labels)
    weights = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    prefix = "bert." if cfg["model_type"] == "bert" else "roberta."
    head = {"pooler.dense.": "head.dense.", "classifier.": "head.out_proj."} \
        if cfg["model_type"] == "bert" else {"classifier.": "head."}
    state = {}
    for name, t in weights.items():
        name = name[len(prefix):] if name.startswith(prefix) else name
        if name.endswith("position_ids"):
            continue
        renamed = next((new + name[len(old):] for old, new in head.items()
                        if name.startswith(old)), "transformer." + name)
        state[renamed] = t.to(torch.float32)
    model.load_state_dict(state, strict=True)
    model.pad_id = pad_token_id(cfg)
    return model.to(dtype).eval()


def pad_batch(id_lists, pad_id):
    """[list of id lists] -> (input_ids, attention_mask), int64 [B, longest], right-padded."""
    longest = max(len(ids) for ids in id_lists)
    input_ids = torch.full((len(id_lists), longest), pad_id, dtype=torch.int64)
    attention_mask = torch.zeros((len(id_lists), longest), dtype=torch.int64)
    for i, ids in enumerate(id_lists):
        input_ids[i, :len(ids)] = torch.tensor(ids, dtype=torch.int64)
        attention_mask[i, :len(ids)] = 1
    return input_ids, attention_mask


@torch.inference_mode()
def encode_ids(model, id_lists, batch_size=32, sort_by_length=True):
    """Sentence vectors for token-id lists, as a float tensor [N, dim] in input order.
    sort_by_length=True batches as sentence-transformers does (longest first, so each batch
    pads little); False keeps the input order, so batches mix short and long texts."""
    order = list(range(len(id_lists)))
    if sort_by_length:
        order.sort(key=lambda i: -len(id_lists[i]))
    out = [None] * len(id_lists)
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        input_ids, attention_mask = pad_batch([id_lists[i] for i in chunk], model.pad_id)
        vectors = model(input_ids, attention_mask)
        for row, i in enumerate(chunk):
            out[i] = vectors[row]
    return torch.stack(out)
