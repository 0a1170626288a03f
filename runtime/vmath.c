/* vmath.c - rt_vexp, rt_vtanh, rt_vsigmoid: the run-time choice of path
 * and the portable scalar kernels.  The algorithm, its constants and its
 * one scalar definition are in vmath_inline.h; vmath_avx2.c runs the same
 * steps 8 lanes at a time.
 *
 * The scalar functions rt_expf, rt_tanhf, rt_sigmoidf (nn_kernels.h) are
 * the inline functions as library entry points, and the portable array
 * loops below call them, so a generated loop calling the inline functions
 * gets exactly the bits rt_vtanh gives. */
#include "runtime/vmath.h"

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

RT_API float rt_expf(float x) { return rt_inline_expf(x); }
RT_API float rt_tanhf(float x) { return rt_inline_tanhf(x); }
RT_API float rt_sigmoidf(float x) { return rt_inline_sigmoidf(x); }

static void vexp_scalar(float *y, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] = rt_expf(x[i]);
}

static void vtanh_scalar(float *y, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] = rt_tanhf(x[i]);
}

static void vsigmoid_scalar(float *y, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] = rt_sigmoidf(x[i]);
}

static const RtVmathKernels scalar_kernels = {vexp_scalar, vtanh_scalar, vsigmoid_scalar};

/* The kernels for path, or for the best path below it that this CPU and
 * build can run (there is no AVX-512 variant: AVX-512 CPUs run AVX2). */
static const RtVmathKernels *kernels_for(RtCpuPath path)
{
    if (path >= RT_CPU_AVX2 && rt_cpu_path_supported(RT_CPU_AVX2) && rt_vmath_avx2.exp) return &rt_vmath_avx2;
    return &scalar_kernels;
}

RT_API void rt_vexp_on(RtCpuPath path, float *y, const float *x, int64_t n)
{
    if (n > 0) kernels_for(path)->exp(y, x, n);
}

RT_API void rt_vtanh_on(RtCpuPath path, float *y, const float *x, int64_t n)
{
    if (n > 0) kernels_for(path)->tanh(y, x, n);
}

RT_API void rt_vsigmoid_on(RtCpuPath path, float *y, const float *x, int64_t n)
{
    if (n > 0) kernels_for(path)->sigmoid(y, x, n);
}

RT_API void rt_vexp(float *y, const float *x, int64_t n) { rt_vexp_on(rt_cpu_path(), y, x, n); }
RT_API void rt_vtanh(float *y, const float *x, int64_t n) { rt_vtanh_on(rt_cpu_path(), y, x, n); }
RT_API void rt_vsigmoid(float *y, const float *x, int64_t n) { rt_vsigmoid_on(rt_cpu_path(), y, x, n); }

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
