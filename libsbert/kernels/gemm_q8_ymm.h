/* I8 micro-kernels on 256-bit vectors, written once for two instruction sets and included by
 * gemm_q8_avx2.c (AVX2 alone) and gemm_q8_avxvnni.c (AVX2 + AVX-VNNI, compiled with -mavxvnni, so
 * __AVXVNNI__ is defined there). Both give the exact integer sums of the VNNI-512 and portable
 * kernels, so the same results.
 *
 * With AVX-VNNI (the VEX-encoded vpdpbusd of Intel's Alder Lake and later client CPUs, AMD Zen 5):
 * one instruction multiplies A's unsigned bytes as stored by W's signed bytes and adds each four
 * products into int32, exactly. The sums are sum q_a q_w; the epilogue subtracts zero col_sum.
 *
 * AVX2 alone: vpmaddubsw multiplies unsigned by signed bytes and adds pairs into int16, saturating:
 * with A's bytes as stored (q + 128, up to 255) a pair can reach 2 * 255 * 127, past int16. So the
 * kernel takes A back to signed (s = q - 128) and moves its sign onto W (vpsignb): |s| *
 * (q_w sign(s)) pairs stay within 2 * 128 * 127 < 2^15, exact; vpmaddwd with ones then adds the
 * pairs of pairs into int32. The sums are sum (q_a - 128) q_w; the epilogue adds (128 - zero)
 * sum q_w. (A byte 0 gives -128, whose magnitude wraps to 0x80: read as unsigned by vpmaddubsw,
 * 128, as it should be.) s and |s| are made once per row by prepare_row_ymm (sb_quantize_rows),
 * not once per 16-column tile: per quad of k, each row's 4 bytes of s then its 4 bytes of |s|.
 *
 * Full tile 6 x 16 (one panel, 2 ymm of 8 columns x 4 k): 12 accumulators + 2 W + the broadcast
 * (and AVX2's temporaries) fit the 16 ymm registers. The quantizer is the portable one's rule on
 * 8 lanes. The including file defines Q8_YMM_TABLE, the name of its kernel table. */
#include <math.h>
#include <string.h>

#include "kernels/simd_avx2.h"
#include "kernels/vecmath.h"
#include "kernels/gemm_simd.h"

#ifdef __AVXVNNI__
/* the sums are sum q_a q_w: the epilogue subtracts zero col_sum, as VNNI-512's */
#define A_OFFSET 0
#else
/* the sums are sum (q_a - 128) q_w: the epilogue adds (128 - zero) col_sum */
#define A_OFFSET 128
#endif

#ifdef __AVXVNNI__
#define A_QUAD_BYTES 4 /* a row of A as quantized: 4 bytes per quad */
/* acc[0..1] += the products of one row's quad of A (a) with a quad of W's panel */
static inline __attribute__((always_inline)) void dot_quad(__m256i acc[2], const uint8_t *a,
                                                           __m256i w0, __m256i w1)
{
    int32_t four;
    memcpy(&four, a, 4);
    const __m256i q = _mm256_set1_epi32(four);
    acc[0] = _mm256_dpbusd_avx_epi32(acc[0], q, w0);
    acc[1] = _mm256_dpbusd_avx_epi32(acc[1], q, w1);
}
#else
#define A_QUAD_BYTES 8 /* a prepared row of A: 4 bytes of s, 4 of |s| per quad */
static inline __attribute__((always_inline)) void dot_quad(__m256i acc[2], const uint8_t *a,
                                                           __m256i w0, __m256i w1)
{
    int32_t signed_four, magnitude_four;
    memcpy(&signed_four, a, 4);
    memcpy(&magnitude_four, a + 4, 4);
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i s = _mm256_set1_epi32(signed_four), magnitude = _mm256_set1_epi32(magnitude_four);
    const __m256i p0 = _mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(w0, s));
    const __m256i p1 = _mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(w1, s));
    acc[0] = _mm256_add_epi32(acc[0], _mm256_madd_epi16(p0, ones));
    acc[1] = _mm256_add_epi32(acc[1], _mm256_madd_epi16(p1, ones));
}

/* prep = per quad of q: the 4 bytes s = q - 128 (as int8: q ^ 0x80), then their 4 magnitudes. */
static void prepare_row_ymm(const uint8_t *q, size_t padded_k, uint8_t *prep)
{
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    size_t i = 0;
    for (; i + 32 <= padded_k; i += 32) { /* 8 quads */
        const __m256i s = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(q + i)), flip);
        const __m256i magnitude = _mm256_sign_epi8(s, s);
        /* per 128-bit lane: quads (0, 1) and (2, 3) of the lane, each s then |s| */
        const __m256i lo = _mm256_unpacklo_epi32(s, magnitude);
        const __m256i hi = _mm256_unpackhi_epi32(s, magnitude);
        _mm256_storeu_si256((__m256i *)(prep + 2 * i), _mm256_permute2x128_si256(lo, hi, 0x20));
        _mm256_storeu_si256((__m256i *)(prep + 2 * i + 32),
                            _mm256_permute2x128_si256(lo, hi, 0x31));
    }
    for (; i < padded_k; i++) {
        const int8_t s = (int8_t)(q[i] ^ 0x80);
        prep[2 * (i & ~(size_t)3) + (i & 3)] = (uint8_t)s;
        prep[2 * (i & ~(size_t)3) + 4 + (i & 3)] = (uint8_t)(s < 0 ? -s : s); /* -128 -> 0x80 */
    }
}
#endif

static inline __attribute__((always_inline)) void
dot_tile_q8(const int R, int k4, const uint8_t *a, size_t ldq, const int8_t *w, int32_t *out)
{
    __m256i acc[6][2];
#pragma GCC unroll 8
    for (int i = 0; i < R; i++) acc[i][0] = acc[i][1] = _mm256_setzero_si256();
    for (int quad = 0; quad < k4; quad++) {
        const int8_t *wq = w + (size_t)quad * SB_PANEL * SB_Q8_QUAD;
        prefetch_ahead(wq);
        const __m256i w0 = _mm256_loadu_si256((const __m256i *)wq);
        const __m256i w1 = _mm256_loadu_si256((const __m256i *)(wq + 32));
#pragma GCC unroll 8
        for (int i = 0; i < R; i++)
            dot_quad(acc[i], a + (size_t)i * ldq + A_QUAD_BYTES * quad, w0, w1);
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
    prefetch_residual(R, 2 * V_LANES, ep); /* the tile's 16 columns */
    dot_tile_q8(R, k4, a, ldq, w, isums);
    /* dequantize as gemm_q8.c's dequantize(): (float)(sum - zero col_sum) * (col_scale * row_scale),
     * the integer part from the sums plus (A_OFFSET - zero) col_sum */
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
            const __m256i shift = _mm256_mullo_epi32(col_sum, _mm256_set1_epi32(A_OFFSET - ep->row_zero[i]));
            const __m256i sum = _mm256_add_epi32(
                _mm256_load_si256((const __m256i *)(isums + i * SB_TILE_COLS + j * V_LANES)), shift);
            v_storeu(sums + i * SB_TILE_COLS + j * V_LANES, _mm256_mul_ps(_mm256_cvtepi32_ps(sum), scale));
        }
    }
    finish_rows(R, 2, sums, c, ldc, n_valid, ep);
}

/* The scalar quantizer's rule (gemm_q8.c) on 8 lanes: the same range, product, clamps and
 * round-to-nearest-even conversion (the portable loop is not vectorised at -O2, and A's
 * quantization took as long as the AVX-VNNI GEMM of the attention output). */
static void quantize_row_ymm(const float *x, int k, uint8_t *q, float *scale, int32_t *zero)
{
    /* min_ps / max_ps(a, b) return b when a is NaN: x first skips NaN, as fminf / fmaxf do */
    __m256 vlo = _mm256_setzero_ps(), vhi = _mm256_setzero_ps();
    for (int i = 0; i < k; i += 8) {
        const __m256 xs = k - i >= 8 ? _mm256_loadu_ps(x + i) : v_load_n(x + i, k - i, 0.0f);
        vlo = _mm256_min_ps(xs, vlo);
        vhi = _mm256_max_ps(xs, vhi);
    }
    float lanes_lo[8], lanes_hi[8], lo = 0.0f, hi = 0.0f, inv;
    _mm256_storeu_ps(lanes_lo, vlo);
    _mm256_storeu_ps(lanes_hi, vhi);
    for (int j = 0; j < 8; j++)
        lo = fminf(lo, lanes_lo[j]), hi = fmaxf(hi, lanes_hi[j]);
    sb_q8_row_params(lo, hi, scale, &inv, zero);
    const __m256 vinv = _mm256_set1_ps(inv), bound_lo = _mm256_set1_ps(-255.0f),
                 bound_hi = _mm256_set1_ps(255.0f);
    const __m256i zero_point = _mm256_set1_epi32(*zero), byte_max = _mm256_set1_epi32(255);
    for (int i = 0; i < k; i += 8) {
        const int n = k - i < 8 ? k - i : 8;
        const __m256 xs = n == 8 ? _mm256_loadu_ps(x + i) : v_load_n(x + i, n, 0.0f);
        const __m256 v = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(xs, vinv), bound_lo), bound_hi);
        __m256i qi = _mm256_add_epi32(_mm256_cvtps_epi32(v), zero_point);
        qi = _mm256_min_epi32(_mm256_max_epi32(qi, _mm256_setzero_si256()), byte_max);
        /* 8 int32 in 0 .. 255 -> 8 bytes (both packs saturate, nothing to saturate here) */
        const __m128i words = _mm_packus_epi32(_mm256_castsi256_si128(qi),
                                               _mm256_extracti128_si256(qi, 1));
        uint8_t bytes[16];
        _mm_storeu_si128((__m128i *)bytes, _mm_packus_epi16(words, words));
        memcpy(q + i, bytes, (size_t)n);
    }
    for (size_t p = (size_t)k; p < sb_q8_padded_k(k); p++)
        q[p] = (uint8_t)*zero;
}

/* Each column's four bytes of a quad into its int32 lane, through dot_quad() with A's bytes all
 * standing for 1 (with VNNI the byte 1; without, s = 1 and |s| = 1). */
static void column_sums_ymm(const int8_t *panel, size_t quads, int32_t sums[SB_PANEL])
{
    uint8_t one[8];
    memset(one, 1, sizeof one);
    __m256i acc[2] = { _mm256_setzero_si256(), _mm256_setzero_si256() };
    for (size_t q = 0; q < quads; q++) {
        const int8_t *wq = panel + q * SB_PANEL * SB_Q8_QUAD;
        dot_quad(acc, one, _mm256_loadu_si256((const __m256i *)wq),
                 _mm256_loadu_si256((const __m256i *)(wq + 32)));
    }
    _mm256_storeu_si256((__m256i *)sums, acc[0]);
    _mm256_storeu_si256((__m256i *)(sums + 8), acc[1]);
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

const sb_gemm_q8_kernels Q8_YMM_TABLE = {
    .mr = 6, .panels = 1, .mc = 96,
    .tile = {{ tile_q8_1, tile_q8_2, tile_q8_3, tile_q8_4, tile_q8_5, tile_q8_6 }},
    .quantize_row = quantize_row_ymm,
    .column_sums = column_sums_ymm,
#ifndef __AVXVNNI__
    .prepare_row = prepare_row_ymm,
#endif
};
