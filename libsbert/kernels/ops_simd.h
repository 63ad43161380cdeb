/* The vector ops, written once against the v_* layer (include simd_avx2.h or simd_avx512.h and
 * vecmath.h first); ops_avx2.c and ops_avx512.c each compile them into an sb_vec_ops table.
 * Tails shorter than a vector go through masked loads and stores, so every element is computed by
 * the same formula wherever it sits in the row. */
#ifndef SBERT_OPS_SIMD_H
#define SBERT_OPS_SIMD_H

/* Sums run in four independent accumulators so the adds' latency overlaps. */
static float sum_simd(const float *x, int n)
{
    VF s0 = v_zero(), s1 = v_zero(), s2 = v_zero(), s3 = v_zero();
    int i = 0;
    for (; i + 4 * V_LANES <= n; i += 4 * V_LANES) {
        s0 = v_add(s0, v_loadu(x + i));
        s1 = v_add(s1, v_loadu(x + i + V_LANES));
        s2 = v_add(s2, v_loadu(x + i + 2 * V_LANES));
        s3 = v_add(s3, v_loadu(x + i + 3 * V_LANES));
    }
    for (; i + V_LANES <= n; i += V_LANES) s0 = v_add(s0, v_loadu(x + i));
    if (i < n) s1 = v_add(s1, v_load_n(x + i, n - i, 0.0f));
    return v_reduce_add(v_add(v_add(s0, s1), v_add(s2, s3)));
}

static float squared_deviation_simd(const float *x, int n, float mean)
{
    const VF m = v_set1(mean);
    VF s0 = v_zero(), s1 = v_zero();
    int i = 0;
    for (; i + 2 * V_LANES <= n; i += 2 * V_LANES) {
        const VF d0 = v_sub(v_loadu(x + i), m), d1 = v_sub(v_loadu(x + i + V_LANES), m);
        s0 = v_fmadd(d0, d0, s0);
        s1 = v_fmadd(d1, d1, s1);
    }
    for (; i + V_LANES <= n; i += V_LANES) {
        const VF d = v_sub(v_loadu(x + i), m);
        s0 = v_fmadd(d, d, s0);
    }
    if (i < n) {
        const VF d = v_sub(v_load_n(x + i, n - i, mean), m); /* missing lanes deviate by 0 */
        s1 = v_fmadd(d, d, s1);
    }
    return v_reduce_add(v_add(s0, s1));
}

/* Two passes in float for mean and variance, as PyTorch's CPU LayerNorm. */
static void layernorm_simd(float *x, const float *w, const float *b, int n, float eps)
{
    const float mean = sum_simd(x, n) / (float)n;
    const float var = squared_deviation_simd(x, n, mean) / (float)n;
    const VF m = v_set1(mean), rstd = v_set1(1.0f / sqrtf(var + eps));
    int i = 0;
    for (; i + V_LANES <= n; i += V_LANES) {
        const VF y = v_mul(v_sub(v_loadu(x + i), m), rstd);
        v_storeu(x + i, v_fmadd(y, v_loadu(w + i), v_loadu(b + i)));
    }
    if (i < n) {
        const int r = n - i;
        const VF y = v_mul(v_sub(v_load_n(x + i, r, 0.0f), m), rstd);
        v_store_n(x + i, v_fmadd(y, v_load_n(w + i, r, 0.0f), v_load_n(b + i, r, 0.0f)), r);
    }
}

static void activate_simd(float *x, int n, sb_activation act)
{
    if (act == SB_ACT_IDENTITY) return;
    int i = 0;
    for (; i + V_LANES <= n; i += V_LANES) v_storeu(x + i, v_activate(v_loadu(x + i), act));
    if (i < n) v_store_n(x + i, v_activate(v_load_n(x + i, n - i, 0.0f), act), n - i);
}

static float max_simd(const float *x, int n)
{
    VF m = v_set1(-INFINITY);
    int i = 0;
    for (; i + V_LANES <= n; i += V_LANES) m = v_max(m, v_loadu(x + i));
    if (i < n) m = v_max(m, v_load_n(x + i, n - i, -INFINITY));
    return v_reduce_max(m);
}

/* x[i] = exp(x[i] * scale - max), max >= every x[i] * scale; returns their sum. The scale is
 * applied as each element is read (one pass less than scaling first); since rounding is monotonic
 * and scale > 0, the maximum of the rounded products is the rounded product of the maximum, so
 * the result is exactly that of scaling first. */
static float exp_row(float *x, int n, float scale, float max)
{
    const VF s = v_set1(scale), m = v_set1(max);
    VF sum = v_zero();
    int i = 0;
    for (; i + V_LANES <= n; i += V_LANES) {
        const VF e = v_exp_nonpositive(v_sub(v_mul(v_loadu(x + i), s), m));
        v_storeu(x + i, e);
        sum = v_add(sum, e);
    }
    if (i < n) { /* exp(-inf) = 0 for the lanes past n */
        const VF e = v_exp_nonpositive(v_sub(v_mul(v_load_n(x + i, n - i, -INFINITY), s), m));
        v_store_n(x + i, e, n - i);
        sum = v_add(sum, e);
    }
    return v_reduce_add(sum);
}

static void softmax_simd(float *x, int n, float scale)
{
    const VF inv = v_set1(1.0f / exp_row(x, n, scale, max_simd(x, n) * scale));
    int i;
    for (i = 0; i + V_LANES <= n; i += V_LANES) v_storeu(x + i, v_mul(v_loadu(x + i), inv));
    if (i < n) v_store_n(x + i, v_mul(v_load_n(x + i, n - i, 0.0f), inv), n - i);
}

/* The exponentials as softmax_simd takes them (same max, same sum order), so that one tile is
 * its result before the division. */
static float softmax_online_simd(float *x, int n, float scale, float *max, float *sum)
{
    const float m = fmaxf(max_simd(x, n) * scale, *max);
    const float tile_sum = exp_row(x, n, scale, m);
    const float c = expf(*max - m);
    *sum = *sum * c + tile_sum;
    *max = m;
    return c;
}

static float dot_simd(const float *a, const float *b, int n)
{
    VF s0 = v_zero(), s1 = v_zero(), s2 = v_zero(), s3 = v_zero();
    int i = 0;
    for (; i + 4 * V_LANES <= n; i += 4 * V_LANES) {
        s0 = v_fmadd(v_loadu(a + i), v_loadu(b + i), s0);
        s1 = v_fmadd(v_loadu(a + i + V_LANES), v_loadu(b + i + V_LANES), s1);
        s2 = v_fmadd(v_loadu(a + i + 2 * V_LANES), v_loadu(b + i + 2 * V_LANES), s2);
        s3 = v_fmadd(v_loadu(a + i + 3 * V_LANES), v_loadu(b + i + 3 * V_LANES), s3);
    }
    for (; i + V_LANES <= n; i += V_LANES) s0 = v_fmadd(v_loadu(a + i), v_loadu(b + i), s0);
    if (i < n) s1 = v_fmadd(v_load_n(a + i, n - i, 0.0f), v_load_n(b + i, n - i, 0.0f), s1);
    return v_reduce_add(v_add(v_add(s0, s1), v_add(s2, s3)));
}

static void axpy_simd(float *y, float alpha, const float *x, int n)
{
    const VF a = v_set1(alpha);
    int i = 0;
    for (; i + V_LANES <= n; i += V_LANES) v_storeu(y + i, v_fmadd(a, v_loadu(x + i), v_loadu(y + i)));
    if (i < n)
        v_store_n(y + i, v_fmadd(a, v_load_n(x + i, n - i, 0.0f), v_load_n(y + i, n - i, 0.0f)), n - i);
}

#define SB_VEC_OPS_SIMD { layernorm_simd, activate_simd, softmax_simd, softmax_online_simd, dot_simd, \
                          axpy_simd }

#endif
