/* vmath_kernels.h - what vmath.c and its SIMD kernels share: the
 * constants of the algorithm (in vmath_inline.h, one copy, so every path
 * computes the same numbers) and the kernel table.  Internal to the
 * runtime. */
#ifndef RNNC_VMATH_KERNELS_H
#define RNNC_VMATH_KERNELS_H

#include <stdint.h>

#include "runtime/rnnrt.h"
#include "runtime/vmath_inline.h" /* the constants */

/* An array kernel: y[i] = f(x[i]) for i < n. */
typedef void (*RtVmathFn)(float *y, const float *x, int64_t n);

typedef struct RtVmathKernels {
    RtVmathFn exp, tanh, sigmoid; /* NULL if this build lacks the path */
} RtVmathKernels;

RT_EXTERN const RtVmathKernels rt_vmath_avx2;

#endif
