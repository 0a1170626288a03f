/* sgemm_avx512.c - the AVX-512F SGEMM micro-kernel, 6 x 32.
 *
 * Compiled for AVX-512F by a target attribute (see sgemm_avx2.c) and only
 * ever called after cpu.c has found AVX-512F and OS support for ZMM and opmask
 * state.  Only AVX-512F instructions are used (no VL/BW): partial tiles go
 * through the shared scalar store, so no masks are needed.
 *
 * Registers: 6 rows x 2 ZMM = 12 accumulators + 2 for B + 1 broadcast, of
 * 32.  A 6-row tile keeps the waste small for the short M of RNN batches
 * while 12 chains still cover the FMA latency (4 cycles x 2 FMAs per cycle
 * = 8).
 *
 * Blocking: kc = 192 makes the 32-wide B panel 24 KiB of a 32-48 KiB L1;
 * mc = 144 makes A's block 108 KiB of L2; nc = 2048 makes B's block 1.5 MiB.
 *
 * Not yet run on AVX-512 hardware (the development machine is AVX2-only);
 * the tests run it wherever the CPU has it. */
#include "runtime/sgemm_kernels.h"

#if RT_X86
#include <immintrin.h>

#define MR 6
#define NR 32

#define STORE_ROW(i, lo, hi)                                                         \
    do {                                                                             \
        float *c_ = C + (i) * ldc;                                                   \
        __m512 l_ = _mm512_mul_ps(va, lo), h_ = _mm512_mul_ps(va, hi);               \
        if (beta != 0.0f) {                                                          \
            l_ = _mm512_fmadd_ps(vb, _mm512_loadu_ps(c_), l_);                       \
            h_ = _mm512_fmadd_ps(vb, _mm512_loadu_ps(c_ + 16), h_);                  \
        }                                                                            \
        _mm512_storeu_ps(c_, l_);                                                    \
        _mm512_storeu_ps(c_ + 16, h_);                                               \
    } while (0)

RT_TARGET("avx512f") static void ukr_avx512(int64_t kc, const float *Ap, const float *Bp, float *C, int64_t ldc,
                       int m, int n, float alpha, float beta) {
    __m512 c00 = _mm512_setzero_ps(), c01 = _mm512_setzero_ps();
    __m512 c10 = _mm512_setzero_ps(), c11 = _mm512_setzero_ps();
    __m512 c20 = _mm512_setzero_ps(), c21 = _mm512_setzero_ps();
    __m512 c30 = _mm512_setzero_ps(), c31 = _mm512_setzero_ps();
    __m512 c40 = _mm512_setzero_ps(), c41 = _mm512_setzero_ps();
    __m512 c50 = _mm512_setzero_ps(), c51 = _mm512_setzero_ps();
    for (int64_t p = 0; p < kc; p++) {
        __m512 b0 = _mm512_loadu_ps(Bp), b1 = _mm512_loadu_ps(Bp + 16);
        __m512 a;
        a = _mm512_set1_ps(Ap[0]);
        c00 = _mm512_fmadd_ps(a, b0, c00);
        c01 = _mm512_fmadd_ps(a, b1, c01);
        a = _mm512_set1_ps(Ap[1]);
        c10 = _mm512_fmadd_ps(a, b0, c10);
        c11 = _mm512_fmadd_ps(a, b1, c11);
        a = _mm512_set1_ps(Ap[2]);
        c20 = _mm512_fmadd_ps(a, b0, c20);
        c21 = _mm512_fmadd_ps(a, b1, c21);
        a = _mm512_set1_ps(Ap[3]);
        c30 = _mm512_fmadd_ps(a, b0, c30);
        c31 = _mm512_fmadd_ps(a, b1, c31);
        a = _mm512_set1_ps(Ap[4]);
        c40 = _mm512_fmadd_ps(a, b0, c40);
        c41 = _mm512_fmadd_ps(a, b1, c41);
        a = _mm512_set1_ps(Ap[5]);
        c50 = _mm512_fmadd_ps(a, b0, c50);
        c51 = _mm512_fmadd_ps(a, b1, c51);
        Ap += MR;
        Bp += NR;
    }
    if (m == MR && n == NR) {
        __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
        STORE_ROW(0, c00, c01);
        STORE_ROW(1, c10, c11);
        STORE_ROW(2, c20, c21);
        STORE_ROW(3, c30, c31);
        STORE_ROW(4, c40, c41);
        STORE_ROW(5, c50, c51);
        return;
    }
    float t[MR * NR];
    _mm512_storeu_ps(t + 0 * NR, c00), _mm512_storeu_ps(t + 0 * NR + 16, c01);
    _mm512_storeu_ps(t + 1 * NR, c10), _mm512_storeu_ps(t + 1 * NR + 16, c11);
    _mm512_storeu_ps(t + 2 * NR, c20), _mm512_storeu_ps(t + 2 * NR + 16, c21);
    _mm512_storeu_ps(t + 3 * NR, c30), _mm512_storeu_ps(t + 3 * NR + 16, c31);
    _mm512_storeu_ps(t + 4 * NR, c40), _mm512_storeu_ps(t + 4 * NR + 16, c41);
    _mm512_storeu_ps(t + 5 * NR, c50), _mm512_storeu_ps(t + 5 * NR + 16, c51);
    rt_sgemm_store_tile(t, NR, C, ldc, m, n, alpha, beta);
}

RT_API const RtSgemmKernel rt_sgemm_kernel_avx512 = {
    .name = "avx512", .mr = MR, .nr = NR, .mc = 144, .kc = 192, .nc = 2048, .ukr = ukr_avx512,
};
#undef MR
#undef NR
#undef STORE_ROW
#else
/* Not x86 (or not GNU C): no kernel (see sgemm_avx2.c). */
RT_API const RtSgemmKernel rt_sgemm_kernel_avx512 = {.name = "avx512", .mr = 1, .nr = 1, .ukr = 0};
#endif
