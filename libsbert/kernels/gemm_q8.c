/* int8 weights (SB_WEIGHTS_I8): quantizing rows of A, the portable micro-kernel, and the weights'
 * column sums. The driver is gemm.c's (sb_gemm_q8), the AVX512-VNNI kernels are in
 * gemm_q8_avx512vnni.c.
 *
 * Arithmetic: A's row i is quantized to unsigned bytes qa = round(a / scale_i) + zero_i over the
 * row's range (kernels.h). The kernels sum qa q_w in int32, exactly, and the epilogue removes the
 * zero point with the weights' column sum: sum qa q_w - zero_i sum q_w = sum (qa - zero_i) q_w,
 * at most 255 * 127 * 16384 in size (SB_Q8_MAX_IN). Integer sums are exact in any order,
 * so every instruction set and tiling gives the same bits up to the activation (each instruction
 * set has its own, as in the fp32 kernels). */
#include "kernels/kernels_impl.h"

#include <math.h>
#include <string.h>

/* ---- quantizing A --------------------------------------------------------------------------- */

void sb_q8_row_params(float lo, float hi, float *scale, float *inv, int32_t *zero)
{
    const float range = hi - lo; /* lo <= 0 <= hi */
    *scale = range / 255.0f;
    *inv = range > 0.0f ? 255.0f / range : 0.0f;
    *zero = (int32_t)nearbyintf(fminf(-lo * *inv, 255.0f)); /* fminf also drops a NaN */
}

/* The one rounding rule, shared by every ISA: the product x * inv clamped to +-255 (which also
 * sends NaN to a bound, so no undefined float-to-int conversion), rounded to nearest even, plus
 * the zero point, clamped to a byte. */
void sb_q8_quantize_row_scalar(const float *x, int k, uint8_t *q, float *scale, int32_t *zero)
{
    float lo = 0.0f, hi = 0.0f, inv;
    for (int i = 0; i < k; i++)
        lo = fminf(lo, x[i]), hi = fmaxf(hi, x[i]);
    sb_q8_row_params(lo, hi, scale, &inv, zero);
    for (int i = 0; i < k; i++) {
        const int v = (int)nearbyintf(fminf(fmaxf(x[i] * inv, -255.0f), 255.0f)) + *zero;
        q[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
    for (size_t i = (size_t)k; i < sb_q8_padded_k(k); i++)
        q[i] = (uint8_t)*zero;
}

#define ALIGN64(n) (((n) + 63) / 64 * 64)

static size_t prep_row_bytes(int k)
{
    return sb_q8_kernels()->prepare_row ? ALIGN64(SB_Q8_PREP_BYTES * sb_q8_padded_k(k)) : 0;
}

size_t sb_q8_rows_bytes(int m, int k)
{
    return ALIGN64((size_t)m * ALIGN64(sb_q8_padded_k(k))) + 2 * ALIGN64((size_t)m * 4) +
           (size_t)m * prep_row_bytes(k);
}

sb_q8_rows sb_q8_rows_in(void *buffer, int m, int k)
{
    const size_t ldq = ALIGN64(sb_q8_padded_k(k)), ldp = prep_row_bytes(k);
    char *scales = (char *)buffer + ALIGN64((size_t)m * ldq);
    char *prep = scales + 2 * ALIGN64((size_t)m * 4);
    return (sb_q8_rows){ .q = buffer, .ldq = ldq, .scale = (float *)scales,
                         .zero = (int32_t *)(scales + ALIGN64((size_t)m * 4)),
                         .prep = ldp ? (uint8_t *)prep : NULL, .ldp = ldp };
}

void sb_quantize_row(const float *x, int k, const sb_q8_rows *dst, int i)
{
    const sb_gemm_q8_kernels *kern = sb_q8_kernels();
    uint8_t *q = dst->q + (size_t)i * dst->ldq;
    kern->quantize_row(x, k, q, &dst->scale[i], &dst->zero[i]);
    if (kern->prepare_row && dst->prep)
        kern->prepare_row(q, sb_q8_padded_k(k), dst->prep + (size_t)i * dst->ldp);
}

typedef struct {
    const float *a;
    size_t lda;
    int m, k;
    const sb_q8_rows *dst;
} quantize_job;

#define QUANTIZE_ROWS_PER_TASK 64

static void quantize_task(void *arg, int task, int thread)
{
    (void)thread;
    const quantize_job *job = arg;
    const int first = task * QUANTIZE_ROWS_PER_TASK;
    const int last = first + QUANTIZE_ROWS_PER_TASK < job->m ? first + QUANTIZE_ROWS_PER_TASK : job->m;
    for (int i = first; i < last; i++)
        sb_quantize_row(job->a + (size_t)i * job->lda, job->k, job->dst, i);
}

void sb_quantize_rows(const float *A, size_t lda, int m, int k, const sb_q8_rows *dst,
                      sb_threadpool *threads)
{
    if (m <= 0) return;
    quantize_job job = { A, lda, m, k, dst };
    const int tasks = (m + QUANTIZE_ROWS_PER_TASK - 1) / QUANTIZE_ROWS_PER_TASK;
    sb_threadpool_run(threads, tasks, sb_threadpool_threads(threads), quantize_task, &job);
}

/* One panel's 64-byte quads summed lane by lane, then each column's four lanes. */
void sb_q8_column_sums_scalar(const int8_t *panel, size_t quads, int32_t sums[SB_PANEL])
{
    enum { QUAD_BYTES = SB_PANEL * SB_Q8_QUAD };
    int32_t lanes[QUAD_BYTES] = {0};
    for (size_t q = 0; q < quads; q++)
        for (int b = 0; b < QUAD_BYTES; b++)
            lanes[b] += panel[q * QUAD_BYTES + (size_t)b];
    for (int c = 0; c < SB_PANEL; c++)
        sums[c] = lanes[4 * c] + lanes[4 * c + 1] + lanes[4 * c + 2] + lanes[4 * c + 3];
}

void sb_q8_column_sums(const sb_linear *W, int32_t *sums)
{
    const sb_gemm_q8_kernels *kern = sb_q8_kernels();
    const size_t quads = sb_q8_padded_k(W->n_in) / SB_Q8_QUAD, panel = sb_panel_bytes(W);
    for (int p = 0; p * SB_PANEL < W->n_out; p++) {
        int32_t panel_sums[SB_PANEL];
        kern->column_sums((const int8_t *)W->weight + (size_t)p * panel, quads, panel_sums);
        for (int c = 0; c < SB_PANEL && p * SB_PANEL + c < W->n_out; c++)
            sums[p * SB_PANEL + c] = panel_sums[c];
    }
}

/* ---- portable micro-kernel: 4 x 16 ---------------------------------------------------------- */
#define SCALAR_MR 4

/* The epilogue's value of one element: the same float operations as the SIMD kernels'. */
static inline float dequantize(int32_t sum, int j, int i, const sb_tile_epilogue *ep)
{
    const float scale = ep->col_scale[j] * ep->row_scale[i];
    return (float)(sum - ep->row_zero[i] * ep->col_sum[j]) * scale;
}

static void tile_q8_scalar(int rows, int k4, const uint8_t *a, size_t ldq, const int8_t *w,
                           float *c, size_t ldc, int n_valid, const sb_tile_epilogue *ep)
{
    int32_t acc[SCALAR_MR][SB_PANEL] = {{0}};
    for (int quad = 0; quad < k4; quad++) {
        const int8_t *wq = w + (size_t)quad * SB_PANEL * SB_Q8_QUAD;
        for (int i = 0; i < rows; i++) { /* the j loop vectorizes with whatever SIMD the compiler has */
            const uint8_t *ai = a + (size_t)i * ldq + (size_t)quad * SB_Q8_QUAD;
            const int32_t a0 = ai[0], a1 = ai[1], a2 = ai[2], a3 = ai[3];
            for (int j = 0; j < SB_PANEL; j++)
                acc[i][j] += a0 * wq[4 * j] + a1 * wq[4 * j + 1] + a2 * wq[4 * j + 2] +
                             a3 * wq[4 * j + 3];
        }
    }
    for (int i = 0; i < rows; i++) {
        float *ci = c + (size_t)i * ldc;
        const float *res = ep->residual ? ep->residual + (size_t)i * ep->ldr : NULL;
        for (int j = 0; j < n_valid; j++) {
            float v = dequantize(acc[i][j], j, i, ep);
            if (ep->bias) v += ep->bias[j];
            if (ep->act != SB_ACT_IDENTITY) v = sb_act_scalar(v, ep->act);
            if (res) v += res[j];
            ci[j] = v;
        }
    }
}

#define SCALAR_Q8_TILE(R)                                                                     \
    static void tile_q8_scalar_##R(int k4, const uint8_t *a, size_t ldq, const int8_t *w,     \
                                   size_t panel_stride, float *c, size_t ldc, int n_valid,    \
                                   const sb_tile_epilogue *ep)                                \
    {                                                                                         \
        (void)panel_stride;                                                                   \
        tile_q8_scalar(R, k4, a, ldq, w, c, ldc, n_valid, ep);                                \
    }
SCALAR_Q8_TILE(1) SCALAR_Q8_TILE(2) SCALAR_Q8_TILE(3) SCALAR_Q8_TILE(4)

const sb_gemm_q8_kernels sb_gemm_q8_kernels_scalar = {
    .mr = SCALAR_MR, .panels = 1, .mc = 64,
    .tile = {{ tile_q8_scalar_1, tile_q8_scalar_2, tile_q8_scalar_3, tile_q8_scalar_4 }},
    .quantize_row = sb_q8_quantize_row_scalar,
    .column_sums = sb_q8_column_sums_scalar,
};

const sb_gemm_q8_kernels *sb_q8_kernels(void)
{
#ifdef SB_X86
    switch (sb_kernels_q8()) {
    case SB_Q8_AMX: return sb_gemm_q8_kernels_amx; /* not chosen when the build has none */
    case SB_Q8_AVX512_VNNI: return &sb_gemm_q8_kernels_avx512vnni;
    case SB_Q8_AVX_VNNI: return &sb_gemm_q8_kernels_avxvnni;
    case SB_Q8_AVX2: return &sb_gemm_q8_kernels_avx2;
    default: break;
    }
#endif
    return &sb_gemm_q8_kernels_scalar;
}
