/* test_threadpool.c - rt_pool: RNNC_THREADS parsing, every index of a
 * parallel_for run exactly once for pool sizes 1..7 and loop lengths
 * around the pool size, the fixed chunking, many back-to-back loops (a
 * lost wake-up or a double run shows up here), loops far enough apart
 * that the workers and the caller stop spinning and sleep (the other half
 * of the hand-off), and the context pointer. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "runtime/threadpool.h"

static void test_threads_for(void **state)
{
    (void)state;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int all = cores < 1 ? 1 : (int)cores;
    assert_int_equal(rt_pool_threads_for("3"), 3);
    assert_int_equal(rt_pool_threads_for("1"), 1);
    assert_int_equal(rt_pool_threads_for("1024"), 1024);
    assert_int_equal(rt_pool_threads_for(NULL), all);
    assert_int_equal(rt_pool_threads_for(""), all);
    /* Bad values warn and fall back to every core. */
    assert_int_equal(rt_pool_threads_for("0"), all);
    assert_int_equal(rt_pool_threads_for("-2"), all);
    assert_int_equal(rt_pool_threads_for("4x"), all);
    assert_int_equal(rt_pool_threads_for("1025"), all);
    assert_int_equal(rt_pool_threads_for("99999999999999999999"), all);

    setenv("RNNC_THREADS", "3", 1);
    RtPool *p = rt_pool_new(0);
    assert_non_null(p);
    assert_int_equal(rt_pool_size(p), 3);
    rt_pool_free(p);
    unsetenv("RNNC_THREADS");
    p = rt_pool_new(2); /* an explicit count wins */
    assert_int_equal(rt_pool_size(p), 2);
    rt_pool_free(p);
    rt_pool_free(NULL);
}

/* Each index counts how often it ran (atomically: chunks are disjoint,
 * but a bug could hand one index to two threads). */
typedef struct Hits {
    int64_t n;
    int *count;
    pthread_mutex_t mu;
    int calls; /* fn invocations */
    int bad;   /* a range outside [0, n): checked by the main thread, since
                  a cmocka assertion must not fail on a worker thread */
} Hits;

static void hit(void *ctx, int64_t begin, int64_t end)
{
    Hits *h = ctx;
    pthread_mutex_lock(&h->mu);
    if (!(0 <= begin && begin < end && end <= h->n)) {
        h->bad = 1;
        pthread_mutex_unlock(&h->mu);
        return;
    }
    for (int64_t i = begin; i < end; i++) h->count[i]++;
    h->calls++;
    pthread_mutex_unlock(&h->mu);
}

static void test_every_index_once(void **state)
{
    (void)state;
    for (int T = 1; T <= 7; T++) {
        RtPool *p = rt_pool_new(T);
        assert_non_null(p);
        assert_int_equal(rt_pool_size(p), T);
        const int64_t ns[] = {0, 1, 2, T - 1, T, T + 1, 3 * T + 2, 1000};
        for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
            int64_t n = ns[k];
            Hits h = {.n = n, .count = calloc((size_t)(n ? n : 1), sizeof(int))};
            assert_non_null(h.count);
            pthread_mutex_init(&h.mu, NULL);
            rt_pool_parallel_for(p, n, hit, &h);
            assert_false(h.bad);
            for (int64_t i = 0; i < n; i++) assert_int_equal(h.count[i], 1);
            /* One call per non-empty chunk: min(n, T) of them. */
            assert_int_equal(h.calls, n < T ? (int)n : T);
            pthread_mutex_destroy(&h.mu);
            free(h.count);
        }
        rt_pool_free(p);
    }
}

/* Chunk t is [t*n/T, (t+1)*n/T): record the chunks and compare. */
typedef struct Chunks {
    pthread_mutex_t mu;
    int64_t begin[8], end[8];
    int k;
} Chunks;

static void record(void *ctx, int64_t begin, int64_t end)
{
    Chunks *c = ctx;
    pthread_mutex_lock(&c->mu);
    if (c->k < 8) { /* more than 8 calls fails the count check below */
        c->begin[c->k] = begin;
        c->end[c->k] = end;
    }
    c->k++;
    pthread_mutex_unlock(&c->mu);
}

static void test_chunks(void **state)
{
    (void)state;
    RtPool *p = rt_pool_new(3);
    Chunks c = {.k = 0};
    pthread_mutex_init(&c.mu, NULL);
    rt_pool_parallel_for(p, 10, record, &c); /* 10*t/3: 0, 3, 6, 10 */
    assert_int_equal(c.k, 3);
    int seen = 0;
    for (int i = 0; i < 3; i++) {
        int t = c.begin[i] == 0 ? 0 : c.begin[i] == 3 ? 1 : c.begin[i] == 6 ? 2 : -1;
        assert_true(t >= 0);
        static const int64_t ends[] = {3, 6, 10};
        assert_int_equal(c.end[i], ends[t]);
        seen |= 1 << t;
    }
    assert_int_equal(seen, 7);
    pthread_mutex_destroy(&c.mu);
    rt_pool_free(p);
}

/* Sums of squares into per-index slots, many loops back to back. */
typedef struct Square {
    const int64_t *in;
    int64_t *out;
} Square;

static void square(void *ctx, int64_t begin, int64_t end)
{
    Square *s = ctx;
    for (int64_t i = begin; i < end; i++) s->out[i] += s->in[i] * s->in[i];
}

static void test_many_loops(void **state)
{
    (void)state;
    enum { N = 257, LOOPS = 2000 };
    int64_t in[N], out[N] = {0};
    for (int i = 0; i < N; i++) in[i] = i - 100;
    RtPool *p = rt_pool_new(4);
    Square s = {in, out};
    for (int l = 0; l < LOOPS; l++) rt_pool_parallel_for(p, N, square, &s);
    for (int i = 0; i < N; i++) assert_true(out[i] == (int64_t)LOOPS * in[i] * in[i]);
    rt_pool_free(p);
}

/* Busy for `us` microseconds (no sleeping call: the point is that the
 * other side of the pool does not hear from this thread for that long). */
static void busy_us(int64_t us)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do clock_gettime(CLOCK_MONOTONIC, &t);
    while ((t.tv_sec - t0.tv_sec) * 1000000 + (t.tv_nsec - t0.tv_nsec) / 1000 < us);
}

/* Index i of [0, 2): out[i] += i + 1, the worker's chunk (i = 1) after
 * `slow` us, so that the caller gives up spinning and sleeps on `done`;
 * the caller's (i = 0) after slow / 10 us, so that the worker has claimed
 * its chunk by then (else the caller would run it: see the next test). */
typedef struct Slow {
    int64_t out[2];
    int64_t slow;
} Slow;

static void slow_second(void *ctx, int64_t begin, int64_t end)
{
    Slow *s = ctx;
    for (int64_t i = begin; i < end; i++) {
        busy_us(i == 1 ? s->slow : s->slow / 10);
        s->out[i] += i + 1;
    }
}

/* The spins are bounded (SPIN_NS = 200 us in threadpool.c): a loop posted
 * 1 ms after the last finds the worker asleep on `wake`, and a worker
 * 1 ms slower than the caller finds the caller asleep on `done`; a lost
 * wake-up either way hangs here.  Alternated with quick loops, which the
 * still-spinning sides hand over without sleeping. */
static void test_sleep_and_wake(void **state)
{
    (void)state;
    RtPool *p = rt_pool_new(2);
    Slow s = {{0, 0}, 0};
    enum { ROUNDS = 6 };
    for (int r = 0; r < ROUNDS; r++) {
        s.slow = r % 2 ? 1000 : 0;     /* the caller sleeps in odd rounds */
        if (r % 3 == 0) busy_us(1000); /* the worker sleeps before these */
        rt_pool_parallel_for(p, 2, slow_second, &s);
        rt_pool_parallel_for(p, 2, slow_second, &s); /* right after: spinning */
    }
    assert_int_equal(s.out[0], 2 * ROUNDS * 1);
    assert_int_equal(s.out[1], 2 * ROUNDS * 2);
    rt_pool_free(p);
}

/* Which thread ran each index of [0, 2). */
typedef struct Who {
    pthread_t by[2];
    int runs[2];
    int64_t us0; /* index 0 takes this long: time for the worker to come */
} Who;

static void record_thread(void *ctx, int64_t begin, int64_t end)
{
    Who *w = ctx;
    for (int64_t i = begin; i < end; i++) {
        if (i == 0) busy_us(w->us0);
        w->by[i] = pthread_self();
        w->runs[i]++;
    }
}

/* A worker held off its work: SIGUSR1 sent to it spins in this handler
 * until `release` (or 2 s, so that a pool that waits for its workers
 * fails the test instead of hanging it). */
static volatile sig_atomic_t held, release;

static void hold_worker(int sig)
{
    (void)sig;
    held = 1;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do clock_gettime(CLOCK_MONOTONIC, &t);
    while (!release && t.tv_sec - t0.tv_sec < 2);
}

/* A chunk that its worker has not claimed when the caller is done with
 * its own is run by the caller (the claims of threadpool.c): with the
 * worker held in a signal handler (as a worker off its core), a loop of 2
 * indices returns with both run by the caller, at once; the worker, let
 * go, does not run index 1 again, and the next loop is shared as before. */
static void test_caller_takes_late_chunk(void **state)
{
    (void)state;
    RtPool *p = rt_pool_new(2);
    Who w;
    pthread_t worker;
    int tries = 0;
    do { /* the worker's thread: the one that runs index 1 */
        memset(&w, 0, sizeof w);
        w.us0 = 100;
        rt_pool_parallel_for(p, 2, record_thread, &w);
        worker = w.by[1];
        assert_true(++tries < 10000);
    } while (pthread_equal(worker, pthread_self()));

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = hold_worker;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR1, &sa, NULL), 0);
    held = release = 0;
    assert_int_equal(pthread_kill(worker, SIGUSR1), 0);
    while (!held) sched_yield();

    memset(&w, 0, sizeof w);
    rt_pool_parallel_for(p, 2, record_thread, &w);
    int caller_ran_1 = pthread_equal(w.by[1], pthread_self()) != 0;
    release = 1;
    assert_int_equal(w.runs[0], 1);
    assert_int_equal(w.runs[1], 1);
    assert_true(caller_ran_1);

    memset(&w, 0, sizeof w);
    rt_pool_parallel_for(p, 2, record_thread, &w); /* after the worker is back */
    assert_int_equal(w.runs[0], 1);
    assert_int_equal(w.runs[1], 1);
    rt_pool_free(p);
    signal(SIGUSR1, SIG_DFL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_for),    cmocka_unit_test(test_every_index_once),
        cmocka_unit_test(test_chunks),         cmocka_unit_test(test_many_loops),
        cmocka_unit_test(test_sleep_and_wake), cmocka_unit_test(test_caller_takes_late_chunk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
