/* sbert_encode's batching: tokenize every text (with its prompt), sort by length, cut batches of
 * at most batch_size texts and SB_PASS_TOKENS tokens, run each through the encoder and pool each
 * text into its row of the output. With chunking, the inputs batched are the texts' windows
 * (chunk.c), whose vectors are then combined. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "text/text.h"

/* ---- encoding ------------------------------------------------------------------------------ */

sbert_encode_options sbert_encode_default_options(void)
{
    sbert_encode_options o = { 0 };
    return o;
}

/* The prompt an encode call prepends (NULL for none), or an error for an unknown name. */
static int find_prompt(sbert_context *ctx, const sbert_encode_options *o, const char **prompt)
{
    const sbert_model *m = ctx->model;
    *prompt = NULL;
    if (o->prompt) {
        *prompt = o->prompt;
        return SBERT_OK;
    }
    if (!o->prompt_name) {
        if (m->default_prompt >= 0)
            *prompt = m->prompt_texts[m->default_prompt];
        return SBERT_OK;
    }
    for (size_t i = 0; i < m->n_prompts; i++)
        if (strcmp(m->prompt_names[i], o->prompt_name) == 0) {
            *prompt = m->prompt_texts[i];
            return SBERT_OK;
        }
    return sb_ctx_fail(ctx, SBERT_ERR_NOT_FOUND,
                       "the model defines no prompt named \"%s\" (it has %zu)", o->prompt_name,
                       m->n_prompts);
}

/* find_prompt, and the prompt must be well-formed UTF-8 whatever the policy: pooling counts its
 * tokens apart from the text's (include_prompt false), which agrees with the tokens of prompt +
 * text only when no character straddles the two. */
static int resolve_prompt(sbert_context *ctx, const sbert_encode_options *o, const char **prompt)
{
    int rc = find_prompt(ctx, o, prompt);
    if (rc != SBERT_OK || !*prompt)
        return rc;
    const size_t len = strlen(*prompt);
    const size_t bad = sb_utf8_find_invalid((const uint8_t *)*prompt, len);
    if (bad < len)
        return sb_ctx_fail(ctx, SBERT_ERR_INVALID_UTF8,
                           "the prompt is not valid UTF-8 (byte offset %zu)", bad);
    return SBERT_OK;
}

static int resolve_max_length(sbert_context *ctx, const sbert_encode_options *o, size_t *max_len)
{
    const size_t limit = sb_max_positions_usable(ctx->model);
    *max_len = o->max_length ? o->max_length : ctx->model->max_seq_length;
    if (*max_len > limit)
        return sb_ctx_fail(ctx, SBERT_ERR_INVALID_ARGUMENT,
                           "max_length %zu exceeds the %zu positions the model has", *max_len,
                           limit);
    if (*max_len < 2)
        return sb_ctx_fail(ctx, SBERT_ERR_INVALID_ARGUMENT, "max_length %zu is too small",
                           *max_len);
    return SBERT_OK;
}

/* Appends the ids of prompt + text (text i of n_texts) to ctx->ids at ctx->id_start[i], at most
 * max_len of them, or all of them when max_len is 0 (chunking). */
static int tokenize_text(sbert_context *ctx, size_t i, size_t n_texts, const char *prompt,
                         const char *text, size_t len, size_t max_len)
{
    const size_t plen = prompt ? strlen(prompt) : 0;
    if (plen) { /* sentence-transformers prepends the prompt to the text before tokenizing */
        if (len > SIZE_MAX - plen - 1)
            return sb_ctx_fail(ctx, SBERT_ERR_TOO_LARGE, "text %zu is too large", i);
        int rc = GROW(ctx, ctx->text_buf, ctx->text_buf_cap, plen + len);
        if (rc != SBERT_OK)
            return rc;
        memcpy(ctx->text_buf, prompt, plen);
        if (len)
            memcpy(ctx->text_buf + plen, text, len);
        text = ctx->text_buf;
        len += plen;
    }
    const size_t start = ctx->id_start[i];
    /* untruncated, the room is a guess first (about a token per byte), then the count needed */
    size_t room = max_len ? max_len : len + 16, n = 0;
    int rc;
    for (;;) {
        rc = GROW(ctx, ctx->ids, ctx->ids_cap, start + room);
        if (rc != SBERT_OK)
            return rc;
        rc = sb_ctx_tokenize(ctx, text ? text : "", len, max_len ? 0 : SBERT_TOKENIZE_NO_TRUNCATE,
                             max_len, ctx->ids + start, room, &n);
        if (rc != SBERT_ERR_BUFFER_TOO_SMALL || n <= room)
            break;
        room = n;
        ctx->errmsg[0] = '\0';
    }
    if (rc != SBERT_OK) {
        /* the tokenizer's message is in errmsg, which sb_ctx_fail() overwrites: copy it first */
               char detail[sizeof ctx->errmsg];
        memcpy(detail, ctx->errmsg, sizeof detail);
        if (n_texts > 1) /* one text of several: say which */
            return sb_ctx_fail(ctx, rc, "text %zu: %s", i, detail);
        return sb_ctx_fail(ctx, rc, "%s", detail);
    }
    ctx->id_start[i + 1] = start + n;
    return SBERT_OK;
}

/* Tokens of the prompt that pooling leaves out when include_prompt is false, counted as
 * sentence-transformers does: the prompt's ids with special tokens, truncated to max_len as any
 * text is, minus one (a prompt longer than max_len leaves the last token to pool). */
static int prompt_skip(sbert_context *ctx, const char *prompt, size_t max_len, int *skip)
{
    *skip = 0;
    if (!prompt || !*prompt || ctx->model->pooling.include_prompt)
        return SBERT_OK;
    size_t n = 0;
    int rc = sb_ctx_tokenize(ctx, prompt, strlen(prompt), SBERT_TOKENIZE_NO_TRUNCATE, max_len, NULL,
                           0, &n);
    if (rc != SBERT_OK && rc != SBERT_ERR_BUFFER_TOO_SMALL)
        return rc;
    ctx->errmsg[0] = '\0'; /* the count was asked for with no room: not a failure of the call */
    if (max_len && n > max_len)
        n = max_len;
    *skip = n > 0 ? (int)n - 1 : 0;
    return SBERT_OK;
}

static int compare_u64(const void *a, const void *b)
{
    const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Orders texts longest first so that a batch holds texts of similar length (balanced attention
 * work per thread). Each key packs (longest - length, index) into one integer, so one plain
 * sort gives length order with input order among equals, and no comparator state is shared
 * between threads. */
void sb_sort_by_length(sbert_context *ctx, size_t n_texts, size_t max_len)
{
    for (size_t i = 0; i < n_texts; i++) {
        const uint64_t len = ctx->id_start[i + 1] - ctx->id_start[i];
        ctx->order[i] = ((uint64_t)(max_len - len) << 32) | (uint64_t)i;
    }
    sb_sort_keys(ctx->order, n_texts);
}

void sb_sort_keys(uint64_t *keys, size_t n)
{
    qsort(keys, n, sizeof *keys, compare_u64);
}

size_t sb_order_index(const sbert_context *ctx, size_t k)
{
    return (size_t)(ctx->order[k] & 0xffffffffu);
}

void sb_run_batch(sbert_context *ctx, size_t first, size_t count, const int32_t *types)
{
    int T = 0;
    for (size_t b = 0; b < count; b++) {
        const size_t i = sb_order_index(ctx, first + b);
        const size_t n = ctx->id_start[i + 1] - ctx->id_start[i];
        memcpy(ctx->batch_ids + T, ctx->ids + ctx->id_start[i], n * sizeof(int32_t));
        if (types)
            memcpy(ctx->batch_types + T, types + ctx->id_start[i], n * sizeof(int32_t));
        ctx->batch_start[b] = T;
        T += (int)n;
    }
    ctx->batch_start[count] = T;
    const sb_encoder_batch batch = { ctx->batch_ids, types ? ctx->batch_types : NULL,
                                     ctx->batch_start, (int)count };
    sb_encoder_forward(ctx->model, &ctx->enc, &batch);
}

/* Runs texts order[first .. first + count) through the encoder as one batch and pools each into
 * its row of out. */
static void encode_batch(sbert_context *ctx, size_t first, size_t count, int skip, int normalize,
                         float *out)
{
    const sbert_model *m = ctx->model;
    sb_run_batch(ctx, first, count, NULL);
    for (size_t b = 0; b < count; b++) {
        const size_t i = sb_order_index(ctx, first + b);
        const int start = ctx->batch_start[b], n = ctx->batch_start[b + 1] - start;
        sb_pool_text(m, sb_encoder_hidden(&ctx->enc, start), sb_encoder_stride(&ctx->enc), n,
                     skip, normalize, out + i * m->dim, ctx->pool_scratch);
    }
}

/* How many texts from order[first ..] fit one forward pass. */
size_t sb_batch_count(const sbert_context *ctx, size_t first, size_t n_texts)
{
    size_t count = 0, tokens = 0;
    while (first + count < n_texts && count < ctx->params.batch_size) {
        const size_t i = sb_order_index(ctx, first + count);
        const size_t n = ctx->id_start[i + 1] - ctx->id_start[i];
        if (count > 0 && tokens + n > SB_PASS_TOKENS)
            break;
        tokens += n;
        count++;
    }
    return count;
}

int sb_reserve_batches(sbert_context *ctx, size_t n)
{
    size_t most = 1, longest = 1; /* 1: room for a pass of empty texts too */
    for (size_t first = 0; first < n;) {
        const size_t count = sb_batch_count(ctx, first, n);
        size_t tokens = 0;
        for (size_t b = 0; b < count; b++) {
            const size_t i = sb_order_index(ctx, first + b);
            const size_t len = ctx->id_start[i + 1] - ctx->id_start[i];
            tokens += len;
            longest = len > longest ? len : longest;
        }
        most = tokens > most ? tokens : most;
        first += count;
    }
    int rc = GROW(ctx, ctx->batch_ids, ctx->batch_ids_cap, most);
    if (rc == SBERT_OK && ctx->model->kind == SB_KIND_CROSS_ENCODER) /* types only with pairs */
        rc = GROW(ctx, ctx->batch_types, ctx->batch_types_cap, most);
    if (rc != SBERT_OK)
        return rc;
    rc = sb_encoder_state_reserve(&ctx->enc, ctx->model, (int)most, (int)longest);
    if (rc != SBERT_OK)
        return sb_ctx_fail(ctx, rc, "no room for a forward pass of %zu tokens (%s)", most,
                           sbert_strerror(rc));
    return SBERT_OK;
}

/* Tokenizes every text of the call into ctx->ids. */
static int tokenize_all(sbert_context *ctx, const char *const *texts, const size_t *lengths,
                        size_t n_texts, const char *prompt, size_t max_len)
{
    int rc = GROW(ctx, ctx->id_start, ctx->id_start_cap, n_texts + 1);
    if (rc == SBERT_OK)
        rc = GROW(ctx, ctx->order, ctx->order_cap, n_texts);
    if (rc != SBERT_OK)
        return rc;
    ctx->id_start[0] = 0;
    for (size_t i = 0; i < n_texts; i++) {
        if (!texts[i] && (!lengths || lengths[i]))
            return sb_ctx_fail(ctx, SBERT_ERR_INVALID_ARGUMENT, "texts[%zu] is NULL", i);
        const size_t len = lengths ? lengths[i] : strlen(texts[i]);
        rc = tokenize_text(ctx, i, n_texts, prompt, texts[i], len, max_len);
        if (rc != SBERT_OK)
            return rc;
    }
    return SBERT_OK;
}

/* The windows of o->chunking for this model and prompt (w->window 0: no chunking). */
static int resolve_chunking(sbert_context *ctx, const sbert_encode_options *o, const char *prompt,
                            size_t max_len, sb_windows *w)
{
    const sbert_chunking *c = &o->chunking;
    memset(w, 0, sizeof *w);
    if (!c->window) {
        if (c->stride)
            return sb_ctx_fail(ctx, SBERT_ERR_INVALID_ARGUMENT,
                               "chunking.stride %zu without chunking.window", c->stride);
        return SBERT_OK;
    }
    if (c->window > max_len)
        return sb_ctx_fail(ctx, SBERT_ERR_INVALID_ARGUMENT,
                           "chunking.window %zu exceeds max_length %zu", c->window, max_len);
    size_t prompt_ids = 0; /* the prompt's own tokens, which every window repeats */
    if (prompt && *prompt) {
        int rc = sb_ctx_tokenize(ctx, prompt, strlen(prompt),
                                 SBERT_TOKENIZE_NO_SPECIAL | SBERT_TOKENIZE_NO_TRUNCATE, 0, NULL,
                                 0, &prompt_ids);
        if (rc != SBERT_OK && rc != SBERT_ERR_BUFFER_TOO_SMALL)
            return rc;
        ctx->errmsg[0] = '\0';
    }
    const sb_tokenizer_config *t = &ctx->model->tok_cfg;
    w->head = t->n_prefix + prompt_ids;
    w->tail = t->n_suffix;
    if (c->window <= w->head + w->tail)
        return sb_ctx_fail(ctx, SBERT_ERR_INVALID_ARGUMENT,
                           "chunking.window %zu leaves no room for the text: the special tokens "
                           "and the prompt take %zu", c->window, w->head + w->tail);
    w->window = c->window;
    w->body = c->window - w->head - w->tail;
    w->stride = c->stride ? c->stride : w->body;
    if (w->stride > w->body)
        return sb_ctx_fail(ctx, SBERT_ERR_INVALID_ARGUMENT,
                           "chunking.stride %zu exceeds the %zu text tokens of a window (tokens "
                           "would be skipped)", c->stride, w->body);
    return SBERT_OK;
}

/* A text's ids or token states are one sequence; chunking would feed the model several. */
static int refuse_chunking(sbert_context *ctx, const sbert_encode_options *o, const char *fn)
{
    if (!o->chunking.window && !o->chunking.stride)
        return SBERT_OK;
    return sb_ctx_fail(ctx, SBERT_ERR_INVALID_ARGUMENT,
                       "%s: chunking applies to sbert_encode only (the model is fed windows)", fn);
}

/* Encodes the n inputs in ctx->ids (texts, or windows) into out[n, dim], in batches of similar
 * lengths. */
static int encode_inputs(sbert_context *ctx, size_t n, size_t max_len, int skip,
                         const sbert_encode_options *o, float *out)
{
    sb_sort_by_length(ctx, n, max_len);
    int rc = sb_reserve_batches(ctx, n);
    if (rc != SBERT_OK)
        return rc;
    for (size_t first = 0; first < n;) {
        const size_t count = sb_batch_count(ctx, first, n);
        encode_batch(ctx, first, count, skip, o->normalize, out);
        first += count;
        if (o->progress)
            o->progress(first, n, o->progress_user_data);
    }
    return SBERT_OK;
}

/* Checks the arguments shared by the encode calls and resolves the options. */
static int begin_encode(sbert_context *ctx, const sbert_encode_options *opts,
                        sbert_encode_options *o, const char **prompt, size_t *max_len)
{
    ctx->errmsg[0] = '\0';
    *o = opts ? *opts : sbert_encode_default_options();
    int rc = resolve_prompt(ctx, o, prompt);
    if (rc == SBERT_OK)
        rc = resolve_max_length(ctx, o, max_len);
    return rc;
}

int sbert_encode(sbert_context *ctx, const char *const *texts, const size_t *lengths,
                 size_t n_texts, const sbert_encode_options *opts, float *out,
                 size_t out_capacity)
{
    if (!ctx)
        return SBERT_ERR_INVALID_ARGUMENT;
    sbert_encode_options o;
    const char *prompt;
    size_t max_len;
    if (ctx->model->kind == SB_KIND_CROSS_ENCODER)
        return sb_ctx_fail(ctx, SBERT_ERR_MODEL_KIND, "sbert_encode needs an embedding model, and "
                           "this one is a cross-encoder (reranker): use sbert_rerank or "
                           "sbert_predict");
    sb_windows w; /* chunking's options are checked with the others, texts or none */
    int rc = begin_encode(ctx, opts, &o, &prompt, &max_len);
    if (rc == SBERT_OK)
        rc = resolve_chunking(ctx, &o, prompt, max_len, &w);
    if (rc != SBERT_OK || n_texts == 0)
        return rc;
    const size_t dim = ctx->model->dim;
    if (!texts || !out)
        return sb_ctx_fail(ctx, SBERT_ERR_INVALID_ARGUMENT, "sbert_encode: %s is NULL",
                           !texts ? "texts" : "out");
    if (n_texts > UINT32_MAX || n_texts > SIZE_MAX / dim)
        return sb_ctx_fail(ctx, SBERT_ERR_TOO_LARGE, "%zu texts in one call is too many", n_texts);
    if (out_capacity < n_texts * dim)
        return sb_ctx_fail(ctx, SBERT_ERR_BUFFER_TOO_SMALL,
                           "out holds %zu floats, %zu texts need %zu", out_capacity, n_texts,
                           n_texts * dim);

    int skip = 0;
    rc = tokenize_all(ctx, texts, lengths, n_texts, prompt, w.window ? 0 : max_len); /* chunks:
                                                                           every id, untruncated */
    if (rc == SBERT_OK)
        rc = prompt_skip(ctx, prompt, max_len, &skip);
    if (rc != SBERT_OK)
        return rc;
    if (!w.window)
        return encode_inputs(ctx, n_texts, max_len, skip, &o, out);
    size_t n_windows = 0;
    rc = sb_chunk_windows(ctx, n_texts, &w, &n_windows);
    if (rc == SBERT_OK)
        rc = encode_inputs(ctx, n_windows, w.window, skip, &o, ctx->win_out);
    if (rc == SBERT_OK)
        sb_chunk_combine(ctx, n_texts, &w, ctx->model->normalize || o.normalize, out);
    return rc;
}

/* The start the one-text calls share: the options resolved, the arguments checked (args_ok: the
 * call's own pointers), the text's ids in ctx->ids[0 .. ctx->id_start[1]). */
static int tokenize_one(sbert_context *ctx, const char *text, size_t len,
                        const sbert_encode_options *opts, int args_ok, const char *fn)
{
    sbert_encode_options o;
    const char *prompt;
    size_t max_len;
    if (ctx->model->kind == SB_KIND_CROSS_ENCODER) /* it feeds pairs: sbert_tokenize_pair */
        return sb_ctx_fail(ctx, SBERT_ERR_MODEL_KIND, "%s needs an embedding model, and this one "
                           "is a cross-encoder (reranker): use sbert_tokenize_pair", fn);
    int rc = begin_encode(ctx, opts, &o, &prompt, &max_len);
    if (rc != SBERT_OK)
        return rc;
    if (!args_ok || (!text && len))
        return sb_ctx_fail(ctx, SBERT_ERR_INVALID_ARGUMENT, "%s: NULL argument", fn);
    if ((rc = refuse_chunking(ctx, &o, fn)) != SBERT_OK)
        return rc;
    return tokenize_all(ctx, &text, &len, 1, prompt, max_len);
}

int sbert_encode_ids(sbert_context *ctx, const char *text, size_t len,
                     const sbert_encode_options *opts, int32_t *ids, size_t capacity, size_t *n_ids)
{
    if (!ctx)
        return SBERT_ERR_INVALID_ARGUMENT;
    int rc = tokenize_one(ctx, text, len, opts, n_ids && (ids || !capacity), "sbert_encode_ids");
    if (rc != SBERT_OK)
        return rc;
    const size_t n = ctx->id_start[1];
    *n_ids = n;
    if (capacity < n)
        return sb_ctx_fail(ctx, SBERT_ERR_BUFFER_TOO_SMALL, "ids holds %zu, the text has %zu",
                           capacity, n);
    if (n)
        memcpy(ids, ctx->ids, n * sizeof *ids);
    return SBERT_OK;
}

int sbert_encode_tokens(sbert_context *ctx, const char *text, size_t len,
                        const sbert_encode_options *opts, float *out, size_t out_capacity,
                        size_t *n_tokens)
{
    if (!ctx)
        return SBERT_ERR_INVALID_ARGUMENT;
    int rc = tokenize_one(ctx, text, len, opts, n_tokens && (out || !out_capacity),
                          "sbert_encode_tokens");
    if (rc != SBERT_OK)
        return rc;
    const size_t n = ctx->id_start[1], H = (size_t)ctx->model->hp.hidden;
    *n_tokens = n;
    if (out_capacity < n * H)
        return sb_ctx_fail(ctx, SBERT_ERR_BUFFER_TOO_SMALL,
                           "out holds %zu floats, %zu tokens need %zu", out_capacity, n, n * H);
    if (n == 0) /* an empty text of a model without special tokens: nothing to run, out may be NULL */
        return SBERT_OK;
    ctx->order[0] = 0; /* the one input, in a pass of its own */
    if ((rc = sb_reserve_batches(ctx, 1)) != SBERT_OK)
        return rc;
    ctx->batch_start[0] = 0;
    ctx->batch_start[1] = (int)n;
    const sb_encoder_batch batch = { ctx->ids, NULL, ctx->batch_start, 1 };
    sb_encoder_forward(ctx->model, &ctx->enc, &batch);
    for (size_t t = 0; t < n; t++)
        memcpy(out + t * H, sb_encoder_hidden(&ctx->enc, (int)t), H * sizeof(float));
    return SBERT_OK;
}


int sbert_encode_from_ids(sbert_context *ctx, const int32_t *ids, size_t n_ids,
                          const sbert_encode_options *opts, float *out, size_t out_capacity)
{
    if (!ctx)
        return SBERT_ERR_INVALID_ARGUMENT;
    const sbert_model *m = ctx->model;
    sbert_encode_options o;
    const char *prompt;
    size_t max_len;
    int skip = 0;
    /* the prompt the ids start with, as sbert_encode_ids put it there: pooling may leave it out */
    int rc = begin_encode(ctx, opts, &o, &prompt, &max_len);
    if (rc == SBERT_OK)
        rc = prompt_skip(ctx, prompt, max_len, &skip);
    if (rc != SBERT_OK)
        return rc;
    const size_t limit = sb_max_positions_usable(m);
    if (m->kind == SB_KIND_CROSS_ENCODER)
        return sb_ctx_fail(ctx, SBERT_ERR_MODEL_KIND, "sbert_encode_from_ids needs an embedding "
                           "model, and this one is a cross-encoder (reranker)");
    if (!ids || !out)
        return sb_ctx_fail(ctx, SBERT_ERR_INVALID_ARGUMENT, "sbert_encode_from_ids: %s is NULL",
                           !ids ? "ids" : "out");
    if (n_ids == 0 || n_ids > limit)
        return sb_ctx_fail(ctx, SBERT_ERR_INVALID_ARGUMENT,
                           "sbert_encode_from_ids: %zu ids (the model takes 1 to %zu)", n_ids,
                           limit);
    if (out_capacity < m->dim)
        return sb_ctx_fail(ctx, SBERT_ERR_BUFFER_TOO_SMALL, "out holds %zu floats, %zu needed",
                           out_capacity, m->dim);
    for (size_t t = 0; t < n_ids; t++)
        if (ids[t] < 0 || ids[t] >= m->hp.vocab_size)
            return sb_ctx_fail(ctx, SBERT_ERR_INVALID_ARGUMENT,
                               "sbert_encode_from_ids: ids[%zu] = %d is not in [0, %d)", t,
                               (int)ids[t], m->hp.vocab_size);
    rc = GROW(ctx, ctx->ids, ctx->ids_cap, n_ids);
    if (rc == SBERT_OK)
        rc = GROW(ctx, ctx->id_start, ctx->id_start_cap, 2);
    if (rc == SBERT_OK)
        rc = GROW(ctx, ctx->order, ctx->order_cap, 1);
    if (rc != SBERT_OK)
        return rc;
    memcpy(ctx->ids, ids, n_ids * sizeof *ids);
    ctx->id_start[0] = 0;
    ctx->id_start[1] = n_ids;
    return encode_inputs(ctx, 1, limit, skip, &o, out);
}
