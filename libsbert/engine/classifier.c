/* A cross-encoder's classification head, one pair at a time (a row of H floats in, L logits out):
 * next to the encoder's work on the pair's tokens its cost is nothing. */
#include "classifier.h"

#include "kernels/kernels.h"

size_t sb_classify_scratch_floats(const sbert_model *m)
{
    return (size_t)m->hp.hidden + sb_gemm_scratch_floats(1, 1, m->hp.hidden);
}

void sb_classify(const sbert_model *m, const float *h, float *logits, float *scratch)
{
    const sb_classifier *c = &m->classifier;
    const int H = m->hp.hidden;
    float *pooled = scratch, *gemm_scratch = scratch + H;
    sb_gemm(h, (size_t)H, 1, &c->dense, pooled, (size_t)H, SB_ACT_TANH, NULL, 0, gemm_scratch,
            NULL);                                                      /* [H] tanh(dense h) */
    sb_gemm(pooled, (size_t)H, 1, &c->out_proj, logits, (size_t)c->n_labels, SB_ACT_IDENTITY,
            NULL, 0, gemm_scratch, NULL);                               /* [L] out_proj */
}
