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
#include "base/base.h"

/* Row-wise steps (embeddings, LayerNorm) go parallel in tasks of this many rows: a task is then
 * some microseconds of work, well above the cost of handing it to another thread. */
#define SB_ROWS_PER_TASK 32

/* A layer runs over groups of whole texts of up to this many rows (a longer text is a group of
 * its own): the group's rows of x (1.5 MB for H = 768) stay in cache from attention through the
 * feed-forward block, and the attention output needs a buffer of one group, not of the batch.
 * The feed-forward block also runs over chunks of at most this many rows so that its [rows, I]
 * activation stays small (I = 3072 would otherwise need T x I floats) and hot. */
#define SB_GROUP_ROWS 512

/* Attention projects q, k and v for runs of whole texts of up to this many rows (a longer text is
 * a run of its own): each weight slice it loads then serves about ten 12-row tiles. */
#define SB_ATTN_ROWS 128

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
    st->ld_attn = padded_row((int)H);
    st->ld_ffn = padded_row((int)(I > H ? I : H));
    const size_t group_rows = max_text_tokens > SB_GROUP_ROWS ? max_text_tokens : SB_GROUP_ROWS;
    st->x = alloc_floats((size_t)max_tokens * st->ld_x);
    st->attn = alloc_floats(group_rows * st->ld_attn);
    st->ffn = alloc_floats((size_t)SB_GROUP_ROWS * st->ld_ffn);
    const int head_size = model->hp.hidden / model->hp.n_heads;
    st->attn_scratch = alloc_floats((size_t)n_threads * attention_scratch_floats(max_text_tokens, head_size));
    st->gemm_scratch = alloc_floats(
        sb_gemm_scratch_floats(n_threads, (int)group_rows, (int)(I > H ? I : H)));
    bool int8_qkv = false; /* any layer's: the loader lets each tensor have its own dtype */
    for (int l = 0; l < model->hp.n_layers; l++)
        int8_qkv |= model->layers[l].qkv.format == SB_WEIGHTS_I8;
    if (int8_qkv)
        st->xq = sb_alloc_aligned(sb_q8_rows_bytes((int)group_rows, (int)H));
    const bool xq_ok = !int8_qkv || st->xq;
    if (!st->x || !st->attn || !st->ffn || !st->attn_scratch || !st->gemm_scratch || !xq_ok) {
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
    free(st->attn);
    free(st->ffn);
    free(st->attn_scratch);
    free(st->gemm_scratch);
    free(st->xq);
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
    const size_t row_bytes = (size_t)H * sb_weight_bytes(m->word_emb_format);
    for (int t = first; t < job->text_start[text + 1]; t++) {
        const int position = m->hp.position_offset + (t - first);
        const float *pos = m->pos_emb + (size_t)position * H;        /* [H] */
        const float *type = m->type_emb;                             /* [H], type 0 */
        float *x = job->st->x + (size_t)t * job->st->ld_x;
        sb_widen_to_f32((const char *)m->word_emb + (size_t)job->ids[t] * row_bytes,
                        m->word_emb_format, x, (size_t)H);           /* x = word[id], [H] */
        for (int j = 0; j < H; j++)
            x[j] = x[j] + pos[j] + type[j]; /* (word + pos) + type, as before */
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

/* Attention runs per (text, head) as two small GEMMs through the same kernel as the Linear layers:
 * keys and values are first laid out in the PANEL16 order the kernel reads weights in
 * (docs/FORMAT.md), which costs O(n D) against the GEMMs' O(n^2 D). The head's q, k and v are
 * projected by the same work item, just before (attention_item). */

/* dst = rows[0..n) of a [n, D] matrix (row stride `stride`) as a PANEL16 [n, D] weight. Each
 * source row is read in order and scattered 16 floats apart;
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

/* Columns [c0, c0 + D) of a Linear's output as a Linear of their own: the PANEL16 panels that hold
 * them, so a head's projection is a GEMM on a slice of the weights, with no copy. When c0 or D is
 * not a multiple of 16 (tiny models), the neighbouring columns of those panels come along and
 * *offset says where column c0 lands. */
static sb_linear column_slice(const sb_linear *w, int c0, int D, int *offset)
{
    const int first = c0 / SB_PANEL * SB_PANEL;
    const int end = round_up_panel(c0 + D) < w->n_out ? round_up_panel(c0 + D) : w->n_out;
    *offset = c0 - first;
    sb_linear slice = *w;
    slice.weight = (const char *)w->weight + (size_t)(first / SB_PANEL) * sb_panel_bytes(w);
    slice.bias = w->bias ? w->bias + first : NULL;
    slice.scale = w->scale ? w->scale + first : NULL;
    slice.col_sum = w->col_sum ? w->col_sum + first : NULL;
    slice.n_out = end - first;
    return slice;
}

/* Row stride of one head's q, k or v in the scratch: its widest column slice, padded. */
static size_t head_stride(int D) { return padded_row(round_up_panel(D) + SB_PANEL); }

/* Rows of q, k, v one attention work item projects at most, for texts of up to n tokens. */
static int attention_rows(int n) { return n > SB_ATTN_ROWS ? n : SB_ATTN_ROWS; }

/* Per-thread attention scratch for texts of up to n tokens and heads of size D, in floats. */
static size_t attention_scratch_floats(int n, int D)
{
    return 3 * (size_t)attention_rows(n) * head_stride(D) + (size_t)n * padded_row(n) +
           (size_t)round_up_panel(n) * D + (size_t)round_up_panel(D) * n +
           sb_gemm_scratch_floats(1, 0, 0);
}

/* One head of one text: out = softmax(q k^T / sqrt(D)) v over the text's own n tokens. Texts
 * never see each other's tokens, which is what the padding mask achieves in a padded batch, so
 * no mask is needed. q, k, v are [n, D] with rows `stride` apart; out's rows are out_stride
 * apart. */
static void attention_head(const float *q, const float *k, const float *v, float *out, int n,
                           int D, size_t stride, size_t out_stride, float *scratch)
{
    const size_t ld_scores = padded_row(n);
    float *scores = scratch;                                  /* [n, n] */
    float *keys = scores + (size_t)n * ld_scores;             /* PANEL16 [n, D] */
    float *values = keys + (size_t)round_up_panel(n) * D;     /* PANEL16 [D, n] */
    float *gemm_scratch = values + (size_t)round_up_panel(D) * n;
    const float scale = 1.0f / sqrtf((float)D);

    /* scores[n, n] = q k^T */
    pack_rows(k, stride, n, D, keys);
    const sb_linear key_weight = { .weight = keys, .bias = NULL, .n_out = n, .n_in = D };
    sb_gemm(q, stride, n, &key_weight, scores, ld_scores, SB_ACT_IDENTITY, NULL, 0, gemm_scratch,
            NULL);
    /* each row: softmax(scores / sqrt(D)) */
    for (int i = 0; i < n; i++)
        sb_softmax(scores + (size_t)i * ld_scores, n, scale);
    /* out[n, D] = scores v */
    pack_columns(v, stride, n, D, values);
    const sb_linear value_weight = { .weight = values, .bias = NULL, .n_out = D, .n_in = n };
    sb_gemm(scores, ld_scores, n, &value_weight, out, out_stride, SB_ACT_IDENTITY, NULL, 0,
            gemm_scratch, NULL);
}

typedef struct {
    const sbert_model *m;
    const sb_layer *layer;
    sb_encoder_state *st;
    const float *x;          /* the group's first token state */
    const int *text_start;   /* the group's text boundaries (absolute rows) */
    int n_texts;
    const sb_q8_rows *xq;    /* I8 weights: the group's rows of x quantized, else NULL */
} attention_job;

/* The end of the run of whole texts that starts at text `first`: texts while they fit max_rows
 * rows, and at least one. */
static int texts_end(const int *text_start, int n_texts, int first, int max_rows)
{
    int end = first + 1;
    while (end < n_texts && text_start[end + 1] - text_start[first] <= max_rows)
        end++;
    return end;
}

/* The texts [*first, *end) of a group's `index`th attention run (runs of SB_ATTN_ROWS). Returns 0
 * past the last run. */
static int attention_run(const int *text_start, int n_texts, int index, int *first, int *end)
{
    for (int r = 0, t = 0; t < n_texts; r++) {
        const int e = texts_end(text_start, n_texts, t, SB_ATTN_ROWS);
        if (r == index) {
            *first = t;
            *end = e;
            return 1;
        }
        t = e;
    }
    return 0;
}

static int attention_runs(const int *text_start, int n_texts)
{
    int runs = 0;
    for (int t = 0; t < n_texts; t = texts_end(text_start, n_texts, t, SB_ATTN_ROWS))
        runs++;
    return runs;
}

/* One (run of texts, head): the head's q, k and v projections for the run's rows (x times a slice
 * of Wqkv), then attention for each text, into the head's columns of attn. The projections are
 * made here rather than by one GEMM over the whole batch so that they are still in this core's
 * cache when attention reads them; runs of several short texts keep each weight slice serving
 * enough rows. */
static void attention_item(void *arg, int item, int thread)
{
    const attention_job *job = arg;
    const sb_encoder_state *st = job->st;
    const int H = job->m->hp.hidden, n_heads = job->m->hp.n_heads, D = H / n_heads;
    const int *text_start = job->text_start;
    int first_text = 0, end_text = 0;
    attention_run(text_start, job->n_texts, item / n_heads, &first_text, &end_text);
    const int head = item % n_heads;
    /* rows of x and attn count from the group's first token */
    const int first = text_start[first_text] - text_start[0];
    const int rows = text_start[end_text] - text_start[first_text];
    const size_t ld = head_stride(D);
    float *scratch = st->attn_scratch +
                     (size_t)thread * attention_scratch_floats(st->max_text_tokens, D);
    const size_t proj_floats = (size_t)attention_rows(st->max_text_tokens) * ld;
    float *proj[3] = { scratch, scratch + proj_floats, scratch + 2 * proj_floats };
    float *rest = scratch + 3 * proj_floats;
    /* proj[p][rows, D] = x W^T + b over the head's columns of query (p = 0), key (1), value (2);
     * the head's first column lands at proj[p] + offset[p] */
    int offset[3];
    for (int p = 0; p < 3; p++) {
        const sb_linear slice = column_slice(&job->layer->qkv, p * H + head * D, D, &offset[p]);
        if (job->xq) {
            const sb_q8_rows run = { job->xq->q + (size_t)first * job->xq->ldq, job->xq->ldq,
                                     job->xq->scale + first, job->xq->zero + first };
            sb_gemm_q8(&run, rows, &slice, proj[p], ld, SB_ACT_IDENTITY, NULL, 0, NULL);
        } else {
            sb_gemm(job->x + (size_t)first * st->ld_x, st->ld_x, rows, &slice, proj[p], ld,
                    SB_ACT_IDENTITY, NULL, 0, rest, NULL);
        }
    }
    for (int t = first_text; t < end_text; t++) {
        const size_t row = (size_t)(text_start[t] - text_start[first_text]);
        const size_t attn_row = (size_t)(text_start[t] - text_start[0]);
        attention_head(proj[0] + row * ld + offset[0], proj[1] + row * ld + offset[1],
                       proj[2] + row * ld + offset[2],
                       st->attn + attn_row * st->ld_attn + (size_t)head * D,
                       text_start[t + 1] - text_start[t], D, ld, st->ld_attn, rest);
    }
}

/* attn[rows, H] = multi-head self-attention of each of a group's texts, whose token states are
 * x[rows, H]. Work items are (run of texts, head) pairs, spread over the threads. */
static void attention(const sbert_model *m, const sb_layer *layer, sb_encoder_state *st,
                      const float *x, const int *text_start, int n_texts)
{
    attention_job job = { m, layer, st, x, text_start, n_texts, NULL };
    sb_q8_rows xq;
    if (layer->qkv.format == SB_WEIGHTS_I8) { /* quantized once for every head's projections */
        const int rows = text_start[n_texts] - text_start[0], H = m->hp.hidden;
        xq = sb_q8_rows_in(st->xq, rows, H);
        sb_quantize_rows(x, st->ld_x, rows, H, &xq, st->threads);
        job.xq = &xq;
    }
    sb_threadpool_run(st->threads, attention_runs(text_start, n_texts) * m->hp.n_heads,
                      st->n_threads, attention_item, &job);
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

/* x[rows, H] = LayerNorm(x + attention(x) Wo^T + bo) for a group of whole texts, whose token
 * states are x[rows, H] and whose boundaries are text_start[0 .. n_texts] (absolute rows). */
static void attention_block(const sbert_model *m, const sb_layer *layer, sb_encoder_state *st,
                            float *x, const int *text_start, int n_texts)
{
    const int rows = text_start[n_texts] - text_start[0];
    /* attn[rows, H] = self-attention per text and head, q, k, v projections included */
    attention(m, layer, st, x, text_start, n_texts);
    /* x = LayerNorm(x + attn Wo^T + bo) */
    sb_gemm(st->attn, st->ld_attn, rows, &layer->attn_out, x, st->ld_x, SB_ACT_IDENTITY, x,
            st->ld_x, st->gemm_scratch, st->threads);
    layernorm_rows(x, st->ld_x, rows, m->hp.hidden, layer->attn_ln_w, layer->attn_ln_b,
                   m->hp.layer_norm_eps, st);
}

/* x[rows, H] = LayerNorm(x + act(x W1^T + b1) W2^T + b2), SB_GROUP_ROWS rows at a time. */
static void feed_forward_block(const sbert_model *m, const sb_layer *layer, sb_encoder_state *st,
                               float *x, int rows)
{
    for (int row = 0; row < rows; row += SB_GROUP_ROWS) {
        const int n = rows - row < SB_GROUP_ROWS ? rows - row : SB_GROUP_ROWS;
        float *xc = x + (size_t)row * st->ld_x;
        /* ffn[n, I] = act(xc W1^T + b1) */
        sb_gemm(xc, st->ld_x, n, &layer->ffn_up, st->ffn, st->ld_ffn, m->hp.act, NULL, 0,
                st->gemm_scratch, st->threads);
        /* xc = LayerNorm(xc + ffn W2^T + b2) */
        sb_gemm(st->ffn, st->ld_ffn, n, &layer->ffn_down, xc, st->ld_x, SB_ACT_IDENTITY, xc,
                st->ld_x, st->gemm_scratch, st->threads);
        layernorm_rows(xc, st->ld_x, n, m->hp.hidden, layer->ffn_ln_w, layer->ffn_ln_b,
                       m->hp.layer_norm_eps, st);
    }
}

/* One transformer layer, a group of texts at a time: texts never see each other, so a group can
 * go through the whole layer while its activations are in cache. */
static void encoder_layer(const sbert_model *m, const sb_layer *layer, sb_encoder_state *st,
                          const int *text_start, int n_texts)
{
    for (int first = 0, end; first < n_texts; first = end) {
        end = texts_end(text_start, n_texts, first, SB_GROUP_ROWS);
        float *x = st->x + (size_t)text_start[first] * st->ld_x;
        attention_block(m, layer, st, x, text_start + first, end - first);
        feed_forward_block(m, layer, st, x, text_start[end] - text_start[first]);
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
