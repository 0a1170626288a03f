/* vmath_inline.h - the scalar exp, tanh, sigmoid and softplus as inline
 * functions with no branches, and the constants of their algorithm.
 *
 * These are the runtime's one definition of the activations: vmath.c's
 * rt_expf / rt_tanhf / rt_sigmoidf (and through them the portable array
 * kernels) return what these return, vmath_avx2.c runs the same steps 8
 * lanes at a time, and a generated C file's element-wise loops call these
 * directly.  That last use is why they are inline and straight-line: a
 * loop calling them has no control flow, so gcc and clang vectorize it (a
 * compiler that keeps the default -ftrapping-math will not turn a branch
 * that guards a division into a select, but it vectorizes a select that is
 * already written as bit operations).  A branch of the algorithm becomes
 * "compute both sides, then pick": rt_vm_pick below.
 *
 * Each float operation is its own statement on purpose: a compiler may fuse
 * a*b+c written in one expression into an FMA, which would round
 * differently from the SIMD path.  So every path, and every vector width
 * a compiler picks for a loop calling these, gives the same bits.
 *
 * They are always inlined (RT_ALWAYS_INLINE): a call left in a loop would
 * stop it from being vectorized.  (Softplus calls the C library's logf,
 * so a loop of it is not vectorized; it is straight-line all the same.)
 * Needs only rnnrt.h, <math.h>, <stdint.h> and <string.h>: a generated C
 * file that links the runtime (--runtime=link) pastes this text after its
 * #include "rnnrt.h". */
#ifndef RNNC_VMATH_INLINE_H
#define RNNC_VMATH_INLINE_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "runtime/rnnrt.h" /* RT_ALWAYS_INLINE */

/* exp: x is clamped to [VM_EXP_LO, VM_EXP_HI] (past those the result has
 * already rounded to 0 or overflowed to inf, and the clamp keeps n small);
 * n = round(x / ln 2); r = x - n ln 2 with ln 2 split in two (Cody-Waite:
 * VM_LN2_HI has 9 significant bits, so n * VM_LN2_HI is exact for |n| <
 * 2^15 and r loses nothing); exp(r) by the Cephes expf polynomial on
 * |r| <= ln2/2; then times 2^n in two halves so that denormal results are
 * rounded once, at the last multiply. */
#define VM_EXP_HI      89.0f
#define VM_EXP_LO      -104.0f
#define VM_LOG2E       1.44269504088896341f
#define VM_LN2_HI      0.693359375f
#define VM_LN2_LO      -2.12194440e-4f
/* Adding and subtracting 1.5 * 2^23 rounds |t| < 2^22 to the nearest
 * integer (ties to even), the same on every path. */
#define VM_ROUND_MAGIC 12582912.0f
#define VM_EXP_P0      1.9875691500e-4f
#define VM_EXP_P1      1.3981999507e-3f
#define VM_EXP_P2      8.3334519073e-3f
#define VM_EXP_P3      4.1665795894e-2f
#define VM_EXP_P4      1.6666665459e-1f
#define VM_EXP_P5      5.0000001201e-1f

/* tanh on a = |x|: below VM_TANH_SMALL the Cephes tanhf odd polynomial
 * a + a^3 P(a^2) (no cancellation near 0); above it 1 - 2 / (exp(2a) + 1),
 * which for large a is 1 - 2/inf = 1 with no overflow trouble.  The sign is
 * put back last, so tanh(-0) = -0. */
#define VM_TANH_SMALL 0.625f
#define VM_TANH_P0    -5.70498872745e-3f
#define VM_TANH_P1    2.06390887954e-2f
#define VM_TANH_P2    -5.37397155531e-2f
#define VM_TANH_P3    1.33314422036e-1f
#define VM_TANH_P4    -3.33332819422e-1f

/* sigmoid: e = exp(-|x|) is in [0, 1], so never overflows; then
 * 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0, one division either
 * way; the second keeps full relative accuracy down to denormal results. */

/* softplus: PyTorch's F.softplus with beta 1 and threshold 20: x itself
 * for x > VM_SOFTPLUS_THRESHOLD, else log(1 + exp(x)), here as
 * max(x, 0) + log1p(exp(-|x|)): exp(-|x|) is in [0, 1], so never
 * overflows, and no exp(-|x|) is lost in 1 + e.  log1p(e) is Goldberg's
 * formula from a log ("What every computer scientist should know about
 * floating-point arithmetic", theorem 4): with u = 1 + e rounded,
 * log1p(e) = e when u == 1, else logf(u) * (e / (u - 1)); u - 1 is exact
 * (Sterbenz) and e / (u - 1) undoes the rounding of 1 + e, so the result
 * has logf's and exp's errors and a few roundings, not the cancellation
 * of logf(1 + e) (which gives 0 for every e < 2^-24). */
#define VM_SOFTPLUS_THRESHOLD 20.0f

/* gcc in GNU mode (-std=gnu11, its default) fuses a*b + c into an FMA
 * across statements whenever the target has FMA, which would round
 * differently on each path; contraction is off for this code whatever the
 * flags.  (clang never contracts across statements, nor does gcc in ISO
 * mode.)  Pushed and popped: the amalgamation is one file. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif

RT_ALWAYS_INLINE uint32_t rt_vm_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

RT_ALWAYS_INLINE float rt_vm_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* c ? a : b, as bit operations on values both already computed. */
RT_ALWAYS_INLINE float rt_vm_pick(int c, float a, float b)
{
    uint32_t m = 0u - (uint32_t)(c != 0);
    return rt_vm_float((rt_vm_bits(a) & m) | (rt_vm_bits(b) & ~m));
}

RT_ALWAYS_INLINE float rt_inline_expf(float x0)
{
    /* the clamp as x >= LO first, so that a NaN becomes LO (a comparison
     * with NaN is false) and the integer conversion below stays defined;
     * the NaN is put back at the end */
    float x = rt_vm_pick(x0 >= VM_EXP_LO, x0, VM_EXP_LO);
    x = rt_vm_pick(x > VM_EXP_HI, VM_EXP_HI, x);
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
    int32_t k2 = k - k1;
    p = p * rt_vm_float((uint32_t)(k1 + 127) << 23);
    p = p * rt_vm_float((uint32_t)(k2 + 127) << 23);
    float nan = x0 + x0; /* NaN in, (quiet) NaN out */
    return rt_vm_pick(x0 != x0, nan, p);
}

RT_ALWAYS_INLINE float rt_inline_tanhf(float x)
{
    uint32_t sign = rt_vm_bits(x) & 0x80000000u;
    float a = rt_vm_float(rt_vm_bits(x) & 0x7fffffffu);
    /* small |x|: the odd polynomial */
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
    float small = p + a;
    /* large |x|: 1 - 2 / (exp(2a) + 1); NaN stays NaN through here */
    float e = rt_inline_expf(a + a);
    float d = e + 1.0f;
    float q = 2.0f / d;
    float large = 1.0f - q;
    float r = rt_vm_pick(a < VM_TANH_SMALL, small, large);
    return rt_vm_float(rt_vm_bits(r) | sign);
}

RT_ALWAYS_INLINE float rt_inline_sigmoidf(float x)
{
    float a = rt_vm_float(rt_vm_bits(x) & 0x7fffffffu);
    float e = rt_inline_expf(-a);
    float d = 1.0f + e;
    float num = rt_vm_pick(x >= 0.0f, 1.0f, e);
    return num / d;
}

RT_ALWAYS_INLINE float rt_inline_softplusf(float x)
{
    float a = rt_vm_float(rt_vm_bits(x) & 0x7fffffffu);
    float e = rt_inline_expf(-a);
    float u = 1.0f + e;
    float d = u - 1.0f;
    float l = logf(u);
    float q = e / d; /* inf or NaN when d == 0: then the pick takes e */
    float lq = l * q;
    float r = rt_vm_pick(d == 0.0f, e, lq);
    float m = rt_vm_pick(x > 0.0f, x, 0.0f); /* a NaN x: 0, and r is NaN */
    float y = m + r;
    return rt_vm_pick(x > VM_SOFTPLUS_THRESHOLD, x, y);
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

#endif
