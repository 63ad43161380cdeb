/* The API layer's own header (not installed): the context both halves of the API use.
 * sbert.c holds the handles and errors; batch.c sbert_encode's batching (tokenize every text, sort
 * by length, cut batches, encode, pool). */
#ifndef SBERT_API_H
#define SBERT_API_H

#include <stddef.h>
#include <stdint.h>

#include "sbert.h"
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
    float *pool_scratch;

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
    int *batch_start;    /* [batch_size + 1] */
};

/* Sets ctx's message (printf format) and returns code. */
int sb_ctx_fail(sbert_context *ctx, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Grows *ptr (elements of elem bytes) to hold at least need; *cap counts elements. */
int sb_ctx_grow(sbert_context *ctx, void **ptr, size_t *cap, size_t need, size_t elem);
/* Tokenizes one text into ids[0..capacity), the count into *n_ids (flags: SBERT_TOKENIZE_*). */
int sb_ctx_tokenize(sbert_context *ctx, const char *text, size_t len, int flags,
                    size_t max_tokens, int32_t *ids, size_t capacity, size_t *n_ids);
/* The longest token sequence the model's position table allows. */
size_t sb_max_positions_usable(const sbert_model *m);

#endif
