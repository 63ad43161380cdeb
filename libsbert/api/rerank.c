/* The cross-encoder calls (include/sbert.h, "Rerankers"): each pair's texts tokenized alone
 * (stripped, no special tokens), joined by the model's pair template and cut longest_first
 * (tokenizer/pair.c), then batched by length without padding exactly as sbert_encode's texts
 * (batch.c), and each pair's first token scored by the classification head
 * (engine/classifier.c). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "kernels/kernels.h"

sbert_rerank_options sbert_rerank_default_options(void)
{
    sbert_rerank_options o = { 0 };
    return o;
}

/* ---- model queries ------------------------------------------------------------------------- */

static bool is_cross_encoder(const sbert_model *m)
{
    return m && m->kind == SB_KIND_CROSS_ENCODER;
}

size_t sbert_model_n_labels(const sbert_model *m)
{
    return is_cross_encoder(m) ? (size_t)m->classifier.n_labels : 0;
}

const char *sbert_model_label(const sbert_model *m, size_t i)
{
    return i < sbert_model_n_labels(m) ? m->classifier.labels[i] : NULL;
}

const char *sbert_model_activation(const sbert_model *m)
{
    if (!is_cross_encoder(m))
        return NULL;
    switch (m->classifier.activation) {
    case SB_ACT_SIGMOID: return "sigmoid";
    case SB_ACT_TANH: return "tanh";
    case SB_ACT_RELU: return "relu";
    case SB_ACT_GELU_ERF: return "gelu";
    default: return "identity";
    }
}

/* ---- checks shared by the calls ------------------------------------------------------------ */

/* Clears the message, refuses an embedding model and resolves the options' max_length. */
static int begin(sbert_context *ctx, const char *call, const sbert_rerank_options *opts,
                 sbert_rerank_options *o, size_t *max_len)
{
    ctx->errmsg[0] = '\0';
    const sbert_model *m = ctx->model;
    if (!is_cross_encoder(m))
        return sb_ctx_fail(ctx, SBERT_ERR_MODEL_KIND, "%s needs a cross-encoder (reranker), and "
                           "this is an embedding model: use sbert_encode", call);
    *o = opts ? *opts : sbert_rerank_default_options();
    const size_t limit = sb_max_positions_usable(m), specials = sb_pair_specials(m->tokenizer);
    *max_len = o->max_length ? o->max_length : m->max_seq_length;
    if (*max_len > limit)
        return sb_ctx_fail(ctx, SBERT_ERR_INVALID_ARGUMENT,
                           "max_length %zu exceeds the %zu positions the model has", *max_len, limit);
    if (*max_len < specials)
        return sb_ctx_fail(ctx, SBERT_ERR_INVALID_ARGUMENT, "max_length %zu is shorter than the "
                           "%zu special tokens of the pair template", *max_len, specials);
    return SBERT_OK;
}

/* ---- tokenizing pairs ---------------------------------------------------------------------- */

/* The ids of one text of a pair alone into ctx->side_ids[side], as Hugging Face tokenizers
 * encodes it before cutting the pair: stripped (CrossEncoder.predict), no special tokens, read
 * until the first word end at which it has max_len ids or more (not cut there: which side is
 * longer decides who keeps the odd token). `what` names the text in messages ("b[3]"). */
static int tokenize_side(sbert_context *ctx, int side, const char *text, size_t len,
                         size_t max_len, const char *what, size_t *n)
{
    const sb_tok_options opts = {
        .st_prepare = true, .add_special = false, .max_tokens = 0, .stop_at = max_len,
        .utf8 = ctx->params.utf8 == SBERT_UTF8_REPLACE ? SB_UTF8_REPLACE : SB_UTF8_REJECT,
    };
    int rc;
    while ((rc = sb_tokenizer_encode(ctx->model->tokenizer, ctx->tok_scratch, text ? text : "",
                                     len, &opts, ctx->side_ids[side], ctx->side_cap[side], n,
                                     ctx->errmsg, sizeof ctx->errmsg)) ==
           SBERT_ERR_BUFFER_TOO_SMALL) {
        if ((rc = GROW(ctx, ctx->side_ids[side], ctx->side_cap[side], *n)) != SBERT_OK)
            return rc;
    }
    if (rc != SBERT_OK) {
        /* the tokenizer's message is in errmsg, which sb_ctx_fail overwrites: format a copy */
        char detail[sizeof ctx->errmsg];
        memcpy(detail, ctx->errmsg, sizeof detail);
        return sb_ctx_fail(ctx, rc, "%s: %s", what, detail);
    }
    return SBERT_OK;
}

/* Appends pair i (the texts in side_ids[0][n_a], side_ids[1][n_b]) to ctx->ids, its token types
 * to ctx->types. */
static int add_pair(sbert_context *ctx, size_t i, size_t n_a, size_t n_b, size_t max_len)
{
    const size_t start = ctx->id_start[i];
    int rc = GROW(ctx, ctx->ids, ctx->ids_cap, start + max_len);
    if (rc == SBERT_OK)
        rc = GROW(ctx, ctx->types, ctx->types_cap, start + max_len);
    if (rc != SBERT_OK)
        return rc;
    size_t n = 0;
    rc = sb_tokenizer_pair(ctx->model->tokenizer, ctx->side_ids[0], n_a, ctx->side_ids[1], n_b,
                           max_len, ctx->ids + start, ctx->types + start, max_len, &n);
    ctx->id_start[i + 1] = start + n;
    return rc;
}

/* Every pair of the call into ctx->ids: (a[i], b[i]), or (query, b[i]) when query is not NULL
 * (tokenized once). Texts are NUL-terminated when their lengths array is NULL. */
static int tokenize_pairs(sbert_context *ctx, const char *query, const char *const *a,
                          const size_t *a_len, const char *const *b, const size_t *b_len,
                          size_t n, size_t max_len)
{
    int rc = GROW(ctx, ctx->id_start, ctx->id_start_cap, n + 1);
    if (rc == SBERT_OK)
        rc = GROW(ctx, ctx->order, ctx->order_cap, n);
    size_t n_a = 0, n_b = 0;
    if (rc == SBERT_OK && query)
        rc = tokenize_side(ctx, 0, query, strlen(query), max_len, "the query", &n_a);
    if (rc != SBERT_OK)
        return rc;
    ctx->id_start[0] = 0;
    for (size_t i = 0; i < n; i++) {
        char what[48];
        if (!query) {
            snprintf(what, sizeof what, "a[%zu]", i);
            if (!a[i] && (!a_len || a_len[i]))
                return sb_ctx_fail(ctx, SBERT_ERR_INVALID_ARGUMENT, "%s is NULL", what);
            if ((rc = tokenize_side(ctx, 0, a[i], a_len ? a_len[i] : strlen(a[i]), max_len, what,
                                    &n_a)))
                return rc;
        }
        snprintf(what, sizeof what, "%s[%zu]", query ? "docs" : "b", i);
        if (!b[i] && (!b_len || b_len[i]))
            return sb_ctx_fail(ctx, SBERT_ERR_INVALID_ARGUMENT, "%s is NULL", what);
        if ((rc = tokenize_side(ctx, 1, b[i], b_len ? b_len[i] : strlen(b[i]), max_len, what,
                                &n_b)) ||
            (rc = add_pair(ctx, i, n_a, n_b, max_len)))
            return rc;
    }
    return SBERT_OK;
}

/* ---- scoring ------------------------------------------------------------------------------- */

/* logits[n x L] of the n pairs in ctx->ids, batched by length. */
static int classify_all(sbert_context *ctx, size_t n, size_t max_len,
                        const sbert_rerank_options *o, float *logits)
{
    const sbert_model *m = ctx->model;
    const size_t L = (size_t)m->classifier.n_labels;
    sb_sort_by_length(ctx, n, max_len);
    const int rc = sb_reserve_batches(ctx, n);
    if (rc != SBERT_OK)
        return rc;
    for (size_t first = 0; first < n;) {
        const size_t count = sb_batch_count(ctx, first, n);
        sb_run_batch(ctx, first, count, ctx->types);
        for (size_t b = 0; b < count; b++) {
            const size_t i = sb_order_index(ctx, first + b);
            const float *h = sb_encoder_hidden(&ctx->enc, ctx->batch_start[b]); /* [H] */
            sb_classify(m, h, logits + i * L, ctx->pool_scratch);
        }
        first += count;
        if (o->progress)
            o->progress(first, n, o->progress_user_data);
    }
    return SBERT_OK;
}

/* scores[n x L] = the model's activation of the logits (which they may be). */
static void activate(const sbert_model *m, const float *logits, float *scores, size_t n)
{
    const size_t L = (size_t)m->classifier.n_labels;
    if (scores != logits)
        memcpy(scores, logits, n * L * sizeof *scores);
    for (size_t i = 0; i < n; i++)
        sb_activate(scores + i * L, (int)L, m->classifier.activation);
}

int sbert_predict(sbert_context *ctx, const char *const *a, const size_t *a_lengths,
                  const char *const *b, const size_t *b_lengths, size_t n_pairs,
                  const sbert_rerank_options *opts, float *logits, float *scores,
                  size_t capacity)
{
    if (!ctx)
        return SBERT_ERR_INVALID_ARGUMENT;
    sbert_rerank_options o;
    size_t max_len;
    int rc = begin(ctx, "sbert_predict", opts, &o, &max_len);
    if (rc != SBERT_OK || n_pairs == 0)
        return rc;
    const size_t L = (size_t)ctx->model->classifier.n_labels;
    if (!a || !b)
        return sb_ctx_fail(ctx, SBERT_ERR_INVALID_ARGUMENT, "sbert_predict: %s is NULL",
                           !a ? "a" : "b");
    if (!logits && !scores)
        return sb_ctx_fail(ctx, SBERT_ERR_INVALID_ARGUMENT,
                           "sbert_predict: logits and scores are both NULL: nothing to write");
    if (n_pairs > UINT32_MAX || n_pairs > SIZE_MAX / sizeof(float) / L)
        return sb_ctx_fail(ctx, SBERT_ERR_TOO_LARGE, "%zu pairs in one call is too many", n_pairs);
    if (capacity < n_pairs * L)
        return sb_ctx_fail(ctx, SBERT_ERR_BUFFER_TOO_SMALL, "the outputs hold %zu floats, %zu "
                           "pairs of %zu labels need %zu", capacity, n_pairs, L, n_pairs * L);
    if ((rc = tokenize_pairs(ctx, NULL, a, a_lengths, b, b_lengths, n_pairs, max_len)))
        return rc;
    float *out = logits ? logits : scores;
    if ((rc = classify_all(ctx, n_pairs, max_len, &o, out)))
        return rc;
    if (scores)
        activate(ctx->model, out, scores, n_pairs);
    return SBERT_OK;
}

/* ---- ranking ------------------------------------------------------------------------------- */

/* An unsigned integer that orders as the float does (-0 and +0 equal, as in Python). */
static uint32_t float_order(float f)
{
    uint32_t u;
    f = f == 0.0f ? 0.0f : f;
    memcpy(&u, &f, sizeof u);
    return u & 0x80000000u ? ~u : u | 0x80000000u;
}

/* ranked[0..k) = the indices of the k best scores, highest first, the lower index first among
 * equal scores (CrossEncoder.rank's stable sort). Sorts keys (~score order, index) in ctx->order,
 * so no comparator needs the scores. */
static void rank(sbert_context *ctx, const float *scores, size_t n, size_t *ranked, size_t k)
{
    for (size_t i = 0; i < n; i++)
        ctx->order[i] = (uint64_t)(uint32_t)~float_order(scores[i]) << 32 | (uint64_t)i;
    sb_sort_keys(ctx->order, n);
    for (size_t r = 0; r < k && r < n; r++)
        ranked[r] = (size_t)(ctx->order[r] & 0xffffffffu);
}

int sbert_rerank(sbert_context *ctx, const char *query, const char *const *docs,
                 const size_t *doc_lengths, size_t n_docs, const sbert_rerank_options *opts,
                 float *scores, size_t scores_capacity, size_t *ranked, size_t top_k)
{
    if (!ctx)
        return SBERT_ERR_INVALID_ARGUMENT;
    sbert_rerank_options o;
    size_t max_len;
    int rc = begin(ctx, "sbert_rerank", opts, &o, &max_len);
    if (rc != SBERT_OK)
        return rc;
    const sb_classifier *c = &ctx->model->classifier;
    if (c->n_labels != 1)
        return sb_ctx_fail(ctx, SBERT_ERR_INVALID_ARGUMENT, "sbert_rerank ranks by one score, and "
                           "this model has %d labels (%s, ...): use sbert_predict", c->n_labels,
                           c->labels[0]);
    if (!query)
        return sb_ctx_fail(ctx, SBERT_ERR_INVALID_ARGUMENT, "sbert_rerank: query is NULL");
    if (n_docs == 0)
        return SBERT_OK;
    if (!docs || !scores)
        return sb_ctx_fail(ctx, SBERT_ERR_INVALID_ARGUMENT, "sbert_rerank: %s is NULL",
                           !docs ? "docs" : "scores");
    if (n_docs > UINT32_MAX)
        return sb_ctx_fail(ctx, SBERT_ERR_TOO_LARGE, "%zu documents in one call is too many",
                           n_docs);
    if (scores_capacity < n_docs)
        return sb_ctx_fail(ctx, SBERT_ERR_BUFFER_TOO_SMALL, "scores holds %zu floats, %zu "
                           "documents need %zu", scores_capacity, n_docs, n_docs);
    if ((rc = tokenize_pairs(ctx, query, NULL, NULL, docs, doc_lengths, n_docs, max_len)))
        return rc;
    if ((rc = classify_all(ctx, n_docs, max_len, &o, scores)))
        return rc;
    activate(ctx->model, scores, scores, n_docs);
    if (ranked && top_k)
        rank(ctx, scores, n_docs, ranked, top_k);
    return SBERT_OK;
}

/* ---- tokenizing one pair ------------------------------------------------------------------- */

int sbert_tokenize_pair(sbert_context *ctx, const char *a, size_t a_len, const char *b,
                        size_t b_len, size_t max_length, int32_t *ids, int32_t *type_ids,
                        size_t capacity, size_t *n_ids)
{
    if (!ctx)
        return SBERT_ERR_INVALID_ARGUMENT;
    sbert_rerank_options o = sbert_rerank_default_options();
    o.max_length = max_length;
    size_t max_len, n_a = 0, n_b = 0;
    int rc = begin(ctx, "sbert_tokenize_pair", &o, &o, &max_len);
    if (rc != SBERT_OK)
        return rc;
    if (!n_ids || (!a && a_len) || (!b && b_len) || (!ids && capacity))
        return sb_ctx_fail(ctx, SBERT_ERR_INVALID_ARGUMENT, "sbert_tokenize_pair: NULL %s",
                           !n_ids ? "n_ids" : !ids && capacity ? "ids with a nonzero capacity"
                                                               : "text with a length");
    if ((rc = tokenize_side(ctx, 0, a, a_len, max_len, "a", &n_a)) ||
        (rc = tokenize_side(ctx, 1, b, b_len, max_len, "b", &n_b)))
        return rc;
    rc = sb_tokenizer_pair(ctx->model->tokenizer, ctx->side_ids[0], n_a, ctx->side_ids[1], n_b,
                           max_len, ids, type_ids, capacity, n_ids);
    if (rc == SBERT_ERR_BUFFER_TOO_SMALL)
        return sb_ctx_fail(ctx, rc, "%zu ids do not fit in a buffer of %zu", *n_ids, capacity);
    return rc;
}
