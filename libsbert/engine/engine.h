/* The engine layer: the transformer forward pass (encoder.h) and the sentence-transformers modules
 * after it (pooling.h), on a loaded model (model/model.h) with the kernels (kernels/kernels.h). */
#ifndef SBERT_ENGINE_H
#define SBERT_ENGINE_H

#include "encoder.h"
#include "pooling.h"

#endif
