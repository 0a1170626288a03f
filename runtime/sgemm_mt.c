/* sgemm_mt.c - one rt_sgemm product split over threads.
 *
 * A product big enough to pay for waking the threads (the hoisted input
 * projection over all T*B rows, the weight gradients after a backward
 * scan, a recurrent step at a large batch) is cut into strips, one per
 * thread: column strips at multiples of the kernel's nr, or row strips at
 * multiples of its mr (blocked) or of RT_SGEMM_SMALL_ROWS (small M).
 * Never K: every element is then computed by the same kernel, over the same
 * tiles, summing K in the same order as on one thread, so the result has
 * the same bits for any thread count (tests/unit/test_sgemm.c checks).
 *
 * Which dimension: the small-M kernels stream B once per group of rows,
 * so they split columns (each thread streams only its part of W, which
 * then stays in its own L2); the blocked loops split the dimension whose
 * split repeats less work - columns repeat the packing of A (M*K) in
 * every thread, rows that of B (N*K), or, when B is pre-packed, the
 * streaming of all of it through every core: a recurrent step at
 * H = 512, B = 64 (W packed, 4 MiB) took 600 us on 2 threads split by
 * rows, 440 us by columns (733 us on one; docs/performance.md).
 *
 * The threads: one process-wide pool (threadpool.h) of RNNC_THREADS threads
 * (default every core), made at the first product big enough to split,
 * with one packing workspace per thread past the first, allocated with
 * the pool: after that first product nothing is allocated.  The calling
 * thread runs strip 0 in its own workspace.  A product arriving while
 * another thread's product holds the pool (two models run concurrently)
 * runs whole on its own thread rather than wait.  In the amalgamation each
 * generated model has its own pool, stopped by a destructor when the
 * model's shared object is unloaded. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "runtime/sgemm.h"
#include "runtime/sgemm_kernels.h"
#include "runtime/threadpool.h"

/* Split only products of at least MT_MIN_FLOPS, into strips of at least
 * MT_STRIP_FLOPS: waking a sleeping worker, waiting for it and the second
 * core's cold caches cost tens of microseconds.  Measured on the 2-core
 * AVX-512 VM (docs/performance.md), packed recurrent steps split by
 * columns, 1 -> 2 threads: H = 256, B = 32 (16.8 MFLOP) 94 -> 66 us;
 * H = 512, B = 64 (134 MFLOP) 733 -> 440 us; but a tanh RNN at H = 256,
 * B = 32, whose steps are 4.2 MFLOP, ran its forward in 6.5 ms split
 * against 4.2 whole.  (Split by rows, the earlier rule, H = 256, B = 32
 * was a loss: 103 -> 119 us, hence a threshold of 3e7 until then.) */
#define MT_MIN_FLOPS   1e7
#define MT_STRIP_FLOPS 5e6
/* At most this many threads for one product (workspaces are ~2 MiB). */
#define MT_MAX         64

static pthread_mutex_t mt_mu = PTHREAD_MUTEX_INITIALIZER;
static RtPool *mt_pool;       /* NULL: one thread */
static float *mt_ws[MT_MAX];  /* workspace of strip t >= 1 */
static atomic_int mt_threads; /* 0: not decided yet */
static double mt_min_flops = MT_MIN_FLOPS, mt_strip_flops = MT_STRIP_FLOPS;

/* Stops the pool and frees the workspaces; under mt_mu or at unload. */
static void mt_stop(void)
{
    rt_pool_free(mt_pool);
    mt_pool = NULL;
    for (int t = 0; t < MT_MAX; t++) {
        free(mt_ws[t]);
        mt_ws[t] = NULL;
    }
}

#if defined(__GNUC__)
/* The pool's threads must not outlive the code they run: a generated
 * model's runtime is unloaded with its shared object. */
__attribute__((destructor)) static void mt_unload(void) { mt_stop(); }
#endif

/* Makes the pool for n threads (n <= 0: RNNC_THREADS); under mt_mu.
 * Falls back to one thread, with a message, if threads or memory fail. */
static void mt_start(int n)
{
    if (n <= 0) n = rt_pool_threads_for(getenv("RNNC_THREADS"));
    if (n > MT_MAX) n = MT_MAX;
    if (n > 1) {
        size_t bytes =
            rt_sgemm_workspace_size((int64_t)1 << 20, (int64_t)1 << 20, (int64_t)1 << 20); /* any product's */
        bytes = (bytes + 63) / 64 * 64;
        mt_pool = rt_pool_new(n);
        for (int t = 1; mt_pool && t < n; t++)
            if (!(mt_ws[t] = aligned_alloc(64, bytes))) {
                fprintf(stderr, "rt_sgemm: out of memory for thread workspaces; one thread\n");
                mt_stop();
            }
        if (!mt_pool) n = 1;
    }
    atomic_store_explicit(&mt_threads, n, memory_order_release);
}

RT_API int rt_sgemm_threads(void)
{
    int n = atomic_load_explicit(&mt_threads, memory_order_acquire);
    if (n == 0) {
        pthread_mutex_lock(&mt_mu);
        if (atomic_load_explicit(&mt_threads, memory_order_relaxed) == 0) mt_start(0);
        n = atomic_load_explicit(&mt_threads, memory_order_relaxed);
        pthread_mutex_unlock(&mt_mu);
    }
    return n;
}

RT_API void rt_sgemm_set_threads(int n)
{
    pthread_mutex_lock(&mt_mu);
    mt_stop();
    mt_start(n);
    pthread_mutex_unlock(&mt_mu);
}

RT_API void rt_sgemm_set_split_flops(double min_flops, double strip_flops)
{
    mt_min_flops = min_flops > 0 ? min_flops : MT_MIN_FLOPS;
    mt_strip_flops = strip_flops > 0 ? strip_flops : MT_STRIP_FLOPS;
}

/* One split product: `parts` strips of `units` units of `unit` rows
 * (by_rows) or columns each, strip t in [t*units/parts, (t+1)*units/parts). */
typedef struct Split {
    const RtSgemmJob *j;
    int by_rows;
    int64_t unit, units, parts;
    float *ws0; /* the caller's workspace, for strip 0 */
} Split;

static void run_strips(void *ctx, int64_t begin, int64_t end)
{
    const Split *s = ctx;
    const RtSgemmJob *j = s->j;
    for (int64_t t = begin; t < end; t++) {
        int64_t lo = t * s->units / s->parts * s->unit;
        int64_t hi = (t + 1) * s->units / s->parts * s->unit;
        float *ws = t == 0 ? s->ws0 : mt_ws[t];
        if (s->by_rows)
            rt_sgemm_strip(j, lo, hi < j->M ? hi : j->M, 0, j->N, ws);
        else
            rt_sgemm_strip(j, 0, j->M, lo, hi < j->N ? hi : j->N, ws);
    }
}

/* Split a map only from this much work (elements times operations per
 * element): the hand-off to a spinning worker costs ~5 us, and a map of
 * 2^17 operations takes ~10-20 us on one core (an LSTM 256 gate map, ~40
 * live nodes an element, from B = 13; at B = 1 it stays whole).  And
 * only while the pool spins: on an oversubscribed machine, where the
 * worker is often off its core, splitting maps measured 3-8% slower
 * (docs/performance.md). */
#define MT_MAP_MIN_WORK (1 << 17)

static atomic_llong mt_map_min = -1; /* -1: not read yet */

/* MT_MAP_MIN_WORK, or RNNC_MAP_SPLIT_MIN=N (a whole number >= 1) for the
 * tests, which split every map to check that the bits do not change -
 * then also while the pool is passive, so that they split for sure. */
static int64_t map_min_work(void)
{
    long long v = atomic_load_explicit(&mt_map_min, memory_order_relaxed);
    if (v < 0) {
        const char *s = getenv("RNNC_MAP_SPLIT_MIN");
        char *end = NULL;
        v = s && *s ? strtoll(s, &end, 10) : 0;
        if (!s || !*s || *end || v < 1) v = MT_MAP_MIN_WORK;
        atomic_store_explicit(&mt_map_min, v, memory_order_relaxed);
    }
    return v;
}

RT_API void rt_map_rows(int64_t rows, int64_t row_work, RtMapRowsFn fn, void *ctx)
{
    if (rows > 1 && (double)rows * (double)row_work >= (double)map_min_work() && rt_sgemm_threads() > 1 && mt_pool &&
        (map_min_work() != MT_MAP_MIN_WORK || rt_pool_spinning(mt_pool)) &&
        rt_pool_try_parallel_for(mt_pool, rows, fn, ctx) == 0)
        return;
    fn(ctx, 0, rows);
}

/* Stream jobs (batch-1 steps) split over the cores from this much of W
 * (floats): 256 KiB, where a part of W per core starts to pay for the
 * hand-off (docs/performance.md, "Batch 1").  Split by columns at
 * multiples of 4 panels (the stream kernel's group: each column computed
 * as on one thread), chunk t always to worker t while it is on its core,
 * so each core streams its own part of W from its own L2 step after step
 * (the claims of threadpool.c: a worker off its core costs the caller its
 * chunk, not a wait).  Only while the pool spins: a sleeping worker costs
 * a system call per step, more than the product. */
#define MT_SPIN_MIN_W (64 * 1024)

/* A stream job split by columns over the pool; 0 if it ran. */
static int stream_split(const RtSgemmJob *j, float *ws)
{
    if (j->N * j->K < MT_SPIN_MIN_W || rt_sgemm_threads() < 2 || !mt_pool || !rt_pool_spinning(mt_pool)) return -1;
    int64_t w = 4 * (int64_t)j->k->nr, groups = (j->N + w - 1) / w;
    int64_t parts = rt_pool_size(mt_pool) < groups ? rt_pool_size(mt_pool) : groups;
    if (parts < 2) return -1;
    Split s = {j, 0, w, groups, parts, ws};
    return rt_pool_try_parallel_for(mt_pool, parts, run_strips, &s);
}

RT_API void rt_sgemm_mt(const RtSgemmJob *j, float *ws)
{
    if (j->small == RT_SGEMM_JOB_STREAM && stream_split(j, ws) == 0) return;
    double flops = 2.0 * (double)j->M * (double)j->N * (double)j->K;
    int threads = flops >= mt_min_flops ? rt_sgemm_threads() : 1;
    int64_t parts = (int64_t)(flops / mt_strip_flops);
    parts = parts < threads ? parts : threads;
    if (parts > 1) {
        int64_t mu = j->small ? RT_SGEMM_SMALL_ROWS : j->k->mr, nu = j->k->nr;
        int64_t mun = (j->M + mu - 1) / mu, nun = (j->N + nu - 1) / nu;
        /* rows for the blocked loops when A is the larger; columns
         * otherwise, pre-packed B or not (see the top of the file) */
        int by_rows = !j->small && j->M > j->N;
        if ((by_rows ? mun : nun) < parts) /* too few units that way: the other */
            by_rows = !by_rows;
        Split s = {j, by_rows, by_rows ? mu : nu, by_rows ? mun : nun, parts, ws};
        if (s.units < s.parts) s.parts = s.units;
        if (s.parts > 1 && mt_pool && rt_pool_try_parallel_for(mt_pool, s.parts, run_strips, &s) == 0) return;
    }
    rt_sgemm_strip(j, 0, j->M, 0, j->N, ws);
}
