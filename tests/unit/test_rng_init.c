/* test_rng_init.c - the seeded RNG and the parameter initializers.
 *
 * Determinism, known answers of xoshiro256** and splitmix64, bit-exact
 * save/restore of the state, distribution sanity with tolerances derived
 * from the sample count, xavier bounds, and orthogonality of
 * orthogonal init.  Every test uses a fixed seed, so results are
 * reproducible; the tolerances are what a correct generator meets with
 * overwhelming probability for any seed (6 standard errors). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/init.h"
#include "exec/rng.h"

/* ---- RNG -------------------------------------------------------------- */

static void test_known_answers(void **state)
{
    (void)state;
    RtRng r;
    /* Reference xoshiro256** from state {1, 2, 3, 4}. */
    const uint64_t s[4] = {1, 2, 3, 4};
    assert_int_equal(rt_rng_set_state(&r, s), 0);
    assert_true(rt_rng_u64(&r) == 11520u);
    assert_true(rt_rng_u64(&r) == 0u);
    assert_true(rt_rng_u64(&r) == 1509978240u);
    assert_true(rt_rng_u64(&r) == 1215971899390074240u);
    /* Reference splitmix64 from 0: the seeder's first two words. */
    uint64_t got[4];
    rt_rng_seed(&r, 0);
    rt_rng_get_state(&r, got);
    assert_true(got[0] == 0xe220a8397b1dcdafULL);
    assert_true(got[1] == 0x6e789e6aa1b965f4ULL);
}

static void test_same_seed_same_sequence(void **state)
{
    (void)state;
    RtRng a, b, c;
    rt_rng_seed(&a, 42);
    rt_rng_seed(&b, 42);
    rt_rng_seed(&c, 43);
    int differ = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = rt_rng_u64(&a), y = rt_rng_u64(&b), z = rt_rng_u64(&c);
        assert_true(x == y);
        differ += x != z;
    }
    assert_true(differ > 990); /* another seed is another stream */
}

static void test_state_save_restore(void **state)
{
    (void)state;
    RtRng r;
    uint64_t saved[RT_RNG_STATE_WORDS];
    float first[300];
    rt_rng_seed(&r, 7);
    for (int i = 0; i < 17; i++) rt_rng_normal(&r);
    rt_rng_get_state(&r, saved);
    for (int i = 0; i < 300; i++)
        first[i] = i % 3 == 0 ? rt_rng_uniform(&r) : i % 3 == 1 ? rt_rng_normal(&r) : rt_rng_uniform_sym(&r, 2.5f);

    /* A fresh generator given the saved words continues identically. */
    RtRng s;
    rt_rng_seed(&s, 999);
    assert_int_equal(rt_rng_set_state(&s, saved), 0);
    for (int i = 0; i < 300; i++) {
        float v = i % 3 == 0 ? rt_rng_uniform(&s) : i % 3 == 1 ? rt_rng_normal(&s) : rt_rng_uniform_sym(&s, 2.5f);
        assert_memory_equal(&v, &first[i], sizeof v); /* bit for bit */
    }
    uint64_t a[RT_RNG_STATE_WORDS], b[RT_RNG_STATE_WORDS];
    rt_rng_get_state(&r, a);
    rt_rng_get_state(&s, b);
    assert_memory_equal(a, b, sizeof a);

    const uint64_t zero[RT_RNG_STATE_WORDS] = {0};
    assert_int_equal(rt_rng_set_state(&s, zero), -1);
    rt_rng_get_state(&s, b);
    assert_memory_equal(a, b, sizeof a); /* unchanged by the refused set */
}

enum { N = 200000 };

static void test_uniform_distribution(void **state)
{
    (void)state;
    RtRng r;
    rt_rng_seed(&r, 1234);
    double sum = 0, sum2 = 0;
    for (int i = 0; i < N; i++) {
        float u = rt_rng_uniform(&r);
        assert_true(u >= 0.0f && u < 1.0f);
        sum += u;
        sum2 += (double)u * u;
    }
    double mean = sum / N, var = sum2 / N - mean * mean;
    /* U[0,1): var 1/12; sd of the mean sqrt(1/12/N) = 6.5e-4, 6 sd = 3.9e-3. */
    assert_true(fabs(mean - 0.5) < 6 * sqrt(1.0 / 12 / N));
    /* sd of the sample variance sqrt((1/80 - 1/144)/N) = 1.7e-4, 6 sd. */
    assert_true(fabs(var - 1.0 / 12) < 6 * sqrt((1.0 / 80 - 1.0 / 144) / N));

    float a = 0.37f, lo = 0, hi = 0;
    for (int i = 0; i < N; i++) {
        float v = rt_rng_uniform_sym(&r, a);
        assert_true(v >= -a && v <= a);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    /* Both ends are reached to within 1%: P(miss) = 0.995^N, negligible. */
    assert_true(lo < -0.99f * a && hi > 0.99f * a);
}

static void test_normal_distribution(void **state)
{
    (void)state;
    RtRng r;
    rt_rng_seed(&r, 99);
    double sum = 0, sum2 = 0;
    int within1 = 0;
    for (int i = 0; i < N; i++) {
        float z = rt_rng_normal(&r);
        assert_true(isfinite(z));
        sum += z;
        sum2 += (double)z * z;
        within1 += fabsf(z) < 1.0f;
    }
    double mean = sum / N, var = sum2 / N - mean * mean;
    /* N(0,1): sd of the mean 1/sqrt(N) = 2.2e-3, 6 sd = 0.013. */
    assert_true(fabs(mean) < 6 / sqrt((double)N));
    /* sd of the sample variance sqrt(2/N) = 3.2e-3, 6 sd = 0.019. */
    assert_true(fabs(var - 1) < 6 * sqrt(2.0 / N));
    /* P(|z| < 1) = 0.6827; binomial sd sqrt(p(1-p)/N) = 1.0e-3, 6 sd. */
    double p = 0.682689492, frac = (double)within1 / N;
    assert_true(fabs(frac - p) < 6 * sqrt(p * (1 - p) / N));
}

/* ---- initializers ----------------------------------------------------- */

static void test_constant_inits(void **state)
{
    (void)state;
    float x[6];
    const int64_t shape[2] = {2, 3};
    char err[128];
    RtRng r;
    rt_rng_seed(&r, 1);
    assert_int_equal(rt_init_fill(x, 2, shape, RT_INIT_ONE, 0, &r, err, sizeof err), 0);
    for (int i = 0; i < 6; i++) assert_true(x[i] == 1.0f);
    assert_int_equal(rt_init_fill(x, 2, shape, RT_INIT_ZERO, 0, &r, err, sizeof err), 0);
    for (int i = 0; i < 6; i++) assert_true(x[i] == 0.0f);
    assert_int_equal(rt_init_fill(x, 2, shape, RT_INIT_CONST, -0.75, &r, err, sizeof err), 0);
    for (int i = 0; i < 6; i++) assert_true(x[i] == -0.75f);
}

static void test_random_inits_deterministic(void **state)
{
    (void)state;
    const int64_t shape[2] = {8, 5};
    float a[40], b[40];
    char err[128];
    const RtInitKind kinds[] = {RT_INIT_UNIFORM, RT_INIT_NORMAL, RT_INIT_XAVIER, RT_INIT_ORTHOGONAL};
    for (int k = 0; k < 4; k++) {
        RtRng r1, r2;
        rt_rng_seed(&r1, 5);
        rt_rng_seed(&r2, 5);
        assert_int_equal(rt_init_fill(a, 2, shape, kinds[k], 0.5, &r1, err, sizeof err), 0);
        assert_int_equal(rt_init_fill(b, 2, shape, kinds[k], 0.5, &r2, err, sizeof err), 0);
        assert_memory_equal(a, b, sizeof a);
    }
}

static void test_normal_init_std(void **state)
{
    (void)state;
    enum { M = 100000 };
    float *x = malloc(M * sizeof *x);
    const int64_t shape[1] = {M};
    char err[128];
    RtRng r;
    rt_rng_seed(&r, 3);
    assert_int_equal(rt_init_fill(x, 1, shape, RT_INIT_NORMAL, 0.1, &r, err, sizeof err), 0);
    double sum2 = 0;
    for (int i = 0; i < M; i++) sum2 += (double)x[i] * x[i];
    /* var 0.01; sd of the estimate 0.01*sqrt(2/M) = 4.5e-5, 6 sd. */
    assert_true(fabs(sum2 / M - 0.01) < 6 * 0.01 * sqrt(2.0 / M));
    free(x);
}

static void check_xavier(int rank, const int64_t *shape, double want_bound)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= shape[i];
    float *x = malloc((size_t)n * sizeof *x);
    char err[128];
    RtRng r;
    rt_rng_seed(&r, 11);
    /* The bound itself: exact formula, 1e-12 allows double rounding only. */
    assert_true(fabs(rt_init_xavier_bound(rank, shape) - want_bound) < 1e-12);
    assert_int_equal(rt_init_fill(x, rank, shape, RT_INIT_XAVIER, 0, &r, err, sizeof err), 0);
    float b = (float)want_bound, mx = 0;
    for (int64_t i = 0; i < n; i++) {
        assert_true(fabsf(x[i]) <= b);
        mx = fabsf(x[i]) > mx ? fabsf(x[i]) : mx;
    }
    /* With >= 10 samples the largest is within 25% of the bound unless the
     * generator is broken (chance 0.75^10 = 6% for an arbitrary seed; the
     * seed is fixed). */
    assert_true(mx > 0.75f * b);
    free(x);
}

static void test_xavier_bounds(void **state)
{
    (void)state;
    const int64_t w[2] = {12, 5};   /* [3H, I]: fan_in 5, fan_out 12 */
    const int64_t v[1] = {10};      /* 1-D: fan_in = fan_out = 10   */
    const int64_t c[3] = {4, 3, 2}; /* fan_in 3*2, fan_out 4*2      */
    check_xavier(2, w, sqrt(6.0 / 17));
    check_xavier(1, v, sqrt(6.0 / 20));
    check_xavier(3, c, sqrt(6.0 / 14));

    /* A positive argument is a bound the frontend already resolved. */
    float x[60];
    char err[128];
    RtRng r;
    rt_rng_seed(&r, 2);
    assert_int_equal(rt_init_fill(x, 2, w, RT_INIT_XAVIER, 0.01, &r, err, sizeof err), 0);
    for (int i = 0; i < 60; i++) assert_true(fabsf(x[i]) <= 0.01f);
}

/* Q Q^T (r <= c) or Q^T Q (r > c) equals gain^2 I. */
static void check_orthogonal(int rank, const int64_t *shape, float gain)
{
    int64_t rows = shape[0], cols = 1;
    for (int i = 1; i < rank; i++) cols *= shape[i];
    float *q = malloc((size_t)(rows * cols) * sizeof *q);
    char err[128];
    RtRng r;
    rt_rng_seed(&r, (uint64_t)(rows * 1000 + cols));
    if (rt_init_orthogonal(q, rank, shape, gain, &r, err, sizeof err) != 0) fail_msg("%s", err);
    int by_rows = rows <= cols;
    int64_t k = by_rows ? rows : cols, len = by_rows ? cols : rows;
    double worst = 0;
    for (int64_t i = 0; i < k; i++)
        for (int64_t j = 0; j < k; j++) {
            double dot = 0;
            for (int64_t t = 0; t < len; t++) {
                double a = by_rows ? q[i * cols + t] : q[t * cols + i];
                double b = by_rows ? q[j * cols + t] : q[t * cols + j];
                dot += a * b;
            }
            double want = i == j ? (double)gain * gain : 0.0;
            worst = fmax(worst, fabs(dot - want));
        }
    /* Orthonormal in double, then rounded to float (rel 6e-8 per entry):
     * dot products are off by about len * 1e-7 at most. */
    if (worst > 1e-5 * gain * gain)
        fail_msg("orthogonal [%lld, %lld]: max |QQ^T - I| = %g", (long long)rows, (long long)cols, worst);
    free(q);
}

static void test_orthogonal(void **state)
{
    (void)state;
    const int64_t sq[2] = {4, 4}, wide[2] = {3, 7}, tall[2] = {7, 3}, big[2] = {64, 64}, gates[2] = {96, 32},
                  one[2] = {1, 5}, r3[3] = {2, 3, 4};
    check_orthogonal(2, sq, 1.0f);
    check_orthogonal(2, wide, 1.0f);
    check_orthogonal(2, tall, 1.0f);
    check_orthogonal(2, big, 1.0f);
    check_orthogonal(2, gates, 1.0f);
    check_orthogonal(2, one, 1.0f);
    check_orthogonal(3, r3, 1.0f); /* viewed as [2, 12] like PyTorch */
    check_orthogonal(2, sq, 2.0f);

    float x[5];
    const int64_t v[1] = {5};
    char err[128];
    RtRng r;
    rt_rng_seed(&r, 1);
    assert_int_equal(rt_init_fill(x, 1, v, RT_INIT_ORTHOGONAL, 1, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "at least 2 dimensions"));
}

static void test_bad_arguments(void **state)
{
    (void)state;
    float x[4];
    const int64_t s[1] = {4}, neg[1] = {-4};
    char err[128];
    RtRng r;
    rt_rng_seed(&r, 1);
    assert_int_equal(rt_init_fill(x, 1, s, RT_INIT_NORMAL, -1, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "std"));
    assert_int_equal(rt_init_fill(x, 1, s, RT_INIT_UNIFORM, -1, &r, err, sizeof err), -1);
    assert_int_equal(rt_init_fill(x, 1, s, RT_INIT_UNIFORM, NAN, &r, err, sizeof err), -1);
    assert_int_equal(rt_init_fill(x, 1, neg, RT_INIT_ZERO, 0, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "shape"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answers),
        cmocka_unit_test(test_same_seed_same_sequence),
        cmocka_unit_test(test_state_save_restore),
        cmocka_unit_test(test_uniform_distribution),
        cmocka_unit_test(test_normal_distribution),
        cmocka_unit_test(test_constant_inits),
        cmocka_unit_test(test_random_inits_deterministic),
        cmocka_unit_test(test_normal_init_std),
        cmocka_unit_test(test_xavier_bounds),
        cmocka_unit_test(test_orthogonal),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
