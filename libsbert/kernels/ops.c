/* Vector ops on one row: the portable versions and the dispatch to the ISA versions
 * (ops_avx2.c, ops_avx512.c). The portable ones favour exactness over speed: the activations are
 * evaluated in double with libm, which makes them the reference the vector versions are held to. */
#include <math.h>

#include "kernels/kernels_impl.h"

float sb_act_scalar(float x, sb_activation act)
{
    const double v = x;
    switch (act) {
    case SB_ACT_GELU_ERF: /* 0.5 x (1 + erf(x / sqrt 2)), as erfc so that x << 0 keeps its digits */
        return (float)(0.5 * v * erfc(-v * 0.70710678118654752440));
    case SB_ACT_GELU_TANH: /* 0.5 x (1 + tanh(y)) as x / (1 + exp(-2y)), again for x << 0 */
        return (float)(v / (1.0 + exp(-1.5957691216057307118 * (v + 0.044715 * v * v * v))));
    case SB_ACT_RELU: return x > 0.0f ? x : 0.0f;
    case SB_ACT_TANH: return (float)tanh(v);
    case SB_ACT_SIGMOID: return (float)(1.0 / (1.0 + exp(-v)));
    default: return x;
    }
}

/* Mean and variance as two passes in float, the way PyTorch's CPU LayerNorm gets them (the
 * summation order differs, which moves the result by an ulp or so). */
static void layernorm_scalar(float *x, const float *w, const float *b, int n, float eps)
{
    float sum = 0.0f;
    for (int i = 0; i < n; i++) sum += x[i];
    const float mean = sum / (float)n;
    float sq = 0.0f;
    for (int i = 0; i < n; i++) sq += (x[i] - mean) * (x[i] - mean);
    const float rstd = 1.0f / sqrtf(sq / (float)n + eps);
    for (int i = 0; i < n; i++) x[i] = (x[i] - mean) * rstd * w[i] + b[i];
}

static void activate_scalar(float *x, int n, sb_activation act)
{
    if (act == SB_ACT_IDENTITY) return;
    for (int i = 0; i < n; i++) x[i] = sb_act_scalar(x[i], act);
}

static void softmax_scalar(float *x, int n, float scale)
{
    float max = -INFINITY;
    for (int i = 0; i < n; i++) max = x[i] > max ? x[i] : max;
    max *= scale;
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] * scale - max);
        sum += x[i];
    }
    const float inv = 1.0f / sum;
    for (int i = 0; i < n; i++) x[i] *= inv;
}

static float softmax_online_scalar(float *x, int n, float scale, float *max, float *sum)
{
    float m = -INFINITY;
    for (int i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
    m = fmaxf(m * scale, *max);
    float s = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] * scale - m);
        s += x[i];
    }
    const float c = expf(*max - m);
    *sum = *sum * c + s;
    *max = m;
    return c;
}

static float dot_scalar(const float *a, const float *b, int n)
{
    float sum = 0.0f;
    for (int i = 0; i < n; i++) sum += a[i] * b[i];
    return sum;
}

static void axpy_scalar(float *y, float alpha, const float *x, int n)
{
    for (int i = 0; i < n; i++) y[i] += alpha * x[i];
}

const sb_vec_ops sb_vec_ops_scalar = {
    layernorm_scalar, activate_scalar, softmax_scalar, softmax_online_scalar, dot_scalar,
    axpy_scalar,
};

static const sb_vec_ops *ops(void)
{
#ifdef SB_X86
    switch (sb_kernels_isa()) {
    case SB_ISA_AVX512: return &sb_vec_ops_avx512;
    case SB_ISA_AVX2: return &sb_vec_ops_avx2;
    default: break;
    }
#endif
#ifdef SB_ARM64
    if (sb_kernels_isa() == SB_ISA_NEON) return &sb_vec_ops_neon;
#endif
    return &sb_vec_ops_scalar;
}

void sb_layernorm(float *x, const float *w, const float *b, int n, float eps)
{
    if (n > 0) ops()->layernorm(x, w, b, n, eps);
}

void sb_activate(float *x, int n, sb_activation act)
{
    if (n > 0) ops()->activate(x, n, act);
}

void sb_softmax(float *x, int n, float scale)
{
    if (n > 0) ops()->softmax(x, n, scale);
}

float sb_softmax_online(float *x, int n, float scale, float *max, float *sum)
{
    return n > 0 ? ops()->softmax_online(x, n, scale, max, sum) : 1.0f;
}

float sb_dot(const float *a, const float *b, int n)
{
    return n > 0 ? ops()->dot(a, b, n) : 0.0f;
}

void sb_axpy(float *y, float alpha, const float *x, int n)
{
    if (n > 0) ops()->axpy(y, alpha, x, n);
}
