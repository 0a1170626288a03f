/* vmath_ulp.c - the accuracy of the runtime's activations over every float.
 *
 *     build/tools/vmath_ulp [--stride N] [exp|tanh|sigmoid|softplus ...]
 *
 * Sweeps all 2^32 float bit patterns (every Nth with --stride) through
 * rt_vexp / rt_vtanh / rt_vsigmoid on the portable path and on every SIMD
 * path this CPU runs, and through vmath_inline.h's rt_inline_softplusf;
 * compares each result with the function in double precision and prints,
 * per function, the largest error in ulps of the float at the true value
 * (the denormal spacing 2^-149 below FLT_MIN, as tests/unit/test_vmath.c
 * counts it) and the largest absolute error, each with its input.  Every
 * SIMD path's result must have the portable path's bits: a difference is
 * printed and the exit status is 1.
 *
 * Not part of `make test` (a full sweep takes minutes: the double
 * reference dominates); test_vmath asserts the bounds on a strided sweep.
 * Built against another checkout's library and headers it measures that
 * checkout's functions (docs/performance.md, "Activations with FMA"). */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/vmath.h"
#include "runtime/vmath_inline.h" /* rt_vm_bits, rt_vm_float, rt_inline_softplusf */

typedef void (*VFn)(RtCpuPath, float *, const float *, int64_t);

static double ref_exp(double x) { return exp(x); }
static double ref_tanh(double x) { return tanh(x); }
static double ref_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
/* PyTorch's F.softplus, beta 1, threshold 20 */
static double ref_softplus(double x) { return x > 20 ? x : log1p(exp(x)); }

static void softplus_any(RtCpuPath path, float *y, const float *x, int64_t n)
{
    (void)path;
    for (int64_t i = 0; i < n; i++) y[i] = rt_inline_softplusf(x[i]);
}

typedef struct Func {
    const char *name;
    VFn f;
    double (*ref)(double);
    int simd; /* has SIMD paths to compare with the portable one */
} Func;

static const Func funcs[] = {
    {"exp", rt_vexp_on, ref_exp, 1},
    {"tanh", rt_vtanh_on, ref_tanh, 1},
    {"sigmoid", rt_vsigmoid_on, ref_sigmoid, 1},
    {"softplus", softplus_any, ref_softplus, 0},
};
enum { NFUNCS = sizeof funcs / sizeof funcs[0], BLOCK = 1 << 16 };

/* In ulps of the float at ref; an infinite y is right when ref rounds to
 * infinity too, else counts as 2^128; NaN must meet NaN. */
static double ulp_error(float y, double ref)
{
    if (isnan(ref)) return isnan(y) ? 0.0 : INFINITY;
    if (isnan(y)) return INFINITY;
    if (isinf(y) && isinf((float)ref) && (y > 0) == (ref > 0)) return 0.0;
    double yv = isinf(y) ? copysign(0x1p128, y) : (double)y;
    double m = fabs(ref), ulp = 0x1p-149;
    if (m >= FLT_MIN) {
        int e;
        frexp(m, &e); /* m = f 2^e, f in [0.5, 1) */
        ulp = ldexp(1.0, e - 24);
    }
    return fabs(yv - ref) / ulp;
}

/* |y - ref| where both are finite (the absolute error of an overflowed
 * exp says nothing) */
static double abs_error(float y, double ref)
{
    if (isnan(ref) || isinf(ref) || isinf(y) || isnan(y)) return 0.0;
    return fabs((double)y - ref);
}

typedef struct Worst {
    double ulp, abs;
    float ulp_x, abs_x;
} Worst;

static int sweep(const Func *fn, uint64_t stride, float *x, float *y, float *ys)
{
    Worst w = {0};
    int bad = 0;
    uint64_t u = 0;
    while (u <= UINT32_MAX) {
        int64_t n = 0;
        for (; n < BLOCK && u <= UINT32_MAX; n++, u += stride) x[n] = rt_vm_float((uint32_t)u);
        fn->f(RT_CPU_SCALAR, y, x, n);
        for (int64_t i = 0; i < n; i++) {
            double r = fn->ref((double)x[i]);
            double e = ulp_error(y[i], r), a = abs_error(y[i], r);
            if (e > w.ulp) w.ulp = e, w.ulp_x = x[i];
            if (a > w.abs) w.abs = a, w.abs_x = x[i];
        }
        for (int p = RT_CPU_SCALAR + 1; fn->simd && p < RT_CPU_NPATHS; p++) {
            if (!rt_cpu_path_supported((RtCpuPath)p)) continue;
            fn->f((RtCpuPath)p, ys, x, n);
            for (int64_t i = 0; i < n; i++)
                if (rt_vm_bits(ys[i]) != rt_vm_bits(y[i]) && !(isnan(ys[i]) && isnan(y[i]))) {
                    if (bad++ < 10)
                        printf("  %s: x = %a: %s gives %a, scalar %a\n", fn->name, (double)x[i],
                               rt_cpu_path_name((RtCpuPath)p), (double)ys[i], (double)y[i]);
                }
        }
    }
    printf("%-8s max %.3f ulp (x = %.9g)   max abs %.3g (x = %.9g)%s\n", fn->name, w.ulp, (double)w.ulp_x, w.abs,
           (double)w.abs_x, bad ? "   PATHS DIFFER" : "");
    fflush(stdout);
    return bad != 0;
}

int main(int argc, char **argv)
{
    uint64_t stride = 1;
    int want[NFUNCS] = {0}, any = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--stride") && i + 1 < argc) {
            char *end;
            unsigned long long s = strtoull(argv[++i], &end, 10);
            if (*end || s == 0) {
                fprintf(stderr, "vmath_ulp: --stride %s: expected a positive integer\n", argv[i]);
                return 2;
            }
            stride = s;
            continue;
        }
        int f = 0;
        while (f < NFUNCS && strcmp(argv[i], funcs[f].name)) f++;
        if (f == NFUNCS) {
            fprintf(stderr, "usage: vmath_ulp [--stride N] [exp|tanh|sigmoid|softplus ...]\n");
            return 2;
        }
        want[f] = any = 1;
    }
    float *x = malloc(BLOCK * sizeof *x), *y = malloc(BLOCK * sizeof *y), *ys = malloc(BLOCK * sizeof *ys);
    if (!x || !y || !ys) {
        fprintf(stderr, "vmath_ulp: out of memory\n");
        return 2;
    }
    printf("every %llu%s float bit pattern; paths compared with scalar:", (unsigned long long)stride,
           stride == 1 ? "st" : "th");
    for (int p = RT_CPU_SCALAR + 1; p < RT_CPU_NPATHS; p++)
        if (rt_cpu_path_supported((RtCpuPath)p)) printf(" %s", rt_cpu_path_name((RtCpuPath)p));
    printf("\n");
    int bad = 0;
    for (int f = 0; f < NFUNCS; f++)
        if (!any || want[f]) bad |= sweep(&funcs[f], stride, x, y, ys);
    free(x);
    free(y);
    free(ys);
    return bad;
}
