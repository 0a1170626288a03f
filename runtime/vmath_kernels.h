/* vmath_kernels.h - what vmath.c and its SIMD kernels share: the
 * constants of the algorithm (one copy, so every path computes the same
 * numbers) and the kernel table.  Internal to the runtime. */
#ifndef RNNC_VMATH_KERNELS_H
#define RNNC_VMATH_KERNELS_H

#include <stdint.h>

#include "runtime/rnnrt.h"

/* exp: x is clamped to [VM_EXP_LO, VM_EXP_HI] (past those the result has
 * already rounded to 0 or overflowed to inf, and the clamp keeps n small);
 * n = round(x / ln 2); r = x - n ln 2 with ln 2 split in two (Cody-Waite:
 * VM_LN2_HI has 9 significant bits, so n * VM_LN2_HI is exact for |n| <
 * 2^15 and r loses nothing); exp(r) by the Cephes expf polynomial on
 * |r| <= ln2/2; then times 2^n in two halves so that denormal results are
 * rounded once, at the last multiply. */
#define VM_EXP_HI 89.0f
#define VM_EXP_LO -104.0f
#define VM_LOG2E 1.44269504088896341f
#define VM_LN2_HI 0.693359375f
#define VM_LN2_LO -2.12194440e-4f
/* Adding and subtracting 1.5 * 2^23 rounds |t| < 2^22 to the nearest
 * integer (ties to even), the same on every path. */
#define VM_ROUND_MAGIC 12582912.0f
#define VM_EXP_P0 1.9875691500e-4f
#define VM_EXP_P1 1.3981999507e-3f
#define VM_EXP_P2 8.3334519073e-3f
#define VM_EXP_P3 4.1665795894e-2f
#define VM_EXP_P4 1.6666665459e-1f
#define VM_EXP_P5 5.0000001201e-1f

/* tanh on a = |x|: below VM_TANH_SMALL the Cephes tanhf odd polynomial
 * a + a^3 P(a^2) (no cancellation near 0); above it 1 - 2 / (exp(2a) + 1),
 * which for large a is 1 - 2/inf = 1 with no overflow trouble.  The sign is
 * put back last, so tanh(-0) = -0. */
#define VM_TANH_SMALL 0.625f
#define VM_TANH_P0 -5.70498872745e-3f
#define VM_TANH_P1 2.06390887954e-2f
#define VM_TANH_P2 -5.37397155531e-2f
#define VM_TANH_P3 1.33314422036e-1f
#define VM_TANH_P4 -3.33332819422e-1f

/* sigmoid: e = exp(-|x|) is in [0, 1], so never overflows; then
 * 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0, one division either
 * way; the second keeps full relative accuracy down to denormal results. */

/* An array kernel: y[i] = f(x[i]) for i < n. */
typedef void (*RtVmathFn)(float *y, const float *x, int64_t n);

typedef struct RtVmathKernels {
    RtVmathFn exp, tanh, sigmoid; /* NULL if this build lacks the path */
} RtVmathKernels;

RT_EXTERN const RtVmathKernels rt_vmath_avx2;

#endif
