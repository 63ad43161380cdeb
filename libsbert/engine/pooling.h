/* After the transformer: sentence-transformers' Pooling, Dense and Normalize modules. */
#ifndef SBERT_POOLING_H
#define SBERT_POOLING_H

#include "model/model.h"

/* Floats of working memory sb_pool_text() needs (two vectors of the widest layer). */
size_t sb_pool_scratch_floats(const sbert_model *model);

/* Turns one text's token states tokens[n, H] (rows ld floats apart) into its embedding
 * out[model->dim]:
 * pooling over tokens [skip, n) (skip > 0 leaves a prompt out when include_prompt is false),
 * then each Dense module, then Normalize when the model has it or `normalize` asks for it. */
void sb_pool_text(const sbert_model *model, const float *tokens, size_t ld, int n, int skip,
                  int normalize, float *out, float *scratch);

/* v[0..n) /= max(||v||, 1e-12), as torch.nn.functional.normalize. */
void sb_l2_normalize(float *v, size_t n);

#endif
