/* sgemm_spin.c - a batch-1 step's product on two cores, each streaming
 * its own half of W from its own L2 (the persistent-RNN idea: Diamos et
 * al. 2016; DeepCPU, ATC 2018), synchronized by spinning on counters.
 *
 * At B = 1 a step's product takes a few microseconds and a model runs
 * hundreds of them back to back; waking a pool worker (a condition
 * variable, tens of microseconds when it slept) costs more than the
 * product.  Here one helper thread, started at the first such product,
 * spins on a counter: the caller publishes the job and bumps `go`, both
 * compute their column strips (the helper always the upper half, so each
 * core keeps the same half of W in its L2 step after step), and the
 * caller spins until `done` equals `go`.  Whoever comes first claims the
 * upper half (a compare-and-swap on `claim`): when the helper is not
 * running (another process has its core, common on a shared machine) the
 * caller, done with its half, takes the other too instead of waiting a
 * time slice for it.  After a few milliseconds
 * without work the helper sleeps on a condition variable (the caller
 * wakes it), so an idle model does not hold a core.
 *
 * The strips split columns at a multiple of 4 panels, so every column is
 * computed as by one thread: the same bits for any thread count.  One
 * caller at a time (a try-lock); another caller meanwhile, or a helper
 * that could not start, computes the whole product itself. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "runtime/sgemm_kernels.h"

#if RT_X86
#include <immintrin.h>
#define PAIR_PAUSE() _mm_pause()
#else
#define PAIR_PAUSE() ((void)0)
#endif

/* Polls of the helper between products before it sleeps: a pause is
 * 10-140 cycles (Zen 5 to Skylake), so 1-10 ms; a clock would need POSIX
 * feature macros that generated C files (-std=c11) do not set. */
#define PAIR_IDLE_POLLS (1L << 17)

static pthread_mutex_t pair_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pair_cv = PTHREAD_COND_INITIALIZER;
static atomic_int pair_state;                    /* 0 not started, 1 running, -1 failed */
static atomic_flag pair_busy = ATOMIC_FLAG_INIT; /* a caller holds the helper */
static atomic_long pair_go, pair_done;
static atomic_long pair_claim; /* the last go whose upper half someone took */
static atomic_int pair_sleeping;
static atomic_int pair_quit; /* set at unload: the helper returns */
static pthread_t pair_thread;
static const RtSgemmJob *pair_job; /* published before pair_go's increment */
static int64_t pair_j0;            /* the helper's first column */

static void *pair_helper(void *arg)
{
    (void)arg;
    long seen = 0;
    for (;;) {
        long polls = 0;
        while (atomic_load_explicit(&pair_go, memory_order_acquire) == seen) {
            if (atomic_load_explicit(&pair_quit, memory_order_relaxed)) return NULL;
            PAIR_PAUSE();
            if (++polls > PAIR_IDLE_POLLS) { /* Dekker with the caller: seq_cst on go and sleeping */
                pthread_mutex_lock(&pair_mu);
                atomic_store(&pair_sleeping, 1);
                while (atomic_load(&pair_go) == seen && !atomic_load(&pair_quit)) pthread_cond_wait(&pair_cv, &pair_mu);
                atomic_store(&pair_sleeping, 0);
                pthread_mutex_unlock(&pair_mu);
                polls = 0;
            }
        }
        seen = atomic_load_explicit(&pair_go, memory_order_acquire);
        long want = seen - 1;
        if (!atomic_compare_exchange_strong(&pair_claim, &want, seen)) continue; /* the caller took it */
        const RtSgemmJob *j = pair_job;
        rt_sgemm_strip(j, 0, j->M, pair_j0, j->N, NULL); /* stream jobs need no workspace */
        atomic_store_explicit(&pair_done, seen, memory_order_release);
    }
    return NULL;
}

/* Starts the helper once; 1 if it runs. */
static int pair_start(void)
{
    int st = atomic_load_explicit(&pair_state, memory_order_acquire);
    if (st) return st > 0;
    pthread_mutex_lock(&pair_mu);
    if (!atomic_load(&pair_state)) {
        int ok = !pthread_create(&pair_thread, NULL, pair_helper, NULL);
        atomic_store_explicit(&pair_state, ok ? 1 : -1, memory_order_release);
    }
    pthread_mutex_unlock(&pair_mu);
    return atomic_load(&pair_state) > 0;
}

/* At exit, or when a shared object carrying the runtime is unloaded (its
 * code must not run on): the helper stops and is joined, as the pool's
 * workers are (sgemm_mt.c). */
__attribute__((destructor)) static void pair_unload(void)
{
    if (atomic_load(&pair_state) <= 0) return;
    pthread_mutex_lock(&pair_mu);
    atomic_store(&pair_quit, 1);
    pthread_cond_signal(&pair_cv);
    pthread_mutex_unlock(&pair_mu);
    pthread_join(pair_thread, NULL);
    atomic_store(&pair_state, 0);
}

RT_API int rt_sgemm_spin2(const RtSgemmJob *j)
{
    int64_t w = 4 * (int64_t)j->k->nr, groups = (j->N + w - 1) / w;
    if (groups < 2 || atomic_flag_test_and_set_explicit(&pair_busy, memory_order_acquire)) return -1;
    if (!pair_start()) {
        atomic_flag_clear_explicit(&pair_busy, memory_order_release);
        return -1;
    }
    int64_t j0 = (groups + 1) / 2 * w; /* the caller takes the odd group */
    pair_job = j;
    pair_j0 = j0;
    long go = atomic_fetch_add(&pair_go, 1) + 1;
    if (atomic_load(&pair_sleeping)) {
        pthread_mutex_lock(&pair_mu);
        pthread_cond_signal(&pair_cv);
        pthread_mutex_unlock(&pair_mu);
    }
    rt_sgemm_strip(j, 0, j->M, 0, j0, NULL);
    long want = go - 1;
    if (atomic_compare_exchange_strong(&pair_claim, &want, go)) /* the helper is late: its half here */
        rt_sgemm_strip(j, 0, j->M, j0, j->N, NULL);
    else
        while (atomic_load_explicit(&pair_done, memory_order_acquire) != go) PAIR_PAUSE();
    atomic_flag_clear_explicit(&pair_busy, memory_order_release);
    return 0;
}
