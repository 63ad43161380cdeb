/* The API layer's own header (not installed): the context both halves of the API use.
 * sbert.c holds the handles and errors; batch.c sbert_encode's batching (tokenize every text, sort
 * by length, cut batches, encode, pool). */
#ifndef SBERT_API_H
#define SBERT_API_H

#include <stddef.h>
#include <stdint.h>

#include "sbert.h"
#include "base/base.h"
#include "engine/engine.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

/* A growable array of T: per-call storage that only grows, so steady-state calls allocate
 * nothing. */
#define GROW(ctx, ptr, cap, need)                                                           \
    ((need) <= (cap) ? SBERT_OK : sb_ctx_grow((ctx), (void **)&(ptr), &(cap), (need), sizeof *(ptr)))

struct sbert_context {
    const sbert_model *model;
    sbert_context_params params;
    char errmsg[512];

    sb_tok_scratch *tok_scratch;
    sb_encoder_state enc;
    float *pool_scratch; /* sb_pool_text's or sb_classify's working memory */

    /* per call, grown on demand */
    int32_t *ids;        /* every text's ids, concatenated */
    size_t ids_cap;
    size_t *id_start;    /* [n_texts + 1] where each text's ids start in `ids` */
    size_t id_start_cap;
    uint64_t *order;     /* texts sorted by token count, longest first (see sort_by_length) */
    size_t order_cap;
    char *text_buf;      /* prompt + text */
    size_t text_buf_cap;
    int32_t *batch_ids;  /* [max_tokens] the current batch's ids */
    int32_t *batch_types;/* [max_tokens] their token types (cross-encoders only, else NULL) */
    int *batch_start;    /* [batch_size + 1] */
    int32_t *types;      /* a cross-encoder's pairs: the token types of `ids` (rerank.c) */
    size_t types_cap;
    int32_t *side_ids[2];/* the ids of each text of one pair alone */
    size_t side_cap[2];
};

/* ---- batching (batch.c), shared by sbert_encode and the cross-encoder calls (rerank.c) ----
 * The inputs of a call are tokenized into ctx->ids (input i: ids[id_start[i] .. id_start[i+1])),
 * then ordered longest first and cut into batches, each one forward pass of the encoder. */

/* Sorts n keys ascending (keys pack a rank in the high half and an index in the low half). */
void sb_sort_keys(uint64_t *keys, size_t n);
/* ctx->order = the n inputs by length, longest first (input order among equals). */
void sb_sort_by_length(sbert_context *ctx, size_t n, size_t max_len);
/* The input at position k of that order. */
size_t sb_order_index(const sbert_context *ctx, size_t k);
/* How many inputs from position `first` of the order fit one forward pass. */
size_t sb_batch_count(const sbert_context *ctx, size_t first, size_t n);
/* Runs inputs order[first .. first + count) through the encoder, with their token types from
 * types[] (parallel to ctx->ids; NULL: all 0): the last hidden state of input order[first + b]
 * starts at token batch_start[b]. */
void sb_run_batch(sbert_context *ctx, size_t first, size_t count, const int32_t *types);

/* Sets ctx's message (printf format) and returns code. */
int sb_ctx_fail(sbert_context *ctx, int code, const char *fmt, ...) SB_PRINTF(3, 4);
/* sb_grow (base/memory.h) with the failure's message in ctx. */
int sb_ctx_grow(sbert_context *ctx, void **ptr, size_t *cap, size_t need, size_t elem);
/* Tokenizes one text into ids[0..capacity), the count into *n_ids (flags: SBERT_TOKENIZE_*). */
int sb_ctx_tokenize(sbert_context *ctx, const char *text, size_t len, int flags,
                    size_t max_tokens, int32_t *ids, size_t capacity, size_t *n_ids);
/* The longest token sequence the model's position table allows. */
size_t sb_max_positions_usable(const sbert_model *m);

#endif
