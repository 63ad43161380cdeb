/* The transformer forward pass of BERT / RoBERTa / XLM-RoBERTa / MPNet (post-LayerNorm encoder).
 *
 * Read it from the bottom: sb_encoder_forward() is the whole model and encoder_layer() one layer,
 * one commented line a step with its shapes; the helpers above them split the work over the
 * threads, and the arithmetic lives in kernels/ (GEMM, LayerNorm, softmax, activations).
 *
 * Shapes: T tokens in the batch (all texts concatenated, no padding), H hidden, I intermediate,
 * n_heads heads of size D = H / n_heads; a group (see sb_batch_plan) has `rows` of the T tokens.
 *
 * Where model variants plug in: a bias on the attention scores before the softmax goes into
 * attention_head() (MPNet's relative positions: `rel`, one row per head made by
 * relative_bias_table() whenever a context grows to longer texts), added tile by tile; a head
 * after the encoder (a classifier) reads the hidden states through sb_encoder_hidden(). */
#include "encoder.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "kernels/kernels.h"

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

/* Attention takes the keys of a text in tiles of this many, and its queries in blocks of this
 * many: a block's scores against a tile ([96, 512], 200 KB) stay in L2 with the tile's keys and
 * values (128 KB each at D = 64) from q k^T through the softmax to the product with v, and the
 * scratch grows linearly with the text, not as its square. A text of up to 512 tokens is one
 * tile, the whole softmax at once. Measured against other sizes and against whole score rows in
 * docs/bench/long-texts.md. */
#define SB_ATTN_KEYS 512
#define SB_ATTN_QUERIES 96

static size_t attention_scratch_floats(int n, int D);
static void relative_bias_table(const sbert_model *m, int L, float *rel);

/* Row stride of an activation matrix with n floats per row: one cache line more than the row.
 * The GEMM micro-kernel reads 12 rows of A at once, and an L1 way is 4 KB (64 sets of 64 bytes):
 * rows of 3072 floats (12 KB) would all fall into one set, rows of 768 floats (3 KB) into four,
 * and evict each other while the weights stream through; with the extra line, consecutive rows
 * fall into different sets (measured: docs/bench/README.md). */
static size_t padded_row(int n) { return ((size_t)n + 15) / 16 * 16 + 16; }


/* Bytes of each buffer for passes of up to `tokens` tokens with texts of up to text_tokens. */
typedef struct {
    size_t x, attn, ffn, attn_scratch, gemm_scratch, xq, rel_bias;
} state_sizes;

/* Whether x is ever quantized into st->xq: for an I8 Wqkv or W1 of any layer (the loader lets
 * each tensor have its own dtype). */
static bool quantizes_x(const sbert_model *m)
{
    bool any = false;
    for (int l = 0; l < m->hp.n_layers; l++)
        any |= m->layers[l].qkv.format == SB_WEIGHTS_I8 ||
               m->layers[l].ffn_up.format == SB_WEIGHTS_I8;
    return any;
}

static state_sizes sizes_for(const sbert_model *m, int tokens, int text_tokens, int n_threads)
{
    const int H = m->hp.hidden, I = m->hp.intermediate, wide = I > H ? I : H;
    const int group_rows = text_tokens > SB_GROUP_ROWS ? text_tokens : SB_GROUP_ROWS;
    const size_t f = sizeof(float);
    state_sizes s;
    s.x = (size_t)tokens * padded_row(H) * f;
    s.attn = (size_t)group_rows * padded_row(H) * f;
    s.ffn = (size_t)SB_GROUP_ROWS * padded_row(wide) * f;
    s.attn_scratch =
        (size_t)n_threads * attention_scratch_floats(text_tokens, H / m->hp.n_heads) * f;
    s.gemm_scratch = sb_gemm_scratch_floats(n_threads, group_rows, wide) * f;
    s.xq = quantizes_x(m) ? sb_q8_rows_bytes(tokens, H) : 0;
    s.rel_bias = m->rel_bias ? (size_t)m->hp.n_heads * (2 * (size_t)text_tokens - 1) * f : 0;
    return s;
}

size_t sb_encoder_state_bytes(const sbert_model *model, int tokens, int text_tokens,
                              int n_threads)
{
    const state_sizes s = sizes_for(model, tokens, text_tokens, n_threads);
    return s.x + s.attn + s.ffn + s.attn_scratch + s.gemm_scratch + s.xq + s.rel_bias;
}

int sb_encoder_state_init(sb_encoder_state *st, const sbert_model *model, int max_texts,
                          int n_threads)
{
    memset(st, 0, sizeof *st);
    if (max_texts <= 0 || max_texts > (1 << 24))
        return SBERT_ERR_TOO_LARGE;
    st->max_texts = max_texts;
    if (n_threads > 1 && !(st->threads = sb_threadpool_create(n_threads)))
        return SBERT_ERR_NO_MEMORY;
    st->n_threads = n_threads;
    const size_t H = (size_t)model->hp.hidden, I = (size_t)model->hp.intermediate;
    st->ld_x = padded_row((int)H);
    st->ld_attn = padded_row((int)H);
    st->ld_ffn = padded_row((int)(I > H ? I : H));
    sb_batch_plan *plan = &st->plan;
    plan->groups = malloc((size_t)max_texts * sizeof *plan->groups);
    plan->runs = malloc((size_t)max_texts * sizeof *plan->runs);
    plan->group_runs = malloc(((size_t)max_texts + 1) * sizeof *plan->group_runs);
    if (!plan->groups || !plan->runs || !plan->group_runs) {
        sb_encoder_state_free(st);
        return SBERT_ERR_NO_MEMORY;
    }
    return SBERT_OK;
}

/* *buffer holds `have` bytes and must hold `need`: a new one (the contents are not kept), 64-byte
 * aligned (whole cache lines, aligned AVX-512 loads; huge pages for the big ones). */
static bool grow(void **buffer, size_t have, size_t need)
{
    if (need <= have && (*buffer || need == 0))
        return true;
    void *p = sb_alloc_aligned(need);
    if (!p)
        return false;
    free(*buffer);
    *buffer = p;
    return true;
}

int sb_encoder_state_reserve(sb_encoder_state *st, const sbert_model *model, int tokens,
                             int text_tokens)
{
    if (tokens <= st->max_tokens && text_tokens <= st->max_text_tokens)
        return SBERT_OK;
    if (tokens <= 0 || text_tokens <= 0 || tokens > (1 << 24) || text_tokens > tokens)
        return SBERT_ERR_TOO_LARGE;
    const int new_tokens = tokens > st->max_tokens ? tokens : st->max_tokens;
    const int new_text = text_tokens > st->max_text_tokens ? text_tokens : st->max_text_tokens;
    const state_sizes have = sizes_for(model, st->max_tokens, st->max_text_tokens, st->n_threads);
    const state_sizes need = sizes_for(model, new_tokens, new_text, st->n_threads);
    /* a buffer grown before a later one fails is merely larger than recorded */
    if (!grow((void **)&st->x, have.x, need.x) || !grow((void **)&st->attn, have.attn, need.attn) ||
        !grow((void **)&st->ffn, have.ffn, need.ffn) ||
        !grow((void **)&st->attn_scratch, have.attn_scratch, need.attn_scratch) ||
        !grow((void **)&st->gemm_scratch, have.gemm_scratch, need.gemm_scratch) ||
        !grow(&st->xq, have.xq, need.xq) ||
        !grow((void **)&st->rel_bias, have.rel_bias, need.rel_bias))
        return SBERT_ERR_NO_MEMORY;
    if (model->rel_bias && new_text != st->max_text_tokens) /* its rows are centred on L - 1 */
        relative_bias_table(model, new_text, st->rel_bias);
    st->max_tokens = new_tokens;
    st->max_text_tokens = new_text;
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
    free(st->rel_bias);
    free(st->plan.groups);
    free(st->plan.runs);
    free(st->plan.group_runs);
    sb_threadpool_free(st->threads);
    memset(st, 0, sizeof *st);
}

/* The rows of x from token row0 on, quantized, in st->xq (laid out for max_tokens rows). x is
 * quantized where a row is written anyway, by the LayerNorm before each I8 Linear layer that
 * reads x: the embeddings' for Wqkv of layer 0, layer l's last for Wqkv of layer l + 1, layer
 * l's first for its W1. */
static sb_q8_rows quantized_x(const sbert_model *m, const sb_encoder_state *st, int row0)
{
    if (!st->xq)
        return (sb_q8_rows){ 0 };
    const sb_q8_rows all = sb_q8_rows_in(st->xq, st->max_tokens, m->hp.hidden);
    return sb_q8_rows_from(&all, row0);
}

/* ---- embeddings ---------------------------------------------------------------------------- */

/* x[t] = LayerNorm(word[id_t] + position[p_t] + token_type[type_t]), without the token type for
 * MPNet, which has none. BERT: p_t is the token's index inside its own text. RoBERTa and MPNet:
 * transformers' create_position_ids_from_input_ids, pad_token_id + the count of tokens so far that
 * are not the padding id (so the first is pad_token_id + 1, the model file's position_offset), and
 * pad_token_id itself for a padding id inside the text (a literal "<pad>"). type_t is 0 unless the
 * batch gives types (a cross-encoder's pairs). */
typedef struct {
    const sbert_model *m;
    sb_encoder_state *st;
    const sb_encoder_batch *batch;
    const sb_q8_rows *xq; /* or NULL */
} embed_job;

static void embed_text(void *arg, int text, int thread)
{
    (void)thread;
    const embed_job *job = arg;
    const sbert_model *m = job->m;
    const int *text_start = job->batch->text_start;
    const int H = m->hp.hidden, first = text_start[text], pad = m->hp.pad_token_id;
    const int32_t *ids = job->batch->ids, *types = job->batch->types;
    const size_t row_bytes = (size_t)H * sb_weight_bytes(m->word_emb_format);
    int counted = 0; /* RoBERTa: the tokens of this text so far that are not the padding id */
    for (int t = first; t < text_start[text + 1]; t++) {
        counted += ids[t] != pad;
        const int position = m->arch == SB_ARCH_BERT ? t - first
                             : ids[t] == pad        ? pad
                                                    : pad + counted;
        const float *pos = m->pos_emb + (size_t)position * H;        /* [H] */
        float *x = job->st->x + (size_t)t * job->st->ld_x;
        sb_widen_to_f32((const char *)m->word_emb + (size_t)ids[t] * row_bytes,
                        m->word_emb_format, x, (size_t)H);           /* x = word[id], [H] */
        if (m->type_emb) {
            const float *type = m->type_emb + (size_t)(types ? types[t] : 0) * H; /* [H] */
            for (int j = 0; j < H; j++)
                x[j] = x[j] + pos[j] + type[j]; /* (word + pos) + type: PyTorch's order */
        } else {
            for (int j = 0; j < H; j++)
                x[j] = x[j] + pos[j];
        }
        sb_layernorm(x, m->emb_ln_w, m->emb_ln_b, H, m->hp.layer_norm_eps);
        if (job->xq)
            sb_quantize_row(x, H, job->xq, t);
    }
}

/* xq = x quantized (sb_quantize_row) when the first layer's Wqkv is I8 */
static void embed(const sbert_model *m, sb_encoder_state *st, const sb_encoder_batch *batch)
{
    const sb_q8_rows xq = quantized_x(m, st, 0);
    const bool quantize = m->hp.n_layers > 0 && m->layers[0].qkv.format == SB_WEIGHTS_I8;
    embed_job job = { m, st, batch, quantize ? &xq : NULL };
    sb_threadpool_run(st->threads, batch->n_texts, st->n_threads, embed_text, &job);
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

/* The keys of one tile and the queries of one block for a text of n tokens (see SB_ATTN_KEYS). */
static int tile_keys(int n) { return n < SB_ATTN_KEYS ? n : SB_ATTN_KEYS; }
static int block_queries(int n) { return n < SB_ATTN_QUERIES ? n : SB_ATTN_QUERIES; }

/* Per-thread attention scratch for texts of up to n tokens and heads of size D, in floats: q, k
 * and v, the packed keys and values (linear in n), one block's scores against one tile and the
 * block's running maxima, sums and corrections. */
static size_t attention_scratch_floats(int n, int D)
{
    return 3 * (size_t)attention_rows(n) * head_stride(D) + (size_t)round_up_panel(n) * D +
           (size_t)round_up_panel(D) * n +
           (size_t)block_queries(n) * (padded_row(tile_keys(n)) + 3) +
           sb_gemm_scratch_floats(1, 0, 0);
}

/* ---- MPNet's relative-position bias --------------------------------------------------------- */

/* The bucket of the key at offset n = i - j from query i: transformers'
 * MPNetEncoder.relative_position_bucket (docs/FORMAT.md). Keys after the query take the upper half
 * of the buckets; distances below a quarter of the buckets get one each, longer ones share
 * log-spaced buckets up to max_distance, and beyond it the last one. The float32 steps and the
 * truncation are PyTorch's, so the same distances land in the same buckets. */
static int relative_position_bucket(int n, int buckets, int max_distance)
{
    const int half = buckets / 2, exact = half / 2;
    const int base = n < 0 ? half : 0, m = n < 0 ? -n : n;
    if (m < exact)
        return base + m;
    const float log_ratio = logf((float)m / (float)exact) /
                            (float)log((double)max_distance / (double)exact);
    const int large = exact + (int)(log_ratio * (float)(half - exact));
    return base + (large < half - 1 ? large : half - 1);
}

/* rel[h][L - 1 + (j - i)] = the bias of head h for query i and key j, for texts of up to L tokens:
 * the bias depends on j - i only, so one row of 2L - 1 values per head serves every layer, every
 * text and every query (table: [B, n_heads], encoder.relative_attention_bias.weight). */
static void relative_bias_table(const sbert_model *m, int L, float *rel)
{
    const int n_heads = m->hp.n_heads;
    const size_t width = 2 * (size_t)L - 1;
    for (int d = -(L - 1); d <= L - 1; d++) {
        const int bucket = relative_position_bucket(-d, m->hp.rel_buckets, m->hp.rel_max_distance);
        for (int h = 0; h < n_heads; h++)
            rel[(size_t)h * width + (size_t)(L - 1 + d)] = m->rel_bias[bucket * n_heads + h];
    }
}

/* The head's bias row, centred: rel[j - i] is the bias for query i and key j; NULL without one. */
static const float *head_bias(const sb_encoder_state *st, int head)
{
    const size_t L = (size_t)st->max_text_tokens;
    return st->rel_bias ? st->rel_bias + (size_t)head * (2 * L - 1) + (L - 1) : NULL;
}

/* row[0..n) = row * scale + bias[0..n): one query's scaled scores plus its keys' position biases,
 * in PyTorch's order (scores / sqrt(D) + position_bias) */
static void scale_add_bias(float *row, int n, float scale, const float *bias)
{
    for (int j = 0; j < n; j++)
        row[j] = row[j] * scale + bias[j];
}

/* ---- attention per head -------------------------------------------------------------------- */

/* out[rows, D] *= factor[i], row by row */
static void scale_rows(float *out, size_t ld, int rows, int D, const float *factor)
{
    for (int i = 0; i < rows; i++)
        if (factor[i] != 1.0f)
            for (int d = 0; d < D; d++)
                out[(size_t)i * ld + d] *= factor[i];
}

/* One head of one text: out = softmax(q k^T / sqrt(D) + bias) v over the text's own n tokens.
 * Texts never see each other's tokens, which is what the padding mask achieves in a padded batch,
 * so no mask is needed. q, k, v are [n, D] with rows `stride` apart; out's rows are out_stride
 * apart. rel: NULL, or MPNet's relative-position bias of this head, rel[j - i] for query i and key
 * j (head_bias), added to the scaled scores before the softmax.
 *
 * FlashAttention's online softmax, for memory linear in n: for a block of queries, the tiles of
 * keys come one after the other; each tile's scores go through exp against the rows' running
 * maxima, the rows' running sums take them in, and out accumulates exp(scores) v, rescaled
 * whenever a row's maximum grows. out is divided by the sums at the end: the exact softmax up to
 * fp32 rounding (one tile: the same exponentials as a whole-row softmax). */
static void attention_head(const float *q, const float *k, const float *v, float *out, int n,
                           int D, size_t stride, size_t out_stride, const float *rel,
                           float *scratch)
{
    const int kt = tile_keys(n), qb = block_queries(n);
    const size_t ld_scores = padded_row(kt), values_per_tile = (size_t)round_up_panel(D) * kt;
    float *keys = scratch;                                    /* PANEL16 [n, D] */
    float *values = keys + (size_t)round_up_panel(n) * D;     /* per tile PANEL16 [D, kt] */
    float *scores = values + (size_t)round_up_panel(D) * n;   /* [qb, kt] */
    float *row_max = scores + (size_t)qb * ld_scores;         /* [qb] */
    float *row_sum = row_max + qb, *row_scale = row_sum + qb; /* [qb], [qb] */
    float *gemm_scratch = row_scale + qb;
    const float scale = 1.0f / sqrtf((float)D);

    pack_rows(k, stride, n, D, keys);
    for (int j0 = 0; j0 < n; j0 += kt)
        pack_columns(v + (size_t)j0 * stride, stride, n - j0 < kt ? n - j0 : kt, D,
                     values + (size_t)(j0 / kt) * values_per_tile);
    for (int q0 = 0; q0 < n; q0 += qb) {
        const int nq = n - q0 < qb ? n - q0 : qb;
        float *o = out + (size_t)q0 * out_stride;
        for (int i = 0; i < nq; i++) {
            row_max[i] = -INFINITY;
            row_sum[i] = 0.0f;
        }
        for (int j0 = 0; j0 < n; j0 += kt) {
            const int nk = n - j0 < kt ? n - j0 : kt;
            /* scores[nq, nk] = q k^T over the tile's keys */
            const sb_linear key_tile = { .weight = keys + (size_t)j0 * D, .n_out = nk, .n_in = D };
            sb_gemm(q + (size_t)q0 * stride, stride, nq, &key_tile, scores, ld_scores,
                    SB_ACT_IDENTITY, NULL, 0, gemm_scratch, NULL);
            float exp_scale = scale;
            if (rel) { /* scores / sqrt(D) + rel[j - i], then the softmax of that as it is */
                for (int i = 0; i < nq; i++)
                    scale_add_bias(scores + (size_t)i * ld_scores, nk, scale, rel + j0 - (q0 + i));
                exp_scale = 1.0f;
            }
            /* scores = exp(scores / sqrt(D) - running max); the sums and maxima move on */
            for (int i = 0; i < nq; i++)
                row_scale[i] = sb_softmax_online(scores + (size_t)i * ld_scores, nk, exp_scale,
                                                 &row_max[i], &row_sum[i]);
            /* o[nq, D] = o * rescale + scores v over the tile's values */
            const sb_linear value_tile = { .weight = values + (size_t)(j0 / kt) * values_per_tile,
                                           .n_out = D, .n_in = nk };
            if (j0 > 0)
                scale_rows(o, out_stride, nq, D, row_scale);
            sb_gemm(scores, ld_scores, nq, &value_tile, o, out_stride, SB_ACT_IDENTITY,
                    j0 > 0 ? o : NULL, out_stride, gemm_scratch, NULL);
        }
        /* o /= the rows' sums */
        for (int i = 0; i < nq; i++)
            row_scale[i] = 1.0f / row_sum[i];
        scale_rows(o, out_stride, nq, D, row_scale);
    }
}

/* ---- the batch plan ------------------------------------------------------------------------ */

/* The end of the run of whole texts that starts at text `first`: texts while they fit max_rows
 * rows, and at least one. */
static int texts_end(const int *text_start, int n_texts, int first, int max_rows)
{
    int end = first + 1;
    while (end < n_texts && text_start[end + 1] - text_start[first] <= max_rows)
        end++;
    return end;
}

/* Cuts the batch into groups of SB_GROUP_ROWS rows and each group into attention runs of
 * SB_ATTN_ROWS rows: once per forward pass, since every layer uses the same cut. */
static void plan_batch(sb_batch_plan *plan, const sb_encoder_batch *batch)
{
    const int *text_start = batch->text_start, n_texts = batch->n_texts;
    int n_runs = 0;
    plan->n_groups = 0;
    for (int first = 0, end; first < n_texts; first = end) {
        end = texts_end(text_start, n_texts, first, SB_GROUP_ROWS);
        plan->group_runs[plan->n_groups] = n_runs;
        plan->groups[plan->n_groups++] = (sb_text_run){ first, end };
        /* a run never crosses its group's end: texts_end counts from the group's first text */
        for (int t = first, e; t < end; t = e) {
            e = first + texts_end(text_start + first, end - first, t - first, SB_ATTN_ROWS);
            plan->runs[n_runs++] = (sb_text_run){ t, e };
        }
    }
    plan->group_runs[plan->n_groups] = n_runs;
}

/* ---- attention ----------------------------------------------------------------------------- */

typedef struct {
    const sbert_model *m;
    const sb_layer *layer;
    sb_encoder_state *st;
    const int *text_start;   /* the batch's text boundaries */
    sb_text_run group;       /* the group's texts */
    const sb_text_run *runs; /* the group's attention runs */
    const sb_q8_rows *xq;    /* I8 weights: the group's rows of x quantized, else NULL */
} attention_job;

/* proj[rows, D] = the head's columns [c0, c0 + D) of x Wqkv^T + bqkv for `rows` rows of the group
 * starting at its row `first`; the head's first column lands at proj + returned offset. */
static int project_head(const attention_job *job, int first, int rows, int c0, float *proj,
                        size_t ld, float *scratch)
{
    const sb_encoder_state *st = job->st;
    int offset;
    const sb_linear slice = column_slice(&job->layer->qkv, c0, job->m->hp.hidden /
                                         job->m->hp.n_heads, &offset);
    if (job->xq) {
        const sb_q8_rows run = sb_q8_rows_from(job->xq, first);
        sb_gemm_q8(&run, rows, &slice, proj, ld, SB_ACT_IDENTITY, NULL, 0, NULL);
    } else {
        const float *x = st->x + (size_t)(job->text_start[job->group.first] + first) * st->ld_x;
        sb_gemm(x, st->ld_x, rows, &slice, proj, ld, SB_ACT_IDENTITY, NULL, 0, scratch, NULL);
    }
    return offset;
}

/* One (run of texts, head): the head's q, k and v for the run's rows (x times a slice of Wqkv),
 * then attention for each text, into the head's columns of attn. The projections are made here
 * rather than by one GEMM over the whole batch so that they are still in this core's cache when
 * attention reads them; runs of several short texts keep each weight slice serving enough rows. */
static void attention_item(void *arg, int item, int thread)
{
    const attention_job *job = arg;
    const sb_encoder_state *st = job->st;
    const int H = job->m->hp.hidden, n_heads = job->m->hp.n_heads, D = H / n_heads;
    const sb_text_run run = job->runs[item / n_heads];
    const int head = item % n_heads;
    const int *text_start = job->text_start, group_row0 = text_start[job->group.first];
    const size_t ld = head_stride(D);
    float *scratch = st->attn_scratch +
                     (size_t)thread * attention_scratch_floats(st->max_text_tokens, D);
    const size_t proj_floats = (size_t)attention_rows(st->max_text_tokens) * ld;
    float *rest = scratch + 3 * proj_floats;
    /* q, k, v [rows, D]: the head's columns of query (p = 0), key (1), value (2) */
    const float *qkv[3];
    const int first = text_start[run.first] - group_row0;
    const int rows = text_start[run.end] - text_start[run.first];
    for (int p = 0; p < 3; p++) {
        float *proj = scratch + (size_t)p * proj_floats;
        qkv[p] = proj + project_head(job, first, rows, p * H + head * D, proj, ld, rest);
    }
    for (int t = run.first; t < run.end; t++) {
        const size_t row = (size_t)(text_start[t] - text_start[run.first]) * ld;
        float *out = st->attn + (size_t)(text_start[t] - group_row0) * st->ld_attn +
                     (size_t)head * D;
        attention_head(qkv[0] + row, qkv[1] + row, qkv[2] + row, out,
                       text_start[t + 1] - text_start[t], D, ld, st->ld_attn,
                       head_bias(st, head), rest);
    }
}

/* attn[rows, H] = multi-head self-attention of each of a group's texts, from its token states in
 * x. Work items are (run of texts, head) pairs, spread over the threads. */
static void self_attention(const sbert_model *m, const sb_layer *layer, sb_encoder_state *st,
                           const int *text_start, int group)
{
    const sb_batch_plan *plan = &st->plan;
    const sb_text_run g = plan->groups[group];
    const int first_run = plan->group_runs[group], n_runs = plan->group_runs[group + 1] - first_run;
    /* I8 Wqkv: x was quantized by the LayerNorm before, once for every head's projections */
    const sb_q8_rows xq = quantized_x(m, st, text_start[g.first]);
    attention_job job = { m, layer, st, text_start, g, plan->runs + first_run,
                          layer->qkv.format == SB_WEIGHTS_I8 ? &xq : NULL };
    sb_threadpool_run(st->threads, n_runs * m->hp.n_heads, st->n_threads, attention_item, &job);
}

/* ---- row-wise steps and Linear layers, over the threads ------------------------------------ */

typedef struct {
    float *x;
    size_t ld;
    int rows, H;
    const float *w, *b;
    float eps;
    const sb_q8_rows *xq; /* or NULL */
} layernorm_job;

static void layernorm_task(void *arg, int task, int thread)
{
    (void)thread;
    const layernorm_job *job = arg;
    const int first = task * SB_ROWS_PER_TASK;
    const int last = first + SB_ROWS_PER_TASK < job->rows ? first + SB_ROWS_PER_TASK : job->rows;
    for (int t = first; t < last; t++) {
        float *row = job->x + (size_t)t * job->ld;
        sb_layernorm(row, job->w, job->b, job->H, job->eps);
        if (job->xq)
            sb_quantize_row(row, job->H, job->xq, t);
    }
}

/* x[rows, H] = LayerNorm(x) * w + b, row by row; and when xq is not NULL, xq = x quantized for
 * the I8 Linear layer next, while each row is still in this core's L1 (quantized_x). */
static void layernorm_rows(const sbert_model *m, sb_encoder_state *st, float *x, int rows,
                           const float *w, const float *b, const sb_q8_rows *xq)
{
    layernorm_job job = { x, st->ld_x, rows, m->hp.hidden, w, b, m->hp.layer_norm_eps, xq };
    sb_threadpool_run(st->threads, (rows + SB_ROWS_PER_TASK - 1) / SB_ROWS_PER_TASK,
                      st->n_threads, layernorm_task, &job);
}

/* x[rows, H] += A[rows, n_in] W^T + b: a Linear layer onto the residual stream */
static void linear_residual(sb_encoder_state *st, const float *A, size_t lda, int rows,
                            const sb_linear *W, float *x)
{
    sb_gemm(A, lda, rows, W, x, st->ld_x, SB_ACT_IDENTITY, x, st->ld_x, st->gemm_scratch,
            st->threads);
}

/* x[rows, H] += act(x W1^T + b1) W2^T + b2, SB_GROUP_ROWS rows at a time so that the
 * intermediate activation ffn[n, I] stays small and hot. xq: x quantized when W1 is I8. */
static void feed_forward(const sbert_model *m, const sb_layer *layer, sb_encoder_state *st,
                         float *x, int rows, const sb_q8_rows *xq)
{
    for (int row = 0; row < rows; row += SB_GROUP_ROWS) {
        const int n = rows - row < SB_GROUP_ROWS ? rows - row : SB_GROUP_ROWS;
        float *xc = x + (size_t)row * st->ld_x;
        /* ffn[n, I] = act(xc W1^T + b1) */
        if (xq) {
            const sb_q8_rows xqc = sb_q8_rows_from(xq, row);
            sb_gemm_q8(&xqc, n, &layer->ffn_up, st->ffn, st->ld_ffn, m->hp.act, NULL, 0,
                       st->threads);
        } else {
            sb_gemm(xc, st->ld_x, n, &layer->ffn_up, st->ffn, st->ld_ffn, m->hp.act, NULL, 0,
                    st->gemm_scratch, st->threads);
        }
        /* xc[n, H] += ffn W2^T + b2 */
        linear_residual(st, st->ffn, st->ld_ffn, n, &layer->ffn_down, xc);
    }
}

/* ---- the model ----------------------------------------------------------------------------- */

/* One post-LayerNorm transformer layer on group g of whole texts, whose token states are
 * x[rows, H]. Texts never see each other, so a group goes through the whole layer while its rows
 * are in cache. Weights (PyTorch's [out, in]): Wqkv [3H, H], Wo [H, H], W1 [I, H], W2 [H, I]. */
static void encoder_layer(const sbert_model *m, int l, sb_encoder_state *st,
                          const int *text_start, int g)
{
    const sb_layer *layer = &m->layers[l];
    const sb_text_run group = st->plan.groups[g];
    float *x = st->x + (size_t)text_start[group.first] * st->ld_x;
    const int rows = text_start[group.end] - text_start[group.first];
    const sb_q8_rows xq = quantized_x(m, st, text_start[group.first]); /* x quantized, I8 only */
    const bool int8_next = l + 1 < m->hp.n_layers && m->layers[l + 1].qkv.format == SB_WEIGHTS_I8;

    /* attn[rows, H] = per text and head: softmax(q k^T / sqrt(D) [+ MPNet's position bias]) v,
     * q | k | v = x Wqkv^T + bqkv */
    self_attention(m, layer, st, text_start, g);
    /* x[rows, H] = x + attn Wo^T + bo */
    linear_residual(st, st->attn, st->ld_attn, rows, &layer->attn_out, x);
    /* x = LayerNorm(x) */
    const sb_q8_rows *xq_ffn = layer->ffn_up.format == SB_WEIGHTS_I8 ? &xq : NULL;
    layernorm_rows(m, st, x, rows, layer->attn_ln_w, layer->attn_ln_b, xq_ffn);
    /* x[rows, H] = x + act(x W1^T + b1) W2^T + b2 */
    feed_forward(m, layer, st, x, rows, xq_ffn);
    /* x = LayerNorm(x) */
    layernorm_rows(m, st, x, rows, layer->ffn_ln_w, layer->ffn_ln_b, int8_next ? &xq : NULL);
}

void sb_encoder_forward(const sbert_model *m, sb_encoder_state *st, const sb_encoder_batch *batch)
{
    /* groups of texts and their attention runs, the same for every layer */
    plan_batch(&st->plan, batch);
    /* x[T, H] = embeddings of every token */
    embed(m, st, batch);
    /* x = layer_l(x) for l = 0 .. L-1, a group at a time */
    for (int l = 0; l < m->hp.n_layers; l++)
        for (int g = 0; g < st->plan.n_groups; g++)
            encoder_layer(m, l, st, batch->text_start, g);
}
