/* The vector layer that vecmath.h, ops_simd.h and gemm_simd.h are written against, for AVX2 + FMA
 * (8 floats). Included only by *_avx2.c, which are compiled with -mavx2 -mfma. */
#ifndef SBERT_SIMD_AVX2_H
#define SBERT_SIMD_AVX2_H
#include <immintrin.h>

#define VF __m256
#define V_LANES 8
#define v_zero() _mm256_setzero_ps()
#define v_set1(x) _mm256_set1_ps(x)
#define v_loadu(p) _mm256_loadu_ps(p)
/* 8 BF16 / F16 values widened to fp32 (BF16 is the upper half of a binary32: a shift) */
#define v_load_bf16(p) \
    _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p))), 16))
#define v_load_f16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
#define v_storeu(p, v) _mm256_storeu_ps(p, v)
#define v_add(a, b) _mm256_add_ps(a, b)
#define v_sub(a, b) _mm256_sub_ps(a, b)
#define v_mul(a, b) _mm256_mul_ps(a, b)
#define v_div(a, b) _mm256_div_ps(a, b)
#define v_min(a, b) _mm256_min_ps(a, b)
#define v_max(a, b) _mm256_max_ps(a, b)
#define v_fmadd(a, b, c) _mm256_fmadd_ps(a, b, c)   /* a * b + c */
#define v_fmsub(a, b, c) _mm256_fmsub_ps(a, b, c)   /* a * b - c */
#define v_fnmadd(a, b, c) _mm256_fnmadd_ps(a, b, c) /* c - a * b */
#define v_abs(x) _mm256_andnot_ps(v_set1(-0.0f), x)
#define v_round(x) _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
/* a < b ? x : y, lane by lane */
#define v_select_lt(a, b, x, y) _mm256_blendv_ps(y, x, _mm256_cmp_ps(a, b, _CMP_LT_OQ))
/* |mag| with the sign of sgn */
#define v_copysign(mag, sgn) _mm256_or_ps(v_abs(mag), _mm256_and_ps(sgn, v_set1(-0.0f)))
/* p * 2^n for integral n in [-126, 127] (vecmath.h keeps it there): 2^n built in the exponent */
#define v_scale2n(p, n) \
    _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32( \
                         _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23)))

static inline float v_reduce_add(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float v_reduce_max(__m256 v)
{
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* The first n lanes (0 < n < V_LANES); the others read as `fill` / are not written. */
static inline __m256i v_mask_n(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline __m256 v_load_n(const float *p, int n, float fill)
{
    const __m256i m = v_mask_n(n);
    return _mm256_blendv_ps(v_set1(fill), _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
}
#define v_store_n(p, v, n) _mm256_maskstore_ps(p, v_mask_n(n), v)

#endif
