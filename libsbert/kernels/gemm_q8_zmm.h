/* The epilogue of the 512-bit I8 kernels (gemm_q8_avx512vnni.c, gemm_q8_amx.c), which both end
 * with a tile's exact int32 sums of q_a q_w in memory: dequantize them (dequantize() in
 * gemm_q8.c, the same operations lane by lane), then bias, activation and residual. Include
 * simd_avx512.h, vecmath.h and gemm_simd.h first. */
#ifndef SBERT_GEMM_Q8_ZMM_H
#define SBERT_GEMM_Q8_ZMM_H

/* 16 int32 sums of one row's panel -> float with the epilogue's scale */
static inline __attribute__((always_inline)) __m512 dequantize16(__m512i sum, __m512i col_sum,
                                                                 int32_t row_zero,
                                                                 __m512 col_scale, float row_scale)
{
    const __m512 scale = _mm512_mul_ps(col_scale, _mm512_set1_ps(row_scale));
    const __m512i zero_part = _mm512_mullo_epi32(col_sum, _mm512_set1_epi32(row_zero));
    return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(sum, zero_part)), scale);
}

/* C's rows 0 .. R-1 (R <= SB_MAX_MR), columns 0 .. n_valid-1 (within P panels), from the sums
 * isums[R][SB_TILE_COLS]. */
static inline __attribute__((always_inline)) void
finish_q8_tile(const int R, const int P, const int32_t *isums, float *c, size_t ldc, int n_valid,
               const sb_tile_epilogue *ep)
{
    /* to floats on the stack; bias, act and residual follow row by row (finish_rows) */
    float sums[SB_MAX_MR * SB_TILE_COLS] __attribute__((aligned(64)));
    __m512i col_sum[SB_MAX_PANELS];
    __m512 col_scale[SB_MAX_PANELS];
#pragma GCC unroll 8
    for (int j = 0; j < P; j++) {
        const int cols = n_valid - j * V_LANES;
        const __mmask16 valid = cols >= V_LANES ? (__mmask16)0xFFFF : v_mask_n(cols > 0 ? cols : 0);
        col_sum[j] = _mm512_maskz_loadu_epi32(valid, ep->col_sum + j * V_LANES);
        col_scale[j] = _mm512_maskz_loadu_ps(valid, ep->col_scale + j * V_LANES);
    }
    for (int i = 0; i < R; i++)
        for (int j = 0; j < P; j++)
            v_storeu(sums + i * SB_TILE_COLS + j * V_LANES,
                     dequantize16(_mm512_loadu_si512(isums + i * SB_TILE_COLS + j * V_LANES),
                                  col_sum[j], ep->row_zero[i], col_scale[j], ep->row_scale[i]));
    finish_rows(R, P, sums, c, ldc, n_valid, ep);
}

#endif
