/* A small fork/join thread pool, one per context: the threads of one sbert_encode() call.
 *
 * Why not OpenMP: an OpenMP parallel region ends in a barrier that waits for every thread of the
 * team. When another process holds one of the cores, a worker is descheduled for a whole time
 * slice and every region (about 90 per forward pass) waits for it: a 2-thread encode became
 * 20-80x slower than a 1-thread one. Here the calling thread takes part in the work and tasks
 * are claimed one at a time, so a worker that is not running simply claims nothing: the caller
 * does its share, and a join waits only for tasks that were actually started.
 *
 * Workers spin for a short while after a job (the forward pass issues the next one within
 * microseconds), then sleep on a condition variable, so an idle context costs no CPU.
 *
 * Without threads (SBERT_NO_THREADS, or n_threads == 1) sb_threadpool_run() runs the tasks in the
 * calling thread, in order. */
#ifndef SBERT_THREADPOOL_H
#define SBERT_THREADPOOL_H

typedef struct sb_threadpool sb_threadpool;

/* One task: `index` in [0, n_tasks), `thread` in [0, n_threads) identifies the thread running it
 * (for per-thread scratch memory; two tasks never run at once with the same `thread`). */
typedef void (*sb_task_fn)(void *arg, int index, int thread);

/* A pool of n_threads - 1 workers plus the caller. Returns NULL when out of memory or when the
 * system refuses to start a thread (the caller then runs serially with a NULL pool). */
sb_threadpool *sb_threadpool_create(int n_threads);
void sb_threadpool_free(sb_threadpool *pool); /* NULL: no-op */
/* Threads a job can use (1 for a NULL pool). */
int sb_threadpool_threads(const sb_threadpool *pool);

/* Runs fn(arg, i, thread) for every i in [0, n_tasks) on up to max_threads threads (the caller
 * included) and returns when all have finished. Tasks are claimed in index order, one at a time,
 * so put the expensive ones first when their costs differ. A NULL pool runs them serially.
 * Not re-entrant: a task must not call sb_threadpool_run() on the same pool. */
void sb_threadpool_run(sb_threadpool *pool, int n_tasks, int max_threads, sb_task_fn fn, void *arg);

/* The number of cores this process may run on (at least 1). */
int sb_available_cores(void);

#endif
