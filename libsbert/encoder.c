/* The transformer forward pass of BERT / RoBERTa / XLM-RoBERTa (post-LayerNorm encoder).
 *
 * Read it top to bottom: sb_encoder_forward() is the whole model, one commented line a step;
 * the arithmetic lives in kernels/ (GEMM, LayerNorm, softmax, activations).
 *
 * Shapes: T tokens in the batch (all texts concatenated, no padding), H hidden, I intermediate,
 * n_heads heads of size D = H / n_heads. */
#include "encoder.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "memory.h"
#include "threadpool.h"

/* Row-wise steps (embeddings, LayerNorm) go parallel in tasks of this many rows: a task is then
 * some microseconds of work, well above the cost of handing it to another thread. */
#define SB_ROWS_PER_TASK 32

/* The feed-forward block runs over chunks of this many rows so that its [rows, I] activation
 * stays small (I = 3072 would otherwise need T x I floats) and hot in cache. */
#define SB_FFN_ROWS 512

static size_t attention_scratch_floats(int n, int D);

/* Row stride of an activation matrix with n floats per row: one cache line more than the row.
 * The GEMM micro-kernel reads 12 rows of A at once, and an L1 way is 4 KB (64 sets of 64 bytes):
 * rows of 3072 floats (12 KB) would all fall into one set, rows of 768 floats (3 KB) into four,
 * and evict each other while the weights stream through; with the extra line, consecutive rows
 * fall into different sets. Measured with 2 threads, alternating with the unpadded layout in one
 * process: W2 2.7% and W4 2-3.6% faster, the same vectors bit for bit. */
static size_t padded_row(int n) { return ((size_t)n + 15) / 16 * 16 + 16; }

/* 64-byte alignment: whole cache lines and aligned AVX-512 loads; huge pages for the big ones */
static void *alloc_floats(size_t n) { return sb_alloc_aligned((uint64_t)n * sizeof(float)); }

int sb_encoder_state_init(sb_encoder_state *st, const sbert_model *model, int max_tokens,
                          int max_text_tokens, int n_threads)
{
    memset(st, 0, sizeof *st);
    const size_t H = (size_t)model->hp.hidden, I = (size_t)model->hp.intermediate;
    if (max_tokens <= 0 || max_text_tokens <= 0 || max_tokens > (1 << 24))
        return SBERT_ERR_TOO_LARGE;
    st->max_tokens = max_tokens;
    st->max_text_tokens = max_text_tokens;
    if (n_threads > 1 && !(st->threads = sb_threadpool_create(n_threads)))
        return SBERT_ERR_NO_MEMORY;
    st->n_threads = n_threads;
    st->ld_x = padded_row((int)H);
    st->ld_qkv = padded_row(3 * (int)H);
    st->ld_attn = padded_row((int)H);
    st->ld_ffn = padded_row((int)(I > H ? I : H));
    st->x = alloc_floats((size_t)max_tokens * st->ld_x);
    st->qkv = alloc_floats((size_t)max_tokens * st->ld_qkv);
    st->attn = alloc_floats((size_t)max_tokens * st->ld_attn);
    st->ffn = alloc_floats((size_t)SB_FFN_ROWS * st->ld_ffn);
    const int head_size = model->hp.hidden / model->hp.n_heads;
    st->attn_scratch = alloc_floats((size_t)n_threads * attention_scratch_floats(max_text_tokens, head_size));
    st->gemm_scratch = alloc_floats(sb_gemm_scratch_floats(n_threads));
    if (!st->x || !st->qkv || !st->attn || !st->ffn || !st->attn_scratch || !st->gemm_scratch) {
        sb_encoder_state_free(st);
        return SBERT_ERR_NO_MEMORY;
    }
    return SBERT_OK;
}

void sb_encoder_state_free(sb_encoder_state *st)
{
    if (!st)
        return;
    free(st->x);
    free(st->qkv);
    free(st->attn);
    free(st->ffn);
    free(st->attn_scratch);
    free(st->gemm_scratch);
    sb_threadpool_free(st->threads);
    memset(st, 0, sizeof *st);
}

/* ---- embeddings ---------------------------------------------------------------------------- */

/* x[t] = LayerNorm(word[id_t] + position[offset + p_t] + token_type[0]), where p_t is the
 * token's index inside its own text. RoBERTa's position ids start at pad_token_id + 1 (the
 * model file's position_offset), BERT's at 0. Token type 0 everywhere: one text per input. */
typedef struct {
    const sbert_model *m;
    sb_encoder_state *st;
    const int32_t *ids;
    const int *text_start;
} embed_job;

static void embed_text(void *arg, int text, int thread)
{
    (void)thread;
    const embed_job *job = arg;
    const sbert_model *m = job->m;
    const int H = m->hp.hidden, first = job->text_start[text];
    for (int t = first; t < job->text_start[text + 1]; t++) {
        const int position = m->hp.position_offset + (t - first);
        const float *word = m->word_emb + (size_t)job->ids[t] * H;   /* [H] */
        const float *pos = m->pos_emb + (size_t)position * H;        /* [H] */
        const float *type = m->type_emb;                             /* [H], type 0 */
        float *x = job->st->x + (size_t)t * job->st->ld_x;
        for (int j = 0; j < H; j++)
            x[j] = word[j] + pos[j] + type[j];
        sb_layernorm(x, m->emb_ln_w, m->emb_ln_b, H, m->hp.layer_norm_eps);
    }
}

static void embed(const sbert_model *m, sb_encoder_state *st, const int32_t *ids,
                  const int *text_start, int n_texts)
{
    embed_job job = { m, st, ids, text_start };
    sb_threadpool_run(st->threads, n_texts, st->n_threads, embed_text, &job);
}

/* ---- attention ----------------------------------------------------------------------------- */

/* Attention runs as two small GEMMs per (text, head), through the same kernel as the Linear
 * layers: keys and values are first laid out in the PANEL16 order the kernel reads weights in
 * (docs/FORMAT.md), which costs O(n D) against the GEMMs' O(n^2 D). */

/* dst = rows[0..n) of a [n, D] matrix (row stride `stride`) as a PANEL16 [n, D] weight. Each
 * source row is read in order (the rows of qkv are 3H floats apart) and scattered 16 floats apart;
 * a panel's missing rows are zero. */
static void pack_rows(const float *src, size_t stride, int n, int D, float *dst)
{
    const int panels = (n + SB_PANEL - 1) / SB_PANEL;
    for (int p = 0; p < panels; p++)
        for (int r = 0; r < SB_PANEL; r++) {
            const int row = p * SB_PANEL + r;
            float *d = dst + (size_t)p * D * SB_PANEL + r;
            if (row < n)
                for (int k = 0; k < D; k++)
                    d[(size_t)k * SB_PANEL] = src[(size_t)row * stride + k];
            else
                for (int k = 0; k < D; k++)
                    d[(size_t)k * SB_PANEL] = 0.0f;
        }
}

/* dst = the transpose of a [n, D] matrix as a PANEL16 [D, n] weight: panel p holds, for each
 * row j, the 16 values src[j][16p .. 16p + 15], so it is a copy of 16-float runs. */
static void pack_columns(const float *src, size_t stride, int n, int D, float *dst)
{
    const int panels = (D + SB_PANEL - 1) / SB_PANEL;
    for (int p = 0; p < panels; p++)
        for (int j = 0; j < n; j++) {
            float *d = dst + ((size_t)p * n + j) * SB_PANEL;
            const int cols = D - p * SB_PANEL < SB_PANEL ? D - p * SB_PANEL : SB_PANEL;
            memcpy(d, src + (size_t)j * stride + (size_t)p * SB_PANEL, (size_t)cols * sizeof(float));
            memset(d + cols, 0, (size_t)(SB_PANEL - cols) * sizeof(float));
        }
}

static int round_up_panel(int n) { return (n + SB_PANEL - 1) / SB_PANEL * SB_PANEL; }

/* Floats of per-thread attention scratch for texts of up to n tokens and heads of size D. */
static size_t attention_scratch_floats(int n, int D)
{
    return (size_t)n * n + (size_t)round_up_panel(n) * D + (size_t)round_up_panel(D) * n +
           sb_gemm_scratch_floats(1);
}

/* One head of one text: out = softmax(q k^T / sqrt(D)) v over the text's own n tokens. Texts
 * never see each other's tokens, which is what the padding mask achieves in a padded batch, so
 * no mask is needed. q, k, v, out point at the head's first column; rows are `stride` apart. */
static void attention_head(const float *q, const float *k, const float *v, float *out, int n,
                           int D, size_t qkv_stride, size_t out_stride, float *scratch)
{
    float *scores = scratch;                                  /* [n, n] */
    float *keys = scores + (size_t)n * n;                     /* PANEL16 [n, D] */
    float *values = keys + (size_t)round_up_panel(n) * D;     /* PANEL16 [D, n] */
    float *gemm_scratch = values + (size_t)round_up_panel(D) * n;
    const float scale = 1.0f / sqrtf((float)D);

    /* scores[n, n] = q k^T */
    pack_rows(k, qkv_stride, n, D, keys);
    const sb_linear key_weight = { .weight = keys, .bias = NULL, .n_out = n, .n_in = D };
    sb_gemm(q, qkv_stride, n, &key_weight, scores, (size_t)n, SB_ACT_IDENTITY, NULL, 0,
            gemm_scratch, NULL);
    /* each row: softmax(scores / sqrt(D)) */
    for (int i = 0; i < n; i++)
        sb_softmax(scores + (size_t)i * n, n, scale);
    /* out[n, D] = scores v */
    pack_columns(v, qkv_stride, n, D, values);
    const sb_linear value_weight = { .weight = values, .bias = NULL, .n_out = D, .n_in = n };
    sb_gemm(scores, (size_t)n, n, &value_weight, out, out_stride, SB_ACT_IDENTITY, NULL, 0,
            gemm_scratch, NULL);
}

typedef struct {
    const sbert_model *m;
    sb_encoder_state *st;
    const int *text_start;
} attention_job;

static void attention_item(void *arg, int item, int thread)
{
    const attention_job *job = arg;
    const int H = job->m->hp.hidden, n_heads = job->m->hp.n_heads, D = H / n_heads;
    const size_t qkv_stride = job->st->ld_qkv;
    const int text = item / n_heads, head = item % n_heads;
    const int first = job->text_start[text], n = job->text_start[text + 1] - first;
    const float *q = job->st->qkv + (size_t)first * qkv_stride + (size_t)head * D;
    float *scratch = job->st->attn_scratch +
                     (size_t)thread * attention_scratch_floats(job->st->max_text_tokens, D);
    attention_head(q, q + H, q + 2 * H, job->st->attn + (size_t)first * job->st->ld_attn +
                   (size_t)head * D, n, D, qkv_stride, job->st->ld_attn, scratch);
}

/* attn[T, H] = multi-head self-attention of every text, from qkv[T, 3H]. Work items are
 * (text, head) pairs, spread over the threads. */
static void attention(const sbert_model *m, sb_encoder_state *st, const int *text_start,
                      int n_texts)
{
    attention_job job = { m, st, text_start };
    sb_threadpool_run(st->threads, n_texts * m->hp.n_heads, st->n_threads, attention_item, &job);
}

/* ---- the layers ---------------------------------------------------------------------------- */

typedef struct {
    float *x;
    size_t ld;
    int rows, H;
    const float *w, *b;
    float eps;
} layernorm_job;

static void layernorm_task(void *arg, int task, int thread)
{
    (void)thread;
    const layernorm_job *job = arg;
    const int first = task * SB_ROWS_PER_TASK;
    const int last = first + SB_ROWS_PER_TASK < job->rows ? first + SB_ROWS_PER_TASK : job->rows;
    for (int t = first; t < last; t++)
        sb_layernorm(job->x + (size_t)t * job->ld, job->w, job->b, job->H, job->eps);
}

static void layernorm_rows(float *x, size_t ld, int rows, int H, const float *w, const float *b,
                           float eps, sb_encoder_state *st)
{
    layernorm_job job = { x, ld, rows, H, w, b, eps };
    sb_threadpool_run(st->threads, (rows + SB_ROWS_PER_TASK - 1) / SB_ROWS_PER_TASK,
                      st->n_threads, layernorm_task, &job);
}

static void encoder_layer(const sbert_model *m, const sb_layer *layer, sb_encoder_state *st,
                          const int *text_start, int n_texts)
{
    const int T = text_start[n_texts], H = m->hp.hidden;
    const float eps = m->hp.layer_norm_eps;
    sb_threadpool *threads = st->threads;
    float *x = st->x, *scratch = st->gemm_scratch;
    const size_t ld_x = st->ld_x;

    /* qkv[T, 3H] = x Wqkv^T + bqkv: the three projections in one GEMM */
    sb_gemm(x, ld_x, T, &layer->qkv, st->qkv, st->ld_qkv, SB_ACT_IDENTITY, NULL, 0, scratch,
            threads);
    /* attn[T, H] = self-attention per text and head */
    attention(m, st, text_start, n_texts);
    /* x = LayerNorm(x + attn Wo^T + bo) */
    sb_gemm(st->attn, st->ld_attn, T, &layer->attn_out, x, ld_x, SB_ACT_IDENTITY, x, ld_x, scratch,
            threads);
    layernorm_rows(x, ld_x, T, H, layer->attn_ln_w, layer->attn_ln_b, eps, st);

    /* feed-forward, a chunk of rows at a time: x = LayerNorm(x + act(x W1^T + b1) W2^T + b2) */
    for (int row = 0; row < T; row += SB_FFN_ROWS) {
        const int rows = T - row < SB_FFN_ROWS ? T - row : SB_FFN_ROWS;
        float *xc = x + (size_t)row * ld_x;
        sb_gemm(xc, ld_x, rows, &layer->ffn_up, st->ffn, st->ld_ffn, m->hp.act, NULL, 0, scratch,
                threads);
        sb_gemm(st->ffn, st->ld_ffn, rows, &layer->ffn_down, xc, ld_x, SB_ACT_IDENTITY, xc, ld_x,
                scratch, threads);
        layernorm_rows(xc, ld_x, rows, H, layer->ffn_ln_w, layer->ffn_ln_b, eps, st);
    }
}

void sb_encoder_forward(const sbert_model *m, sb_encoder_state *st, const int32_t *ids,
                        const int *text_start, int n_texts)
{
    /* x[T, H] = embeddings of every token */
    embed(m, st, ids, text_start, n_texts);
    /* x = layer_l(x) for l = 0 .. L-1 */
    for (int l = 0; l < m->hp.n_layers; l++)
        encoder_layer(m, &m->layers[l], st, text_start, n_texts);
}
