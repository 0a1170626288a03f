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
 * The polynomials and range reductions use fused multiply-adds, written
 * out as C's fmaf: one exactly rounded operation on every path (the FMA
 * instruction where the code is compiled for it - vmath_avx2.c, a
 * generated file's AVX2 and AVX-512 copies, the JIT's llvm.fma - and libm's
 * fmaf, exact in software where there is no FMA hardware, on the portable
 * path).  Every other float operation is its own statement on purpose: a
 * compiler may fuse a*b+c written in one expression into an FMA, which
 * would round differently from the SIMD path.  So every path, and every
 * vector width a compiler picks for a loop calling these, gives the same
 * bits.
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
#define VM_EXP_HI           89.0f
#define VM_EXP_LO           -104.0f
#define VM_LOG2E            1.44269504088896341f
#define VM_LN2_HI           0.693359375f
#define VM_LN2_LO           -2.12194440e-4f
/* Adding 1.5 * 2^23 (in the fma that makes x log2(e)) and subtracting it
 * rounds |t| < 2^22 to the nearest integer (ties to even), the same on
 * every path. */
#define VM_ROUND_MAGIC      12582912.0f
#define VM_ROUND_MAGIC_BITS 0x4b400000u /* its bits */
#define VM_EXP_P0           1.9875691500e-4f
#define VM_EXP_P1           1.3981999507e-3f
#define VM_EXP_P2           8.3334519073e-3f
#define VM_EXP_P3           4.1665795894e-2f
#define VM_EXP_P4           1.6666665459e-1f
#define VM_EXP_P5           5.0000001201e-1f

/* tanh on a = |x|, one path for every a (no polynomial-or-exp pair, both
 * computed and one picked): with e = exp(-2a) = 2^n (1 + q), q = expm1(r)
 * from exp's reduction and polynomial, tanh(a) = (1 - e) / (1 + e), each
 * side one fma from the exact 2^n and q, (1 - 2^n) - 2^n q and
 * (1 + 2^n) + 2^n q.  1 -+ 2^n are exact for n >= -23, so there is no
 * cancellation near 0, where n = 0 and the numerator is -q ~ 2a to full
 * relative accuracy.  Past 9.0109 tanh rounds to 1, so a is clamped at
 * VM_TANH_CLAMP, which keeps 2^n normal.  The sign is put back last, so
 * tanh(-0) = -0. */
#define VM_TANH_CLAMP 10.0f

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

/* exp(r) - 1 on the reduced argument, |r| <= ln2/2: r + r^2 P(r), the
 * Cephes polynomial without its leading 1 (so also expm1 of r, to full
 * relative accuracy near 0: the r^2 P(r) term is the small one). */
RT_ALWAYS_INLINE float rt_vm_expm1_reduced(float r)
{
    float r2 = r * r;
    float p = fmaf(VM_EXP_P0, r, VM_EXP_P1);
    p = fmaf(p, r, VM_EXP_P2);
    p = fmaf(p, r, VM_EXP_P3);
    p = fmaf(p, r, VM_EXP_P4);
    p = fmaf(p, r, VM_EXP_P5);
    return fmaf(p, r2, r);
}

/* t = x log2(e) + 1.5 * 2^23 in one rounding: for |x| < 2^21 it lands in
 * [2^23, 2^24), where the floats are the integers, so t - VM_ROUND_MAGIC
 * is n = round(x / ln 2) (ties to even) and t's bits are those of
 * VM_ROUND_MAGIC plus n.  Taking 2^n from the bits rather than converting
 * n to an integer keeps a NaN defined all the way: it flows through the
 * float operations, and the integer ones (unsigned) only make a scale it
 * multiplies. */
RT_ALWAYS_INLINE float rt_vm_exp_t(float x) { return fmaf(x, VM_LOG2E, VM_ROUND_MAGIC); }

/* r = x - n ln 2 (Cody-Waite: n * VM_LN2_HI is exact, so the first fma
 * rounds only its difference, which Sterbenz makes exact too; the second
 * adds the small part's exact product with one rounding). */
RT_ALWAYS_INLINE float rt_vm_exp_r(float x, float n)
{
    float r = fmaf(n, -VM_LN2_HI, x);
    return fmaf(n, -VM_LN2_LO, r);
}

RT_ALWAYS_INLINE float rt_inline_expf(float x0)
{
    /* the clamp keeps n in [-150, 128]; a NaN passes both comparisons
     * (they are false) and comes out NaN */
    float x = rt_vm_pick(x0 < VM_EXP_LO, VM_EXP_LO, x0);
    x = rt_vm_pick(x > VM_EXP_HI, VM_EXP_HI, x);
    float t = rt_vm_exp_t(x);
    float n = t - VM_ROUND_MAGIC;
    float p = rt_vm_expm1_reduced(rt_vm_exp_r(x, n));
    p = p + 1.0f;
    /* 2^n in two factors that are each normal, 2^k1 and 2^k2 with k1 =
     * floor(n / 2) and k2 = n - k1: the first product is exact, the second
     * rounds (or overflows) once.  From b = n + 256 (in [106, 384]), in
     * unsigned arithmetic: k1 + 127 = b / 2 - 1, k2 + 127 = b - b / 2 - 1. */
    uint32_t b = rt_vm_bits(t) - (VM_ROUND_MAGIC_BITS - 256u);
    uint32_t h = b >> 1;
    p = p * rt_vm_float((h - 1u) << 23);
    p = p * rt_vm_float((b - h - 1u) << 23);
    return p;
}

RT_ALWAYS_INLINE float rt_inline_tanhf(float x)
{
    uint32_t sign = rt_vm_bits(x) & 0x80000000u;
    float a = rt_vm_float(rt_vm_bits(x) & 0x7fffffffu);
    /* a NaN passes the clamp (the comparison is false) and comes out NaN */
    a = rt_vm_pick(a > VM_TANH_CLAMP, VM_TANH_CLAMP, a);
    /* e = exp(z), z = -2a in [-2 VM_TANH_CLAMP, 0], as 2^n (1 + q) with
     * q = expm1(r); n is in [-29, 0], so s = 2^n is a normal float */
    float z = a * -2.0f;
    float t = rt_vm_exp_t(z);
    float n = t - VM_ROUND_MAGIC;
    float q = rt_vm_expm1_reduced(rt_vm_exp_r(z, n));
    float s = rt_vm_float((rt_vm_bits(t) - (VM_ROUND_MAGIC_BITS - 127u)) << 23);
    /* tanh(a) = (1 - e) / (1 + e), each side one fma from the exact s and
     * q: (1 - s) - s q and (1 + s) + s q; 1 - s and 1 + s are exact for
     * n >= -23 (so no cancellation near 0, where 1 - e ~ 2a) */
    float u = 1.0f - s;
    float v = 1.0f + s;
    float num = fmaf(-s, q, u);
    float den = fmaf(s, q, v);
    float y = num / den;
    /* |y| and x's sign: y is +0 or -0 at a = 0, tanh(-0) must be -0 */
    return rt_vm_float((rt_vm_bits(y) & 0x7fffffffu) | sign);
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
