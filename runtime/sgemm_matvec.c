/* sgemm_matvec.c - one row of A times pre-packed B: the recurrent product
 * of a batch-1 step (h[1, H] W_hh^T), for sgemm.c's streaming order
 * (small_packed).
 *
 * At M = 1 the product does 2 FLOPs per 4-byte element of W and reads W
 * once, so it runs at the speed W comes in from L2, not at the FMA peak
 * (docs/performance.md, "Batch 1").  These kernels take 4 panels at once
 * (8 vector accumulators, enough chains for the FMA latency) and unroll
 * K by 4 so that each iteration issues 32 loads of W, 4 broadcasts and
 * 32 FMAs with no index arithmetic between them: the loop keeps more
 * loads in flight than the generic rows kernel (sgemm_kernels.h), whose
 * per-element loop this reproduces exactly (acc = 0, then acc += a[p] *
 * w[p] for p = 0..K-1 with one FMA each, then alpha * acc + beta * C) -
 * the same bits, so a batch-1 step agrees with a row of any batch.
 *
 * rt_sgemm_matvec_for gives the kernel of a path, or NULL (the scalar path
 * keeps the rows kernel).  A kernel's m must be 1 and its n a multiple of
 * 4 panels; sgemm.c passes the rest to the rows kernel. */
#include "runtime/sgemm_kernels.h"

#if RT_X86
#include <immintrin.h>

/* One kernel for a vector ISA: T the vector type, X its intrinsics'
 * prefix (_mm512, _mm256), NR the panel width, V the floats of a vector
 * (NR = 2 V).  c0..c7: the two vectors of each of the 4 panels, row p of
 * panel q at B + q*ps + p*NR. */
#define MV_STEP(T, X, NR, V, p)                                                                       \
    do {                                                                                              \
        const T a_ = X##_set1_ps(A[(p)*acs]);                                                         \
        const float *b_ = B + (p)*NR;                                                                 \
        c0 = X##_fmadd_ps(a_, X##_loadu_ps(b_), c0), c1 = X##_fmadd_ps(a_, X##_loadu_ps(b_ + V), c1); \
        c2 = X##_fmadd_ps(a_, X##_loadu_ps(b_ + ps), c2);                                             \
        c3 = X##_fmadd_ps(a_, X##_loadu_ps(b_ + ps + V), c3);                                         \
        c4 = X##_fmadd_ps(a_, X##_loadu_ps(b_ + 2 * ps), c4);                                         \
        c5 = X##_fmadd_ps(a_, X##_loadu_ps(b_ + 2 * ps + V), c5);                                     \
        c6 = X##_fmadd_ps(a_, X##_loadu_ps(b_ + 3 * ps), c6);                                         \
        c7 = X##_fmadd_ps(a_, X##_loadu_ps(b_ + 3 * ps + V), c7);                                     \
    } while (0)
/* C[i*V..) = alpha * c_i + beta * C[i*V..), as the rows kernels store. */
#define MV_STORE(T, X, V, i, acc)                                             \
    do {                                                                      \
        T r_ = X##_mul_ps(va, acc);                                           \
        if (beta != 0.0f) r_ = X##_fmadd_ps(vb, X##_loadu_ps(C + (i)*V), r_); \
        X##_storeu_ps(C + (i)*V, r_);                                         \
    } while (0)
#define MV_KERNEL(name, isa, T, X, NR, V)                                                                   \
    RT_TARGET(isa)                                                                                          \
    static void name(int m, int64_t n, int64_t K, const float *A, int64_t ars, int64_t acs, const float *B, \
                     int64_t bs, int64_t ps, float *C, int64_t ldc, float alpha, float beta)                \
    {                                                                                                       \
        (void)m, (void)ars, (void)bs, (void)ldc; /* m = 1, bs = NR */                                       \
        const T va = X##_set1_ps(alpha), vb = X##_set1_ps(beta);                                            \
        for (int64_t j = 0; j < n; j += 4 * NR, B += 4 * ps, C += 4 * NR) {                                 \
            T c0 = X##_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;         \
            int64_t p = 0;                                                                                  \
            for (; p + 4 <= K; p += 4) {                                                                    \
                MV_STEP(T, X, NR, V, p);                                                                    \
                MV_STEP(T, X, NR, V, p + 1);                                                                \
                MV_STEP(T, X, NR, V, p + 2);                                                                \
                MV_STEP(T, X, NR, V, p + 3);                                                                \
            }                                                                                               \
            for (; p < K; p++) MV_STEP(T, X, NR, V, p);                                                     \
            MV_STORE(T, X, V, 0, c0);                                                                       \
            MV_STORE(T, X, V, 1, c1);                                                                       \
            MV_STORE(T, X, V, 2, c2);                                                                       \
            MV_STORE(T, X, V, 3, c3);                                                                       \
            MV_STORE(T, X, V, 4, c4);                                                                       \
            MV_STORE(T, X, V, 5, c5);                                                                       \
            MV_STORE(T, X, V, 6, c6);                                                                       \
            MV_STORE(T, X, V, 7, c7);                                                                       \
        }                                                                                                   \
    }

MV_KERNEL(matvec_avx512, "avx512f", __m512, _mm512, 32, 16)
MV_KERNEL(matvec_avx2, "avx2,fma", __m256, _mm256, 16, 8)
#undef MV_STEP
#undef MV_STORE
#undef MV_KERNEL
#endif

RT_API RtSgemmRows rt_sgemm_matvec_for(const RtSgemmKernel *k)
{
#if RT_X86
    if (k == &rt_sgemm_kernel_avx512) return matvec_avx512;
    if (k == &rt_sgemm_kernel_avx2) return matvec_avx2;
#endif
    (void)k;
    return NULL;
}
