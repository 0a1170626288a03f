/* make_adding.c - data for the adding problem (Hochreiter & Schmidhuber
 * 1997), a test of learning long-range dependencies.
 *
 *   make_adding T N SEED X.npy Y.npy
 *
 * X.npy: f32 [T, N, 2], time-major as `rnnc train`'s npy data wants it.
 *   Channel 0 is a value uniform in [0, 1) at every step; channel 1 is a
 *   marker, 1 at exactly two steps and 0 elsewhere.  The first marked step
 *   is in the first half of the sequence and the second in the second half,
 *   as in the original task, so the model must hold a value over ~T/2 steps.
 * Y.npy: f32 [N, 1], the sum of the two marked values.
 *
 * Predicting the mean (1.0) gives an MSE of Var(u1 + u2) = 2/12 = 0.167.
 * Deterministic for a seed, so a test's data is the same on every machine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/tensor.h"

/* splitmix64: tiny, good enough for test data (as tests/tools/randnpy.c). */
static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1) with 53 random bits. */
static double uniform(uint64_t *s) { return (double)(next(s) >> 11) / 9007199254740992.0; }

/* Uniform integer in [lo, hi). */
static int64_t between(uint64_t *s, int64_t lo, int64_t hi) { return lo + (int64_t)(next(s) % (uint64_t)(hi - lo)); }

static int parse_count(const char *s, long long min, long long *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || v < min) return 1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    long long T, N, seed_ll;
    if (argc != 6 || parse_count(argv[1], 2, &T) || parse_count(argv[2], 1, &N) || parse_count(argv[3], 0, &seed_ll)) {
        fprintf(stderr, "usage: make_adding T N SEED X.npy Y.npy   (T >= 2, N >= 1, SEED >= 0)\n");
        return 2;
    }
    uint64_t seed = (uint64_t)seed_ll;
    Tensor x, y;
    int64_t xs[3] = {T, N, 2}, ys[2] = {N, 1};
    if (rt_tensor_alloc(&x, RT_F32, 3, xs)) {
        fprintf(stderr, "make_adding: out of memory\n");
        return 1;
    }
    if (rt_tensor_alloc(&y, RT_F32, 2, ys)) {
        rt_tensor_free(&x);
        fprintf(stderr, "make_adding: out of memory\n");
        return 1;
    }
    float *xd = x.data, *yd = y.data;
    for (int64_t n = 0; n < N; n++) {
        /* One example at a time, so example n does not depend on N. */
        int64_t half = T / 2;
        int64_t a = between(&seed, 0, half), b = between(&seed, half, T);
        double sum = 0;
        for (int64_t t = 0; t < T; t++) {
            double u = uniform(&seed);
            int marked = t == a || t == b;
            xd[(t * N + n) * 2 + 0] = (float)u;
            xd[(t * N + n) * 2 + 1] = marked ? 1.0f : 0.0f;
            if (marked) sum += (float)u; /* the target from the stored values */
        }
        yd[n] = (float)sum;
    }
    char err[512];
    int rc = rt_npy_write(argv[4], &x, err, sizeof err);
    if (!rc) rc = rt_npy_write(argv[5], &y, err, sizeof err);
    if (rc) fprintf(stderr, "make_adding: %s\n", err);
    rt_tensor_free(&x);
    rt_tensor_free(&y);
    return rc ? 1 : 0;
}
