/* threadpool.h - a small fixed pool of worker threads for data-parallel
 * loops (the batch or hidden dimension of an RNN step).
 *
 * The pool is an object: no global state, so a library user can run two
 * models with two pools, or none.  rt_pool_parallel_for splits [0, n) into
 * one contiguous chunk per thread, always the same way for the same n and
 * pool size (chunk t is [t*n/T, (t+1)*n/T)); the calling thread runs chunk
 * 0 itself, then every chunk whose worker has not started it (a worker
 * off its core is not waited for), and waits for the others.  Chunk t
 * runs on worker t whenever that worker is on its core, so a loop that
 * streams its own part of some data keeps it in that core's cache.  fn
 * must write disjoint outputs per index; then the results depend neither
 * on the thread count nor on which thread ran a chunk.
 *
 * One parallel_for at a time per pool (concurrent callers are serialised,
 * or turned away by rt_pool_try_parallel_for); fn must not call
 * rt_pool_parallel_for on the same pool.
 *
 * Part of the runtime that generated code carries (rt_sgemm's threads,
 * sgemm_mt.c): POSIX threads, which glibc >= 2.34 has in libc itself. */
#ifndef RNNC_THREADPOOL_H
#define RNNC_THREADPOOL_H

#include <stdint.h>

#include "runtime/rnnrt.h" /* RT_API: static in the amalgamation */

typedef struct RtPool RtPool;

/* Runs indices [begin, end) of the loop. */
typedef void (*RtPoolFn)(void *ctx, int64_t begin, int64_t end);

/* The thread count RNNC_THREADS=value asks for: a whole number 1..1024;
 * NULL or "" means every online core (sysconf); anything else warns on
 * stderr and also means every core. */
RT_API int rt_pool_threads_for(const char *value);

/* A pool of nthreads threads (counting the caller: nthreads - 1 workers
 * are started); nthreads <= 0 means rt_pool_threads_for(getenv
 * ("RNNC_THREADS")).  NULL, with a message on stderr, if threads cannot be
 * created. */
RT_API RtPool *rt_pool_new(int nthreads);

/* Stops and joins the workers; NULL is a no-op. */
RT_API void rt_pool_free(RtPool *pool);

RT_API int rt_pool_size(const RtPool *pool);

/* fn(ctx, begin, end) over the chunks of [0, n); returns when all are
 * done.  n <= 0 does nothing. */
RT_API void rt_pool_parallel_for(RtPool *pool, int64_t n, RtPoolFn fn, void *ctx);

/* Whether the workers spin for the next loop now (0 while the pool is
 * passive: a worker was found off its core, see threadpool.c).  A caller
 * with a short job (an element-wise map, ~10 us) splits it only then: a
 * sleeping or descheduled worker costs more than the job. */
RT_API int rt_pool_spinning(RtPool *pool);

/* The same, unless another caller's loop is running on the pool: then
 * nothing runs and -1 is returned at once (the caller does the work on
 * its own thread instead of queueing behind another model's).  0 when
 * the loop ran. */
RT_API int rt_pool_try_parallel_for(RtPool *pool, int64_t n, RtPoolFn fn, void *ctx);

#endif
