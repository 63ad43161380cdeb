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
    int32_t *batch_ids;  /* the current batch's ids (sb_reserve_batches) */
    size_t batch_ids_cap;
    int32_t *batch_types;/* their token types (cross-encoders only, else NULL) */
    size_t batch_types_cap;
    int *batch_start;    /* [batch_size + 1] */
    int32_t *types;      /* a cross-encoder's pairs: the token types of `ids` (rerank.c) */
    size_t types_cap;
    int32_t *side_ids[2];/* the ids of each text of one pair alone */
    size_t side_cap[2];
    /* chunked pooling (chunk.c) */
    int32_t *text_ids;   /* the texts' own ids while ctx->ids holds their windows */
    size_t text_ids_cap;
    size_t *text_start;  /* [n_texts + 1] where each text's ids start in `text_ids` */
    size_t text_start_cap;
    size_t *text_window; /* [n_texts + 1] text i's windows are inputs text_window[i] .. [i + 1] - 1 */
    size_t text_window_cap;
    float *win_out;      /* [n_windows, dim] the windows' vectors */
    size_t win_out_cap;
    double *mean;        /* [dim] one text's weighted sum */
    size_t mean_cap;
};

/* A forward pass takes at most batch_size inputs and, unless one input is longer, at most this
 * many tokens: its hidden states are [tokens, H] (68 MB at H = 1024), and a pass this long keeps
 * every core busy already. 32 texts of 512 tokens fit, so models of up to 512 tokens batch as
 * batch_size says; 8,192-token texts (bge-m3) go two to a pass. */
#define SB_PASS_TOKENS 16384

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
/* Grows the context's batch buffers and the encoder's to the largest of the forward passes the
 * n ordered inputs will take (a context holds what the largest pass it has seen needs, never the
 * model's maximum up front). SBERT_OK or NO_MEMORY / TOO_LARGE with a message. */
int sb_reserve_batches(sbert_context *ctx, size_t n);
/* Runs inputs order[first .. first + count) through the encoder, with their token types from
 * types[] (parallel to ctx->ids; NULL: all 0): the last hidden state of input order[first + b]
 * starts at token batch_start[b]. */
void sb_run_batch(sbert_context *ctx, size_t first, size_t count, const int32_t *types);

/* ---- chunked pooling (chunk.c) -------------------------------------------------------------
 * The windows of sbert_encode_options.chunking: `head` leading ids of a text (its leading special
 * tokens and the prompt's tokens) start every window, `tail` trailing ids (the trailing special
 * tokens) end it, and up to `body` of the text's other ids fill it, the next window starting
 * `stride` of them later. window 0: no chunking. */
typedef struct {
    size_t window, head, tail, body, stride;
} sb_windows;

/* Replaces the n_texts texts in ctx->ids by their windows (a text of at most w->window ids is
 * its own single window), keeping the texts in ctx->text_ids; *n_windows is their count. Then
 * ctx->ids holds the inputs of the forward passes as for texts. OK, NO_MEMORY or TOO_LARGE. */
int sb_chunk_windows(sbert_context *ctx, size_t n_texts, const sb_windows *w, size_t *n_windows);
/* out[i] = text i's vector from its windows' vectors in ctx->win_out: the one vector as it is
 * (a text of one window), else the mean weighted by each window's text tokens, L2-normalized
 * when `normalize`. */
void sb_chunk_combine(sbert_context *ctx, size_t n_texts, const sb_windows *w, int normalize,
                      float *out);

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
