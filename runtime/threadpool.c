/* threadpool.c - the worker threads behind rt_pool_parallel_for.
 *
 * The hand-off is what a recurrent step pays on every split product (a
 * step's GEMM, tens of microseconds of work), so both sides spin for a
 * while before they sleep (as OpenMP's "active" wait policy, bounded):
 *
 *  - a worker that has run its chunk watches the atomic generation counter
 *    for SPIN_NS; a loop posted in that time starts without a system call.
 *    After it, the worker sleeps on `wake` (counted in `sleepers`, so the
 *    poster signals only when someone sleeps);
 *  - the caller, after its own chunk, watches the atomic `pending` count
 *    for SPIN_NS, then sleeps on `done` (flagged by `waiting`).
 *
 * Every chunk is claimed before it runs (a compare-and-swap of its slot in
 * `claim` from the previous generation to this one): its worker claims it,
 * or the caller, done with chunk 0, claims and runs every chunk whose
 * worker has not started it.  A worker off its core (asleep, or
 * descheduled on a busy machine) then costs the caller nothing but its
 * own time for that chunk, never a wait for a time slice; a worker that
 * comes late finds its chunk taken and waits for the next loop.  This is
 * what makes the pool fit a batch-1 step's product of a few microseconds
 * (sgemm_mt.c): a worker on its core takes the same chunk, the same half
 * of W, step after step, so each half stays in its own core's L2 (the
 * persistent-RNN idea: Diamos et al. 2016; DeepCPU, ATC 2018).  Which
 * thread runs a chunk never changes what it computes.
 *
 * Both sleep protocols are Dekker-style on sequentially consistent atomics:
 * the sleeper publishes itself, then re-checks the condition; the waker
 * changes the condition, then looks for sleepers, and signals under the
 * mutex the sleeper holds until it is inside pthread_cond_wait, so no
 * wake-up is lost.  A generation counter makes each worker run each loop
 * exactly once however late it wakes.
 *
 * Measured on the 2-core AVX-512 VM (a 2 us job on 2 threads, wall time
 * per parallel_for, best of 3000): 14-16 us with condition variables
 * alone, the worker asleep; see docs/performance.md for the spinning
 * pool's figures.  An idle pool costs nothing once SPIN_NS has passed. */
#include "runtime/threadpool.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* How long either side spins before it sleeps: longer than the gap
 * between two split products of a recurrent step (its element-wise work,
 * 20-100 us at the benchmark's shapes), short enough that a pool left idle
 * stops burning a core at once. */
#define SPIN_NS    200000
/* Spinning pays only when every thread of the pool has a core.  On an
 * oversubscribed machine a spinning thread burns the time slices the
 * others need (measured at load average 26 on the 2 cores: a split GEMM
 * step with 30 us of work between products went from 130 to 770-1040 us
 * a step with spinning).  So a worker that finds its loop more than
 * LATE_NS after it was posted, though it was spinning for it, was off its
 * core: the pool stops spinning for PASSIVE_NS, then tries again. */
#define LATE_NS    50000
#define PASSIVE_NS 100000000

enum { MAX_THREADS = 1024 };

typedef struct Worker {
    RtPool *pool;
    int id; /* chunk number, 1..size-1 (the caller runs chunk 0) */
    pthread_t thread;
    /* the last generation whose chunk `id` someone claimed (see the top);
     * a cache line of its own, as the worker and the caller both write it */
    _Alignas(64) atomic_uint_fast64_t claim;
} Worker;

struct RtPool {
    int size;
    Worker *workers;
    pthread_mutex_t call; /* serialises concurrent parallel_for callers */
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    /* the posted loop: n, fn, ctx written before generation is bumped */
    atomic_uint_fast64_t generation;
    atomic_int pending; /* chunks past 0 not finished in this generation */
    atomic_int stop;
    atomic_int sleepers;        /* workers asleep (or going to sleep) on wake */
    atomic_int waiting;         /* the caller asleep (or going to sleep) on done */
    atomic_llong posted_ns;     /* when the current loop was posted */
    atomic_llong passive_until; /* no spinning before this time (now_ns) */
    int64_t n;
    RtPoolFn fn;
    void *ctx;
};

/* Nanoseconds on a clock that C11 has without POSIX (timespec_get); only
 * differences of it bound a spin, so a jump of the wall clock merely ends
 * one spin early or late. */
static int64_t now_ns(void)
{
    struct timespec t;
    if (timespec_get(&t, TIME_UTC) != TIME_UTC) return 0;
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* A bounded spin: spin_more(&s) pauses a moment and says whether to keep
 * spinning (0 once `budget` ns have passed). */
typedef struct Spin {
    int64_t t0, budget;
    unsigned i;
} Spin;

static int spin_more(Spin *s)
{
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_ia32_pause();
#endif
    if ((++s->i & 31) == 0) { /* the clock now and then, not every turn */
        int64_t t = now_ns();
        if (s->t0 == 0) s->t0 = t;
        return t - s->t0 <= s->budget;
    }
    return 1;
}

/* The spin budget now: SPIN_NS, or 0 while the pool is passive (see the
 * top of the file). */
static Spin spin_start(RtPool *p)
{
    Spin s = {0, SPIN_NS, 0};
    if (now_ns() < atomic_load_explicit(&p->passive_until, memory_order_relaxed)) s.budget = 0;
    return s;
}

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

/* Claims chunk w->id of generation gen and runs it; 0 if someone else had
 * claimed it.  Every chunk of a generation is claimed before the caller
 * returns, so the slot holds gen - 1 until then: the compare-and-swap
 * succeeds for exactly one thread. */
static int claim_and_run(RtPool *p, Worker *w, uint_fast64_t gen)
{
    uint_fast64_t want = gen - 1;
    if (!atomic_compare_exchange_strong(&w->claim, &want, gen)) return 0;
    int64_t b, e;
    chunk(p->n, w->id, p->size, &b, &e);
    if (b < e) p->fn(p->ctx, b, e);
    return 1;
}

static void *worker_main(void *arg)
{
    Worker *w = arg;
    RtPool *p = w->pool;
    uint64_t seen = 0;
    for (;;) {
        Spin sp = spin_start(p);
        while (sp.budget > 0 && atomic_load_explicit(&p->generation, memory_order_acquire) == seen &&
               !atomic_load_explicit(&p->stop, memory_order_relaxed) && spin_more(&sp)) {}
        if (sp.budget > 0 && atomic_load_explicit(&p->generation, memory_order_acquire) != seen) {
            /* Found spinning: if the loop waited long for this worker, the
             * worker was not on a core while it spun. */
            int64_t t = now_ns();
            if (t - atomic_load_explicit(&p->posted_ns, memory_order_relaxed) > LATE_NS)
                atomic_store_explicit(&p->passive_until, t + PASSIVE_NS, memory_order_relaxed);
        }
        if (atomic_load(&p->generation) == seen && !atomic_load(&p->stop)) {
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->sleepers, 1); /* then re-check: see the top */
            while (atomic_load(&p->generation) == seen && !atomic_load(&p->stop)) pthread_cond_wait(&p->wake, &p->mu);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load_explicit(&p->stop, memory_order_acquire)) break;
        seen = atomic_load_explicit(&p->generation, memory_order_acquire);
        if (!claim_and_run(p, w, seen)) continue; /* the caller ran it */
        if (atomic_fetch_sub(&p->pending, 1) == 1 && atomic_load(&p->waiting)) {
            pthread_mutex_lock(&p->mu); /* the caller is in pthread_cond_wait, or about to re-check */
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
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
    atomic_init(&p->generation, 0);
    atomic_init(&p->pending, 0);
    atomic_init(&p->stop, 0);
    atomic_init(&p->sleepers, 0);
    atomic_init(&p->waiting, 0);
    atomic_init(&p->posted_ns, 0);
    atomic_init(&p->passive_until, 0);
    pthread_mutex_init(&p->call, NULL);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    p->workers = aligned_alloc(64, (size_t)nthreads * sizeof *p->workers);
    if (p->workers) memset(p->workers, 0, (size_t)nthreads * sizeof *p->workers);
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
        atomic_init(&w->claim, 0);
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
    atomic_store(&pool->stop, 1);
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

RT_API int rt_pool_spinning(RtPool *pool) { return spin_start(pool).budget > 0; }

/* Posts the loop to the workers, runs chunk 0 and every chunk no worker
 * has claimed by then, waits for the rest; the caller holds pool->call.
 * Every chunk of the previous loop is done (pending reached 0) and no
 * worker reads n, fn and ctx without a claim of this generation, so they
 * are free to overwrite. */
static void run_posted(RtPool *pool, int64_t n, RtPoolFn fn, void *ctx)
{
    pool->n = n;
    pool->fn = fn;
    pool->ctx = ctx;
    atomic_store(&pool->pending, pool->size - 1);
    atomic_store_explicit(&pool->posted_ns, now_ns(), memory_order_relaxed);
    atomic_fetch_add(&pool->generation, 1); /* publishes n, fn, ctx */
    if (atomic_load(&pool->sleepers) > 0) {
        pthread_mutex_lock(&pool->mu);
        pthread_cond_broadcast(&pool->wake);
        pthread_mutex_unlock(&pool->mu);
    }

    int64_t b, e;
    chunk(n, 0, pool->size, &b, &e);
    if (b < e) fn(ctx, b, e);
    uint_fast64_t gen = atomic_load_explicit(&pool->generation, memory_order_relaxed); /* only callers change it */
    for (int t = 1; t < pool->size; t++)
        if (claim_and_run(pool, &pool->workers[t], gen)) atomic_fetch_sub(&pool->pending, 1);

    Spin sp = spin_start(pool);
    while (atomic_load_explicit(&pool->pending, memory_order_acquire) > 0)
        if (sp.budget == 0 || !spin_more(&sp)) {
            pthread_mutex_lock(&pool->mu);
            atomic_store(&pool->waiting, 1); /* then re-check: see the top */
            while (atomic_load(&pool->pending) > 0) pthread_cond_wait(&pool->done, &pool->mu);
            atomic_store(&pool->waiting, 0);
            pthread_mutex_unlock(&pool->mu);
            break;
        }
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
