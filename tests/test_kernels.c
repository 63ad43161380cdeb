/* The compute kernels against double-precision references, on every instruction set this machine
 * has (scalar, AVX2, AVX-512 as available).
 *
 * Tolerances:
 *   GEMM        |got - ref| <= 2e-6 * sum_k |a_k w_k| (+ the same for bias and residual terms):
 *               float accumulation over K terms; 1 and 2 threads must agree bit for bit.
 *   activations |got - ref| <= 1e-6 |ref| + 1e-35 (the absolute part covers flushed underflows).
 *   layernorm, softmax (whole rows and online, tile by tile), dot, axpy: 1e-5 relative to the
 *               row's scale. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kernels/kernels.h"
#include "sbert.h"

static unsigned long long rng_state = 0x9E3779B97F4A7C15ull;
static float uniform(float lo, float hi) /* xorshift64*, reproducible */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    const double u = (double)((rng_state * 2685821657736338717ull) >> 11) / 9007199254740992.0;
    return (float)(lo + (hi - lo) * u);
}

static float *random_floats(size_t n, float lo, float hi)
{
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = uniform(lo, hi);
    return p;
}

static double act_ref(double x, sb_activation act)
{
    switch (act) {
    case SB_ACT_GELU_ERF: return 0.5 * x * erfc(-x / sqrt(2.0));
    case SB_ACT_GELU_TANH: /* 0.5 x (1 + tanh(y)), written so that x << 0 keeps its digits */
        return x / (1.0 + exp(-2.0 * sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
    case SB_ACT_RELU: return x > 0 ? x : 0;
    case SB_ACT_TANH: return tanh(x);
    case SB_ACT_SIGMOID: return 1.0 / (1.0 + exp(-x));
    default: return x;
    }
}

/* GELU-tanh for x < 0 is about x exp(-2y), y = sqrt(2/pi)(x + 0.044715 x^3): the float rounding of
 * y is multiplied by |2y|, so its relative error is allowed to grow by |2y| / 4. */
static double tanh_gelu_amplification(double x)
{
    return x >= 0 ? 0 : fabs(2.0 * sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)) / 4;
}

/* ---- GEMM ------------------------------------------------------------------------------------ */

/* Row-major W[n][k] of `size`-byte elements into PANEL16 (docs/FORMAT.md), rows past n zero. */
static void *pack_panel16(const void *w, size_t size, int n, int k)
{
    const int panels = (n + 15) / 16;
    char *p = calloc((size_t)panels * 16 * (k > 0 ? k : 1), size);
    for (int j = 0; j < n; j++)
        for (int kk = 0; kk < k; kk++)
            memcpy(p + (((size_t)(j / 16) * k + kk) * 16 + j % 16) * size,
                   (const char *)w + ((size_t)j * k + kk) * size, size);
    return p;
}

/* n random weights of `format` in about [-1, 1] (BF16/F16 as bit patterns, F16 with subnormals),
 * stored in *bits (2-byte formats) and their exact values in the returned floats. */
static float *random_weights(size_t n, sb_weight_format format, uint16_t **bits)
{
    float *w = random_floats(n, -1, 1);
    *bits = NULL;
    if (format == SB_WEIGHTS_F32) return w;
    const int exponent_bits = format == SB_WEIGHTS_BF16 ? 8 : 5;
    const int bias = (1 << (exponent_bits - 1)) - 1, mantissa_bits = 15 - exponent_bits;
    *bits = malloc(n * sizeof **bits);
    for (size_t i = 0; i < n; i++) {
        const unsigned sign = uniform(0, 1) < 0.5f ? 0x8000u : 0;
        int exponent = bias - 1 - (int)uniform(0, 12); /* magnitudes 2^-13 .. 1 */
        if (exponent < 0) exponent = 0;                 /* F16 subnormals */
        const unsigned mantissa = (unsigned)uniform(0, (float)(1 << mantissa_bits));
        (*bits)[i] = (uint16_t)(sign | (unsigned)exponent << mantissa_bits | mantissa);
        w[i] = (float)test_half_value((*bits)[i], exponent_bits);
    }
    return w;
}

typedef struct {
    sb_weight_format format;
    int m, n, k;
    int with_bias;
    sb_activation act;
    enum { RES_NONE, RES_SEPARATE, RES_ALIASED } residual;
} gemm_case;

static int check_gemm_case(const gemm_case *t, int n_threads_max)
{
    const int m = t->m, n = t->n, k = t->k;
    const size_t lda = (size_t)k + 3, ldc = (size_t)n + 5, ldr = t->residual == RES_ALIASED ? ldc : (size_t)n + 1;
    float *a = random_floats((size_t)m * lda, -1, 1);
    uint16_t *bits;
    float *w = random_weights((size_t)n * (k > 0 ? k : 1), t->format, &bits);
    float *bias = t->with_bias ? random_floats((size_t)n, -1, 1) : NULL;
    float *res = t->residual == RES_NONE ? NULL : random_floats((size_t)m * ldr, -2, 2);
    void *panels = bits ? pack_panel16(bits, 2, n, k) : pack_panel16(w, 4, n, k);
    const sb_linear lin = { .format = t->format, .weight = panels, .bias = bias, .n_out = n,
                            .n_in = k };
    float *c[2];
    float *scratch = aligned_alloc(64, sb_gemm_scratch_floats(2, 256, 4096) * sizeof(float));
    int ok = 1;

    sb_threadpool *pool = sb_threadpool_create(n_threads_max);
    for (int run = 0; run < 2; run++) {
        sb_threadpool *threads = run == 0 ? NULL : pool;
        c[run] = malloc((size_t)m * ldc * sizeof(float));
        for (size_t i = 0; i < (size_t)m * ldc; i++) c[run][i] = NAN;
        const float *r = res;
        if (t->residual == RES_ALIASED) {
            memcpy(c[run], res, (size_t)m * ldc * sizeof(float));
            r = c[run];
        }
        sb_gemm(a, lda, m, &lin, c[run], ldc, t->act, r, ldr, scratch, threads);
    }
    sb_threadpool_free(pool);

    double worst = 0;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double sum = 0, mag = 0;
            for (int kk = 0; kk < k; kk++) {
                const double p = (double)a[(size_t)i * lda + kk] * w[(size_t)j * k + kk];
                sum += p;
                mag += fabs(p);
            }
            if (bias) sum += bias[j], mag += fabs(bias[j]);
            double ref = act_ref(sum, t->act);
            mag = fabs(ref) + mag; /* the activations used here have slope <= ~1.13 */
            if (res) ref += res[(size_t)i * ldr + j], mag += fabs(res[(size_t)i * ldr + j]);
            const double err = fabs(c[0][(size_t)i * ldc + j] - ref) / (mag + 1e-30);
            if (!(err <= worst)) worst = err; /* also catches NaN */
        }
    ok &= worst <= 2e-6;
    CHECK(worst <= 2e-6, "%s format %d m=%d n=%d k=%d bias=%d act=%d res=%d: error %.3g of the terms' "
          "magnitude", sb_isa_name(sb_kernels_isa()), (int)t->format, m, n, k, t->with_bias,
          (int)t->act, (int)t->residual, worst);

    /* Columns past n in each row of C are padding the GEMM must not touch (unless aliased). */
    int padding_kept = 1;
    for (int i = 0; i < m && t->residual != RES_ALIASED; i++)
        for (size_t j = (size_t)n; j < ldc; j++) padding_kept &= isnan(c[0][(size_t)i * ldc + j]);
    CHECK(padding_kept, "m=%d n=%d k=%d: wrote past column n", m, n, k);

    int same = 1;
    for (int i = 0; i < m; i++)
        same &= memcmp(c[0] + (size_t)i * ldc, c[1] + (size_t)i * ldc, (size_t)n * sizeof(float)) == 0;
    CHECK(same, "%s m=%d n=%d k=%d: 1 and %d threads differ", sb_isa_name(sb_kernels_isa()), m, n, k,
          n_threads_max);

    free(a), free(w), free(bits), free(bias), free(res), free(panels), free(c[0]), free(c[1]);
    free(scratch);
    return ok;
}

static void test_gemm(void)
{
    /* Sizes around every blocking edge (tiles of 4/6/12 rows and 16/32 columns, units of 64/96
     * rows, k in blocks of up to 768), odd k, and the model's shapes at small m. */
    static const int shapes[][3] = {
        {1, 1, 1},     {1, 16, 1},    {2, 17, 3},    {3, 31, 5},     {5, 33, 7},
        {7, 48, 16},   {12, 32, 256}, {13, 47, 257}, {25, 64, 300},  {37, 100, 600},
        {1, 768, 768}, {16, 80, 768}, {64, 96, 768}, {130, 50, 513}, {200, 40, 70},
        {3, 600, 20},  {5, 48, 3072}, {16, 2304, 8}, {2, 5, 0},      {100, 700, 2000},
        {13, 40, 1537},
    };
    static const sb_activation acts[] = {
        SB_ACT_GELU_ERF, SB_ACT_GELU_TANH, SB_ACT_RELU, SB_ACT_TANH, SB_ACT_SIGMOID,
    };
    const int n_shapes = (int)(sizeof shapes / sizeof shapes[0]);
    for (int s = 0; s < n_shapes; s++) {
        const int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        const sb_weight_format f = SB_WEIGHTS_F32, half = s % 2 ? SB_WEIGHTS_BF16 : SB_WEIGHTS_F16;
        const gemm_case cases[] = {
            {f, m, n, k, 0, SB_ACT_IDENTITY, RES_NONE},
            {f, m, n, k, 1, acts[s % 5], RES_NONE},
            {f, m, n, k, 1, SB_ACT_IDENTITY, RES_ALIASED},
            {f, m, n, k, 1, acts[(s + 1) % 5], RES_ALIASED},
            {f, m, n, k, 1, acts[(s + 2) % 5], RES_SEPARATE},
            {half, m, n, k, 1, acts[(s + 3) % 5], RES_SEPARATE}, /* the 2-byte formats' kernels */
            {half, m, n, k, 0, SB_ACT_IDENTITY, RES_ALIASED},
        };
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) check_gemm_case(&cases[c], 2);
    }
}

/* ---- int8 weights (SB_WEIGHTS_I8) ------------------------------------------------------------
 * The reference follows the documented arithmetic (model.h, kernels.h) with its own code: A's
 * rows quantized over [min(0, min a), max(0, max a)] in 255 steps with a zero point, the weights
 * to round(w * 127 / max|w_row|), exact integer dot products in int64, then the scales, bias,
 * activation and residual in double. The
 * kernels must match it to float rounding (2e-6 of the terms' magnitude), the quantized rows byte
 * for byte, and every instruction set the portable kernels bit for bit, up to the activation
 * (each instruction set has its own, as in the fp32 kernels). */

/* the weights: symmetric, per row */
static void quantize_ref(const float *x, int k, int8_t *q, float *scale)
{
    float amax = 0;
    for (int i = 0; i < k; i++) amax = fabsf(x[i]) > amax ? fabsf(x[i]) : amax;
    const float inv = amax > 0 ? 127.0f / amax : 0.0f;
    for (int i = 0; i < k; i++) {
        float v = x[i] * inv;
        v = v < -127.0f ? -127.0f : v > 127.0f ? 127.0f : v;
        q[i] = (int8_t)nearbyintf(v);
    }
    *scale = amax / 127.0f;
}

/* the activations: unsigned with a zero point, per row (kernels.h) */
static void quantize_rows_ref(const float *x, int k, uint8_t *q, float *scale, int *zero)
{
    float lo = 0, hi = 0;
    for (int i = 0; i < k; i++) lo = x[i] < lo ? x[i] : lo, hi = x[i] > hi ? x[i] : hi;
    const float range = hi - lo, inv = range > 0 ? 255.0f / range : 0.0f;
    *scale = range / 255.0f;
    *zero = (int)nearbyintf(-lo * inv);
    for (int i = 0; i < k; i++) {
        const int v = (int)nearbyintf(x[i] * inv) + *zero;
        q[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
}

/* Row-major int8 W[n][k] into PANEL16_Q4 (docs/FORMAT.md): (n, k) at
 * ((n / 16) * K4 / 4 + k / 4) * 64 + (n % 16) * 4 + k % 4, K4 = k rounded up to 4; padding zero. */
static int8_t *pack_panel16_q4(const int8_t *w, int n, int k)
{
    const size_t k4 = ((size_t)k + 3) / 4 * 4, panels = ((size_t)n + 15) / 16;
    int8_t *p = calloc(panels * 16 * (k4 ? k4 : 4), 1);
    for (int j = 0; j < n; j++)
        for (int kk = 0; kk < k; kk++)
            p[((size_t)(j / 16) * k4 / 4 + (size_t)kk / 4) * 64 + (size_t)(j % 16) * 4 + kk % 4] =
                w[(size_t)j * k + kk];
    return p;
}

static float *gemm_q8_run(const float *a, size_t lda, int m, const sb_linear *lin, size_t ldc,
                          sb_activation act, const float *res, size_t ldr, int aliased,
                          sb_threadpool *threads, float *scratch)
{
    float *c = malloc((size_t)m * ldc * sizeof(float));
    for (size_t i = 0; i < (size_t)m * ldc; i++) c[i] = NAN;
    if (aliased) memcpy(c, res, (size_t)m * ldc * sizeof(float));
    sb_gemm(a, lda, m, lin, c, ldc, act, aliased ? c : res, ldr, scratch, threads);
    return c;
}

static void check_gemm_q8_case(int m, int n, int k, sb_activation act, int residual, int bias_on)
{
    const size_t lda = (size_t)k + 5, ldc = (size_t)n + 3, ldr = residual == 2 ? ldc : (size_t)n + 7;
    float *a = random_floats((size_t)m * lda, -3, 3), *w = random_floats((size_t)n * k, -1, 1);
    if (m > 2) memset(a + lda, 0, (size_t)k * sizeof(float)); /* an all-zero row: scale 0 */
    for (int kk = 0; m > 4 && kk < k; kk++) { /* rows of one sign: zero points 0 and 255 */
        a[3 * lda + kk] = fabsf(a[3 * lda + kk]);
        a[4 * lda + kk] = -fabsf(a[4 * lda + kk]);
    }
    float *bias = bias_on ? random_floats((size_t)n, -1, 1) : NULL;
    float *res = residual ? random_floats((size_t)m * ldr, -2, 2) : NULL;
    int8_t *qw = malloc((size_t)n * k + 1);
    uint8_t *qa = malloc((size_t)m * k + 1);
    float *sw = malloc((size_t)n * sizeof *sw), *sa = malloc((size_t)m * sizeof *sa);
    int *za = malloc((size_t)m * sizeof *za);
    for (int j = 0; j < n; j++) quantize_ref(w + (size_t)j * k, k, qw + (size_t)j * k, &sw[j]);
    for (int i = 0; i < m; i++)
        quantize_rows_ref(a + (size_t)i * lda, k, qa + (size_t)i * k, &sa[i], &za[i]);
    int32_t *sums = malloc((size_t)n * sizeof *sums);
    sb_linear lin = { .format = SB_WEIGHTS_I8, .weight = pack_panel16_q4(qw, n, k), .bias = bias,
                      .scale = sw, .col_sum = sums, .n_out = n, .n_in = k };
    sb_q8_column_sums(&lin, sums);
    int sums_ok = 1;
    for (int j = 0; j < n; j++) {
        int32_t s = 0;
        for (int kk = 0; kk < k; kk++) s += qw[(size_t)j * k + kk];
        sums_ok &= s == sums[j];
    }
    CHECK(sums_ok, "q8 n=%d k=%d: column sums", n, k);

    /* the quantized rows, byte for byte */
    void *buf = aligned_alloc(64, sb_q8_rows_bytes(m, k));
    const sb_q8_rows rows = sb_q8_rows_in(buf, m, k);
    sb_quantize_rows(a, lda, m, k, &rows, NULL);
    int rows_ok = 1;
    for (int i = 0; i < m; i++) {
        rows_ok &= rows.scale[i] == sa[i] && rows.zero[i] == za[i];
        for (int kk = 0; kk < k; kk++) rows_ok &= rows.q[(size_t)i * rows.ldq + kk] == qa[(size_t)i * k + kk];
    }
    CHECK(rows_ok, "%s q8 m=%d k=%d: quantized rows differ from the reference",
          sb_q8_isa_name(sb_kernels_q8()), m, k);
    if (rows.prep) { /* AVX2 without VNNI: per quad, q - 128 as int8 bytes, then their magnitudes */
        int prep_ok = 1;
        for (int i = 0; i < m; i++)
            for (int kk = 0; kk < k; kk++) {
                const int s = qa[(size_t)i * k + kk] - 128;
                const uint8_t *p = rows.prep + (size_t)i * rows.ldp + 8 * (kk / 4) + kk % 4;
                prep_ok &= (int8_t)p[0] == s && p[4] == (uint8_t)(s < 0 ? -s : s);
            }
        CHECK(prep_ok, "%s q8 m=%d k=%d: prepared rows", sb_q8_isa_name(sb_kernels_q8()), m, k);
        /* rows quantized without it (for other kernels) take the portable tiles: the same sums
         * (compared without the activation, whose vector and scalar forms may differ) */
        sb_q8_rows plain = rows;
        plain.prep = NULL;
        float *with = calloc((size_t)m * ldc, sizeof(float));
        float *without = calloc((size_t)m * ldc, sizeof(float));
        sb_gemm_q8(&rows, m, &lin, with, ldc, SB_ACT_IDENTITY, NULL, 0, NULL);
        sb_gemm_q8(&plain, m, &lin, without, ldc, SB_ACT_IDENTITY, NULL, 0, NULL);
        CHECK(memcmp(with, without, (size_t)m * ldc * sizeof(float)) == 0,
              "q8 m=%d k=%d: rows without the prepared form give other results", m, k);
        free(with);
        free(without);
    }
    free(buf);

    float *scratch = aligned_alloc(64, sb_gemm_scratch_floats(2, 256, 4096) * sizeof(float));
    sb_threadpool *pool = sb_threadpool_create(2);
    float *c1 = gemm_q8_run(a, lda, m, &lin, ldc, act, res, ldr, residual == 2, NULL, scratch);
    float *c2 = gemm_q8_run(a, lda, m, &lin, ldc, act, res, ldr, residual == 2, pool, scratch);
    const sb_isa isa = sb_kernels_isa();
    const char *kernels = sb_q8_isa_name(sb_kernels_q8());
    sb_kernels_set_isa(SB_ISA_SCALAR);
    float *c0 = gemm_q8_run(a, lda, m, &lin, ldc, act, res, ldr, residual == 2, NULL, scratch);
    sb_kernels_set_isa(isa);
    sb_threadpool_free(pool);

    double worst = 0;
    int same = 1;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            long long dot = 0, mag = 0;
            for (int kk = 0; kk < k; kk++) {
                const long long p = ((long long)qa[(size_t)i * k + kk] - za[i]) * qw[(size_t)j * k + kk];
                dot += p, mag += p < 0 ? -p : p;
            }
            const double scale = (double)sa[i] * sw[j];
            double sum = (double)dot * scale, terms = (double)mag * scale;
            if (bias) sum += bias[j], terms += fabs(bias[j]);
            double ref = act_ref(sum, act);
            terms += fabs(ref);
            if (res) ref += res[(size_t)i * ldr + j], terms += fabs(res[(size_t)i * ldr + j]);
            const size_t at = (size_t)i * ldc + j;
            const double err = fabs(c1[at] - ref) / (terms + 1e-30);
            if (!(err <= worst)) worst = err;
            const int exact_act = act == SB_ACT_IDENTITY || act == SB_ACT_RELU;
            same &= (!exact_act || memcmp(&c1[at], &c0[at], sizeof(float)) == 0) &&
                    memcmp(&c1[at], &c2[at], sizeof(float)) == 0;
        }
    CHECK(worst <= 2e-6, "%s q8 m=%d n=%d k=%d act=%d res=%d: error %.3g of the terms' magnitude",
          kernels, m, n, k, (int)act, residual, worst);
    CHECK(same, "%s q8 m=%d n=%d k=%d: differs from the portable kernels or from 2 threads",
          kernels, m, n, k);
    free(a), free(w), free(bias), free(res), free(qw), free(qa), free(sw), free(sa), free(za);
    free(sums);
    free((void *)lin.weight), free(scratch), free(c0), free(c1), free(c2);
}

static void test_gemm_q8(void)
{
    static const int shapes[][3] = {
        {1, 1, 1},   {1, 16, 4},   {2, 17, 3},    {3, 31, 5},   {5, 33, 7},    {12, 32, 64},
        {13, 47, 257}, {25, 64, 300}, {1, 768, 768}, {16, 80, 768}, {100, 96, 770},
        {130, 50, 513}, {5, 48, 3072}, {37, 100, 600},
        /* AMX: whole 64-byte steps of k with two row tiles, a partial one, and two units */
        {70, 40, 1024}, {200, 64, 128}, {48, 33, 64},
    };
    static const sb_activation acts[] = { SB_ACT_IDENTITY, SB_ACT_GELU_ERF, SB_ACT_RELU, SB_ACT_TANH };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        check_gemm_q8_case(shapes[s][0], shapes[s][1], shapes[s][2], acts[s % 4], (int)(s % 3),
                           (int)(s % 2 == 0));
    printf("  q8 kernels: %s\n", sb_q8_isa_name(sb_kernels_q8()));
}

/* test_gemm_q8 for the I8 kernels in use, unless *tested says they have been (bit per table) */
static void test_gemm_q8_once(int *tested)
{
    const int bit = 1 << sb_kernels_q8();
    if (!(*tested & bit))
        test_gemm_q8();
    *tested |= bit;
}

/* ---- activations ----------------------------------------------------------------------------- */

static void test_activations(void)
{
    static const sb_activation acts[] = {
        SB_ACT_IDENTITY, SB_ACT_GELU_ERF, SB_ACT_GELU_TANH, SB_ACT_RELU, SB_ACT_TANH, SB_ACT_SIGMOID,
    };
    enum { N = 40003 }; /* odd: the last vector is partial */
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    for (int i = 0; i < N; i++) x[i] = -20.0f + 40.0f * (float)i / (N - 1);
    x[0] = 0.0f, x[1] = -0.0f, x[2] = 1e-30f, x[3] = -1e-30f, x[4] = 1e-3f, x[5] = -5.65f;
    for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) {
        memcpy(y, x, N * sizeof *y);
        sb_activate(y, N, acts[a]);
        double worst = 0;
        int at = 0;
        for (int i = 0; i < N; i++) {
            const double ref = act_ref(x[i], acts[a]);
            double err = fabs(y[i] - ref) / (fabs(ref) + 1e-29);
            if (acts[a] == SB_ACT_GELU_TANH) err /= 1 + tanh_gelu_amplification(x[i]);
            if (!(err <= worst)) worst = err, at = i;
        }
        CHECK(worst <= 1e-6, "%s act %d: relative error %.3g at x = %.9g", sb_isa_name(sb_kernels_isa()),
              (int)acts[a], worst, x[at]);
    }
    free(x), free(y);
}

/* ---- row ops --------------------------------------------------------------------------------- */

static void test_layernorm(void)
{
    static const int sizes[] = {1, 5, 16, 17, 33, 768, 1001};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        const int n = sizes[s];
        float *x = random_floats((size_t)n, 1, 5), *w = random_floats((size_t)n, -2, 2);
        float *b = random_floats((size_t)n, -1, 1), *y = malloc((size_t)n * sizeof *y);
        memcpy(y, x, (size_t)n * sizeof *y);
        sb_layernorm(y, w, b, n, 1e-5f);
        double mean = 0, var = 0;
        for (int i = 0; i < n; i++) mean += x[i];
        mean /= n;
        for (int i = 0; i < n; i++) var += (x[i] - mean) * (x[i] - mean);
        var /= n;
        double worst = 0;
        for (int i = 0; i < n; i++) {
            const double norm = (x[i] - mean) / sqrt(var + 1e-5);
            const double err = fabs(y[i] - (norm * w[i] + b[i])) / (fabs(norm * w[i]) + fabs(b[i]) + 1);
            if (!(err <= worst)) worst = err;
        }
        CHECK(worst <= 1e-5, "%s layernorm n=%d: error %.3g", sb_isa_name(sb_kernels_isa()), n, worst);
        free(x), free(w), free(b), free(y);
    }
}

static void test_softmax(void)
{
    static const int sizes[] = {1, 7, 16, 128, 129};
    static const float scales[] = {1.0f, 0.125f, 0.3f};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (size_t si = 0; si < sizeof scales / sizeof scales[0]; si++) {
            const int n = sizes[s];
            const float scale = scales[si];
            float *x = random_floats((size_t)n, -10, 10), *y = malloc((size_t)n * sizeof *y);
            float *scaled_first = malloc((size_t)n * sizeof *y);
            if (n > 2) x[n / 2] = -INFINITY; /* a masked position */
            memcpy(y, x, (size_t)n * sizeof *y);
            sb_softmax(y, n, scale);
            double max = -INFINITY, sum = 0, worst = 0;
            for (int i = 0; i < n; i++) max = x[i] > max ? x[i] : max;
            for (int i = 0; i < n; i++) sum += exp(((double)x[i] - max) * scale);
            for (int i = 0; i < n; i++) {
                const double ref = exp(((double)x[i] - max) * scale) / sum;
                const double err = fabs(y[i] - ref) / (ref + 1e-30);
                if (!(err <= worst) && ref > 1e-30) worst = err;
            }
            CHECK(worst <= 1e-5, "%s softmax n=%d scale %g: relative error %.3g",
                  sb_isa_name(sb_kernels_isa()), n, scale, worst);
            if (n > 2) CHECK(y[n / 2] == 0.0f, "softmax of -inf is %g", y[n / 2]);
            /* the documented identity: the same bits as scaling first, then softmax */
            for (int i = 0; i < n; i++) scaled_first[i] = x[i] * scale;
            sb_softmax(scaled_first, n, 1.0f);
            CHECK(memcmp(scaled_first, y, (size_t)n * sizeof *y) == 0,
                  "%s softmax n=%d scale %g differs from scaling first", sb_isa_name(sb_kernels_isa()), n, scale);
            free(x), free(y), free(scaled_first);
        }
}

/* sb_softmax_online tile by tile: the probabilities it implies (each tile's exponentials times the
 * later tiles' corrections, over the final sum) against double precision; and one tile is
 * sb_softmax's result bit for bit once multiplied by 1 / sum. */
static void test_softmax_online(void)
{
    static const int sizes[] = {1, 17, 128, 300};
    static const int tiles[] = {1, 16, 100, 512};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (size_t t = 0; t < sizeof tiles / sizeof tiles[0]; t++) {
            const int n = sizes[s], tile = tiles[t];
            const float scale = 0.125f;
            float *x = random_floats((size_t)n, -40, 40), *y = malloc((size_t)n * sizeof *y);
            double *p = malloc((size_t)n * sizeof *p);
            memcpy(y, x, (size_t)n * sizeof *y);
            float max = -INFINITY, sum = 0.0f;
            for (int j0 = 0; j0 < n; j0 += tile) {
                const int nk = n - j0 < tile ? n - j0 : tile;
                const float c = sb_softmax_online(y + j0, nk, scale, &max, &sum);
                for (int j = 0; j < j0; j++) p[j] *= c; /* what out's rows get */
                for (int j = j0; j < j0 + nk; j++) p[j] = y[j];
            }
            double ref_max = -INFINITY, ref_sum = 0, worst = 0;
            for (int i = 0; i < n; i++) ref_max = x[i] > ref_max ? x[i] : ref_max;
            for (int i = 0; i < n; i++) ref_sum += exp(((double)x[i] - ref_max) * scale);
            for (int i = 0; i < n; i++) {
                const double ref = exp(((double)x[i] - ref_max) * scale) / ref_sum;
                const double err = fabs(p[i] / sum - ref) / (ref + 1e-30);
                if (!(err <= worst) && ref > 1e-30) worst = err;
            }
            CHECK(worst <= 1e-5, "%s online softmax n=%d tile %d: relative error %.3g",
                  sb_isa_name(sb_kernels_isa()), n, tile, worst);
            if (tile >= n) { /* one tile: sb_softmax's bits */
                float *whole = malloc((size_t)n * sizeof *whole);
                memcpy(whole, x, (size_t)n * sizeof *whole);
                sb_softmax(whole, n, scale);
                const float inv = 1.0f / sum;
                for (int i = 0; i < n; i++) y[i] *= inv;
                CHECK(memcmp(whole, y, (size_t)n * sizeof *y) == 0,
                      "%s online softmax n=%d in one tile differs from sb_softmax",
                      sb_isa_name(sb_kernels_isa()), n);
                free(whole);
            }
            free(x), free(y), free(p);
        }
}

static void test_dot_axpy(void)
{
    static const int sizes[] = {1, 3, 8, 16, 31, 64, 65, 768};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        const int n = sizes[s];
        float *a = random_floats((size_t)n, -1, 1), *b = random_floats((size_t)n, -1, 1);
        float *y = malloc((size_t)n * sizeof *y);
        memcpy(y, b, (size_t)n * sizeof *y);
        double ref = 0, mag = 0;
        for (int i = 0; i < n; i++) ref += (double)a[i] * b[i], mag += fabs((double)a[i] * b[i]);
        const float d = sb_dot(a, b, n);
        CHECK(fabs(d - ref) <= 1e-5 * mag, "%s dot n=%d: %g vs %g", sb_isa_name(sb_kernels_isa()), n, d, ref);
        sb_axpy(y, 0.75f, a, n);
        int ok = 1;
        for (int i = 0; i < n; i++) ok &= fabs(y[i] - (b[i] + 0.75 * a[i])) <= 1e-6 * (fabs(b[i]) + fabs(a[i]));
        CHECK(ok, "%s axpy n=%d", sb_isa_name(sb_kernels_isa()), n);
        free(a), free(b), free(y);
    }
}

/* sbert_system_info() names the kernels in use */
static void test_system_info(void)
{
    char fp32[64], int8[64];
    snprintf(fp32, sizeof fp32, "fp32: %s,", sb_isa_name(sb_kernels_isa()));
    snprintf(int8, sizeof int8, "int8: %s,", sb_q8_isa_name(sb_kernels_q8()));
    const char *info = sbert_system_info();
    CHECK(strstr(info, fp32) == info && strstr(info, int8), "system info \"%s\" for %s and %s", info,
          fp32, int8);
    CHECK(strcmp(sbert_version(), SBERT_VERSION_STRING) == 0, "version %s, header %s", sbert_version(),
          SBERT_VERSION_STRING);
}

int main(void)
{
    const sb_isa best = sb_kernels_isa();
    printf("kernels: best instruction set here is %s\n", sb_isa_name(best));
    int ran = 0;       /* bit per instruction set tested */
    int q8_tested = 0; /* bit per I8 kernel table tested (several ISAs share the portable one) */
    for (int isa = SB_ISA_SCALAR; isa <= SB_ISA_NEON; isa++) {
        if (sb_kernels_set_isa((sb_isa)isa) != (sb_isa)isa)
            continue; /* not on this machine */
        ran |= 1 << isa;
        test_system_info();
        test_gemm();
        test_gemm_q8_once(&q8_tested);
        if (sb_kernels_q8() == SB_Q8_AMX) { /* and the AVX512-VNNI kernel that AMX displaces */
            sb_kernels_allow_amx(0);
            test_gemm_q8_once(&q8_tested);
            sb_kernels_allow_amx(1);
        }
        if (sb_kernels_q8() > SB_Q8_AVX2) { /* and the AVX2 kernel this machine would skip */
            sb_kernels_allow_vnni(0);
            test_gemm_q8_once(&q8_tested);
            sb_kernels_allow_vnni(1);
        }
        test_activations();
        test_layernorm();
        test_softmax();
        test_softmax_online();
        test_dot_axpy();
    }
    printf("kernels: instruction sets tested:");
    for (int isa = SB_ISA_SCALAR; isa <= SB_ISA_NEON; isa++)
        if (ran & 1 << isa)
            printf(" %s", sb_isa_name((sb_isa)isa));
    printf("; not tested (not on this CPU or capped by SBERT_ISA):");
    for (int isa = SB_ISA_SCALAR; isa <= SB_ISA_NEON; isa++)
        if (!(ran & 1 << isa))
            printf(" %s", sb_isa_name((sb_isa)isa));
    printf("\nkernels: I8 kernel tables tested:");
    for (int q = SB_Q8_PORTABLE; q <= SB_Q8_AMX; q++)
        printf(" %s%s", sb_q8_isa_name((sb_q8_isa)q), q8_tested & 1 << q ? "" : " (not here)");
    printf("\n");
    /* at least the portable kernels and the best (SBERT_ISA may have capped it), and on x86 every
     * level below the best */
    const int expected = 1 << SB_ISA_SCALAR | 1 << best |
                         (best == SB_ISA_AVX512 ? 1 << SB_ISA_AVX2 : 0);
    CHECK((ran & expected) == expected, "instruction sets tested: mask %d, expected %d", ran,
          expected);
    sb_kernels_set_isa(best);
    return TEST_DONE();
}
