/* test_vmath.c - rt_vexp, rt_vtanh, rt_vsigmoid (and the scalar
 * rt_inline_softplusf) against double-precision
 * libm: the documented ulp bounds over a dense strided sweep of all 2^32
 * float bit patterns (every 1021st; 1021 is prime, so the sweep walks
 * through every exponent and many mantissa patterns) plus the special
 * values, on every path this CPU runs; the paths agree bit for bit; odd
 * lengths, in place, and nothing written past n. */
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

#include "runtime/vmath.h"
#include "runtime/vmath_inline.h" /* rt_vm_bits, rt_vm_float */

/* The bounds documented in runtime/vmath.h.  The error is in ulps of the
 * float at the true value everywhere, near 0 too (tanh(x) ~ x and
 * sigmoid(x) ~ 1/2 there, so a relative bound is no looser), with the
 * denormal spacing 2^-149 as the ulp below FLT_MIN: an absolute floor of
 * 2^-149 * bound, the finest a float result can resolve anyway. */
#define EXP_BOUND     1.1
#define TANH_BOUND    2.0
#define SIGMOID_BOUND 2.5

typedef void (*VFn)(RtCpuPath, float *, const float *, int64_t);

static double ref_exp(double x) { return exp(x); }
static double ref_tanh(double x) { return tanh(x); }
static double ref_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

typedef struct Func {
    const char *name;
    VFn f;
    double (*ref)(double);
    double bound;
} Func;

static const Func funcs[] = {
    {"exp", rt_vexp_on, ref_exp, EXP_BOUND},
    {"tanh", rt_vtanh_on, ref_tanh, TANH_BOUND},
    {"sigmoid", rt_vsigmoid_on, ref_sigmoid, SIGMOID_BOUND},
};
enum { NFUNCS = 3 };

#define FOR_EACH_PATH(p)                                                         \
    for (RtCpuPath p = RT_CPU_SCALAR; p < RT_CPU_NPATHS; p = (RtCpuPath)(p + 1)) \
        if (rt_cpu_path_supported(p))

/* The error of y as an approximation of ref, in ulps of the float at ref.
 * An infinite y is right when ref rounds to infinity too; otherwise it
 * counts as +-2^128, the next binade past FLT_MAX.  NaN must match NaN. */
static double ulp_error(float y, double ref)
{
    if (isnan(ref)) return isnan(y) ? 0.0 : INFINITY;
    if (isnan(y)) return INFINITY;
    if (isinf(y) && isinf((float)ref) && (y > 0) == (ref > 0)) return 0.0;
    double yv = isinf(y) ? copysign(0x1p128, y) : (double)y;
    double m = fabs(ref), ulp;
    if (m < FLT_MIN) {
        ulp = 0x1p-149;
    } else {
        int e;
        frexp(m, &e); /* m = f * 2^e, f in [0.5, 1) */
        ulp = ldexp(1.0, e - 24);
    }
    return fabs(yv - ref) / ulp;
}

typedef struct Worst {
    double err;
    float x, y;
} Worst;

/* Checks f on path over x[0..n) and records the worst error; also that the
 * path gives the scalar path's bits. */
static void check_block(const Func *fn, RtCpuPath path, const float *x, float *y, float *y0, int64_t n, Worst *w)
{
    fn->f(path, y, x, n);
    if (path != RT_CPU_SCALAR) fn->f(RT_CPU_SCALAR, y0, x, n);
    for (int64_t i = 0; i < n; i++) {
        double e = ulp_error(y[i], fn->ref((double)x[i]));
        if (e > w->err) {
            w->err = e;
            w->x = x[i];
            w->y = y[i];
        }
        if (path != RT_CPU_SCALAR && !(isnan(y[i]) && isnan(y0[i])) && rt_vm_bits(y[i]) != rt_vm_bits(y0[i])) {
            fprintf(stderr, "%s on %s: x = %a gives %a, scalar gives %a\n", fn->name, rt_cpu_path_name(path), x[i],
                    y[i], y0[i]);
            fail();
        }
    }
}

static void report(const Func *fn, RtCpuPath path, const Worst *w)
{
    printf("  %-7s %-6s max %.3f ulp (x = %.9g, y = %.9g)\n", fn->name, rt_cpu_path_name(path), w->err, w->x, w->y);
    assert_true(w->err <= fn->bound);
}

enum { BLOCK = 4096, STRIDE = 1021 };

static void test_sweep(void **state)
{
    (void)state;
    float *x = malloc(BLOCK * sizeof *x), *y = malloc(BLOCK * sizeof *y), *y0 = malloc(BLOCK * sizeof *y0);
    assert_non_null(x);
    assert_non_null(y);
    assert_non_null(y0);
    FOR_EACH_PATH(path)
    {
        for (int f = 0; f < NFUNCS; f++) {
            Worst w = {0};
            uint64_t u = 0;
            while (u <= UINT32_MAX) {
                int64_t n = 0;
                for (; n < BLOCK && u <= UINT32_MAX; n++, u += STRIDE) x[n] = rt_vm_float((uint32_t)u);
                check_block(&funcs[f], path, x, y, y0, n, &w);
            }
            report(&funcs[f], path, &w);
        }
    }
    free(x);
    free(y);
    free(y0);
}

/* The edges: zeros, infinities, NaNs, denormals, the overflow and
 * underflow thresholds of exp and the neighbourhood of the tanh branch,
 * each with its float neighbours. */
static void test_special_values(void **state)
{
    (void)state;
    static const float base[] = {
        0.0f,       FLT_MIN, 0x1p-149f, 0x1p-140f,   0x1.fffffcp-127f, FLT_MAX, 1.0f,      0.5f,   88.7228394f,
        88.72284f,  88.0f,   89.0f,     103.972084f, 103.97208f,       104.0f,  87.33654f, 0.625f, 9.01f,
        7.9053111f, 16.6f,   1e-4f,     1e-8f,       0.693147182f,     1e10f,   1e30f,
    };
    enum { NB = sizeof base / sizeof base[0] };
    float x[NB * 6 + 4];
    int n = 0;
    for (int i = 0; i < NB; i++)
        for (int s = 0; s < 2; s++) {
            float v = s ? -base[i] : base[i];
            x[n++] = v;
            x[n++] = nextafterf(v, INFINITY);
            x[n++] = nextafterf(v, -INFINITY);
        }
    x[n++] = INFINITY;
    x[n++] = -INFINITY;
    x[n++] = NAN;
    x[n++] = -NAN;
    float y[sizeof x / sizeof x[0]], y0[sizeof x / sizeof x[0]];
    FOR_EACH_PATH(path)
    {
        for (int f = 0; f < NFUNCS; f++) {
            Worst w = {0};
            check_block(&funcs[f], path, x, y, y0, n, &w);
            report(&funcs[f], path, &w);
        }

        /* The exact cases vmath.h promises (== on floats: exact by contract). */
        float in[] = {-INFINITY, INFINITY, 100.0f, -200.0f, 0.0f, -0.0f, NAN};
        float o[7];
        rt_vexp_on(path, o, in, 7);
        assert_true(o[0] == 0.0f && o[1] == INFINITY && o[2] == INFINITY && o[3] == 0.0f);
        assert_true(o[4] == 1.0f && o[5] == 1.0f && isnan(o[6]));
        rt_vtanh_on(path, o, in, 7);
        assert_true(o[0] == -1.0f && o[1] == 1.0f && o[2] == 1.0f && o[3] == -1.0f);
        assert_true(o[4] == 0.0f && !signbit(o[4]) && o[5] == 0.0f && signbit(o[5]));
        assert_true(isnan(o[6]));
        rt_vsigmoid_on(path, o, in, 7);
        assert_true(o[0] == 0.0f && o[1] == 1.0f && o[2] == 1.0f && o[3] == 0.0f);
        assert_true(o[4] == 0.5f && o[5] == 0.5f && isnan(o[6]));
    }
}

/* rt_inline_softplusf (vmath_inline.h) against PyTorch's definition in
 * double, x > 20 ? x : log1p(exp(x)), over the sweep and the edges.  Its
 * error adds up from exp's (EXP_BOUND, 1 ulp of e = exp(-|x|), which
 * moves log1p(e) by at most as much, relatively), glibc logf's (0.82 ulp),
 * and the roundings of e / (u - 1), the product and the final sum (half
 * an ulp each of a value no larger than the result; u - 1 is exact and
 * the rounding of 1 + e is undone by the ratio): 3.32 ulps at worst,
 * SOFTPLUS_BOUND 3.5.  Measured 2.755 (printed).  Past 20 the result is
 * x exactly; at the infinities and NaN what PyTorch gives. */
#define SOFTPLUS_BOUND 3.5

static double ref_softplus(double x) { return x > 20 ? x : log1p(exp(x)); }

static void test_softplus(void **state)
{
    (void)state;
    Worst w = {0};
    for (uint64_t u = 0; u <= UINT32_MAX; u += STRIDE) {
        float x = rt_vm_float((uint32_t)u), y = rt_inline_softplusf(x);
        double e = ulp_error(y, ref_softplus((double)x));
        if (e > w.err) {
            w.err = e;
            w.x = x;
            w.y = y;
        }
    }
    static const float edge[] = {0.0f,   -0.0f,   1e-8f,   -1e-8f,  1.0f,       -1.0f,      15.0f,  -15.0f,
                                 16.6f,  -16.6f,  17.0f,   20.0f,   20.000002f, 19.999998f, -20.0f, -87.0f,
                                 -88.0f, -100.0f, -103.0f, -104.0f, -105.0f,    88.0f,      89.0f};
    for (size_t i = 0; i < sizeof edge / sizeof *edge; i++) {
        float x = edge[i], y = rt_inline_softplusf(x);
        double e = ulp_error(y, ref_softplus((double)x));
        if (e > w.err) {
            w.err = e;
            w.x = x;
            w.y = y;
        }
    }
    printf("  softplus max %.3f ulp (x = %.9g, y = %.9g)\n", w.err, w.x, w.y);
    assert_true(w.err <= SOFTPLUS_BOUND);
    /* exact: past the threshold x itself; the infinities; NaN */
    assert_true(rt_inline_softplusf(20.000002f) == 20.000002f);
    assert_true(rt_inline_softplusf(1e30f) == 1e30f);
    assert_true(rt_inline_softplusf(INFINITY) == INFINITY);
    assert_true(rt_inline_softplusf(-INFINITY) == 0.0f);
    assert_true(isnan(rt_inline_softplusf(NAN)));
    /* a tiny exp(x) is kept, not lost in 1 + exp(x): softplus(-30) = e^-30 */
    assert_true(fabs(rt_inline_softplusf(-30.0f) - exp(-30.0)) <= 2 * 0x1p-24 * exp(-30.0));
}

/* Every length 0..40 (whole vectors and every tail), out of place into an
 * exactly sized buffer (ASan catches a write past n) and in place; both
 * equal the one-element-at-a-time results. */
static void test_lengths_and_in_place(void **state)
{
    (void)state;
    FOR_EACH_PATH(path)
    {
        for (int f = 0; f < NFUNCS; f++) {
            for (int n = 0; n <= 40; n++) {
                float *x = malloc((size_t)(n ? n : 1) * sizeof *x);
                float *y = malloc((size_t)(n ? n : 1) * sizeof *y);
                assert_non_null(x);
                assert_non_null(y);
                for (int i = 0; i < n; i++) x[i] = (float)(i - 20) * 0.37f;
                funcs[f].f(path, y, x, n);
                for (int i = 0; i < n; i++) {
                    float one;
                    funcs[f].f(path, &one, &x[i], 1);
                    assert_true(rt_vm_bits(one) == rt_vm_bits(y[i]));
                }
                funcs[f].f(path, x, x, n); /* in place */
                for (int i = 0; i < n; i++) assert_true(rt_vm_bits(x[i]) == rt_vm_bits(y[i]));
                free(x);
                free(y);
            }
        }
    }
    /* The default entry points use one of the paths: same bits as scalar
     * (the paths agree, checked above). */
    float x[3] = {-1.5f, 0.25f, 3.0f}, a[3], b[3];
    rt_vexp(a, x, 3);
    rt_vexp_on(RT_CPU_SCALAR, b, x, 3);
    assert_memory_equal(a, b, sizeof a);
    rt_vtanh(a, x, 3);
    rt_vtanh_on(RT_CPU_SCALAR, b, x, 3);
    assert_memory_equal(a, b, sizeof a);
    rt_vsigmoid(a, x, 3);
    rt_vsigmoid_on(RT_CPU_SCALAR, b, x, 3);
    assert_memory_equal(a, b, sizeof a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sweep),
        cmocka_unit_test(test_special_values),
        cmocka_unit_test(test_softplus),
        cmocka_unit_test(test_lengths_and_in_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
