/* The base layer: what every other layer may use (and nothing above it). Failing with a status
 * and a message (error.h), large aligned buffers and growable arrays (memory.h), the per-context
 * thread pool (threadpool.h). */
#ifndef SBERT_BASE_H
#define SBERT_BASE_H

#include "error.h"
#include "memory.h"
#include "threadpool.h"

#endif
