/* sgemm_avx2.c - the AVX2 + FMA SGEMM micro-kernel, 6 x 16.
 *
 * Compiled for AVX2 + FMA by target attributes (no -m flags, so the
 * runtime can be one translation unit) and only ever called after cpu.c
 * has found AVX2, FMA and OS support for YMM state.
 *
 * Registers: 6 rows x 2 YMM = 12 accumulators, 2 for the B row, 1 for the
 * broadcast of an A element: 15 of the 16 YMM registers.  12 independent
 * FMA chains cover the FMA latency (4-5 cycles) at 2 FMAs per cycle.
 *
 * Blocking: kc = 256 makes the 16-wide B panel 16 KiB, half of the 32 KiB
 * L1, while 6 x 256 A panels (6 KiB) stream through; mc = 144 (a multiple of
 * 6) makes A's block 144 KiB of the 512 KiB L2; nc = 2048 makes B's block
 * 2 MiB, in L3. */
#include "runtime/sgemm_kernels.h"

#if RT_X86
#include <immintrin.h>

#define MR 6
#define NR 16

/* One row of the tile into C: alpha * acc (+ beta * C). */
#define STORE_ROW(i, lo, hi)                                                         \
    do {                                                                             \
        float *c_ = C + (i) * ldc;                                                   \
        __m256 l_ = _mm256_mul_ps(va, lo), h_ = _mm256_mul_ps(va, hi);               \
        if (beta != 0.0f) {                                                          \
            l_ = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c_), l_);                       \
            h_ = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c_ + 8), h_);                   \
        }                                                                            \
        _mm256_storeu_ps(c_, l_);                                                    \
        _mm256_storeu_ps(c_ + 8, h_);                                                \
    } while (0)

RT_TARGET("avx2,fma") static void ukr_avx2(int64_t kc, const float *Ap, const float *Bp, float *C, int64_t ldc, int m,
                     int n, float alpha, float beta) {
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    for (int64_t p = 0; p < kc; p++) {
        __m256 b0 = _mm256_loadu_ps(Bp), b1 = _mm256_loadu_ps(Bp + 8);
        __m256 a;
        a = _mm256_broadcast_ss(Ap + 0);
        c00 = _mm256_fmadd_ps(a, b0, c00);
        c01 = _mm256_fmadd_ps(a, b1, c01);
        a = _mm256_broadcast_ss(Ap + 1);
        c10 = _mm256_fmadd_ps(a, b0, c10);
        c11 = _mm256_fmadd_ps(a, b1, c11);
        a = _mm256_broadcast_ss(Ap + 2);
        c20 = _mm256_fmadd_ps(a, b0, c20);
        c21 = _mm256_fmadd_ps(a, b1, c21);
        a = _mm256_broadcast_ss(Ap + 3);
        c30 = _mm256_fmadd_ps(a, b0, c30);
        c31 = _mm256_fmadd_ps(a, b1, c31);
        a = _mm256_broadcast_ss(Ap + 4);
        c40 = _mm256_fmadd_ps(a, b0, c40);
        c41 = _mm256_fmadd_ps(a, b1, c41);
        a = _mm256_broadcast_ss(Ap + 5);
        c50 = _mm256_fmadd_ps(a, b0, c50);
        c51 = _mm256_fmadd_ps(a, b1, c51);
        Ap += MR;
        Bp += NR;
    }
    if (m == MR && n == NR) {
        __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
        STORE_ROW(0, c00, c01);
        STORE_ROW(1, c10, c11);
        STORE_ROW(2, c20, c21);
        STORE_ROW(3, c30, c31);
        STORE_ROW(4, c40, c41);
        STORE_ROW(5, c50, c51);
        return;
    }
    /* A partial tile: spill, then store only the valid part. */
    float t[MR * NR];
    _mm256_storeu_ps(t + 0 * NR, c00), _mm256_storeu_ps(t + 0 * NR + 8, c01);
    _mm256_storeu_ps(t + 1 * NR, c10), _mm256_storeu_ps(t + 1 * NR + 8, c11);
    _mm256_storeu_ps(t + 2 * NR, c20), _mm256_storeu_ps(t + 2 * NR + 8, c21);
    _mm256_storeu_ps(t + 3 * NR, c30), _mm256_storeu_ps(t + 3 * NR + 8, c31);
    _mm256_storeu_ps(t + 4 * NR, c40), _mm256_storeu_ps(t + 4 * NR + 8, c41);
    _mm256_storeu_ps(t + 5 * NR, c50), _mm256_storeu_ps(t + 5 * NR + 8, c51);
    rt_sgemm_store_tile(t, NR, C, ldc, m, n, alpha, beta);
}

RT_API const RtSgemmKernel rt_sgemm_kernel_avx2 = {
    .name = "avx2", .mr = MR, .nr = NR, .mc = 144, .kc = 256, .nc = 2048, .ukr = ukr_avx2,
};
#undef MR
#undef NR
#undef STORE_ROW
#else
/* Not x86 (or not GNU C): no kernel, and rt_sgemm_kernel_for reports the
 * path as unavailable. */
RT_API const RtSgemmKernel rt_sgemm_kernel_avx2 = {.name = "avx2", .mr = 1, .nr = 1, .ukr = 0};
#endif
