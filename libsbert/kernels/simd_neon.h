/* The vector layer that vecmath.h, ops_simd.h and gemm_simd.h are written against, for AArch64's
 * NEON (Advanced SIMD, 4 floats; part of every AArch64 CPU, so no flags and no detection). Included
 * only by *_neon.c. min and max follow x86's minps / maxps (the second operand when either is
 * NaN), which vecmath.h's clamps and the quantizer-free code here were written for. */
#ifndef SBERT_SIMD_NEON_H
#define SBERT_SIMD_NEON_H
#include <arm_neon.h>
#include <string.h>

#define VF float32x4_t
#define V_LANES 4
#define v_zero() vdupq_n_f32(0.0f)
#define v_set1(x) vdupq_n_f32(x)
#define v_loadu(p) vld1q_f32(p)
/* 4 BF16 / F16 values widened to fp32 (BF16 is the upper half of a binary32: a shift) */
#define v_load_bf16(p) vreinterpretq_f32_u32(vshll_n_u16(vld1_u16((const uint16_t *)(p)), 16))
#define v_load_f16(p) vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)(p))))
#define v_storeu(p, v) vst1q_f32(p, v)
#define v_add(a, b) vaddq_f32(a, b)
#define v_sub(a, b) vsubq_f32(a, b)
#define v_mul(a, b) vmulq_f32(a, b)
#define v_div(a, b) vdivq_f32(a, b)
#define v_min(a, b) vbslq_f32(vcltq_f32(a, b), a, b)
#define v_max(a, b) vbslq_f32(vcgtq_f32(a, b), a, b)
#define v_fmadd(a, b, c) vfmaq_f32(c, a, b)             /* a * b + c */
#define v_fmsub(a, b, c) vnegq_f32(vfmsq_f32(c, a, b))  /* a * b - c, as -(c - a * b): exact */
#define v_fnmadd(a, b, c) vfmsq_f32(c, a, b)            /* c - a * b */
#define v_abs(x) vabsq_f32(x)
#define v_round(x) vrndnq_f32(x)
/* a < b ? x : y, lane by lane */
#define v_select_lt(a, b, x, y) vbslq_f32(vcltq_f32(a, b), x, y)
/* |mag| with the sign of sgn */
#define v_copysign(mag, sgn) vbslq_f32(vdupq_n_u32(0x80000000u), sgn, vabsq_f32(mag))
/* p * 2^n for integral n in [-126, 127] (vecmath.h keeps it there): 2^n built in the exponent */
#define v_scale2n(p, n) \
    vmulq_f32(p, vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(vcvtnq_s32_f32(n), vdupq_n_s32(127)), 23)))

static inline float v_reduce_add(float32x4_t v) { return vaddvq_f32(v); }
static inline float v_reduce_max(float32x4_t v) { return vmaxvq_f32(v); }

/* The first n lanes (0 < n < V_LANES); the others read as `fill` / are not written. */
static inline float32x4_t v_load_n(const float *p, int n, float fill)
{
    float lanes[4] = { fill, fill, fill, fill };
    memcpy(lanes, p, (size_t)n * sizeof(float));
    return vld1q_f32(lanes);
}
static inline void v_store_n(float *p, float32x4_t v, int n)
{
    float lanes[4];
    vst1q_f32(lanes, v);
    memcpy(p, lanes, (size_t)n * sizeof(float));
}

#endif
