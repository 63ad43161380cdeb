/* After the transformer, for a cross-encoder: the classification head that scores a pair. */
#ifndef SBERT_CLASSIFIER_H
#define SBERT_CLASSIFIER_H

#include "model/model.h"

/* Floats of working memory sb_classify() needs. */
size_t sb_classify_scratch_floats(const sbert_model *model);

/* logits[L] of one pair from h[H], the last hidden state of its first token: out_proj(tanh(dense
 * h)), the head of BertForSequenceClassification (pooler, classifier) and of
 * RobertaForSequenceClassification (classifier.dense, classifier.out_proj) alike. */
void sb_classify(const sbert_model *model, const float *h, float *logits, float *scratch);

#endif
