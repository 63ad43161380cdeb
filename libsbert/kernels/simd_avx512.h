/* The vector layer that vecmath.h, ops_simd.h and gemm_simd.h are written against, for AVX-512
 * (16 floats). Included only by *_avx512.c, which are compiled with -mavx512f/bw/vl/dq -mfma. */
#ifndef SBERT_SIMD_AVX512_H
#define SBERT_SIMD_AVX512_H
#include <immintrin.h>
#include <stdint.h>

#define VF __m512
#define V_LANES 16
#define v_zero() _mm512_setzero_ps()
#define v_set1(x) _mm512_set1_ps(x)
#define v_loadu(p) _mm512_loadu_ps(p)
/* 16 BF16 / F16 values widened to fp32 (BF16 is the upper half of a binary32: a shift) */
#define v_load_bf16(p) \
    _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(p))), 16))
#define v_load_f16(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p)))
#define v_storeu(p, v) _mm512_storeu_ps(p, v)
#define v_add(a, b) _mm512_add_ps(a, b)
#define v_sub(a, b) _mm512_sub_ps(a, b)
#define v_mul(a, b) _mm512_mul_ps(a, b)
#define v_div(a, b) _mm512_div_ps(a, b)
#define v_min(a, b) _mm512_min_ps(a, b)
#define v_max(a, b) _mm512_max_ps(a, b)
#define v_fmadd(a, b, c) _mm512_fmadd_ps(a, b, c)   /* a * b + c */
#define v_fmsub(a, b, c) _mm512_fmsub_ps(a, b, c)   /* a * b - c */
#define v_fnmadd(a, b, c) _mm512_fnmadd_ps(a, b, c) /* c - a * b */
#define v_abs(x) _mm512_abs_ps(x)
#define v_round(x) _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
/* a < b ? x : y, lane by lane */
#define v_select_lt(a, b, x, y) _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), y, x)
/* |mag| with the sign of sgn */
#define v_copysign(mag, sgn) \
    _mm512_or_ps(v_abs(mag), _mm512_and_ps(sgn, _mm512_castsi512_ps(_mm512_set1_epi32(INT32_MIN))))
/* p * 2^n for integral n; scalef handles the exponent range itself */
#define v_scale2n(p, n) _mm512_scalef_ps(p, n)
#define v_reduce_add(v) _mm512_reduce_add_ps(v)
#define v_reduce_max(v) _mm512_reduce_max_ps(v)

/* The first n lanes (0 < n < V_LANES); the others read as `fill` / are not written. */
static inline __mmask16 v_mask_n(int n) { return (__mmask16)((1u << n) - 1u); }
#define v_load_n(p, n, fill) _mm512_mask_loadu_ps(v_set1(fill), v_mask_n(n), p)
#define v_store_n(p, v, n) _mm512_mask_storeu_ps(p, v_mask_n(n), v)

#endif
