/* The fork/join pool of threadpool.h.
 *
 * One job at a time. The job is published through one 64-bit word, `claim`: the job's generation
 * (32 bits), its number of tasks n and the index i of the next unclaimed task (16 bits each). A
 * thread claims task i by a compare-and-swap from (g, n, i) to (g, n, i + 1), only when i < n.
 * The caller rewrites the job's other fields (function, argument) only after every task of g has
 * been claimed and finished, and generations only grow, so a successful swap proves that the
 * fields read after seeing (g, n, i) were generation g's. (n must be in the word: with n in a
 * field of its own, a worker holding the finished word (g, n, n) could read the next job's larger
 * n before the next generation is published, and claim a task of the next job under the old one.)
 * The caller counts finished tasks in `done` and returns when all have finished; a worker that
 * never woke up claimed nothing and is not waited for. Jobs of more than 65,535 tasks run as
 * several generations.
 *
 * Sleeping uses a mutex and a condition variable (Dekker-style with `sleepers`: the caller stores
 * the new generation, then reads `sleepers`; a worker counts itself in, then re-reads the
 * generation; with sequentially consistent atomics one of the two sees the other). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#endif
#include "threadpool.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
#include <sched.h>
#endif

#ifndef SBERT_NO_THREADS
#include <pthread.h>
#include <signal.h>
#endif

int sb_available_cores(void)
{
#ifdef __linux__
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
#endif
#ifdef _SC_NPROCESSORS_ONLN
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n > 0)
        return n > 1024 ? 1024 : (int)n;
#endif
    return 1;
}

static void run_serial(int n_tasks, sb_task_fn fn, void *arg)
{
    for (int i = 0; i < n_tasks; i++)
        fn(arg, i, 0);
}

#ifdef SBERT_NO_THREADS

struct sb_threadpool {
    int unused;
};
sb_threadpool *sb_threadpool_create(int n_threads)
{
    (void)n_threads;
    return NULL;
}
void sb_threadpool_free(sb_threadpool *pool) { (void)pool; }
int sb_threadpool_threads(const sb_threadpool *pool)
{
    (void)pool;
    return 1;
}
void sb_threadpool_run(sb_threadpool *pool, int n_tasks, int max_threads, sb_task_fn fn, void *arg)
{
    (void)pool;
    (void)max_threads;
    run_serial(n_tasks, fn, arg);
}

#else

/* How long a worker spins for the next job before it sleeps. The forward pass issues jobs a few
 * microseconds apart; between two encode calls the workers go to sleep and cost nothing. */
#define SPIN_NS 200000

/* One generation holds at most this many tasks (16 bits of the claim word). */
#define MAX_TASKS_PER_GENERATION 0xFFFF

typedef struct {
    sb_threadpool *pool;
    int id; /* 1 .. n_threads - 1; the caller is 0 */
    pthread_t thread;
} worker;

struct sb_threadpool {
    int n_threads;
    uint32_t generation;      /* the caller's copy of the last published generation */
    worker *workers;          /* [n_threads - 1] */
    /* the current job, valid for the generation in `claim` */
    _Atomic(sb_task_fn) fn;
    _Atomic(void *) arg;
    atomic_int first_task;    /* the job's index of this generation's task 0 */
    atomic_int max_threads;
    _Atomic uint64_t claim;   /* generation << 32 | n_tasks << 16 | next task */
    atomic_int done;          /* tasks of the current generation finished */
    atomic_int sleepers;
    atomic_bool quit;
    pthread_mutex_t lock;
    pthread_cond_t wake;
};

static inline uint32_t generation_of(uint64_t word) { return (uint32_t)(word >> 32); }
static inline int tasks_of(uint64_t word) { return (int)((word >> 16) & 0xFFFF); }
static inline int next_of(uint64_t word) { return (int)(word & 0xFFFF); }

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Claims and runs tasks of generation `gen` until none is left (or the job is a newer one). */
static void work(sb_threadpool *pool, uint32_t gen, int thread)
{
    for (;;) {
        uint64_t word = atomic_load_explicit(&pool->claim, memory_order_acquire);
        if (generation_of(word) != gen)
            return;
        if (next_of(word) >= tasks_of(word) ||
            thread >= atomic_load_explicit(&pool->max_threads, memory_order_relaxed))
            return;
        sb_task_fn fn = atomic_load_explicit(&pool->fn, memory_order_relaxed);
        void *arg = atomic_load_explicit(&pool->arg, memory_order_relaxed);
        const int first = atomic_load_explicit(&pool->first_task, memory_order_relaxed);
        if (!atomic_compare_exchange_weak_explicit(&pool->claim, &word, word + 1,
                                                   memory_order_acq_rel, memory_order_relaxed))
            continue;
        fn(arg, first + next_of(word), thread);
        atomic_fetch_add_explicit(&pool->done, 1, memory_order_release);
    }
}

/* Waits until a generation other than `seen` is published (or the pool quits); returns it. */
static uint32_t wait_for_job(sb_threadpool *pool, uint32_t seen)
{
    const uint64_t start = now_ns();
    for (int spins = 1;; spins++) {
        uint32_t gen = generation_of(atomic_load_explicit(&pool->claim, memory_order_acquire));
        if (gen != seen || atomic_load_explicit(&pool->quit, memory_order_relaxed))
            return gen;
        cpu_relax();
        if (spins % 256 == 0 && now_ns() - start > SPIN_NS)
            break;
    }
    pthread_mutex_lock(&pool->lock);
    atomic_fetch_add(&pool->sleepers, 1);
    uint32_t gen;
    while ((gen = generation_of(atomic_load(&pool->claim))) == seen && !atomic_load(&pool->quit))
        pthread_cond_wait(&pool->wake, &pool->lock);
    atomic_fetch_sub(&pool->sleepers, 1);
    pthread_mutex_unlock(&pool->lock);
    return gen;
}

static void *worker_main(void *p)
{
    worker *self = p;
    sb_threadpool *pool = self->pool;
    uint32_t seen = 0;
    for (;;) {
        seen = wait_for_job(pool, seen);
        if (atomic_load_explicit(&pool->quit, memory_order_acquire))
            return NULL;
        work(pool, seen, self->id);
    }
}

int sb_threadpool_threads(const sb_threadpool *pool) { return pool ? pool->n_threads : 1; }

static void stop_workers(sb_threadpool *pool, int started)
{
    pthread_mutex_lock(&pool->lock);
    atomic_store(&pool->quit, true);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 0; i < started; i++)
        pthread_join(pool->workers[i].thread, NULL);
}

/* Workers block every signal: the application's handlers should run on its own threads. */
static int start_workers(sb_threadpool *pool)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int started = 0;
    for (; started < pool->n_threads - 1; started++) {
        worker *w = &pool->workers[started];
        w->pool = pool;
        w->id = started + 1;
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
            break;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (started == pool->n_threads - 1)
        return 0;
    stop_workers(pool, started);
    return -1;
}

sb_threadpool *sb_threadpool_create(int n_threads)
{
    if (n_threads < 2)
        return NULL;
    sb_threadpool *pool = calloc(1, sizeof *pool);
    worker *workers = calloc((size_t)n_threads - 1, sizeof *workers);
    if (!pool || !workers) {
        free(pool);
        free(workers);
        return NULL;
    }
    pool->n_threads = n_threads;
    pool->workers = workers;
    atomic_init(&pool->claim, 0);
    if (pthread_mutex_init(&pool->lock, NULL) != 0) {
        free(workers);
        free(pool);
        return NULL;
    }
    if (pthread_cond_init(&pool->wake, NULL) != 0 || start_workers(pool) != 0) {
        pthread_cond_destroy(&pool->wake); /* harmless on failure paths glibc accepts */
        pthread_mutex_destroy(&pool->lock);
        free(workers);
        free(pool);
        return NULL;
    }
    return pool;
}

void sb_threadpool_free(sb_threadpool *pool)
{
    if (!pool)
        return;
    stop_workers(pool, pool->n_threads - 1);
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->lock);
    free(pool->workers);
    free(pool);
}

/* Runs tasks [first, first + n_tasks) as one generation (n_tasks <= MAX_TASKS_PER_GENERATION). */
static void run_generation(sb_threadpool *pool, int first, int n_tasks)
{
    atomic_store_explicit(&pool->first_task, first, memory_order_relaxed);
    atomic_store_explicit(&pool->done, 0, memory_order_relaxed);
    pool->generation++;
    const uint64_t word = (uint64_t)pool->generation << 32 | (uint64_t)n_tasks << 16;
    atomic_store(&pool->claim, word); /* seq_cst: see the top */
    if (atomic_load(&pool->sleepers) > 0) {
        pthread_mutex_lock(&pool->lock);
        pthread_cond_broadcast(&pool->wake);
        pthread_mutex_unlock(&pool->lock);
    }
    work(pool, pool->generation, 0);
    /* Every task is claimed; wait for the ones other threads are still running. */
    for (int spins = 1; atomic_load_explicit(&pool->done, memory_order_acquire) < n_tasks;
         spins++) {
        cpu_relax();
        if (spins % 1024 == 0)
            sched_yield(); /* the worker may share this core with us */
    }
}

void sb_threadpool_run(sb_threadpool *pool, int n_tasks, int max_threads, sb_task_fn fn, void *arg)
{
    if (n_tasks <= 0)
        return;
    if (!pool || n_tasks == 1 || max_threads <= 1) {
        run_serial(n_tasks, fn, arg);
        return;
    }
    atomic_store_explicit(&pool->fn, fn, memory_order_relaxed);
    atomic_store_explicit(&pool->arg, arg, memory_order_relaxed);
    atomic_store_explicit(&pool->max_threads, max_threads, memory_order_relaxed);
    for (int first = 0; first < n_tasks; first += MAX_TASKS_PER_GENERATION) {
        const int left = n_tasks - first;
        run_generation(pool, first,
                       left < MAX_TASKS_PER_GENERATION ? left : MAX_TASKS_PER_GENERATION);
    }
}

#endif
