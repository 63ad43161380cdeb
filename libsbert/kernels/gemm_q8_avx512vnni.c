/* I8 micro-kernels for AVX512-VNNI (compiled with -mavx512vnni on top of the AVX-512 flags; used
 * only when CPUID reports VNNI, see cpu.c), and the quantizer of A's rows.
 *
 * Full tile 12 x 32, as the fp32 kernel: 24 int32 accumulators, and per quad of k, 2 loads of W
 * (16 columns x 4 bytes each) and 12 broadcasts of 4 bytes of A feed 24 vpdpbusd, each 64
 * multiply-adds: 4 times the fp32 kernel's multiply-add rate per core (docs/bench/README.md).
 * Blocking as the fp32 kernel's (mc = 96 rows); the A block is a quarter of the bytes. */
#include "kernels/kernels_impl.h"
#ifdef SB_X86
#include <math.h>
#include <string.h>

#include "kernels/simd_avx512.h"
#include "kernels/vecmath.h"
#include "kernels/gemm_simd.h"
#include "kernels/gemm_q8_zmm.h"

/* out[i * SB_TILE_COLS + 16 j ..] = the int32 sums of the tile. Kept apart from the epilogue:
 * with both in one body, GCC 12 copied and spilled every accumulator at every quad (3 times
 * slower); stored once at the end, they stay in registers. */
static inline __attribute__((always_inline)) void
dot_tile_q8(const int R, const int P, int k4, const uint8_t *a, size_t ldq, const int8_t *w,
            size_t panel_stride, int32_t *out)
{
    __m512i acc[SB_MAX_MR][SB_MAX_PANELS];
#pragma GCC unroll 32
    for (int i = 0; i < R; i++)
#pragma GCC unroll 8
        for (int j = 0; j < P; j++) acc[i][j] = _mm512_setzero_si512();
    const uint8_t *a_hi = R > 6 ? a + 6 * ldq : a; /* as the fp32 kernel: fewer row offsets */
    for (int quad = 0; quad < k4; quad++) {
        __m512i b[SB_MAX_PANELS];
#pragma GCC unroll 8
        for (int j = 0; j < P; j++) {
            const int8_t *wq = w + j * panel_stride + (size_t)quad * SB_PANEL * SB_Q8_QUAD;
            prefetch_ahead(wq);
            b[j] = _mm512_loadu_si512(wq);
        }
#pragma GCC unroll 32
        for (int i = 0; i < R; i++) {
            int32_t four;
            memcpy(&four, (i < 6 ? a + (size_t)i * ldq : a_hi + (size_t)(i - 6) * ldq) + 4 * quad, 4);
            const __m512i ai = _mm512_set1_epi32(four);
#pragma GCC unroll 8
            for (int j = 0; j < P; j++) acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], ai, b[j]);
        }
    }
#pragma GCC unroll 32
    for (int i = 0; i < R; i++)
#pragma GCC unroll 8
        for (int j = 0; j < P; j++)
            _mm512_store_si512(out + i * SB_TILE_COLS + j * V_LANES, acc[i][j]);
}

static inline __attribute__((always_inline)) void
tile_q8(const int R, const int P, int k4, const uint8_t *a, size_t ldq, const int8_t *w,
        size_t panel_stride, float *c, size_t ldc, int n_valid, const sb_tile_epilogue *ep)
{
    int32_t isums[SB_MAX_MR * SB_TILE_COLS] __attribute__((aligned(64)));
    prefetch_residual(R, P * SB_PANEL, ep);
    dot_tile_q8(R, P, k4, a, ldq, w, panel_stride, isums);
    finish_q8_tile(R, P, isums, c, ldc, n_valid, ep);
}

/* The scalar quantizer's rule (gemm_q8.c) on 16 lanes: the same range, product, clamps and
 * round-to-nearest-even conversion. */
void sb_q8_quantize_row_avx512(const float *x, int k, uint8_t *q, float *scale, int32_t *zero)
{
    /* min_ps / max_ps(a, b) return b when a is NaN: x first skips NaN, as fminf / fmaxf do */
    __m512 vlo = _mm512_setzero_ps(), vhi = _mm512_setzero_ps();
    for (int i = 0; i < k; i += 16) {
        const __m512 xs = k - i >= 16 ? _mm512_loadu_ps(x + i) : v_load_n(x + i, k - i, 0.0f);
        vlo = _mm512_min_ps(xs, vlo);
        vhi = _mm512_max_ps(xs, vhi);
    }
    float inv;
    sb_q8_row_params(_mm512_reduce_min_ps(vlo), _mm512_reduce_max_ps(vhi), scale, &inv, zero);
    const __m512 vinv = _mm512_set1_ps(inv), lo = _mm512_set1_ps(-255.0f), hi = _mm512_set1_ps(255.0f);
    const __m512i zero_point = _mm512_set1_epi32(*zero), byte_max = _mm512_set1_epi32(255);
    for (int i = 0; i < k; i += 16) {
        const int n = k - i < 16 ? k - i : 16;
        const __m512 xs = n == 16 ? _mm512_loadu_ps(x + i) : v_load_n(x + i, n, 0.0f);
        const __m512 v = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(xs, vinv), lo), hi);
        __m512i qi = _mm512_add_epi32(_mm512_cvtps_epi32(v), zero_point);
        qi = _mm512_min_epi32(_mm512_max_epi32(qi, _mm512_setzero_si512()), byte_max);
        _mm_mask_storeu_epi8(q + i, (__mmask16)((1u << n) - 1u), _mm512_cvtepi32_epi8(qi));
    }
    for (size_t p = (size_t)k; p < sb_q8_padded_k(k); p++)
        q[p] = (uint8_t)*zero;
}

/* vpdpbusd with bytes of 1 adds each column's four bytes of a quad into its int32 lane */
void sb_q8_column_sums_avx512(const int8_t *panel, size_t quads, int32_t sums[SB_PANEL])
{
    __m512i acc = _mm512_setzero_si512();
    const __m512i ones = _mm512_set1_epi8(1);
    for (size_t q = 0; q < quads; q++)
        acc = _mm512_dpbusd_epi32(acc, ones, _mm512_loadu_si512(panel + q * SB_PANEL * SB_Q8_QUAD));
    _mm512_storeu_si512(sums, acc);
}

#define Q8_TILE(R, P)                                                                         \
    static void tile_q8_##R##x##P(int k4, const uint8_t *a, size_t ldq, const int8_t *w,      \
                                  size_t panel_stride, float *c, size_t ldc, int n_valid,     \
                                  const sb_tile_epilogue *ep)                                 \
    {                                                                                         \
        tile_q8(R, P, k4, a, ldq, w, panel_stride, c, ldc, n_valid, ep);                      \
    }
#define Q8_TILES(P)                                                                           \
    Q8_TILE(1, P) Q8_TILE(2, P) Q8_TILE(3, P) Q8_TILE(4, P) Q8_TILE(5, P) Q8_TILE(6, P)       \
    Q8_TILE(7, P) Q8_TILE(8, P) Q8_TILE(9, P) Q8_TILE(10, P) Q8_TILE(11, P) Q8_TILE(12, P)
#define Q8_ROW(P)                                                                             \
    { tile_q8_1x##P, tile_q8_2x##P, tile_q8_3x##P, tile_q8_4x##P, tile_q8_5x##P,              \
      tile_q8_6x##P, tile_q8_7x##P, tile_q8_8x##P, tile_q8_9x##P, tile_q8_10x##P,             \
      tile_q8_11x##P, tile_q8_12x##P }

Q8_TILES(1)
Q8_TILES(2)

const sb_gemm_q8_kernels sb_gemm_q8_kernels_avx512vnni = {
    .mr = 12, .panels = 2, .mc = 96,
    .tile = { Q8_ROW(1), Q8_ROW(2) },
    .quantize_row = sb_q8_quantize_row_avx512,
    .column_sums = sb_q8_column_sums_avx512,
};
#endif
