/* The base layer: what every other layer may use (and nothing above it). Large aligned buffers
 * (memory.h) and the per-context thread pool (threadpool.h). */
#ifndef SBERT_BASE_H
#define SBERT_BASE_H

#include "memory.h"
#include "threadpool.h"

#endif
