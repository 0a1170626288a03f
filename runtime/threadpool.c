/* threadpool.c - the worker threads behind rt_pool_parallel_for.
 *
 * One mutex and two condition variables: `wake` tells the workers a new
 * loop is posted (a generation counter, so a worker that wakes spuriously
 * or late still runs each loop exactly once), `done` tells the caller the
 * last chunk has finished.  Workers sleep between loops, so an idle pool
 * costs nothing. */
#include "runtime/threadpool.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { MAX_THREADS = 1024 };

typedef struct Worker {
    RtPool *pool;
    int id; /* chunk number, 1..size-1 (the caller runs chunk 0) */
    pthread_t thread;
} Worker;

struct RtPool {
    int size;
    Worker *workers;
    pthread_mutex_t call; /* serialises concurrent parallel_for callers */
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    /* the posted loop, guarded by mu */
    uint64_t generation;
    int pending; /* workers that have not finished this generation */
    int stop;
    int64_t n;
    RtPoolFn fn;
    void *ctx;
};

RT_API int rt_pool_threads_for(const char *value)
{
    if (value && *value) {
        char *end;
        errno = 0;
        long v = strtol(value, &end, 10);
        if (!errno && *end == '\0' && v >= 1 && v <= MAX_THREADS) return (int)v;
        fprintf(stderr, "rnnc: RNNC_THREADS=%s is not a thread count 1..%d; using every core\n", value, MAX_THREADS);
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1) return 1;
    return cores > MAX_THREADS ? MAX_THREADS : (int)cores;
}

/* Chunk t of [0, n) split T ways; products fit: n < 2^53 in practice and
 * T <= 1024, but divide first for n that large. */
static void chunk(int64_t n, int t, int T, int64_t *begin, int64_t *end)
{
    *begin = n / T * t + n % T * t / T;
    *end = n / T * (t + 1) + n % T * (t + 1) / T;
}

static void *worker_main(void *arg)
{
    Worker *w = arg;
    RtPool *p = w->pool;
    uint64_t seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->generation == seen && !p->stop) pthread_cond_wait(&p->wake, &p->mu);
        if (p->stop) break;
        seen = p->generation;
        int64_t n = p->n;
        RtPoolFn fn = p->fn;
        void *ctx = p->ctx;
        pthread_mutex_unlock(&p->mu);

        int64_t b, e;
        chunk(n, w->id, p->size, &b, &e);
        if (b < e) fn(ctx, b, e);

        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

RT_API RtPool *rt_pool_new(int nthreads)
{
    if (nthreads <= 0) nthreads = rt_pool_threads_for(getenv("RNNC_THREADS"));
    if (nthreads > MAX_THREADS) nthreads = MAX_THREADS;
    RtPool *p = calloc(1, sizeof *p);
    if (!p) {
        fprintf(stderr, "rnnc: out of memory for a thread pool\n");
        return NULL;
    }
    p->size = nthreads;
    pthread_mutex_init(&p->call, NULL);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    p->workers = calloc((size_t)nthreads, sizeof *p->workers);
    if (!p->workers) {
        fprintf(stderr, "rnnc: out of memory for a thread pool\n");
        p->size = 1;
        rt_pool_free(p);
        return NULL;
    }
    for (int t = 1; t < nthreads; t++) {
        Worker *w = &p->workers[t];
        w->pool = p;
        w->id = t;
        int err = pthread_create(&w->thread, NULL, worker_main, w);
        if (err) {
            fprintf(stderr, "rnnc: cannot start thread %d of %d: %s\n", t, nthreads, strerror(err));
            p->size = t; /* rt_pool_free joins the t - 1 already running */
            rt_pool_free(p);
            return NULL;
        }
    }
    return p;
}

RT_API void rt_pool_free(RtPool *pool)
{
    if (!pool) return;
    pthread_mutex_lock(&pool->mu);
    pool->stop = 1;
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mu);
    for (int t = 1; t < pool->size; t++) pthread_join(pool->workers[t].thread, NULL);
    pthread_cond_destroy(&pool->done);
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->mu);
    pthread_mutex_destroy(&pool->call);
    free(pool->workers);
    free(pool);
}

RT_API int rt_pool_size(const RtPool *pool) { return pool->size; }

/* Posts the loop to the workers, runs chunk 0, waits for the rest; the
 * caller holds pool->call. */
static void run_posted(RtPool *pool, int64_t n, RtPoolFn fn, void *ctx)
{
    pthread_mutex_lock(&pool->mu);
    pool->n = n;
    pool->fn = fn;
    pool->ctx = ctx;
    pool->pending = pool->size - 1;
    pool->generation++;
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mu);

    int64_t b, e;
    chunk(n, 0, pool->size, &b, &e);
    if (b < e) fn(ctx, b, e);

    pthread_mutex_lock(&pool->mu);
    while (pool->pending > 0) pthread_cond_wait(&pool->done, &pool->mu);
    pthread_mutex_unlock(&pool->mu);
}

RT_API void rt_pool_parallel_for(RtPool *pool, int64_t n, RtPoolFn fn, void *ctx)
{
    if (n <= 0) return;
    if (pool->size == 1 || n == 1) {
        fn(ctx, 0, n); /* nothing to share: skip the hand-off */
        return;
    }
    pthread_mutex_lock(&pool->call);
    run_posted(pool, n, fn, ctx);
    pthread_mutex_unlock(&pool->call);
}

RT_API int rt_pool_try_parallel_for(RtPool *pool, int64_t n, RtPoolFn fn, void *ctx)
{
    if (n <= 0) return 0;
    if (pool->size == 1 || n == 1) {
        fn(ctx, 0, n);
        return 0;
    }
    if (pthread_mutex_trylock(&pool->call)) return -1;
    run_posted(pool, n, fn, ctx);
    pthread_mutex_unlock(&pool->call);
    return 0;
}
