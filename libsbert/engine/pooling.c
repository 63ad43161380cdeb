/* sentence-transformers' Pooling, Dense and Normalize modules, for one text at a time.
 *
 * Pooling sees only the text's real tokens (the encoder never pads), so the attention mask of the
 * Python implementation reduces to the token range [skip, n). */
#include "pooling.h"

#include <math.h>
#include <string.h>

#include "kernels/kernels.h"

static size_t widest_layer(const sbert_model *m)
{
    size_t widest = m->dim > (size_t)m->hp.hidden ? m->dim : (size_t)m->hp.hidden;
    size_t pooled = 6 * (size_t)m->hp.hidden; /* every pooling mode at once */
    if (pooled > widest)
        widest = pooled;
    for (int i = 0; i < m->n_dense; i++)
        if ((size_t)m->dense[i].linear.n_out > widest)
            widest = (size_t)m->dense[i].linear.n_out;
    return widest;
}

size_t sb_pool_scratch_floats(const sbert_model *m)
{
    return 2 * widest_layer(m) + sb_gemm_scratch_floats(1, 1, (int)widest_layer(m));
}

void sb_l2_normalize(float *v, size_t n)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += (double)v[i] * v[i];
    const float inv = 1.0f / fmaxf((float)sqrt(sum), 1e-12f);
    for (size_t i = 0; i < n; i++)
        v[i] *= inv;
}

/* out[H] = sum over tokens [first, n) of weight(t) * tokens[t]; returns the sum of the weights.
 * weight(t) is 1, or t + 1 for weighted mean (sentence-transformers weights by position). */
static float weighted_sum(const float *tokens, size_t ld, int n, int first, int H,
                          int by_position, float *out)
{
    memset(out, 0, (size_t)H * sizeof(float));
    float total = 0.0f;
    for (int t = first; t < n; t++) {
        const float w = by_position ? (float)(t + 1) : 1.0f;
        sb_axpy(out, w, tokens + (size_t)t * ld, H);
        total += w;
    }
    return total;
}

static void scale(float *v, int n, float divisor)
{
    for (int i = 0; i < n; i++)
        v[i] /= divisor;
}

/* out[H] = token t of the text's n. A text can have no tokens at all (a model without special
 * tokens, an empty text): then zeros, not whatever row follows in the batch. */
static void copy_token(float *out, const float *tokens, size_t ld, int n, int t, int H)
{
    if (n > 0)
        memcpy(out, tokens + (size_t)t * ld, (size_t)H * sizeof(float));
    else
        memset(out, 0, (size_t)H * sizeof(float));
}

/* Writes the pooled vector (the enabled modes concatenated in sentence-transformers' order)
 * and returns its length. */
static int pool(const sbert_model *m, const float *tokens, size_t ld, int n, int skip,
                float *out)
{
    const int H = m->hp.hidden;
    const int first = skip < n ? skip : n;
    const sb_pooling *p = &m->pooling;
    float *o = out;
    if (p->cls) { /* the first token, whatever the prompt */
        copy_token(o, tokens, ld, n, 0, H);
        o += H;
    }
    if (p->max) {
        for (int j = 0; j < H; j++)
            o[j] = -1e9f; /* what sentence-transformers puts in masked positions */
        for (int t = first; t < n; t++)
            for (int j = 0; j < H; j++)
                o[j] = fmaxf(o[j], tokens[(size_t)t * ld + j]);
        o += H;
    }
    if (p->mean) {
        scale(o, H, fmaxf(weighted_sum(tokens, ld, n, first, H, 0, o), 1e-9f));
        o += H;
    }
    if (p->mean_sqrt_len) {
        scale(o, H, sqrtf(fmaxf(weighted_sum(tokens, ld, n, first, H, 0, o), 1e-9f)));
        o += H;
    }
    if (p->weightedmean) {
        scale(o, H, fmaxf(weighted_sum(tokens, ld, n, first, H, 1, o), 1e-9f));
        o += H;
    }
    if (p->lasttoken) {
        copy_token(o, tokens, ld, n, n - 1, H);
        o += H;
    }
    return (int)(o - out);
}

void sb_pool_text(const sbert_model *m, const float *tokens, size_t ld, int n, int skip,
                  int normalize, float *out, float *scratch)
{
    const size_t widest = widest_layer(m);
    float *cur = scratch, *next = scratch + widest, *gemm_scratch = scratch + 2 * widest;
    int len = pool(m, tokens, ld, n, skip, cur);

    /* Dense modules: cur = act(W cur + b), a GEMM with one row */
    for (int i = 0; i < m->n_dense; i++) {
        const sb_dense *d = &m->dense[i];
        sb_gemm(cur, (size_t)len, 1, &d->linear, next, (size_t)d->linear.n_out, d->act, NULL, 0,
                gemm_scratch, NULL);
        float *tmp = cur;
        cur = next;
        next = tmp;
        len = d->linear.n_out;
    }
    memcpy(out, cur, (size_t)len * sizeof(float));
    if (m->normalize || normalize)
        sb_l2_normalize(out, (size_t)len);
}
