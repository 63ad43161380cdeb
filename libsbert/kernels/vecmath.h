/* exp and the activations on whole vectors, written once against the v_* layer of simd_avx2.h or
 * simd_avx512.h (include one of those first). Accuracy, measured against double-precision libm by
 * tests/test_kernels.c (held to 1e-6): about 1.5e-7 relative for exp, sigmoid and tanh, 4.7e-7 for
 * GELU. */
#ifndef SBERT_VECMATH_H
#define SBERT_VECMATH_H

#include "kernels/kernels_impl.h"

/* exp(hi + lo), where hi may be large and is taken as exact, and lo is a correction of a few units
 * (GELU passes -x*x/2 split in two floats, because rounding x*x alone would cost 1e-6 at |x| = 5).
 * Cody-Waite reduction by n ln 2 (ln 2 in two parts, so n * LN2_HI is exact), then Cephes' degree-6
 * polynomial on |r| <= ln2 / 2. Results below FLT_MIN are flushed to 0. NONPOSITIVE (a constant)
 * says the caller knows hi + lo <= 0, as GELU's and softmax's arguments are: no upper clamp. */
#define EXP_MIN -87.33654f /* ln(FLT_MIN): n stays >= -126 */
#define EXP_MAX 88.0f      /* n stays <= 127 */
static inline __attribute__((always_inline)) VF v_exp_sum(VF hi, VF lo, const int NONPOSITIVE)
{
    const VF s = v_add(hi, lo);
    const VF clamped = v_max(s, v_set1(EXP_MIN));
    const VF n = v_round(v_mul(NONPOSITIVE ? clamped : v_min(clamped, v_set1(EXP_MAX)),
                               v_set1(1.44269504088896341f)));
    VF r = v_fnmadd(n, v_set1(0.693359375f), hi);
    r = v_add(v_fnmadd(n, v_set1(-2.12194440e-4f), r), lo);
    VF p = v_set1(1.9875691500e-4f);
    p = v_fmadd(p, r, v_set1(1.3981999507e-3f));
    p = v_fmadd(p, r, v_set1(8.3334519073e-3f));
    p = v_fmadd(p, r, v_set1(4.1665795894e-2f));
    p = v_fmadd(p, r, v_set1(1.6666665459e-1f));
    p = v_fmadd(p, r, v_set1(5.0000001201e-1f));
    const VF e = v_fmadd(p, v_mul(r, r), v_add(r, v_set1(1.0f)));
    return v_select_lt(s, v_set1(EXP_MIN), v_zero(), v_scale2n(e, n));
}

static inline VF v_exp(VF x) { return v_exp_sum(x, v_zero(), 0); }
static inline VF v_exp_nonpositive(VF x) { return v_exp_sum(x, v_zero(), 1); }

/* 0.5 x (1 + erf(x / sqrt 2)) = x (1 - e) for x >= 0 and x e for x < 0, e = erfc(|x| / sqrt 2) / 2,
 * so that the tiny outputs for x << 0 keep their relative accuracy.
 * erfc(z) = exp(-z^2) t S(t) with t = 1 / (1 + z / 2): t S(t) is erfcx(z), smooth in t. |x| is
 * capped at 14, past which e underflows, so t only spans [0.168, 1], where a degree-8 fit of S / 2
 * is within 4.3e-8 (relative; weighted least squares toward minimax, in double, against libm's
 * erfc: tools/fit_gelu_erf.py). -x^2/2 is passed to exp as two floats. */
static inline VF v_gelu_erf(VF x)
{
    const VF ax = v_min(v_abs(x), v_set1(14.0f));
    const VF t = v_div(v_set1(1.0f), v_fmadd(ax, v_set1(0.35355339059327376f), v_set1(1.0f)));
    VF s = v_set1(-2.951910203e-02f); /* S(t) / 2 */
    s = v_fmadd(s, t, v_set1(1.422122021e-01f));
    s = v_fmadd(s, t, v_set1(-2.434434964e-01f));
    s = v_fmadd(s, t, v_set1(1.388538502e-01f));
    s = v_fmadd(s, t, v_set1(-1.318844571e-02f));
    s = v_fmadd(s, t, v_set1(1.012905306e-01f));
    s = v_fmadd(s, t, v_set1(1.215653308e-01f));
    s = v_fmadd(s, t, v_set1(1.411857933e-01f));
    s = v_fmadd(s, t, v_set1(1.410433158e-01f));
    const VF half_ax = v_mul(ax, v_set1(-0.5f)); /* exact */
    const VF sq = v_mul(half_ax, ax);            /* -x^2 / 2 = sq + sq_lo exactly */
    const VF sq_lo = v_fmsub(half_ax, ax, sq);
    const VF e = v_mul(v_mul(t, s), v_exp_sum(sq, sq_lo, 1));
    return v_mul(x, v_select_lt(x, v_zero(), e, v_sub(v_set1(1.0f), e)));
}

/* 0.5 x (1 + tanh(y)) = x / (1 + exp(-2y)), y = sqrt(2/pi) (x + 0.044715 x^3): no cancellation. */
static inline VF v_gelu_tanh(VF x)
{
    const VF x3 = v_mul(v_mul(x, x), x);
    const VF y = v_mul(v_fmadd(x3, v_set1(0.044715f), x), v_set1(-1.5957691216057308f));
    return v_div(x, v_add(v_set1(1.0f), v_exp(y)));
}

/* tanh: an odd polynomial below |x| = 0.625 (a Chebyshev fit, 2e-8 relative), where 1 - 2/(e+1)
 * would cancel; above it 1 - 2 / (exp(2|x|) + 1) with |x| capped at 9 (tanh(9) rounds to 1). */
static inline VF v_tanh(VF x)
{
    const VF ax = v_min(v_abs(x), v_set1(9.0f));
    const VF s = v_mul(x, x);
    VF q = v_set1(-6.0967141659e-03f);
    q = v_fmadd(q, s, v_set1(2.0997178999e-02f));
    q = v_fmadd(q, s, v_set1(-5.3850909579e-02f));
    q = v_fmadd(q, s, v_set1(1.3332769737e-01f));
    q = v_fmadd(q, s, v_set1(-3.3333328944e-01f));
    const VF small = v_fmadd(v_mul(x, s), q, x);
    const VF big = v_sub(v_set1(1.0f),
                         v_div(v_set1(2.0f), v_add(v_exp(v_add(ax, ax)), v_set1(1.0f))));
    return v_select_lt(ax, v_set1(0.625f), small, v_copysign(big, x));
}

static inline VF v_sigmoid(VF x)
{
    return v_div(v_set1(1.0f), v_add(v_set1(1.0f), v_exp(v_sub(v_zero(), x))));
}

static inline VF v_activate(VF x, sb_activation act)
{
    switch (act) {
    case SB_ACT_GELU_ERF: return v_gelu_erf(x);
    case SB_ACT_GELU_TANH: return v_gelu_tanh(x);
    case SB_ACT_RELU: return v_max(x, v_zero());
    case SB_ACT_TANH: return v_tanh(x);
    case SB_ACT_SIGMOID: return v_sigmoid(x);
    default: return x;
    }
}

#endif
