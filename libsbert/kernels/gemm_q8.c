/* int8 weights (SB_WEIGHTS_I8): quantizing rows of A, the portable micro-kernel, and the weights'
 * column sums. The driver is gemm.c's (sb_gemm_q8), the AVX512-VNNI kernels are in
 * gemm_q8_avx512vnni.c.
 *
 * Arithmetic: A's row i is quantized to qa = round(a * 127 / max|a_i|) in [-127, 127] and stored
 * as the unsigned byte qa + 128 (vpdpbusd multiplies unsigned by signed bytes). The kernels sum
 * (qa + 128) q_w in int32, exactly, and the epilogue removes the zero point with the weights'
 * column sum: sum (qa + 128) q_w - 128 sum q_w = sum qa q_w. Integer sums are exact in any order,
 * so every instruction set and tiling gives the same bits up to the activation (each instruction
 * set has its own, as in the fp32 kernels). */
#include "kernels/kernels_impl.h"

#include <math.h>
#include <string.h>

/* ---- quantizing A --------------------------------------------------------------------------- */

/* The one rounding rule, shared by every ISA: the product x * inv, clamped to +-127 (which also
 * sends NaN to a bound, so no undefined float-to-int conversion), rounded to nearest even. */
void sb_q8_quantize_row_scalar(const float *x, int k, uint8_t *q, float *scale)
{
    float amax = 0.0f;
    for (int i = 0; i < k; i++)
        amax = fmaxf(amax, fabsf(x[i]));
    const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
    for (int i = 0; i < k; i++) {
        const float v = fminf(fmaxf(x[i] * inv, -127.0f), 127.0f);
        q[i] = (uint8_t)((int)nearbyintf(v) + 128);
    }
    for (size_t i = (size_t)k; i < sb_q8_padded_k(k); i++)
        q[i] = 128;
    *scale = amax / 127.0f;
}

#define ALIGN64(n) (((n) + 63) / 64 * 64)

size_t sb_q8_rows_bytes(int m, int k)
{
    return ALIGN64((size_t)m * ALIGN64(sb_q8_padded_k(k))) + ALIGN64((size_t)m * sizeof(float));
}

sb_q8_rows sb_q8_rows_in(void *buffer, int m, int k)
{
    const size_t ldq = ALIGN64(sb_q8_padded_k(k));
    return (sb_q8_rows){ .q = buffer, .ldq = ldq,
                         .scale = (float *)((char *)buffer + ALIGN64((size_t)m * ldq)) };
}

typedef struct {
    const float *a;
    size_t lda;
    int m, k;
    const sb_q8_rows *dst;
    const sb_gemm_q8_kernels *kern;
} quantize_job;

#define QUANTIZE_ROWS_PER_TASK 64

static void quantize_task(void *arg, int task, int thread)
{
    (void)thread;
    const quantize_job *job = arg;
    const int first = task * QUANTIZE_ROWS_PER_TASK;
    const int last = first + QUANTIZE_ROWS_PER_TASK < job->m ? first + QUANTIZE_ROWS_PER_TASK : job->m;
    for (int i = first; i < last; i++)
        job->kern->quantize_row(job->a + (size_t)i * job->lda, job->k,
                                job->dst->q + (size_t)i * job->dst->ldq, &job->dst->scale[i]);
}

void sb_quantize_rows(const float *A, size_t lda, int m, int k, const sb_q8_rows *dst,
                      sb_threadpool *threads)
{
    if (m <= 0) return;
    quantize_job job = { A, lda, m, k, dst, sb_q8_kernels() };
    const int tasks = (m + QUANTIZE_ROWS_PER_TASK - 1) / QUANTIZE_ROWS_PER_TASK;
    sb_threadpool_run(threads, tasks, sb_threadpool_threads(threads), quantize_task, &job);
}

/* A panel at a time, its 64-byte quads summed lane by lane (which vectorizes), then each column's
 * four lanes. */
void sb_q8_column_sums(const sb_linear *W, int32_t *sums)
{
    enum { QUAD_BYTES = SB_PANEL * SB_Q8_QUAD };
    const size_t quads = sb_q8_padded_k(W->n_in) / SB_Q8_QUAD, panel = sb_panel_bytes(W);
    for (int p = 0; p * SB_PANEL < W->n_out; p++) {
        const int8_t *w = (const int8_t *)W->weight + (size_t)p * panel;
        int32_t lanes[QUAD_BYTES] = {0};
        for (size_t q = 0; q < quads; q++)
            for (int b = 0; b < QUAD_BYTES; b++)
                lanes[b] += w[q * QUAD_BYTES + (size_t)b];
        for (int c = 0; c < SB_PANEL && p * SB_PANEL + c < W->n_out; c++)
            sums[p * SB_PANEL + c] = lanes[4 * c] + lanes[4 * c + 1] + lanes[4 * c + 2] +
                                     lanes[4 * c + 3];
    }
}

/* ---- portable micro-kernel: 4 x 16 ---------------------------------------------------------- */
#define SCALAR_MR 4

/* The epilogue's value of one element: the same float operations as the SIMD kernels'. */
static inline float dequantize(int32_t sum, int j, int i, const sb_tile_epilogue *ep)
{
    const float scale = ep->col_scale[j] * ep->row_scale[i];
    return (float)(sum - 128 * ep->col_sum[j]) * scale;
}

static void tile_q8_scalar(int rows, int k4, const uint8_t *a, size_t ldq, const int8_t *w,
                           float *c, size_t ldc, int n_valid, const sb_tile_epilogue *ep)
{
    int32_t acc[SCALAR_MR][SB_PANEL] = {{0}};
    for (int quad = 0; quad < k4; quad++) {
        const int8_t *wq = w + (size_t)quad * SB_PANEL * SB_Q8_QUAD;
        for (int i = 0; i < rows; i++) {
            const uint8_t *ai = a + (size_t)i * ldq + (size_t)quad * SB_Q8_QUAD;
            for (int j = 0; j < SB_PANEL; j++)
                for (int r = 0; r < SB_Q8_QUAD; r++)
                    acc[i][j] += (int32_t)ai[r] * wq[j * SB_Q8_QUAD + r];
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
};

const sb_gemm_q8_kernels *sb_q8_kernels(void)
{
#ifdef SB_X86
    if (sb_kernels_vnni()) return &sb_gemm_q8_kernels_avx512vnni;
    if (sb_kernels_isa() >= SB_ISA_AVX2) return &sb_gemm_q8_kernels_avx2;
#endif
    return &sb_gemm_q8_kernels_scalar;
}
