/* The engine layer: the transformer forward pass (encoder.h) and what follows it, the
 * sentence-transformers modules (pooling.h) or a cross-encoder's head (classifier.h), on a loaded
 * model (model/model.h) with the kernels (kernels/kernels.h). */
#ifndef SBERT_ENGINE_H
#define SBERT_ENGINE_H

#include "classifier.h"
#include "encoder.h"
#include "pooling.h"

#endif
