/* OpenMP is optional: these macros expand to OpenMP pragmas when the build has it and to nothing
 * otherwise, so the same loops run serially in a build without OpenMP (and -Wall stays quiet). */
#ifndef SBERT_PARALLEL_H
#define SBERT_PARALLEL_H

#define SB_PRAGMA(x) _Pragma(#x)
#ifdef _OPENMP
#include <omp.h>
/* A loop whose iterations are independent and of similar cost. */
#define SB_PARALLEL_FOR(n_threads) SB_PRAGMA(omp parallel for num_threads(n_threads) schedule(static))
/* A loop whose iterations differ in cost (texts of different lengths). */
#define SB_PARALLEL_FOR_DYNAMIC(n_threads) SB_PRAGMA(omp parallel for num_threads(n_threads) schedule(dynamic, 1))
static inline int sb_thread_id(void) { return omp_get_thread_num(); }
static inline int sb_max_threads(void) { return omp_get_num_procs(); }
#else
#define SB_PARALLEL_FOR(n_threads)
#define SB_PARALLEL_FOR_DYNAMIC(n_threads)
static inline int sb_thread_id(void) { return 0; }
static inline int sb_max_threads(void) { return 1; }
#endif

#endif
