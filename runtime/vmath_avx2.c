/* vmath_avx2.c - the AVX2 kernels of rt_vexp, rt_vtanh, rt_vsigmoid: the
 * steps of vmath_inline.h's scalar code, 8 lanes at a time, in the same
 * order, so that every path gives bit-identical results.  The scalar
 * code's fmaf is _mm256_fmadd_ps here: both are one exactly rounded
 * operation, so they agree; its separate multiplies and adds stay
 * separate.
 *
 * Compiled for AVX2 and FMA by target attributes and only ever called
 * after cpu.c has found AVX2, FMA and OS support for YMM state (the AVX2
 * path needs all three).  Branches of the scalar code become
 * both-sides-then-blend. */
#include "runtime/cpu.h"
#include "runtime/vmath_kernels.h"

#if RT_X86
#include <immintrin.h>
#include <string.h>

/* gcc in GNU mode (-std=gnu11, its default) fuses a*b + c into an FMA
 * across statements whenever the target has FMA (-march=native), which
 * would round differently from the scalar path; contraction is off for this code
 * whatever the flags.  (clang never contracts across statements, nor does
 * gcc in ISO mode.)  Pushed and popped: the amalgamation is one file. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif

#define SET(c) _mm256_set1_ps(c)

/* vmath_inline.h's rt_vm_exp_t, rt_vm_exp_r and rt_vm_expm1_reduced */
RT_TARGET("avx2,fma") static __m256 exp_t8(__m256 x) { return _mm256_fmadd_ps(x, SET(VM_LOG2E), SET(VM_ROUND_MAGIC)); }

RT_TARGET("avx2,fma") static __m256 exp_r8(__m256 x, __m256 n)
{
    __m256 r = _mm256_fmadd_ps(n, SET(-VM_LN2_HI), x);
    return _mm256_fmadd_ps(n, SET(-VM_LN2_LO), r);
}

RT_TARGET("avx2,fma") static __m256 expm1_reduced8(__m256 r)
{
    __m256 r2 = _mm256_mul_ps(r, r);
    __m256 p = _mm256_fmadd_ps(SET(VM_EXP_P0), r, SET(VM_EXP_P1));
    p = _mm256_fmadd_ps(p, r, SET(VM_EXP_P2));
    p = _mm256_fmadd_ps(p, r, SET(VM_EXP_P3));
    p = _mm256_fmadd_ps(p, r, SET(VM_EXP_P4));
    p = _mm256_fmadd_ps(p, r, SET(VM_EXP_P5));
    return _mm256_fmadd_ps(p, r2, r);
}

/* the float whose bits are (i - c) << 23 */
RT_TARGET("avx2") static __m256 exponent8(__m256i i, uint32_t c)
{
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_sub_epi32(i, _mm256_set1_epi32((int)c)), 23));
}

RT_TARGET("avx2,fma") static __m256 exp8(__m256 x)
{
    /* max/min return their second operand when one is NaN: x, so a NaN
     * passes the clamp as in the scalar code */
    __m256 xc = _mm256_min_ps(SET(VM_EXP_HI), _mm256_max_ps(SET(VM_EXP_LO), x));
    __m256 t = exp_t8(xc);
    __m256 n = _mm256_sub_ps(t, SET(VM_ROUND_MAGIC));
    __m256 p = _mm256_add_ps(expm1_reduced8(exp_r8(xc, n)), SET(1.0f));
    __m256i b = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_set1_epi32((int)(VM_ROUND_MAGIC_BITS - 256u)));
    __m256i h = _mm256_srli_epi32(b, 1);
    p = _mm256_mul_ps(p, exponent8(h, 1u));
    return _mm256_mul_ps(p, exponent8(_mm256_sub_epi32(b, h), 1u));
}

RT_TARGET("avx2,fma") static __m256 tanh8(__m256 x)
{
    __m256 signbit = SET(-0.0f);
    __m256 sign = _mm256_and_ps(x, signbit);
    __m256 a = _mm256_min_ps(SET(VM_TANH_CLAMP), _mm256_andnot_ps(signbit, x)); /* NaN: a */
    __m256 z = _mm256_mul_ps(a, SET(-2.0f));
    __m256 t = exp_t8(z);
    __m256 n = _mm256_sub_ps(t, SET(VM_ROUND_MAGIC));
    __m256 q = expm1_reduced8(exp_r8(z, n));
    __m256 s = exponent8(_mm256_castps_si256(t), VM_ROUND_MAGIC_BITS - 127u);
    __m256 u = _mm256_sub_ps(SET(1.0f), s);
    __m256 v = _mm256_add_ps(SET(1.0f), s);
    __m256 num = _mm256_fnmadd_ps(s, q, u);
    __m256 den = _mm256_fmadd_ps(s, q, v);
    __m256 y = _mm256_div_ps(num, den);
    return _mm256_or_ps(_mm256_andnot_ps(signbit, y), sign);
}

RT_TARGET("avx2,fma") static __m256 sigmoid8(__m256 x)
{
    __m256 signbit = SET(-0.0f);
    __m256 na = _mm256_or_ps(x, signbit); /* -|x| */
    __m256 e = exp8(na);
    __m256 d = _mm256_add_ps(SET(1.0f), e);
    __m256 nonneg = _mm256_cmp_ps(x, SET(0.0f), _CMP_GE_OQ);
    __m256 num = _mm256_blendv_ps(e, SET(1.0f), nonneg);
    return _mm256_div_ps(num, d);
}

/* Whole vectors straight from x, the last n % 8 through a padded buffer
 * (no read or write past n). */
#define ARRAY_KERNEL(name, f8)                                                          \
    RT_TARGET("avx2,fma") static void name(float *y, const float *x, int64_t n)         \
    {                                                                                   \
        int64_t i = 0;                                                                  \
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, f8(_mm256_loadu_ps(x + i))); \
        if (i < n) {                                                                    \
            float buf[8] = {0};                                                         \
            size_t rest = (size_t)(n - i) * sizeof(float);                              \
            memcpy(buf, x + i, rest);                                                   \
            _mm256_storeu_ps(buf, f8(_mm256_loadu_ps(buf)));                            \
            memcpy(y + i, buf, rest);                                                   \
        }                                                                               \
    }

ARRAY_KERNEL(vexp_avx2, exp8)
ARRAY_KERNEL(vtanh_avx2, tanh8)
ARRAY_KERNEL(vsigmoid_avx2, sigmoid8)

RT_API const RtVmathKernels rt_vmath_avx2 = {vexp_avx2, vtanh_avx2, vsigmoid_avx2};

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
#undef SET
#undef ARRAY_KERNEL
#else
/* Not x86 (or not GNU C): no kernels, and vmath.c runs the scalar path. */
RT_API const RtVmathKernels rt_vmath_avx2 = {0, 0, 0};
#endif
