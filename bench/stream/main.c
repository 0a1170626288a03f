/* stream/main.c - the streaming latency of a compiled model (make bench,
 * bench/stream_bench.sh): one RNN layer compiled by `rnnc compile
 * --prefix m` from
 *     model m { input x : seq<[I]>  h = CELL(x, hidden=H)  output h }
 * and driven through its C API at batch 1, the deployment case: a step a
 * call with m_step, against the same model's whole-sequence m_forward.
 *
 *     stream/main W.safetensors I H T    (compiled with -I the directory of m.h)
 *
 * Prints one line, µs per time step:
 *     step_us=X fwd_step_us=Y fwd_t1_us=Z
 * step_us     m_step, one call per step, T steps from the initial state
 * fwd_step_us m_forward over T steps, divided by T
 * fwd_t1_us   m_forward over one step (T = 1), a call
 * Each is the best of 5 medians of 21 runs (after 3 warm-up runs): the
 * machine is shared, and the least disturbed run is the one to compare.
 * The weights (`rnnc init`) are loaded once; the model packs them at its
 * first call (docs/c-api.md), which the warm-up runs include. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "m.h"

#define REPS   21
#define ROUNDS 5

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e6 * (double)ts.tv_sec + 1e-3 * (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct Run {
    m_model *m;
    float *x, *h;
    long i, hid, t;
} Run;

static void die(const Run *r, const char *what)
{
    fprintf(stderr, "stream: %s: %s\n", what, m_errmsg(r->m));
    exit(1);
}

/* One timed run of kind k, µs per step. */
static double once(const Run *r, int k)
{
    double t0 = now_us();
    if (k == 0) {
        m_reset(r->m);
        for (long s = 0; s < r->t; s++) {
            m_inputs in = {.x = r->x + s * r->i};
            m_outputs out = {.h = r->h + s * r->hid};
            if (m_step(r->m, 1, &in, &out)) die(r, "m_step");
        }
        return (now_us() - t0) / (double)r->t;
    }
    m_sizes n = {.batch = 1, .T_x = k == 1 ? r->t : 1};
    m_inputs in = {.x = r->x};
    m_outputs out = {.h = r->h};
    if (m_forward(r->m, &n, &in, &out)) die(r, "m_forward");
    return (now_us() - t0) / (double)n.T_x;
}

static double best_median(const Run *r, int k)
{
    double best = 1e300, v[REPS];
    for (int w = 0; w < 3; w++) once(r, k);
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < REPS; i++) v[i] = once(r, k);
        qsort(v, REPS, sizeof v[0], cmp_d);
        if (v[REPS / 2] < best) best = v[REPS / 2];
    }
    return best;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: stream/main W.safetensors I H T\n");
        return 2;
    }
    Run r = {.i = atol(argv[2]), .hid = atol(argv[3]), .t = atol(argv[4])};
    char err[256];
    m_sizes max = {.batch = 1, .T_x = r.t};
    if (r.i < 1 || r.hid < 1 || r.t < 1 || m_create(&r.m, &max, err, sizeof err)) {
        fprintf(stderr, "stream: %s\n", r.t < 1 ? "bad sizes" : err);
        return 1;
    }
    if (m_load_weights(r.m, argv[1])) die(&r, "m_load_weights");
    r.x = calloc((size_t)(r.t * r.i), sizeof *r.x);
    r.h = calloc((size_t)(r.t * r.hid), sizeof *r.h);
    if (!r.x || !r.h) die(&r, "out of memory");
    for (long k = 0; k < r.t * r.i; k++) r.x[k] = (float)((k * 7919) % 200 - 100) / 100.0f;
    /* interleaved, so that a busy spell slows all three alike */
    double step = 1e300, fwd = 1e300, t1 = 1e300;
    for (int pass = 0; pass < 2; pass++) {
        double a = best_median(&r, 0), b = best_median(&r, 1), c = best_median(&r, 2);
        step = a < step ? a : step;
        fwd = b < fwd ? b : fwd;
        t1 = c < t1 ? c : t1;
    }
    printf("step_us=%.2f fwd_step_us=%.2f fwd_t1_us=%.2f\n", step, fwd, t1);
    free(r.x);
    free(r.h);
    m_free(r.m);
    return 0;
}
