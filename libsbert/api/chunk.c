/* Chunked pooling (sbert_encode_options.chunking, include/sbert.h): texts longer than a window cut
 * into overlapping or adjacent windows, each encoded as a text of its own, and the windows'
 * vectors combined into the text's by a mean weighted by the text tokens each window holds. */
#include <string.h>

#include "api.h"

/* Windows of a text of n ids: one when it fits, else enough that the last reaches the end. */
static size_t windows_of(const sb_windows *w, size_t n)
{
    if (n <= w->window)
        return 1;
    const size_t body = n - w->head - w->tail; /* > w->body, since n > window */
    return 1 + (body - w->body + w->stride - 1) / w->stride;
}

/* Writes window k of the text ids[0 .. n) at dst; returns its length. */
static size_t put_window(int32_t *dst, const int32_t *ids, size_t n, const sb_windows *w, size_t k)
{
    if (n <= w->window) {
        memcpy(dst, ids, n * sizeof *ids);
        return n;
    }
    const size_t body = n - w->head - w->tail, first = k * w->stride;
    const size_t count = body - first < w->body ? body - first : w->body;
    memcpy(dst, ids, w->head * sizeof *ids);
    memcpy(dst + w->head, ids + w->head + first, count * sizeof *ids);
    memcpy(dst + w->head + count, ids + n - w->tail, w->tail * sizeof *ids);
    return w->head + count + w->tail;
}

#define SWAP(type, a, b) do { type t_ = (a); (a) = (b); (b) = t_; } while (0)

int sb_chunk_windows(sbert_context *ctx, size_t n_texts, const sb_windows *w, size_t *n_windows)
{
    /* the texts move aside to text_ids / text_start; ids / id_start receive the windows */
    SWAP(int32_t *, ctx->ids, ctx->text_ids);
    SWAP(size_t, ctx->ids_cap, ctx->text_ids_cap);
    SWAP(size_t *, ctx->id_start, ctx->text_start);
    SWAP(size_t, ctx->id_start_cap, ctx->text_start_cap);
    int rc = GROW(ctx, ctx->text_window, ctx->text_window_cap, n_texts + 1);
    if (rc != SBERT_OK)
        return rc;
    size_t count = 0, n_ids = 0;
    for (size_t i = 0; i < n_texts; i++) {
        const size_t n = ctx->text_start[i + 1] - ctx->text_start[i], k = windows_of(w, n);
        ctx->text_window[i] = count;
        count += k;
        n_ids += n <= w->window ? n : k * w->window;
    }
    ctx->text_window[n_texts] = count;
    const size_t dim = ctx->model->dim;
    if (count > UINT32_MAX || count > SIZE_MAX / dim)
        return sb_ctx_fail(ctx, SBERT_ERR_TOO_LARGE, "%zu windows in one call is too many", count);
    rc = GROW(ctx, ctx->id_start, ctx->id_start_cap, count + 1);
    if (rc == SBERT_OK)
        rc = GROW(ctx, ctx->ids, ctx->ids_cap, n_ids > 0 ? n_ids : 1);
    if (rc == SBERT_OK)
        rc = GROW(ctx, ctx->order, ctx->order_cap, count);
    if (rc == SBERT_OK)
        rc = GROW(ctx, ctx->win_out, ctx->win_out_cap, count * dim);
    if (rc == SBERT_OK)
        rc = GROW(ctx, ctx->mean, ctx->mean_cap, dim);
    if (rc != SBERT_OK)
        return rc;
    size_t at = 0;
    for (size_t i = 0; i < n_texts; i++) {
        const int32_t *ids = ctx->text_ids + ctx->text_start[i];
        const size_t n = ctx->text_start[i + 1] - ctx->text_start[i];
        for (size_t j = ctx->text_window[i]; j < ctx->text_window[i + 1]; j++) {
            ctx->id_start[j] = at;
            at += put_window(ctx->ids + at, ids, n, w, j - ctx->text_window[i]);
        }
    }
    ctx->id_start[count] = at;
    *n_windows = count;
    return SBERT_OK;
}

void sb_chunk_combine(sbert_context *ctx, size_t n_texts, const sb_windows *w, int normalize,
                      float *out)
{
    const size_t dim = ctx->model->dim;
    for (size_t i = 0; i < n_texts; i++) {
        const size_t first = ctx->text_window[i], end = ctx->text_window[i + 1];
        float *o = out + i * dim;
        if (end - first == 1) { /* a text of one window: exactly its vector */
            memcpy(o, ctx->win_out + first * dim, dim * sizeof *o);
            continue;
        }
        double *sum = ctx->mean, total = 0.0;
        memset(sum, 0, dim * sizeof *sum);
        for (size_t j = first; j < end; j++) {
            const size_t length = ctx->id_start[j + 1] - ctx->id_start[j];
            const double weight = (double)(length - w->head - w->tail); /* its text tokens */
            const float *v = ctx->win_out + j * dim;
            for (size_t d = 0; d < dim; d++)
                sum[d] += weight * v[d];
            total += weight;
        }
        for (size_t d = 0; d < dim; d++)
            o[d] = (float)(sum[d] / total);
        if (normalize)
            sb_l2_normalize(o, dim);
    }
}
