/* I8 micro-kernels for AVX2 (machines without AVX512-VNNI): the same exact integer sums as the VNNI
 * and portable kernels, so the same results, with the instructions AVX2 has.
 *
 * vpmaddubsw multiplies unsigned by signed bytes and adds pairs into int16, saturating: with A's
 * bytes as stored (q + 128, up to 255) a pair can reach 2 * 255 * 127, past int16. So the kernel
 * takes A back to signed (q in [-127, 127]) and moves its sign onto W (vpsignb): |q_a| * (q_w
 * sign(q_a)) pairs stay within 2 * 128 * 127 < 2^15, exact; vpmaddwd with ones then adds the pairs
 * of pairs into int32. The sums are sum (q_a - 128) q_w; the epilogue adds (128 - zero) sum q_w
 * to get the sum (q_a - zero) q_w of the other kernels. (A byte 0 gives -128, whose vpsignb
 * magnitude wraps to 0x80: read as unsigned by vpmaddubsw, 128, as it should be.)
 *
 * Full tile 6 x 16 (one panel, 2 ymm of 8 columns x 4 k): 12 accumulators + 2 W + 2 temporaries
 * fit the 16 ymm registers. About as fast as the fp32 AVX2 kernel; the VNNI kernel is the fast one.
 * The quantizer is the portable one (gemm_q8.c). */
#include "kernels/kernels_impl.h"
#ifdef SB_X86
#include <math.h>
#include <string.h>

#include "kernels/simd_avx2.h"
#include "kernels/vecmath.h"
#include "kernels/gemm_simd.h"

static inline __attribute__((always_inline)) void
dot_tile_q8(const int R, int k4, const uint8_t *a, size_t ldq, const int8_t *w, int32_t *out)
{
    __m256i acc[6][2];
#pragma GCC unroll 8
    for (int i = 0; i < R; i++) acc[i][0] = acc[i][1] = _mm256_setzero_si256();
    const __m256i ones = _mm256_set1_epi16(1), zero_point = _mm256_set1_epi8((char)0x80);
    for (int quad = 0; quad < k4; quad++) {
        const int8_t *wq = w + (size_t)quad * SB_PANEL * SB_Q8_QUAD;
        prefetch_ahead(wq);
        const __m256i w0 = _mm256_loadu_si256((const __m256i *)wq);
        const __m256i w1 = _mm256_loadu_si256((const __m256i *)(wq + 32));
#pragma GCC unroll 8
        for (int i = 0; i < R; i++) {
            int32_t four;
            memcpy(&four, a + (size_t)i * ldq + 4 * quad, 4);
            const __m256i q = _mm256_xor_si256(_mm256_set1_epi32(four), zero_point); /* signed */
            const __m256i magnitude = _mm256_sign_epi8(q, q);
            const __m256i p0 = _mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(w0, q));
            const __m256i p1 = _mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(w1, q));
            acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(p0, ones));
            acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(p1, ones));
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < R; i++) {
        _mm256_store_si256((__m256i *)(out + i * SB_TILE_COLS), acc[i][0]);
        _mm256_store_si256((__m256i *)(out + i * SB_TILE_COLS + 8), acc[i][1]);
    }
}

static inline __attribute__((always_inline)) void
tile_q8(const int R, int k4, const uint8_t *a, size_t ldq, const int8_t *w, float *c, size_t ldc,
        int n_valid, const sb_tile_epilogue *ep)
{
    int32_t isums[6 * SB_TILE_COLS] __attribute__((aligned(32)));
    dot_tile_q8(R, k4, a, ldq, w, isums);
    /* dequantize as gemm_q8.c's dequantize(): (float)(sum - zero col_sum) * (col_scale * row_scale),
     * the integer part from sum - 128 col_sum + (128 - zero) col_sum */
    float sums[6 * SB_TILE_COLS] __attribute__((aligned(32)));
    for (int j = 0; j < 2; j++) {
        const int cols = n_valid - j * V_LANES;
        if (cols <= 0) break;
        const __m256 col_scale = cols >= V_LANES ? v_loadu(ep->col_scale + j * V_LANES)
                                                 : v_load_n(ep->col_scale + j * V_LANES, cols, 0.0f);
        const __m256i col_sum = cols >= V_LANES
            ? _mm256_loadu_si256((const __m256i *)(ep->col_sum + j * V_LANES))
            : _mm256_maskload_epi32((const int *)ep->col_sum + j * V_LANES, v_mask_n(cols));
        for (int i = 0; i < R; i++) {
            const __m256 scale = _mm256_mul_ps(col_scale, _mm256_set1_ps(ep->row_scale[i]));
            const __m256i shift = _mm256_mullo_epi32(col_sum, _mm256_set1_epi32(128 - ep->row_zero[i]));
            const __m256i sum = _mm256_add_epi32(
                _mm256_load_si256((const __m256i *)(isums + i * SB_TILE_COLS + j * V_LANES)), shift);
            v_storeu(sums + i * SB_TILE_COLS + j * V_LANES, _mm256_mul_ps(_mm256_cvtepi32_ps(sum), scale));
        }
    }
    finish_rows(R, 2, sums, c, ldc, n_valid, ep);
}

#define Q8_TILE(R)                                                                            \
    static void tile_q8_##R(int k4, const uint8_t *a, size_t ldq, const int8_t *w,            \
                            size_t panel_stride, float *c, size_t ldc, int n_valid,           \
                            const sb_tile_epilogue *ep)                                       \
    {                                                                                         \
        (void)panel_stride;                                                                   \
        tile_q8(R, k4, a, ldq, w, c, ldc, n_valid, ep);                                       \
    }
Q8_TILE(1) Q8_TILE(2) Q8_TILE(3) Q8_TILE(4) Q8_TILE(5) Q8_TILE(6)


const sb_gemm_q8_kernels sb_gemm_q8_kernels_avx2 = {
    .mr = 6, .panels = 1, .mc = 96,
    .tile = {{ tile_q8_1, tile_q8_2, tile_q8_3, tile_q8_4, tile_q8_5, tile_q8_6 }},
    .quantize_row = sb_q8_quantize_row_scalar,
};
#endif
