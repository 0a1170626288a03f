/* vmath.c - rt_vexp, rt_vtanh, rt_vsigmoid: the run-time choice of path
 * and the portable scalar kernels.  The algorithm and its constants are in
 * vmath_kernels.h; vmath_avx2.c runs the same steps 8 lanes at a time.
 *
 * The scalar functions rt_expf, rt_tanhf, rt_sigmoidf (nn_kernels.h: what
 * generated element-wise loops call) ARE the portable path: the array loops
 * below call them, so there is one definition of each and a compiled loop
 * gets exactly the bits rt_vtanh gives.
 *
 * Each float operation below is its own statement on purpose: a compiler
 * may fuse a*b+c written in one expression into an FMA (clang does with
 * -ffp-contract=on on an FMA target), which would round differently from
 * the SIMD path. */
#include "runtime/vmath.h"

#include <string.h>

#include "runtime/nn_kernels.h"
#include "runtime/vmath_kernels.h"

/* gcc in GNU mode (-std=gnu11, its default) fuses a*b + c into an FMA
 * across statements whenever the target has FMA (-march=native), which
 * would round differently on each path; contraction is off for this code
 * whatever the flags.  (clang never contracts across statements, nor does
 * gcc in ISO mode.)  Pushed and popped: the amalgamation is one file. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif

static uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float float_of(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* 2^k for -126 <= k <= 127, built from the exponent field. */
static float pow2i(int32_t k) { return float_of((uint32_t)(k + 127) << 23); }

RT_API float rt_expf(float x) {
    if (x != x)
        return x + x; /* NaN in, (quiet) NaN out */
    if (x > VM_EXP_HI)
        x = VM_EXP_HI;
    if (x < VM_EXP_LO)
        x = VM_EXP_LO;
    float n = x * VM_LOG2E;
    n = n + VM_ROUND_MAGIC;
    n = n - VM_ROUND_MAGIC;
    float t = n * VM_LN2_HI;
    float r = x - t;
    t = n * VM_LN2_LO;
    r = r - t;
    float r2 = r * r;
    float p = VM_EXP_P0;
    p = p * r;
    p = p + VM_EXP_P1;
    p = p * r;
    p = p + VM_EXP_P2;
    p = p * r;
    p = p + VM_EXP_P3;
    p = p * r;
    p = p + VM_EXP_P4;
    p = p * r;
    p = p + VM_EXP_P5;
    p = p * r2;
    p = p + r;
    p = p + 1.0f;
    /* n is in [-150, 128]: 2^n in two factors that are each normal; the
     * first product is exact, the second rounds (or overflows) once. */
    int32_t k = (int32_t)n;
    int32_t k1 = k / 2;
    p = p * pow2i(k1);
    p = p * pow2i(k - k1);
    return p;
}

RT_API float rt_tanhf(float x) {
    uint32_t sign = bits_of(x) & 0x80000000u;
    float a = float_of(bits_of(x) & 0x7fffffffu);
    float r;
    if (a < VM_TANH_SMALL) {
        float z = a * a;
        float p = VM_TANH_P0;
        p = p * z;
        p = p + VM_TANH_P1;
        p = p * z;
        p = p + VM_TANH_P2;
        p = p * z;
        p = p + VM_TANH_P3;
        p = p * z;
        p = p + VM_TANH_P4;
        p = p * z;
        p = p * a;
        r = p + a;
    } else {
        float e = rt_expf(a + a); /* NaN stays NaN through here */
        float d = e + 1.0f;
        float q = 2.0f / d;
        r = 1.0f - q;
    }
    return float_of(bits_of(r) | sign);
}

RT_API float rt_sigmoidf(float x) {
    float a = float_of(bits_of(x) & 0x7fffffffu);
    float e = rt_expf(-a);
    float d = 1.0f + e;
    float num = x >= 0.0f ? 1.0f : e;
    return num / d;
}

static void vexp_scalar(float *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        y[i] = rt_expf(x[i]);
}

static void vtanh_scalar(float *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        y[i] = rt_tanhf(x[i]);
}

static void vsigmoid_scalar(float *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        y[i] = rt_sigmoidf(x[i]);
}

static const RtVmathKernels scalar_kernels = {vexp_scalar, vtanh_scalar, vsigmoid_scalar};

/* The kernels for path, or for the best path below it that this CPU and
 * build can run (there is no AVX-512 variant: AVX-512 CPUs run AVX2). */
static const RtVmathKernels *kernels_for(RtCpuPath path) {
    if (path >= RT_CPU_AVX2 && rt_cpu_path_supported(RT_CPU_AVX2) && rt_vmath_avx2.exp)
        return &rt_vmath_avx2;
    return &scalar_kernels;
}

RT_API void rt_vexp_on(RtCpuPath path, float *y, const float *x, int64_t n) {
    if (n > 0)
        kernels_for(path)->exp(y, x, n);
}

RT_API void rt_vtanh_on(RtCpuPath path, float *y, const float *x, int64_t n) {
    if (n > 0)
        kernels_for(path)->tanh(y, x, n);
}

RT_API void rt_vsigmoid_on(RtCpuPath path, float *y, const float *x, int64_t n) {
    if (n > 0)
        kernels_for(path)->sigmoid(y, x, n);
}

RT_API void rt_vexp(float *y, const float *x, int64_t n) { rt_vexp_on(rt_cpu_path(), y, x, n); }
RT_API void rt_vtanh(float *y, const float *x, int64_t n) { rt_vtanh_on(rt_cpu_path(), y, x, n); }
RT_API void rt_vsigmoid(float *y, const float *x, int64_t n) { rt_vsigmoid_on(rt_cpu_path(), y, x, n); }

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
