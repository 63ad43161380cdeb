/* The loaded model: hyper-parameters, tokenizer, sentence-transformers pipeline and weights.
 *
 * model_file.c fills it from a validated .sbert file (docs/FORMAT.md); after that it is
 * immutable and shared by every context and thread. Weight pointers point into the read-only
 * mapping: Linear weights and the word embeddings in whatever format the file stores them
 * (sb_weight_format), every other tensor when it is F32; other F16/BF16 tensors (position
 * embeddings, LayerNorm) are converted once at load into `owned_f32`. The engine computes in
 * fp32, except the GEMMs of I8 weights (int8 x int8, int32 sums; see sb_weight_format). */
#ifndef SBERT_MODEL_H
#define SBERT_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "format.h"
#include "kernels/kernels.h" /* sb_linear, sb_activation, sb_weight_format */
#include "sbert.h"
#include "tokenizer/tokenizer.h"

#define SB_MAX_DENSE 8     /* Dense modules in one pipeline (real models use 0 or 1) */
typedef enum {
    SB_ARCH_BERT = 0,
    SB_ARCH_ROBERTA = 1,
    SB_ARCH_XLM_ROBERTA = 2,
    SB_ARCH_MPNET = 3,  /* RoBERTa's positions, no token types, a relative-position bias */
} sb_arch;

/* One post-LayerNorm transformer layer. H hidden, I intermediate. */
typedef struct {
    sb_linear qkv;            /* [3H, H]: query rows, then key rows, then value rows */
    sb_linear attn_out;       /* [H, H]   attention.output.dense */
    const float *attn_ln_w;   /* [H]      attention.output.LayerNorm.weight */
    const float *attn_ln_b;   /* [H]      attention.output.LayerNorm.bias */
    sb_linear ffn_up;         /* [I, H]   intermediate.dense */
    sb_linear ffn_down;       /* [H, I]   output.dense */
    const float *ffn_ln_w;    /* [H]      output.LayerNorm.weight */
    const float *ffn_ln_b;    /* [H]      output.LayerNorm.bias */
} sb_layer;

typedef struct {
    int vocab_size;           /* V */
    int hidden;               /* H */
    int n_layers;             /* L */
    int n_heads;              /* H / n_heads is the head size */
    int intermediate;         /* I */
    int max_positions;        /* P: rows of the position table */
    int type_vocab_size;      /* T (0: MPNet, no token types) */
    float layer_norm_eps;
    sb_activation act;        /* GELU_ERF, GELU_TANH or RELU */
    int pad_token_id;
    int position_offset;      /* position id of the first token: pad_token_id + 1 for RoBERTa */
    int rel_buckets;          /* B: MPNet's relative-position buckets (0: no such bias) */
    int rel_max_distance;     /* MPNet: the distance from which keys share the last bucket */
} sb_hparams;

typedef struct {
    bool cls, max, mean, mean_sqrt_len, weightedmean, lasttoken; /* concatenated in this order */
    bool include_prompt;
} sb_pooling;

typedef struct {
    sb_linear linear;         /* [out, in] */
    sb_activation act;
} sb_dense;

/* What a file holds (general.kind). */
typedef enum { SB_KIND_SENTENCE_TRANSFORMER = 0, SB_KIND_CROSS_ENCODER = 1 } sb_model_kind;

#define SB_MAX_PAIR_SPECIALS 8  /* special ids in one part of a pair template (real ones: 1, 2) */

/* A cross-encoder's head (sentence-transformers CrossEncoder): the logits of a pair are
 * out_proj(tanh(dense(h))) for the last hidden state h of its first token, its scores
 * activation(logits). BERT's pooler + classifier and RoBERTa's classification head are both
 * this. */
typedef struct {
    int n_labels;                 /* L */
    char **labels;                /* [L] id2label, NUL-terminated (owned: one allocation) */
    sb_activation activation;     /* logits -> scores */
    sb_linear dense;              /* [H, H], then tanh */
    sb_linear out_proj;           /* [L, H] */
    /* the pair template's special ids and their token types (m->tok_cfg points at them):
     * [0] before a, [1] between a and b, [2] after b */
    int32_t pair_ids[3][SB_MAX_PAIR_SPECIALS];
    int32_t pair_types[3][SB_MAX_PAIR_SPECIALS];
} sb_classifier;

struct sbert_model {
    /* the file */
    const uint8_t *file_data; /* the mapping (or the caller's buffer) */
    size_t file_size;
    bool file_is_mapped;      /* munmap at free */
    void *file_copy;          /* when read without mmap or copied for alignment; freed at free */
    void *map_base;           /* the reserved address range holding the mapping; munmap at free */
    size_t map_length;
    float *owned_f32;         /* F16/BF16 tensors converted to F32 at load */
    int32_t *owned_col_sums;  /* the I8 Linear weights' column sums, computed at load */

    char arch_name[32];       /* "roberta", ... (NUL-terminated copy) */
    char *name;               /* config _name_or_path (NUL-terminated, owned) */
    sb_arch arch;
    sb_hparams hp;

    /* embeddings */
    const void *word_emb;     /* [V, H] in word_emb_format, in place in the file: a text reads a
                                 few rows, so a 2-byte table is widened row by row, not at load */
    sb_weight_format word_emb_format;
    const float *pos_emb;     /* [P, H] */
    const float *type_emb;    /* [T, H] (row 0 is used: single-text encoding); NULL when T = 0 */
    const float *emb_ln_w;    /* [H] */
    const float *emb_ln_b;    /* [H] */
    const float *rel_bias;    /* [B, n_heads] MPNet's relative-position bias (shared by all layers),
                                 else NULL */
    sb_layer *layers;         /* [L], owned array */

    /* what runs after the transformer: a SentenceTransformer's pipeline (pooling .. prompts) or
     * a CrossEncoder's classifier */
    sb_model_kind kind;
    sb_classifier classifier;
    size_t max_seq_length;    /* tokens fed to the model, specials included (a cross-encoder:
                                 its max_length, for a whole pair) */
    sb_pooling pooling;
    int n_dense;
    sb_dense dense[SB_MAX_DENSE];
    bool normalize;           /* a Normalize module ends the pipeline */
    sbert_similarity similarity;
    size_t dim;               /* output dimension after pooling and Dense (0: cross-encoder) */

    /* prompts: NUL-terminated owned copies */
    size_t n_prompts;
    char **prompt_names;
    char **prompt_texts;
    int default_prompt;       /* index into prompts, or -1 */

    /* tokenizer (built at load, immutable) and the arrays its config points to (owned) */
    sb_tokenizer_config tok_cfg;
    sb_tokenizer *tokenizer;
    void *tok_owned;          /* one allocation holding the vocab sb_str array and id arrays */
};

/* ---- opening a .sbert file (model_file*.c) -------------------------------------------------
 * Opening a .sbert model file (docs/FORMAT.md) into a struct sbert_model. The file is mapped
 * read-only (or read into memory) and validated completely before anything in it is used:
 * header, checksum, every key/value entry, hyper-parameter limits, token ids, and every tensor's
 * name, dtype, layout, shape, size and position. A damaged or hostile file is refused with an
 * sbert_status and a one-line message; it never makes the loader read out of bounds.
 *
 * These functions fill every field of struct sbert_model except `tokenizer`, which api/sbert.c
 * builds from m->tok_cfg afterwards. */

/* Opens and validates the file at `path`. params may be NULL (the defaults: map, prefault). `*m` is
 * overwritten (it must not hold an open model). Returns SBERT_OK or a negative sbert_status; on
 * failure everything is already released, *m is zeroed, and err (when not NULL) receives a
 * NUL-terminated message of at most err_size bytes. */
int sb_model_file_open(sbert_model *m, const char *path, const sbert_model_params *params,
                       char *err, size_t err_size);

/* The same from a buffer of the caller's. A 64-byte-aligned buffer is used in place (it must stay
 * valid and unchanged until sb_model_file_close); any other buffer is copied, since tensors must
 * start on 64-byte boundaries. */
int sb_model_file_from_memory(sbert_model *m, const void *data, size_t size, char *err,
                              size_t err_size);

/* Releases everything the two functions above filled (mapping, copies, owned arrays) and zeroes
 * those fields; m itself is not freed and m->tokenizer is left alone. Safe on a zeroed model and on
 * one already closed. */
void sb_model_file_close(sbert_model *m);

#endif
