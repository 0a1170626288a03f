/* test_nn_kernels.c - runtime/nn_kernels.c against double-precision
 * references and hand computation: softmax and cross-entropy (with logits
 * large enough to overflow a naive exp), their gradient, embedding lookup
 * and its gradient, layer normalization and its gradient (the Jacobian
 * written out), ids out of range (RT_ERR_ID_RANGE, outputs untouched),
 * SGD and Adam on hand-worked numbers and against the interpreter's
 * equations, in-place use, and the scalar activations rt_expf / rt_tanhf /
 * rt_sigmoidf giving the bits of rt_vexp / rt_vtanh / rt_vsigmoid on every
 * path.
 *
 * Tolerances: the kernels compute each output in double from the float
 * inputs and round once, so an output is within half an ulp of the double
 * result; the references below compute the same quantity in double by a
 * different route (no max shift, or the closed form), which differs from
 * the kernel's double value by a few units of 2^-52, far below a float
 * ulp.  Hence ULP1(ref) = FLT_EPSILON * |ref| (one float ulp or more at
 * ref) with, where a result can be near zero, an absolute floor stated at
 * the assertion. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/nn_kernels.h"
#include "runtime/rnnrt.h" /* the compiler checks it agrees with nn_kernels.h */
#include "exec/rng.h"
#include "runtime/vmath.h"

#define ULP1(ref) (FLT_EPSILON * fabs(ref))

/* Asserts |got - want| <= tol, naming the value on failure. */
static void check_near(const char *what, int64_t i, double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol)) {
        fprintf(stderr, "%s[%lld]: got %.9g, want %.17g (tolerance %.3g)\n", what, (long long)i, got, want, tol);
        fail();
    }
}

static void fill(RtRng *r, float *x, int64_t n, float scale)
{
    for (int64_t i = 0; i < n; i++) x[i] = rt_rng_uniform_sym(r, scale);
}

/* ---- softmax ------------------------------------------------------------ */

enum { ROWS = 6, C = 37 };

/* Random logits in [-8, 8] (exp without a max shift is safe there, so the
 * reference takes the plain route), one row of huge logits. */
static void make_logits(float *x)
{
    RtRng r;
    rt_rng_seed(&r, 11);
    fill(&r, x, ROWS * C, 8.0f);
    for (int c = 0; c < C; c++) x[5 * C + c] = 1000.0f - (float)c; /* exp(1000) overflows any float and double */
}

/* softmax of row, in double, by the unshifted formula where it is safe and
 * around the known maximum for the huge row. */
static double ref_softmax(const float *row, int c, int huge)
{
    double shift = huge ? 1000.0 : 0.0, s = 0.0;
    for (int k = 0; k < C; k++) s += exp((double)row[k] - shift);
    return exp((double)row[c] - shift) / s;
}

static void test_softmax(void **state)
{
    (void)state;
    float x[ROWS * C], y[ROWS * C], z[ROWS * C];
    make_logits(x);
    rt_softmax_rows(ROWS, C, x, y);
    for (int r = 0; r < ROWS; r++) {
        double total = 0.0;
        for (int c = 0; c < C; c++) {
            double want = ref_softmax(x + r * C, c, r == 5);
            /* one rounding of a double result; denormal-range values (the
             * huge row's tail is exp(-36) ~ 2e-16, normal) need no floor */
            check_near("softmax", r * C + c, y[r * C + c], want, ULP1(want));
            total += y[r * C + c];
        }
        /* C roundings of at most half an ulp of values summing to 1 */
        check_near("softmax row sum", r, total, 1.0, C * FLT_EPSILON);
    }
    /* in place: the same bits */
    memcpy(z, x, sizeof z);
    rt_softmax_rows(ROWS, C, z, z);
    assert_memory_equal(z, y, sizeof y);
}

/* ---- layer normalization and its gradient --------------------------------- */

enum { LN_ROWS = 4, LN_N = 37 };
#define LN_EPS 1e-5

/* Row 0, 1: uniform in [-2, 2]; row 2: 1000 + uniform in [-1, 1] (a mean
 * far from 0, which a one-pass float variance would lose); row 3: one
 * value repeated (variance 0: y = 0, and the gradient is scaled by
 * 1/sqrt(eps)). */
static void make_ln_input(float *x, float *dy)
{
    RtRng r;
    rt_rng_seed(&r, 23);
    fill(&r, x, LN_ROWS * LN_N, 2.0f);
    for (int c = 0; c < LN_N; c++) {
        x[2 * LN_N + c] = 1000.0f + x[2 * LN_N + c] / 2; /* floats 2^-14 apart: a spread of ~1 */
        x[3 * LN_N + c] = 0.75f;
    }
    fill(&r, dy, LN_ROWS * LN_N, 1.0f);
}

/* The reference by another route: one pass of sums and sums of squares in
 * long double around a known shift (the row's first value, exact), so
 * mean and variance come out of E[d], E[d^2] - E[d]^2 rather than the
 * kernel's two passes. */
static void ref_ln_moments(const float *x, long double *mu, long double *rs)
{
    long double sh = x[0], s = 0, q = 0;
    for (int c = 0; c < LN_N; c++) {
        long double d = (long double)x[c] - sh;
        s += d;
        q += d * d;
    }
    long double m = s / LN_N;
    *mu = sh + m;
    *rs = 1.0L / sqrtl(q / LN_N - m * m + LN_EPS);
}

static void test_layernorm(void **state)
{
    (void)state;
    float x[LN_ROWS * LN_N], dy[LN_ROWS * LN_N], y[LN_ROWS * LN_N], z[LN_ROWS * LN_N];
    make_ln_input(x, dy);
    rt_layernorm_rows(LN_ROWS, LN_N, x, y, LN_EPS);
    for (int r = 0; r < LN_ROWS; r++) {
        long double mu, rs;
        ref_ln_moments(x + r * LN_N, &mu, &rs);
        double mean = 0, var = 0;
        for (int c = 0; c < LN_N; c++) {
            double want = (double)(((long double)x[r * LN_N + c] - mu) * rs);
            /* the kernel rounds a double value once; the two routes differ
             * by ~n 2^-53 relative to the row's scale (the 1e-12 floor, for
             * values near 0), far below a float ulp */
            check_near("layernorm", r * LN_N + c, y[r * LN_N + c], want, ULP1(want) + 1e-12);
            mean += y[r * LN_N + c];
        }
        mean /= LN_N;
        for (int c = 0; c < LN_N; c++) var += (y[r * LN_N + c] - mean) * (y[r * LN_N + c] - mean);
        var /= LN_N;
        /* the definition: mean 0 and variance var / (var + eps), up to the
         * float roundings of n outputs of magnitude <= 6 */
        check_near("layernorm row mean", r, mean, 0.0, 6 * FLT_EPSILON);
        double v = r == 3 ? 0.0 : 1.0 / (1.0 + LN_EPS * (double)(rs * rs));
        check_near("layernorm row variance", r, var, v, 1e-5 * v + 1e-12);
    }
    for (int c = 0; c < LN_N; c++) /* variance 0: exactly 0 */
        assert_true(y[3 * LN_N + c] == 0.0f);
    memcpy(z, x, sizeof z); /* in place: the same bits */
    rt_layernorm_rows(LN_ROWS, LN_N, z, z, LN_EPS);
    assert_memory_equal(z, y, sizeof y);
}

/* The gradient against the Jacobian written out, dx_i = sum_j dy_j J_ji,
 * J_ji = r (delta_ij - 1/n - xh_i xh_j / n), in long double: O(n^2), where
 * the kernel uses the two row sums. */
static void test_layernorm_grad(void **state)
{
    (void)state;
    float x[LN_ROWS * LN_N], dy[LN_ROWS * LN_N], dx[LN_ROWS * LN_N], z[LN_ROWS * LN_N];
    make_ln_input(x, dy);
    rt_layernorm_grad_rows(LN_ROWS, LN_N, x, dy, dx, LN_EPS);
    for (int r = 0; r < LN_ROWS; r++) {
        const float *xr = x + r * LN_N, *gr = dy + r * LN_N;
        long double mu, rs, xh[LN_N];
        ref_ln_moments(xr, &mu, &rs);
        for (int c = 0; c < LN_N; c++) xh[c] = ((long double)xr[c] - mu) * rs;
        for (int i = 0; i < LN_N; i++) {
            long double acc = 0;
            for (int j = 0; j < LN_N; j++) acc += gr[j] * rs * ((i == j) - 1.0L / LN_N - xh[i] * xh[j] / LN_N);
            double want = (double)acc;
            /* one rounding of a double value whose error is ~n 2^-53 of
             * r max|dy| (r <= 1/sqrt(eps) ~ 316 on row 3): the floor */
            check_near("layernorm_grad", r * LN_N + i, dx[r * LN_N + i], want, ULP1(want) + 1e-12 * (double)rs);
        }
    }
    memcpy(z, dy, sizeof z); /* dx may be dy */
    rt_layernorm_grad_rows(LN_ROWS, LN_N, x, z, z, LN_EPS);
    assert_memory_equal(z, dx, sizeof dx);
    memcpy(z, x, sizeof z); /* or x */
    rt_layernorm_grad_rows(LN_ROWS, LN_N, z, dy, z, LN_EPS);
    assert_memory_equal(z, dx, sizeof dx);
}

/* ---- cross-entropy and its gradient -------------------------------------- */

static void test_cross_entropy(void **state)
{
    (void)state;
    float x[ROWS * C];
    make_logits(x);
    int64_t ids[ROWS] = {0, 36, 5, 17, 2, 1};
    float out = -1.0f;
    assert_int_equal(rt_cross_entropy(ROWS, C, x, ids, &out), 0);
    double want = 0.0;
    for (int r = 0; r < ROWS; r++) want += -log(ref_softmax(x + r * C, (int)ids[r], r == 5));
    want /= ROWS;
    /* one rounding of the double mean */
    check_near("cross_entropy", 0, out, want, ULP1(want));

    /* The huge row alone: -log softmax of the top logit and of the next. */
    int64_t id0 = 0, id1 = 1;
    assert_int_equal(rt_cross_entropy(1, C, x + 5 * C, &id0, &out), 0);
    double lse = log(ref_softmax(x + 5 * C, 0, 1)); /* = -(logsumexp - 1000) */
    check_near("cross_entropy huge", 0, out, -lse, ULP1(lse));
    assert_int_equal(rt_cross_entropy(1, C, x + 5 * C, &id1, &out), 0);
    check_near("cross_entropy huge", 1, out, 1.0 - lse, ULP1(1.0 - lse));

    /* No rows: the mean of nothing, NaN as in the interpreter. */
    assert_int_equal(rt_cross_entropy(0, C, x, ids, &out), 0);
    assert_true(isnan(out));
}

static void test_cross_entropy_grad(void **state)
{
    (void)state;
    float x[ROWS * C], g[ROWS * C];
    make_logits(x);
    int64_t ids[ROWS] = {3, 0, 36, 36, 9, 0};
    assert_int_equal(rt_cross_entropy_grad(ROWS, C, x, ids, g), 0);
    for (int r = 0; r < ROWS; r++)
        for (int c = 0; c < C; c++) {
            double want = (ref_softmax(x + r * C, c, r == 5) - (c == ids[r])) / ROWS;
            /* one rounding; the floor covers the references' 2^-52-level
             * difference in p before p - 1 cancels (|p - 1| >= 1e-3 here) */
            check_near("cross_entropy_grad", r * C + c, g[r * C + c], want, ULP1(want) + 1e-15);
        }
    /* in place, as the emitter may reuse the logits' buffer */
    float z[ROWS * C];
    memcpy(z, x, sizeof z);
    assert_int_equal(rt_cross_entropy_grad(ROWS, C, z, ids, z), 0);
    assert_memory_equal(z, g, sizeof g);
}

/* Lengths: the rows of weight 0 (padded steps) are not read, so their
 * ids may be anything; the others count with their weight, over the sum
 * of the weights.  The weights are 0 and 1 (a mask), so the tolerances
 * are the unweighted ones: one rounding of a double mean. */
static void test_cross_entropy_masked(void **state)
{
    (void)state;
    float x[ROWS * C], g[ROWS * C], w[ROWS] = {1, 0, 1, 1, 0, 1};
    make_logits(x);
    int64_t ids[ROWS] = {3, 999, 36, 7, -1, 0};
    float out = -1.0f;
    assert_int_equal(rt_cross_entropy_masked(ROWS, C, x, ids, w, &out), 0);
    double want = 0.0;
    for (int r = 0; r < ROWS; r++)
        if (w[r] != 0) want += -log(ref_softmax(x + r * C, (int)ids[r], r == 5));
    want /= 4;
    check_near("cross_entropy_masked", 0, out, want, ULP1(want));

    assert_int_equal(rt_cross_entropy_masked_grad(ROWS, C, x, ids, w, g), 0);
    for (int r = 0; r < ROWS; r++)
        for (int c = 0; c < C; c++) {
            double p = w[r] != 0 ? (ref_softmax(x + r * C, c, r == 5) - (c == ids[r])) / 4 : 0.0;
            check_near("cross_entropy_masked_grad", r * C + c, g[r * C + c], p, ULP1(p) + 1e-15);
        }
    float z[ROWS * C]; /* in place */
    memcpy(z, x, sizeof z);
    assert_int_equal(rt_cross_entropy_masked_grad(ROWS, C, z, ids, w, z), 0);
    assert_memory_equal(z, g, sizeof g);

    /* an id out of range on a row that counts is still an error */
    w[1] = 1;
    assert_int_equal(rt_cross_entropy_masked(ROWS, C, x, ids, w, &out), RT_ERR_ID_RANGE);
    assert_int_equal(rt_cross_entropy_masked_grad(ROWS, C, x, ids, w, g), RT_ERR_ID_RANGE);
}

/* reverse() within lengths: T = 4 steps, B = 3 examples of lengths 4, 1
 * and 3 (the ones of the mask), rows of 2; a copy, so exact, out of
 * place and in place. */
static void test_seq_reverse_masked(void **state)
{
    (void)state;
    enum { RT = 4, RB = 3, RR = 2 };
    const int64_t lens[RB] = {4, 1, 3};
    float x[RT * RB * RR], m[RT * RB], out[RT * RB * RR], want[RT * RB * RR];
    for (int i = 0; i < RT * RB * RR; i++) x[i] = (float)(i + 1);
    for (int t = 0; t < RT; t++)
        for (int b = 0; b < RB; b++) {
            m[t * RB + b] = t < lens[b] ? 1.0f : 0.0f;
            for (int k = 0; k < RR; k++)
                want[(t * RB + b) * RR + k] = t < lens[b] ? x[((lens[b] - 1 - t) * RB + b) * RR + k] : 0.0f;
        }
    memset(out, 0x7f, sizeof out);
    rt_seq_reverse_masked(RT, RB * RR, RB, x, m, out);
    assert_memory_equal(out, want, sizeof want);
    for (int i = 0; i < RT * RB * RR; i++) x[i] = i == 8 ? NAN : x[i]; /* step 1 of example 1: padding */
    rt_seq_reverse_masked(RT, RB * RR, RB, x, m, x);
    assert_memory_equal(x, want, sizeof want);

    /* ids: the same steps, rows of one id */
    int64_t ids[RT * RB], idout[RT * RB], idwant[RT * RB];
    for (int t = 0; t < RT; t++)
        for (int b = 0; b < RB; b++) {
            ids[t * RB + b] = t < lens[b] ? 10 * t + b : 999;
            idwant[t * RB + b] = t < lens[b] ? 10 * (lens[b] - 1 - t) + b : 0;
        }
    rt_seq_reverse_masked_ids(RT, RB, RB, ids, m, idout);
    assert_memory_equal(idout, idwant, sizeof idwant);
    rt_seq_reverse_masked_ids(RT, RB, RB, ids, m, ids);
    assert_memory_equal(ids, idwant, sizeof idwant);
}

/* ---- embedding ----------------------------------------------------------- */

enum { V = 7, D = 5, N = 9 };

static void test_embedding(void **state)
{
    (void)state;
    float table[V * D], out[N * D];
    for (int i = 0; i < V * D; i++) table[i] = (float)i;
    int64_t ids[N] = {6, 0, 3, 3, 1, 6, 2, 5, 4};
    assert_int_equal(rt_embedding(N, D, V, table, ids, out), 0);
    for (int i = 0; i < N; i++)
        for (int k = 0; k < D; k++) assert_true(out[i * D + k] == (float)(ids[i] * D + k)); /* a copy: exact */
}

/* Multiples of 1/4 below 2^10: every partial sum is exact in float, so
 * the expected gradient is exact whatever the order of addition. */
static void test_embedding_grad(void **state)
{
    (void)state;
    float g[N * D], out[V * D];
    double want[V * D] = {0};
    int64_t ids[N] = {2, 2, 0, 6, 2, 0, 5, 6, 2}; /* rows 1, 3, 4 never hit */
    for (int i = 0; i < N * D; i++) g[i] = (float)((i * 7) % 23 - 11) * 0.25f;
    for (int i = 0; i < V * D; i++) out[i] = NAN; /* must be overwritten with zeros */
    for (int i = 0; i < N; i++)
        for (int k = 0; k < D; k++) want[ids[i] * D + k] += g[i * D + k];
    assert_int_equal(rt_embedding_grad(N, D, V, ids, g, out), 0);
    for (int i = 0; i < V * D; i++) assert_true(out[i] == (float)want[i]);
}

/* ---- ids out of range ---------------------------------------------------- */

static void test_ids_out_of_range(void **state)
{
    (void)state;
    const int64_t bad_ids[] = {-1, V, INT64_MIN, INT64_MAX};
    float table[V * D] = {0}, g[N * D] = {0}, x[3 * V] = {0};
    float out[N * D], keep[N * D];
    for (int i = 0; i < N * D; i++) keep[i] = 42.0f + (float)i;
    for (size_t b = 0; b < sizeof bad_ids / sizeof bad_ids[0]; b++) {
        /* the bad id last: nothing is written, not even the good rows */
        int64_t ids[3] = {1, 2, bad_ids[b]};
        memcpy(out, keep, sizeof out);
        assert_int_equal(rt_embedding(3, D, V, table, ids, out), RT_ERR_ID_RANGE);
        assert_memory_equal(out, keep, sizeof out);
        assert_int_equal(rt_embedding_grad(3, D, V, ids, g, out), RT_ERR_ID_RANGE);
        assert_memory_equal(out, keep, sizeof out);
        /* as class ids: C = V classes, so V itself is out of range too */
        assert_int_equal(rt_cross_entropy(3, V, x, ids, out), RT_ERR_ID_RANGE);
        assert_memory_equal(out, keep, sizeof out);
        assert_int_equal(rt_cross_entropy_grad(3, V, x, ids, out), RT_ERR_ID_RANGE);
        assert_memory_equal(out, keep, sizeof out);
    }
    /* the edges of the range are fine */
    int64_t edge[2] = {0, V - 1};
    assert_int_equal(rt_embedding(2, D, V, table, edge, out), 0);
    assert_int_equal(rt_cross_entropy(2, V, x, edge, out), 0);
}

/* ---- optimizers ---------------------------------------------------------- */

/* By hand: p = 1, g = 0.5, wd = 0.1, lr = 0.1, momentum 0.9, buffer 0.2:
 * d = 0.5 + 0.1 * 1 = 0.6; buf' = 0.9 * 0.2 + 0.6 = 0.78;
 * p' = 1 - 0.1 * 0.78 = 0.922.  Without momentum p' = 1 - 0.1 * 0.6 = 0.94.
 * Tolerance 2 ulps: the hyperparameters arrive as floats (0.1f, 0.9f, 0.2f
 * are within 2^-24 relative of the decimals, moving the result by well
 * under an ulp) plus the final rounding. */
static void test_sgd_hand(void **state)
{
    (void)state;
    float p = 1.0f, g = 0.5f, mom = 0.2f, op, om;
    rt_sgd_update(1, &p, &g, &mom, &op, &om, 0.1f, 0.9f, 0.1f);
    check_near("sgd mom'", 0, om, 0.78, 2 * ULP1(0.78));
    check_near("sgd p'", 0, op, 0.922, 2 * ULP1(0.922));
    rt_sgd_update(1, &p, &g, NULL, &op, NULL, 0.1f, 0.9f, 0.1f); /* momentum unused */
    check_near("sgd p' (no momentum)", 0, op, 0.94, 2 * ULP1(0.94));
    /* in place, twice: the buffer carries over (p 1 -> 0.922 -> ?):
     * d = 0.5 + 0.0922 = 0.5922, buf = 0.9 * 0.78 + 0.5922 = 1.2942,
     * p = 0.922 - 0.12942 = 0.79258 */
    rt_sgd_update(1, &p, &g, &mom, &p, &mom, 0.1f, 0.9f, 0.1f);
    rt_sgd_update(1, &p, &g, &mom, &p, &mom, 0.1f, 0.9f, 0.1f);
    check_near("sgd buf after 2", 0, mom, 1.2942, 4 * ULP1(1.2942)); /* two steps' roundings */
    check_near("sgd p after 2", 0, p, 0.79258, 4 * ULP1(0.79258));
}

/* By hand, b1 = 0.875, b2 = 0.998046875 (1 - 2^-9), eps = 1e-8, lr = 0.01.
 * The betas are exact in float on purpose: the kernel takes float
 * hyperparameters, and 1 - 0.999f is 1.3e-5 relative away from 0.001 (a
 * limit of the float interface, not of the equations this tests).
 * Step 1 (m = v = 0, p = 1, g = 0.5, wd = 0): m' = 0.125 * 0.5 = 0.0625,
 * v' = 0.001953125 * 0.25 = 0.00048828125, bc1 = 0.125, bc2 = 0.001953125,
 * p' = 1 - (0.01 / 0.125) * 0.0625 / (sqrt(v') / sqrt(bc2) + 1e-8)
 *    = 1 - 0.005 / 0.50000001 = 0.9900000002.
 * Step 2 (p = 0.99, g = -0.2, wd = 0.01): d = -0.2 + 0.0099 = -0.1901,
 * m' = 0.0546875 - 0.0237625 = 0.030925, v' = 0.998046875 * 0.00048828125
 * + 0.001953125 * 0.03613801 = 0.00055790962646484, bc1 = 1 - 0.875^2 =
 * 0.234375, bc2 = 1 - 0.998046875^2 = 0.003902435302734375,
 * p' = 0.99 - (0.01 / 0.234375) * 0.030925 / (sqrt(v') / sqrt(bc2) + 1e-8)
 *    = 0.98651033015917.
 * Tolerance 2 ulps: the inputs 0.99, -0.2, 0.01 arrive as floats (within
 * half an ulp of the decimals; m' cancels by a factor ~2.5, still under an
 * ulp), plus the final rounding. */
static void test_adam_hand(void **state)
{
    (void)state;
    const float b1 = 0.875f, b2 = 0.998046875f;
    float p = 1.0f, g = 0.5f, m = 0.0f, v = 0.0f, step = 1.0f;
    rt_adam_update(1, &p, &g, &m, &v, &step, &p, &m, &v, 0.01f, b1, b2, 1e-8f, 0.0f);
    check_near("adam m1", 0, m, 0.0625, 2 * ULP1(0.0625));
    check_near("adam v1", 0, v, 0.00048828125, 2 * ULP1(0.00048828125));
    check_near("adam p1", 0, p, 0.9900000002, 2 * ULP1(0.99));
    g = -0.2f;
    step = 2.0f;
    rt_adam_update(1, &p, &g, &m, &v, &step, &p, &m, &v, 0.01f, b1, b2, 1e-8f, 0.01f);
    check_near("adam m2", 0, m, 0.030925, 2 * ULP1(0.030925));
    check_near("adam v2", 0, v, 0.00055790962646484, 2 * ULP1(0.00055790962646484));
    check_near("adam p2", 0, p, 0.98651033015917, 2 * ULP1(0.98651033015917));
}

/* rt_sgd_update_on on every path the CPU has against the scalar path,
 * bit for bit: with and without momentum, into new arrays and in place,
 * for every n up to 40 (the vector loops' 4- and 8-element bodies and
 * every tail) and n = 301.  A contracted FMA, or a rounding to float
 * between the double operations, would change the last bit of some. */
static void test_sgd_paths(void **state)
{
    (void)state;
    enum { N = 301 };
    static float p[N], g[N], mom[N], want_p[N], want_m[N], got_p[N], got_m[N];
    RtRng r;
    rt_rng_seed(&r, 9);
    fill(&r, p, N, 2.0f);
    fill(&r, g, N, 0.5f);
    fill(&r, mom, N, 0.3f);
    const double lr = 0.0031, mu = 0.83, wd = 0.017;
    for (RtCpuPath path = RT_CPU_SCALAR; path < RT_CPU_NPATHS; path = (RtCpuPath)(path + 1)) {
        if (!rt_cpu_path_supported(path)) continue;
        for (int n = 1; n <= N; n = n < 40 ? n + 1 : N) {
            for (int with_mom = 0; with_mom < 2; with_mom++) {
                const float *mm = with_mom ? mom : NULL;
                rt_sgd_update_on(RT_CPU_SCALAR, n, p, g, mm, want_p, want_m, lr, mu, wd);
                rt_sgd_update_on(path, n, p, g, mm, got_p, got_m, lr, mu, wd);
                assert_memory_equal(got_p, want_p, (size_t)n * sizeof(float));
                if (with_mom) assert_memory_equal(got_m, want_m, (size_t)n * sizeof(float));
                /* in place: the outputs are the inputs */
                memcpy(got_p, p, sizeof p);
                memcpy(got_m, mom, sizeof mom);
                rt_sgd_update_on(path, n, got_p, g, with_mom ? got_m : NULL, got_p, got_m, lr, mu, wd);
                assert_memory_equal(got_p, want_p, (size_t)n * sizeof(float));
                if (with_mom) assert_memory_equal(got_m, want_m, (size_t)n * sizeof(float));
            }
            if (n == N) break;
        }
    }
}

/* rt_adam_update_on likewise (test_sgd_paths), at step 3, with weight
 * decay, v >= 0 as Adam keeps it. */
static void test_adam_paths(void **state)
{
    (void)state;
    enum { N = 301 };
    static float p[N], g[N], m[N], v[N], want[3][N], got[3][N];
    RtRng r;
    rt_rng_seed(&r, 10);
    fill(&r, p, N, 2.0f);
    fill(&r, g, N, 0.5f);
    fill(&r, m, N, 0.1f);
    for (int i = 0; i < N; i++) v[i] = fabsf(rt_rng_uniform_sym(&r, 0.01f));
    const float step = 3.0f;
    for (RtCpuPath path = RT_CPU_SCALAR; path < RT_CPU_NPATHS; path = (RtCpuPath)(path + 1)) {
        if (!rt_cpu_path_supported(path)) continue;
        for (int n = 1; n <= N; n = n < 40 ? n + 1 : N) {
            rt_adam_update_on(RT_CPU_SCALAR, n, p, g, m, v, &step, want[0], want[1], want[2], 0.003, 0.87, 0.995, 1e-6,
                              0.01);
            rt_adam_update_on(path, n, p, g, m, v, &step, got[0], got[1], got[2], 0.003, 0.87, 0.995, 1e-6, 0.01);
            for (int k = 0; k < 3; k++) assert_memory_equal(got[k], want[k], (size_t)n * sizeof(float));
            memcpy(got[0], p, sizeof p); /* in place */
            memcpy(got[1], m, sizeof m);
            memcpy(got[2], v, sizeof v);
            rt_adam_update_on(path, n, got[0], g, got[1], got[2], &step, got[0], got[1], got[2], 0.003, 0.87, 0.995,
                              1e-6, 0.01);
            for (int k = 0; k < 3; k++) assert_memory_equal(got[k], want[k], (size_t)n * sizeof(float));
            if (n == N) break;
        }
    }
}

/* Random arrays against ir/interp_ops.c's equations in double on the same
 * float inputs and float hyperparameters: the same arithmetic, rounded
 * once, so within one ulp (a floor of 1e-30 for outputs that are ~0). */
static void test_optimizers_vs_reference(void **state)
{
    (void)state;
    enum { n = 301 };
    static float p[n], g[n], mom[n], m[n], v[n], op[n], o1[n], o2[n];
    RtRng r;
    rt_rng_seed(&r, 5);
    fill(&r, p, n, 2.0f);
    fill(&r, g, n, 0.5f);
    fill(&r, mom, n, 0.3f);
    fill(&r, m, n, 0.1f);
    for (int i = 0; i < n; i++) v[i] = fabsf(rt_rng_uniform_sym(&r, 0.01f));
    const float lr = 0.003f, mu = 0.8f, wd = 0.02f, b1 = 0.85f, b2 = 0.99f, eps = 1e-6f;

    rt_sgd_update(n, p, g, mom, op, o1, lr, mu, wd);
    for (int i = 0; i < n; i++) {
        double d = (double)g[i] + (double)wd * p[i];
        d = (double)mu * mom[i] + d;
        check_near("sgd mom", i, o1[i], d, ULP1(d) + 1e-30);
        double pp = p[i] - (double)lr * d;
        check_near("sgd p", i, op[i], pp, ULP1(pp) + 1e-30);
    }

    float step = 7.0f;
    rt_adam_update(n, p, g, m, v, &step, op, o1, o2, lr, b1, b2, eps, wd);
    double bc1 = 1.0 - pow(b1, 7.0), bc2 = 1.0 - pow(b2, 7.0);
    for (int i = 0; i < n; i++) {
        double d = (double)g[i] + (double)wd * p[i];
        double mi = (double)b1 * m[i] + (1.0 - (double)b1) * d;
        double vi = (double)b2 * v[i] + (1.0 - (double)b2) * d * d;
        double pp = p[i] - ((double)lr / bc1) * mi / (sqrt(vi) / sqrt(bc2) + (double)eps);
        check_near("adam m", i, o1[i], mi, ULP1(mi) + 1e-30);
        check_near("adam v", i, o2[i], vi, ULP1(vi) + 1e-30);
        check_near("adam p", i, op[i], pp, ULP1(pp) + 1e-30);
    }
}

/* ---- scalar activations --------------------------------------------------- */

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* Every 4099th bit pattern (a prime stride: all exponents, both signs,
 * NaNs and infinities included): the scalar function gives exactly the
 * array function's bits on every path this CPU runs.  NaN must map to NaN
 * (payload bits are not compared). */
static void test_scalar_activations_bitwise(void **state)
{
    (void)state;
    enum { STRIDE = 4099, CHUNK = 4096 };
    typedef float (*SFn)(float);
    typedef void (*VFn)(RtCpuPath, float *, const float *, int64_t);
    const struct {
        const char *name;
        SFn s;
        VFn v;
    } fs[] = {{"exp", rt_expf, rt_vexp_on}, {"tanh", rt_tanhf, rt_vtanh_on}, {"sigmoid", rt_sigmoidf, rt_vsigmoid_on}};
    static float x[CHUNK], y[CHUNK];
    uint64_t checked = 0;
    for (uint64_t u = 0; u <= UINT32_MAX;) {
        int n = 0;
        for (; n < CHUNK && u <= UINT32_MAX; n++, u += STRIDE) {
            uint32_t b = (uint32_t)u;
            memcpy(&x[n], &b, sizeof b);
        }
        for (int f = 0; f < 3; f++)
            for (RtCpuPath path = RT_CPU_SCALAR; path < RT_CPU_NPATHS; path = (RtCpuPath)(path + 1)) {
                if (!rt_cpu_path_supported(path)) continue;
                fs[f].v(path, y, x, n);
                for (int i = 0; i < n; i++) {
                    float s = fs[f].s(x[i]);
                    if (isnan(s) && isnan(y[i])) continue;
                    if (bits_of(s) != bits_of(y[i])) {
                        fprintf(stderr, "rt_%sf(%a) = %a but rt_v%s on %s gives %a\n", fs[f].name, (double)x[i],
                                (double)s, fs[f].name, rt_cpu_path_name(path), (double)y[i]);
                        fail();
                    }
                }
            }
        checked += (uint64_t)n;
    }
    assert_true(checked > 1000000); /* the sweep really ran */
    /* and the default entry points */
    const float some[5] = {-3.5f, -0.0f, 0.3f, 0.7f, 20.0f};
    float ty[5];
    rt_vtanh(ty, some, 5);
    for (int i = 0; i < 5; i++) assert_true(bits_of(ty[i]) == bits_of(rt_tanhf(some[i])));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_layernorm),
        cmocka_unit_test(test_layernorm_grad),
        cmocka_unit_test(test_cross_entropy),
        cmocka_unit_test(test_cross_entropy_grad),
        cmocka_unit_test(test_cross_entropy_masked),
        cmocka_unit_test(test_seq_reverse_masked),
        cmocka_unit_test(test_embedding),
        cmocka_unit_test(test_embedding_grad),
        cmocka_unit_test(test_ids_out_of_range),
        cmocka_unit_test(test_sgd_hand),
        cmocka_unit_test(test_sgd_paths),
        cmocka_unit_test(test_adam_paths),
        cmocka_unit_test(test_adam_hand),
        cmocka_unit_test(test_optimizers_vs_reference),
        cmocka_unit_test(test_scalar_activations_bitwise),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
