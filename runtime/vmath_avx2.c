/* vmath_avx2.c - the AVX2 kernels of rt_vexp, rt_vtanh, rt_vsigmoid: the
 * steps of vmath.c's scalar code, 8 lanes at a time, in the same order and
 * without FMA, so that both paths give bit-identical results.
 *
 * Compiled for AVX2 alone by target attributes (never "fma": with FMA
 * available a compiler may contract a multiply and an add, which would
 * round differently from the scalar code) and only ever called after cpu.c
 * has found AVX2 and OS support for YMM state.  Branches of the scalar
 * code become both-sides-then-blend. */
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

RT_TARGET("avx2") static __m256 exp8(__m256 x)
{
    __m256 nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
    /* max/min return their second operand for a NaN lane: a finite value,
     * replaced by x + x at the end. */
    __m256 xc = _mm256_min_ps(_mm256_max_ps(x, SET(VM_EXP_LO)), SET(VM_EXP_HI));
    __m256 n = _mm256_mul_ps(xc, SET(VM_LOG2E));
    n = _mm256_add_ps(n, SET(VM_ROUND_MAGIC));
    n = _mm256_sub_ps(n, SET(VM_ROUND_MAGIC));
    __m256 r = _mm256_sub_ps(xc, _mm256_mul_ps(n, SET(VM_LN2_HI)));
    r = _mm256_sub_ps(r, _mm256_mul_ps(n, SET(VM_LN2_LO)));
    __m256 r2 = _mm256_mul_ps(r, r);
    __m256 p = SET(VM_EXP_P0);
    p = _mm256_add_ps(_mm256_mul_ps(p, r), SET(VM_EXP_P1));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), SET(VM_EXP_P2));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), SET(VM_EXP_P3));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), SET(VM_EXP_P4));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), SET(VM_EXP_P5));
    p = _mm256_mul_ps(p, r2);
    p = _mm256_add_ps(p, r);
    p = _mm256_add_ps(p, SET(1.0f));
    /* 2^n in two normal factors (n in [-150, 128]); the split differs from
     * the scalar k / 2 for odd negative n, but the first product is exact
     * either way, so the one rounding at the second gives the same bits. */
    __m256i k = _mm256_cvtps_epi32(n);
    __m256i k1 = _mm256_srai_epi32(k, 1);
    __m256i k2 = _mm256_sub_epi32(k, k1);
    __m256i bias = _mm256_set1_epi32(127);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k1, bias), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k2, bias), 23));
    p = _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
    return _mm256_blendv_ps(p, _mm256_add_ps(x, x), nan);
}

RT_TARGET("avx2") static __m256 tanh8(__m256 x)
{
    __m256 signbit = SET(-0.0f);
    __m256 sign = _mm256_and_ps(x, signbit);
    __m256 a = _mm256_andnot_ps(signbit, x);
    /* small |x|: the odd polynomial */
    __m256 z = _mm256_mul_ps(a, a);
    __m256 p = SET(VM_TANH_P0);
    p = _mm256_add_ps(_mm256_mul_ps(p, z), SET(VM_TANH_P1));
    p = _mm256_add_ps(_mm256_mul_ps(p, z), SET(VM_TANH_P2));
    p = _mm256_add_ps(_mm256_mul_ps(p, z), SET(VM_TANH_P3));
    p = _mm256_add_ps(_mm256_mul_ps(p, z), SET(VM_TANH_P4));
    p = _mm256_mul_ps(p, z);
    p = _mm256_mul_ps(p, a);
    __m256 s = _mm256_add_ps(p, a);
    /* large |x|: 1 - 2 / (exp(2a) + 1) */
    __m256 e = exp8(_mm256_add_ps(a, a));
    __m256 d = _mm256_add_ps(e, SET(1.0f));
    __m256 l = _mm256_sub_ps(SET(1.0f), _mm256_div_ps(SET(2.0f), d));
    __m256 small = _mm256_cmp_ps(a, SET(VM_TANH_SMALL), _CMP_LT_OQ);
    return _mm256_or_ps(_mm256_blendv_ps(l, s, small), sign);
}

RT_TARGET("avx2") static __m256 sigmoid8(__m256 x)
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
    RT_TARGET("avx2") static void name(float *y, const float *x, int64_t n)             \
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
