/* The forward pass against a reference written the plainest way: every model of the test set, in
 * double precision, one loop per formula (embeddings, q/k/v, softmax attention, GELU through libm's
 * erf, LayerNorm), reading the converted weights element by element. It shares nothing with
 * libsbert's forward pass but the model file, so it checks the GEMM, the fused per-head attention
 * and the batching on shapes the golden files do not have: heads of 12 floats (not a multiple of
 * the 16-column panels), an intermediate size of 52, texts longer than one attention run
 * (SB_ATTN_ROWS) and batches of texts of mixed lengths.
 *
 *   build/tests/test_reference      (models in build/models, made by `make test`)
 *
 * Bound: the project's 1e-4 per component (fp32 against fp64); the maximum seen is printed. The
 * int8 model is held to INT8_TOLERANCE (below). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "model/model.h"
#include "sbert.h"

#define TOLERANCE 1e-4
/* int8 (odd-heads-int8): the reference computes with the dequantized weights and unquantized
 * activations, so the difference is the activations' 8-bit rounding: measured 0.03 on the states
 * (unit-variance LayerNorm outputs) and 0.005 on the pooled vectors. A wrong layout, scale or zero
 * point gives differences of order 1. */
#define INT8_TOLERANCE 0.1
#define MAX_TEXTS 12

/* Element i of an array stored in `format`. */
static double element_at(const void *p, sb_weight_format format, size_t i)
{
    switch (format) {
    case SB_WEIGHTS_BF16: return test_half_value(((const uint16_t *)p)[i], 8);
    case SB_WEIGHTS_F16: return test_half_value(((const uint16_t *)p)[i], 5);
    default: return ((const float *)p)[i];
    }
}

/* W[o][i] of a Linear stored in PANEL16 order: [ceil(n_out/16)][n_in][16]; I8 in PANEL16_Q4
 * order, [ceil(n_out/16)][k4 / 4][16][4] times the row's scale (docs/FORMAT.md). */
static double weight_at(const sb_linear *l, int o, int i)
{
    if (l->format == SB_WEIGHTS_I8) {
        const size_t k4 = ((size_t)l->n_in + 3) / 4 * 4;
        const int8_t *q = l->weight;
        return (double)l->scale[o] * q[((size_t)(o / 16) * k4 / 4 + (size_t)i / 4) * 64 +
                                       (size_t)(o % 16) * 4 + (size_t)i % 4];
    }
    return element_at(l->weight, l->format, ((size_t)(o / 16) * l->n_in + i) * 16 + o % 16);
}

/* y[n_out] = W x + b */
static void linear(const sb_linear *l, const double *x, double *y)
{
    for (int o = 0; o < l->n_out; o++) {
        double sum = l->bias ? l->bias[o] : 0.0;
        for (int i = 0; i < l->n_in; i++)
            sum += weight_at(l, o, i) * x[i];
        y[o] = sum;
    }
}

static void layernorm(double *x, int n, const float *w, const float *b, double eps)
{
    double mean = 0, var = 0;
    for (int i = 0; i < n; i++) mean += x[i];
    mean /= n;
    for (int i = 0; i < n; i++) var += (x[i] - mean) * (x[i] - mean);
    var /= n;
    for (int i = 0; i < n; i++) x[i] = (x[i] - mean) / sqrt(var + eps) * w[i] + b[i];
}

static double activation(double x, sb_activation act)
{
    switch (act) {
    case SB_ACT_GELU_ERF: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    case SB_ACT_GELU_TANH:
        return 0.5 * x * (1 + tanh(sqrt(2 / 3.14159265358979323846) * (x + 0.044715 * x * x * x)));
    case SB_ACT_RELU: return x > 0 ? x : 0;
    default: return x;
    }
}

/* states[n, H] = the last hidden states of one text's ids[n]. */
static void reference_forward(const sbert_model *m, const int32_t *ids, int n, double *states)
{
    const int H = m->hp.hidden, I = m->hp.intermediate, heads = m->hp.n_heads, D = H / heads;
    double *qkv = malloc(sizeof(double) * n * 3 * H), *attn = malloc(sizeof(double) * n * H);
    double *ffn = malloc(sizeof(double) * I), *tmp = malloc(sizeof(double) * H);
    double *p = malloc(sizeof(double) * n);
    for (int t = 0; t < n; t++) {
        double *x = states + (size_t)t * H;
        for (int j = 0; j < H; j++)
            x[j] = element_at(m->word_emb, m->word_emb_format, (size_t)ids[t] * H + j) +
                   m->pos_emb[(size_t)(m->hp.position_offset + t) * H + j] + m->type_emb[j];
        layernorm(x, H, m->emb_ln_w, m->emb_ln_b, m->hp.layer_norm_eps);
    }
    for (int l = 0; l < m->hp.n_layers; l++) {
        const sb_layer *L = &m->layers[l];
        for (int t = 0; t < n; t++)
            linear(&L->qkv, states + (size_t)t * H, qkv + (size_t)t * 3 * H);
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < n; i++) {
                const double *q = qkv + (size_t)i * 3 * H + h * D;
                double max = -INFINITY, sum = 0;
                for (int j = 0; j < n; j++) {
                    const double *k = qkv + (size_t)j * 3 * H + H + h * D;
                    double s = 0;
                    for (int d = 0; d < D; d++) s += q[d] * k[d];
                    p[j] = s / sqrt((double)D);
                    if (p[j] > max) max = p[j];
                }
                for (int j = 0; j < n; j++) sum += (p[j] = exp(p[j] - max));
                for (int d = 0; d < D; d++) {
                    double o = 0;
                    for (int j = 0; j < n; j++)
                        o += p[j] / sum * qkv[(size_t)j * 3 * H + 2 * H + h * D + d];
                    attn[(size_t)i * H + h * D + d] = o;
                }
            }
        for (int t = 0; t < n; t++) {
            double *x = states + (size_t)t * H;
            linear(&L->attn_out, attn + (size_t)t * H, tmp);
            for (int j = 0; j < H; j++) x[j] += tmp[j];
            layernorm(x, H, L->attn_ln_w, L->attn_ln_b, m->hp.layer_norm_eps);
            linear(&L->ffn_up, x, ffn);
            for (int j = 0; j < I; j++) ffn[j] = activation(ffn[j], m->hp.act);
            linear(&L->ffn_down, ffn, tmp);
            for (int j = 0; j < H; j++) x[j] += tmp[j];
            layernorm(x, H, L->ffn_ln_w, L->ffn_ln_b, m->hp.layer_norm_eps);
        }
    }
    free(qkv), free(attn), free(ffn), free(tmp), free(p);
}

/* Texts from one to about four hundred tokens: KorSTS sentences and runs of them. */
static int make_texts(char **texts)
{
    static const char *sentences[] = {
        "한 소녀가 머리를 스타일링하고 있다.",
        "한 무리의 남자들이 해변에서 축구를 한다.",
        "A man is playing a large flute.",
        "세 명의 남자가 들판에서 축구를 하고 있다, 그리고 한 여자가 그들을 지켜보고 있다.",
        "x",
    };
    int n = 0;
    for (int i = 0; i < 5; i++) texts[n++] = strdup(sentences[i]);
    for (int repeat = 6; repeat <= 48; repeat *= 2) { /* about 60 .. 480 tokens */
        size_t len = 0, cap = 0;
        char *s = NULL;
        for (int r = 0; r < repeat; r++)
            for (int i = 0; i < 4; i++) {
                const size_t add = strlen(sentences[i]) + 1;
                if (len + add + 1 > cap) s = realloc(s, cap = 2 * (len + add + 1));
                memcpy(s + len, sentences[i], add - 1);
                s[len + add - 1] = ' ';
                len += add;
                s[len] = 0;
            }
        texts[n++] = s;
    }
    return n;
}

static void check_model(const char *path, double tolerance)
{
    sbert_model *m = NULL;
    char err[256];
    if (sbert_model_load(path, NULL, &m, err, sizeof err) != SBERT_OK) {
        CHECK(0, "%s: %s", path, err);
        return;
    }
    sbert_context_params cp = sbert_context_default_params();
    cp.n_threads = 2;
    sbert_context *ctx = NULL;
    CHECK(sbert_context_create(m, &cp, &ctx, NULL, 0) == SBERT_OK, "%s: context", path);
    char *texts[MAX_TEXTS];
    const int n_texts = make_texts(texts);
    const int H = m->hp.hidden;
    const size_t dim = sbert_model_dim(m), max_len = sbert_model_max_seq_length(m);
    float *states = malloc(sizeof(float) * max_len * H);
    double *ref = malloc(sizeof(double) * max_len * H);
    float *pooled = malloc(sizeof(float) * n_texts * dim);
    double *ref_pooled = calloc((size_t)n_texts * H, sizeof(double));
    int32_t *ids = malloc(sizeof(int32_t) * max_len);
    double worst = 0;
    int longest = 0;
    for (int i = 0; i < n_texts; i++) {
        size_t n = 0, n_states = 0;
        CHECK(sbert_tokenize(ctx, texts[i], strlen(texts[i]), 0, ids, max_len, &n) == SBERT_OK,
              "%s: tokenize", path);
        CHECK(sbert_encode_tokens(ctx, texts[i], strlen(texts[i]), NULL, states, max_len * H,
                                  &n_states) == SBERT_OK && n_states == n,
              "%s: encode_tokens", path);
        reference_forward(m, ids, (int)n, ref);
        double diff = 0;
        for (size_t j = 0; j < n * H; j++)
            diff = fmax(diff, fabs(states[j] - ref[j]));
        CHECK(diff <= tolerance, "%s: text %d (%zu tokens): max |diff| %.3g", path, i, n, diff);
        worst = fmax(worst, diff);
        longest = (int)n > longest ? (int)n : longest;
        for (size_t t = 0; t < n; t++) /* mean pooling */
            for (int j = 0; j < H; j++)
                ref_pooled[(size_t)i * H + j] += ref[t * H + j] / (double)n;
    }
    /* all texts in one call: sorted by length and batched, short texts share attention runs */
    CHECK(sbert_encode(ctx, (const char *const *)texts, NULL, n_texts, NULL, pooled,
                       n_texts * dim) == SBERT_OK, "%s: encode", path);
    const sb_pooling *p = &m->pooling;
    if (p->mean && !p->cls && !p->max && !p->mean_sqrt_len && !p->weightedmean && !p->lasttoken &&
        m->n_dense == 0 && dim == (size_t)H) {
        double pooled_worst = 0;
        for (int i = 0; i < n_texts; i++) {
            const double *r = ref_pooled + (size_t)i * H;
            double norm = 0;
            for (int j = 0; j < H; j++) norm += r[j] * r[j];
            const double scale = m->normalize ? 1 / fmax(sqrt(norm), 1e-12) : 1;
            for (int j = 0; j < H; j++)
                pooled_worst = fmax(pooled_worst, fabs(pooled[(size_t)i * dim + j] - r[j] * scale));
        }
        CHECK(pooled_worst <= tolerance, "%s: batch of %d texts: max |diff| %.3g", path, n_texts,
              pooled_worst);
        printf("%s: heads of %d, %d texts up to %d tokens: states max |diff| %.2g, batch %.2g\n",
               path, H / m->hp.n_heads, n_texts, longest, worst, pooled_worst);
    } else {
        printf("%s: heads of %d, %d texts up to %d tokens: states max |diff| %.2g\n", path,
               H / m->hp.n_heads, n_texts, longest, worst);
    }
    for (int i = 0; i < n_texts; i++) free(texts[i]);
    free(states), free(ref), free(pooled), free(ref_pooled), free(ids);
    sbert_context_free(ctx);
    sbert_model_free(m);
}

int main(void)
{
    const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
    static const char *models[] = { "ko-tiny", "minilm-tiny", "xlmr-tiny", "odd-heads",
                                    "odd-heads-bf16", "ko-tiny-f16" };
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/models/%s.sbert", build, models[i]);
        check_model(path, TOLERANCE);
    }
    /* int8 weights against the reference on the dequantized weights: the difference is the
     * quantization of the activations, bounded as an approximation (INT8_TOLERANCE) */
    char path[512];
    snprintf(path, sizeof path, "%s/models/odd-heads-int8.sbert", build);
    check_model(path, INT8_TOLERANCE);
    return TEST_DONE();
}
